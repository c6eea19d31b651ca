//! COV: coverage against the plan's targets. The coverage table itself is computed with
//! the context ([`crate::tables::coverage`]): `coverage.csv` is written whether COV-001
//! runs or not.

pub mod cov_001_coverage_target;

pub use qianbiao_core::summary::CoverageRow;
