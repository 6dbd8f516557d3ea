//! A store fake: [`FaultyStore`], a store (memory by default) that can be switched to fail every
//! operation.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use glide_core::store::{MemoryStore, Store, StoreError, Versioned};

/// A [`Store`] that can be switched to fail every operation (a store outage).
#[derive(Debug, Clone)]
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    failing: Arc<AtomicBool>,
}

impl Default for FaultyStore {
    fn default() -> Self {
        Self::wrapping(Arc::new(MemoryStore::default()))
    }
}

impl FaultyStore {
    /// `store`, until [`set_failing`](Self::set_failing).
    pub fn wrapping(store: Arc<dyn Store>) -> Self {
        Self {
            inner: store,
            failing: Arc::default(),
        }
    }

    /// Turns the outage on or off.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            Err(StoreError::Backend(
                "injected store outage at 10.9.8.7:6379 (secret detail)".into(),
            ))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Store for FaultyStore {
    async fn create(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.create(key, value, ttl).await
    }

    async fn load(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        self.check()?;
        self.inner.load(key).await
    }

    async fn compare_and_set(
        &self,
        key: &str,
        expected_version: u64,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.check()?;
        self.inner
            .compare_and_set(key, expected_version, value, ttl)
            .await
    }

    async fn take(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        self.check()?;
        self.inner.take(key).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.check()?;
        self.inner.delete(key).await
    }

    async fn increment(
        &self,
        key: &str,
        max: u64,
        ttl: Duration,
    ) -> Result<Option<u64>, StoreError> {
        self.check()?;
        self.inner.increment(key, max, ttl).await
    }
}
