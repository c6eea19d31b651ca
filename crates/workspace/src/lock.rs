//! The workspace lock: a file naming its holder, created atomically (written in full
//! under a private name, then hard-linked to `WS/lock`, which fails if it exists). A lock
//! whose process is gone is stale and is taken over.

use std::path::{Path, PathBuf};

use crate::{io_err, Result, WorkspaceError};

/// A held lock; released (the file removed) when dropped.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
    content: String,
}

/// Who holds a lock, as written in the lock file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// The process start time in clock ticks since boot (guards against pid reuse).
    pub proc_start: String,
    /// What holds it: a run id, or `cases import`.
    pub what: String,
    /// When it was taken (UTC).
    pub started: String,
}

impl Holder {
    fn me(what: &str) -> Holder {
        let pid = std::process::id();
        Holder {
            pid,
            host: hostname(),
            proc_start: proc_start(pid).unwrap_or_default(),
            what: what.to_string(),
            started: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }
    }

    fn to_text(&self) -> String {
        format!(
            "pid={}\nhost={}\nproc_start={}\nholder={}\nstarted={}\n",
            self.pid, self.host, self.proc_start, self.what, self.started
        )
    }

    /// Parses a lock file's text; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Holder> {
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
                .map(str::to_string)
        };
        Some(Holder {
            pid: get("pid")?.parse().ok()?,
            host: get("host")?,
            proc_start: get("proc_start").unwrap_or_default(),
            what: get("holder").unwrap_or_default(),
            started: get("started").unwrap_or_default(),
        })
    }

    /// The holder of a lock file that is not one of ours (empty, garbled, or written by
    /// hand or by another tool). Ours are never partial (linked in whole), so no run of
    /// ours holds it: it is stale, unless it names a pid (a bare number, or a line
    /// `pid=N`) of a process alive on this host.
    fn unreadable(text: &str) -> Holder {
        let pid = text
            .split(|c: char| !c.is_ascii_digit())
            .find(|t| !t.is_empty())
            .and_then(|t| t.parse::<u32>().ok())
            .filter(|&p| p > 0);
        Holder {
            pid: pid.unwrap_or(0),
            host: hostname(),
            proc_start: String::new(),
            what: "an unreadable lock file".into(),
            started: String::new(),
        }
    }

    /// One line for messages.
    pub fn describe(&self) -> String {
        format!(
            "{} (pid {} on host {}, since {})",
            self.what, self.pid, self.host, self.started
        )
    }

    /// Whether the holding process still runs. A holder on another host cannot be
    /// checked and counts as alive.
    pub fn alive(&self) -> bool {
        if self.host != hostname() {
            return true;
        }
        if self.pid == 0 {
            return false;
        }
        let Some(stat) = read_stat(self.pid) else {
            return false;
        };
        let (state, start) = stat;
        if state == "Z" || state == "X" {
            return false;
        }
        self.proc_start.is_empty() || self.proc_start == start
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// (state, start time) of a process from `/proc/PID/stat`.
fn read_stat(pid: u32) -> Option<(String, String)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some((fields.first()?.to_string(), fields.get(19)?.to_string()))
}

fn proc_start(pid: u32) -> Option<String> {
    read_stat(pid).map(|(_, s)| s)
}

/// Takes the lock of workspace folder `ws` for `what` (a run id or `cases import`).
/// Returns the lock and, when a stale lock was taken over, who had left it.
pub fn acquire(ws: &Path, what: &str) -> Result<(Lock, Option<Holder>)> {
    let path = ws.join("lock");
    let me = Holder::me(what);
    let content = me.to_text();
    let private = ws.join(format!("lock.{}", me.pid));
    remove_stale_private(ws);
    std::fs::write(&private, &content).map_err(io_err(&private))?;
    if let Ok(f) = std::fs::File::open(&private) {
        let _ = f.sync_all();
    }
    let mut taken_over = None;
    let result = loop {
        match std::fs::hard_link(&private, &path) {
            Ok(()) => {
                crate::sync_dir(ws);
                break Ok(());
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let h = Holder::parse(&text).unwrap_or_else(|| Holder::unreadable(&text));
                if h.alive() {
                    break Err(WorkspaceError::Locked {
                        ws: ws.display().to_string(),
                        holder: h.describe(),
                    });
                }
                if taken_over.is_some() {
                    break Err(WorkspaceError::Locked {
                        ws: ws.display().to_string(),
                        holder: "another process that took over the same stale lock".into(),
                    });
                }
                // The holder is dead: its lock is stale.
                let _ = std::fs::remove_file(&path);
                taken_over = Some(h);
            }
            Err(e) => break Err(io_err(&path)(e)),
        }
    };
    let _ = std::fs::remove_file(&private);
    result.map(|()| (Lock { path, content }, taken_over))
}

/// Removes `lock.PID` files of processes that are gone (a run killed while taking the
/// lock).
fn remove_stale_private(ws: &Path) {
    let Ok(entries) = std::fs::read_dir(ws) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name
            .strip_prefix("lock.")
            .and_then(|p| p.parse::<u32>().ok())
        {
            if pid != std::process::id() && read_stat(pid).is_none() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Only our own lock: never remove one another process took over.
        if std::fs::read_to_string(&self.path).ok().as_deref() == Some(self.content.as_str()) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_names_the_holder_and_dead_holder_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let (lock, stale) = acquire(dir.path(), "20211201T023000").unwrap();
        assert!(stale.is_none());
        let err = acquire(dir.path(), "20211201T023001").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("20211201T023000"), "{msg}");
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        drop(lock);
        assert!(!dir.path().join("lock").exists());

        // A lock left by a process that is gone (pid reused: start time differs).
        let dead = Holder {
            pid: std::process::id(),
            host: hostname(),
            proc_start: "1".into(),
            what: "20211130T023000".into(),
            started: "2021-11-30T02:30:00Z".into(),
        };
        std::fs::write(dir.path().join("lock"), dead.to_text()).unwrap();
        let (_lock, stale) = acquire(dir.path(), "20211201T023000").unwrap();
        assert_eq!(stale.unwrap().what, "20211130T023000");
    }

    #[test]
    fn a_lock_file_that_is_not_ours_is_stale_unless_it_names_a_live_process() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("lock");
        // Empty, garbled, or a pid no process has: taken over.
        for text in ["", "garbled \u{0}\u{1}", "4194304999\n"] {
            std::fs::write(&lock, text).unwrap();
            let (held, stale) = acquire(dir.path(), "20211201T023000").unwrap();
            assert_eq!(stale.unwrap().what, "an unreadable lock file", "{text:?}");
            drop(held);
        }
        // A bare pid of a live process on this host (this test's): held.
        std::fs::write(&lock, format!("{}\n", std::process::id())).unwrap();
        let err = acquire(dir.path(), "20211201T023000")
            .unwrap_err()
            .to_string();
        assert!(err.contains("an unreadable lock file"), "{err}");
        assert!(lock.exists());
    }

    #[test]
    fn other_host_counts_as_alive() {
        let h = Holder {
            pid: 1,
            host: "elsewhere-not-this-host".into(),
            proc_start: String::new(),
            what: "x".into(),
            started: String::new(),
        };
        assert!(h.alive());
        assert_eq!(Holder::parse(&h.to_text()), Some(h));
    }
}
