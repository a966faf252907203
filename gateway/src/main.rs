//! `sso-gateway`: serve, demo, check-config, aaf, audit, privacy, probe,
//! slo, export, import.

mod audit_cli;
mod reversibility_cli;
mod slo_cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::sync::Arc;

use sso_directory::import::{Progress, import};
use sso_directory::set::ExportSet;
use sso_directory::store::Directory;
use sso_gateway::aaf;
use sso_gateway::config::{LoadedConfig, StoreConfig};
use sso_gateway::demo::{DemoOptions, DemoStack, DemoStore};
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
    /// What each service receives: for one user, or a CSV summary.
    Registry {
        /// The configuration file.
        #[arg(long, short, env = "SSO_CONFIG")]
        config: PathBuf,
        #[command(subcommand)]
        command: RegistryCommand,
    },
    /// Import and list the resources' subscriptions (kept in the configured Redis).
    Subscriptions {
        /// The configuration file.
        #[arg(long, short, env = "SSO_CONFIG")]
        config: PathBuf,
        #[command(subcommand)]
        command: SubscriptionsCommand,
    },
    /// Import and inspect the AAF directory (kept in the configured Redis).
    Aaf {
        /// The configuration file.
        #[arg(long, short, env = "SSO_CONFIG")]
        config: PathBuf,
        #[command(subcommand)]
        command: AafCommand,
    },
    /// The connection traces: purge, search one person, count a scope.
    Audit {
        /// The configuration file.
        #[arg(long, short, env = "SSO_CONFIG")]
        config: PathBuf,
        #[command(subcommand)]
        command: audit_cli::AuditCommand,
    },
    /// Rights requests: export or forget what the gateway holds about a person.
    Privacy {
        /// The configuration file.
        #[arg(long, short, env = "SSO_CONFIG")]
        config: PathBuf,
        #[command(subcommand)]
        command: audit_cli::PrivacyCommand,
    },
    /// Synthetic login through a test account, recorded as JSON lines.
    Probe(slo_cli::ProbeArgs),
    /// Availability reports against the contractual service levels.
    Slo {
        #[command(subcommand)]
        command: slo_cli::SloCommand,
    },
    /// Write the whole deployment (configuration, keys, subscriptions,
    /// directory) into a folder, in open formats.
    Export(reversibility_cli::ExportArgs),
    /// Restore an export into a new configuration folder and an empty store.
    Import(reversibility_cli::ImportArgs),
}

#[derive(Debug, Subcommand)]
enum RegistryCommand {
    /// What `service` would receive for the person `id` of `academie`, and
    /// why each attribute is released or withheld.
    Explain {
        /// Service id.
        service: String,
        /// Académie code.
        academie: String,
        /// The person's AAF id.
        id: String,
    },
    /// CSV: every attribute each service may receive (for the DPO).
    Summary,
    /// The processing register extract: what data, for which service,
    /// released to whom (Markdown in French for the DPO, JSON or CSV).
    Processing {
        /// Output format.
        #[arg(long, value_enum, default_value = "markdown")]
        format: sso_gateway::processing::Format,
    },
}

#[derive(Debug, Subcommand)]
enum SubscriptionsCommand {
    /// Validate a subscriptions file (JSON, GAR field names) against the
    /// registry and store every subscription; any problem imports nothing.
    Import {
        /// The file.
        file: PathBuf,
    },
    /// List the stored subscriptions.
    List {
        /// Only this school.
        #[arg(long)]
        uai: Option<String>,
        /// Only this resource (`idRessource`).
        #[arg(long)]
        resource: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AafCommand {
    /// Import an export: XML files, a folder or a tar archive, with or
    /// without its bordereau.
    Import {
        /// The files, folder or archive.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Read and check everything, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Apply a complete export above the removal threshold.
        #[arg(long)]
        force: bool,
        /// Académie code, when the files' header has none (or to override it).
        #[arg(long)]
        academie: Option<String>,
    },
    /// Print one person as the gateway sees them.
    Show {
        /// Académie code (e.g. AC-RENNES).
        academie: String,
        /// The person's AAF id.
        id: String,
    },
    /// Generations, last files applied, counts.
    Status,
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
                    .map(|_| sso_gateway::audit::missing_warning(&loaded)),
                Err(problems) => Err(problems),
            };
            match result {
                Ok(warning) => {
                    if let Some(warning) = warning {
                        eprintln!("warning: {warning}");
                    }
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
            let Some(loaded) = load(&config) else {
                return Ok(ExitCode::FAILURE);
            };
            init_logs(loaded.config.server.json_logs);
            server::run(&loaded).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Aaf { config, command } => aaf(&config, command).await,
        Command::Subscriptions { config, command } => subscriptions(&config, command).await,
        Command::Registry { config, command } => registry(&config, command).await,
        Command::Audit { config, command } => audit_cli::audit(&config, command).await,
        Command::Privacy { config, command } => audit_cli::privacy(&config, command).await,
        Command::Probe(args) => slo_cli::probe(args).await,
        Command::Slo { command } => slo_cli::slo(command),
        Command::Export(args) => reversibility_cli::export(args).await,
        Command::Import(args) => reversibility_cli::import(args).await,
        Command::Demo { listen, config_out } => {
            init_logs(false);
            let listener = TcpListener::bind(&listen).await?;
            let options = DemoOptions {
                out_dir: config_out,
                ..DemoOptions::default()
            };
            let stack = DemoStack::start(listener, DemoStore::Memory, options).await?;
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
            stack.wait().await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn aaf(config: &std::path::Path, command: AafCommand) -> anyhow::Result<ExitCode> {
    let Some(loaded) = load(config) else {
        return Ok(ExitCode::FAILURE);
    };
    let store = shared_store(&loaded).await?;
    let directory = Directory::new(Arc::clone(&store));
    match command {
        AafCommand::Import {
            paths,
            dry_run,
            force,
            academie,
        } => {
            let set = ExportSet::open(&paths)?;
            eprintln!(
                "{} {} export of {}, {} files, {} bytes{}",
                set.prefix,
                set.kind.as_str(),
                set.date,
                set.files.len(),
                set.bytes(),
                if set.bordereau_checked {
                    ", bordereau checked"
                } else {
                    ", no bordereau"
                }
            );
            let options = aaf::import_options(&loaded.config.directory, dry_run, force, academie);
            let terminal = std::io::stderr().is_terminal();
            let mut last = String::new();
            let mut show = |progress: Progress| {
                let line = aaf::progress_line(&progress);
                if terminal {
                    eprint!("\r{line}");
                } else if line.get(..22) != last.get(..22) {
                    eprintln!("{line}");
                }
                last = line;
            };
            let result = import(
                store.as_ref(),
                &set,
                &loaded.config.directory.profiles,
                &options,
                &mut show,
            )
            .await;
            if terminal {
                eprintln!();
            }
            match result {
                Ok(report) => {
                    print!("{}", aaf::format_report(&report));
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => {
                    eprintln!("import refused, nothing switched: {error}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        AafCommand::Show { academie, id } => match aaf::show(&directory, &academie, &id).await? {
            Some(text) => {
                print!("{text}");
                Ok(ExitCode::SUCCESS)
            }
            None => {
                eprintln!("no person {id} in the directory of {academie}");
                Ok(ExitCode::FAILURE)
            }
        },
        AafCommand::Status => {
            print!("{}", aaf::status(&directory).await?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The configuration file, its problems printed when it cannot be loaded.
fn load(config: &std::path::Path) -> Option<LoadedConfig> {
    match LoadedConfig::load(config) {
        Ok(loaded) => Some(loaded),
        Err(problems) => {
            eprint!("{problems}");
            None
        }
    }
}

/// The shared Redis store the configuration names (the memory store keeps
/// nothing between processes).
async fn shared_store(loaded: &LoadedConfig) -> anyhow::Result<Arc<dyn sso_store::Store>> {
    if matches!(loaded.config.store, StoreConfig::Memory) {
        anyhow::bail!(
            "[store] kind = \"memory\" keeps nothing between processes: this command writes to the shared Redis"
        );
    }
    Ok(server::connect_store(&loaded.config.store).await?)
}

async fn subscriptions(
    config: &std::path::Path,
    command: SubscriptionsCommand,
) -> anyhow::Result<ExitCode> {
    let Some(loaded) = load(config) else {
        return Ok(ExitCode::FAILURE);
    };
    let store = shared_store(&loaded).await?;
    match command {
        SubscriptionsCommand::Import { file } => {
            let registry = sp_registry::Registry::load_dir(&server::services_dir(&loaded))?;
            let json = std::fs::read_to_string(&file)?;
            match sp_registry::subscription::parse_file(&json, &registry) {
                Ok(parsed) => {
                    sso_gateway::subscriptions::put_all(
                        store.as_ref(),
                        &parsed,
                        chrono::Utc::now().date_naive(),
                    )
                    .await?;
                    println!(
                        "{}: {} subscriptions imported",
                        file.display(),
                        parsed.len()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(problems) => {
                    for problem in &problems {
                        eprintln!("{}: {problem}", file.display());
                    }
                    eprintln!("{} problem(s): nothing imported", problems.len());
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        SubscriptionsCommand::List { uai, resource } => {
            let listed = sso_gateway::subscriptions::list(
                store.as_ref(),
                uai.as_deref(),
                resource.as_deref(),
            )
            .await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({ "abonnements": listed }))?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn registry(config: &std::path::Path, command: RegistryCommand) -> anyhow::Result<ExitCode> {
    let Some(loaded) = load(config) else {
        return Ok(ExitCode::FAILURE);
    };
    let http = sso_gateway::state::http_client()?;
    let prepared = match sso_gateway::state::prepare(&loaded, &http).await {
        Ok(prepared) => prepared,
        Err(problems) => {
            eprint!("{problems}");
            return Ok(ExitCode::FAILURE);
        }
    };
    match command {
        RegistryCommand::Summary => {
            print!("{}", sso_gateway::explain::summary_csv(&prepared.registry));
            Ok(ExitCode::SUCCESS)
        }
        RegistryCommand::Processing { format } => {
            print!(
                "{}",
                sso_gateway::processing::Register::of(&prepared).render(format)?
            );
            Ok(ExitCode::SUCCESS)
        }
        RegistryCommand::Explain {
            service,
            academie,
            id,
        } => {
            let store = shared_store(&loaded).await?;
            match sso_gateway::explain::explain(
                &prepared.registry,
                &store,
                &loaded.config.directory,
                &prepared.identifier_keys,
                &service,
                &academie,
                &id,
            )
            .await
            {
                Ok(text) => {
                    print!("{text}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => {
                    eprintln!("{error}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}
