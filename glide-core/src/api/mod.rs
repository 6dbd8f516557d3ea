//! Glide API client: being written.
