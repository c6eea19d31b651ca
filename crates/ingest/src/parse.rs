//! Turning one raw row of strings into a typed row, or a reason to reject it.

use chrono::{NaiveDate, NaiveDateTime};
use qianbiao_core::codes::parse_disability_level;
use qianbiao_core::date::{date_in_range, parse_date, parse_datetime, parse_period};
use qianbiao_core::money::parse_amount;
use qianbiao_core::text::{norm_name, norm_text};
use qianbiao_core::{Category, Fen, HukouStatus, IdNumber, PayerType, PaymentStatus, Scheme};

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

    fn text(&self, col: Col) -> Text {
        Text::from(norm_text(&self.raw(col)).as_ref())
    }

    fn required_text(&self, col: Col) -> Result<Text, String> {
        let t = self.text(col);
        if t.is_empty() {
            return Err(format!("`{}`: empty", col.name()));
        }
        Ok(t)
    }

    fn name(&self) -> Text {
        Text::from(norm_name(&self.raw(Col::Name)).as_ref())
    }

    fn required_name(&self) -> Result<Text, String> {
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

/// Parses a hukou row.
pub fn hukou(c: &Cells, prov: Prov) -> Result<HukouRow, String> {
    let id = c.valid_id()?;
    let name = c.required_name()?;
    let village = c.required_text(Col::Village)?;
    let status = HukouStatus::parse(&c.raw(Col::Status));
    let status_date = c.optional_date(Col::StatusDate);
    if status != HukouStatus::Normal && status_date.is_none() {
        return Err(format!(
            "`status_date`: required when status is {} ('{}')",
            status.zh(),
            norm_text(&c.raw(Col::StatusDate))
        ));
    }
    let rt = c.text(Col::ResidenceType);
    Ok(HukouRow {
        id,
        name,
        gender: c.text(Col::Gender),
        birth_date: c.optional_date(Col::BirthDate),
        village,
        office: c.text(Col::Office),
        household_no: c.text(Col::HouseholdNo),
        residence_permit: rt == "居住证",
        status,
        status_date,
        prov,
    })
}

/// Parses a deaths row.
pub fn death(c: &Cells, prov: Prov) -> Result<DeathRow, String> {
    Ok(DeathRow {
        id: c.valid_id()?,
        name: c.name(),
        death_date: c.date(Col::DeathDate)?,
        source: c.text(Col::Source),
        notice_date: c.optional_date(Col::NoticeDate),
        prov,
    })
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
        name: c.name(),
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

/// Parses an eligibility row.
pub fn eligibility(c: &Cells, prov: Prov) -> Result<EligibilityRow, String> {
    let id = c.valid_id()?;
    let category = c.required(Col::Category, "known category", Category::parse)?;
    Ok(EligibilityRow {
        id,
        name: c.name(),
        category,
        disability_level: parse_disability_level(&c.raw(Col::DisabilityLevel)),
        valid_from: c.date(Col::ValidFrom)?,
        valid_to: c.optional_date(Col::ValidTo),
        source_dept: c.text(Col::SourceDept),
        prov,
    })
}

/// Parses a registrations row.
pub fn registration(c: &Cells, prov: Prov) -> Result<RegistrationRow, String> {
    Ok(RegistrationRow {
        id: c.valid_id()?,
        name: c.name(),
        scheme: c.scheme()?,
        status: c.text(Col::Status),
        tier: c.text(Col::Tier),
        start_date: c.date(Col::StartDate)?,
        end_date: c.optional_date(Col::EndDate),
        prov,
    })
}

/// Parses a payments row (an invalid id is kept, flagged by DQ-001).
pub fn payment(c: &Cells, prov: Prov) -> Result<PaymentRow, String> {
    let txn_id = c.required_text(Col::TxnId)?;
    let (id, id_valid, id_lost) = c.any_id()?;
    Ok(PaymentRow {
        txn_id,
        id,
        id_valid,
        id_lost,
        name: c.name(),
        scheme: c.scheme()?,
        period: match c.stored_period() {
            Some(y) => y,
            None => c.required(Col::Period, "year", parse_period)?,
        },
        amount: c.amount(Col::Amount)?,
        paid_at: c.datetime(Col::PaidAt)?.into(),
        channel: c.text(Col::Channel),
        payer_type: PayerType::parse(&c.raw(Col::PayerType)),
        collector_id: c.text(Col::CollectorId),
        village: c.text(Col::Village),
        receipt_no: c.text(Col::ReceiptNo),
        payer_account: c.text(Col::PayerAccount),
        deposit_id: c.text(Col::DepositId),
        status: PaymentStatus::parse(&c.raw(Col::Status)),
        prov,
    })
}

/// Parses a receipts row; an empty period is the policy year.
pub fn receipt(c: &Cells, prov: Prov, year: i32) -> Result<ReceiptRow, String> {
    let receipt_no = c.required_text(Col::ReceiptNo)?;
    let collector_id = c.required_text(Col::CollectorId)?;
    let (id, id_valid, id_lost) = c.any_id()?;
    let scheme = c.scheme()?;
    // An optional value that cannot be parsed is kept as empty: here, the default year.
    let period = c
        .stored_period()
        .unwrap_or_else(|| parse_period(&c.raw(Col::Period)).unwrap_or(year));
    Ok(ReceiptRow {
        receipt_no,
        collector_id,
        id,
        id_valid,
        id_lost,
        name: c.name(),
        scheme,
        period,
        amount: c.amount(Col::Amount)?,
        collected_at: c.datetime(Col::CollectedAt)?.into(),
        village: c.text(Col::Village),
        prov,
    })
}

/// Parses a deposits row.
pub fn deposit(c: &Cells, prov: Prov) -> Result<DepositRow, String> {
    let deposit_id = c.required_text(Col::DepositId)?;
    let collector_id = c.required_text(Col::CollectorId)?;
    let person_count = {
        let cell = c.raw(Col::PersonCount);
        let t = norm_text(&cell);
        let t = t.strip_suffix('人').unwrap_or(&t);
        let t = t.strip_suffix(".0").unwrap_or(t);
        t.parse::<u32>().ok()
    };
    Ok(DepositRow {
        deposit_id,
        collector_id,
        amount: c.amount(Col::Amount)?,
        deposited_at: c.datetime(Col::DepositedAt)?.into(),
        person_count,
        village: c.text(Col::Village),
        prov,
    })
}

/// Parses a roster row.
pub fn roster(c: &Cells, prov: Prov) -> Result<RosterRow, String> {
    Ok(RosterRow {
        id: c.valid_id()?,
        name: c.name(),
        village: c.text(Col::Village),
        scheme: c.scheme()?,
        expected_amount: c.optional_amount(Col::ExpectedAmount),
        collector_id: c.text(Col::CollectorId),
        batch: c.text(Col::Batch),
        prov,
    })
}
