//! `manifest.json` as a typed struct: what a run read, found and wrote.
//!
//! Fields are declared in the order they are written (alphabetical, as the file has
//! always been: `serde_json` maps are sorted), so the struct reads as the file does.

use std::collections::BTreeMap;

use qianbiao_core::policy::Policy;
use qianbiao_core::{Fen, Finding};
use qianbiao_ingest::read::LineCounts;
use qianbiao_ingest::{Dataset, FileReport, SourceKind};
use serde::Serialize;

use crate::{partition, Ledger, RuleStatus, VERSION};

/// The whole manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest<'a> {
    /// The run's as_of date.
    pub as_of: String,
    /// Where as_of came from.
    pub as_of_from: &'a str,
    /// The data folder as given.
    pub data: String,
    /// Name and version of the engine.
    pub engine: Engine,
    /// Findings: total, amount, per rule.
    pub findings: FindingTotals<'a>,
    /// The ledger's totals.
    pub ledger: LedgerTotals,
    /// sha256 of every output file but the manifest, by name.
    pub outputs: BTreeMap<String, String>,
    /// How the run was partitioned.
    pub partitions: Partitions<'a>,
    /// The process's peak resident memory per stage, in MiB rounded up ([`crate::memory`]);
    /// absent where the system does not let a run measure it.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub peak_rss_mib: BTreeMap<&'static str, u64>,
    /// Persons of the person view.
    pub persons: usize,
    /// The pipeline.
    pub pipeline: PipelineInfo<'a>,
    /// The policy as run.
    pub policy: &'a Policy,
    /// sha256 of the previous run's manifest in a workspace (absent outside one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_manifest_sha256: Option<String>,
    /// Row counts over every file.
    pub rows: RowTotals,
    /// Per rule: run or skipped.
    pub rules: Vec<RuleEntry>,
    /// Per source, its files and what was not read.
    pub sources: Vec<SourceEntry<'a>>,
    /// Milliseconds per stage.
    pub timings_ms: BTreeMap<&'static str, u64>,
}

/// `engine`.
#[derive(Debug, Clone, Serialize)]
pub struct Engine {
    /// Always `qianbiao`.
    pub name: &'static str,
    /// The crate version.
    pub version: &'static str,
}

/// `pipeline`.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineInfo<'a> {
    /// The pipeline's name.
    pub name: &'a str,
    /// Where it came from (a file, or the built-in default).
    pub source: &'a str,
}

/// One rule's count and amount.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct RuleAmount {
    /// Findings' amount.
    pub amount: Fen,
    /// Findings.
    pub count: u64,
}

/// `findings`.
#[derive(Debug, Clone, Serialize)]
pub struct FindingTotals<'a> {
    /// Every finding's amount.
    pub amount: Fen,
    /// Per rule with findings.
    pub by_rule: BTreeMap<&'a str, RuleAmount>,
    /// Findings.
    pub total: usize,
}

/// `ledger`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LedgerTotals {
    /// Effective payments with a collector: their amount.
    pub collector_payments_amount: Fen,
    /// Every deposit's amount.
    pub deposits_amount: Fen,
    /// Effective payments' amount.
    pub effective_amount: Fen,
    /// Effective payments.
    pub effective_payments: usize,
    /// Payments rows kept (one per txn_id).
    pub payments_kept: usize,
    /// Every receipt's amount.
    pub receipts_amount: Fen,
}

impl From<&Ledger> for LedgerTotals {
    fn from(l: &Ledger) -> Self {
        LedgerTotals {
            collector_payments_amount: l.collector_payments_amount,
            deposits_amount: l.deposits_amount,
            effective_amount: l.effective_amount,
            effective_payments: l.effective_payments,
            payments_kept: l.payments_kept,
            receipts_amount: l.receipts_amount,
        }
    }
}

/// `partitions`: the buckets' rows, and for a partitioned run its components.
#[derive(Debug, Clone, Serialize)]
pub struct Partitions<'a> {
    /// Components with rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<u64>,
    /// Number of partitions.
    pub count: usize,
    /// Bytes the keys table held at most.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys_table_bytes: Option<u64>,
    /// Bytes of pass 1's pairs written to the spill folder (removed before the split).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys_spill_bytes: Option<u64>,
    /// Rows of the largest component.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub largest_component_rows: Option<u64>,
    /// Rows per partition.
    pub rows: &'a [u64],
    /// Bytes written to the spill folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spill_bytes: Option<u64>,
}

/// `rows`: every file's counts added up.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RowTotals {
    /// Rows accepted.
    pub accepted: u64,
    /// Blank rows.
    pub blank_rows: u64,
    /// Exact copies of an earlier row.
    pub duplicate_rows: u64,
    /// Title rows above the header.
    pub preamble_rows: u64,
    /// Rows read.
    pub read: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// Totals rows.
    pub total_rows: u64,
}

/// One rule of `rules`.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum RuleEntry {
    /// The rule ran.
    Run {
        /// Its findings' amount.
        amount: Fen,
        /// The rule's code.
        code: &'static str,
        /// Its findings.
        findings: usize,
        /// Milliseconds it took.
        millis: u128,
        /// Always `run`.
        status: &'static str,
    },
    /// The rule did not run.
    Skipped {
        /// The rule's code.
        code: &'static str,
        /// Why.
        reason: String,
        /// Always `skipped`.
        status: &'static str,
    },
}

impl From<&RuleStatus> for RuleEntry {
    fn from(s: &RuleStatus) -> Self {
        match &s.skipped {
            Some(why) => RuleEntry::Skipped {
                code: s.code,
                reason: why.clone(),
                status: "skipped",
            },
            None => RuleEntry::Run {
                amount: s.amount,
                code: s.code,
                findings: s.findings,
                millis: s.millis,
                status: "run",
            },
        }
    }
}

/// One source of `sources`.
#[derive(Debug, Clone, Serialize)]
pub struct SourceEntry<'a> {
    /// Its files, in read order.
    pub files: Vec<FileEntry<'a>>,
    /// Entries of its folder that were not read.
    pub ignored: Vec<IgnoredEntry<'a>>,
    /// True when it had a file.
    pub present: bool,
    /// The source's name.
    pub source: &'static str,
}

/// One file of a source.
#[derive(Debug, Clone, Serialize)]
pub struct FileEntry<'a> {
    /// Blank rows.
    pub blank_rows: u64,
    /// Exact copies of an earlier row.
    pub duplicate_rows: u64,
    /// csv, xlsx, xls or parquet.
    pub format: &'static str,
    /// What each physical line was.
    pub lines: LineCounts,
    /// Milliseconds to read it.
    pub millis: u64,
    /// Path relative to the data folder.
    pub path: &'a str,
    /// Title rows above the header.
    pub preamble_rows: u64,
    /// Rows accepted.
    pub rows_accepted: u64,
    /// Rows read.
    pub rows_read: u64,
    /// Rows rejected.
    pub rows_rejected: u64,
    /// sha256 of the file.
    pub sha256: &'a str,
    /// Totals rows.
    pub total_rows: u64,
}

impl<'a> From<&'a FileReport> for FileEntry<'a> {
    fn from(r: &'a FileReport) -> Self {
        FileEntry {
            blank_rows: r.blank_rows,
            duplicate_rows: r.duplicate_rows,
            format: r.format,
            lines: r.lines,
            millis: r.millis,
            path: &r.path,
            preamble_rows: r.preamble_rows,
            rows_accepted: r.rows_accepted,
            rows_read: r.rows_read,
            rows_rejected: r.rows_rejected,
            sha256: &r.sha256,
            total_rows: r.total_rows,
        }
    }
}

/// An entry of a source folder that was not read.
#[derive(Debug, Clone, Serialize)]
pub struct IgnoredEntry<'a> {
    /// Path relative to the data folder.
    pub path: &'a str,
    /// Why.
    pub reason: &'static str,
}

/// What the manifest is made of, besides the outputs' hashes.
pub(crate) struct Parts<'a> {
    pub opts: &'a crate::RunOptions<'a>,
    pub ds: &'a Dataset,
    pub as_of: chrono::NaiveDate,
    pub as_of_from: &'a str,
    pub findings: &'a [Finding],
    pub rule_status: &'a [RuleStatus],
    pub persons: usize,
    pub ledger: &'a Ledger,
    pub partitions: &'a [u64],
    pub components: Option<partition::Stats>,
    pub timings: &'a [(&'static str, u64)],
    pub peaks: &'a [(&'static str, u64)],
}

impl<'a> Manifest<'a> {
    /// The manifest of a run, without its outputs' hashes.
    pub(crate) fn of(m: Parts<'a>) -> Manifest<'a> {
        let ds = m.ds;
        let sources = SourceKind::ALL
            .iter()
            .map(|s| SourceEntry {
                files: ds
                    .reports
                    .iter()
                    .filter(|r| r.source == s.name())
                    .map(FileEntry::from)
                    .collect(),
                ignored: ds
                    .ignored
                    .iter()
                    .filter(|i| i.source == s.name())
                    .map(|i| IgnoredEntry {
                        path: &i.path,
                        reason: i.reason,
                    })
                    .collect(),
                present: ds.has(*s),
                source: s.name(),
            })
            .collect();
        let sum = |f: fn(&FileReport) -> u64| ds.reports.iter().map(f).sum::<u64>();
        let mut by_rule: BTreeMap<&str, RuleAmount> = BTreeMap::new();
        for f in m.findings {
            let e = by_rule.entry(f.rule).or_default();
            e.count += 1;
            e.amount += f.amount;
        }
        let stats = m.components;
        Manifest {
            as_of: m.as_of.to_string(),
            as_of_from: m.as_of_from,
            data: m.opts.data.display().to_string(),
            engine: Engine {
                name: "qianbiao",
                version: VERSION,
            },
            findings: FindingTotals {
                amount: m.findings.iter().map(|f| f.amount).sum::<Fen>(),
                by_rule,
                total: m.findings.len(),
            },
            ledger: LedgerTotals::from(m.ledger),
            outputs: BTreeMap::new(),
            partitions: Partitions {
                components: stats.map(|s| s.components),
                count: m.partitions.len(),
                keys_table_bytes: stats.map(|s| s.keys_bytes),
                keys_spill_bytes: stats.map(|s| s.keys_spill_bytes),
                largest_component_rows: stats.map(|s| s.largest),
                rows: m.partitions,
                spill_bytes: stats.map(|s| s.spill_bytes),
            },
            persons: m.persons,
            pipeline: PipelineInfo {
                name: &m.opts.pipeline.name,
                source: &m.opts.pipeline_source,
            },
            policy: &m.opts.pipeline.policy,
            previous_manifest_sha256: None,
            rows: RowTotals {
                accepted: sum(|r| r.rows_accepted),
                blank_rows: sum(|r| r.blank_rows),
                duplicate_rows: sum(|r| r.duplicate_rows),
                preamble_rows: sum(|r| r.preamble_rows),
                read: sum(|r| r.rows_read),
                rejected: sum(|r| r.rows_rejected),
                total_rows: sum(|r| r.total_rows),
            },
            rules: m.rule_status.iter().map(RuleEntry::from).collect(),
            sources,
            timings_ms: m.timings.iter().copied().collect(),
            peak_rss_mib: m
                .peaks
                .iter()
                .map(|&(s, b)| (s, b.div_ceil(1 << 20)))
                .collect(),
        }
    }
}
