//! Errors that stop a load (exit status 2); bad rows are rejected instead.

/// Why a data folder could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// `--data` is not a folder.
    #[error("{0}: not a folder")]
    NoDataDir(String),
    /// A required source has no file.
    #[error("{dir}: required source `{source_name}` not found (expected {source_name}.csv, {source_name}.xlsx, {source_name}.xls, {source_name}.parquet or a folder {source_name}/)")]
    MissingSource {
        /// The data folder.
        dir: String,
        /// The source name.
        source_name: &'static str,
    },
    /// A required column is missing from a file's header.
    #[error("{file}: required column {column} not found in the header (no row among the first 20 holds every required column)")]
    MissingColumn {
        /// The file, relative to the data folder.
        file: String,
        /// The column and its aliases.
        column: String,
    },
    /// The reader's line accounting does not add up: a bug, reported rather than a line
    /// silently lost.
    #[error(
        "{file}: internal error: line accounting does not add up ({detail}); please report this"
    )]
    LineAccounting {
        /// The file.
        file: String,
        /// The counts.
        detail: String,
    },
    /// A file could not be read or decoded.
    #[error("{file}: cannot read: {reason}")]
    Unreadable {
        /// The file.
        file: String,
        /// What went wrong.
        reason: String,
    },
}
