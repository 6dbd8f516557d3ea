//! Turning Glide's error answers into [`ApiError`], as Glide's Go SDK does.

use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;

/// The code Glide's Go SDK derives from a status when the body has none.
pub fn code_for_status(status: u16) -> &'static str {
    match status {
        400 => "BAD_REQUEST",
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "SESSION_NOT_FOUND",
        409 => "SESSION_NOT_ELIGIBLE",
        422 => "VALIDATION_ERROR",
        429 => "RATE_LIMIT_EXCEEDED",
        _ => "INTERNAL_SERVER_ERROR",
    }
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    trace_id: Option<String>,
    #[serde(default)]
    details: Option<Value>,
    // OAuth style (token endpoint).
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// `Retry-After` in whole seconds (HTTP dates are not used by Glide and are ignored).
pub fn retry_after_header(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn details_retry_after(details: &Value) -> Option<Duration> {
    ["retry_after", "retryAfter"]
        .iter()
        .find_map(|k| details.get(k)?.as_u64())
        .map(Duration::from_secs)
}

fn details_fields(details: &Value) -> Vec<(String, String)> {
    let Some(fields) = details.get("fields").and_then(Value::as_object) else {
        return Vec::new();
    };
    fields
        .iter()
        .map(|(k, v)| {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            (k.clone(), text)
        })
        .collect()
}

fn fallback_message(status: u16, body: &[u8]) -> String {
    match std::str::from_utf8(body) {
        Ok(text) if !text.trim().is_empty() && text.len() < 200 => text.trim().to_owned(),
        _ => http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("error")
            .to_owned(),
    }
}

/// An error answer of an API endpoint: `{code, message, status, request_id, trace_id,
/// details}`; without a `code` the code comes from the status ([`code_for_status`]).
pub fn api_error(status: u16, headers: &HeaderMap, body: &Bytes) -> ApiError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let header_retry = retry_after_header(headers);
    match parsed {
        Some(b) if b.code.as_deref().is_some_and(|c| !c.is_empty()) => {
            let code = b.code.unwrap_or_default();
            let details = b.details.unwrap_or(Value::Null);
            let mut error = ApiError::new(
                status,
                code,
                b.message.unwrap_or_else(|| fallback_message(status, &[])),
            );
            error.request_id = b.request_id;
            error.trace_id = b.trace_id;
            error.retry_after = header_retry.or_else(|| details_retry_after(&details));
            error.fields = details_fields(&details);
            error
        }
        Some(b) => {
            let mut error = ApiError::new(
                status,
                code_for_status(status),
                b.message
                    .or(b.error_description)
                    .unwrap_or_else(|| fallback_message(status, &[])),
            );
            error.request_id = b.request_id;
            error.trace_id = b.trace_id;
            error.retry_after = header_retry;
            error
        }
        None => {
            let mut error = ApiError::new(
                status,
                code_for_status(status),
                fallback_message(status, body),
            );
            error.retry_after = header_retry;
            error
        }
    }
}

/// An error answer of a token endpoint: OAuth `{error, error_description}` (`invalid_client`
/// → 401 `UNAUTHORIZED`, `invalid_grant` → `INVALID_GRANT`, any other OAuth error →
/// `BAD_REQUEST`; a 5xx keeps the code of its status), else as [`api_error`].
pub fn token_error(status: u16, headers: &HeaderMap, body: &Bytes) -> ApiError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    match parsed {
        Some(ErrorBody {
            code,
            error: Some(oauth),
            error_description,
            ..
        }) if code.as_deref().is_none_or(str::is_empty) => {
            let message = error_description.unwrap_or_else(|| oauth.clone());
            let mut error = match oauth.as_str() {
                "invalid_client" => ApiError::new(401, "UNAUTHORIZED", message),
                _ if status >= 500 => ApiError::new(status, code_for_status(status), message),
                "invalid_grant" => ApiError::new(status, "INVALID_GRANT", message),
                _ => ApiError::new(status, "BAD_REQUEST", message),
            };
            error.retry_after = retry_after_header(headers);
            error
        }
        _ => api_error(status, headers, body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table() {
        let cases = [
            (400, "BAD_REQUEST"),
            (401, "UNAUTHORIZED"),
            (403, "FORBIDDEN"),
            (404, "SESSION_NOT_FOUND"),
            (409, "SESSION_NOT_ELIGIBLE"),
            (422, "VALIDATION_ERROR"),
            (429, "RATE_LIMIT_EXCEEDED"),
            (418, "INTERNAL_SERVER_ERROR"),
            (502, "INTERNAL_SERVER_ERROR"),
        ];
        for (status, code) in cases {
            let e = api_error(status, &HeaderMap::new(), &Bytes::from_static(b"<html>"));
            assert_eq!((e.status, e.code.as_str()), (status, code));
            assert_eq!(e.message, "<html>");
        }
        let long = Bytes::from(vec![b'x'; 300]);
        let e = api_error(500, &HeaderMap::new(), &long);
        assert_eq!(e.message, "Internal Server Error");
    }

    #[test]
    fn json_body() {
        let body = Bytes::from_static(
            br#"{"code":"VALIDATION_ERROR","message":"bad","status":400,"request_id":"req_1",
                "trace_id":"t1","details":{"fields":{"phone_number":"Must be E.164"},"retry_after":7},"new":1}"#,
        );
        let e = api_error(400, &HeaderMap::new(), &body);
        assert_eq!(e.code, "VALIDATION_ERROR");
        assert_eq!(e.request_id.as_deref(), Some("req_1"));
        assert_eq!(e.trace_id.as_deref(), Some("t1"));
        assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(
            e.fields,
            vec![("phone_number".to_owned(), "Must be E.164".to_owned())]
        );
    }

    #[test]
    fn oauth_errors() {
        let body = Bytes::from_static(br#"{"error":"invalid_client"}"#);
        let e = token_error(400, &HeaderMap::new(), &body);
        assert_eq!((e.status, e.code.as_str()), (401, "UNAUTHORIZED"));
        let body = Bytes::from_static(br#"{"error":"unsupported_grant_type"}"#);
        let e = token_error(400, &HeaderMap::new(), &body);
        assert_eq!((e.status, e.code.as_str()), (400, "BAD_REQUEST"));
        let body = Bytes::from_static(br#"{"error":"invalid_grant","error_description":"used"}"#);
        let e = token_error(400, &HeaderMap::new(), &body);
        assert_eq!(
            (e.status, e.code.as_str(), e.message.as_str()),
            (400, "INVALID_GRANT", "used")
        );
        let body = Bytes::from_static(br#"{"error":"server_error"}"#);
        let e = token_error(503, &HeaderMap::new(), &body);
        assert_eq!((e.status, e.code.as_str()), (503, "INTERNAL_SERVER_ERROR"));
        // Glide's own body keeps its code
        let body =
            Bytes::from_static(br#"{"code":"VALIDATION_ERROR","message":"bad","status":400}"#);
        let e = token_error(400, &HeaderMap::new(), &body);
        assert_eq!(
            (e.status, e.code.as_str(), e.message.as_str()),
            (400, "VALIDATION_ERROR", "bad")
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("7"),
        );
        let e = token_error(429, &headers, &Bytes::from_static(b"<html>"));
        assert_eq!(e.code, "RATE_LIMIT_EXCEEDED");
        assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
    }
}
