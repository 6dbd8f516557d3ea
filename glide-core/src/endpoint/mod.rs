//! Endpoints: being written.
