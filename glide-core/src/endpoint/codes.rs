//! Legacy Magic Auth with its SMS / e-mail fallback: `magic-auth/start`, `magic-auth/verify`,
//! and the server-side flavour `magic-auth/start-server-auth`, `magic-auth/check-server-auth`.
//!
//! Security rules, all enforced here:
//! - every verification lives in the store under a random 32-byte id held in an HttpOnly cookie
//!   (`glide_legacy`, `__Host-` in secure mode); routes never act on a verification of another
//!   browser;
//! - an e-mail code proves an e-mail address, never a phone number typed by a stranger: the
//!   address is the app's address on file for the number ([`EmailOnFile`]), never one sent by
//!   the browser (400 `VALIDATION_ERROR`);
//! - wrong codes are counted per verification with compare-and-set, the attempt being reserved
//!   *before* Glide is asked, so at most [`MAX_ATTEMPTS`] codes are ever checked, even under
//!   concurrency; the next attempt answers 429 `TOO_MANY_ATTEMPTS`; a resend keeps the count; a
//!   second send to the same number within [`RESEND_COOLDOWN`], from this browser or any other,
//!   answers 429 `RATE_LIMIT_EXCEEDED` with `Retry-After`;
//! - a code that is not 4–10 ASCII digits is refused with 400 `VALIDATION_ERROR` and is **not**
//!   counted (it never reaches Glide);
//! - a successful verification takes the record (single use) *before* anything else happens:
//!   the SIM-swap and device-swap checks ([`SwapChecks`], once per verification, never on a
//!   wrong code or a resend), then the risk policy; a verification refused there is consumed
//!   too.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::door::Door;
use super::io::{self, EndpointResponse, Incoming, ResponseExt as _};
use super::issue::SessionIssuer;
use super::limits::Limits;
use super::records::{is_id, Record, Records};
use super::swap_checks::SwapChecks;
use crate::binding::constant_time_eq;
use crate::clock::SharedClock;
use crate::cookie::CookieSpec;
use crate::error::{Error, FlowError, RequestError};
use crate::legacy::{
    AuthType, Email, FallbackChannel, LegacyClient, MagicToken, OtpCode, ServerAuthStatus,
    StartAuthRequest, StartServerAuthRequest, VerifyAuthRequest,
};
use crate::session::VerifiedPhone;
use crate::{PhoneNumber, Strategy, SwapInfo, UseCase};

/// Wrong codes allowed per verification.
pub const MAX_ATTEMPTS: u32 = 5;
/// Shortest time between two sends of a code for one verification.
pub const RESEND_COOLDOWN: Duration = Duration::from_secs(30);

/// The app's e-mail address on file for a phone number: where the e-mail fallback sends its
/// code. Without one (or without a resolver) the e-mail fallback is not offered.
///
/// A closure `Fn(&PhoneNumber) -> Option<Email>` is one.
#[async_trait]
pub trait EmailOnFile: Send + Sync + 'static {
    /// The address on file for `phone`, if any.
    async fn email_for(&self, phone: &PhoneNumber) -> Result<Option<Email>, Error>;
}

#[async_trait]
impl<F> EmailOnFile for F
where
    F: Fn(&PhoneNumber) -> Option<Email> + Send + Sync + 'static,
{
    async fn email_for(&self, phone: &PhoneNumber) -> Result<Option<Email>, Error> {
        Ok(self(phone))
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

impl Record for Verification {
    const PREFIX: &'static str = "legacy:verification:";
    const TTL: Duration = Duration::from_secs(600);
    fn created(&self) -> i64 {
        self.created
    }
}

/// The Magic Auth code flows and exactly what they need.
pub(crate) struct MagicCodes {
    pub(crate) client: LegacyClient,
    records: Records<Verification>,
    pub(crate) cookie: CookieSpec,
    pub(crate) email_on_file: Option<Arc<dyn EmailOnFile>>,
    pub(crate) issuer: Arc<SessionIssuer>,
    pub(crate) limits: Arc<Limits>,
    pub(crate) door: Arc<Door>,
    pub(crate) clock: SharedClock,
    pub(crate) swap_checks: Arc<SwapChecks>,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = MagicAuthStartBody))]
pub(crate) struct StartBody {
    phone_number: Option<String>,
    email: Option<String>,
    fallback_channel: Option<FallbackChannel>,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = MagicAuthStartAnswer))]
pub(crate) struct StartAnswer<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_url: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = MagicAuthVerifiedAnswer))]
pub(crate) struct VerifiedAnswer<'a> {
    verified: bool,
    phone_number: &'a PhoneNumber,
    strategy: Strategy,
    #[serde(skip_serializing_if = "Option::is_none")]
    sim_swap: Option<&'a SwapInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_swap: Option<&'a SwapInfo>,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = ServerAuthStartAnswer))]
pub(crate) struct ServerStartAnswer<'a> {
    session_id: &'a str,
    auth_url: &'a str,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = ServerAuthStatusAnswer))]
pub(crate) struct ServerStatusAnswer {
    status: ServerAuthStatus,
    verified: bool,
}

/// A start body, checked: what one send of a code (or carrier link) is for.
pub(crate) struct StartInput {
    phone: PhoneNumber,
    email: Option<Email>,
    fallback_channel: Option<FallbackChannel>,
}

/// What one send started: the verification's id and Glide's answer.
pub(crate) struct Sent {
    /// The verification record's id.
    pub(crate) id: String,
    /// The channel Glide chose (`MAGIC`, `SMS`, `EMAIL`).
    pub(crate) auth_type: AuthType,
    /// The carrier URL of a `MAGIC` answer.
    pub(crate) auth_url: Option<String>,
}

/// A code or carrier token submitted for a verification.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = MagicAuthVerifyBody))]
pub(crate) struct VerifyBody {
    /// A one-time code (SMS, e-mail).
    pub(crate) code: Option<String>,
    /// The carrier's token (`MAGIC`).
    pub(crate) token: Option<String>,
}

/// A right code or token, once: the session issued, or refused after the verification was
/// consumed (SIM-swap check, risk policy).
pub(crate) enum Checked {
    /// The session was issued; the cookie hands it to the browser.
    Verified {
        verified: Box<VerifiedPhone>,
        cookie: cookie::Cookie<'static>,
    },
    /// The verification is consumed and no session was issued.
    Refused(Error),
}

impl MagicCodes {
    pub(crate) fn new(
        client: LegacyClient,
        store: Arc<dyn crate::store::Store>,
        cookie: CookieSpec,
        shared: (Arc<SessionIssuer>, Arc<Limits>, Arc<Door>, SharedClock),
        swap_checks: Arc<SwapChecks>,
        email_on_file: Option<Arc<dyn EmailOnFile>>,
    ) -> Self {
        let (issuer, limits, door, clock) = shared;
        Self {
            swap_checks,
            client,
            records: Records::new(store),
            cookie,
            email_on_file,
            issuer,
            limits,
            door,
            clock,
        }
    }

    fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    /// This browser's verification id, when its cookie holds a well-formed one.
    fn verification_id<'a>(&self, request: &'a Incoming) -> Option<&'a str> {
        request.cookies.get(&self.cookie.name).filter(|v| is_id(v))
    }

    /// A start route's input: same origin, a JSON body with a valid number; the e-mail address,
    /// for the e-mail fallback, from the app's records.
    async fn start_input(&self, request: &Incoming) -> Result<StartInput, Error> {
        let body: StartBody = self.door.json(request)?;
        if body.email.is_some() {
            return Err(Error::validation(
                "email",
                "email must not be sent: e-mail codes go to the address on file for the number",
            ));
        }
        let phone = parse_phone(body.phone_number.as_deref())?;
        self.input_for(phone, body.fallback_channel).await
    }

    /// The input of a send of `fallback_channel` to `phone`: the e-mail address, for the e-mail
    /// fallback, from the app's records. A number the policy's ranges deny is refused here.
    pub(crate) async fn input_for(
        &self,
        phone: PhoneNumber,
        fallback_channel: Option<FallbackChannel>,
    ) -> Result<StartInput, Error> {
        self.issuer.check_number(&phone)?;
        let email = match fallback_channel {
            Some(FallbackChannel::Email) => {
                let resolver = self.email_on_file.as_ref().ok_or_else(|| {
                    Error::validation("fallback_channel", "the e-mail fallback is not offered")
                })?;
                Some(resolver.email_for(&phone).await?.ok_or_else(|| {
                    Error::validation(
                        "fallback_channel",
                        "no e-mail address is on file for this number",
                    )
                })?)
            }
            Some(FallbackChannel::Rcs) => {
                return Err(Error::validation(
                    "fallback_channel",
                    "fallback_channel must be SMS, EMAIL or NO_FALLBACK",
                ))
            }
            _ => None,
        };
        Ok(StartInput {
            phone,
            email,
            fallback_channel,
        })
    }

    /// Glide's start request for `input`, with this browser's address.
    fn glide_start(&self, request: &Incoming, input: &StartInput) -> StartAuthRequest {
        let mut start = StartAuthRequest::phone(input.phone.clone());
        start.email = input.email.clone();
        start.fallback_channel = input.fallback_channel;
        start.device_ip_address = self.limits.client_ip(request).map(|ip| ip.to_string());
        start
    }

    /// `POST {base}/magic-auth/start`: sends a code (or the carrier link); a resend for this
    /// browser's verification of the same number keeps its count.
    pub(crate) async fn start(&self, request: &Incoming) -> Result<EndpointResponse, Error> {
        let input = self.start_input(request).await?;
        let existing = self.verification_id(request).map(str::to_owned);
        let sent = self.send(request, input, existing.as_deref()).await?;
        let answer = StartAnswer {
            kind: sent.auth_type.as_str(),
            auth_url: sent.auth_url.as_deref(),
        };
        Ok(io::json(StatusCode::OK, &answer).with_cookie(self.cookie.set(&sent.id)))
    }

    /// Sends a code (or starts the carrier check) for `input`; a resend when `existing` is a
    /// live verification of the same number and channel (it keeps its count and its cooldown),
    /// else a new verification. Every limit of the start route applies.
    pub(crate) async fn send(
        &self,
        request: &Incoming,
        input: StartInput,
        existing: Option<&str>,
    ) -> Result<Sent, Error> {
        let now = self.now();
        let existing = match existing.filter(|id| is_id(id)) {
            Some(id) => self
                .records
                .load(id)
                .await?
                .map(|(r, _)| (id.to_owned(), r)),
            None => None,
        };
        let resend = existing.filter(|(_, r)| {
            r.server_session.is_none() && r.phone == input.phone && r.email == input.email
        });
        if let Some((_, record)) = &resend {
            check_resend(record, now)?;
        }
        self.limits
            .start("legacy_start", request, Some(&input.phone))
            .await?;
        // One code per number and channel per cooldown, whichever browser asks: starting over
        // without the cookie buys no extra SMS (switching to e-mail is still a choice). Reserved
        // before Glide is asked; given back when no code went out (a carrier link, a failure).
        let channel = match input.fallback_channel {
            Some(FallbackChannel::Email) => "email",
            Some(FallbackChannel::NoFallback) => "none",
            // SMS is Glide's default fallback.
            _ => "sms",
        };
        let cooldown_key = format!("{}|{channel}", input.phone.as_str());
        self.limits
            .cooldown("legacy_send", &cooldown_key, RESEND_COOLDOWN)
            .await?;

        let id = match resend {
            // Reserve the send: of two concurrent resends only one goes out.
            Some((id, _)) => {
                self.records
                    .update(&id, now, |record| {
                        check_resend(record, now)?;
                        record.last_sent = now;
                        Ok(())
                    })
                    .await?;
                Some(id)
            }
            None => None,
        };

        let start = self.glide_start(request, &input);
        let started = match self.client.magic_auth().start_auth(&start).await {
            Ok(started) => started,
            Err(error) => {
                self.limits
                    .release_cooldown("legacy_send", &cooldown_key)
                    .await;
                return Err(error);
            }
        };
        if !matches!(started.auth_type, AuthType::Sms | AuthType::Email) {
            self.limits
                .release_cooldown("legacy_send", &cooldown_key)
                .await;
        }
        let id = match id {
            Some(id) => {
                self.records
                    .update(&id, now, |record| {
                        record.channel = started.auth_type;
                        Ok(())
                    })
                    .await?;
                id
            }
            None => {
                self.records
                    .create(&Verification {
                        phone: input.phone,
                        email: input.email,
                        channel: started.auth_type,
                        attempts: 0,
                        last_sent: now,
                        created: now,
                        server_session: None,
                    })
                    .await?
            }
        };
        Ok(Sent {
            id,
            auth_type: started.auth_type,
            auth_url: started.auth_url,
        })
    }

    /// `POST {base}/magic-auth/verify`: checks a code (or the carrier token) once.
    pub(crate) async fn verify(&self, request: &Incoming) -> Result<EndpointResponse, Error> {
        let body: VerifyBody = self.door.json(request)?;
        self.limits.check(request).await?;
        let id = self
            .verification_id(request)
            .ok_or(FlowError::NotFound)?
            .to_owned();
        let (phone, strategy, checked) = self.check(request, &id, &body).await?;
        match checked {
            Checked::Verified { verified, cookie } => {
                let answer = VerifiedAnswer {
                    verified: true,
                    phone_number: &phone,
                    strategy,
                    sim_swap: verified.sim_swap.as_ref(),
                    device_swap: verified.device_swap.as_ref(),
                };
                Ok(io::json(StatusCode::OK, &answer)
                    .with_cookie(cookie)
                    .with_cookie(self.cookie.removal()))
            }
            // The verification is consumed either way: the browser's cookie for it goes too.
            Checked::Refused(refused) => {
                Ok(io::error_response(&refused).with_cookie(self.cookie.removal()))
            }
        }
    }

    /// Checks a code (or the carrier token) of verification `id` once: the attempt reserved
    /// first, then Glide asked, then the record taken (single use) and the session issued
    /// through the SIM-swap check and the risk policy. Answers the verification's number and
    /// strategy with the outcome; a wrong code is `Err(INVALID_CODE)`. The caller has counted
    /// the request against [`Limits::check`].
    pub(crate) async fn check(
        &self,
        request: &Incoming,
        id: &str,
        body: &VerifyBody,
    ) -> Result<(PhoneNumber, Strategy, Checked), Error> {
        if !is_id(id) {
            return Err(FlowError::NotFound.into());
        }

        // Reserve one attempt (CAS) before asking Glide.
        let (record, ()) = self
            .records
            .update(id, self.now(), |record| {
                if record.server_session.is_some() {
                    return Err(FlowError::NotFound.into());
                }
                if record.attempts >= MAX_ATTEMPTS {
                    return Err(RequestError::TooManyAttempts.into());
                }
                // Input checks come after the dead check and are not counted.
                check_input(record.channel, body)?;
                record.attempts += 1;
                Ok(())
            })
            .await?;
        self.limits
            .check_phone("legacy_check", request, &record.phone)
            .await?;

        // Fails closed: `check_input` above refused a missing code or token, and an empty one
        // would only be a wrong code at Glide.
        let code = || OtpCode::new(body.code.clone().unwrap_or_default());
        let mut check = match (record.channel, &record.email) {
            (AuthType::Email, Some(email)) => VerifyAuthRequest::email(email.clone(), code()),
            (AuthType::Magic, _) => VerifyAuthRequest::magic(
                record.phone.clone(),
                MagicToken::new(body.token.clone().unwrap_or_default()),
            ),
            _ => VerifyAuthRequest::sms(record.phone.clone(), code()),
        };
        if let Some(ip) = self.limits.client_ip(request) {
            check = check.with_device_ip(ip.to_string());
        }
        if !self.client.magic_auth().verify_auth(&check).await?.verified {
            return Err(RequestError::InvalidCode {
                attempts_left: MAX_ATTEMPTS.saturating_sub(record.attempts),
            }
            .into());
        }
        // Single use: the one request that takes the record issues the session. Glide's check
        // is itself single use, so the taker is the only holder of a right code.
        if !self.records.take(id, None).await? {
            return Err(FlowError::AlreadyUsed.into());
        }
        let strategy = strategy_of(record.channel);
        let checked = match self.issue(request, &record.phone, strategy).await {
            Ok((verified, cookie)) => Checked::Verified {
                verified: Box::new(verified),
                cookie,
            },
            Err(refused) => Checked::Refused(refused),
        };
        Ok((record.phone, strategy, checked))
    }

    /// `POST {base}/magic-auth/start-server-auth`
    pub(crate) async fn start_server_auth(
        &self,
        request: &Incoming,
    ) -> Result<EndpointResponse, Error> {
        let input = self.start_input(request).await?;
        self.limits
            .start("legacy_start", request, Some(&input.phone))
            .await?;
        let start = self.glide_start(request, &input);
        let started = self
            .client
            .magic_auth()
            .start_server_auth(&StartServerAuthRequest::from(start))
            .await?;
        if !is_server_session_id(&started.session_id) {
            return Err(Error::Decode {
                status: 200,
                message: "start-server-auth answered an invalid sessionId".into(),
            });
        }
        let now = self.now();
        // Glide's answer never says what confirmed a server auth: with a fallback channel it
        // may have been a one-time code, so the weakest channel that could have is recorded
        // (only without a fallback can it have been the carrier alone).
        let channel = server_auth_channel(input.fallback_channel);
        let id = self
            .records
            .create(&Verification {
                phone: input.phone,
                email: input.email,
                channel,
                attempts: 0,
                last_sent: now,
                created: now,
                server_session: Some(started.session_id.clone()),
            })
            .await?;
        let answer = ServerStartAnswer {
            session_id: &started.session_id,
            auth_url: &started.auth_url,
        };
        Ok(io::json(StatusCode::OK, &answer).with_cookie(self.cookie.set(&id)))
    }

    /// `GET {base}/magic-auth/check-server-auth?session_id=`: only this browser's own server
    /// session; the route is not an open proxy to Glide.
    pub(crate) async fn check_server_auth(
        &self,
        request: &Incoming,
    ) -> Result<EndpointResponse, Error> {
        let session_id = request
            .query_param("session_id")
            .ok_or_else(|| Error::validation("session_id", "session_id is required"))?;
        let id = self
            .verification_id(request)
            .ok_or(FlowError::NotFound)?
            .to_owned();
        let (record, version) = self.records.load(&id).await?.ok_or(FlowError::NotFound)?;
        let owned = record
            .server_session
            .as_deref()
            .is_some_and(|s| constant_time_eq(s.as_bytes(), session_id.as_bytes()));
        if !owned {
            return Err(FlowError::NotFound.into());
        }
        self.limits.glide_call(request).await?;
        let status = self
            .client
            .magic_auth()
            .check_server_auth(&session_id)
            .await?;
        let answer = ServerStatusAnswer {
            status: status.status,
            verified: status.verified,
        };
        if status.status != ServerAuthStatus::Completed {
            return Ok(io::json(StatusCode::OK, &answer));
        }
        if !self.records.take(&id, Some(version)).await? {
            return Err(FlowError::AlreadyUsed.into());
        }
        let response = io::json(StatusCode::OK, &answer).with_cookie(self.cookie.removal());
        if !status.verified {
            return Ok(response);
        }
        match self
            .issue(request, &record.phone, strategy_of(record.channel))
            .await
        {
            Ok((_, session_cookie)) => Ok(response.with_cookie(session_cookie)),
            Err(refused) => Ok(io::error_response(&refused).with_cookie(self.cookie.removal())),
        }
    }

    /// The verified session of a code-based success (its record already taken): the swap
    /// checks (SIM and device), then the risk policy, then the session.
    async fn issue(
        &self,
        request: &Incoming,
        phone: &PhoneNumber,
        strategy: Strategy,
    ) -> Result<(VerifiedPhone, cookie::Cookie<'static>), Error> {
        let mut verified = VerifiedPhone::new(
            phone.clone(),
            UseCase::VerifyPhoneNumber,
            strategy,
            self.clock.now(),
        );
        self.swap_checks.fill(&mut verified).await?;
        let cookie = self.issuer.issue(request, verified.clone()).await?;
        Ok((verified, cookie))
    }
}

/// Whether Glide's `sessionId` of a server auth is one we keep: 1 to 256 bytes.
fn is_server_session_id(id: &str) -> bool {
    (1..=256).contains(&id.len())
}

/// A resend is refused on a dead verification and within the cooldown.
fn check_resend(record: &Verification, now: i64) -> Result<(), Error> {
    if record.attempts >= MAX_ATTEMPTS {
        return Err(RequestError::TooManyAttempts.into());
    }
    let elapsed = now.saturating_sub(record.last_sent);
    let cooldown = RESEND_COOLDOWN.as_secs() as i64;
    if elapsed < cooldown {
        return Err(Error::RateLimited {
            retry_after: Duration::from_secs((cooldown - elapsed).unsigned_abs()),
        });
    }
    Ok(())
}

pub(crate) fn parse_phone(text: Option<&str>) -> Result<PhoneNumber, Error> {
    let text = text.ok_or_else(|| Error::validation("phone_number", "phone_number is required"))?;
    PhoneNumber::parse_lenient(text).map_err(|e| Error::validation("phone_number", e.to_string()))
}

/// The channel that may have confirmed a server auth started with `fallback`: the carrier
/// only without a fallback; else the fallback's code (SMS, Glide's default, or e-mail).
fn server_auth_channel(fallback: Option<FallbackChannel>) -> AuthType {
    match fallback {
        Some(FallbackChannel::NoFallback) => AuthType::Magic,
        Some(FallbackChannel::Email) => AuthType::Email,
        _ => AuthType::Sms,
    }
}

fn strategy_of(channel: AuthType) -> Strategy {
    match channel {
        AuthType::Sms => Strategy::Sms,
        AuthType::Email => Strategy::Email,
        _ => Strategy::Magic,
    }
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

    #[test]
    fn a_server_session_id_is_one_to_256_bytes() {
        assert!(is_server_session_id("s"));
        assert!(is_server_session_id(&"s".repeat(256)));
        assert!(!is_server_session_id(""));
        assert!(!is_server_session_id(&"s".repeat(257)));
    }
    use super::*;

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
    }

    #[test]
    fn resend_rules() {
        let record = |attempts, last_sent| Verification {
            phone: PhoneNumber::parse_lenient("+15555550100").expect("phone"),
            email: None,
            channel: AuthType::Sms,
            attempts,
            last_sent,
            created: 0,
            server_session: None,
        };
        assert!(check_resend(&record(0, 0), 30).is_ok());
        let early = check_resend(&record(0, 0), 29).unwrap_err();
        assert_eq!(early.retry_after(), Some(Duration::from_secs(1)));
        assert_eq!(
            check_resend(&record(MAX_ATTEMPTS, 0), 100)
                .unwrap_err()
                .code(),
            "TOO_MANY_ATTEMPTS"
        );
    }
}
