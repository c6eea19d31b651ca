//! MNY-006 收据断号: Gaps in receipt numbers.
use std::collections::BTreeMap;

use qianbiao_core::Finding;
use qianbiao_ingest::Prov;

use crate::{Context, Rule};

declare_rule! {
    /// **What it finds**: a collector whose receipt numbers (same prefix, numeric suffix:
    /// the trailing digits, compared as numbers per prefix) skip numbers between the
    /// smallest and largest used. Numbers come from `receipts` and from effective payments,
    /// each with its own collector_id. One finding per collector; the detail lists the
    /// missing numbers, compressed into ranges.
    ///
    /// **Why it matters**: receipts are pre-printed serials (四(四)4); a missing number is a
    /// receipt written and not accounted for, unless it was voided and kept.
    ///
    /// **Key**: `collector_id`. **Amount**: 0.
    pub struct Mny006 {
        code: "MNY-006",
        severity: Low,
        zh: "收据断号",
        en: "Gaps in receipt numbers",
        needs: [],
    }
}

/// Splits `AB0012` into (`AB`, 12, 4 digits); None without trailing digits.
pub fn split_receipt(no: &str) -> Option<(&str, u64, usize)> {
    let digits = no
        .bytes()
        .rev()
        .take_while(u8::is_ascii_digit)
        .count()
        .min(18);
    if digits == 0 {
        return None;
    }
    let (prefix, num) = no.split_at(no.len() - digits);
    Some((prefix, num.parse().ok()?, digits))
}

/// Renders missing numbers as `A0003、A0005-A0009`.
fn render_gaps(prefix: &str, width: Option<usize>, gaps: &[(u64, u64)]) -> Vec<String> {
    let fmt = |n: u64| match width {
        Some(w) => format!("{prefix}{n:0w$}"),
        None => format!("{prefix}{n}"),
    };
    gaps.iter()
        .map(|&(a, b)| {
            if a == b {
                fmt(a)
            } else {
                format!("{}-{}", fmt(a), fmt(b))
            }
        })
        .collect()
}

impl Rule for Mny006 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        // collector -> prefix -> number -> (width, where first seen)
        type Numbers<'a> = BTreeMap<&'a str, BTreeMap<&'a str, BTreeMap<u64, (usize, Prov)>>>;
        let ds = ctx.ds;
        let receipts = ds
            .receipts()
            .iter()
            .map(|r| (r.collector_id(), r.receipt_no(), r.prov()));
        let payments = ds
            .payments()
            .iter()
            .filter(|p| p.is_effective())
            .map(|p| (p.collector_id(), p.receipt_no(), p.prov()));
        let mut seen: Numbers = BTreeMap::new();
        for (collector, no, prov) in receipts.chain(payments) {
            if collector.is_empty() {
                continue;
            }
            if let Some((prefix, n, w)) = split_receipt(no) {
                seen.entry(collector)
                    .or_default()
                    .entry(prefix)
                    .or_default()
                    .entry(n)
                    .or_insert((w, prov));
            }
        }
        let mut out = Vec::new();
        for (collector, prefixes) in seen {
            let mut missing = Vec::new();
            let mut count: u64 = 0;
            let mut sources = Vec::new();
            for (prefix, numbers) in prefixes {
                let widths: Vec<usize> = numbers.values().map(|v| v.0).collect();
                let width = widths.iter().all(|&w| w == widths[0]).then_some(widths[0]);
                let mut gaps = Vec::new();
                let mut prev: Option<(u64, Prov)> = None;
                for (&n, &(_, prov)) in &numbers {
                    if let Some((p, pprov)) = prev {
                        if n > p + 1 {
                            gaps.push((p + 1, n - 1));
                            count += n - p - 1;
                            sources.push(ctx.src(pprov));
                            sources.push(ctx.src(prov));
                        }
                    }
                    prev = Some((n, prov));
                }
                missing.extend(render_gaps(prefix, width, &gaps));
            }
            if missing.is_empty() {
                continue;
            }
            let mut f = Finding::new(Self::META.code, Self::META.severity, collector);
            f.collector_id = collector.to_string();
            f.sources = sources;
            f.detail = format!(
                "代办员{}的收据号缺{}个号码：{}，应核实缺号收据的去向",
                collector,
                count,
                missing.join("、")
            );
            out.push(f);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_numbers_split_on_trailing_digits() {
        assert_eq!(split_receipt("A0012"), Some(("A", 12, 4)));
        assert_eq!(split_receipt("DB01-0099"), Some(("DB01-", 99, 4)));
        assert_eq!(split_receipt("123"), Some(("", 123, 3)));
        assert_eq!(split_receipt("ABC"), None);
        assert_eq!(
            render_gaps("A", Some(4), &[(3, 3), (5, 9)]),
            ["A0003", "A0005-A0009"]
        );
    }
}
