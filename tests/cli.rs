//! The binary end to end: exit codes and one-line errors, outputs, determinism, and the
//! committed sample town against its truth.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn qianbiao(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qianbiao"))
        .args(args)
        .output()
        .expect("binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A minimal valid data folder: one resident, one payment.
fn minimal(dir: &Path) {
    std::fs::write(
        dir.join("hukou.csv"),
        "id_number,name,village\n11010519491231002X,王涛,店子村\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("payments.csv"),
        "txn_id,id_number,scheme,period,amount,paid_at\nT1,11010519491231002X,医疗,2022,320,2021-11-05\n",
    )
    .unwrap();
}

fn run_on(data: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    qianbiao(&args)
}

fn assert_exit_2(o: &Output, needles: &[&str]) {
    assert_eq!(o.status.code(), Some(2), "stderr: {}", stderr(o));
    let err = stderr(o);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err:?}");
    }
}

#[test]
fn a_scheduler_refuses_an_executor_timeout_below_a_busy_executors_poll() {
    // A busy executor asks for work (its heartbeat) every 5 s: a shorter timeout would
    // take every executor running a long task as lost.
    let o = qianbiao(&["scheduler", "--executor-timeout", "4"]);
    assert_exit_2(&o, &["--executor-timeout", "10"]);
}

#[test]
fn missing_required_source_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    minimal(dir.path());
    std::fs::remove_file(dir.path().join("hukou.csv")).unwrap();
    assert_exit_2(
        &run_on(dir.path(), &dir.path().join("out"), &[]),
        &["hukou"],
    );
}

#[test]
fn missing_required_column_exits_2_naming_file_and_column() {
    let dir = tempfile::tempdir().unwrap();
    minimal(dir.path());
    std::fs::write(
        dir.path().join("payments.csv"),
        "txn_id,id_number,scheme,period,paid_at\nT1,11010519491231002X,医疗,2022,2021-11-05\n",
    )
    .unwrap();
    assert_exit_2(
        &run_on(dir.path(), &dir.path().join("out"), &[]),
        &["payments.csv", "amount"],
    );
}

#[test]
fn unreadable_file_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    minimal(dir.path());
    std::fs::write(dir.path().join("deaths.xlsx"), b"not a zip").unwrap();
    assert_exit_2(
        &run_on(dir.path(), &dir.path().join("out"), &[]),
        &["deaths.xlsx"],
    );
}

#[test]
fn bad_pipeline_exits_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    minimal(dir.path());
    let text = qianbiao_core_pipeline().replace(
        "deposit_deadline_days = 3",
        "deposit_deadline_days = \"three\"",
    );
    let p = dir.path().join("bad.toml");
    std::fs::write(&p, text).unwrap();
    let o = run_on(
        dir.path(),
        &dir.path().join("out"),
        &["--pipeline", p.to_str().unwrap()],
    );
    assert_exit_2(&o, &["bad.toml", "deposit_deadline_days"]);
}

#[test]
fn bad_as_of_and_missing_data_dir_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    minimal(dir.path());
    assert_exit_2(
        &run_on(dir.path(), &dir.path().join("out"), &["--as-of", "soon"]),
        &["--as-of"],
    );
    let missing = dir.path().join("nowhere");
    assert_exit_2(
        &run_on(&missing, &dir.path().join("out"), &[]),
        &["nowhere"],
    );
}

fn qianbiao_core_pipeline() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/dianzi-2022.toml"),
    )
    .unwrap()
}

#[test]
fn run_writes_every_output() {
    let dir = tempfile::tempdir().unwrap();
    minimal(dir.path());
    let out = dir.path().join("out");
    let o = run_on(dir.path(), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "findings.csv",
        "findings.parquet",
        "findings.xlsx",
        "rejected.csv",
        "manifest.json",
        "collectors.csv",
        "coverage.csv",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["as_of"], "2021-11-05");
    assert_eq!(m["policy"]["year"], 2022);
    assert_eq!(m["rows"]["read"], 2);
    let skipped: Vec<&str> = m["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "skipped")
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    // No deaths, eligibility, registrations, receipts, deposits or roster; as_of in the window.
    assert!(
        skipped.contains(&"DTH-004")
            && skipped.contains(&"MNY-001")
            && skipped.contains(&"COV-001")
    );
    assert!(!skipped.contains(&"DTH-001"));
}

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/dianzi-2022")
}

/// `(rule, key, amount)` rows of a CSV with those columns (BOM tolerated).
fn triples(path: &Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut r = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (ri, ki, ai) = (col("rule"), col("key"), col("amount"));
    let mut v: Vec<(String, String, String)> = r
        .records()
        .map(|x| {
            let x = x.unwrap();
            (
                x[ri].to_string(),
                x[ki].trim_start_matches('\'').to_string(),
                x[ai].to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn sample_town_matches_its_truth_and_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    // The README's command: the built-in pipeline over the committed sample data.
    let o = qianbiao(&["run", "--out", a.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run_on(&sample_dir(), &b, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "findings.csv",
        "findings.parquet",
        "findings.xlsx",
        "collectors.csv",
        "coverage.csv",
        "rejected.csv",
    ] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs"
        );
    }
    assert_eq!(
        triples(&a.join("findings.csv")),
        triples(&sample_dir().join("truth.csv"))
    );
}

#[test]
fn partition_options_are_checked_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    minimal(dir.path());
    let out = dir.path().join("out");
    assert_exit_2(
        &run_on(dir.path(), &out, &["--memory-limit", "lots"]),
        &["--memory-limit", "lots"],
    );
    assert_exit_2(
        &run_on(dir.path(), &out, &["--partitions", "0"]),
        &["--partitions"],
    );
    // Masking needs every id and name of the run at once.
    assert_exit_2(
        &run_on(dir.path(), &out, &["--partitions", "3", "--mask"]),
        &["--mask", "--partitions 1"],
    );
    assert!(!out.join("manifest.json").exists());
}

/// A limit that only the size estimate exceeds (the rows give one partition) lets a
/// masked run go on, in memory; it used to be refused before the rows were counted.
#[test]
fn a_masked_run_whose_rows_fit_one_partition_runs_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    minimal(dir.path());
    // A second payment of the same person, scheme and period: DUP-001 keys the id.
    std::fs::write(
        dir.path().join("payments.csv"),
        "txn_id,id_number,scheme,period,amount,paid_at
         T1,11010519491231002X,医疗,2022,320,2021-11-05
         T2,11010519491231002X,医疗,2022,320,2021-11-06
",
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = run_on(dir.path(), &out, &["--memory-limit", "1MiB", "--mask"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["partitions"]["count"], 1, "{}", m["partitions"]);
    let findings = std::fs::read_to_string(out.join("findings.csv")).unwrap();
    assert!(findings.contains("DUP-001"), "{findings}");
    assert!(findings.contains("110105********002X"), "{findings}");
    assert!(!findings.contains("11010519491231002X"), "{findings}");
    assert!(!findings.contains("王涛"), "{findings}");
    let spills: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".qianbiao"))
        .collect();
    assert!(spills.is_empty(), "{spills:?}");
}

#[test]
fn a_partitioned_run_writes_what_the_run_in_memory_writes_and_leaves_no_spill() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one");
    let three = dir.path().join("three");
    let tiny = dir.path().join("tiny");
    // A spill folder of a killed run (no such process) is removed by the next run.
    std::fs::create_dir_all(three.join(".qianbiao-spill-999999999")).unwrap();
    for (out, extra) in [
        (&one, &["--partitions", "1"][..]),
        (&three, &["--partitions", "3"][..]),
        // Far below what the sample takes in memory: partitioned by the limit.
        (&tiny, &["--memory-limit", "1MiB"][..]),
    ] {
        let o = run_on(&sample_dir(), out, extra);
        assert!(o.status.success(), "{}", stderr(&o));
        let left: Vec<String> = std::fs::read_dir(out)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(left.is_empty(), "{left:?} left in {}", out.display());
    }
    let manifest = |out: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap()
    };
    assert_eq!(manifest(&one)["partitions"]["count"], 1);
    assert_eq!(manifest(&three)["partitions"]["count"], 3);
    let rows: u64 = manifest(&three)["partitions"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_u64().unwrap())
        .sum();
    assert_eq!(
        rows,
        manifest(&one)["partitions"]["rows"][0].as_u64().unwrap()
    );
    // The 1MiB run went the partitioned way: it has a split stage.
    assert!(manifest(&tiny)["timings_ms"]["split"].is_u64());
    // Each run is its own process: the peak of each stage is measured (on Linux, where
    // /proc tells it), none above the process's, which is the kernel's own mark.
    if cfg!(target_os = "linux") {
        for (m, stages) in [
            (manifest(&one), &["load", "rules", "write"][..]),
            (
                manifest(&tiny),
                &[
                    "keys",
                    "keys_resolve",
                    "keys_link",
                    "keys_buckets",
                    "split",
                    "buckets",
                    "merge",
                    "write",
                ][..],
            ),
        ] {
            let peaks = m["peak_rss_mib"].as_object().expect("peak_rss_mib");
            let process = peaks["process"].as_u64().unwrap();
            assert!(process > 0, "{peaks:?}");
            for s in stages {
                let p = peaks[*s]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{s}: {peaks:?}"));
                assert!(p > 0 && p <= process, "{s}: {peaks:?}");
            }
            assert_eq!(peaks.len(), stages.len() + 1, "{peaks:?}");
        }
    }
    assert!(
        manifest(&tiny)["partitions"]["spill_bytes"]
            .as_u64()
            .unwrap()
            > 0
    );
    for f in [
        "findings.csv",
        "rejected.csv",
        "collectors.csv",
        "coverage.csv",
    ] {
        let a = std::fs::read(one.join(f)).unwrap();
        assert_eq!(a, std::fs::read(three.join(f)).unwrap(), "{f}, K = 3");
        assert_eq!(a, std::fs::read(tiny.join(f)).unwrap(), "{f}, 1MiB");
    }
}

/// A reader that stops reading (`qianbiao rules | head -1`) ends the command quietly:
/// exit 0, no panic (Rust ignores SIGPIPE, so a write to a closed pipe is an error).
#[test]
fn a_closed_pipe_on_standard_output_is_not_a_panic() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = Command::new(env!("CARGO_BIN_EXE_qianbiao"))
        .arg("rules")
        .stdout(writer)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}

/// A command line the parser refuses is one line on stderr and exit 2, as every failure
/// to run; help still prints whole (exit 0).
#[test]
fn a_bad_command_line_is_one_line_and_exit_2() {
    for args in [
        &["run", "--bogus"][..],
        &["run", "--partitions", "-1"],
        &["run", "--as-of", "2021-11-05", "--as-of", "2021-11-06"],
        &["run", "--out", "o", "--workspace", "w"],
        &["nonsense"],
        &[],
    ] {
        let o = qianbiao(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert_eq!(
            stderr(&o).trim_end().lines().count(),
            1,
            "{args:?}: {}",
            stderr(&o)
        );
        assert!(
            stderr(&o).starts_with("qianbiao: error: "),
            "{}",
            stderr(&o)
        );
    }
    let o = qianbiao(&["run", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("--data"));
}

/// A partitioned run stopped by SIGTERM removes its spill folder before it exits; one
/// killed outright leaves it to the next run in the same folder, in memory or not.
#[test]
fn a_stopped_partitioned_run_leaves_no_spill_folder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("town");
    let o = qianbiao(&[
        "synth",
        "--persons",
        "20000",
        "--seed",
        "3",
        "--out",
        data.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("out");
    let spills = |out: &Path| -> Vec<String> {
        std::fs::read_dir(out)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(".qianbiao-spill-"))
                    .collect()
            })
            .unwrap_or_default()
    };
    for signal in [libc::SIGTERM, libc::SIGKILL] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_qianbiao"))
            .args(["run", "--data", data.to_str().unwrap(), "--out"])
            .arg(&out)
            .args(["--partitions", "5"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Wait for the spill folder, then stop the run.
        let started = std::time::Instant::now();
        while spills(&out).is_empty() && started.elapsed().as_secs() < 120 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(!spills(&out).is_empty(), "the run made its spill folder");
        let pid = child.id() as i32;
        let status = Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let code = child.wait().unwrap();
        if signal == libc::SIGTERM {
            assert_eq!(code.code(), Some(128 + libc::SIGTERM), "{code:?}");
            assert!(spills(&out).is_empty(), "{:?}", spills(&out));
        } else {
            assert!(!spills(&out).is_empty(), "SIGKILL leaves it");
            // The next run, in memory, removes it.
            let o = run_on(&data, &out, &[]);
            assert!(o.status.success(), "{}", stderr(&o));
            assert!(spills(&out).is_empty(), "{:?}", spills(&out));
        }
    }
}

/// An error that prints its cause is said once: `--out` naming a file.
#[test]
fn an_error_names_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    minimal(dir.path());
    let file = dir.path().join("afile");
    std::fs::write(&file, "x").unwrap();
    let o = run_on(dir.path(), &file, &[]);
    assert_exit_2(&o, &["afile"]);
    let err = stderr(&o);
    let cause = err.rsplit(": ").next().unwrap().trim();
    assert_eq!(err.matches(cause).count(), 1, "{err}");
}
