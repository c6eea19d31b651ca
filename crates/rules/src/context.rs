//! The facts a run reasons with, built once per run and read by every rule: the
//! dataset, the policy and as_of; the person view ([`crate::view`]); the entitlement the
//! policy gives each person ([`crate::entitlement`]); the shared indices (deposits,
//! payments by receipt, receipts by number, the DUP groups, identity linkage); and the
//! coverage table ([`crate::tables`]). The finding builders are in [`crate::evidence`].

use chrono::NaiveDate;
use qianbiao_core::summary::CoverageRow;
use qianbiao_core::{Fen, Policy, Scheme, Sym};
use qianbiao_ingest::{Dataset, Deposits, HukouView, Payment, Prov, ReceiptView, Rows, Text};
use rayon::prelude::*;

use crate::entitlement::Entitlement;
use crate::groups::{Groups, SymNumbers};
pub use crate::view::{DeathSource, PersonIdx, PersonView};

/// The facts a run reasons with: the dataset, the policy, as_of, the person view and the
/// shared indices.
pub struct Context<'a> {
    /// The loaded data.
    pub ds: &'a Dataset,
    /// The policy.
    pub policy: &'a Policy,
    /// The date the data is complete to.
    pub as_of: NaiveDate,
    /// Every person named by a valid id in any source, as arrays.
    pub view: PersonView,
    /// Deposits by deposit_id, rows of one id combined.
    pub deposits: DepositIndex<'a>,
    /// Effective payments by non-empty receipt_no.
    pub payments_by_receipt: Groups<'a>,
    /// Receipts rows by receipt_no.
    pub receipts_by_no: Groups<'a>,
    /// Effective resident-scheme payments (lost-digit ids left out) sorted by person (normalised id), scheme, period
    /// and ledger order: the DUP rules' groups, sorted once for all of them.
    person_scheme: Vec<u32>,
    /// `[start, end)` of each person-scheme-period group in `person_scheme`.
    person_scheme_bounds: Vec<(u32, u32)>,
    /// Identity linkage of rows with invalid ids (IDN-001, DTH-005), computed once.
    pub links: crate::link::Links,
    /// Which persons paid for which schemes in the policy year (the coverage table and
    /// ELG-004), computed once.
    pub paid_in_year: PaidInYear,
    /// The coverage table (COV-001 and `coverage.csv`): [`crate::tables::coverage`].
    pub coverage: Vec<CoverageRow>,
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

/// The deposit batches, found by the symbol of their deposit_id (the run's text
/// interner, which payments' deposit_id shares): an array lookup per payment, where a map
/// by text hashed the id of every payment a money rule looks at.
#[derive(Debug, Clone, Default)]
pub struct DepositIndex<'a> {
    /// Each deposit_id's batch, in the order its first row was read.
    batches: Vec<(&'a str, Deposit)>,
    /// The batch number of a text symbol (none: not a deposit_id).
    by_sym: SymNumbers,
}

impl<'a> DepositIndex<'a> {
    /// The batches of the deposits table, rows of one deposit_id combined.
    pub fn of(ds: &'a Dataset) -> DepositIndex<'a> {
        let rows = ds.deposits();
        let mut by_sym = SymNumbers::new(ds.strings.text.len());
        let mut batches: Vec<(&'a str, Deposit)> = Vec::with_capacity(rows.len());
        for (r, d) in rows.iter().enumerate() {
            let day = d.deposited_at().date();
            match by_sym.number(ds.deposits.deposit_id[r], batches.len()) {
                (_, true) => batches.push((
                    d.deposit_id(),
                    Deposit {
                        collector_id: Text::from(d.collector_id()),
                        amount: d.amount(),
                        person_count: d.person_count(),
                        first_date: day,
                        last_date: day,
                        provs: vec![d.prov()],
                    },
                )),
                (b, false) => {
                    let x = &mut batches[b].1;
                    x.amount += d.amount();
                    // Counts add up only when every row gives one; a row without a count
                    // leaves the deposit's count unknown, so it is not compared.
                    x.person_count = match (x.person_count, d.person_count()) {
                        (Some(a), Some(b)) => Some(a + b),
                        _ => None,
                    };
                    x.first_date = x.first_date.min(day);
                    x.last_date = x.last_date.max(day);
                    x.provs.push(d.prov());
                }
            }
        }
        DepositIndex { batches, by_sym }
    }

    /// The batch of a deposit_id's symbol (none for the empty text, or an id no
    /// deposits row has).
    #[inline]
    pub fn of_sym(&self, sym: Sym) -> Option<&Deposit> {
        self.index_of(sym).map(|b| &self.batches[b].1)
    }

    /// The index of a deposit_id's batch in [`DepositIndex::iter`]'s order.
    #[inline]
    pub fn index_of(&self, sym: Sym) -> Option<usize> {
        self.by_sym.get(sym)
    }

    /// Every batch with its deposit_id, in the order its first row was read.
    pub fn iter(&self) -> impl Iterator<Item = &(&'a str, Deposit)> {
        self.batches.iter()
    }

    /// The number of distinct deposit_ids.
    pub fn len(&self) -> usize {
        self.batches.len()
    }

    /// True when there is no deposit.
    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }
}

impl<'a> Context<'a> {
    /// The batch of payment row `i`'s deposit_id, if a deposits row has that id.
    #[inline]
    pub fn deposit_of_payment(&self, i: u32) -> Option<&Deposit> {
        self.deposits
            .of_sym(self.ds.payments.deposit_id[i as usize])
    }

    /// Builds the person view, then the indices and the coverage table at once.
    pub fn new(ds: &'a Dataset, policy: &'a Policy, as_of: NaiveDate) -> Context<'a> {
        let view = PersonView::new(ds, policy);
        // The maps, the DUP groups and the linkage need only the tables and the persons:
        // built at once.
        let deposit_map = || DepositIndex::of(ds);
        let payment_map = || {
            let pays = ds.payments();
            Groups::new(
                (0..pays.len() as u32)
                    .map(|i| pays.get(i as usize))
                    .enumerate()
                    .filter(|(_, p)| p.is_effective() && !p.receipt_no().is_empty())
                    .map(|(i, p)| (p.receipt_no(), i as u32))
                    .collect(),
            )
        };
        let receipt_map = || {
            let recs = ds.receipts();
            Groups::new(
                recs.iter()
                    .enumerate()
                    .map(|(i, r)| (r.receipt_no(), i as u32))
                    .collect(),
            )
        };
        let link =
            || crate::link::Links::compute(ds, |s| view.of_sym(s).and_then(|p| view.hukou_row(p)));
        let coverage = || {
            let paid = PaidInYear::of(ds, policy, &view);
            let table = crate::tables::coverage(ds, policy, &view, &paid);
            (paid, table)
        };
        let (
            ((deposits, (paid_in_year, coverage)), (payments_by_receipt, receipts_by_no)),
            ((person_scheme, person_scheme_bounds), links),
        ) = rayon::join(
            || {
                rayon::join(
                    || rayon::join(deposit_map, coverage),
                    || rayon::join(payment_map, receipt_map),
                )
            },
            || rayon::join(|| person_scheme_groups(ds), link),
        );
        Context {
            ds,
            policy,
            as_of,
            view,
            deposits,
            payments_by_receipt,
            receipts_by_no,
            person_scheme,
            person_scheme_bounds,
            links,
            paid_in_year,
            coverage,
        }
    }

    /// The entitlement the policy gives the persons of the view.
    pub fn entitlement(&self) -> Entitlement<'_> {
        Entitlement::new(self.ds, self.policy, &self.view)
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
            .and_then(|s| self.view.of_sym(s))
    }

    /// The person of an id's symbol.
    pub fn person_of_sym(&self, id: Sym) -> Option<PersonIdx> {
        self.view.of_sym(id)
    }

    /// The person of the kept payment at an index (None for an invalid id).
    pub fn payment_person(&self, i: u32) -> Option<PersonIdx> {
        self.view.payment_person(i as usize)
    }

    /// The person's hukou row.
    pub fn hukou(&self, p: PersonIdx) -> Option<HukouView<'a>> {
        self.view
            .hukou_row(p)
            .map(|i| self.ds.hukou().get(i as usize))
    }

    /// The death date, if any.
    pub fn death_date(&self, p: PersonIdx) -> Option<NaiveDate> {
        self.view.death(p).map(|(d, _)| d)
    }

    /// Where the death date comes from, in Chinese (`派出所`, `户籍`, ...).
    pub fn death_source(&self, p: PersonIdx) -> String {
        match self.view.death(p) {
            Some((_, DeathSource::Notice(i))) => {
                let s = self.ds.deaths().get(i as usize).source();
                if s.is_empty() {
                    "死亡人员信息".into()
                } else {
                    s.to_string()
                }
            }
            Some((_, DeathSource::Hukou(_))) => "户籍".into(),
            None => String::new(),
        }
    }

    /// `file:line` of the row that gives the person's death date (a deaths row, or a
    /// hukou row with status 死亡), if any.
    pub fn death_evidence(&self, p: PersonIdx) -> Option<String> {
        let prov = match self.view.death(p)? {
            (_, DeathSource::Notice(i)) => self.ds.deaths().get(i as usize).prov(),
            (_, DeathSource::Hukou(i)) => self.ds.hukou().get(i as usize).prov(),
        };
        Some(self.src(prov))
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
}

/// Sorts the effective resident payments (an id that lost its digits as a number stands for
/// nobody, so its rows join no group) by (id, scheme, period, ledger order) and finds
/// the group bounds: one parallel sort instead of a hash map per rule.
fn person_scheme_groups(ds: &Dataset) -> (Vec<u32>, Vec<(u32, u32)>) {
    let pays = &ds.payments;
    // Each row's sort key packed in one integer, read from the columns in one pass:
    // the sort then compares integers in place, where a key read through the row index
    // at every comparison cost random reads of four columns (most of this stage at 10M
    // payments). Groups need equal ids together, not ids in text order: the symbol's
    // number is the cheapest such key (findings are sorted by key when the rules are
    // done). The row's index last makes every key distinct, so the order is the one a
    // stable sort by (id, scheme, period) gives.
    let mut keys: Vec<u128> = (0..pays.id.len())
        .filter(|&i| {
            pays.status[i].is_effective() && pays.scheme[i].is_resident() && !pays.id_lost[i]
        })
        .map(|i| group_key(pays.id[i], pays.scheme[i], pays.period[i]) | i as u128)
        .collect();
    keys.par_sort_unstable();
    let mut bounds = Vec::new();
    let mut start = 0;
    for k in 1..=keys.len() {
        if k == keys.len() || keys[start] >> 32 != keys[k] >> 32 {
            bounds.push((start as u32, k as u32));
            start = k;
        }
    }
    let order = keys.iter().map(|&k| k as u32).collect();
    (order, bounds)
}

/// A payment's group (id symbol, scheme, period) in the high 96 bits of an integer, in
/// the order of the tuple; the low 32 bits are left for the row.
fn group_key(id: Sym, scheme: Scheme, period: i32) -> u128 {
    // The period's sign bit flipped: signed order as unsigned.
    let period = (period as u32) ^ (1 << 31);
    ((id.index() as u128) << 96) | ((scheme as u128) << 64) | (u128::from(period) << 32)
}

/// Which persons paid for which schemes in the policy year ([`Context::paid_in_year`]).
pub struct PaidInYear {
    bits: Vec<u8>,
}

fn scheme_bit(s: Scheme) -> u8 {
    1 << (s as u8)
}

impl PaidInYear {
    /// Persons and resident schemes with an effective payment (any payer) for year Y.
    pub fn of(ds: &Dataset, policy: &Policy, view: &PersonView) -> PaidInYear {
        // One byte of scheme bits per person: no hashing, one pass over the ledger.
        let mut bits = vec![0u8; view.len()];
        let pays = &ds.payments;
        for (i, person) in view.payment_persons().enumerate() {
            if !pays.status[i].is_effective() || pays.period[i] != policy.year {
                continue;
            }
            if let Some(p) = person {
                bits[p as usize] |= scheme_bit(pays.scheme[i]);
            }
        }
        PaidInYear { bits }
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use qianbiao_core::Interner;

    proptest::proptest! {
        #[test]
        fn group_keys_sort_as_their_tuples(
            rows in proptest::collection::vec((0usize..5, 0usize..4, proptest::prelude::any::<i32>()), 0..60)
        ) {
            let mut interner = Interner::default();
            let syms: Vec<Sym> = (0..5).map(|k| interner.intern(&format!("id{k}"))).collect();
            let schemes = [
                Scheme::ResidentPension,
                Scheme::ResidentMedical,
                Scheme::EmployeePension,
                Scheme::EmployeeMedical,
            ];
            let tuples: Vec<(Sym, Scheme, i32)> =
                rows.iter().map(|&(id, s, p)| (syms[id], schemes[s], p)).collect();
            let mut by_tuple: Vec<u32> = (0..tuples.len() as u32).collect();
            by_tuple.sort_by_key(|&i| {
                let (id, s, p) = tuples[i as usize];
                (id.index(), s, p, i)
            });
            let mut by_key: Vec<u128> = tuples
                .iter()
                .enumerate()
                .map(|(i, &(id, s, p))| group_key(id, s, p) | i as u128)
                .collect();
            by_key.sort_unstable();
            let order: Vec<u32> = by_key.iter().map(|&k| k as u32).collect();
            proptest::prop_assert_eq!(order, by_tuple);
            // Equal high bits are exactly equal groups.
            for w in by_key.windows(2) {
                let (a, b) = (tuples[w[0] as u32 as usize], tuples[w[1] as u32 as usize]);
                proptest::prop_assert_eq!(w[0] >> 32 == w[1] >> 32, a == b);
            }
        }
    }
}
