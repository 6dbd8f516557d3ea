#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod convert;
mod extract;
mod middleware;
mod require;
mod routes;

pub use extract::{GlideRequestExt, VerifiedPhone, VerifiedPhoneError, VerifiedWith};
pub use middleware::{GlideMiddleware, GlideMiddlewareService};
pub use require::{RequireVerifiedWrap, RequireVerifiedWrapService};
pub use routes::GlideRoutes;

/// glide-core, re-exported: the engine ([`core::endpoint::GlideAuth`]), the Glide API client,
/// stores, policy and errors.
pub use glide_core as core;
