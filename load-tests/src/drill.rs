//! `sso-load drill`: the failure drills of issue 7 ("Failure drills"). It
//! starts a local cluster ([`cluster`]: Redis primary, replica and three
//! Sentinels, the simulators, three gateway replicas behind HAProxy),
//! drives a steady login load through HAProxy, runs the one-time-item and
//! session checkers ([`probe`]) and performs each drill in turn: a
//! baseline period, the fault, a recovery period. [`outcome`] measures
//! each drill (failed logins per population and by kind, the failures in
//! flight on a killed replica, the longest unavailability, the time to
//! recover, tickets accepted twice, sessions lost), judges it against the
//! issue's targets and writes `drills.txt` and `drills.html`.

pub mod cluster;
pub mod outcome;
pub mod probe;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use crate::record::Recorder;
use crate::walk::{Browser, Targets, VisitPlan, Walk, visit};
use cluster::Cluster;
use outcome::{Attempt, DrillRun, Report};
use probe::{REQUEST_TIMEOUT, TicketChecker, check_pool, login_pool, unavailable_page};

/// The drills, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DrillName {
    /// SIGTERM each replica in turn, wait for its exit, start it again.
    RollingRestart,
    /// `kill -9` of one replica, restarted after a while.
    ReplicaKill,
    /// `kill -9` of the Redis primary: Sentinel promotes the replica.
    RedisFailover,
    /// Every Redis data node stopped (SIGSTOP) for a while, then back.
    RedisDown,
    /// The OpenID Connect ÉduConnect's back channel answers 503.
    IdpDown,
}

impl DrillName {
    /// Every drill, in order.
    pub const ALL: [DrillName; 5] = [
        DrillName::RollingRestart,
        DrillName::ReplicaKill,
        DrillName::RedisFailover,
        DrillName::RedisDown,
        DrillName::IdpDown,
    ];

    /// Its name on the command line and in the report.
    pub fn label(self) -> &'static str {
        match self {
            DrillName::RollingRestart => "rolling-restart",
            DrillName::ReplicaKill => "replica-kill",
            DrillName::RedisFailover => "redis-failover",
            DrillName::RedisDown => "redis-down",
            DrillName::IdpDown => "idp-down",
        }
    }
}

/// `sso-load drill` options.
#[derive(Debug, Args)]
pub struct DrillArgs {
    /// Run only these drills (default: all, in order).
    #[arg(long, value_enum, num_args = 1..)]
    pub only: Vec<DrillName>,
    /// Where to write the report and the cluster's logs (default
    /// `target/load-reports/drills-<time>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Logins started per second.
    #[arg(long, default_value_t = 8.0)]
    pub rate: f64,
    /// Seconds of load before each fault.
    #[arg(long, default_value_t = 20)]
    pub baseline: u64,
    /// Seconds of load after each fault.
    #[arg(long, default_value_t = 20)]
    pub recovery: u64,
    /// Seconds a killed replica stays down, and the IdP outage lasts.
    #[arg(long, default_value_t = 10)]
    pub outage: u64,
    /// Seconds Redis stays fully down.
    #[arg(long, default_value_t = 30)]
    pub redis_down: u64,
    /// Browsers logged in before each fault whose sessions are checked after.
    #[arg(long, default_value_t = 12)]
    pub sessions: usize,
}

/// A population of the login load.
pub struct Population {
    /// Name in the report.
    pub name: &'static str,
    /// The IdP's id at the gateway.
    pub idp: &'static str,
    accounts: &'static [&'static str],
    weight: usize,
}

/// The login load's mix: first logins through the ENT, each opening one
/// médiacentre resource.
pub const POPULATIONS: [Population; 3] = [
    Population {
        name: "pupils, ÉduConnect SAML",
        idp: "educonnect",
        accounts: &["eleve.louis", "eleve.emma", "eleve.nathan"],
        weight: 2,
    },
    Population {
        name: "staff, agents' IdP (SAML)",
        idp: "agents",
        accounts: &["prof.blanc", "prof.dubois"],
        weight: 1,
    },
    Population {
        name: "pupils, ÉduConnect OpenID Connect",
        idp: IDP_DOWN,
        accounts: &["eleve.louis", "eleve.emma", "eleve.nathan"],
        weight: 1,
    },
];
/// The IdP the `idp-down` drill takes down (its simulator's path too).
const IDP_DOWN: &str = "educonnect-oidc";
/// Its back-channel paths made to answer 503.
const IDP_DOWN_PATHS: &str = "/token,/userinfo";
/// At most this many logins in flight (beyond, a tick is skipped).
const MAX_IN_FLIGHT: usize = 400;

fn population_of(tick: usize) -> usize {
    let total: usize = POPULATIONS.iter().map(|p| p.weight).sum();
    let mut slot = tick % total.max(1);
    for (index, population) in POPULATIONS.iter().enumerate() {
        if slot < population.weight {
            return index;
        }
        slot -= population.weight;
    }
    0
}

/// The steady login load: one login started every `1 / rate` seconds
/// until `stop`, each in a new browser, recorded as an [`Attempt`].
async fn run_load(
    targets: Targets,
    recorder: Arc<Recorder>,
    attempts: Arc<Mutex<Vec<Attempt>>>,
    rate: f64,
    stop: Arc<AtomicBool>,
) {
    let period = Duration::from_secs_f64(1.0 / rate.clamp(0.1, 1000.0));
    let mut ticker = tokio::time::interval(period);
    let in_flight = Arc::new(AtomicUsize::new(0));
    let mut tick = 0usize;
    while !stop.load(Ordering::SeqCst) {
        ticker.tick().await;
        if in_flight.load(Ordering::SeqCst) >= MAX_IN_FLIGHT {
            continue;
        }
        let population = population_of(tick);
        tick += 1;
        let (targets, recorder, attempts, in_flight) = (
            targets.clone(),
            Arc::clone(&recorder),
            Arc::clone(&attempts),
            Arc::clone(&in_flight),
        );
        in_flight.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let start_ms = recorder.now_ms();
            let error = login(&targets, &recorder, population, tick).await.err();
            let attempt = Attempt {
                start_ms,
                end_ms: recorder.now_ms(),
                population,
                error,
            };
            attempts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(attempt);
            in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

async fn login(
    targets: &Targets,
    recorder: &Recorder,
    population: usize,
    tick: usize,
) -> Result<(), String> {
    let Some(who) = POPULATIONS.get(population) else {
        return Err("no such population".into());
    };
    let browser = Browser::new(REQUEST_TIMEOUT).map_err(|err| err.to_string())?;
    let walk = Walk {
        browser: &browser,
        targets,
        recorder,
    };
    let account = who
        .accounts
        .get(tick % who.accounts.len().max(1))
        .copied()
        .unwrap_or_default();
    let plan = VisitPlan {
        entry: "/testbed/ent/login",
        idp: who.idp,
        account,
        resources: 1,
        offset: tick,
    };
    visit(&walk, plan)
        .await
        .map(|_| ())
        .map_err(|err| err.kind())
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Everything a drill needs while it runs.
struct Bench<'a> {
    cluster: &'a mut Cluster,
    recorder: &'a Recorder,
    checker: &'a TicketChecker,
    args: &'a DrillArgs,
}

impl Bench<'_> {
    fn now(&self) -> u32 {
        self.recorder.now_ms()
    }

    async fn pause(seconds: u64) {
        tokio::time::sleep(Duration::from_secs(seconds)).await;
    }

    /// Baseline, fault, recovery; the checks around them.
    async fn run(&mut self, name: DrillName) -> DrillRun {
        let mut run = DrillRun::new(name, self.now());
        let targets = self.cluster.targets.clone();
        let pool = login_pool(&targets, self.recorder, self.args.sessions).await;
        Self::pause(self.args.baseline).await;
        run.fault_start_ms = self.now();
        if let Err(err) = self.fault(name, &mut run).await {
            run.error = Some(format!("{err:#}"));
        }
        run.fault_end_ms = self.now();
        run.replays_after_fault = self.checker.recheck(&targets, run.start_ms).await;
        Self::pause(self.args.recovery).await;
        run.sessions = check_pool(&pool, &targets, self.recorder).await;
        run.replays = self.checker.recheck(&targets, run.start_ms).await;
        run.end_ms = self.now();
        run
    }

    async fn fault(&mut self, name: DrillName, run: &mut DrillRun) -> anyhow::Result<()> {
        match name {
            DrillName::RollingRestart => {
                for index in 0..self.cluster.replicas.len() {
                    let replica = self.replica_name(index);
                    let from = self.now();
                    run.event(from, format!("SIGTERM {replica}"));
                    self.cluster.stop_replica(index, "TERM").await?;
                    run.event(self.now(), format!("{replica} exited"));
                    self.cluster.start_replica(index).await?;
                    let to = self.now();
                    run.event(to, format!("{replica} ready again"));
                    run.stopped.push((replica, from, to));
                    // Let HAProxy see it up (rise 2 × 500 ms) before the next.
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
            DrillName::ReplicaKill => {
                let index = 1;
                let replica = self.replica_name(index);
                let from = self.now();
                run.event(from, format!("kill -9 {replica}"));
                self.cluster.stop_replica(index, "KILL").await?;
                Self::pause(self.args.outage).await;
                self.cluster.start_replica(index).await?;
                let to = self.now();
                run.event(to, format!("{replica} restarted and ready"));
                run.stopped.push((replica, from, to));
            }
            DrillName::RedisFailover => {
                let old = self.cluster.redis.primary_port().await?;
                run.event(self.now(), format!("kill -9 of the Redis primary (:{old})"));
                self.cluster.redis.kill_node(old);
                let new = self.cluster.redis.wait_new_primary(old).await?;
                run.event(self.now(), format!("Sentinel promoted :{new}"));
                self.cluster.redis.restart_node_as_replica(old).await?;
                run.event(self.now(), format!(":{old} back as a replica"));
            }
            DrillName::RedisDown => {
                let ports = self.cluster.redis.data_ports();
                for port in &ports {
                    self.cluster.redis.freeze_node(*port)?;
                }
                run.event(
                    self.now(),
                    format!("SIGSTOP of every Redis data node ({} nodes)", ports.len()),
                );
                Self::pause(self.args.redis_down).await;
                for port in &ports {
                    self.cluster.redis.thaw_node(*port)?;
                }
                let back = self.now();
                run.redis_back_ms = Some(back);
                run.event(back, "SIGCONT: Redis back".to_owned());
            }
            DrillName::IdpDown => {
                let client = reqwest::Client::new();
                let down = self
                    .cluster
                    .fault_url(IDP_DOWN, &format!("mode=down&paths={IDP_DOWN_PATHS}"))?;
                client.post(down).send().await?.error_for_status()?;
                run.event(
                    self.now(),
                    format!("{IDP_DOWN}: {IDP_DOWN_PATHS} answer 503"),
                );
                run.affected = Some(IDP_DOWN);
                Self::pause(self.args.outage).await;
                let targets = self.cluster.targets.clone();
                run.unavailable_page =
                    Some(unavailable_page(&targets, self.recorder, IDP_DOWN).await);
                let up = self.cluster.fault_url(IDP_DOWN, "mode=none")?;
                client.post(up).send().await?.error_for_status()?;
                run.event(self.now(), format!("{IDP_DOWN} answers again"));
            }
        }
        Ok(())
    }

    fn replica_name(&self, index: usize) -> String {
        self.cluster
            .replicas
            .get(index)
            .map_or_else(|| format!("replica {index}"), |r| r.name.clone())
    }
}

/// Runs the drills and writes the report; exit code 0 when every target
/// holds, 1 when one is missed, 2 when a drill could not run.
pub async fn drill(args: DrillArgs) -> anyhow::Result<ExitCode> {
    let out = args.out.clone().unwrap_or_else(|| {
        let time = chrono::Utc::now().format("%Y%m%d-%H%M%S");
        PathBuf::from(format!("target/load-reports/drills-{time}"))
    });
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let which: Vec<DrillName> = if args.only.is_empty() {
        DrillName::ALL.to_vec()
    } else {
        DrillName::ALL
            .into_iter()
            .filter(|d| args.only.contains(d))
            .collect()
    };
    tracing::info!(dir = %out.display(), "starting the cluster");
    let mut cluster = Cluster::start(&out).await?;
    let recorder = Arc::new(Recorder::new());
    let unix_start_ms = unix_ms().saturating_sub(u64::from(recorder.now_ms()));
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let checker = Arc::new(TicketChecker::new());
    let load = tokio::spawn(run_load(
        cluster.targets.clone(),
        Arc::clone(&recorder),
        Arc::clone(&attempts),
        args.rate,
        Arc::clone(&stop),
    ));
    let checking = {
        let (checker, targets, recorder, stop) = (
            Arc::clone(&checker),
            cluster.targets.clone(),
            Arc::clone(&recorder),
            Arc::clone(&stop),
        );
        tokio::spawn(async move { checker.run(&targets, &recorder, &stop).await })
    };
    let control = checker.control(&cluster.targets, &recorder).await;
    let mut runs = Vec::new();
    for name in which {
        tracing::info!(drill = name.label(), "drill");
        let mut bench = Bench {
            cluster: &mut cluster,
            recorder: &recorder,
            checker: &checker,
            args: &args,
        };
        runs.push(bench.run(name).await);
    }
    stop.store(true, Ordering::SeqCst);
    let _ = load.await;
    let _ = checking.await;
    // Let the logins in flight end and HAProxy flush its log.
    tokio::time::sleep(REQUEST_TIMEOUT).await;
    let haproxy = std::fs::read_to_string(&cluster.haproxy_log).unwrap_or_default();
    drop(cluster);
    let attempts = attempts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let report = Report::build(
        &runs,
        &attempts,
        &outcome::haproxy_lines(&haproxy, unix_start_ms),
        outcome::Parameters {
            command: std::env::args().collect::<Vec<_>>().join(" "),
            rate: args.rate,
            machine: crate::machine(),
            tickets: checker.redeemed.load(Ordering::SeqCst),
            control,
        },
    );
    let text = report.text();
    std::fs::write(out.join("drills.txt"), &text).context("writing drills.txt")?;
    std::fs::write(out.join("drills.html"), report.html()).context("writing drills.html")?;
    print!("{text}");
    println!("\nReport: {}", out.join("drills.html").display());
    Ok(ExitCode::from(report.exit_code()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_follows_the_weights() {
        let counts = (0..40).fold([0usize; 3], |mut counts, tick| {
            counts[population_of(tick)] += 1;
            counts
        });
        assert_eq!(counts, [20, 10, 10]);
    }
}
