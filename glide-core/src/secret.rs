//! TODO(secret): being written.
