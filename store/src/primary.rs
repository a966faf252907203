//! One primary behind a swappable connection: the standalone endpoint, or the
//! primary that Redis Sentinel designates (issue 7: "follow `+switch-master`,
//! re-resolve on `READONLY` or connection errors, swap the connection manager;
//! never keep writing to a demoted primary").
//!
//! redis-rs' own Sentinel support only resolves the primary once and does not
//! plug into `ConnectionManager`: in a live failover, writes through the old
//! manager kept succeeding on the demoted primary for about 10 s and were then
//! lost. So this module:
//!
//! * resolves the primary by asking the sentinels in turn (`SENTINEL
//!   get-master-addr-by-name`) and checks it with `ROLE` (it must say
//!   `master`);
//! * holds the primary's [`Lanes`] (its connection managers) behind a lock, so
//!   that a switch replaces them at once for every later command;
//! * runs one watcher task per sentinel, subscribed to `+switch-master` (the
//!   first sentinel to announce a switch wins; a dead sentinel is subscribed
//!   to again once it is back), and re-resolves every [`RESOLVE_PERIOD`] in
//!   case every subscription missed an event;
//! * re-resolves (debounced, one at a time) when a command fails with
//!   `READONLY`, a connection error or a timeout;
//! * marks the old lanes *demoted* as soon as it learns of a switch: from then
//!   on every command through them fails fast instead of reaching the old
//!   primary, until the new lanes are in place; for [`DEMOTION_HOLD`] a
//!   sentinel that still names the old primary (and the old primary, which
//!   still answers `ROLE` master until the sentinels reconfigure it) is not
//!   believed. On `+switch-master` the announced primary is checked with
//!   `ROLE` directly, without asking a sentinel that may not know yet.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{
    AsyncConnectionConfig, Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo,
    RedisConnectionInfo, Value,
};
use tokio::task::JoinHandle;

use crate::StoreError;
use crate::census::{Census, online_replicas};
use crate::config::{SentinelConfig, parse_host_port, redact_url, uses_tls};
use crate::redis_store::{classify, ensure_crypto_provider};

/// Reconnection attempts after the first one, within one reconnection round.
/// Kept small: a command waits for the round it finds in progress (bounded by
/// the command timeout), and the next command after a failed round starts a
/// new one, so recovery follows Redis' return within one round.
const RECONNECT_RETRIES: usize = 2;
/// Smallest delay between two reconnection attempts.
const RECONNECT_MIN_DELAY: Duration = Duration::from_millis(25);
/// Largest delay between two reconnection attempts.
const RECONNECT_MAX_DELAY: Duration = Duration::from_millis(250);
/// Shortest interval between two re-resolutions triggered by failures.
const RESOLVE_DEBOUNCE: Duration = Duration::from_millis(250);
/// The watcher re-resolves this often even without an event.
const RESOLVE_PERIOD: Duration = Duration::from_secs(5);
/// Pause before a watcher subscribes again to its sentinel.
const RESUBSCRIBE_DELAY: Duration = Duration::from_millis(500);
/// How long a demoted primary is not trusted again, whatever a sentinel says.
const DEMOTION_HOLD: Duration = Duration::from_secs(10);
/// The Sentinel event announcing a new primary.
const SWITCH_MASTER: &str = "+switch-master";

/// The connection managers of one primary.
pub(crate) struct Lanes {
    /// `host:port` of the primary.
    pub(crate) address: String,
    /// Every command but the one-time writes with `WAIT`.
    pub(crate) main: ConnectionManager,
    /// One-time writes followed by `WAIT` (a slow `WAIT` blocks its connection:
    /// it must not hold up the other commands).
    pub(crate) durable: Option<ConnectionManager>,
    /// Set once this primary is known to be demoted: nothing is sent to it
    /// any more.
    demoted: AtomicBool,
    /// When it was demoted.
    demoted_at: Mutex<Option<Instant>>,
    census: Census<u32>,
}

impl Lanes {
    /// Marks this primary demoted (once).
    fn demote(&self) {
        if !self.demoted.swap(true, Ordering::AcqRel) {
            *self
                .demoted_at
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        }
    }

    /// True while a resolution naming this demoted primary again must be
    /// distrusted: a sentinel may still hold the old configuration, and the
    /// old primary may still answer `ROLE` master, for a few seconds.
    fn recently_demoted(&self) -> bool {
        self.demoted_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|at| at.elapsed() < DEMOTION_HOLD)
    }

    /// Fails when this primary was demoted.
    pub(crate) fn check_current(&self) -> Result<(), StoreError> {
        if self.demoted.load(Ordering::Acquire) {
            Err(StoreError::Unavailable(format!(
                "the Redis primary {} was demoted; switching to the new primary",
                self.address
            )))
        } else {
            Ok(())
        }
    }

    /// Online replicas of this primary (`INFO replication`, cached).
    pub(crate) async fn replicas(&self, command_timeout: Duration) -> Option<u32> {
        if let Some(count) = self.census.fresh() {
            return Some(count);
        }
        match self.fresh_replicas(command_timeout).await {
            Some(count) => Some(count),
            None => self.census.last(),
        }
    }

    /// A fresh count of the online replicas (and the cache refreshed).
    pub(crate) async fn fresh_replicas(&self, command_timeout: Duration) -> Option<u32> {
        let mut connection = self.main.clone();
        let mut cmd = redis::cmd("INFO");
        cmd.arg("replication");
        let info: String = tokio::time::timeout(command_timeout, async {
            cmd.query_async(&mut connection).await
        })
        .await
        .ok()?
        .ok()?;
        let count = online_replicas(&info);
        self.census.store(count);
        Some(count)
    }
}

/// Timeouts shared by every connection of a store.
#[derive(Clone, Copy)]
pub(crate) struct Timeouts {
    pub(crate) connect: Duration,
    pub(crate) command: Duration,
    /// Response timeout of the durable lane (`None`: no durable lane).
    pub(crate) durable: Option<Duration>,
}

/// The current primary, and how to find the next one.
pub(crate) struct PrimaryLink {
    lanes: RwLock<Arc<Lanes>>,
    sentinel: Option<SentinelWatch>,
    timeouts: Timeouts,
}

/// What Sentinel mode adds.
struct SentinelWatch {
    config: SentinelConfig,
    /// The sentinel asked first next time (the last one that answered).
    preferred: AtomicUsize,
    resolving: AtomicBool,
    last_resolution: Mutex<Option<Instant>>,
    watchers: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for PrimaryLink {
    fn drop(&mut self) {
        if let Some(sentinel) = &self.sentinel {
            let watchers = std::mem::take(
                &mut *sentinel
                    .watchers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            for watcher in watchers {
                watcher.abort();
            }
        }
    }
}

impl PrimaryLink {
    /// Connects to a standalone endpoint.
    pub(crate) async fn standalone(url: &str, timeouts: Timeouts) -> Result<Arc<Self>, StoreError> {
        let target = redact_url(url);
        let client = Client::open(url).map_err(|err| {
            StoreError::InvalidConfig(format!("Redis URL {target}: {}", describe(&err)))
        })?;
        if uses_tls(url) {
            ensure_crypto_provider();
        }
        let lanes = open_lanes(client, target, timeouts).await?;
        Ok(Arc::new(Self {
            lanes: RwLock::new(Arc::new(lanes)),
            sentinel: None,
            timeouts,
        }))
    }

    /// Resolves the primary through the sentinels, connects to it and starts
    /// the watcher tasks.
    pub(crate) async fn sentinel(
        config: SentinelConfig,
        timeouts: Timeouts,
    ) -> Result<Arc<Self>, StoreError> {
        if config.tls || config.sentinel_tls {
            ensure_crypto_provider();
        }
        let watch = SentinelWatch {
            config,
            preferred: AtomicUsize::new(0),
            resolving: AtomicBool::new(false),
            last_resolution: Mutex::new(None),
            watchers: Mutex::new(Vec::new()),
        };
        let (host, port) = watch.resolve(timeouts).await?;
        let lanes = watch.open(&host, port, timeouts).await?;
        tracing::info!(
            primary = %lanes.address,
            master_name = %watch.config.master_name,
            "Redis primary found through the sentinels"
        );
        let link = Arc::new(Self {
            lanes: RwLock::new(Arc::new(lanes)),
            sentinel: Some(watch),
            timeouts,
        });
        if let Some(sentinel) = &link.sentinel {
            let mut tasks: Vec<JoinHandle<()>> = (0..sentinel.config.sentinels.len())
                .map(|index| tokio::spawn(watch_sentinel(Arc::downgrade(&link), index)))
                .collect();
            tasks.push(tokio::spawn(resolve_periodically(Arc::downgrade(&link))));
            *sentinel
                .watchers
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = tasks;
        }
        Ok(link)
    }

    /// The lanes of the current primary.
    pub(crate) fn lanes(&self) -> Arc<Lanes> {
        Arc::clone(&self.lanes.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// A command failed in a way that may mean the primary changed: re-resolve
    /// in the background (Sentinel mode only; debounced, one at a time).
    pub(crate) fn on_unavailable(self: &Arc<Self>) {
        let Some(sentinel) = &self.sentinel else {
            return;
        };
        if sentinel.resolving.swap(true, Ordering::AcqRel) {
            return;
        }
        let link = Arc::clone(self);
        tokio::spawn(async move {
            let since = link.sentinel.as_ref().and_then(|sentinel| {
                *sentinel
                    .last_resolution
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
            });
            if let Some(since) = since {
                tokio::time::sleep(RESOLVE_DEBOUNCE.saturating_sub(since.elapsed())).await;
            }
            link.resolve_and_switch().await;
        });
    }

    /// Asks the sentinels for the primary and switches to it when it changed.
    async fn resolve_and_switch(&self) {
        let Some(sentinel) = &self.sentinel else {
            return;
        };
        sentinel.resolving.store(true, Ordering::Release);
        match sentinel.resolve(self.timeouts).await {
            Ok((host, port)) => self.switch_to(sentinel, &host, port).await,
            Err(err) => {
                tracing::warn!(%err, "cannot find the Redis primary through the sentinels");
            }
        }
        *sentinel
            .last_resolution
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        sentinel.resolving.store(false, Ordering::Release);
    }

    /// Replaces the lanes when `host:port` (already checked with `ROLE`) is
    /// not the current primary; the old lanes are marked demoted first. A
    /// demoted primary named again within [`DEMOTION_HOLD`] is not trusted.
    async fn switch_to(&self, sentinel: &SentinelWatch, host: &str, port: u16) {
        let address = format!("{host}:{port}");
        let current = self.lanes();
        if current.address == address {
            if !current.demoted.load(Ordering::Acquire) || current.recently_demoted() {
                return;
            }
        } else {
            current.demote();
        }
        match sentinel.open(host, port, self.timeouts).await {
            Ok(lanes) => {
                tracing::warn!(
                    old = %current.address,
                    new = %lanes.address,
                    "the Redis primary changed: commands now go to the new primary"
                );
                *self.lanes.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(lanes);
            }
            Err(err) => {
                tracing::warn!(new = %address, %err, "cannot connect to the new Redis primary");
            }
        }
    }
}

impl SentinelWatch {
    /// The sentinels' address of the primary, checked with `ROLE`; asks each
    /// sentinel in turn, starting with the last one that answered.
    async fn resolve(&self, timeouts: Timeouts) -> Result<(String, u16), StoreError> {
        let count = self.config.sentinels.len();
        let first = self.preferred.load(Ordering::Relaxed);
        let mut last_error = StoreError::InvalidConfig("no sentinel configured".to_owned());
        for offset in 0..count {
            let index = (first + offset) % count;
            let Some(address) = self.config.sentinels.get(index) else {
                continue;
            };
            match self.ask(address, timeouts).await {
                Ok(primary) => {
                    self.preferred.store(index, Ordering::Relaxed);
                    return Ok(primary);
                }
                Err(err) => {
                    tracing::debug!(sentinel = %address, %err, "sentinel did not give a usable primary");
                    last_error = err;
                }
            }
        }
        Err(last_error)
    }

    /// Asks one sentinel, then checks the answer with `ROLE`.
    async fn ask(&self, sentinel: &str, timeouts: Timeouts) -> Result<(String, u16), StoreError> {
        let mut connection = connect_plain(self.sentinel_info(sentinel)?, timeouts).await?;
        let mut cmd = redis::cmd("SENTINEL");
        cmd.arg("get-master-addr-by-name")
            .arg(&self.config.master_name);
        let reply: Option<(String, u16)> = bounded(
            timeouts.command,
            "sentinel",
            cmd.query_async(&mut connection),
        )
        .await?;
        let (host, port) = reply.ok_or_else(|| {
            StoreError::Unavailable(format!(
                "sentinel {sentinel} does not know the master name {:?}",
                self.config.master_name
            ))
        })?;
        self.check_role(&host, port, timeouts).await?;
        Ok((host, port))
    }

    /// Checks that `host:port` answers `ROLE` master.
    async fn check_role(
        &self,
        host: &str,
        port: u16,
        timeouts: Timeouts,
    ) -> Result<(), StoreError> {
        let mut node = connect_plain(self.node_info(host, port)?, timeouts).await?;
        let role: Value = bounded(
            timeouts.command,
            "role",
            redis::cmd("ROLE").query_async(&mut node),
        )
        .await?;
        if is_master(&role) {
            Ok(())
        } else {
            Err(StoreError::Unavailable(format!(
                "{host}:{port} was named as the primary, but it is not (yet) one"
            )))
        }
    }

    fn sentinel_info(&self, address: &str) -> Result<ConnectionInfo, StoreError> {
        let (host, port) = parse_host_port(address)?;
        connection_info(
            host,
            port,
            self.config.sentinel_tls,
            self.config.sentinel_username.as_deref(),
            self.config.sentinel_password.as_deref(),
            0,
        )
    }

    fn node_info(&self, host: &str, port: u16) -> Result<ConnectionInfo, StoreError> {
        connection_info(
            host.to_owned(),
            port,
            self.config.tls,
            self.config.username.as_deref(),
            self.config.password.as_deref(),
            self.config.db,
        )
    }

    /// Connection managers to the primary at `host:port`.
    async fn open(&self, host: &str, port: u16, timeouts: Timeouts) -> Result<Lanes, StoreError> {
        let info = self.node_info(host, port)?;
        let client = Client::open(info).map_err(|err| {
            StoreError::InvalidConfig(format!("Redis primary {host}:{port}: {}", describe(&err)))
        })?;
        open_lanes(client, format!("{host}:{port}"), timeouts).await
    }
}

/// One watcher task per sentinel: follows `+switch-master` on it, and
/// subscribes again after [`RESUBSCRIBE_DELAY`] when it dies; ends when the
/// store is dropped.
async fn watch_sentinel(link: Weak<PrimaryLink>, index: usize) {
    loop {
        let subscription = {
            let Some(strong) = link.upgrade() else {
                return;
            };
            let Some(sentinel) = &strong.sentinel else {
                return;
            };
            let Some(address) = sentinel.config.sentinels.get(index).cloned() else {
                return;
            };
            match subscribe(sentinel, &address, strong.timeouts).await {
                Ok(pubsub) => {
                    // Catch up with a switch that happened while unsubscribed.
                    strong.resolve_and_switch().await;
                    Some((pubsub, address))
                }
                Err(err) => {
                    tracing::debug!(sentinel = %address, %err, "cannot subscribe to the sentinel");
                    None
                }
            }
        };
        if let Some((pubsub, address)) = subscription {
            let mut messages = pubsub.into_on_message();
            while let Some(message) = messages.next().await {
                let Some(strong) = link.upgrade() else {
                    return;
                };
                let payload: String = message.get_payload().unwrap_or_default();
                strong.on_switch_master(&payload).await;
            }
            tracing::debug!(sentinel = %address, "lost the sentinel subscription");
        }
        tokio::time::sleep(RESUBSCRIBE_DELAY).await;
    }
}

/// Re-resolves every [`RESOLVE_PERIOD`], in case every subscription missed an
/// event; ends when the store is dropped.
async fn resolve_periodically(link: Weak<PrimaryLink>) {
    let mut period = tokio::time::interval(RESOLVE_PERIOD);
    period.tick().await;
    loop {
        period.tick().await;
        let Some(strong) = link.upgrade() else {
            return;
        };
        strong.resolve_and_switch().await;
    }
}

impl PrimaryLink {
    /// Handles a `+switch-master` event: the old primary is marked demoted at
    /// once, then the store switches to the new one.
    async fn on_switch_master(&self, payload: &str) {
        let Some(sentinel) = &self.sentinel else {
            return;
        };
        let Some((new_host, port)) = parse_switch_master(payload, &sentinel.config.master_name)
        else {
            return;
        };
        tracing::info!(new = %format!("{new_host}:{port}"), "sentinel announced a new Redis primary");
        // Whatever happens next, the old primary gets nothing more.
        let current = self.lanes();
        if current.address != format!("{new_host}:{port}") {
            current.demote();
        }
        // The announcing sentinel knows best: check the new primary itself
        // rather than asking another sentinel that may not know yet.
        match sentinel.check_role(&new_host, port, self.timeouts).await {
            Ok(()) => self.switch_to(sentinel, &new_host, port).await,
            Err(err) => {
                tracing::debug!(%err, "the announced primary is not ready yet");
                self.resolve_and_switch().await;
            }
        }
    }
}

async fn subscribe(
    sentinel: &SentinelWatch,
    address: &str,
    timeouts: Timeouts,
) -> Result<redis::aio::PubSub, StoreError> {
    let client = Client::open(sentinel.sentinel_info(address)?).map_err(|err| {
        StoreError::InvalidConfig(format!("sentinel {address}: {}", describe(&err)))
    })?;
    let mut pubsub = bounded(timeouts.connect, "subscribe", client.get_async_pubsub()).await?;
    bounded(
        timeouts.command,
        "subscribe",
        pubsub.subscribe(SWITCH_MASTER),
    )
    .await?;
    Ok(pubsub)
}

/// The new primary announced by `+switch-master <name> <old ip> <old port>
/// <new ip> <new port>`, when the event is about `master_name`.
fn parse_switch_master(payload: &str, master_name: &str) -> Option<(String, u16)> {
    let fields: Vec<&str> = payload.split_whitespace().collect();
    let [name, _old_host, _old_port, new_host, new_port] = fields.as_slice() else {
        return None;
    };
    if *name != master_name {
        return None;
    }
    let port = new_port.parse::<u16>().ok()?;
    Some(((*new_host).to_owned(), port))
}

/// True when a `ROLE` reply starts with `master`.
fn is_master(role: &Value) -> bool {
    let Value::Array(fields) = role else {
        return false;
    };
    match fields.first() {
        Some(Value::BulkString(bytes)) => bytes.as_slice() == b"master",
        Some(Value::SimpleString(text)) => text == "master",
        _ => false,
    }
}

fn connection_info(
    host: String,
    port: u16,
    tls: bool,
    username: Option<&str>,
    password: Option<&str>,
    db: i64,
) -> Result<ConnectionInfo, StoreError> {
    let addr = if tls {
        ConnectionAddr::TcpTls {
            host,
            port,
            insecure: false,
            tls_params: None,
        }
    } else {
        ConnectionAddr::Tcp(host, port)
    };
    let mut redis = RedisConnectionInfo::default().set_db(db);
    if let Some(username) = username {
        redis = redis.set_username(username);
    }
    if let Some(password) = password {
        redis = redis.set_password(password);
    }
    let info = addr
        .into_connection_info()
        .map_err(|err| StoreError::InvalidConfig(describe(&err)))?;
    Ok(info.set_redis_settings(redis))
}

/// A short-lived connection (sentinel queries, `ROLE` checks).
async fn connect_plain(
    info: ConnectionInfo,
    timeouts: Timeouts,
) -> Result<MultiplexedConnection, StoreError> {
    let client = Client::open(info).map_err(|err| StoreError::InvalidConfig(describe(&err)))?;
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeouts.connect))
        .set_response_timeout(Some(timeouts.command));
    bounded(
        timeouts.connect,
        "connect",
        client.get_multiplexed_async_connection_with_config(&config),
    )
    .await
}

async fn bounded<T>(
    limit: Duration,
    op: &'static str,
    future: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(classify(op, "", limit, &err)),
        Err(_) => Err(StoreError::Timeout { op, after: limit }),
    }
}

/// The main (and, with `WAIT`, the durable) connection manager of a primary.
async fn open_lanes(
    client: Client,
    address: String,
    timeouts: Timeouts,
) -> Result<Lanes, StoreError> {
    let main = open_manager(&client, &address, timeouts.connect, timeouts.command).await?;
    let durable = match timeouts.durable {
        Some(timeout) => Some(open_manager(&client, &address, timeouts.connect, timeout).await?),
        None => None,
    };
    Ok(Lanes {
        address,
        main,
        durable,
        demoted: AtomicBool::new(false),
        demoted_at: Mutex::new(None),
        census: Census::new(),
    })
}

async fn open_manager(
    client: &Client,
    target: &str,
    connect_timeout: Duration,
    response_timeout: Duration,
) -> Result<ConnectionManager, StoreError> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(connect_timeout))
        .set_response_timeout(Some(response_timeout))
        .set_number_of_retries(RECONNECT_RETRIES)
        .set_min_delay(RECONNECT_MIN_DELAY)
        .set_max_delay(RECONNECT_MAX_DELAY);
    tokio::time::timeout(
        connect_timeout,
        ConnectionManager::new_with_config(client.clone(), config),
    )
    .await
    .map_err(|_| StoreError::Timeout {
        op: "connect",
        after: connect_timeout,
    })?
    .map_err(|err| match classify("connect", "", connect_timeout, &err) {
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
    })
}

/// A description of a client-side error that cannot quote a stored value.
pub(crate) fn describe(err: &redis::RedisError) -> String {
    match err.kind() {
        redis::ErrorKind::Io | redis::ErrorKind::InvalidClientConfig => err.to_string(),
        _ => err.category().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_master_events_name_the_new_primary_of_our_master_only() {
        assert_eq!(
            parse_switch_master("sso 10.0.0.1 6379 10.0.0.2 6380", "sso"),
            Some(("10.0.0.2".to_owned(), 6380))
        );
        assert_eq!(
            parse_switch_master("other 10.0.0.1 6379 10.0.0.2 6380", "sso"),
            None
        );
        assert_eq!(parse_switch_master("sso 10.0.0.1 6379", "sso"), None);
        assert_eq!(
            parse_switch_master("sso 10.0.0.1 6379 10.0.0.2 http", "sso"),
            None
        );
    }

    #[test]
    fn only_a_master_role_is_a_primary() {
        let master = Value::Array(vec![
            Value::BulkString(b"master".to_vec()),
            Value::Int(42),
            Value::Array(Vec::new()),
        ]);
        assert!(is_master(&master));
        let replica = Value::Array(vec![
            Value::BulkString(b"slave".to_vec()),
            Value::BulkString(b"127.0.0.1".to_vec()),
        ]);
        assert!(!is_master(&replica));
        assert!(!is_master(&Value::Nil));
    }
}
