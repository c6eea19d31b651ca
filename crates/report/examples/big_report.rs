//! Writes `report.html` for a generated set of findings, and a `manifest.json` with their
//! per-rule totals in the run manifest's shape, so the browser test can open a report of
//! any size (`tests/browser/check.sh` uses 100,000).
//!
//! Usage: `big_report OUT_DIR N [WRITER]`, WRITER one of `html` (the default), `xlsx`,
//! `parquet` or `csv`: that output only, the process's resident memory before the write
//! and its peak after it told on stderr (how the write stage's memory is measured,
//! `docs/performance.md`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::NaiveDate;
use qianbiao_core::{Fen, Finding, Scheme};
use qianbiao_report::{CollectorRow, Review};
use qianbiao_rules::cov::CoverageRow;

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "欧阳",
];
const GIVEN: &[&str] = &[
    "涛", "娜", "伟", "芳", "秀英", "建国", "丽", "强", "晓彩", "波俊",
];
const VILLAGES: &[&str] = &[
    "店子村",
    "东店子村",
    "沙沟村",
    "新庄村",
    "南岭村",
    "河西村",
    "刘家湖村",
    "大兴村",
    "石竹村",
    "王河村",
    "北坡村",
    "杨庄村",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().ok_or("usage: big_report OUT_DIR N")?);
    let n: usize = args.next().ok_or("usage: big_report OUT_DIR N")?.parse()?;
    std::fs::create_dir_all(&out)?;
    let rules = qianbiao_rules::registry();
    // A small linear congruential generator: the same N gives the same file.
    let mut s: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |m: u64| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) % m
    };
    let mut findings = Vec::with_capacity(n);
    for i in 0..n {
        let meta = rules[next(rules.len() as u64) as usize].meta();
        // Persons are reused so that many have several findings.
        let p = next((n as u64 / 3).max(1));
        let mut f = Finding::new(meta.code, meta.severity, format!("K{i:07}"));
        f.id_number = format!("3713{:02}19{:02}0101{:04}", p % 30, 40 + p % 60, p % 10_000);
        f.name = format!(
            "{}{}",
            SURNAMES[(p % SURNAMES.len() as u64) as usize],
            GIVEN[((p / 11) % GIVEN.len() as u64) as usize]
        );
        f.village = VILLAGES[(p % VILLAGES.len() as u64) as usize].to_string();
        f.collector_id = format!("C{:03}", p % 57);
        f.scheme = Some(if i % 2 == 0 {
            Scheme::ResidentPension
        } else {
            Scheme::ResidentMedical
        });
        f.period = Some(2022);
        f.amount = Fen((next(500) as i64) * 100 + next(100) as i64);
        f.txn_ids = (0..1 + next(3)).map(|k| format!("T{i:07}{k}")).collect();
        f.detail = format!("{} 第 {i} 条：{}缴费与规定不符", meta.name_zh, f.name);
        f.sources = vec![format!("payments/part{}.csv:{}", 1 + i % 3, 2 + i)];
        findings.push(f);
    }
    findings.sort_by(|a, b| a.rule.cmp(b.rule).then_with(|| a.key.cmp(&b.key)));
    let ids = qianbiao_report::finding_ids(&findings);
    let collectors: Vec<CollectorRow> = (0..57)
        .map(|c| CollectorRow {
            collector_id: format!("C{c:03}"),
            payments: 100 + c,
            amount: Fen(1_000_000 + c as i64 * 10_000),
            deposited_amount: Fen(1_000_000 + (c as i64 % 7) * 3_000),
            ..CollectorRow::default()
        })
        .collect();
    let coverage: Vec<CoverageRow> = VILLAGES
        .iter()
        .enumerate()
        .flat_map(|(k, v)| {
            [
                ("pension_16_44", Some("0.9")),
                ("pension_45_59", Some("0.95")),
                ("medical", None),
            ]
            .into_iter()
            .map(move |(band, target)| CoverageRow {
                village: v.to_string(),
                band: band.to_string(),
                eligible: 400 + k as u64 * 10,
                covered: 340 + k as u64 * 12,
                target: target.map(|t| t.parse().expect("decimal")),
            })
        })
        .collect();
    let status: Vec<serde_json::Value> = rules
        .iter()
        .map(|r| serde_json::json!({"code": r.meta().code, "status": "run"}))
        .collect();
    let metas: Vec<_> = rules.iter().map(|r| r.meta()).collect();
    let review = Review {
        as_of: NaiveDate::from_ymd_opt(2022, 1, 28).ok_or("date")?,
        pipeline: "generated",
        findings: &findings,
        ids: &ids,
        persons: &qianbiao_report::person_numbers(&findings),
        collectors: &collectors,
        coverage: &coverage,
        changes: None,
        inputs: &[],
        rule_status: &status,
        masked: false,
        rules: &metas,
    };
    let before = status_kib("VmRSS");
    match args.next().as_deref().unwrap_or("html") {
        "html" => qianbiao_report::write_report_html(&out.join("report.html"), &review)?,
        "xlsx" => qianbiao_report::write_findings_xlsx(&out.join("findings.xlsx"), &review)?,
        "parquet" => qianbiao_report::write_findings_parquet_with_ids(
            &out.join("findings.parquet"),
            &findings,
            &ids,
        )?,
        "csv" => qianbiao_report::write_findings_csv_with_ids(
            &out.join("findings.csv"),
            &findings,
            &ids,
        )?,
        other => return Err(format!("no writer {other}: html, xlsx, parquet or csv").into()),
    }
    eprintln!(
        "{n} findings: resident {} MiB before the write, peak {} MiB",
        before / 1024,
        status_kib("VmHWM") / 1024
    );
    let mut by_rule: BTreeMap<&str, (u64, Fen)> = BTreeMap::new();
    for f in &findings {
        let e = by_rule.entry(f.rule).or_default();
        e.0 += 1;
        e.1 += f.amount;
    }
    let by_rule: serde_json::Map<String, serde_json::Value> = by_rule
        .into_iter()
        .map(|(k, (c, a))| {
            (
                k.to_string(),
                serde_json::json!({"count": c, "amount": a.to_string()}),
            )
        })
        .collect();
    let total: Fen = findings.iter().map(|f| f.amount).sum();
    let manifest = serde_json::json!({"findings": {"total": n, "amount": total.to_string(), "by_rule": by_rule}});
    std::fs::write(
        out.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)?,
    )?;
    Ok(())
}

/// A line of `/proc/self/status` in KiB (0 where there is none).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
