//! Identifiers of the platform's people and organisations: validation by their
//! check characters, and the masked / keyed-hash forms Biaozhun stores instead.
//!
//! - 统一社会信用代码 (GB 32100—2015): 18 characters over the 31 symbols
//!   `0-9 A-H J-N P-R T U W-Y`; the 18th is `31 − (Σ value·weight mod 31)` (31 → `0`).
//!   Characters 9–17 are the organisation code (GB 11714), whose own check is the
//!   17th character: `11 − (Σ value·weight mod 11)`, 10 → `X`, 11 → `0`.
//! - 居民身份证号码 (GB 11643—1999): 17 digits (region, birth date, sequence) and a
//!   check character `"10X98765432"[Σ digit·weight mod 11]`.
//!
//! Personal identifiers never leave the import step in full: a worker's ID number
//! and a phone number are kept as a mask for display (`3301**********002X`,
//! `138****5678`) and a keyed hash (HMAC-SHA-256 with the installation's secret) for
//! matching the same person across files and audits.

use hmac::{Hmac, Mac};
use sha2::Sha256;

const USCC_CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: &[u8; 11] = b"10X98765432";

/// Why an identifier is not valid, in words for the person fixing the data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("应为 {expected} 位，实际 {actual} 位")]
    Length { expected: usize, actual: usize },
    #[error("第 {position} 位“{found}”不是允许的字符（{allowed}）")]
    Character {
        position: usize,
        found: char,
        allowed: &'static str,
    },
    #[error("校验位应为“{expected}”，实际为“{found}”：号码有误，请核对原始证照")]
    Check { expected: char, found: char },
    #[error("组织机构代码（第 9–17 位）的校验位应为“{expected}”，实际为“{found}”")]
    OrgCheck { expected: char, found: char },
    #[error("出生日期 {0} 不是有效日期")]
    BirthDate(String),
}

fn uscc_value(c: u8) -> Option<u32> {
    USCC_CHARS.iter().position(|&x| x == c).map(|i| i as u32)
}

/// The check character of the first 17 characters of a 统一社会信用代码.
pub fn uscc_check_char(first17: &[u8]) -> Option<char> {
    let mut sum = 0;
    for (c, w) in first17.iter().zip(USCC_WEIGHTS) {
        sum += uscc_value(*c)? * w;
    }
    let r = (31 - sum % 31) % 31;
    Some(USCC_CHARS[r as usize] as char)
}

fn org_check_char(body: &[u8]) -> Option<char> {
    let mut sum = 0;
    for (c, w) in body.iter().zip(ORG_WEIGHTS) {
        let v = match c {
            b'0'..=b'9' => (c - b'0') as u32,
            b'A'..=b'Z' => (c - b'A') as u32 + 10,
            _ => return None,
        };
        sum += v * w;
    }
    Some(match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        d => char::from_digit(d, 10)?,
    })
}

/// Validates a 统一社会信用代码 (upper-cases and trims first; returns the canonical form).
pub fn validate_uscc(code: &str) -> Result<String, IdError> {
    let code = code.trim().to_ascii_uppercase();
    let n = code.chars().count();
    if n != 18 {
        return Err(IdError::Length {
            expected: 18,
            actual: n,
        });
    }
    let b = code.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if uscc_value(c).is_none() {
            return Err(IdError::Character {
                position: i + 1,
                found: c as char,
                allowed: "数字或除 I、O、S、V、Z 以外的大写字母",
            });
        }
    }
    let expected = uscc_check_char(&b[..17]).unwrap_or('?');
    if b[17] as char != expected {
        return Err(IdError::Check {
            expected,
            found: b[17] as char,
        });
    }
    if let Some(org) = org_check_char(&b[8..16])
        && b[16] as char != org
    {
        return Err(IdError::OrgCheck {
            expected: org,
            found: b[16] as char,
        });
    }
    Ok(code)
}

/// Validates an 18-digit 居民身份证号码 (check character and birth date).
pub fn validate_id_card(id: &str) -> Result<String, IdError> {
    let id = id.trim().to_ascii_uppercase();
    let n = id.chars().count();
    if n != 18 {
        return Err(IdError::Length {
            expected: 18,
            actual: n,
        });
    }
    let b = id.as_bytes();
    for (i, &c) in b[..17].iter().enumerate() {
        if !c.is_ascii_digit() {
            return Err(IdError::Character {
                position: i + 1,
                found: c as char,
                allowed: "前 17 位为数字",
            });
        }
    }
    if !(b[17].is_ascii_digit() || b[17] == b'X') {
        return Err(IdError::Character {
            position: 18,
            found: b[17] as char,
            allowed: "第 18 位为数字或 X",
        });
    }
    let sum: u32 = b[..17]
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(c, w)| (c - b'0') as u32 * w)
        .sum();
    let expected = ID_CHECK[(sum % 11) as usize] as char;
    if b[17] as char != expected {
        return Err(IdError::Check {
            expected,
            found: b[17] as char,
        });
    }
    let birth = &id[6..14];
    let ok = birth_date_valid(birth);
    if !ok {
        return Err(IdError::BirthDate(birth.to_string()));
    }
    Ok(id)
}

fn birth_date_valid(yyyymmdd: &str) -> bool {
    let (Ok(y), Ok(m), Ok(d)) = (
        yyyymmdd[..4].parse::<i32>(),
        yyyymmdd[4..6].parse::<u32>(),
        yyyymmdd[6..8].parse::<u32>(),
    ) else {
        return false;
    };
    if !(1900..=2100).contains(&y) || !(1..=12).contains(&m) || d == 0 {
        return false;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    d <= days
}

/// The birth date (`YYYY-MM-DD`) of a validated ID number.
pub fn birth_date(valid_id: &str) -> String {
    format!(
        "{}-{}-{}",
        &valid_id[6..10],
        &valid_id[10..12],
        &valid_id[12..14]
    )
}

/// `3301**********002X`: region prefix and last four kept.
pub fn mask_id_card(valid_id: &str) -> String {
    let n = valid_id.len();
    format!(
        "{}{}{}",
        &valid_id[..4],
        "*".repeat(n - 8),
        &valid_id[n - 4..]
    )
}

/// A mainland mobile number (11 digits starting with 1), normalised: spaces,
/// dashes and a `+86`/`86` prefix are removed.
pub fn validate_mobile(phone: &str) -> Option<String> {
    let digits: String = phone.chars().filter(|c| c.is_ascii_digit()).collect();
    let digits = digits
        .strip_prefix("86")
        .filter(|d| d.len() == 11)
        .unwrap_or(&digits)
        .to_string();
    (digits.len() == 11 && digits.starts_with('1') && digits.as_bytes()[1] >= b'3')
        .then_some(digits)
}

/// `138****5678`.
pub fn mask_mobile(valid: &str) -> String {
    format!("{}****{}", &valid[..3], &valid[7..])
}

/// The keyed hash under which a personal identifier is matched (hex HMAC-SHA-256):
/// equal inputs give equal hashes within one installation, and without the key
/// the hash cannot be reversed by enumerating the (small) space of ID numbers.
pub fn pseudonym(key: &[u8], kind: &str, value: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| {
        // HMAC accepts keys of any length; this branch cannot be taken.
        <Hmac<Sha256> as Mac>::new_from_slice(b"biaozhun").expect("a fixed key")
    });
    mac.update(kind.as_bytes());
    mac.update(b"\0");
    mac.update(value.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    // The example code printed in GB 32100—2015 and other published valid codes.
    #[test_case("91350100M000100Y43"; "the standard's example")]
    #[test_case("91350100m000100y43"; "lower case is accepted")]
    #[test_case(" 91350100M000100Y43 "; "surrounding spaces")]
    fn valid_credit_codes(c: &str) {
        assert_eq!(validate_uscc(c).unwrap(), "91350100M000100Y43");
    }

    #[test_case("91350100M000100Y44", IdError::Check { expected: '3', found: '4' }; "wrong check character")]
    #[test_case("91350100M000100Y4", IdError::Length { expected: 18, actual: 17 }; "too short")]
    #[test_case("91350100M0001I0Y43", IdError::Character { position: 14, found: 'I', allowed: "数字或除 I、O、S、V、Z 以外的大写字母" }; "letter I is not used")]
    fn invalid_credit_codes(c: &str, e: IdError) {
        assert_eq!(validate_uscc(c).unwrap_err(), e);
    }

    #[test]
    fn a_wrong_organisation_code_is_caught_even_with_a_matching_check_character() {
        // Change the organisation code's check (position 17) and recompute the
        // overall check so that only GB 11714's check fails.
        let mut b = b"91350100M000100Y5".to_vec();
        let c = uscc_check_char(&b).unwrap();
        b.push(c as u8);
        let code = String::from_utf8(b).unwrap();
        assert_eq!(
            validate_uscc(&code).unwrap_err(),
            IdError::OrgCheck {
                expected: '4',
                found: '5'
            }
        );
    }

    // The example number of GB 11643—1999 and others whose check was computed by
    // hand from the algorithm.
    #[test_case("11010519491231002X")]
    #[test_case("11010519491231002x")]
    #[test_case("330185198506152311")]
    #[test_case("330106199202290028"; "born on a leap day")]
    #[test_case("110101199003074477")]
    fn valid_id_numbers(id: &str) {
        assert!(validate_id_card(id).is_ok(), "{id}");
    }

    #[test_case("110105194912310021", IdError::Check { expected: 'X', found: '1' }; "wrong check digit")]
    #[test_case("11010519491231002", IdError::Length { expected: 18, actual: 17 }; "old 17")]
    #[test_case("110105194913310025", IdError::Check { expected: '1', found: '5' }; "the check is tested before the date")]
    #[test_case("11010519A91231002X", IdError::Character { position: 9, found: 'A', allowed: "前 17 位为数字" }; "letter in body")]
    fn invalid_id_numbers(id: &str, e: IdError) {
        assert_eq!(validate_id_card(id).unwrap_err(), e);
    }

    #[test]
    fn impossible_birth_dates_are_refused_even_with_a_valid_check() {
        // 1949-02-30 with its correct check character.
        let body = "11010519490230002";
        let sum: u32 = body
            .bytes()
            .zip(ID_WEIGHTS)
            .map(|(c, w)| (c - b'0') as u32 * w)
            .sum();
        let id = format!("{body}{}", ID_CHECK[(sum % 11) as usize] as char);
        assert_eq!(
            validate_id_card(&id).unwrap_err(),
            IdError::BirthDate("19490230".into())
        );
    }

    #[test]
    fn masks_and_pseudonyms() {
        assert_eq!(mask_id_card("11010519491231002X"), "1101**********002X");
        assert_eq!(birth_date("11010519491231002X"), "1949-12-31");
        assert_eq!(
            validate_mobile("+86 138-0013-8000").as_deref(),
            Some("13800138000")
        );
        assert_eq!(validate_mobile("12800138000"), None);
        assert_eq!(mask_mobile("13800138000"), "138****8000");
        let a = pseudonym(b"k1", "id", "11010519491231002X");
        assert_eq!(a, pseudonym(b"k1", "id", "11010519491231002X"));
        assert_ne!(a, pseudonym(b"k2", "id", "11010519491231002X"), "keyed");
        assert_ne!(
            a,
            pseudonym(b"k1", "phone", "11010519491231002X"),
            "by kind"
        );
        assert_eq!(a.len(), 64);
    }
}
