//! Entitlement: what the plan says a person should pay or be paid for, read from the
//! person view and the policy. Ages, special groups on a day, the 代缴 groups, the
//! expected medical amount, employee enrolments, being alive at the window end.

use chrono::NaiveDate;
use qianbiao_core::policy::Group;
use qianbiao_core::{Category, Fen, Policy, Scheme};
use qianbiao_ingest::{Dataset, EligibilityView};

use crate::view::{PersonIdx, PersonView};

/// The policy applied to the person view (cheap to copy: three references).
#[derive(Clone, Copy)]
pub struct Entitlement<'a> {
    ds: &'a Dataset,
    policy: &'a Policy,
    view: &'a PersonView,
}

impl<'a> Entitlement<'a> {
    /// The policy over a dataset's person view.
    pub fn new(ds: &'a Dataset, policy: &'a Policy, view: &'a PersonView) -> Self {
        Entitlement { ds, policy, view }
    }

    /// Age in the policy year: `Y - birth year` (from the id).
    pub fn age(&self, p: PersonIdx) -> i32 {
        self.policy.year - self.view.birth_year(p)
    }

    /// The person's eligibility rows, in read order.
    pub fn eligibility(&self, p: PersonIdx) -> impl Iterator<Item = EligibilityView<'a>> + 'a {
        let ds = self.ds;
        self.view
            .eligibility_rows(p)
            .iter()
            .map(move |&i| ds.eligibility().get(i as usize))
    }

    /// True when a row of the group is active on `day`.
    pub fn in_group(&self, p: PersonIdx, group: Group, day: NaiveDate) -> bool {
        self.eligibility(p).any(|e| {
            e.active_on(day)
                && match group {
                    Group::Category(c) => e.category() == c,
                    Group::SeverelyDisabled => {
                        e.category() == Category::Canji
                            && e.disability_level()
                                .is_some_and(|l| self.policy.severe_disability_levels.contains(&l))
                    }
                }
        })
    }

    /// True when in any of the groups on `day`.
    pub fn in_any(&self, p: PersonIdx, groups: &[Group], day: NaiveDate) -> bool {
        groups.iter().any(|&g| self.in_group(p, g, day))
    }

    /// Severely disabled on `day`.
    pub fn severely_disabled(&self, p: PersonIdx, day: NaiveDate) -> bool {
        self.in_group(p, Group::SeverelyDisabled, day)
    }

    /// In a medical full-代缴 group on `day`, the 70+ included.
    pub fn medical_full(&self, p: PersonIdx, day: NaiveDate) -> bool {
        self.age(p) >= self.policy.medical_full_age
            || self.in_any(p, &self.policy.medical_full_groups, day)
    }

    /// The expected individual medical amount for a payment on `day`.
    pub fn expected_medical(&self, p: PersonIdx, day: NaiveDate) -> Fen {
        let pol = self.policy;
        if self.medical_full(p, day) {
            Fen::ZERO
        } else if day > pol.window_end {
            pol.medical_late_amount
        } else if (pol.medical_half_ages[0]..=pol.medical_half_ages[1]).contains(&self.age(p)) {
            pol.medical_half_amount
        } else {
            pol.medical_standard
        }
    }

    /// Employee enrolment of the same kind as `scheme`, active in Y.
    pub fn employee_active(&self, p: PersonIdx, scheme: Scheme) -> bool {
        self.view.employee_active(p, scheme)
    }

    /// Alive at the window end: no death date on or before it.
    pub fn alive_at_window_end(&self, p: PersonIdx) -> bool {
        self.view
            .death(p)
            .is_none_or(|(d, _)| d > self.policy.window_end)
    }
}
