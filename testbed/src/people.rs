//! The synthetic population of the simulators (domain reference §1, §2, §3).
//!
//! Twenty fictitious people in three schools of one académie: pupils of the
//! 1st and 2nd degree and their parents (who log in through the simulated
//! ÉduConnect), teachers and directors (who log in through the simulated
//! académie agent IdP). Every derived identifier (`FrEduCtId`, INE hash,
//! `FrEduCtRefId`, `FrEduRne` vectors) is computed deterministically from the
//! static data below, so a test and the demo always see the same values.
//!
//! Names, INEs, AAF join ids and e-mail addresses are invented; the UAIs carry
//! a valid check letter but are not meant to designate real schools, and the
//! e-mail domain is under the reserved `.example` top-level domain.

use sha2::{Digest, Sha256, Sha384};
use sso_core::Profile;

use crate::IdpKind;

/// The académie code of the whole population, as in `FrEduCtRefId`.
pub const ACADEMIE: &str = "AC-RENNES";

/// A second académie: Thomas Lefèvre (`parent.lefevre`) also has a child
/// there, so ÉduConnect sends him a second `{AAF}` vector. Its directory is
/// [`other_academie_spec`], generated.
pub const OTHER_ACADEMIE: &str = "AC-NANTES";
/// The login of the parent with children in both académies.
pub const PARENT_IN_TWO_ACADEMIES: &str = "parent.lefevre";

/// The generated 2nd-degree export of [`OTHER_ACADEMIE`] (one collège); its
/// first guardian is Thomas Lefèvre's entry there.
pub fn other_academie_spec(date: chrono::NaiveDate) -> crate::aaf::AafSpec {
    let mut spec = crate::aaf::AafSpec::new(OTHER_ACADEMIE, Degree::Second, date);
    spec.schools = 1;
    spec.pupils_per_school = 12;
    spec.staff_per_school = 6;
    spec.seed = 44;
    spec
}

/// UAI of the école (1st degree).
pub const ECOLE_UAI: &str = "0359990U";
/// UAI of the collège (2nd degree).
pub const COLLEGE_UAI: &str = "0359991V";
/// UAI of the lycée (2nd degree).
pub const LYCEE_UAI: &str = "0359992W";

/// School degree: it decides the ÉduConnect affiliation (`eleve1d`/`eleve2d`,
/// `resp1d`/`resp2d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Degree {
    /// 1st degree (école maternelle or élémentaire).
    First,
    /// 2nd degree (collège, lycée).
    Second,
}

/// A school of the population.
#[derive(Debug)]
pub struct School {
    /// Its UAI (7 digits and a check letter).
    pub uai: &'static str,
    /// Its usual name.
    pub name: &'static str,
    /// 1st or 2nd degree.
    pub degree: Degree,
    /// The `FrEduRne` fields after the UAI: type, contract, two codes, category
    /// symbol and nature code (`UAJ$PU$N$T3$CLG$340` for a public collège).
    pub rne_fields: &'static str,
}

/// A pupil's schooling.
#[derive(Debug)]
pub struct Pupil {
    /// UAI of the school.
    pub school: &'static str,
    /// Class, `code##libellé`.
    pub class: &'static str,
    /// MEF-STAT4 level code (plausible values, not an official table).
    pub mef: &'static str,
    /// The (invented) INE; only its hash leaves the simulated IdP.
    pub ine: &'static str,
}

/// A parent (legal guardian).
#[derive(Debug)]
pub struct Parent {
    /// Logins of the children.
    pub children: &'static [&'static str],
}

/// Administrative function of a member of staff (`FrEduFonctAdm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// Teacher.
    Ens,
    /// Director (école director, principal, proviseur).
    Dir,
}

impl Function {
    /// The code as sent in `FrEduFonctAdm`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ens => "ENS",
            Self::Dir => "DIR",
        }
    }
}

/// A member of staff (agent).
#[derive(Debug)]
pub struct Staff {
    /// Academic e-mail address.
    pub email: &'static str,
    /// Administrative function.
    pub function: Function,
    /// UAIs of the schools the person works in (one `FrEduRne` value each).
    pub structures: &'static [&'static str],
}

/// What a person is, with the data that goes with it.
#[derive(Debug)]
pub enum Role {
    /// A pupil (ÉduConnect).
    Pupil(Pupil),
    /// A parent (ÉduConnect).
    Parent(Parent),
    /// A teacher or director (agent IdP).
    Staff(Staff),
}

/// One synthetic person.
#[derive(Debug)]
pub struct Person {
    /// Stable login, unique in the population (also `ct-remote-user` for agents).
    pub login: &'static str,
    /// Given name.
    pub given_name: &'static str,
    /// Family name.
    pub family_name: &'static str,
    /// Date of birth, `YYYY-MM-DD`.
    pub birth_date: &'static str,
    /// AAF join id (`ENTPersonJointure`).
    pub jointure: &'static str,
    /// Pupil, parent or staff.
    pub role: Role,
}

static SCHOOLS: [School; 3] = [
    School {
        uai: ECOLE_UAI,
        name: "École élémentaire des Tilleuls",
        degree: Degree::First,
        rne_fields: "UAJ$PU$N$T1$EEPU$151",
    },
    School {
        uai: COLLEGE_UAI,
        name: "Collège Anne de Kervellec",
        degree: Degree::Second,
        rne_fields: "UAJ$PU$N$T3$CLG$340",
    },
    School {
        uai: LYCEE_UAI,
        name: "Lycée des Embruns",
        degree: Degree::Second,
        rne_fields: "UAJ$PU$N$T3$LYC$300",
    },
];

const fn person(
    login: &'static str,
    given_name: &'static str,
    family_name: &'static str,
    birth_date: &'static str,
    jointure: &'static str,
    role: Role,
) -> Person {
    Person {
        login,
        given_name,
        family_name,
        birth_date,
        jointure,
        role,
    }
}

const fn pupil(
    school: &'static str,
    class: &'static str,
    mef: &'static str,
    ine: &'static str,
) -> Role {
    Role::Pupil(Pupil {
        school,
        class,
        mef,
        ine,
    })
}

const fn parent(children: &'static [&'static str]) -> Role {
    Role::Parent(Parent { children })
}

const fn staff(
    email: &'static str,
    function: Function,
    structures: &'static [&'static str],
) -> Role {
    Role::Staff(Staff {
        email,
        function,
        structures,
    })
}

#[rustfmt::skip]
static PEOPLE: [Person; 20] = [
    // Pupils of the école.
    person("eleve.lea", "Léa", "Martin", "2015-03-14", "3510001", pupil(ECOLE_UAI, "CM2A##CM2 A", "1115", "0359000101A")),
    person("eleve.hugo", "Hugo", "Bernard", "2018-09-02", "3510002", pupil(ECOLE_UAI, "CE1A##CE1 A", "1112", "0359000102B")),
    person("eleve.chloe", "Chloé", "Moreau", "2019-11-23", "3510003", pupil(ECOLE_UAI, "CPA##CP A", "1111", "0359000103C")),
    // Pupils of the collège.
    person("eleve.louis", "Louis", "Martin", "2013-06-30", "3520001", pupil(COLLEGE_UAI, "6A##6e A", "2111", "0359000201D")),
    person("eleve.emma", "Emma", "Petit", "2011-01-17", "3520002", pupil(COLLEGE_UAI, "4B##4e B", "2115", "0359000202E")),
    person("eleve.nathan", "Nathan", "Durand", "2010-08-05", "3520003", pupil(COLLEGE_UAI, "3C##3e C", "2116", "0359000203F")),
    // Pupils of the lycée.
    person("eleve.jade", "Jade", "Petit", "2009-04-12", "3530001", pupil(LYCEE_UAI, "2GT1##Seconde GT 1", "2211", "0359000301G")),
    person("eleve.adam", "Adam", "Lefèvre", "2007-12-09", "3530002", pupil(LYCEE_UAI, "TG2##Terminale générale 2", "2213", "0359000302H")),
    // Parents.
    person("parent.martin", "Claire", "Martin", "1984-02-21", "3540001", parent(&["eleve.lea", "eleve.louis"])),
    person("parent.bernard", "Julien", "Bernard", "1988-07-08", "3540002", parent(&["eleve.hugo"])),
    person("parent.moreau", "Sophie", "Moreau", "1990-05-19", "3540003", parent(&["eleve.chloe"])),
    person("parent.petit", "Karim", "Petit", "1979-10-03", "3540004", parent(&["eleve.emma", "eleve.jade"])),
    person("parent.durand", "Nadia", "Durand", "1982-12-27", "3540005", parent(&["eleve.nathan"])),
    person("parent.lefevre", "Thomas", "Lefèvre", "1976-03-11", "3540006", parent(&["eleve.adam"])),
    // Staff.
    person("prof.roux", "Isabelle", "Roux", "1980-09-15", "3550001", staff("isabelle.roux@ac-rennes.example", Function::Ens, &[ECOLE_UAI])),
    person("dir.mercier", "Patrick", "Mercier", "1971-04-28", "3550002", staff("patrick.mercier@ac-rennes.example", Function::Dir, &[ECOLE_UAI])),
    person("prof.dubois", "Lucie", "Dubois", "1986-01-09", "3550003", staff("lucie.dubois@ac-rennes.example", Function::Ens, &[COLLEGE_UAI, LYCEE_UAI])),
    person("prof.blanc", "Éric", "Blanc", "1977-11-30", "3550004", staff("eric.blanc@ac-rennes.example", Function::Ens, &[COLLEGE_UAI])),
    person("dir.fontaine", "Hélène", "Fontaine", "1968-06-22", "3550005", staff("helene.fontaine@ac-rennes.example", Function::Dir, &[COLLEGE_UAI])),
    person("prof.garnier", "Yann", "Garnier", "1983-08-17", "3550006", staff("yann.garnier@ac-rennes.example", Function::Ens, &[LYCEE_UAI])),
];

/// Every person of the population.
pub fn all() -> &'static [Person] {
    &PEOPLE
}

/// The person with this login, if any.
pub fn by_login(login: &str) -> Option<&'static Person> {
    PEOPLE.iter().find(|p| p.login == login)
}

/// The people who log in through the given kind of IdP.
pub fn of_idp(kind: IdpKind) -> impl Iterator<Item = &'static Person> {
    PEOPLE.iter().filter(move |p| p.idp() == kind)
}

/// The three schools.
pub fn schools() -> &'static [School] {
    &SCHOOLS
}

/// The school with this UAI, if it belongs to the population.
pub fn school(uai: &str) -> Option<&'static School> {
    SCHOOLS.iter().find(|s| s.uai == uai)
}

impl Person {
    /// The simulated IdP this person logs in with.
    pub fn idp(&self) -> IdpKind {
        match self.role {
            Role::Pupil(_) | Role::Parent(_) => IdpKind::EduConnect,
            Role::Staff(_) => IdpKind::Agents,
        }
    }

    /// The SDET profile the gateway should derive for this person
    /// (`National_ELV`, `National_TUT`, `National_ENS`, `National_DIR`).
    pub fn profile(&self) -> Profile {
        match &self.role {
            Role::Pupil(_) => Profile::Elv,
            Role::Parent(_) => Profile::Tut,
            Role::Staff(s) => match s.function {
                Function::Ens => Profile::Ens,
                Function::Dir => Profile::Dir,
            },
        }
    }

    /// "Given Family", for pages.
    pub fn display_name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }

    /// ÉduConnect affiliations (`FrEduCtPersonAffiliation`): one for a pupil,
    /// one per degree of the children for a parent, none for staff.
    pub fn affiliations(&self) -> Vec<&'static str> {
        match &self.role {
            Role::Pupil(p) => school_degree(p.school)
                .map(|d| match d {
                    Degree::First => "eleve1d",
                    Degree::Second => "eleve2d",
                })
                .into_iter()
                .collect(),
            Role::Parent(p) => {
                let mut degrees: Vec<Degree> = p
                    .children
                    .iter()
                    .filter_map(|login| by_login(login))
                    .filter_map(|child| match &child.role {
                        Role::Pupil(pupil) => school_degree(pupil.school),
                        Role::Parent(_) | Role::Staff(_) => None,
                    })
                    .collect();
                degrees.sort();
                degrees.dedup();
                degrees
                    .into_iter()
                    .map(|d| match d {
                        Degree::First => "resp1d",
                        Degree::Second => "resp2d",
                    })
                    .collect()
            }
            Role::Staff(_) => Vec::new(),
        }
    }

    /// ÉduConnect's stable identifier `FrEduCtId`: 96 lowercase hex characters,
    /// derived from the login (SHA-384 of a fixed label and the login).
    pub fn fr_edu_ct_id(&self) -> String {
        let digest = Sha384::digest(format!("sso-testbed/FrEduCtId/{}", self.login));
        hex::encode(digest)
    }

    /// `FrEduCtRefId`: `{AAF}<académie>||<jointure>`.
    pub fn fr_edu_ct_ref_id(&self) -> String {
        format!("{{AAF}}{ACADEMIE}||{}", self.jointure)
    }

    /// Every `FrEduCtRefId` value ÉduConnect sends: [`Person::fr_edu_ct_ref_id`],
    /// plus one in [`OTHER_ACADEMIE`] for [`PARENT_IN_TWO_ACADEMIES`].
    pub fn fr_edu_ct_ref_ids(&self) -> Vec<String> {
        let mut refs = vec![self.fr_edu_ct_ref_id()];
        if self.login == PARENT_IN_TWO_ACADEMIES {
            // Guardian ids do not depend on the export date (tested below).
            let spec = other_academie_spec(
                chrono::NaiveDate::from_ymd_opt(2026, 9, 1).unwrap_or_default(),
            );
            if let Some(guardian) = crate::aaf::guardians(&spec, 0, 0).first() {
                refs.push(format!("{{AAF}}{OTHER_ACADEMIE}||{}", guardian.id));
            }
        }
        refs
    }

    /// For a pupil, `FrEduCtEleveINEHash`: 32 lowercase hex characters (the
    /// first 128 bits of SHA-256 of the INE).
    pub fn ine_hash(&self) -> Option<String> {
        match &self.role {
            Role::Pupil(p) => {
                let digest = Sha256::digest(p.ine.as_bytes());
                Some(hex::encode(
                    digest.iter().take(16).copied().collect::<Vec<u8>>(),
                ))
            }
            Role::Parent(_) | Role::Staff(_) => None,
        }
    }

    /// For staff, one `FrEduRne` vector per structure: `uai$UAJ$PU$N$T3$CLG$340`.
    pub fn fr_edu_rne(&self) -> Vec<String> {
        match &self.role {
            Role::Staff(s) => s
                .structures
                .iter()
                .filter_map(|uai| school(uai))
                .map(|school| format!("{}${}", school.uai, school.rne_fields))
                .collect(),
            Role::Pupil(_) | Role::Parent(_) => Vec::new(),
        }
    }

    /// For a parent, the children; empty for anyone else.
    pub fn children(&self) -> Vec<&'static Person> {
        match &self.role {
            Role::Parent(p) => p.children.iter().filter_map(|l| by_login(l)).collect(),
            Role::Pupil(_) | Role::Staff(_) => Vec::new(),
        }
    }

    /// A short French description for the login pages ("Élève de CM2 A, École ...").
    pub fn description(&self) -> String {
        match &self.role {
            Role::Pupil(p) => {
                let class = p.class.split("##").nth(1).unwrap_or(p.class);
                let school = school(p.school).map_or(p.school, |s| s.name);
                format!("Élève, {class}, {school}")
            }
            Role::Parent(_) => {
                let names: Vec<&str> = self.children().iter().map(|c| c.given_name).collect();
                format!("Parent de {}", names.join(" et "))
            }
            Role::Staff(s) => {
                let what = match s.function {
                    Function::Ens => "Enseignant·e",
                    Function::Dir => "Direction",
                };
                let schools: Vec<&str> = s
                    .structures
                    .iter()
                    .map(|uai| school(uai).map_or(*uai, |s| s.name))
                    .collect();
                format!("{what}, {}", schools.join(" et "))
            }
        }
    }
}

fn school_degree(uai: &str) -> Option<Degree> {
    school(uai).map(|s| s.degree)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use sso_core::Uai;

    use super::*;

    #[test]
    fn every_uai_is_valid() {
        for s in schools() {
            assert!(Uai::parse(s.uai).is_ok(), "school {}", s.uai);
        }
        for p in all() {
            let uais: Vec<&str> = match &p.role {
                Role::Pupil(pupil) => vec![pupil.school],
                Role::Parent(_) => Vec::new(),
                Role::Staff(s) => s.structures.to_vec(),
            };
            for uai in uais {
                assert!(Uai::parse(uai).is_ok(), "{} has {uai}", p.login);
                assert!(
                    school(uai).is_some(),
                    "{} has unknown school {uai}",
                    p.login
                );
            }
        }
    }

    #[test]
    fn a_wrong_check_letter_is_refused_by_the_same_check() {
        assert!(Uai::parse(ECOLE_UAI).is_ok());
        assert!(Uai::parse("0359990A").is_err());
    }

    #[test]
    fn every_login_and_jointure_is_unique() {
        let logins: HashSet<&str> = all().iter().map(|p| p.login).collect();
        assert_eq!(logins.len(), all().len());
        let joins: HashSet<&str> = all().iter().map(|p| p.jointure).collect();
        assert_eq!(joins.len(), all().len());
        assert_eq!(by_login("eleve.lea").map(|p| p.given_name), Some("Léa"));
        assert!(by_login("nobody").is_none());
    }

    #[test]
    fn the_population_covers_every_affiliation_and_function() {
        let affiliations: HashSet<&str> = all().iter().flat_map(|p| p.affiliations()).collect();
        for a in ["eleve1d", "eleve2d", "resp1d", "resp2d"] {
            assert!(affiliations.contains(a), "missing {a}");
        }
        let functions: HashSet<&str> = all()
            .iter()
            .filter_map(|p| match &p.role {
                Role::Staff(s) => Some(s.function.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(functions, HashSet::from(["ENS", "DIR"]));
        assert_eq!(of_idp(IdpKind::EduConnect).count(), 14);
        assert_eq!(of_idp(IdpKind::Agents).count(), 6);
        let profiles: HashSet<Profile> = all().iter().map(Person::profile).collect();
        assert_eq!(
            profiles,
            HashSet::from([Profile::Elv, Profile::Tut, Profile::Ens, Profile::Dir])
        );
    }

    #[test]
    fn derived_identifiers_have_the_documented_shapes() {
        let is_hex = |s: &str| {
            s.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        };
        let mut ids = HashSet::new();
        for p in all() {
            let id = p.fr_edu_ct_id();
            assert_eq!(id.len(), 96);
            assert!(is_hex(&id));
            assert!(ids.insert(id), "FrEduCtId of {} not unique", p.login);
            assert_eq!(
                p.fr_edu_ct_ref_id(),
                format!("{{AAF}}AC-RENNES||{}", p.jointure)
            );
            match &p.role {
                Role::Pupil(pupil) => {
                    let hash = p.ine_hash().unwrap();
                    assert_eq!(hash.len(), 32);
                    assert!(is_hex(&hash));
                    assert!(pupil.class.contains("##"));
                    assert_eq!(pupil.mef.len(), 4);
                }
                Role::Parent(parent) => {
                    assert!(p.ine_hash().is_none());
                    assert_eq!(p.children().len(), parent.children.len());
                    assert!(!p.affiliations().is_empty());
                }
                Role::Staff(s) => {
                    assert!(s.email.contains('@'));
                    let rne = p.fr_edu_rne();
                    assert_eq!(rne.len(), s.structures.len());
                    for v in rne {
                        assert_eq!(v.split('$').count(), 7, "{v}");
                    }
                }
            }
        }
        // Deterministic: the same input gives the same identifier.
        let lea = by_login("eleve.lea").unwrap();
        assert_eq!(lea.fr_edu_ct_id(), lea.fr_edu_ct_id());
    }

    #[test]
    fn a_parent_of_children_in_both_degrees_has_both_affiliations() {
        let martin = by_login("parent.martin").unwrap();
        assert_eq!(martin.affiliations(), vec!["resp1d", "resp2d"]);
        let lea = by_login("eleve.lea").unwrap();
        assert_eq!(lea.affiliations(), vec!["eleve1d"]);
        let dubois = by_login("prof.dubois").unwrap();
        assert_eq!(
            dubois.fr_edu_rne(),
            vec![
                "0359991V$UAJ$PU$N$T3$CLG$340".to_owned(),
                "0359992W$UAJ$PU$N$T3$LYC$300".to_owned()
            ]
        );
    }

    #[test]
    fn one_parent_has_a_second_reference_in_the_other_academie() {
        let parent = by_login(PARENT_IN_TWO_ACADEMIES).unwrap();
        let refs = parent.fr_edu_ct_ref_ids();
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[0], parent.fr_edu_ct_ref_id());
        for date in [(2026, 9, 1), (2027, 3, 15)] {
            let date = chrono::NaiveDate::from_ymd_opt(date.0, date.1, date.2).unwrap();
            let guardian = crate::aaf::guardians(&other_academie_spec(date), 0, 0).remove(0);
            assert_eq!(refs[1], format!("{{AAF}}AC-NANTES||{}", guardian.id));
        }
        assert_eq!(
            by_login("parent.martin").unwrap().fr_edu_ct_ref_ids().len(),
            1
        );
    }
}
