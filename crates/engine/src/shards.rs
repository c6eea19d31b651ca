//! Pass 1's pairs, held by shard and spilled to disk as they come.
//!
//! Txn ids, receipt numbers and accounts are nearly all distinct, so pass 1 does not make
//! them nodes of its union-find: it keeps (hash, anchor) entries and joins the anchors of
//! equal hashes by a sort when the pass is over (`Components::resolve`). At a province's
//! scale those entries are 12-20 bytes a payment, gigabytes held until the end of the pass
//! (4-5 GB of a 100M run's 12 GiB peak). [`Sharded`] cuts them by the top bits of the hash
//! into [`SHARDS`] shards, keeps at most [`SHARD_BUF`] entries of each in memory and
//! appends the rest to an unnamed file of the spill folder (nothing is left behind, even
//! when the process is killed). Equal hashes are in the same shard, so the sort and the
//! joins run one shard at a time: the memory of the pass is that of one shard.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Bits of the hash's high word that name an entry's shard.
const SHARD_BITS: u32 = 6;

/// Shards of one kind of entry.
pub const SHARDS: usize = 1 << SHARD_BITS;

/// Entries of a shard held in memory before they are appended to its file (with a spill
/// folder): 64 shards of 16k entries of 20 bytes, 21 MB at most.
pub const SHARD_BUF: usize = 1 << 14;

/// Entries of `N` words, the first the high word of a 64-bit hash, kept by shard.
pub struct Sharded<const N: usize> {
    /// Where the shards' files go; None: everything stays in memory.
    dir: Option<PathBuf>,
    /// Entries not yet written, per shard.
    mem: Vec<Vec<[u32; N]>>,
    /// Each shard's file, once it has one, and the entries in it.
    files: Vec<Option<(std::fs::File, u64)>>,
    /// The first error of a write: reported by [`Sharded::take`].
    error: Option<String>,
    /// Bytes written to the files, in all.
    written: u64,
    /// Bytes a write encodes its entries in, reused.
    buf: Vec<u8>,
    /// Entries a shard holds before they are written ([`SHARD_BUF`]).
    cap: usize,
}

impl<const N: usize> Default for Sharded<N> {
    fn default() -> Self {
        Sharded {
            dir: None,
            mem: (0..SHARDS).map(|_| Vec::new()).collect(),
            files: (0..SHARDS).map(|_| None).collect(),
            error: None,
            written: 0,
            buf: Vec::new(),
            cap: SHARD_BUF,
        }
    }
}

/// The shard of an entry whose hash's high word is `hi`.
pub fn shard_of(hi: u32) -> usize {
    (hi >> (32 - SHARD_BITS)) as usize
}

impl<const N: usize> Sharded<N> {
    /// Entries past [`SHARD_BUF`] a shard go to unnamed files in `dir` from now on.
    pub fn spill_in(&mut self, dir: &Path) {
        self.dir = Some(dir.to_path_buf());
    }

    /// As [`Sharded::spill_in`], a shard written past `cap` entries (tests).
    #[cfg(test)]
    pub fn spill_in_past(&mut self, dir: &Path, cap: usize) {
        self.spill_in(dir);
        self.cap = cap.max(1);
    }

    /// Adds an entry.
    pub fn push(&mut self, e: [u32; N]) {
        let s = shard_of(e[0]);
        self.mem[s].push(e);
        if self.mem[s].len() >= self.cap && self.dir.is_some() {
            self.flush(s);
        }
    }

    /// Appends shard `s`'s entries in memory to its file.
    fn flush(&mut self, s: usize) {
        let Some(dir) = &self.dir else {
            return;
        };
        if self.error.is_some() {
            // The run fails at `take`; keep nothing more.
            self.mem[s].clear();
            return;
        }
        self.buf.clear();
        for e in &self.mem[s] {
            for w in e {
                self.buf.extend_from_slice(&w.to_le_bytes());
            }
        }
        let count = self.mem[s].len() as u64;
        // The vector's memory is reused for the shard's next entries.
        self.mem[s].clear();
        let done = match &mut self.files[s] {
            Some((file, n)) => file.write_all(&self.buf).map(|()| *n += count),
            slot @ None => tempfile::tempfile_in(dir).and_then(|mut file| {
                file.write_all(&self.buf)?;
                *slot = Some((file, count));
                Ok(())
            }),
        };
        match done {
            Ok(()) => self.written += self.buf.len() as u64,
            Err(e) => {
                self.error = Some(format!(
                    "{}: pass 1's keys could not be written: {e}",
                    dir.display()
                ))
            }
        }
    }

    /// Every entry of shard `s`, in the order they were pushed, and the shard emptied (its
    /// file closed, and so gone). An error when a write failed or the file reads back
    /// short.
    pub fn take(&mut self, s: usize) -> Result<Vec<[u32; N]>, String> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let mem = std::mem::take(&mut self.mem[s]);
        let Some((mut file, n)) = self.files[s].take() else {
            return Ok(mem);
        };
        let lost = |e: std::io::Error| format!("pass 1's keys could not be read back: {e}");
        let total = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_add(mem.len()))
            .ok_or_else(|| "pass 1's keys: too many entries for this machine".to_string())?;
        let mut out: Vec<[u32; N]> = Vec::with_capacity(total);
        file.seek(SeekFrom::Start(0)).map_err(lost)?;
        let mut r = std::io::BufReader::with_capacity(1 << 20, file);
        let mut word = vec![0u8; 4 * N];
        for _ in 0..n {
            r.read_exact(&mut word).map_err(lost)?;
            let mut e = [0u32; N];
            for (w, b) in e.iter_mut().zip(word.chunks_exact(4)) {
                *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
            out.push(e);
        }
        out.extend(mem);
        Ok(out)
    }

    /// Bytes written to the shards' files so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Bytes held in memory (capacity).
    pub fn held(&self) -> u64 {
        let entry = (4 * N) as u64;
        self.mem.iter().map(|m| m.capacity() as u64 * entry).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(n: u32) -> Vec<[u32; 3]> {
        // High words spread over every shard, and many entries in shard 0.
        (0..n)
            .map(|i| {
                let hi = if i % 3 == 0 {
                    i % 7
                } else {
                    i.wrapping_mul(0x9E37_79B9)
                };
                [hi, i, i ^ 0x5555]
            })
            .collect()
    }

    fn by_shard(all: &[[u32; 3]]) -> Vec<Vec<[u32; 3]>> {
        let mut out = vec![Vec::new(); SHARDS];
        for e in all {
            out[shard_of(e[0])].push(*e);
        }
        out
    }

    #[test]
    fn every_entry_comes_back_in_its_shard_in_push_order_from_memory_and_files() {
        let all = entries(3 * SHARD_BUF as u32 + 17);
        let want = by_shard(&all);
        let tmp = tempfile::tempdir().unwrap();
        for spill in [false, true] {
            let mut s = Sharded::<3>::default();
            if spill {
                s.spill_in(tmp.path());
            }
            for e in &all {
                s.push(*e);
            }
            // Shard 0 holds more than a buffer: written only with a folder.
            assert_eq!(s.written() > 0, spill);
            assert!(want[0].len() > SHARD_BUF);
            for (i, w) in want.iter().enumerate() {
                assert_eq!(&s.take(i).unwrap(), w, "shard {i}, spill {spill}");
                // Taken once: the shard is empty after.
                assert!(s.take(i).unwrap().is_empty());
            }
            // Unnamed files: nothing in the folder.
            assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
        }
    }

    #[test]
    fn a_folder_that_cannot_take_the_files_is_an_error_at_take_not_a_panic() {
        let all = entries(2_000);
        let mut s = Sharded::<3>::default();
        s.spill_in_past(Path::new("/nonexistent/qianbiao/spill"), 10);
        for e in &all {
            s.push(*e);
        }
        let err = s.take(0).unwrap_err();
        assert!(err.contains("/nonexistent/qianbiao/spill"), "{err}");
        assert!(err.contains("could not be written"), "{err}");
    }
}
