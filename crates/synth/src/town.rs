//! The clean town: one village (chunk) at a time, consistent across all eight sources so
//! that a correct engine finds nothing in it.
//!
//! Every identifier (ids, household numbers, txn ids, collectors, receipts, deposits,
//! accounts) carries the village number, so chunks never share one and the rules can be
//! evaluated chunk by chunk.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};
use qianbiao_core::id::check_digit;
use qianbiao_core::{Category, Fen, Policy, Scheme};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::fxhash::FxSet;
use crate::model::{
    Chunk, Death, Deposit, Elig, HStatus, PStatus, Payer, Payment, Person, Receipt, Reg, RegStatus,
    RosterRow,
};
use crate::names::{
    town_area, GIVEN_FEMALE, GIVEN_MALE, LOCAL_AREAS, PERMIT_AREAS, STRANGER_AREA, SURNAMES,
};

/// The date the generated data is complete to: the latest payment (chunk 0 always holds
/// a payment on it; nothing is dated later).
pub(crate) fn as_of() -> NaiveDate {
    ymd(2022, 1, 28)
}

pub(crate) fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid literal date")
}

pub(crate) fn at(d: NaiveDate, h: u32, m: u32, s: u32) -> NaiveDateTime {
    d.and_time(NaiveTime::from_hms_opt(h, m, s).expect("valid literal time"))
}

/// A uniformly drawn day in `[a, b]`.
pub(crate) fn day_between(rng: &mut SmallRng, a: NaiveDate, b: NaiveDate) -> NaiveDate {
    let span = (b - a).num_days().max(0);
    a + Duration::days(rng.random_range(0..=span))
}

/// A daytime moment on day `d`.
pub(crate) fn daytime(rng: &mut SmallRng, d: NaiveDate) -> NaiveDateTime {
    at(
        d,
        rng.random_range(7..20),
        rng.random_range(0..60),
        rng.random_range(0..60),
    )
}

/// Mixes a seed with a chunk number and a stream number (splitmix64).
pub(crate) fn sub_seed(seed: u64, chunk: u64, stream: u64) -> u64 {
    let mut z = seed
        ^ chunk.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What the generator knows about a person beyond the records.
#[derive(Debug, Clone, Default)]
pub(crate) struct Meta {
    pub age: i32,
    pub household: u32,
    pub emp_pension: bool,
    pub emp_medical: bool,
    pub has_elig: bool,
    pub hundred: bool,
    pub severe: bool,
    pub full: bool,
    /// Disabled of level 3-4 only (a pension 代缴 for them is wrong).
    pub canji_mild: bool,
    /// May pay in the window (alive and registered then).
    pub can_pay: bool,
    /// Must pay inside the window only (dies or moves out in January).
    pub window_only: bool,
    /// The collector (index) of the household.
    pub collector: u16,
    /// Pays through the collector.
    pub via_collector: bool,
    /// Taken by a planted anomaly already.
    pub used: bool,
}

/// The working state of one chunk.
pub(crate) struct Gen<'p> {
    pub policy: &'p Policy,
    /// The town of a province (0 in a one-town run).
    pub town: u16,
    /// Put into every identifier of a town `t > 0` (`9TTTT`, empty in town 0) where
    /// town 0's identifiers have a digit of 0-6, so no identifier (txn, household,
    /// account, collector, receipt, deposit) of one town is one of another.
    pub tag: String,
    /// The generation character residents of a town `t > 0` carry after their surname.
    pub mark: Option<char>,
    pub v: u16,
    /// Villages of the town.
    pub nv: u16,
    pub rng: SmallRng,
    pub chunk: Chunk,
    pub meta: Vec<Meta>,
    /// Owner (person index) of each payment, `u32::MAX` for strangers.
    pub owner: Vec<u32>,
    pub ids: FxSet<String>,
    /// Values of id digits 15-16 reserved for this village.
    pub slots: Vec<u16>,
    pub txn_seq: u64,
    pub acct_seq: u64,
    pub collectors: Vec<String>,
    /// Per collector: the receipt prefix.
    pub receipt_prefix: Vec<String>,
    pub household_accounts: Vec<Option<String>>,
    pub deposit_seq: Vec<u32>,
}

/// Pension tiers for people outside the hundred-tier groups, with weights.
const TIERS: &[(i64, u32)] = &[
    (300, 34),
    (500, 20),
    (600, 10),
    (800, 8),
    (1000, 10),
    (1500, 5),
    (2000, 5),
    (2500, 2),
    (3000, 3),
    (4000, 1),
    (5000, 2),
];

const ONLINE: &[(&str, u32)] = &[
    ("微信", 28),
    ("支付宝", 14),
    ("电子税务局", 16),
    ("手机银行", 18),
    ("银行网点", 12),
    ("POS", 12),
];

fn weighted<T: Copy>(rng: &mut SmallRng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|x| x.1).sum();
    let mut r = rng.random_range(0..total);
    for (v, w) in items {
        if r < *w {
            return *v;
        }
        r -= w;
    }
    items[items.len() - 1].0
}

/// Whether a bank-like channel (the payer account is a bank card).
pub(crate) fn bank_channel(ch: &str) -> bool {
    matches!(ch, "手机银行" | "银行网点" | "POS")
}

impl<'p> Gen<'p> {
    /// A fresh chunk generator for village `v` of `nv` in town `town` (0 in a one-town
    /// run), whose residents carry `mark` in their names.
    pub(crate) fn new(
        policy: &'p Policy,
        seed: u64,
        town: u16,
        mark: Option<char>,
        v: u16,
        nv: u16,
    ) -> Gen<'p> {
        Gen {
            policy,
            town,
            tag: if town == 0 {
                String::new()
            } else {
                format!("9{town:04}")
            },
            mark,
            v,
            nv,
            rng: SmallRng::seed_from_u64(sub_seed(seed, u64::from(v), 1)),
            chunk: Chunk::default(),
            meta: Vec::new(),
            owner: Vec::new(),
            ids: FxSet::default(),
            slots: (0..100u16).filter(|x| x % nv == v % nv).collect(),
            txn_seq: 0,
            acct_seq: 0,
            collectors: Vec::new(),
            receipt_prefix: Vec::new(),
            household_accounts: Vec::new(),
            deposit_seq: Vec::new(),
        }
    }

    /// A new id, unique in the whole town, for someone born in `year` in one of `areas`;
    /// returns the id and the birth date it encodes. The sequence digits 15-16 are
    /// reserved per village (value mod village count); uniqueness within the village is
    /// checked, and area and birth day are drawn again on a clash so a crowded day never
    /// blocks.
    pub(crate) fn new_id(&mut self, areas: &[&str], year: i32, male: bool) -> (String, NaiveDate) {
        loop {
            let area = town_area(self.town, areas[self.rng.random_range(0..areas.len())]);
            let birth = self.birth_in(year);
            let x = self.slots[self.rng.random_range(0..self.slots.len())];
            let d17 = self.rng.random_range(0..5u16) * 2 + u16::from(male);
            let body = format!(
                "{area}{:04}{:02}{:02}{:03}",
                birth.year(),
                birth.month(),
                birth.day(),
                x * 10 + d17
            );
            let id = format!("{body}{}", check_digit(&body).expect("17 digits"));
            if self.ids.insert(id.clone()) {
                return (id, birth);
            }
        }
    }

    /// A stranger's id: valid, never in hukou.
    pub(crate) fn stranger_id(&mut self, age: i32, male: bool) -> String {
        self.new_id(&[STRANGER_AREA], self.policy.year - age, male)
            .0
    }

    fn birth_in(&mut self, year: i32) -> NaiveDate {
        let m = self.rng.random_range(1..=12u32);
        let d = self.rng.random_range(1..=28u32);
        NaiveDate::from_ymd_opt(year, m, d).expect("day <= 28 exists")
    }

    pub(crate) fn name(&mut self, surname: &str, male: bool) -> String {
        let pool = if male { GIVEN_MALE } else { GIVEN_FEMALE };
        let a = pool[self.rng.random_range(0..pool.len())];
        if self.rng.random_bool(0.6) {
            let b = pool[self.rng.random_range(0..pool.len())];
            self.full_name(surname, &format!("{a}{b}"))
        } else {
            self.full_name(surname, a)
        }
    }

    /// A resident's name from surname and given name: the town's mark between them in a
    /// town `t > 0` of a province.
    pub(crate) fn full_name(&self, surname: &str, given: &str) -> String {
        match self.mark {
            Some(m) => format!("{surname}{m}{given}"),
            None => format!("{surname}{given}"),
        }
    }

    pub(crate) fn surname(&mut self) -> &'static str {
        // Skewed towards the common surnames.
        let n = SURNAMES.len();
        let i = (self.rng.random::<f64>().powi(2) * n as f64) as usize;
        SURNAMES[i.min(n - 1)]
    }

    pub(crate) fn next_txn(&mut self) -> String {
        self.txn_seq += 1;
        format!("{}3{:03}{:09}", self.tag, self.v + 1, self.txn_seq)
    }

    pub(crate) fn new_account(&mut self, channel: &str) -> String {
        self.acct_seq += 1;
        let v = self.v + 1;
        let n = self.acct_seq;
        let t = &self.tag;
        match channel {
            "微信" => format!("wx{t}{v:03}{n:08}"),
            "支付宝" => format!("ali{t}{v:03}{n:08}"),
            "电子税务局" => format!("{t}6217{v:03}{n:012}"),
            _ => format!("{t}6228{v:03}{n:012}"),
        }
    }

    /// Builds the clean village of `n` persons.
    pub(crate) fn clean(&mut self, n: usize) {
        self.people(n);
        self.fates();
        self.employees();
        self.groups();
        self.setup_collectors(n);
        self.payments();
        self.finish_money();
        self.roster_and_registrations();
    }

    fn add_person(&mut self, surname: &str, male: bool, age: i32, household: u32, permit: bool) {
        let areas = if permit { PERMIT_AREAS } else { LOCAL_AREAS };
        let (id, birth) = self.new_id(areas, self.policy.year - age, male);
        let name = self.name(surname, male);
        self.chunk.persons.push(Person {
            id,
            name,
            male,
            birth,
            village: self.v,
            household_no: format!("{}{:03}{:06}", self.tag, self.v + 1, household + 1),
            permit,
            status: HStatus::Normal,
            status_date: None,
        });
        self.meta.push(Meta {
            age,
            household,
            can_pay: true,
            ..Meta::default()
        });
    }

    fn people(&mut self, n: usize) {
        let mut household: u32 = 0;
        while self.chunk.persons.len() < n {
            let permit = self.rng.random_bool(0.03);
            let fam = self.surname();
            let r: f64 = self.rng.random();
            let mut members: Vec<(bool, i32, bool)> = Vec::new(); // (male, age, family surname)
            if r < 0.22 {
                let a = self.rng.random_range(60..=92);
                let male = self.rng.random_bool(0.45);
                members.push((male, a, true));
                if self.rng.random_bool(0.6) {
                    members.push((
                        !male,
                        (a + self.rng.random_range(-4..=4)).clamp(58, 95),
                        false,
                    ));
                }
            } else if r < 0.34 {
                members.push((
                    self.rng.random_bool(0.6),
                    self.rng.random_range(18..=59),
                    true,
                ));
            } else {
                let a = self.rng.random_range(26..=58);
                members.push((true, a, true));
                if self.rng.random_bool(0.88) {
                    members.push((
                        false,
                        (a + self.rng.random_range(-4..=3)).clamp(20, 62),
                        false,
                    ));
                }
                let kids = self.rng.random_range(0..=3);
                for _ in 0..kids {
                    let k = a - self.rng.random_range(22..=34);
                    if k >= 0 {
                        members.push((self.rng.random_bool(0.52), k, true));
                    }
                }
                if self.rng.random_bool(0.35) {
                    let g = (a + self.rng.random_range(24..=32)).min(96);
                    members.push((self.rng.random_bool(0.4), g, true));
                }
            }
            for (male, age, family) in members {
                if self.chunk.persons.len() >= n {
                    break;
                }
                let s = if family { fam } else { self.surname() };
                self.add_person(s, male, age, household, permit);
            }
            household += 1;
        }
        let hh = household as usize;
        self.household_accounts = vec![None; hh];
        for h in 0..hh {
            if self.rng.random_bool(0.3) {
                let a = self.new_account("手机银行");
                self.household_accounts[h] = Some(a);
            }
        }
    }

    /// Deaths, moves and cancellations, with the matching death notices.
    fn fates(&mut self) {
        let ws = self.policy.window_start;
        for i in 0..self.chunk.persons.len() {
            let age = self.meta[i].age;
            let old = if age >= 70 { 3.0 } else { 1.0 };
            let r: f64 = self.rng.random();
            let p = [0.012 * old, 0.003 * old, 0.003 * old, 0.010, 0.004, 0.003];
            let mut acc = 0.0;
            let mut pick = None;
            for (k, pk) in p.iter().enumerate() {
                acc += pk;
                if r < acc {
                    pick = Some(k);
                    break;
                }
            }
            let Some(k) = pick else { continue };
            match k {
                0 => {
                    let d = day_between(&mut self.rng, ymd(2016, 1, 1), ws - Duration::days(7));
                    self.kill(i, d);
                    self.meta[i].can_pay = false;
                }
                1 => {
                    let d = day_between(&mut self.rng, ws, ymd(2021, 12, 31));
                    self.kill(i, d);
                    self.meta[i].can_pay = false;
                }
                2 => {
                    let d =
                        day_between(&mut self.rng, ymd(2022, 1, 2), as_of() - Duration::days(2));
                    self.kill(i, d);
                    self.meta[i].window_only = true;
                }
                3 => {
                    let d = day_between(&mut self.rng, ymd(2012, 1, 1), ws - Duration::days(10));
                    self.set_status(i, HStatus::MovedOut, d);
                    self.meta[i].can_pay = false;
                }
                4 => {
                    let d =
                        day_between(&mut self.rng, ymd(2022, 1, 5), as_of() - Duration::days(1));
                    self.set_status(i, HStatus::MovedOut, d);
                    self.meta[i].window_only = true;
                }
                _ => {
                    let d = day_between(&mut self.rng, ymd(2010, 1, 1), ws - Duration::days(10));
                    self.set_status(i, HStatus::Cancelled, d);
                    self.meta[i].can_pay = false;
                }
            }
        }
    }

    pub(crate) fn set_status(&mut self, i: usize, s: HStatus, d: NaiveDate) {
        let p = &mut self.chunk.persons[i];
        p.status = s;
        p.status_date = Some(d);
    }

    /// Marks person `i` dead on `d`: hukou 死亡 and one to three notices, all dates
    /// within 30 days of each other, the earliest being `d`.
    pub(crate) fn kill(&mut self, i: usize, d: NaiveDate) {
        let tol = self.policy.death_date_tolerance_days;
        let hukou_date = if self.rng.random_bool(0.8) {
            d
        } else {
            d + Duration::days(self.rng.random_range(1..=tol.min(5)))
        };
        self.set_status(i, HStatus::Dead, hukou_date);
        let (id, name) = (
            self.chunk.persons[i].id.clone(),
            self.chunk.persons[i].name.clone(),
        );
        let sources = ["派出所", "民政", "卫健", "殡葬"];
        let n = self.rng.random_range(1..=3usize);
        let start = self.rng.random_range(0..sources.len());
        for k in 0..n {
            let dd = if k == 0 {
                d
            } else if self.rng.random_bool(0.1) {
                d + Duration::days(tol)
            } else {
                d + Duration::days(self.rng.random_range(0..=tol))
            };
            let notice = dd + Duration::days(self.rng.random_range(1..=35));
            self.chunk.deaths.push(Death {
                id: id.clone(),
                name: name.clone(),
                death_date: dd,
                source: sources[(start + k) % sources.len()],
                notice_date: Some(notice),
            });
        }
    }

    fn employees(&mut self) {
        for i in 0..self.chunk.persons.len() {
            let age = self.meta[i].age;
            if !(18..=59).contains(&age) || self.chunk.persons[i].status != HStatus::Normal {
                continue;
            }
            let r: f64 = self.rng.random();
            // Employment starts at 18 at the earliest.
            let adult = ymd(self.chunk.persons[i].birth.year() + 18, 7, 1).max(ymd(2003, 1, 1));
            let start = day_between(&mut self.rng, adult.min(ymd(2021, 6, 30)), ymd(2021, 6, 30));
            if r < 0.05 {
                self.add_employment(i, Scheme::EmployeePension, start, None);
                self.add_employment(i, Scheme::EmployeeMedical, start, None);
                self.meta[i].emp_pension = true;
                self.meta[i].emp_medical = true;
            } else if r < 0.06 {
                self.add_employment(i, Scheme::EmployeeMedical, start, None);
                self.meta[i].emp_medical = true;
            } else if r < 0.08 {
                // Left employment before the year: a resident payer again.
                let end = if self.rng.random_bool(0.2) {
                    ymd(2021, 12, 31)
                } else {
                    day_between(&mut self.rng, start.max(ymd(2015, 1, 1)), ymd(2021, 12, 31))
                };
                let start = start.min(end);
                self.add_employment(i, Scheme::EmployeePension, start, Some(end));
                self.add_employment(i, Scheme::EmployeeMedical, start, Some(end));
            }
        }
    }

    /// An employee registration from `start`: active, or ended on `end`.
    pub(crate) fn add_employment(
        &mut self,
        i: usize,
        scheme: Scheme,
        start: NaiveDate,
        end: Option<NaiveDate>,
    ) {
        let status = if end.is_some() {
            RegStatus::Ended
        } else {
            RegStatus::Active
        };
        self.add_reg(i, scheme, status, start, end, None);
    }

    pub(crate) fn add_reg(
        &mut self,
        i: usize,
        scheme: Scheme,
        status: RegStatus,
        start: NaiveDate,
        end: Option<NaiveDate>,
        tier: Option<i64>,
    ) {
        let p = &self.chunk.persons[i];
        self.chunk.registrations.push(Reg {
            id: p.id.clone(),
            name: p.name.clone(),
            scheme,
            status,
            tier,
            start,
            end,
        });
    }

    /// Special groups with validity periods either covering the whole collection
    /// (window start to as_of) or lying wholly outside it.
    fn groups(&mut self) {
        let cats: [(Category, f64, &str); 7] = [
            (Category::Canji, 0.035, "残联"),
            (Category::Dibao, 0.03, "民政"),
            (Category::Tekun, 0.006, "民政"),
            (Category::Wubao, 0.003, "民政"),
            (Category::Youfu, 0.008, "退役军人"),
            (Category::Tuopin, 0.03, "扶贫办"),
            (Category::Yinbing, 0.005, "卫健"),
        ];
        for i in 0..self.chunk.persons.len() {
            if self.meta[i].emp_pension || self.meta[i].emp_medical {
                continue;
            }
            let first_row = self.chunk.eligibility.len();
            for (cat, p, dept) in cats {
                if !self.rng.random_bool(p) {
                    continue;
                }
                let level = if cat == Category::Canji {
                    weighted(
                        &mut self.rng,
                        &[
                            (Some(1u8), 15),
                            (Some(2), 20),
                            (Some(3), 30),
                            (Some(4), 30),
                            (None, 5),
                        ],
                    )
                } else {
                    None
                };
                let r: f64 = self.rng.random();
                let (from, to) = if r < 0.72 {
                    (
                        day_between(&mut self.rng, ymd(2012, 1, 1), ymd(2021, 6, 30)),
                        None,
                    )
                } else if r < 0.85 {
                    let f = day_between(&mut self.rng, ymd(2012, 1, 1), ymd(2021, 6, 30));
                    (
                        f,
                        Some(day_between(
                            &mut self.rng,
                            ymd(2022, 3, 1),
                            ymd(2025, 12, 31),
                        )),
                    )
                } else if r < 0.97 {
                    let f = day_between(&mut self.rng, ymd(2012, 1, 1), ymd(2019, 12, 31));
                    let t = day_between(&mut self.rng, f + Duration::days(180), ymd(2021, 9, 30));
                    (f, Some(t))
                } else {
                    (
                        day_between(&mut self.rng, ymd(2022, 3, 1), ymd(2022, 9, 30)),
                        None,
                    )
                };
                self.add_elig(i, cat, level, from, to, dept);
            }
            self.refresh_flags(i, first_row);
        }
    }

    pub(crate) fn add_elig(
        &mut self,
        i: usize,
        cat: Category,
        level: Option<u8>,
        from: NaiveDate,
        to: Option<NaiveDate>,
        dept: &'static str,
    ) {
        let p = &self.chunk.persons[i];
        self.chunk.eligibility.push(Elig {
            id: p.id.clone(),
            name: p.name.clone(),
            category: cat,
            level,
            valid_from: from,
            valid_to: to,
            dept,
        });
        self.meta[i].has_elig = true;
    }

    /// Recomputes a person's group flags at the window end (the clean town's groups are
    /// constant over the whole collection).
    /// `rows` are person `i`'s eligibility rows, from index `first_row` on.
    fn refresh_flags(&mut self, i: usize, first_row: usize) {
        let we = self.policy.window_end;
        let mut hundred = false;
        let mut severe = false;
        let mut canji_mild = false;
        let mut full = self.meta[i].age >= self.policy.medical_full_age;
        for e in &self.chunk.eligibility[first_row..] {
            if !(e.valid_from <= we && e.valid_to.is_none_or(|t| we <= t)) {
                continue;
            }
            match e.category {
                Category::Canji => {
                    hundred = true;
                    if e.level.is_some_and(|l| l <= 2) {
                        severe = true;
                        full = true;
                    }
                    if e.level.is_some_and(|l| l >= 3) {
                        canji_mild = true;
                    }
                }
                Category::Youfu => hundred = true,
                Category::Yinbing => full = true,
                Category::Dibao | Category::Tekun | Category::Wubao | Category::Tuopin => {
                    hundred = true;
                    full = true;
                }
            }
        }
        let m = &mut self.meta[i];
        m.hundred = hundred;
        m.severe = severe;
        m.full = full;
        m.canji_mild = canji_mild && !severe;
    }

    fn setup_collectors(&mut self, n: usize) {
        // About one collector per 300 residents; numbered with two digits (DB0101) unless
        // the village is huge.
        let k = (n / 300).clamp(2, 999);
        let w = if k < 100 { 2 } else { 3 };
        for c in 0..k {
            let code = format!("{}{:02}{:0w$}", self.tag, self.v + 1, c + 1);
            self.collectors.push(format!("DB{code}"));
            self.receipt_prefix.push(format!("SJ{code}-"));
        }
        self.deposit_seq = vec![0; k];
        let hh = self.household_accounts.len();
        let assign: Vec<u16> = (0..hh)
            .map(|_| self.rng.random_range(0..k) as u16)
            .collect();
        let via: Vec<bool> = (0..hh).map(|_| self.rng.random_bool(0.4)).collect();
        for m in &mut self.meta {
            m.collector = assign[m.household as usize];
            m.via_collector = via[m.household as usize];
        }
    }

    /// A payment row for person `i` (no txn id yet: assigned after sorting).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn pay(
        &mut self,
        i: usize,
        scheme: Scheme,
        period: i32,
        amount: Fen,
        paid_at: NaiveDateTime,
        channel: &'static str,
        payer: Payer,
        status: PStatus,
    ) -> usize {
        let p = &self.chunk.persons[i];
        let m = &self.meta[i];
        let collector = if matches!(channel, "现金收据" | "裕农通" | "银联二维码") {
            self.collectors[m.collector as usize].clone()
        } else {
            String::new()
        };
        let account = if payer != Payer::Individual && payer != Payer::Back || !collector.is_empty()
        {
            String::new()
        } else if bank_channel(channel) && self.household_accounts[m.household as usize].is_some() {
            self.household_accounts[m.household as usize]
                .clone()
                .unwrap_or_default()
        } else {
            String::new()
        };
        let row = Payment {
            txn_id: String::new(),
            id: p.id.clone(),
            name: p.name.clone(),
            scheme,
            period,
            amount,
            paid_at,
            channel,
            payer,
            collector,
            village: self.v,
            receipt_no: String::new(),
            account,
            deposit_id: String::new(),
            status,
            legacy15: false,
            lost: false,
        };
        self.chunk.payments.push(row);
        self.owner.push(i as u32);
        let k = self.chunk.payments.len() - 1;
        if self.chunk.payments[k].account.is_empty()
            && payer != Payer::Government
            && self.chunk.payments[k].collector.is_empty()
            && channel != "现金收据"
        {
            let a = self.personal_account(i, channel);
            self.chunk.payments[k].account = a;
        }
        k
    }

    /// A successful 代缴 row for person `i`, dated `day` at midnight.
    fn pay_government(&mut self, i: usize, scheme: Scheme, amount: Fen, day: NaiveDate) {
        let (year, t) = (self.policy.year, at(day, 0, 0, 0));
        self.pay(
            i,
            scheme,
            year,
            amount,
            t,
            "政府代缴",
            Payer::Government,
            PStatus::Success,
        );
    }

    /// A successful payment of person `i`'s own for this year, at a random time of `day`.
    fn pay_individual(
        &mut self,
        i: usize,
        scheme: Scheme,
        amount: Fen,
        day: NaiveDate,
        ch: &'static str,
    ) {
        let (year, t) = (self.policy.year, daytime(&mut self.rng, day));
        self.pay(
            i,
            scheme,
            year,
            amount,
            t,
            ch,
            Payer::Individual,
            PStatus::Success,
        );
    }

    /// The person's own account for a channel (one per person and channel kind).
    fn personal_account(&mut self, i: usize, channel: &str) -> String {
        // Derived from the person's id so repeated payments reuse it.
        let id = &self.chunk.persons[i].id;
        let tail = &id[id.len() - 8..id.len() - 1];
        let v = self.v + 1;
        let t = &self.tag;
        match channel {
            "微信" => format!("wx{t}{v:03}{tail}{i:07}"),
            "支付宝" => format!("ali{t}{v:03}{tail}{i:07}"),
            _ => format!("{t}6222{v:03}{i:09}{}", &id[6..10]),
        }
    }

    fn window_day(&mut self) -> NaiveDate {
        let p = self.policy;
        if self.rng.random_bool(0.3) {
            day_between(&mut self.rng, p.window_start, ymd(2021, 11, 28))
        } else {
            day_between(&mut self.rng, ymd(2021, 11, 29), p.window_end)
        }
    }

    fn individual_channel(&mut self, i: usize) -> &'static str {
        if self.meta[i].via_collector {
            weighted(
                &mut self.rng,
                &[("现金收据", 60), ("裕农通", 25), ("银联二维码", 15)],
            )
        } else {
            weighted(&mut self.rng, ONLINE)
        }
    }

    pub(crate) fn tier_for(&mut self, i: usize) -> i64 {
        if self.meta[i].hundred && self.rng.random_bool(0.6) {
            100
        } else {
            weighted(&mut self.rng, TIERS)
        }
    }

    fn payments(&mut self) {
        let p = self.policy;
        let n = self.chunk.persons.len();
        let med_gov_day = [ymd(2021, 11, 20), ymd(2021, 12, 6)][self.rng.random_range(0..2)];
        let pen_gov_day = ymd(2021, 12, 10);
        // Pension decisions first, with the coverage top-up.
        let mut pays_pension = vec![false; n];
        for (m, pays) in self.meta.iter().zip(pays_pension.iter_mut()) {
            if !m.can_pay || m.emp_pension || m.severe {
                continue;
            }
            let prob = match m.age {
                45..=59 => 0.99,
                16..=44 => 0.8,
                _ => continue,
            };
            *pays = self.rng.random_bool(prob);
        }
        for (lo, hi, need) in [(45, 59, 0.98), (16, 44, 0.72)] {
            let elig: Vec<usize> = (0..n)
                .filter(|&i| {
                    let m = &self.meta[i];
                    self.chunk.persons[i].status == HStatus::Normal
                        && (lo..=hi).contains(&m.age)
                        && !m.emp_pension
                })
                .collect();
            let covered = elig
                .iter()
                .filter(|&&i| pays_pension[i] || self.meta[i].severe)
                .count();
            let want = (need * elig.len() as f64).ceil() as usize;
            let mut missing = want.saturating_sub(covered);
            for &i in &elig {
                if missing == 0 {
                    break;
                }
                if !pays_pension[i] && !self.meta[i].severe {
                    pays_pension[i] = true;
                    missing -= 1;
                }
            }
        }
        for (i, &pays_pen) in pays_pension.iter().enumerate() {
            let m = self.meta[i].clone();
            if !m.can_pay {
                continue;
            }
            // Medical.
            if !m.emp_medical {
                if m.full {
                    self.pay_government(
                        i,
                        Scheme::ResidentMedical,
                        p.medical_standard,
                        med_gov_day,
                    );
                } else if self.rng.random_bool(0.93) {
                    let r: f64 = self.rng.random();
                    if !m.window_only && r < 0.05 {
                        let d = day_between(
                            &mut self.rng,
                            ymd(2022, 1, 4),
                            as_of() - Duration::days(1),
                        );
                        let ch = weighted(&mut self.rng, ONLINE);
                        self.pay_individual(
                            i,
                            Scheme::ResidentMedical,
                            p.medical_late_amount,
                            d,
                            ch,
                        );
                    } else {
                        let (d, ch) = if r < 0.054 {
                            let d = day_between(
                                &mut self.rng,
                                ymd(2021, 10, 25),
                                p.window_start - Duration::days(1),
                            );
                            (d, weighted(&mut self.rng, ONLINE))
                        } else {
                            let d = self.window_day();
                            (d, self.individual_channel(i))
                        };
                        let amt =
                            if (p.medical_half_ages[0]..=p.medical_half_ages[1]).contains(&m.age) {
                                p.medical_half_amount
                            } else {
                                p.medical_standard
                            };
                        self.pay_individual(i, Scheme::ResidentMedical, amt, d, ch);
                    }
                }
            }
            // Pension.
            if (p.pension_min_age..=p.pension_max_age).contains(&m.age) && !m.emp_pension {
                if m.severe {
                    let amount = p.pension_government_amount;
                    self.pay_government(i, Scheme::ResidentPension, amount, pen_gov_day);
                } else if pays_pen {
                    let tier = self.tier_for(i);
                    let d = self.window_day();
                    let ch = self.individual_channel(i);
                    self.pay_individual(i, Scheme::ResidentPension, Fen::yuan(tier), d, ch);
                    if m.age >= 45 && self.rng.random_bool(0.006) {
                        let d = self.window_day();
                        let ch = weighted(&mut self.rng, ONLINE);
                        let t = daytime(&mut self.rng, d);
                        self.pay(
                            i,
                            Scheme::ResidentPension,
                            p.year - 1,
                            Fen::yuan(300),
                            t,
                            ch,
                            Payer::Back,
                            PStatus::Success,
                        );
                    }
                }
            }
            // Refunded or voided rows: a mistaken payment taken back.
            if self.rng.random_bool(0.006) {
                let status = weighted(
                    &mut self.rng,
                    &[
                        (PStatus::Refunded, 6),
                        (PStatus::Voided, 2),
                        (PStatus::Cancelled, 1),
                    ],
                );
                let d = self.window_day();
                let ch = weighted(&mut self.rng, ONLINE);
                let t = daytime(&mut self.rng, d);
                let amt = Fen::yuan([320, 640, 3200, 160][self.rng.random_range(0..4)]);
                self.pay(
                    i,
                    Scheme::ResidentMedical,
                    p.year,
                    amt,
                    t,
                    ch,
                    Payer::Individual,
                    status,
                );
            }
        }
        if self.v == 0 {
            self.anchor_as_of();
        }
        self.sort_and_number();
    }

    /// Chunk 0 holds an effective late medical payment dated as_of.
    fn anchor_as_of(&mut self) {
        let late = self.policy.medical_late_amount;
        let target = as_of();
        let pos = (0..self.chunk.payments.len()).find(|&k| {
            let q = &self.chunk.payments[k];
            q.amount == late && q.payer == Payer::Individual && q.effective()
        });
        let pos = pos.or_else(|| {
            (0..self.chunk.payments.len()).find(|&k| {
                let q = &self.chunk.payments[k];
                let m = &self.meta[self.owner[k] as usize];
                q.scheme == Scheme::ResidentMedical
                    && q.payer == Payer::Individual
                    && q.effective()
                    && q.collector.is_empty()
                    && !m.window_only
                    && !m.full
            })
        });
        if let Some(k) = pos {
            let q = &mut self.chunk.payments[k];
            q.amount = late;
            q.paid_at = at(target, 15, 30, 0);
            if q.channel == "现金收据" {
                q.channel = "微信";
            }
        }
    }

    /// Orders the payments by time and numbers them.
    fn sort_and_number(&mut self) {
        let mut order: Vec<usize> = (0..self.chunk.payments.len()).collect();
        order.sort_by_key(|&k| (self.chunk.payments[k].paid_at, self.owner[k]));
        let mut pays = std::mem::take(&mut self.chunk.payments);
        let owners = std::mem::take(&mut self.owner);
        let mut sorted = Vec::with_capacity(pays.len());
        let mut sorted_owner = Vec::with_capacity(pays.len());
        let mut slots: Vec<Option<Payment>> = pays.drain(..).map(Some).collect();
        for k in order {
            let mut row = slots[k].take().expect("each index once");
            row.txn_id = self.next_txn();
            sorted.push(row);
            sorted_owner.push(owners[k]);
        }
        self.chunk.payments = sorted;
        self.owner = sorted_owner;
    }

    /// Receipt numbers, receipts rows and deposit batches for the collectors' payments.
    fn finish_money(&mut self) {
        let k = self.collectors.len();
        let mut next_no: Vec<u32> = (0..k).map(|_| self.rng.random_range(1..=500)).collect();
        let mut by_collector: Vec<Vec<usize>> = vec![Vec::new(); k];
        for (j, q) in self.chunk.payments.iter().enumerate() {
            if !q.collector.is_empty() && q.effective() {
                let c = self.meta[self.owner[j] as usize].collector as usize;
                by_collector[c].push(j);
            }
        }
        for (c, list) in by_collector.iter().enumerate() {
            for &j in list {
                if self.chunk.payments[j].channel == "现金收据" {
                    let no = format!("{}{:06}", self.receipt_prefix[c], next_no[c]);
                    next_no[c] += 1;
                    let q = &mut self.chunk.payments[j];
                    q.receipt_no = no.clone();
                    self.chunk.receipts.push(Receipt {
                        receipt_no: no,
                        collector: q.collector.clone(),
                        id: q.id.clone(),
                        name: q.name.clone(),
                        scheme: q.scheme,
                        period: q.period,
                        amount: q.amount,
                        collected_at: q.paid_at,
                        village: self.v,
                    });
                }
            }
            // Deposit batches: payments of a few consecutive days, handed in 0-3 days
            // after the first of them and never before the last.
            let mut start = 0;
            while start < list.len() {
                let first = self.chunk.payments[list[start]].date();
                let span = self.rng.random_range(0..=2i64);
                let mut end = start;
                while end < list.len()
                    && (self.chunk.payments[list[end]].date() - first).num_days() <= span
                {
                    end += 1;
                }
                let last = self.chunk.payments[list[end - 1]].date();
                let room = 3 - (last - first).num_days();
                let r = if self.rng.random_bool(0.3) {
                    room
                } else {
                    self.rng.random_range(0..=room)
                };
                let day = last + Duration::days(r);
                let at_time = at(
                    day,
                    self.rng.random_range(15..18),
                    self.rng.random_range(0..60),
                    0,
                );
                self.deposit_seq[c] += 1;
                let dep_id = format!("JJ{}{:04}", &self.collectors[c][2..], self.deposit_seq[c]);
                let mut total = Fen::ZERO;
                for &j in &list[start..end] {
                    let q = &mut self.chunk.payments[j];
                    q.deposit_id = dep_id.clone();
                    total += q.amount;
                }
                self.chunk.deposits.push(Deposit {
                    deposit_id: dep_id,
                    collector: self.collectors[c].clone(),
                    amount: total,
                    deposited_at: at_time,
                    person_count: Some((end - start) as u32),
                    village: self.v,
                });
                start = end;
            }
        }
    }

    fn roster_and_registrations(&mut self) {
        let p = self.policy;
        let ws = p.window_start;
        let mut paid: Vec<(Option<Fen>, Option<Fen>)> =
            vec![(None, None); self.chunk.persons.len()];
        for (j, q) in self.chunk.payments.iter().enumerate() {
            if !q.effective() || q.period != p.year {
                continue;
            }
            let slot = &mut paid[self.owner[j] as usize];
            match q.scheme {
                Scheme::ResidentMedical => slot.0 = Some(q.amount),
                _ => slot.1 = Some(q.amount),
            }
        }
        for (i, paid_i) in paid.iter().enumerate() {
            let person = &self.chunk.persons[i];
            let m = self.meta[i].clone();
            let listed = match person.status {
                HStatus::Normal => true,
                _ => person.status_date.is_some_and(|d| d >= ws) && m.can_pay,
            };
            let (id, name) = (person.id.clone(), person.name.clone());
            let collector = self.collectors[m.collector as usize].clone();
            if listed && !m.emp_medical {
                let exp = if m.full {
                    Fen::ZERO
                } else if (p.medical_half_ages[0]..=p.medical_half_ages[1]).contains(&m.age) {
                    p.medical_half_amount
                } else {
                    p.medical_standard
                };
                self.chunk.roster.push(RosterRow {
                    id: id.clone(),
                    name: name.clone(),
                    village: self.v,
                    scheme: Scheme::ResidentMedical,
                    expected: Some(exp),
                    collector: collector.clone(),
                    batch: "2022-01",
                });
            }
            let pension_age = (p.pension_min_age..=p.pension_max_age).contains(&m.age);
            if listed && pension_age && !m.emp_pension {
                let exp = if m.severe {
                    Fen::ZERO
                } else {
                    paid_i.1.unwrap_or(Fen::yuan(300))
                };
                self.chunk.roster.push(RosterRow {
                    id: id.clone(),
                    name: name.clone(),
                    village: self.v,
                    scheme: Scheme::ResidentPension,
                    expected: Some(exp),
                    collector,
                    batch: if self.rng.random_bool(0.5) {
                        "2022-01"
                    } else {
                        "2022-02"
                    },
                });
            }
            let start = day_between(&mut self.rng, ymd(2010, 1, 1), ymd(2021, 10, 31));
            if paid_i.0.is_some() {
                self.add_reg(
                    i,
                    Scheme::ResidentMedical,
                    RegStatus::Active,
                    start,
                    None,
                    None,
                );
            }
            if let Some(a) = paid_i.1 {
                self.add_reg(
                    i,
                    Scheme::ResidentPension,
                    RegStatus::Active,
                    start,
                    None,
                    Some(a.0 / 100),
                );
            } else if pension_age && !m.emp_pension && person_status_normal(&self.chunk.persons[i])
            {
                self.add_reg(
                    i,
                    Scheme::ResidentPension,
                    RegStatus::Suspended,
                    start,
                    None,
                    Some(100),
                );
            }
        }
    }
}

fn person_status_normal(p: &Person) -> bool {
    p.status == HStatus::Normal
}
