//! The typed tables as Arrow columns (polars `DataFrame`s), and back.
//!
//! Every table of [`crate::tables`] exports to a `DataFrame` column by column, without
//! going through rows ([`ArrowTable::to_frame`]), and fills from one
//! ([`ArrowTable::push_frame`]): the partitioned run spills its buckets as Parquet files of
//! these frames, and a distributed engine reads the same files. The reader's owned rows
//! have the same form ([`ArrowRows`]), so that the split writes what a reader accepted.
//!
//! The columns, by the kind of a table column:
//!
//! | kind | Arrow type |
//! | --- | --- |
//! | ids, interned text, arena text | `Utf8View` (polars `String`), never null |
//! | money ([`Fen`]) | `Int64` fen |
//! | date | `Date32` (days since 1970-01-01) |
//! | datetime | `Timestamp(ns)`, no zone |
//! | codes | `Utf8View`: the canonical name, or the text as given for a code outside the glossary |
//! | provenance | `prov_file` and `prov_line`, both `UInt32` |
//! | flags, numbers | `Boolean`, `UInt32` (also for a `u8`), `Int32` |
//!
//! An optional value is a nullable column; every other column refuses nulls. Exact:
//! every value comes back as it went out.

use chrono::NaiveDate;
use polars::prelude::*;
use qianbiao_core::date::EPOCH_DAYS_FROM_CE;
use qianbiao_core::{Category, Fen, HukouStatus, PayerType, PaymentStatus, Scheme, Stamp};

use crate::tables::{Prov, Strings};

/// A value type of a table column, stored as one or more Arrow columns.
pub trait ArrowValue: Sized + Copy {
    /// Appends the columns of `vals` named after `name`.
    fn put(name: &str, vals: &[Self], out: &mut Vec<Column>) -> PolarsResult<()>;
    /// Reads the values of the columns named after `name`.
    fn take(name: &str, df: &DataFrame) -> PolarsResult<Vec<Self>>;
}

fn no_nulls(c: &Column) -> PolarsResult<()> {
    polars_ensure!(
        c.null_count() == 0,
        ComputeError: "column {} holds {} empty values where none may be", c.name(), c.null_count()
    );
    Ok(())
}

fn typed<'a>(df: &'a DataFrame, name: &str, want: &DataType) -> PolarsResult<&'a Column> {
    let c = df.column(name)?;
    polars_ensure!(
        c.dtype() == want,
        SchemaMismatch: "column {} is {}, not {}", name, c.dtype(), want
    );
    Ok(c)
}

macro_rules! arrow_int {
    ($($t:ty => $ca:ty, $dt:expr, $get:ident;)*) => {$(
        impl ArrowValue for $t {
            fn put(name: &str, vals: &[Self], out: &mut Vec<Column>) -> PolarsResult<()> {
                out.push(<$ca>::from_slice(name.into(), vals).into_column());
                Ok(())
            }
            fn take(name: &str, df: &DataFrame) -> PolarsResult<Vec<Self>> {
                let c = typed(df, name, &$dt)?;
                no_nulls(c)?;
                Ok(c.$get()?.into_no_null_iter().collect())
            }
        }
        impl ArrowValue for Option<$t> {
            fn put(name: &str, vals: &[Self], out: &mut Vec<Column>) -> PolarsResult<()> {
                out.push(<$ca>::from_iter_options(name.into(), vals.iter().copied()).into_column());
                Ok(())
            }
            fn take(name: &str, df: &DataFrame) -> PolarsResult<Vec<Self>> {
                Ok(typed(df, name, &$dt)?.$get()?.iter().collect())
            }
        }
    )*};
}
arrow_int! {
    u32 => UInt32Chunked, DataType::UInt32, u32;
    i32 => Int32Chunked, DataType::Int32, i32;
}

/// A small number as `UInt32` (polars stores `UInt8` only with a feature this build
/// leaves out); values above 255 are refused when read.
impl ArrowValue for Option<u8> {
    fn put(name: &str, vals: &[Self], out: &mut Vec<Column>) -> PolarsResult<()> {
        let wide: Vec<Option<u32>> = vals.iter().map(|v| v.map(u32::from)).collect();
        <Option<u32> as ArrowValue>::put(name, &wide, out)
    }
    fn take(name: &str, df: &DataFrame) -> PolarsResult<Vec<Self>> {
        <Option<u32> as ArrowValue>::take(name, df)?
            .into_iter()
            .map(|v| {
                v.map(|v| {
                    u8::try_from(v).map_err(
                        |_| polars_err!(ComputeError: "column {}: {} is above 255", name, v),
                    )
                })
                .transpose()
            })
            .collect()
    }
}

impl ArrowValue for bool {
    fn put(name: &str, vals: &[Self], out: &mut Vec<Column>) -> PolarsResult<()> {
        out.push(BooleanChunked::from_slice(name.into(), vals).into_column());
        Ok(())
    }
    fn take(name: &str, df: &DataFrame) -> PolarsResult<Vec<Self>> {
        let c = typed(df, name, &DataType::Boolean)?;
        no_nulls(c)?;
        Ok(c.bool()?.iter().map(|v| v.unwrap_or_default()).collect())
    }
}

impl ArrowValue for Fen {
    fn put(name: &str, vals: &[Self], out: &mut Vec<Column>) -> PolarsResult<()> {
        let fen: Vec<i64> = vals.iter().map(|f| f.0).collect();
        out.push(Int64Chunked::from_vec(name.into(), fen).into_column());
        Ok(())
    }
    fn take(name: &str, df: &DataFrame) -> PolarsResult<Vec<Self>> {
        let c = typed(df, name, &DataType::Int64)?;
        no_nulls(c)?;
        Ok(c.i64()?.into_no_null_iter().map(Fen).collect())
    }
}

impl ArrowValue for Option<Fen> {
    fn put(name: &str, vals: &[Self], out: &mut Vec<Column>) -> PolarsResult<()> {
        let fen = vals.iter().map(|f| f.map(|f| f.0));
        out.push(Int64Chunked::from_iter_options(name.into(), fen).into_column());
        Ok(())
    }
    fn take(name: &str, df: &DataFrame) -> PolarsResult<Vec<Self>> {
        Ok(typed(df, name, &DataType::Int64)?
            .i64()?
            .iter()
            .map(|v| v.map(Fen))
            .collect())
    }
}

fn days(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce() - EPOCH_DAYS_FROM_CE
}

fn date_of(name: &str, days: i32) -> PolarsResult<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.saturating_add(EPOCH_DAYS_FROM_CE))
        .ok_or_else(|| polars_err!(ComputeError: "column {}: day {} is no date", name, days))
}

fn date_values(name: &str, df: &DataFrame) -> PolarsResult<Vec<Option<i32>>> {
    let c = typed(df, name, &DataType::Date)?.to_physical_repr();
    Ok(c.i32()?.iter().collect())
}

/// A `Date32` column of days since 1970-01-01.
fn date_column(name: &str, days: impl Iterator<Item = Option<i32>>) -> PolarsResult<Column> {
    Int32Chunked::from_iter_options(name.into(), days)
        .into_column()
        .cast(&DataType::Date)
}

impl ArrowValue for NaiveDate {
    fn put(name: &str, vals: &[Self], out: &mut Vec<Column>) -> PolarsResult<()> {
        out.push(date_column(name, vals.iter().map(|&d| Some(days(d))))?);
        Ok(())
    }
    fn take(name: &str, df: &DataFrame) -> PolarsResult<Vec<Self>> {
        date_values(name, df)?
            .into_iter()
            .map(|d| {
                let d = d.ok_or_else(
                    || polars_err!(ComputeError: "column {} holds an empty date", name),
                )?;
                date_of(name, d)
            })
            .collect()
    }
}

impl ArrowValue for Option<NaiveDate> {
    fn put(name: &str, vals: &[Self], out: &mut Vec<Column>) -> PolarsResult<()> {
        out.push(date_column(name, vals.iter().map(|d| d.map(days)))?);
        Ok(())
    }
    fn take(name: &str, df: &DataFrame) -> PolarsResult<Vec<Self>> {
        date_values(name, df)?
            .into_iter()
            .map(|d| d.map(|d| date_of(name, d)).transpose())
            .collect()
    }
}

const TIMESTAMP: DataType = DataType::Datetime(TimeUnit::Nanoseconds, None);

impl ArrowValue for Stamp {
    fn put(name: &str, vals: &[Self], out: &mut Vec<Column>) -> PolarsResult<()> {
        let ns = vals
            .iter()
            .map(|t| {
                t.secs().checked_mul(1_000_000_000).ok_or_else(
                    || polars_err!(ComputeError: "column {}: {} is outside a nanosecond timestamp's range", name, t),
                )
            })
            .collect::<PolarsResult<Vec<i64>>>()?;
        out.push(
            Int64Chunked::from_vec(name.into(), ns)
                .into_column()
                .cast(&TIMESTAMP)?,
        );
        Ok(())
    }
    fn take(name: &str, df: &DataFrame) -> PolarsResult<Vec<Self>> {
        let c = typed(df, name, &TIMESTAMP)?;
        no_nulls(c)?;
        let c = c.to_physical_repr();
        c.i64()?
            .into_no_null_iter()
            .map(|ns| {
                Stamp::from_secs(ns.div_euclid(1_000_000_000)).ok_or_else(
                    || polars_err!(ComputeError: "column {}: {} ns is not a date-time", name, ns),
                )
            })
            .collect()
    }
}

impl ArrowValue for Prov {
    fn put(name: &str, vals: &[Self], out: &mut Vec<Column>) -> PolarsResult<()> {
        let file: Vec<u32> = vals.iter().map(|p| p.file).collect();
        let line: Vec<u32> = vals.iter().map(|p| p.line).collect();
        u32::put(&format!("{name}_file"), &file, out)?;
        u32::put(&format!("{name}_line"), &line, out)
    }
    fn take(name: &str, df: &DataFrame) -> PolarsResult<Vec<Self>> {
        let file = u32::take(&format!("{name}_file"), df)?;
        let line = u32::take(&format!("{name}_line"), df)?;
        Ok(file
            .into_iter()
            .zip(line)
            .map(|(file, line)| Prov { file, line })
            .collect())
    }
}

/// A code as text: its canonical name, or the text as given outside the glossary. Reading
/// parses the text again, which gives back the same code (a text outside the glossary is
/// kept normalised, so it parses to itself).
macro_rules! arrow_code {
    ($($t:ty: |$c:ident| $text:expr, |$s:ident| $parse:expr;)*) => {$(
        impl ArrowValue for $t {
            fn put(name: &str, vals: &[Self], out: &mut Vec<Column>) -> PolarsResult<()> {
                let text = vals.iter().map(|$c| $text);
                out.push(StringChunked::from_iter_values(name.into(), text).into_column());
                Ok(())
            }
            fn take(name: &str, df: &DataFrame) -> PolarsResult<Vec<Self>> {
                let c = typed(df, name, &DataType::String)?;
                no_nulls(c)?;
                c.str()?
                    .iter()
                    .map(|s| s.unwrap_or_default())
                    .map(|$s| {
                        $parse.ok_or_else(
                            || polars_err!(ComputeError: "column {}: {:?} is not a code", name, $s),
                        )
                    })
                    .collect()
            }
        }
    )*};
}
arrow_code! {
    Scheme: |c| c.as_str(), |s| Scheme::parse(s);
    Category: |c| c.as_str(), |s| Category::parse(s);
    PayerType: |c| c.as_str(), |s| Some(PayerType::parse(s));
    PaymentStatus: |c| c.zh(), |s| Some(PaymentStatus::parse(s));
    HukouStatus: |c| c.zh(), |s| Some(HukouStatus::parse(s));
}

/// A text column from its values.
pub fn text_column<S: AsRef<str>>(name: &str, vals: impl Iterator<Item = S>) -> Column {
    StringChunked::from_iter_values(name.into(), vals).into_column()
}

/// The values of a text column, which may hold no null.
pub fn text_values<'a>(name: &str, df: &'a DataFrame) -> PolarsResult<&'a StringChunked> {
    let c = typed(df, name, &DataType::String)?;
    no_nulls(c)?;
    c.str()
}

/// A table exported to and filled from Arrow columns, without rows.
pub trait ArrowTable {
    /// The table's columns, in its declaration's order, text resolved through `strings`.
    fn to_frame(&self, strings: &Strings) -> PolarsResult<DataFrame>;
    /// Appends the rows of a frame of this table's columns (as [`ArrowTable::to_frame`]
    /// or [`ArrowRows::to_frame`] write them), interning their text. On an error nothing
    /// is appended.
    fn push_frame(&mut self, df: &DataFrame, strings: &mut Strings) -> PolarsResult<()>;
}

/// Owned rows (as a reader accepts them) as a frame of their table's columns.
pub trait ArrowRows: Sized {
    /// The rows' columns.
    fn to_frame(rows: &[Self]) -> PolarsResult<DataFrame>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::{
        DepositRow, Deposits, Eligibility, EligibilityRow, PaymentRow, Payments, Rows, Table, Text,
    };
    use crate::{load, LoadOptions};
    use qianbiao_core::codes::CodeText;

    fn parquet_round(df: &mut DataFrame) -> DataFrame {
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes).finish(df).unwrap();
        ParquetReader::new(std::io::Cursor::new(bytes))
            .finish()
            .unwrap()
    }

    /// Every row of `a` and `b` as owned rows.
    fn same<T: Table>(a: &T, sa: &Strings, b: &T, sb: &Strings) -> bool
    where
        for<'a> T::View<'a>: RowOf,
        for<'a> <T::View<'a> as RowOf>::Row: PartialEq,
    {
        let (ra, rb) = (Rows::new(a, sa), Rows::new(b, sb));
        ra.len() == rb.len() && ra.iter().zip(rb.iter()).all(|(x, y)| x.row() == y.row())
    }

    trait RowOf {
        type Row;
        fn row(&self) -> Self::Row;
    }
    macro_rules! row_of {
        ($($v:ident => $r:ident),*) => {$(
            impl RowOf for crate::tables::$v<'_> {
                type Row = crate::tables::$r;
                fn row(&self) -> Self::Row {
                    self.to_row()
                }
            }
        )*};
    }
    row_of!(
        HukouView => HukouRow, DeathView => DeathRow, EligibilityView => EligibilityRow,
        RegistrationView => RegistrationRow, Payment => PaymentRow, ReceiptView => ReceiptRow,
        DepositView => DepositRow, RosterView => RosterRow
    );

    /// A table through Arrow and Parquet and back into a fresh table and interners.
    fn through_parquet<T: Table + ArrowTable>(t: &T, s: &Strings) -> (T, Strings) {
        let mut df = t.to_frame(s).unwrap();
        let back = parquet_round(&mut df);
        let (mut out, mut strings) = (T::default(), Strings::default());
        out.push_frame(&back, &mut strings).unwrap();
        (out, strings)
    }

    #[test]
    fn every_table_of_the_sample_town_comes_back_from_parquet() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample-data/dianzi-2022");
        let ds = load(
            &dir,
            &LoadOptions {
                year: 2022,
                progress: None,
                columns: None,
            },
        )
        .unwrap();
        let s = &ds.strings;
        macro_rules! check {
            ($($f:ident),*) => {$(
                assert!(ds.$f.len() > 0, "the sample town has {}", stringify!($f));
                let (back, bs) = through_parquet(&ds.$f, s);
                assert!(same(&ds.$f, s, &back, &bs), "{} changed on the way", stringify!($f));
            )*};
        }
        check!(
            hukou,
            deaths,
            eligibility,
            registrations,
            payments,
            receipts,
            deposits,
            roster
        );
    }

    fn payment(i: u32) -> PaymentRow {
        PaymentRow {
            id: Text::from(format!("37132319800101{i:04}")),
            channel: Text::from("微信"),
            collector_id: Text::default(),
            village: Text::from("店子村"),
            deposit_id: Text::default(),
            txn_id: Text::from(format!("T{i}")),
            name: Text::from(if i == 2 { "" } else { "张三·٣" }),
            receipt_no: Text::default(),
            payer_account: Text::from("wx1"),
            id_valid: i.is_multiple_of(2),
            id_lost: i == 3,
            scheme: [Scheme::ResidentMedical, Scheme::EmployeePension][i as usize % 2],
            period: 2022,
            amount: Fen(-12_345 + i as i64),
            paid_at: NaiveDate::from_ymd_opt(1900 + i as i32, 11, 5)
                .unwrap()
                .and_hms_opt(23, 59, 50 + i)
                .unwrap()
                .into(),
            payer_type: [
                PayerType::Other(CodeText::new("村集体")),
                PayerType::BackPayment,
                PayerType::Government,
                PayerType::Individual,
            ][i as usize % 4],
            status: [
                PaymentStatus::Refunded,
                PaymentStatus::Other(CodeText::new("待定")),
                PaymentStatus::Success,
                PaymentStatus::Voided,
                PaymentStatus::Cancelled,
            ][i as usize % 5],
            prov: Prov {
                file: i,
                line: u32::MAX - i,
            },
        }
    }

    #[test]
    fn owned_rows_and_their_table_give_the_same_frame_and_come_back() {
        let rows: Vec<PaymentRow> = (0..10).map(payment).collect();
        let mut df = PaymentRow::to_frame(&rows).unwrap();
        let (mut t, mut s) = (Payments::default(), Strings::default());
        t.push_rows(&rows, &mut s);
        assert!(t.to_frame(&s).unwrap().equals_missing(&df));
        let back = parquet_round(&mut df);
        let (mut u, mut us) = (Payments::default(), Strings::default());
        u.push_frame(&back, &mut us).unwrap();
        let again: Vec<PaymentRow> = Rows::new(&u, &us).iter().map(|p| p.to_row()).collect();
        assert_eq!(again, rows);
        let names: Vec<&str> = df.get_column_names().iter().map(|n| n.as_str()).collect();
        assert_eq!(names.last(), Some(&"prov_line"));
        assert_eq!(df.column("paid_at").unwrap().dtype(), &TIMESTAMP);
        assert_eq!(df.column("amount").unwrap().dtype(), &DataType::Int64);
    }

    #[test]
    fn optional_values_are_nulls_and_codes_their_names() {
        let day = NaiveDate::from_ymd_opt(2021, 3, 4).unwrap();
        let rows = vec![
            DepositRow {
                deposit_id: Text::from("D1"),
                collector_id: Text::from("C1"),
                village: Text::from("店子村"),
                amount: Fen(100),
                deposited_at: day.and_hms_opt(8, 0, 0).unwrap().into(),
                person_count: None,
                prov: Prov { file: 0, line: 2 },
            },
            DepositRow {
                person_count: Some(7),
                ..DepositRow::clone(&DepositRow {
                    deposit_id: Text::from("D2"),
                    collector_id: Text::default(),
                    village: Text::default(),
                    amount: Fen(0),
                    deposited_at: day.and_hms_opt(0, 0, 0).unwrap().into(),
                    person_count: None,
                    prov: Prov { file: 1, line: 3 },
                })
            },
        ];
        let df = DepositRow::to_frame(&rows).unwrap();
        assert_eq!(df.column("person_count").unwrap().null_count(), 1);
        let (mut t, mut s) = (Deposits::default(), Strings::default());
        t.push_frame(&df, &mut s).unwrap();
        let back: Vec<DepositRow> = Rows::new(&t, &s).iter().map(|d| d.to_row()).collect();
        assert_eq!(back, rows);

        let e = EligibilityRow {
            id: Text::from("371323198001010011"),
            source_dept: Text::from("民政"),
            name: Text::from("李四"),
            category: qianbiao_core::Category::Canji,
            disability_level: Some(2),
            valid_from: day,
            valid_to: None,
            prov: Prov { file: 0, line: 9 },
        };
        let df = EligibilityRow::to_frame(std::slice::from_ref(&e)).unwrap();
        let cat = df
            .column("category")
            .unwrap()
            .str()
            .unwrap()
            .get(0)
            .unwrap()
            .to_string();
        assert_eq!(Category::parse(&cat), Some(Category::Canji));
        assert_eq!(df.column("valid_to").unwrap().null_count(), 1);
        assert_eq!(df.column("valid_from").unwrap().dtype(), &DataType::Date);
        let (mut t, mut s) = (Eligibility::default(), Strings::default());
        t.push_frame(&df, &mut s).unwrap();
        assert_eq!(Rows::new(&t, &s).get(0).to_row(), e);
    }

    #[test]
    fn a_frame_that_is_not_the_tables_is_refused() {
        let rows: Vec<PaymentRow> = (0..3).map(payment).collect();
        let df = PaymentRow::to_frame(&rows).unwrap();
        let fill = |df: &DataFrame| {
            let (mut t, mut s) = (Payments::default(), Strings::default());
            t.push_frame(df, &mut s).map_err(|e| e.to_string())
        };
        // A missing column.
        let cut = df.drop("txn_id").unwrap();
        assert!(fill(&cut).unwrap_err().contains("txn_id"));
        // A required value that is empty.
        let mut holed = df.clone();
        holed
            .with_column(
                Int64Chunked::from_iter_options(
                    "amount".into(),
                    [Some(1), None, Some(3)].into_iter(),
                )
                .into_column(),
            )
            .unwrap();
        assert!(fill(&holed).unwrap_err().contains("amount"));
        // A column of the wrong type.
        let mut wrong = df.clone();
        wrong
            .with_column(
                StringChunked::from_iter_values(
                    "period".into(),
                    ["2022", "2022", "2022"].into_iter(),
                )
                .into_column(),
            )
            .unwrap();
        assert!(fill(&wrong).unwrap_err().contains("period"));
        // A code that is no code.
        let mut bad = df.clone();
        bad.with_column(
            StringChunked::from_iter_values("scheme".into(), ["x", "y", "z"].into_iter())
                .into_column(),
        )
        .unwrap();
        assert!(fill(&bad).unwrap_err().contains("scheme"));
        assert!(fill(&df).is_ok());
    }
}
