//! Runs the shared behaviour suite (`tests/suite`) against both implementations:
//! `memory::*` against a fresh `MemoryStore`, `redis::*` against a `RedisStore`
//! on a fresh `redis-server` of the test harness.

// Marks the whole file as test code, so that clippy.toml's test allowances
// (unwrap, expect, panic) also cover the suite and helper functions.
#![cfg(test)]

mod suite;

use std::time::Duration;

use sso_store::testing::RedisServer;
use sso_store::{RedisConfig, RedisStore};

async fn redis_store(server: &RedisServer) -> RedisStore {
    RedisStore::connect(RedisConfig {
        url: server.url(),
        key_prefix: "sso:".to_owned(),
        connect_timeout: Duration::from_secs(5),
        command_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap()
}

macro_rules! against_both_stores {
    ($($check:ident),+ $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $check() {
                    let store = sso_store::MemoryStore::new();
                    crate::suite::$check(&store).await;
                }
            )+
        }

        mod redis {
            $(
                #[tokio::test]
                async fn $check() {
                    let server = sso_store::testing::RedisServer::start().await.unwrap();
                    let store = crate::redis_store(&server).await;
                    crate::suite::$check(&store).await;
                }
            )+
        }
    };
}

against_both_stores!(
    put_get_delete,
    ttl_expiry,
    take_once,
    insert_new_once,
    touch_refreshes_ttl,
    sets,
    wrong_types,
    ping,
    batches,
    counters,
);
