//! The engine driven directly (no web framework) against the real sandbox over 127.0.0.1:
//! each strategy end to end, the binding checks, the desktop wait, and exactly-one-winner.

use std::sync::Arc;
use std::time::Duration;

use glide_core::api::Glide;
use glide_core::endpoint::GlideAuth;

use crate::endpoint_support::engine::{call, post};
use crate::endpoint_support::EndpointResponse;
use glide_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};

const ANDROID: &str =
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Version/17.5 Mobile/15E148 Safari/604.1";
const DESKTOP: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36";
const ORIGIN: &str = "http://app.test";

struct World {
    sandbox: Sandbox,
    auth: GlideAuth,
}

async fn world() -> World {
    let sandbox = Sandbox::start(
        SandboxConfig::default()
            .with_port(0)
            .with_desktop_wait(Duration::from_millis(300))
            .with_completion_redirect_url(format!("{ORIGIN}/glide-complete")),
    )
    .await
    .expect("sandbox starts");
    let glide = Glide::builder("sandbox-client", "sandbox-secret")
        .base_url(sandbox.base_url().as_str())
        .build()
        .expect("client builds");
    let auth = GlideAuth::builder(glide)
        .insecure_dev_cookies(true)
        .build()
        .expect("engine builds");
    World { sandbox, auth }
}

fn set_cookies(response: &EndpointResponse) -> Vec<String> {
    response
        .headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.clone())
        .collect()
}

/// `name=value` of the first Set-Cookie whose name starts with `prefix`.
fn cookie_pair(response: &EndpointResponse, prefix: &str) -> Option<String> {
    set_cookies(response)
        .into_iter()
        .find(|c| c.starts_with(prefix) && !c.contains("Max-Age=0"))
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
}

async fn prepare(auth: &GlideAuth, ua: &str, phone: &str) -> (Value, EndpointResponse) {
    let (status, body, response) = call(
        auth,
        post(
            "/api/magical-auth/prepare",
            json!({"use_case": "VerifyPhoneNumber", "phone_number": phone, "client_info": {"user_agent": ua}}),
            "",
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    (body, response)
}

/// A TS43 flow prepared for `phone` by a new browser: its key, its binding cookie and the
/// credential the device's wallet answers with.
async fn ts43_ready(w: &World, phone: &str) -> (String, String, String) {
    let (prepared, response) = prepare(&w.auth, ANDROID, phone).await;
    let key = prepared["session"]["session_key"]
        .as_str()
        .expect("a session key")
        .to_owned();
    let binding = cookie_pair(&response, &format!("_glide_bind_{key}=")).expect("a binding cookie");
    let credential = w
        .sandbox
        .control()
        .ts43_credential(&key, ORIGIN, None)
        .expect("the sandbox answers");
    (key, binding, credential)
}

#[tokio::test]
async fn ts43_flow_issues_a_verified_session_once() {
    let w = world().await;
    let (prepared, prepare_response) = prepare(&w.auth, ANDROID, "+15555550100").await;
    assert_eq!(prepared["authentication_strategy"], "ts43");
    let key = prepared["session"]["session_key"]
        .as_str()
        .unwrap()
        .to_owned();
    // Every strategy binds its flow to the browser that prepared it.
    let binding = cookie_pair(&prepare_response, &format!("_glide_bind_{key}="))
        .expect("a binding cookie for ts43 too");
    assert!(
        prepared["session"].get("enc_key").is_none(),
        "Glide's session stays server side"
    );
    let credential = w
        .sandbox
        .control()
        .ts43_credential(&key, ORIGIN, None)
        .unwrap();
    let body = json!({"session": {"session_key": key}, "credential": credential, "use_case": "VerifyPhoneNumber"});

    // Without this browser's binding cookie the credential is worth nothing.
    let (status, refused, _) =
        call(&w.auth, post("/api/magical-auth/process", body.clone(), "")).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (403, Some("MISSING_BINDING_COOKIE"))
    );
    let (status, result, response) = call(
        &w.auth,
        post("/api/magical-auth/process", body.clone(), &binding),
    )
    .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["phone_number"], "+15555550100");
    assert_eq!(result["sim_swap"]["risk_level"], "RISK_LEVEL_LOW");
    let session = cookie_pair(&response, "glide_session=").expect("session cookie");
    let phone = w
        .auth
        .request_context([session.as_bytes()])
        .verified_phone()
        .await
        .unwrap()
        .expect("verified");
    assert_eq!(phone.phone_number.as_str(), "+15555550100");
    assert_eq!(phone.strategy, glide_core::Strategy::Ts43);

    let (status, again, _) = call(&w.auth, post("/api/magical-auth/process", body, &binding)).await;
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("SESSION_ALREADY_USED"))
    );
}

#[tokio::test]
async fn concurrent_process_calls_have_exactly_one_winner() {
    let w = world().await;
    let (prepared, response) = prepare(&w.auth, ANDROID, "+15555550100").await;
    let key = prepared["session"]["session_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let binding = cookie_pair(&response, &format!("_glide_bind_{key}=")).expect("binding");
    let credential = w
        .sandbox
        .control()
        .ts43_credential(&key, ORIGIN, None)
        .unwrap();
    let body = json!({"session": {"session_key": key}, "credential": credential});
    // Glide is slow to answer: the others arrive while the first holds the processing lease.
    w.sandbox.control().add_fault(glide_sandbox::Fault::delay(
        "/magic-auth/v2/auth/verify-phone-number",
        Duration::from_millis(300),
    ));
    w.sandbox.control().clear_requests();
    let auth = Arc::new(w.auth.clone());
    // Spawned all at once (collected), so that they run together.
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let auth = auth.clone();
            let body = body.clone();
            let binding = binding.clone();
            tokio::spawn(async move {
                call(&auth, post("/api/magical-auth/process", body, &binding)).await
            })
        })
        .collect();
    let mut winners = 0;
    for handle in calls {
        let (status, body, response) = handle.await.unwrap();
        if status == 200 {
            winners += 1;
            assert!(cookie_pair(&response, "glide_session=").is_some());
        } else {
            assert!(cookie_pair(&response, "glide_session=").is_none());
            // Woken by the winner's end, a loser learns the flow is used, not that it is busy.
            assert_eq!(
                (status, body["code"].as_str()),
                (409, Some("SESSION_ALREADY_USED")),
                "{body}"
            );
        }
    }
    assert_eq!(winners, 1);
    let reached = w
        .sandbox
        .control()
        .requests()
        .iter()
        .filter(|r| r.path == "/magic-auth/v2/auth/verify-phone-number")
        .count();
    assert_eq!(reached, 1, "the lease let one call through to Glide");
}

#[tokio::test]
async fn link_flow_checks_the_binding_cookie() {
    let w = world().await;
    let (prepared, response) = prepare(&w.auth, IPHONE, "+15555550100").await;
    assert_eq!(prepared["authentication_strategy"], "link");
    assert!(!prepared.to_string().contains("fe_code"));
    let key = prepared["session"]["session_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let binding = cookie_pair(&response, &format!("_glide_bind_{key}=")).expect("binding cookie");
    let set = set_cookies(&response).join("\n");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=300"] {
        assert!(set.contains(attr), "{set}");
    }
    let redirect = w.sandbox.control().link_approve(&key).unwrap();
    let fragment = redirect.split_once('#').unwrap().1.to_owned();
    let agg_code = fragment
        .split('&')
        .find_map(|p| p.strip_prefix("agg_code="))
        .unwrap()
        .to_owned();
    let complete = json!({"agg_code": agg_code, "session_key": key, "user_agent": IPHONE});

    // Process before completion is out of order.
    let process = json!({"session": {"session_key": key}, "credential": key});
    let (status, _, _) = call(
        &w.auth,
        post("/api/magical-auth/process", process.clone(), &binding),
    )
    .await;
    assert_eq!(status, 409);

    // Another browser (no cookie) cannot complete; a forged cookie cannot either.
    let (status, body, _) = call(
        &w.auth,
        post("/api/magical-auth/complete", complete.clone(), ""),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("MISSING_BINDING_COOKIE"))
    );
    let forged = format!("_glide_bind_{key}={}", "ab".repeat(32));
    let (status, body, _) = call(
        &w.auth,
        post("/api/magical-auth/complete", complete.clone(), &forged),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("DEVICE_BINDING_FAILED"))
    );

    let (status, body, _) = call(
        &w.auth,
        post("/api/magical-auth/complete", complete.clone(), &binding),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, _, _) = call(
        &w.auth,
        post("/api/magical-auth/complete", complete, &binding),
    )
    .await;
    assert_eq!(status, 409, "a second completion is refused");

    let (status, body, _) = call(
        &w.auth,
        post("/api/magical-auth/process", process.clone(), ""),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("MISSING_BINDING_COOKIE"))
    );
    let (status, result, response) = call(
        &w.auth,
        post("/api/magical-auth/process", process, &binding),
    )
    .await;
    assert_eq!(status, 200, "{result}");
    assert!(cookie_pair(&response, "glide_session=").is_some());
    assert!(set_cookies(&response)
        .iter()
        .any(|c| c.starts_with(&format!("_glide_bind_{key}=;"))));
}

#[tokio::test]
async fn desktop_waits_then_finishes_after_the_phone_approves() {
    let w = world().await;
    let (prepared, response) = prepare(&w.auth, DESKTOP, "+15555550100").await;
    assert_eq!(prepared["authentication_strategy"], "desktop");
    let key = prepared["session"]["session_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let binding = cookie_pair(&response, &format!("_glide_bind_{key}=")).expect("binding");
    let process = json!({"session": {"session_key": key}, "credential": key});
    let (status, body, _) = call(
        &w.auth,
        post("/api/magical-auth/process", process.clone(), &binding),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "waiting");
    assert_eq!(body["retry"], true);
    w.sandbox.control().desktop_approve(&key).unwrap();
    // The session key is in the QR code: a second browser holding only the key gets nothing,
    // and the owner's flow is unharmed.
    let (status, body, _) = call(
        &w.auth,
        post("/api/magical-auth/process", process.clone(), ""),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("MISSING_BINDING_COOKIE"))
    );
    let (status, body, _) = call(
        &w.auth,
        post("/api/magical-auth/process", process, &binding),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn high_risk_signals_get_no_session() {
    let w = world().await;
    for number in ["+15555550101", "+15555550102"] {
        let (prepared, prepared_response) = prepare(&w.auth, ANDROID, number).await;
        let key = prepared["session"]["session_key"]
            .as_str()
            .unwrap()
            .to_owned();
        let binding =
            cookie_pair(&prepared_response, &format!("_glide_bind_{key}=")).expect("binding");
        let credential = w
            .sandbox
            .control()
            .ts43_credential(&key, ORIGIN, None)
            .unwrap();
        let body = json!({"session": {"session_key": key}, "credential": credential});
        let (status, result, response) =
            call(&w.auth, post("/api/magical-auth/process", body, &binding)).await;
        assert_eq!(
            (status, result["code"].as_str()),
            (403, Some("RISK_POLICY_DENIED")),
            "{number}"
        );
        assert!(
            result.get("sim_swap").is_some(),
            "signals still returned: {result}"
        );
        assert!(cookie_pair(&response, "glide_session=").is_none());
    }
}

#[tokio::test]
async fn engine_debug_shows_its_shape_and_no_secret() {
    let world = world().await;
    let text = format!("{:?}", world.auth);
    assert!(text.starts_with("GlideAuth { routes: "), "{text}");
    assert!(text.contains("secure_cookies: false"), "{text}");
    assert!(!text.contains("sandbox-secret"), "{text}");
}

/// An instance dies while its `process` call holds the flow (long-polling Glide for the phone):
/// another instance sharing the store takes the flow over when the lease ends, not after its
/// whole busy wait, and finishes it when the phone approves.
#[tokio::test]
async fn a_flow_outlives_the_instance_that_held_it() {
    use glide_core::store::{MemoryStore, Store};
    // Glide's long poll lasts 1 s, the lease 2 s, the busy wait 15 s.
    let sandbox = Sandbox::start(
        SandboxConfig::default()
            .with_port(0)
            .with_desktop_wait(Duration::from_secs(1)),
    )
    .await
    .expect("sandbox starts");
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let instance = |store: Arc<dyn Store>| {
        let glide = Glide::builder("sandbox-client", "sandbox-secret")
            .base_url(sandbox.base_url().as_str())
            .build()
            .expect("client builds");
        GlideAuth::builder(glide)
            .insecure_dev_cookies(true)
            .shared_store(store)
            .flow_lease(Duration::from_secs(2))
            .busy_wait(Duration::from_secs(15))
            .build()
            .expect("engine builds")
    };
    let (a, b) = (instance(store.clone()), instance(store));
    let (prepared, response) = prepare(&a, DESKTOP, "+15555550100").await;
    let key = prepared["session"]["session_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let binding = cookie_pair(&response, &format!("_glide_bind_{key}=")).expect("binding");
    let process = json!({"session": {"session_key": key}, "credential": key});

    // Instance A takes the flow and long-polls Glide; then it dies (its task is dropped
    // mid-call: no release, no announcement).
    let holder = {
        let (a, process, binding) = (a.clone(), process.clone(), binding.clone());
        tokio::spawn(
            async move { call(&a, post("/api/magical-auth/process", process, &binding)).await },
        )
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    holder.abort();

    // The browser's retry reaches instance B: it waits for the lease's end (2 s), takes the
    // flow over and long-polls Glide itself; the phone approves meanwhile.
    let approver = {
        let control = sandbox.control();
        let key = key.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(2300)).await;
            control.desktop_approve(&key)
        })
    };
    let started = std::time::Instant::now();
    let (status, body, _) = call(
        &b,
        post("/api/magical-auth/process", process.clone(), &binding),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "taken over at the lease's end, not after the busy wait: {:?} ({status} {body})",
        started.elapsed()
    );
    approver.await.unwrap().unwrap();
    let (status, body) = if status == 202 {
        // The approval came after B's own long poll: the next retry collects it.
        let (status, body, _) =
            call(&b, post("/api/magical-auth/process", process, &binding)).await;
        (status, body)
    } else {
        (status, body)
    };
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["phone_number"], "+15555550100");
}

/// A TS43 credential minted for `origin` (its `aud`), processed by a browser of app.test.
async fn process_credential_for(sandbox: &Sandbox, auth: &GlideAuth, origin: &str) -> (u16, Value) {
    let prepare = json!({"use_case": "GetPhoneNumber", "client_info": {"user_agent": ANDROID}});
    let (status, prepared, response) =
        call(auth, post("/api/magical-auth/prepare", prepare, "")).await;
    assert_eq!(status, 200, "{prepared}");
    let key = prepared["session"]["session_key"]
        .as_str()
        .expect("the sandbox answers")
        .to_owned();
    let credential = sandbox
        .control()
        .ts43_credential(&key, origin, None)
        .expect("the sandbox answers");
    let cookies = crate::endpoint_support::engine::cookies(&response);
    let body = json!({"session": {"session_key": key}, "credential": credential, "use_case": "GetPhoneNumber"});
    let (status, body, _) = call(auth, post("/api/magical-auth/process", body, &cookies)).await;
    (status, body)
}

#[tokio::test]
async fn a_ts43_credential_counts_only_for_this_apps_origins() {
    let (sandbox, auth) =
        crate::endpoint_support::engine::engine(|b| b.allowed_origins(["https://shop.example"]))
            .await;
    for origin in ["http://app.test", "https://shop.example"] {
        let (status, body) = process_credential_for(&sandbox, &auth, origin).await;
        assert_eq!(status, 200, "{origin}: {body}");
    }
    for origin in [
        "https://evil.example",
        "https://shop.example.evil",
        "http://app.test.evil",
    ] {
        let (status, body) = process_credential_for(&sandbox, &auth, origin).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("AUDIENCE_VALIDATION_FAILED")),
            "{origin}: {body}"
        );
    }
}

#[tokio::test]
async fn concurrent_completions_reach_glide_once() {
    let w = world().await;
    let (prepared, response) = prepare(&w.auth, IPHONE, "+15555550100").await;
    let key = prepared["session"]["session_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let binding = cookie_pair(&response, &format!("_glide_bind_{key}=")).unwrap();
    let redirect = w.sandbox.control().link_approve(&key).unwrap();
    let agg_code = redirect
        .split_once('#')
        .unwrap()
        .1
        .split('&')
        .find_map(|p| p.strip_prefix("agg_code="))
        .unwrap()
        .to_owned();
    let complete = json!({"agg_code": agg_code, "session_key": key, "user_agent": IPHONE});
    // Glide is slow to answer the first completion: the second arrives while it holds the lease.
    w.sandbox.control().add_fault(glide_sandbox::Fault::delay(
        "/magic-auth/v2/auth/complete",
        Duration::from_millis(400),
    ));
    w.sandbox.control().clear_requests();
    let first = call(
        &w.auth,
        post("/api/magical-auth/complete", complete.clone(), &binding),
    );
    let second = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        call(
            &w.auth,
            post("/api/magical-auth/complete", complete.clone(), &binding),
        )
        .await
    };
    let ((a, _, _), (b, body, _)) = tokio::join!(first, second);
    assert_eq!(a, 204);
    assert_eq!(b, 409, "{body}");
    let completes = w
        .sandbox
        .control()
        .requests()
        .iter()
        .filter(|r| r.path == "/magic-auth/v2/auth/complete")
        .count();
    assert_eq!(completes, 1, "one completion reached Glide");
}

/// A whole TS43 verification of `phone` by the browser holding `cookie`: status and the session
/// cookie it set.
async fn verify_in(w: &World, phone: &str, cookie: &str) -> (u16, Option<String>) {
    let (key, binding, credential) = ts43_ready(w, phone).await;
    let cookies = [binding, cookie.to_owned()]
        .into_iter()
        .filter(|c| !c.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let body = json!({"session": {"session_key": key}, "credential": credential});
    let (status, _, response) =
        call(&w.auth, post("/api/magical-auth/process", body, &cookies)).await;
    (status, cookie_pair(&response, "glide_session="))
}

async fn is_live(w: &World, session: &str) -> bool {
    w.auth
        .request_context([session.as_bytes()])
        .verified_phone()
        .await
        .expect("the sandbox answers")
        .is_some()
}

#[tokio::test]
async fn a_new_verification_ends_this_browsers_old_session_and_no_one_elses() {
    let w = world().await;
    // A number with a checked, low-risk SIM-swap signal.
    let (status, other_browser) = verify_in(&w, "+15555550100", "").await;
    assert_eq!(status, 200);
    let other_browser = other_browser.unwrap();
    let (_, first) = verify_in(&w, "+15555550100", "").await;
    let first = first.unwrap();
    let (status, second) = verify_in(&w, "+15555550100", &first).await;
    assert_eq!(status, 200);
    let second = second.unwrap();
    assert_ne!(first, second, "a fresh id");
    assert!(
        !is_live(&w, &first).await,
        "the browser's previous session ended"
    );
    assert!(is_live(&w, &second).await);
    assert!(
        is_live(&w, &other_browser).await,
        "another browser's session of the number stays: a low SIM-swap risk revokes nothing"
    );
}

/// A GET of `path` by the browser holding `cookie`.
async fn get(w: &World, path: &str, cookie: &str) -> (u16, Value) {
    let mut headers = vec![("host".to_owned(), "app.test".to_owned())];
    if !cookie.is_empty() {
        headers.push(("cookie".to_owned(), cookie.to_owned()));
    }
    let request = crate::endpoint_support::EndpointRequest {
        method: "GET".into(),
        path: path.into(),
        headers,
        peer_addr: Some([127, 0, 0, 1].into()),
        ..Default::default()
    };
    let (status, body, _) = call(&w.auth, request).await;
    (status, body)
}

#[tokio::test]
async fn the_status_route_answers_only_the_browser_that_prepared_the_flow() {
    let w = world().await;
    let status_of = |key: &str| format!("/api/magical-auth/status/{key}");
    let mut flows = Vec::new();
    for _ in 0..3 {
        let (prepared, response) = prepare(&w.auth, DESKTOP, "+15555550100").await;
        assert_eq!(prepared["authentication_strategy"], "desktop");
        let key = prepared["session"]["session_key"]
            .as_str()
            .unwrap()
            .to_owned();
        let binding = cookie_pair(&response, &format!("_glide_bind_{key}=")).unwrap();
        flows.push((key, binding));
    }
    let (key, binding) = &flows[0];
    w.sandbox.control().clear_requests();
    let (status, body) = get(&w, &status_of(key), "").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("MISSING_BINDING_COOKIE")),
        "{body}"
    );
    let forged = format!("_glide_bind_{key}={}", "ab".repeat(32));
    let (status, body) = get(&w, &status_of(key), &forged).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("DEVICE_BINDING_FAILED")),
        "{body}"
    );
    assert!(
        w.sandbox.control().requests().is_empty(),
        "neither reached Glide"
    );
    let (status, body) = get(&w, &status_of(key), binding).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("pending")),
        "{body}"
    );

    // Glide's ends, as the browser SDK reads them: 422 failed, 410 expired.
    let (key, binding) = &flows[1];
    w.sandbox.control().desktop_deny(key).unwrap();
    let (status, body) = get(&w, &status_of(key), binding).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (422, Some("failed")),
        "{body}"
    );
    let (key, binding) = &flows[2];
    w.sandbox.control().expire_session(key).unwrap();
    let (status, body) = get(&w, &status_of(key), binding).await;
    assert_eq!(status, 410, "{body}");
}

#[tokio::test]
async fn a_forged_binding_cookie_never_reaches_glide_and_older_credential_shapes_verify() {
    let w = world().await;
    let (key, binding, credential) = ts43_ready(&w, "+15555550100").await;
    w.sandbox.control().clear_requests();
    let forged = format!("_glide_bind_{key}={}", "ab".repeat(32));
    let body = json!({"session": {"session_key": key}, "credential": credential});
    let (status, refused, _) =
        call(&w.auth, post("/api/magical-auth/process", body, &forged)).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (403, Some("DEVICE_BINDING_FAILED")),
        "{refused}"
    );
    assert!(
        w.sandbox.control().requests().is_empty(),
        "Glide was not called"
    );

    // The object older SDKs sent: `vp_token` keyed by credential id (a string or a list), or
    // `vp_token` itself a string.
    let shapes: [fn(&str) -> Value; 3] = [
        |c| json!({"vp_token": {"glide": c}}),
        |c| json!({"vp_token": {"glide": [c]}}),
        |c| json!({"vp_token": c}),
    ];
    let mut first = Some((key, binding, credential));
    for shape in shapes {
        let (key, binding, credential) = match first.take() {
            Some(flow) => flow,
            None => ts43_ready(&w, "+15555550100").await,
        };
        let credential = shape(&credential);
        let body = json!({"session": {"session_key": key}, "credential": credential});
        let (status, body, _) =
            call(&w.auth, post("/api/magical-auth/process", body, &binding)).await;
        assert_eq!(status, 200, "{credential}: {body}");
    }
}

#[test]
fn a_waiting_desktop_call_is_counted_while_it_waits() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // A snapshot reports what changed since the one before: the level is their sum.
    let level = std::cell::Cell::new(0.0);
    let waiting = || {
        let change = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .find(|(key, ..)| key.key().name() == "glide_desktop_waits_in_progress")
            .map_or(0.0, |(.., value)| match value {
                DebugValue::Gauge(g) => g.into_inner(),
                _ => f64::NAN,
            });
        level.set(level.get() + change);
        level.get()
    };
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let w = world().await;
            // A TS43 process is not a desktop wait.
            let (key, binding, credential) = ts43_ready(&w, "+15555550100").await;
            w.sandbox.control().add_fault(glide_sandbox::Fault::delay(
                "/magic-auth/v2/auth/verify-phone-number",
                Duration::from_millis(300),
            ));
            let body = json!({"session": {"session_key": key}, "credential": credential});
            let ts43 = call(&w.auth, post("/api/magical-auth/process", body, &binding));
            let during = async {
                tokio::time::sleep(Duration::from_millis(150)).await;
                waiting()
            };
            let ((status, ..), seen) = tokio::join!(ts43, during);
            assert_eq!((status, seen), (200, 0.0), "a TS43 process is not counted");

            let (prepared, response) = prepare(&w.auth, DESKTOP, "+15555550100").await;
            let key = prepared["session"]["session_key"]
                .as_str()
                .unwrap()
                .to_owned();
            let binding = cookie_pair(&response, &format!("_glide_bind_{key}=")).unwrap();
            let body = json!({"session": {"session_key": key}, "credential": key});
            let desktop = call(&w.auth, post("/api/magical-auth/process", body, &binding));
            let during = async {
                tokio::time::sleep(Duration::from_millis(150)).await;
                waiting()
            };
            let ((status, ..), seen) = tokio::join!(desktop, during);
            assert_eq!((status, seen), (202, 1.0), "one desktop call waiting");
            assert_eq!(waiting(), 0.0, "and no longer once answered");
        });
    });
}

#[tokio::test]
async fn a_verified_browser_lists_its_numbers_sessions_and_revokes_another() {
    let w = world().await;
    let (_, mine) = verify_in(&w, "+15555550100", "").await;
    let mine = mine.unwrap();
    let (_, other) = verify_in(&w, "+15555550100", "").await;
    let other = other.unwrap();
    let (_, stranger) = verify_in(&w, "+15555550103", "").await;
    let stranger = stranger.unwrap();

    let (status, body) = get(&w, "/api/magical-auth/sessions", "").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("NOT_VERIFIED")),
        "{body}"
    );
    let (status, list) = get(&w, "/api/magical-auth/sessions", &mine).await;
    assert_eq!(status, 200, "{list}");
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(
        sessions.len(),
        2,
        "the number's two sessions, not the stranger's: {list}"
    );
    assert_eq!(
        sessions.iter().filter(|s| s["current"] == true).count(),
        1,
        "{list}"
    );
    let other_handle = sessions
        .iter()
        .find(|s| s["current"] == false)
        .and_then(|s| s["handle"].as_str())
        .unwrap()
        .to_owned();

    let revoke = |handle: &str| {
        post(
            "/api/magical-auth/sessions/revoke",
            json!({"handle": handle}),
            &mine,
        )
    };
    let (status, body, _) = call(&w.auth, revoke("not-a-handle")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("SESSION_NOT_FOUND")),
        "{body}"
    );
    let (_, stranger_list) = get(&w, "/api/magical-auth/sessions", &stranger).await;
    let stranger_handle = stranger_list["sessions"][0]["handle"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body, _) = call(&w.auth, revoke(&stranger_handle)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("SESSION_NOT_FOUND")),
        "another number's: {body}"
    );
    assert!(is_live(&w, &stranger).await);

    let (status, body, response) = call(&w.auth, revoke(&other_handle)).await;
    assert_eq!(status, 204, "{body}");
    assert!(!is_live(&w, &other).await, "revoked");
    assert!(is_live(&w, &mine).await, "the caller's own stays");
    let removes_cookie = |response: &EndpointResponse| {
        set_cookies(response)
            .iter()
            .any(|c| c.starts_with("glide_session=") && c.contains("Max-Age=0"))
    };
    assert!(!removes_cookie(&response), "the caller keeps its cookie");
    // Its own handle: the session ends and the cookie goes with it.
    let (_, list) = get(&w, "/api/magical-auth/sessions", &mine).await;
    let own_handle = list["sessions"][0]["handle"].as_str().unwrap().to_owned();
    let (status, _, response) = call(&w.auth, revoke(&own_handle)).await;
    assert_eq!(status, 204);
    assert!(removes_cookie(&response), "{:?}", set_cookies(&response));
    assert!(!is_live(&w, &mine).await);
}

/// A memory store that counts its reads.
#[derive(Debug, Clone, Default)]
struct CountingStore {
    inner: glide_core::store::MemoryStore,
    loads: Arc<std::sync::atomic::AtomicUsize>,
}

#[async_trait::async_trait]
impl glide_core::store::Store for CountingStore {
    async fn create(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, glide_core::store::StoreError> {
        self.inner.create(key, value, ttl).await
    }
    async fn load(
        &self,
        key: &str,
    ) -> Result<Option<glide_core::store::Versioned>, glide_core::store::StoreError> {
        self.loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.load(key).await
    }
    async fn compare_and_set(
        &self,
        key: &str,
        expected_version: u64,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, glide_core::store::StoreError> {
        self.inner
            .compare_and_set(key, expected_version, value, ttl)
            .await
    }
    async fn take(
        &self,
        key: &str,
    ) -> Result<Option<glide_core::store::Versioned>, glide_core::store::StoreError> {
        self.inner.take(key).await
    }
    async fn delete(&self, key: &str) -> Result<(), glide_core::store::StoreError> {
        self.inner.delete(key).await
    }
    async fn increment(
        &self,
        key: &str,
        max: u64,
        ttl: Duration,
    ) -> Result<Option<u64>, glide_core::store::StoreError> {
        self.inner.increment(key, max, ttl).await
    }
}

#[tokio::test]
async fn a_busy_process_call_sleeps_until_the_holder_ends_without_polling() {
    let store = CountingStore::default();
    let (sandbox, auth) = crate::endpoint_support::engine::engine(|b| b.store(store.clone())).await;
    let (status, prepared, response) = call(
        &auth,
        post(
            "/api/magical-auth/prepare",
            json!({"use_case": "VerifyPhoneNumber", "phone_number": "+15555550100",
                   "client_info": {"user_agent": ANDROID}}),
            "",
        ),
    )
    .await;
    assert_eq!(status, 200, "{prepared}");
    let key = prepared["session"]["session_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let binding = cookie_pair(&response, &format!("_glide_bind_{key}=")).unwrap();
    let credential = sandbox
        .control()
        .ts43_credential(&key, ORIGIN, None)
        .unwrap();
    // Glide takes 600 ms to answer the holder.
    sandbox.control().add_fault(glide_sandbox::Fault::delay(
        "/magic-auth/v2/auth/verify-phone-number",
        Duration::from_millis(600),
    ));
    let body = json!({"session": {"session_key": key}, "credential": credential});
    let holder = call(
        &auth,
        post("/api/magical-auth/process", body.clone(), &binding),
    );
    let waiter = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let before = store.loads.load(std::sync::atomic::Ordering::SeqCst);
        let answer = call(
            &auth,
            post("/api/magical-auth/process", body.clone(), &binding),
        )
        .await;
        (
            answer,
            store.loads.load(std::sync::atomic::Ordering::SeqCst) - before,
        )
    };
    let ((status, ..), ((waited, body, _), reads)) = tokio::join!(holder, waiter);
    assert_eq!((status, waited), (200, 409), "{body}");
    // Its own reads (the flow, the lease, once more when woken) and the holder's, not one a
    // lapse margin (20 ms) for half a second.
    assert!(reads < 12, "{reads} store reads while waiting");
}

#[tokio::test]
async fn a_session_whose_flow_cannot_be_ended_is_not_kept() {
    let clock = glide_core::clock::ManualClock::new();
    let shared: glide_core::clock::SharedClock = Arc::new(clock.clone());
    let (sandbox, auth) = crate::endpoint_support::engine::engine(move |b| {
        b.store(glide_core::store::MemoryStore::new().with_clock(shared.clone()))
            .clock(shared)
    })
    .await;
    let w = World { sandbox, auth };
    let (key, binding, credential) = ts43_ready(&w, "+15555550100").await;
    // Glide answers late, and meanwhile the flow's record outlives its time and is gone: the
    // session already stored for the answer cannot be tied to an ended flow.
    w.sandbox.control().add_fault(glide_sandbox::Fault::delay(
        "/magic-auth/v2/auth/verify-phone-number",
        Duration::from_millis(300),
    ));
    let body = json!({"session": {"session_key": key}, "credential": credential});
    let process = call(&w.auth, post("/api/magical-auth/process", body, &binding));
    let meanwhile = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        clock.advance(time::Duration::hours(2));
    };
    let ((status, body, response), ()) = tokio::join!(process, meanwhile);
    assert!(status >= 400, "{status} {body}");
    assert!(cookie_pair(&response, "glide_session=").is_none());
    let number = glide_core::PhoneNumber::parse("+15555550100").unwrap();
    assert!(
        w.auth
            .sessions()
            .list(&number, None)
            .await
            .unwrap()
            .is_empty(),
        "the session stored for it was removed, not left in the store"
    );
}

/// A flow lives at most an hour, whatever lifetime Glide's prepare names: a Glide session of
/// ten days still ends the engine's flow record after the hour.
#[tokio::test]
async fn a_flow_lives_at_most_an_hour_whatever_glide_says() {
    use crate::endpoint_support::engine::{cookies, ANDROID, ORIGIN};
    let sandbox = Sandbox::start(
        SandboxConfig::default()
            .with_port(0)
            .with_session_timeout(Duration::from_secs(10 * 24 * 3600)),
    )
    .await
    .expect("sandbox starts");
    let glide = Glide::builder("sandbox-client", "sandbox-secret")
        .base_url(sandbox.base_url().as_str())
        .build()
        .expect("client");
    let clock = glide_core::clock::ManualClock::new();
    let shared: glide_core::clock::SharedClock = Arc::new(clock.clone());
    let auth = GlideAuth::builder(glide)
        .insecure_dev_cookies(true)
        .clock(shared)
        .build()
        .expect("engine");
    let ready = || async {
        let body = json!({"use_case": "VerifyPhoneNumber", "phone_number": "+15555550100",
                          "client_info": {"user_agent": ANDROID}});
        let (status, prepared, response) =
            call(&auth, post("/api/magical-auth/prepare", body, "")).await;
        assert_eq!(status, 200, "{prepared}");
        let key = prepared["session"]["session_key"]
            .as_str()
            .unwrap()
            .to_owned();
        let credential = sandbox
            .control()
            .ts43_credential(&key, ORIGIN, None)
            .unwrap();
        (key, credential, cookies(&response))
    };
    let process = |key: String, credential: String, cookie: String| {
        let auth = &auth;
        async move {
            let body = json!({"session": {"session_key": key}, "credential": credential,
                              "use_case": "VerifyPhoneNumber"});
            call(auth, post("/api/magical-auth/process", body, &cookie)).await
        }
    };
    // Within the hour the flow is there (and verifies).
    let (key, credential, cookie) = ready().await;
    clock.advance(time::Duration::minutes(59));
    let (status, body, _) = process(key, credential, cookie).await;
    assert_eq!(status, 200, "{body}");
    // Past it the flow has ended, though Glide's session would live for days.
    let (key, credential, cookie) = ready().await;
    clock.advance(time::Duration::minutes(61));
    let (status, body, _) = process(key, credential, cookie).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("SESSION_EXPIRED")),
        "{body}"
    );
}
