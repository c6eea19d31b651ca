//! Changes since the previous run (`operations.md`): this run's findings against the
//! previous complete run's, by `finding_id`.
//!
//! Evidence is what `operations.md` names so: the finding's `sources` (`file:line`) and
//! its `txn_ids`, the records behind it and where they stand. The `detail` is not: it
//! restates the facts in a sentence that may name the run's as_of date ("截至…"), which
//! moves every night, and a cleared case must not reopen because the calendar did. Each
//! run keeps the fingerprints in `evidence.csv` (finding_id and a sha256, nothing
//! identifying).

use std::collections::BTreeMap;
use std::path::Path;

use qianbiao_core::{Change, ChangeKind, Fen, Finding};

use crate::{io_err, Result, WorkspaceError};

/// The columns of a finding a workspace keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Stable id.
    pub finding_id: String,
    /// Rule code.
    pub rule: String,
    /// Rule key.
    pub key: String,
    /// Id number (for masking only; never printed).
    pub id_number: String,
    /// Name (for masking only; never printed).
    pub name: String,
    /// Amount.
    pub amount: Fen,
    /// `;`-joined txn ids.
    pub txn_ids: String,
    /// Detail sentence.
    pub detail: String,
    /// The evidence fingerprint (see [`Row::fingerprint`]).
    pub evidence: String,
}

impl Row {
    /// The row of a computed finding.
    pub fn from_finding(f: &Finding) -> Row {
        let txn_ids = f.txn_ids.join(";");
        Row {
            finding_id: f.finding_id(),
            rule: f.rule.to_string(),
            key: f.key.clone(),
            id_number: f.id_number.clone(),
            name: f.name.clone(),
            amount: f.amount,
            evidence: Row::fingerprint(&f.sources.join(";"), &txn_ids),
            txn_ids,
            detail: f.detail.clone(),
        }
    }

    /// The evidence fingerprint: sha256 of the sources and the txn_ids, each as
    /// `findings.csv` writes it (joined by `;`).
    pub fn fingerprint(sources: &str, txn_ids: &str) -> String {
        crate::sha256_hex(format!("{sources}\n{txn_ids}").as_bytes())
    }

    /// The evidence fingerprint.
    pub fn evidence(&self) -> &str {
        &self.evidence
    }
}

/// Undoes `qianbiao_report::guard`: a leading `'` before a formula character.
fn unguard(s: &str) -> String {
    match s.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest.to_string(),
        _ => s.to_string(),
    }
}

/// Reads a run's `findings.csv` (as written by `qianbiao_report::write_findings_csv`).
pub fn read_findings_csv(path: &Path) -> Result<Vec<Row>> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let bad = |m: String| WorkspaceError::Inconsistent(format!("{}: {m}", path.display()));
    let mut r = csv::ReaderBuilder::new().from_reader(bytes);
    let headers = r.headers().map_err(|e| bad(e.to_string()))?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| bad(format!("no column {name}")))
    };
    let (fid, rule, key, idn, name, amount, txn, detail, sources) = (
        col("finding_id")?,
        col("rule")?,
        col("key")?,
        col("id_number")?,
        col("name")?,
        col("amount")?,
        col("txn_ids")?,
        col("detail")?,
        col("sources")?,
    );
    let mut rows = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| bad(e.to_string()))?;
        let cell = |c: usize| unguard(rec.get(c).unwrap_or(""));
        let amount = qianbiao_core::money::parse_amount(&cell(amount))
            .map_err(|e| bad(format!("line {}: amount: {e}", i + 2)))?;
        let (txn_ids, detail) = (cell(txn), cell(detail));
        rows.push(Row {
            finding_id: cell(fid),
            rule: cell(rule),
            key: cell(key),
            id_number: cell(idn),
            name: cell(name),
            amount,
            evidence: Row::fingerprint(&cell(sources), &txn_ids),
            txn_ids,
            detail,
        });
    }
    Ok(rows)
}

/// `evidence.csv` as bytes: finding_id and evidence fingerprint of each row.
pub fn evidence_csv(rows: &[Row]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["finding_id", "evidence_sha256"]);
    for r in rows {
        let _ = w.write_record([r.finding_id.as_str(), r.evidence.as_str()]);
    }
    w.into_inner().unwrap_or_default()
}

/// The findings of a run folder, from its `findings.csv`: the fingerprints are computed
/// from its `sources` and `txn_ids`, which `--mask` leaves as they are (so a masked run
/// compares like with like), and which a run written before the fingerprint changed also
/// holds: its `evidence.csv` is not read back.
pub fn read_run(dir: &Path) -> Result<Vec<Row>> {
    read_findings_csv(&dir.join("findings.csv"))
}

/// The changes from `prev` to `cur`, sorted by rule, key, finding_id. `first_seen` gives
/// the run that first found a finding (from the case register); a finding it does not
/// know was first seen by this run, `run_id`.
pub fn diff(
    prev: &[Row],
    cur: &[Row],
    run_id: &str,
    first_seen: &dyn Fn(&str) -> Option<String>,
) -> Vec<Change> {
    let before: BTreeMap<&str, &Row> = prev.iter().map(|r| (r.finding_id.as_str(), r)).collect();
    let now: BTreeMap<&str, &Row> = cur.iter().map(|r| (r.finding_id.as_str(), r)).collect();
    let seen = |id: &str| first_seen(id).unwrap_or_else(|| run_id.to_string());
    let mut out: Vec<Change> = Vec::with_capacity(cur.len());
    for r in cur {
        let (change, previous_amount) = match before.get(r.finding_id.as_str()) {
            None => (ChangeKind::New, None),
            Some(p) if p.amount == r.amount && p.evidence() == r.evidence() => {
                (ChangeKind::Persisting, Some(p.amount))
            }
            Some(p) => (ChangeKind::Changed, Some(p.amount)),
        };
        out.push(Change {
            finding_id: r.finding_id.clone(),
            rule: r.rule.clone(),
            key: r.key.clone(),
            change,
            previous_amount,
            amount: Some(r.amount),
            first_seen: seen(&r.finding_id),
            detail: r.detail.clone(),
        });
    }
    for p in prev {
        if !now.contains_key(p.finding_id.as_str()) {
            out.push(Change {
                finding_id: p.finding_id.clone(),
                rule: p.rule.clone(),
                key: p.key.clone(),
                change: ChangeKind::Resolved,
                previous_amount: Some(p.amount),
                amount: None,
                first_seen: seen(&p.finding_id),
                detail: p.detail.clone(),
            });
        }
    }
    out.sort_by(|a, b| {
        (a.rule.as_str(), a.key.as_str(), a.finding_id.as_str()).cmp(&(
            b.rule.as_str(),
            b.key.as_str(),
            b.finding_id.as_str(),
        ))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use qianbiao_core::Severity;

    fn f(key: &str, amount: i64, txn: &str) -> Finding {
        let mut f = Finding::new("DUP-001", Severity::High, key);
        f.amount = Fen(amount);
        f.txn_ids = vec![txn.into()];
        f.detail = format!("-{key} {amount}");
        f
    }

    #[test]
    fn four_kinds_and_first_seen() {
        let prev: Vec<Row> = [f("a", 100, "T1"), f("b", 100, "T2"), f("c", 100, "T3")]
            .iter()
            .map(Row::from_finding)
            .collect();
        let cur: Vec<Row> = [f("a", 100, "T1"), f("b", 200, "T2"), f("d", 5, "T4")]
            .iter()
            .map(Row::from_finding)
            .collect();
        let a_id = prev[0].finding_id.clone();
        let known = move |id: &str| (id == a_id).then(|| "R1".to_string());
        let ch = diff(&prev, &cur, "R3", &known);
        type Got<'a> = (&'a str, &'a str, Option<Fen>, Option<Fen>, &'a str);
        let got: Vec<Got> = ch
            .iter()
            .map(|c| {
                (
                    c.key.as_str(),
                    c.change.as_str(),
                    c.previous_amount,
                    c.amount,
                    c.first_seen.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a", "persisting", Some(Fen(100)), Some(Fen(100)), "R1"),
                ("b", "changed", Some(Fen(100)), Some(Fen(200)), "R3"),
                ("c", "resolved", Some(Fen(100)), None, "R3"),
                ("d", "new", None, Some(Fen(5)), "R3"),
            ]
        );
        // Same amount, other txn: changed.
        let other = [Row::from_finding(&f("a", 100, "T9"))];
        assert_eq!(
            diff(&prev[..1], &other, "R3", &|_| None)[0].change,
            ChangeKind::Changed
        );
        // Same amount and txn, other source (`file:line`): changed; the evidence is
        // `operations.md`'s "(`file:line`, txn_ids)".
        let mut moved = f("a", 100, "T1");
        moved.sources = vec!["payments.csv:9".into()];
        assert_eq!(
            diff(&prev[..1], &[Row::from_finding(&moved)], "R3", &|_| None)[0].change,
            ChangeKind::Changed
        );
        // Only the detail differs (a sentence naming tonight's as_of): persisting.
        let mut restated = f("a", 100, "T1");
        restated.detail = "截至2022-01-29".into();
        assert_eq!(
            diff(&prev[..1], &[Row::from_finding(&restated)], "R3", &|_| None)[0].change,
            ChangeKind::Persisting
        );
    }

    #[test]
    fn findings_csv_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("findings.csv");
        let fs = vec![f("a", 12345, "T1"), f("=b", 1, "T2")];
        qianbiao_report::write_findings_csv(&p, &fs).unwrap();
        let rows = read_findings_csv(&p).unwrap();
        let want: Vec<Row> = fs.iter().map(Row::from_finding).collect();
        assert_eq!(rows, want);
        // A masked findings.csv (ids and names in the detail masked) has the fingerprints
        // of the unmasked run.
        let masked = vec![f("a", 12345, "T1"), f("=b", 1, "T2")]
            .into_iter()
            .map(|mut x| {
                x.detail = "masked".into();
                x
            })
            .collect::<Vec<_>>();
        qianbiao_report::write_findings_csv(&p, &masked).unwrap();
        let back = read_run(dir.path()).unwrap();
        assert_eq!(back[0].evidence(), want[0].evidence());
        assert_eq!(back[1].evidence(), want[1].evidence());
        assert_eq!(back[0].detail, "masked");
    }
}
