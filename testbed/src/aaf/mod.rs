//! Synthetic AAF exports (domain reference §3): realistic, invented,
//! deterministic (seeded) `ficAlimMENESR` files of one académie, complete or
//! delta, with their bordereau, written as a stream to any size (up to a large
//! académie: a million pupils) with flat memory.
//!
//! - [`write_complete`] writes every category of a complete export and its
//!   bordereau into a folder; [`write_delta`] a delta planned by
//!   [`delta_plan`]; [`write_category`] one category into any `Write`;
//!   [`ExportSet::write_tar`] packs a written set into a tar archive.
//! - [`school`], [`pupil`], [`guardians`], [`staff`] and [`delta_plan`] say what
//!   was generated without parsing, so tests can check an import.
//! - With [`AafSpec::include_demo_population`], the people of
//!   [`crate::people`] are in the export with their exact ids, names, UAIs and
//!   e-mail addresses.
//!
//! File format: see the module `xml` and the crate README.

mod delta;
mod demo;
mod export;
mod model;
mod names;
mod records;
mod rng;
mod tables;
mod xml;

use chrono::NaiveDate;

pub use delta::{Deletion, DeltaPlan, DeltaSpec, Modification, Move, delta_plan};
pub use export::{ExportFile, ExportSet, write_category, write_complete, write_delta};
pub use model::{
    GeneratedPerson, GeneratedSchool, GuardianData, GuardianLink, PersonDetails, PupilData,
    StaffData,
};
pub use tables::SchoolKind;

use crate::people::Degree;
use model::{Ctx, MAX_PUPILS, MAX_SCHOOLS};

/// Default most records per file (`max_records_per_file`).
pub const DEFAULT_MAX_RECORDS_PER_FILE: u32 = 50_000;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AafSpec {
    /// Académie code, e.g. `AC-RENNES` (`codeAcademieExport`,
    /// `ENTServAcAcademie`; the e-mail domain is its lower case + `.example`).
    pub academie: String,
    /// 1st degree (`ENT1D`, ONDE names) or 2nd degree (`ENT2D`).
    pub degree: Degree,
    /// Number of generated schools.
    pub schools: u32,
    /// Pupils per school (about 1.5 guardians per pupil).
    pub pupils_per_school: u32,
    /// Staff per school (one director, a few non-teaching staff, teachers;
    /// about 5 % of the teachers also work in a second school).
    pub staff_per_school: u32,
    /// Seed: same spec, same bytes.
    pub seed: u64,
    /// Export date (file names; pupils' ages follow the school year).
    pub date: NaiveDate,
    /// Encoding of the XML files.
    pub encoding: Encoding,
    /// Also emit the static people of [`crate::people`] of this degree.
    pub include_demo_population: bool,
    /// Most records per XML file; a category is split into `_0000`, `_0001`...
    pub max_records_per_file: u32,
}

impl AafSpec {
    /// A small spec: 3 schools of 100 pupils and 20 staff, seed 1, UTF-8, no
    /// demo population, 50,000 records per file. Adjust the public fields.
    pub fn new(academie: &str, degree: Degree, date: NaiveDate) -> Self {
        Self {
            academie: academie.to_owned(),
            degree,
            schools: 3,
            pupils_per_school: 100,
            staff_per_school: 20,
            seed: 1,
            date,
            encoding: Encoding::Utf8,
            include_demo_population: false,
            max_records_per_file: DEFAULT_MAX_RECORDS_PER_FILE,
        }
    }

    /// `ENT1D` or `ENT2D`.
    pub fn prefix(&self) -> &'static str {
        match self.degree {
            Degree::First => "ENT1D",
            Degree::Second => "ENT2D",
        }
    }

    /// The categories of this degree, in the order an import applies them.
    pub fn categories(&self) -> impl Iterator<Item = Category> + use<> {
        let degree = self.degree;
        Category::ALL
            .into_iter()
            .filter(move |c| in_degree(*c, degree))
    }
}

/// Encoding of the XML files (and of their declaration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// UTF-8.
    Utf8,
    /// ISO-8859-15 (Latin-9: `œ`, `Œ`, `€`...).
    Iso8859_15,
}

impl Encoding {
    /// The name in the XML declaration.
    pub fn declaration(self) -> &'static str {
        match self {
            Self::Utf8 => "UTF-8",
            Self::Iso8859_15 => "ISO-8859-15",
        }
    }
}

pub use sso_core::aaf::{Category, ExportKind};

/// The operational attribute's name of a category: `categoriePersonne`,
/// `categorieStructure`, `categorieMatiere` or `categorieMef` (the generator
/// never writes `InfosEducNat`).
pub fn operational_attribute(category: Category) -> &'static str {
    match category {
        Category::EtabEducNat | Category::InfosEducNat => "categorieStructure",
        Category::MatiereEducNat => "categorieMatiere",
        Category::MefEducNat => "categorieMef",
        Category::PersEducNat | Category::PersRelEleve | Category::Eleve => "categoriePersonne",
    }
}

/// Whether the generator writes `category` for exports of `degree` (subjects
/// and MEFs are 2nd degree only; `InfosEducNat` is never written).
pub fn in_degree(category: Category, degree: Degree) -> bool {
    match category {
        Category::InfosEducNat => false,
        Category::MatiereEducNat | Category::MefEducNat => degree == Degree::Second,
        _ => true,
    }
}

/// Why an export could not be generated or written.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// The académie code is not upper-case letters, digits and single hyphens.
    #[error(
        "académie code {0:?} must be upper-case letters, digits and single inner hyphens (e.g. AC-RENNES)"
    )]
    InvalidAcademie(String),
    /// `max_records_per_file` is 0.
    #[error("max_records_per_file must be at least 1")]
    ZeroRecordsPerFile,
    /// More schools than UAI numbers.
    #[error("{schools} schools requested, at most {max} per export")]
    TooManySchools {
        /// Requested.
        schools: u32,
        /// Limit.
        max: u32,
    },
    /// More pupils than the id space holds.
    #[error("{pupils} pupils requested (new pupils of a delta included), at most {max} per export")]
    TooManyPupils {
        /// Requested.
        pupils: u64,
        /// Limit.
        max: u64,
    },
    /// More staff than the id space holds.
    #[error("{staff} staff requested, at most {max} per export")]
    TooManyStaff {
        /// Requested.
        staff: u64,
        /// Limit.
        max: u64,
    },
    /// More than 10,000 files in one category (`NNNN`).
    #[error("category {category} needs more than 10000 files: raise max_records_per_file")]
    TooManyFiles {
        /// The category.
        category: Category,
    },
    /// A category asked of a degree that has none.
    #[error("category {category} does not exist in 1st-degree exports")]
    CategoryNotInDegree {
        /// The category.
        category: Category,
    },
    /// The demo population belongs to another académie.
    #[error("the demo population belongs to {expected}, not to {academie}")]
    DemoAcademie {
        /// The spec's académie.
        academie: String,
        /// The demo population's académie.
        expected: &'static str,
    },
    /// A person of the demo population cannot be exported.
    #[error("demo person {login}: {reason}")]
    DemoData {
        /// The person's login.
        login: String,
        /// What is wrong.
        reason: String,
    },
    /// A delta asks for more persons than qualify.
    #[error("the delta asks for {requested} {what}: not enough in the export")]
    NotEnoughCandidates {
        /// Which persons.
        what: &'static str,
        /// How many were asked for.
        requested: u32,
    },
    /// A character has no code in ISO-8859-15.
    #[error("character {ch:?} in {record} of {target} cannot be written in ISO-8859-15")]
    Unencodable {
        /// The character.
        ch: char,
        /// The record (its id) or the part of the document.
        record: String,
        /// The file or output.
        target: String,
    },
    /// Reading or writing failed.
    #[error("I/O error on {target}: {source}")]
    Io {
        /// The file, folder or output.
        target: String,
        /// The error.
        source: std::io::Error,
    },
}

impl GenError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            target: path.display().to_string(),
            source,
        }
    }
}

/// Checks a spec before anything is written.
pub(crate) fn validate(spec: &AafSpec) -> Result<(), GenError> {
    let code = &spec.academie;
    let charset = code
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
    if code.is_empty()
        || !charset
        || code.contains("--")
        || code.starts_with('-')
        || code.ends_with('-')
    {
        return Err(GenError::InvalidAcademie(code.clone()));
    }
    if spec.max_records_per_file == 0 {
        return Err(GenError::ZeroRecordsPerFile);
    }
    if spec.schools > MAX_SCHOOLS {
        return Err(GenError::TooManySchools {
            schools: spec.schools,
            max: MAX_SCHOOLS,
        });
    }
    let ctx = Ctx::new(spec);
    if ctx.pupil_count() > MAX_PUPILS {
        return Err(GenError::TooManyPupils {
            pupils: ctx.pupil_count(),
            max: MAX_PUPILS,
        });
    }
    if ctx.staff_count() > model::ID_SPACE {
        return Err(GenError::TooManyStaff {
            staff: ctx.staff_count(),
            max: model::ID_SPACE,
        });
    }
    if spec.include_demo_population && spec.academie != crate::people::ACADEMIE {
        return Err(GenError::DemoAcademie {
            academie: spec.academie.clone(),
            expected: crate::people::ACADEMIE,
        });
    }
    Ok(())
}

/// Generated school `index` (`0..spec.schools`), `None` out of range.
pub fn school(spec: &AafSpec, index: u32) -> Option<GeneratedSchool> {
    (index < spec.schools).then(|| Ctx::new(spec).school(index))
}

/// Pupil `index` of school `school`, as written in the complete export.
pub fn pupil(spec: &AafSpec, school: u32, index: u32) -> Option<GeneratedPerson> {
    (school < spec.schools && index < spec.pupils_per_school)
        .then(|| Ctx::new(spec).pupil(school, index))
}

/// The guardians of pupil `index` of school `school` (shared with its sibling).
pub fn guardians(spec: &AafSpec, school: u32, index: u32) -> Vec<GeneratedPerson> {
    if school < spec.schools && index < spec.pupils_per_school {
        let ctx = Ctx::new(spec);
        ctx.guardians(&ctx.family_of(school, index))
    } else {
        Vec::new()
    }
}

/// Staff member `index` of school `school` (index 0 is the director).
pub fn staff(spec: &AafSpec, school: u32, index: u32) -> Option<GeneratedPerson> {
    (school < spec.schools && index < spec.staff_per_school)
        .then(|| Ctx::new(spec).staff(school, index))
}
