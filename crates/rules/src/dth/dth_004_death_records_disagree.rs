//! DTH-004 死亡信息不一致: Death records disagree.
use rustc_hash::FxHashMap as HashMap;

use qianbiao_core::{Finding, HukouStatus};

use crate::{Context, Rule};

declare_rule! {
    /// **What it finds**: a person whose death records disagree: a `deaths` row while
    /// hukou's status is not 死亡 (迁出/注销 included); hukou 死亡 with no `deaths` row;
    /// or two death dates (over every `deaths` row and the hukou 死亡 status_date) more
    /// than [30] days apart. A person not in hukou is never a finding: the rule reconciles
    /// the town's register with the death notices.
    ///
    /// **Why it matters**: 派出所 and 民政 report deaths monthly (五(五)); where registers
    /// disagree, the dead keep being charged or the living are struck off.
    ///
    /// **Key**: `id_number`. **Amount**: 0.
    pub struct Dth004 {
        code: "DTH-004",
        severity: Low,
        zh: "死亡信息不一致",
        en: "Death records disagree",
        needs: [Deaths],
    }
}

impl Rule for Dth004 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let mut deaths: HashMap<&str, Vec<usize>> = HashMap::default();
        for (i, d) in ctx.ds.deaths().iter().enumerate() {
            deaths.entry(d.id()).or_default().push(i);
        }
        let tolerance = ctx.policy.death_date_tolerance_days;
        let mut out = Vec::new();
        let mut check = |id: &str, rows: &[usize]| {
            // Someone not in hukou is not this town's record to reconcile.
            let Some(h) = ctx.person_of(id).and_then(|p| ctx.hukou(p)) else {
                return;
            };
            let dead_in_hukou = h.status() == HukouStatus::Dead;
            let mut reasons = Vec::new();
            if !rows.is_empty() && !dead_in_hukou {
                reasons.push(format!(
                    "死亡人员信息报告死亡，但户籍状态为{}",
                    h.status().zh()
                ));
            }
            if rows.is_empty() && dead_in_hukou {
                reasons.push("户籍状态为死亡，但无死亡人员信息".to_string());
            }
            let mut dates: Vec<_> = rows
                .iter()
                .map(|&i| ctx.ds.deaths().get(i).death_date())
                .collect();
            if dead_in_hukou {
                dates.extend(h.status_date());
            }
            if let (Some(min), Some(max)) = (dates.iter().min(), dates.iter().max()) {
                if (*max - *min).num_days() > tolerance {
                    reasons.push(format!(
                        "死亡日期{}与{}相差{}天",
                        min,
                        max,
                        (*max - *min).num_days()
                    ));
                }
            }
            if reasons.is_empty() {
                return;
            }
            let mut f = Finding::new(Self::META.code, Self::META.severity, id);
            let name = rows.first().map_or("", |&i| ctx.ds.deaths().get(i).name());
            ctx.fill_person(&mut f, id, name, "");
            f.sources = rows
                .iter()
                .map(|&i| ctx.src(ctx.ds.deaths().get(i).prov()))
                .collect();
            f.sources.push(ctx.src(h.prov()));
            f.detail = format!("{}，应核实并统一死亡信息", reasons.join("；"));
            out.push(f);
        };
        for (id, rows) in &deaths {
            check(id, rows);
        }
        for p in ctx.view.persons() {
            if let Some(h) = ctx.hukou(p) {
                if h.status() == HukouStatus::Dead && !deaths.contains_key(h.id()) {
                    check(h.id(), &[]);
                }
            }
        }
        out
    }
}
