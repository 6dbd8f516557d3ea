//! `POST /magic-auth/v2/auth/prepare`: request, response and their parts.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::session::GlideSession;
use super::strategy_data::{DesktopData, LinkData, Ts43Data};
use crate::api::validate;
use crate::binding::{FeCode, FeHash};
use crate::error::Error;
use crate::phone::mask_phone;
use crate::types::{Strategy, UseCase};
use crate::PhoneNumber;

/// A mobile network: country code (3 digits) and network code (2–3 digits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Plmn {
    /// Mobile country code, 3 digits (`"310"`).
    pub mcc: String,
    /// Mobile network code, 2 or 3 digits (`"260"`).
    pub mnc: String,
}

impl Plmn {
    /// A PLMN (checked by [`Plmn::validate`]).
    pub fn new(mcc: impl Into<String>, mnc: impl Into<String>) -> Self {
        Self {
            mcc: mcc.into(),
            mnc: mnc.into(),
        }
    }

    /// MCC 3 digits, MNC 2–3 digits.
    pub fn validate(&self) -> Result<(), Error> {
        validate::digits("plmn.mcc", &self.mcc, 3, 3)?;
        validate::digits("plmn.mnc", &self.mnc, 2, 3)
    }
}

/// The end user's browser (`client_info`): Glide chooses the strategy from it and compares the
/// browser family again at complete. It must be the browser's `navigator.userAgent`, not the
/// server's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientInfo {
    /// The browser's user agent.
    #[serde(default)]
    pub user_agent: String,
    /// The browser's `navigator.platform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

impl ClientInfo {
    /// Client info with just a user agent.
    pub fn new(user_agent: impl Into<String>) -> Self {
        Self {
            user_agent: user_agent.into(),
            platform: None,
        }
    }

    /// Adds the platform.
    pub fn with_platform(mut self, platform: impl Into<String>) -> Self {
        self.platform = Some(platform.into());
        self
    }

    /// `user_agent` is required (at most 1024 bytes).
    pub fn validate(&self) -> Result<(), Error> {
        validate::text("client_info.user_agent", &self.user_agent, 1024)?;
        if let Some(platform) = &self.platform {
            if platform.len() > 256 || platform.chars().any(char::is_control) {
                return Err(Error::validation(
                    "client_info.platform",
                    "must be at most 256 bytes without control characters",
                ));
            }
        }
        Ok(())
    }
}

/// The consent text embedded into the TS.43 request shown by the phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsentData {
    /// The consent sentence.
    pub consent_text: String,
    /// URL of the privacy policy.
    pub policy_link: String,
    /// The policy link's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_text: Option<String>,
}

impl ConsentData {
    /// `consent_text` required; `policy_link` an absolute http(s) URL.
    pub fn validate(&self) -> Result<(), Error> {
        validate::text("consent_data.consent_text", &self.consent_text, 4096)?;
        let link_ok = url::Url::parse(&self.policy_link)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !link_ok {
            return Err(Error::validation(
                "consent_data.policy_link",
                "must be an absolute http(s) URL",
            ));
        }
        Ok(())
    }
}

/// How the browser should complete a Link flow (`options.link_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum LinkType {
    /// An iOS App Clip.
    AppClip,
    /// A carrier app link.
    AppLink,
    /// No UI.
    Headless,
    /// A web page.
    WebLink,
}

/// `options` of a prepare request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrepareOptions {
    /// Makes this a child session of a desktop (QR) session; the use case is inherited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_session_id: Option<String>,
    /// UI theme, free-form up to 32 characters (`dark`, `light` built in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme: Option<String>,
    /// Link completion style.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_type: Option<LinkType>,
}

/// `POST /magic-auth/v2/auth/prepare`.
///
/// Build it with [`PrepareRequest::verify_phone_number`], [`PrepareRequest::get_phone_number`]
/// or [`PrepareRequest::child_of`] and the `with_*` methods; [`Glide::prepare`] checks it with
/// [`PrepareRequest::validate`] before sending and fills in a random `nonce` when none is set.
///
/// ```
/// use glide_core::api::{ClientInfo, PrepareRequest};
/// use glide_core::binding::FeCode;
/// use glide_core::PhoneNumber;
///
/// let fe_code = FeCode::generate();
/// let req = PrepareRequest::verify_phone_number(
///     &PhoneNumber::parse("+15555550100").unwrap(),
///     ClientInfo::new("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"),
/// )
/// .with_fe_hash(&fe_code.hash())
/// .with_session_timeout(300);
/// assert!(req.validate().is_ok());
/// assert!(req.clone().with_session_timeout(30).validate().is_err());
/// assert!(!format!("{req:?}").contains("5555550100"));
/// ```
///
/// [`Glide::prepare`]: crate::api::Glide::prepare
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct PrepareRequest {
    /// `VerifyPhoneNumber` or `GetPhoneNumber`; may be left out for a child session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_case: Option<UseCase>,
    /// E.164 number: required for VerifyPhoneNumber, refused for GetPhoneNumber.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// The user's mobile network, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plmn: Option<Plmn>,
    /// A random nonce; generated by [`Glide::prepare`](crate::api::Glide::prepare) when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Consent text for the TS.43 prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_data: Option<ConsentData>,
    /// The end user's browser.
    #[serde(default)]
    pub client_info: ClientInfo,
    /// Child session, theme, link type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<PrepareOptions>,
    /// Forces a strategy (`ts43`, `link` or `desktop`) instead of Glide's choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_strategy: Option<Strategy>,
    /// Session lifetime in seconds, 60–900.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_timeout: Option<u32>,
    /// SHA-256 of the binding `fe_code` (64 lowercase hex); required for Link, so send it on
    /// every prepare — Glide chooses the strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fe_hash: Option<String>,
    /// Native Link binding: base64 of a 65-byte uncompressed P-256 public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// A request id chosen by the caller (the browser SDK sends `web-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl PrepareRequest {
    fn empty(use_case: Option<UseCase>, client_info: ClientInfo) -> Self {
        Self {
            use_case,
            phone_number: None,
            plmn: None,
            nonce: None,
            consent_data: None,
            client_info,
            options: None,
            authentication_strategy: None,
            session_timeout: None,
            fe_hash: None,
            public_key: None,
            id: None,
        }
    }

    /// Prepare a VerifyPhoneNumber session for `phone_number`.
    pub fn verify_phone_number(phone_number: &PhoneNumber, client_info: ClientInfo) -> Self {
        let mut req = Self::empty(Some(UseCase::VerifyPhoneNumber), client_info);
        req.phone_number = Some(phone_number.as_str().to_owned());
        req
    }

    /// Prepare a GetPhoneNumber session.
    pub fn get_phone_number(client_info: ClientInfo) -> Self {
        Self::empty(Some(UseCase::GetPhoneNumber), client_info)
    }

    /// Prepare a child session of the desktop session `parent_session_id` (the phone side of a
    /// QR flow); the use case is inherited.
    pub fn child_of(parent_session_id: impl Into<String>, client_info: ClientInfo) -> Self {
        let mut req = Self::empty(None, client_info);
        req.options = Some(PrepareOptions {
            parent_session_id: Some(parent_session_id.into()),
            ..PrepareOptions::default()
        });
        req
    }

    /// Sets the PLMN.
    pub fn with_plmn(mut self, plmn: Plmn) -> Self {
        self.plmn = Some(plmn);
        self
    }

    /// Sets the nonce.
    pub fn with_nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    /// Sets the consent data.
    pub fn with_consent(mut self, consent: ConsentData) -> Self {
        self.consent_data = Some(consent);
        self
    }

    /// Sets the options.
    pub fn with_options(mut self, options: PrepareOptions) -> Self {
        self.options = Some(options);
        self
    }

    /// Forces a strategy.
    pub fn with_strategy(mut self, strategy: Strategy) -> Self {
        self.authentication_strategy = Some(strategy);
        self
    }

    /// Sets the session lifetime in seconds (60–900).
    pub fn with_session_timeout(mut self, seconds: u32) -> Self {
        self.session_timeout = Some(seconds);
        self
    }

    /// Sets `fe_hash` from a binding code's hash.
    pub fn with_fe_hash(mut self, fe_hash: &FeHash) -> Self {
        self.fe_hash = Some(fe_hash.as_str().to_owned());
        self
    }

    /// Sets the native binding public key (base64, 65-byte uncompressed P-256 point).
    pub fn with_public_key(mut self, public_key: impl Into<String>) -> Self {
        self.public_key = Some(public_key.into());
        self
    }

    /// Sets the request id.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The parent session id, for child sessions.
    pub fn parent_session_id(&self) -> Option<&str> {
        self.options.as_ref()?.parent_session_id.as_deref()
    }

    /// Refuses what Glide would refuse: a missing use case (except for child sessions), a
    /// missing or malformed number for VerifyPhoneNumber, a number for GetPhoneNumber, a bad
    /// PLMN, `session_timeout` outside 60–900, a Link request without `fe_hash`, a malformed
    /// `fe_hash` or `public_key`, an empty user agent, a non-Magical-Auth strategy.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(parent) = self.parent_session_id() {
            validate::text("options.parent_session_id", parent, 256)?;
        }
        match (self.use_case, self.parent_session_id()) {
            (None, None) => return Err(Error::validation("use_case", "is required")),
            (Some(UseCase::VerifyPhoneNumber), _) => match &self.phone_number {
                None => {
                    return Err(Error::validation(
                        "phone_number",
                        "is required for VerifyPhoneNumber",
                    ))
                }
                Some(number) => validate::e164("phone_number", number)?,
            },
            (Some(UseCase::GetPhoneNumber), _) if self.phone_number.is_some() => {
                return Err(Error::validation(
                    "phone_number",
                    "must not be sent for GetPhoneNumber",
                ))
            }
            _ => {
                if let Some(number) = &self.phone_number {
                    validate::e164("phone_number", number)?;
                }
            }
        }
        if let Some(plmn) = &self.plmn {
            plmn.validate()?;
        }
        if let Some(nonce) = &self.nonce {
            validate::text("nonce", nonce, 256)?;
        }
        if let Some(consent) = &self.consent_data {
            consent.validate()?;
        }
        self.client_info.validate()?;
        if let Some(options) = &self.options {
            if let Some(theme) = &options.theme {
                if theme.chars().count() > 32 || theme.chars().any(char::is_control) {
                    return Err(Error::validation(
                        "options.theme",
                        "must be at most 32 characters",
                    ));
                }
            }
        }
        match self.authentication_strategy {
            None | Some(Strategy::Ts43 | Strategy::Link | Strategy::Desktop) => {}
            Some(other) => {
                return Err(Error::validation(
                    "authentication_strategy",
                    format!("must be ts43, link or desktop, not {other}"),
                ))
            }
        }
        if let Some(timeout) = self.session_timeout {
            if !(60..=900).contains(&timeout) {
                return Err(Error::validation(
                    "session_timeout",
                    "must be between 60 and 900 seconds",
                ));
            }
        }
        match &self.fe_hash {
            Some(hash) => validate::hex64("fe_hash", hash)?,
            None if self.authentication_strategy == Some(Strategy::Link) => {
                return Err(Error::validation(
                    "fe_hash",
                    "is required for the link strategy",
                ))
            }
            None => {}
        }
        if let Some(key) = &self.public_key {
            let ok = base64::engine::general_purpose::STANDARD
                .decode(key)
                .is_ok_and(|bytes| bytes.len() == 65 && bytes[0] == 0x04);
            if !ok {
                return Err(Error::validation(
                    "public_key",
                    "must be base64 of a 65-byte uncompressed P-256 public key",
                ));
            }
        }
        if let Some(id) = &self.id {
            validate::text("id", id, 256)?;
        }
        Ok(())
    }
}

impl fmt::Debug for PrepareRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrepareRequest")
            .field("use_case", &self.use_case)
            .field(
                "phone_number",
                &self.phone_number.as_deref().map(mask_phone),
            )
            .field("plmn", &self.plmn)
            .field("client_info", &self.client_info)
            .field("options", &self.options)
            .field("authentication_strategy", &self.authentication_strategy)
            .field("session_timeout", &self.session_timeout)
            .field("fe_hash", &self.fe_hash.is_some())
            .field("public_key", &self.public_key.is_some())
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The visual code shown on a desktop to match on the phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Challenge {
    /// The pattern.
    #[serde(default)]
    pub pattern: String,
    /// The colour.
    #[serde(default)]
    pub color: String,
    /// The session it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// The answer to prepare.
///
/// `data` is kept as raw JSON, because it goes to the browser unchanged; the typed accessors
/// [`ts43_data`](Self::ts43_data), [`link_data`](Self::link_data) and
/// [`desktop_data`](Self::desktop_data) read the strategy-specific shapes.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct PrepareResponse {
    /// The strategy Glide chose.
    pub authentication_strategy: Strategy,
    /// The session to send back to process.
    pub session: GlideSession,
    /// Strategy-specific data for the browser.
    #[serde(default)]
    pub data: Value,
    /// Desktop visual challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<Challenge>,
    /// Remaining session lifetime in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_expires_in_seconds: Option<u64>,
}

impl PrepareResponse {
    fn typed<T: serde::de::DeserializeOwned>(&self, expected: Strategy) -> Result<T, Error> {
        if self.authentication_strategy != expected {
            return Err(Error::validation(
                "authentication_strategy",
                format!(
                    "is {}, not {expected}",
                    self.authentication_strategy.as_str()
                ),
            ));
        }
        T::deserialize(&self.data).map_err(|e| Error::Decode {
            status: 200,
            message: format!("{expected} prepare data: {e}"),
        })
    }

    /// The session key.
    pub fn session_key(&self) -> &str {
        self.session.session_key()
    }

    /// The session lifetime, when Glide said.
    pub fn session_expires_in(&self) -> Option<Duration> {
        self.session_expires_in_seconds.map(Duration::from_secs)
    }

    /// `data` of a `ts43` answer.
    pub fn ts43_data(&self) -> Result<Ts43Data, Error> {
        self.typed(Strategy::Ts43)
    }

    /// `data` of a `link` answer.
    pub fn link_data(&self) -> Result<LinkData, Error> {
        self.typed(Strategy::Link)
    }

    /// `data` of a `desktop` answer (new `qr_image`/`url` and old `ios_*`/`android_*` shapes).
    pub fn desktop_data(&self) -> Result<DesktopData, Error> {
        self.typed(Strategy::Desktop)
    }

    /// Removes a legacy `data.fe_code` (sent by old servers when no `fe_hash` was given) so the
    /// answer can go to the browser, returning it when it was a valid code.
    pub fn take_fe_code(&mut self) -> Option<FeCode> {
        let removed = self.data.as_object_mut()?.remove("fe_code")?;
        FeCode::parse(removed.as_str()?).ok()
    }
}

impl fmt::Debug for PrepareResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrepareResponse")
            .field("authentication_strategy", &self.authentication_strategy)
            .field("session", &self.session)
            .field("challenge", &self.challenge)
            .field(
                "session_expires_in_seconds",
                &self.session_expires_in_seconds,
            )
            .finish_non_exhaustive()
    }
}
