//! The verified session: fixation, rotation, logout, tampering.

use crate::harness::{World, DESKTOP_UA, SESSION_COOKIE};
use crate::scenarios::flows::assert_session_cookie;

/// An attacker-chosen session cookie is not adopted: verification issues another id, and the
/// attacker's id stays unauthenticated.
pub async fn bogus_session_cookie_is_not_adopted(w: &World) {
    let bogus = "attacker-chosen-session-id-0123456789abcdef";
    w.browser.set_cookie(SESSION_COOKIE, bogus);
    w.me(&w.browser)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx("/me with a bogus id"));
    let optional = w.browser.get("/me/optional").await;
    optional.assert_status(200, &w.ctx("/me/optional with a bogus id"));
    assert_eq!(
        optional.json()["verified"],
        false,
        "{}",
        w.ctx("/me/optional")
    );

    let reply = w.verify_ts43(&w.browser, "+15555550100").await;
    reply.assert_status(200, &w.ctx("process with a bogus cookie"));
    let issued = assert_session_cookie(w, &reply);
    assert_ne!(issued, bogus, "{}", w.ctx("a fresh id is issued"));
    w.me(&w.browser)
        .await
        .assert_status(200, &w.ctx("/me with the issued id"));

    w.other.set_cookie(SESSION_COOKIE, bogus);
    w.me(&w.other)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx("/me with the attacker's id"));
}

/// A second verification in the same browser issues a new id and ends the first one.
pub async fn every_verification_gets_a_fresh_id(w: &World) {
    let first = w.verify_ts43(&w.browser, "+15555550100").await;
    first.assert_status(200, &w.ctx("first verification"));
    let first_id = assert_session_cookie(w, &first);
    let second = w.verify_ts43(&w.browser, "+15555550100").await;
    second.assert_status(200, &w.ctx("second verification"));
    let second_id = assert_session_cookie(w, &second);
    assert_ne!(first_id, second_id, "{}", w.ctx("ids differ"));
    w.me(&w.browser)
        .await
        .assert_status(200, &w.ctx("/me with the second id"));

    w.other.set_cookie(SESSION_COOKIE, &first_id);
    w.me(&w.other)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx("/me with the first id"));
}

/// Logout: 204, a removal cookie repeating the attributes, and the id is dead server-side.
pub async fn logout_ends_the_session(w: &World) {
    let reply = w.verify_ts43(&w.browser, "+15555550100").await;
    reply.assert_status(200, &w.ctx("verification"));
    let id = assert_session_cookie(w, &reply);

    let logout = w
        .browser
        .call("POST", &World::route("logout"))
        .json(&serde_json::json!({}))
        .send()
        .await;
    logout.assert_status(204, &w.ctx("logout"));
    let removal = logout.set_cookie(SESSION_COOKIE).unwrap_or_else(|| {
        panic!(
            "{}: no removal cookie: {:?}",
            w.ctx("logout"),
            logout.set_cookies()
        )
    });
    assert!(
        removal.is_removal(),
        "{}: {}",
        w.ctx("removal cookie"),
        removal.raw
    );
    assert_eq!(
        removal.attr("max-age"),
        Some("0"),
        "{}: {}",
        w.ctx("removal Max-Age"),
        removal.raw
    );
    removal.assert_dev_attributes(&w.ctx("removal cookie"));
    assert!(
        w.browser.cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("the browser dropped the cookie")
    );
    w.me(&w.browser)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx("/me after logout"));

    // The old id, replayed by a browser that kept it, is dead too.
    w.other.set_cookie(SESSION_COOKIE, &id);
    w.me(&w.other)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx("/me with the logged-out id"));

    // Logout without a session still answers 204.
    let again = w
        .other
        .call("POST", &World::route("logout"))
        .json(&serde_json::json!({}))
        .without_cookies()
        .send()
        .await;
    again.assert_status(204, &w.ctx("logout without a session"));
}

/// A tampered session cookie is treated as absent: 401, never a 500.
pub async fn tampered_session_cookie_is_unauthenticated(w: &World) {
    let reply = w.verify_ts43(&w.browser, "+15555550100").await;
    reply.assert_status(200, &w.ctx("verification"));
    let id = assert_session_cookie(w, &reply);

    let mut flipped = id.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).expect("ascii id");
    let variants = [
        flipped,
        id[..id.len() / 2].to_owned(),
        format!("{id}=="),
        format!("{id}x"),
        String::new(),
        "%00%0d%0a".to_owned(),
        "x".repeat(3000),
    ];
    for variant in variants {
        w.other.set_cookie(SESSION_COOKIE, &variant);
        let me = w.me(&w.other).await;
        me.assert_error(
            401,
            "NOT_VERIFIED",
            &w.ctx(&format!("/me with tampered id {:.40?}", variant)),
        );
        let optional = w.other.get("/me/optional").await;
        optional.assert_status(200, &w.ctx("/me/optional with a tampered id"));
        assert_eq!(
            optional.json()["verified"],
            false,
            "{}",
            w.ctx("/me/optional tampered")
        );
    }
    // The genuine one still works.
    w.me(&w.browser)
        .await
        .assert_status(200, &w.ctx("/me with the genuine id"));
}

/// Two instances of one app share a Redis Cluster (three masters, three replicas): a desktop
/// flow prepared on the first is polled, finished and verified on the second, the session it
/// gives is read on the first, and a logout on the first ends it on the second.
pub async fn two_instances_share_the_cluster(w: &World) {
    use glide_core::events::RedisEvents;
    use glide_core::store::RedisStore;

    let Some(cluster) = crate::redis_server::RedisCluster::shared() else {
        return;
    };
    let urls = cluster.urls();
    let store: std::sync::Arc<dyn glide_core::Store> = std::sync::Arc::new(
        RedisStore::connect_cluster(&urls)
            .await
            .expect("connect the cluster store"),
    );
    let instance = |store: std::sync::Arc<dyn glide_core::Store>, events: RedisEvents| {
        move |b: glide_core::GlideAuthBuilder| b.shared_store(store).events(events)
    };
    let events = || async {
        RedisEvents::connect_cluster(&urls)
            .await
            .expect("connect the cluster events")
    };
    let (_one, first) = w.start_app(instance(store.clone(), events().await)).await;
    let (_two, second) = w.start_app(instance(store, events().await)).await;

    let prepared = w.prepare(&first, DESKTOP_UA, Some("+15555550100")).await;
    assert_eq!(prepared.strategy, "desktop", "{}", w.ctx("strategy"));
    // The browser's cookies reach whichever instance the balancer picks.
    let binding = format!("_glide_bind_{}", prepared.session_key);
    let value = first
        .cookie(&binding)
        .unwrap_or_else(|| panic!("{}: no binding cookie", w.ctx("prepare")));
    second.set_cookie(&binding, &value);
    second.set_user_agent(DESKTOP_UA);
    second
        .get(&format!(
            "{}{}",
            World::route("status/"),
            prepared.session_key
        ))
        .await
        .assert_status(200, &w.ctx("status on the other instance"));
    w.sandbox
        .control()
        .desktop_approve(&prepared.session_key)
        .unwrap_or_else(|e| panic!("desktop_approve: {e}"));
    let reply = w.process(&second, &prepared, &prepared.session_key).await;
    reply.assert_status(200, &w.ctx("process on the other instance"));
    let session = second
        .cookie(SESSION_COOKIE)
        .unwrap_or_else(|| panic!("{}: no session cookie", w.ctx("process")));
    first.set_cookie(SESSION_COOKIE, &session);
    let me = first.get("/me").await;
    me.assert_status(200, &w.ctx("/me on the first instance"));
    assert_eq!(
        me.json()["phone_number"],
        "+15555550100",
        "{}",
        w.ctx("/me")
    );
    first
        .post(&World::route("logout"), &serde_json::json!({}))
        .await
        .assert_status(204, &w.ctx("logout on the first instance"));
    second.get("/me").await.assert_error(
        401,
        "NOT_VERIFIED",
        &w.ctx("/me on the second after logout"),
    );
}
