//! Where the directory lives in the shared store (architecture, "State":
//! the directory is in the same Redis under its own keys, in generations),
//! and the reads a login makes.
//!
//! Keys, all of kind `dir` (the académie code is part of every key, so
//! several académies live side by side):
//!
//! | key | value |
//! |---|---|
//! | `dir:academies` | set of the académie codes loaded |
//! | `dir:<aca>:sources` | set of the export prefixes loaded for the académie (`ENT1D`, `ENT2D`) |
//! | `dir:<aca>:<prefix>:meta` | the current generation of that source ([`Meta`], JSON): **the commit point** of a complete import |
//! | `dir:<aca>:journal` | set of `<file name> <sha256>` of every file applied |
//! | `dir:<aca>:<gen>:p:<id>` | a [`Person`] (JSON) |
//! | `dir:<aca>:<gen>:mail:<e-mail>` | the id of the staff member with that academic e-mail |
//! | `dir:<aca>:<gen>:ch:<guardian id>` | set of the ids of the guardian's pupils |
//! | `dir:<aca>:<gen>:refs` | the [`References`] (structures, subjects, MEFs), JSON |
//! | `dir:<aca>:<gen>:ids:<n>` | chunk `n` of the generation's entries ([`IdEntry`] list, JSON) |
//! | `dir:<aca>:<gen>:absent` | set of the ids kept inactive until their purge |
//!
//! The 1st- and 2nd-degree exports of one académie are separate sources
//! with their own generations, side by side (their ids do not overlap):
//! lookups go through every source of the académie.
//!
//! A generation number is the import's start time in milliseconds, never
//! reused, so the keys of an import that failed half-way can never mix with
//! those of a later one. Every key carries [`DIRECTORY_TTL`]: a directory
//! that no import refreshes for that long disappears.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sso_store::{Store, StoreError};
use thiserror::Error;

use crate::model::{Person, References};

/// TTL of every directory key (refreshed by each import).
pub const DIRECTORY_TTL: Duration = Duration::from_secs(400 * 24 * 3600);

/// The current generation of one académie's directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Académie code.
    pub academie: String,
    /// Generation number.
    pub generation: u64,
    /// Date of the complete export it was built from.
    pub export_date: NaiveDate,
    /// File-name prefix of that export.
    pub prefix: String,
    /// When it was built.
    pub imported_at: DateTime<Utc>,
    /// Date of the last delta applied on top, if any.
    #[serde(default)]
    pub last_delta: Option<NaiveDate>,
    /// Persons stored (active and inactive).
    pub persons: u64,
    /// Persons kept inactive until their purge.
    pub inactive: u64,
    /// Number of `ids` chunks.
    pub id_chunks: u32,
    /// The files of the last import.
    #[serde(default)]
    pub last_files: Vec<String>,
}

/// One entry of a generation, enough to find all its keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdEntry {
    /// Person id.
    #[serde(rename = "i")]
    pub id: String,
    /// Academic e-mail indexed for this person, if any.
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    /// Whether the person may have a children set.
    #[serde(rename = "g", default, skip_serializing_if = "std::ops::Not::not")]
    pub guardian: bool,
}

/// Why a directory read failed.
#[derive(Debug, Error)]
pub enum DirectoryError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored value is not what this version expects.
    #[error("directory entry of kind {kind} cannot be decoded: {reason}")]
    Corrupt {
        /// What was read (`meta`, `person`, ...).
        kind: &'static str,
        /// The decoder's message (never the value).
        reason: String,
    },
}

pub(crate) fn academies_key() -> String {
    "dir:academies".to_owned()
}
pub(crate) fn sources_key(aca: &str) -> String {
    format!("dir:{aca}:sources")
}
pub(crate) fn meta_key(aca: &str, prefix: &str) -> String {
    format!("dir:{aca}:{prefix}:meta")
}
pub(crate) fn journal_key(aca: &str) -> String {
    format!("dir:{aca}:journal")
}
pub(crate) fn person_key(aca: &str, generation: u64, id: &str) -> String {
    format!("dir:{aca}:{generation}:p:{id}")
}
pub(crate) fn mail_key(aca: &str, generation: u64, mail: &str) -> String {
    format!("dir:{aca}:{generation}:mail:{mail}")
}
pub(crate) fn children_key(aca: &str, generation: u64, guardian: &str) -> String {
    format!("dir:{aca}:{generation}:ch:{guardian}")
}
pub(crate) fn refs_key(aca: &str, generation: u64) -> String {
    format!("dir:{aca}:{generation}:refs")
}
pub(crate) fn ids_key(aca: &str, generation: u64, chunk: u32) -> String {
    format!("dir:{aca}:{generation}:ids:{chunk}")
}
pub(crate) fn absent_key(aca: &str, generation: u64) -> String {
    format!("dir:{aca}:{generation}:absent")
}

pub(crate) fn decode<T: DeserializeOwned>(
    kind: &'static str,
    bytes: &[u8],
) -> Result<T, DirectoryError> {
    serde_json::from_slice(bytes).map_err(|e| DirectoryError::Corrupt {
        kind,
        reason: e.to_string(),
    })
}

/// The current generation of a source, `None` before its first complete import.
pub(crate) async fn read_meta(
    store: &dyn Store,
    academie: &str,
    prefix: &str,
) -> Result<Option<Meta>, DirectoryError> {
    match store.get(&meta_key(academie, prefix)).await? {
        Some(bytes) => Ok(Some(decode("meta", &bytes)?)),
        None => Ok(None),
    }
}

/// The reference data of a generation.
pub(crate) async fn read_references(
    store: &dyn Store,
    academie: &str,
    generation: u64,
) -> Result<References, DirectoryError> {
    match store.get(&refs_key(academie, generation)).await? {
        Some(bytes) => decode("references", &bytes),
        None => Ok(References::default()),
    }
}

/// Read access to the directory, shared by every replica.
#[derive(Clone)]
pub struct Directory {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").finish_non_exhaustive()
    }
}

impl Directory {
    /// The directory kept in `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The académies loaded.
    pub async fn academies(&self) -> Result<Vec<String>, DirectoryError> {
        let mut academies = self.store.set_members(&academies_key()).await?;
        academies.sort();
        Ok(academies)
    }

    /// The current generation of one source of an académie (`prefix`:
    /// `ENT1D`, `ENT2D`), `None` before its first complete import.
    pub async fn meta(&self, academie: &str, prefix: &str) -> Result<Option<Meta>, DirectoryError> {
        read_meta(self.store.as_ref(), academie, prefix).await
    }

    /// The current generation of every source of an académie, by prefix.
    pub async fn metas(&self, academie: &str) -> Result<Vec<Meta>, DirectoryError> {
        let mut prefixes = self.store.set_members(&sources_key(academie)).await?;
        prefixes.sort();
        let keys: Vec<String> = prefixes.iter().map(|p| meta_key(academie, p)).collect();
        let mut metas = Vec::new();
        for bytes in self.store.get_many(&keys).await?.into_iter().flatten() {
            metas.push(decode("meta", &bytes)?);
        }
        Ok(metas)
    }

    /// A person of the académie (any source), the active entry first.
    /// Three round trips to the store whatever the number of sources.
    pub async fn person(&self, academie: &str, id: &str) -> Result<Option<Person>, DirectoryError> {
        let keys: Vec<String> = self
            .metas(academie)
            .await?
            .iter()
            .map(|meta| person_key(academie, meta.generation, id))
            .collect();
        let mut inactive = None;
        for bytes in self.store.get_many(&keys).await?.into_iter().flatten() {
            let person: Person = decode("person", &bytes)?;
            if person.is_active() {
                return Ok(Some(person));
            }
            inactive = Some(person);
        }
        Ok(inactive)
    }

    async fn person_in(
        &self,
        academie: &str,
        generation: u64,
        id: &str,
    ) -> Result<Option<Person>, DirectoryError> {
        match self
            .store
            .get(&person_key(academie, generation, id))
            .await?
        {
            Some(bytes) => Ok(Some(decode("person", &bytes)?)),
            None => Ok(None),
        }
    }

    /// The staff member whose academic e-mail is `email` (case-insensitive),
    /// looked up in every académie and source loaded, with their académie.
    pub async fn staff_by_email(
        &self,
        email: &str,
    ) -> Result<Option<(String, Person)>, DirectoryError> {
        let email = email.trim().to_lowercase();
        for academie in self.academies().await? {
            for meta in self.metas(&academie).await? {
                let key = mail_key(&academie, meta.generation, &email);
                let Some(id) = self.store.get(&key).await? else {
                    continue;
                };
                let id = String::from_utf8_lossy(&id).into_owned();
                if let Some(person) = self.person_in(&academie, meta.generation, &id).await? {
                    return Ok(Some((academie, person)));
                }
            }
        }
        Ok(None)
    }

    /// The pupils of a guardian (active ones), in id order within each source.
    pub async fn children(
        &self,
        academie: &str,
        guardian: &str,
    ) -> Result<Vec<Person>, DirectoryError> {
        let mut children = Vec::new();
        for meta in self.metas(academie).await? {
            let mut ids = self
                .store
                .set_members(&children_key(academie, meta.generation, guardian))
                .await?;
            ids.sort();
            let keys: Vec<String> = ids
                .iter()
                .map(|id| person_key(academie, meta.generation, id))
                .collect();
            for bytes in self.store.get_many(&keys).await?.into_iter().flatten() {
                let child: Person = decode("person", &bytes)?;
                if child.is_active() {
                    children.push(child);
                }
            }
        }
        Ok(children)
    }

    /// The structures, subjects and MEFs of every source of the académie.
    pub async fn references(&self, academie: &str) -> Result<References, DirectoryError> {
        let mut all = References::default();
        for meta in self.metas(academie).await? {
            let references =
                read_references(self.store.as_ref(), academie, meta.generation).await?;
            all.structures.extend(references.structures);
            all.subjects.extend(references.subjects);
            all.mefs.extend(references.mefs);
        }
        Ok(all)
    }

    /// The number of files recorded in the académie's journal.
    pub async fn journal_len(&self, academie: &str) -> Result<usize, DirectoryError> {
        Ok(self.store.set_members(&journal_key(academie)).await?.len())
    }
}
