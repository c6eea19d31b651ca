//! Writers of the run's outputs: findings (CSV with BOM, Parquet), rejected rows,
//! per-collector and coverage tables, and the reviewers' workbook (`findings.xlsx`) and
//! report (`report.html`). Every text cell that a spreadsheet could take for a formula is
//! written as text. Masking for sharing lives in [`mask`].
#![warn(missing_docs)]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use polars::prelude::*;
use qianbiao_core::Finding;

mod charts;
pub mod columns;
pub mod html;
pub mod mask;
pub mod review;
pub mod tables;
pub mod xlsx;

use columns::{Cell, Column as Col, FindingRow, Kind};
pub use html::write_report_html;
pub use review::Review;
pub use tables::{write_collectors, write_coverage, CollectorRow};
pub use xlsx::write_findings_xlsx;

/// Why an output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// File system error on a named file.
    #[error("{file}: {source}")]
    Io {
        /// The output file.
        file: String,
        /// The error.
        source: std::io::Error,
    },
    /// Parquet or XLSX writer error.
    #[error("{file}: {message}")]
    Parquet {
        /// The output file.
        file: String,
        /// The error.
        message: String,
    },
}

/// Makes a text cell safe for spreadsheets: a cell starting with `=`, `+`, `-`, `@`, tab or
/// CR gets a leading `'`, so Excel shows it as text and never evaluates it.
pub fn guard(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

fn io_err(file: &Path) -> impl Fn(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        file: file.display().to_string(),
        source,
    }
}

/// A CSV writer over a buffered file, optionally starting with a UTF-8 BOM.
pub(crate) fn csv_writer(
    path: &Path,
    bom: bool,
) -> Result<csv::Writer<BufWriter<File>>, ReportError> {
    let file = File::create(path).map_err(io_err(path))?;
    let mut w = BufWriter::new(file);
    if bom {
        w.write_all(b"\xEF\xBB\xBF").map_err(io_err(path))?;
    }
    Ok(csv::WriterBuilder::new().from_writer(w))
}

pub(crate) fn csv_err(path: &Path) -> impl Fn(csv::Error) -> ReportError + '_ {
    move |e| ReportError::Io {
        file: path.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// The `finding_id` of each finding.
pub fn finding_ids(findings: &[Finding]) -> Vec<String> {
    findings.iter().map(Finding::finding_id).collect()
}

/// The person of each finding as a number, from its (unmasked) id: the distinct ids of
/// the findings numbered 1, 2, ... in their order; 0 for a finding without an id. The
/// report groups and counts persons by it, never by an id as shown, which under `--mask`
/// two persons may share (`371323********0019`). The numbers say nothing of the ids.
pub fn person_numbers(findings: &[Finding]) -> Vec<u32> {
    let mut ids: Vec<&str> = findings
        .iter()
        .map(|f| f.id_number.as_str())
        .filter(|id| !id.is_empty())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    findings
        .iter()
        .map(|f| match ids.binary_search(&f.id_number.as_str()) {
            Ok(i) if !f.id_number.is_empty() => i as u32 + 1,
            _ => 0,
        })
        .collect()
}

/// Writes `findings.csv`: UTF-8 with BOM, the contract's columns, amounts with 2 decimals.
/// Findings must already be sorted and tidied.
pub fn write_findings_csv(path: &Path, findings: &[Finding]) -> Result<(), ReportError> {
    write_findings_csv_with_ids(path, findings, &finding_ids(findings))
}

/// As [`write_findings_csv`], with each finding's id given (a masked finding keeps the id
/// of its unmasked key).
pub fn write_findings_csv_with_ids(
    path: &Path,
    findings: &[Finding],
    ids: &[String],
) -> Result<(), ReportError> {
    let rows: Vec<FindingRow> = findings
        .iter()
        .zip(ids)
        .map(|(f, id)| FindingRow { f, id })
        .collect();
    write_table_csv(path, true, &columns::findings(), &rows)
}

/// The findings columns of CSV and Parquet (the contract's), in order.
pub fn finding_columns() -> Vec<&'static str> {
    columns::names(&columns::findings())
}

/// Writes a table's CSV from its column spec: a header of the columns' names, then a
/// line per row; text cells are guarded against formulas, a UTF-8 BOM first when `bom`.
pub fn write_table_csv<'a, R: 'a>(
    path: &Path,
    bom: bool,
    cols: &[Col<R>],
    rows: impl IntoIterator<Item = &'a R>,
) -> Result<(), ReportError> {
    let mut w = csv_writer(path, bom)?;
    let err = csv_err(path);
    let cols: Vec<&Col<R>> = cols.iter().filter(|c| c.name.is_some()).collect();
    w.write_record(cols.iter().filter_map(|c| c.name))
        .map_err(&err)?;
    for row in rows {
        w.write_record(cols.iter().map(|c| match c.data(row) {
            Cell::Text(t) => guard(&t).into_owned(),
            cell => cell.csv_text().into_owned(),
        }))
        .map_err(&err)?;
    }
    w.flush().map_err(io_err(path))
}

/// The findings as a polars frame with the contract's types (amount Decimal(38, 2),
/// period Int32).
pub fn findings_frame(findings: &[Finding]) -> PolarsResult<DataFrame> {
    findings_frame_with_ids(findings, &finding_ids(findings))
}

/// As [`findings_frame`], with each finding's id given.
pub fn findings_frame_with_ids(findings: &[Finding], ids: &[String]) -> PolarsResult<DataFrame> {
    let rows: Vec<FindingRow> = findings
        .iter()
        .zip(ids)
        .map(|(f, id)| FindingRow { f, id })
        .collect();
    table_frame(&columns::findings(), &rows)
}

/// A table as a polars frame from its column spec: text as `String`, years `Int32`,
/// money `Decimal(38, 2)` yuan, counts `UInt64`, ratios `Float64`; empty cells null.
pub fn table_frame<R>(cols: &[Col<R>], rows: &[R]) -> PolarsResult<DataFrame> {
    let mut out = Vec::new();
    for c in cols {
        let Some(name) = c.name else { continue };
        let cells = rows.iter().map(|r| c.data(r));
        out.push(match c.kind {
            Kind::Text => Column::new(
                name.into(),
                cells
                    .map(|v| v.csv_text().into_owned())
                    .collect::<Vec<String>>(),
            ),
            Kind::Year => Column::new(
                name.into(),
                cells
                    .map(|v| match v {
                        Cell::Year(y) => y,
                        _ => None,
                    })
                    .collect::<Vec<Option<i32>>>(),
            ),
            Kind::Money => {
                let fen: Vec<Option<i128>> = cells
                    .map(|v| match v {
                        Cell::Money(m) => m.map(|m| i128::from(m.0)),
                        _ => None,
                    })
                    .collect();
                Series::new(name.into(), fen)
                    .into_decimal(38, 2)?
                    .into_column()
            }
            Kind::Count => Column::new(
                name.into(),
                cells
                    .map(|v| match v {
                        Cell::Count(n) => n,
                        _ => 0,
                    })
                    .collect::<Vec<u64>>(),
            ),
            Kind::Ratio => Column::new(
                name.into(),
                cells
                    .map(|v| match v {
                        Cell::Ratio { value, .. } => value.and_then(|x| x.to_string().parse().ok()),
                        _ => None,
                    })
                    .collect::<Vec<Option<f64>>>(),
            ),
        });
    }
    DataFrame::new(rows.len(), out)
}

/// Writes `findings.parquet` (no statistics that vary by run: the file is byte-identical
/// for the same findings).
pub fn write_findings_parquet(path: &Path, findings: &[Finding]) -> Result<(), ReportError> {
    write_findings_parquet_with_ids(path, findings, &finding_ids(findings))
}

/// As [`write_findings_parquet`], with each finding's id given.
pub fn write_findings_parquet_with_ids(
    path: &Path,
    findings: &[Finding],
    ids: &[String],
) -> Result<(), ReportError> {
    let perr = |e: PolarsError| ReportError::Parquet {
        file: path.display().to_string(),
        message: e.to_string(),
    };
    let file = File::create(path).map_err(io_err(path))?;
    write_findings_parquet_in_groups(file, findings, ids, PARQUET_ROW_GROUP).map_err(perr)
}

/// The rows of a row group polars' `ParquetWriter::finish` makes by default.
const PARQUET_ROW_GROUP: usize = 512 * 512;

/// Writes the findings as `ParquetWriter::finish` would write their whole frame with row
/// groups of `group` rows, byte for byte, but builds the frame of one row group at a time:
/// a province's 1.8M findings were a frame of about 1 GB beside the findings themselves.
fn write_findings_parquet_in_groups<W: std::io::Write>(
    file: W,
    findings: &[Finding],
    ids: &[String],
    group: usize,
) -> PolarsResult<()> {
    let n = findings.len();
    // `finish` cuts a frame of one chunk into n / group parts, each of n / parts rows but
    // the last, which takes the rest (polars' `chunk_df_for_writing`); fewer than two
    // parts, it writes the frame as it is.
    let parts = n / group.max(1);
    if parts < 2 {
        let mut df = findings_frame_with_ids(findings, ids)?;
        ParquetWriter::new(file)
            .with_row_group_size(Some(group))
            .finish(&mut df)?;
        return Ok(());
    }
    let size = n / parts;
    let frame = |p: usize| {
        let end = if p + 1 == parts { n } else { (p + 1) * size };
        findings_frame_with_ids(&findings[p * size..end], &ids[p * size..end])
    };
    let first = frame(0)?;
    let mut writer = ParquetWriter::new(file).batched(first.schema())?;
    writer.write_batch(&first)?;
    drop(first);
    for p in 1..parts {
        writer.write_batch(&frame(p)?)?;
    }
    writer.finish()?;
    Ok(())
}

/// Writes `rejected.csv`: source, file, line, reason, raw.
pub fn write_rejected(
    path: &Path,
    rejected: &[qianbiao_ingest::Rejected],
) -> Result<(), ReportError> {
    write_table_csv(path, false, &columns::rejected(), rejected)
}

/// Writes `changes.csv` (UTF-8 with BOM): one row per finding of this or the previous run.
pub fn write_changes_csv(
    path: &Path,
    changes: &[qianbiao_core::Change],
) -> Result<(), ReportError> {
    write_table_csv(path, true, &columns::changes(), changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use qianbiao_core::{Fen, Scheme, Severity};

    fn sample() -> Vec<Finding> {
        let mut f = Finding::new("DTH-001", Severity::High, "T1");
        f.id_number = "11010519491231002X".into();
        f.name = "=HYPERLINK(\"x\")".into();
        f.scheme = Some(Scheme::ResidentMedical);
        f.period = Some(2022);
        f.amount = Fen(32000);
        f.txn_ids = vec!["T1".into()];
        f.detail = "2021-12-05 缴费320.00元".into();
        f.sources = vec!["payments.csv:2".into()];
        let g = Finding::new("COV-001", Severity::Low, "-v|medical");
        vec![f, g]
    }

    #[test]
    fn guard_makes_formulas_text() {
        for c in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(guard(c).starts_with('\''), "{c:?}");
        }
        assert_eq!(guard("王涛"), "王涛");
        assert_eq!(guard("320.00"), "320.00");
    }

    #[test]
    fn csv_has_bom_columns_and_guarded_cells() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("findings.csv");
        write_findings_csv(&p, &sample()).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), finding_columns().join(","));
        let row = lines.next().unwrap();
        assert!(row.contains(",320.00,"), "{row}");
        assert!(row.contains("'=HYPERLINK"), "{row}");
        assert!(row.contains(",resident_medical,2022,"), "{row}");
        let row2 = lines.next().unwrap();
        assert!(row2.contains(",'-v|medical,"), "{row2}");
        assert!(row2.contains(",,0.00,"), "{row2}");
    }

    #[test]
    fn a_frame_types_counts_and_ratios_and_leaves_empty_cells_null() {
        let row = |eligible, covered, target| qianbiao_core::summary::CoverageRow {
            village: "东村".into(),
            band: "medical".into(),
            eligible,
            covered,
            target,
        };
        let rows = [
            row(4, 1, Some(rust_decimal::Decimal::new(95, 2))),
            row(0, 0, None),
        ];
        let df = table_frame(&columns::coverage(), &rows).unwrap();
        assert_eq!(df.column("eligible").unwrap().dtype(), &DataType::UInt64);
        let rate = df.column("rate").unwrap();
        assert_eq!(rate.dtype(), &DataType::Float64);
        assert_eq!(rate.f64().unwrap().get(0), Some(0.25));
        assert_eq!(rate.f64().unwrap().get(1), None);
        let target = df.column("target").unwrap().f64().unwrap();
        assert_eq!((target.get(0), target.get(1)), (Some(0.95), None));
    }

    #[test]
    fn parquet_has_decimal_amounts_and_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
        write_findings_parquet(&a, &sample()).unwrap();
        write_findings_parquet(&b, &sample()).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let df = ParquetReader::new(File::open(&a).unwrap())
            .finish()
            .unwrap();
        let cols: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(cols, finding_columns());
        assert_eq!(
            df.column("amount").unwrap().dtype(),
            &DataType::Decimal(38, 2)
        );
        assert_eq!(df.column("period").unwrap().dtype(), &DataType::Int32);
        let amount = df
            .column("amount")
            .unwrap()
            .cast(&DataType::String)
            .unwrap();
        assert_eq!(amount.str().unwrap().get(0), Some("320.00"));
    }

    #[test]
    fn findings_written_a_row_group_at_a_time_are_the_whole_frame_written_at_once() {
        // Findings of every shape: with and without a person, money, years, lists.
        let findings: Vec<Finding> = (0..23)
            .map(|i| {
                let mut f = sample()[i % 2].clone();
                f.key = format!("K{i}");
                f.amount = Fen(i as i64 * 1_001 - 5_000);
                if i % 3 == 0 {
                    f.period = None;
                    f.txn_ids.push(format!("T{i}"));
                }
                f
            })
            .collect();
        let ids = finding_ids(&findings);
        // A whole frame, and under two groups of rows, one group; then 2, 3 and 5 groups
        // with a remainder in the last one.
        for (n, group) in [(23, 16), (23, 4), (23, 7), (10, 5), (11, 4), (0, 4), (1, 4)] {
            let (f, id) = (&findings[..n], &ids[..n]);
            let mut whole = Vec::new();
            ParquetWriter::new(&mut whole)
                .with_row_group_size(Some(group))
                .finish(&mut findings_frame_with_ids(f, id).unwrap())
                .unwrap();
            let mut groups = Vec::new();
            write_findings_parquet_in_groups(&mut groups, f, id, group).unwrap();
            assert_eq!(groups, whole, "{n} findings in groups of {group}");
            let back = ParquetReader::new(std::io::Cursor::new(groups))
                .finish()
                .unwrap();
            assert_eq!(back.height(), n);
        }
    }
}
