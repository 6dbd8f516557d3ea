//! Request checks before any flow logic: origin, method, content type, body, validation.

use serde_json::json;

use crate::harness::{World, ANDROID_UA, DESKTOP_UA, IPHONE_UA, SESSION_COOKIE};
use crate::scenarios::flows::assert_session_cookie;

const STATE_CHANGING: [&str; 4] = ["prepare", "process", "complete", "logout"];

/// A plausible body for each state-changing route.
fn body_for(route: &str) -> serde_json::Value {
    match route {
        "prepare" => World::prepare_body(ANDROID_UA, Some("+15555550100")),
        "process" => json!({
            "session": { "session_key": "abc123" },
            "credential": "x",
            "use_case": "VerifyPhoneNumber",
        }),
        "complete" => json!({ "agg_code": "a".repeat(64), "session_key": "abc123" }),
        _ => json!({}),
    }
}

/// Sends every state-changing route with `header: value` from a verified browser; each must be
/// 403 ORIGIN_NOT_ALLOWED, and the session must survive (logout refused too).
async fn assert_refused_with(w: &World, header: Option<(&str, &str)>, what: &str) {
    let verified = w.verify_ts43(&w.browser, "+15555550100").await;
    verified.assert_status(200, &w.ctx("verification"));
    assert_session_cookie(w, &verified);
    w.sandbox.control().clear_requests();
    for route in STATE_CHANGING {
        let mut call = w
            .browser
            .call("POST", &World::route(route))
            .json(&body_for(route));
        call = match header {
            Some((name, value)) => call.header(name, value),
            None => call.without_origin().header("sec-fetch-site", "cross-site"),
        };
        let reply = call.send().await;
        reply.assert_error(
            403,
            "ORIGIN_NOT_ALLOWED",
            &w.ctx(&format!("{route} with {what}")),
        );
        assert!(
            reply.set_cookies().is_empty(),
            "{}: {:?}",
            w.ctx(&format!("{route} with {what} sets no cookie")),
            reply.set_cookies()
        );
    }
    assert!(
        w.sandbox.control().requests().is_empty(),
        "{}: nothing reaches Glide: {:?}",
        w.ctx(what),
        w.sandbox.control().requests()
    );
    w.me(&w.browser).await.assert_status(
        200,
        &w.ctx(&format!("session survives a logout with {what}")),
    );
}

/// `Origin: https://evil.example` on the state-changing routes: 403.
pub async fn foreign_origin_is_refused(w: &World) {
    assert_refused_with(
        w,
        Some(("origin", "https://evil.example")),
        "a foreign Origin",
    )
    .await;
}

/// `Origin: null` (sandboxed frames, some redirects): 403.
pub async fn null_origin_is_refused(w: &World) {
    assert_refused_with(w, Some(("origin", "null")), "Origin: null").await;
}

/// No `Origin` but `Sec-Fetch-Site: cross-site`: 403.
pub async fn cross_site_fetch_is_refused(w: &World) {
    assert_refused_with(w, None, "Sec-Fetch-Site: cross-site").await;
}

/// GET (and HEAD, and a lowercase `post`) on the POST routes, POST on the GET routes: 405.
pub async fn wrong_method_is_refused(w: &World) {
    for route in [
        "prepare",
        "process",
        "complete",
        "logout",
        "report-invocation",
    ] {
        let path = World::route(route);
        w.browser.get(&path).await.assert_error(
            405,
            "METHOD_NOT_ALLOWED",
            &w.ctx(&format!("GET {route}")),
        );
        let head = w.browser.call("HEAD", &path).send().await;
        head.assert_status(405, &w.ctx(&format!("HEAD {route}")));
        let put = w
            .browser
            .call("PUT", &path)
            .json(&body_for(route))
            .send()
            .await;
        put.assert_error(405, "METHOD_NOT_ALLOWED", &w.ctx(&format!("PUT {route}")));
        let lower = w
            .browser
            .call("post", &path)
            .json(&body_for(route))
            .send()
            .await;
        assert!(
            lower.status == 405 || lower.status == 400,
            "{}: got {} {}",
            w.ctx(&format!("lowercase post on {route}")),
            lower.status,
            lower.text()
        );
    }
    for path in [
        World::route("glide.js"),
        "/glide-complete".to_owned(),
        World::route("status/abc123"),
    ] {
        w.browser.post(&path, &json!({})).await.assert_error(
            405,
            "METHOD_NOT_ALLOWED",
            &w.ctx(&format!("POST {path}")),
        );
    }
}

/// `text/plain`, form-encoded and missing content types on JSON routes: 415.
pub async fn non_json_content_type_is_refused(w: &World) {
    let json_body = World::prepare_body(ANDROID_UA, Some("+15555550100")).to_string();
    for route in ["prepare", "process", "complete", "report-invocation"] {
        let path = World::route(route);
        for content_type in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            let reply = w
                .browser
                .call("POST", &path)
                .raw_body(content_type, json_body.clone().into_bytes())
                .send()
                .await;
            reply.assert_error(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                &w.ctx(&format!("{route} as {content_type}")),
            );
        }
        let reply = w
            .browser
            .call("POST", &path)
            .body_without_type(json_body.clone().into_bytes())
            .send()
            .await;
        reply.assert_error(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            &w.ctx(&format!("{route} without a content type")),
        );
    }
    assert!(
        w.sandbox
            .control()
            .requests()
            .iter()
            .all(|r| !r.path.contains("prepare")),
        "{}",
        w.ctx("nothing prepared")
    );
}

/// Malformed and deeply nested JSON: 400.
pub async fn malformed_json_is_refused(w: &World) {
    let bodies: [(&str, Vec<u8>); 4] = [
        ("truncated", b"{\"use_case\":".to_vec()),
        ("not JSON", b"not json".to_vec()),
        ("empty", Vec::new()),
        ("an array", b"[1,2,3]".to_vec()),
    ];
    for route in ["prepare", "process", "complete", "report-invocation"] {
        for (what, body) in &bodies {
            let reply = w
                .browser
                .call("POST", &World::route(route))
                .raw_body("application/json", body.clone())
                .send()
                .await;
            reply.assert_error(
                400,
                "BAD_REQUEST",
                &w.ctx(&format!("{route} with a body that is {what}")),
            );
        }
        // Deep nesting in an ignored field: refused or ignored, but always a 400 here (the
        // required fields are missing), never a crash.
        let nested = format!("{{\"x\":{}{}}}", "[".repeat(5000), "]".repeat(5000));
        let reply = w
            .browser
            .call("POST", &World::route(route))
            .raw_body("application/json", nested.into_bytes())
            .send()
            .await;
        reply.assert_status(400, &w.ctx(&format!("{route} with deeply nested JSON")));
        reply.assert_error_shape(&w.ctx(&format!("{route} with deeply nested JSON")));
    }
}

/// A JSON number, array or object where a string is expected: 400, no coercion.
pub async fn phone_number_of_the_wrong_type_is_refused(w: &World) {
    for value in [
        json!(15555550100_u64),
        json!(["+15555550100"]),
        json!({"n": "+15555550100"}),
        json!(true),
    ] {
        let mut body = World::prepare_body(ANDROID_UA, Some("+15555550100"));
        body["phone_number"] = value.clone();
        let reply = w.prepare_raw(&w.browser, &body).await;
        reply.assert_status(400, &w.ctx(&format!("phone_number {value}")));
        reply.assert_error_shape(&w.ctx("phone_number of the wrong type"));
    }
    let reply = w
        .browser
        .post(&World::route("process"), &json!({ "session": { "session_key": "abc" }, "credential": 123456, "use_case": "VerifyPhoneNumber" }))
        .await;
    reply.assert_status(400, &w.ctx("numeric credential"));
    reply.assert_error_shape(&w.ctx("numeric credential"));
    assert!(
        w.sandbox
            .control()
            .requests()
            .iter()
            .all(|r| !r.path.contains("prepare")),
        "{}",
        w.ctx("nothing prepared")
    );
}

/// Numbers that are not E.164: 400 VALIDATION_ERROR, and Glide is not called.
pub async fn invalid_phone_numbers_are_refused(w: &World) {
    let bad = [
        "15555550100",
        "+1555555CALL",
        "+\u{661}\u{665}\u{665}\u{665}\u{665}\u{665}\u{665}\u{660}\u{661}\u{660}\u{660}",
        "+\u{ff11}\u{ff15}\u{ff15}\u{ff15}\u{ff15}\u{ff15}\u{ff15}\u{ff10}\u{ff11}\u{ff10}\u{ff10}",
        "+1234567890123456",
        "++15555550100",
        "+1",
        "",
        " +15555550100",
        "+15555550100 ",
        "+1555\u{200b}5550100",
        "+1555\u{202e}5550100",
        "+15555550100\n",
        "+1555555\u{0}0100",
    ];
    for phone in bad {
        let reply = w
            .prepare_raw(&w.browser, &World::prepare_body(ANDROID_UA, Some(phone)))
            .await;
        reply.assert_error(400, "VALIDATION_ERROR", &w.ctx(&format!("phone {phone:?}")));
    }
    assert!(
        w.sandbox
            .control()
            .requests()
            .iter()
            .all(|r| !r.path.contains("prepare")),
        "{}: {:?}",
        w.ctx("no invalid number reaches Glide"),
        w.sandbox.control().requests()
    );
}

/// `+1 555 555 0100` is the canonical `+15555550100`.
pub async fn spaced_phone_number_is_canonicalised(w: &World) {
    for spelled in ["+1 555 555 0100", "+1 (555) 555-0100"] {
        let browser = crate::harness::Browser::new(w.browser.origin(), DESKTOP_UA);
        let prepared = w.prepare(&browser, ANDROID_UA, Some(spelled)).await;
        let credential = w.ts43_credential(&prepared.session_key, None);
        let reply = w.process(&browser, &prepared, &credential).await;
        reply.assert_status(200, &w.ctx(&format!("verify {spelled:?}")));
        assert_eq!(
            reply.json()["phone_number"],
            "+15555550100",
            "{}",
            w.ctx("canonical number")
        );
        assert_session_cookie(w, &reply);
        let me = w.me(&browser).await;
        me.assert_status(200, &w.ctx("/me"));
        assert_eq!(
            me.json()["phone_number"],
            "+15555550100",
            "{}",
            w.ctx("/me canonical number")
        );
    }
    let logged: Vec<_> = w
        .sandbox
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/prepare"))
        .collect();
    assert!(!logged.is_empty(), "{}", w.ctx("prepares reached Glide"));
    for request in logged {
        let sent = request.body.to_string();
        assert!(
            !sent.contains("555 555") && !sent.contains("(555)"),
            "{}: Glide got {sent}",
            w.ctx("Glide gets E.164")
        );
    }
}

/// Bodies over 64 KiB: 413 before parsing (the client must receive the 413, not a reset).
pub async fn oversized_body_is_refused(w: &World) {
    for size in [64 * 1024 + 1, 70 * 1024, 1024 * 1024] {
        let padding = "a".repeat(size);
        let body = json!({ "use_case": "VerifyPhoneNumber", "phone_number": "+15555550100", "client_info": { "user_agent": padding } });
        let reply = w
            .browser
            .call("POST", &World::route("prepare"))
            .json(&body)
            .try_send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{}: no answer: {e}",
                    w.ctx(&format!("prepare of {size} bytes"))
                )
            });
        reply.assert_error(
            413,
            "PAYLOAD_TOO_LARGE",
            &w.ctx(&format!("prepare of {size} bytes")),
        );
    }
    let reply = w
        .browser
        .post(
            &World::route("process"),
            &json!({ "session": { "session_key": "abc" }, "credential": "a".repeat(100 * 1024) }),
        )
        .await;
    reply.assert_error(413, "PAYLOAD_TOO_LARGE", &w.ctx("process of 100 KiB"));
    assert!(
        w.sandbox
            .control()
            .requests()
            .iter()
            .all(|r| !r.path.contains("prepare")),
        "{}",
        w.ctx("nothing prepared")
    );
    // The connection pool still works, and a normal body is parsed.
    let prepared = w.prepare(&w.browser, IPHONE_UA, Some("+15555550100")).await;
    assert_eq!(prepared.strategy, "link");
}

/// Unknown session keys on process, complete and status: 404 SESSION_NOT_FOUND.
pub async fn unknown_session_is_not_found(w: &World) {
    let key = "unknownsessionkey0123456789";
    // Every flow route checks the binding cookie first; with one for the unknown key, the flow
    // is missing.
    w.browser
        .set_cookie(&format!("_glide_bind_{key}"), &"b".repeat(64));
    let reply = w
        .browser
        .post(&World::route("process"), &json!({ "session": { "session_key": key }, "credential": "abc", "use_case": "VerifyPhoneNumber" }))
        .await;
    reply.assert_error(
        404,
        "SESSION_NOT_FOUND",
        &w.ctx("process of an unknown session"),
    );

    // complete checks the binding cookie first; with one for the unknown key, the flow is missing.
    w.browser
        .set_cookie(&format!("_glide_bind_{key}"), &"b".repeat(64));
    let reply = w
        .complete(&w.browser, &"a".repeat(64), key, Some(IPHONE_UA))
        .await;
    reply.assert_error(
        404,
        "SESSION_NOT_FOUND",
        &w.ctx("complete of an unknown session"),
    );

    let reply = w.browser.get(&World::route(&format!("status/{key}"))).await;
    reply.assert_error(
        404,
        "SESSION_NOT_FOUND",
        &w.ctx("status of an unknown session"),
    );
    assert!(
        w.browser.cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no session")
    );
}
