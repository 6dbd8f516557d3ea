//! Number Verify, the operator's OAuth flow: `number-verify/start` (302 to the operator's
//! authorization URL) and `number-verify/callback` (code exchange, number check, session).
//!
//! Security rules, all enforced here:
//! - the `state` is 32 random bytes bound to the browser by the `glide_nv_state` cookie
//!   (`__Host-` in secure mode), compared in constant time, expiring after 300 s and taken on
//!   first use; a missing, forged, reused or expired state answers 403 `INVALID_STATE` before any
//!   code exchange;
//! - the code is bound to the flow that started it: each start makes fresh [`FlowSecrets`] (an
//!   OIDC `nonce` and a PKCE `code_verifier`), kept only in the server-side state record; the
//!   authorization URL carries the nonce and the verifier's `S256` challenge, the exchange sends
//!   the verifier and requires the nonce in the ID token. A code from another browser's flow,
//!   presented with this browser's own state and cookie, is refused by the operator (wrong
//!   verifier) or by the nonce check: a failure redirect and no session;
//! - the callback redirects only to the configured return path, never to a URL from the request;
//! - a verified number gets its SIM-swap and device-swap signals ([`SwapChecks`]) before the
//!   risk policy; a denial redirects to the return path with `verification=failed`, like any
//!   failure.

use std::sync::Arc;
use std::time::Duration;

use http::header::LOCATION;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::codes::parse_phone;
use super::io::{self, EndpointResponse, Incoming, ResponseExt as _};
use super::issue::SessionIssuer;
use super::limits::Limits;
use super::records::{is_id, random_id, Record, Records};
use super::swap_checks::SwapChecks;
use crate::binding::constant_time_eq;
use crate::clock::SharedClock;
use crate::cookie::CookieSpec;
use crate::error::{Error, RequestError};
use crate::legacy::{AuthCode, AuthUrlOptions, FlowSecrets, LegacyClient};
use crate::session::VerifiedPhone;
use crate::{PhoneNumber, Strategy, UseCase};

/// A Number Verify start. Never logged: it holds the flow's secrets.
#[derive(Serialize, Deserialize)]
struct StateRecord {
    state: String,
    phone: PhoneNumber,
    created: i64,
    /// The flow's OIDC nonce ([`FlowSecrets::nonce`]); empty in a record written before
    /// nonces were kept, which then fails.
    #[serde(default)]
    nonce: String,
    /// The flow's PKCE verifier ([`FlowSecrets::code_verifier`]).
    #[serde(default)]
    code_verifier: String,
}

impl Record for StateRecord {
    const PREFIX: &'static str = "legacy:nv_state:";
    const TTL: Duration = Duration::from_secs(300);
    fn created(&self) -> i64 {
        self.created
    }
}

/// The Number Verify flow and exactly what it needs.
pub(crate) struct NumberVerify {
    client: LegacyClient,
    states: Records<StateRecord>,
    cookie: CookieSpec,
    callback_url: String,
    return_path: String,
    issuer: Arc<SessionIssuer>,
    limits: Arc<Limits>,
    clock: SharedClock,
    swap_checks: Arc<SwapChecks>,
}

/// Number Verify's settings, checked when the engine is built.
#[derive(Debug, Clone)]
pub(crate) struct NumberVerifySettings {
    pub(crate) callback_url: String,
    pub(crate) return_path: String,
}

impl NumberVerifySettings {
    /// Checks the callback URL (absolute http(s), no fragment) and the return path.
    pub(crate) fn new(callback_url: String, return_path: String) -> Result<Self, Error> {
        let parsed = url::Url::parse(&callback_url).map_err(|_| {
            Error::Config("number_verify_callback_url must be an absolute URL".into())
        })?;
        if !matches!(parsed.scheme(), "http" | "https")
            || parsed.host().is_none()
            || parsed.fragment().is_some()
        {
            return Err(Error::Config(
                "number_verify_callback_url must be an absolute http(s) URL without fragment"
                    .into(),
            ));
        }
        validate_return_path(&return_path)?;
        Ok(Self {
            callback_url,
            return_path,
        })
    }
}

impl NumberVerify {
    pub(crate) fn new(
        client: LegacyClient,
        store: Arc<dyn crate::store::Store>,
        cookie: CookieSpec,
        settings: NumberVerifySettings,
        shared: (Arc<SessionIssuer>, Arc<Limits>, SharedClock),
        swap_checks: Arc<SwapChecks>,
    ) -> Self {
        let (issuer, limits, clock) = shared;
        Self {
            swap_checks,
            client,
            states: Records::new(store),
            cookie,
            callback_url: settings.callback_url,
            return_path: settings.return_path,
            issuer,
            limits,
            clock,
        }
    }

    /// `GET {base}/number-verify/start?phone_number=`
    pub(crate) async fn start(&self, request: &Incoming) -> Result<EndpointResponse, Error> {
        let phone = parse_phone(request.query_param("phone_number").as_deref())?;
        self.issuer.check_number(&phone)?;
        self.limits
            .start("legacy_start", request, Some(&phone))
            .await?;
        let state = random_id();
        let secrets = FlowSecrets::random();
        let id = self
            .states
            .create(&StateRecord {
                state: state.clone(),
                phone: phone.clone(),
                created: self.clock.now().unix_timestamp(),
                nonce: secrets.nonce().to_owned(),
                code_verifier: secrets.code_verifier().to_owned(),
            })
            .await?;
        let url = self.client.number_verify().get_auth_url(&AuthUrlOptions {
            state: Some(state),
            use_dev_number: Some(phone),
            redirect_uri: Some(self.callback_url.clone()),
            print_code: false,
            secrets: Some(secrets),
        })?;
        Ok(io::empty(StatusCode::FOUND)
            .with_header(LOCATION, url.as_str())
            .with_cookie(self.cookie.set(&id)))
    }

    /// `GET {base}/number-verify/callback?code=&state=`
    pub(crate) async fn callback(&self, request: &Incoming) -> Result<EndpointResponse, Error> {
        let invalid = || Error::from(RequestError::InvalidState);
        let id = request
            .cookies
            .get(&self.cookie.name)
            .filter(|v| is_id(v))
            .ok_or_else(invalid)?;
        let state = request.query_param("state").ok_or_else(invalid)?;
        let (record, version) = self.states.load(id).await?.ok_or_else(invalid)?;
        if !constant_time_eq(record.state.as_bytes(), state.as_bytes()) {
            return Err(invalid());
        }
        let taken = self.states.take(id, Some(version)).await?;
        let expired =
            self.clock.now().unix_timestamp() - record.created > StateRecord::TTL.as_secs() as i64;
        if !taken || expired {
            return Err(invalid());
        }

        if request.query_param("error").is_some() {
            return Ok(self.failed("operator error"));
        }
        let Some(code) = request.query_param("code").filter(|c| !c.is_empty()) else {
            return Ok(self.failed("no code"));
        };
        let Ok(secrets) = FlowSecrets::from_parts(&record.nonce, &record.code_verifier) else {
            return Ok(self.failed("state record without flow secrets"));
        };
        let outcome = match self
            .client
            .number_verify()
            .for_flow(&AuthCode::new(code), &secrets, Some(record.phone.clone()))
            .await
        {
            Ok(user) => user.verify_number(None).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(answer) if answer.device_phone_number_verified => {}
            Ok(_) => return Ok(self.failed("not the device's number")),
            // A wrong PKCE verifier is the operator's 400 `invalid_grant`.
            Err(Error::Api(api)) if api.status < 500 => return Ok(self.failed("refused by Glide")),
            Err(Error::Binding(e)) => {
                tracing::warn!(
                    code = e.code(),
                    "number verify: the code was not issued for this flow"
                );
                return Ok(self.failed("code of another flow"));
            }
            Err(e) => return Err(e),
        }
        let mut verified = VerifiedPhone::new(
            record.phone,
            UseCase::VerifyPhoneNumber,
            Strategy::NumberVerify,
            self.clock.now(),
        );
        // The state is taken: the check runs once per verification, fail-closed as a 503.
        self.swap_checks.fill(&mut verified).await?;
        match self.issuer.issue(request, verified).await {
            Ok(session_cookie) => Ok(io::empty(StatusCode::FOUND)
                .with_header(LOCATION, &self.return_path)
                .with_cookie(self.cookie.removal())
                .with_cookie(session_cookie)),
            Err(Error::Request(RequestError::RiskPolicyDenied(_))) => {
                Ok(self.failed("risk policy"))
            }
            Err(e) => Err(e),
        }
    }

    /// The redirect of a failed verification: the return path with `verification=failed`.
    fn failed(&self, reason: &str) -> EndpointResponse {
        tracing::debug!(reason, "number verify failed");
        let separator = if self.return_path.contains('?') {
            '&'
        } else {
            '?'
        };
        io::empty(StatusCode::FOUND)
            .with_header(
                LOCATION,
                &format!("{}{separator}verification=failed", self.return_path),
            )
            .with_cookie(self.cookie.removal())
    }
}

/// A return path is a relative path: a single leading `/`, no `//`, no `\`, no control
/// characters, whitespace or quotes (so no scheme and no other host can be reached).
pub(crate) fn validate_return_path(path: &str) -> Result<(), Error> {
    let ok = path.starts_with('/')
        && !path.contains("//")
        && !path.contains('\\')
        && path.len() <= 2048
        && path
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'<' | b'>'));
    if ok {
        Ok(())
    } else {
        Err(Error::Config(
            "legacy_return_path must be a relative path starting with a single '/'".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_paths() {
        for ok in ["/", "/account", "/a/b?x=1", "/done#top"] {
            assert!(validate_return_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "account",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "/a b",
            "/a\r\nSet-Cookie: x",
            "/ok//x",
            "javascript:alert(1)",
        ] {
            assert!(validate_return_path(bad).is_err(), "{bad:?}");
        }
    }
}
