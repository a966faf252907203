//! Login and access events (domain reference §5, "statistics" and
//! "connection logs"): the one place where a login step or a downstream
//! access, once decided, is handed to the anonymous usage statistics and to
//! the audit trail.
//!
//! An event carries what both need and nothing more: when, which upstream
//! IdP or downstream service, how it ended, the client IP, and a summary of
//! the person ([`Who`]). The statistics keep only aggregate dimensions of it
//! (school, profile...), never the person; the audit trail keeps a
//! pseudonymous reference ([`person_reference`]) and the IP, for the
//! retention the configuration sets.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sp_registry::{IdentifierKey, IdentifierKeys};
use sso_core::{Identity, attr};

use crate::observe::prometheus::{AccessOutcome, LoginOutcome, Protocol};

/// What an event says about the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    /// The upstream IdP's configured id.
    pub idp: String,
    /// The identifier the upstream IdP gave.
    pub subject: String,
    /// Links to AAF directory entries, `académie|jointure`.
    pub aaf_refs: Vec<String>,
    /// Académie code, once joined.
    pub academie: Option<String>,
    /// School codes (UAI).
    pub uais: Vec<String>,
    /// SDET profiles.
    pub profiles: Vec<String>,
}

impl Who {
    /// The summary of an identity.
    pub fn of(identity: &Identity) -> Self {
        Self {
            idp: identity.idp.clone(),
            subject: identity.subject.clone(),
            aaf_refs: identity.values(attr::AAF_REF).to_vec(),
            academie: identity.first(attr::ACADEMIE).map(str::to_owned),
            uais: identity.values(attr::UAI).to_vec(),
            profiles: identity.values(attr::PROFILE).to_vec(),
        }
    }

    /// The key naming the person: `aaf:<académie>|<jointure>` once joined
    /// to the directory, `idp:<idp>|<subject>` otherwise. An operator
    /// answering a rights request computes it from what the person gave
    /// (see [`person_reference`]).
    pub fn person_key(&self) -> String {
        match self.aaf_refs.first() {
            Some(aaf) => format!("aaf:{aaf}"),
            None => format!("idp:{}|{}", self.idp, self.subject),
        }
    }
}

/// The pseudonymous reference of a person key: a keyed digest under the
/// current identifier secret (domain-separated from opaque identifiers and
/// rate-limit keys), so that the audit trail, the charter acceptances and
/// the session index never hold an identifier in clear.
pub fn person_reference(keys: &IdentifierKeys, person_key: &str) -> String {
    person_reference_under(keys.current(), person_key)
}

/// The pseudonymous reference of a person key under one identifier secret
/// (a trace or an index written before a rotation keeps the reference of
/// the secret of its day).
pub fn person_reference_under(key: &IdentifierKey, person_key: &str) -> String {
    key.keyed_digest("person", person_key)
}

/// The references of a person key under every identifier secret, current
/// first.
pub fn person_references(keys: &IdentifierKeys, person_key: &str) -> Vec<String> {
    keys.all()
        .map(|key| person_reference_under(key, person_key))
        .collect()
}

/// A login step that ended (successfully or not).
#[derive(Debug, Clone)]
pub struct LoginEvent {
    /// When it ended.
    pub at: DateTime<Utc>,
    /// The upstream IdP's configured id (`unknown` when it could not be told).
    pub idp: String,
    /// How it ended.
    pub outcome: LoginOutcome,
    /// The person, when the login succeeded.
    pub who: Option<Who>,
    /// The client's address.
    pub ip: Option<IpAddr>,
}

/// A downstream access that was decided (granted or refused).
#[derive(Debug, Clone)]
pub struct AccessEvent {
    /// When it was decided.
    pub at: DateTime<Utc>,
    /// The service's registry id.
    pub service: String,
    /// Through which protocol.
    pub protocol: Protocol,
    /// How it ended.
    pub outcome: AccessOutcome,
    /// The person.
    pub who: Who,
    /// The client's address.
    pub ip: Option<IpAddr>,
}
