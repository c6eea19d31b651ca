//! Coded values of the glossary (`domain.md`) with their Chinese spellings.

use std::fmt;

use crate::text::norm_text;

/// Looks a normalised value up in a table of spellings, case-insensitively for ASCII.
fn lookup<T: Copy>(raw: &str, table: &[(&str, T)]) -> Option<T> {
    let t = norm_text(raw);
    table
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&t))
        .map(|(_, v)| *v)
}

/// An insurance scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// 城乡居民基本养老保险.
    ResidentPension,
    /// 城乡居民基本医疗保险.
    ResidentMedical,
    /// 城镇职工基本养老保险.
    EmployeePension,
    /// 城镇职工基本医疗保险.
    EmployeeMedical,
}

const SCHEMES: &[(&str, Scheme)] = &[
    ("resident_pension", Scheme::ResidentPension),
    ("城乡居民基本养老保险", Scheme::ResidentPension),
    ("居民养老", Scheme::ResidentPension),
    ("养老", Scheme::ResidentPension),
    ("resident_medical", Scheme::ResidentMedical),
    ("城乡居民基本医疗保险", Scheme::ResidentMedical),
    ("居民医保", Scheme::ResidentMedical),
    ("医疗", Scheme::ResidentMedical),
    ("employee_pension", Scheme::EmployeePension),
    ("城镇职工基本养老保险", Scheme::EmployeePension),
    ("职工养老", Scheme::EmployeePension),
    ("employee_medical", Scheme::EmployeeMedical),
    ("城镇职工基本医疗保险", Scheme::EmployeeMedical),
    ("职工医保", Scheme::EmployeeMedical),
    ("职工医疗", Scheme::EmployeeMedical),
];

impl Scheme {
    /// Parses any glossary spelling or the canonical name.
    pub fn parse(raw: &str) -> Option<Scheme> {
        lookup(raw, SCHEMES)
    }

    /// The canonical name, e.g. `resident_medical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::ResidentPension => "resident_pension",
            Scheme::ResidentMedical => "resident_medical",
            Scheme::EmployeePension => "employee_pension",
            Scheme::EmployeeMedical => "employee_medical",
        }
    }

    /// A short Chinese name for sentences.
    pub fn zh(self) -> &'static str {
        match self {
            Scheme::ResidentPension => "居民养老",
            Scheme::ResidentMedical => "居民医保",
            Scheme::EmployeePension => "职工养老",
            Scheme::EmployeeMedical => "职工医保",
        }
    }

    /// True for the two resident schemes this engine audits.
    pub fn is_resident(self) -> bool {
        matches!(self, Scheme::ResidentPension | Scheme::ResidentMedical)
    }

    /// The employee scheme of the same kind (pension or medical).
    pub fn employee_counterpart(self) -> Scheme {
        match self {
            Scheme::ResidentPension | Scheme::EmployeePension => Scheme::EmployeePension,
            Scheme::ResidentMedical | Scheme::EmployeeMedical => Scheme::EmployeeMedical,
        }
    }
}

impl serde::Serialize for Scheme {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Scheme {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Scheme, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Scheme::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not a scheme: {text:?}")))
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text of a code outside the glossary (an unknown payer type, status or hukou
/// status), interned once for the process so that the codes stay small `Copy` values.
///
/// Such texts are rare (a department's own spelling); each distinct one is kept for the
/// life of the process. Ordered and displayed by its text.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CodeText(u32);

struct CodeTexts {
    index: std::collections::HashMap<&'static str, u32>,
    texts: Vec<&'static str>,
}

fn code_texts() -> &'static std::sync::RwLock<CodeTexts> {
    static TEXTS: std::sync::OnceLock<std::sync::RwLock<CodeTexts>> = std::sync::OnceLock::new();
    TEXTS.get_or_init(|| {
        std::sync::RwLock::new(CodeTexts {
            index: std::collections::HashMap::new(),
            texts: Vec::new(),
        })
    })
}

impl CodeText {
    /// The handle of a text.
    pub fn new(text: &str) -> CodeText {
        if let Some(&i) = code_texts()
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .index
            .get(text)
        {
            return CodeText(i);
        }
        let mut t = code_texts().write().unwrap_or_else(|e| e.into_inner());
        if let Some(&i) = t.index.get(text) {
            return CodeText(i);
        }
        let leaked: &'static str = Box::leak(text.to_owned().into_boxed_str());
        let i = t.texts.len() as u32;
        t.texts.push(leaked);
        t.index.insert(leaked, i);
        CodeText(i)
    }

    /// The text.
    pub fn as_str(self) -> &'static str {
        code_texts().read().unwrap_or_else(|e| e.into_inner()).texts[self.0 as usize]
    }
}

impl From<&str> for CodeText {
    fn from(s: &str) -> Self {
        CodeText::new(s)
    }
}

impl PartialOrd for CodeText {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CodeText {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if self.0 == other.0 {
            return std::cmp::Ordering::Equal;
        }
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Debug for CodeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for CodeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who paid: the person, the government on their behalf, or a back payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PayerType {
    /// 个人缴费.
    Individual,
    /// 政府代缴.
    Government,
    /// 补缴.
    BackPayment,
    /// A value outside the glossary, kept as text; it counts as none of the above.
    Other(CodeText),
}

/// The glossary's spellings and canonical values, nothing else: a coded value outside
/// the glossary in an optional column is kept as text (`data-contract.md`,
/// Clarifications), so `个人` is no payer type of the glossary.
const PAYER_TYPES: &[(&str, u8)] = &[
    ("individual", 0),
    ("个人缴费", 0),
    ("government", 1),
    ("政府代缴", 1),
    ("代缴", 1),
    ("财政代缴", 1),
    ("back_payment", 2),
    ("补缴", 2),
    ("中断补缴", 2),
    ("政策性补缴", 2),
];

impl PayerType {
    /// Parses an optional cell: empty is the default (individual).
    pub fn parse(raw: &str) -> PayerType {
        let t = norm_text(raw);
        if t.is_empty() {
            return PayerType::Individual;
        }
        match lookup(&t, PAYER_TYPES) {
            Some(0) => PayerType::Individual,
            Some(1) => PayerType::Government,
            Some(2) => PayerType::BackPayment,
            _ => PayerType::Other(CodeText::new(&t)),
        }
    }

    /// The canonical name.
    pub fn as_str(&self) -> &'static str {
        match self {
            PayerType::Individual => "individual",
            PayerType::Government => "government",
            PayerType::BackPayment => "back_payment",
            PayerType::Other(s) => s.as_str(),
        }
    }
}

/// The status of a payment row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PaymentStatus {
    /// 成功: the only effective status.
    Success,
    /// 已退费.
    Refunded,
    /// 作废.
    Voided,
    /// 撤销.
    Cancelled,
    /// A value outside the glossary: not effective.
    Other(CodeText),
}

/// The contract's values (`payments.status`: 成功, 已退费, 作废, 撤销), nothing else: a
/// status outside them (`success`, `退费`) is kept as text and is not effective.
const PAYMENT_STATUSES: &[(&str, u8)] = &[("成功", 0), ("已退费", 1), ("作废", 2), ("撤销", 3)];

impl PaymentStatus {
    /// Parses an optional cell: empty is the default (成功).
    pub fn parse(raw: &str) -> PaymentStatus {
        let t = norm_text(raw);
        if t.is_empty() {
            return PaymentStatus::Success;
        }
        match lookup(&t, PAYMENT_STATUSES) {
            Some(0) => PaymentStatus::Success,
            Some(1) => PaymentStatus::Refunded,
            Some(2) => PaymentStatus::Voided,
            Some(3) => PaymentStatus::Cancelled,
            _ => PaymentStatus::Other(CodeText::new(&t)),
        }
    }

    /// True for 成功 only.
    pub fn is_effective(&self) -> bool {
        matches!(self, PaymentStatus::Success)
    }

    /// The Chinese name, or the text as given outside the glossary.
    pub fn zh(&self) -> &'static str {
        match self {
            PaymentStatus::Success => "成功",
            PaymentStatus::Refunded => "已退费",
            PaymentStatus::Voided => "作废",
            PaymentStatus::Cancelled => "撤销",
            PaymentStatus::Other(t) => t.as_str(),
        }
    }
}

/// The hukou status of a resident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HukouStatus {
    /// 正常 (the default).
    Normal,
    /// 死亡.
    Dead,
    /// 迁出.
    MovedOut,
    /// 注销.
    Cancelled,
    /// A value outside the glossary, kept as text.
    Other(CodeText),
}

impl HukouStatus {
    /// Parses an optional cell: empty is 正常.
    pub fn parse(raw: &str) -> HukouStatus {
        let t = norm_text(raw);
        match t.as_ref() {
            "" | "正常" => HukouStatus::Normal,
            "死亡" => HukouStatus::Dead,
            "迁出" => HukouStatus::MovedOut,
            "注销" => HukouStatus::Cancelled,
            _ => HukouStatus::Other(CodeText::new(&t)),
        }
    }

    /// The Chinese name.
    pub fn zh(&self) -> &'static str {
        match self {
            HukouStatus::Normal => "正常",
            HukouStatus::Dead => "死亡",
            HukouStatus::MovedOut => "迁出",
            HukouStatus::Cancelled => "注销",
            HukouStatus::Other(s) => s.as_str(),
        }
    }
}

/// A special group (特殊群体) of the eligibility lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// 低保.
    Dibao,
    /// 特困 / 特困供养.
    Tekun,
    /// 五保 (now part of 特困; kept apart, treated alike).
    Wubao,
    /// 优抚.
    Youfu,
    /// 建档立卡贫困 / 脱贫享受政策 / 扶贫.
    Tuopin,
    /// 残疾, with a level 1-4 held beside it.
    Canji,
    /// 因病困难.
    Yinbing,
}

const CATEGORIES: &[(&str, Category)] = &[
    ("dibao", Category::Dibao),
    ("低保", Category::Dibao),
    ("tekun", Category::Tekun),
    ("特困", Category::Tekun),
    ("特困供养", Category::Tekun),
    ("wubao", Category::Wubao),
    ("五保", Category::Wubao),
    ("youfu", Category::Youfu),
    ("优抚", Category::Youfu),
    ("tuopin", Category::Tuopin),
    ("建档立卡贫困", Category::Tuopin),
    ("脱贫享受政策", Category::Tuopin),
    ("扶贫", Category::Tuopin),
    ("canji", Category::Canji),
    ("残疾", Category::Canji),
    ("yinbing", Category::Yinbing),
    ("因病困难", Category::Yinbing),
];

impl Category {
    /// Parses a glossary spelling or canonical code.
    pub fn parse(raw: &str) -> Option<Category> {
        lookup(raw, CATEGORIES)
    }

    /// The canonical code.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Dibao => "dibao",
            Category::Tekun => "tekun",
            Category::Wubao => "wubao",
            Category::Youfu => "youfu",
            Category::Tuopin => "tuopin",
            Category::Canji => "canji",
            Category::Yinbing => "yinbing",
        }
    }

    /// The Chinese name.
    pub fn zh(self) -> &'static str {
        match self {
            Category::Dibao => "低保",
            Category::Tekun => "特困",
            Category::Wubao => "五保",
            Category::Youfu => "优抚",
            Category::Tuopin => "脱贫",
            Category::Canji => "残疾",
            Category::Yinbing => "因病困难",
        }
    }
}

/// Parses a disability level: `1`..`4`, `一级`..`四级`, `1级`; anything else is `None`.
pub fn parse_disability_level(raw: &str) -> Option<u8> {
    let t = norm_text(raw);
    let t = t.strip_suffix('级').unwrap_or(&t);
    let t = t.strip_suffix(".0").unwrap_or(t);
    match t {
        "1" | "一" => Some(1),
        "2" | "二" => Some(2),
        "3" | "三" => Some(3),
        "4" | "四" => Some(4),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Through JSON and back.
    fn again<T: serde::Serialize + serde::de::DeserializeOwned>(v: &T) -> T {
        serde_json::from_str(&serde_json::to_string(v).unwrap()).unwrap()
    }

    #[test]
    fn only_the_contracts_spellings_are_codes_every_other_one_is_kept_as_text() {
        assert_eq!(PaymentStatus::parse(""), PaymentStatus::Success);
        assert_eq!(PaymentStatus::parse(" 成功 "), PaymentStatus::Success);
        assert_eq!(PaymentStatus::parse("已退费"), PaymentStatus::Refunded);
        assert_eq!(PaymentStatus::parse("作废"), PaymentStatus::Voided);
        assert_eq!(PaymentStatus::parse("撤销"), PaymentStatus::Cancelled);
        for other in [
            "success",
            "SUCCESS",
            "退费",
            "refunded",
            "voided",
            "cancelled",
            "待确认",
        ] {
            let s = PaymentStatus::parse(other);
            assert_eq!(s, PaymentStatus::Other(CodeText::new(other)), "{other}");
            assert!(!s.is_effective(), "{other}");
        }
        assert_eq!(PayerType::parse(""), PayerType::Individual);
        assert_eq!(PayerType::parse("Individual"), PayerType::Individual);
        assert_eq!(PayerType::parse("个人缴费"), PayerType::Individual);
        assert_eq!(PayerType::parse("财政代缴"), PayerType::Government);
        assert_eq!(PayerType::parse("政策性补缴"), PayerType::BackPayment);
        assert_eq!(
            PayerType::parse("个人"),
            PayerType::Other(CodeText::new("个人"))
        );
        assert_eq!(HukouStatus::parse(""), HukouStatus::Normal);
        assert_eq!(HukouStatus::parse("注销"), HukouStatus::Cancelled);
        for other in ["normal", "dead", "moved_out", "cancelled", "迁入"] {
            assert_eq!(
                HukouStatus::parse(other),
                HukouStatus::Other(CodeText::new(other))
            );
        }
    }

    #[test]
    fn codes_cross_processes_as_they_were_including_texts_outside_the_glossary() {
        for p in [
            PayerType::Individual,
            PayerType::Government,
            PayerType::BackPayment,
            PayerType::Other(CodeText::new("村集体")),
        ] {
            assert_eq!(again(&p), p);
        }
        for s in [
            PaymentStatus::Success,
            PaymentStatus::Refunded,
            PaymentStatus::Voided,
            PaymentStatus::Cancelled,
            PaymentStatus::Other(CodeText::new("待定")),
        ] {
            assert_eq!(again(&s), s);
        }
        for h in [
            HukouStatus::Normal,
            HukouStatus::Dead,
            HukouStatus::MovedOut,
            HukouStatus::Cancelled,
            HukouStatus::Other(CodeText::new("待核实")),
        ] {
            assert_eq!(again(&h), h);
        }
        for text in [
            "dibao", "tekun", "wubao", "youfu", "tuopin", "canji", "yinbing", "低保",
        ] {
            let c = Category::parse(text).unwrap();
            assert_eq!(again(&c), c);
        }
        // A category is a closed list: a text outside it does not read as one.
        assert!(serde_json::from_str::<Category>("\"火星人\"").is_err());
    }

    #[test]
    fn schemes() {
        assert_eq!(
            Scheme::parse("城乡居民基本医疗保险"),
            Some(Scheme::ResidentMedical)
        );
        assert_eq!(Scheme::parse(" 医疗 "), Some(Scheme::ResidentMedical));
        assert_eq!(
            Scheme::parse("Resident_Pension"),
            Some(Scheme::ResidentPension)
        );
        assert_eq!(Scheme::parse("职工医疗"), Some(Scheme::EmployeeMedical));
        assert_eq!(Scheme::parse("农保"), None);
        assert_eq!(
            Scheme::ResidentMedical.employee_counterpart(),
            Scheme::EmployeeMedical
        );
    }

    #[test]
    fn payer_types_and_statuses() {
        assert_eq!(PayerType::parse(""), PayerType::Individual);
        assert_eq!(PayerType::parse("财政代缴"), PayerType::Government);
        assert_eq!(PayerType::parse("政策性补缴"), PayerType::BackPayment);
        assert_eq!(
            PayerType::parse("单位资助"),
            PayerType::Other("单位资助".into())
        );
        assert!(PaymentStatus::parse("").is_effective());
        assert!(PaymentStatus::parse("成功").is_effective());
        assert!(!PaymentStatus::parse("已退费").is_effective());
        assert!(!PaymentStatus::parse("待确认").is_effective());
        assert_eq!(HukouStatus::parse("迁出"), HukouStatus::MovedOut);
    }

    #[test]
    fn categories_and_levels() {
        assert_eq!(Category::parse("特困供养"), Some(Category::Tekun));
        assert_eq!(Category::parse("五保"), Some(Category::Wubao));
        assert_eq!(Category::parse("脱贫享受政策"), Some(Category::Tuopin));
        assert_eq!(Category::parse("残疾人"), None);
        assert_eq!(parse_disability_level("二级"), Some(2));
        assert_eq!(parse_disability_level("4"), Some(4));
        assert_eq!(parse_disability_level("５"), None);
        assert_eq!(parse_disability_level(""), None);
    }
}

/// serde for the codes as text, as the Arrow export writes them: the canonical or Chinese
/// name, or the text as given outside the glossary, read back by the code's parser (a
/// text outside the glossary is kept normalised, so it parses to itself). What a
/// partitioned run sends between processes.
macro_rules! code_serde {
    ($($t:ty: |$c:ident| $text:expr, |$s:ident| $parse:expr;)*) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let $c = self;
                s.serialize_str($text)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$t, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                let $s: &str = &text;
                $parse.ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "not a {}: {text:?}",
                        stringify!($t)
                    ))
                })
            }
        }
    )*};
}

code_serde! {
    Category: |c| c.as_str(), |s| Category::parse(s);
    PayerType: |c| c.as_str(), |s| Some(PayerType::parse(s));
    PaymentStatus: |c| c.zh(), |s| Some(PaymentStatus::parse(s));
    HukouStatus: |c| c.zh(), |s| Some(HukouStatus::parse(s));
}
