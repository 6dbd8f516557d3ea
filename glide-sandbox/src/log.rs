//! The request log (`GET /sandbox/requests`), secrets redacted.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Keys whose values never appear in the request log.
const SECRET_KEYS: [&str; 12] = [
    "fe_code",
    "agg_code",
    "client_secret",
    "access_token",
    "credential",
    "authorization",
    "signature",
    "code",
    "token",
    "auth_req_id",
    "code_verifier",
    "id_token",
];

/// One request the sandbox received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// The JSON (or form) body with secrets replaced by `"[REDACTED]"`; `null` when there was none.
    pub body: Value,
}

/// How many requests the log keeps (oldest dropped first).
pub(crate) const LOG_CAPACITY: usize = 2000;

/// Parses a request body (JSON, else form) into a redacted JSON value.
pub(crate) fn redacted_body(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    let mut value = match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => v,
        Err(_) => match std::str::from_utf8(bytes) {
            Ok(text) if text.contains('=') && !text.contains('{') => Value::Object(
                url::form_urlencoded::parse(text.as_bytes())
                    .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                    .collect(),
            ),
            _ => Value::String("[unparsed body]".to_owned()),
        },
    };
    redact(&mut value);
    value
}

/// Replaces the values of secret keys, recursively.
pub(crate) fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let lower = key.to_ascii_lowercase();
                if SECRET_KEYS.contains(&lower.as_str()) {
                    *v = Value::String("[REDACTED]".to_owned());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redacts_nested_and_form() {
        let body =
            redacted_body(br#"{"session":{"session_key":"k"},"fe_code":"ab","credential":"x"}"#);
        assert_eq!(
            body,
            json!({"session":{"session_key":"k"},"fe_code":"[REDACTED]","credential":"[REDACTED]"})
        );
        let form = redacted_body(b"grant_type=client_credentials&client_secret=s");
        assert_eq!(
            form,
            json!({"grant_type":"client_credentials","client_secret":"[REDACTED]"})
        );
    }
}
