//! Fixtures for the MNY, DQ and COV rules, with their near misses.

use crate::common::*;

#[test]
fn mny_001_deposit_does_not_match() {
    let a = born(1980, 1);
    let b = born(1980, 2);
    let t = Town::new()
        .resident(&a)
        .resident(&b)
        .deposits(&[
            // Matches: amount and count.
            "D1,C1,640,2021-11-06,2".to_string(),
            // 40 short.
            "D2,C1,600,2021-11-06,2".to_string(),
            // Amount right, person_count wrong.
            "D3,C1,640,2021-11-06,3".to_string(),
            // Empty person_count is not compared; listed twice, amounts added.
            "D4,C1,300,2021-11-06,".to_string(),
            "D4,C1,340,2021-11-07,".to_string(),
            // Listed twice, one row without a count: the count is unknown, not 1.
            "D6,C1,320,2021-11-06,1".to_string(),
            "D6,C1,320,2021-11-06,".to_string(),
            // Listed twice, both counted: 1 + 1 against 2 payments.
            "D7,C1,320,2021-11-06,1".to_string(),
            "D7,C1,320,2021-11-06,1".to_string(),
            // Nothing booked against it.
            "D5,C2,100,2021-11-06,".to_string(),
        ])
        .pays(&[
            med("T1", &a, "320", "2021-11-05").collector("C1", "", "D1"),
            med("T2", &b, "320", "2021-11-05").collector("C1", "", "D1"),
            med("T3", &a, "320", "2021-11-05")
                .collector("C1", "", "D2")
                .period("2023"),
            med("T4", &b, "320", "2021-11-05")
                .collector("C1", "", "D2")
                .period("2023"),
            med("T5", &a, "320", "2021-11-05")
                .collector("C1", "", "D3")
                .period("2024"),
            med("T6", &b, "320", "2021-11-05")
                .collector("C1", "", "D3")
                .period("2024"),
            med("T7", &a, "320", "2021-11-05")
                .collector("C1", "", "D4")
                .period("2025"),
            med("T8", &b, "320", "2021-11-05")
                .collector("C1", "", "D4")
                .period("2025"),
            med("U1", &a, "320", "2021-11-05")
                .collector("C1", "", "D6")
                .period("2030"),
            med("U2", &b, "320", "2021-11-05")
                .collector("C1", "", "D6")
                .period("2030"),
            med("V1", &a, "320", "2021-11-05")
                .collector("C1", "", "D7")
                .period("2031"),
            med("V2", &b, "320", "2021-11-05")
                .collector("C1", "", "D7")
                .period("2031"),
            med("T9", &b, "320", "2021-11-05")
                .collector("C1", "", "D4")
                .period("2026")
                .status("已退费"),
        ]);
    assert_eq!(
        t.fired("MNY-001"),
        expect(&[("D2", "40.00"), ("D3", "0.00"), ("D5", "100.00")])
    );
    let f = t.run().into_iter().find(|f| f.key == "D2").unwrap();
    assert_eq!(f.txn_ids, ["T3", "T4"]);
    assert_eq!(f.collector_id, "C1");
}

#[test]
fn mny_002_receipt_never_booked() {
    let a = born(1980, 3);
    let t = Town::new()
        .resident(&a)
        .receipts(&[
            format!("R1,C1,{a},resident_medical,320,2021-11-05"),
            format!("R2,C1,{a},resident_medical,160,2021-11-05"),
            format!("R2,C1,{a},resident_medical,160,2021-11-05"),
            format!("R3,C1,{a},resident_pension,300,2021-11-05"),
        ])
        .pays(&[
            med("T1", &a, "320", "2021-11-05").collector("C1", "R1", ""),
            // A refunded payment does not book the receipt.
            pen("T3", &a, "300", "2021-11-05")
                .collector("C1", "R3", "")
                .status("已退费"),
        ]);
    assert_eq!(
        t.fired("MNY-002"),
        expect(&[("R2", "320.00"), ("R3", "300.00")])
    );
}

#[test]
fn mny_003_money_held_back() {
    let a = born(1980, 4);
    let t = Town::new()
        .resident(&a)
        .deposits(&[
            "D1,C1,320,2021-11-14,".to_string(),
            "D2,C2,320,2021-11-13 16:00,".to_string(),
        ])
        .pays(&[
            // Deposited 4 days after payment.
            med("T1", &a, "320", "2021-11-10 09:00").collector("C1", "", "D1"),
            // Exactly 3 days: on time.
            med("T2", &a, "320", "2021-11-10 23:00")
                .collector("C2", "", "D2")
                .period("2023"),
            // Never deposited; as_of (2022-01-10 below) is long after.
            med("T3", &a, "320", "2021-11-10")
                .collector("C3", "", "")
                .period("2024"),
            // Deposit id unknown to deposits.
            med("T4", &a, "320", "2021-11-10")
                .collector("C3", "", "D9")
                .period("2025"),
            // Paid exactly 3 days before as_of, not deposited: not yet late.
            med("T5", &a, "320", "2022-01-07")
                .collector("C4", "", "")
                .period("2026"),
            // No collector: not a collector payment.
            med("T6", &a, "320", "2021-11-10").period("2027"),
        ])
        .with_as_of("2022-01-10");
    assert_eq!(
        t.fired("MNY-003"),
        expect(&[("C1", "320.00"), ("C3", "640.00")])
    );
}

#[test]
fn mny_003_as_of_inside_the_window() {
    let a = born(1980, 5);
    let t = Town::new()
        .resident(&a)
        .deposits(&["D0,C0,1,2021-11-01,".to_string()])
        .pays(&[med("T1", &a, "320", "2021-12-08").collector("C1", "", "")])
        .with_as_of("2021-12-10");
    assert!(t.fired("MNY-003").is_empty());
}

/// Deposits are found by the symbol of their id in the text interner, which villages and
/// collectors share: a deposit_id spelled like a collector id is a deposit only when a
/// deposits row has it, and a deposit whose id is a collector's text is found.
#[test]
fn mny_003_004_deposit_ids_spelled_like_collectors() {
    let a = born(1980, 7);
    let t = Town::new()
        .resident(&a)
        .deposits(&[
            // A deposit whose id is collector C1's text, deposited on time.
            "C1,C1,320,2021-11-11,".to_string(),
        ])
        .pays(&[
            med("T1", &a, "320", "2021-11-10").collector("C1", "", "C1"),
            // C2 is collector C2's id (below), not a deposit: never deposited.
            med("T2", &a, "320", "2021-11-10")
                .collector("C1", "", "C2")
                .period("2023"),
            // Paid the day before as_of, not deposited: not yet late.
            med("T3", &a, "320", "2022-01-09")
                .collector("C2", "", "")
                .period("2024"),
        ])
        .with_as_of("2022-01-10");
    assert_eq!(t.fired("MNY-003"), expect(&[("C1", "320.00")]));
    assert!(t.fired("MNY-004").is_empty());
    assert!(t.fired("MNY-001").is_empty());
}

#[test]
fn mny_004_money_advanced() {
    let a = born(1980, 6);
    let t = Town::new()
        .resident(&a)
        .deposits(&[
            "D1,C1,320,2021-11-09,".to_string(),
            "D2,C2,320,2021-11-10,".to_string(),
        ])
        .pays(&[
            med("T1", &a, "320", "2021-11-10 08:00").collector("C1", "", "D1"),
            // Deposited the same day: not advanced.
            med("T2", &a, "320", "2021-11-10 18:00")
                .collector("C2", "", "D2")
                .period("2023"),
        ]);
    assert_eq!(t.fired("MNY-004"), expect(&[("C1", "320.00")]));
}

#[test]
fn mny_005_pooling_through_an_account() {
    let p: Vec<String> = (7..15).map(|s| born(1980, s)).collect();
    let stranger = born(1980, 15);
    let t = Town::new()
        .resident_in(&p[0], "店子村", "H1")
        .resident_in(&p[1], "店子村", "H2")
        .resident_in(&p[2], "店子村", "H1")
        .resident_in(&p[3], "店子村", "H3")
        .resident_in(&p[4], "店子村", "H3")
        .resident_in(&p[5], "店子村", "H3")
        .resident_in(&p[6], "店子村", "H4")
        .resident_in(&p[7], "店子村", "")
        .pays(&[
            // A1: households H1, H2 and a person not in hukou: three.
            med("A1", &p[0], "320", "2021-11-05").account("6222001"),
            med("A2", &p[1], "320", "2021-11-05").account("6222001"),
            med("A3", &stranger, "320", "2021-11-05").account("6222001"),
            // B: two households only.
            med("B1", &p[2], "320", "2021-11-05").account("6222002"),
            med("B2", &p[6], "320", "2021-11-05").account("6222002"),
            // C: one household of three people.
            med("C1", &p[3], "320", "2021-11-05").account("6222003"),
            med("C2", &p[4], "320", "2021-11-05").account("6222003"),
            med("C3", &p[5], "320", "2021-11-05").account("6222003"),
            // D: a person without household_no is a household alone: H4 + alone + H3 = 3.
            med("D1", &p[6], "320", "2021-11-05")
                .account("6222004")
                .period("2023"),
            med("D2", &p[7], "320", "2021-11-05").account("6222004"),
            pen("D3", &p[5], "300", "2021-11-05").account("6222004"),
            // Government payments do not count.
            med("E1", &p[0], "320", "2021-11-05")
                .account("6222005")
                .gov()
                .period("2023"),
            med("E2", &p[1], "320", "2021-11-05")
                .account("6222005")
                .gov()
                .period("2023"),
            med("E3", &p[3], "320", "2021-11-05")
                .account("6222005")
                .gov()
                .period("2023"),
        ]);
    assert_eq!(
        t.fired("MNY-005"),
        expect(&[("6222001", "960.00"), ("6222004", "940.00")])
    );
}

#[test]
fn mny_006_receipt_gaps() {
    let a = born(1980, 16);
    let t = Town::new()
        .resident(&a)
        .receipts(&[
            format!("A0001,C1,{a},resident_medical,320,2021-11-05"),
            format!("A0002,C1,{a},resident_medical,320,2021-11-05"),
            format!("B01,C2,{a},resident_medical,320,2021-11-05"),
            format!("B02,C2,{a},resident_medical,320,2021-11-05"),
            format!("X9,C2,{a},resident_medical,320,2021-11-05"),
        ])
        .pays(&[
            // Payments add their own numbers: C1 uses A0004 and A0009: A0003, A0005-A0008 missing.
            med("T1", &a, "320", "2021-11-05").collector("C1", "A0004", ""),
            med("T2", &a, "320", "2021-11-05")
                .collector("C1", "A0009", "")
                .period("2023"),
            // A refunded payment's number does not count.
            med("T3", &a, "320", "2021-11-05")
                .collector("C2", "B05", "")
                .status("作废"),
        ]);
    assert_eq!(t.fired("MNY-006"), expect(&[("C1", "0.00")]));
    let f = t.run().into_iter().find(|f| f.rule == "MNY-006").unwrap();
    // Every missing number is listed.
    assert!(
        f.detail.contains("A0003、A0005、A0006、A0007、A0008，"),
        "{}",
        f.detail
    );
}

#[test]
fn mny_006_prefixes_in_text_order_each_number_once() {
    let a = born(1980, 16);
    let t = Town::new()
        .resident(&a)
        .receipts(&[
            // Prefix Z seen before prefix A: the detail still lists A's gaps first.
            format!("Z10,C3,{a},resident_medical,320,2021-11-05"),
            format!("Z13,C3,{a},resident_medical,320,2021-11-05"),
            format!("A1,C3,{a},resident_medical,320,2021-11-05"),
            format!("A3,C3,{a},resident_medical,320,2021-11-05"),
            // Widths differ within prefix K: the gap is written without padding.
            format!("K7,C3,{a},resident_medical,320,2021-11-05"),
            format!("K009,C3,{a},resident_medical,320,2021-11-05"),
            // C4: no gap, a number listed twice.
            format!("M01,C4,{a},resident_medical,320,2021-11-05"),
            format!("M02,C4,{a},resident_medical,320,2021-11-05"),
        ])
        .pays(&[
            // The payment's number is also a receipt's: once.
            med("T1", &a, "320", "2021-11-05").collector("C4", "M02", ""),
            med("T2", &a, "320", "2021-11-05")
                .collector("C3", "Z13", "")
                .period("2023"),
        ]);
    assert_eq!(t.fired("MNY-006"), expect(&[("C3", "0.00")]));
    let f = t.run().into_iter().find(|f| f.rule == "MNY-006").unwrap();
    assert!(
        f.detail.contains("缺4个号码：A2、K8、Z11、Z12，"),
        "{}",
        f.detail
    );
}

#[test]
fn mny_006_a_long_run_of_missing_numbers_is_its_first_and_last() {
    let a = born(1980, 16);
    let t = Town::new().resident(&a).receipts(&[
        format!("SJ-0001,C5,{a},resident_medical,320,2021-11-05"),
        format!("SJ-0013,C5,{a},resident_medical,320,2021-11-05"),
        format!("SJ-0024,C5,{a},resident_medical,320,2021-11-05"),
    ]);
    let f = t.run().into_iter().find(|f| f.rule == "MNY-006").unwrap();
    // Eleven missing (0002-0012) are a run; ten (0014-0023) are listed one by one.
    assert!(
        f.detail
            .contains("缺21个号码：SJ-0002至SJ-0012、SJ-0014、SJ-0015、SJ-0016、"),
        "{}",
        f.detail
    );
    assert!(f.detail.contains("SJ-0022、SJ-0023，"), "{}", f.detail);
}

#[test]
fn dq_001_invalid_ids() {
    let t = Town::new()
        .receipts(&[
            "R1,C1,37132319800101001X,resident_medical,160,2021-11-05".to_string(),
            "R1,C1,37132319800101001X,resident_medical,160,2021-11-05".to_string(),
        ])
        .pays(&[
            med("T1", "37132319800101001", "320", "2021-11-05"),
            med("T2", "37132319800101001", "320", "2021-11-05").status("已退费"),
            med("T3", &born(1980, 17), "320", "2021-11-05"),
            // A valid 15-digit legacy number is not DQ-001.
            med("T4", "371323800101001", "320", "2021-11-05"),
        ]);
    assert_eq!(
        t.fired("DQ-001"),
        expect(&[("R1", "320.00"), ("T1", "320.00")])
    );
}

#[test]
fn dq_002_name_differs() {
    let a = born(1980, 18);
    let b = born(1980, 19);
    let t = Town::new()
        .hukou(&format!("{a},王涛,店子村,H1,正常,"))
        .hukou(&format!("{b},李四,店子村,H2,正常,"))
        .pays(&[
            med("T1", &a, "320", "2021-11-05").name("王  涛"),
            pen("T2", &a, "300", "2021-11-05")
                .name("王")
                .collector("C2", "", ""),
            med("T3", &b, "320", "2021-11-05").name("李三"),
            pen("T4", &b, "300", "2021-11-05").name(""),
        ]);
    assert_eq!(
        t.fired("DQ-002"),
        expect(&[(a.as_str(), "300.00"), (b.as_str(), "320.00")])
    );
    // The collectors of the payments behind it, as for every finding over payments (and
    // so in collectors.csv); none for payments without one.
    let found = t.run();
    let of = |id: &str| {
        found
            .iter()
            .find(|f| f.rule == "DQ-002" && f.key == id)
            .unwrap()
    };
    assert_eq!(of(&a).collector_id, "C2");
    assert_eq!(of(&b).collector_id, "");
}

#[test]
fn dq_003_conflicting_txn_ids() {
    let a = born(1980, 20);
    let first = med("T1", &a, "320", "2021-11-05").status("已退费");
    let t = Town::new()
        .resident(&a)
        .pays(&[first.clone(), med("T2", &a, "320", "2021-11-05")])
        .pays_in(
            "payments/b.csv",
            &[first.clone(), med("T1", &a, "300", "2021-11-05")],
        )
        .pays_in("payments/c.csv", &[med("T2", &a, "320", "2021-11-05")]);
    // T1: three rows, two identical, one different: one finding with the first row's
    // amount even though it is refunded. T2: exact copies only.
    assert_eq!(t.fired("DQ-003"), expect(&[("T1", "320.00")]));
    let f = t.run().into_iter().find(|f| f.rule == "DQ-003").unwrap();
    assert_eq!(
        f.sources,
        ["payments.csv:2", "payments/b.csv:2", "payments/b.csv:3"]
    );
}

fn coverage_town(eligible: usize, covered: usize) -> Town {
    let mut t = Town::new();
    let mut pays = Vec::new();
    for i in 0..eligible {
        let id = born(1970, i as u32);
        t = t.resident_in(&id, "石竹村", &format!("H{i}"));
        if i < covered {
            pays.push(pen(&format!("P{i}"), &id, "300", "2021-11-05"));
        }
    }
    // A late payment sets as_of after the window.
    let late = born(1990, 999);
    pays.push(med("L1", &late, "930", "2022-01-10"));
    pays.push(pen("L2", &late, "300", "2021-11-05"));
    t.resident_in(&late, "王河村", "HL").pays(&pays)
}

#[test]
fn cov_001_below_target() {
    let t = coverage_town(20, 18);
    assert_eq!(
        t.fired("COV-001"),
        expect(&[("石竹村|pension_45_59", "0.00")])
    );
    // One sentence in Chinese: the band named as a reviewer says it (its name as in
    // coverage.csv beside it), the rates as percentages.
    let f = t.run().into_iter().find(|f| f.rule == "COV-001").unwrap();
    assert_eq!(
        f.detail,
        "石竹村 养老 45–59 岁（pension_45_59）：应参保20人、已缴费18人，参保缴费率90%，低于目标95%"
    );
    // Everyone covered in every band: nothing fires.
    let t = coverage_town(20, 20).pays(&[]);
    assert!(t.fired("COV-001").is_empty());
}

#[test]
fn cov_001_equal_to_target_is_not_below() {
    // 19 of 20 is exactly 0.95.
    assert!(coverage_town(20, 19).fired("COV-001").is_empty());
    // Inside the window: no finding however low.
    assert!(coverage_town(20, 0)
        .with_as_of("2021-12-20")
        .fired("COV-001")
        .is_empty());
}
