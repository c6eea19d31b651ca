//! Tests of the whole generator: determinism, a clean town that breaks no rule, every
//! rule planted, chunk-wise truth equal to whole-town truth, and the dirty inputs.

use std::collections::BTreeSet;
use std::path::Path;

use qianbiao_core::Policy;

use super::*;

fn opts(dir: &Path, persons: usize, seed: u64, dirty: bool, format: Format) -> SynthOptions {
    SynthOptions {
        persons,
        seed,
        out: dir.to_path_buf(),
        dirty,
        format,
    }
}

/// Every file under `dir` with its bytes, by relative path.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn same_seed_same_bytes() {
    for (dirty, format) in [
        (false, Format::Csv),
        (false, Format::Parquet),
        (true, Format::Csv),
    ] {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        generate(&opts(a.path(), 1200, 7, dirty, format)).unwrap();
        generate(&opts(b.path(), 1200, 7, dirty, format)).unwrap();
        let fa = files(a.path());
        let fb = files(b.path());
        assert!(fa.len() >= 9, "{dirty} {format:?}");
        assert_eq!(fa.len(), fb.len());
        for (x, y) in fa.iter().zip(&fb) {
            assert_eq!(x.0, y.0);
            assert!(x.1 == y.1, "{} differs ({dirty}, {format:?})", x.0);
        }
        let c = tempfile::tempdir().unwrap();
        generate(&opts(c.path(), 1200, 8, dirty, format)).unwrap();
        assert_ne!(
            std::fs::read(a.path().join("truth.csv")).unwrap(),
            std::fs::read(c.path().join("truth.csv")).unwrap()
        );
    }
}

#[test]
fn clean_town_breaks_no_rule() {
    let policy = Policy::dianzi_2022();
    for (persons, seed) in [(6000, 1), (2500, 99), (400, 3)] {
        let layout = Layout::new(&policy, persons, seed, false);
        for v in 0..layout.villages.len() {
            let (chunk, truth) = layout.build(&policy, v);
            assert!(
                truth.is_empty(),
                "seed {seed} village {v}: {:?}",
                &truth[..truth.len().min(10)]
            );
            assert!(!chunk.payments.is_empty());
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let s = generate_with(&opts(dir.path(), 3000, 5, false, Format::Csv), false).unwrap();
    assert_eq!(s.truth_rows, 0);
    assert!(read_truth(&dir.path().join("truth.csv"))
        .unwrap()
        .is_empty());
}

#[test]
fn every_rule_is_planted() {
    let dir = tempfile::tempdir().unwrap();
    let s = generate(&opts(dir.path(), 3000, 42, false, Format::Csv)).unwrap();
    let truth = read_truth(&dir.path().join("truth.csv")).unwrap();
    assert_eq!(truth.len(), s.truth_rows);
    let rules: BTreeSet<&str> = truth.iter().map(|t| t.0.as_str()).collect();
    // DQ-004 lives in the totals rows of dirty files only (a clean file has none).
    for r in RULES.iter().filter(|r| **r != "DQ-004") {
        assert!(rules.contains(r), "{r} missing from truth: {rules:?}");
    }
    // Sorted by rule then key, one row per key.
    let keys: Vec<(&str, &str)> = truth.iter().map(|t| (t.0.as_str(), t.1.as_str())).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted);
    assert!(truth
        .iter()
        .all(|t| t.2.contains('.') && t.2.split('.').nth(1).unwrap().len() == 2));
}

#[test]
fn chunk_truth_equals_town_truth() {
    let policy = Policy::dianzi_2022();
    let layout = Layout::new(&policy, 4000, 11, true);
    let mut town = Chunk::default();
    let mut union = Vec::new();
    for v in 0..layout.villages.len() {
        let (chunk, truth) = layout.build(&policy, v);
        union.extend(truth);
        town.extend(chunk);
    }
    union.sort();
    assert_eq!(eval::max_date(&town), Some(as_of()));
    let whole = eval::evaluate(&town, &policy, as_of(), &layout.villages);
    assert_eq!(union, whole);
}

#[test]
fn dirty_truth_is_clean_truth() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    generate(&opts(a.path(), 2000, 3, false, Format::Parquet)).unwrap();
    generate(&opts(b.path(), 2000, 3, true, Format::Csv)).unwrap();
    // The same findings, plus the DQ-004 of the dirty files' totals rows.
    let clean = read_truth(&a.path().join("truth.csv")).unwrap();
    let dirty = read_truth(&b.path().join("truth.csv")).unwrap();
    let (dq4, rest): (Vec<_>, Vec<_>) = dirty.into_iter().partition(|t| t.0 == "DQ-004");
    assert_eq!(rest, clean);
    assert_eq!(dq4.len(), 2, "{dq4:?}");
}

#[test]
fn dirty_town_has_every_variation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = generate(&opts(d, 3000, 9, true, Format::Csv)).unwrap();
    assert!(s.expected_rejected > 0);
    let mut r = csv::Reader::from_path(d.join("expected_rejects.csv")).unwrap();
    let headers = r.headers().unwrap().clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        [
            "source",
            "file",
            "rejected",
            "duplicate_rows",
            "preamble_rows",
            "total_rows"
        ]
    );
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    let total: usize = rows.iter().map(|x| x[2].parse::<usize>().unwrap()).sum();
    assert_eq!(total, s.expected_rejected);
    let dups: usize = rows.iter().map(|x| x[3].parse::<usize>().unwrap()).sum();
    assert!(dups > 0);
    for row in &rows {
        assert!(d.join(&row[1]).is_file(), "{}", &row[1]);
    }
    let sources: BTreeSet<&str> = rows.iter().map(|x| x.get(0).unwrap()).collect();
    assert_eq!(sources.len(), 8);
    // GB18030 CSV: not UTF-8.
    let hukou = std::fs::read(d.join("hukou.csv")).unwrap();
    assert!(std::str::from_utf8(&hukou).is_err());
    let (text, _, bad) = encoding_rs::GB18030.decode(&hukou);
    assert!(!bad && text.contains("村"));
    // BOM CSV.
    assert!(std::fs::read(d.join("deaths.csv"))
        .unwrap()
        .starts_with("\u{feff}".as_bytes()));
    // XLSX (a zip) and Parquet.
    assert!(std::fs::read(d.join("eligibility.xlsx"))
        .unwrap()
        .starts_with(b"PK"));
    assert!(std::fs::read(d.join("deposits.xlsx"))
        .unwrap()
        .starts_with(b"PK"));
    assert!(std::fs::read(d.join("registrations.parquet"))
        .unwrap()
        .starts_with(b"PAR1"));
    // Payments as a folder of several files; receipts as a file and a folder.
    let parts: Vec<_> = std::fs::read_dir(d.join("payments")).unwrap().collect();
    assert!(parts.len() >= 2);
    assert!(!d.join("payments.csv").exists());
    assert!(d.join("receipts.csv").is_file() && d.join("receipts").is_dir());
}
