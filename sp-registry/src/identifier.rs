//! The opaque per-service identifier (domain reference §4: stable for a user
//! across schools, different for each resource or resource family, never
//! exposing the upstream subject, the AAF id or the INE).
//!
//! `opaque_id = hex(HMAC-SHA256(secret, scope-tag || 0x00 || user-key))`, where
//! the scope tag is `service:<id>` or `family:<name>` and the user key is the
//! first `aaf_ref` value (the AAF identity, the same whichever IdP the user came
//! through) or, for users outside the AAF, `idp || 0x00 || subject`.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use sso_core::{Identity, attr};

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
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

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
