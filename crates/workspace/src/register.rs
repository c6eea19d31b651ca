//! The case register `WS/cases.db` (`operations.md`, The case register): one case per
//! finding_id, its decisions as an append-only history, and the runs that updated it.
//!
//! The schema is versioned with `PRAGMA user_version` and migrated forward on open.
//! Decisions are never updated or deleted (triggers refuse it); a case's `status` and
//! `recovered_fen` are the effect of its latest decision.

use std::collections::BTreeSet;
use std::path::Path;

use qianbiao_core::Fen;
use rusqlite::{params, Connection, OptionalExtension};

use crate::changes::Row;
use crate::{Result, WorkspaceError};

/// The migrations, in order: migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL UNIQUE,
    manifest_sha256 TEXT NOT NULL,
    findings INTEGER NOT NULL
);
CREATE TABLE cases (
    finding_id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    key TEXT NOT NULL,
    id_number TEXT NOT NULL,
    name TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    amount_fen INTEGER NOT NULL,
    evidence TEXT NOT NULL,
    detail TEXT NOT NULL,
    present INTEGER NOT NULL,
    resolved_in TEXT,
    last_change TEXT NOT NULL,
    changed_in TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('open', 'confirmed', 'cleared', 'rectified', 'closed')),
    recovered_fen INTEGER
);
CREATE INDEX cases_rule ON cases(rule);
CREATE TABLE decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    finding_id TEXT NOT NULL REFERENCES cases(finding_id),
    decided_at TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('open', 'confirmed', 'cleared', 'rectified', 'closed')),
    recovered_fen INTEGER,
    note TEXT NOT NULL,
    origin TEXT NOT NULL,
    case_amount_fen INTEGER NOT NULL,
    case_evidence TEXT NOT NULL
);
CREATE INDEX decisions_case ON decisions(finding_id, id);
CREATE TRIGGER decisions_never_updated BEFORE UPDATE ON decisions
    BEGIN SELECT RAISE(ABORT, 'decisions are history: never updated'); END;
CREATE TRIGGER decisions_never_deleted BEFORE DELETE ON decisions
    BEGIN SELECT RAISE(ABORT, 'decisions are history: never deleted'); END;
"#,
    r#"
-- Views for a reviewer with any SQL client: amounts in yuan, statuses in Chinese.
CREATE VIEW case_list AS
SELECT c.finding_id, c.rule, c.key, c.first_seen, c.last_seen,
       printf('%d.%02d', c.amount_fen / 100, c.amount_fen % 100) AS amount,
       c.status,
       CASE c.status WHEN 'open' THEN '待核查' WHEN 'confirmed' THEN '属实'
            WHEN 'cleared' THEN '不属实' WHEN 'rectified' THEN '已整改'
            WHEN 'closed' THEN '已办结' END AS status_zh,
       CASE WHEN c.present = 1 THEN '' ELSE c.resolved_in END AS resolved_in,
       CASE WHEN c.recovered_fen IS NULL THEN ''
            ELSE printf('%d.%02d', c.recovered_fen / 100, c.recovered_fen % 100) END
           AS recovered,
       c.detail
FROM cases c;
CREATE VIEW decision_history AS
SELECT d.finding_id, d.decided_at, d.decided_by, d.status,
       CASE WHEN d.recovered_fen IS NULL THEN ''
            ELSE printf('%d.%02d', d.recovered_fen / 100, d.recovered_fen % 100) END
           AS recovered,
       d.note, d.origin
FROM decisions d ORDER BY d.finding_id, d.id;
"#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// A case's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// 待核查: not yet decided.
    Open,
    /// 属实: a true lead.
    Confirmed,
    /// 不属实: a false lead (with a reason).
    Cleared,
    /// 已整改: corrected (with the amount recovered).
    Rectified,
    /// 已办结: done.
    Closed,
}

impl Status {
    /// Every status, in workflow order.
    pub const ALL: [Status; 5] = [
        Status::Open,
        Status::Confirmed,
        Status::Cleared,
        Status::Rectified,
        Status::Closed,
    ];

    /// The English word stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Confirmed => "confirmed",
            Status::Cleared => "cleared",
            Status::Rectified => "rectified",
            Status::Closed => "closed",
        }
    }

    /// The Chinese label.
    pub fn zh(self) -> &'static str {
        match self {
            Status::Open => "待核查",
            Status::Confirmed => "属实",
            Status::Cleared => "不属实",
            Status::Rectified => "已整改",
            Status::Closed => "已办结",
        }
    }

    /// The workbook's drop-down label: `属实 confirmed`.
    pub fn label(self) -> String {
        format!("{} {}", self.zh(), self.as_str())
    }

    /// Parses the English word, the Chinese label, or the drop-down label.
    pub fn parse(s: &str) -> Option<Status> {
        let words: Vec<&str> = s.split_whitespace().collect();
        if words.is_empty() || words.len() > 2 {
            return None;
        }
        let one = |w: &str| {
            Status::ALL
                .into_iter()
                .find(|st| st.as_str().eq_ignore_ascii_case(w) || st.zh() == w)
        };
        let first = one(words[0])?;
        words[1..]
            .iter()
            .all(|w| one(w) == Some(first))
            .then_some(first)
    }
}

pub(crate) fn db_err(e: rusqlite::Error) -> WorkspaceError {
    WorkspaceError::Db {
        file: "cases.db".into(),
        message: e.to_string(),
    }
}

/// Opens (creating if missing) a case register and migrates it to [`SCHEMA_VERSION`].
pub fn open(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).map_err(|e| WorkspaceError::Db {
        file: path.display().to_string(),
        message: e.to_string(),
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(db_err)?;
    // FULL: a committed transaction is on disk before commit returns.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(db_err)?;
    migrate(conn)
}

fn migrate(mut conn: Connection) -> Result<Connection> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(db_err)?;
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > SCHEMA_VERSION {
        return Err(WorkspaceError::Db {
            file: "cases.db".into(),
            message: format!(
                "schema version {version} is newer than this qianbiao's {SCHEMA_VERSION}"
            ),
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction().map_err(db_err)?;
        tx.execute_batch(sql).map_err(db_err)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
    }
    Ok(conn)
}

/// The workspace id, created on first use (the marker a cases workbook carries).
pub fn workspace_id(conn: &Connection) -> Result<String> {
    let got: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE name = 'workspace_id'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    if let Some(id) = got {
        return Ok(id);
    }
    let seed = format!(
        "{}|{}|{:?}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default(),
        std::time::Instant::now()
    );
    let id = crate::sha256_hex(seed.as_bytes())[..16].to_string();
    conn.execute(
        "INSERT INTO meta (name, value) VALUES ('workspace_id', ?1)",
        [&id],
    )
    .map_err(db_err)?;
    Ok(id)
}

/// The runs recorded in the register, oldest first: (run id, manifest sha256).
pub fn recorded_runs(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut st = conn
        .prepare("SELECT run_id, manifest_sha256 FROM runs ORDER BY seq")
        .map_err(db_err)?;
    let rows = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db_err)?;
    rows.collect::<std::result::Result<_, _>>().map_err(db_err)
}

/// Records that a run updated the register (in the run's transaction).
pub fn record_run(
    conn: &Connection,
    run_id: &str,
    manifest_sha: &str,
    findings: usize,
) -> Result<()> {
    conn.execute(
        "INSERT INTO runs (run_id, manifest_sha256, findings) VALUES (?1, ?2, ?3)",
        params![run_id, manifest_sha, findings as i64],
    )
    .map_err(db_err)?;
    Ok(())
}

/// A case as the register holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Stable id.
    pub finding_id: String,
    /// Rule code.
    pub rule: String,
    /// Rule key.
    pub key: String,
    /// Id number (never printed).
    pub id_number: String,
    /// Name (never printed).
    pub name: String,
    /// The first run that found it.
    pub first_seen: String,
    /// The last run that found it.
    pub last_seen: String,
    /// The latest amount.
    pub amount: Fen,
    /// The latest evidence fingerprint.
    pub evidence: String,
    /// The latest detail.
    pub detail: String,
    /// Whether the latest run found it (false: resolved).
    pub present: bool,
    /// `new`, `changed` or `resolved`: its latest change, made by run `changed_in`.
    pub last_change: String,
    /// The run of its latest change.
    pub changed_in: String,
    /// Its status.
    pub status: Status,
    /// The amount recovered, per its latest decision that gave one.
    pub recovered: Option<Fen>,
}

const CASE_COLUMNS: &str = "finding_id, rule, key, id_number, name, first_seen, last_seen, \
    amount_fen, evidence, detail, present, last_change, changed_in, status, recovered_fen";
const CASE_BY_ID: &str = "SELECT finding_id, rule, key, id_number, name, first_seen, \
    last_seen, amount_fen, evidence, detail, present, last_change, changed_in, status, \
    recovered_fen FROM cases WHERE finding_id = ?1";

/// Runs a statement through the connection's statement cache (a run executes the same
/// few statements once per finding).
fn exec(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<usize> {
    conn.prepare_cached(sql)
        .and_then(|mut st| st.execute(p))
        .map_err(db_err)
}

fn case_of(r: &rusqlite::Row) -> rusqlite::Result<Case> {
    let status: String = r.get(13)?;
    Ok(Case {
        finding_id: r.get(0)?,
        rule: r.get(1)?,
        key: r.get(2)?,
        id_number: r.get(3)?,
        name: r.get(4)?,
        first_seen: r.get(5)?,
        last_seen: r.get(6)?,
        amount: Fen(r.get(7)?),
        evidence: r.get(8)?,
        detail: r.get(9)?,
        present: r.get::<_, i64>(10)? != 0,
        last_change: r.get(11)?,
        changed_in: r.get(12)?,
        status: Status::parse(&status).unwrap_or(Status::Open),
        recovered: r.get::<_, Option<i64>>(14)?.map(Fen),
    })
}

/// One case by finding_id.
pub fn case(conn: &Connection, finding_id: &str) -> Result<Option<Case>> {
    conn.prepare_cached(CASE_BY_ID)
        .and_then(|mut st| st.query_row([finding_id], case_of).optional())
        .map_err(db_err)
}

/// Every case, by rule then key.
pub fn all_cases(conn: &Connection) -> Result<Vec<Case>> {
    let mut st = conn
        .prepare(&format!(
            "SELECT {CASE_COLUMNS} FROM cases ORDER BY rule, key, finding_id"
        ))
        .map_err(db_err)?;
    let rows = st.query_map([], case_of).map_err(db_err)?;
    rows.collect::<std::result::Result<_, _>>().map_err(db_err)
}

/// One decision of a case's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The case.
    pub finding_id: String,
    /// When (UTC, RFC 3339).
    pub decided_at: String,
    /// Who (the reviewer; `qianbiao` for a reopening by a run).
    pub decided_by: String,
    /// The status decided.
    pub status: Status,
    /// The amount recovered, when given.
    pub recovered: Option<Fen>,
    /// The note (the reason, for `cleared`).
    pub note: String,
    /// `import FILE` or `run RUN_ID`.
    pub origin: String,
    /// The amount and evidence fingerprint the decision was made on, when known (an
    /// imported decision: the finding as the exported run wrote it, what the reviewer
    /// saw); else the case's latest.
    pub seen: Option<(Fen, String)>,
}

/// A case's decisions, oldest first.
pub fn history(conn: &Connection, finding_id: &str) -> Result<Vec<Decision>> {
    let mut st = conn
        .prepare(
            "SELECT finding_id, decided_at, decided_by, status, recovered_fen, note, origin \
             FROM decisions WHERE finding_id = ?1 ORDER BY id",
        )
        .map_err(db_err)?;
    let rows = st
        .query_map([finding_id], |r| {
            let s: String = r.get(3)?;
            Ok(Decision {
                finding_id: r.get(0)?,
                decided_at: r.get(1)?,
                decided_by: r.get(2)?,
                status: Status::parse(&s).unwrap_or(Status::Open),
                recovered: r.get::<_, Option<i64>>(4)?.map(Fen),
                note: r.get(5)?,
                origin: r.get(6)?,
                seen: None,
            })
        })
        .map_err(db_err)?;
    rows.collect::<std::result::Result<_, _>>().map_err(db_err)
}

/// Appends a decision and sets the case's status (and recovered amount, when given).
pub fn decide(conn: &Connection, d: &Decision) -> Result<()> {
    let c = case(conn, &d.finding_id)?
        .ok_or_else(|| WorkspaceError::Inconsistent(format!("no case {}", d.finding_id)))?;
    let (amount, evidence) = d.seen.clone().unwrap_or((c.amount, c.evidence));
    exec(
        conn,
        "INSERT INTO decisions (finding_id, decided_at, decided_by, status, recovered_fen, \
         note, origin, case_amount_fen, case_evidence) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            d.finding_id,
            d.decided_at,
            d.decided_by,
            d.status.as_str(),
            d.recovered.map(|f| f.0),
            d.note,
            d.origin,
            amount.0,
            evidence
        ],
    )?;
    exec(
        conn,
        "UPDATE cases SET status = ?2, recovered_fen = COALESCE(?3, recovered_fen) \
         WHERE finding_id = ?1",
        params![d.finding_id, d.status.as_str(), d.recovered.map(|f| f.0)],
    )?;
    Ok(())
}

/// The amount and evidence a case was cleared on (its latest `cleared` decision).
fn cleared_on(conn: &Connection, finding_id: &str) -> Result<Option<(Fen, String)>> {
    conn.query_row(
        "SELECT case_amount_fen, case_evidence FROM decisions \
         WHERE finding_id = ?1 AND status = 'cleared' ORDER BY id DESC LIMIT 1",
        [finding_id],
        |r| Ok((Fen(r.get(0)?), r.get(1)?)),
    )
    .optional()
    .map_err(db_err)
}

/// `20211201T023000` as `2021-12-01T02:30:00Z` (the time a run's reopenings are dated).
pub fn run_time(run_id: &str) -> String {
    chrono::NaiveDateTime::parse_from_str(run_id, crate::run::RUN_ID_FORMAT)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| run_id.to_string())
}

/// Updates the cases with one run's findings (inside the run's transaction): new cases
/// open; a case that comes back reopens unless it was cleared on the same amount and
/// evidence; a cleared case whose amount or evidence changes reopens; cases the run did
/// not find are marked resolved (`last_seen` stays).
pub fn apply_run(conn: &Connection, run_id: &str, cur: &[Row]) -> Result<()> {
    let at = run_time(run_id);
    let mut seen = BTreeSet::new();
    for r in cur {
        if !seen.insert(r.finding_id.as_str()) {
            continue;
        }
        let evidence = r.evidence().to_string();
        let Some(c) = case(conn, &r.finding_id)? else {
            exec(
                conn,
                "INSERT INTO cases (finding_id, rule, key, id_number, name, first_seen, \
                 last_seen, amount_fen, evidence, detail, present, resolved_in, last_change, \
                 changed_in, status, recovered_fen) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9, 1, NULL, 'new', ?6, 'open', NULL)",
                params![
                    r.finding_id,
                    r.rule,
                    r.key,
                    r.id_number,
                    r.name,
                    run_id,
                    r.amount.0,
                    evidence,
                    r.detail
                ],
            )?;
            continue;
        };
        let came_back = !c.present;
        let differs = c.amount != r.amount || c.evidence != evidence;
        let change = if came_back {
            Some("new")
        } else if differs {
            Some("changed")
        } else {
            None
        };
        exec(
            conn,
            "UPDATE cases SET rule = ?2, key = ?3, id_number = ?4, name = ?5, last_seen = ?6, \
             amount_fen = ?7, evidence = ?8, detail = ?9, present = 1, resolved_in = NULL, \
             last_change = COALESCE(?10, last_change), \
             changed_in = CASE WHEN ?10 IS NULL THEN changed_in ELSE ?6 END \
             WHERE finding_id = ?1",
            params![
                r.finding_id,
                r.rule,
                r.key,
                r.id_number,
                r.name,
                run_id,
                r.amount.0,
                evidence,
                r.detail,
                change
            ],
        )?;
        let reopen = match c.status {
            Status::Open => None,
            Status::Cleared => match cleared_on(conn, &r.finding_id)? {
                Some((amount, ev)) if amount == r.amount && ev == evidence => None,
                _ if came_back => Some("再次出现，金额或证据与排除时不同，自动重新打开"),
                _ => Some("金额或证据与排除时不同，自动重新打开"),
            },
            _ if came_back => Some("消除后再次出现，自动重新打开"),
            _ => None,
        };
        if let Some(note) = reopen {
            decide(
                conn,
                &Decision {
                    finding_id: r.finding_id.clone(),
                    decided_at: at.clone(),
                    decided_by: "qianbiao".into(),
                    status: Status::Open,
                    recovered: None,
                    note: note.into(),
                    origin: format!("run {run_id}"),
                    seen: None,
                },
            )?;
        }
    }
    // Cases this run did not find: resolved by it.
    let mut st = conn
        .prepare("SELECT finding_id FROM cases WHERE present = 1")
        .map_err(db_err)?;
    let present: Vec<String> = st
        .query_map([], |r| r.get(0))
        .map_err(db_err)?
        .collect::<std::result::Result<_, _>>()
        .map_err(db_err)?;
    for id in present.iter().filter(|id| !seen.contains(id.as_str())) {
        exec(
            conn,
            "UPDATE cases SET present = 0, resolved_in = ?2, last_change = 'resolved', \
             changed_in = ?2 WHERE finding_id = ?1",
            params![id, run_id],
        )?;
    }
    Ok(())
}

/// The first run that found each given finding, where the register knows it.
pub fn first_seen(conn: &Connection, finding_id: &str) -> Result<Option<String>> {
    conn.query_row(
        "SELECT first_seen FROM cases WHERE finding_id = ?1",
        [finding_id],
        |r| r.get(0),
    )
    .optional()
    .map_err(db_err)
}

/// One row of `outcomes.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Rule code.
    pub rule: String,
    /// Findings of the latest run.
    pub findings: u64,
    /// Cases (found or resolved) with status open.
    pub open: u64,
    /// ... confirmed.
    pub confirmed: u64,
    /// ... cleared.
    pub cleared: u64,
    /// ... rectified.
    pub rectified: u64,
    /// Sum of the latest amounts of the latest run's findings, cleared cases excepted.
    pub at_stake: Fen,
    /// Sum of the recovered amounts of every case.
    pub recovered: Fen,
}

/// Per rule: findings, statuses, amount at stake and recovered.
pub fn outcomes(conn: &Connection) -> Result<Vec<Outcome>> {
    let mut st = conn
        .prepare(
            "SELECT rule, SUM(present), SUM(status = 'open'), SUM(status = 'confirmed'), \
             SUM(status = 'cleared'), SUM(status = 'rectified'), \
             SUM(CASE WHEN present = 1 AND status <> 'cleared' THEN amount_fen ELSE 0 END), \
             COALESCE(SUM(recovered_fen), 0) \
             FROM cases GROUP BY rule ORDER BY rule",
        )
        .map_err(db_err)?;
    let rows = st
        .query_map([], |r| {
            let n = |i: usize| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
            Ok(Outcome {
                rule: r.get(0)?,
                findings: n(1)?,
                open: n(2)?,
                confirmed: n(3)?,
                cleared: n(4)?,
                rectified: n(5)?,
                at_stake: Fen(r.get(6)?),
                recovered: Fen(r.get(7)?),
            })
        })
        .map_err(db_err)?;
    rows.collect::<std::result::Result<_, _>>().map_err(db_err)
}

/// The columns of `outcomes.csv`.
pub const OUTCOME_COLUMNS: [&str; 8] = [
    "rule",
    "findings",
    "open",
    "confirmed",
    "cleared",
    "rectified",
    "amount_at_stake",
    "amount_recovered",
];

/// `outcomes.csv` (UTF-8 with BOM) as bytes.
pub fn outcomes_csv(rows: &[Outcome]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let _ = w.write_record(OUTCOME_COLUMNS);
    for o in rows {
        let _ = w.write_record([
            o.rule.clone(),
            o.findings.to_string(),
            o.open.to_string(),
            o.confirmed.to_string(),
            o.cleared.to_string(),
            o.rectified.to_string(),
            o.at_stake.to_string(),
            o.recovered.to_string(),
        ]);
    }
    w.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_register_of_schema_1_is_migrated_forward() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cases.db");
        let old = Connection::open(&path).unwrap();
        old.execute_batch(MIGRATIONS[0]).unwrap();
        old.pragma_update(None, "user_version", 1).unwrap();
        old.execute(
            "INSERT INTO meta (name, value) VALUES ('workspace_id', 'abc')",
            [],
        )
        .unwrap();
        drop(old);
        let conn = open(&path).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, SCHEMA_VERSION);
        assert_eq!(workspace_id(&conn).unwrap(), "abc", "data kept");
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM case_list", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn statuses_parse_in_every_form() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(Status::parse(s.zh()), Some(s));
            assert_eq!(Status::parse(&s.label()), Some(s));
        }
        assert_eq!(Status::parse("属实 cleared"), None);
        assert_eq!(Status::parse("done"), None);
        assert_eq!(Status::parse(""), None);
    }

    #[test]
    fn migrations_set_the_version_and_decisions_are_history() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("cases.db")).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, SCHEMA_VERSION);
        drop(conn);
        // Reopening migrates nothing and keeps the id.
        let conn = open(&dir.path().join("cases.db")).unwrap();
        let id = workspace_id(&conn).unwrap();
        assert_eq!(workspace_id(&conn).unwrap(), id);
        let row = Row {
            finding_id: "F1".into(),
            rule: "DUP-001".into(),
            key: "k".into(),
            id_number: String::new(),
            name: String::new(),
            amount: Fen(100),
            txn_ids: "T1".into(),
            detail: "d".into(),
            evidence: "e".into(),
        };
        apply_run(&conn, "20211201T023000", std::slice::from_ref(&row)).unwrap();
        decide(
            &conn,
            &Decision {
                finding_id: "F1".into(),
                decided_at: "2021-12-01T09:00:00Z".into(),
                decided_by: "李".into(),
                status: Status::Confirmed,
                recovered: None,
                note: String::new(),
                origin: "import x.xlsx".into(),
                seen: None,
            },
        )
        .unwrap();
        assert!(conn
            .execute("UPDATE decisions SET status = 'closed'", [])
            .is_err());
        assert!(conn.execute("DELETE FROM decisions", []).is_err());
        assert_eq!(history(&conn, "F1").unwrap().len(), 1);
        let shown: (String, String) = conn
            .query_row(
                "SELECT amount, status_zh FROM case_list WHERE finding_id = 'F1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(shown, ("1.00".to_string(), "属实".to_string()));
        // A newer schema is refused.
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(open(&dir.path().join("cases.db")).is_err());
    }
}
