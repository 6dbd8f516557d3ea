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
mod random;
pub mod ratelimit;
pub mod secret;
pub mod session;
pub mod store;
mod telemetry;
pub mod types;

// What an app uses, at the root: the engine and its builder, the Glide client, `VerifiedPhone`,
// the stores, the policies and the errors.
pub use api::Glide;
pub use endpoint::{EmailOnFile, GlideAuth, GlideAuthBuilder, RoutePaths};
pub use error::Error;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use events::RedisEvents;
pub use phone::PhoneNumber;
pub use policy::RiskPolicy;
pub use ratelimit::RateLimitConfig;
pub use session::{SessionConfig, VerifiedPhone};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use store::RedisStore;
pub use store::{MemoryStore, Store};
pub use types::{RiskLevel, Strategy, SwapInfo, UseCase};
