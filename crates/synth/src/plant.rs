//! Planted anomalies (one family of functions per rule) and near misses.
//!
//! Planting is only approximately targeted: victims are chosen so that an anomaly
//! usually triggers only its own rule, but truth never relies on that, since it is
//! computed afterwards by the reference evaluator over the final records.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDate};
use qianbiao_core::id::check_digit;
use qianbiao_core::{Category, Fen, Scheme};
use rand::Rng;

use crate::eval::{split_receipt, Ctx};
use crate::model::{Death, HStatus, PStatus, Payer, Payment, RosterRow};
use crate::names::{town_area, IDN_AREA};
use crate::town::{as_of, at, day_between, daytime, ymd, Gen};

/// Every rule code, in catalogue order.
pub const RULES: [&str; 31] = [
    "DUP-001", "DUP-002", "DUP-003", "DUP-004", "DTH-001", "DTH-002", "DTH-003", "DTH-004",
    "AMT-001", "AMT-002", "AMT-003", "AMT-004", "AMT-005", "ELG-001", "ELG-002", "ELG-003",
    "ELG-004", "MNY-001", "MNY-002", "MNY-003", "MNY-004", "MNY-005", "MNY-006", "DQ-001",
    "DQ-002", "DQ-003", "COV-001", "DUP-005", "DTH-005", "DQ-004", "IDN-001",
];

const ONLINE: [&str; 4] = ["微信", "支付宝", "手机银行", "电子税务局"];

/// Working indexes for planting.
pub(crate) struct Planter<'g, 'p> {
    pub g: &'g mut Gen<'p>,
    /// Payment indexes per person.
    pub pays: Vec<Vec<usize>>,
    pub removed: Vec<bool>,
    pub used_deposits: HashSet<String>,
    pub used_receipts: HashSet<String>,
    pub used_collectors_gap: HashSet<String>,
    /// Receipts row by receipt_no.
    pub receipt_rows: HashMap<String, usize>,
    /// Payments carrying a receipt, by collector.
    pub collector_receipts: HashMap<String, Vec<usize>>,
    /// Payments by deposit_id.
    pub deposit_pays: HashMap<String, Vec<usize>>,
    /// A dirty town: an id typed into Excel as a number can be written (as a number
    /// cell of the XLSX part). A clean town writes the same digits as text.
    pub dirty: bool,
}

impl<'g, 'p> Planter<'g, 'p> {
    pub(crate) fn new(g: &'g mut Gen<'p>) -> Planter<'g, 'p> {
        let mut pl = Planter {
            g,
            pays: Vec::new(),
            removed: Vec::new(),
            used_deposits: HashSet::new(),
            used_receipts: HashSet::new(),
            used_collectors_gap: HashSet::new(),
            receipt_rows: HashMap::new(),
            collector_receipts: HashMap::new(),
            deposit_pays: HashMap::new(),
            dirty: false,
        };
        pl.reindex();
        pl
    }

    fn reindex(&mut self) {
        let n = self.g.chunk.persons.len();
        self.pays = vec![Vec::new(); n];
        for (j, &o) in self.g.owner.iter().enumerate() {
            if (o as usize) < n {
                self.pays[o as usize].push(j);
            }
        }
        self.removed = vec![false; self.g.chunk.payments.len()];
        self.receipt_rows.clear();
        for (r, row) in self.g.chunk.receipts.iter().enumerate() {
            self.receipt_rows.entry(row.receipt_no.clone()).or_insert(r);
        }
        self.collector_receipts.clear();
        self.deposit_pays.clear();
        for (j, q) in self.g.chunk.payments.iter().enumerate() {
            if !q.receipt_no.is_empty() {
                self.collector_receipts
                    .entry(q.collector.clone())
                    .or_default()
                    .push(j);
            }
            if !q.deposit_id.is_empty() {
                self.deposit_pays
                    .entry(q.deposit_id.clone())
                    .or_default()
                    .push(j);
            }
        }
    }

    /// Moves a receipts row to a new number.
    fn renumber_receipt_row(&mut self, old: &str, new: &str) {
        if let Some(r) = self.receipt_rows.remove(old) {
            self.g.chunk.receipts[r].receipt_no = new.to_string();
            self.receipt_rows.entry(new.to_string()).or_insert(r);
        }
    }

    /// Drops removed payments for good.
    fn compact(&mut self) {
        let mut k = 0;
        let removed = std::mem::take(&mut self.removed);
        self.g.chunk.payments.retain(|_| {
            let keep = !removed[k];
            k += 1;
            keep
        });
        let mut k = 0;
        self.g.owner.retain(|_| {
            let keep = !removed[k];
            k += 1;
            keep
        });
        self.reindex();
    }

    fn live(&self, i: usize) -> Vec<usize> {
        self.pays[i]
            .iter()
            .copied()
            .filter(|&j| !self.removed[j])
            .collect()
    }

    fn push_payment(&mut self, row: Payment, owner: u32) -> usize {
        self.g.chunk.payments.push(row);
        self.g.owner.push(owner);
        self.removed.push(false);
        let j = self.g.chunk.payments.len() - 1;
        if (owner as usize) < self.pays.len() {
            self.pays[owner as usize].push(j);
        }
        j
    }

    /// The first index below `n`, searched from a random start, that `take` accepts
    /// (`take` marks what it accepts as used).
    fn rotate(
        &mut self,
        n: usize,
        mut take: impl FnMut(&mut Self, usize) -> bool,
    ) -> Option<usize> {
        if n == 0 {
            return None;
        }
        let start = self.g.rng.random_range(0..n);
        (0..n).map(|k| (start + k) % n).find(|&i| take(self, i))
    }

    /// A person satisfying `pred`, searched from a random start; marked used.
    fn find(&mut self, pred: impl Fn(&Self, usize) -> bool) -> Option<usize> {
        let n = self.g.chunk.persons.len();
        self.rotate(n, |s, i| {
            let ok = !s.g.meta[i].used && pred(s, i);
            if ok {
                s.g.meta[i].used = true;
            }
            ok
        })
    }

    /// A plain resident aged `ages` with an effective `scheme` payment, and that payment;
    /// the person is marked used.
    fn find_plain_paying(
        &mut self,
        ages: std::ops::RangeInclusive<i32>,
        scheme: Scheme,
    ) -> Option<(usize, usize)> {
        let i = self.find(|s, i| s.plain(i, ages.clone()) && s.payment_of(i, scheme).is_some())?;
        let j = self.payment_of(i, scheme).expect("checked");
        Some((i, j))
    }

    /// Whether person `i` has a live government-paid `scheme` payment.
    fn has_government_payment(&self, i: usize, scheme: Scheme) -> bool {
        self.live(i).iter().any(|&j| {
            let q = &self.g.chunk.payments[j];
            q.scheme == scheme && q.payer == Payer::Government
        })
    }

    /// Dates of person `i`'s live payments.
    fn live_days(&self, i: usize) -> impl Iterator<Item = NaiveDate> + '_ {
        self.live(i)
            .into_iter()
            .map(|j| self.g.chunk.payments[j].date())
    }

    fn first_pay_day(&self, i: usize) -> NaiveDate {
        self.live_days(i).min().expect("has payments")
    }

    fn last_pay_day(&self, i: usize) -> NaiveDate {
        self.live_days(i).max().expect("has payments")
    }

    /// A plain resident: 正常, no groups, no employee scheme, pays online only, all
    /// payments effective, individual and inside the window; age in `ages`.
    fn plain(&self, i: usize, ages: std::ops::RangeInclusive<i32>) -> bool {
        let m = &self.g.meta[i];
        let p = &self.g.chunk.persons[i];
        if p.status != HStatus::Normal
            || m.emp_pension
            || m.emp_medical
            || m.has_elig
            || m.via_collector
            || !ages.contains(&m.age)
        {
            return false;
        }
        let pol = self.g.policy;
        self.pays[i].iter().all(|&j| {
            let q = &self.g.chunk.payments[j];
            !self.removed[j]
                && q.effective()
                && q.payer == Payer::Individual
                && q.collector.is_empty()
                && q.period == pol.year
                && q.date() >= pol.window_start
                && q.date() <= pol.window_end
        }) && !self.live(i).is_empty()
    }

    fn payment_of(&self, i: usize, scheme: Scheme) -> Option<usize> {
        self.live(i).into_iter().find(|&j| {
            self.g.chunk.payments[j].scheme == scheme && self.g.chunk.payments[j].effective()
        })
    }

    /// A new individual online payment for person `i`.
    fn new_payment(
        &mut self,
        i: usize,
        scheme: Scheme,
        amount: Fen,
        day: NaiveDate,
        status: PStatus,
    ) -> usize {
        let ch = ONLINE[self.g.rng.random_range(0..ONLINE.len())];
        let t = daytime(&mut self.g.rng, day);
        let txn_id = self.g.next_txn();
        let p = &self.g.chunk.persons[i];
        let row = Payment {
            txn_id,
            id: p.id.clone(),
            name: p.name.clone(),
            scheme,
            period: self.g.policy.year,
            amount,
            paid_at: t,
            channel: ch,
            payer: Payer::Individual,
            collector: String::new(),
            village: self.g.v,
            receipt_no: String::new(),
            account: format!(
                "{}6222{:03}{:012}",
                self.g.tag,
                self.g.v + 1,
                900_000_000 + i
            ),
            deposit_id: String::new(),
            status,
            legacy15: false,
            lost: false,
        };
        self.push_payment(row, i as u32)
    }

    fn stranger_payment(&mut self, id: String, amount: Fen) -> usize {
        let male = self.g.rng.random_bool(0.5);
        let sur = self.g.surname();
        let name = self.g.name(sur, male);
        let day = day_between(
            &mut self.g.rng,
            self.g.policy.window_start,
            self.g.policy.window_end,
        );
        let t = daytime(&mut self.g.rng, day);
        self.g.acct_seq += 1;
        let row = Payment {
            txn_id: self.g.next_txn(),
            id,
            name,
            scheme: Scheme::ResidentMedical,
            period: self.g.policy.year,
            amount,
            paid_at: t,
            channel: "微信",
            payer: Payer::Individual,
            collector: String::new(),
            village: self.g.v,
            receipt_no: String::new(),
            account: format!("wx{}{:03}9{:08}", self.g.tag, self.g.v + 1, self.g.acct_seq),
            deposit_id: String::new(),
            status: PStatus::Success,
            legacy15: false,
            lost: false,
        };
        self.push_payment(row, u32::MAX)
    }

    fn window_day(&mut self) -> NaiveDate {
        day_between(
            &mut self.g.rng,
            self.g.policy.window_start,
            self.g.policy.window_end,
        )
    }

    fn late_day(&mut self) -> NaiveDate {
        day_between(
            &mut self.g.rng,
            ymd(2022, 1, 4),
            as_of() - Duration::days(1),
        )
    }

    /// A new individual online payment for person `i` on a day of the window.
    fn new_window_payment(
        &mut self,
        i: usize,
        scheme: Scheme,
        amount: Fen,
        status: PStatus,
    ) -> usize {
        let d = self.window_day();
        self.new_payment(i, scheme, amount, d, status)
    }

    /// Moves payment `j` to a random time of a late day with a new amount; returns the day.
    fn make_late(&mut self, j: usize, amount: Fen) -> NaiveDate {
        let d = self.late_day();
        let t = daytime(&mut self.g.rng, d);
        let q = &mut self.g.chunk.payments[j];
        q.paid_at = t;
        q.amount = amount;
        d
    }

    /// A death notice for person `i`, dated `d` and notified `notice_after` days later.
    fn push_death(&mut self, i: usize, d: NaiveDate, source: &'static str, notice_after: i64) {
        let p = &self.g.chunk.persons[i];
        let death = Death {
            id: p.id.clone(),
            name: p.name.clone(),
            death_date: d,
            source,
            notice_date: Some(d + Duration::days(notice_after)),
        };
        self.g.chunk.deaths.push(death);
    }

    /// Runs every rule's planting `count` times, then the near misses, then COV-001.
    pub(crate) fn plant_all(&mut self, count: usize, cov_band: Option<usize>) {
        let v = self.g.v as usize;
        for k in 0..count {
            let variant = k + v;
            self.dup001(false);
            self.dup002();
            self.dup003(false);
            self.dup004();
            self.dth001();
            self.dth002();
            self.dth003();
            self.dth004(variant);
            self.amt001();
            self.amt002();
            self.amt003(variant);
            self.amt004();
            self.amt005();
            self.elg001(variant);
            self.elg002(variant);
            self.elg003(variant);
            self.elg004(variant);
            self.mny001(variant);
            self.mny002();
            self.mny003(variant);
            self.mny004();
            self.mny005(3);
            self.mny006();
            self.dq001(variant);
            self.dq002();
            self.dq003(variant);
            self.dup005(variant);
            self.idn_typo(variant);
            self.idn_name_birth();
            self.idn_lost();
            self.dth005(variant);
        }
        if count > 0 {
            self.near_misses();
        }
        self.compact();
        if let Some(b) = cov_band {
            self.cov001(b);
        }
    }

    fn dup001(&mut self, refunded: bool) {
        let Some((i, j)) = self.find_plain_paying(16..=59, Scheme::ResidentMedical) else {
            return;
        };
        let first = self.g.chunk.payments[j].clone();
        let day = (first.date() + Duration::days(self.g.rng.random_range(0..6)))
            .min(self.g.policy.window_end);
        let status = if refunded {
            PStatus::Refunded
        } else {
            PStatus::Success
        };
        let k = self.new_payment(i, Scheme::ResidentMedical, first.amount, day, status);
        if self.g.chunk.payments[k].paid_at <= first.paid_at {
            self.g.chunk.payments[k].paid_at = at(day, 21, 0, 0);
        }
    }

    fn dup002(&mut self) {
        let pol = self.g.policy;
        let found = self.find(|s, i| {
            let m = &s.g.meta[i];
            m.severe
                && (pol.pension_min_age..=pol.pension_max_age).contains(&m.age)
                && s.g.chunk.persons[i].status == HStatus::Normal
                && s.has_government_payment(i, Scheme::ResidentPension)
        });
        if let Some(i) = found {
            self.new_window_payment(i, Scheme::ResidentPension, Fen::yuan(300), PStatus::Success);
            return;
        }
        // Fallback: a medical 代缴 person also paying (AMT-003 fires too).
        let found = self.find(|s, i| {
            s.g.chunk.persons[i].status == HStatus::Normal
                && s.has_government_payment(i, Scheme::ResidentMedical)
        });
        if let Some(i) = found {
            self.new_window_payment(i, Scheme::ResidentMedical, Fen::yuan(320), PStatus::Success);
        }
    }

    fn dup003(&mut self, near: bool) {
        let Some((i, _)) = self.find_plain_paying(20..=59, Scheme::ResidentPension) else {
            return;
        };
        if near {
            self.g.add_employment(
                i,
                Scheme::EmployeePension,
                ymd(2015, 7, 1),
                Some(ymd(2021, 12, 31)),
            );
        } else {
            let start = day_between(&mut self.g.rng, ymd(2018, 1, 1), ymd(2021, 10, 1));
            self.g
                .add_employment(i, Scheme::EmployeePension, start, None);
            self.g.meta[i].emp_pension = true;
        }
    }

    /// Receipt payments of collector `c`, effective and not removed.
    fn receipt_payments(&self, collector: &str) -> Vec<usize> {
        self.collector_receipts
            .get(collector)
            .map_or_else(Vec::new, |list| {
                list.iter()
                    .copied()
                    .filter(|&j| {
                        let q = &self.g.chunk.payments[j];
                        !self.removed[j]
                            && q.effective()
                            && q.collector == collector
                            && !q.receipt_no.is_empty()
                    })
                    .collect()
            })
    }

    /// Receipt payments of collector `c` whose receipt no planting has used yet.
    fn unused_receipt_payments(&self, collector: &str) -> Vec<usize> {
        self.receipt_payments(collector)
            .into_iter()
            .filter(|&j| {
                !self
                    .used_receipts
                    .contains(&self.g.chunk.payments[j].receipt_no)
            })
            .collect()
    }

    /// The payment of `list` with the highest receipt number (the last of equals).
    fn highest_receipt(&self, list: &[usize]) -> Option<usize> {
        list.iter()
            .copied()
            .max_by_key(|&j| split_receipt(&self.g.chunk.payments[j].receipt_no).map(|x| x.1))
    }

    /// The highest number on collector `c`'s receipts rows.
    fn receipts_top(&self, collector: &str) -> Option<u128> {
        self.g
            .chunk
            .receipts
            .iter()
            .filter(|r| r.collector == collector)
            .filter_map(|r| split_receipt(&r.receipt_no).map(|x| x.1))
            .max()
    }

    /// A random collector's unused receipt payment that has a receipts row: the receipt
    /// number and the row.
    fn pick_unused_receipt(&mut self) -> Option<(String, usize)> {
        for _ in 0..self.g.collectors.len() {
            let c = self.pick_collector();
            let list = self.unused_receipt_payments(&c);
            if list.is_empty() {
                continue;
            }
            let j = list[self.g.rng.random_range(0..list.len())];
            let no = self.g.chunk.payments[j].receipt_no.clone();
            if let Some(r) = self.receipt_row(&no) {
                return Some((no, r));
            }
        }
        None
    }

    fn pick_collector(&mut self) -> String {
        let k = self.g.collectors.len();
        let c = self.g.rng.random_range(0..k);
        self.g.collectors[c].clone()
    }

    fn receipt_row(&self, no: &str) -> Option<usize> {
        self.receipt_rows
            .get(no)
            .copied()
            .filter(|&r| self.g.chunk.receipts[r].receipt_no == no)
    }

    fn dup004(&mut self) {
        for _ in 0..self.g.collectors.len() {
            let c = self.pick_collector();
            let list = self.unused_receipt_payments(&c);
            if list.len() < 3 {
                continue;
            }
            // B: the highest number, so no gap opens when it is renumbered.
            let b = self.highest_receipt(&list).expect("non-empty");
            let all = self.receipt_payments(&c);
            let top = all
                .iter()
                .map(|&j| split_receipt(&self.g.chunk.payments[j].receipt_no).map_or(0, |x| x.1))
                .max();
            let b_no = split_receipt(&self.g.chunk.payments[b].receipt_no).map(|x| x.1);
            if top != b_no {
                continue;
            }
            let a = list[self.g.rng.random_range(0..list.len() - 1)];
            let a = if a == b { list[list.len() - 1] } else { a };
            if a == b {
                continue;
            }
            let shared = self.g.chunk.payments[a].receipt_no.clone();
            let old = self.g.chunk.payments[b].receipt_no.clone();
            self.g.chunk.payments[b].receipt_no = shared.clone();
            self.renumber_receipt_row(&old, &shared);
            self.used_receipts.insert(shared);
            return;
        }
    }

    fn dth001(&mut self) {
        let ws = self.g.policy.window_start;
        let Some(i) = self.find(|s, i| {
            s.plain(i, 16..=69)
                && s.live(i)
                    .iter()
                    .all(|&j| s.g.chunk.payments[j].date() >= ws + Duration::days(6))
        }) else {
            return;
        };
        let first = self.first_pay_day(i);
        let d = first - Duration::days(self.g.rng.random_range(1..=5));
        self.g.kill(i, d);
    }

    fn dth002(&mut self) {
        let Some(i) = self.find(|s, i| s.plain(i, 16..=69)) else {
            return;
        };
        let last = self.last_pay_day(i);
        let d = (last + Duration::days(self.g.rng.random_range(1..=8))).min(ymd(2021, 12, 31));
        self.g.kill(i, d);
    }

    fn dth003(&mut self) {
        let ws = self.g.policy.window_start;
        let found = self.find(|s, i| {
            let p = &s.g.chunk.persons[i];
            p.status == HStatus::Dead
                && p.status_date.is_some_and(|d| d < ws)
                && s.live(i).is_empty()
        });
        let i = match found {
            Some(i) => i,
            None => {
                let Some(i) = self.find(|s, i| s.plain(i, 16..=69)) else {
                    return;
                };
                for j in self.live(i) {
                    self.removed[j] = true;
                }
                let d = day_between(&mut self.g.rng, ymd(2021, 6, 1), ymd(2021, 10, 20));
                self.g.kill(i, d);
                i
            }
        };
        let p = &self.g.chunk.persons[i];
        let m = &self.g.meta[i];
        let exp = if m.age >= 70 {
            Fen::ZERO
        } else {
            Fen::yuan(320)
        };
        let row = RosterRow {
            id: p.id.clone(),
            name: p.name.clone(),
            village: self.g.v,
            scheme: Scheme::ResidentMedical,
            expected: Some(exp),
            collector: self.g.collectors[m.collector as usize].clone(),
            batch: "2022-01",
        };
        self.g.chunk.roster.push(row);
    }

    fn dead_before_window(&self, i: usize) -> bool {
        let p = &self.g.chunk.persons[i];
        p.status == HStatus::Dead
            && p.status_date
                .is_some_and(|d| d < self.g.policy.window_start)
            && self.live(i).is_empty()
    }

    fn dth004(&mut self, variant: usize) {
        match variant % 3 {
            1 => {
                if let Some(i) = self.find(|s, i| s.dead_before_window(i)) {
                    let id = self.g.chunk.persons[i].id.clone();
                    self.g.chunk.deaths.retain(|d| d.id != id);
                    return;
                }
            }
            2 => {
                if let Some(i) = self.find(|s, i| s.dead_before_window(i)) {
                    let d = self.g.chunk.persons[i]
                        .status_date
                        .expect("dead has a date")
                        + Duration::days(45);
                    self.push_death(i, d, "殡葬", 3);
                    return;
                }
            }
            _ => {}
        }
        // A death notice for someone hukou still lists as 正常 (dated after every payment).
        let Some(i) = self.find(|s, i| s.plain(i, 16..=69)) else {
            return;
        };
        let d = self.late_day();
        self.push_death(i, d, "民政", 5);
    }

    fn amt001(&mut self) {
        let Some((_, j)) = self.find_plain_paying(16..=59, Scheme::ResidentPension) else {
            return;
        };
        self.g.chunk.payments[j].amount =
            Fen::yuan([200, 350, 700, 1200][self.g.rng.random_range(0..4)]);
    }

    fn amt002(&mut self) {
        let Some((_, j)) = self.find_plain_paying(16..=59, Scheme::ResidentPension) else {
            return;
        };
        self.g.chunk.payments[j].amount = Fen::yuan(100);
    }

    fn amt003(&mut self, variant: usize) {
        if variant.is_multiple_of(2) {
            if let Some((_, j)) = self.find_plain_paying(60..=69, Scheme::ResidentMedical) {
                self.g.chunk.payments[j].amount = Fen::yuan(320);
                return;
            }
        }
        let Some((_, j)) = self.find_plain_paying(16..=59, Scheme::ResidentMedical) else {
            return;
        };
        self.g.chunk.payments[j].amount = Fen::yuan(400);
    }

    fn amt004(&mut self) {
        let Some((_, j)) = self.find_plain_paying(16..=59, Scheme::ResidentMedical) else {
            return;
        };
        self.make_late(j, Fen::yuan(320));
    }

    fn amt005(&mut self) {
        if let Some((no, r)) = self.pick_unused_receipt() {
            self.g.chunk.receipts[r].amount +=
                Fen::yuan([30, 50, 80][self.g.rng.random_range(0..3)]);
            self.used_receipts.insert(no);
        }
    }

    fn elg001(&mut self, variant: usize) {
        if variant.is_multiple_of(2) {
            let age = self.g.rng.random_range(20..=55);
            let male = self.g.rng.random_bool(0.5);
            let id = self.g.stranger_id(age, male);
            self.stranger_payment(id, Fen::yuan(320));
            return;
        }
        let Some(i) = self.find(|s, i| s.plain(i, 16..=69)) else {
            return;
        };
        let first = self.first_pay_day(i);
        let d = first - Duration::days(self.g.rng.random_range(3..=40));
        self.g.set_status(i, HStatus::MovedOut, d);
    }

    fn elg002(&mut self, variant: usize) {
        let (a, b) = (10..=15, 60..=69);
        let order = if variant % 3 == 2 { [a, b] } else { [b, a] };
        for ages in order {
            let found = self.find(|s, i| {
                s.plain(i, ages.clone()) && s.payment_of(i, Scheme::ResidentPension).is_none()
            });
            if let Some(i) = found {
                self.new_window_payment(
                    i,
                    Scheme::ResidentPension,
                    Fen::yuan(300),
                    PStatus::Success,
                );
                return;
            }
        }
    }

    fn make_government(&mut self, j: usize, amount: Fen, day: NaiveDate) {
        let q = &mut self.g.chunk.payments[j];
        q.payer = Payer::Government;
        q.channel = "政府代缴";
        q.amount = amount;
        q.account = String::new();
        q.paid_at = at(day, 0, 0, 0);
    }

    fn elg003(&mut self, variant: usize) {
        match variant % 3 {
            0 => {
                // A 60-69 person outside the groups: the half is never a 代缴 row.
                if let Some((_, j)) = self.find_plain_paying(60..=69, Scheme::ResidentMedical) {
                    let d = self.g.chunk.payments[j].date();
                    self.make_government(j, Fen::yuan(320), d);
                    return;
                }
            }
            1 => {
                // Pension 代缴 for a disabled person of level 3-4.
                let found = self.find(|s, i| {
                    let m = &s.g.meta[i];
                    (16..=59).contains(&m.age)
                        && !m.severe
                        && !m.via_collector
                        && s.g.chunk.persons[i].status == HStatus::Normal
                        && m.canji_mild
                        && s.live(i)
                            .iter()
                            .filter(|&&j| s.g.chunk.payments[j].scheme == Scheme::ResidentPension)
                            .count()
                            == 1
                        && s.payment_of(i, Scheme::ResidentPension)
                            .is_some_and(|j| s.g.chunk.payments[j].payer == Payer::Individual)
                });
                if let Some(i) = found {
                    let j = self
                        .payment_of(i, Scheme::ResidentPension)
                        .expect("checked");
                    self.make_government(j, Fen::yuan(100), ymd(2021, 12, 10));
                    return;
                }
            }
            _ => {}
        }
        // 低保 that ended the day before the 代缴.
        self.elg003_dibao(false);
    }

    /// 代缴 on day D for a 低保 row ending D - 1 (fires) or D (near miss).
    fn elg003_dibao(&mut self, near: bool) {
        let Some((i, j)) = self.find_plain_paying(16..=59, Scheme::ResidentMedical) else {
            return;
        };
        let d = self.g.chunk.payments[j]
            .date()
            .min(self.g.policy.window_end - Duration::days(1));
        let to = if near { d } else { d - Duration::days(1) };
        self.g
            .add_elig(i, Category::Dibao, None, ymd(2019, 5, 1), Some(to), "民政");
        self.make_government(j, Fen::yuan(320), d);
    }

    fn elg004(&mut self, variant: usize) {
        for attempt in 0..3 {
            if self.elg004_variant((variant + attempt) % 3) {
                return;
            }
        }
    }

    /// Takes away the only payment of someone the government must cover: a medical
    /// full-代缴 person under 70 (0), a severely disabled person 16-44 (1), someone 70+ (2).
    fn elg004_variant(&mut self, variant: usize) -> bool {
        let pol = self.g.policy;
        let want_pension = variant == 1;
        let scheme = if want_pension {
            Scheme::ResidentPension
        } else {
            Scheme::ResidentMedical
        };
        let found = self.find(|s, i| {
            let m = &s.g.meta[i];
            if s.g.chunk.persons[i].status != HStatus::Normal {
                return false;
            }
            let ok = match variant {
                1 => {
                    m.severe
                        && (pol.pension_min_age..=pol.pension_max_age).contains(&m.age)
                        && m.age < 45
                }
                2 => m.age >= 70 && !m.has_elig,
                _ => m.full && m.age < 70,
            };
            ok && s
                .live(i)
                .iter()
                .filter(|&&j| s.g.chunk.payments[j].scheme == scheme)
                .count()
                == 1
                && s.has_government_payment(i, scheme)
        });
        let Some(i) = found else {
            return false;
        };
        for j in self.live(i) {
            if self.g.chunk.payments[j].scheme == scheme {
                self.removed[j] = true;
            }
        }
        true
    }

    /// A deposit no planting has used yet, searched from a random start; marked used.
    fn pick_deposit(&mut self) -> Option<usize> {
        let n = self.g.chunk.deposits.len();
        self.rotate(n, |s, d| {
            let id = s.g.chunk.deposits[d].deposit_id.clone();
            s.used_deposits.insert(id)
        })
    }

    fn mny001(&mut self, variant: usize) {
        let Some(d) = self.pick_deposit() else {
            return;
        };
        let dep = &mut self.g.chunk.deposits[d];
        if variant % 3 == 2 {
            dep.person_count = dep.person_count.map(|c| c + 1);
        } else if variant % 3 == 1 && dep.amount > Fen::yuan(20) {
            dep.amount = dep.amount - Fen::yuan(20);
        } else {
            dep.amount += Fen::yuan(50);
        }
    }

    fn mny002(&mut self) {
        let c = self.g.rng.random_range(0..self.g.collectors.len());
        let collector = self.g.collectors[c].clone();
        let prefix = self.g.receipt_prefix[c].clone();
        let Some(top) = self.receipts_top(&collector) else {
            return;
        };
        let Some(i) = self
            .find(|s, i| s.g.chunk.persons[i].status == HStatus::Normal && s.g.meta[i].age >= 16)
        else {
            return;
        };
        let no = format!("{prefix}{:06}", top + 1);
        self.receipt_rows
            .insert(no.clone(), self.g.chunk.receipts.len());
        let p = &self.g.chunk.persons[i];
        let day = day_between(&mut self.g.rng, ymd(2021, 12, 1), self.g.policy.window_end);
        let t = daytime(&mut self.g.rng, day);
        self.g.chunk.receipts.push(crate::model::Receipt {
            receipt_no: no,
            collector,
            id: p.id.clone(),
            name: p.name.clone(),
            scheme: Scheme::ResidentPension,
            period: self.g.policy.year,
            amount: Fen::yuan(500),
            collected_at: t,
            village: self.g.v,
        });
    }

    fn deposit_payments(&self, dep_id: &str) -> Vec<usize> {
        self.deposit_pays.get(dep_id).map_or_else(Vec::new, |list| {
            list.iter()
                .copied()
                .filter(|&j| !self.removed[j] && self.g.chunk.payments[j].deposit_id == dep_id)
                .collect()
        })
    }

    fn mny003(&mut self, variant: usize) {
        let Some(d) = self.pick_deposit() else {
            return;
        };
        let dep_id = self.g.chunk.deposits[d].deposit_id.clone();
        let list = self.deposit_payments(&dep_id);
        if list.is_empty() {
            return;
        }
        if variant % 2 == 1 && list.len() >= 2 {
            // One payment never handed in: the batch total and count leave it out.
            let j = list[list.len() - 1];
            let amt = self.g.chunk.payments[j].amount;
            self.g.chunk.payments[j].deposit_id = String::new();
            let dep = &mut self.g.chunk.deposits[d];
            dep.amount = dep.amount - amt;
            dep.person_count = dep.person_count.map(|c| c - 1);
            return;
        }
        let last = list
            .iter()
            .map(|&j| self.g.chunk.payments[j].date())
            .max()
            .expect("non-empty");
        let day = last + Duration::days(self.g.rng.random_range(4..=7));
        let dep = &mut self.g.chunk.deposits[d];
        dep.deposited_at = at(day, 16, 10, 0);
    }

    fn mny004(&mut self) {
        let Some(d) = self.pick_deposit() else {
            return;
        };
        let dep_id = self.g.chunk.deposits[d].deposit_id.clone();
        let list = self.deposit_payments(&dep_id);
        let Some(first) = list.iter().map(|&j| self.g.chunk.payments[j].date()).min() else {
            return;
        };
        let day = first - Duration::days(self.g.rng.random_range(1..=3));
        self.g.chunk.deposits[d].deposited_at = at(day, 9, 40, 0);
    }

    /// One account paying for `households` households.
    fn mny005(&mut self, households: usize) {
        let mut chosen: Vec<usize> = Vec::new();
        let mut hh: HashSet<u32> = HashSet::new();
        for _ in 0..households {
            let taken = hh.clone();
            let Some(i) =
                self.find(|s, i| s.plain(i, 16..=69) && !taken.contains(&s.g.meta[i].household))
            else {
                break;
            };
            hh.insert(self.g.meta[i].household);
            chosen.push(i);
        }
        if chosen.len() < households {
            for i in chosen {
                self.g.meta[i].used = false;
            }
            return;
        }
        let acct = self.g.new_account("手机银行");
        for i in chosen {
            for j in self.live(i) {
                let q = &mut self.g.chunk.payments[j];
                q.account = acct.clone();
                q.channel = "手机银行";
            }
        }
    }

    fn mny006(&mut self) {
        for _ in 0..self.g.collectors.len() {
            let c = self.pick_collector();
            if self.used_collectors_gap.contains(&c) {
                continue;
            }
            let list = self.receipt_payments(&c);
            let Some(b) = self.highest_receipt(&list) else {
                continue;
            };
            let old = self.g.chunk.payments[b].receipt_no.clone();
            if self.used_receipts.contains(&old) {
                continue;
            }
            let Some((prefix, n)) = split_receipt(&old) else {
                continue;
            };
            // The top of the receipts side too (MNY-002 may have added one).
            let top = self.receipts_top(&c).unwrap_or(n);
            let new = format!("{prefix}{:06}", top.max(n) + 2);
            self.g.chunk.payments[b].receipt_no = new.clone();
            self.renumber_receipt_row(&old, &new);
            self.used_receipts.insert(new);
            self.used_collectors_gap.insert(c);
            return;
        }
    }

    fn dq001(&mut self, variant: usize) {
        if variant % 2 == 1 && self.dq001_receipt() {
            return;
        }
        let age = self.g.rng.random_range(20..=55);
        let male = self.g.rng.random_bool(0.5);
        let id = corrupt(&self.g.stranger_id(age, male));
        self.stranger_payment(id, Fen::yuan(320));
    }

    /// A receipts row whose id was mistyped.
    fn dq001_receipt(&mut self) -> bool {
        let Some((no, r)) = self.pick_unused_receipt() else {
            return false;
        };
        let id = corrupt(&self.g.chunk.receipts[r].id);
        self.g.chunk.receipts[r].id = id;
        self.used_receipts.insert(no);
        true
    }

    fn dq002(&mut self) {
        let Some(i) = self.find(|s, i| s.plain(i, 16..=69)) else {
            return;
        };
        let j = self.live(i)[0];
        let name = self.g.chunk.persons[i].name.clone();
        let mut chars: Vec<char> = name.chars().collect();
        let last = chars.len() - 1;
        chars[last] = if chars[last] == '明' { '民' } else { '明' };
        self.g.chunk.payments[j].name = chars.into_iter().collect();
    }

    fn dq003(&mut self, variant: usize) {
        let Some(i) = self.find(|s, i| s.plain(i, 16..=59)) else {
            return;
        };
        if variant % 2 == 1 {
            // The first row read is a refunded one; the conflicting later row must not
            // be taken (it would make a DUP-001).
            let amount = self.g.chunk.payments[self.live(i)[0]].amount;
            let j = self.new_window_payment(i, Scheme::ResidentMedical, amount, PStatus::Refunded);
            let mut copy = self.g.chunk.payments[j].clone();
            copy.status = PStatus::Success;
            self.push_payment(copy, i as u32);
            return;
        }
        let j = self.live(i)[0];
        let mut copy = self.g.chunk.payments[j].clone();
        copy.amount = Fen(copy.amount.0 * 10);
        self.push_payment(copy, i as u32);
    }

    /// Two effective 代缴 for one person, scheme and year (DUP-005); odd variants add a
    /// refunded 代缴 and a back payment beside the pair's first, which must not count.
    fn dup005(&mut self, variant: usize) {
        let Some((i, j)) = self.find_plain_paying(16..=59, Scheme::ResidentMedical) else {
            return;
        };
        let d = self.g.chunk.payments[j].date();
        self.make_government(j, Fen::yuan(320), d);
        let status = if variant % 2 == 1 {
            PStatus::Refunded
        } else {
            PStatus::Success
        };
        let k = self.new_window_payment(i, Scheme::ResidentMedical, Fen::yuan(320), status);
        let day = self.g.chunk.payments[k].date().max(d);
        self.make_government(k, Fen::yuan(320), day);
        self.g.chunk.payments[k].paid_at = at(day, 15, 30, 0);
        if variant % 2 == 1 {
            let b = self.new_window_payment(
                i,
                Scheme::ResidentMedical,
                Fen::yuan(320),
                PStatus::Success,
            );
            self.g.chunk.payments[b].payer = Payer::Back;
        }
    }

    /// A plain resident's payment booked under a mistyped id (one substitution or an
    /// adjacent swap) with the person's name (IDN-001); every third with another name.
    fn idn_typo(&mut self, variant: usize) {
        let Some((i, j)) = self.find_plain_paying(16..=59, Scheme::ResidentPension) else {
            return;
        };
        let id = self.g.chunk.persons[i].id.clone();
        let typed = if variant.is_multiple_of(2) {
            substitute(&id, 12 + variant % 5)
        } else {
            swap_adjacent(&id).unwrap_or_else(|| substitute(&id, 15))
        };
        let q = &mut self.g.chunk.payments[j];
        q.id = typed;
        if variant % 3 == 2 {
            let mut chars: Vec<char> = q.name.chars().collect();
            let last = chars.len() - 1;
            chars[last] = if chars[last] == '华' { '花' } else { '华' };
            q.name = chars.into_iter().collect();
        }
    }

    /// A payment whose id has a wrong area code and check digit but the person's birth
    /// date, name and village (IDN-001 by name_birth unless another same-name person of
    /// that birth date lives in the village).
    fn idn_name_birth(&mut self) {
        let Some((i, j)) = self.find_plain_paying(16..=59, Scheme::ResidentMedical) else {
            return;
        };
        let id = &self.g.chunk.persons[i].id;
        let body = format!("{}{}", town_area(self.g.town, IDN_AREA), &id[6..17]);
        let typed = corrupt(&format!("{body}0"));
        self.g.chunk.payments[j].id = typed;
    }

    /// A payment whose id was typed into Excel as a number: the last three digits lost
    /// (IDN-001 by numeric, or typo when the rounding changed one character only). In a
    /// clean town the same digits are written as text: an invalid id linked by typo or
    /// name_birth to the same person, so the truth does not depend on the format.
    fn idn_lost(&mut self) {
        let Some(i) = self.find(|s, i| {
            let p = &s.g.chunk.persons[i];
            s.plain(i, 16..=59)
                && s.payment_of(i, Scheme::ResidentMedical).is_some()
                && !p.id.ends_with('X')
                && !crate::eval::id_valid(&lost_digits(&p.id))
                && lost_is_the_villages(&p.id, p.birth, s.g.v, s.g.nv)
        }) else {
            return;
        };
        let j = self
            .payment_of(i, Scheme::ResidentMedical)
            .expect("checked");
        let lost = lost_digits(&self.g.chunk.persons[i].id);
        let q = &mut self.g.chunk.payments[j];
        q.id = lost;
        q.lost = self.dirty;
        q.legacy15 = false;
    }

    /// A death notice with a mistyped id for a person who paid after it (DTH-005); odd
    /// variants date it on the payment day (no finding).
    fn dth005(&mut self, variant: usize) {
        let Some((i, j)) = self.find_plain_paying(16..=59, Scheme::ResidentMedical) else {
            return;
        };
        let d = self.make_late(j, self.g.policy.medical_late_amount);
        let death = if variant % 2 == 1 {
            d
        } else {
            d - Duration::days(1 + (variant % 9) as i64)
        };
        let p = &self.g.chunk.persons[i];
        let row = Death {
            id: substitute(&p.id, 14),
            name: p.name.clone(),
            death_date: death,
            source: "派出所",
            notice_date: Some(death + Duration::days(20)),
        };
        self.g.chunk.deaths.push(row);
    }

    /// Rows that look suspicious but break no rule.
    fn near_misses(&mut self) {
        // A duplicate whose second payment was refunded.
        self.dup001(true);
        // Employee pension ended 2021-12-31: resident payment allowed.
        self.dup003(true);
        // 低保 valid to the very day of its 代缴.
        self.elg003_dibao(true);
        // Two households sharing one account.
        self.mny005(2);
        // Death on the day of a (late) payment.
        if let Some((i, j)) = self.find_plain_paying(16..=59, Scheme::ResidentMedical) {
            let d = self.make_late(j, self.g.policy.medical_late_amount);
            self.g.kill(i, d);
        }
        // Paying 320 on the last day of the window is not late.
        if let Some((_, j)) = self.find_plain_paying(16..=59, Scheme::ResidentMedical) {
            let q = &mut self.g.chunk.payments[j];
            q.paid_at = at(self.g.policy.window_end, 23, 59, 0);
            q.amount = Fen::yuan(320);
        }
        // Moved out on the day of the last payment.
        if let Some(i) = self.find(|s, i| s.plain(i, 16..=69)) {
            let last = self.last_pay_day(i);
            self.g.set_status(i, HStatus::MovedOut, last);
        }
        // A collector payment 3 days before as_of, not yet deposited.
        if let Some((i, j)) = self.find_plain_paying(16..=59, Scheme::ResidentMedical) {
            let collector = self.g.collectors[self.g.meta[i].collector as usize].clone();
            let q = &mut self.g.chunk.payments[j];
            q.paid_at = at(as_of() - Duration::days(3), 10, 5, 0);
            q.amount = self.g.policy.medical_late_amount;
            q.channel = "裕农通";
            q.collector = collector;
            q.account = String::new();
        }
        // A death notice for someone absent from hukou.
        let id = self.g.stranger_id(80, true);
        self.g.chunk.deaths.push(Death {
            id,
            name: self.g.full_name("孙", "德福"),
            death_date: ymd(2021, 8, 3),
            source: "卫健",
            notice_date: Some(ymd(2021, 9, 4)),
        });
        // A deposit handed in as two rows of one deposit_id: amounts add up; the first row
        // carries the whole person count and the second none, so adding the counts,
        // taking the first row's or skipping an empty one all agree.
        if let Some(d) = (0..self.g.chunk.deposits.len()).find(|&d| {
            self.g.chunk.deposits[d]
                .person_count
                .is_some_and(|c| c >= 2)
                && !self
                    .used_deposits
                    .contains(&self.g.chunk.deposits[d].deposit_id)
        }) {
            let id = self.g.chunk.deposits[d].deposit_id.clone();
            self.used_deposits.insert(id);
            let dep = self.g.chunk.deposits[d].clone();
            let list = self.deposit_payments(&dep.deposit_id);
            let first = self.g.chunk.payments[list[0]].amount;
            let mut a = dep.clone();
            a.amount = first;
            let mut b = dep;
            b.amount = b.amount - first;
            b.person_count = None;
            self.g.chunk.deposits[d] = a;
            self.g.chunk.deposits.push(b);
        }
        // Valid ids written in their 15-digit legacy form.
        let mut n = 0;
        for j in 0..self.g.chunk.payments.len() {
            if n >= 3 {
                break;
            }
            let q = &self.g.chunk.payments[j];
            if q.id.len() == 18
                && q.id.as_bytes()[6..8] == *b"19"
                && crate::eval::id_valid(&q.id)
                && j % 7 == 3
            {
                self.g.chunk.payments[j].legacy15 = true;
                n += 1;
            }
        }
    }

    /// Pushes a village below the target of band `b` (index into the policy's bands).
    fn cov001(&mut self, b: usize) {
        let pol = self.g.policy;
        let band = &pol.coverage_bands[b];
        let Some(target) = band.target else { return };
        let target: f64 = target.to_string().parse().unwrap_or(0.0);
        let (eligible, covered) = {
            let ctx = Ctx::new(&self.g.chunk, pol);
            let mut eligible = Vec::new();
            let mut covered = Vec::new();
            for (i, p) in self.g.chunk.persons.iter().enumerate() {
                let age = pol.year - chrono::Datelike::year(&p.birth);
                if p.status != HStatus::Normal
                    || !ctx.alive_at_window_end(&p.id)
                    || band.min_age.is_some_and(|m| age < m)
                    || band.max_age.is_some_and(|m| age > m)
                    || ctx.employee_active(&p.id, band.scheme)
                {
                    continue;
                }
                eligible.push(i);
                let has = self.pays[i].iter().any(|&j| {
                    let q = &self.g.chunk.payments[j];
                    q.effective() && q.scheme == band.scheme && q.period == pol.year
                });
                if has {
                    covered.push(i);
                }
            }
            (eligible, covered)
        };
        if eligible.is_empty() {
            return;
        }
        // Aim a few points under the target.
        let goal = ((target - 0.04) * eligible.len() as f64).floor().max(0.0) as usize;
        let mut excess = covered.len().saturating_sub(goal);
        let scheme = band.scheme;
        for i in covered {
            if excess == 0 {
                break;
            }
            let m = &self.g.meta[i];
            if m.used || m.via_collector || m.severe {
                continue;
            }
            let live = self.live(i);
            let mine: Vec<usize> = live
                .into_iter()
                .filter(|&j| self.g.chunk.payments[j].scheme == scheme)
                .collect();
            let removable = mine.iter().all(|&j| {
                let q = &self.g.chunk.payments[j];
                q.payer == Payer::Individual && q.collector.is_empty()
            });
            if !removable {
                continue;
            }
            for j in mine {
                self.removed[j] = true;
            }
            self.g.meta[i].used = true;
            excess -= 1;
        }
        self.compact();
    }
}

/// The id with the digit at `pos` (0-based, a body position) replaced: never valid, since
/// the check digit no longer matches.
pub(crate) fn substitute(id: &str, pos: usize) -> String {
    let mut c: Vec<u8> = id.as_bytes().to_vec();
    c[pos] = if c[pos] == b'5' { b'6' } else { b'5' };
    String::from_utf8(c).expect("ascii")
}

/// The id with two adjacent differing body digits swapped (never valid: adjacent weights
/// differ), if it has such a pair among characters 11-17.
pub(crate) fn swap_adjacent(id: &str) -> Option<String> {
    let mut c: Vec<u8> = id.as_bytes().to_vec();
    let k = (10..16).find(|&k| c[k] != c[k + 1])?;
    c.swap(k, k + 1);
    Some(String::from_utf8(c).expect("ascii"))
}

/// What Excel keeps of an 18-digit id typed as a number: 15 significant digits (rounded
/// half up), then zeros.
pub(crate) fn lost_digits(id: &str) -> String {
    let n: u128 = id.parse().expect("digits");
    ((n + 500) / 1000 * 1000).to_string()
}

/// Whether the digits an id keeps when it loses its last ones are its village's alone.
/// The sequence digits that keep ids of two villages apart are lost, so two villages'
/// persons of one area and birth day could lose their ids to the same text, which the
/// DUP rules group across villages (the truth is evaluated village by village). A
/// village takes only persons whose birth day (month and day) falls to it modulo the
/// village count, and whose rounding does not carry into the birth date.
pub(crate) fn lost_is_the_villages(id: &str, birth: NaiveDate, v: u16, nv: u16) -> bool {
    use chrono::Datelike;
    if id.len() != 18 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let lost = lost_digits(id);
    let day = birth.month0() * 28 + birth.day0();
    lost.len() == 18 && lost[..14] == id[..14] && day % u32::from(nv) == u32::from(v % nv)
}

/// Spoils an id's check digit (the result is never valid).
pub(crate) fn corrupt(id: &str) -> String {
    let body = &id[..17];
    let good = check_digit(body).expect("17 digits");
    let bad = if good == '0' {
        '1'
    } else if good == 'X' {
        '2'
    } else {
        '0'
    };
    let bad = if bad == good { '3' } else { bad };
    format!("{body}{bad}")
}
