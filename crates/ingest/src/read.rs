//! Readers: CSV (UTF-8, UTF-8 with BOM, GB18030), XLSX/XLS (first sheet) and Parquet,
//! each giving a header and rows of text in chunks.
//!
//! CSV and Excel files may carry preamble rows above the header (a title, 制表单位) and
//! totals rows (合计/总计/小计) below it (`data-contract.md`, Real exports). The CSV reader
//! is our own line-exact splitter: every physical line (LF, CRLF or a lone CR) is the
//! header, a preamble, blank or totals line, or part of exactly one row, and a stray quote
//! never swallows the lines after it (`data-contract.md`, Robustness).

use std::io::Cursor;

use chrono::{NaiveDate, NaiveDateTime};
use polars::prelude::*;
use polars_arrow::array::{Array, Utf8ViewArray};
use polars_arrow::datatypes::ArrowDataType;
use qianbiao_core::text::spreadsheet_number;

use crate::parse::{Fields, Numeric, RawRow};

/// How many rows at the top of a CSV or Excel file may hold the header.
pub const HEADER_SEARCH_ROWS: usize = 20;

/// The widest header an Excel sheet may have; cells further right are ignored.
pub const MAX_COLUMNS: usize = 1024;

/// Labels that open a totals row.
pub const TOTALS_LABELS: [&str; 3] = ["合计", "总计", "小计"];

/// What a row is, beyond its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// A data row: read, then accepted or rejected.
    Data,
    /// A totals row (合计/总计/小计): neither read nor rejected.
    Totals,
}

/// Per file, what each physical line (CSV) or sheet row (Excel) was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LineCounts {
    /// Every physical line of the file (CSV), or rows spanned by the sheet (Excel), or
    /// rows plus the header (Parquet).
    pub total: u64,
    /// Lines of the header row.
    pub header: u64,
    /// Lines above the header.
    pub preamble: u64,
    /// Empty lines and rows whose cells are all empty, below the header.
    pub blank: u64,
    /// Lines of totals rows.
    pub totals: u64,
    /// Lines of rows read (accepted or rejected).
    pub rows: u64,
}

impl LineCounts {
    /// Lines of rows read so far, and of blank and totals rows: none for a file just
    /// opened.
    fn accounted_rows(&self) -> u64 {
        self.blank + self.totals + self.rows
    }

    /// The lines the categories account for.
    pub fn accounted(&self) -> u64 {
        self.header + self.preamble + self.blank + self.totals + self.rows
    }
}

/// Why a file could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// The bytes are not a file of that kind, or are hostile; the reason says which.
    Unreadable(String),
    /// None of the first [`HEADER_SEARCH_ROWS`] rows holds every required column; the
    /// cells of the first row are given so the caller can name what is missing.
    NoHeader {
        /// Cells of the file's first row (empty when the file has none).
        first_row: Vec<String>,
    },
}

impl OpenError {
    /// The error as one line of text.
    pub fn reason(self) -> String {
        match self {
            OpenError::Unreadable(s) => s,
            OpenError::NoHeader { .. } => "no header row".into(),
        }
    }
}

impl From<String> for OpenError {
    fn from(s: String) -> Self {
        OpenError::Unreadable(s)
    }
}

impl From<&str> for OpenError {
    fn from(s: &str) -> Self {
        OpenError::Unreadable(s.to_string())
    }
}

/// The bytes of a file's SHA-256, where the reader keeps them anyway: a large file is
/// hashed beside the reading of its rows instead of before it, and never copied for it.
#[derive(Clone)]
pub enum HashSource {
    /// Hashed as the file was opened, because its reader does not keep its bytes
    /// (GB18030 text is decoded into new bytes, Excel cells are copied out): the digest.
    Done(String),
    /// A UTF-8 CSV file: its text is the file's bytes but for a BOM, if it had one.
    Utf8 {
        /// The file began with a UTF-8 BOM (the text no longer does).
        bom: bool,
        /// The text.
        text: std::sync::Arc<String>,
    },
    /// A Parquet file's bytes.
    Bytes(std::sync::Arc<Vec<u8>>),
    /// A file whose reader keeps only some of its bytes (a piece of a Parquet file's row
    /// groups): hashed from the file, read again in a stream.
    File(std::path::PathBuf),
}

impl HashSource {
    /// Hex SHA-256 of the file's bytes; an error only when a [`HashSource::File`] cannot
    /// be read.
    pub fn sha256(&self) -> std::io::Result<String> {
        use sha2::{Digest, Sha256};
        Ok(match self {
            HashSource::Done(hex) => hex.clone(),
            HashSource::Utf8 { bom, text } => {
                let mut h = Sha256::new();
                if *bom {
                    h.update(UTF8_BOM);
                }
                h.update(text.as_bytes());
                crate::load::hex(&h.finalize())
            }
            HashSource::Bytes(bytes) => crate::load::sha256_hex(bytes),
            HashSource::File(path) => crate::load::sha256_file(path)?,
        })
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A file opened for reading: its header and a stream of rows.
pub struct Opened {
    /// Header cells as written.
    pub headers: Vec<String>,
    /// What the file's SHA-256 is taken of.
    pub hash: HashSource,
    /// The encoding or format detected, for the manifest.
    pub format: &'static str,
    /// Line accounting so far (complete once the rows are exhausted).
    pub lines: LineCounts,
    rows: Rows,
}

enum Rows {
    Csv(CsvRows),
    Grid {
        rows: std::vec::IntoIter<GridRow>,
    },
    Frame {
        /// The file, read a slice of row groups at a time.
        src: ParquetSlices,
        /// The slice being read.
        frame: std::sync::Arc<Frame>,
        /// Row of the file where the slice starts.
        base: usize,
        /// Next row of the slice.
        next: usize,
        /// Rows of the slice.
        len: usize,
        /// Records of rows already stored, for the next rows (a Parquet row's record is
        /// always empty, but a new one is an allocation per row).
        pool: Vec<Fields>,
    },
}

/// Rows per slice of a Parquet file: the file is read this many rows (whole row groups)
/// at a time, so a large file never exists as text columns all at once.
const SLICE_ROWS: usize = 256 * 1024;

/// A file's bytes, shared by the readers of its slices.
#[derive(Clone)]
struct SharedBytes(std::sync::Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// A Parquet file and the slices (row offset, rows) still to read.
struct ParquetSlices {
    bytes: SharedBytes,
    metadata: polars::prelude::FileMetadataRef,
    slices: std::vec::IntoIter<(usize, usize)>,
    total: usize,
    /// The columns decoded (sorted), when not all of them: the others are decoded only
    /// for a slice that needs a whole row (a rejected row's raw text, a row whose
    /// decoded cells are all empty).
    projection: Option<Vec<usize>>,
    /// The next slice, being decoded on a thread of its own.
    ahead: Option<Ahead>,
    /// The text decoded from the file so far, against what its size allows.
    text: TextBudget,
}

/// The bytes of text a file may expand to: a file whose text is out of proportion to its
/// size (a dictionary page of one long value that every row repeats, a few kilobytes
/// making gigabytes) is hostile, and is refused before the engine copies its text.
#[derive(Clone)]
struct TextBudget(std::sync::Arc<Budget>);

/// A file's text budget, shared by the threads decoding its slices.
struct Budget {
    used: std::sync::atomic::AtomicU64,
    size: u64,
    /// The bytes allowed (see [`out_of_proportion`]).
    allowed: u64,
}

/// How many times its size a file may expand to, past [`EXPANSION_FLOOR`]: real exports
/// expand 3 to 20 times (Parquet's compression and dictionaries, a workbook's zipped
/// XML); deflate cannot exceed about 1,030.
const EXPANSION: u64 = 200;

/// Any file may expand to 1 GiB, whatever its size.
const EXPANSION_FLOOR: u64 = 1 << 30;

/// The bytes a file of `size` bytes may expand to.
fn expansion_allowed(size: u64) -> u64 {
    EXPANSION_FLOOR.max(size.saturating_mul(EXPANSION))
}

/// Whether `expanded` bytes are out of proportion to a file of `size` bytes.
fn out_of_proportion(expanded: u64, size: u64) -> bool {
    expanded > expansion_allowed(size)
}

impl TextBudget {
    fn new(size: u64) -> Self {
        TextBudget(std::sync::Arc::new(Budget {
            used: Default::default(),
            size,
            allowed: expansion_allowed(size),
        }))
    }

    /// Counts the text of a decoded frame; an error once the file's text is out of
    /// proportion to its size.
    fn spend(&self, frame: &Frame) -> Result<(), OpenError> {
        use std::sync::atomic::Ordering;
        let bytes: u64 = frame
            .cols
            .iter()
            .map(|c| match c {
                FrameCol::Text(a) => a.total_bytes_len() as u64,
                _ => 0,
            })
            .sum();
        let used = self.0.used.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if used > self.0.allowed {
            return Err(OpenError::Unreadable(format!(
                "hostile Parquet file: its text expands to more than {used} bytes from {} bytes",
                self.0.size
            )));
        }
        Ok(())
    }
}

/// The slice after the one being read.
enum Ahead {
    /// Being decoded on a thread of its own.
    Decoding(std::thread::JoinHandle<Decoded>),
    /// Decoded already (no thread could be started).
    Decoded(Decoded),
}

/// A slice of a Parquet file whose frame holds only some columns: enough to decode the
/// whole slice when a whole row is needed, once.
struct WholeSlice {
    bytes: SharedBytes,
    metadata: polars::prelude::FileMetadataRef,
    offset: usize,
    rows: usize,
    frame: std::sync::OnceLock<Option<Box<Frame>>>,
    text: TextBudget,
}

impl WholeSlice {
    /// The slice with every column; None when a column the run does not use cannot be
    /// decoded (the row is then read from the columns it uses).
    fn frame(&self) -> Option<&Frame> {
        self.frame
            .get_or_init(|| {
                guarded(|| {
                    let df =
                        read_slice(&self.bytes, &self.metadata, (self.offset, self.rows), None)
                            .map_err(|e| OpenError::from(e.to_string()))?;
                    let frame = frame_of(&df);
                    // Out of proportion: the row is read from the columns it uses.
                    self.text.spend(&frame)?;
                    Ok(Box::new(frame))
                })
                .ok()
            })
            .as_deref()
    }
}

/// Rows `offset..offset + rows` of a Parquet file, the columns of `projection` (all when
/// None).
fn read_slice(
    bytes: &SharedBytes,
    metadata: &polars::prelude::FileMetadataRef,
    (offset, rows): (usize, usize),
    projection: Option<Vec<usize>>,
) -> PolarsResult<DataFrame> {
    let mut reader = ParquetReader::new(Cursor::new(bytes.clone()));
    reader.set_metadata(metadata.clone());
    reader
        .with_projection(projection)
        .with_slice(Some((offset, rows)))
        .finish()
}

/// A decoded slice of a Parquet file: its first row and its frame, or why it could not
/// be read.
type Decoded = Result<(usize, Frame), String>;

impl ParquetSlices {
    /// Reads the next slice into a frame; None when the file is done.
    ///
    /// Each slice after the first is decoded ahead, on a thread of its own, while the
    /// rows of the slice before it are parsed: a slice's decoding (polars' Parquet
    /// decoder, on polars' own threads) then spreads over the parsing of that slice's
    /// chunks instead of holding up one step of the reading pipeline, which left a core
    /// idle for part of every slice.
    fn next_frame(&mut self) -> Option<Decoded> {
        let got = match self.ahead.take() {
            Some(Ahead::Decoding(handle)) => handle.join().unwrap_or_else(|_| {
                Err("internal error: the thread decoding a Parquet slice stopped".into())
            }),
            Some(Ahead::Decoded(decoded)) => decoded,
            None => {
                let slice = self.slices.next()?;
                decode_slice(self.source(), slice)
            }
        };
        if got.is_ok() {
            if let Some(slice) = self.slices.next() {
                let source = self.source();
                let spawned = std::thread::Builder::new()
                    .name("qianbiao-parquet".into())
                    .spawn(move || decode_slice(source, slice));
                self.ahead = Some(match spawned {
                    Ok(handle) => Ahead::Decoding(handle),
                    // No thread to be had: decode it now, on this one.
                    Err(_) => Ahead::Decoded(decode_slice(self.source(), slice)),
                });
            }
        }
        Some(got)
    }

    /// Whether a slice is still to come.
    fn has_more(&self) -> bool {
        self.ahead.is_some() || self.slices.len() > 0
    }

    /// What a slice's decoding needs, owned (it may run on another thread).
    fn source(&self) -> SliceSource {
        SliceSource {
            bytes: self.bytes.clone(),
            metadata: self.metadata.clone(),
            projection: self.projection.clone(),
            text: self.text.clone(),
        }
    }
}

/// A Parquet file's bytes, footer and projection, for decoding one of its slices.
struct SliceSource {
    bytes: SharedBytes,
    metadata: polars::prelude::FileMetadataRef,
    projection: Option<Vec<usize>>,
    text: TextBudget,
}

/// Decodes rows `offset..offset + rows` of a Parquet file into a frame.
fn decode_slice(src: SliceSource, (offset, rows): (usize, usize)) -> Decoded {
    let SliceSource {
        bytes,
        metadata,
        projection,
        text,
    } = src;
    guarded(|| {
        let df = read_slice(&bytes, &metadata, (offset, rows), projection.clone())
            .map_err(|e| format!("not a readable Parquet file: {e}"))?;
        let frame = frame_of(&df);
        text.spend(&frame)?;
        // A footer may state more rows than its pages hold: every column must hold the
        // rows the slice declares, or a row would be read past a column's end.
        if let Some(short) = frame.cols.iter().find_map(|c| c.len().filter(|&n| n != rows)) {
            return Err(OpenError::Unreadable(format!(
                "not a readable Parquet file: rows {}-{} are declared, but a column holds {short} values",
                offset + 1,
                offset + rows
            )));
        }
        if frame.len != rows {
            return Err(OpenError::Unreadable(format!(
                "not a readable Parquet file: rows {}-{} are declared, but {} were decoded",
                offset + 1,
                offset + rows,
                frame.len
            )));
        }
        Ok(match &projection {
            None => frame,
            Some(used) => {
                // Every column in its place; the ones not decoded are skipped.
                let width = metadata.schema().fields().len();
                let mut cols: Vec<FrameCol> = (0..width).map(|_| FrameCol::Skipped).collect();
                for (&i, c) in used.iter().zip(frame.cols) {
                    cols[i] = c;
                }
                Frame {
                    cols,
                    len: df.height(),
                    whole: Some(WholeSlice {
                        bytes,
                        metadata,
                        offset,
                        rows,
                        frame: std::sync::OnceLock::new(),
                        text,
                    }),
                }
            }
        })
    })
    .map(|f| (offset, f))
    .map_err(OpenError::reason)
}

/// A column of a Parquet file as the engine reads it: dates, date-times, integers and
/// decimals in their own types (no trip through text), everything else as text.
pub enum FrameCol {
    /// A column the run does not use, not decoded.
    Skipped,
    /// Text, or a type read as its text form (floats, booleans): one array, so that a
    /// cell is read by its index without looking for its chunk.
    Text(Utf8ViewArray),
    /// An integer or decimal column: each value as a mantissa and the column's scale
    /// (`value = mantissa / 10^scale`; integers have scale 0).
    Number {
        /// The mantissas (None: null).
        values: Vec<Option<i128>>,
        /// Decimal places.
        scale: u32,
    },
    /// A `date32` column: days since 1970-01-01.
    Date {
        /// The dates (None: null, or no date of the calendar).
        days: Vec<Option<NaiveDate>>,
        /// Which cells are null.
        null: Vec<bool>,
        /// The column, for the text form of a value that is not taken as it is.
        col: Column,
    },
    /// A timestamp column, in China Standard Time when it is zoned.
    Datetime {
        /// The date-times to the second (None: null, or no date of the calendar).
        at: Vec<Option<NaiveDateTime>>,
        /// Which cells are null.
        null: Vec<bool>,
        /// The column, for the text form of a value that is not taken as it is.
        col: Column,
        /// Its unit.
        unit: TimeUnit,
        /// Whether it carries a time zone.
        zoned: bool,
    },
}

/// A Parquet file's columns, read once; rows are indices into them.
pub struct Frame {
    /// Columns in file order.
    cols: Vec<FrameCol>,
    /// Rows.
    len: usize,
    /// When only the columns the run uses were decoded: the whole slice, decoded when a
    /// whole row is needed.
    whole: Option<WholeSlice>,
}

impl FrameCol {
    /// Values held (None for a column not decoded).
    fn len(&self) -> Option<usize> {
        match self {
            FrameCol::Skipped => None,
            FrameCol::Text(a) => Some(a.len()),
            FrameCol::Number { values, .. } => Some(values.len()),
            FrameCol::Date { days, null, col } => Some(days.len().min(null.len()).min(col.len())),
            FrameCol::Datetime { at, null, col, .. } => {
                Some(at.len().min(null.len()).min(col.len()))
            }
        }
    }
}

impl Frame {
    /// Rows of the frame.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the frame has no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text form of a cell, exactly as the file's text reading gives it (what
    /// `rejected.csv` and reasons quote): borrowed for text columns, formatted for a
    /// date or date-time.
    pub fn text(&self, col: usize, row: usize) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        match self.cols.get(col) {
            None | Some(FrameCol::Skipped) => Cow::Borrowed(""),
            Some(FrameCol::Text(a)) => Cow::Borrowed(text_at(a, row)),
            Some(FrameCol::Number { values, scale }) => match values[row] {
                Some(m) => Cow::Owned(decimal_text(m, *scale)),
                None => Cow::Borrowed(""),
            },
            Some(FrameCol::Date { null, .. } | FrameCol::Datetime { null, .. }) if null[row] => {
                Cow::Borrowed("")
            }
            // Formatted here, not cast by polars (whose cast panics on a day outside the
            // calendar); such a value reads as its stored number.
            Some(FrameCol::Date { days, col, .. }) => Cow::Owned(match days[row] {
                Some(d) => d.format("%Y-%m-%d").to_string(),
                None => stored_number(col, row),
            }),
            Some(FrameCol::Datetime { at, col, .. }) => Cow::Owned(match at[row] {
                Some(d) => d.format("%Y-%m-%d %H:%M:%S").to_string(),
                None => stored_number(col, row),
            }),
        }
    }

    /// Whether a cell of a date or date-time column holds a value that is no day of the
    /// calendar (a date32 of 10^8 days): a date out of range, whatever its text.
    pub fn out_of_calendar(&self, col: usize, row: usize) -> bool {
        match self.cols.get(col) {
            Some(FrameCol::Date { days, null, .. }) => !null[row] && days[row].is_none(),
            Some(FrameCol::Datetime { at, null, .. }) => !null[row] && at[row].is_none(),
            _ => false,
        }
    }

    /// A cell of a date or date-time column as a date-time (a date at midnight); None
    /// for a text column or a null.
    pub fn datetime(&self, col: usize, row: usize) -> Option<NaiveDateTime> {
        match self.cols.get(col)? {
            FrameCol::Skipped | FrameCol::Text(_) | FrameCol::Number { .. } => None,
            FrameCol::Date { days, .. } => days[row].and_then(|d| d.and_hms_opt(0, 0, 0)),
            FrameCol::Datetime { at, .. } => at[row],
        }
    }

    /// A cell of an integer column (a decimal of scale 0 too); None for anything else.
    pub fn integer(&self, col: usize, row: usize) -> Option<i128> {
        match self.cols.get(col)? {
            FrameCol::Number { values, scale: 0 } => values[row],
            _ => None,
        }
    }

    /// A cell of an integer or decimal column as fen, when it is an amount the text
    /// reading accepts (not negative, a whole number of fen, within range); None for
    /// anything else, which then goes the way of its text form (and is rejected for it).
    /// A decimal's scale is its type's, not the value's: `decimal(12,3)` 300.000 is
    /// 300.00 yuan exactly, where 320.125 has more than 2 decimals.
    pub fn fen(&self, col: usize, row: usize) -> Option<qianbiao_core::Fen> {
        let FrameCol::Number { values, scale } = self.cols.get(col)? else {
            return None;
        };
        let m = values[row]?;
        if m < 0 {
            return None;
        }
        let fen = i64::try_from(whole_fen(m, *scale)?).ok()?;
        (fen <= qianbiao_core::money::MAX_AMOUNT.0).then_some(qianbiao_core::Fen(fen))
    }

    /// Every cell of a row as text, for `rejected.csv`.
    pub fn record(&self, row: usize) -> Fields {
        if let Some(whole) = self.whole.as_ref().and_then(WholeSlice::frame) {
            return whole.record(row);
        }
        (0..self.cols.len()).map(|c| self.text(c, row)).collect()
    }
}

/// A header test: whether a row's cells hold every required column of the source.
pub type HeaderTest<'a> = &'a dyn Fn(&[String]) -> bool;

/// A file as read: a CSV file that is UTF-8 throughout as its text, any other file as
/// its bytes.
pub enum Content {
    /// UTF-8 text, without the byte order mark it may have had.
    Utf8 {
        /// The text.
        text: String,
        /// Whether the file began with a byte order mark.
        bom: bool,
    },
    /// The file's bytes.
    Bytes(Vec<u8>),
}

/// Reads a file. A CSV file is read a piece at a time on a thread of its own while this
/// one checks each piece is UTF-8 and appends it to the text, so that reading and
/// checking overlap (a run's largest files are CSV exports); one that is not UTF-8 is
/// read again as bytes for the GB18030 decoder (such a file fails on its first piece).
pub fn read_content(path: &std::path::Path, ext: &str) -> std::io::Result<Content> {
    if ext == "csv" {
        if let Some((text, bom)) = read_utf8(path, READ_PIECE)? {
            return Ok(Content::Utf8 { text, bom });
        }
    }
    std::fs::read(path).map(Content::Bytes)
}

/// Bytes of a file read and checked as one piece.
const READ_PIECE: usize = 4 << 20;

/// The rows of each row group of a Parquet file, read from its footer alone: how a run
/// cuts a large file into tasks of whole row groups.
pub fn parquet_row_groups(path: &std::path::Path) -> Result<Vec<u64>, String> {
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    Ok(parquet_footer(&mut file)?
        .row_groups
        .iter()
        .map(|g| g.num_rows() as u64)
        .collect())
}

/// A Parquet file's footer, parsed (a corrupted one is an error, not a panic).
fn parquet_footer(
    file: &mut std::fs::File,
) -> Result<polars_parquet::parquet::metadata::FileMetadata, String> {
    guarded(|| {
        polars_parquet::parquet::read::read_metadata(file)
            .map_err(|e| OpenError::from(format!("not a readable Parquet file: {e}")))
    })
    .map_err(OpenError::reason)
}

/// Reads row groups `a..b` of a Parquet file and its footer into a buffer the size of the
/// file, leaving every other byte untouched: the buffer is allocated zeroed, and the
/// system backs only the pages written. A task that reads a piece of a large file reads
/// that piece from storage, and holds that piece in memory, not the file. The reader
/// decodes only the row groups of its slices, at the offsets the footer gives.
pub fn read_parquet_groups(
    path: &std::path::Path,
    (a, b): (usize, usize),
) -> std::io::Result<Content> {
    use std::io::{Read, Seek, SeekFrom};
    let invalid = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let metadata = parquet_footer(&mut file).map_err(invalid)?;
    let groups = metadata.row_groups.len();
    if a >= b || b > groups {
        return Err(invalid(format!(
            "row groups {a}..{b} asked of a Parquet file of {groups} row groups"
        )));
    }
    let len = usize::try_from(size).map_err(|_| invalid("too large a file".into()))?;
    // The footer: its length in the 4 bytes before the closing magic.
    let mut tail = [0u8; 8];
    if size < 12 {
        return Err(invalid("not a readable Parquet file: too short".into()));
    }
    file.seek(SeekFrom::Start(size - 8))?;
    file.read_exact(&mut tail)?;
    let footer = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]])) + 8;
    let mut ranges: Vec<std::ops::Range<u64>> = metadata.row_groups[a..b]
        .iter()
        .flat_map(|g| g.byte_ranges_iter())
        .collect();
    ranges.push(size.saturating_sub(footer)..size);
    if let Some(r) = ranges.iter().find(|r| r.start > r.end || r.end > size) {
        return Err(invalid(format!(
            "not a readable Parquet file: bytes {}..{} are outside its {size} bytes",
            r.start, r.end
        )));
    }
    ranges.sort_unstable_by_key(|r| r.start);
    let mut bytes = vec![0u8; len];
    let mut done = 0u64;
    for r in ranges {
        let start = r.start.max(done);
        if start >= r.end {
            continue;
        }
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut bytes[start as usize..r.end as usize])?;
        done = r.end;
    }
    Ok(Content::Bytes(bytes))
}

/// A file's text when the file is UTF-8 (and whether it began with a byte order mark),
/// None when it is not; read in pieces of `piece` bytes.
fn read_utf8(path: &std::path::Path, piece: usize) -> std::io::Result<Option<(String, bool)>> {
    use std::io::Read;
    use std::sync::mpsc::sync_channel;
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata().map_or(0, |m| m.len() as usize);
    // Pieces read, and pieces checked going back to be refilled.
    let (full_tx, full_rx) = sync_channel::<Vec<u8>>(2);
    let (free_tx, free_rx) = sync_channel::<Vec<u8>>(4);
    std::thread::scope(|scope| {
        // A thread that cannot be started is an error of the file's reading, not a panic.
        let reader = std::thread::Builder::new()
            .name("qianbiao-read".into())
            .spawn_scoped(scope, move || -> std::io::Result<()> {
                // The bytes of a character cut by a piece's end, which begin the next piece.
                let mut carry: Vec<u8> = Vec::new();
                loop {
                    let mut buf = free_rx
                        .try_recv()
                        .unwrap_or_else(|_| Vec::with_capacity(piece + 4));
                    buf.clear();
                    buf.extend_from_slice(&carry);
                    let read = file.by_ref().take(piece as u64).read_to_end(&mut buf)?;
                    let cut = if read == 0 {
                        buf.len()
                    } else {
                        whole_chars(&buf)
                    };
                    carry.clear();
                    carry.extend_from_slice(&buf[cut..]);
                    buf.truncate(cut);
                    if read == 0 {
                        if !buf.is_empty() {
                            let _ = full_tx.send(buf);
                        }
                        return Ok(());
                    }
                    if full_tx.send(buf).is_err() {
                        // Not UTF-8: the checking side has stopped.
                        return Ok(());
                    }
                }
            })?;
        let mut text = String::with_capacity(len);
        let mut bom = false;
        let mut utf8 = true;
        let mut first = true;
        for buf in full_rx.iter() {
            let mut piece = &buf[..];
            // Pieces end on whole characters: the first with any bytes holds the whole mark.
            if first && !piece.is_empty() {
                first = false;
                if piece.starts_with(UTF8_BOM) {
                    bom = true;
                    piece = &piece[UTF8_BOM.len()..];
                }
            }
            match simdutf8::basic::from_utf8(piece) {
                Ok(t) => text.push_str(t),
                Err(_) => {
                    utf8 = false;
                    break;
                }
            }
            let _ = free_tx.try_send(buf);
        }
        drop(full_rx);
        reader
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the reading thread failed")))?;
        Ok(utf8.then_some((text, bom)))
    })
}

/// The end of the last whole character of UTF-8 bytes: the length, or where a character
/// the bytes end inside begins.
fn whole_chars(b: &[u8]) -> usize {
    for i in (b.len().saturating_sub(4)..b.len()).rev() {
        let lead = b[i];
        if lead & 0xC0 == 0x80 {
            continue;
        }
        let width = match lead {
            0xF0.. => 4,
            0xE0.. => 3,
            0xC0.. => 2,
            _ => 1,
        };
        return if i + width > b.len() { i } else { b.len() };
    }
    b.len()
}

impl Opened {
    /// Opens a file from its bytes by extension (`csv`, `xlsx`, `xls`, `parquet`); the
    /// header is the first of the first 20 rows that passes `is_header` (Parquet: its
    /// column names).
    pub fn open(ext: &str, bytes: Vec<u8>, is_header: HeaderTest) -> Result<Opened, OpenError> {
        match ext {
            "csv" => open_csv(Content::Bytes(bytes), is_header),
            // The Excel and Parquet decoders are third-party code that can panic on a
            // corrupted file (polars' ULEB128 decoder asserts); a broken file is a reason
            // to stop the run with one line, never a crash.
            "xlsx" | "xls" => guarded(|| open_excel(ext, bytes, is_header)),
            "parquet" => {
                let opened = guarded(|| open_parquet(bytes))?;
                // A Parquet file's header is its column names: a required column missing
                // from them stops the run, as in any other format (never a file of rows
                // rejected one by one as empty).
                if !is_header(&opened.headers) {
                    return Err(OpenError::NoHeader {
                        first_row: opened.headers,
                    });
                }
                Ok(opened)
            }
            other => Err(format!("unsupported file type `{other}`").into()),
        }
    }

    /// As [`Opened::open`], of a file as [`read_content`] read it.
    pub fn open_content(
        ext: &str,
        content: Content,
        is_header: HeaderTest,
    ) -> Result<Opened, OpenError> {
        match content {
            // Only a CSV file is read as text.
            text @ Content::Utf8 { .. } => open_csv(text, is_header),
            Content::Bytes(bytes) => Opened::open(ext, bytes, is_header),
        }
    }

    /// Opens a file taking its first row as the header (benches and tests).
    pub fn from_bytes(ext: &str, bytes: Vec<u8>) -> Result<Opened, String> {
        Opened::open(ext, bytes, &|_| true).map_err(OpenError::reason)
    }

    /// Rows still to come, exact for Excel and Parquet; for a CSV file just opened, its
    /// physical lines below the header (a bound: every row is at least one line, and
    /// blank, totals and multi-line rows are few), at most one per 32 bytes. Used to size
    /// the tables once instead of growing them by copies.
    pub fn remaining_hint(&self) -> usize {
        match &self.rows {
            Rows::Csv(c) => {
                let lines = self.lines.total.saturating_sub(
                    self.lines.header + self.lines.preamble + self.lines.accounted_rows(),
                ) as usize;
                // A file of mostly empty lines must not size tables for rows it does not
                // hold: no more than a row per 32 bytes.
                lines.min(c.text.len() / 32)
            }
            Rows::Grid { rows } => rows.len(),
            Rows::Frame {
                src, base, next, ..
            } => src.total - (base + next),
        }
    }

    /// Keeps only row groups `a..b` of a Parquet file not yet read: a task of a run that
    /// reads a large file in pieces. Its lines are the piece's rows, and the header for
    /// the piece of the first row group, so that the pieces' counts add up to the file's;
    /// the file's hash is taken by that piece alone (the others' is empty). Rows keep
    /// their lines in the file.
    pub fn keep_row_groups(&mut self, (a, b): (usize, usize)) -> Result<(), String> {
        let Rows::Frame {
            src,
            base,
            next,
            len,
            ..
        } = &mut self.rows
        else {
            return Err(format!(
                "row groups {a}..{b} asked of a {} file",
                self.format
            ));
        };
        let groups = &src.metadata.row_groups;
        if a >= b || b > groups.len() || src.ahead.is_some() {
            return Err(format!(
                "row groups {a}..{b} asked of a Parquet file of {} row groups",
                groups.len()
            ));
        }
        let start: usize = groups[..a].iter().map(|g| g.num_rows()).sum();
        let slices = slices_of_groups(&groups[a..b], start, SLICE_ROWS);
        let end = slices.last().map_or(start, |(s, r)| s + r);
        src.slices = slices.into_iter();
        src.total = end;
        (*base, *next, *len) = (start, 0, 0);
        let header = u64::from(a == 0);
        self.lines = LineCounts {
            total: (end - start) as u64 + header,
            header,
            ..LineCounts::default()
        };
        if a != 0 {
            self.hash = HashSource::Done(String::new());
        }
        Ok(())
    }

    /// Decodes only the columns at `used` (indices into the header) of a Parquet file
    /// not yet read: the others are decoded only for a slice that needs a whole row.
    /// Nothing changes for other formats or when every column is used.
    pub fn project(&mut self, used: &[usize]) {
        if let Rows::Frame { src, .. } = &mut self.rows {
            let mut used: Vec<usize> = used
                .iter()
                .copied()
                .filter(|&i| i < self.headers.len())
                .collect();
            used.sort_unstable();
            used.dedup();
            src.projection = (used.len() < self.headers.len()).then_some(used);
        }
    }

    /// The columns of a Parquet file (rows read from it carry only their index).
    pub fn frame(&self) -> Option<std::sync::Arc<Frame>> {
        match &self.rows {
            Rows::Frame { frame, .. } => Some(frame.clone()),
            _ => None,
        }
    }

    /// Appends up to `max` rows (data and totals rows) to `out`; returns false when the
    /// file is exhausted. Rows whose cells are all empty are skipped and counted in
    /// `blank` and in the line accounting.
    pub fn next_chunk(
        &mut self,
        max: usize,
        out: &mut Vec<RawRow>,
        blank: &mut u64,
    ) -> Result<bool, String> {
        let start = out.len();
        if let Rows::Frame {
            src,
            frame,
            base,
            next,
            len,
            pool,
        } = &mut self.rows
        {
            // Parquet rows are all data: no preamble, totals or multi-line rows. A chunk
            // ends with its slice, so that its rows are indices into one frame.
            while *next >= *len {
                match src.next_frame() {
                    None => return Ok(false),
                    Some(Err(e)) => return Err(e),
                    Some(Ok((offset, f))) => {
                        *len = f.len();
                        *frame = std::sync::Arc::new(f);
                        *base = offset;
                        *next = 0;
                    }
                }
            }
            while out.len() - start < max && *next < *len {
                let i = *next;
                *next += 1;
                // Parquet rows are all data (`data-contract.md`, Real exports): a row of
                // nulls and empty texts is read, and rejected for its empty required
                // cells, never skipped as blank.
                self.lines.rows += 1;
                out.push(RawRow {
                    line: (*base + i + 2) as u32,
                    lines: 1,
                    fields: pool.pop().unwrap_or_default(),
                    numeric: Numeric::default(),
                    frame_row: i as u32,
                    problem: None,
                    kind: RowKind::Data,
                });
            }
            return Ok(*next < *len || src.has_more());
        }
        while out.len() - start < max {
            let Some(mut row) = self.next_row() else {
                return Ok(false);
            };
            if row.fields.iter().all(|f| f.trim().is_empty()) {
                *blank += 1;
                self.lines.blank += u64::from(row.lines);
                continue;
            }
            // Preamble, totals and blank rows are CSV and Excel forms (Parquet returned
            // above).
            if is_totals_row(&row.fields) {
                row.kind = RowKind::Totals;
                self.lines.totals += u64::from(row.lines);
            } else {
                self.lines.rows += u64::from(row.lines);
            }
            out.push(row);
        }
        Ok(true)
    }

    /// Takes back rows already stored: their records are refilled by the next rows read.
    pub fn recycle(&mut self, rows: Vec<RawRow>) {
        let pool = match &mut self.rows {
            Rows::Csv(c) => &mut c.pool,
            Rows::Frame { pool, .. } => pool,
            Rows::Grid { .. } => return,
        };
        let room = POOL_MAX.saturating_sub(pool.len());
        pool.extend(rows.into_iter().take(room).map(|r| r.fields));
    }

    fn next_row(&mut self) -> Option<RawRow> {
        match &mut self.rows {
            Rows::Csv(c) => c.next_row(),
            Rows::Grid { rows } => rows.next().map(|g| RawRow {
                line: g.line,
                lines: 1,
                fields: g.fields,
                numeric: g.numeric,
                frame_row: 0,
                problem: g.problem,
                kind: RowKind::Data,
            }),
            // Parquet rows are made by next_chunk from the frame.
            Rows::Frame { .. } => None,
        }
    }
}

static GUARDED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Whether a decoder of a third-party crate is running under [`guarded`]: a panic hook
/// stays silent then, since the panic becomes an ordinary error.
pub fn in_guarded_decoder() -> bool {
    GUARDED.load(std::sync::atomic::Ordering::SeqCst) > 0
}

/// Runs a third-party decoder, turning a panic inside it into an error.
fn guarded<T>(f: impl FnOnce() -> Result<T, OpenError>) -> Result<T, OpenError> {
    use std::sync::atomic::Ordering;
    GUARDED.fetch_add(1, Ordering::SeqCst);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    GUARDED.fetch_sub(1, Ordering::SeqCst);
    match r {
        Ok(r) => r,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown failure".into());
            Err(OpenError::Unreadable(format!(
                "corrupted file: the decoder failed ({})",
                what.lines().next().unwrap_or("")
            )))
        }
    }
}

/// A totals row: its first non-empty cell, trimmed, begins with 合计, 总计 or 小计.
pub fn is_totals_row(fields: &Fields) -> bool {
    totals_label(fields).is_some()
}

/// The label of a totals row (its first non-empty cell, trimmed), if it is one.
pub fn totals_label(fields: &Fields) -> Option<&str> {
    let first = fields
        .iter()
        .map(|f| f.trim_matches(|c: char| c.is_whitespace() || c == '\u{3000}'))
        .find(|f| !f.is_empty())?;
    TOTALS_LABELS
        .iter()
        .any(|l| first.starts_with(l))
        .then_some(first)
}

// ---------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------

/// Decodes CSV bytes: UTF-8 (BOM stripped) when the whole file is valid UTF-8, else
/// GB18030; an error names the byte offset and line of the first byte that is neither.
pub fn decode_csv(bytes: Vec<u8>) -> Result<(String, &'static str), String> {
    decode_csv_hashed(bytes, false).map(|(text, format, _)| (text, format))
}

/// As [`decode_csv`]; with `hash`, a GB18030 file's SHA-256 is taken of its bytes before
/// they are decoded and dropped (a UTF-8 file's text is its bytes: hashed later).
fn decode_csv_hashed(
    bytes: Vec<u8>,
    hash: bool,
) -> Result<(String, &'static str, Option<String>), String> {
    let has_bom = bytes.starts_with(UTF8_BOM);
    // One validation of the whole file: the text is kept as the String it checks.
    let (bytes, utf8_up_to) = match String::from_utf8(bytes) {
        Ok(mut text) => {
            if has_bom {
                text.drain(..3);
                return Ok((text, "csv utf-8 bom", None));
            }
            return Ok((text, "csv utf-8", None));
        }
        Err(e) => {
            let up_to = e.utf8_error().valid_up_to();
            (e.into_bytes(), up_to)
        }
    };
    // The file's hash beside its decoding, which is itself spread over the cores.
    let (text, sha) = rayon::join(
        || decode_gb18030(&bytes, GB18030_PIECE),
        || hash.then(|| crate::load::sha256_hex(&bytes)),
    );
    if let Some(text) = text {
        return Ok((text, "csv gb18030", sha));
    }
    // The file is text of one encoding up to the byte that encoding cannot read: the
    // byte named is the first that neither reads, the later of the two (a UTF-8 export
    // with one bad byte is named at that byte, not at its first Chinese character).
    let offset = first_undecodable(&bytes).max(utf8_up_to);
    let line = count_lines(&bytes[..offset]) + 1;
    Err(format!(
        "neither UTF-8 nor GB18030 text: byte {offset} (0x{:02X}) on line {line} cannot be decoded",
        bytes.get(offset).copied().unwrap_or(0)
    ))
}

/// Bytes of GB18030 text decoded as one task, about.
const GB18030_PIECE: usize = 4 << 20;

/// Decodes GB18030 bytes in pieces of about `piece` bytes on every core; None when any
/// byte cannot be decoded. A piece ends just after a line feed, and 0x0A is never part
/// of a GB18030 character (the trailing bytes of a character are 0x30-0x39 and
/// 0x40-0xFE), so each piece is whole characters and the pieces decode to the text
/// the whole file decodes to.
fn decode_gb18030(bytes: &[u8], piece: usize) -> Option<String> {
    use rayon::prelude::*;
    let mut ranges = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let at = start.saturating_add(piece.max(1)).min(bytes.len());
        let end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |k| at + k + 1);
        ranges.push(start..end);
        start = end;
    }
    let parts: Vec<Option<std::borrow::Cow<str>>> = ranges
        .into_par_iter()
        .map(|r| {
            encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(&bytes[r])
        })
        .collect();
    let mut text = String::with_capacity(parts.iter().flatten().map(|p| p.len()).sum());
    for p in parts {
        text.push_str(&p?);
    }
    Some(text)
}

/// The offset of the first byte GB18030 cannot decode.
fn first_undecodable(bytes: &[u8]) -> usize {
    use encoding_rs::DecoderResult;
    let mut dec = encoding_rs::GB18030.new_decoder_without_bom_handling();
    let mut out = String::with_capacity(bytes.len() * 3 + 16);
    let (result, read) = dec.decode_to_string_without_replacement(bytes, &mut out, true);
    match result {
        DecoderResult::Malformed(bad, extra) => {
            read.saturating_sub(usize::from(bad) + usize::from(extra))
        }
        _ => read.min(bytes.len().saturating_sub(1)),
    }
}

/// Physical lines in `bytes` that have ended: LF, CRLF and a lone CR each end one.
fn count_lines(bytes: &[u8]) -> usize {
    // One hit per line ending (SIMD search); the LF of a CRLF ends no line of its own.
    let mut n = 0;
    let mut lf_of_crlf = usize::MAX;
    for i in memchr::memchr2_iter(b'\n', b'\r', bytes) {
        if i == lf_of_crlf {
            continue;
        }
        n += 1;
        if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            lf_of_crlf = i + 1;
        }
    }
    n
}

/// Physical lines of a whole file: ended lines, plus a last line without an ending.
fn physical_lines(bytes: &[u8]) -> u64 {
    let ended = count_lines(bytes) as u64;
    match bytes.last() {
        None | Some(b'\n' | b'\r') => ended,
        Some(_) => ended + 1,
    }
}

struct CsvRows {
    /// The file's text (shared with its [`HashSource`]).
    text: std::sync::Arc<String>,
    pos: usize,
    /// Physical line at `pos`.
    line: u32,
    /// Fields of the header.
    width: usize,
    /// Records of rows already stored, cleared and refilled by the next rows: a row then
    /// costs no allocation of its own.
    pool: Vec<Fields>,
}

/// Records kept for reuse at most: about one chunk's.
const POOL_MAX: usize = 64 * 1024;

/// One record parsed from the text.
struct Record {
    fields: Fields,
    /// Offset just past the record's line ending.
    next: usize,
    /// Physical lines the record spans.
    lines: u32,
}

impl CsvRows {
    /// The end of the line starting at or containing `pos`: (end of content, start of
    /// the next line).
    fn line_end(&self, pos: usize) -> (usize, usize) {
        let t = self.text.as_bytes();
        match memchr::memchr2(b'\n', b'\r', &t[pos..]) {
            None => (t.len(), t.len()),
            Some(k) => {
                let e = pos + k;
                if t[e] == b'\r' && t.get(e + 1) == Some(&b'\n') {
                    (e, e + 2)
                } else {
                    (e, e + 1)
                }
            }
        }
    }

    /// Parses a record at `pos`. With `span`, a quoted field may run over line endings;
    /// without, a quote not closed on its line is a literal character. Returns None when
    /// a spanning field is never closed.
    fn parse(&self, pos: usize, span: bool, mut fields: Fields) -> Option<Record> {
        // Every range below starts and ends at an ASCII delimiter or at a line's ends, so
        // it is a whole UTF-8 string: an unquoted field is a range of the text, no copy.
        let s = self.text.as_str();
        let t = s.as_bytes();
        fields.clear();
        let mut field = String::new();
        let mut p = pos;
        let mut lines = 1u32;
        // The current line's end of content and the start of the line after it.
        let (mut end, mut after_line) = self.line_end(p);
        let to_comma =
            |from: usize, end: usize| memchr::memchr(b',', &t[from..end]).map_or(end, |k| from + k);
        loop {
            if t.get(p) == Some(&b'"') {
                // A quoted field: find its closing quote.
                field.clear();
                let lines_before = lines;
                let mut q = p + 1;
                let mut closed = None;
                while let Some(k) = memchr::memchr3(b'"', b'\n', b'\r', &t[q..]) {
                    let at = q + k;
                    match t[at] {
                        b'"' if t.get(at + 1) == Some(&b'"') => {
                            field.push_str(&s[q..at + 1]);
                            q = at + 2;
                        }
                        b'"' => {
                            field.push_str(&s[q..at]);
                            closed = Some(at + 1);
                            break;
                        }
                        _ if span => {
                            // A line ending inside a quoted field is part of the value.
                            let (_, next) = self.line_end(at);
                            field.push_str(&s[q..next]);
                            lines += 1;
                            q = next;
                            (end, after_line) = self.line_end(q);
                        }
                        _ => break,
                    }
                }
                match closed {
                    // A field that ran over lines must end as a quoted field ends: its
                    // closing quote followed by a comma or the line's end. A stray `"见附件`
                    // that runs on to the opening quote of a later `"已核实"` is no field:
                    // it would swallow the rows between them.
                    Some(after)
                        if span && lines > lines_before && after < end && t[after] != b',' =>
                    {
                        return None;
                    }
                    Some(after) => {
                        // Text between the closing quote and the next comma is kept as is.
                        let stop = to_comma(after, end);
                        field.push_str(&s[after..stop]);
                        fields.push(&field);
                        p = stop;
                    }
                    None if span => return None,
                    None => {
                        // Not closed on this line: the quote is a literal character.
                        let stop = to_comma(p, end);
                        fields.push_range(&self.text, p, stop);
                        p = stop;
                    }
                }
            } else {
                let stop = to_comma(p, end);
                fields.push_range(&self.text, p, stop);
                p = stop;
            }
            if p < end && t[p] == b',' {
                p += 1;
                continue;
            }
            return Some(Record {
                fields,
                next: after_line,
                lines,
            });
        }
    }

    /// The record at `pos`: spanning lines only when that gives the header's number of
    /// fields, else the line alone with unclosed quotes taken literally.
    fn record(&mut self, pos: usize) -> Record {
        let rec = self.spare();
        if let Some(r) = self.parse(pos, true, rec) {
            if r.lines == 1 || r.fields.len() == self.width {
                return r;
            }
            self.pool.push(r.fields);
        }
        let rec = self.spare();
        self.parse(pos, false, rec)
            .expect("a single-line parse always ends at the line end")
    }

    /// A record to fill: a used one when there is one.
    fn spare(&mut self) -> Fields {
        self.pool.pop().unwrap_or_default()
    }

    fn next_row(&mut self) -> Option<RawRow> {
        if self.pos >= self.text.len() {
            return None;
        }
        let line = self.line;
        let r = self.record(self.pos);
        self.pos = r.next;
        self.line += r.lines;
        let problem = (r.fields.len() != self.width).then(|| {
            format!(
                "expected {} fields as in the header, found {}",
                self.width,
                r.fields.len()
            )
        });
        Some(RawRow {
            line,
            lines: r.lines,
            fields: r.fields,
            numeric: Numeric::default(),
            frame_row: 0,
            problem,
            kind: RowKind::Data,
        })
    }
}

fn open_csv(content: Content, is_header: HeaderTest) -> Result<Opened, OpenError> {
    let (text, format, sha) = match content {
        Content::Utf8 { text, bom: false } => (text, "csv utf-8", None),
        Content::Utf8 { text, bom: true } => (text, "csv utf-8 bom", None),
        Content::Bytes(bytes) => decode_csv_hashed(bytes, true)?,
    };
    if text.is_empty() {
        // No first row: every required column is missing from it.
        return Err(OpenError::NoHeader {
            first_row: Vec::new(),
        });
    }
    let text = std::sync::Arc::new(text);
    let hash = match sha {
        Some(hex) => HashSource::Done(hex),
        None => HashSource::Utf8 {
            bom: format == "csv utf-8 bom",
            text: text.clone(),
        },
    };
    let total = physical_lines(text.as_bytes());
    let mut rows = CsvRows {
        text,
        pos: 0,
        line: 1,
        width: 0,
        pool: Vec::new(),
    };
    // The header's own quotes must close on its line: search line by line.
    let mut first_row = None;
    for _ in 0..HEADER_SEARCH_ROWS {
        if rows.pos >= rows.text.len() {
            break;
        }
        let r = rows
            .parse(rows.pos, false, Fields::default())
            .expect("a single-line parse always ends at the line end");
        let cells: Vec<String> = r.fields.iter().map(str::to_string).collect();
        let empty_line = rows.line_end(rows.pos).0 == rows.pos;
        rows.pos = r.next;
        rows.line += 1;
        if first_row.is_none() {
            first_row = Some(cells.clone());
        }
        if !empty_line && is_header(&cells) {
            let preamble = u64::from(rows.line - 2);
            rows.width = cells.len();
            return Ok(Opened {
                headers: cells,
                hash,
                format,
                lines: LineCounts {
                    total,
                    header: 1,
                    preamble,
                    ..LineCounts::default()
                },
                rows: Rows::Csv(rows),
            });
        }
    }
    Err(OpenError::NoHeader {
        first_row: first_row.unwrap_or_default(),
    })
}

// ---------------------------------------------------------------------------------------
// Excel
// ---------------------------------------------------------------------------------------

/// One sheet row: its cells as text, which came from numeric cells, its line.
struct GridRow {
    line: u32,
    fields: Fields,
    numeric: Numeric,
    problem: Option<String>,
}

/// The text of an Excel date cell: `YYYY-MM-DD`, with ` HH:MM:SS` when it has a time
/// (to the second, the milliseconds rounded). Serials outside Excel's range (below 0 or
/// past 9999) are clamped by calamine and then refused by the date range like any other
/// date; its phantom 1900-02-29 is no date at all.
fn excel_date_text(dt: &calamine::ExcelDateTime) -> String {
    let (y, mo, d, h, mi, s, ms) = dt.to_ymd_hms_milli();
    let secs = u32::from(h) * 3600 + u32::from(mi) * 60 + u32::from(s) + u32::from(ms >= 500);
    if secs == 0 {
        format!("{y:04}-{mo:02}-{d:02}")
    } else if secs >= 86_400 {
        // 23:59:59.5 and later round to the next day's midnight.
        match chrono::NaiveDate::from_ymd_opt(i32::from(y), u32::from(mo), u32::from(d))
            .and_then(|day| day.succ_opt())
        {
            Some(next) => next.format("%Y-%m-%d").to_string(),
            None => format!("{y:04}-{mo:02}-{d:02} 23:59:59"),
        }
    } else {
        format!(
            "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

/// A cell as text, and whether it was a number.
fn cell_text(c: calamine::Data) -> (String, bool) {
    use calamine::Data;
    match c {
        Data::Empty => (String::new(), false),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => (s, false),
        Data::Float(f) => (spreadsheet_number(f), true),
        Data::Int(i) => (i.to_string(), true),
        Data::Bool(b) => (b.to_string(), false),
        // A date cell is read as the date it shows, in the workbook's own date system
        // (1900 or 1904); a duration stays its number.
        Data::DateTime(dt) if dt.is_datetime() => (excel_date_text(&dt), false),
        Data::DateTime(dt) => (spreadsheet_number(dt.as_f64()), false),
        // As the sheet shows it: `#N/A`, `#DIV/0!`.
        Data::Error(e) => (e.to_string(), false),
    }
}

/// Cells of a sheet, sparse: (row, column, text, numeric), in row order.
type SparseCells = Vec<(u32, u32, String, bool)>;

/// A workbook's first sheet as read.
#[derive(Debug)]
struct Sheet {
    cells: SparseCells,
    /// The workbook counts its dates from 1904: a number in a date column is a day of
    /// that system (a date cell is read as the date it shows either way).
    date1904: bool,
}

/// Refuses a workbook whose parts would expand out of proportion to its size (a zip bomb:
/// the zip reader stops every part at its stated size, so the stated sizes bound what
/// reading it costs), or whose shared-string table declares more strings than its bytes
/// can hold: calamine reserves room for the declared count before reading a string, so a
/// 3 KB file declaring two billion would abort the process for want of 48 GB.
fn check_workbook_sizes(bytes: &[u8]) -> Result<(), String> {
    use std::io::Read;
    // Anything calamine cannot open either is its own error, below.
    let Ok(mut zip) = ::zip::ZipArchive::new(Cursor::new(bytes)) else {
        return Ok(());
    };
    let stated = (0..zip.len())
        .filter_map(|i| zip.by_index_raw(i).ok().map(|e| e.size()))
        .fold(0u64, u64::saturating_add);
    if out_of_proportion(stated, bytes.len() as u64) {
        return Err(format!(
            "hostile workbook: its parts expand to {stated} bytes from {} bytes",
            bytes.len()
        ));
    }
    for i in 0..zip.len() {
        let Ok(entry) = zip.by_index(i) else {
            continue;
        };
        let name = entry
            .name()
            .map(|n| n.to_ascii_lowercase())
            .unwrap_or_default();
        if !name.ends_with("sharedstrings.xml") {
            continue;
        }
        let size = entry.size();
        let mut head = Vec::with_capacity(4096);
        let _ = entry.take(4096).read_to_end(&mut head);
        let head = String::from_utf8_lossy(&head);
        let declared = ["uniqueCount=\"", "uniqueCount='"].iter().find_map(|attr| {
            let at = head.find(attr)? + attr.len();
            let digits: String = head[at..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse::<u64>().ok()
        });
        // Every string takes at least `<si/>`: five bytes.
        if let Some(n) = declared.filter(|&n| n > size / 5 + 1_000) {
            return Err(format!(
                "hostile or broken workbook: its shared-string table declares {n} strings in {size} bytes"
            ));
        }
    }
    Ok(())
}

fn xlsx_cells(bytes: Vec<u8>) -> Result<Sheet, String> {
    let allowed = expansion_allowed(bytes.len() as u64);
    xlsx_cells_within(bytes, allowed)
}

/// The cells of a workbook's first sheet, refused once their text comes to more than
/// `allowed` bytes.
fn xlsx_cells_within(bytes: Vec<u8>, allowed: u64) -> Result<Sheet, String> {
    use calamine::Reader;
    check_workbook_sizes(&bytes)?;
    let size = bytes.len() as u64;
    let mut wb = calamine::Xlsx::new(Cursor::new(bytes))
        .map_err(|e| format!("not an XLSX workbook: {e}"))?;
    let name = first_worksheet(wb.sheets_metadata()).ok_or("the workbook has no worksheet")?;
    // The cell reader streams the cells that exist; it never allocates the sheet's
    // declared dimension (a single cell at XFD1048576 would be 17 billion cells).
    let mut reader = wb
        .worksheet_cells_reader(&name)
        .map_err(|e| format!("cannot read the first sheet: {e}"))?;
    let mut cells = Vec::new();
    // A shared string is stored once and may be used by every cell: the text the cells
    // come to is counted as they are read (`out_of_proportion`).
    let mut text_bytes = 0u64;
    while let Some(cell) = reader
        .next_cell()
        .map_err(|e| format!("cannot read the first sheet: {e}"))?
    {
        let (text, numeric) = cell_text(cell.get_value().clone().into());
        if text.is_empty() {
            continue;
        }
        text_bytes += text.len() as u64;
        if text_bytes > allowed {
            return Err(format!(
                "hostile workbook: its cells' text comes to more than {text_bytes} bytes from {size} bytes"
            ));
        }
        let (r, c) = cell.get_position();
        cells.push((r, c, text, numeric));
    }
    drop(reader);
    Ok(Sheet {
        cells,
        date1904: wb.has_1904_epoch(),
    })
}

/// "The first sheet" of a workbook: its first worksheet, in the workbook's order (hidden
/// or not, as the contract says); a chart sheet, dialog or macro sheet before it holds no
/// table.
fn first_worksheet(sheets: &[calamine::Sheet]) -> Option<String> {
    sheets
        .iter()
        .find(|s| s.typ == calamine::SheetType::WorkSheet)
        .map(|s| s.name.clone())
}

fn xls_cells(bytes: Vec<u8>) -> Result<Sheet, String> {
    use calamine::Reader;
    crate::xls_guard::check_workbook(&bytes, expansion_allowed(bytes.len() as u64))?;
    let mut wb =
        calamine::Xls::new(Cursor::new(bytes)).map_err(|e| format!("not an XLS workbook: {e}"))?;
    let name = first_worksheet(wb.sheets_metadata()).ok_or("the workbook has no worksheet")?;
    let range = wb
        .worksheet_range(&name)
        .map_err(|e| format!("cannot read the first sheet: {e}"))?;
    let mut cells = Vec::new();
    for (r, c, v) in range.used_cells() {
        let (text, numeric) = cell_text(v.clone());
        if !text.is_empty() {
            let (r0, c0) = range.start().unwrap_or((0, 0));
            cells.push((r0 + r as u32, c0 + c as u32, text, numeric));
        }
    }
    Ok(Sheet {
        cells,
        date1904: wb.has_1904_epoch(),
    })
}

/// Refuses a sheet whose extent is out of proportion to what it holds.
fn check_extent(cells: &SparseCells) -> Result<(), String> {
    let rows_with_values = {
        let mut n = 0u64;
        let mut last = None;
        for (r, ..) in cells {
            if last != Some(*r) {
                n += 1;
                last = Some(*r);
            }
        }
        n
    };
    let spanned = cells.iter().map(|c| u64::from(c.0) + 1).max().unwrap_or(0);
    if spanned > 10_000 + 100 * rows_with_values {
        return Err(format!(
            "hostile or broken workbook: the sheet spans {spanned} rows but only \
             {rows_with_values} hold values"
        ));
    }
    Ok(())
}

fn open_excel(ext: &str, bytes: Vec<u8>, is_header: HeaderTest) -> Result<Opened, OpenError> {
    let hash = HashSource::Done(crate::load::sha256_hex(&bytes));
    let Sheet {
        mut cells,
        date1904,
    } = if ext == "xls" {
        xls_cells(bytes)?
    } else {
        xlsx_cells(bytes)?
    };
    cells.sort_by_key(|c| (c.0, c.1));
    check_extent(&cells)?;
    // Rows by index; the header is the first of the first 20 rows passing the test.
    let row_cells = |r: u32| {
        let from = cells.partition_point(|c| c.0 < r);
        let to = cells.partition_point(|c| c.0 <= r);
        &cells[from..to]
    };
    let dense = |part: &[(u32, u32, String, bool)], width: usize| {
        let mut v = vec![String::new(); width];
        let mut numeric = Numeric::default();
        numeric.date1904 = date1904;
        for (_, c, t, n) in part {
            let c = *c as usize;
            if c < width {
                v[c] = t.clone();
                if *n {
                    numeric.set(c);
                }
            }
        }
        (v, numeric)
    };
    let mut header = None;
    let mut first_row = None;
    for r in 0..HEADER_SEARCH_ROWS as u32 {
        let part = row_cells(r);
        // Columns past MAX_COLUMNS are no export's: a stray cell far to the right must
        // not make every row that wide.
        let width = part.last().map_or(0, |c| c.1 as usize + 1).min(MAX_COLUMNS);
        let (cells_r, _) = dense(part, width);
        if r == 0 {
            first_row = Some(cells_r.clone());
        }
        if !part.is_empty() && is_header(&cells_r) {
            header = Some((r, cells_r));
            break;
        }
    }
    let Some((hr, headers)) = header else {
        return Err(OpenError::NoHeader {
            first_row: first_row.unwrap_or_default(),
        });
    };
    let width = headers.len();
    let last_row = cells.last().map_or(hr, |c| c.0);
    let mut rows = Vec::with_capacity((last_row - hr) as usize);
    for r in hr + 1..=last_row {
        let part = row_cells(r);
        let (v, numeric) = dense(part, width.max(1));
        let inside_blank = v.iter().all(|f| f.trim().is_empty());
        // A row whose values all stand right of the header's columns would read as blank
        // and be lost without a word: it is read, with every cell, and rejected.
        let beyond = part
            .iter()
            .filter(|(_, c, t, _)| *c as usize >= width && !t.trim().is_empty())
            .map(|(_, c, _, _)| *c as usize + 1)
            .max();
        let (fields, problem): (Fields, _) = match beyond {
            Some(end) if inside_blank => {
                let (all, _) = dense(part, end.min(MAX_COLUMNS));
                (
                    all.iter().collect(),
                    Some(format!(
                        "values only right of the header's {width} columns (expected {width} fields as in the header, found {})",
                        end.min(MAX_COLUMNS)
                    )),
                )
            }
            _ => (v.iter().take(width.max(1)).collect(), None),
        };
        rows.push(GridRow {
            line: r + 1,
            fields,
            numeric,
            problem,
        });
    }
    Ok(Opened {
        headers,
        hash,
        format: if ext == "xls" { "xls" } else { "xlsx" },
        lines: LineCounts {
            total: u64::from(last_row) + 1,
            header: 1,
            preamble: u64::from(hr),
            ..LineCounts::default()
        },
        rows: Rows::Grid {
            rows: rows.into_iter(),
        },
    })
}

// ---------------------------------------------------------------------------------------
// Parquet
// ---------------------------------------------------------------------------------------

/// The stored number of a date (days since 1970-01-01) or date-time (units since then)
/// cell, as text.
fn stored_number(col: &Column, row: usize) -> String {
    col.to_physical_repr()
        .cast(&DataType::Int64)
        .ok()
        .and_then(|c| c.i64().ok().and_then(|a| a.get(row)))
        .map(|n| n.to_string())
        .unwrap_or_default()
}

/// Which cells of a column are null.
fn nulls(c: &Column) -> Vec<bool> {
    c.as_materialized_series()
        .is_null()
        .iter()
        .map(|v| v.unwrap_or(true))
        .collect()
}

/// An integer column's values, whatever its width and sign.
fn integer_values(c: &Column) -> Option<Vec<Option<i128>>> {
    let s = c.as_materialized_series();
    if let Ok(u) = s.u64() {
        return Some(u.iter().map(|v| v.map(i128::from)).collect());
    }
    let i = s.cast(&DataType::Int64).ok()?;
    Some(i.i64().ok()?.iter().map(|v| v.map(i128::from)).collect())
}

/// A number's text as polars writes an integer (scale 0) or a decimal of that scale:
/// `-12`, `320.00`, `0.05`, `-1.5000`.
fn number_text(m: i128, scale: u32) -> String {
    if scale == 0 {
        return m.to_string();
    }
    let digits = m.unsigned_abs().to_string();
    let sign = if m < 0 { "-" } else { "" };
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

/// The number of mantissa `m` and `scale` in fen (its mantissa at scale 2), when it is
/// a whole number of fen: `decimal(12,3)` 300.000 is 30000 fen, 320.125 none.
fn whole_fen(m: i128, scale: u32) -> Option<i128> {
    if scale > 2 {
        let unit = 10i128.checked_pow(scale - 2)?;
        (m % unit == 0).then_some(m / unit)
    } else {
        m.checked_mul(10i128.pow(2 - scale))
    }
}

/// A decimal's text: with 2 places when its type has more but the value is a whole
/// number of fen (`decimal(12,3)` 300.000 reads `300.00`, as its value is), else as
/// [`number_text`] writes it (`1.0050`, which the amount reading rejects).
fn decimal_text(m: i128, scale: u32) -> String {
    match whole_fen(m, scale) {
        Some(fen) if scale > 2 => number_text(fen, 2),
        _ => number_text(m, scale),
    }
}

/// A `date32` column's values.
fn date_days(c: &Column) -> Option<Vec<Option<NaiveDate>>> {
    let phys = c.to_physical_repr();
    let ints = phys.i32().ok()?;
    let epoch = qianbiao_core::date::EPOCH_DAYS_FROM_CE;
    Some(
        ints.iter()
            .map(|v| v.and_then(|d| NaiveDate::from_num_days_from_ce_opt(d.checked_add(epoch)?)))
            .collect(),
    )
}

/// A timestamp column's values to the second, zoned ones in China Standard Time (the
/// values [`Frame::text`] writes as text).
fn datetime_values(c: &Column, unit: TimeUnit, zoned: bool) -> Option<Vec<Option<NaiveDateTime>>> {
    let phys = c.to_physical_repr();
    let ints = phys.i64().ok()?;
    let per_sec: i64 = match unit {
        TimeUnit::Nanoseconds => 1_000_000_000,
        TimeUnit::Microseconds => 1_000_000,
        TimeUnit::Milliseconds => 1_000,
    };
    let shift = if zoned {
        i64::from(qianbiao_core::date::CST_OFFSET)
    } else {
        0
    };
    Some(
        ints.iter()
            .map(|v| {
                v.and_then(|v| {
                    chrono::DateTime::from_timestamp(v.div_euclid(per_sec) + shift, 0)
                        .map(|d| d.naive_utc())
                })
            })
            .collect(),
    )
}

/// Slices (row offset, rows) of whole row groups of about `slice_rows` rows.
fn row_group_slices(
    metadata: &polars::prelude::FileMetadataRef,
    slice_rows: usize,
) -> Vec<(usize, usize)> {
    slices_of_groups(&metadata.row_groups, 0, slice_rows)
}

/// The slices of row groups `groups`, the first of which starts at row `start`.
fn slices_of_groups(
    groups: &[polars_parquet::parquet::metadata::RowGroupMetadata],
    mut start: usize,
    slice_rows: usize,
) -> Vec<(usize, usize)> {
    let mut slices = Vec::new();
    let mut rows = 0usize;
    for rg in groups {
        rows += rg.num_rows();
        if rows >= slice_rows {
            slices.push((start, rows));
            start += rows;
            rows = 0;
        }
    }
    if rows > 0 {
        slices.push((start, rows));
    }
    slices
}

/// The floor a run is measured against for a Parquet file: polars reads every column of
/// every row, a slice of row groups at a time as the engine does (a province's files do
/// not fit in memory as frames); returns the rows.
pub(crate) fn parquet_scan(bytes: Vec<u8>) -> Result<usize, String> {
    let bytes = SharedBytes(std::sync::Arc::new(bytes));
    let mut reader = ParquetReader::new(Cursor::new(bytes.clone()));
    let metadata = reader.get_metadata().map_err(|e| e.to_string())?.clone();
    let mut rows = 0;
    for slice in row_group_slices(&metadata, SLICE_ROWS) {
        rows += read_slice(&bytes, &metadata, slice, None)
            .map_err(|e| e.to_string())?
            .height();
    }
    Ok(rows)
}

fn open_parquet(bytes: Vec<u8>) -> Result<Opened, OpenError> {
    open_parquet_sliced(bytes, SLICE_ROWS)
}

/// polars is built without its 8- and 16-bit integer types (each such feature costs every
/// clean build), so a file with a column of them (a period as `int16`, a disability level
/// as `int8`) could not be read at all. Such columns are stored as 32-bit integers in
/// Parquet, annotated as narrower: the annotation is dropped from a copy of the footer
/// (and pyarrow's embedded Arrow schema, which would restore it), and polars reads them
/// as the 32-bit integers they are stored as. None when the file has no such column.
fn widen_small_integers(
    metadata: &polars::prelude::FileMetadataRef,
    schema: &ArrowSchema,
) -> Option<polars::prelude::FileMetadataRef> {
    use polars_parquet::parquet::metadata::SchemaDescriptor;
    use polars_parquet::parquet::schema::types::{
        IntegerType, ParquetType, PrimitiveConvertedType, PrimitiveLogicalType,
    };
    let narrow = |d: &ArrowDataType| {
        matches!(
            d,
            ArrowDataType::Int8
                | ArrowDataType::Int16
                | ArrowDataType::UInt8
                | ArrowDataType::UInt16
        )
    };
    if !schema.iter_values().any(|f| narrow(f.dtype())) {
        return None;
    }
    let fields: Vec<ParquetType> = metadata
        .schema()
        .fields()
        .iter()
        .map(|f| match f {
            ParquetType::PrimitiveType(p) => {
                let mut p = p.clone();
                if matches!(
                    p.logical_type,
                    Some(PrimitiveLogicalType::Integer(
                        IntegerType::Int8
                            | IntegerType::Int16
                            | IntegerType::UInt8
                            | IntegerType::UInt16
                    ))
                ) {
                    p.logical_type = None;
                }
                if matches!(
                    p.converted_type,
                    Some(
                        PrimitiveConvertedType::Int8
                            | PrimitiveConvertedType::Int16
                            | PrimitiveConvertedType::Uint8
                            | PrimitiveConvertedType::Uint16
                    )
                ) {
                    p.converted_type = None;
                }
                ParquetType::PrimitiveType(p)
            }
            other => other.clone(),
        })
        .collect();
    let mut widened = (**metadata).clone();
    widened.schema_descr = SchemaDescriptor::new(metadata.schema().name().into(), fields);
    if let Some(kv) = &mut widened.key_value_metadata {
        kv.retain(|e| e.key != "ARROW:schema");
    }
    Some(std::sync::Arc::new(widened))
}

/// Opens a Parquet file to be read in slices of whole row groups of about `slice_rows`.
fn open_parquet_sliced(bytes: Vec<u8>, slice_rows: usize) -> Result<Opened, OpenError> {
    let size = bytes.len() as u64;
    let bytes = SharedBytes(std::sync::Arc::new(bytes));
    let mut reader = ParquetReader::new(Cursor::new(bytes.clone()));
    let declared = reader
        .num_rows()
        .map_err(|e| format!("not a readable Parquet file: {e}"))? as u64;
    // A row costs at least a few bits even in the best encodings; a file claiming far
    // more rows than its bytes could hold is hostile or broken, and decoding it would
    // exhaust memory.
    if declared > 100_000 + size.saturating_mul(16) {
        return Err(format!(
            "hostile or broken Parquet file: it declares {declared} rows in {size} bytes"
        )
        .into());
    }
    let metadata = reader
        .get_metadata()
        .map_err(|e| format!("not a readable Parquet file: {e}"))?
        .clone();
    let schema = reader
        .schema()
        .map_err(|e| format!("not a readable Parquet file: {e}"))?;
    let metadata = widen_small_integers(&metadata, &schema).unwrap_or(metadata);
    // Pages whose stated size is out of proportion to the file would be decompressed into
    // that much memory.
    let pages: u64 = metadata
        .row_groups
        .iter()
        .map(|rg| rg.total_byte_size() as u64)
        .fold(0, u64::saturating_add);
    if out_of_proportion(pages, size) {
        return Err(format!(
            "hostile or broken Parquet file: it declares {pages} bytes of pages in {size} bytes"
        )
        .into());
    }
    let headers: Vec<String> = schema.iter_names().map(|s| s.to_string()).collect();
    let slices = row_group_slices(&metadata, slice_rows);
    let total = slices.last().map_or(0, |(start, rows)| start + rows);
    if total as u64 != declared {
        return Err(format!(
            "broken Parquet file: its row groups hold {total} rows, its footer says {declared}"
        )
        .into());
    }
    Ok(Opened {
        headers,
        hash: HashSource::Bytes(bytes.0.clone()),
        format: "parquet",
        lines: LineCounts {
            total: total as u64 + 1,
            header: 1,
            ..LineCounts::default()
        },
        rows: Rows::Frame {
            src: ParquetSlices {
                bytes,
                metadata,
                slices: slices.into_iter(),
                total,
                projection: None,
                ahead: None,
                text: TextBudget::new(size),
            },
            frame: std::sync::Arc::new(Frame {
                cols: Vec::new(),
                len: 0,
                whole: None,
            }),
            base: 0,
            next: 0,
            len: 0,
            pool: Vec::new(),
        },
    })
}

/// Cell `row` of a text column; a null is empty.
fn text_at(a: &Utf8ViewArray, row: usize) -> &str {
    if a.is_null(row) {
        ""
    } else {
        a.value(row)
    }
}

/// The engine's columns of a slice of a Parquet file.
fn frame_of(df: &DataFrame) -> Frame {
    let len = df.height();
    let mut cols = Vec::with_capacity(df.width());
    for c in df.columns() {
        // Dates and date-times are read as they are stored; other types by their text.
        // A column of a type with no text form (lists, structs) cannot be one of ours:
        // read it as empty, like a column the contract does not list, rather than refuse
        // the file. A required column of such a type then rejects its rows as empty.
        let typed = match c.dtype() {
            DataType::Date => date_days(c).map(|days| FrameCol::Date {
                days,
                null: nulls(c),
                col: c.clone(),
            }),
            DataType::Decimal(_, scale) => c.decimal().ok().and_then(|d| {
                Some(FrameCol::Number {
                    values: d.physical().iter().collect(),
                    scale: u32::try_from(*scale).ok()?,
                })
            }),
            dt if dt.is_integer() => {
                integer_values(c).map(|values| FrameCol::Number { values, scale: 0 })
            }
            DataType::Datetime(unit, tz) => {
                datetime_values(c, *unit, tz.is_some()).map(|at| FrameCol::Datetime {
                    at,
                    null: nulls(c),
                    col: c.clone(),
                    unit: *unit,
                    zoned: tz.is_some(),
                })
            }
            _ => None,
        };
        if let Some(t) = typed {
            cols.push(t);
            continue;
        }
        let s = c
            .cast(&DataType::String)
            .ok()
            .and_then(|t| t.str().ok().map(|s| s.rechunk().into_owned()))
            .unwrap_or_else(|| StringChunked::full_null(c.name().clone(), len));
        let array = s
            .downcast_iter()
            .next()
            .cloned()
            .unwrap_or_else(|| Utf8ViewArray::new_null(ArrowDataType::Utf8View, len));
        cols.push(FrameCol::Text(array));
    }
    Frame {
        cols,
        len,
        whole: None,
    }
}

/// Re-creates a row's text for `rejected.csv`: cells joined by commas, quoted where needed.
pub fn raw_line(fields: &Fields) -> String {
    let mut out = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if f.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excel_numbers_read_as_the_sheet_shows_them() {
        assert_eq!(spreadsheet_number(0.1 + 0.2), "0.3");
        assert_eq!(spreadsheet_number(1000.55 * 3.0), "3001.65");
        assert_eq!(spreadsheet_number(320.0), "320");
        assert_eq!(spreadsheet_number(123.456), "123.456");
        assert_eq!(spreadsheet_number(0.005), "0.005");
        assert_eq!(spreadsheet_number(-12.5), "-12.5");
        assert_eq!(spreadsheet_number(2022.0), "2022");
        assert_eq!(
            spreadsheet_number(371_323_198_001_016_073f64),
            "371323198001016060"
        );
        assert_eq!(spreadsheet_number(99_999_999.99), "99999999.99");
    }

    #[test]
    fn excel_date_cells_read_as_the_date_they_show() {
        use calamine::{ExcelDateTime, ExcelDateTimeType::DateTime};
        let text =
            |v: f64, is_1904: bool| excel_date_text(&ExcelDateTime::new(v, DateTime, is_1904));
        assert_eq!(text(44505.0, false), "2021-11-05");
        assert_eq!(text(44505.395833333, false), "2021-11-05 09:30:00");
        // The 1904 date system: the same day is 1,462 days less.
        assert_eq!(text(43043.0, true), "2021-11-05");
        assert_eq!(text(43043.5, true), "2021-11-05 12:00:00");
        // A date cell before 1927 is still its date (a serial typed as text would not be).
        assert_eq!(text(7306.0, false), "1920-01-01");
        // Excel's phantom day stays what it shows, which no date reader takes.
        assert_eq!(text(60.0, false), "1900-02-29");
        // Half a second before midnight rounds to the next day.
        assert_eq!(text(44505.0 + 86_399.6 / 86_400.0, false), "2021-11-06");
    }

    #[test]
    fn date32_days_are_the_calendar_days_from_1970() {
        let days: Vec<Option<i32>> = vec![
            Some(0),
            Some(-1),
            Some(19_000),
            None,
            Some(i32::MAX),
            Some(i32::MIN),
        ];
        let c = Column::new("d".into(), days).cast(&DataType::Date).unwrap();
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd);
        assert_eq!(
            date_days(&c).unwrap(),
            [
                d(1970, 1, 1),
                d(1969, 12, 31),
                d(2022, 1, 8),
                None,
                None,
                None
            ]
        );
    }

    #[test]
    fn numbers_are_written_as_polars_writes_them() {
        let ints: Vec<Option<i64>> = vec![Some(0), Some(-7), Some(320), Some(i64::MAX), None];
        let c = Column::new("x".into(), ints.clone());
        let text = c.cast(&DataType::String).unwrap();
        let values = integer_values(&c).unwrap();
        for (i, v) in values.iter().enumerate() {
            let want = text.str().unwrap().get(i).map(str::to_string);
            assert_eq!(v.map(|m| number_text(m, 0)), want);
        }
        for scale in 0..=4usize {
            let m: Vec<Option<i128>> = [0i128, 5, -5, 150, -150, 32_000, 1_000_000_007, -99]
                .into_iter()
                .map(Some)
                .collect();
            let s = Series::new("d".into(), m.clone())
                .into_decimal(18, scale)
                .unwrap();
            let text = s.cast(&DataType::String).unwrap();
            for (i, v) in m.iter().enumerate() {
                let want = text.str().unwrap().get(i).unwrap().to_string();
                assert_eq!(number_text(v.unwrap(), scale as u32), want, "scale {scale}");
            }
        }
    }

    fn all_rows(o: &mut Opened) -> Vec<RawRow> {
        let mut v = Vec::new();
        let mut blank = 0;
        while o.next_chunk(2, &mut v, &mut blank).unwrap() {}
        v
    }

    fn cells(r: &RawRow) -> Vec<&str> {
        r.fields.iter().collect()
    }

    #[test]
    fn line_endings_are_counted_as_lf_crlf_and_lone_cr() {
        // Against the plain byte loop it replaced, over every mix of a, CR and LF.
        fn by_bytes(bytes: &[u8]) -> usize {
            let (mut n, mut i) = (0, 0);
            while i < bytes.len() {
                match bytes[i] {
                    b'\n' => n += 1,
                    b'\r' => {
                        n += 1;
                        if bytes.get(i + 1) == Some(&b'\n') {
                            i += 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            n
        }
        for len in 0..=7u32 {
            for code in 0..3u32.pow(len) {
                let bytes: Vec<u8> = (0..len)
                    .map(|k| [b'a', b'\r', b'\n'][(code / 3u32.pow(k) % 3) as usize])
                    .collect();
                assert_eq!(count_lines(&bytes), by_bytes(&bytes), "{bytes:?}");
            }
        }
        assert_eq!(count_lines(b"a\r\n\r\nb\rc\n"), 4);
    }

    #[test]
    fn recycled_records_carry_nothing_of_their_old_rows() {
        let csv = "a,b,c\nlong-value-x,\"q,u\"\"oted\",zz\n1,2,3\n4,5\n\"x\ny\",7,8\n,,\n9,10,11\n";
        let mut o = Opened::from_bytes("csv", csv.as_bytes().to_vec()).unwrap();
        let mut blank = 0;
        let mut seen: Vec<(u32, Vec<String>)> = Vec::new();
        loop {
            let mut chunk = Vec::new();
            let more = o.next_chunk(1, &mut chunk, &mut blank).unwrap();
            seen.extend(
                chunk
                    .iter()
                    .map(|r| (r.line, cells(r).iter().map(|c| c.to_string()).collect())),
            );
            // Every row goes back to the reader before the next one is read.
            o.recycle(chunk);
            if !more {
                break;
            }
        }
        let want: Vec<(u32, Vec<&str>)> = vec![
            (2, vec!["long-value-x", "q,u\"oted", "zz"]),
            (3, vec!["1", "2", "3"]),
            (4, vec!["4", "5"]),
            (5, vec!["x\ny", "7", "8"]),
            (8, vec!["9", "10", "11"]),
        ];
        let seen: Vec<(u32, Vec<&str>)> = seen
            .iter()
            .map(|(l, c)| (*l, c.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(seen, want);
        assert_eq!(blank, 1);
    }

    #[test]
    fn a_file_read_in_pieces_is_its_text_whatever_the_pieces_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        let text = "流水号,身份证号码,姓名\nT1,110101199003078515,王𠀋娜\r\nT2,x,é\n";
        for (bytes, bom) in [
            (text.as_bytes().to_vec(), false),
            ([UTF8_BOM, text.as_bytes()].concat(), true),
        ] {
            std::fs::write(&path, &bytes).unwrap();
            for piece in 1..=9 {
                let got = read_utf8(&path, piece).unwrap();
                assert_eq!(got, Some((text.to_string(), bom)), "piece {piece}");
            }
        }
        // Not UTF-8: GB18030, a byte that is never UTF-8, a character cut by the end.
        let gb = encoding_rs::GB18030.encode(text).0.into_owned();
        let cut = &text.as_bytes()[..text.len() - 2];
        for bytes in [&gb[..], b"a,b\n\xFF\n", cut] {
            std::fs::write(&path, bytes).unwrap();
            for piece in [1, 2, 3, 5, READ_PIECE] {
                assert_eq!(read_utf8(&path, piece).unwrap(), None, "piece {piece}");
            }
            match read_content(&path, "csv").unwrap() {
                Content::Bytes(b) => assert_eq!(b, bytes),
                Content::Utf8 { .. } => panic!("read as UTF-8"),
            }
        }
        std::fs::write(&path, b"").unwrap();
        assert_eq!(read_utf8(&path, 4).unwrap(), Some((String::new(), false)));
        assert!(read_content(&dir.path().join("missing.csv"), "csv").is_err());
    }

    #[test]
    fn csv_utf8_bom_and_gb18030_agree() {
        let text = "姓名,金额\n王涛,320\n\"李,四\",\"1,000.00\"\n";
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        let (gbk, _, _) = encoding_rs::GB18030.encode(text);
        for (bytes, fmt) in [
            (text.as_bytes().to_vec(), "csv utf-8"),
            (bom, "csv utf-8 bom"),
            (gbk.into_owned(), "csv gb18030"),
        ] {
            let sha = crate::load::sha256_hex(&bytes);
            let mut o = Opened::from_bytes("csv", bytes).unwrap();
            assert_eq!(o.format, fmt);
            // The hash is of the file's bytes, BOM and GB18030 encoding included.
            assert_eq!(o.hash.sha256().unwrap(), sha, "{fmt}");
            assert_eq!(o.headers, ["姓名", "金额"]);
            let rows = all_rows(&mut o);
            assert_eq!(rows.len(), 2);
            assert_eq!(rows[0].line, 2);
            assert_eq!(cells(&rows[1]), ["李,四", "1,000.00"]);
        }
    }

    #[test]
    fn csv_lines_and_ragged_rows() {
        let text = "a,b\n1,2\n\n3\n,\n4,5,6\n";
        let mut o = Opened::from_bytes("csv", text.as_bytes().to_vec()).unwrap();
        let mut v = Vec::new();
        let mut blank = 0;
        while o.next_chunk(10, &mut v, &mut blank).unwrap() {}
        // The empty line and the row of empty cells.
        assert_eq!(blank, 2);
        let lines: Vec<u32> = v.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 4, 6]);
        assert!(v[0].problem.is_none());
        assert!(v[1].problem.as_deref().unwrap().contains("found 1"));
        assert!(v[2].problem.as_deref().unwrap().contains("found 3"));
        assert_eq!(o.lines.total, 6);
        assert_eq!(o.lines.accounted(), 6);
    }

    #[test]
    fn a_stray_quote_swallows_no_line() {
        // The 备注 cell opens a quote that never closes: each line stays its own row.
        let text = "txn,amount,note\nT1,320,\"见附件\nT2,320,ok\nT3,320,ok\n";
        let mut o = Opened::from_bytes("csv", text.as_bytes().to_vec()).unwrap();
        let rows = all_rows(&mut o);
        assert_eq!(rows.len(), 3);
        assert_eq!(cells(&rows[0]), ["T1", "320", "\"见附件"]);
        assert_eq!(rows[1].line, 3);
        assert_eq!(cells(&rows[2]), ["T3", "320", "ok"]);
        assert_eq!(o.lines.total, 4);
        assert_eq!(o.lines.accounted(), 4);
    }

    #[test]
    fn a_quoted_field_spans_lines_when_the_row_fits_the_header() {
        let text = "txn,amount,note\nT1,320,\"line one\r\nline two\"\nT2,320,ok";
        let mut o = Opened::from_bytes("csv", text.as_bytes().to_vec()).unwrap();
        let rows = all_rows(&mut o);
        assert_eq!(rows.len(), 2);
        assert_eq!(cells(&rows[0])[2], "line one\r\nline two");
        assert_eq!(rows[0].lines, 2);
        assert_eq!(rows[1].line, 4);
        assert_eq!(o.lines.total, 4);
        assert_eq!(o.lines.accounted(), 4);
    }

    #[test]
    fn a_stray_quote_in_the_header_reads_every_row() {
        let text = "txn,\"amount,note\nT1,320,x\nT2,320,y\n";
        let mut o = Opened::from_bytes("csv", text.as_bytes().to_vec()).unwrap();
        assert_eq!(o.headers, ["txn", "\"amount", "note"]);
        assert_eq!(all_rows(&mut o).len(), 2);
    }

    #[test]
    fn lone_cr_line_endings_count_lines() {
        let text = "a,b\r1,2\r3,4\r";
        let mut o = Opened::from_bytes("csv", text.as_bytes().to_vec()).unwrap();
        let rows = all_rows(&mut o);
        let lines: Vec<u32> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 3]);
        assert_eq!(o.lines.total, 3);
    }

    #[test]
    fn preamble_and_totals_rows() {
        let text = "店子镇2022年度缴费明细\n制表单位：店子镇,,\n\ntxn,amount\nT1,320\n小计,320\nT2,100\n合计,420\n";
        let test = |c: &[String]| c.iter().any(|h| h == "txn");
        let mut o = Opened::open("csv", text.as_bytes().to_vec(), &test).unwrap();
        assert_eq!(o.headers, ["txn", "amount"]);
        assert_eq!(o.lines.preamble, 3);
        let rows = all_rows(&mut o);
        let kinds: Vec<(u32, RowKind)> = rows.iter().map(|r| (r.line, r.kind)).collect();
        assert_eq!(
            kinds,
            [
                (5, RowKind::Data),
                (6, RowKind::Totals),
                (7, RowKind::Data),
                (8, RowKind::Totals)
            ]
        );
        assert_eq!(o.lines.totals, 2);
        assert_eq!(o.lines.total, 8);
        assert_eq!(o.lines.accounted(), 8);
    }

    #[test]
    fn no_header_in_the_first_rows() {
        let text = "a title\nx,y\n1,2\n";
        match Opened::open("csv", text.as_bytes().to_vec(), &|_| false) {
            Err(OpenError::NoHeader { first_row }) => assert_eq!(first_row, ["a title"]),
            _ => panic!("expected NoHeader"),
        }
    }

    #[test]
    fn undecodable_bytes_are_refused_with_their_position() {
        let e = Opened::from_bytes("csv", b"a\nb\n\x81\x20".to_vec())
            .err()
            .unwrap();
        assert!(e.contains("byte 4") && e.contains("line 3"), "{e}");
        assert!(Opened::from_bytes("csv", Vec::new()).is_err());
    }

    #[test]
    fn a_csv_file_just_opened_hints_its_lines_below_the_header() {
        let row = "T0001,11010519491231002X,居民医保,2022,320.00,2021-11-05 08:00:00\n";
        let text = format!("缴费明细表\ntxn_id,id_number\n{}", row.repeat(50));
        let o = Opened::from_bytes("csv", text.into_bytes()).unwrap();
        // The first line is taken as the header here: the title's line is the header.
        assert_eq!(o.remaining_hint(), 51);
        // Empty lines are no rows: at most one row per 32 bytes.
        let text = format!("txn_id,id_number\n{}", "\n".repeat(10_000));
        let o = Opened::from_bytes("csv", text.into_bytes()).unwrap();
        assert_eq!(o.remaining_hint(), 10_017 / 32);
    }

    #[test]
    fn gb18030_decoded_in_pieces_is_the_whole_file_decoded() {
        // Two-byte (汉字), four-byte (𠀀, €) and one-byte characters, CRLF and LF lines.
        let text: String = (0..300)
            .map(|k| {
                format!(
                    "{k},王涛𠀀,€{k}.5,\"a\nb\"{}",
                    if k % 3 == 0 { "\r\n" } else { "\n" }
                )
            })
            .collect();
        let (bytes, _, bad) = encoding_rs::GB18030.encode(&text);
        assert!(!bad);
        for piece in [1, 7, 64, 1000, usize::MAX / 2] {
            assert_eq!(
                decode_gb18030(&bytes, piece).as_deref(),
                Some(text.as_str()),
                "{piece}"
            );
        }
        assert_eq!(decode_gb18030(b"", 8).as_deref(), Some(""));
        // A byte that is no character, far into the file: no text, whatever the pieces.
        let mut broken = bytes.to_vec();
        let at = broken.len() - 40;
        broken[at] = 0xFF;
        for piece in [1, 64, usize::MAX / 2] {
            assert_eq!(decode_gb18030(&broken, piece), None, "{piece}");
        }
    }

    #[test]
    fn parquet_column_without_a_text_form_reads_as_empty() {
        let list = Series::new("tags".into(), vec![Series::new("".into(), [1i32, 2])]);
        let ids = Series::new("id_number".into(), ["11010519491231002X"]);
        let mut df =
            DataFrame::new_infer_height(vec![ids.into_column(), list.into_column()]).unwrap();
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes).finish(&mut df).unwrap();
        let mut o = Opened::from_bytes("parquet", bytes).unwrap();
        assert_eq!(o.headers, ["id_number", "tags"]);
        let rows = all_rows(&mut o);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].line, 2);
        // Parquet rows are indices into the file's columns.
        let record = o.frame().unwrap().record(0);
        assert_eq!(
            record.iter().collect::<Vec<_>>(),
            ["11010519491231002X", ""]
        );
    }

    /// A Parquet file of `n` rows (`id_number` from `id`, `amount` 0, 1, ...) in row
    /// groups of 3.
    fn parquet_in_groups_of_3(n: i64, id: impl Fn(i64) -> String) -> Vec<u8> {
        let ids: Vec<String> = (0..n).map(id).collect();
        let ids = Series::new("id_number".into(), ids);
        let amounts = Series::new("amount".into(), (0..n).collect::<Vec<i64>>());
        let mut df =
            DataFrame::new_infer_height(vec![ids.into_column(), amounts.into_column()]).unwrap();
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes)
            .with_row_group_size(Some(3))
            .finish(&mut df)
            .unwrap();
        bytes
    }

    /// Every row of an opened Parquet file as (line, first cell), and its line counts
    /// once read.
    fn rows_and_lines(mut o: Opened) -> (Vec<(u32, String)>, LineCounts) {
        let mut out = Vec::new();
        let mut blank = 0;
        loop {
            let mut chunk = Vec::new();
            let more = o.next_chunk(4, &mut chunk, &mut blank).unwrap();
            // A chunk ends with its slice: its rows are indices into the current frame.
            if let Some(f) = o.frame() {
                for r in &chunk {
                    let record = f.record(r.frame_row as usize);
                    out.push((r.line, record.iter().next().unwrap_or("").to_string()));
                }
            }
            if !more {
                return (out, o.lines);
            }
        }
    }

    #[test]
    fn parquet_pieces_of_row_groups_give_the_file_s_rows_lines_and_hash_once() {
        let n = 23i64;
        let bytes = parquet_in_groups_of_3(n, |i| format!("id{i}"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("payments.parquet");
        std::fs::write(&path, &bytes).unwrap();
        // polars puts the last 2 rows into the group before.
        let sizes = parquet_row_groups(&path).unwrap();
        assert_eq!(sizes, [3, 3, 3, 3, 3, 3, 5]);
        let (whole, whole_lines) =
            rows_and_lines(Opened::from_bytes("parquet", bytes.clone()).unwrap());
        assert_eq!(whole.len(), n as usize);
        let metadata = ParquetReader::new(Cursor::new(bytes.clone()))
            .get_metadata()
            .unwrap()
            .clone();
        let mut rows = Vec::new();
        let mut lines = LineCounts::default();
        for (a, b) in [(0, 2), (2, 3), (3, 7)] {
            let Content::Bytes(read) = read_parquet_groups(&path, (a, b)).unwrap() else {
                panic!("a Parquet piece reads as bytes");
            };
            assert_eq!(read.len(), bytes.len());
            // Only the piece's row groups (and the footer) were read: every other row
            // group's bytes are zero.
            for g in (0..7).filter(|g| !(a..b).contains(g)) {
                for r in metadata.row_groups[g].byte_ranges_iter() {
                    let other = &read[r.start as usize..r.end as usize];
                    assert!(
                        other.iter().all(|&x| x == 0),
                        "row group {g} read for {a}..{b}"
                    );
                }
            }
            let mut o = Opened::from_bytes("parquet", read).unwrap();
            o.keep_row_groups((a, b)).unwrap();
            // The first piece takes the file's hash (of the file's bytes, read whole for
            // it by the loader); the others take none.
            assert_eq!(o.hash.sha256().unwrap().is_empty(), a != 0, "{a}..{b}");
            let want: u64 = sizes[a..b].iter().sum();
            assert_eq!(o.remaining_hint() as u64, want);
            let (got, l) = rows_and_lines(o);
            rows.extend(got);
            lines.total += l.total;
            lines.header += l.header;
            lines.rows += l.rows;
            assert_eq!(l.total, l.accounted(), "{a}..{b}");
        }
        assert_eq!(rows, whole, "the pieces give every row once, with its line");
        assert_eq!(lines, whole_lines);
        // Row groups the file does not have, or none.
        let mut o = Opened::from_bytes("parquet", bytes.clone()).unwrap();
        assert!(o.keep_row_groups((6, 8)).is_err());
        assert!(o.keep_row_groups((3, 3)).is_err());
        assert!(read_parquet_groups(&path, (7, 8)).is_err());
        // Only a Parquet file is read in row groups.
        let mut csv = Opened::from_bytes("csv", b"id_number\nx\n".to_vec()).unwrap();
        assert!(csv.keep_row_groups((0, 1)).is_err());
        // Not a Parquet file at all: an error, not a panic.
        std::fs::write(&path, b"not parquet, but long enough").unwrap();
        assert!(parquet_row_groups(&path).is_err());
        assert!(read_parquet_groups(&path, (0, 1)).is_err());
    }

    #[test]
    fn parquet_slices_give_every_row_once_with_its_line() {
        let n = 23i64;
        let bytes = parquet_in_groups_of_3(n, |i| format!("id{i}"));
        let o = open_parquet_sliced(bytes.clone(), 5).ok().unwrap();
        assert_eq!(o.hash.sha256().unwrap(), crate::load::sha256_hex(&bytes));
        // Slices of about 5 rows (two row groups of 3) against one slice for the file.
        let read = |slice_rows: usize| {
            let mut o = open_parquet_sliced(bytes.clone(), slice_rows).ok().unwrap();
            let mut out = Vec::new();
            let mut blank = 0;
            loop {
                let mut chunk = Vec::new();
                let more = o.next_chunk(4, &mut chunk, &mut blank).unwrap();
                let f = o.frame().unwrap();
                for r in &chunk {
                    let cells: Vec<String> = f
                        .record(r.frame_row as usize)
                        .iter()
                        .map(str::to_string)
                        .collect();
                    out.push((r.line, cells));
                }
                // A Parquet row's cells are in the frame; its record, reused from the
                // rows given back, stays empty.
                assert!(chunk.iter().all(|r| r.fields.is_empty()));
                o.recycle(chunk);
                if !more {
                    break;
                }
            }
            assert_eq!(o.lines.rows, n as u64);
            out
        };
        let sliced = read(5);
        assert_eq!(sliced, read(1_000));
        assert_eq!(sliced.len(), n as usize);
        assert_eq!(sliced[0], (2, vec!["id0".to_string(), "0".to_string()]));
        assert_eq!(sliced[22], (24, vec!["id22".to_string(), "22".to_string()]));
    }

    /// The lines of the rows a file gives, four at a time, until its error: the error
    /// must come, and no chunk before it may say the file is done.
    fn lines_until_the_error(mut o: Opened) -> (Vec<u32>, String) {
        let mut lines = Vec::new();
        let mut blank = 0;
        loop {
            let mut chunk = Vec::new();
            match o.next_chunk(4, &mut chunk, &mut blank) {
                Ok(more) => {
                    lines.extend(chunk.iter().map(|r| r.line));
                    assert!(more, "a slice that fails must not end the file quietly");
                }
                Err(e) => return (lines, e),
            }
        }
    }

    #[test]
    fn parquet_slice_broken_after_good_ones_is_an_error_not_a_panic_or_lost_rows() {
        // Slices after the first are decoded ahead on a thread of their own: a slice that
        // cannot be decoded must still come back as the file's error, after every row of
        // the slices before it, in order.
        let mut bytes = parquet_in_groups_of_3(23, |i| format!("id-number-{i:04}"));
        let metadata = ParquetReader::new(Cursor::new(bytes.clone()))
            .get_metadata()
            .unwrap()
            .clone();
        // Row groups 0-1 are the first slice (6 rows), 2-3 the second, 4-5 the third:
        // garble the column chunks of row group 4.
        for r in metadata.row_groups[4].byte_ranges_iter() {
            for b in &mut bytes[r.start as usize..r.end as usize] {
                *b = 0xff;
            }
        }
        let o = open_parquet_sliced(bytes, 5).ok().unwrap();
        let (lines, err) = lines_until_the_error(o);
        assert!(err.contains("not a readable Parquet file"), "{err}");
        assert_eq!(lines, (2..14).collect::<Vec<u32>>());
    }

    #[test]
    fn parquet_text_out_of_proportion_to_the_file_is_refused_after_the_rows_before_it() {
        // Rows of 14 bytes of text (the amounts are numbers), slices of 6 rows: 84 bytes a
        // slice, against an allowance of 200 (a real file's is 200 times its size, at
        // least 1 GiB).
        let bytes = parquet_in_groups_of_3(23, |i| format!("id-number-{i:04}"));
        let mut o = open_parquet_sliced(bytes, 5).ok().unwrap();
        let Rows::Frame { src, .. } = &mut o.rows else {
            panic!("a Parquet file is read as frames");
        };
        std::sync::Arc::get_mut(&mut src.text.0)
            .expect("no slice decoded yet")
            .allowed = 200;
        let (lines, err) = lines_until_the_error(o);
        assert!(
            err.contains("hostile Parquet file: its text expands to more than 252 bytes"),
            "{err}"
        );
        assert_eq!(lines, (2..14).collect::<Vec<u32>>());
    }

    #[test]
    fn the_first_sheet_is_the_first_worksheet_after_any_chart_sheet() {
        use rust_xlsxwriter::{Chart, ChartType};
        let mut wb = rust_xlsxwriter::Workbook::new();
        let mut chart = Chart::new(ChartType::Column);
        chart.add_series().set_values("Data!$B$2:$B$3");
        wb.add_chartsheet().insert_chart(0, 0, &chart).unwrap();
        let sheet = wb.add_worksheet().set_name("Data").unwrap();
        sheet.write_string(0, 0, "txn_id").unwrap();
        sheet.write_string(1, 0, "T1").unwrap();
        let bytes = wb.save_to_buffer().unwrap();
        let cells = xlsx_cells(bytes).unwrap().cells;
        let texts: Vec<&str> = cells.iter().map(|c| c.2.as_str()).collect();
        assert_eq!(texts, ["txn_id", "T1"]);
    }

    #[test]
    fn workbook_cells_whose_text_is_out_of_proportion_are_refused() {
        // One long shared string used by every cell: stored once, read 40 times.
        let mut wb = rust_xlsxwriter::Workbook::new();
        let sheet = wb.add_worksheet();
        let long = "长".repeat(100);
        for r in 0..40 {
            sheet.write_string(r, 0, &long).unwrap();
        }
        let bytes = wb.save_to_buffer().unwrap();
        assert_eq!(
            xlsx_cells_within(bytes.clone(), 12_000)
                .unwrap()
                .cells
                .len(),
            40
        );
        let err = xlsx_cells_within(bytes, 11_999).unwrap_err();
        assert!(
            err.contains("hostile workbook: its cells' text comes to more than 12000 bytes"),
            "{err}"
        );
    }

    #[test]
    fn a_file_may_expand_200_times_its_size_and_always_to_1_gib() {
        let gib = 1u64 << 30;
        assert!(!out_of_proportion(gib, 10));
        assert!(out_of_proportion(gib + 1, 10));
        let size = 10 * gib / 100;
        assert!(!out_of_proportion(200 * size, size));
        assert!(out_of_proportion(200 * size + 1, size));
        // No overflow: a huge file's allowance saturates.
        assert!(!out_of_proportion(u64::MAX, u64::MAX / 2));
    }

    #[test]
    fn raw_line_quotes() {
        let f = ["a", "b,c", "d\"e"].into_iter().collect::<Fields>();
        assert_eq!(raw_line(&f), "a,\"b,c\",\"d\"\"e\"");
    }
}
