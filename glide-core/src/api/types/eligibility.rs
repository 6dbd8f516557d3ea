//! `POST /magic-auth/v2/auth/eligibility`.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::prepare::{ClientInfo, Plmn};
use crate::api::validate;
use crate::error::Error;
use crate::phone::mask_phone;

/// Which strategies are available for a number or network and a browser.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EligibilityRequest {
    /// E.164 number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// The mobile network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plmn: Option<Plmn>,
    /// The end user's browser (`user_agent` required).
    pub client_info: ClientInfo,
}

impl EligibilityRequest {
    /// A request for a number.
    pub fn for_number(phone_number: &crate::PhoneNumber, client_info: ClientInfo) -> Self {
        Self {
            phone_number: Some(phone_number.as_str().to_owned()),
            plmn: None,
            client_info,
        }
    }

    /// A request for a network.
    pub fn for_plmn(plmn: Plmn, client_info: ClientInfo) -> Self {
        Self {
            phone_number: None,
            plmn: Some(plmn),
            client_info,
        }
    }

    /// At least one of `phone_number` / `plmn`, each well-formed; `user_agent` required.
    pub fn validate(&self) -> Result<(), Error> {
        if self.phone_number.is_none() && self.plmn.is_none() {
            return Err(Error::validation(
                "phone_number",
                "phone_number or plmn is required",
            ));
        }
        if let Some(number) = &self.phone_number {
            validate::e164("phone_number", number)?;
        }
        if let Some(plmn) = &self.plmn {
            plmn.validate()?;
        }
        self.client_info.validate()
    }
}

impl fmt::Debug for EligibilityRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EligibilityRequest")
            .field(
                "phone_number",
                &self.phone_number.as_deref().map(mask_phone),
            )
            .field("plmn", &self.plmn)
            .field("client_info", &self.client_info)
            .finish()
    }
}

/// The answer to eligibility.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EligibilityResponse {
    /// Whether any strategy is available.
    #[serde(default)]
    pub eligible: bool,
    /// The available strategies.
    #[serde(default)]
    pub available_options: Vec<EligibilityOption>,
}

/// One available strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EligibilityOption {
    /// `ts43`, `link` or `desktop` (kept as text: new names must not break decoding).
    #[serde(default)]
    pub authentication_strategy: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Platforms.
    #[serde(default)]
    pub available_platforms: Vec<String>,
    /// Requirements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirements: Option<Requirements>,
}

/// What the completing device needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requirements {
    /// `self` or `companion` (a different phone, desktop QR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Minimum Android version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub android_min_version: Option<i64>,
    /// Minimum Android SDK level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub android_min_sdk: Option<i64>,
    /// Minimum iOS version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ios_min_version: Option<i64>,
    /// Keys this version does not know, kept.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}
