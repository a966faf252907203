//! The school geography (domain reference §3, AAF structures; §5, steering
//! levels): for each UAI its académie, département, commune and
//! circonscription, from the directory's structures. It completes the cells
//! of the statistics and tells which area lies inside which (what a steering
//! user may see). Each replica caches it and reloads it every few minutes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sso_directory::store::Directory;

use super::Cell;
use crate::viewer::{Level, Scope};

/// How long the cache is used before it is reloaded.
const REFRESH: Duration = Duration::from_secs(300);

/// Where one school is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    /// Académie code.
    pub academie: String,
    /// Département code.
    pub departement: String,
    /// Commune.
    pub commune: String,
    /// Circonscription (1st degree; empty otherwise).
    pub circonscription: String,
}

/// Every known school's place, by UAI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Geography {
    schools: BTreeMap<String, Place>,
}

impl Geography {
    /// A geography from its schools.
    pub fn new(schools: BTreeMap<String, Place>) -> Self {
        Self { schools }
    }

    /// Fills the cell's geography from its UAI (the académie the person's
    /// identity gave is kept when the directory has none).
    pub fn complete(&self, cell: &mut Cell) {
        if let Some(place) = self.schools.get(&cell.uai) {
            if !place.academie.is_empty() {
                cell.academie.clone_from(&place.academie);
            }
            cell.departement.clone_from(&place.departement);
            cell.commune.clone_from(&place.commune);
            cell.circonscription.clone_from(&place.circonscription);
        }
    }

    /// Whether the area `inner` lies inside `outer` (an area lies inside
    /// itself): every known school of `inner` is in `outer`, and `inner`
    /// has at least one. The national level contains everything.
    pub fn contains(&self, outer: &Scope, inner: &Scope) -> bool {
        if outer.level == Level::National {
            return true;
        }
        if inner.level == Level::National {
            return false;
        }
        if outer.level == inner.level && outer.code == inner.code {
            return true;
        }
        let mut schools = self
            .schools
            .iter()
            .filter(|(uai, place)| matches(uai, place, inner))
            .peekable();
        schools.peek().is_some() && schools.all(|(uai, place)| matches(uai, place, outer))
    }
}

/// Whether a school lies in an area.
fn matches(uai: &str, place: &Place, scope: &Scope) -> bool {
    let value = match scope.level {
        Level::National => return true,
        Level::Ecole => uai,
        Level::Circonscription => &place.circonscription,
        Level::Commune => &place.commune,
        Level::Departement => &place.departement,
        Level::Academie => &place.academie,
    };
    !value.is_empty() && value == scope.code
}

/// This replica's copy of the geography, reloaded from the directory when
/// older than a few minutes (the previous copy is kept when the directory
/// cannot be read).
pub struct GeographyCache {
    directory: Directory,
    current: tokio::sync::Mutex<Option<(Instant, Arc<Geography>)>>,
}

impl GeographyCache {
    /// An empty cache over `directory`.
    pub fn new(directory: Directory) -> Self {
        Self {
            directory,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// The geography, reloaded first when stale.
    pub async fn current(&self) -> Arc<Geography> {
        let mut current = self.current.lock().await;
        if let Some((loaded, geography)) = current.as_ref()
            && loaded.elapsed() < REFRESH
        {
            return Arc::clone(geography);
        }
        let geography = match load(&self.directory).await {
            Ok(geography) => Arc::new(geography),
            Err(error) => {
                tracing::warn!(%error, "school geography not reloaded");
                current
                    .as_ref()
                    .map(|(_, previous)| Arc::clone(previous))
                    .unwrap_or_default()
            }
        };
        *current = Some((Instant::now(), Arc::clone(&geography)));
        geography
    }
}

async fn load(directory: &Directory) -> Result<Geography, sso_directory::store::DirectoryError> {
    let mut schools = BTreeMap::new();
    for academie in directory.academies().await? {
        let references = directory.references(&academie).await?;
        for structure in references.structures.into_values() {
            let Some(uai) = structure.uai else { continue };
            schools.insert(
                uai,
                Place {
                    academie: structure.academie.unwrap_or_else(|| academie.clone()),
                    departement: structure.departement.unwrap_or_default(),
                    commune: structure.commune.unwrap_or_default(),
                    circonscription: structure.circonscription.unwrap_or_default(),
                },
            );
        }
    }
    Ok(Geography::new(schools))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn scope(level: Level, code: &str) -> Scope {
        Scope {
            level,
            code: code.into(),
        }
    }

    pub(crate) fn two_academies() -> Geography {
        let place = |academie: &str, departement: &str, commune: &str, circ: &str| Place {
            academie: academie.into(),
            departement: departement.into(),
            commune: commune.into(),
            circonscription: circ.into(),
        };
        Geography::new(BTreeMap::from([
            (
                "0350001A".into(),
                place("AC-RENNES", "035", "Rennes", "Rennes Nord"),
            ),
            (
                "0350002B".into(),
                place("AC-RENNES", "035", "Rennes", "Rennes Sud"),
            ),
            (
                "0290001C".into(),
                place("AC-RENNES", "029", "Brest", "Brest 1"),
            ),
            (
                "0440001D".into(),
                place("AC-NANTES", "044", "Nantes", "Nantes 2"),
            ),
        ]))
    }

    #[test]
    fn areas_lie_inside_the_larger_areas_that_hold_all_their_schools() {
        let geo = two_academies();
        let rennes = scope(Level::Academie, "AC-RENNES");
        // Positive controls.
        assert!(geo.contains(&rennes, &scope(Level::Ecole, "0290001C")));
        assert!(geo.contains(&rennes, &scope(Level::Departement, "035")));
        assert!(geo.contains(&rennes, &scope(Level::Circonscription, "Rennes Sud")));
        assert!(geo.contains(
            &scope(Level::Commune, "Rennes"),
            &scope(Level::Ecole, "0350002B")
        ));
        assert!(geo.contains(&scope(Level::National, ""), &rennes));
        // Refusals.
        assert!(!geo.contains(&rennes, &scope(Level::Ecole, "0440001D")));
        assert!(!geo.contains(&rennes, &scope(Level::National, "")));
        assert!(!geo.contains(
            &scope(Level::Ecole, "0350001A"),
            &scope(Level::Ecole, "0350002B")
        ));
        assert!(!geo.contains(
            &scope(Level::Ecole, "0350001A"),
            &scope(Level::Commune, "Rennes")
        ));
        assert!(!geo.contains(&scope(Level::Departement, "035"), &rennes));
        assert!(
            !geo.contains(&rennes, &scope(Level::Ecole, "9999999Z")),
            "unknown school"
        );
    }

    #[test]
    fn a_cell_gets_the_place_of_its_school() {
        let geo = two_academies();
        let mut cell = Cell {
            uai: "0290001C".into(),
            academie: "AC-RENNES".into(),
            ..Cell::default()
        };
        geo.complete(&mut cell);
        assert_eq!(
            (
                cell.departement.as_str(),
                cell.commune.as_str(),
                cell.circonscription.as_str()
            ),
            ("029", "Brest", "Brest 1")
        );
        let mut unknown = Cell {
            uai: "9999999Z".into(),
            ..Cell::default()
        };
        geo.complete(&mut unknown);
        assert_eq!(unknown.departement, "");
    }
}
