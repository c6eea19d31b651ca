//! MNY-003 资金滞留: Money held back.
use qianbiao_core::Finding;

use super::{collector_finding, collector_payments};
use crate::{Context, Rule};

declare_rule! {
    /// **What it finds**: a collector's payments deposited more than [3] days after paid_at
    /// (by date; for a deposit_id listed on several dates, the latest), or not deposited
    /// (no deposit_id, or one not in `deposits`) while as_of is more than [3] days after
    /// paid_at. Exactly 3 days is not a finding.
    ///
    /// **Why it matters**: holding collected money back (滞留资金) is forbidden (六(二)).
    ///
    /// **Key**: `collector_id`. **Amount**: the total of those payments.
    pub struct Mny003 {
        code: "MNY-003",
        severity: High,
        zh: "资金滞留",
        en: "Money held back",
        needs: [Deposits],
    }
}

impl Rule for Mny003 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let limit = ctx.policy.deposit_deadline_days;
        let held_days = |i: u32| {
            let p = ctx.payment(i);
            let until = ctx.deposit_of_payment(i).map_or(ctx.as_of, |d| d.last_date);
            (until - p.paid_at().date()).num_days()
        };
        let mut out = Vec::new();
        for (collector, rows) in collector_payments(ctx, |i| held_days(i) > limit) {
            let mut f = collector_finding(ctx, &Self::META, collector, &rows);
            let undeposited = rows
                .iter()
                .filter(|&&i| ctx.deposit_of_payment(i).is_none())
                .count();
            let longest = rows.iter().map(|&i| held_days(i)).max().unwrap_or(0);
            f.detail = format!(
                "代办员{}有{}笔缴费共{}元超过{}天未解缴（其中{}笔截至{}仍未解缴），最长滞留{}天",
                collector,
                rows.len(),
                f.amount,
                limit,
                undeposited,
                ctx.as_of,
                longest
            );
            out.push(f);
        }
        out
    }
}
