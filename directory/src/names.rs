//! AAF export file names (domain reference §3): every XML file of an export
//! is named `<prefix>_<Complet|Delta>_<YYYYMMDD>_<Category>_<NNNN>.xml`,
//! e.g. `ENT2D_Complet_20260901_Eleve_0000.xml`, where `NNNN` numbers the
//! files of one category in one export. A file whose name does not follow
//! this pattern is refused before it is opened: the name carries the kind of
//! import (complete or delta), its date and its category.

use std::fmt;

use chrono::NaiveDate;
use thiserror::Error;

pub use sso_core::aaf::{Category, ExportKind};

/// A parsed export file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExportFileName {
    /// The prefix (`ENT2D`, `ENT1D`, or an operator's own).
    pub prefix: String,
    /// Complete or delta.
    pub kind: ExportKind,
    /// The export date.
    pub date: NaiveDate,
    /// The category of its records.
    pub category: Category,
    /// Its number within the category (`NNNN`).
    pub number: u16,
}

/// Why a file name was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FileNameError {
    /// Not a `.xml` file.
    #[error("{name:?} is not an AAF export file: the name must end in .xml")]
    NotXml {
        /// The file name.
        name: String,
    },
    /// Not five `_`-separated parts.
    #[error("{name:?} does not follow <prefix>_<Complet|Delta>_<YYYYMMDD>_<Category>_<NNNN>.xml")]
    Shape {
        /// The file name.
        name: String,
    },
    /// Neither `Complet` nor `Delta`.
    #[error("{name:?}: {kind:?} is neither Complet nor Delta")]
    Kind {
        /// The file name.
        name: String,
        /// The word found.
        kind: String,
    },
    /// Not a `YYYYMMDD` date.
    #[error("{name:?}: {date:?} is not a date written YYYYMMDD")]
    Date {
        /// The file name.
        name: String,
        /// The text found.
        date: String,
    },
    /// Not a known category.
    #[error(
        "{name:?}: {category:?} is not an AAF category (Eleve, PersRelEleve, PersEducNat, EtabEducNat, MatiereEducNat, MefEducNat, InfosEducNat)"
    )]
    Category {
        /// The file name.
        name: String,
        /// The word found.
        category: String,
    },
    /// Not four digits.
    #[error("{name:?}: {number:?} is not a four-digit file number")]
    Number {
        /// The file name.
        name: String,
        /// The text found.
        number: String,
    },
}

impl ExportFileName {
    /// Parses a file name (without directory).
    pub fn parse(name: &str) -> Result<Self, FileNameError> {
        let owned = || name.to_owned();
        let stem = name
            .strip_suffix(".xml")
            .ok_or_else(|| FileNameError::NotXml { name: owned() })?;
        let parts: Vec<&str> = stem.split('_').collect();
        let [prefix, kind, date, category, number] = parts.as_slice() else {
            return Err(FileNameError::Shape { name: owned() });
        };
        if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(FileNameError::Shape { name: owned() });
        }
        let kind = match *kind {
            "Complet" => ExportKind::Complete,
            "Delta" => ExportKind::Delta,
            other => {
                return Err(FileNameError::Kind {
                    name: owned(),
                    kind: other.to_owned(),
                });
            }
        };
        let date_error = || FileNameError::Date {
            name: owned(),
            date: (*date).to_owned(),
        };
        if date.len() != 8 || !date.chars().all(|c| c.is_ascii_digit()) {
            return Err(date_error());
        }
        let date = NaiveDate::parse_from_str(date, "%Y%m%d").map_err(|_| date_error())?;
        let category = Category::from_name(category).ok_or_else(|| FileNameError::Category {
            name: owned(),
            category: (*category).to_owned(),
        })?;
        let number_error = || FileNameError::Number {
            name: owned(),
            number: (*number).to_owned(),
        };
        if number.len() != 4 || !number.chars().all(|c| c.is_ascii_digit()) {
            return Err(number_error());
        }
        let number = number.parse().map_err(|_| number_error())?;
        Ok(Self {
            prefix: (*prefix).to_owned(),
            kind,
            date,
            category,
            number,
        })
    }
}

impl fmt::Display for ExportFileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}_{}_{}_{}_{:04}.xml",
            self.prefix,
            self.kind.as_str(),
            self.date.format("%Y%m%d"),
            self.category,
            self.number
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_round_trip() {
        for name in [
            "ENT2D_Complet_20260901_Eleve_0000.xml",
            "ENT1D_Delta_20170522_PersRelEleve_0012.xml",
            "ENT2D_Complet_20260901_EtabEducNat_0001.xml",
        ] {
            let parsed = ExportFileName::parse(name).unwrap();
            assert_eq!(parsed.to_string(), name);
        }
        let parsed = ExportFileName::parse("ENT1D_Delta_20170522_PersEducNat_0003.xml").unwrap();
        assert_eq!(parsed.prefix, "ENT1D");
        assert_eq!(parsed.kind, ExportKind::Delta);
        assert_eq!(parsed.date, NaiveDate::from_ymd_opt(2017, 5, 22).unwrap());
        assert_eq!(parsed.category, Category::PersEducNat);
        assert_eq!(parsed.number, 3);
    }

    #[test]
    fn each_wrong_part_has_its_error() {
        type Check = fn(&FileNameError) -> bool;
        let cases: [(&str, Check); 7] = [
            ("ENT2D_Complet_20260901_Eleve_0000.txt", |e| {
                matches!(e, FileNameError::NotXml { .. })
            }),
            ("ENT2D_Complet_20260901_Eleve.xml", |e| {
                matches!(e, FileNameError::Shape { .. })
            }),
            ("ENT2D_Full_20260901_Eleve_0000.xml", |e| {
                matches!(e, FileNameError::Kind { .. })
            }),
            ("ENT2D_Complet_20261301_Eleve_0000.xml", |e| {
                matches!(e, FileNameError::Date { .. })
            }),
            ("ENT2D_Complet_2026091_Eleve_0000.xml", |e| {
                matches!(e, FileNameError::Date { .. })
            }),
            ("ENT2D_Complet_20260901_Pupil_0000.xml", |e| {
                matches!(e, FileNameError::Category { .. })
            }),
            ("ENT2D_Complet_20260901_Eleve_00a0.xml", |e| {
                matches!(e, FileNameError::Number { .. })
            }),
        ];
        for (name, expected) in cases {
            let error = ExportFileName::parse(name).unwrap_err();
            assert!(expected(&error), "{name}: {error}");
        }
    }
}
