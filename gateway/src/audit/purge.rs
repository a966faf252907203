//! Retention of the connection traces (domain reference §5: connection logs
//! are kept for the current and the previous civil year, no longer). Whole
//! daily files are deleted once their day is before 1 January of
//! (this year − `keep_previous_years`); nothing but trace files
//! (`audit-<YYYY-MM-DD>-<replica>.jsonl`) is ever deleted. `serve` purges
//! at start and daily at `[audit] purge_hour`; `sso-gateway audit purge`
//! does it on demand. "Today" is a parameter, so that tests choose it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{Datelike, NaiveDate, Utc};

use super::settings::AuditSettings;
use super::trail::parse_file_name;

/// What a purge did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PurgeReport {
    /// The first day kept (1 January of the oldest year kept).
    pub first_day_kept: Option<NaiveDate>,
    /// Trace files deleted.
    pub deleted: Vec<PathBuf>,
    /// Trace files kept.
    pub kept: usize,
    /// Trace files that could not be deleted, with why.
    pub failed: Vec<(PathBuf, String)>,
}

/// Why a purge could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    /// The folder cannot be listed.
    #[error("cannot list the trace folder {dir}: {source}")]
    List {
        /// The folder.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `today` minus the years kept is before the calendar's start.
    #[error("no 1 January {keep_previous_years} years before {today}")]
    Calendar {
        /// Today.
        today: NaiveDate,
        /// Years kept.
        keep_previous_years: u32,
    },
}

/// The first day whose traces are kept on `today`.
pub fn first_day_kept(today: NaiveDate, keep_previous_years: u32) -> Option<NaiveDate> {
    let year = today
        .year()
        .checked_sub(i32::try_from(keep_previous_years).ok()?)?;
    NaiveDate::from_ymd_opt(year, 1, 1)
}

/// The last day a trace of `day` is kept, with `keep_previous_years`:
/// 31 December of its year plus the years kept.
pub fn kept_until(day: NaiveDate, keep_previous_years: u32) -> Option<NaiveDate> {
    let year = day
        .year()
        .checked_add(i32::try_from(keep_previous_years).ok()?)?;
    NaiveDate::from_ymd_opt(year, 12, 31)
}

/// Deletes the trace files of `dir` older than the retention on `today`.
pub fn purge(
    dir: &Path,
    today: NaiveDate,
    keep_previous_years: u32,
) -> Result<PurgeReport, PurgeError> {
    let first = first_day_kept(today, keep_previous_years).ok_or(PurgeError::Calendar {
        today,
        keep_previous_years,
    })?;
    let entries = std::fs::read_dir(dir).map_err(|source| PurgeError::List {
        dir: dir.to_owned(),
        source,
    })?;
    let mut report = PurgeReport {
        first_day_kept: Some(first),
        ..PurgeReport::default()
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some((day, _)) = name.to_str().and_then(parse_file_name) else {
            continue;
        };
        if !entry.file_type().is_ok_and(|kind| kind.is_file()) {
            continue;
        }
        if day >= first {
            report.kept += 1;
            continue;
        }
        let path = entry.path();
        match std::fs::remove_file(&path) {
            Ok(()) => report.deleted.push(path),
            Err(err) => report.failed.push((path, err.to_string())),
        }
    }
    report.deleted.sort();
    Ok(report)
}

/// Runs [`purge`] now, then every day at the configured hour (UTC); each
/// run is logged (file counts only).
pub fn spawn_daily(settings: &AuditSettings) {
    let dir = settings.dir.clone();
    let keep = settings.keep_previous_years;
    let hour = settings.purge_hour;
    tokio::spawn(async move {
        loop {
            let today = Utc::now().date_naive();
            match purge(&dir, today, keep) {
                Ok(report) => tracing::info!(
                    deleted = report.deleted.len(),
                    kept = report.kept,
                    failed = report.failed.len(),
                    "audit traces purged"
                ),
                Err(error) => tracing::error!(%error, "audit traces not purged"),
            }
            tokio::time::sleep(until_next(hour)).await;
        }
    });
}

/// Time from now to the next `hour`:00 UTC (at least a minute).
fn until_next(hour: u32) -> Duration {
    let now = Utc::now();
    let today = now.date_naive();
    let next = [today, today + chrono::Days::new(1)]
        .into_iter()
        .filter_map(|day| day.and_hms_opt(hour, 0, 0))
        .map(|time| time.and_utc())
        .find(|time| *time > now + chrono::TimeDelta::minutes(1));
    next.and_then(|time| (time - now).to_std().ok())
        .unwrap_or(Duration::from_secs(86_400))
}
