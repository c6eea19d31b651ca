//! The partitioned run: a run whose memory is bounded by a limit, not by the size of the
//! province (`docs/partitioning.md`).
//!
//! Every rule groups rows by some key: the person's id, a txn_id, a receipt number, a
//! deposit, a collector, an individual payer's account, the village of a person's first
//! hukou row, or the identity link of a row with an invalid id to a hukou person (decided
//! over the whole input in pass 1, never inside a partition). Two rows that share any such key
//! are put in the same partition, and so, transitively, are all rows connected through
//! keys: the partitions are unions of the connected components of the rows-and-keys
//! graph. Then every rule sees, in one partition, every row it would have seen in the
//! whole run for each of its keys, and runs there unchanged: one implementation per rule,
//! and the same findings whatever the number of partitions.
//!
//! 1. **keys**: the inputs are read once, streaming, file by file ([`keys_of_piece`]: on
//!    this machine, or on a cluster's executors, which write each piece's keys to the
//!    spill folder); each accepted row's keys are hashed (64 bits) and joined, in file
//!    order, in a union-find over the distinct keys ([`KeysTaker`]). Besides, only the
//!    rows identity linkage may link and their candidates are kept, and linked there. A hash
//!    collision between two keys can only join two components that need not be joined: a
//!    bigger partition, never a wrong answer. A person's key is not a hash when the id
//!    packs into an integer (every hukou id, every valid id: [`person_key`]): two such ids
//!    never share a key, so which hukou row is a person's first is told exactly (by a
//!    64-bit hash of the text, two ids among 10^8 persons would share one about once in
//!    4,000 runs, and have one first row between them).
//! 2. **split**: the inputs are read again and every accepted row is written to the bucket
//!    of its component, as Parquet files of the table's Arrow columns
//!    (`--out/.qianbiao-spill-PID/b00003/payments/part-000012-000000.parquet`: input
//!    file 12's first part of bucket 3; see [`qianbiao_ingest::arrow`]), in read order.
//!    Each input file is split on its own ([`split_file`]), by the bucket of each row's
//!    first key ([`BucketMap`]), so that a cluster can split the files on its workers.
//!    Rejected rows, file reports and control totals are kept from this pass, as in a run
//!    in memory.
//! 3. **buckets**: each bucket's record batches go through [`check_partition`], the stage
//!    function (batches in; findings, tables and totals out; no global state), and are
//!    dropped; findings, the per-collector and coverage tables, the ledger totals and the
//!    rule counts of the buckets are merged.
//!
//! The as_of of a run without `--as-of` is the latest date of the kept payments and the
//! deposits of the whole input, taken in pass 1 and checked against the buckets' own.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use hashbrown::hash_table::Entry;
use hashbrown::HashTable;
use polars::prelude::{
    DataFrame, ParquetCompression, ParquetReader, ParquetWriter, SerReader, StatisticsOptions,
};
use qianbiao_core::PayerType;
use qianbiao_core::{pack_id, Finding};
use qianbiao_ingest::arrow::{ArrowRows, ArrowTable};
use qianbiao_ingest::load::{ColumnFilter, Progress};
use qianbiao_ingest::source::Col;
use qianbiao_ingest::{
    dedupe_payments, Chunk, Dataset, DecidedLinks, HukouRow, LinkableDeath, LinkedRow, LoadOptions,
    PaymentRow, ReceiptRow, SourceKind, Table, Text,
};
use qianbiao_report::CollectorRow;
use qianbiao_rules::cov::CoverageRow;
use qianbiao_rules::link::Links;
use rayon::prelude::*;
use rustc_hash::FxHashSet;

use crate::shards::{Sharded, SHARDS};
use crate::{check_as_of, ms, sort_findings, EngineError, Ledger, Outcome, RuleStatus, RunOptions};

/// How a run chooses its number of partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Partitioning {
    /// By `--memory-limit`'s default: [`default_memory_limit`].
    #[default]
    Auto,
    /// `--partitions K`: exactly K (1: the run in memory).
    Partitions(usize),
    /// `--memory-limit SIZE` in bytes.
    MemoryLimit(u64),
}

/// Estimated peak bytes per input row of a bucket in memory (tables, person view, rules):
/// 10M persons, 59M rows, 7.0 GiB peak in memory (`docs/performance.md`), with a margin.
const BYTES_PER_ROW: u64 = 160;
/// Memory of a run besides its rows: the binary, the thread pools, the readers' chunks.
const BASE_BYTES: u64 = 300 << 20;
/// The prefix of the spill folder inside `--out`; stale ones of killed runs are removed.
pub const SPILL_PREFIX: &str = ".qianbiao-spill-";

/// The default memory limit: half of the machine's memory (`MemTotal` in
/// `/proc/meminfo`), or 4 GiB where that cannot be read.
pub fn default_memory_limit() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(4 << 30, |kb| kb * 1024 / 2)
}

/// Parses a size: `2GiB`, `1.5G`, `800MiB`, `512M`, `4096` (bytes). Units are binary.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return None,
    };
    let bytes = n * mult as f64;
    (bytes.is_finite() && bytes >= 1.0).then_some(bytes as u64)
}

/// What the run in memory would take, estimated from the input files' sizes: compressed
/// formats (Parquet, Excel) expand about tenfold in memory, text about twofold.
fn in_memory_estimate(data: &Path) -> u64 {
    let mut total = BASE_BYTES;
    for s in SourceKind::ALL {
        let Ok((files, _)) = qianbiao_ingest::load::discover(data, s) else {
            continue;
        };
        for (path, rel) in files {
            let len = std::fs::metadata(&path).map_or(0, |m| m.len());
            let lower = rel.to_ascii_lowercase();
            let factor = if lower.ends_with(".csv") || lower.ends_with(".txt") {
                3
            } else {
                12
            };
            total = total.saturating_add(len.saturating_mul(factor));
        }
    }
    total
}

/// The number of partitions chosen before any row is read: `Some(k)` when known, `None`
/// when it is to be chosen from the row count of pass 1.
fn choose_before(opts: &RunOptions) -> Result<Option<usize>, EngineError> {
    match opts.partitioning {
        Partitioning::Partitions(0) => Err(EngineError::Config(
            "--partitions: must be 1 or more".into(),
        )),
        Partitioning::Partitions(k) => Ok(Some(k)),
        Partitioning::Auto | Partitioning::MemoryLimit(_) => {
            let limit = limit_of(opts.partitioning);
            Ok((in_memory_estimate(&opts.data) <= limit).then_some(1))
        }
    }
}

fn limit_of(p: Partitioning) -> u64 {
    match p {
        Partitioning::MemoryLimit(b) => b,
        _ => default_memory_limit(),
    }
}

/// Runs the job: in memory when one partition will do, else partitioned.
pub fn compute(opts: &RunOptions) -> Result<Outcome, EngineError> {
    if let Some(d) = opts.as_of {
        check_as_of(d, opts.pipeline.policy.year)?;
    }
    // A killed partitioned run's spill folder goes with the next run in the same folder,
    // whichever way that run goes (in memory or partitioned).
    crate::remove_stale(&opts.out, SPILL_PREFIX);
    match choose_before(opts)? {
        Some(1) if !opts.runner.is_some_and(|r| r.always_partitioned()) => {
            crate::compute_in_memory(opts)
        }
        fixed => compute_partitioned(opts, fixed),
    }
}

/// What a partitioned run's manifest says of its partitions besides their rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Components with rows (rows joined by the keys rules group on).
    pub components: u64,
    /// Rows of the largest: no bucket can be smaller.
    pub largest: u64,
    /// Bytes the keys table held at most.
    pub keys_bytes: u64,
    /// Bytes of pass 1's pairs and txn ids written to the spill folder ([`Sharded`]).
    pub keys_spill_bytes: u64,
    /// Bytes written to the bucket files.
    pub spill_bytes: u64,
}

/// A 64-bit hash of a key of one kind; never 0 (0 marks "no key" in a row's list).
fn key(kind: u8, text: &str) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write_u8(kind);
    h.write(text.as_bytes());
    h.write_u8(0xff);
    // FxHash's low bits are weak, the table uses them.
    mix(h.finish()) | 1
}

/// splitmix64's finaliser: every bit of the result depends on every bit of `z`, and it is
/// a bijection (each step is invertible) that keeps 0 at 0.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The key of a person's id. An id that packs into an integer ([`pack_id`]: 17 digits and
/// a check character, so every hukou id) is keyed by that integer through [`mix`], a
/// bijection: two such ids never share a key, and the key is never 0 (the packed value
/// is below 2^60, plus one). Any other text is hashed as every other key is; it may
/// share a key with anything, which only joins components.
fn person_key(id: &str) -> u64 {
    match pack_id(id) {
        Some(p) => mix(p + 1),
        None => key(PERSON, id),
    }
}

const PERSON: u8 = 1;
const TXN: u8 = 2;
const RECEIPT: u8 = 3;
const DEPOSIT: u8 = 4;
const COLLECTOR: u8 = 5;
const ACCOUNT: u8 = 6;
const VILLAGE: u8 = 7;
const LOST: u8 = 8;

/// The anchor of a payments or receipts row: its person, or, for an id that lost its
/// digits as an Excel number, the row itself (by `own`: its txn_id or receipt number).
/// Such an id stands for nobody: no rule groups by it (DUP and DQ-002 leave it out), and
/// the ids of two persons that lost the same digits would join their villages.
fn anchor_key(id: &str, id_lost: bool, own: &str) -> u64 {
    if id_lost {
        key(LOST, own)
    } else {
        person_key(id)
    }
}

fn some_key(kind: u8, text: &str) -> u64 {
    if text.is_empty() {
        0
    } else {
        key(kind, text)
    }
}

/// The keys of every row of a chunk, hashed in parallel. Identity linkage joins a row to
/// the person it is linked to through [`link_globally`], not through a key.
fn chunk_keys(chunk: &Chunk) -> Vec<RowKeys> {
    fn ids<R: Sync>(rows: &[R], id: impl Fn(&R) -> &str + Sync) -> Vec<RowKeys> {
        rows.par_iter()
            .map(|r| [person_key(id(r)), 0, 0, 0, 0, 0, 0])
            .collect()
    }
    match chunk {
        Chunk::Hukou(rows) => rows
            .par_iter()
            .map(|r| [person_key(&r.id), key(VILLAGE, &r.village), 0, 0, 0, 0, 0])
            .collect(),
        Chunk::Deaths(rows) => ids(rows, |r| &r.id),
        Chunk::Eligibility(rows) => ids(rows, |r| &r.id),
        Chunk::Registrations(rows) => ids(rows, |r| &r.id),
        Chunk::Roster(rows) => ids(rows, |r| &r.id),
        Chunk::Payments(rows) => rows
            .par_iter()
            .map(|r| {
                [
                    anchor_key(&r.id, r.id_lost, &r.txn_id),
                    key(TXN, &r.txn_id),
                    some_key(RECEIPT, &r.receipt_no),
                    some_key(DEPOSIT, &r.deposit_id),
                    some_key(COLLECTOR, &r.collector_id),
                    // MNY-005 looks at individual payments' accounts only: a 代缴 account
                    // pays for thousands and would join them all.
                    if r.payer_type == PayerType::Individual {
                        some_key(ACCOUNT, &r.payer_account)
                    } else {
                        0
                    },
                    0,
                ]
            })
            .collect(),
        // Receipts and deposits without a collector still make a `collectors.csv` row
        // (collector ""), and a receipt without a number is still a receipt.
        Chunk::Receipts(rows) => rows
            .par_iter()
            .map(|r| {
                [
                    anchor_key(&r.id, r.id_lost, &r.receipt_no),
                    key(RECEIPT, &r.receipt_no),
                    key(COLLECTOR, &r.collector_id),
                    0,
                    0,
                    0,
                    0,
                ]
            })
            .collect(),
        Chunk::Deposits(rows) => rows
            .par_iter()
            .map(|r| {
                [
                    key(DEPOSIT, &r.deposit_id),
                    key(COLLECTOR, &r.collector_id),
                    0,
                    0,
                    0,
                    0,
                    0,
                ]
            })
            .collect(),
        Chunk::LinkableDeaths(rows) => rows.iter().map(|_| [0; 7]).collect(),
    }
}

/// A union-find over the distinct keys of the input.
///
/// Keys of few values or that rows are routed by (persons, deposits, collectors,
/// villages) are nodes of a hash table. Keys that are nearly all distinct (txn ids,
/// receipt numbers, accounts) would be most of the table, so they are kept as
/// (hash, anchor) pairs and joined by one sort when pass 1 is over: 12-16 bytes a row
/// instead of a table entry and a node.
#[derive(Default)]
struct Components {
    /// Key hash -> node.
    nodes: HashTable<(u64, u32)>,
    parent: Vec<u32>,
    /// Rows anchored at each node.
    weight: Vec<u32>,
    /// Receipt numbers and accounts: (hash high, hash low, anchor node), by shard.
    pairs: Sharded<3>,
    /// txn ids: (hash high, hash low, anchor node, payment ordinal, its day as days from
    /// the common era), by shard.
    txns: Sharded<5>,
    /// Payments added so far: the next one's ordinal.
    paid: u32,
}

/// No node (yet) for a key, in [`Components::known`].
const UNSEEN: u32 = u32::MAX;

fn split_key(k: u64) -> (u32, u32) {
    ((k >> 32) as u32, k as u32)
}

impl Components {
    /// The node of a key, and whether it is new.
    fn node(&mut self, k: u64) -> (u32, bool) {
        match self.nodes.entry(k, |e| e.0 == k, |e| e.0) {
            Entry::Occupied(o) => (o.get().1, false),
            Entry::Vacant(v) => {
                let n = self.parent.len() as u32;
                self.parent.push(n);
                self.weight.push(0);
                v.insert((k, n));
                (n, true)
            }
        }
    }

    /// Joins the components of two keys that pass 1 has seen.
    fn join(&mut self, a: u64, b: u64) {
        if let (Some(x), Some(y)) = (self.get(a), self.get(b)) {
            self.union(x, y);
        }
    }

    fn get(&self, k: u64) -> Option<u32> {
        self.nodes.find(k, |e| e.0 == k).map(|e| e.1)
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let up = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = up;
            x = up;
        }
        x
    }

    /// Joins two nodes' components; the smaller node number is the root, so that the
    /// roots do not depend on the order of the unions.
    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            self.parent[hi as usize] = lo;
        }
    }

    /// The nodes the keys of rows already have, looked up on every core before the rows
    /// are added one by one ([`Components::add`]): at a province's scale the table is
    /// gigabytes and nearly every lookup is a cache miss. [`UNSEEN`] for a key without
    /// a node yet (or none, or deferred).
    fn known(&self, keys: &[RowKeys], deferred: u8) -> Vec<[u32; 7]> {
        keys.par_iter()
            .map(|row| {
                let mut out = [UNSEEN; 7];
                for (i, &k) in row.iter().enumerate() {
                    if k != 0 && deferred & (1 << i) == 0 {
                        out[i] = self.get(k).unwrap_or(UNSEEN);
                    }
                }
                out
            })
            .collect()
    }

    /// The node of a key, given the one [`Components::known`] found for it ([`UNSEEN`]:
    /// looked up, or made, now).
    fn node_known(&mut self, k: u64, known: u32) -> u32 {
        match known {
            UNSEEN => self.node(k).0,
            n => n,
        }
    }

    /// Adds a row with these keys: its anchor (the first key, a node) weighs one more.
    /// Keys whose bit is set in `deferred` are pairs, joined in [`Components::resolve`].
    /// `known`: the nodes of the keys that had one before the row's chunk
    /// ([`Components::known`]); the others are looked up (or made) here, in row order,
    /// so that nodes are numbered as a row-by-row lookup numbers them.
    fn add(&mut self, keys: &RowKeys, known: &[u32; 7], deferred: u8) -> Option<u32> {
        let mut anchor = None;
        for (i, &k) in keys.iter().enumerate() {
            if k == 0 || deferred & (1 << i) != 0 {
                continue;
            }
            let n = self.node_known(k, known[i]);
            match anchor {
                None => anchor = Some(n),
                Some(a) => self.union(a, n),
            }
        }
        let a = anchor?;
        self.weight[a as usize] = self.weight[a as usize].saturating_add(1);
        for (i, &k) in keys.iter().enumerate() {
            if k != 0 && deferred & (1 << i) != 0 {
                let (hi, lo) = split_key(k);
                self.pairs.push([hi, lo, a]);
            }
        }
        Some(a)
    }

    /// Adds a payment's txn id, with its day (days from the common era).
    fn add_txn(&mut self, k: u64, anchor: u32, day: i32) {
        let (hi, lo) = split_key(k);
        let ord = self.paid;
        self.paid += 1;
        self.txns.push([hi, lo, anchor, ord, day as u32]);
    }

    /// From now on, the pairs and txn ids past a shard's buffer go to unnamed files in
    /// `dir` ([`Sharded`]).
    fn spill_in(&mut self, dir: &Path) {
        self.pairs.spill_in(dir);
        self.txns.spill_in(dir);
    }

    /// As [`Components::spill_in`], writing a shard past `cap` entries (tests).
    #[cfg(test)]
    fn spill_in_past(&mut self, dir: &Path, cap: usize) {
        self.pairs.spill_in_past(dir, cap);
        self.txns.spill_in_past(dir, cap);
    }

    /// Joins the anchors of every pair and txn key seen more than once, a shard at a
    /// time, and frees them. Returns the latest day of the kept payments: the first read
    /// of each txn id. An error when the shards' files could not be written or read.
    fn resolve(&mut self) -> Result<Option<NaiveDate>, EngineError> {
        let mut latest: Option<i32> = None;
        for s in 0..SHARDS {
            let mut pairs = self.pairs.take(s).map_err(EngineError::Config)?;
            pairs.par_sort_unstable();
            for run in pairs.chunk_by(|a, b| a[..2] == b[..2]) {
                for p in &run[1..] {
                    self.union(run[0][2], p[2]);
                }
            }
            drop(pairs);
            let mut txns = self.txns.take(s).map_err(EngineError::Config)?;
            txns.par_sort_unstable_by_key(|t| (t[0], t[1], t[3]));
            for run in txns.chunk_by(|a, b| a[..2] == b[..2]) {
                latest = latest.max(Some(run[0][4] as i32));
                for t in &run[1..] {
                    self.union(run[0][2], t[2]);
                }
            }
        }
        self.pairs = Sharded::default();
        self.txns = Sharded::default();
        Ok(latest.and_then(NaiveDate::from_num_days_from_ce_opt))
    }

    /// Bytes of pairs and txn ids written to files so far.
    fn spilled(&self) -> u64 {
        self.pairs.written() + self.txns.written()
    }

    /// The bytes it holds at most (for the manifest).
    fn bytes(&self) -> u64 {
        (self.nodes.capacity() as u64) * 17
            + (self.parent.capacity() as u64) * 8
            + self.pairs.held()
            + self.txns.held()
    }

    /// Assigns every component to one of `k` buckets, heaviest first to the lightest
    /// bucket (ties: the lower component root, the lower bucket), and returns the bucket
    /// of every anchor key (a key some row is routed by).
    fn into_buckets(mut self, k: usize) -> Buckets {
        let n = self.parent.len();
        for i in 0..n as u32 {
            let r = self.find(i);
            self.parent[i as usize] = r;
        }
        // A node without rows anchors nothing: marked so now, before the weights become
        // the components' totals; the others get their root's bucket below.
        let mut bucket: Vec<u16> = self
            .weight
            .iter()
            .map(|&w| if w == 0 { NOT_AN_ANCHOR } else { 0 })
            .collect();
        // Each root's weight becomes its component's total, in place (a component has
        // fewer than 2^32 rows; the sum saturates): no vector of totals beside the table,
        // 0.8 GB at 100M persons.
        for i in 0..n {
            let r = self.parent[i] as usize;
            if r != i {
                self.weight[r] = self.weight[r].saturating_add(self.weight[i]);
            }
        }
        let total = &mut self.weight;
        let mut roots: Vec<u32> = (0..n as u32)
            .filter(|&i| self.parent[i as usize] == i)
            .collect();
        roots.sort_unstable_by_key(|&r| (Reverse(total[r as usize]), r));
        let sizes = roots.iter().map(|&r| total[r as usize]).filter(|&t| t > 0);
        let (components, largest) = (sizes.clone().count() as u64, sizes.max());
        let mut heap: BinaryHeap<Reverse<(u64, u16)>> =
            (0..k as u16).map(|b| Reverse((0, b))).collect();
        let mut loads = vec![0u64; k];
        for &r in &roots {
            let Reverse((load, b)) = heap.pop().expect("k >= 1");
            let load = load + u64::from(total[r as usize]);
            loads[b as usize] = load;
            heap.push(Reverse((load, b)));
            // The root's total is no longer needed: its weight now holds its bucket.
            total[r as usize] = u32::from(b);
        }
        drop(roots);
        for (b, &r) in bucket.iter_mut().zip(&self.parent) {
            if *b != NOT_AN_ANCHOR {
                *b = self.weight[r as usize] as u16;
            }
        }
        // What goes before the map is built: at 100M persons these (and, before the
        // totals were summed in place, a vector of them) were 2 GB beside the nodes' table.
        drop(std::mem::take(&mut self.parent));
        drop(std::mem::take(&mut self.weight));
        // Only the anchors: every row is routed by its first key, which weighs.
        let nodes = std::mem::take(&mut self.nodes);
        let map = BucketMap::from_anchors(|| {
            nodes.iter().filter_map(|&(key, node)| {
                let b = bucket[node as usize];
                (b != NOT_AN_ANCHOR).then_some((key, b))
            })
        });
        Buckets {
            map,
            loads,
            components,
            largest: largest.map_or(0, u64::from),
        }
    }
}

/// In [`Components::into_buckets`], the bucket of a node no row is anchored at. K is at
/// most `u16::MAX`, so no bucket has this number.
const NOT_AN_ANCHOR: u16 = u16::MAX;

/// What pass 1 gives the split: every anchor's bucket, and the buckets' sizes.
struct Buckets {
    map: BucketMap,
    /// Rows per bucket.
    loads: Vec<u64>,
    /// Components with rows, and the rows of the largest: a bucket is never smaller than
    /// its largest component, whatever K.
    components: u64,
    largest: u64,
}

impl Buckets {
    fn of(&self, k: u64) -> Option<u16> {
        self.map.of(k)
    }
}

/// The bucket of every anchor key (the first key of a row, [`RowKeys`]): what the split
/// routes each row by, on this machine or on a cluster's executors (written to the
/// spill folder as `keys.bin`).
///
/// Sorted keys with their buckets, and an index of where each value of the keys' top
/// bits starts: the keys are 64-bit hashes, spread evenly, so a lookup is one index
/// read and a binary search over a handful of keys. 10 bytes an anchor, and 4 bytes of
/// index per anchor at most.
pub struct BucketMap {
    keys: Vec<u64>,
    buckets: Vec<u16>,
    shift: u32,
    index: Vec<u32>,
}

/// The first bytes of a `keys.bin`.
const MAP_MAGIC: &[u8; 8] = b"QBMAP001";

impl BucketMap {
    #[cfg(test)]
    fn new(pairs: Vec<(u64, u16)>) -> BucketMap {
        BucketMap::from_anchors(|| pairs.iter().copied())
    }

    /// The map of (key, bucket) pairs of distinct keys, which `pairs` gives anew each time
    /// it is called (three times). The keys are hashes, spread evenly: each is placed
    /// straight into its range of the index (a counting sort by the top bits), and each
    /// range, a handful of keys, is then sorted. 10 bytes a pair and the index: never a
    /// vector of pairs (16 bytes each), nor that and its sorted copy at once.
    fn from_anchors<I: Iterator<Item = (u64, u16)>>(pairs: impl Fn() -> I) -> BucketMap {
        let n = pairs().count();
        let (shift, mut index) = BucketMap::empty_index(n);
        for (k, _) in pairs() {
            index[(k >> shift) as usize + 1] += 1;
        }
        for i in 1..index.len() {
            index[i] += index[i - 1];
        }
        // Each range's start is its cursor while the keys are placed; after, each start
        // has moved to the next range's, and the index is shifted back by one.
        let mut keys = vec![0u64; n];
        let mut buckets = vec![0u16; n];
        for (k, b) in pairs() {
            let slot = &mut index[(k >> shift) as usize];
            keys[*slot as usize] = k;
            buckets[*slot as usize] = b;
            *slot += 1;
        }
        let last = index.len() - 1;
        index.copy_within(..last, 1);
        index[0] = 0;
        for w in index.windows(2) {
            let (lo, hi) = (w[0] as usize, w[1] as usize);
            // Insertion sort of a range, its buckets moved with its keys.
            for i in lo + 1..hi {
                let (k, b) = (keys[i], buckets[i]);
                let mut j = i;
                while j > lo && keys[j - 1] > k {
                    keys[j] = keys[j - 1];
                    buckets[j] = buckets[j - 1];
                    j -= 1;
                }
                keys[j] = k;
                buckets[j] = b;
            }
        }
        BucketMap {
            keys,
            buckets,
            shift,
            index,
        }
    }

    /// The shift of the index over `n` keys, and the index with every count 0: about one
    /// index entry per key, at most 2^24 (64 MiB).
    fn empty_index(n: usize) -> (u32, Vec<u32>) {
        let bits = (usize::BITS - n.leading_zeros()).clamp(1, 24);
        (64 - bits, vec![0u32; (1usize << bits) + 1])
    }

    fn indexed(keys: Vec<u64>, buckets: Vec<u16>) -> BucketMap {
        let (shift, mut index) = BucketMap::empty_index(keys.len());
        for &k in &keys {
            index[(k >> shift) as usize + 1] += 1;
        }
        for i in 1..index.len() {
            index[i] += index[i - 1];
        }
        BucketMap {
            keys,
            buckets,
            shift,
            index,
        }
    }

    /// The bucket of an anchor key; None for a key pass 1 did not see as an anchor.
    pub fn of(&self, k: u64) -> Option<u16> {
        let p = (k >> self.shift) as usize;
        let (lo, hi) = (self.index[p] as usize, self.index[p + 1] as usize);
        self.keys[lo..hi]
            .binary_search(&k)
            .ok()
            .map(|i| self.buckets[lo + i])
    }

    /// The number of anchors.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is no anchor (an input without rows).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Writes the map as `QBMAP001`, the count (u64), the keys (u64) and the buckets
    /// (u16), little-endian.
    pub fn write(&self, path: &Path) -> Result<(), EngineError> {
        use std::io::Write;
        let io = |e: std::io::Error| spill_error(path, e);
        let file = std::fs::File::create(path).map_err(io)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        w.write_all(MAP_MAGIC).map_err(io)?;
        w.write_all(&(self.keys.len() as u64).to_le_bytes())
            .map_err(io)?;
        for k in &self.keys {
            w.write_all(&k.to_le_bytes()).map_err(io)?;
        }
        for b in &self.buckets {
            w.write_all(&b.to_le_bytes()).map_err(io)?;
        }
        w.flush().map_err(io)
    }

    /// Reads a map [`BucketMap::write`] wrote; an error for any other bytes.
    pub fn read(path: &Path) -> Result<BucketMap, EngineError> {
        let bytes = std::fs::read(path).map_err(|e| spill_error(path, e))?;
        let bad = || spill_error(path, "not a bucket map, or cut short");
        let (magic, rest) = bytes.split_at_checked(8).ok_or_else(bad)?;
        let (count, rest) = rest.split_at_checked(8).ok_or_else(bad)?;
        if magic != MAP_MAGIC {
            return Err(bad());
        }
        let n = u64::from_le_bytes(count.try_into().map_err(|_| bad())?) as usize;
        if n.checked_mul(10) != Some(rest.len()) {
            return Err(bad());
        }
        let (keys, buckets) = rest.split_at(n * 8);
        let keys: Vec<u64> = keys
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        if keys.windows(2).any(|w| w[0] >= w[1]) {
            return Err(bad());
        }
        let buckets = buckets
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        Ok(BucketMap::indexed(keys, buckets))
    }
}

/// Pass 1's state: the components, the rows identity linkage may link and their
/// candidates, the row count and the latest dates (for as_of).
#[derive(Default)]
struct Pass1 {
    comps: Components,
    rows: u64,
    latest: Option<NaiveDate>,
    /// Effective payments and receipts rows with an invalid id and a name, and rejected
    /// deaths rows, as identity linkage takes them.
    probe_payments: Vec<PaymentRow>,
    probe_receipts: Vec<ReceiptRow>,
    probe_deaths: Vec<LinkableDeath>,
    /// Their names.
    names: FxHashSet<Text>,
    /// Every hukou row whose name is one of `names` (hukou is read last): each accepted
    /// hukou row is a candidate, whatever its status and whether or not it is its
    /// person's first; a link names the person by the id. Kept as the columns of the
    /// dataset identity linkage runs on, a piece at a time: the candidates are a share
    /// of every hukou row that grows with the province (971,352 rows at 10M persons),
    /// and as owned rows, then copied into columns at the end, they were the 100M run's
    /// peak.
    candidates: Dataset,
    /// Per node: a hukou row of this id was seen (so the next is not the first).
    hukou_seen: Vec<u64>,
    /// The piece being taken: its rows so far.
    file_rows: u64,
}

/// A row's keys, the first one its anchor (a person, a deposit, or a row whose id lost its
/// digits); 0: none.
pub type RowKeys = [u64; 7];

/// Pass 1's work: the run's input files (the split's), the policy year, the files this
/// pass reads, and the names of the rows identity linkage may link (for the hukou files,
/// read last).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct KeysJob {
    /// The spill folder (a cluster's executors write each file's keys there).
    pub spill: PathBuf,
    /// The input files in the order of the run's file table.
    pub files: Vec<InputFile>,
    /// The tasks the files are read in ([`pieces_of`]), in file order.
    pub pieces: Vec<Piece>,
    /// The policy year (receipts' dates read with it).
    pub year: i32,
    /// The pieces to read, by number, in the order pass 1 takes them.
    pub todo: Vec<usize>,
    /// The names of the rows to link, sorted: a hukou row of one of them is kept.
    pub names: Vec<Text>,
}

/// What pass 1 keeps of one input file besides its rows' keys.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct FileKeys {
    /// Accepted rows, each with its keys.
    rows: u64,
    probe_payments: Vec<PaymentRow>,
    probe_receipts: Vec<ReceiptRow>,
    probe_deaths: Vec<LinkableDeath>,
    /// Hukou rows whose name is one of the job's names, by their row number in the file.
    named: Vec<(u64, HukouRow)>,
    /// The latest deposit day.
    latest: Option<NaiveDate>,
}

impl FileKeys {
    /// The file's accepted rows, each with its keys.
    pub fn rows(&self) -> u64 {
        self.rows
    }
}

/// Where one piece's keys go, chunk by chunk in read order, then what else the piece gave:
/// pass 1's union-find on the driver.
pub trait KeysTaker: Send {
    /// The keys of accepted rows of a file of source `s`; `days` is each payment's day (days
    /// from the common era), empty for the other sources.
    fn rows(&mut self, s: SourceKind, keys: &[RowKeys], days: &[i32]);
    /// The rest of piece `i`, after all its rows; an error when it does not match them.
    fn file(&mut self, i: usize, keys: FileKeys) -> Result<(), EngineError>;
}

/// Reads piece `p` of a job (an input file, or some of a Parquet file's row groups) and
/// hands its rows' keys to `sink` in read order; returns what else pass 1 needs of it. The
/// function a run on one machine and a cluster's executors both run, piece by piece.
pub fn keys_of_piece(
    job: &KeysJob,
    p: usize,
    sink: &mut (dyn FnMut(&[RowKeys], &[i32]) + Send),
    progress: Option<Progress<'_>>,
) -> Result<FileKeys, EngineError> {
    let names: FxHashSet<&str> = job.names.iter().map(|t| t.as_str()).collect();
    let mut out = FileKeys::default();
    let mut hukou_row = 0u64;
    let pass = ("[keys]", Some(keys_columns as ColumnFilter));
    let piece = piece_of(&job.pieces, p)?;
    read_input(&job.files, piece, job.year, pass, progress, &mut |chunk| {
        let mut days = Vec::new();
        match &chunk {
            Chunk::LinkableDeaths(rows) => {
                let named = rows.iter().filter(|r| !r.name.is_empty());
                out.probe_deaths.extend(named.cloned());
                return;
            }
            Chunk::Payments(rows) => {
                days = rows.par_iter().map(|r| r.paid_at.days_from_ce()).collect();
                out.probe_payments.extend(
                    rows.iter()
                        .filter(|r| !r.id_valid && r.status.is_effective() && !r.name.is_empty())
                        .cloned(),
                );
            }
            Chunk::Receipts(rows) => {
                out.probe_receipts.extend(
                    rows.iter()
                        .filter(|r| !r.id_valid && !r.name.is_empty())
                        .cloned(),
                );
            }
            Chunk::Deposits(rows) => {
                for r in rows.iter() {
                    out.latest = out.latest.max(Some(r.deposited_at.date()));
                }
            }
            Chunk::Hukou(rows) => {
                if !names.is_empty() {
                    for (j, r) in rows.iter().enumerate() {
                        if names.contains(r.name.as_str()) {
                            out.named.push((hukou_row + j as u64, r.clone()));
                        }
                    }
                }
                hukou_row += rows.len() as u64;
            }
            _ => {}
        }
        let keys = chunk_keys(&chunk);
        out.rows += keys.len() as u64;
        sink(&keys, &days);
    })?;
    Ok(out)
}

/// The optional columns pass 1 reads besides the required and checked ones
/// (`LoadOptions::columns`): what its keys and the probes of identity linkage (ids,
/// names, villages, an effective payment's status) read. The rest are not decoded: pass
/// 1 keeps no other value, and the load accepts the rows the split does (the split
/// checks the count, file by file).
fn keys_columns(s: SourceKind, c: Col) -> bool {
    match s {
        // Status and status date are read for hukou's check whatever this says.
        SourceKind::Hukou => false,
        // A deaths row rejected for its id alone is linked by its name.
        SourceKind::Deaths => c == Col::Name,
        SourceKind::Payments => c != Col::Channel,
        SourceKind::Receipts => matches!(c, Col::Name | Col::Village),
        SourceKind::Eligibility
        | SourceKind::Registrations
        | SourceKind::Deposits
        | SourceKind::Roster => false,
    }
}

/// The name of piece `i`'s keys in the spill folder, as a cluster's executors write them.
pub fn keys_file(spill: &Path, i: usize) -> PathBuf {
    spill.join(format!("keys-{i:06}.bin"))
}

/// One file's keys written as bytes, chunk by chunk: per row a byte telling which of its
/// seven keys it has, those keys (u64, little-endian), and for a payment its day (i32).
/// About 10 bytes a person's row and 50 a payment's.
pub struct KeysWriter {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
    buf: Vec<u8>,
    error: Option<std::io::Error>,
}

impl KeysWriter {
    /// Creates (or replaces) the file.
    pub fn create(path: &Path) -> Result<KeysWriter, EngineError> {
        let file = std::fs::File::create(path).map_err(|e| spill_error(path, e))?;
        Ok(KeysWriter {
            path: path.to_path_buf(),
            out: std::io::BufWriter::with_capacity(1 << 20, file),
            buf: Vec::new(),
            error: None,
        })
    }

    /// Appends rows' keys, and their days when `days` is not empty.
    pub fn put(&mut self, keys: &[RowKeys], days: &[i32]) {
        use std::io::Write;
        if self.error.is_some() {
            return;
        }
        self.buf.clear();
        for (r, k) in keys.iter().enumerate() {
            let mask = k
                .iter()
                .enumerate()
                .fold(0u8, |m, (j, &x)| if x != 0 { m | 1 << j } else { m });
            self.buf.push(mask);
            for &x in k.iter().filter(|&&x| x != 0) {
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            if let Some(d) = days.get(r) {
                self.buf.extend_from_slice(&d.to_le_bytes());
            }
        }
        if let Err(e) = self.out.write_all(&self.buf) {
            self.error = Some(e);
        }
    }

    /// Flushes the file; the first error of any write.
    pub fn finish(mut self) -> Result<(), EngineError> {
        use std::io::Write;
        if let Some(e) = self.error.take() {
            return Err(spill_error(&self.path, e));
        }
        self.out.flush().map_err(|e| spill_error(&self.path, e))
    }
}

/// Reads a file [`KeysWriter`] wrote for a file of source `s` with `rows` rows and hands
/// its keys to `take` in chunks; an error when it holds more or fewer rows, or is cut.
pub fn read_keys(
    path: &Path,
    s: SourceKind,
    rows: u64,
    take: &mut dyn KeysTaker,
) -> Result<(), EngineError> {
    use std::io::Read;
    const CHUNK: usize = 1 << 16;
    let file = std::fs::File::open(path).map_err(|e| spill_error(path, e))?;
    let mut r = std::io::BufReader::with_capacity(1 << 20, file);
    let cut = |e: std::io::Error| spill_error(path, format!("cut short or unreadable: {e}"));
    let with_days = s == SourceKind::Payments;
    let (mut keys, mut days) = (Vec::with_capacity(CHUNK), Vec::new());
    let mut left = rows;
    let mut word = [0u8; 8];
    while left > 0 {
        let mut mask = [0u8; 1];
        r.read_exact(&mut mask).map_err(cut)?;
        if mask[0] & 0x80 != 0 {
            return Err(spill_error(path, "not a keys file"));
        }
        let mut k: RowKeys = [0; 7];
        for (j, x) in k.iter_mut().enumerate() {
            if mask[0] & (1 << j) != 0 {
                r.read_exact(&mut word).map_err(cut)?;
                *x = u64::from_le_bytes(word);
            }
        }
        keys.push(k);
        if with_days {
            r.read_exact(&mut word[..4]).map_err(cut)?;
            days.push(i32::from_le_bytes([word[0], word[1], word[2], word[3]]));
        }
        left -= 1;
        if keys.len() == CHUNK || left == 0 {
            take.rows(s, &keys, &days);
            keys.clear();
            days.clear();
        }
    }
    let mut more = [0u8; 1];
    if r.read(&mut more).map_err(cut)? != 0 {
        return Err(spill_error(
            path,
            format!("more than the {rows} rows expected"),
        ));
    }
    Ok(())
}

impl KeysTaker for Pass1 {
    fn rows(&mut self, s: SourceKind, keys: &[RowKeys], days: &[i32]) {
        self.file_rows += keys.len() as u64;
        self.rows += keys.len() as u64;
        // Txn ids at 1; receipt numbers (2) and accounts (5) are pairs.
        let deferred = match s {
            SourceKind::Payments => 0b10_0110,
            SourceKind::Receipts => 0b10,
            _ => 0,
        };
        let known = self.comps.known(keys, deferred);
        match s {
            SourceKind::Payments => {
                for ((k, known), &day) in keys.iter().zip(&known).zip(days) {
                    if let Some(a) = self.comps.add(k, known, deferred) {
                        self.comps.add_txn(k[1], a, day);
                    }
                }
            }
            SourceKind::Hukou => {
                for (k, known) in keys.iter().zip(&known) {
                    // A person's first hukou row is theirs for every rule (village,
                    // household, status): only its village joins the village's component,
                    // so that a person with rows in two villages (moved, or exported twice)
                    // does not join them.
                    let a = self.comps.node_known(k[0], known[0]);
                    let (word, bit) = (a as usize / 64, 1u64 << (a % 64));
                    if self.hukou_seen.len() <= word {
                        self.hukou_seen.resize(word + 1, 0);
                    }
                    let first = self.hukou_seen[word] & bit == 0;
                    self.hukou_seen[word] |= bit;
                    let mut k = *k;
                    if !first {
                        k[1] = 0;
                    }
                    self.comps.add(&k, known, deferred);
                }
            }
            _ => {
                for (k, known) in keys.iter().zip(&known) {
                    self.comps.add(k, known, deferred);
                }
            }
        }
    }

    fn file(&mut self, i: usize, keys: FileKeys) -> Result<(), EngineError> {
        let rows = std::mem::take(&mut self.file_rows);
        if rows != keys.rows || keys.named.iter().any(|(r, _)| *r >= rows) {
            return Err(EngineError::Config(format!(
                "internal error: piece {i} gave {rows} rows of keys, {} expected",
                keys.rows
            )));
        }
        for r in &keys.probe_payments {
            self.names.insert(r.name.clone());
        }
        for r in &keys.probe_receipts {
            self.names.insert(r.name.clone());
        }
        for r in &keys.probe_deaths {
            self.names.insert(r.name.clone());
        }
        self.probe_payments.extend(keys.probe_payments);
        self.probe_receipts.extend(keys.probe_receipts);
        self.probe_deaths.extend(keys.probe_deaths);
        self.latest = self.latest.max(keys.latest);
        if !keys.named.is_empty() {
            let named: Vec<HukouRow> = keys.named.into_iter().map(|(_, row)| row).collect();
            let c = &mut self.candidates;
            c.hukou.push_rows(&named, &mut c.strings);
        }
        Ok(())
    }
}

impl Pass1 {
    /// Identity linkage over the whole input: the rows to link against the first hukou
    /// row of every person of their names, exactly as a run in memory links them. Each
    /// linked payments or receipts row joins its person's component; the decisions are
    /// returned by file path and line, for the buckets to take.
    fn link_globally(&mut self, files: &[String]) -> Vec<(LinkedRow, String, (u8, Text))> {
        if self.probe_payments.is_empty()
            && self.probe_receipts.is_empty()
            && self.probe_deaths.is_empty()
        {
            return Vec::new();
        }
        // The candidates were interned first, then the rows to link: the symbols of a
        // dataset made of them all at the end, as before.
        let mut mini = std::mem::take(&mut self.candidates);
        mini.payments
            .push_rows(&std::mem::take(&mut self.probe_payments), &mut mini.strings);
        mini.receipts
            .push_rows(&std::mem::take(&mut self.probe_receipts), &mut mini.strings);
        mini.linkable_deaths = std::mem::take(&mut self.probe_deaths);
        let mut first: Vec<u32> = vec![u32::MAX; mini.strings.ids.len()];
        for (i, s) in mini.hukou.id.iter().enumerate().rev() {
            first[s.index()] = i as u32;
        }
        let links = Links::compute(&mini, |s| {
            first.get(s.index()).copied().filter(|&i| i != u32::MAX)
        });
        let person = |l: &qianbiao_rules::link::Link| {
            Text::from(mini.hukou().get(l.hukou as usize).id().as_str())
        };
        let mut out = Vec::new();
        for (i, l) in &links.payments {
            let p = mini.payments().get(*i as usize);
            let id = person(l);
            let anchor = anchor_key(&p.id(), p.id_lost(), p.txn_id());
            self.comps.join(anchor, person_key(&id));
            let prov = p.prov();
            out.push((
                LinkedRow::Payment(prov),
                files[prov.file as usize].clone(),
                (l.basis.code(), id),
            ));
        }
        for (i, l) in &links.receipts {
            let r = mini.receipts().get(*i as usize);
            let id = person(l);
            let anchor = anchor_key(&r.id(), r.id_lost(), r.receipt_no());
            self.comps.join(anchor, person_key(&id));
            let prov = r.prov();
            out.push((
                LinkedRow::Receipt(prov),
                files[prov.file as usize].clone(),
                (l.basis.code(), id),
            ));
        }
        for (i, l) in &links.deaths {
            let prov = mini.linkable_deaths[*i as usize].prov;
            out.push((
                LinkedRow::Death(prov),
                files[prov.file as usize].clone(),
                (l.basis.code(), person(l)),
            ));
        }
        out
    }
}

/// The order of pass 1: every source whose rows may carry a name for identity linkage
/// before hukou, which joins those names.
const KEY_ORDER: [SourceKind; 8] = [
    SourceKind::Payments,
    SourceKind::Receipts,
    SourceKind::Deposits,
    SourceKind::Deaths,
    SourceKind::Eligibility,
    SourceKind::Registrations,
    SourceKind::Roster,
    SourceKind::Hukou,
];

/// Rows waiting for their bucket files, per bucket.
type Waiting<R> = Vec<Vec<R>>;

/// Pass 2 on one input file: writes every accepted row to its bucket's file of its source.
struct Split<'b> {
    buckets: &'b BucketMap,
    /// Where the parts go: the spill folder's Parquet files, or a distributed engine's
    /// shuffle.
    sink: &'b mut dyn PartSink,
    /// Rows per frame: fewer with more buckets, so that what waits stays small.
    frame_rows: usize,
    hukou: Waiting<HukouRow>,
    deaths: Waiting<qianbiao_ingest::DeathRow>,
    eligibility: Waiting<qianbiao_ingest::EligibilityRow>,
    registrations: Waiting<qianbiao_ingest::RegistrationRow>,
    payments: Waiting<PaymentRow>,
    receipts: Waiting<ReceiptRow>,
    deposits: Waiting<qianbiao_ingest::DepositRow>,
    roster: Waiting<qianbiao_ingest::RosterRow>,
    error: Option<String>,
    bytes_written: u64,
    /// Parts written so far, per bucket and source.
    parts: Vec<[u32; SourceKind::ALL.len()]>,
}

/// One part of a bucket's rows of a source from one input file: the rows of input file
/// `file` for bucket `bucket`, the `n`-th such part (a bucket's rows of a file, in read
/// order, are its parts 0, 1, ... one after the other).
pub struct Part {
    /// The bucket.
    pub bucket: usize,
    /// The part's number among the file's parts of this bucket and source.
    pub n: u32,
    /// The rows, as [`ArrowRows::to_frame`] writes them.
    pub frame: DataFrame,
}

/// Where the split of one input file puts its rows.
pub trait PartSink: Send {
    /// Takes the parts of source `s` of the file being split, and returns the bytes they
    /// took (or 0, when they are counted by [`PartSink::flush`]); an error stops the
    /// split.
    fn parts(&mut self, s: SourceKind, parts: Vec<Part>) -> Result<u64, String>;

    /// Waits until every part taken is where it goes, and returns the bytes of the parts
    /// [`PartSink::parts`] did not count; the first error of any part, if one failed.
    fn flush(&mut self) -> Result<u64, String> {
        Ok(0)
    }
}

/// Parts a [`FolderSink`] may have taken and not yet written: each waits as a frame
/// (a few MB at most), and the reading waits for the writing beyond that.
const PARTS_IN_FLIGHT: usize = 8;

/// The run on one machine's sink: each part a Parquet file of the spill folder,
/// `b00003/payments/part-000012-000000.parquet`, encoded and written as a task of the
/// thread pool, so that the split's reading does not wait for its parts: the pool's
/// threads encode them whenever the reading pipeline leaves one idle.
struct FolderSink {
    dir: PathBuf,
    /// The piece's number (a file's, or a piece of a file's): its parts are named by it,
    /// and the pieces are in file order.
    file: usize,
    /// The parts taken and not yet written, the bytes written, the first error.
    writing: std::sync::Arc<Writing>,
}

#[derive(Default)]
struct Writing {
    state: std::sync::Mutex<WritingState>,
    changed: std::sync::Condvar,
}

#[derive(Default)]
struct WritingState {
    in_flight: usize,
    bytes: u64,
    error: Option<String>,
}

impl FolderSink {
    fn new(dir: PathBuf, file: usize) -> FolderSink {
        FolderSink {
            dir,
            file,
            writing: Default::default(),
        }
    }

    /// Waits until no more than `max` parts are in flight, running the pool's tasks on
    /// this thread meanwhile when it is one of the pool's.
    fn wait_for(&self, max: usize) {
        loop {
            if self.state().in_flight <= max {
                return;
            }
            // Work (a part's encoding, say) done here instead of waiting for it.
            if matches!(rayon::yield_now(), Some(rayon::Yield::Executed)) {
                continue;
            }
            let state = self.state();
            if state.in_flight > max {
                let _ = self
                    .writing
                    .changed
                    .wait_timeout(state, std::time::Duration::from_millis(2));
            }
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, WritingState> {
        // A task that panicked holding the lock left counts that are still right.
        self.writing.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl PartSink for FolderSink {
    fn parts(&mut self, s: SourceKind, parts: Vec<Part>) -> Result<u64, String> {
        if let Some(e) = self.state().error.clone() {
            return Err(e);
        }
        for mut p in parts {
            let folder = bucket_folder(&self.dir, p.bucket, s);
            let path = folder.join(format!("part-{:06}-{:06}.parquet", self.file, p.n));
            // The folder before any of its parts' tasks.
            if p.n == 0 {
                std::fs::create_dir_all(&folder)
                    .map_err(|e| format!("{}: {e}", folder.display()))?;
            }
            self.wait_for(PARTS_IN_FLIGHT - 1);
            self.state().in_flight += 1;
            let writing = self.writing.clone();
            rayon::spawn(move || {
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let bytes = part_bytes(&mut p.frame).map_err(std::io::Error::other)?;
                    std::fs::write(&path, &bytes).map(|()| bytes.len() as u64)
                }));
                let result = match result {
                    Ok(r) => r.map_err(|e| format!("{}: {e}", path.display())),
                    Err(_) => Err(format!("{}: the part's encoding failed", path.display())),
                };
                let mut state = writing.state.lock().unwrap_or_else(|e| e.into_inner());
                state.in_flight -= 1;
                match result {
                    Ok(n) => state.bytes += n,
                    Err(e) => {
                        state.error.get_or_insert(e);
                    }
                }
                drop(state);
                writing.changed.notify_all();
            });
        }
        Ok(0)
    }

    fn flush(&mut self) -> Result<u64, String> {
        self.wait_for(0);
        let mut state = self.state();
        if let Some(e) = state.error.clone() {
            return Err(e);
        }
        Ok(std::mem::take(&mut state.bytes))
    }
}

impl Drop for FolderSink {
    /// No task of a split that stopped early writes into the spill folder after it: the
    /// folder is removed when the run ends.
    fn drop(&mut self) {
        self.wait_for(0);
    }
}

/// The columns of a source's parts, as an empty frame (their schema).
pub fn part_columns(s: SourceKind) -> polars::prelude::PolarsResult<DataFrame> {
    match s {
        SourceKind::Hukou => HukouRow::to_frame(&[]),
        SourceKind::Deaths => qianbiao_ingest::DeathRow::to_frame(&[]),
        SourceKind::Eligibility => qianbiao_ingest::EligibilityRow::to_frame(&[]),
        SourceKind::Registrations => qianbiao_ingest::RegistrationRow::to_frame(&[]),
        SourceKind::Payments => PaymentRow::to_frame(&[]),
        SourceKind::Receipts => ReceiptRow::to_frame(&[]),
        SourceKind::Deposits => qianbiao_ingest::DepositRow::to_frame(&[]),
        SourceKind::Roster => qianbiao_ingest::RosterRow::to_frame(&[]),
    }
}

/// Reads a piece of input file `i` of a run's file table (the whole file, or some of its
/// row groups), streaming its accepted rows into `sink`, its rows' provenance numbered
/// `i`; reports progress as `pass` (`[keys]`, `[split]`). Returns what the piece gave
/// besides its rows: its report, rejected rows, control totals and linkable deaths.
fn read_input(
    files: &[InputFile],
    Piece { file: i, groups }: Piece,
    year: i32,
    (pass, columns): (&str, Option<ColumnFilter>),
    progress: Option<Progress<'_>>,
    sink: &mut (dyn FnMut(Chunk<'_>) + Send),
) -> Result<Dataset, EngineError> {
    let f = files.get(i).ok_or_else(|| {
        EngineError::Config(format!(
            "file {i} asked of a run of {} input files",
            files.len()
        ))
    })?;
    let file_idx = u32::try_from(i)
        .map_err(|_| EngineError::Config(format!("{}: too many input files", f.rel)))?;
    let shown = |file: &str, rows: u64| {
        if let Some(p) = progress {
            match groups {
                Some((a, b)) => p(&format!("{pass} {file} [row groups {a}-{}]", b - 1), rows),
                None => p(&format!("{pass} {file}"), rows),
            }
        }
    };
    let opts = LoadOptions {
        year,
        progress: Some(&shown),
        columns,
    };
    let file = (f.path.clone(), f.rel.clone());
    Ok(qianbiao_ingest::load_file_chunks(
        f.source, &file, file_idx, groups, &opts, sink,
    )?)
}

/// One task of the keys pass and of the split: an input file whole, or row groups `a..b`
/// of a large Parquet file ([`pieces_of`]). A run's pieces are in file order, and a file's
/// in row order: the split's parts, named by their piece, sort in the order a run in
/// memory reads the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Piece {
    /// The file's number in the run's file table.
    pub file: usize,
    /// Its row groups `a..b`; None: the whole file.
    pub groups: Option<(usize, usize)>,
}

/// Piece `p` of a job's pieces.
fn piece_of(pieces: &[Piece], p: usize) -> Result<Piece, EngineError> {
    pieces.get(p).copied().ok_or_else(|| {
        EngineError::Config(format!(
            "piece {p} asked of a run of {} pieces",
            pieces.len()
        ))
    })
}

/// The pieces a run reads its files in: each file whole, but a Parquet file of more than
/// `task_rows` rows (a province's 缴费明细 as one file), which is cut into runs of whole row
/// groups of at least `task_rows` rows (the last may hold fewer), so that a cluster's
/// executors read and split it in parallel. Only the files' footers are read; a file whose
/// footer cannot be read is one piece (its reading then says why).
pub fn pieces_of(files: &[InputFile], task_rows: Option<u64>) -> Vec<Piece> {
    let mut out = Vec::with_capacity(files.len());
    for (file, f) in files.iter().enumerate() {
        let parquet = f.rel.to_ascii_lowercase().ends_with(".parquet");
        let groups = task_rows.filter(|_| parquet).and_then(|n| {
            let groups = qianbiao_ingest::read::parquet_row_groups(&f.path).ok()?;
            (groups.len() > 1 && groups.iter().sum::<u64>() > n).then_some((n.max(1), groups))
        });
        let Some((n, groups)) = groups else {
            out.push(Piece { file, groups: None });
            continue;
        };
        let (mut start, mut rows) = (0, 0);
        for (g, r) in groups.iter().enumerate() {
            rows += r;
            if rows >= n {
                out.push(Piece {
                    file,
                    groups: Some((start, g + 1)),
                });
                (start, rows) = (g + 1, 0);
            }
        }
        if start < groups.len() {
            out.push(Piece {
                file,
                groups: Some((start, groups.len())),
            });
        }
    }
    out
}

/// The split results of a job's pieces (in piece order) as one per file, in file order:
/// a file read in pieces has the sum of its pieces' counts and lines, their rejected rows,
/// control totals and linkable deaths in row order, and the hash its first piece took.
pub fn merge_pieces(
    pieces: &[Piece],
    files: usize,
    splits: Vec<FileSplit>,
) -> Result<Vec<FileSplit>, EngineError> {
    let wrong = |what: String| EngineError::Config(format!("internal error: {what}"));
    if splits.len() != pieces.len() {
        return Err(wrong(format!(
            "{} split results for {} pieces",
            splits.len(),
            pieces.len()
        )));
    }
    let mut out: Vec<FileSplit> = Vec::with_capacity(files);
    for (piece, s) in pieces.iter().zip(splits) {
        if piece.file == out.len() {
            out.push(s);
        } else if piece.file + 1 == out.len() {
            if let Some(m) = out.last_mut() {
                m.add(s);
            }
        } else {
            return Err(wrong(format!(
                "piece of file {} out of file order",
                piece.file
            )));
        }
    }
    if out.len() != files {
        return Err(wrong(format!(
            "split results of {} of {files} files",
            out.len()
        )));
    }
    Ok(out)
}

/// Pass 2's work: the run's input files, each split on its own.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SplitJob {
    /// The spill folder the parts go to.
    pub spill: PathBuf,
    /// The input files in the order of the run's file table.
    pub files: Vec<InputFile>,
    /// The tasks the files are split in ([`pieces_of`]), in file order.
    pub pieces: Vec<Piece>,
    /// The policy year (receipts' dates read with it).
    pub year: i32,
    /// The number of buckets.
    pub buckets: usize,
}

/// One input file of a run, as the keys pass and the split read it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct InputFile {
    /// Its source.
    pub source: SourceKind,
    /// Where it is read from (a path every worker can read).
    pub path: PathBuf,
    /// Its path relative to the data folder (reports, rejected rows).
    pub rel: String,
}

/// What the split of one input file gave besides its parts: what a run in memory keeps
/// of the file.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct FileSplit {
    report: qianbiao_ingest::FileReport,
    rejected: Vec<qianbiao_ingest::Rejected>,
    control_totals: Vec<qianbiao_ingest::ControlTotal>,
    linkable_deaths: Vec<LinkableDeath>,
    bytes: u64,
}

impl FileSplit {
    /// The file's rejected rows, taken out: a cluster keeps them apart from the rest,
    /// which every bucket's checks read ([`ChecksPlan::job`] needs none of them).
    pub fn take_rejected(&mut self) -> Vec<qianbiao_ingest::Rejected> {
        std::mem::take(&mut self.rejected)
    }

    /// Puts back the rejected rows [`FileSplit::take_rejected`] took out.
    pub fn put_rejected(&mut self, rows: Vec<qianbiao_ingest::Rejected>) {
        self.rejected = rows;
    }

    /// Adds the result of the next piece of the same file.
    fn add(&mut self, next: FileSplit) {
        let (r, n) = (&mut self.report, next.report);
        if r.sha256.is_empty() {
            r.sha256 = n.sha256;
        }
        r.rows_read += n.rows_read;
        r.rows_accepted += n.rows_accepted;
        r.rows_rejected += n.rows_rejected;
        r.duplicate_rows += n.duplicate_rows;
        r.blank_rows += n.blank_rows;
        r.preamble_rows += n.preamble_rows;
        r.total_rows += n.total_rows;
        r.millis += n.millis;
        let (l, m) = (&mut r.lines, n.lines);
        l.total += m.total;
        l.header += m.header;
        l.preamble += m.preamble;
        l.blank += m.blank;
        l.totals += m.totals;
        l.rows += m.rows;
        self.rejected.extend(next.rejected);
        self.control_totals.extend(next.control_totals);
        self.linkable_deaths.extend(next.linkable_deaths);
        self.bytes += next.bytes;
    }
}

/// Splits piece `i` of a job (a file, or some of its row groups) into its buckets' parts,
/// `b00003/payments/part-000012-000000.parquet` (piece 12's first part of bucket 3): the
/// parts of a bucket sort in the order a run in memory reads the rows, whichever worker
/// wrote them and when.
pub fn split_file(
    job: &SplitJob,
    map: &BucketMap,
    i: usize,
    progress: Option<Progress<'_>>,
) -> Result<FileSplit, EngineError> {
    let mut sink = FolderSink::new(job.spill.clone(), i);
    split_file_with(job, map, i, progress, &mut sink)
}

/// Splits piece `i` of a job into its buckets' parts, handed to `sink` (a distributed
/// engine's shuffle, say) source by source as they fill. Its result is the piece's:
/// [`merge_pieces`] makes the files' of them.
pub fn split_file_with(
    job: &SplitJob,
    map: &BucketMap,
    i: usize,
    progress: Option<Progress<'_>>,
    sink: &mut dyn PartSink,
) -> Result<FileSplit, EngineError> {
    let mut split = Split::new(map, job.buckets, sink);
    let mut ds = read_input(
        &job.files,
        piece_of(&job.pieces, i)?,
        job.year,
        ("[split]", None),
        progress,
        &mut |c| split.take(c),
    )?;
    split.finish();
    split.flush();
    if let Some(e) = split.error.take() {
        return Err(EngineError::Config(e));
    }
    let report = ds.reports.pop().ok_or_else(|| {
        EngineError::Config(format!("internal error: piece {i} read without a report"))
    })?;
    Ok(FileSplit {
        report,
        rejected: ds.rejected,
        control_totals: ds.control_totals,
        linkable_deaths: ds.linkable_deaths,
        bytes: split.bytes_written,
    })
}

/// Appends a chunk's rows to their buckets' waiting rows, and returns the frames of the
/// buckets that are full (every row at `finish`), made in parallel.
fn route<R: ArrowRows + Clone + Send + Sync>(
    waiting: &mut Waiting<R>,
    rows: &[R],
    of: &[u16],
    frame_rows: usize,
    finish: bool,
) -> Vec<(usize, Result<DataFrame, String>)> {
    for (r, &b) in rows.iter().zip(of) {
        waiting[b as usize].push(r.clone());
    }
    let full: Vec<(usize, Vec<R>)> = waiting
        .iter_mut()
        .enumerate()
        .filter(|(_, w)| {
            if finish {
                !w.is_empty()
            } else {
                w.len() >= frame_rows
            }
        })
        .map(|(b, w)| (b, std::mem::take(w)))
        .collect();
    full.into_par_iter()
        .map(|(b, rows)| (b, R::to_frame(&rows).map_err(|e| e.to_string())))
        .collect()
}

/// A frame as the bytes of one Parquet file: one row group, zstd at level 1 (a bucket's
/// rows are written once and read once: the default level 3 took a seventh of the split's
/// time for 2.4% fewer bytes), no statistics (nothing prunes on them).
fn part_bytes(df: &mut DataFrame) -> polars::prelude::PolarsResult<Vec<u8>> {
    let mut bytes = Vec::with_capacity(df.height() * 24);
    ParquetWriter::new(&mut bytes)
        .with_compression(ParquetCompression::Zstd(
            polars_parquet::write::ZstdLevel::try_new(1).ok(),
        ))
        .with_statistics(StatisticsOptions::empty())
        .with_row_group_size(Some(df.height().max(1)))
        .set_parallel(false)
        .finish(df)?;
    Ok(bytes)
}

/// The folder of one bucket's rows of a source: `b00003/payments/`, Parquet files
/// `part-000012-000000.parquet` (input file 12's first), ... in read order when sorted
/// by name (a table a query engine can read as it is).
pub fn bucket_folder(dir: &Path, b: usize, s: SourceKind) -> PathBuf {
    bucket_dir(dir, b).join(s.name())
}

/// The Parquet parts of one bucket's rows of a source, in read order; none when the
/// bucket has no row of it.
pub fn bucket_parts(dir: &Path, b: usize, s: SourceKind) -> Result<Vec<PathBuf>, EngineError> {
    let folder = bucket_folder(dir, b, s);
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&folder) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(|e| spill_error(&folder, e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(spill_error(&folder, e)),
    };
    files.sort_unstable();
    Ok(files)
}

/// The folder of one bucket: a folder per source.
fn bucket_dir(dir: &Path, b: usize) -> PathBuf {
    dir.join(format!("b{b:05}"))
}

impl Split<'_> {
    fn new<'b>(buckets: &'b BucketMap, k: usize, sink: &'b mut dyn PartSink) -> Split<'b> {
        fn w<R>(k: usize) -> Waiting<R> {
            (0..k).map(|_| Vec::new()).collect()
        }
        Split {
            buckets,
            sink,
            frame_rows: (160_000 / k).clamp(2048, 32_768),
            hukou: w(k),
            deaths: w(k),
            eligibility: w(k),
            registrations: w(k),
            payments: w(k),
            receipts: w(k),
            deposits: w(k),
            roster: w(k),
            error: None,
            bytes_written: 0,
            parts: vec![[0; SourceKind::ALL.len()]; k],
        }
    }

    fn take(&mut self, chunk: Chunk) {
        // Linkable deaths are routed from the dataset after the pass (they stay in
        // memory).
        if self.error.is_some() || matches!(chunk, Chunk::LinkableDeaths(_)) {
            return;
        }
        let keys = chunk_keys(&chunk);
        let of: Vec<u16> = keys
            .par_iter()
            .map(|k| self.buckets.of(k[0]).unwrap_or(u16::MAX))
            .collect();
        if of.contains(&u16::MAX) {
            self.error =
                Some("an input changed while the run read it (a row not seen in pass 1)".into());
            return;
        }
        let n = self.frame_rows;
        let (s, frames) = match chunk {
            Chunk::Hukou(r) => (SourceKind::Hukou, route(&mut self.hukou, r, &of, n, false)),
            Chunk::Deaths(r) => (
                SourceKind::Deaths,
                route(&mut self.deaths, r, &of, n, false),
            ),
            Chunk::Eligibility(r) => (
                SourceKind::Eligibility,
                route(&mut self.eligibility, r, &of, n, false),
            ),
            Chunk::Registrations(r) => (
                SourceKind::Registrations,
                route(&mut self.registrations, r, &of, n, false),
            ),
            Chunk::Payments(r) => (
                SourceKind::Payments,
                route(&mut self.payments, r, &of, n, false),
            ),
            Chunk::Receipts(r) => (
                SourceKind::Receipts,
                route(&mut self.receipts, r, &of, n, false),
            ),
            Chunk::Deposits(r) => (
                SourceKind::Deposits,
                route(&mut self.deposits, r, &of, n, false),
            ),
            Chunk::Roster(r) => (
                SourceKind::Roster,
                route(&mut self.roster, r, &of, n, false),
            ),
            Chunk::LinkableDeaths(_) => return,
        };
        self.write(s, frames);
    }

    /// Hands full buckets' frames to the sink.
    fn write(&mut self, s: SourceKind, frames: Vec<(usize, Result<DataFrame, String>)>) {
        if frames.is_empty() || self.error.is_some() {
            return;
        }
        let si = SourceKind::ALL
            .iter()
            .position(|x| *x == s)
            .expect("a source of the list");
        let mut parts = Vec::with_capacity(frames.len());
        for (b, frame) in frames {
            let n = self.parts[b][si];
            self.parts[b][si] += 1;
            match frame {
                Ok(frame) => parts.push(Part {
                    bucket: b,
                    n,
                    frame,
                }),
                Err(e) => {
                    self.error = Some(format!("{} rows of bucket {b}: {e}", s.name()));
                    return;
                }
            }
        }
        match self.sink.parts(s, parts) {
            Ok(bytes) => self.bytes_written += bytes,
            Err(e) => self.error = Some(e),
        }
    }

    /// Waits until every part handed to the sink is where it goes.
    fn flush(&mut self) {
        match self.sink.flush() {
            Ok(bytes) => self.bytes_written += bytes,
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
    }

    /// Writes every waiting row.
    fn finish(&mut self) {
        let n = self.frame_rows;
        let all = [
            (SourceKind::Hukou, route(&mut self.hukou, &[], &[], n, true)),
            (
                SourceKind::Deaths,
                route(&mut self.deaths, &[], &[], n, true),
            ),
            (
                SourceKind::Eligibility,
                route(&mut self.eligibility, &[], &[], n, true),
            ),
            (
                SourceKind::Registrations,
                route(&mut self.registrations, &[], &[], n, true),
            ),
            (
                SourceKind::Payments,
                route(&mut self.payments, &[], &[], n, true),
            ),
            (
                SourceKind::Receipts,
                route(&mut self.receipts, &[], &[], n, true),
            ),
            (
                SourceKind::Deposits,
                route(&mut self.deposits, &[], &[], n, true),
            ),
            (
                SourceKind::Roster,
                route(&mut self.roster, &[], &[], n, true),
            ),
        ];
        for (s, frames) in all {
            self.write(s, frames);
        }
    }
}

/// The spill folder: removed when dropped, whatever the run's end, and by the signal
/// handler ([`crate::remove_temp_dirs`]). Stale ones of dead runs go in [`compute`].
type SpillDir = crate::TempDir;

fn spill_error(dir: &Path, e: impl std::fmt::Display) -> EngineError {
    EngineError::Config(format!("spill folder {}: {e}", dir.display()))
}

/// One partition's rows as Arrow record batches (polars frames of the tables' columns,
/// [`qianbiao_ingest::arrow`]), source by source, in read order.
pub trait PartitionInput: Send {
    /// The next batch of source `s`; None when the source has no more.
    fn next_batch(&mut self, s: SourceKind) -> Result<Option<DataFrame>, EngineError>;
}

/// A bucket of the spill folder: its Parquet files, read one at a time and removed once read.
struct SpilledBucket {
    dir: PathBuf,
    b: usize,
    /// The files of the source being read, last first.
    files: Vec<PathBuf>,
    source: Option<SourceKind>,
}

impl PartitionInput for SpilledBucket {
    fn next_batch(&mut self, s: SourceKind) -> Result<Option<DataFrame>, EngineError> {
        if self.source != Some(s) {
            self.files = bucket_parts(&self.dir, self.b, s)?;
            // Taken from the end: the first part last.
            self.files.reverse();
            self.source = Some(s);
        }
        let Some(path) = self.files.pop() else {
            return Ok(None);
        };
        let file = std::fs::File::open(&path).map_err(|e| spill_error(&path, e))?;
        let df = ParquetReader::new(file)
            .set_rechunk(false)
            .finish()
            .map_err(|e| spill_error(&path, e))?;
        let _ = std::fs::remove_file(&path);
        Ok(Some(df))
    }
}

/// Reads a source's batches into its table, the next batch read while one is stored.
fn fill<T: Table + ArrowTable>(
    input: &mut impl PartitionInput,
    s: SourceKind,
    table: &mut T,
    strings: &mut qianbiao_ingest::Strings,
) -> Result<(), EngineError> {
    let mut current = input.next_batch(s)?;
    while let Some(df) = current.take() {
        let (following, stored) =
            rayon::join(|| input.next_batch(s), || table.push_frame(&df, strings));
        stored.map_err(|e| {
            EngineError::Config(format!("a partition's {} rows do not read: {e}", s.name()))
        })?;
        current = following?;
    }
    Ok(())
}

/// What one bucket gave.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct BucketResult {
    findings: Vec<Finding>,
    status: Vec<RuleStatus>,
    collectors: Vec<CollectorRow>,
    coverage: Vec<CoverageRow>,
    persons: usize,
    ledger: Ledger,
    duplicates: Vec<u64>,
    latest: Option<NaiveDate>,
    millis: [u64; 3],
}

/// What the files of a run were, as every bucket needs it: the file table rows point
/// into, the per-file reports, the sources present and the control totals (DQ-004).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct JobMeta {
    files: Vec<String>,
    reports: Vec<qianbiao_ingest::FileReport>,
    present: Vec<SourceKind>,
    control_totals: Vec<qianbiao_ingest::ControlTotal>,
}

impl JobMeta {
    fn of(ds: &Dataset) -> JobMeta {
        JobMeta {
            files: ds.files.clone(),
            reports: ds.reports.clone(),
            present: ds.present.clone(),
            control_totals: ds.control_totals.clone(),
        }
    }
}

/// Everything the bucket stage needs besides a bucket's rows, the same for every bucket:
/// what a distributed run sends to its workers with the spill folder's path.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BucketJob {
    /// The spill folder (`b00003/payments/part-000000.parquet`, ...).
    pub spill: PathBuf,
    /// Rows per bucket (the number of buckets is its length).
    pub loads: Vec<u64>,
    /// The policy of the run.
    pub policy: qianbiao_core::Policy,
    /// The run's as_of.
    pub as_of: NaiveDate,
    meta: JobMeta,
    /// Per bucket, the linkable `deaths` rows it checks.
    linkable: Vec<Vec<LinkableDeath>>,
    /// Identity linkage decided over the whole input (pairs: a map's keys are not text).
    #[serde(with = "decided_pairs")]
    decided: std::sync::Arc<DecidedLinks>,
}

mod decided_pairs {
    use qianbiao_ingest::{DecidedLinks, LinkedRow, Text};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::sync::Arc;

    pub fn serialize<S: Serializer>(d: &Arc<DecidedLinks>, s: S) -> Result<S::Ok, S::Error> {
        // Sorted, so that the same run sends the same bytes.
        let mut pairs: Vec<(&LinkedRow, &(u8, Text))> = d.iter().collect();
        pairs.sort_by_key(|(row, _)| match row {
            LinkedRow::Payment(p) => (0, *p),
            LinkedRow::Receipt(p) => (1, *p),
            LinkedRow::Death(p) => (2, *p),
        });
        pairs.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<DecidedLinks>, D::Error> {
        let pairs = Vec::<(LinkedRow, (u8, Text))>::deserialize(d)?;
        Ok(Arc::new(pairs.into_iter().collect()))
    }
}

/// What the checks of every bucket need that is known before the split: with the split's
/// results of every file it makes the [`BucketJob`] ([`ChecksPlan::job`]), on the driver
/// or on a worker.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ChecksPlan {
    /// The spill folder.
    pub spill: PathBuf,
    /// Rows per bucket (the number of buckets is its length).
    pub loads: Vec<u64>,
    /// The policy of the run.
    pub policy: qianbiao_core::Policy,
    /// The run's as_of.
    pub as_of: NaiveDate,
    /// What the files were before the split (the sources present).
    meta: JobMeta,
    /// Identity linkage decided over the whole input, by the rows' places in the split's
    /// file table.
    #[serde(with = "decided_pairs")]
    decided: std::sync::Arc<DecidedLinks>,
    /// The bucket of each linked deaths row: its person's.
    death_buckets: Vec<(qianbiao_ingest::Prov, u16)>,
}

impl ChecksPlan {
    /// The number of buckets.
    pub fn buckets(&self) -> usize {
        self.loads.len()
    }

    /// The job of the bucket stage, from the split results of the run's files in file
    /// order (`rels`: their paths in the data folder).
    pub fn job<'a>(
        &self,
        rels: impl IntoIterator<Item = &'a str>,
        splits: impl IntoIterator<Item = &'a FileSplit>,
    ) -> BucketJob {
        let k = self.buckets();
        let mut meta = self.meta.clone();
        let mut linkable: Vec<Vec<LinkableDeath>> = vec![Vec::new(); k];
        for (rel, s) in rels.into_iter().zip(splits) {
            meta.files.push(rel.to_string());
            meta.reports.push(s.report.clone());
            meta.control_totals.extend(s.control_totals.iter().cloned());
            // A linked deaths row goes to its person's bucket (from the bucket map, so
            // below K); the others to bucket 0.
            for d in &s.linkable_deaths {
                let b = self
                    .death_buckets
                    .binary_search_by_key(&d.prov, |(p, _)| *p)
                    .map(|i| self.death_buckets[i].1)
                    .unwrap_or(0);
                linkable[usize::from(b)].push(d.clone());
            }
        }
        BucketJob {
            spill: self.spill.clone(),
            loads: self.loads.clone(),
            policy: self.policy.clone(),
            as_of: self.as_of,
            meta,
            linkable,
            decided: self.decided.clone(),
        }
    }
}

impl BucketJob {
    /// The number of buckets.
    pub fn buckets(&self) -> usize {
        self.loads.len()
    }
}

/// Runs the split of every input file and the bucket stage of every bucket of a run: on
/// this machine one at a time, or on the workers of a distributed engine
/// (`qianbiao-distributed`).
pub trait BucketRunner: Sync {
    /// The rows of a task of the keys pass and the split: a Parquet file of more rows is
    /// read in pieces of whole row groups ([`pieces_of`]); None: a task per file.
    fn task_rows(&self) -> Option<u64> {
        None
    }

    /// Whether a run given this runner is partitioned even when one partition would do
    /// (a cluster's runner); the run on this machine is then a run in memory.
    fn always_partitioned(&self) -> bool {
        true
    }

    /// Reads the pieces `job.todo` with [`keys_of_piece`] and hands their keys to `take`,
    /// piece after piece in that order; an error when any piece failed.
    fn keys(
        &self,
        job: &KeysJob,
        take: &mut dyn KeysTaker,
        progress: Option<Progress<'_>>,
    ) -> Result<(), EngineError>;

    /// The split of every piece of `job` ([`split_file`] or [`split_file_with`]), then the
    /// bucket stage of every bucket ([`check_bucket_with`] on the job `plan` makes of the
    /// splits, [`ChecksPlan::job`]): the files' results ([`merge_pieces`]) in file order, the buckets' in
    /// bucket order, and what the split took (on a cluster, where the two overlap, the
    /// whole); an error when any file or bucket failed.
    fn split_and_check(
        &self,
        job: &SplitJob,
        map: BucketMap,
        plan: &ChecksPlan,
        progress: Option<Progress<'_>>,
    ) -> Result<(Vec<FileSplit>, Vec<BucketResult>, SplitTook), EngineError>;
}

/// What the split took: its milliseconds, and the peak resident memory of the split and
/// of the buckets after it when they ran in this process (the run's own measure,
/// [`crate::memory`]); None on a cluster, whose executors are other processes.
#[derive(Debug, Clone, Copy, Default)]
pub struct SplitTook {
    /// Milliseconds.
    pub ms: u64,
    /// Peak resident bytes of this process during the split.
    pub peak: Option<u64>,
    /// Peak resident bytes of this process from the split's end to the last bucket's:
    /// the largest bucket's.
    pub buckets_peak: Option<u64>,
}

/// The stage of bucket `b` of a job, its rows given by `input` (a distributed engine's
/// record batches, say): the stage a run on one machine runs on each bucket's spilled
/// files. `input` must give each source's rows of the bucket in the order the split
/// wrote them.
pub fn check_bucket_with(
    job: &BucketJob,
    b: usize,
    input: &mut impl PartitionInput,
) -> Result<BucketResult, EngineError> {
    if b >= job.buckets() {
        return Err(EngineError::Config(format!(
            "bucket {b} asked of a job of {} buckets",
            job.buckets()
        )));
    }
    check_partition(job, input, b)
}

/// The stage of one partition: its rows as record batches in, its findings, tables and
/// totals out. It reads nothing but `input` and what it is given (no global state), so a
/// distributed engine can run it on its workers.
fn check_partition(
    job: &BucketJob,
    input: &mut impl PartitionInput,
    b: usize,
) -> Result<BucketResult, EngineError> {
    let t_load = Instant::now();
    let meta = &job.meta;
    let mut ds = Dataset {
        files: meta.files.clone(),
        reports: meta.reports.clone(),
        present: meta.present.clone(),
        linkable_deaths: job.linkable.get(b).cloned().unwrap_or_default(),
        decided_links: Some(job.decided.clone()),
        // DQ-004 is a check of the files, not of any person: it runs in bucket 0.
        control_totals: if b == 0 {
            meta.control_totals.clone()
        } else {
            Vec::new()
        },
        ..Dataset::default()
    };
    let strings = &mut ds.strings;
    fill(input, SourceKind::Hukou, &mut ds.hukou, strings)?;
    fill(input, SourceKind::Deaths, &mut ds.deaths, strings)?;
    fill(input, SourceKind::Eligibility, &mut ds.eligibility, strings)?;
    fill(
        input,
        SourceKind::Registrations,
        &mut ds.registrations,
        strings,
    )?;
    fill(input, SourceKind::Payments, &mut ds.payments, strings)?;
    fill(input, SourceKind::Receipts, &mut ds.receipts, strings)?;
    fill(input, SourceKind::Deposits, &mut ds.deposits, strings)?;
    fill(input, SourceKind::Roster, &mut ds.roster, strings)?;
    dedupe_payments(&mut ds);
    let latest = crate::default_as_of(&ds);
    let load_ms = ms(t_load);

    let c = crate::check(&ds, &job.policy, job.as_of);
    Ok(BucketResult {
        findings: c.findings,
        status: c.status,
        collectors: c.collectors,
        coverage: c.coverage,
        persons: c.persons,
        ledger: Ledger::of(&ds),
        // This bucket's exact copies only: `meta` already has the earlier buckets'.
        duplicates: ds
            .reports
            .iter()
            .zip(&meta.reports)
            .map(|(r, m)| r.duplicate_rows - m.duplicate_rows)
            .collect(),
        latest,
        millis: [load_ms, c.view_ms, c.rules_ms],
    })
}

/// The rows of a task of the keys pass and the split unless `--task-rows` says otherwise:
/// a Parquet file of more rows is read in pieces of whole row groups of about that many
/// rows. On a cluster each piece is a task an executor takes (a province's payments as one
/// file of 140M rows: 35 tasks); on this machine the pieces are read one after the other,
/// and a pass holds a piece of the file's bytes instead of the whole file (a few hundred
/// megabytes instead of 2.8 GB for that file).
pub const DEFAULT_TASK_ROWS: u64 = 4_000_000;

/// The fewest rows of a piece [`local_task_rows`] chooses.
const MIN_LOCAL_TASK_ROWS: u64 = 250_000;

/// The rows of a piece on this machine when `--task-rows` does not say: about one row a
/// KiB of the memory limit, from 250,000 to [`DEFAULT_TASK_ROWS`] (from 3.8 GiB up). A
/// pass decodes a piece beside what it holds for the whole run (the keys table in pass
/// 1): at 10M persons and a limit of 1 GiB, pieces of 4M rows took pass 1 to 1,068 MiB,
/// pieces of 1M to 926 MiB.
pub fn local_task_rows(limit: u64) -> u64 {
    (limit >> 10).clamp(MIN_LOCAL_TASK_ROWS, DEFAULT_TASK_ROWS)
}

/// The run on one machine: the pieces one after the other, then the buckets, each
/// bucket's files removed as read.
#[derive(Debug, Clone, Copy)]
pub struct LocalRunner {
    /// [`BucketRunner::task_rows`] (`--task-rows`): None, a task per file.
    pub task_rows: Option<u64>,
}

impl Default for LocalRunner {
    fn default() -> Self {
        LocalRunner {
            task_rows: Some(DEFAULT_TASK_ROWS),
        }
    }
}

impl BucketRunner for LocalRunner {
    fn task_rows(&self) -> Option<u64> {
        self.task_rows
    }

    fn always_partitioned(&self) -> bool {
        false
    }

    fn keys(
        &self,
        job: &KeysJob,
        take: &mut dyn KeysTaker,
        progress: Option<Progress<'_>>,
    ) -> Result<(), EngineError> {
        for &i in &job.todo {
            let s = job
                .pieces
                .get(i)
                .and_then(|p| job.files.get(p.file))
                .map(|f| f.source)
                .unwrap_or(SourceKind::Hukou);
            let keys = keys_of_piece(job, i, &mut |k, d| take.rows(s, k, d), progress)?;
            take.file(i, keys)?;
        }
        Ok(())
    }

    fn split_and_check(
        &self,
        job: &SplitJob,
        map: BucketMap,
        plan: &ChecksPlan,
        progress: Option<Progress<'_>>,
    ) -> Result<(Vec<FileSplit>, Vec<BucketResult>, SplitTook), EngineError> {
        let t = Instant::now();
        let meter = crate::memory::Meter::start();
        let splits = (0..job.pieces.len())
            .map(|i| split_file(job, &map, i, progress))
            .collect::<Result<Vec<_>, _>>()?;
        let splits = merge_pieces(&job.pieces, job.files.len(), splits)?;
        drop(map);
        let (split_ms, split_peak) = (ms(t), meter.as_ref().map(|m| m.take()));
        let bucket_job = plan.job(job.files.iter().map(|f| f.rel.as_str()), &splits);
        let k = bucket_job.buckets();
        let mut results = Vec::with_capacity(k);
        for b in 0..k {
            if let Some(p) = progress {
                p(&format!("[bucket {}/{k}]", b + 1), bucket_job.loads[b]);
            }
            let mut input = SpilledBucket {
                dir: bucket_job.spill.clone(),
                b,
                files: Vec::new(),
                source: None,
            };
            results.push(check_partition(&bucket_job, &mut input, b)?);
            let _ = std::fs::remove_dir_all(bucket_dir(&bucket_job.spill, b));
        }
        let took = SplitTook {
            ms: split_ms,
            peak: split_peak,
            buckets_peak: meter.map(|m| m.peak()),
        };
        Ok((splits, results, took))
    }
}

/// Why a masked run cannot be partitioned.
fn mask_refused(k: Option<usize>) -> EngineError {
    let chosen = k.map_or(String::new(), |k| {
        format!(" (the memory limit gives {k} partitions)")
    });
    EngineError::Config(format!(
        "--mask needs every id and name of the run at once: run it in one partition \
         (--partitions 1, or a larger --memory-limit){chosen}"
    ))
}

fn compute_partitioned(opts: &RunOptions, fixed: Option<usize>) -> Result<Outcome, EngineError> {
    // A masked run is refused at once when its partitions are given (or it runs on a
    // cluster); when the limit chooses them, once they are counted: the size estimate
    // that sent the run here is rougher than the rows, which may still give one.
    if opts.mask && (fixed.is_some() || opts.runner.is_some()) {
        return Err(mask_refused(fixed.filter(|&k| k > 1)));
    }
    let policy = &opts.pipeline.policy;
    let (mut meta, plan) = qianbiao_ingest::plan(&opts.data)?;
    let files: Vec<InputFile> = plan
        .into_iter()
        .flat_map(|(source, files)| {
            files
                .into_iter()
                .map(move |(path, rel)| InputFile { source, path, rel })
        })
        .collect();
    std::fs::create_dir_all(&opts.out).map_err(|e| spill_error(&opts.out, e))?;
    let dir = opts
        .out
        .join(format!("{SPILL_PREFIX}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| spill_error(&dir, e))?;
    let spill = SpillDir::hold(dir.clone());
    let local = LocalRunner {
        task_rows: Some(local_task_rows(limit_of(opts.partitioning))),
    };
    let runner: &dyn BucketRunner = opts.runner.unwrap_or(&local);
    let progress = opts.progress;

    // Pass 1: the components. Every source whose rows may carry a name for identity
    // linkage before hukou, which is read with those names.
    let t1 = Instant::now();
    let mut peaks = crate::memory::Peaks::start();
    let mut pass1 = Pass1::default();
    pass1.comps.spill_in(&dir);
    let order = |s: SourceKind| KEY_ORDER.iter().position(|x| *x == s);
    let pieces = pieces_of(&files, runner.task_rows());
    let source_of = |p: &Piece| files[p.file].source;
    let mut todo: Vec<usize> = (0..pieces.len())
        .filter(|&i| source_of(&pieces[i]) != SourceKind::Hukou)
        .collect();
    // Stable: a source's files (and a file's pieces) stay in file order.
    todo.sort_by_key(|&i| order(source_of(&pieces[i])));
    let hukou: Vec<usize> = (0..pieces.len())
        .filter(|&i| source_of(&pieces[i]) == SourceKind::Hukou)
        .collect();
    let mut keys_job = KeysJob {
        spill: dir.clone(),
        files,
        pieces,
        year: policy.year,
        todo,
        names: Vec::new(),
    };
    runner.keys(&keys_job, &mut pass1, progress)?;
    keys_job.todo = hukou;
    let mut names: Vec<Text> = pass1.names.iter().cloned().collect();
    names.sort_unstable();
    keys_job.names = names;
    runner.keys(&keys_job, &mut pass1, progress)?;
    peaks.end("keys");
    let k = match fixed {
        Some(k) => k,
        None => {
            let limit = limit_of(opts.partitioning);
            let budget = limit
                .saturating_sub(BASE_BYTES)
                .max(limit / 4)
                .max(64 << 20);
            let need = pass1.rows.saturating_mul(BYTES_PER_ROW);
            (need.div_ceil(budget) as usize).max(1)
        }
    }
    .min(u16::MAX as usize);
    if opts.mask {
        if k > 1 {
            return Err(mask_refused(Some(k)));
        }
        // One partition after all (the rows are counted: the components, linkage and
        // buckets are not needed): the run in memory, which masks; the spill folder goes
        // with `spill`.
        drop((pass1, keys_job));
        drop(spill);
        return crate::compute_in_memory(opts);
    }
    let KeysJob { files, pieces, .. } = keys_job;
    let uf_bytes = pass1.comps.bytes();
    let keys_spill_bytes = pass1.comps.spilled();
    let paid_latest = pass1.comps.resolve()?;
    pass1.latest = pass1.latest.max(paid_latest);
    peaks.end("keys_resolve");
    let rels: Vec<String> = files.iter().map(|f| f.rel.clone()).collect();
    let decisions = pass1.link_globally(&rels);
    drop(rels);
    peaks.end("keys_link");
    let keys_ms = ms(t1);
    let (as_of, as_of_from) = crate::choose_as_of(opts.as_of, || pass1.latest, policy.window_end);
    let keys_latest = pass1.latest;
    let buckets = std::mem::take(&mut pass1.comps).into_buckets(k);
    drop(pass1);

    // The decisions by the rows' places in the split's file table (the files in order).
    let file_index: rustc_hash::FxHashMap<&str, u32> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.rel.as_str(), i as u32))
        .collect();
    let mut decided = DecidedLinks::new();
    for (row, file, d) in decisions {
        let Some(&f) = file_index.get(file.as_str()) else {
            continue;
        };
        let moved = |p: qianbiao_ingest::Prov| qianbiao_ingest::Prov { file: f, ..p };
        let row = match row {
            LinkedRow::Payment(p) => LinkedRow::Payment(moved(p)),
            LinkedRow::Receipt(p) => LinkedRow::Receipt(moved(p)),
            LinkedRow::Death(p) => LinkedRow::Death(moved(p)),
        };
        decided.insert(row, d);
    }
    drop(file_index);
    // A linked deaths row goes to its person's bucket (DTH-005 needs their payments).
    let mut death_buckets: Vec<(qianbiao_ingest::Prov, u16)> = decided
        .iter()
        .filter_map(|(row, (_, id))| match row {
            LinkedRow::Death(p) => buckets.of(person_key(id)).map(|b| (*p, b)),
            _ => None,
        })
        .collect();
    death_buckets.sort_unstable();
    peaks.end("keys_buckets");
    let Buckets {
        map,
        loads,
        components,
        largest,
    } = buckets;
    let components = (components, largest);
    let plan = ChecksPlan {
        spill: dir.clone(),
        loads: loads.clone(),
        policy: policy.clone(),
        as_of,
        meta: JobMeta::of(&meta),
        decided: std::sync::Arc::new(decided),
        death_buckets,
    };

    // Pass 2 and 3: the split into the buckets, then the buckets, here one at a time, or
    // on a cluster's workers.
    let split_job = SplitJob {
        spill: dir.clone(),
        files,
        pieces,
        year: policy.year,
        buckets: k,
    };
    let (splits, results, split) = runner.split_and_check(&split_job, map, &plan, progress)?;
    // The split's and the buckets' peaks when they ran in this process (measured there);
    // the run's own stage starts anew after them.
    for (stage, peak) in [("split", split.peak), ("buckets", split.buckets_peak)] {
        if let Some(p) = peak {
            peaks.record(stage, p);
        }
    }
    peaks.restart();
    if splits.len() != split_job.files.len() {
        return Err(EngineError::Config(format!(
            "internal error: {} split results for {} files",
            splits.len(),
            split_job.files.len()
        )));
    }
    // The file table, reports, rejected rows and control totals of the files in file
    // order: what a run in memory keeps.
    let mut spill_bytes = 0;
    for (f, s) in split_job.files.iter().zip(splits) {
        meta.files.push(f.rel.clone());
        meta.reports.push(s.report);
        meta.rejected.extend(s.rejected);
        meta.control_totals.extend(s.control_totals);
        spill_bytes += s.bytes;
    }
    drop(split_job);
    if results.len() != plan.buckets() {
        return Err(EngineError::Config(format!(
            "internal error: {} bucket results for {} buckets",
            results.len(),
            plan.buckets()
        )));
    }
    // One allocation for every bucket's findings: grown by doubling, the vector would
    // hold up to twice their structs while the buckets' own are still held.
    let mut findings: Vec<Finding> =
        Vec::with_capacity(results.iter().map(|r| r.findings.len()).sum());
    let mut status: Vec<RuleStatus> = Vec::new();
    let mut collectors = Vec::new();
    let mut coverage = Vec::new();
    let mut persons = 0;
    let mut ledger = Ledger::default();
    let mut latest: Option<NaiveDate> = None;
    let mut stage_ms = [0u64; 3];
    for r in results {
        findings.extend(r.findings);
        if status.is_empty() {
            status = r.status;
        } else {
            for (s, o) in status.iter_mut().zip(&r.status) {
                s.add(o);
            }
        }
        collectors.extend(r.collectors);
        coverage.extend(r.coverage);
        persons += r.persons;
        ledger.add(&r.ledger);
        for (rep, d) in meta.reports.iter_mut().zip(r.duplicates) {
            rep.duplicate_rows += d;
        }
        latest = latest.max(r.latest);
        for (t, m) in stage_ms.iter_mut().zip(r.millis) {
            *t += m;
        }
    }
    drop(spill);
    if opts.as_of.is_none() && latest != keys_latest {
        return Err(EngineError::Config(format!(
            "internal error: as_of {as_of} from the keys pass, but the buckets' latest date \
             is {latest:?}"
        )));
    }
    let merged = sort_findings(&mut findings);
    crate::forget_merged(&mut status, &merged);
    collectors.sort_by(|a, b| a.collector_id.cmp(&b.collector_id));
    coverage.sort_by(|a, b| a.village.cmp(&b.village));
    peaks.end("merge");
    Ok(Outcome {
        ds: meta,
        as_of,
        as_of_from,
        findings,
        collectors,
        coverage,
        rule_status: status,
        persons,
        ledger,
        partitions: loads,
        components: Some(Stats {
            components: components.0,
            largest: components.1,
            keys_bytes: uf_bytes,
            keys_spill_bytes,
            spill_bytes,
        }),
        timings: vec![
            ("keys", keys_ms),
            ("split", split.ms),
            ("load", stage_ms[0]),
            ("person_view", stage_ms[1]),
            ("rules", stage_ms[2]),
        ],
        peaks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_shrink_with_a_small_memory_limit_only() {
        assert_eq!(local_task_rows(1 << 30), 1 << 20);
        assert_eq!(local_task_rows(2 << 30), 2 << 20);
        assert_eq!(local_task_rows(4 << 30), DEFAULT_TASK_ROWS);
        assert_eq!(local_task_rows(6 << 30), DEFAULT_TASK_ROWS);
        assert_eq!(local_task_rows(64 << 20), MIN_LOCAL_TASK_ROWS);
        assert_eq!(local_task_rows(1), MIN_LOCAL_TASK_ROWS);
    }

    #[test]
    fn sizes_read_as_binary_units() {
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("1.5g"), Some(3 << 29));
        assert_eq!(parse_size("800 MiB"), Some(800 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("two"), None);
        assert_eq!(parse_size("5 parsecs"), None);
        assert_eq!(parse_size("0"), None);
    }

    #[test]
    fn ids_that_pack_have_keys_of_their_own() {
        // Every id of 17 digits and a check: its own key, never 0, whatever its hash.
        let ids: Vec<String> = (0..20_000u64)
            .map(|k| format!("{:017}{}", 110_101_194_901_010_000 + k * 37, k % 10))
            .chain(["000000000000000000".into(), "99999999999999999X".into()])
            .collect();
        let mut keys: Vec<u64> = ids.iter().map(|id| person_key(id)).collect();
        assert!(keys.iter().all(|&k| k != 0));
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), ids.len(), "no two ids share a key");
        // The key is the packed integer through a bijection, not a hash of the text.
        assert_eq!(person_key("000000000000000000"), mix(1));
        assert_ne!(
            person_key("11010519491231002X"),
            person_key("110105194912310021")
        );
        // A text that does not pack is hashed as any other key, and never 0 either.
        for text in ["12345", "11010519491231002x", "110105491231002"] {
            assert_eq!(person_key(text), key(PERSON, text));
            assert_ne!(person_key(text), 0);
        }
        assert_eq!(
            mix(0),
            0,
            "0 stays 0, so only a packed id's own value maps to 0"
        );
    }

    #[test]
    fn rows_sharing_any_key_share_a_bucket_and_buckets_are_balanced() {
        let mut c = Components::default();
        // Each row as pass 1 adds it: its keys' nodes looked up first.
        let add = |c: &mut Components, k: RowKeys, deferred: u8| {
            let known = c.known(&[k], deferred);
            c.add(&k, &known[0], deferred)
        };
        // Two persons joined by a receipt number; a third alone; a fourth joined to the
        // first through an account.
        add(
            &mut c,
            [key(PERSON, "a"), key(RECEIPT, "r1"), 0, 0, 0, 0, 0],
            0b10,
        );
        add(
            &mut c,
            [key(PERSON, "b"), key(RECEIPT, "r1"), 0, 0, 0, 0, 0],
            0b10,
        );
        add(&mut c, [key(PERSON, "c"), 0, 0, 0, 0, 0, 0], 0);
        add(
            &mut c,
            [key(PERSON, "d"), key(ACCOUNT, "x"), 0, 0, 0, 0, 0],
            0,
        );
        add(
            &mut c,
            [key(PERSON, "a"), key(ACCOUNT, "x"), 0, 0, 0, 0, 0],
            0,
        );
        add(&mut c, [key(PERSON, "e"), 0, 0, 0, 0, 0, 0], 0);
        let day = NaiveDate::from_ymd_opt(2021, 11, 5).unwrap();
        // Two payments of f and g with the same txn id.
        let f = add(&mut c, [key(PERSON, "f"), 0, 0, 0, 0, 0, 0], 0).unwrap();
        let g = add(&mut c, [key(PERSON, "g"), 0, 0, 0, 0, 0, 0], 0).unwrap();
        use chrono::Datelike;
        c.add_txn(key(TXN, "t"), f, day.num_days_from_ce());
        c.add_txn(key(TXN, "t"), g, day.num_days_from_ce() + 1);
        // The first read of txn "t" is kept: its day is the latest.
        assert_eq!(c.resolve().unwrap(), Some(day));
        let b = c.into_buckets(2);
        let of = |p: &str| b.of(key(PERSON, p)).unwrap();
        assert_eq!(of("a"), of("b"));
        assert_eq!(of("a"), of("d"));
        // Only anchors are routed by: an account is no row's first key.
        assert_eq!(b.of(key(ACCOUNT, "x")), None);
        assert_ne!(of("a"), of("c"));
        assert_eq!(of("c"), of("e"));
        assert_eq!(of("f"), of("g"));
        assert_eq!(b.loads.iter().sum::<u64>(), 8);
        assert_eq!(b.of(key(PERSON, "z")), None);
    }

    /// The buckets as `into_buckets` chose them before it summed the weights in place: a
    /// vector of totals per node, every node given its root's bucket, then the nodes
    /// without rows unmarked. (anchor key, bucket) sorted, the loads, the components with
    /// rows and the rows of the largest.
    fn buckets_with_totals(mut c: Components, k: usize) -> (Vec<(u64, u16)>, Vec<u64>, u64, u64) {
        let n = c.parent.len();
        for i in 0..n as u32 {
            let r = c.find(i);
            c.parent[i as usize] = r;
        }
        let mut total: Vec<u64> = vec![0; n];
        for i in 0..n {
            total[c.parent[i] as usize] += c.weight[i] as u64;
        }
        let mut roots: Vec<u32> = (0..n as u32)
            .filter(|&i| c.parent[i as usize] == i)
            .collect();
        roots.sort_unstable_by_key(|&r| (Reverse(total[r as usize]), r));
        let mut heap: BinaryHeap<Reverse<(u64, u16)>> =
            (0..k as u16).map(|b| Reverse((0, b))).collect();
        let mut bucket: Vec<u16> = vec![0; n];
        let mut loads = vec![0u64; k];
        for r in roots {
            let Reverse((load, b)) = heap.pop().unwrap();
            bucket[r as usize] = b;
            let load = load + total[r as usize];
            loads[b as usize] = load;
            heap.push(Reverse((load, b)));
        }
        let mut pairs: Vec<(u64, u16)> = c
            .nodes
            .iter()
            .filter(|&&(_, node)| c.weight[node as usize] > 0)
            .map(|&(key, node)| (key, bucket[c.parent[node as usize] as usize]))
            .collect();
        pairs.sort_unstable();
        let sizes = total.iter().filter(|&&t| t > 0);
        let largest = sizes.clone().copied().max().unwrap_or(0);
        (pairs, loads, sizes.count() as u64, largest)
    }

    #[test]
    fn buckets_chosen_with_the_weights_summed_in_place_are_the_buckets_of_the_totals() {
        // Rows of many small components and a few large ones, joined through accounts
        // and receipt numbers; some nodes (the accounts) anchor no row, and some roots
        // have no rows of their own.
        let rows = |seed: u64| -> Vec<(RowKeys, u8)> {
            let mut x = seed;
            let mut next = move || {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                x >> 33
            };
            (0..6_000)
                .map(|_| {
                    let p = key(PERSON, &format!("p{}", next() % 3_000));
                    match next() % 4 {
                        0 => (
                            [
                                p,
                                key(ACCOUNT, &format!("a{}", next() % 400)),
                                0,
                                0,
                                0,
                                0,
                                0,
                            ],
                            0,
                        ),
                        1 => (
                            [
                                p,
                                key(RECEIPT, &format!("r{}", next() % 900)),
                                0,
                                0,
                                0,
                                0,
                                0,
                            ],
                            0b10,
                        ),
                        2 => (
                            [
                                key(ACCOUNT, &format!("a{}", next() % 400)),
                                p,
                                0,
                                0,
                                0,
                                0,
                                0,
                            ],
                            0,
                        ),
                        _ => ([p, 0, 0, 0, 0, 0, 0], 0),
                    }
                })
                .collect()
        };
        for seed in 1..=4u64 {
            for k in [1, 2, 3, 7, 16] {
                let build = || {
                    let mut c = Components::default();
                    for (keys, deferred) in rows(seed) {
                        let known = c.known(&[keys], deferred);
                        c.add(&keys, &known[0], deferred);
                    }
                    c.resolve().unwrap();
                    c
                };
                let (pairs, loads, components, largest) = buckets_with_totals(build(), k);
                let b = build().into_buckets(k);
                assert!(pairs.len() > 100, "{}", pairs.len());
                for &(key, bucket) in &pairs {
                    assert_eq!(b.of(key), Some(bucket), "seed {seed}, k {k}");
                }
                assert_eq!(b.map.keys.len(), pairs.len(), "seed {seed}, k {k}");
                assert_eq!(b.loads, loads, "seed {seed}, k {k}");
                assert_eq!((b.components, b.largest), (components, largest));
            }
        }
    }

    #[test]
    fn pairs_and_txn_ids_spilled_to_files_join_the_components_they_join_in_memory() {
        // Persons joined through receipt numbers, accounts and txn ids, many times over,
        // so that every shard writes its file several times.
        let rows: Vec<(RowKeys, i32)> = (0..20_000u64)
            .map(|i| {
                let p = key(PERSON, &format!("p{}", i % 5_000));
                let r = key(RECEIPT, &format!("r{}", (i * 7) % 9_000));
                let a = key(ACCOUNT, &format!("a{}", i % 12_000));
                let t = key(TXN, &format!("t{}", i % 17_000));
                ([p, t, r, 0, 0, a, 0], 730_000 + (i % 400) as i32)
            })
            .collect();
        let deferred = 0b10_0110;
        let fill = |c: &mut Components| {
            for chunk in rows.chunks(1_000) {
                let keys: Vec<RowKeys> = chunk.iter().map(|r| r.0).collect();
                let known = c.known(&keys, deferred);
                for ((k, day), known) in chunk.iter().zip(&known) {
                    let a = c.add(k, known, deferred).unwrap();
                    c.add_txn(k[1], a, *day);
                }
            }
        };
        let mut memory = Components::default();
        fill(&mut memory);
        let tmp = tempfile::tempdir().unwrap();
        let mut spilled = Components::default();
        spilled.spill_in_past(tmp.path(), 50);
        fill(&mut spilled);
        assert!(spilled.pairs.written() > 0 && spilled.txns.written() > 0);
        assert_eq!(memory.pairs.written(), 0);
        let latest = memory.resolve().unwrap();
        assert!(latest.is_some());
        assert_eq!(spilled.resolve().unwrap(), latest);
        // Receipts join person p to p + 4000, txn ids and accounts p to p + 2000 (mod
        // 5000): a component per p mod 1000.
        let (m, s) = (memory.into_buckets(4), spilled.into_buckets(4));
        assert_eq!(m.components, 1_000);
        assert_eq!((m.components, m.largest), (s.components, s.largest));
        assert_eq!(m.loads, s.loads);
        for p in 0..5_000 {
            let k = key(PERSON, &format!("p{p}"));
            assert_eq!(m.of(k), s.of(k), "p{p}");
        }
        // The files were unnamed: nothing is left in the folder.
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    fn deposit(i: u32) -> qianbiao_ingest::DepositRow {
        qianbiao_ingest::DepositRow {
            deposit_id: Text::from(format!("D{i}")),
            collector_id: Text::from("C1"),
            village: Text::from("店子村"),
            amount: qianbiao_core::Fen(i64::from(i) * 100),
            deposited_at: NaiveDate::from_ymd_opt(2021, 12, 1)
                .unwrap()
                .and_hms_opt(9, 0, i)
                .unwrap()
                .into(),
            person_count: i.is_multiple_of(2).then_some(i),
            prov: qianbiao_ingest::Prov {
                file: 0,
                line: i + 2,
            },
        }
    }

    #[test]
    fn keys_looked_up_ahead_number_the_nodes_as_one_by_one() {
        // Rows whose keys repeat within a chunk and across chunks, some new in the chunk
        // that looks them up: nodes, components and weights are those of adding every
        // row with no key known ahead.
        let rows: Vec<RowKeys> = (0..500u64)
            .map(|i| {
                let p = key(PERSON, &format!("p{}", i % 97));
                let v = key(VILLAGE, &format!("v{}", (i * 7) % 13));
                let r = if i % 5 == 0 {
                    key(RECEIPT, &format!("r{}", i % 11))
                } else {
                    0
                };
                [p, v, r, 0, 0, 0, 0]
            })
            .collect();
        let mut one = Components::default();
        for k in &rows {
            one.add(k, &[UNSEEN; 7], 0b100);
        }
        let mut ahead = Components::default();
        for (c, chunk) in rows.chunks(64).enumerate() {
            let known = ahead.known(chunk, 0b100);
            // Every chunk but the first has keys seen before it.
            assert_eq!(c > 0, known.iter().flatten().any(|&n| n != UNSEEN));
            for (k, known) in chunk.iter().zip(&known) {
                ahead.add(k, known, 0b100);
            }
        }
        assert_eq!(one.parent, ahead.parent);
        assert_eq!(one.weight, ahead.weight);
        for s in 0..SHARDS {
            assert_eq!(one.pairs.take(s).unwrap(), ahead.pairs.take(s).unwrap());
        }
    }
    #[test]
    fn a_bucket_is_read_back_part_by_part_in_read_order_and_a_damaged_part_is_an_error() {
        use qianbiao_ingest::{Deposits, Rows, Strings};
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let map = BucketMap::new(Vec::new());
        let mut sink = FolderSink::new(dir.clone(), 7);
        let mut split = Split::new(&map, 3, &mut sink);
        let rows: Vec<_> = (0..25).map(deposit).collect();
        // Thirteen parts of bucket 1 (more than ten: part-000007-000010 is read after
        // part-000007-000009).
        for chunk in rows.chunks(2) {
            let of = vec![1u16; chunk.len()];
            let files = route(&mut split.deposits, chunk, &of, 1, false);
            split.write(SourceKind::Deposits, files);
        }
        split.flush();
        assert!(split.error.is_none());
        assert!(split.bytes_written > 0);
        assert_eq!(
            split.parts[1][SourceKind::ALL
                .iter()
                .position(|s| *s == SourceKind::Deposits)
                .unwrap()],
            13
        );
        let read = |dir: &Path| -> Result<Vec<qianbiao_ingest::DepositRow>, EngineError> {
            let mut input = SpilledBucket {
                dir: dir.to_path_buf(),
                b: 1,
                files: Vec::new(),
                source: None,
            };
            let (mut t, mut strings) = (Deposits::default(), Strings::default());
            fill(
                &mut input,
                SourceKind::Hukou,
                &mut qianbiao_ingest::Hukou::default(),
                &mut strings,
            )?;
            fill(&mut input, SourceKind::Deposits, &mut t, &mut strings)?;
            Ok(Rows::new(&t, &strings).iter().map(|d| d.to_row()).collect())
        };
        let copy = tmp.path().join("copy");
        std::fs::create_dir_all(bucket_folder(&copy, 1, SourceKind::Deposits)).unwrap();
        for e in std::fs::read_dir(bucket_folder(&dir, 1, SourceKind::Deposits)).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(
                &p,
                bucket_folder(&copy, 1, SourceKind::Deposits).join(p.file_name().unwrap()),
            )
            .unwrap();
        }
        assert_eq!(read(&dir).unwrap(), rows);
        // Read parts are removed.
        assert_eq!(
            std::fs::read_dir(bucket_folder(&dir, 1, SourceKind::Deposits))
                .unwrap()
                .count(),
            0
        );
        // A part cut short is an error, never fewer rows.
        let part = bucket_folder(&copy, 1, SourceKind::Deposits).join("part-000007-000004.parquet");
        let bytes = std::fs::read(&part).unwrap();
        std::fs::write(&part, &bytes[..bytes.len() - 9]).unwrap();
        let err = read(&copy).unwrap_err().to_string();
        assert!(err.contains("part-000007-000004.parquet"), "{err}");
    }

    #[test]
    fn a_part_that_cannot_be_written_stops_the_split_with_its_path() {
        // Parts are encoded and written as tasks of the pool: a failed one is still the
        // split's error (by the next parts taken, or at the flush), and every part
        // taken before is written, whatever the order the tasks ran in.
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        // A folder where part 5 of bucket 0 would be written: it cannot be.
        let blocked =
            bucket_folder(&dir, 0, SourceKind::Deposits).join("part-000003-000005.parquet");
        std::fs::create_dir_all(&blocked).unwrap();
        let map = BucketMap::new(Vec::new());
        let mut sink = FolderSink::new(dir.clone(), 3);
        let mut split = Split::new(&map, 2, &mut sink);
        let rows: Vec<_> = (0..40).map(deposit).collect();
        for chunk in rows.chunks(2) {
            let of = vec![0u16; chunk.len()];
            let files = route(&mut split.deposits, chunk, &of, 1, false);
            split.write(SourceKind::Deposits, files);
        }
        split.flush();
        let err = split.error.clone().expect("the split fails");
        assert!(err.contains("part-000003-000005.parquet"), "{err}");
        let written = std::fs::read_dir(bucket_folder(&dir, 0, SourceKind::Deposits))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n != "part-000003-000005.parquet")
            .collect::<std::collections::BTreeSet<_>>();
        for n in 0..5 {
            assert!(
                written.contains(&format!("part-000003-{n:06}.parquet")),
                "{written:?}"
            );
        }
        // After the flush, nothing is in flight.
        drop(split);
        assert_eq!(sink.state().in_flight, 0);
    }

    #[test]
    fn parts_of_several_files_are_read_in_file_order_then_part_order() {
        let tmp = tempfile::tempdir().unwrap();
        let folder = bucket_folder(tmp.path(), 2, SourceKind::Payments);
        std::fs::create_dir_all(&folder).unwrap();
        // Written out of order, as workers finish.
        for name in [
            "part-000010-000000.parquet",
            "part-000002-000001.parquet",
            "part-000002-000000.parquet",
            "part-000009-000011.parquet",
            "part-000009-000002.parquet",
        ] {
            std::fs::write(folder.join(name), b"").unwrap();
        }
        let names: Vec<String> = bucket_parts(tmp.path(), 2, SourceKind::Payments)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "part-000002-000000.parquet",
                "part-000002-000001.parquet",
                "part-000009-000002.parquet",
                "part-000009-000011.parquet",
                "part-000010-000000.parquet",
            ]
        );
        // A bucket without rows of a source has no parts, and that is no error.
        assert!(bucket_parts(tmp.path(), 0, SourceKind::Payments)
            .unwrap()
            .is_empty());
    }

    /// Keeps what it is given.
    #[derive(Default)]
    struct Kept {
        keys: Vec<(SourceKind, RowKeys)>,
        days: Vec<i32>,
        chunks: usize,
    }

    impl KeysTaker for Kept {
        fn rows(&mut self, s: SourceKind, keys: &[RowKeys], days: &[i32]) {
            self.keys.extend(keys.iter().map(|k| (s, *k)));
            self.days.extend_from_slice(days);
            self.chunks += 1;
        }
        fn file(&mut self, _i: usize, _keys: FileKeys) -> Result<(), EngineError> {
            Ok(())
        }
    }

    #[test]
    fn a_files_keys_read_back_as_written_and_a_wrong_count_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let path = keys_file(tmp.path(), 3);
        assert!(path.ends_with("keys-000003.bin"));
        let rows: Vec<RowKeys> = (0..70_000u64)
            .map(|i| {
                let mut k = [0; 7];
                k[0] = key(PERSON, &i.to_string());
                // Some keys missing, at every place, and a key of all bits.
                for (j, x) in k.iter_mut().enumerate().skip(1) {
                    if (i + j as u64).is_multiple_of(3) {
                        *x = if i == 5 {
                            u64::MAX
                        } else {
                            i * 7 + j as u64 + 1
                        };
                    }
                }
                k
            })
            .collect();
        let days: Vec<i32> = (0..70_000).map(|i| 738_000 + i % 400 - 200).collect();
        let mut w = KeysWriter::create(&path).unwrap();
        for (k, d) in rows.chunks(1000).zip(days.chunks(1000)) {
            w.put(k, d);
        }
        w.finish().unwrap();
        let mut kept = Kept::default();
        read_keys(&path, SourceKind::Payments, 70_000, &mut kept).unwrap();
        assert_eq!(kept.days, days);
        assert!(kept.keys.iter().all(|(s, _)| *s == SourceKind::Payments));
        let back: Vec<RowKeys> = kept.keys.iter().map(|(_, k)| *k).collect();
        assert_eq!(back, rows);
        // Handed over in chunks, not a file at once.
        assert_eq!(kept.chunks, 2);
        // More rows in the file than expected, or fewer: an error naming the file.
        for n in [69_999, 70_001] {
            let e = read_keys(&path, SourceKind::Payments, n, &mut Kept::default())
                .err()
                .unwrap()
                .to_string();
            assert!(e.contains("keys-000003.bin"), "{e}");
        }
        // Without days (any other source).
        let mut w = KeysWriter::create(&path).unwrap();
        w.put(&rows[..10], &[]);
        w.finish().unwrap();
        let mut kept = Kept::default();
        read_keys(&path, SourceKind::Hukou, 10, &mut kept).unwrap();
        assert!(kept.days.is_empty());
        assert_eq!(kept.keys.len(), 10);
    }

    #[test]
    fn the_bucket_map_finds_every_anchor_and_reads_back_what_it_wrote() {
        let anchors: Vec<(u64, u16)> = (0..5000u32)
            .map(|i| (key(PERSON, &format!("p{i}")), (i % 7) as u16))
            .collect();
        let map = BucketMap::new(anchors.clone());
        assert_eq!(map.len(), 5000);
        for &(k, b) in &anchors {
            assert_eq!(map.of(k), Some(b));
        }
        assert_eq!(map.of(key(PERSON, "nobody")), None);
        assert_eq!(map.of(key(RECEIPT, "p1")), None);
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("keys.bin");
        map.write(&path).unwrap();
        let back = BucketMap::read(&path).unwrap();
        for &(k, b) in &anchors {
            assert_eq!(back.of(k), Some(b));
        }
        assert_eq!(back.of(key(PERSON, "nobody")), None);
        // Cut short, or another file: an error naming the file, never a wrong bucket.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        let err = BucketMap::read(&path).err().unwrap().to_string();
        assert!(err.contains("keys.bin"), "{err}");
        std::fs::write(&path, b"PAR1").unwrap();
        assert!(BucketMap::read(&path).is_err());
        // An empty input has an empty map.
        let empty = BucketMap::new(Vec::new());
        assert!(empty.is_empty());
        assert_eq!(empty.of(key(PERSON, "a")), None);
        empty.write(&path).unwrap();
        assert!(BucketMap::read(&path).unwrap().is_empty());
    }

    #[test]
    fn a_map_placed_by_its_index_is_the_map_of_the_sorted_pairs() {
        // Hashes of every spread, and keys that crowd one range of the index (the same
        // top bits), in an order far from sorted.
        let mut pairs: Vec<(u64, u16)> = (0..20_000u64)
            .map(|i| (mix(i + 1), (i % 7) as u16))
            .collect();
        pairs.extend((0..300u64).map(|i| ((0xABCD << 48) | (i * 7919 % 300), 3)));
        pairs.extend([(0, 1), (u64::MAX, 2), (1 << 63, 4)]);
        pairs.reverse();
        let distinct: FxHashSet<u64> = pairs.iter().map(|p| p.0).collect();
        assert_eq!(
            distinct.len(),
            pairs.len(),
            "the keys of a map are distinct"
        );
        for n in [0, 1, 2, 5, 1000, pairs.len()] {
            let some = &pairs[..n];
            let map = BucketMap::from_anchors(|| some.iter().copied());
            let mut sorted = some.to_vec();
            sorted.sort_unstable();
            let (keys, buckets): (Vec<u64>, Vec<u16>) = sorted.into_iter().unzip();
            let reference = BucketMap::indexed(keys, buckets);
            assert!(map.keys == reference.keys, "{n} pairs: the keys differ");
            assert!(
                map.buckets == reference.buckets,
                "{n} pairs: the buckets differ"
            );
            assert!(map.shift == reference.shift && map.index == reference.index);
            for &(k, b) in some {
                assert_eq!(map.of(k), Some(b));
            }
        }
    }

    #[test]
    fn a_large_parquet_file_is_cut_into_pieces_of_whole_row_groups() {
        use polars::prelude::{IntoColumn, NamedFrom, Series};
        let dir = tempfile::tempdir().unwrap();
        // 1,000 rows in row groups of 100, and a file of one row group.
        let parquet = |name: &str, rows: i64, group: usize| {
            let ids = Series::new("id_number".into(), (0..rows).collect::<Vec<i64>>());
            let mut df = DataFrame::new_infer_height(vec![ids.into_column()]).unwrap();
            let path = dir.path().join(name);
            let file = std::fs::File::create(&path).unwrap();
            ParquetWriter::new(file)
                .with_row_group_size(Some(group))
                .finish(&mut df)
                .unwrap();
            path
        };
        let csv = dir.path().join("roster.csv");
        std::fs::write(&csv, "id_number\n1\n2\n3\n").unwrap();
        let files: Vec<InputFile> = [
            (csv, "roster.csv"),
            (parquet("p.parquet", 1000, 100), "payments/p.parquet"),
            (parquet("one.parquet", 1000, 1000), "payments/one.parquet"),
        ]
        .into_iter()
        .map(|(path, rel)| InputFile {
            source: SourceKind::Payments,
            path,
            rel: rel.into(),
        })
        .collect();
        let whole = |file| Piece { file, groups: None };
        let groups = |a, b| Piece {
            file: 1,
            groups: Some((a, b)),
        };
        assert_eq!(pieces_of(&files, None), [whole(0), whole(1), whole(2)]);
        // Runs of whole row groups of at least 250 rows; the last holds the rest. A file
        // of one row group, or of no more rows than a task's, stays whole.
        assert_eq!(
            pieces_of(&files, Some(250)),
            [
                whole(0),
                groups(0, 3),
                groups(3, 6),
                groups(6, 9),
                groups(9, 10),
                whole(2)
            ]
        );
        assert_eq!(
            pieces_of(&files, Some(1000)),
            [whole(0), whole(1), whole(2)]
        );
        let each: Vec<Piece> = pieces_of(&files, Some(1));
        assert_eq!(each.len(), 12);
        assert_eq!(
            each[1..11],
            (0..10).map(|g| groups(g, g + 1)).collect::<Vec<_>>()[..]
        );
        // A file whose footer cannot be read is one piece: its reading says why.
        let mut broken = files.clone();
        std::fs::write(&broken[1].path, b"PAR1 broken").unwrap();
        broken.truncate(2);
        assert_eq!(pieces_of(&broken, Some(250)), [whole(0), whole(1)]);
    }

    #[test]
    fn the_pieces_of_a_file_merge_into_the_file_s_result() {
        let rejected = |line| qianbiao_ingest::Rejected {
            source: "payments",
            file: "p.parquet".into(),
            line,
            reason: "id_number: empty".into(),
            raw: String::new(),
        };
        let split = |sha: &str, read, bad: &[u32], header| {
            let mut report = qianbiao_ingest::FileReport {
                sha256: sha.into(),
                rows_read: read,
                rows_accepted: read - bad.len() as u64,
                rows_rejected: bad.len() as u64,
                millis: 5,
                ..Default::default()
            };
            report.lines.total = read + header;
            report.lines.header = header;
            report.lines.rows = read;
            FileSplit {
                report,
                rejected: bad.iter().map(|&l| rejected(l)).collect(),
                bytes: 100,
                ..Default::default()
            }
        };
        let pieces = [
            Piece {
                file: 0,
                groups: None,
            },
            Piece {
                file: 1,
                groups: Some((0, 2)),
            },
            Piece {
                file: 1,
                groups: Some((2, 3)),
            },
        ];
        let splits = || {
            vec![
                split("aa", 4, &[], 1),
                split("bb", 6, &[3], 1),
                split("", 3, &[9, 10], 0),
            ]
        };
        let merged = merge_pieces(&pieces, 2, splits()).unwrap();
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].report.sha256, "aa");
        let r = &merged[1].report;
        assert_eq!(r.sha256, "bb", "the first piece's hash");
        assert_eq!((r.rows_read, r.rows_accepted, r.rows_rejected), (9, 6, 3));
        assert_eq!((r.lines.total, r.lines.header, r.lines.rows), (10, 1, 9));
        assert_eq!(r.lines.total, r.lines.accounted());
        assert_eq!((r.millis, merged[1].bytes), (10, 200));
        let lines: Vec<u32> = merged[1].rejected.iter().map(|x| x.line).collect();
        assert_eq!(lines, [3, 9, 10], "rejected rows in row order");
        // Results that do not match the pieces are an error, never a wrong report.
        assert!(merge_pieces(&pieces, 2, splits()[..2].to_vec()).is_err());
        assert!(merge_pieces(&pieces, 3, splits()).is_err());
        let mut swapped = pieces;
        swapped.swap(0, 2);
        assert!(merge_pieces(&swapped, 2, splits()).is_err());
    }
}
