//! The engine's cookies, on top of the `cookie` crate: a [`CookieSpec`] (every attribute but the
//! value, checked once when the engine is built) that renders `Set-Cookie` values and removal
//! cookies repeating every attribute, and a [`Jar`] holding a request's `Cookie` headers, parsed
//! once per request.

use std::borrow::Cow;
use std::time::Duration;

use cookie::Cookie;
use http::header::{HeaderMap, COOKIE};

pub(crate) use cookie::SameSite;

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
pub(crate) struct CookieSpec {
    /// The cookie's name.
    pub(crate) name: Cow<'static, str>,
    /// `Path`, default `/`.
    pub(crate) path: Cow<'static, str>,
    /// `Domain`, default none (host-only).
    pub(crate) domain: Option<Cow<'static, str>>,
    /// `Secure`.
    pub(crate) secure: bool,
    /// `HttpOnly`.
    pub(crate) http_only: bool,
    /// `SameSite`.
    pub(crate) same_site: SameSite,
    /// `Max-Age`; `None` makes a session cookie.
    pub(crate) max_age: Option<Duration>,
}

impl CookieSpec {
    /// A secure, HttpOnly, `SameSite=Lax`, `Path=/` cookie named `name`.
    pub(crate) fn new(name: impl Into<Cow<'static, str>>) -> Self {
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

    /// A spec whose name carries the `__Host-` prefix when `secure` (the prefix a sibling
    /// subdomain cannot plant), and none over plain-http local development.
    pub(crate) fn host_only(name: &str, secure: bool, max_age: Duration) -> Self {
        let mut spec = if secure {
            Self::new(format!("__Host-{name}"))
        } else {
            Self::new(name.to_owned())
        };
        spec.secure = secure;
        spec.max_age = Some(max_age);
        spec
    }

    /// Checks the prefix rules and forbidden characters.
    pub(crate) fn validate(&self) -> Result<(), CookieConfigError> {
        self.validate_name(&self.name)?;
        if !self.path.starts_with('/') {
            return Err(CookieConfigError::RelativePath);
        }
        if !is_attribute_value(&self.path) {
            return Err(CookieConfigError::ForbiddenCharacter("path"));
        }
        if let Some(domain) = &self.domain {
            if domain.is_empty() || !is_attribute_value(domain) {
                return Err(CookieConfigError::ForbiddenCharacter("domain"));
            }
        }
        if self.same_site == SameSite::None && !self.secure {
            return Err(CookieConfigError::SameSiteNoneInsecure);
        }
        Ok(())
    }

    /// Checks a name (this spec's, or a per-flow one) against the token grammar and the prefix
    /// rules under this spec's attributes.
    pub(crate) fn validate_name(&self, name: &str) -> Result<(), CookieConfigError> {
        if !is_token(name) {
            return Err(CookieConfigError::ForbiddenCharacter("name"));
        }
        if name.starts_with("__Host-")
            && !(self.secure && self.path == "/" && self.domain.is_none())
        {
            return Err(CookieConfigError::HostPrefix);
        }
        if name.starts_with("__Secure-") && !self.secure {
            return Err(CookieConfigError::SecurePrefix);
        }
        Ok(())
    }

    /// The cookie that stores `value` under this spec's name.
    pub(crate) fn set(&self, value: &str) -> Cookie<'static> {
        self.build(self.name.to_string(), value.to_owned(), false)
    }

    /// The cookie that stores `value` under another name with these attributes (per-flow names
    /// such as `_glide_bind_{session_key}`).
    pub(crate) fn set_named(&self, name: &str, value: &str) -> Cookie<'static> {
        self.build(name.to_owned(), value.to_owned(), false)
    }

    /// The cookie that removes this one: every attribute repeated, `Max-Age=0` and an `Expires`
    /// in 1970.
    pub(crate) fn removal(&self) -> Cookie<'static> {
        self.build(self.name.to_string(), String::new(), true)
    }

    /// The removal cookie for another name with these attributes.
    pub(crate) fn removal_named(&self, name: &str) -> Cookie<'static> {
        self.build(name.to_owned(), String::new(), true)
    }

    fn build(&self, name: String, value: String, remove: bool) -> Cookie<'static> {
        let mut builder = Cookie::build((name, value))
            .http_only(self.http_only)
            .same_site(self.same_site)
            .path(self.path.to_string())
            .secure(self.secure);
        if let Some(domain) = &self.domain {
            builder = builder.domain(domain.to_string());
        }
        if remove {
            builder = builder
                .max_age(time::Duration::ZERO)
                .expires(time::OffsetDateTime::UNIX_EPOCH);
        } else if let Some(max_age) = self.max_age {
            // Relaxing is safe: only a configured age beyond i64 seconds saturates, and the
            // server-side lifetime decides whether the cookie's value is still a session.
            let secs = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
            builder = builder.max_age(time::Duration::seconds(secs));
        }
        builder.build()
    }
}

/// The cookies of one request: every `Cookie` header (HTTP/2 may split them) parsed once.
///
/// When a browser sends the same name twice (a `Path` or `Domain` variant), the first one wins,
/// as with the most specific path in RFC 6265 ordering. Pairs that are not `name=value` are
/// skipped. Kept compact (a waiting desktop call holds its request's jar while it waits): the
/// names and values only, and an index sorted by name for lookups.
#[derive(Debug, Default, Clone)]
pub(crate) struct Jar {
    /// `(name, value)` in the order received, each name once; values without their
    /// surrounding double quotes.
    pairs: Vec<(Box<str>, Box<str>)>,
    /// Indices into `pairs`, sorted by name.
    by_name: Vec<usize>,
}

impl Jar {
    /// Parses every `Cookie` header of a request.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        let mut out = Self::default();
        for value in headers.get_all(COOKIE) {
            let Ok(text) = std::str::from_utf8(value.as_bytes()) else {
                continue;
            };
            out.add_header(text);
        }
        out.pairs.shrink_to_fit();
        out.by_name.shrink_to_fit();
        out
    }

    /// Parses one `Cookie` header value.
    #[cfg(test)]
    pub(crate) fn parse(header: &str) -> Self {
        let mut out = Self::default();
        out.add_header(header);
        out
    }

    fn add_header(&mut self, header: &str) {
        for cookie in Cookie::split_parse(header).flatten() {
            if cookie.name().is_empty() {
                continue;
            }
            if let Err(at) = self.find(cookie.name()) {
                self.by_name.insert(at, self.pairs.len());
                self.pairs
                    .push((cookie.name().into(), cookie.value_trimmed().into()));
            }
        }
    }

    /// Where `name` is in `by_name`, or where it would go.
    fn find(&self, name: &str) -> Result<usize, usize> {
        self.by_name
            .binary_search_by(|&i| self.pairs[i].0.as_ref().cmp(name))
    }

    /// The value of the cookie called `name`, surrounding double quotes removed.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        let at = self.find(name).ok()?;
        Some(&self.pairs[self.by_name[at]].1)
    }

    /// The names received, in order, each once.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(name, _)| name.as_ref())
    }
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
    fn set_cookie_carries_every_attribute() {
        let mut spec = CookieSpec::new("__Host-glide_session");
        spec.max_age = Some(Duration::from_secs(60));
        assert_eq!(
            spec.set("abc").to_string(),
            "__Host-glide_session=abc; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=60"
        );
    }

    #[test]
    fn removal_repeats_every_attribute() {
        let mut spec = CookieSpec::new("sid");
        spec.domain = Some("example.com".into());
        spec.max_age = Some(Duration::from_secs(300));
        let set = spec.set("v").to_string();
        let remove = spec.removal().to_string();
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
        assert!(remove.starts_with("sid=;"), "{remove}");
        assert!(remove.contains("Max-Age=0"));
        assert!(remove.contains("Expires=Thu, 01 Jan 1970 00:00:00 GMT"));
        let insecure = CookieSpec::host_only("x", false, Duration::from_secs(5));
        assert!(!insecure.removal().to_string().contains("Secure"));
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
        for bad in ["a;b", "a=b", "a b", "", "a\r\n", "a,b", "a:b"] {
            assert!(
                CookieSpec::new(bad.to_owned()).validate().is_err(),
                "{bad:?}"
            );
        }
        let mut p = CookieSpec::new("x");
        p.path = "app".into();
        assert_eq!(p.validate(), Err(CookieConfigError::RelativePath));
        assert_eq!(
            CookieSpec::host_only("glide", true, Duration::from_secs(1)).name,
            "__Host-glide"
        );
    }

    #[test]
    fn attribute_injection_through_path_or_domain_is_refused() {
        for bad in ["/a;b", "/a b", "/a\r\nSet-Cookie: x=1", "/\u{7f}", "/é"] {
            let mut spec = CookieSpec::new("x");
            spec.path = bad.to_owned().into();
            assert_eq!(
                spec.validate(),
                Err(CookieConfigError::ForbiddenCharacter("path")),
                "{bad:?}"
            );
        }
        for bad in ["", "a.com; Secure", "a .com", "a.com\r\n", "a.com;"] {
            let mut spec = CookieSpec::new("x");
            spec.domain = Some(bad.to_owned().into());
            assert_eq!(
                spec.validate(),
                Err(CookieConfigError::ForbiddenCharacter("domain")),
                "{bad:?}"
            );
        }
        let mut ok = CookieSpec::new("x");
        ok.path = "/app".into();
        ok.domain = Some("example.com".into());
        assert_eq!(ok.validate(), Ok(()));
    }

    #[test]
    fn jar_reads_split_headers_and_keeps_the_first_of_a_name() {
        let mut headers = HeaderMap::new();
        headers.append(
            COOKIE,
            "a=1; _glide_bind_abc=ff00;b=\"2\" ; junk"
                .parse()
                .expect("header"),
        );
        headers.append(COOKIE, "a=3; c=4".parse().expect("header"));
        let jar = Jar::from_headers(&headers);
        assert_eq!(jar.get("a"), Some("1"));
        assert_eq!(jar.get("b"), Some("2"));
        assert_eq!(jar.get("c"), Some("4"));
        assert_eq!(jar.get("_glide_bind_abc"), Some("ff00"));
        assert_eq!(jar.get("junk"), None);
        assert_eq!(
            jar.names().collect::<Vec<_>>(),
            ["a", "_glide_bind_abc", "b", "c"]
        );
        assert_eq!(Jar::parse("x=1").get("x"), Some("1"));
    }
}
