//! DTH-003 清册含死亡人员: Dead person on the roster.
use rustc_hash::FxHashMap as HashMap;

use qianbiao_core::{Fen, Finding, IdStr, Scheme};

use crate::{Context, Rule};

declare_rule! {
    /// **What it finds**: a roster (征收清册) row for a person whose death date is before
    /// the window start. Several rows of one person and scheme are one finding.
    ///
    /// **Why it matters**: the roster guides the collectors (四(四)3); a dead person on it
    /// invites charging the dead and inflates the expected money (钱表相符).
    ///
    /// **Key**: `ID|SCHEME|Y` (Y the policy year). **Amount**: the roster's expected_amount,
    /// added over the rows, 0 where none is given. **Sources**: the row that gives the death
    /// date, then the roster rows.
    pub struct Dth003 {
        code: "DTH-003",
        severity: Low,
        zh: "清册含死亡人员",
        en: "Dead person on the roster",
        needs: [Roster],
    }
}

impl Rule for Dth003 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let year = ctx.policy.year;
        let mut groups: HashMap<(IdStr, Scheme), Vec<usize>> = HashMap::default();
        for (i, r) in ctx.ds.roster().iter().enumerate() {
            // By the id's symbol: no hashing of its text per roster row.
            let Some(person) = ctx.person_of_sym(ctx.ds.roster.id[i]) else {
                continue;
            };
            if ctx
                .death_date(person)
                .is_some_and(|d| d < ctx.policy.window_start)
            {
                groups.entry((r.id(), r.scheme())).or_default().push(i);
            }
        }
        let mut out = Vec::new();
        for ((id, scheme), rows) in groups {
            let first = ctx.ds.roster().get(rows[0]);
            let person = ctx.person_of(&id).expect("grouped by known person");
            let key = format!("{id}|{scheme}|{year}");
            let mut f = Finding::new(Self::META.code, Self::META.severity, key);
            ctx.fill_person(&mut f, &id, first.name(), first.village());
            f.collector_id = first.collector_id().to_string();
            f.scheme = Some(scheme);
            f.period = Some(year);
            f.amount = rows
                .iter()
                .map(|&i| {
                    ctx.ds
                        .roster()
                        .get(i)
                        .expected_amount()
                        .unwrap_or(Fen::ZERO)
                })
                .sum();
            // The row that gives the death date, then the roster rows.
            f.sources = ctx
                .death_evidence(person)
                .into_iter()
                .chain(rows.iter().map(|&i| ctx.src(ctx.ds.roster().get(i).prov())))
                .collect();
            f.detail = format!(
                "{}年度{}征收清册列有该人员（应缴{}元），但其已于{}死亡（来源：{}），应从清册中删除",
                year,
                scheme.zh(),
                f.amount,
                ctx.death_date(person).expect("dead"),
                ctx.death_source(person)
            );
            out.push(f);
        }
        out
    }
}
