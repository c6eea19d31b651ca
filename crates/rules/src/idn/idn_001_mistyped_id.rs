//! IDN-001 身份证号疑似录入错误: Id number probably mistyped.
use std::collections::BTreeMap;

use qianbiao_core::Finding;

use crate::link::Link;
use crate::{Context, Rule};

declare_rule! {
    /// **What it finds**（发现什么）: an effective payments row, or a receipts row, kept with
    /// an invalid id and linked to exactly one hukou person (`data-contract.md`, Identity
    /// linkage): `typo` (one character substituted or two adjacent swapped, same name),
    /// `numeric` (an id that lost its last digits as an Excel number, within 1,000, same
    /// name), or `name_birth` (same name and the birth date of characters 7-14, in the row's
    /// village when it has one). 身份证号无效的缴费或收款行，可唯一关联到一名户籍人员。
    ///
    /// **Why it matters**（为何重要）: the money belongs to a real person whose record misses
    /// it; correcting the id restores the person's contribution and lets the age, group and
    /// death checks see it (虚假信息, 六(二)). DQ-001 still reports the row.
    /// 更正身份证号后，该笔缴费才能记入本人并接受各项核查。
    ///
    /// **Key**: `txn_id`, or `receipt_no` for receipts (two receipts rows of one number are
    /// one finding, amounts added). **Amount**: the payment or receipt. `id_number` is the
    /// linked person's id, `name` and `village` hukou's; `detail` gives the id as typed, the
    /// linked id and the basis.
    pub struct Idn001 {
        code: "IDN-001",
        severity: Low,
        zh: "身份证号疑似录入错误",
        en: "Id number probably mistyped",
        needs: [],
    }
}

impl Rule for Idn001 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let mut out = Vec::new();
        for &(i, link) in &ctx.links.payments {
            let p = ctx.payment(i);
            let mut f = ctx.payment_finding(&Self::META, i, p.txn_id().to_string());
            let detail = fill_linked(ctx, &mut f, &p.id(), link);
            f.detail = format!("缴费明细{}", detail);
            out.push(f);
        }
        let mut receipts: BTreeMap<&str, Vec<(u32, Link)>> = BTreeMap::new();
        for &(i, link) in &ctx.links.receipts {
            receipts
                .entry(ctx.receipt(i).receipt_no())
                .or_default()
                .push((i, link));
        }
        for (no, rows) in receipts {
            let (first, link) = rows[0];
            let idx: Vec<u32> = rows.iter().map(|(i, _)| *i).collect();
            let mut f = ctx.receipt_finding(&Self::META, no, &idx);
            let detail = fill_linked(ctx, &mut f, &ctx.receipt(first).id(), link);
            f.detail = format!("收款登记收据{}{}", no, detail);
            out.push(f);
        }
        out
    }
}

/// Sets the person columns to the linked hukou person and returns the detail's tail.
fn fill_linked(ctx: &Context, f: &mut Finding, typed: &str, link: Link) -> String {
    let h = ctx.ds.hukou().get(link.hukou as usize);
    f.id_number = h.id().to_string();
    f.name = h.name().to_string();
    f.village = h.village().to_string();
    format!(
        "中身份证号码“{}”无效，疑为户籍人员{}（{}）的身份证号录入错误（关联依据：{}），应更正后重新核查",
        typed,
        h.name(),
        h.id(),
        link.basis.as_str()
    )
}
