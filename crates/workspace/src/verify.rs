//! `qianbiao verify WS` (`operations.md`, Tamper evidence): every file of every run
//! against its manifest, the chain of manifests from the first run to the latest, and the
//! anchor of the newest run (`cases.db` records each run's manifest sha256), and that
//! `latest` names the newest run.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::NaiveDateTime;
use serde_json::Value;

use crate::run::RUN_ID_FORMAT;
use crate::{register, sha256_hex, Result, Workspace, WorkspaceError};

/// What `verify` checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Complete runs checked.
    pub runs: usize,
    /// The run `latest` names.
    pub latest: Option<String>,
    /// A complete run the register has not recorded yet (a run killed after its folder
    /// was moved into place; the next run records it).
    pub pending: Option<String>,
}

fn fail(run: &str, file: &str, reason: impl Into<String>) -> WorkspaceError {
    WorkspaceError::Verify {
        run: run.to_string(),
        file: file.to_string(),
        reason: reason.into(),
    }
}

/// A run's manifest and its sha256.
pub(crate) fn read_manifest(dir: &Path, id: &str) -> Result<(Value, String)> {
    let mp = dir.join("manifest.json");
    let bytes = std::fs::read(&mp).map_err(|_| fail(id, "manifest.json", "missing"))?;
    let sha = sha256_hex(&bytes);
    let manifest: Value =
        serde_json::from_slice(&bytes).map_err(|_| fail(id, "manifest.json", "not valid JSON"))?;
    Ok((manifest, sha))
}

/// Checks every file of a run folder against its manifest.
pub(crate) fn check_files(dir: &Path, id: &str, manifest: &Value) -> Result<()> {
    let outputs = manifest["outputs"]
        .as_object()
        .ok_or_else(|| fail(id, "manifest.json", "no outputs listed"))?;
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
        .map_err(|e| fail(id, "-", e.to_string()))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "manifest.json")
        .collect();
    let listed: BTreeSet<String> = outputs.keys().cloned().collect();
    for name in on_disk.union(&listed) {
        if !listed.contains(name) {
            return Err(fail(
                id,
                name,
                "not listed in the manifest (a file was added)",
            ));
        }
        if !on_disk.contains(name) {
            return Err(fail(id, name, "listed in the manifest but missing"));
        }
        let p = dir.join(name);
        let got = std::fs::read(&p)
            .map(|b| sha256_hex(&b))
            .map_err(|_| fail(id, name, "cannot be read"))?;
        if outputs[name].as_str() != Some(got.as_str()) {
            return Err(fail(id, name, "sha256 differs from the manifest"));
        }
    }
    Ok(())
}

/// Verifies a workspace; the error names the first run and file that do not hold.
pub fn verify(root: &Path) -> Result<VerifyReport> {
    let ws = Workspace::new(root);
    if !root.is_dir() {
        return Err(fail(
            "-",
            &root.display().to_string(),
            "not a workspace folder",
        ));
    }
    let folders = ws.run_ids()?;
    // The register anchors every run it recorded (its manifest's sha256).
    let db = ws.db();
    let recorded = if db.exists() {
        let conn = register::open(&db)?;
        register::recorded_runs(&conn)?
    } else if folders.is_empty() {
        Vec::new()
    } else {
        return Err(fail("-", "cases.db", "missing"));
    };
    let mut shas: Vec<String> = Vec::with_capacity(folders.len());
    for (i, id) in folders.iter().enumerate() {
        let dir = ws.runs().join(id);
        if !dir.is_dir() || NaiveDateTime::parse_from_str(id, RUN_ID_FORMAT).is_err() {
            return Err(fail(id, "-", "not a run folder"));
        }
        let (manifest, sha) = read_manifest(&dir, id)?;
        let run_json: Value = std::fs::read(dir.join("run.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| fail(id, "run.json", "missing or not valid JSON"))?;
        if run_json["run_id"].as_str() != Some(id.as_str()) {
            return Err(fail(
                id,
                "run.json",
                "names another run (the folder was renamed)",
            ));
        }
        // The manifest against its anchor first, so that a changed manifest is named as
        // such rather than as the file whose listed hash it altered.
        if let Some((rid, rsha)) = recorded.get(i) {
            if rid != id {
                return Err(fail(
                    rid,
                    "-",
                    "recorded in cases.db but missing from runs/ or out of order (a run \
                     folder was removed or reordered)",
                ));
            }
            if *rsha != sha {
                return Err(fail(
                    id,
                    "manifest.json",
                    "sha256 differs from the one cases.db recorded",
                ));
            }
        }
        check_files(&dir, id, &manifest)?;
        let expected_prev = if i == 0 { "" } else { folders[i - 1].as_str() };
        let said_prev = run_json["previous_run_id"].as_str().unwrap_or("");
        if said_prev != expected_prev {
            return Err(fail(
                id,
                "run.json",
                format!(
                    "follows run {}, but the run before it is {} (a run folder was removed, \
                     added or reordered)",
                    if said_prev.is_empty() {
                        "(none)"
                    } else {
                        said_prev
                    },
                    if expected_prev.is_empty() {
                        "(none)"
                    } else {
                        expected_prev
                    },
                ),
            ));
        }
        let prev_sha = if i == 0 { "" } else { shas[i - 1].as_str() };
        match manifest["previous_manifest_sha256"].as_str() {
            None => {
                return Err(fail(
                    id,
                    "manifest.json",
                    "no previous_manifest_sha256 (not a workspace run)",
                ))
            }
            Some(s) if s != prev_sha => {
                // The link names the previous run's manifest: that file changed since.
                return Err(fail(
                    expected_prev,
                    "manifest.json",
                    format!("sha256 differs from the one run {id} recorded"),
                ));
            }
            Some(_) => {}
        }
        shas.push(sha);
    }

    if let Some((id, _)) = recorded.get(folders.len()) {
        return Err(fail(
            id,
            "-",
            "recorded in cases.db but missing from runs/ (a run folder was removed)",
        ));
    }
    let pending = match folders.len().saturating_sub(recorded.len()) {
        0 => None,
        1 => folders.last().cloned(),
        _ => {
            return Err(fail(
                &folders[recorded.len()],
                "-",
                "not recorded in cases.db (a run folder was added)",
            ))
        }
    };

    // `latest` names the newest run, or the one before a pending run (killed before it
    // could point `latest` at itself).
    let latest = ws.read_latest();
    if let Some(last) = folders.last() {
        let ok_ids: Vec<usize> = match pending {
            Some(_) => vec![folders.len() - 1, folders.len().wrapping_sub(2)],
            None => vec![folders.len() - 1],
        };
        let named = latest
            .as_ref()
            .and_then(|id| folders.iter().position(|f| f == id));
        let holds = match named {
            Some(k) => ok_ids.contains(&k),
            None => latest.is_none() && pending.is_some() && folders.len() == 1,
        };
        if !holds {
            return Err(fail(
                last,
                "latest",
                "does not name the newest complete run",
            ));
        }
    } else if let Some(named) = &latest {
        // No run left, yet `latest` names one: the runs were removed.
        return Err(fail(
            named,
            "latest",
            "names a run missing from runs/ (the run folders were removed)",
        ));
    }
    Ok(VerifyReport {
        runs: folders.len(),
        latest,
        pending,
    })
}
