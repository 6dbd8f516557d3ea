//! The shadow risk policy's decisions in the logs: alone in its test binary, so that no other
//! test's thread races `tracing`'s callsite registration while this one captures.

#![allow(clippy::unwrap_used)]

use glide_core::policy::{NumberRange, RiskPolicy};
use glide_core::RiskLevel;

mod endpoint_support;
mod log_support;
use endpoint_support::engine::{engine, verify_ts43};

fn range(text: &str) -> NumberRange {
    NumberRange::parse(text).unwrap()
}

#[tokio::test]
async fn a_shadow_policy_is_logged_and_never_enforced() {
    let (logs, _guard) = log_support::capture(tracing::Level::INFO);
    // The shadow policy would refuse every number outside +44, and MEDIUM everywhere.
    let (sandbox, auth) = engine(|b| {
        b.shadow_risk_policy(
            RiskPolicy::default()
                .deny_at(RiskLevel::Medium)
                .allow_numbers([range("+44")]),
        )
    })
    .await;
    let (status, body, set) = verify_ts43(&sandbox, &auth, "+15555550103").await;
    assert_eq!(status, 200, "the shadow refuses no one: {body}");
    assert!(set.contains("glide_session="), "{set}");
    // The enforced policy still decides: HIGH is denied, shadow or not.
    let (status, body, _) = verify_ts43(&sandbox, &auth, "+15555550101").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("RISK_POLICY_DENIED"))
    );

    let text = logs.text();
    let decisions: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("risk policy decision"))
        .collect();
    let shadow: Vec<&&str> = decisions
        .iter()
        .filter(|l| l.contains("mode=\"shadow\""))
        .collect();
    let enforced: Vec<&&str> = decisions
        .iter()
        .filter(|l| l.contains("mode=\"enforced\""))
        .collect();
    assert_eq!((shadow.len(), enforced.len()), (2, 2), "{text}");
    assert!(
        shadow
            .iter()
            .all(|l| l.contains("decision=\"deny\"") && l.contains("rule=\"number_range\"")),
        "{shadow:?}"
    );
    assert!(enforced[0].contains("decision=\"allow\""), "{enforced:?}");
    assert!(
        enforced[1].contains("decision=\"deny\"") && enforced[1].contains("rule=\"sim_swap\""),
        "{enforced:?}"
    );
    for line in &decisions {
        assert!(line.contains("glide::policy"), "{line}");
        assert!(
            !line.contains("5555550103") && !line.contains("5555550101"),
            "masked: {line}"
        );
    }
}

#[test]
fn a_failure_is_logged_as_an_error_a_refusal_is_not() {
    use glide_core::endpoint::error_response;
    use glide_core::error::RequestError;
    let (logs, _guard) = log_support::capture(tracing::Level::INFO);
    let refused = error_response(&glide_core::Error::Request(RequestError::NotVerified));
    assert_eq!(refused.status(), 401);
    assert_eq!(
        logs.text(),
        "",
        "a 4xx is the client's, not ours to alarm on"
    );
    let failed = error_response(&glide_core::Error::Internal("the store is down".into()));
    assert_eq!(failed.status(), 500);
    let text = logs.text();
    assert!(
        text.contains("ERROR")
            && text.contains("request failed")
            && text.contains("the store is down"),
        "{text}"
    );
    assert!(
        !String::from_utf8_lossy(failed.body()).contains("the store is down"),
        "opaque body"
    );
}
