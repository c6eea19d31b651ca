//! A workspace run: lock, reconcile the register with the run folders, compute, diff with
//! the previous run, update the register, write everything into `WS/tmp/`, move the
//! folder into `WS/runs/`, point `WS/latest` at it, and only then commit the register.
//!
//! Why this order: a run folder appears under `WS/runs/` only by one rename of a complete,
//! flushed folder, so a killed run leaves either nothing or a complete run. The register
//! commits last; a run killed between the rename and the commit leaves a complete folder
//! that the register has not seen, and the next run replays that folder's findings into
//! the register before doing anything else (the register records every run it applied,
//! with its manifest's sha256).

use std::path::Path;

use chrono::{NaiveDateTime, TimeDelta};
use qianbiao_core::{ChangeKind, Fen};
use qianbiao_engine::{Extras, RunOptions};
use serde_json::{json, Value};

use crate::changes::{diff, evidence_csv, read_run, Row};
use crate::register::{self, db_err};
use crate::{
    io_err, lock, prepare_atomic, put_in_place, sha256_hex, sync_dir, write_atomic, Result,
    Workspace, WorkspaceError,
};

/// The format of a RUN_ID: `20211201T023000` (UTC), sorting by start time.
pub const RUN_ID_FORMAT: &str = "%Y%m%dT%H%M%S";

/// What a workspace run did (for the one line the binary prints: no ids, no names).
#[derive(Debug)]
pub struct RunReport {
    /// The run's id (its folder under `WS/runs/`).
    pub run_id: String,
    /// Findings of this run.
    pub findings: usize,
    /// Their total amount.
    pub amount: Fen,
    /// Counts of new, persisting, changed and resolved findings.
    pub changes: [usize; 4],
    /// The holder of a stale lock this run took over, if any.
    pub took_over: Option<String>,
    /// Runs found complete but missing from the register, replayed into it.
    pub replayed: Vec<String>,
    /// The manifest as written.
    pub manifest: Value,
}

/// The id of a run starting at `now`, after the newest run `last`: the start time to the
/// second, or one second after `last` when that is not later (two runs in one second, or
/// a clock set back), so that ids stay unique and in start order.
pub fn next_run_id(now: NaiveDateTime, last: Option<&str>) -> String {
    let mut t = now.with_nanosecond_zero();
    if let Some(l) = last.and_then(|l| NaiveDateTime::parse_from_str(l, RUN_ID_FORMAT).ok()) {
        if t <= l {
            t = l + TimeDelta::seconds(1);
        }
    }
    t.format(RUN_ID_FORMAT).to_string()
}

trait NoNanos {
    fn with_nanosecond_zero(self) -> Self;
}

impl NoNanos for NaiveDateTime {
    fn with_nanosecond_zero(self) -> Self {
        use chrono::Timelike;
        self.with_nanosecond(0).unwrap_or(self)
    }
}

fn manifest_sha(run_dir: &Path) -> Result<String> {
    let p = run_dir.join("manifest.json");
    let bytes = std::fs::read(&p).map_err(io_err(&p))?;
    Ok(sha256_hex(&bytes))
}

/// Replays into the register every complete run it has not recorded (a run killed after
/// its folder was moved into place and before the register committed). Fails when the
/// register records a run that is not where it should be under `WS/runs/`.
pub fn reconcile(ws: &Workspace, conn: &mut rusqlite::Connection) -> Result<Vec<String>> {
    let recorded = register::recorded_runs(conn)?;
    let folders = ws.run_folders()?;
    for (i, (id, _)) in recorded.iter().enumerate() {
        if folders.get(i) != Some(id) {
            return Err(WorkspaceError::Inconsistent(format!(
                "run {id} recorded in cases.db is missing from {} or out of order; \
                 run `qianbiao verify {}`",
                ws.runs().display(),
                ws.root.display()
            )));
        }
    }
    // A run killed after its rename and before `latest` was written: point `latest` at
    // it before the register records it, so that `verify` never sees a recorded newest
    // run that `latest` does not name.
    if let Some(last) = folders.last() {
        if ws.read_latest().as_ref() != Some(last) {
            write_atomic(&ws.latest(), format!("{last}\n").as_bytes())?;
        }
    }
    let mut replayed = Vec::new();
    for id in &folders[recorded.len().min(folders.len())..] {
        let dir = ws.runs().join(id);
        // Only a run whose files hold is replayed into the register.
        let (manifest, sha) = crate::verify::read_manifest(&dir, id)?;
        crate::verify::check_files(&dir, id, &manifest)?;
        let cur = read_run(&dir)?;
        let tx = conn.transaction().map_err(db_err)?;
        register::apply_run(&tx, id, &cur)?;
        register::record_run(&tx, id, &sha, cur.len())?;
        tx.commit().map_err(db_err)?;
        replayed.push(id.clone());
    }
    Ok(replayed)
}

#[cfg(test)]
thread_local! {
    /// Tests: fail the run once its folder has moved in (a full disk at that moment).
    static FAIL_AFTER_RENAME: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A failure a test asked for, after the run's folder moved in.
fn injected_failure() -> Result<()> {
    #[cfg(test)]
    if FAIL_AFTER_RENAME.with(|f| f.get()) {
        return Err(WorkspaceError::Io {
            file: "latest".into(),
            cause: std::io::Error::other("no space left on device (injected)"),
        });
    }
    Ok(())
}

/// Takes a failed run's folder out of `WS/runs/` (renamed back to `staging`, then
/// removed) and gives `latest` back its previous text; best effort, as the run is failing
/// already (a run killed here is one the next run's [`reconcile`] replays or whose folder
/// [`clean_tmp`] removes).
fn withdraw_run(ws: &Workspace, run_id: &str, staging: &Path, previous: Option<&str>, tmp: &Path) {
    let dest = ws.runs().join(run_id);
    if std::fs::rename(&dest, staging).is_ok() {
        sync_dir(&ws.runs());
        let _ = std::fs::remove_dir_all(staging);
    }
    let _ = std::fs::remove_file(tmp);
    let _ = match previous {
        Some(p) => write_atomic(&ws.latest(), format!("{p}\n").as_bytes()),
        None => std::fs::remove_file(ws.latest()).map_err(io_err(&ws.latest())),
    };
}

/// Removes everything under `WS/tmp/`: staging folders of runs that were killed or failed
/// (the caller holds the lock, so no run is writing there).
fn clean_tmp(ws: &Workspace) -> Result<()> {
    let tmp = ws.tmp();
    std::fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
    for e in std::fs::read_dir(&tmp).map_err(io_err(&tmp))?.flatten() {
        let p = e.path();
        let r = if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        r.map_err(io_err(&p))?;
    }
    // `latest` written by a run killed before its rename (see `write_atomic`).
    for e in std::fs::read_dir(&ws.root)
        .map_err(io_err(&ws.root))?
        .flatten()
    {
        if e.file_name().to_string_lossy().starts_with("latest.tmp") {
            let _ = std::fs::remove_file(e.path());
        }
    }
    Ok(())
}

/// One workspace run (`operations.md`, A workspace). `opts.out` is not used: the outputs
/// go to `WS/runs/RUN_ID/`.
pub fn run(root: &Path, opts: &RunOptions) -> Result<RunReport> {
    let ws = Workspace::new(root);
    for d in [ws.root.clone(), ws.runs(), ws.tmp()] {
        std::fs::create_dir_all(&d).map_err(io_err(&d))?;
    }
    // The lock names the run id this run takes: chosen before the lock, and kept under
    // it unless another run finished in between and took that id or a later one (then
    // the lock is named anew), so that a run refused meanwhile names the run that is.
    let candidate = next_run_id(
        chrono::Utc::now().naive_utc(),
        ws.run_folders()?.last().map(String::as_str),
    );
    let (mut lock, stale) = lock::acquire(root, &format!("run {candidate}"))?;
    let took_over = stale.map(|h| h.describe());
    if let Some(h) = &took_over {
        ws.log(&format!("took over the stale lock of {h}"));
    }
    let result = run_locked(&ws, opts, took_over, &candidate, &mut lock);
    if let Ok(r) = &result {
        for id in &r.replayed {
            ws.log(&format!(
                "run {id}: recorded in cases.db (replayed from its folder)"
            ));
        }
    }
    match &result {
        Ok(r) => ws.log(&format!(
            "run {}: complete, {} findings ({} new, {} persisting, {} changed, {} resolved)",
            r.run_id, r.findings, r.changes[0], r.changes[1], r.changes[2], r.changes[3]
        )),
        Err(e) => ws.log(&format!("run failed: {e}")),
    }
    drop(lock);
    result
}

fn run_locked(
    ws: &Workspace,
    opts: &RunOptions,
    took_over: Option<String>,
    candidate: &str,
    lock: &mut lock::Lock,
) -> Result<RunReport> {
    clean_tmp(ws)?;
    // The register is created before a workspace's first run folder can exist: runs
    // without it mean it was removed, and recreating it would lose every decision.
    if !ws.db().exists() && !ws.run_folders()?.is_empty() {
        return Err(WorkspaceError::Inconsistent(format!(
            "{}: missing while {} holds runs; restore it from the backup",
            ws.db().display(),
            ws.runs().display()
        )));
    }
    let mut conn = register::open(&ws.db())?;
    let workspace_id = register::workspace_id(&conn)?;
    let replayed = reconcile(ws, &mut conn)?;
    let runs = ws.run_folders()?;
    let prev = runs.last().cloned();
    let prev_sha = match &prev {
        Some(p) => manifest_sha(&ws.runs().join(p))?,
        None => String::new(),
    };
    let run_id = match &prev {
        Some(p) if p.as_str() >= candidate => {
            let id = next_run_id(chrono::Utc::now().naive_utc(), Some(p));
            lock.rename(&format!("run {id}"))?;
            id
        }
        _ => candidate.to_string(),
    };

    let outcome = qianbiao_engine::compute(opts)?;
    let cur: Vec<Row> = outcome.findings.iter().map(Row::from_finding).collect();
    let prev_rows = match &prev {
        Some(p) => read_run(&ws.runs().join(p))?,
        None => Vec::new(),
    };

    let tx = conn.transaction().map_err(db_err)?;
    let changes = diff(&prev_rows, &cur, &run_id, &|id| {
        register::first_seen(&tx, id).ok().flatten()
    });
    register::apply_run(&tx, &run_id, &cur)?;
    let outcomes = register::outcomes(&tx)?;
    let mut counts = [0usize; 4];
    for c in &changes {
        counts[match c.change {
            ChangeKind::New => 0,
            ChangeKind::Persisting => 1,
            ChangeKind::Changed => 2,
            ChangeKind::Resolved => 3,
        }] += 1;
    }
    let run_json = json!({
        "run_id": run_id,
        "previous_run_id": prev.clone().unwrap_or_default(),
        "workspace_id": workspace_id,
    });
    let staging = ws.tmp().join(format!("{run_id}.{}", std::process::id()));
    // A resolved finding's detail is the previous run's: with `--mask`, its ids and names
    // are masked although tonight's inputs may no longer hold them.
    let resolved: std::collections::BTreeSet<&str> = changes
        .iter()
        .filter(|c| c.change == ChangeKind::Resolved)
        .map(|c| c.finding_id.as_str())
        .collect();
    let mask_also = prev_rows
        .iter()
        .filter(|r| resolved.contains(r.finding_id.as_str()))
        .map(|r| (r.id_number.clone(), r.name.clone()))
        .collect();
    let extras = Extras {
        mask_also,
        changes: Some(changes),
        files: vec![
            ("outcomes.csv".into(), register::outcomes_csv(&outcomes)),
            ("evidence.csv".into(), evidence_csv(&cur)),
            (
                "run.json".into(),
                (serde_json::to_string_pretty(&run_json).unwrap_or_default() + "\n").into_bytes(),
            ),
        ],
        previous_manifest_sha256: Some(prev_sha),
    };
    // `latest`'s new text is written and flushed before the folder moves: a full disk
    // then fails the run while nothing of it is under `WS/runs/`.
    let previous_latest = ws.read_latest();
    let written = qianbiao_engine::write_outputs(opts, &outcome, &staging, &extras)
        .map_err(WorkspaceError::from)
        .and_then(|manifest| {
            sync_dir(&staging);
            let sha = manifest_sha(&staging)?;
            register::record_run(&tx, &run_id, &sha, cur.len())?;
            let latest = prepare_atomic(&ws.latest(), format!("{run_id}\n").as_bytes())?;
            let dest = ws.runs().join(&run_id);
            if let Err(e) = std::fs::rename(&staging, &dest) {
                let _ = std::fs::remove_file(&latest);
                return Err(io_err(&dest)(e));
            }
            sync_dir(&ws.runs());
            Ok((manifest, latest))
        });
    let (manifest, latest) = match written {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let finished = injected_failure()
        .and_then(|()| put_in_place(&latest, &ws.latest()))
        .and_then(|()| tx.commit().map_err(db_err));
    if let Err(e) = finished {
        // The run failed after its folder moved in: it is taken out again (one rename,
        // then removed from `WS/tmp/`), and `latest` names the run it named before, so
        // that no failed run looks complete (`operations.md`, A workspace).
        withdraw_run(ws, &run_id, &staging, previous_latest.as_deref(), &latest);
        return Err(e);
    }
    Ok(RunReport {
        run_id,
        findings: cur.len(),
        amount: cur.iter().map(|r| r.amount).sum(),
        changes: counts,
        took_over,
        replayed,
        manifest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, RUN_ID_FORMAT).unwrap()
    }

    #[test]
    fn a_run_that_fails_after_its_folder_moved_in_takes_it_out_again() {
        use qianbiao_core::policy::{Pipeline, DIANZI_2022};
        let dir = tempfile::tempdir().unwrap();
        let (data, root) = (dir.path().join("data"), dir.path().join("ws"));
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(
            data.join("hukou.csv"),
            "id_number,name,village\n11010519491231002X,王涛,东关村\n",
        )
        .unwrap();
        std::fs::write(
            data.join("payments.csv"),
            "txn_id,id_number,scheme,period,amount,paid_at\n\
             T1,11010519491231002X,居民医保,2022,320,2021-11-05\n",
        )
        .unwrap();
        let opts = qianbiao_engine::RunOptions {
            data,
            out: dir.path().join("unused"),
            pipeline: Pipeline::from_toml(DIANZI_2022).unwrap(),
            pipeline_source: "test".into(),
            as_of: None,
            progress: None,
            mask: false,
            partitioning: qianbiao_engine::Partitioning::Partitions(1),
            runner: None,
        };
        let ws = Workspace::new(&root);
        let first = run(&root, &opts).unwrap().run_id;
        let entries = || {
            let mut v: Vec<String> = std::fs::read_dir(&root)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let before = entries();
        let db = std::fs::read(ws.db()).unwrap();

        FAIL_AFTER_RENAME.with(|f| f.set(true));
        let err = run(&root, &opts).unwrap_err().to_string();
        FAIL_AFTER_RENAME.with(|f| f.set(false));
        assert!(err.contains("no space left on device"), "{err}");
        // Nothing of the failed run: no folder under runs/, latest as it was, no
        // temporary file, the register as it was.
        assert_eq!(ws.run_folders().unwrap(), std::slice::from_ref(&first));
        assert_eq!(ws.read_latest(), Some(first.clone()));
        assert_eq!(entries(), before);
        assert!(std::fs::read_dir(ws.tmp()).unwrap().next().is_none());
        let conn = register::open(&ws.db()).unwrap();
        assert_eq!(register::recorded_runs(&conn).unwrap().len(), 1);
        drop(conn);
        assert_eq!(std::fs::read(ws.db()).unwrap().len(), db.len());

        // The next run goes on from the first.
        let second = run(&root, &opts).unwrap().run_id;
        assert_eq!(ws.run_folders().unwrap(), [first, second.clone()]);
        assert_eq!(ws.read_latest(), Some(second));
    }

    #[test]
    fn run_ids_are_unique_and_sorted() {
        assert_eq!(next_run_id(t("20211201T023000"), None), "20211201T023000");
        assert_eq!(
            next_run_id(t("20211201T023000"), Some("20211130T023000")),
            "20211201T023000"
        );
        // Same second, or a clock set back: one second after the last.
        assert_eq!(
            next_run_id(t("20211201T023000"), Some("20211201T023000")),
            "20211201T023001"
        );
        assert_eq!(
            next_run_id(t("20211101T000000"), Some("20211201T235959")),
            "20211202T000000"
        );
    }
}
