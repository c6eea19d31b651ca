//! ELG-004 特殊群体应保未保: Entitled group member not covered.
use qianbiao_core::{Finding, HukouStatus, Scheme};

use crate::{Context, Rule};

declare_rule! {
    /// **What it finds**: only when as_of is after the window: a person in hukou with
    /// status 正常 (residence-permit holders included), alive at the window end, with no
    /// active employee enrolment of that kind, who on the window end is in a medical
    /// full-代缴 group or 70+ (scheme resident_medical), or is severely disabled aged 16-59
    /// (scheme resident_pension), and has no effective payment of that scheme for Y.
    ///
    /// **Why it matters**: 应保尽保 (二): the government pays for these people, so nobody
    /// of them should be left uncovered; each one is a department's omission.
    ///
    /// **Key**: `ID|SCHEME|Y`. **Amount**: [320] for medical, [100] for pension.
    pub struct Elg004 {
        code: "ELG-004",
        severity: Medium,
        zh: "特殊群体应保未保",
        en: "Entitled group member not covered",
        needs: [Eligibility],
    }
}

impl Rule for Elg004 {
    fn skip_reason(&self, ctx: &Context) -> Option<String> {
        if !ctx.ds.has(qianbiao_ingest::SourceKind::Eligibility) {
            return Some("source missing: eligibility".into());
        }
        ctx.window_open_reason()
    }

    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let pol = ctx.policy;
        let end = pol.window_end;
        let paid = &ctx.paid_in_year;
        let mut out = Vec::new();
        for person in ctx.view.persons() {
            let Some(h) = ctx.hukou(person) else { continue };
            if h.status() != HukouStatus::Normal || !ctx.entitlement().alive_at_window_end(person) {
                continue;
            }
            let age = ctx.entitlement().age(person);
            let checks = [
                (
                    Scheme::ResidentMedical,
                    ctx.entitlement().medical_full(person, end),
                    pol.medical_standard,
                    "医保全额代缴对象",
                ),
                (
                    Scheme::ResidentPension,
                    (pol.pension_min_age..=pol.pension_max_age).contains(&age)
                        && ctx.entitlement().severely_disabled(person, end),
                    pol.pension_government_amount,
                    "一、二级重度残疾人（养老代缴对象）",
                ),
            ];
            for (scheme, entitled, amount, group) in checks {
                if !entitled
                    || ctx.entitlement().employee_active(person, scheme)
                    || paid.contains(&(person, scheme))
                {
                    continue;
                }
                let key = format!("{}|{}|{}", h.id(), scheme, pol.year);
                let mut f = Finding::new(Self::META.code, Self::META.severity, key);
                ctx.fill_person(&mut f, &h.id(), h.name(), h.village());
                f.scheme = Some(scheme);
                f.period = Some(pol.year);
                f.amount = amount;
                f.sources.push(ctx.src(h.prov()));
                f.sources.extend(
                    ctx.entitlement()
                        .eligibility(person)
                        .filter(|e| e.active_on(end))
                        .map(|e| ctx.src(e.prov())),
                );
                f.detail = format!(
                    "该人员{}岁，{}为{}，但截至{}无{}年度{}有效缴费记录，应保未保",
                    age,
                    end,
                    group,
                    ctx.as_of,
                    pol.year,
                    scheme.zh()
                );
                out.push(f);
            }
        }
        out
    }
}
