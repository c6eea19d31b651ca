//! The rule fixtures: each family's in a module of its own, all in one test binary (one
//! link of the engine, the ingest and polars instead of four, in every clean build).

#[path = "../common/mod.rs"]
mod common;

mod rules_amt_elg;
mod rules_dup_dth;
mod rules_link;
mod rules_mny_dq_cov;
