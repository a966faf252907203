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
