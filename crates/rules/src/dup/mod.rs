//! DUP: duplicate payments and enrolments.

use crate::Context;

pub mod dup_001_duplicate_payment;
pub mod dup_002_government_and_individual;
pub mod dup_003_employee_and_resident;
pub mod dup_004_receipt_reused;
pub mod dup_005_government_twice;

/// `txn1、txn2` for details.
pub(crate) fn txn_list(ctx: &Context, rows: &[u32]) -> String {
    let mut v: Vec<&str> = rows
        .iter()
        .map(|&i| ctx.payment(i).txn_id.as_str())
        .collect();
    v.sort_unstable();
    v.join("、")
}
