//! Domain types of qianbiao: identity numbers, coded values, money, dates and the policy.
//!
//! Everything here is pure: parsing and normalising single values, no I/O. The ingest
//! crate applies these to whole columns; the rules crate reasons with the results.
#![warn(missing_docs)]

pub mod arena;
pub mod change;
pub mod codes;
pub mod date;
pub mod finding;
pub mod id;
pub mod money;
pub mod policy;
pub mod rule;
pub mod source;
pub mod stamp;
pub mod summary;
pub mod sym;
pub mod text;

pub use arena::StrCol;
pub use change::{Change, ChangeKind};
pub use codes::{Category, HukouStatus, PayerType, PaymentStatus, Scheme};
pub use finding::{Finding, Severity};
pub use id::IdNumber;
pub use money::Fen;
pub use policy::Policy;
pub use rule::RuleMeta;
pub use source::SourceKind;
pub use stamp::Stamp;
pub use sym::{pack_id, IdCol, IdStr, IdTable, Interner, Sym};

/// A `&'static str` field of a value sent between processes, read with [`static_str`].
/// (Spelled as an alias so that serde does not borrow the field from its input.)
pub type StaticStr = &'static str;

/// Deserialises a `&'static str` field (a rule code, a source or format name) of a value
/// sent between the processes of a distributed run: each distinct text is stored once for
/// the life of the process, so a long-running executor holds a few dozen such texts at
/// most, however many values it reads.
pub fn static_str<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    use std::sync::Mutex;
    static SEEN: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = seen.iter().find(|s| **s == text) {
        return Ok(s);
    }
    let s: &'static str = Box::leak(text.into_owned().into_boxed_str());
    seen.push(s);
    Ok(s)
}
