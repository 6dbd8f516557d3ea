//! Building a [`GlideAuth`]: every option, checked once, at build time.

use std::sync::Arc;
use std::time::Duration;

use super::assets::Assets;
use super::binding_cookie::BindingCookies;
use super::chain::{Chain, VerificationChain};
use super::codes::{EmailOnFile, MagicCodes};
use super::cors::Cors;
use super::door::Door;
use super::hook::{Hook, VerificationHook};
use super::issue::SessionIssuer;
use super::limits::Limits;
use super::magical::MagicalAuth;
use super::number_verify::{NumberVerify, NumberVerifySettings};
use super::sessions::SessionRoutes;
use super::swap_checks::{SimSwapFailure, SwapCheckConfig, SwapChecks};
use super::table::{Route, RouteTable};
use super::GlideAuth;
use crate::api::Glide;
use crate::clock::{SharedClock, SystemClock};
use crate::cookie::CookieSpec;
use crate::error::Error;
use crate::events::{FlowEvents, LocalEvents};
use crate::flow::FlowRepo;
use crate::legacy::{LegacyClient, SimSwapRiskMapping};
use crate::policy::RiskPolicy;
use crate::ratelimit::RateLimitConfig;
use crate::session::{SessionConfig, SessionManager};
use crate::store::{MemoryStore, Store};

/// How many counters (rate limits, cooldowns) the default memory store of counters holds before
/// it refuses new ones.
const COUNTER_CAPACITY: usize = 500_000;

/// Where the routes live. Defaults match Glide's official browser SDK.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoutePaths {
    /// Base of the API routes, default `/api/magical-auth`.
    pub base_path: String,
    /// The completion page of Link flows, default `/glide-complete`; must match the
    /// `completion_redirect_url` registered with Glide.
    pub completion_path: String,
}

impl Default for RoutePaths {
    fn default() -> Self {
        Self {
            base_path: "/api/magical-auth".into(),
            completion_path: "/glide-complete".into(),
        }
    }
}

impl RoutePaths {
    /// The path of an API route under the base path (`route("complete")`).
    pub fn route(&self, name: &str) -> String {
        format!("{}/{name}", self.base_path)
    }
}

/// Everything a built engine holds: the route table and one value per flow.
pub(crate) struct Engine {
    pub(crate) glide: Glide,
    pub(crate) routes: RoutePaths,
    pub(crate) table: RouteTable,
    pub(crate) body_limit: usize,
    pub(crate) issuer: Arc<SessionIssuer>,
    pub(crate) magical: MagicalAuth,
    pub(crate) codes: MagicCodes,
    pub(crate) number_verify: Option<NumberVerify>,
    pub(crate) chain: Option<Chain>,
    pub(crate) sessions: SessionRoutes,
    pub(crate) assets: Assets,
    pub(crate) cors: Cors,
    /// The OpenAPI document, when served.
    pub(crate) openapi: Option<bytes::Bytes>,
}

/// Configures a [`GlideAuth`]. Every setting has a safe default; [`build`](Self::build) refuses
/// contradictory ones.
///
/// ```no_run
/// # async fn demo() -> Result<(), glide_core::Error> {
/// use glide_core::endpoint::GlideAuth;
/// let glide = glide_core::api::Glide::from_env()?;
/// let auth = GlideAuth::builder(glide)
///     .allowed_origins(["https://app.example.com"])
///     .build()?;
/// # Ok(()) }
/// ```
#[must_use]
pub struct GlideAuthBuilder {
    glide: Glide,
    store: Option<Arc<dyn Store>>,
    pending_store: Option<Arc<dyn Store>>,
    events: Option<Arc<dyn FlowEvents>>,
    clock: SharedClock,
    policy: RiskPolicy,
    shadow_policy: Option<RiskPolicy>,
    hook: Option<Arc<dyn VerificationHook>>,
    rate_limits: RateLimitConfig,
    sessions: SessionConfig,
    routes: RoutePaths,
    insecure_cookies: bool,
    session_cookie_name: Option<String>,
    allowed_origins: Vec<String>,
    cors: Cors,
    body_limit: usize,
    flow_lease: Duration,
    busy_wait: Duration,
    number_verify_callback_url: Option<String>,
    legacy_return_path: String,
    email_on_file: Option<Arc<dyn EmailOnFile>>,
    sim_swap_check: bool,
    sim_swap_mapping: SimSwapRiskMapping,
    sim_swap_on_failure: SimSwapFailure,
    device_swap_check: bool,
    device_swap_mapping: SimSwapRiskMapping,
    chain: Option<VerificationChain>,
    #[cfg(feature = "openapi")]
    openapi: bool,
}

impl std::fmt::Debug for GlideAuthBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlideAuthBuilder")
            .field("routes", &self.routes)
            .field("insecure_cookies", &self.insecure_cookies)
            .finish_non_exhaustive()
    }
}

impl GlideAuthBuilder {
    pub(crate) fn new(glide: Glide) -> Self {
        Self {
            glide,
            store: None,
            pending_store: None,
            events: None,
            clock: Arc::new(SystemClock),
            policy: RiskPolicy::default(),
            shadow_policy: None,
            hook: None,
            rate_limits: RateLimitConfig::default(),
            sessions: SessionConfig::default(),
            routes: RoutePaths::default(),
            insecure_cookies: false,
            session_cookie_name: None,
            allowed_origins: Vec::new(),
            cors: Cors {
                origins: Vec::new(),
                max_age: Duration::from_secs(600),
            },
            body_limit: 64 * 1024,
            flow_lease: Duration::from_secs(40),
            busy_wait: Duration::from_secs(30),
            number_verify_callback_url: None,
            legacy_return_path: "/".into(),
            email_on_file: None,
            sim_swap_check: true,
            sim_swap_mapping: SimSwapRiskMapping::default(),
            sim_swap_on_failure: SimSwapFailure::default(),
            device_swap_check: true,
            device_swap_mapping: SimSwapRiskMapping::default(),
            chain: None,
            #[cfg(feature = "openapi")]
            openapi: false,
        }
    }

    /// Where flows, verified sessions and counters live (default: a [`MemoryStore`], which is
    /// right for one process; use `RedisStore` for several instances).
    pub fn store(mut self, store: impl Store) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Where unauthenticated, short-lived state lives: prepared flows, pending code
    /// verifications, Number Verify states. (Rate-limit counters and cooldowns are not kept
    /// here, where a flood could evict them: they live in the [`store`](Self::store), or, with
    /// the default memory store, in a memory store of their own that refuses new counters when
    /// full, which refuses the request: 503.)
    ///
    /// Default: the store given to [`store`](Self::store); with the default memory store, a
    /// separate [`MemoryStore`] of 100 000 entries that evicts its oldest entry when full
    /// ([`MemoryStore::evicting_oldest`]), so that a flood of unauthenticated starts can neither
    /// fill the store verified sessions live in nor stop a new visitor from starting a flow.
    /// (With Redis, give the server a `maxmemory` and `maxmemory-policy volatile-ttl`: every key
    /// has a TTL, and pending state's are the shortest.)
    pub fn pending_store(mut self, store: impl Store) -> Self {
        self.pending_store = Some(Arc::new(store));
        self
    }

    /// Like [`store`](Self::store), for a store already shared.
    pub fn shared_store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// How waiting requests learn that a flow moved (default: in-process; use `RedisEvents`
    /// with `RedisStore`).
    pub fn events(mut self, events: impl FlowEvents) -> Self {
        self.events = Some(Arc::new(events));
        self
    }

    /// The clock (tests use a `ManualClock`).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The risk policy on SIM-swap and device-swap signals (default: deny `RISK_LEVEL_HIGH`).
    pub fn risk_policy(mut self, policy: RiskPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// A second risk policy in shadow mode: it decides on every verification beside the
    /// enforced one, and its decisions are logged (target `glide::policy`, `mode = "shadow"`)
    /// and counted (`glide_risk_decisions_total{mode="shadow"}`), never enforced. Try a
    /// stricter policy on live traffic before it refuses anyone.
    pub fn shadow_risk_policy(mut self, policy: RiskPolicy) -> Self {
        self.shadow_policy = Some(policy);
        self
    }

    /// The app's hook on verifications and sessions (verified, denied, not verified, revoked):
    /// see [`VerificationHook`]. Events carry no secret and only the masked number.
    pub fn verification_hook(mut self, hook: impl VerificationHook) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// Rate limits on prepare and on code checks.
    pub fn rate_limits(mut self, limits: RateLimitConfig) -> Self {
        self.rate_limits = limits;
        self
    }

    /// Verified-session lifetimes.
    pub fn sessions(mut self, config: SessionConfig) -> Self {
        self.sessions = config;
        self
    }

    /// Route paths.
    pub fn routes(mut self, routes: RoutePaths) -> Self {
        self.routes = routes;
        self
    }

    /// **Local development over plain http only**: cookies without `Secure` and without the
    /// `__Host-` prefix, so that browsers keep them on `http://localhost`. Never in production.
    pub fn insecure_dev_cookies(mut self, insecure: bool) -> Self {
        self.insecure_cookies = insecure;
        self
    }

    /// The verified-session cookie's name (default `__Host-glide_session`, or `glide_session`
    /// with insecure development cookies).
    pub fn session_cookie_name(mut self, name: impl Into<String>) -> Self {
        self.session_cookie_name = Some(name.into());
        self
    }

    /// Origins, besides the request's own, allowed to call the state-changing routes
    /// (`https://app.example.com`).
    pub fn allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// Origins of single-page apps served elsewhere that may call the routes cross-origin, with
    /// credentials (`https://app.example.com`): their preflights are answered for the mounted
    /// routes and their requests get `Access-Control-Allow-Origin` and `-Allow-Credentials`;
    /// they also pass the same-origin check of the state-changing routes. Default: none (CORS
    /// off). For the browser to send the session cookie cross-origin, the API and the app must
    /// be same-site (e.g. `api.example.com` and `app.example.com`), as the cookies are
    /// `SameSite=Lax`.
    pub fn cors_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cors.origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// How long browsers may cache a CORS preflight answer (default 10 minutes).
    pub fn cors_max_age(mut self, max_age: Duration) -> Self {
        self.cors.max_age = max_age;
        self
    }

    /// The largest request body accepted (default 64 KiB).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How long a `process` (or `complete`) call holds its flow while it talks to Glide
    /// (default 40 s, above Glide's 25 s desktop long poll). If the instance holding it dies,
    /// another instance takes the flow over when the lease ends.
    pub fn flow_lease(mut self, lease: Duration) -> Self {
        self.flow_lease = lease;
        self
    }

    /// How long a concurrent `process` call waits for the one already talking to Glide
    /// (default 30 s; keep it under your clients' timeouts).
    pub fn busy_wait(mut self, wait: Duration) -> Self {
        self.busy_wait = wait;
        self
    }

    /// The app's e-mail address on file for a number, where the e-mail fallback sends its
    /// code (never an address from the browser). Without it the e-mail fallback is refused.
    pub fn email_on_file(mut self, resolver: impl EmailOnFile) -> Self {
        self.email_on_file = Some(Arc::new(resolver));
        self
    }

    /// The absolute URL of the Number Verify callback route, sent as `redirect_uri` (e.g.
    /// `https://app.example.com/api/magical-auth/number-verify/callback`). The Number Verify
    /// routes are mounted only when it is set.
    pub fn number_verify_callback_url(mut self, url: impl Into<String>) -> Self {
        self.number_verify_callback_url = Some(url.into());
        self
    }

    /// Where the Number Verify callback sends the browser afterwards: a relative path starting
    /// with a single `/` (default `/`); never taken from the request.
    pub fn legacy_return_path(mut self, path: impl Into<String>) -> Self {
        self.legacy_return_path = path.into();
        self
    }

    /// Whether every verification that is not Magical Auth (right SMS / e-mail code, legacy
    /// carrier check, completed server-side auth, Number Verify callback) asks Glide's SIM Swap
    /// API and Device Swap API for the number before its session is issued (default: on; both
    /// at once). The signals fill `VerifiedPhone::sim_swap` and `VerifiedPhone::device_swap`,
    /// as Magical Auth's answer does, and the [risk policy](Self::risk_policy) applies to them
    /// (the default denies `RISK_LEVEL_HIGH` on either). Off, neither is asked and both stay
    /// unset: the code-based paths then carry no swap signal at all. (The name predates the
    /// device-swap check; [`device_swap_check`](Self::device_swap_check) switches off that one
    /// alone.)
    pub fn sim_swap_check(mut self, enabled: bool) -> Self {
        self.sim_swap_check = enabled;
        self
    }

    /// How the age of the last SIM change maps to a risk level in that check (default: under
    /// 72 h `RISK_LEVEL_HIGH`, 72 h to 30 days `RISK_LEVEL_MEDIUM`, older `RISK_LEVEL_LOW`).
    pub fn sim_swap_risk_mapping(mut self, mapping: SimSwapRiskMapping) -> Self {
        self.sim_swap_mapping = mapping;
        self
    }

    /// What happens when one of those checks (SIM swap or device swap) itself fails (Glide
    /// 5xx, timeout, refused CIBA token): [`SimSwapFailure::Closed`] (default) refuses with an
    /// opaque 503 and no session; [`SimSwapFailure::Open`] issues the session with that signal
    /// `{checked: false, reason: "check_failed"}` and logs a warning.
    pub fn sim_swap_on_failure(mut self, on_failure: SimSwapFailure) -> Self {
        self.sim_swap_on_failure = on_failure;
        self
    }

    /// Whether the code-based verifications ask Glide's Device Swap API too (default: on,
    /// while [`sim_swap_check`](Self::sim_swap_check) is). Off (e.g. an account without the
    /// Device Swap product), `device_swap` stays unset on those paths, which the default
    /// policy allows and [`RiskPolicy::require_device_swap_checked`] denies.
    pub fn device_swap_check(mut self, enabled: bool) -> Self {
        self.device_swap_check = enabled;
        self
    }

    /// How the age of the last device change maps to a risk level in that check (default, as
    /// for the SIM: under 72 h `RISK_LEVEL_HIGH`, so a device changed `1-2 days` ago is high as
    /// on Magical Auth; 72 h to 30 days `RISK_LEVEL_MEDIUM`; older `RISK_LEVEL_LOW`).
    pub fn device_swap_risk_mapping(mut self, mapping: SimSwapRiskMapping) -> Self {
        self.device_swap_mapping = mapping;
        self
    }

    /// Runs a verification chain on the server (e.g. [`VerificationChain::default`]: Magical
    /// Auth, then the legacy carrier check, then SMS, then e-mail): its routes
    /// (`verification/start`, `verification`, `verification/advance`) are mounted only when one
    /// is set. Its e-mail step needs [`email_on_file`](Self::email_on_file).
    pub fn verification_chain(mut self, chain: VerificationChain) -> Self {
        self.chain = Some(chain);
        self
    }

    /// Serves the OpenAPI 3.1 document of the mounted routes at `GET {base}/openapi.json`
    /// (default: off). The document is generated once, at [`build`](Self::build), from the
    /// route table and from the schemas of the routes' own request and answer types.
    #[cfg(feature = "openapi")]
    #[cfg_attr(docsrs, doc(cfg(feature = "openapi")))]
    pub fn openapi(mut self, enabled: bool) -> Self {
        self.openapi = enabled;
        self
    }

    /// Checks the configuration and builds the engine: every nested configuration is checked
    /// here, however it was set ([`Error::Config`] naming the field).
    pub fn build(self) -> Result<GlideAuth, Error> {
        self.sessions.validate()?;
        self.rate_limits.validate()?;
        if self.body_limit == 0 {
            return Err(Error::Config(
                "body_limit must be above zero (every request body would be refused)".into(),
            ));
        }
        if self.flow_lease.is_zero() {
            return Err(Error::Config("flow_lease must be above zero".into()));
        }
        for (what, path) in [
            ("base_path", &self.routes.base_path),
            ("completion_path", &self.routes.completion_path),
        ] {
            if !path.starts_with('/') || path.starts_with("//") || path.ends_with('/') {
                return Err(Error::Config(format!(
                    "{what} must start with a single '/' and not end with '/'"
                )));
            }
            if path
                .bytes()
                .any(|b| !(b.is_ascii_graphic()) || matches!(b, b'"' | b'\'' | b'<' | b'>' | b'\\'))
            {
                return Err(Error::Config(format!(
                    "{what} contains a forbidden character"
                )));
            }
        }
        for origin in self.allowed_origins.iter().chain(&self.cors.origins) {
            let parsed = url::Url::parse(origin)
                .map_err(|_| Error::Config(format!("allowed origin {origin:?} is not a URL")))?;
            if parsed.origin().ascii_serialization() != *origin {
                return Err(Error::Config(format!(
                    "allowed origin {origin:?} must be scheme://host[:port] with nothing after"
                )));
            }
        }
        let secure = !self.insecure_cookies;
        let session_name = self.session_cookie_name.unwrap_or_else(|| {
            if secure {
                "__Host-glide_session".into()
            } else {
                "glide_session".into()
            }
        });
        let mut session_cookie = CookieSpec::new(session_name);
        session_cookie.secure = secure;
        session_cookie.max_age = Some(self.sessions.absolute_timeout);
        session_cookie
            .validate()
            .map_err(|e| Error::Config(e.to_string()))?;
        super::number_verify::validate_return_path(&self.legacy_return_path)?;
        if let Some(chain) = &self.chain {
            chain.validate(self.email_on_file.is_some())?;
        }
        let number_verify = self
            .number_verify_callback_url
            .map(|url| NumberVerifySettings::new(url, self.legacy_return_path))
            .transpose()?;

        let pending: Arc<dyn Store> = match (self.pending_store, &self.store) {
            (Some(pending), _) => pending,
            (None, Some(store)) => store.clone(),
            (None, None) => Arc::new(MemoryStore::new().evicting_oldest()),
        };
        // Counters and cooldowns never live in the evicting pending store (a flood of starts
        // would evict an exhausted counter back to zero): in the app's store, or with the
        // default memory stores in one of their own that refuses (fails closed) when full.
        let counters: Arc<dyn Store> = match &self.store {
            Some(store) => store.clone(),
            None => Arc::new(MemoryStore::with_capacity(COUNTER_CAPACITY)),
        };
        let store: Arc<dyn Store> = self
            .store
            .unwrap_or_else(|| Arc::new(MemoryStore::default()));
        let events: Arc<dyn FlowEvents> = self
            .events
            .unwrap_or_else(|| Arc::new(LocalEvents::default()));
        let clock = self.clock;
        let limits = Arc::new(Limits::new(self.rate_limits, counters, clock.clone()));
        let issuer = Arc::new(SessionIssuer {
            sessions: SessionManager::new(store.clone(), clock.clone(), self.sessions)
                .with_events(events.clone()),
            cookie: session_cookie,
            policy: self.policy,
            shadow_policy: self.shadow_policy,
            hook: Hook::new(self.hook),
            denials: pending.clone(),
            limits: limits.clone(),
        });
        let door = Arc::new(Door {
            allowed_origins: self
                .allowed_origins
                .into_iter()
                .chain(self.cors.origins.iter().cloned())
                .collect(),
            scheme: if secure { "https" } else { "http" },
        });
        let legacy = LegacyClient::new(&self.glide);
        let sim_swap = Arc::new(SwapChecks::new(
            &legacy,
            SwapCheckConfig {
                enabled: self.sim_swap_check,
                device_swap: self.device_swap_check,
                sim_swap_mapping: self.sim_swap_mapping,
                device_swap_mapping: self.device_swap_mapping,
                on_failure: self.sim_swap_on_failure,
            },
        ));
        #[cfg(feature = "openapi")]
        let openapi = self.openapi;
        #[cfg(not(feature = "openapi"))]
        let openapi = false;
        let table = RouteTable::new(&self.routes, |route| match route {
            Route::NumberVerifyStart | Route::NumberVerifyCallback => number_verify.is_some(),
            Route::VerificationStart | Route::Verification | Route::VerificationAdvance => {
                self.chain.is_some()
            }
            Route::OpenApi => openapi,
            _ => true,
        });
        #[cfg(feature = "openapi")]
        let openapi = if openapi {
            let names = super::openapi::CookieNames {
                session: &issuer.cookie.name,
                secure,
            };
            let document = super::openapi::document(table.routes(), &names)
                .map_err(|e| Error::Config(format!("the OpenAPI document: {e}")))?;
            Some(bytes::Bytes::from(document))
        } else {
            None
        };
        #[cfg(not(feature = "openapi"))]
        let openapi = None;
        let mut magical = MagicalAuth {
            glide: self.glide.clone(),
            flows: FlowRepo::new(pending.clone(), clock.clone()),
            events,
            issuer: issuer.clone(),
            limits: limits.clone(),
            door: door.clone(),
            binding: BindingCookies::new(secure),
            clock: clock.clone(),
            lease: self.flow_lease,
            busy_wait: self.busy_wait,
            status_prefix: format!("{}/", self.routes.route("status")),
            chain_notes: None,
        };
        let codes = MagicCodes::new(
            legacy.clone(),
            pending.clone(),
            CookieSpec::host_only("glide_legacy", secure, Duration::from_secs(600)),
            (issuer.clone(), limits.clone(), door.clone(), clock.clone()),
            sim_swap.clone(),
            self.email_on_file,
        );
        let chain = self.chain.map(|config| {
            Chain::new(
                config,
                pending.clone(),
                secure,
                (issuer.clone(), limits.clone(), door.clone(), clock.clone()),
            )
        });
        magical.chain_notes = chain.as_ref().and_then(Chain::notes);
        let number_verify = number_verify.map(|settings| {
            NumberVerify::new(
                legacy,
                pending,
                CookieSpec::host_only("glide_nv_state", secure, Duration::from_secs(300)),
                settings,
                (issuer.clone(), limits, clock),
                sim_swap,
            )
        });
        Ok(GlideAuth {
            inner: Arc::new(Engine {
                assets: Assets::new(&self.routes.route("complete")),
                sessions: SessionRoutes {
                    issuer: issuer.clone(),
                    door,
                },
                glide: self.glide,
                routes: self.routes,
                table,
                body_limit: self.body_limit,
                issuer,
                magical,
                codes,
                number_verify,
                chain,
                cors: self.cors,
                openapi,
            }),
        })
    }
}
