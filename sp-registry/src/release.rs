//! Attribute release policy (domain reference §4 and §5: each resource
//! receives only the attributes it was approved for; minimisation per
//! service).
//!
//! A policy is declarative data: an ordered list of released names, each read
//! from one canonical attribute of the identity (or the opaque identifier for
//! `IDO`). Nothing outside the list ever leaves the gateway.

use sso_core::{Identity, attr};

use crate::identifier::{IdentifierKey, IdentifierScope};

/// Where a released attribute takes its values from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeSource {
    /// The opaque per-service identifier ([`IdentifierKey::opaque_id`]).
    OpaqueId,
    /// A canonical attribute of the identity (a name of [`sso_core::attr::ALL`]).
    Canonical(&'static str),
}

/// The GAR attribute names the registry understands (domain reference §4) and
/// where each one is read from.
pub const GAR_ATTRIBUTES: &[(&str, AttributeSource)] = &[
    ("IDO", AttributeSource::OpaqueId),
    ("UAI", AttributeSource::Canonical(attr::UAI)),
    ("PRO", AttributeSource::Canonical(attr::PROFILE)),
    ("NOM", AttributeSource::Canonical(attr::SURNAME)),
    ("PRE", AttributeSource::Canonical(attr::GIVEN_NAME)),
    ("CIV", AttributeSource::Canonical(attr::CIVILITY)),
    ("P_MEL", AttributeSource::Canonical(attr::EMAIL)),
    ("DIV", AttributeSource::Canonical(attr::CLASSES)),
    ("GRO", AttributeSource::Canonical(attr::GROUPS)),
    ("E_MS1", AttributeSource::Canonical(attr::LEVEL)),
    ("P_MS4", AttributeSource::Canonical(attr::LEVEL)),
];

/// Canonical attributes that no policy may release (domain reference §4:
/// never expose the AAF id or the INE).
pub(crate) const NEVER_RELEASED: &[&str] = &[attr::INE_HASH, attr::AAF_REF];

/// One released attribute of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRule {
    /// The name the service receives.
    pub name: String,
    /// Where its values come from.
    pub source: AttributeSource,
}

/// The attributes a service receives, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleasePolicy {
    /// The released attributes: the GAR names of `release.attributes` in file
    /// order, then the names of `release.custom` in lexicographic order.
    pub rules: Vec<ReleaseRule>,
}

/// One attribute as released to a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleasedAttribute {
    /// The released name (GAR name or custom name).
    pub name: String,
    /// Its values, never empty.
    pub values: Vec<String>,
}

impl ReleasePolicy {
    /// Applies the policy: exactly the configured attributes, in order, those
    /// without values omitted.
    pub(crate) fn apply(
        &self,
        identity: &Identity,
        ids: &IdentifierKey,
        scope: &IdentifierScope,
        service_id: &str,
    ) -> Vec<ReleasedAttribute> {
        self.rules
            .iter()
            .filter_map(|rule| {
                let values = match rule.source {
                    AttributeSource::OpaqueId => vec![ids.opaque_id(identity, scope, service_id)],
                    AttributeSource::Canonical(name) => identity.values(name).to_vec(),
                };
                (!values.is_empty()).then(|| ReleasedAttribute {
                    name: rule.name.clone(),
                    values,
                })
            })
            .collect()
    }
}

/// The source of a GAR name, if it is one.
pub(crate) fn gar_source(name: &str) -> Option<AttributeSource> {
    GAR_ATTRIBUTES
        .iter()
        .find(|(gar, _)| *gar == name)
        .map(|(_, source)| *source)
}

/// The `'static` canonical name equal to `name`, if it is one.
pub(crate) fn canonical_name(name: &str) -> Option<&'static str> {
    attr::ALL
        .iter()
        .copied()
        .find(|canonical| *canonical == name)
}
/// Whether `name` can be written as a CAS attribute element (`cas:<name>`):
/// an XML NCName restricted to ASCII letters, digits, `_`, `-` and `.`, not
/// starting with a digit, `-` or `.`. Every GAR name is one.
pub fn is_xml_element_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}
