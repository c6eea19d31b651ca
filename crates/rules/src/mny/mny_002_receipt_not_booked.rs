//! MNY-002 收款未入账: Receipt never booked.
use qianbiao_core::Finding;

use crate::{Context, Rule};

declare_rule! {
    /// **What it finds**: a `receipts` row whose receipt_no is on no effective payment: the
    /// collector wrote a receipt for cash that never reached the ledger (rows of one number
    /// are one finding, amounts added).
    ///
    /// **Why it matters**: cash taken and not paid in is 截留 (五(八)), the gravest finding a
    /// collector can have.
    ///
    /// **Key**: `receipt_no`. **Amount**: the receipt.
    pub struct Mny002 {
        code: "MNY-002",
        severity: High,
        zh: "收款未入账",
        en: "Receipt never booked",
        needs: [Receipts],
    }
}

impl Rule for Mny002 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let mut out = Vec::new();
        for (no, rows, booked) in ctx.receipts_by_no.join(&ctx.payments_by_receipt) {
            if !booked.is_empty() {
                continue;
            }
            let r = ctx.receipt(rows[0]);
            let mut f = ctx.receipt_finding(&Self::META, no, rows);
            f.detail = format!(
                "代办员{}于{}开具收据{}收款{}元，但缴费明细中无对应有效缴费，款项未入账",
                r.collector_id(),
                r.collected_at().date(),
                no,
                f.amount
            );
            out.push(f);
        }
        out
    }
}
