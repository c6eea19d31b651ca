//! The person view: one array per fact, indexed by person, built once per run.
//!
//! A person is a valid id named in any source. Persons are numbered in the order their
//! ids are first read (hukou, deaths, registrations, eligibility, payments, receipts,
//! roster); every fact a rule asks of a person is then one array access: the birth year
//! (from the id), the first hukou row, the earliest death day and where it comes from,
//! the employee enrolments active in the policy year, and the range of the person's
//! eligibility rows. The numbering is one pass over the id columns (a symbol's person is
//! a plain array lookup, no hashing); the arrays are filled at once, on every core.

use chrono::NaiveDate;
use qianbiao_core::{HukouStatus, Policy, Scheme, Sym};
use qianbiao_ingest::Dataset;
use rayon::prelude::*;

/// Index of a person in the [`PersonView`].
pub type PersonIdx = u32;

/// No person: the symbol is not a valid id of the view.
const NO_PERSON: PersonIdx = PersonIdx::MAX;
/// No row.
const NONE: u32 = u32::MAX;

const EMPLOYEE_PENSION: u8 = 1;
const EMPLOYEE_MEDICAL: u8 = 2;

/// Where a person's death date comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeathSource {
    /// A `deaths` row (index).
    Notice(u32),
    /// A hukou row's 死亡 status_date (index of the row).
    Hukou(u32),
}

/// The bit that marks a death row as a hukou row's (clear: a deaths row's).
const HUKOU_DEATH: u32 = 1 << 31;

/// Every person named by a valid id in any source, as arrays indexed by [`PersonIdx`].
#[derive(Debug, Default)]
pub struct PersonView {
    /// Person of each id symbol (`NO_PERSON` for ids that are not a person's).
    index: Vec<PersonIdx>,
    /// The id symbol of each person.
    ids: Vec<Sym>,
    /// Birth year from the id (0 when it does not read).
    birth_year: Vec<i32>,
    /// First hukou row of the id (`NONE`: not in hukou).
    hukou: Vec<u32>,
    /// Earliest death day over the deaths rows and the hukou rows' 死亡 status.
    death: Vec<Option<NaiveDate>>,
    /// The row the day comes from: a deaths row's index, or a hukou row's with
    /// [`HUKOU_DEATH`] set.
    death_notice: Vec<u32>,
    /// Number of deaths rows.
    death_rows: Vec<u32>,
    /// Employee enrolments active in the policy year (bits).
    employee: Vec<u8>,
    /// `[start, end)` of the person's rows in `elig_rows`.
    elig: Vec<(u32, u32)>,
    /// Eligibility row indices, grouped by person.
    elig_rows: Vec<u32>,
    /// Per kept payment, its person (None for an invalid id).
    payment_person: Vec<PersonIdx>,
}

impl PersonView {
    /// Numbers the persons of a dataset and fills their arrays.
    pub fn new(ds: &Dataset, policy: &Policy) -> PersonView {
        let (index, ids) = number_persons(ds);
        let at = |id: Sym| person_at(&index, id);
        let n = ids.len();
        let birth_year = || -> Vec<i32> {
            ids.par_iter()
                .map(|&s| qianbiao_core::id::birth_year_of_canonical(&ds.id_str(s)).unwrap_or(0))
                .collect()
        };
        // First hukou row, and the earliest 死亡 status_date over all of the person's
        // hukou rows: a registry that lists a person twice may record the death on the
        // second row, and the death date is the earliest the sources give
        // (`docs/spec-readings.md`, Several hukou rows of one id).
        let hukou = || {
            let hk = &ds.hukou;
            let mut first = vec![NONE; n];
            // The earliest day and its row (the first read among equal days).
            let mut died: Vec<Option<(NaiveDate, u32)>> = vec![None; n];
            for (i, &id) in hk.id.iter().enumerate() {
                let Some(p) = at(id) else { continue };
                let p = p as usize;
                if first[p] == NONE {
                    first[p] = i as u32;
                }
                if hk.status[i] == HukouStatus::Dead {
                    if let Some(day) = hk.status_date[i] {
                        if died[p].is_none_or(|(old, _)| day < old) {
                            died[p] = Some((day, i as u32));
                        }
                    }
                }
            }
            (first, died)
        };
        // Earliest death notice (the first read among equal days), and how many.
        let notices = || {
            let dt = &ds.deaths;
            let mut earliest: Vec<Option<(NaiveDate, u32)>> = vec![None; n];
            let mut rows = vec![0u32; n];
            for (i, &id) in dt.id.iter().enumerate() {
                let Some(p) = at(id) else { continue };
                let p = p as usize;
                rows[p] += 1;
                let day = dt.death_date[i];
                if earliest[p].is_none_or(|(old, _)| day < old) {
                    earliest[p] = Some((day, i as u32));
                }
            }
            (earliest, rows)
        };
        let employee = || {
            let (ys, ye) = (policy.year_start(), policy.year_end());
            let rg = &ds.registrations;
            let mut bits = vec![0u8; n];
            for (i, &id) in rg.id.iter().enumerate() {
                let Some(p) = at(id) else { continue };
                if rg.start_date[i] <= ye && rg.end_date[i].is_none_or(|e| e >= ys) {
                    bits[p as usize] |= match rg.scheme[i] {
                        Scheme::EmployeePension => EMPLOYEE_PENSION,
                        Scheme::EmployeeMedical => EMPLOYEE_MEDICAL,
                        _ => 0,
                    };
                }
            }
            bits
        };
        let eligibility = || {
            let mut pairs: Vec<(PersonIdx, u32)> = ds
                .eligibility
                .id
                .par_iter()
                .enumerate()
                .filter_map(|(i, &id)| at(id).map(|p| (p, i as u32)))
                .collect();
            pairs.par_sort_unstable();
            let mut ranges = vec![(0u32, 0u32); n];
            let mut k = 0;
            while k < pairs.len() {
                let p = pairs[k].0;
                let start = k;
                while k < pairs.len() && pairs[k].0 == p {
                    k += 1;
                }
                ranges[p as usize] = (start as u32, k as u32);
            }
            let rows: Vec<u32> = pairs.into_iter().map(|(_, i)| i).collect();
            (ranges, rows)
        };
        let payment_person = || -> Vec<PersonIdx> {
            ds.payments
                .id
                .par_iter()
                .zip(&ds.payments.id_valid)
                .map(|(&id, &valid)| at(id).filter(|_| valid).unwrap_or(NONE))
                .collect()
        };
        let (
            ((birth_year, (hukou, hukou_died)), ((notice, death_rows), employee)),
            ((elig, elig_rows), payment_person),
        ) = rayon::join(
            || {
                rayon::join(
                    || rayon::join(birth_year, hukou),
                    || rayon::join(notices, employee),
                )
            },
            || rayon::join(eligibility, payment_person),
        );
        // The earliest of the hukou day and the notices' (hukou on a tie: it was first).
        let (death, death_notice): (Vec<Option<NaiveDate>>, Vec<u32>) = hukou_died
            .par_iter()
            .zip(&notice)
            .map(|(&h, &n)| match (h, n) {
                (Some((h, _)), Some((d, i))) if d < h => (Some(d), i),
                (Some((h, row)), _) => (Some(h), row | HUKOU_DEATH),
                (None, Some((d, i))) => (Some(d), i),
                (None, None) => (None, NONE),
            })
            .unzip();
        PersonView {
            index,
            ids,
            birth_year,
            hukou,
            death,
            death_notice,
            death_rows,
            employee,
            elig,
            elig_rows,
            payment_person,
        }
    }

    /// Number of persons.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True without persons.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Every person, in number order.
    pub fn persons(&self) -> impl Iterator<Item = PersonIdx> {
        0..self.ids.len() as PersonIdx
    }

    /// The person of an id's symbol.
    pub fn of_sym(&self, id: Sym) -> Option<PersonIdx> {
        person_at(&self.index, id)
    }

    /// The person's id symbol.
    pub fn id(&self, p: PersonIdx) -> Sym {
        self.ids[p as usize]
    }

    /// Birth year from the id.
    pub fn birth_year(&self, p: PersonIdx) -> i32 {
        self.birth_year[p as usize]
    }

    /// The person's first hukou row.
    pub fn hukou_row(&self, p: PersonIdx) -> Option<u32> {
        Some(self.hukou[p as usize]).filter(|&i| i != NONE)
    }

    /// The earliest death day over deaths rows and hukou 死亡, with where it comes from.
    pub fn death(&self, p: PersonIdx) -> Option<(NaiveDate, DeathSource)> {
        let p = p as usize;
        self.death[p].map(|d| match self.death_notice[p] {
            i if i & HUKOU_DEATH != 0 => (d, DeathSource::Hukou(i & !HUKOU_DEATH)),
            i => (d, DeathSource::Notice(i)),
        })
    }

    /// Number of deaths rows of the person.
    pub fn death_rows(&self, p: PersonIdx) -> u32 {
        self.death_rows[p as usize]
    }

    /// An employee enrolment of the same kind as `scheme` active in the policy year.
    pub fn employee_active(&self, p: PersonIdx, scheme: Scheme) -> bool {
        let bit = match scheme.employee_counterpart() {
            Scheme::EmployeePension => EMPLOYEE_PENSION,
            _ => EMPLOYEE_MEDICAL,
        };
        self.employee[p as usize] & bit != 0
    }

    /// The person's eligibility row indices, in read order.
    pub fn eligibility_rows(&self, p: PersonIdx) -> &[u32] {
        let (a, b) = self.elig[p as usize];
        &self.elig_rows[a as usize..b as usize]
    }

    /// Kept payment `i`'s person (None for an invalid id).
    pub fn payment_person(&self, i: usize) -> Option<PersonIdx> {
        Some(self.payment_person[i]).filter(|&p| p != NONE)
    }

    /// Every kept payment's person, in ledger order (None for an invalid id). Stored as
    /// `u32` with a sentinel: 4 bytes a payment instead of 8.
    pub fn payment_persons(&self) -> impl ExactSizeIterator<Item = Option<PersonIdx>> + '_ {
        self.payment_person
            .iter()
            .map(|&p| Some(p).filter(|&p| p != NONE))
    }
}

/// The person of an id's symbol in the view's index, if the id is a person's.
fn person_at(index: &[PersonIdx], id: Sym) -> Option<PersonIdx> {
    index.get(id.index()).copied().filter(|&p| p != NO_PERSON)
}

/// Numbers the valid ids in the order they are first read: the index by symbol, and
/// each person's symbol.
fn number_persons(ds: &Dataset) -> (Vec<PersonIdx>, Vec<Sym>) {
    let mut index: Vec<PersonIdx> = vec![NO_PERSON; ds.strings.ids.len()];
    let mut ids: Vec<Sym> = Vec::with_capacity(ds.hukou.id.len());
    let mut add = |id: Sym| {
        let slot = &mut index[id.index()];
        if *slot == NO_PERSON {
            *slot = ids.len() as PersonIdx;
            ids.push(id);
        }
    };
    // Every id of these sources is valid (an invalid one rejects the row).
    for col in [
        &ds.hukou.id,
        &ds.deaths.id,
        &ds.registrations.id,
        &ds.eligibility.id,
    ] {
        col.iter().for_each(|&id| add(id));
    }
    for (col, valid) in [
        (&ds.payments.id, &ds.payments.id_valid),
        (&ds.receipts.id, &ds.receipts.id_valid),
    ] {
        col.iter()
            .zip(valid)
            .filter(|(_, &v)| v)
            .for_each(|(&id, _)| add(id));
    }
    ds.roster.id.iter().for_each(|&id| add(id));
    (index, ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use qianbiao_ingest::{load, LoadOptions};

    /// A valid id born in `year`, told apart by `n`.
    fn id(year: i32, n: u32) -> String {
        let body = format!("371323{year}0101{n:03}");
        let check = qianbiao_core::id::check_digit(&body).unwrap();
        format!("{body}{check}")
    }

    fn write(dir: &std::path::Path, name: &str, lines: &[String]) {
        std::fs::write(dir.join(name), lines.join("\n") + "\n").unwrap();
    }

    /// The folder loaded for the 2022 policy year.
    fn load_2022(dir: &std::path::Path) -> qianbiao_ingest::Dataset {
        load(
            dir,
            &LoadOptions {
                year: 2022,
                progress: None,
                columns: None,
            },
        )
        .unwrap()
    }

    #[test]
    fn each_persons_facts_sit_at_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (a, b, c, e) = (id(1950, 1), id(1990, 2), id(1980, 3), id(1970, 4));
        // a: in hukou twice (the first row counts), dead by hukou on 2022-03-01 and by a
        // notice on 2022-02-01 (earlier: the notice wins), and a later notice.
        // b: in hukou, alive, employee pension active, two eligibility rows.
        // c: only in payments (valid id); e: only on the roster.
        write(
            d,
            "hukou.csv",
            &[
                "id_number,name,village,status,status_date".into(),
                format!("{a},甲,东村,死亡,2022-03-01"),
                format!("{b},乙,西村,正常,"),
                format!("{a},甲,北村,正常,"),
            ],
        );
        write(
            d,
            "deaths.csv",
            &[
                "id_number,death_date,source".into(),
                format!("{a},2022-05-01,民政"),
                format!("{a},2022-02-01,派出所"),
            ],
        );
        write(
            d,
            "registrations.csv",
            &[
                "id_number,scheme,start_date".into(),
                format!("{b},职工养老,2010-01-01"),
            ],
        );
        write(
            d,
            "eligibility.csv",
            &[
                "id_number,category,valid_from".into(),
                format!("{b},低保,2020-01-01"),
                format!("{a},特困,2020-01-01"),
                format!("{b},残疾,2021-01-01"),
            ],
        );
        write(
            d,
            "payments.csv",
            &[
                "txn_id,id_number,scheme,period,amount,paid_at".into(),
                format!("T1,{c},居民医保,2022,320,2022-01-05"),
                "T2,123,居民医保,2022,320,2022-01-05".into(),
                format!("T3,{a},居民医保,2022,320,2022-01-06"),
            ],
        );
        write(
            d,
            "roster.csv",
            &["id_number,scheme".into(), format!("{e},居民医保")],
        );
        let ds = load_2022(d);
        let policy = Policy::dianzi_2022();
        let view = PersonView::new(&ds, &policy);
        let person = |text: &str| ds.strings.ids.lookup(text).and_then(|s| view.of_sym(s));
        // Numbered in the order first read: hukou, ..., payments, roster.
        assert_eq!(view.len(), 4);
        let [pa, pb, pc, pe] = [&a, &b, &c, &e].map(|t| person(t).unwrap());
        assert_eq!([pa, pb, pc, pe], [0, 1, 2, 3]);
        assert_eq!(ds.id_str(view.id(pc)), c);
        assert_eq!(
            [pa, pb, pc, pe].map(|p| view.birth_year(p)),
            [1950, 1990, 1980, 1970]
        );
        assert_eq!(view.hukou_row(pa), Some(0));
        assert_eq!(view.hukou_row(pb), Some(1));
        assert_eq!(view.hukou_row(pc), None);
        let feb = NaiveDate::from_ymd_opt(2022, 2, 1).unwrap();
        assert_eq!(view.death(pa), Some((feb, DeathSource::Notice(1))));
        assert_eq!(view.death_rows(pa), 2);
        assert_eq!(view.death(pb), None);
        assert!(view.employee_active(pb, Scheme::ResidentPension));
        assert!(!view.employee_active(pb, Scheme::ResidentMedical));
        assert!(!view.employee_active(pa, Scheme::ResidentPension));
        assert_eq!(view.eligibility_rows(pb), [0, 2]);
        assert_eq!(view.eligibility_rows(pa), [1]);
        assert!(view.eligibility_rows(pe).is_empty());
        // The payment with an invalid id has no person.
        assert_eq!(
            view.payment_persons().collect::<Vec<_>>(),
            [Some(pc), None, Some(pa)]
        );
        assert_eq!(view.payment_person(1), None);
    }

    #[test]
    fn a_death_on_any_hukou_row_counts_and_the_earliest_wins() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (a, b, c) = (id(1950, 8), id(1960, 9), id(1970, 10));
        write(
            d,
            "hukou.csv",
            &[
                "id_number,name,village,status,status_date".into(),
                // a: listed 正常 first, then dead twice (the earlier day counts).
                format!("{a},甲,东村,正常,"),
                format!("{a},甲,东村,死亡,2021-09-01"),
                format!("{a},甲,东村,死亡,2021-06-01"),
                // b: 迁出 first, then dead.
                format!("{b},乙,东村,迁出,2020-01-01"),
                format!("{b},乙,东村,死亡,2021-03-01"),
                // c: never dead.
                format!("{c},丙,东村,正常,"),
                format!("{c},丙,东村,迁出,2021-03-01"),
            ],
        );
        write(
            d,
            "payments.csv",
            &["txn_id,id_number,scheme,period,amount,paid_at".into()],
        );
        let ds = load_2022(d);
        let view = PersonView::new(&ds, &Policy::dianzi_2022());
        let day = |m| NaiveDate::from_ymd_opt(2021, m, 1).unwrap();
        let [pa, pb, pc] = [&a, &b, &c].map(|t| {
            ds.strings
                .ids
                .lookup(t)
                .and_then(|s| view.of_sym(s))
                .unwrap()
        });
        // The first row stays the person's hukou row.
        assert_eq!(view.hukou_row(pa), Some(0));
        assert_eq!(view.hukou_row(pb), Some(3));
        // The row that gives the day is the one cited.
        assert_eq!(view.death(pa), Some((day(6), DeathSource::Hukou(2))));
        assert_eq!(view.death(pb), Some((day(3), DeathSource::Hukou(4))));
        assert_eq!(view.death(pc), None);
    }

    #[test]
    fn a_hukou_death_day_wins_a_tie_with_a_notice() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let a = id(1950, 7);
        write(
            d,
            "hukou.csv",
            &[
                "id_number,name,village,status,status_date".into(),
                format!("{a},甲,东村,死亡,2022-03-01"),
            ],
        );
        write(
            d,
            "deaths.csv",
            &["id_number,death_date".into(), format!("{a},2022-03-01")],
        );
        write(
            d,
            "payments.csv",
            &["txn_id,id_number,scheme,period,amount,paid_at".into()],
        );
        let ds = load_2022(d);
        let view = PersonView::new(&ds, &Policy::dianzi_2022());
        let day = NaiveDate::from_ymd_opt(2022, 3, 1).unwrap();
        assert_eq!(view.death(0), Some((day, DeathSource::Hukou(0))));
    }
}
