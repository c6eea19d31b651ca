//! `collectors.csv` and `coverage.csv`.

use std::path::Path;

pub use qianbiao_core::summary::{mny_rules, CollectorRow, CoverageRow};

use qianbiao_core::RuleMeta;

use crate::{columns, write_table_csv, ReportError};

/// Writes `collectors.csv`: the columns of [`columns::collectors`], one count per MNY
/// rule of the catalogue (`mny`, from [`mny_rules`]).
pub fn write_collectors(
    path: &Path,
    rows: &[CollectorRow],
    mny: &[&'static RuleMeta],
) -> Result<(), ReportError> {
    write_table_csv(path, false, &columns::collectors(mny), rows)
}

/// Writes `coverage.csv`: the columns of [`columns::coverage`].
pub fn write_coverage(path: &Path, rows: &[CoverageRow]) -> Result<(), ReportError> {
    write_table_csv(path, false, &columns::coverage(), rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use qianbiao_core::Fen;

    #[test]
    fn collectors_have_a_column_per_mny_rule_given_and_a_cell_for_each() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("collectors.csv");
        let rows = [
            CollectorRow {
                collector_id: "C1".into(),
                payments: 2,
                amount: Fen(64_000),
                deposited_amount: Fen(32_000),
                mny: vec![1, 0, 3],
                ..CollectorRow::default()
            },
            // A row built without counts still fills every column.
            CollectorRow {
                collector_id: "C2".into(),
                ..CollectorRow::default()
            },
        ];
        const fn meta(code: &'static str) -> RuleMeta {
            RuleMeta {
                code,
                severity: qianbiao_core::Severity::High,
                name_zh: "",
                name_en: "",
                needs: &[],
                doc: "",
            }
        }
        static MNY: [RuleMeta; 3] = [meta("MNY-001"), meta("MNY-002"), meta("MNY-009")];
        let mny: Vec<&'static RuleMeta> = MNY.iter().collect();
        write_collectors(&path, &rows, &mny).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "collector_id,payments,amount,deposited_amount,receipts,receipt_amount,difference,findings,MNY-001,MNY-002,MNY-009"
        );
        assert_eq!(lines[1], "C1,2,640.00,320.00,0,0.00,320.00,0,1,0,3");
        assert_eq!(lines[2], "C2,0,0.00,0.00,0,0.00,0.00,0,0,0,0");
    }
}
