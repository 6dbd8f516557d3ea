//! TODO(ratelimit): being written.
