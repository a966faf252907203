//! Test harness shared by every crate of the workspace (feature `test-support`):
//! a throw-away `redis-server` per test, as the architecture's "Tests and
//! measurements" section asks (a real Redis started by the test harness).
//!
//! [`RedisServer::start`] picks a free port on 127.0.0.1 (bind to port 0, release
//! it, retry on a collision), runs `redis-server` without persistence in a
//! temporary directory and returns once that very process answers `PING`.
//! [`RedisServer::stop`] and [`RedisServer::restart`] simulate "Redis gone" and
//! "Redis back" on the same port.
//!
//! [`SentinelSet`] (a primary, a replica and three sentinels) and
//! [`ClusterSet`] (three primaries, optionally with a replica each) run the
//! high-availability topologies of issue 7 for failover and cluster tests.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::TlsCertificates;

use crate::redis_store::ensure_crypto_provider;

mod topology;

pub use topology::{ClusterSet, SentinelOptions, SentinelSet};

/// How many ports [`RedisServer::start`] tries before giving up.
const PORT_ATTEMPTS: usize = 5;
/// How long a new `redis-server` may take to answer `PING`.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on one readiness probe.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// Pause between two readiness probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(20);
/// How long [`RedisServer::stop`] waits for the killed process to be reaped.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Lines of the server log quoted in errors.
const LOG_TAIL_LINES: usize = 20;

/// Why a test Redis could not be started.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// `redis-server` is not on `PATH`.
    #[error(
        "redis-server is not installed (not found on PATH): install the Debian package `redis-server`"
    )]
    NotInstalled,

    /// The temporary directory for the server could not be created.
    #[error("cannot create a temporary directory for redis-server: {0}")]
    TempDir(std::io::Error),

    /// No port could be reserved on 127.0.0.1.
    #[error("cannot reserve a free TCP port on 127.0.0.1: {0}")]
    NoFreePort(std::io::Error),

    /// The `redis-server` process could not be spawned.
    #[error("cannot spawn redis-server: {0}")]
    Spawn(std::io::Error),

    /// `kill` could not send a signal to the server.
    #[error("cannot send {signal} to redis-server: {reason}")]
    Signal {
        /// The signal.
        signal: &'static str,
        /// Why.
        reason: String,
    },

    /// The CA certificate of a TLS server could not be read.
    #[error("cannot read the TLS CA certificate {path}: {source}")]
    TlsCa {
        /// The file named in [`TlsFiles::ca_file`].
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },

    /// The server exited before answering `PING`.
    #[error(
        "redis-server on port {port} exited before answering PING ({status}); its log ends with:\n{log}"
    )]
    Exited {
        /// The port it was given.
        port: u16,
        /// Its exit status.
        status: String,
        /// The end of its log file.
        log: String,
    },

    /// The server did not answer `PING` in time.
    #[error(
        "redis-server on port {port} did not answer PING within {waited:?}; its log ends with:\n{log}"
    )]
    NotReady {
        /// The port it was given.
        port: u16,
        /// How long the harness waited.
        waited: Duration,
        /// The end of its log file.
        log: String,
    },

    /// A multi-process topology (Sentinel, Cluster) did not settle in time.
    #[error("test Redis topology not ready: {0}")]
    Topology(String),

    /// Every port tried was taken by another process before Redis could bind it.
    #[error(
        "{attempts} ports in a row were taken by another process before redis-server could bind them"
    )]
    PortCollisions {
        /// How many ports were tried.
        attempts: usize,
    },
}

/// Certificate files for a TLS-only test server.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The server certificate (PEM); it must name `127.0.0.1` in its
    /// subjectAltName, the host of [`RedisServer::url`].
    pub cert_file: PathBuf,
    /// The server's private key (PEM).
    pub key_file: PathBuf,
    /// The CA that issued `cert_file` (PEM), trusted by the readiness probe.
    pub ca_file: PathBuf,
}

/// Options of a test server; the default is a plain server without password.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Required password (`--requirepass`); use URL-safe characters, it is
    /// written verbatim in [`RedisServer::url`].
    pub password: Option<String>,
    /// Serve TLS only (`--tls-port`, no client certificates) with these files.
    pub tls: Option<TlsFiles>,
}

/// A `redis-server` child process on a free 127.0.0.1 port, killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    options: ServerOptions,
    /// The CA certificate (PEM) the readiness probe trusts, for TLS servers.
    ca_pem: Option<Vec<u8>>,
    dir: tempfile::TempDir,
}

/// Why one launch failed.
enum LaunchError {
    /// Another process holds the port: try another one.
    PortTaken,
    Fatal(HarnessError),
}

impl RedisServer {
    /// Starts a plain server: `--port N --save "" --appendonly no --bind
    /// 127.0.0.1` in a temporary directory; returns once it answers `PING`.
    pub async fn start() -> Result<Self, HarnessError> {
        Self::start_with(ServerOptions::default()).await
    }

    /// Starts a server with `options` (password, TLS).
    pub async fn start_with(options: ServerOptions) -> Result<Self, HarnessError> {
        let ca_pem = match &options.tls {
            Some(tls) => {
                Some(
                    std::fs::read(&tls.ca_file).map_err(|source| HarnessError::TlsCa {
                        path: tls.ca_file.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let dir = tempfile::Builder::new()
            .prefix("sso-store-redis-")
            .tempdir()
            .map_err(HarnessError::TempDir)?;
        let mut server = Self {
            child: None,
            port: 0,
            options,
            ca_pem,
            dir,
        };
        for _ in 0..PORT_ATTEMPTS {
            server.port = free_port()?;
            match server.launch().await {
                Ok(()) => return Ok(server),
                Err(LaunchError::PortTaken) => {}
                Err(LaunchError::Fatal(err)) => return Err(err),
            }
        }
        Err(HarnessError::PortCollisions {
            attempts: PORT_ATTEMPTS,
        })
    }

    /// The URL to give [`crate::RedisConfig::url`]: `redis://127.0.0.1:N`, with
    /// `:password@` when a password is set, and `rediss://` for TLS.
    pub fn url(&self) -> String {
        let scheme = if self.options.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        let credentials = self
            .options
            .password
            .as_ref()
            .map(|password| format!(":{password}@"))
            .unwrap_or_default();
        format!("{scheme}://{credentials}127.0.0.1:{}", self.port)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server and waits for it to exit, to simulate "Redis gone".
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // An error means it has already exited.
        let _ = child.kill();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }

    /// Freezes the server (`SIGSTOP`): it keeps its data and its port but
    /// answers nothing, like a Redis that became unreachable.
    pub fn freeze(&self) -> Result<(), HarnessError> {
        self.signal("-STOP")
    }

    /// Resumes a frozen server (`SIGCONT`).
    pub fn thaw(&self) -> Result<(), HarnessError> {
        self.signal("-CONT")
    }

    fn signal(&self, signal: &'static str) -> Result<(), HarnessError> {
        send_signal(self.child.as_ref(), signal)
    }

    /// Stops the server if it runs, then starts it again on the same port (its
    /// data is gone: nothing is persisted).
    pub async fn restart(&mut self) -> Result<(), HarnessError> {
        self.stop().await;
        match self.launch().await {
            Ok(()) => Ok(()),
            Err(LaunchError::PortTaken) => Err(HarnessError::PortCollisions { attempts: 1 }),
            Err(LaunchError::Fatal(err)) => Err(err),
        }
    }

    fn log_file(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// Spawns `redis-server` on `self.port` and waits until it answers.
    async fn launch(&mut self) -> Result<(), LaunchError> {
        let child = self.command().spawn().map_err(|err| {
            LaunchError::Fatal(if err.kind() == std::io::ErrorKind::NotFound {
                HarnessError::NotInstalled
            } else {
                HarnessError::Spawn(err)
            })
        })?;
        let pid = child.id();
        self.child = Some(child);
        let result = self.wait_ready(pid).await;
        if result.is_err() {
            self.stop().await;
        }
        result
    }

    fn command(&self) -> Command {
        let port = self.port.to_string();
        let mut command = Command::new("redis-server");
        command
            .current_dir(self.dir.path())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--protected-mode", "yes"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(self.log_file());
        match &self.options.tls {
            None => {
                command.args(["--port", &port]);
            }
            Some(tls) => {
                command
                    .args(["--port", "0", "--tls-port", &port])
                    .args(["--tls-auth-clients", "no"])
                    .arg("--tls-cert-file")
                    .arg(&tls.cert_file)
                    .arg("--tls-key-file")
                    .arg(&tls.key_file);
            }
        }
        if let Some(password) = &self.options.password {
            command.args(["--requirepass", password]);
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    /// Polls until the process `pid` answers on the port; reports a port taken by
    /// another process (bind failure, or a different server answering).
    async fn wait_ready(&mut self, pid: u32) -> Result<(), LaunchError> {
        let started = Instant::now();
        loop {
            let exited = match self.child.as_mut().map(Child::try_wait) {
                Some(Ok(Some(status))) => Some(status.to_string()),
                Some(Err(err)) => Some(err.to_string()),
                Some(Ok(None)) | None => None,
            };
            if let Some(status) = exited {
                let log = log_tail(&self.log_file());
                if log.contains("Address already in use") {
                    return Err(LaunchError::PortTaken);
                }
                return Err(LaunchError::Fatal(HarnessError::Exited {
                    port: self.port,
                    status,
                    log,
                }));
            }
            match self.probe().await {
                Some(answering) if answering == pid => return Ok(()),
                Some(_) => return Err(LaunchError::PortTaken),
                None => {}
            }
            if started.elapsed() >= READY_TIMEOUT {
                return Err(LaunchError::Fatal(HarnessError::NotReady {
                    port: self.port,
                    waited: READY_TIMEOUT,
                    log: log_tail(&self.log_file()),
                }));
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }

    /// `PING`, then the process id of the server that answered; `None` while
    /// nothing answers.
    async fn probe(&self) -> Option<u32> {
        let client = match &self.ca_pem {
            None => redis::Client::open(self.url()).ok()?,
            Some(ca_pem) => {
                ensure_crypto_provider();
                let certificates = TlsCertificates {
                    client_tls: None,
                    root_cert: Some(ca_pem.clone()),
                };
                redis::Client::build_with_tls(self.url(), certificates).ok()?
            }
        };
        let answer = tokio::time::timeout(PROBE_TIMEOUT, async {
            let mut connection = client.get_multiplexed_async_connection().await?;
            let pong: String = redis::cmd("PING").query_async(&mut connection).await?;
            let info: String = redis::cmd("INFO")
                .arg("server")
                .query_async(&mut connection)
                .await?;
            Ok::<_, redis::RedisError>((pong, info))
        })
        .await;
        match answer {
            Ok(Ok((pong, info))) if pong == "PONG" => info.lines().find_map(|line| {
                line.strip_prefix("process_id:")
                    .and_then(|pid| pid.trim().parse().ok())
            }),
            _ => None,
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Errors mean the process has already exited and been reaped.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port that was free on 127.0.0.1 a moment ago.
pub(crate) fn free_port() -> Result<u16, HarnessError> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(HarnessError::NoFreePort)?;
    let port = listener
        .local_addr()
        .map_err(HarnessError::NoFreePort)?
        .port();
    Ok(port)
}

/// The last lines of the server log, or why it could not be read.
pub(crate) fn log_tail(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(log) => {
            let lines: Vec<&str> = log.lines().collect();
            let start = lines.len().saturating_sub(LOG_TAIL_LINES);
            lines.get(start..).unwrap_or_default().join("\n")
        }
        Err(err) => format!("(no log at {}: {err})", path.display()),
    }
}

/// Sends `signal` (e.g. `-STOP`) to a running child with the `kill` command.
fn send_signal(child: Option<&Child>, signal: &'static str) -> Result<(), HarnessError> {
    let Some(child) = child else {
        return Err(HarnessError::Signal {
            signal,
            reason: "the process is stopped".to_owned(),
        });
    };
    let status = Command::new("kill")
        .arg(signal)
        .arg(child.id().to_string())
        .status()
        .map_err(|e| HarnessError::Signal {
            signal,
            reason: e.to_string(),
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(HarnessError::Signal {
            signal,
            reason: status.to_string(),
        })
    }
}
