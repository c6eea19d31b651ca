//! COV: coverage against the plan's targets, and the coverage table behind it.

use qianbiao_core::HukouStatus;

use crate::Context;

pub mod cov_001_coverage_target;

pub use qianbiao_core::summary::CoverageRow;

/// Coverage per village and band: eligible = hukou residents with status 正常 (residence
/// permits included), alive at the window end, of an age in the band, without an active
/// employee enrolment of that kind; covered = of them, those with an effective payment
/// (any payer) of the band's scheme for Y. Sorted by village, then band in policy order.
/// Computed once per context.
pub fn coverage<'c>(ctx: &'c Context) -> &'c [CoverageRow] {
    ctx.coverage.get_or_init(|| compute(ctx))
}

fn compute(ctx: &Context) -> Vec<CoverageRow> {
    let bands = &ctx.policy.coverage_bands;
    let paid = ctx.paid_in_year();
    // Villages by symbol while counting (no text compared per person), by text at the end.
    let mut table: rustc_hash::FxHashMap<qianbiao_core::Sym, Vec<(u64, u64)>> = Default::default();
    for person in 0..ctx.persons.len() as u32 {
        let Some(h) = ctx.hukou(person) else { continue };
        if h.status() != HukouStatus::Normal || !ctx.alive_at_window_end(person) {
            continue;
        }
        let age = ctx.age(person);
        let village = ctx.ds.hukou.village[h.idx()];
        let row = table
            .entry(village)
            .or_insert_with(|| vec![(0, 0); bands.len()]);
        for (b, band) in bands.iter().enumerate() {
            if band.min_age.is_some_and(|a| age < a) || band.max_age.is_some_and(|a| age > a) {
                continue;
            }
            if ctx.employee_active(person, band.scheme) {
                continue;
            }
            row[b].0 += 1;
            if paid.contains(&(person, band.scheme)) {
                row[b].1 += 1;
            }
        }
    }
    let mut table: Vec<(&str, Vec<(u64, u64)>)> = table
        .into_iter()
        .map(|(v, counts)| (ctx.ds.str(v), counts))
        .collect();
    table.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut out = Vec::new();
    for (village, counts) in table {
        for (band, (eligible, covered)) in bands.iter().zip(counts) {
            out.push(CoverageRow {
                village: village.to_string(),
                band: band.name.clone(),
                eligible,
                covered,
                target: band.target,
            });
        }
    }
    out
}
