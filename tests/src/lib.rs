//! Shared test harness of glide-rs.
