//! The two summary tables every run writes beside its findings: coverage per village and
//! band (`coverage.csv`, which COV-001 checks against the plan's targets) and money and
//! findings per collector (`collectors.csv`). Their rows are core types
//! ([`qianbiao_core::summary`]) so the writers need nothing of the rules.

use rustc_hash::FxHashMap;

use qianbiao_core::summary::{mny_rules, CollectorRow, CoverageRow};
use qianbiao_core::{Finding, HukouStatus, Policy, RuleMeta};
use qianbiao_ingest::Dataset;

use crate::context::PaidInYear;
use crate::entitlement::Entitlement;
use crate::view::PersonView;

/// Coverage per village and band: eligible = hukou residents with status 正常 (residence
/// permits included), alive at the window end, of an age in the band, without an active
/// employee enrolment of that kind; covered = of them, those with an effective payment
/// (any payer) of the band's scheme for Y. Sorted by village, then band in policy order.
pub fn coverage(
    ds: &Dataset,
    policy: &Policy,
    view: &PersonView,
    paid: &PaidInYear,
) -> Vec<CoverageRow> {
    let bands = &policy.coverage_bands;
    let ent = Entitlement::new(ds, policy, view);
    // Villages by symbol while counting (no text compared per person), by text at the end.
    let mut table: rustc_hash::FxHashMap<qianbiao_core::Sym, Vec<(u64, u64)>> = Default::default();
    for person in view.persons() {
        let Some(h) = view.hukou_row(person).map(|i| ds.hukou().get(i as usize)) else {
            continue;
        };
        if h.status() != HukouStatus::Normal || !ent.alive_at_window_end(person) {
            continue;
        }
        let age = ent.age(person);
        let village = ds.hukou.village[h.idx()];
        let row = table
            .entry(village)
            .or_insert_with(|| vec![(0, 0); bands.len()]);
        for (b, band) in bands.iter().enumerate() {
            if band.min_age.is_some_and(|a| age < a) || band.max_age.is_some_and(|a| age > a) {
                continue;
            }
            if ent.employee_active(person, band.scheme) {
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
        .map(|(v, counts)| (ds.str(v), counts))
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

/// Per-collector money and findings, sorted by collector_id: effective payments with a
/// collector, deposits, receipts, and the findings naming the collector, all rules and
/// per MNY rule of the catalogue `rules` (in its order).
pub fn collectors(
    ds: &Dataset,
    findings: &[Finding],
    rules: &[&'static RuleMeta],
) -> Vec<CollectorRow> {
    let mny = mny_rules(rules);
    // Keyed by the borrowed id (one hash per row, no allocation), sorted at the end.
    let mut table: FxHashMap<&str, CollectorRow> = FxHashMap::default();
    fn get<'t, 'k>(
        table: &'t mut FxHashMap<&'k str, CollectorRow>,
        id: &'k str,
        rules: usize,
    ) -> &'t mut CollectorRow {
        table.entry(id).or_insert_with(|| CollectorRow {
            collector_id: id.to_string(),
            mny: vec![0; rules],
            ..CollectorRow::default()
        })
    }
    for p in ds
        .payments()
        .iter()
        .filter(|p| p.is_effective() && !p.collector_id().is_empty())
    {
        let r = get(&mut table, p.collector_id(), mny.len());
        r.payments += 1;
        r.amount += p.amount();
    }
    for d in ds.deposits().iter() {
        get(&mut table, d.collector_id(), mny.len()).deposited_amount += d.amount();
    }
    for rc in ds.receipts().iter() {
        let r = get(&mut table, rc.collector_id(), mny.len());
        r.receipts += 1;
        r.receipt_amount += rc.amount();
    }
    for f in findings {
        for c in f.collector_id.split(';').filter(|c| !c.is_empty()) {
            let r = get(&mut table, c, mny.len());
            r.findings += 1;
            if let Some(k) = mny.iter().position(|m| m.code == f.rule) {
                r.mny[k] += 1;
            }
        }
    }
    let mut rows: Vec<CollectorRow> = table.into_values().collect();
    rows.sort_unstable_by(|a, b| a.collector_id.cmp(&b.collector_id));
    rows
}
