//! DUP-004 收据号重复: Receipt number reused.
use qianbiao_core::{Finding, IdStr, Scheme};

use super::txn_list;
use crate::{total, Context, Rule};

declare_rule! {
    /// **What it finds**: one receipt number on effective payments of two or more different
    /// person-scheme pairs (the period is ignored: one receipt on a person's pension and
    /// medical is two pairs).
    ///
    /// **Why it matters**: a pre-printed receipt (收据, 四(四)4) covers one payment; a number
    /// used twice hides cash that was taken but not booked, or a forged receipt.
    ///
    /// **Key**: `receipt_no`. **Amount**: the total of those payments.
    pub struct Dup004 {
        code: "DUP-004",
        severity: Medium,
        zh: "收据号重复",
        en: "Receipt number reused",
        needs: [],
    }
}

impl Rule for Dup004 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let mut out = Vec::new();
        for (no, rows) in ctx.payments_by_receipt.iter() {
            // One payment is one person-scheme pair: nothing to compare.
            if rows.len() < 2 {
                continue;
            }
            // An id that lost its digits as a number stands for nobody: its payment is no
            // person-scheme pair and takes no part.
            let rows: Vec<u32> = rows
                .iter()
                .copied()
                .filter(|&i| !ctx.payment(i).id_lost())
                .collect();
            let rows = &rows[..];
            let mut pairs: Vec<(IdStr, Scheme)> = rows
                .iter()
                .map(|&i| (ctx.payment(i).id(), ctx.payment(i).scheme()))
                .collect();
            pairs.sort_unstable();
            pairs.dedup();
            if pairs.len() < 2 {
                continue;
            }
            let mut f = Finding::new(Self::META.code, Self::META.severity, no);
            let mut ids: Vec<IdStr> = pairs.iter().map(|p| p.0).collect();
            ids.dedup();
            if ids.len() == 1 {
                let p = ctx.payment(rows[0]);
                ctx.fill_person(&mut f, &p.id(), p.name(), p.village());
            }
            f.collector_id = ctx.collectors_of(rows);
            f.amount = total(ctx, rows);
            ctx.cite_payments(&mut f, rows);
            f.detail = format!(
                "收据号{}用于{}个人员险种的{}笔缴费（流水号{}），共{}元，应核实收据真伪及现金去向",
                no,
                pairs.len(),
                rows.len(),
                txn_list(ctx, rows),
                f.amount
            );
            out.push(f);
        }
        out
    }
}
