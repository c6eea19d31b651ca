//! One run: load -> person view -> rules in parallel -> findings and tables -> manifest.
#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use qianbiao_core::policy::Pipeline;
use qianbiao_core::{Fen, Finding, Severity};
use qianbiao_ingest::{load, Dataset, IngestError, LoadOptions};
use qianbiao_report::{CollectorRow, ReportError};
use qianbiao_rules::cov::CoverageRow;
use qianbiao_rules::{registry, Context};
use rayon::prelude::*;
use serde_json::Value;

pub mod memory;
pub mod partition;
mod shards;
pub use partition::{
    bucket_folder, bucket_parts, check_bucket_with, keys_file, keys_of_piece, merge_pieces,
    part_columns, pieces_of, read_keys, split_file, split_file_with, BucketJob, BucketMap,
    BucketResult, BucketRunner, ChecksPlan, FileKeys, FileSplit, InputFile, KeysJob, KeysTaker,
    KeysWriter, LocalRunner, Part, PartSink, PartitionInput, Partitioning, Piece, RowKeys,
    SplitJob, SplitTook, DEFAULT_TASK_ROWS,
};
pub mod manifest;

/// Why a run could not complete (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The inputs could not be loaded.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// An output could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The pipeline or an option is wrong.
    #[error("{0}")]
    Config(String),
}

/// What to run.
pub struct RunOptions<'a> {
    /// The data folder.
    pub data: PathBuf,
    /// The output folder (created if missing).
    pub out: PathBuf,
    /// The pipeline (policy).
    pub pipeline: Pipeline,
    /// Where the pipeline came from, for the manifest.
    pub pipeline_source: String,
    /// `--as-of`, if given.
    pub as_of: Option<NaiveDate>,
    /// Progress: a stage name, a file and rows done.
    pub progress: Option<qianbiao_ingest::load::Progress<'a>>,
    /// `--mask`: ids and names masked in every output meant for reading.
    pub mask: bool,
    /// `--partitions` / `--memory-limit`.
    pub partitioning: Partitioning,
    /// Where a partitioned run's buckets are checked: None on this machine, one at a
    /// time; `--cluster` gives a distributed engine's runner, and the run is always
    /// partitioned then.
    pub runner: Option<&'a dyn BucketRunner>,
}

/// What a run produced.
#[derive(Debug)]
pub struct RunSummary {
    /// Every finding, sorted by rule then key.
    pub findings: Vec<Finding>,
    /// The manifest as written.
    pub manifest: Value,
}

/// The engine's version, written to the manifest.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The default as_of: the latest date among kept payments rows (any status) and deposits.
pub fn default_as_of(ds: &Dataset) -> Option<NaiveDate> {
    let p = ds.payments().iter().map(|p| p.paid_at().date()).max();
    let d = ds.deposits().iter().map(|d| d.deposited_at().date()).max();
    p.max(d)
}

/// The as_of of a run and where it came from: the given date, else [`default_as_of`], else
/// the window end (a ledger with no dated rows).
pub fn resolve_as_of(
    ds: &Dataset,
    policy: &qianbiao_core::Policy,
    given: Option<NaiveDate>,
) -> (NaiveDate, &'static str) {
    choose_as_of(given, || default_as_of(ds), policy.window_end)
}

/// The as_of of a run and where it came from, given the latest date of the data (computed
/// only when no date is given): a run in memory takes it from its dataset, a partitioned
/// run from its keys pass.
pub(crate) fn choose_as_of(
    given: Option<NaiveDate>,
    latest: impl FnOnce() -> Option<NaiveDate>,
    window_end: NaiveDate,
) -> (NaiveDate, &'static str) {
    match given {
        Some(d) => (d, "--as-of"),
        None => match latest() {
            Some(d) => (d, "latest date in payments and deposits"),
            None => (window_end, "window end (no dated payments or deposits)"),
        },
    }
}

/// What one rule did in a run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RuleStatus {
    /// The rule's code.
    #[serde(deserialize_with = "qianbiao_core::static_str")]
    pub code: qianbiao_core::StaticStr,
    /// Why it did not run, if it did not.
    pub skipped: Option<String>,
    /// Findings it gave.
    pub findings: usize,
    /// Their total amount.
    pub amount: Fen,
    /// Time it took.
    pub millis: u128,
}

impl RuleStatus {
    /// The status as the manifest writes it.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(manifest::RuleEntry::from(self)).expect("a rule status serialises")
    }

    /// Adds the same rule's status in another partition of the run.
    pub fn add(&mut self, other: &RuleStatus) {
        self.findings += other.findings;
        self.amount += other.amount;
        self.millis += other.millis;
    }
}

/// The order findings are written in: rule, then key; and one finding per rule and key
/// (`rules.md`: "a key (one finding per key)"). Two findings of one rule can share a key
/// only where a rule keys two kinds of rows by text that may coincide: DQ-001 and IDN-001
/// key a payment by its txn_id and a receipt by its receipt_no, and a receipt numbered
/// as a payment's txn_id would give two findings with one `finding_id` (one case in the
/// register, two rows in `changes.csv`). They are merged ([`merge_into`]). Returns how
/// many findings each rule lost to merging, for its count in the manifest.
pub fn sort_findings(findings: &mut Vec<Finding>) -> BTreeMap<&'static str, usize> {
    // Unstable: the findings of one rule and key are merged below into one whatever
    // their order, and no two others compare equal. A stable sort would take a buffer of
    // every finding's struct (380 MB at a province's 1.8M findings), the merge another.
    findings.par_sort_unstable_by(|a, b| a.rule.cmp(b.rule).then_with(|| a.key.cmp(&b.key)));
    let mut merged: BTreeMap<&'static str, usize> = BTreeMap::new();
    let same = |a: &Finding, b: &Finding| a.rule == b.rule && a.key == b.key;
    if findings.windows(2).all(|w| !same(&w[0], &w[1])) {
        return merged;
    }
    // Merged in place: each group's finding goes to the next free place, before the group.
    let placeholder = || Finding::new("", Severity::Low, String::new());
    let (mut next, mut i) = (0, 0);
    while i < findings.len() {
        let mut end = i + 1;
        while end < findings.len() && same(&findings[i], &findings[end]) {
            end += 1;
        }
        let f = if end - i == 1 {
            std::mem::replace(&mut findings[i], placeholder())
        } else {
            let group = findings[i..end]
                .iter_mut()
                .map(|f| std::mem::replace(f, placeholder()))
                .collect();
            merge_into(group, &mut merged)
        };
        findings[next] = f;
        next += 1;
        i = end;
    }
    findings.truncate(next);
    merged
}

/// One finding of several with one rule and key: amounts added, every txn_id and source,
/// the persons, villages and collectors each named once (`;`-joined, sorted), scheme and
/// period where all agree, the details joined in sorted order, so that the result does
/// not depend on the order the findings came in (a partitioned run's buckets).
fn merge_into(mut group: Vec<Finding>, merged: &mut BTreeMap<&'static str, usize>) -> Finding {
    if group.len() == 1 {
        return group.pop().expect("one finding");
    }
    *merged.entry(group[0].rule).or_default() += group.len() - 1;
    group.sort_by(|a, b| a.detail.cmp(&b.detail));
    let joined = |field: fn(&Finding) -> &str| {
        let mut parts: Vec<&str> = group
            .iter()
            .flat_map(|f| field(f).split(';'))
            .filter(|s| !s.is_empty())
            .collect();
        parts.sort_unstable();
        parts.dedup();
        parts.join(";")
    };
    let mut m = Finding::new(group[0].rule, group[0].severity, group[0].key.clone());
    m.id_number = joined(|f| &f.id_number);
    m.name = joined(|f| &f.name);
    m.village = joined(|f| &f.village);
    m.collector_id = joined(|f| &f.collector_id);
    m.scheme = group[0]
        .scheme
        .filter(|s| group.iter().all(|f| f.scheme == Some(*s)));
    m.period = group[0]
        .period
        .filter(|p| group.iter().all(|f| f.period == Some(*p)));
    m.amount = group.iter().map(|f| f.amount).sum();
    m.detail = group
        .iter()
        .map(|f| f.detail.as_str())
        .collect::<Vec<_>>()
        .join("；");
    for f in group {
        m.txn_ids.extend(f.txn_ids);
        m.sources.extend(f.sources);
    }
    m.tidy();
    m
}

/// Runs every rule on a context: findings of the rules that ran, sorted, and per rule its
/// status.
pub fn run_rules_typed(ctx: &Context) -> (Vec<Finding>, Vec<RuleStatus>) {
    let rules = registry();
    let results: Vec<(Option<String>, Vec<Finding>, u128)> = rules
        .par_iter()
        .map(|r| {
            let started = Instant::now();
            match r.skip_reason(ctx) {
                Some(why) => (Some(why), Vec::new(), 0),
                None => {
                    let mut found = r.check(ctx);
                    for f in &mut found {
                        f.tidy();
                    }
                    (None, found, started.elapsed().as_millis())
                }
            }
        })
        .collect();
    let mut status = Vec::new();
    let mut findings = Vec::new();
    for (r, (skipped, found, millis)) in rules.iter().zip(results) {
        status.push(RuleStatus {
            code: r.meta().code,
            skipped,
            findings: found.len(),
            amount: found.iter().map(|f| f.amount).sum(),
            millis,
        });
        findings.extend(found);
    }
    let merged = sort_findings(&mut findings);
    forget_merged(&mut status, &merged);
    (findings, status)
}

/// A rule's count and amount after [`sort_findings`] merged some of its findings (the
/// amount does not change: merging adds).
pub fn forget_merged(status: &mut [RuleStatus], merged: &BTreeMap<&'static str, usize>) {
    for s in status.iter_mut() {
        if let Some(n) = merged.get(s.code) {
            s.findings -= n;
        }
    }
}

/// Runs every rule on a context: findings of the rules that ran, and per rule its status
/// as the manifest writes it.
pub fn run_rules(ctx: &Context) -> (Vec<Finding>, Vec<Value>) {
    let (findings, status) = run_rules_typed(ctx);
    (findings, status.iter().map(RuleStatus::to_json).collect())
}

/// The ledger totals of the manifest.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct Ledger {
    /// Payments rows kept (one per txn_id).
    pub payments_kept: usize,
    /// Of them, effective.
    pub effective_payments: usize,
    /// Their amount.
    pub effective_amount: Fen,
    /// Effective payments with a collector.
    pub collector_payments_amount: Fen,
    /// Every deposit.
    pub deposits_amount: Fen,
    /// Every receipt.
    pub receipts_amount: Fen,
}

impl Ledger {
    /// The totals of a loaded dataset.
    pub fn of(ds: &Dataset) -> Ledger {
        let effective = || ds.payments().iter().filter(|p| p.is_effective());
        Ledger {
            payments_kept: ds.payments().len(),
            effective_payments: effective().count(),
            effective_amount: effective().map(|p| p.amount()).sum(),
            // Computed from the ledger itself, not from the collectors table, so that a
            // test can check that the table adds up to it.
            collector_payments_amount: effective()
                .filter(|p| !p.collector_id().is_empty())
                .map(|p| p.amount())
                .sum(),
            deposits_amount: ds.deposits().iter().map(|d| d.amount()).sum(),
            receipts_amount: ds.receipts().iter().map(|r| r.amount()).sum(),
        }
    }

    /// Adds another partition's totals.
    pub fn add(&mut self, o: &Ledger) {
        self.payments_kept += o.payments_kept;
        self.effective_payments += o.effective_payments;
        self.effective_amount += o.effective_amount;
        self.collector_payments_amount += o.collector_payments_amount;
        self.deposits_amount += o.deposits_amount;
        self.receipts_amount += o.receipts_amount;
    }
}

/// The registry's rule descriptions, in code order: what the writers list rules by.
pub fn rule_metas() -> Vec<&'static qianbiao_core::RuleMeta> {
    registry().iter().map(|r| r.meta()).collect()
}

/// Per-collector money and findings, sorted by collector_id
/// ([`qianbiao_rules::tables::collectors`] over the registry's catalogue).
pub fn collector_rows(ctx: &Context, findings: &[Finding]) -> Vec<CollectorRow> {
    qianbiao_rules::tables::collectors(ctx.ds, findings, &rule_metas())
}

fn ms(t: Instant) -> u64 {
    t.elapsed().as_millis() as u64
}

/// Everything a run computed, before anything is written.
pub struct Outcome {
    /// The loaded inputs.
    pub ds: Dataset,
    /// The as_of date and where it came from.
    pub as_of: NaiveDate,
    /// Where `as_of` came from, for the manifest.
    pub as_of_from: &'static str,
    /// Every finding, sorted by rule then key.
    pub findings: Vec<Finding>,
    /// Per-collector table.
    pub collectors: Vec<CollectorRow>,
    /// Coverage table.
    pub coverage: Vec<CoverageRow>,
    /// Per rule: run or skipped, counts.
    pub rule_status: Vec<RuleStatus>,
    /// Persons in the view.
    pub persons: usize,
    /// The ledger totals.
    pub ledger: Ledger,
    /// Rows per partition (one entry: the run was in memory).
    pub partitions: Vec<u64>,
    /// A partitioned run's components and sizes; None for a run in memory.
    pub components: Option<partition::Stats>,
    /// Milliseconds per stage so far.
    pub timings: Vec<(&'static str, u64)>,
    /// Peak resident memory per stage so far ([`memory`]).
    pub peaks: memory::Peaks,
}

/// What a caller adds to a run's outputs (a workspace run: changes since the previous run,
/// its own files, the previous manifest's hash for the chain).
#[derive(Default)]
pub struct Extras {
    /// Changes since the previous run; written as `changes.csv` when present.
    pub changes: Option<Vec<qianbiao_core::Change>>,
    /// Further files (name, bytes) written beside the outputs before the manifest.
    pub files: Vec<(String, Vec<u8>)>,
    /// sha256 of the previous run's manifest (empty string for the first run).
    pub previous_manifest_sha256: Option<String>,
    /// Ids and names (as `id_number`, `name` cells: `;`-joined lists allowed) that the
    /// outputs may quote beyond the run's inputs: the previous run's findings that
    /// `changes.csv` lists as resolved. `--mask` masks them too.
    pub mask_also: Vec<(String, String)>,
}

/// Refuses an `--as-of` outside the years Y−1 .. Y+2 (`data-contract.md`, Robustness):
/// `--as-of 2021` read as an Excel serial is 1905-07-13, not a run date.
pub fn check_as_of(as_of: NaiveDate, year: i32) -> Result<(), EngineError> {
    use chrono::Datelike;
    if as_of.year() < year - 1 || as_of.year() > year + 2 {
        return Err(EngineError::Config(format!(
            "--as-of: {as_of} is outside the policy years {}..{} (use YYYY-MM-DD)",
            year - 1,
            year + 2
        )));
    }
    Ok(())
}

/// Loads the inputs, builds the person view and runs every rule: nothing is written. The
/// run is in memory, or partitioned when its inputs would not fit `opts.partitioning`'s
/// memory limit ([`partition`]).
pub fn compute(opts: &RunOptions) -> Result<Outcome, EngineError> {
    partition::compute(opts)
}

/// The run in memory: every source loaded at once (`--as-of` already checked by
/// [`partition::compute`]).
fn compute_in_memory(opts: &RunOptions) -> Result<Outcome, EngineError> {
    let policy = &opts.pipeline.policy;
    let t_load = Instant::now();
    let mut peaks = memory::Peaks::start();
    let ds = load(
        &opts.data,
        &LoadOptions {
            year: policy.year,
            progress: opts.progress,
            columns: None,
        },
    )?;
    let load_ms = ms(t_load);

    let (as_of, as_of_from) = resolve_as_of(&ds, policy, opts.as_of);

    peaks.end("load");
    let c = check(&ds, policy, as_of);
    peaks.end("rules");
    Ok(Outcome {
        ledger: Ledger::of(&ds),
        partitions: vec![ds.reports.iter().map(|r| r.rows_accepted).sum()],
        components: None,
        ds,
        as_of,
        as_of_from,
        findings: c.findings,
        collectors: c.collectors,
        coverage: c.coverage,
        rule_status: c.status,
        persons: c.persons,
        timings: vec![
            ("load", load_ms),
            ("person_view", c.view_ms),
            ("rules", c.rules_ms),
        ],
        peaks,
    })
}

/// What the rules give on a loaded dataset: findings, rule counts, the collectors and
/// coverage tables, persons, and the time of the person view and of the rules.
pub struct Checked {
    /// Every finding, sorted by rule then key.
    pub findings: Vec<Finding>,
    /// Per rule: run or skipped, counts.
    pub status: Vec<RuleStatus>,
    /// Per-collector table.
    pub collectors: Vec<CollectorRow>,
    /// Coverage table.
    pub coverage: Vec<CoverageRow>,
    /// Persons in the view.
    pub persons: usize,
    /// Milliseconds to build the person view.
    pub view_ms: u64,
    /// Milliseconds of the rules and tables.
    pub rules_ms: u64,
}

/// Builds the person view of a dataset and runs every rule on it: the same for a run in
/// memory and for each partition of a partitioned run.
pub fn check(ds: &Dataset, policy: &qianbiao_core::Policy, as_of: NaiveDate) -> Checked {
    let t_view = Instant::now();
    let mut ctx = Context::new(ds, policy, as_of);
    let view_ms = ms(t_view);
    let t_rules = Instant::now();
    let (findings, status) = run_rules_typed(&ctx);
    let collectors = collector_rows(&ctx, &findings);
    let coverage = std::mem::take(&mut ctx.coverage);
    let persons = ctx.view.len();
    drop(ctx);
    Checked {
        findings,
        status,
        collectors,
        coverage,
        persons,
        view_ms,
        rules_ms: ms(t_rules),
    }
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> EngineError + '_ {
    move |e| {
        EngineError::Report(ReportError::Io {
            file: path.display().to_string(),
            source: e,
        })
    }
}

pub use qianbiao_ingest::load::Progress;
pub use qianbiao_ingest::{sha256_file, sha256_hex};

/// Writes every output of a run into `dir` (a staging folder), each file flushed to disk,
/// `manifest.json` last with the sha256 of every other file. Returns the manifest.
pub fn write_outputs(
    opts: &RunOptions,
    o: &Outcome,
    dir: &Path,
    extras: &Extras,
) -> Result<Value, EngineError> {
    let t_write = Instant::now();
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let out = |name: &str| dir.join(name);
    let mut names: Vec<String> = vec![
        "findings.csv".into(),
        "findings.parquet".into(),
        "rejected.csv".into(),
        "collectors.csv".into(),
        "coverage.csv".into(),
        "findings.xlsx".into(),
        "report.html".into(),
    ];
    // Ids come from the unmasked keys, so a masked and an unmasked run can be matched.
    let ids = qianbiao_report::finding_ids(&o.findings);
    let persons = qianbiao_report::person_numbers(&o.findings);
    let shared = opts.mask.then(|| Shared::new(o, extras));
    let findings = shared.as_ref().map_or(&o.findings[..], |s| &s.findings[..]);
    let rejected = shared
        .as_ref()
        .map_or(&o.ds.rejected[..], |s| &s.rejected[..]);
    let changes = match &shared {
        Some(s) => s.changes.as_deref(),
        None => extras.changes.as_deref(),
    };
    let rule_status: Vec<Value> = o.rule_status.iter().map(RuleStatus::to_json).collect();
    let rules = rule_metas();
    let mny = qianbiao_core::summary::mny_rules(&rules);
    let review = qianbiao_report::Review {
        as_of: o.as_of,
        pipeline: &opts.pipeline.name,
        findings,
        ids: &ids,
        persons: &persons,
        collectors: &o.collectors,
        coverage: &o.coverage,
        changes,
        inputs: &o.ds.reports,
        rule_status: &rule_status,
        masked: opts.mask,
        rules: &rules,
    };
    // The writers are independent: they run on both cores, the workbook (the longest)
    // beside the others. The first error in this list's order is the one reported.
    type Writer<'w> = Box<dyn Fn() -> Result<(), qianbiao_report::ReportError> + Send + Sync + 'w>;
    let mut writers: Vec<Writer> = vec![
        Box::new(|| qianbiao_report::write_findings_xlsx(&out("findings.xlsx"), &review)),
        Box::new(|| {
            qianbiao_report::write_findings_csv_with_ids(&out("findings.csv"), findings, &ids)
        }),
        Box::new(|| {
            qianbiao_report::write_findings_parquet_with_ids(
                &out("findings.parquet"),
                findings,
                &ids,
            )
        }),
        Box::new(|| qianbiao_report::write_rejected(&out("rejected.csv"), rejected)),
        Box::new(|| qianbiao_report::write_collectors(&out("collectors.csv"), &o.collectors, &mny)),
        Box::new(|| qianbiao_report::write_coverage(&out("coverage.csv"), &o.coverage)),
        Box::new(|| qianbiao_report::write_report_html(&out("report.html"), &review)),
    ];
    if let Some(changes) = changes {
        writers.push(Box::new(move || {
            qianbiao_report::write_changes_csv(&out("changes.csv"), changes)
        }));
        names.push("changes.csv".into());
    }
    let results: Vec<Result<(), qianbiao_report::ReportError>> =
        writers.par_iter().map(|w| w()).collect();
    drop(writers);
    results.into_iter().collect::<Result<(), _>>()?;
    for (name, bytes) in &extras.files {
        std::fs::write(out(name), bytes).map_err(io_error(&out(name)))?;
        names.push(name.clone());
    }
    // Fault injection for the tests of atomic output: a write error after every file
    // but the manifest is complete, as a full disk would give.
    if let Ok(name) = std::env::var("QIANBIAO_TEST_FAIL_WRITE") {
        let p = out(&name);
        return Err(io_error(&p)(std::io::Error::other(
            "injected write failure",
        )));
    }
    let mut outputs = BTreeMap::new();
    names.sort();
    let hashes: Vec<Result<String, EngineError>> = names
        .par_iter()
        .map(|name| {
            let p = out(name);
            // Flushed to disk before the manifest names it: a manifest never lists a file
            // whose bytes are still only in the page cache.
            std::fs::File::open(&p)
                .and_then(|f| f.sync_all())
                .map_err(io_error(&p))?;
            sha256_file(&p).map_err(io_error(&p))
        })
        .collect();
    for (name, hash) in names.iter().zip(hashes) {
        outputs.insert(name.clone(), hash?);
    }
    let mut timings = o.timings.clone();
    timings.push(("write", ms(t_write)));
    // From the end of the rules (or the merge) to here: what the caller did with the
    // outcome (a workspace's changes) and the writers.
    let mut peaks = o.peaks.clone();
    peaks.end("write");
    let peaks = peaks.stages();
    let mut manifest = manifest::Manifest::of(manifest::Parts {
        opts,
        ds: &o.ds,
        as_of: o.as_of,
        as_of_from: o.as_of_from,
        findings: &o.findings,
        rule_status: &o.rule_status,
        persons: o.persons,
        ledger: &o.ledger,
        partitions: &o.partitions,
        components: o.components,
        timings: &timings,
        peaks: &peaks,
    });
    manifest.outputs = outputs;
    manifest.previous_manifest_sha256 = extras.previous_manifest_sha256.clone();
    let manifest = serde_json::to_value(&manifest).expect("the manifest serialises");
    let text = serde_json::to_string_pretty(&manifest).expect("manifest serialises") + "\n";
    let mp = out("manifest.json");
    std::fs::write(&mp, text).map_err(io_error(&mp))?;
    std::fs::File::open(&mp)
        .and_then(|f| f.sync_all())
        .map_err(io_error(&mp))?;
    Ok(manifest)
}

/// The detail of a resolved finding in a `--mask` run's changes.
pub const RESOLVED_MASKED: &str = "本次已消除；详情见上次运行的输出（脱敏输出不转载）";

/// The masked copies of what a run writes for reading (`--mask`).
struct Shared {
    findings: Vec<Finding>,
    rejected: Vec<qianbiao_ingest::Rejected>,
    changes: Option<Vec<qianbiao_core::Change>>,
}

impl Shared {
    fn new(o: &Outcome, extras: &Extras) -> Shared {
        let ids = extras.mask_also.iter().flat_map(|(id, _)| id.split(';'));
        let names = extras.mask_also.iter().flat_map(|(_, n)| n.split(';'));
        let m = qianbiao_report::mask::Masker::for_dataset_and(&o.ds, ids, names);
        Shared {
            findings: o.findings.par_iter().map(|f| m.finding(f)).collect(),
            rejected: o.ds.rejected.iter().map(|r| m.rejected(r)).collect(),
            changes: extras.changes.as_ref().map(|cs| {
                cs.iter()
                    .map(|c| {
                        let mut masked = m.change(c);
                        // A resolved finding's detail is the previous run's sentence, which
                        // may quote a name only that run's inputs held (a payment's name
                        // in DQ-002): it cannot be masked for sure, so it is not shared.
                        if c.change == qianbiao_core::ChangeKind::Resolved {
                            masked.detail = RESOLVED_MASKED.into();
                        }
                        masked
                    })
                    .collect()
            }),
        }
    }
}

/// The staging folder prefix inside `--out`; stale ones of killed runs are removed.
pub const STAGING_PREFIX: &str = ".qianbiao-staging-";

/// The temporary folders this process holds now (a spill folder, a staging folder):
/// what [`remove_temp_dirs`] removes when the process is stopped by a signal.
static TEMP_DIRS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// A temporary folder of this process: listed for [`remove_temp_dirs`] while it lives,
/// removed (and unlisted) when dropped, whatever the end of the work that made it.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Lists `dir` (made or about to be made by the caller) as this process's.
    pub fn hold(dir: PathBuf) -> TempDir {
        if let Ok(mut dirs) = TEMP_DIRS.lock() {
            dirs.push(dir.clone());
        }
        TempDir(dir)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        if let Ok(mut dirs) = TEMP_DIRS.lock() {
            dirs.retain(|d| d != &self.0);
        }
    }
}

/// Removes every temporary folder the process holds: a run stopped by SIGINT, SIGTERM
/// or SIGHUP leaves no spill or staging folder behind (`docs/partitioning.md`: "removed
/// at the end of the run, whatever its end"). A SIGKILLed run's are removed by the next
/// run in the same folder.
pub fn remove_temp_dirs() {
    let dirs = match TEMP_DIRS.lock() {
        Ok(mut d) => std::mem::take(&mut *d),
        Err(_) => return,
    };
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Runs the whole job and writes every output into `opts.out`: into a staging folder
/// first, then moved into place file by file with `manifest.json` last, so that a run
/// that fails leaves the previous outputs as they were.
pub fn run(opts: &RunOptions) -> Result<RunSummary, EngineError> {
    let o = compute(opts)?;
    std::fs::create_dir_all(&opts.out).map_err(io_error(&opts.out))?;
    remove_stale_staging(&opts.out);
    let staging = opts
        .out
        .join(format!("{STAGING_PREFIX}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let held = TempDir::hold(staging.clone());
    let result = write_outputs(opts, &o, &staging, &Extras::default())
        .and_then(|manifest| publish(&staging, &opts.out).map(|()| manifest));
    drop(held);
    let manifest = result?;
    Ok(RunSummary {
        findings: o.findings,
        manifest,
    })
}

/// Moves every file of `staging` into `out`, `manifest.json` last.
fn publish(staging: &Path, out: &Path) -> Result<(), EngineError> {
    let mut names: Vec<String> = std::fs::read_dir(staging)
        .map_err(io_error(staging))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "manifest.json")
        .collect();
    names.sort();
    names.push("manifest.json".into());
    for n in &names {
        let to = out.join(n);
        std::fs::rename(staging.join(n), &to).map_err(io_error(&to))?;
    }
    if let Ok(d) = std::fs::File::open(out) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Removes staging folders left by runs that were killed (their process is gone).
fn remove_stale_staging(out: &Path) {
    remove_stale(out, STAGING_PREFIX);
}

/// Removes the folders `PREFIX<pid>` in `out` whose process is gone (a killed run's).
fn remove_stale(out: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(out) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix(prefix) {
            let alive = pid
                .parse::<u32>()
                .map(|p| p != std::process::id() && Path::new(&format!("/proc/{p}")).exists())
                .unwrap_or(false);
            if !alive {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &'static str, key: &str, detail: &str, txn: &str, amount: i64) -> Finding {
        let mut f = Finding::new(rule, Severity::High, key);
        f.detail = detail.into();
        f.txn_ids = vec![txn.into()];
        f.sources = vec![format!("payments.csv:{}", amount % 97 + 2)];
        f.amount = Fen(amount);
        f.id_number = format!("P{}", amount % 3);
        f
    }

    #[test]
    fn findings_are_sorted_and_merged_the_same_whatever_order_they_come_in() {
        let all = vec![
            finding("DQ-001", "R1", "收据", "R1", 100),
            finding("DQ-001", "R1", "缴费", "R1", 200),
            finding("DQ-001", "A0", "缴费", "A0", 7),
            finding("IDN-001", "T9", "c", "T9", 5),
            finding("IDN-001", "T9", "a", "T8", 6),
            finding("IDN-001", "T9", "b", "T7", 4),
            finding("DQ-001", "Z", "z", "Z", 1),
            finding("AMT-001", "K", "k", "K", 3),
        ];
        let mut reference = all.clone();
        let merged = sort_findings(&mut reference);
        assert_eq!(
            merged,
            BTreeMap::from([("DQ-001", 1), ("IDN-001", 2)]),
            "two findings merged away from IDN-001's three, one from DQ-001's two"
        );
        let keys: Vec<(&str, &str)> = reference.iter().map(|f| (f.rule, f.key.as_str())).collect();
        assert_eq!(
            keys,
            [
                ("AMT-001", "K"),
                ("DQ-001", "A0"),
                ("DQ-001", "R1"),
                ("DQ-001", "Z"),
                ("IDN-001", "T9")
            ]
        );
        let idn = &reference[4];
        assert_eq!(idn.detail, "a；b；c");
        assert_eq!(idn.txn_ids, ["T7", "T8", "T9"]);
        assert_eq!(idn.amount, Fen(15));
        assert_eq!(idn.id_number, "P0;P1;P2");
        // Every rotation and its reverse: the same findings, byte for byte.
        for r in 0..all.len() {
            for reverse in [false, true] {
                let mut order = all.clone();
                order.rotate_left(r);
                if reverse {
                    order.reverse();
                }
                let m = sort_findings(&mut order);
                assert_eq!(m, merged);
                assert_eq!(order, reference, "rotated by {r}, reversed {reverse}");
            }
        }
        // Nothing to merge: sorted only.
        let mut plain = vec![all[7].clone(), all[6].clone(), all[2].clone()];
        assert!(sort_findings(&mut plain).is_empty());
        assert_eq!(plain, [all[7].clone(), all[2].clone(), all[6].clone()]);
    }
}
