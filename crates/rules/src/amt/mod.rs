//! AMT: amounts above or below the standard.

pub mod amt_001_pension_tier;
pub mod amt_002_lowest_tier;
pub mod amt_003_medical_overcharge;
pub mod amt_004_medical_underpaid;
pub mod amt_005_collector_overcharge;
