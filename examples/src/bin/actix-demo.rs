//! actix demo.
fn main() {}
