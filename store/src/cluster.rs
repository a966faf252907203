//! Redis Cluster for the [`crate::RedisStore`] (issue 7: "through Redis Cluster,
//! keys designed with hash tags so a session and its indexes live together").
//!
//! * Commands on one key are routed by `redis::cluster_async` itself; atomic
//!   pipelines (`MULTI` on one key) go to that key's slot.
//! * A pipeline whose keys span slots is refused by redis-rs ("crossed
//!   slots"), so [`by_slot`] splits batches per slot and the store sends the
//!   groups concurrently, then puts the answers back in order.
//! * `WAIT` is routed by redis-rs to every primary; pipelined right after the
//!   write, it travels in the same request to the node owning the key, on the
//!   same connection, which is what `WAIT` needs.
//! * The number of replicas of each slot's primary comes from `CLUSTER SLOTS`
//!   and `INFO replication` on every primary (cached, see [`crate::census`]);
//!   a fresh count from `INFO replication` routed to the slot's primary.

use std::collections::BTreeMap;
use std::time::Duration;

use redis::cluster::{ClusterClientBuilder, ClusterConfig as ClientConfig};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{FromRedisValue, Value};

use crate::StoreError;
use crate::census::{Census, online_replicas};
use crate::config::{ClusterConfig, redact_url, uses_tls};
use crate::redis_store::{classify, ensure_crypto_provider};

/// Number of hash slots of a Redis Cluster.
const SLOTS: u16 = 16384;
/// Retries of a cluster request (redirections and reconnections), kept small:
/// every call is bounded by the command timeout anyway.
const CLUSTER_RETRIES: u32 = 2;
/// Shortest and longest wait between two retries, in milliseconds.
const RETRY_MIN_WAIT_MS: u64 = 25;
const RETRY_MAX_WAIT_MS: u64 = 250;

/// The slot of a key (CRC16/XMODEM of the key, or of its hash tag: the part
/// between the first `{` and the next `}` when that part is not empty).
pub(crate) fn hash_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) % SLOTS
}

fn hash_tag(key: &[u8]) -> &[u8] {
    let Some(open) = key.iter().position(|&b| b == b'{') else {
        return key;
    };
    let rest = key.get(open + 1..).unwrap_or_default();
    match rest.iter().position(|&b| b == b'}') {
        Some(close) if close > 0 => rest.get(..close).unwrap_or(key),
        _ => key,
    }
}

fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 == 0 {
                crc << 1
            } else {
                (crc << 1) ^ 0x1021
            };
        }
    }
    crc
}

/// Indexes of `keys` grouped by slot, each group in the original order.
pub(crate) fn by_slot<'a>(keys: impl Iterator<Item = &'a str>) -> Vec<Vec<usize>> {
    let mut groups: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
    for (index, key) in keys.enumerate() {
        groups
            .entry(hash_slot(key.as_bytes()))
            .or_default()
            .push(index);
    }
    groups.into_values().collect()
}

/// Slot ranges with the number of replicas of their primary.
type SlotReplicas = Vec<(u16, u16, u32)>;

/// The cluster connections of a store.
pub(crate) struct ClusterLink {
    /// Every command but the one-time writes with `WAIT`.
    pub(crate) main: ClusterConnection,
    /// One-time writes followed by `WAIT` (a slow `WAIT` blocks its
    /// connection: it must not hold up the other commands).
    pub(crate) durable: Option<ClusterConnection>,
    census: Census<SlotReplicas>,
    command_timeout: Duration,
}

impl ClusterLink {
    /// Connects to the cluster through its seed nodes.
    pub(crate) async fn connect(
        config: &ClusterConfig,
        connect_timeout: Duration,
        command_timeout: Duration,
        durable_timeout: Option<Duration>,
    ) -> Result<Self, StoreError> {
        if config.nodes.iter().any(|url| uses_tls(url)) {
            ensure_crypto_provider();
        }
        let seeds: Vec<String> = config.nodes.iter().map(|url| redact_url(url)).collect();
        let mut builder = ClusterClientBuilder::new(config.nodes.clone())
            .connection_timeout(connect_timeout)
            .response_timeout(command_timeout)
            .retries(CLUSTER_RETRIES)
            .min_retry_wait(RETRY_MIN_WAIT_MS)
            .max_retry_wait(RETRY_MAX_WAIT_MS);
        if let Some(username) = &config.username {
            builder = builder.username(username);
        }
        if let Some(password) = &config.password {
            builder = builder.password(password);
        }
        let client = builder.build().map_err(|err| {
            StoreError::InvalidConfig(format!("cluster seed nodes {seeds:?}: {}", err.category()))
        })?;
        let open = |timeout: Duration| {
            let config = ClientConfig::new()
                .set_connection_timeout(connect_timeout)
                .set_response_timeout(timeout);
            let client = client.clone();
            let seeds = seeds.clone();
            async move {
                tokio::time::timeout(
                    connect_timeout,
                    client.get_async_connection_with_config(config),
                )
                .await
                .map_err(|_| StoreError::Timeout {
                    op: "connect",
                    after: connect_timeout,
                })?
                .map_err(|err| {
                    match classify("connect", "", connect_timeout, &err) {
                        StoreError::Unavailable(reason) => StoreError::Unavailable(format!(
                            "cannot connect to the cluster through {seeds:?}: {reason}"
                        )),
                        other => other,
                    }
                })
            }
        };
        let main = open(command_timeout).await?;
        let durable = match durable_timeout {
            Some(timeout) => Some(open(timeout).await?),
            None => None,
        };
        Ok(Self {
            main,
            durable,
            census: Census::new(),
            command_timeout,
        })
    }

    /// Replicas of the primary owning `full_key`, from `CLUSTER SLOTS`
    /// (cached); `None` when unknown.
    pub(crate) async fn replicas(&self, full_key: &str) -> Option<u32> {
        let slot = hash_slot(full_key.as_bytes());
        let ranges = match self.census.fresh() {
            Some(ranges) => ranges,
            None => match self.cluster_slots().await {
                Some(ranges) => {
                    self.census.store(ranges.clone());
                    ranges
                }
                None => self.census.last()?,
            },
        };
        ranges
            .iter()
            .find(|(start, end, _)| (*start..=*end).contains(&slot))
            .map(|(_, _, replicas)| *replicas)
    }

    /// Every slot range with the online replicas of its primary: `CLUSTER
    /// SLOTS` for the ranges and primaries, then `INFO replication` on each
    /// primary (`CLUSTER SLOTS` leaves out replicas that have not received
    /// any write yet, which `WAIT` does count).
    async fn cluster_slots(&self) -> Option<SlotReplicas> {
        tokio::time::timeout(self.command_timeout, async {
            let mut connection = self.main.clone();
            let mut cmd = redis::cmd("CLUSTER");
            cmd.arg("SLOTS");
            let reply: Value = cmd.query_async(&mut connection).await.ok()?;
            let Value::Array(ranges) = reply else {
                return None;
            };
            let mut primaries: BTreeMap<(String, u16), u32> = BTreeMap::new();
            let mut parsed = Vec::with_capacity(ranges.len());
            for range in ranges {
                let Value::Array(fields) = range else {
                    return None;
                };
                let start = u16::from_redis_value(fields.first()?.clone()).ok()?;
                let end = u16::from_redis_value(fields.get(1)?.clone()).ok()?;
                let Value::Array(primary) = fields.get(2)?.clone() else {
                    return None;
                };
                let host = String::from_redis_value(primary.first()?.clone()).ok()?;
                let port = u16::from_redis_value(primary.get(1)?.clone()).ok()?;
                primaries.insert((host.clone(), port), 0);
                parsed.push((start, end, (host, port)));
            }
            for ((host, port), replicas) in &mut primaries {
                let mut cmd = redis::cmd("INFO");
                cmd.arg("replication");
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                    host: host.clone(),
                    port: *port,
                });
                let reply = connection.route_command(cmd, routing).await.ok()?;
                *replicas = online_replicas(&String::from_redis_value(reply).ok()?);
            }
            parsed
                .into_iter()
                .map(|(start, end, primary)| {
                    primaries
                        .get(&primary)
                        .map(|replicas| (start, end, *replicas))
                })
                .collect()
        })
        .await
        .ok()
        .flatten()
    }

    /// A fresh count of the online replicas of the primary owning `full_key`
    /// (`INFO replication` on that node).
    pub(crate) async fn fresh_replicas(&self, full_key: &str) -> Option<u32> {
        let slot = hash_slot(full_key.as_bytes());
        let mut connection = self.main.clone();
        let mut cmd = redis::cmd("INFO");
        cmd.arg("replication");
        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::new(
            slot,
            SlotAddr::Master,
        )));
        let reply =
            tokio::time::timeout(self.command_timeout, connection.route_command(cmd, routing))
                .await
                .ok()?
                .ok()?;
        let info = String::from_redis_value(reply).ok()?;
        Some(online_replicas(&info))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_the_reference_values() {
        // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(hash_slot(b"foo"), 12182);
        assert_eq!(hash_slot(b"somekey"), 11058);
    }

    #[test]
    fn hash_tags_group_keys() {
        assert_eq!(
            hash_slot(b"sso:session:{abc}"),
            hash_slot(b"sso:participants:{abc}")
        );
        assert_eq!(hash_slot(b"{user1000}.following"), hash_slot(b"user1000"));
        // An empty tag or an unclosed brace hashes the whole key.
        assert_eq!(hash_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") % SLOTS);
        assert_eq!(hash_slot(b"foo{bar"), crc16(b"foo{bar") % SLOTS);
        // Only the first tag counts.
        assert_eq!(hash_slot(b"foo{{bar}}zap"), crc16(b"{bar") % SLOTS);
    }

    #[test]
    fn groups_keep_the_original_order() {
        let keys = ["a:{x}1", "b", "a:{x}2", "c"];
        let groups = by_slot(keys.iter().copied());
        let with_x = groups.iter().find(|group| group.contains(&0)).unwrap();
        assert_eq!(with_x, &vec![0, 2]);
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), 4);
    }
}
