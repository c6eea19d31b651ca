//! A compact binary form of accepted rows, for the bucket files of a partitioned run.
//!
//! A bucket file is a sequence of frames `[rows: u32][raw: u64][packed: u64][zstd of the
//! columns]`. A frame holds its rows column by column, in the `table!` list's order:
//! each value little-endian, text as a length and its UTF-8 bytes. Frames are compressed
//! with zstd at level 1; column by column, a village's ids, dates, villages and
//! collectors sit next to each other, and a frame packs to about a tenth of its raw size. Exact: every value comes back as it went out, so a bucket
//! loaded from its file is the rows the reader accepted, in read order.

use std::io::{Read, Write};

use chrono::{NaiveDate, NaiveDateTime};
use qianbiao_core::codes::CodeText;
use qianbiao_core::{Category, Fen, HukouStatus, PayerType, PaymentStatus, Scheme};

use crate::tables::{LinkableDeath, Prov, Text};

/// A value written to and read back from a bucket file.
pub trait Spill: Sized {
    /// Appends the value's bytes.
    fn put(&self, out: &mut Vec<u8>);
    /// Reads a value, advancing `inp`; None when the bytes are short or malformed.
    fn take(inp: &mut &[u8]) -> Option<Self>;
}

fn take_bytes<'a>(inp: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if inp.len() < n {
        return None;
    }
    let (a, b) = inp.split_at(n);
    *inp = b;
    Some(a)
}

macro_rules! spill_int {
    ($($t:ty),*) => {$(
        impl Spill for $t {
            fn put(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn take(inp: &mut &[u8]) -> Option<Self> {
                let b = take_bytes(inp, std::mem::size_of::<$t>())?;
                Some(<$t>::from_le_bytes(b.try_into().ok()?))
            }
        }
    )*};
}
spill_int!(u8, u32, i32, i64, u64);

impl Spill for bool {
    fn put(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
    fn take(inp: &mut &[u8]) -> Option<Self> {
        Some(u8::take(inp)? != 0)
    }
}

impl Spill for Text {
    fn put(&self, out: &mut Vec<u8>) {
        (self.len() as u32).put(out);
        out.extend_from_slice(self.as_bytes());
    }
    fn take(inp: &mut &[u8]) -> Option<Self> {
        let n = u32::take(inp)? as usize;
        Some(Text::from(std::str::from_utf8(take_bytes(inp, n)?).ok()?))
    }
}

impl<T: Spill> Spill for Option<T> {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                v.put(out);
            }
        }
    }
    fn take(inp: &mut &[u8]) -> Option<Self> {
        match u8::take(inp)? {
            0 => Some(None),
            1 => Some(Some(T::take(inp)?)),
            _ => None,
        }
    }
}

impl Spill for Fen {
    fn put(&self, out: &mut Vec<u8>) {
        self.0.put(out);
    }
    fn take(inp: &mut &[u8]) -> Option<Self> {
        Some(Fen(i64::take(inp)?))
    }
}

impl Spill for NaiveDate {
    fn put(&self, out: &mut Vec<u8>) {
        use chrono::Datelike;
        self.num_days_from_ce().put(out);
    }
    fn take(inp: &mut &[u8]) -> Option<Self> {
        NaiveDate::from_num_days_from_ce_opt(i32::take(inp)?)
    }
}

impl Spill for NaiveDateTime {
    fn put(&self, out: &mut Vec<u8>) {
        use chrono::Timelike;
        self.date().put(out);
        self.num_seconds_from_midnight().put(out);
        self.nanosecond().put(out);
    }
    fn take(inp: &mut &[u8]) -> Option<Self> {
        let d = NaiveDate::take(inp)?;
        let (s, n) = (u32::take(inp)?, u32::take(inp)?);
        let t = chrono::NaiveTime::from_num_seconds_from_midnight_opt(s, n)?;
        Some(NaiveDateTime::new(d, t))
    }
}

impl Spill for Prov {
    fn put(&self, out: &mut Vec<u8>) {
        self.file.put(out);
        self.line.put(out);
    }
    fn take(inp: &mut &[u8]) -> Option<Self> {
        Some(Prov {
            file: u32::take(inp)?,
            line: u32::take(inp)?,
        })
    }
}

impl Spill for CodeText {
    fn put(&self, out: &mut Vec<u8>) {
        Text::from(self.as_str()).put(out);
    }
    fn take(inp: &mut &[u8]) -> Option<Self> {
        Some(CodeText::new(&Text::take(inp)?))
    }
}

/// Codes as a tag byte: the listed variants by position, `Other` (when the code has it)
/// as 255 and its text.
macro_rules! spill_code {
    ($t:ident { $($v:ident),* } $(, $other:ident)?) => {
        impl Spill for $t {
            fn put(&self, out: &mut Vec<u8>) {
                let all = [$($t::$v),*];
                match all.iter().position(|v| v == self) {
                    Some(k) => out.push(k as u8),
                    None => {
                        out.push(255);
                        $( if let $t::$other(s) = self { Spill::put(s, out); } )?
                    }
                }
            }
            fn take(inp: &mut &[u8]) -> Option<Self> {
                let all = [$($t::$v),*];
                match u8::take(inp)? {
                    255 => {
                        $( return Some($t::$other(<CodeText as Spill>::take(inp)?)); )?
                        #[allow(unreachable_code)]
                        None
                    }
                    k => all.get(k as usize).copied(),
                }
            }
        }
    };
}
spill_code!(Scheme {
    ResidentPension,
    ResidentMedical,
    EmployeePension,
    EmployeeMedical
});
spill_code!(Category {
    Dibao,
    Tekun,
    Wubao,
    Youfu,
    Tuopin,
    Canji,
    Yinbing
});
spill_code!(
    PayerType {
        Individual,
        Government,
        BackPayment
    },
    Other
);
spill_code!(
    PaymentStatus {
        Success,
        Refunded,
        Voided,
        Cancelled
    },
    Other
);
spill_code!(
    HukouStatus {
        Normal,
        Dead,
        MovedOut,
        Cancelled
    },
    Other
);

impl Spill for LinkableDeath {
    fn put(&self, out: &mut Vec<u8>) {
        self.id.put(out);
        self.id_lost.put(out);
        self.name.put(out);
        self.death_date.put(out);
        self.prov.put(out);
    }
    fn take(inp: &mut &[u8]) -> Option<Self> {
        Some(LinkableDeath {
            id: Text::take(inp)?,
            id_lost: bool::take(inp)?,
            name: Text::take(inp)?,
            death_date: NaiveDate::take(inp)?,
            prov: Prov::take(inp)?,
        })
    }
}

/// Rows written and read column by column (every table's owned row; `table!` writes it).
pub trait Columns: Sized {
    /// Appends the rows' columns, one after the other.
    fn put_columns(rows: &[Self], out: &mut Vec<u8>);
    /// Reads `n` rows' columns back; None when the bytes are short or malformed.
    fn take_columns(n: usize, inp: &mut &[u8]) -> Option<Vec<Self>>;
}

/// A frame of `rows` rows from their encoded bytes: header and compressed body.
pub fn frame(rows: u32, raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let packed = zstd::bulk::compress(raw, 1)?;
    let mut out = Vec::with_capacity(20 + packed.len());
    out.extend_from_slice(&rows.to_le_bytes());
    out.extend_from_slice(&(raw.len() as u64).to_le_bytes());
    out.extend_from_slice(&(packed.len() as u64).to_le_bytes());
    out.extend_from_slice(&packed);
    Ok(out)
}

/// Writes rows as one frame.
pub fn write_frame<T: Columns>(rows: &[T], w: &mut impl Write) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(rows.len() * 64);
    T::put_columns(rows, &mut buf);
    w.write_all(&frame(rows.len() as u32, &buf)?)
}

/// Reads the next frame into `rows`; false at the end of the file. A frame that does not
/// decode is an error (the file was changed or cut under the run).
pub fn read_frame<T: Columns>(r: &mut impl Read, rows: &mut Vec<T>) -> std::io::Result<bool> {
    let mut head = [0u8; 20];
    match r.read_exact(&mut head[..4]) {
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
        other => other?,
    }
    r.read_exact(&mut head[4..])?;
    let n = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
    let raw = u64::from_le_bytes(head[4..12].try_into().expect("8 bytes")) as usize;
    let len = u64::from_le_bytes(head[12..].try_into().expect("8 bytes")) as usize;
    let mut packed = vec![0u8; len];
    r.read_exact(&mut packed)?;
    let buf = zstd::bulk::decompress(&packed, raw)?;
    if buf.len() != raw {
        return Err(std::io::Error::other(
            "bucket file: a frame is shorter than it says",
        ));
    }
    let mut inp = &buf[..];
    *rows = T::take_columns(n, &mut inp)
        .ok_or_else(|| std::io::Error::other("bucket file: a row does not decode"))?;
    if !inp.is_empty() {
        return Err(std::io::Error::other(
            "bucket file: bytes left after a frame",
        ));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round<T: Spill + PartialEq + std::fmt::Debug + Clone>(v: T) {
        let mut b = Vec::new();
        v.put(&mut b);
        let mut inp = &b[..];
        assert_eq!(T::take(&mut inp), Some(v));
        assert!(inp.is_empty());
    }

    #[test]
    fn every_kind_of_value_comes_back_as_it_went_out() {
        round(Text::from("张三·٣"));
        round(Text::from(""));
        round(Some(Fen(-12_345)));
        round(None::<Fen>);
        round(NaiveDate::from_ymd_opt(1900, 1, 1).unwrap());
        round(
            NaiveDate::from_ymd_opt(2021, 12, 20)
                .unwrap()
                .and_hms_nano_opt(23, 59, 59, 123_456_789)
                .unwrap(),
        );
        round(PayerType::Other(CodeText::new("村集体")));
        round(PayerType::BackPayment);
        round(PaymentStatus::Other(CodeText::new("待定")));
        round(HukouStatus::MovedOut);
        round(HukouStatus::Other(CodeText::new("x")));
        round(Scheme::EmployeeMedical);
        round(Category::Yinbing);
        round(Prov {
            file: 7,
            line: u32::MAX,
        });
        round(Some(3u8));
    }

    impl Columns for Text {
        fn put_columns(rows: &[Self], out: &mut Vec<u8>) {
            rows.iter().for_each(|r| r.put(out));
        }
        fn take_columns(n: usize, inp: &mut &[u8]) -> Option<Vec<Self>> {
            (0..n).map(|_| Text::take(inp)).collect()
        }
    }

    #[test]
    fn a_table_row_comes_back_from_its_columns() {
        use crate::tables::{PaymentRow, Prov};
        let row = |i: u32, name: &str| PaymentRow {
            id: Text::from(format!("37132319800101{i:04}")),
            channel: Text::from("微信"),
            collector_id: Text::default(),
            village: Text::from("店子村"),
            deposit_id: Text::default(),
            txn_id: Text::from(format!("T{i}")),
            name: Text::from(name),
            receipt_no: Text::default(),
            payer_account: Text::from("wx1"),
            id_valid: i.is_multiple_of(2),
            id_lost: false,
            scheme: Scheme::ResidentMedical,
            period: 2022,
            amount: Fen(32_000),
            paid_at: NaiveDate::from_ymd_opt(2021, 11, 5)
                .unwrap()
                .and_hms_opt(9, 30, i)
                .unwrap(),
            payer_type: PayerType::Other(CodeText::new("村集体")),
            status: PaymentStatus::Refunded,
            prov: Prov {
                file: 2,
                line: i + 2,
            },
        };
        let rows = vec![row(1, "张三"), row(2, ""), row(3, "李四")];
        let mut file = Vec::new();
        write_frame(&rows, &mut file).unwrap();
        write_frame(&rows[..1], &mut file).unwrap();
        let mut r = &file[..];
        let mut back: Vec<PaymentRow> = Vec::new();
        assert!(read_frame(&mut r, &mut back).unwrap());
        assert_eq!(back, rows);
        assert!(read_frame(&mut r, &mut back).unwrap());
        assert_eq!(back, rows[..1]);
        assert!(!read_frame(&mut r, &mut back).unwrap());
    }

    #[test]
    fn a_cut_frame_is_an_error_not_fewer_rows() {
        let rows = vec![Text::from("a"), Text::from("bb")];
        let mut file = Vec::new();
        write_frame(&rows, &mut file).unwrap();
        let mut back: Vec<Text> = Vec::new();
        assert!(read_frame(&mut &file[..], &mut back).unwrap());
        assert_eq!(back, rows);
        let cut = &file[..file.len() - 1];
        assert!(read_frame(&mut &cut[..], &mut back).is_err());
        assert!(!read_frame(&mut &file[..0], &mut back).unwrap());
    }
}
