//! DTH-004 死亡信息不一致: Death records disagree.

use qianbiao_core::{Finding, HukouStatus};

use crate::view::PersonIdx;
use crate::{Context, Rule};

declare_rule! {
    /// **What it finds**: a person whose death records disagree: a `deaths` row while
    /// no hukou row of the person says 死亡 (迁出/注销 included); hukou 死亡 with no
    /// `deaths` row; or two death dates (over every `deaths` row and every hukou 死亡
    /// status_date) more than [30] days apart. A person not in hukou is never a finding:
    /// the rule reconciles the town's register with the death notices.
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
        // The person's death records, in read order within a person: every deaths row
        // (each has a valid id, so a person of the view) and every hukou row that says
        // 死亡 (a registry listing a person twice may say it on a later row). One sort of
        // (person, hukou?, row) triples.
        let mut records: Vec<(PersonIdx, bool, usize)> = ctx
            .ds
            .deaths
            .id
            .iter()
            .enumerate()
            .filter_map(|(i, &s)| ctx.person_of_sym(s).map(|p| (p, false, i)))
            .collect();
        let hk = &ctx.ds.hukou;
        records.extend(
            hk.status
                .iter()
                .enumerate()
                .filter(|(_, &st)| st == HukouStatus::Dead)
                .filter_map(|(i, _)| ctx.person_of_sym(hk.id[i]).map(|p| (p, true, i))),
        );
        records.sort_unstable();
        let tolerance = ctx.policy.death_date_tolerance_days;
        let mut out = Vec::new();
        for group in records.chunk_by(|a, b| a.0 == b.0) {
            let p = group[0].0;
            // Someone not in hukou is not this town's record to reconcile.
            let Some(h) = ctx.hukou(p) else {
                continue;
            };
            let split = group.partition_point(|r| !r.1);
            let (notices, dead_rows) = (&group[..split], &group[split..]);
            let id = h.id();
            let dead_in_hukou = !dead_rows.is_empty();
            let mut reasons = Vec::new();
            if !notices.is_empty() && !dead_in_hukou {
                reasons.push(format!(
                    "死亡人员信息报告死亡，但户籍状态为{}",
                    h.status().zh()
                ));
            }
            if notices.is_empty() && dead_in_hukou {
                reasons.push("户籍状态为死亡，但无死亡人员信息".to_string());
            }
            let dates: Vec<_> = notices
                .iter()
                .map(|&(_, _, i)| ctx.ds.deaths().get(i).death_date())
                .chain(
                    dead_rows
                        .iter()
                        .filter_map(|&(_, _, i)| ctx.ds.hukou().get(i).status_date()),
                )
                .collect();
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
                continue;
            }
            let mut f = Finding::new(Self::META.code, Self::META.severity, id.as_str());
            let name = notices
                .first()
                .map_or("", |&(_, _, i)| ctx.ds.deaths().get(i).name());
            ctx.fill_person(&mut f, &id, name, "");
            f.sources = notices
                .iter()
                .map(|&(_, _, i)| ctx.src(ctx.ds.deaths().get(i).prov()))
                .collect();
            // The hukou rows that say 死亡, else the person's (first) hukou row.
            if dead_rows.is_empty() {
                f.sources.push(ctx.src(h.prov()));
            } else {
                f.sources.extend(
                    dead_rows
                        .iter()
                        .map(|&(_, _, i)| ctx.src(ctx.ds.hukou().get(i).prov())),
                );
            }
            f.detail = format!("{}，应核实并统一死亡信息", reasons.join("；"));
            out.push(f);
        }
        out
    }
}
