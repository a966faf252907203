//! Writing AAF export sets (domain reference §3; brief "File names",
//! "Bordereau"): `<prefix>_<Complet|Delta>_<YYYYMMDD>_<Category>_<NNNN>.xml`
//! files of at most `max_records_per_file` records each, the bordereau
//! `<prefix>_<Complet|Delta>_<YYYYMMDD>_Bordereau.txt` (UTF-8, one
//! `<file name>;<number of lines>` line per XML file), and a tar archive of
//! the set.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::delta::{DeltaSpec, delta_plan, delta_records};
use super::demo::{Demo, demo};
use super::model::Ctx;
use super::records::complete_records;
use super::xml::{DocWriter, Record};
use super::{AafSpec, Category, ExportKind, GenError, validate};

/// Most files per category (`NNNN`).
const MAX_FILES: u32 = 10_000;

/// One XML file of a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFile {
    /// File name.
    pub name: String,
    /// Its category.
    pub category: Category,
    /// Its number in the category (`NNNN`).
    pub number: u32,
    /// Records in it.
    pub records: u64,
    /// Its number of lines (`\n`), as in the bordereau.
    pub lines: u64,
}

/// A written export set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSet {
    /// The folder holding the files.
    pub dir: PathBuf,
    /// Complete or delta.
    pub kind: ExportKind,
    /// `ENT1D` or `ENT2D`.
    pub prefix: &'static str,
    /// Date in the file names.
    pub date: NaiveDate,
    /// The XML files, in bordereau order.
    pub files: Vec<ExportFile>,
    /// File name of the bordereau.
    pub bordereau: String,
}

impl ExportSet {
    /// Path of file `name` of the set.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The files of one category.
    pub fn files_of(&self, category: Category) -> impl Iterator<Item = &ExportFile> {
        self.files.iter().filter(move |f| f.category == category)
    }

    /// Writes a tar archive (ustar) of the XML files then the bordereau to
    /// `out`, entries dated on the export date, mode 0644: the same set gives
    /// the same bytes. Returns `out`.
    pub fn write_tar<W: Write>(&self, out: W) -> Result<W, GenError> {
        let mtime = self
            .date
            .and_hms_opt(0, 0, 0)
            .map_or(0, |t| u64::try_from(t.and_utc().timestamp()).unwrap_or(0));
        let mut builder = tar::Builder::new(out);
        let names = self
            .files
            .iter()
            .map(|f| f.name.as_str())
            .chain(std::iter::once(self.bordereau.as_str()));
        for name in names {
            let path = self.path(name);
            let file = File::open(&path).map_err(|e| GenError::io(&path, e))?;
            let size = file.metadata().map_err(|e| GenError::io(&path, e))?.len();
            let mut header = tar::Header::new_ustar();
            header.set_size(size);
            header.set_mode(0o644);
            header.set_mtime(mtime);
            header.set_uid(0);
            header.set_gid(0);
            header.set_entry_type(tar::EntryType::Regular);
            builder
                .append_data(&mut header, name, file)
                .map_err(|e| GenError::Io {
                    target: format!("the tar archive ({name})"),
                    source: e,
                })?;
        }
        builder.into_inner().map_err(|source| GenError::Io {
            target: "the tar archive".to_owned(),
            source,
        })
    }
}

/// Writes every record of `category` of the complete export of `spec` as one
/// document (whatever `max_records_per_file`) to `out`; returns its number of
/// lines. Streams: memory does not grow with the size of the export.
pub fn write_category<W: Write>(
    spec: &AafSpec,
    category: Category,
    out: W,
) -> Result<u64, GenError> {
    validate(spec)?;
    if !super::in_degree(category, spec.degree) {
        return Err(GenError::CategoryNotInDegree { category });
    }
    let ctx = Ctx::new(spec);
    let demo = demo_of(spec)?;
    let mut writer = DocWriter::start(spec, out, "the output".to_owned())?;
    for record in complete_records(&ctx, demo, category) {
        writer.record(&record)?;
    }
    writer.finish().map(|(_, lines)| lines)
}

/// Writes the complete export of `spec` into `dir` (created if needed): every
/// category of the degree, split into files of at most
/// `max_records_per_file` records, and the bordereau.
pub fn write_complete(spec: &AafSpec, dir: &Path) -> Result<ExportSet, GenError> {
    validate(spec)?;
    let ctx = Ctx::new(spec);
    let mut set = new_set(spec, ExportKind::Complete, spec.date, dir)?;
    for category in spec.categories() {
        let demo = demo_of(spec)?;
        let files = write_split(spec, &set, category, complete_records(&ctx, demo, category))?;
        set.files.extend(files);
    }
    write_bordereau(&set)?;
    Ok(set)
}

/// Writes the delta `changes` (planned by [`delta_plan`] on top of the
/// complete export of `spec`) into `dir`: every category of the degree, empty
/// ones included, and the bordereau.
pub fn write_delta(spec: &AafSpec, changes: &DeltaSpec, dir: &Path) -> Result<ExportSet, GenError> {
    let plan = delta_plan(spec, changes)?;
    let mut set = new_set(spec, ExportKind::Delta, changes.date, dir)?;
    for category in spec.categories() {
        let records = delta_records(spec, &plan, category);
        let files = write_split(spec, &set, category, records.into_iter())?;
        set.files.extend(files);
    }
    write_bordereau(&set)?;
    Ok(set)
}

fn demo_of(spec: &AafSpec) -> Result<Demo, GenError> {
    if spec.include_demo_population {
        demo(spec.degree)
    } else {
        Ok(Demo::default())
    }
}

fn new_set(
    spec: &AafSpec,
    kind: ExportKind,
    date: NaiveDate,
    dir: &Path,
) -> Result<ExportSet, GenError> {
    std::fs::create_dir_all(dir).map_err(|e| GenError::io(dir, e))?;
    Ok(ExportSet {
        dir: dir.to_path_buf(),
        kind,
        prefix: spec.prefix(),
        date,
        files: Vec::new(),
        bordereau: format!(
            "{}_{}_{}_Bordereau.txt",
            spec.prefix(),
            kind.as_str(),
            date.format("%Y%m%d")
        ),
    })
}

fn file_name(set: &ExportSet, category: Category, number: u32) -> String {
    format!(
        "{}_{}_{}_{}_{number:04}.xml",
        set.prefix,
        set.kind.as_str(),
        set.date.format("%Y%m%d"),
        category.as_str()
    )
}

/// Writes `records` into files `_0000`, `_0001`... of at most
/// `max_records_per_file` records (one empty file when there is none).
fn write_split(
    spec: &AafSpec,
    set: &ExportSet,
    category: Category,
    records: impl Iterator<Item = Record>,
) -> Result<Vec<ExportFile>, GenError> {
    let max = u64::from(spec.max_records_per_file);
    let mut files = Vec::new();
    let mut current: Option<(DocWriter<BufWriter<File>>, String)> = None;
    let open = |number: u32| -> Result<(DocWriter<BufWriter<File>>, String), GenError> {
        if number >= MAX_FILES {
            return Err(GenError::TooManyFiles { category });
        }
        let name = file_name(set, category, number);
        let path = set.path(&name);
        let file = File::create(&path).map_err(|e| GenError::io(&path, e))?;
        let writer = DocWriter::start(
            spec,
            BufWriter::with_capacity(256 * 1024, file),
            path.display().to_string(),
        )?;
        Ok((writer, name))
    };
    let mut close = |(writer, name): (DocWriter<BufWriter<File>>, String)| -> Result<(), GenError> {
        let records = writer.records();
        let (_, lines) = writer.finish()?;
        let number = u32::try_from(files.len()).unwrap_or(u32::MAX);
        files.push(ExportFile {
            name,
            category,
            number,
            records,
            lines,
        });
        Ok(())
    };
    let mut opened: u32 = 0;
    for record in records {
        let full = current.as_ref().is_some_and(|(w, _)| w.records() >= max);
        if full && let Some(done) = current.take() {
            close(done)?;
        }
        let writer = match &mut current {
            Some((writer, _)) => writer,
            None => {
                let next = open(opened)?;
                opened += 1;
                &mut current.insert(next).0
            }
        };
        writer.record(&record)?;
    }
    let last = match current.take() {
        Some(last) => last,
        None => open(opened)?,
    };
    close(last)?;
    Ok(files)
}

fn write_bordereau(set: &ExportSet) -> Result<(), GenError> {
    let mut text = String::new();
    for file in &set.files {
        text.push_str(&format!("{};{}\n", file.name, file.lines));
    }
    let path = set.path(&set.bordereau);
    std::fs::write(&path, text).map_err(|e| GenError::io(&path, e))
}
