//! Text normalisation shared by every source.

use std::borrow::Cow;

use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// Normalises a text value: NFKC (full-width ASCII becomes half-width, U+3000 a space)
/// and trimmed at both ends.
///
/// Text that is already in NFKC (all ASCII, most Chinese) is only trimmed and borrowed:
/// no allocation on the hot path of ingest.
pub fn norm_text(raw: &str) -> Cow<'_, str> {
    // Most cells are printable ASCII: already NFKC, nothing to remove, only spaces to
    // trim. One pass tells.
    if raw.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Cow::Borrowed(raw.trim_ascii());
    }
    // Next most: printable ASCII and CJK Unified Ideographs (names, villages), also
    // already NFKC; the only white space they can hold is the ASCII space.
    if ascii_or_ideographs(raw.as_bytes()) {
        return Cow::Borrowed(raw.trim_ascii());
    }
    // Control characters (U+0000-U+001F, U+007F) never belong in a value: a NUL or an
    // escape sequence must not reach an output. In UTF-8 they are single bytes.
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        let clean: String = raw.chars().filter(|c| !is_control(*c)).collect();
        return Cow::Owned(norm_text(&clean).into_owned());
    }
    if is_nfkc_quick(raw.chars()) == IsNormalized::Yes {
        return Cow::Borrowed(raw.trim());
    }
    let folded: String = raw.nfkc().collect();
    let trimmed = folded.trim();
    if trimmed.len() == folded.len() {
        Cow::Owned(folded)
    } else {
        Cow::Owned(trimmed.to_string())
    }
}

/// True when every character of a text's UTF-8 is printable ASCII or a CJK Unified
/// Ideograph (U+4E00-U+9FFF), told from the bytes without decoding: an ideograph is
/// three bytes led by E5-E9, or by E4 then B8-BF.
fn ascii_or_ideographs(b: &[u8]) -> bool {
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            0x20..=0x7e => i += 1,
            0xe5..=0xe9 => i += 3,
            0xe4 if b.get(i + 1).is_some_and(|&n| n >= 0xb8) => i += 3,
            _ => return false,
        }
    }
    true
}

/// U+0000-U+001F and U+007F.
fn is_control(c: char) -> bool {
    (c as u32) < 0x20 || c == '\u{7f}'
}

/// Normalises a person's name: as [`norm_text`], and inner white space removed
/// (`王  涛` is `王涛`).
pub fn norm_name(raw: &str) -> Cow<'_, str> {
    let t = norm_text(raw);
    // Printable ASCII and ideographs (most names) hold no white space but the ASCII
    // space: one byte search instead of decoding every character.
    let spaced = if ascii_or_ideographs(t.as_bytes()) {
        t.as_bytes().contains(&b' ')
    } else {
        t.chars().any(char::is_whitespace)
    };
    if spaced {
        let joined: String = t.chars().filter(|c| !c.is_whitespace()).collect();
        // Removing a space can leave a combining mark beside a letter (`C ̧` from `C¸`):
        // normalise again so a name normalises to one form.
        Cow::Owned(norm_text(&joined).into_owned())
    } else {
        t
    }
}

/// Trims a header cell: spaces at both ends, full-width U+3000 included, and a UTF-8 BOM.
pub fn trim_header(raw: &str) -> String {
    raw.trim_start_matches('\u{feff}')
        .trim_matches(|c: char| c.is_whitespace() || c == '\u{3000}')
        .to_lowercase()
}

/// The value of bytes that are all ASCII digits (0 for none); `None` when any byte is not
/// a digit or the value does not fit. The fast readers of dates and amounts, and an id's
/// birth date, read their fields with it.
pub fn ascii_number(b: &[u8]) -> Option<u64> {
    b.iter().try_fold(0u64, |n, &c| {
        if !c.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(c - b'0'))
    })
}

/// Equality of two texts, told for short ones (the cells of a column that repeat:
/// villages, channels, collector ids, empty cells) by a few loads and compares in place
/// rather than a call to `memcmp`, which costs more than the compare at these lengths.
#[inline]
pub fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    // Overlapping words from each end cover every byte.
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"));
    let half = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().expect("4 bytes"));
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// Formats a spreadsheet number as text: integers without a fraction or an exponent; a
/// fraction to the 15 significant digits Excel keeps and shows, so that a formula's
/// binary noise (`=0.1+0.2` is stored as 0.30000000000000004) reads as the amount the
/// sheet shows (0.3), while a value with more decimals than an amount has still shows
/// them (and is rejected).
pub fn spreadsheet_number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else if f.is_finite() && f.abs() < 1e15 {
        let int_digits = (f.abs().log10().floor() as i32 + 1).max(1);
        let decimals = (15 - int_digits).max(0) as usize;
        let text = format!("{f:.decimals$}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        if text == "-0" {
            "0".to_string()
        } else {
            text.to_string()
        }
    } else {
        // Rust prints every f64 without an exponent: an 18-digit id typed as a number
        // reads as the integer Excel kept (its last digits lost).
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_numbers() {
        assert_eq!(ascii_number(b""), Some(0));
        assert_eq!(ascii_number(b"0042"), Some(42));
        assert_eq!(ascii_number(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(ascii_number(b"18446744073709551616"), None);
        for bad in [&b"4 2"[..], b"-1", b"+1", b"1.5", "４".as_bytes()] {
            assert_eq!(ascii_number(bad), None);
        }
    }

    #[test]
    fn same_text_is_equality_at_every_length() {
        let base = "村居代办员编号0123456789abcdef";
        for n in 0..=base.len() {
            let a = &base.as_bytes()[..n];
            for at in 0..n {
                let mut b = a.to_vec();
                b[at] ^= 1;
                let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(&b));
                assert_eq!(same_text(&a, &b), a == b, "{n} {at}");
            }
            let a = String::from_utf8_lossy(a);
            assert!(same_text(&a, &a.clone()));
            assert!(!same_text(&a, &format!("{a}x")));
        }
    }

    #[test]
    fn control_characters_are_removed() {
        assert_eq!(norm_text("A\u{0}B\u{1b}[31mC\u{7f}"), "AB[31mC");
        assert_eq!(norm_text("\t王\r\n涛\u{0} "), "王涛");
        assert_eq!(norm_name("王\u{0} 涛"), "王涛");
    }

    #[test]
    fn ideographs_are_told_from_their_neighbours_by_bytes() {
        for (c, inside) in [
            ('\u{4DFF}', false),
            ('\u{4E00}', true),
            ('\u{4FFF}', true),
            ('\u{5000}', true),
            ('\u{9FFF}', true),
            ('\u{A000}', false),
            ('\u{3000}', false),
            ('\u{7f}', false),
            ('~', true),
        ] {
            assert_eq!(
                ascii_or_ideographs(c.to_string().as_bytes()),
                inside,
                "{c:?}"
            );
        }
    }

    #[test]
    fn full_width_and_spaces() {
        assert_eq!(norm_text("\u{3000}ＡＢ１２３ "), "AB123");
        assert_eq!(norm_name(" 王  涛\u{3000}"), "王涛");
        assert_eq!(norm_name("王\u{3000}涛"), "王涛");
        assert_eq!(trim_header("\u{feff} ID_Number\u{3000}"), "id_number");
    }

    proptest::proptest! {
        #[test]
        fn normalising_twice_changes_nothing(s in "\\PC{0,20}") {
            let once = norm_text(&s);
            proptest::prop_assert_eq!(norm_text(&once), once.clone());
            let name = norm_name(&s);
            proptest::prop_assert_eq!(norm_name(&name), name.clone());
            // The fast path agrees with full NFKC.
            let full: String = s.nfkc().collect();
            proptest::prop_assert_eq!(once.as_ref(), full.trim());
        }

        #[test]
        fn the_byte_test_for_ideographs_agrees_with_the_characters(
            // Any text, and text at the edges of the block.
            s in proptest::prop_oneof![
                "\\PC{0,12}",
                "[ -~\u{7f}\u{3000}\u{4DF0}-\u{4E10}\u{4FF0}-\u{5010}\u{9FF0}-\u{A010}é]{0,12}",
            ]
        ) {
            let by_chars = s
                .chars()
                .all(|c| (' '..='~').contains(&c) || ('\u{4E00}'..='\u{9FFF}').contains(&c));
            proptest::prop_assert_eq!(ascii_or_ideographs(s.as_bytes()), by_chars);
        }

        #[test]
        fn names_lose_the_white_space_of_every_kind(
            s in "[ -~\u{3000}\u{a0}\u{2028}\u{85}\u{4E00}-\u{4E10}\u{ff21}-\u{ff30}é\t]{0,16}"
        ) {
            // The definition, character by character.
            let t = norm_text(&s);
            let want = if t.chars().any(char::is_whitespace) {
                let joined: String = t.chars().filter(|c| !c.is_whitespace()).collect();
                norm_text(&joined).into_owned()
            } else {
                t.into_owned()
            };
            let got = norm_name(&s);
            proptest::prop_assert_eq!(got.as_ref(), want.as_str());
        }

        #[test]
        fn printable_ascii_and_ideographs_are_only_trimmed(s in "[ -~\u{4E00}-\u{9FFF}]{0,24}") {
            let full: String = s.nfkc().collect();
            let t = norm_text(&s);
            proptest::prop_assert_eq!(t.as_ref(), full.trim());
            proptest::prop_assert!(matches!(t, Cow::Borrowed(_)));
        }
    }
}
