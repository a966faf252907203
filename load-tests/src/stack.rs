//! The local stack the load tool starts itself (issue 6, "Targets"): a
//! Redis server, the simulators in one child process and the gateway in
//! another. The gateway is named `localhost` and the simulators
//! `127.0.0.1`, so that the browsers' cookie jars keep them apart as they
//! would separate hosts (both are loopback names the registry accepts in
//! plain HTTP). Separate processes let the monitor read each one's CPU
//! time from the kernel.
//!
//! Both children are this same binary (`sso-load testbed`, `sso-load
//! gateway`), so one `cargo run` builds everything; the gateway child runs
//! the production server code on the configuration the testbed wrote.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sso_store::testing::RedisServer;
use url::Url;

use crate::monitor::Pids;
use crate::walk::Targets;

/// What the testbed child prints once the configuration is written and
/// the directory imported.
pub const READY_LINE: &str = "sso-load testbed ready";
/// Environment overrides of the configuration (`config.rs`) that must not
/// leak from the operator's shell into the children.
const OVERRIDES: [&str; 3] = ["SSO_PUBLIC_URL", "SSO_LISTEN", "SSO_REDIS_URL"];
/// How long the children may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// Why the local stack did not start.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// Redis did not start.
    #[error("redis: {0}")]
    Redis(String),
    /// No free port.
    #[error("cannot find a free port on {0}: {1}")]
    Port(&'static str, std::io::Error),
    /// A child could not be spawned.
    #[error("cannot start `{what}`: {reason}")]
    Spawn {
        /// Which child.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// A child exited or did not become ready.
    #[error("`{what}` did not become ready: {reason}; see {log}")]
    NotReady {
        /// Which child.
        what: &'static str,
        /// What happened.
        reason: String,
        /// Its log file.
        log: String,
    },
}

/// The running local stack; dropping it stops the children.
pub struct LocalStack {
    /// Where the browsers go.
    pub targets: Targets,
    /// The children's process ids.
    pub pids: Pids,
    /// Redis's URL (for the monitor).
    pub redis_url: String,
    testbed: Child,
    gateway: Child,
    _redis: RedisServer,
}

pub(crate) fn free_port(host: &'static str) -> Result<SocketAddr, StackError> {
    TcpListener::bind((host, 0))
        .and_then(|listener| listener.local_addr())
        .map_err(|err| StackError::Port(host, err))
}

/// A child of this binary, without the configuration overrides, logging
/// at `info` as in production (`SSO_LOAD_CHILD_LOG` overrides it).
pub(crate) fn child(exe: &Path) -> Command {
    let mut command = Command::new(exe);
    for name in OVERRIDES {
        command.env_remove(name);
    }
    let level = std::env::var("SSO_LOAD_CHILD_LOG").unwrap_or_else(|_| "info".into());
    command.env("RUST_LOG", level);
    command
}

pub(crate) fn log_file(dir: &Path, name: &str) -> Result<(std::fs::File, PathBuf), StackError> {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .map(|file| (file, path.clone()))
        .map_err(|err| StackError::Spawn {
            what: "log file",
            reason: format!("{}: {err}", path.display()),
        })
}

pub(crate) fn url(addr: SocketAddr) -> Result<Url, StackError> {
    Url::parse(&format!("http://{addr}/")).map_err(|err| StackError::Spawn {
        what: "url",
        reason: err.to_string(),
    })
}

impl LocalStack {
    /// Starts Redis, the simulators and the gateway; logs and the
    /// generated configuration go under `dir`.
    pub async fn start(dir: &Path) -> Result<Self, StackError> {
        let redis = RedisServer::start()
            .await
            .map_err(|err| StackError::Redis(err.to_string()))?;
        let redis_url = redis.url();
        let exe = std::env::current_exe().map_err(|err| StackError::Spawn {
            what: "sso-load",
            reason: err.to_string(),
        })?;
        let gateway_addr = free_port("127.0.0.1")?;
        let testbed_addr = free_port("127.0.0.1")?;
        let gateway_url = Url::parse(&format!("http://localhost:{}/", gateway_addr.port()))
            .map_err(|err| StackError::Spawn {
                what: "url",
                reason: err.to_string(),
            })?;
        let config_dir = dir.join("stack");
        let mut testbed = start_testbed(
            &exe,
            dir,
            testbed_addr,
            &gateway_url,
            gateway_addr,
            &redis_url,
        )
        .await?;
        let (gateway_log, gateway_log_path) = log_file(dir, "gateway.log")?;
        let mut gateway = child(&exe)
            .arg("gateway")
            .arg("--config")
            .arg(config_dir.join("gateway.toml"))
            .stdout(Stdio::null())
            .stderr(gateway_log)
            .spawn()
            .map_err(|err| {
                let _ = testbed.kill();
                StackError::Spawn {
                    what: "sso-load gateway",
                    reason: err.to_string(),
                }
            })?;
        let targets = Targets {
            gateway: gateway_url,
            testbed: url(testbed_addr)?,
        };
        if let Err(reason) = wait_ready(&targets.gateway, &mut gateway).await {
            let _ = gateway.kill();
            let _ = testbed.kill();
            return Err(StackError::NotReady {
                what: "sso-load gateway",
                reason,
                log: gateway_log_path.display().to_string(),
            });
        }
        Ok(Self {
            pids: Pids {
                gateway: Some(gateway.id()),
                testbed: Some(testbed.id()),
            },
            targets,
            redis_url,
            testbed,
            gateway,
            _redis: redis,
        })
    }
}

/// Starts the simulators' child (`sso-load testbed`), which writes the
/// gateway's configuration into `<dir>/stack` for a gateway at
/// `gateway_url` listening on `gateway_addr`, imports the directory into
/// the Redis at `redis_url`, and prints [`READY_LINE`]; its log goes in
/// `<dir>/testbed.log`.
pub(crate) async fn start_testbed(
    exe: &Path,
    dir: &Path,
    testbed_addr: SocketAddr,
    gateway_url: &Url,
    gateway_addr: SocketAddr,
    redis_url: &str,
) -> Result<Child, StackError> {
    let config_dir = dir.join("stack");
    let (testbed_log, testbed_log_path) = log_file(dir, "testbed.log")?;
    let mut testbed = child(exe)
        .arg("testbed")
        .arg("--listen")
        .arg(testbed_addr.to_string())
        .arg("--gateway-url")
        .arg(gateway_url.as_str())
        .arg("--gateway-listen")
        .arg(gateway_addr.to_string())
        .arg("--redis")
        .arg(redis_url)
        .arg("--config-out")
        .arg(&config_dir)
        .stdout(Stdio::piped())
        .stderr(testbed_log)
        .spawn()
        .map_err(|err| StackError::Spawn {
            what: "sso-load testbed",
            reason: err.to_string(),
        })?;
    let testbed_ready = testbed.stdout.take().map(|out| {
        tokio::task::spawn_blocking(move || {
            BufReader::new(out)
                .lines()
                .map_while(Result::ok)
                .any(|line| line.contains(READY_LINE))
        })
    });
    let ready = match testbed_ready {
        Some(task) => tokio::time::timeout(START_TIMEOUT, task)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false),
        None => false,
    };
    if !ready {
        let _ = testbed.kill();
        return Err(StackError::NotReady {
            what: "sso-load testbed",
            reason: "no ready line".into(),
            log: testbed_log_path.display().to_string(),
        });
    }
    Ok(testbed)
}

/// Waits until the gateway's readiness endpoint answers 200.
pub(crate) async fn wait_ready(gateway: &Url, child: &mut Child) -> Result<(), String> {
    let client = reqwest::Client::new();
    let readyz = gateway.join("readyz").map_err(|err| err.to_string())?;
    let started = Instant::now();
    while started.elapsed() < START_TIMEOUT {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited with {status}"));
        }
        if let Ok(response) = client.get(readyz.clone()).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!("no answer from {readyz} in {START_TIMEOUT:?}"))
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        for child in [&mut self.gateway, &mut self.testbed] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
