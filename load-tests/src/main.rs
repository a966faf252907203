//! `sso-load`: load tests for the rentrée (issue 6). `sso-load run <shape>`
//! starts a local stack (Redis, simulators, gateway: three processes) or
//! targets a staging deployment by URL, drives simulated browsers through
//! the real protocol messages with goose, and writes an HTML report and a
//! text summary; the exit code is 1 when a threshold fails, so that a run
//! can gate a deployment. `sso-load drill` runs the failure drills of
//! issue 7 against a local cluster of three replicas behind HAProxy.

mod attack;
mod drill;
mod monitor;
mod plan;
mod record;
mod report;
mod stack;
mod walk;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use url::Url;

use crate::attack::{Context, StepOutcome};
use crate::monitor::{Monitor, Pids};
use crate::plan::{Mix, Shape, ShapeName, ShapeOptions};
use crate::record::Recorder;
use crate::report::{Run, Thresholds};
use crate::stack::{LocalStack, READY_LINE};
use crate::walk::Targets;

/// Load tests of the SSO gateway.
#[derive(Debug, Parser)]
#[command(name = "sso-load", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a load shape and write its report.
    Run(RunArgs),
    /// Start a local cluster (Sentinel, 3 replicas behind HAProxy) and run
    /// the failure drills under a steady login load.
    Drill(drill::DrillArgs),
    /// Serve the simulators of a local stack (started by `run`).
    #[command(hide = true)]
    Testbed {
        /// Address of the simulators.
        #[arg(long)]
        listen: SocketAddr,
        /// The gateway's public URL.
        #[arg(long)]
        gateway_url: String,
        /// Address the gateway will listen on.
        #[arg(long)]
        gateway_listen: SocketAddr,
        /// Redis URL of the gateway's store.
        #[arg(long)]
        redis: String,
        /// Where to write the gateway's configuration.
        #[arg(long)]
        config_out: PathBuf,
    },
    /// Run the gateway of a local stack (started by `run`).
    #[command(hide = true)]
    Gateway {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The load shape.
    #[arg(value_enum)]
    shape: ShapeName,
    /// Visits per second (the step test's first rate).
    #[arg(long)]
    rate: Option<f64>,
    /// Ramp time, seconds.
    #[arg(long)]
    ramp: Option<u64>,
    /// Hold time, seconds (the step test's time per rate).
    #[arg(long)]
    hold: Option<u64>,
    /// The mix of users (TOML); the shipped `load-tests/mix.toml` if absent.
    #[arg(long)]
    mix: Option<PathBuf>,
    /// Gateway of a staging deployment (with `--testbed`); a local stack if absent.
    #[arg(long, requires = "testbed")]
    gateway: Option<Url>,
    /// Base URL of the staging deployment's simulators (`/testbed/...` under it).
    #[arg(long, requires = "gateway")]
    testbed: Option<Url>,
    /// Redis of the staging deployment, for its counters (optional).
    #[arg(long)]
    redis: Option<String>,
    /// Where to write the report (default `target/load-reports/<shape>-<time>`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Minimum share of successful visits, percent.
    #[arg(long, default_value_t = 99.7)]
    min_success: f64,
    /// Maximum p95 of a whole login, milliseconds.
    #[arg(long, default_value_t = 2000.0)]
    login_p95_ms: f64,
    /// Maximum p99 of each gateway step, milliseconds.
    #[arg(long, default_value_t = 20.0)]
    step_p99_ms: f64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if rustls::crypto::aws_lc_rs::default_provider()
        .install_default()
        .is_err()
    {
        eprintln!("a TLS crypto provider was already installed");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    init_logs();
    match command {
        Command::Run(args) => run(args).await,
        Command::Drill(args) => drill::drill(args).await,
        Command::Testbed {
            listen,
            gateway_url,
            gateway_listen,
            redis,
            config_out,
        } => {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            let testbed = sso_gateway::demo::Testbed::start(
                listener,
                &gateway_url,
                gateway_listen,
                &redis,
                &config_out,
            )
            .await?;
            println!("{READY_LINE}");
            std::io::stdout().flush()?;
            testbed.wait().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Gateway { config } => {
            let loaded = match sso_gateway::config::LoadedConfig::load(&config) {
                Ok(loaded) => loaded,
                Err(problems) => {
                    eprint!("{problems}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            sso_gateway::server::run(&loaded).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} CPUs, {model}")
}

fn default_out(shape: ShapeName) -> PathBuf {
    let name = format!("{shape:?}").to_lowercase();
    let time = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    Path::new("target/load-reports").join(format!("{name}-{time}"))
}

async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mix = Mix::load(args.mix.as_deref())?;
    let thresholds = Thresholds {
        min_success_percent: args.min_success,
        login_p95_ms: args.login_p95_ms,
        step_p99_ms: args.step_p99_ms,
    };
    let out = args.out.clone().unwrap_or_else(|| default_out(args.shape));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let options = ShapeOptions {
        rate: args.rate,
        ramp: args.ramp.map(Duration::from_secs),
        hold: args.hold.map(Duration::from_secs),
    };
    let shape = args.shape.shape(options);

    let (targets, pids, redis_url, stack) = match (args.gateway.clone(), args.testbed.clone()) {
        (Some(gateway), Some(testbed)) => (
            Targets { gateway, testbed },
            Pids::default(),
            args.redis.clone(),
            None,
        ),
        _ => {
            tracing::info!(dir = %out.display(), "starting the local stack");
            let stack = LocalStack::start(&out).await?;
            (
                stack.targets.clone(),
                stack.pids,
                Some(stack.redis_url.clone()),
                Some(stack),
            )
        }
    };
    tracing::info!(gateway = %targets.gateway, testbed = %targets.testbed, "targets");

    let mut parameters = vec![
        (
            "shape".to_owned(),
            format!("{:?}", args.shape).to_lowercase(),
        ),
        (
            "mix".to_owned(),
            args.mix
                .as_ref()
                .map_or("load-tests/mix.toml (built in)".into(), |p| {
                    p.display().to_string()
                }),
        ),
        ("period per user".to_owned(), format!("{} s", mix.period_s)),
        (
            "scenarios (weight)".to_owned(),
            mix.scenarios
                .iter()
                .map(|s| format!("{} ({})", s.name, s.weight))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "target".to_owned(),
            if stack.is_some() {
                format!(
                    "local stack: gateway {}, testbed {}",
                    targets.gateway, targets.testbed
                )
            } else {
                format!("gateway {}, testbed {}", targets.gateway, targets.testbed)
            },
        ),
        ("machine".to_owned(), machine()),
        (
            "started".to_owned(),
            chrono::Utc::now()
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string(),
        ),
    ];
    match &shape {
        Shape::Fixed(segments) => {
            for segment in segments {
                parameters.push((
                    format!("segment {}", segment.name),
                    format!(
                        "{:.1} visits/s ({} users), ramp {} s, hold {} s",
                        segment.rate,
                        mix.users_for(segment.rate),
                        segment.ramp.as_secs(),
                        segment.hold.as_secs()
                    ),
                ));
            }
        }
        Shape::Step(step) => parameters.push((
            "steps".to_owned(),
            format!(
                "from {:.1} visits/s, ×{} each, ramp {} s, hold {} s; then {} s at 50 % and 80 % of capacity",
                step.start,
                step.factor,
                step.ramp.as_secs(),
                step.hold.as_secs(),
                step.confirm.as_secs()
            ),
        )),
    }

    let scenarios = mix
        .scenarios
        .iter()
        .map(|s| (s.name.clone(), s.description.clone()))
        .collect();
    let context = attack::install(Context {
        mix,
        targets,
        recorder: Recorder::new(),
    })?;
    let monitor = Arc::new(tokio::sync::Mutex::new(
        Monitor::new(pids, redis_url.as_deref()).await,
    ));
    let counters = Arc::new(Mutex::new(Vec::new()));
    let mut step_result: Option<(Vec<StepOutcome>, Option<f64>)> = None;
    match shape {
        Shape::Fixed(segments) => {
            attack::run_segments(
                context,
                &segments,
                Arc::clone(&monitor),
                Arc::clone(&counters),
            )
            .await?;
        }
        Shape::Step(step) => {
            step_result = Some(
                attack::run_steps(
                    context,
                    step,
                    &thresholds,
                    Arc::clone(&monitor),
                    Arc::clone(&counters),
                )
                .await?,
            );
        }
    }
    let final_counters = monitor.lock().await.read(context.recorder.now_ms()).await;
    drop(stack);
    let mut counters = counters
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    counters.push(final_counters);
    let data = context.recorder.snapshot();
    let report = Run {
        title: format!("{:?}", args.shape).to_lowercase(),
        parameters,
        scenarios,
        data: &data,
        counters: &counters,
        steps: step_result.as_ref().map(|(steps, _)| steps.as_slice()),
        capacity: step_result.as_ref().and_then(|(_, capacity)| *capacity),
        thresholds,
    };
    let summary = report::text(&report);
    let html_path = out.join("report.html");
    std::fs::write(&html_path, report::html(&report))
        .with_context(|| format!("writing {}", html_path.display()))?;
    let text_path = out.join("summary.txt");
    std::fs::write(&text_path, &summary)
        .with_context(|| format!("writing {}", text_path.display()))?;
    print!("{summary}");
    println!(
        "\nReport: {}\nSummary: {}",
        html_path.display(),
        text_path.display()
    );
    let pass = report.verdict().iter().all(|check| check.pass);
    Ok(if pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
