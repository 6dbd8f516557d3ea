//! The fixture numbers: how the simulated carrier treats each phone number.
//!
//! | number | behaviour |
//! |---|---|
//! | `+15555550100` | verifies; sim_swap and device_swap checked, `RISK_LEVEL_LOW`, age band `older than query window` |
//! | `+15555550101` | verifies; SIM changed `0-4 hours` ago → `RISK_LEVEL_HIGH` |
//! | `+15555550102` | verifies; device changed `1-2 days` ago → `RISK_LEVEL_HIGH` on device_swap |
//! | `+15555550103` | verifies; SIM changed `14-30 days` → `RISK_LEVEL_MEDIUM` |
//! | `+15555550104` | sim_swap `checked:false`, `reason:"carrier_not_supported"`; no device_swap |
//! | `+15555550105` | the device's own number is `+15555550199`: VerifyPhoneNumber answers `verified:false` |
//! | `+15555550106` | prepare answers 422 `CARRIER_NOT_ELIGIBLE`; the legacy start answers with the requested fallback channel |
//! | `+15555550107` | the carrier answers slowly: every carrier step takes `slow_carrier_delay` (3 s) |
//! | `+15555550108` | the user denies on the device: the flow ends `failed` |
//! | `+15555550109` | like `+15555550106` (not eligible; codes instead), and its SIM changed 2 hours ago |
//!
//! Any other valid number behaves like `+15555550100`.
//!
//! The legacy SIM Swap API answers from the same table:
//! `+15555550101` and `+15555550109` swapped 2 hours ago, `+15555550103` 20 days ago,
//! `+15555550104` carrier not supported, every other number never swapped (its SIM active since
//! [`SIM_ACTIVATION_DATE`]).
//!
//! So does the Device Swap API: `+15555550102`'s device changed 36 hours ago (`1-2 days`),
//! `+15555550104` carrier not supported, every other number never changed device (in the same
//! device since [`DEVICE_FIRST_SEEN_DATE`]).

use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::util;

/// The number a device answers with when nothing says otherwise (GetPhoneNumber).
pub const DEFAULT_DEVICE_NUMBER: &str = "+15555550100";

/// The fictional carrier named in signals (`carrier_name`), never in error messages.
pub const CARRIER_NAME: &str = "Sandbox Mobile";

/// The operator id of every number (legacy `operatorId`, Telco Finder `operator_Id`, the Number
/// Verify token's `ext.operator`).
pub const OPERATOR_ID: &str = "sandbox-mobile";

/// The network id Telco Finder resolves every number to (MCC 001, MNC 01: the ITU test network).
pub const NETWORK_ID: &str = "00101";

/// One swap signal as configured for a fixture.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SignalSpec {
    Checked {
        risk: &'static str,
        age_band: &'static str,
    },
    NotChecked {
        reason: &'static str,
    },
}

const LOW: SignalSpec = SignalSpec::Checked {
    risk: "RISK_LEVEL_LOW",
    age_band: "older than query window",
};

/// When a number's SIM was activated, for the numbers whose SIM never changed (what
/// `retrieve-date` answers for them).
pub const SIM_ACTIVATION_DATE: &str = "2019-06-03T09:30:00Z";

/// Since when a number whose device never changed has been in that device (what the Device Swap
/// API's `retrieve-date` answers for it).
pub const DEVICE_FIRST_SEEN_DATE: &str = "2021-03-14T10:00:00Z";

/// What the SIM Swap (or Device Swap) API knows about a number's SIM (or device).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SwapChange {
    /// Never changed since [`SIM_ACTIVATION_DATE`] (device: [`DEVICE_FIRST_SEEN_DATE`]).
    Never,
    /// Changed this many hours ago.
    HoursAgo(u64),
    /// The carrier gives no signal.
    NotSupported,
}

const TWO_HOURS_AGO: SwapChange = SwapChange::HoursAgo(2);

/// How the simulated carrier treats one number.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fixture {
    /// The device's own number, when it differs from the one asked about.
    pub device_number: Option<&'static str>,
    pub sim_swap: SignalSpec,
    /// The SIM Swap API's view, consistent with `sim_swap`.
    pub sim_change: SwapChange,
    pub device_swap: Option<SignalSpec>,
    /// The Device Swap API's view, consistent with `device_swap` (`None` there: not supported).
    pub device_change: SwapChange,
    pub eligible: bool,
    pub slow: bool,
    pub denies: bool,
}

const HIGH_0_4_HOURS: SignalSpec = SignalSpec::Checked {
    risk: "RISK_LEVEL_HIGH",
    age_band: "0-4 hours",
};

const DEFAULT: Fixture = Fixture {
    device_number: None,
    sim_swap: LOW,
    sim_change: SwapChange::Never,
    device_swap: Some(LOW),
    device_change: SwapChange::Never,
    eligible: true,
    slow: false,
    denies: false,
};

/// The fixture for `number` (the default one for numbers not in the table).
pub(crate) fn fixture(number: Option<&str>) -> Fixture {
    match number.unwrap_or(DEFAULT_DEVICE_NUMBER) {
        "+15555550101" => Fixture {
            sim_swap: HIGH_0_4_HOURS,
            sim_change: TWO_HOURS_AGO,
            ..DEFAULT
        },
        "+15555550102" => Fixture {
            device_swap: Some(SignalSpec::Checked {
                risk: "RISK_LEVEL_HIGH",
                age_band: "1-2 days",
            }),
            device_change: SwapChange::HoursAgo(36),
            ..DEFAULT
        },
        "+15555550103" => Fixture {
            sim_swap: SignalSpec::Checked {
                risk: "RISK_LEVEL_MEDIUM",
                age_band: "14-30 days",
            },
            sim_change: SwapChange::HoursAgo(20 * 24),
            ..DEFAULT
        },
        "+15555550104" => Fixture {
            sim_swap: SignalSpec::NotChecked {
                reason: "carrier_not_supported",
            },
            sim_change: SwapChange::NotSupported,
            device_swap: None,
            device_change: SwapChange::NotSupported,
            ..DEFAULT
        },
        "+15555550105" => Fixture {
            device_number: Some("+15555550199"),
            ..DEFAULT
        },
        "+15555550106" => Fixture {
            eligible: false,
            ..DEFAULT
        },
        "+15555550107" => Fixture {
            slow: true,
            ..DEFAULT
        },
        "+15555550108" => Fixture {
            denies: true,
            ..DEFAULT
        },
        "+15555550109" => Fixture {
            eligible: false,
            sim_swap: HIGH_0_4_HOURS,
            sim_change: TWO_HOURS_AGO,
            ..DEFAULT
        },
        _ => DEFAULT,
    }
}

/// The number the device answers with for a session prepared with `prepared`.
pub(crate) fn device_number(prepared: Option<&str>) -> String {
    match prepared {
        Some(p) => fixture(Some(p)).device_number.unwrap_or(p).to_owned(),
        None => DEFAULT_DEVICE_NUMBER.to_owned(),
    }
}

/// A signal object as Glide sends it.
pub(crate) fn signal_json(spec: SignalSpec, checked_at: OffsetDateTime) -> Value {
    match spec {
        SignalSpec::Checked { risk, age_band } => json!({
            "checked": true,
            "risk_level": risk,
            "age_band": age_band,
            "carrier_name": CARRIER_NAME,
            "checked_at": util::rfc3339(checked_at),
        }),
        SignalSpec::NotChecked { reason } => json!({
            "checked": false,
            "reason": reason,
            "carrier_name": CARRIER_NAME,
            "checked_at": util::rfc3339(checked_at),
        }),
    }
}

/// `phone_number_details` for the numbers we can describe (`+1` only), else `None`.
pub(crate) fn phone_details(number: &str) -> Option<Value> {
    let national = number.strip_prefix("+1")?;
    Some(json!({"country_code": 1, "national_number": national, "region_code": "US"}))
}
