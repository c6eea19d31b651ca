//! Loading a data folder: discover each source's files, read, normalise, reject, dedupe.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::IngestError;
use crate::parse::{self, Cells, ColMap, RawRow};
use crate::read::{raw_line, Opened};
use crate::source::{map_headers, SourceKind};
use crate::tables::*;

/// Rows normalised in parallel per chunk.
const CHUNK: usize = 64 * 1024;

/// What happened to one input file.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    /// The source the file belongs to.
    pub source: &'static str,
    /// Path relative to the data folder, `/`-separated.
    pub path: String,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// Detected format (`csv utf-8`, `csv gb18030`, `xlsx`, `parquet`, ...).
    pub format: &'static str,
    /// Data rows read (blank rows not counted).
    pub rows_read: u64,
    /// Rows accepted (including exact duplicates and DQ-003 losers).
    pub rows_accepted: u64,
    /// Rows rejected (see `rejected.csv`).
    pub rows_rejected: u64,
    /// Payment rows that repeat an earlier row exactly, counted where the copy is read.
    pub duplicate_rows: u64,
    /// Rows whose cells were all empty, skipped.
    pub blank_rows: u64,
    /// Time to read and normalise the file, in milliseconds.
    pub millis: u64,
}

/// A row that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Source name.
    pub source: &'static str,
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
    /// 户籍.
    pub hukou: Vec<HukouRow>,
    /// 死亡人员.
    pub deaths: Vec<DeathRow>,
    /// 特殊群体.
    pub eligibility: Vec<EligibilityRow>,
    /// 参保登记.
    pub registrations: Vec<RegistrationRow>,
    /// 缴费明细, one row per txn_id (first read kept).
    pub payments: Vec<PaymentRow>,
    /// 收款登记.
    pub receipts: Vec<ReceiptRow>,
    /// 解缴入库.
    pub deposits: Vec<DepositRow>,
    /// 征收清册.
    pub roster: Vec<RosterRow>,
    /// txn_id conflicts.
    pub conflicts: Vec<Conflict>,
    /// Rejected rows in read order.
    pub rejected: Vec<Rejected>,
    /// `deaths` rows rejected only for an invalid id, for identity linkage.
    pub linkable_deaths: Vec<LinkableDeath>,
    /// Control totals of totals rows, in read order.
    pub control_totals: Vec<ControlTotal>,
}

impl Dataset {
    /// True when the source had at least one file.
    pub fn has(&self, s: SourceKind) -> bool {
        self.present.contains(&s)
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
}

/// Finds a source's files: `SOURCE.EXT` and `SOURCE/*.EXT`, in byte order of their
/// relative paths.
pub fn discover(dir: &Path, source: SourceKind) -> Result<Vec<(PathBuf, String)>, IngestError> {
    let mut found = Vec::new();
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
                if f.path().is_file() && ext_of(&fname).is_some() && !fname.starts_with('.') {
                    found.push((f.path(), format!("{name}/{fname}")));
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
    Ok(found)
}

fn ext_of(name: &str) -> Option<&'static str> {
    let (_, ext) = name.rsplit_once('.')?;
    match ext.to_ascii_lowercase().as_str() {
        "csv" => Some("csv"),
        "xlsx" => Some("xlsx"),
        "parquet" => Some("parquet"),
        _ => None,
    }
}

/// Loads every source of a data folder.
///
/// Fails (exit 2 in the binary) when a required source or a required column is missing
/// or a file cannot be read; bad rows never fail the load, they are rejected.
pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Dataset, IngestError> {
    if !dir.is_dir() {
        return Err(IngestError::NoDataDir(dir.display().to_string()));
    }
    let mut ds = Dataset::default();
    let mut plan = Vec::new();
    for s in SourceKind::ALL {
        let files = discover(dir, s)?;
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
    let year = opts.year;
    for (s, files) in plan {
        let ctx = (s, files.as_slice(), opts.progress);
        match s {
            SourceKind::Hukou => ds.hukou = load_source(&mut ds, ctx, parse::hukou)?,
            SourceKind::Deaths => ds.deaths = load_source(&mut ds, ctx, parse::death)?,
            SourceKind::Eligibility => {
                ds.eligibility = load_source(&mut ds, ctx, parse::eligibility)?
            }
            SourceKind::Registrations => {
                ds.registrations = load_source(&mut ds, ctx, parse::registration)?
            }
            SourceKind::Payments => {
                let rows = load_source(&mut ds, ctx, parse::payment)?;
                dedupe_payments(&mut ds, rows);
            }
            SourceKind::Receipts => {
                ds.receipts = load_source(&mut ds, ctx, |c: &Cells, p| parse::receipt(c, p, year))?;
            }
            SourceKind::Deposits => ds.deposits = load_source(&mut ds, ctx, parse::deposit)?,
            SourceKind::Roster => ds.roster = load_source(&mut ds, ctx, parse::roster)?,
        }
    }
    Ok(ds)
}

type SourceCtx<'a, 'p> = (SourceKind, &'a [(PathBuf, String)], Option<Progress<'p>>);

fn load_source<T: Send>(
    ds: &mut Dataset,
    (source, files, progress): SourceCtx,
    parse_row: impl Fn(&Cells, Prov) -> Result<T, String> + Sync,
) -> Result<Vec<T>, IngestError> {
    let mut out = Vec::new();
    for (path, rel) in files {
        let started = Instant::now();
        let file_idx = ds.files.len() as u32;
        let unreadable = |reason: String| IngestError::Unreadable {
            file: rel.clone(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
        let ext = ext_of(rel).unwrap_or("csv");
        // Hash before the bytes move into the reader: no second copy of a large file.
        let sha = hex_sha256(&bytes);
        let mut opened = Opened::from_bytes(ext, bytes).map_err(unreadable)?;
        let map = map_headers(source, &opened.headers);
        for ((col, required), pos) in source.columns().iter().zip(&map) {
            if *required && pos.is_none() {
                return Err(IngestError::MissingColumn {
                    file: rel.clone(),
                    column: col.describe(),
                });
            }
        }
        let colmap = ColMap::new(source, &map);
        let mut report = FileReport {
            source: source.name(),
            path: rel.clone(),
            sha256: sha,
            format: opened.format,
            ..FileReport::default()
        };
        let parse_chunk = |chunk: &[RawRow]| -> Vec<Result<T, String>> {
            chunk
                .par_iter()
                .map(|raw| {
                    if let Some(p) = &raw.problem {
                        return Err(p.clone());
                    }
                    let prov = Prov {
                        file: file_idx,
                        line: raw.line,
                    };
                    parse_row(&Cells::new(&colmap, &raw.fields), prov)
                })
                .collect()
        };
        let mut blank = 0;
        let mut chunk: Vec<RawRow> = Vec::with_capacity(CHUNK);
        let mut more = opened
            .next_chunk(CHUNK, &mut chunk, &mut blank)
            .map_err(&unreadable)?;
        out.reserve(chunk.len() + opened.remaining_hint(chunk.len() + blank as usize));
        loop {
            // Read the next chunk while this one is normalised on the other cores.
            let mut next: Vec<RawRow> = Vec::with_capacity(if more { CHUNK } else { 0 });
            let (read, parsed) = rayon::join(
                || {
                    if more {
                        opened.next_chunk(CHUNK, &mut next, &mut blank)
                    } else {
                        Ok(false)
                    }
                },
                || parse_chunk(&chunk),
            );
            for (raw, res) in chunk.iter().zip(parsed) {
                report.rows_read += 1;
                match res {
                    Ok(row) => {
                        report.rows_accepted += 1;
                        out.push(row);
                    }
                    Err(reason) => {
                        report.rows_rejected += 1;
                        ds.rejected.push(Rejected {
                            source: source.name(),
                            file: rel.clone(),
                            line: raw.line,
                            reason,
                            raw: raw_line(&raw.fields),
                        });
                    }
                }
            }
            if let Some(p) = progress {
                p(rel, report.rows_read);
            }
            if !more {
                break;
            }
            more = read.map_err(&unreadable)?;
            chunk = next;
        }
        report.blank_rows = blank;
        report.millis = started.elapsed().as_millis() as u64;
        ds.files.push(rel.clone());
        ds.reports.push(report);
    }
    Ok(out)
}

fn hex_sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Keeps one row per txn_id: exact copies count as `duplicate_rows` on the file where the
/// copy is read; differing rows keep the first read and are recorded as conflicts (DQ-003).
fn dedupe_payments(ds: &mut Dataset, rows: Vec<PaymentRow>) {
    // Rows are in read order (files by name, rows by line); a stable sort by txn_id keeps
    // that order within each txn_id, so the first of a group is the first read.
    let mut order: Vec<u32> = (0..rows.len() as u32).collect();
    order.par_sort_by(|&a, &b| {
        rows[a as usize]
            .txn_id
            .cmp(&rows[b as usize].txn_id)
            .then(a.cmp(&b))
    });
    let mut keep = vec![true; rows.len()];
    let mut i = 0;
    while i < order.len() {
        let first = order[i] as usize;
        let mut j = i + 1;
        let mut differs = false;
        while j < order.len() && rows[order[j] as usize].txn_id == rows[first].txn_id {
            let other = order[j] as usize;
            keep[other] = false;
            if rows[other].same_content(&rows[first]) {
                // An exact copy of the kept row: one payment.
                ds.reports[rows[other].prov.file as usize].duplicate_rows += 1;
            } else {
                differs = true;
            }
            j += 1;
        }
        if differs {
            // Every row read with this txn_id, in read order, whatever the order of the
            // exact copies and the differing rows.
            ds.conflicts.push(Conflict {
                txn_id: rows[first].txn_id.clone(),
                rows: order[i..j]
                    .iter()
                    .map(|&k| rows[k as usize].clone())
                    .collect(),
            });
        }
        i = j;
    }
    ds.payments = rows
        .into_iter()
        .zip(keep)
        .filter_map(|(r, k)| k.then_some(r))
        .collect();
}

/// The scan floor: read and decode every input file with polars' plain readers (CSV
/// decoded from GB18030 first where needed), with no normalisation. Returns rows read.
/// Benchmarks compare a run against this.
pub fn scan_floor(dir: &Path) -> Result<u64, IngestError> {
    use polars::prelude::*;
    let mut rows = 0u64;
    for s in SourceKind::ALL {
        for (path, rel) in discover(dir, s)? {
            let unreadable = |reason: String| IngestError::Unreadable {
                file: rel.clone(),
                reason,
            };
            let bytes = std::fs::read(&path).map_err(|e| unreadable(e.to_string()))?;
            let height = match ext_of(&rel) {
                Some("parquet") => ParquetReader::new(std::io::Cursor::new(bytes))
                    .finish()
                    .map_err(|e| unreadable(e.to_string()))?
                    .height(),
                Some("csv") => {
                    let (utf8, _) = crate::read::decode_csv(bytes).map_err(unreadable)?;
                    CsvReadOptions::default()
                        .with_has_header(true)
                        .with_infer_schema_length(Some(0))
                        .into_reader_with_file_handle(std::io::Cursor::new(utf8))
                        .finish()
                        .map_err(|e| unreadable(e.to_string()))?
                        .height()
                }
                _ => {
                    let mut o = Opened::from_bytes("xlsx", bytes).map_err(unreadable)?;
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
