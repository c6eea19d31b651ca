//! `findings.xlsx`, the reviewers' workbook: a 汇总 summary sheet first, then the
//! findings, collectors and coverage (and the changes since the previous run, when there
//! is one), each with Chinese headers, a frozen header row, a filter and fitted widths.
//! Text is written as string cells (never formulas), money as numbers with two decimals,
//! dates as dates. The document date is the run's as_of, so the file is byte-identical
//! for the same inputs.

use std::borrow::Cow;
use std::path::Path;

use chrono::Datelike;
use rust_xlsxwriter::{
    Color, DocProperties, ExcelDateTime, Format, FormatAlign, Workbook, Worksheet, XlsxError,
};

use crate::columns::{self, Cell, Column, FindingRow};
use crate::review::{display_width, family_zh, severity_zh, Review};
use crate::ReportError;

/// Rows Excel can show on one sheet, header included.
const MAX_ROWS: usize = 1_048_576;

/// The longest text an Excel cell holds, in UTF-16 units (how Excel counts: a character
/// outside the Basic Multilingual Plane counts two).
pub const MAX_CELL_CHARS: usize = 32_767;

/// What ends a cell cut to [`MAX_CELL_CHARS`] (`data-contract.md`, Long values).
pub const CUT_MARK: &str = "…（全文见 findings.csv）";

/// Widest column, in characters: a longer text is wrapped in its cell, over as many lines
/// as it needs, so that every character shows on screen and on paper (a detail cut at the
/// next column's edge hid the end of the sentence, the part naming the amount or the date).
const MAX_WIDTH: usize = 30;

/// The height of a line of wrapped text, in points (11-point type; a CJK font's line is
/// taller than Calibri's 15), and what a wrapped row adds below its last line.
const LINE_HEIGHT: f64 = 16.0;
const ROW_PADDING: f64 = 3.0;

/// Excel's tallest row, in points.
const MAX_ROW_HEIGHT: f64 = 409.0;

/// The lines a text takes wrapped in a column `width` characters wide (CJK counting two):
/// a wrapped row is given its height when written, since neither Excel nor LibreOffice
/// sizes a row of a file it opens (a wrapped cell would show only its first line). A line
/// breaks between words, so it holds a little less than the width.
pub fn wrapped_lines(s: &str, width: usize) -> usize {
    let shown = display_width(s);
    if shown <= width {
        1
    } else {
        shown.div_ceil(width.saturating_sub(3).max(1))
    }
}

/// The height of a row whose tallest cell wraps over `lines` lines; None for one line
/// (the sheet's default height).
pub fn wrapped_row_height(lines: usize) -> Option<f64> {
    (lines > 1).then(|| (LINE_HEIGHT * lines as f64 + ROW_PADDING).min(MAX_ROW_HEIGHT))
}

/// Sets up a sheet whose columns come to `width` characters for printing (or saving as
/// PDF): landscape, every column on one page's width, so that a row is read across one
/// sheet of paper instead of in strips of a few columns a page; the header row on every
/// page, grid lines between the wrapped rows, page numbers below. A sheet wider than
/// [`A4_WIDTH`] is set up for A3.
pub fn set_up_printing(ws: &mut Worksheet, width: usize) -> Result<(), XlsxError> {
    ws.set_paper_size(if width > A4_WIDTH { PAPER_A3 } else { PAPER_A4 })
        .set_landscape()
        .set_margins(0.4, 0.4, 0.6, 0.6, 0.3, 0.3)
        .set_print_fit_to_pages(1, 0)
        .set_print_gridlines(true)
        .set_footer("&C第 &P 页，共 &N 页");
    ws.set_repeat_rows(0, 0)?;
    Ok(())
}

/// Paper size codes of A4 and A3 in Excel's page setup.
const PAPER_A4: u8 = 9;
const PAPER_A3: u8 = 8;

/// The widest sheet (sum of its column widths, in characters) printed on A4: a sheet one
/// page wide is scaled down to fit, and past this width its 11-point type would print
/// below about 7 points. A wider sheet (the findings, 15 columns) is set up for A3, where
/// the same scale holds for half as much again.
const A4_WIDTH: usize = 160;

/// A cell's text, cut to what Excel holds with [`CUT_MARK`] at the end.
pub fn cell_text(s: &str) -> Cow<'_, str> {
    // Byte length bounds the UTF-16 length: most cells skip the count.
    if s.len() <= MAX_CELL_CHARS || s.encode_utf16().count() <= MAX_CELL_CHARS {
        return Cow::Borrowed(s);
    }
    let room = MAX_CELL_CHARS - CUT_MARK.encode_utf16().count();
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
    Cow::Owned(out)
}

/// One sheet being written: tracks column widths and the last row for the filter.
struct Sheet<'w> {
    ws: &'w mut Worksheet,
    widths: Vec<usize>,
    last_row: u32,
}

impl<'w> Sheet<'w> {
    fn new(
        ws: &'w mut Worksheet,
        name: &str,
        headers: &[&str],
        f: &Formats,
    ) -> Result<Self, XlsxError> {
        ws.set_name(name)?;
        for (c, h) in headers.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &f.header)?;
            // A cell written without a format takes its column's: top-aligned text and
            // counts cost no format lookup per cell (a hash of the whole format).
            ws.set_column_format(c as u16, &f.text)?;
        }
        ws.set_freeze_panes(1, 0)?;
        Ok(Sheet {
            ws,
            widths: headers.iter().map(|h| display_width(h) + 2).collect(),
            last_row: 0,
        })
    }

    /// Sets the height of `row` for the tallest of its texts, before its cells are written
    /// (a sheet in constant-memory mode writes a row out as soon as the next begins).
    fn fit_row<'t>(
        &mut self,
        row: u32,
        texts: impl IntoIterator<Item = &'t str>,
    ) -> Result<(), XlsxError> {
        let lines = texts
            .into_iter()
            .map(|t| wrapped_lines(t, MAX_WIDTH))
            .max()
            .unwrap_or(1);
        if let Some(height) = wrapped_row_height(lines) {
            self.ws.set_row_height(row, height)?;
        }
        Ok(())
    }

    fn seen(&mut self, row: u32, col: u16, width: usize) {
        self.last_row = self.last_row.max(row);
        if let Some(w) = self.widths.get_mut(col as usize) {
            *w = (*w).max(width.min(MAX_WIDTH));
        }
    }

    fn text(&mut self, row: u32, col: u16, s: &str, f: &Formats) -> Result<(), XlsxError> {
        if !s.is_empty() {
            let t = cell_text(s);
            // Only the first MAX_WIDTH + 1 characters can matter for a capped width.
            let end = t
                .char_indices()
                .nth(MAX_WIDTH + 1)
                .map_or(t.len(), |(i, _)| i);
            let width = display_width(&t[..end]);
            if width > MAX_WIDTH {
                self.ws
                    .write_string_with_format(row, col, t.as_ref(), &f.wrap)?;
            } else {
                self.ws.write_string(row, col, t.as_ref())?;
            }
            self.seen(row, col, width);
        }
        self.seen(row, col, 0);
        Ok(())
    }

    fn num(
        &mut self,
        row: u32,
        col: u16,
        v: f64,
        fmt: &Format,
        shown: usize,
    ) -> Result<(), XlsxError> {
        self.ws.write_number_with_format(row, col, v, fmt)?;
        self.seen(row, col, shown);
        Ok(())
    }

    fn count(&mut self, row: u32, col: u16, v: u64) -> Result<(), XlsxError> {
        self.ws.write_number(row, col, v as f64)?;
        self.seen(row, col, v.to_string().len());
        Ok(())
    }

    fn money(
        &mut self,
        row: u32,
        col: u16,
        fen: qianbiao_core::Fen,
        f: &Formats,
    ) -> Result<(), XlsxError> {
        // 1,234,567.89: digits, separators and sign.
        let shown = fen.to_string().len() + fen.to_string().len() / 4 + 3;
        self.num(row, col, yuan(fen), &f.money, shown)
    }

    fn finish(self) -> Result<(), XlsxError> {
        let cols = self.widths.len() as u16;
        let total: usize = self.widths.iter().map(|w| w + 1).sum();
        for (c, w) in self.widths.iter().enumerate() {
            self.ws.set_column_width(c as u16, (*w + 1) as f64)?;
        }
        self.ws
            .autofilter(0, 0, self.last_row, cols.saturating_sub(1))?;
        set_up_printing(self.ws, total)
    }
}

struct Formats {
    header: Format,
    /// Body cells: at the top of their row, which a wrapped cell makes taller (every
    /// column's format: text and counts are written without one of their own).
    text: Format,
    /// A text wider than [`MAX_WIDTH`]: wrapped in its cell.
    wrap: Format,
    money: Format,
    percent: Format,
    date: Format,
    bold: Format,
    bold_money: Format,
}

impl Formats {
    fn new() -> Formats {
        let header_bg = Color::RGB(0xDDE6F0);
        Formats {
            header: Format::new()
                .set_bold()
                .set_background_color(header_bg)
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_text_wrap(),
            text: Format::new().set_align(FormatAlign::Top),
            wrap: Format::new().set_align(FormatAlign::Top).set_text_wrap(),
            money: Format::new()
                .set_num_format("#,##0.00")
                .set_align(FormatAlign::Top),
            percent: Format::new()
                .set_num_format("0.00%")
                .set_align(FormatAlign::Top),
            date: Format::new()
                .set_num_format("yyyy-mm-dd")
                .set_align(FormatAlign::Left)
                .set_align(FormatAlign::Top),
            bold: Format::new().set_bold(),
            bold_money: Format::new().set_bold().set_num_format("#,##0.00"),
        }
    }
}

/// Money as an Excel number: fen / 100 is exact in a double for any realistic amount.
fn yuan(f: qianbiao_core::Fen) -> f64 {
    f.0 as f64 / 100.0
}

fn decimal_f64(d: rust_decimal::Decimal) -> f64 {
    d.to_string().parse().unwrap_or(0.0)
}

static GUARDED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Whether a workbook is being written under [`write_findings_xlsx`]'s guard: a panic
/// hook stays silent then, since the panic becomes an ordinary error.
pub fn in_guarded_writer() -> bool {
    GUARDED.load(std::sync::atomic::Ordering::SeqCst) > 0
}

/// Writes `findings.xlsx` for the reviewers. rust_xlsxwriter panics when a write of its
/// constant-memory temporary files fails (a full disk): that is an error naming the file,
/// as every other error while writing, never a crash.
pub fn write_findings_xlsx(path: &Path, r: &Review) -> Result<(), ReportError> {
    use std::sync::atomic::Ordering;
    GUARDED.fetch_add(1, Ordering::SeqCst);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write_workbook(path, r)));
    GUARDED.fetch_sub(1, Ordering::SeqCst);
    result.unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the workbook writer failed".into());
        Err(ReportError::Parquet {
            file: path.display().to_string(),
            message: plain_cause(what.lines().next().unwrap_or("")),
        })
    })
}

/// An I/O failure told the way a reviewer reads it: the operating system's own message
/// (`No space left on device`) out of a debug form such as
/// `called Result::unwrap() on an Err value: Os { code: 28, kind: StorageFull, message:
/// "No space left on device" }`; any other text as it is.
fn plain_cause(text: &str) -> String {
    const AT: &str = "message: \"";
    if let Some(start) = text.find(AT).map(|i| i + AT.len()) {
        if let Some(len) = text[start..].find('"') {
            return text[start..start + len].to_string();
        }
    }
    text.to_string()
}

fn write_workbook(path: &Path, r: &Review) -> Result<(), ReportError> {
    let err = |e: XlsxError| ReportError::Parquet {
        file: path.display().to_string(),
        message: plain_cause(&e.to_string()),
    };
    let mut wb = Workbook::new();
    // Deflate at level 3, not the zip crate's 6: at 1M persons the workbook was the
    // write stage's long pole, mostly in deflate; level 3 cuts the stage by a third for a
    // file 10% larger (docs/performance.md).
    wb.set_zip_compression_level(3);
    // The findings and changes sheets are written in "constant memory" mode: each row goes
    // to a temporary file beside the workbook as soon as it is complete, its text inline
    // in the cell. Neither every cell (about 0.3 GiB for 182k findings at 10M persons) nor
    // a table of every distinct text stays in memory until the save: at 1M findings the
    // shared-string table ("low memory" mode) took 0.5 GiB and a third of the time, for a
    // file 11% smaller (docs/performance.md). What still grows is the crate's record of
    // each row given a height, about 570 bytes a row.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        wb.set_tempdir(dir).map_err(err)?;
    }
    let as_of = ExcelDateTime::from_ymd(
        r.as_of.year().clamp(1900, 9999) as u16,
        r.as_of.month() as u8,
        r.as_of.day() as u8,
    )
    .map_err(err)?;
    wb.set_properties(
        &DocProperties::new()
            .set_creation_datetime(&as_of)
            .set_title("钱表 疑点清单"),
    );
    let f = Formats::new();
    summary_sheet(wb.add_worksheet(), r, &f, &as_of).map_err(err)?;
    findings_sheet(wb.add_worksheet_with_constant_memory().map_err(err)?, r, &f).map_err(err)?;
    collectors_sheet(wb.add_worksheet(), r, &f).map_err(err)?;
    coverage_sheet(wb.add_worksheet(), r, &f).map_err(err)?;
    if let Some(changes) = r.changes {
        changes_sheet(
            wb.add_worksheet_with_constant_memory().map_err(err)?,
            changes,
            r,
            &f,
        )
        .map_err(err)?;
    }
    wb.save(path).map_err(err)
}

/// The headers of the 汇总 sheet's rule table.
pub const SUMMARY_HEADERS: [&str; 7] = ["规则", "名称", "严重程度", "条数", "金额", "类别", "状态"];

fn summary_sheet(
    ws: &mut Worksheet,
    r: &Review,
    f: &Formats,
    as_of: &ExcelDateTime,
) -> Result<(), XlsxError> {
    let mut s = Sheet::new(ws, "汇总", &SUMMARY_HEADERS, f)?;
    let totals = r.rule_totals();
    let mut row = 1;
    let (mut n, mut amount) = (0u64, qianbiao_core::Fen::ZERO);
    for t in &totals {
        let status = match &t.skipped {
            None => "已运行".to_string(),
            Some(why) => format!("未运行：{}", crate::html::skip_zh(why)),
        };
        s.fit_row(row, [t.meta.name_zh, status.as_str()])?;
        s.text(row, 0, t.meta.code, f)?;
        s.text(row, 1, t.meta.name_zh, f)?;
        s.text(row, 2, severity_zh(t.meta.severity), f)?;
        s.count(row, 3, t.count)?;
        s.money(row, 4, t.amount, f)?;
        s.text(row, 5, family_zh(t.meta.code), f)?;
        s.text(row, 6, &status, f)?;
        n += t.count;
        amount += t.amount;
        row += 1;
    }
    s.ws.write_string_with_format(row, 0, "合计", &f.bold)?;
    s.ws.write_number_with_format(row, 3, n as f64, &f.bold)?;
    s.ws.write_number_with_format(row, 4, yuan(amount), &f.bold_money)?;
    let last_rule_row = row - 1;
    // The run's facts beside the table (columns I:J), so the table's header stays row 1.
    let (read, accepted, rejected) = r.rows();
    let facts: [(&str, Fact); 7] = [
        ("截至日期", Fact::Date),
        ("方案", Fact::Text(r.pipeline.to_string())),
        ("读入行数", Fact::Count(read)),
        ("采用行数", Fact::Count(accepted)),
        ("拒收行数", Fact::Count(rejected)),
        ("疑点条数", Fact::Count(n)),
        (
            "脱敏",
            Fact::Text(
                if r.masked {
                    "是（身份证号、姓名已脱敏）"
                } else {
                    "否"
                }
                .into(),
            ),
        ),
    ];
    for (i, (label, v)) in facts.iter().enumerate() {
        let row = i as u32 + 1;
        s.ws.write_string_with_format(row, 8, *label, &f.bold)?;
        match v {
            Fact::Date => {
                s.ws.write_datetime_with_format(row, 9, as_of, &f.date)?;
            }
            Fact::Text(t) => {
                s.ws.write_string(row, 9, t)?;
            }
            Fact::Count(c) => {
                s.ws.write_number(row, 9, *c as f64)?;
            }
        }
    }
    s.ws.set_column_width(8, 10)?;
    s.ws.set_column_width(9, 28)?;
    s.last_row = last_rule_row;
    s.finish()
}

enum Fact {
    Date,
    Text(String),
    Count(u64),
}

fn findings_sheet(ws: &mut Worksheet, r: &Review, f: &Formats) -> Result<(), XlsxError> {
    let rows: Vec<FindingRow> = (r.findings.iter().zip(r.ids))
        .take(MAX_ROWS - 1)
        .map(|(x, id)| FindingRow { f: x, id })
        .collect();
    table_sheet(ws, "疑点明细", &columns::findings(), &rows, r, f)
}

fn collectors_sheet(ws: &mut Worksheet, r: &Review, f: &Formats) -> Result<(), XlsxError> {
    let cols = columns::collectors(&r.mny_rules());
    table_sheet(ws, "代办员", &cols, r.collectors, r, f)
}

fn coverage_sheet(ws: &mut Worksheet, r: &Review, f: &Formats) -> Result<(), XlsxError> {
    table_sheet(ws, "参保率", &columns::coverage(), r.coverage, r, f)
}

fn changes_sheet(
    ws: &mut Worksheet,
    changes: &[qianbiao_core::Change],
    r: &Review,
    f: &Formats,
) -> Result<(), XlsxError> {
    table_sheet(ws, "变化", &columns::changes(), changes, r, f)
}

/// Writes a table's sheet from its column spec: the Chinese headers, then a row per
/// table row (as many as a sheet holds), each cell as its kind is shown.
fn table_sheet<'a, R: 'a>(
    ws: &mut Worksheet,
    name: &str,
    cols: &[Column<R>],
    rows: impl IntoIterator<Item = &'a R>,
    r: &Review,
    f: &Formats,
) -> Result<(), XlsxError> {
    let mut s = Sheet::new(ws, name, &columns::headers(cols), f)?;
    for (i, row) in rows.into_iter().take(MAX_ROWS - 1).enumerate() {
        let at = (i + 1) as u32;
        let cells: Vec<Cell> = cols.iter().map(|col| col.shown(row, r)).collect();
        s.fit_row(
            at,
            cells.iter().filter_map(|c| match c {
                Cell::Text(t) => Some(t.as_ref()),
                _ => None,
            }),
        )?;
        for (c, cell) in cells.into_iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(t) => s.text(at, c, &t, f)?,
                Cell::Year(Some(y)) => s.count(at, c, y.max(0) as u64)?,
                Cell::Money(Some(m)) => s.money(at, c, m, f)?,
                Cell::Count(n) => s.count(at, c, n)?,
                Cell::Ratio { value: Some(x), .. } => {
                    s.num(at, c, decimal_f64(x), &f.percent, 8)?
                }
                Cell::Year(None) | Cell::Money(None) | Cell::Ratio { value: None, .. } => {}
            }
        }
    }
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_io_failure_is_told_by_the_systems_message() {
        assert_eq!(
            plain_cause(
                "called `Result::unwrap()` on an `Err` value: Os { code: 28, kind: \
                 StorageFull, message: \"No space left on device\" }"
            ),
            "No space left on device"
        );
        assert_eq!(
            plain_cause("Couldn't write to xml file: Os { code: 28, kind: StorageFull, message: \"No space left on device\" }"),
            "No space left on device"
        );
        assert_eq!(plain_cause("sheet name too long"), "sheet name too long");
    }

    #[test]
    fn long_cells_are_cut_with_the_mark() {
        let long = "王".repeat(MAX_CELL_CHARS + 1);
        let cut = cell_text(&long);
        assert_eq!(cut.chars().count(), MAX_CELL_CHARS);
        assert!(cut.ends_with(CUT_MARK));
        let fits = "王".repeat(MAX_CELL_CHARS);
        assert_eq!(cell_text(&fits), fits.as_str());
        // A character outside the BMP counts two, as Excel counts.
        let wide = "𠀀".repeat(MAX_CELL_CHARS / 2 + 1);
        let cut = cell_text(&wide);
        assert!(cut.encode_utf16().count() <= MAX_CELL_CHARS && cut.ends_with(CUT_MARK));
    }

    /// One sheet's XML, written through [`Sheet`] as the workbook writes its tables.
    fn sheet_xml(headers: &[&str], rows: &[&[&str]]) -> String {
        use std::io::Read;
        let f = Formats::new();
        let mut wb = Workbook::new();
        let mut s = Sheet::new(wb.add_worksheet(), "疑点明细", headers, &f).unwrap();
        for (i, row) in rows.iter().enumerate() {
            let at = i as u32 + 1;
            s.fit_row(at, row.iter().copied()).unwrap();
            for (c, t) in row.iter().enumerate() {
                s.text(at, c as u16, t, &f).unwrap();
            }
        }
        s.finish().unwrap();
        let bytes = wb.save_to_buffer().unwrap();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut xml = String::new();
        zip.by_name("xl/worksheets/sheet1.xml")
            .unwrap()
            .read_to_string(&mut xml)
            .unwrap();
        xml
    }

    #[test]
    fn a_long_text_wraps_in_a_row_tall_enough_and_a_sheet_prints_one_page_wide() {
        // A detail of 120 display columns (60 CJK characters) in a column capped at 30:
        // wrapped over ceil(120 / 27) = 5 lines, 5 x 16 + 3 points (83.25: Excel keeps a
        // height in quarter points).
        let detail = "缴费".repeat(30);
        assert_eq!(wrapped_lines(&detail, MAX_WIDTH), 5);
        let xml = sheet_xml(
            &["规则", "说明"],
            &[&["AMT-001", &detail], &["AMT-002", "按政策应缴"]],
        );
        assert!(
            xml.contains(r#"<row r="2" spans="1:2" ht="83.25" customHeight="1">"#),
            "{xml}"
        );
        // A row of short texts keeps the default height.
        assert!(xml.contains(r#"<row r="3" spans="1:2">"#), "{xml}");
        // The long column is capped: 30 characters and the margin of one; every column's
        // format is the top-aligned text (style 2: header 1, text 2, wrapped text 3, in
        // the order first used), which the cells written without a format take.
        assert!(
            xml.contains(r#"<col min="2" max="2" width="31.7109375" style="2" customWidth="1"/>"#),
            "{xml}"
        );
        assert!(xml.contains(r#"<c r="A2" s="2" t="s">"#), "{xml}");
        // The long cell is wrapped; the short ones are not.
        assert!(xml.contains(r#"<c r="B2" s="3" t="s">"#), "{xml}");
        assert!(xml.contains(r#"<c r="B3" s="2" t="s">"#), "{xml}");
        // Printed on A4 landscape, one page wide, the grid printed, page numbers below.
        assert!(xml.contains(r#"<pageSetUpPr fitToPage="1"/>"#), "{xml}");
        assert!(
            xml.contains(r#"<pageSetup paperSize="9" fitToHeight="0" orientation="landscape""#),
            "{xml}"
        );
        assert!(xml.contains(r#"<printOptions gridLines="1"/>"#), "{xml}");
        assert!(xml.contains("第 &amp;P 页，共 &amp;N 页"), "{xml}");
    }

    #[test]
    fn a_sheet_too_wide_for_a4_is_set_up_for_a3_and_a_narrow_one_is_not() {
        // Six columns of 30-character texts: 6 x 31 = 186 columns wide, past A4's 160.
        let cell = "一二三四五六七八九十一二三四五";
        let wide = sheet_xml(&["甲", "乙", "丙", "丁", "戊", "己"], &[&[cell; 6]]);
        assert!(wide.contains(r#"<pageSetup paperSize="8""#), "{wide}");
        // Five of them: 155, on A4.
        let narrow = sheet_xml(&["甲", "乙", "丙", "丁", "戊"], &[&[cell; 5]]);
        assert!(narrow.contains(r#"<pageSetup paperSize="9""#), "{narrow}");
        // A text of exactly 30 columns fits its column and is not wrapped.
        assert_eq!(wrapped_lines(cell, MAX_WIDTH), 1);
        assert!(narrow.contains(r#"<row r="2" spans="1:5">"#), "{narrow}");
    }
}
