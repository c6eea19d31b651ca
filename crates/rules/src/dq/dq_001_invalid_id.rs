//! DQ-001 身份证号无效: Invalid id number.
use std::collections::BTreeMap;

use qianbiao_core::Finding;

use crate::{Context, Rule};

declare_rule! {
    /// **What it finds**: an effective payments row, or a receipts row, whose id_number is
    /// not valid after normalisation (wrong length or characters, impossible birth date,
    /// wrong GB 11643 check digit). Such rows are kept, since their money counts; two
    /// receipts rows on one number are one finding, amounts added.
    ///
    /// **Why it matters**: money booked to an id nobody has cannot be matched to a person
    /// (虚假信息, 六(二)); the checks by age, group and death all miss it.
    ///
    /// **Key**: `txn_id`, or `receipt_no` for receipts. **Amount**: the payment or receipt.
    pub struct Dq001 {
        code: "DQ-001",
        severity: Low,
        zh: "身份证号无效",
        en: "Invalid id number",
        needs: [],
    }
}

impl Rule for Dq001 {
    fn check(&self, ctx: &Context) -> Vec<Finding> {
        let mut out = Vec::new();
        for (i, p) in ctx.effective() {
            if p.id_valid() {
                continue;
            }
            let mut f = ctx.payment_finding(&Self::META, i, p.txn_id().to_string());
            f.detail = format!(
                "缴费明细中身份证号码“{}”无效（{}），{}元缴费无法对应到人",
                p.id(),
                why(p.id_lost()),
                p.amount()
            );
            out.push(f);
        }
        let mut receipts: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        for (i, r) in ctx.ds.receipts().iter().enumerate() {
            if !r.id_valid() {
                receipts.entry(r.receipt_no()).or_default().push(i as u32);
            }
        }
        for (no, rows) in receipts {
            let r = ctx.receipt(rows[0]);
            let mut f = ctx.receipt_finding(&Self::META, no, &rows);
            f.detail = format!(
                "收款登记中收据{}的身份证号码“{}”无效（{}），收款{}元无法对应到人",
                no,
                r.id(),
                why(r.id_lost()),
                f.amount
            );
            out.push(f);
        }
        out
    }
}

/// Why an id is invalid: an Excel number that lost its last digits (the reason
/// `data-contract.md` names, Real exports), or wrong length, birth date or check digit.
fn why(lost: bool) -> &'static str {
    if lost {
        "以数字存储，末尾数字已丢失：id_number stored as a number lost its last digits"
    } else {
        "长度、出生日期或校验位错误"
    }
}
