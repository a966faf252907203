//! Reversibility (domain reference §5: "all data and configuration
//! exportable in open formats when the operator changes"; issue 8):
//! [`export`] writes a whole deployment into one self-contained folder —
//! configuration and every file it points to, subscriptions, directory —
//! in documented open formats (TOML, JSON, JSON lines; the formats are in
//! `docs/reversibility.md`, copied into every export as `README.md`), with a
//! `manifest.json` listing each file's SHA-256 and size; [`import`]
//! verifies that manifest (any missing, changed or unlisted file refuses
//! everything before anything is written), restores the configuration into
//! a new folder, validates it as `check-config` does, and writes
//! subscriptions and directory into a store empty of gateway data.
//!
//! The opaque per-service identifiers are derived from the identifier
//! secret: only an export **with** its secrets reproduces them, so secrets
//! are exported by default (files 0600, folders 0700); `without_secrets`
//! leaves the key material out for a third party, and the import then names
//! each file to provide.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::ops::Range;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sp_registry::Registry;
use sso_directory::snapshot::{SnapshotError, restore_source};
use sso_directory::store::{Directory, DirectoryError, Meta};
use sso_store::{Store, StoreError};
use toml::Spanned;

use crate::config::{ConfigProblems, LoadedConfig, StoreConfig};
use crate::subscriptions::SubscriptionStoreError;

/// The `format` of every manifest.
pub const FORMAT: &str = "sso-gateway-export";
/// The version of the folder layout and file formats.
pub const FORMAT_VERSION: u32 = 1;
/// The manifest's file name, at the top of the export.
pub const MANIFEST: &str = "manifest.json";
/// The description of the formats, written into every export.
const README: &str = include_str!("../../docs/reversibility.md");
/// Where the configuration goes inside the export.
const CONFIG_DIR: &str = "config";
/// The configuration file's name inside `config/`.
const CONFIG_FILE: &str = "gateway.toml";
/// Where the files the configuration names from outside its folder go.
const EXTERNAL_DIR: &str = "external";
/// The anonymous usage statistics, CSV (`crate::stats::raw`).
const STATISTICS: &str = "statistics.csv";

/// One file of the export, as listed in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path inside the export, `/`-separated.
    pub path: String,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Key material (signing keys, identifier secrets, tokens).
    #[serde(default)]
    pub secret: bool,
}

/// A file the configuration names, by its field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigFile {
    /// Dotted field of `gateway.toml` (`keys.identifier_secret_file`).
    pub field: String,
    /// Path relative to the restored configuration folder.
    pub path: String,
}

/// Persons of one académie.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcademieCounts {
    /// Sources (export prefixes: `ENT1D`, `ENT2D`).
    pub sources: Vec<String>,
    /// Persons, active and inactive.
    pub persons: u64,
    /// Persons kept inactive until their purge.
    pub inactive: u64,
}

/// What the export holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Downstream services of the registry.
    pub services: u64,
    /// Subscriptions.
    pub subscriptions: u64,
    /// The directory, by académie code.
    pub academies: BTreeMap<String, AcademieCounts>,
    /// Cells of the anonymous usage statistics (hour and dimensions of a
    /// day, with their count).
    #[serde(default)]
    pub statistics_cells: u64,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] of the gateway that wrote it.
    pub format_version: u32,
    /// When the export was written.
    pub created_at: DateTime<Utc>,
    /// Version of the gateway that wrote it.
    pub gateway_version: String,
    /// Whether the key material is in the export.
    pub with_secrets: bool,
    /// The key files left out (`--without-secrets`): to provide at import.
    pub secrets_left_out: Vec<ConfigFile>,
    /// What the export holds.
    pub counts: Counts,
    /// Every file but the manifest, sorted by path.
    pub files: Vec<FileEntry>,
}

/// How to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The folder to create (absent or empty).
    pub out: PathBuf,
    /// Write the key material (needed to reproduce the opaque identifiers).
    pub with_secrets: bool,
}

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The export folder.
    pub from: PathBuf,
    /// The new configuration folder (absent, empty, or holding only the
    /// secrets left out of the export).
    pub to: PathBuf,
    /// The Redis URL written into the restored `[store] url`.
    pub store_url: Option<String>,
    /// Write into a store that already holds gateway data.
    pub force: bool,
}

/// What an import restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// The restored configuration file.
    pub config: PathBuf,
    /// What was written into the store.
    pub counts: Counts,
}

/// One problem of an export folder found by [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileProblem {
    /// Listed in the manifest, absent from the folder.
    Missing(String),
    /// Its size or SHA-256 differs from the manifest's.
    Changed(String),
    /// In the folder, not in the manifest.
    Unlisted(String),
    /// A manifest path that is not a plain relative path.
    UnsafePath(String),
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(path) => write!(f, "{path}: listed in the manifest, missing"),
            Self::Changed(path) => write!(
                f,
                "{path}: content differs from the manifest (size or SHA-256)"
            ),
            Self::Unlisted(path) => write!(f, "{path}: not listed in the manifest"),
            Self::UnsafePath(path) => write!(
                f,
                "{path:?}: not a plain relative path (no `..`, no leading `/`)"
            ),
        }
    }
}

/// Why an export or an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ReversibilityError {
    /// The export folder exists and is not empty.
    #[error("{0}: exists and is not empty; export into a new folder")]
    OutNotEmpty(PathBuf),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// A path field's span in `gateway.toml` is not a string literal.
    #[error("{file}: field `{field}` is not a plain string; cannot rewrite it")]
    NotAString {
        /// The configuration file.
        file: PathBuf,
        /// The field.
        field: String,
    },
    /// A service file names a file outside the services folder.
    #[error(
        "{file}: field `{field}` names {value:?}, outside the services folder; move that file into the folder"
    )]
    ServiceReferenceOutside {
        /// The service file.
        file: PathBuf,
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// A name read from the store cannot be a folder name.
    #[error("{what} {name:?} read from the store is not a plain name (letters, digits, `-`)")]
    UnsafeName {
        /// What it names (`académie`, `source`).
        what: &'static str,
        /// The name.
        name: String,
    },
    /// The registry does not load.
    #[error("services folder: {0}")]
    Registry(String),
    /// Subscriptions could not be read or written.
    #[error("subscriptions: {0}")]
    Subscriptions(#[from] SubscriptionStoreError),
    /// The directory could not be read.
    #[error("directory: {0}")]
    Directory(#[from] DirectoryError),
    /// The statistics could not be exported or restored.
    #[error("statistics: {0}")]
    Statistics(#[from] crate::stats::StatsError),
    /// A directory source could not be exported or restored.
    #[error("directory {academie} {prefix}: {source}")]
    Snapshot {
        /// Académie code.
        academie: String,
        /// Source prefix.
        prefix: String,
        /// Why.
        source: SnapshotError,
    },
    /// The store failed.
    #[error("state store: {0}")]
    Store(#[from] StoreError),
    /// `manifest.json` is missing or not a manifest.
    #[error("{path}: not a readable export manifest: {reason}")]
    Manifest {
        /// The manifest's path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The manifest is of another format or version.
    #[error(
        "export format {format:?} version {version}: this gateway reads {FORMAT:?} version {FORMAT_VERSION}"
    )]
    UnsupportedFormat {
        /// The manifest's format.
        format: String,
        /// The manifest's version.
        version: u32,
    },
    /// The export folder does not match its manifest.
    #[error("the export does not match its manifest; nothing imported:\n{}", list(.0))]
    Verification(Vec<FileProblem>),
    /// A JSON file of the export does not parse.
    #[error("{path}: {reason}")]
    BadFile {
        /// Path inside the export.
        path: String,
        /// Why.
        reason: String,
    },
    /// The target configuration folder holds other files.
    #[error(
        "{0}: exists and holds files other than the secrets to provide; import into a new folder"
    )]
    TargetNotEmpty(PathBuf),
    /// Key files left out of the export are not in the target folder.
    #[error(
        "the export was written without its secrets; put these files into {}, then import again (nothing imported):\n{}",
        .to.display(), list(.missing)
    )]
    MissingSecrets {
        /// The target folder.
        to: PathBuf,
        /// The files to provide.
        missing: Vec<ConfigFile>,
    },
    /// The restored configuration has no `[store]` table to rewrite.
    #[error("{0}: no `[store]` table to write the store URL into")]
    NoStoreTable(PathBuf),
    /// The restored configuration is invalid (as `check-config` reports it).
    #[error("the restored configuration is invalid; the store is untouched:\n{0}")]
    Config(ConfigProblems),
    /// The restored configuration names the memory store.
    #[error(
        "[store] kind = \"memory\" keeps nothing between processes: import needs the shared Redis"
    )]
    MemoryStore,
    /// The store already holds gateway data.
    #[error(
        "the store already holds gateway data ({academies} académie(s) in the directory, {subscriptions} subscription(s)); nothing imported (--force to write anyway)"
    )]
    StoreNotEmpty {
        /// Académies in its directory.
        academies: usize,
        /// Subscriptions in it.
        subscriptions: usize,
    },
    /// The subscriptions file does not validate against the restored registry.
    #[error("subscriptions.json does not validate against the restored registry; nothing imported:\n{}", list(.0))]
    SubscriptionsInvalid(Vec<String>),
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|item| format!("  {item}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl fmt::Display for ConfigFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (field `{}`)", self.path, self.field)
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReversibilityError + '_ {
    move |source| ReversibilityError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Creates a folder and its parents, owner-only.
fn create_dir(path: &Path) -> Result<(), ReversibilityError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(io(path))
}

/// Creates a new file, owner-only (the export holds personal data and keys).
fn create_file(path: &Path) -> Result<File, ReversibilityError> {
    if let Some(parent) = path.parent() {
        create_dir(parent)?;
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))
}

fn write_file(path: &Path, contents: &[u8]) -> Result<(), ReversibilityError> {
    let mut file = create_file(path)?;
    file.write_all(contents).map_err(io(path))
}

fn json_pretty<T: Serialize>(value: &T) -> Vec<u8> {
    // Plain structs and maps: serializing them to JSON cannot fail.
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Whether `path` is absent or an empty folder.
fn absent_or_empty(path: &Path) -> Result<bool, ReversibilityError> {
    match std::fs::read_dir(path) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(error) => Err(io(path)(error)),
    }
}

/// Every regular file under `dir`, relative and `/`-separated, sorted
/// (symbolic links are followed).
fn files_under(dir: &Path) -> Result<Vec<String>, ReversibilityError> {
    let mut out = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((folder, prefix)) = pending.pop() {
        for entry in std::fs::read_dir(&folder).map_err(io(&folder))? {
            let entry = entry.map_err(io(&folder))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let metadata = std::fs::metadata(&path).map_err(io(&path))?;
            if metadata.is_dir() {
                pending.push((path, relative));
            } else if metadata.is_file() {
                out.push(relative);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `path` as a plain relative path (`a/b/c`: no root, no `.`, no `..`, no
/// empty component), joined to `base`; `None` otherwise.
fn safe_join(base: &Path, path: &str) -> Option<PathBuf> {
    if path.is_empty() || path.contains(['\\', '\0']) {
        return None;
    }
    let mut joined = base.to_path_buf();
    for part in path.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return None;
        }
        joined.push(part);
    }
    Some(joined)
}

/// A plain relative path (only normal components) as a `/`-separated
/// string; `None` for an absolute path, `..`, or a non-UTF-8 name.
fn plain_relative(path: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn sha256_of(path: &Path) -> Result<(String, u64), ReversibilityError> {
    let mut file = File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut bytes = 0u64;
    loop {
        let read = file.read(&mut buffer).map_err(io(path))?;
        if read == 0 {
            break;
        }
        hasher.update(buffer.get(..read).unwrap_or_default());
        bytes += read as u64;
    }
    Ok((hex::encode(hasher.finalize()), bytes))
}

/// What a path field of `gateway.toml` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A file of public data (certificate, metadata).
    File,
    /// Key material.
    Secret,
    /// The services folder.
    Folder,
}

/// One path field of `gateway.toml`.
#[derive(Debug)]
struct Reference {
    field: String,
    span: Range<usize>,
    path: PathBuf,
    kind: Kind,
}

fn reference(field: String, spanned: &Spanned<PathBuf>, kind: Kind) -> Reference {
    Reference {
        field,
        span: spanned.span(),
        path: spanned.get_ref().clone(),
        kind,
    }
}

/// Every path field of the configuration (caches excepted: the gateway
/// rebuilds them).
fn references(loaded: &LoadedConfig) -> Vec<Reference> {
    let config = &loaded.config;
    let keys = &config.keys;
    let mut out = vec![
        reference("keys.signing_key".into(), &keys.signing_key, Kind::Secret),
        reference("keys.signing_cert".into(), &keys.signing_cert, Kind::File),
        reference(
            "keys.encryption_key".into(),
            &keys.encryption_key,
            Kind::Secret,
        ),
        reference(
            "keys.encryption_cert".into(),
            &keys.encryption_cert,
            Kind::File,
        ),
        reference(
            "keys.identifier_secret_file".into(),
            &keys.identifier_secret_file,
            Kind::Secret,
        ),
        reference(
            "registry.services_dir".into(),
            &config.registry.services_dir,
            Kind::Folder,
        ),
    ];
    for (i, previous) in keys.previous_identifier_secrets.iter().enumerate() {
        out.push(reference(
            format!("keys.previous_identifier_secrets[{i}].file"),
            &previous.file,
            Kind::Secret,
        ));
    }
    if let Some(token) = &config.admin.api_token_file {
        out.push(reference(
            "admin.api_token_file".into(),
            token,
            Kind::Secret,
        ));
    }
    for (i, key) in config.oidc_provider.keys.iter().enumerate() {
        out.push(reference(
            format!("oidc_provider.keys[{i}].file"),
            &key.file,
            Kind::Secret,
        ));
    }
    for (i, idp) in config.idp.iter().enumerate() {
        if let Some(file) = &idp.metadata_file {
            out.push(reference(
                format!("idp[{i}].metadata_file"),
                file,
                Kind::File,
            ));
        }
        if let Some(file) = &idp.metadata_signing_cert {
            out.push(reference(
                format!("idp[{i}].metadata_signing_cert"),
                file,
                Kind::File,
            ));
        }
    }
    for (i, previous) in config.legal.previous.iter().enumerate() {
        if let Some(file) = &previous.file {
            out.push(reference(
                format!("legal.previous[{i}].file"),
                file,
                Kind::File,
            ));
        }
    }
    if let Some(file) = config.legal.charter.as_ref().and_then(|c| c.file.as_ref()) {
        out.push(reference("legal.charter.file".into(), file, Kind::File));
    }
    for (i, idp) in config.oidc_idp.iter().enumerate() {
        out.push(reference(
            format!("oidc_idp[{i}].client_secret_file"),
            &idp.client_secret_file,
            Kind::Secret,
        ));
    }
    out
}

/// Where a configured path goes inside `config/`: the same relative path
/// when it stays inside the configuration folder, `external/<n>-<name>`
/// otherwise.
fn destination(path: &Path, index: usize) -> String {
    match plain_relative(path) {
        Some(relative) if !relative.starts_with(&format!("{EXTERNAL_DIR}/")) => relative,
        _ => {
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_else(|| "file".to_owned());
            format!("{EXTERNAL_DIR}/{index}-{name}")
        }
    }
}

/// `text` with each span replaced by a TOML string of its new path.
fn rewrite_paths(
    file: &Path,
    text: &str,
    rewrites: &[(String, Range<usize>, String)],
) -> Result<String, ReversibilityError> {
    let mut sorted: Vec<&(String, Range<usize>, String)> = rewrites.iter().collect();
    sorted.sort_by_key(|(_, span, _)| std::cmp::Reverse(span.start));
    let mut out = text.to_owned();
    for (field, span, new) in sorted {
        let literal = text.get(span.clone()).unwrap_or_default();
        if !(literal.starts_with('"') || literal.starts_with('\'')) {
            return Err(ReversibilityError::NotAString {
                file: file.to_owned(),
                field: field.clone(),
            });
        }
        out.replace_range(span.clone(), &toml::Value::String(new.clone()).to_string());
    }
    Ok(out)
}

/// The file fields of a service definition, relative to the services folder.
const SERVICE_FILE_FIELDS: [(&str, &str, &str); 3] = [
    ("saml", "metadata_file", "saml.metadata_file"),
    (
        "saml",
        "signing_certificate_file",
        "saml.signing_certificate_file",
    ),
    ("oidc", "jwks_file", "oidc.jwks_file"),
];

/// Refuses a service file naming a file outside its folder (the copy of the
/// folder would not hold it).
fn check_service_file(path: &Path) -> Result<(), ReversibilityError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let Ok(table) = toml::from_str::<toml::Table>(&text) else {
        // The registry reported it already; an unparsable file names nothing.
        return Ok(());
    };
    for (section, key, field) in SERVICE_FILE_FIELDS {
        let value = table
            .get(section)
            .and_then(|s| s.get(key))
            .and_then(toml::Value::as_str);
        if let Some(value) = value
            && plain_relative(Path::new(value)).is_none()
        {
            return Err(ReversibilityError::ServiceReferenceOutside {
                file: path.to_owned(),
                field,
                value: value.to_owned(),
            });
        }
    }
    Ok(())
}

/// Copies the configuration into `<out>/config`; returns the secrets left
/// out and the export paths of the secrets written.
fn export_config(
    loaded: &LoadedConfig,
    out: &Path,
    with_secrets: bool,
) -> Result<(Vec<ConfigFile>, BTreeSet<String>), ReversibilityError> {
    let config_out = out.join(CONFIG_DIR);
    let mut rewrites = Vec::new();
    let mut copied: BTreeSet<String> = BTreeSet::new();
    let mut left_out = Vec::new();
    let mut secrets = BTreeSet::new();
    for (index, reference) in references(loaded).into_iter().enumerate() {
        let source = loaded.resolve(&reference.path);
        let dest = destination(&reference.path, index);
        rewrites.push((
            reference.field.clone(),
            reference.span.clone(),
            dest.clone(),
        ));
        if !copied.insert(dest.clone()) {
            continue;
        }
        match reference.kind {
            Kind::Folder => {
                for file in files_under(&source)? {
                    let from = source.join(&file);
                    if file.ends_with(".toml") {
                        check_service_file(&from)?;
                    }
                    let bytes = std::fs::read(&from).map_err(io(&from))?;
                    write_file(&config_out.join(&dest).join(&file), &bytes)?;
                }
            }
            Kind::Secret if !with_secrets => left_out.push(ConfigFile {
                field: reference.field,
                path: dest,
            }),
            Kind::File | Kind::Secret => {
                let bytes = std::fs::read(&source).map_err(io(&source))?;
                write_file(&config_out.join(&dest), &bytes)?;
                if reference.kind == Kind::Secret {
                    secrets.insert(format!("{CONFIG_DIR}/{dest}"));
                }
            }
        }
    }
    let text = std::fs::read_to_string(&loaded.path).map_err(io(&loaded.path))?;
    let rewritten = rewrite_paths(&loaded.path, &text, &rewrites)?;
    write_file(&config_out.join(CONFIG_FILE), rewritten.as_bytes())?;
    Ok((left_out, secrets))
}

/// Writes the directory: per académie its journal, per source its meta,
/// references and persons.
async fn export_directory(
    store: &std::sync::Arc<dyn Store>,
    out: &Path,
) -> Result<BTreeMap<String, AcademieCounts>, ReversibilityError> {
    let directory = Directory::new(std::sync::Arc::clone(store));
    let mut counts = BTreeMap::new();
    for academie in directory.academies().await? {
        if !plain_name(&academie) {
            return Err(ReversibilityError::UnsafeName {
                what: "académie",
                name: academie,
            });
        }
        let folder = out.join("directory").join(&academie);
        let journal = directory.journal(&academie).await?;
        write_file(&folder.join("journal.json"), &json_pretty(&journal))?;
        let mut academie_counts = AcademieCounts::default();
        for meta in directory.metas(&academie).await? {
            if !plain_name(&meta.prefix) {
                return Err(ReversibilityError::UnsafeName {
                    what: "source",
                    name: meta.prefix,
                });
            }
            let source = folder.join(&meta.prefix);
            let persons_path = source.join("persons.jsonl");
            let mut persons = BufWriter::new(create_file(&persons_path)?);
            let written = directory
                .write_persons(&meta, &mut persons)
                .await
                .map_err(|source| ReversibilityError::Snapshot {
                    academie: academie.clone(),
                    prefix: meta.prefix.clone(),
                    source,
                })?;
            persons.flush().map_err(io(&persons_path))?;
            let references = directory.source_references(&meta).await?;
            write_file(&source.join("references.json"), &json_pretty(&references))?;
            let exported = Meta {
                persons: written,
                ..meta.clone()
            };
            write_file(&source.join("meta.json"), &json_pretty(&exported))?;
            academie_counts.sources.push(meta.prefix.clone());
            academie_counts.persons += written;
            academie_counts.inactive += meta.inactive;
        }
        counts.insert(academie, academie_counts);
    }
    Ok(counts)
}

/// Writes the whole deployment `loaded` describes, its data read from
/// `store`, into `options.out`; returns the manifest written.
pub async fn export(
    loaded: &LoadedConfig,
    store: &std::sync::Arc<dyn Store>,
    options: &ExportOptions,
) -> Result<Manifest, ReversibilityError> {
    let out = &options.out;
    if !absent_or_empty(out)? {
        return Err(ReversibilityError::OutNotEmpty(out.clone()));
    }
    create_dir(out)?;
    let registry = Registry::load_dir(&crate::server::services_dir(loaded))
        .map_err(|errors| ReversibilityError::Registry(errors.to_string()))?;
    let (secrets_left_out, secrets) = export_config(loaded, out, options.with_secrets)?;

    let subscriptions = crate::subscriptions::list(store.as_ref(), None, None).await?;
    write_file(
        &out.join("subscriptions.json"),
        &json_pretty(&serde_json::json!({ "abonnements": subscriptions })),
    )?;
    let academies = export_directory(store, out).await?;
    let statistics_path = out.join(STATISTICS);
    let mut statistics = std::io::BufWriter::new(create_file(&statistics_path)?);
    let statistics_cells = crate::stats::raw::export(store.as_ref(), &mut statistics).await?;
    statistics.flush().map_err(io(&statistics_path))?;
    write_file(&out.join("README.md"), README.as_bytes())?;

    let mut files = Vec::new();
    for path in files_under(out)? {
        let (sha256, bytes) = sha256_of(&out.join(&path))?;
        files.push(FileEntry {
            secret: secrets.contains(&path),
            path,
            sha256,
            bytes,
        });
    }
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        format_version: FORMAT_VERSION,
        created_at: Utc::now(),
        gateway_version: env!("CARGO_PKG_VERSION").to_owned(),
        with_secrets: options.with_secrets,
        secrets_left_out,
        counts: Counts {
            services: registry.services().count() as u64,
            subscriptions: subscriptions.len() as u64,
            academies,
            statistics_cells,
        },
        files,
    };
    write_file(&out.join(MANIFEST), &json_pretty(&manifest))?;
    Ok(manifest)
}

/// Reads the manifest of the export at `from` and checks every file against
/// it: any file missing, changed or unlisted is reported, all of them.
pub fn verify(from: &Path) -> Result<Manifest, ReversibilityError> {
    let path = from.join(MANIFEST);
    let manifest_error = |reason: String| ReversibilityError::Manifest {
        path: path.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| manifest_error(e.to_string()))?;
    let manifest: Manifest =
        serde_json::from_str(&text).map_err(|e| manifest_error(e.to_string()))?;
    if manifest.format != FORMAT || manifest.format_version != FORMAT_VERSION {
        return Err(ReversibilityError::UnsupportedFormat {
            format: manifest.format,
            version: manifest.format_version,
        });
    }
    let mut problems = Vec::new();
    let mut listed = BTreeSet::new();
    for entry in &manifest.files {
        let Some(file) = safe_join(from, &entry.path) else {
            problems.push(FileProblem::UnsafePath(entry.path.clone()));
            continue;
        };
        listed.insert(entry.path.as_str());
        if !file.is_file() {
            problems.push(FileProblem::Missing(entry.path.clone()));
            continue;
        }
        let (sha256, bytes) = sha256_of(&file)?;
        if sha256 != entry.sha256 || bytes != entry.bytes {
            problems.push(FileProblem::Changed(entry.path.clone()));
        }
    }
    for path in files_under(from)? {
        if path != MANIFEST && !listed.contains(path.as_str()) {
            problems.push(FileProblem::Unlisted(path));
        }
    }
    if problems.is_empty() {
        Ok(manifest)
    } else {
        Err(ReversibilityError::Verification(problems))
    }
}

/// `text` with `[store] url` set to `url` (the line replaced, or added
/// right after the `[store]` header).
fn with_store_url(file: &Path, text: &str, url: &str) -> Result<String, ReversibilityError> {
    #[derive(Deserialize)]
    struct StoreOnly {
        store: StoreUrl,
    }
    #[derive(Deserialize)]
    struct StoreUrl {
        #[serde(default)]
        url: Option<Spanned<String>>,
    }
    let literal = toml::Value::String(url.to_owned()).to_string();
    let parsed: StoreOnly =
        toml::from_str(text).map_err(|_| ReversibilityError::NoStoreTable(file.to_owned()))?;
    if let Some(current) = parsed.store.url {
        let mut out = text.to_owned();
        out.replace_range(current.span(), &literal);
        return Ok(out);
    }
    let mut out = String::with_capacity(text.len() + literal.len() + 8);
    let mut added = false;
    for line in text.split_inclusive('\n') {
        out.push_str(line);
        if !added && line.trim() == "[store]" {
            if !line.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&format!("url = {literal}\n"));
            added = true;
        }
    }
    if added {
        Ok(out)
    } else {
        Err(ReversibilityError::NoStoreTable(file.to_owned()))
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(
    from: &Path,
    path: &str,
) -> Result<T, ReversibilityError> {
    let full = from.join(path);
    let bytes = std::fs::read(&full).map_err(io(&full))?;
    serde_json::from_slice(&bytes).map_err(|e| ReversibilityError::BadFile {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// Checks the target folder and the secrets left out, then copies
/// `config/` into it.
fn restore_config(
    manifest: &Manifest,
    options: &ImportOptions,
) -> Result<PathBuf, ReversibilityError> {
    let to = &options.to;
    let provided: BTreeSet<&str> = manifest
        .secrets_left_out
        .iter()
        .map(|s| s.path.as_str())
        .collect();
    if to.exists() {
        for file in files_under(to)? {
            if !provided.contains(file.as_str()) {
                return Err(ReversibilityError::TargetNotEmpty(to.clone()));
            }
        }
    }
    let missing: Vec<ConfigFile> = manifest
        .secrets_left_out
        .iter()
        .filter(|s| safe_join(to, &s.path).is_none_or(|path| !path.is_file()))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(ReversibilityError::MissingSecrets {
            to: to.clone(),
            missing,
        });
    }
    create_dir(to)?;
    let prefix = format!("{CONFIG_DIR}/");
    for entry in &manifest.files {
        let Some(relative) = entry.path.strip_prefix(&prefix) else {
            continue;
        };
        let (Some(from), Some(dest)) = (
            safe_join(&options.from, &entry.path),
            safe_join(to, relative),
        ) else {
            return Err(ReversibilityError::Verification(vec![
                FileProblem::UnsafePath(entry.path.clone()),
            ]));
        };
        let bytes = std::fs::read(&from).map_err(io(&from))?;
        write_file(&dest, &bytes)?;
    }
    let config = to.join(CONFIG_FILE);
    if let Some(url) = &options.store_url {
        let text = std::fs::read_to_string(&config).map_err(io(&config))?;
        let text = with_store_url(&config, &text, url)?;
        std::fs::write(&config, text).map_err(io(&config))?;
    }
    Ok(config)
}

/// Restores the export at `options.from`: verifies it whole, restores the
/// configuration into `options.to`, validates it as `check-config` does,
/// then writes subscriptions and directory into the store it names, which
/// must hold no gateway data unless `force`.
pub async fn import(options: &ImportOptions) -> Result<ImportReport, ReversibilityError> {
    let manifest = verify(&options.from)?;
    let config_path = restore_config(&manifest, options)?;
    let loaded = LoadedConfig::load(&config_path).map_err(ReversibilityError::Config)?;
    let http = crate::state::http_client().map_err(|e| {
        ReversibilityError::Config(ConfigProblems(vec![crate::config::ConfigProblem {
            file: config_path.clone(),
            line: None,
            field: None,
            message: format!("HTTP client: {e}"),
        }]))
    })?;
    let prepared = crate::state::prepare(&loaded, &http)
        .await
        .map_err(ReversibilityError::Config)?;
    if matches!(loaded.config.store, StoreConfig::Memory) {
        return Err(ReversibilityError::MemoryStore);
    }
    let store = crate::server::connect_store(&loaded.config.store).await?;
    let directory = Directory::new(std::sync::Arc::clone(&store));
    let academies = directory.academies().await?.len();
    let subscriptions = crate::subscriptions::list(store.as_ref(), None, None)
        .await?
        .len();
    if (academies > 0 || subscriptions > 0) && !options.force {
        return Err(ReversibilityError::StoreNotEmpty {
            academies,
            subscriptions,
        });
    }

    let path = options.from.join("subscriptions.json");
    let json = std::fs::read_to_string(&path).map_err(io(&path))?;
    let parsed =
        sp_registry::subscription::parse_file(&json, &prepared.registry).map_err(|problems| {
            ReversibilityError::SubscriptionsInvalid(
                problems.iter().map(ToString::to_string).collect(),
            )
        })?;
    crate::subscriptions::put_all(store.as_ref(), &parsed, Utc::now().date_naive()).await?;

    let mut restored = BTreeMap::new();
    for (academie, counts) in &manifest.counts.academies {
        if !plain_name(academie) {
            return Err(ReversibilityError::UnsafeName {
                what: "académie",
                name: academie.clone(),
            });
        }
        let journal: Vec<String> =
            read_json(&options.from, &format!("directory/{academie}/journal.json"))?;
        let mut academie_counts = AcademieCounts::default();
        for prefix in &counts.sources {
            if !plain_name(prefix) {
                return Err(ReversibilityError::UnsafeName {
                    what: "source",
                    name: prefix.clone(),
                });
            }
            let folder = format!("directory/{academie}/{prefix}");
            let meta: Meta = read_json(&options.from, &format!("{folder}/meta.json"))?;
            let references = read_json(&options.from, &format!("{folder}/references.json"))?;
            let persons_path = options.from.join(&folder).join("persons.jsonl");
            let mut persons = BufReader::new(File::open(&persons_path).map_err(io(&persons_path))?);
            let snapshot_error = |source| ReversibilityError::Snapshot {
                academie: academie.clone(),
                prefix: prefix.clone(),
                source,
            };
            if meta.academie != *academie || meta.prefix != *prefix {
                return Err(ReversibilityError::BadFile {
                    path: format!("{folder}/meta.json"),
                    reason: format!(
                        "names académie {} source {}, not those of its folder",
                        meta.academie, meta.prefix
                    ),
                });
            }
            let serving =
                restore_source(store.as_ref(), &meta, &references, &mut persons, &journal)
                    .await
                    .map_err(snapshot_error)?;
            academie_counts.sources.push(prefix.clone());
            academie_counts.persons += serving.persons;
            academie_counts.inactive += serving.inactive;
        }
        restored.insert(academie.clone(), academie_counts);
    }
    let statistics_path = options.from.join(STATISTICS);
    let statistics_cells = crate::stats::raw::import(
        store.as_ref(),
        File::open(&statistics_path).map_err(io(&statistics_path))?,
    )
    .await?;
    Ok(ImportReport {
        config: config_path,
        counts: Counts {
            services: prepared.registry.services().count() as u64,
            subscriptions: parsed.len() as u64,
            academies: restored,
            statistics_cells,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_joined() {
        let base = Path::new("/export");
        assert_eq!(
            safe_join(base, "config/keys/a.key"),
            Some(PathBuf::from("/export/config/keys/a.key"))
        );
        for bad in [
            "",
            "/etc/passwd",
            "../outside",
            "config/../../x",
            "config//x",
            "./x",
            "a\\b",
        ] {
            assert_eq!(safe_join(base, bad), None, "{bad:?}");
        }
    }

    #[test]
    fn paths_inside_the_folder_keep_their_place_others_go_to_external() {
        assert_eq!(destination(Path::new("keys/a.key"), 3), "keys/a.key");
        assert_eq!(destination(Path::new("./keys/a.key"), 3), "keys/a.key");
        assert_eq!(
            destination(Path::new("/etc/sso/a.key"), 3),
            "external/3-a.key"
        );
        assert_eq!(
            destination(Path::new("../shared/meta.xml"), 4),
            "external/4-meta.xml"
        );
        assert_eq!(
            destination(Path::new("external/a.key"), 5),
            "external/5-a.key"
        );
    }

    #[test]
    fn a_path_field_is_rewritten_in_place_comments_kept() {
        #[derive(Deserialize)]
        struct Keys {
            keys: Inner,
        }
        #[derive(Deserialize)]
        struct Inner {
            signing_key: Spanned<PathBuf>,
        }
        let text = "# comment\n[keys]\nsigning_key = \"/etc/sso/k.key\" # the key\n";
        let keys: Keys = toml::from_str(text).unwrap();
        let span = keys.keys.signing_key.span();
        let out = rewrite_paths(
            Path::new("g.toml"),
            text,
            &[("keys.signing_key".into(), span, "external/0-k.key".into())],
        )
        .unwrap();
        assert_eq!(
            out,
            "# comment\n[keys]\nsigning_key = \"external/0-k.key\" # the key\n"
        );
    }

    #[test]
    fn the_store_url_is_replaced_or_added() {
        let file = Path::new("g.toml");
        let text = "[store]\nkind = \"redis\"\nurl = \"redis://a:1/0\" # A\n";
        assert_eq!(
            with_store_url(file, text, "redis://b:2/0").unwrap(),
            "[store]\nkind = \"redis\"\nurl = \"redis://b:2/0\" # A\n"
        );
        let text = "[store]\nkind = \"redis\"\n";
        assert_eq!(
            with_store_url(file, text, "redis://b:2/0").unwrap(),
            "[store]\nurl = \"redis://b:2/0\"\nkind = \"redis\"\n"
        );
        assert!(matches!(
            with_store_url(file, "[server]\n", "redis://b:2/0"),
            Err(ReversibilityError::NoStoreTable(_))
        ));
    }
}
