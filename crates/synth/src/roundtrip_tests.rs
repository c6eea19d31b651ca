//! Reads the written files back the way the data contract says an engine must (a small
//! independent reader: encodings, XLSX, Parquet, aliases, normalisation, rejects,
//! duplicates) and checks they say exactly what the records say.

use std::collections::BTreeMap;
use std::path::Path;

use calamine::{open_workbook_auto, Data, Reader};
use polars::prelude::*;
use qianbiao_core::codes::parse_disability_level;
use qianbiao_core::date::{parse_date, parse_datetime, parse_period};
use qianbiao_core::money::parse_amount;
use qianbiao_core::text::{norm_name, norm_text, trim_header};
use qianbiao_core::{Category, HukouStatus, IdNumber, PayerType, PaymentStatus, Policy, Scheme};

use super::*;
use crate::schema::{canonical, category_text, Kind, Source, SOURCES};

/// Header row and data rows of one file, every cell as text.
fn read_table(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        "csv" => {
            let bytes = std::fs::read(path).unwrap();
            let text = match std::str::from_utf8(&bytes) {
                Ok(t) => t.trim_start_matches('\u{feff}').to_string(),
                Err(_) => encoding_rs::GB18030.decode(&bytes).0.into_owned(),
            };
            let mut r = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(text.as_bytes());
            let rows: Vec<Vec<String>> = r
                .records()
                .map(|x| x.unwrap().iter().map(str::to_string).collect())
                .collect();
            split_header(rows, text.lines().count())
        }
        "xlsx" => {
            let mut wb = open_workbook_auto(path).unwrap();
            let range = wb.worksheet_range_at(0).unwrap().unwrap();
            let mut rows: Vec<Vec<String>> = range
                .rows()
                .map(|r| {
                    r.iter()
                        .map(|c| match c {
                            Data::Empty => String::new(),
                            Data::String(s) => s.clone(),
                            // An id typed as a number: the digits Excel shows (Rust prints
                            // the shortest form that reads back, never an exponent).
                            Data::Float(f) if f.abs() >= 1e15 => format!("{f}"),
                            Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
                            Data::Float(f) => f.to_string(),
                            Data::Int(i) => i.to_string(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .collect();
            // calamine starts the range at the first used row: no blank rows above.
            let n = rows.len();
            split_header(std::mem::take(&mut rows), n)
        }
        "parquet" => {
            let f = std::fs::File::open(path).unwrap();
            let df = ParquetReader::new(f).finish().unwrap();
            let head: Vec<String> = df
                .get_column_names()
                .iter()
                .map(|s| s.to_string())
                .collect();
            let cols: Vec<Series> = df
                .columns()
                .iter()
                .map(|c| c.as_materialized_series().cast(&DataType::String).unwrap())
                .collect();
            let rows = (0..df.height())
                .map(|i| {
                    cols.iter()
                        .map(|s| s.str().unwrap().get(i).unwrap_or("").to_string())
                        .collect()
                })
                .collect();
            (head, rows)
        }
        _ => panic!("unknown file {}", path.display()),
    }
}

/// The header row is the first row (of the first 20) with a `序号` or a known header
/// cell in more than two columns; rows above it are preamble. Totals rows (first
/// non-empty cell starting with 合计/总计/小计) are dropped.
fn split_header(rows: Vec<Vec<String>>, _lines: usize) -> (Vec<String>, Vec<Vec<String>>) {
    let at = rows
        .iter()
        .take(20)
        .position(|r| r.iter().filter(|c| !c.trim().is_empty()).count() > 2)
        .expect("a header in the first 20 rows");
    let mut rows = rows.into_iter().skip(at);
    let head = rows.next().unwrap();
    let body = rows
        .filter(|r| {
            let first = r.iter().map(|c| c.trim()).find(|c| !c.is_empty());
            !first.is_some_and(|c| ["合计", "总计", "小计"].iter().any(|l| c.starts_with(l)))
        })
        .collect();
    (head, body)
}

/// Normalised canonical text of one value, or `None` when it cannot be used.
fn norm(kind: Kind, raw: &str) -> Option<String> {
    let t = norm_text(raw).into_owned();
    if t.is_empty() {
        return Some(String::new());
    }
    Some(match kind {
        Kind::Id => IdNumber::parse(&t).as_str().to_string(),
        Kind::Name => norm_name(raw).into_owned(),
        Kind::Text => t,
        Kind::Scheme => Scheme::parse(&t)?.as_str().to_string(),
        Kind::Payer => PayerType::parse(&t).as_str().to_owned(),
        Kind::PayStatus => format!("{:?}", PaymentStatus::parse(&t)),
        Kind::HukouStatus => HukouStatus::parse(&t).zh().to_string(),
        Kind::Residence => if t == "居住证" {
            "居住证"
        } else {
            "户籍"
        }
        .to_string(),
        Kind::Category => category_text(Category::parse(&t)?).to_string(),
        Kind::Level => parse_disability_level(&t)?.to_string(),
        Kind::Period => parse_period(&t)?.to_string(),
        Kind::Int => t.trim_end_matches(".0").parse::<i64>().ok()?.to_string(),
        Kind::Money => parse_amount(&t).ok()?.to_string(),
        Kind::Date => parse_date(&t)?.format("%Y-%m-%d").to_string(),
        Kind::DateTime => parse_datetime(&t)?.format("%Y-%m-%d %H:%M:%S").to_string(),
    })
}

/// The defaults of optional coded columns, so an empty cell and its default agree.
fn with_default(kind: Kind, v: String) -> String {
    if !v.is_empty() {
        return v;
    }
    match kind {
        Kind::Payer => "individual".to_string(),
        Kind::PayStatus => "Success".to_string(),
        Kind::HukouStatus => "正常".to_string(),
        Kind::Residence => "户籍".to_string(),
        _ => v,
    }
}

/// Reads one file of a source: accepted rows (canonical column order) and rejects.
fn accept(source: Source, path: &Path) -> (Vec<Vec<String>>, usize) {
    let cols = source.columns();
    let (head, rows) = read_table(path);
    let map: Vec<Option<usize>> = head
        .iter()
        .map(|h| {
            let h = trim_header(h);
            cols.iter()
                .position(|c| c.name == h || c.aliases.iter().any(|a| a.to_lowercase() == h))
        })
        .collect();
    let mut out = Vec::new();
    let mut rejected = 0;
    let keeps_invalid_id = matches!(source, Source::Payments | Source::Receipts);
    'rows: for row in rows {
        if path.extension().is_some_and(|e| e == "csv") && row.len() != head.len() {
            rejected += 1;
            continue;
        }
        let mut vals = vec![String::new(); cols.len()];
        for (j, cell) in row.iter().enumerate() {
            if let Some(Some(c)) = map.get(j) {
                match norm(cols[*c].kind, cell) {
                    Some(v) => vals[*c] = v,
                    None if cols[*c].required => {
                        rejected += 1;
                        continue 'rows;
                    }
                    None => {}
                }
            }
        }
        for (c, col) in cols.iter().enumerate() {
            if col.required && vals[c].is_empty() {
                rejected += 1;
                continue 'rows;
            }
            if col.kind == Kind::Id && !keeps_invalid_id && !IdNumber::parse(&vals[c]).is_valid() {
                rejected += 1;
                continue 'rows;
            }
            vals[c] = with_default(col.kind, std::mem::take(&mut vals[c]));
        }
        if source == Source::Hukou {
            let st = cols.iter().position(|c| c.name == "status").unwrap();
            let sd = cols.iter().position(|c| c.name == "status_date").unwrap();
            if vals[st] != "正常" && vals[sd].is_empty() {
                rejected += 1;
                continue;
            }
        }
        out.push(vals);
    }
    (out, rejected)
}

/// Canonical rows of the records, normalised like the files.
fn model_rows(source: Source, town: &Chunk, villages: &[Village]) -> Vec<Vec<String>> {
    let cols = source.columns();
    (0..source.len(town))
        // A death notice with a mistyped id is rejected (DTH-005 links it).
        .filter(|&k| source != Source::Deaths || crate::eval::id_valid(&town.deaths[k].id))
        .map(|k| {
            source
                .cells(town, k, villages)
                .iter()
                .zip(cols)
                .map(|(cell, c)| with_default(c.kind, norm(c.kind, &canonical(cell)).unwrap()))
                .collect()
        })
        .collect()
}

fn multiset(rows: Vec<Vec<String>>) -> BTreeMap<Vec<String>, usize> {
    let mut m = BTreeMap::new();
    for r in rows {
        *m.entry(r).or_insert(0) += 1;
    }
    m
}

/// Files of a source under `dir`, in read order.
fn source_files(dir: &Path, s: Source) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for ext in ["csv", "parquet", "xlsx"] {
        let p = dir.join(format!("{}.{ext}", s.name()));
        if p.is_file() {
            files.push(p);
        }
    }
    let folder = dir.join(s.name());
    if folder.is_dir() {
        let mut inner: Vec<_> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        inner.sort_by(|a, b| {
            a.file_name()
                .unwrap()
                .as_encoded_bytes()
                .cmp(b.file_name().unwrap().as_encoded_bytes())
        });
        files.extend(inner);
    }
    files
}

/// Accepted rows per source, as a multiset.
type Accepted = BTreeMap<&'static str, BTreeMap<Vec<String>, usize>>;

/// Reads a whole output folder: accepted rows per source, and (file, rejects, dups).
fn read_town(dir: &Path) -> (Accepted, Vec<(String, usize, usize)>) {
    let mut per_source = BTreeMap::new();
    let mut counts = Vec::new();
    for s in SOURCES {
        let mut all = Vec::new();
        let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in source_files(dir, s) {
            let (rows, rejected) = accept(s, &f);
            let mut dups = 0;
            for r in rows {
                if s == Source::Payments {
                    match seen.get(&r[0]) {
                        Some(first) if *first == r => {
                            dups += 1;
                            continue;
                        }
                        Some(_) => {}
                        None => {
                            seen.insert(r[0].clone(), r.clone());
                        }
                    }
                }
                all.push(r);
            }
            let rel = f.strip_prefix(dir).unwrap().display().to_string();
            counts.push((rel, rejected, dups));
        }
        per_source.insert(s.name(), multiset(all));
    }
    (per_source, counts)
}

fn build_town(persons: usize, seed: u64, dirty: bool) -> (Chunk, Vec<Village>) {
    let policy = Policy::dianzi_2022();
    let mut layout = Layout::new(&policy, persons, seed, true);
    layout.dirty = dirty;
    let mut town = Chunk::default();
    for v in 0..layout.villages.len() {
        town.extend(layout.build(&policy, v).0);
    }
    (town, layout.villages)
}

#[test]
fn dirty_files_say_what_the_records_say() {
    let dir = tempfile::tempdir().unwrap();
    let (persons, seed) = (2500, 17);
    generate(&SynthOptions {
        persons,
        seed,
        out: dir.path().to_path_buf(),
        dirty: true,
        format: Format::Csv,
        town_persons: crate::TOWN_PERSONS,
    })
    .unwrap();
    let (town, villages) = build_town(persons, seed, true);
    let (read, counts) = read_town(dir.path());
    for s in SOURCES {
        let want = multiset(model_rows(s, &town, &villages));
        let got = &read[s.name()];
        if &want != got {
            let missing: Vec<_> = want
                .keys()
                .filter(|k| !got.contains_key(*k))
                .take(3)
                .collect();
            let extra: Vec<_> = got
                .keys()
                .filter(|k| !want.contains_key(*k))
                .take(3)
                .collect();
            panic!("{}: missing {missing:?}\nextra {extra:?}", s.name());
        }
    }
    let mut r = csv::Reader::from_path(dir.path().join("expected_rejects.csv")).unwrap();
    let expected: Vec<(String, usize, usize)> = r
        .records()
        .map(|x| {
            let x = x.unwrap();
            (
                x[1].to_string(),
                x[2].parse().unwrap(),
                x[3].parse().unwrap(),
            )
        })
        .collect();
    let mut got = counts.clone();
    got.sort();
    let mut want = expected.clone();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn clean_csv_and_parquet_agree() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for (dir, format) in [(&a, Format::Csv), (&b, Format::Parquet)] {
        generate(&SynthOptions {
            persons: 1500,
            seed: 23,
            out: dir.path().to_path_buf(),
            dirty: false,
            format,
            town_persons: crate::TOWN_PERSONS,
        })
        .unwrap();
    }
    let (ra, ca) = read_town(a.path());
    let (rb, cb) = read_town(b.path());
    assert_eq!(ra, rb);
    let (town, villages) = build_town(1500, 23, false);
    // A clean town rejects only its death notices with a mistyped id (DTH-005).
    let mistyped = town
        .deaths
        .iter()
        .filter(|d| !crate::eval::id_valid(&d.id))
        .count();
    assert!(mistyped > 0);
    for c in ca.iter().chain(&cb) {
        let want = if c.0.starts_with("deaths") {
            mistyped
        } else {
            0
        };
        assert_eq!((c.1, c.2), (want, 0), "{}", c.0);
    }
    for s in SOURCES {
        assert_eq!(
            ra[s.name()],
            multiset(model_rows(s, &town, &villages)),
            "{}",
            s.name()
        );
    }
}
