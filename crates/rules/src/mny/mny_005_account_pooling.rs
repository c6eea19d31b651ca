//! MNY-005 个人账户归集: Pooling through a personal account.

use qianbiao_core::{Finding, IdStr, PayerType};

use crate::groups::{each_group, text_hash};
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
        // Grouped by account through a sort of integers (hash, row): a sort by the
        // accounts' text spent most of this rule's time comparing texts.
        let account = |i: u32| ctx.payment(i).payer_account();
        let pairs: Vec<(u64, u32)> = ctx
            .effective()
            .filter(|(_, p)| {
                p.payer_type() == PayerType::Individual && !p.payer_account().is_empty()
            })
            .map(|(i, p)| (text_hash(p.payer_account()), i))
            .collect();
        let mut out = Vec::new();
        // Fewer payments than the threshold cannot come from enough households.
        each_group(pairs, account, ctx.policy.pooling_min_households, |rows| {
            out.extend(self.account(ctx, rows))
        });
        out
    }
}

impl Mny005 {
    /// The finding of one account's payments (in ledger order), if they pay for enough
    /// households.
    fn account(&self, ctx: &Context, rows: &[u32]) -> Option<Finding> {
        let account = ctx.payment(rows[0]).payer_account();
        // A household is its hukou household_no, or the person alone: no allocation.
        let mut households: Vec<(bool, IdStr)> = rows
            .iter()
            .map(|&i| {
                let h = ctx.payment_person(i).and_then(|person| ctx.hukou(person));
                match h {
                    Some(h) if !h.household_no().is_empty() => {
                        (true, IdStr::from(h.household_no()))
                    }
                    _ => (false, ctx.payment(i).id()),
                }
            })
            .collect();
        households.sort_unstable();
        households.dedup();
        if households.len() < ctx.policy.pooling_min_households {
            return None;
        }
        let mut f = Finding::new(Self::META.code, Self::META.severity, account);
        f.amount = total(ctx, rows);
        f.collector_id = ctx.collectors_of(rows);
        let mut people: Vec<IdStr> = rows.iter().map(|&i| ctx.payment(i).id()).collect();
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
        Some(f)
    }
}
