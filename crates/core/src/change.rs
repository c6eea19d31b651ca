//! How a finding changed since the previous run of a workspace (`operations.md`).

use crate::money::Fen;

/// One of the four changes of a finding between two runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// Not in the previous run.
    New,
    /// In both, same amount and evidence.
    Persisting,
    /// In both, amount or evidence differ.
    Changed,
    /// In the previous run, not in this one.
    Resolved,
}

impl ChangeKind {
    /// The English word written to `changes.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::New => "new",
            ChangeKind::Persisting => "persisting",
            ChangeKind::Changed => "changed",
            ChangeKind::Resolved => "resolved",
        }
    }

    /// The Chinese word the report and workbook show.
    pub fn zh(self) -> &'static str {
        match self {
            ChangeKind::New => "新增",
            ChangeKind::Persisting => "持续",
            ChangeKind::Changed => "变化",
            ChangeKind::Resolved => "已消除",
        }
    }

    /// Parses the English word.
    pub fn parse(s: &str) -> Option<ChangeKind> {
        Some(match s {
            "new" => ChangeKind::New,
            "persisting" => ChangeKind::Persisting,
            "changed" => ChangeKind::Changed,
            "resolved" => ChangeKind::Resolved,
            _ => return None,
        })
    }
}

/// One row of `changes.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The finding's stable id.
    pub finding_id: String,
    /// The rule code.
    pub rule: String,
    /// The rule's key.
    pub key: String,
    /// What happened to it.
    pub change: ChangeKind,
    /// Its amount in the previous run (None when new).
    pub previous_amount: Option<Fen>,
    /// Its amount in this run (None when resolved).
    pub amount: Option<Fen>,
    /// The RUN_ID of the first run that found it.
    pub first_seen: String,
    /// The finding's detail (this run's, or the previous run's when resolved).
    pub detail: String,
}
