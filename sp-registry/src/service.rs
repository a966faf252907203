//! A downstream service as the registry knows it (domain reference §1: ENTs
//! and publishers' resources, speaking SAML 2.0, CAS 3.0 and/or OpenID
//! Connect) and the three answers it gives at access time, whatever the
//! protocol: may this user open it, with which attributes, under which
//! identifier.

use std::path::PathBuf;

use chrono::NaiveDate;
use serde::Deserialize;
use sso_core::Identity;

use crate::access::{AccessDenied, AccessPolicy, Admission, Subject};
use crate::cas::CasService;
use crate::identifier::{IdentifierKeys, IdentifierScope, UnknownIdentifierKey};
use crate::oidc::OidcClient;
use crate::release::{ReleasePolicy, ReleasedAttribute};
use crate::saml::{NameIdFormat, SamlService};

/// A protocol a service speaks (for logs and statistics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// SAML 2.0 (`[saml]`).
    Saml,
    /// CAS 3.0 (`[cas]`).
    Cas,
    /// OpenID Connect (`[oidc]`).
    Oidc,
}

impl Protocol {
    /// Lower-case name: `saml`, `cas` or `oidc`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Saml => "saml",
            Protocol::Cas => "cas",
            Protocol::Oidc => "oidc",
        }
    }
}

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
    /// The SAML 2.0 service provider, when the service speaks SAML.
    pub saml: Option<SamlService>,
    /// The CAS 3.0 service, when the service speaks CAS.
    pub cas: Option<CasService>,
    /// The OpenID Connect client, when the service speaks OpenID Connect.
    pub oidc: Option<OidcClient>,
    /// Scope of the opaque identifier.
    pub identifier: IdentifierScope,
    /// The previous identifier key the service is pinned to
    /// (`identifier.key`), during a key rotation; `None` for the current key.
    pub identifier_key: Option<String>,
    /// While pinned to a previous key: the attribute name under which the
    /// service also receives its identifier from the current secret, so
    /// that it can move each account at the user's next login
    /// (`identifier.current_as`).
    pub identifier_current_as: Option<String>,
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
    /// The access decision on the day `today`: authentication context, then
    /// the service's profiles and schools, then its grants (see
    /// [`AccessPolicy`]). Apply the admission ([`Admission::apply`]) before
    /// the subscription check and the release.
    pub fn admit(&self, identity: &Identity, today: NaiveDate) -> Result<Admission, AccessDenied> {
        self.access.admit(&Subject::of(identity), today, &self.id)
    }

    /// [`ServiceDefinition::admit`] for facts extracted once ([`Subject`]).
    pub fn admit_subject(
        &self,
        subject: &Subject<'_>,
        today: NaiveDate,
    ) -> Result<Admission, AccessDenied> {
        self.access.admit(subject, today, &self.id)
    }

    /// The authentication context classes the service requires (any one of
    /// them), for the gateway to request upstream; `None` accepts any login.
    pub fn required_authn_contexts(&self) -> Option<&[String]> {
        self.access.authn_contexts.as_deref()
    }

    /// Exactly the attributes of the release policy, nothing else, in policy
    /// order; an attribute without values is omitted. `IDO` carries the
    /// opaque identifier, derived with the service's key
    /// ([`IdentifierKeys::for_service`]): an unknown pinned key is refused.
    /// During a key migration (`identifier.current_as`), the identifier
    /// from the current secret follows under that name.
    pub fn release(
        &self,
        identity: &Identity,
        keys: &IdentifierKeys,
    ) -> Result<Vec<ReleasedAttribute>, UnknownIdentifierKey> {
        let key = keys.for_service(self)?;
        let mut released = self
            .release
            .apply(identity, key, &self.identifier, &self.id);
        if let Some(name) = &self.identifier_current_as {
            released.push(ReleasedAttribute {
                name: name.clone(),
                values: vec![
                    keys.current()
                        .opaque_id(identity, &self.identifier, &self.id),
                ],
            });
        }
        Ok(released)
    }

    /// The service's identifier of the user, from its identifier key and
    /// scope: the value of `IDO`, of a persistent NameID, of the CAS `user`
    /// and of the OpenID Connect `sub`. An unknown pinned key is refused.
    pub fn opaque_id(
        &self,
        identity: &Identity,
        keys: &IdentifierKeys,
    ) -> Result<String, UnknownIdentifierKey> {
        let key = keys.for_service(self)?;
        Ok(key.opaque_id(identity, &self.identifier, &self.id))
    }

    /// The NameID for this service and its format URI: the opaque identifier
    /// when persistent, a fresh random value (128 bits) at each call when
    /// transient; persistent for a service without `[saml]`. An unknown
    /// pinned key is refused, whatever the format.
    pub fn name_id(
        &self,
        identity: &Identity,
        keys: &IdentifierKeys,
    ) -> Result<(String, &'static str), UnknownIdentifierKey> {
        let key = keys.for_service(self)?;
        let format = self
            .saml
            .as_ref()
            .map_or(NameIdFormat::Persistent, |saml| saml.name_id_format);
        let value = match format {
            NameIdFormat::Persistent => key.opaque_id(identity, &self.identifier, &self.id),
            NameIdFormat::Transient => sso_saml::ids::new_id(),
        };
        Ok((value, format.uri()))
    }

    /// The protocols the service speaks, in the order SAML, CAS, OpenID Connect.
    pub fn protocols(&self) -> Vec<Protocol> {
        [
            (self.saml.is_some(), Protocol::Saml),
            (self.cas.is_some(), Protocol::Cas),
            (self.oidc.is_some(), Protocol::Oidc),
        ]
        .into_iter()
        .filter_map(|(speaks, protocol)| speaks.then_some(protocol))
        .collect()
    }
}
