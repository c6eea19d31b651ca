//! DTH: payments and rosters touching dead people, and death records that disagree.

pub mod dth_001_paid_after_death;
pub mod dth_002_dead_before_period;
pub mod dth_003_dead_on_roster;
pub mod dth_004_death_records_disagree;
pub mod dth_005_paid_after_mistyped_death;
