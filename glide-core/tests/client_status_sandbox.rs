//! `Glide::status` / `Glide::public_status` against the real sandbox: Glide answers a failed flow
//! with 422 and an expired one with 410, and the client reads both as statuses.
#![allow(clippy::unwrap_used)]

use glide_core::api::{ClientInfo, Glide, PrepareRequest, SessionStatus};
use glide_core::PhoneNumber;
use glide_sandbox::{Sandbox, SandboxConfig};

const DESKTOP_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

#[tokio::test]
async fn failed_and_expired_sessions_are_statuses_unknown_ones_errors() {
    let sandbox = Sandbox::start(SandboxConfig::default().with_port(0))
        .await
        .unwrap();
    let control = sandbox.control();
    let glide = Glide::builder("sandbox-client", "sandbox-secret")
        .base_url(sandbox.base_url())
        .build()
        .unwrap();
    let prepare = || async {
        let phone = PhoneNumber::parse("+15555550100").unwrap();
        glide
            .prepare(&PrepareRequest::verify_phone_number(
                &phone,
                ClientInfo::new(DESKTOP_UA),
            ))
            .await
            .unwrap()
            .session_key()
            .to_owned()
    };

    let denied = prepare().await;
    assert_eq!(
        glide.status(&denied).await.unwrap().status,
        SessionStatus::Pending
    );
    control.desktop_deny(&denied).unwrap();
    for status in [
        glide.status(&denied).await.unwrap(),
        glide.public_status(&denied).await.unwrap(),
    ] {
        assert_eq!(
            (status.session_key.as_str(), &status.status),
            (denied.as_str(), &SessionStatus::Failed)
        );
        assert!(status.status.is_final());
    }

    let expired = prepare().await;
    control.expire_session(&expired).unwrap();
    for status in [
        glide.status(&expired).await.unwrap(),
        glide.public_status(&expired).await.unwrap(),
    ] {
        assert_eq!(status.status, SessionStatus::Expired);
        assert_eq!(status.status.as_str(), "expired");
    }

    let unknown = glide.status("ffffffffffffffff").await.unwrap_err();
    assert_eq!(
        (unknown.http_status(), unknown.code()),
        (404, "SESSION_NOT_FOUND")
    );
    sandbox.shutdown();
}
