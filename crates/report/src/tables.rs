//! `collectors.csv` and `coverage.csv`.

use std::path::Path;

pub use qianbiao_core::summary::{mny_rules, CollectorRow, CoverageRow};

use crate::{csv_err, csv_writer, guard, ReportError};

/// The columns of `collectors.csv` (and the collectors sheet), in order: the money, then
/// one column per MNY rule of the catalogue (`mny`, from [`mny_rules`]).
pub fn collector_columns<'m>(mny: &[&'m str]) -> Vec<&'m str> {
    let mut cols = vec![
        "collector_id",
        "payments",
        "amount",
        "deposited_amount",
        "receipts",
        "receipt_amount",
        "difference",
        "findings",
    ];
    cols.extend(mny);
    cols
}

/// Writes `collectors.csv`; `mny` names the rows' MNY counts.
pub fn write_collectors(
    path: &Path,
    rows: &[CollectorRow],
    mny: &[&str],
) -> Result<(), ReportError> {
    let mut w = csv_writer(path, false)?;
    let err = csv_err(path);
    w.write_record(collector_columns(mny)).map_err(&err)?;
    for r in rows {
        let mut cells = vec![
            guard(&r.collector_id).into_owned(),
            r.payments.to_string(),
            r.amount.to_string(),
            r.deposited_amount.to_string(),
            r.receipts.to_string(),
            r.receipt_amount.to_string(),
            r.difference().to_string(),
            r.findings.to_string(),
        ];
        // One cell per column, whatever the row holds.
        cells.extend((0..mny.len()).map(|k| r.mny.get(k).copied().unwrap_or(0).to_string()));
        w.write_record(&cells).map_err(&err)?;
    }
    w.flush().map_err(|e| ReportError::Io {
        file: path.display().to_string(),
        source: e,
    })
}

/// The columns of `coverage.csv` (and the coverage sheet), in order.
pub const COVERAGE_COLUMNS: [&str; 7] = [
    "village",
    "band",
    "eligible",
    "covered",
    "rate",
    "target",
    "below_target",
];

/// Writes `coverage.csv`: village, band, eligible, covered, rate (4 places), target,
/// below_target (`true`/`false`; empty without a target or with nobody eligible).
pub fn write_coverage(path: &Path, rows: &[CoverageRow]) -> Result<(), ReportError> {
    let mut w = csv_writer(path, false)?;
    let err = csv_err(path);
    w.write_record(COVERAGE_COLUMNS).map_err(&err)?;
    for r in rows {
        let cells = [
            guard(&r.village).into_owned(),
            r.band.clone(),
            r.eligible.to_string(),
            r.covered.to_string(),
            r.rate().map(|x| format!("{x:.4}")).unwrap_or_default(),
            r.target.map(|t| t.to_string()).unwrap_or_default(),
            r.below_target().map(|b| b.to_string()).unwrap_or_default(),
        ];
        w.write_record(&cells).map_err(&err)?;
    }
    w.flush().map_err(|e| ReportError::Io {
        file: path.display().to_string(),
        source: e,
    })
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
        write_collectors(&path, &rows, &["MNY-001", "MNY-002", "MNY-009"]).unwrap();
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
