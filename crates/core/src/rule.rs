//! What describes a rule: the rules crate declares them, the writers show them.

use crate::{Severity, SourceKind};

/// What describes a rule, besides its check.
#[derive(Debug, Clone, Copy)]
pub struct RuleMeta {
    /// Stable code, e.g. `DTH-001`; never reused.
    pub code: &'static str,
    /// Severity of every finding of the rule.
    pub severity: Severity,
    /// Chinese name.
    pub name_zh: &'static str,
    /// English name.
    pub name_en: &'static str,
    /// Sources needed beyond `hukou` and `payments`; the rule is skipped without them.
    pub needs: &'static [SourceKind],
    /// The rule's documentation (Markdown), from its doc comment.
    pub doc: &'static str,
}
