//! `GET /magic-auth/v2/auth/status/{key}` and `GET /public/status/{key}`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// The state of a Glide session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionStatus {
    /// Waiting for the carrier.
    Pending,
    /// The App Clip or QR was opened on a device.
    Scanned,
    /// Link: the carrier is done; waiting for complete.
    PendingCompletion,
    /// Done; the result is released by process.
    Completed,
    /// Ended in failure (Glide answers `422 {"status":"failed",…}`).
    Failed,
    /// The session's lifetime passed (Glide answers `410`).
    Expired,
    /// A status this version does not know, kept verbatim.
    Other(String),
}

impl SessionStatus {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "pending",
            Self::Scanned => "scanned",
            Self::PendingCompletion => "pending_completion",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Other(other) => other,
        }
    }

    /// Reads a wire name.
    pub fn from_wire(text: &str) -> Self {
        match text {
            "pending" => Self::Pending,
            "scanned" => Self::Scanned,
            "pending_completion" => Self::PendingCompletion,
            "completed" => Self::Completed,
            "failed" => Self::Failed,
            "expired" => Self::Expired,
            other => Self::Other(other.to_owned()),
        }
    }

    /// `completed`, `failed` or `expired`.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Expired)
    }
}

impl fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SessionStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SessionStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Self::from_wire(&text))
    }
}

/// The device that opened the App Clip or QR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceInfo {
    /// Device type.
    #[serde(default, rename = "type")]
    pub device_type: String,
    /// Operating system.
    #[serde(default)]
    pub os: String,
    /// Browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
}

/// A session's status. It carries no phone number (only process releases that).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusResponse {
    /// The session key.
    pub session_key: String,
    /// The state.
    pub status: SessionStatus,
    /// `ts43`, `link` or `desktop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// When the session was created (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When it last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<String>,
    /// When scanned: the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_info: Option<DeviceInfo>,
    /// When scanned: end of the grace period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_expires_at: Option<String>,
    /// When scanned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanned_at: Option<String>,
    /// Extra information, e.g. `reason` of a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Map<String, Value>>,
}

impl StatusResponse {
    /// The status of `session_key` told by an error status, as Glide's web SDK reads it: `410`
    /// is [`SessionStatus::Expired`]; `422` is [`SessionStatus::Failed`] (the body's fields kept
    /// when it is a status body, its `code` kept as `extra.reason` when it is an error body).
    /// `None` for any other status.
    pub(crate) fn from_final_status(
        http_status: u16,
        body: &[u8],
        session_key: &str,
    ) -> Option<Self> {
        let (status, default_status) = match http_status {
            410 => (Some(SessionStatus::Expired), "expired"),
            422 => (None, "failed"),
            _ => return None,
        };
        let mut value = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        // An error body: {"code", "message", "status": 422}.
        if !value.get("status").is_some_and(Value::is_string) {
            if let Some(code) = value.get("code").and_then(Value::as_str) {
                let reason = Value::String(code.to_owned());
                value.insert("extra".to_owned(), serde_json::json!({ "reason": reason }));
            }
            value.insert(
                "status".to_owned(),
                Value::String(default_status.to_owned()),
            );
        }
        if !value.get("session_key").is_some_and(Value::is_string) {
            value.insert(
                "session_key".to_owned(),
                Value::String(session_key.to_owned()),
            );
        }
        let mut parsed: Self = serde_json::from_value(Value::Object(value)).ok()?;
        if let Some(status) = status {
            parsed.status = status;
        }
        Some(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_statuses_from_error_answers() {
        let failed = StatusResponse::from_final_status(
            422,
            br#"{"session_key":"k1","status":"failed","protocol":"link","extra":{"reason":"user_denied"}}"#,
            "k1",
        )
        .unwrap();
        assert_eq!(failed.status, SessionStatus::Failed);
        assert_eq!(failed.protocol.as_deref(), Some("link"));
        assert_eq!(failed.extra.unwrap()["reason"], "user_denied");
        let failed = StatusResponse::from_final_status(
            422,
            br#"{"code":"INVALID_VERIFICATION","message":"m","status":422}"#,
            "k2",
        )
        .unwrap();
        assert_eq!(
            (failed.session_key.as_str(), failed.status),
            ("k2", SessionStatus::Failed)
        );
        assert_eq!(failed.extra.unwrap()["reason"], "INVALID_VERIFICATION");
        let expired = StatusResponse::from_final_status(
            410,
            br#"{"code":"SESSION_EXPIRED","message":"m","status":410}"#,
            "k3",
        )
        .unwrap();
        assert_eq!(expired.status, SessionStatus::Expired);
        assert!(expired.status.is_final());
        let expired = StatusResponse::from_final_status(410, b"gone", "k3").unwrap();
        assert_eq!(expired.status, SessionStatus::Expired);
        assert!(StatusResponse::from_final_status(404, b"{}", "k").is_none());
    }
}
