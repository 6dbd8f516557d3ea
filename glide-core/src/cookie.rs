//! Cookies as plain strings: rendering `Set-Cookie` values, removal cookies that repeat every
//! attribute, reading a `Cookie` header, and the policy checked when it is built.
//!
//! No `cookie` crate type crosses this module's boundary, so that axum (http 1.x) and actix-web
//! (its own http and cookie versions) both take the same strings.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::Duration;

/// The `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SameSite {
    /// Sent on same-site requests and top-level cross-site navigations (the carrier redirect).
    Lax,
    /// Sent on same-site requests only.
    Strict,
    /// Sent everywhere; requires `Secure`.
    None,
}

impl SameSite {
    fn as_str(self) -> &'static str {
        match self {
            Self::Lax => "Lax",
            Self::Strict => "Strict",
            Self::None => "None",
        }
    }
}

/// Why a cookie configuration was refused when built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CookieConfigError {
    /// Names, paths and domains must not contain separators or control characters.
    #[error("cookie {0} contains a forbidden character")]
    ForbiddenCharacter(&'static str),
    /// `__Host-` cookies must be `Secure`, have `Path=/` and no `Domain`.
    #[error("a __Host- cookie must be Secure, with Path=/ and no Domain")]
    HostPrefix,
    /// `__Secure-` cookies must be `Secure`.
    #[error("a __Secure- cookie must be Secure")]
    SecurePrefix,
    /// `SameSite=None` requires `Secure`.
    #[error("SameSite=None requires Secure")]
    SameSiteNoneInsecure,
    /// The path must start with `/`.
    #[error("cookie path must start with '/'")]
    RelativePath,
}

/// Everything about a cookie but its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSpec {
    /// The cookie's name.
    pub name: Cow<'static, str>,
    /// `Path`, default `/`.
    pub path: Cow<'static, str>,
    /// `Domain`, default none (host-only).
    pub domain: Option<Cow<'static, str>>,
    /// `Secure`.
    pub secure: bool,
    /// `HttpOnly`.
    pub http_only: bool,
    /// `SameSite`.
    pub same_site: SameSite,
    /// `Max-Age`; `None` makes a session cookie.
    pub max_age: Option<Duration>,
}

impl CookieSpec {
    /// A secure, HttpOnly, `SameSite=Lax`, `Path=/` cookie named `name`.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self {
            name: name.into(),
            path: Cow::Borrowed("/"),
            domain: None,
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            max_age: None,
        }
    }

    /// Checks the prefix rules and forbidden characters.
    pub fn validate(&self) -> Result<(), CookieConfigError> {
        if !is_token(&self.name) {
            return Err(CookieConfigError::ForbiddenCharacter("name"));
        }
        if !self.path.starts_with('/') {
            return Err(CookieConfigError::RelativePath);
        }
        if !is_attribute_value(&self.path) {
            return Err(CookieConfigError::ForbiddenCharacter("path"));
        }
        if let Some(domain) = &self.domain {
            if !is_attribute_value(domain) || domain.is_empty() {
                return Err(CookieConfigError::ForbiddenCharacter("domain"));
            }
        }
        if self.name.starts_with("__Host-")
            && !(self.secure && self.path == "/" && self.domain.is_none())
        {
            return Err(CookieConfigError::HostPrefix);
        }
        if self.name.starts_with("__Secure-") && !self.secure {
            return Err(CookieConfigError::SecurePrefix);
        }
        if self.same_site == SameSite::None && !self.secure {
            return Err(CookieConfigError::SameSiteNoneInsecure);
        }
        Ok(())
    }

    /// The `Set-Cookie` value that stores `value` under this spec's name.
    ///
    /// ```
    /// use glide_core::cookie::CookieSpec;
    /// let mut spec = CookieSpec::new("__Host-glide_session");
    /// spec.max_age = Some(std::time::Duration::from_secs(60));
    /// assert_eq!(
    ///     spec.set_header("abc"),
    ///     "__Host-glide_session=abc; HttpOnly; SameSite=Lax; Path=/; Max-Age=60; Secure"
    /// );
    /// ```
    pub fn set_header(&self, value: &str) -> String {
        self.render(&self.name, value, self.max_age.map(|d| d.as_secs()), false)
    }

    /// The `Set-Cookie` value that stores `value` under another name with these attributes
    /// (used for per-flow names such as `_glide_bind_{session_key}`).
    pub fn set_header_named(&self, name: &str, value: &str) -> String {
        self.render(name, value, self.max_age.map(|d| d.as_secs()), false)
    }

    /// The `Set-Cookie` value that removes this cookie: every attribute repeated, `Max-Age=0` and
    /// an `Expires` in 1970.
    pub fn removal_header(&self) -> String {
        self.render(&self.name, "", Some(0), true)
    }

    /// The removal `Set-Cookie` value for another name with these attributes.
    pub fn removal_header_named(&self, name: &str) -> String {
        self.render(name, "", Some(0), true)
    }

    fn render(&self, name: &str, value: &str, max_age: Option<u64>, expire: bool) -> String {
        let mut out = format!("{name}={value}");
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        let _ = write!(out, "; SameSite={}", self.same_site.as_str());
        let _ = write!(out, "; Path={}", self.path);
        if let Some(max_age) = max_age {
            let _ = write!(out, "; Max-Age={max_age}");
        }
        if expire {
            out.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
        }
        if self.secure {
            out.push_str("; Secure");
        }
        if let Some(domain) = &self.domain {
            let _ = write!(out, "; Domain={domain}");
        }
        out
    }
}

/// Joins the values of several `Cookie` request headers (HTTP/2 may split one into many) into the
/// single header value the other functions here read; `None` when there is none.
///
/// ```
/// use glide_core::cookie::join_cookie_headers;
/// assert_eq!(join_cookie_headers(["a=1", "b=2"]).as_deref(), Some("a=1; b=2"));
/// assert_eq!(join_cookie_headers(Vec::<&str>::new()), None);
/// ```
pub fn join_cookie_headers<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut values = values.into_iter();
    let first = values.next()?.to_owned();
    Some(values.fold(first, |mut joined, value| {
        joined.push_str("; ");
        joined.push_str(value);
        joined
    }))
}

/// Iterates over the `name=value` pairs of a `Cookie` request header, in order.
///
/// Pairs without `=` are skipped; surrounding spaces are trimmed; values are not decoded.
pub fn cookie_pairs(header: &str) -> impl Iterator<Item = (&str, &str)> {
    header.split(';').filter_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        Some((name, value.trim().trim_matches('"')))
    })
}

/// The value of the cookie called `name` in a `Cookie` header.
///
/// When a browser sends the same name twice (a `Path` or `Domain` variant), the first one wins,
/// as with the most specific path in RFC 6265 ordering.
pub fn find_cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    cookie_pairs(header)
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'(' | b')'
                        | b'<'
                        | b'>'
                        | b'@'
                        | b','
                        | b';'
                        | b':'
                        | b'\\'
                        | b'"'
                        | b'/'
                        | b'['
                        | b']'
                        | b'?'
                        | b'='
                        | b'{'
                        | b'}'
                )
        })
}

fn is_attribute_value(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_graphic() && b != b';')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_repeats_every_attribute() {
        let mut spec = CookieSpec::new("sid");
        spec.domain = Some("example.com".into());
        spec.max_age = Some(Duration::from_secs(300));
        let set = spec.set_header("v");
        let remove = spec.removal_header();
        for attr in [
            "HttpOnly",
            "SameSite=Lax",
            "Path=/",
            "Secure",
            "Domain=example.com",
        ] {
            assert!(set.contains(attr), "{set}");
            assert!(remove.contains(attr), "{remove}");
        }
        assert!(remove.starts_with("sid=;"));
        assert!(remove.contains("Max-Age=0"));
        assert!(remove.contains("Expires=Thu, 01 Jan 1970 00:00:00 GMT"));
    }

    #[test]
    fn prefix_rules() {
        let mut host = CookieSpec::new("__Host-x");
        assert_eq!(host.validate(), Ok(()));
        host.secure = false;
        assert_eq!(host.validate(), Err(CookieConfigError::HostPrefix));
        let mut host = CookieSpec::new("__Host-x");
        host.path = "/app".into();
        assert_eq!(host.validate(), Err(CookieConfigError::HostPrefix));
        let mut host = CookieSpec::new("__Host-x");
        host.domain = Some("a.com".into());
        assert_eq!(host.validate(), Err(CookieConfigError::HostPrefix));
        let mut sec = CookieSpec::new("__Secure-x");
        sec.secure = false;
        assert_eq!(sec.validate(), Err(CookieConfigError::SecurePrefix));
        let mut none = CookieSpec::new("x");
        none.same_site = SameSite::None;
        none.secure = false;
        assert_eq!(
            none.validate(),
            Err(CookieConfigError::SameSiteNoneInsecure)
        );
        for bad in ["a;b", "a=b", "a b", "", "a\r\n"] {
            assert!(
                CookieSpec::new(bad.to_owned()).validate().is_err(),
                "{bad:?}"
            );
        }
        let mut p = CookieSpec::new("x");
        p.path = "app".into();
        assert_eq!(p.validate(), Err(CookieConfigError::RelativePath));
    }

    #[test]
    fn finds_cookies() {
        let header = "a=1; _glide_bind_abc=ff00;b=\"2\" ; junk; a=3";
        assert_eq!(find_cookie(header, "a"), Some("1"));
        assert_eq!(find_cookie(header, "b"), Some("2"));
        assert_eq!(find_cookie(header, "_glide_bind_abc"), Some("ff00"));
        assert_eq!(find_cookie(header, "junk"), None);
        assert_eq!(cookie_pairs(header).count(), 4);
    }
}
