//! AMT-004 医保少缴: Medical underpaid.
use qianbiao_core::{Fen, Finding, Scheme};

use crate::{individual, Context, Rule};

declare_rule! {
    /// **What it finds**: an effective individual resident_medical payment above 0 and
    /// smaller than the expected individual amount on its day (e.g. a late payer paying
    /// 320 instead of [930]).
    ///
    /// **Why it matters**: late payers owe the full premium including every subsidy
    /// (四(二)); paying less leaves the fund short and the cover in doubt.
    ///
    /// **Key**: `txn_id`. **Amount**: expected minus paid.
    pub struct Amt004 {
        code: "AMT-004",
        severity: Medium,
        zh: "医保少缴",
        en: "Medical underpaid",
        needs: [Eligibility],
    }
}

impl Rule for Amt004 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let mut out = Vec::new();
        for (i, p) in ctx.effective() {
            if !individual(&p, Scheme::ResidentMedical) || p.amount() <= Fen::ZERO {
                continue;
            }
            let Some(person) = ctx.payment_person(i) else {
                continue;
            };
            let day = p.paid_at().date();
            let expected = ctx.entitlement().expected_medical(person, day);
            if p.amount() >= expected {
                continue;
            }
            let mut f = ctx.payment_finding(&Self::META, i, p.txn_id().to_string());
            f.amount = expected - p.amount();
            let late = if day > ctx.policy.window_end {
                format!("（{}集中征缴期结束后缴费）", ctx.policy.window_end)
            } else {
                String::new()
            };
            f.detail = format!(
                "{} 居民医保个人缴费{}元，按政策应缴{}元{}，少缴{}元",
                day,
                p.amount(),
                expected,
                late,
                f.amount
            );
            out.push(f);
        }
        out
    }
}
