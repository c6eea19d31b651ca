//! The finding: one row of the findings table (`data-contract.md`, Output).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::codes::Scheme;
use crate::money::Fen;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    /// Money taken wrongly or lost: act now.
    High,
    /// A breach to correct.
    Medium,
    /// A record to tidy.
    Low,
}

impl Severity {
    /// `high`, `medium` or `low`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding: a rule fired for one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule's code, e.g. `DTH-001`.
    #[serde(deserialize_with = "crate::static_str")]
    pub rule: crate::StaticStr,
    /// The rule's severity.
    pub severity: Severity,
    /// The rule's key (one finding per key).
    pub key: String,
    /// Canonical id, empty where no single person is concerned.
    pub id_number: String,
    /// The person's name (hukou's where known).
    pub name: String,
    /// The village (hukou's where known).
    pub village: String,
    /// The collector concerned, empty where none.
    pub collector_id: String,
    /// The scheme, where the rule has one.
    pub scheme: Option<Scheme>,
    /// The contribution year, where the rule has one.
    pub period: Option<i32>,
    /// The money involved as the rule defines it.
    pub amount: Fen,
    /// Payment txn_ids behind the finding (sorted and deduplicated when written).
    pub txn_ids: Vec<String>,
    /// One sentence in Chinese a reviewer can act on.
    pub detail: String,
    /// Evidence as `file:line`.
    pub sources: Vec<String>,
}

impl Finding {
    /// A finding with only rule, severity and key set; rules fill in the rest.
    pub fn new(rule: &'static str, severity: Severity, key: impl Into<String>) -> Finding {
        Finding {
            rule,
            severity,
            key: key.into(),
            id_number: String::new(),
            name: String::new(),
            village: String::new(),
            collector_id: String::new(),
            scheme: None,
            period: None,
            amount: Fen::ZERO,
            txn_ids: Vec::new(),
            detail: String::new(),
            sources: Vec::new(),
        }
    }

    /// A stable id: the rule code and a 64-bit FNV-1a hash of `rule|key`, so the same rule
    /// and key give the same id in every run and on every machine.
    pub fn finding_id(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.rule.bytes().chain([b'|']).chain(self.key.bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{}-{h:016x}", self.rule)
    }

    /// Sorts and deduplicates the list columns, so output never depends on rule internals.
    pub fn tidy(&mut self) {
        self.txn_ids.sort();
        self.txn_ids.dedup();
        self.sources
            .sort_by(|a, b| source_order(a).cmp(&source_order(b)));
        self.sources.dedup();
    }
}

/// Orders `file:line` by file, then line as a number.
fn source_order(s: &str) -> (&str, u64) {
    match s.rsplit_once(':') {
        Some((f, l)) => (f, l.parse().unwrap_or(u64::MAX)),
        None => (s, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_id_is_stable_and_distinct() {
        let a = Finding::new("DTH-001", Severity::High, "T1");
        let b = Finding::new("DTH-001", Severity::High, "T2");
        assert_eq!(
            a.finding_id(),
            Finding::new("DTH-001", Severity::High, "T1").finding_id()
        );
        assert_ne!(a.finding_id(), b.finding_id());
        assert!(a.finding_id().starts_with("DTH-001-"));
        assert_eq!(a.finding_id().len(), "DTH-001-".len() + 16);
    }

    #[test]
    fn tidy_sorts_sources_by_line_number() {
        let mut f = Finding::new("DUP-001", Severity::High, "k");
        f.sources = vec![
            "payments.csv:10".into(),
            "payments.csv:9".into(),
            "payments.csv:9".into(),
        ];
        f.txn_ids = vec!["b".into(), "a".into()];
        f.tidy();
        assert_eq!(f.sources, ["payments.csv:9", "payments.csv:10"]);
        assert_eq!(f.txn_ids, ["a", "b"]);
    }
}
