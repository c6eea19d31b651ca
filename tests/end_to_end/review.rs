//! The reviewers' outputs end to end: `report.html` and `findings.xlsx` of real runs, masked
//! runs scanned for every id and name of their inputs, and long values that must not fail
//! a run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use calamine::{open_workbook, Data, Reader, Xlsx};
use polars::prelude::*;
use qianbiao_core::policy::{Pipeline, DIANZI_2022};

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/dianzi-2022")
}

fn run(data: &Path, out: &Path, mask: bool) -> serde_json::Value {
    crate::run_engine(data, out, mask).manifest
}

/// Every cell of every sheet of a workbook, as text.
fn xlsx_text(path: &Path) -> String {
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    let mut out = String::new();
    for name in wb.sheet_names() {
        let range = wb.worksheet_range(&name).unwrap();
        for row in range.rows() {
            for c in row {
                out.push_str(&c.to_string());
                out.push('\t');
            }
            out.push('\n');
        }
    }
    out
}

/// Every value of a parquet file, as text.
fn parquet_text(path: &Path) -> String {
    let df = ParquetReader::new(std::fs::File::open(path).unwrap())
        .finish()
        .unwrap();
    let mut out = String::new();
    for col in df.columns() {
        let s = col.cast(&DataType::String).unwrap();
        for v in s.str().unwrap().iter().flatten() {
            out.push_str(v);
            out.push('\n');
        }
    }
    out
}

/// The text of every output file of a run folder (xlsx through calamine, parquet through
/// polars, everything else as UTF-8).
fn outputs_text(out: &Path) -> Vec<(String, String)> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(out).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let text = match p.extension().and_then(|x| x.to_str()) {
            Some("xlsx") => xlsx_text(&p),
            Some("parquet") => parquet_text(&p),
            _ => String::from_utf8(std::fs::read(&p).unwrap()).unwrap(),
        };
        v.push((name, text));
    }
    v.sort();
    v
}

/// Ids and names of the inputs, as ingest reads them, and the words that are not names
/// (villages, offices) a name could collide with.
fn input_ids_and_names(data: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let ds = qianbiao_ingest::load(
        data,
        &qianbiao_ingest::LoadOptions {
            year: 2022,
            progress: None,
            columns: None,
        },
    )
    .unwrap();
    let mut ids = BTreeSet::new();
    let mut names = BTreeSet::new();
    let mut places = BTreeSet::new();
    for h in ds.hukou().iter() {
        ids.insert(h.id().to_string());
        names.insert(h.name().to_string());
        places.insert(h.village().to_string());
        places.insert(h.office().to_string());
    }
    for p in ds.payments().iter() {
        ids.insert(p.id().to_string());
        names.insert(p.name().to_string());
        places.insert(p.village().to_string());
    }
    for r in ds.receipts().iter() {
        ids.insert(r.id().to_string());
        names.insert(r.name().to_string());
    }
    for d in ds.deaths().iter() {
        ids.insert(d.id().to_string());
        names.insert(d.name().to_string());
    }
    for e in ds.eligibility().iter() {
        ids.insert(e.id().to_string());
        names.insert(e.name().to_string());
    }
    for r in ds.registrations().iter() {
        ids.insert(r.id().to_string());
        names.insert(r.name().to_string());
    }
    for r in ds.roster().iter() {
        ids.insert(r.id().to_string());
        names.insert(r.name().to_string());
    }
    // Ids of 15 characters or more (shorter "ids" are garbage cells, masked as text);
    // names of two characters or more (a one-character name masks to itself), unless the
    // name is also part of a place name the outputs show on purpose.
    ids.retain(|i| i.chars().count() >= 15);
    names.retain(|n| n.chars().count() >= 2 && !places.iter().any(|p| p.contains(n.as_str())));
    (ids, names)
}

fn assert_masked(data: &Path, dir: &Path) {
    let (plain, masked) = (dir.join("plain"), dir.join("masked"));
    let m_plain = run(data, &plain, false);
    let m_masked = run(data, &masked, true);
    let (ids, names) = input_ids_and_names(data);
    assert!(
        ids.len() > 100 && names.len() > 100,
        "{} ids, {} names",
        ids.len(),
        names.len()
    );
    // The unmasked run shows them (so the scan below can fail).
    // One automaton over every id (both cases of a final X) and name: a scan per file.
    let patterns: Vec<String> = ids
        .iter()
        .flat_map(|i| [i.clone(), i.to_lowercase()])
        .chain(names.iter().cloned())
        .collect();
    let ac = aho_corasick::AhoCorasick::new(&patterns).unwrap();
    let hits = |text: &str| -> BTreeSet<String> {
        ac.find_overlapping_iter(text)
            .map(|m| patterns[m.pattern().as_usize()].clone())
            .collect()
    };
    let plain_text: String = outputs_text(&plain).into_iter().map(|x| x.1).collect();
    let shown = hits(&plain_text);
    assert!(
        shown.iter().filter(|p| ids.contains(*p)).count() > 10,
        "{shown:?}"
    );
    assert!(
        shown.iter().filter(|p| names.contains(*p)).count() > 10,
        "{shown:?}"
    );
    let files = outputs_text(&masked);
    assert!(files.len() >= 8, "{files:?}");
    for (file, text) in &files {
        let found = hits(text);
        assert!(found.is_empty(), "{file} shows {found:?}");
    }
    // finding_id unchanged: a masked and an unmasked run can be matched.
    let col = |p: &Path| -> Vec<String> {
        let df = ParquetReader::new(std::fs::File::open(p).unwrap())
            .finish()
            .unwrap();
        df.column("finding_id")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|s| s.unwrap().to_string())
            .collect()
    };
    assert_eq!(
        col(&plain.join("findings.parquet")),
        col(&masked.join("findings.parquet"))
    );
    assert_eq!(m_plain["findings"], m_masked["findings"]);
}

#[test]
fn masked_sample_run_shows_no_id_or_name() {
    let dir = tempfile::tempdir().unwrap();
    assert_masked(&sample_dir(), dir.path());
}

#[test]
fn masked_synth_town_shows_no_id_or_name() {
    let dir = tempfile::tempdir().unwrap();
    let data = crate::synth_town(dir.path(), 600, 7, true);
    assert_masked(&data, dir.path());
}

fn cell(range: &calamine::Range<Data>, r: usize, c: usize) -> Data {
    range.get((r, c)).cloned().unwrap_or(Data::Empty)
}

#[test]
fn workbook_for_reviewers() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let m = run(&sample_dir(), &a, false);
    run(&sample_dir(), &b, false);
    for f in ["findings.xlsx", "report.html"] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs"
        );
    }
    let mut wb: Xlsx<_> = open_workbook(a.join("findings.xlsx")).unwrap();
    assert_eq!(wb.sheet_names(), ["汇总", "疑点明细", "代办员", "参保率"]);
    let sum = wb.worksheet_range("汇总").unwrap();
    let heads: Vec<String> = (0..5).map(|c| cell(&sum, 0, c).to_string()).collect();
    assert_eq!(heads, ["规则", "名称", "严重程度", "条数", "金额"]);
    let by_rule = m["findings"]["by_rule"].as_object().unwrap();
    let mut rules_seen = 0;
    for r in 1..sum.height() {
        let code = cell(&sum, r, 0).to_string();
        let Some(want) = by_rule.get(&code) else {
            if code.contains('-') {
                assert_eq!(cell(&sum, r, 3), Data::Float(0.0), "{code}");
            }
            continue;
        };
        rules_seen += 1;
        assert_eq!(
            cell(&sum, r, 3),
            Data::Float(want["count"].as_u64().unwrap() as f64),
            "{code}"
        );
        let amount: f64 = want["amount"].as_str().unwrap().parse().unwrap();
        assert_eq!(cell(&sum, r, 4), Data::Float(amount), "{code}");
        assert!(!cell(&sum, r, 1).to_string().is_empty());
    }
    assert_eq!(rules_seen, by_rule.len());
    // The as_of beside the table is a date.
    assert_eq!(cell(&sum, 1, 8).to_string(), "截至日期");
    assert!(
        matches!(cell(&sum, 1, 9), Data::DateTime(_)),
        "{:?}",
        cell(&sum, 1, 9)
    );

    let f = wb.worksheet_range("疑点明细").unwrap();
    assert_eq!(cell(&f, 0, 0).to_string(), "疑点编号");
    assert_eq!(cell(&f, 0, 11).to_string(), "金额");
    assert_eq!(
        f.height() - 1,
        m["findings"]["total"].as_u64().unwrap() as usize
    );
    let schemes: BTreeSet<String> = (1..f.height())
        .map(|r| cell(&f, r, 9).to_string())
        .collect();
    assert!(
        schemes
            .iter()
            .all(|s| s.is_empty() || s == "居民养老" || s == "居民医保"),
        "{schemes:?}"
    );
    assert!((1..f.height()).all(|r| matches!(cell(&f, r, 11), Data::Float(_))));
    let csv = std::fs::read_to_string(a.join("findings.csv")).unwrap();
    assert!(csv.contains(&cell(&f, 1, 0).to_string()));
    let cov = wb.worksheet_range("参保率").unwrap();
    assert_eq!(cell(&cov, 0, 4).to_string(), "参保率");
    assert!(matches!(cell(&cov, 1, 4), Data::Float(x) if (0.0..=1.0).contains(&x)));
}

#[test]
fn report_html_is_self_contained_and_matches_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let m = run(&sample_dir(), &out, false);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        m["outputs"]["report.html"].is_string(),
        "hashed in the manifest"
    );
    // Nothing loaded from elsewhere: no src/href to another file or host, no CSS import.
    for needle in [
        "src=",
        "href=\"http",
        "href=\"//",
        "@import",
        "url(",
        "<link",
        "<iframe",
    ] {
        assert!(!html.contains(needle), "{needle}");
    }
    assert!(html.contains("<svg"), "charts are inline SVG");
    assert!(html.contains("疑点明细") && html.contains("参保率"));
    // Rule rows show the manifest's counts and amounts.
    let by_rule = m["findings"]["by_rule"].as_object().unwrap();
    for (code, want) in by_rule {
        let start = html
            .find(&format!("<tr data-rule=\"{code}\""))
            .unwrap_or_else(|| panic!("{code}"));
        let row = &html[start..start + html[start..].find("</tr>").unwrap()];
        assert!(
            row.contains(&format!("c-count\">{}<", want["count"])),
            "{row}"
        );
        let amount = want["amount"].as_str().unwrap();
        let shown = row
            .split("c-amount\">")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .replace(',', "");
        assert_eq!(shown, amount, "{code}");
    }
    // The embedded data has one row per finding.
    let start = html.find("id=\"qb-data\">").unwrap() + "id=\"qb-data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    let data: serde_json::Value = serde_json::from_str(&html[start..end]).unwrap();
    assert_eq!(
        data["rows"].as_array().unwrap().len() as u64,
        m["findings"]["total"].as_u64().unwrap()
    );
}

#[test]
fn long_values_never_fail_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let long_name = "王".repeat(32_768);
    std::fs::write(
        data.join("hukou.csv"),
        format!("id_number,name,village\n11010519491231002X,{long_name},店子村\n"),
    )
    .unwrap();
    // 3,000 payments of one person, scheme and year: one DUP-001 finding listing them all.
    let mut pay = String::from("txn_id,id_number,scheme,period,amount,paid_at\n");
    for i in 0..3000 {
        pay.push_str(&format!(
            "T{i:05},11010519491231002X,医疗,2022,320,2021-11-05\n"
        ));
    }
    std::fs::write(data.join("payments.csv"), pay).unwrap();
    let out = dir.path().join("out");
    let m = run(&data, &out, false);
    assert!(m["outputs"]["findings.xlsx"].is_string());
    let csv = std::fs::read_to_string(out.join("findings.csv")).unwrap();
    assert!(csv.contains(&long_name), "CSV keeps the full text");
    let mut wb: Xlsx<_> = open_workbook(out.join("findings.xlsx")).unwrap();
    let f = wb.worksheet_range("疑点明细").unwrap();
    let mark = qianbiao_report::xlsx::CUT_MARK;
    let mut cut = 0;
    for r in 1..f.height() {
        let name = cell(&f, r, 6).to_string();
        if name.starts_with('王') {
            assert_eq!(name.chars().count(), 32_767);
            assert!(name.ends_with(mark));
            cut += 1;
        }
        let txn = cell(&f, r, 12).to_string();
        if cell(&f, r, 1) == Data::String("DUP-001".into()) {
            assert!(
                txn.split(';').count() >= 2900 || txn.ends_with(mark),
                "{}",
                txn.len()
            );
        }
    }
    assert!(cut >= 1);
    assert!(out.join("report.html").is_file());
    // The masked run succeeds too.
    run(&data, &dir.path().join("masked"), true);
}

#[test]
fn changes_show_in_report_and_workbook_masked() {
    let opts = qianbiao_engine::RunOptions {
        data: sample_dir(),
        out: PathBuf::new(),
        pipeline: Pipeline::from_toml(DIANZI_2022).unwrap(),
        pipeline_source: "test".into(),
        as_of: None,
        progress: None,
        mask: true,
        partitioning: Default::default(),
        runner: None,
    };
    let o = qianbiao_engine::compute(&opts).unwrap();
    let person = o.findings.iter().find(|f| !f.id_number.is_empty()).unwrap();
    let kinds = [
        qianbiao_core::ChangeKind::New,
        qianbiao_core::ChangeKind::Changed,
        qianbiao_core::ChangeKind::Resolved,
    ];
    let changes: Vec<qianbiao_core::Change> = kinds
        .iter()
        .map(|k| qianbiao_core::Change {
            finding_id: person.finding_id(),
            rule: person.rule.to_string(),
            key: person.key.clone(),
            change: *k,
            previous_amount: Some(qianbiao_core::Fen(100)),
            amount: Some(person.amount),
            first_seen: "20211201T023000".into(),
            detail: format!("{} {}", person.name, person.id_number),
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let extras = qianbiao_engine::Extras {
        changes: Some(changes),
        ..Default::default()
    };
    let m = qianbiao_engine::write_outputs(&opts, &o, dir.path(), &extras).unwrap();
    assert!(m["outputs"]["changes.csv"].is_string());
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("与上次运行比较"));
    for k in kinds {
        assert!(
            html.contains(&format!("{}（{}）", k.zh(), k.as_str())),
            "{k:?}"
        );
    }
    let mut wb: Xlsx<_> = open_workbook(dir.path().join("findings.xlsx")).unwrap();
    assert_eq!(wb.sheet_names().last().map(String::as_str), Some("变化"));
    let ch = wb.worksheet_range("变化").unwrap();
    assert_eq!(ch.height(), 4);
    assert_eq!(cell(&ch, 1, 3).to_string(), "新增");
    // Masked: neither the detail's name and id nor the key's id are shown.
    let csv = std::fs::read_to_string(dir.path().join("changes.csv")).unwrap();
    for text in [csv.as_str(), html.as_str()] {
        assert!(!text.contains(&person.id_number), "id shown");
        assert!(!text.contains(&person.name), "name shown");
    }
    assert!(csv.contains(&person.finding_id()), "finding_id unchanged");
}

/// A rule that did not run says why in Chinese in the workbook, as in the report.
#[test]
fn skipped_rules_say_why_in_chinese_in_the_workbook() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("town");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::copy(sample_dir().join("hukou.csv"), data.join("hukou.csv")).unwrap();
    let pays = sample_dir().join("payments");
    std::fs::create_dir_all(data.join("payments")).unwrap();
    for e in std::fs::read_dir(&pays).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), data.join("payments").join(e.file_name())).unwrap();
    }
    let out = dir.path().join("out");
    run(&data, &out, false);
    let mut wb: Xlsx<_> = open_workbook(out.join("findings.xlsx")).unwrap();
    let sum = wb.worksheet_range("汇总").unwrap();
    let status = |code: &str| {
        (1..sum.height())
            .find(|&r| cell(&sum, r, 0) == Data::String(code.into()))
            .map(|r| cell(&sum, r, 6).to_string())
            .unwrap()
    };
    assert_eq!(status("DTH-004"), "未运行：缺少数据 死亡人员（deaths）");
    assert_eq!(status("DUP-001"), "已运行");
    for r in 1..sum.height() {
        assert!(!cell(&sum, r, 6).to_string().contains("source missing"));
    }
}
