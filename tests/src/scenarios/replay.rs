//! Single use: a credential gives at most one session, once, for its own flow.

use futures_util::future::join_all;

use crate::harness::{World, ANDROID_UA, SESSION_COOKIE};
use crate::scenarios::flows::assert_session_cookie;

/// The same process call twice: the second is 409 SESSION_ALREADY_USED, without a session.
pub async fn process_twice_is_refused(w: &World) {
    let b = &w.browser;
    let prepared = w.prepare(b, ANDROID_UA, Some("+15555550100")).await;
    let credential = w.ts43_credential(&prepared.session_key, None);
    let first = w.process(b, &prepared, &credential).await;
    first.assert_status(200, &w.ctx("first process"));
    let session = assert_session_cookie(w, &first);

    // Replayed from a browser without the session (an attacker holding the credential): it
    // has no binding cookie for the flow.
    let again = w.process(&w.other, &prepared, &credential).await;
    again.assert_error(403, "MISSING_BINDING_COOKIE", &w.ctx("second process"));
    assert!(
        again.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no second session")
    );
    w.me(&w.other)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx("/me of the replaying browser"));
    // Replayed from the same browser: refused too (the flow's binding cookie was removed at its
    // end), and its session is untouched.
    let same = w.process(b, &prepared, &credential).await;
    same.assert_error(403, "MISSING_BINDING_COOKIE", &w.ctx("third process"));
    assert_eq!(
        b.cookie(SESSION_COOKIE).as_deref(),
        Some(session.as_str()),
        "{}",
        w.ctx("session kept")
    );
    w.me(b)
        .await
        .assert_status(200, &w.ctx("/me still verified"));
}

/// 20 concurrent process calls on one TS43 flow: exactly one session.
pub async fn concurrent_process_gives_one_session(w: &World) {
    let prepared = w
        .prepare(&w.browser, ANDROID_UA, Some("+15555550100"))
        .await;
    let credential = w.ts43_credential(&prepared.session_key, None);
    let body = World::process_body(&prepared, &credential);
    let path = World::route("process");
    let binding_name = format!("_glide_bind_{}", prepared.session_key);
    let binding = format!(
        "{binding_name}={}",
        w.browser.cookie(&binding_name).unwrap_or_default()
    );
    let replies = join_all((0..20).map(|_| {
        w.browser
            .call("POST", &path)
            .json(&body)
            .without_cookies()
            .header("cookie", &binding)
            .send()
    }))
    .await;
    let winners: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(
        winners.len(),
        1,
        "{}: statuses {:?}",
        w.ctx("exactly one success"),
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for reply in &replies {
        if reply.status == 200 {
            assert_session_cookie(w, reply);
        } else {
            assert!(
                reply.status == 409,
                "{}: a loser gets 409, got {} {}",
                w.ctx("concurrent process"),
                reply.status,
                reply.text()
            );
            reply.assert_error_shape(&w.ctx("concurrent loser"));
            assert!(
                reply.set_cookie(SESSION_COOKIE).is_none(),
                "{}",
                w.ctx("loser without session")
            );
        }
    }
}

/// The credential minted for flow A, submitted for flow B: refused; A still works.
pub async fn credential_of_another_flow_is_refused(w: &World) {
    let b = &w.browser;
    let flow_a = w.prepare(b, ANDROID_UA, Some("+15555550100")).await;
    // Flow B in another browser (one flow per browser: B's prepare here would end A's binding).
    let flow_b = w.prepare(&w.other, ANDROID_UA, Some("+15555550100")).await;
    assert_ne!(flow_a.session_key, flow_b.session_key);
    let credential_a = w.ts43_credential(&flow_a.session_key, None);
    let crossed = w.process(&w.other, &flow_b, &credential_a).await;
    assert!(
        (400..500).contains(&crossed.status),
        "{}: got {} {}",
        w.ctx("credential of A for B"),
        crossed.status,
        crossed.text()
    );
    crossed.assert_error_shape(&w.ctx("credential of A for B"));
    assert!(
        crossed.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no session")
    );
    w.me(b)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx("/me"));

    let own = w.process(b, &flow_a, &credential_a).await;
    own.assert_status(200, &w.ctx("credential of A for A"));
    assert_session_cookie(w, &own);
}
