//! [`RedisStore`]: the production implementation of [`Store`], shared by every
//! replica (architecture, "State" and "High availability"), over one Redis
//! endpoint, a Sentinel-managed primary ([`crate::primary`]) or a Redis
//! Cluster ([`crate::cluster`]).
//!
//! * One-time items use Redis' atomic commands: `GETDEL` for [`Store::take`],
//!   `SET NX PX` for [`Store::insert_new`]; sets get `SADD` and `PEXPIRE` in one
//!   `MULTI`.
//! * With `wait_replicas > 0`, a one-time write that changed something is
//!   followed by `WAIT`, pipelined in the same request on a dedicated
//!   connection, so that a failover cannot resurrect a consumed ticket; see
//!   [`StoreError::ReplicationTimeout`] for the fail-closed rule.
//! * Every key is prefixed with [`RedisConfig::key_prefix`].
//! * Store unreachable: fail fast. Every command is bounded by
//!   [`RedisConfig::command_timeout`]; errors for which
//!   [`StoreError::is_unavailable`] is true come back instead of a hang, and
//!   the connections are re-established by themselves when Redis is back.
//! * `rediss://` URLs (and `tls = true`) use TLS (rustls with aws-lc) and verify
//!   the server against the system roots, or the file named by `SSL_CERT_FILE`
//!   when it is set.
//! * Passwords never reach logs, errors or `Debug`.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::{
    Cmd, ErrorKind, FromRedisValue, Pipeline, RedisError, RedisFuture, RedisResult,
    ServerErrorKind, Value,
};

use crate::census::WarnLimiter;
use crate::cluster::{ClusterLink, by_slot};
use crate::config::{RedisConfig, Topology, wait_millis};
use crate::primary::{PrimaryLink, Timeouts, describe};
use crate::store::{effective_ttl, key_kind};
use crate::{BatchWrite, Store, StoreError};

/// Makes sure rustls has a process-wide crypto provider before a TLS connection
/// is made: the gateway installs aws-lc at start-up, and this installs the same
/// when nothing did (a test, a tool), instead of letting rustls panic.
pub(crate) fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // An error means another thread installed a provider meanwhile: fine.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

/// The Redis-backed [`Store`]; cheap to share behind an `Arc`.
pub struct RedisStore {
    backend: Backend,
    key_prefix: String,
    command_timeout: Duration,
    wait: Option<WaitPolicy>,
}

/// Where commands go.
enum Backend {
    /// Standalone or Sentinel: one primary, swappable.
    Primary(Arc<PrimaryLink>),
    /// Redis Cluster.
    Cluster(ClusterLink),
}

/// `WAIT` after one-time writes.
struct WaitPolicy {
    replicas: u32,
    timeout: Duration,
    warnings: WarnLimiter,
}

/// Which connection a command uses.
#[derive(Clone, Copy)]
enum Lane {
    Main,
    Durable,
}

/// A connection of either topology.
#[derive(Clone)]
enum Conn {
    Manager(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Manager(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Manager(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Manager(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("key_prefix", &self.key_prefix)
            .field("command_timeout", &self.command_timeout)
            .field("primary", &self.primary())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects (bounded by `connect_timeout`) in the configured topology.
    /// Every later command is bounded by `command_timeout` (plus
    /// `wait_timeout` for the one-time writes followed by `WAIT`), and the
    /// connections are re-established by themselves after Redis comes back;
    /// in Sentinel mode they follow the primary.
    pub async fn connect(config: RedisConfig) -> Result<Self, StoreError> {
        config.validate()?;
        let wait = (config.wait_replicas > 0).then(|| WaitPolicy {
            replicas: config.wait_replicas,
            timeout: config.wait_timeout,
            warnings: WarnLimiter::new(),
        });
        let timeouts = Timeouts {
            connect: config.connect_timeout,
            command: config.command_timeout,
            durable: wait
                .as_ref()
                .map(|wait| config.command_timeout.saturating_add(wait.timeout)),
        };
        let backend = match config.topology {
            Topology::Standalone { url } => {
                Backend::Primary(PrimaryLink::standalone(&url, timeouts).await?)
            }
            Topology::Sentinel(sentinel) => {
                Backend::Primary(PrimaryLink::sentinel(sentinel, timeouts).await?)
            }
            Topology::Cluster(cluster) => Backend::Cluster(
                ClusterLink::connect(
                    &cluster,
                    timeouts.connect,
                    timeouts.command,
                    timeouts.durable,
                )
                .await?,
            ),
        };
        let store = Self {
            backend,
            key_prefix: config.key_prefix,
            command_timeout: config.command_timeout,
            wait,
        };
        tracing::info!(
            primary = store.primary().as_deref().unwrap_or("(cluster)"),
            key_prefix = %store.key_prefix,
            wait_replicas = config.wait_replicas,
            "connected to the state store"
        );
        Ok(store)
    }

    /// `host:port` of the primary commands currently go to (standalone and
    /// Sentinel modes); `None` in Cluster mode.
    pub fn primary(&self) -> Option<String> {
        match &self.backend {
            Backend::Primary(link) => Some(link.lanes().address.clone()),
            Backend::Cluster(_) => None,
        }
    }

    fn full_key(&self, key: &str) -> String {
        format!("{}{key}", self.key_prefix)
    }

    /// `name` applied to the prefixed `key`.
    fn keyed(&self, name: &str, key: &str) -> Cmd {
        let mut cmd = redis::cmd(name);
        cmd.arg(self.full_key(key));
        cmd
    }

    /// The connection for `lane`; fails at once when the primary was demoted.
    fn connection(&self, lane: Lane) -> Result<Conn, StoreError> {
        match &self.backend {
            Backend::Primary(link) => {
                let lanes = link.lanes();
                if let Err(err) = lanes.check_current() {
                    link.on_unavailable();
                    return Err(err);
                }
                let manager = match (lane, &lanes.durable) {
                    (Lane::Durable, Some(durable)) => durable.clone(),
                    _ => lanes.main.clone(),
                };
                Ok(Conn::Manager(manager))
            }
            Backend::Cluster(link) => {
                let connection = match (lane, &link.durable) {
                    (Lane::Durable, Some(durable)) => durable.clone(),
                    _ => link.main.clone(),
                };
                Ok(Conn::Cluster(connection))
            }
        }
    }

    /// Sends one command, bounded by the command timeout.
    async fn query<T: FromRedisValue>(
        &self,
        op: &'static str,
        key: &str,
        cmd: Cmd,
    ) -> Result<T, StoreError> {
        let mut connection = self.connection(Lane::Main)?;
        self.bounded(
            op,
            key,
            async move { cmd.query_async(&mut connection).await },
        )
        .await
    }

    /// Sends one pipeline, bounded by the command timeout.
    async fn query_pipeline<T: FromRedisValue>(
        &self,
        op: &'static str,
        key: &str,
        pipeline: Pipeline,
    ) -> Result<T, StoreError> {
        let mut connection = self.connection(Lane::Main)?;
        self.bounded(op, key, async move {
            pipeline.query_async(&mut connection).await
        })
        .await
    }

    /// Awaits `command` for at most the command timeout, mapping its failure.
    async fn bounded<T>(
        &self,
        op: &'static str,
        key: &str,
        command: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, StoreError> {
        self.bounded_by(self.command_timeout, op, key, command)
            .await
    }

    /// The limit for a batch of `len` commands: the command timeout plus one
    /// more per 500 commands.
    fn batch_limit(&self, len: usize) -> Duration {
        let extra = u32::try_from(len / 500).unwrap_or(u32::MAX);
        self.command_timeout.saturating_mul(extra.saturating_add(1))
    }

    async fn bounded_by<T>(
        &self,
        limit: Duration,
        op: &'static str,
        key: &str,
        command: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, StoreError> {
        let error = match tokio::time::timeout(limit, command).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(err)) => classify(op, key, limit, &err),
            Err(_) => StoreError::Timeout { op, after: limit },
        };
        self.failed(op, key, &error);
        Err(error)
    }

    /// Logs a failure and, when it may mean that the primary changed, lets the
    /// Sentinel link re-resolve it.
    fn failed(&self, op: &'static str, key: &str, error: &StoreError) {
        tracing::debug!(op, key_kind = key_kind(key), %error, "state store command failed");
        if error.is_unavailable()
            && let Backend::Primary(link) = &self.backend
        {
            link.on_unavailable();
        }
    }

    /// Sends the commands `build` makes for each group of `keys` (prefixed)
    /// that may share a pipeline (all of them, or one group per slot in
    /// Cluster mode), concurrently; returns the replies in the order of `keys`.
    /// `first` (unprefixed) names the batch in errors.
    async fn grouped(
        &self,
        op: &'static str,
        first: &str,
        keys: &[&str],
        build: impl Fn(&mut Pipeline, usize),
    ) -> Result<Vec<Value>, StoreError> {
        let groups = match &self.backend {
            Backend::Primary(_) => vec![(0..keys.len()).collect::<Vec<usize>>()],
            Backend::Cluster(_) => by_slot(keys.iter().copied()),
        };
        let mut tasks = tokio::task::JoinSet::new();
        for (group_index, group) in groups.iter().enumerate() {
            let mut pipeline = redis::pipe();
            for &index in group {
                build(&mut pipeline, index);
            }
            let mut connection = self.connection(Lane::Main)?;
            tasks.spawn(async move {
                let replies: RedisResult<Vec<Value>> = pipeline.query_async(&mut connection).await;
                (group_index, replies)
            });
        }
        let limit = self.batch_limit(keys.len());
        let gathered = self
            .bounded_by(limit, op, first, async move {
                let mut per_group = Vec::with_capacity(tasks.len());
                while let Some(joined) = tasks.join_next().await {
                    let (group_index, replies) = joined.map_err(|err| {
                        RedisError::from(std::io::Error::other(format!(
                            "pipeline task ended: {err}"
                        )))
                    })?;
                    per_group.push((group_index, replies?));
                }
                Ok(per_group)
            })
            .await?;
        let mut out = vec![Value::Nil; keys.len()];
        for (group_index, replies) in gathered {
            let Some(group) = groups.get(group_index) else {
                return Err(protocol(op, first, "one reply group per key group"));
            };
            if replies.len() != group.len() {
                return Err(protocol(op, first, "one reply per key"));
            }
            for (&index, reply) in group.iter().zip(replies) {
                if let Some(slot) = out.get_mut(index) {
                    *slot = reply;
                }
            }
        }
        Ok(out)
    }

    /// A one-time write (`cmd` on `key`), followed by `WAIT` when configured.
    /// `applied` tells whether the reply means the write changed something:
    /// only then do the replicas' acknowledgements matter.
    /// The whole operation (replica count, write, `WAIT`, recount) is
    /// bounded by the command timeout plus the `WAIT` timeout.
    async fn one_time(
        &self,
        op: &'static str,
        key: &str,
        cmd: Cmd,
        applied: impl Fn(&Value) -> bool,
    ) -> Result<Value, StoreError> {
        let Some(wait) = &self.wait else {
            return self.query(op, key, cmd).await;
        };
        let limit = self.command_timeout.saturating_add(wait.timeout);
        match tokio::time::timeout(limit, self.one_time_waiting(wait, op, key, cmd, applied)).await
        {
            Ok(outcome) => outcome,
            Err(_) => {
                let error = StoreError::Timeout { op, after: limit };
                self.failed(op, key, &error);
                Err(error)
            }
        }
    }

    async fn one_time_waiting(
        &self,
        wait: &WaitPolicy,
        op: &'static str,
        key: &str,
        cmd: Cmd,
        applied: impl Fn(&Value) -> bool,
    ) -> Result<Value, StoreError> {
        let full_key = self.full_key(key);
        let connected = self.replicas(&full_key, false).await;
        let required = match connected {
            Some(connected) if connected < wait.replicas => {
                self.warn_fewer_replicas(wait, connected);
                connected
            }
            _ => wait.replicas,
        };
        if required == 0 {
            return self.query(op, key, cmd).await;
        }
        let mut pipeline = redis::pipe();
        pipeline
            .add_command(cmd)
            .cmd("WAIT")
            .arg(required)
            .arg(wait_millis(wait.timeout));
        let mut connection = self.connection(Lane::Durable)?;
        let limit = self.command_timeout.saturating_add(wait.timeout);
        let (reply, acked): (Value, u32) = self
            .bounded_by(limit, op, key, async move {
                pipeline.query_async(&mut connection).await
            })
            .await?;
        if !applied(&reply) || acked >= required {
            return Ok(reply);
        }
        // Replicas that went away meanwhile cannot acknowledge anything.
        if let Some(now) = self.replicas(&full_key, true).await
            && acked >= now
        {
            self.warn_fewer_replicas(wait, now);
            return Ok(reply);
        }
        let error = StoreError::ReplicationTimeout {
            op,
            key_kind: key_kind(key).to_owned(),
            acked,
            required,
            after: wait.timeout,
        };
        tracing::warn!(%error, "one-time write not acknowledged by the replicas");
        Err(error)
    }

    /// Online replicas of the primary owning `full_key`: cached, or `fresh`.
    async fn replicas(&self, full_key: &str, fresh: bool) -> Option<u32> {
        match (&self.backend, fresh) {
            (Backend::Primary(link), false) => link.lanes().replicas(self.command_timeout).await,
            (Backend::Primary(link), true) => {
                link.lanes().fresh_replicas(self.command_timeout).await
            }
            (Backend::Cluster(link), false) => link.replicas(full_key).await,
            (Backend::Cluster(link), true) => link.fresh_replicas(full_key).await,
        }
    }

    fn warn_fewer_replicas(&self, wait: &WaitPolicy, connected: u32) {
        if wait.warnings.allow() {
            tracing::warn!(
                connected,
                wait_replicas = wait.replicas,
                "fewer Redis replicas connected than wait_replicas: one-time writes wait for \
                 the replicas that exist"
            );
        }
    }
}

/// TTL in whole milliseconds, as `PX` and `PEXPIRE` take it.
fn ttl_millis(ttl: Duration) -> u64 {
    // At most 100 years in milliseconds: far below `u64::MAX`.
    u64::try_from(effective_ttl(ttl).as_millis()).unwrap_or(u64::MAX)
}

/// The server error code (`WRONGTYPE`, `NOAUTH`, ...), also inside a failed
/// transaction.
fn server_code(err: &RedisError) -> Option<String> {
    if let Some(code) = err.code() {
        return Some(code.to_owned());
    }
    let errors = err.clone().into_server_errors()?;
    errors.first().map(|(_, error)| error.code().to_owned())
}

/// What a failure means for the caller. Only Redis' error codes and I/O errors
/// reach the message: replies that fail to parse may quote a stored value.
pub(crate) fn classify(
    op: &'static str,
    key: &str,
    after: Duration,
    err: &RedisError,
) -> StoreError {
    let subject = subject(op, key);
    if err.is_timeout() {
        return StoreError::Timeout { op, after };
    }
    let code = server_code(err);
    match code.as_deref() {
        Some("WRONGTYPE") => {
            return StoreError::WrongType {
                op,
                key_kind: key_kind(key).to_owned(),
            };
        }
        Some("NOAUTH" | "WRONGPASS") => {
            return StoreError::Unavailable(format!(
                "{subject}: Redis refused the credentials ({})",
                code.as_deref().unwrap_or_default()
            ));
        }
        _ => {}
    }
    match err.kind() {
        ErrorKind::Io => StoreError::Unavailable(format!("{subject}: {err}")),
        ErrorKind::AuthenticationFailed => {
            StoreError::Unavailable(format!("{subject}: Redis refused the credentials"))
        }
        ErrorKind::Server(
            ServerErrorKind::BusyLoading
            | ServerErrorKind::TryAgain
            | ServerErrorKind::MasterDown
            | ServerErrorKind::ReadOnly
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::NoPerm,
        ) => StoreError::Unavailable(format!(
            "{subject}: Redis cannot serve it now ({})",
            code.as_deref().unwrap_or_default()
        )),
        ErrorKind::InvalidClientConfig => StoreError::InvalidConfig(describe(err)),
        ErrorKind::Parse => {
            StoreError::Protocol(format!("{subject}: the reply is not Redis protocol"))
        }
        ErrorKind::UnexpectedReturnType => {
            StoreError::Protocol(format!("{subject}: the reply has an unexpected type"))
        }
        _ => StoreError::Protocol(format!(
            "{subject}: {} ({})",
            err.category(),
            code.as_deref().unwrap_or("no error code")
        )),
    }
}

/// Names an operation in messages: `` `get` on a `session` key ``, or `` `ping` ``
/// for operations without a key.
fn subject(op: &str, key: &str) -> String {
    if key.is_empty() {
        format!("`{op}`")
    } else {
        format!("`{op}` on a `{}` key", key_kind(key))
    }
}

fn protocol(op: &'static str, key: &str, expected: &str) -> StoreError {
    StoreError::Protocol(format!("{}: expected {expected}", subject(op, key)))
}

/// Decodes a reply of a known shape.
fn decode<T: FromRedisValue>(op: &'static str, key: &str, value: Value) -> Result<T, StoreError> {
    T::from_redis_value(value).map_err(|_| protocol(op, key, "another reply type"))
}

#[async_trait::async_trait]
impl Store for RedisStore {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let mut cmd = self.keyed("SET", key);
        cmd.arg(value).arg("PX").arg(ttl_millis(ttl));
        self.query("put", key, cmd).await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.query("get", key, self.keyed("GET", key)).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.query("delete", key, self.keyed("DEL", key)).await
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let reply = self
            .one_time("take", key, self.keyed("GETDEL", key), |reply| {
                !matches!(reply, Value::Nil)
            })
            .await?;
        decode("take", key, reply)
    }

    async fn insert_new(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError> {
        let mut cmd = self.keyed("SET", key);
        cmd.arg(value).arg("NX").arg("PX").arg(ttl_millis(ttl));
        match self
            .one_time("insert_new", key, cmd, |reply| matches!(reply, Value::Okay))
            .await?
        {
            Value::Okay => Ok(true),
            Value::Nil => Ok(false),
            _ => Err(protocol("insert_new", key, "OK or nil")),
        }
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let mut cmd = self.keyed("PEXPIRE", key);
        cmd.arg(ttl_millis(ttl));
        match self.query::<i64>("touch", key, cmd).await? {
            1 => Ok(true),
            0 => Ok(false),
            _ => Err(protocol("touch", key, "0 or 1")),
        }
    }

    async fn set_add(&self, key: &str, member: &str, ttl: Duration) -> Result<(), StoreError> {
        let full_key = self.full_key(key);
        let mut pipeline = redis::pipe();
        pipeline
            .atomic()
            .cmd("SADD")
            .arg(&full_key)
            .arg(member)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&full_key)
            .arg(ttl_millis(ttl))
            .ignore();
        self.query_pipeline("set_add", key, pipeline).await
    }

    async fn set_members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        self.query("set_members", key, self.keyed("SMEMBERS", key))
            .await
    }

    async fn write_batch(&self, writes: &[BatchWrite], ttl: Duration) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let millis = ttl_millis(ttl);
        let full_keys: Vec<String> = writes
            .iter()
            .map(|write| self.full_key(write.key()))
            .collect();
        let keys: Vec<&str> = full_keys.iter().map(String::as_str).collect();
        let first = writes.first().map(BatchWrite::key).unwrap_or_default();
        self.grouped("write_batch", first, &keys, |pipeline, index| {
            let (Some(write), Some(key)) = (writes.get(index), full_keys.get(index)) else {
                return;
            };
            match write {
                BatchWrite::Put { value, .. } => {
                    pipeline
                        .cmd("SET")
                        .arg(key)
                        .arg(value.as_slice())
                        .arg("PX")
                        .arg(millis);
                }
                BatchWrite::Delete { .. } => {
                    pipeline.cmd("UNLINK").arg(key);
                }
                BatchWrite::SetAdd { member, .. } => {
                    // One reply per write: the set's TTL is refreshed by a
                    // script-free second command whose reply is ignored.
                    pipeline
                        .cmd("SADD")
                        .arg(key)
                        .arg(member)
                        .cmd("PEXPIRE")
                        .arg(key)
                        .arg(millis)
                        .ignore();
                }
                BatchWrite::SetRemove { member, .. } => {
                    pipeline.cmd("SREM").arg(key).arg(member);
                }
            }
        })
        .await
        .map(drop)
    }

    async fn incr(&self, key: &str, ttl: Duration) -> Result<u64, StoreError> {
        let full_key = self.full_key(key);
        let mut pipeline = redis::pipe();
        pipeline
            .atomic()
            .cmd("INCR")
            .arg(&full_key)
            .cmd("PEXPIRE")
            .arg(&full_key)
            .arg(ttl_millis(ttl))
            .ignore();
        let (value,): (u64,) = self.query_pipeline("incr", key, pipeline).await?;
        Ok(value)
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let Some(first) = keys.first() else {
            return Ok(Vec::new());
        };
        let full_keys: Vec<String> = keys.iter().map(|key| self.full_key(key)).collect();
        let refs: Vec<&str> = full_keys.iter().map(String::as_str).collect();
        let replies = self
            .grouped("get_many", first, &refs, |pipeline, index| {
                if let Some(key) = full_keys.get(index) {
                    pipeline.cmd("GET").arg(key);
                }
            })
            .await?;
        replies
            .into_iter()
            .map(|reply| decode("get_many", first, reply))
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
        let full_key = self.full_key(key);
        let mut pipeline = redis::pipe();
        pipeline.atomic();
        for (field, by) in increments {
            pipeline
                .cmd("HINCRBY")
                .arg(&full_key)
                .arg(field)
                .arg(*by)
                .ignore();
        }
        pipeline
            .cmd("PEXPIRE")
            .arg(&full_key)
            .arg(ttl_millis(ttl))
            .ignore();
        self.query_pipeline("hincr", key, pipeline).await
    }

    async fn hgetall(&self, key: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let fields: std::collections::HashMap<String, i64> = self
            .query("hgetall", key, self.keyed("HGETALL", key))
            .await?;
        Ok(fields.into_iter().collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let reply: String = self.query("ping", "", redis::cmd("PING")).await?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(protocol("ping", "", "PONG"))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    #[tokio::test]
    async fn a_malformed_url_is_a_configuration_error_without_the_password() {
        let err = RedisStore::connect(RedisConfig::new("redis://user:Sup3rS3cret@/0x"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidConfig(_)), "{err:?}");
        assert!(!format!("{err} {err:?}").contains("Sup3rS3cret"), "{err}");
    }

    #[test]
    fn failures_are_classified_by_what_the_caller_must_do() {
        let after = Duration::from_millis(250);
        let refused = RedisError::from(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert!(classify("get", "session:x", after, &refused).is_unavailable());
        let timed_out = RedisError::from(io::Error::from(io::ErrorKind::TimedOut));
        assert!(matches!(
            classify("get", "session:x", after, &timed_out),
            StoreError::Timeout { op: "get", .. }
        ));
        let loading =
            RedisError::from((ErrorKind::Server(ServerErrorKind::BusyLoading), "loading"));
        assert!(classify("get", "session:x", after, &loading).is_unavailable());
        let parse = RedisError::from((ErrorKind::UnexpectedReturnType, "type"));
        let err = classify("get", "session:s3cr3t", after, &parse);
        assert!(matches!(err, StoreError::Protocol(_)), "{err:?}");
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
    }

    #[test]
    fn ttls_are_sent_in_whole_milliseconds() {
        assert_eq!(ttl_millis(Duration::from_millis(200)), 200);
        assert_eq!(ttl_millis(Duration::ZERO), 1);
    }
}
