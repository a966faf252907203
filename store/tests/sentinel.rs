//! Sentinel mode against real `redis-server` and `redis-sentinel` processes
//! (issue 7): the store follows a switchover and never writes to the demoted
//! primary, survives a `kill -9` of the primary, recovers after a full outage,
//! and makes one-time writes durable with `WAIT` (fail-closed when replicas
//! do not acknowledge, tolerant when none exists).

// Marks the whole file as test code, so that clippy.toml's test allowances
// (unwrap, expect, panic) also cover its helper functions.
#![cfg(test)]

use std::time::{Duration, Instant};

use sso_store::testing::{SentinelOptions, SentinelSet};
use sso_store::{RedisConfig, RedisStore, Store, StoreError, Topology};

const LONG: Duration = Duration::from_secs(600);
/// How long a call may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(2);
/// Deadline for the store to follow a new primary or recover.
const RECOVERY: Duration = Duration::from_secs(10);

async fn connect(config: RedisConfig, wait_replicas: u32, wait_timeout: Duration) -> RedisStore {
    RedisStore::connect(RedisConfig {
        connect_timeout: Duration::from_secs(1),
        command_timeout: Duration::from_millis(400),
        wait_replicas,
        wait_timeout,
        ..config
    })
    .await
    .unwrap()
}

async fn raw(port: u16) -> redis::aio::MultiplexedConnection {
    redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// `calls` of `cmdstat_<command>` in `INFO commandstats` of the node on `port`.
async fn command_calls(port: u16, command: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut raw(port).await)
        .await
        .unwrap();
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().unwrap())
}

async fn raw_exists(port: u16, key: &str) -> bool {
    redis::cmd("EXISTS")
        .arg(key)
        .query_async(&mut raw(port).await)
        .await
        .unwrap()
}

/// Polls until the store sends its commands to `127.0.0.1:port`.
async fn wait_store_primary(store: &RedisStore, port: u16) {
    let expected = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + RECOVERY;
    while store.primary().as_deref() != Some(expected.as_str()) {
        assert!(
            Instant::now() < deadline,
            "the store still uses {:?}, not {expected}",
            store.primary()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `ping` until it succeeds; every failure meanwhile must be an
/// "unavailable" error returned without hanging.
async fn wait_recovered(store: &RedisStore) {
    let deadline = Instant::now() + RECOVERY;
    loop {
        let outcome = tokio::time::timeout(HANG, store.ping())
            .await
            .expect("a call must return instead of hanging");
        match outcome {
            Ok(()) => return,
            Err(err) if Instant::now() < deadline => {
                assert!(err.is_unavailable(), "{err:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("the store did not recover within {RECOVERY:?}: {err}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switchover_moves_every_later_write_to_the_new_primary() {
    let set = SentinelSet::start().await.unwrap();
    let old = set.primary_port().await.unwrap();
    let store = connect(set.config(), 0, Duration::from_millis(100)).await;
    assert_eq!(store.primary(), Some(format!("127.0.0.1:{old}")));

    // Positive control of the measure: a `take` through the store is counted
    // as GETDEL on the primary it reaches (replicas see a DEL instead).
    let getdel_at_start = command_calls(old, "getdel").await;
    for i in 0..5 {
        store
            .put(&format!("session:pre-{i}"), b"v", LONG)
            .await
            .unwrap();
        store
            .put(&format!("ticket:pre-{i}"), b"t", LONG)
            .await
            .unwrap();
        assert!(
            store
                .take(&format!("ticket:pre-{i}"))
                .await
                .unwrap()
                .is_some()
        );
    }
    let getdel_before_switch = command_calls(old, "getdel").await;
    assert_eq!(getdel_before_switch, getdel_at_start + 5);

    // Through the last sentinel, not the one the store asks first.
    set.failover_via(2).await.unwrap();
    let new = set.wait_new_primary(old).await.unwrap();
    assert_ne!(new, old);
    wait_store_primary(&store, new).await;

    for i in 0..20 {
        store
            .put(&format!("session:post-{i}"), b"v", LONG)
            .await
            .unwrap();
        store
            .put(&format!("ticket:post-{i}"), b"t", LONG)
            .await
            .unwrap();
        assert_eq!(
            store.take(&format!("ticket:post-{i}")).await.unwrap(),
            Some(b"t".to_vec())
        );
    }
    // Everything is on the new primary, written before or after the switch.
    for i in 0..20 {
        assert!(raw_exists(new, &format!("sso:session:post-{i}")).await);
        assert!(!raw_exists(new, &format!("sso:ticket:post-{i}")).await);
    }
    for i in 0..5 {
        assert!(raw_exists(new, &format!("sso:session:pre-{i}")).await);
    }
    // The demoted primary executed none of the post-switch takes itself.
    assert_eq!(command_calls(old, "getdel").await, getdel_before_switch);
    assert!(command_calls(new, "getdel").await >= 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_primary_gives_errors_then_the_store_follows_the_promoted_replica() {
    // The first sentinel (the one the store subscribed to) dies first: the
    // store must listen to another one and ask the others.
    let mut set = SentinelSet::start().await.unwrap();
    let old = set.primary_port().await.unwrap();
    let replica = set.other_node(old).unwrap();
    let store = connect(set.config(), 0, Duration::from_millis(100)).await;
    store.put("session:before", b"v", LONG).await.unwrap();
    set.wait_replicas_online(old, 1).await.unwrap();

    set.kill_sentinel(0);
    set.kill_node(old);
    let outcome = tokio::time::timeout(HANG, store.get("session:before"))
        .await
        .expect("a call with the primary gone must return instead of hanging");
    assert!(outcome.unwrap_err().is_unavailable());
    // A one-time item that cannot be recorded is never reported as new.
    let outcome = tokio::time::timeout(HANG, store.insert_new("replay:_x", b"v", LONG))
        .await
        .expect("a call with the primary gone must return instead of hanging");
    assert!(outcome.unwrap_err().is_unavailable());

    let new = set.wait_new_primary(old).await.unwrap();
    assert_eq!(new, replica);
    wait_recovered(&store).await;
    wait_store_primary(&store, new).await;
    assert_eq!(
        store.get("session:before").await.unwrap(),
        Some(b"v".to_vec())
    );
    assert!(store.insert_new("replay:_x", b"v", LONG).await.unwrap());

    // The old primary comes back as a replica of the new one.
    set.restart_node_as_replica(old).await.unwrap();
    store.put("session:after", b"w", LONG).await.unwrap();
    assert_eq!(store.primary(), Some(format!("127.0.0.1:{new}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_then_back_recovers_by_itself_in_sentinel_mode() {
    let mut set = SentinelSet::start().await.unwrap();
    let primary = set.primary_port().await.unwrap();
    let replica = set.other_node(primary).unwrap();
    let store = connect(set.config(), 0, Duration::from_millis(100)).await;
    store.ping().await.unwrap();

    // Both data nodes gone: nothing to promote.
    set.kill_node(replica);
    set.kill_node(primary);
    for _ in 0..3 {
        let outcome = tokio::time::timeout(HANG, store.get("session:a"))
            .await
            .expect("a call with Redis gone must return instead of hanging");
        assert!(outcome.unwrap_err().is_unavailable());
    }

    set.restart_node_as_primary(primary).await.unwrap();
    wait_recovered(&store).await;
    store.put("session:a", b"v", LONG).await.unwrap();
    assert_eq!(store.get("session:a").await.unwrap(), Some(b"v".to_vec()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_writes_acknowledged_by_wait_survive_a_kill_of_the_primary() {
    const ITEMS: usize = 50;
    let mut set = SentinelSet::start().await.unwrap();
    let old = set.primary_port().await.unwrap();
    let store = connect(set.config(), 1, Duration::from_millis(1000)).await;
    for i in 0..ITEMS {
        store.put(&format!("ticket:{i}"), b"t", LONG).await.unwrap();
    }
    let waits_before = command_calls(old, "wait").await;

    // Taken and recorded just before the kill.
    for i in 0..ITEMS {
        assert!(store.take(&format!("ticket:{i}")).await.unwrap().is_some());
        assert!(
            store
                .insert_new(&format!("replay:{i}"), b"r", LONG)
                .await
                .unwrap()
        );
    }
    // WAIT really ran on the primary, once per one-time write.
    assert!(command_calls(old, "wait").await >= waits_before + 2 * ITEMS as u64);
    set.kill_node(old);

    let new = set.wait_new_primary(old).await.unwrap();
    wait_recovered(&store).await;
    wait_store_primary(&store, new).await;
    for i in 0..ITEMS {
        assert!(
            !raw_exists(new, &format!("sso:ticket:{i}")).await,
            "ticket {i} came back"
        );
        assert!(
            raw_exists(new, &format!("sso:replay:{i}")).await,
            "replay ID {i} lost"
        );
        assert_eq!(store.take(&format!("ticket:{i}")).await.unwrap(), None);
        assert!(
            !store
                .insert_new(&format!("replay:{i}"), b"r", LONG)
                .await
                .unwrap()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_fails_closed_when_replicas_do_not_acknowledge_and_not_when_none_exist() {
    let mut set = SentinelSet::start().await.unwrap();
    let primary = set.primary_port().await.unwrap();
    let replica = set.other_node(primary).unwrap();
    let wait_timeout = Duration::from_millis(300);
    let store = connect(set.config(), 1, wait_timeout).await;

    // Positive control: with the replica acknowledging, both succeed.
    store.put("ticket:ok", b"t", LONG).await.unwrap();
    assert!(store.take("ticket:ok").await.unwrap().is_some());
    assert!(store.insert_new("replay:ok", b"r", LONG).await.unwrap());

    // A connected replica that acknowledges nothing.
    store.put("ticket:frozen", b"t", LONG).await.unwrap();
    set.freeze_node(replica).unwrap();
    let started = Instant::now();
    let err = tokio::time::timeout(HANG, store.insert_new("replay:frozen", b"r", LONG))
        .await
        .expect("WAIT must be bounded")
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::ReplicationTimeout {
                op: "insert_new",
                acked: 0,
                required: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_unavailable());
    assert!(started.elapsed() < HANG);
    let err = tokio::time::timeout(HANG, store.take("ticket:frozen"))
        .await
        .expect("WAIT must be bounded")
        .unwrap_err();
    assert!(
        matches!(err, StoreError::ReplicationTimeout { op: "take", .. }),
        "{err:?}"
    );
    // Fail-closed: the write stays applied, so a retry is refused, never
    // accepted twice.
    assert!(!store.insert_new("replay:frozen", b"r", LONG).await.unwrap());
    assert_eq!(store.take("ticket:frozen").await.unwrap(), None);
    set.thaw_node(replica).unwrap();

    // No replica at all: one-time writes succeed (with a warning).
    set.kill_node(replica);
    assert!(store.insert_new("replay:alone", b"r", LONG).await.unwrap());
    store.put("ticket:alone", b"t", LONG).await.unwrap();
    assert_eq!(
        store.take("ticket:alone").await.unwrap(),
        Some(b"t".to_vec())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_and_data_node_credentials_are_used_apart_and_never_shown() {
    let set = SentinelSet::start_with(SentinelOptions {
        data_password: Some("data-pw-4711".to_owned()),
        sentinel_password: Some("sentinel-pw-0815".to_owned()),
    })
    .await
    .unwrap();

    // Positive control: the right passwords, each in its place, work.
    let store = connect(set.config(), 0, Duration::from_millis(100)).await;
    store.put("session:a", b"v", LONG).await.unwrap();
    assert_eq!(store.get("session:a").await.unwrap(), Some(b"v".to_vec()));
    let shown = format!("{:?} {store:?}", set.config());
    assert!(!shown.contains("data-pw-4711") && !shown.contains("sentinel-pw-0815"));

    let with = |data: &str, sentinel: &str| {
        let mut config = set.config();
        config.connect_timeout = Duration::from_secs(1);
        if let Topology::Sentinel(sentinel_config) = &mut config.topology {
            sentinel_config.password = Some(data.to_owned());
            sentinel_config.sentinel_password = Some(sentinel.to_owned());
        }
        config
    };
    for (config, secret) in [
        // A wrong sentinel password: no sentinel answers.
        (with("data-pw-4711", "wrong-pw-1"), "wrong-pw-1"),
        // A wrong data-node password: the primary refuses the ROLE check.
        (with("wrong-pw-2", "sentinel-pw-0815"), "wrong-pw-2"),
        // The two passwords swapped: they are really used apart.
        (with("sentinel-pw-0815", "data-pw-4711"), "sentinel-pw-0815"),
    ] {
        let err = RedisStore::connect(config).await.unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
        let shown = format!("{err} {err:?}");
        assert!(shown.contains("credentials"), "{shown}");
        assert!(!shown.contains(secret), "{shown}");
    }
}
