//! Lossless ingest of the eight departmental exports.
//!
//! Every input row is either accepted as a typed, normalised row with its provenance
//! (file, line) or rejected with a reason; nothing is dropped silently.
#![warn(missing_docs)]

pub mod arrow;
pub mod error;
pub mod load;
pub mod parse;
pub mod read;
pub mod source;
pub mod tables;
mod xls_guard;

pub use error::IngestError;
pub use load::{
    dedupe_payments, load, load_chunks, load_file_chunks, plan, scan_floor, sha256_file,
    sha256_hex, Chunk, Conflict, Dataset, DecidedLinks, FilePlan, FileReport, LinkedRow,
    LoadOptions, Rejected,
};
pub use source::SourceKind;
pub use tables::*;
