//! A date-time to the second as one integer.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use crate::date::EPOCH_DAYS_FROM_CE;

/// A date-time to the second (China Standard Time, as every date-time of a run is), as
/// the seconds since 1970-01-01 00:00:00: 8 bytes where chrono's `NaiveDateTime` takes
/// 12, ordered and compared as one integer, and Arrow's `Timestamp` as it is.
///
/// Every value is a date-time of chrono's calendar: one is made only from a
/// `NaiveDateTime` or from seconds that are checked ([`Stamp::from_secs`]), so the
/// conversions back never fail.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "i64", into = "i64")]
pub struct Stamp(i64);

impl Stamp {
    /// The date-time, to the second (a fraction of a second is dropped).
    pub fn from_naive(t: NaiveDateTime) -> Stamp {
        Stamp(t.and_utc().timestamp())
    }

    /// The date-time `secs` seconds after 1970-01-01 00:00:00, when there is one.
    pub fn from_secs(secs: i64) -> Option<Stamp> {
        DateTime::from_timestamp(secs, 0).map(|_| Stamp(secs))
    }

    /// Seconds since 1970-01-01 00:00:00.
    pub fn secs(self) -> i64 {
        self.0
    }

    /// The date-time as chrono's.
    pub fn naive(self) -> NaiveDateTime {
        DateTime::from_timestamp(self.0, 0)
            .map(|d| d.naive_utc())
            .unwrap_or_default()
    }

    /// The date, as chrono's day of the common era (`NaiveDate::num_days_from_ce`).
    pub fn days_from_ce(self) -> i32 {
        // Within chrono's calendar (about ±262,000 years) the day fits an `i32`.
        self.0.div_euclid(86_400) as i32 + EPOCH_DAYS_FROM_CE
    }

    /// The date.
    pub fn date(self) -> NaiveDate {
        NaiveDate::from_num_days_from_ce_opt(self.days_from_ce()).unwrap_or_default()
    }
}

impl From<NaiveDateTime> for Stamp {
    fn from(t: NaiveDateTime) -> Stamp {
        Stamp::from_naive(t)
    }
}

impl From<Stamp> for i64 {
    fn from(s: Stamp) -> i64 {
        s.0
    }
}

impl TryFrom<i64> for Stamp {
    type Error = String;
    fn try_from(secs: i64) -> Result<Stamp, String> {
        Stamp::from_secs(secs).ok_or_else(|| format!("{secs} s is not a date-time"))
    }
}

impl PartialEq<NaiveDateTime> for Stamp {
    fn eq(&self, other: &NaiveDateTime) -> bool {
        *self == Stamp::from_naive(*other)
    }
}

impl std::fmt::Display for Stamp {
    /// As chrono writes the date-time: `2021-11-05 09:30:00`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.naive().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn a_stamp_gives_back_its_date_time_and_date() {
        for s in [
            "1970-01-01 00:00:00",
            "1969-12-31 23:59:59",
            "1900-02-28 12:00:01",
            "0001-01-01 00:00:00",
            "2021-11-05 09:30:07",
            "2024-02-29 23:59:59",
            "9999-12-31 23:59:59",
        ] {
            let t = dt(s);
            let st = Stamp::from(t);
            assert_eq!(st.naive(), t, "{s}");
            assert_eq!(st.date(), t.date(), "{s}");
            assert_eq!(st.days_from_ce(), t.date().num_days_from_ce(), "{s}");
            assert_eq!(st.to_string(), t.to_string(), "{s}");
            assert_eq!(st, t);
            assert_eq!(Stamp::from_secs(st.secs()), Some(st));
        }
        assert_eq!(std::mem::size_of::<Stamp>(), 8);
    }

    #[test]
    fn stamps_order_as_time() {
        let a = Stamp::from(dt("1969-12-31 23:59:59"));
        let b = Stamp::from(dt("1970-01-01 00:00:00"));
        let c = Stamp::from(dt("2021-11-05 09:30:07"));
        assert!(a < b && b < c);
    }

    #[test]
    fn seconds_outside_the_calendar_are_refused() {
        assert_eq!(Stamp::from_secs(i64::MAX), None);
        assert!(serde_json::from_str::<Stamp>(&i64::MIN.to_string()).is_err());
        let s = Stamp::from(dt("2021-11-05 09:30:07"));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, s.secs().to_string());
        assert_eq!(serde_json::from_str::<Stamp>(&json).unwrap(), s);
    }
}
