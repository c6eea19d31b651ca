//! MNY-004 垫资缴费: Money advanced.
use qianbiao_core::Finding;

use super::{collector_finding, collector_payments};
use crate::{Context, Rule};

declare_rule! {
    /// **What it finds**: a collector's payments whose deposit's deposited_at is before
    /// their paid_at date (for a deposit_id listed on several dates, the earliest). A
    /// deposit on the payment day is not a finding.
    ///
    /// **Why it matters**: money handed in before it was collected was advanced (垫资缴费,
    /// forbidden by 六(二)): someone fronted it, often to fake coverage figures.
    ///
    /// **Key**: `collector_id`. **Amount**: the total of those payments.
    pub struct Mny004 {
        code: "MNY-004",
        severity: High,
        zh: "垫资缴费",
        en: "Money advanced",
        needs: [Deposits],
    }
}

impl Rule for Mny004 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let advanced = |i: u32| {
            ctx.deposit_of_payment(i)
                .is_some_and(|d| d.first_date < ctx.payment(i).paid_at().date())
        };
        let mut out = Vec::new();
        for (collector, rows) in collector_payments(ctx, advanced) {
            let mut f = collector_finding(ctx, &Self::META, collector, &rows);
            let mut deposits: Vec<&str> =
                rows.iter().map(|&i| ctx.payment(i).deposit_id()).collect();
            deposits.sort_unstable();
            deposits.dedup();
            f.detail = format!(
                "代办员{}有{}笔缴费共{}元的解缴日期早于缴费日期（解缴单{}），存在垫资缴费",
                collector,
                rows.len(),
                f.amount,
                deposits.join("、")
            );
            out.push(f);
        }
        out
    }
}
