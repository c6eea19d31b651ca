//! DQ-002 身份信息不一致: Name differs from hukou.
use std::collections::BTreeMap;

use qianbiao_core::Finding;

use crate::{total, Context, Rule};

declare_rule! {
    /// **What it finds**: effective payments whose non-empty name differs from the hukou
    /// name of the same id_number (both normalised: full-width folded, spaces removed).
    ///
    /// **Why it matters**: a payment under someone else's id is false information (六(二))
    /// or a typed id that credits the wrong person.
    ///
    /// **Key**: `id_number`. **Amount**: the total of those payments.
    pub struct Dq002 {
        code: "DQ-002",
        severity: Low,
        zh: "身份信息不一致",
        en: "Name differs from hukou",
        needs: [],
    }
}

impl Rule for Dq002 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let mut by_person: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for (i, p) in ctx.effective() {
            if p.name().is_empty() {
                continue;
            }
            let Some(person) = ctx.payment_person(i) else {
                continue;
            };
            if ctx.hukou(person).is_some_and(|h| h.name() != p.name()) {
                by_person.entry(person).or_default().push(i);
            }
        }
        let mut out = Vec::new();
        for (person, rows) in by_person {
            let h = ctx.hukou(person).expect("filtered on hukou");
            let mut f = Finding::new(Self::META.code, Self::META.severity, h.id().as_str());
            ctx.fill_person(&mut f, &h.id(), h.name(), h.village());
            f.amount = total(ctx, &rows);
            f.collector_id = ctx.collectors_of(&rows);
            let mut names: Vec<&str> = rows.iter().map(|&i| ctx.payment(i).name()).collect();
            names.sort_unstable();
            names.dedup();
            ctx.cite_payments(&mut f, &rows);
            f.sources.push(ctx.src(h.prov()));
            f.detail = format!(
                "缴费明细姓名“{}”与户籍姓名“{}”不一致（{}笔共{}元），应核实缴费人身份",
                names.join("、"),
                h.name(),
                rows.len(),
                f.amount
            );
            out.push(f);
        }
        out
    }
}
