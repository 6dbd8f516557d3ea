//! The strategy-specific `data` of a prepare answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::prepare::Challenge;

/// `data` for `ts43`: what the browser passes to the Digital Credentials API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ts43Data {
    /// `openid4vp-v1-unsigned`.
    #[serde(default)]
    pub protocol: String,
    /// The OpenID4VP request.
    pub data: Ts43Request,
}

/// The OpenID4VP request inside [`Ts43Data`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ts43Request {
    /// The session nonce.
    #[serde(default)]
    pub nonce: String,
    /// `dc_api` (or `dc_api.jwt`).
    #[serde(default)]
    pub response_mode: String,
    /// `vp_token`.
    #[serde(default)]
    pub response_type: String,
    /// The DCQL query, kept as JSON (`credentials[].meta.credential_authorization_jwt`, …).
    #[serde(default)]
    pub dcql_query: Value,
}

/// `data` for `link`: where the browser goes to reach the carrier.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkData {
    /// The App Clip / carrier app / OAuth URL to navigate to.
    pub url: String,
    /// Where the carrier returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    /// `{base}/public/status/{session_key}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_url: Option<String>,
    /// Extra parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<BTreeMap<String, String>>,
    /// How the link should be completed (`app_clip`, `app_link`, `headless`, `web_link`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_type: Option<String>,
    /// Legacy: a server-made `fe_code` when no `fe_hash` was sent. Never forward it to a browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fe_code: Option<String>,
}

impl std::fmt::Debug for LinkData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkData")
            .field("url", &self.url)
            .field("return_url", &self.return_url)
            .field("status_url", &self.status_url)
            .field("params", &self.params)
            .field("link_type", &self.link_type)
            .field("fe_code", &self.fe_code.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// `data` for `desktop`: the QR code and where to poll.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesktopData {
    /// `qr-auth-v1`.
    #[serde(default)]
    pub protocol: String,
    /// The QR data.
    pub data: DesktopQrData,
}

/// The QR part of [`DesktopData`], in both the new shape (`qr_image`, `url`) and the old one
/// (`ios_*`, `android_*`, `qr_code_image`, `polling_interval`, `expires_in`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DesktopQrData {
    /// The session id (equal to the session key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// New: one universal QR image (`data:image/png;base64,…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr_image: Option<String>,
    /// New: the universal mobile-auth URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Where to poll the status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_url: Option<String>,
    /// The visual challenge (same as the top-level one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<Challenge>,
    /// Old: QR for iOS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ios_qr_image: Option<String>,
    /// Old: QR for Android.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub android_qr_image: Option<String>,
    /// Old: a single QR image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr_code_image: Option<String>,
    /// Old: URL for iOS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ios_url: Option<String>,
    /// Old: URL for Android.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub android_url: Option<String>,
    /// Old: polling interval (milliseconds in the web SDK).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polling_interval: Option<u64>,
    /// Old: lifetime in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
}

impl DesktopQrData {
    /// The QR image to show: `qr_image`, else `qr_code_image`, else `ios_qr_image`, else
    /// `android_qr_image`.
    pub fn best_qr_image(&self) -> Option<&str> {
        self.qr_image
            .as_deref()
            .or(self.qr_code_image.as_deref())
            .or(self.ios_qr_image.as_deref())
            .or(self.android_qr_image.as_deref())
    }

    /// The mobile URL: `url`, else `ios_url`, else `android_url`.
    pub fn best_url(&self) -> Option<&str> {
        self.url
            .as_deref()
            .or(self.ios_url.as_deref())
            .or(self.android_url.as_deref())
    }
}
