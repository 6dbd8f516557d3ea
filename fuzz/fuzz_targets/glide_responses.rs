//! Glide's answers: the wire types parsed straight from any bytes, and the whole client path
//! (status handling, the error-body mapping, decoding) through a scripted `HttpClient` that
//! answers the API call with any status, `Retry-After` and body (the token endpoint answers a
//! valid token, so that every call reaches the API).
//!
//! Properties: no panic; an accepted `PrepareResponse` or `GlideSession` has a non-empty session
//! key and survives a JSON round trip; an accepted `PhoneResult` carries an E.164 number; a call
//! succeeds only on a 2xx answer (a status call also on 410 / 422, read as the session's final
//! status); every error maps to a status in 400–599, with an opaque message on 5xx, and renders
//! as a well-formed `{code, message, status}` body.
//!
//! Input: byte 0 picks the call (and whether `Retry-After` is sent), bytes 1–2 the status (mod
//! 900, plus 100), the rest is the body.
#![no_main]

use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use bytes::Bytes;
use glide_core::api::{
    ClientInfo, CompleteRequest, EligibilityResponse, Glide, GlideSession, HttpClient, PhoneResult,
    PrepareRequest, PrepareResponse, ProcessOutcome, ProcessRequest, RetryPolicy, StatusResponse,
};
use glide_core::binding::{AggCode, FeCode};
use glide_core::error::BoxError;
use glide_core::legacy::{
    CheckServerAuthResponse, NumberVerifyResponse, SimSwapCheckResponse, SimSwapDateResponse,
    StartAuthResponse, StartServerAuthResponse, VerifyAuthResponse,
};
use glide_core::{PhoneNumber, UseCase};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Default, Clone)]
struct Reply {
    status: u16,
    retry_after: bool,
    body: Bytes,
}

#[derive(Debug, Clone, Default)]
struct Scripted(Arc<Mutex<Reply>>);

#[async_trait]
impl HttpClient for Scripted {
    async fn execute(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, BoxError> {
        if request.uri().path().ends_with("/token") {
            return Ok(http::Response::builder()
                .status(200)
                .body(Bytes::from_static(
                    br#"{"access_token":"t","token_type":"Bearer","expires_in":3600}"#,
                ))?);
        }
        let reply = self.0.lock().map_err(|_| "poisoned")?.clone();
        let mut builder = http::Response::builder().status(reply.status);
        if reply.retry_after {
            builder = builder.header("retry-after", "0");
        }
        Ok(builder.body(reply.body)?)
    }
}

fn client() -> &'static (tokio::runtime::Runtime, Glide, Scripted) {
    static CLIENT: OnceLock<(tokio::runtime::Runtime, Glide, Scripted)> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let scripted = Scripted::default();
        let glide = Glide::builder("fuzz-client", "fuzz-secret")
            .base_url("http://127.0.0.1:9")
            .http_client(scripted.clone())
            .retry_policy(RetryPolicy::none())
            .build()
            .expect("a client");
        (runtime, glide, scripted)
    })
}

fn check_wire_types(body: &[u8]) {
    if let Ok(prepared) = serde_json::from_slice::<PrepareResponse>(body) {
        assert!(!prepared.session_key().is_empty());
        let again = serde_json::to_vec(&prepared).expect("serialises");
        let back: PrepareResponse = serde_json::from_slice(&again).expect("round trip");
        assert_eq!(back.session_key(), prepared.session_key());
        assert_eq!(
            back.authentication_strategy,
            prepared.authentication_strategy
        );
        let _ = (
            prepared.ts43_data(),
            prepared.link_data(),
            prepared.desktop_data(),
        );
        let mut taken = prepared.clone();
        if let Some(code) = taken.take_fe_code() {
            assert!(glide_core::binding::is_hex64(code.secret()));
        }
        assert!(taken.data.get("fe_code").is_none());
    }
    if let Ok(session) = serde_json::from_slice::<GlideSession>(body) {
        assert!(!session.session_key().is_empty());
        let back = GlideSession::from_json(session.to_json()).expect("round trip");
        assert_eq!(back, session);
    }
    if let Ok(result) = serde_json::from_slice::<PhoneResult>(body) {
        assert!(glide_fuzz::is_e164(result.phone_number.as_str()));
    }
    let _ = serde_json::from_slice::<StatusResponse>(body);
    let _ = serde_json::from_slice::<EligibilityResponse>(body);
    let _ = serde_json::from_slice::<StartAuthResponse>(body);
    let _ = serde_json::from_slice::<VerifyAuthResponse>(body);
    let _ = serde_json::from_slice::<StartServerAuthResponse>(body);
    let _ = serde_json::from_slice::<CheckServerAuthResponse>(body);
    let _ = serde_json::from_slice::<NumberVerifyResponse>(body);
    let _ = serde_json::from_slice::<SimSwapCheckResponse>(body);
    let _ = serde_json::from_slice::<SimSwapDateResponse>(body);
}

fuzz_target!(|data: &[u8]| {
    let call = data.first().copied().unwrap_or(0);
    let status = 100
        + u16::from_le_bytes([
            data.get(1).copied().unwrap_or(0),
            data.get(2).copied().unwrap_or(0),
        ]) % 900;
    let body = data.get(3..).unwrap_or_default();
    check_wire_types(body);

    let (runtime, glide, scripted) = client();
    *scripted.0.lock().expect("not poisoned") = Reply {
        status,
        retry_after: call & 0x80 != 0,
        body: Bytes::copy_from_slice(body),
    };
    let ok_status = (200..300).contains(&status);
    // Glide's SDKs read a status call's 410 / 422 as the session's final status, not an error.
    let final_status = call % 6 == 4 && matches!(status, 410 | 422);
    let phone = PhoneNumber::parse("+15555550100").expect("valid");
    let session = GlideSession::from_json(serde_json::json!({"session_key": "ee25b966c9395f0b"}))
        .expect("valid");
    runtime.block_on(async {
        let outcome: Result<(), glide_core::Error> = match call % 6 {
            0 => glide
                .prepare(&PrepareRequest::verify_phone_number(
                    &phone,
                    ClientInfo::new("fuzz"),
                ))
                .await
                .map(|p| assert!(!p.session_key().is_empty())),
            1 | 2 => {
                let use_case = if call % 6 == 1 {
                    UseCase::VerifyPhoneNumber
                } else {
                    UseCase::GetPhoneNumber
                };
                glide
                    .process(
                        use_case,
                        &ProcessRequest::new(session.clone(), "credential"),
                    )
                    .await
                    .map(|outcome| match outcome {
                        ProcessOutcome::Done(result) => {
                            assert!(glide_fuzz::is_e164(result.phone_number.as_str()))
                        }
                        ProcessOutcome::Pending(_) => assert_eq!(status, 202),
                        _ => {}
                    })
            }
            3 => {
                let code = FeCode::parse(&"a".repeat(64)).expect("hex");
                let agg = AggCode::parse(&"b".repeat(64)).expect("hex");
                glide
                    .complete(&CompleteRequest::new("ee25b966c9395f0b", code, agg))
                    .await
            }
            4 => glide.status("ee25b966c9395f0b").await.map(|_| ()),
            _ => glide.report_invocation("ee25b966c9395f0b").await,
        };
        match outcome {
            Ok(()) => assert!(
                ok_status || final_status,
                "a call succeeded on HTTP {status}"
            ),
            Err(error) => glide_fuzz::check_error(&error),
        }
    });
});
