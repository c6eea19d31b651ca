//! DTH-002 所属期前死亡: Died before the contribution year.
use qianbiao_core::Finding;

use crate::{Context, Rule};

declare_rule! {
    /// **What it finds**: an effective payment for year Y paid on or before the person's
    /// death date, where the death date is before Y-01-01: the person died before the year
    /// the money covers.
    ///
    /// **Why it matters**: a contribution for a year the person did not live to see buys
    /// nothing (五(五)); it is a refund due to the family.
    ///
    /// **Key**: `txn_id`. **Amount**: the payment. **Sources**: the row that gives the
    /// death date, then the payment.
    pub struct Dth002 {
        code: "DTH-002",
        severity: Medium,
        zh: "所属期前死亡",
        en: "Died before the contribution year",
        needs: [],
    }
}

impl Rule for Dth002 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let year = ctx.policy.year;
        let start = ctx.policy.year_start();
        let mut out = Vec::new();
        for (i, p) in ctx.effective() {
            if p.period() != year {
                continue;
            }
            let Some(person) = ctx.payment_person(i) else {
                continue;
            };
            let Some(death) = ctx.death_date(person) else {
                continue;
            };
            if death >= start || p.paid_at().date() > death {
                continue;
            }
            let mut f = ctx.payment_finding(&Self::META, i, p.txn_id().to_string());
            // The row that gives the death date, then the payment (as DTH-005).
            f.sources.splice(0..0, ctx.death_evidence(person));
            f.detail = format!(
                "{} 缴纳{}年度{}{}元，但该人员已于{}死亡（来源：{}），所属期开始前已死亡，应予退费",
                p.paid_at().date(),
                year,
                p.scheme().zh(),
                p.amount(),
                death,
                ctx.death_source(person)
            );
            out.push(f);
        }
        out
    }
}
