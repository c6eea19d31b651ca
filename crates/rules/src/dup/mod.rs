//! DUP: duplicate payments and enrolments.

use qianbiao_core::{Finding, PayerType};
use qianbiao_ingest::Payment;

use crate::{total, Context, RuleMeta};

pub mod dup_001_duplicate_payment;
pub mod dup_002_government_and_individual;
pub mod dup_003_employee_and_resident;
pub mod dup_004_receipt_reused;
pub mod dup_005_government_twice;

/// `txn1、txn2` for details.
pub(crate) fn txn_list(ctx: &Context, rows: &[u32]) -> String {
    let mut v: Vec<&str> = rows.iter().map(|&i| ctx.payment(i).txn_id()).collect();
    v.sort_unstable();
    v.join("、")
}

/// DUP-001 and DUP-005: a person-scheme-year with two or more effective payments of one
/// payer type; the amount is all but the earliest (by paid_at, then txn_id as text).
/// The detail names the payments (`who`: 个人缴费, 政府代缴), what was repeated (`what`:
/// 缴费, 代缴) and what is due (`remedy`).
pub(crate) fn repeated_payments(
    ctx: &Context,
    meta: &'static RuleMeta,
    payer: PayerType,
    [who, what, remedy]: [&str; 3],
) -> Vec<Finding> {
    let mut out = Vec::new();
    let of_payer = |p: &Payment| p.payer_type() == payer;
    ctx.for_each_person_scheme(of_payer, |rows| {
        if rows.len() < 2 {
            return;
        }
        rows.sort_by(|&a, &b| {
            let (pa, pb) = (ctx.payment(a), ctx.payment(b));
            pa.paid_at()
                .cmp(&pb.paid_at())
                .then_with(|| pa.txn_id().cmp(pb.txn_id()))
        });
        let all = total(ctx, rows);
        let first = ctx.payment(rows[0]);
        let amount = all - first.amount();
        let mut f = ctx.person_scheme_finding(meta, rows, amount);
        f.detail = format!(
            "{}年度{}{}{}笔共{}元（流水号{}），首笔{} {}元之外重复{}{}元，{}",
            first.period(),
            first.scheme().zh(),
            who,
            rows.len(),
            all,
            txn_list(ctx, rows),
            first.paid_at().date(),
            first.amount(),
            what,
            amount,
            remedy
        );
        out.push(f);
    });
    out
}
