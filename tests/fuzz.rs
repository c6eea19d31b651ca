//! A seeded mutation harness over a small dirty synthetic town (`data-contract.md`,
//! Robustness): bytes flipped, lines deleted or duplicated, quotes, commas, newlines and
//! control characters inserted, columns swapped, files truncated, encodings mixed, title
//! and totals rows added, long values, XLSX and Parquet corrupted.
//!
//! Invariants, for every mutated folder: the run exits 0 or 2, never panics, aborts or
//! hangs; exit 2 prints one line naming a file; on exit 0 every file's rows read equal
//! rows accepted plus rejected, its line accounting adds up, and for a CSV file the lines
//! accounted equal the file's physical lines counted here independently; the manifest's
//! output hashes match the files; a failed run leaves the previous outputs untouched.
//!
//! `cargo test --test fuzz` runs `QIANBIAO_FUZZ_ITERS` iterations (default 200) from seed
//! `QIANBIAO_FUZZ_SEED` (default 1). The long mode is the same test with more iterations,
//! e.g. `QIANBIAO_FUZZ_ITERS=100000 cargo test --release --test fuzz -- --nocapture`.
//! A failing case is kept under `target/fuzz-failures/ITERATION/` with its data folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// SplitMix64: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            v.extend(files_under(&p));
        } else {
            v.push(p);
        }
    }
    v.sort();
    v
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let t = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

/// Byte offsets where lines start.
fn line_starts(b: &[u8]) -> Vec<usize> {
    let mut v = vec![0];
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\n' => v.push(i + 1),
            b'\r' if b.get(i + 1) != Some(&b'\n') => v.push(i + 1),
            _ => {}
        }
        i += 1;
    }
    if v.last() == Some(&b.len()) && !b.is_empty() {
        v.pop();
    }
    v
}

/// Physical lines: LF, CRLF and lone CR each end one; a last line without an ending counts.
fn physical_lines(b: &[u8]) -> u64 {
    if b.is_empty() {
        0
    } else {
        line_starts(b).len() as u64
    }
}

const KINDS: usize = 14;

/// Applies one mutation to a file's bytes; returns its name.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>, csv: bool) -> &'static str {
    let len = bytes.len();
    let at = rng.below(len + 1);
    match rng.below(KINDS) {
        0 => {
            for _ in 0..1 + rng.below(8) {
                if len > 0 {
                    let i = rng.below(len);
                    bytes[i] ^= 1 << rng.below(8);
                }
            }
            "flip bytes"
        }
        1 => {
            let starts = line_starts(bytes);
            let k = rng.below(starts.len());
            let end = starts.get(k + 1).copied().unwrap_or(len);
            bytes.drain(starts[k]..end);
            "delete a line"
        }
        2 => {
            let starts = line_starts(bytes);
            let k = rng.below(starts.len());
            let end = starts.get(k + 1).copied().unwrap_or(len);
            let line = bytes[starts[k]..end].to_vec();
            bytes.splice(end..end, line);
            "duplicate a line"
        }
        3 => {
            bytes.insert(at, b'"');
            "insert a quote"
        }
        4 => {
            bytes.insert(at, b',');
            "insert a comma"
        }
        5 => {
            let nl: &[u8] = [&b"\n"[..], b"\r", b"\r\n"][rng.below(3)];
            bytes.splice(at..at, nl.iter().copied());
            "insert a line ending"
        }
        6 if csv => {
            // Swap two columns of the header.
            let starts = line_starts(bytes);
            let end = starts.get(1).copied().unwrap_or(len);
            let header = String::from_utf8_lossy(&bytes[..end]).to_string();
            let mut cells: Vec<&str> = header.trim_end().split(',').collect();
            if cells.len() > 1 {
                let (a, b) = (rng.below(cells.len()), rng.below(cells.len()));
                cells.swap(a, b);
            }
            let new = format!("{}\n", cells.join(","));
            bytes.splice(..end, new.into_bytes());
            "swap header columns"
        }
        7 => {
            bytes.truncate(at);
            "truncate"
        }
        8 if csv => {
            // Re-encode one line as GB18030 inside a UTF-8 file (or the reverse).
            let starts = line_starts(bytes);
            let k = rng.below(starts.len());
            let end = starts.get(k + 1).copied().unwrap_or(len);
            let line = String::from_utf8_lossy(&bytes[starts[k]..end]).to_string();
            let (gbk, _, _) = encoding_rs::GB18030.encode(&line);
            bytes.splice(starts[k]..end, gbk.iter().copied());
            "mix encodings"
        }
        9 if csv => {
            let title = "店子镇2022年度缴费明细\n制表单位：店子镇,,\n".as_bytes();
            bytes.splice(0..0, title.iter().copied());
            "add title rows"
        }
        10 if csv => {
            let starts = line_starts(bytes);
            let k = 1 + rng.below(starts.len().max(1));
            let pos = starts.get(k).copied().unwrap_or(len);
            let row = [
                "合计,,,,320,,\n",
                "小计,,,,abc\n",
                ",小计,1,2,3,4,5,6,7,8,9\n",
            ][rng.below(3)];
            bytes.splice(pos..pos, row.bytes());
            "insert a totals row"
        }
        11 => {
            let long = "王".repeat(20_000 + rng.below(20_000));
            bytes.splice(at..at, long.into_bytes());
            "insert a long value"
        }
        12 => {
            let c = [0u8, 0x1b, 0x7f, b'\t', 0x0c][rng.below(5)];
            bytes.insert(at, c);
            "insert a control character"
        }
        _ => {
            // A run of random bytes, as a broken transfer leaves.
            let junk: Vec<u8> = (0..1 + rng.below(64)).map(|_| rng.next() as u8).collect();
            bytes.splice(at..at, junk);
            "insert random bytes"
        }
    }
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    files_under(dir)
        .into_iter()
        .map(|p| {
            (
                p.strip_prefix(dir).unwrap().display().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Checks one finished run; returns what is wrong, if anything.
fn check(
    code: Option<i32>,
    stderr: &str,
    data: &Path,
    out: &Path,
    before: &BTreeMap<String, Vec<u8>>,
) -> Option<String> {
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        return Some(format!("panic: {stderr}"));
    }
    match code {
        Some(2) => {
            let lines: Vec<&str> = stderr.trim_end().lines().collect();
            if lines.len() != 1 || !lines[0].starts_with("qianbiao: error: ") {
                return Some(format!("exit 2 without one error line: {stderr:?}"));
            }
            let names_a_file = files_under(data).iter().any(|p| {
                let rel = p.strip_prefix(data).unwrap().display().to_string();
                lines[0].contains(&rel)
            });
            if !names_a_file {
                return Some(format!("exit 2 names no input file: {stderr:?}"));
            }
            if &snapshot(out) != before {
                return Some("a failed run changed the previous outputs".into());
            }
            None
        }
        Some(0) => {
            let m: Value = match std::fs::read(out.join("manifest.json"))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
            {
                Some(m) => m,
                None => return Some("exit 0 without a readable manifest".into()),
            };
            for (name, sha) in m["outputs"].as_object()? {
                let bytes = std::fs::read(out.join(name)).unwrap_or_default();
                if sha.as_str() != Some(sha256_hex(&bytes).as_str()) {
                    return Some(format!("{name}: hash differs from the manifest"));
                }
            }
            for f in m["sources"]
                .as_array()?
                .iter()
                .flat_map(|s| s["files"].as_array().cloned().unwrap_or_default())
            {
                let n = |k: &str| f[k].as_u64().unwrap_or(u64::MAX);
                if n("rows_read") != n("rows_accepted") + n("rows_rejected") {
                    return Some(format!("conservation fails: {f}"));
                }
                let l = &f["lines"];
                let part = |k: &str| l[k].as_u64().unwrap_or(u64::MAX / 8);
                let accounted: u64 = ["header", "preamble", "blank", "totals", "rows"]
                    .iter()
                    .map(|k| part(k))
                    .sum();
                if part("total") != accounted {
                    return Some(format!("line accounting fails: {f}"));
                }
                let path = f["path"].as_str()?;
                if path.ends_with(".csv") {
                    let bytes = std::fs::read(data.join(path)).ok()?;
                    let mut text = bytes.as_slice();
                    if text.starts_with(b"\xEF\xBB\xBF") {
                        text = &text[3..];
                    }
                    if physical_lines(text) != part("total") {
                        return Some(format!(
                            "{path}: {} physical lines, manifest says {}",
                            physical_lines(text),
                            part("total")
                        ));
                    }
                }
            }
            None
        }
        other => Some(format!("exit status {other:?}: {stderr}")),
    }
}

#[test]
fn mutated_towns_never_break_the_invariants() {
    let iters = env_or("QIANBIAO_FUZZ_ITERS", 200);
    let seed = env_or("QIANBIAO_FUZZ_SEED", 1);
    let bin = env!("CARGO_BIN_EXE_qianbiao");
    let work = tempfile::tempdir().unwrap();
    let base = work.path().join("base");
    let o = Command::new(bin)
        .args([
            "synth",
            "--persons",
            "200",
            "--seed",
            "7",
            "--dirty",
            "--out",
        ])
        .arg(&base)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for extra in ["truth.csv", "expected_rejects.csv"] {
        let _ = std::fs::remove_file(base.join(extra));
    }
    let base_out = work.path().join("base-out");
    let o = Command::new(bin)
        .args(["run", "--data"])
        .arg(&base)
        .arg("--out")
        .arg(&base_out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let before = snapshot(&base_out);
    let inputs: Vec<PathBuf> = files_under(&base)
        .into_iter()
        .map(|p| p.strip_prefix(&base).unwrap().to_path_buf())
        .collect();

    let mut rng = Rng(seed);
    let mut exits: BTreeMap<String, u64> = BTreeMap::new();
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    let mut failures = Vec::new();
    let started = Instant::now();
    for i in 0..iters {
        let case = work.path().join(format!("case{i}"));
        let data = case.join("data");
        let out = case.join("out");
        copy_dir(&base, &data);
        copy_dir(&base_out, &out);
        let mut applied = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let rel = &inputs[rng.below(inputs.len())];
            let path = data.join(rel);
            let mut bytes = std::fs::read(&path).unwrap();
            let csv = rel.extension().is_some_and(|e| e == "csv");
            let kind = mutate(&mut rng, &mut bytes, csv);
            *kinds.entry(kind).or_default() += 1;
            applied.push(format!("{kind} in {}", rel.display()));
            std::fs::write(&path, bytes).unwrap();
        }
        let mut child = Command::new(bin)
            .args(["run", "--data"])
            .arg(&data)
            .arg("--out")
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break Some(s);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut stderr);
        }
        let problem = match status {
            None => Some("hang: no exit within 120 s".to_string()),
            Some(s) => {
                *exits.entry(format!("{:?}", s.code())).or_default() += 1;
                check(s.code(), &stderr, &data, &out, &before)
            }
        };
        match problem {
            Some(p) => {
                let keep = Path::new(env!("CARGO_TARGET_TMPDIR"))
                    .join("fuzz-failures")
                    .join(format!("seed{seed}-{i}"));
                let _ = std::fs::remove_dir_all(&keep);
                copy_dir(&data, &keep.join("data"));
                failures.push(format!("iteration {i} ({}): {p}", applied.join("; ")));
            }
            None => {
                let _ = std::fs::remove_dir_all(&case);
            }
        }
    }
    eprintln!(
        "fuzz: {iters} iterations from seed {seed} in {:.1} s; exits {exits:?}; mutations {kinds:?}; {} failures",
        started.elapsed().as_secs_f64(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
