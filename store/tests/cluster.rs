//! Cluster mode against a real Redis Cluster (issue 7): batches whose keys
//! span slots, hash-tagged keys that live together, one-time items raced by
//! two store instances, and `WAIT` run on the node that owns the key.

// Marks the whole file as test code, so that clippy.toml's test allowances
// (unwrap, expect, panic) also cover its helper functions.
#![cfg(test)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use sso_store::testing::ClusterSet;
use sso_store::{BatchWrite, RedisConfig, RedisStore, Store};

const LONG: Duration = Duration::from_secs(600);
const RACERS: usize = 50;

async fn connect(config: RedisConfig, wait_replicas: u32) -> RedisStore {
    RedisStore::connect(RedisConfig {
        connect_timeout: Duration::from_secs(2),
        command_timeout: Duration::from_secs(2),
        wait_replicas,
        wait_timeout: Duration::from_secs(1),
        ..config
    })
    .await
    .unwrap()
}

async fn node(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn keyslot(url: &str, key: &str) -> u16 {
    redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query_async(&mut node(url).await)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_span_slots_and_hash_tags_keep_keys_together() {
    let set = ClusterSet::start(false).await.unwrap();
    let seed = set.node_urls().remove(0);
    let store = connect(set.config(), 0).await;

    let keys: Vec<String> = (0..200).map(|i| format!("dir:person:{i}")).collect();
    let mut slots = HashSet::new();
    for key in &keys {
        slots.insert(keyslot(&seed, &format!("sso:{key}")).await);
    }
    assert!(slots.len() > 100, "the keys must really span slots");

    let writes: Vec<BatchWrite> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| BatchWrite::Put {
            key: key.clone(),
            value: i.to_string().into_bytes(),
        })
        .chain([
            BatchWrite::SetAdd {
                key: "dir:index".to_owned(),
                member: "a".to_owned(),
            },
            BatchWrite::Delete {
                key: "dir:person:0".to_owned(),
            },
        ])
        .collect();
    store.write_batch(&writes, LONG).await.unwrap();
    let mut wanted = keys.clone();
    wanted.push("dir:absent".to_owned());
    let values = store.get_many(&wanted).await.unwrap();
    assert_eq!(values.len(), 201);
    assert_eq!(values[0], None, "deleted after being put, in batch order");
    assert_eq!(values[1], Some(b"1".to_vec()));
    assert_eq!(values[199], Some(b"199".to_vec()));
    assert_eq!(values[200], None);
    assert_eq!(store.set_members("dir:index").await.unwrap(), ["a"]);

    // A session and its index share a hash tag, hence a slot; without the
    // tag the same names land in different slots.
    let session = keyslot(&seed, "sso:session:{s-42}").await;
    assert_eq!(session, keyslot(&seed, "sso:participants:{s-42}").await);
    assert_ne!(
        keyslot(&seed, "sso:session:s-42").await,
        keyslot(&seed, "sso:participants:s-42").await
    );
    store.put("session:{s-42}", b"alice", LONG).await.unwrap();
    store
        .set_add("participants:{s-42}", "ent", LONG)
        .await
        .unwrap();
    assert_eq!(store.incr("count:{s-42}", LONG).await.unwrap(), 1);
    assert_eq!(
        store.set_members("participants:{s-42}").await.unwrap(),
        ["ent"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_items_have_exactly_one_winner_across_two_instances() {
    let set = ClusterSet::start(false).await.unwrap();
    let replicas = [
        Arc::new(connect(set.config(), 0).await),
        Arc::new(connect(set.config(), 0).await),
    ];
    replicas[0]
        .put("ticket:ST-1", b"alice", LONG)
        .await
        .unwrap();

    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let replica = Arc::clone(&replicas[i % 2]);
        tasks.push(tokio::spawn(async move {
            let taken = replica.take("ticket:ST-1").await.unwrap();
            let created = replica
                .insert_new("replay:_a-1", i.to_string().as_bytes(), LONG)
                .await
                .unwrap();
            (taken, created)
        }));
    }
    let mut taken = 0;
    let mut created = 0;
    for task in tasks {
        let (took, made) = task.await.unwrap();
        taken += usize::from(took.is_some());
        created += usize::from(made);
    }
    assert_eq!((taken, created), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_runs_on_the_node_that_owns_the_key() {
    let set = ClusterSet::start(true).await.unwrap();
    let store = connect(set.config(), 1).await;
    let urls = set.node_urls();

    let mut waits_before = 0;
    for url in &urls {
        waits_before += wait_calls(url).await;
    }
    assert_eq!(waits_before, 0);
    assert!(store.insert_new("replay:{w}", b"r", LONG).await.unwrap());
    store.put("ticket:{w}", b"t", LONG).await.unwrap();
    assert!(store.take("ticket:{w}").await.unwrap().is_some());

    let mut waited_on = Vec::new();
    for url in &urls {
        let calls = wait_calls(url).await;
        if calls > 0 {
            waited_on.push((url.clone(), calls));
        }
    }
    assert_eq!(waited_on.len(), 1, "{waited_on:?}");
    let (owner, calls) = &waited_on[0];
    assert_eq!(*calls, 2);
    // The node that ran WAIT holds the key itself (no redirection).
    let exists: bool = redis::cmd("EXISTS")
        .arg("sso:replay:{w}")
        .query_async(&mut node(owner).await)
        .await
        .unwrap();
    assert!(exists);
}

async fn wait_calls(url: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut node(url).await)
        .await
        .unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("cmdstat_wait:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().unwrap())
}
