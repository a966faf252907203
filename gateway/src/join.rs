//! Propagation of AAF identities at login (domain reference §2 and §3): the
//! identity an upstream IdP asserted is joined with the académie directory,
//! which is authoritative for school data.
//!
//! - ÉduConnect users are found through their `FrEduCtRefId` `{AAF}` vectors,
//!   mapped to `aaf_ref` values `<académie>|<join id>`; a parent with
//!   children in several académies has one value per académie and gets a
//!   merged view (every child, every school);
//! - agents are found by their academic e-mail;
//! - the identity's school data (profiles, UAIs, classes, groups, level,
//!   functions, children) is replaced by the directory's; names, civility and
//!   e-mail are filled only when the IdP gave none;
//! - an inactive entry (the person left the directory) counts as no entry;
//!   without an entry the login goes on with the upstream attributes or is
//!   refused, per `[directory] missing_entry`.

use sso_core::{Identity, attr};
use sso_directory::model::{Person, PersonKind};
use sso_directory::store::{Directory, DirectoryError};

use crate::config::{DirectoryConfig, MissingEntry};

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
) -> Result<Identity, JoinError> {
    if !config.join_at_login {
        return Ok(identity);
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
            MissingEntry::Continue => Ok(identity),
            MissingEntry::Reject => Err(JoinError::NotFound(how)),
        };
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
    Ok(identity)
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
