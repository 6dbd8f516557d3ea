//! A whole engine over the real sandbox, driven as a browser would: TS43 verifications end to
//! end.

use glide_core::api::Glide;
use glide_core::endpoint::{GlideAuth, GlideAuthBuilder};
use glide_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};

use super::{handle, EndpointRequest, EndpointResponse};

/// The app's origin.
pub const ORIGIN: &str = "http://app.test";
/// An Android Chrome user agent (TS43-eligible).
pub const ANDROID: &str =
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36";

/// A sandbox and an engine on it (insecure development cookies), configured by `configure`.
pub async fn engine(
    configure: impl FnOnce(GlideAuthBuilder) -> GlideAuthBuilder,
) -> (Sandbox, GlideAuth) {
    let sandbox = Sandbox::start(SandboxConfig::default().with_port(0))
        .await
        .expect("sandbox starts");
    let glide = Glide::builder("sandbox-client", "sandbox-secret")
        .base_url(sandbox.base_url().as_str())
        .build()
        .expect("sandbox answers");
    let auth = configure(GlideAuth::builder(glide).insecure_dev_cookies(true))
        .build()
        .expect("sandbox answers");
    (sandbox, auth)
}

/// A same-origin JSON POST.
pub fn post(path: &str, body: Value, cookies: &str) -> EndpointRequest {
    let mut headers = vec![
        ("host".to_owned(), "app.test".to_owned()),
        ("origin".to_owned(), ORIGIN.to_owned()),
        ("content-type".to_owned(), "application/json".to_owned()),
    ];
    if !cookies.is_empty() {
        headers.push(("cookie".to_owned(), cookies.to_owned()));
    }
    EndpointRequest {
        method: "POST".into(),
        path: path.into(),
        headers,
        body: body.to_string().into(),
        peer_addr: Some([127, 0, 0, 1].into()),
        ..Default::default()
    }
}

/// Runs `request` through the route its path names: status, JSON body, response.
pub async fn call(auth: &GlideAuth, request: EndpointRequest) -> (u16, Value, EndpointResponse) {
    let route = auth.match_route(&request.path).expect("one of our routes");
    let response = handle(auth, route, request).await;
    let body = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    (response.status, body, response)
}

/// The `name=value` pairs a response sets (removals left out).
pub fn cookies(response: &EndpointResponse) -> String {
    response
        .headers
        .iter()
        .filter(|(n, v)| n == "set-cookie" && !v.contains("Max-Age=0"))
        .filter_map(|(_, v)| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A whole TS43 verification of `phone`: the process answer.
pub async fn verify_ts43(sandbox: &Sandbox, auth: &GlideAuth, phone: &str) -> (u16, Value, String) {
    verify_ts43_as(sandbox, auth, Some(phone), None).await
}

/// A whole TS43 verification: `VerifyPhoneNumber` of `asked`, or `GetPhoneNumber` without;
/// the device's SIM holds `device` (default: the fixture's own number). The process answer,
/// and the cookies it set.
pub async fn verify_ts43_as(
    sandbox: &Sandbox,
    auth: &GlideAuth,
    asked: Option<&str>,
    device: Option<&str>,
) -> (u16, Value, String) {
    let use_case = if asked.is_some() {
        "VerifyPhoneNumber"
    } else {
        "GetPhoneNumber"
    };
    let mut prepare = json!({"use_case": use_case, "client_info": {"user_agent": ANDROID}});
    if let Some(phone) = asked {
        prepare["phone_number"] = json!(phone);
    }
    let (status, prepared, response) =
        call(auth, post("/api/magical-auth/prepare", prepare, "")).await;
    assert_eq!(status, 200, "{prepared}");
    let key = prepared["session"]["session_key"]
        .as_str()
        .expect("sandbox answers")
        .to_owned();
    let credential = sandbox
        .control()
        .ts43_credential(&key, ORIGIN, device)
        .expect("sandbox answers");
    let (status, body, response) = call(
        auth,
        post(
            "/api/magical-auth/process",
            json!({"session": {"session_key": key}, "credential": credential, "use_case": use_case}),
            &cookies(&response),
        ),
    )
    .await;
    (status, body, cookies(&response))
}
