//! Small helpers: randomness, time, formats, user agents.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::{Rng as _, RngExt as _};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// `n` random bytes as lowercase hex (`2n` chars).
pub(crate) fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// `n` random `[A-Za-z0-9]` chars.
pub(crate) fn random_alnum(n: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

/// The current UTC time.
pub(crate) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// RFC 3339 text of `t` (second precision is enough for every field we emit).
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// `^\+[1-9]\d{1,14}$`.
pub(crate) fn is_e164(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&rest.len())
        && rest.bytes().all(|b| b.is_ascii_digit())
        && !rest.starts_with('0')
}

/// The address of an `ipport:` hint or resource: an IPv4 address or a bracketed IPv6 one, with an
/// optional port (`203.0.113.7`, `203.0.113.7:443`, `[2001:db8::1]:443`), loosely: only its
/// characters and length are checked.
pub(crate) fn is_ipport(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']'))
}

/// 64 hex chars (either case).
pub(crate) fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `len` ASCII digits.
pub(crate) fn is_digits(s: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// Lowercase hex SHA-256 of the text.
pub(crate) fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// base64url without padding.
pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding.
pub(crate) fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Decodes standard or url-safe base64, with or without padding.
pub(crate) fn b64_any_decode(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
    let text = text.trim();
    STANDARD
        .decode(text)
        .or_else(|_| STANDARD_NO_PAD.decode(text))
        .or_else(|_| URL_SAFE.decode(text))
        .or_else(|_| URL_SAFE_NO_PAD.decode(text))
        .ok()
}

/// The browser family of a user agent, or `None` when it cannot be told.
pub(crate) fn browser_family(ua: &str) -> Option<&'static str> {
    let families: [(&str, &str); 9] = [
        ("Edg", "edge"),
        ("OPR/", "opera"),
        ("SamsungBrowser/", "samsung"),
        ("FxiOS/", "firefox"),
        ("Firefox/", "firefox"),
        ("CriOS/", "chrome"),
        ("Chrome/", "chrome"),
        ("Safari/", "safari"),
        ("curl/", "curl"),
    ];
    families
        .iter()
        .find(|(needle, _)| ua.contains(needle))
        .map(|(_, family)| *family)
}

/// A phone number masked for logs: `+1555*****00`.
pub(crate) fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 6 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 6))
}

/// Compares two strings in constant time (for their length).
pub(crate) fn ct_eq(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164() {
        assert!(is_e164("+15555550100"));
        assert!(!is_e164("15555550100"));
        assert!(!is_e164("+05555550100"));
        assert!(!is_e164("+1"));
        assert!(!is_e164("+1234567890123456"));
        assert!(!is_e164("+1555a"));
    }

    #[test]
    fn families() {
        let chrome =
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36";
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Version/17.0 Mobile/15E148 Safari/604.1";
        let edge = "Mozilla/5.0 (Windows NT 10.0) Chrome/126.0 Safari/537.36 Edg/126.0";
        assert_eq!(browser_family(chrome), Some("chrome"));
        assert_eq!(browser_family(safari), Some("safari"));
        assert_eq!(browser_family(edge), Some("edge"));
        assert_eq!(browser_family("unknown"), None);
    }

    #[test]
    fn masking() {
        assert_eq!(mask_phone("+15555550100"), "+155******00");
        assert_eq!(random_hex(8).len(), 16);
        assert_eq!(random_alnum(32).len(), 32);
    }
}
