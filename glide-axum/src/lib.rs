#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod convert;
mod extract;
mod layer;
mod require;
mod router;

pub use extract::{VerifiedPhone, VerifiedPhoneRejection, VerifiedWith};
pub use layer::{GlideLayer, GlideService, ResponseFuture};
pub use require::{RequireVerifiedLayer, RequireVerifiedService};
pub use router::glide_router;

/// glide-core, re-exported: the engine ([`core::endpoint::GlideAuth`]), the Glide client
/// ([`core::api::Glide`]), stores, policy and the rest.
pub use glide_core as core;
