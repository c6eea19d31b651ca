//! The eight departmental exports a run reads.

use std::fmt;

/// One of the eight departmental exports.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum SourceKind {
    /// 户籍: the household registry.
    Hukou,
    /// 死亡人员: death notices.
    Deaths,
    /// 特殊群体: special-group eligibility lists.
    Eligibility,
    /// 参保登记: insurance registrations.
    Registrations,
    /// 缴费明细: the payment ledger.
    Payments,
    /// 代办员收款登记: collectors' receipts.
    Receipts,
    /// 解缴入库: deposits.
    Deposits,
    /// 征收清册: the roster.
    Roster,
}

impl SourceKind {
    /// All sources in the order they are loaded.
    pub const ALL: [SourceKind; 8] = [
        SourceKind::Hukou,
        SourceKind::Deaths,
        SourceKind::Eligibility,
        SourceKind::Registrations,
        SourceKind::Payments,
        SourceKind::Receipts,
        SourceKind::Deposits,
        SourceKind::Roster,
    ];

    /// The file or folder name of the source.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Hukou => "hukou",
            SourceKind::Deaths => "deaths",
            SourceKind::Eligibility => "eligibility",
            SourceKind::Registrations => "registrations",
            SourceKind::Payments => "payments",
            SourceKind::Receipts => "receipts",
            SourceKind::Deposits => "deposits",
            SourceKind::Roster => "roster",
        }
    }

    /// The Chinese name, for messages.
    pub fn zh(self) -> &'static str {
        match self {
            SourceKind::Hukou => "户籍",
            SourceKind::Deaths => "死亡人员",
            SourceKind::Eligibility => "特殊群体",
            SourceKind::Registrations => "参保登记",
            SourceKind::Payments => "缴费明细",
            SourceKind::Receipts => "收款登记",
            SourceKind::Deposits => "解缴入库",
            SourceKind::Roster => "征收清册",
        }
    }

    /// True for `hukou` and `payments`, without which nothing runs.
    pub fn is_required(self) -> bool {
        matches!(self, SourceKind::Hukou | SourceKind::Payments)
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
