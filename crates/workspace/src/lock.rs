//! The workspace lock: a file naming its holder, created atomically (written in full
//! under a private name, then hard-linked to `WS/lock`, which fails if it exists). A lock
//! whose process is gone is stale and is taken over.
//!
//! A holder on this host is alive while its process runs. One on another host (a shared
//! workspace, or a container restarted under a new host name) cannot be looked up, so
//! the holder proves it lives: it touches the lock file every [`HEARTBEAT`], and a lock
//! of another host not touched for [`STALE_AFTER`] is stale.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use crate::{io_err, Result, WorkspaceError};

/// How often a holder touches its lock file.
pub const HEARTBEAT: Duration = Duration::from_secs(60);

/// A lock of another host not touched for this long is stale (ten heartbeats: a holder
/// slowed down by a loaded machine or a slow shared disk still makes it).
pub const STALE_AFTER: Duration = Duration::from_secs(600);

/// A held lock; released (the file removed) when dropped.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
    content: String,
    heartbeat: Option<(mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
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
    /// checked: it counts as alive while its lock file was touched within
    /// [`STALE_AFTER`] (`age`: how long ago; `None` when unknown, which counts as fresh).
    pub fn alive(&self, age: Option<Duration>) -> bool {
        if self.host != hostname() {
            return age.is_none_or(|a| a < STALE_AFTER);
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
    acquire_beating(ws, what, HEARTBEAT)
}

/// How long ago a file was last modified; `None` when unknown or in the future (a clock
/// of another host ahead of ours).
fn age_of(path: &Path) -> Option<Duration> {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok()?;
    SystemTime::now().duration_since(modified).ok()
}

/// [`acquire`], touching the lock every `every`.
fn acquire_beating(ws: &Path, what: &str, every: Duration) -> Result<(Lock, Option<Holder>)> {
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
                if h.alive(age_of(&path)) {
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
    result.map(|()| {
        let heartbeat = beat(path.clone(), content.clone(), every);
        (
            Lock {
                path,
                content,
                heartbeat,
            },
            taken_over,
        )
    })
}

/// Touches the lock file every `every` while it is still ours, until told to stop (or
/// the lock is dropped). `None` when no thread could be started: the lock still holds,
/// only a host other than this one would take it for stale after [`STALE_AFTER`].
fn beat(
    path: PathBuf,
    content: String,
    every: Duration,
) -> Option<(mpsc::Sender<()>, std::thread::JoinHandle<()>)> {
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("qianbiao-lock".into())
        .spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
                    return;
                }
                if let Ok(f) = std::fs::File::options().append(true).open(&path) {
                    let _ = f.set_modified(SystemTime::now());
                }
            }
        })
        .ok()?;
    Some((stop, thread))
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

impl Lock {
    /// Stops touching the lock file (and waits for the thread that does).
    fn stop_heartbeat(&mut self) {
        if let Some((stop, thread)) = self.heartbeat.take() {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }

    /// Names another holder (`what`) in the lock file, replaced whole (written under a
    /// private name, then renamed over it), so that a reader sees the old or the new
    /// name, never a part.
    pub fn rename(&mut self, what: &str) -> Result<()> {
        let mut me = Holder::parse(&self.content).unwrap_or_else(|| Holder::me(what));
        me.what = what.to_string();
        let content = me.to_text();
        let ws = self.path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let private = ws.join(format!("lock.{}", std::process::id()));
        std::fs::write(&private, &content).map_err(io_err(&private))?;
        // The heartbeat compares the file with the content it knows: stop it first, so
        // that it never takes the renamed lock for another process's.
        self.stop_heartbeat();
        let renamed = std::fs::rename(&private, &self.path).map_err(io_err(&self.path));
        if renamed.is_ok() {
            self.content = content;
            crate::sync_dir(&ws);
        } else {
            let _ = std::fs::remove_file(&private);
        }
        self.heartbeat = beat(self.path.clone(), self.content.clone(), HEARTBEAT);
        renamed
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        self.stop_heartbeat();
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
    fn other_host_counts_as_alive_while_its_lock_is_touched() {
        let h = Holder {
            pid: 1,
            host: "elsewhere-not-this-host".into(),
            proc_start: String::new(),
            what: "x".into(),
            started: String::new(),
        };
        assert!(h.alive(None));
        assert!(h.alive(Some(Duration::from_secs(0))));
        assert!(h.alive(Some(STALE_AFTER - Duration::from_secs(1))));
        assert!(!h.alive(Some(STALE_AFTER)));
        assert_eq!(Holder::parse(&h.to_text()), Some(h));
    }

    /// Sets a file's modification time.
    fn touch(path: &Path, when: SystemTime) {
        let f = std::fs::File::options().append(true).open(path).unwrap();
        f.set_modified(when).unwrap();
    }

    /// A lock file as another host's run writes it, last touched `ago`.
    fn other_hosts_lock(dir: &Path, ago: Duration) {
        let h = Holder {
            pid: 4_194_303,
            host: "oldhost-not-this-one".into(),
            proc_start: String::new(),
            what: "run 20211130T023000".into(),
            started: "2021-11-30T02:30:00Z".into(),
        };
        let path = dir.join("lock");
        std::fs::write(&path, h.to_text()).unwrap();
        touch(&path, SystemTime::now() - ago);
    }

    #[test]
    fn a_lock_of_another_host_holds_while_touched_and_is_taken_over_once_stale() {
        let dir = tempfile::tempdir().unwrap();
        other_hosts_lock(dir.path(), Duration::from_secs(60));
        let err = acquire(dir.path(), "run 20211201T023000")
            .unwrap_err()
            .to_string();
        assert!(err.contains("oldhost-not-this-one"), "{err}");
        // A killed run of another host (or of this container before it got a new name)
        // no longer blocks the workspace once its lock has not been touched for ten
        // minutes.
        other_hosts_lock(dir.path(), STALE_AFTER + Duration::from_secs(1));
        let (_lock, stale) = acquire(dir.path(), "run 20211201T023000").unwrap();
        assert_eq!(stale.unwrap().what, "run 20211130T023000");
    }

    #[test]
    fn a_renamed_lock_names_its_new_holder_and_is_still_released() {
        let dir = tempfile::tempdir().unwrap();
        let (mut lock, _) = acquire(dir.path(), "run 20211201T023000").unwrap();
        lock.rename("run 20211201T023001").unwrap();
        let err = acquire(dir.path(), "run 20211201T023002")
            .unwrap_err()
            .to_string();
        assert!(err.contains("run 20211201T023001"), "{err}");
        assert!(!err.contains("run 20211201T023000"), "{err}");
        drop(lock);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert!(
            names.is_empty(),
            "lock and private files removed: {names:?}"
        );
    }

    #[test]
    fn a_held_lock_is_touched_while_held_and_no_longer_once_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let (lock, _) = acquire_beating(dir.path(), "run x", Duration::from_millis(20)).unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        touch(&path, old);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while age_of(&path).is_some_and(|a| a > Duration::from_secs(1800)) {
            assert!(std::time::Instant::now() < deadline, "never touched");
            std::thread::sleep(Duration::from_millis(10));
        }
        let content = std::fs::read_to_string(&path).unwrap();
        drop(lock);
        assert!(!path.exists());
        // Another process's lock in its place is never touched by a dropped holder's
        // thread (it has stopped) nor removed.
        std::fs::write(&path, &content).unwrap();
        touch(&path, old);
        std::thread::sleep(Duration::from_millis(100));
        assert!(age_of(&path).unwrap() > Duration::from_secs(1800));
    }
}
