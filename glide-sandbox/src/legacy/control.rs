//! The typed control methods of the legacy surfaces.

use std::time::Instant;

use crate::control::SandboxControl;
use crate::error::ControlError;
use crate::fixtures;
use crate::util;

use super::ServerAuthStatus;

impl SandboxControl {
    /// The last OTP the sandbox "sent" by SMS or e-mail to `phone_or_email` (an E.164 number or
    /// an e-mail address, case-insensitive), even if it was used or has expired; `None` if none
    /// was sent. HTTP twin: `POST /sandbox/legacy/otp`.
    ///
    /// ```
    /// let (_app, control) = glide_sandbox::router(glide_sandbox::SandboxConfig::default());
    /// assert_eq!(control.legacy_otp("+15555550106"), None);
    /// ```
    pub fn legacy_otp(&self, phone_or_email: &str) -> Option<String> {
        self.state.legacy.last_otp(phone_or_email)
    }

    /// Approves a server-initiated auth session, as the Approve button of its `authUrl` page:
    /// the session becomes `COMPLETED` with `verified: true`. For the denying fixture
    /// (`+15555550108`) it becomes `COMPLETED` with `verified: false` and
    /// [`ControlError::UserDenied`] is returned.
    pub fn server_auth_approve(&self, session_id: &str) -> Result<(), ControlError> {
        match self.server_auth_decide(session_id, true)? {
            (true, _) => Ok(()),
            (false, _) => Err(ControlError::UserDenied),
        }
    }

    /// Denies a server-initiated auth session: `COMPLETED` with `verified: false`.
    pub fn server_auth_deny(&self, session_id: &str) -> Result<(), ControlError> {
        self.server_auth_decide(session_id, false).map(|_| ())
    }

    /// Decides a server-auth session; returns whether it is verified and where the page
    /// redirects afterwards (`redirectUrl` with `?state=…`), if anywhere.
    pub(crate) fn server_auth_decide(
        &self,
        session_id: &str,
        approve: bool,
    ) -> Result<(bool, Option<String>), ControlError> {
        self.state
            .legacy
            .with_server_auth(session_id, |s| {
                if s.expires_at <= Instant::now() {
                    return Err(ControlError::SessionExpired);
                }
                if s.status == ServerAuthStatus::Completed {
                    return Err(ControlError::InvalidState("COMPLETED"));
                }
                let denies = fixtures::fixture(s.phone.as_deref()).denies && s.phone.is_some();
                s.status = ServerAuthStatus::Completed;
                s.verified = approve && !denies;
                let location = s
                    .redirect_url
                    .as_deref()
                    .map(|url| redirect_with_state(url, s.state.as_deref()));
                Ok((s.verified, location))
            })
            .ok_or(ControlError::SessionNotFound)?
    }

    /// Mints a Number Verify authorization code as `GET /oauth2/auth` would for a device whose
    /// login hint is `tel:{phone}` (fixtures applied: `+15555550105`'s device is
    /// `+15555550199`). A `phone` that is not E.164 means no hint: the default device number
    /// `+15555550100`. Unlike `/oauth2/auth`, the denying fixture gets a code too. The code is
    /// single use and lives [`crate::SandboxConfig::legacy_code_lifetime`]. It is bound to no
    /// PKCE challenge and no nonce (as from an authorization request without them).
    pub fn number_verify_code(&self, phone: &str) -> String {
        let hint = util::is_e164(phone).then_some(phone);
        let device = super::device_for_hint(hint);
        self.state.legacy.mint_code(
            &device,
            self.state.config.legacy_code_lifetime,
            super::CodeBinding::default(),
        )
    }
}

/// `url` with `state` appended as a query parameter (when given).
pub(crate) fn redirect_with_state(url: &str, state: Option<&str>) -> String {
    match (url::Url::parse(url), state) {
        (Ok(mut parsed), Some(state)) => {
            parsed.query_pairs_mut().append_pair("state", state);
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}
