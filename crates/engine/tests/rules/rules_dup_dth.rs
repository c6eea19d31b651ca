//! Fixtures for the DUP and DTH rules: where each fires, with exact key and amount, and
//! the near misses where it must not.

use crate::common::*;

#[test]
fn dup_001_fires_with_all_but_the_earliest() {
    let a = born(1982, 1);
    let t = Town::new().resident(&a).pays(&[
        med("X2", &a, "320", "2021-11-05 10:00"),
        med("X1", &a, "160", "2021-11-05 10:00"),
        med("X3", &a, "50", "2021-11-06"),
    ]);
    // Earliest by paid_at then txn_id: X1 (tie on time); the others add up to 370.
    assert_eq!(
        t.fired("DUP-001"),
        expect(&[(&format!("{a}|resident_medical|2022"), "370.00")])
    );
    let f = t.run().into_iter().find(|f| f.rule == "DUP-001").unwrap();
    assert_eq!(f.txn_ids, ["X1", "X2", "X3"]);
    assert_eq!(
        f.sources,
        ["payments.csv:2", "payments.csv:3", "payments.csv:4"]
    );
}

#[test]
fn dup_001_near_misses() {
    let a = born(1982, 1);
    // Second payment refunded.
    let refunded = Town::new().resident(&a).pays(&[
        med("T1", &a, "320", "2021-11-05"),
        med("T2", &a, "320", "2021-11-06").status("已退费"),
    ]);
    assert!(refunded.fired("DUP-001").is_empty());
    // The same payment exported in two files.
    let p = med("T1", &a, "320", "2021-11-05");
    let twice = Town::new()
        .resident(&a)
        .pays(std::slice::from_ref(&p))
        .pays_in("payments/extra.csv", &[p]);
    assert!(twice.fired("DUP-001").is_empty());
    // A back payment and an individual payment; different periods; a 代缴 with an individual.
    let back = Town::new().resident(&a).pays(&[
        med("T1", &a, "320", "2021-11-05"),
        med("T2", &a, "320", "2021-11-06").back(),
        med("T3", &a, "320", "2021-11-06").period("2021"),
        pen("T4", &a, "300", "2021-11-06").gov(),
        pen("T5", &a, "300", "2021-11-07"),
    ]);
    assert!(back.fired("DUP-001").is_empty());
}

#[test]
fn dup_001_invalid_id_stands_for_the_person() {
    let bad = "37132319820101001Y";
    let t = Town::new().pays(&[
        med("T1", bad, "320", "2021-11-05"),
        med("T2", bad, "320", "2021-11-06"),
    ]);
    assert_eq!(
        t.fired("DUP-001"),
        expect(&[(&format!("{bad}|resident_medical|2022"), "320.00")])
    );
}

#[test]
fn dup_001_a_legacy_id_with_no_real_birth_date_stands_as_its_18_digit_form() {
    // Month 13: invalid either way, but normalised (converted) before it is validated,
    // so the 15-digit and the 18-digit forms are one person in the DUP rules.
    let typed15 = "371323851340123";
    let typed18 = "371323198513401232";
    let t = Town::new().pays(&[
        pen("T1", typed15, "300", "2021-11-05"),
        pen("T2", typed18, "300", "2021-11-06"),
    ]);
    assert_eq!(
        t.fired("DUP-001"),
        expect(&[(&format!("{typed18}|resident_pension|2022"), "300.00")])
    );
    // A different legacy number is a different person.
    let other = Town::new().pays(&[
        pen("T1", "371323851340124", "300", "2021-11-05"),
        pen("T2", typed18, "300", "2021-11-06"),
    ]);
    assert!(other.fired("DUP-001").is_empty());
}

#[test]
fn dup_002_government_and_individual() {
    let a = born(1960, 2);
    let t = Town::new().resident(&a).pays(&[
        med("G1", &a, "320", "2021-11-02").gov(),
        med("P1", &a, "160", "2021-11-05"),
        med("P2", &a, "160", "2021-11-06"),
    ]);
    assert_eq!(
        t.fired("DUP-002"),
        expect(&[(&format!("{a}|resident_medical|2022"), "320.00")])
    );
    let f = t.run().into_iter().find(|f| f.rule == "DUP-002").unwrap();
    assert_eq!(f.txn_ids, ["G1", "P1", "P2"]);
    // Two 代缴 payments alone, or a refunded 代缴, do not fire.
    let b = born(1960, 3);
    let near = Town::new().resident(&a).resident(&b).pays(&[
        med("G1", &a, "320", "2021-11-02").gov(),
        med("G2", &a, "320", "2021-11-03").gov(),
        med("G3", &b, "320", "2021-11-02").gov().status("作废"),
        med("P3", &b, "320", "2021-11-05"),
    ]);
    assert!(near.fired("DUP-002").is_empty());
}

#[test]
fn dup_003_employee_and_resident() {
    let a = born(1980, 4);
    let b = born(1980, 5);
    let c = born(1980, 6);
    let t = Town::new()
        .resident(&a)
        .resident(&b)
        .resident(&c)
        .regs(&[
            format!("{a},职工医保,2015-03-01,"),
            // Ended before Y: not active.
            format!("{b},employee_medical,2015-03-01,2021-12-31"),
            // Employee pension does not make a resident medical payment a duplicate.
            format!("{c},城镇职工基本养老保险,2015-03-01,"),
        ])
        .pays(&[
            med("A1", &a, "320", "2021-11-05"),
            med("A2", &a, "320", "2021-11-06").back(),
            med("B1", &b, "320", "2021-11-05"),
            med("C1", &c, "320", "2021-11-05"),
            pen("C2", &c, "300", "2021-11-05"),
        ]);
    assert_eq!(
        t.fired("DUP-003"),
        expect(&[
            (&format!("{a}|resident_medical|2022"), "320.00"),
            (&format!("{c}|resident_pension|2022"), "300.00"),
        ])
    );
}

#[test]
fn dup_004_receipt_reused() {
    let a = born(1980, 7);
    let b = born(1980, 8);
    let t = Town::new().resident(&a).resident(&b).pays(&[
        med("T1", &a, "320", "2021-11-05").receipt("R001"),
        med("T2", &b, "320", "2021-11-05").receipt("R001"),
        // One receipt on a person's pension and medical is two pairs.
        pen("T3", &a, "300", "2021-11-05").receipt("R002"),
        med("T4", &a, "320", "2021-11-05")
            .receipt("R002")
            .period("2021"),
        // Same pair twice (different periods): one pair, no finding.
        med("T5", &b, "320", "2021-11-05").receipt("R003"),
        med("T6", &b, "320", "2021-11-05")
            .receipt("R003")
            .period("2021"),
        // A refunded second use does not count.
        med("T7", &a, "320", "2021-11-05").receipt("R004"),
        med("T8", &b, "320", "2021-11-05")
            .receipt("R004")
            .status("已退费"),
    ]);
    assert_eq!(
        t.fired("DUP-004"),
        expect(&[("R001", "640.00"), ("R002", "620.00")])
    );
}

#[test]
fn dth_001_paid_after_death() {
    let a = born(1950, 10);
    let b = born(1950, 11);
    let c = born(1950, 12);
    let t = Town::new()
        .resident(&a)
        .resident(&b)
        .hukou(&format!("{c},老人,店子村,H9,死亡,2021-11-15"))
        .deaths(&[
            format!("{a},2021-11-20,派出所"),
            format!("{a},2021-11-25,民政"),
            format!("{b},2021-11-20,派出所"),
        ])
        .pays(&[
            med("T1", &a, "320", "2021-11-21 08:00").gov(),
            // Death on the payment day is not a finding.
            med("T2", &b, "320", "2021-11-20 18:00").gov(),
            // Death from hukou alone.
            med("T3", &c, "320", "2021-12-01").gov(),
            // Refunded: not effective.
            med("T4", &a, "320", "2021-12-01").status("已退费"),
        ]);
    assert_eq!(
        t.fired("DTH-001"),
        expect(&[("T1", "320.00"), ("T3", "320.00")])
    );
    let f = t
        .run()
        .into_iter()
        .find(|f| f.key == "T1" && f.rule == "DTH-001")
        .unwrap();
    assert_eq!(
        f.detail,
        "2021-11-21 缴费320.00元，但该人员已于2021-11-20死亡（来源：派出所）"
    );
    // The evidence: the row that gives the death date (the earlier notice), then the
    // payment; for a death known from hukou alone, the hukou row.
    assert_eq!(f.sources, ["deaths.csv:2", "payments.csv:2"]);
    let f = t
        .run()
        .into_iter()
        .find(|f| f.key == "T3" && f.rule == "DTH-001")
        .unwrap();
    assert_eq!(f.sources, ["hukou.csv:4", "payments.csv:4"]);
}

#[test]
fn dth_002_dead_before_the_year() {
    let a = born(1950, 13);
    let b = born(1950, 14);
    let t = Town::new()
        .resident(&a)
        .resident(&b)
        .deaths(&[
            format!("{a},2021-12-25,民政"),
            format!("{b},2022-02-01,民政"),
        ])
        .pays(&[
            med("T1", &a, "320", "2021-11-10").gov(),
            // Paid on the death day: still before death, refund due.
            med("T2", &a, "320", "2021-12-25").gov().period("2022"),
            // Another year's payment.
            med("T3", &a, "320", "2021-11-10").period("2021").gov(),
            // Paid after death: DTH-001, not DTH-002.
            pen("T4", &a, "100", "2021-12-26").gov(),
            // Died during Y: nothing to refund.
            med("T5", &b, "320", "2021-11-10").gov(),
        ]);
    assert_eq!(
        t.fired("DTH-002"),
        expect(&[("T1", "320.00"), ("T2", "320.00")])
    );
    assert_eq!(t.fired("DTH-001"), expect(&[("T4", "100.00")]));
    let f = t.run().into_iter().find(|f| f.key == "T2").unwrap();
    assert_eq!(f.sources, ["deaths.csv:2", "payments.csv:3"]);
}

#[test]
fn dth_003_dead_on_roster() {
    let a = born(1950, 15);
    let b = born(1950, 16);
    let c = born(1950, 17);
    let t = Town::new()
        .resident(&a)
        .resident(&b)
        .resident(&c)
        .deaths(&[
            format!("{a},2021-10-01,殡葬"),
            format!("{b},2021-11-01,殡葬"),
            format!("{c},2021-09-01,殡葬"),
        ])
        .roster(&[
            format!("{a},resident_medical,320"),
            format!("{a},resident_medical,160"),
            format!("{a},resident_pension,"),
            // Died on the window start: not before it.
            format!("{b},resident_medical,320"),
            format!("{c},居民医保,"),
        ]);
    assert_eq!(
        t.fired("DTH-003"),
        expect(&[
            (&format!("{a}|resident_medical|2022"), "480.00"),
            (&format!("{a}|resident_pension|2022"), "0.00"),
            (&format!("{c}|resident_medical|2022"), "0.00"),
        ])
    );
    // The deaths row, then the roster rows.
    let f = t
        .run()
        .into_iter()
        .find(|f| f.key == format!("{a}|resident_medical|2022"))
        .unwrap();
    assert_eq!(f.sources, ["deaths.csv:2", "roster.csv:2", "roster.csv:3"]);
}

#[test]
fn dth_004_death_records_disagree() {
    let ids: Vec<String> = (20..27).map(|s| born(1940, s)).collect();
    let t = Town::new()
        // 0: deaths row, hukou 正常.
        .resident(&ids[0])
        // 1: hukou 死亡, no deaths row.
        .hukou(&format!("{},甲,店子村,H1,死亡,2021-10-01", ids[1]))
        // 2: two dates 31 days apart.
        .hukou(&format!("{},乙,店子村,H2,死亡,2021-10-01", ids[2]))
        // 3: exactly 30 days apart: consistent.
        .hukou(&format!("{},丙,店子村,H3,死亡,2021-10-01", ids[3]))
        // 5: moved out, then reported dead.
        .hukou(&format!("{},丁,店子村,H5,迁出,2021-06-01", ids[5]))
        // 6: hukou 死亡 and a matching deaths row.
        .hukou(&format!("{},戊,店子村,H6,死亡,2021-10-01", ids[6]))
        .deaths(&[
            format!("{},2021-10-01,派出所", ids[0]),
            format!("{},2021-11-01,民政", ids[2]),
            format!("{},2021-10-31,民政", ids[3]),
            // 4: not in hukou at all, even with two dates far apart.
            format!("{},2021-10-01,卫健", ids[4]),
            format!("{},2021-12-01,民政", ids[4]),
            format!("{},2021-10-01,派出所", ids[5]),
            format!("{},2021-10-02,派出所", ids[6]),
        ])
        .pays(&[]);
    let mut want: Vec<(String, String)> = [0, 1, 2, 5]
        .iter()
        .map(|&i| (ids[i].clone(), "0.00".to_string()))
        .collect();
    want.sort();
    assert_eq!(t.fired("DTH-004"), want);
}

/// A 死亡 on any of a person's hukou rows is hukou's death (a registry may list a person
/// twice, the death on the later row); a person's deaths rows are all compared and cited,
/// in read order, whichever file order their ids come in.
#[test]
fn dth_004_every_hukou_death_and_every_deaths_row() {
    let ids: Vec<String> = (40..45).map(|s| born(1940, s)).collect();
    let t = Town::new()
        // 0: first hukou row 正常, a later one 死亡, no deaths row: hukou's death alone.
        .resident(&ids[0])
        .hukou(&format!("{},甲,店子村,H1,死亡,2021-10-01", ids[0]))
        // 1: hukou 死亡 and deaths rows 40 days apart, read apart from each other.
        .hukou(&format!("{},乙,店子村,H2,死亡,2021-10-01", ids[1]))
        // 2: hukou 死亡, its deaths row agrees.
        .hukou(&format!("{},丙,店子村,H3,死亡,2021-10-01", ids[2]))
        // 3: first row 正常, the later 死亡 agrees with the deaths row: not a finding.
        .resident(&ids[3])
        .hukou(&format!("{},丁,店子村,H4,死亡,2021-10-05", ids[3]))
        // 4: two hukou 死亡 rows 35 days apart, and a deaths row on the first day.
        .hukou(&format!("{},戊,店子村,H5,死亡,2021-10-01", ids[4]))
        .hukou(&format!("{},戊,店子村,H5,死亡,2021-11-05", ids[4]))
        .deaths(&[
            format!("{},2021-11-10,民政", ids[1]),
            format!("{},2021-10-01,派出所", ids[2]),
            format!("{},2021-10-01,派出所", ids[1]),
            format!("{},2021-10-01,派出所", ids[3]),
            format!("{},2021-10-01,派出所", ids[4]),
        ])
        .pays(&[]);
    let mut want: Vec<(String, String)> = [0, 1, 4]
        .iter()
        .map(|&i| (ids[i].clone(), "0.00".to_string()))
        .collect();
    want.sort();
    assert_eq!(t.fired("DTH-004"), want);
    let findings = t.run();
    let of = |i: usize| {
        findings
            .iter()
            .find(|f| f.rule == "DTH-004" && f.key == ids[i])
            .unwrap()
    };
    assert!(
        of(0).detail.contains("户籍状态为死亡，但无死亡人员信息"),
        "{}",
        of(0).detail
    );
    // The hukou row that says 死亡 (line 3 of hukou.csv) is cited, not the first.
    assert_eq!(of(0).sources, vec!["hukou.csv:3".to_string()]);
    let f = of(1);
    assert!(
        f.detail.contains("2021-10-01与2021-11-10相差40天"),
        "{}",
        f.detail
    );
    // Both deaths rows (lines 2 and 4 of deaths.csv), then the hukou row.
    assert_eq!(f.sources.len(), 3, "{:?}", f.sources);
    assert!(f.sources[0].contains(":2"), "{:?}", f.sources);
    assert!(f.sources[1].contains(":4"), "{:?}", f.sources);
    // The two hukou days are compared with each other too.
    let f = of(4);
    assert!(f.detail.contains("相差35天"), "{}", f.detail);
    assert!(!f.detail.contains("户籍状态为"), "{}", f.detail);
    assert_eq!(f.sources.len(), 3, "{:?}", f.sources);
}

/// The death date is the earliest 死亡 over every hukou row of the person: a payment
/// after a death recorded on a person's second hukou row is DTH-001, and the roster and
/// ELG-004 see that person as dead.
#[test]
fn a_death_on_a_later_hukou_row_is_the_persons_death() {
    let a = born(1950, 46);
    let b = born(1950, 47);
    let t = Town::new()
        .resident(&a)
        .hukou(&format!("{a},甲,店子村,H1,死亡,2021-06-01"))
        // b: 迁出 on the second row is not a death.
        .resident(&b)
        .hukou(&format!("{b},乙,店子村,H2,迁出,2021-06-01"))
        .deaths(&[])
        .roster(&[format!("{a},resident_medical,320")])
        .pays(&[
            pen("T1", &a, "300", "2021-11-05"),
            pen("T2", &b, "300", "2021-11-05"),
        ]);
    assert_eq!(t.fired("DTH-001"), expect(&[("T1", "300.00")]));
    assert_eq!(
        t.fired("DTH-003"),
        expect(&[(&format!("{a}|resident_medical|2022"), "320.00")])
    );
    let f = t.run().into_iter().find(|f| f.rule == "DTH-001").unwrap();
    assert!(
        f.detail.contains("2021-06-01死亡（来源：户籍）"),
        "{}",
        f.detail
    );
}

#[test]
fn dth_rules_skip_without_their_source() {
    let a = born(1950, 30);
    let t = Town::new()
        .resident(&a)
        .pays(&[med("T1", &a, "320", "2021-11-10")]);
    assert!(t.fired("DTH-003").is_empty());
    assert!(t.fired("DTH-004").is_empty());
}
