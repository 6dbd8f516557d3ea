//! Every demo flow in a real browser: headless Chromium driven over WebDriver against both
//! `axum-demo` and `actix-demo` (each with its embedded sandbox).
//!
//! Each test starts its own chromedriver, its own demo process and one Chromium per "browser
//! context" (fresh profile: own cookies and `localStorage`), waits on page conditions by bounded
//! polling, and saves the flow's last screen as `<demo>-<flow>.png` in `target/e2e-screenshots`
//! (or `$GLIDE_E2E_SCREENSHOTS`, e.g. `docs/screenshots`).
//! Without Chromium the tests print `SKIPPED: …` (or fail when `GLIDE_REQUIRE_EXTERNAL=1`).
//!
//! Flows: TS43 (sandbox wallet, Android user agent); Link (carrier page in a second tab, the
//! first tab finishing on the completion page's signal, binding cookie HttpOnly, fragment gone);
//! Link completed in another browser (the "open in your default browser" guidance); Desktop (QR
//! page opened by a second browser, the phone; the desktop tab finishing by itself); the risk
//! denial (`+15555550101`); a carrier that is not eligible (`+15555550106`), then its SMS code
//! fallback (a wrong code, then the right one from the sandbox inbox); the SIM-swap denial of a
//! code (`+15555550109`: not eligible, so the SMS code, denied on its SIM swapped 2 hours ago,
//! shown like the Magical Auth denial); logout.

use glide_tests::browser::{
    ChromeDriver, Demo, DemoApp, Session, SessionOptions, ANDROID_UA, IPHONE_UA,
};
use serde_json::Value;

/// The fixture number that verifies with low risk.
const OK_NUMBER: &str = "+15555550100";
/// SIM changed 0-4 hours ago: `RISK_LEVEL_HIGH`, denied by the default policy.
const SIM_SWAP_NUMBER: &str = "+15555550101";
/// Prepare answers 422 `CARRIER_NOT_ELIGIBLE`.
const NOT_ELIGIBLE_NUMBER: &str = "+15555550106";
/// [`NOT_ELIGIBLE_NUMBER`] as the page formats it.
const NOT_ELIGIBLE_SHOWN: &str = "+1 555 555 0106";
/// Not eligible for Magical Auth (codes instead) and its SIM changed 2 hours ago.
const SWAPPED_NOT_ELIGIBLE_NUMBER: &str = "+15555550109";
/// [`SWAPPED_NOT_ELIGIBLE_NUMBER`] as the page formats it.
const SWAPPED_NOT_ELIGIBLE_SHOWN: &str = "+1 555 555 0109";

/// Runs each flow against both demos: `axum::<flow>` and `actix::<flow>`.
macro_rules! against_both_demos {
    ($($flow:ident),* $(,)?) => {
        mod axum {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $flow() {
                    super::$flow(glide_tests::browser::Demo::Axum).await;
                }
            )*
        }
        mod actix {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $flow() {
                    super::$flow(glide_tests::browser::Demo::Actix).await;
                }
            )*
        }
    };
}

against_both_demos!(
    ts43,
    link,
    link_in_another_browser,
    desktop,
    risk_denied,
    carrier_not_eligible,
    sim_swap_code_denied,
    chain_not_eligible,
    step_up,
    logout,
    sign_out_everywhere,
);

// ---------------------------------------------------------------------------------------------
// The flows
// ---------------------------------------------------------------------------------------------

/// TS43 with the sandbox wallet in an Android browser.
async fn ts43(demo: Demo) {
    let Some((driver, app)) = setup(demo) else {
        return;
    };
    let android = driver
        .new_session(SessionOptions::with_user_agent(ANDROID_UA))
        .await;
    let outcome = ts43_in_the_page(&android, &app, OK_NUMBER).await;
    assert_verified(&outcome, OK_NUMBER, "TS43");
    assert_eq!(outcome["sim"], "low", "SIM-swap signal shown: {outcome}");

    let prepare = last_prepare(&app).await;
    let ua = prepare["client_info"]["user_agent"]
        .as_str()
        .unwrap_or_default();
    assert!(
        ua.contains("Android"),
        "prepare must carry the browser's Android user agent, got {prepare}"
    );
    let me = me(&android).await;
    assert_eq!(me.0, 200, "GET /me after TS43: {me:?}");
    assert_eq!(me.1["phone_number"], OK_NUMBER);
    assert_eq!(me.1["strategy"], "ts43");
    assert_session_cookies_hidden(&android).await;
    android
        .wait_for_text("#session-text", "Verified as +1 555 555 0100")
        .await;

    android.scroll_into_view("#result").await;
    android
        .save_screenshot(&format!("{}-ts43", demo.name()))
        .await;
}

/// Link: the carrier page in a second tab, the first tab finishing on the signal.
async fn link(demo: Demo) {
    let Some((driver, app)) = setup(demo) else {
        return;
    };
    let iphone = driver
        .new_session(SessionOptions::with_user_agent(IPHONE_UA))
        .await;
    open_demo(&iphone, &app).await;
    let first_tab = iphone.window_handle().await;

    start_flow(&iphone, OK_NUMBER, "#btn-link").await;
    let carrier_tab = iphone
        .wait_for_new_window(std::slice::from_ref(&first_tab))
        .await;

    // The binding cookie exists in this browser and is HttpOnly: invisible to the page.
    let binding = iphone
        .wait_until(
            "the Link prepare to finish (carrier URL shown)",
            "var a = document.getElementById('link-open'); \
             return a && !a.closest('[hidden]') ? a.href : null;",
        )
        .await;
    let carrier_url = binding.as_str().unwrap_or_default().to_owned();
    assert!(
        carrier_url.starts_with(&format!("{}/sandbox/link/", app.sandbox_url())),
        "the carrier page is the sandbox's: {carrier_url}"
    );
    let cookies = iphone.cookies().await;
    let bind = cookies
        .iter()
        .find(|c| c.name.starts_with("_glide_bind_"))
        .unwrap_or_else(|| panic!("no binding cookie after the Link prepare: {cookies:?}"));
    assert!(
        bind.http_only,
        "the binding cookie must be HttpOnly: {bind:?}"
    );
    assert_eq!(bind.path, "/", "binding cookie path: {bind:?}");
    let visible = iphone.execute("return document.cookie;", vec![]).await;
    assert!(
        !visible
            .as_str()
            .unwrap_or_default()
            .contains("_glide_bind_"),
        "document.cookie must not show the binding cookie: {visible}"
    );

    // The carrier tab.
    iphone.switch_to_window(&carrier_tab).await;
    iphone
        .wait_until(
            "the second tab to show the carrier page",
            "return location.pathname.indexOf('/sandbox/link/') === 0;",
        )
        .await;
    // The completion page closes its tab 300 ms after success. To look at that tab after it
    // finished, `window.close` becomes a recorder here; the test asserts it was called.
    iphone
        .add_init_script(
            "window.__glideCloseCalls = 0; \
             window.close = function () { window.__glideCloseCalls += 1; };",
        )
        .await;
    iphone.click("#approve").await;
    let state = wait_for_completion_page(&iphone).await;
    assert_eq!(state, "done", "{}", iphone.describe().await);
    let address = iphone.current_url().await;
    assert!(
        address.starts_with(&app.url("/glide-complete")),
        "the sandbox redirected to the demo's completion page: {address}"
    );
    assert!(
        !address.contains('#') && !address.contains("agg_code") && !address.contains("session_key"),
        "the fragment must be gone from the address bar: {address}"
    );
    assert_eq!(
        iphone.execute("return location.hash;", vec![]).await,
        "",
        "location.hash after completion"
    );
    iphone
        .wait_until(
            "the completion page to close its tab",
            "return window.__glideCloseCalls > 0;",
        )
        .await;
    iphone
        .save_screenshot(&format!("{}-link-complete", demo.name()))
        .await;

    // The first tab finishes on the signal.
    iphone.switch_to_window(&first_tab).await;
    let outcome = wait_for_outcome(&iphone).await;
    assert_verified(&outcome, OK_NUMBER, "Link");
    let me = me(&iphone).await;
    assert_eq!(me.0, 200, "GET /me after Link: {me:?}");
    assert_eq!(me.1["phone_number"], OK_NUMBER);
    assert_eq!(me.1["strategy"], "link");
    assert_session_cookies_hidden(&iphone).await;

    iphone.scroll_into_view("#result").await;
    iphone
        .save_screenshot(&format!("{}-link", demo.name()))
        .await;
}

/// Link whose carrier page is finished in another browser: the completion page there says to
/// open the link in the default browser, and nobody gets a session.
async fn link_in_another_browser(demo: Demo) {
    let Some((driver, app)) = setup(demo) else {
        return;
    };
    let started_in = driver
        .new_session(SessionOptions::with_user_agent(IPHONE_UA))
        .await;
    open_demo(&started_in, &app).await;
    let first_tab = started_in.window_handle().await;
    start_flow(&started_in, OK_NUMBER, "#btn-link").await;
    let carrier_tab = started_in
        .wait_for_new_window(std::slice::from_ref(&first_tab))
        .await;
    started_in.switch_to_window(&carrier_tab).await;
    let carrier_url = started_in
        .wait_until(
            "the second tab to show the carrier page",
            "return location.pathname.indexOf('/sandbox/link/') === 0 ? location.href : null;",
        )
        .await;
    let carrier_url = carrier_url.as_str().unwrap_or_default().to_owned();

    // Another browser (its own cookies) opens the same carrier link and approves.
    let other = driver
        .new_session(SessionOptions::with_user_agent(IPHONE_UA))
        .await;
    other.goto(&carrier_url).await;
    other.click("#approve").await;
    let state = wait_for_completion_page(&other).await;
    assert_eq!(state, "wrong-browser", "{}", other.describe().await);
    let title = other.text("#title").await;
    assert_eq!(title, "Open in your default browser");
    let detail = other.text("#detail").await;
    assert!(
        detail.contains("default browser"),
        "guidance text: {detail:?}"
    );
    let address = other.current_url().await;
    assert!(
        !address.contains('#'),
        "fragment gone in the other browser too: {address}"
    );
    let other_me = me(&other).await;
    assert_eq!(
        other_me.0, 401,
        "the other browser got no session: {other_me:?}"
    );

    started_in.switch_to_window(&first_tab).await;
    let result_shown = started_in
        .execute("return !document.getElementById('result').hidden;", vec![])
        .await;
    assert_eq!(
        result_shown, false,
        "the starting tab must not show a verification"
    );
    let started_me = me(&started_in).await;
    assert_eq!(
        started_me.0, 401,
        "the starting browser got no session: {started_me:?}"
    );

    other
        .save_screenshot(&format!("{}-link-wrong-browser", demo.name()))
        .await;
}

/// Desktop: the QR page opened by a second browser (the phone); the desktop tab finishes by
/// itself.
async fn desktop(demo: Demo) {
    let Some((driver, app)) = setup(demo) else {
        return;
    };
    let desktop = driver.new_session(SessionOptions::default()).await;
    open_demo(&desktop, &app).await;
    start_flow(&desktop, OK_NUMBER, "#btn-desktop").await;
    let qr_url = desktop
        .wait_until(
            "the QR code to be shown and loaded",
            "var img = document.getElementById('qr'), a = document.getElementById('qr-link'); \
             if (!img || img.closest('[hidden]') || !img.complete || !img.naturalWidth) return null; \
             return a.href.indexOf('/sandbox/qr/') > 0 ? a.href : null;",
        )
        .await;
    let qr_url = qr_url.as_str().unwrap_or_default().to_owned();
    assert!(
        qr_url.starts_with(&format!("{}/sandbox/qr/", app.sandbox_url())),
        "the QR code points at the sandbox's phone page: {qr_url}"
    );
    desktop.scroll_into_view("#qr-box").await;
    desktop
        .save_screenshot(&format!("{}-desktop-qr", demo.name()))
        .await;

    let phone = driver
        .new_session(SessionOptions::with_user_agent(ANDROID_UA))
        .await;
    phone.goto(&qr_url).await;
    phone.click("#approve").await;
    phone.wait_for_text("h1", "Approved").await;
    phone
        .save_screenshot(&format!("{}-desktop-phone", demo.name()))
        .await;

    let outcome = wait_for_outcome(&desktop).await;
    assert_verified(&outcome, OK_NUMBER, "Desktop");
    let me = me(&desktop).await;
    assert_eq!(me.0, 200, "GET /me after Desktop: {me:?}");
    assert_eq!(me.1["phone_number"], OK_NUMBER);
    assert_eq!(me.1["strategy"], "desktop");

    desktop.scroll_into_view("#result").await;
    desktop
        .save_screenshot(&format!("{}-desktop", demo.name()))
        .await;
}

/// `+15555550101` verifies, but its SIM swap is high risk: shown as denied, no session.
async fn risk_denied(demo: Demo) {
    let Some((driver, app)) = setup(demo) else {
        return;
    };
    let android = driver
        .new_session(SessionOptions::with_user_agent(ANDROID_UA))
        .await;
    open_demo(&android, &app).await;
    start_flow(&android, SIM_SWAP_NUMBER, "#btn-ts43").await;
    let outcome = wait_for_outcome(&android).await;
    assert_eq!(outcome["kind"], "result", "{outcome}");
    assert_eq!(outcome["decision"], "denied", "{outcome}");
    assert_eq!(
        outcome["decisionText"], "Denied by risk policy",
        "{outcome}"
    );
    assert_eq!(outcome["e164"], SIM_SWAP_NUMBER, "{outcome}");
    assert_eq!(outcome["sim"], "high", "SIM-swap signal shown: {outcome}");
    let me = me(&android).await;
    assert_eq!(me.0, 401, "a denied verification starts no session: {me:?}");
    assert_eq!(me.1["code"], "NOT_VERIFIED");
    android.wait_for_text("#session-text", "Not verified").await;

    android.scroll_into_view("#result").await;
    android
        .save_screenshot(&format!("{}-risk-denied", demo.name()))
        .await;
}

/// `+15555550106`: the carrier is not eligible for Magical Auth. The page says so and offers a
/// one-time code instead; the SMS code path then verifies: "Text me a code", the sandbox inbox
/// shows the code the sandbox "sent", a wrong code costs an attempt (the page says how many are
/// left), the right one starts a verified session with strategy `sms`.
async fn carrier_not_eligible(demo: Demo) {
    let Some((driver, app)) = setup(demo) else {
        return;
    };
    let android = driver
        .new_session(SessionOptions::with_user_agent(ANDROID_UA))
        .await;
    open_demo(&android, &app).await;
    start_flow(&android, NOT_ELIGIBLE_NUMBER, "#btn-ts43").await;
    let outcome = wait_for_outcome(&android).await;
    assert_eq!(outcome["kind"], "error", "{outcome}");
    assert_eq!(outcome["title"], "Carrier not eligible", "{outcome}");
    assert!(
        outcome["code"]
            .as_str()
            .unwrap_or_default()
            .starts_with("CARRIER_NOT_ELIGIBLE"),
        "{outcome}"
    );
    assert!(
        outcome["text"]
            .as_str()
            .unwrap_or_default()
            .contains("cannot verify silently"),
        "{outcome}"
    );
    let me_before = me(&android).await;
    assert_eq!(me_before.0, 401, "{me_before:?}");

    // The fallback panel is offered for the number that was typed.
    android.wait_for_element("#fallback").await;
    assert_eq!(android.text("#fallback-phone").await, NOT_ELIGIBLE_SHOWN);
    assert!(
        !is_displayed(&android, "#code-box").await,
        "no code box before a code is asked for"
    );
    android.scroll_into_view("#error").await;
    android
        .save_screenshot(&format!("{}-not-eligible", demo.name()))
        .await;

    // "Text me a code": the code box and (sandbox mode) the sandbox inbox appear.
    android.click("#fallback-sms").await;
    android.wait_for_element("#code-box").await;
    android
        .wait_for_text("#code-label", &format!("by SMS to {NOT_ELIGIBLE_SHOWN}"))
        .await;
    android
        .wait_for_text("#fallback-status", "Code sent.")
        .await;
    android.wait_for_element("#sandbox-inbox").await;
    android.click("#inbox-read").await;
    let code = android
        .wait_until(
            "the sandbox inbox to show the code",
            "var t = document.getElementById('inbox-code').textContent.trim(); \
             return /^\\d{4,10}$/.test(t) ? t : null;",
        )
        .await;
    let code = code.as_str().unwrap_or_default().to_owned();
    assert_eq!(
        code,
        sandbox_otp(&app, NOT_ELIGIBLE_NUMBER).await,
        "the inbox shows the code the sandbox sent"
    );

    // A wrong code costs an attempt; the page says how many are left and starts no session.
    android.type_into("#code", &wrong_code(&code)).await;
    android.click("#code-submit").await;
    android.wait_for_text("#attempts", "4 attempts left").await;
    android
        .wait_for_text("#fallback-status", "That code is not right.")
        .await;
    assert!(
        is_displayed(&android, "#code-box").await,
        "the code box stays for another try"
    );
    let me_wrong = me(&android).await;
    assert_eq!(
        me_wrong.0, 401,
        "a wrong code starts no session: {me_wrong:?}"
    );

    // The right code verifies: the result replaces the error and the fallback panel.
    android.type_into("#code", &code).await;
    android.click("#code-submit").await;
    android
        .wait_until(
            "the result of the SMS code to replace the error",
            "return !document.getElementById('result').hidden && \
             document.getElementById('error').hidden;",
        )
        .await;
    let outcome = wait_for_outcome(&android).await;
    assert_verified(&outcome, NOT_ELIGIBLE_NUMBER, "SMS code");
    assert!(
        !is_displayed(&android, "#fallback").await,
        "the fallback panel is gone after verification"
    );
    let me = me(&android).await;
    assert_eq!(me.0, 200, "GET /me after the SMS code: {me:?}");
    assert_eq!(me.1["phone_number"], NOT_ELIGIBLE_NUMBER);
    assert_eq!(me.1["strategy"], "sms");
    assert_session_cookies_hidden(&android).await;
    android
        .wait_for_text(
            "#session-text",
            &format!("Verified as {NOT_ELIGIBLE_SHOWN}"),
        )
        .await;

    android.scroll_into_view("#result").await;
    android
        .save_screenshot(&format!("{}-sms-fallback", demo.name()))
        .await;
}

/// The protected action: `POST /transfer` wants a carrier verification younger than
/// `GLIDE_DEMO_STEP_UP_SECONDS` (2 s here). After a TS43 verification has aged, the button's
/// request gets 401 `STEP_UP_REQUIRED`; `GlideAuth.stepUp` verifies the same number again (the
/// sandbox wallet answers) and the transfer goes through, on a fresh session.
async fn step_up(demo: Demo) {
    let Some(driver) = ChromeDriver::start() else {
        return;
    };
    let app = DemoApp::start_with_env(demo, &[("GLIDE_DEMO_STEP_UP_SECONDS", "2")]);
    let android = driver
        .new_session(SessionOptions::with_user_agent(ANDROID_UA))
        .await;
    assert_verified(
        &ts43_in_the_page(&android, &app, OK_NUMBER).await,
        OK_NUMBER,
        "TS43",
    );
    let first = me(&android).await;
    assert_eq!(first.0, 200, "{first:?}");

    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    android.scroll_into_view("#transfer").await;
    android.click("#btn-transfer").await;
    let state = android
        .wait_until(
            "the transfer to end",
            "var s = document.getElementById('transfer-status').getAttribute('data-state');              return s === 'sent' || s === 'refused' ? s : null;",
        )
        .await;
    let text = android.text("#transfer-status").await;
    assert_eq!(state, "sent", "{text}");
    assert!(
        text.contains("step-up"),
        "the page says a step-up happened: {text}"
    );
    let after = me(&android).await;
    assert_eq!(after.0, 200, "{after:?}");
    assert_eq!(after.1["phone_number"], OK_NUMBER);
    assert!(
        after.1["verified_at"].as_str() > first.1["verified_at"].as_str(),
        "a fresh verification: {} then {}",
        first.1["verified_at"],
        after.1["verified_at"]
    );
    android
        .save_screenshot(&format!("{}-step-up", demo.name()))
        .await;
}

/// The main button runs the server's verification chain (`GlideAuth.verify({chain: true})`):
/// for `+15555550106` Magical Auth is not eligible, the carrier check neither, so the chain sends
/// an SMS code with no page logic of its own; a wrong code says how many attempts are left (of
/// the chain's one budget), the right one verifies.
async fn chain_not_eligible(demo: Demo) {
    let Some((driver, app)) = setup(demo) else {
        return;
    };
    let android = driver
        .new_session(SessionOptions::with_user_agent(ANDROID_UA))
        .await;
    open_demo(&android, &app).await;
    android.type_into("#phone", NOT_ELIGIBLE_NUMBER).await;
    android.click("#btn-verify").await;
    android.wait_for_element("#code-box").await;
    android
        .wait_for_text("#code-label", &format!("by SMS to {NOT_ELIGIBLE_SHOWN}"))
        .await;
    let code = sandbox_otp(&app, NOT_ELIGIBLE_NUMBER).await;
    let me_before = me(&android).await;
    assert_eq!(me_before.0, 401, "{me_before:?}");

    android.type_into("#code", &wrong_code(&code)).await;
    android.click("#code-submit").await;
    android
        .wait_for_text("#fallback-status", "That code is not right.")
        .await;
    let attempts = android.text("#attempts").await;
    assert!(attempts.ends_with("attempts left"), "{attempts}");
    assert_eq!(me(&android).await.0, 401, "a wrong code starts no session");

    android.type_into("#code", &code).await;
    android.click("#code-submit").await;
    let outcome = wait_for_outcome(&android).await;
    assert_verified(&outcome, NOT_ELIGIBLE_NUMBER, "SMS code");
    let me = me(&android).await;
    assert_eq!(me.0, 200, "GET /me after the chain: {me:?}");
    assert_eq!(me.1["phone_number"], NOT_ELIGIBLE_NUMBER);
    assert_eq!(me.1["strategy"], "sms");
    assert_session_cookies_hidden(&android).await;
    android.scroll_into_view("#result").await;
    android
        .save_screenshot(&format!("{}-chain-not-eligible", demo.name()))
        .await;
}

/// `+15555550109`: not eligible for Magical Auth, so the page offers a code; the right SMS code
/// is then denied because the SIM changed 2 hours ago: the result card shows "Denied by risk
/// policy" with the SIM-swap signal (high, 0-4 hours), exactly like the Magical Auth denial, the
/// code panel is gone, and no session starts.
async fn sim_swap_code_denied(demo: Demo) {
    let Some((driver, app)) = setup(demo) else {
        return;
    };
    let android = driver
        .new_session(SessionOptions::with_user_agent(ANDROID_UA))
        .await;
    open_demo(&android, &app).await;
    start_flow(&android, SWAPPED_NOT_ELIGIBLE_NUMBER, "#btn-ts43").await;
    let outcome = wait_for_outcome(&android).await;
    assert_eq!(outcome["kind"], "error", "{outcome}");
    assert_eq!(outcome["title"], "Carrier not eligible", "{outcome}");
    android.wait_for_element("#fallback").await;
    assert_eq!(
        android.text("#fallback-phone").await,
        SWAPPED_NOT_ELIGIBLE_SHOWN
    );

    android.click("#fallback-sms").await;
    android.wait_for_element("#code-box").await;
    android
        .wait_for_text("#fallback-status", "Code sent.")
        .await;
    let code = sandbox_otp(&app, SWAPPED_NOT_ELIGIBLE_NUMBER).await;
    android.type_into("#code", &code).await;
    android.click("#code-submit").await;
    android
        .wait_until(
            "the risk-denied result to replace the code panel",
            "return !document.getElementById('result').hidden && \
             document.getElementById('error').hidden && \
             document.getElementById('fallback').hidden;",
        )
        .await;
    let outcome = wait_for_outcome(&android).await;
    assert_eq!(outcome["kind"], "result", "{outcome}");
    assert_eq!(outcome["decision"], "denied", "{outcome}");
    assert_eq!(
        outcome["decisionText"], "Denied by risk policy",
        "{outcome}"
    );
    assert_eq!(outcome["e164"], SWAPPED_NOT_ELIGIBLE_NUMBER, "{outcome}");
    assert!(
        outcome["strategy"]
            .as_str()
            .unwrap_or_default()
            .contains("SMS code"),
        "{outcome}"
    );
    assert_eq!(outcome["sim"], "high", "SIM-swap signal shown: {outcome}");
    let sim_detail = android.text("#result-sim .detail").await;
    assert!(
        sim_detail.contains("0-4 hours"),
        "the swap's age is shown: {sim_detail:?}"
    );
    let me = me(&android).await;
    assert_eq!(me.0, 401, "a denied code starts no session: {me:?}");
    assert_eq!(me.1["code"], "NOT_VERIFIED");
    android.wait_for_text("#session-text", "Not verified").await;

    android.scroll_into_view("#result").await;
    android
        .save_screenshot(&format!("{}-sim-swap-code-denied", demo.name()))
        .await;
}

/// Logout ends the verified session: `/me` answers 401 and the session cookie is gone.
async fn logout(demo: Demo) {
    let Some((driver, app)) = setup(demo) else {
        return;
    };
    let android = driver
        .new_session(SessionOptions::with_user_agent(ANDROID_UA))
        .await;
    open_demo(&android, &app).await;
    start_flow(&android, OK_NUMBER, "#btn-ts43").await;
    let outcome = wait_for_outcome(&android).await;
    assert_verified(&outcome, OK_NUMBER, "TS43");
    assert_eq!(me(&android).await.0, 200);
    let before: Vec<String> = android
        .cookies()
        .await
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert!(
        !before.is_empty(),
        "a verified session cookie after verification"
    );

    android.click("#logout").await;
    android.wait_for_text("#me-output", "GET /me → 401").await;
    android.wait_for_text("#session-text", "Not verified").await;
    let result_hidden = android
        .execute("return document.getElementById('result').hidden;", vec![])
        .await;
    assert_eq!(result_hidden, true, "the result is cleared after logout");
    let me = me(&android).await;
    assert_eq!(me.0, 401, "GET /me after logout: {me:?}");
    let after: Vec<String> = android
        .cookies()
        .await
        .into_iter()
        .map(|c| c.name)
        .collect();
    for name in &before {
        assert!(
            !after.contains(name),
            "cookie {name} must be removed by logout (left: {after:?})"
        );
    }

    android.scroll_into_view("#session").await;
    android
        .save_screenshot(&format!("{}-logout", demo.name()))
        .await;
}

/// Two browsers verified with one number: each lists both sessions ("this device" on its own);
/// revoking the other browser's row ends that session; then "Sign out everywhere" ends every
/// session of the number, the clicking browser's too.
async fn sign_out_everywhere(demo: Demo) {
    let Some((driver, app)) = setup(demo) else {
        return;
    };
    let mut browsers = Vec::new();
    for _ in 0..2 {
        let android = driver
            .new_session(SessionOptions::with_user_agent(ANDROID_UA))
            .await;
        assert_verified(
            &ts43_in_the_page(&android, &app, OK_NUMBER).await,
            OK_NUMBER,
            "TS43",
        );
        browsers.push(android);
    }
    let (first, second) = (&browsers[0], &browsers[1]);
    let rows = wait_for_sessions(second, 2).await;
    assert_eq!(
        rows.iter()
            .map(|r| r["current"].clone())
            .collect::<Vec<_>>(),
        [Value::from("false"), Value::from("true")],
        "the second browser's own session is marked: {rows:?}"
    );
    for row in &rows {
        let text = row["text"].as_str().unwrap_or_default();
        assert!(
            text.contains("Chrome on Android") && text.contains("127.0.0.0/24"),
            "device and masked address shown: {text}"
        );
    }
    second.scroll_into_view("#sessions").await;
    second
        .save_screenshot(&format!("{}-sessions", demo.name()))
        .await;

    // Revoke the first browser's row from the second.
    second
        .click("#sessions-list li[data-current='false'] button.revoke")
        .await;
    wait_for_sessions(second, 1).await;
    assert_eq!(me(first).await.0, 401, "the revoked browser is signed out");
    assert_eq!(me(second).await.0, 200, "the revoking browser is not");

    // The first browser verifies again; the second signs out everywhere.
    start_flow(first, OK_NUMBER, "#btn-ts43").await;
    assert_verified(&wait_for_outcome(first).await, OK_NUMBER, "TS43");
    second.click("#btn-me").await;
    wait_for_sessions(second, 2).await;
    second.click("#sessions-revoke-all").await;
    second.wait_for_text("#me-output", "GET /me → 401").await;
    second.wait_for_text("#session-text", "Not verified").await;
    assert_eq!(
        second
            .execute("return document.getElementById('sessions').hidden;", vec![])
            .await,
        true,
        "the list is gone once signed out"
    );
    assert_eq!(me(first).await.0, 401, "every browser is signed out");
    assert_eq!(me(second).await.0, 401);
    second.scroll_into_view("#session").await;
    second
        .save_screenshot(&format!("{}-sign-out-everywhere", demo.name()))
        .await;
}

/// Waits until the page lists `count` sessions; returns each row's `current` and text.
async fn wait_for_sessions(session: &Session, count: usize) -> Vec<Value> {
    let rows = session
        .wait_until(
            &format!("the page to list {count} sessions"),
            &format!(
                "if (document.getElementById('sessions').hidden) return null; \
                 var rows = Array.from(document.querySelectorAll('#sessions-list li')); \
                 if (rows.length !== {count}) return null; \
                 return rows.map(function (li) {{ return {{ current: li.getAttribute('data-current'), \
                   text: li.textContent }}; }});"
            ),
        )
        .await;
    rows.as_array().cloned().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Whether the element `css` exists and is displayed (not inside a `hidden` ancestor).
async fn is_displayed(session: &Session, css: &str) -> bool {
    let script = format!(
        "var e = document.querySelector({sel}); \
         return !!e && !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);",
        sel = glide_tests::browser::js_string(css)
    );
    session.execute(&script, vec![]).await == Value::Bool(true)
}

/// A code that is not `code`: same length, first digit changed.
fn wrong_code(code: &str) -> String {
    let first = if code.starts_with('0') { '1' } else { '0' };
    format!("{first}{}", &code[1..])
}

/// The last one-time code the sandbox "sent" to `phone` (`POST /sandbox/legacy/otp`).
async fn sandbox_otp(app: &DemoApp, phone: &str) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/sandbox/legacy/otp", app.sandbox_url()))
        .json(&serde_json::json!({ "phone_number": phone }))
        .send()
        .await
        .expect("POST /sandbox/legacy/otp")
        .json()
        .await
        .expect("the sandbox's OTP answer is JSON");
    answer["code"]
        .as_str()
        .unwrap_or_else(|| panic!("the sandbox sent no code to {phone}: {answer}"))
        .to_owned()
}

/// chromedriver and the demo, or `None` when Chromium is missing (the test is skipped).
fn setup(demo: Demo) -> Option<(ChromeDriver, DemoApp)> {
    let driver = ChromeDriver::start()?;
    Some((driver, DemoApp::start(demo)))
}

/// Opens the demo page and waits until its script ran (session state known).
async fn open_demo(session: &Session, app: &DemoApp) {
    session.goto(&app.url("/")).await;
    session
        .wait_until(
            "the demo page to be ready",
            "return typeof window.GlideAuth === 'object' && \
             document.body.getAttribute('data-mode') === 'sandbox' && \
             document.getElementById('session-state').getAttribute('data-state') !== 'unknown';",
        )
        .await;
}

/// Opens the demo in `android` (an Android browser), waits for the sandbox wallet, verifies
/// `number` by TS43 and returns what the page shows (see [`wait_for_outcome`]).
async fn ts43_in_the_page(android: &Session, app: &DemoApp, number: &str) -> Value {
    open_demo(android, app).await;
    android
        .wait_until(
            "the sandbox wallet to be installed",
            "return window.__glideSandboxWallet === true;",
        )
        .await;
    start_flow(android, number, "#btn-ts43").await;
    wait_for_outcome(android).await
}

/// Types `number` into `#phone` and clicks the strategy `button`.
async fn start_flow(session: &Session, number: &str, button: &str) {
    session.click("#uc-verify + span").await;
    session.type_into("#phone", number).await;
    session.click(button).await;
}

/// Waits until the page shows a result or an error, and returns what it shows:
/// `{kind: "result", e164, decision, decisionText, strategy, sim, device}` or
/// `{kind: "error", title, text, code}`.
async fn wait_for_outcome(session: &Session) -> Value {
    session
        .wait_until(
            "the page to show a result or an error",
            "function $(id) { return document.getElementById(id); } \
             if (!$('error').hidden) return { kind: 'error', title: $('error-title').textContent, \
               text: $('error-text').textContent, code: $('error-code').textContent }; \
             if (!$('result').hidden) return { kind: 'result', \
               e164: $('result-phone').getAttribute('data-e164'), \
               decision: $('decision').getAttribute('data-decision'), \
               decisionText: $('decision').textContent, \
               strategy: $('result-strategy').textContent, \
               sim: $('result-sim').getAttribute('data-level'), \
               device: $('result-device').getAttribute('data-level') }; \
             return null;",
        )
        .await
}

/// The outcome is an allowed verification of `number` by the strategy named `strategy`.
fn assert_verified(outcome: &Value, number: &str, strategy: &str) {
    assert_eq!(outcome["kind"], "result", "expected a result: {outcome}");
    assert_eq!(outcome["decision"], "allowed", "{outcome}");
    assert_eq!(outcome["e164"], number, "{outcome}");
    assert!(
        outcome["strategy"]
            .as_str()
            .unwrap_or_default()
            .contains(strategy),
        "strategy {strategy} shown: {outcome}"
    );
}

/// The completion page's final state (`done`, `wrong-browser`, …).
async fn wait_for_completion_page(session: &Session) -> String {
    let state = session
        .wait_until(
            "the completion page to finish",
            "var s = document.getElementById('status'); \
             if (!s || location.pathname !== '/glide-complete') return null; \
             var state = s.getAttribute('data-state'); \
             return state && state !== 'working' ? state : null;",
        )
        .await;
    state.as_str().unwrap_or_default().to_owned()
}

/// `GET /me` from the page (with its cookies): status and JSON body.
async fn me(session: &Session) -> (u64, Value) {
    let answer = session
        .execute(
            "return fetch('/me', { credentials: 'include', headers: { Accept: 'application/json' } })\
               .then(function (r) { return r.text().then(function (t) { return { status: r.status, body: t }; }); });",
            vec![],
        )
        .await;
    let status = answer["status"].as_u64().unwrap_or(0);
    let body = answer["body"].as_str().unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Every cookie of the demo is HttpOnly, so `document.cookie` shows none of them.
async fn assert_session_cookies_hidden(session: &Session) {
    let cookies = session.cookies().await;
    assert!(!cookies.is_empty(), "a session cookie after verification");
    for cookie in &cookies {
        assert!(cookie.http_only, "cookie {} must be HttpOnly", cookie.name);
        assert_ne!(cookie.same_site.as_deref(), Some("None"), "{cookie:?}");
    }
    let visible = session.execute("return document.cookie;", vec![]).await;
    assert_eq!(visible, "", "document.cookie must be empty");
}

/// The body of the last prepare the sandbox received.
async fn last_prepare(app: &DemoApp) -> Value {
    let log: Value = reqwest::get(format!("{}/sandbox/requests", app.sandbox_url()))
        .await
        .expect("GET /sandbox/requests")
        .json()
        .await
        .expect("the request log is JSON");
    let entries = log
        .as_array()
        .or_else(|| log["requests"].as_array())
        .cloned()
        .unwrap_or_default();
    entries
        .into_iter()
        .rev()
        .find(|r| r["path"].as_str().is_some_and(|p| p.ends_with("/prepare")))
        .map(|r| r["body"].clone())
        .unwrap_or_else(|| panic!("the sandbox received no prepare: {log}"))
}
