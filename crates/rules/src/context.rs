//! The person view and shared indices, built once per run and read by every rule.

use qianbiao_ingest::Table;
use rustc_hash::FxHashMap as HashMap;

use chrono::NaiveDate;
use qianbiao_core::policy::Group;
use qianbiao_core::{Category, Fen, Finding, HukouStatus, Policy, Scheme, Sym};
use qianbiao_ingest::{
    Dataset, Deposits, EligibilityView, HukouView, Payment, Prov, ReceiptView, Rows, Text,
};
use rayon::prelude::*;

/// Index of a person in [`Context::persons`].
pub type PersonIdx = u32;

/// No person: the symbol is not a valid id of the view.
const NO_PERSON: PersonIdx = PersonIdx::MAX;

/// The person of an id's symbol in the view's index, if the id is a person's.
fn person_at(index: &[PersonIdx], id: Sym) -> Option<PersonIdx> {
    index.get(id.index()).copied().filter(|&p| p != NO_PERSON)
}

/// Where a person's death date comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeathSource {
    /// A `deaths` row (index).
    Notice(u32),
    /// The hukou row's 死亡 status_date.
    Hukou,
}

/// One person: everything the rules need, joined once.
#[derive(Debug, Clone)]
pub struct Person {
    /// Canonical valid id.
    pub id: Text,
    /// Birth year from the id.
    pub birth_year: i32,
    /// First hukou row of the id, if any.
    pub hukou: Option<u32>,
    /// Earliest death date over deaths rows and hukou 死亡, with where it comes from.
    pub death: Option<(NaiveDate, DeathSource)>,
    /// Number of deaths rows.
    pub death_rows: u32,
    /// Employee pension enrolment active in Y.
    pub employee_pension: bool,
    /// Employee medical enrolment active in Y.
    pub employee_medical: bool,
    /// Range into [`Context::elig_rows`] of this person's eligibility rows.
    elig: (u32, u32),
}

/// The facts a run reasons with: the dataset, the policy, as_of and the person view.
pub struct Context<'a> {
    /// The loaded data.
    pub ds: &'a Dataset,
    /// The policy.
    pub policy: &'a Policy,
    /// The date the data is complete to.
    pub as_of: NaiveDate,
    /// Every person named by a valid id in any source.
    pub persons: Vec<Person>,
    /// Person of each id symbol (`NO_PERSON` for ids that are not valid).
    index: Vec<PersonIdx>,
    elig_rows: Vec<u32>,
    /// Per kept payment, its person (None for an invalid id).
    pub payment_person: Vec<Option<PersonIdx>>,
    /// Deposits by deposit_id, rows of one id combined.
    pub deposits: HashMap<&'a str, Deposit>,
    /// Effective payments by non-empty receipt_no.
    pub payments_by_receipt: HashMap<&'a str, Vec<u32>>,
    /// Receipts rows by receipt_no.
    pub receipts_by_no: HashMap<&'a str, Vec<u32>>,
    /// Effective resident-scheme payments (lost-digit ids left out) sorted by person (normalised id), scheme, period
    /// and ledger order: the DUP rules' groups, sorted once for all of them.
    person_scheme: Vec<u32>,
    /// `[start, end)` of each person-scheme-period group in `person_scheme`.
    person_scheme_bounds: Vec<(u32, u32)>,
    /// Identity linkage of rows with invalid ids (IDN-001, DTH-005), computed once.
    pub links: crate::link::Links,
    /// The coverage table, computed once for COV-001 and `coverage.csv`.
    pub(crate) coverage: std::sync::OnceLock<Vec<crate::cov::CoverageRow>>,
}

/// A deposit batch: every `deposits` row of one deposit_id.
#[derive(Debug, Clone)]
pub struct Deposit {
    /// Collector of the first row.
    pub collector_id: Text,
    /// Amounts added.
    pub amount: Fen,
    /// Person counts added; None when any row has none (then not compared).
    pub person_count: Option<u32>,
    /// Earliest deposit date.
    pub first_date: NaiveDate,
    /// Latest deposit date.
    pub last_date: NaiveDate,
    /// Rows.
    pub provs: Vec<Prov>,
}

impl<'a> Context<'a> {
    /// Builds the person view and indices.
    pub fn new(ds: &'a Dataset, policy: &'a Policy, as_of: NaiveDate) -> Context<'a> {
        // Persons are indexed by the symbol of their id: one array lookup, no hashing.
        let mut index: Vec<PersonIdx> = vec![NO_PERSON; ds.strings.ids.len()];
        let mut persons: Vec<Person> = Vec::with_capacity(ds.hukou.len());
        let mut intern = |id: Sym, persons: &mut Vec<Person>| -> PersonIdx {
            let slot = &mut index[id.index()];
            if *slot != NO_PERSON {
                return *slot;
            }
            let i = persons.len() as PersonIdx;
            let text = ds.id_str(id);
            persons.push(Person {
                id: Text::from(text),
                birth_year: qianbiao_core::id::birth_year_of_canonical(text).unwrap_or(0),
                hukou: None,
                death: None,
                death_rows: 0,
                employee_pension: false,
                employee_medical: false,
                elig: (0, 0),
            });
            *slot = i;
            i
        };
        let hk = &ds.hukou;
        for (i, &id) in hk.id.iter().enumerate() {
            let p = intern(id, &mut persons);
            let person = &mut persons[p as usize];
            if person.hukou.is_none() {
                person.hukou = Some(i as u32);
                if hk.status[i] == HukouStatus::Dead {
                    if let Some(d) = hk.status_date[i] {
                        person.death = Some((d, DeathSource::Hukou));
                    }
                }
            }
        }
        let dt = &ds.deaths;
        for (i, &id) in dt.id.iter().enumerate() {
            let p = intern(id, &mut persons);
            let person = &mut persons[p as usize];
            person.death_rows += 1;
            let day = dt.death_date[i];
            if person.death.is_none_or(|(old, _)| day < old) {
                person.death = Some((day, DeathSource::Notice(i as u32)));
            }
        }
        let (ys, ye) = (policy.year_start(), policy.year_end());
        let rg = &ds.registrations;
        for (i, &id) in rg.id.iter().enumerate() {
            let p = intern(id, &mut persons);
            let active = rg.start_date[i] <= ye && rg.end_date[i].is_none_or(|e| e >= ys);
            if active {
                match rg.scheme[i] {
                    Scheme::EmployeePension => persons[p as usize].employee_pension = true,
                    Scheme::EmployeeMedical => persons[p as usize].employee_medical = true,
                    _ => {}
                }
            }
        }
        let mut elig_pairs: Vec<(PersonIdx, u32)> = ds
            .eligibility
            .id
            .iter()
            .enumerate()
            .map(|(i, &id)| (intern(id, &mut persons), i as u32))
            .collect();
        elig_pairs.sort_unstable();
        let mut elig_rows = Vec::with_capacity(elig_pairs.len());
        let mut k = 0;
        while k < elig_pairs.len() {
            let p = elig_pairs[k].0;
            let start = elig_rows.len() as u32;
            while k < elig_pairs.len() && elig_pairs[k].0 == p {
                elig_rows.push(elig_pairs[k].1);
                k += 1;
            }
            persons[p as usize].elig = (start, elig_rows.len() as u32);
        }
        for (&id, &valid) in ds.payments.id.iter().zip(&ds.payments.id_valid) {
            if valid {
                intern(id, &mut persons);
            }
        }
        for (&id, &valid) in ds.receipts.id.iter().zip(&ds.receipts.id_valid) {
            if valid {
                intern(id, &mut persons);
            }
        }
        for &id in &ds.roster.id {
            intern(id, &mut persons);
        }
        let payment_person: Vec<Option<PersonIdx>> = ds
            .payments
            .id
            .par_iter()
            .zip(&ds.payments.id_valid)
            .map(|(&id, &valid)| person_at(&index, id).filter(|_| valid))
            .collect();

        // The maps, the DUP groups and the linkage need only the tables and the persons:
        // built at once.
        let deposit_map = || {
            let mut deposits: HashMap<&'a str, Deposit> = HashMap::default();
            for d in ds.deposits().iter() {
                let day = d.deposited_at().date();
                deposits
                    .entry(d.deposit_id())
                    .and_modify(|x| {
                        x.amount += d.amount();
                        // Counts add up only when every row gives one; a row without a
                        // count leaves the deposit's count unknown, so it is not compared.
                        x.person_count = match (x.person_count, d.person_count()) {
                            (Some(a), Some(b)) => Some(a + b),
                            _ => None,
                        };
                        x.first_date = x.first_date.min(day);
                        x.last_date = x.last_date.max(day);
                        x.provs.push(d.prov());
                    })
                    .or_insert_with(|| Deposit {
                        collector_id: Text::from(d.collector_id()),
                        amount: d.amount(),
                        person_count: d.person_count(),
                        first_date: day,
                        last_date: day,
                        provs: vec![d.prov()],
                    });
            }
            deposits
        };
        let payment_map = || {
            let pays = ds.payments();
            let with_receipt: Vec<u32> = (0..pays.len() as u32)
                .filter(|&i| {
                    let p = pays.get(i as usize);
                    p.is_effective() && !p.receipt_no().is_empty()
                })
                .collect();
            // Sized once: growing a map of millions of text keys rehashes every key.
            let mut map: HashMap<&'a str, Vec<u32>> =
                HashMap::with_capacity_and_hasher(with_receipt.len(), Default::default());
            for i in with_receipt {
                map.entry(pays.get(i as usize).receipt_no())
                    .or_default()
                    .push(i);
            }
            map
        };
        let receipt_map = || {
            let recs = ds.receipts();
            let mut map: HashMap<&'a str, Vec<u32>> =
                HashMap::with_capacity_and_hasher(recs.len(), Default::default());
            for (i, r) in recs.iter().enumerate() {
                map.entry(r.receipt_no()).or_default().push(i as u32);
            }
            map
        };
        let link = || {
            crate::link::Links::compute(ds, |id| {
                ds.strings
                    .ids
                    .lookup(id)
                    .and_then(|s| person_at(&index, s))
                    .and_then(|p| persons[p as usize].hukou)
            })
        };
        let (
            (deposits, (payments_by_receipt, receipts_by_no)),
            ((person_scheme, person_scheme_bounds), links),
        ) = rayon::join(
            || rayon::join(deposit_map, || rayon::join(payment_map, receipt_map)),
            || rayon::join(|| person_scheme_groups(ds), link),
        );
        Context {
            ds,
            policy,
            as_of,
            persons,
            index,
            elig_rows,
            payment_person,
            deposits,
            payments_by_receipt,
            receipts_by_no,
            person_scheme,
            person_scheme_bounds,
            links,
            coverage: std::sync::OnceLock::new(),
        }
    }

    /// Calls `f` once per person-scheme-period group of effective resident payments, with
    /// the members passing `keep` (in ledger order); groups with no such member are skipped.
    pub fn for_each_person_scheme(
        &self,
        keep: impl Fn(&Payment) -> bool,
        mut f: impl FnMut(&mut Vec<u32>),
    ) {
        let mut members = Vec::new();
        for &(a, b) in &self.person_scheme_bounds {
            members.clear();
            members.extend(
                self.person_scheme[a as usize..b as usize]
                    .iter()
                    .copied()
                    .filter(|&i| keep(&self.payment(i))),
            );
            if !members.is_empty() {
                f(&mut members);
            }
        }
    }

    /// The person of a canonical valid id.
    pub fn person_of(&self, id: &str) -> Option<PersonIdx> {
        self.ds
            .strings
            .ids
            .lookup(id)
            .and_then(|s| self.person_of_sym(s))
    }

    /// The person of an id's symbol.
    pub fn person_of_sym(&self, id: Sym) -> Option<PersonIdx> {
        person_at(&self.index, id)
    }

    /// The person record.
    pub fn person(&self, p: PersonIdx) -> &Person {
        &self.persons[p as usize]
    }

    /// Age in the policy year: `Y - birth year` (from the id).
    pub fn age(&self, p: PersonIdx) -> i32 {
        self.policy.year - self.person(p).birth_year
    }

    /// The person's hukou row.
    pub fn hukou(&self, p: PersonIdx) -> Option<HukouView<'a>> {
        self.person(p)
            .hukou
            .map(|i| self.ds.hukou().get(i as usize))
    }

    /// The person's eligibility rows.
    pub fn eligibility(&self, p: PersonIdx) -> impl Iterator<Item = EligibilityView<'a>> + '_ {
        let (a, b) = self.person(p).elig;
        self.elig_rows[a as usize..b as usize]
            .iter()
            .map(|&i| self.ds.eligibility().get(i as usize))
    }

    /// True when a row of the group is active on `day`.
    pub fn in_group(&self, p: PersonIdx, group: Group, day: NaiveDate) -> bool {
        self.eligibility(p).any(|e| {
            e.active_on(day)
                && match group {
                    Group::Category(c) => e.category() == c,
                    Group::SeverelyDisabled => {
                        e.category() == Category::Canji
                            && e.disability_level()
                                .is_some_and(|l| self.policy.severe_disability_levels.contains(&l))
                    }
                }
        })
    }

    /// True when in any of the groups on `day`.
    pub fn in_any(&self, p: PersonIdx, groups: &[Group], day: NaiveDate) -> bool {
        groups.iter().any(|&g| self.in_group(p, g, day))
    }

    /// Severely disabled on `day`.
    pub fn severely_disabled(&self, p: PersonIdx, day: NaiveDate) -> bool {
        self.in_group(p, Group::SeverelyDisabled, day)
    }

    /// In a medical full-代缴 group on `day`, the 70+ included.
    pub fn medical_full(&self, p: PersonIdx, day: NaiveDate) -> bool {
        self.age(p) >= self.policy.medical_full_age
            || self.in_any(p, &self.policy.medical_full_groups, day)
    }

    /// The expected individual medical amount for a payment on `day`.
    pub fn expected_medical(&self, p: PersonIdx, day: NaiveDate) -> Fen {
        let pol = self.policy;
        if self.medical_full(p, day) {
            Fen::ZERO
        } else if day > pol.window_end {
            pol.medical_late_amount
        } else if (pol.medical_half_ages[0]..=pol.medical_half_ages[1]).contains(&self.age(p)) {
            pol.medical_half_amount
        } else {
            pol.medical_standard
        }
    }

    /// Employee enrolment of the same kind as `scheme`, active in Y.
    pub fn employee_active(&self, p: PersonIdx, scheme: Scheme) -> bool {
        let person = self.person(p);
        match scheme.employee_counterpart() {
            Scheme::EmployeePension => person.employee_pension,
            _ => person.employee_medical,
        }
    }

    /// The death date, if any.
    pub fn death_date(&self, p: PersonIdx) -> Option<NaiveDate> {
        self.person(p).death.map(|(d, _)| d)
    }

    /// Where the death date comes from, in Chinese (`派出所`, `户籍`, ...).
    pub fn death_source(&self, p: PersonIdx) -> String {
        match self.person(p).death {
            Some((_, DeathSource::Notice(i))) => {
                let s = self.ds.deaths().get(i as usize).source();
                if s.is_empty() {
                    "死亡人员信息".into()
                } else {
                    s.to_string()
                }
            }
            Some((_, DeathSource::Hukou)) => "户籍".into(),
            None => String::new(),
        }
    }

    /// `file:line` of a row.
    pub fn src(&self, p: Prov) -> String {
        self.ds.source_ref(p)
    }

    /// The kept payment at an index.
    pub fn payment(&self, i: u32) -> Payment<'a> {
        self.ds.payments().get(i as usize)
    }

    /// The receipt at an index.
    pub fn receipt(&self, i: u32) -> ReceiptView<'a> {
        self.ds.receipts().get(i as usize)
    }

    /// Deposits rows (raw).
    pub fn deposit_rows(&self) -> Rows<'a, Deposits> {
        self.ds.deposits()
    }

    /// Indices of effective payments.
    pub fn effective(&self) -> impl Iterator<Item = (u32, Payment<'a>)> + 'a {
        let ds = self.ds;
        (0..ds.payments.status.len())
            .filter(move |&i| ds.payments.status[i].is_effective())
            .map(move |i| (i as u32, ds.payments().get(i)))
    }

    /// Fills a finding's person columns from an id: hukou's name and village where the id
    /// is in hukou, else the given fallbacks.
    pub fn fill_person(&self, f: &mut Finding, id: &str, name: &str, village: &str) {
        f.id_number = id.to_string();
        let h = self.person_of(id).and_then(|p| self.hukou(p));
        f.name = h.map_or(name, |h| h.name()).to_string();
        f.village = h.map_or(village, |h| h.village()).to_string();
    }

    /// A finding about one payment: person, collector, scheme, period, amount, txn and source.
    pub fn payment_finding(&self, meta: &crate::RuleMeta, i: u32, key: String) -> Finding {
        let p = self.payment(i);
        let mut f = Finding::new(meta.code, meta.severity, key);
        self.fill_person(&mut f, p.id(), p.name(), p.village());
        f.collector_id = p.collector_id().to_string();
        f.scheme = Some(p.scheme());
        f.period = Some(p.period());
        f.amount = p.amount();
        f.txn_ids.push(p.txn_id().to_string());
        f.sources.push(self.src(p.prov()));
        f
    }

    /// The distinct non-empty collectors of some payments, sorted and joined by `;`.
    pub fn collectors_of(&self, rows: &[u32]) -> String {
        let mut collectors: Vec<&str> = rows
            .iter()
            .map(|&i| self.payment(i).collector_id())
            .filter(|c| !c.is_empty())
            .collect();
        collectors.sort_unstable();
        collectors.dedup();
        collectors.join(";")
    }

    /// A finding over the `receipts` rows of one receipt number: the first row's person,
    /// collector, scheme and period; the rows' amounts added; every row as evidence.
    pub fn receipt_finding(&self, meta: &crate::RuleMeta, no: &str, rows: &[u32]) -> Finding {
        let r = self.receipt(rows[0]);
        let mut f = Finding::new(meta.code, meta.severity, no);
        self.fill_person(&mut f, r.id(), r.name(), r.village());
        f.collector_id = r.collector_id().to_string();
        f.scheme = Some(r.scheme());
        f.period = Some(r.period());
        f.amount = rows.iter().map(|&i| self.receipt(i).amount()).sum();
        f.sources = rows
            .iter()
            .map(|&i| self.src(self.receipt(i).prov()))
            .collect();
        f
    }

    /// A finding over several payments of one person and scheme, keyed `ID|SCHEME|Y`.
    pub fn person_scheme_finding(
        &self,
        meta: &crate::RuleMeta,
        rows: &[u32],
        amount: Fen,
    ) -> Finding {
        let first = self.payment(rows[0]);
        let key = format!("{}|{}|{}", first.id(), first.scheme(), first.period());
        let mut f = Finding::new(meta.code, meta.severity, key);
        self.fill_person(&mut f, first.id(), first.name(), first.village());
        f.scheme = Some(first.scheme());
        f.period = Some(first.period());
        f.amount = amount;
        f.collector_id = self.collectors_of(rows);
        self.cite_payments(&mut f, rows);
        f
    }

    /// Adds payments to a finding's evidence: their txn_ids and `file:line`.
    pub fn cite_payments(&self, f: &mut Finding, rows: &[u32]) {
        for &i in rows {
            let p = self.payment(i);
            f.txn_ids.push(p.txn_id().to_string());
            f.sources.push(self.src(p.prov()));
        }
    }
}

/// Sorts the effective resident payments (an id that lost its digits as a number stands for
/// nobody, so its rows join no group) by (id, scheme, period, ledger order) and finds
/// the group bounds: one parallel sort instead of a hash map per rule.
fn person_scheme_groups(ds: &Dataset) -> (Vec<u32>, Vec<(u32, u32)>) {
    let pays = &ds.payments;
    let mut order: Vec<u32> = (0..pays.id.len())
        .filter(|&i| {
            pays.status[i].is_effective() && pays.scheme[i].is_resident() && !pays.id_lost[i]
        })
        .map(|i| i as u32)
        .collect();
    // Groups need equal ids together, not ids in text order: the symbol's number is
    // the cheapest such key (findings are sorted by key when the rules are done).
    order.par_sort_unstable_by_key(|&i| {
        let i = i as usize;
        (pays.id[i].index(), pays.scheme[i], pays.period[i], i)
    });
    let same = |a: u32, b: u32| {
        let (a, b) = (a as usize, b as usize);
        pays.id[a] == pays.id[b]
            && pays.scheme[a] == pays.scheme[b]
            && pays.period[a] == pays.period[b]
    };
    let mut bounds = Vec::new();
    let mut start = 0;
    for k in 1..=order.len() {
        if k == order.len() || !same(order[start], order[k]) {
            bounds.push((start as u32, k as u32));
            start = k;
        }
    }
    (order, bounds)
}

/// Which persons paid for which schemes in the policy year (see
/// [`Context::paid_in_year`]).
pub struct PaidInYear {
    bits: Vec<u8>,
}

fn scheme_bit(s: Scheme) -> u8 {
    1 << (s as u8)
}

impl PaidInYear {
    /// True when the person has an effective payment of the scheme for Y.
    pub fn contains(&self, &(person, scheme): &(PersonIdx, Scheme)) -> bool {
        self.bits
            .get(person as usize)
            .is_some_and(|b| b & scheme_bit(scheme) != 0)
    }
}

/// Formats a payment's date for details: `2021-12-05`.
pub fn day(p: &Payment) -> NaiveDate {
    p.paid_at().date()
}

impl Context<'_> {
    /// Persons and resident schemes with an effective payment (any payer) for year Y.
    pub fn paid_in_year(&self) -> PaidInYear {
        // One byte of scheme bits per person: no hashing, one pass over the ledger.
        let mut bits = vec![0u8; self.persons.len()];
        let pays = &self.ds.payments;
        for i in 0..pays.status.len() {
            if !pays.status[i].is_effective() || pays.period[i] != self.policy.year {
                continue;
            }
            if let Some(person) = self.payment_person[i] {
                bits[person as usize] |= scheme_bit(pays.scheme[i]);
            }
        }
        PaidInYear { bits }
    }

    /// Alive at the window end: no death date on or before it.
    pub fn alive_at_window_end(&self, p: PersonIdx) -> bool {
        self.death_date(p)
            .is_none_or(|d| d > self.policy.window_end)
    }

    /// Why an as_of-gated rule (ELG-004, COV-001) does not run: as_of inside the window.
    pub fn window_open_reason(&self) -> Option<String> {
        (self.as_of <= self.policy.window_end).then(|| {
            format!(
                "as_of {} is not after the window end {}",
                self.as_of, self.policy.window_end
            )
        })
    }
}
