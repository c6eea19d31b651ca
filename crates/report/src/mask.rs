//! Masking for sharing outside the audit team (`operations.md`, Sharing outside the audit
//! team): ids keep their first 6 and last 4 characters, names their first character.
//!
//! [`mask_id`] and [`mask_name`] mask one value. A [`Masker`] knows every id and name of
//! a run's inputs and masks them wherever they stand inside free text (keys, details,
//! the raw text of rejected rows).

use std::borrow::Cow;
use std::collections::BTreeSet;

use qianbiao_core::text::{norm_name, norm_text};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// `371323198001016073` as `371323********6073`; ids shorter than 11 characters keep
/// nothing but their first character.
pub fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.is_empty() {
        return String::new();
    }
    if chars.len() < 11 {
        let mut out = String::new();
        out.push(chars[0]);
        out.extend(std::iter::repeat_n('*', chars.len() - 1));
        return out;
    }
    let n = chars.len();
    let mut out: String = chars[..6].iter().collect();
    out.extend(std::iter::repeat_n('*', n - 10));
    out.extend(&chars[n - 4..]);
    out
}

/// Two-character (compound) surnames, kept whole when a name masks: operations.md masks
/// names as their first character and `*` for each other character, with `欧阳**` as
/// its example, the surname 欧阳 kept.
const COMPOUND_SURNAMES: [&str; 40] = [
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "夏侯", "轩辕", "令狐", "钟离", "澹台", "公冶", "太史", "端木", "申屠", "濮阳", "独孤", "南宫",
    "万俟", "闻人", "赫连", "呼延", "西门", "左丘", "东郭", "公羊", "拓跋", "百里", "公良", "第五",
    "梁丘", "羊舌", "司空", "亓官",
];

/// `王涛` as `王*`, `欧阳娜娜` as `欧阳**` (a compound surname kept whole, when a given
/// name follows it), `李` as `李`.
pub fn mask_name(name: &str) -> String {
    let keep = match COMPOUND_SURNAMES.iter().find(|s| name.starts_with(*s)) {
        Some(s) if name.chars().count() > 2 => s.chars().count(),
        _ => 1,
    };
    name.chars()
        .enumerate()
        .map(|(i, c)| if i < keep { c } else { '*' })
        .collect()
}

/// True for a run of ASCII digits (15 to 18, the last may be `X`/`x`): the shape of a
/// resident id number, valid or not.
fn id_shaped(s: &str) -> bool {
    let b = s.as_bytes();
    (15..=18).contains(&b.len())
        && b[..b.len() - 1].iter().all(u8::is_ascii_digit)
        && (b[b.len() - 1].is_ascii_digit() || b[b.len() - 1] == b'X' || b[b.len() - 1] == b'x')
}

/// Masks every id-shaped token of `s` (a maximal run of ASCII letters and digits that
/// looks like an id number).
fn mask_id_tokens(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    let mut out: Option<String> = None;
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_alphanumeric() {
            let start = i;
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let tok = &s[start..i];
            if id_shaped(tok) {
                let o = out.get_or_insert_with(String::new);
                o.push_str(&s[last..start]);
                o.push_str(&mask_id(tok));
                last = i;
            }
        } else {
            i += 1;
        }
    }
    match out {
        None => Cow::Borrowed(s),
        Some(mut o) => {
            o.push_str(&s[last..]);
            Cow::Owned(o)
        }
    }
}

/// True for a cell that reads as a Chinese personal name: 2 to 4 CJK ideographs, or a
/// longer run with a middle dot (少数民族 names such as `阿依古丽·买买提`).
fn name_shaped(s: &str) -> bool {
    let cjk =
        |c: char| ('\u{4E00}'..='\u{9FFF}').contains(&c) || ('\u{3400}'..='\u{4DBF}').contains(&c);
    let n = s.chars().count();
    let all = s.chars().all(|c| cjk(c) || c == '·' || c == '•');
    all && ((2..=4).contains(&n) || (s.contains(['·', '•']) && n <= 20))
}

/// Words of the inputs' coded and descriptive columns that are never a person's name.
const COMMON_WORDS: &[&str] = &[
    "户籍",
    "居住证",
    "本地",
    "外地",
    "农业",
    "非农业",
    "城镇",
    "农村",
    "户主",
    "本人",
    "配偶",
    "儿子",
    "女儿",
    "父亲",
    "母亲",
    "孙子",
    "孙女",
    "长子",
    "次子",
    "长女",
    "次女",
    "其他",
    "正常",
    "死亡",
    "迁出",
    "注销",
    "现金",
    "转账",
    "银行",
    "代扣",
    "微信",
    "支付宝",
    "个人",
    "政府",
    "代缴",
    "补缴",
    "成功",
    "退费",
    "作废",
    "撤销",
    "民政",
    "残联",
    "公安",
    "医保",
    "社保",
    "人社",
    "卫健",
    "汉族",
    "本地户籍",
    "外地户籍",
    "多余",
];

/// True for a value a code of the glossary reads (a scheme, a status, a payer, a category)
/// or one of [`COMMON_WORDS`].
fn coded_word(s: &str) -> bool {
    use qianbiao_core::codes::{Category, HukouStatus, PayerType, PaymentStatus, Scheme};
    COMMON_WORDS.contains(&s)
        || Scheme::parse(s).is_some()
        || Category::parse(s).is_some()
        || !matches!(HukouStatus::parse(s), HukouStatus::Other(_))
        || !matches!(PaymentStatus::parse(s), PaymentStatus::Other(_))
        || !matches!(PayerType::parse(s), PayerType::Other(_))
}

/// Masks the ids and names of one run's inputs wherever they appear in text.
#[derive(Debug)]
pub struct Masker {
    /// Every known value of at most [`LONG`] characters, and whether it is an id (masked
    /// as one) or a name.
    known: FxHashMap<Box<str>, bool>,
    /// The lengths in bytes of the known values that start with a character, longest
    /// first: where a text can hold a match, and which to try first.
    lens: FxHashMap<char, Vec<usize>>,
    /// Values longer than [`LONG`] characters, replaced one by one after the others (as
    /// when the others were an Aho-Corasick automaton, over which a pattern of 32,768
    /// characters would take minutes to build).
    long: Vec<(String, String)>,
    keep: BTreeSet<String>,
}

/// Longest value looked up in the masker's table (in characters); longer ones are
/// replaced one by one.
const LONG: usize = 64;

/// The distinct values of a list, sorted (a run's inputs name each id and name in several
/// sources: each is normalised and masked once, not once a row). Sorted, the patterns
/// made of them come nearly in order, which their own sort then takes quickly.
fn distinct<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    // A hash set first: sorting every row's id compares their long common prefixes.
    let set: rustc_hash::FxHashSet<&str> = values.into_iter().collect();
    let mut v: Vec<&str> = set.into_iter().collect();
    v.par_sort_unstable();
    v
}

/// What a masker replaces: each pattern once, and whether it is an id's. The
/// ids (at least four characters once normalised) as given, upper- and lower-cased, each
/// masked as an id; the names (at least two characters once normalised) masked as names,
/// unless the same text is also an id's pattern (ids first, so a value that is both stays
/// an id). Built from the distinct values, the ids sorted (for the names to look up): a
/// million persons' inputs give six million ids and names, which a map took seconds to
/// take one by one.
fn table<'a>(
    ids: impl IntoIterator<Item = &'a str>,
    names: impl IntoIterator<Item = &'a str>,
) -> Vec<(String, bool)> {
    let mut id_pats: Vec<String> = Vec::new();
    for id in distinct(ids) {
        let id = norm_text(id);
        if id.chars().count() < 4 {
            continue;
        }
        if id.bytes().any(|b| !b.is_ascii_digit()) {
            let (upper, lower) = (id.to_uppercase(), id.to_lowercase());
            if lower != *id && lower != upper {
                id_pats.push(lower);
            }
            if upper != *id {
                id_pats.push(upper);
            }
        }
        id_pats.push(id.into_owned());
    }
    id_pats.par_sort_unstable();
    id_pats.dedup();
    let mut name_pats: Vec<String> = distinct(names)
        .into_iter()
        .map(norm_name)
        .filter(|n| n.chars().count() >= 2)
        .map(|n| n.into_owned())
        .collect();
    name_pats.par_sort_unstable();
    name_pats.dedup();
    name_pats.retain(|n| id_pats.binary_search(n).is_err());
    id_pats
        .into_iter()
        .map(|p| (p, true))
        .chain(name_pats.into_iter().map(|n| (n, false)))
        .collect()
}

/// Values of the table with their replacements, in the order of their text.
fn replaced_in_order(values: Vec<(String, bool)>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = values
        .into_iter()
        .map(|(p, is_id)| {
            let r = replacement(&p, is_id);
            (p, r)
        })
        .collect();
    v.sort_unstable();
    v
}

/// A known value's replacement: masked as an id or as a name.
fn replacement(value: &str, is_id: bool) -> String {
    if is_id {
        mask_id(value)
    } else {
        mask_name(value)
    }
}

impl Masker {
    /// A masker for these ids and names (any spelling; they are normalised here). `keep`
    /// lists words that are never names (villages, offices): a rejected row's cell equal to
    /// one of them is left as it is.
    pub fn new<'a>(
        ids: impl IntoIterator<Item = &'a str>,
        names: impl IntoIterator<Item = &'a str>,
        keep: impl IntoIterator<Item = &'a str>,
    ) -> Masker {
        let table = table(ids, names);
        let (long, short): (Vec<_>, Vec<_>) = table
            .into_iter()
            .partition(|(p, _)| p.chars().count() > LONG);
        // Replaced one after the other, in the order of their text.
        let long = replaced_in_order(long);
        let mut lens: FxHashMap<char, Vec<usize>> = FxHashMap::default();
        for (p, _) in &short {
            if let Some(c) = p.chars().next() {
                lens.entry(c).or_default().push(p.len());
            }
        }
        for l in lens.values_mut() {
            l.sort_unstable_by(|a, b| b.cmp(a));
            l.dedup();
        }
        let known = short
            .into_iter()
            .map(|(p, is_id)| (p.into_boxed_str(), is_id))
            .collect();
        Masker {
            known,
            lens,
            long,
            keep: distinct(keep)
                .into_iter()
                .map(|k| norm_text(k).into_owned())
                .collect(),
        }
    }

    /// Free text with every known id and name masked, and any other id-shaped number too.
    pub fn text<'s>(&self, s: &'s str) -> Cow<'s, str> {
        let mut replaced = self.known_replaced(s);
        for (p, r) in &self.long {
            if replaced.contains(p.as_str()) {
                replaced = Cow::Owned(replaced.replace(p.as_str(), r));
            }
        }
        match replaced {
            Cow::Borrowed(b) => mask_id_tokens(b),
            Cow::Owned(o) => Cow::Owned(mask_id_tokens(&o).into_owned()),
        }
    }

    /// `s` with every known value replaced, leftmost first and, of those starting at one
    /// place, the longest (what an Aho-Corasick automaton of them replaces with
    /// `LeftmostLongest`, the way this worked until 2026-12-07; a test compares the two),
    /// looked up in a hash table at each character that starts some known value: an
    /// automaton over every id and name of ten million persons took 5 GB and a minute to
    /// build.
    fn known_replaced<'s>(&self, s: &'s str) -> Cow<'s, str> {
        let mut out: Option<String> = None;
        let (mut last, mut i) = (0, 0);
        while let Some(c) = s[i..].chars().next() {
            let hit = self.lens.get(&c).and_then(|lens| {
                lens.iter().copied().find_map(|l| {
                    let v = s.get(i..i + l)?;
                    self.known.get(v).map(|&is_id| (l, replacement(v, is_id)))
                })
            });
            match hit {
                Some((l, r)) => {
                    let o = out.get_or_insert_with(String::new);
                    o.push_str(&s[last..i]);
                    o.push_str(&r);
                    i += l;
                    last = i;
                }
                None => i += c.len_utf8(),
            }
        }
        match out {
            None => Cow::Borrowed(s),
            Some(mut o) => {
                o.push_str(&s[last..]);
                Cow::Owned(o)
            }
        }
    }

    /// One cell of a rejected row as read: an id-shaped cell (after normalisation) is
    /// masked as an id, a name-shaped one as a name unless it is a kept word, anything
    /// else as free text. Over-masks rather than lets a name through: a rejected row has no
    /// trustworthy column to tell a name from other words.
    pub fn cell(&self, raw: &str) -> String {
        let t = norm_text(raw);
        let compact: String = t.chars().filter(|c| !c.is_whitespace()).collect();
        if id_shaped(&compact) {
            return mask_id(&compact);
        }
        let name = norm_name(raw);
        if name_shaped(&name) && !self.keep.contains(name.as_ref()) && !coded_word(&name) {
            return mask_name(&name);
        }
        self.text(&t).into_owned()
    }

    /// A rejected row's raw text (cells joined by commas, quoted as CSV): each cell masked
    /// with [`Masker::cell`], joined the same way.
    pub fn raw_line(&self, raw: &str) -> String {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(raw.as_bytes());
        let mut out = String::new();
        let mut rec = csv::StringRecord::new();
        // A raw line that is not CSV (it always is, as ingest writes it) is masked as text.
        match r.read_record(&mut rec) {
            Ok(true) => {}
            _ => return self.text(raw).into_owned(),
        }
        for (i, f) in rec.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let m = self.cell(f);
            if m.contains([',', '"', '\n', '\r']) {
                out.push('"');
                out.push_str(&m.replace('"', "\"\""));
                out.push('"');
            } else {
                out.push_str(&m);
            }
        }
        out
    }
}

impl Masker {
    /// A masker for every id and name of a run's inputs (every source, rejected rows
    /// aside: their cells are masked by shape, see [`Masker::cell`]); villages and offices
    /// are kept words.
    pub fn for_dataset(ds: &qianbiao_ingest::Dataset) -> Masker {
        Masker::for_dataset_and(ds, std::iter::empty(), std::iter::empty())
    }

    /// [`Masker::for_dataset`], masking also the ids and names given (what an output
    /// quotes from beyond the inputs: a previous run's findings).
    pub fn for_dataset_and<'a>(
        ds: &'a qianbiao_ingest::Dataset,
        more_ids: impl IntoIterator<Item = &'a str>,
        more_names: impl IntoIterator<Item = &'a str>,
    ) -> Masker {
        // Every source's id column is interned in the run's id table, each id once: the
        // table is their distinct ids (a test compares it with the rows' ids), where
        // the rows name each person in several sources.
        let mut ids: Vec<qianbiao_core::IdStr> = ds.strings.ids.iter().collect();
        let mut names: Vec<&'a str> = more_names.into_iter().collect();
        let mut keep: Vec<&str> = Vec::new();
        for h in ds.hukou().iter() {
            names.push(h.name());
            keep.push(h.village());
            keep.push(h.office());
        }
        for d in ds.deaths().iter() {
            names.push(d.name());
        }
        for e in ds.eligibility().iter() {
            names.push(e.name());
        }
        for r in ds.registrations().iter() {
            names.push(r.name());
        }
        for p in ds.payments().iter() {
            names.push(p.name());
            keep.push(p.village());
        }
        for p in ds.conflicts.iter().flat_map(|c| c.rows.iter()) {
            ids.push(p.id.as_str().into());
            names.push(&p.name);
            keep.push(&p.village);
        }
        for r in ds.receipts().iter() {
            names.push(r.name());
            keep.push(r.village());
        }
        for d in ds.deposits().iter() {
            keep.push(d.village());
        }
        for r in ds.roster().iter() {
            names.push(r.name());
            keep.push(r.village());
        }
        for d in &ds.linkable_deaths {
            ids.push(d.id.as_str().into());
            names.push(&d.name);
        }
        let more_ids: Vec<&str> = more_ids.into_iter().collect();
        Masker::new(ids.iter().map(|s| s.as_str()).chain(more_ids), names, keep)
    }

    /// A finding as shared: id and name masked, key and detail masked as text. Its
    /// `finding_id` must be taken from the unmasked finding.
    pub fn finding(&self, f: &qianbiao_core::Finding) -> qianbiao_core::Finding {
        let mut m = f.clone();
        m.id_number = f
            .id_number
            .split(';')
            .map(mask_id)
            .collect::<Vec<_>>()
            .join(";");
        m.name = f
            .name
            .split(';')
            .map(mask_name)
            .collect::<Vec<_>>()
            .join(";");
        m.key = self.text(&f.key).into_owned();
        m.detail = self.text(&f.detail).into_owned();
        m.village = self.text(&f.village).into_owned();
        m.collector_id = self.text(&f.collector_id).into_owned();
        m
    }

    /// A row of `changes.csv` as shared: key and detail masked as text.
    pub fn change(&self, c: &qianbiao_core::Change) -> qianbiao_core::Change {
        let mut m = c.clone();
        m.key = self.text(&c.key).into_owned();
        m.detail = self.text(&c.detail).into_owned();
        m
    }

    /// A rejected row as shared: its raw cells masked ([`Masker::raw_line`]), its reason
    /// as text.
    pub fn rejected(&self, r: &qianbiao_ingest::Rejected) -> qianbiao_ingest::Rejected {
        let mut m = r.clone();
        m.raw = self.raw_line(&r.raw);
        m.reason = self.text(&r.reason).into_owned();
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names() {
        assert_eq!(mask_id("371323198001016073"), "371323********6073");
        assert_eq!(mask_name("王涛"), "王*");
        assert_eq!(mask_name("欧阳娜娜"), "欧阳**");
        assert_eq!(mask_name("欧阳娜"), "欧阳*");
        assert_eq!(mask_name("欧阳"), "欧*");
        assert_eq!(mask_name("欧娜娜"), "欧**");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_id(""), "");
    }

    /// The table as it was built before 2026-12-07: a map taking each value in turn.
    fn table_by_map(ids: &[&str], names: &[&str]) -> Vec<(String, String)> {
        let mut table = std::collections::BTreeMap::<String, String>::new();
        for id in ids {
            let id = norm_text(id);
            if id.chars().count() < 4 {
                continue;
            }
            for v in [id.to_string(), id.to_uppercase(), id.to_lowercase()] {
                let m = mask_id(&v);
                table.entry(v).or_insert(m);
            }
        }
        for name in names {
            let name = norm_name(name);
            if name.chars().count() < 2 {
                continue;
            }
            let m = mask_name(&name);
            table.entry(name.into_owned()).or_insert(m);
        }
        table.into_iter().collect()
    }

    #[test]
    fn the_table_by_sorting_is_the_table_by_map() {
        let ids = [
            "11010519491231002X",
            "11010519491231002x",
            " 11010519491231002X ",
            "１１０１０５１９４９１２３１００２Ｘ",
            "371323198001016073",
            "371323198001016073",
            "3.71323E+17",
            "A12345",
            "a12345",
            "Ab1",
            "王涛王涛",
            "ǅ1234",
            "",
        ];
        let names = [
            "王涛",
            "王 涛",
            "王涛",
            "王涛王涛",
            "a12345",
            "李",
            "欧阳娜娜",
            "Ab1",
            "",
            "张三丰",
        ];
        assert_eq!(
            replaced_in_order(table(ids.iter().copied(), names.iter().copied())),
            table_by_map(&ids, &names)
        );
        assert_eq!(replaced_in_order(table([], [])), table_by_map(&[], &[]));
    }

    /// What the masker replaced with an automaton until 2026-12-07.
    fn replaced_by_automaton(table: &[(String, String)], s: &str) -> String {
        let (patterns, replacements): (Vec<&str>, Vec<&str>) = table
            .iter()
            .filter(|(p, _)| p.chars().count() <= LONG)
            .map(|(p, r)| (p.as_str(), r.as_str()))
            .unzip();
        if patterns.is_empty() {
            return s.to_string();
        }
        aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .build(&patterns)
            .unwrap()
            .replace_all(s, &replacements)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

        /// Known values replaced through the hash table are what the automaton replaced:
        /// texts and values made of a few characters, each value with its prefixes (so
        /// that values nest and share starts), texts drawn at random and made of the
        /// values themselves run together.
        #[test]
        fn known_values_are_replaced_as_the_automaton_replaced_them(
            ids in proptest::collection::vec("[12Xx王]{4,6}", 0..4),
            names in proptest::collection::vec("[王涛娜1]{2,5}", 0..5),
            texts in proptest::collection::vec("[王涛娜12Xx ]{0,24}", 1..6),
        ) {
            let prefixes = |v: &[String], min: usize| -> Vec<String> {
                v.iter()
                    .flat_map(|x| {
                        let cs: Vec<char> = x.chars().collect();
                        (min..=cs.len()).map(move |n| cs[..n].iter().collect::<String>())
                    })
                    .collect()
            };
            let (ids, names) = (prefixes(&ids, 4), prefixes(&names, 2));
            let mut texts = texts;
            texts.push(ids.concat() + &names.concat());
            texts.push(names.iter().rev().cloned().collect::<Vec<_>>().join("涛"));
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let m = Masker::new(ids.iter().copied(), names.iter().copied(), []);
            let t = table_by_map(&ids, &names);
            for s in &texts {
                proptest::prop_assert_eq!(
                    m.known_replaced(s).into_owned(),
                    replaced_by_automaton(&t, s),
                    "{:?}", s
                );
            }
        }
    }

    #[test]
    fn the_longest_of_the_leftmost_known_values_is_replaced() {
        let m = Masker::new(["1234", "123456", "3456"], ["王涛", "王涛娜", "涛娜"], []);
        assert_eq!(m.known_replaced("x123456王涛娜y"), "x1*****王**y");
        assert_eq!(m.known_replaced("23456涛娜王涛"), "23***涛*王*");
        assert!(matches!(m.known_replaced("无人"), Cow::Borrowed(_)));
    }

    /// The ids of a dataset's rows, every source's, distinct and sorted.
    fn row_ids(ds: &qianbiao_ingest::Dataset) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        ids.extend(ds.hukou().iter().map(|r| r.id().as_str().to_string()));
        ids.extend(ds.deaths().iter().map(|r| r.id().as_str().to_string()));
        ids.extend(ds.eligibility().iter().map(|r| r.id().as_str().to_string()));
        ids.extend(
            ds.registrations()
                .iter()
                .map(|r| r.id().as_str().to_string()),
        );
        ids.extend(ds.payments().iter().map(|r| r.id().as_str().to_string()));
        ids.extend(ds.receipts().iter().map(|r| r.id().as_str().to_string()));
        ids.extend(ds.roster().iter().map(|r| r.id().as_str().to_string()));
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    #[test]
    fn the_id_table_holds_exactly_the_ids_of_the_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut towns =
            vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../sample-data/dianzi-2022")];
        for (seed, dirty) in [(1, true), (2, true), (3, false)] {
            let out = dir.path().join(format!("{seed}-{dirty}"));
            qianbiao_synth::generate(&qianbiao_synth::SynthOptions {
                persons: 1500,
                seed,
                out: out.clone(),
                dirty,
                format: qianbiao_synth::Format::Csv,
                town_persons: qianbiao_synth::TOWN_PERSONS,
            })
            .unwrap();
            towns.push(out);
        }
        for town in towns {
            let ds = qianbiao_ingest::load(
                &town,
                &qianbiao_ingest::LoadOptions {
                    year: 2022,
                    progress: None,
                    columns: None,
                },
            )
            .unwrap();
            let mut table: Vec<String> = ds
                .strings
                .ids
                .iter()
                .map(|i| i.as_str().to_string())
                .collect();
            table.sort_unstable();
            let rows = row_ids(&ds);
            // The table's empty text (a row without an id) masks nothing.
            let only_table: Vec<&String> = table
                .iter()
                .filter(|i| !i.is_empty() && rows.binary_search(i).is_err())
                .collect();
            let only_rows: Vec<&String> = rows
                .iter()
                .filter(|i| table.binary_search(i).is_err())
                .collect();
            assert!(!rows.is_empty());
            assert_eq!(
                (only_table, only_rows),
                (vec![], vec![]),
                "{}",
                town.display()
            );
        }
    }

    fn masker() -> Masker {
        Masker::new(
            ["11010519491231002X", "A12345"],
            ["王涛", "欧阳娜娜", "李"],
            ["店子村"],
        )
    }

    #[test]
    fn text_masks_known_values_and_id_shapes() {
        let m = masker();
        assert_eq!(
            m.text("11010519491231002X|resident_medical|2022"),
            "110105********002X|resident_medical|2022"
        );
        assert_eq!(
            m.text("王涛与欧阳娜娜(11010519491231002x)同户；李四 A12345"),
            "王*与欧阳**(110105********002x)同户；李四 A*****"
        );
        // An id-shaped number not among the inputs is masked too; shorter numbers are not.
        assert_eq!(m.text("见 371323198001016073。"), "见 371323********6073。");
        assert_eq!(m.text("T0001 缴费320.00元"), "T0001 缴费320.00元");
        assert!(matches!(m.text("no names"), Cow::Borrowed(_)));
    }

    #[test]
    fn rejected_raw_cells() {
        let m = masker();
        assert_eq!(
            m.raw_line("T1,１１０１０５１９４９１２３１００２Ｘ,张 三丰,店子村,\"a,b\",abc"),
            "T1,110105********002X,张**,店子村,\"a,b\",abc"
        );
        // A very long name is masked too.
        let long = "欧".repeat(100);
        let m2 = Masker::new([], [long.as_str()], []);
        assert_eq!(
            m2.text(&format!("{long}缴费")),
            format!("欧{}缴费", "*".repeat(99))
        );
        // A name nobody else mentions is still masked by its shape; coded words are not.
        assert_eq!(m.raw_line("赵六,2022"), "赵*,2022");
        assert_eq!(m.raw_line("死亡,居住证,医疗,户主"), "死亡,居住证,医疗,户主");
    }
}
