//! Fixtures for identity linkage and the rules of real exports: DUP-005, DTH-005, DQ-004
//! and IDN-001, where each fires (exact key and amount) and the near misses where it must
//! not.

use crate::common::*;

/// `id` with the character at `pos` (0-based) replaced by `ch`.
fn sub(id: &str, pos: usize, ch: char) -> String {
    let mut c: Vec<char> = id.chars().collect();
    c[pos] = ch;
    c.into_iter().collect()
}

/// A digit other than the one at `pos`.
fn other_digit(id: &str, pos: usize) -> char {
    if id.as_bytes()[pos] == b'7' {
        '8'
    } else {
        '7'
    }
}

/// One substitution in the sequence digits of a valid id: always invalid (the check digit
/// no longer matches).
fn typo(id: &str) -> String {
    sub(id, 15, other_digit(id, 15))
}

fn finding(t: &Town, rule: &str) -> qianbiao_core::Finding {
    t.run().into_iter().find(|f| f.rule == rule).unwrap()
}

fn person(id: &str, name: &str, village: &str) -> String {
    format!("{id},{name},{village},H{id},正常,")
}

// ---- DUP-005 ----

#[test]
fn dup_005_two_government_payments_fire_with_all_but_the_earliest() {
    let a = born(1950, 1);
    let t = Town::new().resident(&a).pays(&[
        med("G2", &a, "320", "2021-11-03 09:00").gov(),
        med("G1", &a, "320", "2021-11-03 09:00").gov(),
        med("G3", &a, "100", "2021-11-04").gov(),
        // A back payment and a refunded 代缴 take no part.
        med("B1", &a, "320", "2021-11-05").back(),
        med("R1", &a, "320", "2021-11-05").gov().status("已退费"),
    ]);
    // Earliest by paid_at then txn_id is G1; the others add up to 420.
    assert_eq!(
        t.fired("DUP-005"),
        expect(&[(&format!("{a}|resident_medical|2022"), "420.00")])
    );
    let f = finding(&t, "DUP-005");
    assert_eq!(f.txn_ids, ["G1", "G2", "G3"]);
    assert_eq!(f.severity.as_str(), "high");
    assert_eq!(f.id_number, a);
}

#[test]
fn dup_005_near_misses() {
    let a = born(1950, 1);
    // One 代缴 plus a refunded 代缴.
    let refunded = Town::new().resident(&a).pays(&[
        med("G1", &a, "320", "2021-11-03").gov(),
        med("G2", &a, "320", "2021-11-04").gov().status("已退费"),
    ]);
    assert!(refunded.fired("DUP-005").is_empty());
    // A 代缴 and a back payment; two 代缴 of different periods or schemes.
    let other = Town::new().resident(&a).pays(&[
        med("G1", &a, "320", "2021-11-03").gov(),
        med("B1", &a, "320", "2021-11-04").back(),
        med("G2", &a, "320", "2021-11-04").gov().period("2021"),
        pen("G3", &a, "100", "2021-11-04").gov(),
    ]);
    assert!(other.fired("DUP-005").is_empty());
    // A 代缴 and an individual payment: DUP-002, not DUP-005.
    let mixed = Town::new().resident(&a).pays(&[
        med("G1", &a, "320", "2021-11-03").gov(),
        med("P1", &a, "320", "2021-11-04"),
    ]);
    assert!(mixed.fired("DUP-005").is_empty());
    assert_eq!(mixed.fired("DUP-002").len(), 1);
}

#[test]
fn lost_digit_ids_group_nothing_in_the_dup_rules() {
    let lost = "371323195001010000";
    let t = Town::new()
        .pays(&[
            med("G1", lost, "320", "2021-11-03").gov(),
            med("G2", lost, "320", "2021-11-04").gov(),
            med("P1", lost, "320", "2021-11-03"),
            med("P2", lost, "320", "2021-11-04"),
            med("R1", lost, "320", "2021-11-04").receipt("S1"),
            pen("R2", lost, "100", "2021-11-04").receipt("S1"),
        ])
        .lost("G1")
        .lost("G2")
        .lost("P1")
        .lost("P2")
        .lost("R1")
        .lost("R2");
    for rule in ["DUP-001", "DUP-002", "DUP-004", "DUP-005"] {
        assert!(t.fired(rule).is_empty(), "{rule}");
    }
    // The same rows with an ordinary invalid id do group (the control).
    let t2 = Town::new().pays(&[
        med("G1", lost, "320", "2021-11-03").gov(),
        med("G2", lost, "320", "2021-11-04").gov(),
    ]);
    assert_eq!(t2.fired("DUP-005").len(), 1);
}

// ---- IDN-001 ----

#[test]
fn idn_001_links_a_typo_with_the_same_name() {
    let a = born(1980, 1);
    let typed = typo(&a);
    let t = Town::new()
        .hukou(&person(&a, "张三", "店子村"))
        .pays(&[med("T1", &typed, "320", "2021-11-05").name("张 三")])
        .receipts(&[format!("S9,C1,{typed},resident_medical,320,2021-11-05")]);
    assert_eq!(t.fired("IDN-001"), expect(&[("T1", "320.00")]));
    let f = finding(&t, "IDN-001");
    assert_eq!(
        (f.id_number.as_str(), f.name.as_str()),
        (a.as_str(), "张三")
    );
    assert_eq!(f.village, "店子村");
    assert_eq!(f.txn_ids, ["T1"]);
    assert_eq!(f.sources, ["payments.csv:2"]);
    assert!(f.detail.contains(&typed) && f.detail.contains(&a) && f.detail.contains("typo"));
    // DQ-001 still fires for the same row; the receipts row has no name: not linked.
    assert_eq!(
        t.fired("DQ-001"),
        expect(&[("S9", "320.00"), ("T1", "320.00")])
    );
}

/// A typo is one character, whatever the character: a Chinese numeral typed for a digit
/// (`〇`, which NFKC leaves as it is) is one substitution, compared with each same-name
/// person and, under a common name, looked up among the id's neighbours; characters 7-14
/// are read as characters for `name_birth`.
#[test]
fn idn_001_a_typo_may_be_any_character() {
    let a = born(1980, 2);
    let b = born(1975, 3);
    let zero = sub(&a, 10, '〇');
    let three = sub(&b, 5, '三');
    assert_eq!(zero.chars().count(), 18);
    let mut t = Town::new()
        .hukou(&person(&a, "王涛", "店子村"))
        .hukou(&person(&b, "李四", "店子村"));
    // Enough 张伟 for typo to look neighbours up instead of comparing with each.
    let c = born(1971, 1);
    for seq in 1..=80 {
        t = t.hukou(&person(
            &born(1970 + seq as i32 % 30, seq),
            "张伟",
            "店子村",
        ));
    }
    let t = t.pays(&[
        med("T1", &zero, "320", "2021-11-05").name("王涛"),
        med("T2", &three, "320", "2021-11-05").name("李四"),
        med("T3", &sub(&c, 16, '〇'), "320", "2021-11-05").name("张伟"),
    ]);
    assert_eq!(
        t.fired("IDN-001"),
        expect(&[("T1", "320.00"), ("T2", "320.00"), ("T3", "320.00")])
    );
    let found = t.run();
    let linked = |key: &str| {
        found
            .iter()
            .find(|f| f.rule == "IDN-001" && f.key == key)
            .unwrap()
    };
    assert_eq!(linked("T1").id_number, a);
    assert_eq!(linked("T2").id_number, b);
    assert_eq!(linked("T3").id_number, c);
    assert!(
        linked("T1").detail.contains("typo"),
        "{}",
        linked("T1").detail
    );
    // Not one edit away (two characters differ): name_birth decides, from characters
    // 7-14 read as characters.
    let two = sub(&sub(&b, 5, '三'), 4, '二');
    let t = Town::new().hukou(&person(&b, "李四", "店子村")).pays(&[med(
        "T4",
        &two,
        "320",
        "2021-11-05",
    )
    .name("李四")]);
    assert_eq!(t.fired("IDN-001"), expect(&[("T4", "320.00")]));
    let f = finding(&t, "IDN-001");
    assert!(f.detail.contains("name_birth"), "{}", f.detail);
}

#[test]
fn idn_001_links_receipts_and_adjacent_swaps() {
    let a = born(1980, 1);
    // Swap characters 9 and 10 (0-based 8, 9): "19" -> "91"; still the same name.
    let mut c: Vec<char> = a.chars().collect();
    c.swap(8, 9);
    let swapped: String = c.into_iter().collect();
    let t = Town::new().hukou(&person(&a, "李四", "店子村")).rows(
        "receipts.csv",
        "receipt_no,collector_id,id_number,name,scheme,amount,collected_at",
        &[
            format!("S1,C1,{swapped},李四,resident_medical,320,2021-11-05"),
            format!("S1,C1,{swapped},李四,resident_medical,10,2021-11-05"),
        ],
    );
    assert_eq!(t.fired("IDN-001"), expect(&[("S1", "330.00")]));
    let f = finding(&t, "IDN-001");
    assert_eq!(f.id_number, a);
    assert!(f.txn_ids.is_empty());
}

#[test]
fn idn_001_near_misses() {
    let a = born(1980, 1);
    let typed = typo(&a);
    // A mistyped id whose name differs.
    let other_name = Town::new().hukou(&person(&a, "张三", "店子村")).pays(&[med(
        "T1",
        &typed,
        "320",
        "2021-11-05",
    )
    .name("张山")]);
    assert!(other_name.fired("IDN-001").is_empty());
    // No name at all.
    let no_name = Town::new().hukou(&person(&a, "张三", "店子村")).pays(&[med(
        "T1",
        &typed,
        "320",
        "2021-11-05",
    )]);
    assert!(no_name.fired("IDN-001").is_empty());
    // A refunded payment is not linked.
    let refunded = Town::new().hukou(&person(&a, "张三", "店子村")).pays(&[med(
        "T1",
        &typed,
        "320",
        "2021-11-05",
    )
    .name("张三")
    .status("已退费")]);
    assert!(refunded.fired("IDN-001").is_empty());
}

#[test]
fn idn_001_two_candidates_one_edit_away_is_no_link() {
    // A and B differ in one body digit (and so in the check digit): A's body with B's
    // check digit is one substitution from each.
    let a = born(1980, 1);
    let b = born(1980, 3);
    let row = format!("{}{}", &a[..17], &b[17..]);
    assert_ne!(row, a);
    let t = Town::new()
        .hukou(&person(&a, "王五", "店子村"))
        .hukou(&person(&b, "王五", "店子村"))
        .pays(&[med("T1", &row, "320", "2021-11-05").name("王五")]);
    // typo finds two candidates and decides: no link, although name_birth would also
    // find two (and the row's birth date is both of theirs).
    assert!(t.fired("IDN-001").is_empty());
    assert_eq!(t.fired("DQ-001").len(), 1);
    // With only A in hukou the same row links.
    let one = Town::new().hukou(&person(&a, "王五", "店子村")).pays(&[med(
        "T1",
        &row,
        "320",
        "2021-11-05",
    )
    .name("王五")]);
    assert_eq!(one.fired("IDN-001"), expect(&[("T1", "320.00")]));
}

#[test]
fn idn_001_numeric_for_an_id_that_lost_its_digits() {
    // An id whose last three characters are not close to 000: the lost form differs in
    // two or more places, so typo finds nothing and numeric decides.
    let a = born(1980, 123);
    let n: u128 = a[..17].parse::<u128>().unwrap() * 10;
    let lost = ((n + 500) / 1000 * 1000).to_string();
    let t = Town::new()
        .hukou(&person(&a, "赵六", "店子村"))
        .pays(&[med("T1", &lost, "320", "2021-11-05").name("赵六")])
        .lost("T1");
    if a.ends_with('X') {
        // An id ending in X is not a number: nothing to compare (name_birth then links).
        assert_eq!(t.fired("IDN-001").len(), 1);
        return;
    }
    assert_eq!(t.fired("IDN-001"), expect(&[("T1", "320.00")]));
    let f = finding(&t, "IDN-001");
    assert_eq!(f.id_number, a);
    assert!(f.detail.contains("numeric"), "{}", f.detail);
    // The same number not marked lost is no numeric candidate: name_birth links it.
    let typed = Town::new().hukou(&person(&a, "赵六", "店子村")).pays(&[med(
        "T1",
        &lost,
        "320",
        "2021-11-05",
    )
    .name("赵六")]);
    assert!(finding(&typed, "IDN-001").detail.contains("name_birth"));
}

#[test]
fn idn_001_name_birth_restricted_to_the_rows_village() {
    let a = born(1980, 1);
    let b = born(1980, 2);
    // 17 characters: no typo, not lost; characters 7-14 are 19800101.
    let row = format!("371399{}", &a[6..17]);
    assert_eq!(row.len(), 17);
    let town = Town::new()
        .hukou(&person(&a, "钱七", "店子村"))
        .hukou(&person(&b, "钱七", "大庄村"));
    let in_village = town.clone().pays(&[med("T1", &row, "320", "2021-11-05")
        .name("钱七")
        .village("店子村")]);
    assert_eq!(in_village.fired("IDN-001"), expect(&[("T1", "320.00")]));
    let f = finding(&in_village, "IDN-001");
    assert_eq!(f.id_number, a);
    assert!(f.detail.contains("name_birth"));
    // Without a village both are candidates: no link.
    let anywhere = town
        .clone()
        .pays(&[med("T1", &row, "320", "2021-11-05").name("钱七")]);
    assert!(anywhere.fired("IDN-001").is_empty());
    // A row whose characters 7-14 are not a real date: nothing.
    let bad_date = format!("371399{}", "19800231001");
    let nodate = town.pays(&[med("T1", &bad_date, "320", "2021-11-05")
        .name("钱七")
        .village("店子村")]);
    assert!(nodate.fired("IDN-001").is_empty());
}

#[test]
fn idn_001_candidates_include_every_hukou_status() {
    let a = born(1980, 1);
    let t = Town::new()
        .hukou(&format!("{a},孙八,店子村,H1,迁出,2020-01-01"))
        .pays(&[med("T1", &typo(&a), "320", "2021-11-05").name("孙八")]);
    assert_eq!(t.fired("IDN-001"), expect(&[("T1", "320.00")]));
}

// ---- DTH-005 ----

#[test]
fn dth_005_payment_after_a_mistyped_death_notice() {
    let a = born(1940, 1);
    let t = Town::new()
        .hukou(&person(&a, "周九", "店子村"))
        .mistyped_death(&typo(&a), "周九", "2021-11-10")
        .pays(&[
            // On the death day: not a finding.
            med("P1", &a, "0.01", "2021-11-10 23:00").gov(),
            med("P2", &a, "320", "2021-11-11").gov(),
            med("P3", &a, "100", "2021-11-12").status("已退费"),
        ]);
    assert_eq!(t.fired("DTH-005"), expect(&[("P2", "320.00")]));
    let f = finding(&t, "DTH-005");
    assert_eq!(f.id_number, a);
    assert_eq!(f.name, "周九");
    assert_eq!(f.sources, ["deaths.csv:2", "payments.csv:3"]);
    assert!(f.detail.contains(&typo(&a)) && f.detail.contains("typo"));
    // The linked deaths row is no death for the other rules.
    assert!(t.fired("DTH-001").is_empty());
    assert!(t.fired("DTH-004").is_empty());
}

#[test]
fn dth_005_not_when_dth_001_already_fires() {
    let a = born(1940, 1);
    // Dead in hukou before the notice: DTH-001 fires, not DTH-005.
    let earlier = Town::new()
        .hukou(&format!("{a},周九,店子村,H1,死亡,2021-10-01"))
        .mistyped_death(&typo(&a), "周九", "2021-11-01")
        .pays(&[med("P1", &a, "320", "2021-11-12").gov()]);
    assert_eq!(earlier.fired("DTH-001"), expect(&[("P1", "320.00")]));
    assert!(earlier.fired("DTH-005").is_empty());
    // Dead in hukou after the payment: DTH-001 does not fire, DTH-005 does.
    let later = Town::new()
        .hukou(&format!("{a},周九,店子村,H1,死亡,2021-12-01"))
        .mistyped_death(&typo(&a), "周九", "2021-11-01")
        .pays(&[med("P1", &a, "320", "2021-11-12").gov()]);
    assert!(later.fired("DTH-001").is_empty());
    assert_eq!(later.fired("DTH-005"), expect(&[("P1", "320.00")]));
}

#[test]
fn dth_005_near_misses() {
    let a = born(1940, 1);
    // The notice's name differs: no link.
    let other = Town::new()
        .hukou(&person(&a, "周九", "店子村"))
        .mistyped_death(&typo(&a), "周久", "2021-11-01")
        .pays(&[med("P1", &a, "320", "2021-11-12").gov()]);
    assert!(other.fired("DTH-005").is_empty());
    // A notice without a name: no link.
    let nameless = Town::new()
        .hukou(&person(&a, "周九", "店子村"))
        .mistyped_death(&typo(&a), "", "2021-11-01")
        .pays(&[med("P1", &a, "320", "2021-11-12").gov()]);
    assert!(nameless.fired("DTH-005").is_empty());
    // A valid notice is DTH-001's.
    let valid = Town::new()
        .hukou(&person(&a, "周九", "店子村"))
        .named_death(&a, "周九", "2021-11-01")
        .pays(&[med("P1", &a, "320", "2021-11-12").gov()]);
    assert!(valid.fired("DTH-005").is_empty());
    assert_eq!(valid.fired("DTH-001").len(), 1);
}

// ---- DQ-004 ----

#[test]
fn dq_004_fires_on_a_control_total_that_differs() {
    let a = born(1980, 1);
    let t = Town::new()
        .resident(&a)
        .pays(&[med("P1", &a, "320", "2021-11-05")])
        .control_total("payments.csv", 7, "合计", "300", "320", 1)
        .control_total("payments.csv", 9, "小计", "320", "320", 1);
    assert_eq!(t.fired("DQ-004"), expect(&[("payments.csv|7", "20.00")]));
    let f = finding(&t, "DQ-004");
    assert_eq!(f.sources, ["payments.csv:7"]);
    assert!(f.id_number.is_empty() && f.name.is_empty() && f.village.is_empty());
    assert_eq!((f.scheme, f.period), (None, None));
    assert!(f.detail.contains("300") && f.detail.contains("320") && f.detail.contains('1'));
    assert_eq!(f.severity.as_str(), "medium");
}

#[test]
fn idn_001_every_hukou_row_of_a_person_is_a_candidate() {
    // One person exported under two names ("every accepted hukou row is a candidate"):
    // a row typed with either name links to the person, who is named by the first row.
    let a = born(1980, 1);
    let town = Town::new()
        .hukou(&person(&a, "吴一", "店子村"))
        .hukou(&person(&a, "吴二", "店子村"));
    for name in ["吴一", "吴二"] {
        let t = town
            .clone()
            .pays(&[med("T1", &typo(&a), "320", "2021-11-05").name(name)]);
        assert_eq!(t.fired("IDN-001"), expect(&[("T1", "320.00")]), "{name}");
        let f = finding(&t, "IDN-001");
        assert_eq!(
            (f.id_number.as_str(), f.name.as_str()),
            (a.as_str(), "吴一")
        );
        assert!(f.detail.contains("typo"), "{}", f.detail);
    }
    // Its two rows of the same name are one person: still one candidate.
    let twice = Town::new()
        .hukou(&person(&a, "吴一", "店子村"))
        .hukou(&person(&a, "吴一", "大庄村"))
        .pays(&[med("T1", &typo(&a), "320", "2021-11-05").name("吴一")]);
    assert_eq!(twice.fired("IDN-001"), expect(&[("T1", "320.00")]));
    // A name on none of its rows: no candidate.
    let other = town.pays(&[med("T1", &typo(&a), "320", "2021-11-05").name("吴三")]);
    assert!(other.fired("IDN-001").is_empty());
}

#[test]
fn idn_001_name_birth_finds_a_person_in_the_village_of_any_of_their_rows() {
    // 钱七 moved from 店子村 (迁出) to 大庄村: a row of either village links by name_birth.
    let a = born(1980, 1);
    let b = born(1980, 2);
    let row = format!("371399{}", &a[6..17]);
    let town = Town::new()
        .hukou(&format!("{a},钱七,店子村,H1,迁出,2020-01-01"))
        .hukou(&person(&a, "钱七", "大庄村"));
    for village in ["店子村", "大庄村"] {
        let t = town.clone().pays(&[med("T1", &row, "320", "2021-11-05")
            .name("钱七")
            .village(village)]);
        assert_eq!(t.fired("IDN-001"), expect(&[("T1", "320.00")]), "{village}");
        assert_eq!(finding(&t, "IDN-001").id_number, a);
    }
    // Another 钱七 of that birth date in 大庄村: two persons there, one in 店子村.
    let two = town.hukou(&person(&b, "钱七", "大庄村"));
    let there = two.clone().pays(&[med("T1", &row, "320", "2021-11-05")
        .name("钱七")
        .village("大庄村")]);
    assert!(there.fired("IDN-001").is_empty());
    let here = two.pays(&[med("T1", &row, "320", "2021-11-05")
        .name("钱七")
        .village("店子村")]);
    assert_eq!(here.fired("IDN-001"), expect(&[("T1", "320.00")]));
    assert_eq!(finding(&here, "IDN-001").id_number, a);
}

/// A totals line of the fixture payments file: the label, then the amount in the amount
/// column (the sixth).
fn totals(label: &str, amount: &str) -> String {
    format!("{label},,,,,{amount},,,,,,,,")
}

#[test]
fn dq_004_from_a_titled_export_with_subtotals() {
    let a = born(1980, 1);
    let rows = vec![
        PAY_HEADER.to_string(),                           // line 3
        med("P1", &a, "320", "2021-11-05").line(),        // 4
        med("P2", &a, "300", "2021-11-05").back().line(), // 5
        totals("小计", "620"),                            // 6: adds up
        totals("小计", "0"),                              // 7: a 小计 after a 小计 covers nothing
        med("P3", &a, "100", "2021-11-06").back().line(), // 8
        totals("小计", ""),                               // 9: no amount, ends the range
        med("P4", &a, "200", "2021-11-07").back().line(), // 10
        totals("小计", "200"),                            // 11: adds up only since line 9
        // 12: rejected (unknown scheme) but its amount parses and is covered.
        pay("P5", &a, "农保", "50", "2021-11-07").line(),
        totals("合计", "970"),       // 13: 320+300+100+200+50
        totals("总计", "\"1,000\""), // 14: differs by 30
        totals("  小计", "¥10"),     // 15: covers nothing since line 14
    ];
    let t = Town::new()
        .resident(&a)
        .rows_replace(
            "payments/t.csv",
            &[
                "店子镇2022年度居民医保缴费明细".to_string(),
                "制表单位：店子镇财政所".to_string(),
            ],
            &rows,
        )
        .rejecting(1);
    assert_eq!(
        t.fired("DQ-004"),
        expect(&[
            ("payments/t.csv|14", "30.00"),
            ("payments/t.csv|15", "10.00")
        ])
    );
    let f = finding(&t, "DQ-004");
    assert_eq!(f.sources, ["payments/t.csv:14"]);
    assert!(
        f.detail.contains("1000.00") && f.detail.contains("970.00"),
        "{}",
        f.detail
    );
}

#[test]
fn dq_004_a_repeated_subtotal_fires_with_what_it_states() {
    let a = born(1980, 1);
    let t = Town::new().resident(&a).rows_replace(
        "payments/s.csv",
        &[],
        &[
            PAY_HEADER.to_string(),
            med("P1", &a, "320", "2021-11-05").line(),
            totals("小计", "320"),
            totals("小计", "320"),
        ],
    );
    assert_eq!(t.fired("DQ-004"), expect(&[("payments/s.csv|4", "320.00")]));
}

#[test]
fn scientific_notation_ids_stand_for_nobody() {
    let t = Town::new().pays(&[
        med("G1", "3.71323E+17", "320", "2021-11-03")
            .gov()
            .name("张三"),
        med("G2", "3.71323E+17", "320", "2021-11-04")
            .gov()
            .name("张三"),
    ]);
    assert!(t.fired("DUP-005").is_empty());
    assert!(t.fired("IDN-001").is_empty());
    assert_eq!(
        t.fired("DQ-001"),
        expect(&[("G1", "320.00"), ("G2", "320.00")])
    );
}

#[test]
fn idn_001_typo_among_many_same_name_persons() {
    // More same-name persons than the scan limit: typo looks neighbours up by id, with
    // the same result as comparing with each.
    let mut t = Town::new();
    for seq in 1..=80 {
        t = t.hukou(&person(
            &born(1970 + seq as i32 % 30, seq),
            "张伟",
            "店子村",
        ));
    }
    // Both in hukou (seq 1 and 31 are born in 1971) and one digit apart.
    let a = born(1971, 1);
    let b = born(1971, 31);
    let two = format!("{}{}", &a[..17], &b[17..]);
    let t = t.pays(&[
        med("T1", &typo(&born(1975, 5)), "320", "2021-11-05").name("张伟"),
        med("T2", &two, "320", "2021-11-05").name("张伟"),
        med("T3", &typo(&born(1975, 5)), "320", "2021-11-05").name("张三"),
    ]);
    assert_eq!(t.fired("IDN-001"), expect(&[("T1", "320.00")]));
    assert_eq!(finding(&t, "IDN-001").id_number, born(1975, 5));
    // A huge id under a common name: no candidate, and quickly.
    let huge = format!("{}{}", born(1975, 5), "7".repeat(100_000));
    let started = std::time::Instant::now();
    let t = t.pays(&[med("T9", &huge, "320", "2021-11-05").name("张伟")]);
    assert_eq!(t.fired("IDN-001"), expect(&[("T1", "320.00")]));
    assert!(started.elapsed().as_secs() < 20);
}

#[test]
fn dth_005_is_skipped_without_deaths() {
    let a = born(1940, 1);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hukou.csv"),
        format!("id_number,name,village\n{a},周九,店子村\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("payments.csv"),
        format!(
            "{PAY_HEADER}\n{}\n",
            med("P1", &a, "320", "2021-11-12").gov().line()
        ),
    )
    .unwrap();
    let opts = qianbiao_ingest::LoadOptions {
        year: 2022,
        progress: None,
        columns: None,
    };
    let ds = qianbiao_ingest::load(dir.path(), &opts).unwrap();
    let policy = qianbiao_core::Policy::dianzi_2022();
    let (as_of, _) = qianbiao_engine::resolve_as_of(&ds, &policy, None);
    let ctx = qianbiao_rules::Context::new(&ds, &policy, as_of);
    let (_, status) = qianbiao_engine::run_rules(&ctx);
    let dth5 = status.iter().find(|s| s["code"] == "DTH-005").unwrap();
    assert_eq!(dth5["status"], "skipped");
    assert_eq!(dth5["reason"], "source missing: deaths");
    let idn = status.iter().find(|s| s["code"] == "IDN-001").unwrap();
    assert_eq!(idn["status"], "run");
}
