//! A reference evaluator: every rule of `rules.md`, written plainly over the canonical
//! records of a town, independent of the engine. Truth is what this returns.
//!
//! It favours obviousness over speed: maps keyed by id, one pass per rule. Where the
//! rules leave a reading open, these are the ones taken (and the generator avoids
//! producing data on which other sensible readings would disagree, where it can):
//!
//! - Kept payments: the first row read per `txn_id`; a later row with other content is
//!   a DQ-003 (amount: the first row's, whatever its status) and is otherwise ignored.
//!   The model never holds exact copies (they exist only in dirty files).
//! - as_of is a parameter; the generator fixes it (see `town::as_of`).
//! - DTH-001/002 compare dates (`paid_at`'s date); DTH-002 only for period Y.
//! - DTH-004 only for ids in hukou: a deaths row while hukou is not 死亡 (迁出/注销
//!   included), hukou 死亡 without a deaths row, or max - min of all death dates (deaths
//!   rows and the hukou 死亡 date) above the tolerance.
//! - AMT-005 needs at least one effective payment with the receipt_no (totals per
//!   receipt_no on both sides); a receipt with none is MNY-002 only. MNY-002's amount is
//!   the total of the receipts rows with that number.
//! - MNY-001: rows of one deposit_id add amounts and person counts; if any row's count
//!   is empty the count is not compared. Payments count whatever their collector.
//! - MNY-003/004: only effective payments with a collector_id, keyed by that collector;
//!   the deposit date is the earliest row's date of the deposit_id.
//! - MNY-005: effective individual payments with a non-empty account.
//! - MNY-006: receipt numbers of receipts rows (their collector) and of effective
//!   payments with both a receipt_no and a collector_id; prefix = text before the
//!   trailing ASCII digits (numbers without any are ignored); a gap is max - min + 1 >
//!   distinct numbers for some prefix; one finding per collector, amount 0.
//! - ELG-004 and COV-001 (as_of after the window end): hukou status 正常 (居住证
//!   included), no death date on or before the window end, groups and age on the window
//!   end; "paid" = an effective payment of the scheme with period Y, any payer. COV
//!   bands come from the policy (16-44 and 45-59 with targets; the medical band has no
//!   target, so never COV-001); the rate is compared exactly (integers).
//! - DUP-003: resident payments of period Y, any payer but back payments.
//! - DQ-001: effective payments rows with an invalid id (key txn_id); receipts rows with
//!   an invalid id (key receipt_no, amounts added).
//! - DQ-002: ids found in hukou, non-empty payment names, total of the differing ones.
//! - DUP-005: effective 代缴 of one person, resident scheme and period, two or more; all
//!   but the earliest (paid_at, txn_id). Ids that lost digits as Excel numbers take no part
//!   in any DUP rule.
//! - A deaths row with an invalid id is rejected: no death date, no DTH-004.
//! - Linkage ([`Linker`]): typo by generating every one-edit neighbour and looking it up,
//!   numeric (lost ids) and name_birth by scanning same-name persons; first basis with a
//!   candidate decides, exactly one links. IDN-001 for effective payments and receipts
//!   (per receipt_no, amounts added); DTH-005 for effective payments of the linked person
//!   after the earliest linked notice's date and not DTH-001.
//! - DQ-004 is not evaluated here: the dirty writer knows the totals rows it writes and
//!   what they cover (`dirty::Decor`), and adds their truth.

use std::collections::{BTreeMap, BTreeSet};

use crate::fxhash::FxMap as HashMap;

use chrono::NaiveDate;
use qianbiao_core::policy::Group;
use qianbiao_core::{Category, Fen, IdNumber, Policy, Scheme};

use crate::model::{Chunk, Elig, HStatus, Payer, Payment, Person, Village};

/// One row of `truth.csv`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TruthRow {
    /// Rule code, e.g. `DTH-001`.
    pub rule: &'static str,
    /// The rule's key.
    pub key: String,
    /// The rule's amount.
    pub amount: Fen,
}

/// Lookups shared by the rules.
pub(crate) struct Ctx<'a> {
    pub policy: &'a Policy,
    pub hukou: HashMap<&'a str, &'a Person>,
    pub deaths: HashMap<&'a str, Vec<NaiveDate>>,
    pub elig: HashMap<&'a str, Vec<&'a Elig>>,
    /// (employee pension active in Y, employee medical active in Y).
    pub employee: HashMap<&'a str, (bool, bool)>,
    /// Birth year of hukou and payment ids (None: invalid).
    pub birth_years: HashMap<&'a str, Option<i32>>,
    /// Death date of everyone who has one.
    pub death_dates: HashMap<&'a str, NaiveDate>,
}

/// Whether `text` is a valid canonical id (the model only holds canonical texts).
pub(crate) fn id_valid(text: &str) -> bool {
    IdNumber::parse(text).is_valid()
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(c: &'a Chunk, policy: &'a Policy) -> Ctx<'a> {
        let mut hukou = HashMap::with_capacity_and_hasher(c.persons.len(), Default::default());
        for p in &c.persons {
            hukou.entry(p.id.as_str()).or_insert(p);
        }
        let mut deaths: HashMap<&str, Vec<NaiveDate>> = HashMap::default();
        // A deaths row with an invalid id is rejected: it is no death for the rules (it
        // may only be linked, for DTH-005).
        for d in c.deaths.iter().filter(|d| id_valid(&d.id)) {
            deaths.entry(d.id.as_str()).or_default().push(d.death_date);
        }
        let mut elig: HashMap<&str, Vec<&Elig>> = HashMap::default();
        for e in &c.eligibility {
            elig.entry(e.id.as_str()).or_default().push(e);
        }
        let mut employee: HashMap<&str, (bool, bool)> = HashMap::default();
        for r in &c.registrations {
            let active =
                r.start <= policy.year_end() && r.end.is_none_or(|e| e >= policy.year_start());
            if !active {
                continue;
            }
            let slot = employee.entry(r.id.as_str()).or_default();
            match r.scheme {
                Scheme::EmployeePension => slot.0 = true,
                Scheme::EmployeeMedical => slot.1 = true,
                _ => {}
            }
        }
        let mut birth_years = HashMap::with_capacity_and_hasher(
            c.persons.len() + c.payments.len(),
            Default::default(),
        );
        for id in c
            .persons
            .iter()
            .map(|p| p.id.as_str())
            .chain(c.payments.iter().map(|p| p.id.as_str()))
        {
            birth_years
                .entry(id)
                .or_insert_with(|| IdNumber::parse(id).birth_year());
        }
        // The earliest of the deaths rows and the hukou 死亡 status_date.
        let mut death_dates: HashMap<&str, NaiveDate> = HashMap::default();
        let dead_hukou = c
            .persons
            .iter()
            .filter(|p| p.status == HStatus::Dead)
            .filter_map(|p| p.status_date.map(|d| (p.id.as_str(), d)));
        for (id, d) in c
            .deaths
            .iter()
            .filter(|d| id_valid(&d.id))
            .map(|d| (d.id.as_str(), d.death_date))
            .chain(dead_hukou)
        {
            death_dates
                .entry(id)
                .and_modify(|x| *x = (*x).min(d))
                .or_insert(d);
        }
        Ctx {
            death_dates,
            birth_years,
            policy,
            hukou,
            deaths,
            elig,
            employee,
        }
    }

    /// The earliest of the deaths rows and the hukou 死亡 status_date.
    pub(crate) fn death_date(&self, id: &str) -> Option<NaiveDate> {
        self.death_dates.get(id).copied()
    }

    /// `Y - birth year` for a valid id.
    pub(crate) fn age(&self, id: &str) -> Option<i32> {
        let year = match self.birth_years.get(id) {
            Some(y) => *y,
            None => IdNumber::parse(id).birth_year(),
        };
        year.map(|y| self.policy.year - y)
    }

    fn rows(&self, id: &str) -> &[&'a Elig] {
        self.elig.get(id).map_or(&[], Vec::as_slice)
    }

    /// Whether someone with eligibility `rows` is in `group` on day `d`.
    fn in_group(&self, rows: &[&Elig], group: Group, d: NaiveDate) -> bool {
        let active = |e: &Elig| e.valid_from <= d && e.valid_to.is_none_or(|t| d <= t);
        match group {
            Group::Category(cat) => rows.iter().any(|e| active(e) && e.category == cat),
            Group::SeverelyDisabled => rows.iter().filter(|e| active(e)).any(|e| {
                e.category == Category::Canji
                    && e.level
                        .is_some_and(|l| self.policy.severe_disability_levels.contains(&l))
            }),
        }
    }

    pub(crate) fn severe(&self, id: &str, d: NaiveDate) -> bool {
        let rows = self.rows(id);
        !rows.is_empty() && self.in_group(rows, Group::SeverelyDisabled, d)
    }

    pub(crate) fn hundred_tier(&self, id: &str, d: NaiveDate) -> bool {
        let rows = self.rows(id);
        self.policy
            .hundred_tier_groups
            .iter()
            .any(|g| self.in_group(rows, *g, d))
    }

    /// In a medical full-代缴 group on `d` (70+ included).
    pub(crate) fn medical_full(&self, id: &str, d: NaiveDate) -> bool {
        if self
            .age(id)
            .is_some_and(|a| a >= self.policy.medical_full_age)
        {
            return true;
        }
        let rows = self.rows(id);
        !rows.is_empty()
            && self
                .policy
                .medical_full_groups
                .iter()
                .any(|g| self.in_group(rows, *g, d))
    }

    /// The expected individual medical amount for a payment on day `d`.
    pub(crate) fn expected_medical(&self, id: &str, d: NaiveDate) -> Fen {
        let p = self.policy;
        if self.medical_full(id, d) {
            return Fen::ZERO;
        }
        if d > p.window_end {
            return p.medical_late_amount;
        }
        let age = self.age(id).unwrap_or(0);
        if age >= p.medical_half_ages[0] && age <= p.medical_half_ages[1] {
            p.medical_half_amount
        } else {
            p.medical_standard
        }
    }

    pub(crate) fn employee_active(&self, id: &str, scheme: Scheme) -> bool {
        let e = self.employee.get(id).copied().unwrap_or_default();
        match scheme.employee_counterpart() {
            Scheme::EmployeePension => e.0,
            _ => e.1,
        }
    }

    /// Alive at window end: no death date on or before it.
    pub(crate) fn alive_at_window_end(&self, id: &str) -> bool {
        self.death_date(id)
            .is_none_or(|d| d > self.policy.window_end)
    }
}

/// Person-scheme pairs on one receipt and their total.
type Pairs<'a> = (BTreeSet<(&'a str, Scheme)>, Fen);

/// Households paying from one account (true: a household_no, false: a lone id) and the total.
type Households<'a> = (Vec<(bool, &'a str)>, Fen);

/// Content equality of two payments rows (all canonical columns).
fn same_content(a: &Payment, b: &Payment) -> bool {
    a.txn_id == b.txn_id
        && a.id == b.id
        && a.name == b.name
        && a.scheme == b.scheme
        && a.period == b.period
        && a.amount == b.amount
        && a.paid_at == b.paid_at
        && a.channel == b.channel
        && a.payer == b.payer
        && a.collector == b.collector
        && a.village == b.village
        && a.receipt_no == b.receipt_no
        && a.account == b.account
        && a.deposit_id == b.deposit_id
        && a.status == b.status
}

/// The payments rows kept (first read per txn_id) and the DQ-003 findings.
pub(crate) fn kept_payments(c: &Chunk) -> (Vec<&Payment>, Vec<TruthRow>) {
    let mut first: HashMap<&str, usize> =
        HashMap::with_capacity_and_hasher(c.payments.len(), Default::default());
    let mut kept = Vec::with_capacity(c.payments.len());
    let mut conflict: BTreeMap<&str, Fen> = BTreeMap::new();
    for p in &c.payments {
        match first.get(p.txn_id.as_str()) {
            None => {
                first.insert(p.txn_id.as_str(), kept.len());
                kept.push(p);
            }
            Some(&i) => {
                let f: &Payment = kept[i];
                if !same_content(f, p) {
                    conflict.insert(f.txn_id.as_str(), f.amount);
                }
            }
        }
    }
    let dq3 = conflict
        .into_iter()
        .map(|(k, a)| TruthRow {
            rule: "DQ-003",
            key: k.to_string(),
            amount: a,
        })
        .collect();
    (kept, dq3)
}

/// The latest date among kept payments rows (any status) and deposits rows.
pub(crate) fn max_date(c: &Chunk) -> Option<NaiveDate> {
    let (kept, _) = kept_payments(c);
    let a = kept.iter().map(|p| p.date()).max();
    let b = c.deposits.iter().map(|d| d.deposited_at.date()).max();
    a.max(b)
}

fn psk(id: &str, scheme: Scheme, year: i32) -> String {
    format!("{id}|{}|{year}", scheme.as_str())
}

/// Runs every rule over one chunk (or a whole town) and returns the findings, sorted.
pub(crate) fn evaluate(
    c: &Chunk,
    policy: &Policy,
    as_of: NaiveDate,
    villages: &[Village],
) -> Vec<TruthRow> {
    let ctx = Ctx::new(c, policy);
    let y = policy.year;
    let (kept, mut out) = kept_payments(c);
    let eff: Vec<&Payment> = kept.iter().copied().filter(|p| p.effective()).collect();
    let is_valid = |id: &str| match ctx.birth_years.get(id) {
        Some(y) => y.is_some(),
        None => id_valid(id),
    };
    let mut push = |rule: &'static str, key: String, amount: Fen| {
        out.push(TruthRow { rule, key, amount });
    };

    // DUP-001, DUP-002, DUP-003: per person, resident scheme and period.
    let mut by_psk: HashMap<(&str, Scheme, i32), Vec<&Payment>> = HashMap::default();
    for p in &eff {
        // An id that lost its digits as an Excel number stands for nobody.
        if p.scheme.is_resident() && !p.lost {
            by_psk
                .entry((p.id.as_str(), p.scheme, p.period))
                .or_default()
                .push(p);
        }
    }
    for ((id, scheme, period), ps) in &by_psk {
        let mut ind: Vec<&Payment> = ps
            .iter()
            .copied()
            .filter(|p| p.payer == Payer::Individual)
            .collect();
        if ind.len() >= 2 {
            ind.sort_by(|a, b| (a.paid_at, &a.txn_id).cmp(&(b.paid_at, &b.txn_id)));
            let amt: Fen = ind[1..].iter().map(|p| p.amount).sum();
            push("DUP-001", psk(id, *scheme, *period), amt);
        }
        let mut govs: Vec<&Payment> = ps
            .iter()
            .copied()
            .filter(|p| p.payer == Payer::Government)
            .collect();
        if govs.len() >= 2 {
            govs.sort_by(|a, b| (a.paid_at, &a.txn_id).cmp(&(b.paid_at, &b.txn_id)));
            let amt: Fen = govs[1..].iter().map(|p| p.amount).sum();
            push("DUP-005", psk(id, *scheme, *period), amt);
        }
        let gov = !govs.is_empty();
        if gov && !ind.is_empty() {
            let amt: Fen = ind.iter().map(|p| p.amount).sum();
            push("DUP-002", psk(id, *scheme, *period), amt);
        }
        if *period == y && ctx.employee_active(id, *scheme) {
            let counted: Vec<&&Payment> = ps.iter().filter(|p| p.payer != Payer::Back).collect();
            if !counted.is_empty() {
                let amt: Fen = counted.iter().map(|p| p.amount).sum();
                push("DUP-003", psk(id, *scheme, *period), amt);
            }
        }
    }

    // DUP-004: one receipt on two or more person-scheme pairs.
    let mut by_receipt: HashMap<&str, Pairs> = HashMap::default();
    for p in &eff {
        if !p.receipt_no.is_empty() && !p.lost {
            let e = by_receipt.entry(p.receipt_no.as_str()).or_default();
            e.0.insert((p.id.as_str(), p.scheme));
            e.1 += p.amount;
        }
    }
    for (r, (pairs, amt)) in &by_receipt {
        if pairs.len() >= 2 {
            push("DUP-004", (*r).to_string(), *amt);
        }
    }

    // DTH-001, DTH-002.
    for p in &eff {
        let Some(dd) = ctx.death_date(&p.id) else {
            continue;
        };
        if p.date() > dd {
            push("DTH-001", p.txn_id.clone(), p.amount);
        } else if p.period == y && dd < policy.year_start() {
            push("DTH-002", p.txn_id.clone(), p.amount);
        }
    }

    // DTH-003: roster rows of people dead before the window.
    let mut dth3: BTreeMap<String, Fen> = BTreeMap::new();
    for r in &c.roster {
        if ctx
            .death_date(&r.id)
            .is_some_and(|d| d < policy.window_start)
        {
            *dth3.entry(psk(&r.id, r.scheme, y)).or_default() += r.expected.unwrap_or(Fen::ZERO);
        }
    }
    for (k, a) in dth3 {
        push("DTH-003", k, a);
    }

    // DTH-004: deaths and hukou disagree.
    let mut dth4: BTreeSet<&str> = BTreeSet::new();
    for (id, dates) in &ctx.deaths {
        let Some(p) = ctx.hukou.get(id) else {
            continue;
        };
        let mut all = dates.clone();
        if p.status == HStatus::Dead {
            all.extend(p.status_date);
        } else {
            dth4.insert(id);
        }
        let (lo, hi) = (all.iter().min(), all.iter().max());
        if let (Some(lo), Some(hi)) = (lo, hi) {
            if (*hi - *lo).num_days() > policy.death_date_tolerance_days {
                dth4.insert(id);
            }
        }
    }
    for p in ctx.hukou.values() {
        if p.status == HStatus::Dead && !ctx.deaths.contains_key(p.id.as_str()) {
            dth4.insert(p.id.as_str());
        }
    }
    for id in dth4 {
        push("DTH-004", id.to_string(), Fen::ZERO);
    }

    // AMT-001..004.
    for p in &eff {
        if p.payer != Payer::Individual {
            continue;
        }
        let d = p.date();
        match p.scheme {
            Scheme::ResidentPension => {
                if !policy.pension_tiers.contains(&p.amount) {
                    push("AMT-001", p.txn_id.clone(), p.amount);
                }
                if p.amount == policy.hundred_tier && is_valid(&p.id) && !ctx.hundred_tier(&p.id, d)
                {
                    push("AMT-002", p.txn_id.clone(), p.amount);
                }
            }
            Scheme::ResidentMedical => {
                if !is_valid(&p.id) {
                    continue;
                }
                let exp = ctx.expected_medical(&p.id, d);
                if p.amount > exp {
                    push("AMT-003", p.txn_id.clone(), p.amount - exp);
                } else if p.amount > Fen::ZERO && p.amount < exp {
                    push("AMT-004", p.txn_id.clone(), exp - p.amount);
                }
            }
            _ => {}
        }
    }

    // AMT-005, MNY-002: receipts against effective payments, totals per receipt_no.
    let mut pay_by_receipt: HashMap<&str, Fen> = HashMap::default();
    for p in &eff {
        if !p.receipt_no.is_empty() {
            *pay_by_receipt.entry(p.receipt_no.as_str()).or_default() += p.amount;
        }
    }
    let mut rec_total: HashMap<&str, Fen> = HashMap::default();
    for r in &c.receipts {
        *rec_total.entry(r.receipt_no.as_str()).or_default() += r.amount;
    }
    for (no, total) in &rec_total {
        match pay_by_receipt.get(no) {
            Some(paid) => {
                if total > paid {
                    push("AMT-005", (*no).to_string(), *total - *paid);
                }
            }
            None => push("MNY-002", (*no).to_string(), *total),
        }
    }

    // ELG-001..003.
    for p in &eff {
        if !is_valid(&p.id) {
            continue;
        }
        let d = p.date();
        match ctx.hukou.get(p.id.as_str()) {
            None => push("ELG-001", p.txn_id.clone(), p.amount),
            Some(h) => {
                if matches!(h.status, HStatus::MovedOut | HStatus::Cancelled)
                    && h.status_date.is_some_and(|sd| sd < d)
                {
                    push("ELG-001", p.txn_id.clone(), p.amount);
                }
            }
        }
        if p.payer == Payer::Individual && p.scheme == Scheme::ResidentPension {
            let age = ctx.age(&p.id).unwrap_or(0);
            if age < policy.pension_min_age || age > policy.pension_max_age {
                push("ELG-002", p.txn_id.clone(), p.amount);
            }
        }
        if p.payer == Payer::Government {
            let entitled = match p.scheme {
                Scheme::ResidentMedical => ctx.medical_full(&p.id, d),
                Scheme::ResidentPension => ctx.severe(&p.id, d),
                _ => true,
            };
            if !entitled {
                push("ELG-003", p.txn_id.clone(), p.amount);
            }
        }
    }

    // ELG-004 and COV-001 only once the window is over.
    let mut paid_y: HashMap<(&str, Scheme), ()> = HashMap::default();
    for p in &eff {
        if p.period == y {
            paid_y.insert((p.id.as_str(), p.scheme), ());
        }
    }
    if as_of > policy.window_end {
        let we = policy.window_end;
        let mut persons: Vec<&&Person> = ctx.hukou.values().collect();
        persons.sort_by(|a, b| a.id.cmp(&b.id));
        for h in &persons {
            if h.status != HStatus::Normal || !ctx.alive_at_window_end(&h.id) {
                continue;
            }
            let id = h.id.as_str();
            if ctx.medical_full(id, we)
                && !ctx.employee_active(id, Scheme::ResidentMedical)
                && !paid_y.contains_key(&(id, Scheme::ResidentMedical))
            {
                push(
                    "ELG-004",
                    psk(id, Scheme::ResidentMedical, y),
                    policy.medical_standard,
                );
            }
            let age = ctx.age(id).unwrap_or(-1);
            if ctx.severe(id, we)
                && age >= policy.pension_min_age
                && age <= policy.pension_max_age
                && !ctx.employee_active(id, Scheme::ResidentPension)
                && !paid_y.contains_key(&(id, Scheme::ResidentPension))
            {
                push(
                    "ELG-004",
                    psk(id, Scheme::ResidentPension, y),
                    policy.pension_government_amount,
                );
            }
        }
        // COV-001.
        let mut cov: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
        for band in &policy.coverage_bands {
            let Some(target) = band.target else {
                continue;
            };
            for h in &persons {
                if h.status != HStatus::Normal || !ctx.alive_at_window_end(&h.id) {
                    continue;
                }
                let age = ctx.age(&h.id).unwrap_or(-1);
                if band.min_age.is_some_and(|m| age < m) || band.max_age.is_some_and(|m| age > m) {
                    continue;
                }
                if ctx.employee_active(&h.id, band.scheme) {
                    continue;
                }
                let vname = villages[h.village as usize].name.to_string();
                let e = cov.entry((vname, band.name.clone())).or_default();
                e.0 += 1;
                if paid_y.contains_key(&(h.id.as_str(), band.scheme)) {
                    e.1 += 1;
                }
            }
            for ((v, b), (eligible, covered)) in &cov {
                if b != &band.name || *eligible == 0 {
                    continue;
                }
                // covered / eligible < mantissa / 10^scale, in integers.
                let scale = 10i128.pow(target.scale());
                if i128::from(*covered) * scale < target.mantissa() * i128::from(*eligible) {
                    push("COV-001", format!("{v}|{b}"), Fen::ZERO);
                }
            }
        }
    }

    // MNY-001: deposits against the effective payments carrying their id.
    let mut dep: HashMap<&str, (Fen, Option<u32>, bool)> = HashMap::default();
    for d in &c.deposits {
        let e = dep
            .entry(d.deposit_id.as_str())
            .or_insert((Fen::ZERO, Some(0), false));
        e.0 += d.amount;
        match d.person_count {
            Some(n) => e.1 = e.1.map(|m| m + n),
            None => e.2 = true,
        }
    }
    let mut pay_by_dep: HashMap<&str, (Fen, u32)> = HashMap::default();
    for p in &eff {
        if !p.deposit_id.is_empty() {
            let e = pay_by_dep.entry(p.deposit_id.as_str()).or_default();
            e.0 += p.amount;
            e.1 += 1;
        }
    }
    for (id, (amt, count, any_empty)) in &dep {
        let (paid, n) = pay_by_dep.get(id).copied().unwrap_or_default();
        let count_differs = !any_empty && count.is_some_and(|c| c != n);
        if *amt != paid || count_differs {
            push("MNY-001", (*id).to_string(), (*amt - paid).abs());
        }
    }

    // MNY-003, MNY-004: collector payments against deposit dates.
    let mut dep_date: HashMap<&str, NaiveDate> = HashMap::default();
    for d in &c.deposits {
        let day = d.deposited_at.date();
        dep_date
            .entry(d.deposit_id.as_str())
            .and_modify(|x| *x = (*x).min(day))
            .or_insert(day);
    }
    let mut late: BTreeMap<&str, Fen> = BTreeMap::new();
    let mut early: BTreeMap<&str, Fen> = BTreeMap::new();
    let limit = policy.deposit_deadline_days;
    for p in &eff {
        if p.collector.is_empty() {
            continue;
        }
        let paid = p.date();
        match dep_date
            .get(p.deposit_id.as_str())
            .filter(|_| !p.deposit_id.is_empty())
        {
            Some(dd) => {
                if (*dd - paid).num_days() > limit {
                    *late.entry(p.collector.as_str()).or_default() += p.amount;
                }
                if *dd < paid {
                    *early.entry(p.collector.as_str()).or_default() += p.amount;
                }
            }
            None => {
                if (as_of - paid).num_days() > limit {
                    *late.entry(p.collector.as_str()).or_default() += p.amount;
                }
            }
        }
    }
    for (c, a) in late {
        push("MNY-003", c.to_string(), a);
    }
    for (c, a) in early {
        push("MNY-004", c.to_string(), a);
    }

    // MNY-005: one account, three or more households.
    // A household is hukou's household_no, or the person alone.
    let mut acct: HashMap<&str, Households> = HashMap::default();
    for p in &eff {
        if p.payer != Payer::Individual || p.account.is_empty() {
            continue;
        }
        let hh = match ctx.hukou.get(p.id.as_str()) {
            Some(h) if !h.household_no.is_empty() => (true, h.household_no.as_str()),
            _ => (false, p.id.as_str()),
        };
        let e = acct.entry(p.account.as_str()).or_default();
        if !e.0.contains(&hh) {
            e.0.push(hh);
        }
        e.1 += p.amount;
    }
    for (a, (hh, amt)) in acct {
        if hh.len() >= policy.pooling_min_households {
            push("MNY-005", a.to_string(), amt);
        }
    }

    // MNY-006: receipt number gaps per collector and prefix.
    let mut owned: BTreeMap<&str, BTreeMap<&str, BTreeSet<u128>>> = BTreeMap::new();
    let receipt_sides = c
        .receipts
        .iter()
        .map(|r| (r.collector.as_str(), r.receipt_no.as_str()))
        .chain(
            eff.iter()
                .filter(|p| !p.receipt_no.is_empty())
                .map(|p| (p.collector.as_str(), p.receipt_no.as_str())),
        );
    for (collector, no) in receipt_sides {
        if collector.is_empty() {
            continue;
        }
        if let Some((prefix, n)) = split_receipt(no) {
            owned
                .entry(collector)
                .or_default()
                .entry(prefix)
                .or_default()
                .insert(n);
        }
    }
    for (col, prefixes) in &owned {
        let gap = prefixes.values().any(|set| {
            let (lo, hi) = (set.first().copied(), set.last().copied());
            match (lo, hi) {
                (Some(lo), Some(hi)) => hi - lo + 1 > set.len() as u128,
                _ => false,
            }
        });
        if gap {
            push("MNY-006", (*col).to_string(), Fen::ZERO);
        }
    }

    // DQ-001: invalid ids on payments and receipts.
    for p in &eff {
        if !is_valid(&p.id) {
            push("DQ-001", p.txn_id.clone(), p.amount);
        }
    }
    let mut dq1r: BTreeMap<&str, Fen> = BTreeMap::new();
    for r in &c.receipts {
        if !id_valid(&r.id) {
            *dq1r.entry(r.receipt_no.as_str()).or_default() += r.amount;
        }
    }
    for (k, a) in dq1r {
        push("DQ-001", k.to_string(), a);
    }

    // DQ-002: payment names against hukou names.
    let mut dq2: BTreeMap<&str, Fen> = BTreeMap::new();
    for p in &eff {
        if p.name.is_empty() {
            continue;
        }
        if let Some(h) = ctx.hukou.get(p.id.as_str()) {
            if h.name != p.name {
                *dq2.entry(p.id.as_str()).or_default() += p.amount;
            }
        }
    }
    for (k, a) in dq2 {
        push("DQ-002", k.to_string(), a);
    }

    // IDN-001 and DTH-005: identity linkage of invalid ids.
    let linker = Linker::new(c);
    for p in &eff {
        if is_valid(&p.id) {
            continue;
        }
        if linker
            .link(&p.id, p.lost, &p.name, Some(p.village))
            .is_some()
        {
            push("IDN-001", p.txn_id.clone(), p.amount);
        }
    }
    let mut idn_r: BTreeMap<&str, Fen> = BTreeMap::new();
    for r in &c.receipts {
        if !id_valid(&r.id)
            && linker
                .link(&r.id, false, &r.name, Some(r.village))
                .is_some()
        {
            *idn_r.entry(r.receipt_no.as_str()).or_default() += r.amount;
        }
    }
    for (k, a) in idn_r {
        push("IDN-001", k.to_string(), a);
    }
    // Per linked person, the earliest death date of a linked (rejected) deaths row.
    let mut linked_death: HashMap<&str, NaiveDate> = HashMap::default();
    for d in c.deaths.iter().filter(|d| !id_valid(&d.id)) {
        if let Some(person) = linker.link(&d.id, false, &d.name, None) {
            linked_death
                .entry(person.id.as_str())
                .and_modify(|x| *x = (*x).min(d.death_date))
                .or_insert(d.death_date);
        }
    }
    for p in &eff {
        let Some(&dd) = linked_death.get(p.id.as_str()) else {
            continue;
        };
        let dth001 = ctx.death_date(&p.id).is_some_and(|known| p.date() > known);
        if p.date() > dd && !dth001 {
            push("DTH-005", p.txn_id.clone(), p.amount);
        }
    }

    out.sort();
    out
}

/// Identity linkage as `data-contract.md` words it, written plainly: hukou persons (the
/// first row of each id) by id and by name.
pub(crate) struct Linker<'a> {
    by_id: HashMap<&'a str, &'a Person>,
    by_name: HashMap<&'a str, Vec<&'a Person>>,
}

impl<'a> Linker<'a> {
    pub(crate) fn new(c: &'a Chunk) -> Linker<'a> {
        let mut by_id: HashMap<&str, &Person> = HashMap::default();
        for p in &c.persons {
            by_id.entry(p.id.as_str()).or_insert(p);
        }
        let mut by_name: HashMap<&str, Vec<&Person>> = HashMap::default();
        for p in &c.persons {
            if std::ptr::eq(by_id[p.id.as_str()], p) {
                by_name.entry(p.name.as_str()).or_default().push(p);
            }
        }
        Linker { by_id, by_name }
    }

    /// The one person a row links to: typo, then numeric (lost ids), then name_birth;
    /// the first basis with any candidate decides.
    pub(crate) fn link(
        &self,
        id: &str,
        lost: bool,
        name: &str,
        village: Option<u16>,
    ) -> Option<&'a Person> {
        if name.is_empty() {
            return None;
        }
        let one = |v: Vec<&'a Person>| if v.len() == 1 { Some(v[0]) } else { None };
        // typo: every id one substitution or one adjacent swap away, looked up by id.
        let chars: Vec<char> = id.chars().collect();
        let mut near: BTreeSet<String> = BTreeSet::new();
        for i in 0..chars.len() {
            for ch in "0123456789X".chars() {
                if ch != chars[i] {
                    let mut v = chars.clone();
                    v[i] = ch;
                    near.insert(v.into_iter().collect());
                }
            }
            if i + 1 < chars.len() && chars[i] != chars[i + 1] {
                let mut v = chars.clone();
                v.swap(i, i + 1);
                near.insert(v.into_iter().collect());
            }
        }
        let typo: Vec<&Person> = near
            .iter()
            .filter_map(|n| self.by_id.get(n.as_str()).copied())
            .filter(|p| p.name == name)
            .collect();
        if !typo.is_empty() {
            return one(typo);
        }
        let same_name = self.by_name.get(name).cloned().unwrap_or_default();
        if lost {
            let n: i128 = id.parse().ok()?;
            let numeric: Vec<&Person> = same_name
                .iter()
                .copied()
                .filter(|p| p.id.parse::<i128>().is_ok_and(|m| (m - n).abs() < 1000))
                .collect();
            if !numeric.is_empty() {
                return one(numeric);
            }
        }
        let birth = id
            .get(6..14)
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y%m%d").ok())?;
        one(same_name
            .into_iter()
            .filter(|p| {
                p.id.get(6..14)
                    .and_then(|s| NaiveDate::parse_from_str(s, "%Y%m%d").ok())
                    == Some(birth)
            })
            .filter(|p| village.is_none_or(|v| p.village == v))
            .collect())
    }
}

/// Splits a receipt number into its prefix and trailing-digit suffix.
pub(crate) fn split_receipt(no: &str) -> Option<(&str, u128)> {
    let digits = no.bytes().rev().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 30 {
        return None;
    }
    let cut = no.len() - digits;
    Some((&no[..cut], no[cut..].parse().ok()?))
}
