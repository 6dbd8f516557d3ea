//! The warning about requests without a client address: logged once, loudly, at the first such
//! request. Alone in its test binary, so that no other test's thread races `tracing`'s callsite
//! registration while this one captures.

#![allow(clippy::unwrap_used)]

use serde_json::json;

mod endpoint_support;
mod log_support;
use endpoint_support::engine::{call, engine, post, ANDROID};

#[tokio::test]
async fn a_request_without_an_address_is_warned_about_once() {
    let (logs, _guard) = log_support::capture(tracing::Level::WARN);
    let (_sandbox, auth) = engine(|b| b).await;
    let prepare = |peer: Option<std::net::IpAddr>| {
        let mut request = post(
            "/api/magical-auth/prepare",
            json!({"use_case": "GetPhoneNumber", "client_info": {"user_agent": ANDROID}}),
            "",
        );
        request.peer_addr = peer;
        call(&auth, request)
    };
    let (status, body, _) = prepare(Some([127, 0, 0, 1].into())).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !logs.text().contains("without a client address"),
        "no warning while addresses are known: {}",
        logs.text()
    );
    for _ in 0..3 {
        let (status, body, _) = prepare(None).await;
        assert_eq!(status, 200, "{body}");
    }
    let text = logs.text();
    let warnings = text
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("without a client address"))
        .count();
    assert_eq!(warnings, 1, "{text}");
    assert!(
        text.contains("into_make_service_with_connect_info"),
        "{text}"
    );
}
