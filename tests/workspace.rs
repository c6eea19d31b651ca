//! Nightly operation through the binary (`operations.md`): runs in a workspace, the
//! lock, changes and the case register over a scripted sequence of nights, tamper
//! evidence, SIGKILL at random moments, and nothing identifying on the terminal or in the
//! log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use qianbiao_workspace::register::{self, Status};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_qianbiao"))
}

fn qianbiao(args: &[&str]) -> Output {
    bin().args(args).output().expect("binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: Output) -> Output {
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    o
}

fn exit2(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(2), "{}", text(o));
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

fn p(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ws_run(data: &Path, ws: &Path) -> Output {
    qianbiao(&["run", "--data", p(data), "--workspace", p(ws)])
}

fn runs(ws: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(ws.join("runs"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn synth(dir: &Path) {
    ok(qianbiao(&[
        "synth",
        "--persons",
        "300",
        "--seed",
        "1",
        "--out",
        p(dir),
    ]));
}

/// A valid id for a birth year and a sequence number.
fn id(year: i32, seq: u32) -> String {
    let body = format!("371323{year}0101{:03}", seq % 1000);
    format!("{body}{}", qianbiao_core::id::check_digit(&body).unwrap())
}

// ---------------------------------------------------------------------------------------
// A scripted town: three residents paying medical twice (DUP-001), edited night by night.

const PAY_HEADER: &str = "txn_id,id_number,name,scheme,period,amount,paid_at";

struct Night {
    pays: Vec<(&'static str, usize, &'static str, &'static str)>,
}

fn write_town(dir: &Path, ids: &[String], night: &Night) {
    std::fs::create_dir_all(dir).unwrap();
    let mut hukou = String::from("id_number,name,village,household_no,status,status_date\n");
    for (i, id) in ids.iter().enumerate() {
        hukou += &format!("{id},居民{i}号,店子村,H{i},正常,\n");
    }
    std::fs::write(dir.join("hukou.csv"), hukou).unwrap();
    let mut pays = format!("{PAY_HEADER}\n");
    for (txn, who, amount, at) in &night.pays {
        pays += &format!("{txn},{},,resident_medical,2022,{amount},{at}\n", ids[*who]);
    }
    std::fs::write(dir.join("payments.csv"), pays).unwrap();
}

/// `changes.csv` rows of one rule: key -> (change, previous_amount, amount, first_seen).
fn changes(run_dir: &Path, rule: &str) -> BTreeMap<String, (String, String, String, String)> {
    let bytes = std::fs::read(run_dir.join("changes.csv")).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "changes.csv has a BOM");
    let mut r = csv::Reader::from_reader(&bytes[3..]);
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "finding_id",
            "rule",
            "key",
            "change",
            "previous_amount",
            "amount",
            "first_seen",
            "detail",
        ]
    );
    r.records()
        .map(|x| x.unwrap())
        .filter(|x| &x[1] == rule)
        .map(|x| {
            (
                x[2].to_string(),
                (
                    x[3].to_string(),
                    x[4].to_string(),
                    x[5].to_string(),
                    x[6].to_string(),
                ),
            )
        })
        .collect()
}

fn c(change: &str, prev: &str, amount: &str, first: &str) -> (String, String, String, String) {
    (change.into(), prev.into(), amount.into(), first.into())
}

/// A filled cases workbook of workspace `wsid`: rows of (finding_id, status, recovered,
/// reviewer, note).
fn workbook(path: &Path, wsid: Option<&str>, rows: &[[&str; 5]]) {
    workbook_of_run(path, wsid, None, rows)
}

/// [`workbook`], exported after run `run` (the marker names it, as an export does).
fn workbook_of_run(path: &Path, wsid: Option<&str>, run: Option<&str>, rows: &[[&str; 5]]) {
    use qianbiao_workspace::cases_xlsx::{HEADERS, MARKER, MARKER_SHEET};
    let mut wb = rust_xlsxwriter::Workbook::new();
    let s = wb.add_worksheet();
    s.set_name("cases").unwrap();
    for (i, h) in HEADERS.iter().enumerate() {
        s.write_string(0, i as u16, *h).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        s.write_string(r, 0, row[0]).unwrap();
        s.write_string(r, 11, row[1]).unwrap();
        match row[2].parse::<f64>() {
            Ok(f) if !row[2].contains('x') => s.write_number(r, 12, f).unwrap(),
            _ => s.write_string(r, 12, row[2]).unwrap(),
        };
        s.write_string(r, 13, row[3]).unwrap();
        s.write_string(r, 14, row[4]).unwrap();
    }
    if let Some(wsid) = wsid {
        let m = wb.add_worksheet();
        m.set_name(MARKER_SHEET).unwrap();
        m.write_string(0, 0, MARKER).unwrap();
        m.write_string(1, 0, "workspace_id").unwrap();
        m.write_string(1, 1, wsid).unwrap();
        if let Some(run) = run {
            m.write_string(2, 0, "run").unwrap();
            m.write_string(2, 1, run).unwrap();
        }
        m.set_hidden(true);
    }
    wb.save(path).unwrap();
}

fn finding_id(rule: &str, key: &str) -> String {
    let mut f = qianbiao_core::Finding::new(
        Box::leak(rule.to_string().into_boxed_str()),
        qianbiao_core::Severity::High,
        key,
    );
    f.tidy();
    f.finding_id()
}

#[test]
fn scripted_nights_give_the_expected_changes_and_case_states() {
    let dir = tempfile::tempdir().unwrap();
    let (data, ws) = (dir.path().join("data"), dir.path().join("ws"));
    let ids = vec![id(1980, 1), id(1981, 2), id(1982, 3)];
    let key = |i: usize| format!("{}|resident_medical|2022", ids[i]);
    let (a, b, cc) = (key(0), key(1), key(2));
    let (fa, fb, fc) = (
        finding_id("DUP-001", &a),
        finding_id("DUP-001", &b),
        finding_id("DUP-001", &cc),
    );
    let base = [
        ("T1", 0, "320", "2021-11-01"),
        ("T3", 1, "320", "2021-11-01"),
        ("T5", 2, "320", "2021-11-01"),
    ];
    let night = |extra: &[(&'static str, usize, &'static str, &'static str)]| Night {
        pays: base.iter().cloned().chain(extra.iter().cloned()).collect(),
    };

    // Night 1: three duplicates appear.
    write_town(
        &data,
        &ids,
        &night(&[
            ("T2", 0, "320", "2021-11-02"),
            ("T4", 1, "320", "2021-11-02"),
            ("T6", 2, "320", "2021-11-02"),
        ]),
    );
    ok(ws_run(&data, &ws));
    let r1 = runs(&ws)[0].clone();
    let ch = changes(&ws.join("runs").join(&r1), "DUP-001");
    assert_eq!(ch.len(), 3);
    for k in [&a, &b, &cc] {
        assert_eq!(ch[k], c("new", "", "320.00", &r1));
    }

    // Reviewers: B and C are false leads.
    let conn = register::open(&ws.join("cases.db")).unwrap();
    let wsid = register::workspace_id(&conn).unwrap();
    drop(conn);
    let wb1 = dir.path().join("night1.xlsx");
    workbook(
        &wb1,
        Some(&wsid),
        &[
            [&fb, "不属实 cleared", "", "李审", "同一笔缴费导出两次"],
            [&fc, "cleared", "", "李审", "银行重复记账，已冲正"],
        ],
    );
    ok(qianbiao(&["cases", "import", p(&ws), p(&wb1)]));

    // Night 2: A's second payment grows to 350; B and C stay.
    write_town(
        &data,
        &ids,
        &night(&[
            ("T2", 0, "350", "2021-11-02"),
            ("T4", 1, "320", "2021-11-02"),
            ("T6", 2, "320", "2021-11-02"),
        ]),
    );
    ok(ws_run(&data, &ws));
    let r2 = runs(&ws)[1].clone();
    let ch = changes(&ws.join("runs").join(&r2), "DUP-001");
    assert_eq!(ch[&a], c("changed", "320.00", "350.00", &r1));
    assert_eq!(ch[&b], c("persisting", "320.00", "320.00", &r1));
    assert_eq!(ch[&cc], c("persisting", "320.00", "320.00", &r1));
    let wb2 = dir.path().join("night2.xlsx");
    workbook(
        &wb2,
        Some(&wsid),
        &[[&fa, "已整改 rectified", "320.00", "王核", "已追回"]],
    );
    ok(qianbiao(&["cases", "import", p(&ws), p(&wb2)]));

    // Night 3: every duplicate disappears.
    write_town(&data, &ids, &night(&[]));
    ok(ws_run(&data, &ws));
    let r3 = runs(&ws)[2].clone();
    let ch = changes(&ws.join("runs").join(&r3), "DUP-001");
    assert_eq!(ch[&a], c("resolved", "350.00", "", &r1));
    assert_eq!(ch[&b], c("resolved", "320.00", "", &r1));
    assert_eq!(ch[&cc], c("resolved", "320.00", "", &r1));
    {
        let conn = register::open(&ws.join("cases.db")).unwrap();
        let ca = register::case(&conn, &fa).unwrap().unwrap();
        assert!(!ca.present);
        assert_eq!(
            ca.last_seen, r2,
            "last_seen stays on the last run that found it"
        );
        assert_eq!(ca.status, Status::Rectified);
    }

    // Night 4: they come back: A as before, B with the same amount and evidence, C with
    // another payment behind it (other evidence).
    write_town(
        &data,
        &ids,
        &night(&[
            ("T2", 0, "350", "2021-11-02"),
            ("T4", 1, "320", "2021-11-02"),
            ("T7", 2, "320", "2021-11-02"),
        ]),
    );
    ok(ws_run(&data, &ws));
    let r4 = runs(&ws)[3].clone();
    assert_eq!(
        std::fs::read_to_string(ws.join("latest")).unwrap(),
        format!("{r4}\n")
    );
    let ch = changes(&ws.join("runs").join(&r4), "DUP-001");
    assert_eq!(ch[&a], c("new", "", "350.00", &r1));
    assert_eq!(ch[&b], c("new", "", "320.00", &r1));
    assert_eq!(ch[&cc], c("new", "", "320.00", &r1));

    let conn = register::open(&ws.join("cases.db")).unwrap();
    let state = |f: &str| register::case(&conn, f).unwrap().unwrap();
    assert_eq!(
        state(&fa).status,
        Status::Open,
        "a rectified case that comes back reopens"
    );
    assert_eq!(
        state(&fb).status,
        Status::Cleared,
        "cleared, same amount and evidence"
    );
    assert_eq!(
        state(&fc).status,
        Status::Open,
        "cleared, other evidence: reopened"
    );
    assert_eq!(state(&fa).first_seen, r1);
    assert_eq!(state(&fa).last_seen, r4);
    let hist: Vec<(Status, String)> = register::history(&conn, &fc)
        .unwrap()
        .into_iter()
        .map(|d| (d.status, d.decided_by))
        .collect();
    assert_eq!(
        hist,
        [
            (Status::Cleared, "李审".to_string()),
            (Status::Open, "qianbiao".to_string())
        ]
    );
    let ha = register::history(&conn, &fa).unwrap();
    assert_eq!(ha[0].recovered, Some(qianbiao_core::Fen(32000)));
    drop(conn);

    // outcomes.csv of night 4: DUP-001 has 3 findings, A and C open, B cleared; at stake
    // 350 + 320 (the cleared one is no money at stake); 320 recovered.
    let out = std::fs::read_to_string(ws.join("runs").join(&r4).join("outcomes.csv")).unwrap();
    let line = out.lines().find(|l| l.starts_with("DUP-001,")).unwrap();
    assert_eq!(line, "DUP-001,3,2,0,1,0,670.00,320.00");
    let summary = text(&ok(qianbiao(&["cases", "summary", p(&ws)])));
    assert!(summary.contains("DUP-001"), "{summary}");
    assert!(
        summary.contains("670.00") && summary.contains("320.00"),
        "{summary}"
    );

    // The exported workbook is ours: importing it unchanged records nothing.
    let export = dir.path().join("export.xlsx");
    ok(qianbiao(&["cases", "export", p(&ws), "--out", p(&export)]));
    let o = ok(qianbiao(&["cases", "import", p(&ws), p(&export)]));
    assert!(text(&o).contains("0 decisions"), "{}", text(&o));
    ok(qianbiao(&["verify", p(&ws)]));
}

#[test]
fn import_validates_every_row_and_records_nothing_unless_all_hold() {
    let dir = tempfile::tempdir().unwrap();
    let (data, ws) = (dir.path().join("data"), dir.path().join("ws"));
    let ids = vec![id(1980, 1)];
    write_town(
        &data,
        &ids,
        &Night {
            pays: vec![
                ("T1", 0, "320", "2021-11-01"),
                ("T2", 0, "320", "2021-11-02"),
            ],
        },
    );
    ok(ws_run(&data, &ws));
    let fa = finding_id("DUP-001", &format!("{}|resident_medical|2022", ids[0]));
    let conn = register::open(&ws.join("cases.db")).unwrap();
    let wsid = register::workspace_id(&conn).unwrap();
    drop(conn);
    let bad = dir.path().join("bad.xlsx");
    workbook(
        &bad,
        Some(&wsid),
        &[
            [&fa, "confirmed", "", "李", ""], // line 2: valid
            ["DUP-001-0000000000000000", "confirmed", "", "李", ""], // 3
            [&fa, "done", "", "李", ""],      // 4
            [&fa, "rectified", "1.234", "李", ""], // 5
            [&fa, "rectified", "-5", "李", ""], // 6
            [&fa, "rectified", "abc", "李", ""], // 7
            [&fa, "cleared", "", "李", ""],   // 8
        ],
    );
    let err = exit2(&qianbiao(&["cases", "import", p(&ws), p(&bad)]));
    for want in [
        "6 row(s) rejected, nothing recorded",
        "line 3: unknown finding_id",
        "line 4: unknown status",
        "line 5: recovered amount has more than 2 decimals",
        "line 6: recovered amount is negative",
        "line 7: recovered amount is not a number",
        "line 8: cleared without a reason",
    ] {
        assert!(err.contains(want), "{want:?} not in {err}");
    }
    assert!(!err.contains("line 2"), "{err}");
    let conn = register::open(&ws.join("cases.db")).unwrap();
    assert!(
        register::history(&conn, &fa).unwrap().is_empty(),
        "all or nothing"
    );
    drop(conn);

    // Not ours: no marker, or another workspace's.
    let foreign = dir.path().join("foreign.xlsx");
    workbook(&foreign, None, &[[&fa, "confirmed", "", "李", ""]]);
    let err = exit2(&qianbiao(&["cases", "import", p(&ws), p(&foreign)]));
    assert!(err.contains("not a qianbiao cases workbook"), "{err}");
    workbook(
        &foreign,
        Some("0123456789abcdef"),
        &[[&fa, "confirmed", "", "李", ""]],
    );
    let err = exit2(&qianbiao(&["cases", "import", p(&ws), p(&foreign)]));
    assert!(err.contains("another workspace"), "{err}");

    // The valid row alone is recorded.
    let good = dir.path().join("good.xlsx");
    workbook(&good, Some(&wsid), &[[&fa, "属实", "", "李", "核实属实"]]);
    ok(qianbiao(&["cases", "import", p(&ws), p(&good)]));
    let conn = register::open(&ws.join("cases.db")).unwrap();
    assert_eq!(
        register::case(&conn, &fa).unwrap().unwrap().status,
        Status::Confirmed
    );
    drop(conn);
    let decisions = || {
        let conn = register::open(&ws.join("cases.db")).unwrap();
        register::history(&conn, &fa).unwrap().len()
    };
    assert_eq!(decisions(), 1);

    // The same workbook imported again records nothing twice.
    let o = text(&ok(qianbiao(&["cases", "import", p(&ws), p(&good)])));
    assert!(o.contains("0 decisions recorded"), "{o}");
    assert_eq!(decisions(), 1);

    // One finding decided twice in a workbook: alike is one decision; differently is
    // rejected, and nothing is recorded.
    let twice = dir.path().join("twice.xlsx");
    // A formula's binary noise (`=100*0.07` is stored as 7.000000000000001): read as the
    // amount the sheet shows, 100.00 here.
    let rectified = [&fa, "rectified", "100.00000000000001", "李", "已追回"];
    workbook(&twice, Some(&wsid), &[rectified, rectified]);
    ok(qianbiao(&["cases", "import", p(&ws), p(&twice)]));
    assert_eq!(decisions(), 2);
    let conn = register::open(&ws.join("cases.db")).unwrap();
    assert_eq!(
        register::case(&conn, &fa).unwrap().unwrap().recovered,
        Some(qianbiao_core::Fen(10_000))
    );
    drop(conn);
    workbook(
        &twice,
        Some(&wsid),
        &[
            [&fa, "closed", "", "李", ""],
            [&fa, "cleared", "", "李", "误报"],
        ],
    );
    let err = exit2(&qianbiao(&["cases", "import", p(&ws), p(&twice)]));
    assert!(
        err.contains("line 3: finding_id decided differently on line 2 of this workbook"),
        "{err}"
    );
    assert_eq!(decisions(), 2);
}

#[test]
fn a_second_run_while_one_holds_the_workspace_exits_2_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let data = dir.path().join("data");
    write_town(
        &data,
        &[id(1980, 1)],
        &Night {
            pays: vec![("T1", 0, "320", "2021-11-01")],
        },
    );
    std::fs::create_dir_all(&ws).unwrap();
    // A live process holds the workspace.
    let mut holder = Command::new("sleep").arg("30").spawn().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", holder.id())).unwrap();
    let start = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .to_string();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    std::fs::write(
        ws.join("lock"),
        format!(
            "pid={}\nhost={}\nproc_start={start}\nholder=run 20211201T023000\nstarted=2021-12-01T02:30:00Z\n",
            holder.id(),
            host.trim()
        ),
    )
    .unwrap();
    let err = exit2(&ws_run(&data, &ws));
    assert!(err.contains("held by run 20211201T023000"), "{err}");
    assert!(err.contains(&format!("pid {}", holder.id())), "{err}");
    assert!(runs(&ws).is_empty());
    // The holder dies: its lock is stale and the next run takes it over.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let o = ok(ws_run(&data, &ws));
    assert!(
        text(&o).contains("took over the stale lock of run 20211201T023000"),
        "{}",
        text(&o)
    );
    assert!(!ws.join("lock").exists(), "released");
    assert_eq!(runs(&ws).len(), 1);

    // Two real runs: the second starts while the first holds the workspace.
    let town = dir.path().join("town");
    ok(qianbiao(&[
        "synth",
        "--persons",
        "5000",
        "--seed",
        "2",
        "--out",
        p(&town),
    ]));
    let mut first = bin()
        .args(["run", "--data", p(&town), "--workspace", p(&ws)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let waited = Instant::now();
    while !ws.join("lock").exists() && waited.elapsed().as_secs() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let second = ws_run(&town, &ws);
    let still_running = first.try_wait().unwrap().is_none();
    assert!(first.wait().unwrap().success());
    // The first run of a 5000-person town works for about a second; the second stops
    // at once.
    assert!(
        still_running,
        "the first run ended before the second was refused"
    );
    let err = exit2(&second);
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");
    assert!(err.contains("held by run 20"), "{err}");
    assert_eq!(runs(&ws).len(), 2, "the second run wrote nothing");
}

fn flip_byte(path: &Path, at: usize) -> Vec<u8> {
    let orig = std::fs::read(path).unwrap();
    let mut b = orig.clone();
    let i = at % b.len();
    b[i] ^= 0x01;
    std::fs::write(path, &b).unwrap();
    orig
}

#[test]
fn verify_names_the_run_and_file_after_any_change() {
    let dir = tempfile::tempdir().unwrap();
    let (data, ws) = (dir.path().join("town"), dir.path().join("ws"));
    synth(&data);
    for _ in 0..3 {
        ok(ws_run(&data, &ws));
    }
    let ids = runs(&ws);
    assert_eq!(ids.len(), 3);
    let o = ok(qianbiao(&["verify", p(&ws)]));
    assert!(text(&o).contains("3 runs"), "{}", text(&o));

    // One byte of every file of every run (manifests included), at several places.
    for run in &ids {
        let mut files: Vec<PathBuf> = std::fs::read_dir(ws.join("runs").join(run))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        assert!(files.len() >= 10);
        for f in files {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            let len = std::fs::metadata(&f).unwrap().len() as usize;
            // Manifests at many places (a changed hash inside must name the manifest).
            let places: Vec<usize> = if name == "manifest.json" {
                (0..len).step_by(len / 12 + 1).collect()
            } else {
                vec![0, 7919, usize::MAX / 3]
            };
            for at in places {
                let orig = flip_byte(&f, at);
                let err = exit2(&qianbiao(&["verify", p(&ws)]));
                assert!(
                    err.contains(&format!("run {run}: {name}:")),
                    "{run}/{name} at {at}: {err}"
                );
                std::fs::write(&f, orig).unwrap();
            }
        }
    }
    ok(qianbiao(&["verify", p(&ws)]));

    // A file added to a run, a file removed.
    let extra = ws.join("runs").join(&ids[1]).join("notes.txt");
    std::fs::write(&extra, "x").unwrap();
    let err = exit2(&qianbiao(&["verify", p(&ws)]));
    assert!(
        err.contains(&format!("run {}: notes.txt:", ids[1])),
        "{err}"
    );
    std::fs::remove_file(&extra).unwrap();
    let gone = ws.join("runs").join(&ids[2]).join("coverage.csv");
    let keep = std::fs::read(&gone).unwrap();
    std::fs::remove_file(&gone).unwrap();
    let err = exit2(&qianbiao(&["verify", p(&ws)]));
    assert!(
        err.contains(&format!("run {}: coverage.csv:", ids[2])),
        "{err}"
    );
    std::fs::write(&gone, keep).unwrap();
    ok(qianbiao(&["verify", p(&ws)]));

    // A run folder removed (the middle one, then the last one).
    let runs_dir = ws.join("runs");
    let aside = dir.path().join("aside");
    std::fs::rename(runs_dir.join(&ids[1]), &aside).unwrap();
    let err = exit2(&qianbiao(&["verify", p(&ws)]));
    assert!(
        err.contains(&format!(
            "run {}: -: recorded in cases.db but missing",
            ids[1]
        )),
        "{err}"
    );
    std::fs::rename(&aside, runs_dir.join(&ids[1])).unwrap();
    std::fs::rename(runs_dir.join(&ids[2]), &aside).unwrap();
    let err = exit2(&qianbiao(&["verify", p(&ws)]));
    assert!(
        err.contains(&format!(
            "run {}: -: recorded in cases.db but missing",
            ids[2]
        )),
        "{err}"
    );
    std::fs::rename(&aside, runs_dir.join(&ids[2])).unwrap();
    ok(qianbiao(&["verify", p(&ws)]));

    // Two run folders swapped (reordered).
    let tmp = runs_dir.join("swap");
    std::fs::rename(runs_dir.join(&ids[0]), &tmp).unwrap();
    std::fs::rename(runs_dir.join(&ids[1]), runs_dir.join(&ids[0])).unwrap();
    std::fs::rename(&tmp, runs_dir.join(&ids[1])).unwrap();
    let err = exit2(&qianbiao(&["verify", p(&ws)]));
    assert!(err.contains(&format!("run {}: run.json:", ids[0])), "{err}");
}

/// A small linear congruential generator: reproducible kill delays without a dependency.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn hashes(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn sigkill_at_random_moments_never_leaves_a_run_that_looks_complete_or_breaks_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let (data, ws) = (dir.path().join("town"), dir.path().join("ws"));
    synth(&data);
    // The first run completes: it must never change afterwards.
    ok(ws_run(&data, &ws));
    let first = runs(&ws)[0].clone();
    // A later run does more (reconcile, diff): time one of those.
    let started = Instant::now();
    ok(ws_run(&data, &ws));
    let full = started.elapsed();
    let first_files = hashes(&ws.join("runs").join(&first));

    let mut rng = Lcg(20211201);
    // At least 50 kills must hit a run still working; a kill that lands after the run
    // ended (a loaded machine runs faster or slower than the timed run) does not count.
    let mut kills = 0;
    let mut killed_mid_run = 0;
    // The run's expected length: the timed run's at first; a run that finished before its
    // kill shows it was shorter, and the estimate moves halfway to that bound. Runs timed
    // while other tests load the machine are slower than those that follow.
    let mut span = full;
    while killed_mid_run < 50 && kills < 200 {
        let i = kills;
        kills += 1;
        // Spread over the whole run and a little past its usual end.
        let delay = span.mul_f64(1.3 * rng.next());
        let before = runs(&ws);
        let mut child = bin()
            .args(["run", "--data", p(&data), "--workspace", p(&ws)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let finished = child.try_wait().unwrap().is_some();
        child.kill().ok(); // SIGKILL
        child.wait().unwrap();
        if finished {
            span = (span + delay) / 2;
        } else {
            killed_mid_run += 1;
        }
        // Whatever is under runs/ verifies: every folder there is a complete run.
        let v = qianbiao(&["verify", p(&ws)]);
        assert_eq!(
            v.status.code(),
            Some(0),
            "kill {i} after {delay:?}: {}",
            text(&v)
        );
        let after = runs(&ws);
        assert!(after.len() <= before.len() + 1, "kill {i}");
        assert_eq!(
            &after[..before.len()],
            &before[..],
            "kill {i}: earlier runs stay"
        );
        for r in &after {
            assert!(
                ws.join("runs").join(r).join("manifest.json").exists(),
                "kill {i}: {r}"
            );
        }
        assert_eq!(
            hashes(&ws.join("runs").join(&first)),
            first_files,
            "kill {i}"
        );
    }
    assert!(
        killed_mid_run >= 50,
        "only {killed_mid_run} of {kills} kills hit a running run"
    );
    let log = std::fs::read_to_string(ws.join("qianbiao.log")).unwrap_or_default();
    eprintln!(
        "{kills} kills over {full:?} runs: {killed_mid_run} mid-run, {} runs completed, \
         {} stale locks taken over, {} runs replayed into cases.db",
        runs(&ws).len() - 2,
        log.matches("took over").count(),
        log.matches("replayed").count()
    );
    // The next run succeeds, records every run, and the workspace verifies.
    let o = ok(ws_run(&data, &ws));
    let _ = text(&o);
    ok(qianbiao(&["verify", p(&ws)]));
    let conn = register::open(&ws.join("cases.db")).unwrap();
    let recorded: Vec<String> = register::recorded_runs(&conn)
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(recorded, runs(&ws));
    assert!(
        std::fs::read_dir(ws.join("tmp")).unwrap().next().is_none(),
        "tmp cleaned"
    );
    assert!(!ws.join("lock").exists());
}

/// Every id number and name of a town's inputs.
fn identifying(town: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(town).unwrap().flatten() {
        let path = e.path();
        if path.extension().and_then(|x| x.to_str()) != Some("csv") {
            continue;
        }
        let mut r = csv::Reader::from_path(&path).unwrap();
        let h = r.headers().unwrap().clone();
        let cols: Vec<usize> = h
            .iter()
            .enumerate()
            .filter(|(_, n)| n.contains("id_number") || *n == "name")
            .map(|(i, _)| i)
            .collect();
        for rec in r.records().flatten() {
            for &c in &cols {
                let v = rec.get(c).unwrap_or("").trim();
                if v.chars().count() >= 2 {
                    out.push(v.to_string());
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn no_id_number_or_name_on_the_terminal_or_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (data, ws) = (dir.path().join("town"), dir.path().join("ws"));
    synth(&data);
    let secrets = identifying(&data);
    assert!(secrets.len() > 300, "{} ids and names", secrets.len());
    let mut seen = String::new();
    let export = dir.path().join("cases.xlsx");
    let masked = dir.path().join("masked.xlsx");
    let bad = dir.path().join("bad.xlsx");
    workbook(&bad, Some("x"), &[["x", "x", "x", "x", "x"]]);
    for args in [
        vec!["run", "--data", p(&data), "--workspace", p(&ws)],
        vec!["run", "--data", p(&data), "--workspace", p(&ws)],
        vec!["verify", p(&ws)],
        vec!["cases", "summary", p(&ws)],
        vec!["cases", "export", p(&ws), "--out", p(&export)],
        vec!["cases", "export", p(&ws), "--out", p(&masked), "--mask"],
        vec!["cases", "import", p(&ws), p(&export)],
        vec!["cases", "import", p(&ws), p(&bad)],
    ] {
        seen += &text(&qianbiao(&args));
    }
    seen += &std::fs::read_to_string(ws.join("qianbiao.log")).unwrap();
    for s in &secrets {
        assert!(
            !seen.contains(s.as_str()),
            "an id or a name was printed or logged"
        );
    }

    // The masked workbook holds no id and no name of the town; the unmasked one does.
    use calamine::Reader;
    let cells = |path: &Path| -> String {
        let mut wb: calamine::Xlsx<_> = calamine::open_workbook(path).unwrap();
        let r = wb.worksheet_range("cases").unwrap();
        r.rows()
            .flat_map(|row| row.iter().map(|c| c.to_string()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let plain = cells(&export);
    assert!(secrets.iter().any(|s| plain.contains(s.as_str())));
    let masked_text = cells(&masked);
    let ids: Vec<&String> = secrets.iter().filter(|s| s.len() >= 15).collect();
    for s in ids {
        assert!(
            !masked_text.contains(s.as_str()),
            "an id in the masked workbook"
        );
    }
    assert!(masked_text.contains("****"), "ids masked, not dropped");
    let names: Vec<&String> = secrets.iter().filter(|s| s.len() < 15).collect();
    for n in names {
        assert!(
            !masked_text.contains(n.as_str()),
            "a name in the masked workbook"
        );
    }
}

#[test]
fn a_run_killed_between_its_rename_and_the_register_commit_is_recorded_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let (data, ws) = (dir.path().join("data"), dir.path().join("ws"));
    let ids = vec![id(1980, 1)];
    let two = |amount: &'static str| Night {
        pays: vec![
            ("T1", 0, "320", "2021-11-01"),
            ("T2", 0, amount, "2021-11-02"),
        ],
    };
    write_town(&data, &ids, &two("320"));
    ok(ws_run(&data, &ws));
    // The state a run leaves when killed after its folder was moved into place and before
    // `latest` and cases.db were updated: the folder, with the old register and latest.
    let db = std::fs::read(ws.join("cases.db")).unwrap();
    let latest = std::fs::read(ws.join("latest")).unwrap();
    write_town(&data, &ids, &two("350"));
    ok(ws_run(&data, &ws));
    std::fs::write(ws.join("cases.db"), db).unwrap();
    std::fs::write(ws.join("latest"), latest).unwrap();
    let v = text(&ok(qianbiao(&["verify", p(&ws)])));
    assert!(v.contains("not yet in cases.db"), "{v}");

    write_town(&data, &ids, &two("400"));
    let o = text(&ok(ws_run(&data, &ws)));
    let r = runs(&ws);
    assert!(
        o.contains(&format!("recorded run {} in cases.db", r[1])),
        "{o}"
    );
    let fa = finding_id("DUP-001", &format!("{}|resident_medical|2022", ids[0]));
    let ch = changes(&ws.join("runs").join(&r[2]), "DUP-001");
    let key = format!("{}|resident_medical|2022", ids[0]);
    assert_eq!(ch[&key], c("changed", "350.00", "400.00", &r[0]));
    let conn = register::open(&ws.join("cases.db")).unwrap();
    let recorded: Vec<String> = register::recorded_runs(&conn)
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(recorded, r);
    let case = register::case(&conn, &fa).unwrap().unwrap();
    assert_eq!(
        (case.first_seen.as_str(), case.amount),
        (r[0].as_str(), qianbiao_core::Fen(40000))
    );
    drop(conn);
    let v = text(&ok(qianbiao(&["verify", p(&ws)])));
    assert!(v.contains("3 runs") && !v.contains("not yet"), "{v}");

    // A register removed: verify names it, and no run builds a new one over the runs.
    std::fs::rename(ws.join("cases.db"), dir.path().join("cases.db")).unwrap();
    let err = exit2(&qianbiao(&["verify", p(&ws)]));
    assert!(err.contains("cases.db: missing"), "{err}");
    let err = exit2(&ws_run(&data, &ws));
    assert!(err.contains("cases.db: missing"), "{err}");
    assert_eq!(runs(&ws), r);
}

#[test]
fn verify_fails_when_every_run_and_the_register_were_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (data, ws) = (dir.path().join("data"), dir.path().join("ws"));
    let ids = vec![id(1980, 2)];
    let night = Night {
        pays: vec![("T1", 0, "320", "2021-11-01")],
    };
    write_town(&data, &ids, &night);
    ok(ws_run(&data, &ws));
    let run = runs(&ws).remove(0);
    ok(qianbiao(&["verify", p(&ws)]));
    std::fs::remove_dir_all(ws.join("runs")).unwrap();
    std::fs::remove_file(ws.join("cases.db")).unwrap();
    let err = exit2(&qianbiao(&["verify", p(&ws)]));
    assert!(err.contains(&run) && err.contains("latest"), "{err}");
    // A workspace that never ran holds.
    let fresh = dir.path().join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    ok(qianbiao(&["verify", p(&fresh)]));
}

#[test]
fn a_partitioned_night_and_a_night_in_memory_see_the_same_findings() {
    // A nightly cron with a memory limit may split one night and not the next: the
    // second night must see every finding as persisting, none new, changed or resolved,
    // and the chain of manifests must hold.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ws = dir.path().join("ws");
    synth(&data);
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--data", p(&data), "--workspace", p(&ws)];
        args.extend_from_slice(extra);
        ok(qianbiao(&args))
    };
    run(&["--partitions", "3"]);
    run(&["--partitions", "1"]);
    let nights = runs(&ws);
    assert_eq!(nights.len(), 2);
    let second =
        std::fs::read_to_string(ws.join("runs").join(&nights[1]).join("changes.csv")).unwrap();
    let kinds: Vec<&str> = second
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(3).unwrap_or(""))
        .collect();
    assert!(!kinds.is_empty());
    assert!(kinds.iter().all(|k| *k == "persisting"), "{kinds:?}");
    let first = ws.join("runs").join(&nights[0]);
    for f in [
        "findings.csv",
        "collectors.csv",
        "coverage.csv",
        "rejected.csv",
    ] {
        assert_eq!(
            std::fs::read(first.join(f)).unwrap(),
            std::fs::read(ws.join("runs").join(&nights[1]).join(f)).unwrap(),
            "{f}"
        );
    }
    let verify = ok(qianbiao(&["verify", p(&ws)]));
    assert!(text(&verify).contains("ok"), "{}", text(&verify));
    // Nothing of the spill is left in the workspace.
    let left: Vec<String> = std::fs::read_dir(&ws)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".qianbiao"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A resolved finding's detail is the previous run's, which may quote ids and names
/// tonight's inputs no longer hold: a `--mask` night shares none of them (`operations.md`:
/// masked "in every output meant for reading"): keys are masked with the previous
/// findings' ids too, and a resolved detail is replaced by a note.
#[test]
fn a_masked_night_masks_what_resolved_findings_quote() {
    let dir = tempfile::tempdir().unwrap();
    let (data, ws) = (dir.path().join("town"), dir.path().join("ws"));
    let ids = [id(1980, 1)];
    let night = Night {
        pays: vec![("T1", 0, "320", "2021-11-05")],
    };
    write_town(&data, &ids, &night);
    // A payment named otherwise than hukou (DQ-002 quotes the name) and one with a short
    // invalid id (DQ-001 quotes it): neither is in the next night's inputs.
    let pays = std::fs::read_to_string(data.join("payments.csv")).unwrap();
    std::fs::write(
        data.join("payments.csv"),
        format!(
            "{pays}T2,{},欧阳锋锐,resident_pension,2022,300,2021-11-06\n\
             T3,37990119760907,,resident_pension,2022,300,2021-11-06\n",
            ids[0]
        ),
    )
    .unwrap();
    ok(ws_run(&data, &ws));
    write_town(&data, &ids, &night);
    ok(qianbiao(&[
        "run",
        "--data",
        p(&data),
        "--workspace",
        p(&ws),
        "--mask",
    ]));
    let last = ws.join("runs").join(runs(&ws).last().unwrap());
    let resolved = changes(&last, "DQ-002");
    assert_eq!(resolved.values().next().unwrap().0, "resolved");
    assert_eq!(
        changes(&last, "DQ-001").values().next().unwrap().0,
        "resolved"
    );
    let csv = std::fs::read_to_string(last.join("changes.csv")).unwrap();
    let html = std::fs::read_to_string(last.join("report.html")).unwrap();
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook(last.join("findings.xlsx")).unwrap();
    let mut sheets = String::new();
    for name in wb.sheet_names() {
        let r = wb.worksheet_range(&name).unwrap();
        for row in r.rows() {
            for c in row {
                sheets += &c.to_string();
                sheets.push('\n');
            }
        }
    }
    for (what, text) in [
        ("changes.csv", &csv),
        ("report.html", &html),
        ("findings.xlsx", &sheets),
    ] {
        for secret in ["欧阳锋锐", "37990119760907", ids[0].as_str()] {
            assert!(!text.contains(secret), "{secret} in {what}");
        }
    }
    assert!(csv.contains(qianbiao_engine::RESOLVED_MASKED), "{csv}");
}

/// A decision is recorded on the finding the reviewer saw: the amount and evidence of the
/// run the workbook was exported after. A case cleared on 320 that a later run raised to
/// 350 before the import reopens on the next run (`operations.md`: "cleared with the same
/// amount and evidence").
#[test]
fn a_decision_binds_to_the_exported_amount() {
    let dir = tempfile::tempdir().unwrap();
    let (data, ws) = (dir.path().join("data"), dir.path().join("ws"));
    let ids = vec![id(1980, 1)];
    let fa = finding_id("DUP-001", &format!("{}|resident_medical|2022", ids[0]));
    let night = |second: &'static str| Night {
        pays: vec![
            ("T1", 0, "320", "2021-11-01"),
            ("T2", 0, second, "2021-11-02"),
        ],
    };
    write_town(&data, &ids, &night("320"));
    ok(ws_run(&data, &ws));
    let r1 = runs(&ws)[0].clone();
    let conn = register::open(&ws.join("cases.db")).unwrap();
    let wsid = register::workspace_id(&conn).unwrap();
    drop(conn);
    // Exported after run 1 (320), filled in while run 2 raises it to 350, imported after.
    let wb = dir.path().join("cases.xlsx");
    workbook_of_run(
        &wb,
        Some(&wsid),
        Some(&r1),
        &[[&fa, "cleared", "", "李审", "同一笔缴费导出两次"]],
    );
    write_town(&data, &ids, &night("350"));
    ok(ws_run(&data, &ws));
    ok(qianbiao(&["cases", "import", p(&ws), p(&wb)]));
    let status = |ws: &Path| {
        let conn = register::open(&ws.join("cases.db")).unwrap();
        register::case(&conn, &fa).unwrap().unwrap().status
    };
    assert_eq!(status(&ws), register::Status::Cleared);
    ok(ws_run(&data, &ws));
    assert_eq!(
        status(&ws),
        register::Status::Open,
        "reopened: cleared on 320, now 350"
    );

    // Cleared on what the reviewer saw, it stays cleared.
    let ws2 = dir.path().join("ws2");
    ok(ws_run(&data, &ws2));
    let r = runs(&ws2)[0].clone();
    let conn = register::open(&ws2.join("cases.db")).unwrap();
    let wsid2 = register::workspace_id(&conn).unwrap();
    drop(conn);
    workbook_of_run(
        &wb,
        Some(&wsid2),
        Some(&r),
        &[[&fa, "cleared", "", "李审", "同一笔缴费导出两次"]],
    );
    ok(qianbiao(&["cases", "import", p(&ws2), p(&wb)]));
    ok(ws_run(&data, &ws2));
    assert_eq!(status(&ws2), register::Status::Cleared);
}

/// An entry under `WS/runs/` that is no run (a file browser's `.DS_Store`) does not stop
/// the next run; `verify` still names it.
#[test]
fn a_stray_file_among_the_runs_does_not_stop_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let (data, ws) = (dir.path().join("data"), dir.path().join("ws"));
    let ids = vec![id(1980, 1)];
    let night = Night {
        pays: vec![
            ("T1", 0, "320", "2021-11-01"),
            ("T2", 0, "320", "2021-11-02"),
        ],
    };
    write_town(&data, &ids, &night);
    ok(ws_run(&data, &ws));
    std::fs::write(ws.join("runs").join(".DS_Store"), b"\0\0\0\x01Bud1").unwrap();
    ok(ws_run(&data, &ws));
    let real: Vec<String> = runs(&ws)
        .into_iter()
        .filter(|r| !r.starts_with('.'))
        .collect();
    assert_eq!(real.len(), 2, "{real:?}");
    let err = exit2(&qianbiao(&["verify", p(&ws)]));
    assert!(err.contains(".DS_Store"), "{err}");
}

/// The XML of a part of a workbook (`xl/worksheets/sheet1.xml`, `xl/styles.xml`).
fn workbook_part(path: &Path, part: &str) -> String {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut xml = String::new();
    zip.by_name(part).unwrap().read_to_string(&mut xml).unwrap();
    xml
}

#[test]
fn the_cases_workbook_shows_every_id_whole_wraps_details_and_prints_one_page_wide() {
    // Rendered through LibreOffice, the sample town's 80 cases printed as 14 portrait
    // pages of two columns each, the finding_id (24 characters) cut in a 22-wide column.
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/dianzi-2022");
    ok(ws_run(&data, &ws));
    let export = dir.path().join("cases.xlsx");
    ok(qianbiao(&["cases", "export", p(&ws), "--out", p(&export)]));
    let xml = workbook_part(&export, "xl/worksheets/sheet1.xml");
    // Every column top-aligned (style 2), the finding_id's wide enough for its 24
    // characters.
    assert!(
        xml.contains(r#"<col min="1" max="1" width="26.7109375" style="2" customWidth="1"/>"#),
        "{xml}"
    );
    // The bilingual headers wrap in a taller header row (`本次变化 change` in 10
    // characters: three lines).
    assert!(
        xml.contains(r#"<row r="1" spans="1:15" ht="51" customHeight="1">"#),
        "{xml}"
    );
    // Most of the sample's details are longer than their 40-character column: wrapped,
    // in rows as tall as their lines.
    let styles = workbook_part(&export, "xl/styles.xml");
    let xfs = &styles[styles.find("<cellXfs").unwrap()..styles.find("</cellXfs>").unwrap()];
    let wrapped: Vec<usize> = xfs
        .split("<xf ")
        .skip(1)
        .enumerate()
        .filter(|(_, xf)| xf.contains(r#"vertical="top" wrapText="1""#))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(wrapped.len(), 1, "{xfs}");
    let wrapped_details = xml
        .matches(&format!(r#"s="{}" t="s">"#, wrapped[0]))
        .count();
    let tall = xml.matches(r#" customHeight="1">"#).count();
    assert!(
        wrapped_details > 40,
        "{wrapped_details} cells wrapped: {xml}"
    );
    assert!(
        tall > 40,
        "{tall} rows sized for their wrapped lines: {xml}"
    );
    assert!(xml.contains(r#"<pageSetUpPr fitToPage="1"/>"#), "{xml}");
    assert!(
        xml.contains(r#"<pageSetup paperSize="8" fitToHeight="0" orientation="landscape""#),
        "{xml}"
    );
    // Still the reviewers' workbook: imported unchanged, it records nothing.
    let o = ok(qianbiao(&["cases", "import", p(&ws), p(&export)]));
    assert!(text(&o).contains("0 decisions"), "{}", text(&o));
}
