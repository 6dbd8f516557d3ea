//! The Magical Auth routes: prepare, report-invocation, process, complete, status, logout, and
//! the two assets.

use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

use super::assets::{COMPLETION_HEADERS, GLIDE_JS};
use super::guard;
use super::{EndpointRequest, EndpointResponse, GlideAuth};
use crate::api::{
    ClientInfo, CompleteRequest, ConsentData, GlideSession, Plmn, PrepareOptions, PrepareRequest,
    ProcessOutcome, ProcessRequest,
};
use crate::binding::{self, AggCode, FeCode};
use crate::error::{Error, FlowError, RequestError};
use crate::flow::{Event, FlowRecord, FlowRepo, FlowState, Terminal};
use crate::policy::RiskDecision;
use crate::session::VerifiedPhone;
use crate::{PhoneNumber, Strategy, UseCase};

/// The prepare body of Glide's browser SDK.
#[derive(Debug, Deserialize)]
struct BrowserPrepare {
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
struct BrowserProcess {
    session: Value,
    credential: Value,
    use_case: Option<UseCase>,
}

/// The body the completion page posts.
#[derive(Debug, Deserialize)]
struct BrowserComplete {
    agg_code: Option<String>,
    session_key: Option<String>,
    user_agent: Option<String>,
}

#[derive(Debug, Deserialize)]
struct BrowserInvocation {
    session_id: String,
}

/// Topic on which the end (or release) of a flow's processing is announced.
fn topic(session_key: &str) -> String {
    format!("flow:{session_key}")
}

impl GlideAuth {
    pub(super) async fn prepare(
        &self,
        request: &EndpointRequest,
    ) -> Result<EndpointResponse, Error> {
        let inner = &self.inner;
        let body: BrowserPrepare = guard::post_json(request, &inner.allowed_origins)?;
        let use_case = body
            .use_case
            .ok_or_else(|| Error::validation("use_case", "use_case is required"))?;
        let phone = body
            .phone_number
            .as_deref()
            .map(PhoneNumber::parse_lenient)
            .transpose()
            .map_err(|e| Error::validation("phone_number", e.to_string()))?;

        let ip = inner
            .rate_limits
            .client_ip(request.peer_addr, request.header("x-forwarded-for"));
        if let (Some(limit), Some(ip)) = (inner.rate_limits.prepare_per_ip, ip) {
            inner.limiter.check_ip("prepare", ip, limit).await?;
        }
        if let (Some(limit), Some(phone)) = (inner.rate_limits.prepare_per_phone, &phone) {
            inner.limiter.check_phone("prepare", phone, limit).await?;
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

        let mut prepared = inner.glide.prepare(&glide_request).await?;
        // A server-chosen fe_code (legacy) must never reach the browser.
        let _ = prepared.take_fe_code();
        let strategy = prepared.authentication_strategy;
        let session_key = prepared.session_key().to_owned();
        binding::validate_session_key(&session_key)?;
        let now = inner.clock.now();
        let lifetime = prepared
            .session_expires_in()
            .unwrap_or(Duration::from_secs(300));
        let record = FlowRecord {
            schema: FlowRecord::SCHEMA,
            session_key: session_key.clone(),
            strategy,
            use_case,
            phone_number: phone,
            glide_session: prepared.session.to_json(),
            fe_hash: (strategy == Strategy::Link).then(|| fe_code.hash().as_str().to_owned()),
            state: FlowState::Prepared,
            created_at: now,
            expires_at: now + lifetime,
        };
        inner.flows.create(&record).await?;

        let mut browser = json!({
            "authentication_strategy": strategy,
            "session": {
                "session_key": session_key,
                "protocol_type": strategy,
                "metadata": { "use_case": use_case },
            },
            "data": prepared.data,
        });
        if let Some(challenge) = &prepared.challenge {
            browser["challenge"] = serde_json::to_value(challenge).unwrap_or(Value::Null);
        }
        if let Some(expires) = prepared.session_expires_in_seconds {
            browser["session_expires_in_seconds"] = json!(expires);
        }
        let mut response = EndpointResponse::json(200, &browser);
        if strategy == Strategy::Link {
            // One Link flow per browser: forget the others' binding cookies.
            if let Some(header) = request.cookie_header() {
                for stale in binding::stale_binding_cookies(&header) {
                    response =
                        response.with_cookie(inner.binding_cookie.removal_header_named(&stale));
                }
            }
            response = response.with_cookie(binding::set_binding_cookie(
                &inner.binding_cookie,
                &session_key,
                &fe_code,
            )?);
        }
        Ok(response)
    }

    pub(super) async fn report_invocation(
        &self,
        request: &EndpointRequest,
    ) -> Result<EndpointResponse, Error> {
        let inner = &self.inner;
        let body: BrowserInvocation = guard::post_json(request, &inner.allowed_origins)?;
        if FlowRepo::is_valid_key(&body.session_id) {
            match inner.flows.apply(&body.session_id, &Event::Invoke).await {
                Ok(_) => {
                    // Analytics only: a slow or failing Glide must not hold the page.
                    let call = inner.glide.report_invocation(&body.session_id);
                    match tokio::time::timeout(Duration::from_secs(3), call).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => tracing::debug!(error = %e, "report-invocation failed"),
                        Err(_) => tracing::debug!("report-invocation timed out"),
                    }
                }
                Err(e) => tracing::debug!(error = %e, "report-invocation for an unusable flow"),
            }
        }
        Ok(EndpointResponse::json(200, &json!({ "success": true })))
    }

    pub(super) async fn complete(
        &self,
        request: &EndpointRequest,
    ) -> Result<EndpointResponse, Error> {
        let inner = &self.inner;
        let body: BrowserComplete = guard::post_json(request, &inner.allowed_origins)?;
        self.check_code_limits(request).await?;
        let session_key = body
            .session_key
            .ok_or_else(|| Error::validation("session_key", "session_key is required"))?;
        let agg_code = body
            .agg_code
            .ok_or_else(|| Error::validation("agg_code", "agg_code is required"))?;
        binding::validate_session_key(&session_key)?;
        let fe_code = self.binding_code(request, &session_key)?;
        let agg_code = AggCode::parse(&agg_code)?;

        let (record, _) = inner
            .flows
            .load(&session_key)
            .await?
            .ok_or(FlowError::NotFound)?;
        check_binding(&record, &fe_code)?;
        let lease_until = inner.clock.now() + inner.flow_lease;
        inner
            .flows
            .apply(&session_key, &Event::BeginComplete { lease_until })
            .await?;
        let mut glide_request = CompleteRequest::new(&session_key, fe_code, agg_code);
        if let Some(agent) = body
            .user_agent
            .or_else(|| request.header("user-agent").map(str::to_owned))
        {
            glide_request = glide_request.with_user_agent(agent);
        }
        match inner.glide.complete(&glide_request).await {
            Ok(()) => {
                inner
                    .flows
                    .apply(&session_key, &Event::CompleteSucceeded)
                    .await?;
                Ok(EndpointResponse::empty(204))
            }
            Err(error) => {
                if let Err(release) = inner
                    .flows
                    .apply(&session_key, &Event::CompleteFailed)
                    .await
                {
                    tracing::warn!(error = %release, "could not release a failed completion; its lease will lapse");
                }
                Err(error)
            }
        }
    }

    pub(super) async fn process(
        &self,
        request: &EndpointRequest,
    ) -> Result<EndpointResponse, Error> {
        let inner = &self.inner;
        let body: BrowserProcess = guard::post_json(request, &inner.allowed_origins)?;
        self.check_code_limits(request).await?;
        let session_key = body
            .session
            .get("session_key")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::validation("session", "session.session_key is required"))?
            .to_owned();
        let credential = credential_text(&body.credential)?;
        let (record, _) = inner
            .flows
            .load(&session_key)
            .await?
            .ok_or(FlowError::NotFound)?;
        if body.use_case.is_some_and(|u| u != record.use_case) {
            return Err(Error::validation(
                "use_case",
                "use_case does not match the prepared one",
            ));
        }
        let fe_code = if record.strategy == Strategy::Link {
            let code = self.binding_code(request, &session_key)?;
            check_binding(&record, &code)?;
            Some(code)
        } else {
            None
        };

        let record = self.lease_for_processing(&session_key).await?;
        let glide_session = GlideSession::from_json(record.glide_session.clone())?;
        let mut glide_request = ProcessRequest::new(glide_session, credential);
        if let Some(code) = fe_code {
            glide_request = glide_request.with_fe_code(code);
        }
        let outcome = inner.glide.process(record.use_case, &glide_request).await;
        let answer = self.settle(request, &record, outcome).await;
        if let Err(e) = inner.events.publish(&topic(&session_key)).await {
            tracing::warn!(error = %e, "could not announce the end of processing");
        }
        answer
    }

    /// Takes the processing lease, waiting (without polling) while another request holds it.
    async fn lease_for_processing(&self, session_key: &str) -> Result<FlowRecord, Error> {
        let inner = &self.inner;
        let deadline = tokio::time::Instant::now() + inner.busy_wait;
        loop {
            let lease_until = inner.clock.now() + inner.flow_lease;
            let mut subscription = inner.events.subscribe(&topic(session_key)).await?;
            match inner
                .flows
                .apply(session_key, &Event::BeginProcess { lease_until })
                .await
            {
                Err(Error::Flow(FlowError::Busy)) => {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    if left.is_zero() || !subscription.wait(left).await {
                        return Err(FlowError::Busy.into());
                    }
                }
                other => return other,
            }
        }
    }

    /// Records what Glide said and builds the answer: the verified session on success.
    async fn settle(
        &self,
        request: &EndpointRequest,
        record: &FlowRecord,
        outcome: Result<ProcessOutcome, Error>,
    ) -> Result<EndpointResponse, Error> {
        let inner = &self.inner;
        let key = &record.session_key;
        let result = match outcome {
            Ok(ProcessOutcome::Done(result)) => result,
            Ok(ProcessOutcome::Pending(pending)) => {
                inner.flows.apply(key, &Event::ProcessReleased).await?;
                let left = record.expires_at - inner.clock.now();
                return Ok(EndpointResponse::json(
                    202,
                    &json!({
                        "status": "waiting",
                        "retry": true,
                        "session_key": key,
                        "session_expires_in_seconds": left.whole_seconds().max(0),
                        "message": pending.message.unwrap_or_else(|| "Waiting for the phone.".into()),
                    }),
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
                if let Err(release) = inner.flows.apply(key, &event).await {
                    tracing::warn!(error = %release, "could not record a failed process; its lease will lapse");
                }
                return Err(error);
            }
        };

        let mut body = serde_json::to_value(&result).unwrap_or_else(|_| json!({}));
        let mut verified = VerifiedPhone::new(
            result.phone_number.clone(),
            record.use_case,
            record.strategy,
            inner.clock.now(),
        );
        verified.sim_swap = result.sim_swap.clone();
        verified.device_swap = result.device_swap.clone();
        verified.aud = result.aud.clone();

        if result.verified == Some(false)
            || record.phone_number.as_ref().is_some_and(|p| {
                *p != result.phone_number && record.use_case == UseCase::VerifyPhoneNumber
            })
        {
            inner
                .flows
                .apply(key, &Event::End(Terminal::NotVerified))
                .await?;
            body["verified"] = json!(false);
            return Ok(EndpointResponse::json(200, &body));
        }

        if let RiskDecision::Deny { reason } = inner.policy.evaluate(&verified) {
            inner
                .flows
                .apply(key, &Event::End(Terminal::Denied))
                .await?;
            let error = Error::Request(RequestError::RiskPolicyDenied(reason));
            let mut denied = EndpointResponse::error(&error);
            let mut payload: Value =
                serde_json::from_slice(&denied.body).unwrap_or_else(|_| json!({}));
            for field in ["phone_number", "sim_swap", "device_swap", "verified"] {
                if let Some(v) = body.get(field) {
                    payload[field] = v.clone();
                }
            }
            denied.body = payload.to_string().into();
            return Ok(denied);
        }

        // A fresh id on every verification; the previous session of this browser ends.
        let session_id = inner.sessions.create(verified).await?;
        if let Err(error) = inner
            .flows
            .apply(key, &Event::End(Terminal::Verified))
            .await
        {
            if let Err(e) = inner.sessions.destroy(session_id.as_str()).await {
                tracing::warn!(error = %e, "could not remove an unissued session; it will expire");
            }
            return Err(error);
        }
        let set_cookie = self
            .hand_over_session(request, &session_id, &result.phone_number, record.strategy)
            .await;
        let mut response = EndpointResponse::json(200, &body).with_cookie(set_cookie);
        if record.strategy == Strategy::Link {
            response =
                response.with_cookie(binding::clear_binding_cookie(&inner.binding_cookie, key)?);
        }
        Ok(response)
    }

    pub(super) async fn status(
        &self,
        request: &EndpointRequest,
    ) -> Result<EndpointResponse, Error> {
        let inner = &self.inner;
        guard::method(request, "GET")?;
        let prefix = inner.routes.route("status/");
        let session_key = request.path.strip_prefix(&prefix).unwrap_or_default();
        // Only flows this app prepared: the route is not an open proxy to Glide.
        if inner.flows.load(session_key).await?.is_none() {
            return Err(FlowError::NotFound.into());
        }
        let status = inner.glide.status(session_key).await?;
        let body = serde_json::to_value(&status).map_err(|e| Error::Decode {
            status: 200,
            message: e.to_string(),
        })?;
        Ok(EndpointResponse::json(200, &body))
    }

    pub(super) async fn logout(
        &self,
        request: &EndpointRequest,
    ) -> Result<EndpointResponse, Error> {
        let inner = &self.inner;
        guard::method(request, "POST")?;
        guard::same_origin(request, &inner.allowed_origins)?;
        if let Some(id) = self.session_id_of(request) {
            inner.sessions.destroy(&id).await?;
        }
        Ok(EndpointResponse::empty(204).with_cookie(inner.session_cookie.removal_header()))
    }

    pub(super) fn glide_js(&self, request: &EndpointRequest) -> Result<EndpointResponse, Error> {
        guard::method(request, "GET")?;
        Ok(EndpointResponse {
            status: 200,
            headers: vec![
                (
                    "content-type".into(),
                    "application/javascript; charset=utf-8".into(),
                ),
                ("cache-control".into(), "public, max-age=300".into()),
                ("x-content-type-options".into(), "nosniff".into()),
            ],
            body: GLIDE_JS.into(),
        })
    }

    pub(super) fn completion_page(
        &self,
        request: &EndpointRequest,
    ) -> Result<EndpointResponse, Error> {
        guard::method(request, "GET")?;
        Ok(EndpointResponse {
            status: 200,
            headers: COMPLETION_HEADERS
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: self.inner.completion_html.clone().into(),
        })
    }

    /// Per-IP limit on the routes that check a code or a credential.
    pub(super) async fn check_code_limits(&self, request: &EndpointRequest) -> Result<(), Error> {
        let inner = &self.inner;
        let ip = inner
            .rate_limits
            .client_ip(request.peer_addr, request.header("x-forwarded-for"));
        if let (Some(limit), Some(ip)) = (inner.rate_limits.check_per_ip, ip) {
            inner.limiter.check_ip("check", ip, limit).await?;
        }
        Ok(())
    }

    /// The `fe_code` from this browser's binding cookie for `session_key`.
    fn binding_code(&self, request: &EndpointRequest, session_key: &str) -> Result<FeCode, Error> {
        request
            .cookie_header()
            .and_then(|header| binding::parse_binding_cookie(&header, session_key))
            .ok_or_else(|| crate::error::BindingError::MissingCookie.into())
    }
}

/// Compares the cookie's code with the hash stored at prepare, in constant time.
fn check_binding(record: &FlowRecord, fe_code: &FeCode) -> Result<(), Error> {
    if record.strategy != Strategy::Link {
        return Err(FlowError::InvalidTransition(
            "only a link verification has a completion step".into(),
        )
        .into());
    }
    let expected = record.fe_hash.as_deref().unwrap_or_default();
    if binding::constant_time_eq(fe_code.hash().as_str().as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(crate::error::BindingError::Failed.into())
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
