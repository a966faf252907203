//! A downstream service as the registry knows it (domain reference §1: ENTs
//! and publishers' resources) and the three answers it gives at access time:
//! may this user open it, with which attributes, under which identifier.

use std::path::PathBuf;

use serde::Deserialize;
use sso_core::Identity;

use crate::access::{AccessDenied, AccessPolicy};
use crate::identifier::{IdentifierKey, IdentifierScope};
use crate::release::{ReleasePolicy, ReleasedAttribute};
use crate::saml::{NameIdFormat, SamlService};

/// What kind of service it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    /// A school portal (Espace Numérique de Travail).
    Ent,
    /// A publisher's resource reached from the médiacentre.
    Resource,
}

/// A resource's tile in the médiacentre (domain reference §4: the GAR
/// fields `urlAccesRessource`, `urlVignette`, `typePedagogique`,
/// `niveauEducatif`, `domaineEnseignement`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mediacentre {
    /// Where a click starts the resource's own login (it then asks the gateway).
    pub access_url: String,
    /// Its logo.
    pub logo_url: Option<String>,
    /// `typePedagogique` labels.
    pub pedagogical_types: Vec<String>,
    /// `niveauEducatif` labels.
    pub education_levels: Vec<String>,
    /// `domaineEnseignement` labels.
    pub subject_areas: Vec<String>,
}

/// One downstream service, validated.
#[derive(Debug, Clone)]
pub struct ServiceDefinition {
    /// Unique name in the registry, `[a-z0-9-]+`.
    pub id: String,
    /// Name shown to users (French).
    pub display_name: String,
    /// ENT or resource.
    pub kind: ServiceKind,
    /// The publisher's name, if given.
    pub publisher: Option<String>,
    /// The resource's `idRessource` (`ark:/...`), resources only.
    pub resource_id: Option<String>,
    /// The SAML 2.0 service provider.
    pub saml: SamlService,
    /// Scope of the opaque identifier.
    pub identifier: IdentifierScope,
    /// Attributes released to the service.
    pub release: ReleasePolicy,
    /// Who may open the service.
    pub access: AccessPolicy,
    /// How the médiacentre shows the resource (resources only).
    pub mediacentre: Option<Mediacentre>,
    /// SHA-256 of the token with which this ENT asks, server to server, for
    /// the médiacentre of its users (ENTs only; `None`: it may not).
    pub mediacentre_api_token_sha256: Option<[u8; 32]>,
    /// The file the definition was read from.
    pub source_file: PathBuf,
}

impl ServiceDefinition {
    /// Checks the profile restriction (profiles compared case-insensitively
    /// through [`sso_core::Profile`]).
    pub fn check_access(&self, identity: &Identity) -> Result<(), AccessDenied> {
        self.access.check(identity, &self.id)
    }

    /// Exactly the attributes of the release policy, nothing else, in policy
    /// order; an attribute without values is omitted. `IDO` carries the
    /// opaque identifier.
    pub fn release(&self, identity: &Identity, ids: &IdentifierKey) -> Vec<ReleasedAttribute> {
        self.release
            .apply(identity, ids, &self.identifier, &self.id)
    }

    /// The NameID for this service and its format URI: the opaque identifier
    /// when persistent, a fresh random value (128 bits) at each call when
    /// transient.
    pub fn name_id(&self, identity: &Identity, ids: &IdentifierKey) -> (String, &'static str) {
        let format = self.saml.name_id_format;
        let value = match format {
            NameIdFormat::Persistent => ids.opaque_id(identity, &self.identifier, &self.id),
            NameIdFormat::Transient => sso_saml::ids::new_id(),
        };
        (value, format.uri())
    }
}
