//! Wire types of the legacy APIs: camelCase JSON on the wire, snake_case in Rust.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use crate::PhoneNumber;

/// The longest e-mail address accepted (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// An e-mail address, checked before anything is sent: exactly one `@` with text on both sides,
/// at most 254 characters, no whitespace, control characters, `<` or `>`.
///
/// `Debug` masks the local part; `Display` prints it whole.
///
/// ```
/// use glide_core::legacy::Email;
/// let e = Email::parse("ada@example.com").unwrap();
/// assert_eq!(e.as_str(), "ada@example.com");
/// assert_eq!(format!("{e:?}"), "Email(a***@example.com)");
/// assert!(Email::parse("a@b@c").is_err());
/// assert!(Email::parse("ada@example.com\r\nBcc: x@y").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why an e-mail address was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmailError {
    /// Empty, or longer than [`MAX_EMAIL_LEN`].
    #[error("e-mail address must have 3 to 254 characters")]
    Length,
    /// Not exactly one `@` with text on both sides.
    #[error("e-mail address must have exactly one '@' with text on both sides")]
    Shape,
    /// Whitespace, a control character, `<` or `>`.
    #[error("e-mail address contains a forbidden character")]
    ForbiddenCharacter,
}

impl Email {
    /// Checks and wraps an address.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        if input.len() < 3 || input.len() > MAX_EMAIL_LEN {
            return Err(EmailError::Length);
        }
        if input
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>'))
        {
            return Err(EmailError::ForbiddenCharacter);
        }
        let mut parts = input.split('@');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(local), Some(domain), None) if !local.is_empty() && !domain.is_empty() => {
                Ok(Self(input.to_owned()))
            }
            _ => Err(EmailError::Shape),
        }
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address with the local part hidden but its first character, for logs.
    pub fn masked(&self) -> String {
        match self.0.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => "***".to_owned(),
        }
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.masked())
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

use crate::secret::secret_type;

secret_type!(wire
    /// A one-time code sent by SMS or e-mail.
    OtpCode
);

secret_type!(wire
    /// The token the carrier hands the device on the Magic Auth URL (response header `token`).
    MagicToken
);

secret_type!(wire
    /// An operator authorization code (the Number Verify redirect's `code`).
    AuthCode
);

/// How `start_auth` chose to verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum AuthType {
    /// Silent carrier check: open `auth_url` on the device, then `verify_auth` with its token.
    Magic,
    /// A code was sent by SMS.
    Sms,
    /// A code was sent by e-mail.
    Email,
}

impl AuthType {
    /// The wire name (`"MAGIC"`, `"SMS"`, `"EMAIL"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Magic => "MAGIC",
            Self::Sms => "SMS",
            Self::Email => "EMAIL",
        }
    }
}

/// What to do when the carrier cannot verify silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum FallbackChannel {
    /// A code by SMS (Glide's default).
    Sms,
    /// A code by e-mail (needs `email`).
    Email,
    /// An RCS message (server auth only).
    Rcs,
    /// No fallback: the start fails with `CARRIER_NOT_ELIGIBLE`.
    NoFallback,
}

/// The body of `start_auth` (`POST /magic-auth/verification/start`).
///
/// ```
/// use glide_core::legacy::{FallbackChannel, StartAuthRequest};
/// use glide_core::PhoneNumber;
/// let request = StartAuthRequest::phone(PhoneNumber::parse("+15555550106").unwrap())
///     .with_fallback(FallbackChannel::Sms);
/// assert_eq!(
///     serde_json::to_string(&request).unwrap(),
///     r#"{"phoneNumber":"+15555550106","fallbackChannel":"SMS"}"#
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartAuthRequest {
    /// The number to verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<PhoneNumber>,
    /// The e-mail to verify, or to send an e-mail fallback code to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// The fallback channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_channel: Option<FallbackChannel>,
    /// Where the device goes after a successful verification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// Opaque state echoed on that redirect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The end user's device IP, when calling on its behalf from a server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_ip_address: Option<String>,
}

impl StartAuthRequest {
    /// A start for a phone number.
    pub fn phone(phone_number: PhoneNumber) -> Self {
        Self {
            phone_number: Some(phone_number),
            ..Self::default()
        }
    }

    /// A start for an e-mail address.
    pub fn email(email: Email) -> Self {
        Self {
            email: Some(email),
            ..Self::default()
        }
    }

    /// Sets the fallback channel.
    pub fn with_fallback(mut self, channel: FallbackChannel) -> Self {
        self.fallback_channel = Some(channel);
        self
    }

    /// Adds an e-mail address (for the e-mail fallback).
    pub fn with_email(mut self, email: Email) -> Self {
        self.email = Some(email);
        self
    }

    /// Sets the redirect URL and state.
    pub fn with_redirect(mut self, url: impl Into<String>, state: Option<String>) -> Self {
        self.redirect_url = Some(url.into());
        self.state = state;
        self
    }

    /// Sets the device IP address.
    pub fn with_device_ip(mut self, ip: impl Into<String>) -> Self {
        self.device_ip_address = Some(ip.into());
        self
    }
}

/// The answer of `start_auth`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StartAuthResponse {
    /// How the verification goes on.
    #[serde(rename = "type")]
    pub auth_type: AuthType,
    /// For [`AuthType::Magic`]: the URL to open on the user's device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_url: Option<String>,
    /// The same URL, for use without a redirect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flat_auth_url: Option<String>,
    /// The operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_id: Option<String>,
}

/// The body of `verify_auth` (`POST /magic-auth/verification/check`): a phone and a token
/// (MAGIC), a phone and a code (SMS), or an e-mail and a code (EMAIL).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyAuthRequest {
    /// The number (MAGIC, SMS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<PhoneNumber>,
    /// The e-mail (EMAIL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// The device's token (MAGIC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<MagicToken>,
    /// The code (SMS, EMAIL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<OtpCode>,
    /// The end user's device IP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_ip_address: Option<String>,
}

impl VerifyAuthRequest {
    /// MAGIC: the phone and the token the device received.
    pub fn magic(phone_number: PhoneNumber, token: MagicToken) -> Self {
        Self {
            phone_number: Some(phone_number),
            token: Some(token),
            ..Self::default()
        }
    }

    /// SMS: the phone and the code.
    pub fn sms(phone_number: PhoneNumber, code: OtpCode) -> Self {
        Self {
            phone_number: Some(phone_number),
            code: Some(code),
            ..Self::default()
        }
    }

    /// EMAIL: the address and the code.
    pub fn email(email: Email, code: OtpCode) -> Self {
        Self {
            email: Some(email),
            code: Some(code),
            ..Self::default()
        }
    }

    /// Sets the device IP address.
    pub fn with_device_ip(mut self, ip: impl Into<String>) -> Self {
        self.device_ip_address = Some(ip.into());
        self
    }
}

/// The answer of `verify_auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VerifyAuthResponse {
    /// Whether the user is verified.
    pub verified: bool,
}

/// The body of `start_server_auth`: the start body plus the confirmation pages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartServerAuthRequest {
    /// The common start fields.
    #[serde(flatten)]
    pub start: StartAuthRequest,
    /// A custom OTP confirmation page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otp_confirmation_url: Option<String>,
    /// A custom RCS waiting page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rcs_confirmation_url: Option<String>,
}

impl From<StartAuthRequest> for StartServerAuthRequest {
    fn from(start: StartAuthRequest) -> Self {
        Self {
            start,
            ..Self::default()
        }
    }
}

/// The answer of `start_server_auth`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StartServerAuthResponse {
    /// The session to poll with `check_server_auth`.
    pub session_id: String,
    /// Where the user completes the verification.
    pub auth_url: String,
}

/// Where a server-side verification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ServerAuthStatus {
    /// The user has not finished.
    Pending,
    /// Finished; see `verified`.
    Completed,
}

/// The answer of `check_server_auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CheckServerAuthResponse {
    /// The status.
    pub status: ServerAuthStatus,
    /// Whether the user was verified (meaningful when completed).
    #[serde(default)]
    pub verified: bool,
}

/// The answer of `verify_number`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct NumberVerifyResponse {
    /// Whether the number is the device's own.
    pub device_phone_number_verified: bool,
}

/// The answer of the SIM swap check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SimSwapCheckResponse {
    /// Whether the SIM changed within the window.
    pub swapped: bool,
}

/// The answer of the SIM swap date retrieval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SimSwapDateResponse {
    /// The last SIM change; the SIM's activation date when it never changed; `None` when the
    /// operator may not disclose it.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub latest_sim_change: Option<OffsetDateTime>,
    /// With no date: the days the operator watched without seeing a change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitored_period: Option<u32>,
}

/// The answer of the Device Swap check (`{swapped}`, as the SIM swap check's).
pub type DeviceSwapCheckResponse = SimSwapCheckResponse;

/// The answer of the Device Swap date retrieval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DeviceSwapDateResponse {
    /// The last time the number moved to another device (the date it went into its device
    /// when it never did); `None` when the operator may not disclose it.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub latest_device_change: Option<OffsetDateTime>,
    /// With no date: the days the operator watched without seeing a change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitored_period: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_rules() {
        for ok in ["a@b", "first.last+tag@example.co.uk", "ü@exämple.de"] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        let long = format!("{}@example.com", "a".repeat(243));
        assert_eq!(long.len(), 255);
        for (bad, err) in [
            ("", EmailError::Length),
            (long.as_str(), EmailError::Length),
            ("ab", EmailError::Length),
            ("no-at.example", EmailError::Shape),
            ("a@b@c", EmailError::Shape),
            ("@example.com", EmailError::Shape),
            ("ada@", EmailError::Shape),
            ("a b@c.d", EmailError::ForbiddenCharacter),
            ("a@c.d\r\nBcc: e@f", EmailError::ForbiddenCharacter),
            ("<a@c.d>", EmailError::ForbiddenCharacter),
            ("a\u{0}@c.d", EmailError::ForbiddenCharacter),
            ("a\t@c.d", EmailError::ForbiddenCharacter),
        ] {
            assert_eq!(Email::parse(bad), Err(err), "{bad:?}");
        }
    }

    #[test]
    fn secrets_redacted_and_wire_names() {
        let code = OtpCode::new("123456");
        assert_eq!(format!("{code:?}"), "OtpCode([redacted])");
        let req = VerifyAuthRequest::sms(PhoneNumber::parse("+15555550106").unwrap(), code);
        assert!(!format!("{req:?}").contains("123456"));
        assert_eq!(
            serde_json::to_string(&req).unwrap(),
            r#"{"phoneNumber":"+15555550106","code":"123456"}"#
        );
        let server = StartServerAuthRequest {
            start: StartAuthRequest::phone(PhoneNumber::parse("+15555550100").unwrap())
                .with_fallback(FallbackChannel::NoFallback),
            otp_confirmation_url: Some("https://a.test/otp".into()),
            rcs_confirmation_url: None,
        };
        assert_eq!(
            serde_json::to_string(&server).unwrap(),
            r#"{"phoneNumber":"+15555550100","fallbackChannel":"NO_FALLBACK","otpConfirmationUrl":"https://a.test/otp"}"#
        );
        let start: StartAuthResponse = serde_json::from_str(
            r#"{"type":"MAGIC","authUrl":"u","flatAuthUrl":"f","operatorId":"o"}"#,
        )
        .unwrap();
        assert_eq!(start.auth_type, AuthType::Magic);
        assert_eq!(start.auth_url.as_deref(), Some("u"));
        let date: SimSwapDateResponse =
            serde_json::from_str(r#"{"latestSimChange":null}"#).unwrap();
        assert!(date.latest_sim_change.is_none());
        let date: SimSwapDateResponse =
            serde_json::from_str(r#"{"latestSimChange":null,"monitoredPeriod":120}"#).unwrap();
        assert_eq!(date.monitored_period, Some(120));
        let date: DeviceSwapDateResponse =
            serde_json::from_str(r#"{"latestDeviceChange":"2021-03-14T10:00:00Z"}"#).unwrap();
        assert!(date.latest_device_change.is_some());
        let date: DeviceSwapDateResponse =
            serde_json::from_str(r#"{"latestDeviceChange":null,"monitoredPeriod":30}"#).unwrap();
        assert_eq!(
            (date.latest_device_change, date.monitored_period),
            (None, Some(30))
        );
    }
}
