//! The SIM swap check.

use super::types::{SimSwapCheckResponse, SimSwapDateResponse};
use super::LegacyClient;
use crate::api::transport::Auth;
use crate::error::Error;
use crate::PhoneNumber;

/// SIM swap calls; from [`LegacyClient::sim_swap`].
#[derive(Debug, Clone)]
pub struct SimSwap {
    client: LegacyClient,
}

impl SimSwap {
    pub(crate) fn new(client: LegacyClient) -> Self {
        Self { client }
    }

    /// `POST /sim-swap/check`: whether the SIM changed within `max_age_hours` (1–2400; Glide's
    /// default 240 when `None`).
    pub async fn check(
        &self,
        phone_number: &PhoneNumber,
        max_age_hours: Option<u32>,
    ) -> Result<SimSwapCheckResponse, Error> {
        let mut body = serde_json::json!({ "phoneNumber": phone_number });
        if let Some(hours) = max_age_hours {
            if !(1..=2400).contains(&hours) {
                return Err(Error::validation(
                    "max_age",
                    "max_age must be 1 to 2400 hours",
                ));
            }
            body["maxAge"] = hours.into();
        }
        self.client
            .post_json(&["sim-swap", "check"], &body, Auth::ClientCredentials)
            .await
    }

    /// `POST /sim-swap/retrieve-date`: when the SIM last changed.
    pub async fn retrieve_date(
        &self,
        phone_number: &PhoneNumber,
    ) -> Result<SimSwapDateResponse, Error> {
        self.client
            .post_json(
                &["sim-swap", "retrieve-date"],
                &serde_json::json!({ "phoneNumber": phone_number }),
                Auth::ClientCredentials,
            )
            .await
    }
}
