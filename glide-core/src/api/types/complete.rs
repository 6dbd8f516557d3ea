//! `POST /magic-auth/v2/auth/complete` (Link device binding).

use std::fmt;

use serde::Serialize;

use crate::api::validate;
use crate::binding::{validate_session_key, AggCode, FeCode};
use crate::error::Error;

/// Confirms a Link session with the browser's binding code and Glide's aggregator code.
///
/// The codes are redacted in `Debug`.
#[derive(Clone)]
pub struct CompleteRequest {
    /// The session key from the completion page's fragment.
    pub session_key: String,
    /// From the binding cookie.
    pub fe_code: FeCode,
    /// From the completion page's fragment.
    pub agg_code: AggCode,
    /// The completing browser's user agent (Glide compares its family with prepare's).
    pub user_agent: Option<String>,
}

impl CompleteRequest {
    /// A complete request without user agent.
    pub fn new(session_key: impl Into<String>, fe_code: FeCode, agg_code: AggCode) -> Self {
        Self {
            session_key: session_key.into(),
            fe_code,
            agg_code,
            user_agent: None,
        }
    }

    /// Adds the completing browser's user agent.
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// The session key must be usable in a cookie name and a URL; the codes are valid by type.
    pub fn validate(&self) -> Result<(), Error> {
        validate_session_key(&self.session_key)?;
        if let Some(ua) = &self.user_agent {
            validate::text("user_agent", ua, 1024)?;
        }
        Ok(())
    }
}

#[derive(Serialize)]
pub(crate) struct CompleteWire<'a> {
    session_key: &'a str,
    fe_code: &'a str,
    agg_code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<&'a str>,
}

impl<'a> From<&'a CompleteRequest> for CompleteWire<'a> {
    fn from(req: &'a CompleteRequest) -> Self {
        Self {
            session_key: &req.session_key,
            fe_code: req.fe_code.secret(),
            agg_code: req.agg_code.secret(),
            user_agent: req.user_agent.as_deref(),
        }
    }
}

impl fmt::Debug for CompleteRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompleteRequest")
            .field("session_key", &self.session_key)
            .field("fe_code", &self.fe_code)
            .field("agg_code", &self.agg_code)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}
