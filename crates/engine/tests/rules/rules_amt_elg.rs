//! Fixtures for the AMT and ELG rules, with their near misses.

use crate::common::*;

#[test]
fn amt_001_pension_tier() {
    let a = born(1980, 1);
    let bad = "371323198001010019";
    let t = Town::new().resident(&a).pays(&[
        pen("T1", &a, "350", "2021-11-05"),
        pen("T2", &a, "300", "2021-11-05").period("2021"),
        pen("T3", &a, "350", "2021-11-05").gov(),
        pen("T4", bad, "1000.50", "2021-11-05"),
        pen("T5", &a, "350", "2021-11-05").status("已退费"),
    ]);
    assert_eq!(
        t.fired("AMT-001"),
        expect(&[("T1", "350.00"), ("T4", "1000.50")])
    );
}

#[test]
fn amt_002_lowest_tier_needs_a_group_on_the_day() {
    let a = born(1980, 2);
    let b = born(1980, 3);
    let c = born(1980, 4);
    let d = born(1980, 5);
    let t = Town::new()
        .resident(&a)
        .resident(&b)
        .resident(&c)
        .resident(&d)
        .elig(&[
            // Any disability level counts for the 100 tier.
            format!("{b},残疾,3,2020-01-01,"),
            // Ended the day before the payment: not a member that day.
            format!("{c},低保,,2020-01-01,2021-11-04"),
            // Ends on the payment day: still a member.
            format!("{d},低保,,2020-01-01,2021-11-05"),
        ])
        .pays(&[
            pen("T1", &a, "100", "2021-11-05"),
            pen("T2", &b, "100", "2021-11-05"),
            pen("T3", &c, "100", "2021-11-05"),
            pen("T4", &d, "100", "2021-11-05"),
            pen("T5", &a, "300", "2021-11-06").period("2023"),
        ]);
    assert_eq!(
        t.fired("AMT-002"),
        expect(&[("T1", "100.00"), ("T3", "100.00")])
    );
}

#[test]
fn amt_003_and_004_medical_amounts() {
    let adult = born(1982, 6);
    let senior = born(1957, 7); // 65
    let old = born(1952, 8); // 70
    let poor = born(1982, 9);
    let sixty_nine = born(1953, 30);
    let seventy = born(1952, 31);
    let t = Town::new()
        .resident(&adult)
        .resident(&senior)
        .resident(&old)
        .resident(&poor)
        .resident(&sixty_nine)
        .resident(&seventy)
        .elig(&[format!("{poor},特困供养,,2020-01-01,")])
        .pays(&[
            med("A1", &adult, "400", "2021-11-05"),
            med("A2", &adult, "320", "2021-12-20 23:59").period("2023"),
            // Late payer: 930 is right, 320 is 610 short.
            med("A3", &adult, "930", "2021-12-21").period("2024"),
            med("A4", &adult, "320", "2021-12-21").period("2025"),
            med("S1", &senior, "320", "2021-11-05"),
            med("S2", &senior, "100", "2021-11-05").period("2023"),
            med("S3", &senior, "160", "2021-11-05").period("2024"),
            med("O1", &old, "320", "2021-11-05"),
            med("P1", &poor, "320", "2021-11-05"),
            med("P2", &poor, "0", "2021-11-05").period("2023"),
            med("G1", &adult, "500", "2021-11-05").gov().period("2026"),
            // 69 pays the half, 70 pays nothing.
            med("H69", &sixty_nine, "160", "2021-11-05"),
            med("H70", &seventy, "160", "2021-11-05"),
        ]);
    assert_eq!(
        t.fired("AMT-003"),
        expect(&[
            ("A1", "80.00"),
            ("H70", "160.00"),
            ("O1", "320.00"),
            ("P1", "320.00"),
            ("S1", "160.00"),
        ])
    );
    assert_eq!(
        t.fired("AMT-004"),
        expect(&[("A4", "610.00"), ("S2", "60.00")])
    );
}

#[test]
fn amt_005_collector_took_more() {
    let a = born(1980, 10);
    let t = Town::new()
        .resident(&a)
        .receipts(&[
            format!("R1,C1,{a},resident_medical,200,2021-11-05"),
            format!("R1,C1,{a},resident_medical,200,2021-11-05"),
            format!("R2,C1,{a},resident_pension,300,2021-11-05"),
            format!("R3,C1,{a},resident_pension,300,2021-11-05"),
        ])
        .pays(&[
            med("T1", &a, "320", "2021-11-05").collector("C1", "R1", ""),
            pen("T2", &a, "300", "2021-11-05").collector("C1", "R2", ""),
        ]);
    assert_eq!(t.fired("AMT-005"), expect(&[("R1", "80.00")]));
    // R3 is on no payment: MNY-002, not AMT-005.
    assert_eq!(t.fired("MNY-002"), expect(&[("R3", "300.00")]));
}

#[test]
fn elg_001_not_a_resident() {
    let stranger = born(1980, 11);
    let moved = born(1980, 12);
    let moved_same_day = born(1980, 13);
    let t = Town::new()
        .hukou(&format!("{moved},甲,店子村,H1,迁出,2021-11-01"))
        .hukou(&format!("{moved_same_day},乙,店子村,H2,注销,2021-11-10"))
        .pays(&[
            med("T1", &stranger, "320", "2021-11-10"),
            med("T2", &moved, "320", "2021-11-10"),
            med("T3", &moved_same_day, "320", "2021-11-10 09:00"),
            // An invalid id is DQ-001, never ELG-001.
            med("T4", "12345", "320", "2021-11-10"),
        ]);
    assert_eq!(
        t.fired("ELG-001"),
        expect(&[("T1", "320.00"), ("T2", "320.00")])
    );
}

#[test]
fn elg_002_pension_ages() {
    let ids = [
        born(2007, 14),
        born(2006, 15),
        born(1963, 16),
        born(1962, 17),
    ];
    let mut t = Town::new();
    for i in &ids {
        t = t.resident(i);
    }
    let t = t.pays(&[
        pen("A15", &ids[0], "300", "2021-11-05"),
        pen("A16", &ids[1], "300", "2021-11-05"),
        pen("A59", &ids[2], "300", "2021-11-05"),
        pen("A60", &ids[3], "300", "2021-11-05"),
        pen("B60", &ids[3], "300", "2021-11-05")
            .back()
            .period("2020"),
        pen("G60", &ids[3], "100", "2021-11-05")
            .gov()
            .period("2021"),
    ]);
    assert_eq!(
        t.fired("ELG-002"),
        expect(&[("A15", "300.00"), ("A60", "300.00")])
    );
}

#[test]
fn elg_003_government_payment_entitlement() {
    let adult = born(1982, 18);
    let senior = born(1957, 19);
    let old = born(1952, 20);
    let tuopin = born(1982, 21);
    let severe = born(1982, 22);
    let mild = born(1982, 23);
    let t = Town::new()
        .resident(&adult)
        .resident(&senior)
        .resident(&old)
        .resident(&tuopin)
        .resident(&severe)
        .resident(&mild)
        .elig(&[
            format!("{tuopin},脱贫享受政策,,2020-01-01,"),
            format!("{severe},残疾,二级,2020-01-01,"),
            format!("{mild},残疾,3,2020-01-01,"),
        ])
        .pays(&[
            med("M1", &adult, "320", "2021-11-05").gov(),
            med("M2", &senior, "320", "2021-11-05").gov(),
            med("M3", &old, "320", "2021-11-05").gov(),
            med("M4", &tuopin, "320", "2021-11-05").gov(),
            med("M5", &severe, "320", "2021-11-05").gov(),
            pen("P1", &severe, "100", "2021-11-05").gov(),
            pen("P2", &mild, "100", "2021-11-05").gov(),
            pen("P3", &old, "100", "2021-11-05").gov(),
        ]);
    assert_eq!(
        t.fired("ELG-003"),
        expect(&[
            ("M1", "320.00"),
            ("M2", "320.00"),
            ("P2", "100.00"),
            ("P3", "100.00"),
        ])
    );
}

fn elg_004_town() -> (Town, [String; 6]) {
    let old = born(1950, 24);
    let severe = born(1980, 25);
    let paid = born(1950, 26);
    let dead = born(1950, 27);
    let employee = born(1950, 28);
    let severe_old = born(1960, 29);
    let t = Town::new()
        .resident(&old)
        .resident(&severe)
        .resident(&paid)
        .resident(&dead)
        .resident(&employee)
        .resident(&severe_old)
        .elig(&[
            format!("{severe},残疾,1,2020-01-01,"),
            format!("{severe_old},残疾,1,2020-01-01,"),
        ])
        .deaths(&[format!("{dead},2021-12-20,民政")])
        .regs(&[format!("{employee},职工医保,2010-01-01,")])
        .pays(&[
            med("T1", &paid, "320", "2021-11-05").gov(),
            med("T2", &severe_old, "320", "2021-11-05").gov(),
            med("T3", &old, "320", "2022-01-10").gov().status("已退费"),
        ]);
    (t, [old, severe, paid, dead, employee, severe_old])
}

#[test]
fn elg_004_entitled_but_uncovered() {
    let (t, [old, severe, ..]) = elg_004_town();
    // as_of defaults to 2022-01-10, after the window.
    assert_eq!(
        t.fired("ELG-004"),
        expect(&[
            (&format!("{old}|resident_medical|2022"), "320.00"),
            (&format!("{severe}|resident_medical|2022"), "320.00"),
            (&format!("{severe}|resident_pension|2022"), "100.00"),
        ])
    );
}

#[test]
fn elg_004_waits_for_the_window_to_close() {
    let (t, _) = elg_004_town();
    assert!(t
        .clone()
        .with_as_of("2021-12-20")
        .fired("ELG-004")
        .is_empty());
    assert_eq!(t.with_as_of("2021-12-21").fired("ELG-004").len(), 3);
}
