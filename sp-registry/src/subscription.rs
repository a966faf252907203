//! Subscriptions (abonnements) of schools to resources, GAR style (domain
//! reference §4): a resource is reachable only if the user's school holds a
//! subscription valid today that covers the user's profile (`publicCible`)
//! and, for an individual assignment (`INDIV`), the user.
//!
//! A subscriptions file is JSON, `{"abonnements": [ ... ]}`, each entry with
//! the GAR field names: `idAbonnement`, `idRessource`, `uaiEtab`,
//! `debutValidite`, `finValidite` (`YYYY-MM-DD`), `typeAffectation`
//! (`ETABL` | `INDIV`), `affectations` (for `INDIV`: the assigned users'
//! AAF references `<académie>|<id>`), `publicCible` (`ELEVE`, `ENSEIGNANT`,
//! `DOCUMENTALISTE`, `AUTRE PERSONNEL`), and the licence counts
//! `nbLicenceGlobale`, `nbLicenceEleve`, `nbLicenceEnseignant`,
//! `nbLicenceProfDoc`, `nbLicenceAutrePersonnel` (recorded, not enforced).
//! [`parse_file`] validates every entry against the registry and reports
//! each problem with its entry and field; a file with any problem is refused
//! whole.

use std::collections::HashSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sso_core::{Identity, Profile, Uai, attr};
use thiserror::Error;

use crate::Registry;
use crate::access::Subject;

/// `typeAffectation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Assignment {
    /// The whole school (`ETABL`).
    #[serde(rename = "ETABL")]
    School,
    /// Named users only (`INDIV`).
    #[serde(rename = "INDIV")]
    Individual,
}

/// `publicCible`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Public {
    /// Pupils.
    #[serde(rename = "ELEVE")]
    Pupils,
    /// Teachers.
    #[serde(rename = "ENSEIGNANT")]
    Teachers,
    /// Documentalists.
    #[serde(rename = "DOCUMENTALISTE")]
    Documentalists,
    /// Other staff.
    #[serde(rename = "AUTRE PERSONNEL")]
    OtherStaff,
}

impl Public {
    /// The public a profile belongs to; guardians belong to none (the GAR
    /// serves no resource to parents).
    pub fn of(profile: Profile) -> Option<Public> {
        match profile {
            Profile::Elv => Some(Public::Pupils),
            Profile::Ens => Some(Public::Teachers),
            Profile::Doc => Some(Public::Documentalists),
            Profile::Dir | Profile::Evs | Profile::Eta | Profile::Aca | Profile::Col => {
                Some(Public::OtherStaff)
            }
            Profile::Tut => None,
        }
    }
}

/// One subscription, GAR field names on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// `idAbonnement`.
    #[serde(rename = "idAbonnement")]
    pub id: String,
    /// `idRessource` (`ark:/...`), the `resource_id` of a registered resource.
    #[serde(rename = "idRessource")]
    pub resource_id: String,
    /// `uaiEtab`.
    #[serde(rename = "uaiEtab")]
    pub uai: String,
    /// `debutValidite`.
    #[serde(rename = "debutValidite")]
    pub valid_from: NaiveDate,
    /// `finValidite` (inclusive).
    #[serde(rename = "finValidite")]
    pub valid_until: NaiveDate,
    /// `typeAffectation`.
    #[serde(rename = "typeAffectation")]
    pub assignment: Assignment,
    /// For `INDIV`: the assigned users' AAF references (`<académie>|<id>`).
    #[serde(
        rename = "affectations",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub assigned: Vec<String>,
    /// `publicCible`.
    #[serde(rename = "publicCible")]
    pub public: Vec<Public>,
    /// `nbLicenceGlobale`.
    #[serde(
        rename = "nbLicenceGlobale",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub licences: Option<u32>,
    /// `nbLicenceEleve`.
    #[serde(
        rename = "nbLicenceEleve",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub licences_pupils: Option<u32>,
    /// `nbLicenceEnseignant`.
    #[serde(
        rename = "nbLicenceEnseignant",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub licences_teachers: Option<u32>,
    /// `nbLicenceProfDoc`.
    #[serde(
        rename = "nbLicenceProfDoc",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub licences_documentalists: Option<u32>,
    /// `nbLicenceAutrePersonnel`.
    #[serde(
        rename = "nbLicenceAutrePersonnel",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub licences_other_staff: Option<u32>,
}

/// A subscriptions file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscriptionsFile {
    abonnements: Vec<Subscription>,
}

/// One problem of a subscriptions file.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SubscriptionError {
    /// The file is not the expected JSON.
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// The decoder's message.
        message: String,
    },
    /// An entry's field is invalid.
    #[error("abonnement #{index} ({id:?}), field {field}: {reason}")]
    Field {
        /// Position of the entry (1-based).
        index: usize,
        /// Its `idAbonnement`.
        id: String,
        /// The GAR field name.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Why a subscription check refuses a user.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SubscriptionRefusal {
    /// No subscription of the user's schools to the resource.
    #[error("no subscription of the user's schools to {resource}")]
    NoSubscription {
        /// The resource.
        resource: String,
    },
    /// Subscriptions exist but none is valid today.
    #[error("the subscriptions to {resource} are not valid on {today}")]
    NotValidToday {
        /// The resource.
        resource: String,
        /// The day of the check.
        today: NaiveDate,
    },
    /// Valid subscriptions exist but none covers the user's profile.
    #[error("the subscriptions to {resource} do not cover the user's profile")]
    ProfileNotCovered {
        /// The resource.
        resource: String,
    },
    /// Only individual subscriptions cover the user's profile, and the user
    /// is not assigned to any.
    #[error("the user is not assigned to the individual subscriptions to {resource}")]
    NotAssigned {
        /// The resource.
        resource: String,
    },
}

impl SubscriptionRefusal {
    /// A short name of the reason, for counters and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NoSubscription { .. } => "no_subscription",
            Self::NotValidToday { .. } => "not_valid_today",
            Self::ProfileNotCovered { .. } => "profile_not_covered",
            Self::NotAssigned { .. } => "not_assigned",
        }
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Subscription {
    /// Every problem of this entry (`index` is its 1-based position).
    pub fn problems(&self, index: usize, registry: &Registry) -> Vec<SubscriptionError> {
        let mut problems = Vec::new();
        let mut problem = |field: &'static str, reason: String| {
            problems.push(SubscriptionError::Field {
                index,
                id: self.id.clone(),
                field,
                reason,
            });
        };
        if !valid_id(&self.id) {
            problem(
                "idAbonnement",
                "must be 1 to 128 letters, digits, '-', '_' or '.'".to_owned(),
            );
        }
        if registry.by_resource_id(&self.resource_id).is_none() {
            problem(
                "idRessource",
                format!(
                    "{:?} is not the resource_id of a registered resource",
                    self.resource_id
                ),
            );
        }
        if let Err(error) = Uai::parse(&self.uai) {
            problem("uaiEtab", error.to_string());
        }
        if self.valid_until < self.valid_from {
            problem(
                "finValidite",
                format!(
                    "{} is before debutValidite {}",
                    self.valid_until, self.valid_from
                ),
            );
        }
        if self.public.is_empty() {
            problem("publicCible", "must list at least one public".to_owned());
        }
        match (self.assignment, self.assigned.is_empty()) {
            (Assignment::Individual, true) => problem(
                "affectations",
                "an INDIV subscription must list the assigned users".to_owned(),
            ),
            (Assignment::School, false) => problem(
                "affectations",
                "only an INDIV subscription lists assigned users".to_owned(),
            ),
            _ => {}
        }
        for user in &self.assigned {
            if !matches!(user.split_once('|'), Some((a, i)) if !a.is_empty() && !i.is_empty()) {
                problem(
                    "affectations",
                    format!("{user:?} is not an AAF reference <académie>|<id>"),
                );
            }
        }
        problems
    }

    /// Whether the subscription is valid on `today` (both bounds inclusive).
    pub fn valid_on(&self, today: NaiveDate) -> bool {
        self.valid_from <= today && today <= self.valid_until
    }
}

/// Reads and validates a subscriptions file against the registry: every
/// problem is reported, and any problem refuses the whole file.
pub fn parse_file(
    json: &str,
    registry: &Registry,
) -> Result<Vec<Subscription>, Vec<SubscriptionError>> {
    let file: SubscriptionsFile = serde_json::from_str(json).map_err(|e| {
        vec![SubscriptionError::Syntax {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        }]
    })?;
    let mut problems = Vec::new();
    let mut ids = HashSet::new();
    for (index, subscription) in file.abonnements.iter().enumerate() {
        problems.extend(subscription.problems(index + 1, registry));
        if !ids.insert(subscription.id.as_str()) {
            problems.push(SubscriptionError::Field {
                index: index + 1,
                id: subscription.id.clone(),
                field: "idAbonnement",
                reason: "appears twice in the file".to_owned(),
            });
        }
    }
    if problems.is_empty() {
        Ok(file.abonnements)
    } else {
        Err(problems)
    }
}

/// The access decision for `resource_id`: among `subscriptions` (those of
/// the user's schools), one valid on `today`, covering one of the user's
/// profiles and, when individual, naming one of the user's AAF references.
/// The refusal names the most specific reason.
pub fn decide<'s>(
    subscriptions: &'s [Subscription],
    identity: &Identity,
    resource_id: &str,
    today: NaiveDate,
) -> Result<&'s Subscription, SubscriptionRefusal> {
    decide_for(subscriptions, &Subject::of(identity), resource_id, today)
}

/// [`decide`] for facts extracted once ([`Subject`]).
pub fn decide_for<'s>(
    subscriptions: &'s [Subscription],
    subject: &Subject<'_>,
    resource_id: &str,
    today: NaiveDate,
) -> Result<&'s Subscription, SubscriptionRefusal> {
    let resource = resource_id.to_owned();
    let identity = subject.identity();
    let of_schools: Vec<&Subscription> = subscriptions
        .iter()
        .filter(|s| {
            s.resource_id == resource_id && subject.uais.iter().any(|uai| uai.as_str() == s.uai)
        })
        .collect();
    if of_schools.is_empty() {
        return Err(SubscriptionRefusal::NoSubscription { resource });
    }
    let valid: Vec<&Subscription> = of_schools
        .into_iter()
        .filter(|s| s.valid_on(today))
        .collect();
    if valid.is_empty() {
        return Err(SubscriptionRefusal::NotValidToday { resource, today });
    }
    let publics: Vec<Public> = subject
        .profiles
        .iter()
        .copied()
        .filter_map(Public::of)
        .collect();
    let covering: Vec<&Subscription> = valid
        .into_iter()
        .filter(|s| s.public.iter().any(|p| publics.contains(p)))
        .collect();
    if covering.is_empty() {
        return Err(SubscriptionRefusal::ProfileNotCovered { resource });
    }
    let refs = identity.values(attr::AAF_REF);
    covering
        .into_iter()
        .find(|s| match s.assignment {
            Assignment::School => true,
            Assignment::Individual => s.assigned.iter().any(|user| refs.contains(user)),
        })
        .ok_or(SubscriptionRefusal::NotAssigned { resource })
}
