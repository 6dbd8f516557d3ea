//! Legacy Magic Auth: MAGIC with the carrier's token, SMS / e-mail fallback OTPs, server auth,
//! and `POST /sandbox/legacy/otp`.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const START: &str = "/magic-auth/verification/start";
const CHECK: &str = "/magic-auth/verification/check";
const START_SERVER: &str = "/magic-auth/verification/start-server-auth";

async fn otp_http(env: &Env, body: &Value) -> (u16, Value) {
    let r = env
        .http
        .post(env.url("/sandbox/legacy/otp"))
        .json(body)
        .send()
        .await
        .expect("otp");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Opens a magic authUrl as the device would: (status, token header).
async fn open_magic(
    env: &Env,
    auth_url: &str,
) -> (u16, Option<String>, reqwest::header::HeaderMap) {
    let r = env.http.get(auth_url).send().await.expect("magic page");
    let headers = r.headers().clone();
    let token = headers
        .get("token")
        .map(|v| v.to_str().expect("ascii").to_owned());
    (r.status().as_u16(), token, headers)
}

#[tokio::test]
async fn magic_flow_with_single_use_token() {
    let env = Env::start().await;
    let (status, body) = env
        .post(
            START,
            &json!({"phoneNumber": "+15555550100", "state": "xyz"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], "MAGIC");
    assert_eq!(body["operatorId"], "sandbox-mobile");
    let auth_url = body["authUrl"].as_str().expect("authUrl").to_owned();
    assert!(auth_url.starts_with(&format!("{}/sandbox/legacy/magic/", env.base)));
    assert!(body["flatAuthUrl"].is_string());

    let (status, token, headers) = open_magic(&env, &auth_url).await;
    assert_eq!(status, 200);
    assert_eq!(headers["access-control-expose-headers"], "token");
    assert_eq!(headers["access-control-allow-origin"], "*");
    let token = token.expect("token header");

    // Another number's token is refused and not consumed.
    let (_, body) = env
        .post(
            CHECK,
            &json!({"phoneNumber": "+15555550101", "token": token}),
        )
        .await;
    assert_eq!(body, json!({"verified": false}));
    let (status, body) = env
        .post(
            CHECK,
            &json!({"phoneNumber": "+15555550100", "token": token}),
        )
        .await;
    assert_eq!((status, body), (200, json!({"verified": true})));
    let (_, body) = env
        .post(
            CHECK,
            &json!({"phoneNumber": "+15555550100", "token": token}),
        )
        .await;
    assert_eq!(body, json!({"verified": false}), "single use");
    let (_, body) = env
        .post(
            CHECK,
            &json!({"phoneNumber": "+15555550100", "token": "forged"}),
        )
        .await;
    assert_eq!(body, json!({"verified": false}));

    let log = env.sandbox.control().requests();
    let text = serde_json::to_string(&log).expect("json");
    assert!(
        !text.contains(&token),
        "the magic token leaked into the log"
    );
}

#[tokio::test]
async fn magic_page_denied_and_unknown() {
    let env = Env::start().await;
    let (_, body) = env
        .post(START, &json!({"phoneNumber": "+15555550108"}))
        .await;
    assert_eq!(body["type"], "MAGIC");
    let (status, token, _) = open_magic(&env, body["authUrl"].as_str().expect("url")).await;
    assert_eq!((status, token), (403, None));
    let (status, token, _) = open_magic(&env, &env.url("/sandbox/legacy/magic/nope")).await;
    assert_eq!((status, token), (404, None));
}

#[tokio::test]
async fn sms_fallback_otp_is_single_use() {
    let env = Env::start().await;
    let (status, body) = env
        .post(START, &json!({"phoneNumber": "+15555550106"}))
        .await;
    assert_eq!((status, body), (200, json!({"type": "SMS"})));
    let code = env
        .sandbox
        .control()
        .legacy_otp("+15555550106")
        .expect("an OTP was sent");
    assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()));
    let (status, body) = otp_http(&env, &json!({"phone_number": "+15555550106"})).await;
    assert_eq!((status, body), (200, json!({"code": code})));

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (_, body) = env
        .post(
            CHECK,
            &json!({"phoneNumber": "+15555550106", "code": wrong}),
        )
        .await;
    assert_eq!(body, json!({"verified": false}));
    let (_, body) = env
        .post(CHECK, &json!({"phoneNumber": "+15555550106", "code": code}))
        .await;
    assert_eq!(body, json!({"verified": true}));
    let (_, body) = env
        .post(CHECK, &json!({"phoneNumber": "+15555550106", "code": code}))
        .await;
    assert_eq!(body, json!({"verified": false}), "consumed");
    // The log never shows the code.
    let log = env.sandbox.control().requests();
    assert!(log
        .iter()
        .filter(|r| r.path == CHECK)
        .all(|r| r.body["code"] == "[REDACTED]"));
}

#[tokio::test]
async fn a_new_start_replaces_the_code() {
    let env = Env::start().await;
    let control = env.sandbox.control();
    let mut first = String::new();
    // Random 6-digit codes can repeat; retry until the second differs.
    for _ in 0..5 {
        env.post(START, &json!({"phoneNumber": "+15555550106"}))
            .await;
        first = control.legacy_otp("+15555550106").expect("first");
        env.post(START, &json!({"phoneNumber": "+15555550106"}))
            .await;
        if control.legacy_otp("+15555550106").expect("second") != first {
            break;
        }
    }
    let second = control.legacy_otp("+15555550106").expect("second");
    assert_ne!(first, second);
    let (_, body) = env
        .post(
            CHECK,
            &json!({"phoneNumber": "+15555550106", "code": first}),
        )
        .await;
    assert_eq!(body["verified"], false, "the old code is gone");
    let (_, body) = env
        .post(
            CHECK,
            &json!({"phoneNumber": "+15555550106", "code": second}),
        )
        .await;
    assert_eq!(body["verified"], true);
}

#[tokio::test]
async fn email_fallback_email_only_and_no_fallback() {
    let env = Env::start().await;
    let (status, body) = env
        .post(
            START,
            &json!({"phoneNumber": "+15555550106", "email": "Ann@Example.com", "fallbackChannel": "EMAIL"}),
        )
        .await;
    assert_eq!((status, body), (200, json!({"type": "EMAIL"})));
    let (status, body) = otp_http(&env, &json!({"email": "ann@example.com"})).await;
    assert_eq!(status, 200);
    let code = body["code"].as_str().expect("code").to_owned();
    assert_eq!(env.sandbox.control().legacy_otp("+15555550106"), None);
    let (_, body) = env
        .post(CHECK, &json!({"email": "ann@example.com", "code": code}))
        .await;
    assert_eq!(body["verified"], true);

    // A number and EMAIL but no address (what Glide's Python SDK sends): the code goes to the
    // address on file for the number and is filed under the number.
    for number in ["+15555550106", "+15555550109"] {
        let (status, body) = env
            .post(
                START,
                &json!({"phoneNumber": number, "fallbackChannel": "EMAIL"}),
            )
            .await;
        assert_eq!((status, body), (200, json!({"type": "EMAIL"})), "{number}");
        let (status, body) = otp_http(&env, &json!({"phone_number": number})).await;
        assert_eq!(status, 200, "{number}");
        let code = body["code"].as_str().expect("code").to_owned();
        let (_, body) = env
            .post(CHECK, &json!({"phoneNumber": number, "code": "000000"}))
            .await;
        assert_eq!(body["verified"], false, "{number}: a wrong code");
        let (_, body) = env
            .post(CHECK, &json!({"phoneNumber": number, "code": code}))
            .await;
        assert_eq!(body["verified"], true, "{number}");
    }
    // an eligible number still gets the carrier check
    let (_, body) = env
        .post(
            START,
            &json!({"phoneNumber": "+15555550100", "fallbackChannel": "EMAIL"}),
        )
        .await;
    assert_eq!(body["type"], "MAGIC");

    let (status, body) = env.post(START, &json!({"email": "bob@example.com"})).await;
    assert_eq!((status, body), (200, json!({"type": "EMAIL"})));
    assert!(env
        .sandbox
        .control()
        .legacy_otp("bob@example.com")
        .is_some());

    let (status, body) = env
        .post(
            START,
            &json!({"phoneNumber": "+15555550106", "fallbackChannel": "NO_FALLBACK"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("CARRIER_NOT_ELIGIBLE"))
    );

    let (status, body) = otp_http(&env, &json!({"email": "nobody@example.com"})).await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn start_and_check_validation() {
    let env = Env::start().await;
    for bad in [
        json!({}),
        json!({"phoneNumber": "5555550100"}),
        json!({"email": "not-an-email"}),
        json!({"phoneNumber": "+15555550100", "fallbackChannel": "PIGEON"}),
        json!({"phoneNumber": "+15555550100", "fallbackChannel": "RCS"}),
    ] {
        let (status, body) = env.post(START, &bad).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{bad}"
        );
    }
    for bad in [
        json!({"phoneNumber": "+15555550100"}),
        json!({"code": "123456"}),
    ] {
        let (status, body) = env.post(CHECK, &bad).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{bad}"
        );
    }
    let r = env
        .http
        .post(env.url(START))
        .json(&json!({"phoneNumber": "+15555550100"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test]
async fn otp_expires() {
    let env = Env::with(fast_config().with_legacy_code_lifetime(Duration::from_millis(150))).await;
    env.post(START, &json!({"phoneNumber": "+15555550106"}))
        .await;
    let code = env
        .sandbox
        .control()
        .legacy_otp("+15555550106")
        .expect("code");
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (_, body) = env
        .post(CHECK, &json!({"phoneNumber": "+15555550106", "code": code}))
        .await;
    assert_eq!(body["verified"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_otp_checks_have_one_winner() {
    let env = Env::start().await;
    for _ in 0..5 {
        env.post(START, &json!({"phoneNumber": "+15555550106"}))
            .await;
        let code = env
            .sandbox
            .control()
            .legacy_otp("+15555550106")
            .expect("code");
        let body = json!({"phoneNumber": "+15555550106", "code": code});
        let checks = (0..4).map(|_| env.post(CHECK, &body));
        let results = futures_util::future::join_all(checks).await;
        let winners = results
            .iter()
            .filter(|(_, b)| b["verified"] == true)
            .count();
        assert!(results.iter().all(|(s, _)| *s == 200));
        assert_eq!(winners, 1, "{results:?}");
    }
}

#[tokio::test]
async fn server_auth_approve_and_deny_pages() {
    let env = Env::start().await;
    let (status, body) = env
        .post(START_SERVER, &json!({"phoneNumber": "+15555550100"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let id = body["sessionId"].as_str().expect("id").to_owned();
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()));
    let auth_url = body["authUrl"].as_str().expect("authUrl").to_owned();
    assert_eq!(
        auth_url,
        env.url(&format!("/sandbox/legacy/server-auth/{id}"))
    );

    let check = format!("/magic-auth/verification/check-server-auth?sessionId={id}");
    let (status, body) = env.get(&check).await;
    assert_eq!(
        (status, body),
        (200, json!({"status": "PENDING", "verified": false}))
    );

    let page = env.http.get(&auth_url).send().await.expect("page");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("id=\"approve\"") && html.contains("id=\"deny\""));

    let r = env
        .http
        .get(format!("{auth_url}?decision=approve"))
        .send()
        .await
        .expect("approve");
    assert_eq!(r.status().as_u16(), 200);
    let (_, body) = env.get(&check).await;
    assert_eq!(body, json!({"status": "COMPLETED", "verified": true}));
    // Deciding twice is refused.
    let r = env
        .http
        .get(format!("{auth_url}?decision=deny"))
        .send()
        .await
        .expect("deny");
    assert_eq!(r.status().as_u16(), 409);

    let (_, body) = env
        .post(START_SERVER, &json!({"email": "c@example.com"}))
        .await;
    let id = body["sessionId"].as_str().expect("id").to_owned();
    let r = env
        .http
        .get(env.url(&format!("/sandbox/legacy/server-auth/{id}?decision=deny")))
        .send()
        .await
        .expect("deny");
    assert_eq!(r.status().as_u16(), 200);
    let (_, body) = env
        .get(&format!(
            "/magic-auth/verification/check-server-auth?sessionId={id}"
        ))
        .await;
    assert_eq!(body, json!({"status": "COMPLETED", "verified": false}));

    let (status, body) = env
        .get(
            "/magic-auth/verification/check-server-auth?sessionId=00000000000000000000000000000000",
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("SESSION_NOT_FOUND"))
    );
}

#[tokio::test]
async fn server_auth_redirects_with_state_and_typed_control() {
    let env = Env::start().await;
    let (_, body) = env
        .post(
            START_SERVER,
            &json!({"phoneNumber": "+15555550106", "fallbackChannel": "RCS",
                    "redirectUrl": "https://app.example/done", "state": "st 1",
                    "otpConfirmationUrl": "https://app.example/otp"}),
        )
        .await;
    let id = body["sessionId"].as_str().expect("id").to_owned();
    let r = env
        .http
        .get(env.url(&format!(
            "/sandbox/legacy/server-auth/{id}?decision=approve"
        )))
        .send()
        .await
        .expect("approve");
    assert_eq!(r.status().as_u16(), 302);
    assert_eq!(
        r.headers()["location"],
        "https://app.example/done?state=st+1"
    );

    let control = env.sandbox.control();
    let (_, body) = env
        .post(START_SERVER, &json!({"phoneNumber": "+15555550100"}))
        .await;
    let id = body["sessionId"].as_str().expect("id").to_owned();
    control.server_auth_deny(&id).expect("deny");
    assert!(
        control.server_auth_approve(&id).is_err(),
        "already completed"
    );
    let (_, body) = env
        .get(&format!(
            "/magic-auth/verification/check-server-auth?sessionId={id}"
        ))
        .await;
    assert_eq!(body["verified"], false);

    // The denying fixture: Approve ends verified:false.
    let (_, body) = env
        .post(START_SERVER, &json!({"phoneNumber": "+15555550108"}))
        .await;
    let id = body["sessionId"].as_str().expect("id").to_owned();
    assert_eq!(
        control.server_auth_approve(&id),
        Err(glide_sandbox::ControlError::UserDenied)
    );
    let (_, body) = env
        .get(&format!(
            "/magic-auth/verification/check-server-auth?sessionId={id}"
        ))
        .await;
    assert_eq!(body, json!({"status": "COMPLETED", "verified": false}));
    assert_eq!(
        control.server_auth_approve("unknown"),
        Err(glide_sandbox::ControlError::SessionNotFound)
    );

    let (status, body) = env
        .post(
            START_SERVER,
            &json!({"phoneNumber": "+15555550106", "fallbackChannel": "NO_FALLBACK"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("CARRIER_NOT_ELIGIBLE"))
    );
}
