//! The canonical identity: what the gateway knows about the person behind a
//! session, independent of the upstream protocol it came from.
//!
//! Values are multi-valued strings keyed by canonical names (see [`attr`]);
//! upstream connectors fill them from configuration-driven mapping rules, so a
//! new identity provider needs no new code. Release policies read them by the
//! same names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Profile, Uai};

/// Canonical attribute names. Mapping rules may produce other names too; these
/// are the ones the gateway itself understands.
pub mod attr {
    /// Family name (`sn`).
    pub const SURNAME: &str = "surname";
    /// Given name (`givenName`).
    pub const GIVEN_NAME: &str = "given_name";
    /// Civility (`M.`, `Mme`).
    pub const CIVILITY: &str = "civility";
    /// E-mail address.
    pub const EMAIL: &str = "email";
    /// School codes (UAI) the person is attached to.
    pub const UAI: &str = "uai";
    /// SDET profiles (`National_ELV`, ...).
    pub const PROFILE: &str = "profile";
    /// Raw upstream affiliation (`eleve2d`, `resp1d`, ...).
    pub const AFFILIATION: &str = "affiliation";
    /// Administrative function codes (`ENS`, `DIR`, ...).
    pub const FUNCTION: &str = "function";
    /// Date of birth, `YYYY-MM-DD`.
    pub const BIRTH_DATE: &str = "birth_date";
    /// Hash of the pupil's INE, as released by ÉduConnect. Never released downstream by default.
    pub const INE_HASH: &str = "ine_hash";
    /// MEF level code (MEF-STAT4).
    pub const LEVEL: &str = "level";
    /// Classes, `code##libellé`.
    pub const CLASSES: &str = "classes";
    /// Groups, `code##libellé##div`.
    pub const GROUPS: &str = "groups";
    /// Links to AAF directory entries, `académie|jointure`.
    pub const AAF_REF: &str = "aaf_ref";
    /// Académie code.
    pub const ACADEMIE: &str = "academie";
    /// A guardian's children from the directory, `nom##prénom##UAI`.
    pub const CHILDREN: &str = "children";

    /// Every canonical name above, for validation of configuration files.
    pub const ALL: &[&str] = &[
        SURNAME,
        GIVEN_NAME,
        CIVILITY,
        EMAIL,
        UAI,
        PROFILE,
        AFFILIATION,
        FUNCTION,
        BIRTH_DATE,
        INE_HASH,
        LEVEL,
        CLASSES,
        GROUPS,
        AAF_REF,
        ACADEMIE,
        CHILDREN,
    ];
}

/// Multi-valued attributes keyed by canonical name, in a stable order.
pub type Attributes = BTreeMap<String, Vec<String>>;

/// The person behind a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Identifier of the upstream identity provider in the gateway's configuration.
    pub idp: String,
    /// The stable identifier the upstream provider gave (e.g. `FrEduCtId`).
    /// Never released downstream: services receive an opaque derived identifier.
    pub subject: String,
    /// Canonical attributes.
    pub attributes: Attributes,
    /// Authentication context class the upstream provider asserted, if any.
    pub authn_context: Option<String>,
    /// When the upstream authentication happened (seconds since the Unix epoch).
    pub authn_instant: i64,
}

impl Identity {
    /// A new identity with no attributes.
    pub fn new(idp: impl Into<String>, subject: impl Into<String>, authn_instant: i64) -> Self {
        Self {
            idp: idp.into(),
            subject: subject.into(),
            attributes: Attributes::new(),
            authn_context: None,
            authn_instant,
        }
    }

    /// All values of a canonical attribute (empty when absent).
    pub fn values(&self, name: &str) -> &[String] {
        self.attributes.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// First value of a canonical attribute.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.values(name).first().map(String::as_str)
    }

    /// Adds a value, keeping values unique and in insertion order. Empty values are ignored.
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        if value.is_empty() {
            return;
        }
        let values = self.attributes.entry(name.to_owned()).or_default();
        if !values.contains(&value) {
            values.push(value);
        }
    }

    /// The SDET profiles the identity carries; unknown values are skipped.
    pub fn profiles(&self) -> Vec<Profile> {
        self.values(attr::PROFILE)
            .iter()
            .filter_map(|value| value.parse().ok())
            .collect()
    }

    /// The school codes the identity carries; malformed values are skipped.
    pub fn uais(&self) -> Vec<Uai> {
        self.values(attr::UAI)
            .iter()
            .filter_map(|value| Uai::parse_lenient(value).ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_keeps_values_unique_and_skips_empty() {
        let mut identity = Identity::new("educonnect", "abc", 0);
        identity.push(attr::UAI, "0254222C");
        identity.push(attr::UAI, "0254222C");
        identity.push(attr::UAI, "");
        identity.push(attr::UAI, "0750001A");
        assert_eq!(identity.values(attr::UAI), ["0254222C", "0750001A"]);
        assert_eq!(identity.first(attr::EMAIL), None);
    }

    #[test]
    fn profiles_and_uais_skip_malformed_values() {
        let mut identity = Identity::new("agents", "t1", 0);
        identity.push(attr::PROFILE, "National_ENS");
        identity.push(attr::PROFILE, "not-a-profile");
        identity.push(attr::UAI, "0254222C");
        identity.push(attr::UAI, "garbage");
        assert_eq!(identity.profiles(), vec![Profile::Ens]);
        assert_eq!(identity.uais().len(), 1);
    }

    #[test]
    fn serde_round_trip() {
        let mut identity = Identity::new("educonnect", "abc", 1_700_000_000);
        identity.push(attr::SURNAME, "Martin");
        identity.authn_context = Some("urn:oasis:names:tc:SAML:2.0:ac:classes:Password".into());
        let json = serde_json::to_string(&identity).unwrap();
        let back: Identity = serde_json::from_str(&json).unwrap();
        assert_eq!(back, identity);
    }
}
