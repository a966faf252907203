//! The behaviour every [`Store`] honours (architecture, "State"), written once
//! against `&dyn Store` and run by `tests/behaviour.rs` against both
//! implementations. TTL checks sleep well past short TTLs and check the outcome,
//! never the timing.

use std::time::Duration;

use sso_store::{BatchWrite, Store, StoreError};

/// A TTL no check outlives.
const LONG: Duration = Duration::from_secs(60);
/// A TTL the checks wait out.
const SHORT: Duration = Duration::from_millis(200);
/// Comfortably past [`SHORT`].
const PAST_SHORT: Duration = Duration::from_millis(600);

async fn sleep_past_short() {
    tokio::time::sleep(PAST_SHORT).await;
}

pub async fn put_get_delete(store: &dyn Store) {
    assert_eq!(store.get("session:absent").await.unwrap(), None);

    store.put("session:a", b"first", LONG).await.unwrap();
    assert_eq!(
        store.get("session:a").await.unwrap(),
        Some(b"first".to_vec())
    );
    store.put("session:a", b"second", LONG).await.unwrap();
    assert_eq!(
        store.get("session:a").await.unwrap(),
        Some(b"second".to_vec())
    );

    store.delete("session:a").await.unwrap();
    assert_eq!(store.get("session:a").await.unwrap(), None);
    store.delete("session:a").await.unwrap();

    let every_byte: Vec<u8> = (0..=255).collect();
    store.put("blob:bytes", &every_byte, LONG).await.unwrap();
    assert_eq!(store.get("blob:bytes").await.unwrap(), Some(every_byte));
}

pub async fn ttl_expiry(store: &dyn Store) {
    store.put("flow:short", b"v", SHORT).await.unwrap();
    store.put("flow:long", b"v", LONG).await.unwrap();
    store.put("flow:shortened", b"v", LONG).await.unwrap();
    store.put("flow:shortened", b"w", SHORT).await.unwrap();
    assert_eq!(store.get("flow:short").await.unwrap(), Some(b"v".to_vec()));
    assert_eq!(
        store.get("flow:shortened").await.unwrap(),
        Some(b"w".to_vec())
    );

    sleep_past_short().await;
    assert_eq!(store.get("flow:short").await.unwrap(), None);
    assert_eq!(store.take("flow:shortened").await.unwrap(), None);
    assert_eq!(store.get("flow:long").await.unwrap(), Some(b"v".to_vec()));
    // An expired key is absent for every operation.
    assert!(!store.touch("flow:short", LONG).await.unwrap());
    assert!(store.insert_new("flow:short", b"new", LONG).await.unwrap());
}

pub async fn take_once(store: &dyn Store) {
    store.put("ticket:ST-1", b"alice", LONG).await.unwrap();
    assert_eq!(
        store.take("ticket:ST-1").await.unwrap(),
        Some(b"alice".to_vec())
    );
    assert_eq!(store.take("ticket:ST-1").await.unwrap(), None);
    assert_eq!(store.get("ticket:ST-1").await.unwrap(), None);
    assert_eq!(store.take("ticket:absent").await.unwrap(), None);
}

pub async fn insert_new_once(store: &dyn Store) {
    assert!(
        store
            .insert_new("replay:_a1", b"first", LONG)
            .await
            .unwrap()
    );
    assert!(
        !store
            .insert_new("replay:_a1", b"second", LONG)
            .await
            .unwrap()
    );
    // The refused insert changed nothing.
    assert_eq!(
        store.get("replay:_a1").await.unwrap(),
        Some(b"first".to_vec())
    );

    // A key set by `put` also counts as present.
    store.put("replay:_a2", b"put", LONG).await.unwrap();
    assert!(!store.insert_new("replay:_a2", b"new", LONG).await.unwrap());

    // Once expired, the same id can be recorded again.
    assert!(
        store
            .insert_new("replay:_a3", b"first", SHORT)
            .await
            .unwrap()
    );
    sleep_past_short().await;
    assert!(
        store
            .insert_new("replay:_a3", b"again", LONG)
            .await
            .unwrap()
    );
    assert_eq!(
        store.get("replay:_a3").await.unwrap(),
        Some(b"again".to_vec())
    );
}

pub async fn touch_refreshes_ttl(store: &dyn Store) {
    assert!(!store.touch("session:absent", LONG).await.unwrap());

    store.put("session:kept", b"v", SHORT).await.unwrap();
    store.put("session:left", b"v", SHORT).await.unwrap();
    assert!(store.touch("session:kept", LONG).await.unwrap());
    sleep_past_short().await;
    assert_eq!(
        store.get("session:kept").await.unwrap(),
        Some(b"v".to_vec())
    );
    assert_eq!(store.get("session:left").await.unwrap(), None);

    // Touch can also shorten a TTL.
    assert!(store.touch("session:kept", SHORT).await.unwrap());
    sleep_past_short().await;
    assert_eq!(store.get("session:kept").await.unwrap(), None);
    assert!(!store.touch("session:kept", LONG).await.unwrap());
}

pub async fn sets(store: &dyn Store) {
    assert!(
        store
            .set_members("participants:absent")
            .await
            .unwrap()
            .is_empty()
    );

    for member in ["ent", "gar", "ent"] {
        store
            .set_add("participants:s1", member, LONG)
            .await
            .unwrap();
    }
    let mut members = store.set_members("participants:s1").await.unwrap();
    members.sort();
    assert_eq!(members, ["ent", "gar"]);

    store
        .set_add("participants:s2", "ent", SHORT)
        .await
        .unwrap();
    // Adding a member resets the set's TTL.
    store
        .set_add("participants:s3", "ent", SHORT)
        .await
        .unwrap();
    store.set_add("participants:s3", "gar", LONG).await.unwrap();
    sleep_past_short().await;
    assert!(
        store
            .set_members("participants:s2")
            .await
            .unwrap()
            .is_empty()
    );
    let mut members = store.set_members("participants:s3").await.unwrap();
    members.sort();
    assert_eq!(members, ["ent", "gar"]);

    store.delete("participants:s1").await.unwrap();
    assert!(
        store
            .set_members("participants:s1")
            .await
            .unwrap()
            .is_empty()
    );
}

fn assert_wrong_type(result: Result<impl std::fmt::Debug, StoreError>, op: &str, kind: &str) {
    match result {
        Err(StoreError::WrongType {
            op: got_op,
            key_kind,
        }) => {
            assert_eq!((got_op, key_kind.as_str()), (op, kind));
        }
        other => panic!("expected WrongType for {op} on a {kind} key, got {other:?}"),
    }
}

pub async fn wrong_types(store: &dyn Store) {
    store.put("session:bytes", b"v", LONG).await.unwrap();
    store
        .set_add("participants:set", "ent", LONG)
        .await
        .unwrap();
    // Positive controls: each key read the way it was written.
    assert_eq!(
        store.get("session:bytes").await.unwrap(),
        Some(b"v".to_vec())
    );
    assert_eq!(
        store.set_members("participants:set").await.unwrap(),
        ["ent"]
    );

    assert_wrong_type(store.get("participants:set").await, "get", "participants");
    assert_wrong_type(store.take("participants:set").await, "take", "participants");
    assert_wrong_type(
        store.set_add("session:bytes", "ent", LONG).await,
        "set_add",
        "session",
    );
    assert_wrong_type(
        store.set_members("session:bytes").await,
        "set_members",
        "session",
    );
    // The refused operations destroyed nothing.
    assert_eq!(
        store.set_members("participants:set").await.unwrap(),
        ["ent"]
    );
    assert_eq!(
        store.get("session:bytes").await.unwrap(),
        Some(b"v".to_vec())
    );

    // `put` overwrites a key whatever it held.
    store
        .put("participants:set", b"bytes now", LONG)
        .await
        .unwrap();
    assert_eq!(
        store.get("participants:set").await.unwrap(),
        Some(b"bytes now".to_vec())
    );
}

pub async fn ping(store: &dyn Store) {
    store.ping().await.unwrap();
}

pub async fn batches(store: &dyn Store) {
    assert!(store.write_batch(&[], LONG).await.is_ok());
    assert!(store.get_many(&[]).await.unwrap().is_empty());
    store.put("dir:stale", b"old", LONG).await.unwrap();
    let writes = [
        BatchWrite::Put {
            key: "dir:a".to_owned(),
            value: b"1".to_vec(),
        },
        BatchWrite::Put {
            key: "dir:a".to_owned(),
            value: b"2".to_vec(),
        },
        BatchWrite::Put {
            key: "dir:short".to_owned(),
            value: b"x".to_vec(),
        },
        BatchWrite::Delete {
            key: "dir:stale".to_owned(),
        },
        BatchWrite::SetAdd {
            key: "dir:set".to_owned(),
            member: "p1".to_owned(),
        },
        BatchWrite::SetAdd {
            key: "dir:set".to_owned(),
            member: "p2".to_owned(),
        },
        BatchWrite::SetRemove {
            key: "dir:set".to_owned(),
            member: "p1".to_owned(),
        },
        BatchWrite::SetRemove {
            key: "dir:none".to_owned(),
            member: "p1".to_owned(),
        },
    ];
    store.write_batch(&writes, LONG).await.unwrap();
    let keys: Vec<String> = ["dir:a", "dir:stale", "dir:missing", "dir:short"]
        .map(str::to_owned)
        .to_vec();
    assert_eq!(
        store.get_many(&keys).await.unwrap(),
        [Some(b"2".to_vec()), None, None, Some(b"x".to_vec())]
    );
    assert_eq!(store.set_members("dir:set").await.unwrap(), ["p2"]);

    // The batch's TTL applies to every key it writes.
    store
        .write_batch(
            &[BatchWrite::Put {
                key: "dir:short".to_owned(),
                value: b"y".to_vec(),
            }],
            SHORT,
        )
        .await
        .unwrap();
    sleep_past_short().await;
    assert_eq!(store.get("dir:short").await.unwrap(), None);
    assert_eq!(store.get("dir:a").await.unwrap(), Some(b"2".to_vec()));

    // A batch of a thousand writes, then read back in one call.
    let many: Vec<BatchWrite> = (0..1000)
        .map(|i| BatchWrite::Put {
            key: format!("dir:many:{i}"),
            value: i.to_string().into_bytes(),
        })
        .collect();
    store.write_batch(&many, LONG).await.unwrap();
    let keys: Vec<String> = (0..1000).map(|i| format!("dir:many:{i}")).collect();
    let values = store.get_many(&keys).await.unwrap();
    assert_eq!(values.len(), 1000);
    assert_eq!(values[999], Some(b"999".to_vec()));

    // Reading a set with get_many is a type error, as `get` is.
    assert_wrong_type(
        store.get_many(&["dir:set".to_owned()]).await,
        "get_many",
        "dir",
    );
}

pub async fn counters(store: &dyn Store) {
    assert_eq!(store.incr("count:a", LONG).await.unwrap(), 1);
    assert_eq!(store.incr("count:a", LONG).await.unwrap(), 2);
    assert_eq!(store.incr("count:b", SHORT).await.unwrap(), 1);
    sleep_past_short().await;
    assert_eq!(
        store.incr("count:b", LONG).await.unwrap(),
        1,
        "expired, counts again from 0"
    );
    assert_eq!(store.get("count:a").await.unwrap(), Some(b"2".to_vec()));
    store.set_add("count:set", "x", LONG).await.unwrap();
    assert!(matches!(
        store.incr("count:set", LONG).await,
        Err(StoreError::WrongType { .. })
    ));
}

fn sorted(mut fields: Vec<(String, i64)>) -> Vec<(String, i64)> {
    fields.sort();
    fields
}

fn pairs(fields: &[(&str, i64)]) -> Vec<(String, i64)> {
    fields
        .iter()
        .map(|(field, value)| ((*field).to_owned(), *value))
        .collect()
}

pub async fn hash_counters(store: &dyn Store) {
    assert!(store.hgetall("stats:absent").await.unwrap().is_empty());
    store
        .hincr("stats:day", &pairs(&[("08|a", 1), ("09|b", 2)]), LONG)
        .await
        .unwrap();
    store
        .hincr(
            "stats:day",
            &pairs(&[("08|a", 3), ("10|c", 1), ("10|c", 1)]),
            LONG,
        )
        .await
        .unwrap();
    assert_eq!(
        sorted(store.hgetall("stats:day").await.unwrap()),
        pairs(&[("08|a", 4), ("09|b", 2), ("10|c", 2)])
    );
    // Nothing to add: no key is created.
    store.hincr("stats:empty", &[], LONG).await.unwrap();
    assert!(store.hgetall("stats:empty").await.unwrap().is_empty());

    // Every increment refreshes the hash's TTL; an expired hash counts
    // again from 0.
    store
        .hincr("stats:short", &pairs(&[("f", 5)]), SHORT)
        .await
        .unwrap();
    assert_eq!(
        store.hgetall("stats:short").await.unwrap(),
        pairs(&[("f", 5)])
    );
    sleep_past_short().await;
    assert!(store.hgetall("stats:short").await.unwrap().is_empty());
    store
        .hincr("stats:short", &pairs(&[("f", 1)]), LONG)
        .await
        .unwrap();
    assert_eq!(
        store.hgetall("stats:short").await.unwrap(),
        pairs(&[("f", 1)])
    );

    // A key of another type is refused and left as it was.
    store.put("stats:bytes", b"v", LONG).await.unwrap();
    assert_wrong_type(
        store.hincr("stats:bytes", &pairs(&[("f", 1)]), LONG).await,
        "hincr",
        "stats",
    );
    assert_wrong_type(store.hgetall("stats:bytes").await, "hgetall", "stats");
    assert_eq!(store.get("stats:bytes").await.unwrap(), Some(b"v".to_vec()));
    assert_wrong_type(store.get("stats:day").await, "get", "stats");
}
