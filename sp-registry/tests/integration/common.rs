//! Helpers shared by the integration tests: registry folders in temporary
//! directories, fixtures, identities and the identifier key.

use std::path::{Path, PathBuf};

use sp_registry::{IdentifierKey, IdentifierKeys, LoadError, Registry, RegistryErrors};
use sso_core::{Identity, attr};

/// The checked-in fixtures folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The valid example registry of the fixtures.
pub fn valid_registry() -> Registry {
    Registry::load_dir(&fixtures().join("valid")).unwrap()
}

/// The identifier key used by every test.
pub fn key() -> IdentifierKey {
    IdentifierKey::from_bytes(b"test secret of at least 32 bytes, not for production").unwrap()
}

/// The key ring used by every test: [`key`] as the current key, no previous one.
pub fn keys() -> IdentifierKeys {
    IdentifierKeys::new(key())
}

/// A registry folder in a temporary directory.
pub struct Folder {
    pub dir: tempfile::TempDir,
}

impl Folder {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Copies a file of `tests/fixtures/<sub>` into the folder.
    pub fn copy_fixture(&self, sub: &str, name: &str) {
        std::fs::copy(fixtures().join(sub).join(name), self.dir.path().join(name)).unwrap();
    }

    pub fn load(&self) -> Result<Registry, RegistryErrors> {
        Registry::load_dir(self.dir.path())
    }

    /// Every error of a load that must fail.
    pub fn errors(&self) -> Vec<LoadError> {
        match self.load() {
            Ok(registry) => panic!(
                "the load succeeded with {} services",
                registry.services().count()
            ),
            Err(RegistryErrors(errors)) => errors,
        }
    }

    /// The single error of a load that must fail with exactly one.
    pub fn only_error(&self) -> LoadError {
        let mut errors = self.errors();
        assert_eq!(errors.len(), 1, "expected one error, got: {errors:#?}");
        errors.remove(0)
    }
}

/// Asserts that `error` names `file` of `folder`, `line` and `field`.
pub fn assert_at(
    error: &LoadError,
    folder: &Folder,
    file: &str,
    line: Option<usize>,
    field: Option<&str>,
) {
    assert_eq!(error.file, folder.path().join(file), "{error}");
    assert_eq!(error.line, line, "{error}");
    assert_eq!(error.field.as_deref(), field, "{error}");
}

/// A pupil of the AAF, attached to the school `uai`, with many attributes.
pub fn pupil(subject: &str, uai: &str, class: &str) -> Identity {
    let mut identity = Identity::new("educonnect", subject, 1_700_000_000);
    identity.push(attr::AAF_REF, "ac-rennes|1234567");
    identity.push(attr::SURNAME, "Martin");
    identity.push(attr::GIVEN_NAME, "Léa");
    identity.push(attr::CIVILITY, "Mme");
    identity.push(attr::EMAIL, "lea.martin@example.fr");
    identity.push(attr::UAI, uai);
    identity.push(attr::PROFILE, "National_ELV");
    identity.push(attr::AFFILIATION, "eleve2d");
    identity.push(attr::BIRTH_DATE, "2011-04-02");
    identity.push(attr::INE_HASH, INE_HASH);
    identity.push(attr::LEVEL, "2112");
    identity.push(attr::CLASSES, class);
    identity.push(attr::GROUPS, "G1##Latin##4A");
    identity.push(attr::ACADEMIE, "14");
    identity
}

/// The INE hash every test pupil carries (32 hex characters, as ÉduConnect sends).
pub const INE_HASH: &str = "9f2c4e1ab37d5c6e8f90a1b2c3d4e5f6";

/// An identity with only a profile.
pub fn with_profile(profile: &str) -> Identity {
    let mut identity = Identity::new("agents", "agent-1", 0);
    identity.push(attr::PROFILE, profile);
    identity
}
