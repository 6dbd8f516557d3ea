//! The app's verification hook, through the engine against the real sandbox: one event per
//! verified, denied, not verified and logged-out session, masked, in order.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use glide_core::endpoint::{RevokeCause, VerificationEvent};
use glide_core::policy::RiskRule;
use glide_core::Strategy;
use serde_json::json;

use crate::endpoint_support::engine::{call, engine, post, verify_ts43, verify_ts43_as};

#[tokio::test]
async fn every_outcome_reaches_the_hook_once_and_masked() {
    let seen: Arc<Mutex<Vec<VerificationEvent>>> = Arc::default();
    let log = seen.clone();
    let (sandbox, auth) = engine(move |b| {
        b.verification_hook(move |event: &VerificationEvent| {
            log.lock().unwrap().push(event.clone())
        })
    })
    .await;

    // Verified, then logged out.
    let (status, body, session) = verify_ts43(&sandbox, &auth, "+15555550100").await;
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = call(&auth, post("/api/magical-auth/logout", json!({}), &session)).await;
    assert_eq!(status, 204);
    // Denied: a SIM swapped hours ago.
    let (status, _, _) = verify_ts43(&sandbox, &auth, "+15555550101").await;
    assert_eq!(status, 403);
    // Not verified: the carrier vouches for another number than the one asked for.
    let (status, body, _) =
        verify_ts43_as(&sandbox, &auth, Some("+15555550103"), Some("+15555550100")).await;
    assert_eq!(
        (status, body["verified"].as_bool()),
        (200, Some(false)),
        "{body}"
    );

    let events = seen.lock().unwrap().clone();
    assert_eq!(
        events,
        [
            VerificationEvent::Verified {
                phone: "+1555***0100".into(),
                strategy: Strategy::Ts43,
            },
            VerificationEvent::Revoked {
                phone: "+1555***0100".into(),
                sessions: 1,
                cause: RevokeCause::Logout,
            },
            VerificationEvent::Denied {
                phone: "+1555***0101".into(),
                strategy: Strategy::Ts43,
                rule: RiskRule::SimSwap,
                reason: "sim_swap RISK_LEVEL_HIGH (0-4 hours)".into(),
            },
            VerificationEvent::NotVerified {
                phone: Some("+1555***0103".into()),
                strategy: Strategy::Ts43,
            },
        ]
    );
    let text = format!("{events:?}");
    for number in ["5555550100", "5555550101", "5555550103"] {
        assert!(!text.contains(number), "{text}");
    }
}

#[tokio::test]
async fn a_later_high_sim_swap_revokes_even_when_the_policy_denies_it() {
    use glide_core::store::{MemoryStore, Store};
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let seen: Arc<Mutex<Vec<VerificationEvent>>> = Arc::default();
    // One app lets HIGH through (so that a session of the number exists) ...
    let lenient_store = store.clone();
    let (sandbox, lenient) = engine(move |b| {
        b.shared_store(lenient_store)
            .risk_policy(glide_core::RiskPolicy::allow_all())
    })
    .await;
    let (status, _, session) = verify_ts43(&sandbox, &lenient, "+15555550101").await;
    assert_eq!(status, 200);
    let id = session
        .split("; ")
        .find_map(|c| c.strip_prefix("glide_session="))
        .unwrap()
        .to_owned();
    assert!(lenient.sessions().load(&id).await.unwrap().is_some());
    // ... another, on the same store, keeps the default policy.
    let log = seen.clone();
    let strict_store = store.clone();
    let (sandbox, strict) = engine(move |b| {
        b.shared_store(strict_store)
            .verification_hook(move |event: &VerificationEvent| {
                log.lock().unwrap().push(event.clone())
            })
    })
    .await;
    let (status, body, _) = verify_ts43(&sandbox, &strict, "+15555550101").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("RISK_POLICY_DENIED"))
    );
    assert!(
        lenient.sessions().load(&id).await.unwrap().is_none(),
        "revoked"
    );
    let events = seen.lock().unwrap().clone();
    assert_eq!(
        events.first(),
        Some(&VerificationEvent::Revoked {
            phone: "+1555***0101".into(),
            sessions: 1,
            cause: RevokeCause::SimSwap,
        }),
        "{events:?}"
    );
}
