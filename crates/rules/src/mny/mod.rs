//! MNY: money against the roster and the ledger (钱表相符).

use std::collections::BTreeMap;

use qianbiao_core::Finding;

use crate::groups::SymNumbers;
use crate::{Context, RuleMeta};

pub mod mny_001_deposit_mismatch;
pub mod mny_002_receipt_not_booked;
pub mod mny_003_money_held;
pub mod mny_004_money_advanced;
pub mod mny_005_account_pooling;
pub mod mny_006_receipt_gaps;

/// Effective payments with a collector, grouped by collector (sorted), passing `hit`.
///
/// Grouped by the collector's symbol (an array of group numbers by symbol, a few
/// thousand groups), then ordered by text: a map by text compared collector ids a dozen
/// times for each payment.
pub(crate) fn collector_payments<'a>(
    ctx: &Context<'a>,
    hit: impl Fn(u32) -> bool,
) -> BTreeMap<&'a str, Vec<u32>> {
    let syms = &ctx.ds.payments.collector_id;
    let mut group_of = SymNumbers::new(ctx.ds.strings.text.len());
    let mut groups: Vec<(&'a str, Vec<u32>)> = Vec::new();
    for (i, p) in ctx.effective() {
        let sym = syms[i as usize];
        if sym.is_empty() || !hit(i) {
            continue;
        }
        let (g, new) = group_of.number(sym, groups.len());
        if new {
            groups.push((p.collector_id(), Vec::new()));
        }
        groups[g].1.push(i);
    }
    groups.into_iter().collect()
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
