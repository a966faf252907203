//! Reading the connection traces (domain reference §5): one person's traces
//! over a period (a rights request, an incident) and the number of distinct
//! people of a scope who logged in over a period (the estimate a breach
//! notification needs). Files are read line by line, never whole; only the
//! files of the period's days are opened.
//!
//! A trace keeps the reference of the identifier secret of its day, so a
//! person is looked for under every configured secret, current and
//! previous ([`crate::events::person_references`]).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;
use sso_directory::store::{Directory, DirectoryError};

use super::trace::{Trace, TraceEvent};
use super::trail::parse_file_name;
use crate::viewer::{Level, Scope};

/// Why traces could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The folder cannot be listed.
    #[error("cannot list the trace folder {dir}: {source}")]
    List {
        /// The folder.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A trace file cannot be read.
    #[error("cannot read the trace file {file}: {source}")]
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The period ends before it starts.
    #[error("the period ends ({to}) before it starts ({from})")]
    Period {
        /// First day.
        from: NaiveDate,
        /// Last day.
        to: NaiveDate,
    },
    /// The directory (for the départements of schools) cannot be read.
    #[error("cannot read the directory: {0}")]
    Directory(#[from] DirectoryError),
}

/// What reading a period went through.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReadSummary {
    /// Trace files read.
    pub files: usize,
    /// Days of the period that have at least one file.
    pub days_covered: usize,
    /// Days in the period.
    pub days_in_period: usize,
    /// Lines that are not traces (skipped).
    pub unreadable_lines: u64,
}

/// The trace files of the days from `from` to `to` (inclusive), by day.
pub fn trace_files(
    dir: &Path,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(NaiveDate, PathBuf)>, SearchError> {
    if to < from {
        return Err(SearchError::Period { from, to });
    }
    let entries = std::fs::read_dir(dir).map_err(|source| SearchError::List {
        dir: dir.to_owned(),
        source,
    })?;
    let mut files: Vec<(NaiveDate, PathBuf)> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let (day, _) = name.to_str().and_then(parse_file_name)?;
            (from <= day && day <= to).then(|| (day, entry.path()))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Calls `each` on every trace of the period, file by file, line by line.
pub fn for_each_trace(
    dir: &Path,
    from: NaiveDate,
    to: NaiveDate,
    mut each: impl FnMut(Trace),
) -> Result<ReadSummary, SearchError> {
    let files = trace_files(dir, from, to)?;
    let days: BTreeSet<NaiveDate> = files.iter().map(|(day, _)| *day).collect();
    let mut summary = ReadSummary {
        files: files.len(),
        days_covered: days.len(),
        days_in_period: usize::try_from((to - from).num_days() + 1).unwrap_or(0),
        unreadable_lines: 0,
    };
    for (_, file) in files {
        let read_error = |source| SearchError::Read {
            file: file.clone(),
            source,
        };
        let reader = BufReader::new(std::fs::File::open(&file).map_err(read_error)?);
        for line in reader.lines() {
            let line = line.map_err(read_error)?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Trace>(&line) {
                Ok(trace) => each(trace),
                Err(_) => summary.unreadable_lines += 1,
            }
        }
    }
    Ok(summary)
}

/// The traces of a person (any of `references`) over the period, by time.
pub fn search(
    dir: &Path,
    from: NaiveDate,
    to: NaiveDate,
    references: &[String],
) -> Result<(Vec<Trace>, ReadSummary), SearchError> {
    let mut found = Vec::new();
    let summary = for_each_trace(dir, from, to, |trace| {
        if trace
            .person
            .as_ref()
            .is_some_and(|person| references.contains(person))
        {
            found.push(trace);
        }
    })?;
    found.sort_by_key(|trace| trace.time);
    Ok((found, summary))
}

/// Where a school is, from the directory's structures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    /// Département code.
    pub departement: Option<String>,
    /// Commune.
    pub commune: Option<String>,
    /// Circonscription (1st degree).
    pub circonscription: Option<String>,
}

/// The places of the schools, by UAI, from the directories of every
/// académie in the store.
pub async fn places(directory: &Directory) -> Result<HashMap<String, Place>, SearchError> {
    let mut places = HashMap::new();
    for academie in directory.academies().await? {
        for structure in directory
            .references(&academie)
            .await?
            .structures
            .into_values()
        {
            if let Some(uai) = structure.uai {
                places.insert(
                    uai,
                    Place {
                        departement: structure.departement,
                        commune: structure.commune,
                        circonscription: structure.circonscription,
                    },
                );
            }
        }
    }
    Ok(places)
}

/// The level named on the command line (`ecole`, `departement`...).
pub fn level_of(text: &str) -> Option<Level> {
    Some(match text {
        "ecole" => Level::Ecole,
        "circonscription" => Level::Circonscription,
        "commune" => Level::Commune,
        "departement" => Level::Departement,
        "academie" => Level::Academie,
        "national" => Level::National,
        _ => return None,
    })
}

/// Whether a trace's person belongs to `scope`.
pub fn in_scope(trace: &Trace, scope: &Scope, places: &HashMap<String, Place>) -> bool {
    let place_has = |field: fn(&Place) -> &Option<String>| {
        trace.uais.iter().any(|uai| {
            places
                .get(uai)
                .and_then(|place| field(place).as_deref())
                .is_some_and(|code| code == scope.code)
        })
    };
    match scope.level {
        Level::Ecole => trace.uais.contains(&scope.code),
        Level::Circonscription => place_has(|place| &place.circonscription),
        Level::Commune => place_has(|place| &place.commune),
        Level::Departement => place_has(|place| &place.departement),
        Level::Academie => trace.academie.as_deref() == Some(scope.code.as_str()),
        Level::National => true,
    }
}

/// The people of a scope who logged in over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountReport {
    /// The scope.
    pub scope: Scope,
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// Distinct people (by reference) with a successful login.
    pub people: usize,
    /// Successful login traces of the scope.
    pub logins: u64,
    /// What was read.
    pub read: ReadSummary,
}

/// Counts the distinct people of `scope` who logged in successfully from
/// `from` to `to`. An estimate: a person whose traces span a change of the
/// identifier secret is counted once per secret.
pub fn count(
    dir: &Path,
    from: NaiveDate,
    to: NaiveDate,
    scope: &Scope,
    places: &HashMap<String, Place>,
) -> Result<CountReport, SearchError> {
    let mut people = HashSet::new();
    let mut logins = 0u64;
    let read = for_each_trace(dir, from, to, |trace| {
        if trace.event != TraceEvent::Login || trace.outcome != "success" {
            return;
        }
        let Some(person) = &trace.person else {
            return;
        };
        if in_scope(&trace, scope, places) {
            logins += 1;
            people.insert(person.clone());
        }
    })?;
    Ok(CountReport {
        scope: scope.clone(),
        from,
        to,
        people: people.len(),
        logins,
        read,
    })
}
