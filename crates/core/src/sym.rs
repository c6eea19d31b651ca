//! Interned text: each text that repeats across a run's rows is stored once in an
//! [`Interner`] and its columns hold [`Sym`]s, four-byte handles.
//!
//! Villages, offices, collectors, channels and deposit ids repeat across
//! hundreds of thousands of rows and across sources; ids repeat across all eight
//! sources. An interner makes every such column a `Vec<Sym>`, makes equality of
//! two cells one integer comparison (also across sources: a collector id in payments and
//! in deposits is the same `Sym`), and lets the person view index persons by the `Sym`
//! of their id in a plain array instead of a hash map.
//!
//! A `Sym` has no order on purpose: numbers follow the order text was first seen, which
//! says nothing about the text. Anything ordered for output is ordered by its text
//! ([`Interner::get`]); a symbol's number serves only as a key that groups equal texts.

use std::hash::{BuildHasher, Hasher};

use rustc_hash::FxBuildHasher;

use crate::StrCol;

/// A handle to a text in an [`Interner`]. `Sym::EMPTY` is the empty text in every
/// interner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Sym(u32);

impl Sym {
    /// The empty text.
    pub const EMPTY: Sym = Sym(0);

    /// True for the empty text.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The handle as a dense index (`0..Interner::len()`), for arrays indexed by text.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Every distinct text of a run, stored once in one arena.
#[derive(Debug, Clone)]
pub struct Interner {
    /// Text `i` is the handle `Sym(i)`'s.
    texts: StrCol,
    /// An open-addressing table (linear probing, at most 70% full, a power of two long):
    /// each slot is 0 when empty, else a text's 32 hash bits above its handle plus one.
    /// Growing rehashes from those bits, and a lookup compares them before reading the
    /// arena, so neither touches the arena for texts that do not match (at 10M persons
    /// the arena is gigabytes, and every read of it a cache and TLB miss). A slot is one
    /// `u64`, so a block's slots can be loaded ahead of their use ([`Interner::intern_all`]).
    slots: Vec<u64>,
    /// `64 - log2(slots.len())`: a slot's index is the top bits of the widened hash.
    shift: u32,
}

impl Default for Interner {
    fn default() -> Self {
        Interner::new()
    }
}

/// 32 bits of a text's hash.
fn hash32(s: &str) -> u32 {
    let mut h = FxBuildHasher.build_hasher();
    h.write(s.as_bytes());
    let x = h.finish();
    (x ^ (x >> 32)) as u32
}

/// The table's hash of a text from its 32 bits, spread over the whole word: the slot is
/// taken from its top bits.
fn widen(h: u32) -> u64 {
    u64::from(h).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Slots of a new interner's table.
const FIRST_SLOTS: usize = 16;

impl Interner {
    /// An interner holding only the empty text.
    pub fn new() -> Interner {
        let mut i = Interner {
            texts: StrCol::default(),
            slots: vec![0; FIRST_SLOTS],
            shift: 64 - FIRST_SLOTS.trailing_zeros(),
        };
        i.intern("");
        i
    }

    /// The first slot to probe for hash bits `h`.
    #[inline]
    fn home(&self, h: u32) -> usize {
        (widen(h) >> self.shift) as usize
    }

    /// The handle of a text whose 32 hash bits are `h`, or the empty slot where it
    /// would go.
    #[inline]
    fn probe(&self, s: &str, h: u32) -> Result<Sym, usize> {
        let mask = self.slots.len() - 1;
        let mut at = self.home(h);
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                return Err(at);
            }
            if (slot >> 32) as u32 == h {
                let i = (slot as u32).wrapping_sub(1);
                if self.texts.get(i as usize) == s {
                    return Ok(Sym(i));
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// The handle of a text whose 32 hash bits are `h`, if it is interned.
    fn find(&self, s: &str, h: u32) -> Option<Sym> {
        self.probe(s, h).ok()
    }

    /// Doubles the table, placing every handle again by its stored hash bits.
    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        self.slots = vec![0; old.len() * 2];
        self.shift -= 1;
        let mask = self.slots.len() - 1;
        for slot in old.into_iter().filter(|&s| s != 0) {
            let mut at = self.home((slot >> 32) as u32);
            while self.slots[at] != 0 {
                at = (at + 1) & mask;
            }
            self.slots[at] = slot;
        }
    }

    /// Makes room for `n` more texts (of about 18 bytes), so that interning them does
    /// not grow the table step by step, placing every handle again at each step.
    pub fn reserve(&mut self, n: usize) {
        while (self.texts.len() + n) * 10 > self.slots.len() * 7 {
            self.grow();
        }
        self.texts.reserve(n);
    }

    /// The handle of a text, adding the text when it is new.
    pub fn intern(&mut self, s: &str) -> Sym {
        self.intern_hashed(s, hash32(s))
    }

    /// [`Interner::intern`] of a text whose hash bits are `h`.
    fn intern_hashed(&mut self, s: &str, h: u32) -> Sym {
        // At most 70% full after this text, whether or not it is new.
        if (self.texts.len() + 1) * 10 > self.slots.len() * 7 {
            self.grow();
        }
        match self.probe(s, h) {
            Ok(sym) => sym,
            Err(at) => {
                let i = u32::try_from(self.texts.len())
                    .ok()
                    .filter(|&i| i < u32::MAX)
                    .expect("more than 4 billion distinct texts in a run");
                self.texts.push(s);
                self.slots[at] = (u64::from(h) << 32) | u64::from(i + 1);
                Sym(i)
            }
        }
    }

    /// Interns every text of `texts` in order, pushing each handle to `out`: the same
    /// handles as [`Interner::intern`] one by one.
    ///
    /// A large interner (a province's ids: a table and an arena of hundreds of
    /// megabytes) costs a cache miss or two per text, one after the other. Here texts go
    /// in blocks: the home slots of a whole block are loaded first, then the arena texts
    /// of the slots whose hash bits match, all independent loads the processor overlaps;
    /// then the block is interned as [`Interner::intern`] does, from the cache.
    pub fn intern_all<'a>(&mut self, texts: impl IntoIterator<Item = &'a str>, out: &mut Vec<Sym>) {
        const BLOCK: usize = 32;
        let mut block: [(&str, u32); BLOCK] = [("", 0); BLOCK];
        let mut n = 0;
        let mut texts = texts.into_iter();
        loop {
            let next = texts.next();
            if let Some(s) = next {
                block[n] = (s, hash32(s));
                n += 1;
                if n < BLOCK {
                    continue;
                }
            }
            // Grow first, so that the slots loaded are the ones probed.
            while (self.texts.len() + n) * 10 > self.slots.len() * 7 {
                self.grow();
            }
            let mut home = [0u64; BLOCK];
            for (slot, &(_, h)) in home.iter_mut().zip(&block[..n]) {
                *slot = self.slots[self.home(h)];
            }
            let mut touched = 0u8;
            for (&slot, &(_, h)) in home.iter().zip(&block[..n]) {
                if slot != 0 && (slot >> 32) as u32 == h {
                    let i = (slot as u32).wrapping_sub(1) as usize;
                    touched ^= self.texts.get(i).as_bytes().first().copied().unwrap_or(0);
                }
            }
            std::hint::black_box(touched);
            for &(s, h) in &block[..n] {
                out.push(self.intern_hashed(s, h));
            }
            n = 0;
            if next.is_none() {
                return;
            }
        }
    }

    /// The handle of a text already interned.
    pub fn lookup(&self, s: &str) -> Option<Sym> {
        self.find(s, hash32(s))
    }

    /// The text of a handle.
    pub fn get(&self, s: Sym) -> &str {
        self.texts.get(s.0 as usize)
    }

    /// Every distinct text in the order of its handle (the empty text first).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.texts.iter()
    }

    /// Number of distinct texts, the empty one included.
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// Always false: the empty text is always there.
    pub fn is_empty(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_gets_the_same_handle() {
        let mut i = Interner::new();
        assert_eq!(i.intern(""), Sym::EMPTY);
        let a = i.intern("三岔河村");
        let b = i.intern("DBY001");
        assert_ne!(a, b);
        assert_eq!(i.intern("三岔河村"), a);
        assert_eq!(i.get(a), "三岔河村");
        assert_eq!(i.get(b), "DBY001");
        assert_eq!(i.get(Sym::EMPTY), "");
        assert_eq!(i.lookup("DBY001"), Some(b));
        assert_eq!(i.lookup("DBY002"), None);
        assert_eq!(i.len(), 3);
    }

    #[test]
    fn interning_in_blocks_gives_the_handles_of_interning_one_by_one() {
        // New texts, repeats inside a block and across blocks, the empty text, and runs
        // longer and shorter than a block.
        let texts: Vec<String> = (0..1000)
            .map(|k| match k % 7 {
                0 => String::new(),
                1 | 2 => format!("id{}", k / 3),
                _ => format!("id{}", (k * 7919) % 211),
            })
            .collect();
        for take in [0, 1, 15, 16, 17, 33, 1000] {
            // Some texts already there, as in a table filled file by file.
            let mut one = Interner::new();
            one.intern("id5");
            let mut all = one.clone();
            let want: Vec<Sym> = texts[..take].iter().map(|t| one.intern(t)).collect();
            let mut got = vec![Sym(99)];
            all.intern_all(texts[..take].iter().map(String::as_str), &mut got);
            assert_eq!(got[0], Sym(99), "pushes after what is there");
            assert_eq!(&got[1..], &want[..], "{take} texts");
            assert_eq!(all.len(), one.len());
            for (s, t) in got[1..].iter().zip(&texts) {
                assert_eq!(all.get(*s), t);
            }
        }
    }

    #[test]
    fn texts_of_the_same_hash_bits_keep_their_own_handles() {
        // Every text here is given the same 32 hash bits: one probe run, through growth.
        let mut i = Interner::new();
        let syms: Vec<Sym> = (0..100)
            .map(|k| i.intern_hashed(&format!("t{k}"), 7))
            .collect();
        for (k, s) in syms.iter().enumerate() {
            assert_eq!(i.get(*s), format!("t{k}"));
            assert_eq!(i.intern_hashed(&format!("t{k}"), 7), *s);
            assert_eq!(i.find(&format!("t{k}"), 7), Some(*s));
        }
        assert_eq!(i.find("t100", 7), None);
        assert_eq!(i.len(), 101);
    }

    #[test]
    fn reserving_room_changes_no_handle() {
        let texts: Vec<String> = (0..5000).map(|k| format!("t{}", k % 3001)).collect();
        let mut plain = Interner::new();
        let mut roomy = Interner::new();
        roomy.reserve(3001);
        let slots = roomy.slots.len();
        for t in &texts {
            assert_eq!(plain.intern(t), roomy.intern(t));
        }
        assert_eq!(roomy.slots.len(), slots, "no growth after reserving");
        assert_eq!(plain.len(), roomy.len());
    }

    #[test]
    fn many_texts_survive_growth() {
        let mut i = Interner::new();
        let syms: Vec<Sym> = (0..50_000).map(|k| i.intern(&format!("t{k}"))).collect();
        for (k, s) in syms.iter().enumerate() {
            assert_eq!(i.get(*s), format!("t{k}"));
            assert_eq!(i.intern(&format!("t{k}")), *s);
        }
    }
}
