//! Multi-process Redis topologies for high-availability tests (issue 7): a
//! [`SentinelSet`] (primary, replica, three sentinels) and a [`ClusterSet`]
//! (three primaries, optionally one replica each), on free 127.0.0.1 ports in
//! a temporary directory, every process killed on drop.
//!
//! Timings are short so that a failover takes a few seconds:
//! `down-after-milliseconds` 1000 and `failover-timeout` 2000 for the
//! sentinels, `cluster-node-timeout` 2000 for the cluster, diskless
//! replication without delay.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::Value;

use super::{HarnessError, free_port, log_tail, send_signal};
use crate::{ClusterConfig, RedisConfig, SentinelConfig};

/// The master name the sentinels monitor.
const MASTER_NAME: &str = "sso-test";
/// How long a topology may take to settle.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a single process may take to answer `PING`.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on one probe.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// Pause between two probes.
const POLL: Duration = Duration::from_millis(50);

/// Options every data node gets: no persistence, fast diskless replication.
const DATA_NODE_ARGS: &[&str] = &[
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--daemonize",
    "no",
    "--protected-mode",
    "no",
    "--repl-diskless-sync",
    "yes",
    "--repl-diskless-sync-delay",
    "0",
    "--repl-diskless-load",
    "swapdb",
];

/// One child process (`redis-server` or `redis-sentinel`) on a fixed port.
struct Process {
    program: &'static str,
    /// Password for the readiness probe.
    password: Option<String>,
    args: Vec<OsString>,
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Process {
    fn new(
        program: &'static str,
        dir: PathBuf,
        port: u16,
        args: Vec<OsString>,
        password: Option<String>,
    ) -> Self {
        Self {
            program,
            password,
            args,
            port,
            dir,
            child: None,
        }
    }

    fn log_file(&self) -> PathBuf {
        self.dir.join("redis.log")
    }

    fn spawn(&mut self) -> Result<(), HarnessError> {
        std::fs::create_dir_all(&self.dir).map_err(HarnessError::TempDir)?;
        let child = Command::new(self.program)
            .current_dir(&self.dir)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| {
                if err.kind() == std::io::ErrorKind::NotFound {
                    HarnessError::NotInstalled
                } else {
                    HarnessError::Spawn(err)
                }
            })?;
        self.child = Some(child);
        Ok(())
    }

    /// `kill -9`, then reaps the process.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Errors mean it has already exited.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn signal(&self, signal: &'static str) -> Result<(), HarnessError> {
        send_signal(self.child.as_ref(), signal)
    }

    /// Waits until the process answers `PING`.
    async fn wait_ready(&mut self) -> Result<(), HarnessError> {
        let started = Instant::now();
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                return Err(HarnessError::Exited {
                    port: self.port,
                    status: status.to_string(),
                    log: log_tail(&self.log_file()),
                });
            }
            if query::<String>(self.port, self.password.as_deref(), &["PING"])
                .await
                .as_deref()
                == Some("PONG")
            {
                return Ok(());
            }
            if started.elapsed() >= READY_TIMEOUT {
                return Err(HarnessError::NotReady {
                    port: self.port,
                    waited: READY_TIMEOUT,
                    log: log_tail(&self.log_file()),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One command to `127.0.0.1:port` (with `password` when set) on a fresh
/// connection; `None` on any failure.
async fn query<T: redis::FromRedisValue>(
    port: u16,
    password: Option<&str>,
    args: &[&str],
) -> Option<T> {
    let credentials = password.map(|p| format!(":{p}@")).unwrap_or_default();
    let client = redis::Client::open(format!("redis://{credentials}127.0.0.1:{port}")).ok()?;
    tokio::time::timeout(PROBE_TIMEOUT, async {
        let mut connection = client.get_multiplexed_async_connection().await.ok()?;
        let mut cmd = redis::cmd(args.first()?);
        for arg in args.get(1..).unwrap_or_default() {
            cmd.arg(*arg);
        }
        cmd.query_async(&mut connection).await.ok()
    })
    .await
    .ok()
    .flatten()
}

/// Polls `check` until it gives a value or [`SETTLE_TIMEOUT`] passes.
async fn settle<T, F, Fut>(what: &str, mut check: F) -> Result<T, HarnessError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if started.elapsed() >= SETTLE_TIMEOUT {
            return Err(HarnessError::Topology(format!(
                "{what}: not done within {SETTLE_TIMEOUT:?}"
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `field:value` lines of an `INFO` reply.
fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines().find_map(|line| {
        line.strip_prefix(field)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(|value| value.trim().to_owned())
    })
}

fn tempdir(prefix: &str) -> Result<tempfile::TempDir, HarnessError> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(HarnessError::TempDir)
}

fn os_args(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// Passwords of a [`SentinelSet`]; the default has none.
#[derive(Debug, Clone, Default)]
pub struct SentinelOptions {
    /// `requirepass` (and `masterauth`) of the data nodes; use URL-safe
    /// characters.
    pub data_password: Option<String>,
    /// `requirepass` of the sentinels (distinct from the data nodes').
    pub sentinel_password: Option<String>,
}

/// A primary, one replica and three sentinels (quorum 2).
pub struct SentinelSet {
    options: SentinelOptions,
    nodes: Vec<Process>,
    sentinels: Vec<Process>,
    dir: tempfile::TempDir,
}

impl SentinelSet {
    /// Starts the five processes and returns once the replica is in sync and
    /// every sentinel knows the replica and the two other sentinels.
    pub async fn start() -> Result<Self, HarnessError> {
        Self::start_with(SentinelOptions::default()).await
    }

    /// The same with passwords on the data nodes and on the sentinels.
    pub async fn start_with(options: SentinelOptions) -> Result<Self, HarnessError> {
        let dir = tempdir("sso-store-sentinel-")?;
        let mut set = Self {
            options,
            nodes: Vec::new(),
            sentinels: Vec::new(),
            dir,
        };
        let primary_port = free_port()?;
        set.start_node(primary_port, None).await?;
        let replica_port = free_port()?;
        set.start_node(replica_port, Some(primary_port)).await?;
        set.wait_replicas_online(primary_port, 1).await?;
        for index in 0..3 {
            let port = free_port()?;
            let sentinel_dir = set.dir.path().join(format!("sentinel-{index}"));
            std::fs::create_dir_all(&sentinel_dir).map_err(HarnessError::TempDir)?;
            let conf = sentinel_dir.join("sentinel.conf");
            std::fs::write(
                &conf,
                sentinel_conf(port, &sentinel_dir, primary_port, &set.options),
            )
            .map_err(HarnessError::TempDir)?;
            let mut process = Process::new(
                "redis-sentinel",
                sentinel_dir,
                port,
                vec![conf.into_os_string()],
                set.options.sentinel_password.clone(),
            );
            process.spawn()?;
            process.wait_ready().await?;
            set.sentinels.push(process);
        }
        let ports: Vec<u16> = set.sentinels.iter().map(|s| s.port).collect();
        let password = set.options.sentinel_password.clone();
        settle("sentinels discovering each other and the replica", || {
            let ports = ports.clone();
            let password = password.clone();
            async move {
                for port in ports {
                    let state = sentinel_master_state(port, password.as_deref()).await?;
                    let ready = state.get("num-other-sentinels").map(String::as_str) == Some("2")
                        && state.get("num-slaves").map(String::as_str) == Some("1");
                    if !ready {
                        return None;
                    }
                }
                Some(())
            }
        })
        .await?;
        Ok(set)
    }

    async fn start_node(&mut self, port: u16, replica_of: Option<u16>) -> Result<(), HarnessError> {
        let node_dir = self.dir.path().join(format!("node-{port}"));
        let mut args = os_args(DATA_NODE_ARGS);
        args.extend(os_args(&["--port", &port.to_string(), "--dir"]));
        args.push(node_dir.clone().into_os_string());
        args.push("--logfile".into());
        args.push(node_dir.join("redis.log").into_os_string());
        if let Some(primary) = replica_of {
            args.extend(os_args(&["--replicaof", "127.0.0.1", &primary.to_string()]));
        }
        if let Some(password) = &self.options.data_password {
            args.extend(os_args(&[
                "--requirepass",
                password,
                "--masterauth",
                password,
            ]));
        }
        let mut process = Process::new(
            "redis-server",
            node_dir,
            port,
            args,
            self.options.data_password.clone(),
        );
        process.spawn()?;
        process.wait_ready().await?;
        self.nodes.retain(|node| node.port != port);
        self.nodes.push(process);
        Ok(())
    }

    /// A Sentinel configuration for this set (`master_name`, the three
    /// sentinels, the passwords), with the defaults of
    /// [`RedisConfig::sentinel`].
    pub fn config(&self) -> RedisConfig {
        RedisConfig::sentinel(SentinelConfig {
            sentinels: self.sentinel_addresses(),
            master_name: MASTER_NAME.to_owned(),
            password: self.options.data_password.clone(),
            sentinel_password: self.options.sentinel_password.clone(),
            ..SentinelConfig::default()
        })
    }

    /// The sentinels as `127.0.0.1:port`.
    pub fn sentinel_addresses(&self) -> Vec<String> {
        self.sentinels
            .iter()
            .map(|sentinel| format!("127.0.0.1:{}", sentinel.port))
            .collect()
    }

    /// The ports of the two data nodes.
    pub fn data_ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|node| node.port).collect()
    }

    /// `redis://[:password@]127.0.0.1:port` of a data node, for direct
    /// checks.
    pub fn node_url(&self, port: u16) -> String {
        let credentials = self
            .options
            .data_password
            .as_ref()
            .map(|password| format!(":{password}@"))
            .unwrap_or_default();
        format!("redis://{credentials}127.0.0.1:{port}")
    }

    /// The primary's port as the first answering sentinel reports it.
    pub async fn primary_port(&self) -> Result<u16, HarnessError> {
        for sentinel in &self.sentinels {
            let password = self.options.sentinel_password.as_deref();
            if let Some(port) = sentinel_primary(sentinel.port, password).await {
                return Ok(port);
            }
        }
        Err(HarnessError::Topology(
            "no sentinel reports a primary".to_owned(),
        ))
    }

    /// The data node that is not `port`.
    pub fn other_node(&self, port: u16) -> Option<u16> {
        self.nodes
            .iter()
            .map(|node| node.port)
            .find(|&other| other != port)
    }

    /// `SENTINEL FAILOVER` on the first running sentinel: a manual failover,
    /// the replica is promoted.
    pub async fn failover(&self) -> Result<(), HarnessError> {
        let index = self
            .sentinels
            .iter()
            .position(|sentinel| sentinel.child.is_some())
            .unwrap_or_default();
        self.failover_via(index).await
    }

    /// `SENTINEL FAILOVER` on the sentinel at `index` (0 to 2).
    pub async fn failover_via(&self, index: usize) -> Result<(), HarnessError> {
        let port = self
            .sentinels
            .get(index)
            .map(|sentinel| sentinel.port)
            .unwrap_or_default();
        let password = self.options.sentinel_password.as_deref();
        let reply: Option<String> =
            query(port, password, &["SENTINEL", "FAILOVER", MASTER_NAME]).await;
        match reply.as_deref() {
            Some("OK") => Ok(()),
            _ => Err(HarnessError::Topology(format!(
                "SENTINEL FAILOVER was refused by sentinel {index}"
            ))),
        }
    }

    /// Waits until every running sentinel reports a primary other than `old`
    /// and that node says `ROLE` master; returns its port.
    pub async fn wait_new_primary(&self, old: u16) -> Result<u16, HarnessError> {
        let ports: Vec<u16> = self.running_sentinels();
        let options = self.options.clone();
        settle("the sentinels promoting a new primary", || {
            let ports = ports.clone();
            let options = options.clone();
            async move {
                let mut agreed = None;
                for port in ports {
                    let primary =
                        sentinel_primary(port, options.sentinel_password.as_deref()).await?;
                    if primary == old || agreed.is_some_and(|seen| seen != primary) {
                        return None;
                    }
                    agreed = Some(primary);
                }
                let primary = agreed?;
                let role: Value =
                    query(primary, options.data_password.as_deref(), &["ROLE"]).await?;
                match role {
                    Value::Array(fields) => match fields.first() {
                        Some(Value::BulkString(bytes)) if bytes == b"master" => Some(primary),
                        _ => None,
                    },
                    _ => None,
                }
            }
        })
        .await
    }

    fn running_sentinels(&self) -> Vec<u16> {
        self.sentinels
            .iter()
            .filter(|sentinel| sentinel.child.is_some())
            .map(|sentinel| sentinel.port)
            .collect()
    }

    /// `kill -9` of the data node on `port`.
    pub fn kill_node(&mut self, port: u16) {
        if let Some(node) = self.nodes.iter_mut().find(|node| node.port == port) {
            node.kill();
        }
    }

    /// `kill -9` of the sentinel at `index` (0 to 2).
    pub fn kill_sentinel(&mut self, index: usize) {
        if let Some(sentinel) = self.sentinels.get_mut(index) {
            sentinel.kill();
        }
    }

    /// Restarts the data node on `port` (empty, no persistence) as a replica
    /// of the current primary, and waits until it is in sync.
    pub async fn restart_node_as_replica(&mut self, port: u16) -> Result<(), HarnessError> {
        let primary = self.primary_port().await?;
        self.kill_node(port);
        self.start_node(port, Some(primary)).await?;
        self.wait_replicas_online(primary, 1).await
    }

    /// Restarts the data node on `port` (empty) as a primary, as when the
    /// whole Redis deployment comes back after an outage.
    pub async fn restart_node_as_primary(&mut self, port: u16) -> Result<(), HarnessError> {
        self.kill_node(port);
        self.start_node(port, None).await
    }

    /// `SIGSTOP` the data node on `port`: it keeps its connections but answers
    /// nothing (a replica that no longer acknowledges).
    pub fn freeze_node(&self, port: u16) -> Result<(), HarnessError> {
        self.node(port)?.signal("-STOP")
    }

    /// `SIGCONT` the data node on `port`.
    pub fn thaw_node(&self, port: u16) -> Result<(), HarnessError> {
        self.node(port)?.signal("-CONT")
    }

    fn node(&self, port: u16) -> Result<&Process, HarnessError> {
        self.nodes
            .iter()
            .find(|node| node.port == port)
            .ok_or_else(|| HarnessError::Topology(format!("no data node on port {port}")))
    }

    /// Waits until the node on `port` has `count` replicas online.
    pub async fn wait_replicas_online(&self, port: u16, count: u32) -> Result<(), HarnessError> {
        let password = self.options.data_password.as_deref();
        settle("replicas coming online", || async move {
            let info: String = query(port, password, &["INFO", "replication"]).await?;
            (crate::census::online_replicas(&info) >= count).then_some(())
        })
        .await
    }
}

fn sentinel_conf(port: u16, dir: &Path, primary_port: u16, options: &SentinelOptions) -> String {
    let mut conf = format!(
        "port {port}\nbind 127.0.0.1\nprotected-mode no\ndaemonize no\n\
         dir \"{dir}\"\nlogfile \"{log}\"\n\
         sentinel monitor {MASTER_NAME} 127.0.0.1 {primary_port} 2\n\
         sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
         sentinel failover-timeout {MASTER_NAME} 2000\n\
         sentinel parallel-syncs {MASTER_NAME} 1\n",
        dir = dir.display(),
        log = dir.join("redis.log").display(),
    );
    if let Some(password) = &options.data_password {
        conf.push_str(&format!("sentinel auth-pass {MASTER_NAME} {password}\n"));
    }
    if let Some(password) = &options.sentinel_password {
        conf.push_str(&format!(
            "requirepass {password}\nsentinel sentinel-pass {password}\n"
        ));
    }
    conf
}

/// `SENTINEL master <name>` as a map.
async fn sentinel_master_state(
    port: u16,
    password: Option<&str>,
) -> Option<HashMap<String, String>> {
    let flat: Vec<String> = query(port, password, &["SENTINEL", "MASTER", MASTER_NAME]).await?;
    Some(
        flat.chunks(2)
            .filter_map(|pair| match pair {
                [name, value] => Some((name.clone(), value.clone())),
                _ => None,
            })
            .collect(),
    )
}

/// The primary's port according to the sentinel on `port`.
async fn sentinel_primary(port: u16, password: Option<&str>) -> Option<u16> {
    let reply: Option<(String, u16)> = query(
        port,
        password,
        &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME],
    )
    .await?;
    reply.map(|(_, port)| port)
}

/// A Redis Cluster of three primaries, optionally with one replica each.
pub struct ClusterSet {
    nodes: Vec<Process>,
    dir: tempfile::TempDir,
}

impl ClusterSet {
    /// Starts the nodes, assigns the slots with `redis-cli --cluster create`,
    /// and returns once every node reports `cluster_state:ok` (and, with
    /// replicas, once every primary has its replica online).
    pub async fn start(with_replicas: bool) -> Result<Self, HarnessError> {
        let dir = tempdir("sso-store-cluster-")?;
        let mut set = Self {
            nodes: Vec::new(),
            dir,
        };
        let count = if with_replicas { 6 } else { 3 };
        for _ in 0..count {
            let port = free_port()?;
            let node_dir = set.dir.path().join(format!("node-{port}"));
            let mut args = os_args(DATA_NODE_ARGS);
            args.extend(os_args(&[
                "--port",
                &port.to_string(),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "2000",
                "--dir",
            ]));
            args.push(node_dir.clone().into_os_string());
            args.push("--logfile".into());
            args.push(node_dir.join("redis.log").into_os_string());
            let mut process = Process::new("redis-server", node_dir, port, args, None);
            process.spawn()?;
            process.wait_ready().await?;
            set.nodes.push(process);
        }
        let mut create: Vec<String> = vec!["--cluster".to_owned(), "create".to_owned()];
        create.extend(
            set.nodes
                .iter()
                .map(|node| format!("127.0.0.1:{}", node.port)),
        );
        create.extend(
            [
                "--cluster-replicas",
                if with_replicas { "1" } else { "0" },
                "--cluster-yes",
            ]
            .map(str::to_owned),
        );
        let output = tokio::task::spawn_blocking(move || {
            Command::new("redis-cli")
                .args(&create)
                .stdin(Stdio::null())
                .output()
        })
        .await
        .map_err(|err| HarnessError::Topology(format!("redis-cli task: {err}")))?
        .map_err(HarnessError::Spawn)?;
        if !output.status.success() {
            return Err(HarnessError::Topology(format!(
                "redis-cli --cluster create failed: {}",
                String::from_utf8_lossy(&output.stdout)
            )));
        }
        let ports: Vec<u16> = set.nodes.iter().map(|node| node.port).collect();
        settle("every node reporting cluster_state:ok", || {
            let ports = ports.clone();
            async move {
                for port in ports {
                    let info: String = query(port, None, &["CLUSTER", "INFO"]).await?;
                    if info_field(&info, "cluster_state").as_deref() != Some("ok") {
                        return None;
                    }
                    if with_replicas {
                        let replication: String =
                            query(port, None, &["INFO", "replication"]).await?;
                        let role = info_field(&replication, "role")?;
                        if role == "master" && crate::census::online_replicas(&replication) < 1 {
                            return None;
                        }
                    }
                }
                Some(())
            }
        })
        .await?;
        Ok(set)
    }

    /// A Cluster configuration naming every node as a seed, with the
    /// defaults of [`RedisConfig::cluster`].
    pub fn config(&self) -> RedisConfig {
        RedisConfig::cluster(ClusterConfig {
            nodes: self.node_urls(),
            ..ClusterConfig::default()
        })
    }

    /// `redis://127.0.0.1:port` of every node.
    pub fn node_urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|node| format!("redis://127.0.0.1:{}", node.port))
            .collect()
    }
}
