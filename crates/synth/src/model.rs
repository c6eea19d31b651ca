//! The canonical records of a generated town: what every input row means after
//! normalisation. Writers render these (cleanly or dirtily); the reference evaluator
//! reads them.

use chrono::{NaiveDate, NaiveDateTime};
use qianbiao_core::{Category, Fen, Scheme};

/// Hukou status of a resident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HStatus {
    /// 正常.
    Normal,
    /// 死亡.
    Dead,
    /// 迁出.
    MovedOut,
    /// 注销.
    Cancelled,
}

impl HStatus {
    pub(crate) fn zh(self) -> &'static str {
        match self {
            HStatus::Normal => "正常",
            HStatus::Dead => "死亡",
            HStatus::MovedOut => "迁出",
            HStatus::Cancelled => "注销",
        }
    }
}

/// One hukou row.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub id: String,
    pub name: String,
    pub male: bool,
    pub birth: NaiveDate,
    pub village: u16,
    pub household_no: String,
    pub permit: bool,
    pub status: HStatus,
    pub status_date: Option<NaiveDate>,
}

/// One death notice.
#[derive(Debug, Clone)]
pub(crate) struct Death {
    pub id: String,
    pub name: String,
    pub death_date: NaiveDate,
    pub source: &'static str,
    pub notice_date: Option<NaiveDate>,
}

/// One special-group row.
#[derive(Debug, Clone)]
pub(crate) struct Elig {
    pub id: String,
    pub name: String,
    pub category: Category,
    pub level: Option<u8>,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub dept: &'static str,
}

/// Registration status (参保状态).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RegStatus {
    Active,
    Suspended,
    Ended,
}

impl RegStatus {
    pub(crate) fn zh(self) -> &'static str {
        match self {
            RegStatus::Active => "参保缴费",
            RegStatus::Suspended => "暂停缴费",
            RegStatus::Ended => "终止",
        }
    }
}

/// One registration row.
#[derive(Debug, Clone)]
pub(crate) struct Reg {
    pub id: String,
    pub name: String,
    pub scheme: Scheme,
    pub status: RegStatus,
    pub tier: Option<i64>,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

/// Who paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Payer {
    Individual,
    Government,
    Back,
}

impl Payer {
    pub(crate) fn zh(self) -> &'static str {
        match self {
            Payer::Individual => "个人缴费",
            Payer::Government => "政府代缴",
            Payer::Back => "补缴",
        }
    }
}

/// Payment row status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PStatus {
    Success,
    Refunded,
    Voided,
    Cancelled,
}

impl PStatus {
    pub(crate) fn zh(self) -> &'static str {
        match self {
            PStatus::Success => "成功",
            PStatus::Refunded => "已退费",
            PStatus::Voided => "作废",
            PStatus::Cancelled => "撤销",
        }
    }
}

/// One payments row (as read, in read order; a DQ-003 conflict is a second row with the
/// same txn_id).
#[derive(Debug, Clone)]
pub(crate) struct Payment {
    pub txn_id: String,
    /// Canonical id text (may be invalid, then it is the normalised text).
    pub id: String,
    pub name: String,
    pub scheme: Scheme,
    pub period: i32,
    pub amount: Fen,
    pub paid_at: NaiveDateTime,
    pub channel: &'static str,
    pub payer: Payer,
    pub collector: String,
    pub village: u16,
    pub receipt_no: String,
    pub account: String,
    pub deposit_id: String,
    pub status: PStatus,
    /// Render the id in its 15-digit legacy form (only for valid ids born 19xx).
    pub legacy15: bool,
    /// The id was typed into Excel as a number and lost its last digits: `id` holds the
    /// digits Excel kept (15 significant, then zeros). Written only to the XLSX part, as a
    /// number cell.
    pub lost: bool,
}

impl Payment {
    pub(crate) fn effective(&self) -> bool {
        self.status == PStatus::Success
    }

    pub(crate) fn date(&self) -> NaiveDate {
        self.paid_at.date()
    }
}

/// One collector receipt row.
#[derive(Debug, Clone)]
pub(crate) struct Receipt {
    pub receipt_no: String,
    pub collector: String,
    pub id: String,
    pub name: String,
    pub scheme: Scheme,
    pub period: i32,
    pub amount: Fen,
    pub collected_at: NaiveDateTime,
    pub village: u16,
}

/// One deposit row.
#[derive(Debug, Clone)]
pub(crate) struct Deposit {
    pub deposit_id: String,
    pub collector: String,
    pub amount: Fen,
    pub deposited_at: NaiveDateTime,
    pub person_count: Option<u32>,
    pub village: u16,
}

/// One roster row.
#[derive(Debug, Clone)]
pub(crate) struct RosterRow {
    pub id: String,
    pub name: String,
    pub village: u16,
    pub scheme: Scheme,
    pub expected: Option<Fen>,
    pub collector: String,
    pub batch: &'static str,
}

/// A village of the town.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Village {
    pub name: String,
    pub office: String,
}

/// All records of one chunk (one village; identifiers never cross chunks).
#[derive(Debug, Clone, Default)]
pub(crate) struct Chunk {
    pub persons: Vec<Person>,
    pub deaths: Vec<Death>,
    pub eligibility: Vec<Elig>,
    pub registrations: Vec<Reg>,
    pub payments: Vec<Payment>,
    pub receipts: Vec<Receipt>,
    pub deposits: Vec<Deposit>,
    pub roster: Vec<RosterRow>,
}

impl Chunk {
    /// Appends another chunk's records (used to evaluate several chunks together).
    pub(crate) fn extend(&mut self, other: Chunk) {
        self.persons.extend(other.persons);
        self.deaths.extend(other.deaths);
        self.eligibility.extend(other.eligibility);
        self.registrations.extend(other.registrations);
        self.payments.extend(other.payments);
        self.receipts.extend(other.receipts);
        self.deposits.extend(other.deposits);
        self.roster.extend(other.roster);
    }
}
