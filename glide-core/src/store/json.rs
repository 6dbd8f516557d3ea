//! The one JSON encoding of every record glide-core keeps in a [`Store`](super::Store): a value
//! that cannot be encoded is our bug (500, opaque), a stored value that cannot be decoded is the
//! store's (`StoreError::Decode`).

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::StoreError;
use crate::error::Error;

/// `value` as stored JSON.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|e| Error::Internal(format!("record encoding failed: {e}")))
}

/// A stored JSON value.
pub(crate) fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::Store(StoreError::Decode(Box::new(e))))
}
