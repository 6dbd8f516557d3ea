//! CORS for a single-page app on another origin: off by default; with origins configured,
//! preflights and requests from exactly those origins get the CORS headers, with credentials.

use crate::harness::{World, ANDROID_UA};

const SPA: &str = "http://127.0.0.1:9";

/// A preflight of `route` from `origin`.
async fn preflight(
    w: &World,
    browser: &crate::harness::Browser,
    route: &str,
    origin: &str,
) -> crate::harness::Reply {
    let _ = w;
    browser
        .call("OPTIONS", &World::route(route))
        .without_origin()
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
}

/// Configured origins get their preflights answered and their requests let through, with
/// credentials; any other origin gets no CORS header and its state-changing request 403.
pub async fn cors_for_configured_origins_only(w: &World) {
    // Off by default: nothing granted.
    let reply = preflight(w, &w.browser, "prepare", SPA).await;
    assert!(
        reply.header("access-control-allow-origin").is_none(),
        "{}: {:?}",
        w.ctx("CORS off by default"),
        reply.status
    );

    let (_app, browser) = w.start_app(|b| b.cors_origins([SPA])).await;
    let reply = preflight(w, &browser, "prepare", SPA).await;
    reply.assert_status(204, &w.ctx("preflight from the app's SPA"));
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some(SPA),
        "{}",
        w.ctx("ACAO")
    );
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true"),
        "{}",
        w.ctx("ACAC")
    );
    assert_eq!(
        reply.header("access-control-allow-methods"),
        Some("POST"),
        "{}",
        w.ctx("ACAM")
    );

    let foreign = preflight(w, &browser, "prepare", "https://evil.example").await;
    foreign.assert_error(
        403,
        "ORIGIN_NOT_ALLOWED",
        &w.ctx("preflight from a foreign origin"),
    );
    assert!(
        foreign.header("access-control-allow-origin").is_none(),
        "{}",
        w.ctx("no ACAO")
    );

    // The actual request from the SPA's origin: through the origin check, with the headers.
    let reply = browser
        .call("POST", &World::route("prepare"))
        .without_origin()
        .header("origin", SPA)
        .json(&World::prepare_body(ANDROID_UA, Some("+15555550100")))
        .send()
        .await;
    reply.assert_status(200, &w.ctx("cross-origin prepare"));
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some(SPA),
        "{}",
        w.ctx("ACAO on the answer")
    );
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true"),
        "{}",
        w.ctx("ACAC on the answer")
    );

    let reply = browser
        .call("POST", &World::route("prepare"))
        .without_origin()
        .header("origin", "https://evil.example")
        .json(&World::prepare_body(ANDROID_UA, Some("+15555550100")))
        .send()
        .await;
    reply.assert_error(
        403,
        "ORIGIN_NOT_ALLOWED",
        &w.ctx("prepare from a foreign origin"),
    );
    assert!(
        reply.header("access-control-allow-origin").is_none(),
        "{}",
        w.ctx("no ACAO")
    );
}
