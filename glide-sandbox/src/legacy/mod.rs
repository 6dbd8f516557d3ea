//! State of Glide's legacy surfaces: Number Verify authorization codes and tokens, Magic Auth
//! OTPs, magic sessions and tokens, and server-initiated auth sessions.
//!
//! Secrets (authorization codes, access tokens, magic tokens) are stored under their SHA-256
//! digest, so a lookup never compares the secret itself byte by byte; OTPs are compared with
//! [`subtle`]. Every check-and-consume happens under one mutex: of two concurrent uses of one
//! secret exactly one wins.

pub(crate) mod ciba;
pub(crate) mod control;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use p256::ecdsa::SigningKey;
use rand::Rng as _;
use serde_json::json;

use crate::fixtures;
use crate::jwt;
use crate::state::lock;
use crate::util::{self, ct_eq};

/// How long expired entries are kept before they are dropped.
const KEEP_EXPIRED: Duration = Duration::from_secs(600);

/// The map key of a secret: its SHA-256 digest.
pub(crate) fn digest(secret: &str) -> String {
    util::sha256_hex(secret)
}

/// Drops entries whose expiry passed a while ago.
pub(crate) fn prune<T>(map: &mut HashMap<String, T>, expiry: impl Fn(&T) -> Instant) {
    let now = Instant::now();
    map.retain(|_, v| expiry(v) + KEEP_EXPIRED > now);
}

/// A 6-digit OTP from the thread-local CSPRNG.
fn random_otp() -> String {
    format!("{:06}", rand::rng().random_range(0..1_000_000u32))
}

/// The key an OTP is filed under: the E.164 number, or the lowercased e-mail address.
pub(crate) fn otp_key(phone_or_email: &str) -> String {
    if phone_or_email.contains('@') {
        phone_or_email.trim().to_ascii_lowercase()
    } else {
        phone_or_email.trim().to_owned()
    }
}

#[derive(Debug)]
struct AuthCode {
    device_number: String,
    expires_at: Instant,
}

#[derive(Debug)]
struct NvToken {
    device_number: String,
    expires_at: Instant,
}

#[derive(Debug)]
struct Otp {
    code: String,
    expires_at: Instant,
    used: bool,
}

/// A magic session: what `authUrl` of a `MAGIC` start points to.
#[derive(Debug, Clone)]
pub(crate) struct MagicSession {
    pub phone: String,
    pub expires_at: Instant,
}

#[derive(Debug)]
struct MagicToken {
    phone: String,
    expires_at: Instant,
}

/// `PENDING` or `COMPLETED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerAuthStatus {
    Pending,
    Completed,
}

impl ServerAuthStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Completed => "COMPLETED",
        }
    }
}

/// One server-initiated auth session.
#[derive(Debug, Clone)]
pub(crate) struct ServerAuth {
    pub phone: Option<String>,
    pub status: ServerAuthStatus,
    pub verified: bool,
    pub redirect_url: Option<String>,
    pub state: Option<String>,
    pub expires_at: Instant,
}

/// Everything the legacy surfaces share.
#[derive(Debug, Default)]
pub(crate) struct LegacyState {
    codes: Mutex<HashMap<String, AuthCode>>,
    nv_tokens: Mutex<HashMap<String, NvToken>>,
    otps: Mutex<HashMap<String, Otp>>,
    magic: Mutex<HashMap<String, MagicSession>>,
    magic_tokens: Mutex<HashMap<String, MagicToken>>,
    server_auth: Mutex<HashMap<String, ServerAuth>>,
    /// CIBA requests and tokens (SIM swap, KYC match).
    pub ciba: ciba::CibaState,
}

impl LegacyState {
    /// Mints a single-use authorization code bound to `device_number`.
    pub(crate) fn mint_code(&self, device_number: &str, lifetime: Duration) -> String {
        let code = util::random_hex(24);
        let mut codes = lock(&self.codes);
        prune(&mut codes, |c| c.expires_at);
        codes.insert(
            digest(&code),
            AuthCode {
                device_number: device_number.to_owned(),
                expires_at: Instant::now() + lifetime,
            },
        );
        code
    }

    /// Takes a code (single use): the device number when it was known and unexpired.
    pub(crate) fn take_code(&self, code: &str) -> Option<String> {
        let entry = lock(&self.codes).remove(&digest(code))?;
        (entry.expires_at > Instant::now()).then_some(entry.device_number)
    }

    /// Issues a Number Verify access token bound to `device_number`: a JWT signed by `signer`
    /// whose payload carries `ext.operator` (see [`nv_access_token`]).
    pub(crate) fn issue_nv_token(
        &self,
        device_number: String,
        lifetime: Duration,
        signer: &SigningKey,
        client_id: &str,
    ) -> String {
        let token = nv_access_token(signer, client_id, lifetime);
        let mut tokens = lock(&self.nv_tokens);
        prune(&mut tokens, |t| t.expires_at);
        tokens.insert(
            digest(&token),
            NvToken {
                device_number,
                expires_at: Instant::now() + lifetime,
            },
        );
        token
    }

    /// The device number a valid Number Verify token is bound to.
    pub(crate) fn nv_token_device(&self, token: &str) -> Option<String> {
        lock(&self.nv_tokens)
            .get(&digest(token))
            .filter(|t| t.expires_at > Instant::now())
            .map(|t| t.device_number.clone())
    }

    /// "Sends" a fresh OTP to `phone_or_email`, replacing the previous one; returns it.
    pub(crate) fn send_otp(&self, phone_or_email: &str, lifetime: Duration) -> String {
        let code = random_otp();
        let mut otps = lock(&self.otps);
        prune(&mut otps, |o| o.expires_at);
        otps.insert(
            otp_key(phone_or_email),
            Otp {
                code: code.clone(),
                expires_at: Instant::now() + lifetime,
                used: false,
            },
        );
        tracing::debug!(to = %mask(phone_or_email), "sandbox OTP sent");
        code
    }

    /// The last OTP sent to `phone_or_email` (even if used or expired).
    pub(crate) fn last_otp(&self, phone_or_email: &str) -> Option<String> {
        lock(&self.otps)
            .get(&otp_key(phone_or_email))
            .map(|o| o.code.clone())
    }

    /// Whether an OTP was ever sent to `phone_or_email` (and is still remembered).
    pub(crate) fn has_otp(&self, phone_or_email: &str) -> bool {
        lock(&self.otps).contains_key(&otp_key(phone_or_email))
    }

    /// Checks `code` against the last OTP sent to `phone_or_email`; a match consumes it.
    pub(crate) fn check_otp(&self, phone_or_email: &str, code: &str) -> bool {
        let mut otps = lock(&self.otps);
        let Some(otp) = otps.get_mut(&otp_key(phone_or_email)) else {
            return false;
        };
        let matches = ct_eq(&otp.code, code);
        if matches && !otp.used && otp.expires_at > Instant::now() {
            otp.used = true;
            true
        } else {
            false
        }
    }

    /// Opens a magic session for `phone`; returns its id.
    pub(crate) fn open_magic(&self, phone: &str, lifetime: Duration) -> String {
        let id = util::random_hex(16);
        let mut magic = lock(&self.magic);
        prune(&mut magic, |m| m.expires_at);
        magic.insert(
            id.clone(),
            MagicSession {
                phone: phone.to_owned(),
                expires_at: Instant::now() + lifetime,
            },
        );
        id
    }

    /// The magic session `id`.
    pub(crate) fn magic_session(&self, id: &str) -> Option<MagicSession> {
        lock(&self.magic).get(id).cloned()
    }

    /// Mints a single-use magic token for `phone` (what the carrier hands the device).
    pub(crate) fn mint_magic_token(&self, phone: &str, lifetime: Duration) -> String {
        let token = util::random_alnum(43);
        let mut tokens = lock(&self.magic_tokens);
        prune(&mut tokens, |t| t.expires_at);
        tokens.insert(
            digest(&token),
            MagicToken {
                phone: phone.to_owned(),
                expires_at: Instant::now() + lifetime,
            },
        );
        token
    }

    /// Checks a magic token for `phone`; a valid one is consumed.
    pub(crate) fn check_magic_token(&self, phone: &str, token: &str) -> bool {
        let mut tokens = lock(&self.magic_tokens);
        let key = digest(token);
        let valid = tokens
            .get(&key)
            .is_some_and(|t| ct_eq(&t.phone, phone) && t.expires_at > Instant::now());
        if valid {
            tokens.remove(&key);
        }
        valid
    }

    /// Opens a server-auth session; returns its id (32 hex).
    pub(crate) fn open_server_auth(&self, session: ServerAuth) -> String {
        let id = util::random_hex(16);
        let mut sessions = lock(&self.server_auth);
        prune(&mut sessions, |s| s.expires_at);
        sessions.insert(id.clone(), session);
        id
    }

    /// A copy of the server-auth session `id`.
    pub(crate) fn server_auth(&self, id: &str) -> Option<ServerAuth> {
        lock(&self.server_auth).get(id).cloned()
    }

    /// Runs `f` on the server-auth session `id` under its lock.
    pub(crate) fn with_server_auth<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut ServerAuth) -> T,
    ) -> Option<T> {
        lock(&self.server_auth).get_mut(id).map(f)
    }
}

/// A Number Verify access token: an ES256 JWT `{iss, sub, aud, iat, exp, jti, scope,
/// ext: {operator}}`. Glide's Python SDK reads `ext.operator` by decoding the payload with
/// *standard* base64, which mangles the base64url characters `-` and `_`; the `jti` is drawn
/// again until the payload's encoding has neither. `sub` is pseudonymous (never the number).
pub(crate) fn nv_access_token(signer: &SigningKey, client_id: &str, lifetime: Duration) -> String {
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": "sandbox-nv"});
    let iat = util::now().unix_timestamp();
    let exp = iat.saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX));
    let sub = util::random_hex(16);
    let mut token = String::new();
    for attempt in 0..256 {
        // Varying the jti's length shifts the alignment of everything after it.
        let jti = util::random_hex(8 + attempt % 8);
        let payload = json!({
            "iss": "glide-sandbox",
            "sub": sub,
            "aud": client_id,
            "iat": iat,
            "exp": exp,
            "jti": jti,
            "scope": "openid dpv:FraudPreventionAndDetection:number-verification",
            "ext": {"operator": fixtures::OPERATOR_ID},
        });
        token = jwt::sign(signer, &header, &payload);
        let clean = token
            .split('.')
            .nth(1)
            .is_some_and(|p| !p.contains(['-', '_']));
        if clean {
            break;
        }
    }
    token
}

/// A phone number or e-mail address masked for logs.
pub(crate) fn mask(phone_or_email: &str) -> String {
    match phone_or_email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => util::mask_phone(phone_or_email),
    }
}

/// The device's number for an operator authorization whose login hint was `hint`
/// (`None`: the sandbox default `+15555550100`), fixtures applied.
pub(crate) fn device_for_hint(hint: Option<&str>) -> String {
    fixtures::device_number(hint)
}

/// `local@domain.tld`, no spaces, at most 254 chars.
pub(crate) fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    s.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otp_is_six_digits_and_single_use() {
        let s = LegacyState::default();
        let code = s.send_otp("A@Example.com", Duration::from_secs(60));
        assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(s.last_otp("a@example.com").as_deref(), Some(code.as_str()));
        assert!(!s.check_otp("a@example.com", "x"));
        assert!(s.check_otp("a@example.com", &code));
        assert!(!s.check_otp("a@example.com", &code));
    }

    #[test]
    fn emails_and_masks() {
        assert!(is_email("a@b.co"));
        assert!(!is_email("a@b"));
        assert!(!is_email("a b@c.de"));
        assert!(!is_email("@c.de"));
        assert_eq!(mask("alice@example.com"), "a***@example.com");
        assert_eq!(mask("+15555550100"), "+155******00");
    }
}
