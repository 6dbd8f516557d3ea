//! Shared state: sessions, tokens, faults, the request log, the signing key.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use p256::ecdsa::{SigningKey, VerifyingKey};
use serde_json::{json, Value};
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::config::SandboxConfig;
use crate::expiry::{ExpiryQueue, UsedIds};
use crate::faults::FaultSet;
use crate::log::{LoggedRequest, LOG_CAPACITY};
use crate::util;

/// How long an ended session (expired, or finished and expired) still answers its status (410)
/// before it is forgotten (404).
pub(crate) const KEEP_ENDED_SESSIONS: Duration = Duration::from_secs(600);

/// Locks a mutex, recovering the data if another thread panicked while holding it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The authentication strategy of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strategy {
    Ts43,
    Link,
    Desktop,
}

impl Strategy {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Ts43 => "ts43",
            Self::Link => "link",
            Self::Desktop => "desktop",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "ts43" => Some(Self::Ts43),
            "link" => Some(Self::Link),
            "desktop" => Some(Self::Desktop),
            _ => None,
        }
    }

    /// The strategy Glide would choose for this user agent.
    pub(crate) fn for_user_agent(ua: &str) -> Self {
        if ua.contains("Android") {
            Self::Ts43
        } else if ua.contains("iPhone") || ua.contains("iPad") {
            Self::Link
        } else {
            Self::Desktop
        }
    }
}

/// `VerifyPhoneNumber` or `GetPhoneNumber`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UseCase {
    Verify,
    Get,
}

impl UseCase {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "VerifyPhoneNumber",
            Self::Get => "GetPhoneNumber",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "VerifyPhoneNumber" => Some(Self::Verify),
            "GetPhoneNumber" => Some(Self::Get),
            _ => None,
        }
    }
}

/// Glide's session status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Pending,
    Scanned,
    PendingCompletion,
    Completed,
    Failed,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Scanned => "scanned",
            Self::PendingCompletion => "pending_completion",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    pub(crate) fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

/// One Magical Auth session.
#[derive(Debug)]
pub(crate) struct Session {
    pub key: String,
    pub strategy: Strategy,
    pub use_case: UseCase,
    /// The number given at prepare (VerifyPhoneNumber, or a child inheriting it).
    pub phone_number: Option<String>,
    pub nonce: String,
    pub user_agent: Option<String>,
    pub fe_hash: Option<String>,
    pub public_key: Option<VerifyingKey>,
    pub status: Status,
    pub created_at: OffsetDateTime,
    pub last_updated: OffsetDateTime,
    pub expires_at: Instant,
    pub device_info: Option<Value>,
    pub scanned_at: Option<OffsetDateTime>,
    pub grace_expires_at: Option<OffsetDateTime>,
    pub failure_reason: Option<&'static str>,
    /// Link: the agg_code minted on approve, and whether `/complete` used it.
    pub agg_code: Option<String>,
    pub agg_code_used: bool,
    /// The number the device proved (set when the flow completes).
    pub device_number: Option<String>,
    /// TS43: the origin the credential was bound to.
    pub aud: Option<String>,
    /// A verify call has taken the result: the session cannot be used again.
    pub consumed: bool,
}

impl Session {
    pub(crate) fn is_expired(&self) -> bool {
        Instant::now() >= self.expires_at
    }

    pub(crate) fn remaining_secs(&self) -> u64 {
        self.expires_at
            .saturating_duration_since(Instant::now())
            .as_secs()
    }

    /// The status body of `GET …/status/{key}`.
    pub(crate) fn status_json(&self) -> Value {
        let mut body = json!({
            "session_key": self.key,
            "status": self.status.as_str(),
            "protocol": self.strategy.as_str(),
            "created_at": util::rfc3339(self.created_at),
            "last_updated": util::rfc3339(self.last_updated),
        });
        if let Some(info) = &self.device_info {
            body["device_info"] = info.clone();
        }
        if let Some(t) = self.scanned_at {
            body["scanned_at"] = json!(util::rfc3339(t));
        }
        if let Some(t) = self.grace_expires_at {
            body["grace_expires_at"] = json!(util::rfc3339(t));
        }
        if let Some(reason) = self.failure_reason {
            body["extra"] = json!({ "reason": reason });
        }
        body
    }
}

/// A session plus the channel that tells waiters it changed.
#[derive(Debug)]
pub(crate) struct SessionCell {
    pub data: Mutex<Session>,
    pub changed: watch::Sender<Status>,
}

impl SessionCell {
    pub(crate) fn new(session: Session) -> Self {
        let (changed, _) = watch::channel(session.status);
        Self {
            data: Mutex::new(session),
            changed,
        }
    }

    /// Moves the session to `status` and wakes every waiter.
    pub(crate) fn set_status(&self, session: &mut Session, status: Status) {
        session.status = status;
        session.last_updated = util::now();
        self.changed.send_replace(status);
    }
}

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct AppState {
    pub config: SandboxConfig,
    base_url: RwLock<Option<String>>,
    pub sessions: Mutex<HashMap<String, Arc<SessionCell>>>,
    pub tokens: Mutex<HashMap<String, Instant>>,
    pub faults: Mutex<FaultSet>,
    pub log: Mutex<VecDeque<LoggedRequest>>,
    /// Signs credential_authorization_jwt and the TS43 credentials the "phone" returns.
    pub signer: SigningKey,
    /// `jti`s of TS43 credentials already presented, forgotten once the credential expires.
    pub used_credentials: Mutex<UsedIds>,
    /// Session keys by expiry, to drop sessions without scanning them all.
    session_expiry: Mutex<ExpiryQueue>,
    /// The legacy Magic Auth, Number Verify and server-auth state.
    pub legacy: crate::legacy::LegacyState,
}

impl AppState {
    pub(crate) fn new(config: SandboxConfig) -> Self {
        let base = config.public_base_url.clone();
        Self {
            config,
            base_url: RwLock::new(base),
            sessions: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            faults: Mutex::new(FaultSet::default()),
            log: Mutex::new(VecDeque::new()),
            signer: crate::jwt::random_signing_key(),
            used_credentials: Mutex::new(UsedIds::default()),
            session_expiry: Mutex::new(ExpiryQueue::default()),
            legacy: crate::legacy::LegacyState::default(),
        }
    }

    /// Sets the base URL when the configuration did not fix one.
    pub(crate) fn set_base_url_if_unset(&self, url: String) {
        let mut guard = self
            .base_url
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_none() {
            *guard = Some(url);
        }
    }

    /// The base URL for URLs handed out; `host` (the request's `Host` header) is the fallback.
    pub(crate) fn base_url(&self, host: Option<&str>) -> String {
        let guard = self
            .base_url
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match (&*guard, host) {
            (Some(url), _) => url.clone(),
            (None, Some(host)) => format!("http://{host}"),
            (None, None) => format!("http://{}:{}", self.config.bind, self.config.port),
        }
    }

    pub(crate) fn session(&self, key: &str) -> Option<Arc<SessionCell>> {
        lock(&self.sessions).get(key).cloned()
    }

    /// Inserts a session under a fresh key, and drops the sessions (finished or not) whose
    /// lifetime ended more than [`KEEP_ENDED_SESSIONS`] ago — taken from the front of an expiry
    /// queue, so an insert does not look at the sessions still alive.
    pub(crate) fn insert_session(&self, session: Session) -> Arc<SessionCell> {
        let mut sessions = lock(&self.sessions);
        let mut expiry = lock(&self.session_expiry);
        let now = Instant::now();
        while let Some(key) = expiry.pop_due(now) {
            // A session's expiry only ever moves earlier, so a due entry is really due.
            sessions.remove(&key);
        }
        let key = session.key.clone();
        expiry.push(session.expires_at + KEEP_ENDED_SESSIONS, key.clone());
        let cell = Arc::new(SessionCell::new(session));
        sessions.insert(key, Arc::clone(&cell));
        cell
    }

    /// A fresh 16-hex session key not in use.
    pub(crate) fn fresh_key(&self) -> String {
        loop {
            let key = util::random_hex(8);
            if !lock(&self.sessions).contains_key(&key) {
                return key;
            }
        }
    }

    /// Issues an access token.
    pub(crate) fn issue_token(&self) -> String {
        let token = util::random_hex(32);
        let expiry = Instant::now() + self.config.token_lifetime;
        let mut tokens = lock(&self.tokens);
        let now = Instant::now();
        tokens.retain(|_, exp| *exp > now);
        tokens.insert(token.clone(), expiry);
        token
    }

    pub(crate) fn token_valid(&self, token: &str) -> bool {
        lock(&self.tokens)
            .get(token)
            .is_some_and(|exp| *exp > Instant::now())
    }

    pub(crate) fn record(&self, entry: LoggedRequest) {
        let mut log = lock(&self.log);
        if log.len() >= LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(key: &str, expires_at: Instant, status: Status) -> Session {
        let now = util::now();
        Session {
            key: key.to_owned(),
            strategy: Strategy::Desktop,
            use_case: UseCase::Verify,
            phone_number: None,
            nonce: String::new(),
            user_agent: None,
            fe_hash: None,
            public_key: None,
            status,
            created_at: now,
            last_updated: now,
            expires_at,
            device_info: None,
            scanned_at: None,
            grace_expires_at: None,
            failure_reason: None,
            agg_code: None,
            agg_code_used: false,
            device_number: None,
            aud: None,
            consumed: false,
        }
    }

    #[test]
    fn sessions_ended_long_ago_are_dropped_on_insert_and_live_ones_kept() {
        let state = AppState::new(SandboxConfig::default());
        let now = Instant::now();
        // Instants before the process started may not exist: skip where they cannot be made.
        let Some(long_ago) = now.checked_sub(KEEP_ENDED_SESSIONS + Duration::from_secs(1)) else {
            return;
        };
        let recently = now.checked_sub(Duration::from_secs(1)).unwrap_or(now);
        state.insert_session(session("done", long_ago, Status::Completed));
        state.insert_session(session("failed", long_ago, Status::Failed));
        state.insert_session(session("ended", recently, Status::Failed));
        state.insert_session(session(
            "alive",
            now + Duration::from_secs(300),
            Status::Pending,
        ));
        let keys: std::collections::BTreeSet<String> =
            lock(&state.sessions).keys().cloned().collect();
        assert_eq!(
            keys.into_iter().collect::<Vec<_>>(),
            ["alive", "ended"],
            "long-ended sessions are gone; a recently ended one still answers 410"
        );
        assert_eq!(lock(&state.session_expiry).len(), 2);
    }
}
