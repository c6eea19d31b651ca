//! The sources as typed columns.
//!
//! Each source is a table of columns (`Vec` of one type per column): repeated text as
//! [`Sym`]s into the run's interners ([`Strings`]: ids in one, other text in the other),
//! seldom-repeated text (txn ids, names, receipt numbers, accounts) in a per-column
//! arena ([`StrCol`]), money as [`Fen`], dates as `NaiveDate`, date-times as [`Stamp`]s
//! (seconds in an `i64`), codes as small `Copy` enums, provenance as a [`ProvCol`] of
//! [`Prov`]s. A table is read through [`Rows`], whose `get(i)` is a `Copy` view of row `i`
//! whose accessors read one column each (`p.amount()`, `p.village()`). The parse stage
//! (every core) reads a piece of rows a column at a time into columns ([`HasCols::Cols`],
//! text borrowed from the file's cells) and puts the accepted rows straight into a batch
//! of columns ([`Table::Batch`]: arenas, values, and interned columns as handles into a
//! batch's own small interner); the storing stage appends a chunk's batches to the table
//! a column at a time ([`Table::push_batches`]), so no owned row crosses from one stage
//! to the next and a source never exists as a `Vec` of owned rows. A streaming load
//! hands owned rows on instead ([`Table::push_rows`] stores those, e.g. a partition's
//! probes).
//!
//! Every table is declared once with `table!`: the owned row, the columns, the view,
//! push, reserve, retain, comparison and the conversion back to an owned row all come
//! from that one list.

use chrono::NaiveDate;
use compact_str::CompactString;
pub use qianbiao_core::StrCol;
use qianbiao_core::{
    Category, Fen, HukouStatus, Interner, PayerType, PaymentStatus, Scheme, Stamp, Sym,
};

/// Short text stored inline (ids, names, codes fit in 24 bytes without a heap allocation).
pub type Text = CompactString;

/// Where a row came from: an index into [`crate::Dataset::files`] and the line
/// (header is line 1, first data row line 2).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Prov {
    /// Index of the file in the dataset's file table.
    pub file: u32,
    /// Line of the row in that file.
    pub line: u32,
}

/// A table of typed columns: the owned row it is built from and the view it is read as.
pub trait Table: Default + Send + Sync {
    /// The owned row a reader produces.
    type Row: HasCols;
    /// A row read through its columns (each accessor reads one column).
    type View<'a>: Copy + Send + Sync
    where
        Self: 'a;
    /// Number of rows.
    fn len(&self) -> usize;
    /// True when there is no row.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A piece of a chunk's rows as columns, gathered where the rows are parsed.
    type Batch: Gather<Self::Row>;
    /// Appends owned rows (a streaming load's), as one batch: the id column interned into
    /// `strings.ids`, the other interned columns into `strings.text`.
    fn push_rows(&mut self, rows: &[Self::Row], strings: &mut Strings);
    /// Appends the rows of a chunk's batches, in order: the arena and value columns are
    /// copied a block at a time, and an interned column's text is interned once per
    /// distinct text of a batch, column by column in order first seen (the symbols of
    /// interning every row in order).
    fn push_batches(&mut self, batches: &[Self::Batch], strings: &mut Strings);
    /// Row `i`.
    fn view<'a>(&'a self, i: usize, strings: &'a Strings) -> Self::View<'a>;
    /// Keeps the rows whose flag is true, in order.
    fn retain(&mut self, keep: &[bool]);
    /// Makes room for `n` more rows, so that a large file is not stored by doubling and
    /// copying every column.
    fn reserve(&mut self, n: usize);
}

/// An owned row whose rows are also parsed a piece at a time as columns ([`HasCols::Cols`]:
/// a piece's accepted rows, their text borrowed from the file's cells where it can be).
pub trait HasCols: Sized {
    /// The columns of a parsed piece.
    type Cols<'a>;
    /// Appends a parsed piece's rows as owned rows.
    fn put_rows(cols: Self::Cols<'_>, out: &mut Vec<Self>);
}

/// Gathers parsed rows: as a `Vec` of owned rows (a streaming load hands those on), or
/// as a table's [`Table::Batch`] of columns.
pub trait Gather<T: HasCols>: Send {
    /// Empty, with room for `n` rows.
    fn with_capacity(n: usize) -> Self;
    /// Appends a parsed piece's rows, column by column.
    fn put_cols(&mut self, cols: T::Cols<'_>);
}

impl<T: Send + HasCols> Gather<T> for Vec<T> {
    fn with_capacity(n: usize) -> Self {
        Vec::with_capacity(n)
    }
    fn put_cols(&mut self, cols: T::Cols<'_>) {
        T::put_rows(cols, self);
    }
}

/// An interned column of a batch: each row's handle in the batch's own interner, which
/// holds the column's distinct texts in the order first seen. Appending the batch interns
/// those texts into the run's interner in that order, which gives the handles interning
/// every row in order gives.
#[derive(Debug, Clone, Default)]
pub struct LocalSyms {
    dict: Interner,
    rows: Vec<Sym>,
}

impl LocalSyms {
    fn with_capacity(n: usize) -> Self {
        LocalSyms {
            dict: Interner::new(),
            rows: Vec::with_capacity(n),
        }
    }
    fn push(&mut self, s: &str) {
        // Exports list a village's or a collector's rows together: a text equal to the
        // row before's is that row's handle, without hashing it.
        let sym = match self.rows.last() {
            Some(&last) if self.dict.get(last) == s => last,
            _ => self.dict.intern(s),
        };
        self.rows.push(sym);
    }
    /// Appends the rows' handles in `run` to `out`.
    fn intern_into(&self, run: &mut Interner, out: &mut Vec<Sym>) {
        let global: Vec<Sym> = self.dict.iter().map(|s| run.intern(s)).collect();
        out.extend(self.rows.iter().map(|s| global[s.index()]));
    }
}

/// The interners of a run: id numbers in one, every other interned text in the other,
/// so that both fill at once.
#[derive(Debug, Clone, Default)]
pub struct Strings {
    /// Villages, offices, collectors, channels, deposit ids, codes as given.
    pub text: Interner,
    /// The id column of every source.
    pub ids: Interner,
}

/// A table read with the interners that resolve its text.
pub struct Rows<'a, T: Table> {
    table: &'a T,
    strings: &'a Strings,
}

impl<T: Table> Clone for Rows<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: Table> Copy for Rows<'_, T> {}

impl<'a, T: Table> Rows<'a, T> {
    /// A table and the interners of its run.
    pub fn new(table: &'a T, strings: &'a Strings) -> Self {
        Rows { table, strings }
    }
    /// Row `i`.
    pub fn get(self, i: usize) -> T::View<'a> {
        self.table.view(i, self.strings)
    }
    /// Number of rows.
    pub fn len(self) -> usize {
        self.table.len()
    }
    /// True when there is no row.
    pub fn is_empty(self) -> bool {
        self.table.is_empty()
    }
    /// Every row in order.
    pub fn iter(
        self,
    ) -> impl DoubleEndedIterator<Item = T::View<'a>> + ExactSizeIterator + Clone + 'a {
        (0..self.len()).map(move |i| self.get(i))
    }
}

/// Declares a source's owned row, its table of columns and its view.
macro_rules! table {
    (
        $(#[$doc:meta])*
        $Row:ident / $Table:ident / $View:ident / $Batch:ident / $Cols:ident {
            ids { $( $(#[$ddoc:meta])* $d:ident, )* }
            text { $( $(#[$tdoc:meta])* $t:ident, )* }
            arena { $( $(#[$adoc:meta])* $a:ident, )* }
            value { $( $(#[$vdoc:meta])* $v:ident : $vt:ty, )* }
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        pub struct $Row {
            $( $(#[$ddoc])* pub $d: Text, )*
            $( $(#[$tdoc])* pub $t: Text, )*
            $( $(#[$adoc])* pub $a: Text, )*
            $( $(#[$vdoc])* pub $v: $vt, )*
            /// Provenance.
            pub prov: Prov,
        }

        $(#[$doc])*
        ///
        /// Stored as columns; read through [`Rows`].
        #[derive(Debug, Clone, Default)]
        pub struct $Table {
            $( $(#[$ddoc])* pub $d: Vec<Sym>, )*
            $( $(#[$tdoc])* pub $t: Vec<Sym>, )*
            $( $(#[$adoc])* pub $a: StrCol, )*
            $( $(#[$vdoc])* pub $v: Vec<$vt>, )*
            /// Provenance.
            pub prov: ProvCol,
        }

        $(#[$doc])*
        ///
        /// A piece of a chunk's accepted rows as columns, built where the rows are parsed
        /// (on every core) so that storing them copies columns, not rows.
        #[derive(Debug, Clone)]
        pub struct $Batch {
            $( $d: StrCol, )*
            $( $t: LocalSyms, )*
            $( $a: StrCol, )*
            $( $v: Vec<$vt>, )*
            prov: Vec<Prov>,
        }

        $(#[$doc])*
        ///
        /// A parsed piece's accepted rows as columns ([`crate::parse::Piece`]): text
        /// borrowed from the file's cells where it is already normal.
        #[derive(Debug)]
        pub struct $Cols<'a> {
            $( $(#[$ddoc])* pub $d: Vec<Text>, )*
            $( $(#[$tdoc])* pub $t: Vec<std::borrow::Cow<'a, str>>, )*
            $( $(#[$adoc])* pub $a: Vec<std::borrow::Cow<'a, str>>, )*
            $( $(#[$vdoc])* pub $v: Vec<$vt>, )*
            /// Provenance.
            pub prov: Vec<Prov>,
        }

        impl HasCols for $Row {
            type Cols<'a> = $Cols<'a>;
            fn put_rows(cols: $Cols<'_>, out: &mut Vec<$Row>) {
                #[allow(unused_mut)]
                let $Cols { $( mut $d, )* $( $t, )* $( $a, )* $( $v, )* prov } = cols;
                out.reserve(prov.len());
                for (i, &prov) in prov.iter().enumerate() {
                    out.push($Row {
                        $( $d: std::mem::take(&mut $d[i]), )*
                        $( $t: Text::from($t[i].as_ref()), )*
                        $( $a: Text::from($a[i].as_ref()), )*
                        $( $v: $v[i], )*
                        prov,
                    });
                }
            }
        }

        impl Gather<$Row> for $Batch {
            fn with_capacity(n: usize) -> Self {
                #[allow(unused_mut)]
                let mut b = $Batch {
                    $( $d: StrCol::default(), )*
                    $( $t: LocalSyms::with_capacity(n), )*
                    $( $a: StrCol::default(), )*
                    $( $v: Vec::with_capacity(n), )*
                    prov: Vec::with_capacity(n),
                };
                $( b.$d.reserve(n); )*
                $( b.$a.reserve(n); )*
                b
            }
            fn put_cols(&mut self, c: $Cols<'_>) {
                $( for s in &c.$d { self.$d.push(s); } )*
                $( for s in &c.$t { self.$t.push(s); } )*
                $( for s in &c.$a { self.$a.push(s); } )*
                $( self.$v.extend_from_slice(&c.$v); )*
                self.prov.extend_from_slice(&c.prov);
            }
        }

        impl $Batch {
            /// Appends an owned row (a streaming load's, stored by `push_rows`).
            fn put(&mut self, r: &$Row) {
                $( self.$d.push(&r.$d); )*
                $( self.$t.push(&r.$t); )*
                $( self.$a.push(&r.$a); )*
                $( self.$v.push(r.$v); )*
                self.prov.push(r.prov);
            }
        }

        $(#[$doc])*
        ///
        /// One row of the columns: each accessor reads its own column only, so a rule
        /// touching three columns of a row reads three values, not the whole row.
        #[derive(Debug, Clone, Copy)]
        pub struct $View<'a> {
            table: &'a $Table,
            strings: &'a Strings,
            i: usize,
        }

        impl Table for $Table {
            type Row = $Row;
            type Batch = $Batch;
            type View<'a> = $View<'a>;
            fn len(&self) -> usize {
                self.prov.len()
            }
            fn push_rows(&mut self, rows: &[$Row], strings: &mut Strings) {
                // The rows as one batch: the columns and symbols of the parse stage's.
                let mut b = $Batch::with_capacity(rows.len());
                for r in rows {
                    b.put(r);
                }
                self.push_batches(std::slice::from_ref(&b), strings);
            }
            fn push_batches(&mut self, batches: &[$Batch], strings: &mut Strings) {
                let $Table { $( $d, )* $( $t, )* $( $a, )* $( $v, )* prov } = self;
                let Strings { text, ids } = strings;
                // Three column groups at once: ids, other interned text, and the arena
                // and value columns (no interner). Each interned column is interned
                // batch by batch in order, which gives the symbols of interning it row
                // by row.
                rayon::join(
                    || {
                        let _ = &ids;
                        $( ids.intern_all(batches.iter().flat_map(|b| b.$d.iter()), $d); )*
                    },
                    || {
                        rayon::join(
                            || {
                                let _ = &text;
                                $( for b in batches { b.$t.intern_into(text, $t); } )*
                            },
                            || {
                                for b in batches {
                                    $( $a.extend_from(&b.$a); )*
                                    $( $v.extend_from_slice(&b.$v); )*
                                    prov.extend(&b.prov);
                                }
                            },
                        )
                    },
                );
            }
            fn view<'a>(&'a self, i: usize, strings: &'a Strings) -> $View<'a> {
                $View { table: self, strings, i }
            }
            fn reserve(&mut self, n: usize) {
                $( self.$d.reserve(n); )*
                $( self.$t.reserve(n); )*
                $( self.$a.reserve(n); )*
                $( self.$v.reserve(n); )*
                self.prov.reserve(n);
            }
            fn retain(&mut self, keep: &[bool]) {
                // Column by column, the columns on every core: dropping a province's
                // repeated txn_ids moved every column of every payment on one.
                let $Table { $( $d, )* $( $t, )* $( $a, )* $( $v, )* prov } = self;
                rayon::scope(|s| {
                    $( s.spawn(|_| retain_col($d, keep)); )*
                    $( s.spawn(|_| retain_col($t, keep)); )*
                    $( s.spawn(|_| $a.retain(keep)); )*
                    $( s.spawn(|_| retain_col($v, keep)); )*
                    s.spawn(|_| prov.retain(keep));
                });
            }
        }

        impl crate::arrow::ArrowTable for $Table {
            fn to_frame(&self, strings: &Strings) -> polars::prelude::PolarsResult<polars::prelude::DataFrame> {
                use crate::arrow::{text_column, ArrowValue};
                let mut cols = vec![
                    $( text_column(stringify!($d), self.$d.iter().map(|&s| strings.ids.get(s))), )*
                    $( text_column(stringify!($t), self.$t.iter().map(|&s| strings.text.get(s))), )*
                    $( text_column(stringify!($a), (0..self.$a.len()).map(|i| self.$a.get(i))), )*
                ];
                $( <$vt as ArrowValue>::put(stringify!($v), &self.$v, &mut cols)?; )*
                let provs: Vec<Prov> = self.prov.iter().collect();
                <Prov as ArrowValue>::put("prov", &provs, &mut cols)?;
                polars::prelude::DataFrame::new(self.len(), cols)
            }
            fn push_frame(
                &mut self,
                df: &polars::prelude::DataFrame,
                strings: &mut Strings,
            ) -> polars::prelude::PolarsResult<()> {
                use crate::arrow::{text_values, ArrowValue};
                let n = df.height();
                let $Table { $( $d, )* $( $t, )* $( $a, )* $( $v, )* prov } = self;
                let Strings { text, ids } = strings;
                // The same three groups at once as `push_rows`.
                let (a, (b, c)) = rayon::join(
                    || -> polars::prelude::PolarsResult<()> {
                        let _ = &ids;
                        $(
                            let col = text_values(stringify!($d), df)?;
                            $d.reserve(n);
                            ids.intern_all(col.iter().map(|s| s.unwrap_or_default()), $d);
                        )*
                        Ok(())
                    },
                    || {
                        rayon::join(
                            || -> polars::prelude::PolarsResult<()> {
                                let _ = &text;
                                $(
                                    let col = text_values(stringify!($t), df)?;
                                    $t.reserve(n);
                                    for s in col.iter().map(|s| s.unwrap_or_default()) {
                                        $t.push(text.intern(s));
                                    }
                                )*
                                Ok(())
                            },
                            || -> polars::prelude::PolarsResult<()> {
                                $(
                                    let col = text_values(stringify!($a), df)?;
                                    $a.reserve(n);
                                    for s in col.iter().map(|s| s.unwrap_or_default()) {
                                        $a.push(s);
                                    }
                                )*
                                $( $v.extend(<$vt as ArrowValue>::take(stringify!($v), df)?); )*
                                prov.reserve(n);
                                for p in <Prov as ArrowValue>::take("prov", df)? {
                                    prov.push(p);
                                }
                                Ok(())
                            },
                        )
                    },
                );
                a.and(b).and(c)
            }
        }

        impl crate::arrow::ArrowRows for $Row {
            fn to_frame(rows: &[Self]) -> polars::prelude::PolarsResult<polars::prelude::DataFrame> {
                use crate::arrow::{text_column, ArrowValue};
                let mut cols = vec![
                    $( text_column(stringify!($d), rows.iter().map(|r| r.$d.as_str())), )*
                    $( text_column(stringify!($t), rows.iter().map(|r| r.$t.as_str())), )*
                    $( text_column(stringify!($a), rows.iter().map(|r| r.$a.as_str())), )*
                ];
                $(
                    let vals: Vec<$vt> = rows.iter().map(|r| r.$v).collect();
                    <$vt as ArrowValue>::put(stringify!($v), &vals, &mut cols)?;
                )*
                let provs: Vec<Prov> = rows.iter().map(|r| r.prov).collect();
                <Prov as ArrowValue>::put("prov", &provs, &mut cols)?;
                polars::prelude::DataFrame::new(rows.len(), cols)
            }
        }

        impl<'a> $View<'a> {
            /// The row's index in its table.
            pub fn idx(&self) -> usize {
                self.i
            }
            $(
                $(#[$ddoc])*
                pub fn $d(&self) -> &'a str {
                    self.strings.ids.get(self.table.$d[self.i])
                }
            )*
            $(
                $(#[$tdoc])*
                pub fn $t(&self) -> &'a str {
                    self.strings.text.get(self.table.$t[self.i])
                }
            )*
            $(
                $(#[$adoc])*
                pub fn $a(&self) -> &'a str {
                    self.table.$a.get(self.i)
                }
            )*
            $(
                $(#[$vdoc])*
                pub fn $v(&self) -> $vt {
                    self.table.$v[self.i]
                }
            )*
            /// Provenance.
            pub fn prov(&self) -> Prov {
                self.table.prov.get(self.i)
            }
            /// True when every column but provenance holds the same value in both rows
            /// (text compared by symbol: equal symbols are equal text). For payments: an
            /// export of the same payment.
            pub fn same_values(&self, other: &$View) -> bool {
                let (a, b) = (self.i, other.i);
                true $( && self.table.$d[a] == other.table.$d[b] )*
                    $( && self.table.$t[a] == other.table.$t[b] )*
                    $( && self.table.$a.get(a) == other.table.$a.get(b) )*
                    $( && self.table.$v[a] == other.table.$v[b] )*
            }
            /// The row as an owned row.
            pub fn to_row(&self) -> $Row {
                $Row {
                    $( $d: Text::from(self.$d()), )*
                    $( $t: Text::from(self.$t()), )*
                    $( $a: Text::from(self.$a()), )*
                    $( $v: self.$v(), )*
                    prov: self.prov(),
                }
            }
        }
    };
}

/// The provenance column: each row's line, and the rows of each file as runs (a table is
/// filled file by file, so a source has about as many runs as files). 4 bytes a row
/// instead of 8: about 0.22 GiB at 10M persons.
#[derive(Debug, Clone, Default)]
pub struct ProvCol {
    lines: Vec<u32>,
    /// (first row, file) of each run of rows from one file, in row order.
    runs: Vec<(usize, u32)>,
}

impl ProvCol {
    /// Appends a row's provenance.
    pub fn push(&mut self, p: Prov) {
        if self.runs.last().is_none_or(|&(_, f)| f != p.file) {
            self.runs.push((self.lines.len(), p.file));
        }
        self.lines.push(p.line);
    }
    /// Row `i`'s provenance.
    pub fn get(&self, i: usize) -> Prov {
        let run = self.runs.partition_point(|&(first, _)| first <= i) - 1;
        Prov {
            file: self.runs[run].1,
            line: self.lines[i],
        }
    }
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.lines.len()
    }
    /// True when there is no row.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
    /// Every row's provenance, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Prov> + '_ {
        let mut run = 0;
        self.lines.iter().enumerate().map(move |(i, &line)| {
            while run + 1 < self.runs.len() && self.runs[run + 1].0 <= i {
                run += 1;
            }
            Prov {
                file: self.runs[run].1,
                line,
            }
        })
    }
    /// Makes room for `n` more rows.
    pub fn reserve(&mut self, n: usize) {
        self.lines.reserve(n);
    }
    /// Appends rows' provenance, in order.
    pub fn extend(&mut self, provs: &[Prov]) {
        for &p in provs {
            self.push(p);
        }
    }
    /// Keeps the rows whose flag is true.
    pub fn retain(&mut self, keep: &[bool]) {
        let mut out = ProvCol::default();
        out.reserve(keep.iter().filter(|&&k| k).count());
        for (i, p) in self.iter().enumerate() {
            if keep.get(i).copied().unwrap_or(false) {
                out.push(p);
            }
        }
        *self = out;
    }
}

fn retain_col<T>(col: &mut Vec<T>, keep: &[bool]) {
    let mut k = keep.iter();
    col.retain(|_| *k.next().unwrap_or(&false));
}

table! {
/// A row of 户籍.
    HukouRow / Hukou / HukouView / HukouBatch / HukouCols {
        ids {
            /// Canonical valid id.
            id,
        }
        text {
            /// 性别 as given.
            gender,
            /// 村居.
            village,
            /// 办事处.
            office,
        }
        arena {
            /// Normalised name.
            name,
            /// 户号 (empty: a household alone).
            household_no,
        }
        value {
            /// 出生日期 as given (rules use the id's birth date).
            birth_date: Option<NaiveDate>,
            /// True for 居住证 holders.
            residence_permit: bool,
            /// 户籍状态.
            status: HukouStatus,
            /// 变动日期 (present whenever the status is not 正常).
            status_date: Option<NaiveDate>,
        }
    }
}

table! {
/// A row of 死亡人员.
    DeathRow / Deaths / DeathView / DeathBatch / DeathCols {
        ids {
            /// Canonical valid id.
            id,
        }
        text {
            /// 信息来源 (派出所, 民政, 卫健, 殡葬).
            source,
        }
        arena {
            /// Name as given.
            name,
        }
        value {
            /// 死亡日期.
            death_date: NaiveDate,
            /// 通报日期.
            notice_date: Option<NaiveDate>,
        }
    }
}

table! {
/// A row of 特殊群体.
    EligibilityRow / Eligibility / EligibilityView / EligibilityBatch / EligibilityCols {
        ids {
            /// Canonical valid id.
            id,
        }
        text {
            /// 认定部门.
            source_dept,
        }
        arena {
            /// Name as given.
            name,
        }
        value {
            /// The group.
            category: Category,
            /// 残疾等级 1-4 (残疾 only; empty when not given or unreadable).
            disability_level: Option<u8>,
            /// 认定日期.
            valid_from: NaiveDate,
            /// 终止日期 (empty: still valid).
            valid_to: Option<NaiveDate>,
        }
    }
}

impl EligibilityView<'_> {
    /// True when the row is in force on `day`.
    pub fn active_on(&self, day: NaiveDate) -> bool {
        self.valid_from() <= day && self.valid_to().is_none_or(|to| day <= to)
    }
}

table! {
/// A row of 参保登记.
    RegistrationRow / Registrations / RegistrationView / RegistrationBatch / RegistrationCols {
        ids {
            /// Canonical valid id.
            id,
        }
        text {
            /// 参保状态 as given.
            status,
            /// 缴费档次 as given.
            tier,
        }
        arena {
            /// Name as given.
            name,
        }
        value {
            /// The scheme.
            scheme: Scheme,
            /// 参保日期.
            start_date: NaiveDate,
            /// 终止日期.
            end_date: Option<NaiveDate>,
        }
    }
}

table! {
/// A row of 缴费明细.
    PaymentRow / Payments / Payment / PaymentBatch / PaymentCols {
        ids {
            /// Canonical id if valid, else the normalised text.
            id,
        }
        text {
            /// 缴费渠道.
            channel,
            /// 代办员编号 (empty: not a collector payment).
            collector_id,
            /// 村居 as given.
            village,
            /// 解缴单号.
            deposit_id,
        }
        arena {
            /// 流水号.
            txn_id,
            /// Normalised name.
            name,
            /// 收据号.
            receipt_no,
            /// 付款账户.
            payer_account,
        }
        value {
            /// Whether `id` is a valid id number (invalid rows are kept for DQ-001).
            id_valid: bool,
            /// The id came from an Excel numeric cell of 16+ digits or CSV scientific notation:
            /// its last digits are lost, so it stands for nobody (no DUP/DQ-002 grouping).
            id_lost: bool,
            /// The scheme.
            scheme: Scheme,
            /// 费款所属期.
            period: i32,
            /// 缴费金额.
            amount: Fen,
            /// 缴费时间.
            paid_at: Stamp,
            /// 缴费类型.
            payer_type: PayerType,
            /// 状态.
            status: PaymentStatus,
        }
    }
}

impl Payment<'_> {
    /// True for status 成功.
    pub fn is_effective(&self) -> bool {
        self.status().is_effective()
    }
}

table! {
/// A row of 代办员收款登记.
    ReceiptRow / Receipts / ReceiptView / ReceiptBatch / ReceiptCols {
        ids {
            /// Canonical id if valid, else the normalised text.
            id,
        }
        text {
            /// 代办员编号.
            collector_id,
            /// 村居.
            village,
        }
        arena {
            /// 收据号.
            receipt_no,
            /// Name.
            name,
        }
        value {
            /// Whether `id` is valid (invalid rows are kept for DQ-001).
            id_valid: bool,
            /// As [`Payment::id_lost`].
            id_lost: bool,
            /// The scheme.
            scheme: Scheme,
            /// The contribution year (default: the policy year).
            period: i32,
            /// 收款金额.
            amount: Fen,
            /// 收款日期.
            collected_at: Stamp,
        }
    }
}

table! {
/// A row of 解缴入库.
    DepositRow / Deposits / DepositView / DepositBatch / DepositCols {
        ids {
        }
        text {
            /// 解缴单号.
            deposit_id,
            /// 代办员编号.
            collector_id,
            /// 村居.
            village,
        }
        arena {
        }
        value {
            /// 解缴金额.
            amount: Fen,
            /// 解缴日期.
            deposited_at: Stamp,
            /// 人数 (empty: not compared).
            person_count: Option<u32>,
        }
    }
}

table! {
/// A row of 征收清册.
    RosterRow / Roster / RosterView / RosterBatch / RosterCols {
        ids {
            /// Canonical valid id.
            id,
        }
        text {
            /// 村居.
            village,
            /// 代办员编号.
            collector_id,
            /// 清册批次.
            batch,
        }
        arena {
            /// Name.
            name,
        }
        value {
            /// The scheme.
            scheme: Scheme,
            /// 应缴金额.
            expected_amount: Option<Fen>,
        }
    }
}

/// A `deaths` row rejected only for an invalid id (it stays in `rejected.csv`), kept so
/// that identity linkage can tie it to a hukou person (DTH-005).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinkableDeath {
    /// The id as typed, normalised (invalid).
    pub id: Text,
    /// The id lost its last digits as an Excel number (see [`Payment::id_lost`]).
    pub id_lost: bool,
    /// The name, normalised (may be empty: then it is never linked).
    pub name: Text,
    /// The row's own death date.
    pub death_date: NaiveDate,
    /// Where the row is.
    pub prov: Prov,
}

/// A control total stated on a totals row (合计/总计/小计) of a file (DQ-004).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ControlTotal {
    /// The file, an index into `Dataset::files`.
    pub file: u32,
    /// The totals row's physical line.
    pub line: u32,
    /// The label as written (trimmed), e.g. `合计`.
    pub label: Text,
    /// The amount stated on the totals row.
    pub stated: Fen,
    /// The sum of the money cells of the rows it covers that parse as amounts.
    pub sum: Fen,
    /// How many rows it covers (rows read in its range whose money cell parses).
    pub rows: u32,
}

impl PaymentRow {
    /// True for status 成功.
    pub fn is_effective(&self) -> bool {
        self.status.is_effective()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment(k: u32) -> PaymentRow {
        PaymentRow {
            id: Text::from(format!("id{}", (k * 7) % 23)),
            channel: Text::from(["POS", "", "微信"][k as usize % 3]),
            collector_id: Text::from(format!("C{}", k % 5)),
            village: Text::from(["甲村", "乙村"][k as usize % 2]),
            deposit_id: Text::from(if k.is_multiple_of(4) {
                String::new()
            } else {
                format!("D{}", k % 9)
            }),
            txn_id: Text::from(format!("T{k}")),
            name: Text::from("王涛"),
            receipt_no: Text::from(if k.is_multiple_of(3) {
                String::new()
            } else {
                format!("R{k}")
            }),
            payer_account: Text::default(),
            id_valid: k.is_multiple_of(2),
            id_lost: k.is_multiple_of(11),
            scheme: Scheme::ResidentPension,
            period: 2020 + (k % 3) as i32,
            amount: Fen(i64::from(k) * 100),
            paid_at: Stamp::from_secs(1_600_000_000 + i64::from(k)).expect("in the calendar"),
            payer_type: PayerType::Individual,
            status: PaymentStatus::Success,
            prov: Prov {
                file: k / 40,
                line: k + 2,
            },
        }
    }

    #[test]
    fn batches_and_rows_store_the_symbols_of_interning_every_row_in_order() {
        let rows: Vec<PaymentRow> = (0..100).map(payment).collect();
        for piece in [1, 7, 32, 100] {
            // Interners already holding some texts, as after an earlier source.
            let mut strings = Strings::default();
            strings.text.intern("乙村");
            strings.ids.intern("id5");
            let (mut s1, mut s2, mut s3) = (strings.clone(), strings.clone(), strings);
            let (mut by_batches, mut by_rows) = (Payments::default(), Payments::default());
            // The definition: every row interned in order, column by column per chunk.
            let mut want_ids = Vec::new();
            let mut want_text: [Vec<Sym>; 4] = Default::default();
            // Two chunks, each handed over whole.
            for chunk in rows.chunks(60) {
                want_ids.extend(chunk.iter().map(|r| s1.ids.intern(&r.id)));
                let text_cols: [fn(&PaymentRow) -> &str; 4] = [
                    |r| &r.channel,
                    |r| &r.collector_id,
                    |r| &r.village,
                    |r| &r.deposit_id,
                ];
                for (want, col) in want_text.iter_mut().zip(text_cols) {
                    want.extend(chunk.iter().map(|r| s1.text.intern(col(r))));
                }
                let batches: Vec<PaymentBatch> = chunk
                    .chunks(piece)
                    .map(|p| {
                        let mut b = PaymentBatch::with_capacity(p.len());
                        p.iter().for_each(|r| b.put(r));
                        b
                    })
                    .collect();
                by_batches.push_batches(&batches, &mut s2);
                by_rows.push_rows(chunk, &mut s3);
            }
            assert_eq!(by_batches.id, want_ids, "pieces of {piece}");
            assert_eq!(by_batches.channel, want_text[0]);
            assert_eq!(by_batches.collector_id, want_text[1]);
            assert_eq!(by_batches.village, want_text[2]);
            assert_eq!(by_batches.deposit_id, want_text[3]);
            for s in [&s2, &s3] {
                assert_eq!(
                    s1.text.iter().collect::<Vec<_>>(),
                    s.text.iter().collect::<Vec<_>>()
                );
                assert_eq!(
                    s1.ids.iter().collect::<Vec<_>>(),
                    s.ids.iter().collect::<Vec<_>>()
                );
            }
            assert_eq!(by_rows.id, by_batches.id);
            assert_eq!(by_rows.village, by_batches.village);
            let back: Vec<PaymentRow> = Rows::new(&by_batches, &s2)
                .iter()
                .map(|p| p.to_row())
                .collect();
            assert_eq!(back, rows);
        }
    }

    #[test]
    fn provenance_by_runs_gives_back_every_row_and_survives_retain() {
        let rows = [(0, 2), (0, 3), (2, 2), (2, 9), (0, 4), (5, 2)];
        let mut col = ProvCol::default();
        for &(file, line) in &rows {
            col.push(Prov { file, line });
        }
        let want: Vec<Prov> = rows
            .iter()
            .map(|&(file, line)| Prov { file, line })
            .collect();
        assert_eq!(col.len(), rows.len());
        assert_eq!((0..col.len()).map(|i| col.get(i)).collect::<Vec<_>>(), want);
        assert_eq!(col.iter().collect::<Vec<_>>(), want);
        // File 0 comes back after file 2: a run of its own, not merged with the first.
        col.retain(&[false, true, false, true, true, false]);
        let kept: Vec<Prov> = [1, 3, 4].iter().map(|&i| want[i]).collect();
        assert_eq!(col.iter().collect::<Vec<_>>(), kept);
        assert_eq!(col.get(2), Prov { file: 0, line: 4 });
        col.retain(&[false, false, false]);
        assert!(col.is_empty());
    }
}
