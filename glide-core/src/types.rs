//! Small vocabulary types shared by the client, the flow engine and the adapters.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a verification is for (Glide's `use_case`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum UseCase {
    /// Confirm that a number the user typed is the device's own number.
    VerifyPhoneNumber,
    /// Learn the device's number from the carrier.
    GetPhoneNumber,
}

impl UseCase {
    /// Glide's wire name (`"VerifyPhoneNumber"` / `"GetPhoneNumber"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyPhoneNumber => "VerifyPhoneNumber",
            Self::GetPhoneNumber => "GetPhoneNumber",
        }
    }
}

impl fmt::Display for UseCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a phone number was verified.
///
/// The first three are Magical Auth strategies chosen by Glide; the others are the fallback and
/// legacy flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Strategy {
    /// TS.43 through the browser's Digital Credentials API.
    Ts43,
    /// The carrier app / App Clip link, with device binding.
    Link,
    /// A QR code on a desktop, completed on the phone.
    Desktop,
    /// Legacy Magic Auth (silent carrier check).
    Magic,
    /// A one-time code sent by SMS.
    Sms,
    /// A one-time code sent by e-mail.
    Email,
    /// The operator OAuth flow of Number Verify.
    NumberVerify,
}

impl Strategy {
    /// The wire name (`"ts43"`, `"link"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ts43 => "ts43",
            Self::Link => "link",
            Self::Desktop => "desktop",
            Self::Magic => "magic",
            Self::Sms => "sms",
            Self::Email => "email",
            Self::NumberVerify => "number_verify",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Glide's risk level for a SIM or device swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RiskLevel {
    /// Changed more than 30 days ago, or never.
    #[serde(rename = "RISK_LEVEL_LOW")]
    Low,
    /// Changed 7 to 30 days ago.
    #[serde(rename = "RISK_LEVEL_MEDIUM")]
    Medium,
    /// Changed within the last 7 days.
    #[serde(rename = "RISK_LEVEL_HIGH")]
    High,
    /// The carrier could not tell, or a level this version does not know.
    #[serde(rename = "RISK_LEVEL_UNKNOWN", other)]
    Unknown,
}

impl RiskLevel {
    /// The name Glide sends (`RISK_LEVEL_HIGH`, …), for log lines and reasons.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "RISK_LEVEL_LOW",
            Self::Medium => "RISK_LEVEL_MEDIUM",
            Self::High => "RISK_LEVEL_HIGH",
            Self::Unknown => "RISK_LEVEL_UNKNOWN",
        }
    }
}

/// A SIM-swap or device-swap signal, exactly as Glide sends it (`SimSwapInfo` / `DeviceSwapInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SwapInfo {
    /// Whether the carrier was asked.
    pub checked: bool,
    /// The risk level, when checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_level: Option<RiskLevel>,
    /// How long ago the last change happened, in words (`"0-4 hours"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_band: Option<String>,
    /// The carrier that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_name: Option<String>,
    /// When the carrier was asked (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<String>,
    /// Why it was not checked (`timeout`, `carrier_not_supported`, `disabled`, `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_level_names_are_the_wire_names() {
        for level in [
            RiskLevel::Low,
            RiskLevel::Medium,
            RiskLevel::High,
            RiskLevel::Unknown,
        ] {
            let wire = serde_json::to_string(&level).unwrap();
            assert_eq!(wire, format!("\"{}\"", level.as_str()));
        }
    }

    #[test]
    fn wire_names() {
        assert_eq!(
            serde_json::to_string(&UseCase::GetPhoneNumber).unwrap(),
            "\"GetPhoneNumber\""
        );
        assert_eq!(
            serde_json::to_string(&Strategy::NumberVerify).unwrap(),
            "\"number_verify\""
        );
        let level: RiskLevel = serde_json::from_str("\"RISK_LEVEL_SOMETHING_NEW\"").unwrap();
        assert_eq!(level, RiskLevel::Unknown);
        let info: SwapInfo = serde_json::from_str(
            r#"{"checked":true,"risk_level":"RISK_LEVEL_HIGH","age_band":"0-4 hours","extra":1}"#,
        )
        .unwrap();
        assert_eq!(info.risk_level, Some(RiskLevel::High));
    }
}
