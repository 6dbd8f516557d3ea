//! One method per Glide endpoint.

use std::time::Duration;

use bytes::Bytes;
use http::Method;
use rand::distr::Alphanumeric;
use rand::RngExt as _;

use super::client::Glide;
use super::error_body::retry_after_header;
use super::transport::{decode, json_body, Auth, Reply};
use super::types::process::{PendingWire, ProcessWire};
use super::types::{
    complete::CompleteWire, CompleteRequest, EligibilityRequest, EligibilityResponse, Pending,
    PhoneResult, PrepareRequest, PrepareResponse, ProcessOutcome, ProcessRequest, StatusResponse,
};
use crate::binding::validate_session_key;
use crate::error::{Error, FlowError};
use crate::types::UseCase;

const AUTH: [&str; 3] = ["magic-auth", "v2", "auth"];

/// How long to wait before re-issuing after a 202 without `Retry-After`.
pub const DEFAULT_PENDING_RETRY: Duration = Duration::from_secs(1);

fn auth_path(last: &str) -> [&str; 4] {
    [AUTH[0], AUTH[1], AUTH[2], last]
}

fn nonce() -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

impl Glide {
    /// `POST /magic-auth/v2/auth/eligibility`: which strategies a number or network can use.
    pub async fn eligibility(
        &self,
        request: &EligibilityRequest,
    ) -> Result<EligibilityResponse, Error> {
        request.validate()?;
        let body = json_body(request)?;
        self.call(
            Method::POST,
            &auth_path("eligibility"),
            Some(body),
            Auth::ClientCredentials,
        )
        .await?
        .json()
    }

    /// `POST /magic-auth/v2/auth/prepare`: starts a session.
    ///
    /// The request is checked with [`PrepareRequest::validate`] first (nothing is sent when it
    /// fails); a random 32-character `nonce` is added when none is set.
    pub async fn prepare(&self, request: &PrepareRequest) -> Result<PrepareResponse, Error> {
        request.validate()?;
        let mut request = request.clone();
        if request.nonce.is_none() {
            request.nonce = Some(nonce());
        }
        if let Some(hash) = &mut request.fe_hash {
            hash.make_ascii_lowercase();
        }
        let body = json_body(&request)?;
        self.call(
            Method::POST,
            &auth_path("prepare"),
            Some(body),
            Auth::ClientCredentials,
        )
        .await?
        .json()
    }

    /// `POST /magic-auth/v2/auth/verify-phone-number`.
    pub async fn verify_phone_number(
        &self,
        request: &ProcessRequest,
    ) -> Result<ProcessOutcome, Error> {
        self.process_at(
            EncodedProcess::endpoint(UseCase::VerifyPhoneNumber),
            request,
        )
        .await
    }

    /// `POST /magic-auth/v2/auth/get-phone-number`.
    pub async fn get_phone_number(
        &self,
        request: &ProcessRequest,
    ) -> Result<ProcessOutcome, Error> {
        self.process_at(EncodedProcess::endpoint(UseCase::GetPhoneNumber), request)
            .await
    }

    /// Verify or get, by use case.
    pub async fn process(
        &self,
        use_case: UseCase,
        request: &ProcessRequest,
    ) -> Result<ProcessOutcome, Error> {
        match use_case {
            UseCase::VerifyPhoneNumber => self.verify_phone_number(request).await,
            UseCase::GetPhoneNumber => self.get_phone_number(request).await,
        }
    }

    /// Like [`Glide::process`], re-issuing the request while Glide answers 202 (desktop: the
    /// phone has not finished), pacing requests by [`Pending::retry_after`].
    ///
    /// Fails with [`FlowError::Expired`] when `deadline` passes (an in-flight request is
    /// abandoned), when the next attempt could only start after it, or when Glide says the
    /// session has no time left (`session_expires_in_seconds: 0` or `retry: false`).
    pub async fn process_until_done(
        &self,
        use_case: UseCase,
        request: &ProcessRequest,
        deadline: tokio::time::Instant,
    ) -> Result<PhoneResult, Error> {
        loop {
            let started = tokio::time::Instant::now();
            if started >= deadline {
                return Err(FlowError::Expired.into());
            }
            let outcome = tokio::time::timeout_at(deadline, self.process(use_case, request))
                .await
                .map_err(|_| Error::Flow(FlowError::Expired))??;
            let pending = match outcome {
                ProcessOutcome::Done(result) => return Ok(result),
                ProcessOutcome::Pending(pending) => pending,
            };
            if !pending.retry || pending.expires_in == Some(Duration::ZERO) {
                return Err(FlowError::Expired.into());
            }
            let next = started + pending.retry_after;
            if next >= deadline {
                return Err(FlowError::Expired.into());
            }
            tokio::time::sleep_until(next).await;
        }
    }

    async fn process_at(
        &self,
        endpoint: &'static str,
        request: &ProcessRequest,
    ) -> Result<ProcessOutcome, Error> {
        self.send_process(endpoint, EncodedProcess::encode(request)?)
            .await
    }

    /// Sends a checked and encoded process request to `endpoint`.
    pub(crate) async fn send_process(
        &self,
        endpoint: &'static str,
        request: EncodedProcess,
    ) -> Result<ProcessOutcome, Error> {
        let EncodedProcess { body, session_key } = request;
        let reply = self
            .call(
                Method::POST,
                &auth_path(endpoint),
                Some(body),
                Auth::ClientCredentials,
            )
            .await?;
        if reply.status == 202 {
            return pending(&reply, session_key).map(ProcessOutcome::Pending);
        }
        reply.json().map(ProcessOutcome::Done)
    }

    /// `POST /magic-auth/v2/auth/complete`: Link device binding after the carrier redirect.
    /// Any 2xx (200 with any body, 204) is success.
    pub async fn complete(&self, request: &CompleteRequest) -> Result<(), Error> {
        request.validate()?;
        let body = json_body(&CompleteWire::from(request))?;
        self.call(
            Method::POST,
            &auth_path("complete"),
            Some(body),
            Auth::ClientCredentials,
        )
        .await?
        .check_json_or_empty()
    }

    /// `POST /magic-auth/v2/auth/report-invocation` `{session_id}`: the user pressed the
    /// button (analytics; idempotent).
    pub async fn report_invocation(&self, session_key: &str) -> Result<(), Error> {
        validate_session_key(session_key)?;
        let body = json_body(&serde_json::json!({ "session_id": session_key }))?;
        self.call(
            Method::POST,
            &auth_path("report-invocation"),
            Some(body),
            Auth::ClientCredentials,
        )
        .await?
        .check_json_or_empty()
    }

    /// `GET /magic-auth/v2/auth/status/{session_key}` (Bearer).
    ///
    /// Glide answers a finished-badly session with an error status, which is read as a status
    /// (as Glide's web SDK does): `422` is [`SessionStatus::Failed`](super::SessionStatus),
    /// `410` is [`SessionStatus::Expired`](super::SessionStatus). `404` and the rest are errors.
    pub async fn status(&self, session_key: &str) -> Result<StatusResponse, Error> {
        validate_session_key(session_key)?;
        let reply = self
            .call(
                Method::GET,
                &[AUTH[0], AUTH[1], AUTH[2], "status", session_key],
                None,
                Auth::ClientCredentials,
            )
            .await?;
        status_answer(reply, session_key)
    }

    /// `GET /public/status/{session_key}` (no authorization; what `status_url` points at). A
    /// `422` / `410` answer is a status, as for [`Glide::status`].
    pub async fn public_status(&self, session_key: &str) -> Result<StatusResponse, Error> {
        validate_session_key(session_key)?;
        let reply = self
            .call(
                Method::GET,
                &["public", "status", session_key],
                None,
                Auth::None,
            )
            .await?;
        status_answer(reply, session_key)
    }
}

/// A status endpoint's answer: 2xx decoded; `422` / `410` read as a final status; the rest as
/// errors.
fn status_answer(reply: Reply, session_key: &str) -> Result<StatusResponse, Error> {
    match StatusResponse::from_final_status(reply.status, &reply.body, session_key) {
        Some(status) => Ok(status),
        None => reply.json(),
    }
}

/// A process request checked and encoded for the wire: what a desktop call waiting on Glide's
/// long poll holds, instead of the decoded session (a JSON body of a few hundred bytes, not a
/// tree of maps).
pub(crate) struct EncodedProcess {
    body: Bytes,
    session_key: String,
}

impl EncodedProcess {
    /// Checks `request` (see [`ProcessRequest::validate`]) and encodes it.
    pub(crate) fn encode(request: &ProcessRequest) -> Result<Self, Error> {
        request.validate()?;
        Ok(Self {
            body: json_body(&ProcessWire::from(request))?,
            session_key: request.session.session_key().to_owned(),
        })
    }

    /// The endpoint of `use_case`.
    pub(crate) fn endpoint(use_case: UseCase) -> &'static str {
        match use_case {
            UseCase::VerifyPhoneNumber => "verify-phone-number",
            UseCase::GetPhoneNumber => "get-phone-number",
        }
    }
}

fn pending(reply: &Reply, session_key: String) -> Result<Pending, Error> {
    let wire: PendingWire = if reply.body.iter().all(u8::is_ascii_whitespace) {
        decode(reply.status, b"{}")?
    } else {
        decode(reply.status, &reply.body)?
    };
    Ok(Pending {
        retry_after: retry_after_header(&reply.headers).unwrap_or(DEFAULT_PENDING_RETRY),
        expires_in: wire
            .session_expires_in_seconds
            .map(|s| Duration::from_secs(s.max(0).unsigned_abs())),
        session_key: wire.session_key.unwrap_or(session_key),
        session_status: wire.session_status,
        message: wire.message,
        retry: wire.retry.unwrap_or(true),
    })
}
