//! Glide's CIBA answers (the per-subscriber tokens of the SIM swap API): any backchannel
//! authentication answer (`{auth_req_id, expires_in, interval}`), any sequence of token-poll
//! answers (`authorization_pending`, `slow_down`, a token, an OAuth error, any status and bytes),
//! any SIM swap answer, each with any `Retry-After`, through `LegacyClient::sim_swap()`'s
//! `check`, `retrieve_date` and `signal` and a scripted `HttpClient`. Time is tokio's paused
//! clock, so every wait (poll interval, `Retry-After`) passes at once and is measured.
//!
//! Properties: no panic; bounded work (at most two grants of at most `MAX_POLL` each, so a
//! bounded number of requests and of virtual seconds, however long Glide stays pending); every
//! poll names the `auth_req_id` the backchannel answer gave; the SIM swap API is called only with
//! the access token of a 2xx grant answer; a call succeeds only on a 2xx SIM swap answer (a
//! signal's "carrier not supported" on a 422 from any of the three endpoints); every
//! error maps to 400–599 with an opaque message on 5xx (`glide_fuzz::check_error`); a signal is
//! either checked with a risk level or unchecked for the carrier's reason.
//!
//! Input: lines (see the seeds). The first names the call (`check [MAX_AGE]`, `date`, `signal`);
//! each further line is Glide's answer to the next request, `STATUS[;RETRY-AFTER] BODY`. Once
//! they run out, the token endpoint answers `authorization_pending` for ever and every other
//! endpoint 503.
#![no_main]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use glide_core::api::HttpClient;
use glide_core::error::BoxError;
use glide_core::legacy::{LegacyClient, SimSwapRiskMapping, REASON_CARRIER_NOT_SUPPORTED};
use glide_core::PhoneNumber;
use libfuzzer_sys::fuzz_target;

/// At most this many requests for one call: two grants (the second after a 401), each one
/// backchannel request and at most `MAX_POLL` / 1 s + 1 polls, plus two API calls; every request
/// sent at most three times (two `503` + `Retry-After` retries).
const MAX_REQUESTS: usize = 3 * (2 * (1 + 31) + 2);

/// At most this much (virtual) time for one call: per grant `MAX_POLL` of polling; per request
/// two retry waits of at most 5 s.
const MAX_ELAPSED: Duration = Duration::from_secs(2 * 30 + MAX_REQUESTS as u64 * 2 * 5);

/// One answer of Glide's: a status, maybe a `Retry-After`, a body.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    /// `STATUS[;RETRY-AFTER] BODY`; a status outside 100–599 is read modulo 500 from 100, a line
    /// without one is a 200 with that line as body.
    fn parse(line: &str) -> Self {
        let (head, body) = line.split_once(' ').unwrap_or((line, ""));
        let (status, retry_after) = match head.split_once(';') {
            Some((status, retry)) => (status, Some(retry.to_owned())),
            None => (head, None),
        };
        match status.parse::<u16>() {
            Ok(status) => Self {
                status: if (100..=599).contains(&status) {
                    status
                } else {
                    100 + status % 500
                },
                retry_after,
                body: body.as_bytes().to_vec(),
            },
            Err(_) => Self {
                status: 200,
                retry_after: None,
                body: line.as_bytes().to_vec(),
            },
        }
    }
}

/// What to call: `check [MAX_AGE]`, `date` or `signal` (anything else: `check`).
#[derive(Debug)]
struct Input {
    call: String,
    max_age: Option<u32>,
    answers: Vec<Answer>,
}

impl Input {
    fn parse(data: &[u8]) -> Self {
        let text = String::from_utf8_lossy(data);
        let mut lines = text.split('\n').take(MAX_ANSWERS + 1);
        let first = lines.next().unwrap_or_default();
        let (call, max_age) = first.split_once(' ').unwrap_or((first, ""));
        Self {
            call: call.to_owned(),
            max_age: max_age.trim().parse().ok(),
            answers: lines.map(Answer::parse).collect(),
        }
    }
}

/// The most answers an input scripts.
const MAX_ANSWERS: usize = 64;

/// One request as Glide saw it.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    authorization: String,
    body: String,
}

/// Which answer a request got: its status and body.
type Given = (u16, Vec<u8>);

#[derive(Debug, Default)]
struct Script {
    answers: VecDeque<Answer>,
    seen: Vec<(Seen, Given)>,
}

#[derive(Debug, Clone, Default)]
struct Scripted(Arc<Mutex<Script>>);

#[async_trait]
impl HttpClient for Scripted {
    async fn execute(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, BoxError> {
        let mut script = self.0.lock().map_err(|_| "poisoned")?;
        let path = request.uri().path().to_owned();
        let answer = script.answers.pop_front();
        let (status, retry_after, body) = match answer {
            Some(a) => (a.status, a.retry_after, a.body),
            None if path.ends_with("/oauth2/token") => {
                (400, None, br#"{"error":"authorization_pending"}"#.to_vec())
            }
            None => (503, None, br#"{"message":"unavailable"}"#.to_vec()),
        };
        let seen = Seen {
            path,
            // As bytes: a token Glide sent with non-ASCII text goes back as it came (obs-text).
            authorization: request
                .headers()
                .get(http::header::AUTHORIZATION)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default(),
            body: String::from_utf8_lossy(request.body()).into_owned(),
        };
        script.seen.push((seen, (status, body.clone())));
        let mut builder = http::Response::builder()
            .status(status)
            .header("content-type", "application/json");
        if let Some(value) = retry_after.and_then(|v| http::HeaderValue::from_str(&v).ok()) {
            builder = builder.header("retry-after", value);
        }
        Ok(builder.body(Bytes::from(body))?)
    }
}

/// A backchannel answer read as glide-core reads it (serde's derive also takes a struct as a
/// JSON array of its fields: `["id"]` is an answer).
#[derive(serde::Deserialize)]
struct Started {
    auth_req_id: String,
}

/// A grant answer read as glide-core reads it.
#[derive(serde::Deserialize)]
struct Granted {
    access_token: String,
}

/// The `auth_req_id` a 2xx backchannel answer gave, if any.
fn auth_req_id(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Started>(body)
        .ok()
        .map(|s| s.auth_req_id)
}

/// The access token a 2xx grant answer gave, if any.
fn access_token(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Granted>(body)
        .ok()
        .map(|g| g.access_token)
}

/// The requests make sense: polls name the `auth_req_id` of the latest backchannel answer, and
/// the API is only called with the token of a 2xx grant answer.
fn check_requests(seen: &[(Seen, Given)]) {
    let mut auth_req: Option<String> = None;
    let mut tokens: Vec<String> = Vec::new();
    for (request, (status, body)) in seen {
        let ok = (200..300).contains(status);
        if request.path.ends_with("/oauth2/backchannel-authentication") {
            assert!(request.authorization.starts_with("Basic "), "{request:?}");
            assert_eq!(
                request.body,
                "scope=sim-swap&login_hint=tel%3A%2B15555550101"
            );
            if ok {
                auth_req = auth_req_id(body);
            }
        } else if request.path.ends_with("/oauth2/token") {
            assert!(request.authorization.starts_with("Basic "), "{request:?}");
            let id = auth_req
                .as_deref()
                .expect("a poll after a backchannel answer");
            let form: Vec<(String, String)> = url::form_urlencoded::parse(request.body.as_bytes())
                .into_owned()
                .collect();
            assert_eq!(
                form,
                [
                    (
                        "grant_type".to_owned(),
                        "urn:openid:params:grant-type:ciba".to_owned()
                    ),
                    ("auth_req_id".to_owned(), id.to_owned())
                ],
                "a poll for another auth_req_id"
            );
            if ok {
                tokens.extend(access_token(body));
            }
        } else {
            assert!(
                request.path.ends_with("/sim-swap/check")
                    || request.path.ends_with("/sim-swap/retrieve-date"),
                "{request:?}"
            );
            let token = request
                .authorization
                .strip_prefix("Bearer ")
                .expect("a bearer token");
            assert!(
                tokens.iter().any(|t| t == token),
                "the API was called with a token no grant gave"
            );
        }
    }
}

/// One runtime on tokio's paused clock for every input (each measures its own virtual time).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let runtime = runtime();
    let scripted = Scripted::default();
    scripted.0.lock().expect("not poisoned").answers = input.answers.into_iter().collect();
    let legacy = LegacyClient::from_parts(
        "fuzz-client",
        "fuzz-secret",
        "https://api.glide.test",
        Arc::new(scripted.clone()),
    )
    .expect("a client");
    let phone = PhoneNumber::parse("+15555550101").expect("valid");
    let swap = legacy.sim_swap();
    let max_age = input.max_age;

    runtime.block_on(async {
        let started = tokio::time::Instant::now();
        // Ok(the statuses the last SIM swap answer may have had).
        let outcome: Result<&[u16], glide_core::Error> = match input.call.as_str() {
            "date" => swap.retrieve_date(&phone).await.map(|_| &[200, 299][..]),
            "signal" => swap
                .signal(&phone, &SimSwapRiskMapping::default())
                .await
                .map(|signal| {
                    if signal.checked {
                        assert!(signal.risk_level.is_some(), "{signal:?}");
                        assert!(signal.reason.is_none());
                        &[200, 299][..]
                    } else {
                        // Glide's 422 SERVICE_NOT_APPLICABLE / CARRIER_NOT_ELIGIBLE.
                        assert_eq!(signal.reason.as_deref(), Some(REASON_CARRIER_NOT_SUPPORTED));
                        assert!(signal.risk_level.is_none());
                        &[422, 422][..]
                    }
                }),
            _ => swap.check(&phone, max_age).await.map(|_| &[200, 299][..]),
        };
        let elapsed = started.elapsed();
        let script = scripted.0.lock().expect("not poisoned");
        assert!(
            script.seen.len() <= MAX_REQUESTS,
            "{} requests for one call",
            script.seen.len()
        );
        assert!(elapsed <= MAX_ELAPSED, "{elapsed:?} for one call");
        check_requests(&script.seen);
        let last_api = script
            .seen
            .iter()
            .rev()
            .find(|(r, _)| r.path.contains("/sim-swap/"));
        match outcome {
            // "Not supported" ends the call at whichever request Glide answers it: the
            // backchannel request, the grant or the SIM swap API.
            Ok([422, 422]) => {
                let (_, (status, _)) = script.seen.last().expect("an answer from Glide");
                assert_eq!(*status, 422, "a signal unchecked without a 422");
            }
            Ok(range) => {
                let (_, (status, _)) = last_api.expect("a success comes from the API");
                assert!(
                    (range[0]..=range[1]).contains(status),
                    "a call succeeded on HTTP {status}"
                );
            }
            Err(error) => glide_fuzz::check_error(&error),
        }
    });
});
