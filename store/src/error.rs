//! [`StoreError`]: why a store operation failed, one variant per reason, so that
//! the gateway can apply the "store unreachable: fail fast with 503" rule of the
//! architecture's "High availability" section through
//! [`StoreError::is_unavailable`].
//!
//! Messages name the operation and the key *kind* only: never a value, never a
//! whole key, never a password.

use std::time::Duration;

/// Failure of a [`crate::Store`] operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot serve now: connection refused or dropped, broken pipe,
    /// TLS failure, credentials refused, or Redis loading / read-only. The caller
    /// answers 503 and the store recovers by itself.
    #[error("state store unavailable: {0}")]
    Unavailable(String),

    /// The command got no answer within the configured command timeout.
    #[error("state store command `{op}` got no answer within {after:?}")]
    Timeout {
        /// The operation (`get`, `take`, ...).
        op: &'static str,
        /// The timeout that elapsed.
        after: Duration,
    },

    /// A one-time write (`insert_new` that created its key, `take` that removed
    /// one) was applied on the primary, but fewer connected replicas than
    /// required acknowledged it within the `WAIT` timeout: a failover now could
    /// lose it. Fail-closed: the caller refuses the item (503), and the write is
    /// not undone (a consumed ticket stays consumed, a recorded assertion ID
    /// stays recorded, so a retry is refused rather than accepted twice).
    #[error(
        "state store command `{op}` on a `{key_kind}` key: {acked} of {required} replicas acknowledged it within {after:?}"
    )]
    ReplicationTimeout {
        /// The operation (`take`, `insert_new`).
        op: &'static str,
        /// The kind of the key (the part before its first `:`).
        key_kind: String,
        /// Replicas that acknowledged the write.
        acked: u32,
        /// Replicas that had to.
        required: u32,
        /// The `WAIT` timeout that elapsed.
        after: Duration,
    },

    /// The store answered something this crate did not expect.
    #[error("unexpected reply from the state store: {0}")]
    Protocol(String),

    /// The key exists but holds another type of value (a set where bytes were
    /// expected, or the reverse).
    #[error(
        "state store command `{op}` on a `{key_kind}` key: the key holds another type of value"
    )]
    WrongType {
        /// The operation (`get`, `set_add`, ...).
        op: &'static str,
        /// The kind of the key (the part before its first `:`).
        key_kind: String,
    },

    /// A JSON value could not be encoded, or stored bytes could not be decoded.
    #[error("state store JSON helper: {0}")]
    Serialization(String),

    /// The store configuration cannot work (malformed Redis URL, ...).
    #[error("invalid state store configuration: {0}")]
    InvalidConfig(String),
}

impl StoreError {
    /// True when the store is unreachable, too slow, or could not make a
    /// one-time write durable (`Unavailable`, `Timeout`, `ReplicationTimeout`):
    /// the caller answers 503 with `Retry-After` and must not treat the request's
    /// one-time item as recorded.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Unavailable(_) | Self::Timeout { .. } | Self::ReplicationTimeout { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unreachable_or_slow_stores_are_unavailable() {
        assert!(StoreError::Unavailable("connection refused".into()).is_unavailable());
        assert!(
            StoreError::Timeout {
                op: "get",
                after: Duration::from_millis(300)
            }
            .is_unavailable()
        );
        assert!(
            StoreError::ReplicationTimeout {
                op: "take",
                key_kind: "ticket".into(),
                acked: 0,
                required: 1,
                after: Duration::from_millis(100)
            }
            .is_unavailable()
        );
        assert!(!StoreError::Protocol("odd reply".into()).is_unavailable());
        assert!(
            !StoreError::WrongType {
                op: "get",
                key_kind: "session".into()
            }
            .is_unavailable()
        );
        assert!(!StoreError::Serialization("bad JSON".into()).is_unavailable());
        assert!(!StoreError::InvalidConfig("bad URL".into()).is_unavailable());
    }
}
