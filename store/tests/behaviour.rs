//! Runs the shared behaviour suite (`tests/suite`) against every implementation
//! and topology: `memory::*` against a fresh `MemoryStore`, `redis::*` against a
//! `RedisStore` on a fresh `redis-server` of the test harness, and the whole
//! suite once against a Sentinel-managed primary and once against a Redis
//! Cluster (one topology each, one key prefix per check).

// Marks the whole file as test code, so that clippy.toml's test allowances
// (unwrap, expect, panic) also cover the suite and helper functions.
#![cfg(test)]

mod suite;

use std::time::Duration;

use sso_store::testing::RedisServer;
use sso_store::{RedisConfig, RedisStore};

async fn redis_store(server: &RedisServer) -> RedisStore {
    connect(RedisConfig::new(server.url()), "sso:").await
}

/// A store on `config` with generous timeouts (debug builds on a shared
/// machine) and the given key prefix.
async fn connect(config: RedisConfig, key_prefix: &str) -> RedisStore {
    RedisStore::connect(RedisConfig {
        key_prefix: key_prefix.to_owned(),
        connect_timeout: Duration::from_secs(5),
        command_timeout: Duration::from_secs(5),
        ..config
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

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn sentinel_mode_passes_the_whole_suite() {
            let set = sso_store::testing::SentinelSet::start().await.unwrap();
            $(
                let prefix = concat!(stringify!($check), ":");
                let store = crate::connect(set.config(), prefix).await;
                crate::suite::$check(&store).await;
            )+
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn cluster_mode_passes_the_whole_suite() {
            let set = sso_store::testing::ClusterSet::start(false).await.unwrap();
            $(
                let prefix = concat!(stringify!($check), ":");
                let store = crate::connect(set.config(), prefix).await;
                crate::suite::$check(&store).await;
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
    hash_counters,
);
