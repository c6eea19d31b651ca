//! DUP: duplicate payments and enrolments.

use std::collections::HashMap;

use qianbiao_core::Scheme;
use qianbiao_ingest::{PaymentRow, Text};

use crate::Context;

pub mod dup_001_duplicate_payment;
pub mod dup_002_government_and_individual;
pub mod dup_003_employee_and_resident;
pub mod dup_004_receipt_reused;

/// Effective resident-scheme payments passing `keep`, grouped by person (the normalised id,
/// valid or not), scheme and period; each group in ledger order.
pub(crate) fn person_scheme_groups(
    ctx: &Context,
    keep: impl Fn(&PaymentRow) -> bool,
) -> Vec<Vec<u32>> {
    let mut groups: HashMap<(&Text, Scheme, i32), Vec<u32>> = HashMap::new();
    for (i, p) in ctx.effective() {
        if p.scheme.is_resident() && keep(p) {
            groups
                .entry((&p.id, p.scheme, p.period))
                .or_default()
                .push(i);
        }
    }
    groups.into_values().collect()
}

/// `txn1、txn2` for details.
pub(crate) fn txn_list(ctx: &Context, rows: &[u32]) -> String {
    let mut v: Vec<&str> = rows
        .iter()
        .map(|&i| ctx.payment(i).txn_id.as_str())
        .collect();
    v.sort_unstable();
    v.join("、")
}
