//! The policy of one town and year: every bracketed parameter of `rules.md`.
//!
//! Read from a pipeline TOML file (`pipelines/dianzi-2022.toml`); the built-in default is
//! that same file, compiled in.

use std::path::PathBuf;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::codes::{Category, Scheme};
use crate::money::{parse_amount, Fen};

/// The built-in pipeline: the 2022 Dianzi policy.
pub const DIANZI_2022: &str = include_str!("../../../pipelines/dianzi-2022.toml");

/// A pipeline file: a name, where its inputs are, and its policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// What the pipeline is about.
    pub name: String,
    /// The data folder, relative to the pipeline file.
    #[serde(default)]
    pub data: Option<PathBuf>,
    /// The policy parameters.
    pub policy: Policy,
}

impl Pipeline {
    /// Parses and checks a pipeline's TOML text.
    pub fn from_toml(text: &str) -> Result<Pipeline, String> {
        let p: Pipeline = toml::from_str(text).map_err(|e| e.to_string().replace('\n', " "))?;
        p.policy.validate()?;
        Ok(p)
    }
}

/// A group of people named in the policy: a category, or the severely disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Anyone with an active row of this category (for 残疾, any level).
    Category(Category),
    /// 残疾 with a level among the policy's severe levels.
    SeverelyDisabled,
}

impl Serialize for Group {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Group::Category(c) => s.serialize_str(c.as_str()),
            Group::SeverelyDisabled => s.serialize_str("canji_severe"),
        }
    }
}

fn ser_rate<S: Serializer>(r: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match r {
        Some(d) => s.serialize_str(&d.to_string()),
        None => s.serialize_none(),
    }
}

impl<'de> Deserialize<'de> for Group {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Group, D::Error> {
        let s = String::deserialize(d)?;
        if s == "canji_severe" {
            return Ok(Group::SeverelyDisabled);
        }
        Category::parse(&s)
            .map(Group::Category)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown group `{s}`")))
    }
}

/// An amount of the policy: whole yuan as a number, or exact text (`"930.50"`, as a
/// policy is also written when a distributed run sends it to its executors).
#[derive(Deserialize)]
#[serde(untagged)]
enum RawAmount {
    Int(i64),
    Text(String),
}

impl RawAmount {
    fn fen<E: serde::de::Error>(self) -> Result<Fen, E> {
        match self {
            // Whole yuan through the same reader as text: a negative or out-of-range
            // amount is refused, whichever way it is written.
            RawAmount::Int(y) => parse_amount(&y.to_string()).map_err(E::custom),
            RawAmount::Text(s) => parse_amount(&s).map_err(E::custom),
        }
    }
}

fn de_fen<'de, D: Deserializer<'de>>(d: D) -> Result<Fen, D::Error> {
    RawAmount::deserialize(d)?.fen()
}

fn de_fens<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Fen>, D::Error> {
    Vec::<RawAmount>::deserialize(d)?
        .into_iter()
        .map(RawAmount::fen)
        .collect()
}

fn de_pair<'de, D: Deserializer<'de>>(d: D) -> Result<[i32; 2], D::Error> {
    let v = Vec::<i32>::deserialize(d)?;
    <[i32; 2]>::try_from(v.as_slice()).map_err(|_| {
        serde::de::Error::custom(format!("expected two ages [from, to], found {}", v.len()))
    })
}

fn de_scheme<'de, D: Deserializer<'de>>(d: D) -> Result<Scheme, D::Error> {
    let s = String::deserialize(d)?;
    Scheme::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown scheme `{s}`")))
}

fn de_rate<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    s.map(|s| Decimal::from_str(&s).map_err(serde::de::Error::custom))
        .transpose()
}

/// An age band of the coverage table.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    /// The band's name in `coverage.csv`, e.g. `pension_45_59`.
    pub name: String,
    /// The scheme whose payments count as covered.
    #[serde(deserialize_with = "de_scheme")]
    pub scheme: Scheme,
    /// Youngest age in the band (inclusive); none for all ages.
    #[serde(default)]
    pub min_age: Option<i32>,
    /// Oldest age in the band (inclusive); none for all ages.
    #[serde(default)]
    pub max_age: Option<i32>,
    /// The target rate as a decimal string (`"0.95"`); none for no target.
    #[serde(default, deserialize_with = "de_rate", serialize_with = "ser_rate")]
    pub target: Option<Decimal>,
}

/// The policy parameters of one contribution year.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Y: the contribution year.
    pub year: i32,
    /// First day of the collection window.
    pub window_start: NaiveDate,
    /// Last day of the collection window.
    pub window_end: NaiveDate,
    /// The pension tiers, in yuan.
    #[serde(deserialize_with = "de_fens")]
    pub pension_tiers: Vec<Fen>,
    /// Youngest age for the resident pension.
    pub pension_min_age: i32,
    /// Oldest age for the resident pension.
    pub pension_max_age: i32,
    /// Groups that may pay the lowest (100) pension tier.
    pub hundred_tier_groups: Vec<Group>,
    /// The lowest pension tier, reserved for the hundred-tier groups.
    #[serde(deserialize_with = "de_fen")]
    pub hundred_tier: Fen,
    /// Disability levels that count as severe.
    pub severe_disability_levels: Vec<u8>,
    /// Groups whose medical contribution the government pays in full.
    pub medical_full_groups: Vec<Group>,
    /// From this age on, the government pays the medical contribution in full.
    pub medical_full_age: i32,
    /// The individual medical contribution.
    #[serde(deserialize_with = "de_fen")]
    pub medical_standard: Fen,
    /// Ages (inclusive) whose individual medical contribution is halved.
    #[serde(deserialize_with = "de_pair")]
    pub medical_half_ages: [i32; 2],
    /// The halved individual medical contribution.
    #[serde(deserialize_with = "de_fen")]
    pub medical_half_amount: Fen,
    /// The medical contribution after the window (standard plus the per-person subsidy).
    #[serde(deserialize_with = "de_fen")]
    pub medical_late_amount: Fen,
    /// The pension the government pays for the severely disabled.
    #[serde(deserialize_with = "de_fen")]
    pub pension_government_amount: Fen,
    /// Death dates further apart than this many days disagree (DTH-004).
    pub death_date_tolerance_days: i64,
    /// Days a collector may hold money before depositing it (MNY-003).
    pub deposit_deadline_days: i64,
    /// Households paying from one account that make it a pooling account (MNY-005).
    pub pooling_min_households: usize,
    /// The coverage bands and their targets (COV-001).
    pub coverage_bands: Vec<Band>,
}

impl Policy {
    /// The built-in 2022 Dianzi policy.
    pub fn dianzi_2022() -> Policy {
        Pipeline::from_toml(DIANZI_2022)
            .expect("the built-in pipeline is valid")
            .policy
    }

    /// Checks what serde cannot: a year dates can be read for, ordered dates and ages,
    /// ages, days and levels that can be meant, non-empty tiers, bands named once.
    pub fn validate(&self) -> Result<(), String> {
        use chrono::Datelike;
        if !(1901..=2200).contains(&self.year) {
            return Err(format!(
                "policy.year {} is not a contribution year",
                self.year
            ));
        }
        if self.window_start > self.window_end {
            return Err("policy.window_start is after policy.window_end".into());
        }
        if self.window_start.year() < self.year - 1 || self.window_end.year() > self.year {
            return Err(format!(
                "policy.window_start .. policy.window_end must lie in {} or {}",
                self.year - 1,
                self.year
            ));
        }
        let ages = [
            ("pension_min_age", self.pension_min_age),
            ("pension_max_age", self.pension_max_age),
            ("medical_full_age", self.medical_full_age),
            ("medical_half_ages", self.medical_half_ages[0]),
            ("medical_half_ages", self.medical_half_ages[1]),
        ];
        for (name, age) in ages {
            if !(0..=150).contains(&age) {
                return Err(format!("policy.{name}: {age} is not an age"));
            }
        }
        for (name, days) in [
            ("death_date_tolerance_days", self.death_date_tolerance_days),
            ("deposit_deadline_days", self.deposit_deadline_days),
        ] {
            if !(0..=3660).contains(&days) {
                return Err(format!("policy.{name}: {days} is not a number of days"));
            }
        }
        if self.pooling_min_households < 2 {
            return Err(format!(
                "policy.pooling_min_households: {} (an account is pooled by two households \
                 or more)",
                self.pooling_min_households
            ));
        }
        if let Some(l) = self
            .severe_disability_levels
            .iter()
            .find(|l| !(1..=4).contains(*l))
        {
            return Err(format!(
                "policy.severe_disability_levels: {l} is not a disability level (1-4)"
            ));
        }
        if self.pension_tiers.is_empty() {
            return Err("policy.pension_tiers is empty".into());
        }
        if !self.pension_tiers.contains(&self.hundred_tier) {
            return Err(format!(
                "policy.hundred_tier {} is not one of policy.pension_tiers",
                self.hundred_tier
            ));
        }
        if self.medical_standard.0 <= 0 {
            return Err("policy.medical_standard must be above 0".into());
        }
        if self.medical_half_amount > self.medical_standard {
            return Err("policy.medical_half_amount is above policy.medical_standard".into());
        }
        if self.medical_late_amount < self.medical_standard {
            return Err("policy.medical_late_amount is below policy.medical_standard".into());
        }
        if self.pension_min_age > self.pension_max_age {
            return Err("policy.pension_min_age is above policy.pension_max_age".into());
        }
        if self.medical_half_ages[0] > self.medical_half_ages[1] {
            return Err("policy.medical_half_ages is not ordered".into());
        }
        let mut names = std::collections::BTreeSet::new();
        for b in &self.coverage_bands {
            if !names.insert(b.name.as_str()) {
                return Err(format!("policy.coverage_bands: `{}` twice", b.name));
            }
            if !matches!(b.scheme, Scheme::ResidentPension | Scheme::ResidentMedical) {
                return Err(format!(
                    "policy.coverage_bands `{}`: coverage is of a resident scheme, not {}",
                    b.name, b.scheme
                ));
            }
            for age in [b.min_age, b.max_age].into_iter().flatten() {
                if !(0..=150).contains(&age) {
                    return Err(format!(
                        "policy.coverage_bands `{}`: {age} is not an age",
                        b.name
                    ));
                }
            }
            if let (Some(lo), Some(hi)) = (b.min_age, b.max_age) {
                if lo > hi {
                    return Err(format!(
                        "policy.coverage_bands `{}`: min_age is above max_age",
                        b.name
                    ));
                }
            }
            if let Some(t) = b.target {
                if t < Decimal::ZERO || t > Decimal::ONE {
                    return Err(format!(
                        "policy.coverage_bands `{}`: target {t} is not a rate",
                        b.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// Jan 1 of the contribution year.
    pub fn year_start(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, 1, 1).expect("valid year")
    }

    /// Dec 31 of the contribution year.
    pub fn year_end(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, 12, 31).expect("valid year")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_written_out_reads_back_the_same() {
        // What a distributed run sends its executors: amounts as exact text.
        let p = Policy::dianzi_2022();
        let text = toml::to_string(&p).unwrap();
        assert!(text.contains("\"930.00\""), "{text}");
        let back: Policy = toml::from_str(&text).unwrap();
        assert_eq!(format!("{back:?}"), format!("{p:?}"));
        // An amount that is not exact text is refused, never rounded.
        let bad = text.replace("\"930.00\"", "\"930.001\"");
        assert!(toml::from_str::<Policy>(&bad).is_err());
    }

    #[test]
    fn built_in_policy_has_the_2022_parameters() {
        let p = Policy::dianzi_2022();
        assert_eq!(p.year, 2022);
        assert_eq!(
            p.window_start,
            NaiveDate::from_ymd_opt(2021, 11, 1).unwrap()
        );
        assert_eq!(p.window_end, NaiveDate::from_ymd_opt(2021, 12, 20).unwrap());
        assert_eq!(p.pension_tiers.len(), 12);
        assert_eq!(p.medical_late_amount, Fen::yuan(930));
        assert_eq!(p.medical_half_amount, Fen::yuan(160));
        assert!(p.medical_full_groups.contains(&Group::SeverelyDisabled));
        assert_eq!(p.coverage_bands.len(), 3);
    }

    #[test]
    fn parameters_no_policy_can_mean_are_refused() {
        let bad = |from: &str, to: &str, field: &str| {
            assert!(DIANZI_2022.contains(from), "{from}");
            let err = Pipeline::from_toml(&DIANZI_2022.replacen(from, to, 1)).unwrap_err();
            assert!(err.contains(field), "{to}: {err}");
        };
        bad(
            "medical_standard = \"320\"",
            "medical_standard = -320",
            "negative",
        );
        bad("pension_tiers = [100", "pension_tiers = [-100", "negative");
        bad(
            "medical_half_ages = [60, 69]",
            "medical_half_ages = [60, 65, 69]",
            "two ages",
        );
        bad(
            "medical_half_ages = [60, 69]",
            "medical_half_ages = [-60, 69]",
            "medical_half_ages",
        );
        bad(
            "death_date_tolerance_days = 30",
            "death_date_tolerance_days = -30",
            "death_date",
        );
        bad(
            "deposit_deadline_days = 3",
            "deposit_deadline_days = -3",
            "deposit_deadline",
        );
        bad(
            "pooling_min_households = 3",
            "pooling_min_households = 0",
            "pooling",
        );
        bad(
            "pension_min_age = 16",
            "pension_min_age = -16",
            "pension_min_age",
        );
        bad(
            "medical_full_age = 70",
            "medical_full_age = -70",
            "medical_full_age",
        );
        bad(
            "severe_disability_levels = [1, 2]",
            "severe_disability_levels = [7]",
            "level",
        );
        bad("year = 2022", "year = 0", "year");
        bad("year = 2022", "year = 1999", "window");
        bad(
            "min_age = 16\nmax_age = 44",
            "min_age = 44\nmax_age = 16",
            "min_age",
        );
        bad(
            "name = \"pension_45_59\"",
            "name = \"pension_16_44\"",
            "twice",
        );
        bad("hundred_tier = 100", "hundred_tier = 150", "hundred_tier");
        bad(
            "medical_standard = \"320\"",
            "medical_standard = \"0\"",
            "medical_standard",
        );
        bad(
            "medical_half_amount = \"160\"",
            "medical_half_amount = \"400\"",
            "medical_half_amount",
        );
        bad(
            "medical_late_amount = \"930\"",
            "medical_late_amount = \"300\"",
            "medical_late_amount",
        );
        bad(
            "scheme = \"resident_pension\"",
            "scheme = \"employee_pension\"",
            "resident scheme",
        );
        // The built-in pipeline passes.
        assert!(Pipeline::from_toml(DIANZI_2022).is_ok());
    }

    #[test]
    fn bad_policy_is_refused_with_the_field() {
        let text = DIANZI_2022.replace("year = 2022", "year = \"soon\"");
        let err = Pipeline::from_toml(&text).unwrap_err();
        assert!(err.contains("year"), "{err}");
        let text = DIANZI_2022.replace("\"dibao\"", "\"nobody\"");
        assert!(Pipeline::from_toml(&text).unwrap_err().contains("nobody"));
    }
}
