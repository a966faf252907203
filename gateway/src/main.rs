//! `sso-gateway`: serve, demo, check-config.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sso_gateway::config::LoadedConfig;
use sso_gateway::demo::{DemoStack, DemoStore};
use sso_gateway::server;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// Federated identity and resource-access gateway for schools.
#[derive(Debug, Parser)]
#[command(name = "sso-gateway", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve with a configuration file.
    Serve {
        /// The configuration file.
        #[arg(long, short, env = "SSO_CONFIG")]
        config: PathBuf,
    },
    /// Run the demo: the gateway with simulated identity providers and
    /// services, in memory, in one process.
    Demo {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Keep the generated configuration in this folder.
        #[arg(long)]
        config_out: Option<PathBuf>,
    },
    /// Validate a configuration and every file it points to.
    CheckConfig {
        /// The configuration file.
        #[arg(long, short, env = "SSO_CONFIG")]
        config: PathBuf,
    },
}

fn init_logs(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // aws-lc is the only TLS crypto backend in the graph; installing it
    // explicitly keeps rustls from guessing. An error only means another
    // provider was installed first, which then stays in force.
    if rustls::crypto::aws_lc_rs::default_provider()
        .install_default()
        .is_err()
    {
        tracing::debug!("a TLS crypto provider was already installed");
    }
    match run(cli.command).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::CheckConfig { config } => {
            let http = sso_gateway::state::http_client()?;
            let result = match LoadedConfig::load(&config) {
                Ok(loaded) => sso_gateway::state::prepare(&loaded, &http)
                    .await
                    .map(|_| ()),
                Err(problems) => Err(problems),
            };
            match result {
                Ok(()) => {
                    println!("{}: configuration is valid", config.display());
                    Ok(ExitCode::SUCCESS)
                }
                Err(problems) => {
                    eprint!("{problems}");
                    eprintln!("{} problem(s) found", problems.0.len());
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Serve { config } => {
            let loaded = match LoadedConfig::load(&config) {
                Ok(loaded) => loaded,
                Err(problems) => {
                    eprint!("{problems}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            init_logs(loaded.config.server.json_logs);
            let listen = loaded.config.server.listen.clone();
            let (router, _) = server::build(&loaded, None).await?;
            let listener = TcpListener::bind(&listen).await?;
            tracing::info!(%listen, "sso-gateway listening");
            server::serve(listener, router).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { listen, config_out } => {
            init_logs(false);
            let listener = TcpListener::bind(&listen).await?;
            let stack = DemoStack::build(&listener, DemoStore::Memory, config_out).await?;
            println!();
            println!(
                "Demo ready. Open {}/testbed/ent in a browser.",
                stack.base_url
            );
            println!(
                "Gateway home: {}/   configuration: {}",
                stack.base_url,
                stack.config_path.display()
            );
            println!();
            server::serve(listener, stack.router).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
