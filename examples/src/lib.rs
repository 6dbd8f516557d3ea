//! What the demo apps share, framework-free: configuration from the environment, building the
//! engine (with an embedded sandbox unless real Glide credentials are set), the page and its
//! headers. `axum-demo` and `actix-demo` only add their framework's routing on top.

pub mod serve;

use std::fmt;
use std::time::Duration;

use glide_core::api::Glide;
use glide_core::endpoint::GlideAuth;
use glide_sandbox::{Sandbox, SandboxConfig};

/// The demo's configuration, from the environment (see [`DemoConfig::from_env`]).
#[derive(Clone)]
#[non_exhaustive]
pub struct DemoConfig {
    /// Port of the demo app (`PORT`, default 3000).
    pub port: u16,
    /// Port of the embedded sandbox (`GLIDE_SANDBOX_PORT`, default 8910); any free port if taken.
    pub sandbox_port: u16,
    /// Real Glide credentials (`GLIDE_CLIENT_ID` + `GLIDE_CLIENT_SECRET`); `None`: the sandbox.
    pub glide: Option<GlideCredentials>,
    /// `GLIDE_REDIS_CLUSTER_URLS` (a Redis Cluster's seed nodes, comma separated) or
    /// `GLIDE_REDIS_URL` (one node): keep flows and sessions in Redis; the cluster wins.
    pub redis: Option<glide_core::store::RedisTarget>,
    /// `GLIDE_DEMO_STEP_UP_SECONDS` (default 300): how recent a verification `POST /transfer`
    /// accepts.
    pub step_up: std::time::Duration,
    /// `GLIDE_CORS_ORIGINS`: comma-separated origins allowed to call the routes cross-origin.
    pub cors_origins: Vec<String>,
    /// `GLIDE_DEMO_PUBLIC_URL`: the public https origin when the demo runs behind a proxy; its
    /// presence (with https) turns secure cookies on.
    pub public_url: Option<String>,
}

/// Credentials of the real Glide API. The secret is redacted in `Debug`.
#[derive(Clone)]
#[non_exhaustive]
pub struct GlideCredentials {
    /// `GLIDE_CLIENT_ID`.
    pub client_id: String,
    /// `GLIDE_CLIENT_SECRET`.
    pub client_secret: String,
    /// `GLIDE_API_BASE_URL` (default: Glide's production API).
    pub base_url: Option<String>,
}

impl fmt::Debug for GlideCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GlideCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl fmt::Debug for DemoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoConfig")
            .field("port", &self.port)
            .field("sandbox_port", &self.sandbox_port)
            .field("glide", &self.glide)
            .field(
                "redis",
                &self.redis.as_ref().map(|t| {
                    if t.is_cluster() {
                        "[cluster]"
                    } else {
                        "[node]"
                    }
                }),
            )
            .field("public_url", &self.public_url)
            .finish()
    }
}

/// The engine's Number Verify callback route (default base path).
pub const NUMBER_VERIFY_CALLBACK_PATH: &str = "/api/magical-auth/number-verify/callback";

/// Where the Number Verify callback sends the browser afterwards: the demo page, which then
/// shows the session from `/me` (or the error, on `?verification=failed`).
pub const RETURN_PATH: &str = "/";

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// An environment variable holds something unusable.
    #[error("{name}: {message}")]
    Env {
        /// The variable.
        name: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The embedded sandbox did not start.
    #[error("the embedded sandbox did not start: {0}")]
    Sandbox(#[from] glide_sandbox::StartError),
    /// glide-core refused the configuration, or Redis could not be reached.
    #[error(transparent)]
    Glide(#[from] glide_core::Error),
    /// Redis could not be reached.
    #[error("redis: {0}")]
    Redis(#[from] glide_core::store::StoreError),
}

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn port_var(name: &'static str, default: u16) -> Result<u16, DemoError> {
    match var(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| DemoError::Env {
            name,
            message: format!("{v:?} is not a port number"),
        }),
    }
}

impl DemoConfig {
    /// Reads `PORT`, `GLIDE_SANDBOX_PORT`, `GLIDE_CLIENT_ID`, `GLIDE_CLIENT_SECRET`,
    /// `GLIDE_API_BASE_URL`, `GLIDE_REDIS_URL`, `GLIDE_REDIS_CLUSTER_URLS`,
    /// `GLIDE_CORS_ORIGINS` and `GLIDE_DEMO_PUBLIC_URL`.
    pub fn from_env() -> Result<Self, DemoError> {
        let glide = match (var("GLIDE_CLIENT_ID"), var("GLIDE_CLIENT_SECRET")) {
            (Some(client_id), Some(client_secret)) => Some(GlideCredentials {
                client_id,
                client_secret,
                base_url: var("GLIDE_API_BASE_URL"),
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(DemoError::Env {
                    name: "GLIDE_CLIENT_SECRET",
                    message: "GLIDE_CLIENT_ID is set, so the secret is needed too".into(),
                })
            }
            (None, Some(_)) => {
                return Err(DemoError::Env {
                    name: "GLIDE_CLIENT_ID",
                    message: "GLIDE_CLIENT_SECRET is set, so the id is needed too".into(),
                })
            }
        };
        Ok(Self {
            port: port_var("PORT", 3000)?,
            sandbox_port: port_var("GLIDE_SANDBOX_PORT", glide_sandbox::DEFAULT_BINARY_PORT)?,
            glide,
            redis: glide_core::store::RedisTarget::from_vars(
                var("GLIDE_REDIS_URL").as_deref(),
                var("GLIDE_REDIS_CLUSTER_URLS").as_deref(),
            ),
            step_up: std::time::Duration::from_secs(match var("GLIDE_DEMO_STEP_UP_SECONDS") {
                None => 300,
                Some(v) => v.parse().map_err(|_| DemoError::Env {
                    name: "GLIDE_DEMO_STEP_UP_SECONDS",
                    message: format!("{v:?} is not a number of seconds"),
                })?,
            }),
            cors_origins: var("GLIDE_CORS_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().trim_end_matches('/').to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            public_url: var("GLIDE_DEMO_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_owned()),
        })
    }

    /// Whether the demo runs against the embedded sandbox.
    pub fn uses_sandbox(&self) -> bool {
        self.glide.is_none()
    }

    /// The origin the demo is reached at: the public URL, else `http://127.0.0.1:{port}`.
    pub fn origin(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{}", self.port))
    }

    /// The absolute URL of the engine's Number Verify callback route on this demo: the operator
    /// sends the browser back there.
    pub fn number_verify_callback_url(&self) -> String {
        format!("{}{NUMBER_VERIFY_CALLBACK_PATH}", self.origin())
    }

    /// The embedded sandbox's configuration (Link completions and Number Verify operator
    /// redirects come back to this demo), or `None` with real Glide credentials.
    pub fn sandbox_config(&self) -> Option<SandboxConfig> {
        self.uses_sandbox().then(|| {
            SandboxConfig::default()
                .with_port(self.sandbox_port)
                .with_completion_redirect_url(format!("{}/glide-complete", self.origin()))
                .with_number_verify_redirect_url(self.number_verify_callback_url())
        })
    }
}

/// How to start the embedded sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SandboxRuntime {
    /// On the current tokio runtime (axum).
    Current,
    /// On its own runtime in a thread (actix-web).
    OwnThread,
}

/// Starts the embedded sandbox, on the configured port or, if that is taken, any free one.
pub async fn start_sandbox(
    config: SandboxConfig,
    runtime: SandboxRuntime,
) -> Result<Sandbox, DemoError> {
    let start = |config: SandboxConfig| async move {
        match runtime {
            SandboxRuntime::Current => Sandbox::start(config).await,
            SandboxRuntime::OwnThread => Sandbox::start_on_thread(config),
        }
    };
    match start(config.clone()).await {
        Ok(sandbox) => Ok(sandbox),
        Err(glide_sandbox::StartError::Bind { addr, source }) if config.port != 0 => {
            tracing::warn!(%addr, error = %source, "sandbox port taken; using any free port");
            Ok(start(config.with_port(0)).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Builds the engine: real Glide from the environment, or the embedded sandbox (started here on
/// the current runtime and returned, keep it alive); Redis when `GLIDE_REDIS_CLUSTER_URLS` or `GLIDE_REDIS_URL` is set.
pub async fn build_auth(config: &DemoConfig) -> Result<(GlideAuth, Option<Sandbox>), DemoError> {
    build_auth_on(config, SandboxRuntime::Current).await
}

/// [`build_auth`], choosing where the sandbox runs.
pub async fn build_auth_on(
    config: &DemoConfig,
    runtime: SandboxRuntime,
) -> Result<(GlideAuth, Option<Sandbox>), DemoError> {
    let (glide, sandbox) = match (&config.glide, config.sandbox_config()) {
        (Some(creds), _) => {
            let mut builder =
                Glide::builder(creds.client_id.as_str(), creds.client_secret.as_str());
            if let Some(base) = &creds.base_url {
                builder = builder.base_url(base);
            }
            (builder.build()?, None)
        }
        (None, sandbox_config) => {
            let sandbox = start_sandbox(sandbox_config.unwrap_or_default(), runtime).await?;
            let glide = Glide::builder("sandbox-client", "sandbox-secret")
                .base_url(sandbox.base_url())
                .timeout(Duration::from_secs(40))
                .build()?;
            (glide, Some(sandbox))
        }
    };
    let secure = config
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    let mut builder = GlideAuth::builder(glide)
        .insecure_dev_cookies(!secure)
        .email_on_file(address_on_file)
        // The page's main button runs the server's chain: Magical Auth, then the carrier
        // check, then SMS and e-mail codes, under one attempt budget.
        .verification_chain(glide_core::endpoint::VerificationChain::default())
        .cors_origins(config.cors_origins.clone())
        .number_verify_callback_url(config.number_verify_callback_url())
        .legacy_return_path(RETURN_PATH)
        // The OpenAPI document of the routes, at GET /api/magical-auth/openapi.json.
        .openapi(true);
    if let Some(target) = &config.redis {
        builder = builder
            .store(glide_core::store::RedisStore::connect_target(target).await?)
            .events(glide_core::events::RedisEvents::connect_target(target).await?);
    }
    Ok((builder.build()?, sandbox))
}

/// Installs the process-wide Prometheus recorder behind the `metrics` facade (glide-core counts
/// verifications, risk decisions and rate-limit refusals through it) and returns the handle that
/// renders `GET /metrics`.
pub fn install_metrics() -> Result<metrics_exporter_prometheus::PrometheusHandle, DemoError> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| DemoError::Env {
            name: "metrics",
            message: e.to_string(),
        })
}

/// What the demo's `POST /transfer` asks of a verification: at most
/// [`step_up`](DemoConfig::step_up) old, by the carrier (`ts43`, `link`, `desktop`, `magic`), never
/// by a code sent by SMS or e-mail.
pub fn transfer_guard(config: &DemoConfig) -> glide_core::endpoint::RequireVerified {
    use glide_core::Strategy;
    glide_core::endpoint::RequireVerified::new()
        .max_age(config.step_up)
        .strategies([
            Strategy::Ts43,
            Strategy::Link,
            Strategy::Desktop,
            Strategy::Magic,
        ])
}

/// The demo's records: the address on file for `+1555555DDDD` is `user-DDDD@example.com`; other
/// numbers have none (their e-mail fallback is refused).
pub fn address_on_file(phone: &glide_core::PhoneNumber) -> Option<glide_core::legacy::Email> {
    let digits = phone.as_str().strip_prefix("+1555555")?;
    glide_core::legacy::Email::parse(&format!("user-{digits}@example.com")).ok()
}

/// The lines the demo prints on stdout once it listens (tests and people read them).
pub fn banner(port: u16, sandbox: Option<&Sandbox>) -> String {
    let mut out = String::new();
    if let Some(sandbox) = sandbox {
        out.push_str(&format!("sandbox on {}\n", sandbox.base_url()));
    }
    out.push_str(&format!("listening on http://127.0.0.1:{port}"));
    out
}

/// Logs to stderr (`RUST_LOG`, default `info`), so that stdout carries only the banner.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

const INDEX_HTML: &str = include_str!("../assets/index.html");
const INDEX_CSS: &str = include_str!("../assets/demo.css");
const INDEX_JS: &str = include_str!("../assets/demo.js");

/// The demo page. With `sandbox_base` (the sandbox's base URL), it loads the sandbox wallet so
/// that TS43 works in any browser, lists the fixture numbers and offers the sandbox inbox (the
/// one-time code the sandbox "sent", for the SMS / e-mail fallback).
pub fn index_html(sandbox_base: Option<&str>) -> String {
    let wallet = sandbox_base
        .map(|base| {
            format!(
                "<script src=\"{}/sandbox/wallet.js\"></script>",
                html_attr(base)
            )
        })
        .unwrap_or_default();
    let mode = if sandbox_base.is_some() {
        "sandbox"
    } else {
        "glide"
    };
    let sandbox_attr = sandbox_base.map(html_attr).unwrap_or_default();
    INDEX_HTML
        .replace("/*__CSS__*/", INDEX_CSS)
        .replace("/*__JS__*/", INDEX_JS)
        .replace("<!--__WALLET__-->", &wallet)
        .replace("__MODE__", mode)
        .replace("__SANDBOX__", &sandbox_attr)
}

/// The headers of the demo page: HTML, no caching, no framing, a CSP allowing only this origin
/// (and the sandbox's wallet script and credential endpoint).
pub fn index_headers(sandbox_base: Option<&str>) -> Vec<(&'static str, String)> {
    let extra = sandbox_base.map(|b| format!(" {b}")).unwrap_or_default();
    vec![
        ("content-type", "text/html; charset=utf-8".into()),
        ("cache-control", "no-store".into()),
        ("x-content-type-options", "nosniff".into()),
        ("x-frame-options", "DENY".into()),
        ("referrer-policy", "no-referrer".into()),
        (
            "content-security-policy",
            format!(
                "default-src 'self'; script-src 'self' 'unsafe-inline'{extra}; \
                 connect-src 'self'{extra}; img-src 'self' data:; style-src 'unsafe-inline'; \
                 frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
            ),
        ),
    ]
}

fn html_attr(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_complete() {
        let page = index_html(Some("http://127.0.0.1:8910"));
        assert!(page.contains("<script src=\"http://127.0.0.1:8910/sandbox/wallet.js\"></script>"));
        assert!(page.contains("/api/magical-auth/glide.js"));
        for id in [
            "phone",
            "btn-ts43",
            "btn-link",
            "btn-desktop",
            "result",
            "result-phone",
            "decision",
            "error",
            "qr",
            "qr-link",
            "logout",
            "fallback",
            "fallback-sms",
            "fallback-email",
            "code",
            "code-submit",
            "resend",
            "sandbox-inbox",
            "fallback-status",
            "btn-number-verify",
        ] {
            assert!(page.contains(&format!("id=\"{id}\"")), "missing #{id}");
        }
        assert!(page.contains("data-sandbox=\"http://127.0.0.1:8910\""));
        for placeholder in ["/*__", "<!--__", "__MODE__", "__SANDBOX__"] {
            assert!(!page.contains(placeholder), "{placeholder} was left");
        }
        let real = index_html(None);
        assert!(!real.contains("wallet.js"));
        assert!(real.contains("data-sandbox=\"\""));
    }

    #[test]
    fn the_csp_names_the_sandbox_only_in_sandbox_mode() {
        let csp = |b| {
            index_headers(b)
                .into_iter()
                .find(|(n, _)| *n == "content-security-policy")
                .map(|(_, v)| v)
                .unwrap_or_default()
        };
        assert!(
            csp(Some("http://127.0.0.1:8910")).contains("connect-src 'self' http://127.0.0.1:8910")
        );
        assert!(!csp(None).contains("8910"));
    }

    #[test]
    fn the_sandbox_redirects_link_completions_to_the_demo() {
        let config = DemoConfig {
            port: 3456,
            sandbox_port: 0,
            glide: None,
            redis: None,
            cors_origins: Vec::new(),
            step_up: std::time::Duration::from_secs(300),
            public_url: None,
        };
        let sandbox = config.sandbox_config().expect("sandbox mode");
        assert_eq!(
            sandbox.completion_redirect_url,
            "http://127.0.0.1:3456/glide-complete"
        );
        assert_eq!(
            sandbox.number_verify_redirect_url,
            "http://127.0.0.1:3456/api/magical-auth/number-verify/callback"
        );
        let real = DemoConfig {
            glide: Some(GlideCredentials {
                client_id: "id".into(),
                client_secret: "very-secret".into(),
                base_url: None,
            }),
            ..config
        };
        assert!(real.sandbox_config().is_none());
        assert!(!format!("{real:?}").contains("very-secret"));
    }
}
