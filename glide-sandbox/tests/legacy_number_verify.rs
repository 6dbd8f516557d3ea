//! Legacy operator OAuth (`/oauth2/auth`, `/oauth2/token`) and Number Verify (SIM swap, Telco
//! Finder and KYC match: `legacy_sdk_surface.rs`).

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::*;
use serde_json::{json, Value};

const CALLBACK: &str = "http://127.0.0.1:3000/api/magical-auth/number-verify/callback";

fn auth_path(extra: &str) -> String {
    format!(
        "/oauth2/auth?client_id=sandbox-client&response_type=code&scope=openid\
&purpose=dpv:FraudPreventionAndDetection:number-verification&nonce=n1&max_age=0{extra}"
    )
}

/// GET a path without following redirects: (status, Location or "", body text).
async fn get_raw(env: &Env, path: &str) -> (u16, String, String) {
    let r = env.http.get(env.url(path)).send().await.expect("get");
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    (status, location, r.text().await.expect("body"))
}

fn query_of(location: &str) -> Vec<(String, String)> {
    let url = url::Url::parse(location).expect("absolute location");
    url.query_pairs().into_owned().collect()
}

fn param(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// POST /oauth2/token with a form body and Basic auth: (status, JSON).
async fn token_form(env: &Env, secret: &str, form: &str) -> (u16, Value) {
    let r = env
        .http
        .post(env.url("/oauth2/token"))
        .basic_auth("sandbox-client", Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned())
        .send()
        .await
        .expect("token");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Exchanges `code`; returns the access token.
async fn exchange(env: &Env, code: &str) -> String {
    let (status, body) = token_form(
        env,
        "sandbox-secret",
        &format!("grant_type=authorization_code&code={code}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(
        body["scope"],
        "openid dpv:FraudPreventionAndDetection:number-verification"
    );
    body["access_token"].as_str().expect("token").to_owned()
}

async fn nv_verify(env: &Env, token: &str, body: &Value) -> (u16, Value) {
    let r = env
        .http
        .post(env.url("/number-verification/verify"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("verify");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn device_number(env: &Env, token: &str) -> (u16, Value) {
    let r = env
        .http
        .get(env.url("/number-verification/device-phone-number"))
        .bearer_auth(token)
        .send()
        .await
        .expect("device number");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// The code of a redirecting /oauth2/auth for `login_hint=tel:{phone}`.
async fn code_for(env: &Env, phone: &str) -> String {
    let (status, location, _) = get_raw(
        env,
        &auth_path(&format!(
            "&state=s&login_hint=tel:{}",
            phone.replace('+', "%2B")
        )),
    )
    .await;
    assert_eq!(status, 302);
    param(&query_of(&location), "code").expect("code")
}

#[tokio::test]
async fn client_credentials_with_scope_and_invalid_client() {
    let env = Env::start().await;
    let (status, body) = token_form(
        &env,
        "sandbox-secret",
        "grant_type=client_credentials&scope=magic-auth",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "magic-auth");
    let token = body["access_token"].as_str().expect("token");
    // The client-credentials token works on the legacy Magic Auth API...
    let r = env
        .http
        .post(env.url("/magic-auth/verification/start"))
        .bearer_auth(token)
        .json(&json!({"phoneNumber": "+15555550100"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    // ...but not on SIM swap, which needs the subscriber's CIBA token (Glide's 401 body)...
    let r = env
        .http
        .post(env.url("/sim-swap/check"))
        .bearer_auth(token)
        .json(&json!({"phoneNumber": "+15555550100"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        (body["code"].as_str(), body["status"].as_u64()),
        (Some("UNAUTHORIZED"), Some(401))
    );
    // ...nor on Number Verify, which needs the code-exchanged token.
    let (status, body) = nv_verify(&env, token, &json!({"phoneNumber": "+15555550100"})).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("UNAUTHORIZED")));
    assert_eq!(body["status"], 401);

    let (status, body) = token_form(&env, "wrong", "grant_type=client_credentials").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = token_form(&env, "sandbox-secret", "grant_type=password").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
}

#[tokio::test]
async fn default_device_redirects_to_configured_callback_with_state_echoed() {
    let env = Env::start().await;
    let state = "a b&c=d/é";
    let encoded: String = url::form_urlencoded::byte_serialize(state.as_bytes()).collect();
    let (status, location, _) = get_raw(&env, &auth_path(&format!("&state={encoded}"))).await;
    assert_eq!(status, 302);
    assert!(location.starts_with(&format!("{CALLBACK}?")), "{location}");
    let pairs = query_of(&location);
    assert_eq!(param(&pairs, "state").as_deref(), Some(state));
    let code = param(&pairs, "code").expect("code");

    let token = exchange(&env, &code).await;
    let (status, body) = device_number(&env, &token).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"devicePhoneNumber": "+15555550100"}));
    let (status, body) = nv_verify(&env, &token, &json!({"phoneNumber": "+15555550100"})).await;
    assert_eq!(
        (status, body),
        (200, json!({"devicePhoneNumberVerified": true}))
    );
}

#[tokio::test]
async fn redirect_uri_and_configured_redirect() {
    let env =
        Env::with(fast_config().with_number_verify_redirect_url("http://127.0.0.1:4000/nv/cb?x=1"))
            .await;
    let (status, location, _) = get_raw(&env, &auth_path("&state=s1")).await;
    assert_eq!(status, 302);
    assert!(
        location.starts_with("http://127.0.0.1:4000/nv/cb?x=1&code="),
        "{location}"
    );
    let (status, location, _) = get_raw(
        &env,
        &auth_path("&state=s2&redirect_uri=https%3A%2F%2Fapp.example%2Fcb"),
    )
    .await;
    assert_eq!(status, 302);
    assert!(
        location.starts_with("https://app.example/cb?code="),
        "{location}"
    );
    assert_eq!(param(&query_of(&location), "state").as_deref(), Some("s2"));
}

#[tokio::test]
async fn login_hint_chooses_the_device_number_and_dev_print() {
    let env = Env::start().await;
    let code = code_for(&env, "+15555550101").await;
    let token = exchange(&env, &code).await;
    let (_, body) = device_number(&env, &token).await;
    assert_eq!(body["devicePhoneNumber"], "+15555550101");
    // hashedPhoneNumber: the SHA-256 hex of the E.164 text (either case).
    let hashed = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"+15555550101"));
    let (status, body) = nv_verify(
        &env,
        &token,
        &json!({"hashedPhoneNumber": hashed.to_ascii_uppercase()}),
    )
    .await;
    assert_eq!(
        (status, body["devicePhoneNumberVerified"].as_bool()),
        (200, Some(true))
    );
    let other = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"+15555550100"));
    let (_, body) = nv_verify(&env, &token, &json!({"hashedPhoneNumber": other})).await;
    assert_eq!(body["devicePhoneNumberVerified"], false);

    // dev_print: JSON instead of a redirect.
    let r = env
        .http
        .get(env.url(&auth_path(
            "&state=s&dev_print=true&login_hint=tel:%2B15555550102",
        )))
        .send()
        .await
        .expect("dev_print");
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.expect("json");
    let code = body["code"].as_str().expect("code").to_owned();
    let token = exchange(&env, &code).await;
    let (_, body) = device_number(&env, &token).await;
    assert_eq!(body["devicePhoneNumber"], "+15555550102");
}

#[tokio::test]
async fn fixture_105_device_is_199_and_cross_number_is_refused() {
    let env = Env::start().await;
    let token = exchange(&env, &code_for(&env, "+15555550105").await).await;
    let (_, body) = device_number(&env, &token).await;
    assert_eq!(body["devicePhoneNumber"], "+15555550199");
    let (_, body) = nv_verify(&env, &token, &json!({"phoneNumber": "+15555550105"})).await;
    assert_eq!(body["devicePhoneNumberVerified"], false);

    // A code minted for one number does not verify another.
    let code = env.sandbox.control().number_verify_code("+15555550100");
    let token = exchange(&env, &code).await;
    let (status, body) = nv_verify(&env, &token, &json!({"phoneNumber": "+15555550103"})).await;
    assert_eq!(
        (status, body["devicePhoneNumberVerified"].as_bool()),
        (200, Some(false))
    );
    let (_, body) = nv_verify(&env, &token, &json!({"phoneNumber": "+15555550100"})).await;
    assert_eq!(body["devicePhoneNumberVerified"], true);
}

#[tokio::test]
async fn denied_user_unknown_client_and_bad_response_type() {
    let env = Env::start().await;
    let (status, location, _) =
        get_raw(&env, &auth_path("&state=st8&login_hint=tel:%2B15555550108")).await;
    assert_eq!(status, 302);
    let pairs = query_of(&location);
    assert_eq!(param(&pairs, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&pairs, "state").as_deref(), Some("st8"));
    assert_eq!(param(&pairs, "code"), None);

    let r = env
        .http
        .get(env.url(&auth_path("&dev_print=true&login_hint=tel:%2B15555550108")))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 403);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "access_denied");

    let (status, location, _) = get_raw(&env, &auth_path("&state=s&login_hint=5555550100")).await;
    assert_eq!(status, 302);
    assert_eq!(
        param(&query_of(&location), "error").as_deref(),
        Some("invalid_request")
    );
    let (status, _, _) = get_raw(&env, &auth_path("&redirect_uri=not%20a%20url")).await;
    assert_eq!(status, 400);

    let r = env
        .http
        .get(env.url("/oauth2/auth?client_id=someone-else&response_type=code&state=s"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "invalid_client");

    let (status, location, _) = get_raw(
        &env,
        "/oauth2/auth?client_id=sandbox-client&response_type=token&state=s9",
    )
    .await;
    assert_eq!(status, 302);
    let pairs = query_of(&location);
    assert!(location.starts_with(CALLBACK));
    assert_eq!(
        param(&pairs, "error").as_deref(),
        Some("unsupported_response_type")
    );
    assert_eq!(param(&pairs, "state").as_deref(), Some("s9"));
}

#[tokio::test]
async fn code_is_single_use_and_bad_codes_are_invalid_grant() {
    let env = Env::start().await;
    let code = code_for(&env, "+15555550100").await;
    exchange(&env, &code).await;
    let form = format!("grant_type=authorization_code&code={code}");
    let (status, body) = token_form(&env, "sandbox-secret", &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = token_form(
        &env,
        "sandbox-secret",
        "grant_type=authorization_code&code=not-a-code",
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Wrong client secret: invalid_client, and the code is not spent.
    let code = code_for(&env, "+15555550100").await;
    let form = format!("grant_type=authorization_code&code={code}");
    let (status, body) = token_form(&env, "wrong", &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    exchange(&env, &code).await;
}

#[tokio::test]
async fn code_expires() {
    let env = Env::with(fast_config().with_legacy_code_lifetime(Duration::from_millis(150))).await;
    let code = code_for(&env, "+15555550100").await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let form = format!("grant_type=authorization_code&code={code}");
    let (status, body) = token_form(&env, "sandbox-secret", &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn verify_argument_errors_and_missing_token() {
    let env = Env::start().await;
    let token = exchange(&env, &code_for(&env, "+15555550100").await).await;
    let hashed = "0".repeat(64);
    for bad in [
        json!({}),
        json!({"phoneNumber": "+15555550100", "hashedPhoneNumber": hashed}),
        json!({"phoneNumber": "5555550100"}),
        json!({"hashedPhoneNumber": "abc"}),
    ] {
        let (status, body) = nv_verify(&env, &token, &bad).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("INVALID_ARGUMENT")),
            "{bad}"
        );
    }
    let r = env
        .http
        .get(env.url("/number-verification/device-phone-number"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);
    let (status, _) = device_number(&env, "forged").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_access_token_is_a_jwt_naming_the_operator() {
    let env = Env::start().await;
    for _ in 0..20 {
        let token = exchange(&env, &code_for(&env, "+15555550100").await).await;
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "{token}");
        // Glide's Python SDK decodes the payload with *standard* base64 plus "==".
        assert!(!parts[1].contains(['-', '_']), "{token}");
        let payload = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(parts[1])
            .expect("standard base64");
        let claims: Value = serde_json::from_slice(&payload).expect("JSON payload");
        assert_eq!(claims["ext"]["operator"], "sandbox-mobile");
        assert_eq!(claims["aud"], "sandbox-client");
        assert!(
            !claims.to_string().contains("5555550100"),
            "no number in the token"
        );
        // and it still works as the Number Verify token
        let (status, body) = nv_verify(&env, &token, &json!({"phoneNumber": "+15555550100"})).await;
        assert_eq!(
            (status, body["devicePhoneNumberVerified"].as_bool()),
            (200, Some(true))
        );
    }
}

#[tokio::test]
async fn secrets_are_redacted_in_the_request_log() {
    let env = Env::start().await;
    let code = code_for(&env, "+15555550100").await;
    exchange(&env, &code).await;
    let log = env.sandbox.control().requests();
    let text = serde_json::to_string(&log).expect("json");
    assert!(!text.contains(&code), "the code leaked into the log");
    assert!(log
        .iter()
        .any(|r| r.path == "/oauth2/token" && r.body["code"] == "[REDACTED]"));
}

/// The claims of a compact JWS (payload decoded, signature not checked here).
fn claims_of(jws: &str) -> Value {
    let parts: Vec<&str> = jws.split('.').collect();
    assert_eq!(parts.len(), 3, "{jws}");
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[1])
        .expect("base64url payload");
    serde_json::from_slice(&payload).expect("JSON claims")
}

/// RFC 7636 appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The code of a redirecting /oauth2/auth with `extra` (PKCE, nonce) for the default device.
async fn code_with(env: &Env, extra: &str) -> String {
    let (status, location, body) = get_raw(
        env,
        &format!(
            "/oauth2/auth?client_id=sandbox-client&response_type=code&scope=openid&state=s{extra}"
        ),
    )
    .await;
    assert_eq!(status, 302, "{body}");
    param(&query_of(&location), "code").unwrap_or_else(|| panic!("no code: {location}"))
}

#[tokio::test]
async fn pkce_binds_the_code_to_its_verifier_and_the_id_token_to_its_nonce() {
    let env = Env::start().await;
    let code = code_with(
        &env,
        &format!("&nonce=flow-a&code_challenge={CHALLENGE}&code_challenge_method=S256"),
    )
    .await;
    let other = "A".repeat(43);
    for (what, extra) in [
        ("no verifier", String::new()),
        ("another flow's verifier", format!("&code_verifier={other}")),
        ("a malformed verifier", "&code_verifier=short".to_owned()),
        (
            "the challenge itself",
            format!("&code_verifier={CHALLENGE}"),
        ),
    ] {
        let form = format!("grant_type=authorization_code&code={code}{extra}");
        let (status, body) = token_form(&env, "sandbox-secret", &form).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{what}: {body}"
        );
        assert!(body.get("access_token").is_none(), "{what}");
    }
    // The refused attempts did not spend the code: its own flow redeems it, once.
    let form = format!("grant_type=authorization_code&code={code}&code_verifier={VERIFIER}");
    let (status, body) = token_form(&env, "sandbox-secret", &form).await;
    assert_eq!(status, 200, "{body}");
    let claims = claims_of(body["id_token"].as_str().expect("id_token"));
    assert_eq!(claims["nonce"], "flow-a");
    assert_eq!(claims["aud"], "sandbox-client");
    assert_eq!(claims["iss"], "glide-sandbox");
    assert!(claims["exp"].as_i64() > claims["iat"].as_i64());
    assert!(!claims.to_string().contains("5555550100"), "no number");
    let token = body["access_token"].as_str().expect("token");
    let (_, verified) = nv_verify(&env, token, &json!({"phoneNumber": "+15555550100"})).await;
    assert_eq!(verified["devicePhoneNumberVerified"], true);
    let (status, body) = token_form(&env, "sandbox-secret", &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "replayed code: {body}"
    );

    // The request log never shows the verifier.
    let log = serde_json::to_string(&env.sandbox.control().requests()).expect("json");
    assert!(!log.contains(VERIFIER), "the verifier leaked into the log");
}

#[tokio::test]
async fn without_pkce_nothing_is_bound_and_a_verifier_is_a_downgrade() {
    let env = Env::start().await;
    // As Glide's SDKs: a nonce, no PKCE. A verifier is refused (RFC 9700 §4.8.2) and the
    // refusal leaves the code; without one the exchange works and the ID token has the nonce.
    let code = code_with(&env, "&nonce=sdk-nonce").await;
    let form = format!("grant_type=authorization_code&code={code}&code_verifier={VERIFIER}");
    let (status, body) = token_form(&env, "sandbox-secret", &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, body) = token_form(
        &env,
        "sandbox-secret",
        &format!("grant_type=authorization_code&code={code}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims_of(body["id_token"].as_str().expect("id_token"))["nonce"],
        "sdk-nonce"
    );
    // No nonce (or an empty one) in the request: none in the ID token.
    for extra in ["", "&nonce="] {
        let code = code_with(&env, extra).await;
        let (_, body) = token_form(
            &env,
            "sandbox-secret",
            &format!("grant_type=authorization_code&code={code}"),
        )
        .await;
        let claims = claims_of(body["id_token"].as_str().expect("id_token"));
        assert!(claims.get("nonce").is_none(), "{extra:?}: {claims}");
    }
}

#[tokio::test]
async fn malformed_pkce_requests_are_invalid_request() {
    let env = Env::start().await;
    for (what, extra) in [
        (
            "plain method",
            format!("&code_challenge={CHALLENGE}&code_challenge_method=plain"),
        ),
        (
            "no method (plain by default)",
            format!("&code_challenge={CHALLENGE}"),
        ),
        (
            "short challenge",
            "&code_challenge=abc&code_challenge_method=S256".to_owned(),
        ),
        (
            "challenge with padding",
            format!(
                "&code_challenge={}%3D&code_challenge_method=S256",
                &CHALLENGE[..42]
            ),
        ),
        ("oversized nonce", format!("&nonce={}", "n".repeat(513))),
    ] {
        let (status, location, _) = get_raw(
            &env,
            &format!("/oauth2/auth?client_id=sandbox-client&response_type=code&state=st{extra}"),
        )
        .await;
        assert_eq!(status, 302, "{what}");
        let pairs = query_of(&location);
        assert_eq!(
            param(&pairs, "error").as_deref(),
            Some("invalid_request"),
            "{what}: {location}"
        );
        assert_eq!(param(&pairs, "state").as_deref(), Some("st"), "{what}");
        assert_eq!(param(&pairs, "code"), None, "{what}");
    }
}

#[tokio::test]
async fn an_operator_without_pkce_ignores_challenge_and_verifier() {
    let env = Env::with(fast_config().with_number_verify_pkce(false)).await;
    // Even a malformed challenge is just an unknown parameter.
    let code = code_with(
        &env,
        "&nonce=flow-a&code_challenge=abc&code_challenge_method=plain",
    )
    .await;
    let other = "A".repeat(43);
    let form = format!("grant_type=authorization_code&code={code}&code_verifier={other}");
    let (status, body) = token_form(&env, "sandbox-secret", &form).await;
    assert_eq!(status, 200, "{body}");
    // Only the nonce tells which request the code answers.
    assert_eq!(
        claims_of(body["id_token"].as_str().expect("id_token"))["nonce"],
        "flow-a"
    );
    let (status, _) = token_form(&env, "sandbox-secret", &form).await;
    assert_eq!(status, 400, "single use all the same");
}
