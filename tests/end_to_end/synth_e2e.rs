//! The main correctness proof: synthetic towns for three seeds, clean and dirty, run
//! through the engine; findings must equal the planted truth exactly (rule, key, amount),
//! and every file's rejected and duplicate rows must equal what the generator expects.

use std::collections::BTreeMap;
use std::path::Path;

const PERSONS: usize = 1500;

fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut r = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn check_town(seed: u64, dirty: bool) {
    let dir = tempfile::tempdir().unwrap();
    let data = crate::synth_town(dir.path(), PERSONS, seed, dirty);
    let out = dir.path().join("out");
    let summary = crate::run_engine(&data, &out, false);

    let mut found: Vec<(String, String, String)> = summary
        .findings
        .iter()
        .map(|f| (f.rule.to_string(), f.key.clone(), f.amount.to_string()))
        .collect();
    found.sort();
    let mut truth: Vec<(String, String, String)> = read_csv(&data.join("truth.csv"))
        .into_iter()
        .map(|r| (r["rule"].clone(), r["key"].clone(), r["amount"].clone()))
        .collect();
    truth.sort();
    let missing: Vec<_> = truth.iter().filter(|t| !found.contains(t)).collect();
    let extra: Vec<_> = found.iter().filter(|f| !truth.contains(f)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "seed {seed} dirty {dirty}: missing {missing:#?}\nextra {extra:#?}"
    );
    let codes: std::collections::BTreeSet<&str> = truth.iter().map(|t| t.0.as_str()).collect();
    // Every rule; DQ-004 needs the totals rows only dirty files carry.
    let want = if dirty { 31 } else { 30 };
    assert_eq!(codes.len(), want, "every rule planted: {codes:?}");

    // collectors.csv adds up to the ledger totals of the manifest.
    let ledger = &summary.manifest["ledger"];
    let collectors = read_csv(&out.join("collectors.csv"));
    assert!(!collectors.is_empty());
    for (col, total) in [
        ("amount", "collector_payments_amount"),
        ("deposited_amount", "deposits_amount"),
        ("receipt_amount", "receipts_amount"),
    ] {
        let sum: qianbiao_core::Fen = collectors
            .iter()
            .map(|r| qianbiao_core::money::parse_amount(&r[col]).unwrap())
            .sum();
        assert_eq!(sum.to_string(), ledger[total].as_str().unwrap(), "{col}");
    }

    // Every row read is accepted or rejected, per file.
    for s in summary.manifest["sources"].as_array().unwrap() {
        for f in s["files"].as_array().unwrap() {
            let read = f["rows_read"].as_u64().unwrap();
            let acc = f["rows_accepted"].as_u64().unwrap();
            let rej = f["rows_rejected"].as_u64().unwrap();
            assert_eq!(read, acc + rej, "{}", f["path"]);
        }
    }
    // Line accounting: every physical line of a CSV file is the header, a preamble,
    // blank or totals line, or a row read; the synth ends every line with LF or CRLF.
    for s in summary.manifest["sources"].as_array().unwrap() {
        for f in s["files"].as_array().unwrap() {
            let path = f["path"].as_str().unwrap();
            if !path.ends_with(".csv") {
                continue;
            }
            let bytes = std::fs::read(data.join(path)).unwrap();
            let physical = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
            let l = &f["lines"];
            let part = |k: &str| l[k].as_u64().unwrap();
            assert_eq!(part("total"), physical, "{path}: lines");
            assert_eq!(
                part("header") + part("preamble") + part("blank") + part("totals") + part("rows"),
                physical,
                "{path}: {l}"
            );
            assert_eq!(
                part("preamble"),
                f["preamble_rows"].as_u64().unwrap(),
                "{path}"
            );
            assert_eq!(part("totals"), f["total_rows"].as_u64().unwrap(), "{path}");
        }
    }
    if dirty {
        let files: BTreeMap<String, (u64, u64, u64, u64)> = summary.manifest["sources"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["files"].as_array().unwrap().iter())
            .map(|f| {
                (
                    f["path"].as_str().unwrap().to_string(),
                    (
                        f["rows_rejected"].as_u64().unwrap(),
                        f["duplicate_rows"].as_u64().unwrap(),
                        f["preamble_rows"].as_u64().unwrap(),
                        f["total_rows"].as_u64().unwrap(),
                    ),
                )
            })
            .collect();
        let expected = read_csv(&data.join("expected_rejects.csv"));
        assert!(!expected.is_empty());
        for e in expected {
            let got = files
                .get(&e["file"])
                .unwrap_or_else(|| panic!("{} not read", e["file"]));
            let want: (u64, u64, u64, u64) = (
                e["rejected"].parse().unwrap(),
                e["duplicate_rows"].parse().unwrap(),
                e["preamble_rows"].parse().unwrap(),
                e["total_rows"].parse().unwrap(),
            );
            assert_eq!(
                *got, want,
                "seed {seed}: {} (rejected, duplicate_rows, preamble_rows, total_rows)",
                e["file"]
            );
        }
    }
}

#[test]
fn clean_towns_match_their_truth() {
    for seed in [1, 2, 3] {
        check_town(seed, false);
    }
}

#[test]
fn dirty_towns_match_their_truth_and_rejects() {
    for seed in [1, 2, 3] {
        check_town(seed, true);
    }
}

/// The committed sample town (a dirty 5,000-person town, one payments part converted to
/// `.xls`): every file's rejected, duplicate, preamble and totals rows as its
/// `expected_rejects.csv` says (its findings against `truth.csv` are in `tests/cli.rs`).
#[test]
fn sample_town_counts_match_its_expected_rejects() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/dianzi-2022");
    let dir = tempfile::tempdir().unwrap();
    let summary = crate::run_engine(&data, &dir.path().join("out"), false);
    let mut got: Vec<(String, [u64; 4])> = Vec::new();
    for s in summary.manifest["sources"].as_array().unwrap() {
        for f in s["files"].as_array().unwrap() {
            let n = |k: &str| f[k].as_u64().unwrap();
            got.push((
                f["path"].as_str().unwrap().to_string(),
                [
                    n("rows_rejected"),
                    n("duplicate_rows"),
                    n("preamble_rows"),
                    n("total_rows"),
                ],
            ));
        }
    }
    got.sort();
    let mut want: Vec<(String, [u64; 4])> = read_csv(&data.join("expected_rejects.csv"))
        .into_iter()
        .map(|e| {
            let n = |k: &str| e[k].parse::<u64>().unwrap();
            (
                e["file"].clone(),
                [
                    n("rejected"),
                    n("duplicate_rows"),
                    n("preamble_rows"),
                    n("total_rows"),
                ],
            )
        })
        .collect();
    want.sort();
    assert_eq!(got, want);
    assert!(got.iter().any(|(f, _)| f.ends_with(".xls")));
}
