//! Attribute release and identifiers: exactly the configured attributes, the
//! opaque identifier's stability and separation, NameIDs.

use sp_registry::{IdentifierScope, ReleasedAttribute};
use sso_core::{Identity, attr};

use crate::common::{Folder, INE_HASH, key, keys, pupil, valid_registry};

fn names(released: &[ReleasedAttribute]) -> Vec<&str> {
    released.iter().map(|a| a.name.as_str()).collect()
}

fn value_of<'a>(released: &'a [ReleasedAttribute], name: &str) -> Option<&'a [String]> {
    released
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.values.as_slice())
}

#[test]
fn exactly_the_configured_attributes() {
    let registry = valid_registry();
    let ent = registry.by_id("ent-college").unwrap();
    let identity = pupil("educonnect-subject-1", "0254222D", "4A##Quatrième A");
    let released = ent.release(&identity, &keys()).unwrap();
    // GAR names in file order, then the custom names in key order.
    assert_eq!(
        names(&released),
        [
            "IDO",
            "UAI",
            "PRO",
            "NOM",
            "PRE",
            "DIV",
            "mail",
            "urn:oid:2.5.4.42"
        ]
    );
    // The identity has a civility, groups, a level, a birth date: none is released.
    assert!(!identity.values(attr::CIVILITY).is_empty());
    assert!(value_of(&released, "CIV").is_none());
    assert!(value_of(&released, "GRO").is_none());
    assert_eq!(value_of(&released, "NOM"), Some(&["Martin".to_owned()][..]));
    assert_eq!(
        value_of(&released, "mail"),
        Some(&["lea.martin@example.fr".to_owned()][..])
    );
    assert_eq!(
        value_of(&released, "urn:oid:2.5.4.42"),
        Some(&["Léa".to_owned()][..])
    );
    let ido = key().opaque_id(&identity, &IdentifierScope::Service, "ent-college");
    assert_eq!(value_of(&released, "IDO"), Some(&[ido][..]));
}

#[test]
fn attributes_without_values_are_omitted() {
    let registry = valid_registry();
    let maths = registry.by_id("resource-maths").unwrap();
    let mut identity = Identity::new("agents", "teacher-1", 0);
    identity.push(attr::PROFILE, "National_ENS");
    let released = maths.release(&identity, &keys()).unwrap();
    assert_eq!(names(&released), ["IDO", "PRO"]);
}

/// A service releasing every GAR name and every canonical name allowed in
/// `release.custom`.
fn release_everything_folder() -> Folder {
    let allowed: Vec<&str> = attr::ALL
        .iter()
        .copied()
        .filter(|name| *name != attr::INE_HASH && *name != attr::AAF_REF)
        .collect();
    let custom: String = allowed
        .iter()
        .map(|name| format!("\"x-{name}\" = \"{name}\"\n"))
        .collect();
    let gar: Vec<String> = sp_registry::GAR_ATTRIBUTES
        .iter()
        .map(|(name, _)| format!("\"{name}\""))
        .collect();
    let folder = Folder::new();
    folder.write(
        "all.toml",
        format!(
            "id = \"all\"\ndisplay_name = \"Tout\"\nkind = \"ent\"\n[saml]\nentity_id = \"https://all.example.fr\"\nacs = [{{ url = \"https://all.example.fr/acs\", binding = \"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" }}]\nrequire_signed_authn_requests = false\n[release]\nattributes = [{}]\n[release.custom]\n{custom}",
            gar.join(", ")
        ),
    );
    folder
}

#[test]
fn neither_the_ine_hash_nor_the_subject_nor_the_aaf_id_is_ever_released() {
    let subject = "96hexsubject0123456789abcdef";
    let identity = pupil(subject, "0254222D", "4A##Quatrième A");
    let aaf_ref = identity.first(attr::AAF_REF).unwrap().to_owned();
    let everything = release_everything_folder().load().unwrap();
    let registry = valid_registry();
    let services = registry.services().chain(everything.services());
    let mut checked = 0;
    for service in services {
        let released = service.release(&identity, &keys()).unwrap();
        let (name_id, _) = service.name_id(&identity, &keys()).unwrap();
        for value in released
            .iter()
            .flat_map(|a| a.values.iter())
            .chain([&name_id])
        {
            assert!(!value.contains(INE_HASH), "{}: {value}", service.id);
            assert!(!value.contains(subject), "{}: {value}", service.id);
            assert!(
                !value.contains("1234567"),
                "{}: {value} ({aaf_ref})",
                service.id
            );
            checked += 1;
        }
    }
    // the release-everything service alone releases 24 values
    assert!(checked > 24, "only {checked} values checked");
}

#[test]
fn ido_is_stable_across_schools_for_the_same_user() {
    let registry = valid_registry();
    let ent = registry.by_id("ent-college").unwrap();
    // Same AAF person, two accounts, two schools, two years.
    let in_college = pupil("subject-2024", "0254222D", "4A##Quatrième A");
    let mut in_lycee = pupil("subject-2025", "0750001U", "2B##Seconde B");
    in_lycee.idp = "educonnect-pr4".into();
    let a = ent.release(&in_college, &keys()).unwrap();
    let b = ent.release(&in_lycee, &keys()).unwrap();
    assert!(value_of(&a, "IDO").is_some());
    assert_eq!(value_of(&a, "IDO"), value_of(&b, "IDO"));
    // Positive control that the identities differ in what they release otherwise.
    assert_ne!(value_of(&a, "UAI"), value_of(&b, "UAI"));
}

#[test]
fn ido_differs_across_services_and_is_shared_within_a_family() {
    let registry = valid_registry();
    let identity = pupil("subject-1", "0254222D", "4A##Quatrième A");
    let ido = |id: &str| {
        let released = registry
            .by_id(id)
            .unwrap()
            .release(&identity, &keys())
            .unwrap();
        value_of(&released, "IDO").unwrap()[0].clone()
    };
    assert_eq!(ido("resource-maths"), ido("resource-physique"));
    assert_ne!(ido("resource-maths"), ido("resource-histoire"));
    assert_ne!(ido("ent-college"), ido("resource-histoire"));
    assert_ne!(ido("ent-college"), ido("resource-maths"));
}

#[test]
fn ido_differs_between_users() {
    let registry = valid_registry();
    let histoire = registry.by_id("resource-histoire").unwrap();
    let lea = pupil("subject-1", "0254222D", "4A##Quatrième A");
    let mut paul = pupil("subject-2", "0254222D", "4A##Quatrième A");
    paul.attributes
        .insert(attr::AAF_REF.into(), vec!["ac-rennes|7654321".into()]);
    let a = histoire.release(&lea, &keys()).unwrap();
    let b = histoire.release(&paul, &keys()).unwrap();
    assert_ne!(value_of(&a, "IDO"), value_of(&b, "IDO"));
}

#[test]
fn persistent_name_id_is_the_opaque_id() {
    let registry = valid_registry();
    let maths = registry.by_id("resource-maths").unwrap();
    let identity = pupil("subject-1", "0254222D", "4A##Quatrième A");
    let (value, format) = maths.name_id(&identity, &keys()).unwrap();
    assert_eq!(
        format,
        "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    );
    let released = maths.release(&identity, &keys()).unwrap();
    assert_eq!(value_of(&released, "IDO"), Some(&[value.clone()][..]));
    assert_eq!(maths.name_id(&identity, &keys()).unwrap().0, value);
}

#[test]
fn transient_name_id_is_fresh_each_time() {
    let registry = valid_registry();
    let ent = registry.by_id("ent-college").unwrap();
    let identity = pupil("subject-1", "0254222D", "4A##Quatrième A");
    let (first, format) = ent.name_id(&identity, &keys()).unwrap();
    let (second, _) = ent.name_id(&identity, &keys()).unwrap();
    assert_eq!(
        format,
        "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
    );
    assert_ne!(first, second);
    // 128 random bits: "_" and 32 hex characters
    assert_eq!(first.len(), 33);
    let ido = key().opaque_id(&identity, &IdentifierScope::Service, "ent-college");
    assert_ne!(first, ido);
}
