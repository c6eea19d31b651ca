//! Money as exact integer fen (1 yuan = 100 fen).
//!
//! Inside the engine every amount is an `i64` count of fen: exact, cheap to sum and to
//! compare. At the edges (parsing, writing) amounts are decimals with two places; a
//! binary float never holds money. See `docs/money.md` for why fen and not polars Decimal.

use std::fmt;

use rust_decimal::Decimal;

use crate::text::{ascii_number, norm_text};

/// An exact amount of money in fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Fen(pub i64);

impl Fen {
    /// Zero yuan.
    pub const ZERO: Fen = Fen(0);

    /// Whole yuan.
    pub const fn yuan(y: i64) -> Fen {
        Fen(y * 100)
    }

    /// The amount as a decimal with scale 2 (for Parquet and reports).
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, 2)
    }

    /// Converts a decimal with at most two places; `None` when it has more or overflows.
    pub fn from_decimal(d: Decimal) -> Option<Fen> {
        let scaled = d.checked_mul(Decimal::ONE_HUNDRED)?;
        if scaled.fract() != Decimal::ZERO {
            return None;
        }
        let n = scaled.trunc().mantissa() / 10i128.pow(scaled.trunc().scale());
        i64::try_from(n).ok().map(Fen)
    }

    /// Absolute value.
    pub fn abs(self) -> Fen {
        Fen(self.0.abs())
    }
}

impl std::ops::Add for Fen {
    type Output = Fen;
    fn add(self, o: Fen) -> Fen {
        Fen(self.0.saturating_add(o.0))
    }
}

impl std::ops::Sub for Fen {
    type Output = Fen;
    fn sub(self, o: Fen) -> Fen {
        Fen(self.0.saturating_sub(o.0))
    }
}

impl std::ops::AddAssign for Fen {
    fn add_assign(&mut self, o: Fen) {
        self.0 = self.0.saturating_add(o.0);
    }
}

impl std::iter::Sum for Fen {
    fn sum<I: Iterator<Item = Fen>>(iter: I) -> Fen {
        // Saturating: a ledger total never wraps to a negative number. One row is at most
        // MAX_AMOUNT, so a real ledger stays far below the bound.
        Fen(iter.fold(0i64, |a, f| a.saturating_add(f.0)))
    }
}

impl serde::Serialize for Fen {
    /// Money serialises as its decimal text (`"320.00"`), never as a float.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Fen {
    /// Reads back exactly what [`Fen`]'s `Serialize` writes: `320.00`, `-0.50`.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Fen, D::Error> {
        let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        let bad = || serde::de::Error::custom(format!("not an amount of fen: {text:?}"));
        let (neg, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, &*text),
        };
        let (yuan, fen) = digits.split_once('.').ok_or_else(bad)?;
        if yuan.is_empty()
            || fen.len() != 2
            || !yuan.bytes().chain(fen.bytes()).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let value = yuan
            .parse::<i64>()
            .ok()
            .and_then(|y| y.checked_mul(100))
            .and_then(|y| y.checked_add(fen.parse::<i64>().ok()?))
            .ok_or_else(bad)?;
        Ok(Fen(if neg { -value } else { value }))
    }
}

impl fmt::Display for Fen {
    /// Writes `320.00`, `-0.50`: always two decimals, no separators.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", a / 100, a % 100)
    }
}

/// Why an amount could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// The cell is empty.
    #[error("empty")]
    Empty,
    /// A minus sign: refunds are a status, never a sign.
    #[error("negative amount '{0}'")]
    Negative(String),
    /// More than two decimal places.
    #[error("more than 2 decimals in '{0}'")]
    TooPrecise(String),
    /// Anything else that is not an amount.
    #[error("not an amount: '{0}'")]
    Malformed(String),
    /// Above [`MAX_AMOUNT`] on one row.
    #[error("amount out of range: '{0}'")]
    OutOfRange(String),
}

/// The largest amount one row may carry: 100,000,000.00 yuan (`data-contract.md`,
/// Robustness). Larger values are rejected, so totals of real ledgers never overflow.
pub const MAX_AMOUNT: Fen = Fen(10_000_000_000);

/// Parses an amount: optional `¥`/`￥`, thousands separators, `元` suffix, 0 to 2
/// decimals, half- or full-width digits. Exact; negative values are rejected.
pub fn parse_amount(raw: &str) -> Result<Fen, AmountError> {
    match plain_amount(raw.as_bytes()) {
        Some(fen) => Ok(fen),
        None => any_amount(raw),
    }
}

/// The form nearly every export writes, 1 to 12 ASCII digits and optionally a point and
/// 1 or 2 more, nothing around them, up to [`MAX_AMOUNT`]: read from the bytes, the value
/// [`any_amount`] gives it. `None` for anything else.
fn plain_amount(b: &[u8]) -> Option<Fen> {
    let (int_part, frac) = match b.iter().position(|&c| c == b'.') {
        Some(at) => (&b[..at], &b[at + 1..]),
        None => (b, &[][..]),
    };
    if !(1..=12).contains(&int_part.len())
        || (b.len() > int_part.len() && !(1..=2).contains(&frac.len()))
    {
        return None;
    }
    // At most twelve digits and two: the values fit.
    let digits = |d: &[u8]| ascii_number(d).map(|n| n as i64);
    let fen = digits(int_part)? * 100 + digits(frac)? * if frac.len() == 1 { 10 } else { 1 };
    (fen <= MAX_AMOUNT.0).then_some(Fen(fen))
}

/// [`parse_amount`] of any form.
fn any_amount(raw: &str) -> Result<Fen, AmountError> {
    let t = norm_text(raw);
    if t.is_empty() {
        return Err(AmountError::Empty);
    }
    // NFKC turns the full-width ￥ into ¥.
    let s = t.strip_prefix('¥').unwrap_or(&t).trim();
    let s = s.strip_suffix('元').unwrap_or(s).trim();
    if s.starts_with('-') {
        return Err(AmountError::Negative(t.to_string()));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    let (int_part, frac_part) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    let malformed = || AmountError::Malformed(t.to_string());
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(malformed());
    }
    let digits = strip_thousands(int_part).ok_or_else(malformed)?;
    if !frac_part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    if frac_part.len() > 2 {
        return Err(AmountError::TooPrecise(t.to_string()));
    }
    if digits.trim_start_matches('0').len() > 12 {
        return Err(AmountError::OutOfRange(t.to_string()));
    }
    let yuan: i64 = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| malformed())?
    };
    let mut fen: i64 = 0;
    for (i, b) in frac_part.bytes().enumerate() {
        fen += i64::from(b - b'0') * if i == 0 { 10 } else { 1 };
    }
    let total = yuan
        .checked_mul(100)
        .and_then(|v| v.checked_add(fen))
        .ok_or_else(|| AmountError::OutOfRange(t.to_string()))?;
    if total > MAX_AMOUNT.0 {
        return Err(AmountError::OutOfRange(t.to_string()));
    }
    Ok(Fen(total))
}

/// Removes thousands separators, requiring groups of three digits after the first.
fn strip_thousands(int_part: &str) -> Option<String> {
    if !int_part.contains(',') {
        return int_part
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| int_part.to_string());
    }
    let mut groups = int_part.split(',');
    let first = groups.next()?;
    if first.is_empty() || first.len() > 3 || !first.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut out = first.to_string();
    for g in groups {
        if g.len() != 3 || !g.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        out.push_str(g);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_out_of_range_are_refused_and_sums_never_wrap() {
        assert_eq!(parse_amount("100,000,000.00"), Ok(Fen(10_000_000_000)));
        for raw in [
            "100000000.01",
            "92233720368547758.07",
            "99999999999999999999999",
        ] {
            assert!(
                matches!(parse_amount(raw), Err(AmountError::OutOfRange(_))),
                "{raw}"
            );
        }
        let big = [Fen(i64::MAX - 1), Fen(5)];
        assert_eq!(big.iter().copied().sum::<Fen>(), Fen(i64::MAX));
    }

    #[test]
    fn the_usual_form_read_from_bytes_is_what_the_general_reader_gives() {
        let usual = [
            "0",
            "7",
            "380",
            "380.00",
            "380.5",
            "380.05",
            "0.01",
            "000123.40",
            "999999999999",
            "100000000",
            "100000000.00",
            "100000000.01",
        ];
        for s in usual {
            let fast = plain_amount(s.as_bytes());
            let general = any_amount(s);
            match fast {
                Some(fen) => assert_eq!(Ok(fen), general, "{s}"),
                // Only amounts above the bound are left to the general reader.
                None => assert!(matches!(general, Err(AmountError::OutOfRange(_))), "{s}"),
            }
        }
        assert_eq!(plain_amount(b"380.5"), Some(Fen(38_050)));
        assert_eq!(plain_amount(b"100000000.00"), Some(MAX_AMOUNT));
        let other = [
            "",
            ".",
            ".5",
            "5.",
            "1.234",
            "1,000",
            " 380",
            "380 ",
            "-380",
            "+380",
            "¥380",
            "380元",
            "1e3",
            "3８0",
            "1.2.3",
            "0000000000001",
        ];
        for s in other {
            assert_eq!(plain_amount(s.as_bytes()), None, "{s}");
        }
    }

    #[test]
    fn accepted_forms() {
        for raw in [
            "320",
            "320.00",
            "320元",
            "¥320",
            "￥320",
            "３２０",
            "320.0",
            " 320 ",
            "￥３２０元",
        ] {
            assert_eq!(parse_amount(raw), Ok(Fen(32000)), "{raw}");
        }
        assert_eq!(parse_amount("1,000.00"), Ok(Fen(100000)));
        assert_eq!(parse_amount("1,234,567.5"), Ok(Fen(123456750)));
        assert_eq!(parse_amount("0.05"), Ok(Fen(5)));
        assert_eq!(parse_amount(".5"), Ok(Fen(50)));
        assert_eq!(parse_amount("0"), Ok(Fen(0)));
    }

    #[test]
    fn rejected_forms() {
        assert_eq!(parse_amount(""), Err(AmountError::Empty));
        assert!(matches!(
            parse_amount("-320"),
            Err(AmountError::Negative(_))
        ));
        assert!(matches!(
            parse_amount("1.005"),
            Err(AmountError::TooPrecise(_))
        ));
        for raw in [
            "abc",
            "1,00",
            "12,3456",
            "3 20",
            "320..0",
            "1e3",
            ".",
            "320元元",
        ] {
            assert!(
                matches!(parse_amount(raw), Err(AmountError::Malformed(_))),
                "{raw}"
            );
        }
    }

    #[test]
    fn display_has_two_decimals() {
        assert_eq!(Fen(32000).to_string(), "320.00");
        assert_eq!(Fen(5).to_string(), "0.05");
        assert_eq!(Fen(-150).to_string(), "-1.50");
        assert_eq!(Fen(12345).to_decimal().to_string(), "123.45");
        assert_eq!(Fen::from_decimal(Decimal::new(32050, 2)), Some(Fen(32050)));
        assert_eq!(Fen::from_decimal(Decimal::new(1005, 3)), None);
    }

    fn read_back(text: &str) -> Result<Fen, serde::de::value::Error> {
        use serde::de::IntoDeserializer;
        <Fen as serde::Deserialize>::deserialize(text.into_deserializer())
    }

    #[test]
    fn serialised_amounts_read_back_and_nothing_else_does() {
        for bad in [
            "", "1", "1.5", "1.500", "-", "-.50", "+1.00", "1,000.00", "¥1.00", " 1.00",
        ] {
            assert!(read_back(bad).is_err(), "{bad:?}");
        }
        assert_eq!(read_back("-0.50").unwrap(), Fen(-50));
        assert!(read_back("99999999999999999999.00").is_err());
    }

    proptest::proptest! {
        #[test]
        fn every_amount_reads_back_as_it_was_written(fen in (i64::MIN + 1)..=i64::MAX) {
            proptest::prop_assert_eq!(read_back(&Fen(fen).to_string()), Ok(Fen(fen)));
        }

        #[test]
        fn parsing_is_exact(fen in 0i64..10_000_000_000) {
            let text = Fen(fen).to_string();
            proptest::prop_assert_eq!(parse_amount(&text), Ok(Fen(fen)));
            proptest::prop_assert_eq!(parse_amount(&format!("¥{text}元")), Ok(Fen(fen)));
        }

        #[test]
        fn sums_do_not_depend_on_order(mut v in proptest::collection::vec(0i64..1_000_000, 0..50)) {
            let a: Fen = v.iter().map(|&x| Fen(x)).sum();
            v.reverse();
            let b: Fen = v.iter().map(|&x| Fen(x)).sum();
            proptest::prop_assert_eq!(a, b);
        }
    }
}
