//! Shared test harness of glide-rs.

pub mod browser;
pub mod faults;
pub mod harness;
pub mod redis_server;
pub mod scenarios;
