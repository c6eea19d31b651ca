//! Masking for sharing outside the audit team (`operations.md`, Sharing outside the audit
//! team): ids keep their first 6 and last 4 characters, names their first character.

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

/// `王涛` as `王*`, `欧阳娜娜` as `欧***`.
pub fn mask_name(name: &str) -> String {
    let mut it = name.chars();
    match it.next() {
        None => String::new(),
        Some(first) => {
            let mut out = String::from(first);
            out.extend(it.map(|_| '*'));
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names() {
        assert_eq!(mask_id("371323198001016073"), "371323********6073");
        assert_eq!(mask_name("王涛"), "王*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_id(""), "");
    }
}
