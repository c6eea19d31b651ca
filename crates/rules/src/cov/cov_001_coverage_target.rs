//! COV-001 参保率未达标: Coverage below target.
use qianbiao_core::summary::{band_zh, percent};
use qianbiao_core::Finding;

use crate::{Context, Rule};

declare_rule! {
    /// **What it finds**: only when as_of is after the window: a village whose coverage
    /// rate in a band with a target is below it [pension_45_59: 0.95; pension_16_44: 0.60].
    /// A band with nobody eligible, or a rate equal to the target, is not a finding. See
    /// `coverage.csv` for every village and band.
    ///
    /// **Why it matters**: the plan sets these targets (二 任务目标) and the town reports
    /// on them; a village below target needs follow-up by its committee (五(一)).
    ///
    /// **Key**: `village|band`. **Amount**: 0.
    pub struct Cov001 {
        code: "COV-001",
        severity: Low,
        zh: "参保率未达标",
        en: "Coverage below target",
        needs: [],
    }
}

impl Rule for Cov001 {
    fn skip_reason(&self, ctx: &Context) -> Option<String> {
        ctx.window_open_reason()
    }

    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let mut out = Vec::new();
        for row in &ctx.coverage {
            if row.below_target() != Some(true) {
                continue;
            }
            let mut f = Finding::new(
                Self::META.code,
                Self::META.severity,
                format!("{}|{}", row.village, row.band),
            );
            f.village = row.village.clone();
            f.scheme = ctx
                .policy
                .coverage_bands
                .iter()
                .find(|b| b.name == row.band)
                .map(|b| b.scheme);
            f.period = Some(ctx.policy.year);
            // The band in Chinese, its name as in `coverage.csv` beside it.
            f.detail = format!(
                "{} {}（{}）：应参保{}人、已缴费{}人，参保缴费率{}，低于目标{}",
                row.village,
                band_zh(&row.band),
                row.band,
                row.eligible,
                row.covered,
                row.rate().map_or(String::new(), percent),
                row.target.map_or(String::new(), percent)
            );
            out.push(f);
        }
        out
    }
}
