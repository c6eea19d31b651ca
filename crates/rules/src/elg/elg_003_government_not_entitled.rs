//! ELG-003 代缴对象不符: Government payment not entitled.
use qianbiao_core::{Finding, PayerType, Scheme};

use crate::{Context, Rule};

declare_rule! {
    /// **What it finds**: an effective government (代缴) payment the person is not entitled
    /// to on its day: for resident_medical, not in a medical full-代缴 group (脱贫, 特困,
    /// 五保, 低保, severely disabled, 因病困难) and under [70]; for resident_pension, not
    /// severely disabled (no age test). A 代缴 row for a 60-69 person outside the groups
    /// is a finding: their half is a lower individual amount, never a 代缴 row.
    ///
    /// **Why it matters**: public money paid for people the plan does not cover (四(一));
    /// the 纪委 looks for exactly this misuse (五(八)).
    ///
    /// **Key**: `txn_id`. **Amount**: the payment.
    pub struct Elg003 {
        code: "ELG-003",
        severity: High,
        zh: "代缴对象不符",
        en: "Government payment not entitled",
        needs: [Eligibility],
    }
}

impl Rule for Elg003 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let mut out = Vec::new();
        for (i, p) in ctx.effective() {
            if p.payer_type() != PayerType::Government {
                continue;
            }
            let Some(person) = ctx.payment_person(i) else {
                continue;
            };
            let day = p.paid_at().date();
            let why = match p.scheme() {
                Scheme::ResidentMedical if !ctx.entitlement().medical_full(person, day) => format!(
                    "该人员{}岁，缴费当日不属于医保全额代缴对象（脱贫、特困、低保、重度残疾、因病困难或70岁以上）",
                    ctx.entitlement().age(person)
                ),
                Scheme::ResidentPension if !ctx.entitlement().severely_disabled(person, day) => {
                    "缴费当日该人员不是一、二级重度残疾人".to_string()
                }
                _ => continue,
            };
            let mut f = ctx.payment_finding(&Self::META, i, p.txn_id().to_string());
            f.detail = format!(
                "{} 政府代缴{}{}元，但{}",
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
