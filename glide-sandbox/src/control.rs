//! The typed control handle: drive simulated phones and carriers, inject faults, read the log.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::error::ControlError;
use crate::faults::Fault;
use crate::fixtures;
use crate::log::LoggedRequest;
use crate::state::{lock, AppState, Session, SessionCell, Status, Strategy};
use crate::util;

/// How long a scanned desktop session stays reserved for the scanning phone.
const SCAN_GRACE: Duration = Duration::from_secs(120);

/// A handle on a running sandbox's state, for tests: no HTTP involved.
/// Every action here has an HTTP twin under `/sandbox/…`.
#[derive(Clone)]
pub struct SandboxControl {
    pub(crate) state: Arc<AppState>,
}

impl std::fmt::Debug for SandboxControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxControl").finish_non_exhaustive()
    }
}

impl SandboxControl {
    pub(crate) fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }

    fn cell(&self, key: &str) -> Result<Arc<SessionCell>, ControlError> {
        self.state.session(key).ok_or(ControlError::SessionNotFound)
    }

    /// Runs `f` on a live session of `strategy`.
    fn with_session<T>(
        &self,
        key: &str,
        strategy: Strategy,
        f: impl FnOnce(&SessionCell, &mut Session) -> Result<T, ControlError>,
    ) -> Result<T, ControlError> {
        let cell = self.cell(key)?;
        let mut session = lock(&cell.data);
        if session.is_expired() {
            return Err(ControlError::SessionExpired);
        }
        if session.strategy != strategy {
            return Err(ControlError::WrongStrategy {
                expected: strategy.as_str(),
                actual: session.strategy.as_str(),
            });
        }
        f(&cell, &mut session)
    }

    /// What the Digital Credentials API would hand a page at `origin` for a TS43 session:
    /// an ES256 SD-JWT (`header.payload.signature~`) bound to the session's nonce and `origin`.
    /// `phone` overrides the device's number (default: the fixture's device number).
    ///
    /// Fails with [`ControlError::UserDenied`] for the denying fixture (`+15555550108`), which
    /// also moves the session to `failed`.
    pub fn ts43_credential(
        &self,
        session_key: &str,
        origin: &str,
        phone: Option<&str>,
    ) -> Result<String, ControlError> {
        if phone.is_some_and(|p| !util::is_e164(p)) {
            return Err(ControlError::InvalidArgument("phone_number"));
        }
        if origin.is_empty() {
            return Err(ControlError::InvalidArgument("origin"));
        }
        let state = Arc::clone(&self.state);
        self.with_session(session_key, Strategy::Ts43, |cell, session| {
            if session.status.is_final() || session.consumed {
                return Err(ControlError::InvalidState(session.status.as_str()));
            }
            let device = phone
                .map(str::to_owned)
                .unwrap_or_else(|| fixtures::device_number(session.phone_number.as_deref()));
            let denies = fixtures::fixture(session.phone_number.as_deref()).denies
                || fixtures::fixture(Some(&device)).denies;
            if denies {
                session.failure_reason = Some("user_denied");
                cell.set_status(session, Status::Failed);
                return Err(ControlError::UserDenied);
            }
            let iat = util::now().unix_timestamp();
            let lifetime = i64::try_from(state.config.credential_lifetime.as_secs()).unwrap_or(300);
            let vct = match session.use_case {
                crate::state::UseCase::Verify => "number-verification/verify/ts43",
                crate::state::UseCase::Get => "number-verification/device-phone-number/ts43",
            };
            let payload = json!({
                "iss": "https://carrier.sandbox.invalid",
                "vct": vct,
                "nonce": session.nonce,
                "aud": origin,
                "iat": iat,
                "exp": iat + lifetime,
                "jti": util::random_hex(16),
                "phone_number": device,
                "session_key": session.key,
            });
            let header = json!({"alg": "ES256", "typ": "dc+sd-jwt", "kid": "sandbox-carrier"});
            Ok(format!(
                "{}~",
                crate::jwt::sign(&state.signer, &header, &payload)
            ))
        })
    }

    /// Like [`SandboxControl::ts43_credential`], finding the session by its nonce (what
    /// `wallet.js` knows from the DCQL request).
    pub fn ts43_credential_for_nonce(
        &self,
        nonce: &str,
        origin: &str,
        phone: Option<&str>,
    ) -> Result<String, ControlError> {
        let key = {
            let sessions = lock(&self.state.sessions);
            sessions
                .values()
                .find_map(|cell| {
                    let s = lock(&cell.data);
                    (s.strategy == Strategy::Ts43 && s.nonce == nonce).then(|| s.key.clone())
                })
                .ok_or(ControlError::SessionNotFound)?
        };
        self.ts43_credential(&key, origin, phone)
    }

    /// The carrier page's Approve for a Link session: the session becomes `pending_completion`,
    /// an `agg_code` is minted, and the completion URL with
    /// `#agg_code=…&session_key=…` is returned (where the page redirects the browser).
    ///
    /// A native session (a `public_key` and no `fe_hash`) needs no `/complete` and becomes
    /// `completed` at once. The denying fixture makes the session `failed` and returns
    /// [`ControlError::UserDenied`].
    pub fn link_approve(&self, session_key: &str) -> Result<String, ControlError> {
        let redirect = self.state.config.completion_redirect_url.clone();
        self.with_session(session_key, Strategy::Link, |cell, session| {
            if session.status != Status::Pending && session.status != Status::Scanned {
                return Err(ControlError::InvalidState(session.status.as_str()));
            }
            if fixtures::fixture(session.phone_number.as_deref()).denies {
                session.failure_reason = Some("user_denied");
                cell.set_status(session, Status::Failed);
                return Err(ControlError::UserDenied);
            }
            let agg_code = util::random_hex(32);
            session.agg_code = Some(agg_code.clone());
            session.device_number = Some(fixtures::device_number(session.phone_number.as_deref()));
            let next = if session.fe_hash.is_none() && session.public_key.is_some() {
                Status::Completed
            } else {
                Status::PendingCompletion
            };
            cell.set_status(session, next);
            let base = redirect.split('#').next().unwrap_or_default();
            Ok(format!(
                "{base}#agg_code={agg_code}&session_key={}",
                session.key
            ))
        })
    }

    /// The carrier page's Deny for a Link session: the session becomes `failed`.
    pub fn link_deny(&self, session_key: &str) -> Result<(), ControlError> {
        self.with_session(session_key, Strategy::Link, |cell, session| {
            if session.status.is_final() {
                return Err(ControlError::InvalidState(session.status.as_str()));
            }
            session.failure_reason = Some("user_denied");
            cell.set_status(session, Status::Failed);
            Ok(())
        })
    }

    /// A phone scanned the desktop QR code: `pending` → `scanned` (repeating it is harmless).
    pub fn desktop_scan(&self, session_key: &str) -> Result<(), ControlError> {
        self.desktop_scan_with(session_key, None)
    }

    pub(crate) fn desktop_scan_with(
        &self,
        session_key: &str,
        user_agent: Option<&str>,
    ) -> Result<(), ControlError> {
        self.with_session(session_key, Strategy::Desktop, |cell, session| {
            scan(cell, session, user_agent)
        })
    }

    /// The phone approved: the desktop session becomes `completed` (or `failed` for the denying
    /// fixture, with [`ControlError::UserDenied`]); blocked verify calls wake at once.
    pub fn desktop_approve(&self, session_key: &str) -> Result<(), ControlError> {
        self.with_session(session_key, Strategy::Desktop, |cell, session| {
            if session.status == Status::Pending {
                scan(cell, session, None)?;
            }
            if session.status != Status::Scanned {
                return Err(ControlError::InvalidState(session.status.as_str()));
            }
            if fixtures::fixture(session.phone_number.as_deref()).denies {
                session.failure_reason = Some("user_denied");
                cell.set_status(session, Status::Failed);
                return Err(ControlError::UserDenied);
            }
            session.device_number = Some(fixtures::device_number(session.phone_number.as_deref()));
            cell.set_status(session, Status::Completed);
            Ok(())
        })
    }

    /// The phone denied: the desktop session becomes `failed`; blocked verify calls wake at once.
    pub fn desktop_deny(&self, session_key: &str) -> Result<(), ControlError> {
        self.with_session(session_key, Strategy::Desktop, |cell, session| {
            if session.status.is_final() {
                return Err(ControlError::InvalidState(session.status.as_str()));
            }
            session.failure_reason = Some("user_denied");
            cell.set_status(session, Status::Failed);
            Ok(())
        })
    }

    /// The session's status string (`pending`, `scanned`, `pending_completion`, `completed`,
    /// `failed`), or `None` for an unknown key.
    pub fn session_status(&self, session_key: &str) -> Option<String> {
        let cell = self.state.session(session_key)?;
        let status = lock(&cell.data).status.as_str().to_owned();
        Some(status)
    }

    /// Ends a session's lifetime now (to test expiry without waiting).
    pub fn expire_session(&self, session_key: &str) -> Result<(), ControlError> {
        let cell = self.cell(session_key)?;
        let mut session = lock(&cell.data);
        session.expires_at = Instant::now();
        let status = session.status;
        drop(session);
        cell.changed.send_replace(status);
        Ok(())
    }

    /// Adds a fault rule.
    pub fn add_fault(&self, fault: Fault) {
        lock(&self.state.faults).add(fault);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        lock(&self.state.faults).clear();
    }

    /// The requests received so far, oldest first, secrets redacted.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.state.log).iter().cloned().collect()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        lock(&self.state.log).clear();
    }
}

fn scan(
    cell: &SessionCell,
    session: &mut Session,
    user_agent: Option<&str>,
) -> Result<(), ControlError> {
    match session.status {
        Status::Scanned => Ok(()),
        Status::Pending => {
            let ua = user_agent.unwrap_or("");
            let os = if ua.contains("iPhone") || ua.contains("iPad") {
                "iOS"
            } else {
                "Android"
            };
            let browser = util::browser_family(ua).unwrap_or("chrome");
            let now = util::now();
            session.device_info = Some(json!({"type": "mobile", "os": os, "browser": browser}));
            session.scanned_at = Some(now);
            session.grace_expires_at = Some(now + SCAN_GRACE);
            cell.set_status(session, Status::Scanned);
            Ok(())
        }
        other => Err(ControlError::InvalidState(other.as_str())),
    }
}
