//! Access policy of a service and the access decision (domain reference §3:
//! SDET profiles compared case-insensitively, as GAR writes them in lower
//! case; §2: a service may require a stronger authentication context; §5: "a
//! CM2 pupil (cycle 3) must be able to reach the collège's ENT").
//!
//! The decision ([`AccessPolicy::admit`]) runs in this order:
//!
//! 1. the authentication context, when the service lists the ones it accepts
//!    (a distinct refusal, so that the gateway can ask for a step-up login);
//! 2. the regular rule: an allowed profile and, when the service is
//!    restricted to schools, one of the user's schools among them;
//! 3. the grants, in file order: valid today, one of the user's schools
//!    among the grant's, an allowed profile (the grant's, else the
//!    service's), and one of the user's levels when the grant lists levels.
//!
//! A refusal is the one of the rule (the regular rule first, then each grant
//! in file order) that got furthest through the checks school → profile →
//! level → validity period; on a tie, the first of them.

use std::borrow::Cow;

use chrono::NaiveDate;
use sso_core::{Identity, Profile, Uai, attr};

/// Longest a grant may last: `valid_until` at most this many days after
/// `valid_from` (a school year and some margin).
pub const MAX_GRANT_DAYS: i64 = 400;

/// Who may open a service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessPolicy {
    /// Allowed profiles; `None` allows every profile (and identities without one).
    pub profiles: Option<Vec<Profile>>,
    /// Schools whose users may open the service; `None` allows every school.
    pub schools: Option<Vec<Uai>>,
    /// Authentication context classes (`AuthnContextClassRef` values) the
    /// login must carry, any one of them; `None` accepts any login.
    pub authn_contexts: Option<Vec<String>>,
    /// Time-limited openings to users of other schools, in file order (only
    /// when `schools` is set).
    pub grants: Vec<Grant>,
}

/// A time-limited opening of a school-restricted service to the users of
/// other schools (e.g. the CM2 pupils of the collège's sector).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Unique name in the service file, `[a-z0-9-]+`.
    pub name: String,
    /// Text shown to operators.
    pub label: Option<String>,
    /// The users' schools.
    pub schools: Vec<Uai>,
    /// Allowed profiles; `None` means the service's `profiles`.
    pub profiles: Option<Vec<Profile>>,
    /// Allowed values of the identity's `level` attribute (MEF-STAT4 code or
    /// ONDE level), compared case-insensitively; `None` allows every level.
    pub levels: Option<Vec<String>>,
    /// First day of validity (inclusive).
    pub valid_from: NaiveDate,
    /// Last day of validity (inclusive).
    pub valid_until: NaiveDate,
    /// The school the service sees for these users (one of the service's
    /// `schools`), instead of their own.
    pub as_school: Option<Uai>,
}

/// Why a user may open a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The service's own profile and school rules admit the user.
    Regular,
    /// A grant admits the user.
    Granted(GrantUse),
}

/// The grant that admitted a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantUse {
    /// The grant's name.
    pub name: String,
    /// The school the service sees for the user, if the grant sets one.
    pub as_school: Option<Uai>,
}

impl Admission {
    /// The identity as the service must see it: for a grant with
    /// `as_school`, a copy whose `uai` values are replaced by that school
    /// (so that the subscription check and the attribute release both see
    /// it); otherwise the identity itself.
    pub fn apply<'a>(&self, identity: &'a Identity) -> Cow<'a, Identity> {
        match self {
            Admission::Granted(GrantUse {
                as_school: Some(school),
                ..
            }) => {
                let mut seen = identity.clone();
                seen.attributes
                    .insert(attr::UAI.to_owned(), vec![school.as_str().to_owned()]);
                Cow::Owned(seen)
            }
            Admission::Granted(GrantUse {
                as_school: None, ..
            })
            | Admission::Regular => Cow::Borrowed(identity),
        }
    }
}

/// Why a user may not open a service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessDenied {
    /// The login does not carry one of the authentication contexts the
    /// service requires (the gateway may ask the IdP for a step-up login).
    #[error(
        "service {service:?} requires an authentication context among {required:?}, the login carries {found:?}"
    )]
    AuthnContext {
        /// The service id.
        service: String,
        /// The accepted authentication context classes.
        required: Vec<String>,
        /// The login's authentication context class, if any.
        found: Option<String>,
    },
    /// The identity carries no SDET profile and the rule restricts profiles.
    #[error(
        "service {service:?} is restricted to profiles {allowed:?} and the user has no profile"
    )]
    NoProfile {
        /// The service id.
        service: String,
        /// The profiles the rule allows.
        allowed: Vec<Profile>,
    },
    /// None of the identity's profiles is allowed.
    #[error("service {service:?} is restricted to profiles {allowed:?}, the user has {found:?}")]
    ProfileNotAllowed {
        /// The service id.
        service: String,
        /// The profiles the rule allows.
        allowed: Vec<Profile>,
        /// The profiles the user has.
        found: Vec<Profile>,
    },
    /// None of the identity's schools is allowed, by the service or by a grant.
    #[error(
        "service {service:?} is restricted to the schools {allowed:?} and no grant covers the user's schools {found:?}"
    )]
    SchoolNotAllowed {
        /// The service id.
        service: String,
        /// The service's schools.
        allowed: Vec<String>,
        /// The identity's `uai` values.
        found: Vec<String>,
    },
    /// A grant covers the user's school and profile, but not the user's level.
    #[error(
        "grant {grant:?} of service {service:?} is restricted to the levels {allowed:?}, the user has {found:?}"
    )]
    LevelNotAllowed {
        /// The service id.
        service: String,
        /// The grant's name.
        grant: String,
        /// The grant's levels.
        allowed: Vec<String>,
        /// The identity's `level` values.
        found: Vec<String>,
    },
    /// A grant covers the user but is not valid today.
    #[error(
        "grant {grant:?} of service {service:?} is valid from {valid_from} to {valid_until}, not on {today}"
    )]
    GrantNotValidToday {
        /// The service id.
        service: String,
        /// The grant's name.
        grant: String,
        /// First day of validity.
        valid_from: NaiveDate,
        /// Last day of validity.
        valid_until: NaiveDate,
        /// The day of the decision.
        today: NaiveDate,
    },
}

/// The checks of a rule, in the order they run: a refusal at a later stage
/// is more informative than one at an earlier stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    School,
    Profile,
    Level,
    Period,
}

/// A rule's refusal and how far the rule got.
struct Refusal {
    stage: Stage,
    denied: AccessDenied,
}

impl Refusal {
    fn at(stage: Stage, denied: AccessDenied) -> Self {
        Self { stage, denied }
    }
}

/// What the access decisions (this module's and the subscription check)
/// read from an identity, extracted once: a listing that decides for
/// hundreds of services extracts it once per user, not once per service.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    pub(crate) uais: Vec<Uai>,
    pub(crate) profiles: Vec<Profile>,
    pub(crate) levels: &'a [String],
    pub(crate) identity: &'a Identity,
}

impl<'a> Subject<'a> {
    /// The facts of `identity`.
    pub fn of(identity: &'a Identity) -> Self {
        Self {
            uais: identity.uais(),
            profiles: identity.profiles(),
            levels: identity.values(attr::LEVEL),
            identity,
        }
    }

    /// The identity.
    pub fn identity(&self) -> &'a Identity {
        self.identity
    }
}

impl AccessPolicy {
    /// The access decision for the service `service_id` on the day `today`
    /// (see the module documentation for the order of the checks).
    pub(crate) fn admit(
        &self,
        user: &Subject<'_>,
        today: NaiveDate,
        service_id: &str,
    ) -> Result<Admission, AccessDenied> {
        let identity = user.identity;
        if let Some(required) = &self.authn_contexts {
            let carried = identity
                .authn_context
                .as_ref()
                .is_some_and(|found| required.contains(found));
            if !carried {
                return Err(AccessDenied::AuthnContext {
                    service: service_id.to_owned(),
                    required: required.clone(),
                    found: identity.authn_context.clone(),
                });
            }
        }
        let mut refusal = match self.regular(user, service_id) {
            Ok(()) => return Ok(Admission::Regular),
            Err(refusal) => refusal,
        };
        for grant in &self.grants {
            match self.granted(grant, user, today, service_id) {
                Ok(()) => {
                    return Ok(Admission::Granted(GrantUse {
                        name: grant.name.clone(),
                        as_school: grant.as_school.clone(),
                    }));
                }
                Err(Some(other)) if other.stage > refusal.stage => refusal = other,
                Err(_) => {}
            }
        }
        Err(refusal.denied)
    }

    fn regular(&self, user: &Subject<'_>, service_id: &str) -> Result<(), Refusal> {
        if let Some(schools) = &self.schools
            && !attends(schools, user)
        {
            return Err(Refusal::at(
                Stage::School,
                AccessDenied::SchoolNotAllowed {
                    service: service_id.to_owned(),
                    allowed: schools.iter().map(|uai| uai.as_str().to_owned()).collect(),
                    found: user.identity.values(attr::UAI).to_vec(),
                },
            ));
        }
        check_profiles(self.profiles.as_deref(), user, service_id)
            .map_err(|denied| Refusal::at(Stage::Profile, denied))
    }

    fn granted(
        &self,
        grant: &Grant,
        user: &Subject<'_>,
        today: NaiveDate,
        service_id: &str,
    ) -> Result<(), Option<Refusal>> {
        if !attends(&grant.schools, user) {
            // The grant does not concern the user: its refusal could not be
            // more informative than the regular rule's, which got at least
            // as far.
            return Err(None);
        }
        let profiles = grant.profiles.as_deref().or(self.profiles.as_deref());
        check_profiles(profiles, user, service_id)
            .map_err(|denied| Some(Refusal::at(Stage::Profile, denied)))?;
        if let Some(levels) = &grant.levels {
            let matches = user.levels.iter().any(|found| {
                let found = found.to_lowercase();
                levels.iter().any(|level| level.to_lowercase() == found)
            });
            if !matches {
                return Err(Some(Refusal::at(
                    Stage::Level,
                    AccessDenied::LevelNotAllowed {
                        service: service_id.to_owned(),
                        grant: grant.name.clone(),
                        allowed: levels.clone(),
                        found: user.levels.to_vec(),
                    },
                )));
            }
        }
        if today < grant.valid_from || today > grant.valid_until {
            return Err(Some(Refusal::at(
                Stage::Period,
                AccessDenied::GrantNotValidToday {
                    service: service_id.to_owned(),
                    grant: grant.name.clone(),
                    valid_from: grant.valid_from,
                    valid_until: grant.valid_until,
                    today,
                },
            )));
        }
        Ok(())
    }
}

/// Whether one of the user's schools is in `schools`.
fn attends(schools: &[Uai], user: &Subject<'_>) -> bool {
    user.uais.iter().any(|uai| schools.contains(uai))
}

/// The profile check of a rule: `None` allows every profile.
fn check_profiles(
    allowed: Option<&[Profile]>,
    user: &Subject<'_>,
    service_id: &str,
) -> Result<(), AccessDenied> {
    let Some(allowed) = allowed else {
        return Ok(());
    };
    if user.profiles.is_empty() {
        return Err(AccessDenied::NoProfile {
            service: service_id.to_owned(),
            allowed: allowed.to_vec(),
        });
    }
    if user
        .profiles
        .iter()
        .any(|profile| allowed.contains(profile))
    {
        Ok(())
    } else {
        Err(AccessDenied::ProfileNotAllowed {
            service: service_id.to_owned(),
            allowed: allowed.to_vec(),
            found: user.profiles.clone(),
        })
    }
}
