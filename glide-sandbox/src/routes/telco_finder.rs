//! Telco Finder (`/telco-finder/v1/*`), called with a client-credentials token (scope
//! `telco-finder`): which operator serves a number or an address. Every valid number and address
//! is served by the sandbox operator ([`fixtures::OPERATOR_ID`], network
//! [`fixtures::NETWORK_ID`]).

use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{Authed, BaseUrl, JsonBody};
use crate::error::ApiError;
use crate::fixtures;
use crate::util;

fn invalid_argument(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResolveRequest {
    phone_number: Option<String>,
}

/// `POST /telco-finder/v1/resolve-network-id` `{phoneNumber}` → `{networkId}`.
pub(crate) async fn resolve_network_id(
    _auth: Authed,
    JsonBody(req): JsonBody<ResolveRequest>,
) -> Result<Json<Value>, ApiError> {
    req.phone_number
        .filter(|p| util::is_e164(p))
        .ok_or_else(|| {
            invalid_argument("phoneNumber must be an E.164 number such as +15555550100")
        })?;
    Ok(Json(json!({ "networkId": fixtures::NETWORK_ID })))
}

#[derive(Debug, Deserialize)]
pub(crate) struct SearchRequest {
    resource: Option<String>,
}

/// Whether `resource` is `tel:+<E.164>` or `ipport:<address>[:port]`.
fn valid_resource(resource: &str) -> bool {
    if let Some(phone) = resource.strip_prefix("tel:") {
        return util::is_e164(phone);
    }
    resource
        .strip_prefix("ipport:")
        .is_some_and(util::is_ipport)
}

/// `POST /telco-finder/v1/search` `{resource: "tel:+…" | "ipport:…"}` →
/// `{subject, properties: {operator_Id}, links: [{rel, href}]}` (WebFinger-like; Glide spells
/// the key `operator_Id`).
pub(crate) async fn search(
    _auth: Authed,
    BaseUrl(base): BaseUrl,
    JsonBody(req): JsonBody<SearchRequest>,
) -> Result<Json<Value>, ApiError> {
    let resource = req
        .resource
        .filter(|r| valid_resource(r))
        .ok_or_else(|| invalid_argument("resource must be tel:+<E.164> or ipport:<address>"))?;
    Ok(Json(json!({
        "subject": resource,
        "properties": { "operator_Id": fixtures::OPERATOR_ID },
        "links": [
            {"rel": "authorization_endpoint", "href": format!("{base}/oauth2/auth")},
            {"rel": "token_endpoint", "href": format!("{base}/oauth2/token")},
            {"rel": "backchannel_authentication_endpoint", "href": format!("{base}/oauth2/backchannel-authentication")},
            {"rel": "api_root", "href": base},
        ],
    })))
}
