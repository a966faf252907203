//! The access decision: profiles compared case-insensitively, schools,
//! time-limited grants (the CM2 pupils of the collège's sector, domain
//! reference §5) and the required authentication context.

use std::borrow::Cow;

use chrono::NaiveDate;
use sp_registry::{AccessDenied, Admission, GrantUse, Registry, ServiceDefinition};
use sso_core::{Identity, Profile, Uai, attr};

use crate::common::{Folder, valid_registry, with_profile};

/// The collège.
const COLLEGE: &str = "0351234B";
/// Two écoles of its sector, in the liaison grant.
const ECOLE_1: &str = "0350001L";
const ECOLE_2: &str = "0350002M";
/// An école outside every grant.
const OTHER_ECOLE: &str = "0350003N";

const TIME_SYNC: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken";
const PASSWORD: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";

/// The collège's ENT, opened to the CM2 pupils of two écoles for a school
/// year (seen as pupils of the collège), and to every pupil and teacher of
/// the second école for September 2026.
const LIAISON: &str = r#"id = "ent-liaison"
display_name = "ENT du collège"
kind = "ent"

[saml]
entity_id = "https://ent-liaison.example.fr/sp"
acs = [{ url = "https://ent-liaison.example.fr/acs", binding = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" }]
require_signed_authn_requests = false

[release]
attributes = ["IDO", "UAI", "PRO"]

[access]
profiles = ["National_ELV", "National_ENS"]
schools = ["0351234B"]

[[access.grants]]
name = "liaison-cm2-6e"
label = "Liaison CM2-6e du secteur"
schools = ["0350001L", "0350002M"]
profiles = ["National_ELV"]
levels = ["1115", "CM2"]
valid_from = 2026-09-01
valid_until = 2027-08-31
as_school = "0351234B"

[[access.grants]]
name = "visite-ecole-2"
schools = ["0350002M"]
valid_from = 2026-09-01
valid_until = 2026-09-30
"#;

/// A resource that requires a one-time-password login.
const OTP: &str = r#"id = "admin-notes"
display_name = "Notes (administration)"
kind = "ent"

[saml]
entity_id = "https://notes.example.fr/sp"
acs = [{ url = "https://notes.example.fr/acs", binding = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" }]
require_signed_authn_requests = false

[access]
profiles = ["National_ENS"]
authn_contexts = ["urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken", "urn:example:ac:otp"]
"#;

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap()
}

/// A day inside the liaison grant, outside the visit.
fn march() -> NaiveDate {
    date(2027, 3, 15)
}

fn load(text: &str) -> Registry {
    let folder = Folder::new();
    folder.write("svc.toml", text);
    folder.load().unwrap()
}

fn liaison(registry: &Registry) -> &ServiceDefinition {
    registry.by_id("ent-liaison").unwrap()
}

/// A user of the school `uai` with one profile and one level.
fn user(uai: &str, profile: &str, level: &str) -> Identity {
    let mut identity = with_profile(profile);
    identity.push(attr::UAI, uai);
    identity.push(attr::LEVEL, level);
    identity.push(attr::SURNAME, "Martin");
    identity
}

fn liaison_grant() -> Admission {
    Admission::Granted(GrantUse {
        name: "liaison-cm2-6e".into(),
        as_school: Some(Uai::parse(COLLEGE).unwrap()),
    })
}

fn not_valid_on(today: NaiveDate) -> AccessDenied {
    AccessDenied::GrantNotValidToday {
        service: "ent-liaison".into(),
        grant: "liaison-cm2-6e".into(),
        valid_from: date(2026, 9, 1),
        valid_until: date(2027, 8, 31),
        today,
    }
}

#[test]
fn allowed_profile_is_accepted_and_another_refused() {
    let registry = valid_registry();
    let maths = registry.by_id("resource-maths").unwrap();
    assert_eq!(
        maths.admit(&with_profile("National_ELV"), march()),
        Ok(Admission::Regular)
    );
    assert_eq!(
        maths.admit(&with_profile("National_ENS"), march()),
        Ok(Admission::Regular)
    );
    assert_eq!(
        maths.admit(&with_profile("National_TUT"), march()),
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
    assert!(maths.admit(&with_profile("National_elv"), march()).is_ok());
    // the service file spells it "national_doc"
    let histoire = registry.by_id("resource-histoire").unwrap();
    assert!(
        histoire
            .admit(&with_profile("NATIONAL_DOC"), march())
            .is_ok()
    );
    assert!(
        histoire
            .admit(&with_profile("National_ENS"), march())
            .is_err()
    );
}

#[test]
fn one_allowed_profile_among_several_is_enough() {
    let registry = valid_registry();
    let maths = registry.by_id("resource-maths").unwrap();
    let mut identity = with_profile("National_TUT");
    assert!(maths.admit(&identity, march()).is_err());
    identity.push(attr::PROFILE, "National_ENS");
    assert_eq!(maths.admit(&identity, march()), Ok(Admission::Regular));
}

#[test]
fn restricted_service_refuses_an_identity_without_profile() {
    let registry = valid_registry();
    let maths = registry.by_id("resource-maths").unwrap();
    let mut unknown = with_profile("Nationale_XYZ");
    assert!(matches!(
        maths.admit(&unknown, march()),
        Err(AccessDenied::NoProfile { .. })
    ));
    unknown.push(attr::PROFILE, "National_ELV");
    assert_eq!(maths.admit(&unknown, march()), Ok(Admission::Regular));
}

#[test]
fn unrestricted_service_accepts_everyone() {
    let registry = valid_registry();
    let ent = registry.by_id("ent-college").unwrap();
    assert_eq!(
        ent.admit(&with_profile("National_TUT"), march()),
        Ok(Admission::Regular)
    );
    assert_eq!(
        ent.admit(&Identity::new("local", "guest", 0), march()),
        Ok(Admission::Regular)
    );
    assert_eq!(ent.required_authn_contexts(), None);
}

#[test]
fn a_college_pupil_is_admitted_regularly_and_its_parent_refused_for_the_profile() {
    let registry = load(LIAISON);
    let ent = liaison(&registry);
    let pupil = user(COLLEGE, "National_ELV", "2111");
    assert_eq!(ent.admit(&pupil, march()), Ok(Admission::Regular));
    // lenient spelling of the identity's UAI, as upstream sends it
    let lower = user(" 0351234b", "National_ELV", "2111");
    assert_eq!(ent.admit(&lower, march()), Ok(Admission::Regular));
    assert_eq!(
        ent.admit(&user(COLLEGE, "National_TUT", ""), march()),
        Err(AccessDenied::ProfileNotAllowed {
            service: "ent-liaison".into(),
            allowed: vec![Profile::Elv, Profile::Ens],
            found: vec![Profile::Tut],
        })
    );
}

#[test]
fn a_cm2_pupil_of_a_sector_ecole_is_admitted_by_the_grant_inside_its_window() {
    let registry = load(LIAISON);
    let ent = liaison(&registry);
    for (school, level) in [
        (ECOLE_1, "CM2"),
        (ECOLE_1, "cm2"),
        (ECOLE_1, "1115"),
        (ECOLE_2, "CM2"),
    ] {
        let pupil = user(school, "National_ELV", level);
        assert_eq!(ent.admit(&pupil, march()), Ok(liaison_grant()), "{level}");
    }
    let pupil = user(ECOLE_1, "National_ELV", "CM2");
    // both bounds are inclusive
    assert_eq!(ent.admit(&pupil, date(2026, 9, 1)), Ok(liaison_grant()));
    assert_eq!(ent.admit(&pupil, date(2027, 8, 31)), Ok(liaison_grant()));
}

#[test]
fn the_grant_refuses_outside_its_window() {
    let registry = load(LIAISON);
    let ent = liaison(&registry);
    let pupil = user(ECOLE_1, "National_ELV", "CM2");
    assert_eq!(ent.admit(&pupil, march()), Ok(liaison_grant()));
    let after = date(2027, 9, 1);
    assert_eq!(ent.admit(&pupil, after), Err(not_valid_on(after)));
    let before = date(2026, 8, 31);
    assert_eq!(ent.admit(&pupil, before), Err(not_valid_on(before)));
}

#[test]
fn the_grant_refuses_another_level() {
    let registry = load(LIAISON);
    let ent = liaison(&registry);
    assert!(
        ent.admit(&user(ECOLE_1, "National_ELV", "CM2"), march())
            .is_ok()
    );
    assert_eq!(
        ent.admit(&user(ECOLE_1, "National_ELV", "CM1"), march()),
        Err(AccessDenied::LevelNotAllowed {
            service: "ent-liaison".into(),
            grant: "liaison-cm2-6e".into(),
            allowed: vec!["1115".into(), "CM2".into()],
            found: vec!["CM1".into()],
        })
    );
    // a pupil without a level is refused too
    let mut no_level = with_profile("National_ELV");
    no_level.push(attr::UAI, ECOLE_1);
    assert!(matches!(
        ent.admit(&no_level, march()),
        Err(AccessDenied::LevelNotAllowed { found, .. }) if found.is_empty()
    ));
}

#[test]
fn the_grant_refuses_an_ecole_it_does_not_name() {
    let registry = load(LIAISON);
    let ent = liaison(&registry);
    assert!(
        ent.admit(&user(ECOLE_1, "National_ELV", "CM2"), march())
            .is_ok()
    );
    assert_eq!(
        ent.admit(&user(OTHER_ECOLE, "National_ELV", "CM2"), march()),
        Err(AccessDenied::SchoolNotAllowed {
            service: "ent-liaison".into(),
            allowed: vec![COLLEGE.into()],
            found: vec![OTHER_ECOLE.into()],
        })
    );
    // a user without any school
    assert!(matches!(
        ent.admit(&with_profile("National_ELV"), march()),
        Err(AccessDenied::SchoolNotAllowed { found, .. }) if found.is_empty()
    ));
}

#[test]
fn the_grant_refuses_a_profile_it_does_not_name() {
    let registry = load(LIAISON);
    let ent = liaison(&registry);
    assert!(
        ent.admit(&user(ECOLE_1, "National_ELV", "CM2"), march())
            .is_ok()
    );
    // the service admits teachers, the grant only pupils
    assert_eq!(
        ent.admit(&user(ECOLE_1, "National_ENS", "CM2"), march()),
        Err(AccessDenied::ProfileNotAllowed {
            service: "ent-liaison".into(),
            allowed: vec![Profile::Elv],
            found: vec![Profile::Ens],
        })
    );
    assert!(matches!(
        ent.admit(&user(ECOLE_1, "Nationale_XYZ", "CM2"), march()),
        Err(AccessDenied::NoProfile { allowed, .. }) if allowed == [Profile::Elv]
    ));
}

#[test]
fn a_grant_without_profiles_takes_the_services_and_grants_apply_in_file_order() {
    let registry = load(LIAISON);
    let ent = liaison(&registry);
    let september = date(2026, 9, 15);
    let visit = Admission::Granted(GrantUse {
        name: "visite-ecole-2".into(),
        as_school: None,
    });
    // a teacher of the second école: the service's profiles apply
    assert_eq!(
        ent.admit(&user(ECOLE_2, "National_ENS", ""), september),
        Ok(visit.clone())
    );
    // a parent is refused by both grants at the profile: the first one's
    // refusal is reported
    assert!(matches!(
        ent.admit(&user(ECOLE_2, "National_TUT", ""), september),
        Err(AccessDenied::ProfileNotAllowed { allowed, .. }) if allowed == [Profile::Elv]
    ));
    // a CM2 pupil of that école matches both grants: the first one wins
    assert_eq!(
        ent.admit(&user(ECOLE_2, "National_ELV", "CM2"), september),
        Ok(liaison_grant())
    );
    // a CE2 pupil matches only the visit
    assert_eq!(
        ent.admit(&user(ECOLE_2, "National_ELV", "CE2"), september),
        Ok(visit)
    );
    // after the visit, its refusal (it got as far as the validity period)
    // wins over the liaison grant's (the level)
    assert!(matches!(
        ent.admit(&user(ECOLE_2, "National_ELV", "CE2"), march()),
        Err(AccessDenied::GrantNotValidToday { grant, .. }) if grant == "visite-ecole-2"
    ));
}

#[test]
fn apply_replaces_the_school_only_for_a_grant_with_as_school() {
    let registry = load(LIAISON);
    let ent = liaison(&registry);

    let pupil = user(ECOLE_1, "National_ELV", "CM2");
    let admission = ent.admit(&pupil, march()).unwrap();
    let seen = admission.apply(&pupil);
    assert!(matches!(seen, Cow::Owned(_)));
    assert_eq!(seen.values(attr::UAI), [COLLEGE]);
    // everything else is untouched
    let mut expected = pupil.clone();
    expected
        .attributes
        .insert(attr::UAI.into(), vec![COLLEGE.into()]);
    assert_eq!(*seen, expected);
    assert_eq!(pupil.values(attr::UAI), [ECOLE_1]);

    let teacher = user(ECOLE_2, "National_ENS", "");
    let admission = ent.admit(&teacher, date(2026, 9, 15)).unwrap();
    let seen = admission.apply(&teacher);
    assert!(matches!(seen, Cow::Borrowed(_)));
    assert_eq!(seen.values(attr::UAI), [ECOLE_2]);

    let college_pupil = user(COLLEGE, "National_ELV", "2111");
    let admission = ent.admit(&college_pupil, march()).unwrap();
    assert!(matches!(admission.apply(&college_pupil), Cow::Borrowed(_)));
}

#[test]
fn authn_context_accepted_when_listed_and_refused_when_absent_or_other() {
    let registry = load(OTP);
    let notes = registry.by_id("admin-notes").unwrap();
    let required = vec![TIME_SYNC.to_owned(), "urn:example:ac:otp".to_owned()];
    assert_eq!(notes.required_authn_contexts(), Some(&required[..]));

    let mut teacher = with_profile("National_ENS");
    teacher.authn_context = Some(TIME_SYNC.into());
    assert_eq!(notes.admit(&teacher, march()), Ok(Admission::Regular));
    teacher.authn_context = Some("urn:example:ac:otp".into());
    assert_eq!(notes.admit(&teacher, march()), Ok(Admission::Regular));

    teacher.authn_context = Some(PASSWORD.into());
    assert_eq!(
        notes.admit(&teacher, march()),
        Err(AccessDenied::AuthnContext {
            service: "admin-notes".into(),
            required: required.clone(),
            found: Some(PASSWORD.into()),
        })
    );
    teacher.authn_context = None;
    assert_eq!(
        notes.admit(&teacher, march()),
        Err(AccessDenied::AuthnContext {
            service: "admin-notes".into(),
            required,
            found: None,
        })
    );
    // checked first: a parent with a password login is asked for a step-up
    let mut parent = with_profile("National_TUT");
    parent.authn_context = Some(PASSWORD.into());
    assert!(matches!(
        notes.admit(&parent, march()),
        Err(AccessDenied::AuthnContext { .. })
    ));
    parent.authn_context = Some(TIME_SYNC.into());
    assert!(matches!(
        notes.admit(&parent, march()),
        Err(AccessDenied::ProfileNotAllowed { .. })
    ));
}

#[test]
fn refusals_read_in_english_with_the_service_named() {
    let registry = load(LIAISON);
    let ent = liaison(&registry);
    let refused = ent
        .admit(&user(OTHER_ECOLE, "National_ELV", "CM2"), march())
        .unwrap_err()
        .to_string();
    assert_eq!(
        refused,
        "service \"ent-liaison\" is restricted to the schools [\"0351234B\"] and no grant covers the user's schools [\"0350003N\"]"
    );
    let expired = not_valid_on(date(2027, 9, 1)).to_string();
    assert_eq!(
        expired,
        "grant \"liaison-cm2-6e\" of service \"ent-liaison\" is valid from 2026-09-01 to 2027-08-31, not on 2027-09-01"
    );
}
