//! Resident identity numbers (公民身份号码, GB 11643-1999).

use chrono::NaiveDate;
use compact_str::CompactString;

use crate::date::is_calendar_date;
use crate::text::{ascii_number, norm_text};

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: [u8; 11] = *b"10X98765432";

/// Computes the GB 11643 check character for the first 17 digits of an id number.
///
/// Returns `None` when `body` is not exactly 17 ASCII digits.
pub fn check_digit(body: &str) -> Option<char> {
    check_char(body.as_bytes()).map(char::from)
}

/// [`check_digit`] of bytes: the check character of exactly 17 ASCII digits.
fn check_char(body: &[u8]) -> Option<u8> {
    if body.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (&c, w) in body.iter().zip(WEIGHTS) {
        if !c.is_ascii_digit() {
            return None;
        }
        sum += u32::from(c - b'0') * w;
    }
    Some(CHECK[(sum % 11) as usize])
}

/// An id number after normalisation: the canonical text and whether it is valid.
///
/// An invalid number is kept as its normalised text, which then stands for the person
/// where a rule needs one (payments and receipts keep such rows).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdNumber {
    /// Inline up to 24 bytes: an id is parsed for every row of every source, with no
    /// allocation.
    text: CompactString,
    /// The birth date as the number `YYYYMMDD` its digits 7-14 spell (valid numbers
    /// only): a real date of the calendar, told without building one.
    birth: Option<u32>,
}

impl IdNumber {
    /// Normalises a raw cell: NFKC, trim, `x` to `X`, 15-digit legacy numbers converted to
    /// 18 digits (`19` inserted after the area code, check digit computed), then validated.
    pub fn parse(raw: &str) -> IdNumber {
        // Nearly every cell is a valid number as it should be written, nothing around it:
        // then normalising it changes nothing, and one pass over its bytes tells.
        if let Some(birth) = validate18(raw.as_bytes()) {
            return IdNumber {
                text: CompactString::from(raw),
                birth: Some(birth),
            };
        }
        Self::normalised(raw)
    }

    /// [`IdNumber::parse`] of any text, through the general normalisation.
    fn normalised(raw: &str) -> IdNumber {
        let mut text = CompactString::from(norm_text(raw).as_ref());
        if text.contains('x') {
            text = text.replace('x', "X").into();
        }
        if text.len() == 15 && text.bytes().all(|b| b.is_ascii_digit()) {
            let body = format!("{}19{}", &text[..6], &text[6..]);
            // Converted whatever its birth date (data-contract.md: normalised, then
            // validated): one with no real date is invalid in its 18-digit form, the form
            // that stands for the person in the DUP rules.
            if let Some(c) = check_digit(&body) {
                let converted = CompactString::from(format!("{body}{c}"));
                let birth = birth_of(converted.as_bytes());
                return IdNumber {
                    text: converted,
                    birth,
                };
            }
            return IdNumber { text, birth: None };
        }
        let birth = validate18(text.as_bytes());
        IdNumber { text, birth }
    }

    /// The canonical text (18 characters when valid).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Consumes the number, giving its canonical text.
    pub fn into_text(self) -> CompactString {
        self.text
    }

    /// True when the number has the right form, a real birth date and a correct check digit.
    pub fn is_valid(&self) -> bool {
        self.birth.is_some()
    }

    /// The birth date (valid numbers only).
    pub fn birth_date(&self) -> Option<NaiveDate> {
        ymd_date(self.birth?)
    }

    /// The birth year (valid numbers only).
    pub fn birth_year(&self) -> Option<i32> {
        self.birth.map(|b| (b / 10_000) as i32)
    }

    /// True for male (17th digit odd), valid numbers only.
    pub fn is_male(&self) -> Option<bool> {
        self.birth?;
        let d = self.text.as_bytes()[16] - b'0';
        Some(d % 2 == 1)
    }
}

/// The birth date encoded at positions 7-14 as `YYYYMMDD`, if it is a real calendar date.
fn birth_of(b: &[u8]) -> Option<u32> {
    let ymd = ascii_number(b.get(6..14)?)? as u32;
    is_calendar_date(ymd / 10_000, ymd / 100 % 100, ymd % 100).then_some(ymd)
}

/// The real date of characters 7-14 of any text, if they form one: the birth date an id
/// states, whether or not the id is valid (identity linkage reads it from invalid ones).
/// Characters, not bytes: a mistyped id may hold a non-ASCII character (`〇`) elsewhere.
pub fn birth_date_of(id: &str) -> Option<NaiveDate> {
    if id.is_ascii() {
        return ymd_date(birth_of(id.as_bytes())?);
    }
    let mut digits = [0u8; 8];
    let mut chars = id.chars().skip(6);
    for d in &mut digits {
        *d = u8::try_from(chars.next()?).ok()?;
    }
    ymd_date(ascii_number(&digits)? as u32)
}

/// The date of a `YYYYMMDD` number.
fn ymd_date(ymd: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt((ymd / 10_000) as i32, ymd / 100 % 100, ymd % 100)
}

/// Birth date (`YYYYMMDD`) of a valid 18-character number, `None` when it is invalid:
/// 17 ASCII digits, the check character they give, and a real birth date.
fn validate18(b: &[u8]) -> Option<u32> {
    if b.len() != 18 || check_char(&b[..17])? != b[17] {
        return None;
    }
    birth_of(b)
}

/// Birth year straight from a canonical valid id text (no re-validation), for hot loops.
pub fn birth_year_of_canonical(text: &str) -> Option<i32> {
    text.get(6..10)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a valid id from area, birth date and sequence, for tests.
    fn make(area: &str, birth: &str, seq: &str) -> String {
        let body = format!("{area}{birth}{seq}");
        format!("{body}{}", check_digit(&body).unwrap())
    }

    #[test]
    fn known_valid_number() {
        // The GB 11643 worked example.
        let id = IdNumber::parse("11010519491231002X");
        assert!(id.is_valid());
        assert_eq!(id.birth_year(), Some(1949));
        assert_eq!(id.is_male(), Some(false));
    }

    #[test]
    fn lowercase_x_and_full_width_digits() {
        let id = IdNumber::parse(" １１０１０５１９４９１２３１００２x ");
        assert_eq!(id.as_str(), "11010519491231002X");
        assert!(id.is_valid());
    }

    #[test]
    fn wrong_check_digit_is_invalid() {
        let id = IdNumber::parse("110105194912310021");
        assert!(!id.is_valid());
        assert_eq!(id.as_str(), "110105194912310021");
    }

    #[test]
    fn impossible_birth_date_is_invalid() {
        // 1990-02-30 with a correct check digit for its body.
        let body = "37132319900230123";
        let text = format!("{body}{}", check_digit(body).unwrap());
        assert!(!IdNumber::parse(&text).is_valid());
        let leap = make("371323", "20000229", "123");
        assert!(IdNumber::parse(&leap).is_valid());
        let not_leap = format!(
            "37132319000229123{}",
            check_digit("37132319000229123").unwrap()
        );
        assert!(!IdNumber::parse(&not_leap).is_valid());
    }

    #[test]
    fn fifteen_digit_legacy_number_converts() {
        let id = IdNumber::parse("371323620315123");
        assert!(id.is_valid());
        assert_eq!(id.as_str(), make("371323", "19620315", "123"));
        assert_eq!(id.birth_year(), Some(1962));
        assert_eq!(id.is_male(), Some(true));
        // An impossible legacy birth date is converted too, and is invalid: the 18-digit
        // form a valid id of the same person would have, had the date been right.
        let bad = IdNumber::parse("371323621315123");
        assert!(!bad.is_valid());
        assert_eq!(bad.as_str(), make("371323", "19621315", "123"));
        assert_eq!(bad.birth_year(), None);
    }

    #[test]
    fn malformed_numbers() {
        for raw in [
            "",
            "123",
            "3713231990010112345",
            "37132319900101123Y",
            "ABCDEFGHIJKLMNOPQR",
        ] {
            assert!(!IdNumber::parse(raw).is_valid(), "{raw}");
        }
    }

    #[test]
    fn the_plain_form_reads_as_the_general_reader_does() {
        let valid = make("371323", "19900101", "123");
        let x_check = "11010519491231002X";
        let mut cells = vec![
            valid.clone(),
            x_check.to_string(),
            x_check.to_lowercase(),
            format!(" {valid}"),
            format!("{valid} "),
            valid.replace('3', "３"),
        ];
        // Every check character, right or wrong; and impossible birth dates.
        for c in "0123456789XxY".chars() {
            cells.push(format!("{}{c}", &valid[..17]));
        }
        for birth in [
            "19900229", "20000229", "19001301", "19900100", "00000229", "99991231",
        ] {
            cells.push(make("371323", birth, "123"));
        }
        for raw in &cells {
            let id = IdNumber::parse(raw);
            assert_eq!(id, IdNumber::normalised(raw), "{raw}");
            assert_eq!(
                id.birth_date(),
                id.is_valid()
                    .then(|| NaiveDate::parse_from_str(&id.as_str()[6..14], "%Y%m%d").unwrap()),
                "{raw}"
            );
        }
        assert_eq!(IdNumber::parse(&valid).birth_year(), Some(1990));
        assert!(!IdNumber::parse(&make("371323", "19900229", "123")).is_valid());
        assert!(IdNumber::parse(&make("371323", "00000229", "123")).is_valid());
    }

    proptest::proptest! {
        #[test]
        fn any_18_characters_read_as_the_general_reader_does(raw in "[0-9Xx ]{18}") {
            proptest::prop_assert_eq!(IdNumber::parse(&raw), IdNumber::normalised(&raw));
        }

        #[test]
        fn valid_ids_survive_the_15_digit_round_trip(
            y in 1900i32..2000, m in 1u32..13, d in 1u32..29, seq in 0u32..1000, area in 110000u32..660000
        ) {
            let birth = format!("{y:04}{m:02}{d:02}");
            let full = make(&area.to_string(), &birth, &format!("{seq:03}"));
            let legacy = format!("{}{}", &full[..6], &full[8..17]);
            let parsed = IdNumber::parse(&legacy);
            proptest::prop_assert!(parsed.is_valid());
            proptest::prop_assert_eq!(parsed.as_str(), full.as_str());
            let again = IdNumber::parse(parsed.as_str());
            proptest::prop_assert_eq!(again, parsed);
        }
    }
}
