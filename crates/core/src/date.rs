//! Dates, datetimes and contribution periods in every form the exports use.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

use crate::text::norm_text;

/// Parses a date: `2021-11-05`, `2021/11/5`, `2021.11.05`, `20211105`, `2021年11月5日`,
/// or an Excel serial number. A time part, if present, is accepted and dropped.
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    parse_datetime(raw).map(|dt| dt.date())
}

/// Parses a datetime: any date form of [`parse_date`] followed by ` H:MM`, ` HH:MM` or
/// ` HH:MM:SS` (`T` as separator only after `YYYY-MM-DD`), or an Excel serial number with
/// a fraction of a day. A date alone is midnight.
pub fn parse_datetime(raw: &str) -> Option<NaiveDateTime> {
    let t = norm_text(raw);
    if t.is_empty() {
        return None;
    }
    if let Some(dt) = excel_serial(&t) {
        return Some(dt);
    }
    let (date_part, time_part) = split_time(&t);
    let date = date_only(date_part)?;
    let time = match time_part {
        None => NaiveTime::MIN,
        Some(tp) => parse_time(tp)?,
    };
    Some(date.and_time(time))
}

/// Splits `date[ time]` or `YYYY-MM-DDThh:mm`, the `T` form only after an ISO date.
fn split_time(t: &str) -> (&str, Option<&str>) {
    if let Some((d, rest)) = t.split_once(' ') {
        return (d, Some(rest.trim_start()));
    }
    if t.len() > 10
        && t.as_bytes()[10] == b'T'
        && t.as_bytes()[4] == b'-'
        && t.as_bytes()[7] == b'-'
    {
        return (&t[..10], Some(&t[11..]));
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

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
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
