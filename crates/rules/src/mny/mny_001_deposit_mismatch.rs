//! MNY-001 解缴钱表不符: Deposit does not match its payments.
use qianbiao_core::{Fen, Finding};

use crate::{Context, Rule};

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
        // Totals and counts of the effective payments of each deposit, by the deposit's
        // index: one array access a payment. A payment whose deposit_id no deposits row
        // has is no deposit's.
        let deposits = &ctx.deposits;
        let syms = &ctx.ds.payments.deposit_id;
        let mut booked = vec![Fen(0); deposits.len()];
        let mut count = vec![0u32; deposits.len()];
        for (i, p) in ctx.effective() {
            if let Some(d) = deposits.index_of(syms[i as usize]) {
                booked[d] += p.amount();
                count[d] += 1;
            }
        }
        let off: Vec<bool> = deposits
            .iter()
            .enumerate()
            .map(|(k, (_, d))| {
                let count_off = d.person_count.is_some_and(|c| c != count[k]);
                booked[k] != d.amount || count_off
            })
            .collect();
        // The rows of the deposits that do not add up, in ledger order, for the citation.
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); deposits.len()];
        if off.contains(&true) {
            for (i, _) in ctx.effective() {
                if let Some(d) = deposits.index_of(syms[i as usize]).filter(|&d| off[d]) {
                    rows[d].push(i);
                }
            }
        }
        let mut out = Vec::new();
        for (k, (id, d)) in deposits.iter().enumerate() {
            if !off[k] {
                continue;
            }
            let rows = &rows[k];
            let booked = booked[k];
            let count = count[k];
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
