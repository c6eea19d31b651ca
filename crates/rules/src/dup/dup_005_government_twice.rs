//! DUP-005 代缴重复: Government payment twice.
use qianbiao_core::{Finding, PayerType};

use super::repeated_payments;
use crate::{Context, Rule};

declare_rule! {
    /// **What it finds**（发现什么）: two or more effective government payments (政府代缴, not
    /// back payments) for the same person, resident scheme and year (the payment's period).
    /// 同一人同一险种同一年度有两笔以上有效的政府代缴。
    ///
    /// **Why it matters**（为何重要）: the plan pays one 代缴 per person and year for the
    /// groups it names (五(五) 避免基本保险重复缴费); a second 代缴 draws public money twice,
    /// to be recovered from the fund. 重复代缴多支出财政资金，应予追回。
    ///
    /// **Key**: `ID|SCHEME|Y`. **Amount**: the total of all but the earliest payment (by
    /// paid_at, then txn_id as text); `txn_ids` lists every payment of the group. An id
    /// that lost its digits as a number stands for nobody and groups nothing.
    pub struct Dup005 {
        code: "DUP-005",
        severity: High,
        zh: "代缴重复",
        en: "Government payment twice",
        needs: [],
    }
}

impl Rule for Dup005 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        repeated_payments(
            ctx,
            &Self::META,
            PayerType::Government,
            ["政府代缴", "代缴", "应予追回"],
        )
    }
}
