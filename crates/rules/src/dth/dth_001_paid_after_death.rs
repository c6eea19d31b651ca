//! DTH-001 死亡后缴费: Payment after death.
use qianbiao_core::Finding;

use crate::{Context, Rule};

declare_rule! {
    /// **What it finds**: an effective payment (any payer type) paid on a day after the
    /// person's death date (the earliest of the `deaths` rows and a hukou 死亡 status_date).
    /// A payment on the day of death is not a finding.
    ///
    /// **Why it matters**: the plan forbids payment after death (五(五) 避免…死亡后缴费);
    /// money charged for the dead is refunded or was never really paid by them.
    ///
    /// **Key**: `txn_id`. **Amount**: the payment. **Sources**: the row that gives the
    /// death date, then the payment.
    pub struct Dth001 {
        code: "DTH-001",
        severity: High,
        zh: "死亡后缴费",
        en: "Payment after death",
        needs: [],
    }
}

impl Rule for Dth001 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let mut out = Vec::new();
        for (i, p) in ctx.effective() {
            let Some(person) = ctx.payment_person(i) else {
                continue;
            };
            let Some(death) = ctx.death_date(person) else {
                continue;
            };
            if p.paid_at().date() <= death {
                continue;
            }
            let mut f = ctx.payment_finding(&Self::META, i, p.txn_id().to_string());
            // The row that gives the death date, then the payment (as DTH-005).
            f.sources.splice(0..0, ctx.death_evidence(person));
            f.detail = format!(
                "{} 缴费{}元，但该人员已于{}死亡（来源：{}）",
                p.paid_at().date(),
                p.amount(),
                death,
                ctx.death_source(person)
            );
            out.push(f);
        }
        out
    }
}
