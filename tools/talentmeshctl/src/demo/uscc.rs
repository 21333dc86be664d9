//! Unified Social Credit Codes (统一社会信用代码) for the demo companies, with both check
//! characters computed, so the company service accepts them as a real code would be.
//!
//! Layout (GB 32100-2015 "法人和其他组织统一社会信用代码编码规则"), 18 characters:
//! 1 registration authority (`9`: market regulation), 2 category (`1`: enterprise),
//! 3–8 the administrative division (GB/T 2260), 9–17 the organisation code (GB 11714-1997: eight
//! characters and its own check character), 18 the check character of the first 17.
//!
//! - GB 11714 check: weights 3, 7, 9, 10, 5, 8, 4, 2 on the eight characters (digits by value,
//!   letters A=10 … Z=35), `C = 11 − (Σ mod 11)`, 10 written `X` and 11 written `0`.
//! - GB 32100 check: characters valued by their position in [`ALPHABET`] (the digits and 21
//!   letters, without I, O, S, V, Z), weight of position i (from 0) is 3^i mod 31,
//!   `C = 31 − (Σ mod 31)`, 31 written `0`.

use thiserror::Error;

/// The characters a USCC may contain, in the order of their values (0–30).
pub const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Why a string is not a code this module can complete or check.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum UsccError {
    #[error("expected {expected} characters, got {got}")]
    Length { expected: usize, got: usize },
    #[error("character {0:?} is not allowed in a unified social credit code")]
    Character(char),
}

fn value(c: u8) -> Result<u32, UsccError> {
    ALPHABET
        .iter()
        .position(|&a| a == c)
        .map(|p| p as u32)
        .ok_or(UsccError::Character(c as char))
}

/// The GB 32100-2015 check character of the first 17 characters of a code.
pub fn check_character(first17: &str) -> Result<char, UsccError> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 {
        return Err(UsccError::Length {
            expected: 17,
            got: first17.chars().count(),
        });
    }
    let mut weight = 1u32;
    let mut sum = 0u32;
    for &b in bytes {
        sum += value(b)? * weight;
        weight = weight * 3 % 31;
    }
    let c = (31 - sum % 31) % 31;
    Ok(ALPHABET[c as usize] as char)
}

/// The GB 11714-1997 check character of an organisation code's first eight characters.
pub fn organisation_check(first8: &str) -> Result<char, UsccError> {
    const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let bytes = first8.as_bytes();
    if bytes.len() != 8 {
        return Err(UsccError::Length {
            expected: 8,
            got: first8.chars().count(),
        });
    }
    let mut sum = 0u32;
    for (&b, w) in bytes.iter().zip(WEIGHTS) {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return Err(UsccError::Character(b as char)),
        };
        sum += v * w;
    }
    Ok(match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        c => char::from_digit(c, 10).unwrap_or('0'),
    })
}

/// A whole enterprise code: `91`, the six-digit `division`, the organisation code made of
/// `body8` (eight characters of [`ALPHABET`]) and its check, then the final check.
pub fn enterprise_code(division: &str, body8: &str) -> Result<String, UsccError> {
    if division.len() != 6 || !division.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UsccError::Length {
            expected: 6,
            got: division.chars().count(),
        });
    }
    for b in body8.bytes() {
        value(b)?;
    }
    let org = format!("{body8}{}", organisation_check(body8)?);
    let first17 = format!("91{division}{org}");
    Ok(format!("{first17}{}", check_character(&first17)?))
}

/// Whether `code` is 18 characters of [`ALPHABET`] with a correct final check character.
pub fn is_valid(code: &str) -> bool {
    code.len() == 18
        && code.is_char_boundary(17)
        && check_character(&code[..17]).is_ok_and(|c| code.ends_with(c))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_standards_example_and_a_real_code_check() {
        // The example code of GB 32100-2015's annex, and a Shenzhen enterprise's code.
        assert_eq!(check_character("91350100M000100Y4").unwrap(), '3');
        assert!(is_valid("91350100M000100Y43"));
        assert!(is_valid("914403001922038216"));
        // Their organisation codes carry their own GB 11714 check characters.
        assert_eq!(organisation_check("M000100Y").unwrap(), '4');
        assert_eq!(organisation_check("19220382").unwrap(), '1');
    }

    #[test]
    fn a_built_code_is_valid_and_any_single_change_is_caught() {
        let code = enterprise_code("440300", "MA5F3K7N").unwrap();
        assert_eq!(code.len(), 18);
        assert!(code.starts_with("91440300MA5F3K7N"));
        assert!(is_valid(&code));
        for i in 0..17 {
            for &c in ALPHABET {
                let mut changed = code.clone().into_bytes();
                if changed[i] == c {
                    continue;
                }
                changed[i] = c;
                let changed = String::from_utf8(changed).unwrap();
                assert!(!is_valid(&changed), "{changed} passes");
            }
        }
    }

    #[test]
    fn check_characters_of_both_standards_cover_their_special_cases() {
        // Σ = 0 gives 31 − 0 = 31, written 0.
        assert_eq!(check_character("00000000000000000").unwrap(), '0');
        // GB 11714: Σ mod 11 = 1 gives 10, written X; Σ mod 11 = 0 gives 11, written 0.
        // 1·3 + 0 … = 3 → 11 − 3 = 8.
        assert_eq!(organisation_check("10000000").unwrap(), '8');
        assert_eq!(organisation_check("00000000").unwrap(), '0');
        // 4·3 = 12 ≡ 1 (mod 11) → 10 → X.
        assert_eq!(organisation_check("40000000").unwrap(), 'X');
    }

    #[test]
    fn malformed_input_is_named() {
        assert_eq!(
            check_character("123"),
            Err(UsccError::Length {
                expected: 17,
                got: 3
            })
        );
        assert_eq!(
            enterprise_code("440300", "MA5F3KIN"),
            Err(UsccError::Character('I'))
        );
        assert!(!is_valid("91350100M000100Y4"));
        assert!(!is_valid("91350100M000100Y44"));
    }
}
