//! The legacy routes: Magic Auth with SMS / e-mail fallback (`magic-auth/start`, `verify`),
//! server-side Magic Auth (`start-server-auth`, `check-server-auth`) and Number Verify
//! (`number-verify/start`, `callback`).
//!
//! Security rules, all enforced here:
//! - every verification lives in the store under a random 32-byte id held in an HttpOnly cookie
//!   (`glide_legacy`, `__Host-` in secure mode); routes never act on a verification of
//!   another browser;
//! - wrong codes are counted per verification with compare-and-set, the attempt being reserved
//!   *before* Glide is asked, so at most [`MAX_ATTEMPTS`] codes are ever checked, even under
//!   concurrency; the next attempt answers 429 `TOO_MANY_ATTEMPTS` and the verification is dead;
//!   a resend keeps the count; a resend within [`RESEND_COOLDOWN`] answers 429
//!   `RATE_LIMIT_EXCEEDED` with `Retry-After`;
//! - a code that is not 4–10 ASCII digits is refused with 400 `VALIDATION_ERROR` and is **not**
//!   counted (it never reaches Glide);
//! - a successful verification takes the record (single use);
//! - Number Verify's `state` is 32 random bytes bound to the browser by the `glide_nv_state`
//!   cookie, compared in constant time, expiring after 300 s and taken on first use; a missing,
//!   forged, reused or expired state answers 403 `INVALID_STATE` before any code exchange;
//! - the callback redirects only to the configured return path, never to a URL from the request.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::guard;
use super::{EndpointRequest, EndpointResponse, GlideAuth};
use crate::api::Glide;
use crate::binding::constant_time_eq;
use crate::cookie::CookieSpec;
use crate::error::{Error, FlowError, RequestError};
use crate::legacy::{
    AuthCode, AuthType, AuthUrlOptions, Email, FallbackChannel, LegacyClient, MagicToken, OtpCode,
    ServerAuthStatus, StartAuthRequest, StartServerAuthRequest, VerifyAuthRequest,
};
use crate::policy::RiskDecision;
use crate::session::VerifiedPhone;
use crate::store::Store;
use crate::{PhoneNumber, Strategy, UseCase};

/// Wrong codes allowed per verification.
pub const MAX_ATTEMPTS: u32 = 5;
/// Shortest time between two sends of a code for one verification.
pub const RESEND_COOLDOWN: Duration = Duration::from_secs(30);
/// Lifetime of a legacy verification record (and its cookie).
const VERIFICATION_TTL: Duration = Duration::from_secs(600);
/// Lifetime of a Number Verify state.
const STATE_TTL: Duration = Duration::from_secs(300);

/// Legacy settings, checked at build time.
pub(crate) struct LegacySettings {
    client: LegacyClient,
    store: Arc<dyn Store>,
    verify_cookie: CookieSpec,
    state_cookie: CookieSpec,
    callback_url: Option<String>,
    return_path: String,
}

impl LegacySettings {
    pub(crate) fn build(
        glide: &Glide,
        store: Arc<dyn Store>,
        secure: bool,
        callback_url: Option<String>,
        return_path: String,
    ) -> Result<Self, Error> {
        if let Some(url) = &callback_url {
            let parsed = url::Url::parse(url).map_err(|_| {
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
        }
        validate_return_path(&return_path)?;
        let cookie = |name: &'static str, ttl: Duration| {
            let mut spec = if secure {
                CookieSpec::new(format!("__Host-{name}"))
            } else {
                CookieSpec::new(name)
            };
            spec.secure = secure;
            spec.max_age = Some(ttl);
            spec
        };
        Ok(Self {
            client: LegacyClient::new(glide),
            store,
            verify_cookie: cookie("glide_legacy", VERIFICATION_TTL),
            state_cookie: cookie("glide_nv_state", STATE_TTL),
            callback_url,
            return_path,
        })
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

/// A legacy Magic Auth verification (client or server flavour).
#[derive(Debug, Serialize, Deserialize)]
struct Verification {
    phone: PhoneNumber,
    email: Option<Email>,
    channel: AuthType,
    attempts: u32,
    last_sent: i64,
    created: i64,
    server_session: Option<String>,
}

/// A Number Verify start.
#[derive(Debug, Serialize, Deserialize)]
struct StateRecord {
    state: String,
    phone: PhoneNumber,
    created: i64,
}

#[derive(Debug, Deserialize)]
struct StartBody {
    phone_number: Option<String>,
    email: Option<String>,
    fallback_channel: Option<FallbackChannel>,
}

/// A start body, checked.
struct StartInput {
    phone: PhoneNumber,
    email: Option<Email>,
    fallback_channel: Option<FallbackChannel>,
}

#[derive(Debug, Deserialize)]
struct VerifyBody {
    code: Option<String>,
    token: Option<String>,
}

fn verification_key(id: &str) -> String {
    format!("legacy:verification:{id}")
}

fn state_key(id: &str) -> String {
    format!("legacy:nv_state:{id}")
}

/// 32 random bytes, base64url (43 characters).
fn random_id() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn is_id(text: &str) -> bool {
    text.len() == 43
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An error answer with a code the shared error type has no variant for.
fn refuse(status: u16, code: &str, message: &str) -> EndpointResponse {
    EndpointResponse::json(
        status,
        &json!({ "code": code, "message": message, "status": status }),
    )
}

fn invalid_state() -> EndpointResponse {
    refuse(
        403,
        "INVALID_STATE",
        "The verification state is missing, invalid or already used.",
    )
}

fn too_many_attempts() -> EndpointResponse {
    refuse(
        429,
        "TOO_MANY_ATTEMPTS",
        "Too many wrong codes. Start a new verification.",
    )
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::Store(crate::store::StoreError::Decode(Box::new(e))))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value)
        .map_err(|e| Error::Store(crate::store::StoreError::Decode(Box::new(e))))
}

fn parse_phone(text: Option<&str>) -> Result<PhoneNumber, Error> {
    let text = text.ok_or_else(|| Error::validation("phone_number", "phone_number is required"))?;
    PhoneNumber::parse_lenient(text).map_err(|e| Error::validation("phone_number", e.to_string()))
}

fn parse_email(text: Option<&str>) -> Result<Option<Email>, Error> {
    text.map(|t| Email::parse(t).map_err(|e| Error::validation("email", e.to_string())))
        .transpose()
}

fn strategy_of(channel: AuthType) -> Strategy {
    match channel {
        AuthType::Sms => Strategy::Sms,
        AuthType::Email => Strategy::Email,
        _ => Strategy::Magic,
    }
}

impl GlideAuth {
    fn legacy(&self) -> &LegacySettings {
        &self.inner.legacy
    }

    fn now_unix(&self) -> i64 {
        self.inner.clock.now().unix_timestamp()
    }

    fn cookie_value(&self, request: &EndpointRequest, spec: &CookieSpec) -> Option<String> {
        let header = request.cookie_header()?;
        crate::cookie::find_cookie(&header, &spec.name)
            .filter(|v| is_id(v))
            .map(str::to_owned)
    }

    fn client_ip_text(&self, request: &EndpointRequest) -> Option<std::net::IpAddr> {
        self.inner
            .rate_limits
            .client_ip(request.peer_addr, request.header("x-forwarded-for"))
    }

    /// A start route's input: `POST` from an allowed origin, a JSON body with a valid number
    /// and e-mail.
    fn start_input(&self, request: &EndpointRequest) -> Result<StartInput, Error> {
        let body: StartBody = guard::post_json(request, &self.inner.allowed_origins)?;
        Ok(StartInput {
            phone: parse_phone(body.phone_number.as_deref())?,
            email: parse_email(body.email.as_deref())?,
            fallback_channel: body.fallback_channel,
        })
    }

    /// Glide's start request for `input`, with this browser's address.
    fn glide_start(&self, request: &EndpointRequest, input: &StartInput) -> StartAuthRequest {
        let mut start = StartAuthRequest::phone(input.phone.clone());
        start.email = input.email.clone();
        start.fallback_channel = input.fallback_channel;
        start.device_ip_address = self.client_ip_text(request).map(|ip| ip.to_string());
        start
    }

    async fn start_limits(
        &self,
        request: &EndpointRequest,
        phone: &PhoneNumber,
    ) -> Result<(), Error> {
        let inner = &self.inner;
        if let (Some(limit), Some(ip)) = (
            inner.rate_limits.prepare_per_ip,
            self.client_ip_text(request),
        ) {
            inner.limiter.check_ip("legacy_start", ip, limit).await?;
        }
        if let Some(limit) = inner.rate_limits.prepare_per_phone {
            inner
                .limiter
                .check_phone("legacy_start", phone, limit)
                .await?;
        }
        Ok(())
    }

    /// Creates the verified session (after the risk policy) and returns its `Set-Cookie`; the
    /// browser's previous session ends.
    async fn legacy_issue(
        &self,
        request: &EndpointRequest,
        phone: PhoneNumber,
        strategy: Strategy,
    ) -> Result<String, Error> {
        let inner = &self.inner;
        let verified = VerifiedPhone::new(
            phone.clone(),
            UseCase::VerifyPhoneNumber,
            strategy,
            inner.clock.now(),
        );
        if let RiskDecision::Deny { reason } = inner.policy.evaluate(&verified) {
            return Err(RequestError::RiskPolicyDenied(reason).into());
        }
        let id = inner.sessions.create(verified).await?;
        Ok(self.hand_over_session(request, &id, &phone, strategy).await)
    }

    pub(super) async fn legacy_start(
        &self,
        request: &EndpointRequest,
    ) -> Result<EndpointResponse, Error> {
        let input = self.start_input(request)?;
        if input.fallback_channel == Some(FallbackChannel::Rcs) {
            return Err(Error::validation(
                "fallback_channel",
                "fallback_channel must be SMS, EMAIL or NO_FALLBACK",
            ));
        }
        let (phone, email) = (&input.phone, &input.email);
        let legacy = self.legacy();
        let now = self.now_unix();

        // A resend for this browser's verification of the same number keeps its count.
        let existing = match self.cookie_value(request, &legacy.verify_cookie) {
            Some(id) => legacy
                .store
                .load(&verification_key(&id))
                .await?
                .map(|v| decode::<Verification>(&v.value).map(|r| (id, r, v.version)))
                .transpose()?,
            None => None,
        };
        let resend = existing.filter(|(_, r, _)| {
            r.server_session.is_none() && r.phone == *phone && r.email == *email
        });
        if let Some((_, record, _)) = &resend {
            if record.attempts >= MAX_ATTEMPTS {
                return Ok(too_many_attempts());
            }
            let elapsed = now.saturating_sub(record.last_sent);
            let cooldown = RESEND_COOLDOWN.as_secs() as i64;
            if elapsed < cooldown {
                return Err(Error::RateLimited {
                    retry_after: Duration::from_secs((cooldown - elapsed).unsigned_abs()),
                });
            }
        }
        self.start_limits(request, phone).await?;

        let (id, record) = match resend {
            Some((id, mut record, version)) => {
                // Reserve the send: of two concurrent resends only one goes out.
                record.last_sent = now;
                let ttl = remaining(record.created, now, VERIFICATION_TTL);
                if !legacy
                    .store
                    .compare_and_set(&verification_key(&id), version, &encode(&record)?, ttl)
                    .await?
                {
                    return Err(Error::RateLimited {
                        retry_after: RESEND_COOLDOWN,
                    });
                }
                (id, record)
            }
            None => (
                random_id(),
                Verification {
                    phone: phone.clone(),
                    email: email.clone(),
                    channel: AuthType::Magic,
                    attempts: 0,
                    last_sent: now,
                    created: now,
                    server_session: None,
                },
            ),
        };

        let start = self.glide_start(request, &input);
        let started = legacy.client.magic_auth().start_auth(&start).await?;

        let key = verification_key(&id);
        let mut record = record;
        record.channel = started.auth_type;
        // Store (new) or update (resend) the channel; attempts are re-read so none is lost.
        loop {
            match legacy.store.load(&key).await? {
                Some(current) => {
                    let mut stored: Verification = decode(&current.value)?;
                    stored.channel = started.auth_type;
                    let ttl = remaining(stored.created, now, VERIFICATION_TTL);
                    if legacy
                        .store
                        .compare_and_set(&key, current.version, &encode(&stored)?, ttl)
                        .await?
                    {
                        break;
                    }
                }
                None => {
                    if legacy
                        .store
                        .create(&key, &encode(&record)?, VERIFICATION_TTL)
                        .await?
                    {
                        break;
                    }
                }
            }
        }
        let mut answer = json!({ "type": started.auth_type.as_str() });
        if let Some(url) = &started.auth_url {
            answer["auth_url"] = json!(url);
        }
        Ok(EndpointResponse::json(200, &answer).with_cookie(legacy.verify_cookie.set_header(&id)))
    }

    pub(super) async fn legacy_verify(
        &self,
        request: &EndpointRequest,
    ) -> Result<EndpointResponse, Error> {
        let inner = &self.inner;
        let body: VerifyBody = guard::post_json(request, &inner.allowed_origins)?;
        self.check_code_limits(request).await?;
        let legacy = self.legacy();
        let id = self
            .cookie_value(request, &legacy.verify_cookie)
            .ok_or(FlowError::NotFound)?;
        let key = verification_key(&id);

        // Reserve one attempt (CAS) before asking Glide.
        let record = loop {
            let current = legacy.store.load(&key).await?.ok_or(FlowError::NotFound)?;
            let mut record: Verification = decode(&current.value)?;
            if record.server_session.is_some() {
                return Err(FlowError::NotFound.into());
            }
            if record.attempts >= MAX_ATTEMPTS {
                return Ok(too_many_attempts());
            }
            // Input checks come after the dead check and are not counted.
            check_input(record.channel, &body)?;
            record.attempts += 1;
            let now = self.now_unix();
            let ttl = remaining(record.created, now, VERIFICATION_TTL);
            if legacy
                .store
                .compare_and_set(&key, current.version, &encode(&record)?, ttl)
                .await?
            {
                break record;
            }
        };
        if let Some(limit) = inner.rate_limits.check_per_phone {
            inner
                .limiter
                .check_phone("legacy_check", &record.phone, limit)
                .await?;
        }

        let mut check = match (record.channel, &record.email) {
            (AuthType::Email, Some(email)) => VerifyAuthRequest::email(
                email.clone(),
                OtpCode::new(body.code.clone().unwrap_or_default()),
            ),
            (AuthType::Magic, _) => VerifyAuthRequest::magic(
                record.phone.clone(),
                MagicToken::new(body.token.clone().unwrap_or_default()),
            ),
            _ => VerifyAuthRequest::sms(
                record.phone.clone(),
                OtpCode::new(body.code.clone().unwrap_or_default()),
            ),
        };
        if let Some(ip) = self.client_ip_text(request) {
            check = check.with_device_ip(ip.to_string());
        }
        let verified = legacy
            .client
            .magic_auth()
            .verify_auth(&check)
            .await?
            .verified;
        if !verified {
            let left = MAX_ATTEMPTS.saturating_sub(record.attempts);
            let mut response = refuse(401, "INVALID_CODE", "The code is not valid.");
            let mut payload: serde_json::Value =
                serde_json::from_slice(&response.body).unwrap_or_else(|_| json!({}));
            payload["attempts_left"] = json!(left);
            response.body = payload.to_string().into();
            return Ok(response);
        }
        // Single use: the one request that takes the record issues the session. The version may
        // have moved since this request read it (a concurrent wrong code reserved an attempt);
        // Glide's check is itself single use, so the taker is the only holder of a right code.
        if legacy.store.take(&key).await?.is_none() {
            return Err(FlowError::AlreadyUsed.into());
        }
        let strategy = strategy_of(record.channel);
        let set_cookie = self
            .legacy_issue(request, record.phone.clone(), strategy)
            .await?;
        Ok(EndpointResponse::json(
            200,
            &json!({ "verified": true, "phone_number": record.phone, "strategy": strategy }),
        )
        .with_cookie(set_cookie)
        .with_cookie(legacy.verify_cookie.removal_header()))
    }

    pub(super) async fn legacy_start_server_auth(
        &self,
        request: &EndpointRequest,
    ) -> Result<EndpointResponse, Error> {
        let input = self.start_input(request)?;
        self.start_limits(request, &input.phone).await?;
        let legacy = self.legacy();
        let start = self.glide_start(request, &input);
        let started = legacy
            .client
            .magic_auth()
            .start_server_auth(&StartServerAuthRequest::from(start))
            .await?;
        if started.session_id.is_empty() || started.session_id.len() > 256 {
            return Err(Error::Decode {
                status: 200,
                message: "start-server-auth answered an invalid sessionId".into(),
            });
        }
        let now = self.now_unix();
        let id = random_id();
        let record = Verification {
            phone: input.phone,
            email: input.email,
            channel: AuthType::Magic,
            attempts: 0,
            last_sent: now,
            created: now,
            server_session: Some(started.session_id.clone()),
        };
        legacy
            .store
            .create(&verification_key(&id), &encode(&record)?, VERIFICATION_TTL)
            .await?;
        Ok(EndpointResponse::json(
            200,
            &json!({ "session_id": started.session_id, "auth_url": started.auth_url }),
        )
        .with_cookie(legacy.verify_cookie.set_header(&id)))
    }

    pub(super) async fn legacy_check_server_auth(
        &self,
        request: &EndpointRequest,
    ) -> Result<EndpointResponse, Error> {
        guard::method(request, "GET")?;
        let legacy = self.legacy();
        let session_id = request
            .query_param("session_id")
            .ok_or_else(|| Error::validation("session_id", "session_id is required"))?;
        // Only this browser's own session: the route is not an open proxy to Glide.
        let id = self
            .cookie_value(request, &legacy.verify_cookie)
            .ok_or(FlowError::NotFound)?;
        let key = verification_key(&id);
        let current = legacy.store.load(&key).await?.ok_or(FlowError::NotFound)?;
        let record: Verification = decode(&current.value)?;
        let owned = record
            .server_session
            .as_deref()
            .is_some_and(|s| constant_time_eq(s.as_bytes(), session_id.as_bytes()));
        if !owned {
            return Err(FlowError::NotFound.into());
        }
        let status = legacy
            .client
            .magic_auth()
            .check_server_auth(&session_id)
            .await?;
        let answer = json!({ "status": status.status, "verified": status.verified });
        if status.status != ServerAuthStatus::Completed {
            return Ok(EndpointResponse::json(200, &answer));
        }
        let taken = legacy.store.take(&key).await?;
        if taken.is_none() {
            return Err(FlowError::AlreadyUsed.into());
        }
        let response =
            EndpointResponse::json(200, &answer).with_cookie(legacy.verify_cookie.removal_header());
        if !status.verified {
            return Ok(response);
        }
        let set_cookie = self
            .legacy_issue(request, record.phone, Strategy::Magic)
            .await?;
        Ok(response.with_cookie(set_cookie))
    }

    pub(super) async fn number_verify_start(
        &self,
        request: &EndpointRequest,
    ) -> Result<EndpointResponse, Error> {
        guard::method(request, "GET")?;
        let legacy = self.legacy();
        let callback = legacy
            .callback_url
            .clone()
            .ok_or_else(|| Error::Config("number_verify_callback_url is not configured".into()))?;
        let phone = parse_phone(request.query_param("phone_number").as_deref())?;
        self.start_limits(request, &phone).await?;
        let state = random_id();
        let id = random_id();
        let record = StateRecord {
            state: state.clone(),
            phone: phone.clone(),
            created: self.now_unix(),
        };
        legacy
            .store
            .create(&state_key(&id), &encode(&record)?, STATE_TTL)
            .await?;
        let url = legacy
            .client
            .number_verify()
            .get_auth_url(&AuthUrlOptions {
                state: Some(state),
                use_dev_number: Some(phone),
                redirect_uri: Some(callback),
                print_code: false,
            })?;
        Ok(EndpointResponse::empty(302)
            .with_header("location", url.as_str())
            .with_cookie(legacy.state_cookie.set_header(&id)))
    }

    pub(super) async fn number_verify_callback(
        &self,
        request: &EndpointRequest,
    ) -> Result<EndpointResponse, Error> {
        guard::method(request, "GET")?;
        let legacy = self.legacy();
        let (Some(id), Some(state)) = (
            self.cookie_value(request, &legacy.state_cookie),
            request.query_param("state"),
        ) else {
            return Ok(invalid_state());
        };
        let key = state_key(&id);
        let Some(current) = legacy.store.load(&key).await? else {
            return Ok(invalid_state());
        };
        let record: StateRecord = decode(&current.value)?;
        if !constant_time_eq(record.state.as_bytes(), state.as_bytes()) {
            return Ok(invalid_state());
        }
        let taken = legacy.store.take(&key).await?;
        let expired = self.now_unix() - record.created > STATE_TTL.as_secs() as i64;
        if taken.is_none_or_version(current.version) || expired {
            return Ok(invalid_state());
        }

        let failed = |reason: &str| {
            tracing::debug!(reason, "number verify failed");
            let separator = if legacy.return_path.contains('?') {
                '&'
            } else {
                '?'
            };
            EndpointResponse::empty(302)
                .with_header(
                    "location",
                    format!("{}{separator}verification=failed", legacy.return_path),
                )
                .with_cookie(legacy.state_cookie.removal_header())
        };
        if request.query_param("error").is_some() {
            return Ok(failed("operator error"));
        }
        let Some(code) = request.query_param("code").filter(|c| !c.is_empty()) else {
            return Ok(failed("no code"));
        };
        let number_verify = legacy.client.number_verify();
        let outcome = match number_verify
            .for_user(&AuthCode::new(code), Some(record.phone.clone()))
            .await
        {
            Ok(user) => user.verify_number(None).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(answer) if answer.device_phone_number_verified => {}
            Ok(_) => return Ok(failed("not the device's number")),
            Err(Error::Api(api)) if api.status < 500 => return Ok(failed("refused by Glide")),
            Err(e) => return Err(e),
        }
        match self
            .legacy_issue(request, record.phone, Strategy::NumberVerify)
            .await
        {
            Ok(set_cookie) => Ok(EndpointResponse::empty(302)
                .with_header("location", legacy.return_path.clone())
                .with_cookie(legacy.state_cookie.removal_header())
                .with_cookie(set_cookie)),
            Err(Error::Request(RequestError::RiskPolicyDenied(_))) => Ok(failed("risk policy")),
            Err(e) => Err(e),
        }
    }
}

/// Whether a `take` did not return the very version this request saw.
trait TakenCheck {
    fn is_none_or_version(&self, version: u64) -> bool;
}

impl TakenCheck for Option<crate::store::Versioned> {
    fn is_none_or_version(&self, version: u64) -> bool {
        self.as_ref().is_none_or(|v| v.version != version)
    }
}

/// The store TTL left for a record created at `created` with lifetime `ttl` (at least 1 s).
fn remaining(created: i64, now: i64, ttl: Duration) -> Duration {
    let left = (created + ttl.as_secs() as i64 - now).max(1);
    Duration::from_secs(left.unsigned_abs())
}

/// The code or token fits the channel: codes are 4–10 ASCII digits; tokens are 1–4096 visible
/// ASCII characters.
fn check_input(channel: AuthType, body: &VerifyBody) -> Result<(), Error> {
    match channel {
        AuthType::Magic => {
            let token = body
                .token
                .as_deref()
                .ok_or_else(|| Error::validation("token", "token is required"))?;
            if token.is_empty()
                || token.len() > 4096
                || !token.bytes().all(|b| b.is_ascii_graphic())
            {
                return Err(Error::validation("token", "token is invalid"));
            }
        }
        _ => {
            let code = body
                .code
                .as_deref()
                .ok_or_else(|| Error::validation("code", "code is required"))?;
            if !(4..=10).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::validation("code", "code must be 4 to 10 digits"));
            }
        }
    }
    Ok(())
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

    #[test]
    fn code_rules() {
        let body = |code: &str| VerifyBody {
            code: Some(code.into()),
            token: None,
        };
        assert!(check_input(AuthType::Sms, &body("123456")).is_ok());
        assert!(check_input(AuthType::Sms, &body("1234")).is_ok());
        for bad in ["123", "12345678901", "12a456", "١٢٣٤٥٦", ""] {
            assert!(check_input(AuthType::Sms, &body(bad)).is_err(), "{bad}");
        }
        assert!(check_input(AuthType::Magic, &body("123456")).is_err());
        assert!(is_id(&random_id()));
        assert!(!is_id("short"));
    }
}
