//! Who reads the steering statistics, and what they may see (domain
//! reference §5: statistics at the levels école, circonscription, commune or
//! collectivité, département, académie; breach notification by scope).
//!
//! A [`Viewer`] is an authenticated steering user with the [`Scope`]s their
//! role grants: a school director their school, an IEN their
//! circonscription, a local authority its communes, an académie everything
//! in it; operators (the admin API token) see the whole deployment.

use serde::{Deserialize, Serialize};

/// A level of the school geography, from the smallest to the largest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// One school, by UAI.
    Ecole,
    /// A 1st-degree circonscription, by its code in the directory.
    Circonscription,
    /// A commune, by its name or INSEE code as the directory gives it.
    Commune,
    /// A département, by its code.
    Departement,
    /// An académie, by its AAF code (`AC-RENNES`).
    Academie,
    /// The whole deployment (no code).
    National,
}

/// One area of the geography: a level and the code of the area at that
/// level (empty for [`Level::National`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Scope {
    /// The level.
    pub level: Level,
    /// The area's code at that level.
    pub code: String,
}

/// An authenticated steering user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// How the pages name them (a role and its area, never a personal
    /// identifier: "Direction d'école 0350001A").
    pub label: String,
    /// The areas they may see, each with everything inside it.
    pub scopes: Vec<Scope>,
}

impl Viewer {
    /// Whether the viewer may see the figures of `scope`: one of their own
    /// scopes contains it (a school director sees their school only; an
    /// académie viewer every département, commune, circonscription and
    /// school inside it).
    pub fn may_see(&self, scope: &Scope, geography: &crate::stats::Geography) -> bool {
        self.scopes.iter().any(|own| geography.contains(own, scope))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::geography::tests::two_academies;

    fn scope(level: Level, code: &str) -> Scope {
        Scope {
            level,
            code: code.into(),
        }
    }

    #[test]
    fn a_director_sees_their_school_and_no_other() {
        let geo = two_academies();
        let director = Viewer {
            label: "Direction d'école 0350001A".into(),
            scopes: vec![scope(Level::Ecole, "0350001A")],
        };
        assert!(director.may_see(&scope(Level::Ecole, "0350001A"), &geo));
        assert!(!director.may_see(&scope(Level::Ecole, "0350002B"), &geo));
        assert!(!director.may_see(&scope(Level::Commune, "Rennes"), &geo));
        assert!(!director.may_see(&scope(Level::National, ""), &geo));
    }

    #[test]
    fn an_academie_viewer_sees_everything_inside_it_only() {
        let geo = two_academies();
        let rectorat = Viewer {
            label: "Rectorat de Rennes".into(),
            scopes: vec![scope(Level::Academie, "AC-RENNES")],
        };
        for inside in [
            scope(Level::Academie, "AC-RENNES"),
            scope(Level::Departement, "029"),
            scope(Level::Commune, "Rennes"),
            scope(Level::Circonscription, "Rennes Nord"),
            scope(Level::Ecole, "0350002B"),
        ] {
            assert!(rectorat.may_see(&inside, &geo), "{inside:?}");
        }
        for outside in [
            scope(Level::Academie, "AC-NANTES"),
            scope(Level::Ecole, "0440001D"),
            scope(Level::Commune, "Nantes"),
            scope(Level::National, ""),
        ] {
            assert!(!rectorat.may_see(&outside, &geo), "{outside:?}");
        }
        let nobody = Viewer {
            label: "Sans périmètre".into(),
            scopes: Vec::new(),
        };
        assert!(!nobody.may_see(&scope(Level::Ecole, "0350001A"), &geo));
    }
}
