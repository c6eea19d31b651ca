//! Loading a data folder: discover each source's files, read, normalise, reject, dedupe.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::IngestError;
use crate::parse::{self, Cells, ColMap, RawRow};
use crate::read::{raw_line, totals_label, LineCounts, OpenError, Opened, RowKind};
use crate::source::{map_headers, Col, SourceKind};
use crate::tables::*;
use qianbiao_core::money::parse_amount;
use qianbiao_core::Fen;

/// Rows normalised in parallel per chunk.
const CHUNK: usize = 64 * 1024;

/// Rows of a chunk parsed as one task, into one batch.
const PIECE: usize = 4096;

/// What happened to one input file.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct FileReport {
    /// The source the file belongs to.
    #[serde(deserialize_with = "qianbiao_core::static_str")]
    pub source: qianbiao_core::StaticStr,
    /// Path relative to the data folder, `/`-separated.
    pub path: String,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// Detected format (`csv utf-8`, `csv gb18030`, `xlsx`, `parquet`, ...).
    #[serde(deserialize_with = "qianbiao_core::static_str")]
    pub format: qianbiao_core::StaticStr,
    /// Data rows read (blank rows not counted).
    pub rows_read: u64,
    /// Rows accepted (including exact duplicates and DQ-003 losers).
    pub rows_accepted: u64,
    /// Rows rejected (see `rejected.csv`).
    pub rows_rejected: u64,
    /// Payment rows that repeat an earlier row exactly, counted where the copy is read.
    pub duplicate_rows: u64,
    /// Rows whose cells were all empty, and empty lines, below the header: skipped.
    pub blank_rows: u64,
    /// Rows above the header (title, 制表单位, blank): neither read nor rejected.
    pub preamble_rows: u64,
    /// Totals rows (合计/总计/小计): neither read nor rejected.
    pub total_rows: u64,
    /// What every physical line (CSV) or sheet row (Excel) of the file was.
    pub lines: LineCounts,
    /// Time to read and normalise the file, in milliseconds.
    pub millis: u64,
}

/// A row that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rejected {
    /// Source name.
    #[serde(deserialize_with = "qianbiao_core::static_str")]
    pub source: qianbiao_core::StaticStr,
    /// File relative to the data folder.
    pub file: String,
    /// Line (header is 1).
    pub line: u32,
    /// Why, naming the column.
    pub reason: String,
    /// The row's cells, comma-joined.
    pub raw: String,
}

/// Payment rows sharing a txn_id with different content (DQ-003).
#[derive(Debug, Clone)]
pub struct Conflict {
    /// The txn_id.
    pub txn_id: Text,
    /// Every row read with this txn_id, the kept (first read) one first.
    pub rows: Vec<PaymentRow>,
}

/// Everything loaded from a data folder.
#[derive(Debug, Default)]
pub struct Dataset {
    /// Input files, indexed by [`Prov::file`], relative to the data folder.
    pub files: Vec<String>,
    /// Per file, what was read.
    pub reports: Vec<FileReport>,
    /// Sources that had at least one file.
    pub present: Vec<SourceKind>,
    /// Every interned text of every table, stored once: ids, and the rest.
    pub strings: Strings,
    /// 户籍.
    pub hukou: Hukou,
    /// 死亡人员.
    pub deaths: Deaths,
    /// 特殊群体.
    pub eligibility: Eligibility,
    /// 参保登记.
    pub registrations: Registrations,
    /// 缴费明细, one row per txn_id (first read kept).
    pub payments: Payments,
    /// 收款登记.
    pub receipts: Receipts,
    /// 解缴入库.
    pub deposits: Deposits,
    /// 征收清册.
    pub roster: Roster,
    /// txn_id conflicts.
    pub conflicts: Vec<Conflict>,
    /// Rejected rows in read order.
    pub rejected: Vec<Rejected>,
    /// `deaths` rows rejected only for an invalid id, for identity linkage.
    pub linkable_deaths: Vec<LinkableDeath>,
    /// Control totals of totals rows, in read order.
    pub control_totals: Vec<ControlTotal>,
    /// Entries inside source folders that were not read, with why.
    pub ignored: Vec<Ignored>,
    /// Identity linkage decided over the whole input, for a partition of a partitioned
    /// run: the partition sees only some of a row's candidates, so it takes the decision
    /// instead of making its own. None in a run in memory.
    pub decided_links: Option<std::sync::Arc<DecidedLinks>>,
}

/// Which row a linkage decision is for: payments, receipts or linkable deaths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum LinkedRow {
    /// A payments row.
    Payment(Prov),
    /// A receipts row.
    Receipt(Prov),
    /// A `deaths` row rejected for an invalid id.
    Death(Prov),
}

/// Linkage decisions: per linked row, the basis (its position in the rules' list of
/// bases) and the hukou person's id. Rows absent are not linked.
pub type DecidedLinks = std::collections::HashMap<LinkedRow, (u8, Text)>;

/// An entry of a source folder that is not read (`data-contract.md`, Robustness).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// The source whose folder holds it.
    pub source: &'static str,
    /// Path relative to the data folder.
    pub path: String,
    /// Why it was not read.
    pub reason: &'static str,
}

impl Dataset {
    /// True when the source had at least one file.
    pub fn has(&self, s: SourceKind) -> bool {
        self.present.contains(&s)
    }

    /// 户籍 rows.
    pub fn hukou(&self) -> Rows<'_, Hukou> {
        Rows::new(&self.hukou, &self.strings)
    }
    /// 死亡人员 rows.
    pub fn deaths(&self) -> Rows<'_, Deaths> {
        Rows::new(&self.deaths, &self.strings)
    }
    /// 特殊群体 rows.
    pub fn eligibility(&self) -> Rows<'_, Eligibility> {
        Rows::new(&self.eligibility, &self.strings)
    }
    /// 参保登记 rows.
    pub fn registrations(&self) -> Rows<'_, Registrations> {
        Rows::new(&self.registrations, &self.strings)
    }
    /// 缴费明细 rows (one per txn_id).
    pub fn payments(&self) -> Rows<'_, Payments> {
        Rows::new(&self.payments, &self.strings)
    }
    /// 收款登记 rows.
    pub fn receipts(&self) -> Rows<'_, Receipts> {
        Rows::new(&self.receipts, &self.strings)
    }
    /// 解缴入库 rows.
    pub fn deposits(&self) -> Rows<'_, Deposits> {
        Rows::new(&self.deposits, &self.strings)
    }
    /// 征收清册 rows.
    pub fn roster(&self) -> Rows<'_, Roster> {
        Rows::new(&self.roster, &self.strings)
    }

    /// The text of a symbol of a text column (not an id).
    pub fn str(&self, s: qianbiao_core::Sym) -> &str {
        self.strings.text.get(s)
    }

    /// The id of a symbol of an id column.
    pub fn id_str(&self, s: qianbiao_core::Sym) -> qianbiao_core::IdStr<'_> {
        self.strings.ids.get(s)
    }

    /// `file:line` of a provenance.
    pub fn source_ref(&self, p: Prov) -> String {
        format!("{}:{}", self.files[p.file as usize], p.line)
    }
}

/// Progress callback: file path relative to the data folder and rows done in it.
pub type Progress<'a> = &'a (dyn Fn(&str, u64) + Sync);

/// Options for [`load`].
pub struct LoadOptions<'a> {
    /// The policy year (default period of receipts).
    pub year: i32,
    /// Called as rows are read.
    pub progress: Option<Progress<'a>>,
    /// Which columns are read: every column of the schema (None), or the required ones,
    /// the money column, the ones a check across columns reads
    /// ([`crate::source::checked_columns`]) and those the function names (a pass that
    /// needs only some of a source's values: a partitioned run's keys pass). The others
    /// read as empty and a Parquet file's are not decoded. Such a load accepts and
    /// rejects the same rows (no other optional column rejects a row), but does not
    /// quote a rejected row's cells (`Rejected::raw` is empty) nor take the file's hash
    /// (`FileReport::sha256`).
    pub columns: Option<ColumnFilter>,
}

/// Which optional columns of a source a load reads ([`LoadOptions::columns`]).
pub type ColumnFilter = fn(SourceKind, Col) -> bool;

/// A source's files and the entries of its folder that are not read.
pub type Discovered = (Vec<(PathBuf, String)>, Vec<Ignored>);

/// Finds a source's files: `SOURCE.EXT` and `SOURCE/*.EXT`, in byte order of their
/// relative paths. Inside `SOURCE/`, dot-files, sub-folders and files of other extensions
/// are not read; each is returned as ignored with the reason.
pub fn discover(dir: &Path, source: SourceKind) -> Result<Discovered, IngestError> {
    let mut found = Vec::new();
    let mut ignored = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| IngestError::Unreadable {
        file: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if path.is_dir() && name == source.name() {
            let inner = std::fs::read_dir(&path).map_err(|e| IngestError::Unreadable {
                file: path.display().to_string(),
                reason: e.to_string(),
            })?;
            for f in inner.flatten() {
                let fname = f.file_name().to_string_lossy().to_string();
                let rel = format!("{name}/{fname}");
                let reason = if fname.starts_with('.') {
                    Some("hidden file (name starts with '.')")
                } else if f.path().is_dir() {
                    Some("sub-folder (source folders are not read recursively)")
                } else if !f.path().is_file() {
                    Some("not a regular file")
                } else if ext_of(&fname).is_none() {
                    Some("not a csv, xlsx, xls or parquet file")
                } else {
                    None
                };
                match reason {
                    Some(reason) => ignored.push(Ignored {
                        source: source.name(),
                        path: rel,
                        reason,
                    }),
                    None => found.push((f.path(), rel)),
                }
            }
        } else if path.is_file() {
            if let Some((stem, _)) = name.rsplit_once('.') {
                if stem == source.name() && ext_of(&name).is_some() {
                    found.push((path, name));
                }
            }
        }
    }
    found.sort_by(|a, b| a.1.as_bytes().cmp(b.1.as_bytes()));
    ignored.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok((found, ignored))
}

fn ext_of(name: &str) -> Option<&'static str> {
    let (_, ext) = name.rsplit_once('.')?;
    match ext.to_ascii_lowercase().as_str() {
        "csv" => Some("csv"),
        "xlsx" => Some("xlsx"),
        "xls" => Some("xls"),
        "parquet" => Some("parquet"),
        _ => None,
    }
}

/// Discovers every source's files: the dataset's `present` and `ignored`, and per source
/// (in [`SourceKind::ALL`] order) its files.
#[allow(clippy::type_complexity)]
/// Every source's files in read order, each as (path, path relative to the data folder).
pub type FilePlan = Vec<(SourceKind, Vec<(PathBuf, String)>)>;

/// The files of a data folder, source by source in [`SourceKind::ALL`]'s order, and a
/// dataset with the sources present and the entries ignored. Fails as [`load`] does when
/// a required source has no file.
pub fn plan(dir: &Path) -> Result<(Dataset, FilePlan), IngestError> {
    if !dir.is_dir() {
        return Err(IngestError::NoDataDir(dir.display().to_string()));
    }
    let mut ds = Dataset::default();
    let mut plan = Vec::new();
    for s in SourceKind::ALL {
        let (files, ignored) = discover(dir, s)?;
        ds.ignored.extend(ignored);
        if files.is_empty() && s.is_required() {
            return Err(IngestError::MissingSource {
                dir: dir.display().to_string(),
                source_name: s.name(),
            });
        }
        if !files.is_empty() {
            ds.present.push(s);
        }
        plan.push((s, files));
    }
    Ok((ds, plan))
}

/// Loads every source of a data folder.
///
/// Fails (exit 2 in the binary) when a required source or a required column is missing
/// or a file cannot be read; bad rows never fail the load, they are rejected.
pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Dataset, IngestError> {
    let (mut ds, plan) = plan(dir)?;
    let year = opts.year;
    let mut strings = std::mem::take(&mut ds.strings);
    for (s, files) in plan {
        let ctx = (
            s,
            files.as_slice(),
            opts.progress,
            year,
            0,
            opts.columns,
            None,
        );
        macro_rules! into {
            ($table:ident, $row:ty) => {{
                let mut t = std::mem::take(&mut ds.$table);
                load_source::<$row, _>(&mut ds, ctx, &mut |row| match row {
                    Sink::Rows(r) => t.push_batches(r, &mut strings),
                    Sink::Reserve(n) => {
                        t.reserve(n);
                        // The registry, read first, names about every person once: room
                        // for its ids saves growing the id table step by step.
                        if s == SourceKind::Hukou {
                            strings.ids.reserve(n);
                        }
                    }
                })?;
                ds.$table = t;
            }};
        }
        match s {
            SourceKind::Hukou => into!(hukou, HukouRow),
            SourceKind::Deaths => into!(deaths, DeathRow),
            SourceKind::Eligibility => into!(eligibility, EligibilityRow),
            SourceKind::Registrations => into!(registrations, RegistrationRow),
            SourceKind::Payments => into!(payments, PaymentRow),
            SourceKind::Receipts => into!(receipts, ReceiptRow),
            SourceKind::Deposits => into!(deposits, DepositRow),
            SourceKind::Roster => into!(roster, RosterRow),
        }
    }
    ds.strings = strings;
    dedupe_payments(&mut ds);
    Ok(ds)
}

/// The accepted rows of one chunk of one source, in read order, as a streaming load
/// ([`load_chunks`]) hands them over.
pub enum Chunk<'r> {
    /// 户籍 rows.
    Hukou(&'r [HukouRow]),
    /// 死亡人员 rows.
    Deaths(&'r [DeathRow]),
    /// `deaths` rows rejected only for an invalid id (identity linkage), after the
    /// source's last file.
    LinkableDeaths(&'r [LinkableDeath]),
    /// 特殊群体 rows.
    Eligibility(&'r [EligibilityRow]),
    /// 参保登记 rows.
    Registrations(&'r [RegistrationRow]),
    /// 缴费明细 rows (not deduplicated: every accepted row).
    Payments(&'r [PaymentRow]),
    /// 收款登记 rows.
    Receipts(&'r [ReceiptRow]),
    /// 解缴入库 rows.
    Deposits(&'r [DepositRow]),
    /// 征收清册 rows.
    Roster(&'r [RosterRow]),
}

/// Reads the sources in the given order and hands every chunk of accepted rows to `sink`
/// instead of storing it: the dataset returned has every file report, rejected row,
/// control total and linkable death, and empty tables. A partitioned run reads its inputs
/// this way, so that no source is ever held whole.
pub fn load_chunks(
    dir: &Path,
    opts: &LoadOptions,
    order: &[SourceKind],
    sink: &mut (dyn FnMut(Chunk<'_>) + Send),
) -> Result<Dataset, IngestError> {
    let (mut ds, mut plan) = plan(dir)?;
    for s in order {
        let Some(at) = plan.iter().position(|(k, _)| k == s) else {
            continue;
        };
        let (s, files) = plan.swap_remove(at);
        stream_source(&mut ds, s, &files, (0, None), opts, sink)?;
    }
    Ok(ds)
}

/// Reads one file of a source as [`load_chunks`] reads it, its rows' [`Prov::file`] and
/// its control totals numbered `file_idx` (its place in the run's file table, as
/// [`plan`] lists the files). The dataset returned has that one file's report, rejected
/// rows, control totals and linkable deaths. A partitioned run's split reads its files
/// one by one this way, on one machine or on a cluster's executors.
///
/// `groups`: only row groups `a..b` of a Parquet file (a task of a run that reads a large
/// file in pieces, [`crate::read::Opened::keep_row_groups`]); its report counts that
/// piece's rows and lines, and only the piece of the first row group takes the file's
/// hash.
pub fn load_file_chunks(
    source: SourceKind,
    file: &(PathBuf, String),
    file_idx: u32,
    groups: Option<(usize, usize)>,
    opts: &LoadOptions,
    sink: &mut (dyn FnMut(Chunk<'_>) + Send),
) -> Result<Dataset, IngestError> {
    let mut ds = Dataset::default();
    stream_source(
        &mut ds,
        source,
        std::slice::from_ref(file),
        (file_idx, groups),
        opts,
        sink,
    )?;
    Ok(ds)
}

/// Streams a source's files into `sink`, the first one numbered `base` plus the files
/// already in `ds` (and of a Parquet file read alone, only the row groups `groups`).
fn stream_source(
    ds: &mut Dataset,
    s: SourceKind,
    files: &[(PathBuf, String)],
    (base, groups): (u32, Option<(usize, usize)>),
    opts: &LoadOptions,
    sink: &mut (dyn FnMut(Chunk<'_>) + Send),
) -> Result<(), IngestError> {
    let year = opts.year;
    let ctx = (s, files, opts.progress, year, base, opts.columns, groups);
    macro_rules! into {
        ($variant:ident, $row:ty) => {{
            // A chunk's rows at once, as one slice: a sink's work per call (a
            // partitioned run's routing to its buckets) is not repeated per piece. The
            // pieces' rows are moved, not cloned, into one buffer kept for the next
            // chunk (a new one for each chunk faulted in fresh pages every time).
            let mut joined = Vec::new();
            load_source::<$row, Vec<$row>>(ds, ctx, &mut |row| {
                if let Sink::Rows(pieces) = row {
                    match pieces {
                        [rows] => sink(Chunk::$variant(rows)),
                        _ => {
                            joined.clear();
                            joined.reserve(pieces.iter().map(Vec::len).sum());
                            for p in pieces.iter_mut() {
                                joined.append(p);
                            }
                            sink(Chunk::$variant(&joined));
                        }
                    }
                }
            })?;
        }};
    }
    match s {
        SourceKind::Hukou => into!(Hukou, HukouRow),
        SourceKind::Deaths => {
            let before = ds.linkable_deaths.len();
            into!(Deaths, DeathRow);
            sink(Chunk::LinkableDeaths(&ds.linkable_deaths[before..]));
        }
        SourceKind::Eligibility => into!(Eligibility, EligibilityRow),
        SourceKind::Registrations => into!(Registrations, RegistrationRow),
        SourceKind::Payments => into!(Payments, PaymentRow),
        SourceKind::Receipts => into!(Receipts, ReceiptRow),
        SourceKind::Deposits => into!(Deposits, DepositRow),
        SourceKind::Roster => into!(Roster, RosterRow),
    }
    Ok(())
}

/// What a source's loader hands to its table.
enum Sink<'r, B> {
    /// The accepted rows of a chunk, in read order, gathered piece by piece (the sink
    /// may take them).
    Rows(&'r mut [B]),
    /// Rows still to come in the file just opened, when known (Parquet, Excel).
    Reserve(usize),
}

type SourceCtx<'a, 'p> = (
    SourceKind,
    &'a [(PathBuf, String)],
    Option<Progress<'p>>,
    i32,
    // The number of the first file (0 but for one file read alone).
    u32,
    // `LoadOptions::columns`.
    Option<ColumnFilter>,
    // Of a Parquet file read alone: only these row groups.
    Option<(usize, usize)>,
);

/// Running sums of a file's money cells for control totals: since the last totals row,
/// and since the header.
#[derive(Default)]
struct Covered {
    since: (Fen, u32),
    all: (Fen, u32),
}

/// What parsing one piece of a chunk gave: its accepted rows, gathered, and per raw row
/// in order the reason it was rejected (none: accepted, or a totals row) and its money
/// cell (for control totals, rejected rows too).
struct Parsed<B> {
    rows: B,
    outcomes: Vec<(Option<String>, Option<Fen>)>,
}

fn load_source<T: Send + HasCols, B: crate::tables::Gather<T>>(
    ds: &mut Dataset,
    (source, files, progress, year, base, columns, groups): SourceCtx,
    out: &mut (dyn FnMut(Sink<B>) + Send),
) -> Result<(), IngestError> {
    let required: Vec<Col> = crate::source::columns(source)
        .iter()
        .filter(|f| f.required)
        .map(|f| f.col)
        .collect();
    let is_header = |cells: &[String]| {
        let map = map_headers(source, cells);
        crate::source::columns(source)
            .iter()
            .zip(&map)
            .all(|(f, pos)| !f.required || pos.is_some())
    };
    for (path, rel) in files {
        let started = Instant::now();
        let file_idx = base + ds.files.len() as u32;
        let unreadable = |reason: String| IngestError::Unreadable {
            file: rel.clone(),
            reason,
        };
        let ext = ext_of(rel).unwrap_or("csv");
        // A piece of a Parquet file reads its own row groups (the piece that reports the
        // file's hash takes it from the file, below).
        let content = match groups {
            Some(g) if ext == "parquet" => crate::read::read_parquet_groups(path, g),
            _ => crate::read::read_content(path, ext),
        }
        .map_err(|e| unreadable(e.to_string()))?;
        let mut opened = match Opened::open_content(ext, content, &is_header) {
            Ok(o) => o,
            Err(OpenError::Unreadable(reason)) => return Err(unreadable(reason)),
            Err(OpenError::NoHeader { first_row }) => {
                let map = map_headers(source, &first_row);
                let missing: Vec<String> = crate::source::columns(source)
                    .iter()
                    .zip(&map)
                    .filter(|(f, pos)| f.required && pos.is_none())
                    .map(|(f, _)| f.col.describe())
                    .collect();
                return Err(IngestError::MissingColumn {
                    file: rel.clone(),
                    column: if missing.is_empty() {
                        required
                            .iter()
                            .map(|c| c.describe())
                            .collect::<Vec<_>>()
                            .join(", ")
                    } else {
                        missing.join(", ")
                    },
                });
            }
        };
        if let Some(g) = groups {
            opened.keep_row_groups(g).map_err(&unreadable)?;
            if g.0 == 0 {
                // Its bytes in memory are its row groups' only: the first piece hashes
                // the file as it is on disk, streamed beside the rows.
                opened.hash = crate::read::HashSource::File(path.clone());
            }
        }
        // Exact for Parquet and Excel; a close bound for CSV.
        out(Sink::Reserve(opened.remaining_hint()));
        let mut map = map_headers(source, &opened.headers);
        let money_col = crate::source::money_column(source);
        if let Some(keep) = columns {
            for (f, pos) in crate::source::columns(source).iter().zip(&mut map) {
                let checked = crate::source::checked_columns(source).contains(&f.col);
                if !f.required && !checked && Some(f.col) != money_col && !keep(source, f.col) {
                    *pos = None;
                }
            }
        }
        let colmap = ColMap::new(source, &map);
        // A Parquet file's columns the source does not read are not decoded.
        opened.project(&map.iter().flatten().copied().collect::<Vec<_>>());
        let money = money_col.and_then(|c| colmap.position(c));
        let mut report = FileReport {
            source: source.name(),
            path: rel.clone(),
            // Taken beside the rows, below.
            sha256: String::new(),
            format: opened.format,
            ..FileReport::default()
        };
        // A Parquet file's rows are indices into the columns of the slice they were read
        // with (`Opened::frame` after each chunk), read as they are stored.
        type FrameRef = Option<std::sync::Arc<crate::read::Frame>>;
        let money_of = |raw: &RawRow| {
            money
                .and_then(|i| raw.fields.get(i))
                .and_then(|cell| parse_amount(cell).ok())
        };
        // Each row's money cell is read with the row, on the parallel side: the control
        // totals need it for rejected rows too. A piece's data rows are parsed a column at
        // a time, and the accepted ones go straight into the piece's batch, so that no
        // owned row crosses to the storing stage.
        let parse_chunk = |chunk: &[RawRow], frame: &FrameRef| -> Vec<Parsed<B>> {
            let frame_ref = frame.as_deref();
            chunk
                .par_chunks(PIECE)
                .map(|piece| {
                    let mut outcomes = Vec::with_capacity(piece.len());
                    let mut cells = Vec::with_capacity(piece.len());
                    let mut provs = Vec::with_capacity(piece.len());
                    // The outcome of each data row parsed, by its place in the piece.
                    let mut parsed = Vec::with_capacity(piece.len());
                    for raw in piece {
                        let m = money_of(raw);
                        if raw.kind == RowKind::Totals {
                            outcomes.push((None, m));
                        } else if let Some(p) = &raw.problem {
                            outcomes.push((Some(p.clone()), m));
                        } else {
                            parsed.push(outcomes.len());
                            outcomes.push((None, m));
                            let c = cells_of(&colmap, frame_ref, raw, year);
                            cells.push(match (money, m) {
                                (Some(field), Some(fen)) => c.with_amount(field, fen),
                                _ => c,
                            });
                            provs.push(Prov {
                                file: file_idx,
                                line: raw.line,
                            });
                        }
                    }
                    let mut p = parse::Piece::new(cells, provs);
                    let cols = T::parse(&mut p);
                    let mut rows = B::with_capacity(parsed.len());
                    rows.put_cols(cols);
                    for (at, reason) in parsed.into_iter().zip(p.into_reasons()) {
                        outcomes[at].0 = reason;
                    }
                    Parsed { rows, outcomes }
                })
                .collect()
        };
        let mut covered = Covered::default();
        let mut blank = 0;
        // Rows of a parsed chunk go into the tables, the rejected rows and the control
        // totals in read order: each interner is filled in read order, so symbols are the
        // same on every run.
        let control_totals = &mut ds.control_totals;
        let linkable_deaths = &mut ds.linkable_deaths;
        let rejected = &mut ds.rejected;
        let mut consume = |chunk: Vec<RawRow>, parsed: Vec<Parsed<B>>, frame: FrameRef| {
            let frame_ref = frame.as_deref();
            let (mut batches, outcomes): (Vec<B>, Vec<_>) =
                parsed.into_iter().map(|p| (p.rows, p.outcomes)).unzip();
            for (raw, (res, money)) in chunk.iter().zip(outcomes.into_iter().flatten()) {
                if raw.kind == RowKind::Totals {
                    report.total_rows += 1;
                    let label = totals_label(&raw.fields).unwrap_or_default();
                    if let Some(stated) = money {
                        let (sum, rows) = if label.starts_with("小计") {
                            covered.since
                        } else {
                            covered.all
                        };
                        control_totals.push(ControlTotal {
                            file: file_idx,
                            line: raw.line,
                            label: Text::from(label),
                            stated,
                            sum,
                            rows,
                        });
                    }
                    // Any totals row ends the range of the next 小计.
                    covered.since = (Fen(0), 0);
                    continue;
                }
                report.rows_read += 1;
                if let Some(m) = money {
                    for c in [&mut covered.since, &mut covered.all] {
                        c.0 += m;
                        c.1 += 1;
                    }
                }
                match res {
                    None => report.rows_accepted += 1,
                    Some(reason) => {
                        report.rows_rejected += 1;
                        // Only a row whose one fault is its id is linked: not one whose
                        // fields do not match the header (its cells may be shifted).
                        if source == SourceKind::Deaths && raw.problem.is_none() {
                            let prov = Prov {
                                file: file_idx,
                                line: raw.line,
                            };
                            if let Some(d) = parse::linkable_death(
                                &cells_of(&colmap, frame_ref, raw, year),
                                prov,
                            ) {
                                linkable_deaths.push(d);
                            }
                        }
                        rejected.push(Rejected {
                            source: source.name(),
                            file: rel.clone(),
                            line: raw.line,
                            reason,
                            raw: match frame_ref {
                                _ if columns.is_some() => String::new(),
                                Some(f) => raw_line(&f.record(raw.frame_row as usize)),
                                None => raw_line(&raw.fields),
                            },
                        });
                    }
                }
            }
            out(Sink::Rows(&mut batches));
            if let Some(p) = progress {
                p(rel, report.rows_read);
            }
            // The rows go back to the reader, which refills their records.
            chunk
        };
        // The file's SHA-256 is taken beside its rows, of the bytes its reader keeps (no
        // copy); the reading pipeline leaves a core idle at times, and the hash fills it.
        // A load of some columns only (a pass before the one that reports the file) takes
        // none.
        let hash = columns.is_none().then(|| opened.hash.clone());
        let (sha, piped) = rayon::join(
            move || hash.map_or(Ok(String::new()), |h| h.sha256()),
            || -> Result<(), IngestError> {
                // Three stages at once: the next chunk is read, this one is normalised,
                // and the previous one goes into the tables.
                let mut chunk: Vec<RawRow> = Vec::with_capacity(CHUNK);
                let mut more = opened
                    .next_chunk(CHUNK, &mut chunk, &mut blank)
                    .map_err(&unreadable)?;
                let mut frame: FrameRef = opened.frame();
                let mut pending: Option<(Vec<RawRow>, Vec<_>, FrameRef)> = None;
                loop {
                    let mut next: Vec<RawRow> = Vec::with_capacity(if more { CHUNK } else { 0 });
                    let (((read, next_frame), parsed), stored) = rayon::join(
                        || {
                            rayon::join(
                                || {
                                    if more {
                                        let r = opened.next_chunk(CHUNK, &mut next, &mut blank);
                                        (r, opened.frame())
                                    } else {
                                        (Ok(false), None)
                                    }
                                },
                                || parse_chunk(&chunk, &frame),
                            )
                        },
                        || pending.take().map(|(c, p, f)| consume(c, p, f)),
                    );
                    if let Some(rows) = stored {
                        opened.recycle(rows);
                    }
                    pending = Some((std::mem::take(&mut chunk), parsed, frame.take()));
                    if !more {
                        break;
                    }
                    more = read.map_err(&unreadable)?;
                    chunk = next;
                    frame = next_frame;
                }
                if let Some((c, p, f)) = pending.take() {
                    consume(c, p, f);
                }
                Ok(())
            },
        );
        piped?;
        report.sha256 = sha.map_err(|e| unreadable(e.to_string()))?;
        report.blank_rows = blank;
        report.preamble_rows = opened.lines.preamble;
        report.lines = opened.lines;
        // Every physical line is the header, a preamble, blank or totals line, or part of
        // exactly one row read: a line lost here is a bug in the reader, never bad input.
        if report.lines.total != report.lines.accounted() {
            return Err(IngestError::LineAccounting {
                file: rel.clone(),
                detail: format!("{:?}", report.lines),
            });
        }
        report.millis = started.elapsed().as_millis() as u64;
        ds.files.push(rel.clone());
        ds.reports.push(report);
    }
    Ok(())
}

/// A row's cells: from its own fields, or from a Parquet file's columns.
fn cells_of<'a>(
    colmap: &'a ColMap,
    frame: Option<&'a crate::read::Frame>,
    raw: &'a RawRow,
    year: i32,
) -> Cells<'a> {
    match frame {
        Some(f) => Cells::in_frame(colmap, f, raw, year),
        None => Cells::new(colmap, raw, year),
    }
}

/// Hex sha256 of bytes: input files in the manifest, and every hash qianbiao writes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Hex sha256 of a file, read in a stream (outputs can be large).
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut h = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut h)?;
    Ok(hex(&h.finalize()))
}

pub(crate) fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Keeps one row per txn_id: exact copies count as `duplicate_rows` on the file where the
/// copy is read; differing rows keep the first read and are recorded as conflicts (DQ-003).
pub fn dedupe_payments(ds: &mut Dataset) {
    let rows = ds.payments();
    // Rows are in read order (files by name, rows by line); a stable sort by txn_id keeps
    // that order within each txn_id, so the first of a group is the first read.
    let mut order: Vec<u32> = (0..rows.len() as u32).collect();
    let txn = &ds.payments.txn_id;
    order.par_sort_by(|&a, &b| txn.get(a as usize).cmp(txn.get(b as usize)).then(a.cmp(&b)));
    let mut keep = vec![true; rows.len()];
    let mut duplicates = Vec::new();
    let mut conflicts = Vec::new();
    let mut i = 0;
    while i < order.len() {
        let first = order[i] as usize;
        let mut j = i + 1;
        let mut differs = false;
        while j < order.len() && txn.get(order[j] as usize) == txn.get(first) {
            let other = order[j] as usize;
            keep[other] = false;
            let (o, f) = (rows.get(other), rows.get(first));
            if o.same_values(&f) {
                // An exact copy of the kept row: one payment.
                duplicates.push(o.prov().file);
            } else {
                differs = true;
            }
            j += 1;
        }
        if differs {
            // Every row read with this txn_id, in read order, whatever the order of the
            // exact copies and the differing rows.
            conflicts.push(Conflict {
                txn_id: Text::from(rows.get(first).txn_id()),
                rows: order[i..j]
                    .iter()
                    .map(|&k| rows.get(k as usize).to_row())
                    .collect(),
            });
        }
        i = j;
    }
    for file in duplicates {
        ds.reports[file as usize].duplicate_rows += 1;
    }
    ds.conflicts = conflicts;
    // Most exports repeat no txn_id: then every column stays as it is.
    if keep.contains(&false) {
        ds.payments.retain(&keep);
    }
}

/// The scan floor: read and decode every input file with polars' plain readers (CSV
/// decoded from GB18030 first where needed), with no normalisation. Returns rows read.
/// Benchmarks compare a run against this.
pub fn scan_floor(dir: &Path) -> Result<u64, IngestError> {
    use polars::prelude::*;
    let mut rows = 0u64;
    for s in SourceKind::ALL {
        for (path, rel) in discover(dir, s)?.0 {
            let unreadable = |reason: String| IngestError::Unreadable {
                file: rel.clone(),
                reason,
            };
            let bytes = std::fs::read(&path).map_err(|e| unreadable(e.to_string()))?;
            let height = match ext_of(&rel) {
                Some("parquet") => crate::read::parquet_scan(bytes).map_err(unreadable)?,
                None | Some("csv") => {
                    let (utf8, _) = crate::read::decode_csv(bytes).map_err(unreadable)?;
                    let utf8 = utf8.into_bytes();
                    CsvReadOptions::default()
                        .with_has_header(true)
                        .with_infer_schema_length(Some(0))
                        .into_reader_with_file_handle(std::io::Cursor::new(utf8))
                        .finish()
                        .map_err(|e| unreadable(e.to_string()))?
                        .height()
                }
                Some(ext) => {
                    let mut o = Opened::from_bytes(ext, bytes).map_err(unreadable)?;
                    let mut v = Vec::new();
                    let mut blank = 0;
                    while o
                        .next_chunk(CHUNK, &mut v, &mut blank)
                        .map_err(unreadable)?
                    {}
                    v.len()
                }
            };
            rows += height as u64;
        }
    }
    Ok(rows)
}
