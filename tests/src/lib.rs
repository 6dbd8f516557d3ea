//! Shared test harness of glide-rs.

pub mod redis_server;
