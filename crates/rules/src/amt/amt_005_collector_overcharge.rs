//! AMT-005 代办员多收: Collector took more than booked.
use qianbiao_core::{Fen, Finding};

use crate::{total, Context, Rule};

declare_rule! {
    /// **What it finds**: a receipt number whose `receipts` amount (added over its rows) is
    /// larger than the effective payments carrying the same receipt_no (added likewise).
    /// A receipt on no effective payment is MNY-002, not this.
    ///
    /// **Why it matters**: the collector took more cash from the resident than reached the
    /// tax ledger: 截留 and 超标准收费 (五(八)).
    ///
    /// **Key**: `receipt_no`. **Amount**: receipt minus payment.
    pub struct Amt005 {
        code: "AMT-005",
        severity: High,
        zh: "代办员多收",
        en: "Collector took more than booked",
        needs: [Receipts],
    }
}

impl Rule for Amt005 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let mut out = Vec::new();
        for (no, receipts, payments) in ctx.receipts_by_no.join(&ctx.payments_by_receipt) {
            if payments.is_empty() {
                continue;
            }
            let received: Fen = receipts.iter().map(|&i| ctx.receipt(i).amount()).sum();
            let booked = total(ctx, payments);
            if received <= booked {
                continue;
            }
            let r = ctx.receipt(receipts[0]);
            let mut f = Finding::new(Self::META.code, Self::META.severity, no);
            ctx.fill_person(&mut f, &r.id(), r.name(), r.village());
            f.collector_id = r.collector_id().to_string();
            f.scheme = Some(r.scheme());
            f.period = Some(r.period());
            f.amount = received - booked;
            ctx.cite_payments(&mut f, payments);
            f.sources
                .extend(receipts.iter().map(|&i| ctx.src(ctx.receipt(i).prov())));
            f.detail = format!(
                "代办员{}收据{}收款{}元，入账缴费仅{}元，多收{}元",
                r.collector_id(),
                no,
                received,
                booked,
                f.amount
            );
            out.push(f);
        }
        out
    }
}
