//! The eight sources, their columns and the header aliases of `data-contract.md`.

pub use qianbiao_core::SourceKind;

/// The source's columns in order, each with whether a value is required (`*`).
pub fn columns(source: SourceKind) -> &'static [(Col, bool)] {
    use Col::*;
    match source {
        SourceKind::Hukou => &[
            (IdNumber, true),
            (Name, true),
            (Gender, false),
            (BirthDate, false),
            (Village, true),
            (Office, false),
            (HouseholdNo, false),
            (ResidenceType, false),
            (Status, false),
            (StatusDate, false),
        ],
        SourceKind::Deaths => &[
            (IdNumber, true),
            (Name, false),
            (DeathDate, true),
            (Source, false),
            (NoticeDate, false),
        ],
        SourceKind::Eligibility => &[
            (IdNumber, true),
            (Name, false),
            (Category, true),
            (DisabilityLevel, false),
            (ValidFrom, true),
            (ValidTo, false),
            (SourceDept, false),
        ],
        SourceKind::Registrations => &[
            (IdNumber, true),
            (Name, false),
            (Scheme, true),
            (Status, false),
            (Tier, false),
            (StartDate, true),
            (EndDate, false),
        ],
        SourceKind::Payments => &[
            (TxnId, true),
            (IdNumber, true),
            (Name, false),
            (Scheme, true),
            (Period, true),
            (Amount, true),
            (PaidAt, true),
            (Channel, false),
            (PayerType, false),
            (CollectorId, false),
            (Village, false),
            (ReceiptNo, false),
            (PayerAccount, false),
            (DepositId, false),
            (Status, false),
        ],
        SourceKind::Receipts => &[
            (ReceiptNo, true),
            (CollectorId, true),
            (IdNumber, true),
            (Name, false),
            (Scheme, true),
            (Period, false),
            (Amount, true),
            (CollectedAt, true),
            (Village, false),
        ],
        SourceKind::Deposits => &[
            (DepositId, true),
            (CollectorId, true),
            (Amount, true),
            (DepositedAt, true),
            (PersonCount, false),
            (Village, false),
        ],
        SourceKind::Roster => &[
            (IdNumber, true),
            (Name, false),
            (Village, false),
            (Scheme, true),
            (ExpectedAmount, false),
            (CollectorId, false),
            (Batch, false),
        ],
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
        .map(|(col, _)| trimmed.iter().position(|h| col.matches(h)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
