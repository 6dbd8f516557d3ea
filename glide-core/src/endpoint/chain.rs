//! The verification chain: one verification whatever the device, run on the server as an
//! ordered list of steps (Magical Auth → legacy carrier check → SMS code → e-mail code), each with
//! its own timeout, under one deadline and one attempt budget.
//!
//! `POST {base}/verification/start`, `GET {base}/verification`, `POST {base}/verification/advance`
//! (mounted only when a chain is configured with
//! [`GlideAuthBuilder::verification_chain`](super::GlideAuthBuilder::verification_chain)).
//!
//! The chain drives the existing flows and never duplicates them:
//! - the Magical Auth step is run by the browser through the existing `prepare` / `process`
//!   routes; the chain only *reads* this browser's verified session (its number, issued after the
//!   chain started) to call itself `verified`;
//! - the legacy steps send and check through [`MagicCodes`] (cooldowns, per-verification
//!   counts, single use, the SIM-swap check and the risk policy all apply); the verification's
//!   id stays in the chain's record, so no browser can check its codes around the chain;
//! - a verified session only ever comes from [`SessionIssuer`](super::issue::SessionIssuer).
//!
//! Rules enforced here:
//! - one attempt budget per number and client source ([`Store::increment`], one atomic step):
//!   a start, every send or resend, every channel switch and every code or token checked draw
//!   on it, and a new chain for the same number within the window continues it; exhausted: 429
//!   `ATTEMPTS_EXHAUSTED`, nothing asked of Glide;
//! - a risk denial of the number, by any flow, ends the chain (`failed`, reason `risk_denied`):
//!   it never falls through to a weaker channel;
//! - every advance names the step it acts on; the state changes by compare-and-set, so a
//!   replayed or raced advance finds the chain moved on: 409 `SESSION_NOT_ELIGIBLE` (exactly one
//!   of two racing advances wins); an ended chain: 409 `SESSION_ALREADY_USED`; past the deadline:
//!   410 `CHAIN_EXPIRED`;
//! - the chain lives under a random id in an HttpOnly cookie (`glide_chain`, `__Host-` in secure
//!   mode): without it 403 `MISSING_BINDING_COOKIE`, with an unknown one 404 `SESSION_NOT_FOUND`.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::codes::{Checked, MagicCodes, Sent, VerifyBody};
use super::door::Door;
use super::io::{self, EndpointResponse, Incoming, ResponseExt as _};
use super::issue::SessionIssuer;
use super::limits::{phone_and_source, Limits};
use super::records::{is_id, Record, Records};
use crate::clock::SharedClock;
use crate::cookie::CookieSpec;
use crate::error::{BindingError, Error, FlowError, RequestError};
use crate::legacy::{AuthType, FallbackChannel};
use crate::store::Store;
use crate::{PhoneNumber, UseCase};

/// The longest overall deadline a chain may have.
pub const MAX_CHAIN_DEADLINE: Duration = Duration::from_secs(3600);
/// How long a chain's record (and cookie) lives: its deadline at most, then time to read how it
/// ended.
const RECORD_TTL: Duration = Duration::from_secs(2 * 3600);

/// A step of a verification chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ChainStep {
    /// Magical Auth (TS43, Link, desktop), run by the browser through `prepare` / `process`.
    MagicalAuth,
    /// The legacy carrier check (Magic Auth's `MAGIC`: the device opens the carrier's URL).
    Magic,
    /// A code by SMS.
    Sms,
    /// A code by e-mail, to the app's address on file for the number.
    Email,
}

impl ChainStep {
    fn is_code(self) -> bool {
        matches!(self, Self::Sms | Self::Email)
    }
}

/// How a step can end without a verified session. Which of them move the chain to its next
/// step is configured ([`VerificationChain::falls_through`]); the others end it. A denial by the
/// risk policy is none of them: it always ends the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StepOutcome {
    /// The carrier or the device cannot do this step.
    NotEligible,
    /// The person declined on the device.
    Denied,
    /// The step's own timeout passed.
    TimedOut,
    /// Glide could not be reached or failed.
    Unavailable,
}

/// A verification chain's configuration: ordered steps with their timeouts, one overall deadline,
/// the outcomes that fall through to the next step, and the attempt budget.
///
/// ```
/// use std::time::Duration;
/// use glide_core::endpoint::{ChainStep, StepOutcome, VerificationChain};
/// let chain = VerificationChain::new()
///     .step(ChainStep::MagicalAuth, Duration::from_secs(120))
///     .step(ChainStep::Sms, Duration::from_secs(300))
///     .deadline(Duration::from_secs(600))
///     .falls_through([StepOutcome::NotEligible, StepOutcome::TimedOut])
///     .attempts(8, Duration::from_secs(900));
/// # let _ = chain;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationChain {
    steps: Vec<(ChainStep, Duration)>,
    deadline: Duration,
    falls_through: Vec<StepOutcome>,
    attempts: u32,
    window: Duration,
}

impl Default for VerificationChain {
    /// Magical Auth (2 min) → legacy carrier check (1 min) → SMS (5 min) → e-mail (5 min), a
    /// 15-minute deadline, every [`StepOutcome`] falling through, 10 attempts per 15 minutes.
    fn default() -> Self {
        Self::new()
            .step(ChainStep::MagicalAuth, Duration::from_secs(120))
            .step(ChainStep::Magic, Duration::from_secs(60))
            .step(ChainStep::Sms, Duration::from_secs(300))
            .step(ChainStep::Email, Duration::from_secs(300))
    }
}

impl VerificationChain {
    /// A chain with no steps yet (add them with [`step`](Self::step)), a 15-minute deadline,
    /// every [`StepOutcome`] falling through, 10 attempts per 15 minutes.
    pub fn new() -> Self {
        Self {
            steps: Vec::new(),
            deadline: Duration::from_secs(900),
            falls_through: vec![
                StepOutcome::NotEligible,
                StepOutcome::Denied,
                StepOutcome::TimedOut,
                StepOutcome::Unavailable,
            ],
            attempts: 10,
            window: Duration::from_secs(900),
        }
    }

    /// Appends a step that ends (outcome [`StepOutcome::TimedOut`]) `timeout` after it began.
    pub fn step(mut self, step: ChainStep, timeout: Duration) -> Self {
        self.steps.push((step, timeout));
        self
    }

    /// The whole chain's deadline from its start (at most [`MAX_CHAIN_DEADLINE`]); past it an
    /// unfinished chain answers 410 `CHAIN_EXPIRED`.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The outcomes that move the chain to its next step; any other ends it (`failed`).
    pub fn falls_through(mut self, outcomes: impl IntoIterator<Item = StepOutcome>) -> Self {
        self.falls_through = outcomes.into_iter().collect();
        self
    }

    /// The attempt budget per number and client source: `max` draws (chain starts, sends,
    /// channel switches, codes checked) per `window`, which must cover the deadline.
    pub fn attempts(mut self, max: u32, window: Duration) -> Self {
        self.attempts = max;
        self.window = window;
        self
    }

    /// Checks the configuration (at build time).
    pub(crate) fn validate(&self, email_on_file: bool) -> Result<(), Error> {
        let refuse = |why: &str| Err(Error::Config(format!("verification chain: {why}")));
        if self.steps.is_empty() {
            return refuse("needs at least one step");
        }
        for (i, (step, timeout)) in self.steps.iter().enumerate() {
            if self.steps[..i].iter().any(|(s, _)| s == step) {
                return refuse("a step appears twice");
            }
            if timeout.as_secs() == 0 {
                return refuse("a step's timeout must be at least one second");
            }
            if *step == ChainStep::Email && !email_on_file {
                return refuse("the e-mail step needs an e-mail resolver (email_on_file)");
            }
        }
        if self.deadline.as_secs() == 0 || self.deadline > MAX_CHAIN_DEADLINE {
            return refuse("the deadline must be between 1 s and 1 h");
        }
        if self.attempts == 0 || self.window < self.deadline {
            return refuse(
                "the attempt budget needs at least one attempt and a window covering the deadline",
            );
        }
        Ok(())
    }
}

/// Where a chain is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Active,
    Verified,
    Failed,
}

/// Why the chain last moved (the answer's `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = ChainReason))]
enum Reason {
    NotEligible,
    Denied,
    TimedOut,
    Unavailable,
    RiskDenied,
    NoMoreSteps,
    PhoneNumberRequired,
    ChannelChosen,
}

impl From<StepOutcome> for Reason {
    fn from(outcome: StepOutcome) -> Self {
        match outcome {
            StepOutcome::NotEligible => Self::NotEligible,
            StepOutcome::Denied => Self::Denied,
            StepOutcome::TimedOut => Self::TimedOut,
            StepOutcome::Unavailable => Self::Unavailable,
        }
    }
}

/// One browser's chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ChainRecord {
    phone: Option<PhoneNumber>,
    use_case: UseCase,
    index: usize,
    status: Status,
    reason: Option<Reason>,
    step_started: i64,
    created: i64,
    deadline: i64,
    /// The legacy verification of the current step, once sent (never in a browser's cookie).
    legacy_id: Option<String>,
    /// What Glide answered that send with.
    sent: Option<AuthType>,
    auth_url: Option<String>,
    /// The attempt budget's counter key.
    budget: String,
    attempts_left: u32,
}

impl Record for ChainRecord {
    const PREFIX: &'static str = "chain:";
    const TTL: Duration = RECORD_TTL;
    fn created(&self) -> i64 {
        self.created
    }
}

/// What the chain learns about the world before it moves: this browser's fresh verified
/// session for the chain's number, and a risk denial of the number.
#[derive(Debug, Default)]
struct Facts {
    verified: Option<PhoneNumber>,
    risk_denied: bool,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = ChainStartBody))]
pub(crate) struct StartBody {
    phone_number: Option<String>,
    use_case: Option<UseCase>,
    client_info: Option<serde_json::Value>,
}

/// An advance, naming the step it acts on.
#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = ChainEvent))]
pub(crate) enum Event {
    /// The browser could not finish a step it runs itself (Magical Auth, the carrier check).
    StepFailed {
        step: ChainStep,
        reason: StepOutcome,
    },
    /// Send the step's code or start its carrier check (again: a resend).
    Send { step: ChainStep },
    /// Switch from a code step to another code channel of the chain.
    Choose { step: ChainStep, channel: ChainStep },
    /// A code the person entered.
    Code { step: ChainStep, code: String },
    /// The carrier's token of a carrier check.
    Token { step: ChainStep, token: String },
}

impl Event {
    fn step(&self) -> ChainStep {
        match self {
            Self::StepFailed { step, .. }
            | Self::Send { step }
            | Self::Choose { step, .. }
            | Self::Code { step, .. }
            | Self::Token { step, .. } => *step,
        }
    }
}

/// What the browser must do next.
#[derive(Debug, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = ChainNext))]
enum Next<'a> {
    /// Run Magical Auth (`prepare` → invoke → `process`) for this number and use case.
    MagicalAuth {
        use_case: UseCase,
        #[serde(skip_serializing_if = "Option::is_none")]
        phone_number: Option<&'a PhoneNumber>,
    },
    /// Advance with `send` to send the code or start the carrier check.
    Send,
    /// Open `auth_url` on the device and advance with its `token`.
    CarrierCheck { auth_url: &'a str },
    /// Advance with the `code` the person received; `send` resends, `choose` switches channel.
    EnterCode { channels: Vec<ChainStep> },
}

/// Where a chain stands, as its state answer names it: the step it is at, or how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = ChainPosition))]
enum Position {
    /// At [`ChainStep::MagicalAuth`].
    MagicalAuth,
    /// At [`ChainStep::Magic`].
    Magic,
    /// At [`ChainStep::Sms`].
    Sms,
    /// At [`ChainStep::Email`].
    Email,
    /// Ended with a verified session.
    Verified,
    /// Ended without one.
    Failed,
}

impl From<ChainStep> for Position {
    fn from(step: ChainStep) -> Self {
        match step {
            ChainStep::MagicalAuth => Self::MagicalAuth,
            ChainStep::Magic => Self::Magic,
            ChainStep::Sms => Self::Sms,
            ChainStep::Email => Self::Email,
        }
    }
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = ChainState))]
pub(crate) struct StateAnswer<'a> {
    step: Position,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<Next<'a>>,
    attempts_left: u32,
    expires_in_seconds: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<Reason>,
}

/// The chain's routes and exactly what they need.
pub(crate) struct Chain {
    pub(crate) config: VerificationChain,
    records: Records<ChainRecord>,
    pub(crate) cookie: CookieSpec,
    pub(crate) issuer: Arc<SessionIssuer>,
    pub(crate) limits: Arc<Limits>,
    pub(crate) door: Arc<Door>,
    pub(crate) clock: SharedClock,
    store: Arc<dyn Store>,
}

impl Chain {
    /// The chain's routes over `store` (the pending store), cookies under the engine's mode.
    pub(crate) fn new(
        config: VerificationChain,
        store: Arc<dyn Store>,
        secure: bool,
        shared: (Arc<SessionIssuer>, Arc<Limits>, Arc<Door>, SharedClock),
    ) -> Self {
        let (issuer, limits, door, clock) = shared;
        Self {
            config,
            records: Records::new(store.clone()),
            cookie: CookieSpec::host_only("glide_chain", secure, RECORD_TTL),
            issuer,
            limits,
            door,
            clock,
            store,
        }
    }

    fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    /// `POST {base}/verification/start`: a new chain for this browser, drawing one attempt.
    pub(crate) async fn start(&self, request: &Incoming) -> Result<EndpointResponse, Error> {
        let body: StartBody = self.door.json(request)?;
        if !body.client_info.as_ref().is_some_and(|c| c.is_object()) {
            return Err(Error::validation("client_info", "client_info is required"));
        }
        let phone = match body.phone_number.as_deref() {
            Some(text) => Some(super::codes::parse_phone(Some(text))?),
            None => None,
        };
        let use_case = body.use_case.unwrap_or(if phone.is_some() {
            UseCase::VerifyPhoneNumber
        } else {
            UseCase::GetPhoneNumber
        });
        if use_case == UseCase::VerifyPhoneNumber && phone.is_none() {
            return Err(Error::validation(
                "phone_number",
                "phone_number is required to verify a number",
            ));
        }
        self.limits
            .start("chain_start", request, phone.as_ref())
            .await?;
        let source = self.limits.source(request);
        let budget = budget_key(&match &phone {
            Some(phone) => phone_and_source(phone, &source),
            None => format!("|{source}"),
        });
        let attempts_left = self.draw(&budget).await?;
        let facts = Facts {
            verified: None,
            risk_denied: self.risk_denied(phone.as_ref()).await?,
        };
        let now = self.now();
        let mut record = ChainRecord {
            phone,
            use_case,
            index: 0,
            status: Status::Active,
            reason: None,
            step_started: now,
            created: now,
            deadline: now.saturating_add(self.config.deadline.as_secs() as i64),
            legacy_id: None,
            sent: None,
            auth_url: None,
            budget,
            attempts_left,
        };
        self.settle(&mut record, now, &facts);
        let id = self.records.create(&record).await?;
        Ok(self
            .answer(&record, now, StatusCode::OK)
            .with_cookie(self.cookie.set(&id)))
    }

    /// `GET {base}/verification`: the chain's state, after what happened meanwhile (a verified
    /// session of this browser, a timeout, a risk denial) was recorded.
    pub(crate) async fn state(&self, request: &Incoming) -> Result<EndpointResponse, Error> {
        let (id, record) = self.current(request).await?;
        let facts = self.facts(request, &record).await?;
        let now = self.now();
        let record = self.settled(&id, record, now, &facts).await?;
        expired(&record, now)?;
        Ok(self.answer(&record, now, StatusCode::OK))
    }

    /// `POST {base}/verification/advance`: one event for the step the chain is at.
    pub(crate) async fn advance(
        &self,
        request: &Incoming,
        codes: &MagicCodes,
    ) -> Result<EndpointResponse, Error> {
        let event: Event = self.door.json(request)?;
        let (id, record) = self.current(request).await?;
        let facts = self.facts(request, &record).await?;
        let now = self.now();
        let record = self.settled(&id, record, now, &facts).await?;
        self.expect(&record, now, event.step())?;
        match event {
            Event::StepFailed { step, reason } => {
                if !matches!(step, ChainStep::MagicalAuth | ChainStep::Magic) {
                    return Err(FlowError::InvalidTransition(
                        "a code step ends by choosing another channel".into(),
                    )
                    .into());
                }
                let record = self
                    .update(&id, now, &facts, step, |chain, r| {
                        chain.fall(r, reason, now);
                        Ok(())
                    })
                    .await?;
                Ok(self.answer(&record, now, StatusCode::OK))
            }
            Event::Send { step } => self.send(request, codes, &id, record, step, &facts).await,
            Event::Choose { step, channel } => {
                let to = self
                    .code_steps()
                    .find(|(_, s)| *s == channel && *s != step)
                    .map(|(i, _)| i);
                let (Some(to), true) = (to, step.is_code()) else {
                    return Err(FlowError::InvalidTransition(
                        "a channel is chosen from a code step, among the chain's other code steps"
                            .into(),
                    )
                    .into());
                };
                let left = self.draw(&record.budget).await?;
                let record = self
                    .update(&id, now, &facts, step, |_, r| {
                        r.attempts_left = left;
                        r.index = to;
                        r.step_started = now;
                        r.reason = Some(Reason::ChannelChosen);
                        clear_sent(r);
                        Ok(())
                    })
                    .await?;
                Ok(self.answer(&record, now, StatusCode::OK))
            }
            Event::Code { step, code } => {
                let body = VerifyBody {
                    code: Some(code),
                    token: None,
                };
                self.check(request, codes, &id, record, step, &facts, &body)
                    .await
            }
            Event::Token { step, token } => {
                let body = VerifyBody {
                    code: None,
                    token: Some(token),
                };
                self.check(request, codes, &id, record, step, &facts, &body)
                    .await
            }
        }
    }

    /// `send`: draws an attempt, then sends through [`MagicCodes::send`]; a carrier that is not
    /// eligible or a Glide outage is the step's outcome.
    async fn send(
        &self,
        request: &Incoming,
        codes: &MagicCodes,
        id: &str,
        record: ChainRecord,
        step: ChainStep,
        facts: &Facts,
    ) -> Result<EndpointResponse, Error> {
        let channel = match step {
            ChainStep::Magic => FallbackChannel::NoFallback,
            ChainStep::Sms => FallbackChannel::Sms,
            ChainStep::Email => FallbackChannel::Email,
            ChainStep::MagicalAuth => {
                return Err(FlowError::InvalidTransition(
                    "Magical Auth is run through prepare and process".into(),
                )
                .into())
            }
        };
        let phone = record.phone.clone().ok_or(FlowError::InvalidTransition(
            "this chain has no number".into(),
        ))?;
        let left = self.draw(&record.budget).await?;
        let input = codes.input_for(phone, Some(channel)).await?;
        let sent = codes
            .send(request, input, record.legacy_id.as_deref())
            .await;
        let now = self.now();
        let outcome = send_outcome(step, &sent);
        let record = match (sent, outcome) {
            (_, Some(outcome)) => {
                self.update(id, now, facts, step, |chain, r| {
                    r.attempts_left = left;
                    chain.fall(r, outcome, now);
                    Ok(())
                })
                .await?
            }
            (Ok(sent), None) => {
                self.update(id, now, facts, step, |_, r| {
                    r.attempts_left = left;
                    r.legacy_id = Some(sent.id.clone());
                    r.sent = Some(sent.auth_type);
                    r.auth_url = sent.auth_url.clone();
                    Ok(())
                })
                .await?
            }
            (Err(refused), None) => return Err(refused),
        };
        Ok(self.answer(&record, now, StatusCode::OK))
    }

    /// `code` / `token`: draws an attempt, then checks through [`MagicCodes::check`]; the session
    /// comes from there (SIM-swap check, risk policy, issuer) or not at all.
    #[allow(clippy::too_many_arguments)]
    async fn check(
        &self,
        request: &Incoming,
        codes: &MagicCodes,
        id: &str,
        record: ChainRecord,
        step: ChainStep,
        facts: &Facts,
        body: &VerifyBody,
    ) -> Result<EndpointResponse, Error> {
        let expected = if body.token.is_some() {
            AuthType::Magic
        } else {
            AuthType::Sms
        };
        let fits = match record.sent {
            Some(AuthType::Magic) => expected == AuthType::Magic,
            Some(_) => expected != AuthType::Magic,
            None => false,
        };
        let (Some(legacy_id), true) = (record.legacy_id.clone(), fits) else {
            return Err(
                FlowError::InvalidTransition("nothing was sent for this to answer".into()).into(),
            );
        };
        self.limits.check(request).await?;
        let left = self.draw(&record.budget).await?;
        let (phone, _, checked) = match codes.check(request, &legacy_id, body).await {
            Ok(checked) => checked,
            Err(Error::Request(RequestError::InvalidCode { .. })) => {
                self.update(id, self.now(), facts, step, |_, r| {
                    r.attempts_left = left;
                    Ok(())
                })
                .await?;
                return Err(RequestError::InvalidCode {
                    attempts_left: left,
                }
                .into());
            }
            Err(other) => return Err(other),
        };
        if record.phone.as_ref() != Some(&phone) {
            return Err(Error::Internal(
                "a chain's verification of another number".into(),
            ));
        }
        let now = self.now();
        match checked {
            Checked::Verified { cookie, .. } => {
                let record = self
                    .records
                    .update(id, now, |r| {
                        r.attempts_left = left;
                        r.status = Status::Verified;
                        r.reason = None;
                        clear_sent(r);
                        Ok(())
                    })
                    .await?
                    .0;
                Ok(self
                    .answer(&record, now, StatusCode::OK)
                    .with_cookie(cookie))
            }
            Checked::Refused(refused) => {
                let denied = matches!(refused, Error::Request(RequestError::RiskPolicyDenied(_)));
                let record = self
                    .records
                    .update(id, now, |r| {
                        r.attempts_left = left;
                        clear_sent(r);
                        if denied && r.status == Status::Active {
                            r.status = Status::Failed;
                            r.reason = Some(Reason::RiskDenied);
                        }
                        Ok(())
                    })
                    .await?
                    .0;
                if denied {
                    Ok(self.answer(&record, now, StatusCode::OK))
                } else {
                    Err(refused)
                }
            }
        }
    }

    /// This browser's chain: 403 `MISSING_BINDING_COOKIE` without its cookie, 404
    /// `SESSION_NOT_FOUND` for an unknown one.
    async fn current(&self, request: &Incoming) -> Result<(String, ChainRecord), Error> {
        let id = request
            .cookies
            .get(&self.cookie.name)
            .ok_or(BindingError::MissingCookie)?;
        if !is_id(id) {
            return Err(FlowError::NotFound.into());
        }
        let (record, _) = self.records.load(id).await?.ok_or(FlowError::NotFound)?;
        Ok((id.to_owned(), record))
    }

    /// The facts an active chain moves on.
    async fn facts(&self, request: &Incoming, record: &ChainRecord) -> Result<Facts, Error> {
        if record.status != Status::Active {
            return Ok(Facts::default());
        }
        let verified = match self.issuer.current_id(request) {
            Some(session) => self
                .issuer
                .sessions
                .load(session)
                .await?
                .filter(|v| {
                    v.verified_at.unix_timestamp() >= record.created
                        && record.phone.as_ref().is_none_or(|p| *p == v.phone_number)
                })
                .map(|v| v.phone_number),
            None => None,
        };
        Ok(Facts {
            verified,
            risk_denied: self.risk_denied(record.phone.as_ref()).await?,
        })
    }

    async fn risk_denied(&self, phone: Option<&PhoneNumber>) -> Result<bool, Error> {
        match phone {
            Some(phone) => self.issuer.was_denied(phone).await,
            None => Ok(false),
        }
    }

    /// `record` with what happened meanwhile recorded (written only when something changed).
    async fn settled(
        &self,
        id: &str,
        record: ChainRecord,
        now: i64,
        facts: &Facts,
    ) -> Result<ChainRecord, Error> {
        let mut probe = record.clone();
        self.settle(&mut probe, now, facts);
        if probe == record {
            // Nothing to save: no step timed out, nothing new was seen.
            return Ok(record);
        }
        Ok(self
            .records
            .update(id, now, |r| {
                self.settle(r, now, facts);
                Ok(())
            })
            .await?
            .0)
    }

    /// Applies the facts and the step timeouts to an active chain.
    fn settle(&self, r: &mut ChainRecord, now: i64, facts: &Facts) {
        if r.status != Status::Active {
            return;
        }
        if let Some(phone) = &facts.verified {
            r.status = Status::Verified;
            r.phone = Some(phone.clone());
            r.reason = None;
            clear_sent(r);
        } else if facts.risk_denied {
            r.status = Status::Failed;
            r.reason = Some(Reason::RiskDenied);
            clear_sent(r);
        } else {
            while r.status == Status::Active && now < r.deadline {
                let Some((_, timeout)) = self.config.steps.get(r.index) else {
                    break;
                };
                let ends = r.step_started.saturating_add(timeout.as_secs() as i64);
                if now < ends {
                    break;
                }
                self.fall(r, StepOutcome::TimedOut, ends);
            }
        }
    }

    /// The current step ended with `outcome` at `at`: the next step, or the end.
    fn fall(&self, r: &mut ChainRecord, outcome: StepOutcome, at: i64) {
        clear_sent(r);
        r.reason = Some(outcome.into());
        if !self.config.falls_through.contains(&outcome) {
            r.status = Status::Failed;
            return;
        }
        match self.config.steps.get(r.index + 1) {
            Some(_) if r.phone.is_none() => {
                r.status = Status::Failed;
                r.reason = Some(Reason::PhoneNumberRequired);
            }
            Some(_) => {
                r.index += 1;
                r.step_started = at;
            }
            None => {
                r.status = Status::Failed;
                r.reason = Some(Reason::NoMoreSteps);
            }
        }
    }

    /// The chain is live and at `step`: 409 `SESSION_ALREADY_USED` once ended, 410
    /// `CHAIN_EXPIRED` past its deadline, 409 `SESSION_NOT_ELIGIBLE` at another step.
    fn expect(&self, r: &ChainRecord, now: i64, step: ChainStep) -> Result<(), Error> {
        if r.status != Status::Active {
            return Err(FlowError::AlreadyUsed.into());
        }
        expired(r, now)?;
        if self.config.steps.get(r.index).map(|(s, _)| *s) != Some(step) {
            return Err(FlowError::InvalidTransition(
                "the chain is not at this step (replayed, raced or skipped)".into(),
            )
            .into());
        }
        Ok(())
    }

    /// Changes the chain by compare-and-set, after checking again (every round) that it is
    /// live, settled and still at `step`: of two racing advances of one step, one wins.
    async fn update(
        &self,
        id: &str,
        now: i64,
        facts: &Facts,
        step: ChainStep,
        mut change: impl FnMut(&Self, &mut ChainRecord) -> Result<(), Error>,
    ) -> Result<ChainRecord, Error> {
        Ok(self
            .records
            .update(id, now, |r| {
                self.settle(r, now, facts);
                self.expect(r, now, step)?;
                change(self, r)
            })
            .await?
            .0)
    }

    /// Draws one attempt from the budget `key`: the attempts left, or 429
    /// `ATTEMPTS_EXHAUSTED` (nothing counted).
    async fn draw(&self, key: &str) -> Result<u32, Error> {
        let max = self.config.attempts;
        match self
            .store
            .increment(key, u64::from(max), self.config.window)
            .await?
        {
            Some(used) => Ok(max.saturating_sub(u32::try_from(used).unwrap_or(max))),
            None => {
                crate::telemetry::rate_limited("chain");
                Err(FlowError::AttemptsExhausted.into())
            }
        }
    }

    /// The code steps of the chain, with their index.
    fn code_steps(&self) -> impl Iterator<Item = (usize, ChainStep)> + '_ {
        self.config
            .steps
            .iter()
            .enumerate()
            .filter(|(_, (s, _))| s.is_code())
            .map(|(i, (s, _))| (i, *s))
    }

    /// The state answer.
    fn answer(&self, r: &ChainRecord, now: i64, status: StatusCode) -> EndpointResponse {
        let current = self.config.steps.get(r.index).map(|(s, _)| *s);
        let (step, next) = match (r.status, current) {
            (Status::Verified, _) => (Position::Verified, None),
            (Status::Failed, _) | (Status::Active, None) => (Position::Failed, None),
            (Status::Active, Some(step)) => {
                let next = match (step, r.sent, r.auth_url.as_deref()) {
                    (ChainStep::MagicalAuth, _, _) => Next::MagicalAuth {
                        use_case: r.use_case,
                        phone_number: r.phone.as_ref(),
                    },
                    (_, Some(AuthType::Magic), Some(auth_url)) => Next::CarrierCheck { auth_url },
                    (_, Some(_), _) => Next::EnterCode {
                        channels: self
                            .code_steps()
                            .map(|(_, s)| s)
                            .filter(|s| *s != step)
                            .collect(),
                    },
                    (_, None, _) => Next::Send,
                };
                (Position::from(step), Some(next))
            }
        };
        io::json(
            status,
            &StateAnswer {
                step,
                next,
                attempts_left: r.attempts_left,
                expires_in_seconds: if r.status == Status::Active {
                    r.deadline.saturating_sub(now).max(0)
                } else {
                    0
                },
                reason: r.reason,
            },
        )
    }
}

/// 410 `CHAIN_EXPIRED` for an active chain past its deadline.
fn expired(r: &ChainRecord, now: i64) -> Result<(), Error> {
    if r.status == Status::Active && now >= r.deadline {
        return Err(FlowError::ChainExpired.into());
    }
    Ok(())
}

fn clear_sent(r: &mut ChainRecord) {
    r.legacy_id = None;
    r.sent = None;
    r.auth_url = None;
}

/// The store key of a budget (the number never reaches the store).
fn budget_key(key: &str) -> String {
    format!(
        "chain:budget:{}",
        hex::encode(Sha256::digest(key.as_bytes()))
    )
}

/// What a send's answer means for its step: `None` when the step goes on (a code or carrier
/// link is out, or the send was refused for a reason of its own), else the step's outcome — a
/// carrier that is not eligible (said outright, or a carrier check answered with a code
/// channel), or Glide unavailable.
fn send_outcome(step: ChainStep, sent: &Result<Sent, Error>) -> Option<StepOutcome> {
    match sent {
        Ok(sent) if step == ChainStep::Magic && sent.auth_type != AuthType::Magic => {
            Some(StepOutcome::NotEligible)
        }
        Ok(_) => None,
        Err(e) if e.code() == "CARRIER_NOT_ELIGIBLE" => Some(StepOutcome::NotEligible),
        Err(e) if e.http_status() >= 500 => Some(StepOutcome::Unavailable),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_send_ends_its_step_only_when_the_carrier_or_glide_cannot_serve_it() {
        let sent = |auth_type| {
            Ok(Sent {
                id: "v1".to_owned(),
                auth_type,
                auth_url: None,
            })
        };
        let api = |status, code| Err(Error::from(crate::error::ApiError::new(status, code, "x")));
        // A carrier check answered with a code channel: Glide did not honour NO_FALLBACK.
        assert_eq!(
            send_outcome(ChainStep::Magic, &sent(AuthType::Sms)),
            Some(StepOutcome::NotEligible)
        );
        assert_eq!(send_outcome(ChainStep::Magic, &sent(AuthType::Magic)), None);
        // A code step's code went out on its channel.
        assert_eq!(send_outcome(ChainStep::Sms, &sent(AuthType::Sms)), None);
        assert_eq!(send_outcome(ChainStep::Email, &sent(AuthType::Email)), None);
        for step in [ChainStep::Magic, ChainStep::Sms] {
            assert_eq!(
                send_outcome(step, &api(422, "CARRIER_NOT_ELIGIBLE")),
                Some(StepOutcome::NotEligible)
            );
            for status in [500, 502, 503] {
                assert_eq!(
                    send_outcome(step, &api(status, "SERVICE_UNAVAILABLE")),
                    Some(StepOutcome::Unavailable),
                    "{status}"
                );
            }
            // Refused for a reason of its own: the step stays, the error goes to the browser.
            for (status, code) in [(400, "VALIDATION_ERROR"), (429, "RATE_LIMITED"), (499, "X")] {
                assert_eq!(send_outcome(step, &api(status, code)), None, "{status}");
            }
        }
    }

    #[test]
    fn configuration_is_checked() {
        assert!(VerificationChain::default().validate(true).is_ok());
        assert!(VerificationChain::default().validate(false).is_err());
        assert!(VerificationChain::new().validate(true).is_err());
        let twice = VerificationChain::new()
            .step(ChainStep::Sms, Duration::from_secs(60))
            .step(ChainStep::Sms, Duration::from_secs(60));
        assert!(twice.validate(true).is_err());
        let short_window = VerificationChain::new()
            .step(ChainStep::Sms, Duration::from_secs(60))
            .attempts(5, Duration::from_secs(60));
        assert!(short_window.validate(true).is_err());
        let long = VerificationChain::new()
            .step(ChainStep::Sms, Duration::from_secs(60))
            .deadline(MAX_CHAIN_DEADLINE + Duration::from_secs(1));
        assert!(long.validate(true).is_err());
    }

    #[test]
    fn events_and_steps_have_their_wire_names() {
        let event: Event = serde_json::from_str(
            r#"{"event":"step_failed","step":"magical_auth","reason":"not_eligible"}"#,
        )
        .expect("event");
        assert_eq!(event.step(), ChainStep::MagicalAuth);
        assert!(serde_json::from_str::<Event>(r#"{"event":"skip","step":"sms"}"#).is_err());
        for (step, name) in [
            (ChainStep::MagicalAuth, "magical_auth"),
            (ChainStep::Magic, "magic"),
            (ChainStep::Sms, "sms"),
            (ChainStep::Email, "email"),
        ] {
            assert_eq!(
                serde_json::to_value(Position::from(step)).expect("json"),
                name,
                "a state answer names the step as the events do"
            );
            assert_eq!(serde_json::to_value(step).expect("json"), name);
        }
    }
}
