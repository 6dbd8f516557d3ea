//! The fault matrix: every sandbox fault kind on every Glide endpoint the middleware calls, and a
//! Redis outage in the middle of a flow (see `tests/tests/faults.rs`, which runs each case on
//! every adapter).
//!
//! One case is one [`Endpoint`] × one [`FaultCase`] in a fresh [`World`] whose engine talks to
//! Glide with a short timeout ([`GLIDE_TIMEOUT`]) and a short cap on `Retry-After` waits
//! ([`RETRY_WAIT_CAP`]); the retry *counts* are the engine's defaults. A case:
//!
//! 1. sets the flow up to the call that will fail (a prepare, a credential, a carrier approval…),
//!    with the access token already cached unless the endpoint is a token endpoint;
//! 2. injects the fault and makes the browser's request;
//! 3. asserts the browser's answer ([`expectation`]): the status, the error code, the body
//!    `{code, message, status}` and nothing else, with the fixed public sentence for 5xx (no
//!    Glide detail), `Retry-After` passed through on 429; no verified-session cookie and `/me`
//!    401 unless the step legitimately succeeds;
//! 4. counts the calls the sandbox received on the faulted path (and on the token endpoint)
//!    during the step: retries only where the retry rules allow them;
//! 5. clears the faults and runs the flow again, fresh, in the same engine: it succeeds
//!    (recovery without a restart).
//!
//! The three calls of the SIM-swap check that precedes a code-based session (the CIBA request,
//! the CIBA token grant, `retrieve-date`) and the device-swap check's `retrieve-date` are
//! reached through a legacy carrier verification; every case runs twice on them: with the
//! default fail-closed check ([`run_case`]: any failure is an opaque 503 and no session) and
//! with fail-open ([`run_case_fail_open`]: the session is issued, the faulted signal
//! `checked: false`, `reason: "check_failed"`). The device-swap check shares the CIBA paths with
//! the SIM-swap one and runs at the same time, so a fault on those paths would hit whichever
//! comes first: the CIBA cases run with the device-swap check off (its CIBA failures are pinned
//! by the scenarios, which fault both requests).

use std::sync::Arc;
use std::time::Duration;

use glide_core::api::{Glide, GlideBuilder, RetryPolicy};
use glide_core::endpoint::{GlideAuth, GlideAuthBuilder, SimSwapFailure};
use glide_sandbox::{Fault, Sandbox, SandboxConfig};
use serde_json::json;

use crate::harness::{
    Adapter, Browser, FaultyStore, Reply, World, ANDROID_UA, DESKTOP_UA, DESKTOP_WAIT, IPHONE_UA,
    NUMBER_VERIFY_CALLBACK, SESSION_COOKIE,
};
use crate::scenarios::legacy::device_token;

/// The engine's timeout for one call to Glide in the fault worlds.
pub const GLIDE_TIMEOUT: Duration = Duration::from_secs(1);
/// A delay fault longer than [`GLIDE_TIMEOUT`]: the call times out.
pub const SLOW: Duration = Duration::from_millis(1600);
/// A delay fault well within [`GLIDE_TIMEOUT`]: the call succeeds.
pub const LATE: Duration = Duration::from_millis(100);
/// The longest `Retry-After` wait of the fault worlds' retry policy (the count of retries is the
/// default, 2).
pub const RETRY_WAIT_CAP: Duration = Duration::from_millis(50);
/// The `Retry-After` the 429 fault carries (seconds); the browser must see it.
pub const RATE_LIMIT_RETRY_AFTER: u64 = 7;

/// The number the faulted flow verifies.
const FAULTED: &str = "+15555550111";
/// The number the recovery flow verifies.
const RECOVERY: &str = "+15555550112";
/// The number of the warm-up call that caches the access token.
const WARM_UP: &str = "+15555550113";

/// The token endpoint of Magical Auth.
pub const TOKEN_PATH: &str = "/oauth2-cc/token";
/// The legacy token endpoint (client credentials, and the CIBA grant).
pub const LEGACY_TOKEN_PATH: &str = "/oauth2/token";
/// The CIBA request of the SIM-swap check.
pub const CIBA_PATH: &str = "/oauth2/backchannel-authentication";

/// The public sentence of a 503 (the engine's fixed text).
pub const UNAVAILABLE_MESSAGE: &str =
    "The verification service is temporarily unavailable. Please try again.";
/// The public sentence of a 502.
pub const BAD_GATEWAY_MESSAGE: &str = "The verification service gave an unexpected answer.";

/// A Glide endpoint the middleware calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// `POST /oauth2-cc/token`, reached through prepare on an engine with no token yet.
    Token,
    /// `POST /magic-auth/v2/auth/prepare`.
    Prepare,
    /// `POST /magic-auth/v2/auth/verify-phone-number` (process, TS43 VerifyPhoneNumber).
    VerifyPhoneNumber,
    /// `POST /magic-auth/v2/auth/get-phone-number` (process, TS43 GetPhoneNumber).
    GetPhoneNumber,
    /// `POST /magic-auth/v2/auth/complete` (Link completion).
    Complete,
    /// `POST /magic-auth/v2/auth/report-invocation`.
    ReportInvocation,
    /// `GET /magic-auth/v2/auth/status/{key}` (exact path of a prepared desktop flow).
    Status,
    /// `POST /oauth2/token`, reached through the legacy start on an engine with no token yet.
    LegacyToken,
    /// `POST /magic-auth/verification/start` (route `magic-auth/start`).
    LegacyStart,
    /// `POST /magic-auth/verification/check` (route `magic-auth/verify`).
    LegacyCheck,
    /// `POST /oauth2/backchannel-authentication`: the CIBA request of the SIM-swap check after
    /// a right legacy verification (route `magic-auth/verify`).
    CibaRequest,
    /// `POST /oauth2/token` with the CIBA grant, in the same check (the client-credentials token
    /// already cached).
    CibaToken,
    /// `POST /sim-swap/retrieve-date`, in the same check (the number's CIBA token already
    /// cached).
    SimSwapRetrieveDate,
    /// `POST /device-swap/v1/retrieve-date`, the device-swap check beside it (the number's
    /// CIBA token for `device-swap` already cached).
    DeviceSwapRetrieveDate,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 14] = [
        Self::Token,
        Self::Prepare,
        Self::VerifyPhoneNumber,
        Self::GetPhoneNumber,
        Self::Complete,
        Self::ReportInvocation,
        Self::Status,
        Self::LegacyToken,
        Self::LegacyStart,
        Self::LegacyCheck,
        Self::CibaRequest,
        Self::CibaToken,
        Self::SimSwapRetrieveDate,
        Self::DeviceSwapRetrieveDate,
    ];

    /// The sandbox path, `key` being the flow's session key (for [`Endpoint::Status`]).
    pub fn path(self, key: &str) -> String {
        match self {
            Self::Token => TOKEN_PATH.to_owned(),
            Self::Prepare => "/magic-auth/v2/auth/prepare".to_owned(),
            Self::VerifyPhoneNumber => "/magic-auth/v2/auth/verify-phone-number".to_owned(),
            Self::GetPhoneNumber => "/magic-auth/v2/auth/get-phone-number".to_owned(),
            Self::Complete => "/magic-auth/v2/auth/complete".to_owned(),
            Self::ReportInvocation => "/magic-auth/v2/auth/report-invocation".to_owned(),
            Self::Status => format!("/magic-auth/v2/auth/status/{key}"),
            Self::LegacyToken => LEGACY_TOKEN_PATH.to_owned(),
            Self::LegacyStart => "/magic-auth/verification/start".to_owned(),
            Self::LegacyCheck => "/magic-auth/verification/check".to_owned(),
            Self::CibaRequest => CIBA_PATH.to_owned(),
            Self::CibaToken => LEGACY_TOKEN_PATH.to_owned(),
            Self::SimSwapRetrieveDate => "/sim-swap/retrieve-date".to_owned(),
            Self::DeviceSwapRetrieveDate => "/device-swap/v1/retrieve-date".to_owned(),
        }
    }

    /// Whether the legacy client (no `503` retries, token at `/oauth2/token`) makes the call.
    pub fn is_legacy(self) -> bool {
        matches!(
            self,
            Self::LegacyToken | Self::LegacyStart | Self::LegacyCheck
        ) || self.is_sim_swap_check()
    }

    /// Whether the endpoint is a token endpoint (the CIBA request and grant are: their calls are
    /// the faulted path's).
    pub fn is_token(self) -> bool {
        matches!(
            self,
            Self::Token | Self::LegacyToken | Self::CibaRequest | Self::CibaToken
        )
    }

    /// Whether the call belongs to the swap checks (SIM and device) before a code-based
    /// session.
    pub fn is_sim_swap_check(self) -> bool {
        matches!(
            self,
            Self::CibaRequest
                | Self::CibaToken
                | Self::SimSwapRetrieveDate
                | Self::DeviceSwapRetrieveDate
        )
    }

    /// The signal a fault on the call leaves unchecked under fail-open.
    pub fn signal(self) -> &'static str {
        match self {
            Self::DeviceSwapRetrieveDate => "device_swap",
            _ => "sim_swap",
        }
    }

    /// The token endpoint of the client making the call.
    pub fn token_path(self) -> &'static str {
        if self.is_legacy() {
            LEGACY_TOKEN_PATH
        } else {
            TOKEN_PATH
        }
    }
}

/// One way a Glide call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultCase {
    /// 500, once.
    Status500,
    /// 503 with `Retry-After: 1`, once: retried transparently by the Magical Auth client.
    Unavailable503Once,
    /// 503 with `Retry-After: 1`, five times: more than the retries allow.
    Unavailable503Persisting,
    /// 503 without `Retry-After`, five times: never retried.
    Unavailable503WithoutRetryAfter,
    /// 429 with `Retry-After`: passed through, not retried.
    RateLimited429,
    /// 401 once on an API path: the token is refreshed once and the call sent again.
    Unauthorized401,
    /// A delay beyond the engine's timeout ([`SLOW`]).
    DelayBeyondTimeout,
    /// A short delay ([`LATE`]): the call succeeds.
    DelayWithinTimeout,
    /// 200 with a body that is not JSON.
    Malformed,
    /// The connection closes without a complete answer.
    Drop,
}

impl FaultCase {
    /// Every case.
    pub const ALL: [FaultCase; 10] = [
        Self::Status500,
        Self::Unavailable503Once,
        Self::Unavailable503Persisting,
        Self::Unavailable503WithoutRetryAfter,
        Self::RateLimited429,
        Self::Unauthorized401,
        Self::DelayBeyondTimeout,
        Self::DelayWithinTimeout,
        Self::Malformed,
        Self::Drop,
    ];

    /// The sandbox fault on `path`.
    pub fn fault(self, path: &str) -> Fault {
        match self {
            Self::Status500 => Fault::status(path, 500),
            Self::Unavailable503Once => Fault::status(path, 503).with_retry_after(1),
            Self::Unavailable503Persisting => Fault::status(path, 503).with_retry_after(1).times(5),
            Self::Unavailable503WithoutRetryAfter => Fault::status(path, 503).times(5),
            Self::RateLimited429 => {
                Fault::status(path, 429).with_retry_after(RATE_LIMIT_RETRY_AFTER)
            }
            Self::Unauthorized401 => Fault::status(path, 401),
            Self::DelayBeyondTimeout => Fault::delay(path, SLOW),
            Self::DelayWithinTimeout => Fault::delay(path, LATE),
            Self::Malformed => Fault::malformed(path),
            Self::Drop => Fault::drop_connection(path),
        }
    }
}

/// What the browser gets for one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The step succeeds (the route's own success answer).
    Success,
    /// An error answer.
    Error {
        /// HTTP status.
        status: u16,
        /// The error code.
        code: &'static str,
        /// The `Retry-After` header the browser must see.
        retry_after: Option<u64>,
    },
}

/// The expected result of one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expectation {
    /// What the browser gets.
    pub outcome: Outcome,
    /// How many requests the sandbox receives on the faulted path during the step.
    pub calls: usize,
    /// How many extra requests the token endpoint receives during the step (the refresh after a
    /// 401); not counted for token endpoints, whose calls are `calls`.
    pub token_refreshes: usize,
}

const UNAVAILABLE: Outcome = Outcome::Error {
    status: 503,
    code: "SERVICE_UNAVAILABLE",
    retry_after: None,
};
const BAD_GATEWAY: Outcome = Outcome::Error {
    status: 502,
    code: "BAD_GATEWAY",
    retry_after: None,
};
const RATE_LIMITED: Outcome = Outcome::Error {
    status: 429,
    code: "RATE_LIMIT_EXCEEDED",
    retry_after: Some(RATE_LIMIT_RETRY_AFTER),
};

/// The retry rules as a table: what `case` on `endpoint` must give. `None` when the case does
/// not apply (a 401 on a token endpoint is not an expired token).
///
/// - The Magical Auth client retries a 503 carrying `Retry-After` at most twice (3 calls in
///   all), refreshes the token once after a 401, and retries nothing else (500, 503 without
///   `Retry-After`, 429, timeouts, malformed answers, dropped connections: one call).
/// - The legacy client retries a 503 carrying `Retry-After` the same way, and refreshes the
///   token after a 401.
/// - Glide 5xx and transport failures answer 503 `SERVICE_UNAVAILABLE`; malformed answers 502
///   `BAD_GATEWAY`; Glide's 429 is passed through with its `Retry-After`.
/// - `report-invocation` answers 200 `{"success":true}` whatever Glide does.
/// - An answer the client cannot read is not a success, on `complete` too (Glide answers
///   `200 {"status":"completed"}` or `204`; a 200 whose body is not JSON is a 502).
pub fn expectation(endpoint: Endpoint, case: FaultCase) -> Option<Expectation> {
    expectation_with(endpoint, case, SimSwapFailure::Closed)
}

/// [`expectation`] for an engine whose SIM-swap check fails as `on_failure` says. On the
/// check's calls (the retry rules of the legacy client apply to them as to any legacy call):
///
/// - every failure of the check, a 429 and a malformed answer included, is an opaque 503
///   `SERVICE_UNAVAILABLE` under fail-closed and a success (a session whose signal says
///   `check_failed`) under fail-open;
/// - a 401 on the CIBA request or grant is a refused token: a failure (one call); a 401 on
///   `retrieve-date` drops the subscriber token and runs CIBA again once (one more grant).
pub fn expectation_with(
    endpoint: Endpoint,
    case: FaultCase,
    on_failure: SimSwapFailure,
) -> Option<Expectation> {
    let once = |outcome| Expectation {
        outcome,
        calls: 1,
        token_refreshes: 0,
    };
    let expectation = match case {
        FaultCase::Status500
        | FaultCase::Unavailable503WithoutRetryAfter
        | FaultCase::DelayBeyondTimeout
        | FaultCase::Drop => once(UNAVAILABLE),
        FaultCase::Unavailable503Once => Expectation {
            outcome: Outcome::Success,
            calls: 2,
            token_refreshes: 0,
        },
        FaultCase::Unavailable503Persisting => Expectation {
            outcome: UNAVAILABLE,
            calls: 3,
            token_refreshes: 0,
        },
        FaultCase::RateLimited429 => once(RATE_LIMITED),
        FaultCase::Unauthorized401 if endpoint.is_sim_swap_check() && endpoint.is_token() => {
            once(UNAVAILABLE)
        }
        FaultCase::Unauthorized401 if endpoint.is_token() => return None,
        FaultCase::Unauthorized401 => Expectation {
            outcome: Outcome::Success,
            calls: 2,
            token_refreshes: 1,
        },
        FaultCase::DelayWithinTimeout => once(Outcome::Success),
        FaultCase::Malformed => once(BAD_GATEWAY),
    };
    Some(match endpoint {
        Endpoint::ReportInvocation => Expectation {
            outcome: Outcome::Success,
            ..expectation
        },
        endpoint if endpoint.is_sim_swap_check() => match (expectation.outcome, on_failure) {
            (Outcome::Success, _) => expectation,
            (Outcome::Error { .. }, SimSwapFailure::Open) => Expectation {
                outcome: Outcome::Success,
                ..expectation
            },
            (Outcome::Error { .. }, _) => Expectation {
                outcome: UNAVAILABLE,
                ..expectation
            },
        },
        _ => expectation,
    })
}

/// Starts a sandbox and an app on `adapter` whose engine talks to the sandbox with
/// [`GLIDE_TIMEOUT`] and [`RETRY_WAIT_CAP`]; `configure` sees the builder after the defaults
/// (insecure dev cookies, the world's [`FaultyStore`], the Number Verify callback URL).
pub async fn start_world(
    adapter: &'static dyn Adapter,
    configure: impl FnOnce(GlideAuthBuilder) -> GlideAuthBuilder,
) -> World {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the app's listener");
    let app_url = format!(
        "http://{}",
        listener.local_addr().expect("the app's address")
    );
    let config = SandboxConfig::default()
        .with_desktop_wait(DESKTOP_WAIT)
        .with_slow_carrier_delay(Duration::from_millis(300))
        .with_completion_redirect_url(format!("{app_url}/glide-complete"))
        .with_number_verify_redirect_url(format!("{app_url}{NUMBER_VERIFY_CALLBACK}"));
    let sandbox = Sandbox::start(config).await.expect("start the sandbox");
    let glide = fault_client(&sandbox).build().expect("Glide client");
    let store = FaultyStore::default();
    let builder = GlideAuth::builder(glide)
        .insecure_dev_cookies(true)
        .shared_store(Arc::new(store.clone()))
        .busy_wait(Duration::from_secs(5))
        .number_verify_callback_url(format!("{app_url}{NUMBER_VERIFY_CALLBACK}"));
    let auth = configure(builder).build().expect("GlideAuth");
    let app = adapter.serve(auth.clone(), listener).await;
    World {
        adapter: adapter.name(),
        adapter_impl: adapter,
        sandbox,
        browser: Browser::new(&app_url, DESKTOP_UA),
        other: Browser::new(&app_url, DESKTOP_UA),
        app,
        store,
        auth,
    }
}

/// The Glide client builder of the fault worlds: the sandbox's credentials, [`GLIDE_TIMEOUT`],
/// the default retry count with waits capped at [`RETRY_WAIT_CAP`].
pub fn fault_client(sandbox: &Sandbox) -> GlideBuilder {
    let config = SandboxConfig::default();
    Glide::builder(config.client_id, config.client_secret)
        .base_url(sandbox.base_url())
        .timeout(GLIDE_TIMEOUT)
        .retry_policy(RetryPolicy::new().max_wait(RETRY_WAIT_CAP))
}

/// How many requests the sandbox has received on `path`.
pub fn calls(w: &World, path: &str) -> usize {
    w.sandbox
        .control()
        .requests()
        .iter()
        .filter(|r| r.path == path)
        .count()
}

/// Asserts an error body is exactly `{code, message, status}` and, for 5xx, carries the fixed
/// public sentence and nothing of Glide's answer or of the inside.
#[track_caller]
pub fn assert_opaque_error(w: &World, reply: &Reply, status: u16, code: &str, what: &str) {
    let body = reply.assert_error(status, code, &w.ctx(what));
    let keys: Vec<&str> = body
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        ["code", "message", "status"],
        "{}: the error body has exactly code, message, status: {body}",
        w.ctx(what)
    );
    if status >= 500 {
        let expected = if status == 502 {
            BAD_GATEWAY_MESSAGE
        } else {
            UNAVAILABLE_MESSAGE
        };
        assert_eq!(
            body["message"],
            expected,
            "{}: a 5xx carries the fixed sentence only",
            w.ctx(what)
        );
        let text = reply.text();
        let port = w.sandbox.addr().port().to_string();
        for leak in [
            "sandbox",
            "127.0.0.1",
            "injected",
            "Internal server error",
            "Bad Gateway",
            "magic-auth",
            "oauth2",
            port.as_str(),
        ] {
            assert!(
                !text.contains(leak),
                "{}: 5xx body mentions {leak:?}: {text}",
                w.ctx(what)
            );
        }
    }
}

/// Asserts `reply` issued no verified session, and that `browser` has none.
pub async fn assert_no_session(w: &World, browser: &Browser, reply: &Reply, what: &str) {
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}: no verified-session cookie may be issued: {:?}",
        w.ctx(what),
        reply.set_cookies()
    );
    w.me(browser)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx(&format!("/me after {what}")));
}

/// Asserts a verified session was issued for `phone` and `/me` shows it.
pub async fn assert_session(w: &World, browser: &Browser, reply: &Reply, phone: &str, what: &str) {
    reply.assert_status(200, &w.ctx(what));
    let cookie = reply.set_cookie(SESSION_COOKIE).unwrap_or_else(|| {
        panic!(
            "{}: no verified-session cookie: {:?}",
            w.ctx(what),
            reply.set_cookies()
        )
    });
    assert!(!cookie.is_removal(), "{}: {}", w.ctx(what), cookie.raw);
    let me = w.me(browser).await;
    me.assert_status(200, &w.ctx(&format!("/me after {what}")));
    assert_eq!(
        me.json()["phone_number"],
        phone,
        "{}: /me {}",
        w.ctx(what),
        me.text()
    );
}

/// The state a case builds before the faulted call.
enum Setup {
    /// Nothing (the call is the prepare).
    None,
    /// A TS43 flow with its wallet credential.
    Ts43 {
        prepared: crate::harness::Prepared,
        credential: String,
    },
    /// A Link flow approved on the carrier page.
    Link {
        prepared: crate::harness::Prepared,
        agg_code: String,
    },
    /// A prepared flow (report-invocation, status).
    Prepared(crate::harness::Prepared),
    /// A legacy Magic Auth verification started, with the carrier token.
    LegacyStarted { token: String },
}

/// A TS43 flow up to its credential: VerifyPhoneNumber for `phone`, GetPhoneNumber without.
async fn ts43_prepared(
    w: &World,
    browser: &Browser,
    phone: Option<&str>,
) -> (crate::harness::Prepared, String) {
    let prepared = w.prepare(browser, ANDROID_UA, phone).await;
    assert_eq!(prepared.strategy, "ts43", "{}", w.ctx("strategy"));
    let credential = w.ts43_credential(&prepared.session_key, None);
    (prepared, credential)
}

/// [`ts43_prepared`] as a [`Setup`].
async fn ts43_flow(w: &World, browser: &Browser, phone: Option<&str>) -> Setup {
    let (prepared, credential) = ts43_prepared(w, browser, phone).await;
    Setup::Ts43 {
        prepared,
        credential,
    }
}

/// `POST magic-auth/start` for `phone`.
async fn legacy_start(browser: &Browser, phone: &str) -> Reply {
    browser
        .post(
            &World::route("magic-auth/start"),
            &json!({ "phone_number": phone }),
        )
        .await
}

/// A legacy Magic Auth start that must succeed; returns the carrier token of its `auth_url`.
async fn legacy_started(w: &World, browser: &Browser, phone: &str) -> String {
    let reply = legacy_start(browser, phone).await;
    legacy_token_of(w, &reply).await
}

/// The carrier token behind a successful start's `auth_url`.
async fn legacy_token_of(w: &World, reply: &Reply) -> String {
    reply.assert_status(200, &w.ctx("magic-auth/start"));
    let body = reply.json();
    assert_eq!(
        body["type"],
        "MAGIC",
        "{}: {body}",
        w.ctx("magic-auth/start")
    );
    let auth_url = body["auth_url"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no auth_url: {body}", w.ctx("magic-auth/start")));
    device_token(w, auth_url).await
}

/// `POST magic-auth/verify` with the carrier token.
async fn legacy_verify(browser: &Browser, token: &str) -> Reply {
    browser
        .post(
            &World::route("magic-auth/verify"),
            &json!({ "token": token }),
        )
        .await
}

/// Builds the state before the faulted call; caches the access token of the client that will
/// make it (except for token endpoints).
async fn set_up(w: &World, endpoint: Endpoint) -> Setup {
    let b = &w.browser;
    match endpoint {
        Endpoint::Token | Endpoint::LegacyToken => Setup::None,
        Endpoint::Prepare => {
            w.prepare(&w.other, ANDROID_UA, Some(WARM_UP)).await;
            Setup::None
        }
        Endpoint::VerifyPhoneNumber => ts43_flow(w, b, Some(FAULTED)).await,
        Endpoint::GetPhoneNumber => ts43_flow(w, b, None).await,
        Endpoint::Complete => {
            let prepared = w.prepare(b, IPHONE_UA, Some(FAULTED)).await;
            assert_eq!(prepared.strategy, "link", "{}", w.ctx("strategy"));
            let (agg_code, _) = w.link_approve(&prepared.session_key);
            Setup::Link { prepared, agg_code }
        }
        Endpoint::ReportInvocation => ts43_flow(w, b, Some(FAULTED)).await,
        Endpoint::Status => {
            let prepared = w.prepare(b, DESKTOP_UA, Some(FAULTED)).await;
            assert_eq!(prepared.strategy, "desktop", "{}", w.ctx("strategy"));
            Setup::Prepared(prepared)
        }
        Endpoint::LegacyStart => {
            legacy_started(w, &w.other, WARM_UP).await;
            Setup::None
        }
        Endpoint::LegacyCheck
        | Endpoint::SimSwapRetrieveDate
        | Endpoint::DeviceSwapRetrieveDate => {
            // The number's SIM-swap token is cached, so that the step's only calls to the token
            // endpoint are the ones the case makes.
            // The warm-up asks for no fallback: one send per number and channel per cooldown,
            // so the case's own start below (SMS fallback) is not refused as a resend.
            let warm_start = w
                .other
                .post(
                    &World::route("magic-auth/start"),
                    &json!({ "phone_number": FAULTED, "fallback_channel": "NO_FALLBACK" }),
                )
                .await;
            let warm = legacy_token_of(w, &warm_start).await;
            legacy_verify(&w.other, &warm)
                .await
                .assert_status(200, &w.ctx("warm-up verification"));
            Setup::LegacyStarted {
                token: legacy_started(w, b, FAULTED).await,
            }
        }
        Endpoint::CibaRequest | Endpoint::CibaToken => Setup::LegacyStarted {
            token: legacy_started(w, b, FAULTED).await,
        },
    }
}

/// The session key of the flow set up, if any.
fn session_key(setup: &Setup) -> &str {
    match setup {
        Setup::Ts43 { prepared, .. } | Setup::Link { prepared, .. } | Setup::Prepared(prepared) => {
            &prepared.session_key
        }
        Setup::None | Setup::LegacyStarted { .. } => "",
    }
}

/// The browser's request that makes the faulted call.
async fn step(w: &World, endpoint: Endpoint, setup: &Setup) -> Reply {
    let b = &w.browser;
    match (endpoint, setup) {
        (Endpoint::Token | Endpoint::Prepare, _) => {
            b.set_user_agent(ANDROID_UA);
            w.prepare_raw(b, &World::prepare_body(ANDROID_UA, Some(FAULTED)))
                .await
        }
        (
            Endpoint::VerifyPhoneNumber | Endpoint::GetPhoneNumber,
            Setup::Ts43 {
                prepared,
                credential,
            },
        ) => w.process(b, prepared, credential).await,
        (Endpoint::Complete, Setup::Link { prepared, agg_code }) => {
            w.complete(b, agg_code, &prepared.session_key, Some(IPHONE_UA))
                .await
        }
        (Endpoint::ReportInvocation, Setup::Ts43 { prepared, .. }) => {
            b.post(
                &World::route("report-invocation"),
                &json!({ "session_id": prepared.session_key }),
            )
            .await
        }
        (Endpoint::Status, Setup::Prepared(prepared)) => {
            b.get(&World::route(&format!("status/{}", prepared.session_key)))
                .await
        }
        (Endpoint::LegacyToken | Endpoint::LegacyStart, _) => legacy_start(b, FAULTED).await,
        (
            Endpoint::LegacyCheck
            | Endpoint::CibaRequest
            | Endpoint::CibaToken
            | Endpoint::SimSwapRetrieveDate
            | Endpoint::DeviceSwapRetrieveDate,
            Setup::LegacyStarted { token },
        ) => legacy_verify(b, token).await,
        (endpoint, _) => unreachable!("no set-up for {endpoint:?}"),
    }
}

/// After a successful step: the step's own success answer, and the flow it belongs to finishes
/// (a verified session where the flow issues one).
async fn finish_success(
    w: &World,
    endpoint: Endpoint,
    setup: &Setup,
    reply: &Reply,
    checked: bool,
) {
    let b = &w.browser;
    let what = format!("{endpoint:?} after a transparent fault");
    match (endpoint, setup) {
        (Endpoint::Token | Endpoint::Prepare, _) => {
            reply.assert_status(200, &w.ctx(&what));
            assert!(
                reply.set_cookie(SESSION_COOKIE).is_none(),
                "{}: prepare issues no session",
                w.ctx(&what)
            );
            let body = reply.json();
            let prepared = crate::harness::Prepared {
                reply: reply.clone(),
                session_key: body["session"]["session_key"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{}: no session key: {body}", w.ctx(&what)))
                    .to_owned(),
                strategy: body["authentication_strategy"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                body,
            };
            let credential = w.ts43_credential(&prepared.session_key, None);
            let processed = w.process(b, &prepared, &credential).await;
            assert_session(w, b, &processed, FAULTED, "process of that flow").await;
        }
        (Endpoint::VerifyPhoneNumber, _) => assert_session(w, b, reply, FAULTED, &what).await,
        (Endpoint::GetPhoneNumber, _) => {
            let phone = reply.json()["phone_number"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert!(phone.starts_with('+'), "{}: {}", w.ctx(&what), reply.text());
            assert_session(w, b, reply, &phone, &what).await;
        }
        (Endpoint::Complete, Setup::Link { prepared, .. }) => {
            reply.assert_status(204, &w.ctx(&what));
            assert_no_session(w, b, reply, &what).await;
            let processed = w.process(b, prepared, &prepared.session_key).await;
            assert_session(w, b, &processed, FAULTED, "process after complete").await;
        }
        (Endpoint::ReportInvocation, Setup::Ts43 { .. }) => {
            // Checked by the caller (every case of report-invocation succeeds).
        }
        (Endpoint::Status, Setup::Prepared(prepared)) => {
            reply.assert_status(200, &w.ctx(&what));
            let body = reply.json();
            assert_eq!(
                body["session_key"],
                prepared.session_key,
                "{}: {body}",
                w.ctx(&what)
            );
            assert!(body["status"].is_string(), "{}: {body}", w.ctx(&what));
            assert_no_session(w, b, reply, &what).await;
        }
        (Endpoint::LegacyToken | Endpoint::LegacyStart, _) => {
            let token = legacy_token_of(w, reply).await;
            assert_no_session(w, b, reply, &what).await;
            let verified = legacy_verify(b, &token).await;
            assert_session(w, b, &verified, FAULTED, "legacy verify of that start").await;
        }
        (Endpoint::LegacyCheck, _) => assert_session(w, b, reply, FAULTED, &what).await,
        (endpoint, _) if endpoint.is_sim_swap_check() => {
            assert_session(w, b, reply, FAULTED, &what).await;
            let me = w.me(b).await.json();
            let signal = &me[endpoint.signal()];
            if checked {
                assert_eq!(signal["checked"], true, "{}: {me}", w.ctx(&what));
                assert_eq!(
                    signal["risk_level"],
                    "RISK_LEVEL_LOW",
                    "{}: {me}",
                    w.ctx(&what)
                );
            } else {
                assert_eq!(signal["checked"], false, "{}: {me}", w.ctx(&what));
                assert_eq!(signal["reason"], "check_failed", "{}: {me}", w.ctx(&what));
            }
        }
        (endpoint, _) => unreachable!("no set-up for {endpoint:?}"),
    }
}

/// After the faults are cleared: the same kind of flow, from a fresh start where needed,
/// succeeds in the same engine.
async fn recover(w: &World, endpoint: Endpoint, setup: &Setup) {
    let b = &w.browser;
    match (endpoint, setup) {
        (Endpoint::Status, Setup::Prepared(prepared)) => {
            let reply = b
                .get(&World::route(&format!("status/{}", prepared.session_key)))
                .await;
            reply.assert_status(200, &w.ctx("status after the faults are cleared"));
        }
        (
            Endpoint::ReportInvocation,
            Setup::Ts43 {
                prepared,
                credential,
            },
        ) => {
            // The page was not failed: the same flow goes on to a verified session.
            let processed = w.process(b, prepared, credential).await;
            assert_session(w, b, &processed, FAULTED, "process after report-invocation").await;
        }
        (Endpoint::Complete, _) => {
            let prepared = w.prepare(b, IPHONE_UA, Some(RECOVERY)).await;
            let (agg_code, key) = w.link_approve(&prepared.session_key);
            w.complete(b, &agg_code, &key, Some(IPHONE_UA))
                .await
                .assert_status(204, &w.ctx("complete after the faults are cleared"));
            let processed = w.process(b, &prepared, &key).await;
            assert_session(w, b, &processed, RECOVERY, "recovery").await;
        }
        (Endpoint::GetPhoneNumber, _) => {
            let (prepared, credential) = ts43_prepared(w, b, None).await;
            let processed = w.process(b, &prepared, &credential).await;
            processed.assert_status(200, &w.ctx("recovery"));
            let phone = processed.json()["phone_number"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert_session(w, b, &processed, &phone, "recovery").await;
        }
        (endpoint, _) if endpoint.is_legacy() => {
            let token = legacy_started(w, b, RECOVERY).await;
            let verified = legacy_verify(b, &token).await;
            assert_session(w, b, &verified, RECOVERY, "recovery").await;
        }
        _ => {
            let (prepared, credential) = ts43_prepared(w, b, Some(RECOVERY)).await;
            let processed = w.process(b, &prepared, &credential).await;
            assert_session(w, b, &processed, RECOVERY, "recovery").await;
        }
    }
}

/// Runs one case on `adapter` (see the module's documentation). Panics naming the adapter, the
/// endpoint and the case when the engine misbehaves; panics too when the case does not apply
/// ([`expectation`] is `None`).
pub async fn run_case(adapter: &'static dyn Adapter, endpoint: Endpoint, case: FaultCase) {
    run(adapter, endpoint, case, SimSwapFailure::Closed).await;
}

/// [`run_case`] on an engine whose SIM-swap check fails open: on the check's calls, a failure
/// issues the session with `sim_swap: {checked: false, reason: "check_failed"}`.
pub async fn run_case_fail_open(
    adapter: &'static dyn Adapter,
    endpoint: Endpoint,
    case: FaultCase,
) {
    run(adapter, endpoint, case, SimSwapFailure::Open).await;
}

async fn run(
    adapter: &'static dyn Adapter,
    endpoint: Endpoint,
    case: FaultCase,
    on_failure: SimSwapFailure,
) {
    let expected = expectation_with(endpoint, case, on_failure)
        .unwrap_or_else(|| panic!("{case:?} does not apply to {endpoint:?}"));
    let fails_closed = expectation_with(endpoint, case, SimSwapFailure::Closed)
        .is_some_and(|e| e.outcome != Outcome::Success);
    let w = start_world(adapter, |b| {
        let b = b.sim_swap_on_failure(on_failure);
        // The CIBA paths are the device-swap check's too (see the module's documentation).
        if matches!(endpoint, Endpoint::CibaRequest | Endpoint::CibaToken) {
            b.device_swap_check(false)
        } else {
            b
        }
    })
    .await;
    let setup = set_up(&w, endpoint).await;
    let path = endpoint.path(session_key(&setup));
    let token_path = endpoint.token_path();
    let what = format!("{endpoint:?} × {case:?} ({on_failure:?})");

    let before = (calls(&w, &path), calls(&w, token_path));
    w.sandbox.control().add_fault(case.fault(&path));
    let reply = step(&w, endpoint, &setup).await;
    let after = (calls(&w, &path), calls(&w, token_path));
    w.sandbox.control().clear_faults();

    assert_eq!(
        after.0 - before.0,
        expected.calls,
        "{}: calls to {path} (retry rules)",
        w.ctx(&what)
    );
    if !endpoint.is_token() {
        assert_eq!(
            after.1 - before.1,
            expected.token_refreshes,
            "{}: calls to {token_path}",
            w.ctx(&what)
        );
    }

    match expected.outcome {
        Outcome::Error {
            status,
            code,
            retry_after,
        } => {
            assert_opaque_error(&w, &reply, status, code, &what);
            let header = reply.header("retry-after").map(|v| {
                v.parse::<u64>()
                    .unwrap_or_else(|_| panic!("Retry-After {v:?}"))
            });
            match retry_after {
                Some(seconds) => assert_eq!(
                    header,
                    Some(seconds),
                    "{}: Glide's Retry-After is passed through",
                    w.ctx(&what)
                ),
                // A 503 may carry Glide's own Retry-After; other errors carry none.
                None if status == 503 => {}
                None => assert_eq!(header, None, "{}: Retry-After", w.ctx(&what)),
            }
            if matches!(
                endpoint,
                Endpoint::Token | Endpoint::Prepare | Endpoint::LegacyToken | Endpoint::LegacyStart
            ) {
                assert!(
                    reply.set_cookies().is_empty(),
                    "{}: a failed start sets no cookie: {:?}",
                    w.ctx(&what),
                    reply.set_cookies()
                );
            }
            assert_no_session(&w, &w.browser, &reply, &what).await;
        }
        Outcome::Success if endpoint == Endpoint::ReportInvocation => {
            reply.assert_status(200, &w.ctx(&what));
            assert_eq!(reply.json(), json!({ "success": true }), "{}", w.ctx(&what));
            assert_no_session(&w, &w.browser, &reply, &what).await;
        }
        Outcome::Success => {
            let checked = !(fails_closed && on_failure == SimSwapFailure::Open);
            finish_success(&w, endpoint, &setup, &reply, checked).await;
        }
    }

    recover(&w, endpoint, &setup).await;
}

/// How long Redis may take to be usable again after a restart (the store reconnects on its
/// next command, the pub/sub listener with a backoff of at most 2 s).
pub const REDIS_RECOVERY: Duration = Duration::from_secs(10);

/// Sends the request `send` makes until it answers something else than 503 (Redis coming
/// back), at most for [`REDIS_RECOVERY`]; returns that answer.
async fn first_answer_after_recovery<F, Fut>(w: &World, what: &str, mut send: F) -> Reply
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    let deadline = tokio::time::Instant::now() + REDIS_RECOVERY;
    loop {
        let reply = send().await;
        if reply.status != 503 {
            return reply;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}: still 503 {REDIS_RECOVERY:?} after Redis came back: {}",
            w.ctx(what),
            reply.text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Redis stopped and restarted in the middle of a flow, on an engine with `RedisStore` and
/// `RedisEvents` (returns early, after `SKIPPED: …`, without `redis-server`; see
/// [`RedisServer::start`](crate::redis_server::RedisServer::start)).
///
/// What is asserted:
///
/// 1. Before the outage a whole verification works through Redis (session A, another browser).
/// 2. Redis stops after prepare: process answers 503 `SERVICE_UNAVAILABLE`, opaque, without a
///    session cookie; `/me` without a session is 401; `/me` with session A is an opaque 503
///    (neither let in nor logged out); a new prepare is an opaque 503 without cookies.
/// 3. Redis restarts, **empty** (the test server has no persistence, like a cache-only Redis):
///    the same engine, not rebuilt, serves again. The flow prepared before the outage is gone:
///    its process answers 404 `SESSION_NOT_FOUND` and issues no session; session A is gone too
///    (`/me` 401). Nothing is let in on lost data; the user starts again:
/// 4. a new flow (prepare, credential, process) gives a verified session and `/me` 200.
pub async fn redis_outage_mid_flow(adapter: &'static dyn Adapter) {
    use glide_core::events::RedisEvents;
    use glide_core::store::{RedisStore, RedisTimeouts};

    let Some(mut redis) = crate::redis_server::RedisServer::start() else {
        return;
    };
    let store = RedisStore::connect_with_timeouts(
        &redis.url(),
        RedisTimeouts::both(Duration::from_millis(500)),
    )
    .await
    .expect("connect the Redis store");
    let events = RedisEvents::connect(&redis.url())
        .await
        .expect("connect Redis events");
    let w = start_world(adapter, |b| b.store(store).events(events.clone())).await;
    let (b, other) = (&w.browser, &w.other);

    // 1. Before the outage.
    let (prepared, credential) = ts43_prepared(&w, other, Some(WARM_UP)).await;
    let reply = w.process(other, &prepared, &credential).await;
    assert_session(&w, other, &reply, WARM_UP, "process before the outage").await;

    // 2. The outage, after prepare.
    let (prepared, credential) = ts43_prepared(&w, b, Some(FAULTED)).await;
    redis.stop();
    let what = "process while Redis is down";
    let reply = w.process(b, &prepared, &credential).await;
    assert_opaque_error(&w, &reply, 503, "SERVICE_UNAVAILABLE", what);
    assert_no_session(&w, b, &reply, what).await;
    let me = w.me(other).await;
    assert_opaque_error(
        &w,
        &me,
        503,
        "SERVICE_UNAVAILABLE",
        "/me with a session while Redis is down",
    );
    assert!(
        me.set_cookie(SESSION_COOKIE).is_none(),
        "{}: an outage does not log out: {:?}",
        w.ctx("/me while Redis is down"),
        me.set_cookies()
    );
    let what = "prepare while Redis is down";
    let reply = w
        .prepare_raw(b, &World::prepare_body(ANDROID_UA, Some(RECOVERY)))
        .await;
    assert_opaque_error(&w, &reply, 503, "SERVICE_UNAVAILABLE", what);
    assert!(
        reply.set_cookies().is_empty(),
        "{}: {:?}",
        w.ctx(what),
        reply.set_cookies()
    );

    // 3. Redis is back, empty; the same engine.
    redis.restart();
    let what = "process of a flow prepared before the outage";
    let reply =
        first_answer_after_recovery(&w, what, || w.process(b, &prepared, &credential)).await;
    assert_opaque_error(&w, &reply, 404, "SESSION_NOT_FOUND", what);
    assert_no_session(&w, b, &reply, what).await;
    let what = "/me with a session lost with Redis's data";
    let me = first_answer_after_recovery(&w, what, || w.me(other)).await;
    me.assert_error(401, "NOT_VERIFIED", &w.ctx(what));

    // 4. The user starts again.
    let (prepared, credential) = ts43_prepared(&w, b, Some(RECOVERY)).await;
    let what = "process after Redis came back";
    let reply =
        first_answer_after_recovery(&w, what, || w.process(b, &prepared, &credential)).await;
    assert_session(&w, b, &reply, RECOVERY, what).await;
    assert!(events.is_connected(), "{}", w.ctx("events reconnected"));
}
