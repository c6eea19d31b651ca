//! Rows grouped by a text key as sorted index arrays: the keys in byte order, each key's
//! rows in read order, all rows of all keys in one array. No map and no vector per key:
//! three arrays, built by one parallel sort; two groupings on the same kind of key are
//! joined by walking both in order.

use qianbiao_core::Sym;
use rayon::prelude::*;

/// Row indices grouped by a text key.
#[derive(Debug, Default)]
pub struct Groups<'a> {
    /// The distinct keys, sorted.
    keys: Vec<&'a str>,
    /// `ends[k]`: the end in `rows` of key `k`'s rows (they start at `ends[k - 1]`).
    ends: Vec<u32>,
    /// Row indices, by key, each key's in ascending (read) order.
    rows: Vec<u32>,
}

impl<'a> Groups<'a> {
    /// Groups `(key, row)` pairs.
    pub fn new(mut pairs: Vec<(&'a str, u32)>) -> Self {
        pairs.par_sort_unstable();
        let mut g = Groups {
            keys: Vec::new(),
            ends: Vec::new(),
            rows: Vec::with_capacity(pairs.len()),
        };
        for (key, row) in pairs {
            if g.keys.last() != Some(&key) {
                if !g.keys.is_empty() {
                    g.ends.push(g.rows.len() as u32);
                }
                g.keys.push(key);
            }
            g.rows.push(row);
        }
        if !g.keys.is_empty() {
            g.ends.push(g.rows.len() as u32);
        }
        g
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True without keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The rows of the `k`-th key.
    fn rows_of(&self, k: usize) -> &[u32] {
        let start = if k == 0 { 0 } else { self.ends[k - 1] as usize };
        &self.rows[start..self.ends[k] as usize]
    }

    /// Every key with its rows, keys in byte order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &[u32])> + '_ {
        self.keys
            .iter()
            .enumerate()
            .map(|(k, &key)| (key, self.rows_of(k)))
    }

    /// The rows of a key.
    pub fn get(&self, key: &str) -> Option<&[u32]> {
        self.keys.binary_search(&key).ok().map(|k| self.rows_of(k))
    }

    /// Every key of `self` with its rows here and its rows in `other` (empty when
    /// `other` lacks the key), by walking both in key order.
    pub fn join<'s>(
        &'s self,
        other: &'s Groups<'_>,
    ) -> impl Iterator<Item = (&'a str, &'s [u32], &'s [u32])> + 's {
        let mut o = 0;
        self.iter().map(move |(key, rows)| {
            while o < other.keys.len() && other.keys[o] < key {
                o += 1;
            }
            let theirs = if o < other.keys.len() && other.keys[o] == key {
                other.rows_of(o)
            } else {
                &[]
            };
            (key, rows, theirs)
        })
    }
}

/// Dense numbers for the symbols of one interner, in the order they are first numbered:
/// an array by symbol, so that grouping rows by interned text (deposit ids, collector
/// ids) is an array read per row, with no hashing of the text.
#[derive(Debug, Clone, Default)]
pub struct SymNumbers {
    /// A symbol's number plus one; 0: not numbered.
    of: Vec<u32>,
}

impl SymNumbers {
    /// No symbol numbered yet, for an interner of `len` texts.
    pub fn new(len: usize) -> SymNumbers {
        SymNumbers { of: vec![0; len] }
    }

    /// The number of `sym`, if it has one.
    #[inline]
    pub fn get(&self, sym: Sym) -> Option<usize> {
        match self.of.get(sym.index()).copied().unwrap_or(0) {
            0 => None,
            n => Some(n as usize - 1),
        }
    }

    /// The number of `sym`, and whether it is new: a symbol without one gets `next`.
    #[inline]
    pub fn number(&mut self, sym: Sym, next: usize) -> (usize, bool) {
        let n = &mut self.of[sym.index()];
        if *n == 0 {
            *n = u32::try_from(next + 1).expect("more than 4 billion groups");
            (next, true)
        } else {
            (*n as usize - 1, false)
        }
    }
}

/// The hash [`each_group`] sorts rows by.
pub fn text_hash(s: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(s)
}

/// Calls `f` with the rows of every text of at least `min` rows, each text's rows in
/// ascending (read) order, texts in no particular order; `pairs` are ([`text_hash`] of a
/// row's text, row). One parallel sort of integers, no text compared unless two texts
/// share a hash: for a key whose groups are visited once, where [`Groups`]' sort by text
/// would spend its time comparing texts.
pub fn each_group<'t>(
    mut pairs: Vec<(u64, u32)>,
    text: impl Fn(u32) -> &'t str,
    min: usize,
    mut f: impl FnMut(&[u32]),
) {
    pairs.par_sort_unstable();
    let mut rows = Vec::new();
    for run in pairs.chunk_by(|a, b| a.0 == b.0) {
        // A run shorter than `min` holds no text of `min` rows.
        if run.len() < min.max(1) {
            continue;
        }
        rows.clear();
        rows.extend(run.iter().map(|&(_, i)| i));
        let first = text(rows[0]);
        if rows.iter().all(|&i| text(i) == first) {
            f(&rows);
            continue;
        }
        rows.sort_by(|&a, &b| text(a).cmp(text(b)).then(a.cmp(&b)));
        for group in rows.chunk_by(|&a, &b| text(a) == text(b)) {
            if group.len() >= min {
                f(group);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups_of(pairs: Vec<(u64, u32)>, texts: &[&'static str], min: usize) -> Vec<Vec<u32>> {
        let mut got = Vec::new();
        each_group(
            pairs,
            |i| texts[i as usize],
            min,
            |rows| got.push(rows.to_vec()),
        );
        got.sort();
        got
    }

    #[test]
    fn each_group_gives_each_texts_rows_in_order_and_splits_shared_hashes() {
        let texts = ["A", "B", "A", "C", "B", "A", "B"];
        let hashed: Vec<(u64, u32)> = (0..7)
            .rev()
            .map(|i| (text_hash(texts[i]), i as u32))
            .collect();
        assert_eq!(
            groups_of(hashed.clone(), &texts, 1),
            [vec![0, 2, 5], vec![1, 4, 6], vec![3]]
        );
        assert_eq!(groups_of(hashed, &texts, 3), [vec![0, 2, 5], vec![1, 4, 6]]);
        // Every text of one hash: split by text, and the threshold per text, not per hash.
        let collide: Vec<(u64, u32)> = (0..7).rev().map(|i| (42, i)).collect();
        assert_eq!(
            groups_of(collide.clone(), &texts, 1),
            [vec![0, 2, 5], vec![1, 4, 6], vec![3]]
        );
        assert_eq!(
            groups_of(collide, &texts, 3),
            [vec![0, 2, 5], vec![1, 4, 6]]
        );
        assert!(groups_of(Vec::new(), &texts, 1).is_empty());
    }

    #[test]
    fn symbols_numbered_in_order_first_seen() {
        let mut texts = qianbiao_core::Interner::new();
        let (x, y) = (texts.intern("x"), texts.intern("y"));
        let mut n = SymNumbers::new(texts.len());
        assert_eq!(n.get(y), None);
        assert_eq!(n.number(y, 0), (0, true));
        assert_eq!(n.number(x, 1), (1, true));
        assert_eq!(n.number(y, 2), (0, false));
        assert_eq!(
            (n.get(x), n.get(y), n.get(Sym::EMPTY)),
            (Some(1), Some(0), None)
        );
        // A symbol beyond the interner numbered here has no number.
        assert_eq!(SymNumbers::default().get(x), None);
    }

    #[test]
    fn keys_sorted_rows_in_read_order_and_joined_in_step() {
        let a = Groups::new(vec![("R2", 5), ("R1", 3), ("R2", 1), ("R9", 0), ("R1", 4)]);
        let got: Vec<(&str, Vec<u32>)> = a.iter().map(|(k, r)| (k, r.to_vec())).collect();
        assert_eq!(
            got,
            [("R1", vec![3, 4]), ("R2", vec![1, 5]), ("R9", vec![0])]
        );
        assert_eq!(a.len(), 3);
        assert_eq!(a.get("R2"), Some(&[1, 5][..]));
        assert_eq!(a.get("R3"), None);
        let b = Groups::new(vec![("R0", 7), ("R2", 8), ("R3", 9), ("R9", 2), ("R9", 1)]);
        let joined: Vec<(&str, Vec<u32>, Vec<u32>)> = a
            .join(&b)
            .map(|(k, x, y)| (k, x.to_vec(), y.to_vec()))
            .collect();
        assert_eq!(
            joined,
            [
                ("R1", vec![3, 4], vec![]),
                ("R2", vec![1, 5], vec![8]),
                ("R9", vec![0], vec![1, 2]),
            ]
        );
        let empty = Groups::new(Vec::new());
        assert!(empty.is_empty() && empty.iter().next().is_none());
        assert_eq!(a.join(&empty).filter(|(_, _, y)| !y.is_empty()).count(), 0);
    }
}
