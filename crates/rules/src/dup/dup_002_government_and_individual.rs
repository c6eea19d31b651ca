//! DUP-002 代缴与个人缴费重复: Government and individual payment.
use qianbiao_core::{Fen, Finding, PayerType};
use qianbiao_ingest::Payment;

use super::txn_list;
use crate::{Context, Rule};

declare_rule! {
    /// **What it finds**: an effective government (代缴) payment and an effective individual
    /// payment for the same person, resident scheme and year.
    ///
    /// **Why it matters**: where the government pays on a person's behalf (四(一), 四(三)(3)),
    /// the person must not pay too; the individual payment is a duplicate to refund.
    ///
    /// **Key**: `ID|SCHEME|Y`. **Amount**: the total of the individual payments. Two 代缴
    /// payments alone do not fire.
    pub struct Dup002 {
        code: "DUP-002",
        severity: High,
        zh: "代缴与个人缴费重复",
        en: "Government and individual payment",
        needs: [],
    }
}

impl Rule for Dup002 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let mut out = Vec::new();
        let paying = |p: &Payment| {
            matches!(
                p.payer_type(),
                PayerType::Individual | PayerType::Government
            )
        };
        ctx.for_each_person_scheme(paying, |rows| {
            if rows.len() < 2 {
                return;
            }
            let (gov, ind): (Vec<u32>, Vec<u32>) = rows
                .iter()
                .partition(|&&i| ctx.payment(i).payer_type() == PayerType::Government);
            if gov.is_empty() || ind.is_empty() {
                return;
            }
            let ind_total: Fen = ind.iter().map(|&i| ctx.payment(i).amount()).sum();
            let gov_total: Fen = gov.iter().map(|&i| ctx.payment(i).amount()).sum();
            let mut f = ctx.person_scheme_finding(&Self::META, rows, ind_total);
            let p = ctx.payment(rows[0]);
            f.detail = format!(
                "{}年度{}已由政府代缴{}元（流水号{}），本人又缴费{}元（流水号{}），个人缴费应予退还",
                p.period(),
                p.scheme().zh(),
                gov_total,
                txn_list(ctx, &gov),
                ind_total,
                txn_list(ctx, &ind)
            );
            out.push(f);
        });
        out
    }
}
