//! Import semantics (domain reference §3, issue "AAF directory"):
//!
//! - a **complete** export is built as a new generation and switched in one
//!   write of the académie's `meta` key; any failure before that write leaves
//!   the previous generation serving logins (the half-built keys are removed
//!   when possible, and expire otherwise). A safety threshold refuses an
//!   export that would remove more than a configured share of the active
//!   persons, unless forced;
//! - a **delta** is read whole and checked before anything is written, then
//!   applied in file order (categories in [`Category::ALL`] order); a file
//!   already applied (same name and SHA-256 in the journal) is skipped; a delta
//!   dated before the current generation's complete export is refused. Its
//!   operations are idempotent, so a delta interrupted half-way (Redis lost)
//!   is simply applied again by the next run, since it is journaled last;
//! - retention: a person deleted or absent from a complete export is kept
//!   inactive (no login) and purged once `retention_days` have passed.
//!
//! Memory stays flat for complete exports: records are streamed, written in
//! batches, and only a 64-bit hash per id is kept to find who left.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::hash::BuildHasher;
use std::io::BufReader;

use chrono::{Days, NaiveDate, Utc};
use sso_store::{BatchWrite, Store, StoreError};
use thiserror::Error;

use crate::model::{FieldWarning, Person, PersonKind, ProfileRules, References, Structure};
use crate::names::{Category, ExportKind};
use crate::parser::{AafReader, Operation, ParseError, Record};
use crate::set::{ExportSet, SetFile};
use crate::store::{
    DIRECTORY_TTL, DirectoryError, IdEntry, Meta, absent_key, academies_key, children_key, decode,
    ids_key, journal_key, mail_key, meta_key, person_key, read_meta, read_references, refs_key,
    sources_key,
};

/// Writes sent to the store in one pipeline.
pub(crate) const BATCH: usize = 1000;
/// Entries per `ids` chunk.
const CHUNK: usize = 10_000;
/// Largest delta read in memory (records); beyond, use a complete export.
pub const MAX_DELTA_RECORDS: usize = 500_000;
/// Rejections and warnings kept in a report (the counts are always exact).
const MAX_LISTED: usize = 1000;

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Read and check everything, count what would change, write nothing.
    pub dry_run: bool,
    /// Apply a complete export even above the removal threshold.
    pub force: bool,
    /// Largest share of active persons a complete export may remove (0.2 = 20 %).
    pub max_removed_share: f64,
    /// Days an absent person is kept inactive before being purged (3 months).
    pub retention_days: u32,
    /// Today, for retention (injectable for tests).
    pub today: NaiveDate,
    /// Académie code to use when the files' header does not give one, or to
    /// override it.
    pub academie: Option<String>,
}

impl ImportOptions {
    /// The defaults: 20 % threshold, 92 days of retention, today's date.
    pub fn new() -> Self {
        Self {
            dry_run: false,
            force: false,
            max_removed_share: 0.2,
            retention_days: 92,
            today: Utc::now().date_naive(),
            academie: None,
        }
    }
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts of one category.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CategoryCounts {
    /// Records read.
    pub read: u64,
    /// Entries added (or replaced by an `addRequest`).
    pub added: u64,
    /// Entries modified.
    pub modified: u64,
    /// Entries deleted (persons: made inactive).
    pub deleted: u64,
    /// Records rejected.
    pub rejected: u64,
}

/// A record that was not applied, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// File name.
    pub file: String,
    /// Line of the record.
    pub line: u64,
    /// Its id (may be empty).
    pub id: String,
    /// Why.
    pub reason: String,
}

/// A value that could not be read in an applied record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// File name.
    pub file: String,
    /// Line of the record.
    pub line: u64,
    /// The problem.
    pub warning: FieldWarning,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Académie code.
    pub academie: String,
    /// Counts per category.
    pub categories: BTreeMap<Category, CategoryCounts>,
    /// Rejected records (the first [`MAX_LISTED`]).
    pub rejected: Vec<Rejection>,
    /// Unreadable values (the first [`MAX_LISTED`]).
    pub warnings: Vec<Warning>,
    /// Warnings not listed.
    pub warnings_total: u64,
    /// Files skipped because the journal shows them applied.
    pub skipped_files: Vec<String>,
    /// Persons of the previous generation absent from a complete export.
    pub left: u64,
    /// Active persons before the import.
    pub active_before: u64,
    /// Persons purged (retention over).
    pub purged: u64,
    /// The generation serving after the import.
    pub generation: Option<u64>,
    /// Nothing was written.
    pub dry_run: bool,
}

impl ImportReport {
    fn count(&mut self, category: Category) -> &mut CategoryCounts {
        self.categories.entry(category).or_default()
    }

    fn reject(&mut self, category: Category, file: &SetFile, record: &Record, reason: String) {
        self.count(category).rejected += 1;
        if self.rejected.len() < MAX_LISTED {
            self.rejected.push(Rejection {
                file: file.name.to_string(),
                line: record.line,
                id: record.id.clone(),
                reason,
            });
        }
    }

    fn warn(&mut self, file: &SetFile, line: u64, warning: FieldWarning) {
        self.warnings_total += 1;
        if self.warnings.len() < MAX_LISTED {
            self.warnings.push(Warning {
                file: file.name.to_string(),
                line,
                warning,
            });
        }
    }
}

/// Progress of an import, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Bytes of the set's files read so far (whole files).
    pub bytes_done: u64,
    /// Total bytes of the set.
    pub bytes_total: u64,
    /// Records read so far.
    pub records: u64,
}

/// Why an import was refused. Nothing was switched.
#[derive(Debug, Error)]
pub enum ImportError {
    /// A file could not be read or is not well-formed.
    #[error("{file}: {error}")]
    Parse {
        /// The file.
        file: String,
        /// Where and what.
        error: ParseError,
    },
    /// A file could not be opened.
    #[error("cannot open {file}: {reason}")]
    Open {
        /// The file.
        file: String,
        /// The cause.
        reason: String,
    },
    /// No académie code in the headers and none given.
    #[error("no académie code: the files' header has no codeAcademieExport; give --academie")]
    NoAcademie,
    /// Files of one set name different académies.
    #[error("{file} is for académie {found}, the rest of the set for {expected}")]
    AcademieMismatch {
        /// The file.
        file: String,
        /// Its académie.
        found: String,
        /// The set's.
        expected: String,
    },
    /// An académie code that cannot be part of a key.
    #[error("académie code {0:?} must be letters, digits and '-' only")]
    BadAcademie(String),
    /// A delta for a source with no complete import.
    #[error("académie {0} has no {1} directory yet: import a complete export first")]
    NoGeneration(String, String),
    /// A delta older than the current generation.
    #[error(
        "this delta is dated {delta}, before the complete export of {complete} that the directory was built from: refused"
    )]
    DeltaTooOld {
        /// The delta's date.
        delta: NaiveDate,
        /// The current generation's export date.
        complete: NaiveDate,
    },
    /// A delta larger than [`MAX_DELTA_RECORDS`].
    #[error(
        "this delta has more than {MAX_DELTA_RECORDS} records: import a complete export instead"
    )]
    DeltaTooLarge,
    /// A complete export that would remove too many persons.
    #[error(
        "this complete export would remove {left} of {active} active persons ({share:.1} %, more than the {max:.1} % allowed): refused, use --force if it is expected"
    )]
    TooManyRemovals {
        /// Persons that would leave.
        left: u64,
        /// Active persons now.
        active: u64,
        /// Their share, percent.
        share: f64,
        /// The threshold, percent.
        max: f64,
    },
    /// The store failed.
    #[error("state store: {0}")]
    Store(#[from] StoreError),
    /// A stored entry could not be read.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain structs to JSON cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// A 64-bit hash of an id, enough to tell who left among millions.
fn id_hash(hasher: &std::hash::RandomState, id: &str) -> u64 {
    hasher.hash_one(id)
}

pub(crate) fn valid_academie(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 32
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Buffered writes, flushed in pipelines (nothing is sent in a dry run).
pub(crate) struct Writer<'s> {
    pub(crate) store: &'s dyn Store,
    pub(crate) pending: Vec<BatchWrite>,
    pub(crate) dry_run: bool,
}

impl Writer<'_> {
    pub(crate) async fn push(&mut self, write: BatchWrite) -> Result<(), StoreError> {
        if self.dry_run {
            return Ok(());
        }
        self.pending.push(write);
        if self.pending.len() >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    pub(crate) async fn flush(&mut self) -> Result<(), StoreError> {
        if !self.pending.is_empty() {
            self.store.write_batch(&self.pending, DIRECTORY_TTL).await?;
            self.pending.clear();
        }
        Ok(())
    }
}

fn open(file: &SetFile) -> Result<AafReader<BufReader<File>>, ImportError> {
    let handle = File::open(&file.path).map_err(|e| ImportError::Open {
        file: file.name.to_string(),
        reason: e.to_string(),
    })?;
    AafReader::new(BufReader::with_capacity(256 * 1024, handle)).map_err(|error| {
        ImportError::Parse {
            file: file.name.to_string(),
            error,
        }
    })
}

/// The records of a file, each error naming the file.
fn read_records(
    file: &SetFile,
) -> Result<impl Iterator<Item = Result<Record, ImportError>> + '_, ImportError> {
    Ok(open(file)?.map(move |record| {
        record.map_err(|error| ImportError::Parse {
            file: file.name.to_string(),
            error,
        })
    }))
}

/// The académie of a set: the override, else the first file's header; every
/// header must agree.
fn academie_of(set: &ExportSet, options: &ImportOptions) -> Result<String, ImportError> {
    let mut found: Option<String> = options.academie.clone();
    for file in &set.files {
        let reader = open(file)?;
        if let Some(code) = reader.header().academie.clone() {
            match &found {
                None => found = Some(code),
                Some(expected) if options.academie.is_none() && *expected != code => {
                    return Err(ImportError::AcademieMismatch {
                        file: file.name.to_string(),
                        found: code,
                        expected: expected.clone(),
                    });
                }
                Some(_) => {}
            }
        }
    }
    let academie = found.ok_or(ImportError::NoAcademie)?;
    if !valid_academie(&academie) {
        return Err(ImportError::BadAcademie(academie));
    }
    Ok(academie)
}

/// Imports a complete or delta export into the directory kept in `store`.
pub async fn import(
    store: &dyn Store,
    set: &ExportSet,
    rules: &ProfileRules,
    options: &ImportOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<ImportReport, ImportError> {
    let academie = academie_of(set, options)?;
    let mut report = ImportReport {
        academie: academie.clone(),
        dry_run: options.dry_run,
        ..ImportReport::default()
    };
    let journal: HashSet<String> = store
        .set_members(&journal_key(&academie))
        .await?
        .into_iter()
        .collect();
    let mut context = Context {
        store,
        set,
        rules,
        options,
        academie,
        progress,
        bytes_done: 0,
        records: 0,
    };
    match set.kind {
        ExportKind::Complete => context.complete(&mut report).await?,
        ExportKind::Delta => context.delta(&mut report, &journal).await?,
    }
    Ok(report)
}

struct Context<'a> {
    store: &'a dyn Store,
    set: &'a ExportSet,
    rules: &'a ProfileRules,
    options: &'a ImportOptions,
    academie: String,
    progress: &'a mut dyn FnMut(Progress),
    bytes_done: u64,
    records: u64,
}

impl Context<'_> {
    fn tick(&mut self, file_done: Option<&SetFile>) {
        if let Some(file) = file_done {
            self.bytes_done += file.bytes;
        }
        (self.progress)(Progress {
            bytes_done: self.bytes_done,
            bytes_total: self.set.bytes(),
            records: self.records,
        });
    }

    fn purge_date(&self) -> Option<NaiveDate> {
        self.options
            .today
            .checked_sub_days(Days::new(u64::from(self.options.retention_days)))
    }

    fn expired(&self, person: &Person) -> bool {
        match (person.absent_since, self.purge_date()) {
            (Some(since), Some(limit)) => since < limit,
            _ => false,
        }
    }

    /// Applies every attribute of `record` to `person` (unreadable values
    /// reported as warnings), then derives the profiles.
    fn apply_person(
        &self,
        person: &mut Person,
        record: &Record,
        references: &References,
        file: &SetFile,
        report: &mut ImportReport,
    ) {
        for attribute in &record.attributes {
            if let Some(warning) = person.apply(&attribute.name, &attribute.values, references) {
                report.warn(file, record.line, warning);
            }
        }
        person.profiles = self.rules.derive(person);
    }

    /// Applies a reference record (structure, subject, MEF) to `references`.
    fn apply_reference(
        &self,
        references: &mut References,
        category: Category,
        file: &SetFile,
        record: &Record,
        report: &mut ImportReport,
    ) {
        if record.id.is_empty() {
            report.reject(
                category,
                file,
                record,
                "record without identifier/id".to_owned(),
            );
            return;
        }
        let id = record.id.clone();
        match (category, record.operation) {
            (Category::EtabEducNat, Operation::Delete) => {
                if references.structures.remove(&id).is_some() {
                    report.count(category).deleted += 1;
                } else {
                    report.reject(category, file, record, "unknown id".to_owned());
                }
            }
            (Category::EtabEducNat, operation) => {
                let existing = references.structures.get(&id).cloned();
                if operation == Operation::Modify && existing.is_none() {
                    report.reject(category, file, record, "unknown id".to_owned());
                    return;
                }
                let mut structure = match (operation, existing) {
                    (Operation::Modify, Some(existing)) => existing,
                    _ => Structure {
                        id: id.clone(),
                        ..Structure::default()
                    },
                };
                for attribute in &record.attributes {
                    if let Some(warning) = structure.apply(&attribute.name, &attribute.values) {
                        report.warn(file, record.line, warning);
                    }
                }
                references.structures.insert(id, structure);
                count_applied(report.count(category), operation);
            }
            (Category::MatiereEducNat | Category::MefEducNat, operation) => {
                let (table, label_names): (&mut BTreeMap<String, String>, [&str; 2]) =
                    if category == Category::MatiereEducNat {
                        (
                            &mut references.subjects,
                            ["ENTLibelleMatiere", "ENTMatiereCode"],
                        )
                    } else {
                        (&mut references.mefs, ["ENTLibelleMef", "ENTMEFSTAT4"])
                    };
                if operation == Operation::Delete {
                    if table.remove(&id).is_some() {
                        report.count(category).deleted += 1;
                    } else {
                        report.reject(category, file, record, "unknown id".to_owned());
                    }
                    return;
                }
                if let Some(label) = label_names.iter().find_map(|name| record.first(name)) {
                    table.insert(id, label.to_owned());
                }
                count_applied(report.count(category), operation);
            }
            _ => {}
        }
    }

    /// Reads the reference categories of a complete export.
    async fn read_references(
        &mut self,
        report: &mut ImportReport,
    ) -> Result<References, ImportError> {
        let mut references = References::default();
        let set = self.set;
        for file in &set.files {
            let category = file.name.category;
            if PersonKind::of(category).is_some() || category == Category::InfosEducNat {
                continue;
            }
            for record in read_records(file)? {
                let record = record?;
                report.count(category).read += 1;
                self.records += 1;
                if record.operation != Operation::Add {
                    report.reject(
                        category,
                        file,
                        &record,
                        "a complete export contains addRequest only".to_owned(),
                    );
                    continue;
                }
                self.apply_reference(&mut references, category, file, &record, report);
            }
            self.tick(Some(file));
        }
        Ok(references)
    }

    async fn complete(&mut self, report: &mut ImportReport) -> Result<(), ImportError> {
        let previous = read_meta(self.store, &self.academie, &self.set.prefix).await?;
        let generation = u64::try_from(Utc::now().timestamp_millis()).unwrap_or_default();
        let generation = match &previous {
            Some(meta) if meta.generation >= generation => meta.generation + 1,
            _ => generation,
        };
        let references = self.read_references(report).await?;
        let mut writer = Writer {
            store: self.store,
            pending: Vec::new(),
            dry_run: self.options.dry_run,
        };
        let mut chunks = Chunks::new(&self.academie, generation);
        let result = self
            .build_complete(
                report,
                previous.as_ref(),
                &references,
                generation,
                &mut writer,
                &mut chunks,
            )
            .await;
        match result {
            Ok(()) => {
                if !self.options.dry_run {
                    if let Some(old) = previous {
                        // The new generation serves: removing the old one is housekeeping.
                        if let Err(error) = remove_generation(
                            self.store,
                            &self.academie,
                            old.generation,
                            old.id_chunks,
                        )
                        .await
                        {
                            tracing::warn!(%error, "old directory generation not removed; its keys expire with their TTL");
                        }
                    }
                } else {
                    report.generation = previous.map(|m| m.generation);
                }
                Ok(())
            }
            Err(error) => {
                if !self.options.dry_run {
                    writer.pending.clear();
                    let written = chunks.written;
                    if let Err(cleanup) =
                        remove_generation(self.store, &self.academie, generation, written).await
                    {
                        tracing::warn!(%cleanup, "half-built directory generation not removed; its keys expire with their TTL");
                    }
                }
                Err(error)
            }
        }
    }

    /// The steps of a complete import up to its commit (none in a dry run).
    async fn build_complete(
        &mut self,
        report: &mut ImportReport,
        previous: Option<&Meta>,
        references: &References,
        generation: u64,
        writer: &mut Writer<'_>,
        chunks: &mut Chunks,
    ) -> Result<(), ImportError> {
        let hasher = std::hash::RandomState::new();
        let mut seen: HashSet<u64> = HashSet::new();
        self.complete_persons(
            report, references, generation, writer, chunks, &hasher, &mut seen,
        )
        .await?;
        self.carry_over(report, previous, generation, writer, chunks, &hasher, &seen)
            .await?;
        self.check_threshold(report)?;
        if !self.options.dry_run {
            self.commit_complete(report, references, generation, writer, chunks)
                .await?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn complete_persons(
        &mut self,
        report: &mut ImportReport,
        references: &References,
        generation: u64,
        writer: &mut Writer<'_>,
        chunks: &mut Chunks,
        hasher: &std::hash::RandomState,
        seen: &mut HashSet<u64>,
    ) -> Result<(), ImportError> {
        let set = self.set;
        let academie = self.academie.clone();
        for file in &set.files {
            let category = file.name.category;
            let Some(kind) = PersonKind::of(category) else {
                continue;
            };
            for record in read_records(file)? {
                let record = record?;
                report.count(category).read += 1;
                self.records += 1;
                if self.records.is_multiple_of(50_000) {
                    self.tick(None);
                }
                if let Some(reason) = person_record_problem(&record, category, true) {
                    report.reject(category, file, &record, reason);
                    continue;
                }
                if !seen.insert(id_hash(hasher, &record.id)) {
                    report.reject(
                        category,
                        file,
                        &record,
                        "id already seen in this export".to_owned(),
                    );
                    continue;
                }
                let mut person = Person::new(record.id.clone(), kind);
                self.apply_person(&mut person, &record, references, file, report);
                let entry = index_writes(&academie, generation, &person, writer).await?;
                writer
                    .push(BatchWrite::Put {
                        key: person_key(&academie, generation, &person.id),
                        value: encode(&person),
                    })
                    .await?;
                chunks.push(entry, writer).await?;
                report.count(category).added += 1;
            }
            self.tick(Some(file));
        }
        Ok(())
    }

    /// Persons of the previous generation absent from this export: kept
    /// inactive until their retention is over, then purged.
    #[allow(clippy::too_many_arguments)]
    async fn carry_over(
        &mut self,
        report: &mut ImportReport,
        previous: Option<&Meta>,
        generation: u64,
        writer: &mut Writer<'_>,
        chunks: &mut Chunks,
        hasher: &std::hash::RandomState,
        seen: &HashSet<u64>,
    ) -> Result<(), ImportError> {
        let Some(previous) = previous else {
            return Ok(());
        };
        report.active_before = previous.persons.saturating_sub(previous.inactive);
        // An id may be listed twice (a delta recorded a new e-mail key).
        let mut done: HashSet<u64> = HashSet::new();
        for chunk in 0..previous.id_chunks {
            let Some(bytes) = self
                .store
                .get(&ids_key(&self.academie, previous.generation, chunk))
                .await?
            else {
                continue;
            };
            let entries: Vec<IdEntry> = decode("ids", &bytes)?;
            let gone: Vec<&IdEntry> = entries
                .iter()
                .filter(|e| {
                    let hash = id_hash(hasher, &e.id);
                    !seen.contains(&hash) && done.insert(hash)
                })
                .collect();
            let keys: Vec<String> = gone
                .iter()
                .map(|e| person_key(&self.academie, previous.generation, &e.id))
                .collect();
            for bytes in self.store.get_many(&keys).await?.into_iter().flatten() {
                let mut person: Person = decode("person", &bytes)?;
                if person.is_active() {
                    report.left += 1;
                    person.absent_since = Some(self.set.date);
                }
                if self.expired(&person) {
                    report.purged += 1;
                    continue;
                }
                writer
                    .push(BatchWrite::Put {
                        key: person_key(&self.academie, generation, &person.id),
                        value: encode(&person),
                    })
                    .await?;
                writer
                    .push(BatchWrite::SetAdd {
                        key: absent_key(&self.academie, generation),
                        member: person.id.clone(),
                    })
                    .await?;
                chunks
                    .push(
                        IdEntry {
                            id: person.id.clone(),
                            mail: None,
                            guardian: false,
                        },
                        writer,
                    )
                    .await?;
                chunks.inactive += 1;
            }
        }
        Ok(())
    }

    fn check_threshold(&self, report: &ImportReport) -> Result<(), ImportError> {
        if report.active_before == 0 || self.options.force {
            return Ok(());
        }
        let share = report.left as f64 / report.active_before as f64;
        if share > self.options.max_removed_share {
            return Err(ImportError::TooManyRemovals {
                left: report.left,
                active: report.active_before,
                share: share * 100.0,
                max: self.options.max_removed_share * 100.0,
            });
        }
        Ok(())
    }

    async fn commit_complete(
        &mut self,
        report: &mut ImportReport,
        references: &References,
        generation: u64,
        writer: &mut Writer<'_>,
        chunks: &mut Chunks,
    ) -> Result<(), ImportError> {
        chunks.finish(writer).await?;
        writer
            .push(BatchWrite::Put {
                key: refs_key(&self.academie, generation),
                value: encode(references),
            })
            .await?;
        writer.flush().await?;
        let meta = Meta {
            academie: self.academie.clone(),
            generation,
            export_date: self.set.date,
            prefix: self.set.prefix.clone(),
            imported_at: Utc::now(),
            last_delta: None,
            persons: chunks.total,
            inactive: chunks.inactive,
            id_chunks: chunks.written,
            last_files: self.set.files.iter().map(|f| f.name.to_string()).collect(),
        };
        self.commit(&meta, report).await
    }

    /// Writes the source's meta key — the commit point: from this write on,
    /// logins read this generation — then journals the files.
    async fn commit(&mut self, meta: &Meta, report: &mut ImportReport) -> Result<(), ImportError> {
        self.store
            .put(
                &meta_key(&self.academie, &self.set.prefix),
                &encode(meta),
                DIRECTORY_TTL,
            )
            .await?;
        self.record_files().await?;
        report.generation = Some(meta.generation);
        Ok(())
    }

    async fn record_files(&mut self) -> Result<(), ImportError> {
        let mut writes: Vec<BatchWrite> = self
            .set
            .files
            .iter()
            .map(|f| BatchWrite::SetAdd {
                key: journal_key(&self.academie),
                member: format!("{} {}", f.name, f.sha256),
            })
            .collect();
        writes.push(BatchWrite::SetAdd {
            key: academies_key(),
            member: self.academie.clone(),
        });
        writes.push(BatchWrite::SetAdd {
            key: sources_key(&self.academie),
            member: self.set.prefix.clone(),
        });
        self.store.write_batch(&writes, DIRECTORY_TTL).await?;
        Ok(())
    }

    async fn delta(
        &mut self,
        report: &mut ImportReport,
        journal: &HashSet<String>,
    ) -> Result<(), ImportError> {
        let Some(mut meta) = read_meta(self.store, &self.academie, &self.set.prefix).await? else {
            return Err(ImportError::NoGeneration(
                self.academie.clone(),
                self.set.prefix.clone(),
            ));
        };
        if self.set.date < meta.export_date {
            return Err(ImportError::DeltaTooOld {
                delta: self.set.date,
                complete: meta.export_date,
            });
        }
        // Read and check everything before writing anything.
        let set = self.set;
        let mut records: Vec<(&SetFile, Record)> = Vec::new();
        for file in &set.files {
            if journal.contains(&format!("{} {}", file.name, file.sha256)) {
                report.skipped_files.push(file.name.to_string());
                continue;
            }
            for record in read_records(file)? {
                let record = record?;
                records.push((file, record));
                if records.len() > MAX_DELTA_RECORDS {
                    return Err(ImportError::DeltaTooLarge);
                }
            }
        }
        let generation = meta.generation;
        let mut references = read_references(self.store, &self.academie, meta.generation).await?;
        let references_before = references.clone();
        let mut writer = Writer {
            store: self.store,
            pending: Vec::new(),
            dry_run: self.options.dry_run,
        };
        let mut chunks = Chunks::new(&self.academie, generation);
        chunks.written = meta.id_chunks;
        let mut added_persons = 0u64;
        let mut newly_inactive = 0u64;
        for (file, record) in &records {
            let category = file.name.category;
            report.count(category).read += 1;
            self.records += 1;
            match PersonKind::of(category) {
                None if category == Category::InfosEducNat => {}
                None => self.apply_reference(&mut references, category, file, record, report),
                Some(kind) => {
                    let outcome = self
                        .delta_person(
                            report,
                            &references,
                            kind,
                            category,
                            file,
                            record,
                            &mut writer,
                            &mut chunks,
                        )
                        .await?;
                    match outcome {
                        DeltaOutcome::Added => added_persons += 1,
                        DeltaOutcome::Deactivated => newly_inactive += 1,
                        DeltaOutcome::Other => {}
                    }
                }
            }
        }
        self.tick(None);
        // The purge runs even when every file was already applied.
        let purged = self.purge_expired(report, generation, &mut writer).await?;
        if self.options.dry_run || (records.is_empty() && purged == 0) {
            report.generation = Some(generation);
            return Ok(());
        }
        chunks.finish(&mut writer).await?;
        if references != references_before {
            writer
                .push(BatchWrite::Put {
                    key: refs_key(&self.academie, generation),
                    value: encode(&references),
                })
                .await?;
        }
        writer.flush().await?;
        if !records.is_empty() {
            meta.last_delta = Some(self.set.date);
            meta.last_files = self.set.files.iter().map(|f| f.name.to_string()).collect();
        }
        meta.persons = (meta.persons + added_persons).saturating_sub(purged);
        meta.inactive = (meta.inactive + newly_inactive).saturating_sub(purged);
        meta.id_chunks = chunks.written;
        self.commit(&meta, report).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn delta_person(
        &mut self,
        report: &mut ImportReport,
        references: &References,
        kind: PersonKind,
        category: Category,
        file: &SetFile,
        record: &Record,
        writer: &mut Writer<'_>,
        chunks: &mut Chunks,
    ) -> Result<DeltaOutcome, ImportError> {
        if let Some(reason) = person_record_problem(record, category, false) {
            report.reject(category, file, record, reason);
            return Ok(DeltaOutcome::Other);
        }
        let academie = self.academie.clone();
        let generation = chunks.generation;
        let key = person_key(&academie, generation, &record.id);
        let existing: Option<Person> = match self.store.get(&key).await? {
            Some(bytes) => Some(decode("person", &bytes)?),
            None => None,
        };
        // Reads see the writes before them: flush before the next read.
        let outcome = match (record.operation, existing) {
            (Operation::Add, existing) => {
                if let Some(old) = &existing {
                    unindex_writes(&academie, generation, old, writer).await?;
                }
                let mut person = Person::new(record.id.clone(), kind);
                self.apply_person(&mut person, record, references, file, report);
                let entry = index_writes(&academie, generation, &person, writer).await?;
                writer
                    .push(BatchWrite::Put {
                        key,
                        value: encode(&person),
                    })
                    .await?;
                if existing.as_ref().is_some_and(|p| !p.is_active()) {
                    writer
                        .push(BatchWrite::SetRemove {
                            key: absent_key(&academie, generation),
                            member: person.id.clone(),
                        })
                        .await?;
                }
                report.count(category).added += 1;
                if existing.is_none() {
                    chunks.push(entry, writer).await?;
                    DeltaOutcome::Added
                } else {
                    DeltaOutcome::Other
                }
            }
            (Operation::Modify, Some(mut person)) if person.is_active() => {
                let old_mail = person.email.clone();
                unindex_writes(&academie, generation, &person, writer).await?;
                self.apply_person(&mut person, record, references, file, report);
                let entry = index_writes(&academie, generation, &person, writer).await?;
                if entry.mail.is_some() && entry.mail != old_mail {
                    // A new mail key: recorded so that removing the
                    // generation finds it (the id is listed twice, which
                    // readers of the chunks tolerate).
                    chunks.push(entry, writer).await?;
                }
                writer
                    .push(BatchWrite::Put {
                        key,
                        value: encode(&person),
                    })
                    .await?;
                report.count(category).modified += 1;
                DeltaOutcome::Other
            }
            (Operation::Delete, Some(mut person)) if person.is_active() => {
                unindex_writes(&academie, generation, &person, writer).await?;
                person.absent_since = Some(self.set.date);
                writer
                    .push(BatchWrite::Put {
                        key,
                        value: encode(&person),
                    })
                    .await?;
                writer
                    .push(BatchWrite::SetAdd {
                        key: absent_key(&academie, generation),
                        member: person.id.clone(),
                    })
                    .await?;
                report.count(category).deleted += 1;
                DeltaOutcome::Deactivated
            }
            (Operation::Modify | Operation::Delete, _) => {
                report.reject(
                    category,
                    file,
                    record,
                    "unknown id (or already deleted)".to_owned(),
                );
                DeltaOutcome::Other
            }
        };
        writer.flush().await?;
        Ok(outcome)
    }

    /// Removes the inactive persons whose retention is over.
    async fn purge_expired(
        &mut self,
        report: &mut ImportReport,
        generation: u64,
        writer: &mut Writer<'_>,
    ) -> Result<u64, ImportError> {
        let absent = self
            .store
            .set_members(&absent_key(&self.academie, generation))
            .await?;
        let keys: Vec<String> = absent
            .iter()
            .map(|id| person_key(&self.academie, generation, id))
            .collect();
        let mut purged = 0;
        for batch in keys.chunks(BATCH) {
            for bytes in self.store.get_many(batch).await?.into_iter().flatten() {
                let person: Person = decode("person", &bytes)?;
                if self.expired(&person) {
                    purged += 1;
                    writer
                        .push(BatchWrite::Delete {
                            key: person_key(&self.academie, generation, &person.id),
                        })
                        .await?;
                    writer
                        .push(BatchWrite::SetRemove {
                            key: absent_key(&self.academie, generation),
                            member: person.id.clone(),
                        })
                        .await?;
                }
            }
        }
        report.purged += purged;
        Ok(purged)
    }
}

enum DeltaOutcome {
    Added,
    Deactivated,
    Other,
}

fn count_applied(counts: &mut CategoryCounts, operation: Operation) {
    match operation {
        Operation::Add => counts.added += 1,
        Operation::Modify => counts.modified += 1,
        Operation::Delete => counts.deleted += 1,
    }
}

/// Why a person record cannot be applied, if it cannot.
fn person_record_problem(record: &Record, category: Category, complete: bool) -> Option<String> {
    if record.id.is_empty() {
        return Some("record without identifier/id".to_owned());
    }
    if record.id.contains(':') || record.id.len() > 64 {
        return Some("identifier has a ':' or more than 64 characters".to_owned());
    }
    if !record.category.is_empty() && record.category != category.as_str() {
        return Some(format!(
            "category {} in a {} file",
            record.category, category
        ));
    }
    if complete && record.operation != Operation::Add {
        return Some("a complete export contains addRequest only".to_owned());
    }
    None
}

/// Writes the secondary indexes of a person (academic e-mail of staff,
/// guardian → pupils links) and returns its generation entry.
pub(crate) async fn index_writes(
    academie: &str,
    generation: u64,
    person: &Person,
    writer: &mut Writer<'_>,
) -> Result<IdEntry, StoreError> {
    let mail = match (person.kind, &person.email) {
        (PersonKind::Staff, Some(mail)) if !mail.contains(char::is_whitespace) => {
            writer
                .push(BatchWrite::Put {
                    key: mail_key(academie, generation, mail),
                    value: person.id.clone().into_bytes(),
                })
                .await?;
            Some(mail.clone())
        }
        _ => None,
    };
    for link in &person.guardians {
        writer
            .push(BatchWrite::SetAdd {
                key: children_key(academie, generation, &link.id),
                member: person.id.clone(),
            })
            .await?;
    }
    Ok(IdEntry {
        id: person.id.clone(),
        mail,
        guardian: person.kind == PersonKind::Guardian,
    })
}

/// Removes the secondary indexes of a person's previous state.
async fn unindex_writes(
    academie: &str,
    generation: u64,
    person: &Person,
    writer: &mut Writer<'_>,
) -> Result<(), StoreError> {
    if person.kind == PersonKind::Staff
        && let Some(mail) = &person.email
    {
        writer
            .push(BatchWrite::Delete {
                key: mail_key(academie, generation, mail),
            })
            .await?;
    }
    for link in &person.guardians {
        writer
            .push(BatchWrite::SetRemove {
                key: children_key(academie, generation, &link.id),
                member: person.id.clone(),
            })
            .await?;
    }
    Ok(())
}

/// The generation's entry list, written in chunks as the import goes.
pub(crate) struct Chunks {
    academie: String,
    generation: u64,
    current: Vec<IdEntry>,
    pub(crate) written: u32,
    pub(crate) total: u64,
    pub(crate) inactive: u64,
}

impl Chunks {
    pub(crate) fn new(academie: &str, generation: u64) -> Self {
        Self {
            academie: academie.to_owned(),
            generation,
            current: Vec::with_capacity(CHUNK),
            written: 0,
            total: 0,
            inactive: 0,
        }
    }

    pub(crate) async fn push(
        &mut self,
        entry: IdEntry,
        writer: &mut Writer<'_>,
    ) -> Result<(), StoreError> {
        self.current.push(entry);
        self.total += 1;
        if self.current.len() >= CHUNK {
            self.write(writer).await?;
        }
        Ok(())
    }

    async fn write(&mut self, writer: &mut Writer<'_>) -> Result<(), StoreError> {
        writer
            .push(BatchWrite::Put {
                key: ids_key(&self.academie, self.generation, self.written),
                value: encode(&self.current),
            })
            .await?;
        self.current.clear();
        self.written += 1;
        Ok(())
    }

    pub(crate) async fn finish(&mut self, writer: &mut Writer<'_>) -> Result<(), StoreError> {
        if !self.current.is_empty() {
            self.write(writer).await?;
        }
        Ok(())
    }
}

/// Deletes every key of a generation, from its entry chunks.
pub(crate) async fn remove_generation(
    store: &dyn Store,
    academie: &str,
    generation: u64,
    chunks: u32,
) -> Result<(), ImportError> {
    for chunk in 0..chunks {
        let key = ids_key(academie, generation, chunk);
        let Some(bytes) = store.get(&key).await? else {
            continue;
        };
        let entries: Vec<IdEntry> = decode("ids", &bytes)?;
        let mut deletes = Vec::with_capacity(entries.len() * 2 + 1);
        for entry in &entries {
            deletes.push(BatchWrite::Delete {
                key: person_key(academie, generation, &entry.id),
            });
            if let Some(mail) = &entry.mail {
                deletes.push(BatchWrite::Delete {
                    key: mail_key(academie, generation, mail),
                });
            }
            if entry.guardian {
                deletes.push(BatchWrite::Delete {
                    key: children_key(academie, generation, &entry.id),
                });
            }
        }
        deletes.push(BatchWrite::Delete { key });
        for batch in deletes.chunks(BATCH) {
            store.write_batch(batch, DIRECTORY_TTL).await?;
        }
    }
    store
        .write_batch(
            &[
                BatchWrite::Delete {
                    key: refs_key(academie, generation),
                },
                BatchWrite::Delete {
                    key: absent_key(academie, generation),
                },
            ],
            DIRECTORY_TTL,
        )
        .await?;
    Ok(())
}
