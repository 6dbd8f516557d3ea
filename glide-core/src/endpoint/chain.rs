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
//!   chain started) to call itself `verified`; it moves past the step on the browser's
//!   `step_failed` only when the engine itself saw that attempt end (Glide answered this
//!   browser's prepare, process or status for the chain's number with "not eligible", a failed
//!   or unverified flow, or an outage: [`StepNotes`] writes it into the chain's record), with
//!   the outcome the engine saw; else 409 `SESSION_NOT_ELIGIBLE` and the step runs on to its
//!   timeout, so a browser cannot skip the signals Magical Auth asks (device swap);
//! - the legacy steps send and check through [`MagicCodes`] (cooldowns, per-verification
//!   counts, single use, the SIM-swap check and the risk policy all apply); the verification's
//!   id stays in the chain's record, so no browser can check its codes around the chain;
//! - a verified session only ever comes from [`SessionIssuer`](super::issue::SessionIssuer).
//!
//! Rules enforced here:
//! - one attempt budget per number and client source ([`Store::increment`], one atomic step),
//!   and a higher one per number from every source (rotating addresses does not buy tries; a
//!   draw refused per source takes nothing from it): a start, every send or resend, every
//!   channel switch and every code or token checked draw on them, and a new chain for the same
//!   number within the window continues them; exhausted: 429 `ATTEMPTS_EXHAUSTED`, nothing
//!   asked of Glide; every draw lowers the record's `attempts_left` by compare-and-set, so
//!   racing advances leave it exact;
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
    /// The budget of a number from every source together; `None`: [`TOTAL_PER_SOURCE`] times
    /// `attempts`.
    attempts_total: Option<u32>,
    window: Duration,
}

/// How many sources' budgets a number has in all, unless configured
/// ([`VerificationChain::attempts_total`]).
const TOTAL_PER_SOURCE: u32 = 3;

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
            attempts_total: None,
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

    /// The attempt budget per number from every client source together, over the same window:
    /// a higher ceiling than [`attempts`](Self::attempts) (at least as high), so that rotating
    /// addresses does not give unlimited tries, while one stranger still exhausts only their
    /// own share. Default: three times the per-source budget.
    pub fn attempts_total(mut self, max: u32) -> Self {
        self.attempts_total = Some(max);
        self
    }

    /// The budget of a number from every source.
    fn total(&self) -> u32 {
        self.attempts_total
            .unwrap_or_else(|| self.attempts.saturating_mul(TOTAL_PER_SOURCE))
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
        if self.total() < self.attempts {
            return refuse("a number's total budget must be at least its budget per source");
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
    /// The attempt budget's counter key (the number and the client source).
    budget: String,
    /// The counter key of the number's budget from every source (`None` without a number).
    #[serde(default)]
    total_budget: Option<String>,
    /// The attempts left after the latest draw: only ever lowered within a chain, so that of
    /// racing draws the last one (the lowest) stands.
    attempts_left: u32,
    /// An outcome of the current step that the engine itself saw (what Glide answered this
    /// browser's Magical Auth for the chain's number), and the index of the step it ends: the
    /// only way past Magical Auth short of a session or its timeout.
    #[serde(default)]
    seen: Option<Seen>,
}

/// An outcome of a step, as the engine saw it happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Seen {
    index: usize,
    outcome: StepOutcome,
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

    /// Where the Magical Auth routes note how this chain's Magical Auth ended (`None` for a
    /// chain without that step).
    pub(crate) fn notes(&self) -> Option<StepNotes> {
        Some(StepNotes {
            records: Records::new(self.store.clone()),
            cookie: self.cookie.name.to_string(),
            index: self
                .config
                .steps
                .iter()
                .position(|(s, _)| *s == ChainStep::MagicalAuth)?,
            clock: self.clock.clone(),
        })
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
        let total_budget = phone.as_ref().map(|p| budget_key(p.as_str()));
        let attempts_left = self.draw_budget(&budget, total_budget.as_deref()).await?;
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
            total_budget,
            attempts_left,
            seen: None,
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
                        let outcome = chain.step_outcome(r, step, reason)?;
                        chain.fall(r, outcome, now);
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
                self.draw(&id, &record).await?;
                let record = self
                    .update(&id, now, &facts, step, |_, r| {
                        r.index = to;
                        r.step_started = now;
                        r.reason = Some(Reason::ChannelChosen);
                        clear_sent(r);
                        Ok(())
                    })
                    .await?;
                Ok(self.answer(&record, now, StatusCode::OK))
            }
            Event::Code { code, .. } => {
                let body = VerifyBody {
                    code: Some(code),
                    token: None,
                };
                self.check(request, codes, &id, record, &body).await
            }
            Event::Token { token, .. } => {
                let body = VerifyBody {
                    code: None,
                    token: Some(token),
                };
                self.check(request, codes, &id, record, &body).await
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
        self.draw(id, &record).await?;
        let input = codes.input_for(phone, Some(channel)).await?;
        let sent = codes
            .send(request, input, record.legacy_id.as_deref())
            .await;
        let now = self.now();
        let outcome = send_outcome(step, &sent);
        let record = match (sent, outcome) {
            (_, Some(outcome)) => {
                self.update(id, now, facts, step, |chain, r| {
                    chain.fall(r, outcome, now);
                    Ok(())
                })
                .await?
            }
            (Ok(sent), None) => {
                self.update(id, now, facts, step, |_, r| {
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
    async fn check(
        &self,
        request: &Incoming,
        codes: &MagicCodes,
        id: &str,
        record: ChainRecord,
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
        let left = self.draw(id, &record).await?;
        let (phone, _, checked) = match codes.check(request, &legacy_id, body).await {
            Ok(checked) => checked,
            Err(Error::Request(RequestError::InvalidCode { .. })) => {
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

    /// Draws one attempt for chain `id` and records what is left in its record (lowering it
    /// only: of racing draws the last, lowest, stands, whatever order their writes land in),
    /// also when the budget is spent: the attempts left, or 429 `ATTEMPTS_EXHAUSTED`.
    async fn draw(&self, id: &str, record: &ChainRecord) -> Result<u32, Error> {
        let drawn = self
            .draw_budget(&record.budget, record.total_budget.as_deref())
            .await;
        let left = match &drawn {
            Ok(left) => *left,
            Err(Error::Flow(FlowError::AttemptsExhausted)) => 0,
            Err(_) => return drawn,
        };
        self.records
            .update(id, self.now(), |r| {
                r.attempts_left = r.attempts_left.min(left);
                Ok(())
            })
            .await?;
        drawn
    }

    /// Draws one attempt from the budget of the number and source (`source`), then from the
    /// number's budget from every source (`total`): the attempts left (the lower of the two),
    /// or 429 `ATTEMPTS_EXHAUSTED`. A draw refused per source takes nothing from the total, so
    /// one stranger spends only their own share.
    async fn draw_budget(&self, source: &str, total: Option<&str>) -> Result<u32, Error> {
        let left = self.draw_from(source, self.config.attempts).await?;
        match total {
            Some(total) => Ok(left.min(self.draw_from(total, self.config.total()).await?)),
            None => Ok(left),
        }
    }

    /// Draws one attempt from the counter `key` of `max`.
    async fn draw_from(&self, key: &str, max: u32) -> Result<u32, Error> {
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

    /// The outcome that ends `step` of `r` on a `step_failed` the browser sent saying
    /// `claimed`: for Magical Auth only what the engine itself saw (Glide's answer to this
    /// browser's Magical Auth for the chain's number), never the browser's word; 409
    /// `SESSION_NOT_ELIGIBLE` when it saw nothing. The legacy carrier check is run through the
    /// same code flow as the code steps, with the same checks, so its end is the browser's.
    fn step_outcome(
        &self,
        r: &ChainRecord,
        step: ChainStep,
        claimed: StepOutcome,
    ) -> Result<StepOutcome, Error> {
        if step != ChainStep::MagicalAuth {
            return Ok(claimed);
        }
        r.seen
            .filter(|seen| seen.index == r.index)
            .map(|seen| seen.outcome)
            .ok_or_else(|| {
                FlowError::InvalidTransition(
                    "the server saw no end of this chain's Magical Auth: it ends with a session, \
                     an answer from Glide or its timeout"
                        .into(),
                )
                .into()
            })
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

/// Where the Magical Auth routes write down, in this browser's chain, how its Magical Auth for
/// the chain's number ended without a session, as Glide answered it (a prepare answered
/// `CARRIER_NOT_ELIGIBLE`, a flow that ended failed or not verified, Glide unavailable): what
/// a `step_failed` of the Magical Auth step then moves on (see [`Chain::notes`]).
#[derive(Debug)]
pub(crate) struct StepNotes {
    records: Records<ChainRecord>,
    /// The chain cookie's name.
    cookie: String,
    /// The index of the chain's Magical Auth step.
    index: usize,
    clock: SharedClock,
}

impl StepNotes {
    /// Notes `outcome` of a Magical Auth attempt by `request`'s browser for `phone` and
    /// `use_case` (of a flow prepared at `prepared`, unix seconds; `None`: now) in that
    /// browser's chain, if it has one that is at its Magical Auth step, for that number and use
    /// case, and began before the flow. Never fails the route it is called from: a note that
    /// cannot be written leaves the chain where it was (it then waits for the step's timeout).
    pub(crate) async fn saw(
        &self,
        request: &Incoming,
        use_case: UseCase,
        phone: Option<&PhoneNumber>,
        prepared: Option<i64>,
        outcome: StepOutcome,
    ) {
        let Some(id) = request.cookies.get(&self.cookie).filter(|id| is_id(id)) else {
            return;
        };
        let applies = |r: &ChainRecord| {
            r.status == Status::Active
                && r.index == self.index
                && r.use_case == use_case
                && r.phone.as_ref() == phone
                && prepared.is_none_or(|at| at >= r.created)
        };
        match self.records.load(id).await {
            Ok(Some((record, _))) if applies(&record) => {}
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, "could not read a chain to note a Magical Auth outcome");
                return;
            }
        }
        let noted = self
            .records
            .update(id, self.clock.now().unix_timestamp(), |r| {
                if !applies(r) {
                    return Err(FlowError::InvalidTransition("the chain moved on".into()).into());
                }
                r.seen = Some(Seen {
                    index: self.index,
                    outcome,
                });
                Ok(())
            })
            .await;
        match noted {
            Ok(_) | Err(Error::Flow(FlowError::InvalidTransition(_))) => {}
            Err(e) => tracing::warn!(error = %e, "could not note a Magical Auth outcome"),
        }
    }
}

/// What Glide's refusal of a Magical Auth call (prepare, process) says of the step: a carrier
/// or session not eligible, a verification refused, a session gone, Glide unreachable or
/// failing; `None` for anything else (a refusal of the request itself, by this engine too).
pub(crate) fn magical_outcome(error: &Error) -> Option<StepOutcome> {
    match error {
        Error::Api(api) => match api.code.as_str() {
            "CARRIER_NOT_ELIGIBLE" | "SESSION_NOT_ELIGIBLE" => Some(StepOutcome::NotEligible),
            "INVALID_VERIFICATION" => Some(StepOutcome::Denied),
            "SESSION_EXPIRED" | "SESSION_NOT_FOUND" => Some(StepOutcome::TimedOut),
            _ if api.status >= 500 => Some(StepOutcome::Unavailable),
            _ => None,
        },
        Error::Transport(_) | Error::Decode { .. } => Some(StepOutcome::Unavailable),
        _ => None,
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
        let below_its_share = VerificationChain::new()
            .step(ChainStep::Sms, Duration::from_secs(60))
            .attempts(5, Duration::from_secs(900))
            .attempts_total(4);
        assert!(below_its_share.validate(true).is_err());
        assert!(below_its_share.attempts_total(5).validate(true).is_ok());
        assert_eq!(VerificationChain::default().total(), 30);
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
