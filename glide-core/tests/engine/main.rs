//! glide-core's engine tests: the engine driven directly (no web framework) against the real
//! sandbox over 127.0.0.1, one module per subject, in one test binary (one link per build, which
//! is most of a mutation run's time per mutant). The shadow policy's log capture stays alone in
//! `engine_policy_log.rs`, so that no other test's thread races `tracing`'s callsite registration.

#[path = "../endpoint_support/mod.rs"]
mod endpoint_support;

mod chain;
mod flows;
mod hook;
mod legacy;
mod limits;
mod policy;
mod prop;
mod surface;
