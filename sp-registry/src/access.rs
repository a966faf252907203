//! Access policy of a service: which SDET profiles may open it (domain
//! reference §3, profiles compared case-insensitively as GAR writes them in
//! lower case, and §4). Subscriptions come later and will add their own
//! reasons of refusal here.

use sso_core::{Identity, Profile};

/// Who may open a service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessPolicy {
    /// Allowed profiles; `None` allows every profile (and identities without one).
    pub profiles: Option<Vec<Profile>>,
}

/// Why a user may not open a service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessDenied {
    /// The identity carries no SDET profile and the service restricts profiles.
    #[error(
        "service {service:?} is restricted to profiles {allowed:?} and the user has no profile"
    )]
    NoProfile {
        /// The service id.
        service: String,
        /// The profiles the service allows.
        allowed: Vec<Profile>,
    },
    /// None of the identity's profiles is allowed.
    #[error("service {service:?} is restricted to profiles {allowed:?}, the user has {found:?}")]
    ProfileNotAllowed {
        /// The service id.
        service: String,
        /// The profiles the service allows.
        allowed: Vec<Profile>,
        /// The profiles the user has.
        found: Vec<Profile>,
    },
}

impl AccessPolicy {
    /// Checks `identity` against the policy of the service `service_id`.
    pub(crate) fn check(&self, identity: &Identity, service_id: &str) -> Result<(), AccessDenied> {
        let Some(allowed) = &self.profiles else {
            return Ok(());
        };
        let found = identity.profiles();
        if found.is_empty() {
            return Err(AccessDenied::NoProfile {
                service: service_id.to_owned(),
                allowed: allowed.clone(),
            });
        }
        if found.iter().any(|profile| allowed.contains(profile)) {
            Ok(())
        } else {
            Err(AccessDenied::ProfileNotAllowed {
                service: service_id.to_owned(),
                allowed: allowed.clone(),
                found,
            })
        }
    }
}
