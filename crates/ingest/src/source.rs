//! The eight sources, their columns and the header aliases of `data-contract.md`.

pub use qianbiao_core::SourceKind;

/// A column of a source: which canonical column, whether a value is required (`*` in
/// `data-contract.md`: empty or unparseable rejects the row), and what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The canonical column (its name and aliases).
    pub col: Col,
    /// A value is required.
    pub required: bool,
    /// What the value is read as.
    pub kind: Kind,
}

/// What a column's value is read as (`data-contract.md`, Normalisation of values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An id number; an invalid one rejects the row.
    Id,
    /// An id number; an invalid one is kept and flagged (DQ-001).
    KeptId,
    /// A person's name: normalised text without inner spaces.
    PersonName,
    /// Normalised text.
    Text,
    /// A code of the glossary.
    Code(Codes),
    /// A date.
    Date,
    /// A date with an optional time.
    Datetime,
    /// Money: exact yuan with up to 2 decimals, kept as fen.
    Money,
    /// A contribution year.
    Year,
    /// A whole number (`12`, `12人`).
    Count,
    /// A disability level, 1-4 (`一级`..`四级`).
    Level,
}

/// The code lists of the glossary a [`Kind::Code`] column takes its values from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Codes {
    HukouStatus,
    Category,
    Scheme,
    PayerType,
    PaymentStatus,
}

impl Kind {
    /// How `docs/inputs.md` names the kind.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Id => "id number (invalid: row rejected)",
            Kind::KeptId => "id number (invalid: kept, DQ-001)",
            Kind::PersonName => "name (no inner spaces)",
            Kind::Text => "text",
            Kind::Code(Codes::HukouStatus) => "code: 正常 (default), 死亡, 迁出, 注销",
            Kind::Code(Codes::Category) => "code: category of the glossary",
            Kind::Code(Codes::Scheme) => "code: scheme of the glossary",
            Kind::Code(Codes::PayerType) => "code: 个人缴费 (default), 政府代缴, 补缴",
            Kind::Code(Codes::PaymentStatus) => "code: 成功 (default), 已退费, 作废, 撤销",
            Kind::Date => "date",
            Kind::Datetime => "datetime",
            Kind::Money => "money",
            Kind::Year => "year",
            Kind::Count => "count",
            Kind::Level => "level 1-4",
        }
    }
}

/// The column of a source whose totals rows can state a control total: its money column.
pub fn money_column(source: SourceKind) -> Option<Col> {
    columns(source)
        .iter()
        .find(|f| f.kind == Kind::Money)
        .map(|f| f.col)
}

/// `docs/inputs.md`: every source's columns, aliases, kinds and whether required, as the
/// schema table has them.
pub fn inputs_markdown() -> String {
    let mut out = String::from(
        "# Input columns\n\n\
         Generated from the schema tables (the `source!` declarations of `crates/ingest/src/tables.rs`) by \
         `QIANBIAO_BLESS_DOCS=1 cargo test -p qianbiao-ingest inputs_doc`; a test fails when \
         this file and the table differ. Headers match a column by its name or any alias \
         (trimmed, case-insensitive); `*` marks a required value.\n",
    );
    for s in SourceKind::ALL {
        out.push_str(&format!("\n## {} ({})\n\n", s.name(), s.zh()));
        out.push_str("| column | aliases | kind | required |\n| --- | --- | --- | --- |\n");
        for f in columns(s) {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                f.col.name(),
                f.col.aliases().join(", "),
                f.kind.describe(),
                if f.required { "*" } else { "" }
            ));
        }
    }
    out
}

/// The source's columns in order: the schema table that header matching, the required
/// checks, the control totals' money column, the parse functions, the typed tables and
/// `docs/inputs.md` are all read from. Each is declared once, with its table, by a
/// `source!` declaration in `tables.rs`.
pub fn columns(source: SourceKind) -> &'static [Field] {
    use crate::tables as t;
    match source {
        SourceKind::Hukou => t::Hukou::COLUMNS,
        SourceKind::Deaths => t::Deaths::COLUMNS,
        SourceKind::Eligibility => t::Eligibility::COLUMNS,
        SourceKind::Registrations => t::Registrations::COLUMNS,
        SourceKind::Payments => t::Payments::COLUMNS,
        SourceKind::Receipts => t::Receipts::COLUMNS,
        SourceKind::Deposits => t::Deposits::COLUMNS,
        SourceKind::Roster => t::Roster::COLUMNS,
    }
}

/// The columns a source's check across columns reads (hukou's status and status date):
/// every load reads them, a load of some columns only too.
pub fn checked_columns(source: SourceKind) -> &'static [Col] {
    use crate::tables as t;
    match source {
        SourceKind::Hukou => t::Hukou::CHECKED,
        SourceKind::Deaths => t::Deaths::CHECKED,
        SourceKind::Eligibility => t::Eligibility::CHECKED,
        SourceKind::Registrations => t::Registrations::CHECKED,
        SourceKind::Payments => t::Payments::CHECKED,
        SourceKind::Receipts => t::Receipts::CHECKED,
        SourceKind::Deposits => t::Deposits::CHECKED,
        SourceKind::Roster => t::Roster::CHECKED,
    }
}

/// A canonical column. Its aliases belong to the column, not the source: any alias listed
/// for it anywhere in the contract is accepted wherever it appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Col {
    IdNumber,
    Name,
    Gender,
    BirthDate,
    Village,
    Office,
    HouseholdNo,
    ResidenceType,
    Status,
    StatusDate,
    DeathDate,
    Source,
    NoticeDate,
    Category,
    DisabilityLevel,
    ValidFrom,
    ValidTo,
    SourceDept,
    Scheme,
    Tier,
    StartDate,
    EndDate,
    TxnId,
    Period,
    Amount,
    PaidAt,
    Channel,
    PayerType,
    CollectorId,
    ReceiptNo,
    PayerAccount,
    DepositId,
    CollectedAt,
    DepositedAt,
    PersonCount,
    ExpectedAmount,
    Batch,
}

impl Col {
    /// Number of canonical columns.
    pub const COUNT: usize = Col::Batch as usize + 1;

    /// The canonical (English) name, itself accepted as a header.
    pub fn name(self) -> &'static str {
        self.spec().0
    }

    /// Every header alias of the column (besides its canonical name).
    pub fn aliases(self) -> &'static [&'static str] {
        self.spec().1
    }

    fn spec(self) -> (&'static str, &'static [&'static str]) {
        use Col::*;
        match self {
            IdNumber => (
                "id_number",
                &["公民身份号码", "身份证号码", "身份证号", "证件号码"],
            ),
            Name => ("name", &["姓名"]),
            Gender => ("gender", &["性别"]),
            BirthDate => ("birth_date", &["出生日期"]),
            Village => ("village", &["村居", "村(居)", "所属村居", "村委会"]),
            Office => ("office", &["办事处", "管区"]),
            HouseholdNo => ("household_no", &["户号"]),
            ResidenceType => ("residence_type", &["户籍类型", "人员类型"]),
            Status => (
                "status",
                &["户籍状态", "人员状态", "参保状态", "状态", "缴费状态"],
            ),
            StatusDate => ("status_date", &["变动日期", "状态日期"]),
            DeathDate => ("death_date", &["死亡日期"]),
            Source => ("source", &["信息来源", "来源"]),
            NoticeDate => ("notice_date", &["通报日期"]),
            Category => ("category", &["人员类别", "类别", "困难类别"]),
            DisabilityLevel => ("disability_level", &["残疾等级"]),
            ValidFrom => ("valid_from", &["认定日期", "起始日期", "开始日期"]),
            ValidTo => ("valid_to", &["终止日期", "截止日期"]),
            SourceDept => ("source_dept", &["认定部门", "来源部门"]),
            Scheme => ("scheme", &["险种", "险种类型", "征收品目"]),
            Tier => ("tier", &["缴费档次"]),
            StartDate => ("start_date", &["参保日期", "开始日期"]),
            EndDate => ("end_date", &["终止日期", "结束日期"]),
            TxnId => (
                "txn_id",
                &["流水号", "缴费流水号", "电子税票号码", "票证号码"],
            ),
            Period => ("period", &["费款所属期", "所属期", "所属年度"]),
            Amount => (
                "amount",
                &["缴费金额", "实缴金额", "金额", "收款金额", "解缴金额"],
            ),
            PaidAt => ("paid_at", &["缴费时间", "缴费日期"]),
            Channel => ("channel", &["缴费渠道", "渠道"]),
            PayerType => ("payer_type", &["缴费类型", "缴费方式"]),
            CollectorId => ("collector_id", &["代办员编号", "代办员"]),
            ReceiptNo => ("receipt_no", &["收据号", "收据编号"]),
            PayerAccount => ("payer_account", &["付款账户", "付款账号"]),
            DepositId => ("deposit_id", &["解缴单号", "入库批次"]),
            CollectedAt => ("collected_at", &["收款日期", "收款时间"]),
            DepositedAt => ("deposited_at", &["解缴日期", "入库日期"]),
            PersonCount => ("person_count", &["人数"]),
            ExpectedAmount => ("expected_amount", &["应缴金额"]),
            Batch => ("batch", &["清册批次"]),
        }
    }

    /// True when a trimmed, lower-cased header names this column.
    pub fn matches(self, header: &str) -> bool {
        self.name() == header || self.aliases().iter().any(|a| a.to_lowercase() == header)
    }

    /// `amount (缴费金额/实缴金额/…)`, for error messages.
    pub fn describe(self) -> String {
        format!("`{}` ({})", self.name(), self.aliases().join("/"))
    }
}

/// Maps a file's headers to the source's columns: position `i` of the result is the field
/// index of `crate::source::columns(source)[i]`, if present. The first header naming a column wins.
pub fn map_headers(source: SourceKind, headers: &[String]) -> Vec<Option<usize>> {
    let trimmed: Vec<String> = headers
        .iter()
        .map(|h| qianbiao_core::text::trim_header(h))
        .collect();
    crate::source::columns(source)
        .iter()
        .map(|f| trimmed.iter().position(|h| f.col.matches(h)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_doc_is_the_schema_table() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/inputs.md");
        let want = inputs_markdown();
        if std::env::var_os("QIANBIAO_BLESS_DOCS").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/inputs.md differs from the schema table: run \
             QIANBIAO_BLESS_DOCS=1 cargo test -p qianbiao-ingest inputs_doc"
        );
    }

    #[test]
    fn the_schema_has_one_money_column_where_totals_can_state_one() {
        assert_eq!(money_column(SourceKind::Payments), Some(Col::Amount));
        assert_eq!(money_column(SourceKind::Receipts), Some(Col::Amount));
        assert_eq!(money_column(SourceKind::Deposits), Some(Col::Amount));
        assert_eq!(money_column(SourceKind::Roster), Some(Col::ExpectedAmount));
        assert_eq!(money_column(SourceKind::Hukou), None);
        for s in SourceKind::ALL {
            let money = columns(s).iter().filter(|f| f.kind == Kind::Money).count();
            assert!(money <= 1, "{s:?}");
        }
    }

    #[test]
    fn every_source_has_required_columns_and_each_column_once() {
        for s in SourceKind::ALL {
            let cols = columns(s);
            assert!(cols.iter().any(|f| f.required), "{s:?}");
            for (i, f) in cols.iter().enumerate() {
                assert!(
                    !cols[..i].iter().any(|g| g.col == f.col),
                    "{s:?} {:?}",
                    f.col
                );
            }
        }
        // Invalid ids are kept only where DQ-001 flags them.
        for s in SourceKind::ALL {
            let kept = columns(s).iter().any(|f| f.kind == Kind::KeptId);
            assert_eq!(
                kept,
                matches!(s, SourceKind::Payments | SourceKind::Receipts),
                "{s:?}"
            );
        }
    }

    fn headers(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn aliases_belong_to_the_column() {
        // 身份证号码 is listed under hukou but accepted in deaths too.
        let m = map_headers(SourceKind::Deaths, &headers(&["身份证号码", "死亡日期"]));
        assert_eq!(m[0], Some(0));
        assert_eq!(m[2], Some(1));
    }

    #[test]
    fn shared_alias_resolves_per_source() {
        let e = map_headers(SourceKind::Eligibility, &headers(&["开始日期", "终止日期"]));
        assert_eq!(e[4], Some(0)); // valid_from
        assert_eq!(e[5], Some(1)); // valid_to
        let r = map_headers(
            SourceKind::Registrations,
            &headers(&["开始日期", "终止日期"]),
        );
        assert_eq!(r[5], Some(0)); // start_date
        assert_eq!(r[6], Some(1)); // end_date
    }

    #[test]
    fn trim_case_and_first_wins() {
        let m = map_headers(
            SourceKind::Payments,
            &headers(&[" TXN_ID\u{3000}", "金额", "缴费金额", "\u{feff}ID_Number"]),
        );
        assert_eq!(m[0], Some(0));
        assert_eq!(m[5], Some(1));
        assert_eq!(m[1], Some(3));
    }

    #[test]
    fn no_other_folding() {
        // Full-width parentheses are not folded.
        let m = map_headers(SourceKind::Hukou, &headers(&["村（居）"]));
        assert_eq!(m[4], None);
        let m = map_headers(SourceKind::Hukou, &headers(&["村(居)"]));
        assert_eq!(m[4], Some(0));
    }
}
