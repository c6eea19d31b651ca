//! MNY: money against the roster and the ledger (钱表相符).

use std::collections::BTreeMap;

use qianbiao_core::Finding;

use crate::{Context, RuleMeta};

pub mod mny_001_deposit_mismatch;
pub mod mny_002_receipt_not_booked;
pub mod mny_003_money_held;
pub mod mny_004_money_advanced;
pub mod mny_005_account_pooling;
pub mod mny_006_receipt_gaps;

/// Effective payments with a collector, grouped by collector (sorted), passing `hit`.
pub(crate) fn collector_payments<'a>(
    ctx: &Context<'a>,
    hit: impl Fn(u32) -> bool,
) -> BTreeMap<&'a str, Vec<u32>> {
    let mut by: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for (i, p) in ctx.effective() {
        if !p.collector_id().is_empty() && hit(i) {
            by.entry(p.collector_id()).or_default().push(i);
        }
    }
    by
}

/// A finding keyed by collector over some of their payments.
pub(crate) fn collector_finding(
    ctx: &Context,
    meta: &RuleMeta,
    collector: &str,
    rows: &[u32],
) -> Finding {
    let mut f = Finding::new(meta.code, meta.severity, collector);
    f.collector_id = collector.to_string();
    f.amount = crate::total(ctx, rows);
    if let Some(v) = rows.first().map(|&i| ctx.payment(i).village()) {
        if rows.iter().all(|&i| ctx.payment(i).village() == v) {
            f.village = v.to_string();
        }
    }
    ctx.cite_payments(&mut f, rows);
    f
}
