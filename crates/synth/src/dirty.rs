//! The dirty town: the same records written the way departments really export them —
//! GB18030 and BOM CSV, XLSX with Excel serial dates, Parquet with native types, Chinese
//! header aliases, every accepted spelling of every value, payments split over a folder
//! with rows exported twice, and garbage rows the engine must reject.
//!
//! Every variation normalises back to the canonical record, so truth is unchanged.

use std::collections::HashMap;
use std::path::Path;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use polars::prelude::*;
use qianbiao_core::{Category, Fen};
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::eval::{id_valid, TruthRow};
use crate::model::{Chunk, Village};
use crate::plant::corrupt;
use crate::schema::{category_spellings, legacy15, Cell, Col, Kind, Source};
use crate::{io_err, SynthError};

/// One line of `expected_rejects.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RejectLine {
    pub source: &'static str,
    pub file: String,
    pub rejected: usize,
    pub duplicate_rows: usize,
    /// Rows above the header (title, 制表单位, blank).
    pub preamble_rows: usize,
    /// 合计/总计/小计 rows.
    pub total_rows: usize,
}

/// A title above the header and totals rows below it, as departments export them.
#[derive(Debug, Clone)]
struct Decor {
    /// Preamble lines (a blank one is `""`; XLSX writes no blank rows).
    preamble: &'static [&'static str],
    /// Totals rows: written after this many entries, with a label and a stated amount.
    totals: Vec<(usize, &'static str, Stated)>,
}

/// What a totals row states.
#[derive(Debug, Clone, Copy)]
enum Stated {
    /// No amount.
    Nothing,
    /// The covered rows' sum.
    Right,
    /// The covered rows' sum plus this many fen (never zero).
    Off(i64),
}

/// The running sums of covered rows: since the last totals row, and since the header.
#[derive(Debug, Default, Clone, Copy)]
struct Covered {
    since: Fen,
    all: Fen,
}

impl Covered {
    fn add(&mut self, m: Option<Fen>) {
        if let Some(m) = m {
            self.since += m;
            self.all += m;
        }
    }

    /// The covered sum of a totals row (and the range of the next 小计 restarts).
    fn close(&mut self, label: &str) -> Fen {
        let sum = if label.starts_with("小计") {
            self.since
        } else {
            self.all
        };
        self.since = Fen::ZERO;
        sum
    }
}

const TITLE_PREAMBLE: &[&str] = &[
    "店子镇2022年度城乡居民基本养老保险、基本医疗保险缴费明细",
    "制表单位：店子镇财政所",
    "",
];
const XLSX_PREAMBLE: &[&str] = &["店子镇2022年度缴费明细（税务导出）", "制表日期：2022-01-28"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Enc {
    Utf8,
    Utf8Bom,
    Gb18030,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fmt {
    Csv(Enc),
    Xlsx,
    Parquet,
}

/// A row of a file: a record, a second copy of a record, or garbage built from one.
#[derive(Debug, Clone, Copy)]
enum Entry {
    Rec(usize),
    Dup(usize),
    Garbage(usize, usize),
}

/// A value as written: text, or a number cell (XLSX only).
#[derive(Debug, Clone)]
enum Out {
    S(String),
    N(f64),
}

impl Out {
    fn text(&self) -> String {
        match self {
            Out::S(s) => s.clone(),
            Out::N(n) => n.to_string(),
        }
    }
}

/// A garbage mutation: set column to raw text, or break the row's shape.
#[derive(Debug, Clone, Copy)]
enum Bad {
    Set(&'static str, &'static str),
    InvalidId,
    DeadNoDate,
    Extra,
    Missing,
}

fn garbage_kinds(s: Source) -> &'static [Bad] {
    use Bad::*;
    match s {
        Source::Hukou => &[
            Set("name", ""),
            InvalidId,
            DeadNoDate,
            Extra,
            Set("village", ""),
        ],
        Source::Deaths => &[
            Set("death_date", "2021-02-30"),
            InvalidId,
            Set("id_number", ""),
        ],
        Source::Eligibility => &[
            Set("category", "困难户"),
            Set("valid_from", ""),
            InvalidId,
            Set("valid_from", "2021-13-01"),
        ],
        Source::Registrations => &[Set("scheme", "农保"), Set("start_date", ""), InvalidId],
        Source::Payments => &[
            Set("id_number", ""),
            Set("amount", "abc"),
            Set("amount", "1.005"),
            Set("amount", "-320"),
            Set("paid_at", "2021-02-30 10:00"),
            Set("scheme", "农保"),
            Set("txn_id", ""),
            Set("period", "22"),
            Extra,
            Missing,
        ],
        Source::Receipts => &[
            Set("amount", ""),
            Set("collected_at", "2021-11-31"),
            Set("id_number", ""),
            Set("receipt_no", ""),
        ],
        Source::Deposits => &[
            Set("amount", "abc"),
            Set("deposited_at", ""),
            Set("collector_id", ""),
        ],
        Source::Roster => &[Set("scheme", "农保"), InvalidId, Set("scheme", ""), Extra],
    }
}

/// One file to write: its source's columns, the garbage it may carry, its rows, its path.
#[derive(Clone, Copy)]
struct Job<'j> {
    source: Source,
    cols: &'static [Col],
    kinds: &'j [Bad],
    entries: &'j [Entry],
    path: &'j Path,
    rel: &'j str,
    decor: Option<&'j Decor>,
}

struct Writer<'a> {
    town: &'a Chunk,
    villages: &'a [Village],
    out: &'a Path,
    rng: SmallRng,
    /// DQ-004 truth: totals rows whose stated amount differs from what they cover.
    truth: Vec<TruthRow>,
}

/// Writes the dirty inputs; returns the expected rejects per file and the DQ-004 truth
/// of the totals rows written.
pub(crate) fn write_dirty(
    town: &Chunk,
    villages: &[Village],
    out: &Path,
    seed: u64,
) -> Result<(Vec<RejectLine>, Vec<TruthRow>), SynthError> {
    let mut w = Writer {
        town,
        villages,
        out,
        rng: SmallRng::seed_from_u64(crate::town::sub_seed(seed, 9_999, 7)),
        truth: Vec::new(),
    };
    let mut lines = Vec::new();
    let rows = |r: std::ops::Range<usize>| r.map(Entry::Rec).collect::<Vec<_>>();
    let all = |s: Source| rows(0..s.len(town));
    for (source, name, fmt) in [
        (Source::Hukou, "hukou.csv", Fmt::Csv(Enc::Gb18030)),
        (Source::Deaths, "deaths.csv", Fmt::Csv(Enc::Utf8Bom)),
        (Source::Eligibility, "eligibility.xlsx", Fmt::Xlsx),
        (Source::Registrations, "registrations.parquet", Fmt::Parquet),
    ] {
        lines.push(w.file(source, name, fmt, all(source))?);
    }
    for (name, fmt, entries) in w.payment_plan() {
        lines.push(w.file(Source::Payments, &name, fmt, entries)?);
    }
    let nr = town.receipts.len();
    let cut = nr - nr / 5;
    for (source, name, fmt, entries) in [
        (
            Source::Receipts,
            "receipts.csv",
            Fmt::Csv(Enc::Utf8),
            rows(0..cut),
        ),
        (
            Source::Receipts,
            "receipts/代办员补录.csv",
            Fmt::Csv(Enc::Gb18030),
            rows(cut..nr),
        ),
        (
            Source::Deposits,
            "deposits.xlsx",
            Fmt::Xlsx,
            all(Source::Deposits),
        ),
        (
            Source::Roster,
            "roster.csv",
            Fmt::Csv(Enc::Gb18030),
            all(Source::Roster),
        ),
    ] {
        lines.push(w.file(source, name, fmt, entries)?);
    }
    Ok((lines, w.truth))
}

impl Writer<'_> {
    /// Payments over three files of a folder, read in name order; rows are exported twice
    /// at the seams and here and there inside a file.
    fn payment_plan(&mut self) -> Vec<(String, Fmt, Vec<Entry>)> {
        let pays = &self.town.payments;
        let n = pays.len();
        let mut count: HashMap<&str, usize> = HashMap::new();
        for p in pays {
            *count.entry(p.txn_id.as_str()).or_default() += 1;
        }
        // Ids typed into Excel as numbers exist only in the XLSX part: every lost id, and
        // every other 15-digit legacy id (exact as a number).
        let in_xlsx = |k: usize| pays[k].lost || (pays[k].legacy15 && k % 2 == 1);
        let single =
            |k: usize| count.get(pays[k].txn_id.as_str()).copied() == Some(1) && !in_xlsx(k);
        let bounds = [0, n / 3, 2 * n / 3, n];
        let files = [
            ("payments/part1.csv", Fmt::Csv(Enc::Utf8Bom)),
            ("payments/part2.xlsx", Fmt::Xlsx),
            ("payments/part3.csv", Fmt::Csv(Enc::Gb18030)),
        ];
        let mut three_row_done = false;
        let mut seen_multi: HashMap<&str, bool> = HashMap::new();
        let mut plan = Vec::new();
        for f in 0..3 {
            let mut entries = Vec::new();
            if f > 0 {
                // The previous export's last rows exported again.
                let lo = bounds[f - 1];
                let hi = bounds[f];
                let take = 4.min(hi - lo);
                for k in hi - take..hi {
                    if single(k) {
                        entries.push(Entry::Dup(k));
                    }
                }
            }
            if f == 1 {
                entries.extend(
                    (0..n)
                        .filter(|&k| in_xlsx(k) && !(bounds[1]..bounds[2]).contains(&k))
                        .map(Entry::Rec),
                );
            }
            for (k, pay) in pays.iter().enumerate().take(bounds[f + 1]).skip(bounds[f]) {
                if in_xlsx(k) && f != 1 {
                    continue;
                }
                entries.push(Entry::Rec(k));
                if single(k) && self.rng.random_bool(0.004) {
                    entries.push(Entry::Dup(k));
                } else if !single(k) && !three_row_done {
                    // The first row of a conflicting txn_id exported twice: three rows, one
                    // duplicate and one DQ-003.
                    let first = !seen_multi.contains_key(pay.txn_id.as_str());
                    if first {
                        entries.push(Entry::Dup(k));
                        three_row_done = true;
                    }
                }
                if !single(k) {
                    seen_multi.insert(pay.txn_id.as_str(), true);
                }
            }
            plan.push((files[f].0.to_string(), files[f].1, entries));
        }
        plan
    }

    /// Writes one file; returns its expected rejects and duplicates.
    fn file(
        &mut self,
        source: Source,
        rel: &str,
        fmt: Fmt,
        mut entries: Vec<Entry>,
    ) -> Result<RejectLine, SynthError> {
        let n = source.len(self.town);
        let kinds: Vec<Bad> = garbage_kinds(source)
            .iter()
            .copied()
            .filter(|b| matches!(fmt, Fmt::Csv(_)) || !matches!(b, Bad::Extra | Bad::Missing))
            .collect();
        let mut rejected = 0;
        if n > 0 {
            let count = (entries.len() / 150).max(kinds.len());
            for g in 0..count {
                let base = self.rng.random_range(0..n);
                let pos = self.rng.random_range(0..=entries.len());
                entries.insert(pos, Entry::Garbage(g % kinds.len(), base));
                rejected += 1;
            }
        }
        if source == Source::Deaths {
            // A notice whose id is invalid is rejected (and may be linked, DTH-005).
            rejected += entries
                .iter()
                .filter(|e| matches!(e, Entry::Rec(k) if !id_valid(&self.town.deaths[*k].id)))
                .count();
        }
        let duplicate_rows = entries
            .iter()
            .filter(|e| matches!(e, Entry::Dup(_)))
            .count();
        let decor = decor_of(rel, entries.len());
        let path = self.out.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        }
        let job = Job {
            source,
            cols: source.columns(),
            kinds: &kinds,
            entries: &entries,
            path: &path,
            rel,
            decor: decor.as_ref(),
        };
        match fmt {
            Fmt::Csv(enc) => self.write_csv(job, enc)?,
            Fmt::Xlsx => self.write_xlsx(job)?,
            Fmt::Parquet => self.write_parquet(job)?,
        }
        Ok(RejectLine {
            source: source.name(),
            file: rel.to_string(),
            rejected,
            duplicate_rows,
            preamble_rows: decor.as_ref().map_or(0, |d| d.preamble.len()),
            total_rows: decor.as_ref().map_or(0, |d| d.totals.len()),
        })
    }

    /// The cells of an entry as written values, in column order, plus a shape break.
    fn render(&mut self, job: Job, e: Entry, xlsx: bool) -> (Vec<Out>, Option<Bad>) {
        let (k, bad) = match e {
            Entry::Rec(k) | Entry::Dup(k) => (k, None),
            Entry::Garbage(g, k) => (k, Some(job.kinds[g])),
        };
        let cells = job.source.cells(self.town, k, self.villages);
        let mut outs: Vec<Out> = job
            .cols
            .iter()
            .zip(&cells)
            .map(|(c, cell)| self.vary(c.kind, cell, xlsx))
            .collect();
        let idx = |name: &str| {
            job.cols
                .iter()
                .position(|c| c.name == name)
                .expect("garbage names a column")
        };
        if xlsx && job.source == Source::Payments {
            let p = &self.town.payments[k];
            if p.lost {
                outs[idx("id_number")] = Out::N(p.id.parse::<f64>().expect("digits"));
            } else if p.legacy15 {
                // A 15-digit legacy id typed as a number is exact: read like text.
                let n = legacy15(&p.id).parse::<f64>().expect("digits");
                outs[idx("id_number")] = Out::N(n);
            }
        }
        let mut shape = None;
        match bad {
            None => {}
            Some(Bad::Set(col, raw)) => outs[idx(col)] = Out::S(raw.to_string()),
            Some(Bad::InvalidId) => {
                if let Cell::Text(id) = &cells[idx("id_number")] {
                    outs[idx("id_number")] = Out::S(corrupt(id));
                }
            }
            Some(Bad::DeadNoDate) => {
                outs[idx("status")] = Out::S("死亡".to_string());
                outs[idx("status_date")] = Out::S(String::new());
            }
            Some(b) => shape = Some(b),
        }
        (outs, shape)
    }

    /// The amount of an entry's money cell as the file holds it, if it parses: the
    /// record's amount unless garbage spoiled that very cell.
    fn entry_money(&self, job: Job, e: Entry) -> Option<Fen> {
        let (k, bad) = match e {
            Entry::Rec(k) | Entry::Dup(k) => (k, None),
            Entry::Garbage(g, k) => (k, Some(job.kinds[g])),
        };
        let col = money_col(job.source)?;
        if matches!(bad, Some(Bad::Set(c, _)) if c == col) {
            // "abc", "1.005", "-320", "": none is an amount.
            return None;
        }
        match job.source {
            Source::Payments => Some(self.town.payments[k].amount),
            Source::Receipts => Some(self.town.receipts[k].amount),
            Source::Deposits => Some(self.town.deposits[k].amount),
            Source::Roster => self.town.roster[k].expected,
            _ => None,
        }
    }

    /// Closes a totals row at `line`: records a DQ-004 when it states another amount
    /// than it covers; returns the text of its amount cell.
    fn close_total(
        &mut self,
        job: Job,
        covered: &mut Covered,
        label: &str,
        stated: Stated,
        line: u32,
    ) -> Option<String> {
        let sum = covered.close(label);
        let amount = match stated {
            Stated::Nothing => return None,
            Stated::Right => sum,
            Stated::Off(d) => {
                self.truth.push(TruthRow {
                    rule: "DQ-004",
                    key: format!("{}|{line}", job.rel),
                    amount: Fen(d.abs()),
                });
                sum + Fen(d)
            }
        };
        Some(amount.to_string())
    }

    /// A CSV totals row of `width` cells: its label first, its amount (if it states one)
    /// in the money column; closes the total as [`Self::close_total`] does.
    fn total_record(
        &mut self,
        job: Job,
        covered: &mut Covered,
        (label, stated, line): (&str, Stated, u32),
        width: usize,
        money_at: Option<usize>,
    ) -> Vec<String> {
        let text = self.close_total(job, covered, label, stated, line);
        let mut rec = vec![String::new(); width];
        rec[0] = label.to_string();
        if let (Some(m), Some(t)) = (money_at, text) {
            rec[m] = t;
        }
        rec
    }

    fn headers(&mut self, cols: &[Col]) -> Vec<String> {
        cols.iter().map(|c| self.header(c)).collect()
    }

    /// A header cell: canonical name (any case) or an alias, maybe padded with spaces.
    fn header(&mut self, c: &Col) -> String {
        let r: f64 = self.rng.random();
        let base = if r < 0.25 || c.aliases.is_empty() {
            match self.rng.random_range(0..3) {
                0 => c.name.to_string(),
                1 => c.name.to_uppercase(),
                _ => title_case(c.name),
            }
        } else {
            c.aliases[self.rng.random_range(0..c.aliases.len())].to_string()
        };
        match self.rng.random_range(0..6) {
            0 => format!(" {base} "),
            1 => format!("\u{3000}{base}"),
            2 => format!("{base}\u{3000} "),
            _ => base,
        }
    }

    /// A column order: sometimes shuffled, sometimes with columns no one asked for.
    fn layout(&mut self, n: usize) -> (Vec<usize>, bool, bool) {
        let mut order: Vec<usize> = (0..n).collect();
        if self.rng.random_bool(0.5) {
            order.shuffle(&mut self.rng);
        }
        (order, self.rng.random_bool(0.6), self.rng.random_bool(0.5))
    }

    fn write_csv(&mut self, job: Job, enc: Enc) -> Result<(), SynthError> {
        let (order, seq_col, note_col) = self.layout(job.cols.len());
        // A decorated file has a 序号 column first, where the totals label stands.
        let seq_col = seq_col || job.decor.is_some();
        let headers = self.headers(job.cols);
        // Windows exports (the GB18030 ones) end lines with CRLF.
        let term = if enc == Enc::Gb18030 {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        };
        let eol = if enc == Enc::Gb18030 { "\r\n" } else { "\n" };
        let mut preamble = String::new();
        for line in job.decor.map_or(&[][..], |d| d.preamble) {
            preamble.push_str(line);
            preamble.push_str(eol);
        }
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .terminator(term)
            .from_writer(preamble.into_bytes());
        let mut head: Vec<String> = Vec::new();
        if seq_col {
            head.push("序号".to_string());
        }
        head.extend(order.iter().map(|&i| headers[i].clone()));
        if note_col {
            head.push("备注".to_string());
        }
        w.write_record(&head)
            .map_err(|e| SynthError::Csv(job.path.display().to_string(), e))?;
        let money_at = money_col(job.source).map(|m| {
            usize::from(seq_col)
                + order
                    .iter()
                    .position(|&i| job.cols[i].name == m)
                    .expect("money column")
        });
        let mut line = job.decor.map_or(0, |d| d.preamble.len()) as u32 + 1;
        let mut covered = Covered::default();
        let mut totals = job
            .decor
            .map_or(&[][..], |d| d.totals.as_slice())
            .iter()
            .peekable();
        for (row_no, e) in job.entries.iter().enumerate() {
            while let Some(&&(_, label, stated)) = totals.peek().filter(|t| t.0 == row_no) {
                totals.next();
                line += 1;
                let total = (label, stated, line);
                let rec = self.total_record(job, &mut covered, total, head.len(), money_at);
                w.write_record(&rec)
                    .map_err(|e| SynthError::Csv(job.path.display().to_string(), e))?;
            }
            line += 1;
            let (outs, shape) = self.render(job, *e, false);
            let mut rec: Vec<String> = Vec::with_capacity(head.len() + 1);
            if seq_col {
                rec.push((row_no + 1).to_string());
            }
            rec.extend(order.iter().map(|&i| outs[i].text()));
            if note_col {
                rec.push(if self.rng.random_bool(0.05) {
                    "已核实".to_string()
                } else {
                    String::new()
                });
            }
            match shape {
                Some(Bad::Extra) => rec.push("多余".to_string()),
                Some(Bad::Missing) => {
                    rec.pop();
                }
                _ => {}
            }
            let cut = money_at.is_some_and(|m| m >= rec.len());
            covered.add(self.entry_money(job, *e).filter(|_| !cut));
            w.write_record(&rec)
                .map_err(|e| SynthError::Csv(job.path.display().to_string(), e))?;
        }
        for &(_, label, stated) in totals {
            line += 1;
            let total = (label, stated, line);
            let rec = self.total_record(job, &mut covered, total, head.len(), money_at);
            w.write_record(&rec)
                .map_err(|e| SynthError::Csv(job.path.display().to_string(), e))?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| io_err(job.path, e.into_error()))?;
        let text = String::from_utf8(bytes).map_err(|e| SynthError::Internal(e.to_string()))?;
        let data = match enc {
            Enc::Utf8 => text.into_bytes(),
            Enc::Utf8Bom => {
                let mut v = "\u{feff}".as_bytes().to_vec();
                v.extend(text.into_bytes());
                v
            }
            Enc::Gb18030 => encoding_rs::GB18030.encode(&text).0.into_owned(),
        };
        std::fs::write(job.path, data).map_err(|e| io_err(job.path, e))
    }

    fn write_xlsx(&mut self, job: Job) -> Result<(), SynthError> {
        use rust_xlsxwriter::{DocProperties, ExcelDateTime, Workbook};
        let xerr = |e: rust_xlsxwriter::XlsxError| {
            SynthError::Xlsx(job.path.display().to_string(), e.to_string())
        };
        let (order, seq_col, _) = self.layout(job.cols.len());
        let seq_col = seq_col || job.decor.is_some();
        let headers = self.headers(job.cols);
        let mut wb = Workbook::new();
        let created = ExcelDateTime::from_ymd(2022, 1, 28).map_err(xerr)?;
        wb.set_properties(&DocProperties::new().set_creation_datetime(&created));
        let ws = wb.add_worksheet();
        ws.set_name(source_sheet(job.source)).map_err(xerr)?;
        let off = u16::from(seq_col);
        let pre = job.decor.map_or(&[][..], |d| d.preamble);
        for (r, text) in pre.iter().enumerate() {
            if !text.is_empty() {
                ws.write_string(r as u32, 0, *text).map_err(xerr)?;
            }
        }
        let head_row = pre.len() as u32;
        if seq_col {
            ws.write_string(head_row, 0, "序号").map_err(xerr)?;
        }
        for (j, &i) in order.iter().enumerate() {
            ws.write_string(head_row, off + j as u16, &headers[i])
                .map_err(xerr)?;
        }
        let rendered: Vec<Vec<Out>> = job
            .entries
            .iter()
            .map(|e| self.render(job, *e, true).0)
            .collect();
        let money_at = money_col(job.source).map(|m| {
            off + order
                .iter()
                .position(|&i| job.cols[i].name == m)
                .expect("money column") as u16
        });
        let mut covered = Covered::default();
        let totals: Vec<(usize, &str, Stated)> = job.decor.map_or(Vec::new(), |d| d.totals.clone());
        let mut row = head_row;
        let write_totals = |w: &mut Self,
                            ws: &mut rust_xlsxwriter::Worksheet,
                            covered: &mut Covered,
                            row: &mut u32,
                            at: usize|
         -> Result<(), SynthError> {
            for &(_, label, stated) in totals.iter().filter(|t| t.0 == at) {
                *row += 1;
                let text = w.close_total(job, covered, label, stated, *row + 1);
                ws.write_string(*row, 0, label).map_err(xerr)?;
                if let (Some(m), Some(t)) = (money_at, text) {
                    ws.write_string(*row, m, &t).map_err(xerr)?;
                }
            }
            Ok(())
        };
        for (r, outs) in rendered.iter().enumerate() {
            write_totals(self, ws, &mut covered, &mut row, r)?;
            row += 1;
            covered.add(self.entry_money(job, job.entries[r]));
            if seq_col {
                ws.write_number(row, 0, (r + 1) as f64).map_err(xerr)?;
            }
            for (j, &i) in order.iter().enumerate() {
                let c = off + j as u16;
                match &outs[i] {
                    Out::S(s) if s.is_empty() => {}
                    Out::S(s) => {
                        ws.write_string(row, c, s).map_err(xerr)?;
                    }
                    Out::N(n) => {
                        ws.write_number(row, c, *n).map_err(xerr)?;
                    }
                }
            }
        }
        write_totals(self, ws, &mut covered, &mut row, rendered.len())?;
        // A second sheet the engine must not read.
        let notes = wb.add_worksheet();
        notes.set_name("说明").map_err(xerr)?;
        notes
            .write_string(0, 0, "本表由系统导出，仅第一张工作表为数据。")
            .map_err(xerr)?;
        notes.write_string(1, 0, "id_number").map_err(xerr)?;
        notes.write_string(2, 0, "not data").map_err(xerr)?;
        wb.save(job.path).map_err(xerr)
    }

    fn write_parquet(&mut self, job: Job) -> Result<(), SynthError> {
        let perr =
            |e: PolarsError| SynthError::Parquet(job.path.display().to_string(), e.to_string());
        let headers = self.headers(job.cols);
        let mut columns: Vec<Column> = Vec::new();
        let rows: Vec<(Vec<Out>, Vec<Cell>, Option<Bad>)> = job
            .entries
            .iter()
            .map(|e| {
                let (outs, _) = self.render(job, *e, false);
                let (k, bad) = match e {
                    Entry::Rec(k) | Entry::Dup(k) => (*k, None),
                    Entry::Garbage(g, k) => (*k, Some(job.kinds[*g])),
                };
                (outs, job.source.cells(self.town, k, self.villages), bad)
            })
            .collect();
        for (i, c) in job.cols.iter().enumerate() {
            let name: PlSmallStr = headers[i].as_str().into();
            // Native types: dates and whole numbers where the column allows it.
            let native_date = c.kind == Kind::Date && c.required;
            let native_int = matches!(c.kind, Kind::Int);
            if native_date {
                let v: Vec<Option<i32>> = rows
                    .iter()
                    .map(|(_, cells, bad)| {
                        if matches!(bad, Some(Bad::Set(col, _)) if *col == c.name) {
                            return None;
                        }
                        match &cells[i] {
                            Cell::Date(d) => Some(days_since_epoch(*d)),
                            _ => None,
                        }
                    })
                    .collect();
                let s = Series::new(name, v).cast(&DataType::Date).map_err(perr)?;
                columns.push(s.into());
            } else if native_int {
                let v: Vec<Option<i64>> = rows
                    .iter()
                    .map(|(_, cells, _)| match &cells[i] {
                        Cell::Int(n) => Some(*n),
                        _ => None,
                    })
                    .collect();
                columns.push(Series::new(name, v).into());
            } else {
                let v: Vec<Option<String>> = rows
                    .iter()
                    .map(|(outs, _, _)| {
                        let t = outs[i].text();
                        (!t.is_empty()).then_some(t)
                    })
                    .collect();
                columns.push(Series::new(name, v).into());
            }
        }
        let mut df = DataFrame::new_infer_height(columns).map_err(perr)?;
        let file = std::fs::File::create(job.path).map_err(|e| io_err(job.path, e))?;
        ParquetWriter::new(file).finish(&mut df).map_err(perr)?;
        Ok(())
    }

    /// One written spelling of a canonical cell.
    fn vary(&mut self, kind: Kind, cell: &Cell, xlsx: bool) -> Out {
        let rng = &mut self.rng;
        match cell {
            Cell::Null => Out::S(String::new()),
            Cell::Text(s) => Out::S(vary_text(rng, kind, s)),
            Cell::Int(n) => {
                if xlsx && rng.random_bool(0.5) {
                    return Out::N(*n as f64);
                }
                match kind {
                    Kind::Period => Out::S(period_form(rng, *n)),
                    Kind::Level => {
                        let zh = ["", "一级", "二级", "三级", "四级"];
                        if rng.random_bool(0.5) && (1..=4).contains(n) {
                            Out::S(zh[*n as usize].to_string())
                        } else {
                            Out::S(n.to_string())
                        }
                    }
                    _ => Out::S(n.to_string()),
                }
            }
            Cell::Money(f) => {
                if xlsx && f.0 % 100 == 0 && rng.random_bool(0.6) {
                    return Out::N((f.0 / 100) as f64);
                }
                Out::S(money_form(rng, *f))
            }
            Cell::Date(d) => {
                if rng.random_bool(0.1) || (xlsx && rng.random_bool(0.4)) {
                    let serial = excel_serial(*d);
                    return if xlsx {
                        Out::N(serial as f64)
                    } else {
                        Out::S(serial.to_string())
                    };
                }
                Out::S(date_form(rng, *d))
            }
            Cell::DateTime(t) => {
                if xlsx && rng.random_bool(0.4) {
                    let secs = f64::from(t.num_seconds_from_midnight());
                    return Out::N(excel_serial(t.date()) as f64 + secs / 86_400.0);
                }
                Out::S(datetime_form(rng, *t))
            }
        }
    }
}

/// The money column of a source (the one control totals add up).
fn money_col(s: Source) -> Option<&'static str> {
    match s {
        Source::Payments | Source::Receipts | Source::Deposits => Some("amount"),
        Source::Roster => Some("expected_amount"),
        _ => None,
    }
}

/// Which files carry a title and totals rows, and which totals (by entry count `n`):
/// the first payments part a title, 小计 that add up, a 小计 without amount, and a 合计
/// 100.00 too high; the XLSX part a title and a 小计 20.00 short; receipts.csv a 合计
/// that adds up only with its rejected rows counted.
fn decor_of(rel: &str, n: usize) -> Option<Decor> {
    if n < 8 {
        return None;
    }
    match rel {
        "payments/part1.csv" => Some(Decor {
            preamble: TITLE_PREAMBLE,
            totals: vec![
                (n / 4, "小计", Stated::Right),
                (n / 2, "小计", Stated::Nothing),
                (3 * n / 4, "小计", Stated::Right),
                (n, "小计", Stated::Right),
                (n, "合计", Stated::Off(10_000)),
            ],
        }),
        "payments/part2.xlsx" => Some(Decor {
            preamble: XLSX_PREAMBLE,
            totals: vec![
                (n / 3, "小计", Stated::Off(-2_000)),
                (n, "总计", Stated::Right),
            ],
        }),
        "receipts.csv" => Some(Decor {
            preamble: &[],
            totals: vec![(n, "合计", Stated::Right)],
        }),
        _ => None,
    }
}

fn source_sheet(s: Source) -> &'static str {
    match s {
        Source::Eligibility => "特殊群体",
        Source::Deposits => "解缴入库",
        Source::Payments => "缴费明细",
        _ => "Sheet1",
    }
}

fn title_case(s: &str) -> String {
    s.split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("_")
}

/// Days from 1970-01-01 (Parquet Date).
fn days_since_epoch(d: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    (d - epoch).num_days() as i32
}

/// Excel 1900-system serial of a date.
pub(crate) fn excel_serial(d: NaiveDate) -> i64 {
    let base = NaiveDate::from_ymd_opt(1899, 12, 30).expect("excel base");
    (d - base).num_days()
}

/// Full-width form of ASCII digits and letters.
fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

fn pad(rng: &mut SmallRng, s: String) -> String {
    match rng.random_range(0..3) {
        0 => format!(" {s} "),
        1 => format!("\u{3000}{s}"),
        _ => format!("{s}  "),
    }
}

fn vary_text(rng: &mut SmallRng, kind: Kind, s: &str) -> String {
    match kind {
        Kind::Id => {
            let mut t = s.to_string();
            if t.len() == 18
                && t.as_bytes()[6..8] == *b"19"
                && id_valid(&t)
                && rng.random_bool(0.08)
            {
                t = legacy15(&t);
            }
            if t.ends_with('X') && rng.random_bool(0.5) {
                t = t.replace('X', "x");
            }
            if rng.random_bool(0.05) {
                t = full_width(&t);
            }
            if rng.random_bool(0.08) {
                t = pad(rng, t);
            }
            t
        }
        Kind::Name => {
            let chars: Vec<char> = s.chars().collect();
            if chars.len() >= 2 && rng.random_bool(0.08) {
                let sp = ["  ", " ", "\u{3000}"][rng.random_range(0..3)];
                let mut out = String::new();
                out.push(chars[0]);
                out.push_str(sp);
                out.extend(&chars[1..]);
                return out;
            }
            if rng.random_bool(0.05) {
                return pad(rng, s.to_string());
            }
            s.to_string()
        }
        Kind::Scheme => {
            let opts: &[&str] = match s {
                "resident_pension" => &[
                    "resident_pension",
                    "城乡居民基本养老保险",
                    "居民养老",
                    "养老",
                ],
                "resident_medical" => &[
                    "resident_medical",
                    "城乡居民基本医疗保险",
                    "居民医保",
                    "医疗",
                ],
                "employee_pension" => &["employee_pension", "城镇职工基本养老保险", "职工养老"],
                "employee_medical" => &[
                    "employee_medical",
                    "城镇职工基本医疗保险",
                    "职工医保",
                    "职工医疗",
                ],
                _ => &[],
            };
            pick_spelling(rng, opts, s)
        }
        Kind::Payer => {
            let opts: &[&str] = match s {
                "个人缴费" => &["个人缴费", "individual", ""],
                "政府代缴" => &["政府代缴", "代缴", "财政代缴", "government"],
                "补缴" => &["补缴", "中断补缴", "政策性补缴", "back_payment"],
                _ => &[],
            };
            pick_spelling(rng, opts, s)
        }
        Kind::PayStatus => blank_default(rng, s, "成功"),
        Kind::HukouStatus => blank_default(rng, s, "正常"),
        Kind::Residence => {
            let opts: &[&str] = if s == "户籍" {
                &["户籍", "本地户籍", ""]
            } else {
                &[]
            };
            pick_spelling(rng, opts, s)
        }
        Kind::Category => {
            let opts = Category::parse(s).map_or(&[][..], category_spellings);
            pick_spelling(rng, opts, s)
        }
        _ => {
            if rng.random_bool(0.03) && s.is_ascii() {
                if rng.random_bool(0.5) {
                    full_width(s)
                } else {
                    pad(rng, s.to_string())
                }
            } else {
                s.to_string()
            }
        }
    }
}

/// One of `opts` at random, or `s` itself when there are none.
fn pick_spelling(rng: &mut SmallRng, opts: &[&str], s: &str) -> String {
    if opts.is_empty() {
        s.to_string()
    } else {
        opts[rng.random_range(0..opts.len())].to_string()
    }
}

/// `s`, sometimes left blank when it is the value a blank stands for.
fn blank_default(rng: &mut SmallRng, s: &str, default: &str) -> String {
    if s == default && rng.random_bool(0.4) {
        String::new()
    } else {
        s.to_string()
    }
}

fn period_form(rng: &mut SmallRng, y: i64) -> String {
    match rng.random_range(0..6) {
        0 => format!("{y}年"),
        1 => format!("{y}年度"),
        2 => format!("{y}01-{y}12"),
        3 => format!("{y}-01至{y}-12"),
        _ => y.to_string(),
    }
}

fn group_thousands(n: i64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn money_form(rng: &mut SmallRng, f: Fen) -> String {
    let yuan = f.0 / 100;
    let fen = f.0 % 100;
    let whole = fen == 0;
    let plain = if whole {
        yuan.to_string()
    } else {
        f.to_string()
    };
    match rng.random_range(0..9) {
        0 => f.to_string(),
        1 => format!("{plain}元"),
        2 => format!("¥{plain}"),
        3 => format!("￥{plain}"),
        4 if yuan >= 1000 => format!("{}.{:02}", group_thousands(yuan), fen),
        5 => full_width(&plain),
        6 => format!("￥{}元", f),
        _ => plain,
    }
}

fn date_form(rng: &mut SmallRng, d: NaiveDate) -> String {
    let (y, m, dd) = (d.year(), d.month(), d.day());
    match rng.random_range(0..7) {
        0 => format!("{y}/{m}/{dd}"),
        1 => format!("{y}.{m:02}.{dd:02}"),
        2 => format!("{y}{m:02}{dd:02}"),
        3 => format!("{y}年{m}月{dd}日"),
        4 => format!("{y}/{m:02}/{dd:02}"),
        _ => format!("{y}-{m:02}-{dd:02}"),
    }
}

fn datetime_form(rng: &mut SmallRng, t: NaiveDateTime) -> String {
    let (h, mi, s) = (t.hour(), t.minute(), t.second());
    if h == 0 && mi == 0 && s == 0 && rng.random_bool(0.5) {
        return date_form(rng, t.date());
    }
    let iso = rng.random_bool(0.5);
    let date = if iso {
        let d = t.date();
        format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
    } else {
        date_form(rng, t.date())
    };
    let iso_date = date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-';
    let sep = if iso_date && rng.random_bool(0.3) {
        "T"
    } else {
        " "
    };
    let time = if s == 0 && rng.random_bool(0.5) {
        if h < 10 && rng.random_bool(0.5) {
            format!("{h}:{mi:02}")
        } else {
            format!("{h:02}:{mi:02}")
        }
    } else {
        format!("{h:02}:{mi:02}:{s:02}")
    };
    format!("{date}{sep}{time}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use qianbiao_core::date::{parse_date, parse_datetime, parse_period};
    use qianbiao_core::money::parse_amount;
    use qianbiao_core::text::{norm_name, norm_text};
    use qianbiao_core::{IdNumber, PayerType, Scheme};

    #[test]
    fn every_spelling_normalises_back() {
        let mut rng = SmallRng::seed_from_u64(5);
        let d = NaiveDate::from_ymd_opt(2021, 11, 5).unwrap();
        let t = d.and_hms_opt(9, 30, 0).unwrap();
        let t2 = d.and_hms_opt(14, 2, 7).unwrap();
        let mid = d.and_hms_opt(0, 0, 0).unwrap();
        for _ in 0..500 {
            assert_eq!(parse_date(&date_form(&mut rng, d)), Some(d));
            for x in [t, t2, mid] {
                let s = datetime_form(&mut rng, x);
                assert_eq!(parse_datetime(&s), Some(x), "{s}");
            }
            for f in [Fen(32000), Fen(100000), Fen(12345), Fen(500000), Fen(0)] {
                let s = money_form(&mut rng, f);
                assert_eq!(parse_amount(&s), Ok(f), "{s}");
            }
            assert_eq!(parse_period(&period_form(&mut rng, 2022)), Some(2022));
            let id = "11010519491231002X";
            assert_eq!(
                IdNumber::parse(&vary_text(&mut rng, Kind::Id, id)).as_str(),
                id
            );
            assert_eq!(norm_name(&vary_text(&mut rng, Kind::Name, "王涛")), "王涛");
            let s = vary_text(&mut rng, Kind::Scheme, "resident_pension");
            assert_eq!(Scheme::parse(&s), Some(Scheme::ResidentPension), "{s}");
            let p = vary_text(&mut rng, Kind::Payer, "政府代缴");
            assert_eq!(PayerType::parse(&p), PayerType::Government);
            assert_eq!(
                norm_text(&vary_text(&mut rng, Kind::Text, "DB0101")),
                "DB0101"
            );
        }
        let serial = excel_serial(d);
        assert_eq!(parse_date(&serial.to_string()), Some(d));
    }
}
