//! The checks at the door of every state-changing route, before any flow logic: same origin and
//! a JSON body. (The method is checked once for every route, from the route table.)

use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, ORIGIN};
use http::HeaderMap;
use serde::de::DeserializeOwned;

use super::io::Incoming;
use crate::error::{Error, RequestError};

const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// The door: the scheme this app is served on, and which origins besides the request's own may
/// call the state-changing routes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Door {
    pub(crate) allowed_origins: Vec<String>,
    /// `https` (secure cookies) or `http` (local development): the scheme of the app's own
    /// origin when the request does not say it (HTTP/1 origin-form).
    pub(crate) scheme: &'static str,
}

impl Door {
    /// CSRF defence for state-changing routes: the `Origin` must be the app's own (this app's
    /// scheme and the request's authority, `:authority` or `Host`, whichever it carries) or one
    /// of the allowed origins; `Origin: null` and an `Origin` that is not readable text are
    /// refused; without `Origin`, a `Sec-Fetch-Site: cross-site` or `same-site` is refused.
    /// Requests with neither header (non-browser clients) pass.
    pub(crate) fn same_origin(&self, request: &Incoming) -> Result<(), Error> {
        self.check_origin(
            &request.headers,
            request.authority.as_deref(),
            request.scheme.as_deref(),
        )
    }

    /// [`same_origin`](Self::same_origin) on a request's parts: its headers, the authority it
    /// was sent to and the scheme it names, if any.
    pub(crate) fn check_origin(
        &self,
        headers: &HeaderMap,
        authority: Option<&str>,
        scheme: Option<&str>,
    ) -> Result<(), Error> {
        if let Some(origin) = headers.get(ORIGIN) {
            let origin = origin
                .to_str()
                .map_err(|_| RequestError::OriginNotAllowed)?;
            return if self.is_own_origin(authority, scheme, origin) {
                Ok(())
            } else {
                Err(RequestError::OriginNotAllowed.into())
            };
        }
        match headers.get(SEC_FETCH_SITE).map(HeaderValue::as_bytes) {
            Some(b"cross-site" | b"same-site") => Err(RequestError::OriginNotAllowed.into()),
            _ => Ok(()),
        }
    }

    /// Whether `origin` is this app's: one of the allowed origins, or the request's own
    /// authority on the app's scheme (an `https://` origin on an http app, `ws://` or `ftp://`
    /// with the app's host are someone else's).
    pub(crate) fn is_app_origin(&self, request: &Incoming, origin: &str) -> bool {
        self.is_own_origin(
            request.authority.as_deref(),
            request.scheme.as_deref(),
            origin,
        )
    }

    fn is_own_origin(&self, authority: Option<&str>, scheme: Option<&str>, origin: &str) -> bool {
        if self.allowed_origins.iter().any(|a| a == origin) {
            return true;
        }
        let own = authority.unwrap_or_default();
        let scheme = scheme.unwrap_or(self.scheme);
        !own.is_empty()
            && scheme_host_port(origin)
                .is_some_and(|(s, h)| s.eq_ignore_ascii_case(scheme) && h.eq_ignore_ascii_case(own))
    }

    /// Same origin, then a JSON body of type `T`.
    pub(crate) fn json<T: DeserializeOwned>(&self, request: &Incoming) -> Result<T, Error> {
        self.same_origin(request)?;
        json(request)
    }

    /// Same origin, for a state-changing route without a body: the request carries either no
    /// `Content-Type` and no body, or `application/json` (what glide.js sends). A body a
    /// cross-site form or a `no-cors` fetch can send (`text/plain`, a form) is refused with
    /// 415 even where the browser sent no `Origin`.
    pub(crate) fn bodiless(&self, request: &Incoming) -> Result<(), Error> {
        self.same_origin(request)?;
        if !request.has_header(CONTENT_TYPE) && request.body.is_empty() {
            return Ok(());
        }
        if is_json(request) {
            Ok(())
        } else {
            Err(RequestError::UnsupportedMediaType.into())
        }
    }
}

/// The scheme and `host[:port]` of an origin URL.
fn scheme_host_port(origin: &str) -> Option<(String, String)> {
    let url = url::Url::parse(origin).ok()?;
    let host = url.host_str()?.to_owned();
    let host_port = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    };
    Some((url.scheme().to_owned(), host_port))
}

/// Whether the request says `Content-Type: application/json` (parameters aside).
fn is_json(request: &Incoming) -> bool {
    let content_type = request.header(CONTENT_TYPE).unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    media.eq_ignore_ascii_case("application/json")
}

/// Parses a JSON body after checking `Content-Type: application/json`.
pub(crate) fn json<T: DeserializeOwned>(request: &Incoming) -> Result<T, Error> {
    if !is_json(request) {
        return Err(RequestError::UnsupportedMediaType.into());
    }
    serde_json::from_slice(&request.body)
        .map_err(|e| RequestError::MalformedBody(e.to_string()).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderValue;

    fn request(headers: &[(&str, &[u8])]) -> Incoming {
        let mut builder = http::Request::builder().method("POST").uri("/x");
        for (name, value) in headers {
            builder = builder.header(*name, HeaderValue::from_bytes(value).expect("value"));
        }
        Incoming::new(builder.body(Bytes::new()).expect("request"))
    }

    fn h2(authority: &str, origin: &str) -> Incoming {
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("https://{authority}/x"))
            .header("origin", origin)
            .body(Bytes::new())
            .expect("request");
        Incoming::new(request)
    }

    #[test]
    fn origin_rules() {
        let door = Door {
            allowed_origins: vec!["https://app.example.com".to_owned()],
            scheme: "https",
        };
        let dev = Door {
            scheme: "http",
            ..door.clone()
        };
        assert!(dev
            .same_origin(&request(&[
                ("host", b"127.0.0.1:3000"),
                ("origin", b"http://127.0.0.1:3000"),
            ]))
            .is_ok());
        // The scheme is part of the origin: on an http app an https, ws or ftp origin with its
        // host and port is someone else's, and the other way round.
        for origin in [
            &b"https://127.0.0.1:3000"[..],
            b"ws://127.0.0.1:3000",
            b"ftp://127.0.0.1:3000",
        ] {
            let headers: &[(&str, &[u8])] = &[("host", b"127.0.0.1:3000"), ("origin", origin)];
            assert!(dev.same_origin(&request(headers)).is_err(), "{headers:?}");
        }
        for origin in [&b"http://a.test"[..], b"wss://a.test"] {
            let headers: &[(&str, &[u8])] = &[("host", b"a.test"), ("origin", origin)];
            assert!(door.same_origin(&request(headers)).is_err(), "{headers:?}");
        }
        // A request naming its scheme (HTTP/2 `:scheme`) is compared with that.
        assert!(dev.same_origin(&h2("a.test", "https://a.test")).is_ok());
        assert!(dev.same_origin(&h2("a.test", "http://a.test")).is_err());
        let ok: [&[(&str, &[u8])]; 4] = [
            &[("host", b"a.test"), ("origin", b"https://a.test")],
            &[
                ("host", b"api.example.com"),
                ("origin", b"https://app.example.com"),
            ],
            &[("host", b"a.test")],
            &[("host", b"a.test"), ("sec-fetch-site", b"same-origin")],
        ];
        for headers in ok {
            assert!(door.same_origin(&request(headers)).is_ok(), "{headers:?}");
        }
        let refused: [&[(&str, &[u8])]; 8] = [
            &[("host", b"a.test"), ("origin", b"https://evil.example")],
            &[("host", b"a.test"), ("origin", b"null")],
            &[
                ("host", b"a.test"),
                ("origin", b"https://a.test.evil.example"),
            ],
            &[("host", b"a.test:3000"), ("origin", b"https://a.test:3001")],
            &[("host", b"a.test"), ("sec-fetch-site", b"cross-site")],
            &[("host", b"a.test"), ("sec-fetch-site", b"same-site")],
            &[("origin", b"https://a.test")],
            // An Origin that is not text is a foreign one, not a missing one.
            &[("host", b"a.test"), ("origin", b"https://a.test\xff")],
        ];
        for headers in refused {
            assert!(door.same_origin(&request(headers)).is_err(), "{headers:?}");
        }
        // HTTP/2 carries no Host: the :authority is compared.
        assert!(door.same_origin(&h2("a.test", "https://a.test")).is_ok());
        assert!(door.same_origin(&h2("a.test", "https://b.test")).is_err());
    }

    #[test]
    fn bodiless_routes_refuse_what_a_form_can_send() {
        let door = Door {
            allowed_origins: Vec::new(),
            scheme: "http",
        };
        let with = |headers: &[(&str, &[u8])], body: &'static [u8]| {
            let mut r = request(headers);
            r.body = Bytes::from_static(body);
            r
        };
        assert!(door.bodiless(&with(&[("host", b"a.test")], b"")).is_ok());
        assert!(door
            .bodiless(&with(
                &[("host", b"a.test"), ("content-type", b"application/json")],
                b"{}"
            ))
            .is_ok());
        for (content_type, body) in [
            (&b"text/plain"[..], &b"x"[..]),
            (b"application/x-www-form-urlencoded", b"a=1"),
            (b"multipart/form-data; boundary=x", b""),
            (b"text/plain", b""),
        ] {
            let refused = door
                .bodiless(&with(
                    &[("host", b"a.test"), ("content-type", content_type)],
                    body,
                ))
                .unwrap_err();
            assert_eq!(refused.code(), "UNSUPPORTED_MEDIA_TYPE");
        }
        // A body without a type is what a `no-cors` fetch of a string sends.
        let refused = door
            .bodiless(&with(&[("host", b"a.test")], b"x"))
            .unwrap_err();
        assert_eq!(refused.code(), "UNSUPPORTED_MEDIA_TYPE");
    }

    #[test]
    fn json_needs_the_right_content_type() {
        let with = |content_type: &[u8], body: &'static [u8]| {
            let mut r = request(&[("content-type", content_type)]);
            r.body = Bytes::from_static(body);
            r
        };
        let e = json::<serde_json::Value>(&with(b"text/plain", b"{}")).unwrap_err();
        assert_eq!(e.code(), "UNSUPPORTED_MEDIA_TYPE");
        assert!(
            json::<serde_json::Value>(&with(b"application/json; charset=utf-8", b"{\"a\":1}"))
                .is_ok()
        );
        assert_eq!(
            json::<serde_json::Value>(&with(b"application/json", b"{\"a\":"))
                .unwrap_err()
                .code(),
            "BAD_REQUEST"
        );
    }
}
