//! ELG-001 非参保对象: Payer not a resident.
use qianbiao_core::{Finding, HukouStatus};

use crate::{Context, Rule};

declare_rule! {
    /// **What it finds**: an effective payment with a valid id_number that is not in
    /// `hukou`, or whose hukou status is 迁出 or 注销 with a status_date before the payment
    /// day (a move dated on the payment day is not a finding).
    ///
    /// **Why it matters**: only Dianzi residents (and residence-permit holders, who are in
    /// hukou as such) may enrol here (三 参保对象和范围); others were charged by the wrong
    /// town or do not exist.
    ///
    /// **Key**: `txn_id`. **Amount**: the payment.
    pub struct Elg001 {
        code: "ELG-001",
        severity: Medium,
        zh: "非参保对象",
        en: "Payer not a resident",
        needs: [],
    }
}

impl Rule for Elg001 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let mut out = Vec::new();
        for (i, p) in ctx.effective() {
            if !p.id_valid() {
                continue;
            }
            let day = p.paid_at().date();
            let hukou = ctx.payment_person(i).and_then(|person| ctx.hukou(person));
            let why = match hukou {
                None => "户籍中无此人".to_string(),
                Some(h) => match (&h.status(), h.status_date()) {
                    (HukouStatus::MovedOut | HukouStatus::Cancelled, Some(d)) if d < day => {
                        format!("该人员已于{}{}", d, h.status().zh())
                    }
                    _ => continue,
                },
            };
            let mut f = ctx.payment_finding(&Self::META, i, p.txn_id().to_string());
            if let Some(h) = hukou {
                f.sources.push(ctx.src(h.prov()));
            }
            f.detail = format!(
                "{} 缴纳{}{}元，但{}，不属于本镇参保对象",
                day,
                p.scheme().zh(),
                p.amount(),
                why
            );
            out.push(f);
        }
        out
    }
}
