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
    /// Ended in failure.
    Failed,
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
            other => Self::Other(other.to_owned()),
        }
    }

    /// `completed` or `failed`.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
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
