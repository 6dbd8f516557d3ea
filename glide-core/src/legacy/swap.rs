//! The two swap APIs, SIM Swap (CAMARA `sim-swap`, unversioned paths) and Device Swap (CAMARA
//! `device-swap` v1), each called with the subscriber's CIBA token of its own scope
//! (`sim-swap`, `device-swap`), and their `signal`s, which turn an answer into a [`SwapInfo`]
//! like Magical Auth's.
//!
//! Both APIs have the same shape (`check {phoneNumber, maxAge?} → {swapped}`, `retrieve-date
//! {phoneNumber} → {latest…Change, monitoredPeriod?}`); one [`SwapApi`] description (scope,
//! path, name) and one implementation serve both.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::ciba::{DEVICE_SWAP_SCOPE, SIM_SWAP_SCOPE};
use super::risk::{age_band, SimSwapRiskMapping};
use super::types::{
    DeviceSwapCheckResponse, DeviceSwapDateResponse, SimSwapCheckResponse, SimSwapDateResponse,
};
use super::LegacyClient;
use crate::error::Error;
use crate::types::{RiskLevel, SwapInfo};
use crate::PhoneNumber;

/// The `reason` of a signal the carrier cannot give.
pub const REASON_CARRIER_NOT_SUPPORTED: &str = "carrier_not_supported";

/// The error codes meaning "this number's carrier gives no swap signal": CAMARA's
/// `SERVICE_NOT_APPLICABLE` and Glide's `CARRIER_NOT_ELIGIBLE`, both with status 422.
const NOT_SUPPORTED_CODES: [&str; 2] = ["SERVICE_NOT_APPLICABLE", "CARRIER_NOT_ELIGIBLE"];

/// One of the swap APIs: its CIBA scope, its paths and its name in logs.
#[derive(Debug, Clone, Copy)]
struct SwapApi {
    scope: &'static str,
    check: &'static [&'static str],
    retrieve_date: &'static [&'static str],
    name: &'static str,
}

const SIM: SwapApi = SwapApi {
    scope: SIM_SWAP_SCOPE,
    check: &["sim-swap", "check"],
    retrieve_date: &["sim-swap", "retrieve-date"],
    name: "SIM swap",
};

const DEVICE: SwapApi = SwapApi {
    scope: DEVICE_SWAP_SCOPE,
    check: &["device-swap", "v1", "check"],
    retrieve_date: &["device-swap", "v1", "retrieve-date"],
    name: "device swap",
};

/// A `retrieve-date` answer: the last change, and the monitored period when there is no date.
trait SwapDate: DeserializeOwned {
    fn latest_change(&self) -> Option<OffsetDateTime>;
    fn monitored_period(&self) -> Option<u32>;
}

impl SwapDate for SimSwapDateResponse {
    fn latest_change(&self) -> Option<OffsetDateTime> {
        self.latest_sim_change
    }
    fn monitored_period(&self) -> Option<u32> {
        self.monitored_period
    }
}

impl SwapDate for DeviceSwapDateResponse {
    fn latest_change(&self) -> Option<OffsetDateTime> {
        self.latest_device_change
    }
    fn monitored_period(&self) -> Option<u32> {
        self.monitored_period
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    phone_number: &'a PhoneNumber,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_age: Option<u32>,
}

impl SwapApi {
    async fn check<T: DeserializeOwned>(
        self,
        client: &LegacyClient,
        phone_number: &PhoneNumber,
        max_age_hours: Option<u32>,
    ) -> Result<T, Error> {
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
        client
            .ciba_post(self.scope, phone_number, self.check, &body)
            .await
    }

    async fn retrieve_date<T: DeserializeOwned>(
        self,
        client: &LegacyClient,
        phone_number: &PhoneNumber,
    ) -> Result<T, Error> {
        let body = Body {
            phone_number,
            max_age: None,
        };
        client
            .ciba_post(self.scope, phone_number, self.retrieve_date, &body)
            .await
    }

    /// See [`SimSwap::signal`].
    async fn signal<T: SwapDate>(
        self,
        client: &LegacyClient,
        phone_number: &PhoneNumber,
        mapping: &SimSwapRiskMapping,
    ) -> Result<SwapInfo, Error> {
        let answer = self.retrieve_date::<T>(client, phone_number).await;
        let now = client.inner.clock.now();
        let checked_at = now.format(&Rfc3339).ok();
        let date = match answer {
            Ok(date) => date,
            Err(Error::Api(api))
                if api.status == 422 && NOT_SUPPORTED_CODES.contains(&api.code.as_str()) =>
            {
                tracing::debug!(
                    phone = %phone_number.masked(),
                    api = self.name,
                    "glide legacy: no signal from this carrier"
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
        let (risk_level, age_band) = match (date.latest_change(), date.monitored_period()) {
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
            api = self.name,
            ?risk_level,
            "glide legacy: swap signal"
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
        SIM.check(&self.client, phone_number, max_age_hours).await
    }

    /// `POST /sim-swap/retrieve-date` `{phoneNumber}`: when the SIM last changed (its
    /// activation date when it never did).
    pub async fn retrieve_date(
        &self,
        phone_number: &PhoneNumber,
    ) -> Result<SimSwapDateResponse, Error> {
        SIM.retrieve_date(&self.client, phone_number).await
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
        SIM.signal::<SimSwapDateResponse>(&self.client, phone_number, mapping)
            .await
    }
}

/// Device Swap calls (CAMARA `device-swap` v1: has the number moved to another device?); from
/// [`LegacyClient::device_swap`].
///
/// As [`SimSwap`], with the CIBA scope `device-swap` (a token of its own, cached per number)
/// and the paths `/device-swap/v1/check` and `/device-swap/v1/retrieve-date`.
#[derive(Debug, Clone)]
pub struct DeviceSwap {
    client: LegacyClient,
}

impl DeviceSwap {
    pub(crate) fn new(client: LegacyClient) -> Self {
        Self { client }
    }

    /// `POST /device-swap/v1/check` `{phoneNumber, maxAge?}`: whether the number's device
    /// changed within `max_age_hours` (1–2400; Glide's default 240 when `None`).
    pub async fn check(
        &self,
        phone_number: &PhoneNumber,
        max_age_hours: Option<u32>,
    ) -> Result<DeviceSwapCheckResponse, Error> {
        DEVICE
            .check(&self.client, phone_number, max_age_hours)
            .await
    }

    /// `POST /device-swap/v1/retrieve-date` `{phoneNumber}`: when the number last moved to
    /// another device.
    pub async fn retrieve_date(
        &self,
        phone_number: &PhoneNumber,
    ) -> Result<DeviceSwapDateResponse, Error> {
        DEVICE.retrieve_date(&self.client, phone_number).await
    }

    /// The device swap signal of `phone_number`, in the shape of Magical Auth's
    /// `device_swap`, read exactly as [`SimSwap::signal`] reads the SIM's (the same `mapping`
    /// type; its default: a change under 72 hours is `RISK_LEVEL_HIGH`, so a device changed
    /// `1-2 days` ago is high, as Magical Auth reports it).
    ///
    /// ```no_run
    /// use glide_core::legacy::{LegacyClient, SimSwapRiskMapping};
    /// use glide_core::{PhoneNumber, RiskLevel};
    /// # async fn demo() -> Result<(), glide_core::Error> {
    /// let legacy = LegacyClient::from_env()?;
    /// let phone = PhoneNumber::parse("+15555550102").expect("valid");
    /// let signal = legacy.device_swap().signal(&phone, &SimSwapRiskMapping::default()).await?;
    /// if signal.risk_level == Some(RiskLevel::High) {
    ///     println!("device changed {}", signal.age_band.as_deref().unwrap_or("recently"));
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn signal(
        &self,
        phone_number: &PhoneNumber,
        mapping: &SimSwapRiskMapping,
    ) -> Result<SwapInfo, Error> {
        DEVICE
            .signal::<DeviceSwapDateResponse>(&self.client, phone_number, mapping)
            .await
    }
}

/// How long before `now` the change at `changed` happened (zero when it lies in the future).
fn age_since(changed: OffsetDateTime, now: OffsetDateTime) -> Duration {
    let secs = (now - changed).whole_seconds();
    Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}
