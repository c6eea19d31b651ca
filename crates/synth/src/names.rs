//! Static vocabulary of the town: surnames, given-name characters, villages, area codes.

/// Common surnames, roughly by frequency (the first ones are drawn more often).
pub(crate) const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "程", "曹", "袁",
    "邓", "许", "沈", "曾", "彭", "吕", "苏", "卢", "蒋", "蔡", "贾", "丁", "魏", "薛", "叶", "阎",
    "潘", "杜", "戴", "夏", "钟", "田", "任", "姜", "范", "方", "石", "姚", "谭", "邹", "孟", "侯",
    "崔", "庞", "葛", "公", "颜", "厉", "褚", "邵", "尹", "武",
];

/// Given-name characters more common for men.
pub(crate) const GIVEN_MALE: &[&str] = &[
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华", "飞",
    "鑫", "波", "宁", "凯", "建", "国", "志", "海", "庆", "东", "文", "成", "永", "兴", "德", "福",
    "贵", "山", "林", "峰", "俊", "浩", "宇", "振", "广", "玉", "春", "瑞", "昌", "祥", "胜", "利",
];

/// Given-name characters more common for women.
pub(crate) const GIVEN_FEMALE: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀", "英", "兰", "梅", "红", "玲", "燕", "萍",
    "洁", "琳", "雪", "慧", "婷", "倩", "颖", "佳", "欣", "月", "凤", "花", "云", "荣", "珍", "桂",
    "菊", "翠", "巧", "美", "淑", "莉", "晶", "彩", "春", "玉", "华", "小", "晓", "文", "金", "爱",
];

/// Villages (村/居) with their sub-district office (办事处).
pub(crate) const VILLAGES: &[(&str, &str)] = &[
    ("店子村", "店子"),
    ("东店子村", "店子"),
    ("西店子村", "店子"),
    ("店子社区", "店子"),
    ("前官庄村", "店子"),
    ("后官庄村", "店子"),
    ("李家庄村", "店子"),
    ("柳树沟村", "店子"),
    ("杏山村", "店子"),
    ("河东村", "店子"),
    ("北石竹村", "石竹"),
    ("南石竹村", "石竹"),
    ("石竹村", "石竹"),
    ("马家岭村", "石竹"),
    ("朱家坡村", "石竹"),
    ("石门村", "石竹"),
    ("泉子村", "石竹"),
    ("沙沟村", "石竹"),
    ("北岭村", "石竹"),
    ("新庄村", "石竹"),
    ("王河村", "王河"),
    ("东王河村", "王河"),
    ("西王河村", "王河"),
    ("张家庄村", "王河"),
    ("刘家湖村", "王河"),
    ("大兴村", "王河"),
    ("河西村", "王河"),
    ("南岭村", "王河"),
    ("双泉村", "王河"),
    ("桃园村", "王河"),
];

/// Area codes of people born in the county (hukou residents).
pub(crate) const LOCAL_AREAS: &[&str] = &[
    "371323", "371323", "371323", "371323", "371323", "371323", "371321", "371322", "371324",
    "371312", "371325", "371326", "371327", "371328",
];

/// Area codes of residence-permit holders (born elsewhere).
pub(crate) const PERMIT_AREAS: &[&str] = &[
    "370102", "370202", "320311", "410105", "130102", "220102", "340104", "510107",
];

/// Area code used only for people absent from hukou (planted ELG-001 and DQ-001).
pub(crate) const STRANGER_AREA: &str = "371311";

/// First characters of town names (a province's towns are named by pairs).
const TOWN_FIRST: &[&str] = &["青", "白", "黄", "红", "金", "银", "龙", "凤", "马", "牛"];

/// Second characters of town names.
const TOWN_SECOND: &[&str] = &["山", "河", "湖", "岭", "泉", "田", "坪", "溪", "桥", "岗"];

/// Generation characters (字辈) a town's residents carry after their surname, so that no
/// name of one town is the name of a resident of another (identity linkage compares
/// names across the whole province). Filtered against the surnames and given-name
/// characters by [`town_marks`].
const MARK_POOL: &str =
    "家守传继世泽长绍宗承嘉启光显耀延昭朝致远思恩孝友怀锡培修立正维先贤良克肇开基业盛大\
懋炳焕煜炎烈熙照然勋功名扬声纪纲常道义礼智信仁忠厚温恭俭让敬宽容允协睦亲善积余庭树茂松柏竹芝蕙芬\
桐梓楠槐榆杉枫桃杏梨棠钦尚崇典朗逸昊旭晨曦晖景泰安康乐善方圆";

/// The generation characters usable as town marks: in [`MARK_POOL`] order, each once,
/// none a surname or given-name character.
pub(crate) fn town_marks() -> Vec<char> {
    let taken: Vec<char> = SURNAMES
        .iter()
        .chain(GIVEN_MALE)
        .chain(GIVEN_FEMALE)
        .flat_map(|s| s.chars())
        .collect();
    let mut out: Vec<char> = Vec::new();
    for c in MARK_POOL.chars() {
        if !taken.contains(&c) && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// The name of town `t` of a province (town 0 is the Dianzi-like town of a one-town
/// run and keeps its village names as they are).
pub(crate) fn town_name(t: usize) -> String {
    let n = TOWN_SECOND.len();
    let (a, b) = (t / n % TOWN_FIRST.len(), t % n);
    let round = t / (n * TOWN_FIRST.len());
    if round == 0 {
        format!("{}{}镇", TOWN_FIRST[a], TOWN_SECOND[b])
    } else {
        format!("{}{}{}镇", TOWN_FIRST[a], TOWN_SECOND[b], round + 1)
    }
}

/// The wrong area code a planted IDN-001 (name_birth) row carries.
pub(crate) const IDN_AREA: &str = "379901";

/// The area code town `t` uses for `area`: town 0 uses the real codes; town `t > 0` a
/// code of its own (`6TTTKK`, K the code's place among the distinct codes of
/// [`LOCAL_AREAS`], [`PERMIT_AREAS`], [`STRANGER_AREA`] and [`IDN_AREA`], in that order),
/// so no id of one town is an id of another (names differ too, by the town's mark).
pub(crate) fn town_area(t: u16, area: &str) -> String {
    if t == 0 {
        return area.to_string();
    }
    let mut seen: Vec<&str> = Vec::new();
    for a in LOCAL_AREAS
        .iter()
        .chain(PERMIT_AREAS)
        .chain(&[STRANGER_AREA, IDN_AREA])
    {
        if !seen.contains(a) {
            seen.push(a);
        }
    }
    let k = seen
        .iter()
        .position(|a| *a == area)
        .expect("a town draws ids from the area codes above only");
    format!("6{t:03}{k:02}")
}
