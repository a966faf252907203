//! Property: for random service definitions (written as files and loaded
//! like any other, with random access tables: profiles, schools, grants with
//! or without `as_school`) and random users on random days, what leaves the
//! gateway for an admitted user is always a subset of what the definition
//! allows: only the configured names, each with exactly the values of its
//! source in the identity as the admission presents it (which differs from
//! the user's at most by the `uai` a grant substitutes, one of the service's
//! schools), and never the INE hash or the AAF reference, whatever the user
//! carries. A fixed-seed generator makes every run check the same 4,000
//! cases.

use std::borrow::Cow;

use chrono::NaiveDate;
use sp_registry::{Admission, AttributeSource, GAR_ATTRIBUTES, GrantUse, ReleasedAttribute};
use sso_core::{Identity, attr};

use crate::common::{Folder, keys};

/// Schools of the generated services and users: a collège, two écoles of
/// its sector, another école, and a value that is no UAI at all.
const COLLEGE: &str = "0351234B";
const SCHOOLS: [&str; 5] = [COLLEGE, "0350001L", "0350002M", "0350003N", "not-a-uai"];
const PROFILES: [&str; 4] = [
    "National_ELV",
    "National_ENS",
    "National_TUT",
    "National_DOC",
];
const LEVELS: [&str; 4] = ["CM2", "cm2", "1115", "2111"];

/// xorshift64*: small, deterministic, good enough to pick cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Canonical names a custom release may name (the forbidden ones excluded).
const RELEASABLE: [&str; 13] = [
    attr::SURNAME,
    attr::GIVEN_NAME,
    attr::CIVILITY,
    attr::EMAIL,
    attr::UAI,
    attr::PROFILE,
    attr::AFFILIATION,
    attr::FUNCTION,
    attr::BIRTH_DATE,
    attr::LEVEL,
    attr::CLASSES,
    attr::GROUPS,
    attr::ACADEMIE,
];

fn random_definition(rng: &mut Rng, n: usize) -> (String, Vec<String>) {
    let mut names = Vec::new();
    let mut gar = Vec::new();
    for (name, _) in GAR_ATTRIBUTES {
        if rng.chance(40) {
            gar.push(format!("\"{name}\""));
            names.push((*name).to_owned());
        }
    }
    let mut custom = String::new();
    for (i, canonical) in RELEASABLE.iter().enumerate() {
        if rng.chance(15) {
            let released = format!("urn:custom:{i}");
            custom.push_str(&format!("\"{released}\" = \"{canonical}\"\n"));
            names.push(released);
        }
    }
    let scope = if rng.chance(50) {
        "[identifier]\nscope = \"family\"\nfamily = \"fam\"\n"
    } else {
        ""
    };
    let access = random_access(rng);
    let text = format!(
        "id = \"svc-{n}\"\ndisplay_name = \"Service {n}\"\nkind = \"ent\"\n\n[saml]\nentity_id = \"https://svc{n}.example.fr/sp\"\nacs = [{{ url = \"https://svc{n}.example.fr/acs\", binding = \"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" }}]\nrequire_signed_authn_requests = false\n\n{scope}[release]\nattributes = [{}]\n[release.custom]\n{custom}{access}",
        gar.join(", ")
    );
    (text, names)
}

/// A non-empty random selection of `pool` (its first value when none is
/// drawn), quoted for TOML.
fn some_of(rng: &mut Rng, pool: &[&str], percent: u64) -> String {
    let mut picked: Vec<String> = pool
        .iter()
        .filter(|_| rng.chance(percent))
        .map(|value| format!("\"{value}\""))
        .collect();
    if picked.is_empty() {
        picked.push(format!("\"{}\"", pool[0]));
    }
    picked.join(", ")
}

/// An `[access]` table (or nothing): profiles, the collège as the service's
/// school, and up to two grants to écoles of the sector.
fn random_access(rng: &mut Rng) -> String {
    if rng.chance(20) {
        return String::new();
    }
    let mut access = String::from("\n[access]\n");
    if rng.chance(60) {
        let profiles = some_of(rng, &PROFILES, 40);
        access.push_str(&format!("profiles = [{profiles}]\n"));
    }
    if rng.chance(30) {
        return access;
    }
    access.push_str(&format!("schools = [\"{COLLEGE}\"]\n"));
    for g in 0..rng.below(3) {
        let schools = some_of(rng, &SCHOOLS[1..4], 50);
        access.push_str(&format!(
            "[[access.grants]]\nname = \"grant-{g}\"\nschools = [{schools}]\nvalid_from = 2026-09-01\nvalid_until = 2027-08-31\n"
        ));
        if rng.chance(50) {
            let profiles = some_of(rng, &PROFILES, 40);
            access.push_str(&format!("profiles = [{profiles}]\n"));
        }
        if rng.chance(50) {
            let levels = some_of(rng, &LEVELS[1..], 50);
            access.push_str(&format!("levels = [{levels}]\n"));
        }
        if rng.chance(60) {
            access.push_str(&format!("as_school = \"{COLLEGE}\"\n"));
        }
    }
    access
}

fn random_identity(rng: &mut Rng, n: usize) -> Identity {
    let mut identity = Identity::new("educonnect", format!("subject-{n}"), 0);
    for name in attr::ALL {
        let values = rng.below(3);
        for v in 0..values {
            let value = match *name {
                attr::UAI => pick(rng, &SCHOOLS),
                attr::PROFILE => pick(rng, &PROFILES),
                attr::LEVEL => pick(rng, &LEVELS),
                _ => format!("{name}-value-{n}-{v}"),
            };
            identity.push(name, value);
        }
    }
    identity
}

fn pick(rng: &mut Rng, pool: &[&str]) -> String {
    pool[rng.below(pool.len())].to_owned()
}

/// A day before, at the bounds of, inside or after the grants' window.
fn random_day(rng: &mut Rng) -> NaiveDate {
    let days = [
        (2026, 8, 31),
        (2026, 9, 1),
        (2027, 3, 15),
        (2027, 8, 31),
        (2027, 9, 1),
    ];
    let (y, m, d) = days[rng.below(days.len())];
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The identity the service sees differs from the user's at most by a `uai`
/// replaced by the grant's `as_school`, one of the service's schools.
fn check_presented(
    service: &sp_registry::ServiceDefinition,
    admission: &Admission,
    user: &Identity,
    seen: &Identity,
) {
    let mut expected = user.clone();
    if let Admission::Granted(GrantUse {
        as_school: Some(school),
        ..
    }) = admission
    {
        let schools = service.access.schools.as_ref().unwrap();
        assert!(schools.contains(school), "{school} is not the service's");
        expected
            .attributes
            .insert(attr::UAI.into(), vec![school.as_str().to_owned()]);
    }
    assert_eq!(*seen, expected);
}

#[test]
fn released_attributes_are_always_a_subset_of_the_definition() {
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    let keys = keys();
    let mut checked = 0;
    let mut released_total = 0;
    let (mut refused, mut granted, mut substituted) = (0, 0, 0);
    for n in 0..80 {
        let folder = Folder::new();
        let (text, allowed) = random_definition(&mut rng, n);
        folder.write("svc.toml", &text);
        let registry = folder.load().unwrap_or_else(|e| panic!("{text}\n{e}"));
        let service = registry.by_id(&format!("svc-{n}")).unwrap();
        for u in 0..50 {
            let user = random_identity(&mut rng, n * 100 + u);
            checked += 1;
            let Ok(admission) = service.admit(&user, random_day(&mut rng)) else {
                refused += 1;
                continue;
            };
            let identity = admission.apply(&user);
            check_presented(service, &admission, &user, &identity);
            if let Admission::Granted(grant) = &admission {
                granted += 1;
                if grant.as_school.is_some() {
                    assert!(matches!(identity, Cow::Owned(_)));
                    substituted += 1;
                }
            }
            let released: Vec<ReleasedAttribute> = service.release(&identity, &keys).unwrap();
            released_total += released.len();
            for attribute in &released {
                assert!(
                    allowed.contains(&attribute.name),
                    "{} released but not allowed by\n{text}",
                    attribute.name
                );
                let rule = service
                    .release
                    .rules
                    .iter()
                    .find(|r| r.name == attribute.name)
                    .unwrap();
                match rule.source {
                    AttributeSource::OpaqueId => assert_eq!(attribute.values.len(), 1),
                    AttributeSource::Canonical(source) => {
                        assert_eq!(attribute.values, identity.values(source))
                    }
                }
                for forbidden in [attr::INE_HASH, attr::AAF_REF] {
                    for value in user.values(forbidden) {
                        assert!(
                            !attribute.values.contains(value),
                            "{forbidden} leaked through {}",
                            attribute.name
                        );
                    }
                }
            }
        }
    }
    assert_eq!(checked, 4000);
    // every branch of the decision is exercised
    assert!(refused > 200, "refused: {refused}");
    assert!(granted > 20, "granted: {granted}");
    assert!(substituted > 10, "granted with as_school: {substituted}");
    assert!(
        released_total > 4000,
        "the cases release something: {released_total}"
    );
}
