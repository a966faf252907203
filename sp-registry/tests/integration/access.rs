//! Profile restrictions, compared case-insensitively.

use sp_registry::AccessDenied;
use sso_core::{Identity, Profile};

use crate::common::{valid_registry, with_profile};

#[test]
fn allowed_profile_is_accepted_and_another_refused() {
    let registry = valid_registry();
    let maths = registry.by_id("resource-maths").unwrap();
    assert_eq!(maths.check_access(&with_profile("National_ELV")), Ok(()));
    assert_eq!(maths.check_access(&with_profile("National_ENS")), Ok(()));
    assert_eq!(
        maths.check_access(&with_profile("National_TUT")),
        Err(AccessDenied::ProfileNotAllowed {
            service: "resource-maths".into(),
            allowed: vec![Profile::Elv, Profile::Ens],
            found: vec![Profile::Tut],
        })
    );
}

#[test]
fn profiles_compare_case_insensitively() {
    let registry = valid_registry();
    // the identity carries GAR's lower-case spelling
    let maths = registry.by_id("resource-maths").unwrap();
    assert_eq!(maths.check_access(&with_profile("National_elv")), Ok(()));
    // the service file spells it "national_doc"
    let histoire = registry.by_id("resource-histoire").unwrap();
    assert_eq!(histoire.check_access(&with_profile("NATIONAL_DOC")), Ok(()));
    assert!(
        histoire
            .check_access(&with_profile("National_ENS"))
            .is_err()
    );
}

#[test]
fn one_allowed_profile_among_several_is_enough() {
    let registry = valid_registry();
    let maths = registry.by_id("resource-maths").unwrap();
    let mut identity = with_profile("National_TUT");
    identity.push(sso_core::attr::PROFILE, "National_ENS");
    assert_eq!(maths.check_access(&identity), Ok(()));
}

#[test]
fn restricted_service_refuses_an_identity_without_profile() {
    let registry = valid_registry();
    let maths = registry.by_id("resource-maths").unwrap();
    let mut unknown = with_profile("Nationale_XYZ");
    assert!(matches!(
        maths.check_access(&unknown),
        Err(AccessDenied::NoProfile { .. })
    ));
    unknown.push(sso_core::attr::PROFILE, "National_ELV");
    assert_eq!(maths.check_access(&unknown), Ok(()));
}

#[test]
fn unrestricted_service_accepts_everyone() {
    let registry = valid_registry();
    let ent = registry.by_id("ent-college").unwrap();
    assert_eq!(ent.check_access(&with_profile("National_TUT")), Ok(()));
    assert_eq!(
        ent.check_access(&Identity::new("local", "guest", 0)),
        Ok(())
    );
}
