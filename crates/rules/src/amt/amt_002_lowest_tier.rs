//! AMT-002 违规适用最低档: Lowest tier without entitlement.
use qianbiao_core::{Finding, Scheme};

use crate::{individual, Context, Rule};

declare_rule! {
    /// **What it finds**: an effective individual resident_pension payment of exactly the
    /// lowest tier [100] by a person in none of the hundred-tier groups [残疾 (any level),
    /// 五保, 特困, 低保, 优抚, 脱贫] on the payment day.
    ///
    /// **Why it matters**: the 100 tier is reserved for the five hardship groups (四(一));
    /// others paying it draw a subsidy they are not entitled to.
    ///
    /// **Key**: `txn_id`. **Amount**: the payment.
    pub struct Amt002 {
        code: "AMT-002",
        severity: Medium,
        zh: "违规适用最低档",
        en: "Lowest tier without entitlement",
        needs: [Eligibility],
    }
}

impl Rule for Amt002 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let pol = ctx.policy;
        let mut out = Vec::new();
        for (i, p) in ctx.effective() {
            if !individual(&p, Scheme::ResidentPension) || p.amount() != pol.hundred_tier {
                continue;
            }
            let Some(person) = ctx.payment_person(i) else {
                continue;
            };
            let day = p.paid_at().date();
            if ctx
                .entitlement()
                .in_any(person, &pol.hundred_tier_groups, day)
            {
                continue;
            }
            let mut f = ctx.payment_finding(&Self::META, i, p.txn_id().to_string());
            f.detail = format!(
                "{} 按{}元最低档缴纳居民养老，但缴费当日该人员不属于残疾、五保、特困、低保、优抚、脱贫等困难群体",
                day, p.amount()
            );
            out.push(f);
        }
        out
    }
}
