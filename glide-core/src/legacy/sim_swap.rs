//! The SIM swap API (CAMARA `sim-swap`, unversioned paths), called with the subscriber's CIBA
//! token (scope `sim-swap`), and [`SimSwap::signal`], which turns its answer into a
//! [`SwapInfo`] like Magical Auth's.

use std::time::Duration;

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::ciba::SIM_SWAP_SCOPE;
use super::risk::{age_band, SimSwapRiskMapping};
use super::types::{SimSwapCheckResponse, SimSwapDateResponse};
use super::LegacyClient;
use crate::error::Error;
use crate::types::{RiskLevel, SwapInfo};
use crate::PhoneNumber;

/// The `reason` of a signal the carrier cannot give.
pub const REASON_CARRIER_NOT_SUPPORTED: &str = "carrier_not_supported";

/// The error codes meaning "this number's carrier gives no SIM swap signal": CAMARA's
/// `SERVICE_NOT_APPLICABLE` and Glide's `CARRIER_NOT_ELIGIBLE`, both with status 422.
const NOT_SUPPORTED_CODES: [&str; 2] = ["SERVICE_NOT_APPLICABLE", "CARRIER_NOT_ELIGIBLE"];

/// SIM swap calls; from [`LegacyClient::sim_swap`].
///
/// Every call first obtains a token for the number through CIBA
/// (`POST /oauth2/backchannel-authentication` with `scope=sim-swap&login_hint=tel:+…`, then the
/// CIBA grant at `POST /oauth2/token`); the token is cached per number for its lifetime and
/// replaced once when Glide answers 401.
#[derive(Debug, Clone)]
pub struct SimSwap {
    client: LegacyClient,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    phone_number: &'a PhoneNumber,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_age: Option<u32>,
}

impl SimSwap {
    pub(crate) fn new(client: LegacyClient) -> Self {
        Self { client }
    }

    /// `POST /sim-swap/check` `{phoneNumber, maxAge?}`: whether the SIM changed within
    /// `max_age_hours` (1–2400; Glide's default 240 when `None`).
    pub async fn check(
        &self,
        phone_number: &PhoneNumber,
        max_age_hours: Option<u32>,
    ) -> Result<SimSwapCheckResponse, Error> {
        if let Some(hours) = max_age_hours {
            if !(1..=2400).contains(&hours) {
                return Err(Error::validation(
                    "max_age",
                    "max_age must be 1 to 2400 hours",
                ));
            }
        }
        let body = Body {
            phone_number,
            max_age: max_age_hours,
        };
        self.client
            .ciba_post(SIM_SWAP_SCOPE, phone_number, &["sim-swap", "check"], &body)
            .await
    }

    /// `POST /sim-swap/retrieve-date` `{phoneNumber}`: when the SIM last changed (its
    /// activation date when it never did).
    pub async fn retrieve_date(
        &self,
        phone_number: &PhoneNumber,
    ) -> Result<SimSwapDateResponse, Error> {
        let body = Body {
            phone_number,
            max_age: None,
        };
        self.client
            .ciba_post(
                SIM_SWAP_SCOPE,
                phone_number,
                &["sim-swap", "retrieve-date"],
                &body,
            )
            .await
    }

    /// The SIM swap signal of `phone_number`: CIBA, then `retrieve-date`, the age of the last
    /// change mapped to a risk level by `mapping`, in the shape of Magical Auth's `sim_swap`:
    ///
    /// - a date: `checked: true`, `risk_level` from `mapping`, `age_band`, `checked_at`;
    /// - no date but a monitored period of N days: no change within N days, so the risk of an
    ///   N-day-old change, age band `older than query window`;
    /// - no date and no period: `checked: true`, `RISK_LEVEL_UNKNOWN`;
    /// - the carrier gives no signal (Glide answers 422 `SERVICE_NOT_APPLICABLE` or
    ///   `CARRIER_NOT_ELIGIBLE`): `checked: false`, `reason: "carrier_not_supported"`.
    ///
    /// Every other failure (Glide 4xx/5xx, timeout, a refused token) is an `Err`: the caller
    /// decides whether to fail closed or open.
    ///
    /// ```no_run
    /// use glide_core::legacy::{LegacyClient, SimSwapRiskMapping};
    /// use glide_core::{PhoneNumber, RiskLevel};
    /// # async fn demo() -> Result<(), glide_core::Error> {
    /// let legacy = LegacyClient::from_env()?;
    /// let phone = PhoneNumber::parse("+15555550101").expect("valid");
    /// let signal = legacy.sim_swap().signal(&phone, &SimSwapRiskMapping::default()).await?;
    /// if signal.risk_level == Some(RiskLevel::High) {
    ///     println!("SIM changed {}", signal.age_band.as_deref().unwrap_or("recently"));
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn signal(
        &self,
        phone_number: &PhoneNumber,
        mapping: &SimSwapRiskMapping,
    ) -> Result<SwapInfo, Error> {
        let answer = self.retrieve_date(phone_number).await;
        let now = self.client.inner.clock.now();
        let checked_at = now.format(&Rfc3339).ok();
        let date = match answer {
            Ok(date) => date,
            Err(Error::Api(api))
                if api.status == 422 && NOT_SUPPORTED_CODES.contains(&api.code.as_str()) =>
            {
                tracing::debug!(
                    phone = %phone_number.masked(),
                    "glide legacy: no SIM swap signal from this carrier"
                );
                return Ok(SwapInfo {
                    checked: false,
                    reason: Some(REASON_CARRIER_NOT_SUPPORTED.to_owned()),
                    checked_at,
                    ..SwapInfo::default()
                });
            }
            Err(other) => return Err(other),
        };
        let (risk_level, age_band) = match (date.latest_sim_change, date.monitored_period) {
            (Some(changed), _) => {
                let age = age_since(changed, now);
                (mapping.risk_for(age), Some(age_band(age).to_owned()))
            }
            (None, Some(days)) => {
                let age = Duration::from_secs(u64::from(days) * 86_400);
                (
                    mapping.risk_for(age),
                    Some("older than query window".to_owned()),
                )
            }
            (None, None) => (RiskLevel::Unknown, None),
        };
        tracing::debug!(
            phone = %phone_number.masked(),
            ?risk_level,
            "glide legacy: SIM swap signal"
        );
        Ok(SwapInfo {
            checked: true,
            risk_level: Some(risk_level),
            age_band,
            carrier_name: None,
            checked_at,
            reason: None,
        })
    }
}

/// How long before `now` the change at `changed` happened (zero when it lies in the future).
fn age_since(changed: OffsetDateTime, now: OffsetDateTime) -> Duration {
    let secs = (now - changed).whole_seconds();
    Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}
