//! CORS for single-page apps served from another origin than the API: off unless origins are
//! configured; then preflights of the mounted routes are answered for exactly those origins,
//! with credentials, and their actual requests get the matching headers. Nothing is ever
//! reflected for an origin not in the list, and no wildcard is sent.

use std::time::Duration;

use http::header::{
    HeaderValue, ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS,
    ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::{HeaderMap, Method, StatusCode};

use super::io::{self, EndpointResponse};
use super::table::MountedRoute;
use crate::error::{Error, RequestError};

/// The configured CORS origins (empty: CORS off).
#[derive(Debug, Clone, Default)]
pub(crate) struct Cors {
    pub(crate) origins: Vec<String>,
    pub(crate) max_age: Duration,
}

impl Cors {
    /// The request's `Origin` when it is one of the configured origins.
    fn allowed<'a>(&self, headers: &'a HeaderMap) -> Option<&'a HeaderValue> {
        let origin = headers.get(ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.origins.iter().any(|o| o == text).then_some(origin)
    }

    /// The answer to a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
    /// of `route`: 204 with the CORS headers for a configured origin asking for the route's
    /// method; 403 `ORIGIN_NOT_ALLOWED` (no CORS headers) otherwise. `None`: not a preflight.
    pub(crate) fn preflight(
        &self,
        method: &Method,
        headers: &HeaderMap,
        route: &MountedRoute,
    ) -> Option<EndpointResponse> {
        if method != Method::OPTIONS || !headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD) {
            return None;
        }
        let requested = headers
            .get(ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|v| v.to_str().ok());
        let Some(origin) = self
            .allowed(headers)
            .filter(|_| requested == Some(route.method.as_str()))
        else {
            return Some(io::error_response(&Error::Request(
                RequestError::OriginNotAllowed,
            )));
        };
        let mut response = io::empty(StatusCode::NO_CONTENT);
        let out = response.headers_mut();
        out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        out.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        if let Ok(method) = HeaderValue::from_str(route.method.as_str()) {
            out.insert(ACCESS_CONTROL_ALLOW_METHODS, method);
        }
        out.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type"),
        );
        out.insert(
            ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(self.max_age.as_secs()),
        );
        out.append(VARY, HeaderValue::from_static("Origin"));
        Some(response)
    }

    /// Adds the CORS headers of an actual request from a configured origin to its answer.
    pub(crate) fn decorate(&self, request: &HeaderMap, response: &mut EndpointResponse) {
        if self.origins.is_empty() {
            return;
        }
        let headers = response.headers_mut();
        headers.append(VARY, HeaderValue::from_static("Origin"));
        if let Some(origin) = self.allowed(request) {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::table::Route;

    fn route() -> MountedRoute {
        MountedRoute {
            route: Route::Prepare,
            method: Method::POST,
            path: "/api/magical-auth/prepare".into(),
            takes_key: false,
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(n.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn preflights_are_granted_to_exactly_the_configured_origins() {
        let cors = Cors {
            origins: vec!["https://app.example.com".into()],
            max_age: Duration::from_secs(600),
        };
        let ok = cors
            .preflight(
                &Method::OPTIONS,
                &headers(&[
                    ("origin", "https://app.example.com"),
                    ("access-control-request-method", "POST"),
                ]),
                &route(),
            )
            .expect("a preflight");
        assert_eq!(ok.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            ok.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example.com"
        );
        assert_eq!(ok.headers()[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(ok.headers()[ACCESS_CONTROL_ALLOW_METHODS], "POST");
        assert_eq!(ok.headers()[ACCESS_CONTROL_MAX_AGE], "600");
        for refused in [
            headers(&[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "POST"),
            ]),
            headers(&[
                ("origin", "https://app.example.com.evil.example"),
                ("access-control-request-method", "POST"),
            ]),
            headers(&[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "DELETE"),
            ]),
        ] {
            let answer = cors
                .preflight(&Method::OPTIONS, &refused, &route())
                .expect("a preflight");
            assert_eq!(answer.status(), StatusCode::FORBIDDEN);
            assert!(answer.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        }
        assert!(cors
            .preflight(&Method::OPTIONS, &headers(&[]), &route())
            .is_none());
        let mut answer = io::empty(StatusCode::OK);
        cors.decorate(&headers(&[("origin", "https://evil.example")]), &mut answer);
        assert!(answer.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        assert_eq!(answer.headers()[VARY], "Origin");
    }
}
