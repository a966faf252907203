//! Reversibility of the directory (domain reference §5: "all data and
//! configuration exportable in open formats when the operator changes"):
//! a snapshot of the current generation of each source as JSON lines of
//! persons, and its restoration into another store.
//!
//! - [`Directory::write_persons`] streams the persons of one source's
//!   current generation (active and inactive, each once, in the order of the
//!   generation's entry list) as one [`Person`] JSON object per line;
//!   [`Directory::source_references`] and [`Directory::journal`] give the
//!   rest of what a source needs.
//! - [`restore_source`] writes those persons as a **new generation** with the
//!   same secondary indexes a complete import builds (academic e-mail,
//!   guardian → pupils, inactive set, entry chunks, references), then
//!   switches to it in one write of the source's `meta` key, exactly like a
//!   complete import: a failure before that write leaves whatever served
//!   before untouched (the half-written keys are removed, or expire).

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::io::{BufRead, Write};

use chrono::Utc;
use sso_store::{BatchWrite, Store, StoreError};
use thiserror::Error;

use crate::import::{
    BATCH, Chunks, Writer, encode, index_writes, remove_generation, valid_academie,
};
use crate::model::{Person, References};
use crate::store::{
    DIRECTORY_TTL, Directory, DirectoryError, IdEntry, Meta, absent_key, academies_key, decode,
    ids_key, journal_key, meta_key, person_key, read_meta, read_references, refs_key, sources_key,
};

/// Why a snapshot could not be written or restored.
#[derive(Debug, Error)]
pub enum SnapshotError {
    /// The store failed.
    #[error("state store: {0}")]
    Store(#[from] StoreError),
    /// A stored entry could not be read.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// Writing the persons out failed.
    #[error("cannot write the persons: {0}")]
    Write(std::io::Error),
    /// Reading the persons in failed.
    #[error("cannot read the persons, line {line}: {source}")]
    Read {
        /// 1-based line.
        line: u64,
        /// The reader's error.
        source: std::io::Error,
    },
    /// A line is not a person of this version's format.
    #[error("line {line}: not a person: {reason}")]
    BadPerson {
        /// 1-based line.
        line: u64,
        /// The decoder's message.
        reason: String,
    },
    /// The same person id appears twice.
    #[error("line {line}: person id already seen in this snapshot")]
    DuplicatePerson {
        /// 1-based line.
        line: u64,
    },
    /// The académie code is not a plain code.
    #[error("académie code {0:?} is not a plain code (letters, digits, `-`)")]
    BadAcademie(String),
    /// The source prefix is not a plain prefix.
    #[error("source prefix {0:?} is not a plain prefix (letters, digits)")]
    BadPrefix(String),
    /// The number of persons read differs from the snapshot's `meta`.
    #[error("the snapshot's meta announces {expected} persons, {found} were read")]
    CountMismatch {
        /// Persons announced by the meta.
        expected: u64,
        /// Persons read.
        found: u64,
    },
}

impl Directory {
    /// The files recorded in the académie's journal (`<file name> <sha256>`),
    /// sorted: a restored journal keeps skipping deltas already applied.
    pub async fn journal(&self, academie: &str) -> Result<Vec<String>, DirectoryError> {
        let mut journal = self.store().set_members(&journal_key(academie)).await?;
        journal.sort();
        Ok(journal)
    }

    /// The structures, subjects and MEFs of one source's generation.
    pub async fn source_references(&self, meta: &Meta) -> Result<References, DirectoryError> {
        read_references(self.store().as_ref(), &meta.academie, meta.generation).await
    }

    /// Writes every person of the generation `meta` names, one JSON object
    /// per line, each id once; returns how many.
    pub async fn write_persons(
        &self,
        meta: &Meta,
        out: &mut dyn Write,
    ) -> Result<u64, SnapshotError> {
        let store = self.store();
        let mut seen: HashSet<String> = HashSet::new();
        let mut written = 0;
        for chunk in 0..meta.id_chunks {
            let Some(bytes) = store
                .get(&ids_key(&meta.academie, meta.generation, chunk))
                .await?
            else {
                continue;
            };
            let entries: Vec<IdEntry> = decode("ids", &bytes)?;
            // A delta may list an id twice (a new e-mail key recorded).
            let keys: Vec<String> = entries
                .into_iter()
                .filter(|entry| seen.insert(entry.id.clone()))
                .map(|entry| person_key(&meta.academie, meta.generation, &entry.id))
                .collect();
            for batch in keys.chunks(BATCH) {
                for bytes in store.get_many(batch).await?.into_iter().flatten() {
                    let person: Person = decode("person", &bytes)?;
                    let line =
                        serde_json::to_vec(&person).map_err(|e| DirectoryError::Corrupt {
                            kind: "person",
                            reason: e.to_string(),
                        })?;
                    out.write_all(&line).map_err(SnapshotError::Write)?;
                    out.write_all(b"\n").map_err(SnapshotError::Write)?;
                    written += 1;
                }
            }
        }
        Ok(written)
    }
}

fn valid_prefix(prefix: &str) -> bool {
    !prefix.is_empty() && prefix.len() <= 32 && prefix.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Restores one source from a snapshot: `meta` as exported (its académie,
/// prefix, export date, last delta and files are kept; generation and
/// counts are those of the new generation), its `references`, its persons
/// (JSON lines) and the académie's `journal`. Returns the meta now serving.
pub async fn restore_source(
    store: &dyn Store,
    meta: &Meta,
    references: &References,
    persons: &mut dyn BufRead,
    journal: &[String],
) -> Result<Meta, SnapshotError> {
    if !valid_academie(&meta.academie) {
        return Err(SnapshotError::BadAcademie(meta.academie.clone()));
    }
    if !valid_prefix(&meta.prefix) {
        return Err(SnapshotError::BadPrefix(meta.prefix.clone()));
    }
    let previous = read_meta(store, &meta.academie, &meta.prefix).await?;
    let generation = u64::try_from(Utc::now().timestamp_millis()).unwrap_or_default();
    let generation = match &previous {
        Some(old) if old.generation >= generation => old.generation + 1,
        _ => generation,
    };
    let mut writer = Writer {
        store,
        pending: Vec::new(),
        dry_run: false,
    };
    let mut chunks = Chunks::new(&meta.academie, generation);
    let built = write_generation(
        meta,
        references,
        persons,
        generation,
        &mut writer,
        &mut chunks,
    )
    .await;
    if let Err(error) = built {
        writer.pending.clear();
        if let Err(cleanup) =
            remove_generation(store, &meta.academie, generation, chunks.written).await
        {
            tracing::warn!(%cleanup, "half-restored directory generation not removed; its keys expire with their TTL");
        }
        return Err(error);
    }
    let restored = Meta {
        generation,
        persons: chunks.total,
        inactive: chunks.inactive,
        id_chunks: chunks.written,
        ..meta.clone()
    };
    // The commit point: from this write on, logins read the new generation.
    store
        .put(
            &meta_key(&meta.academie, &meta.prefix),
            &encode(&restored),
            DIRECTORY_TTL,
        )
        .await?;
    let mut writes: Vec<BatchWrite> = journal
        .iter()
        .map(|entry| BatchWrite::SetAdd {
            key: journal_key(&meta.academie),
            member: entry.clone(),
        })
        .collect();
    writes.push(BatchWrite::SetAdd {
        key: academies_key(),
        member: meta.academie.clone(),
    });
    writes.push(BatchWrite::SetAdd {
        key: sources_key(&meta.academie),
        member: meta.prefix.clone(),
    });
    store.write_batch(&writes, DIRECTORY_TTL).await?;
    if let Some(old) = previous
        && let Err(error) =
            remove_generation(store, &meta.academie, old.generation, old.id_chunks).await
    {
        tracing::warn!(%error, "old directory generation not removed; its keys expire with their TTL");
    }
    Ok(restored)
}

/// Every key of the new generation but its `meta`.
async fn write_generation(
    meta: &Meta,
    references: &References,
    persons: &mut dyn BufRead,
    generation: u64,
    writer: &mut Writer<'_>,
    chunks: &mut Chunks,
) -> Result<(), SnapshotError> {
    let academie = meta.academie.as_str();
    let hasher = std::hash::RandomState::new();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut line_number = 0;
    let mut line = String::new();
    loop {
        line.clear();
        line_number += 1;
        let read = persons
            .read_line(&mut line)
            .map_err(|source| SnapshotError::Read {
                line: line_number,
                source,
            })?;
        if read == 0 {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let person: Person = serde_json::from_str(&line).map_err(|e| SnapshotError::BadPerson {
            line: line_number,
            reason: e.to_string(),
        })?;
        if !seen.insert(hasher.hash_one(&person.id)) {
            return Err(SnapshotError::DuplicatePerson { line: line_number });
        }
        let entry = if person.is_active() {
            index_writes(academie, generation, &person, writer).await?
        } else {
            writer
                .push(BatchWrite::SetAdd {
                    key: absent_key(academie, generation),
                    member: person.id.clone(),
                })
                .await?;
            chunks.inactive += 1;
            IdEntry {
                id: person.id.clone(),
                mail: None,
                guardian: false,
            }
        };
        writer
            .push(BatchWrite::Put {
                key: person_key(academie, generation, &person.id),
                value: encode(&person),
            })
            .await?;
        chunks.push(entry, writer).await?;
    }
    if chunks.total != meta.persons {
        return Err(SnapshotError::CountMismatch {
            expected: meta.persons,
            found: chunks.total,
        });
    }
    chunks.finish(writer).await?;
    writer
        .push(BatchWrite::Put {
            key: refs_key(academie, generation),
            value: encode(references),
        })
        .await?;
    writer.flush().await?;
    Ok(())
}
