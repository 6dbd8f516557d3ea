//! The checks at the door of every state-changing route, before any flow logic: same origin and
//! a JSON body. (The method is checked once for every route, from the route table.)

use http::header::{CONTENT_TYPE, ORIGIN};
use serde::de::DeserializeOwned;

use super::io::Incoming;
use crate::error::{Error, RequestError};

/// The door: which origins besides the request's own may call the state-changing routes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Door {
    pub(crate) allowed_origins: Vec<String>,
}

impl Door {
    /// CSRF defence for state-changing routes: the `Origin` must be the request's own authority
    /// (`:authority` or `Host`, whichever it carries) or one of the allowed origins; `Origin:
    /// null` and an `Origin` that is not readable text are refused; without `Origin`, a
    /// `Sec-Fetch-Site: cross-site` or `same-site` is refused. Requests with neither header
    /// (non-browser clients) pass.
    pub(crate) fn same_origin(&self, request: &Incoming) -> Result<(), Error> {
        if request.has_header(ORIGIN) {
            let origin = request
                .header(ORIGIN)
                .ok_or(RequestError::OriginNotAllowed)?;
            if self.allowed_origins.iter().any(|a| a == origin) {
                return Ok(());
            }
            let own = request.authority.as_deref().unwrap_or_default();
            return match host_port(origin) {
                Some(host) if !own.is_empty() && host.eq_ignore_ascii_case(own) => Ok(()),
                _ => Err(RequestError::OriginNotAllowed.into()),
            };
        }
        match request.header("sec-fetch-site") {
            Some("cross-site" | "same-site") => Err(RequestError::OriginNotAllowed.into()),
            _ => Ok(()),
        }
    }

    /// Whether `origin` is this app's: one of the allowed origins, or the request's own
    /// authority (scheme aside).
    pub(crate) fn is_app_origin(&self, request: &Incoming, origin: &str) -> bool {
        if self.allowed_origins.iter().any(|a| a == origin) {
            return true;
        }
        let own = request.authority.as_deref().unwrap_or_default();
        !own.is_empty() && host_port(origin).is_some_and(|h| h.eq_ignore_ascii_case(own))
    }

    /// Same origin, then a JSON body of type `T`.
    pub(crate) fn json<T: DeserializeOwned>(&self, request: &Incoming) -> Result<T, Error> {
        self.same_origin(request)?;
        json(request)
    }
}

/// The `host[:port]` of an origin URL.
fn host_port(origin: &str) -> Option<String> {
    let url = url::Url::parse(origin).ok()?;
    let host = url.host_str()?.to_owned();
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// Parses a JSON body after checking `Content-Type: application/json`.
pub(crate) fn json<T: DeserializeOwned>(request: &Incoming) -> Result<T, Error> {
    let content_type = request.header(CONTENT_TYPE).unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case("application/json") {
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
        };
        let ok: [&[(&str, &[u8])]; 5] = [
            &[
                ("host", b"127.0.0.1:3000"),
                ("origin", b"http://127.0.0.1:3000"),
            ],
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
            &[("host", b"a.test:3000"), ("origin", b"http://a.test:3001")],
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
