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
use rand::RngExt as _;
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

/// What an authorization request bound its code to: the PKCE `S256` challenge and the OIDC
/// nonce, each when the request carried one (Glide's SDKs send a nonce but no PKCE).
#[derive(Debug, Clone, Default)]
pub(crate) struct CodeBinding {
    /// `code_challenge` (method `S256`).
    pub code_challenge: Option<String>,
    /// `nonce`, echoed in the ID token.
    pub nonce: Option<String>,
}

#[derive(Debug)]
struct AuthCode {
    device_number: String,
    binding: CodeBinding,
    expires_at: Instant,
}

/// A redeemed authorization code: the device's number and the nonce for the ID token.
#[derive(Debug)]
pub(crate) struct Redeemed {
    pub device_number: String,
    pub nonce: Option<String>,
}

/// Why a code could not be redeemed (each is `invalid_grant`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RedeemError {
    /// Unknown, used or expired.
    Unknown,
    /// Issued with a `code_challenge`, redeemed without a `code_verifier`.
    VerifierMissing,
    /// The verifier's `S256` is not the challenge (or the verifier is malformed).
    VerifierMismatch,
    /// A verifier for a code issued without a challenge (PKCE downgrade, RFC 9700 §4.8.2).
    UnexpectedVerifier,
}

impl RedeemError {
    /// The `error_description` of the `invalid_grant` answer.
    pub(crate) fn description(self) -> &'static str {
        match self {
            Self::Unknown => "The authorization code is unknown, used or expired",
            Self::VerifierMissing => "code_verifier is required for this authorization code",
            Self::VerifierMismatch => "code_verifier does not match the code_challenge",
            Self::UnexpectedVerifier => {
                "code_verifier was sent for an authorization code issued without code_challenge"
            }
        }
    }
}

/// The PKCE `S256` challenge of `verifier`: `BASE64URL(SHA-256(verifier))`.
pub(crate) fn s256(verifier: &str) -> String {
    use sha2::Digest as _;
    util::b64url(&sha2::Sha256::digest(verifier.as_bytes()))
}

/// A `code_verifier` of RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
pub(crate) fn is_code_verifier(text: &str) -> bool {
    (43..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
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
    /// Mints a single-use authorization code for `device_number`, bound to `binding`.
    pub(crate) fn mint_code(
        &self,
        device_number: &str,
        lifetime: Duration,
        binding: CodeBinding,
    ) -> String {
        let code = util::random_hex(24);
        let mut codes = lock(&self.codes);
        prune(&mut codes, |c| c.expires_at);
        codes.insert(
            digest(&code),
            AuthCode {
                device_number: device_number.to_owned(),
                binding,
                expires_at: Instant::now() + lifetime,
            },
        );
        code
    }

    /// Redeems a code with the token request's `code_verifier`, as an authorization server
    /// with optional PKCE does: a code issued with a challenge needs the verifier whose
    /// `S256` it is (compared in constant time); a code issued without one refuses any
    /// verifier. Only a successful redemption takes the code (single use): a refused one
    /// leaves it to the flow that holds the right verifier.
    pub(crate) fn redeem_code(
        &self,
        code: &str,
        verifier: Option<&str>,
    ) -> Result<Redeemed, RedeemError> {
        let mut codes = lock(&self.codes);
        let key = digest(code);
        let entry = codes.get(&key).ok_or(RedeemError::Unknown)?;
        if entry.expires_at <= Instant::now() {
            codes.remove(&key);
            return Err(RedeemError::Unknown);
        }
        match (entry.binding.code_challenge.as_deref(), verifier) {
            (Some(_), None) => return Err(RedeemError::VerifierMissing),
            (Some(challenge), Some(v)) => {
                // Both sides are fixed-length digests: the comparison does not depend on
                // where they differ.
                if !is_code_verifier(v) || !ct_eq(&s256(v), challenge) {
                    return Err(RedeemError::VerifierMismatch);
                }
            }
            (None, Some(_)) => return Err(RedeemError::UnexpectedVerifier),
            (None, None) => {}
        }
        let entry = codes.remove(&key).ok_or(RedeemError::Unknown)?;
        Ok(Redeemed {
            device_number: entry.device_number,
            nonce: entry.binding.nonce,
        })
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

/// The OIDC ID token of a Number Verify code exchange: an ES256 JWT `{iss, sub, aud, iat, exp,
/// nonce?}` whose `nonce` is the authorization request's (absent when it had none), so that the
/// client can tell which of its requests the code answers. `sub` is pseudonymous.
pub(crate) fn nv_id_token(
    signer: &SigningKey,
    client_id: &str,
    lifetime: Duration,
    nonce: Option<&str>,
) -> String {
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": "sandbox-nv"});
    let iat = util::now().unix_timestamp();
    let exp = iat.saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX));
    let mut payload = json!({
        "iss": "glide-sandbox",
        "sub": util::random_hex(16),
        "aud": client_id,
        "iat": iat,
        "exp": exp,
        "auth_time": iat,
    });
    if let Some(nonce) = nonce {
        payload["nonce"] = json!(nonce);
    }
    jwt::sign(signer, &header, &payload)
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
    fn pkce_binds_the_code_to_its_verifier() {
        let s = LegacyState::default();
        let life = Duration::from_secs(60);
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            s256(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let bound = CodeBinding {
            code_challenge: Some(s256(verifier)),
            nonce: Some("n1".into()),
        };
        let code = s.mint_code("+15555550100", life, bound);
        let other = "x".repeat(43);
        assert_eq!(
            s.redeem_code(&code, None).unwrap_err(),
            RedeemError::VerifierMissing
        );
        assert_eq!(
            s.redeem_code(&code, Some(&other)).unwrap_err(),
            RedeemError::VerifierMismatch
        );
        assert_eq!(
            s.redeem_code(&code, Some("short")).unwrap_err(),
            RedeemError::VerifierMismatch
        );
        // The refusals left the code to its flow; it is single use.
        let redeemed = s.redeem_code(&code, Some(verifier)).unwrap();
        assert_eq!(redeemed.device_number, "+15555550100");
        assert_eq!(redeemed.nonce.as_deref(), Some("n1"));
        assert_eq!(
            s.redeem_code(&code, Some(verifier)).unwrap_err(),
            RedeemError::Unknown
        );
        // Without PKCE: no verifier is accepted (downgrade), none is needed.
        let plain = s.mint_code("+15555550100", life, CodeBinding::default());
        assert_eq!(
            s.redeem_code(&plain, Some(verifier)).unwrap_err(),
            RedeemError::UnexpectedVerifier
        );
        assert!(s.redeem_code(&plain, None).unwrap().nonce.is_none());
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
