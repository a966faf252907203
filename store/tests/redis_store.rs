//! Redis-only behaviour: key prefixes, atomic one-time items across two
//! "replicas", fail-fast and self-recovery when Redis goes away and comes back
//! (architecture, "High availability"), and credentials kept out of errors.

// Marks the whole file as test code, so that clippy.toml's test allowances
// (unwrap, expect, panic) also cover its helper functions.
#![cfg(test)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use sso_store::testing::{RedisServer, ServerOptions};
use sso_store::{RedisConfig, RedisStore, Store, StoreError};

const LONG: Duration = Duration::from_secs(60);
const REPLICA_TASKS: usize = 50;

fn config(url: String, key_prefix: &str, command_timeout: Duration) -> RedisConfig {
    RedisConfig {
        key_prefix: key_prefix.to_owned(),
        connect_timeout: Duration::from_secs(2),
        command_timeout,
        ..RedisConfig::new(url)
    }
}

async fn connect(server: &RedisServer, key_prefix: &str) -> RedisStore {
    RedisStore::connect(config(server.url(), key_prefix, Duration::from_secs(5)))
        .await
        .unwrap()
}

/// Reads a key as stored in Redis, without any prefix.
async fn raw_exists(server: &RedisServer, key: &str) -> bool {
    let client = redis::Client::open(server.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("EXISTS")
        .arg(key)
        .query_async(&mut connection)
        .await
        .unwrap()
}

#[tokio::test]
async fn key_prefixes_isolate_two_deployments_on_one_server() {
    let server = RedisServer::start().await.unwrap();
    let a = connect(&server, "a:").await;
    let b = connect(&server, "b:").await;

    a.put("session:x", b"from a", LONG).await.unwrap();
    assert_eq!(b.get("session:x").await.unwrap(), None);
    assert_eq!(b.take("session:x").await.unwrap(), None);
    assert!(!b.touch("session:x", LONG).await.unwrap());
    b.delete("session:x").await.unwrap();
    assert!(b.insert_new("session:x", b"from b", LONG).await.unwrap());
    assert_eq!(a.get("session:x").await.unwrap(), Some(b"from a".to_vec()));
    assert_eq!(b.get("session:x").await.unwrap(), Some(b"from b".to_vec()));

    a.set_add("participants:s", "ent", LONG).await.unwrap();
    assert!(b.set_members("participants:s").await.unwrap().is_empty());

    // The prefix is really part of the key in Redis.
    assert!(raw_exists(&server, "a:session:x").await);
    assert!(raw_exists(&server, "b:session:x").await);
    assert!(raw_exists(&server, "a:participants:s").await);
    assert!(!raw_exists(&server, "session:x").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_time_item_is_taken_once_across_two_replicas() {
    let server = RedisServer::start().await.unwrap();
    let replicas = [
        Arc::new(connect(&server, "sso:").await),
        Arc::new(connect(&server, "sso:").await),
    ];
    replicas[0]
        .put("ticket:ST-1", b"alice", LONG)
        .await
        .unwrap();

    let mut tasks = Vec::new();
    for i in 0..REPLICA_TASKS {
        let replica = Arc::clone(&replicas[i % 2]);
        tasks.push(tokio::spawn(async move {
            replica.take("ticket:ST-1").await.unwrap()
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        if let Some(value) = task.await.unwrap() {
            winners.push(value);
        }
    }
    assert_eq!(winners, [b"alice".to_vec()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assertion_id_is_recorded_once_across_two_replicas() {
    let server = RedisServer::start().await.unwrap();
    let replicas = [
        Arc::new(connect(&server, "sso:").await),
        Arc::new(connect(&server, "sso:").await),
    ];

    let mut tasks = Vec::new();
    for i in 0..REPLICA_TASKS {
        let replica = Arc::clone(&replicas[i % 2]);
        tasks.push(tokio::spawn(async move {
            let created = replica
                .insert_new("replay:_assertion-1", i.to_string().as_bytes(), LONG)
                .await
                .unwrap();
            (i, created)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (i, created) = task.await.unwrap();
        if created {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    // The stored value is the winner's.
    let stored = replicas[1].get("replay:_assertion-1").await.unwrap();
    assert_eq!(stored, Some(winners[0].to_string().into_bytes()));
}

#[tokio::test]
async fn redis_gone_fails_fast_and_redis_back_recovers_by_itself() {
    let mut server = RedisServer::start().await.unwrap();
    let port = server.port();
    let store = RedisStore::connect(config(server.url(), "sso:", Duration::from_millis(300)))
        .await
        .unwrap();
    store.put("session:a", b"v", LONG).await.unwrap();
    assert_eq!(store.get("session:a").await.unwrap(), Some(b"v".to_vec()));

    server.stop().await;
    for _ in 0..3 {
        let outcome = tokio::time::timeout(Duration::from_secs(2), store.get("session:a"))
            .await
            .expect("a call with Redis gone must return instead of hanging");
        let err = outcome.unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
    }
    // A one-time item that cannot be recorded is never reported as new.
    let outcome = tokio::time::timeout(
        Duration::from_secs(2),
        store.insert_new("replay:_gone", b"v", LONG),
    )
    .await
    .expect("a call with Redis gone must return instead of hanging");
    assert!(outcome.unwrap_err().is_unavailable());

    server.restart().await.unwrap();
    assert_eq!(server.port(), port);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match store.ping().await {
            Ok(()) => break,
            Err(err) if Instant::now() < deadline => {
                assert!(err.is_unavailable(), "{err:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("the store did not recover within 10 s: {err}"),
        }
    }
    // Nothing was persisted: the server came back empty, and works again.
    assert_eq!(store.get("session:a").await.unwrap(), None);
    assert!(store.insert_new("replay:_gone", b"v", LONG).await.unwrap());
}

#[tokio::test]
async fn nothing_listening_is_unavailable_at_connect() {
    let mut server = RedisServer::start().await.unwrap();
    let url = server.url();
    // Positive control: the URL works while the server runs.
    RedisStore::connect(config(url.clone(), "sso:", Duration::from_secs(1)))
        .await
        .unwrap();

    server.stop().await;
    let err = RedisStore::connect(config(url, "sso:", Duration::from_secs(1)))
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
}

#[tokio::test]
async fn credentials_are_used_and_never_shown() {
    let server = RedisServer::start_with(ServerOptions {
        password: Some("right-pw-4711".to_owned()),
        tls: None,
    })
    .await
    .unwrap();

    // Positive control: the right password works.
    let store = connect(&server, "sso:").await;
    store.put("session:a", b"v", LONG).await.unwrap();

    let wrong = format!("redis://:wrong-pw-0815@127.0.0.1:{}", server.port());
    let err = RedisStore::connect(config(wrong, "sso:", Duration::from_secs(1)))
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("credentials"), "{shown}");
    assert!(!shown.contains("wrong-pw-0815"), "{shown}");

    // Without a password the server refuses every command.
    let anonymous = format!("redis://127.0.0.1:{}", server.port());
    let err = match RedisStore::connect(config(anonymous, "sso:", Duration::from_secs(1))).await {
        Err(err) => err,
        Ok(store) => store.get("session:a").await.unwrap_err(),
    };
    assert!(err.is_unavailable(), "{err:?}");
    assert!(!matches!(err, StoreError::Timeout { .. }), "{err:?}");
}
