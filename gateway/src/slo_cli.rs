//! Command-line front ends of the availability tooling (issue 7):
//! `sso-gateway probe` (synthetic login, records as JSON lines) and
//! `sso-gateway slo report` (availability in the contractual window of
//! domain reference §5). The logic lives in the `sso-slo` crate; this module
//! reads arguments and files and prints.

use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use sso_slo::calendar::Calendar;
use sso_slo::probe::{ProbeOptions, run};
use sso_slo::record::{self, Outcome};
use sso_slo::report::{compute, render_text, select};
use sso_slo::window::Window;

/// Arguments of `sso-gateway probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The service page that requires login (e.g. the ENT's login link).
    #[arg(long)]
    start: url::Url,
    /// The test account's identifier.
    #[arg(long)]
    username: String,
    /// Environment variable holding the test account's password.
    #[arg(long)]
    password_env: Option<String>,
    /// Seconds between two runs.
    #[arg(long, default_value_t = 60)]
    every: u64,
    /// Records file (JSON lines, appended).
    #[arg(long)]
    out: PathBuf,
    /// Run once; exit code 0 when the login succeeded, 1 otherwise.
    #[arg(long)]
    once: bool,
    /// Text of the final page, or prefix of its URL (http(s)://...);
    /// without it, any page of the start URL's site reached after the login.
    #[arg(long)]
    expect: Option<String>,
    /// Part of a link to follow on pages without a form (e.g. the discovery
    /// page's `/login/educonnect`); repeatable, in order of preference.
    #[arg(long)]
    follow: Vec<String>,
    /// Name of the login form's username field (default: its text input).
    #[arg(long)]
    username_field: Option<String>,
    /// Name of the login form's password field (default: its password input).
    #[arg(long)]
    password_field: Option<String>,
    /// Timeout of each request, in seconds.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// Most requests in one login.
    #[arg(long, default_value_t = 30)]
    max_hops: usize,
    /// Name of this probe in the records.
    #[arg(long, default_value = "sonde")]
    name: String,
}

/// `sso-gateway slo ...`.
#[derive(Debug, Subcommand)]
pub enum SloCommand {
    /// Availability over a period, in the contractual window (8h–22h,
    /// Monday–Friday, school days of the académie's zone) and outside it.
    Report(ReportArgs),
}

/// Arguments of `sso-gateway slo report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Probe records files (JSON lines).
    #[arg(long, required = true, num_args = 1..)]
    records: Vec<PathBuf>,
    /// Académie code of the calendar (e.g. rennes, lyon, paris).
    #[arg(long)]
    academie: String,
    /// First day (YYYY-MM-DD, Paris time).
    #[arg(long)]
    from: NaiveDate,
    /// Last day, included (YYYY-MM-DD, Paris time).
    #[arg(long)]
    to: NaiveDate,
    /// Calendar file replacing the one shipped.
    #[arg(long)]
    calendar: Option<PathBuf>,
    /// Use school years whose dates are only a draft arrêté.
    #[arg(long)]
    allow_draft: bool,
    /// Only the records of this probe.
    #[arg(long)]
    probe: Option<String>,
    /// JSON output for tooling.
    #[arg(long)]
    json: bool,
}

/// `sso-gateway probe`.
pub async fn probe(args: ProbeArgs) -> anyhow::Result<ExitCode> {
    let password = match &args.password_env {
        Some(var) => match std::env::var(var) {
            Ok(value) => Some(value),
            Err(_) => {
                eprintln!(
                    "la variable d'environnement {var} (mot de passe du compte de test) n'est pas définie"
                );
                return Ok(ExitCode::FAILURE);
            }
        },
        None => None,
    };
    if args.every == 0 {
        eprintln!("--every doit être d'au moins une seconde");
        return Ok(ExitCode::FAILURE);
    }
    let options = ProbeOptions {
        name: args.name,
        start: args.start,
        username: args.username,
        password,
        expect: args.expect,
        follow: args.follow,
        username_field: args.username_field,
        password_field: args.password_field,
        timeout: Duration::from_secs(args.timeout),
        max_hops: args.max_hops,
        interval_s: args.every,
    };
    match run(&options, &args.out, args.once).await {
        Ok(Outcome::Ok) => Ok(ExitCode::SUCCESS),
        Ok(Outcome::Failed) => Ok(ExitCode::FAILURE),
        Err(error) => {
            eprintln!("{error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `sso-gateway slo ...`.
pub fn slo(command: SloCommand) -> anyhow::Result<ExitCode> {
    let SloCommand::Report(args) = command;
    let calendar = match &args.calendar {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Calendar::parse(&text),
            Err(error) => {
                eprintln!("{} : lecture impossible ({error})", path.display());
                return Ok(ExitCode::FAILURE);
            }
        },
        None => Calendar::embedded(),
    };
    let calendar = match calendar {
        Ok(calendar) => calendar,
        Err(error) => {
            eprintln!("{error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut records = Vec::new();
    for path in &args.records {
        let name = path.display().to_string();
        let read = std::fs::File::open(path)
            .map_err(|source| record::RecordError::Io {
                file: name.clone(),
                source,
            })
            .and_then(|file| record::read(BufReader::new(file), &name));
        match read {
            Ok(mut more) => records.append(&mut more),
            Err(error) => {
                eprintln!("{error}");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    let report = Window::new(&calendar, &args.academie, args.allow_draft)
        .map_err(sso_slo::report::ReportError::from)
        .and_then(|window| {
            let records = select(records, args.probe.as_deref())?;
            compute(&window, &records, args.from, args.to)
        });
    match report {
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", render_text(&report));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("rapport impossible : {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}
