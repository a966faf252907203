//! The local cluster of the failure drills (issue 7, "Failure drills"): on
//! 127.0.0.1, a Redis primary, a replica and three Sentinels
//! (`sso_store::testing::SentinelSet`), the simulators (`sso-load testbed`),
//! three gateway replicas (`sso-load gateway`, the code of `sso-gateway
//! serve`, each with its own listen address and `[server]
//! shutdown_delay_seconds = 2`, so that the load balancer sees `/readyz` at
//! 503 before the replica stops accepting) and HAProxy in front of them,
//! whose address is the gateway's public URL.
//!
//! HAProxy's configuration is generated into the output folder: round
//! robin, `option httpchk GET /readyz` every 500 ms, `retry-on
//! conn-failure empty-response response-timeout` with `retries 3` and
//! `option redispatch`. HAProxy 2.6 itself would retry any method on
//! `empty-response` or `response-timeout` (its `retry-on` documentation
//! leaves replay safety to the application), so `http-request
//! disable-l7-retry unless METH_GET` limits those retries to GET and HEAD:
//! a POST (the SAML ACS) that a dying replica had received fails, and only
//! a connection failure (nothing sent) is retried for it. Each request is
//! logged on stdout (into `haproxy.log`) with its accept time, server,
//! status and termination state (a `log-format` of its own, in place of
//! `option httplog`), so that the drills can tell the requests lost on a
//! killed replica.

use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sso_store::Topology;
use sso_store::testing::SentinelSet;
use url::Url;

use crate::stack::{StackError, child, free_port, log_file, start_testbed, url, wait_ready};
use crate::walk::Targets;

/// Number of gateway replicas.
pub const REPLICAS: usize = 3;
/// `[server] shutdown_delay_seconds` of each replica.
const SHUTDOWN_DELAY_S: i64 = 2;
/// `[server] shutdown_grace_seconds` of each replica.
const SHUTDOWN_GRACE_S: i64 = 10;
/// How long HAProxy may take to accept connections.
const HAPROXY_START: Duration = Duration::from_secs(20);
/// How long a stopping replica may take to exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// One gateway replica.
pub struct Replica {
    /// Its server name at HAProxy (`gw1` ...).
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// The running cluster; dropping it stops every process.
pub struct Cluster {
    /// Where browsers go (the gateway is HAProxy's address).
    pub targets: Targets,
    /// The Redis topology.
    pub redis: SentinelSet,
    /// The replicas, in HAProxy's order.
    pub replicas: Vec<Replica>,
    /// HAProxy's request log.
    pub haproxy_log: PathBuf,
    exe: PathBuf,
    testbed: Child,
    haproxy: Child,
}

fn spawn_error(what: &'static str, reason: impl ToString) -> StackError {
    StackError::Spawn {
        what,
        reason: reason.to_string(),
    }
}

/// The testbed's configuration for one replica: Sentinel store, its own
/// listen address, a drain delay for the load balancer.
fn replica_config(base: &toml::Table, addr: SocketAddr, redis: &SentinelSet) -> toml::Table {
    let mut table = base.clone();
    if let Some(toml::Value::Table(server)) = table.get_mut("server") {
        server.insert("listen".into(), addr.to_string().into());
        server.insert("shutdown_delay_seconds".into(), SHUTDOWN_DELAY_S.into());
        server.insert("shutdown_grace_seconds".into(), SHUTDOWN_GRACE_S.into());
    }
    let master_name = match redis.config().topology {
        Topology::Sentinel(sentinel) => sentinel.master_name,
        _ => String::new(),
    };
    let mut store = toml::Table::new();
    store.insert("kind".into(), "redis".into());
    store.insert("mode".into(), "sentinel".into());
    store.insert(
        "sentinels".into(),
        toml::Value::Array(
            redis
                .sentinel_addresses()
                .into_iter()
                .map(toml::Value::from)
                .collect(),
        ),
    );
    store.insert("master_name".into(), master_name.into());
    store.insert("key_prefix".into(), "demo:".into());
    table.insert("store".into(), store.into());
    table
}

/// HAProxy's configuration for `replicas` behind `listen`.
pub fn haproxy_config(listen: SocketAddr, replicas: &[(String, SocketAddr)]) -> String {
    let mut config = format!(
        "global\n\
         \tlog stdout format raw local0\n\
         \tmaxconn 4000\n\
         defaults\n\
         \tmode http\n\
         \tlog global\n\
         \tlog-format \"drill %Ts.%ms %s %ST %tsc %HM %HP\"\n\
         \ttimeout connect 1s\n\
         \ttimeout client 30s\n\
         \ttimeout server 10s\n\
         \ttimeout http-request 10s\n\
         \tretries 3\n\
         \toption redispatch 1\n\
         \tretry-on conn-failure empty-response response-timeout\n\
         frontend public\n\
         \tbind {listen}\n\
         \tdefault_backend gateways\n\
         backend gateways\n\
         \tbalance roundrobin\n\
         \toption httpchk GET /readyz\n\
         \thttp-check expect status 200\n\
         \tdefault-server inter 500ms fastinter 250ms downinter 500ms rise 2 fall 2\n\
         \thttp-request disable-l7-retry unless METH_GET\n\
         \thttp-response set-header X-Replica %s\n"
    );
    for (name, addr) in replicas {
        config.push_str(&format!("\tserver {name} {addr} check\n"));
    }
    config
}

impl Cluster {
    /// Starts everything; logs and configurations go under `dir`.
    pub async fn start(dir: &Path) -> Result<Self, StackError> {
        let redis = SentinelSet::start()
            .await
            .map_err(|err| StackError::Redis(err.to_string()))?;
        let primary = redis
            .primary_port()
            .await
            .map_err(|err| StackError::Redis(err.to_string()))?;
        let exe = std::env::current_exe().map_err(|err| spawn_error("sso-load", err))?;
        let public = free_port("127.0.0.1")?;
        let testbed_addr = free_port("127.0.0.1")?;
        let mut addrs = Vec::new();
        for _ in 0..REPLICAS {
            addrs.push(free_port("127.0.0.1")?);
        }
        let first = *addrs
            .first()
            .ok_or_else(|| spawn_error("replicas", "none"))?;
        let gateway_url = Url::parse(&format!("http://localhost:{}/", public.port()))
            .map_err(|err| spawn_error("url", err))?;
        let mut testbed = start_testbed(
            &exe,
            dir,
            testbed_addr,
            &gateway_url,
            first,
            &redis.node_url(primary),
        )
        .await?;
        let stack = dir.join("stack");
        let base: toml::Table = std::fs::read_to_string(stack.join("gateway.toml"))
            .map_err(|err| spawn_error("gateway.toml", err))
            .and_then(|text| toml::from_str(&text).map_err(|err| spawn_error("gateway.toml", err)))
            .inspect_err(|_| {
                let _ = testbed.kill();
            })?;
        let mut replicas = Vec::new();
        for (index, addr) in addrs.iter().enumerate() {
            let name = format!("gw{}", index + 1);
            let config = stack.join(format!("gateway-{name}.toml"));
            let text = toml::to_string(&replica_config(&base, *addr, &redis))
                .map_err(|err| spawn_error("gateway.toml", err))?;
            std::fs::write(&config, text).map_err(|err| spawn_error("gateway.toml", err))?;
            replicas.push(Replica {
                log: dir.join(format!("{name}.log")),
                name,
                addr: *addr,
                config,
                child: None,
            });
        }
        let haproxy_cfg = dir.join("haproxy.cfg");
        let servers: Vec<(String, SocketAddr)> =
            replicas.iter().map(|r| (r.name.clone(), r.addr)).collect();
        std::fs::write(&haproxy_cfg, haproxy_config(public, &servers))
            .map_err(|err| spawn_error("haproxy.cfg", err))?;
        let (haproxy_out, haproxy_log) = log_file(dir, "haproxy.log")?;
        let (haproxy_err, _) = log_file(dir, "haproxy.err")?;
        let haproxy = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&haproxy_cfg)
            .stdin(Stdio::null())
            .stdout(haproxy_out)
            .stderr(haproxy_err)
            .spawn()
            .map_err(|err| {
                let _ = testbed.kill();
                spawn_error("haproxy", err)
            })?;
        let mut cluster = Self {
            targets: Targets {
                gateway: gateway_url,
                testbed: url(testbed_addr)?,
            },
            redis,
            replicas: Vec::new(),
            haproxy_log,
            exe,
            testbed,
            haproxy,
        };
        for replica in replicas {
            cluster.replicas.push(replica);
            let index = cluster.replicas.len() - 1;
            cluster.start_replica(index).await?;
        }
        cluster.wait_public().await?;
        Ok(cluster)
    }

    /// Waits until HAProxy answers `/readyz` with 200 (a replica is up).
    async fn wait_public(&mut self) -> Result<(), StackError> {
        let readyz = self
            .targets
            .gateway
            .join("readyz")
            .map_err(|err| spawn_error("url", err))?;
        let client = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < HAPROXY_START {
            if let Ok(Some(status)) = self.haproxy.try_wait() {
                return Err(StackError::NotReady {
                    what: "haproxy",
                    reason: format!("exited with {status}"),
                    log: "haproxy.err".into(),
                });
            }
            if let Ok(response) = client.get(readyz.clone()).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(StackError::NotReady {
            what: "haproxy",
            reason: format!("no 200 from {readyz}"),
            log: "haproxy.err".into(),
        })
    }

    /// Starts replica `index` (its log appended to) and waits for its
    /// `/readyz`.
    pub async fn start_replica(&mut self, index: usize) -> Result<(), StackError> {
        let Some(replica) = self.replicas.get_mut(index) else {
            return Err(spawn_error("replica", format!("no replica {index}")));
        };
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&replica.log)
            .map_err(|err| spawn_error("replica log", err))?;
        let mut process = child(&self.exe)
            .arg("gateway")
            .arg("--config")
            .arg(&replica.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|err| spawn_error("sso-load gateway", err))?;
        let direct = url(replica.addr)?;
        if let Err(reason) = wait_ready(&direct, &mut process).await {
            let _ = process.kill();
            return Err(StackError::NotReady {
                what: "sso-load gateway",
                reason,
                log: replica.log.display().to_string(),
            });
        }
        replica.child = Some(process);
        Ok(())
    }

    /// Sends `signal` (`TERM`, `KILL`) to replica `index` and waits until
    /// it has exited.
    pub async fn stop_replica(&mut self, index: usize, signal: &str) -> Result<(), StackError> {
        let Some(mut process) = self.replicas.get_mut(index).and_then(|r| r.child.take()) else {
            return Err(spawn_error(
                "replica",
                format!("replica {index} is not running"),
            ));
        };
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(process.id().to_string())
            .status()
            .map_err(|err| spawn_error("kill", err))?;
        if !status.success() {
            return Err(spawn_error("kill", format!("kill -{signal} failed")));
        }
        let started = Instant::now();
        while started.elapsed() < EXIT_TIMEOUT {
            if let Ok(Some(_)) = process.try_wait() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = process.kill();
        let _ = process.wait();
        Err(spawn_error(
            "replica",
            format!("replica {index} did not exit within {EXIT_TIMEOUT:?} of SIGTERM"),
        ))
    }

    /// The fault switch of the simulated IdP at `idp_path`:
    /// `POST <testbed>/testbed/_faults/<idp_path>/fault?...`.
    pub fn fault_url(&self, idp_path: &str, query: &str) -> Result<Url, url::ParseError> {
        self.targets.testbed.join(&format!(
            "{}/{idp_path}/fault?{query}",
            sso_gateway::demo::FAULTS_PATH.trim_start_matches('/')
        ))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let replicas = self.replicas.iter_mut().filter_map(|r| r.child.as_mut());
        for process in replicas.chain([&mut self.haproxy, &mut self.testbed]) {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haproxy_checks_readiness_and_retries_on_another_replica() {
        let listen: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let servers = [
            ("gw1".to_owned(), "127.0.0.1:9001".parse().unwrap()),
            ("gw2".to_owned(), "127.0.0.1:9002".parse().unwrap()),
        ];
        let config = haproxy_config(listen, &servers);
        for line in [
            "bind 127.0.0.1:8080",
            "option httpchk GET /readyz",
            "retry-on conn-failure empty-response response-timeout",
            "option redispatch 1",
            "retries 3",
            "http-request disable-l7-retry unless METH_GET",
            "server gw1 127.0.0.1:9001 check",
            "server gw2 127.0.0.1:9002 check",
        ] {
            assert!(config.contains(line), "{line} in {config}");
        }
    }
}
