//! AMT: amounts above or below the standard.

use qianbiao_core::{PayerType, Scheme};
use qianbiao_ingest::PaymentRow;

pub mod amt_001_pension_tier;
pub mod amt_002_lowest_tier;
pub mod amt_003_medical_overcharge;
pub mod amt_004_medical_underpaid;
pub mod amt_005_collector_overcharge;

/// An effective individual payment of the scheme.
pub(crate) fn individual(p: &PaymentRow, scheme: Scheme) -> bool {
    p.is_effective() && p.payer_type == PayerType::Individual && p.scheme == scheme
}
