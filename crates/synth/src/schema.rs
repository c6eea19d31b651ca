//! The eight sources as columns of typed cells, shared by the clean and dirty writers.

use std::borrow::Cow;
use std::io::Write;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use qianbiao_core::{Category, Fen};

use crate::model::{Chunk, Village};

/// What a column holds, for native Parquet types and dirty spellings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Free text.
    Text,
    /// An id number.
    Id,
    /// A person's name.
    Name,
    /// A scheme (glossary spellings).
    Scheme,
    /// A payer type (glossary spellings).
    Payer,
    /// A payment status.
    PayStatus,
    /// A hukou status.
    HukouStatus,
    /// Residence type.
    Residence,
    /// A special-group category.
    Category,
    /// Disability level 1-4.
    Level,
    /// A contribution year.
    Period,
    /// A whole number.
    Int,
    /// Money.
    Money,
    /// A date.
    Date,
    /// A date and time.
    DateTime,
}

/// One column: canonical name, aliases, kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Col {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    pub required: bool,
}

/// A typed cell value (text borrowed from the records where it can be).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell<'a> {
    Text(Cow<'a, str>),
    Int(i64),
    Money(Fen),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
    Null,
}

/// The eight sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Source {
    Hukou,
    Deaths,
    Eligibility,
    Registrations,
    Payments,
    Receipts,
    Deposits,
    Roster,
}

pub(crate) const SOURCES: [Source; 8] = [
    Source::Hukou,
    Source::Deaths,
    Source::Eligibility,
    Source::Registrations,
    Source::Payments,
    Source::Receipts,
    Source::Deposits,
    Source::Roster,
];

const fn col(
    name: &'static str,
    aliases: &'static [&'static str],
    kind: Kind,
    required: bool,
) -> Col {
    Col {
        name,
        aliases,
        kind,
        required,
    }
}

const ID: Col = col(
    "id_number",
    &["公民身份号码", "身份证号码", "身份证号", "证件号码"],
    Kind::Id,
    true,
);
impl Col {
    /// The same column, required.
    const fn req(self) -> Col {
        Col {
            required: true,
            ..self
        }
    }
}

const NAME: Col = col("name", &["姓名"], Kind::Name, false);
const VILLAGE: Col = col(
    "village",
    &["村居", "村(居)", "所属村居", "村委会"],
    Kind::Text,
    false,
);
const SCHEME: Col = col(
    "scheme",
    &["险种", "险种类型", "征收品目"],
    Kind::Scheme,
    true,
);
const PERIOD: Col = col(
    "period",
    &["费款所属期", "所属期", "所属年度"],
    Kind::Period,
    false,
);
const COLLECTOR: Col = col("collector_id", &["代办员编号", "代办员"], Kind::Text, false);
const RECEIPT: Col = col("receipt_no", &["收据号", "收据编号"], Kind::Text, false);
const DEPOSIT_ID: Col = col("deposit_id", &["解缴单号", "入库批次"], Kind::Text, false);

impl Source {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Source::Hukou => "hukou",
            Source::Deaths => "deaths",
            Source::Eligibility => "eligibility",
            Source::Registrations => "registrations",
            Source::Payments => "payments",
            Source::Receipts => "receipts",
            Source::Deposits => "deposits",
            Source::Roster => "roster",
        }
    }

    pub(crate) fn columns(self) -> &'static [Col] {
        match self {
            Source::Hukou => {
                const C: &[Col] = &[
                    ID,
                    NAME.req(),
                    col("gender", &["性别"], Kind::Text, false),
                    col("birth_date", &["出生日期"], Kind::Date, false),
                    VILLAGE.req(),
                    col("office", &["办事处", "管区"], Kind::Text, false),
                    col("household_no", &["户号"], Kind::Text, false),
                    col(
                        "residence_type",
                        &["户籍类型", "人员类型"],
                        Kind::Residence,
                        false,
                    ),
                    col(
                        "status",
                        &["户籍状态", "人员状态"],
                        Kind::HukouStatus,
                        false,
                    ),
                    col("status_date", &["变动日期", "状态日期"], Kind::Date, false),
                ];
                C
            }
            Source::Deaths => {
                const C: &[Col] = &[
                    ID,
                    NAME,
                    col("death_date", &["死亡日期"], Kind::Date, true),
                    col("source", &["信息来源", "来源"], Kind::Text, false),
                    col("notice_date", &["通报日期"], Kind::Date, false),
                ];
                C
            }
            Source::Eligibility => {
                const C: &[Col] = &[
                    ID,
                    NAME,
                    col(
                        "category",
                        &["人员类别", "类别", "困难类别"],
                        Kind::Category,
                        true,
                    ),
                    col("disability_level", &["残疾等级"], Kind::Level, false),
                    // 开始日期/终止日期 are also aliases of start_date/end_date; left out.
                    col("valid_from", &["认定日期", "起始日期"], Kind::Date, true),
                    col("valid_to", &["截止日期"], Kind::Date, false),
                    col("source_dept", &["认定部门", "来源部门"], Kind::Text, false),
                ];
                C
            }
            Source::Registrations => {
                const C: &[Col] = &[
                    ID,
                    NAME,
                    SCHEME,
                    col("status", &["参保状态"], Kind::Text, false),
                    col("tier", &["缴费档次"], Kind::Int, false),
                    col("start_date", &["参保日期"], Kind::Date, true),
                    col("end_date", &["结束日期"], Kind::Date, false),
                ];
                C
            }
            Source::Payments => {
                const C: &[Col] = &[
                    col(
                        "txn_id",
                        &["流水号", "缴费流水号", "电子税票号码", "票证号码"],
                        Kind::Text,
                        true,
                    ),
                    ID,
                    NAME,
                    SCHEME,
                    PERIOD.req(),
                    col(
                        "amount",
                        &["缴费金额", "实缴金额", "金额"],
                        Kind::Money,
                        true,
                    ),
                    col("paid_at", &["缴费时间", "缴费日期"], Kind::DateTime, true),
                    col("channel", &["缴费渠道", "渠道"], Kind::Text, false),
                    col("payer_type", &["缴费类型", "缴费方式"], Kind::Payer, false),
                    COLLECTOR,
                    VILLAGE,
                    RECEIPT,
                    col(
                        "payer_account",
                        &["付款账户", "付款账号"],
                        Kind::Text,
                        false,
                    ),
                    DEPOSIT_ID,
                    col("status", &["状态", "缴费状态"], Kind::PayStatus, false),
                ];
                C
            }
            Source::Receipts => {
                const C: &[Col] = &[
                    RECEIPT.req(),
                    COLLECTOR.req(),
                    ID,
                    NAME,
                    SCHEME,
                    PERIOD,
                    col("amount", &["收款金额", "金额"], Kind::Money, true),
                    col(
                        "collected_at",
                        &["收款日期", "收款时间"],
                        Kind::DateTime,
                        true,
                    ),
                    VILLAGE,
                ];
                C
            }
            Source::Deposits => {
                const C: &[Col] = &[
                    DEPOSIT_ID.req(),
                    COLLECTOR.req(),
                    col("amount", &["解缴金额", "金额"], Kind::Money, true),
                    col(
                        "deposited_at",
                        &["解缴日期", "入库日期"],
                        Kind::DateTime,
                        true,
                    ),
                    col("person_count", &["人数"], Kind::Int, false),
                    VILLAGE,
                ];
                C
            }
            Source::Roster => {
                const C: &[Col] = &[
                    ID,
                    NAME,
                    VILLAGE,
                    SCHEME,
                    col("expected_amount", &["应缴金额"], Kind::Money, false),
                    COLLECTOR,
                    col("batch", &["清册批次"], Kind::Text, false),
                ];
                C
            }
        }
    }

    /// Number of records of this source in a chunk.
    pub(crate) fn len(self, c: &Chunk) -> usize {
        match self {
            Source::Hukou => c.persons.len(),
            Source::Deaths => c.deaths.len(),
            Source::Eligibility => c.eligibility.len(),
            Source::Registrations => c.registrations.len(),
            Source::Payments => c.payments.len(),
            Source::Receipts => c.receipts.len(),
            Source::Deposits => c.deposits.len(),
            Source::Roster => c.roster.len(),
        }
    }

    /// The cells of record `k`, in column order.
    pub(crate) fn cells<'a>(
        self,
        c: &'a Chunk,
        k: usize,
        villages: &'a [Village],
    ) -> Vec<Cell<'a>> {
        let mut v = Vec::with_capacity(16);
        self.cells_into(c, k, villages, &mut v);
        v
    }

    /// The cells of record `k` into `out` (cleared first).
    pub(crate) fn cells_into<'a>(
        self,
        c: &'a Chunk,
        k: usize,
        villages: &'a [Village],
        out: &mut Vec<Cell<'a>>,
    ) {
        out.clear();
        let vname = |v: u16| Cell::Text(Cow::Borrowed(&villages[v as usize].name));
        let opt_text = |s: &'a str| {
            if s.is_empty() {
                Cell::Null
            } else {
                Cell::Text(Cow::Borrowed(s))
            }
        };
        let opt_date = |d: Option<NaiveDate>| d.map_or(Cell::Null, Cell::Date);
        match self {
            Source::Hukou => {
                let p = &c.persons[k];
                out.extend([
                    Cell::Text(Cow::Borrowed(&p.id)),
                    Cell::Text(Cow::Borrowed(&p.name)),
                    Cell::Text(Cow::Borrowed(if p.male { "男" } else { "女" })),
                    Cell::Date(p.birth),
                    vname(p.village),
                    Cell::Text(Cow::Borrowed(&villages[p.village as usize].office)),
                    opt_text(&p.household_no),
                    Cell::Text(Cow::Borrowed(if p.permit { "居住证" } else { "户籍" })),
                    Cell::Text(Cow::Borrowed(p.status.zh())),
                    opt_date(p.status_date),
                ]);
            }
            Source::Deaths => {
                let d = &c.deaths[k];
                out.extend([
                    Cell::Text(Cow::Borrowed(&d.id)),
                    opt_text(&d.name),
                    Cell::Date(d.death_date),
                    Cell::Text(Cow::Borrowed(d.source)),
                    opt_date(d.notice_date),
                ]);
            }
            Source::Eligibility => {
                let e = &c.eligibility[k];
                out.extend([
                    Cell::Text(Cow::Borrowed(&e.id)),
                    opt_text(&e.name),
                    Cell::Text(Cow::Borrowed(category_text(e.category))),
                    e.level.map_or(Cell::Null, |l| Cell::Int(i64::from(l))),
                    Cell::Date(e.valid_from),
                    opt_date(e.valid_to),
                    Cell::Text(Cow::Borrowed(e.dept)),
                ]);
            }
            Source::Registrations => {
                let r = &c.registrations[k];
                out.extend([
                    Cell::Text(Cow::Borrowed(&r.id)),
                    opt_text(&r.name),
                    Cell::Text(Cow::Borrowed(r.scheme.as_str())),
                    Cell::Text(Cow::Borrowed(r.status.zh())),
                    r.tier.map_or(Cell::Null, Cell::Int),
                    Cell::Date(r.start),
                    opt_date(r.end),
                ]);
            }
            Source::Payments => {
                let p = &c.payments[k];
                let id = if p.legacy15 {
                    Cow::Owned(legacy15(&p.id))
                } else {
                    Cow::Borrowed(p.id.as_str())
                };
                out.extend([
                    Cell::Text(Cow::Borrowed(&p.txn_id)),
                    Cell::Text(id),
                    opt_text(&p.name),
                    Cell::Text(Cow::Borrowed(p.scheme.as_str())),
                    Cell::Int(i64::from(p.period)),
                    Cell::Money(p.amount),
                    Cell::DateTime(p.paid_at),
                    opt_text(p.channel),
                    Cell::Text(Cow::Borrowed(p.payer.zh())),
                    opt_text(&p.collector),
                    vname(p.village),
                    opt_text(&p.receipt_no),
                    opt_text(&p.account),
                    opt_text(&p.deposit_id),
                    Cell::Text(Cow::Borrowed(p.status.zh())),
                ]);
            }
            Source::Receipts => {
                let r = &c.receipts[k];
                out.extend([
                    Cell::Text(Cow::Borrowed(&r.receipt_no)),
                    Cell::Text(Cow::Borrowed(&r.collector)),
                    Cell::Text(Cow::Borrowed(&r.id)),
                    opt_text(&r.name),
                    Cell::Text(Cow::Borrowed(r.scheme.as_str())),
                    Cell::Int(i64::from(r.period)),
                    Cell::Money(r.amount),
                    Cell::DateTime(r.collected_at),
                    vname(r.village),
                ]);
            }
            Source::Deposits => {
                let d = &c.deposits[k];
                out.extend([
                    Cell::Text(Cow::Borrowed(&d.deposit_id)),
                    Cell::Text(Cow::Borrowed(&d.collector)),
                    Cell::Money(d.amount),
                    Cell::DateTime(d.deposited_at),
                    d.person_count
                        .map_or(Cell::Null, |n| Cell::Int(i64::from(n))),
                    vname(d.village),
                ]);
            }
            Source::Roster => {
                let r = &c.roster[k];
                out.extend([
                    Cell::Text(Cow::Borrowed(&r.id)),
                    opt_text(&r.name),
                    vname(r.village),
                    Cell::Text(Cow::Borrowed(r.scheme.as_str())),
                    r.expected.map_or(Cell::Null, Cell::Money),
                    opt_text(&r.collector),
                    Cell::Text(Cow::Borrowed(r.batch)),
                ]);
            }
        }
    }
}

/// The 15-digit legacy form of an 18-digit id born 19xx.
pub(crate) fn legacy15(id: &str) -> String {
    format!("{}{}", &id[..6], &id[8..17])
}

/// Writes the canonical text of a cell as one CSV field (quoted when it must be).
pub(crate) fn write_canonical(buf: &mut Vec<u8>, cell: &Cell) {
    match cell {
        Cell::Text(s) => {
            if s.contains([',', '"', '\n', '\r']) {
                buf.push(b'"');
                buf.extend_from_slice(s.replace('"', "\"\"").as_bytes());
                buf.push(b'"');
            } else {
                buf.extend_from_slice(s.as_bytes());
            }
        }
        Cell::Int(n) => {
            let _ = write!(buf, "{n}");
        }
        Cell::Money(f) => {
            let _ = write!(buf, "{f}");
        }
        Cell::Date(d) => push_date(buf, *d),
        Cell::DateTime(t) => {
            push_date(buf, t.date());
            buf.push(b' ');
            push2(buf, t.hour());
            buf.push(b':');
            push2(buf, t.minute());
            buf.push(b':');
            push2(buf, t.second());
        }
        Cell::Null => {}
    }
}

fn push2(buf: &mut Vec<u8>, n: u32) {
    buf.push(b'0' + (n / 10) as u8);
    buf.push(b'0' + (n % 10) as u8);
}

fn push_date(buf: &mut Vec<u8>, d: NaiveDate) {
    let y = d.year().clamp(0, 9999) as u32;
    push2(buf, y / 100);
    push2(buf, y % 100);
    buf.push(b'-');
    push2(buf, d.month());
    buf.push(b'-');
    push2(buf, d.day());
}

/// Canonical text of a cell (clean CSV).
pub(crate) fn canonical(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => s.to_string(),
        Cell::Int(n) => n.to_string(),
        Cell::Money(f) => f.to_string(),
        Cell::Date(d) => format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()),
        Cell::DateTime(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        Cell::Null => String::new(),
    }
}

/// The usual Chinese spelling of a category (one the glossary lists).
pub(crate) fn category_text(c: Category) -> &'static str {
    category_spellings(c)[0]
}

/// Every glossary spelling of a category.
pub(crate) fn category_spellings(c: Category) -> &'static [&'static str] {
    match c {
        Category::Dibao => &["低保"],
        Category::Tekun => &["特困", "特困供养"],
        Category::Wubao => &["五保"],
        Category::Youfu => &["优抚"],
        Category::Tuopin => &["脱贫享受政策", "建档立卡贫困", "扶贫"],
        Category::Canji => &["残疾"],
        Category::Yinbing => &["因病困难"],
    }
}
