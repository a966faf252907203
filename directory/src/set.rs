//! An export set (domain reference §3): the XML files of one export (one
//! prefix, one kind, one date), given as files, a folder or a tar archive,
//! with or without a "bordereau" listing the files and their line counts.
//!
//! Opening a set checks everything that can be checked before reading a
//! record: every file name, that the files belong to one export, the
//! bordereau's list and line counts; it also computes each file's SHA-256,
//! recorded in the import journal. A tar archive is unpacked into a
//! temporary folder that lives as long as the set: the files the operator
//! gave are never moved or deleted.
//!
//! Bordereau format (assumed; the académies' exact layout was not
//! available): a UTF-8 text file named `<prefix>_<Complet|Delta>_<YYYYMMDD>_Bordereau.txt`,
//! one line per XML file, `<file name>;<number of lines>` (the number of
//! line feeds in the file); blank lines and lines starting with `#` ignored.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::names::{ExportFileName, ExportKind, FileNameError};

/// One file of a set.
#[derive(Debug, Clone)]
pub struct SetFile {
    /// Its parsed name.
    pub name: ExportFileName,
    /// Where it is.
    pub path: PathBuf,
    /// SHA-256 of its content, hex.
    pub sha256: String,
    /// Number of line feeds.
    pub lines: u64,
    /// Size in bytes.
    pub bytes: u64,
}

/// The files of one export, in import order (category, then number).
#[derive(Debug)]
pub struct ExportSet {
    /// The prefix shared by the files.
    pub prefix: String,
    /// Complete or delta.
    pub kind: ExportKind,
    /// The export date.
    pub date: NaiveDate,
    /// The files.
    pub files: Vec<SetFile>,
    /// Whether a bordereau was found and checked.
    pub bordereau_checked: bool,
    _unpacked: Option<tempfile::TempDir>,
}

/// Why a set was refused.
#[derive(Debug, Error)]
pub enum SetError {
    /// A file or folder could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The tar archive could not be unpacked.
    #[error("cannot unpack the archive {path}: {reason}")]
    Archive {
        /// The archive.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A file name does not follow the AAF pattern.
    #[error(transparent)]
    FileName(#[from] FileNameError),
    /// No XML file was given.
    #[error("no AAF export file found in {0}")]
    Empty(String),
    /// Files of several exports were given together.
    #[error(
        "{first} and {other} do not belong to the same export (prefix, kind and date must match)"
    )]
    Mixed {
        /// A file of the set.
        first: String,
        /// A file of another export.
        other: String,
    },
    /// The same file name twice.
    #[error("{0} is given twice")]
    Duplicate(String),
    /// A bordereau line that cannot be read.
    #[error("bordereau {path} line {line}: {reason}")]
    BordereauSyntax {
        /// The bordereau.
        path: PathBuf,
        /// Line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A file listed in the bordereau is missing.
    #[error("the bordereau lists {0}, which is not in the set")]
    MissingFile(String),
    /// A file of the set is not in the bordereau.
    #[error("{0} is not listed in the bordereau")]
    Unlisted(String),
    /// A file's line count differs from the bordereau's.
    #[error(
        "{file} has {actual} lines, the bordereau says {expected}: the file is incomplete or altered"
    )]
    LineCount {
        /// The file.
        file: String,
        /// Lines according to the bordereau.
        expected: u64,
        /// Lines counted.
        actual: u64,
    },
}

fn read_error(path: &Path) -> impl FnOnce(std::io::Error) -> SetError + '_ {
    move |source| SetError::Read {
        path: path.to_path_buf(),
        source,
    }
}

fn is_bordereau(name: &str) -> bool {
    name.ends_with("_Bordereau.txt")
}

fn is_tar(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    name.ends_with(".tar")
}

impl ExportSet {
    /// Opens the set made of `paths`: XML files, a bordereau, folders (their
    /// XML files and bordereau, not recursively) or one tar archive.
    pub fn open(paths: &[PathBuf]) -> Result<Self, SetError> {
        let mut unpacked = None;
        let mut xml = Vec::new();
        let mut bordereaux = Vec::new();
        let mut collect = |path: PathBuf| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if is_bordereau(&name) {
                bordereaux.push(path);
            } else if name.ends_with(".xml") {
                xml.push((name, path));
            }
        };
        for path in paths {
            let meta = std::fs::metadata(path).map_err(read_error(path))?;
            if meta.is_dir() {
                for entry in std::fs::read_dir(path).map_err(read_error(path))? {
                    let entry = entry.map_err(read_error(path))?;
                    if entry.file_type().map_err(read_error(path))?.is_file() {
                        collect(entry.path());
                    }
                }
            } else if is_tar(path) {
                let dir = unpack(path)?;
                for entry in std::fs::read_dir(dir.path()).map_err(read_error(path))? {
                    collect(entry.map_err(read_error(path))?.path());
                }
                unpacked = Some(dir);
            } else {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if !is_bordereau(&name) {
                    ExportFileName::parse(&name)?;
                }
                collect(path.clone());
            }
        }
        let described = paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let mut files = Vec::new();
        let mut seen = BTreeMap::new();
        for (name, path) in xml {
            let parsed = ExportFileName::parse(&name)?;
            if seen.insert(name.clone(), ()).is_some() {
                return Err(SetError::Duplicate(name));
            }
            let (sha256, lines, bytes) = digest(&path)?;
            files.push(SetFile {
                name: parsed,
                path,
                sha256,
                lines,
                bytes,
            });
        }
        files.sort_by(|a, b| {
            (a.name.category, a.name.number).cmp(&(b.name.category, b.name.number))
        });
        let Some(first) = files.first() else {
            return Err(SetError::Empty(described));
        };
        let (prefix, kind, date) = (first.name.prefix.clone(), first.name.kind, first.name.date);
        if let Some(other) = files
            .iter()
            .find(|f| f.name.prefix != prefix || f.name.kind != kind || f.name.date != date)
        {
            return Err(SetError::Mixed {
                first: first.name.to_string(),
                other: other.name.to_string(),
            });
        }
        let bordereau_checked = match bordereaux.as_slice() {
            [] => false,
            [one] => {
                check_bordereau(one, &files)?;
                true
            }
            [first_bordereau, ..] => {
                return Err(SetError::Duplicate(first_bordereau.display().to_string()));
            }
        };
        Ok(Self {
            prefix,
            kind,
            date,
            files,
            bordereau_checked,
            _unpacked: unpacked,
        })
    }

    /// Total size of the files in bytes.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

/// SHA-256 (hex), line feeds and size of a file, in one pass.
fn digest(path: &Path) -> Result<(String, u64, u64), SetError> {
    let file = File::open(path).map_err(read_error(path))?;
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut hasher = Sha256::new();
    let (mut lines, mut bytes) = (0u64, 0u64);
    loop {
        let chunk = reader.fill_buf().map_err(read_error(path))?;
        if chunk.is_empty() {
            break;
        }
        hasher.update(chunk);
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        bytes += chunk.len() as u64;
        let used = chunk.len();
        reader.consume(used);
    }
    Ok((hex::encode(hasher.finalize()), lines, bytes))
}

fn check_bordereau(path: &Path, files: &[SetFile]) -> Result<(), SetError> {
    let mut text = String::new();
    File::open(path)
        .and_then(|mut f| f.read_to_string(&mut text))
        .map_err(read_error(path))?;
    let mut listed = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let syntax = |reason: &str| SetError::BordereauSyntax {
            path: path.to_path_buf(),
            line: index + 1,
            reason: reason.to_owned(),
        };
        let (name, count) = line
            .split_once(';')
            .ok_or_else(|| syntax("expected <file name>;<number of lines>"))?;
        let count: u64 = count
            .trim()
            .parse()
            .map_err(|_| syntax("the number of lines is not a number"))?;
        listed.insert(name.trim().to_owned(), count);
    }
    for file in files {
        let name = file.name.to_string();
        match listed.remove(&name) {
            None => return Err(SetError::Unlisted(name)),
            Some(expected) if expected != file.lines => {
                return Err(SetError::LineCount {
                    file: name,
                    expected,
                    actual: file.lines,
                });
            }
            Some(_) => {}
        }
    }
    match listed.into_keys().next() {
        Some(missing) => Err(SetError::MissingFile(missing)),
        None => Ok(()),
    }
}

/// Unpacks the regular files at the top of a tar archive (paths inside the
/// archive are reduced to their file name: nothing is written outside the
/// temporary folder).
fn unpack(path: &Path) -> Result<tempfile::TempDir, SetError> {
    let archive_error = |reason: String| SetError::Archive {
        path: path.to_path_buf(),
        reason,
    };
    let dir = tempfile::tempdir().map_err(|e| archive_error(e.to_string()))?;
    let file = File::open(path).map_err(read_error(path))?;
    let mut archive = tar::Archive::new(BufReader::new(file));
    for entry in archive
        .entries()
        .map_err(|e| archive_error(e.to_string()))?
    {
        let mut entry = entry.map_err(|e| archive_error(e.to_string()))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let entry_path = entry.path().map_err(|e| archive_error(e.to_string()))?;
        let Some(name) = entry_path.file_name().map(|n| n.to_os_string()) else {
            continue;
        };
        let target = dir.path().join(name);
        if target.exists() {
            return Err(archive_error(format!(
                "{} appears twice in the archive",
                target.display()
            )));
        }
        let mut out = File::create(&target).map_err(read_error(&target))?;
        std::io::copy(&mut entry, &mut out).map_err(read_error(&target))?;
    }
    Ok(dir)
}
