//! Propagation of AAF identities at login (domain reference §2 and §3): the
//! identity an upstream IdP asserted is joined with the académie directory,
//! which is authoritative for school data.
//!
//! - ÉduConnect users are found through their `FrEduCtRefId` `{AAF}` vectors,
//!   mapped to `aaf_ref` values `<académie>|<join id>`; a parent with
//!   children in several académies has one value per académie and gets,
//!   per `[directory] several_academies`, a merged view (every child, every
//!   school) or a page to choose the académie ([`Joined::Choose`]);
//! - agents are found by their academic e-mail, and get their AAF reference;
//! - the identity's school data (profiles, UAIs, classes, groups, level,
//!   functions, children) is replaced by the directory's; names, civility and
//!   e-mail are filled only when the IdP gave none;
//! - an inactive entry (the person left the directory) counts as no entry;
//!   without an entry the login goes on with the upstream attributes or is
//!   refused, per `[directory] missing_entry`.

use sso_core::{Identity, attr};
use sso_directory::model::{Person, PersonKind};
use sso_directory::store::{Directory, DirectoryError};

use serde::{Deserialize, Serialize};

use crate::config::{DirectoryConfig, MissingEntry, SeveralAcademies};

/// One académie a user may continue with, and the children there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcademieOption {
    /// Académie code.
    pub academie: String,
    /// "Prénom Nom" of the children there.
    pub children: Vec<String>,
}

/// The outcome of a join.
#[derive(Debug, Clone, PartialEq)]
pub enum Joined {
    /// The identity, joined (or untouched when no entry and `continue`).
    Ready(Identity),
    /// Entries in several académies and `several_academies = "choose"`: ask.
    Choose(Vec<AcademieOption>),
}

/// Keeps only the `aaf_ref` values of `academie` (the user's choice).
pub fn keep_academie(identity: &mut Identity, academie: &str) {
    let prefix = format!("{academie}|");
    if let Some(refs) = identity.attributes.get_mut(attr::AAF_REF) {
        refs.retain(|value| value.starts_with(&prefix));
    }
}

/// Why a login could not be joined.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// No active entry, and the configuration requires one.
    #[error("no active directory entry for this {0} login")]
    NotFound(&'static str),
    /// The directory could not be read.
    #[error("directory: {0}")]
    Directory(#[from] DirectoryError),
}

impl JoinError {
    /// Whether the failure is the store being unreachable (answer 503).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, JoinError::Directory(DirectoryError::Store(e)) if e.is_unavailable())
    }
}

/// A directory entry found for a login, with its académie.
struct Entry {
    academie: String,
    person: Person,
    children: Vec<Person>,
}

/// The identity joined with its directory entries.
pub async fn join(
    directory: &Directory,
    config: &DirectoryConfig,
    mut identity: Identity,
) -> Result<Joined, JoinError> {
    if !config.join_at_login {
        return Ok(Joined::Ready(identity));
    }
    let refs: Vec<(String, String)> = identity
        .values(attr::AAF_REF)
        .iter()
        .filter_map(|value| {
            let (academie, id) = value.split_once('|')?;
            Some((academie.trim().to_owned(), id.trim().to_owned()))
        })
        .filter(|(academie, id)| !academie.is_empty() && !id.is_empty())
        .collect();
    let mut entries = Vec::new();
    let how = if refs.is_empty() {
        "e-mail"
    } else {
        "AAF reference"
    };
    if refs.is_empty() {
        if let Some(email) = identity.first(attr::EMAIL).map(str::to_owned)
            && let Some((academie, person)) = directory.staff_by_email(&email).await?
            && person.is_active()
        {
            entries.push(Entry {
                academie,
                person,
                children: Vec::new(),
            });
        }
    } else {
        for (academie, id) in refs {
            let Some(person) = directory.person(&academie, &id).await? else {
                continue;
            };
            if !person.is_active() {
                continue;
            }
            let children = if person.kind == PersonKind::Guardian {
                directory.children(&academie, &person.id).await?
            } else {
                Vec::new()
            };
            entries.push(Entry {
                academie,
                person,
                children,
            });
        }
    }
    if entries.is_empty() {
        return match config.missing_entry {
            MissingEntry::Continue => Ok(Joined::Ready(identity)),
            MissingEntry::Reject => Err(JoinError::NotFound(how)),
        };
    }
    let mut options: Vec<AcademieOption> = Vec::new();
    for entry in &entries {
        let children = entry.children.iter().map(|c| {
            format!(
                "{} {}",
                c.given_name.as_deref().unwrap_or_default(),
                c.surname.as_deref().unwrap_or_default()
            )
            .trim()
            .to_owned()
        });
        match options.iter_mut().find(|o| o.academie == entry.academie) {
            Some(option) => option.children.extend(children),
            None => options.push(AcademieOption {
                academie: entry.academie.clone(),
                children: children.collect(),
            }),
        }
    }
    if options.len() > 1 && config.several_academies == SeveralAcademies::Choose {
        return Ok(Joined::Choose(options));
    }
    for name in [
        attr::PROFILE,
        attr::UAI,
        attr::CLASSES,
        attr::GROUPS,
        attr::LEVEL,
        attr::FUNCTION,
        attr::CHILDREN,
        attr::ACADEMIE,
    ] {
        identity.attributes.remove(name);
    }
    for entry in &entries {
        enrich(&mut identity, entry);
    }
    Ok(Joined::Ready(identity))
}

fn fill(identity: &mut Identity, name: &str, value: Option<&String>) {
    if identity.values(name).is_empty()
        && let Some(value) = value
    {
        identity.push(name, value.clone());
    }
}

fn enrich(identity: &mut Identity, entry: &Entry) {
    let person = &entry.person;
    identity.push(attr::ACADEMIE, entry.academie.clone());
    // Agents found by e-mail get their AAF reference too: individual
    // subscriptions name users by it (it is never released).
    identity.push(attr::AAF_REF, format!("{}|{}", entry.academie, person.id));
    fill(identity, attr::SURNAME, person.surname.as_ref());
    fill(identity, attr::GIVEN_NAME, person.given_name.as_ref());
    fill(identity, attr::CIVILITY, person.civility.as_ref());
    fill(identity, attr::EMAIL, person.email.as_ref());
    for profile in &person.profiles {
        identity.push(attr::PROFILE, profile.as_str());
    }
    for uai in &person.uais {
        identity.push(attr::UAI, uai.clone());
    }
    for class in &person.classes {
        identity.push(attr::CLASSES, format!("{}##{}", class.code, class.label));
    }
    for group in &person.groups {
        identity.push(attr::GROUPS, format!("{}##{}", group.code, group.label));
    }
    if let Some(level) = person.mef_stat4.as_ref().or(person.level.as_ref()) {
        identity.push(attr::LEVEL, level.clone());
    }
    for function in &person.functions {
        identity.push(attr::FUNCTION, function.code.clone());
    }
    for taught in &person.teaching {
        let name = if taught.group {
            attr::GROUPS
        } else {
            attr::CLASSES
        };
        identity.push(name, format!("{}##{}", taught.code, taught.label));
    }
    for child in &entry.children {
        for uai in &child.uais {
            identity.push(attr::UAI, uai.clone());
        }
        identity.push(
            attr::CHILDREN,
            format!(
                "{}##{}##{}",
                child.surname.as_deref().unwrap_or_default(),
                child.given_name.as_deref().unwrap_or_default(),
                child.uais.first().map(String::as_str).unwrap_or_default()
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::NaiveDate;
    use sso_directory::import::{ImportOptions, import};
    use sso_directory::model::ProfileRules;
    use sso_directory::set::ExportSet;
    use sso_store::{MemoryStore, Store};
    use sso_testbed::aaf::{self, AafSpec};
    use sso_testbed::people::{self, Degree};

    use super::*;

    /// AC-RENNES (demo population, 2nd degree) and AC-NANTES (generated) in one store.
    async fn two_academies() -> (Directory, AafSpec) {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let dir = tempfile::tempdir().unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
        let mut rennes = AafSpec::new(people::ACADEMIE, Degree::Second, date);
        rennes.include_demo_population = true;
        rennes.schools = 1;
        rennes.pupils_per_school = 20;
        let mut nantes = AafSpec::new("AC-NANTES", Degree::Second, date);
        nantes.schools = 1;
        nantes.pupils_per_school = 20;
        for (name, spec) in [("rennes", &rennes), ("nantes", &nantes)] {
            let generated = aaf::write_complete(spec, &dir.path().join(name)).unwrap();
            let set = ExportSet::open(&[generated.dir]).unwrap();
            import(
                store.as_ref(),
                &set,
                &ProfileRules::default(),
                &ImportOptions::new(),
                &mut |_| {},
            )
            .await
            .unwrap();
        }
        (Directory::new(store), nantes)
    }

    fn ready(joined: Joined) -> Identity {
        match joined {
            Joined::Ready(identity) => identity,
            Joined::Choose(options) => panic!("a choice was asked: {options:?}"),
        }
    }

    fn config(missing_entry: MissingEntry) -> DirectoryConfig {
        DirectoryConfig {
            missing_entry,
            ..DirectoryConfig::default()
        }
    }

    fn educonnect(refs: &[String]) -> Identity {
        let mut identity = Identity::new("educonnect", "subject", 0);
        identity.push(attr::PROFILE, "National_ELV");
        identity.push(attr::UAI, "0000000A");
        for value in refs {
            identity.push(attr::AAF_REF, value.clone());
        }
        identity
    }

    #[tokio::test]
    async fn pupils_are_joined_by_reference_and_agents_by_email() {
        let (directory, _) = two_academies().await;
        let louis = educonnect(&[format!("{}|3520001", people::ACADEMIE)]);
        let joined = ready(
            join(&directory, &config(MissingEntry::Reject), louis)
                .await
                .unwrap(),
        );
        assert_eq!(joined.values(attr::UAI), [people::COLLEGE_UAI]);
        assert_eq!(joined.values(attr::PROFILE), ["National_ELV"]);
        assert_eq!(joined.values(attr::ACADEMIE), [people::ACADEMIE]);
        assert_eq!(joined.values(attr::CLASSES).len(), 1);

        let mut agent = Identity::new("agents", "subject", 0);
        // prof.blanc of the demo population, teacher at the collège.
        agent.push(attr::EMAIL, "Eric.Blanc@ac-rennes.example");
        let joined = ready(
            join(&directory, &config(MissingEntry::Reject), agent)
                .await
                .unwrap(),
        );
        assert_eq!(joined.values(attr::PROFILE), ["National_ENS"]);
        assert_eq!(joined.values(attr::UAI), [people::COLLEGE_UAI]);
        assert_eq!(joined.values(attr::FUNCTION), ["ENS"]);
        assert_eq!(
            joined.values(attr::EMAIL),
            ["Eric.Blanc@ac-rennes.example"],
            "upstream e-mail kept"
        );
    }

    #[tokio::test]
    async fn a_parent_in_two_academies_gets_a_merged_view() {
        let (directory, nantes) = two_academies().await;
        let guardian = aaf::guardians(&nantes, 0, 0).remove(0);
        let parent = educonnect(&[
            format!("{}|3540001", people::ACADEMIE),
            format!("AC-NANTES|{}", guardian.id),
        ]);
        let joined = ready(
            join(&directory, &config(MissingEntry::Reject), parent.clone())
                .await
                .unwrap(),
        );
        assert_eq!(
            joined.values(attr::ACADEMIE),
            [people::ACADEMIE, "AC-NANTES"]
        );
        assert_eq!(joined.values(attr::PROFILE), ["National_TUT"]);
        let nantes_school = aaf::school(&nantes, 0).unwrap().uai;
        assert!(
            joined
                .values(attr::UAI)
                .contains(&people::COLLEGE_UAI.to_owned())
        );
        assert!(joined.values(attr::UAI).contains(&nantes_school));
        assert!(
            joined.values(attr::CHILDREN).len() >= 2,
            "{:?}",
            joined.values(attr::CHILDREN)
        );
    }

    #[tokio::test]
    async fn without_an_entry_the_login_continues_or_is_refused_per_configuration() {
        let (directory, _) = two_academies().await;
        let unknown = educonnect(&[format!("{}|9999999", people::ACADEMIE)]);
        let kept = ready(
            join(&directory, &config(MissingEntry::Continue), unknown.clone())
                .await
                .unwrap(),
        );
        assert_eq!(kept, unknown, "upstream attributes untouched");
        assert!(matches!(
            join(&directory, &config(MissingEntry::Reject), unknown).await,
            Err(JoinError::NotFound("AAF reference"))
        ));
        let mut nobody = Identity::new("agents", "subject", 0);
        nobody.push(attr::EMAIL, "nobody@ac-rennes.example");
        assert!(matches!(
            join(&directory, &config(MissingEntry::Reject), nobody).await,
            Err(JoinError::NotFound("e-mail"))
        ));
        // Joining switched off: nothing is looked up.
        let off = DirectoryConfig {
            join_at_login: false,
            ..config(MissingEntry::Reject)
        };
        let louis = educonnect(&[format!("{}|3520001", people::ACADEMIE)]);
        assert_eq!(
            join(&directory, &off, louis.clone()).await.unwrap(),
            Joined::Ready(louis)
        );
    }
}
