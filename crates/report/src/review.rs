//! What the reviewers' outputs (`findings.xlsx`, `report.html`) show, and the Chinese
//! words they show it with.

use chrono::NaiveDate;
use qianbiao_core::summary::{CollectorRow, CoverageRow};
use qianbiao_core::RuleMeta;
use qianbiao_core::{Change, Fen, Finding, Severity};
use qianbiao_ingest::FileReport;

/// Everything a reviewers' output shows, as the run wrote it (already masked under
/// `--mask`).
#[derive(Debug, Clone, Copy)]
pub struct Review<'a> {
    /// The run's as_of.
    pub as_of: NaiveDate,
    /// The pipeline's name.
    pub pipeline: &'a str,
    /// Findings as written (masked when `masked`), sorted by rule then key.
    pub findings: &'a [Finding],
    /// `finding_id` of each finding, from the unmasked key.
    pub ids: &'a [String],
    /// The person of each finding, numbered from its unmasked id ([`crate::person_numbers`];
    /// 0: none): under `--mask` two persons whose masked ids are alike stay two.
    pub persons: &'a [u32],
    /// Per-collector money.
    pub collectors: &'a [CollectorRow],
    /// Coverage per village and band.
    pub coverage: &'a [CoverageRow],
    /// Changes since the previous run of a workspace, when there is one.
    pub changes: Option<&'a [Change]>,
    /// Input files read, with their row counts.
    pub inputs: &'a [FileReport],
    /// Per rule: `{"code", "status": "run"|"skipped", "reason"?}` as in the manifest.
    pub rule_status: &'a [serde_json::Value],
    /// True under `--mask`.
    pub masked: bool,
    /// The rule catalogue, in code order (the registry's descriptions).
    pub rules: &'a [&'static RuleMeta],
}

/// One rule's line of the summary.
#[derive(Debug, Clone)]
pub struct RuleTotal {
    /// The rule's description.
    pub meta: &'static RuleMeta,
    /// Findings of the rule.
    pub count: u64,
    /// Their amounts.
    pub amount: Fen,
    /// Why the rule did not run, when it did not.
    pub skipped: Option<String>,
}

impl Review<'_> {
    /// The Chinese name of a rule code of the catalogue; empty for an unknown code.
    pub fn rule_name_zh(&self, code: &str) -> &'static str {
        self.rules
            .iter()
            .find(|m| m.code == code)
            .map_or("", |m| m.name_zh)
    }

    /// The catalogue's MNY rules: the per-rule columns of the collectors table.
    pub fn mny_rules(&self) -> Vec<&'static RuleMeta> {
        qianbiao_core::summary::mny_rules(self.rules)
    }

    /// Per rule of the registry, in code order: count, amount and whether it ran.
    pub fn rule_totals(&self) -> Vec<RuleTotal> {
        let mut out: Vec<RuleTotal> = self
            .rules
            .iter()
            .map(|&meta| {
                let skipped = self
                    .rule_status
                    .iter()
                    .find(|s| s["code"] == meta.code && s["status"] == "skipped")
                    .map(|s| s["reason"].as_str().unwrap_or("").to_string());
                RuleTotal {
                    meta,
                    count: 0,
                    amount: Fen::ZERO,
                    skipped,
                }
            })
            .collect();
        for f in self.findings {
            if let Some(t) = out.iter_mut().find(|t| t.meta.code == f.rule) {
                t.count += 1;
                t.amount += f.amount;
            }
        }
        out
    }

    /// Rows read, accepted and rejected over every input file.
    pub fn rows(&self) -> (u64, u64, u64) {
        self.inputs.iter().fold((0, 0, 0), |(r, a, j), f| {
            (r + f.rows_read, a + f.rows_accepted, j + f.rows_rejected)
        })
    }
}

/// 高, 中, 低.
pub fn severity_zh(s: Severity) -> &'static str {
    match s {
        Severity::High => "高",
        Severity::Medium => "中",
        Severity::Low => "低",
    }
}

/// The Chinese name of a rule family (`DTH` of `DTH-001`).
pub fn family_zh(code: &str) -> &'static str {
    match code.split('-').next().unwrap_or("") {
        "DUP" => "重复缴费",
        "DTH" => "死亡人员",
        "AMT" => "缴费金额",
        "ELG" => "参保资格",
        "MNY" => "资金与清册",
        "DQ" => "数据质量",
        "IDN" => "身份识别",
        "COV" => "参保率",
        _ => "其他",
    }
}

pub use qianbiao_core::summary::band_zh;

/// Width of text as a spreadsheet shows it: CJK and full-width characters count two.
pub fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_words() {
        assert_eq!(family_zh("MNY-003"), "资金与清册");
        assert_eq!(display_width("王涛ab"), 6);
    }
}
