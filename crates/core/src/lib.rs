//! Domain types of qianbiao: identity numbers, coded values, money, dates and the policy.
//!
//! Everything here is pure: parsing and normalising single values, no I/O. The ingest
//! crate applies these to whole columns; the rules crate reasons with the results.
#![warn(missing_docs)]

pub mod change;
pub mod codes;
pub mod date;
pub mod finding;
pub mod id;
pub mod money;
pub mod policy;
pub mod rule;
pub mod source;
pub mod summary;
pub mod sym;
pub mod text;

pub use change::{Change, ChangeKind};
pub use codes::{Category, HukouStatus, PayerType, PaymentStatus, Scheme};
pub use finding::{Finding, Severity};
pub use id::IdNumber;
pub use money::Fen;
pub use policy::Policy;
pub use rule::RuleMeta;
pub use source::SourceKind;
pub use sym::{Interner, Sym};
