//! TODO(binding): being written.
