//! Sandbox configuration.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// The default port of the `glide-sandbox` binary (the library defaults to `0`, any free port).
pub const DEFAULT_BINARY_PORT: u16 = 8910;

/// How a sandbox behaves. Every field has a default ([`SandboxConfig::default`]); change fields
/// directly or with the `with_*` builder methods.
///
/// ```
/// use std::time::Duration;
/// use glide_sandbox::SandboxConfig;
///
/// let config = SandboxConfig::default()
///     .with_port(0)
///     .with_desktop_wait(Duration::from_millis(200))
///     .with_completion_redirect_url("http://127.0.0.1:3000/glide-complete");
/// assert_eq!(config.client_id, "sandbox-client");
/// ```
#[derive(Clone)]
pub struct SandboxConfig {
    /// Address to bind (default `127.0.0.1`).
    pub bind: IpAddr,
    /// Port to bind; `0` picks any free port (default `0`; the binary defaults to 8910).
    pub port: u16,
    /// OAuth2 client id accepted by `POST /oauth2-cc/token` (default `sandbox-client`).
    pub client_id: String,
    /// OAuth2 client secret accepted by `POST /oauth2-cc/token` (default `sandbox-secret`).
    pub client_secret: String,
    /// Where the simulated carrier page sends the browser after Approve
    /// (default `http://127.0.0.1:3000/glide-complete`).
    pub completion_redirect_url: String,
    /// How long a desktop verify blocks waiting for the phone before answering 202 (default 25 s).
    pub desktop_wait: Duration,
    /// Lifetime of access tokens (default 3600 s).
    pub token_lifetime: Duration,
    /// Session lifetime when prepare does not ask for one (default 300 s).
    pub session_timeout: Duration,
    /// Web origins accepted as a TS43 credential's `aud`; empty means `aud` is not checked.
    pub allowed_origins: Vec<String>,
    /// How long every carrier step takes for the slow fixture `+15555550107` (default 3 s).
    pub slow_carrier_delay: Duration,
    /// Lifetime of minted TS43 credentials (default 300 s).
    pub credential_lifetime: Duration,
    /// Base URL used in URLs the sandbox hands out (`data.url`, `status_url`, the QR code).
    /// `None` (default): the bound address when started with [`crate::Sandbox::start`], else the
    /// request's `Host` header.
    pub public_base_url: Option<String>,
    /// Where `GET /oauth2/auth` (Number Verify) redirects when the request has no
    /// `redirect_uri` (default `http://127.0.0.1:3000/api/magical-auth/number-verify/callback`).
    pub number_verify_redirect_url: String,
    /// Lifetime of the legacy secrets and sessions: OTPs, Number Verify authorization codes,
    /// magic sessions and tokens, server-auth sessions (default 300 s).
    pub legacy_code_lifetime: Duration,
    /// Whether the Number Verify authorization server supports PKCE (default `true`: method
    /// `S256`, a code issued for a `code_challenge` is redeemed only with its `code_verifier`).
    /// `false` emulates one without PKCE: `code_challenge` and `code_verifier` are ignored, as
    /// unrecognised parameters are (RFC 6749 §3.1), and only the ID token's `nonce` tells a
    /// client which of its flows a code answers.
    pub number_verify_pkce: bool,
    /// Numbers whose carrier the legacy Magic Auth starts (`/magic-auth/verification/start`,
    /// `start-server-auth`) treat as not eligible for the carrier link, on top of the fixture
    /// table: `start` answers with the requested code channel, as for `+15555550106`. Every
    /// other behaviour of these numbers stays their fixture's (e.g. `+15555550102`'s device
    /// change), so tests can take a fixture's signals through the code paths (default: none).
    pub code_only_numbers: Vec<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            client_id: "sandbox-client".to_owned(),
            client_secret: "sandbox-secret".to_owned(),
            completion_redirect_url: "http://127.0.0.1:3000/glide-complete".to_owned(),
            desktop_wait: Duration::from_secs(25),
            token_lifetime: Duration::from_secs(3600),
            session_timeout: Duration::from_secs(300),
            allowed_origins: Vec::new(),
            slow_carrier_delay: Duration::from_secs(3),
            credential_lifetime: Duration::from_secs(300),
            public_base_url: None,
            number_verify_redirect_url:
                "http://127.0.0.1:3000/api/magical-auth/number-verify/callback".to_owned(),
            legacy_code_lifetime: Duration::from_secs(300),
            number_verify_pkce: true,
            code_only_numbers: Vec::new(),
        }
    }
}

impl SandboxConfig {
    /// Sets [`SandboxConfig::bind`].
    #[must_use]
    pub fn with_bind(mut self, bind: IpAddr) -> Self {
        self.bind = bind;
        self
    }

    /// Sets [`SandboxConfig::port`].
    #[must_use]
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Sets the accepted client credentials.
    #[must_use]
    pub fn with_client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.client_id = id.into();
        self.client_secret = secret.into();
        self
    }

    /// Sets [`SandboxConfig::completion_redirect_url`].
    #[must_use]
    pub fn with_completion_redirect_url(mut self, url: impl Into<String>) -> Self {
        self.completion_redirect_url = url.into();
        self
    }

    /// Sets [`SandboxConfig::desktop_wait`].
    #[must_use]
    pub fn with_desktop_wait(mut self, wait: Duration) -> Self {
        self.desktop_wait = wait;
        self
    }

    /// Sets [`SandboxConfig::token_lifetime`].
    #[must_use]
    pub fn with_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Sets [`SandboxConfig::session_timeout`].
    #[must_use]
    pub fn with_session_timeout(mut self, timeout: Duration) -> Self {
        self.session_timeout = timeout;
        self
    }

    /// Sets [`SandboxConfig::allowed_origins`].
    #[must_use]
    pub fn with_allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`SandboxConfig::slow_carrier_delay`].
    #[must_use]
    pub fn with_slow_carrier_delay(mut self, delay: Duration) -> Self {
        self.slow_carrier_delay = delay;
        self
    }

    /// Sets [`SandboxConfig::credential_lifetime`].
    #[must_use]
    pub fn with_credential_lifetime(mut self, lifetime: Duration) -> Self {
        self.credential_lifetime = lifetime;
        self
    }

    /// Sets [`SandboxConfig::public_base_url`] (no trailing slash).
    #[must_use]
    pub fn with_public_base_url(mut self, url: impl Into<String>) -> Self {
        self.public_base_url = Some(url.into().trim_end_matches('/').to_owned());
        self
    }
}

impl SandboxConfig {
    /// Sets [`SandboxConfig::number_verify_redirect_url`].
    #[must_use]
    pub fn with_number_verify_redirect_url(mut self, url: impl Into<String>) -> Self {
        self.number_verify_redirect_url = url.into();
        self
    }

    /// Sets [`SandboxConfig::legacy_code_lifetime`].
    #[must_use]
    pub fn with_legacy_code_lifetime(mut self, lifetime: Duration) -> Self {
        self.legacy_code_lifetime = lifetime;
        self
    }

    /// Sets [`SandboxConfig::number_verify_pkce`].
    #[must_use]
    pub fn with_number_verify_pkce(mut self, supported: bool) -> Self {
        self.number_verify_pkce = supported;
        self
    }

    /// Sets [`SandboxConfig::code_only_numbers`].
    #[must_use]
    pub fn with_code_only_numbers<I, S>(mut self, numbers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.code_only_numbers = numbers.into_iter().map(Into::into).collect();
        self
    }
}

impl fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("bind", &self.bind)
            .field("port", &self.port)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .field("completion_redirect_url", &self.completion_redirect_url)
            .field("desktop_wait", &self.desktop_wait)
            .field("token_lifetime", &self.token_lifetime)
            .field("session_timeout", &self.session_timeout)
            .field("allowed_origins", &self.allowed_origins)
            .field("slow_carrier_delay", &self.slow_carrier_delay)
            .field("credential_lifetime", &self.credential_lifetime)
            .field("public_base_url", &self.public_base_url)
            .field(
                "number_verify_redirect_url",
                &self.number_verify_redirect_url,
            )
            .field("legacy_code_lifetime", &self.legacy_code_lifetime)
            .field("number_verify_pkce", &self.number_verify_pkce)
            .field("code_only_numbers", &self.code_only_numbers)
            .finish()
    }
}
