//! The verification chain's events: any sequence of `POST verification/start` bodies,
//! `POST verification/advance` events (`step_failed`, `send`, `choose`, `code`, `token`, or any
//! bytes), `GET verification` reads, time passing, cookie games and any bytes in the store where
//! the chain's record lives, through `GlideAuth::handle` with an `http::Request` as an adapter
//! hands it over.
//!
//! Glide is a scripted stand-in: Magic Auth's start sends (an SMS, an e-mail, or a carrier link
//! for a carrier check), its check always answers "not verified"; with `glide down` every call
//! answers 503, with `glide ineligible` a start answers 422 `CARRIER_NOT_ELIGIBLE`. So no chain
//! can ever be verified.
//!
//! Properties: no panic; a documented status and a well-formed error body
//! (`glide_fuzz::check_response`); never a verified session; bounded work (at most 64 store
//! operations per request, an answer of at most 1 KiB while the record is the chain's own); every
//! 2xx state answer is well formed: `step` one of the chain's steps, `verified` or `failed`,
//! `next` exactly while the chain is active and matching the step, `attempts_left` within the
//! budget, `expires_in_seconds` within the deadline, `reason` a known one; and, while nothing was
//! tampered with, never `verified`, and a chain that ended stays ended.
//!
//! Input: lines (see the seeds): `chain N` (which of four chain configurations, first line only),
//! `start BODY`, `advance BODY`, `state`, `wait SECONDS`, `cookie none|forged|keep|RAW`,
//! `record BYTES` (the chain's stored record; `$NOW` is the clock in unix seconds),
//! `glide up|down|ineligible`.
#![no_main]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use glide_core::api::{Glide, HttpClient, RetryPolicy};
use glide_core::clock::{Clock as _, ManualClock};
use glide_core::endpoint::{
    ChainStep, EndpointResponse, GlideAuth, PeerAddr, StepOutcome, VerificationChain,
};
use glide_core::error::BoxError;
use glide_core::store::MemoryStore;
use glide_core::{PhoneNumber, Store};
use glide_fuzz::CountingStore;
use libfuzzer_sys::fuzz_target;

/// 2025-01-01T00:00:00Z.
const T0: i64 = 1_735_689_600;
const MAX_LINES: usize = 16;
const MAX_STORE_OPS: u64 = 64;
const REASONS: [&str; 8] = [
    "not_eligible",
    "denied",
    "timed_out",
    "unavailable",
    "risk_denied",
    "no_more_steps",
    "phone_number_required",
    "channel_chosen",
];

const GLIDE_UP: u8 = 0;
const GLIDE_DOWN: u8 = 1;
const GLIDE_INELIGIBLE: u8 = 2;

/// Glide's stand-in; `mode` is one of `GLIDE_*`.
#[derive(Debug, Clone, Default)]
struct ChainGlide {
    mode: Arc<AtomicU8>,
}

#[async_trait]
impl HttpClient for ChainGlide {
    async fn execute(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, BoxError> {
        let path = request.uri().path();
        let body = String::from_utf8_lossy(request.body());
        let mode = self.mode.load(Ordering::Relaxed);
        let (status, answer) = if path.ends_with("/oauth2/token") {
            (
                200,
                r#"{"access_token":"t","token_type":"Bearer","expires_in":3600}"#,
            )
        } else if mode == GLIDE_DOWN {
            (503, r#"{"message":"unavailable"}"#)
        } else if path.ends_with("/magic-auth/verification/start") {
            if mode == GLIDE_INELIGIBLE {
                (
                    422,
                    r#"{"code":"CARRIER_NOT_ELIGIBLE","message":"not eligible"}"#,
                )
            } else if body.contains("NO_FALLBACK") {
                (
                    200,
                    r#"{"type":"MAGIC","authUrl":"https://carrier.example/verify?t=1"}"#,
                )
            } else if body.contains("\"email\"") {
                (200, r#"{"type":"EMAIL"}"#)
            } else {
                (200, r#"{"type":"SMS"}"#)
            }
        } else if path.ends_with("/magic-auth/verification/check") {
            (200, r#"{"verified":false}"#)
        } else {
            (503, r#"{"message":"unavailable"}"#)
        };
        Ok(http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Bytes::from_static(answer.as_bytes()))?)
    }
}

fn glide() -> &'static (Glide, ChainGlide) {
    static GLIDE: OnceLock<(Glide, ChainGlide)> = OnceLock::new();
    GLIDE.get_or_init(|| {
        let stand_in = ChainGlide::default();
        let glide = Glide::builder("fuzz-client", "fuzz-secret")
            .base_url(glide_fuzz::UNREACHABLE_GLIDE)
            .http_client(stand_in.clone())
            .retry_policy(RetryPolicy::none())
            .build()
            .expect("a valid client configuration");
        (glide, stand_in)
    })
}

/// The four chain configurations and their attempt budgets and deadlines.
fn chain(n: u8) -> (VerificationChain, u64, i64) {
    let secs = Duration::from_secs;
    match n % 4 {
        0 => (VerificationChain::default(), 10, 900),
        1 => (
            VerificationChain::new()
                .step(ChainStep::MagicalAuth, secs(120))
                .step(ChainStep::Sms, secs(300))
                .step(ChainStep::Email, secs(300)),
            10,
            900,
        ),
        2 => (
            VerificationChain::new()
                .step(ChainStep::Sms, secs(60))
                .step(ChainStep::Email, secs(60))
                .falls_through([StepOutcome::NotEligible])
                .attempts(3, secs(900)),
            3,
            900,
        ),
        _ => (
            VerificationChain::new()
                .step(ChainStep::Magic, secs(60))
                .step(ChainStep::Sms, secs(120))
                .deadline(secs(300))
                .attempts(5, secs(300)),
            5,
            300,
        ),
    }
}

/// A browser's cookies as the answers set them, plus what the input adds.
#[derive(Default)]
struct Jar {
    cookies: BTreeMap<String, String>,
    extra: Option<String>,
}

impl Jar {
    fn absorb(&mut self, response: &EndpointResponse) {
        for value in glide_fuzz::set_cookies(response) {
            let (name, value, removal) = glide_fuzz::split_set_cookie(&value);
            if removal {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn header(&self) -> String {
        let mut pairs: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        pairs.extend(self.extra.clone());
        pairs.join("; ")
    }
}

/// The 2xx state answer is well formed (its figures within the configuration unless the record
/// was `tampered` with); returns its `step`.
fn check_state(
    body: &[u8],
    steps: &[&str],
    (max_attempts, deadline): (u64, i64),
    tampered: bool,
) -> String {
    let state: serde_json::Value = serde_json::from_slice(body).expect("a JSON state");
    let step = state["step"].as_str().expect("a step").to_owned();
    let attempts = state["attempts_left"].as_u64().expect("attempts_left");
    let expires = state["expires_in_seconds"].as_i64().expect("expires_in");
    assert!(expires >= 0, "{state}");
    if !tampered {
        assert!(attempts < max_attempts, "{state}");
        assert!(expires <= deadline, "{state}");
    }
    if let Some(reason) = state.get("reason") {
        assert!(
            reason.as_str().is_some_and(|r| REASONS.contains(&r)),
            "{state}"
        );
    }
    let action = state
        .get("next")
        .map(|n| n["action"].as_str().expect("an action"));
    match step.as_str() {
        "verified" | "failed" => {
            assert_eq!(action, None, "{state}");
            // A record left at a step past the chain's last (only by tampering, or a chain
            // configuration shortened under live records) answers `failed` while still active.
            if !tampered {
                assert_eq!(expires, 0, "{state}");
            }
        }
        _ => {
            assert!(steps.contains(&step.as_str()), "{state}");
            assert!(expires > 0, "{state}");
            let expected: &[&str] = if step == "magical_auth" {
                &["magical_auth"]
            } else {
                &["send", "carrier_check", "enter_code"]
            };
            assert!(action.is_some_and(|a| expected.contains(&a)), "{state}");
        }
    }
    step
}

/// Whether `GLIDE_FUZZ_TRACE` is set: then every answer is printed (to read what a seed or a
/// crash does).
fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("GLIDE_FUZZ_TRACE").is_some())
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let lines = glide_fuzz::keyed_lines(data, MAX_LINES);
    let config_n = match lines.first() {
        Some((key, value)) if key == "chain" => value.bytes().next().unwrap_or(b'0'),
        _ => 0,
    };
    let (config, max_attempts, deadline) = chain(config_n);
    let steps: Vec<&str> = match config_n % 4 {
        0 => vec!["magical_auth", "magic", "sms", "email"],
        1 => vec!["magical_auth", "sms", "email"],
        2 => vec!["sms", "email"],
        _ => vec!["magic", "sms"],
    };

    let (glide, stand_in) = glide();
    stand_in.mode.store(GLIDE_UP, Ordering::Relaxed);
    let start = time::OffsetDateTime::from_unix_timestamp(T0).expect("a time");
    let clock = ManualClock::at(start);
    let pending = CountingStore::new(Arc::new(
        MemoryStore::new().with_clock(Arc::new(clock.clone())),
    ));
    let auth = GlideAuth::builder(glide.clone())
        .allowed_origins(["https://app.example.com"])
        .rate_limits(glide_core::ratelimit::RateLimitConfig::disabled())
        .clock(Arc::new(clock.clone()))
        .store(MemoryStore::new().with_clock(Arc::new(clock.clone())))
        .pending_store(pending.clone())
        .email_on_file(|_: &PhoneNumber| glide_core::legacy::Email::parse("owner@example.com").ok())
        .verification_chain(config)
        .build()
        .expect("a valid engine configuration");
    let chain_cookie = "__Host-glide_chain";
    let runtime = runtime();

    let mut jar = Jar::default();
    let mut tampered = false;
    let mut ended = false;
    for (key, value) in lines {
        let (method, route) = match key.as_str() {
            "start" => ("POST", "verification/start"),
            "advance" => ("POST", "verification/advance"),
            "state" => ("GET", "verification"),
            "wait" => {
                let secs = value.trim().parse::<i64>().unwrap_or(0).rem_euclid(4000);
                clock.advance(time::Duration::seconds(secs));
                continue;
            }
            "cookie" => {
                match value.as_str() {
                    "none" => {
                        jar.cookies.remove(chain_cookie);
                    }
                    "forged" => {
                        jar.cookies.insert(chain_cookie.to_owned(), "A".repeat(43));
                    }
                    "keep" => jar.extra = None,
                    raw => jar.extra = Some(raw.to_owned()),
                }
                continue;
            }
            "glide" => {
                let mode = match value.as_str() {
                    "down" => GLIDE_DOWN,
                    "ineligible" => GLIDE_INELIGIBLE,
                    _ => GLIDE_UP,
                };
                stand_in.mode.store(mode, Ordering::Relaxed);
                continue;
            }
            "record" => {
                let Some(id) = jar.cookies.get(chain_cookie) else {
                    continue;
                };
                let key = format!("chain:{id}");
                let now = clock.now().unix_timestamp().to_string();
                let bytes = value.replace("$NOW", &now).into_bytes();
                runtime.block_on(async {
                    if let Some(stored) = pending.load(&key).await.expect("load") {
                        let ttl = Duration::from_secs(7200);
                        assert!(pending
                            .compare_and_set(&key, stored.version, &bytes, ttl)
                            .await
                            .expect("cas"));
                        tampered = true;
                    }
                });
                continue;
            }
            _ => continue,
        };
        let cookie = jar.header();
        let mut builder = http::Request::builder()
            .method(method)
            .uri(auth.routes().route(route))
            .header("host", "app.example.com")
            .header("origin", "https://app.example.com")
            .extension(PeerAddr([127, 0, 0, 1].into()));
        if method == "POST" {
            builder = builder.header("content-type", "application/json");
        }
        if !cookie.is_empty() {
            let Ok(value) = http::HeaderValue::from_str(&cookie) else {
                continue; // no HTTP stack would deliver it
            };
            builder = builder.header("cookie", value);
        }
        let body = if method == "POST" {
            Bytes::from(value.into_bytes())
        } else {
            Bytes::new()
        };
        let request = builder.body(body).expect("a valid request");
        let matched = auth.match_route(request.uri().path()).expect("our route");
        let before = pending.ops();
        let response = runtime.block_on(auth.handle(matched, request));
        let ops = pending.ops() - before;
        assert!(
            ops <= MAX_STORE_OPS,
            "{ops} store operations for one request"
        );
        if trace() {
            eprintln!(
                "{method} {route} -> {} {}",
                response.status(),
                String::from_utf8_lossy(response.body())
            );
        }
        glide_fuzz::check_response(&response);
        glide_fuzz::assert_no_session_cookie(&response, &auth);
        let started = route == "verification/start" && response.status().is_success();
        jar.absorb(&response);
        if started {
            // A new chain (its cookie replaced the old one): nothing of it was tampered with.
            tampered = false;
            ended = false;
        }
        if !response.status().is_success() {
            continue;
        }
        if !tampered {
            assert!(
                response.body().len() <= 1024,
                "a state answer of {} bytes",
                response.body().len()
            );
        }
        let step = check_state(response.body(), &steps, (max_attempts, deadline), tampered);
        if !tampered {
            assert_ne!(step, "verified", "a chain verified without Glide");
            if ended {
                assert_eq!(step, "failed", "an ended chain moved on");
            }
            ended = step == "failed";
        }
    }
});
