//! The checks every route makes before any flow logic: method, origin, content type, body.

use serde::de::DeserializeOwned;

use super::EndpointRequest;
use crate::error::{Error, RequestError};

/// Refuses any method but `expected` (exact, upper case: `get` is not `GET`).
pub(super) fn method(request: &EndpointRequest, expected: &str) -> Result<(), Error> {
    if request.method == expected {
        Ok(())
    } else {
        Err(RequestError::MethodNotAllowed.into())
    }
}

/// CSRF defence for state-changing routes: the `Origin` must be the request's own host or one of
/// `allowed`; `Origin: null` is refused; without `Origin`, a `Sec-Fetch-Site: cross-site` or
/// `same-site` is refused. Requests with neither header (non-browser clients) pass.
pub(super) fn same_origin(request: &EndpointRequest, allowed: &[String]) -> Result<(), Error> {
    if let Some(origin) = request.header("origin") {
        if allowed.iter().any(|a| a == origin) {
            return Ok(());
        }
        let own_host = request.header("host").unwrap_or_default();
        let origin_host = url::Url::parse(origin).ok().and_then(|u| {
            let host = u.host_str()?.to_owned();
            Some(match u.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        });
        return match origin_host {
            Some(host) if !own_host.is_empty() && host.eq_ignore_ascii_case(own_host) => Ok(()),
            _ => Err(RequestError::OriginNotAllowed.into()),
        };
    }
    match request.header("sec-fetch-site") {
        Some("cross-site" | "same-site") => Err(RequestError::OriginNotAllowed.into()),
        _ => Ok(()),
    }
}

/// The door of every state-changing JSON route: `POST`, same origin, a JSON body of type `T`.
pub(super) fn post_json<T: DeserializeOwned>(
    request: &EndpointRequest,
    allowed_origins: &[String],
) -> Result<T, Error> {
    method(request, "POST")?;
    same_origin(request, allowed_origins)?;
    json(request)
}

/// Parses a JSON body after checking `Content-Type: application/json`.
pub(super) fn json<T: DeserializeOwned>(request: &EndpointRequest) -> Result<T, Error> {
    let content_type = request.header("content-type").unwrap_or_default();
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

    fn request(headers: &[(&str, &str)]) -> EndpointRequest {
        EndpointRequest {
            method: "POST".into(),
            path: "/x".into(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn origin_rules() {
        let allowed = vec!["https://app.example.com".to_owned()];
        let ok = [
            vec![
                ("host", "127.0.0.1:3000"),
                ("origin", "http://127.0.0.1:3000"),
            ],
            vec![("host", "a.test"), ("origin", "https://a.test")],
            vec![
                ("host", "api.example.com"),
                ("origin", "https://app.example.com"),
            ],
            vec![("host", "a.test")],
            vec![("host", "a.test"), ("sec-fetch-site", "same-origin")],
        ];
        for headers in ok {
            assert!(
                same_origin(&request(&headers), &allowed).is_ok(),
                "{headers:?}"
            );
        }
        let refused = [
            vec![("host", "a.test"), ("origin", "https://evil.example")],
            vec![("host", "a.test"), ("origin", "null")],
            vec![
                ("host", "a.test"),
                ("origin", "https://a.test.evil.example"),
            ],
            vec![("host", "a.test:3000"), ("origin", "http://a.test:3001")],
            vec![("host", "a.test"), ("sec-fetch-site", "cross-site")],
            vec![("host", "a.test"), ("sec-fetch-site", "same-site")],
            vec![("origin", "https://a.test")],
        ];
        for headers in refused {
            assert!(
                same_origin(&request(&headers), &allowed).is_err(),
                "{headers:?}"
            );
        }
    }

    #[test]
    fn json_needs_the_right_content_type() {
        let mut r = request(&[("content-type", "text/plain")]);
        r.body = bytes::Bytes::from_static(b"{}");
        let e = json::<serde_json::Value>(&r).unwrap_err();
        assert_eq!(e.code(), "UNSUPPORTED_MEDIA_TYPE");
        let mut r = request(&[("content-type", "application/json; charset=utf-8")]);
        r.body = bytes::Bytes::from_static(b"{\"a\":1}");
        assert!(json::<serde_json::Value>(&r).is_ok());
        r.body = bytes::Bytes::from_static(b"{\"a\":");
        assert_eq!(
            json::<serde_json::Value>(&r).unwrap_err().code(),
            "BAD_REQUEST"
        );
        assert_eq!(method(&r, "GET").unwrap_err().code(), "METHOD_NOT_ALLOWED");
        let mut lower = r.clone();
        lower.method = "post".into();
        assert!(method(&lower, "POST").is_err());
    }
}
