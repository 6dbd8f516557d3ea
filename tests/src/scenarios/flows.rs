//! The three Magical Auth flows end to end: TS43, Link, desktop.

use serde_json::Value;

use crate::harness::{World, ANDROID_UA, DESKTOP_UA, IPHONE_UA, SESSION_COOKIE};

/// Asserts `/me` answers the verified phone with the expected fields.
pub(crate) async fn assert_me(
    w: &World,
    browser: &crate::harness::Browser,
    phone: &str,
    use_case: &str,
    strategy: &str,
) -> Value {
    let me = w.me(browser).await;
    me.assert_status(200, &w.ctx("/me after verification"));
    let body = me.json();
    assert_eq!(
        body["phone_number"],
        phone,
        "{}: /me {body}",
        w.ctx("phone")
    );
    assert_eq!(
        body["use_case"],
        use_case,
        "{}: /me {body}",
        w.ctx("use_case")
    );
    assert_eq!(
        body["strategy"],
        strategy,
        "{}: /me {body}",
        w.ctx("strategy")
    );
    let verified_at = body["verified_at"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: verified_at missing: {body}", w.ctx("/me")));
    time::OffsetDateTime::parse(verified_at, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| {
            panic!(
                "{}: verified_at {verified_at:?} is not RFC 3339: {e}",
                w.ctx("/me")
            )
        });
    let optional = browser.get("/me/optional").await;
    optional.assert_status(200, &w.ctx("/me/optional"));
    assert_eq!(
        optional.json()["verified"],
        true,
        "{}",
        w.ctx("/me/optional")
    );
    body
}

/// Asserts the verified-session cookie of a successful process and returns its value.
pub(crate) fn assert_session_cookie(w: &World, reply: &crate::harness::Reply) -> String {
    let cookie = reply.set_cookie(SESSION_COOKIE).unwrap_or_else(|| {
        panic!(
            "{}: no session cookie in {:?}",
            w.ctx("process"),
            reply.set_cookies()
        )
    });
    cookie.assert_dev_attributes(&w.ctx("session cookie"));
    assert!(
        !cookie.is_removal(),
        "{}: {}",
        w.ctx("session cookie"),
        cookie.raw
    );
    assert!(
        cookie.value.len() >= 16,
        "{}: session id too short: {}",
        w.ctx("session cookie"),
        cookie.raw
    );
    cookie.value
}

/// TS43 (Android): prepare → wallet credential → process → verified session → `/me`.
pub async fn ts43_verify_phone_number(w: &World) {
    let b = &w.browser;
    let prepared = w.prepare(b, ANDROID_UA, Some("+15555550100")).await;
    assert_eq!(prepared.strategy, "ts43", "{}", w.ctx("strategy"));
    assert!(
        !prepared.reply.text().contains("fe_code"),
        "{}: prepare leaks fe_code",
        w.ctx("prepare")
    );
    assert!(
        prepared
            .reply
            .set_cookie(&format!("_glide_bind_{}", prepared.session_key))
            .is_some_and(|c| c.has("HttpOnly")),
        "{}: an HttpOnly binding cookie for ts43 too",
        w.ctx("prepare")
    );
    assert!(
        prepared.body["data"].is_object(),
        "{}: prepare data {}",
        w.ctx("prepare"),
        prepared.body
    );

    let credential = w.ts43_credential(&prepared.session_key, None);
    let reply = w.process(b, &prepared, &credential).await;
    reply.assert_status(200, &w.ctx("process"));
    let body = reply.json();
    assert_eq!(
        body["phone_number"],
        "+15555550100",
        "{}: {body}",
        w.ctx("process")
    );
    assert_eq!(body["verified"], true, "{}: {body}", w.ctx("process"));
    assert_eq!(
        body["sim_swap"]["risk_level"],
        "RISK_LEVEL_LOW",
        "{}: {body}",
        w.ctx("process")
    );
    assert_session_cookie(w, &reply);

    let me = assert_me(w, b, "+15555550100", "VerifyPhoneNumber", "ts43").await;
    assert_eq!(
        me["sim_swap"]["checked"],
        true,
        "{}: {me}",
        w.ctx("/me sim_swap")
    );
    assert_eq!(
        me["sim_swap"]["risk_level"],
        "RISK_LEVEL_LOW",
        "{}: {me}",
        w.ctx("/me sim_swap")
    );
    assert_eq!(
        me["device_swap"]["risk_level"],
        "RISK_LEVEL_LOW",
        "{}: {me}",
        w.ctx("/me device_swap")
    );
}

/// TS43 GetPhoneNumber: no number sent, the device's number comes back.
pub async fn ts43_get_phone_number(w: &World) {
    let b = &w.browser;
    let prepared = w.prepare(b, ANDROID_UA, None).await;
    assert_eq!(prepared.strategy, "ts43", "{}", w.ctx("strategy"));
    let credential = w.ts43_credential(&prepared.session_key, None);
    let reply = w.process(b, &prepared, &credential).await;
    reply.assert_status(200, &w.ctx("process"));
    let body = reply.json();
    let phone = body["phone_number"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no phone_number: {body}", w.ctx("process")))
        .to_owned();
    assert!(phone.starts_with('+'), "{}: {body}", w.ctx("process"));
    assert_session_cookie(w, &reply);
    assert_me(w, b, &phone, "GetPhoneNumber", "ts43").await;
}

/// Link (iPhone): prepare sets the binding cookie, the carrier page approves, the completion
/// page posts `complete`, then process with the session key gives the session.
pub async fn link_verify_phone_number(w: &World) {
    let b = &w.browser;
    let prepared = w.prepare(b, IPHONE_UA, Some("+15555550100")).await;
    assert_eq!(prepared.strategy, "link", "{}", w.ctx("strategy"));
    assert!(
        !prepared.reply.text().contains("fe_code"),
        "{}: prepare leaks fe_code: {}",
        w.ctx("prepare"),
        prepared.reply.text()
    );
    let name = format!("_glide_bind_{}", prepared.session_key);
    let binding = prepared.reply.set_cookie(&name).unwrap_or_else(|| {
        panic!(
            "{}: no {name} cookie in {:?}",
            w.ctx("prepare"),
            prepared.reply.set_cookies()
        )
    });
    binding.assert_dev_attributes(&w.ctx("binding cookie"));
    assert_eq!(
        binding.attr("max-age"),
        Some("300"),
        "{}: {}",
        w.ctx("binding cookie"),
        binding.raw
    );
    assert!(
        prepared.body["data"]["url"].is_string(),
        "{}: data.url {}",
        w.ctx("prepare"),
        prepared.body
    );

    let (agg_code, session_key) = w.link_approve(&prepared.session_key);
    let completed = w
        .complete(b, &agg_code, &session_key, Some(IPHONE_UA))
        .await;
    completed.assert_status(204, &w.ctx("complete"));
    assert!(
        completed.body.is_empty(),
        "{}: 204 with a body",
        w.ctx("complete")
    );

    let reply = w.process(b, &prepared, &session_key).await;
    reply.assert_status(200, &w.ctx("process"));
    let body = reply.json();
    assert_eq!(
        body["phone_number"],
        "+15555550100",
        "{}: {body}",
        w.ctx("process")
    );
    assert_session_cookie(w, &reply);
    let cleared = reply.set_cookie(&name);
    assert!(
        cleared.as_ref().is_some_and(|c| c.is_removal()),
        "{}: the binding cookie is removed after use: {:?}",
        w.ctx("process"),
        reply.set_cookies()
    );
    if let Some(cleared) = cleared {
        cleared.assert_dev_attributes(&w.ctx("binding removal cookie"));
    }
    assert_me(w, b, "+15555550100", "VerifyPhoneNumber", "link").await;
}

/// The completion URL opened in another browser (no binding cookie): 403, and the right
/// browser can still finish.
pub async fn link_complete_without_binding_cookie(w: &World) {
    let prepared = w.prepare(&w.browser, IPHONE_UA, Some("+15555550100")).await;
    let (agg_code, session_key) = w.link_approve(&prepared.session_key);
    w.other.set_user_agent(IPHONE_UA);
    let stolen = w
        .complete(&w.other, &agg_code, &session_key, Some(IPHONE_UA))
        .await;
    stolen.assert_error(
        403,
        "MISSING_BINDING_COOKIE",
        &w.ctx("complete from another browser"),
    );
    let process = w.process(&w.other, &prepared, &session_key).await;
    assert!(
        process.status >= 400,
        "{}: process from another browser: {}",
        w.ctx("process"),
        process.status
    );
    assert!(
        process.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no session for the other browser")
    );
    w.me(&w.other)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx("/me other browser"));

    let completed = w
        .complete(&w.browser, &agg_code, &session_key, Some(IPHONE_UA))
        .await;
    completed.assert_status(204, &w.ctx("complete in the right browser"));
    let reply = w.process(&w.browser, &prepared, &session_key).await;
    reply.assert_status(200, &w.ctx("process in the right browser"));
    assert_session_cookie(w, &reply);
}

/// The completion posted with another browser family's user agent: 422 BROWSER_MISMATCH.
pub async fn link_complete_in_another_browser_family(w: &World) {
    let prepared = w.prepare(&w.browser, IPHONE_UA, Some("+15555550100")).await;
    let (agg_code, session_key) = w.link_approve(&prepared.session_key);
    let reply = w
        .complete(&w.browser, &agg_code, &session_key, Some(ANDROID_UA))
        .await;
    reply.assert_error(
        422,
        "BROWSER_MISMATCH",
        &w.ctx("complete with another browser"),
    );
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no session")
    );
    w.me(&w.browser)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx("/me"));
}

/// The same `agg_code` posted twice: the second is refused; the flow still finishes once.
pub async fn link_complete_replayed(w: &World) {
    let b = &w.browser;
    let prepared = w.prepare(b, IPHONE_UA, Some("+15555550100")).await;
    let (agg_code, session_key) = w.link_approve(&prepared.session_key);
    w.complete(b, &agg_code, &session_key, Some(IPHONE_UA))
        .await
        .assert_status(204, &w.ctx("first complete"));
    let again = w
        .complete(b, &agg_code, &session_key, Some(IPHONE_UA))
        .await;
    assert!(
        (400..500).contains(&again.status),
        "{}: second complete must be refused, got {} {}",
        w.ctx("replayed complete"),
        again.status,
        again.text()
    );
    again.assert_error_shape(&w.ctx("replayed complete"));
    let reply = w.process(b, &prepared, &session_key).await;
    reply.assert_status(200, &w.ctx("process after a replayed complete"));
    assert_session_cookie(w, &reply);
}

/// Desktop: the first process answers 202 while the phone has not approved; after the
/// approval, process gives the session.
pub async fn desktop_waits_then_verifies(w: &World) {
    let b = &w.browser;
    let prepared = w.prepare(b, DESKTOP_UA, Some("+15555550100")).await;
    assert_eq!(prepared.strategy, "desktop", "{}", w.ctx("strategy"));
    assert!(
        prepared
            .reply
            .set_cookie(&format!("_glide_bind_{}", prepared.session_key))
            .is_some(),
        "{}",
        w.ctx("a binding cookie for desktop too")
    );
    let waiting = w.process(b, &prepared, &prepared.session_key).await;
    waiting.assert_status(202, &w.ctx("process before approval"));
    let body = waiting.json();
    assert_eq!(body["status"], "waiting", "{}: {body}", w.ctx("202"));
    assert_eq!(body["retry"], true, "{}: {body}", w.ctx("202"));
    assert_eq!(
        body["session_key"],
        prepared.session_key.as_str(),
        "{}: {body}",
        w.ctx("202")
    );
    assert!(
        body["session_expires_in_seconds"]
            .as_u64()
            .is_some_and(|s| s > 0),
        "{}: {body}",
        w.ctx("202")
    );
    assert!(
        waiting.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no session while waiting")
    );

    w.sandbox
        .control()
        .desktop_approve(&prepared.session_key)
        .unwrap_or_else(|e| panic!("desktop_approve: {e}"));
    let reply = w.process(b, &prepared, &prepared.session_key).await;
    reply.assert_status(200, &w.ctx("process after approval"));
    assert_eq!(
        reply.json()["phone_number"],
        "+15555550100",
        "{}",
        w.ctx("process")
    );
    assert_session_cookie(w, &reply);
    assert_me(w, b, "+15555550100", "VerifyPhoneNumber", "desktop").await;
}

/// A desktop process call already waiting at Glide is answered with the result once the phone
/// approves (not with a 202 after the full wait).
pub async fn desktop_process_is_woken_by_approval(w: &World) {
    let b = &w.browser;
    let prepared = w.prepare(b, DESKTOP_UA, Some("+15555550100")).await;
    let control = w.sandbox.control();
    control.clear_requests();
    let approve = async {
        // Approve only once the process call is at the sandbox.
        for _ in 0..500 {
            if control.requests().iter().any(|r| {
                r.path
                    .starts_with("/magic-auth/v2/auth/verify-phone-number")
            }) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        control
            .desktop_approve(&prepared.session_key)
            .unwrap_or_else(|e| panic!("desktop_approve: {e}"));
    };
    let (reply, ()) = tokio::join!(w.process(b, &prepared, &prepared.session_key), approve);
    reply.assert_status(200, &w.ctx("process woken by the approval"));
    assert_session_cookie(w, &reply);
}
