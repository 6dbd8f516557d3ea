//! The checks Glide makes on requests, made here first so that a bad request fails before
//! anything is sent.

use crate::error::Error;

/// `^\+[1-9]\d{1,14}$`.
pub(crate) fn e164(field: &'static str, number: &str) -> Result<(), Error> {
    crate::PhoneNumber::parse(number)
        .map(|_| ())
        .map_err(|e| Error::validation(field, e.to_string()))
}

/// A string of `min..=max` ASCII digits.
pub(crate) fn digits(field: &'static str, text: &str, min: usize, max: usize) -> Result<(), Error> {
    if (min..=max).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else if min == max {
        Err(Error::validation(field, format!("must be {min} digits")))
    } else {
        Err(Error::validation(
            field,
            format!("must be {min} to {max} digits"),
        ))
    }
}

/// A present, non-blank value without control characters, at most `max` bytes.
pub(crate) fn text(field: &'static str, value: &str, max: usize) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(Error::validation(field, "is required"));
    }
    if value.len() > max {
        return Err(Error::validation(
            field,
            format!("must be at most {max} bytes"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::validation(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// 64 hex characters.
pub(crate) fn hex64(field: &'static str, value: &str) -> Result<(), Error> {
    if crate::binding::is_hex64(value) {
        Ok(())
    } else {
        Err(Error::validation(
            field,
            "must be 64 hexadecimal characters",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_rules() {
        assert!(digits("mcc", "310", 3, 3).is_ok());
        assert!(digits("mcc", "31", 3, 3).is_err());
        assert!(digits("mcc", "31a", 3, 3).is_err());
        assert!(digits("mnc", "26", 2, 3).is_ok());
        assert!(digits("mnc", "2601", 2, 3).is_err());
        assert!(text("x", " ", 10).is_err());
        assert!(text("x", "a\nb", 10).is_err());
        assert!(e164("phone_number", "+15555550100").is_ok());
        assert!(e164("phone_number", "15555550100").is_err());
    }
}
