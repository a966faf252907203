//! Rotation of the identifier secret: a service pinned to a previous key
//! keeps its identifiers, the others move to the current key, and a pinned
//! key the gateway does not hold is refused at load and at access time.

use sp_registry::{
    IdentifierKey, IdentifierKeys, IdentifierScope, LoadErrorKind, RegistryErrors,
    UnknownIdentifierKey,
};

use crate::common::{Folder, key, pupil};

const OLD_SECRET: &[u8] = b"the 2025 identifier secret, now rotated";

fn old_key() -> IdentifierKey {
    IdentifierKey::from_bytes(OLD_SECRET).unwrap()
}

fn ring() -> IdentifierKeys {
    IdentifierKeys::new(key())
        .with_previous("2025", old_key())
        .unwrap()
}

/// Line 10 of the pinned services' files is `key = "2025"`.
fn service(id: &str, identifier: &str, name_id_format: &str) -> String {
    format!(
        "id = \"{id}\"\ndisplay_name = \"S\"\nkind = \"ent\"\n[saml]\nentity_id = \"https://{id}.example.fr/sp\"\nacs = [{{ url = \"https://{id}.example.fr/acs\", binding = \"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" }}]\nrequire_signed_authn_requests = false\nname_id_format = \"{name_id_format}\"\n{identifier}\n[release]\nattributes = [\"IDO\", \"NOM\"]\n"
    )
}

fn folder() -> Folder {
    let folder = Folder::new();
    folder.write(
        "pinned.toml",
        service("pinned", "[identifier]\nkey = \"2025\"", "persistent"),
    );
    folder.write(
        "pinned-transient.toml",
        service(
            "pinned-transient",
            "[identifier]\nkey = \"2025\"",
            "transient",
        ),
    );
    folder.write("current.toml", service("current", "", "persistent"));
    folder
}

#[test]
fn a_pinned_service_keeps_the_previous_identifiers_and_others_move() {
    let registry = folder().load().unwrap();
    let keys = ring();
    assert!(registry.check_identifier_keys(&keys).is_ok());
    let identity = pupil("subject-1", "0254222D", "4A##Quatrième A");
    let scope = IdentifierScope::Service;

    let pinned = registry.by_id("pinned").unwrap();
    let previous = old_key().opaque_id(&identity, &scope, "pinned");
    let released = pinned.release(&identity, &keys).unwrap();
    assert_eq!(released[0].name, "IDO");
    assert_eq!(released[0].values, std::slice::from_ref(&previous));
    assert_eq!(pinned.name_id(&identity, &keys).unwrap().0, previous);
    assert_ne!(previous, key().opaque_id(&identity, &scope, "pinned"));

    let current = registry.by_id("current").unwrap();
    let now = key().opaque_id(&identity, &scope, "current");
    assert_eq!(
        current.release(&identity, &keys).unwrap()[0].values,
        std::slice::from_ref(&now)
    );
    assert_eq!(current.name_id(&identity, &keys).unwrap().0, now);
}

#[test]
fn an_unknown_pinned_key_fails_closed() {
    let registry = folder().load().unwrap();
    let current_only = IdentifierKeys::new(key());
    let identity = pupil("subject-1", "0254222D", "4A##Quatrième A");
    let unknown = UnknownIdentifierKey {
        service: "pinned".into(),
        key: "2025".into(),
        known: Vec::new(),
    };
    let pinned = registry.by_id("pinned").unwrap();
    assert_eq!(
        pinned.release(&identity, &current_only),
        Err(unknown.clone())
    );
    assert_eq!(pinned.name_id(&identity, &current_only), Err(unknown));
    // even a transient NameID, which needs no key, is refused
    let transient = registry.by_id("pinned-transient").unwrap();
    assert!(transient.name_id(&identity, &ring()).is_ok());
    assert!(transient.name_id(&identity, &current_only).is_err());
    // the unpinned service is unaffected
    let current = registry.by_id("current").unwrap();
    assert!(current.release(&identity, &current_only).is_ok());
}

#[test]
fn the_registry_check_names_file_line_and_field() {
    let folder = folder();
    let registry = folder.load().unwrap();
    let other = IdentifierKeys::new(key())
        .with_previous("2024", old_key())
        .unwrap();
    let RegistryErrors(errors) = registry.check_identifier_keys(&other).unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    let mut files: Vec<_> = errors.iter().map(|e| e.file.clone()).collect();
    files.sort();
    assert_eq!(
        files,
        [
            folder.path().join("pinned-transient.toml"),
            folder.path().join("pinned.toml")
        ]
    );
    for error in &errors {
        assert_eq!(error.line, Some(10), "{error}");
        assert_eq!(error.field.as_deref(), Some("identifier.key"));
        assert!(
            matches!(&error.reason, LoadErrorKind::UnknownIdentifierKey { key, known } if key == "2025" && known == &["2024"]),
            "{error}"
        );
    }
    let shown = errors[0].to_string();
    assert!(
        shown.ends_with(":10: field `identifier.key`: identifier key \"2025\" is not configured (previous keys: [\"2024\"])"),
        "{shown}"
    );
}

/// During its migration window a pinned service also receives, under the
/// name it chose, the identifier from the current secret; the pinned
/// service without `current_as` does not (positive control); `current_as`
/// without a pin, or clashing with a released name, is refused.
#[test]
fn a_migrating_service_receives_both_identifiers() {
    let folder = folder();
    folder.write(
        "migrating.toml",
        service(
            "migrating",
            "[identifier]\nkey = \"2025\"\ncurrent_as = \"IDO_NOUVEAU\"",
            "persistent",
        ),
    );
    let registry = folder.load().unwrap();
    let keys = ring();
    let identity = pupil("subject-1", "0254222D", "4A##Quatrième A");
    let scope = IdentifierScope::Service;

    let released = registry
        .by_id("migrating")
        .unwrap()
        .release(&identity, &keys)
        .unwrap();
    let names: Vec<&str> = released.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["IDO", "NOM", "IDO_NOUVEAU"]);
    assert_eq!(
        released[0].values,
        [old_key().opaque_id(&identity, &scope, "migrating")]
    );
    assert_eq!(
        released[2].values,
        [key().opaque_id(&identity, &scope, "migrating")]
    );
    let pinned = registry
        .by_id("pinned")
        .unwrap()
        .release(&identity, &keys)
        .unwrap();
    assert!(pinned.iter().all(|a| a.name != "IDO_NOUVEAU"));

    let folder = Folder::new();
    folder.write(
        "svc.toml",
        service(
            "svc",
            "[identifier]\ncurrent_as = \"IDO_NOUVEAU\"",
            "persistent",
        ),
    );
    let error = folder.only_error();
    assert_eq!(error.field.as_deref(), Some("identifier.current_as"));
    assert!(matches!(error.reason, LoadErrorKind::CurrentAsWithoutKey));

    let folder = Folder::new();
    folder.write(
        "svc.toml",
        service(
            "svc",
            "[identifier]\nkey = \"2025\"\ncurrent_as = \"NOM\"",
            "persistent",
        ),
    );
    let error = folder.only_error();
    assert_eq!(error.field.as_deref(), Some("identifier.current_as"));
    assert!(matches!(error.reason, LoadErrorKind::DuplicateAttribute(_)));
}
