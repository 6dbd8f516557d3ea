//! Magical Auth, the three strategies (TS43, Link, Desktop): `prepare`, `report-invocation`,
//! `process`, `complete` and `status`. Each route reads top to bottom in its own method.
//!
//! Every flow is bound to the browser that prepared it by an HttpOnly cookie holding a random
//! `fe_code` whose hash the flow record keeps ([`BindingCookies`]); `process`, `complete` and
//! `status` of a flow require it, compared in constant time, so a session key alone (in a QR
//! code's URL, say) is worth nothing.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::binding_cookie::BindingCookies;
use super::chain::{magical_outcome, StepNotes, StepOutcome};
use super::door::Door;
use super::hook::VerificationEvent;
use super::io::{self, EndpointResponse, Incoming, ResponseExt as _};
use super::issue::SessionIssuer;
use super::limits::Limits;
use crate::api::{
    Challenge, ClientInfo, CompleteRequest, ConsentData, EncodedProcess, Glide, GlideSession,
    PhoneResult, Plmn, PrepareOptions, PrepareRequest, ProcessOutcome, ProcessRequest,
    SessionStatus,
};
use crate::binding::{self, AggCode, FeCode};
use crate::clock::SharedClock;
use crate::error::{BindingError, Error, FlowError, RequestError};
use crate::events::FlowEvents;
use crate::flow::{Event, FlowRecord, FlowRepo, FlowState, Terminal};
use crate::session::VerifiedPhone;
use crate::telemetry;
use crate::{PhoneNumber, Strategy, UseCase};

/// The Magical Auth flows and exactly what they need.
pub(crate) struct MagicalAuth {
    pub(crate) glide: Glide,
    pub(crate) flows: FlowRepo,
    pub(crate) events: Arc<dyn FlowEvents>,
    pub(crate) issuer: Arc<SessionIssuer>,
    pub(crate) limits: Arc<Limits>,
    pub(crate) door: Arc<Door>,
    pub(crate) binding: BindingCookies,
    pub(crate) clock: SharedClock,
    /// How long one `process` / `complete` may hold a flow.
    pub(crate) lease: Duration,
    /// How long a concurrent `process` waits for the one talking to Glide.
    pub(crate) busy_wait: Duration,
    /// The prefix of the status route, to read the key from the path.
    pub(crate) status_prefix: String,
    /// Where a verification chain learns how its Magical Auth ended without a session (`None`
    /// without a chain, or one without that step).
    pub(crate) chain_notes: Option<StepNotes>,
}

/// The prepare body of Glide's browser SDK.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub(crate) struct PrepareBody {
    use_case: Option<UseCase>,
    phone_number: Option<String>,
    plmn: Option<Plmn>,
    consent_data: Option<ConsentData>,
    options: Option<PrepareOptions>,
    id: Option<String>,
    client_info: ClientInfo,
    authentication_strategy: Option<Strategy>,
}

/// The process body of Glide's browser SDK.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub(crate) struct ProcessBody {
    session: Value,
    credential: Value,
    use_case: Option<UseCase>,
}

/// The body the completion page posts.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub(crate) struct CompleteBody {
    agg_code: Option<String>,
    session_key: Option<String>,
    user_agent: Option<String>,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub(crate) struct InvocationBody {
    session_id: String,
}

/// The prepare answer the browser gets: Glide's, without any `fe_code`.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub(crate) struct PrepareAnswer<'a> {
    authentication_strategy: Strategy,
    session: BrowserSession<'a>,
    data: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    challenge: Option<&'a Challenge>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_expires_in_seconds: Option<u64>,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct BrowserSession<'a> {
    session_key: &'a str,
    protocol_type: Strategy,
    metadata: SessionMetadata,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct SessionMetadata {
    use_case: UseCase,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub(crate) struct InvocationAnswer {
    success: bool,
}

/// The `status` of a 202: the only one there is.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = WaitingStatus))]
enum Waiting {
    /// The phone has not finished yet.
    Waiting,
}

/// The 202 of a desktop flow the phone has not finished.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub(crate) struct WaitingAnswer<'a> {
    status: Waiting,
    retry: bool,
    session_key: &'a str,
    session_expires_in_seconds: i64,
    message: String,
}

/// The longest a prepared flow lives, whatever Glide's answer says (its flows last minutes).
const MAX_FLOW_LIFETIME: Duration = Duration::from_secs(3600);

/// How long after a lease's end a waiter tries to take it over (clocks of two instances).
const LAPSE_MARGIN: std::time::Duration = std::time::Duration::from_millis(20);

/// Topic on which the end (or release) of a flow's processing is announced.
fn topic(session_key: &str) -> String {
    format!("flow:{session_key}")
}

impl MagicalAuth {
    /// `POST {base}/prepare`
    pub(crate) async fn prepare(&self, request: &Incoming) -> Result<EndpointResponse, Error> {
        let body: PrepareBody = self.door.json(request)?;
        let use_case = body
            .use_case
            .ok_or_else(|| Error::validation("use_case", "use_case is required"))?;
        let phone = body
            .phone_number
            .as_deref()
            .map(PhoneNumber::parse_lenient)
            .transpose()
            .map_err(|e| Error::validation("phone_number", e.to_string()))?;
        if let Some(phone) = &phone {
            self.issuer.check_number(phone)?;
        }

        let fe_code = FeCode::generate();
        let mut glide_request = match (&phone, use_case) {
            (Some(phone), UseCase::VerifyPhoneNumber) => {
                PrepareRequest::verify_phone_number(phone, body.client_info)
            }
            (None, UseCase::VerifyPhoneNumber) => {
                return Err(Error::validation(
                    "phone_number",
                    "phone_number is required for VerifyPhoneNumber",
                ))
            }
            (Some(_), _) => {
                return Err(Error::validation(
                    "phone_number",
                    "phone_number must not be sent for GetPhoneNumber",
                ))
            }
            (None, _) => PrepareRequest::get_phone_number(body.client_info),
        }
        .with_fe_hash(&fe_code.hash());
        if let Some(plmn) = body.plmn {
            glide_request = glide_request.with_plmn(plmn);
        }
        if let Some(consent) = body.consent_data {
            glide_request = glide_request.with_consent(consent);
        }
        if let Some(options) = body.options {
            glide_request = glide_request.with_options(options);
        }
        if let Some(strategy) = body.authentication_strategy {
            glide_request = glide_request.with_strategy(strategy);
        }
        if let Some(id) = body.id {
            glide_request = glide_request.with_id(id);
        }
        // Only a valid request spends the number's budget: refused ones (a number with
        // GetPhoneNumber, a malformed option) must not let a stranger lock the owner out.
        glide_request.validate()?;
        self.limits
            .start("prepare", request, phone.as_ref())
            .await?;

        let mut prepared = match self.glide.prepare(&glide_request).await {
            Ok(prepared) => prepared,
            Err(error) => {
                // Glide's word that this number cannot do Magical Auth now: this browser's
                // chain may move on by it.
                self.note(
                    request,
                    use_case,
                    phone.as_ref(),
                    None,
                    magical_outcome(&error),
                )
                .await;
                return Err(error);
            }
        };
        // A server-chosen fe_code (legacy) must never reach the browser.
        let _ = prepared.take_fe_code();
        let strategy = prepared.authentication_strategy;
        let session_key = prepared.session_key().to_owned();
        binding::validate_session_key(&session_key)?;
        let now = self.clock.now();
        // Relaxing is safe: Glide ends its session on its side; 300 s (the binding cookie's
        // lifetime) only bounds our record when an older server does not say.
        // Capped: an answer naming an absurd lifetime must not keep a flow alive for ever (nor
        // overflow the clock's arithmetic).
        let lifetime = prepared
            .session_expires_in()
            .unwrap_or(Duration::from_secs(300))
            .min(MAX_FLOW_LIFETIME);
        let record = FlowRecord {
            schema: FlowRecord::SCHEMA,
            session_key: session_key.clone(),
            strategy,
            use_case,
            phone_number: phone,
            glide_session: prepared.session.to_json(),
            fe_hash: Some(fe_code.hash().as_str().to_owned()),
            state: FlowState::Prepared,
            created_at: now,
            expires_at: now + lifetime,
        };
        self.flows.create(&record).await?;

        let answer = PrepareAnswer {
            authentication_strategy: strategy,
            session: BrowserSession {
                session_key: &session_key,
                protocol_type: strategy,
                metadata: SessionMetadata { use_case },
            },
            data: &prepared.data,
            challenge: prepared.challenge.as_ref(),
            session_expires_in_seconds: prepared.session_expires_in_seconds,
        };
        let mut response = io::json(StatusCode::OK, &answer);
        // One flow per browser: forget the others' binding cookies.
        for stale in self.binding.stale(request) {
            response = response.with_cookie(stale);
        }
        Ok(response.with_cookie(self.binding.set(&session_key, &fe_code)?))
    }

    /// `POST {base}/report-invocation`: analytics only; never fails the page.
    pub(crate) async fn report_invocation(
        &self,
        request: &Incoming,
    ) -> Result<EndpointResponse, Error> {
        let body: InvocationBody = self.door.json(request)?;
        // Past the per-address limit the page is still told success; Glide is not called.
        if let Err(e) = self.limits.glide_call(request).await {
            tracing::debug!(error = %e, "report-invocation not forwarded");
            return Ok(io::json(
                StatusCode::OK,
                &InvocationAnswer { success: true },
            ));
        }
        if FlowRepo::is_valid_key(&body.session_id) {
            match self.flows.apply(&body.session_id, &Event::Invoke).await {
                Ok(_) => {
                    // A slow or failing Glide must not hold the page.
                    let call = self.glide.report_invocation(&body.session_id);
                    match tokio::time::timeout(Duration::from_secs(3), call).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => tracing::debug!(error = %e, "report-invocation failed"),
                        Err(_) => tracing::debug!("report-invocation timed out"),
                    }
                }
                Err(e) => tracing::debug!(error = %e, "report-invocation for an unusable flow"),
            }
        }
        Ok(io::json(
            StatusCode::OK,
            &InvocationAnswer { success: true },
        ))
    }

    /// `POST {base}/complete`: the Link completion page hands over Glide's `agg_code`.
    pub(crate) async fn complete(&self, request: &Incoming) -> Result<EndpointResponse, Error> {
        let body: CompleteBody = self.door.json(request)?;
        self.limits.check(request).await?;
        let session_key = body
            .session_key
            .ok_or_else(|| Error::validation("session_key", "session_key is required"))?;
        let agg_code = body
            .agg_code
            .ok_or_else(|| Error::validation("agg_code", "agg_code is required"))?;
        // (The binding cookie's name checks the key.)
        let fe_code = self.binding.read(request, &session_key)?;
        let agg_code = AggCode::parse(&agg_code)?;

        let (record, _) = self
            .flows
            .load(&session_key)
            .await?
            .ok_or(FlowError::NotFound)?;
        if record.strategy != Strategy::Link {
            return Err(FlowError::InvalidTransition(
                "only a link verification has a completion step".into(),
            )
            .into());
        }
        check_binding(&record, &fe_code)?;
        let lease_until = self.clock.now() + self.lease;
        self.flows
            .apply(&session_key, &Event::BeginComplete { lease_until })
            .await?;
        let mut glide_request = CompleteRequest::new(&session_key, fe_code, agg_code);
        if let Some(agent) = body
            .user_agent
            .or_else(|| request.header(http::header::USER_AGENT).map(str::to_owned))
        {
            glide_request = glide_request.with_user_agent(agent);
        }
        match self.glide.complete(&glide_request).await {
            Ok(()) => {
                self.flows
                    .apply(&session_key, &Event::CompleteSucceeded)
                    .await?;
                Ok(io::empty(StatusCode::NO_CONTENT))
            }
            Err(error) => {
                if let Err(release) = self.flows.apply(&session_key, &Event::CompleteFailed).await {
                    tracing::warn!(error = %release, "could not release a failed completion; its lease will lapse");
                }
                Err(error)
            }
        }
    }

    /// `POST {base}/process`: Glide releases the number; the risk policy decides; the browser
    /// gets its verified session.
    ///
    /// A desktop call waits here for the phone (Glide's long poll), and whatever it holds, it
    /// holds for every waiting browser: so each step is a future of its own, allocated at its
    /// own size and freed when it ends, and during the wait this future holds the flow's
    /// record, the encoded request and the call to Glide only.
    pub(crate) async fn process(&self, request: &Incoming) -> Result<EndpointResponse, Error> {
        let (session_key, credential, fe_code) = Box::pin(self.process_request(request)).await?;
        let mut record = Box::pin(self.lease_for_processing(&session_key)).await?;
        // Moved, not copied: the rest of the flow does not read the stored session.
        let glide_session = GlideSession::from_json(std::mem::take(&mut record.glide_session))?;
        let mut glide_request = ProcessRequest::new(glide_session, credential);
        if record.strategy == Strategy::Link {
            glide_request = glide_request.with_fe_code(fe_code);
        }
        let outcome = match EncodedProcess::encode(&glide_request) {
            Ok(encoded) => {
                drop(glide_request);
                // A desktop flow's process is Glide's long poll: counted while it waits.
                let _waiting =
                    (record.strategy == Strategy::Desktop).then(telemetry::DesktopWait::start);
                let endpoint = EncodedProcess::endpoint(record.use_case);
                Box::pin(self.glide.send_process(endpoint, encoded)).await
            }
            Err(error) => Err(error),
        };
        let answer = Box::pin(self.settle(request, &record, outcome)).await;
        if let Err(e) = self.events.publish(&topic(&session_key)).await {
            tracing::warn!(error = %e, "could not announce the end of processing");
        }
        answer
    }

    /// Reads and checks a process request: its session key, its credential and this browser's
    /// binding code, for a prepared flow of this browser.
    async fn process_request(&self, request: &Incoming) -> Result<(String, String, FeCode), Error> {
        let body: ProcessBody = self.door.json(request)?;
        self.limits.check(request).await?;
        let session_key = body
            .session
            .get("session_key")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::validation("session", "session.session_key is required"))?
            .to_owned();
        let credential = credential_text(&body.credential)?;
        // (The binding cookie's name checks the key.)
        let fe_code = self.binding.read(request, &session_key)?;
        let (record, _) = self
            .flows
            .load(&session_key)
            .await?
            .ok_or(FlowError::NotFound)?;
        check_binding(&record, &fe_code)?;
        if body.use_case.is_some_and(|u| u != record.use_case) {
            return Err(Error::validation(
                "use_case",
                "use_case does not match the prepared one",
            ));
        }
        Ok((session_key, credential, fe_code))
    }

    /// Takes the processing lease, waiting (without polling) while another request holds it.
    async fn lease_for_processing(&self, session_key: &str) -> Result<FlowRecord, Error> {
        let deadline = tokio::time::Instant::now() + self.busy_wait;
        loop {
            let lease_until = self.clock.now() + self.lease;
            let mut subscription = self.events.subscribe(&topic(session_key)).await?;
            match self
                .flows
                .apply(session_key, &Event::BeginProcess { lease_until })
                .await
            {
                Err(Error::Flow(FlowError::Busy)) => {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    if left.is_zero() {
                        return Err(FlowError::Busy.into());
                    }
                    // Woken by the holder's end, or at its lease's end: a holder that died
                    // (its instance killed) announces nothing, and its lease is then ours.
                    let wait = match self.lease_left(session_key).await? {
                        Some(until_lapse) => left.min(until_lapse + LAPSE_MARGIN),
                        None => left,
                    };
                    let announced = subscription.wait(wait).await;
                    if !announced && wait == left {
                        return Err(FlowError::Busy.into());
                    }
                }
                other => return other,
            }
        }
    }

    /// How long the live lease on `session_key` (processing or completing) still runs; `None`
    /// when no lease is live.
    async fn lease_left(&self, session_key: &str) -> Result<Option<std::time::Duration>, Error> {
        let Some((record, _)) = self.flows.load(session_key).await? else {
            return Ok(None);
        };
        let lease_until = match record.state {
            FlowState::Processing { lease_until, .. }
            | FlowState::Completing { lease_until, .. } => lease_until,
            _ => return Ok(None),
        };
        Ok(
            std::time::Duration::try_from(lease_until - self.clock.now())
                .ok()
                .filter(|left| !left.is_zero()),
        )
    }

    /// Records what Glide said and builds the answer: the verified session on success.
    async fn settle(
        &self,
        request: &Incoming,
        record: &FlowRecord,
        outcome: Result<ProcessOutcome, Error>,
    ) -> Result<EndpointResponse, Error> {
        let key = &record.session_key;
        let result = match outcome {
            Ok(ProcessOutcome::Done(result)) => result,
            Ok(ProcessOutcome::Pending(pending)) => {
                self.flows.apply(key, &Event::ProcessReleased).await?;
                let left = record.expires_at - self.clock.now();
                return Ok(io::json(
                    StatusCode::ACCEPTED,
                    &WaitingAnswer {
                        status: Waiting::Waiting,
                        retry: true,
                        session_key: key,
                        session_expires_in_seconds: left.whole_seconds().max(0),
                        message: pending
                            .message
                            .unwrap_or_else(|| "Waiting for the phone.".into()),
                    },
                ));
            }
            Err(error) => {
                let terminal = matches!(
                    &error,
                    Error::Api(api)
                        if matches!(api.code.as_str(), "SESSION_NOT_FOUND" | "SESSION_EXPIRED" | "INVALID_VERIFICATION" | "SESSION_NOT_ELIGIBLE")
                );
                let event = if terminal {
                    Event::End(Terminal::Failed {
                        code: error.code().to_owned(),
                    })
                } else {
                    Event::ProcessReleased
                };
                if let Err(release) = self.flows.apply(key, &event).await {
                    tracing::warn!(error = %release, "could not record a failed process; its lease will lapse");
                }
                self.note_flow(request, record, magical_outcome(&error))
                    .await;
                return Err(error);
            }
        };

        let verified = verified_phone(&result, record, self.clock.now());
        // A TS43 credential is bound to the web origin that asked for it: one relayed from
        // another site is refused.
        if let Some(aud) = &result.aud {
            if !self.door.is_app_origin(request, aud) {
                let error = Error::from(RequestError::AudienceMismatch);
                self.flows
                    .apply(
                        key,
                        &Event::End(Terminal::Failed {
                            code: error.code().to_owned(),
                        }),
                    )
                    .await?;
                self.note_flow(request, record, Some(StepOutcome::Denied))
                    .await;
                return Err(error);
            }
        }
        if !confirms(
            record.use_case,
            record.phone_number.as_ref(),
            result.verified,
            &result.phone_number,
        ) {
            self.flows
                .apply(key, &Event::End(Terminal::NotVerified))
                .await?;
            self.note_flow(request, record, Some(StepOutcome::Denied))
                .await;
            telemetry::verification(record.strategy, telemetry::Outcome::NotVerified);
            self.issuer
                .hook
                .emit(VerificationEvent::not_verified(
                    record.phone_number.as_ref(),
                    record.strategy,
                ))
                .await;
            let mut answer = result;
            answer.verified = Some(false);
            return Ok(io::json(StatusCode::OK, &answer));
        }
        if let Err(denied) = self
            .issuer
            .check_policy_noted(&verified, result.verified)
            .await
        {
            self.flows.apply(key, &Event::End(Terminal::Denied)).await?;
            return Err(denied);
        }

        // A fresh id on every verification; the previous session of this browser ends.
        let session_id = self.issuer.create(request, verified.clone()).await?;
        if let Err(error) = self.flows.apply(key, &Event::End(Terminal::Verified)).await {
            self.issuer.discard(&session_id).await;
            return Err(error);
        }
        let session_cookie = self.issuer.hand_over(request, &session_id, &verified).await;
        Ok(io::json(StatusCode::OK, &result)
            .with_cookie(session_cookie)
            .with_cookie(self.binding.clear(key)?))
    }

    /// `GET {base}/status/{session_key}`: Glide's status of a flow, only to the browser that
    /// prepared it: 200 pending / completed, 422 failed, 410 expired.
    pub(crate) async fn status(&self, request: &Incoming) -> Result<EndpointResponse, Error> {
        let session_key = request
            .path
            .strip_prefix(&self.status_prefix)
            .unwrap_or_default();
        binding::validate_session_key(session_key).map_err(|_| FlowError::NotFound)?;
        // Only flows this app prepared, and only to their own browser: the route is not an
        // open proxy to Glide.
        let (record, _) = self
            .flows
            .load(session_key)
            .await?
            .ok_or(FlowError::NotFound)?;
        let fe_code = self.binding.read(request, session_key)?;
        check_binding(&record, &fe_code)?;
        self.limits.glide_call(request).await?;
        let status = self.glide.status(session_key).await?;
        let code = match &status.status {
            SessionStatus::Failed => StatusCode::UNPROCESSABLE_ENTITY,
            SessionStatus::Expired => StatusCode::GONE,
            _ => StatusCode::OK,
        };
        let ended = match &status.status {
            SessionStatus::Failed => Some(StepOutcome::Denied),
            SessionStatus::Expired => Some(StepOutcome::TimedOut),
            _ => None,
        };
        self.note_flow(request, &record, ended).await;
        Ok(io::json(code, &status))
    }
}

impl MagicalAuth {
    /// Notes in this browser's chain, if any, how its Magical Auth for `phone` ended without a
    /// session (`outcome`, as Glide answered it), for a flow prepared at `prepared`.
    async fn note(
        &self,
        request: &Incoming,
        use_case: UseCase,
        phone: Option<&PhoneNumber>,
        prepared: Option<i64>,
        outcome: Option<StepOutcome>,
    ) {
        if let (Some(notes), Some(outcome)) = (&self.chain_notes, outcome) {
            notes.saw(request, use_case, phone, prepared, outcome).await;
        }
    }

    /// [`note`](Self::note) for the flow `record`.
    async fn note_flow(
        &self,
        request: &Incoming,
        record: &FlowRecord,
        outcome: Option<StepOutcome>,
    ) {
        self.note(
            request,
            record.use_case,
            record.phone_number.as_ref(),
            Some(record.created_at.unix_timestamp()),
            outcome,
        )
        .await;
    }
}

/// The session a successful process gives, with Glide's signals.
fn verified_phone(
    result: &PhoneResult,
    record: &FlowRecord,
    now: time::OffsetDateTime,
) -> VerifiedPhone {
    let mut verified = VerifiedPhone::new(
        result.phone_number.clone(),
        record.use_case,
        record.strategy,
        now,
    );
    verified.sim_swap = result.sim_swap.clone();
    verified.device_swap = result.device_swap.clone();
    verified.aud = result.aud.clone();
    verified
}

/// Whether Glide's answer confirms the flow: not `verified: false`, and for `VerifyPhoneNumber`
/// the number the SIM proved is the number asked — even when Glide left `verified` out.
fn confirms(
    use_case: UseCase,
    asked: Option<&PhoneNumber>,
    verified: Option<bool>,
    proved: &PhoneNumber,
) -> bool {
    verified != Some(false)
        && !asked.is_some_and(|p| *p != *proved && use_case == UseCase::VerifyPhoneNumber)
}

/// Compares the cookie's code with the hash stored at prepare, in constant time.
fn check_binding(record: &FlowRecord, fe_code: &FeCode) -> Result<(), Error> {
    // Fails closed: a record without a hash compares against "", which no code's hash equals.
    let expected = record.fe_hash.as_deref().unwrap_or_default();
    if binding::constant_time_eq(fe_code.hash().as_str().as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(BindingError::Failed.into())
    }
}

/// The credential as text: a string as sent by current SDKs, or the first `vp_token` value of the
/// object older SDKs sent.
fn credential_text(credential: &Value) -> Result<String, Error> {
    let invalid = || Error::validation("credential", "credential must be a non-empty string");
    let text = match credential {
        Value::String(s) => s.clone(),
        Value::Object(map) => {
            let token = map.get("vp_token").ok_or_else(invalid)?;
            match token {
                Value::String(s) => s.clone(),
                Value::Object(by_id) => match by_id.values().next() {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(list)) => list
                        .first()
                        .and_then(Value::as_str)
                        .ok_or_else(invalid)?
                        .to_owned(),
                    _ => return Err(invalid()),
                },
                _ => return Err(invalid()),
            }
        }
        _ => return Err(invalid()),
    };
    if text.is_empty() || text.len() > 32 * 1024 {
        return Err(invalid());
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_is_a_non_empty_string_of_at_most_32_kib() {
        use serde_json::json;
        let text = |v: Value| credential_text(&v).ok();
        let max = "c".repeat(32 * 1024);
        assert_eq!(text(json!("abc")).as_deref(), Some("abc"));
        assert_eq!(text(json!(max.clone())), Some(max.clone()));
        assert_eq!(text(json!(format!("{max}c"))), None, "one byte over");
        assert_eq!(text(json!("")), None);
        // The shapes older SDKs sent.
        for shape in [
            json!({"vp_token": "abc"}),
            json!({"vp_token": {"glide": "abc"}}),
            json!({"vp_token": {"glide": ["abc", "def"]}}),
        ] {
            assert_eq!(text(shape.clone()).as_deref(), Some("abc"), "{shape}");
        }
        for bad in [
            json!({"vp_token": ""}),
            json!({"vp_token": {"glide": []}}),
            json!({"vp_token": {"glide": 7}}),
            json!({"vp_token": {}}),
            json!({"token": "abc"}),
            json!(["abc"]),
            json!(7),
        ] {
            assert_eq!(text(bad.clone()), None, "{bad}");
        }
    }

    #[test]
    fn only_the_number_asked_is_confirmed() {
        let number = |text: &str| PhoneNumber::parse(text).expect("a number");
        let (asked, other) = (number("+15555550100"), number("+15555550103"));
        let verify = UseCase::VerifyPhoneNumber;
        assert!(confirms(verify, Some(&asked), Some(true), &asked));
        assert!(confirms(verify, Some(&asked), None, &asked));
        // Another SIM's number, whatever Glide says of `verified`.
        assert!(!confirms(verify, Some(&asked), Some(true), &other));
        assert!(!confirms(verify, Some(&asked), None, &other));
        assert!(!confirms(verify, Some(&asked), Some(false), &asked));
        // GetPhoneNumber asks for no number: the SIM's is the answer.
        let get = UseCase::GetPhoneNumber;
        assert!(confirms(get, None, None, &other));
        assert!(confirms(get, Some(&asked), Some(true), &other));
        assert!(!confirms(get, None, Some(false), &other));
    }
}
