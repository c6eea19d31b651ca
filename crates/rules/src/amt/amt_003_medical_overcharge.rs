//! AMT-003 医保超标准收费: Medical overcharge.
use qianbiao_core::{Finding, Scheme};

use crate::{individual, Context, Rule};

declare_rule! {
    /// **What it finds**: an effective individual resident_medical payment larger than the
    /// expected individual amount on its day: 0 for the medical full-代缴 groups and
    /// everyone 70 or older; after the window the late amount [930]; 160 for ages 60-69;
    /// otherwise [320].
    ///
    /// **Why it matters**: charging above the standard (超标准收费) is what the 纪委 and
    /// auditors are told to find (五(八)); the excess is owed back to the resident.
    ///
    /// **Key**: `txn_id`. **Amount**: paid minus expected.
    pub struct Amt003 {
        code: "AMT-003",
        severity: High,
        zh: "医保超标准收费",
        en: "Medical overcharge",
        needs: [Eligibility],
    }
}

impl Rule for Amt003 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let mut out = Vec::new();
        for (i, p) in ctx.effective() {
            if !individual(&p, Scheme::ResidentMedical) {
                continue;
            }
            let Some(person) = ctx.payment_person(i) else {
                continue;
            };
            let day = p.paid_at().date();
            let expected = ctx.entitlement().expected_medical(person, day);
            if p.amount() <= expected {
                continue;
            }
            let mut f = ctx.payment_finding(&Self::META, i, p.txn_id().to_string());
            f.amount = p.amount() - expected;
            f.detail = format!(
                "{} 居民医保个人缴费{}元，按政策（{}岁）应缴{}元，多收{}元",
                day,
                p.amount(),
                ctx.entitlement().age(person),
                expected,
                f.amount
            );
            out.push(f);
        }
        out
    }
}
