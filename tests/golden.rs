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
    let summary = qianbiao_engine::run(&qianbiao_engine::RunOptions {
        data: data.to_path_buf(),
        out: out.to_path_buf(),
        pipeline: Pipeline::from_toml(DIANZI_2022).unwrap(),
        pipeline_source: "golden".into(),
        as_of: None,
        progress: None,
        mask: false,
        partitioning: qianbiao_engine::Partitioning::Partitions(partitions),
    })
    .unwrap_or_else(|e| panic!("{}: {e}", data.display()));
    let parts = &summary.manifest["partitions"];
    assert_eq!(parts["count"], partitions, "{}", data.display());
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
    let counts = serde_json::to_vec(&manifest_counts(summary.manifest)).unwrap();
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
    let data = match case {
        "sample" => root().join("sample-data/dianzi-2022"),
        _ => {
            // synth-P-SEED-clean|dirty-csv|parquet
            let parts: Vec<&str> = case.split('-').collect();
            let persons: usize = parts[1].parse().unwrap();
            let seed: u64 = parts[2].parse().unwrap();
            synth(
                dir.path(),
                persons,
                seed,
                parts[3] == "dirty",
                parts[4] == "parquet",
            )
        }
    };
    partitions
        .iter()
        .map(|&k| (k, hashes(&data, &dir.path().join(format!("out-{k}")), k)))
        .collect()
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
        let want = golden(case);
        assert_eq!(want.len(), FILES.len() + 1, "{case}: golden hashes missing");
        for (k, got) in runs {
            for (file, hash) in got {
                match want.get(&file) {
                    Some(w) if *w == hash => {}
                    Some(w) => wrong.push(format!("{case} K={k} {file}: {hash}, golden {w}")),
                    None => wrong.push(format!("{case} K={k} {file}: no golden hash")),
                }
            }
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
