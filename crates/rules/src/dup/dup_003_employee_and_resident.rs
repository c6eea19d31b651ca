//! DUP-003 重复参保: Employee and resident enrolment.
use qianbiao_core::{Finding, PayerType};
use qianbiao_ingest::Payment;

use super::txn_list;
use crate::{total, Context, Rule};

declare_rule! {
    /// **What it finds**: effective payments (any payer but back payments) for a resident
    /// scheme in year Y by a person whose employee enrolment of the same kind (pension or
    /// medical) is active in Y.
    ///
    /// **Why it matters**: the resident schemes are for residents *not* in the employee
    /// schemes (三 参保对象和范围); a second enrolment is a duplicate to unwind.
    ///
    /// **Key**: `ID|SCHEME|Y`. **Amount**: the total of those resident payments.
    pub struct Dup003 {
        code: "DUP-003",
        severity: Medium,
        zh: "重复参保",
        en: "Employee and resident enrolment",
        needs: [Registrations],
    }
}

impl Rule for Dup003 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let year = ctx.policy.year;
        let mut out = Vec::new();
        let counted = |p: &Payment| {
            p.period() == year && p.payer_type() != PayerType::BackPayment && p.id_valid()
        };
        ctx.for_each_person_scheme(counted, |rows| {
            let p = ctx.payment(rows[0]);
            let Some(person) = ctx.payment_person(rows[0]) else {
                return;
            };
            if !ctx.entitlement().employee_active(person, p.scheme()) {
                return;
            }
            let amount = total(ctx, rows);
            let mut f = ctx.person_scheme_finding(&Self::META, rows, amount);
            f.detail = format!(
                "该人员{}年度已参加{}，又缴纳{}{}元（流水号{}），属重复参保",
                year,
                p.scheme().employee_counterpart().zh(),
                p.scheme().zh(),
                amount,
                txn_list(ctx, rows)
            );
            out.push(f);
        });
        out
    }
}
