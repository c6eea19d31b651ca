//! Turning raw rows into typed columns, or each row into a reason to reject it: a piece
//! of rows at a time, a column at a time ([`Piece`]).

use chrono::{NaiveDate, NaiveDateTime};
use qianbiao_core::codes::parse_disability_level;
use qianbiao_core::date::{date_in_range, parse_date, parse_datetime, parse_period};
use qianbiao_core::money::parse_amount;
use qianbiao_core::text::{norm_name, norm_text};
use qianbiao_core::{
    Category, Fen, HukouStatus, IdNumber, PayerType, PaymentStatus, Scheme, Stamp,
};

use std::borrow::Cow;

use crate::read::Frame;
use crate::source::{Col, SourceKind};
use crate::tables::*;

/// One raw row: its line and its cells as text.
#[derive(Debug, Clone)]
pub struct RawRow {
    /// Line in the file (header is line 1): the first physical line of the row.
    pub line: u32,
    /// Physical lines the row spans (a quoted field may hold line breaks).
    pub lines: u32,
    /// Cells in file order.
    pub fields: csv::StringRecord,
    /// Bit `i` set: field `i` was a numeric cell of an Excel sheet.
    pub numeric: u64,
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
    fields: &'a csv::StringRecord,
    /// A Parquet file's columns and the row's index in them (`fields` is then empty).
    frame: Option<(&'a Frame, usize)>,
    numeric: u64,
    year: i32,
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
            numeric: raw.numeric,
            year,
        }
    }

    /// A row of a Parquet file's columns (its line is the row index + 2).
    pub fn in_frame(map: &'a ColMap, frame: &'a Frame, raw: &'a RawRow, year: i32) -> Self {
        Cells {
            map,
            fields: &raw.fields,
            frame: Some((frame, raw.frame_row as usize)),
            numeric: 0,
            year,
        }
    }

    /// Whether the id cell lost digits as a number: an Excel numeric cell of 16 or more
    /// digits, or scientific notation in any file.
    fn id_lost(&self, normalised: &str) -> bool {
        let numeric_cell = self.map.pos[Col::IdNumber as usize]
            .is_some_and(|i| i < 64 && self.numeric & (1 << i) != 0);
        // Digits of the cell as read, before a 15-digit legacy id is converted to 18.
        let digits = || {
            norm_text(&self.raw(Col::IdNumber))
                .bytes()
                .filter(u8::is_ascii_digit)
                .count()
        };
        (numeric_cell && digits() >= 16) || is_scientific(normalised)
    }

    fn raw(&self, col: Col) -> Cow<'a, str> {
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

    /// A text cell normalised, borrowed from the file's cells when it is already normal.
    fn text(&self, col: Col) -> Cow<'a, str> {
        normalised(self.raw(col), norm_text)
    }

    fn required_text(&self, col: Col) -> Result<Cow<'a, str>, String> {
        let t = self.text(col);
        if t.is_empty() {
            return Err(format!("`{}`: empty", col.name()));
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
        if norm_text(raw).is_empty() {
            return Err(format!("`{}`: empty", col.name()));
        }
        f(raw).ok_or_else(|| format!("`{}`: not a {what}: '{}'", col.name(), norm_text(raw)))
    }

    fn date(&self, col: Col) -> Result<NaiveDate, String> {
        self.datetime_as(col, "date").map(|d| d.date())
    }

    fn datetime(&self, col: Col) -> Result<NaiveDateTime, String> {
        self.datetime_as(col, "date/time")
    }

    fn datetime_as(&self, col: Col, what: &str) -> Result<NaiveDateTime, String> {
        if let Some(d) = self.stored_datetime(col) {
            return Ok(d);
        }
        let d = self.required(col, what, parse_datetime)?;
        if !date_in_range(d.date(), self.year) {
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
        parse_date(&self.raw(col)).filter(|d| date_in_range(*d, self.year))
    }

    /// An amount stored as an integer or decimal (Parquet), when its text form would be
    /// accepted as it is: taken as it is. Anything else goes the way of its text form.
    fn stored_amount(&self, col: Col) -> Option<Fen> {
        let (f, row) = self.frame?;
        f.fen(self.map.pos[col as usize]?, row)
    }

    /// A year stored as an integer (Parquet) that its text form gives as it is (1900 to
    /// 2200); anything else goes the way of its text form.
    fn stored_period(&self) -> Option<i32> {
        let (f, row) = self.frame?;
        let y = f.integer(self.map.pos[Col::Period as usize]?, row)?;
        (1900..=2200).contains(&y).then_some(y as i32)
    }

    fn amount(&self, col: Col) -> Result<Fen, String> {
        if let Some(fen) = self.stored_amount(col) {
            return Ok(fen);
        }
        parse_amount(&self.raw(col)).map_err(|e| format!("`{}`: {e}", col.name()))
    }

    /// An optional amount: empty when it cannot be read.
    fn optional_amount(&self, col: Col) -> Option<Fen> {
        self.stored_amount(col)
            .or_else(|| parse_amount(&self.raw(col)).ok())
    }

    fn scheme(&self) -> Result<Scheme, String> {
        self.required(Col::Scheme, "known scheme", Scheme::parse)
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
fn id_columns(ids: Vec<(Text, bool, bool)>) -> (Vec<Text>, Vec<bool>, Vec<bool>) {
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

/// Parses a piece of hukou rows.
pub fn hukou<'a>(p: &mut Piece<'a>) -> HukouCols<'a> {
    let id = p.each(Cells::valid_id);
    let name = p.each(Cells::required_name);
    let gender = p.all(|c| c.text(Col::Gender));
    let birth_date = p.all(|c| c.optional_date(Col::BirthDate));
    let village = p.each(|c| c.required_text(Col::Village));
    let office = p.all(|c| c.text(Col::Office));
    let household_no = p.all(|c| c.text(Col::HouseholdNo));
    let residence_permit = p.all(|c| c.text(Col::ResidenceType) == "居住证");
    let status = p.all_code(Col::Status, |c| HukouStatus::parse(&c.raw(Col::Status)));
    let status_date = p.all(|c| c.optional_date(Col::StatusDate));
    p.check(|k, c| {
        if status[k] != HukouStatus::Normal && status_date[k].is_none() {
            return Err(format!(
                "`status_date`: required when status is {} ('{}')",
                status[k].zh(),
                norm_text(&c.raw(Col::StatusDate))
            ));
        }
        Ok(())
    });
    let live = p.live();
    HukouCols {
        id: live.req(id),
        name: live.req(name),
        gender: live.all(gender),
        birth_date: live.all(birth_date),
        village: live.req(village),
        office: live.all(office),
        household_no: live.all(household_no),
        residence_permit: live.all(residence_permit),
        status: live.all(status),
        status_date: live.all(status_date),
        prov: live.all(p.provs()),
    }
}

/// Parses a piece of deaths rows.
pub fn death<'a>(p: &mut Piece<'a>) -> DeathCols<'a> {
    let id = p.each(Cells::valid_id);
    let name = p.all(Cells::name);
    let death_date = p.each(|c| c.date(Col::DeathDate));
    let live = p.live();
    DeathCols {
        id: live.req(id),
        name: live.all(name),
        death_date: live.req(death_date),
        source: live.all(p.all(|c| c.text(Col::Source))),
        notice_date: live.all(p.all(|c| c.optional_date(Col::NoticeDate))),
        prov: live.all(p.provs()),
    }
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
    let Some((mantissa, exp)) = t.split_once(['e', 'E']) else {
        return false;
    };
    let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !exp.is_empty()
        && exp.bytes().all(|b| b.is_ascii_digit())
}

/// Parses a piece of eligibility rows.
pub fn eligibility<'a>(p: &mut Piece<'a>) -> EligibilityCols<'a> {
    let id = p.each(Cells::valid_id);
    let name = p.all(Cells::name);
    let category = p.each_code(Col::Category, |c| {
        c.required(Col::Category, "known category", Category::parse)
    });
    let disability_level = p.all(|c| parse_disability_level(&c.raw(Col::DisabilityLevel)));
    let valid_from = p.each(|c| c.date(Col::ValidFrom));
    let live = p.live();
    EligibilityCols {
        id: live.req(id),
        name: live.all(name),
        category: live.req(category),
        disability_level: live.all(disability_level),
        valid_from: live.req(valid_from),
        valid_to: live.all(p.all(|c| c.optional_date(Col::ValidTo))),
        source_dept: live.all(p.all(|c| c.text(Col::SourceDept))),
        prov: live.all(p.provs()),
    }
}

/// Parses a piece of registrations rows.
pub fn registration<'a>(p: &mut Piece<'a>) -> RegistrationCols<'a> {
    let id = p.each(Cells::valid_id);
    let name = p.all(Cells::name);
    let scheme = p.each_code(Col::Scheme, Cells::scheme);
    let status = p.all(|c| c.text(Col::Status));
    let tier = p.all(|c| c.text(Col::Tier));
    let start_date = p.each(|c| c.date(Col::StartDate));
    let live = p.live();
    RegistrationCols {
        id: live.req(id),
        name: live.all(name),
        scheme: live.req(scheme),
        status: live.all(status),
        tier: live.all(tier),
        start_date: live.req(start_date),
        end_date: live.all(p.all(|c| c.optional_date(Col::EndDate))),
        prov: live.all(p.provs()),
    }
}

/// Parses a piece of payments rows (an invalid id is kept, flagged by DQ-001).
pub fn payment<'a>(p: &mut Piece<'a>) -> PaymentCols<'a> {
    let txn_id = p.each(|c| c.required_text(Col::TxnId));
    let ids = p.each(Cells::any_id);
    let name = p.all(Cells::name);
    let scheme = p.each_code(Col::Scheme, Cells::scheme);
    let period = p.each(|c| match c.stored_period() {
        Some(y) => Ok(y),
        None => c.required(Col::Period, "year", parse_period),
    });
    let amount = p.each(|c| c.amount(Col::Amount));
    let paid_at = p.each(|c| c.datetime(Col::PaidAt).map(Stamp::from));
    let live = p.live();
    let (id, id_valid, id_lost) = id_columns(live.req(ids));
    PaymentCols {
        txn_id: live.req(txn_id),
        id,
        id_valid,
        id_lost,
        name: live.all(name),
        scheme: live.req(scheme),
        period: live.req(period),
        amount: live.req(amount),
        paid_at: live.req(paid_at),
        channel: live.all(p.all(|c| c.text(Col::Channel))),
        payer_type: live
            .all(p.all_code(Col::PayerType, |c| PayerType::parse(&c.raw(Col::PayerType)))),
        collector_id: live.all(p.all(|c| c.text(Col::CollectorId))),
        village: live.all(p.all(|c| c.text(Col::Village))),
        receipt_no: live.all(p.all(|c| c.text(Col::ReceiptNo))),
        payer_account: live.all(p.all(|c| c.text(Col::PayerAccount))),
        deposit_id: live.all(p.all(|c| c.text(Col::DepositId))),
        status: live.all(p.all_code(Col::Status, |c| PaymentStatus::parse(&c.raw(Col::Status)))),
        prov: live.all(p.provs()),
    }
}

/// Parses a piece of receipts rows; an empty period is the policy year.
pub fn receipt<'a>(p: &mut Piece<'a>) -> ReceiptCols<'a> {
    let receipt_no = p.each(|c| c.required_text(Col::ReceiptNo));
    let collector_id = p.each(|c| c.required_text(Col::CollectorId));
    let ids = p.each(Cells::any_id);
    let name = p.all(Cells::name);
    let scheme = p.each_code(Col::Scheme, Cells::scheme);
    // An optional value that cannot be parsed is kept as empty: here, the default year.
    let period = p.all(|c| {
        c.stored_period()
            .unwrap_or_else(|| parse_period(&c.raw(Col::Period)).unwrap_or(c.year))
    });
    let amount = p.each(|c| c.amount(Col::Amount));
    let collected_at = p.each(|c| c.datetime(Col::CollectedAt).map(Stamp::from));
    let live = p.live();
    let (id, id_valid, id_lost) = id_columns(live.req(ids));
    ReceiptCols {
        receipt_no: live.req(receipt_no),
        collector_id: live.req(collector_id),
        id,
        id_valid,
        id_lost,
        name: live.all(name),
        scheme: live.req(scheme),
        period: live.all(period),
        amount: live.req(amount),
        collected_at: live.req(collected_at),
        village: live.all(p.all(|c| c.text(Col::Village))),
        prov: live.all(p.provs()),
    }
}

/// Parses a piece of deposits rows.
pub fn deposit<'a>(p: &mut Piece<'a>) -> DepositCols<'a> {
    let deposit_id = p.each(|c| c.required_text(Col::DepositId));
    let collector_id = p.each(|c| c.required_text(Col::CollectorId));
    let amount = p.each(|c| c.amount(Col::Amount));
    let deposited_at = p.each(|c| c.datetime(Col::DepositedAt).map(Stamp::from));
    let person_count = p.all(|c| {
        let cell = c.raw(Col::PersonCount);
        let t = norm_text(&cell);
        let t = t.strip_suffix('人').unwrap_or(&t);
        let t = t.strip_suffix(".0").unwrap_or(t);
        t.parse::<u32>().ok()
    });
    let live = p.live();
    DepositCols {
        deposit_id: live.req(deposit_id),
        collector_id: live.req(collector_id),
        amount: live.req(amount),
        deposited_at: live.req(deposited_at),
        person_count: live.all(person_count),
        village: live.all(p.all(|c| c.text(Col::Village))),
        prov: live.all(p.provs()),
    }
}

/// Parses a piece of roster rows.
pub fn roster<'a>(p: &mut Piece<'a>) -> RosterCols<'a> {
    let id = p.each(Cells::valid_id);
    let name = p.all(Cells::name);
    let village = p.all(|c| c.text(Col::Village));
    let scheme = p.each_code(Col::Scheme, Cells::scheme);
    let live = p.live();
    RosterCols {
        id: live.req(id),
        name: live.all(name),
        village: live.all(village),
        scheme: live.req(scheme),
        expected_amount: live.all(p.all(|c| c.optional_amount(Col::ExpectedAmount))),
        collector_id: live.all(p.all(|c| c.text(Col::CollectorId))),
        batch: live.all(p.all(|c| c.text(Col::Batch))),
        prov: live.all(p.provs()),
    }
}
