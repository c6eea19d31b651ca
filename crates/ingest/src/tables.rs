//! Typed, normalised rows of each source, each with its provenance.

use chrono::{NaiveDate, NaiveDateTime};
use compact_str::CompactString;
use qianbiao_core::{Category, Fen, HukouStatus, PayerType, PaymentStatus, Scheme};

/// Short text stored inline (ids, names, codes fit in 24 bytes without a heap allocation).
pub type Text = CompactString;

/// Where a row came from: an index into [`crate::Dataset::files`] and the line
/// (header is line 1, first data row line 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prov {
    /// Index of the file in the dataset's file table.
    pub file: u32,
    /// Line of the row in that file.
    pub line: u32,
}

/// A row of 户籍.
#[derive(Debug, Clone, PartialEq)]
pub struct HukouRow {
    /// Canonical valid id.
    pub id: Text,
    /// Normalised name.
    pub name: Text,
    /// 性别 as given.
    pub gender: Text,
    /// 出生日期 as given (rules use the id's birth date).
    pub birth_date: Option<NaiveDate>,
    /// 村居.
    pub village: Text,
    /// 办事处.
    pub office: Text,
    /// 户号 (empty: a household alone).
    pub household_no: Text,
    /// True for 居住证 holders.
    pub residence_permit: bool,
    /// 户籍状态.
    pub status: HukouStatus,
    /// 变动日期 (present whenever the status is not 正常).
    pub status_date: Option<NaiveDate>,
    /// Provenance.
    pub prov: Prov,
}

/// A row of 死亡人员.
#[derive(Debug, Clone, PartialEq)]
pub struct DeathRow {
    /// Canonical valid id.
    pub id: Text,
    /// Name as given.
    pub name: Text,
    /// 死亡日期.
    pub death_date: NaiveDate,
    /// 信息来源 (派出所, 民政, 卫健, 殡葬).
    pub source: Text,
    /// 通报日期.
    pub notice_date: Option<NaiveDate>,
    /// Provenance.
    pub prov: Prov,
}

/// A row of 特殊群体.
#[derive(Debug, Clone, PartialEq)]
pub struct EligibilityRow {
    /// Canonical valid id.
    pub id: Text,
    /// Name as given.
    pub name: Text,
    /// The group.
    pub category: Category,
    /// 残疾等级 1-4 (残疾 only; empty when not given or unreadable).
    pub disability_level: Option<u8>,
    /// 认定日期.
    pub valid_from: NaiveDate,
    /// 终止日期 (empty: still valid).
    pub valid_to: Option<NaiveDate>,
    /// 认定部门.
    pub source_dept: Text,
    /// Provenance.
    pub prov: Prov,
}

impl EligibilityRow {
    /// True when the row is in force on `day`.
    pub fn active_on(&self, day: NaiveDate) -> bool {
        self.valid_from <= day && self.valid_to.is_none_or(|to| day <= to)
    }
}

/// A row of 参保登记.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrationRow {
    /// Canonical valid id.
    pub id: Text,
    /// Name as given.
    pub name: Text,
    /// The scheme.
    pub scheme: Scheme,
    /// 参保状态 as given.
    pub status: Text,
    /// 缴费档次 as given.
    pub tier: Text,
    /// 参保日期.
    pub start_date: NaiveDate,
    /// 终止日期.
    pub end_date: Option<NaiveDate>,
    /// Provenance.
    pub prov: Prov,
}

/// A row of 缴费明细.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentRow {
    /// 流水号.
    pub txn_id: Text,
    /// Canonical id if valid, else the normalised text.
    pub id: Text,
    /// Whether `id` is a valid id number (invalid rows are kept for DQ-001).
    pub id_valid: bool,
    /// The id came from an Excel numeric cell of 16+ digits or CSV scientific notation:
    /// its last digits are lost, so it stands for nobody (no DUP/DQ-002 grouping).
    pub id_lost: bool,
    /// Normalised name.
    pub name: Text,
    /// The scheme.
    pub scheme: Scheme,
    /// 费款所属期.
    pub period: i32,
    /// 缴费金额.
    pub amount: Fen,
    /// 缴费时间.
    pub paid_at: NaiveDateTime,
    /// 缴费渠道.
    pub channel: Text,
    /// 缴费类型.
    pub payer_type: PayerType,
    /// 代办员编号 (empty: not a collector payment).
    pub collector_id: Text,
    /// 村居 as given.
    pub village: Text,
    /// 收据号.
    pub receipt_no: Text,
    /// 付款账户.
    pub payer_account: Text,
    /// 解缴单号.
    pub deposit_id: Text,
    /// 状态.
    pub status: PaymentStatus,
    /// Provenance.
    pub prov: Prov,
}

impl PaymentRow {
    /// Same canonical content (everything but provenance): an export of the same payment.
    pub fn same_content(&self, other: &PaymentRow) -> bool {
        self.txn_id == other.txn_id
            && self.id == other.id
            && self.id_valid == other.id_valid
            && self.id_lost == other.id_lost
            && self.name == other.name
            && self.scheme == other.scheme
            && self.period == other.period
            && self.amount == other.amount
            && self.paid_at == other.paid_at
            && self.channel == other.channel
            && self.payer_type == other.payer_type
            && self.collector_id == other.collector_id
            && self.village == other.village
            && self.receipt_no == other.receipt_no
            && self.payer_account == other.payer_account
            && self.deposit_id == other.deposit_id
            && self.status == other.status
    }

    /// True for status 成功.
    pub fn is_effective(&self) -> bool {
        self.status.is_effective()
    }
}

/// A row of 代办员收款登记.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiptRow {
    /// 收据号.
    pub receipt_no: Text,
    /// 代办员编号.
    pub collector_id: Text,
    /// Canonical id if valid, else the normalised text.
    pub id: Text,
    /// Whether `id` is valid (invalid rows are kept for DQ-001).
    pub id_valid: bool,
    /// As [`PaymentRow::id_lost`].
    pub id_lost: bool,
    /// Name.
    pub name: Text,
    /// The scheme.
    pub scheme: Scheme,
    /// The contribution year (default: the policy year).
    pub period: i32,
    /// 收款金额.
    pub amount: Fen,
    /// 收款日期.
    pub collected_at: NaiveDateTime,
    /// 村居.
    pub village: Text,
    /// Provenance.
    pub prov: Prov,
}

/// A row of 解缴入库.
#[derive(Debug, Clone, PartialEq)]
pub struct DepositRow {
    /// 解缴单号.
    pub deposit_id: Text,
    /// 代办员编号.
    pub collector_id: Text,
    /// 解缴金额.
    pub amount: Fen,
    /// 解缴日期.
    pub deposited_at: NaiveDateTime,
    /// 人数 (empty: not compared).
    pub person_count: Option<u32>,
    /// 村居.
    pub village: Text,
    /// Provenance.
    pub prov: Prov,
}

/// A row of 征收清册.
#[derive(Debug, Clone, PartialEq)]
pub struct RosterRow {
    /// Canonical valid id.
    pub id: Text,
    /// Name.
    pub name: Text,
    /// 村居.
    pub village: Text,
    /// The scheme.
    pub scheme: Scheme,
    /// 应缴金额.
    pub expected_amount: Option<Fen>,
    /// 代办员编号.
    pub collector_id: Text,
    /// 清册批次.
    pub batch: Text,
    /// Provenance.
    pub prov: Prov,
}

/// A `deaths` row rejected only for an invalid id (it stays in `rejected.csv`), kept so
/// that identity linkage can tie it to a hukou person (DTH-005).
#[derive(Debug, Clone, PartialEq)]
pub struct LinkableDeath {
    /// The id as typed, normalised (invalid).
    pub id: Text,
    /// The id lost its last digits as an Excel number (see [`PaymentRow::id_lost`]).
    pub id_lost: bool,
    /// The name, normalised (may be empty: then it is never linked).
    pub name: Text,
    /// The row's own death date.
    pub death_date: NaiveDate,
    /// Where the row is.
    pub prov: Prov,
}

/// A control total stated on a totals row (合计/总计/小计) of a file (DQ-004).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlTotal {
    /// The file, an index into `Dataset::files`.
    pub file: u32,
    /// The totals row's physical line.
    pub line: u32,
    /// The label as written (trimmed), e.g. `合计`.
    pub label: Text,
    /// The amount stated on the totals row.
    pub stated: Fen,
    /// The sum of the money cells of the rows it covers that parse as amounts.
    pub sum: Fen,
    /// How many rows it covers (rows read in its range whose money cell parses).
    pub rows: u32,
}
