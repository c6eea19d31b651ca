//! The process's resident memory, stage by stage: what `manifest.json` reports as
//! `peak_rss_mib`, so that the stage that sets a run's peak is named by the run itself,
//! not guessed from samples taken from outside.
//!
//! A [`Meter`] is a thread that reads the process's resident set (`VmRSS` in `/proc/self/status`)
//! every [`INTERVAL`] and keeps the largest reading; a stage's peak is the largest
//! reading between its start and its end (both ends read too). A rise and fall within
//! one interval can be missed; gigabytes cannot be touched that fast. The kernel's own
//! high-water mark (`VmHWM`) is read, never set back: writing to `/proc/self/clear_refs`
//! would set it back for every tool that reads it after the run too (`/usr/bin/time`'s
//! maximum resident set size is that mark), so the whole run's peak is the kernel's
//! (`process`) and the stages' are the meter's.
//!
//! Where `/proc` cannot be read (another system, a sandbox), nothing is measured and the
//! manifest leaves the field out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often a meter reads the resident set.
pub const INTERVAL: Duration = Duration::from_millis(5);

/// The resident set in bytes; None where the system does not tell it.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status_kib(&status, "VmRSS:")
}

/// The kernel's high-water mark of the resident set in bytes: the process's peak since
/// it started. None where the system does not tell it.
pub fn process_peak_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    vm_hwm(&status)
}

/// `VmHWM` of a `/proc/PID/status` text, in bytes.
fn vm_hwm(status: &str) -> Option<u64> {
    status_kib(status, "VmHWM:")
}

/// A line of a `/proc/PID/status` text given in kB (`VmRSS:   1234 kB`), in bytes.
fn status_kib(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    let mut words = line[field.len()..].split_whitespace();
    let kib: u64 = words.next()?.parse().ok()?;
    (words.next() == Some("kB")).then_some(kib * 1024)
}

/// The largest reading so far, shared by the meter and its thread.
#[derive(Debug)]
struct Largest(AtomicU64);

impl Largest {
    fn see(&self, bytes: u64) {
        self.0.fetch_max(bytes, Ordering::Relaxed);
    }
}

/// A thread reading the resident set every [`INTERVAL`] while the meter lives (it ends
/// within one interval of the meter's drop); clones share it.
#[derive(Debug, Clone)]
pub struct Meter {
    largest: Arc<Largest>,
}

impl Meter {
    /// Starts reading now; None where the resident set cannot be read or no thread can
    /// be started.
    pub fn start() -> Option<Meter> {
        let now = resident_bytes()?;
        let largest = Arc::new(Largest(AtomicU64::new(now)));
        let weak: Weak<Largest> = Arc::downgrade(&largest);
        std::thread::Builder::new()
            .name("qianbiao-meter".into())
            .spawn(move || loop {
                std::thread::sleep(INTERVAL);
                let Some(l) = weak.upgrade() else { break };
                match resident_bytes() {
                    Some(b) => l.see(b),
                    None => break,
                }
            })
            .ok()?;
        Some(Meter { largest })
    }

    /// The largest reading since the start or the last [`Meter::take`], this moment's
    /// included.
    pub fn peak(&self) -> u64 {
        if let Some(b) = resident_bytes() {
            self.largest.see(b);
        }
        self.largest.0.load(Ordering::Relaxed)
    }

    /// The largest reading since the start or the last take, and a new start from this
    /// moment's reading.
    pub fn take(&self) -> u64 {
        let now = resident_bytes().unwrap_or(0);
        self.largest.see(now);
        self.largest.0.swap(now, Ordering::Relaxed)
    }
}

/// The peaks of a run's stages, in order, measured by one [`Meter`] (nothing when it
/// could not start).
#[derive(Debug, Clone, Default)]
pub struct Peaks {
    meter: Option<Meter>,
    /// (stage, peak bytes), in the order the stages ended.
    stages: Vec<(&'static str, u64)>,
}

impl Peaks {
    /// Starts measuring: the first stage begins now.
    pub fn start() -> Peaks {
        Peaks {
            meter: Meter::start(),
            stages: Vec::new(),
        }
    }

    /// Ends stage `name`: its peak is recorded, and the next stage begins.
    pub fn end(&mut self, name: &'static str) {
        if let Some(m) = &self.meter {
            self.stages.push((name, m.take()));
        }
    }

    /// Starts the next stage without recording: what came since is no stage's.
    pub fn restart(&mut self) {
        if let Some(m) = &self.meter {
            m.take();
        }
    }

    /// Records a peak measured elsewhere (by a runner, [`crate::SplitTook`]).
    pub fn record(&mut self, name: &'static str, bytes: u64) {
        if self.meter.is_some() {
            self.stages.push((name, bytes));
        }
    }

    /// The peaks recorded, in order, and the process's peak (`process`: the kernel's
    /// mark, or a stage's reading above it); empty when nothing could be measured.
    pub fn stages(&self) -> Vec<(&'static str, u64)> {
        if self.meter.is_none() {
            return Vec::new();
        }
        let mut s = self.stages.clone();
        // The kernel's counts of resident pages are summed lazily across cores, so a
        // reading can pass its mark by a few pages: the process's peak is never below a
        // stage's.
        let stages = s.iter().map(|&(_, b)| b).max();
        if let Some(p) = process_peak_bytes().max(stages) {
            s.push(("process", p));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_is_read_from_the_status_text() {
        let status = "Name:\tqianbiao\nVmPeak:\t  900 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(vm_hwm(status), Some(12345 * 1024));
        assert_eq!(vm_hwm("VmRSS:\t 100 kB\n"), None);
        assert_eq!(vm_hwm("VmHWM:\t lots kB\n"), None);
        assert_eq!(vm_hwm("VmHWM:\t 12 MB\n"), None);
        assert_eq!(status_kib(status, "VmRSS:"), Some(100 * 1024));
    }

    #[test]
    fn a_stage_that_held_more_has_the_higher_peak() {
        let mut p = Peaks::start();
        if p.meter.is_none() {
            // No /proc here: nothing is measured, nothing recorded.
            p.end("small");
            assert!(p.stages().is_empty());
            return;
        }
        p.end("small");
        // 256 MiB written (so resident), held until the meter's thread has read it (on
        // a busy machine the thread may wait its turn), then freed before the stage
        // ends: only the thread saw it.
        let big = vec![1u8; 256 << 20];
        std::hint::black_box(&big);
        let seen = &p.meter.as_ref().unwrap().largest.0;
        let start = std::time::Instant::now();
        while seen.load(Ordering::Relaxed) < 256 << 20 && start.elapsed().as_secs() < 30 {
            std::thread::sleep(INTERVAL);
        }
        drop(big);
        p.end("big");
        p.end("after");
        let s = p.stages();
        let names: Vec<&str> = s.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["small", "big", "after", "process"]);
        // Other tests of this binary run in threads beside this one, and their memory
        // counts too: only what this stage held is asserted, and that the process's peak
        // is no less than any stage's.
        assert!(s[1].1 >= 256 << 20, "{s:?}");
        assert!(s.iter().all(|&(_, b)| b <= s[3].1), "{s:?}");
    }
}
