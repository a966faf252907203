//! [`MemoryStore`]: the in-process implementation of [`Store`] for the demo and
//! single-node setups (architecture, "State").
//!
//! It mirrors the Redis semantics the gateway relies on: TTLs, atomic `take` and
//! `insert_new` (one lock guards every operation), sets with a TTL, and a
//! "wrong type" error when a key holding a set is read as bytes or the reverse.
//! Expired entries are invisible at once; they are purged lazily when touched,
//! and each operation also sweeps a bounded number of the earliest-expiring
//! entries, found through an index ordered by expiry.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::store::{effective_ttl, key_kind};
use crate::{BatchWrite, Store, StoreError};

/// Most expired entries a single operation purges besides the key it uses.
const SWEEP_LIMIT: usize = 64;

/// Thread-safe in-process store; see the module documentation.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    /// Every entry's `(expires_at, key)`, kept exactly in step with `entries`.
    expiries: BTreeSet<(Instant, String)>,
}

struct Entry {
    value: Value,
    expires_at: Instant,
}

impl Entry {
    fn into_bytes(self) -> Option<Vec<u8>> {
        match self.value {
            Value::Bytes(bytes) => Some(bytes),
            Value::Set(_) | Value::Hash(_) => None,
        }
    }
}

enum Value {
    Bytes(Vec<u8>),
    Set(BTreeSet<String>),
    Hash(BTreeMap<String, i64>),
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Locks the state after a bounded sweep of expired entries.
    fn lock(&self, now: Instant) -> MutexGuard<'_, State> {
        // Every update below leaves `State` consistent before it can fail, so a
        // panic in another thread cannot have left it half-written.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.sweep(now);
        state
    }
}

impl State {
    /// Purges up to [`SWEEP_LIMIT`] expired entries, earliest first.
    fn sweep(&mut self, now: Instant) {
        for _ in 0..SWEEP_LIMIT {
            match self.expiries.first() {
                Some((expires_at, _)) if *expires_at <= now => {}
                _ => return,
            }
            if let Some((_, key)) = self.expiries.pop_first() {
                self.entries.remove(&key);
            }
        }
    }

    /// The live entry under `key`, purging it first if it has expired.
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        let expired = self
            .entries
            .get(key)
            .is_some_and(|entry| entry.expires_at <= now);
        if expired {
            self.remove(key);
        }
        self.entries.get_mut(key)
    }

    fn insert(&mut self, key: &str, value: Value, expires_at: Instant) {
        let previous = self
            .entries
            .insert(key.to_owned(), Entry { value, expires_at });
        if let Some(previous) = previous {
            self.expiries.remove(&(previous.expires_at, key.to_owned()));
        }
        self.expiries.insert((expires_at, key.to_owned()));
    }

    fn remove(&mut self, key: &str) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.expiries.remove(&(entry.expires_at, key.to_owned()));
        Some(entry)
    }

    /// Moves the expiry of an existing entry; false when absent.
    fn set_expiry(&mut self, key: &str, expires_at: Instant) -> bool {
        let Some(entry) = self.entries.get_mut(key) else {
            return false;
        };
        let previous = std::mem::replace(&mut entry.expires_at, expires_at);
        self.expiries.remove(&(previous, key.to_owned()));
        self.expiries.insert((expires_at, key.to_owned()));
        true
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

fn deadline(now: Instant, ttl: Duration) -> Instant {
    // `effective_ttl` caps the TTL at 100 years, which `Instant` can represent.
    let ttl = effective_ttl(ttl);
    now.checked_add(ttl).unwrap_or(now)
}

fn wrong_type(op: &'static str, key: &str) -> StoreError {
    StoreError::WrongType {
        op,
        key_kind: key_kind(key).to_owned(),
    }
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        self.lock(now)
            .insert(key, Value::Bytes(value.to_vec()), deadline(now, ttl));
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = Instant::now();
        let mut state = self.lock(now);
        match state.live(key, now).map(|entry| &entry.value) {
            None => Ok(None),
            Some(Value::Bytes(bytes)) => Ok(Some(bytes.clone())),
            Some(Value::Set(_) | Value::Hash(_)) => Err(wrong_type("get", key)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.lock(Instant::now()).remove(key);
        Ok(())
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = Instant::now();
        let mut state = self.lock(now);
        match state.live(key, now).map(|entry| &entry.value) {
            None => Ok(None),
            Some(Value::Set(_) | Value::Hash(_)) => Err(wrong_type("take", key)),
            Some(Value::Bytes(_)) => Ok(state.remove(key).and_then(Entry::into_bytes)),
        }
    }

    async fn insert_new(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut state = self.lock(now);
        if state.live(key, now).is_some() {
            return Ok(false);
        }
        state.insert(key, Value::Bytes(value.to_vec()), deadline(now, ttl));
        Ok(true)
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut state = self.lock(now);
        if state.live(key, now).is_none() {
            return Ok(false);
        }
        Ok(state.set_expiry(key, deadline(now, ttl)))
    }

    async fn set_add(&self, key: &str, member: &str, ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut state = self.lock(now);
        match state.live(key, now).map(|entry| &mut entry.value) {
            Some(Value::Set(members)) => {
                members.insert(member.to_owned());
            }
            Some(Value::Bytes(_) | Value::Hash(_)) => return Err(wrong_type("set_add", key)),
            None => {
                let members = BTreeSet::from([member.to_owned()]);
                state.insert(key, Value::Set(members), deadline(now, ttl));
                return Ok(());
            }
        }
        state.set_expiry(key, deadline(now, ttl));
        Ok(())
    }

    async fn set_members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        let now = Instant::now();
        let mut state = self.lock(now);
        match state.live(key, now).map(|entry| &entry.value) {
            None => Ok(Vec::new()),
            Some(Value::Set(members)) => Ok(members.iter().cloned().collect()),
            Some(Value::Bytes(_) | Value::Hash(_)) => Err(wrong_type("set_members", key)),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn write_batch(&self, writes: &[BatchWrite], ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut state = self.lock(now);
        for write in writes {
            match write {
                BatchWrite::Put { key, value } => {
                    state.insert(key, Value::Bytes(value.clone()), deadline(now, ttl));
                }
                BatchWrite::Delete { key } => {
                    state.remove(key);
                }
                BatchWrite::SetAdd { key, member } => {
                    match state.live(key, now).map(|entry| &mut entry.value) {
                        Some(Value::Set(members)) => {
                            members.insert(member.clone());
                            state.set_expiry(key, deadline(now, ttl));
                        }
                        Some(Value::Bytes(_) | Value::Hash(_)) => {
                            return Err(wrong_type("write_batch", key));
                        }
                        None => {
                            let members = BTreeSet::from([member.clone()]);
                            state.insert(key, Value::Set(members), deadline(now, ttl));
                        }
                    }
                }
                BatchWrite::SetRemove { key, member } => {
                    match state.live(key, now).map(|entry| &mut entry.value) {
                        Some(Value::Set(members)) => {
                            members.remove(member);
                            if members.is_empty() {
                                state.remove(key);
                            }
                        }
                        Some(Value::Bytes(_) | Value::Hash(_)) => {
                            return Err(wrong_type("write_batch", key));
                        }
                        None => {}
                    }
                }
            }
        }
        Ok(())
    }

    async fn incr(&self, key: &str, ttl: Duration) -> Result<u64, StoreError> {
        let now = Instant::now();
        let mut state = self.lock(now);
        let current = match state.live(key, now).map(|entry| &entry.value) {
            None => 0,
            Some(Value::Bytes(bytes)) => std::str::from_utf8(bytes)
                .ok()
                .and_then(|text| text.parse::<u64>().ok())
                .ok_or_else(|| wrong_type("incr", key))?,
            Some(Value::Set(_) | Value::Hash(_)) => return Err(wrong_type("incr", key)),
        };
        let next = current.saturating_add(1);
        state.insert(
            key,
            Value::Bytes(next.to_string().into_bytes()),
            deadline(now, ttl),
        );
        Ok(next)
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let now = Instant::now();
        let mut state = self.lock(now);
        keys.iter()
            .map(|key| match state.live(key, now).map(|entry| &entry.value) {
                None => Ok(None),
                Some(Value::Bytes(bytes)) => Ok(Some(bytes.clone())),
                Some(Value::Set(_) | Value::Hash(_)) => Err(wrong_type("get_many", key)),
            })
            .collect()
    }

    async fn hincr(
        &self,
        key: &str,
        increments: &[(String, i64)],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        if increments.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        let mut state = self.lock(now);
        match state.live(key, now).map(|entry| &mut entry.value) {
            Some(Value::Hash(fields)) => {
                add_to_fields(fields, increments);
            }
            Some(Value::Bytes(_) | Value::Set(_)) => return Err(wrong_type("hincr", key)),
            None => {
                let mut fields = BTreeMap::new();
                add_to_fields(&mut fields, increments);
                state.insert(key, Value::Hash(fields), deadline(now, ttl));
                return Ok(());
            }
        }
        state.set_expiry(key, deadline(now, ttl));
        Ok(())
    }

    async fn hgetall(&self, key: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let now = Instant::now();
        let mut state = self.lock(now);
        match state.live(key, now).map(|entry| &entry.value) {
            None => Ok(Vec::new()),
            Some(Value::Hash(fields)) => Ok(fields
                .iter()
                .map(|(field, value)| (field.clone(), *value))
                .collect()),
            Some(Value::Bytes(_) | Value::Set(_)) => Err(wrong_type("hgetall", key)),
        }
    }
}

/// Adds each increment to its field (`HINCRBY` semantics, saturating where
/// Redis would refuse an overflow).
fn add_to_fields(fields: &mut BTreeMap<String, i64>, increments: &[(String, i64)]) {
    for (field, by) in increments {
        let value = fields.entry(field.clone()).or_insert(0);
        *value = value.saturating_add(*by);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: Duration = Duration::from_millis(50);
    const LONG: Duration = Duration::from_secs(600);

    fn len(store: &MemoryStore) -> usize {
        store.lock(Instant::now()).len()
    }

    #[tokio::test]
    async fn expired_entries_are_swept_without_being_read() {
        let store = MemoryStore::new();
        let count = 3 * SWEEP_LIMIT;
        for i in 0..count {
            store.put(&format!("flow:{i}"), b"v", SHORT).await.unwrap();
        }
        store.put("session:kept", b"v", LONG).await.unwrap();
        assert_eq!(len(&store), count + 1);

        tokio::time::sleep(SHORT * 4).await;
        // Each operation purges at most SWEEP_LIMIT expired entries, none of
        // which is read: three unrelated calls clear the backlog.
        for _ in 0..3 {
            store.ping().await.unwrap();
            store.get("other:x").await.unwrap();
        }
        assert_eq!(len(&store), 1);
        assert_eq!(
            store.get("session:kept").await.unwrap(),
            Some(b"v".to_vec())
        );
    }

    #[tokio::test]
    async fn the_expiry_index_follows_overwrites_and_touches() {
        let store = MemoryStore::new();
        store.put("session:a", b"1", SHORT).await.unwrap();
        store.put("session:a", b"2", LONG).await.unwrap();
        store.put("session:b", b"1", SHORT).await.unwrap();
        assert!(store.touch("session:b", LONG).await.unwrap());
        store.set_add("index:c", "m", SHORT).await.unwrap();
        store.set_add("index:c", "n", LONG).await.unwrap();

        tokio::time::sleep(SHORT * 4).await;
        store.ping().await.unwrap();
        // The stale index positions of the first TTLs purged nothing.
        assert_eq!(len(&store), 3);
        let state = store.lock(Instant::now());
        assert_eq!(state.expiries.len(), 3);
        for (expires_at, key) in &state.expiries {
            assert_eq!(
                state.entries.get(key).map(|e| e.expires_at),
                Some(*expires_at)
            );
        }
    }
}
