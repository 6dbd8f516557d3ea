//! E.164 phone numbers, validated once and masked wherever they could leak.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A phone number in canonical E.164 form (`+` then 2 to 15 ASCII digits, no leading zero).
///
/// `Display` prints the full number (it is the user's own, and handlers need it); `Debug` and
/// [`PhoneNumber::masked`] hide the middle digits, so that logs and panics never carry it whole.
///
/// ```
/// use glide_core::PhoneNumber;
/// let n = PhoneNumber::parse("+15555550100").unwrap();
/// assert_eq!(n.as_str(), "+15555550100");
/// assert_eq!(format!("{n:?}"), "PhoneNumber(+1555***0100)");
/// assert!(PhoneNumber::parse("5555550100").is_err());
/// // Visual separators typed by people are accepted and removed:
/// assert_eq!(PhoneNumber::parse_lenient("+1 (555) 555-0100").unwrap(), n);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

/// Why a phone number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PhoneNumberError {
    /// Empty input.
    #[error("phone number is empty")]
    Empty,
    /// The number does not start with `+`.
    #[error("phone number must start with '+' and the country code (E.164)")]
    MissingPlus,
    /// A character other than an ASCII digit after the `+`.
    #[error("phone number may contain only ASCII digits after '+'")]
    InvalidCharacter,
    /// Country codes never start with 0.
    #[error("phone number must not start with +0")]
    LeadingZero,
    /// Fewer than 2 or more than 15 digits.
    #[error("phone number must have between 2 and 15 digits")]
    InvalidLength,
}

impl PhoneNumber {
    /// Parses a number that must already be canonical E.164 (`^\+[1-9]\d{1,14}$`).
    pub fn parse(input: &str) -> Result<Self, PhoneNumberError> {
        if input.is_empty() {
            return Err(PhoneNumberError::Empty);
        }
        let digits = input
            .strip_prefix('+')
            .ok_or(PhoneNumberError::MissingPlus)?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneNumberError::InvalidCharacter);
        }
        if digits.starts_with('0') {
            return Err(PhoneNumberError::LeadingZero);
        }
        if !(2..=15).contains(&digits.len()) {
            return Err(PhoneNumberError::InvalidLength);
        }
        Ok(Self(input.to_owned()))
    }

    /// Parses a number as a person types it: ASCII spaces, dashes, dots and parentheses between
    /// the digits are removed first; anything else (letters, Unicode digits, control characters,
    /// surrounding whitespace) is refused. Every spelling of one number gives the same value.
    pub fn parse_lenient(input: &str) -> Result<Self, PhoneNumberError> {
        if input.trim_matches(' ') != input {
            return Err(PhoneNumberError::InvalidCharacter);
        }
        let compact: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        Self::parse(&compact)
    }

    /// The canonical E.164 text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with its middle digits hidden, for logs: `+1555***0100`.
    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }
}

/// Masks any phone-like text for logging: keeps `+`, the first 4 and the last 4 characters when
/// the text is long enough, stars otherwise.
pub fn mask_phone(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 8 {
        return "***".to_owned();
    }
    let head: String = chars[..5.min(chars.len())].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}***{tail}")
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for PhoneNumber {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for PhoneNumber {
    type Err = PhoneNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for PhoneNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PhoneNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_canonical_and_refuses_the_rest() {
        for ok in ["+12", "+15555550100", "+123456789012345"] {
            assert!(PhoneNumber::parse(ok).is_ok(), "{ok}");
        }
        let bad = [
            ("", PhoneNumberError::Empty),
            ("15555550100", PhoneNumberError::MissingPlus),
            ("+05555550100", PhoneNumberError::LeadingZero),
            ("+1", PhoneNumberError::InvalidLength),
            ("+1234567890123456", PhoneNumberError::InvalidLength),
            ("++15555550100", PhoneNumberError::InvalidCharacter),
            ("+1555555010a", PhoneNumberError::InvalidCharacter),
            ("+1555\u{0661}550100", PhoneNumberError::InvalidCharacter),
            ("+1555\u{ff10}550100", PhoneNumberError::InvalidCharacter),
            ("+1555\u{200b}5550100", PhoneNumberError::InvalidCharacter),
            ("+15555550100\n", PhoneNumberError::InvalidCharacter),
            ("+1555 5550100", PhoneNumberError::InvalidCharacter),
        ];
        for (input, err) in bad {
            assert_eq!(PhoneNumber::parse(input), Err(err), "{input:?}");
        }
    }

    #[test]
    fn lenient_spellings_collapse_to_one_value() {
        let canonical = PhoneNumber::parse("+15555550100").unwrap();
        for spelling in ["+1 555 555 0100", "+1-555-555-0100", "+1 (555) 555.0100"] {
            assert_eq!(PhoneNumber::parse_lenient(spelling).unwrap(), canonical);
        }
        for bad in [
            " +15555550100",
            "+15555550100 ",
            "+1\t5555550100",
            "1 555 555 0100",
        ] {
            assert!(PhoneNumber::parse_lenient(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_masks() {
        let n = PhoneNumber::parse("+15555550100").unwrap();
        let debug = format!("{n:?}");
        assert!(!debug.contains("5555550100"), "{debug}");
        assert_eq!(n.to_string(), "+15555550100");
        assert_eq!(mask_phone("+1234"), "***");
    }
}
