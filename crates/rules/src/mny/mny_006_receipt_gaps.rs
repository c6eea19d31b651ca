//! MNY-006 收据断号: Gaps in receipt numbers.
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use qianbiao_core::Finding;
use qianbiao_ingest::Prov;

use crate::{Context, Rule};

declare_rule! {
    /// **What it finds**: a collector whose receipt numbers (same prefix, numeric suffix:
    /// the trailing digits, compared as numbers per prefix) skip numbers between the
    /// smallest and largest used. Numbers come from `receipts` and from effective payments,
    /// each with its own collector_id. One finding per collector; the detail lists the
    /// missing numbers one by one, a run of more than [`LISTED`] as its first and last
    /// joined by 至 (receipt numbers hold `-` themselves).
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

/// The longest run of missing numbers listed one by one.
pub const LISTED: u64 = 10;

/// Renders missing numbers as `A0003`, `A0005`, `A0006`, `A0010至A0099`: every number of
/// a run of up to [`LISTED`], a longer run as its first and last.
fn render_gaps(prefix: &str, width: Option<usize>, gaps: &[(u64, u64)]) -> Vec<String> {
    let fmt = |n: u64| match width {
        Some(w) => format!("{prefix}{n:0w$}"),
        None => format!("{prefix}{n}"),
    };
    let mut out = Vec::new();
    for &(a, b) in gaps {
        if b - a < LISTED {
            out.extend((a..=b).map(fmt));
        } else {
            out.push(format!("{}至{}", fmt(a), fmt(b)));
        }
    }
    out
}

/// Ranks of texts in byte order: each distinct text a number, texts seen in any order.
#[derive(Default)]
struct Ranks<'a> {
    of: FxHashMap<&'a str, u32>,
    texts: Vec<&'a str>,
}

impl<'a> Ranks<'a> {
    /// The text's number, in order of first sight until [`Ranks::sorted`].
    fn number(&mut self, text: &'a str) -> u32 {
        let next = self.texts.len() as u32;
        *self.of.entry(text).or_insert_with(|| {
            self.texts.push(text);
            next
        })
    }

    /// Each number's rank in byte order of the texts, and the texts by rank.
    fn sorted(self) -> (Vec<u32>, Vec<&'a str>) {
        let mut by_text: Vec<u32> = (0..self.texts.len() as u32).collect();
        by_text.sort_unstable_by_key(|&n| self.texts[n as usize]);
        let mut rank = vec![0; self.texts.len()];
        for (r, &n) in by_text.iter().enumerate() {
            rank[n as usize] = r as u32;
        }
        let texts = by_text.iter().map(|&n| self.texts[n as usize]).collect();
        (rank, texts)
    }
}

impl Rule for Mny006 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
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
        // Every receipt number as (collector, prefix, number, order of sight), collectors
        // and prefixes as numbers: one sort of integers puts a collector's prefixes and
        // their numbers in order, each number's first sight first.
        let (mut collectors, mut prefixes) = (Ranks::default(), Ranks::default());
        let mut seen: Vec<(u32, u32, u64, u32)> = Vec::new();
        let mut first: Vec<(usize, Prov)> = Vec::new();
        for (collector, no, prov) in receipts.chain(payments) {
            if collector.is_empty() {
                continue;
            }
            if let Some((prefix, n, w)) = split_receipt(no) {
                let c = collectors.number(collector);
                let p = prefixes.number(prefix);
                seen.push((c, p, n, first.len() as u32));
                first.push((w, prov));
            }
        }
        let (collector_rank, collectors) = collectors.sorted();
        let (prefix_rank, prefixes) = prefixes.sorted();
        for e in &mut seen {
            e.0 = collector_rank[e.0 as usize];
            e.1 = prefix_rank[e.1 as usize];
        }
        seen.par_sort_unstable();
        let mut out = Vec::new();
        for numbered in seen.chunk_by(|a, b| a.0 == b.0) {
            let collector = collectors[numbered[0].0 as usize];
            let mut missing = Vec::new();
            let mut count: u64 = 0;
            let mut sources = Vec::new();
            for group in numbered.chunk_by(|a, b| a.1 == b.1) {
                let prefix = prefixes[group[0].1 as usize];
                // Each number once, as first seen.
                let numbers: Vec<(u64, usize, Prov)> = group
                    .chunk_by(|a, b| a.2 == b.2)
                    .map(|same| {
                        let (w, prov) = first[same[0].3 as usize];
                        (same[0].2, w, prov)
                    })
                    .collect();
                let w0 = numbers[0].1;
                let width = numbers.iter().all(|&(_, w, _)| w == w0).then_some(w0);
                let mut gaps = Vec::new();
                for pair in numbers.windows(2) {
                    let ((p, _, pprov), (n, _, prov)) = (pair[0], pair[1]);
                    if n > p + 1 {
                        gaps.push((p + 1, n - 1));
                        count += n - p - 1;
                        sources.push(ctx.src(pprov));
                        sources.push(ctx.src(prov));
                    }
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
            render_gaps("A", Some(4), &[(3, 3), (5, 7)]),
            ["A0003", "A0005", "A0006", "A0007"]
        );
        // Ten missing numbers are listed; eleven are a run.
        assert_eq!(render_gaps("SJ-", None, &[(1, 10)]).len(), 10);
        assert_eq!(render_gaps("SJ-", Some(3), &[(1, 11)]), ["SJ-001至SJ-011"]);
    }
}
