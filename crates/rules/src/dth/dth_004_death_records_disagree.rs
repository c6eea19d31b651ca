//! DTH-004 死亡信息不一致: Death records disagree.

use qianbiao_core::{Finding, HukouStatus};

use crate::view::PersonIdx;
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
        // Deaths rows by person (every deaths row has a valid id, so a person of the
        // view), in read order within a person: one sort of (person, row) pairs.
        let mut deaths: Vec<(PersonIdx, usize)> = ctx
            .ds
            .deaths
            .id
            .iter()
            .enumerate()
            .filter_map(|(i, &s)| ctx.person_of_sym(s).map(|p| (p, i)))
            .collect();
        deaths.sort_unstable();
        let tolerance = ctx.policy.death_date_tolerance_days;
        let mut out = Vec::new();
        let mut check = |p: PersonIdx, rows: &[usize]| {
            // Someone not in hukou is not this town's record to reconcile.
            let Some(h) = ctx.hukou(p) else {
                return;
            };
            let id = h.id();
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
            let mut f = Finding::new(Self::META.code, Self::META.severity, id.as_str());
            let name = rows.first().map_or("", |&i| ctx.ds.deaths().get(i).name());
            ctx.fill_person(&mut f, &id, name, "");
            f.sources = rows
                .iter()
                .map(|&i| ctx.src(ctx.ds.deaths().get(i).prov()))
                .collect();
            f.sources.push(ctx.src(h.prov()));
            f.detail = format!("{}，应核实并统一死亡信息", reasons.join("；"));
            out.push(f);
        };
        let mut rows = Vec::new();
        for group in deaths.chunk_by(|a, b| a.0 == b.0) {
            rows.clear();
            rows.extend(group.iter().map(|&(_, i)| i));
            check(group[0].0, &rows);
        }
        // Dead in hukou with no deaths row: read off the status column, each person's
        // first hukou row once.
        let status = &ctx.ds.hukou.status;
        for p in ctx.view.persons() {
            if ctx.view.death_rows(p) > 0 {
                continue;
            }
            if let Some(r) = ctx.view.hukou_row(p) {
                if status[r as usize] == HukouStatus::Dead {
                    check(p, &[]);
                }
            }
        }
        out
    }
}
