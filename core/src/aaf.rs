//! Names of the AAF exports (domain reference §3) shared by the importer
//! (`sso-directory`) and the fixture generator (`sso-testbed`): the record
//! categories and the two kinds of export.

use std::fmt;

/// Complete export (replaces the académie's directory) or delta (applied on top).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExportKind {
    /// `Complet`.
    Complete,
    /// `Delta`.
    Delta,
}

impl ExportKind {
    /// The word used in file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Complete => "Complet",
            Self::Delta => "Delta",
        }
    }
}

/// The category of the records of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Schools and other structures (`EtabEducNat`).
    EtabEducNat,
    /// Subjects (`MatiereEducNat`, 2nd degree).
    MatiereEducNat,
    /// MEF levels (`MefEducNat`, 2nd degree).
    MefEducNat,
    /// Staff (`PersEducNat`).
    PersEducNat,
    /// Guardians (`PersRelEleve`).
    PersRelEleve,
    /// Pupils (`Eleve`).
    Eleve,
    /// Miscellaneous information (`InfosEducNat`, 2nd degree): read, not used.
    InfosEducNat,
}

impl Category {
    /// Every category, in the order an import applies them (structures and
    /// references first, then guardians before the pupils that link to them).
    pub const ALL: [Category; 7] = [
        Self::EtabEducNat,
        Self::MatiereEducNat,
        Self::MefEducNat,
        Self::PersEducNat,
        Self::PersRelEleve,
        Self::Eleve,
        Self::InfosEducNat,
    ];

    /// The name used in file names and operational attributes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EtabEducNat => "EtabEducNat",
            Self::MatiereEducNat => "MatiereEducNat",
            Self::MefEducNat => "MefEducNat",
            Self::PersEducNat => "PersEducNat",
            Self::PersRelEleve => "PersRelEleve",
            Self::Eleve => "Eleve",
            Self::InfosEducNat => "InfosEducNat",
        }
    }

    /// The category named `name` (exact spelling).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for category in Category::ALL {
            assert_eq!(Category::from_name(category.as_str()), Some(category));
        }
        assert_eq!(Category::from_name("eleve"), None);
        assert_eq!(ExportKind::Delta.as_str(), "Delta");
    }
}
