//! UAI (Unité Administrative Immatriculée), the school code: 7 digits and a
//! check letter `"ABCDEFGHJKLMNPRSTUVWXYZ"[first 7 digits % 23]` (domain
//! reference §3). Some 7-character prefixes carry letters (e.g. Corsica's
//! `2A`/`2B` départements): those are accepted without a check.

use std::fmt;

use serde::{Deserialize, Serialize};

const CHECK_LETTERS: &[u8; 23] = b"ABCDEFGHJKLMNPRSTUVWXYZ";

/// A school code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Uai(String);

/// Why a value is not a UAI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UaiError {
    /// Not 8 characters.
    #[error("UAI {0:?} must have 8 characters (7 digits and a check letter)")]
    Length(String),
    /// Characters other than digits and a final letter.
    #[error("UAI {0:?} must be 7 digits followed by a letter")]
    Format(String),
    /// The check letter does not match the digits.
    #[error("UAI {value:?} has check letter {found}, expected {expected}")]
    CheckLetter {
        /// The value as given.
        value: String,
        /// The letter found.
        found: char,
        /// The letter the digits call for.
        expected: char,
    },
}

impl Uai {
    /// Parses and checks the letter.
    pub fn parse(value: &str) -> Result<Self, UaiError> {
        let uai = Self::parse_lenient(value)?;
        if let Some(expected) = expected_letter(&uai.0) {
            let found = char::from(*uai.0.as_bytes().last().unwrap_or(&b'?'));
            if found != expected {
                return Err(UaiError::CheckLetter {
                    value: value.to_owned(),
                    found,
                    expected,
                });
            }
        }
        Ok(uai)
    }

    /// Parses the shape only (7 alphanumerics and a letter), without checking
    /// the letter: imports warn on a bad letter rather than reject.
    pub fn parse_lenient(value: &str) -> Result<Self, UaiError> {
        let value = value.trim().to_ascii_uppercase();
        if value.len() != 8 {
            return Err(UaiError::Length(value));
        }
        let bytes = value.as_bytes();
        let (body, letter) = bytes.split_at(7);
        let body_ok = body.iter().all(u8::is_ascii_alphanumeric);
        let letter_ok = letter.iter().all(u8::is_ascii_uppercase);
        if !body_ok || !letter_ok {
            return Err(UaiError::Format(value));
        }
        Ok(Self(value))
    }

    /// Whether the check letter matches (always true when the prefix holds letters).
    pub fn has_valid_letter(&self) -> bool {
        match expected_letter(&self.0) {
            Some(expected) => self.0.ends_with(expected),
            None => true,
        }
    }

    /// The code, upper case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn expected_letter(value: &str) -> Option<char> {
    let digits = value.get(..7)?;
    let number: u32 = digits.parse().ok()?;
    let index = usize::try_from(number % 23).ok()?;
    CHECK_LETTERS.get(index).map(|b| char::from(*b))
}

impl fmt::Display for Uai {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Uai {
    type Error = UaiError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Uai> for String {
    fn from(value: Uai) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_check_letter() {
        // 254222 % 23 = 3 -> 'D'; 750001 % 23 = 17 -> 'U'
        assert_eq!(Uai::parse("0254222D").unwrap().as_str(), "0254222D");
        assert_eq!(Uai::parse(" 0750001u ").unwrap().as_str(), "0750001U");
    }

    #[test]
    fn rejects_wrong_check_letter_but_lenient_accepts_it() {
        // The example of the ÉduConnect documentation carries a letter that
        // does not match its digits: imports must warn, not reject.
        let err = Uai::parse("0254222C").unwrap_err();
        assert_eq!(
            err,
            UaiError::CheckLetter {
                value: "0254222C".into(),
                found: 'C',
                expected: 'D'
            }
        );
        let lenient = Uai::parse_lenient("0254222C").unwrap();
        assert!(!lenient.has_valid_letter());
    }

    #[test]
    fn rejects_bad_shapes() {
        assert!(matches!(Uai::parse("025422C"), Err(UaiError::Length(_))));
        assert!(matches!(Uai::parse("02542-2C"), Err(UaiError::Format(_))));
        assert!(matches!(Uai::parse("02542223"), Err(UaiError::Format(_))));
        assert!(matches!(Uai::parse("0254222É"), Err(UaiError::Length(_))));
    }

    #[test]
    fn corsican_prefix_is_accepted_without_check() {
        assert!(Uai::parse("2A00001X").is_ok());
    }
}
