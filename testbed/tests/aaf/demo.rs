//! The demo population of `sso_testbed::people` in the export, with exactly
//! the ids, names, UAIs and e-mails the simulated IdPs send.

use std::collections::HashMap;

use sso_testbed::aaf::{Category, write_complete};
use sso_testbed::people::{self, Degree, Role};

use crate::common::{Rec, records, spec};

fn index(recs: Vec<Rec>) -> HashMap<String, Rec> {
    recs.into_iter().map(|r| (r.id.clone(), r)).collect()
}

fn check_degree(degree: Degree) {
    let mut spec = spec(degree);
    spec.include_demo_population = true;
    let (sn, given) = match degree {
        Degree::First => ("ENTPersonNom", "ENTPersonPrenom"),
        Degree::Second => ("sn", "givenName"),
    };
    let dir = tempfile::tempdir().unwrap();
    let set = write_complete(&spec, dir.path()).unwrap();
    let schools = index(records(&set, Category::EtabEducNat));
    let pupils = index(records(&set, Category::Eleve));
    let guardians = index(records(&set, Category::PersRelEleve));
    let staff = records(&set, Category::PersEducNat);
    let degree_of = |uai: &str| people::school(uai).unwrap().degree;

    for school in people::schools().iter().filter(|s| s.degree == degree) {
        let r = &schools[&format!("S{}", &school.uai[..7])];
        assert_eq!(r.first("ENTStructureUAI").as_deref(), Some(school.uai));
        assert_eq!(
            r.first("ENTStructureNomCourant").as_deref(),
            Some(school.name)
        );
    }
    let mut seen = 0;
    for person in people::all() {
        match &person.role {
            Role::Pupil(p) if degree_of(p.school) == degree => {
                // What the simulated ÉduConnect sends: {AAF}académie||join id.
                let ref_id = person.fr_edu_ct_ref_id();
                let rest = ref_id.strip_prefix("{AAF}").unwrap();
                let fields: Vec<&str> = rest.split('|').collect();
                assert_eq!(fields[0], spec.academie);
                let r = &pupils[fields[2]];
                assert_eq!(
                    r.first("ENTPersonJointure").as_deref(),
                    Some(person.jointure)
                );
                assert_eq!(r.first(sn).as_deref(), Some(person.family_name));
                assert_eq!(r.first(given).as_deref(), Some(person.given_name));
                assert_eq!(r.first("ENTEleveINE").as_deref(), Some(p.ine));
                assert_eq!(r.first("ENTEleveMEFSTAT4").as_deref(), Some(p.mef));
                let structure = format!("S{}", &p.school[..7]);
                assert_eq!(r.first("ENTPersonStructRattach"), Some(structure.clone()));
                let class = p.class.split("##").next().unwrap();
                assert_eq!(
                    r.values("ENTEleveClasses"),
                    [format!("{structure}${class}")]
                );
                let y_m_d: Vec<&str> = person.birth_date.split('-').collect();
                assert_eq!(
                    r.first("ENTPersonDateNaissance"),
                    Some(format!("{}/{}/{}", y_m_d[2], y_m_d[1], y_m_d[0]))
                );
                seen += 1;
            }
            Role::Parent(parent) => {
                let children_here: Vec<_> = person
                    .children()
                    .into_iter()
                    .filter(|c| matches!(&c.role, Role::Pupil(p) if degree_of(p.school) == degree))
                    .collect();
                if children_here.is_empty() {
                    assert!(!guardians.contains_key(person.jointure));
                    continue;
                }
                let r = &guardians[person.jointure];
                assert_eq!(r.first(sn).as_deref(), Some(person.family_name));
                for child in children_here {
                    let links = pupils[child.jointure].values("ENTElevePersRelEleve");
                    let link = links
                        .iter()
                        .find(|l| l.starts_with(&format!("{}$", person.jointure)))
                        .unwrap();
                    assert_eq!(link.split('$').nth(3), Some("1"), "legal guardian");
                }
                assert!(!parent.children.is_empty());
                seen += 1;
            }
            Role::Staff(s) if degree_of(s.structures[0]) == degree => {
                // What the simulated agent IdP sends: the e-mail address.
                let matches: Vec<&Rec> = staff
                    .iter()
                    .filter(|r| r.first("mail").as_deref() == Some(s.email))
                    .collect();
                assert_eq!(matches.len(), 1, "{}", s.email);
                let r = matches[0];
                assert_eq!(r.id, person.jointure);
                assert_eq!(r.first(sn).as_deref(), Some(person.family_name));
                let functions = r.values("ENTPersonFonctions");
                assert_eq!(functions.len(), s.structures.len());
                for (f, uai) in functions.iter().zip(s.structures) {
                    assert!(
                        f.starts_with(&format!("S{}${}$", &uai[..7], s.function.as_str())),
                        "{f}"
                    );
                }
                seen += 1;
            }
            Role::Pupil(_) | Role::Staff(_) => {}
        }
    }
    assert!(seen >= 7);
    let header = std::fs::read_to_string(set.path(&set.files[0].name)).unwrap();
    assert!(header.contains("<!-- codeAcademieExport : AC-RENNES -->"));
}

#[test]
fn the_second_degree_demo_population_is_exported_exactly() {
    check_degree(Degree::Second);
}

#[test]
fn the_first_degree_demo_population_is_exported_exactly() {
    check_degree(Degree::First);
}

#[test]
fn without_the_flag_no_demo_person_is_exported() {
    let spec = spec(Degree::Second);
    let dir = tempfile::tempdir().unwrap();
    let set = write_complete(&spec, dir.path()).unwrap();
    let ids: Vec<String> = Category::ALL
        .into_iter()
        .flat_map(|c| records(&set, c))
        .map(|r| r.id)
        .collect();
    for person in people::all() {
        assert!(
            !ids.iter().any(|id| id == person.jointure),
            "{}",
            person.login
        );
    }
    for school in people::schools() {
        assert!(!ids.contains(&format!("S{}", &school.uai[..7])));
    }
}
