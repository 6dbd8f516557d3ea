//! Wire types of Glide's Magical Auth API, field names exactly as Glide spells them.
//!
//! Unknown response fields are ignored; optional request fields are left out of the JSON when
//! unset. Types that can carry a phone number or a secret have a `Debug` that masks or redacts
//! them.

pub(crate) mod complete;
mod eligibility;
mod prepare;
pub(crate) mod process;
mod session;
mod status;
mod strategy_data;

pub use complete::CompleteRequest;
pub use eligibility::{EligibilityOption, EligibilityRequest, EligibilityResponse, Requirements};
pub use prepare::{
    Challenge, ClientInfo, ConsentData, LinkType, Plmn, PrepareOptions, PrepareRequest,
    PrepareResponse,
};
pub use process::{Pending, PhoneNumberDetails, PhoneResult, ProcessOutcome, ProcessRequest};
pub use session::GlideSession;
pub use status::{DeviceInfo, SessionStatus, StatusResponse};
pub use strategy_data::{DesktopData, DesktopQrData, LinkData, Ts43Data, Ts43Request};
