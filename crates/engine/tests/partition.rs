//! The partitioned run (issue 9): rows that a rule groups by any key meet in one
//! partition, and identity linkage is decided over the whole input, so every K gives the
//! findings of the run in memory. Each case here is built so that a partition which only
//! saw its own rows would answer differently.

mod common;
use common::*;

fn sub(id: &str, pos: usize, ch: char) -> String {
    let mut c: Vec<char> = id.chars().collect();
    c[pos] = ch;
    c.into_iter().collect()
}

/// One substitution in the sequence digits: invalid, one edit away.
fn typo(id: &str) -> String {
    sub(id, 15, if id.as_bytes()[15] == b'7' { '8' } else { '7' })
}

fn person(id: &str, name: &str, village: &str) -> String {
    format!("{id},{name},{village},H{id},正常,")
}

/// The run in memory's findings, checked equal (every field) for K = 2 and 7.
fn same_for_every_k(t: &Town) -> Vec<qianbiao_core::Finding> {
    let one = t.run_partitioned(1);
    assert_eq!(one, t.run(), "--partitions 1 is the run in memory");
    for k in [2, 7] {
        let got = t.run_partitioned(k);
        assert_eq!(got, one, "K = {k}");
    }
    one
}

fn fired(found: &[qianbiao_core::Finding], rule: &str) -> Vec<(String, String)> {
    found
        .iter()
        .filter(|f| f.rule == rule)
        .map(|f| (f.key.clone(), f.amount.to_string()))
        .collect()
}

#[test]
fn a_persons_second_hukou_row_is_a_candidate_whatever_the_partitions() {
    // 吴一 is exported again as 吴二 (second row): a payment typed with the second name
    // links to the person, decided over the whole input, in every K; and a payment in the
    // village of a moved person's second row links by name_birth.
    let a = born(1980, 1);
    let c = born(1975, 3);
    let row = format!("371399{}", &c[6..17]);
    let t = Town::new()
        .hukou(&person(&a, "吴一", "店子村"))
        .hukou(&format!("{c},钱七,东村,H9,迁出,2020-01-01"))
        .hukou(&person(&a, "吴二", "西村"))
        .hukou(&person(&c, "钱七", "南村"))
        .pays(&[
            med("T1", &typo(&a), "320", "2021-11-05").name("吴二"),
            med("T2", &row, "320", "2021-11-05")
                .name("钱七")
                .village("南村"),
        ]);
    let found = same_for_every_k(&t);
    assert_eq!(
        fired(&found, "IDN-001"),
        [
            ("T1".to_string(), "320.00".to_string()),
            ("T2".to_string(), "320.00".to_string())
        ]
    );
}

#[test]
fn two_candidates_in_different_partitions_are_still_no_link() {
    // 钱七 twice, same birth date, two villages; a row whose characters 7-14 are that
    // date, with no village: two candidates, no link. The row shares a collector with
    // the first 钱七, so a partition that linked on its own would see one candidate.
    let a = born(1980, 1);
    let b = born(1980, 2);
    let row = format!("371399{}", &a[6..17]);
    let t = Town::new()
        .hukou(&person(&a, "钱七", "店子村"))
        .hukou(&person(&b, "钱七", "大庄村"))
        .pays(&[
            med("T1", &row, "320", "2021-11-05")
                .name("钱七")
                .collector("C1", "R1", "D1"),
            med("T2", &a, "320", "2021-11-05").collector("C1", "R2", "D1"),
            med("T3", &b, "320", "2021-11-06"),
        ]);
    let found = same_for_every_k(&t);
    assert!(fired(&found, "IDN-001").is_empty());
    assert_eq!(fired(&found, "DQ-001"), expect(&[("T1", "320.00")]));
}

#[test]
fn a_linked_row_meets_its_person_whatever_the_partitions() {
    // 孙八 pays in 王庄村; a mistyped payment of his comes from another village with
    // nothing in common but the link, and a mistyped death notice names him.
    let c = born(1940, 3);
    let t = Town::new()
        .hukou(&person(&c, "孙八", "王庄村"))
        .hukou(&person(&born(1990, 4), "李四", "大庄村"))
        .mistyped_death(
            &sub(&c, 16, if &c[16..17] == "5" { '6' } else { '5' }),
            "孙八",
            "2021-11-10",
        )
        .pays(&[
            med("T4", &typo(&c), "320", "2021-11-05")
                .name("孙八")
                .village("大庄村")
                .collector("C9", "R9", "D9"),
            med("T5", &c, "320", "2021-11-11").gov(),
        ]);
    let found = same_for_every_k(&t);
    assert_eq!(fired(&found, "IDN-001"), expect(&[("T4", "320.00")]));
    assert_eq!(fired(&found, "DTH-005"), expect(&[("T5", "320.00")]));
}

#[test]
fn keys_other_than_the_person_join_partitions() {
    // A txn_id exported for two persons (DQ-003, first read kept), a receipt number on
    // two persons (DUP-004), and one account paying for three households in three
    // villages (MNY-005).
    // Seven persons in seven villages: each pair or triple meets through one key only.
    let ids: Vec<String> = (0..7).map(|i| born(1970, 10 + i)).collect();
    let mut t = Town::new();
    for (i, id) in ids.iter().enumerate() {
        t = t.resident_in(id, &format!("村{i}"), &format!("H{id}"));
    }
    let t = t.pays(&[
        med("X1", &ids[0], "320", "2021-11-05"),
        med("X1", &ids[1], "320", "2021-11-06"),
        pen("P1", &ids[2], "300", "2021-11-07").receipt("SJ-1"),
        pen("P2", &ids[3], "300", "2021-11-07").receipt("SJ-1"),
        pen("A1", &ids[4], "500", "2021-11-08").account("6222000011112222"),
        pen("A2", &ids[5], "500", "2021-11-08").account("6222000011112222"),
        pen("A3", &ids[6], "500", "2021-11-08").account("6222000011112222"),
    ]);
    let found = same_for_every_k(&t);
    assert_eq!(fired(&found, "DQ-003"), expect(&[("X1", "320.00")]));
    assert_eq!(fired(&found, "DUP-004"), expect(&[("SJ-1", "600.00")]));
    assert_eq!(
        fired(&found, "MNY-005"),
        expect(&[("6222000011112222", "1500.00")])
    );
}

#[test]
fn a_government_account_does_not_join_everyone_and_the_partitions_stay_apart() {
    // Two villages whose 代缴 rows share one government account: MNY-005 never looks at
    // them, so the villages need not meet; the answers are the same either way.
    let a = born(1950, 20);
    let b = born(1950, 21);
    let t = Town::new()
        .resident_in(&a, "店子村", "H1")
        .resident_in(&b, "大庄村", "H2")
        .pays(&[
            med("G1", &a, "320", "2021-11-05").gov().account("财政专户"),
            med("G2", &b, "320", "2021-11-05").gov().account("财政专户"),
        ]);
    same_for_every_k(&t);
}

#[test]
fn only_what_a_rule_groups_by_joins_villages() {
    // A person's second hukou row (moved, or exported twice) is no one's village row:
    // every rule takes the first. Three villages stay three components plus the
    // persons', and the answers do not change.
    let a = born(1960, 30);
    let b = born(1960, 31);
    let c = born(1960, 32);
    let t = Town::new()
        .hukou(&person(&a, "赵一", "东村"))
        .hukou(&person(&a, "赵一", "西村"))
        .hukou(&person(&b, "钱二", "西村"))
        .hukou(&person(&c, "孙三", "南村"))
        .pays(&[
            pen("P1", &a, "300", "2021-11-05"),
            pen("P2", &b, "300", "2021-11-05"),
            pen("P3", &c, "300", "2021-11-05"),
        ]);
    same_for_every_k(&t);
    let o = t.compute_partitioned(3);
    let st = o.components.unwrap();
    assert_eq!(st.components, 3, "{:?}", o.partitions);
    // 赵一's two hukou rows and payment.
    assert_eq!(st.largest, 3);
    assert!(st.keys_bytes > 0 && st.spill_bytes > 0);
    assert_eq!(o.partitions.iter().filter(|&&r| r > 0).count(), 3);
}

/// DQ-001 keys a payment by its txn_id and a receipt by its receipt_no: a receipt
/// numbered as a payment's txn_id shares that key, and one key is one finding (merged:
/// amounts added, both ids, both rows cited), in memory and whatever the partitions: the
/// buckets' findings are merged once more after they are gathered. (Their collectors'
/// counts agree too: two such findings naming one collector are joined by it, so they
/// are merged inside one bucket before its `collectors.csv` rows are counted.)
#[test]
fn a_receipt_numbered_as_a_payments_txn_id_is_one_finding_whatever_the_partitions() {
    let t = Town::new()
        .hukou(&person(&born(1980, 1), "甲", "店子村"))
        .pays(&[med("X1", "123", "320", "2021-11-05")])
        .receipts(&["X1,C9,456,resident_medical,300,2021-11-05".to_string()]);
    let found = same_for_every_k(&t);
    let dq: Vec<_> = found.iter().filter(|f| f.rule == "DQ-001").collect();
    assert_eq!(dq.len(), 1, "{dq:?}");
    let f = dq[0];
    assert_eq!(
        (f.key.as_str(), f.amount.to_string()),
        ("X1", "620.00".to_string())
    );
    assert_eq!(f.id_number, "123;456");
    assert_eq!(f.collector_id, "C9");
    assert_eq!(f.sources, ["payments.csv:2", "receipts.csv:2"]);
    assert_eq!(f.txn_ids, ["X1"]);
    assert!(f.detail.contains('；'), "{}", f.detail);
}
