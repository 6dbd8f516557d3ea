//! axum demo.
fn main() {}
