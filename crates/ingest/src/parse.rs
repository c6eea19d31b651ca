//! Turning raw rows into typed columns, or each row into a reason to reject it: a piece
//! of rows at a time, a column at a time ([`Piece`]).

use chrono::{NaiveDate, NaiveDateTime};
use qianbiao_core::codes::parse_disability_level;
use qianbiao_core::date::{
    date_in_range, parse_datetime, parse_datetime_1904, parse_period, written_in_range,
};
use qianbiao_core::money::parse_amount;
use qianbiao_core::text::{norm_name, norm_text};
use qianbiao_core::{
    Category, Fen, HukouStatus, IdNumber, PayerType, PaymentStatus, Scheme, Stamp,
};

use std::borrow::Cow;

use crate::read::Frame;
use crate::source::{Col, SourceKind};
use crate::tables::*;

/// A row's cells as text: each a range of the file's text (a CSV cell as written: no
/// copy) or of the row's own text (a quoted CSV cell, the cells of an Excel row).
#[derive(Debug, Clone, Default)]
pub struct Fields {
    /// The file's text, which cells not marked [`OWN`] are ranges of.
    file: Option<std::sync::Arc<String>>,
    /// The text of the cells marked [`OWN`].
    own: String,
    /// Each cell's start and end.
    cells: Vec<(usize, usize)>,
}

/// Set in a cell's start when the cell is a range of the row's own text.
const OWN: usize = 1 << (usize::BITS - 1);

impl Fields {
    /// Number of cells.
    pub fn len(&self) -> usize {
        self.cells.len()
    }
    /// True when there is no cell.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
    /// Cell `i`.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&str> {
        let &(start, end) = self.cells.get(i)?;
        if start & OWN != 0 {
            self.own.get(start & !OWN..end)
        } else {
            self.file.as_deref()?.get(start..end)
        }
    }
    /// Every cell in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i).unwrap_or_default())
    }
    /// Removes every cell (the row is refilled).
    pub fn clear(&mut self) {
        self.own.clear();
        self.cells.clear();
    }
    /// Appends a cell of the row's own text.
    pub fn push(&mut self, cell: &str) {
        let start = self.own.len();
        self.own.push_str(cell);
        self.cells.push((start | OWN, self.own.len()));
    }
    /// Appends the cell `file[start..end]`.
    pub(crate) fn push_range(&mut self, file: &std::sync::Arc<String>, start: usize, end: usize) {
        if !self
            .file
            .as_ref()
            .is_some_and(|f| std::sync::Arc::ptr_eq(f, file))
        {
            self.file = Some(file.clone());
        }
        self.cells.push((start, end));
    }
}

impl<S: AsRef<str>> FromIterator<S> for Fields {
    fn from_iter<I: IntoIterator<Item = S>>(cells: I) -> Self {
        let mut f = Fields::default();
        for c in cells {
            f.push(c.as_ref());
        }
        f
    }
}

/// Which fields of a row were numeric cells of an Excel sheet: a bit each for the first 64
/// columns, a list beyond (an id column may stand further right in a wide export); and
/// whether the workbook counts its dates from 1904, so that a number in a date column is
/// read as the day that workbook means.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Numeric {
    low: u64,
    far: Vec<u32>,
    /// The workbook's date system is 1904's (Excel for Mac's old default).
    pub date1904: bool,
}

impl Numeric {
    /// No numeric field.
    pub const NONE: Numeric = Numeric {
        low: 0,
        far: Vec::new(),
        date1904: false,
    };

    /// Marks field `i` numeric.
    pub fn set(&mut self, i: usize) {
        if i < 64 {
            self.low |= 1 << i;
        } else if let Ok(i) = u32::try_from(i) {
            self.far.push(i);
        }
    }

    /// Whether field `i` was numeric.
    pub fn has(&self, i: usize) -> bool {
        if i < 64 {
            self.low & (1 << i) != 0
        } else {
            u32::try_from(i).is_ok_and(|i| self.far.contains(&i))
        }
    }
}

/// The numeric fields of a row that has none (Parquet, CSV).
static NO_NUMERIC: Numeric = Numeric::NONE;

/// One raw row: its line and its cells as text.
#[derive(Debug, Clone)]
pub struct RawRow {
    /// Line in the file (header is line 1): the first physical line of the row.
    pub line: u32,
    /// Physical lines the row spans (a quoted field may hold line breaks).
    pub lines: u32,
    /// Cells in file order.
    pub fields: Fields,
    /// The fields that were numeric cells of an Excel sheet.
    pub numeric: Numeric,
    /// Parquet rows: the row's index in the slice of the file it was read with (its cells
    /// are in that slice's columns, `fields` is empty).
    pub frame_row: u32,
    /// A structural problem found while reading (wrong number of fields).
    pub problem: Option<String>,
    /// A data row or a totals row.
    pub kind: crate::read::RowKind,
}

/// Where each canonical column sits in a file's rows, indexed by [`Col`]: built once per
/// file so a cell lookup is one array access.
pub struct ColMap {
    pos: [Option<usize>; Col::COUNT],
}

impl ColMap {
    /// From the file's header map (position `i` is the field of `crate::source::columns(source)[i]`).
    pub fn new(source: SourceKind, header_map: &[Option<usize>]) -> ColMap {
        let mut pos = [None; Col::COUNT];
        for (f, field) in crate::source::columns(source).iter().zip(header_map) {
            pos[f.col as usize] = *field;
        }
        ColMap { pos }
    }

    /// The field index of a canonical column, if the file has it.
    pub fn position(&self, col: Col) -> Option<usize> {
        self.pos[col as usize]
    }
}

/// A row's cells looked up by canonical column.
pub struct Cells<'a> {
    map: &'a ColMap,
    fields: &'a Fields,
    /// A Parquet file's columns and the row's index in them (`fields` is then empty).
    frame: Option<(&'a Frame, usize)>,
    numeric: &'a Numeric,
    year: i32,
    /// A field's amount already read from its text (the control totals read the money
    /// column of every row): the field and the amount.
    money: Option<(usize, Fen)>,
}

/// Whether the text of an Excel number has 16 digits or more: more than the 15 significant
/// digits Excel keeps, so its last digits are lost.
fn lost_digits(text: &str) -> bool {
    text.bytes().filter(u8::is_ascii_digit).count() >= 16
}

/// Why an id read from an Excel number is not one.
pub const LOST_DIGITS: &str = "id_number stored as a number lost its last digits";

impl<'a> Cells<'a> {
    /// Wraps a raw row with the file's column map; `year` is the policy year that bounds
    /// dates (`data-contract.md`, Robustness).
    pub fn new(map: &'a ColMap, raw: &'a RawRow, year: i32) -> Self {
        Cells {
            map,
            fields: &raw.fields,
            frame: None,
            numeric: &raw.numeric,
            year,
            money: None,
        }
    }

    /// A row of a Parquet file's columns (its line is the row index + 2).
    pub fn in_frame(map: &'a ColMap, frame: &'a Frame, raw: &'a RawRow, year: i32) -> Self {
        Cells {
            map,
            fields: &raw.fields,
            frame: Some((frame, raw.frame_row as usize)),
            numeric: &NO_NUMERIC,
            year,
            money: None,
        }
    }

    /// The same cells, with field `field`'s text already read as the amount `fen`
    /// ([`parse_amount`] of it), which the amount readers then take instead of reading it
    /// again.
    pub fn with_amount(self, field: usize, fen: Fen) -> Self {
        Cells {
            money: Some((field, fen)),
            ..self
        }
    }

    /// The amount of `col` already read from its text, if it was.
    fn amount_read(&self, col: Col) -> Option<Fen> {
        let (field, fen) = self.money?;
        (self.map.pos[col as usize] == Some(field)).then_some(fen)
    }

    /// Whether the id cell lost digits as a number: an Excel numeric cell of 16 or more
    /// digits, or scientific notation in any file.
    fn id_lost(&self, normalised: &str) -> bool {
        // Digits of the cell as read, before a 15-digit legacy id is converted to 18.
        (self.numeric_cell(Col::IdNumber) && lost_digits(&norm_text(&self.raw(Col::IdNumber))))
            || is_scientific(normalised)
    }

    /// Whether the column's cell was a number in an Excel sheet.
    fn numeric_cell(&self, col: Col) -> bool {
        self.map.pos[col as usize].is_some_and(|i| self.numeric.has(i))
    }

    /// A cell's text as read (empty when the file lacks the column).
    pub fn raw(&self, col: Col) -> Cow<'a, str> {
        let Some(i) = self.map.pos[col as usize] else {
            return Cow::Borrowed("");
        };
        match self.frame {
            Some((f, row)) => f.text(i, row),
            None => Cow::Borrowed(self.fields.get(i).unwrap_or("")),
        }
    }

    /// A date or date-time cell stored as one (Parquet), when it is within the dates
    /// the run accepts: taken as it is. Anything else goes the way of its text form, so
    /// that both give the same row or the same reason.
    fn stored_datetime(&self, col: Col) -> Option<NaiveDateTime> {
        let (f, row) = self.frame?;
        let d = f.datetime(self.map.pos[col as usize]?, row)?;
        date_in_range(d.date(), self.year).then_some(d)
    }

    /// A Parquet date or date-time cell holding no day of the calendar.
    fn stored_out_of_calendar(&self, col: Col) -> bool {
        match (self.frame, self.map.pos[col as usize]) {
            (Some((f, row)), Some(i)) => f.out_of_calendar(i, row),
            _ => false,
        }
    }

    /// A text cell normalised, borrowed from the file's cells when it is already normal.
    fn text(&self, col: Col) -> Cow<'a, str> {
        normalised(self.raw(col), norm_text)
    }

    fn required_text(&self, col: Col) -> Result<Cow<'a, str>, String> {
        let t = self.text(col);
        if t.is_empty() {
            return Err(format!("`{}`: empty", col.name()));
        }
        // A key (txn_id, receipt_no, deposit_id, collector_id) typed as a number in Excel
        // kept 15 significant digits: two keys that differ only after them would be read
        // as one (two payments as one txn_id, DQ-003 for nothing, a payment lost).
        if self.numeric_cell(col) && lost_digits(&t) {
            return Err(format!(
                "`{}`: stored as a number, it lost its last digits ('{t}')",
                col.name()
            ));
        }
        Ok(t)
    }

    fn name(&self) -> Cow<'a, str> {
        normalised(self.raw(Col::Name), norm_name)
    }

    fn required_name(&self) -> Result<Cow<'a, str>, String> {
        let n = self.name();
        if n.is_empty() {
            return Err("`name`: empty".into());
        }
        Ok(n)
    }

    /// A valid id, or the reason it is not (sources that reject invalid ids).
    fn valid_id(&self) -> Result<Text, String> {
        let raw = self.raw(Col::IdNumber);
        let raw: &str = &raw;
        let id = IdNumber::parse(raw);
        if id.as_str().is_empty() {
            return Err("`id_number`: empty".into());
        }
        if self.id_lost(id.as_str()) {
            return Err(format!("`id_number`: {LOST_DIGITS} ('{}')", id.as_str()));
        }
        if !id.is_valid() {
            // A 15-digit number with no real birth date is converted all the same: the
            // reason quotes it as typed too.
            let typed = norm_text(raw);
            if typed.len() == 15 && id.as_str().len() == 18 {
                return Err(format!(
                    "`id_number`: invalid id number '{}' (typed '{typed}')",
                    id.as_str()
                ));
            }
            return Err(format!("`id_number`: invalid id number '{}'", id.as_str()));
        }
        Ok(id.into_text())
    }

    /// Any non-empty id, with its validity and whether it lost digits as a number
    /// (payments and receipts keep invalid ids). A lost id is never valid, whatever its
    /// check digit.
    fn any_id(&self) -> Result<(Text, bool, bool), String> {
        let id = IdNumber::parse(&self.raw(Col::IdNumber));
        if id.as_str().is_empty() {
            return Err("`id_number`: empty".into());
        }
        let lost = self.id_lost(id.as_str());
        let valid = id.is_valid() && !lost;
        Ok((id.into_text(), valid, lost))
    }

    fn required<T>(
        &self,
        col: Col,
        what: &str,
        f: impl Fn(&str) -> Option<T>,
    ) -> Result<T, String> {
        let raw = self.raw(col);
        let raw: &str = &raw;
        // Every reader given here reads nothing from a cell that is empty once normalised,
        // so a value read is never from an empty cell: the emptiness is asked only of a
        // cell that gave no value, to say which reason.
        if let Some(v) = f(raw) {
            debug_assert!(
                !norm_text(raw).is_empty(),
                "a value read from an empty cell"
            );
            return Ok(v);
        }
        if norm_text(raw).is_empty() {
            return Err(format!("`{}`: empty", col.name()));
        }
        Err(format!(
            "`{}`: not a {what}: '{}'",
            col.name(),
            norm_text(raw)
        ))
    }

    /// The reader of the column's cell as a date-time: a number of a workbook counting
    /// its dates from 1904 is a serial of that system.
    fn datetime_reader(&self, col: Col) -> fn(&str) -> Option<NaiveDateTime> {
        if self.numeric.date1904 && self.numeric_cell(col) {
            parse_datetime_1904
        } else {
            parse_datetime
        }
    }

    pub(crate) fn date(&self, col: Col) -> Result<NaiveDate, String> {
        self.datetime_as(col, "date").map(|d| d.date())
    }

    fn datetime(&self, col: Col) -> Result<NaiveDateTime, String> {
        self.datetime_as(col, "date/time")
    }

    fn datetime_as(&self, col: Col, what: &str) -> Result<NaiveDateTime, String> {
        if let Some(d) = self.stored_datetime(col) {
            return Ok(d);
        }
        if self.stored_out_of_calendar(col) {
            return Err(format!(
                "`{}`: date out of range: '{}'",
                col.name(),
                self.raw(col)
            ));
        }
        let d = self.required(col, what, self.datetime_reader(col))?;
        if !written_in_range(d.date(), &self.raw(col), self.year) {
            return Err(format!(
                "`{}`: date out of range: '{}'",
                col.name(),
                norm_text(&self.raw(col))
            ));
        }
        Ok(d)
    }

    /// An optional date: empty when it cannot be read or is out of range.
    fn optional_date(&self, col: Col) -> Option<NaiveDate> {
        if let Some(d) = self.stored_datetime(col) {
            return Some(d.date());
        }
        let raw = self.raw(col);
        self.datetime_reader(col)(&raw)
            .map(|d| d.date())
            .filter(|d| written_in_range(*d, &raw, self.year))
    }

    /// An amount stored as an integer or decimal (Parquet), when its text form would be
    /// accepted as it is: taken as it is. Anything else goes the way of its text form.
    fn stored_amount(&self, col: Col) -> Option<Fen> {
        let (f, row) = self.frame?;
        f.fen(self.map.pos[col as usize]?, row)
    }

    /// A year stored as an integer (Parquet) that its text form gives as it is (1900 to
    /// 2200); anything else goes the way of its text form.
    fn stored_period(&self, col: Col) -> Option<i32> {
        let (f, row) = self.frame?;
        let y = f.integer(self.map.pos[col as usize]?, row)?;
        (1900..=2200).contains(&y).then_some(y as i32)
    }

    fn amount(&self, col: Col) -> Result<Fen, String> {
        if let Some(fen) = self.stored_amount(col).or_else(|| self.amount_read(col)) {
            return Ok(fen);
        }
        parse_amount(&self.raw(col)).map_err(|e| format!("`{}`: {e}", col.name()))
    }

    /// An optional amount: empty when it cannot be read.
    fn optional_amount(&self, col: Col) -> Option<Fen> {
        self.stored_amount(col)
            .or_else(|| self.amount_read(col))
            .or_else(|| parse_amount(&self.raw(col)).ok())
    }
}

/// A cell normalised by `f`: borrowed from the cell when the cell is and `f` borrows.
fn normalised<'a>(raw: Cow<'a, str>, f: fn(&str) -> Cow<'_, str>) -> Cow<'a, str> {
    match raw {
        Cow::Borrowed(s) => f(s),
        Cow::Owned(s) => Cow::Owned(f(&s).into_owned()),
    }
}

/// A piece of a chunk's rows, parsed a column at a time in the contract's column order:
/// each column's cells are read one after another (as a Parquet slice decoded them, or
/// down a CSV piece), and a row's reason is its first failing column, as reading the row
/// on its own would give. A source's parse function reads its columns through
/// [`Piece::each`] (a value that can reject the row) and [`Piece::all`] (one that
/// cannot), then keeps the rows still accepted with [`Piece::live`].
pub struct Piece<'a> {
    cells: Vec<Cells<'a>>,
    provs: Vec<Prov>,
    reasons: Vec<Option<String>>,
}

impl<'a> Piece<'a> {
    /// Rows to parse, each with its provenance.
    pub fn new(cells: Vec<Cells<'a>>, provs: Vec<Prov>) -> Self {
        Piece {
            reasons: vec![None; cells.len()],
            cells,
            provs,
        }
    }

    /// A value read from every row not yet rejected; a row whose value fails is rejected
    /// with the reason given. None for every rejected row.
    pub fn each<T>(
        &mut self,
        mut f: impl FnMut(&Cells<'a>) -> Result<T, String>,
    ) -> Vec<Option<T>> {
        self.cells
            .iter()
            .zip(&mut self.reasons)
            .map(|(c, reason)| {
                if reason.is_some() {
                    return None;
                }
                f(c).map_err(|e| *reason = Some(e)).ok()
            })
            .collect()
    }

    /// As [`Piece::each`], for a coded column whose value depends on its own cell only:
    /// a cell whose text is the row before's takes that row's value (exports repeat a
    /// code down a column) without looking it up again.
    pub fn each_code<T: Clone>(
        &mut self,
        col: Col,
        f: impl Fn(&Cells<'a>) -> Result<T, String>,
    ) -> Vec<Option<T>> {
        self.each(repeating(col, f))
    }

    /// As [`Piece::each_code`], for a code that never rejects a row.
    pub fn all_code<T: Clone>(&self, col: Col, f: impl Fn(&Cells<'a>) -> T) -> Vec<T> {
        let f = repeating(col, f);
        self.cells.iter().map(f).collect()
    }

    /// A check across columns: row `k` not yet rejected is rejected when `f(k, row)` fails.
    pub fn check(&mut self, f: impl Fn(usize, &Cells<'a>) -> Result<(), String>) {
        for (k, (c, reason)) in self.cells.iter().zip(&mut self.reasons).enumerate() {
            if reason.is_none() {
                if let Err(e) = f(k, c) {
                    *reason = Some(e);
                }
            }
        }
    }

    /// A value that never rejects a row, read from every row.
    pub fn all<T>(&self, f: impl Fn(&Cells<'a>) -> T) -> Vec<T> {
        self.cells.iter().map(f).collect()
    }

    /// The rows still accepted, to keep their values with.
    pub fn live(&self) -> Live {
        Live(
            self.reasons
                .iter()
                .any(Option::is_some)
                .then(|| self.reasons.iter().map(Option::is_none).collect()),
        )
    }

    /// Each row's provenance (taken: asked for once, last).
    pub fn provs(&mut self) -> Vec<Prov> {
        std::mem::take(&mut self.provs)
    }

    /// Each row's reason to be rejected, in order (None: accepted).
    pub fn into_reasons(self) -> Vec<Option<String>> {
        self.reasons
    }
}

/// What each kind of column reads ([`crate::source::Kind`], `data-contract.md`,
/// Normalisation of values): a required column's reader can reject a row (its values
/// are kept with [`Live::req`]), an optional one's cannot (kept with [`Live::all`]). The
/// `source!` declarations of `tables.rs` choose the reader of each column from its kind.
impl<'a> Piece<'a> {
    /// `Id`: a valid id, or the reason it is not (sources that reject invalid ids).
    pub fn valid_ids(&mut self) -> Vec<Option<Text>> {
        self.each(Cells::valid_id)
    }
    /// `KeptId`: any non-empty id, with its validity and whether it lost digits as a
    /// number (split into columns by [`id_columns`]).
    pub fn kept_ids(&mut self) -> Vec<Option<(Text, bool, bool)>> {
        self.each(Cells::any_id)
    }
    /// A required `PersonName`.
    pub fn required_names(&mut self) -> Vec<Option<Cow<'a, str>>> {
        self.each(Cells::required_name)
    }
    /// An optional `PersonName`.
    pub fn names(&self) -> Vec<Cow<'a, str>> {
        self.all(Cells::name)
    }
    /// A required `Text`: normalised, not empty.
    pub fn required_texts(&mut self, col: Col) -> Vec<Option<Cow<'a, str>>> {
        self.each(|c| c.required_text(col))
    }
    /// An optional `Text`, normalised.
    pub fn texts(&self, col: Col) -> Vec<Cow<'a, str>> {
        self.all(|c| c.text(col))
    }
    /// An optional `Text` kept as what `f` makes of its normalised text.
    pub fn texts_as<T>(&self, col: Col, f: impl Fn(&str) -> T) -> Vec<T> {
        self.all(|c| f(&c.text(col)))
    }
    /// A required `Date`.
    pub fn required_dates(&mut self, col: Col) -> Vec<Option<NaiveDate>> {
        self.each(|c| c.date(col))
    }
    /// An optional `Date`: empty when it cannot be read or is out of range.
    pub fn dates(&self, col: Col) -> Vec<Option<NaiveDate>> {
        self.all(|c| c.optional_date(col))
    }
    /// A required `Datetime`.
    pub fn required_stamps(&mut self, col: Col) -> Vec<Option<Stamp>> {
        self.each(|c| c.datetime(col).map(Stamp::from))
    }
    /// A required `Money` amount, in fen.
    pub fn required_amounts(&mut self, col: Col) -> Vec<Option<Fen>> {
        self.each(|c| c.amount(col))
    }
    /// An optional `Money` amount: empty when it cannot be read.
    pub fn amounts(&self, col: Col) -> Vec<Option<Fen>> {
        self.all(|c| c.optional_amount(col))
    }
    /// A required `Year`.
    pub fn required_years(&mut self, col: Col) -> Vec<Option<i32>> {
        self.each(|c| match c.stored_period(col) {
            Some(y) => Ok(y),
            None => c.required(col, "year", parse_period),
        })
    }
    /// An optional `Year`: one that cannot be read is kept as empty, which for a year is
    /// the policy year.
    pub fn years(&self, col: Col) -> Vec<i32> {
        self.all(|c| {
            c.stored_period(col)
                .unwrap_or_else(|| parse_period(&c.raw(col)).unwrap_or(c.year))
        })
    }
    /// An optional `Count` (`12`, `12人`, `12.0`): empty when it cannot be read.
    pub fn counts(&self, col: Col) -> Vec<Option<u32>> {
        self.all(|c| {
            let cell = c.raw(col);
            let t = norm_text(&cell);
            let t = t.strip_suffix('人').unwrap_or(&t);
            let t = t.strip_suffix(".0").unwrap_or(t);
            t.parse::<u32>().ok()
        })
    }
    /// An optional `Level`, 1-4 (`一级`..`四级`): empty when it cannot be read.
    pub fn levels(&self, col: Col) -> Vec<Option<u8>> {
        self.all(|c| parse_disability_level(&c.raw(col)))
    }
    /// A required `Code`: a known code of its list.
    pub fn required_codes<T: RequiredCode>(&mut self, col: Col) -> Vec<Option<T>> {
        self.each_code(col, |c| c.required(col, T::WHAT, T::parse))
    }
    /// An optional `Code`: empty or unknown is the list's default.
    pub fn codes<T: DefaultedCode>(&self, col: Col) -> Vec<T> {
        self.all_code(col, |c| T::parse(&c.raw(col)))
    }
}

/// A code list whose code is required: an empty or unknown code rejects the row.
pub trait RequiredCode: Clone {
    /// What the reason calls a code of the list (`not a known scheme: '…'`).
    const WHAT: &'static str;
    /// The code a cell names, if any.
    fn parse(raw: &str) -> Option<Self>;
}

impl RequiredCode for Scheme {
    const WHAT: &'static str = "known scheme";
    fn parse(raw: &str) -> Option<Self> {
        Scheme::parse(raw)
    }
}

impl RequiredCode for Category {
    const WHAT: &'static str = "known category";
    fn parse(raw: &str) -> Option<Self> {
        Category::parse(raw)
    }
}

/// A code list with a default: any cell names a code.
pub trait DefaultedCode: Clone {
    /// The code a cell names (its default when empty or unknown).
    fn parse(raw: &str) -> Self;
}

macro_rules! defaulted {
    ($($t:ty),*) => {$(
        impl DefaultedCode for $t {
            fn parse(raw: &str) -> Self {
                <$t>::parse(raw)
            }
        }
    )*};
}
defaulted!(HukouStatus, PayerType, PaymentStatus);

/// `f` of a cell of `col`, reusing its value for a cell whose text is the one before's.
fn repeating<'a, V: Clone>(col: Col, f: impl Fn(&Cells<'a>) -> V) -> impl FnMut(&Cells<'a>) -> V {
    let mut last: Option<(Cow<'a, str>, V)> = None;
    move |c| {
        let raw = c.raw(col);
        if let Some((prev, v)) = &last {
            if *prev == raw {
                return v.clone();
            }
        }
        let v = f(c);
        last = Some((raw, v.clone()));
        v
    }
}

/// Which rows of a [`Piece`] are accepted (None: every row).
pub struct Live(Option<Vec<bool>>);

impl Live {
    /// The values of the accepted rows, of a column read with [`Piece::each`] before the
    /// last check (every accepted row has one).
    pub fn req<T>(&self, col: Vec<Option<T>>) -> Vec<T> {
        match &self.0 {
            None => col.into_iter().flatten().collect(),
            Some(keep) => col
                .into_iter()
                .zip(keep)
                .filter_map(|(v, &k)| {
                    debug_assert!(!k || v.is_some(), "an accepted row lacks a value");
                    v.filter(|_| k)
                })
                .collect(),
        }
    }

    /// The values of the accepted rows, of a column read with [`Piece::all`].
    pub fn all<T>(&self, col: Vec<T>) -> Vec<T> {
        match &self.0 {
            None => col,
            Some(keep) => col
                .into_iter()
                .zip(keep)
                .filter_map(|(v, &k)| k.then_some(v))
                .collect(),
        }
    }
}

/// Splits (id, valid, lost) triples into their three columns.
pub(crate) fn id_columns(ids: Vec<(Text, bool, bool)>) -> (Vec<Text>, Vec<bool>, Vec<bool>) {
    let mut out = (
        Vec::with_capacity(ids.len()),
        Vec::with_capacity(ids.len()),
        Vec::with_capacity(ids.len()),
    );
    for (id, valid, lost) in ids {
        out.0.push(id);
        out.1.push(valid);
        out.2.push(lost);
    }
    out
}

/// A deaths row rejected for an invalid id, kept for identity linkage: only when the id
/// is its one fault (non-empty, invalid) and its death date reads.
pub fn linkable_death(c: &Cells, prov: Prov) -> Option<LinkableDeath> {
    let id = IdNumber::parse(&c.raw(Col::IdNumber));
    if id.as_str().is_empty() || (id.is_valid() && !c.id_lost(id.as_str())) {
        return None;
    }
    let death_date = c.date(Col::DeathDate).ok()?;
    let id_lost = c.id_lost(id.as_str());
    Some(LinkableDeath {
        id: id.into_text(),
        id_lost,
        name: Text::from(c.name().as_ref()),
        death_date,
        prov,
    })
}

/// `3.71323E+17`: a number in scientific notation, as Excel writes a long id to CSV.
fn is_scientific(t: &str) -> bool {
    // Found by its bytes (an `e` is ASCII): a search by a set of characters decodes each.
    let Some(at) = t.bytes().position(|b| b | 0x20 == b'e') else {
        return false;
    };
    let (mantissa, exp) = (&t[..at], &t[at + 1..]);
    let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !exp.is_empty()
        && exp.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scientific_notation() {
        for t in ["3.71323E+17", "3.71323e17", "4E-3", "12e+5"] {
            assert!(is_scientific(t), "{t}");
        }
        for t in [
            "",
            "e5",
            "3.7E",
            "3.7E+",
            "3.7E+1x",
            "37132319900101123X",
            "王e1",
            "1.2.3E4",
        ] {
            assert!(!is_scientific(t), "{t}");
        }
    }

    #[test]
    fn fields_mix_ranges_of_the_file_with_text_of_their_own() {
        let file = std::sync::Arc::new("王娜,\"a\"\"b\",,东关村".to_string());
        let mut f = Fields::default();
        f.push_range(&file, 0, 6);
        f.push("a\"b");
        f.push_range(&file, 14, 14);
        f.push_range(&file, 15, file.len());
        assert_eq!(f.iter().collect::<Vec<_>>(), ["王娜", "a\"b", "", "东关村"]);
        assert_eq!((f.len(), f.get(1), f.get(4)), (4, Some("a\"b"), None));
        // Refilled, a row keeps nothing of the one before.
        f.clear();
        assert!(f.is_empty());
        f.push("x");
        f.push_range(&file, 0, 3);
        assert_eq!(f.iter().collect::<Vec<_>>(), ["x", "王"]);
        let other = std::sync::Arc::new("c,d".to_string());
        f.clear();
        f.push_range(&other, 2, 3);
        assert_eq!(f.get(0), Some("d"));
    }
}
