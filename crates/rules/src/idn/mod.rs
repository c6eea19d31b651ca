//! IDN: identity, rows whose invalid id is linked to the person it most likely belongs to.

pub mod idn_001_mistyped_id;
