#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod api;
pub mod binding;
pub mod clock;
pub(crate) mod cookie;
pub mod endpoint;
pub mod error;
pub mod events;
pub(crate) mod flow;
pub mod legacy;
pub mod phone;
pub mod policy;
pub mod ratelimit;
pub mod secret;
pub mod session;
pub mod store;
pub mod types;

pub use error::Error;
pub use phone::PhoneNumber;
pub use session::VerifiedPhone;
pub use types::{RiskLevel, Strategy, SwapInfo, UseCase};
