//! DTH-005 死亡后缴费（通报身份证号有误）: Payment after a death notified under a mistyped id.
use chrono::NaiveDate;
use qianbiao_core::Finding;
use rustc_hash::FxHashMap as HashMap;

use crate::context::PersonIdx;
use crate::link::Basis;
use crate::{Context, Rule};

declare_rule! {
    /// **What it finds**（发现什么）: a `deaths` row rejected for an invalid id, linked to a
    /// hukou person (`data-contract.md`, Identity linkage: `typo`, `numeric`, `name_birth`,
    /// exactly one candidate), and an effective payment under that person's own valid id
    /// paid on a day after the row's own death_date, that DTH-001 does not already report.
    /// 身份证号有误的死亡通报经身份关联确认为某户籍人员，该人员在通报死亡日期之后仍有有效缴费。
    ///
    /// **Why it matters**（为何重要）: the plan forbids payment after death (五(五)
    /// 避免…死亡后缴费); a mistyped id on the death notice hides exactly the payments taken
    /// in a dead person's name that the death checks would otherwise catch.
    /// 通报身份证号录错，使死亡后缴费逃过核查。
    ///
    /// **Key**: `txn_id`. **Amount**: the payment. One finding per payment; `sources` cites
    /// the deaths row and the payment; `detail` gives the id as typed and the basis of the
    /// link. When two linked deaths rows name one person, the earliest death date counts.
    /// Needs `deaths` (skipped without it, like DTH-004).
    pub struct Dth005 {
        code: "DTH-005",
        severity: High,
        zh: "死亡后缴费（通报身份证号有误）",
        en: "Payment after a death notified under a mistyped id",
        needs: [Deaths],
    }
}

impl Rule for Dth005 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        // Per linked person, the earliest linked deaths row (date, then row order).
        let mut dead: HashMap<PersonIdx, (NaiveDate, u32, Basis)> = HashMap::default();
        for &(d, link) in &ctx.links.deaths {
            let row = &ctx.ds.linkable_deaths[d as usize];
            let id = ctx.ds.hukou().get(link.hukou as usize).id();
            let Some(person) = ctx.person_of(&id) else {
                continue;
            };
            dead.entry(person)
                .and_modify(|e| *e = (*e).min((row.death_date, d, link.basis)))
                .or_insert((row.death_date, d, link.basis));
        }
        let mut out = Vec::new();
        if dead.is_empty() {
            return out;
        }
        for (i, p) in ctx.effective() {
            let Some(person) = ctx.payment_person(i) else {
                continue;
            };
            let Some(&(date, d, basis)) = dead.get(&person) else {
                continue;
            };
            let day = p.paid_at().date();
            if day <= date || ctx.death_date(person).is_some_and(|known| day > known) {
                continue;
            }
            let row = &ctx.ds.linkable_deaths[d as usize];
            let mut f = ctx.payment_finding(&Self::META, i, p.txn_id().to_string());
            f.sources = vec![ctx.src(row.prov), ctx.src(p.prov())];
            f.detail = format!(
                "{} 缴费{}元，但死亡通报（身份证号录为“{}”，经{}关联为{}）记载该人员已于{}死亡",
                day,
                p.amount(),
                row.id,
                basis.as_str(),
                p.id(),
                date
            );
            out.push(f);
        }
        out
    }
}
