//! KYC Match (`POST /kyc-match/match`), called with the subscriber's CIBA token (scope
//! `kyc-match`): compares what the caller knows about the subscriber with the operator's record
//! ([`profile`]).
//!
//! Every attribute comes back as `<attr>Match`: `"true"` / `"false"` when it was sent and the
//! record has it, `"not_available"` otherwise (Glide's Python SDK requires every field in the
//! answer). Glide's SDK spells `givenName` as `giventName`; both are read and both answered.
//! Strings compare trimmed and case-insensitively.

use axum::Json;
use serde_json::{Map, Value};

use super::ciba::CibaAuthed;
use super::extract::JsonBody;
use crate::error::ApiError;
use crate::legacy::ciba::CibaScope;

/// The attributes of the KYC request, in the order of the answer.
const ATTRIBUTES: [&str; 19] = [
    "idDocument",
    "name",
    "givenName",
    "familyName",
    "nameKanaHankaku",
    "nameKanaZenkaku",
    "middleNames",
    "familyNameAtBirth",
    "address",
    "streetName",
    "streetNumber",
    "postalCode",
    "region",
    "locality",
    "country",
    "houseNumberExtension",
    "birthdate",
    "email",
    "gender",
];

/// The operator's record of the subscriber `phone` (the same fictional person for every number;
/// the e-mail is `user-DDDD@example.com` with the number's last four digits).
pub(crate) fn profile(phone: &str, attribute: &str) -> Option<String> {
    let last4 = phone.get(phone.len().saturating_sub(4)..).unwrap_or("0000");
    let value = match attribute {
        "idDocument" => "66666666Q",
        "name" => "Alex Sandbox Rivera",
        "givenName" => "Alex",
        "familyName" => "Rivera",
        "middleNames" => "Sandbox",
        "familyNameAtBirth" => "Rivera",
        "address" => "Main Street 1 2B, 12345 Springfield",
        "streetName" => "Main Street",
        "streetNumber" => "1",
        "postalCode" => "12345",
        "region" => "Illinois",
        "locality" => "Springfield",
        "country" => "US",
        "houseNumberExtension" => "2B",
        "birthdate" => "1990-01-01",
        "email" => return Some(format!("user-{last4}@example.com")),
        "gender" => "OTHER",
        _ => return None,
    };
    Some(value.to_owned())
}

/// A request value as text (strings and numbers; `null` is absent).
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `POST /kyc-match/match` `{phoneNumber?, idDocument?, name?, …}` → `{<attr>Match, …}`.
pub(crate) async fn kyc_match(
    auth: CibaAuthed,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let body_phone = body.get("phoneNumber").and_then(Value::as_str);
    let phone = auth.number_for(CibaScope::KycMatch, body_phone)?;
    let mut answer = Map::new();
    for attribute in ATTRIBUTES {
        let sent = match attribute {
            "givenName" => text(body.get("givenName")).or_else(|| text(body.get("giventName"))),
            other => text(body.get(other)),
        };
        let result = match (sent, profile(&phone, attribute)) {
            (Some(sent), Some(known)) if sent.eq_ignore_ascii_case(&known) => "true",
            (Some(_), Some(_)) => "false",
            _ => "not_available",
        };
        answer.insert(format!("{attribute}Match"), Value::from(result));
    }
    if let Some(given) = answer.get("givenNameMatch").cloned() {
        answer.insert("giventNameMatch".to_owned(), given);
    }
    Ok(Json(Value::Object(answer)))
}
