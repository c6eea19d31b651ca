//! One run: load -> person view -> rules in parallel -> findings and tables -> manifest.
#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use qianbiao_core::policy::Pipeline;
use qianbiao_core::{Fen, Finding};
use qianbiao_ingest::{load, Dataset, IngestError, LoadOptions};
use qianbiao_report::{CollectorRow, ReportError};
use qianbiao_rules::{registry, Context};
use rayon::prelude::*;
use serde_json::{json, Value};

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
    let p = ds.payments.iter().map(|p| p.paid_at.date()).max();
    let d = ds.deposits.iter().map(|d| d.deposited_at.date()).max();
    p.max(d)
}

/// The as_of of a run and where it came from: the given date, else [`default_as_of`], else
/// the window end (a ledger with no dated rows).
pub fn resolve_as_of(
    ds: &Dataset,
    policy: &qianbiao_core::Policy,
    given: Option<NaiveDate>,
) -> (NaiveDate, &'static str) {
    match given {
        Some(d) => (d, "--as-of"),
        None => match default_as_of(ds) {
            Some(d) => (d, "latest date in payments and deposits"),
            None => (
                policy.window_end,
                "window end (no dated payments or deposits)",
            ),
        },
    }
}

/// Runs every rule on a context: findings of the rules that ran, and per rule its status.
pub fn run_rules(ctx: &Context) -> (Vec<Finding>, Vec<Value>) {
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
    for (r, (skip, found, ms)) in rules.iter().zip(results) {
        let m = r.meta();
        let amount: Fen = found.iter().map(|f| f.amount).sum();
        status.push(match skip {
            Some(why) => json!({"code": m.code, "status": "skipped", "reason": why}),
            None => json!({
                "code": m.code,
                "status": "run",
                "findings": found.len(),
                "amount": amount,
                "millis": ms,
            }),
        });
        findings.extend(found);
    }
    findings.par_sort_by(|a, b| a.rule.cmp(b.rule).then_with(|| a.key.cmp(&b.key)));
    (findings, status)
}

/// Per-collector money and findings, sorted by collector_id.
pub fn collector_rows(ctx: &Context, findings: &[Finding]) -> Vec<CollectorRow> {
    let ds = ctx.ds;
    let mut table: BTreeMap<String, CollectorRow> = BTreeMap::new();
    fn get<'t>(table: &'t mut BTreeMap<String, CollectorRow>, id: &str) -> &'t mut CollectorRow {
        table.entry(id.to_string()).or_insert_with(|| CollectorRow {
            collector_id: id.to_string(),
            ..CollectorRow::default()
        })
    }
    for p in ds
        .payments
        .iter()
        .filter(|p| p.is_effective() && !p.collector_id.is_empty())
    {
        let r = get(&mut table, &p.collector_id);
        r.payments += 1;
        r.amount += p.amount;
    }
    for d in &ds.deposits {
        get(&mut table, &d.collector_id).deposited_amount += d.amount;
    }
    for rc in &ds.receipts {
        let r = get(&mut table, &rc.collector_id);
        r.receipts += 1;
        r.receipt_amount += rc.amount;
    }
    for f in findings {
        for c in f.collector_id.split(';').filter(|c| !c.is_empty()) {
            let r = get(&mut table, c);
            r.findings += 1;
            if let Some(k) = qianbiao_report::tables::MNY_RULES
                .iter()
                .position(|m| *m == f.rule)
            {
                r.mny[k] += 1;
            }
        }
    }
    table.into_values().collect()
}

fn ms(t: Instant) -> u64 {
    t.elapsed().as_millis() as u64
}

/// Runs the whole job and writes every output into `opts.out`.
pub fn run(opts: &RunOptions) -> Result<RunSummary, EngineError> {
    let policy = &opts.pipeline.policy;
    let t_load = Instant::now();
    let ds = load(
        &opts.data,
        &LoadOptions {
            year: policy.year,
            progress: opts.progress,
        },
    )?;
    let load_ms = ms(t_load);

    let (as_of, as_of_from) = resolve_as_of(&ds, policy, opts.as_of);

    let t_view = Instant::now();
    let ctx = Context::new(&ds, policy, as_of);
    let view_ms = ms(t_view);

    let t_rules = Instant::now();
    let (findings, rule_status) = run_rules(&ctx);
    let rules_ms = ms(t_rules);

    let t_write = Instant::now();
    std::fs::create_dir_all(&opts.out).map_err(|e| ReportError::Io {
        file: opts.out.display().to_string(),
        source: e,
    })?;
    let out = |name: &str| opts.out.join(name);
    qianbiao_report::write_findings_csv(&out("findings.csv"), &findings)?;
    qianbiao_report::write_findings_parquet(&out("findings.parquet"), &findings)?;
    qianbiao_report::write_rejected(&out("rejected.csv"), &ds.rejected)?;
    let collectors = collector_rows(&ctx, &findings);
    qianbiao_report::write_collectors(&out("collectors.csv"), &collectors)?;
    let coverage = qianbiao_rules::cov::coverage(&ctx);
    qianbiao_report::write_coverage(&out("coverage.csv"), coverage)?;
    qianbiao_report::write_findings_xlsx(
        &out("findings.xlsx"),
        as_of,
        &findings,
        &collectors,
        coverage,
    )?;
    let write_ms = ms(t_write);

    let manifest = manifest(ManifestParts {
        opts,
        ds: &ds,
        as_of,
        as_of_from,
        findings: &findings,
        rule_status,
        persons: ctx.persons.len(),
        timings: [
            ("load", load_ms),
            ("person_view", view_ms),
            ("rules", rules_ms),
            ("write", write_ms),
        ],
    });
    let text = serde_json::to_string_pretty(&manifest).expect("manifest serialises");
    std::fs::write(out("manifest.json"), text + "\n").map_err(|e| ReportError::Io {
        file: out("manifest.json").display().to_string(),
        source: e,
    })?;
    Ok(RunSummary { findings, manifest })
}

struct ManifestParts<'a> {
    opts: &'a RunOptions<'a>,
    ds: &'a Dataset,
    as_of: NaiveDate,
    as_of_from: &'a str,
    findings: &'a [Finding],
    rule_status: Vec<Value>,
    persons: usize,
    timings: [(&'a str, u64); 4],
}

fn manifest(m: ManifestParts) -> Value {
    let ds = m.ds;
    let mut sources = Vec::new();
    for s in qianbiao_ingest::SourceKind::ALL {
        let files: Vec<Value> = ds
            .reports
            .iter()
            .filter(|r| r.source == s.name())
            .map(|r| {
                json!({
                    "path": r.path,
                    "sha256": r.sha256,
                    "format": r.format,
                    "rows_read": r.rows_read,
                    "rows_accepted": r.rows_accepted,
                    "rows_rejected": r.rows_rejected,
                    "duplicate_rows": r.duplicate_rows,
                    "blank_rows": r.blank_rows,
                    "millis": r.millis,
                })
            })
            .collect();
        sources.push(json!({"source": s.name(), "present": ds.has(s), "files": files}));
    }
    let sum = |f: fn(&qianbiao_ingest::FileReport) -> u64| ds.reports.iter().map(f).sum::<u64>();
    let mut totals: BTreeMap<&str, (u64, Fen)> = BTreeMap::new();
    for f in m.findings {
        let e = totals.entry(f.rule).or_default();
        e.0 += 1;
        e.1 += f.amount;
    }
    let by_rule: serde_json::Map<String, Value> = totals
        .into_iter()
        .map(|(rule, (count, amount))| {
            (rule.to_string(), json!({"count": count, "amount": amount}))
        })
        .collect();
    let effective: Fen = ds
        .payments
        .iter()
        .filter(|p| p.is_effective())
        .map(|p| p.amount)
        .sum();
    // Computed from the ledger itself, not from the collectors table, so that a test can
    // check that the table adds up to it.
    let collector_total: Fen = ds
        .payments
        .iter()
        .filter(|p| p.is_effective() && !p.collector_id.is_empty())
        .map(|p| p.amount)
        .sum();
    let timings: serde_json::Map<String, Value> = m
        .timings
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({
        "engine": {"name": "qianbiao", "version": VERSION},
        "pipeline": {"name": m.opts.pipeline.name, "source": m.opts.pipeline_source},
        "policy": m.opts.pipeline.policy,
        "as_of": m.as_of.to_string(),
        "as_of_from": m.as_of_from,
        "data": path_text(&m.opts.data),
        "sources": sources,
        "rows": {
            "read": sum(|r| r.rows_read),
            "accepted": sum(|r| r.rows_accepted),
            "rejected": sum(|r| r.rows_rejected),
            "duplicate_rows": sum(|r| r.duplicate_rows),
            "blank_rows": sum(|r| r.blank_rows),
        },
        "persons": m.persons,
        "rules": m.rule_status,
        "findings": {
            "total": m.findings.len(),
            "amount": m.findings.iter().map(|f| f.amount).sum::<Fen>(),
            "by_rule": by_rule,
        },
        "ledger": {
            "payments_kept": ds.payments.len(),
            "effective_payments": ds.payments.iter().filter(|p| p.is_effective()).count(),
            "effective_amount": effective,
            "collector_payments_amount": collector_total,
            "deposits_amount": ds.deposits.iter().map(|d| d.amount).sum::<Fen>(),
            "receipts_amount": ds.receipts.iter().map(|r| r.amount).sum::<Fen>(),
        },
        "timings_ms": timings,
    })
}

fn path_text(p: &Path) -> String {
    p.display().to_string()
}
