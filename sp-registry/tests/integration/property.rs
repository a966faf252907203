//! Property: for random service definitions (written as files and loaded
//! like any other) and random users, what leaves the gateway is always a
//! subset of what the definition allows: only the configured names, each
//! with exactly the values of its source, and never the INE hash or the AAF
//! reference, whatever the user carries. A fixed-seed generator makes every
//! run check the same 4,000 cases.

use sp_registry::{AttributeSource, GAR_ATTRIBUTES, ReleasedAttribute};
use sso_core::{Identity, attr};

use crate::common::{Folder, key};

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
    let text = format!(
        "id = \"svc-{n}\"\ndisplay_name = \"Service {n}\"\nkind = \"ent\"\n\n[saml]\nentity_id = \"https://svc{n}.example.fr/sp\"\nacs = [{{ url = \"https://svc{n}.example.fr/acs\", binding = \"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" }}]\nrequire_signed_authn_requests = false\n\n{scope}[release]\nattributes = [{}]\n[release.custom]\n{custom}",
        gar.join(", ")
    );
    (text, names)
}

fn random_identity(rng: &mut Rng, n: usize) -> Identity {
    let mut identity = Identity::new("educonnect", format!("subject-{n}"), 0);
    for name in attr::ALL {
        let values = rng.below(3);
        for v in 0..values {
            identity.push(name, format!("{name}-value-{n}-{v}"));
        }
    }
    identity
}

#[test]
fn released_attributes_are_always_a_subset_of_the_definition() {
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    let key = key();
    let mut checked = 0;
    let mut released_total = 0;
    for n in 0..80 {
        let folder = Folder::new();
        let (text, allowed) = random_definition(&mut rng, n);
        folder.write("svc.toml", &text);
        let registry = folder.load().unwrap_or_else(|e| panic!("{text}\n{e}"));
        let service = registry.by_id(&format!("svc-{n}")).unwrap();
        for u in 0..50 {
            let identity = random_identity(&mut rng, n * 100 + u);
            let released: Vec<ReleasedAttribute> = service.release(&identity, &key);
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
                    for value in identity.values(forbidden) {
                        assert!(
                            !attribute.values.contains(value),
                            "{forbidden} leaked through {}",
                            attribute.name
                        );
                    }
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 4000);
    assert!(
        released_total > 4000,
        "the cases release something: {released_total}"
    );
}
