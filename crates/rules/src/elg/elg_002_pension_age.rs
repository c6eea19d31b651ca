//! ELG-002 年龄不符: Pension payer's age out of range.
use qianbiao_core::{Finding, Scheme};

use crate::{individual, Context, Rule};

declare_rule! {
    /// **What it finds**: an effective individual resident_pension payment (not a back
    /// payment) by a person whose Age (Y minus the birth year in the id) is below [16] or
    /// [60] and above.
    ///
    /// **Why it matters**: pension contributions are for ages 16 to 59 (三: 须年满16周岁);
    /// a child or a pensioner paying is enrolled wrongly.
    ///
    /// **Key**: `txn_id`. **Amount**: the payment.
    pub struct Elg002 {
        code: "ELG-002",
        severity: Medium,
        zh: "年龄不符",
        en: "Pension payer's age out of range",
        needs: [],
    }
}

impl Rule for Elg002 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let pol = ctx.policy;
        let mut out = Vec::new();
        for (i, p) in ctx.effective() {
            if !individual(&p, Scheme::ResidentPension) {
                continue;
            }
            let Some(person) = ctx.payment_person(i) else {
                continue;
            };
            let age = ctx.entitlement().age(person);
            if (pol.pension_min_age..=pol.pension_max_age).contains(&age) {
                continue;
            }
            let mut f = ctx.payment_finding(&Self::META, i, p.txn_id().to_string());
            f.detail = format!(
                "{} 缴纳居民养老{}元，但该人员{}年度{}岁，不在{}-{}岁缴费年龄内",
                p.paid_at().date(),
                p.amount(),
                pol.year,
                age,
                pol.pension_min_age,
                pol.pension_max_age
            );
            out.push(f);
        }
        out
    }
}
