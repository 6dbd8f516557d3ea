//! Link device binding: the `fe_code` kept in the browser's binding cookie, its `fe_hash` sent to
//! Glide at prepare, the `agg_code` Glide hands to the completion page, and the binding cookie
//! itself (`_glide_bind_{session_key}`).
//!
//! ```
//! use glide_core::binding::{fe_hash, FeCode};
//! let code = FeCode::generate();
//! assert_eq!(code.secret().len(), 64);
//! // fe_hash is the SHA-256 of the lowercase hex *text*, not of the 32 raw bytes:
//! assert_eq!(code.hash().as_str(), fe_hash(code.secret()));
//! assert_eq!(format!("{code:?}"), "FeCode([redacted])");
//! ```

// `Error` is large because `ApiError` is stored inline in error.rs (boxing it there is the fix).
#![allow(clippy::result_large_err)]

use std::fmt;
use std::time::Duration;

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::cookie::{cookie_pairs, find_cookie, CookieSpec};
use crate::error::{BindingError, Error};

/// The prefix of every binding cookie's name.
pub const BINDING_COOKIE_PREFIX: &str = "_glide_bind_";

/// How long a binding cookie lives when the spec sets no `Max-Age` (Glide's SDKs: 300 s).
pub const BINDING_COOKIE_MAX_AGE: Duration = Duration::from_secs(300);

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
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
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

impl fmt::Display for FeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<FeHash> for String {
    fn from(hash: FeHash) -> Self {
        hash.0
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

/// The binding cookie's name for a session: `_glide_bind_{session_key}`.
///
/// ```
/// use glide_core::binding::binding_cookie_name;
/// assert_eq!(binding_cookie_name("ee25b966c9395f0b").unwrap(), "_glide_bind_ee25b966c9395f0b");
/// assert!(binding_cookie_name("a;b").is_err());
/// assert!(binding_cookie_name("a\r\nSet-Cookie: x").is_err());
/// ```
pub fn binding_cookie_name(session_key: &str) -> Result<String, Error> {
    validate_session_key(session_key)?;
    Ok(format!("{BINDING_COOKIE_PREFIX}{session_key}"))
}

/// The `Set-Cookie` value that stores `fe_code` for `session_key`, with `spec`'s attributes
/// (its name is ignored; `Max-Age` defaults to 300 s when the spec has none).
///
/// ```
/// use glide_core::binding::{set_binding_cookie, FeCode};
/// use glide_core::cookie::CookieSpec;
/// let code = FeCode::parse(&"a".repeat(64)).unwrap();
/// let header = set_binding_cookie(&CookieSpec::new("unused"), "k1", &code).unwrap();
/// assert!(header.starts_with(&format!("_glide_bind_k1={}; HttpOnly", "a".repeat(64))));
/// assert!(header.contains("Max-Age=300"));
/// ```
pub fn set_binding_cookie(
    spec: &CookieSpec,
    session_key: &str,
    fe_code: &FeCode,
) -> Result<String, Error> {
    let name = binding_cookie_name(session_key)?;
    let mut spec = spec.clone();
    if spec.max_age.is_none() {
        spec.max_age = Some(BINDING_COOKIE_MAX_AGE);
    }
    Ok(spec.set_header_named(&name, fe_code.secret()))
}

/// The `Set-Cookie` value that removes the binding cookie of `session_key` (every attribute of
/// `spec` repeated, `Max-Age=0`, `Expires` in 1970).
pub fn clear_binding_cookie(spec: &CookieSpec, session_key: &str) -> Result<String, Error> {
    let name = binding_cookie_name(session_key)?;
    Ok(spec.removal_header_named(&name))
}

/// The `fe_code` in the binding cookie of `session_key`, if the `Cookie` header carries one that
/// is exactly 64 hex characters (returned lowercase).
///
/// ```
/// use glide_core::binding::parse_binding_cookie;
/// let v = "F".repeat(64);
/// let header = format!("a=1; _glide_bind_k1={v}");
/// assert_eq!(parse_binding_cookie(&header, "k1").unwrap().secret(), "f".repeat(64));
/// assert!(parse_binding_cookie("_glide_bind_k1=short", "k1").is_none());
/// assert!(parse_binding_cookie(&header, "k2").is_none());
/// ```
pub fn parse_binding_cookie(cookie_header: &str, session_key: &str) -> Option<FeCode> {
    let name = binding_cookie_name(session_key).ok()?;
    find_cookie(cookie_header, &name).and_then(|value| FeCode::parse(value).ok())
}

/// The names of every binding cookie (`_glide_bind_*`) in a `Cookie` header, without repeats,
/// so that abandoned Link flows can be expired with [`clear_binding_cookie`].
pub fn stale_binding_cookies(cookie_header: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    cookie_pairs(cookie_header)
        .map(|(name, _)| name)
        .filter(|name| {
            name.len() > BINDING_COOKIE_PREFIX.len()
                && name.starts_with(BINDING_COOKIE_PREFIX)
                && seen.insert(*name)
        })
        .map(str::to_owned)
        .collect()
}

/// The session key a binding cookie name belongs to (`_glide_bind_abc` → `abc`).
pub fn session_key_of_cookie(name: &str) -> Option<&str> {
    name.strip_prefix(BINDING_COOKIE_PREFIX)
        .filter(|key| !key.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn session_keys_that_could_inject_are_refused() {
        for bad in ["", "a;b", "a=b", "a b", "a\tb", "a\rb", "a\nb", "é", "a,b"] {
            assert!(binding_cookie_name(bad).is_err(), "{bad:?}");
        }
        assert!(binding_cookie_name("ee25b966c9395f0b").is_ok());
    }

    #[test]
    fn set_and_clear_cookie() {
        let mut spec = CookieSpec::new("x");
        spec.domain = Some("example.com".into());
        let code = FeCode::parse(&"0".repeat(64)).unwrap();
        let set = set_binding_cookie(&spec, "k", &code).unwrap();
        assert_eq!(
            set,
            format!(
                "_glide_bind_k={}; HttpOnly; SameSite=Lax; Path=/; Max-Age=300; Secure; Domain=example.com",
                "0".repeat(64)
            )
        );
        let clear = clear_binding_cookie(&spec, "k").unwrap();
        assert!(clear.starts_with("_glide_bind_k=; "));
        for attr in [
            "HttpOnly",
            "Max-Age=0",
            "Expires=",
            "Secure",
            "Domain=example.com",
        ] {
            assert!(clear.contains(attr), "{clear}");
        }
    }

    #[test]
    fn stale_cookies_listed_once() {
        let header = "_glide_bind_a=1; x=2; _glide_bind_b=3; _glide_bind_a=4; _glide_bind_=5";
        assert_eq!(
            stale_binding_cookies(header),
            vec!["_glide_bind_a".to_owned(), "_glide_bind_b".to_owned()]
        );
        assert_eq!(session_key_of_cookie("_glide_bind_a"), Some("a"));
    }

    #[test]
    fn constant_time() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
