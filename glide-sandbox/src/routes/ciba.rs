//! CIBA: `POST /oauth2/backchannel-authentication` (alias `POST /bc-authorize`), and the
//! [`CibaAuthed`] extractor of the APIs called with its tokens (SIM swap, Device Swap, KYC
//! match). The grant
//! itself is a grant type of `POST /oauth2/token` (`oauth_legacy`).

use std::sync::Arc;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::token::{authenticated_form, form_value, invalid_client, oauth_error};
use crate::error::ApiError;
use crate::fixtures::DEFAULT_DEVICE_NUMBER;
use crate::legacy::ciba::{CibaScope, Subscriber, AUTH_REQ_LIFETIME, POLL_INTERVAL_SECS};
use crate::state::AppState;
use crate::util;

/// The subscriber a `login_hint` names: `tel:+<E.164>`, or `ipport:<ip>[:port]` (the sandbox
/// device behind any address is `+15555550100`).
fn subscriber_number(hint: &str) -> Option<String> {
    if let Some(phone) = hint.strip_prefix("tel:") {
        return util::is_e164(phone).then(|| phone.to_owned());
    }
    let address = hint.strip_prefix("ipport:")?;
    util::is_ipport(address).then(|| DEFAULT_DEVICE_NUMBER.to_owned())
}

/// `POST /oauth2/backchannel-authentication`: HTTP Basic client authentication, form
/// `scope=sim-swap|device-swap|kyc-match&login_hint=tel:+…` → `{auth_req_id, expires_in, interval}`.
pub(crate) async fn backchannel_authentication(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(form) = authenticated_form(&state, &headers, &body) else {
        return invalid_client();
    };
    let Some(scope) = form_value(&form, "scope").and_then(CibaScope::find) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "scope must include sim-swap, device-swap or kyc-match",
        );
    };
    let phone = match form_value(&form, "login_hint") {
        None | Some("") => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "login_hint is required (tel:+<E.164> or ipport:<address>)",
            )
        }
        Some(hint) => match subscriber_number(hint) {
            Some(phone) => phone,
            None => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "unknown_user_id",
                    "login_hint must be tel:+<E.164> or ipport:<address>",
                )
            }
        },
    };
    let auth_req_id = state.legacy.ciba.start(Subscriber { phone, scope });
    Json(json!({
        "auth_req_id": auth_req_id,
        "expires_in": AUTH_REQ_LIFETIME.as_secs(),
        "interval": POLL_INTERVAL_SECS,
    }))
    .into_response()
}

/// A request carrying a valid CIBA token: whom it is about. Anything else (no token, a
/// client-credentials token, an expired one) is Glide's 401 `UNAUTHORIZED`.
#[derive(Debug)]
pub(crate) struct CibaAuthed(pub Subscriber);

impl FromRequestParts<Arc<AppState>> for CibaAuthed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = super::extract::bearer_token(&parts.headers)?;
        state
            .legacy
            .ciba
            .token(token)
            .map(Self)
            .ok_or_else(|| ApiError::unauthorized("Invalid or expired access token"))
    }
}

impl CibaAuthed {
    /// The subscriber's number, when the token is for `scope` and `body_phone` (optional, as
    /// Glide's SDK always sends it) names the same number. A token for another scope is 403
    /// `PERMISSION_DENIED`; another number is 403 `INVALID_TOKEN_CONTEXT`; a malformed one is
    /// 400 `INVALID_ARGUMENT`.
    pub(crate) fn number_for(
        &self,
        scope: CibaScope,
        body_phone: Option<&str>,
    ) -> Result<String, ApiError> {
        let subscriber = &self.0;
        if subscriber.scope != scope {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "PERMISSION_DENIED",
                format!("The access token is not valid for {}", scope.as_str()),
            ));
        }
        match body_phone {
            None => Ok(subscriber.phone.clone()),
            Some(p) if !util::is_e164(p) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                "phoneNumber must be an E.164 number such as +15555550100",
            )),
            Some(p) if util::ct_eq(p, &subscriber.phone) => Ok(subscriber.phone.clone()),
            Some(_) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "INVALID_TOKEN_CONTEXT",
                "phoneNumber is not consistent with access token",
            )),
        }
    }
}
