//! The static demo population of `crate::people` in an AAF export (brief
//! "The demo population"): its schools, pupils, parents and staff with exactly
//! their join ids, names, UAIs and e-mail addresses, so that a login through
//! the simulated ÉduConnect (`FrEduCtRefId` → académie + join id) or the
//! simulated agent IdP (e-mail) finds them in the imported directory.
//!
//! `crate::people` says nothing of subjects, relation codes or titles: the
//! subjects and classes of its teachers are listed here, titles come from the
//! generator's first-name lists, parents are mothers (`10`) or fathers (`20`).

use chrono::NaiveDate;

use super::model::{
    GeneratedPerson, GeneratedSchool, GuardianData, GuardianLink, PersonDetails, PupilData,
    StaffData,
};
use super::names::{FEMALE, Gender, MALE};
use super::tables::{
    SchoolKind, StaffFunction, level_of_mef_stat4, mef_id, subject_by_code, subject_id,
};
use super::{Category, GenError};
use crate::people::{self, COLLEGE_UAI, Degree, ECOLE_UAI, Function, LYCEE_UAI, Person, Role};

/// What a demo teacher teaches.
struct Teaching {
    login: &'static str,
    /// Subject code (empty in the 1st degree).
    subject: &'static str,
    /// (UAI, class code).
    classes: &'static [(&'static str, &'static str)],
}

/// Subject and classes of the demo teachers.
#[rustfmt::skip]
static TEACHING: &[Teaching] = &[
    Teaching { login: "prof.roux", subject: "", classes: &[(ECOLE_UAI, "CM2A")] },
    Teaching { login: "prof.dubois", subject: "L0202", classes: &[(COLLEGE_UAI, "6A"), (LYCEE_UAI, "2GT1")] },
    Teaching { login: "prof.blanc", subject: "L1300", classes: &[(COLLEGE_UAI, "4B"), (COLLEGE_UAI, "3C")] },
    Teaching { login: "prof.garnier", subject: "L0422", classes: &[(LYCEE_UAI, "TG2")] },
];

/// The demo population of one degree.
#[derive(Debug, Default)]
pub(crate) struct Demo {
    pub schools: Vec<GeneratedSchool>,
    pub pupils: Vec<GeneratedPerson>,
    pub parents: Vec<GeneratedPerson>,
    pub staff: Vec<GeneratedPerson>,
}

/// The demo people and schools of `degree`.
pub(crate) fn demo(degree: Degree) -> Result<Demo, GenError> {
    let mut out = Demo::default();
    for school in people::schools().iter().filter(|s| s.degree == degree) {
        out.schools.push(demo_school(school)?);
    }
    for person in people::all() {
        match &person.role {
            Role::Pupil(p) if school_degree(p.school) == Some(degree) => {
                out.pupils.push(demo_pupil(person, p, degree)?);
            }
            Role::Parent(_) => {
                let children: Vec<&Person> = person
                    .children()
                    .into_iter()
                    .filter(|c| match &c.role {
                        Role::Pupil(p) => school_degree(p.school) == Some(degree),
                        Role::Parent(_) | Role::Staff(_) => false,
                    })
                    .collect();
                if !children.is_empty() {
                    out.parents.push(demo_parent(person));
                }
            }
            Role::Staff(s)
                if s.structures.first().and_then(|uai| school_degree(uai)) == Some(degree) =>
            {
                out.staff.push(demo_staff(person, s, degree)?);
            }
            Role::Pupil(_) | Role::Staff(_) => {}
        }
    }
    Ok(out)
}

fn school_degree(uai: &str) -> Option<Degree> {
    people::school(uai).map(|s| s.degree)
}

fn structure_id(uai: &str) -> String {
    format!("S{}", uai.get(..7).unwrap_or(uai))
}

fn invalid(login: &str, reason: impl Into<String>) -> GenError {
    GenError::DemoData {
        login: login.to_owned(),
        reason: reason.into(),
    }
}

fn gender_of(given: &str) -> Option<Gender> {
    if FEMALE.contains(&given) {
        Some(Gender::Female)
    } else if MALE.contains(&given) {
        Some(Gender::Male)
    } else {
        None
    }
}

fn birth_date(person: &Person) -> Result<NaiveDate, GenError> {
    NaiveDate::parse_from_str(person.birth_date, "%Y-%m-%d").map_err(|e| {
        invalid(
            person.login,
            format!("birth date {:?}: {e}", person.birth_date),
        )
    })
}

fn demo_school(school: &people::School) -> Result<GeneratedSchool, GenError> {
    let mut fields = school.rne_fields.split('$');
    let contract = match fields.nth(1) {
        Some("PR") => "PR",
        _ => "PU",
    };
    let kind = match fields.nth(2) {
        Some("LYC") => SchoolKind::Lycee,
        Some("CLG") => SchoolKind::College,
        _ if school.degree == Degree::Second => SchoolKind::College,
        _ => SchoolKind::Ecole,
    };
    let mut classes: Vec<(String, String)> = Vec::new();
    for person in people::all() {
        if let Role::Pupil(p) = &person.role
            && p.school == school.uai
        {
            let (code, label) = p
                .class
                .split_once("##")
                .ok_or_else(|| invalid(person.login, format!("class {:?} has no ##", p.class)))?;
            if !classes.iter().any(|(c, _)| c == code) {
                classes.push((code.to_owned(), label.to_owned()));
            }
        }
    }
    Ok(GeneratedSchool {
        id: structure_id(school.uai),
        uai: school.uai.to_owned(),
        name: school.name.to_owned(),
        kind,
        contract,
        commune: "Rennes",
        postal_code: "35000",
        departement: "035",
        bassin: "RENNES",
        circonscription: "Rennes Nord",
        classes,
        groups: Vec::new(),
    })
}

fn demo_pupil(
    person: &Person,
    pupil: &people::Pupil,
    degree: Degree,
) -> Result<GeneratedPerson, GenError> {
    let level = level_of_mef_stat4(pupil.mef)
        .ok_or_else(|| invalid(person.login, format!("unknown MEF-STAT4 {:?}", pupil.mef)))?;
    let (class, _) = pupil
        .class
        .split_once("##")
        .ok_or_else(|| invalid(person.login, format!("class {:?} has no ##", pupil.class)))?;
    let structure = structure_id(pupil.school);
    let guardians = people::all()
        .iter()
        .filter(|p| match &p.role {
            Role::Parent(parent) => parent.children.contains(&person.login),
            Role::Pupil(_) | Role::Staff(_) => false,
        })
        .map(|parent| GuardianLink {
            id: parent.jointure.to_owned(),
            relation: if gender_of(parent.given_name) == Some(Gender::Male) {
                "20"
            } else {
                "10"
            },
            financial: true,
            legal: true,
            contact: true,
            paternity: true,
        })
        .collect();
    Ok(GeneratedPerson {
        id: person.jointure.to_owned(),
        category: Category::Eleve,
        surname: person.family_name.to_owned(),
        given_name: Some(person.given_name.to_owned()),
        title: gender_of(person.given_name).map(Gender::title),
        mail: None,
        details: PersonDetails::Pupil(PupilData {
            ine: pupil.ine.to_owned(),
            birth_date: birth_date(person)?,
            classes: vec![format!("{structure}${class}")],
            structure,
            groups: Vec::new(),
            level: level.label,
            mef: (degree == Degree::Second).then(|| mef_id(level.mef)),
            mef_stat4: level.mef_stat4,
            cycle: (degree == Degree::First).then_some(level.cycle),
            guardians,
        }),
    })
}

fn demo_parent(person: &Person) -> GeneratedPerson {
    GeneratedPerson {
        id: person.jointure.to_owned(),
        category: Category::PersRelEleve,
        surname: person.family_name.to_owned(),
        given_name: Some(person.given_name.to_owned()),
        title: gender_of(person.given_name).map(Gender::title),
        mail: None,
        details: PersonDetails::Guardian(GuardianData {
            address: "1 place de la Mairie, 35000 Rennes".to_owned(),
            legal_person: false,
        }),
    }
}

fn demo_staff(
    person: &Person,
    staff: &people::Staff,
    degree: Degree,
) -> Result<GeneratedPerson, GenError> {
    let function = match staff.function {
        Function::Ens => StaffFunction::Ens,
        Function::Dir => StaffFunction::Dir,
    };
    let teaching = TEACHING.iter().find(|t| t.login == person.login);
    let subject = teaching.and_then(|t| subject_by_code(t.subject));
    let discipline = match (function, subject, degree) {
        (StaffFunction::Ens, Some(s), Degree::Second) => format!("{}${}", s.code, s.label),
        _ => "-$-".to_owned(),
    };
    let functions = staff
        .structures
        .iter()
        .map(|uai| {
            format!(
                "{}${}${}${discipline}",
                structure_id(uai),
                function.code(),
                function.label()
            )
        })
        .collect();
    let class_subjects = match (teaching, subject, degree) {
        (Some(teaching), Some(s), Degree::Second) => teaching
            .classes
            .iter()
            .map(|(uai, class)| format!("{}${class}${}", structure_id(uai), subject_id(s.code)))
            .collect(),
        _ => Vec::new(),
    };
    let first = staff
        .structures
        .first()
        .ok_or_else(|| invalid(person.login, "no structure"))?;
    Ok(GeneratedPerson {
        id: person.jointure.to_owned(),
        category: Category::PersEducNat,
        surname: person.family_name.to_owned(),
        given_name: Some(person.given_name.to_owned()),
        title: gender_of(person.given_name).map(Gender::title),
        mail: Some(staff.email.to_owned()),
        details: PersonDetails::Staff(StaffData {
            birth_date: birth_date(person)?,
            structure: structure_id(first),
            functions,
            class_subjects,
            group_subjects: Vec::new(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_demo_teacher_and_class_exists_and_every_name_has_a_title() {
        for t in TEACHING {
            let person = people::by_login(t.login).unwrap();
            assert!(matches!(person.role, Role::Staff(_)), "{}", t.login);
            assert!(t.subject.is_empty() || subject_by_code(t.subject).is_some());
            for (uai, class) in t.classes {
                let school = demo_school(people::school(uai).unwrap()).unwrap();
                assert!(
                    school.classes.iter().any(|(c, _)| c == class),
                    "{} {class}",
                    t.login
                );
            }
        }
        for person in people::all() {
            assert!(
                gender_of(person.given_name).is_some(),
                "{}",
                person.given_name
            );
        }
    }

    #[test]
    fn each_degree_gets_its_own_schools_and_people() {
        let first = demo(Degree::First).unwrap();
        let second = demo(Degree::Second).unwrap();
        assert_eq!(first.schools.len(), 1);
        assert_eq!(second.schools.len(), 2);
        assert_eq!((first.pupils.len(), second.pupils.len()), (3, 5));
        assert_eq!((first.staff.len(), second.staff.len()), (2, 4));
        // Claire Martin has a child in each degree: she is in both exports.
        assert!(first.parents.iter().any(|p| p.id == "3540001"));
        assert!(second.parents.iter().any(|p| p.id == "3540001"));
        assert_eq!(first.parents.len() + second.parents.len(), 7);
    }
}
