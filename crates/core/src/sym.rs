//! Interned text: each text that repeats across a run's rows is stored once in an
//! [`Interner`] and its columns hold [`Sym`]s, four-byte handles.
//!
//! Villages, offices, collectors, channels and deposit ids repeat across
//! hundreds of thousands of rows and across sources; ids repeat across all eight
//! sources. An interner makes every such column a `Vec<Sym>`, makes equality of
//! two cells one integer comparison (also across sources: a collector id in payments and
//! in deposits is the same `Sym`), and lets the person view index persons by the `Sym`
//! of their id in a plain array instead of a hash map. Ids have a table of their own,
//! [`IdTable`], numbered the same way but holding an id of 17 digits and a check
//! character packed in one `u64` ([`pack_id`]) instead of its text.
//!
//! A `Sym` has no order on purpose: numbers follow the order text was first seen, which
//! says nothing about the text. Anything ordered for output is ordered by its text
//! ([`Interner::get`], [`IdTable::get`]); a symbol's number serves only as a key that
//! groups equal texts.

use std::hash::{BuildHasher, Hasher};

use rustc_hash::FxBuildHasher;

use crate::text::same_text;
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

/// An open-addressing table of handles (linear probing, at most 70% full, a power of
/// two long), shared by [`Interner`] and [`IdTable`]: each slot is 0 when empty, else a
/// value's 32 hash bits above its handle plus one. Growing rehashes from those bits, and
/// a lookup compares them before reading the value, so neither touches the values of
/// handles that do not match (at 10M persons the values are hundreds of megabytes, and
/// every read of them a cache and TLB miss). A slot is one `u64`, so a block's slots can
/// be loaded ahead of their use ([`Slots::intern_block`]).
#[derive(Debug, Clone)]
struct Slots {
    slots: Vec<u64>,
    /// `64 - log2(slots.len())`: a slot's index is the top bits of the widened hash.
    shift: u32,
}

/// 32 bits of a text's hash.
fn hash32(s: &str) -> u32 {
    let mut h = FxBuildHasher.build_hasher();
    h.write(s.as_bytes());
    fold(h.finish())
}

/// 32 bits of a packed id's hash.
fn hash32_packed(p: u64) -> u32 {
    let mut h = FxBuildHasher.build_hasher();
    h.write_u64(p);
    fold(h.finish())
}

/// A 64-bit hash folded to 32 bits.
fn fold(x: u64) -> u32 {
    (x ^ (x >> 32)) as u32
}

/// The table's hash of a value from its 32 bits, spread over the whole word: the slot is
/// taken from its top bits.
fn widen(h: u32) -> u64 {
    u64::from(h).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Slots of a new table.
const FIRST_SLOTS: usize = 16;

/// Handles in one table, at most: `u32::MAX` stays free so that a handle plus one fits a
/// slot's low half.
fn next_handle(len: usize) -> u32 {
    u32::try_from(len)
        .ok()
        .filter(|&i| i < u32::MAX)
        .expect("more than 4 billion distinct texts in a run")
}

impl Slots {
    fn new() -> Slots {
        Slots {
            slots: vec![0; FIRST_SLOTS],
            shift: 64 - FIRST_SLOTS.trailing_zeros(),
        }
    }

    /// The first slot to probe for hash bits `h`.
    #[inline]
    fn home(&self, h: u32) -> usize {
        (widen(h) >> self.shift) as usize
    }

    /// The handle whose hash bits are `h` and for which `same` holds, or the empty slot
    /// where it would go.
    #[inline]
    fn probe(&self, h: u32, mut same: impl FnMut(u32) -> bool) -> Result<Sym, usize> {
        let mask = self.slots.len() - 1;
        let mut at = self.home(h);
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                return Err(at);
            }
            if (slot >> 32) as u32 == h {
                let i = (slot as u32).wrapping_sub(1);
                if same(i) {
                    return Ok(Sym(i));
                }
            }
            at = (at + 1) & mask;
        }
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

    /// Grows until `len + n` handles leave the table at most 70% full.
    fn make_room(&mut self, len: usize, n: usize) {
        while (len + n) * 10 > self.slots.len() * 7 {
            self.grow();
        }
    }

    /// Fills the empty slot `at` with handle `i` of hash bits `h`.
    fn fill(&mut self, at: usize, h: u32, i: u32) {
        self.slots[at] = (u64::from(h) << 32) | u64::from(i + 1);
    }

    /// The handle of `key` (hash bits `h`) among `values`, adding it when it is new.
    /// The table must have room for one more.
    #[inline]
    fn intern<K: Copy, V: Values<K>>(&mut self, values: &mut V, key: K, h: u32) -> Sym {
        match self.probe(h, |i| values.is(i, key)) {
            Ok(sym) => sym,
            Err(at) => {
                let i = next_handle(values.count());
                values.add(key);
                self.fill(at, h, i);
                Sym(i)
            }
        }
    }

    /// [`Slots::intern`], making room first: at most 70% full after this value, whether
    /// or not it is new.
    fn intern_one<K: Copy, V: Values<K>>(&mut self, values: &mut V, key: K, h: u32) -> Sym {
        self.make_room(values.count(), 1);
        self.intern(values, key, h)
    }

    /// Interns a block of values in order, pushing each handle to `out`, as
    /// [`Slots::intern_one`] does one by one, after loading the block's home slots and
    /// then touching the values of the handles whose hash bits match: all independent
    /// loads the processor overlaps, where interning one by one costs a cache miss or two
    /// per value, one after the other.
    fn intern_block<K: Copy, V: Values<K>>(
        &mut self,
        values: &mut V,
        block: &[(K, u32)],
        out: &mut Vec<Sym>,
    ) {
        debug_assert!(block.len() <= BLOCK);
        // Grow first, so that the slots loaded are the ones probed.
        self.make_room(values.count(), block.len());
        let mut home = [0u64; BLOCK];
        for (slot, &(_, h)) in home.iter_mut().zip(block) {
            *slot = self.slots[self.home(h)];
        }
        let mut touched = 0u8;
        for (&slot, &(_, h)) in home.iter().zip(block) {
            if slot != 0 && (slot >> 32) as u32 == h {
                touched ^= values.touch((slot as u32).wrapping_sub(1));
            }
        }
        std::hint::black_box(touched);
        for &(key, h) in block {
            out.push(self.intern(values, key, h));
        }
    }
}

/// The values behind a table's handles, in handle order, as [`Slots`] reads and adds
/// them: the texts of an [`Interner`], the ids of an [`IdTable`].
trait Values<K: Copy> {
    /// Number of values.
    fn count(&self) -> usize;
    /// True when value `i` is `key`.
    fn is(&self, i: u32, key: K) -> bool;
    /// Appends `key` as the next value.
    fn add(&mut self, key: K);
    /// A byte of value `i`, read only to bring the value into the cache.
    fn touch(&self, i: u32) -> u8;
}

impl Values<&str> for StrCol {
    fn count(&self) -> usize {
        self.len()
    }
    #[inline]
    fn is(&self, i: u32, key: &str) -> bool {
        same_text(self.get(i as usize), key)
    }
    fn add(&mut self, key: &str) {
        self.push(key);
    }
    fn touch(&self, i: u32) -> u8 {
        self.get(i as usize)
            .as_bytes()
            .first()
            .copied()
            .unwrap_or(0)
    }
}

/// Values interned by `intern_all` in one block.
const BLOCK: usize = 32;

/// Feeds `items` to `each` in blocks of at most [`BLOCK`], each with its hash bits.
fn in_blocks<T: Copy>(
    items: impl IntoIterator<Item = T>,
    hash: impl Fn(T) -> u32,
    mut each: impl FnMut(&[(T, u32)]),
) {
    let mut block: Vec<(T, u32)> = Vec::with_capacity(BLOCK);
    for v in items {
        block.push((v, hash(v)));
        if block.len() == BLOCK {
            each(&block);
            block.clear();
        }
    }
    if !block.is_empty() {
        each(&block);
    }
}

/// Every distinct text of a run, stored once in one arena.
#[derive(Debug, Clone)]
pub struct Interner {
    /// Text `i` is the handle `Sym(i)`'s.
    texts: StrCol,
    slots: Slots,
}

impl Default for Interner {
    fn default() -> Self {
        Interner::new()
    }
}

impl Interner {
    /// An interner holding only the empty text.
    pub fn new() -> Interner {
        let mut i = Interner {
            texts: StrCol::default(),
            slots: Slots::new(),
        };
        i.intern("");
        i
    }

    /// The handle of a text whose 32 hash bits are `h`, if it is interned.
    fn find(&self, s: &str, h: u32) -> Option<Sym> {
        self.slots.probe(h, |i| self.texts.is(i, s)).ok()
    }

    /// Makes room for `n` more texts (of about 18 bytes), so that interning them does
    /// not grow the table step by step, placing every handle again at each step.
    pub fn reserve(&mut self, n: usize) {
        self.slots.make_room(self.texts.len(), n);
        self.texts.reserve(n);
    }

    /// The handle of a text, adding the text when it is new.
    pub fn intern(&mut self, s: &str) -> Sym {
        self.intern_hashed(s, hash32(s))
    }

    /// [`Interner::intern`] of a text whose hash bits are `h`.
    fn intern_hashed(&mut self, s: &str, h: u32) -> Sym {
        self.slots.intern_one(&mut self.texts, s, h)
    }

    /// Interns every text of `texts` in order, pushing each handle to `out`: the same
    /// handles as [`Interner::intern`] one by one.
    ///
    /// A large interner (a province's texts: a table and an arena of hundreds of
    /// megabytes) costs a cache miss or two per text, one after the other. Here texts go
    /// in blocks: the home slots of a whole block are loaded first, then the arena texts
    /// of the slots whose hash bits match, all independent loads the processor overlaps;
    /// then the block is interned as [`Interner::intern`] does, from the cache.
    pub fn intern_all<'a>(&mut self, texts: impl IntoIterator<Item = &'a str>, out: &mut Vec<Sym>) {
        in_blocks(texts, hash32, |block| {
            self.slots.intern_block(&mut self.texts, block, out)
        });
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

/// An [`IdTable`] entry with this bit set is a text: the rest of the word is the text's
/// index in the table's arena. Without it, the entry is a packed id ([`pack_id`]).
const TEXT: u64 = 1 << 63;

/// The check characters of an id, by their packed value.
const CHECKS: &[u8; 11] = b"0123456789X";

/// An id of 17 digits and a check character (a digit or `X`) as one integer: the 17
/// digits' value times 11 plus the check's (`X` is 10), below 2^60. Every text of that
/// form packs, whether or not its check character is the right one, so that packing
/// loses nothing; any other text (a 15-digit number, a lower-case `x`, letters, the
/// empty text) does not.
pub fn pack_id(s: &str) -> Option<u64> {
    let b: &[u8; 18] = s.as_bytes().try_into().ok()?;
    let high = eight_digits(b[..8].try_into().expect("8 bytes"))?;
    let low = eight_digits(b[8..16].try_into().expect("8 bytes"))?;
    let last = u64::from(b[16].wrapping_sub(b'0'));
    if last > 9 {
        return None;
    }
    let check = match b[17] {
        c @ b'0'..=b'9' => u64::from(c - b'0'),
        b'X' => 10,
        _ => return None,
    };
    Some(((high * 100_000_000 + low) * 10 + last) * 11 + check)
}

/// The value of eight ASCII digits, first most significant, told a word at a time (every
/// byte's high half 3, and still 3 with 6 added: `0`-`9`), then combined in three
/// multiplications (pairs, fours, the eight); None when any byte is not a digit.
fn eight_digits(b: [u8; 8]) -> Option<u64> {
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    let w = u64::from_le_bytes(b);
    if (w & HIGH) | ((w.wrapping_add(0x0606_0606_0606_0606) & HIGH) >> 4) != 0x3333_3333_3333_3333 {
        return None;
    }
    let w = (w & 0x0F0F_0F0F_0F0F_0F0F).wrapping_mul(10 * 256 + 1) >> 8;
    let w = (w & 0x00FF_00FF_00FF_00FF).wrapping_mul(100 * 65_536 + 1) >> 16;
    Some((w & 0x0000_FFFF_0000_FFFF).wrapping_mul(10_000 * (1 << 32) + 1) >> 32)
}

/// The text of a packed id.
fn unpack_id(p: u64) -> [u8; 18] {
    let mut out = [0u8; 18];
    out[17] = CHECKS[(p % 11) as usize];
    let mut digits = p / 11;
    for c in out[..17].iter_mut().rev() {
        *c = b'0' + (digits % 10) as u8;
        digits /= 10;
    }
    out
}

/// The id numbers of a run: each distinct id once, read by a [`Sym`] handle as with an
/// [`Interner`], but an id of 17 digits and a check character (every valid id, and most
/// mistyped ones) is held packed in one `u64` ([`pack_id`]: 8 bytes where its text takes
/// 18, plus an end in an arena), and only other texts are kept as text beside.
///
/// Handles follow the order ids were first seen, packed or not, exactly as an
/// [`Interner`] fed the same texts would number them; the person view indexes persons
/// by them in a plain array. A lookup hashes and compares one integer, and reads no
/// arena.
#[derive(Debug, Clone)]
pub struct IdTable {
    /// Id `i` is the handle `Sym(i)`'s.
    ids: IdCol,
    slots: Slots,
}

impl Default for IdTable {
    fn default() -> Self {
        IdTable::new()
    }
}

/// An id to intern: packed, or a text that does not pack.
#[derive(Clone, Copy)]
enum IdKey<'a> {
    Packed(u64),
    Text(&'a str),
}

impl<'a> IdKey<'a> {
    fn of(s: &'a str) -> IdKey<'a> {
        match pack_id(s) {
            Some(p) => IdKey::Packed(p),
            None => IdKey::Text(s),
        }
    }
    fn hash(self) -> u32 {
        match self {
            IdKey::Packed(p) => hash32_packed(p),
            IdKey::Text(s) => hash32(s),
        }
    }
}

impl IdTable {
    /// A table holding only the empty text.
    pub fn new() -> IdTable {
        let mut t = IdTable {
            ids: IdCol::default(),
            slots: Slots::new(),
        };
        t.intern("");
        t
    }

    /// Makes room for `n` more ids, so that interning them does not grow the table step
    /// by step.
    pub fn reserve(&mut self, n: usize) {
        self.slots.make_room(self.ids.len(), n);
        self.ids.reserve(n);
    }

    /// The handle of an id, adding it when it is new.
    pub fn intern(&mut self, s: &str) -> Sym {
        let key = IdKey::of(s);
        self.slots.intern_one(&mut self.ids, key, key.hash())
    }

    /// Interns every id of `ids` in order, pushing each handle to `out`: the same
    /// handles as [`IdTable::intern`] one by one, in blocks as [`Interner::intern_all`]
    /// does.
    pub fn intern_all<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>, out: &mut Vec<Sym>) {
        self.intern_keys(ids.into_iter().map(IdKey::of), out);
    }

    /// Interns every id of `cols` in order, pushing each handle to `out`: the same
    /// handles as [`IdTable::intern_all`] of their texts, with no text packed or hashed
    /// here (the columns were packed where they were built).
    pub fn intern_cols<'a>(
        &mut self,
        cols: impl IntoIterator<Item = &'a IdCol>,
        out: &mut Vec<Sym>,
    ) {
        self.intern_keys(cols.into_iter().flat_map(IdCol::keys), out);
    }

    fn intern_keys<'a>(&mut self, keys: impl IntoIterator<Item = IdKey<'a>>, out: &mut Vec<Sym>) {
        in_blocks(keys, IdKey::hash, |block| {
            self.slots.intern_block(&mut self.ids, block, out)
        });
    }

    /// The handle of an id already interned.
    pub fn lookup(&self, s: &str) -> Option<Sym> {
        let key = IdKey::of(s);
        self.slots.probe(key.hash(), |i| self.ids.is(i, key)).ok()
    }

    /// The id of a handle.
    pub fn get(&self, s: Sym) -> IdStr<'_> {
        match self.ids.key(s.index()) {
            IdKey::Packed(p) => IdStr(IdRepr::Packed(unpack_id(p))),
            IdKey::Text(t) => IdStr(IdRepr::Text(t)),
        }
    }

    /// Every distinct id in the order of its handle (the empty text first).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = IdStr<'_>> + '_ {
        (0..self.ids.len()).map(|i| self.get(Sym(i as u32)))
    }

    /// Number of distinct ids, the empty text included.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Always false: the empty text is always there.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// A column of ids held as an [`IdTable`] holds them, packed where they pack and text
/// beside. A batch's id column is one, built where rows are parsed (on every core), so
/// that storing the batch in the run's table ([`IdTable::intern_cols`]) hashes and
/// compares integers and packs nothing; the table keeps its own distinct ids in one.
#[derive(Debug, Clone, Default)]
pub struct IdCol {
    /// Row `i`'s id: packed, or [`TEXT`] and an index into `texts`.
    entries: Vec<u64>,
    texts: StrCol,
}

impl IdCol {
    /// Appends an id.
    pub fn push(&mut self, s: &str) {
        self.add(IdKey::of(s));
    }
    /// Makes room for `n` more ids.
    pub fn reserve(&mut self, n: usize) {
        self.entries.reserve(n);
    }
    /// Number of ids.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// Id `i` as the table's key.
    #[inline]
    fn key(&self, i: usize) -> IdKey<'_> {
        let e = self.entries[i];
        if e & TEXT != 0 {
            IdKey::Text(self.texts.get((e & !TEXT) as usize))
        } else {
            IdKey::Packed(e)
        }
    }
    /// Every id, in order, as the table's key.
    fn keys(&self) -> impl Iterator<Item = IdKey<'_>> + '_ {
        (0..self.len()).map(|i| self.key(i))
    }
}

impl<'a> Values<IdKey<'a>> for IdCol {
    fn count(&self) -> usize {
        self.len()
    }
    #[inline]
    fn is(&self, i: u32, key: IdKey) -> bool {
        let e = self.entries[i as usize];
        match key {
            // No arena read for a packed id.
            IdKey::Packed(p) => e == p,
            IdKey::Text(s) => e & TEXT != 0 && same_text(self.texts.get((e & !TEXT) as usize), s),
        }
    }
    fn add(&mut self, key: IdKey) {
        match key {
            IdKey::Packed(p) => self.entries.push(p),
            IdKey::Text(s) => {
                self.entries.push(TEXT | self.texts.len() as u64);
                self.texts.push(s);
            }
        }
    }
    fn touch(&self, i: u32) -> u8 {
        self.entries[i as usize] as u8
    }
}

/// An id read from an [`IdTable`]: its text, made from the packed integer or borrowed
/// from the table's arena. It reads as a `&str` (`Deref`), and compares, orders and
/// hashes as its text does, so it can stand in a map keyed by `&str`.
#[derive(Clone, Copy)]
pub struct IdStr<'a>(IdRepr<'a>);

#[derive(Clone, Copy)]
enum IdRepr<'a> {
    Packed([u8; 18]),
    Text(&'a str),
}

impl IdStr<'_> {
    /// The text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            IdRepr::Packed(b) => std::str::from_utf8(b).expect("a packed id is ASCII"),
            IdRepr::Text(s) => s,
        }
    }
}

impl<'a> From<&'a str> for IdStr<'a> {
    fn from(s: &'a str) -> Self {
        IdStr(IdRepr::Text(s))
    }
}

impl std::ops::Deref for IdStr<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for IdStr<'_> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for IdStr<'_> {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for IdStr<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for IdStr<'_> {}

impl PartialEq<str> for IdStr<'_> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for IdStr<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for IdStr<'_> {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<IdStr<'_>> for &str {
    fn eq(&self, other: &IdStr<'_>) -> bool {
        *self == other.as_str()
    }
}

impl PartialOrd for IdStr<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for IdStr<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::hash::Hash for IdStr<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl std::fmt::Display for IdStr<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for IdStr<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
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
        // The interner and the id table, packed ids and texts alike.
        macro_rules! check {
            ($T:ty, $texts:expr) => {{
                let texts: Vec<String> = $texts;
                let mut plain = <$T>::new();
                let mut roomy = <$T>::new();
                roomy.reserve(3001);
                let slots = roomy.slots.slots.len();
                for t in &texts {
                    assert_eq!(plain.intern(t), roomy.intern(t));
                }
                assert_eq!(roomy.slots.slots.len(), slots, "no growth after reserving");
                assert_eq!(plain.len(), roomy.len());
            }};
        }
        check!(
            Interner,
            (0..5000).map(|k| format!("t{}", k % 3001)).collect()
        );
        check!(
            IdTable,
            (0..5000u64).map(|k| format!("{:018}", k % 3001)).collect()
        );
        check!(
            IdTable,
            (0..5000).map(|k| format!("t{}", k % 3001)).collect()
        );
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
    #[test]
    fn ids_of_17_digits_and_a_check_pack_and_unpack_to_themselves() {
        for id in [
            "110101199003071234",
            "11010119900307123X",
            "000000000000000000",
            "999999999999999999",
            "99999999999999999X",
            // A wrong check character packs too: packing is not validating.
            "110101199003071230",
        ] {
            let p = pack_id(id).unwrap_or_else(|| panic!("{id} packs"));
            assert!(p < 1 << 60 && p & TEXT == 0);
            assert_eq!(std::str::from_utf8(&unpack_id(p)).unwrap(), id);
        }
        for text in [
            "",
            "11010119900307123x",
            "110101900307123",
            "1101011990030712345",
            "11010119900307123",
            "11010119900307123Y",
            "１10101199003071234",
            "A10101199003071234",
            "id5",
        ] {
            assert_eq!(pack_id(text), None, "{text:?}");
        }
    }

    /// [`pack_id`] a byte at a time, as it was first written.
    fn pack_id_bytewise(s: &str) -> Option<u64> {
        let b = s.as_bytes();
        if b.len() != 18 {
            return None;
        }
        let mut digits: u64 = 0;
        for &c in &b[..17] {
            if !c.is_ascii_digit() {
                return None;
            }
            digits = digits * 10 + u64::from(c - b'0');
        }
        let check = CHECKS.iter().position(|&c| c == b[17])?;
        Some(digits * 11 + check as u64)
    }

    #[test]
    fn eight_digits_word_at_a_time() {
        assert_eq!(eight_digits(*b"00000000"), Some(0));
        assert_eq!(eight_digits(*b"12345678"), Some(12_345_678));
        assert_eq!(eight_digits(*b"99999999"), Some(99_999_999));
        // Every byte that is not a digit, in every place.
        for at in 0..8 {
            for c in (0..=255u8).filter(|c| !c.is_ascii_digit()) {
                let mut b = *b"31415926";
                b[at] = c;
                assert_eq!(eight_digits(b), None, "{b:?}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn pack_id_is_the_bytewise_packing(
            raw in "[0-9]{0,19}[0-9Xx/:]?",
            at in 0usize..18,
            byte in proptest::prelude::any::<u8>(),
        ) {
            proptest::prop_assert_eq!(pack_id(&raw), pack_id_bytewise(&raw));
            // One byte of a packable id changed to anything.
            let mut b = *b"37132319900101123X";
            b[at] = byte;
            if let Ok(s) = std::str::from_utf8(&b) {
                proptest::prop_assert_eq!(pack_id(s), pack_id_bytewise(s));
            }
        }
    }

    #[test]
    fn the_id_table_numbers_ids_as_an_interner_does_and_gives_their_text_back() {
        // Packed and unpacked ids mixed, repeats inside a block and across blocks, the
        // empty text, and runs longer and shorter than a block.
        let texts: Vec<String> = (0..1000u64)
            .map(|k| match k % 7 {
                0 => String::new(),
                1 => format!("{:017}{}", 110_101_199_003_070_000 + k / 3, k % 10),
                2 => format!("{:017}X", 110_101_199_003_070_000 + (k * 7919) % 211),
                3 => format!("{:017}x", k % 50),
                4 => format!("{:015}", k % 40),
                _ => format!("{:017}{}", (k * 7919) % 211, k % 3),
            })
            .collect();
        for take in [0, 1, 31, 32, 33, 1000] {
            let mut interner = Interner::new();
            let mut one = IdTable::new();
            one.intern("110101199003071234");
            interner.intern("110101199003071234");
            let mut all = one.clone();
            let one_more = one.clone();
            let want: Vec<Sym> = texts[..take].iter().map(|t| interner.intern(t)).collect();
            let got_one: Vec<Sym> = texts[..take].iter().map(|t| one.intern(t)).collect();
            let mut got = vec![Sym(99)];
            all.intern_all(texts[..take].iter().map(String::as_str), &mut got);
            assert_eq!(got[0], Sym(99), "pushes after what is there");
            assert_eq!(got_one, want, "{take} ids one by one");
            assert_eq!(&got[1..], &want[..], "{take} ids in blocks");
            // The same ids packed into columns first, split anywhere.
            let mut cols = one_more.clone();
            let (a, b) = texts[..take].split_at(take / 3);
            let mut col_a = IdCol::default();
            let mut col_b = IdCol::default();
            a.iter().for_each(|t| col_a.push(t));
            b.iter().for_each(|t| col_b.push(t));
            assert_eq!(col_a.len() + col_b.len(), take);
            let mut from_cols = Vec::new();
            cols.intern_cols([&col_a, &col_b], &mut from_cols);
            assert_eq!(from_cols, want, "{take} ids from columns");
            assert_eq!(cols.len(), interner.len());
            assert_eq!(all.len(), interner.len());
            assert_eq!(one.len(), interner.len());
            let listed: Vec<String> = all.iter().map(|s| s.to_string()).collect();
            let expected: Vec<String> = interner.iter().map(str::to_owned).collect();
            assert_eq!(listed, expected);
            for (s, t) in got[1..].iter().zip(&texts) {
                assert_eq!(all.get(*s), t.as_str());
                assert_eq!(all.lookup(t), Some(*s));
            }
        }
        let mut t = IdTable::new();
        assert_eq!(t.intern(""), Sym::EMPTY);
        assert_eq!(t.get(Sym::EMPTY), "");
        assert_eq!(t.lookup("110101199003071234"), None);
        let a = t.intern("110101199003071234");
        let b = t.intern("11010119900307123x");
        assert_eq!(
            (t.ids.texts.len(), t.len()),
            (2, 3),
            "one packed, two texts"
        );
        assert_eq!(t.lookup("11010119900307123X"), None, "case is kept");
        assert_eq!(t.get(a), "110101199003071234");
        assert_eq!(t.get(b), "11010119900307123x");
    }

    #[test]
    fn an_id_read_back_compares_orders_and_hashes_as_its_text() {
        use std::collections::HashMap;
        let mut t = IdTable::new();
        let ids = [
            "110101199003071234",
            "0000",
            "11010119900307123X",
            "110101199003071230",
        ];
        let syms: Vec<Sym> = ids.iter().map(|s| t.intern(s)).collect();
        let mut read: Vec<IdStr> = syms.iter().map(|&s| t.get(s)).collect();
        let mut texts = ids.to_vec();
        read.sort();
        texts.sort();
        assert_eq!(read.iter().map(|s| s.as_str()).collect::<Vec<_>>(), texts);
        let by_text: HashMap<IdStr, usize> = read.iter().copied().zip(0..).collect();
        for (k, s) in texts.iter().enumerate() {
            assert_eq!(by_text.get(*s), Some(&k), "found by its text");
        }
        assert_eq!(format!("{}|{:?}", read[0], read[0]), "0000|\"0000\"");
    }
}
