//! Number Verify: the operator authorization URL, the code exchange and the number check.
//!
//! A code is bound to the flow that asked for it by [`FlowSecrets`]: the OIDC `nonce` (sent in
//! the authorization URL, required back in the ID token of the exchange) and the PKCE
//! `code_verifier` (its `S256` challenge sent in the authorization URL, the verifier itself at
//! the exchange), as the CAMARA security profile recommends. A code injected into another
//! flow is then refused by the operator (wrong verifier) or, should the operator ignore PKCE,
//! by [`NumberVerify::for_flow`] (wrong nonce).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::Method;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::transport::TOKEN_ENDPOINT;
use super::types::{AuthCode, NumberVerifyResponse};
use super::LegacyClient;
use crate::api::token::TokenAnswer;
use crate::api::transport::Auth;
use crate::binding::constant_time_eq;
use crate::error::{BindingError, Error};
use crate::secret::AccessToken;
use crate::PhoneNumber;

/// The scope purpose of Number Verify.
const PURPOSE: &str = "dpv:FraudPreventionAndDetection:number-verification";

/// The longest nonce accepted by [`FlowSecrets::from_parts`].
const MAX_NONCE_LEN: usize = 255;

/// The per-flow secrets that bind an operator authorization code to the flow that asked for
/// it: the OIDC `nonce` and the PKCE `code_verifier` (RFC 7636, method `S256`).
///
/// Make one per flow ([`FlowSecrets::random`]), give it to [`NumberVerify::get_auth_url`]
/// (through [`AuthUrlOptions::secrets`]) and to [`NumberVerify::for_flow`], and keep it
/// server-side in between, beside the flow's `state` (never in a cookie or a URL: the URL
/// carries only the nonce and the verifier's hash, as the protocol says). `Debug` is redacted;
/// equality is constant-time.
///
/// ```
/// use glide_core::legacy::FlowSecrets;
/// let secrets = FlowSecrets::random();
/// assert_eq!(secrets.code_verifier().len(), 43);
/// assert_eq!(format!("{secrets:?}"), "FlowSecrets([redacted])");
/// let again = FlowSecrets::from_parts(secrets.nonce(), secrets.code_verifier()).unwrap();
/// assert_eq!(again, secrets);
/// assert!(FlowSecrets::from_parts("n", "too-short").is_err());
/// ```
#[derive(Clone)]
pub struct FlowSecrets {
    nonce: String,
    code_verifier: String,
}

impl FlowSecrets {
    /// Fresh secrets: a nonce and a verifier of 32 random bytes each, base64url (43 characters).
    pub fn random() -> Self {
        Self {
            nonce: crate::random::token(),
            code_verifier: crate::random::token(),
        }
    }

    /// Secrets kept by the app, checked: a nonce of 1 to 255 characters and a verifier of 43
    /// to 128 characters, both of `[A-Za-z0-9-._~]` (RFC 7636 §4.1).
    pub fn from_parts(nonce: &str, code_verifier: &str) -> Result<Self, Error> {
        if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN || !unreserved(nonce) {
            return Err(Error::validation("nonce", "nonce is invalid"));
        }
        if !(43..=128).contains(&code_verifier.len()) || !unreserved(code_verifier) {
            return Err(Error::validation(
                "code_verifier",
                "code_verifier is invalid",
            ));
        }
        Ok(Self {
            nonce: nonce.to_owned(),
            code_verifier: code_verifier.to_owned(),
        })
    }

    /// The `nonce` sent in the authorization URL and expected in the ID token.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The PKCE `code_verifier`, sent only to the token endpoint. Never log it.
    pub fn code_verifier(&self) -> &str {
        &self.code_verifier
    }

    /// The PKCE `code_challenge`: `BASE64URL(SHA-256(code_verifier))`, method `S256`.
    pub fn code_challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.code_verifier.as_bytes()))
    }
}

impl std::fmt::Debug for FlowSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FlowSecrets([redacted])")
    }
}

impl PartialEq for FlowSecrets {
    fn eq(&self, other: &Self) -> bool {
        // Both halves are compared, whatever the first says.
        let nonce = constant_time_eq(self.nonce.as_bytes(), other.nonce.as_bytes());
        let verifier = constant_time_eq(
            self.code_verifier.as_bytes(),
            other.code_verifier.as_bytes(),
        );
        nonce & verifier
    }
}

impl Eq for FlowSecrets {}

/// Whether `text` is made of RFC 3986 unreserved characters only.
fn unreserved(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Options of [`NumberVerify::get_auth_url`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthUrlOptions {
    /// The `state` echoed on the redirect (bind it to the browser and check it on return). A
    /// random one is made when absent.
    pub state: Option<String>,
    /// `login_hint=tel:…`: the number the sandbox device has (Glide's `use_dev_number`).
    pub use_dev_number: Option<PhoneNumber>,
    /// The `redirect_uri` (absolute); else the one registered with Glide.
    pub redirect_uri: Option<String>,
    /// `dev_print=true`: the URL answers `{"code"}` instead of redirecting (development only).
    pub print_code: bool,
    /// The flow's [`FlowSecrets`]: its nonce is sent, with the PKCE `code_challenge` and
    /// `code_challenge_method=S256`; exchange the code with [`NumberVerify::for_flow`]. When
    /// absent (as in Glide's SDKs), a random nonce nobody checks is sent and no PKCE: the code
    /// is bound to nothing but the `state`.
    pub secrets: Option<FlowSecrets>,
}

/// Number Verify calls; from [`LegacyClient::number_verify`].
#[derive(Debug, Clone)]
pub struct NumberVerify {
    client: LegacyClient,
}

impl NumberVerify {
    pub(crate) fn new(client: LegacyClient) -> Self {
        Self { client }
    }

    /// The URL to open on the user's device:
    /// `{base}/oauth2/auth?client_id=…&response_type=code&scope=openid&purpose=…&state=…&nonce=…&max_age=0`
    /// with `code_challenge` + `code_challenge_method=S256`, `redirect_uri`, `login_hint` and
    /// `dev_print` as the options say.
    pub fn get_auth_url(&self, options: &AuthUrlOptions) -> Result<url::Url, Error> {
        let mut url = self.client.url(&["oauth2", "auth"])?;
        let state = options.state.clone().unwrap_or_else(random_text);
        let nonce = options
            .secrets
            .as_ref()
            .map_or_else(random_text, |s| s.nonce().to_owned());
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("client_id", self.client.inner.client_id.as_str())
                .append_pair("response_type", "code")
                .append_pair("scope", "openid")
                .append_pair("purpose", PURPOSE)
                .append_pair("state", &state)
                .append_pair("nonce", &nonce)
                .append_pair("max_age", "0");
            if let Some(secrets) = &options.secrets {
                query
                    .append_pair("code_challenge", &secrets.code_challenge())
                    .append_pair("code_challenge_method", "S256");
            }
            if let Some(redirect) = &options.redirect_uri {
                query.append_pair("redirect_uri", redirect);
            }
            if let Some(number) = &options.use_dev_number {
                query.append_pair("login_hint", &format!("tel:{number}"));
            }
            if options.print_code {
                query.append_pair("dev_print", "true");
            }
        }
        Ok(url)
    }

    /// Exchanges the code from the redirect for the user's token
    /// (`grant_type=authorization_code`), as Glide's SDKs do: no `code_verifier` is sent and
    /// no nonce is checked, so the code is bound to nothing but the `state` the caller checked.
    /// For a URL made with [`AuthUrlOptions::secrets`], use [`for_flow`](Self::for_flow).
    /// `phone_number` is the number [`NumberVerifyUser::verify_number`] checks by default.
    pub async fn for_user(
        &self,
        code: &AuthCode,
        phone_number: Option<PhoneNumber>,
    ) -> Result<NumberVerifyUser, Error> {
        check_code(code)?;
        let answer = self
            .client
            .token_request(&[
                ("grant_type", "authorization_code"),
                ("code", code.secret()),
            ])
            .await?;
        self.user(answer, phone_number)
    }

    /// Exchanges the code of the flow whose authorization URL carried `secrets`: the form adds
    /// `code_verifier`, and the answer's ID token must carry the flow's nonce (compared in
    /// constant time). An operator refusing the verifier answers [`Error::Api`] (400
    /// `INVALID_GRANT`); an answer without an ID token, with an unreadable one, or with a
    /// missing or different `nonce` is refused with [`BindingError::NonceMismatch`]
    /// (403 `NONCE_MISMATCH`): the code was issued to another flow.
    pub async fn for_flow(
        &self,
        code: &AuthCode,
        secrets: &FlowSecrets,
        phone_number: Option<PhoneNumber>,
    ) -> Result<NumberVerifyUser, Error> {
        check_code(code)?;
        let answer: BoundTokenAnswer = self
            .client
            .inner
            .basic_form(
                TOKEN_ENDPOINT.path,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code.secret()),
                    ("code_verifier", secrets.code_verifier()),
                ],
                None,
            )
            .await?
            .oauth_json()?;
        check_id_token_nonce(answer.id_token.as_deref(), secrets.nonce())?;
        self.user(answer.token, phone_number)
    }

    fn user(
        &self,
        answer: TokenAnswer,
        phone_number: Option<PhoneNumber>,
    ) -> Result<NumberVerifyUser, Error> {
        let (token, _) = answer.into_token()?;
        Ok(NumberVerifyUser {
            client: self.client.clone(),
            token,
            phone_number,
        })
    }
}

/// A code is 1 to 2048 characters.
fn check_code(code: &AuthCode) -> Result<(), Error> {
    if code.secret().is_empty() || code.secret().len() > 2048 {
        return Err(Error::validation("code", "code is invalid"));
    }
    Ok(())
}

/// The token answer of a bound exchange: the token and the OIDC ID token.
#[derive(Deserialize)]
struct BoundTokenAnswer {
    #[serde(flatten)]
    token: TokenAnswer,
    #[serde(default)]
    id_token: Option<String>,
}

/// Checks that `id_token` (a compact JWS) carries `nonce` as its `nonce` claim. The ID token
/// comes straight from the token endpoint over the connection that authenticated the client,
/// which OIDC Core §3.1.3.7 accepts in place of checking its signature; what matters here is
/// which authorization request it answers.
fn check_id_token_nonce(id_token: Option<&str>, nonce: &str) -> Result<(), Error> {
    let claimed = id_token.and_then(id_token_nonce);
    let matches = claimed.is_some_and(|c| constant_time_eq(c.as_bytes(), nonce.as_bytes()));
    if matches {
        Ok(())
    } else {
        Err(BindingError::NonceMismatch.into())
    }
}

/// The `nonce` claim of a compact JWS's payload, if it has the shape of one.
fn id_token_nonce(jws: &str) -> Option<String> {
    let mut parts = jws.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || payload.len() > 16 * 1024 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("nonce")?.as_str().map(str::to_owned)
}

/// The user's Number Verify session (holds the exchanged token); from
/// [`NumberVerify::for_user`].
#[derive(Debug, Clone)]
pub struct NumberVerifyUser {
    client: LegacyClient,
    token: AccessToken,
    phone_number: Option<PhoneNumber>,
}

impl NumberVerifyUser {
    /// `POST /number-verification/verify`: whether `phone_number` (or the one given to
    /// [`NumberVerify::for_user`]) is the device's own.
    pub async fn verify_number(
        &self,
        phone_number: Option<&PhoneNumber>,
    ) -> Result<NumberVerifyResponse, Error> {
        let phone = phone_number
            .or(self.phone_number.as_ref())
            .ok_or_else(|| Error::validation("phone_number", "phone_number is required"))?;
        self.client
            .post_json(
                &["number-verification", "verify"],
                &serde_json::json!({ "phoneNumber": phone }),
                Auth::Token(&self.token),
            )
            .await
    }

    /// `GET /number-verification/device-phone-number`: the device's own number.
    pub async fn get_phone_number(&self) -> Result<PhoneNumber, Error> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer {
            device_phone_number: PhoneNumber,
        }
        let answer: Answer = self
            .client
            .call(
                Method::GET,
                &["number-verification", "device-phone-number"],
                None,
                Auth::Token(&self.token),
            )
            .await?
            .json()?;
        Ok(answer.device_phone_number)
    }
}

/// 16 random bytes as 32 hex characters.
fn random_text() -> String {
    hex::encode(crate::random::bytes::<16>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jws(claims: &serde_json::Value) -> String {
        format!(
            "eyJhbGciOiJFUzI1NiJ9.{}.c2ln",
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    #[test]
    fn the_challenge_is_s256_of_the_verifier() {
        // RFC 7636 appendix B.
        let secrets =
            FlowSecrets::from_parts("n", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
        assert_eq!(
            secrets.code_challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let a = FlowSecrets::random();
        let b = FlowSecrets::random();
        assert_ne!(a, b);
        assert_ne!(a.nonce(), a.code_verifier());
        assert_eq!(a.nonce().len(), 43);
    }

    #[test]
    fn from_parts_checks_both_halves() {
        let verifier = "a".repeat(43);
        assert!(FlowSecrets::from_parts("n", &verifier).is_ok());
        assert!(FlowSecrets::from_parts("", &verifier).is_err());
        assert!(FlowSecrets::from_parts("a b", &verifier).is_err());
        assert!(FlowSecrets::from_parts(&"n".repeat(256), &verifier).is_err());
        assert!(FlowSecrets::from_parts("n", &"a".repeat(42)).is_err());
        assert!(FlowSecrets::from_parts("n", &"a".repeat(129)).is_err());
        assert!(FlowSecrets::from_parts("n", &format!("{}/", "a".repeat(43))).is_err());
    }

    #[test]
    fn the_id_token_must_carry_the_nonce() {
        let ok = jws(&serde_json::json!({"nonce": "n-1", "aud": "c"}));
        assert!(check_id_token_nonce(Some(&ok), "n-1").is_ok());
        for (what, token) in [
            ("no id token", None),
            (
                "another nonce",
                Some(jws(&serde_json::json!({"nonce": "n-2"}))),
            ),
            ("a prefix", Some(jws(&serde_json::json!({"nonce": "n-"})))),
            ("no nonce", Some(jws(&serde_json::json!({"aud": "c"})))),
            ("a number", Some(jws(&serde_json::json!({"nonce": 1})))),
            ("not a JWS", Some("garbage".to_owned())),
            ("four parts", Some(format!("{ok}.x"))),
            ("payload not JSON", Some("a.bm9uY2U.c".to_owned())),
        ] {
            let e = check_id_token_nonce(token.as_deref(), "n-1").unwrap_err();
            assert_eq!(
                (e.code(), e.http_status()),
                ("NONCE_MISMATCH", 403),
                "{what}"
            );
        }
    }
}
