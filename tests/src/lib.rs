//! Shared test harness of glide-rs.

pub mod browser;
pub mod harness;
pub mod redis_server;
pub mod scenarios;
