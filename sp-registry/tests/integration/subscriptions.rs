//! Subscriptions: the access decision (with, without, expired, not yet
//! valid, public not covered, INDIV assigned or not, several schools) and
//! the validation of subscriptions files against the registry, each refusal
//! next to its positive control.

use chrono::NaiveDate;
use sp_registry::subscription::{
    Assignment, Public, Subscription, SubscriptionError, SubscriptionRefusal, decide, parse_file,
};
use sso_core::{Identity, attr};

use crate::common::{pupil, valid_registry};

const MATHS: &str = "ark:/99999/r1";
const COLLEGE: &str = "0359991V";
const LYCEE: &str = "0359992W";

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, d).unwrap()
}

fn subscription(id: &str, uai: &str, public: &[Public]) -> Subscription {
    Subscription {
        id: id.to_owned(),
        resource_id: MATHS.to_owned(),
        uai: uai.to_owned(),
        valid_from: day(9, 1),
        valid_until: day(12, 31),
        assignment: Assignment::School,
        assigned: Vec::new(),
        public: public.to_vec(),
        licences: None,
        licences_pupils: None,
        licences_teachers: None,
        licences_documentalists: None,
        licences_other_staff: None,
    }
}

fn teacher(uai: &str, aaf_ref: &str) -> Identity {
    let mut identity = Identity::new("agents", "t", 0);
    identity.push(attr::PROFILE, "National_ENS");
    identity.push(attr::UAI, uai);
    identity.push(attr::AAF_REF, aaf_ref);
    identity
}

#[test]
fn a_valid_school_subscription_covering_the_profile_opens_the_resource() {
    let subs = [subscription("A1", COLLEGE, &[Public::Pupils])];
    let louis = pupil("s", COLLEGE, "6A##6e A");
    assert_eq!(decide(&subs, &louis, MATHS, day(10, 1)).unwrap().id, "A1");
    // Another school's subscription does not count.
    let other = pupil("s", LYCEE, "2GT1##2nde");
    assert!(matches!(
        decide(&subs, &other, MATHS, day(10, 1)),
        Err(SubscriptionRefusal::NoSubscription { .. })
    ));
    // Another resource's subscription does not count either.
    assert!(matches!(
        decide(&subs, &louis, "ark:/99999/r2", day(10, 1)),
        Err(SubscriptionRefusal::NoSubscription { .. })
    ));
}

#[test]
fn validity_bounds_are_inclusive_and_enforced() {
    let subs = [subscription("A1", COLLEGE, &[Public::Pupils])];
    let louis = pupil("s", COLLEGE, "6A##6e A");
    assert!(decide(&subs, &louis, MATHS, day(9, 1)).is_ok());
    assert!(decide(&subs, &louis, MATHS, day(12, 31)).is_ok());
    for today in [day(8, 31), NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()] {
        assert_eq!(
            decide(&subs, &louis, MATHS, today),
            Err(SubscriptionRefusal::NotValidToday {
                resource: MATHS.to_owned(),
                today
            })
        );
    }
}

#[test]
fn the_public_must_cover_the_profile_and_parents_are_never_covered() {
    let subs = [subscription("A1", COLLEGE, &[Public::Teachers])];
    let louis = pupil("s", COLLEGE, "6A##6e A");
    assert_eq!(
        decide(&subs, &louis, MATHS, day(10, 1))
            .unwrap_err()
            .reason(),
        "profile_not_covered"
    );
    assert!(decide(&subs, &teacher(COLLEGE, "AC|P1"), MATHS, day(10, 1)).is_ok());
    let all = [subscription(
        "A2",
        COLLEGE,
        &[
            Public::Pupils,
            Public::Teachers,
            Public::Documentalists,
            Public::OtherStaff,
        ],
    )];
    let mut parent = Identity::new("educonnect", "p", 0);
    parent.push(attr::PROFILE, "National_TUT");
    parent.push(attr::UAI, COLLEGE);
    assert!(matches!(
        decide(&all, &parent, MATHS, day(10, 1)),
        Err(SubscriptionRefusal::ProfileNotCovered { .. })
    ));
    let mut director = Identity::new("agents", "d", 0);
    director.push(attr::PROFILE, "National_DIR");
    director.push(attr::UAI, COLLEGE);
    assert!(
        decide(&all, &director, MATHS, day(10, 1)).is_ok(),
        "AUTRE PERSONNEL"
    );
}

#[test]
fn an_individual_subscription_opens_only_for_the_assigned_users() {
    let mut indiv = subscription("I1", COLLEGE, &[Public::Teachers]);
    indiv.assignment = Assignment::Individual;
    indiv.assigned = vec!["AC-RENNES|P1".to_owned()];
    let subs = [indiv];
    assert!(decide(&subs, &teacher(COLLEGE, "AC-RENNES|P1"), MATHS, day(10, 1)).is_ok());
    assert_eq!(
        decide(&subs, &teacher(COLLEGE, "AC-RENNES|P2"), MATHS, day(10, 1)),
        Err(SubscriptionRefusal::NotAssigned {
            resource: MATHS.to_owned()
        })
    );
    // A school-wide subscription beside it opens for everyone it covers.
    let mut both = subs.to_vec();
    both.push(subscription("A1", COLLEGE, &[Public::Teachers]));
    assert_eq!(
        decide(&both, &teacher(COLLEGE, "AC-RENNES|P2"), MATHS, day(10, 1))
            .unwrap()
            .id,
        "A1"
    );
}

#[test]
fn a_user_of_two_schools_is_covered_by_either() {
    let subs = [subscription("L1", LYCEE, &[Public::Teachers])];
    let mut teacher = teacher(COLLEGE, "AC|P1");
    assert!(decide(&subs, &teacher, MATHS, day(10, 1)).is_err());
    teacher.push(attr::UAI, LYCEE);
    assert!(decide(&subs, &teacher, MATHS, day(10, 1)).is_ok());
}

const GOOD: &str = r#"{"abonnements": [
  {"idAbonnement": "A1", "idRessource": "ark:/99999/r1", "uaiEtab": "0359991V",
   "debutValidite": "2026-09-01", "finValidite": "2027-08-31",
   "typeAffectation": "ETABL", "publicCible": ["ELEVE", "ENSEIGNANT"], "nbLicenceGlobale": 500},
  {"idAbonnement": "I1", "idRessource": "ark:/99999/r2", "uaiEtab": "0359992W",
   "debutValidite": "2026-09-01", "finValidite": "2027-08-31",
   "typeAffectation": "INDIV", "affectations": ["AC-RENNES|P1"], "publicCible": ["ENSEIGNANT"]}
]}"#;

fn problems(json: &str) -> Vec<SubscriptionError> {
    parse_file(json, &valid_registry()).unwrap_err()
}

fn field_problem(json: &str) -> (usize, &'static str, String) {
    match problems(json).as_slice() {
        [
            SubscriptionError::Field {
                index,
                field,
                reason,
                ..
            },
        ] => (*index, *field, reason.clone()),
        other => panic!("expected one field problem, got {other:?}"),
    }
}

#[test]
fn a_valid_file_is_read_with_the_gar_field_names() {
    let subs = parse_file(GOOD, &valid_registry()).unwrap();
    assert_eq!(subs.len(), 2);
    assert_eq!(subs[0].licences, Some(500));
    assert_eq!(subs[1].assignment, Assignment::Individual);
    let json = serde_json::to_string(&subs[1]).unwrap();
    assert!(json.contains("\"typeAffectation\":\"INDIV\""), "{json}");
    assert!(json.contains("\"publicCible\":[\"ENSEIGNANT\"]"), "{json}");
}

#[test]
fn each_bad_entry_is_reported_with_its_field_and_nothing_is_accepted() {
    let cases = [
        ("ark:/99999/r1", "ark:/99999/unknown", "idRessource"),
        ("\"0359991V\"", "\"0359991A\"", "uaiEtab"),
        (
            "\"finValidite\": \"2027-08-31\",\n   \"typeAffectation\": \"ETABL\"",
            "\"finValidite\": \"2026-08-31\",\n   \"typeAffectation\": \"ETABL\"",
            "finValidite",
        ),
        ("[\"ELEVE\", \"ENSEIGNANT\"]", "[]", "publicCible"),
        (
            "\"idAbonnement\": \"A1\"",
            "\"idAbonnement\": \"A 1\"",
            "idAbonnement",
        ),
        ("\"affectations\": [\"AC-RENNES|P1\"], ", "", "affectations"),
        (
            "\"affectations\": [\"AC-RENNES|P1\"]",
            "\"affectations\": [\"P1\"]",
            "affectations",
        ),
    ];
    for (from, to, field) in cases {
        let bad = GOOD.replacen(from, to, 1);
        assert_ne!(bad, GOOD, "{from}");
        let (_, found, reason) = field_problem(&bad);
        assert_eq!(found, field, "{reason}");
    }
    let twice = GOOD.replace("\"I1\"", "\"A1\"");
    let (index, field, _) = field_problem(&twice);
    assert_eq!((index, field), (2, "idAbonnement"));
}

#[test]
fn malformed_json_and_unknown_fields_are_refused_with_their_place() {
    let truncated = &GOOD[..GOOD.len() - 10];
    assert!(matches!(
        problems(truncated).as_slice(),
        [SubscriptionError::Syntax { .. }]
    ));
    let unknown = GOOD.replacen("\"nbLicenceGlobale\"", "\"nbLicences\"", 1);
    match problems(&unknown).as_slice() {
        [SubscriptionError::Syntax { line, message, .. }] => {
            assert_eq!(*line, 4);
            assert!(message.contains("nbLicences"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let bad_type = GOOD.replacen("\"ETABL\"", "\"ECOLE\"", 1);
    assert!(matches!(
        problems(&bad_type).as_slice(),
        [SubscriptionError::Syntax { .. }]
    ));
}
