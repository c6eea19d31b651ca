//! The findings table's columns, once: each column's name in CSV and Parquet, its
//! header in the workbook, its type, and its cell. `findings.csv`, `findings.parquet`
//! and the workbook's findings sheet are all written from [`FINDINGS`], so a column is
//! added, renamed or retyped in one place.

use std::borrow::Cow;

use qianbiao_core::{Fen, Finding};

use crate::review::{severity_zh, Review};

/// What a column holds, which decides its Parquet type and how the workbook writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text: `String` in Parquet, a text cell in the workbook.
    Text,
    /// A year, possibly empty: `Int32` in Parquet, a number in the workbook.
    Year,
    /// Money: `Decimal(38, 2)` yuan in Parquet, the money format in the workbook.
    Money,
}

/// A cell before a format renders it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    /// Text.
    Text(Cow<'a, str>),
    /// A year, or nothing.
    Year(Option<i32>),
    /// Money.
    Money(Fen),
}

impl Cell<'_> {
    /// The cell as CSV writes it (before the formula guard).
    pub fn csv_text(&self) -> Cow<'_, str> {
        match self {
            Cell::Text(t) => Cow::Borrowed(t.as_ref()),
            Cell::Year(y) => Cow::Owned(y.map(|y| y.to_string()).unwrap_or_default()),
            Cell::Money(m) => Cow::Owned(m.to_string()),
        }
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

type Data = for<'a> fn(FindingRow<'a>) -> Cell<'a>;
type Shown = for<'a> fn(FindingRow<'a>, &Review<'_>) -> Cell<'a>;

/// A column of the findings table.
pub struct Column {
    /// Its name in CSV and Parquet; None for a column only the workbook shows.
    pub name: Option<&'static str>,
    /// Its header in the workbook.
    pub zh: &'static str,
    /// What it holds.
    pub kind: Kind,
    /// Its cell in CSV and Parquet (codes as they are).
    pub data: Data,
    /// Its cell in the workbook, when the workbook shows other words (Chinese names for
    /// codes); None: the same as `data`.
    pub shown: Option<Shown>,
}

impl Column {
    /// The cell the workbook shows.
    pub fn shown<'a>(&self, row: FindingRow<'a>, review: &Review<'_>) -> Cell<'a> {
        match self.shown {
            Some(s) => s(row, review),
            None => (self.data)(row),
        }
    }
}

fn text(s: &str) -> Cell<'_> {
    Cell::Text(Cow::Borrowed(s))
}

/// The findings table, in column order.
pub const FINDINGS: &[Column] = &[
    Column {
        name: Some("finding_id"),
        zh: "疑点编号",
        kind: Kind::Text,
        data: |r| text(r.id),
        shown: None,
    },
    Column {
        name: Some("rule"),
        zh: "规则",
        kind: Kind::Text,
        data: |r| text(r.f.rule),
        shown: None,
    },
    Column {
        name: None,
        zh: "规则名称",
        kind: Kind::Text,
        data: |r| text(r.f.rule),
        shown: Some(|r, review| text(review.rule_name_zh(r.f.rule))),
    },
    Column {
        name: Some("severity"),
        zh: "严重程度",
        kind: Kind::Text,
        data: |r| text(r.f.severity.as_str()),
        shown: Some(|r, _| text(severity_zh(r.f.severity))),
    },
    Column {
        name: Some("key"),
        zh: "关键字",
        kind: Kind::Text,
        data: |r| text(&r.f.key),
        shown: None,
    },
    Column {
        name: Some("id_number"),
        zh: "身份证号",
        kind: Kind::Text,
        data: |r| text(&r.f.id_number),
        shown: None,
    },
    Column {
        name: Some("name"),
        zh: "姓名",
        kind: Kind::Text,
        data: |r| text(&r.f.name),
        shown: None,
    },
    Column {
        name: Some("village"),
        zh: "村",
        kind: Kind::Text,
        data: |r| text(&r.f.village),
        shown: None,
    },
    Column {
        name: Some("collector_id"),
        zh: "代办员",
        kind: Kind::Text,
        data: |r| text(&r.f.collector_id),
        shown: None,
    },
    Column {
        name: Some("scheme"),
        zh: "险种",
        kind: Kind::Text,
        data: |r| text(r.f.scheme.map(|s| s.as_str()).unwrap_or("")),
        shown: Some(|r, _| text(r.f.scheme.map(|s| s.zh()).unwrap_or(""))),
    },
    Column {
        name: Some("period"),
        zh: "年度",
        kind: Kind::Year,
        data: |r| Cell::Year(r.f.period),
        shown: None,
    },
    Column {
        name: Some("amount"),
        zh: "金额",
        kind: Kind::Money,
        data: |r| Cell::Money(r.f.amount),
        shown: None,
    },
    Column {
        name: Some("txn_ids"),
        zh: "交易号",
        kind: Kind::Text,
        data: |r| Cell::Text(Cow::Owned(r.f.txn_ids.join(";"))),
        shown: None,
    },
    Column {
        name: Some("detail"),
        zh: "说明",
        kind: Kind::Text,
        data: |r| text(&r.f.detail),
        shown: None,
    },
    Column {
        name: Some("sources"),
        zh: "证据（文件:行）",
        kind: Kind::Text,
        data: |r| Cell::Text(Cow::Owned(r.f.sources.join(";"))),
        shown: None,
    },
];

/// The findings columns of CSV and Parquet (the contract's), in order.
pub fn finding_columns() -> Vec<&'static str> {
    FINDINGS.iter().filter_map(|c| c.name).collect()
}

/// The findings sheet's headers, in order.
pub fn finding_headers() -> Vec<&'static str> {
    FINDINGS.iter().map(|c| c.zh).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use qianbiao_core::{Scheme, Severity};

    #[test]
    fn every_cell_is_of_its_columns_kind_and_names_are_the_contracts() {
        let mut f = Finding::new("MNY-003", Severity::High, "R-1");
        f.scheme = Some(Scheme::ResidentPension);
        f.period = Some(2022);
        f.amount = Fen(-1_050);
        f.txn_ids = vec!["T1".into(), "T2".into()];
        let rules = [];
        let review = Review {
            as_of: chrono::NaiveDate::from_ymd_opt(2022, 1, 28).unwrap(),
            pipeline: "p",
            findings: &[],
            ids: &[],
            collectors: &[],
            coverage: &[],
            changes: None,
            inputs: &[],
            rule_status: &[],
            masked: false,
            rules: &rules,
        };
        let row = FindingRow { f: &f, id: "abc" };
        for c in FINDINGS {
            for cell in [(c.data)(row), c.shown(row, &review)] {
                let ok = matches!(
                    (c.kind, &cell),
                    (Kind::Text, Cell::Text(_))
                        | (Kind::Year, Cell::Year(_))
                        | (Kind::Money, Cell::Money(_))
                );
                assert!(ok, "{}: {cell:?} in a {:?} column", c.zh, c.kind);
            }
        }
        assert_eq!(
            finding_columns(),
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
        assert_eq!(finding_headers().len(), finding_columns().len() + 1);
        let csv: Vec<String> = FINDINGS
            .iter()
            .filter(|c| c.name.is_some())
            .map(|c| (c.data)(row).csv_text().into_owned())
            .collect();
        assert_eq!(csv[8..12], ["resident_pension", "2022", "-10.50", "T1;T2"]);
        let shown: Vec<Cell> = FINDINGS.iter().map(|c| c.shown(row, &review)).collect();
        assert_eq!(shown[3], Cell::Text(Cow::Borrowed("高")));
    }
}
