//! The legacy operator OAuth endpoints: `POST /oauth2/token` (client credentials, the
//! Number Verify authorization code and the CIBA grant) and `GET /oauth2/auth` (the operator's
//! authorization endpoint, opened on the user's device).
//!
//! The code flow binds a code as a real authorization server does: PKCE is optional (method
//! `S256` only; `plain` is refused) and, when the authorization request carried a
//! `code_challenge`, the code is redeemed only with the `code_verifier` whose `S256` it is; a
//! `code_verifier` for a code issued without a challenge is refused (downgrade). The ID token
//! of the exchange carries the request's `nonce`. Glide's legacy SDKs send a nonce and no
//! PKCE: their codes are bound to nothing, and work as before.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::token::{authenticated_form, form_value, invalid_client, oauth_error};
use crate::legacy::ciba::GrantError;
use crate::legacy::{device_for_hint, nv_id_token, CodeBinding};
use crate::state::AppState;
use crate::util::ct_eq;
use crate::{fixtures, util};

/// The scope of a Number Verify token.
const NV_SCOPE: &str = "openid dpv:FraudPreventionAndDetection:number-verification";

/// The CIBA grant type.
pub(crate) const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";

/// `POST /oauth2/token`: `client_credentials` (scope `magic-auth` or `telco-finder`),
/// `authorization_code` (Number Verify) or the CIBA grant (an `auth_req_id` of
/// `POST /oauth2/backchannel-authentication`).
pub(crate) async fn token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(form) = authenticated_form(&state, &headers, &body) else {
        return invalid_client();
    };
    let lifetime = state.config.token_lifetime;
    match form_value(&form, "grant_type") {
        Some("client_credentials") => {
            let scope = form_value(&form, "scope")
                .unwrap_or("magic-auth")
                .to_owned();
            let token = state.issue_token();
            Json(json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": lifetime.as_secs(),
                "scope": scope,
            }))
            .into_response()
        }
        Some("authorization_code") => {
            let redeemed = match form_value(&form, "code").filter(|c| !c.is_empty()) {
                Some(code) => {
                    // Without PKCE support the verifier is an unknown parameter: ignored.
                    let verifier = form_value(&form, "code_verifier")
                        .filter(|_| state.config.number_verify_pkce);
                    state.legacy.redeem_code(code, verifier)
                }
                None => Err(crate::legacy::RedeemError::Unknown),
            };
            let redeemed = match redeemed {
                Ok(redeemed) => redeemed,
                Err(e) => {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", e.description())
                }
            };
            let id_token = nv_id_token(
                &state.signer,
                &state.config.client_id,
                lifetime,
                redeemed.nonce.as_deref(),
            );
            let token = state.legacy.issue_nv_token(
                redeemed.device_number,
                lifetime,
                &state.signer,
                &state.config.client_id,
            );
            Json(json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": lifetime.as_secs(),
                "scope": NV_SCOPE,
                "id_token": id_token,
            }))
            .into_response()
        }
        Some(CIBA_GRANT) => {
            let granted = form_value(&form, "auth_req_id")
                .filter(|id| !id.is_empty())
                .ok_or(GrantError::Unknown)
                .and_then(|id| state.legacy.ciba.grant(id));
            let subscriber = match granted {
                Ok(subscriber) => subscriber,
                Err(GrantError::Unknown) => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "The auth_req_id is unknown or was used",
                    )
                }
                Err(GrantError::Expired) => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "expired_token",
                        "The auth_req_id has expired",
                    )
                }
            };
            let scope = subscriber.scope.as_str();
            let token = state.legacy.ciba.issue_token(subscriber, lifetime);
            Json(json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": lifetime.as_secs(),
                "scope": scope,
            }))
            .into_response()
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials, authorization_code or urn:openid:params:grant-type:ciba",
        ),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct AuthQuery {
    client_id: Option<String>,
    response_type: Option<String>,
    state: Option<String>,
    redirect_uri: Option<String>,
    login_hint: Option<String>,
    dev_print: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// The longest `nonce` accepted.
const MAX_NONCE_LEN: usize = 512;

/// The code's binding from the authorization request: `None` when it is malformed (a challenge
/// that is not 43 base64url characters, a method other than `S256` — `plain`, or none, which
/// means `plain` — or a nonce over 512 characters). Without `pkce` support the challenge
/// is an unknown parameter, ignored.
fn code_binding(q: &AuthQuery, pkce: bool) -> Option<CodeBinding> {
    let code_challenge = match q.code_challenge.as_deref().filter(|_| pkce) {
        None => None,
        Some(challenge) => {
            let well_formed = challenge.len() == 43
                && challenge
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
            if !well_formed || q.code_challenge_method.as_deref() != Some("S256") {
                return None;
            }
            Some(challenge.to_owned())
        }
    };
    // An empty parameter is an absent one.
    let nonce = match q.nonce.as_deref().filter(|n| !n.is_empty()) {
        None => None,
        Some(n) if n.len() > MAX_NONCE_LEN => return None,
        Some(n) => Some(n.to_owned()),
    };
    Some(CodeBinding {
        code_challenge,
        nonce,
    })
}

/// `302 Found` to `location`; an invalid one is an OAuth `invalid_request`.
fn found(location: &str) -> Response {
    super::pages::found(location).unwrap_or_else(|| {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri is not valid",
        )
    })
}

/// `redirect` with `pairs` and `state` (when given) appended to its query.
fn redirect_to(mut redirect: url::Url, pairs: &[(&str, &str)], state: Option<&str>) -> Response {
    {
        let mut query = redirect.query_pairs_mut();
        for (k, v) in pairs {
            query.append_pair(k, v);
        }
        if let Some(s) = state {
            query.append_pair("state", s);
        }
    }
    found(redirect.as_str())
}

/// An error: JSON when `dev_print`, else a redirect with `error=…&state=…`.
fn auth_error(
    redirect: url::Url,
    dev_print: bool,
    status: StatusCode,
    error: &str,
    state: Option<&str>,
) -> Response {
    if dev_print {
        return oauth_error(status, error, "The authorization was not granted");
    }
    redirect_to(redirect, &[("error", error)], state)
}

/// `GET /oauth2/auth`: the operator's authorization endpoint (Number Verify).
pub(crate) async fn authorize(
    State(state): State<Arc<AppState>>,
    Query(q): Query<AuthQuery>,
) -> Response {
    let client_ok = q
        .client_id
        .as_deref()
        .is_some_and(|id| ct_eq(id, &state.config.client_id));
    if !client_ok {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "Unknown client_id",
        );
    }
    let target = q
        .redirect_uri
        .as_deref()
        .unwrap_or(&state.config.number_verify_redirect_url);
    let redirect = match url::Url::parse(target) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "redirect_uri must be an absolute http(s) URL",
            )
        }
    };
    let dev_print = q.dev_print.as_deref() == Some("true");
    let st = q.state.as_deref();
    if q.response_type.as_deref() != Some("code") {
        return auth_error(
            redirect,
            dev_print,
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            st,
        );
    }
    let hint = match q.login_hint.as_deref() {
        None | Some("") => None,
        Some(h) => match h.strip_prefix("tel:").filter(|p| util::is_e164(p)) {
            Some(phone) => Some(phone),
            None => {
                return auth_error(
                    redirect,
                    dev_print,
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    st,
                )
            }
        },
    };
    let Some(binding) = code_binding(&q, state.config.number_verify_pkce) else {
        return auth_error(
            redirect,
            dev_print,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            st,
        );
    };
    if fixtures::fixture(hint).denies {
        return auth_error(
            redirect,
            dev_print,
            StatusCode::FORBIDDEN,
            "access_denied",
            st,
        );
    }
    let device = device_for_hint(hint);
    let code = state
        .legacy
        .mint_code(&device, state.config.legacy_code_lifetime, binding);
    if dev_print {
        return Json(json!({ "code": code })).into_response();
    }
    redirect_to(redirect, &[("code", &code)], st)
}
