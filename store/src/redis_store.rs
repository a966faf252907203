//! [`RedisStore`]: the production implementation of [`Store`], one Redis endpoint
//! shared by every replica (architecture, "State" and "High availability").
//!
//! * One-time items use Redis' atomic commands: `GETDEL` for [`Store::take`],
//!   `SET NX PX` for [`Store::insert_new`]; sets get `SADD` and `PEXPIRE` in one
//!   `MULTI`.
//! * Every key is prefixed with [`RedisConfig::key_prefix`].
//! * Store unreachable: fail fast. Every command is bounded by
//!   [`RedisConfig::command_timeout`]; errors for which
//!   [`StoreError::is_unavailable`] is true come back instead of a hang, and
//!   `redis::aio::ConnectionManager` reconnects by itself when Redis is back.
//! * `rediss://` URLs use TLS (rustls with aws-lc) and verify the server against
//!   the system roots, or the file named by `SSL_CERT_FILE` when it is set.
//! * The URL may hold a password: it never reaches logs, errors or `Debug`.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, ErrorKind, RedisError, RedisResult, ServerErrorKind, Value};

use crate::store::{effective_ttl, key_kind};
use crate::{BatchWrite, Store, StoreError};

/// Reconnection attempts after the first one, within one reconnection round.
/// Kept small: a command waits for the round it finds in progress (bounded by
/// the command timeout), and the next command after a failed round starts a
/// new one, so recovery follows Redis' return within one round.
const RECONNECT_RETRIES: usize = 2;
/// Smallest delay between two reconnection attempts.
const RECONNECT_MIN_DELAY: Duration = Duration::from_millis(25);
/// Largest delay between two reconnection attempts.
const RECONNECT_MAX_DELAY: Duration = Duration::from_millis(250);

/// Where and how to reach Redis.
#[derive(Clone)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port/db` or `rediss://...` for TLS.
    pub url: String,
    /// Prepended to every key, e.g. `"sso:"`, so that several deployments can
    /// share one Redis.
    pub key_prefix: String,
    /// Bound on establishing the first connection in [`RedisStore::connect`], and
    /// on each reconnection attempt.
    pub connect_timeout: Duration,
    /// Bound on every command, so that "Redis gone" is an error in well under a
    /// second rather than a hang.
    pub command_timeout: Duration,
}

impl RedisConfig {
    /// A configuration for `url` with the gateway's defaults: prefix `"sso:"`,
    /// connect timeout 2 s, command timeout 250 ms.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            key_prefix: "sso:".to_owned(),
            connect_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_millis(250),
        }
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redact_url(&self.url))
            .field("key_prefix", &self.key_prefix)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .finish()
    }
}

/// The URL with its password (user info or `pass=`/`password=` query value)
/// replaced by `***`.
fn redact_url(url: &str) -> String {
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

fn uses_tls(url: &str) -> bool {
    url.split_once("://").is_some_and(|(scheme, _)| {
        scheme.eq_ignore_ascii_case("rediss") || scheme.eq_ignore_ascii_case("valkeys")
    })
}

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
    manager: ConnectionManager,
    key_prefix: String,
    command_timeout: Duration,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("key_prefix", &self.key_prefix)
            .field("command_timeout", &self.command_timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects (bounded by `connect_timeout`). Every later command is bounded by
    /// `command_timeout`, and the connection is re-established by itself after
    /// Redis comes back.
    pub async fn connect(config: RedisConfig) -> Result<Self, StoreError> {
        let target = redact_url(&config.url);
        let client = redis::Client::open(config.url.as_str()).map_err(|err| {
            StoreError::InvalidConfig(format!("Redis URL {target}: {}", describe(&err)))
        })?;
        if uses_tls(&config.url) {
            ensure_crypto_provider();
        }
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.command_timeout))
            .set_number_of_retries(RECONNECT_RETRIES)
            .set_min_delay(RECONNECT_MIN_DELAY)
            .set_max_delay(RECONNECT_MAX_DELAY);
        let manager = tokio::time::timeout(
            config.connect_timeout,
            ConnectionManager::new_with_config(client, manager_config),
        )
        .await
        .map_err(|_| StoreError::Timeout {
            op: "connect",
            after: config.connect_timeout,
        })?
        .map_err(|err| {
            naming_target(
                classify("connect", "", config.connect_timeout, &err),
                &target,
            )
        })?;
        tracing::info!(redis = %target, key_prefix = %config.key_prefix, "connected to the state store");
        Ok(Self {
            manager,
            key_prefix: config.key_prefix,
            command_timeout: config.command_timeout,
        })
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

    /// Sends one command, bounded by the command timeout.
    async fn query<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        key: &str,
        cmd: Cmd,
    ) -> Result<T, StoreError> {
        let mut connection = self.manager.clone();
        self.bounded(
            op,
            key,
            async move { cmd.query_async(&mut connection).await },
        )
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

    /// The same for a pipeline of `len` commands: the command timeout plus
    /// one more per 500 commands.
    async fn bounded_batch<T>(
        &self,
        op: &'static str,
        key: &str,
        len: usize,
        command: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, StoreError> {
        let extra = u32::try_from(len / 500).unwrap_or(u32::MAX);
        let limit = self.command_timeout.saturating_mul(extra.saturating_add(1));
        self.bounded_by(limit, op, key, command).await
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
        tracing::debug!(op, key_kind = key_kind(key), %error, "state store command failed");
        Err(error)
    }
}

/// Adds the (redacted) Redis URL to a connection failure.
fn naming_target(err: StoreError, target: &str) -> StoreError {
    match err {
        StoreError::Unavailable(reason) => {
            StoreError::Unavailable(format!("cannot connect to {target}: {reason}"))
        }
        StoreError::Protocol(reason) => {
            StoreError::Protocol(format!("cannot connect to {target}: {reason}"))
        }
        StoreError::InvalidConfig(reason) => {
            StoreError::InvalidConfig(format!("Redis URL {target}: {reason}"))
        }
        other => other,
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
fn classify(op: &'static str, key: &str, after: Duration, err: &RedisError) -> StoreError {
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

/// A description of a client-side error that cannot quote a stored value.
fn describe(err: &RedisError) -> String {
    match err.kind() {
        ErrorKind::Io | ErrorKind::InvalidClientConfig => err.to_string(),
        _ => err.category().to_owned(),
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
        self.query("take", key, self.keyed("GETDEL", key)).await
    }

    async fn insert_new(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError> {
        let mut cmd = self.keyed("SET", key);
        cmd.arg(value).arg("NX").arg("PX").arg(ttl_millis(ttl));
        match self.query("insert_new", key, cmd).await? {
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
        let mut connection = self.manager.clone();
        self.bounded("set_add", key, async move {
            pipeline.query_async::<()>(&mut connection).await
        })
        .await
    }

    async fn set_members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        self.query("set_members", key, self.keyed("SMEMBERS", key))
            .await
    }

    async fn write_batch(&self, writes: &[BatchWrite], ttl: Duration) -> Result<(), StoreError> {
        let Some(first) = writes.first() else {
            return Ok(());
        };
        let millis = ttl_millis(ttl);
        let mut pipeline = redis::pipe();
        for write in writes {
            let key = self.full_key(write.key());
            match write {
                BatchWrite::Put { value, .. } => {
                    pipeline
                        .cmd("SET")
                        .arg(&key)
                        .arg(value.as_slice())
                        .arg("PX")
                        .arg(millis)
                        .ignore();
                }
                BatchWrite::Delete { .. } => {
                    pipeline.cmd("UNLINK").arg(&key).ignore();
                }
                BatchWrite::SetAdd { member, .. } => {
                    pipeline
                        .cmd("SADD")
                        .arg(&key)
                        .arg(member)
                        .ignore()
                        .cmd("PEXPIRE")
                        .arg(&key)
                        .arg(millis)
                        .ignore();
                }
                BatchWrite::SetRemove { member, .. } => {
                    pipeline.cmd("SREM").arg(&key).arg(member).ignore();
                }
            }
        }
        let mut connection = self.manager.clone();
        self.bounded_batch("write_batch", first.key(), writes.len(), async move {
            pipeline.query_async::<()>(&mut connection).await
        })
        .await
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
        let mut connection = self.manager.clone();
        let (value,): (u64,) = self
            .bounded("incr", key, async move {
                pipeline.query_async(&mut connection).await
            })
            .await?;
        Ok(value)
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let Some(first) = keys.first() else {
            return Ok(Vec::new());
        };
        let mut pipeline = redis::pipe();
        for key in keys {
            pipeline.cmd("GET").arg(self.full_key(key));
        }
        let mut connection = self.manager.clone();
        self.bounded_batch("get_many", first, keys.len(), async move {
            pipeline
                .query_async::<Vec<Option<Vec<u8>>>>(&mut connection)
                .await
        })
        .await
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
