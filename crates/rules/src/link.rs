//! Identity linkage (`data-contract.md`, Identity linkage): payments and receipts rows kept
//! with an invalid id, and `deaths` rows rejected for one, tied to the hukou person they
//! most likely belong to. Computed once per run in [`crate::Context`] and read by IDN-001
//! and DTH-005; no other rule treats a linked row as the person.
//!
//! 身份关联：身份证号无效的缴费、收款行和因身份证号无效被拒的死亡通报行，与户籍人员关联
//! （仅当恰好一个候选人时）。
//!
//! The bases are tried in order (`typo`, `numeric`, `name_birth`); the first that finds
//! any candidate decides, and a link is made only when it finds exactly one person. The
//! index covers only the hukou rows whose name is the name of some row to link, so a run
//! with no invalid ids builds nothing and a run with many costs one pass over hukou.

use chrono::NaiveDate;
use qianbiao_core::id::birth_date_of;
use qianbiao_core::{IdStr, Sym};
use qianbiao_ingest::Dataset;
use rayon::prelude::*;
use rustc_hash::FxHashSet as HashSet;

/// The basis on which a row was linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Basis {
    /// One character substituted or two adjacent characters swapped, same name.
    Typo,
    /// An id that lost digits as a number, within 1,000 of the person's id, same name.
    Numeric,
    /// The birth date of characters 7-14, same name, in the row's village when it has one.
    NameBirth,
}

impl Basis {
    /// Every basis, in the order they are tried.
    pub const ALL: [Basis; 3] = [Basis::Typo, Basis::Numeric, Basis::NameBirth];

    /// The basis's position in [`Basis::ALL`].
    pub fn code(self) -> u8 {
        self as u8
    }

    /// `typo`, `numeric` or `name_birth`, as the spec writes them.
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Typo => "typo",
            Basis::Numeric => "numeric",
            Basis::NameBirth => "name_birth",
        }
    }
}

/// A row linked to one hukou person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// The person's first hukou row (index into `Dataset::hukou`).
    pub hukou: u32,
    /// How the link was found.
    pub basis: Basis,
}

/// Every link of a run, each list sorted by row index.
#[derive(Debug, Clone, Default)]
pub struct Links {
    /// Effective payments (index into `Dataset::payments`).
    pub payments: Vec<(u32, Link)>,
    /// Receipts rows (index into `Dataset::receipts`).
    pub receipts: Vec<(u32, Link)>,
    /// Rejected deaths rows (index into `Dataset::linkable_deaths`).
    pub deaths: Vec<(u32, Link)>,
}

/// One row to link: its id as typed (normalised), whether it lost digits, its name and
/// village (empty when it has none).
struct Probe<'a> {
    id: IdStr<'a>,
    lost: bool,
    name: &'a str,
    village: &'a str,
}

/// Hukou rows (any row of an id, whatever its status: `data-contract.md`, "every accepted
/// hukou row is a candidate") whose name some row to link carries: by name, and by name
/// and the birth date of their id. A candidate row stands for its person, the first row
/// of its id: a link is made when the rows found are of exactly one person.
///
/// Sorted vectors, not maps: at a province's scale nearly every name is some row's to
/// link, the candidates are millions of rows (971,352 at 10M persons), and maps of a
/// vector per name and birth date took about 120 bytes a row, and twice that while they
/// grew; these take 36 (and 24 more while the names are sorted).
struct Index<'a, F> {
    ds: &'a Dataset,
    /// The rows kept, by name, then row: each name's rows are one run.
    by_name: Vec<u32>,
    /// The rows kept whose id has a birth date: (name, birth date, row), sorted.
    by_name_birth: Vec<(&'a str, NaiveDate, u32)>,
    /// The ids of the rows kept (their symbols' numbers), each with its row, sorted:
    /// whether an id has a row of a name (`typo` by neighbours).
    named_ids: Vec<(u32, u32)>,
    /// The first hukou row of an id's symbol.
    first_row_of: F,
}

/// Above this many same-name persons, `typo` looks up the row's one-edit neighbours by id
/// instead of comparing with each of them.
const SCAN_LIMIT: usize = 64;
impl Links {
    /// Links every row the spec links. `first_row_of` gives the first hukou row of an id's
    /// symbol (the person's). Cheap when there is nothing to link.
    pub fn compute(ds: &Dataset, first_row_of: impl Fn(Sym) -> Option<u32> + Sync) -> Links {
        let first_row = |id: &str| ds.strings.ids.lookup(id).and_then(&first_row_of);
        let pays: Vec<(u32, Probe)> = ds
            .payments()
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.id_valid() && p.is_effective() && !p.name().is_empty())
            .map(|(i, p)| {
                (
                    i as u32,
                    Probe {
                        id: p.id(),
                        lost: p.id_lost(),
                        name: p.name(),
                        village: p.village(),
                    },
                )
            })
            .collect();
        let recs: Vec<(u32, Probe)> = ds
            .receipts()
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.id_valid() && !r.name().is_empty())
            .map(|(i, r)| {
                (
                    i as u32,
                    Probe {
                        id: r.id(),
                        lost: r.id_lost(),
                        name: r.name(),
                        village: r.village(),
                    },
                )
            })
            .collect();
        let deaths: Vec<(u32, Probe)> = ds
            .linkable_deaths
            .iter()
            .enumerate()
            .filter(|(_, d)| !d.name.is_empty())
            .map(|(i, d)| {
                (
                    i as u32,
                    Probe {
                        id: IdStr::from(d.id.as_str()),
                        lost: d.id_lost,
                        name: &d.name,
                        village: "",
                    },
                )
            })
            .collect();
        if pays.is_empty() && recs.is_empty() && deaths.is_empty() {
            return Links::default();
        }
        if let Some(decided) = ds.decided_links.as_deref() {
            use qianbiao_ingest::LinkedRow;
            let take = |rows: &[(u32, Probe)], row: &dyn Fn(u32) -> LinkedRow| {
                rows.iter()
                    .filter_map(|(i, _)| {
                        let (basis, id) = decided.get(&row(*i))?;
                        let basis = *Basis::ALL.get(*basis as usize)?;
                        Some((
                            *i,
                            Link {
                                hukou: first_row(id)?,
                                basis,
                            },
                        ))
                    })
                    .collect()
            };
            return Links {
                payments: take(&pays, &|i| {
                    LinkedRow::Payment(ds.payments().get(i as usize).prov())
                }),
                receipts: take(&recs, &|i| {
                    LinkedRow::Receipt(ds.receipts().get(i as usize).prov())
                }),
                deaths: take(&deaths, &|i| {
                    LinkedRow::Death(ds.linkable_deaths[i as usize].prov)
                }),
            };
        }
        let names: HashSet<&str> = pays
            .iter()
            .chain(&recs)
            .chain(&deaths)
            .map(|(_, p)| p.name)
            .collect();
        let index = Index::build(ds, &names, &first_row_of);
        let link_all = |rows: &[(u32, Probe)]| -> Vec<(u32, Link)> {
            rows.par_iter()
                .filter_map(|(i, p)| index.link(p).map(|l| (*i, l)))
                .collect()
        };
        Links {
            payments: link_all(&pays),
            receipts: link_all(&recs),
            deaths: link_all(&deaths),
        }
    }

    /// The link of a payment, if any.
    pub fn payment(&self, i: u32) -> Option<Link> {
        find(&self.payments, i)
    }

    /// The link of a receipts row, if any.
    pub fn receipt(&self, i: u32) -> Option<Link> {
        find(&self.receipts, i)
    }
}

fn find(list: &[(u32, Link)], i: u32) -> Option<Link> {
    list.binary_search_by_key(&i, |(k, _)| *k)
        .ok()
        .map(|k| list[k].1)
}

impl<'a, F: Fn(Sym) -> Option<u32> + Sync> Index<'a, F> {
    /// Hukou rows whose name is one of `names`.
    fn build(ds: &'a Dataset, names: &HashSet<&str>, first_row_of: F) -> Index<'a, F> {
        let name = |i: u32| ds.hukou().get(i as usize).name();
        // One parallel pass over hukou keeps the rows whose name matters, in order.
        let rows: Vec<u32> = (0..ds.hukou().len() as u32)
            .into_par_iter()
            .filter(|&i| names.contains(name(i)))
            .collect();
        let mut by_name_birth: Vec<(&'a str, NaiveDate, u32)> = rows
            .par_iter()
            .filter_map(|&i| {
                let h = ds.hukou().get(i as usize);
                Some((h.name(), birth_date_of(&h.id())?, i))
            })
            .collect();
        by_name_birth.par_sort_unstable();
        let mut named_ids: Vec<(u32, u32)> = rows
            .par_iter()
            .map(|&i| (ds.hukou.id[i as usize].index() as u32, i))
            .collect();
        named_ids.par_sort_unstable();
        // Sorted with their names beside them (a comparison through the row's view costs
        // more than the 20 bytes a row held for the sort).
        let mut named: Vec<(&'a str, u32)> = rows.par_iter().map(|&i| (name(i), i)).collect();
        drop(rows);
        named.par_sort_unstable();
        let by_name: Vec<u32> = named.into_iter().map(|(_, i)| i).collect();
        Index {
            ds,
            by_name,
            by_name_birth,
            named_ids,
            first_row_of,
        }
    }

    /// The rows kept of a name and birth date, in row order.
    fn of_name_birth<'s>(
        &'s self,
        name: &'s str,
        birth: NaiveDate,
    ) -> impl Iterator<Item = u32> + 's {
        let v = &self.by_name_birth;
        let from = v.partition_point(|&(n, b, _)| (n, b) < (name, birth));
        v[from..]
            .iter()
            .take_while(move |&&(n, b, _)| (n, b) == (name, birth))
            .map(|&(_, _, i)| i)
    }

    /// The persons (first rows) of the candidates' ids, each once, in order.
    fn persons(&self, ids: impl Iterator<Item = Sym>) -> Vec<u32> {
        let mut out: Vec<u32> = ids.filter_map(&self.first_row_of).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    fn name(&self, row: u32) -> &'a str {
        self.ds.hukou().get(row as usize).name()
    }

    /// The rows kept of a name, in row order.
    fn of_name(&self, name: &str) -> &[u32] {
        let from = self.by_name.partition_point(|&i| self.name(i) < name);
        let to = from + self.by_name[from..].partition_point(|&i| self.name(i) == name);
        &self.by_name[from..to]
    }

    /// Whether id `s` has a row kept of this name.
    fn has_row_of(&self, s: Sym, name: &str) -> bool {
        let s = s.index() as u32;
        let from = self.named_ids.partition_point(|&(id, _)| id < s);
        self.named_ids[from..]
            .iter()
            .take_while(|&&(id, _)| id == s)
            .any(|&(_, i)| self.name(i) == name)
    }

    fn link(&self, p: &Probe) -> Option<Link> {
        let same_name = self.of_name(p.name);
        let id = |h: u32| self.ds.hukou().get(h as usize).id();
        // A candidate row's id, as the symbol its person is found by.
        let sym = |h: u32| self.ds.hukou.id[h as usize];
        // Hukou ids are 18 characters and an edit keeps the length: other rows have no
        // typo candidate (and a huge id never has its neighbours generated).
        let typo: Vec<u32> = if p.id.chars().count() != 18 {
            Vec::new()
        } else if same_name.len() <= SCAN_LIMIT {
            self.persons(
                same_name
                    .iter()
                    .copied()
                    .filter(|&h| one_edit(&p.id, &id(h)))
                    .map(sym),
            )
        } else {
            // An id one edit away with a row of this name.
            let ids = &self.ds.strings.ids;
            self.persons(
                neighbours(&p.id)
                    .filter_map(|n| ids.lookup(&n))
                    .filter(|&s| self.has_row_of(s, p.name)),
            )
        };
        if !typo.is_empty() {
            return single(&typo, Basis::Typo);
        }
        if p.lost {
            if let Some(n) = number_of(&p.id) {
                let numeric: Vec<u32> = self.persons(
                    same_name
                        .iter()
                        .copied()
                        .filter(|&h| number_of(&id(h)).is_some_and(|m| m.abs_diff(n) < 1000))
                        .map(sym),
                );
                if !numeric.is_empty() {
                    return single(&numeric, Basis::Numeric);
                }
            }
        }
        let birth = birth_date_of(&p.id)?;
        let candidates: Vec<u32> = self.persons(
            self.of_name_birth(p.name, birth)
                .filter(|&h| {
                    p.village.is_empty() || self.ds.hukou().get(h as usize).village() == p.village
                })
                .map(sym),
        );
        single(&candidates, Basis::NameBirth)
    }
}

/// Every text one substitution (a digit or `X`) or one adjacent swap away from `id`, by
/// characters (a mistyped character may be any, `〇` or a letter).
fn neighbours(id: &str) -> impl Iterator<Item = String> {
    let b: Vec<char> = id.chars().collect();
    let text = |v: &[char]| v.iter().collect::<String>();
    let mut out = Vec::new();
    let mut v = b.clone();
    for k in 0..b.len() {
        for c in "0123456789X".chars().filter(|&c| c != b[k]) {
            v[k] = c;
            out.push(text(&v));
        }
        v[k] = b[k];
    }
    for k in 0..b.len().saturating_sub(1) {
        if b[k] != b[k + 1] {
            v.swap(k, k + 1);
            out.push(text(&v));
            v.swap(k, k + 1);
        }
    }
    out.into_iter()
}

fn single(candidates: &[u32], basis: Basis) -> Option<Link> {
    match candidates {
        [h] => Some(Link { hukou: *h, basis }),
        _ => None,
    }
}

/// One character substituted, or two adjacent characters swapped.
pub fn one_edit(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return one_edit_of(a.as_bytes(), b.as_bytes());
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    one_edit_of(&a, &b)
}

fn one_edit_of<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff: Vec<usize> = (0..a.len()).filter(|&k| a[k] != b[k]).take(3).collect();
    match diff.as_slice() {
        [_] => true,
        [x, y] => *y == x + 1 && a[*x] == b[*y] && a[*y] == b[*x],
        _ => false,
    }
}

/// An id read as a number: all digits, or a decimal in scientific notation (`3.71323E+17`)
/// whose value is a whole number. An id ending in `X` is not a number.
pub fn number_of(id: &str) -> Option<u128> {
    if !id.is_empty() && id.len() <= 30 && id.bytes().all(|b| b.is_ascii_digit()) {
        return id.parse().ok();
    }
    let (mant, exp) = id.split_once(['E', 'e'])?;
    let exp: i32 = exp.strip_prefix('+').unwrap_or(exp).parse().ok()?;
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() || !(int.bytes().chain(frac.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let shift = exp - frac.len() as i32;
    if !(0..=30).contains(&shift) || int.len() + frac.len() > 30 {
        return None;
    }
    let digits: u128 = format!("{int}{frac}").parse().ok()?;
    digits.checked_mul(10u128.checked_pow(shift as u32)?)
}

/// The hukou id of a link.
pub fn linked_id(ds: &Dataset, l: Link) -> IdStr<'_> {
    ds.hukou().get(l.hukou as usize).id()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_edit_is_a_substitution_or_an_adjacent_swap() {
        assert!(one_edit("12345", "12845"));
        assert!(one_edit("12345", "13245"));
        assert!(!one_edit("12345", "12345"));
        assert!(!one_edit("12345", "14325")); // swap not adjacent
        assert!(!one_edit("12345", "12354X"));
        // Two substitutions.
        assert!(!one_edit("12345", "22346"));
        // Characters, not bytes: a non-ASCII character is one character.
        assert!(one_edit("3713231980〇1010019", "371323198001010019"));
        assert!(one_edit("371323198001010019", "37132三198001010019"));
        assert!(!one_edit("3713231980〇1010019", "371323198011010018"));
        assert!(one_edit("12〇45", "1〇245"));
        assert!(!one_edit("12〇45", "12345X"));
    }

    #[test]
    fn neighbours_are_by_character() {
        let n: Vec<String> = neighbours("1〇3").collect();
        assert!(n.contains(&"103".to_string()));
        assert!(n.contains(&"〇13".to_string()));
        assert!(n.contains(&"1〇X".to_string()));
        // 11 substitutions per character (10 where it is one of them), 2 swaps.
        assert_eq!(n.len(), 11 + 10 + 10 + 2);
        assert!(n.iter().all(|t| t.chars().count() == 3));
    }

    #[test]
    fn numbers_of_ids() {
        assert_eq!(
            number_of("371323198001016000"),
            Some(371_323_198_001_016_000)
        );
        assert_eq!(number_of("3.71323E+17"), Some(371_323_000_000_000_000));
        assert_eq!(number_of("37132319800101600X"), None);
        assert_eq!(number_of("3.71323E+2"), None);
        assert_eq!(
            number_of("3.7132319800101601E+17"),
            Some(371_323_198_001_016_010)
        );
    }

    #[test]
    fn birth_dates_must_be_real() {
        assert_eq!(
            birth_date_of("371323198002290012"),
            NaiveDate::from_ymd_opt(1980, 2, 29)
        );
        assert_eq!(birth_date_of("371323198102290012"), None);
        assert_eq!(birth_date_of("3.71323E+17"), None);
        // Characters 7-14, whatever bytes the characters before them take.
        assert_eq!(
            birth_date_of("37132三197505050028"),
            NaiveDate::from_ymd_opt(1975, 5, 5)
        );
        assert_eq!(
            birth_date_of("371323198001〇10019"),
            None,
            "a non-digit among characters 7-14"
        );
        assert_eq!(
            birth_date_of("三三三三三三19750505"),
            NaiveDate::from_ymd_opt(1975, 5, 5)
        );
        assert_eq!(birth_date_of("三三三三三三1975050"), None);
    }
}
