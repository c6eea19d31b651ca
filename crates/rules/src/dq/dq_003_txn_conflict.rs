//! DQ-003 流水号冲突: Conflicting txn_id.
use qianbiao_core::Finding;

use crate::{Context, Rule};

declare_rule! {
    /// **What it finds**: two or more payments rows with the same txn_id and different
    /// content (after normalisation). The first row read is kept for every other rule;
    /// exact copies are one payment and not a finding.
    ///
    /// **Why it matters**: a transaction number identifies one payment in the tax system
    /// (金三); two versions of it mean an export was edited or merged wrongly.
    ///
    /// **Key**: `txn_id`. **Amount**: the first row's amount, even when it is refunded.
    pub struct Dq003 {
        code: "DQ-003",
        severity: Medium,
        zh: "流水号冲突",
        en: "Conflicting txn_id",
        needs: [],
    }
}

impl Rule for Dq003 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let mut out = Vec::new();
        for c in &ctx.ds.conflicts {
            let first = &c.rows[0];
            let mut f = Finding::new(Self::META.code, Self::META.severity, c.txn_id.as_str());
            ctx.fill_person(&mut f, &first.id, &first.name, &first.village);
            f.collector_id = first.collector_id.to_string();
            f.scheme = Some(first.scheme);
            f.period = Some(first.period);
            f.amount = first.amount;
            f.txn_ids.push(c.txn_id.to_string());
            f.sources = c.rows.iter().map(|r| ctx.src(r.prov)).collect();
            let amounts: Vec<String> = c.rows.iter().map(|r| format!("{}元", r.amount)).collect();
            f.detail = format!(
                "流水号{}出现{}条内容不同的记录（{}），以首条（{}）为准，应向税务部门核实",
                c.txn_id,
                c.rows.len(),
                amounts.join("、"),
                ctx.src(first.prov)
            );
            out.push(f);
        }
        out
    }
}
