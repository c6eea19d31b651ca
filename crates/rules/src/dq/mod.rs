//! DQ: data quality problems that hide people or payments.

pub mod dq_001_invalid_id;
pub mod dq_002_name_mismatch;
pub mod dq_003_txn_conflict;
pub mod dq_004_control_total;
