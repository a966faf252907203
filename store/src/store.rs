//! The [`Store`] trait: the contract every state backend honours (architecture,
//! "State"), plus the TTL and key-naming rules both implementations share.

use std::time::Duration;

use crate::StoreError;

/// Shared state with TTLs and atomic one-time operations.
///
/// Keys are plain strings such as `"session:<id>"`; by convention the part before
/// the first `:` is the key's *kind*, the only part that ever reaches logs and
/// error messages. TTLs are honoured to the millisecond: a zero TTL is treated as
/// 1 ms (the item expires at once) and TTLs longer than 100 years are shortened to
/// 100 years.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Sets a value with a TTL (overwrites any previous value, whatever its type).
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError>;

    /// Reads a value; `None` when absent or expired.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Deletes a key of any type; deleting an absent key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Atomically reads and deletes (`GETDEL`): a one-time item can be taken once
    /// only, even by two replicas racing.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Sets only if absent (`SET NX PX`): `true` when this call created it. Used
    /// for replay caches (assertion IDs): two replicas can never both get `true`.
    async fn insert_new(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError>;

    /// Refreshes the TTL of an existing key; `false` when absent.
    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError>;

    /// Adds a member to a set and (re)sets the set's TTL (`SADD` + `PEXPIRE` in
    /// one `MULTI`).
    async fn set_add(&self, key: &str, member: &str, ttl: Duration) -> Result<(), StoreError>;

    /// Members of a set, in no particular order; empty when absent.
    async fn set_members(&self, key: &str) -> Result<Vec<String>, StoreError>;

    /// Health probe (`PING`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Applies writes in order, pipelined, **not** atomically: after an error
    /// a prefix of the batch may have been applied. For bulk imports (the AAF
    /// directory) whose commit point is a later single write. Every key put
    /// or added to gets `ttl`.
    async fn write_batch(&self, writes: &[BatchWrite], ttl: Duration) -> Result<(), StoreError>;

    /// Adds one to a counter (`INCR` + `PEXPIRE` in one `MULTI`), created at 0
    /// when absent, and returns the new value. For aggregate counts only.
    async fn incr(&self, key: &str, ttl: Duration) -> Result<u64, StoreError>;

    /// Reads several values, pipelined; one entry per key, `None` when absent.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError>;

    /// Adds each `(field, by)` to a hash of integer counters (`HINCRBY` per
    /// field, then `PEXPIRE`, in one `MULTI`); fields and the hash are
    /// created at 0 when absent. An empty `increments` changes nothing.
    /// For aggregate counts only (the usage statistics' day hashes): the
    /// fields of one key live in one Cluster slot.
    async fn hincr(
        &self,
        key: &str,
        increments: &[(String, i64)],
        ttl: Duration,
    ) -> Result<(), StoreError>;

    /// Every field of a hash of integer counters (`HGETALL`), in no
    /// particular order; empty when absent.
    async fn hgetall(&self, key: &str) -> Result<Vec<(String, i64)>, StoreError>;
}

/// One write of [`Store::write_batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchWrite {
    /// Sets a value.
    Put {
        /// The key.
        key: String,
        /// The value.
        value: Vec<u8>,
    },
    /// Deletes a key of any type.
    Delete {
        /// The key.
        key: String,
    },
    /// Adds a member to a set.
    SetAdd {
        /// The set's key.
        key: String,
        /// The member.
        member: String,
    },
    /// Removes a member from a set (absent member or set: no error).
    SetRemove {
        /// The set's key.
        key: String,
        /// The member.
        member: String,
    },
}

impl BatchWrite {
    /// The key written.
    pub fn key(&self) -> &str {
        match self {
            Self::Put { key, .. }
            | Self::Delete { key }
            | Self::SetAdd { key, .. }
            | Self::SetRemove { key, .. } => key,
        }
    }
}

/// Shortest TTL a store applies.
const MIN_TTL: Duration = Duration::from_millis(1);

/// Longest TTL a store applies (100 years: no item of the gateway lives longer).
const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The TTL a store actually applies for a requested one (see [`Store`]).
pub(crate) fn effective_ttl(ttl: Duration) -> Duration {
    ttl.clamp(MIN_TTL, MAX_TTL)
}

/// The kind of a key (the part before its first `:`), the only part of a key that
/// may appear in logs and errors.
pub(crate) fn key_kind(key: &str) -> &str {
    key.split_once(':').map_or("(no kind)", |(kind, _)| kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_are_clamped_to_the_supported_range() {
        assert_eq!(effective_ttl(Duration::ZERO), MIN_TTL);
        assert_eq!(
            effective_ttl(Duration::from_millis(200)),
            Duration::from_millis(200)
        );
        assert_eq!(effective_ttl(Duration::MAX), MAX_TTL);
    }

    #[test]
    fn key_kind_never_reveals_the_rest_of_the_key() {
        assert_eq!(key_kind("session:s3cr3t"), "session");
        assert_eq!(key_kind("replay:saml:_abc"), "replay");
        assert_eq!(key_kind("s3cr3t"), "(no kind)");
    }
}
