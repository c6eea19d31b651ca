//! `findings.xlsx`: the findings, collectors and coverage as sheets for reviewers who work
//! in Excel. Text is written as string cells (never formulas); money as numbers with two
//! decimals so columns can be summed.

use std::path::Path;

use chrono::NaiveDate;
use qianbiao_core::Finding;
use qianbiao_rules::cov::CoverageRow;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use crate::tables::{collector_columns, CollectorRow, COVERAGE_COLUMNS};
use crate::{ReportError, FINDING_COLUMNS};

/// Rows Excel can show on one sheet, header included.
const MAX_ROWS: usize = 1_048_576;

fn header(ws: &mut Worksheet, cols: &[&str], bold: &Format) -> Result<(), XlsxError> {
    for (c, name) in cols.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *name, bold)?;
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}

/// Money as an Excel number: fen / 100 is exact in a double for any realistic amount.
/// Excel's longest cell text, in UTF-16 units.
const MAX_CELL: usize = 32_767;
/// What ends a cell cut to fit (`data-contract.md`, Robustness: long values).
const CUT_MARK: &str = "…（全文见 findings.csv）";

/// A text cell as Excel can hold it: cut with [`CUT_MARK`] when longer than 32,767.
fn fit(s: &str) -> std::borrow::Cow<'_, str> {
    if s.encode_utf16().count() <= MAX_CELL {
        return s.into();
    }
    let room = MAX_CELL - CUT_MARK.encode_utf16().count();
    let mut used = 0;
    let mut out = String::new();
    for ch in s.chars() {
        used += ch.len_utf16();
        if used > room {
            break;
        }
        out.push(ch);
    }
    out.push_str(CUT_MARK);
    out.into()
}

fn yuan(f: qianbiao_core::Fen) -> f64 {
    f.0 as f64 / 100.0
}

/// Writes `findings.xlsx`; the document date is the run's as_of, so the file is
/// byte-identical for the same inputs.
pub fn write_findings_xlsx(
    path: &Path,
    as_of: NaiveDate,
    findings: &[Finding],
    collectors: &[CollectorRow],
    coverage: &[CoverageRow],
) -> Result<(), ReportError> {
    let err = |e: XlsxError| ReportError::Parquet {
        file: path.display().to_string(),
        message: e.to_string(),
    };
    let mut wb = Workbook::new();
    use chrono::Datelike;
    let created =
        ExcelDateTime::from_ymd(as_of.year() as u16, as_of.month() as u8, as_of.day() as u8)
            .map_err(err)?;
    wb.set_properties(&DocProperties::new().set_creation_datetime(&created));
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("0.00");
    {
        let ws = wb.add_worksheet();
        ws.set_name("findings").map_err(err)?;
        header(ws, &FINDING_COLUMNS, &bold).map_err(err)?;
        for (i, f) in findings.iter().take(MAX_ROWS - 1).enumerate() {
            let r = (i + 1) as u32;
            let texts = [
                f.finding_id(),
                f.rule.to_string(),
                f.severity.as_str().to_string(),
                f.key.clone(),
                f.id_number.clone(),
                f.name.clone(),
                f.village.clone(),
                f.collector_id.clone(),
                f.scheme.map(|s| s.as_str().to_string()).unwrap_or_default(),
            ];
            for (c, t) in texts.iter().enumerate() {
                ws.write_string(r, c as u16, fit(t)).map_err(err)?;
            }
            if let Some(p) = f.period {
                ws.write_number(r, 9, f64::from(p)).map_err(err)?;
            }
            ws.write_number_with_format(r, 10, yuan(f.amount), &money)
                .map_err(err)?;
            ws.write_string(r, 11, fit(&f.txn_ids.join(";")))
                .map_err(err)?;
            ws.write_string(r, 12, fit(&f.detail)).map_err(err)?;
            ws.write_string(r, 13, fit(&f.sources.join(";")))
                .map_err(err)?;
        }
    }
    {
        let ws = wb.add_worksheet();
        ws.set_name("collectors").map_err(err)?;
        header(ws, &collector_columns(), &bold).map_err(err)?;
        for (i, c) in collectors.iter().enumerate() {
            let r = (i + 1) as u32;
            ws.write_string(r, 0, fit(&c.collector_id)).map_err(err)?;
            ws.write_number(r, 1, c.payments as f64).map_err(err)?;
            ws.write_number_with_format(r, 2, yuan(c.amount), &money)
                .map_err(err)?;
            ws.write_number_with_format(r, 3, yuan(c.deposited_amount), &money)
                .map_err(err)?;
            ws.write_number(r, 4, c.receipts as f64).map_err(err)?;
            ws.write_number_with_format(r, 5, yuan(c.receipt_amount), &money)
                .map_err(err)?;
            ws.write_number_with_format(r, 6, yuan(c.difference()), &money)
                .map_err(err)?;
            ws.write_number(r, 7, c.findings as f64).map_err(err)?;
            for (k, n) in c.mny.iter().enumerate() {
                ws.write_number(r, 8 + k as u16, *n as f64).map_err(err)?;
            }
        }
    }
    {
        let ws = wb.add_worksheet();
        ws.set_name("coverage").map_err(err)?;
        header(ws, &COVERAGE_COLUMNS, &bold).map_err(err)?;
        for (i, c) in coverage.iter().enumerate() {
            let r = (i + 1) as u32;
            ws.write_string(r, 0, fit(&c.village)).map_err(err)?;
            ws.write_string(r, 1, fit(&c.band)).map_err(err)?;
            ws.write_number(r, 2, c.eligible as f64).map_err(err)?;
            ws.write_number(r, 3, c.covered as f64).map_err(err)?;
            if let Some(rate) = c.rate() {
                ws.write_string(r, 4, format!("{rate:.4}")).map_err(err)?;
            }
            if let Some(t) = c.target {
                ws.write_string(r, 5, t.to_string()).map_err(err)?;
            }
            if let Some(b) = c.below_target() {
                ws.write_boolean(r, 6, b).map_err(err)?;
            }
        }
    }
    wb.save(path).map_err(err)
}

#[cfg(test)]
mod fit_tests {
    use super::*;

    #[test]
    fn long_cells_are_cut_with_the_mark() {
        assert_eq!(fit("短"), "短");
        let long = "王".repeat(40_000);
        let cut = fit(&long);
        assert_eq!(cut.encode_utf16().count(), MAX_CELL);
        assert!(cut.ends_with(CUT_MARK) && cut.starts_with("王王"));
        let exact = "a".repeat(MAX_CELL);
        assert_eq!(fit(&exact), exact);
    }
}
