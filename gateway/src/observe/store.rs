//! [`MeteredStore`]: the shared store (architecture, "State") wrapped so that
//! every operation's latency and every failure is measured
//! (`sso_store_operation_duration_seconds{operation}`,
//! `sso_store_errors_total{operation, kind}`), whichever backend serves it.
//! Installed around the real store in `server::build`; the label values are
//! the fixed operation names and error kinds, never a key.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sso_store::{BatchWrite, Store, StoreError};

use super::prometheus::{STORE_DURATION, STORE_ERRORS};

/// A [`Store`] measuring every call of the store it wraps.
pub struct MeteredStore {
    inner: Arc<dyn Store>,
}

/// Every operation of the [`Store`] trait, as labelled.
const OPERATIONS: [&str; 14] = [
    "put",
    "get",
    "delete",
    "take",
    "insert_new",
    "touch",
    "set_add",
    "set_members",
    "ping",
    "write_batch",
    "incr",
    "get_many",
    "hincr",
    "hgetall",
];

impl MeteredStore {
    /// Wraps `inner`. The error counters of an unreachable or slow store
    /// are created at zero, so that a rate is defined before the first
    /// failure.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        for operation in OPERATIONS {
            for kind in ["unavailable", "timeout"] {
                ::metrics::counter!(STORE_ERRORS, "operation" => operation, "kind" => kind)
                    .increment(0);
            }
        }
        Self { inner }
    }
}

/// The `kind` label of a store error.
pub fn error_kind(error: &StoreError) -> &'static str {
    match error {
        StoreError::Unavailable(_) => "unavailable",
        StoreError::Timeout { .. } => "timeout",
        StoreError::Protocol(_) => "protocol",
        StoreError::WrongType { .. } => "wrong_type",
        StoreError::Serialization(_) => "serialization",
        StoreError::InvalidConfig(_) => "config",
        StoreError::ReplicationTimeout { .. } => "replication_timeout",
    }
}

async fn measured<T>(
    operation: &'static str,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let result = call.await;
    ::metrics::histogram!(STORE_DURATION, "operation" => operation)
        .record(started.elapsed().as_secs_f64());
    if let Err(error) = &result {
        ::metrics::counter!(STORE_ERRORS, "operation" => operation, "kind" => error_kind(error))
            .increment(1);
    }
    result
}

#[async_trait::async_trait]
impl Store for MeteredStore {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        measured("put", self.inner.put(key, value, ttl)).await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        measured("get", self.inner.get(key)).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        measured("delete", self.inner.delete(key)).await
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        measured("take", self.inner.take(key)).await
    }

    async fn insert_new(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError> {
        measured("insert_new", self.inner.insert_new(key, value, ttl)).await
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        measured("touch", self.inner.touch(key, ttl)).await
    }

    async fn set_add(&self, key: &str, member: &str, ttl: Duration) -> Result<(), StoreError> {
        measured("set_add", self.inner.set_add(key, member, ttl)).await
    }

    async fn set_members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        measured("set_members", self.inner.set_members(key)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        measured("ping", self.inner.ping()).await
    }

    async fn write_batch(&self, writes: &[BatchWrite], ttl: Duration) -> Result<(), StoreError> {
        measured("write_batch", self.inner.write_batch(writes, ttl)).await
    }

    async fn incr(&self, key: &str, ttl: Duration) -> Result<u64, StoreError> {
        measured("incr", self.inner.incr(key, ttl)).await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        measured("get_many", self.inner.get_many(keys)).await
    }

    async fn hincr(
        &self,
        key: &str,
        increments: &[(String, i64)],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        measured("hincr", self.inner.hincr(key, increments, ttl)).await
    }

    async fn hgetall(&self, key: &str) -> Result<Vec<(String, i64)>, StoreError> {
        measured("hgetall", self.inner.hgetall(key)).await
    }
}
