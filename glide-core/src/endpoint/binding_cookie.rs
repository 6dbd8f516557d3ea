//! The per-flow binding cookie (`__Host-_glide_bind_{session_key}`, or `_glide_bind_…` over
//! plain-http development): set at prepare for every strategy, holding the flow's `fe_code`,
//! required by `process`, `complete` and `status` of that flow, removed at its end. A flow's
//! session key alone is worth nothing without it.

use std::time::Duration;

use cookie::Cookie;

use super::io::Incoming;
use crate::binding::{validate_session_key, FeCode};
use crate::cookie::CookieSpec;
use crate::error::{BindingError, Error};

/// The name every binding cookie starts with, after the `__Host-` prefix in secure mode.
const BASE_NAME: &str = "_glide_bind_";
/// The lifetime of a binding cookie (Glide's SDKs: 300 s).
const MAX_AGE: Duration = Duration::from_secs(300);
/// At most this many stale binding cookies are removed per response, however many a request
/// carries (a header of a thousand names must not buy a thousand `Set-Cookie`s).
pub(crate) const MAX_STALE_REMOVALS: usize = 8;

/// The binding cookies of one engine.
#[derive(Debug, Clone)]
pub(crate) struct BindingCookies {
    spec: CookieSpec,
}

impl BindingCookies {
    /// Binding cookies under the engine's cookie mode.
    pub(crate) fn new(secure: bool) -> Self {
        Self {
            spec: CookieSpec::host_only(BASE_NAME, secure, MAX_AGE),
        }
    }

    /// The cookie name of a flow.
    fn name(&self, session_key: &str) -> Result<String, Error> {
        validate_session_key(session_key)?;
        Ok(format!("{}{session_key}", self.spec.name))
    }

    /// The cookie that binds `session_key` to this browser.
    pub(crate) fn set(&self, session_key: &str, code: &FeCode) -> Result<Cookie<'static>, Error> {
        Ok(self.spec.set_named(&self.name(session_key)?, code.secret()))
    }

    /// The cookie that removes the binding of `session_key`.
    pub(crate) fn clear(&self, session_key: &str) -> Result<Cookie<'static>, Error> {
        Ok(self.spec.removal_named(&self.name(session_key)?))
    }

    /// This browser's code for `session_key`: 403 `MISSING_BINDING_COOKIE` without one.
    pub(crate) fn read(&self, request: &Incoming, session_key: &str) -> Result<FeCode, Error> {
        let name = self.name(session_key)?;
        request
            .cookies
            .get(&name)
            .and_then(|value| FeCode::parse(value).ok())
            .ok_or_else(|| BindingError::MissingCookie.into())
    }

    /// Removal cookies for the binding cookies of other flows this request carries (one flow per
    /// browser), at most [`MAX_STALE_REMOVALS`].
    pub(crate) fn stale<'a>(
        &'a self,
        request: &'a Incoming,
    ) -> impl Iterator<Item = Cookie<'static>> + 'a {
        request
            .cookies
            .names()
            .filter(|name| {
                name.len() > self.spec.name.len() && name.starts_with(self.spec.name.as_ref())
            })
            .take(MAX_STALE_REMOVALS)
            .map(|name| self.spec.removal_named(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn request(cookie: &str) -> Incoming {
        Incoming::new(
            http::Request::builder()
                .header("cookie", cookie)
                .body(Bytes::new())
                .expect("request"),
        )
    }

    #[test]
    fn names_are_host_prefixed_in_secure_mode_and_keys_cannot_inject() {
        let secure = BindingCookies::new(true);
        let code = FeCode::parse(&"0".repeat(64)).expect("code");
        let set = secure.set("k1", &code).expect("cookie").to_string();
        assert!(set.starts_with("__Host-_glide_bind_k1="), "{set}");
        for attr in [
            "HttpOnly",
            "SameSite=Lax",
            "Path=/",
            "Max-Age=300",
            "Secure",
        ] {
            assert!(set.contains(attr), "{set}");
        }
        let dev = BindingCookies::new(false);
        assert!(dev
            .clear("k1")
            .expect("cookie")
            .to_string()
            .starts_with("_glide_bind_k1=;"));
        for bad in ["", "a;b", "a=b", "a b", "a\r\nb", "é", "a,b"] {
            assert!(secure.set(bad, &code).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reads_only_a_well_formed_code_of_its_own_flow() {
        let cookies = BindingCookies::new(false);
        let value = "F".repeat(64);
        let r = request(&format!(
            "a=1; _glide_bind_k1={value}; _glide_bind_k2=short"
        ));
        assert_eq!(
            cookies.read(&r, "k1").expect("code").secret(),
            "f".repeat(64)
        );
        assert_eq!(
            cookies.read(&r, "k2").unwrap_err().code(),
            "MISSING_BINDING_COOKIE"
        );
        assert_eq!(
            cookies.read(&r, "k3").unwrap_err().code(),
            "MISSING_BINDING_COOKIE"
        );
    }

    #[test]
    fn stale_removals_are_capped() {
        let cookies = BindingCookies::new(false);
        let header: Vec<String> = (0..1000).map(|i| format!("_glide_bind_{i}=x")).collect();
        let r = request(&format!("{}; _glide_bind_=y; other=1", header.join("; ")));
        let removed: Vec<_> = cookies.stale(&r).map(|c| c.name().to_owned()).collect();
        assert_eq!(removed.len(), MAX_STALE_REMOVALS);
        assert_eq!(removed[0], "_glide_bind_0");
    }

    mod properties {
        use super::*;
        use crate::binding::is_hex64;
        use proptest::prelude::*;

        fn cookieish() -> impl Strategy<Value = String> {
            prop::collection::vec(
                prop_oneof![
                    3 => "[a-zA-Z0-9_]{0,8}",
                    2 => Just(BASE_NAME.to_owned()),
                    2 => Just("k1".to_owned()),
                    2 => Just("ab".repeat(32)),
                    2 => Just("AB".repeat(32)),
                    3 => prop::sample::select(vec![";", "=", " ", "\"", "; ", ",", "\t"]).prop_map(str::to_owned),
                    1 => any::<String>(),
                ],
                0..16,
            )
            .prop_map(|parts| parts.concat())
        }

        fn incoming(header: &str) -> Option<Incoming> {
            let request = http::Request::builder()
                .header("cookie", header)
                .body(Bytes::new())
                .ok()?;
            Some(Incoming::new(request))
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            #[test]
            fn a_binding_code_read_is_64_lowercase_hex_and_what_was_set_comes_back(
                header in cookieish(),
                key in prop_oneof![Just("k1".to_owned()), "[ -~]{0,6}", any::<String>()],
            ) {
                let cookies = BindingCookies::new(false);
                let Some(request) = incoming(&header) else { return Ok(()) };
                if let Ok(code) = cookies.read(&request, &key) {
                    prop_assert!(validate_session_key(&key).is_ok(), "accepted for key {:?}", key);
                    prop_assert!(is_hex64(code.secret()));
                    prop_assert_eq!(code.secret(), code.secret().to_ascii_lowercase());
                }
                if validate_session_key(&key).is_ok() {
                    // What we set comes back, whatever else the browser sends after it.
                    let code = FeCode::generate();
                    let set = cookies.set(&key, &code).expect("valid key");
                    let sent = format!("{}={}; {header}", set.name(), set.value());
                    if let Some(request) = incoming(&sent) {
                        prop_assert_eq!(cookies.read(&request, &key).ok(), Some(code));
                    }
                }
            }

            #[test]
            fn stale_binding_cookies_are_prefixed_distinct_and_capped(header in cookieish()) {
                let cookies = BindingCookies::new(false);
                let Some(request) = incoming(&header) else { return Ok(()) };
                let stale: Vec<String> = cookies.stale(&request).map(|c| c.name().to_owned()).collect();
                prop_assert!(stale.len() <= MAX_STALE_REMOVALS);
                let names: Vec<&str> = request.cookies.names().collect();
                for (i, name) in stale.iter().enumerate() {
                    prop_assert!(name.starts_with(BASE_NAME) && name.len() > BASE_NAME.len());
                    prop_assert!(!stale[..i].contains(name));
                    prop_assert!(names.contains(&name.as_str()));
                    prop_assert_eq!(request.cookies.get(name).is_some(), true);
                }
                let any_binding = names.iter().any(|n| n.len() > BASE_NAME.len() && n.starts_with(BASE_NAME));
                prop_assert_eq!(stale.is_empty(), !any_binding);
            }

            #[test]
            fn query_param_finds_what_a_form_serialiser_wrote(
                junk in "[ -~]{0,24}",
                name in "[a-z_]{1,8}",
                value in any::<String>(),
            ) {
                let pair = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair(&name, &value)
                    .finish();
                let uri = format!("/x?{pair}&{}", url::form_urlencoded::byte_serialize(junk.as_bytes()).collect::<String>());
                let request = Incoming::new(http::Request::builder().uri(uri).body(Bytes::new()).expect("request"));
                prop_assert_eq!(request.query_param(&name), Some(value));
            }
        }
    }
}
