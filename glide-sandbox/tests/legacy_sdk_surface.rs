//! Glide's legacy API as its official Python SDK (`glide-sdk` 1.0.8) calls it: every call of
//! the SDK's endpoint table, with the SDK's exact request shapes — auth base and API base on
//! the sandbox, HTTP Basic client authentication, form bodies for the OAuth endpoints,
//! camelCase JSON bodies, `Authorization: Bearer` — and checks that every answer carries what
//! the SDK's pydantic models require. Plus the SIM swap, Device Swap (CAMARA `device-swap` v1,
//! which the SDK does not call), Telco Finder and KYC fixtures and the refusals around the CIBA
//! token.

mod common;

use base64::Engine as _;
use common::*;
use serde_json::{json, Value};

const CLIENT: &str = "sandbox-client";
const SECRET: &str = "sandbox-secret";

/// The SDK's form POST to the auth base: Basic auth, `application/x-www-form-urlencoded`.
async fn form(env: &Env, path: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let r = env
        .http
        .post(env.url(path))
        .header(
            "authorization",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT}:{SECRET}"))
            ),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("form post");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// The SDK's JSON call to the API base with a bearer token.
async fn api(
    env: &Env,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = match method {
        "GET" => env.http.get(env.url(path)),
        _ => env.http.post(env.url(path)),
    }
    .header("authorization", format!("Bearer {token}"))
    .header("content-type", "application/json");
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    let r = request.send().await.expect("api call");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// What every SDK session needs from a token answer: `access_token`, `expires_in` (seconds) and
/// a space-separated `scope`.
fn session_of(status: u16, body: &Value, scope_ends_with: &str) -> String {
    assert_eq!(status, 200, "{body}");
    assert!(
        body["expires_in"].as_u64().is_some_and(|s| s > 60),
        "{body}"
    );
    let scopes = body["scope"].as_str().expect("scope");
    assert!(
        scopes.split(' ').any(|s| s.ends_with(scope_ends_with)),
        "{scope_ends_with} in {scopes}"
    );
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// `grant_type=client_credentials&scope=…` at `{auth}/oauth2/token`.
async fn client_credentials(env: &Env, scope: &str) -> String {
    let (status, body) = form(
        env,
        "/oauth2/token",
        &[("grant_type", "client_credentials"), ("scope", scope)],
    )
    .await;
    let token = session_of(status, &body, scope);
    assert!(body["scope"]
        .as_str()
        .is_some_and(|s| s.split(' ').any(|s| s == scope)));
    token
}

/// The SDK's `for_user(phone_number=…)` + session: backchannel authentication, then the CIBA
/// grant. Returns the token.
async fn ciba(env: &Env, scope: &str, login_hint: &str) -> String {
    let (status, started) = form(
        env,
        "/oauth2/backchannel-authentication",
        &[("scope", scope), ("login_hint", login_hint)],
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let auth_req_id = started["auth_req_id"].as_str().expect("auth_req_id");
    assert!(started["expires_in"].as_u64().is_some() && started["interval"].as_u64().is_some());
    let (status, body) = form(
        env,
        "/oauth2/token",
        &[
            ("grant_type", "urn:openid:params:grant-type:ciba"),
            ("auth_req_id", auth_req_id),
        ],
    )
    .await;
    session_of(status, &body, scope)
}

/// The Python SDK's `format_phone_number`: digits only, `+` prefixed.
fn sdk_format(number: &str) -> String {
    format!(
        "+{}",
        number
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
    )
}

async fn otp(env: &Env, body: Value) -> String {
    let r = env
        .http
        .post(env.url("/sandbox/legacy/otp"))
        .json(&body)
        .send()
        .await
        .expect("otp");
    let body: Value = r.json().await.expect("json");
    body["code"].as_str().expect("code").to_owned()
}

#[tokio::test]
async fn magic_auth_start_verify_and_server_auth() {
    let env = Env::start().await;
    let token = client_credentials(&env, "magic-auth").await;

    // start_auth(phone_number) → MAGIC: authUrl, flatAuthUrl, operatorId (all required)
    let (status, started) = api(
        &env,
        "POST",
        "/magic-auth/verification/start",
        &token,
        Some(json!({"phoneNumber": "+15555550100"})),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    assert_eq!(started["type"], "MAGIC");
    for field in ["authUrl", "flatAuthUrl", "operatorId"] {
        assert!(started[field].is_string(), "{field}: {started}");
    }
    // the device follows the authUrl; the final answer carries the `token` header
    let follow = reqwest::Client::new();
    let page = follow
        .get(started["authUrl"].as_str().expect("url"))
        .send()
        .await
        .expect("auth url");
    let magic = page.headers()["token"].to_str().expect("token").to_owned();
    // verify_auth(phone_number, token)
    let (status, body) = api(
        &env,
        "POST",
        "/magic-auth/verification/check",
        &token,
        Some(json!({"phoneNumber": "+15555550100", "token": magic})),
    )
    .await;
    assert_eq!((status, body), (200, json!({"verified": true})));

    // not eligible: the requested fallback channel, the code filed under the number
    for (number, channel) in [("+15555550106", "SMS"), ("+15555550109", "EMAIL")] {
        let (status, body) = api(
            &env,
            "POST",
            "/magic-auth/verification/start",
            &token,
            Some(json!({"phoneNumber": number, "fallbackChannel": channel})),
        )
        .await;
        assert_eq!((status, body), (200, json!({"type": channel})), "{number}");
        let code = otp(&env, json!({"phone_number": number})).await;
        let (_, body) = api(
            &env,
            "POST",
            "/magic-auth/verification/check",
            &token,
            Some(json!({"phoneNumber": number, "code": code, "deviceIpAddress": "203.0.113.7"})),
        )
        .await;
        assert_eq!(body, json!({"verified": true}), "{number}");
    }
    // start_auth(email) / verify_auth(email, code)
    let (_, body) = api(
        &env,
        "POST",
        "/magic-auth/verification/start",
        &token,
        Some(json!({"email": "ann@example.com"})),
    )
    .await;
    assert_eq!(body, json!({"type": "EMAIL"}));
    let code = otp(&env, json!({"email": "ann@example.com"})).await;
    let (_, body) = api(
        &env,
        "POST",
        "/magic-auth/verification/check",
        &token,
        Some(json!({"email": "ann@example.com", "code": code})),
    )
    .await;
    assert_eq!(body, json!({"verified": true}));

    // start_server_auth / check_server_auth (GET ?sessionId=)
    let (status, server) = api(
        &env,
        "POST",
        "/magic-auth/verification/start-server-auth",
        &token,
        Some(
            json!({"phoneNumber": "+15555550100", "otpConfirmationUrl": "https://app.example/otp"}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{server}");
    let session_id = server["sessionId"].as_str().expect("sessionId").to_owned();
    let auth_url = server["authUrl"].as_str().expect("authUrl").to_owned();
    let check = format!("/magic-auth/verification/check-server-auth?sessionId={session_id}");
    let (_, body) = api(&env, "GET", &check, &token, None).await;
    assert_eq!(body, json!({"status": "PENDING", "verified": false}));
    let approved = follow
        .get(format!("{auth_url}?decision=approve"))
        .send()
        .await
        .expect("approve");
    assert!(approved.status().is_success() || approved.status().is_redirection());
    let (_, body) = api(&env, "GET", &check, &token, None).await;
    assert_eq!(body, json!({"status": "COMPLETED", "verified": true}));
}

#[tokio::test]
async fn number_verify_auth_url_code_exchange_operator_and_verify() {
    let env = Env::start().await;
    // get_auth_url(use_dev_number, print_code=True): exactly the SDK's query
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", CLIENT),
            ("response_type", "code"),
            ("scope", "openid"),
            (
                "purpose",
                "dpv:FraudPreventionAndDetection:number-verification",
            ),
            ("state", "0b6a3f5e-2f0e-4a43-9a57-3c0d3b2f8a11"),
            ("nonce", "6f1c2f44-1d5b-4f0e-8f0c-8f4b6c9e2d10"),
            ("max_age", "0"),
            ("dev_print", "true"),
            ("login_hint", "tel:+15555550100"),
        ])
        .finish();
    let r = env
        .http
        .get(env.url(&format!("/oauth2/auth?{query}")))
        .send()
        .await
        .expect("auth url");
    assert_eq!(r.status().as_u16(), 200);
    let code: Value = r.json().await.expect("json");
    let code = code["code"].as_str().expect("code").to_owned();
    // for_user(code): no redirect_uri in the exchange
    let (status, body) = form(
        &env,
        "/oauth2/token",
        &[("grant_type", "authorization_code"), ("code", &code)],
    )
    .await;
    let token = session_of(status, &body, "number-verification");
    // The SDK sends no PKCE: nothing is asked of it, and the ID token (which it ignores)
    // carries its nonce.
    let id_token = body["id_token"].as_str().expect("id_token");
    let id_claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(id_token.split('.').nth(1).expect("a JWT"))
            .expect("base64url"),
    )
    .expect("json");
    assert_eq!(id_claims["nonce"], "6f1c2f44-1d5b-4f0e-8f0c-8f4b6c9e2d10");
    // get_operator(): base64.b64decode(token.split('.')[1] + '==') → ext.operator
    let payload = token.split('.').nth(1).expect("a JWT");
    assert!(
        !payload.contains(['-', '_']),
        "standard base64 must read it"
    );
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(payload)
            .expect("base64"),
    )
    .expect("json");
    assert_eq!(claims["ext"]["operator"], "sandbox-mobile");
    // verify_number(): the number as given
    for (number, verified) in [("+15555550100", true), ("+15555550101", false)] {
        let (status, body) = api(
            &env,
            "POST",
            "/number-verification/verify",
            &token,
            Some(json!({"phoneNumber": number})),
        )
        .await;
        assert_eq!(
            (status, body),
            (200, json!({"devicePhoneNumberVerified": verified}))
        );
    }
}

#[tokio::test]
async fn sim_swap_with_ciba_answers_every_fixture() {
    let env = Env::start().await;
    let now = time::OffsetDateTime::now_utc();
    // number, hours since the SIM changed (None: never; its activation date)
    for (typed, hours) in [
        ("+1 (555) 555-0100", None),
        ("+15555550101", Some(2)),
        ("+15555550103", Some(20 * 24)),
        ("+15555550109", Some(2)),
        ("+15555550142", None),
    ] {
        let number = sdk_format(typed);
        let token = ciba(&env, "sim-swap", &format!("tel:{number}")).await;
        // retrieve_date(): `latestSimChange` is a string (never null: the SDK's model)
        let (status, body) = api(
            &env,
            "POST",
            "/sim-swap/retrieve-date",
            &token,
            Some(json!({"phoneNumber": number})),
        )
        .await;
        assert_eq!(status, 200, "{number}: {body}");
        let text = body["latestSimChange"]
            .as_str()
            .expect("a date, never null");
        let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .expect("RFC 3339");
        let age_hours = (now - at).whole_hours();
        match hours {
            Some(h) => assert!((h - 1..=h).contains(&age_hours), "{number}: {text}"),
            None => assert!(age_hours > 365 * 24, "{number}: activation date {text}"),
        }
        // check(maxAge): swapped within the window, in hours
        for (max_age, expected) in [(1, false), (3, true), (2400, true)] {
            let expected = expected && hours.is_some_and(|h| h <= max_age);
            let (status, body) = api(
                &env,
                "POST",
                "/sim-swap/check",
                &token,
                Some(json!({"phoneNumber": number, "maxAge": max_age})),
            )
            .await;
            assert_eq!(
                (status, body),
                (200, json!({"swapped": expected})),
                "{number} maxAge {max_age}"
            );
        }
        let (_, body) = api(
            &env,
            "POST",
            "/sim-swap/check",
            &token,
            Some(json!({"phoneNumber": number})),
        )
        .await;
        assert_eq!(
            body,
            json!({"swapped": hours.is_some_and(|h| h <= 240)}),
            "{number} default 240 h"
        );
    }
    // carrier not supported: CAMARA's 422
    let token = ciba(&env, "sim-swap", "tel:+15555550104").await;
    for path in ["/sim-swap/retrieve-date", "/sim-swap/check"] {
        let (status, body) = api(
            &env,
            "POST",
            path,
            &token,
            Some(json!({"phoneNumber": "+15555550104"})),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("SERVICE_NOT_APPLICABLE")),
            "{path}"
        );
    }
    // ipport hint: the device behind any address is +15555550100; the body may omit the number
    let token = ciba(&env, "sim-swap", "ipport:203.0.113.7:4433").await;
    let (status, body) = api(&env, "POST", "/sim-swap/check", &token, Some(json!({}))).await;
    assert_eq!((status, body), (200, json!({"swapped": false})));
}

#[tokio::test]
async fn sim_swap_refuses_other_tokens_and_bad_input() {
    let env = Env::start().await;
    let body = json!({"phoneNumber": "+15555550101"});
    // the client-credentials token is not a subscriber token: Glide's 401 body
    let cc = client_credentials(&env, "magic-auth").await;
    for path in ["/sim-swap/check", "/sim-swap/retrieve-date"] {
        let (status, resp) = api(&env, "POST", path, &cc, Some(body.clone())).await;
        assert_eq!(
            (status, resp["code"].as_str(), resp["status"].as_u64()),
            (401, Some("UNAUTHORIZED"), Some(401)),
            "{path}"
        );
    }
    let (status, _) = api(
        &env,
        "POST",
        "/sim-swap/check",
        "forged",
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 401);
    // a KYC token is not a SIM swap token
    let kyc = ciba(&env, "kyc-match", "tel:+15555550101").await;
    let (status, resp) = api(&env, "POST", "/sim-swap/check", &kyc, Some(body.clone())).await;
    assert_eq!(
        (status, resp["code"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );
    // a token for one number does not answer for another
    let token = ciba(&env, "sim-swap", "tel:+15555550101").await;
    let (status, resp) = api(
        &env,
        "POST",
        "/sim-swap/check",
        &token,
        Some(json!({"phoneNumber": "+15555550100"})),
    )
    .await;
    assert_eq!(
        (status, resp["code"].as_str()),
        (403, Some("INVALID_TOKEN_CONTEXT"))
    );
    for (bad, code) in [
        (
            json!({"phoneNumber": "+15555550101", "maxAge": 0}),
            "OUT_OF_RANGE",
        ),
        (
            json!({"phoneNumber": "+15555550101", "maxAge": 2401}),
            "OUT_OF_RANGE",
        ),
        (
            json!({"phoneNumber": "+15555550101", "maxAge": "24"}),
            "INVALID_ARGUMENT",
        ),
        (json!({"phoneNumber": "nope"}), "INVALID_ARGUMENT"),
    ] {
        let (status, resp) = api(&env, "POST", "/sim-swap/check", &token, Some(bad.clone())).await;
        assert_eq!((status, resp["code"].as_str()), (400, Some(code)), "{bad}");
    }

    // the backchannel request: client authentication, scope and hint are checked
    let (status, resp) = env
        .http
        .post(env.url("/oauth2/backchannel-authentication"))
        .basic_auth(CLIENT, Some("wrong"))
        .form(&[("scope", "sim-swap"), ("login_hint", "tel:+15555550101")])
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))
        .expect("send");
    assert_eq!(status, 401);
    assert_eq!(
        resp.json::<Value>().await.expect("json")["error"],
        "invalid_client"
    );
    for (pairs, error) in [
        (
            vec![("scope", "magic-auth"), ("login_hint", "tel:+15555550101")],
            "invalid_scope",
        ),
        (vec![("scope", "sim-swap")], "invalid_request"),
        (
            vec![("scope", "sim-swap"), ("login_hint", "tel:5555550101")],
            "unknown_user_id",
        ),
    ] {
        let (status, resp) = form(&env, "/oauth2/backchannel-authentication", &pairs).await;
        assert_eq!(
            (status, resp["error"].as_str()),
            (400, Some(error)),
            "{pairs:?}"
        );
    }
    // an auth_req_id is single use; an unknown one is invalid_grant
    let (_, started) = form(
        &env,
        "/oauth2/backchannel-authentication",
        &[("scope", "sim-swap"), ("login_hint", "tel:+15555550101")],
    )
    .await;
    let id = started["auth_req_id"].as_str().expect("id");
    let grant = [
        ("grant_type", "urn:openid:params:grant-type:ciba"),
        ("auth_req_id", id),
    ];
    assert_eq!(form(&env, "/oauth2/token", &grant).await.0, 200);
    let (status, resp) = form(&env, "/oauth2/token", &grant).await;
    assert_eq!(
        (status, resp["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let log = serde_json::to_string(&env.sandbox.control().requests()).expect("json");
    assert!(
        !log.contains(id),
        "the auth_req_id leaked into the request log"
    );
    assert!(log.contains("backchannel-authentication"));
    // the CIBA endpoint's alias
    let (status, _) = form(
        &env,
        "/bc-authorize",
        &[
            ("scope", "openid sim-swap"),
            ("login_hint", "tel:+15555550101"),
        ],
    )
    .await;
    assert_eq!(status, 200);
}

/// The Device Swap API (`/device-swap/v1/*`, CIBA scope `device-swap`) answers each fixture
/// consistently with its Magical Auth `device_swap` signal: `+15555550102` changed 36 hours ago
/// (`1-2 days`, high risk on Magical Auth), `+15555550104` not supported (no `device_swap` on
/// Magical Auth: 422, as the SIM swap routes answer), every other number never.
#[tokio::test]
async fn device_swap_with_ciba_answers_every_fixture() {
    let env = Env::start().await;
    let now = time::OffsetDateTime::now_utc();
    // number, hours since the device changed (None: never)
    for (number, hours) in [
        ("+15555550100", None),
        ("+15555550101", None),
        ("+15555550102", Some(36)),
        ("+15555550103", None),
        ("+15555550142", None),
    ] {
        let token = ciba(&env, "device-swap", &format!("tel:{number}")).await;
        let (status, body) = api(
            &env,
            "POST",
            "/device-swap/v1/retrieve-date",
            &token,
            Some(json!({"phoneNumber": number})),
        )
        .await;
        assert_eq!(status, 200, "{number}: {body}");
        assert!(body.get("latestSimChange").is_none(), "{number}: {body}");
        let text = body["latestDeviceChange"]
            .as_str()
            .unwrap_or_else(|| panic!("{number}: a date, never null: {body}"));
        let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .expect("RFC 3339");
        let age_hours = (now - at).whole_hours();
        match hours {
            Some(h) => assert!((h - 1..=h).contains(&age_hours), "{number}: {text}"),
            None => assert!(age_hours > 365 * 24, "{number}: first-seen date {text}"),
        }
        for (max_age, expected) in [(24, false), (48, true), (2400, true)] {
            let expected = expected && hours.is_some_and(|h| h <= max_age);
            let (status, body) = api(
                &env,
                "POST",
                "/device-swap/v1/check",
                &token,
                Some(json!({"phoneNumber": number, "maxAge": max_age})),
            )
            .await;
            assert_eq!(
                (status, body),
                (200, json!({"swapped": expected})),
                "{number} maxAge {max_age}"
            );
        }
        // the body may omit the number (it comes from the token); default window 240 h
        let (status, body) = api(
            &env,
            "POST",
            "/device-swap/v1/check",
            &token,
            Some(json!({})),
        )
        .await;
        assert_eq!(
            (status, body),
            (200, json!({"swapped": hours.is_some_and(|h| h <= 240)})),
            "{number} default 240 h"
        );
    }
    let token = ciba(&env, "device-swap", "tel:+15555550104").await;
    for path in ["/device-swap/v1/retrieve-date", "/device-swap/v1/check"] {
        let (status, body) = api(
            &env,
            "POST",
            path,
            &token,
            Some(json!({"phoneNumber": "+15555550104"})),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str(), body["status"].as_u64()),
            (422, Some("SERVICE_NOT_APPLICABLE"), Some(422)),
            "{path}: {body}"
        );
    }
}

/// A Device Swap call needs a `device-swap` CIBA token for the same number: a client-credentials
/// token is 401, a SIM swap or KYC token 403 `PERMISSION_DENIED` (and a device-swap token does
/// not open the SIM swap routes), another number 403 `INVALID_TOKEN_CONTEXT`; `maxAge` and
/// `phoneNumber` are validated as on SIM swap.
#[tokio::test]
async fn device_swap_refuses_other_tokens_and_bad_input() {
    let env = Env::start().await;
    let body = json!({"phoneNumber": "+15555550102"});
    let cc = client_credentials(&env, "magic-auth").await;
    for path in ["/device-swap/v1/check", "/device-swap/v1/retrieve-date"] {
        let (status, resp) = api(&env, "POST", path, &cc, Some(body.clone())).await;
        assert_eq!(
            (status, resp["code"].as_str()),
            (401, Some("UNAUTHORIZED")),
            "{path}"
        );
        for scope in ["sim-swap", "kyc-match"] {
            let other = ciba(&env, scope, "tel:+15555550102").await;
            let (status, resp) = api(&env, "POST", path, &other, Some(body.clone())).await;
            assert_eq!(
                (status, resp["code"].as_str()),
                (403, Some("PERMISSION_DENIED")),
                "{scope} token on {path}"
            );
        }
    }
    let token = ciba(&env, "device-swap", "tel:+15555550102").await;
    for path in ["/sim-swap/check", "/sim-swap/retrieve-date"] {
        let (status, resp) = api(&env, "POST", path, &token, Some(body.clone())).await;
        assert_eq!(
            (status, resp["code"].as_str()),
            (403, Some("PERMISSION_DENIED")),
            "device-swap token on {path}"
        );
    }
    let (status, resp) = api(
        &env,
        "POST",
        "/device-swap/v1/retrieve-date",
        &token,
        Some(json!({"phoneNumber": "+15555550100"})),
    )
    .await;
    assert_eq!(
        (status, resp["code"].as_str()),
        (403, Some("INVALID_TOKEN_CONTEXT"))
    );
    for (bad, code) in [
        (json!({"maxAge": 0}), "OUT_OF_RANGE"),
        (json!({"maxAge": 2401}), "OUT_OF_RANGE"),
        (json!({"maxAge": "24"}), "INVALID_ARGUMENT"),
        (json!({"phoneNumber": "nope"}), "INVALID_ARGUMENT"),
    ] {
        let (status, resp) = api(
            &env,
            "POST",
            "/device-swap/v1/check",
            &token,
            Some(bad.clone()),
        )
        .await;
        assert_eq!((status, resp["code"].as_str()), (400, Some(code)), "{bad}");
    }
    // the grant names its scope
    let (_, started) = form(
        &env,
        "/oauth2/backchannel-authentication",
        &[("scope", "device-swap"), ("login_hint", "tel:+15555550102")],
    )
    .await;
    let id = started["auth_req_id"].as_str().expect("id");
    let (status, granted) = form(
        &env,
        "/oauth2/token",
        &[
            ("grant_type", "urn:openid:params:grant-type:ciba"),
            ("auth_req_id", id),
        ],
    )
    .await;
    assert_eq!(
        (status, granted["scope"].as_str()),
        (200, Some("device-swap"))
    );
}

/// `with_code_only_numbers`: the legacy starts offer codes instead of the carrier link for the
/// numbers named, whose other behaviour stays their fixture's (`+15555550102`: its device
/// change); other numbers still get the link.
#[tokio::test]
async fn code_only_numbers_fall_back_to_codes_and_keep_their_signals() {
    let env = Env::with(fast_config().with_code_only_numbers(["+15555550102"])).await;
    let token = client_credentials(&env, "magic-auth").await;
    for (number, fallback, expected) in [
        ("+15555550102", "SMS", "SMS"),
        ("+15555550102", "EMAIL", "EMAIL"),
        ("+15555550100", "SMS", "MAGIC"),
    ] {
        let (status, started) = api(
            &env,
            "POST",
            "/magic-auth/verification/start",
            &token,
            Some(json!({"phoneNumber": number, "fallbackChannel": fallback})),
        )
        .await;
        assert_eq!(
            (status, started["type"].as_str()),
            (200, Some(expected)),
            "{number} {fallback}: {started}"
        );
    }
    let (status, refused) = api(
        &env,
        "POST",
        "/magic-auth/verification/start-server-auth",
        &token,
        Some(json!({"phoneNumber": "+15555550102", "fallbackChannel": "NO_FALLBACK"})),
    )
    .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (422, Some("CARRIER_NOT_ELIGIBLE"))
    );
    let code = otp(&env, json!({"phone_number": "+15555550102"})).await;
    let (status, checked) = api(
        &env,
        "POST",
        "/magic-auth/verification/check",
        &token,
        Some(json!({"phoneNumber": "+15555550102", "code": code})),
    )
    .await;
    assert_eq!((status, checked), (200, json!({"verified": true})));
    let device = ciba(&env, "device-swap", "tel:+15555550102").await;
    let (_, body) = api(
        &env,
        "POST",
        "/device-swap/v1/check",
        &device,
        Some(json!({"maxAge": 48})),
    )
    .await;
    assert_eq!(body, json!({"swapped": true}));
}

#[tokio::test]
async fn telco_finder_resolves_and_searches() {
    let env = Env::start().await;
    let token = client_credentials(&env, "telco-finder").await;
    // network_id_for_number(n): the number formatted by the SDK
    let (status, body) = api(
        &env,
        "POST",
        "/telco-finder/v1/resolve-network-id",
        &token,
        Some(json!({"phoneNumber": sdk_format("+1 555 555 0100")})),
    )
    .await;
    assert_eq!((status, body), (200, json!({"networkId": "00101"})));
    // lookup_number(n) / lookup_ip(ip)
    for resource in [
        "tel:+15555550104",
        "ipport:203.0.113.7",
        "ipport:[2001:db8::1]:443",
    ] {
        let (status, body) = api(
            &env,
            "POST",
            "/telco-finder/v1/search",
            &token,
            Some(json!({"resource": resource})),
        )
        .await;
        assert_eq!(status, 200, "{resource}: {body}");
        assert_eq!(body["subject"], resource);
        assert_eq!(body["properties"]["operator_Id"], "sandbox-mobile");
        let links = body["links"].as_array().expect("links");
        assert!(!links.is_empty());
        for link in links {
            assert!(
                link["rel"].is_string() && link["href"].is_string(),
                "{link}"
            );
        }
    }
    for bad in [
        json!({"resource": "tel:5555550100"}),
        json!({"resource": "mailto:a@b.c"}),
        json!({}),
    ] {
        let (status, body) = api(
            &env,
            "POST",
            "/telco-finder/v1/search",
            &token,
            Some(bad.clone()),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("INVALID_ARGUMENT")),
            "{bad}"
        );
    }
    let (status, _) = api(
        &env,
        "POST",
        "/telco-finder/v1/search",
        "forged",
        Some(json!({"resource": "tel:+15555550100"})),
    )
    .await;
    assert_eq!(status, 401);
}

/// The 19 fields the SDK's `KycMatchResponse` requires (with its `giventName` typo).
const SDK_KYC_FIELDS: [&str; 19] = [
    "idDocumentMatch",
    "nameMatch",
    "giventNameMatch",
    "familyNameMatch",
    "nameKanaHankakuMatch",
    "nameKanaZenkakuMatch",
    "middleNamesMatch",
    "familyNameAtBirthMatch",
    "addressMatch",
    "streetNameMatch",
    "streetNumberMatch",
    "postalCodeMatch",
    "regionMatch",
    "localityMatch",
    "countryMatch",
    "houseNumberExtensionMatch",
    "birthdateMatch",
    "emailMatch",
    "genderMatch",
];

#[tokio::test]
async fn kyc_match_with_ciba_answers_every_field() {
    let env = Env::start().await;
    let token = ciba(&env, "kyc-match", "tel:+15555550100").await;
    // the SDK's payload.dict(exclude_none=True): its `giventName`, numbers as numbers
    let payload = json!({
        "phoneNumber": "+15555550100",
        "idDocument": "66666666q",
        "name": "Alex Sandbox Rivera",
        "giventName": "alex",
        "familyName": "Smith",
        "streetNumber": 1,
        "postalCode": 12345,
        "birthdate": "1990-01-01",
        "email": "user-0100@example.com",
    });
    let (status, body) = api(&env, "POST", "/kyc-match/match", &token, Some(payload)).await;
    assert_eq!(status, 200, "{body}");
    for field in SDK_KYC_FIELDS {
        assert!(body[field].is_string(), "{field} in {body}");
    }
    for (field, expected) in [
        ("idDocumentMatch", "true"),
        ("nameMatch", "true"),
        ("giventNameMatch", "true"),
        ("givenNameMatch", "true"),
        ("familyNameMatch", "false"),
        ("streetNumberMatch", "true"),
        ("postalCodeMatch", "true"),
        ("birthdateMatch", "true"),
        ("emailMatch", "true"),
        ("addressMatch", "not_available"),
        ("nameKanaHankakuMatch", "not_available"),
    ] {
        assert_eq!(body[field], expected, "{field}");
    }
    // the token is for +15555550100 only, and only for KYC
    let (status, body) = api(
        &env,
        "POST",
        "/kyc-match/match",
        &token,
        Some(json!({"phoneNumber": "+15555550101"})),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("INVALID_TOKEN_CONTEXT"))
    );
    let swap = ciba(&env, "sim-swap", "tel:+15555550100").await;
    let (status, _) = api(
        &env,
        "POST",
        "/kyc-match/match",
        &swap,
        Some(json!({"phoneNumber": "+15555550100"})),
    )
    .await;
    assert_eq!(status, 403);
    let cc = client_credentials(&env, "magic-auth").await;
    let (status, _) = api(
        &env,
        "POST",
        "/kyc-match/match",
        &cc,
        Some(json!({"phoneNumber": "+15555550100"})),
    )
    .await;
    assert_eq!(status, 401);
}
