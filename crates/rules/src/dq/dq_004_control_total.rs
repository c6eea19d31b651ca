//! DQ-004 合计不符: Control total does not add up.
use qianbiao_core::Finding;

use crate::{Context, Rule};

declare_rule! {
    /// **What it finds**（发现什么）: a totals row (合计, 总计, 小计) whose amount differs from
    /// the sum of the rows it covers (`data-contract.md`, Real exports): a 小计 covers the
    /// rows since the previous totals row of any kind, a 合计 or 总计 every row of the file
    /// above it; covered rows are all rows read (accepted, duplicate or rejected) whose
    /// money cell parses. 合计、小计行的金额与其覆盖行的金额之和不符。
    ///
    /// **Why it matters**（为何重要）: the control total is what the department signed off;
    /// a sheet whose rows do not add up to it has lost, added or altered rows after the
    /// total was struck (钱表相符, 四(四)). 表内明细与合计不符，说明明细被增删或改动。
    ///
    /// **Key**: `FILE|LINE` of the totals row (file relative to `--data`, physical line).
    /// **Amount**: the absolute difference. No person, scheme or period; `sources` is the
    /// totals row; `detail` gives the stated total, the computed sum and the rows covered.
    pub struct Dq004 {
        code: "DQ-004",
        severity: Medium,
        zh: "合计不符",
        en: "Control total does not add up",
        needs: [],
    }
}

impl Rule for Dq004 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let mut out = Vec::new();
        for t in &ctx.ds.control_totals {
            if t.stated == t.sum {
                continue;
            }
            let file = &ctx.ds.files[t.file as usize];
            let mut f = Finding::new(
                Self::META.code,
                Self::META.severity,
                format!("{file}|{}", t.line),
            );
            f.amount = if t.stated > t.sum {
                t.stated - t.sum
            } else {
                t.sum - t.stated
            };
            f.sources.push(format!("{file}:{}", t.line));
            f.detail = format!(
                "{}第{}行“{}”所列金额{}元，与其覆盖的{}行明细金额之和{}元不符，相差{}元，应核实明细是否被增删或改动",
                file, t.line, t.label, t.stated, t.rows, t.sum, f.amount
            );
            out.push(f);
        }
        out
    }
}
