//! MNY-005 个人账户归集: Pooling through a personal account.
use rayon::prelude::*;

use qianbiao_core::{Finding, PayerType};

use crate::{total, Context, Rule};

declare_rule! {
    /// **What it finds**: one payer_account paying effective individual payments for people
    /// of [3] or more different households (hukou household_no; a person not in hukou, or
    /// with no household_no, is a household alone). Accounts compare as text.
    ///
    /// **Why it matters**: pooling residents' money through a personal account
    /// (个人存款账户归集) is forbidden (六(二)): the money passes through private hands.
    ///
    /// **Key**: `payer_account`. **Amount**: the total paid from the account.
    pub struct Mny005 {
        code: "MNY-005",
        severity: High,
        zh: "个人账户归集",
        en: "Pooling through a personal account",
        needs: [],
    }
}

impl Rule for Mny005 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        // Group by account with one parallel sort (ledger order within an account): a map
        // of one small vector per account was the slowest rule at 10M persons.
        let mut order: Vec<u32> = ctx
            .effective()
            .filter(|(_, p)| {
                p.payer_type() == PayerType::Individual && !p.payer_account().is_empty()
            })
            .map(|(i, _)| i)
            .collect();
        order.par_sort_unstable_by(|&a, &b| {
            ctx.payment(a)
                .payer_account()
                .cmp(ctx.payment(b).payer_account())
                .then(a.cmp(&b))
        });
        let mut out = Vec::new();
        for rows in order
            .chunk_by(|&a, &b| ctx.payment(a).payer_account() == ctx.payment(b).payer_account())
        {
            // Fewer payments than the threshold cannot come from enough households.
            if rows.len() < ctx.policy.pooling_min_households {
                continue;
            }
            let account = ctx.payment(rows[0]).payer_account();
            // A household is its hukou household_no, or the person alone: no allocation.
            let mut households: Vec<(bool, &str)> = rows
                .iter()
                .map(|&i| {
                    let h = ctx.payment_person(i).and_then(|person| ctx.hukou(person));
                    match h {
                        Some(h) if !h.household_no().is_empty() => (true, h.household_no()),
                        _ => (false, ctx.payment(i).id()),
                    }
                })
                .collect();
            households.sort_unstable();
            households.dedup();
            if households.len() < ctx.policy.pooling_min_households {
                continue;
            }
            let mut f = Finding::new(Self::META.code, Self::META.severity, account);
            f.amount = total(ctx, rows);
            f.collector_id = ctx.collectors_of(rows);
            let mut people: Vec<&str> = rows.iter().map(|&i| ctx.payment(i).id()).collect();
            people.sort_unstable();
            people.dedup();
            ctx.cite_payments(&mut f, rows);
            f.detail = format!(
                "付款账户{}为{}户{}人缴纳个人缴费{}笔共{}元，涉嫌通过个人账户归集居民缴费",
                account,
                households.len(),
                people.len(),
                rows.len(),
                f.amount
            );
            out.push(f);
        }
        out
    }
}
