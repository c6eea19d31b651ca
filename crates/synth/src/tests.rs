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
        town_persons: crate::TOWN_PERSONS,
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

/// The towns of a province as one chunk with one village list (village numbers shifted).
fn whole_province(policy: &Policy, towns: &[Layout]) -> (Chunk, Vec<Village>, Vec<TruthRow>) {
    let mut all = Chunk::default();
    let mut villages: Vec<Village> = Vec::new();
    let mut union = Vec::new();
    for l in towns {
        let shift = villages.len() as u16;
        for v in 0..l.villages.len() {
            let (mut c, truth) = l.build(policy, v);
            union.extend(truth);
            c.persons.iter_mut().for_each(|x| x.village += shift);
            c.payments.iter_mut().for_each(|x| x.village += shift);
            c.receipts.iter_mut().for_each(|x| x.village += shift);
            c.deposits.iter_mut().for_each(|x| x.village += shift);
            c.roster.iter_mut().for_each(|x| x.village += shift);
            all.extend(c);
        }
        villages.extend(l.villages.iter().cloned());
    }
    union.sort();
    (all, villages, union)
}

#[test]
fn province_truth_is_the_union_of_its_towns() {
    let policy = Policy::dianzi_2022();
    // Four towns of 1,500: every rule planted in each, and records of one town that
    // could meet records of another (same birth days and sequence numbers, the same
    // vocabulary of names) if towns shared area codes, identifiers or names.
    let towns = province(&policy, 6000, 1500, 21, true);
    assert_eq!(towns.len(), 4);
    assert_eq!(
        towns
            .iter()
            .map(|t| t.sizes.iter().sum::<usize>())
            .sum::<usize>(),
        6000
    );
    let (all, villages, union) = whole_province(&policy, &towns);
    assert_eq!(eval::max_date(&all), Some(as_of()));
    let whole = eval::evaluate(&all, &policy, as_of(), &villages);
    assert_eq!(union, whole);
    // Town 0 is the one-town run of its size and seed; the others are towns of their own.
    assert_eq!(
        towns[0].villages,
        Layout::new(&policy, 1500, 21, true).villages
    );
    let names: BTreeSet<&str> = villages.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names.len(),
        villages.len(),
        "village names repeat across towns"
    );
}

#[test]
fn towns_share_no_identifier_and_no_name() {
    let policy = Policy::dianzi_2022();
    let towns = province(&policy, 3000, 1000, 4, true);
    assert_eq!(towns.len(), 3);
    let mut owner: std::collections::HashMap<String, usize> = Default::default();
    let mut clash = Vec::new();
    for (t, l) in towns.iter().enumerate() {
        let mut mine: BTreeSet<String> = BTreeSet::new();
        for v in 0..l.villages.len() {
            let (c, _) = l.build(&policy, v);
            let p = c
                .persons
                .iter()
                .flat_map(|x| [&x.id, &x.name, &x.household_no]);
            let pay = c.payments.iter().flat_map(|x| {
                [&x.id, &x.name, &x.txn_id, &x.account, &x.collector]
                    .into_iter()
                    .chain([&x.receipt_no, &x.deposit_id])
            });
            let r = c.receipts.iter().flat_map(|x| [&x.receipt_no, &x.id]);
            let d = c.deaths.iter().flat_map(|x| [&x.id, &x.name]);
            let dep = c.deposits.iter().map(|x| &x.deposit_id);
            mine.extend(p.chain(pay).chain(r).chain(d).chain(dep).cloned());
        }
        mine.remove("");
        for s in mine {
            if let Some(o) = owner.insert(s.clone(), t) {
                clash.push((o, t, s));
            }
        }
    }
    assert!(clash.is_empty(), "{:?}", &clash[..clash.len().min(10)]);
}

#[test]
fn town_marks_and_names_are_distinct() {
    let marks = crate::names::town_marks();
    assert!(marks.len() >= 99, "{} marks", marks.len());
    let taken: String = crate::names::SURNAMES
        .iter()
        .chain(crate::names::GIVEN_MALE)
        .chain(crate::names::GIVEN_FEMALE)
        .copied()
        .collect();
    assert!(marks.iter().all(|m| !taken.contains(*m)));
    let names: BTreeSet<String> = (0..250).map(crate::names::town_name).collect();
    assert_eq!(names.len(), 250);
}

#[test]
fn a_province_is_written_and_a_dirty_province_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path(), 2400, 6, false, Format::Parquet);
    o.town_persons = 1000;
    let s = generate(&o).unwrap();
    assert_eq!(s.towns, 3);
    assert!(s.truth_rows > 0);
    o.dirty = true;
    let e = generate(&o).unwrap_err().to_string();
    assert!(e.contains("one town"), "{e}");
    o.dirty = false;
    o.town_persons = 10;
    assert!(generate(&o).is_err());
}

#[test]
fn ids_lost_in_two_villages_are_never_the_same_text() {
    use crate::plant::{lost_digits, lost_is_the_villages};
    use chrono::NaiveDate;
    use qianbiao_core::id::check_digit;
    // Every id of one area and year whose sequence digits round into the same text:
    // whichever villages take them, no text is taken by two.
    let nv = 30u16;
    let mut owner: std::collections::HashMap<String, u16> = Default::default();
    let mut taken = 0;
    for m in 1..=12u32 {
        for d in 1..=28u32 {
            let birth = NaiveDate::from_ymd_opt(1980, m, d).unwrap();
            for seq in (0..1000).step_by(7) {
                let body = format!("371323{}{seq:03}", birth.format("%Y%m%d"));
                let id = format!("{body}{}", check_digit(&body).unwrap());
                for v in 0..nv {
                    if lost_is_the_villages(&id, birth, v, nv) {
                        taken += 1;
                        let lost = lost_digits(&id);
                        let o = *owner.entry(lost.clone()).or_insert(v);
                        assert_eq!(o, v, "{lost} lost in villages {o} and {v}");
                    }
                }
            }
        }
    }
    assert!(taken > 10_000, "{taken}");
    // Without the village's share of birth days, two villages would meet.
    let a = "371323198001019001";
    assert!(!lost_is_the_villages(
        a,
        NaiveDate::from_ymd_opt(1980, 1, 1).unwrap(),
        1,
        nv
    ));
}

#[test]
fn a_towns_area_codes_keep_their_places() {
    use crate::names::town_area;
    // The codes ids of the 100M province were drawn with (docs/performance.md).
    let want = [
        ("371323", "600300"),
        ("371328", "600308"),
        ("370102", "600309"),
        ("510107", "600316"),
        ("371311", "600317"),
        ("379901", "600318"),
    ];
    for (area, code) in want {
        assert_eq!(town_area(3, area), code);
        assert_eq!(town_area(0, area), area);
    }
}
