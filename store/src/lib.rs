//! Shared state behind one trait: Redis for production, memory for the demo.
//!
//! Implements the "State" and "High availability" sections of the architecture:
//! every piece of state a replica shares with the others (sessions, flow states,
//! one-time items such as assertion IDs, CAS tickets, OIDC codes, `state` and
//! `nonce`) goes through the [`Store`] trait, carries a TTL, and one-time items are
//! consumed atomically ([`Store::take`] is `GETDEL`, [`Store::insert_new`] is
//! `SET NX`) so that two replicas can never both accept the same item.
//!
//! * [`RedisStore`]: the production store, shared by every replica, on one Redis
//!   endpoint, a Sentinel-managed primary or a Redis Cluster ([`RedisConfig`],
//!   [`Topology`]). Each command is bounded in time so that an unreachable
//!   Redis fails fast with an error for which [`StoreError::is_unavailable`] is
//!   true (the caller answers 503), the connections recover by themselves when
//!   Redis comes back, and in Sentinel mode they follow the primary through a
//!   failover. One-time writes can wait for replicas (`WAIT`) so that a
//!   failover cannot resurrect a consumed ticket.
//! * [`MemoryStore`]: the in-process store for the demo and single-node setups.
//! * [`put_json`], [`get_json`], [`take_json`]: typed helpers over any store.
//! * `testing` (feature `test-support`): a throw-away `redis-server`, a
//!   Sentinel set and a Redis Cluster for tests.
//!
//! Values hold personal data: this crate never logs or formats them, and it
//! names keys in logs and errors only by their *kind* (the part before the first
//! `:`), since the rest of a key is often a secret (a session id).

mod census;
mod cluster;
mod config;
mod error;
mod json;
mod memory;
mod primary;
mod redis_store;
mod store;
#[cfg(feature = "test-support")]
pub mod testing;

pub use config::{ClusterConfig, RedisConfig, SentinelConfig, Topology};
pub use error::StoreError;
pub use json::{get_json, put_json, take_json};
pub use memory::MemoryStore;
pub use redis_store::RedisStore;
pub use store::{BatchWrite, Store};
