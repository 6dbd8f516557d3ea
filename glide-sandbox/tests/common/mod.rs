//! Shared helpers: start a fast sandbox, get a token, call Glide's endpoints over HTTP.
#![allow(dead_code)]

use std::time::Duration;

use glide_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

pub const ANDROID_UA: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";
pub const IPHONE_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
pub const IPHONE_CHROME_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1";
pub const DESKTOP_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
pub const ORIGIN: &str = "https://shop.example";

pub fn fast_config() -> SandboxConfig {
    SandboxConfig::default()
        .with_port(0)
        .with_desktop_wait(Duration::from_millis(300))
        .with_slow_carrier_delay(Duration::from_millis(200))
        .with_completion_redirect_url("http://127.0.0.1:3000/glide-complete")
}

pub struct Env {
    pub sandbox: Sandbox,
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
}

impl Env {
    pub async fn start() -> Env {
        Self::with(fast_config()).await
    }

    pub async fn with(config: SandboxConfig) -> Env {
        let sandbox = Sandbox::start(config).await.expect("sandbox starts");
        let base = sandbox.base_url();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let token = token(&http, &base).await;
        Env {
            sandbox,
            base,
            http,
            token,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POST with the bearer token; returns (status, JSON body or Null).
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn prepare(&self, body: Value) -> (u16, Value) {
        self.post("/magic-auth/v2/auth/prepare", &body).await
    }

    /// A successful prepare: returns the response.
    pub async fn prepare_ok(&self, strategy: &str, use_case: &str, phone: Option<&str>) -> Value {
        let mut body = json!({
            "use_case": use_case,
            "authentication_strategy": strategy,
            "nonce": "abcdefghijklmnopqrstuvwxyz012345",
            "client_info": {"user_agent": ua_for(strategy), "platform": "test"},
            "fe_hash": fe_hash(FE_CODE),
        });
        if let Some(p) = phone {
            body["phone_number"] = json!(p);
        }
        let (status, resp) = self.prepare(body).await;
        assert_eq!(status, 200, "prepare failed: {resp}");
        resp
    }

    pub async fn verify(&self, session: &Value, credential: &str, extra: Value) -> (u16, Value) {
        let mut body = json!({"session": session, "credential": credential});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        self.post("/magic-auth/v2/auth/verify-phone-number", &body)
            .await
    }

    pub async fn get_number(
        &self,
        session: &Value,
        credential: &str,
        extra: Value,
    ) -> (u16, Value) {
        let mut body = json!({"session": session, "credential": credential});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        self.post("/magic-auth/v2/auth/get-phone-number", &body)
            .await
    }
}

pub const FE_CODE: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

pub fn fe_hash(fe_code: &str) -> String {
    hex::encode(Sha256::digest(fe_code.to_ascii_lowercase().as_bytes()))
}

pub fn ua_for(strategy: &str) -> &'static str {
    match strategy {
        "ts43" => ANDROID_UA,
        "link" => IPHONE_UA,
        _ => DESKTOP_UA,
    }
}

pub fn key_of(prepared: &Value) -> String {
    prepared["session"]["session_key"]
        .as_str()
        .expect("session_key")
        .to_owned()
}

pub async fn token(http: &reqwest::Client, base: &str) -> String {
    let r = http
        .post(format!("{base}/oauth2-cc/token"))
        .basic_auth("sandbox-client", Some("sandbox-secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("token request");
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.expect("token json");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// Mints a TS43 credential over the control API.
pub async fn mint(env: &Env, key: &str, origin: &str) -> String {
    let (status, body) = env
        .post(
            "/sandbox/ts43/credential",
            &json!({"session_key": key, "origin": origin}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["credential"].as_str().expect("credential").to_owned()
}

/// Link: approve on the carrier page, returning (agg_code, session_key) from the redirect.
pub async fn link_approve(env: &Env, key: &str) -> (String, String) {
    let r = env
        .http
        .get(env.url(&format!("/sandbox/link/{key}?decision=approve")))
        .send()
        .await
        .expect("approve");
    assert_eq!(r.status().as_u16(), 302);
    let location = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let (base, fragment) = location.split_once('#').expect("fragment");
    assert_eq!(base, "http://127.0.0.1:3000/glide-complete");
    let mut agg = String::new();
    let mut session = String::new();
    for pair in fragment.split('&') {
        match pair.split_once('=') {
            Some(("agg_code", v)) => agg = v.to_owned(),
            Some(("session_key", v)) => session = v.to_owned(),
            _ => {}
        }
    }
    (agg, session)
}

pub async fn complete(
    env: &Env,
    key: &str,
    fe_code: &str,
    agg: &str,
    ua: Option<&str>,
) -> (u16, Value) {
    let mut body = json!({"session_key": key, "fe_code": fe_code, "agg_code": agg});
    if let Some(ua) = ua {
        body["user_agent"] = json!(ua);
    }
    env.post("/magic-auth/v2/auth/complete", &body).await
}
