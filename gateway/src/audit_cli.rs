//! Command-line front ends of the audit trail and the rights requests
//! (domain reference §5; issue 8): `sso-gateway audit purge|search|count`
//! and `sso-gateway privacy export|forget`. The logic lives in
//! `sso_gateway::audit` and `sso_gateway::privacy`; this module reads
//! arguments, loads the configuration and prints.

use std::path::Path;
use std::process::ExitCode;

use chrono::{NaiveDate, Utc};
use clap::{Args, Subcommand};
use sso_directory::store::Directory;
use sso_gateway::audit::purge::purge;
use sso_gateway::audit::search::{count, level_of, places, search};
use sso_gateway::audit::settings::{AuditSettings, settings};
use sso_gateway::config::LoadedConfig;
use sso_gateway::events::person_references;
use sso_gateway::privacy::{self, Holdings, Person};
use sso_gateway::viewer::{Level, Scope};

/// Who a search or a request is about: a person joined to the directory
/// by académie and AAF id (the key their traces and sessions carry), any
/// other by upstream IdP and subject.
#[derive(Debug, Args)]
pub struct PersonArgs {
    /// Académie code of a person of the directory (with --id).
    #[arg(long, requires = "id", conflicts_with_all = ["idp", "subject"])]
    academie: Option<String>,
    /// AAF id of a person of the directory (with --academie).
    #[arg(long, requires = "academie")]
    id: Option<String>,
    /// Upstream IdP of a person not in the directory (with --subject).
    #[arg(long, requires = "subject")]
    idp: Option<String>,
    /// Subject given by that IdP (with --idp).
    #[arg(long, requires = "idp")]
    subject: Option<String>,
}

impl PersonArgs {
    fn person(self) -> anyhow::Result<Person> {
        match (self.academie, self.id, self.idp, self.subject) {
            (Some(academie), Some(id), None, None) => Ok(Person::Directory { academie, id }),
            (None, None, Some(idp), Some(subject)) => Ok(Person::Upstream { idp, subject }),
            _ => anyhow::bail!("name the person with --academie and --id, or --idp and --subject"),
        }
    }
}

/// `sso-gateway audit ...`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Delete the trace files older than the retention.
    Purge {
        /// The day taken as today (YYYY-MM-DD), default the current UTC day.
        #[arg(long)]
        today: Option<NaiveDate>,
    },
    /// One person's traces over a period.
    Search {
        #[command(flatten)]
        person: PersonArgs,
        #[command(flatten)]
        period: PeriodArgs,
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The distinct people of a scope who logged in over a period.
    Count {
        /// ecole, circonscription, commune, departement, academie or national.
        #[arg(long)]
        level: String,
        /// The area's code (UAI, département code, académie code); none for national.
        #[arg(long, default_value = "")]
        code: String,
        #[command(flatten)]
        period: PeriodArgs,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// The days a search or a count covers.
#[derive(Debug, Args)]
pub struct PeriodArgs {
    /// First day (YYYY-MM-DD, UTC).
    #[arg(long)]
    from: NaiveDate,
    /// Last day (YYYY-MM-DD, UTC), included.
    #[arg(long)]
    to: NaiveDate,
}

/// `sso-gateway privacy ...`.
#[derive(Debug, Subcommand)]
pub enum PrivacyCommand {
    /// Everything the gateway holds about a person, as JSON.
    Export(PersonArgs),
    /// End a person's sessions and remove what may be removed; JSON report
    /// of what was removed and what is kept, and why.
    Forget(PersonArgs),
}

fn audit_settings(loaded: &LoadedConfig) -> anyhow::Result<AuditSettings> {
    match settings(loaded) {
        Ok(Some(settings)) => Ok(settings),
        Ok(None) => anyhow::bail!("{}: no [audit] table, no traces", loaded.path.display()),
        Err(problems) => anyhow::bail!(
            "{}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// Runs `sso-gateway audit ...`.
pub async fn audit(config: &Path, command: AuditCommand) -> anyhow::Result<ExitCode> {
    let Some(loaded) = crate::load(config) else {
        return Ok(ExitCode::FAILURE);
    };
    let audit = audit_settings(&loaded)?;
    match command {
        AuditCommand::Purge { today } => {
            let today = today.unwrap_or_else(|| Utc::now().date_naive());
            let report = purge(&audit.dir, today, audit.keep_previous_years)?;
            for file in &report.deleted {
                println!("deleted {}", file.display());
            }
            for (file, reason) in &report.failed {
                eprintln!("not deleted {}: {reason}", file.display());
            }
            println!(
                "{} file(s) deleted, {} kept (traces from {} on)",
                report.deleted.len(),
                report.kept,
                report
                    .first_day_kept
                    .map_or_else(String::new, |day| day.to_string())
            );
            Ok(if report.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        AuditCommand::Search {
            person,
            period: PeriodArgs { from, to },
            json,
        } => {
            let person = person.person()?;
            let Some(keys) = identifier_keys(&loaded) else {
                return Ok(ExitCode::FAILURE);
            };
            let references = person_references(&keys, &person.key());
            let (traces, read) = search(&audit.dir, from, to, &references)?;
            for trace in &traces {
                if json {
                    println!("{}", trace.to_line()?);
                } else {
                    println!(
                        "{}  {:<6}  {:<14}  {:<20}  {:<22}  {}",
                        trace.time_text(),
                        serde_json::to_value(trace.event)?.as_str().unwrap_or(""),
                        trace.idp,
                        trace.service.as_deref().unwrap_or("-"),
                        trace.outcome,
                        trace.ip.map_or_else(|| "-".to_owned(), |ip| ip.to_string()),
                    );
                }
            }
            eprintln!(
                "{} trace(s); {} file(s) read, {} of {} day(s) with traces, {} unreadable line(s)",
                traces.len(),
                read.files,
                read.days_covered,
                read.days_in_period,
                read.unreadable_lines
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Count {
            level,
            code,
            period: PeriodArgs { from, to },
            json,
        } => {
            let Some(level) = level_of(&level) else {
                anyhow::bail!(
                    "unknown level {level:?}: ecole, circonscription, commune, departement, academie or national"
                );
            };
            if level != Level::National && code.is_empty() {
                anyhow::bail!("--code is required at this level");
            }
            let places = match level {
                Level::Circonscription | Level::Commune | Level::Departement => {
                    let store = crate::shared_store(&loaded).await?;
                    places(&Directory::new(store)).await?
                }
                _ => Default::default(),
            };
            let report = count(&audit.dir, from, to, &Scope { level, code }, &places)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "{} personne(s) distincte(s), {} connexion(s) réussie(s), du {} au {} ; {} jour(s) sur {} avec des traces",
                    report.people,
                    report.logins,
                    report.from,
                    report.to,
                    report.read.days_covered,
                    report.read.days_in_period
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The identifier secrets (current and previous), problems printed.
fn identifier_keys(loaded: &LoadedConfig) -> Option<sp_registry::IdentifierKeys> {
    match sso_gateway::state::identifier_keys(loaded) {
        Ok(keys) => Some(keys),
        Err(problems) => {
            eprint!("{}", sso_gateway::config::ConfigProblems(problems));
            None
        }
    }
}

/// Runs `sso-gateway privacy ...` on the shared store.
pub async fn privacy(config: &Path, command: PrivacyCommand) -> anyhow::Result<ExitCode> {
    let Some(loaded) = crate::load(config) else {
        return Ok(ExitCode::FAILURE);
    };
    let audit = match loaded.config.audit {
        Some(_) => Some(audit_settings(&loaded)?),
        None => None,
    };
    let Some(keys) = identifier_keys(&loaded) else {
        return Ok(ExitCode::FAILURE);
    };
    let store = crate::shared_store(&loaded).await?;
    let directory = Directory::new(std::sync::Arc::clone(&store));
    let session = &loaded.config.session;
    let holdings = Holdings {
        store: store.as_ref(),
        directory: &directory,
        keys: &keys,
        sessions: sso_gateway::session::Sessions::new(
            store.as_ref(),
            std::time::Duration::from_secs(session.idle_timeout_seconds),
            std::time::Duration::from_secs(session.absolute_timeout_seconds),
            std::time::Duration::from_secs(session.flow_timeout_seconds),
        ),
        audit: audit.as_ref(),
        today: Utc::now().date_naive(),
    };
    let json = match command {
        PrivacyCommand::Export(person) => {
            serde_json::to_string_pretty(&privacy::export(&holdings, &person.person()?).await?)?
        }
        PrivacyCommand::Forget(person) => {
            serde_json::to_string_pretty(&privacy::forget(&holdings, &person.person()?).await?)?
        }
    };
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}
