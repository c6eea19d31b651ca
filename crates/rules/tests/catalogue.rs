//! The catalogue: codes unique and well-formed, every rule documented, and
//! `docs/rules.md` generated from the same source (this test fails when it is stale).

use std::collections::HashSet;

#[test]
fn codes_are_unique_ordered_and_documented() {
    let rules = qianbiao_rules::registry();
    assert_eq!(rules.len(), 31);
    let mut seen = HashSet::new();
    let mut prev = "";
    for r in &rules {
        let m = r.meta();
        assert!(seen.insert(m.code), "duplicate code {}", m.code);
        let (family, num) = m.code.split_once('-').expect("FAMILY-NNN");
        assert!(
            ["DUP", "DTH", "AMT", "ELG", "MNY", "DQ", "IDN", "COV"].contains(&family),
            "{}",
            m.code
        );
        assert_eq!(num.len(), 3, "{}", m.code);
        for heading in [
            "**What it finds**",
            "**Why it matters**",
            "**Key**",
            "**Amount**",
        ] {
            assert!(m.doc.contains(heading), "{} lacks {heading}", m.code);
        }
        assert!(!m.name_zh.is_empty() && !m.name_en.is_empty());
        if m.code.starts_with(&prev[..prev.find('-').unwrap_or(0)]) && !prev.is_empty() {
            assert!(m.code > prev, "{} after {prev}", m.code);
        }
        prev = m.code;
    }
}

#[test]
fn docs_rules_md_is_generated_from_the_rules() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/rules.md");
    let want = qianbiao_rules::catalogue_markdown();
    let have = std::fs::read_to_string(path).unwrap_or_default();
    if std::env::var_os("QB_BLESS").is_some() {
        std::fs::write(path, &want).unwrap();
        return;
    }
    assert!(
        have == want,
        "docs/rules.md is stale: run `cargo run -- rules --markdown > docs/rules.md` \
         (or QB_BLESS=1 cargo test -p qianbiao-rules --test catalogue)"
    );
}
