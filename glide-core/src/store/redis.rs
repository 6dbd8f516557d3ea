//! The Redis store.

/// A store in Redis, shared by every instance of an app.
#[derive(Debug)]
pub struct RedisStore {}
