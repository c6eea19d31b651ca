//! Dates, datetimes and contribution periods in every form the exports use.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};

use crate::text::{ascii_number, norm_text};

/// Parses a date: `2021-11-05`, `2021/11/5`, `2021.11.05`, `20211105`, `2021年11月5日`,
/// or an Excel serial number. A time part, if present, is accepted and dropped.
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    parse_datetime(raw).map(|dt| dt.date())
}

/// Parses a datetime: any date form of [`parse_date`] followed by ` H:MM`, ` HH:MM` or
/// ` HH:MM:SS` (`T` as separator only after `YYYY-MM-DD`), or an Excel serial number with
/// a fraction of a day. A date alone is midnight.
pub fn parse_datetime(raw: &str) -> Option<NaiveDateTime> {
    iso_exact(raw.as_bytes()).unwrap_or_else(|| any_form(raw))
}

/// [`parse_datetime`] of a number in a workbook that counts its dates from 1904 (Excel
/// for Mac's old default: day 0 is 1904-01-01, 1,462 days after the 1900 system's): a
/// serial is read on that system, any other form as [`parse_datetime`] reads it.
pub fn parse_datetime_1904(raw: &str) -> Option<NaiveDateTime> {
    match excel_serial(&norm_text(raw)) {
        Some(dt) => dt.checked_add_signed(Duration::days(DAYS_1900_TO_1904)),
        None => parse_datetime(raw),
    }
}

/// The days between the 1900 and 1904 date systems' day 0 (1899-12-30 and 1904-01-01).
const DAYS_1900_TO_1904: i64 = 1_462;

/// [`parse_datetime`] of any form.
fn any_form(raw: &str) -> Option<NaiveDateTime> {
    let t = norm_text(raw);
    if t.is_empty() {
        return None;
    }
    if let Some(dt) = excel_serial(&t) {
        return Some(dt);
    }
    let (date_part, time_part) = split_time(&t);
    let date = date_only(date_part)?;
    let (time, offset) = match time_part {
        None => (NaiveTime::MIN, None),
        Some(tp) => {
            let (tp, offset) = split_offset(tp)?;
            (parse_time(tp)?, offset)
        }
    };
    let local = date.and_time(time);
    match offset {
        None => Some(local),
        // A time with a zone is converted to China Standard Time before its date is taken.
        Some(secs) => local.checked_add_signed(Duration::seconds(i64::from(CST_OFFSET - secs))),
    }
}

/// The form nearly every export writes, `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS` (or `T` in
/// place of the space) with nothing around it, read from the bytes: `Some` of what the
/// general reader below gives such a text (`None` inside for a day or time that does not
/// exist), or `None` when the text is of another form. Such a text is printable ASCII
/// without spaces at its ends, so normalising it changes nothing.
fn iso_exact(b: &[u8]) -> Option<Option<NaiveDateTime>> {
    // At most four digits: the value fits.
    let num = |from: usize, len: usize| ascii_number(&b[from..from + len]).map(|n| n as u32);
    if !matches!(b.len(), 10 | 19) || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let time = if b.len() == 19 {
        if !matches!(b[10], b' ' | b'T') || b[13] != b':' || b[16] != b':' {
            return None;
        }
        (num(11, 2)?, num(14, 2)?, num(17, 2)?)
    } else {
        (0, 0, 0)
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d);
    Some(date.and_then(|date| date.and_hms_opt(time.0, time.1, time.2)))
}

/// True when year `y` (0-9999), month `m` and day `d` name a day of the proleptic
/// Gregorian calendar, as `NaiveDate::from_ymd_opt` tells, without building the date.
pub fn is_calendar_date(y: u32, m: u32, d: u32) -> bool {
    let leap = y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400));
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    y <= 9999 && (1..=days).contains(&d)
}

/// Days from 0001-01-01 (chrono's day 1 of the common era) to 1970-01-01: a day count
/// since the Unix epoch (Arrow's `date32`, a [`crate::Stamp`]'s day) plus this is chrono's.
pub const EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// China Standard Time, UTC+8, in seconds.
pub const CST_OFFSET: i32 = 8 * 3600;

/// Splits a zone suffix off a time: `10:00:00Z`, `10:00+08:00`, `10:00:00 +0800`,
/// `10:00-05`; the offset in seconds east of UTC. `None` when the suffix is malformed.
fn split_offset(tp: &str) -> Option<(&str, Option<i32>)> {
    if let Some(t) = tp.strip_suffix('Z').or_else(|| tp.strip_suffix('z')) {
        return Some((t.trim_end(), Some(0)));
    }
    let Some(at) = tp.rfind(['+', '-']) else {
        return Some((tp, None));
    };
    let (t, zone) = (&tp[..at], &tp[at..]);
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !matches!(digits.len(), 2 | 4) {
        return None;
    }
    let h: i32 = digits[..2].parse().ok()?;
    let m: i32 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    if h > 14 || m > 59 {
        return None;
    }
    Some((t.trim_end(), Some(sign * (h * 3600 + m * 60))))
}

/// Whether a date is one an export can mean for policy year `year`: from 1900-01-01 to
/// the end of year `year + 2` (`data-contract.md`, Robustness). Anything else is a stray
/// number or a typo, not a date.
pub fn date_in_range(d: NaiveDate, year: i32) -> bool {
    // Both bounds are a year's first or last day: the date's year tells (read from the
    // date, where building the bounds' dates was a calendar computation a cell).
    (1900..=year.saturating_add(2)).contains(&d.year())
}

/// [`date_in_range`] of a date read from the text `raw`, which also refuses a stray
/// number of up to four digits read as an Excel serial: `2021` is the serial of
/// 1905-07-13, inside the dates an export may mean, yet it is a year typed in the wrong
/// column, not a day (`data-contract.md`, Robustness: the range "stops a stray number
/// (`2021115`, `2021`) from passing as an Excel serial"). Real serials have five digits
/// (10000 is 1927-05-18); an Excel date cell is read as its date, not its serial.
pub fn written_in_range(d: NaiveDate, raw: &str, year: i32) -> bool {
    date_in_range(d, year) && (d.year() > 1927 || !short_serial(raw))
}

/// Whether a text is an Excel serial of at most four digits (a fraction or a time after
/// it allowed). A date written with dots (`1925.03.04`, a form of the contract) has two
/// dots and is no serial: only `1925` or `1925.5` is.
fn short_serial(raw: &str) -> bool {
    let t = norm_text(raw);
    let date_part = t.split(' ').next().unwrap_or("");
    let (int_part, fraction) = date_part.split_once('.').unwrap_or((date_part, ""));
    (1..=4).contains(&int_part.len())
        && int_part.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// Splits `date[ time]` or `YYYY-MM-DDThh:mm`, the `T` form only after an ISO date (and
/// tested first: `2021-11-04T16:00:00 Z` has a space only before its zone).
fn split_time(t: &str) -> (&str, Option<&str>) {
    if t.len() > 10
        && t.as_bytes()[10] == b'T'
        && t.as_bytes()[4] == b'-'
        && t.as_bytes()[7] == b'-'
    {
        return (&t[..10], Some(&t[11..]));
    }
    if let Some((d, rest)) = t.split_once(' ') {
        return (d, Some(rest.trim_start()));
    }
    (t, None)
}

fn parse_time(tp: &str) -> Option<NaiveTime> {
    let mut parts = tp.split(':');
    let h: u32 = small_num(parts.next()?, 1, 2)?;
    let m: u32 = small_num(parts.next()?, 2, 2)?;
    let s: u32 = match parts.next() {
        None => 0,
        Some(sec) => {
            // Fractions of a second (native timestamps printed by Parquet readers) are dropped.
            let whole = sec.split_once('.').map_or(sec, |(w, f)| {
                if f.bytes().all(|b| b.is_ascii_digit()) {
                    w
                } else {
                    "x"
                }
            });
            small_num(whole, 2, 2)?
        }
    };
    if parts.next().is_some() {
        return None;
    }
    NaiveTime::from_hms_opt(h, m, s)
}

fn small_num(s: &str, min_len: usize, max_len: usize) -> Option<u32> {
    if s.len() < min_len || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn date_only(d: &str) -> Option<NaiveDate> {
    if d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()) {
        return ymd(&d[..4], &d[4..6], &d[6..8]);
    }
    // A whole Excel serial followed by a time (`44505 10:30`).
    if !d.contains('.') {
        if let Some(dt) = excel_serial(d) {
            return Some(dt.date());
        }
    }
    if let Some(rest) = d.strip_suffix('日') {
        let (y, rest) = rest.split_once('年')?;
        let (m, dd) = rest.split_once('月')?;
        return ymd(y, m, dd);
    }
    for sep in ['-', '/', '.'] {
        let mut it = d.split(sep);
        if let (Some(y), Some(m), Some(dd), None) = (it.next(), it.next(), it.next(), it.next()) {
            return ymd(y, m, dd);
        }
    }
    None
}

fn ymd(y: &str, m: &str, d: &str) -> Option<NaiveDate> {
    let y = small_num(y, 4, 4)?;
    let m = small_num(m, 1, 2)?;
    let d = small_num(d, 1, 2)?;
    NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)
}

/// An Excel serial day number (1900 system), with an optional fraction of a day.
///
/// Eight-digit integers are `YYYYMMDD`, never serials; serials cover 1900-03-01 to 9999.
fn excel_serial(t: &str) -> Option<NaiveDateTime> {
    let (int_part, frac) = t.split_once('.').unwrap_or((t, ""));
    if int_part.is_empty() || int_part.len() > 7 || !int_part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || (frac.is_empty() && t.ends_with('.')) {
        return None;
    }
    if int_part.len() == 8 {
        return None;
    }
    let days: i64 = int_part.parse().ok()?;
    // Serial 60 is Excel's phantom 1900-02-29; days before it are not dates anyone exports.
    if !(61..=2_958_465).contains(&days) {
        return None;
    }
    let base = NaiveDate::from_ymd_opt(1899, 12, 30)?.and_time(NaiveTime::MIN);
    let secs = if frac.is_empty() {
        0
    } else {
        let f: f64 = format!("0.{frac}").parse().ok()?;
        (f * 86_400.0).round() as i64
    };
    base.checked_add_signed(Duration::days(days) + Duration::seconds(secs))
}

/// Parses a contribution year: `2022`, `2022年`, `2022年度`, `202201-202212`,
/// `2022-01至2022-12`; a range must lie within one year.
pub fn parse_period(raw: &str) -> Option<i32> {
    let t = norm_text(raw);
    let t = t.trim_end_matches('度').trim_end_matches('年');
    if t.len() == 4 {
        return year(t);
    }
    // A float from a spreadsheet cell: 2022.0.
    if let Some(y) = t.strip_suffix(".0") {
        if y.len() == 4 {
            return year(y);
        }
    }
    for sep in ["至", "~", "～", "—", "-"] {
        if let Some((a, b)) = split_range(t, sep) {
            let ya = month_year(a)?;
            let yb = month_year(b)?;
            return (ya == yb).then_some(ya);
        }
    }
    None
}

/// Splits `A sep B` where both halves are year-month forms (the `-` of `2022-01` is not a
/// range separator, so `2022-01-2022-12` splits at the middle dash).
fn split_range<'a>(t: &'a str, sep: &str) -> Option<(&'a str, &'a str)> {
    if sep != "-" {
        return t.split_once(sep);
    }
    let dashes: Vec<usize> = t.match_indices('-').map(|(i, _)| i).collect();
    match dashes.len() {
        1 => Some((&t[..dashes[0]], &t[dashes[0] + 1..])),
        3 => Some((&t[..dashes[1]], &t[dashes[1] + 1..])),
        _ => None,
    }
}

/// The year of `202201`, `2022-01`, `2022.01`, `2022/01` or `2022年01月`.
fn month_year(s: &str) -> Option<i32> {
    let s = s.trim().trim_end_matches('月');
    let (y, m) = if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
        (&s[..4], &s[4..])
    } else {
        let i = s.find(['-', '.', '/', '年'])?;
        let sep_len = s[i..].chars().next()?.len_utf8();
        (&s[..i], &s[i + sep_len..])
    };
    let m = small_num(m, 1, 2)?;
    (1..=12).contains(&m).then_some(())?;
    year(y)
}

fn year(s: &str) -> Option<i32> {
    let y = small_num(s, 4, 4)?;
    (1900..=2200).contains(&y).then_some(y as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn calendar_dates_are_chronos() {
        for y in (0..=2500).chain(9990..=10_001) {
            for m in 0..=13 {
                for d in 0..=32 {
                    assert_eq!(
                        is_calendar_date(y, m, d),
                        y <= 9999 && NaiveDate::from_ymd_opt(y as i32, m, d).is_some(),
                        "{y}-{m}-{d}"
                    );
                }
            }
        }
    }

    #[test]
    fn zoned_times_become_china_standard_time() {
        assert_eq!(
            parse_datetime("2021-12-20T16:30:00Z"),
            Some(dt("2021-12-21 00:30:00"))
        );
        assert_eq!(
            parse_datetime("2021-12-20 10:00:00+08:00"),
            Some(dt("2021-12-20 10:00:00"))
        );
        assert_eq!(
            parse_datetime("2021-12-20 23:00 +0000"),
            Some(dt("2021-12-21 07:00:00"))
        );
        assert_eq!(
            parse_datetime("2021-12-20 10:00-05"),
            Some(dt("2021-12-20 23:00:00"))
        );
        assert_eq!(parse_datetime("2021-12-20 10:00+99:00"), None);
        // The `T` form with a space before its zone, as with the space form.
        assert_eq!(
            parse_datetime("2021-12-20T16:30:00 Z"),
            Some(dt("2021-12-21 00:30:00"))
        );
        assert_eq!(
            parse_datetime("2021-12-20T10:00 +08:00"),
            Some(dt("2021-12-20 10:00:00"))
        );
        assert_eq!(
            parse_date("2021-11-05"),
            NaiveDate::from_ymd_opt(2021, 11, 5)
        );
    }

    #[test]
    fn the_usual_form_read_from_bytes_is_what_the_general_reader_gives() {
        let usual = [
            "2021-11-05",
            "2021-11-05 08:30:59",
            "2021-11-05T23:59:59",
            "2020-02-29 00:00:00",
            "2021-02-29",
            "2021-02-29 10:00:00",
            "2021-13-01",
            "2021-00-10",
            "2021-11-05 24:00:00",
            "2021-11-05 23:60:00",
            "2021-11-05 23:59:60",
            "0000-01-01",
        ];
        for s in usual {
            assert_eq!(iso_exact(s.as_bytes()), Some(any_form(s)), "{s}");
        }
        assert_eq!(
            iso_exact(b"2021-11-05 08:30:59"),
            Some(Some(dt("2021-11-05 08:30:59")))
        );
        assert_eq!(iso_exact(b"2021-02-29"), Some(None));
        // Other forms go to the general reader.
        let other = [
            " 2021-11-05",
            "2021-11-05 ",
            "2021/11/05",
            "2021-1-05",
            "2021-11-05 8:30:59",
            "2021-11-05x08:30:59",
            "2021-11-05 08:30",
            "2021-11-05 08-30-59",
            "20211105",
            "2021-11-0５",
            "+021-11-05",
            "44500",
            "",
        ];
        for s in other {
            assert_eq!(iso_exact(s.as_bytes()), None, "{s}");
        }
    }

    #[test]
    fn dates_out_of_range() {
        let y = 2022;
        let d = |s: &str| parse_date(s).unwrap();
        assert!(date_in_range(d("1900-01-01"), y));
        assert!(!date_in_range(d("1899-12-31"), y));
        assert!(date_in_range(d("2024-12-31"), y));
        assert!(!date_in_range(d("2025-01-01"), y));
        // A stray 7-digit number reads as an Excel serial far in the future.
        assert!(!date_in_range(d("2021115"), y));
        // A stray year reads as the serial of 1905-07-13: in range, but no date.
        assert_eq!(d("2021"), NaiveDate::from_ymd_opt(1905, 7, 13).unwrap());
        assert!(date_in_range(d("2021"), y));
        for raw in [
            "2021",
            " 2021 ",
            "２０２１",
            "2021.5",
            "2021 10:30",
            "61",
            "9999",
        ] {
            assert!(!written_in_range(d(raw), raw, y), "{raw}");
        }
        for raw in [
            "10000",
            "44505",
            "44505.5",
            "44505 10:30",
            "1905-07-13",
            "19050713",
            // Dates written with dots are dates, not serials with a fraction: a resident
            // born in 1925 (found by an audit of the contract's date forms).
            "1925.03.04",
            "1900.01.01",
            "1927.12.31",
            "1905.7.13",
        ] {
            assert!(written_in_range(d(raw), raw, y), "{raw}");
        }
        // A policy year at the end of the integers has no last day; one before 1900 no day.
        assert!(date_in_range(NaiveDate::MAX, i32::MAX));
        assert!(!date_in_range(NaiveDate::MIN, i32::MAX));
        assert!(!date_in_range(d("1900-01-01"), 1897));
    }

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn serials_of_a_workbook_counting_from_1904() {
        // The two systems' day 0, 1,462 days apart.
        let day0 = NaiveDate::from_ymd_opt(1899, 12, 30).unwrap();
        assert_eq!(
            day0 + Duration::days(DAYS_1900_TO_1904),
            NaiveDate::from_ymd_opt(1904, 1, 1).unwrap()
        );
        // 2021-11-05 is 44505 on the 1900 system and 43043 on the 1904 one.
        let nov5 = NaiveDate::from_ymd_opt(2021, 11, 5).unwrap();
        assert_eq!(parse_datetime_1904("43043"), nov5.and_hms_opt(0, 0, 0));
        assert_eq!(parse_datetime_1904("43043.375"), nov5.and_hms_opt(9, 0, 0));
        assert_eq!(parse_datetime_1904(" 43043 "), nov5.and_hms_opt(0, 0, 0));
        // Any other form is read as it is: a workbook's text dates name their day.
        for t in [
            "2021-11-05",
            "20211105",
            "2021年11月5日",
            "2021/11/5 9:30",
            "x",
            "",
        ] {
            assert_eq!(parse_datetime_1904(t), parse_datetime(t), "{t}");
        }
    }

    #[test]
    fn date_forms() {
        for raw in [
            "2021-11-05",
            "2021/11/5",
            "2021.11.05",
            "20211105",
            "2021年11月5日",
            "44505",
            "２０２１－１１－０５",
            "2021-11-05 00:00:00",
            " 2021-11-5 ",
        ] {
            assert_eq!(parse_date(raw), Some(d(2021, 11, 5)), "{raw}");
        }
    }

    #[test]
    fn impossible_dates() {
        for raw in [
            "2021-02-29",
            "2021-13-01",
            "20211345",
            "2021年2月30日",
            "abc",
            "",
            "21-11-05",
            "2021-11",
            "59",
            "44505x",
        ] {
            assert_eq!(parse_date(raw), None, "{raw}");
        }
        assert_eq!(parse_date("2020-02-29"), Some(d(2020, 2, 29)));
    }

    #[test]
    fn datetime_forms() {
        let want = d(2021, 11, 5).and_hms_opt(9, 30, 0).unwrap();
        for raw in [
            "2021-11-05 09:30",
            "2021-11-05 9:30",
            "2021-11-05 09:30:00",
            "2021-11-05T09:30:00",
            "2021/11/5 09:30",
            "20211105 09:30",
            "2021年11月5日 09:30:00",
            "44505.395833333",
            "44505 09:30",
            "44505 9:30:00",
            "2021-11-05 09:30:00.000000",
        ] {
            assert_eq!(parse_datetime(raw), Some(want), "{raw}");
        }
        assert_eq!(
            parse_datetime("2021-11-05"),
            Some(d(2021, 11, 5).and_hms_opt(0, 0, 0).unwrap())
        );
        for raw in [
            "2021/11/5T09:30",
            "2021-11-05 25:00",
            "2021-11-05 09:60",
            "2021-11-05 09",
            "2021-11-05 9:3",
        ] {
            assert_eq!(parse_datetime(raw), None, "{raw}");
        }
    }

    #[test]
    fn periods() {
        for raw in [
            "2022",
            "2022年",
            "2022年度",
            "202201-202212",
            "2022-01至2022-12",
            "2022.0",
            "２０２２",
            "2022-01-2022-12",
        ] {
            assert_eq!(parse_period(raw), Some(2022), "{raw}");
        }
        for raw in ["", "22", "202101-202212", "abcd", "2022-13至2022-12"] {
            assert_eq!(parse_period(raw), None, "{raw}");
        }
    }

    proptest::proptest! {
        #[test]
        fn every_form_of_a_date_agrees(days in 0i64..40_000) {
            let date = d(1930, 1, 1) + Duration::days(days);
            let forms = [
                date.format("%Y-%m-%d").to_string(),
                date.format("%Y/%-m/%-d").to_string(),
                date.format("%Y.%m.%d").to_string(),
                date.format("%Y%m%d").to_string(),
                date.format("%Y年%-m月%-d日").to_string(),
                (date - d(1899, 12, 30)).num_days().to_string(),
            ];
            for f in forms {
                proptest::prop_assert_eq!(parse_date(&f), Some(date), "{}", f);
            }
        }
    }
}
