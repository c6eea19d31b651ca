//! Text in one arena: a column of texts stored end to end in one `String`, with the end
//! of each, so that a column of millions of short texts is two allocations, not one per
//! text. [`crate::Interner`] keeps its distinct texts in one; the ingest tables keep
//! their seldom-repeated text columns (txn ids, names, receipt numbers, accounts) in
//! others.

/// A column of texts in one arena, read by index; no hashing on the way in.
///
/// Each text's end in the arena is a `u32` while the arena is under 4 GiB (every column
/// of a town, a province's bucket, a 10M province in memory: 4 bytes a row instead of
/// 8, about 0.4 GiB at 10M persons), and becomes a `u64` for good when it grows past.
#[derive(Debug, Clone, Default)]
pub struct StrCol {
    bytes: String,
    ends: Ends,
}

/// The ends of a [`StrCol`]'s texts.
#[derive(Debug, Clone)]
enum Ends {
    Narrow(Vec<u32>),
    Wide(Vec<u64>),
}

impl Default for Ends {
    fn default() -> Self {
        Ends::Narrow(Vec::new())
    }
}

impl Ends {
    #[cfg(test)]
    fn get(&self, i: usize) -> usize {
        match self {
            Ends::Narrow(v) => v[i] as usize,
            Ends::Wide(v) => v[i] as usize,
        }
    }
    #[inline]
    fn len(&self) -> usize {
        match self {
            Ends::Narrow(v) => v.len(),
            Ends::Wide(v) => v.len(),
        }
    }
    fn reserve(&mut self, n: usize) {
        match self {
            Ends::Narrow(v) => v.reserve(n),
            Ends::Wide(v) => v.reserve(n),
        }
    }
    fn push(&mut self, end: usize) {
        self.push_narrow_up_to(end, u32::MAX as usize);
    }
    /// Pushes `end`, as a `u32` while every end is at most `limit` (`u32::MAX`; smaller
    /// in a test).
    fn push_narrow_up_to(&mut self, end: usize, limit: usize) {
        match self {
            Ends::Narrow(v) if end <= limit => v.push(end as u32),
            Ends::Narrow(v) => {
                let mut wide: Vec<u64> = Vec::with_capacity(v.capacity().max(v.len() + 1));
                wide.extend(v.iter().map(|&e| u64::from(e)));
                wide.push(end as u64);
                *self = Ends::Wide(wide);
            }
            Ends::Wide(v) => v.push(end as u64),
        }
    }
}

impl StrCol {
    /// Appends a text.
    pub fn push(&mut self, s: &str) {
        self.bytes.push_str(s);
        self.ends.push(self.bytes.len());
    }
    /// Appends every text of `other`, in order: its arena copied as one block.
    pub fn extend_from(&mut self, other: &StrCol) {
        let base = self.bytes.len();
        self.bytes.push_str(&other.bytes);
        self.ends.reserve(other.len());
        match &other.ends {
            Ends::Narrow(v) => v.iter().for_each(|&e| self.ends.push(base + e as usize)),
            Ends::Wide(v) => v.iter().for_each(|&e| self.ends.push(base + e as usize)),
        }
    }
    /// Every text, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
    /// Text `i`.
    #[inline]
    pub fn get(&self, i: usize) -> &str {
        // One match for both ends: this is read for every text a rule or the interner
        // compares.
        let (start, end) = match &self.ends {
            Ends::Narrow(v) => (if i == 0 { 0 } else { v[i - 1] as usize }, v[i] as usize),
            Ends::Wide(v) => (if i == 0 { 0 } else { v[i - 1] as usize }, v[i] as usize),
        };
        &self.bytes[start..end]
    }
    /// Number of texts.
    #[inline]
    pub fn len(&self) -> usize {
        self.ends.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Makes room for `n` more texts (of about 16 bytes).
    pub fn reserve(&mut self, n: usize) {
        self.ends.reserve(n);
        self.bytes.reserve(n * 16);
    }
    /// Keeps the texts whose flag is true (a text without a flag is dropped), in place:
    /// the texts before the first one dropped stay where they are, the others move down
    /// in the same arena. A payments table with a few repeated txn ids is not copied
    /// whole (at 10M persons, hundreds of MB of new pages) to drop them.
    pub fn retain(&mut self, keep: &[bool]) {
        let n = self.len();
        let Some(first) = (0..n).find(|&i| !keep.get(i).copied().unwrap_or(false)) else {
            return;
        };
        let start_of = |ends: &Ends, i: usize| match (ends, i) {
            (_, 0) => 0,
            (Ends::Narrow(v), i) => v[i - 1] as usize,
            (Ends::Wide(v), i) => v[i - 1] as usize,
        };
        let mut bytes = std::mem::take(&mut self.bytes).into_bytes();
        let mut write = start_of(&self.ends, first);
        let mut kept = first;
        for i in first..n {
            if !keep.get(i).copied().unwrap_or(false) {
                continue;
            }
            let (start, end) = (start_of(&self.ends, i), start_of(&self.ends, i + 1));
            bytes.copy_within(start..end, write);
            write += end - start;
            // Ends only shrink: a narrow end stays narrow.
            match &mut self.ends {
                Ends::Narrow(v) => v[kept] = write as u32,
                Ends::Wide(v) => v[kept] = write as u64,
            }
            kept += 1;
        }
        bytes.truncate(write);
        match &mut self.ends {
            Ends::Narrow(v) => v.truncate(kept),
            Ends::Wide(v) => v.truncate(kept),
        }
        // Whole texts moved whole: still UTF-8.
        self.bytes = String::from_utf8(bytes).expect("texts moved whole stay UTF-8");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_col_gives_back_every_text_in_order_including_empty_ones() {
        let texts = ["", "甲乙", "abc", "", "x"];
        let mut col = StrCol::default();
        col.reserve(texts.len());
        for t in texts {
            col.push(t);
        }
        assert_eq!(col.len(), texts.len());
        for (i, t) in texts.iter().enumerate() {
            assert_eq!(col.get(i), *t);
        }
        col.retain(&[true, false, true, true, false]);
        assert_eq!(
            (0..col.len()).map(|i| col.get(i)).collect::<Vec<_>>(),
            ["", "abc", ""]
        );
    }

    #[test]
    fn retain_in_place_keeps_exactly_the_flagged_texts_narrow_or_wide() {
        let texts: Vec<String> = (0..200)
            .map(|i| match i % 5 {
                0 => String::new(),
                1 => "甲".repeat(i % 7),
                _ => format!("t{i}-{}", "x".repeat(i % 11)),
            })
            .collect();
        // Patterns: nothing dropped, the first, the last, every third, all, a flag
        // list shorter than the column (the rest dropped).
        let patterns: Vec<Vec<bool>> = vec![
            vec![true; 200],
            (0..200).map(|i| i != 0).collect(),
            (0..200).map(|i| i != 199).collect(),
            (0..200).map(|i| i % 3 != 1).collect(),
            vec![false; 200],
            (0..150).map(|i| i % 2 == 0).collect(),
        ];
        for wide in [false, true] {
            for keep in &patterns {
                let mut col = StrCol::default();
                for t in &texts {
                    col.bytes.push_str(t);
                    let limit = if wide { 100 } else { u32::MAX as usize };
                    col.ends.push_narrow_up_to(col.bytes.len(), limit);
                }
                assert_eq!(matches!(col.ends, Ends::Wide(_)), wide);
                col.retain(keep);
                let expected: Vec<&str> = texts
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| keep.get(*i).copied().unwrap_or(false))
                    .map(|(_, t)| t.as_str())
                    .collect();
                assert_eq!(col.iter().collect::<Vec<_>>(), expected);
                assert_eq!(
                    col.bytes.len(),
                    expected.iter().map(|t| t.len()).sum::<usize>()
                );
                // Still a column one can append to.
                col.push("尾");
                assert_eq!(col.get(col.len() - 1), "尾");
            }
        }
    }

    #[test]
    fn extending_by_another_column_appends_its_texts_in_order() {
        let mut a = StrCol::default();
        a.push("甲");
        a.push("");
        let mut b = StrCol::default();
        for t in ["bc", "", "丁戊"] {
            b.push(t);
        }
        a.extend_from(&b);
        a.extend_from(&StrCol::default());
        assert_eq!(a.iter().collect::<Vec<_>>(), ["甲", "", "bc", "", "丁戊"]);
        let mut empty = StrCol::default();
        empty.extend_from(&a);
        assert_eq!(
            empty.iter().collect::<Vec<_>>(),
            a.iter().collect::<Vec<_>>()
        );
    }

    #[test]
    fn ends_past_the_narrow_limit_turn_wide_and_keep_every_earlier_end() {
        let mut ends = Ends::default();
        for e in [3, 7, 10] {
            ends.push_narrow_up_to(e, 10);
        }
        assert!(
            matches!(ends, Ends::Narrow(_)),
            "10 is still within the limit"
        );
        ends.push_narrow_up_to(11, 10);
        assert!(matches!(ends, Ends::Wide(_)));
        ends.push_narrow_up_to(5_000_000_000, 10);
        assert_eq!(ends.len(), 5);
        let got: Vec<usize> = (0..ends.len()).map(|i| ends.get(i)).collect();
        assert_eq!(got, [3, 7, 10, 11, 5_000_000_000]);
    }
}
