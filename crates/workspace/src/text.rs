//! Masking inside free text (keys, details) for `cases export --mask`, after
//! `report::mask::Masker` has masked every id and name of the exported cases: ids found by
//! their shape, names quoted by DQ-002 (which are not hukou names), and a case's own name.

use qianbiao_report::mask::{mask_id, mask_name};

/// Masks every run of 15 to 18 id characters (digits, a final `X`) that looks like an id
/// number, every name quoted after `姓名` (`姓名“王涛、王滔”`, as DQ-002 states the
/// names that disagree), then every occurrence of each given name.
pub fn mask_text(text: &str, names: &[&str]) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_ascii_alphanumeric()) {
            let mut j = i;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            if j < chars.len() && matches!(chars[j], 'X' | 'x') && j - i == 17 {
                j += 1;
            }
            let n = j - i;
            let bounded = j == chars.len() || !chars[j].is_ascii_alphanumeric();
            if (n == 15 || n == 18) && bounded {
                let id: String = chars[i..j].iter().collect();
                out.push_str(&mask_id(&id));
            } else {
                out.extend(&chars[i..j]);
            }
            i = j;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    let mut out = mask_quoted_names(&mask_quoted_ids(&out));
    let mut names: Vec<&str> = names.iter().copied().filter(|n| !n.is_empty()).collect();
    // Longer names first, so that `欧阳娜` is masked before a shorter `欧阳`.
    names.sort_by_key(|n| std::cmp::Reverse(n.chars().count()));
    for n in names {
        out = out.replace(n, &mask_name(n));
    }
    out
}

/// The id as typed that a DQ-001, IDN-001 or DTH-005 detail quotes, masked whatever its
/// length (`身份证号码“37132619761004”` as `身份证号码“371326****1004”`): an invalid id is
/// not id-shaped, and the cases export knows only its cases' own ids.
fn mask_quoted_ids(text: &str) -> String {
    const OPENS: [&str; 2] = ["身份证号码“", "身份证号录为“"];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = OPENS
            .iter()
            .filter_map(|o| rest.find(o).map(|at| (at, o.len())))
            .min();
        let Some((at, len)) = next else {
            break;
        };
        let after = at + len;
        out.push_str(&rest[..after]);
        rest = &rest[after..];
        let end = rest.find('”').unwrap_or(rest.len());
        out.push_str(&mask_id(&rest[..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// `姓名“王涛、王滔”` as `姓名“王*、王*”`.
fn mask_quoted_names(text: &str) -> String {
    const OPEN: &str = "姓名“";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(OPEN) {
        let after = at + OPEN.len();
        out.push_str(&rest[..after]);
        rest = &rest[after..];
        let end = rest.find('”').unwrap_or(rest.len());
        let masked: Vec<String> = rest[..end].split('、').map(mask_name).collect();
        out.push_str(&masked.join("、"));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_inside_text() {
        let t = "371323198001016073|resident_medical|2022 王涛 11010519491231002X 缴费320.00元";
        let m = mask_text(t, &["王涛"]);
        assert_eq!(
            m,
            "371323********6073|resident_medical|2022 王* 110105********002X 缴费320.00元"
        );
        // Amounts, dates and txn ids stay.
        assert_eq!(
            mask_text("T20211105 320.00 2021-11-05", &[]),
            "T20211105 320.00 2021-11-05"
        );
        // The names a DQ-002 detail quotes.
        assert_eq!(
            mask_text("缴费明细姓名“王滔、汪涛”与户籍姓名“王涛”不一致", &[]),
            "缴费明细姓名“王*、汪*”与户籍姓名“王*”不一致"
        );
        assert_eq!(mask_text("姓名“欧阳", &[]), "姓名“欧*");
        // A 15-digit id.
        assert_eq!(mask_text("id 371323800101607", &[]), "id 371323*****1607");
        // Ids as typed, of any length, where a detail quotes them.
        assert_eq!(
            mask_text(
                "死亡通报（身份证号录为“3713231985011992015”，经name_birth关联为37132319850119201X）",
                &[]
            ),
            "死亡通报（身份证号录为“371323*********2015”，经name_birth关联为371323********201X）"
        );
        assert_eq!(
            mask_text(
                "缴费明细中身份证号码“37132619761004”无效；身份证号码“”",
                &[]
            ),
            "缴费明细中身份证号码“371326****1004”无效；身份证号码“”"
        );
        // Text that quotes no id stays.
        assert_eq!(mask_text("收据“SJ-0001”", &[]), "收据“SJ-0001”");
    }
}
