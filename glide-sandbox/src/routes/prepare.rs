//! `POST /magic-auth/v2/auth/prepare`: validate, pick a strategy, mint a session.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{Authed, BaseUrl, JsonBody};
use crate::error::ApiError;
use crate::fixtures;
use crate::jwt;
use crate::qr;
use crate::state::{lock, AppState, Session, Status, Strategy, UseCase};
use crate::util;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Plmn {
    mcc: Option<String>,
    mnc: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ClientInfo {
    pub user_agent: Option<String>,
    #[allow(dead_code)]
    pub platform: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PrepareOptions {
    parent_session_id: Option<String>,
    theme: Option<String>,
    link_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PrepareRequest {
    use_case: Option<String>,
    phone_number: Option<String>,
    plmn: Option<Plmn>,
    consent_data: Option<Value>,
    client_info: Option<ClientInfo>,
    options: Option<PrepareOptions>,
    authentication_strategy: Option<String>,
    session_timeout: Option<i64>,
    fe_hash: Option<String>,
    public_key: Option<String>,
}

/// The request after validation.
struct Prepared {
    use_case: UseCase,
    phone_number: Option<String>,
    strategy: Strategy,
    timeout: Duration,
    user_agent: Option<String>,
    fe_hash: Option<String>,
    public_key: Option<p256::ecdsa::VerifyingKey>,
    link_type: String,
    consent_data: Option<Value>,
}

const LINK_TYPES: [&str; 4] = ["app_clip", "app_link", "headless", "web_link"];

fn validate(state: &AppState, req: PrepareRequest) -> Result<Prepared, ApiError> {
    let mut fields = BTreeMap::new();
    let mut bad = |k: &str, v: &str| {
        fields.insert(k.to_owned(), v.to_owned());
    };
    let options = req.options.unwrap_or_default();

    // A phone-side child of a desktop session inherits use case and number.
    let parent = match options.parent_session_id.as_deref() {
        Some(key) => {
            let cell = state.session(key).ok_or_else(ApiError::session_not_found)?;
            let s = lock(&cell.data);
            Some((s.use_case, s.phone_number.clone()))
        }
        None => None,
    };

    let use_case = match (req.use_case.as_deref(), parent.as_ref()) {
        (Some(u), _) => UseCase::parse(u),
        (None, Some((u, _))) => Some(*u),
        (None, None) => None,
    };
    if use_case.is_none() {
        bad(
            "use_case",
            "Must be one of: VerifyPhoneNumber, GetPhoneNumber",
        );
    }
    let phone_number = req
        .phone_number
        .or_else(|| parent.as_ref().and_then(|(_, p)| p.clone()));
    match (&phone_number, use_case) {
        (Some(p), _) if !util::is_e164(p) => {
            bad("phone_number", "Must be a valid E.164 phone number format")
        }
        (None, Some(UseCase::Verify)) => bad("phone_number", "Required for VerifyPhoneNumber"),
        (Some(_), Some(UseCase::Get)) => {
            bad("phone_number", "Must not be provided for GetPhoneNumber")
        }
        _ => {}
    }
    if let Some(plmn) = &req.plmn {
        if !plmn
            .mcc
            .as_deref()
            .is_some_and(|m| util::is_digits(m, 3..=3))
        {
            bad("plmn.mcc", "Must be 3 digits");
        }
        if !plmn
            .mnc
            .as_deref()
            .is_some_and(|m| util::is_digits(m, 2..=3))
        {
            bad("plmn.mnc", "Must be 2 or 3 digits");
        }
    }
    let timeout = match req.session_timeout {
        Some(t) if !(60..=900).contains(&t) => {
            bad("session_timeout", "Must be between 60 and 900 seconds");
            state.config.session_timeout
        }
        Some(t) => Duration::from_secs(t.unsigned_abs()),
        None => state.config.session_timeout,
    };
    let requested = match req.authentication_strategy.as_deref() {
        Some(s) => {
            let parsed = Strategy::parse(s);
            if parsed.is_none() {
                bad(
                    "authentication_strategy",
                    "Must be one of: ts43, link, desktop",
                );
            }
            parsed
        }
        None => None,
    };
    if let Some(consent) = &req.consent_data {
        let ok = consent.is_object()
            && consent.get("consent_text").is_some_and(Value::is_string)
            && consent.get("policy_link").is_some_and(Value::is_string);
        if !ok {
            bad(
                "consent_data",
                "Must contain consent_text and policy_link strings",
            );
        }
    }
    if options
        .theme
        .as_deref()
        .is_some_and(|t| t.chars().count() > 32)
    {
        bad("options.theme", "At most 32 characters");
    }
    if let Some(lt) = options.link_type.as_deref() {
        if !LINK_TYPES.contains(&lt) {
            bad(
                "options.link_type",
                "Must be one of: app_clip, app_link, headless, web_link",
            );
        }
    }
    let public_key = match req.public_key.as_deref() {
        Some(pk) => {
            let parsed = jwt::parse_public_key(pk);
            if parsed.is_none() {
                bad(
                    "public_key",
                    "Must be base64 of a 65-byte uncompressed P-256 public key",
                );
            }
            parsed
        }
        None => None,
    };
    let user_agent = req.client_info.and_then(|c| c.user_agent);
    let strategy = requested
        .unwrap_or_else(|| Strategy::for_user_agent(user_agent.as_deref().unwrap_or_default()));
    let fe_hash = req.fe_hash.map(|h| h.to_ascii_lowercase());
    if strategy == Strategy::Link {
        match &fe_hash {
            Some(h) if !util::is_hex64(h) => bad("fe_hash", "Must be 64 hex characters"),
            None if public_key.is_none() => {
                bad("fe_hash", "Required for the link strategy (device binding)")
            }
            _ => {}
        }
    }
    if !fields.is_empty() {
        return Err(ApiError::validation(fields));
    }
    Ok(Prepared {
        use_case: use_case.unwrap_or(UseCase::Verify),
        phone_number,
        strategy,
        timeout,
        user_agent,
        fe_hash: fe_hash.filter(|_| strategy == Strategy::Link),
        public_key: public_key.filter(|_| strategy == Strategy::Link),
        link_type: options.link_type.unwrap_or_else(|| "app_clip".to_owned()),
        consent_data: req.consent_data,
    })
}

pub(crate) async fn prepare(
    State(state): State<Arc<AppState>>,
    _auth: Authed,
    BaseUrl(base): BaseUrl,
    JsonBody(req): JsonBody<PrepareRequest>,
) -> Result<Json<Value>, ApiError> {
    let p = validate(&state, req)?;
    let fixture = fixtures::fixture(p.phone_number.as_deref());
    if fixture.slow {
        tokio::time::sleep(state.config.slow_carrier_delay).await;
    }
    if !fixture.eligible {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "CARRIER_NOT_ELIGIBLE",
            "The phone number's carrier does not support Magical Auth",
        ));
    }
    let key = state.fresh_key();
    let nonce = util::random_alnum(32);
    let enc_key = jwt::random_signing_key();
    let enc_jwk = jwt::public_jwk(enc_key.verifying_key(), "enc", "ECDH-ES", &key);
    let status_url = format!("{base}/public/status/{key}");
    let timeout_secs = p.timeout.as_secs();

    let mut challenge = Value::Null;
    let data = match p.strategy {
        Strategy::Ts43 => ts43_data(&state, &base, &nonce, &enc_jwk, &p),
        Strategy::Link => json!({
            "url": format!("{base}/sandbox/link/{key}"),
            "status_url": status_url,
            "link_type": p.link_type,
        }),
        Strategy::Desktop => {
            let url = format!("{base}/sandbox/qr/{key}");
            let image = qr::data_url(&url);
            challenge = challenge_for(&key);
            json!({
                "protocol": "qr-auth-v1",
                "data": {
                    "session_id": key,
                    "qr_image": image,
                    "url": url,
                    "ios_qr_image": image,
                    "android_qr_image": image,
                    "qr_code_image": image,
                    "ios_url": url,
                    "android_url": url,
                    "status_url": status_url,
                    "challenge": challenge,
                    "polling_interval": 2000,
                    "expires_in": timeout_secs,
                },
            })
        }
    };

    let now = util::now();
    tracing::info!(
        session = %key,
        strategy = p.strategy.as_str(),
        use_case = p.use_case.as_str(),
        phone = %p.phone_number.as_deref().map(util::mask_phone).unwrap_or_default(),
        "prepared"
    );
    state.insert_session(Session {
        key: key.clone(),
        strategy: p.strategy,
        use_case: p.use_case,
        phone_number: p.phone_number,
        nonce: nonce.clone(),
        user_agent: p.user_agent,
        fe_hash: p.fe_hash,
        public_key: p.public_key,
        status: Status::Pending,
        created_at: now,
        last_updated: now,
        expires_at: Instant::now() + p.timeout,
        device_info: None,
        scanned_at: None,
        grace_expires_at: None,
        failure_reason: None,
        agg_code: None,
        agg_code_used: false,
        device_number: None,
        aud: None,
        consumed: false,
    });

    let mut body = json!({
        "authentication_strategy": p.strategy.as_str(),
        "session": {
            "session_key": key,
            "nonce": nonce,
            "enc_key": enc_jwk.to_string(),
            "protocol_type": p.strategy.as_str(),
            "metadata": {
                "use_case": p.use_case.as_str(),
                "journey_strategy": p.strategy.as_str(),
            },
        },
        "data": data,
        "session_expires_in_seconds": timeout_secs,
    });
    if !challenge.is_null() {
        body["challenge"] = challenge;
    }
    Ok(Json(body))
}

fn ts43_data(state: &AppState, base: &str, nonce: &str, enc_jwk: &Value, p: &Prepared) -> Value {
    let iat = util::now().unix_timestamp();
    let mut claims = json!({
        "iss": base,
        "nonce": nonce,
        "iat": iat,
        "exp": iat + i64::try_from(p.timeout.as_secs()).unwrap_or(300),
        "encrypted_response_enc_values_supported": ["A128GCM"],
        "jwks": {"keys": [enc_jwk]},
    });
    if let Some(consent) = &p.consent_data {
        claims["consent_data"] = json!(STANDARD.encode(consent.to_string()));
    }
    let header = json!({"alg": "ES256", "typ": "oauth-authz-req+jwt", "kid": "sandbox-aggregator"});
    let authz = jwt::sign(&state.signer, &header, &claims);
    let vct = match p.use_case {
        UseCase::Verify => "number-verification/verify/ts43",
        UseCase::Get => "number-verification/device-phone-number/ts43",
    };
    json!({
        "protocol": "openid4vp-v1-unsigned",
        "data": {
            "nonce": nonce,
            "response_mode": "dc_api",
            "response_type": "vp_token",
            "dcql_query": {
                "credentials": [{
                    "id": "glide",
                    "format": "dc-authorization+sd-jwt",
                    "meta": {
                        "vct_values": [vct],
                        "credential_authorization_jwt": authz,
                    },
                }],
            },
        },
    })
}

/// The visual challenge shown on the desktop and the phone, derived from the key.
pub(crate) fn challenge_for(key: &str) -> Value {
    const PATTERNS: [&str; 6] = ["circle", "square", "triangle", "star", "diamond", "hexagon"];
    const COLORS: [&str; 6] = ["red", "blue", "green", "orange", "purple", "teal"];
    let n = usize::from_str_radix(&key[..4.min(key.len())], 16).unwrap_or(0);
    json!({
        "pattern": PATTERNS[n % PATTERNS.len()],
        "color": COLORS[(n / PATTERNS.len()) % COLORS.len()],
        "session_id": key,
    })
}
