//! [`RedisConfig`]: where and how the [`crate::RedisStore`] reaches Redis
//! (architecture, "High availability": Sentinel for failover, or Cluster).
//!
//! Three topologies, one per value of the gateway's `[store] mode`:
//!
//! * [`Topology::Standalone`]: one endpoint, given as a URL (`url`);
//! * [`Topology::Sentinel`]: the primary is found through a list of sentinels
//!   (`sentinels`, `master_name`), with data-node credentials and TLS kept apart
//!   from the sentinels' own (`username`/`password`/`tls`,
//!   `sentinel_username`/`sentinel_password`/`sentinel_tls`);
//! * [`Topology::Cluster`]: a Redis Cluster reached through seed node URLs
//!   (`nodes`).
//!
//! Every mode shares the key prefix, the connect and command timeouts, and the
//! `WAIT` settings of the one-time writes (`wait_replicas`, `wait_timeout`).
//! Passwords never reach `Debug`, logs or errors.

use std::fmt;
use std::time::Duration;

use crate::StoreError;

/// Where and how to reach Redis, in any topology.
#[derive(Clone)]
pub struct RedisConfig {
    /// Standalone endpoint, Sentinel-managed primary, or Cluster.
    pub topology: Topology,
    /// Prepended to every key, e.g. `"sso:"`, so that several deployments can
    /// share one Redis. It must not contain `{` or `}` (hash tags, see the
    /// crate README).
    pub key_prefix: String,
    /// Bound on establishing a connection (the first one in
    /// [`crate::RedisStore::connect`], each reconnection attempt, each query to
    /// a sentinel).
    pub connect_timeout: Duration,
    /// Bound on every command, so that "Redis gone" is an error in well under a
    /// second rather than a hang.
    pub command_timeout: Duration,
    /// Replicas that must acknowledge a one-time write (`insert_new` that
    /// created its key, `take` that removed one) through `WAIT` before it is
    /// reported as done; 0 disables `WAIT`.
    pub wait_replicas: u32,
    /// Longest `WAIT` for those acknowledgements (added to the command timeout
    /// of the write); must not be zero when `wait_replicas > 0`.
    pub wait_timeout: Duration,
}

/// How the Redis deployment is laid out.
#[derive(Clone)]
pub enum Topology {
    /// One endpoint: `redis://[user:password@]host:port/db` or `rediss://...`
    /// for TLS.
    Standalone {
        /// The endpoint's URL.
        url: String,
    },
    /// A primary and its replicas watched by Redis Sentinel.
    Sentinel(SentinelConfig),
    /// A Redis Cluster.
    Cluster(ClusterConfig),
}

/// The Sentinel topology: which sentinels to ask, for which master, and how to
/// authenticate to the sentinels and to the data nodes.
#[derive(Clone, Default)]
pub struct SentinelConfig {
    /// Sentinel addresses as `host:port`, asked in turn.
    pub sentinels: Vec<String>,
    /// The name the sentinels monitor the primary under (`sentinel monitor
    /// <name> ...`).
    pub master_name: String,
    /// ACL user on the data nodes (primary and replicas).
    pub username: Option<String>,
    /// Password on the data nodes.
    pub password: Option<String>,
    /// TLS to the data nodes.
    pub tls: bool,
    /// Logical database on the data nodes.
    pub db: i64,
    /// ACL user on the sentinels, when they require one.
    pub sentinel_username: Option<String>,
    /// Password on the sentinels (distinct from the data nodes' password).
    pub sentinel_password: Option<String>,
    /// TLS to the sentinels.
    pub sentinel_tls: bool,
}

/// The Cluster topology: seed nodes, from which the client learns the rest.
#[derive(Clone, Default)]
pub struct ClusterConfig {
    /// Seed node URLs (`redis://host:port` or `rediss://host:port`); they may
    /// hold credentials, but [`ClusterConfig::username`] and
    /// [`ClusterConfig::password`] win when set.
    pub nodes: Vec<String>,
    /// ACL user on every node.
    pub username: Option<String>,
    /// Password on every node.
    pub password: Option<String>,
}

impl RedisConfig {
    /// A standalone configuration for `url` with the gateway's defaults: prefix
    /// `"sso:"`, connect timeout 2 s, command timeout 250 ms, no `WAIT`.
    pub fn new(url: impl Into<String>) -> Self {
        Self::with_topology(Topology::Standalone { url: url.into() })
    }

    /// A Sentinel configuration with the same defaults as [`RedisConfig::new`].
    pub fn sentinel(sentinel: SentinelConfig) -> Self {
        Self::with_topology(Topology::Sentinel(sentinel))
    }

    /// A Cluster configuration with the same defaults as [`RedisConfig::new`].
    pub fn cluster(cluster: ClusterConfig) -> Self {
        Self::with_topology(Topology::Cluster(cluster))
    }

    fn with_topology(topology: Topology) -> Self {
        Self {
            topology,
            key_prefix: "sso:".to_owned(),
            connect_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_millis(250),
            wait_replicas: 0,
            wait_timeout: Duration::from_millis(100),
        }
    }

    /// Checks what can be checked without connecting: the key prefix, the
    /// lists of sentinels and nodes, the master name, the timeouts.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.key_prefix.contains(['{', '}']) {
            return Err(StoreError::InvalidConfig(format!(
                "key prefix {:?}: it must not contain `{{` or `}}` (they would turn the prefix \
                 into the Redis Cluster hash tag of every key)",
                self.key_prefix
            )));
        }
        if self.command_timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(StoreError::InvalidConfig(
                "the connect and command timeouts must be longer than zero".to_owned(),
            ));
        }
        if self.wait_replicas > 0 && wait_millis(self.wait_timeout) == 0 {
            return Err(StoreError::InvalidConfig(format!(
                "wait_replicas = {} needs a wait timeout of at least 1 ms (`WAIT` with 0 ms \
                 would block for ever)",
                self.wait_replicas
            )));
        }
        match &self.topology {
            Topology::Standalone { .. } => Ok(()),
            Topology::Sentinel(sentinel) => {
                if sentinel.master_name.trim().is_empty() {
                    return Err(StoreError::InvalidConfig(
                        "sentinel mode: the master name is empty".to_owned(),
                    ));
                }
                if sentinel.sentinels.is_empty() {
                    return Err(StoreError::InvalidConfig(
                        "sentinel mode: the list of sentinels is empty".to_owned(),
                    ));
                }
                for address in &sentinel.sentinels {
                    parse_host_port(address)?;
                }
                Ok(())
            }
            Topology::Cluster(cluster) => {
                if cluster.nodes.is_empty() {
                    Err(StoreError::InvalidConfig(
                        "cluster mode: the list of seed nodes is empty".to_owned(),
                    ))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// `WAIT`'s timeout argument: whole milliseconds, at least 1 when not zero.
pub(crate) fn wait_millis(timeout: Duration) -> u64 {
    let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    if millis == 0 && !timeout.is_zero() {
        1
    } else {
        millis
    }
}

/// Splits `host:port` (IPv6 hosts in brackets: `[::1]:26379`).
pub(crate) fn parse_host_port(address: &str) -> Result<(String, u16), StoreError> {
    let invalid = |why: &str| {
        StoreError::InvalidConfig(format!(
            "sentinel address {address:?}: {why} (expected host:port)"
        ))
    };
    let (host, port) = address.rsplit_once(':').ok_or_else(|| invalid("no port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(invalid("no host"));
    }
    let port = port.parse::<u16>().map_err(|_| invalid("bad port"))?;
    Ok((host.to_owned(), port))
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("topology", &self.topology)
            .field("key_prefix", &self.key_prefix)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("wait_replicas", &self.wait_replicas)
            .field("wait_timeout", &self.wait_timeout)
            .finish()
    }
}

impl fmt::Debug for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Standalone { url } => f
                .debug_struct("Standalone")
                .field("url", &redact_url(url))
                .finish(),
            Self::Sentinel(sentinel) => sentinel.fmt(f),
            Self::Cluster(cluster) => cluster.fmt(f),
        }
    }
}

impl fmt::Debug for SentinelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sentinel")
            .field("sentinels", &self.sentinels)
            .field("master_name", &self.master_name)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("tls", &self.tls)
            .field("db", &self.db)
            .field("sentinel_username", &self.sentinel_username)
            .field(
                "sentinel_password",
                &self.sentinel_password.as_ref().map(|_| "***"),
            )
            .field("sentinel_tls", &self.sentinel_tls)
            .finish()
    }
}

impl fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nodes: Vec<String> = self.nodes.iter().map(|url| redact_url(url)).collect();
        f.debug_struct("Cluster")
            .field("nodes", &nodes)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// The URL with its password (user info or `pass=`/`password=` query value)
/// replaced by `***`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<not a URL>".to_owned();
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let mut redacted = format!("{scheme}://");
    match before_query.rsplit_once('@') {
        Some((user_info, host)) => {
            match user_info.split_once(':') {
                Some((user, _password)) => redacted.push_str(&format!("{user}:***@")),
                None => redacted.push_str(&format!("{user_info}@")),
            }
            redacted.push_str(host);
        }
        None => redacted.push_str(before_query),
    }
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if is_password_param(name) => format!("{name}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        redacted.push('?');
        redacted.push_str(&pairs.join("&"));
    }
    redacted
}

fn is_password_param(name: &str) -> bool {
    name.eq_ignore_ascii_case("pass") || name.eq_ignore_ascii_case("password")
}

/// True for `rediss://` (and `valkeys://`) URLs.
pub(crate) fn uses_tls(url: &str) -> bool {
    url.split_once("://").is_some_and(|(scheme, _)| {
        scheme.eq_ignore_ascii_case("rediss") || scheme.eq_ignore_ascii_case("valkeys")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_password_and_keeps_the_rest() {
        // Positive control: a URL without secret is shown as is.
        let plain = RedisConfig::new("redis://redis.internal:6379/2");
        assert!(format!("{plain:?}").contains("redis://redis.internal:6379/2"));

        for url in [
            "redis://gateway:Sup3rS3cret@redis.internal:6379/2",
            "rediss://:Sup3rS3cret@redis.internal:6380",
            "redis://gateway:p@ss:Sup3rS3cret@redis.internal",
            "redis+unix:///run/redis.sock?db=1&pass=Sup3rS3cret",
        ] {
            let shown = format!("{:?}", RedisConfig::new(url));
            assert!(!shown.contains("Sup3rS3cret"), "{shown}");
            assert!(shown.contains("***"), "{shown}");
        }
        let shown = format!(
            "{:?}",
            RedisConfig::new("redis://gateway:Sup3rS3cret@redis.internal:6379/2")
        );
        assert!(
            shown.contains("redis://gateway:***@redis.internal:6379/2"),
            "{shown}"
        );
    }

    #[test]
    fn debug_redacts_sentinel_and_cluster_passwords() {
        let sentinel = RedisConfig::sentinel(SentinelConfig {
            sentinels: vec!["10.0.0.1:26379".to_owned()],
            master_name: "sso".to_owned(),
            username: Some("gateway".to_owned()),
            password: Some("DataS3cret".to_owned()),
            sentinel_password: Some("SentS3cret".to_owned()),
            ..SentinelConfig::default()
        });
        let shown = format!("{sentinel:?}");
        assert!(shown.contains("10.0.0.1:26379") && shown.contains("gateway"));
        assert!(!shown.contains("DataS3cret") && !shown.contains("SentS3cret"));

        let cluster = RedisConfig::cluster(ClusterConfig {
            nodes: vec!["redis://:NodeS3cret@10.0.0.2:6379".to_owned()],
            password: Some("AllS3cret".to_owned()),
            ..ClusterConfig::default()
        });
        let shown = format!("{cluster:?}");
        assert!(shown.contains("10.0.0.2:6379"), "{shown}");
        assert!(!shown.contains("NodeS3cret") && !shown.contains("AllS3cret"));
    }

    #[test]
    fn braces_in_the_key_prefix_are_refused() {
        // Positive control: the default prefix is accepted.
        assert!(RedisConfig::new("redis://h").validate().is_ok());
        for prefix in ["{sso}:", "sso{", "sso}:"] {
            let mut config = RedisConfig::new("redis://h");
            config.key_prefix = prefix.to_owned();
            assert!(
                matches!(config.validate(), Err(StoreError::InvalidConfig(_))),
                "{prefix}"
            );
        }
    }

    #[test]
    fn incomplete_topologies_and_a_zero_wait_timeout_are_refused() {
        let good = SentinelConfig {
            sentinels: vec!["127.0.0.1:26379".to_owned(), "[::1]:26380".to_owned()],
            master_name: "sso".to_owned(),
            ..SentinelConfig::default()
        };
        assert!(RedisConfig::sentinel(good.clone()).validate().is_ok());
        for bad in [
            SentinelConfig {
                master_name: String::new(),
                ..good.clone()
            },
            SentinelConfig {
                sentinels: Vec::new(),
                ..good.clone()
            },
            SentinelConfig {
                sentinels: vec!["127.0.0.1".to_owned()],
                ..good.clone()
            },
            SentinelConfig {
                sentinels: vec!["127.0.0.1:http".to_owned()],
                ..good.clone()
            },
        ] {
            assert!(RedisConfig::sentinel(bad).validate().is_err());
        }
        assert!(
            RedisConfig::cluster(ClusterConfig::default())
                .validate()
                .is_err()
        );

        let mut waiting = RedisConfig::new("redis://h");
        waiting.wait_replicas = 1;
        assert!(waiting.validate().is_ok());
        waiting.wait_timeout = Duration::ZERO;
        assert!(waiting.validate().is_err());
        waiting.wait_replicas = 0;
        assert!(waiting.validate().is_ok());
    }

    #[test]
    fn wait_timeouts_round_up_to_one_millisecond() {
        assert_eq!(wait_millis(Duration::from_micros(10)), 1);
        assert_eq!(wait_millis(Duration::from_millis(150)), 150);
        assert_eq!(wait_millis(Duration::ZERO), 0);
    }
}
