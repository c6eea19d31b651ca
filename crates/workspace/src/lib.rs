//! Nightly operation (`operations.md`): a workspace of runs, the changes since the last
//! run, the case register in `WS/cases.db`, and the tamper evidence `verify` checks.
//!
//! A workspace folder holds:
//!
//! ```text
//! WS/runs/RUN_ID/   one folder per complete run (moved in by rename when complete)
//! WS/latest         "RUN_ID\n": the newest complete run
//! WS/cases.db       the case register (SQLite)
//! WS/lock           the holder of the workspace while a run or an import works
//! WS/tmp/           staging folders of runs in progress (stale ones are removed)
//! WS/qianbiao.log   one line per run, import and failure (no ids, no names)
//! ```
#![warn(missing_docs)]

use std::io::Write;
use std::path::{Path, PathBuf};

pub mod cases_xlsx;
pub mod changes;
pub mod lock;
pub mod register;
pub mod run;
pub mod text;
pub mod verify;

pub use register::Status;
pub use run::{run, RunReport};
pub use verify::{verify, VerifyReport};

/// Why a workspace command could not complete (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// Another process holds the workspace.
    #[error("the workspace {ws} is held by {holder}")]
    Locked {
        /// The workspace folder.
        ws: String,
        /// Who holds it: run id, pid, host, start.
        holder: String,
    },
    /// The run itself failed (inputs, outputs).
    #[error(transparent)]
    Engine(#[from] qianbiao_engine::EngineError),
    /// A file system error on a named file.
    #[error("{file}: {cause}")]
    Io {
        /// The file or folder.
        file: String,
        /// The error (not a `source`: the message already says it, once).
        cause: std::io::Error,
    },
    /// The case register could not be read or written.
    #[error("{file}: {message}")]
    Db {
        /// The database file.
        file: String,
        /// What went wrong.
        message: String,
    },
    /// The workspace is not in a state a run can build on.
    #[error("{0}")]
    Inconsistent(String),
    /// A cases workbook that cannot be read or is not one of this workspace.
    #[error("{file}: {message}")]
    Workbook {
        /// The workbook.
        file: String,
        /// What is wrong with it.
        message: String,
    },
    /// Rows of a cases workbook failed validation: nothing was recorded.
    #[error("{file}: {} row(s) rejected, nothing recorded: {}", .rows.len(), .rows.iter().map(|(l, r)| format!("line {l}: {r}")).collect::<Vec<_>>().join("; "))]
    Rejected {
        /// The workbook.
        file: String,
        /// Each bad row: its line (header = 1) and the reason.
        rows: Vec<(u32, String)>,
    },
    /// `verify` found a run or file that does not hold.
    #[error("verify failed: run {run}: {file}: {reason}")]
    Verify {
        /// The first run that does not hold.
        run: String,
        /// The file in it.
        file: String,
        /// Why.
        reason: String,
    },
}

/// A shorthand for workspace results.
pub type Result<T> = std::result::Result<T, WorkspaceError>;

pub(crate) fn io_err(path: &Path) -> impl Fn(std::io::Error) -> WorkspaceError + '_ {
    move |cause| WorkspaceError::Io {
        file: path.display().to_string(),
        cause,
    }
}

/// The paths of a workspace folder.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The workspace folder.
    pub root: PathBuf,
}

impl Workspace {
    /// A workspace at `root` (nothing is created).
    pub fn new(root: impl Into<PathBuf>) -> Workspace {
        Workspace { root: root.into() }
    }
    /// `WS/runs`.
    pub fn runs(&self) -> PathBuf {
        self.root.join("runs")
    }
    /// `WS/tmp`: staging folders of runs in progress.
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }
    /// `WS/cases.db`.
    pub fn db(&self) -> PathBuf {
        self.root.join("cases.db")
    }
    /// `WS/latest`.
    pub fn latest(&self) -> PathBuf {
        self.root.join("latest")
    }
    /// `WS/lock`.
    pub fn lock(&self) -> PathBuf {
        self.root.join("lock")
    }
    /// `WS/qianbiao.log`.
    pub fn log_file(&self) -> PathBuf {
        self.root.join("qianbiao.log")
    }

    /// Appends one line to `WS/qianbiao.log` (best effort: a log that cannot be written
    /// never fails a run). Callers pass no id numbers or names.
    pub fn log(&self, line: &str) {
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_file())
        {
            let _ = writeln!(f, "{now} pid {} {line}", std::process::id());
        }
    }

    /// The complete runs, oldest first (the folders under `WS/runs/` sorted by name).
    pub fn run_ids(&self) -> Result<Vec<String>> {
        let dir = self.runs();
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut ids: Vec<String> = std::fs::read_dir(&dir)
            .map_err(io_err(&dir))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// The run folders under `WS/runs/`, sorted: the entries named as a RUN_ID that are
    /// folders. Anything else there (a `.DS_Store` a file browser left, a note) is no run
    /// and does not stop a run; `verify` still names it ([`Workspace::run_ids`]).
    pub fn run_folders(&self) -> Result<Vec<String>> {
        let runs = self.runs();
        Ok(self
            .run_ids()?
            .into_iter()
            .filter(|id| {
                chrono::NaiveDateTime::parse_from_str(id, crate::run::RUN_ID_FORMAT).is_ok()
                    && runs.join(id).is_dir()
            })
            .collect())
    }

    /// The run `WS/latest` names, if present and readable.
    pub fn read_latest(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.latest()).ok()?;
        text.split_whitespace().next().map(str::to_string)
    }
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, flushed, renamed over
/// it, the folder flushed.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = prepare_atomic(path, bytes)?;
    put_in_place(&tmp, path)
}

/// The first half of [`write_atomic`]: the temporary file beside `path`, written and
/// flushed (removed again when that fails); returns its path.
pub(crate) fn prepare_atomic(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(&tmp)(e));
    }
    Ok(tmp)
}

/// The second half of [`write_atomic`]: `tmp` renamed over `path`, the folder flushed.
pub(crate) fn put_in_place(tmp: &Path, path: &Path) -> Result<()> {
    std::fs::rename(tmp, path).map_err(io_err(path))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir);
    }
    Ok(())
}

/// Flushes a folder's entries (renames, new files) to disk; best effort.
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

pub use qianbiao_engine::sha256_hex;
