//! Link device binding codes: the `fe_code` kept in the browser's binding cookie, its `fe_hash`
//! sent to Glide at prepare, and the `agg_code` Glide hands to the completion page. (The binding
//! cookie itself belongs to the engine.)
//!
//! ```
//! use glide_core::binding::{fe_hash, FeCode};
//! let code = FeCode::generate();
//! assert_eq!(code.secret().len(), 64);
//! // fe_hash is the SHA-256 of the lowercase hex *text*, not of the 32 raw bytes:
//! assert_eq!(code.hash().as_str(), fe_hash(code.secret()));
//! assert_eq!(format!("{code:?}"), "FeCode([redacted])");
//! ```

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{BindingError, Error};

/// Whether `text` is exactly 64 ASCII hex digits (any case).
pub fn is_hex64(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The front-end binding code: 32 random bytes as 64 lowercase hex characters.
///
/// A secret: `Debug` is redacted, there is no `Display` and no `Serialize`; read it with
/// [`FeCode::secret`] where it has to go on the wire or into the cookie.
#[derive(Clone)]
pub struct FeCode(String);

impl FeCode {
    /// A fresh code from the operating system's CSPRNG.
    pub fn generate() -> Self {
        Self(hex::encode(crate::random::bytes::<32>()))
    }

    /// Accepts 64 hex characters in any case and normalises them to lowercase.
    ///
    /// ```
    /// use glide_core::binding::FeCode;
    /// let code = FeCode::parse(&"AB".repeat(32)).unwrap();
    /// assert_eq!(code.secret(), "ab".repeat(32));
    /// assert!(FeCode::parse("abc").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, BindingError> {
        if is_hex64(text) {
            Ok(Self(text.to_ascii_lowercase()))
        } else {
            Err(BindingError::Failed)
        }
    }

    /// The 64 lowercase hex characters. Never log them.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// The `fe_hash` to send to Glide at prepare.
    pub fn hash(&self) -> FeHash {
        FeHash(fe_hash(&self.0))
    }
}

impl fmt::Debug for FeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FeCode([redacted])")
    }
}

impl PartialEq for FeCode {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for FeCode {}

/// The SHA-256 of an [`FeCode`]'s hex text, as 64 lowercase hex characters. Not a secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FeHash(String);

impl FeHash {
    /// The 64 lowercase hex characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Accepts 64 hex characters in any case and normalises them to lowercase.
    pub fn parse(text: &str) -> Result<Self, BindingError> {
        if is_hex64(text) {
            Ok(Self(text.to_ascii_lowercase()))
        } else {
            Err(BindingError::Failed)
        }
    }
}

/// Lowercase hex SHA-256 of the ASCII text of `fe_code`, lowercased first (Glide's `fe_hash`).
///
/// ```
/// assert_eq!(
///     glide_core::binding::fe_hash(""),
///     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/// );
/// ```
pub fn fe_hash(fe_code: &str) -> String {
    hex::encode(Sha256::digest(fe_code.to_ascii_lowercase().as_bytes()))
}

/// The aggregator code Glide puts in the completion page's URL fragment: 64 hex characters.
///
/// A secret: `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct AggCode(String);

impl AggCode {
    /// Accepts 64 hex characters in any case and normalises them to lowercase.
    pub fn parse(text: &str) -> Result<Self, BindingError> {
        if is_hex64(text) {
            Ok(Self(text.to_ascii_lowercase()))
        } else {
            Err(BindingError::Failed)
        }
    }

    /// The 64 lowercase hex characters. Never log them.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AggCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AggCode([redacted])")
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Checks that a session key can be part of a cookie name: non-empty printable ASCII without
/// `;`, `=`, `,`, `"`, space, tab, CR or LF.
pub fn validate_session_key(session_key: &str) -> Result<(), Error> {
    let ok = !session_key.is_empty()
        && session_key.len() <= 256
        && session_key
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b';' | b'=' | b',' | b'"' | b'\\'));
    if ok {
        Ok(())
    } else {
        Err(Error::validation(
            "session_key",
            "must be printable ASCII without separators",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sixty_four_hex_digits_are_a_code() {
        assert!(is_hex64(&"0123456789abcdefABCDEF".repeat(3)[..64]));
        for text in [
            "a".repeat(63),
            "a".repeat(65),
            // 64 characters, not all hex: the length alone is not enough.
            format!("{}g", "a".repeat(63)),
            "z".repeat(64),
            // 64 bytes, 63 characters.
            format!("{}é", "a".repeat(62)),
            String::new(),
        ] {
            assert!(!is_hex64(&text), "{text:?}");
        }
    }

    #[test]
    fn debug_names_the_secret_without_showing_it() {
        // A struct holding a code logs as `FeCode([redacted])`, never as the code, never as
        // nothing (a reader of the log must see the field was there).
        let fe = FeCode::generate();
        assert_eq!(format!("{fe:?}"), "FeCode([redacted])");
        let agg = AggCode::parse(&"Ab".repeat(32)).expect("64 hex characters");
        assert_eq!(format!("{agg:?}"), "AggCode([redacted])");
    }

    #[test]
    fn generated_codes_are_lowercase_hex_and_distinct() {
        let a = FeCode::generate();
        let b = FeCode::generate();
        assert!(is_hex64(a.secret()));
        assert_eq!(a.secret(), a.secret().to_ascii_lowercase());
        assert_ne!(a, b);
    }

    #[test]
    fn hash_is_of_the_hex_text() {
        let code = FeCode::parse(&"AB".repeat(32)).unwrap();
        let expected = hex::encode(Sha256::digest("ab".repeat(32).as_bytes()));
        assert_eq!(code.hash().as_str(), expected);
        assert_eq!(fe_hash(&"AB".repeat(32)), expected);
    }

    #[test]
    fn constant_time() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
