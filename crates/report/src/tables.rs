//! `collectors.csv` and `coverage.csv`.

use std::path::Path;

use qianbiao_core::Fen;
use qianbiao_rules::cov::CoverageRow;

use crate::{csv_err, csv_writer, guard, ReportError};

/// The MNY rules counted per collector.
pub const MNY_RULES: [&str; 6] = [
    "MNY-001", "MNY-002", "MNY-003", "MNY-004", "MNY-005", "MNY-006",
];

/// The columns of `collectors.csv` (and the collectors sheet), in order.
pub fn collector_columns() -> Vec<&'static str> {
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
    cols.extend(MNY_RULES);
    cols
}

/// One collector's money: what they booked, handed in and wrote receipts for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectorRow {
    /// 代办员编号.
    pub collector_id: String,
    /// Effective payments carrying the collector.
    pub payments: u64,
    /// Their total.
    pub amount: Fen,
    /// Total of the collector's deposits rows.
    pub deposited_amount: Fen,
    /// The collector's receipts rows.
    pub receipts: u64,
    /// Their total.
    pub receipt_amount: Fen,
    /// Findings naming the collector, all rules.
    pub findings: u64,
    /// Findings per MNY rule, in [`MNY_RULES`] order.
    pub mny: [u64; 6],
}

impl CollectorRow {
    /// Booked minus deposited: money the collector still holds (negative: deposited more).
    pub fn difference(&self) -> Fen {
        self.amount - self.deposited_amount
    }
}

/// Writes `collectors.csv`.
pub fn write_collectors(path: &Path, rows: &[CollectorRow]) -> Result<(), ReportError> {
    let mut w = csv_writer(path, false)?;
    let err = csv_err(path);
    w.write_record(collector_columns()).map_err(&err)?;
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
        cells.extend(r.mny.iter().map(u64::to_string));
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
