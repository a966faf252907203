//! The opaque per-service identifier (domain reference §4: stable for a user
//! across schools, different for each resource or resource family, never
//! exposing the upstream subject, the AAF id or the INE).
//!
//! `opaque_id = hex(HMAC-SHA256(secret, scope-tag || 0x00 || user-key))`, where
//! the scope tag is `service:<id>` or `family:<name>` and the user key is the
//! first `aaf_ref` value (the AAF identity, the same whichever IdP the user came
//! through) or, for users outside the AAF, `idp || 0x00 || subject`.
//!
//! The secret can be rotated service by service: [`IdentifierKeys`] holds the
//! current secret and named previous ones; a service file may pin a previous
//! one (`[identifier] key = "2025"`), and a pinned name that the key ring
//! does not hold fails closed ([`UnknownIdentifierKey`]), never falling back
//! to the current secret.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use sso_core::{Identity, attr};

use crate::service::ServiceDefinition;

/// Which services share one opaque identifier for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentifierScope {
    /// One identifier per service (the default).
    Service,
    /// One identifier shared by every service of the named family (e.g. the
    /// resources of one publisher).
    Family(String),
}

/// The secret the opaque identifiers are derived from (from configuration).
/// Its `Debug` output never shows the secret.
#[derive(Clone)]
pub struct IdentifierKey {
    mac: Hmac<Sha256>,
}

/// The secret is shorter than [`IdentifierKey::MIN_LEN`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the identifier secret has {len} bytes, at least {min} are required", min = IdentifierKey::MIN_LEN)]
pub struct KeyTooShort {
    /// Length of the secret given.
    pub len: usize,
}

impl fmt::Debug for IdentifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentifierKey(<redacted>)")
    }
}

impl IdentifierKey {
    /// Minimal secret length in bytes (256 bits).
    pub const MIN_LEN: usize = 32;

    /// A key from the configured secret (at least [`Self::MIN_LEN`] bytes).
    pub fn from_bytes(secret: &[u8]) -> Result<Self, KeyTooShort> {
        let too_short = KeyTooShort { len: secret.len() };
        if secret.len() < Self::MIN_LEN {
            return Err(too_short);
        }
        // HMAC accepts keys of any length: this never fails once the length
        // check above has passed.
        let mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| too_short)?;
        Ok(Self { mac })
    }

    /// The opaque identifier of `identity` for the service `service_id` under
    /// `scope`: 64 lower-case hex characters.
    pub fn opaque_id(
        &self,
        identity: &Identity,
        scope: &IdentifierScope,
        service_id: &str,
    ) -> String {
        let mut mac = self.mac.clone();
        match scope {
            IdentifierScope::Service => {
                mac.update(b"service:");
                mac.update(service_id.as_bytes());
            }
            IdentifierScope::Family(family) => {
                mac.update(b"family:");
                mac.update(family.as_bytes());
            }
        }
        mac.update(&[0]);
        match identity.first(attr::AAF_REF) {
            Some(aaf_ref) => mac.update(aaf_ref.as_bytes()),
            None => {
                mac.update(identity.idp.as_bytes());
                mac.update(&[0]);
                mac.update(identity.subject.as_bytes());
            }
        }
        hex::encode(mac.finalize().into_bytes())
    }

    /// HMAC-SHA-256 of `value` under the secret in the context `label`
    /// (domain-separated from [`Self::opaque_id`]): 64 lower-case hex
    /// characters. The gateway names its rate-limit counters with it, so
    /// that no IP address or account appears in the store.
    pub fn keyed_digest(&self, label: &str, value: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(b"digest:");
        mac.update(label.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// The identifier secrets: the current one and named previous ones (kept
/// while services migrate their accounts). Its `Debug` output shows the
/// names of the previous keys, never a secret.
#[derive(Clone)]
pub struct IdentifierKeys {
    current: IdentifierKey,
    previous: Vec<(String, IdentifierKey)>,
}

/// A previous key that cannot join the key ring.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRingError {
    /// A name outside `[a-z0-9-]+` (a service file could not pin it).
    #[error("{0:?} is not a valid identifier key name (only lower-case letters, digits and '-')")]
    InvalidName(String),
    /// Two previous keys with one name.
    #[error("the identifier key name {0:?} is given twice")]
    DuplicateName(String),
}

/// A service pins a previous identifier key that the key ring does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "service {service:?} pins the identifier key {key:?}, which is not configured (previous keys: {known:?})"
)]
pub struct UnknownIdentifierKey {
    /// The service id.
    pub service: String,
    /// The pinned name.
    pub key: String,
    /// The names of the previous keys the key ring holds.
    pub known: Vec<String>,
}

impl fmt::Debug for IdentifierKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentifierKeys")
            .field("current", &self.current)
            .field("previous", &self.names().collect::<Vec<_>>())
            .finish()
    }
}

impl IdentifierKeys {
    /// A key ring holding only the current key.
    pub fn new(current: IdentifierKey) -> Self {
        Self {
            current,
            previous: Vec::new(),
        }
    }

    /// Adds a previous key under `name` (`[a-z0-9-]+`, unique in the ring).
    pub fn with_previous(
        mut self,
        name: impl Into<String>,
        key: IdentifierKey,
    ) -> Result<Self, KeyRingError> {
        let name = name.into();
        if !is_key_name(&name) {
            return Err(KeyRingError::InvalidName(name));
        }
        if self.previous(&name).is_some() {
            return Err(KeyRingError::DuplicateName(name));
        }
        self.previous.push((name, key));
        Ok(self)
    }

    /// The current key.
    pub fn current(&self) -> &IdentifierKey {
        &self.current
    }

    /// Every key: the current one first, then the previous ones in the
    /// order they were added (to find what was derived under any of them).
    pub fn all(&self) -> impl Iterator<Item = &IdentifierKey> {
        std::iter::once(&self.current).chain(self.previous.iter().map(|(_, key)| key))
    }

    /// The names of the previous keys, in the order they were added.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.previous.iter().map(|(name, _)| name.as_str())
    }

    /// The key of `service`: the previous key it pins, else the current key.
    /// A pinned name the ring does not hold is refused.
    pub fn for_service(
        &self,
        service: &ServiceDefinition,
    ) -> Result<&IdentifierKey, UnknownIdentifierKey> {
        let Some(pinned) = &service.identifier_key else {
            return Ok(&self.current);
        };
        self.previous(pinned).ok_or_else(|| UnknownIdentifierKey {
            service: service.id.clone(),
            key: pinned.clone(),
            known: self.names().map(str::to_owned).collect(),
        })
    }

    fn previous(&self, name: &str) -> Option<&IdentifierKey> {
        self.previous
            .iter()
            .find(|(known, _)| known == name)
            .map(|(_, key)| key)
    }
}

/// Whether `name` is a valid key name, `[a-z0-9-]+` (the same rule as the
/// service files' `identifier.key`).
pub(crate) fn is_key_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const OLD_SECRET: &[u8] = b"the 2025 secret, rotated in 2026";

    #[test]
    fn all_keys_are_the_current_then_the_previous_ones() {
        let current = IdentifierKey::from_bytes(SECRET).unwrap();
        let old = IdentifierKey::from_bytes(OLD_SECRET).unwrap();
        let digest = |key: &IdentifierKey| key.keyed_digest("person", "aaf:AC-RENNES|1");
        let alone = IdentifierKeys::new(current.clone());
        assert_eq!(
            alone.all().map(digest).collect::<Vec<_>>(),
            [digest(&current)]
        );
        let ring = alone.with_previous("y2025", old.clone()).unwrap();
        assert_eq!(
            ring.all().map(digest).collect::<Vec<_>>(),
            [digest(&current), digest(&old)]
        );
    }

    #[test]
    fn keyed_digests_depend_on_secret_label_and_value() {
        let key = IdentifierKey::from_bytes(SECRET).unwrap();
        let digest = key.keyed_digest("rate-limit", "192.0.2.1");
        assert_eq!(digest.len(), 64);
        assert_eq!(digest, key.keyed_digest("rate-limit", "192.0.2.1"));
        assert_ne!(digest, key.keyed_digest("rate-limit", "192.0.2.2"));
        assert_ne!(digest, key.keyed_digest("other", "192.0.2.1"));
        let old = IdentifierKey::from_bytes(OLD_SECRET).unwrap();
        assert_ne!(digest, old.keyed_digest("rate-limit", "192.0.2.1"));
    }

    /// A service loaded from a file whose `[identifier]` table is `identifier`.
    fn service(id: &str, identifier: &str) -> ServiceDefinition {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(format!("{id}.toml"));
        let text = format!(
            "id = \"{id}\"\ndisplay_name = \"S\"\nkind = \"ent\"\n[saml]\nentity_id = \"https://{id}.example.fr/sp\"\nacs = [{{ url = \"https://{id}.example.fr/acs\", binding = \"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" }}]\nrequire_signed_authn_requests = false\n[identifier]\n{identifier}\n"
        );
        std::fs::write(&file, text).unwrap();
        match crate::load::load_file(dir.path(), &file) {
            Ok(loaded) => loaded.service,
            Err(errors) => panic!("{errors:?}"),
        }
    }

    fn ring() -> IdentifierKeys {
        IdentifierKeys::new(IdentifierKey::from_bytes(SECRET).unwrap())
            .with_previous("2025", IdentifierKey::from_bytes(OLD_SECRET).unwrap())
            .unwrap()
    }

    #[test]
    fn a_pinned_service_uses_the_previous_key_and_another_the_current_one() {
        let keys = ring();
        let identity = pupil("educonnect", "s", Some("ac-rennes|1234"));
        let scope = IdentifierScope::Service;
        let old_alone = IdentifierKey::from_bytes(OLD_SECRET).unwrap();
        let current_alone = IdentifierKey::from_bytes(SECRET).unwrap();

        let pinned = service("pinned", "key = \"2025\"");
        assert_eq!(pinned.identifier_key.as_deref(), Some("2025"));
        let used = keys.for_service(&pinned).unwrap();
        assert_eq!(
            used.opaque_id(&identity, &scope, "pinned"),
            old_alone.opaque_id(&identity, &scope, "pinned")
        );
        assert_ne!(
            used.opaque_id(&identity, &scope, "pinned"),
            current_alone.opaque_id(&identity, &scope, "pinned")
        );

        let unpinned = service("unpinned", "scope = \"service\"");
        assert_eq!(unpinned.identifier_key, None);
        let used = keys.for_service(&unpinned).unwrap();
        assert_eq!(
            used.opaque_id(&identity, &scope, "unpinned"),
            current_alone.opaque_id(&identity, &scope, "unpinned")
        );
    }

    #[test]
    fn an_unknown_pinned_key_is_refused_not_replaced_by_the_current_one() {
        let pinned = service("pinned", "key = \"2024\"");
        let error = ring().for_service(&pinned).unwrap_err();
        assert_eq!(
            error,
            UnknownIdentifierKey {
                service: "pinned".into(),
                key: "2024".into(),
                known: vec!["2025".into()],
            }
        );
        // A ring with no previous key refuses it too.
        let current_only = IdentifierKeys::new(IdentifierKey::from_bytes(SECRET).unwrap());
        assert!(current_only.for_service(&pinned).is_err());
        assert_eq!(current_only.names().count(), 0);
    }

    #[test]
    fn previous_key_names_are_valid_and_unique() {
        let keys = ring()
            .with_previous("2024-b", IdentifierKey::from_bytes(SECRET).unwrap())
            .unwrap();
        assert_eq!(keys.names().collect::<Vec<_>>(), ["2025", "2024-b"]);
        let duplicate = ring().with_previous("2025", IdentifierKey::from_bytes(SECRET).unwrap());
        assert_eq!(
            duplicate.unwrap_err(),
            KeyRingError::DuplicateName("2025".into())
        );
        let invalid = ring().with_previous("Key 2024", IdentifierKey::from_bytes(SECRET).unwrap());
        assert_eq!(
            invalid.unwrap_err(),
            KeyRingError::InvalidName("Key 2024".into())
        );
    }

    #[test]
    fn key_ring_debug_shows_names_but_no_secret() {
        let debug = format!("{:?}", ring());
        assert_eq!(
            debug,
            "IdentifierKeys { current: IdentifierKey(<redacted>), previous: [\"2025\"] }"
        );
        for secret in [SECRET, OLD_SECRET] {
            let secret = std::str::from_utf8(secret).unwrap();
            assert!(!debug.contains(secret));
            assert!(!debug.contains(&hex::encode(secret)));
        }
    }

    fn pupil(idp: &str, subject: &str, aaf_ref: Option<&str>) -> Identity {
        let mut identity = Identity::new(idp, subject, 0);
        if let Some(aaf_ref) = aaf_ref {
            identity.push(attr::AAF_REF, aaf_ref);
        }
        identity
    }

    #[test]
    fn short_secret_is_refused_and_32_bytes_accepted() {
        assert_eq!(
            IdentifierKey::from_bytes(&SECRET[..31]).unwrap_err(),
            KeyTooShort { len: 31 }
        );
        assert!(IdentifierKey::from_bytes(SECRET).is_ok());
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let key = IdentifierKey::from_bytes(SECRET).unwrap();
        let debug = format!("{key:?}");
        assert_eq!(debug, "IdentifierKey(<redacted>)");
    }

    #[test]
    fn matches_an_independent_hmac_computation() {
        // HMAC-SHA256 computed with the openssl command line:
        // printf 'service:ent\0ac-rennes|1234' | openssl dgst -sha256 -hmac 0123456789abcdef0123456789abcdef
        let key = IdentifierKey::from_bytes(SECRET).unwrap();
        let identity = pupil("educonnect", "s", Some("ac-rennes|1234"));
        assert_eq!(
            key.opaque_id(&identity, &IdentifierScope::Service, "ent"),
            "002cd6361d8aedf1ab82c00ad33dbd7e2a4847bbfc0924c024f40d7f5cbbf9ff"
        );
    }

    #[test]
    fn subject_keyed_when_no_aaf_ref_and_depends_on_idp() {
        let key = IdentifierKey::from_bytes(SECRET).unwrap();
        let scope = IdentifierScope::Service;
        let a = key.opaque_id(&pupil("educonnect", "s1", None), &scope, "ent");
        let same = key.opaque_id(&pupil("educonnect", "s1", None), &scope, "ent");
        let other_idp = key.opaque_id(&pupil("agents", "s1", None), &scope, "ent");
        assert_eq!(a, same);
        assert_ne!(a, other_idp);
        assert_eq!(a.len(), 64);
        assert!(!a.contains("s1"));
    }

    #[test]
    fn aaf_ref_wins_over_the_subject() {
        let key = IdentifierKey::from_bytes(SECRET).unwrap();
        let scope = IdentifierScope::Family("editeur".into());
        let via_educonnect = pupil("educonnect", "s1", Some("ac|42"));
        let via_agents = pupil("agents", "other", Some("ac|42"));
        assert_eq!(
            key.opaque_id(&via_educonnect, &scope, "r1"),
            key.opaque_id(&via_agents, &scope, "r2")
        );
    }

    #[test]
    fn another_secret_gives_another_identifier() {
        let identity = pupil("educonnect", "s1", None);
        let one = IdentifierKey::from_bytes(SECRET).unwrap();
        let two = IdentifierKey::from_bytes(b"another secret of thirty-two b..").unwrap();
        assert_ne!(
            one.opaque_id(&identity, &IdentifierScope::Service, "ent"),
            two.opaque_id(&identity, &IdentifierScope::Service, "ent")
        );
    }
}
