//! The opaque session object Glide returns from prepare and wants back verbatim.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::types::UseCase;

/// Glide's `session` object: kept verbatim (every member, including ones this version does not
/// know, such as `enc_key`), because process must send it back unchanged.
///
/// It always has a string `session_key`; deserialising refuses an object without one. `Debug`
/// shows only the session key (the object can hold key material).
#[derive(Clone, PartialEq)]
pub struct GlideSession(Map<String, Value>);

impl GlideSession {
    /// Wraps a session object, checking that it has a non-empty string `session_key`.
    ///
    /// ```
    /// use glide_core::api::GlideSession;
    /// let s = GlideSession::from_json(serde_json::json!({"session_key": "ee25b966c9395f0b", "x": 1})).unwrap();
    /// assert_eq!(s.session_key(), "ee25b966c9395f0b");
    /// assert!(GlideSession::from_json(serde_json::json!({"nonce": "n"})).is_err());
    /// ```
    pub fn from_json(value: Value) -> Result<Self, Error> {
        match value {
            Value::Object(map) => Self::from_map(map),
            _ => Err(Error::validation("session", "must be a JSON object")),
        }
    }

    /// Wraps a session object (see [`GlideSession::from_json`]).
    pub fn from_map(map: Map<String, Value>) -> Result<Self, Error> {
        match map.get("session_key") {
            Some(Value::String(key)) if !key.is_empty() => Ok(Self(map)),
            _ => Err(Error::validation(
                "session.session_key",
                "is required and must be a non-empty string",
            )),
        }
    }

    /// The session key (16 hex characters at Glide).
    pub fn session_key(&self) -> &str {
        self.0
            .get("session_key")
            .and_then(Value::as_str)
            // Fails closed: prepare refuses an empty key (`binding::validate_session_key`).
            .unwrap_or_default()
    }

    /// `protocol_type`, when present (`ts43`, `link`, `desktop`).
    pub fn protocol_type(&self) -> Option<&str> {
        self.0.get("protocol_type").and_then(Value::as_str)
    }

    /// `metadata.use_case`, when present and known.
    pub fn use_case(&self) -> Option<UseCase> {
        let text = self.0.get("metadata")?.get("use_case")?;
        serde_json::from_value(text.clone()).ok()
    }

    /// The whole object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The whole object, consuming the wrapper.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    /// The whole object as a JSON value.
    pub fn to_json(&self) -> Value {
        Value::Object(self.0.clone())
    }
}

impl fmt::Debug for GlideSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GlideSession")
            .field("session_key", &self.session_key())
            .finish_non_exhaustive()
    }
}

impl Serialize for GlideSession {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for GlideSession {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = Map::deserialize(deserializer)?;
        Self::from_map(map).map_err(serde::de::Error::custom)
    }
}
