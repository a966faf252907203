//! `[audit]` (domain reference §5, "connection logs"): where the connection
//! traces are written, how long they are kept, and where a copy is sent.
//! Checked with file, line and field like every other table; a
//! configuration without it is warned about (see [`missing_warning`]).

use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use crate::config::{ConfigProblem, LoadedConfig};

/// `[audit]`: the connection traces.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Folder of the daily files `audit-<YYYY-MM-DD>-<replica>.jsonl`
    /// (relative to the configuration file's folder).
    pub dir: Spanned<PathBuf>,
    /// This replica's name in the file names; the host name when absent.
    #[serde(default)]
    pub replica_name: Option<Spanned<String>>,
    /// Civil years kept before the current one (1: the current and the
    /// previous year, the legal maximum of domain reference §5).
    #[serde(default = "default_keep_previous_years")]
    pub keep_previous_years: Spanned<u32>,
    /// UTC hour at which the daily purge runs.
    #[serde(default = "default_purge_hour")]
    pub purge_hour: Spanned<u32>,
    /// A collector the traces are also POSTed to as JSON lines, in batches,
    /// best effort (the files stay the durable copy).
    #[serde(default)]
    pub collector_url: Option<Spanned<String>>,
    /// Traces waiting to be written; beyond, a trace is dropped and counted
    /// (`sso_audit_dropped_total`) rather than slowing a login down.
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: Spanned<usize>,
}

fn default_keep_previous_years() -> Spanned<u32> {
    Spanned::new(0..0, 1)
}

fn default_purge_hour() -> Spanned<u32> {
    Spanned::new(0..0, 3)
}

fn default_queue_capacity() -> Spanned<usize> {
    Spanned::new(0..0, 10_000)
}

/// Most previous years accepted: the law asks for one; more is refused
/// above this bound as a likely typo.
pub const MAX_KEEP_PREVIOUS_YEARS: u32 = 5;

/// The validated settings of a trail, paths resolved.
#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// Folder of the daily files.
    pub dir: PathBuf,
    /// Replica name in file names (`[A-Za-z0-9._-]+`).
    pub replica: String,
    /// Civil years kept before the current one.
    pub keep_previous_years: u32,
    /// UTC hour of the daily purge.
    pub purge_hour: u32,
    /// Where traces are also POSTed.
    pub collector_url: Option<url::Url>,
    /// Queue length before traces are dropped.
    pub queue_capacity: usize,
}

/// Whether `name` may appear in a file name: `[A-Za-z0-9._-]+`, not `.`/`..`.
fn is_replica_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

/// This host's name made safe for a file name (other characters become
/// `-`), `gateway` when it cannot be read.
pub fn host_replica_name() -> String {
    let raw = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .unwrap_or_default();
    let safe: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if is_replica_name(&safe) {
        safe
    } else {
        "gateway".to_owned()
    }
}

/// The settings of `[audit]`, or its problems; `Ok(None)` without the table.
/// The folder is created when missing (a folder that cannot be created is
/// a problem: traces would be lost).
pub fn settings(loaded: &LoadedConfig) -> Result<Option<AuditSettings>, Vec<ConfigProblem>> {
    let Some(audit) = &loaded.config.audit else {
        return Ok(None);
    };
    let mut problems = Vec::new();
    let dir = loaded.resolve(audit.dir.get_ref());
    if let Err(err) = std::fs::create_dir_all(&dir) {
        problems.push(loaded.problem_at(
            &audit.dir,
            "audit.dir",
            format!("cannot create the folder {}: {err}", dir.display()),
        ));
    }
    let replica = match &audit.replica_name {
        Some(name) if is_replica_name(name.get_ref()) => name.get_ref().clone(),
        Some(name) => {
            problems.push(loaded.problem_at(
                name,
                "audit.replica_name",
                format!(
                    "{:?} cannot be part of a file name (letters, digits, '.', '_', '-')",
                    name.get_ref()
                ),
            ));
            String::new()
        }
        None => host_replica_name(),
    };
    let keep = *audit.keep_previous_years.get_ref();
    if keep > MAX_KEEP_PREVIOUS_YEARS {
        problems.push(loaded.problem_at(
            &audit.keep_previous_years,
            "audit.keep_previous_years",
            format!(
                "{keep} years is more than {MAX_KEEP_PREVIOUS_YEARS}: the law asks for the current and the previous year (1)"
            ),
        ));
    }
    let hour = *audit.purge_hour.get_ref();
    if hour > 23 {
        problems.push(loaded.problem_at(
            &audit.purge_hour,
            "audit.purge_hour",
            format!("{hour} is not an hour of the day (0 to 23, UTC)"),
        ));
    }
    let capacity = *audit.queue_capacity.get_ref();
    if !(1..=1_000_000).contains(&capacity) {
        problems.push(loaded.problem_at(
            &audit.queue_capacity,
            "audit.queue_capacity",
            format!("{capacity} is outside 1 to 1000000 traces"),
        ));
    }
    let collector_url = match &audit.collector_url {
        None => None,
        Some(text) => match url::Url::parse(text.get_ref()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => Some(url),
            _ => {
                problems.push(loaded.problem_at(
                    text,
                    "audit.collector_url",
                    "not an absolute http(s) URL".to_owned(),
                ));
                None
            }
        },
    };
    if problems.is_empty() {
        Ok(Some(AuditSettings {
            dir,
            replica,
            keep_previous_years: keep,
            purge_hour: hour,
            collector_url,
            queue_capacity: capacity,
        }))
    } else {
        Err(problems)
    }
}

/// The problems of `[audit]`, for `check-config` and `serve`.
pub fn check(loaded: &LoadedConfig) -> Vec<ConfigProblem> {
    settings(loaded).err().unwrap_or_default()
}

/// The warning printed by `check-config` and logged by `serve` when
/// `[audit]` is absent: the gateway still runs (a deployment may keep its
/// connection logs elsewhere, e.g. at the reverse proxy), but nothing of
/// this gateway keeps them.
pub fn missing_warning(loaded: &LoadedConfig) -> Option<String> {
    loaded.config.audit.is_none().then(|| {
        format!(
            "{}: no [audit] table: connection traces are not kept, while the law requires connection logs for the current and the previous year",
            loaded.path.display()
        )
    })
}
