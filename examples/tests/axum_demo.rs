//! `axum-demo` as a user starts it: the banner on stdout, then the page, `/me` and `/healthz`.

mod common;

use common::Demo;

#[tokio::test]
async fn the_demo_prints_its_urls_and_serves_the_page() {
    let demo = Demo::start(env!("CARGO_BIN_EXE_axum-demo"));
    let sandbox = demo
        .sandbox
        .strip_prefix("http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected sandbox URL {:?}", demo.sandbox));
    assert!(sandbox.parse::<u16>().is_ok(), "{sandbox}");
    let app = demo.app.clone();
    assert!(app.starts_with("http://127.0.0.1:"), "{app}");

    let http = reqwest::Client::new();
    let health = http
        .get(format!("{app}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.expect("body"), "ok");

    let me = http.get(format!("{app}/me")).send().await.expect("me");
    assert_eq!(me.status(), 401);
    let body: serde_json::Value = me.json().await.expect("json");
    assert_eq!(body["code"], "NOT_VERIFIED");

    let page = http.get(format!("{app}/")).send().await.expect("page");
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        csp.contains(&format!("http://127.0.0.1:{sandbox}")),
        "{csp}"
    );
    let html = page.text().await.expect("html");
    assert!(html.contains(&format!("http://127.0.0.1:{sandbox}/sandbox/wallet.js")));
    assert!(html.contains("id=\"btn-desktop\""));

    // The layer is in place: the engine's routes answer.
    let js = http
        .get(format!("{app}/api/magical-auth/glide.js"))
        .send()
        .await
        .expect("glide.js");
    assert_eq!(js.status(), 200);
    drop(demo);
}
