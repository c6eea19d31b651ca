//! AMT-001 非标准档次: Pension amount not a tier.
use qianbiao_core::{Finding, Scheme};

use crate::{individual, Context, Rule};

declare_rule! {
    /// **What it finds**: an effective individual resident_pension payment whose amount is
    /// not one of the pension tiers [100 300 500 600 800 1000 1500 2000 2500 3000 4000
    /// 5000]. Payments with an invalid id are checked too.
    ///
    /// **Why it matters**: the plan fixes 12 tiers (四(一)); any other amount was charged
    /// outside the standard (超标准收费) or mistyped.
    ///
    /// **Key**: `txn_id`. **Amount**: the payment.
    pub struct Amt001 {
        code: "AMT-001",
        severity: Medium,
        zh: "非标准档次",
        en: "Pension amount not a tier",
        needs: [],
    }
}

impl Rule for Amt001 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let tiers = &ctx.policy.pension_tiers;
        let mut out = Vec::new();
        for (i, p) in ctx.effective() {
            if !individual(&p, Scheme::ResidentPension) || tiers.contains(&p.amount()) {
                continue;
            }
            let mut f = ctx.payment_finding(&Self::META, i, p.txn_id().to_string());
            let list: Vec<String> = tiers.iter().map(|t| (t.0 / 100).to_string()).collect();
            f.detail = format!(
                "{} 居民养老个人缴费{}元，不属于规定的缴费档次（{}元）",
                p.paid_at().date(),
                p.amount(),
                list.join("、")
            );
            out.push(f);
        }
        out
    }
}
