//! JSON helpers over any [`Store`]: flow states, sessions and tickets are stored
//! as JSON documents (architecture, "State").
//!
//! Decoding errors report only serde's error category and position: serde's own
//! message may quote the stored value, which holds personal data.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::key_kind;
use crate::{Store, StoreError};

/// Serializes `value` as JSON and stores it under `key` with `ttl` (overwrites).
pub async fn put_json<T: Serialize>(
    store: &dyn Store,
    key: &str,
    value: &T,
    ttl: Duration,
) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(value).map_err(|err| json_error("put_json", key, &err))?;
    store.put(key, &bytes, ttl).await
}

/// Reads and decodes the JSON value under `key`; `None` when absent or expired.
pub async fn get_json<T: DeserializeOwned>(
    store: &dyn Store,
    key: &str,
) -> Result<Option<T>, StoreError> {
    store
        .get(key)
        .await?
        .map(|bytes| decode("get_json", key, &bytes))
        .transpose()
}

/// Atomically takes (reads and deletes) the JSON value under `key`, see
/// [`Store::take`]. The item is consumed even when it fails to decode.
pub async fn take_json<T: DeserializeOwned>(
    store: &dyn Store,
    key: &str,
) -> Result<Option<T>, StoreError> {
    store
        .take(key)
        .await?
        .map(|bytes| decode("take_json", key, &bytes))
        .transpose()
}

fn decode<T: DeserializeOwned>(op: &str, key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|err| json_error(op, key, &err))
}

fn json_error(op: &str, key: &str, err: &serde_json::Error) -> StoreError {
    StoreError::Serialization(format!(
        "`{op}` on a `{}` key: {:?} error at line {}, column {}",
        key_kind(key),
        err.classify(),
        err.line(),
        err.column()
    ))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::MemoryStore;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Flow {
        relay_state: String,
        attempts: u32,
    }

    const TTL: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn values_round_trip_through_json() {
        let store = MemoryStore::new();
        let flow = Flow {
            relay_state: "https://ent.example/".into(),
            attempts: 2,
        };
        put_json(&store, "flow:1", &flow, TTL).await.unwrap();
        assert_eq!(
            get_json::<Flow>(&store, "flow:1").await.unwrap(),
            Some(Flow {
                relay_state: "https://ent.example/".into(),
                attempts: 2
            })
        );
        assert_eq!(
            take_json::<Flow>(&store, "flow:1").await.unwrap(),
            Some(flow)
        );
        assert_eq!(take_json::<Flow>(&store, "flow:1").await.unwrap(), None);
        assert_eq!(get_json::<Flow>(&store, "flow:1").await.unwrap(), None);
    }

    #[tokio::test]
    async fn decoding_errors_never_quote_the_stored_value() {
        let store = MemoryStore::new();
        // Positive control: a well-formed document decodes.
        store
            .put("flow:ok", br#"{"relay_state":"ok","attempts":1}"#, TTL)
            .await
            .unwrap();
        assert!(get_json::<Flow>(&store, "flow:ok").await.unwrap().is_some());

        // The same shape with a personal value where a number is expected.
        store
            .put(
                "flow:bad",
                br#"{"relay_state":"ok","attempts":"Jeanne Martin"}"#,
                TTL,
            )
            .await
            .unwrap();
        let err = get_json::<Flow>(&store, "flow:bad").await.unwrap_err();
        assert!(matches!(err, StoreError::Serialization(_)), "{err:?}");
        let message = err.to_string();
        assert!(!message.contains("Jeanne"), "{message}");
        assert!(message.contains("`get_json` on a `flow` key"), "{message}");
    }
}
