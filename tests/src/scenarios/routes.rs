//! The other routes: status, report-invocation, the two assets, and the app's own routes.

use serde_json::json;

use crate::harness::{World, DESKTOP_UA, IPHONE_UA};

/// The status of a prepared desktop flow: 200 `pending`.
pub async fn status_of_a_prepared_desktop_flow(w: &World) {
    let prepared = w
        .prepare(&w.browser, DESKTOP_UA, Some("+15555550100"))
        .await;
    assert_eq!(prepared.strategy, "desktop", "{}", w.ctx("strategy"));
    let path = World::route(&format!("status/{}", prepared.session_key));
    // Only to the browser that prepared the flow: the key alone (it is in the QR code) is
    // worth nothing.
    w.other.get(&path).await.assert_error(
        403,
        "MISSING_BINDING_COOKIE",
        &w.ctx("status from another browser"),
    );
    let reply = w.browser.get(&path).await;
    reply.assert_status(200, &w.ctx("status"));
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{}",
        w.ctx("status content type")
    );
    assert_eq!(
        reply.json()["status"],
        "pending",
        "{}: {}",
        w.ctx("status"),
        reply.text()
    );

    w.sandbox
        .control()
        .desktop_approve(&prepared.session_key)
        .unwrap_or_else(|e| panic!("desktop_approve: {e}"));
    let reply = w.browser.get(&path).await;
    reply.assert_status(200, &w.ctx("status after approval"));
    assert_eq!(
        reply.json()["status"],
        "completed",
        "{}: {}",
        w.ctx("status after approval"),
        reply.text()
    );
}

/// report-invocation answers `{"success": true}`, for known and unknown sessions alike.
pub async fn report_invocation_always_succeeds(w: &World) {
    let path = World::route("report-invocation");
    for session_id in ["unknown-session", "x".repeat(300).as_str(), "a;b=c"] {
        let reply = w
            .browser
            .post(&path, &json!({ "session_id": session_id }))
            .await;
        reply.assert_status(200, &w.ctx(&format!("report-invocation {session_id:.20}")));
        assert_eq!(
            reply.json(),
            json!({ "success": true }),
            "{}",
            w.ctx("report-invocation body")
        );
    }
    let prepared = w.prepare(&w.browser, IPHONE_UA, Some("+15555550100")).await;
    let reply = w
        .browser
        .post(&path, &json!({ "session_id": prepared.session_key }))
        .await;
    reply.assert_status(200, &w.ctx("report-invocation of a prepared flow"));
    assert_eq!(
        reply.json(),
        json!({ "success": true }),
        "{}",
        w.ctx("report-invocation body")
    );
    // Glide failing does not fail the page.
    let prepared = w.prepare(&w.browser, IPHONE_UA, Some("+15555550100")).await;
    w.sandbox.control().add_fault(
        glide_sandbox::Fault::status("/magic-auth/v2/auth/report-invocation", 500).times(5),
    );
    let reply = w
        .browser
        .post(&path, &json!({ "session_id": prepared.session_key }))
        .await;
    reply.assert_status(200, &w.ctx("report-invocation while Glide fails"));
    assert_eq!(
        reply.json(),
        json!({ "success": true }),
        "{}",
        w.ctx("report-invocation body")
    );
}

/// `glide.js`: 200 JavaScript.
pub async fn glide_js_is_served(w: &World) {
    let reply = w.other.get(&World::route("glide.js")).await;
    reply.assert_status(200, &w.ctx("glide.js"));
    let content_type = reply.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/javascript"),
        "{}: {content_type}",
        w.ctx("glide.js content type")
    );
    assert_eq!(
        reply.header("x-content-type-options"),
        Some("nosniff"),
        "{}",
        w.ctx("glide.js nosniff")
    );
    let text = reply.text();
    assert!(
        text.contains("GlideAuth") && text.contains("/process"),
        "{}",
        w.ctx("glide.js body")
    );
    assert!(
        reply.set_cookies().is_empty(),
        "{}",
        w.ctx("glide.js sets no cookie")
    );
}

/// The completion page: HTML with its security headers.
pub async fn completion_page_headers(w: &World) {
    let reply = w.other.get("/glide-complete").await;
    reply.assert_status(200, &w.ctx("/glide-complete"));
    let content_type = reply.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/html"),
        "{}: {content_type}",
        w.ctx("completion content type")
    );
    assert_eq!(
        reply.header("cache-control"),
        Some("no-store"),
        "{}",
        w.ctx("Cache-Control")
    );
    assert_eq!(
        reply.header("x-frame-options"),
        Some("DENY"),
        "{}",
        w.ctx("X-Frame-Options")
    );
    assert_eq!(
        reply.header("referrer-policy"),
        Some("no-referrer"),
        "{}",
        w.ctx("Referrer-Policy")
    );
    let csp = reply.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("frame-ancestors 'none'"),
        "{}: {csp:?}",
        w.ctx("CSP")
    );
    let page = reply.text();
    assert!(
        page.contains("/api/magical-auth/complete"),
        "{}",
        w.ctx("the page posts to complete")
    );
    assert!(
        page.contains("glide_signal_"),
        "{}",
        w.ctx("the page signals the first tab")
    );
    // With a query string (as some carriers append), still the page.
    let reply = w.other.get("/glide-complete?from=carrier").await;
    reply.assert_status(200, &w.ctx("/glide-complete?query"));
}

/// Without a session: `/public` works, `/me/optional` says false, `/me` is 401 NOT_VERIFIED.
pub async fn app_routes_without_a_session(w: &World) {
    let public = w.browser.get("/public").await;
    public.assert_status(200, &w.ctx("/public"));
    assert_eq!(public.text(), "public", "{}", w.ctx("/public body"));
    let optional = w.browser.get("/me/optional").await;
    optional.assert_status(200, &w.ctx("/me/optional"));
    assert_eq!(
        optional.json(),
        json!({ "verified": false }),
        "{}",
        w.ctx("/me/optional body")
    );
    w.me(&w.browser)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx("/me"));
    // An unknown path under the base path is the app's, not ours.
    let unknown = w.browser.get(&World::route("nope")).await;
    assert_eq!(
        unknown.status,
        404,
        "{}",
        w.ctx("unknown path under the base path")
    );
    // The app keeps working during and after a session: /public ignores it.
    let verified = w.verify_ts43(&w.browser, "+15555550100").await;
    verified.assert_status(200, &w.ctx("verification"));
    w.browser
        .get("/public")
        .await
        .assert_status(200, &w.ctx("/public with a session"));
}
