//! The Unified Social Credit Code (统一社会信用代码), GB 32100-2015: 18 characters from a
//! 31-character alphabet (digits and capitals without I, O, S, V, Z). Positions 1–17 carry the
//! registering authority, the entity category, the administrative division and the
//! organisation code; position 18 is a check character:
//! `check = (31 − Σ value(cᵢ)·3^(i−1) mod 31) mod 31`.

use std::fmt;

/// The code's alphabet, in value order.
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const LENGTH: usize = 18;

/// Why a code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsccError {
    #[error("must be 18 characters, got {0}")]
    Length(usize),
    #[error("character {position} ({found:?}) is not one of 0-9 and A-Y without I, O, S, V, Z")]
    Character { position: usize, found: char },
    #[error("the check character should be {expected}, not {found}")]
    Check { expected: char, found: char },
}

/// A code that passed the check, upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Uscc(String);

fn value_of(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|v| v as u32)
}

/// 3^(i−1) mod 31 for positions 1–17.
fn weights() -> [u32; LENGTH - 1] {
    let mut w = [1u32; LENGTH - 1];
    for i in 1..w.len() {
        w[i] = (w[i - 1] * 3) % 31;
    }
    w
}

impl Uscc {
    /// Checks `input` (surrounding spaces ignored, letters in either case).
    pub fn parse(input: &str) -> Result<Uscc, UsccError> {
        let code = input.trim().to_ascii_uppercase();
        let chars = code.chars().count();
        if chars != LENGTH {
            return Err(UsccError::Length(chars));
        }
        let mut values = [0u32; LENGTH];
        for (i, c) in code.chars().enumerate() {
            let value = u8::try_from(c).ok().and_then(value_of);
            values[i] = value.ok_or(UsccError::Character {
                position: i + 1,
                found: c,
            })?;
        }
        // Every character is one ASCII byte from here on.
        let bytes = code.as_bytes();
        let sum: u32 = weights()
            .iter()
            .zip(values.iter())
            .map(|(w, v)| w * v)
            .sum();
        let expected = ALPHABET[((31 - sum % 31) % 31) as usize] as char;
        let found = bytes[LENGTH - 1] as char;
        if expected != found {
            return Err(UsccError::Check { expected, found });
        }
        Ok(Uscc(code))
    }

    /// The code, upper-cased.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The six-digit administrative division (positions 3–8), e.g. "350100" for Fuzhou.
    pub fn division(&self) -> &str {
        &self.0[2..8]
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_examples_pass() {
        for code in [
            "91350100M000100Y43",
            "91110000600037341L",
            "914403001922038216",
        ] {
            assert_eq!(
                Uscc::parse(code).map(|c| c.to_string()),
                Ok(code.to_string())
            );
        }
        assert_eq!(
            Uscc::parse(" 91350100m000100y43 ").map(|c| c.to_string()),
            Ok("91350100M000100Y43".to_string()),
            "spaces and lower case are forgiven"
        );
    }

    #[test]
    fn a_wrong_check_character_is_refused_with_the_right_one() {
        // Z is not in the alphabet at all.
        assert_eq!(
            Uscc::parse("91350100M000100Y4Z"),
            Err(UsccError::Character {
                position: 18,
                found: 'Z'
            })
        );
        assert_eq!(
            Uscc::parse("91350100M000100Y44"),
            Err(UsccError::Check {
                expected: '3',
                found: '4'
            })
        );
    }

    #[test]
    fn bad_lengths_and_characters_are_named() {
        assert_eq!(Uscc::parse("9135010"), Err(UsccError::Length(7)));
        assert_eq!(
            Uscc::parse("91350100M000100I43"),
            Err(UsccError::Character {
                position: 16,
                found: 'I'
            })
        );
        assert!(matches!(
            Uscc::parse("91350100M00010０Y43"),
            Err(UsccError::Character { position: 15, .. })
        ));
    }

    #[test]
    fn every_single_character_change_is_caught() {
        let good = "91110000600037341L";
        for i in 0..17 {
            for &c in ALPHABET {
                let mut changed = good.as_bytes().to_vec();
                if changed[i] == c {
                    continue;
                }
                changed[i] = c;
                let changed = String::from_utf8(changed).unwrap_or_default();
                assert!(Uscc::parse(&changed).is_err(), "{changed} passed");
            }
        }
    }

    #[test]
    fn weights_are_powers_of_three_mod_31() {
        assert_eq!(
            weights(),
            [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
        );
        assert_eq!(
            Uscc::parse("914403001922038216").map(|c| c.division().to_string()),
            Ok("440300".into())
        );
    }
}
