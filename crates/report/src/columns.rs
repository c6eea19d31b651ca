//! Every output table's columns, once per table: each column's name in CSV (and
//! Parquet), its header in the workbook, its type, and its cell. The findings,
//! collectors, coverage, changes and rejected-rows tables are all written from these
//! specs ([`findings`], [`collectors`], [`coverage`], [`changes`], [`rejected`]), so a
//! column is added, renamed or retyped in one place, and CSV, Parquet and the workbook
//! cannot disagree on it.

use std::borrow::Cow;

use qianbiao_core::summary::{CollectorRow, CoverageRow};
use qianbiao_core::{Change, Fen, Finding, RuleMeta};
use qianbiao_ingest::Rejected;
use rust_decimal::Decimal;

use crate::review::{band_zh, severity_zh, Review};

/// What a column holds, which decides its Parquet type and how the workbook writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text: `String` in Parquet, a text cell in the workbook.
    Text,
    /// A year, possibly empty: `Int32` in Parquet, a number in the workbook.
    Year,
    /// Money, possibly empty: `Decimal(38, 2)` yuan in Parquet, the money format in the
    /// workbook.
    Money,
    /// A count: `UInt64` in Parquet, a number in the workbook.
    Count,
    /// A ratio, possibly empty: `Float64` in Parquet, a percentage in the workbook.
    Ratio,
}

/// A cell before a format renders it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    /// Text.
    Text(Cow<'a, str>),
    /// A year, or nothing.
    Year(Option<i32>),
    /// Money, or nothing.
    Money(Option<Fen>),
    /// A count.
    Count(u64),
    /// A ratio, or nothing; CSV writes it with `places` decimals (None: as it is).
    Ratio {
        /// The ratio (0.5 is 50%).
        value: Option<Decimal>,
        /// Decimals in CSV.
        places: Option<usize>,
    },
}

impl Cell<'_> {
    /// The cell as CSV writes it (before the formula guard).
    pub fn csv_text(&self) -> Cow<'_, str> {
        match self {
            Cell::Text(t) => Cow::Borrowed(t.as_ref()),
            Cell::Year(y) => Cow::Owned(y.map(|y| y.to_string()).unwrap_or_default()),
            Cell::Money(m) => Cow::Owned(m.map(|m| m.to_string()).unwrap_or_default()),
            Cell::Count(n) => Cow::Owned(n.to_string()),
            Cell::Ratio { value, places } => Cow::Owned(match (value, places) {
                (None, _) => String::new(),
                (Some(x), Some(p)) => format!("{x:.p$}"),
                (Some(x), None) => x.to_string(),
            }),
        }
    }

    /// True for the cells of a [`Kind`].
    pub fn is_of(&self, kind: Kind) -> bool {
        matches!(
            (kind, self),
            (Kind::Text, Cell::Text(_))
                | (Kind::Year, Cell::Year(_))
                | (Kind::Money, Cell::Money(_))
                | (Kind::Count, Cell::Count(_))
                | (Kind::Ratio, Cell::Ratio { .. })
        )
    }
}

/// A finding with its id, as a row of the findings table.
#[derive(Debug, Clone, Copy)]
pub struct FindingRow<'a> {
    /// The finding.
    pub f: &'a Finding,
    /// Its `finding_id`.
    pub id: &'a str,
}

/// How a column gets its cell from a row.
enum Data<R> {
    /// From the row alone.
    Of(for<'a> fn(&'a R) -> Cell<'a>),
    /// The `k`-th of a run of columns alike (the collectors' per-rule counts).
    Nth(for<'a> fn(&'a R, usize) -> Cell<'a>, usize),
}
type Shown<R> = for<'a> fn(&'a R, &Review<'_>) -> Cell<'a>;

/// A column of an output table whose rows are `R`s.
pub struct Column<R> {
    /// Its name in CSV and Parquet; None for a column only the workbook shows.
    pub name: Option<&'static str>,
    /// Its header in the workbook.
    pub zh: Cow<'static, str>,
    /// What it holds.
    pub kind: Kind,
    data: Data<R>,
    shown: Option<Shown<R>>,
}

impl<R> Column<R> {
    /// A column named `name` in CSV and `zh` in the workbook, whose cell is `data`.
    pub fn new(
        name: &'static str,
        zh: &'static str,
        kind: Kind,
        data: for<'a> fn(&'a R) -> Cell<'a>,
    ) -> Self {
        Column {
            name: Some(name),
            zh: Cow::Borrowed(zh),
            kind,
            data: Data::Of(data),
            shown: None,
        }
    }

    /// The same column, shown in the workbook with other words (Chinese names for codes).
    pub fn shown_as(mut self, shown: Shown<R>) -> Self {
        self.shown = Some(shown);
        self
    }

    /// A column only the workbook shows, headed `zh`, its cell `shown`.
    pub fn workbook_only(zh: &'static str, kind: Kind, shown: Shown<R>) -> Self {
        Column {
            name: None,
            zh: Cow::Borrowed(zh),
            kind,
            // CSV and Parquet never ask a workbook-only column for its data.
            data: Data::Of(|_| Cell::Text(Cow::Borrowed(""))),
            shown: Some(shown),
        }
    }

    /// Its cell in CSV and Parquet (codes as they are).
    pub fn data<'a>(&self, row: &'a R) -> Cell<'a> {
        match self.data {
            Data::Of(f) => f(row),
            Data::Nth(f, k) => f(row, k),
        }
    }

    /// The cell the workbook shows.
    pub fn shown<'a>(&self, row: &'a R, review: &Review<'_>) -> Cell<'a> {
        match self.shown {
            Some(s) => s(row, review),
            None => self.data(row),
        }
    }
}

impl<R> std::fmt::Debug for Column<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Column")
            .field("name", &self.name)
            .field("zh", &self.zh)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// The names of a table's CSV (and Parquet) columns, in order.
pub fn names<R>(cols: &[Column<R>]) -> Vec<&'static str> {
    cols.iter().filter_map(|c| c.name).collect()
}

/// The headers of a table's workbook sheet, in order.
pub fn headers<R>(cols: &[Column<R>]) -> Vec<&str> {
    cols.iter().map(|c| c.zh.as_ref()).collect()
}

fn text(s: &str) -> Cell<'_> {
    Cell::Text(Cow::Borrowed(s))
}

fn money(f: Fen) -> Cell<'static> {
    Cell::Money(Some(f))
}

/// The findings table, in column order.
pub fn findings<'f>() -> Vec<Column<FindingRow<'f>>> {
    use Kind::*;
    type C<'f> = Column<FindingRow<'f>>;
    vec![
        C::new("finding_id", "疑点编号", Text, |r| text(r.id)),
        C::new("rule", "规则", Text, |r| text(r.f.rule)),
        C::workbook_only("规则名称", Text, |r, review| {
            text(review.rule_name_zh(r.f.rule))
        }),
        C::new("severity", "严重程度", Text, |r| {
            text(r.f.severity.as_str())
        })
        .shown_as(|r, _| text(severity_zh(r.f.severity))),
        C::new("key", "关键字", Text, |r| text(&r.f.key)),
        C::new("id_number", "身份证号", Text, |r| text(&r.f.id_number)),
        C::new("name", "姓名", Text, |r| text(&r.f.name)),
        C::new("village", "村", Text, |r| text(&r.f.village)),
        C::new("collector_id", "代办员", Text, |r| {
            text(&r.f.collector_id)
        }),
        C::new("scheme", "险种", Text, |r| {
            text(r.f.scheme.map(|s| s.as_str()).unwrap_or(""))
        })
        .shown_as(|r, _| text(r.f.scheme.map(|s| s.zh()).unwrap_or(""))),
        C::new("period", "年度", Year, |r| Cell::Year(r.f.period)),
        C::new("amount", "金额", Money, |r| money(r.f.amount)),
        C::new("txn_ids", "交易号", Text, |r| {
            Cell::Text(Cow::Owned(r.f.txn_ids.join(";")))
        }),
        C::new("detail", "说明", Text, |r| text(&r.f.detail)),
        C::new("sources", "证据（文件:行）", Text, |r| {
            Cell::Text(Cow::Owned(r.f.sources.join(";")))
        }),
    ]
}

/// The collectors table: the money, then one count per MNY rule of the catalogue
/// (`mny`, from [`qianbiao_core::summary::mny_rules`], in its order), headed by its code
/// in CSV and by its code and Chinese name in the workbook.
pub fn collectors(mny: &[&'static RuleMeta]) -> Vec<Column<CollectorRow>> {
    use Kind::*;
    type C = Column<CollectorRow>;
    let mut cols = vec![
        C::new("collector_id", "代办员", Text, |r| text(&r.collector_id)),
        C::new("payments", "缴费笔数", Count, |r| {
            Cell::Count(r.payments)
        }),
        C::new("amount", "缴费金额", Money, |r| money(r.amount)),
        C::new("deposited_amount", "解缴金额", Money, |r| {
            money(r.deposited_amount)
        }),
        C::new("receipts", "收据张数", Count, |r| {
            Cell::Count(r.receipts)
        }),
        C::new("receipt_amount", "收据金额", Money, |r| {
            money(r.receipt_amount)
        }),
        C::new("difference", "未解缴（差额）", Money, |r| {
            money(r.difference())
        }),
        C::new("findings", "疑点条数", Count, |r| {
            Cell::Count(r.findings)
        }),
    ];
    for (k, m) in mny.iter().enumerate() {
        cols.push(Column {
            name: Some(m.code),
            zh: Cow::Owned(format!("{} {}", m.code, m.name_zh)),
            kind: Count,
            // A row built without counts still has a cell in every column.
            data: Data::Nth(|r, k| Cell::Count(r.mny.get(k).copied().unwrap_or(0)), k),
            shown: None,
        });
    }
    cols
}

/// The coverage table: rate with 4 decimals in CSV; `below_target` is `true`/`false`,
/// empty without a target or with nobody eligible.
pub fn coverage() -> Vec<Column<CoverageRow>> {
    use Kind::*;
    type C = Column<CoverageRow>;
    vec![
        C::new("village", "村", Text, |r| text(&r.village)),
        C::new("band", "人群", Text, |r| text(&r.band))
            .shown_as(|r, _| Cell::Text(Cow::Owned(band_zh(&r.band)))),
        C::new("eligible", "应参保人数", Count, |r| {
            Cell::Count(r.eligible)
        }),
        C::new("covered", "已参保人数", Count, |r| {
            Cell::Count(r.covered)
        }),
        C::new("rate", "参保率", Ratio, |r| Cell::Ratio {
            value: r.rate(),
            places: Some(4),
        }),
        C::new("target", "目标", Ratio, |r| Cell::Ratio {
            value: r.target,
            places: None,
        }),
        C::new("below_target", "低于目标", Text, |r| {
            text(match r.below_target() {
                Some(true) => "true",
                Some(false) => "false",
                None => "",
            })
        })
        .shown_as(|r, _| {
            text(match r.below_target() {
                Some(true) => "是",
                Some(false) => "否",
                None => "",
            })
        }),
    ]
}

/// The changes since the previous run of a workspace.
pub fn changes() -> Vec<Column<Change>> {
    use Kind::*;
    type C = Column<Change>;
    vec![
        C::new("finding_id", "疑点编号", Text, |r| text(&r.finding_id)),
        C::new("rule", "规则", Text, |r| text(&r.rule)),
        C::new("key", "关键字", Text, |r| text(&r.key)),
        C::new("change", "变化", Text, |r| text(r.change.as_str()))
            .shown_as(|r, _| text(r.change.zh())),
        C::new("previous_amount", "上次金额", Money, |r| {
            Cell::Money(r.previous_amount)
        }),
        C::new("amount", "本次金额", Money, |r| Cell::Money(r.amount)),
        C::new("first_seen", "首次发现", Text, |r| text(&r.first_seen)),
        C::new("detail", "说明", Text, |r| text(&r.detail)),
    ]
}

/// The rejected rows: where each was read, why it was refused, and its cells.
pub fn rejected() -> Vec<Column<Rejected>> {
    use Kind::*;
    type C = Column<Rejected>;
    vec![
        C::new("source", "来源", Text, |r| text(r.source)),
        C::new("file", "文件", Text, |r| text(&r.file)),
        C::new("line", "行", Count, |r| Cell::Count(u64::from(r.line))),
        C::new("reason", "原因", Text, |r| text(&r.reason)),
        C::new("raw", "原始内容", Text, |r| text(&r.raw)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use qianbiao_core::{ChangeKind, Scheme, Severity, SourceKind};

    fn review<'a>(rules: &'a [&'static RuleMeta]) -> Review<'a> {
        Review {
            as_of: chrono::NaiveDate::from_ymd_opt(2022, 1, 28).unwrap(),
            pipeline: "p",
            findings: &[],
            ids: &[],
            persons: &[],
            collectors: &[],
            coverage: &[],
            changes: None,
            inputs: &[],
            rule_status: &[],
            masked: false,
            rules,
        }
    }

    /// Every cell of every column, in CSV and in the workbook, is of its column's kind.
    fn cells_are_of_their_kind<R>(cols: &[Column<R>], row: &R, r: &Review) {
        for c in cols {
            for cell in [c.data(row), c.shown(row, r)] {
                assert!(
                    cell.is_of(c.kind),
                    "{}: {cell:?} in a {:?} column",
                    c.zh,
                    c.kind
                );
            }
        }
    }

    fn csv<R>(cols: &[Column<R>], row: &R) -> Vec<String> {
        cols.iter()
            .filter(|c| c.name.is_some())
            .map(|c| c.data(row).csv_text().into_owned())
            .collect()
    }

    static MNY1: RuleMeta = RuleMeta {
        code: "MNY-001",
        name_zh: "解缴不符",
        name_en: "deposit mismatch",
        severity: Severity::High,
        needs: &[SourceKind::Deposits],
        doc: "",
    };

    #[test]
    fn findings_cells_kinds_and_names_are_the_contracts() {
        let mut f = Finding::new("MNY-003", Severity::High, "R-1");
        f.scheme = Some(Scheme::ResidentPension);
        f.period = Some(2022);
        f.amount = Fen(-1_050);
        f.txn_ids = vec!["T1".into(), "T2".into()];
        let review = review(&[]);
        let row = FindingRow { f: &f, id: "abc" };
        let cols = findings();
        cells_are_of_their_kind(&cols, &row, &review);
        assert_eq!(
            names(&cols),
            [
                "finding_id",
                "rule",
                "severity",
                "key",
                "id_number",
                "name",
                "village",
                "collector_id",
                "scheme",
                "period",
                "amount",
                "txn_ids",
                "detail",
                "sources",
            ]
        );
        assert_eq!(headers(&cols).len(), names(&cols).len() + 1);
        assert_eq!(
            csv(&cols, &row)[8..12],
            ["resident_pension", "2022", "-10.50", "T1;T2"]
        );
        assert_eq!(cols[3].shown(&row, &review), text("高"));
    }

    #[test]
    fn collectors_have_a_count_per_mny_rule_named_by_code_and_in_chinese() {
        let rules: [&'static RuleMeta; 1] = [&MNY1];
        let cols = collectors(&rules);
        assert_eq!(
            names(&cols),
            [
                "collector_id",
                "payments",
                "amount",
                "deposited_amount",
                "receipts",
                "receipt_amount",
                "difference",
                "findings",
                "MNY-001",
            ]
        );
        assert_eq!(headers(&cols)[8], "MNY-001 解缴不符");
        let row = CollectorRow {
            collector_id: "C1".into(),
            payments: 2,
            amount: Fen(64_000),
            deposited_amount: Fen(32_000),
            mny: vec![3],
            ..CollectorRow::default()
        };
        cells_are_of_their_kind(&cols, &row, &review(&rules));
        assert_eq!(
            csv(&cols, &row),
            ["C1", "2", "640.00", "320.00", "0", "0.00", "320.00", "0", "3"]
        );
        // Without counts, every column still has its cell.
        let bare = CollectorRow::default();
        assert_eq!(csv(&cols, &bare)[8], "0");
    }

    #[test]
    fn coverage_rate_has_four_places_and_below_target_three_states() {
        let cols = coverage();
        let row = CoverageRow {
            village: "东村".into(),
            band: "pension_16_44".into(),
            eligible: 3,
            covered: 2,
            target: Some(Decimal::new(95, 2)),
        };
        cells_are_of_their_kind(&cols, &row, &review(&[]));
        assert_eq!(
            csv(&cols, &row),
            ["东村", "pension_16_44", "3", "2", "0.6667", "0.95", "true"]
        );
        let shown: Vec<Cell> = cols.iter().map(|c| c.shown(&row, &review(&[]))).collect();
        assert_eq!(shown[1].csv_text(), "养老 16–44 岁");
        assert_eq!(shown[6], text("是"));
        let nobody = CoverageRow {
            eligible: 0,
            covered: 0,
            target: None,
            ..row
        };
        assert_eq!(csv(&cols, &nobody)[4..], ["", "", ""]);
    }

    #[test]
    fn changes_and_rejected_rows() {
        let c = Change {
            finding_id: "f1".into(),
            rule: "DTH-001".into(),
            key: "T1".into(),
            change: ChangeKind::Resolved,
            previous_amount: Some(Fen(32_000)),
            amount: None,
            first_seen: "20220101".into(),
            detail: "d".into(),
        };
        let cols = changes();
        cells_are_of_their_kind(&cols, &c, &review(&[]));
        assert_eq!(
            csv(&cols, &c),
            ["f1", "DTH-001", "T1", "resolved", "320.00", "", "20220101", "d"]
        );
        let r = Rejected {
            source: "payments",
            file: "payments.csv".into(),
            line: 7,
            reason: "amount: empty".into(),
            raw: "a,b".into(),
        };
        let cols = rejected();
        cells_are_of_their_kind(&cols, &r, &review(&[]));
        assert_eq!(names(&cols), ["source", "file", "line", "reason", "raw"]);
        assert_eq!(csv(&cols, &r)[2], "7");
    }
}
