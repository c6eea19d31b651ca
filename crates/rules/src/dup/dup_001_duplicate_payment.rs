//! DUP-001 重复缴费: Duplicate payment.
use qianbiao_core::{Finding, PayerType};
use qianbiao_ingest::PaymentRow;

use super::txn_list;
use crate::{total, Context, Rule, RuleMeta};

declare_rule! {
    /// **What it finds**: two or more effective individual payments (not back payments) by
    /// the same person for the same resident scheme and year.
    ///
    /// **Why it matters**: the plan forbids duplicate payment (五(五) 避免基本保险重复缴费);
    /// every payment after the first is money to refund.
    ///
    /// **Key**: `ID|SCHEME|Y`. **Amount**: the total of all but the earliest payment (by
    /// paid_at, then txn_id as text).
    pub struct Dup001 {
        code: "DUP-001",
        severity: High,
        zh: "重复缴费",
        en: "Duplicate payment",
        needs: [],
    }
}

impl Rule for Dup001 {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let mut out = Vec::new();
        let individual = |p: &PaymentRow| p.payer_type == PayerType::Individual;
        ctx.for_each_person_scheme(individual, |rows| {
            if rows.len() < 2 {
                return;
            }
            rows.sort_by(|&a, &b| {
                let (pa, pb) = (ctx.payment(a), ctx.payment(b));
                pa.paid_at
                    .cmp(&pb.paid_at)
                    .then_with(|| pa.txn_id.cmp(&pb.txn_id))
            });
            let all = total(ctx, rows);
            let first = ctx.payment(rows[0]);
            let amount = all - first.amount;
            let mut f = ctx.person_scheme_finding(&Self::META, rows, amount);
            f.detail = format!(
                "{}年度{}个人缴费{}笔共{}元（流水号{}），首笔{} {}元之外重复缴费{}元，应予退还",
                first.period,
                first.scheme.zh(),
                rows.len(),
                all,
                txn_list(ctx, rows),
                first.paid_at.date(),
                first.amount,
                amount
            );
            out.push(f);
        });
        out
    }
}
