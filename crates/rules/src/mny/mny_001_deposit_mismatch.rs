//! MNY-001 解缴钱表不符: Deposit does not match its payments.
use rustc_hash::FxHashMap as HashMap;

use qianbiao_core::{Fen, Finding};

use crate::{total, Context, Rule};

declare_rule! {
    /// **What it finds**: a deposit (解缴) whose amount differs from the total of the
    /// effective payments carrying its deposit_id, or whose person_count differs from
    /// their number. Rows of one deposit_id are one deposit (amounts and counts added);
    /// an empty person_count is not compared.
    ///
    /// **Why it matters**: money must match the roster (钱表相符, 六(二)); a batch handed in
    /// that does not add up is money missing or unexplained.
    ///
    /// **Key**: `deposit_id`. **Amount**: the absolute difference of the amounts.
    pub struct Mny001 {
        code: "MNY-001",
        severity: High,
        zh: "解缴钱表不符",
        en: "Deposit does not match its payments",
        needs: [Deposits],
    }
}

impl Rule for Mny001 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let mut by_deposit: HashMap<&str, Vec<u32>> = HashMap::default();
        for (i, p) in ctx.effective() {
            if !p.deposit_id().is_empty() {
                by_deposit.entry(p.deposit_id()).or_default().push(i);
            }
        }
        let mut out = Vec::new();
        for (id, d) in &ctx.deposits {
            let rows = by_deposit.get(*id).map_or(&[][..], Vec::as_slice);
            let booked = total(ctx, rows);
            let count = rows.len() as u32;
            let count_off = d.person_count.is_some_and(|c| c != count);
            if booked == d.amount && !count_off {
                continue;
            }
            let mut f = Finding::new(Self::META.code, Self::META.severity, *id);
            f.collector_id = d.collector_id.to_string();
            f.amount = Fen((d.amount - booked).0.abs());
            f.sources = d.provs.iter().map(|&p| ctx.src(p)).collect();
            ctx.cite_payments(&mut f, rows);
            let people = d
                .person_count
                .map_or(String::new(), |c| format!("（{c}人）"));
            f.detail = format!(
                "解缴单{}解缴{}元{}，对应有效缴费{}笔共{}元，相差{}元",
                id, d.amount, people, count, booked, f.amount
            );
            out.push(f);
        }
        out
    }
}
