//! Synthetic towns for qianbiao: the eight departmental exports of a Dianzi-like town
//! for the 2022 collection, with planted anomalies of every rule and the exact findings
//! a correct engine must produce (`truth.csv`).
//!
//! How it works:
//!
//! - The town is split into villages; each village is one *chunk* generated from its own
//!   random stream (`seed` and village number), so the output is byte-identical for a seed
//!   and chunks can be built in parallel. Every identifier carries the village number, so
//!   no id, txn_id, receipt, deposit, collector or account is shared between chunks.
//! - A chunk is first a clean village that breaks no rule; then anomalies of every rule
//!   are planted, together with near misses that must not fire.
//! - Truth is not taken from the planting: a reference evaluator (module `eval`) written
//!   directly from `rules.md` runs over each final chunk. Since no rule relates records
//!   of two chunks except through `as_of` (fixed by construction: chunk 0 holds a payment
//!   on [`as_of`] and nothing is dated later), the union of the chunks' findings is the
//!   town's findings; a test checks this against a whole-town evaluation.
//! - Clean output streams chunk by chunk (bounded memory). Dirty output keeps the town
//!   in memory and writes it in every format and spelling of `data-contract.md`.
//!
//! Files written into `out`:
//!
//! - clean: `SOURCE.csv` (UTF-8, canonical headers and values) or `SOURCE.parquet`
//!   (native dates, datetimes, integers, decimal(18,2) money) for the eight sources;
//! - dirty: `hukou.csv` and `roster.csv` (GB18030, CRLF), `deaths.csv` (UTF-8 BOM),
//!   `eligibility.xlsx` and `deposits.xlsx`, `registrations.parquet`, the folder
//!   `payments/` (`part1.csv` BOM, `part2.xlsx`, `part3.csv` GB18030, with rows exported
//!   twice), `receipts.csv` plus the folder `receipts/`; and `expected_rejects.csv`;
//! - always `truth.csv` (`rule,key,amount`, sorted by rule then key).
//!
//! Inputs of an earlier run in `out` (`SOURCE.{csv,parquet,xlsx}`, such files inside
//! `SOURCE/`, `truth.csv`, `expected_rejects.csv`) are removed first.
#![warn(missing_docs)]

mod clean;
mod dirty;
mod eval;
mod fxhash;
mod model;
mod names;
mod plant;
mod schema;
mod town;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use qianbiao_core::Policy;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

pub use eval::TruthRow;
pub use plant::RULES;

use crate::clean::CleanWriter;
use crate::model::{Chunk, Village};
use crate::town::Gen;

/// The fewest persons a town can have (every village needs a few plain residents).
pub const MIN_PERSONS: usize = 100;

/// The most persons of a dirty town (it is held in memory; XLSX sheets hold ~1M rows).
pub const MAX_DIRTY_PERSONS: usize = 1_000_000;

/// The output format of a clean town.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// UTF-8 CSV with canonical headers and values.
    Csv,
    /// Parquet with native dates, datetimes, integers and decimal(18,2) money.
    Parquet,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Number of hukou residents.
    pub persons: usize,
    /// Random seed: the same seed gives byte-identical files.
    pub seed: u64,
    /// Output folder (created if missing).
    pub out: PathBuf,
    /// Write every input variation of the data contract (mixed encodings and formats,
    /// aliases, spellings, split payments with duplicate rows, garbage rows); `format`
    /// is then ignored.
    pub dirty: bool,
    /// Format of a clean town.
    pub format: Format,
    /// Persons per town: a larger population is a province of towns of about this
    /// size ([`TOWN_PERSONS`] by default), each generated like a one-town run and with
    /// identifiers, area codes and names of its own.
    pub town_persons: usize,
}

/// Persons per town of a province unless told otherwise: up to this size a run is one
/// town (up to 30 villages); a village of a larger town would not fit in memory.
pub const TOWN_PERSONS: usize = 1_000_000;

/// What was generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthSummary {
    /// Hukou residents.
    pub persons: usize,
    /// Payments rows (canonical rows; excludes garbage rows and second copies).
    pub payments: usize,
    /// Rows of `truth.csv`.
    pub truth_rows: usize,
    /// Rows the engine must reject, over all files (0 for a clean town).
    pub expected_rejected: usize,
    /// Towns (1 unless the persons exceed the town size).
    pub towns: usize,
}

/// Why a town could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A file or folder could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Writing CSV failed.
    #[error("{0}: {1}")]
    Csv(String, csv::Error),
    /// Writing Parquet failed.
    #[error("{0}: {1}")]
    Parquet(String, String),
    /// Writing XLSX failed.
    #[error("{0}: {1}")]
    Xlsx(String, String),
    /// The options ask for something the generator cannot do.
    #[error("invalid options: {0}")]
    Options(String),
    /// A generator invariant broke (a bug).
    #[error("internal error: {0}")]
    Internal(String),
}

pub(crate) fn io_err(path: &Path, source: std::io::Error) -> SynthError {
    SynthError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The as_of date of every generated town (the latest payment; `--as-of` default).
pub fn as_of() -> NaiveDate {
    town::as_of()
}

/// Generates a town with planted anomalies and its truth.
pub fn generate(opts: &SynthOptions) -> Result<SynthSummary, SynthError> {
    generate_with(opts, true)
}

/// Generates a town; with `plant` false the town is clean (no anomaly, no near miss) and
/// `truth.csv` has its header only.
pub fn generate_with(opts: &SynthOptions, plant: bool) -> Result<SynthSummary, SynthError> {
    generate_reporting(opts, plant, &|_, _| {})
}

/// [`generate_with`], calling `progress(persons_written, persons)` after every group of
/// villages (a province takes long).
pub fn generate_reporting(
    opts: &SynthOptions,
    plant: bool,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<SynthSummary, SynthError> {
    let policy = Policy::dianzi_2022();
    if opts.persons < MIN_PERSONS {
        return Err(SynthError::Options(format!(
            "persons must be at least {MIN_PERSONS}"
        )));
    }
    if opts.dirty && opts.persons > MAX_DIRTY_PERSONS {
        return Err(SynthError::Options(format!(
            "a dirty town has at most {MAX_DIRTY_PERSONS} persons"
        )));
    }
    if opts.town_persons < MIN_PERSONS {
        return Err(SynthError::Options(format!(
            "a town has at least {MIN_PERSONS} persons"
        )));
    }
    let towns = province(&policy, opts.persons, opts.town_persons, opts.seed, plant);
    let town_count = towns.len();
    if opts.dirty && town_count > 1 {
        return Err(SynthError::Options(
            "a dirty town is one town: persons must not exceed the town size".to_string(),
        ));
    }
    std::fs::create_dir_all(&opts.out).map_err(|e| io_err(&opts.out, e))?;
    clear_previous(&opts.out)?;
    let mut truth: Vec<TruthRow> = Vec::new();
    let mut payments = 0;
    let mut max_dates: Vec<Option<NaiveDate>> = Vec::new();
    let mut expected_rejected = 0;
    if opts.dirty {
        let mut layout = towns.into_iter().next().expect("one town");
        layout.dirty = true;
        let nv = layout.villages.len();
        let built: Vec<(Chunk, Vec<TruthRow>)> = (0..nv)
            .into_par_iter()
            .map(|v| layout.build(&policy, v))
            .collect();
        let mut town = Chunk::default();
        for (chunk, t) in built {
            max_dates.push(eval::max_date(&chunk));
            payments += chunk.payments.len();
            truth.extend(t);
            town.extend(chunk);
        }
        let (lines, totals) = dirty::write_dirty(&town, &layout.villages, &opts.out, opts.seed)?;
        truth.extend(totals);
        expected_rejected = lines.iter().map(|l| l.rejected).sum();
        write_rejects(&opts.out, &lines)?;
    } else {
        let mut writer = CleanWriter::create(&opts.out, opts.format, &towns[0].villages)?;
        let mut written = 0;
        let batch = rayon::current_num_threads().max(1);
        let ids: Vec<(usize, usize)> = towns
            .iter()
            .enumerate()
            .flat_map(|(t, l)| (0..l.villages.len()).map(move |v| (t, v)))
            .collect();
        for group in ids.chunks(batch) {
            let done: Vec<Result<Built, SynthError>> = group
                .par_iter()
                .map(|&(t, v)| {
                    let layout = &towns[t];
                    let (chunk, t) = layout.build(&policy, v);
                    let r = CleanWriter::render(&chunk, &layout.villages, opts.format)?;
                    Ok((r, t, chunk.payments.len(), eval::max_date(&chunk)))
                })
                .collect();
            written += group.iter().map(|&(t, v)| towns[t].sizes[v]).sum::<usize>();
            for d in done {
                let (r, t, n, md) = d?;
                writer.write(r)?;
                truth.extend(t);
                payments += n;
                max_dates.push(md);
            }
            progress(written, opts.persons);
        }
        writer.finish()?;
    }
    check_as_of(&max_dates)?;
    truth.sort();
    write_truth(&opts.out, &truth)?;
    Ok(SynthSummary {
        persons: opts.persons,
        payments,
        truth_rows: truth.len(),
        expected_rejected,
        towns: town_count,
    })
}

/// A chunk rendered for the writers, its truth, its payments count and latest date.
type Built = (clean::Rendered, Vec<TruthRow>, usize, Option<NaiveDate>);

/// Chunk 0 must end exactly on as_of and no chunk may go past it.
fn check_as_of(max_dates: &[Option<NaiveDate>]) -> Result<(), SynthError> {
    let a = as_of();
    if max_dates.first().copied().flatten() != Some(a) {
        return Err(SynthError::Internal(format!(
            "village 0 does not end on as_of {a}: {:?}",
            max_dates.first()
        )));
    }
    if let Some(bad) = max_dates.iter().flatten().find(|d| **d > a) {
        return Err(SynthError::Internal(format!(
            "a record is dated {bad}, after as_of {a}"
        )));
    }
    Ok(())
}

/// Removes the inputs a previous run may have left (only the files this crate writes).
fn clear_previous(out: &Path) -> Result<(), SynthError> {
    let exts = ["csv", "parquet", "xlsx"];
    for s in schema::SOURCES {
        for ext in exts {
            let p = out.join(format!("{}.{ext}", s.name()));
            if p.is_file() {
                std::fs::remove_file(&p).map_err(|e| io_err(&p, e))?;
            }
        }
        let dir = out.join(s.name());
        if dir.is_dir() {
            let entries = std::fs::read_dir(&dir).map_err(|e| io_err(&dir, e))?;
            for e in entries {
                let p = e.map_err(|e| io_err(&dir, e))?.path();
                let ours = p
                    .extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| exts.contains(&x));
                if p.is_file() && ours {
                    std::fs::remove_file(&p).map_err(|e| io_err(&p, e))?;
                }
            }
        }
    }
    for f in ["truth.csv", "expected_rejects.csv"] {
        let p = out.join(f);
        if p.is_file() {
            std::fs::remove_file(&p).map_err(|e| io_err(&p, e))?;
        }
    }
    Ok(())
}

fn write_truth(out: &Path, truth: &[TruthRow]) -> Result<(), SynthError> {
    let path = out.join("truth.csv");
    let mut w = csv::Writer::from_path(&path)
        .map_err(|e| SynthError::Csv(path.display().to_string(), e))?;
    let cerr = |e| SynthError::Csv(path.display().to_string(), e);
    w.write_record(["rule", "key", "amount"]).map_err(cerr)?;
    for t in truth {
        w.write_record([t.rule, t.key.as_str(), t.amount.to_string().as_str()])
            .map_err(cerr)?;
    }
    w.flush().map_err(|e| io_err(&path, e))
}

fn write_rejects(out: &Path, lines: &[dirty::RejectLine]) -> Result<(), SynthError> {
    use std::io::Write;
    let path = out.join("expected_rejects.csv");
    let mut f =
        std::io::BufWriter::new(std::fs::File::create(&path).map_err(|e| io_err(&path, e))?);
    let mut w = csv::Writer::from_writer(&mut f);
    let cerr = |e| SynthError::Csv(path.display().to_string(), e);
    w.write_record([
        "source",
        "file",
        "rejected",
        "duplicate_rows",
        "preamble_rows",
        "total_rows",
    ])
    .map_err(cerr)?;
    for l in lines {
        w.write_record([
            l.source,
            l.file.as_str(),
            &l.rejected.to_string(),
            &l.duplicate_rows.to_string(),
            &l.preamble_rows.to_string(),
            &l.total_rows.to_string(),
        ])
        .map_err(cerr)?;
    }
    w.flush().map_err(|e| io_err(&path, e))?;
    drop(w);
    f.flush().map_err(|e| io_err(&path, e))
}

/// The towns of a run: one town of `persons` when they fit in `town_persons`, else a
/// province of towns of about `town_persons` each (at most one more than there are town
/// marks; towns then grow). Town 0 is what a one-town run of its size and the same seed makes;
/// town `t > 0` has a seed, village names, area codes, identifiers and a name mark of
/// its own, so that no record of one town relates to a record of another and the
/// province's truth is the union of its towns'.
pub(crate) fn province(
    policy: &Policy,
    persons: usize,
    town_persons: usize,
    seed: u64,
    plant: bool,
) -> Vec<Layout> {
    let marks = names::town_marks();
    let n = persons
        .div_ceil(town_persons.max(1))
        .clamp(1, marks.len() + 1);
    let mut towns = Vec::with_capacity(n);
    for t in 0..n {
        let size = persons / n + usize::from(t < persons % n);
        if t == 0 {
            towns.push(Layout::new(policy, size, seed, plant));
            continue;
        }
        let mut l = Layout::new(policy, size, town::sub_seed(seed, t as u64, 3), plant);
        let name = names::town_name(t - 1);
        for v in &mut l.villages {
            v.name = format!("{name}{}", v.name);
            v.office = format!("{name}{}", v.office);
        }
        l.town = t as u16;
        l.mark = Some(marks[t - 1]);
        towns.push(l);
    }
    towns
}

/// The shape of a town: villages, their sizes and what is planted where.
pub(crate) struct Layout {
    /// The town of a province (0 in a one-town run) and its residents' name mark.
    pub town: u16,
    pub mark: Option<char>,
    pub seed: u64,
    pub villages: Vec<Village>,
    pub sizes: Vec<usize>,
    pub plant_counts: Vec<usize>,
    pub cov_band: Vec<Option<usize>>,
    pub plant: bool,
    /// Written as a dirty town: ids typed into Excel as numbers exist (in XLSX only).
    pub dirty: bool,
}

impl Layout {
    pub(crate) fn new(policy: &Policy, persons: usize, seed: u64, plant: bool) -> Layout {
        let mut rng = SmallRng::seed_from_u64(town::sub_seed(seed, u64::MAX, 0));
        let nv = (persons / 250).clamp(1, names::VILLAGES.len());
        let mut pick: Vec<usize> = (0..names::VILLAGES.len()).collect();
        pick.shuffle(&mut rng);
        let mut pick: Vec<usize> = pick.into_iter().take(nv).collect();
        pick.sort_unstable();
        let villages: Vec<Village> = pick
            .iter()
            .map(|&i| Village {
                name: names::VILLAGES[i].0.to_string(),
                office: names::VILLAGES[i].1.to_string(),
            })
            .collect();
        let weights: Vec<f64> = (0..nv).map(|_| rng.random_range(0.6..1.4)).collect();
        let total: f64 = weights.iter().sum();
        let mut sizes: Vec<usize> = weights
            .iter()
            .map(|w| ((persons as f64) * w / total).floor() as usize)
            .collect();
        let mut rest = persons - sizes.iter().sum::<usize>();
        let mut k = 0;
        while rest > 0 {
            sizes[k % nv] += 1;
            rest -= 1;
            k += 1;
        }
        let per_rule = (persons / 2000).max(2);
        let plant_counts = (0..nv)
            .map(|v| {
                if plant {
                    per_rule / nv + usize::from(v < per_rule % nv)
                } else {
                    0
                }
            })
            .collect();
        let band = |name: &str| policy.coverage_bands.iter().position(|b| b.name == name);
        let mut cov_band = vec![None; nv];
        if plant {
            cov_band[0] = band("pension_45_59");
            if nv > 1 {
                cov_band[1] = band("pension_16_44");
            }
        }
        Layout {
            town: 0,
            mark: None,
            seed,
            villages,
            sizes,
            plant_counts,
            cov_band,
            plant,
            dirty: false,
        }
    }

    /// Builds village `v` (clean, then planted) and evaluates it.
    pub(crate) fn build(&self, policy: &Policy, v: usize) -> (Chunk, Vec<TruthRow>) {
        let mut g = Gen::new(
            policy,
            self.seed,
            self.town,
            self.mark,
            v as u16,
            self.villages.len() as u16,
        );
        g.clean(self.sizes[v]);
        if self.plant {
            let mut planter = plant::Planter::new(&mut g);
            planter.dirty = self.dirty;
            planter.plant_all(self.plant_counts[v], self.cov_band[v]);
        }
        let chunk = g.chunk;
        let truth = eval::evaluate(&chunk, policy, as_of(), &self.villages);
        (chunk, truth)
    }
}

/// Reads a `truth.csv` back as (rule, key, amount) rows.
pub fn read_truth(path: &Path) -> Result<Vec<(String, String, String)>, SynthError> {
    let cerr = |e| SynthError::Csv(path.display().to_string(), e);
    let mut r = csv::Reader::from_path(path).map_err(cerr)?;
    let mut v = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(cerr)?;
        v.push((rec[0].to_string(), rec[1].to_string(), rec[2].to_string()));
    }
    Ok(v)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod roundtrip_tests;
