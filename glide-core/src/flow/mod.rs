//! Flow engine: being written.
