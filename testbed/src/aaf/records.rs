//! The records of each AAF category and their attributes (brief "Attribute
//! names, 2nd degree" and "1st degree"): which attribute names a degree uses
//! and in which order records come (demo population first, then the
//! generated schools in order).

use super::demo::Demo;
use super::model::{Ctx, GeneratedPerson, GeneratedSchool, PersonDetails};
use super::tables::{SUBJECTS, mef_id, second_degree_levels, subject_id};
use super::xml::{Attr, Operation, Record};
use super::{AafSpec, Category};
use crate::people::Degree;

/// `sn` and `givenName`, or the ONDE names of the 1st degree.
pub(crate) fn name_attributes(degree: Degree) -> (&'static str, &'static str) {
    match degree {
        Degree::First => ("ENTPersonNom", "ENTPersonPrenom"),
        Degree::Second => ("sn", "givenName"),
    }
}

fn one(value: impl Into<String>) -> Vec<String> {
    vec![value.into()]
}

fn date(d: chrono::NaiveDate) -> Vec<String> {
    one(d.format("%d/%m/%Y").to_string())
}

/// The `addRequest` of a person.
pub(crate) fn person_record(degree: Degree, person: &GeneratedPerson) -> Record {
    let (sn, given) = name_attributes(degree);
    let mut attributes: Vec<Attr> = vec![("ENTPersonJointure", one(person.id.clone()))];
    let names = |attributes: &mut Vec<Attr>| {
        attributes.push((sn, one(person.surname.clone())));
        if let Some(g) = &person.given_name {
            attributes.push((given, one(g.clone())));
        }
        if let Some(t) = person.title {
            attributes.push(("personalTitle", one(t)));
        }
    };
    let mail = one(person.mail.clone().unwrap_or_default());
    match &person.details {
        PersonDetails::Pupil(p) => {
            attributes.push(("ENTEleveINE", one(p.ine.clone())));
            names(&mut attributes);
            attributes.push(("ENTPersonDateNaissance", date(p.birth_date)));
            attributes.push(("ENTPersonStructRattach", one(p.structure.clone())));
            attributes.push(("ENTEleveClasses", p.classes.clone()));
            attributes.push(("ENTEleveGroupes", p.groups.clone()));
            if let Some(mef) = &p.mef {
                attributes.push(("ENTEleveMEF", one(mef.clone())));
            }
            attributes.push(("ENTEleveMEFSTAT4", one(p.mef_stat4)));
            if degree == Degree::First {
                attributes.push(("ENTEleveNiveau", one(p.level)));
                attributes.push(("ENTEleveCycle", one(p.cycle.unwrap_or_default())));
            }
            attributes.push((
                "ENTElevePersRelEleve",
                p.guardians.iter().map(|g| g.value()).collect(),
            ));
            attributes.push(("mail", mail));
        }
        PersonDetails::Guardian(g) => {
            names(&mut attributes);
            attributes.push(("mail", mail));
            attributes.push(("ENTPersonAdresse", one(g.address.clone())));
            if g.legal_person {
                attributes.push(("ENTPersRelEleveOrganisme", one("1")));
            }
        }
        PersonDetails::Staff(s) => {
            names(&mut attributes);
            attributes.push(("mail", mail));
            attributes.push(("ENTPersonDateNaissance", date(s.birth_date)));
            attributes.push(("ENTPersonStructRattach", one(s.structure.clone())));
            attributes.push(("ENTPersonFonctions", s.functions.clone()));
            if degree == Degree::Second {
                attributes.push(("ENTAuxEnsClassesMatieres", s.class_subjects.clone()));
                attributes.push(("ENTAuxEnsGroupesMatieres", s.group_subjects.clone()));
            }
        }
    }
    Record {
        op: Operation::Add,
        category: person.category,
        id: person.id.clone(),
        attributes,
    }
}

/// The `addRequest` of a school.
pub(crate) fn school_record(spec: &AafSpec, school: &GeneratedSchool) -> Record {
    let pairs = |list: &[(String, String)]| -> Vec<String> {
        list.iter()
            .map(|(code, label)| format!("{code}${label}"))
            .collect()
    };
    let mut attributes: Vec<Attr> = vec![
        ("ENTStructureJointure", one(school.id.clone())),
        ("ENTStructureUAI", one(school.uai.clone())),
        ("ENTStructureNomCourant", one(school.name.clone())),
        ("ENTStructureTypeStruct", one(school.kind.as_str())),
        ("ENTServAcAcademie", one(spec.academie.clone())),
        ("ENTEtablissementContrat", one(school.contract)),
        ("ENTEtablissementBassin", one(school.bassin)),
        ("l", one(school.commune)),
        ("postalCode", one(school.postal_code)),
        ("ENTStructureDepartement", one(school.departement)),
        ("ENTStructureClasses", pairs(&school.classes)),
        ("ENTStructureGroupes", pairs(&school.groups)),
    ];
    if spec.degree == Degree::First {
        attributes.push(("ENTEcoleCirconscription", one(school.circonscription)));
    }
    Record {
        op: Operation::Add,
        category: Category::EtabEducNat,
        id: school.id.clone(),
        attributes,
    }
}

/// Every record of a category in a complete export, lazily.
pub(crate) fn complete_records<'a>(
    ctx: &'a Ctx<'a>,
    demo: Demo,
    category: Category,
) -> Box<dyn Iterator<Item = Record> + 'a> {
    let spec = ctx.spec;
    let degree = spec.degree;
    let schools = 0..spec.schools;
    match category {
        Category::EtabEducNat => Box::new(
            demo.schools
                .into_iter()
                .chain(schools.map(|s| ctx.school(s)))
                .map(move |school| school_record(spec, &school)),
        ),
        Category::Eleve => {
            Box::new(
                demo.pupils
                    .into_iter()
                    .chain(schools.flat_map(move |s| {
                        (0..spec.pupils_per_school).map(move |i| ctx.pupil(s, i))
                    }))
                    .map(move |p| person_record(degree, &p)),
            )
        }
        Category::PersRelEleve => Box::new(
            demo.parents
                .into_iter()
                .chain(schools.flat_map(move |s| {
                    (0..spec.pupils_per_school)
                        .filter(|i| Ctx::is_family_owner(*i))
                        .flat_map(move |i| ctx.guardians(&ctx.family_of(s, i)))
                }))
                .map(move |p| person_record(degree, &p)),
        ),
        Category::PersEducNat => {
            Box::new(
                demo.staff
                    .into_iter()
                    .chain(schools.flat_map(move |s| {
                        (0..spec.staff_per_school).map(move |j| ctx.staff(s, j))
                    }))
                    .map(move |p| person_record(degree, &p)),
            )
        }
        Category::MatiereEducNat => Box::new(SUBJECTS.iter().map(|s| {
            let id = subject_id(s.code);
            Record {
                op: Operation::Add,
                category: Category::MatiereEducNat,
                attributes: vec![
                    ("ENTMatJointure", one(id.clone())),
                    ("ENTLibelleMatiere", one(s.label)),
                    ("ENTMatiereCode", one(s.code)),
                ],
                id,
            }
        })),
        Category::MefEducNat => Box::new(second_degree_levels().map(|l| {
            let id = mef_id(l.mef);
            Record {
                op: Operation::Add,
                category: Category::MefEducNat,
                attributes: vec![
                    ("ENTMefJointure", one(id.clone())),
                    ("ENTLibelleMef", one(l.label)),
                    ("ENTMEFSTAT4", one(l.mef_stat4)),
                ],
                id,
            }
        })),
        // Never written (see `in_degree`).
        Category::InfosEducNat => Box::new(std::iter::empty()),
    }
}
