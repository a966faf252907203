//! The example registry loads whole, and lookups by id and entity id.

use std::sync::Arc;

use sp_registry::{IdentifierScope, Registry, ServiceKind};

use crate::common::{fixtures, valid_registry};

#[test]
fn example_folder_loads_every_service() {
    let registry = valid_registry();
    let ids: Vec<&str> = registry.services().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "ent-college",
            "resource-histoire",
            "resource-maths",
            "resource-physique"
        ]
    );
}

#[test]
fn lookups() {
    let registry = valid_registry();
    let ent = registry
        .by_entity_id("https://ent.example.fr/saml/sp")
        .unwrap();
    assert_eq!(ent.id, "ent-college");
    assert_eq!(ent.kind, ServiceKind::Ent);
    assert_eq!(ent.display_name, "ENT du collège Jean Moulin");
    assert_eq!(ent.source_file, fixtures().join("valid/ent-college.toml"));
    assert_eq!(ent.saml.as_ref().unwrap().signing_certs.len(), 1);
    assert!(ent.saml.as_ref().unwrap().sign_response);
    assert_eq!(ent.saml.as_ref().unwrap().assertion_lifetime.as_secs(), 120);
    assert_eq!(ent.saml.as_ref().unwrap().slo.len(), 1);
    assert!(
        registry
            .by_entity_id("https://ent.example.fr/saml/sp/")
            .is_none()
    );
    assert!(registry.by_id("ent-college").is_some());
    assert!(registry.by_id("absent").is_none());

    let maths = registry.by_id("resource-maths").unwrap();
    assert_eq!(maths.kind, ServiceKind::Resource);
    assert_eq!(maths.publisher.as_deref(), Some("Éditeur démo"));
    assert_eq!(maths.resource_id.as_deref(), Some("ark:/99999/r1"));
    assert_eq!(
        maths.identifier,
        IdentifierScope::Family("editeur-demo".into())
    );
    assert!(!maths.saml.as_ref().unwrap().require_signed_authn_requests);
    assert_eq!(
        maths.saml.as_ref().unwrap().assertion_lifetime.as_secs(),
        300
    );
}

#[test]
fn registry_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Registry>();
    let shared = Arc::new(valid_registry());
    let worker = {
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || shared.by_id("resource-maths").map(|s| s.id.clone()))
    };
    assert_eq!(worker.join().unwrap().as_deref(), Some("resource-maths"));
}
