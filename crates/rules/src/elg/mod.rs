//! ELG: payments by or for people not entitled, and entitled people left out.

pub mod elg_001_not_a_resident;
pub mod elg_002_pension_age;
pub mod elg_003_government_not_entitled;
pub mod elg_004_group_not_covered;
