//! Byte-identical outputs across engine rewrites (issue 8, "Must hold").
//!
//! Each case runs the engine on a town and hashes `findings.csv`, `findings.parquet`,
//! `rejected.csv`, `collectors.csv`, `coverage.csv` and the manifest's counts (the manifest
//! without timings, paths and output hashes). The hashes were taken with the row-based
//! engine before the columnar core replaced it, and every later engine must reproduce
//! them exactly: `tests/golden/CASE.txt`.
//!
//! A partitioned run (`--partitions K`) must reproduce the same hashes: every case also
//! runs with K = 2 and K = 7 (issue 9, "The same answers").
//!
//! A deliberate change of an output (a spec change, never a refactor) re-blesses the
//! file with `QIANBIAO_BLESS_GOLDEN=1 cargo test --test golden`, and the commit says why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use qianbiao_core::policy::{Pipeline, DIANZI_2022};
use serde_json::Value;

const GOLDEN: &str = "tests/golden";
const FILES: [&str; 5] = [
    "findings.csv",
    "findings.parquet",
    "rejected.csv",
    "collectors.csv",
    "coverage.csv",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The manifest's counts: everything but timings, the data path, the outputs' hashes
/// (the XLSX and HTML carry no counts of their own) and the partition layout (how the run
/// was split, not what it found).
fn manifest_counts(mut m: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(o) => {
                o.remove("millis");
                o.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    if let Value::Object(o) = &mut m {
        for k in [
            "data",
            "timings_ms",
            "peak_rss_mib",
            "outputs",
            "previous_manifest_sha256",
            "partitions",
        ] {
            o.remove(k);
        }
    }
    strip(&mut m);
    m
}

fn hashes(data: &Path, out: &Path, partitions: usize) -> BTreeMap<String, String> {
    hashes_with(data, out, partitions, None)
}

/// The hashes of a run whose buckets are checked by `runner` (None: on this machine).
fn hashes_with(
    data: &Path,
    out: &Path,
    partitions: usize,
    runner: Option<&dyn qianbiao_engine::BucketRunner>,
) -> BTreeMap<String, String> {
    let summary = qianbiao_engine::run(&qianbiao_engine::RunOptions {
        data: data.to_path_buf(),
        out: out.to_path_buf(),
        pipeline: Pipeline::from_toml(DIANZI_2022).unwrap(),
        pipeline_source: "golden".into(),
        as_of: None,
        progress: None,
        mask: false,
        partitioning: qianbiao_engine::Partitioning::Partitions(partitions),
        runner,
    })
    .unwrap_or_else(|e| panic!("{}: {e}", data.display()));
    output_hashes(out, summary.manifest, partitions)
}

/// The hashes of the outputs in `out` and of the manifest's counts; checks the partition
/// count and that no spill or staging folder was left.
fn output_hashes(out: &Path, manifest: Value, partitions: usize) -> BTreeMap<String, String> {
    let parts = &manifest["partitions"];
    assert_eq!(parts["count"], partitions, "{}", out.display());
    assert!(
        std::fs::read_dir(out)
            .unwrap()
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().starts_with(".qianbiao")),
        "a spill or staging folder was left in {}",
        out.display()
    );
    let mut h = BTreeMap::new();
    for f in FILES {
        let bytes = std::fs::read(out.join(f)).unwrap();
        h.insert(f.to_string(), qianbiao_engine::sha256_hex(&bytes));
    }
    let counts = serde_json::to_vec(&manifest_counts(manifest)).unwrap();
    h.insert(
        "manifest-counts".into(),
        qianbiao_engine::sha256_hex(&counts),
    );
    h
}

fn synth(dir: &Path, persons: usize, seed: u64, dirty: bool, parquet: bool) -> PathBuf {
    let data = dir.join("data");
    qianbiao_synth::generate(&qianbiao_synth::SynthOptions {
        persons,
        seed,
        out: data.clone(),
        dirty,
        format: if parquet {
            qianbiao_synth::Format::Parquet
        } else {
            qianbiao_synth::Format::Csv
        },
        town_persons: qianbiao_synth::TOWN_PERSONS,
    })
    .unwrap();
    data
}

/// Per number of partitions, the hashes of a case.
fn case_hashes(case: &str, partitions: &[usize]) -> Vec<(usize, BTreeMap<String, String>)> {
    let dir = tempfile::tempdir().unwrap();
    let data = case_data(case, dir.path());
    partitions
        .iter()
        .map(|&k| (k, hashes(&data, &dir.path().join(format!("out-{k}")), k)))
        .collect()
}

/// The data folder of a case: the sample town, or a synth town written under `dir`.
fn case_data(case: &str, dir: &Path) -> PathBuf {
    match case {
        "sample" => root().join("sample-data/dianzi-2022"),
        _ => {
            // synth-P-SEED-clean|dirty-csv|parquet
            let parts: Vec<&str> = case.split('-').collect();
            let persons: usize = parts[1].parse().unwrap();
            let seed: u64 = parts[2].parse().unwrap();
            synth(
                dir,
                persons,
                seed,
                parts[3] == "dirty",
                parts[4] == "parquet",
            )
        }
    }
}

/// The hashes of `got` against the golden file of `case`: what differs, as lines.
fn differences(case: &str, label: &str, got: &BTreeMap<String, String>) -> Vec<String> {
    let want = golden(case);
    assert_eq!(want.len(), FILES.len() + 1, "{case}: golden hashes missing");
    let mut wrong = Vec::new();
    for (file, hash) in got {
        match want.get(file) {
            Some(w) if w == hash => {}
            Some(w) => wrong.push(format!("{case} {label} {file}: {hash}, golden {w}")),
            None => wrong.push(format!("{case} {label} {file}: no golden hash")),
        }
    }
    wrong
}

/// The golden hashes of a case: `tests/golden/CASE.txt`, lines `file sha256`.
fn golden_path(case: &str) -> PathBuf {
    root().join(GOLDEN).join(format!("{case}.txt"))
}

fn golden(case: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(golden_path(case)).unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (file, hash) = l.split_once(' ').unwrap();
            (file.to_string(), hash.trim().to_string())
        })
        .collect()
}

fn check(cases: &[&str], partitions: &[usize]) {
    let bless = std::env::var_os("QIANBIAO_BLESS_GOLDEN").is_some();
    let mut wrong = Vec::new();
    for case in cases {
        let runs = case_hashes(case, if bless { &[1] } else { partitions });
        if bless {
            let got = &runs[0].1;
            let mut text = String::from(
                "# file sha256: outputs of the row-based engine that every rewrite must reproduce (tests/golden.rs)\n",
            );
            for (file, hash) in got {
                text.push_str(&format!("{file} {hash}\n"));
            }
            std::fs::create_dir_all(root().join(GOLDEN)).unwrap();
            std::fs::write(golden_path(case), text).unwrap();
            continue;
        }
        for (k, got) in runs {
            wrong.extend(differences(case, &format!("K={k}"), &got));
        }
    }
    assert!(wrong.is_empty(), "outputs changed:\n{}", wrong.join("\n"));
}

#[test]
fn sample_town_is_byte_identical() {
    check(&["sample"], &[1, 2, 7]);
}

#[test]
fn synth_towns_clean_and_dirty_are_byte_identical() {
    check(
        &[
            "synth-1500-1-clean-csv",
            "synth-1500-2-clean-csv",
            "synth-1500-3-clean-csv",
            "synth-1500-1-dirty-csv",
            "synth-1500-2-dirty-csv",
            "synth-1500-3-dirty-csv",
            "synth-1500-2-clean-parquet",
        ],
        &[1, 2, 7],
    );
}

#[test]
fn a_100k_town_is_byte_identical() {
    check(&["synth-100000-1-clean-parquet"], &[1, 3]);
}

/// Rewrites every Parquet file under `data` in row groups of `rows` rows.
fn regroup(data: &Path, rows: usize) {
    use polars::prelude::{ParquetReader, ParquetWriter, SerReader};
    for e in std::fs::read_dir(data).unwrap().flatten() {
        let path = e.path();
        if path.is_dir() {
            regroup(&path, rows);
        } else if path.extension().is_some_and(|x| x == "parquet") {
            let mut df = ParquetReader::new(std::fs::File::open(&path).unwrap())
                .finish()
                .unwrap();
            ParquetWriter::new(std::fs::File::create(&path).unwrap())
                .with_row_group_size(Some(rows))
                .finish(&mut df)
                .unwrap();
        }
    }
}

/// A synth town in Parquet, its files in row groups of 64 rows, that a task size of 100
/// rows cuts into pieces (asserted: the test would prove nothing otherwise).
fn town_in_row_groups(dir: &Path, seed: u64, dirty: bool) -> PathBuf {
    let data = synth(dir, 1500, seed, dirty, true);
    regroup(&data, 64);
    let (_, plan) = qianbiao_ingest::plan(&data).unwrap();
    let files: Vec<qianbiao_engine::InputFile> = plan
        .into_iter()
        .flat_map(|(source, files)| {
            files
                .into_iter()
                .map(move |(path, rel)| qianbiao_engine::InputFile { source, path, rel })
        })
        .collect();
    let pieces = qianbiao_engine::pieces_of(&files, Some(PIECE_ROWS));
    assert!(
        pieces.len() >= files.len() + 10,
        "{} files in only {} pieces",
        files.len(),
        pieces.len()
    );
    data
}

/// The task size of the tests of pieces.
const PIECE_ROWS: u64 = 100;

/// Issue 14: a large Parquet file is read and split in pieces of row groups, a task
/// each. The outputs must be those of the files read whole: the same findings, rejected
/// rows (lines in the file, in order) and manifest counts (each file's rows and lines, and
/// its hash, taken once).
#[test]
fn parquet_files_read_in_pieces_of_row_groups_give_the_outputs_of_the_whole_files() {
    let runner = qianbiao_engine::LocalRunner {
        task_rows: Some(PIECE_ROWS),
    };
    for (seed, dirty) in [(2, false), (3, true)] {
        let dir = tempfile::tempdir().unwrap();
        let data = town_in_row_groups(dir.path(), seed, dirty);
        let whole = hashes(&data, &dir.path().join("whole"), 1);
        let pieces = hashes_with(&data, &dir.path().join("pieces"), 3, Some(&runner));
        assert_eq!(whole, pieces, "seed {seed}, dirty {dirty}");
        if dirty {
            // Rejected rows of several pieces, in the order of their lines.
            let rejected = std::fs::read_to_string(dir.path().join("pieces/rejected.csv")).unwrap();
            assert!(rejected.lines().count() > 20, "{rejected}");
        } else {
            // The row groups change the files' bytes (their hashes, in the manifest), not
            // what the run finds in them.
            let wrong: Vec<String> = differences("synth-1500-2-clean-parquet", "pieces", &pieces)
                .into_iter()
                .filter(|d| !d.contains("manifest-counts"))
                .collect();
            assert!(wrong.is_empty(), "outputs changed:\n{}", wrong.join("\n"));
        }
    }
}

/// The same golden outputs from a Ballista cluster (issue 14, "The same answers" and
/// "Faults"): the standalone cluster inside the test, and a scheduler with two executor
/// processes on loopback.
#[cfg(feature = "cluster")]
mod cluster {
    use super::*;
    use std::net::TcpListener;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    const CASES: [&str; 5] = [
        "sample",
        "synth-1500-1-clean-csv",
        "synth-1500-1-dirty-csv",
        "synth-1500-2-dirty-csv",
        "synth-1500-2-clean-parquet",
    ];

    #[test]
    fn the_standalone_cluster_gives_the_golden_outputs() {
        let runner =
            qianbiao_distributed::BallistaRunner::new(qianbiao_distributed::Cluster::Standalone);
        let mut wrong = Vec::new();
        for case in CASES {
            let dir = tempfile::tempdir().unwrap();
            let data = case_data(case, dir.path());
            for k in [1, 3] {
                let got = hashes_with(
                    &data,
                    &dir.path().join(format!("out-{k}")),
                    k,
                    Some(&runner),
                );
                wrong.extend(differences(case, &format!("standalone K={k}"), &got));
            }
        }
        assert!(wrong.is_empty(), "outputs changed:\n{}", wrong.join("\n"));
    }

    /// A Parquet file in pieces of row groups, a task each, on the standalone cluster:
    /// the outputs of the run on one machine reading the files whole.
    #[test]
    fn the_standalone_cluster_reads_parquet_files_in_pieces_with_the_same_answers() {
        let runner =
            qianbiao_distributed::BallistaRunner::new(qianbiao_distributed::Cluster::Standalone)
                .with_task_rows(Some(PIECE_ROWS));
        let dir = tempfile::tempdir().unwrap();
        let data = town_in_row_groups(dir.path(), 3, true);
        let whole = hashes(&data, &dir.path().join("whole"), 1);
        let got = hashes_with(&data, &dir.path().join("cluster"), 3, Some(&runner));
        assert_eq!(whole, got);
    }

    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// Processes killed when the test ends, however it ends.
    struct Processes(Vec<Child>);

    impl Drop for Processes {
        fn drop(&mut self) {
            for c in &mut self.0 {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }

    fn qianbiao() -> Command {
        Command::new(env!("CARGO_BIN_EXE_qianbiao"))
    }

    /// A scheduler on loopback, listening: its port and its process.
    fn start_scheduler() -> (u16, Processes) {
        let port = free_port();
        let scheduler = qianbiao()
            .args([
                "scheduler",
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .args(["--executor-timeout", "10"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let procs = Processes(vec![scheduler]);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(60), "no scheduler");
            std::thread::sleep(Duration::from_millis(100));
        }
        (port, procs)
    }

    /// `qianbiao executor` for the scheduler on `port`, on free ports of loopback.
    fn executor(port: u16) -> Command {
        let mut c = qianbiao();
        c.args(["executor", "--scheduler", &format!("127.0.0.1:{port}")])
            .args(["--bind", "127.0.0.1"])
            .args(["--port", &free_port().to_string()])
            .args(["--grpc-port", &free_port().to_string()])
            // The checks spill every bucket's rows (the standalone cluster's hold them in
            // memory): both ways are run against the golden outputs.
            .args(["--spill-above", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    /// A scheduler and `executors` executor processes on loopback: the cluster's address
    /// and the processes (the scheduler first).
    fn start_cluster(executors: usize, work: &Path) -> (String, Processes) {
        let (port, mut procs) = start_scheduler();
        for i in 0..executors {
            let work_dir = work.join(format!("executor-{i}"));
            std::fs::create_dir_all(&work_dir).unwrap();
            let e = executor(port)
                .arg("--work-dir")
                .arg(&work_dir)
                .spawn()
                .unwrap();
            procs.0.push(e);
        }
        (format!("df://127.0.0.1:{port}"), procs)
    }

    /// `qianbiao run --cluster` as a user runs it: its exit status and stderr.
    fn run_cli(data: &Path, out: &Path, k: usize, cluster: &str) -> (Option<i32>, String) {
        run_cli_with(data, out, k, cluster, &[])
    }

    fn run_cli_with(
        data: &Path,
        out: &Path,
        k: usize,
        cluster: &str,
        more: &[&str],
    ) -> (Option<i32>, String) {
        let o = qianbiao()
            .arg("run")
            .arg("--data")
            .arg(data)
            .arg("--out")
            .arg(out)
            .args(["--partitions", &k.to_string(), "--cluster", cluster])
            .args(more)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    fn cli_hashes(out: &Path, k: usize) -> BTreeMap<String, String> {
        let mut manifest: Value =
            serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
        // The command line's built-in pipeline, named as the library runs name it.
        assert_eq!(
            manifest["pipeline"]["source"],
            "built-in: pipelines/dianzi-2022.toml"
        );
        manifest["pipeline"]["source"] = "golden".into();
        output_hashes(out, manifest, k)
    }

    #[test]
    fn a_scheduler_and_two_executor_processes_give_the_golden_outputs() {
        let work = tempfile::tempdir().unwrap();
        let (address, _procs) = start_cluster(2, work.path());
        let mut wrong = Vec::new();
        for case in CASES {
            let dir = tempfile::tempdir().unwrap();
            let data = case_data(case, dir.path());
            let out = dir.path().join("out");
            let (code, err) = run_cli(&data, &out, 4, &address);
            assert_eq!(code, Some(0), "{case}: {err}");
            wrong.extend(differences(case, "two executors K=4", &cli_hashes(&out, 4)));
        }
        assert!(wrong.is_empty(), "outputs changed:\n{}", wrong.join("\n"));
        // Parquet files in pieces of row groups, read and split by both executors.
        let dir = tempfile::tempdir().unwrap();
        let data = town_in_row_groups(dir.path(), 2, true);
        let whole = hashes(&data, &dir.path().join("whole"), 1);
        let out = dir.path().join("out");
        let rows = PIECE_ROWS.to_string();
        let (code, err) = run_cli_with(&data, &out, 4, &address, &["--task-rows", &rows]);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(cli_hashes(&out, 4), whole);
    }

    /// The entries of a folder, as names.
    fn entries(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn cluster_runs_leave_no_shuffle_files_in_the_temporary_folder() {
        // Ballista 55's standalone executor, and its executor process without a work
        // folder, shuffle into a temporary folder that nothing removes: a nightly run
        // would leave its input's size in /tmp every night.
        let dir = tempfile::tempdir().unwrap();
        let data = case_data("synth-1500-1-dirty-csv", dir.path());
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();

        // The standalone cluster, from the command line.
        let out = dir.path().join("out-standalone");
        let o = qianbiao()
            .arg("run")
            .arg("--data")
            .arg(&data)
            .arg("--out")
            .arg(&out)
            .args(["--partitions", "3", "--cluster", "standalone"])
            .env("TMPDIR", &tmp)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(differences(
            "synth-1500-1-dirty-csv",
            "standalone CLI",
            &cli_hashes(&out, 3)
        )
        .is_empty());
        assert_eq!(
            entries(&tmp),
            Vec::<String>::new(),
            "left by a standalone run"
        );
        assert!(
            !entries(&out)
                .iter()
                .any(|e| e.starts_with(".qianbiao-spill")),
            "{:?}",
            entries(&out)
        );

        // An executor process without `--work-dir`, stopped with Ctrl-C after a run.
        let (port, mut procs) = start_scheduler();
        let executor = executor(port).env("TMPDIR", &tmp).spawn().unwrap();
        let pid = executor.id();
        procs.0.push(executor);
        let out = dir.path().join("out-executor");
        let (code, err) = run_cli(&data, &out, 3, &format!("df://127.0.0.1:{port}"));
        assert_eq!(code, Some(0), "{err}");
        assert!(differences(
            "synth-1500-1-dirty-csv",
            "one executor",
            &cli_hashes(&out, 3)
        )
        .is_empty());
        assert_eq!(
            entries(&tmp).len(),
            1,
            "the executor's folder while it runs"
        );
        let kill = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let stopped = procs.0[1].wait().unwrap();
        assert!(stopped.success(), "executor after Ctrl-C: {stopped}");
        assert_eq!(entries(&tmp), Vec::<String>::new(), "left by an executor");
    }

    #[test]
    fn an_executor_killed_mid_run_gives_the_same_answers_or_one_clear_error() {
        // A town whose passes take a while, read and checked by two executors; one is
        // killed while the keys pass, the split or the checks are under way. The run must
        // then either finish with the outputs of a run on one machine, or fail with
        // exit 2, one line, and no outputs.
        let dir = tempfile::tempdir().unwrap();
        let data = synth(dir.path(), 30_000, 5, true, false);
        let local = hashes(&data, &dir.path().join("local"), 6);
        // The keys pass; the split and checks job once submitted; and once the first
        // file's rows are in the shuffle (a lost executor's shuffle files are lost too:
        // Ballista must run their split tasks again). Each on a cluster of its own, the
        // three at once: most of each is the wait for Ballista to find its executor
        // lost (`--executor-timeout 10`), not work.
        std::thread::scope(|s| {
            for stage in [
                qianbiao_distributed::KEYS_FILE,
                qianbiao_distributed::JOB_FILE,
                qianbiao_distributed::FIRST_SPLIT_RESULT,
            ] {
                let (data, local) = (&data, &local);
                let out = dir.path().join(format!("out-{stage}"));
                s.spawn(move || killed_during(stage, data, &out, local));
            }
        });
    }

    /// Runs `data` on two executors, kills one once the stage whose job file is `stage`
    /// is submitted, and checks the run's end.
    fn killed_during(stage: &str, data: &Path, out: &Path, local: &BTreeMap<String, String>) {
        let work = tempfile::tempdir().unwrap();
        let (address, mut procs) = start_cluster(2, work.path());
        let (data2, out2) = (data.to_path_buf(), out.to_path_buf());
        // A deadline well above a run's own time (about 20 s in a debug build): Ballista
        // sometimes leaves the job waiting after the kill, and the run must then fail.
        let run = std::thread::spawn(move || {
            run_cli_with(&data2, &out2, 6, &address, &["--cluster-timeout", "60"])
        });
        let started = Instant::now();
        while !std::fs::read_dir(out)
            .map(|d| d.flatten().any(|e| e.path().join(stage).exists()))
            .unwrap_or(false)
        {
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "no {stage} submitted"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
        let mut killed = procs.0.remove(1);
        killed.kill().unwrap();
        killed.wait().unwrap();
        let kill = Instant::now();
        let (code, err) = run.join().unwrap();
        eprintln!(
            "the run ended {:?} after an executor was killed once {stage} was written, \
             with {code:?}: {err}",
            kill.elapsed()
        );
        match code {
            Some(0) => assert_eq!(&cli_hashes(out, 6), local, "the run finished: same answers"),
            Some(2) => {
                let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
                assert_eq!(lines.len(), 1, "one clear line: {err}");
                assert!(lines[0].starts_with("qianbiao: error: cluster: "), "{err}");
                for f in FILES {
                    assert!(!out.join(f).exists(), "{f} written by a failed run");
                }
            }
            other => panic!("exit {other:?}: {err}"),
        }
    }
}
