//! DUP-001 重复缴费: Duplicate payment.
use qianbiao_core::{Finding, PayerType};

use super::repeated_payments;
use crate::{Context, Rule};

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
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        repeated_payments(
            ctx,
            &Self::META,
            PayerType::Individual,
            ["个人缴费", "缴费", "应予退还"],
        )
    }
}
