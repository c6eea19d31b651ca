//! The run's two summary tables, `coverage.csv` and `collectors.csv`: COV-001 and the
//! engine fill them, the writers write them.

use rust_decimal::Decimal;

use crate::rule::RuleMeta;
use crate::Fen;

/// One row of `coverage.csv`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CoverageRow {
    /// Hukou village.
    pub village: String,
    /// Band name, e.g. `pension_45_59`.
    pub band: String,
    /// Eligible residents.
    pub eligible: u64,
    /// Of them, those with an effective payment of the band's scheme for Y.
    pub covered: u64,
    /// The band's target, if any.
    pub target: Option<Decimal>,
}

impl CoverageRow {
    /// covered / eligible, rounded to 4 places; None with nobody eligible.
    pub fn rate(&self) -> Option<Decimal> {
        (self.eligible > 0)
            .then(|| (Decimal::from(self.covered) / Decimal::from(self.eligible)).round_dp(4))
    }

    /// Below a target, compared exactly (covered < target × eligible); None without a
    /// target or with nobody eligible.
    pub fn below_target(&self) -> Option<bool> {
        let t = self.target?;
        (self.eligible > 0).then(|| Decimal::from(self.covered) < t * Decimal::from(self.eligible))
    }
}

/// A coverage band in Chinese: `pension_45_59` as `养老 45–59 岁`, `medical` as `医保`.
pub fn band_zh(band: &str) -> String {
    let (kind, rest) = match band.split_once('_') {
        Some((k, r)) => (k, Some(r)),
        None => (band, None),
    };
    let kind_zh = match kind {
        "pension" => "养老",
        "medical" => "医保",
        _ => return band.to_string(),
    };
    match rest.and_then(|r| r.split_once('_')) {
        Some((a, b)) => format!("{kind_zh} {a}–{b} 岁"),
        None => kind_zh.to_string(),
    }
}

/// A ratio as a percentage, without trailing zeros: 0.5532 as `55.32%`, 0.60 as `60%`.
pub fn percent(ratio: Decimal) -> String {
    format!("{}%", (ratio * Decimal::from(100)).normalize())
}

/// One collector's money: what they booked, handed in and wrote receipts for.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CollectorRow {
    /// 代办员编号.
    pub collector_id: String,
    /// Effective payments carrying the collector.
    pub payments: u64,
    /// Their total.
    pub amount: Fen,
    /// Total of the collector's deposits rows.
    pub deposited_amount: Fen,
    /// The collector's receipts rows.
    pub receipts: u64,
    /// Their total.
    pub receipt_amount: Fen,
    /// Findings naming the collector, all rules.
    pub findings: u64,
    /// Findings per MNY rule, in the order of [`mny_rules`].
    pub mny: Vec<u64>,
}

impl CollectorRow {
    /// Booked minus deposited: money the collector still holds (negative: deposited more).
    pub fn difference(&self) -> Fen {
        self.amount - self.deposited_amount
    }
}

/// The MNY rules of a catalogue, in its order: the per-rule columns of the collectors
/// table.
pub fn mny_rules(rules: &[&'static RuleMeta]) -> Vec<&'static RuleMeta> {
    rules
        .iter()
        .copied()
        .filter(|m| m.code.starts_with("MNY-"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Severity, SourceKind};

    #[test]
    fn bands_and_rates_in_chinese() {
        assert_eq!(band_zh("pension_45_59"), "养老 45–59 岁");
        assert_eq!(band_zh("medical"), "医保");
        assert_eq!(band_zh("other"), "other");
        assert_eq!(percent(Decimal::new(5532, 4)), "55.32%");
        assert_eq!(percent(Decimal::new(60, 2)), "60%");
        assert_eq!(percent(Decimal::new(1, 0)), "100%");
        assert_eq!(percent(Decimal::ZERO), "0%");
    }

    fn meta(code: &'static str) -> &'static RuleMeta {
        Box::leak(Box::new(RuleMeta {
            code,
            severity: Severity::High,
            name_zh: "",
            name_en: "",
            needs: &[SourceKind::Deposits],
            doc: "",
        }))
    }

    #[test]
    fn the_collectors_mny_columns_are_the_catalogues_mny_rules_in_its_order() {
        let rules = [
            meta("DUP-001"),
            meta("MNY-001"),
            meta("AMT-005"),
            meta("MNY-007"),
            meta("MNY-002"),
        ];
        let codes: Vec<&str> = mny_rules(&rules).iter().map(|m| m.code).collect();
        assert_eq!(codes, ["MNY-001", "MNY-007", "MNY-002"]);
        assert!(mny_rules(&rules[..1]).is_empty());
    }

    #[test]
    fn coverage_rates_and_targets_are_exact() {
        let row = |eligible, covered, target: Option<&str>| CoverageRow {
            village: "店子村".into(),
            band: "medical".into(),
            eligible,
            covered,
            target: target.map(|t| t.parse().unwrap()),
        };
        assert_eq!(row(3, 2, None).rate(), Some("0.6667".parse().unwrap()));
        assert_eq!(row(0, 0, Some("0.9")).rate(), None);
        assert_eq!(row(0, 0, Some("0.9")).below_target(), None);
        // 9 of 10 is exactly the target: not below.
        assert_eq!(row(10, 9, Some("0.9")).below_target(), Some(false));
        assert_eq!(row(10, 8, Some("0.9")).below_target(), Some(true));
        assert_eq!(row(10, 8, None).below_target(), None);
    }
}
