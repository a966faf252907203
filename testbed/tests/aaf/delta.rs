//! Deltas: what the plan says is what the files say, on top of the complete
//! export of the same spec.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use sso_testbed::aaf::{
    Category, DeltaSpec, GenError, PersonDetails, delta_plan, write_complete, write_delta,
};
use sso_testbed::people::Degree;

use crate::common::{Rec, records, spec};

fn changes() -> DeltaSpec {
    DeltaSpec {
        date: NaiveDate::from_ymd_opt(2026, 9, 2).unwrap(),
        new_pupils: 12,
        modified: 9,
        deleted: 8,
        moved: 5,
    }
}

fn by_id(recs: Vec<Rec>) -> HashMap<String, Rec> {
    recs.into_iter().map(|r| (r.id.clone(), r)).collect()
}

#[test]
fn a_plan_is_deterministic_and_touches_each_person_once() {
    let spec = spec(Degree::Second);
    let plan = delta_plan(&spec, &changes()).unwrap();
    assert_eq!(plan, delta_plan(&spec, &changes()).unwrap());
    let mut other = spec.clone();
    other.seed += 1;
    assert_ne!(plan, delta_plan(&other, &changes()).unwrap());

    let new_pupils = plan
        .added
        .iter()
        .filter(|p| p.category == Category::Eleve)
        .count();
    assert_eq!(new_pupils, 12);
    assert_eq!(plan.moved.len(), 5);
    assert_eq!(plan.modified.len(), 9);
    let deleted_people = plan
        .deleted
        .iter()
        .filter(|d| d.category != Category::PersRelEleve)
        .count();
    assert_eq!(deleted_people, 8);
    let mut seen = HashSet::new();
    for id in plan
        .deleted_ids()
        .chain(plan.moved_ids())
        .chain(plan.modified.iter().map(|m| m.id.as_str()))
        .chain(plan.added_ids())
    {
        assert!(seen.insert(id.to_owned()), "{id} is touched twice");
    }
    for m in &plan.moved {
        assert_ne!(m.from, m.to);
        assert!(
            m.classes
                .iter()
                .all(|c| c.starts_with(&format!("{}$", m.to)))
        );
        assert!(
            m.groups
                .iter()
                .all(|g| g.starts_with(&format!("{}$", m.to)))
        );
    }
}

#[test]
fn delta_files_carry_the_plan_on_top_of_the_complete_export() {
    let spec = spec(Degree::Second);
    let changes = changes();
    let plan = delta_plan(&spec, &changes).unwrap();
    let complete_dir = tempfile::tempdir().unwrap();
    let delta_dir = tempfile::tempdir().unwrap();
    let complete = write_complete(&spec, complete_dir.path()).unwrap();
    let delta = write_delta(&spec, &changes, delta_dir.path()).unwrap();
    assert_eq!(delta.bordereau, "ENT2D_Delta_20260902_Bordereau.txt");
    assert_eq!(
        delta.files.len(),
        6,
        "every category has a delta file, empty or not"
    );
    assert!(
        delta
            .files
            .iter()
            .all(|f| f.name.starts_with("ENT2D_Delta_20260902_"))
    );
    assert_eq!(
        delta
            .files_of(Category::EtabEducNat)
            .map(|f| f.records)
            .sum::<u64>(),
        0
    );
    let bordereau = std::fs::read_to_string(delta.path(&delta.bordereau)).unwrap();
    for f in &delta.files {
        assert!(bordereau.contains(&format!("{};{}\n", f.name, f.lines)));
    }

    let old_pupils = by_id(records(&complete, Category::Eleve));
    let old_guardians = by_id(records(&complete, Category::PersRelEleve));
    let old_staff = by_id(records(&complete, Category::PersEducNat));
    let old_schools = by_id(records(&complete, Category::EtabEducNat));
    let pupils = records(&delta, Category::Eleve);
    let guardians = records(&delta, Category::PersRelEleve);
    let staff = records(&delta, Category::PersEducNat);
    let of = |recs: &[Rec], op: &str| -> Vec<Rec> {
        recs.iter().filter(|r| r.op == op).cloned().collect()
    };

    // Additions: new ids, with guardians that are added too.
    let added = of(&pupils, "addRequest");
    let added_guardians: HashSet<String> = of(&guardians, "addRequest")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(added.len(), 12);
    for p in &added {
        assert!(!old_pupils.contains_key(&p.id), "{} already exists", p.id);
        for link in p.values("ENTElevePersRelEleve") {
            let id = link.split('$').next().unwrap();
            assert!(added_guardians.contains(id) && !old_guardians.contains_key(id));
        }
        assert!(old_schools.contains_key(&p.first("ENTPersonStructRattach").unwrap()));
    }

    // Deletions: pupils without sibling, with their guardians; staff.
    let deleted: HashSet<String> = of(&pupils, "deleteRequest")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(deleted.len(), 4);
    let deleted_guardians: HashSet<String> = of(&guardians, "deleteRequest")
        .into_iter()
        .map(|r| r.id)
        .collect();
    let mut expected_guardians = HashSet::new();
    for id in &deleted {
        for link in old_pupils[id].values("ENTElevePersRelEleve") {
            expected_guardians.insert(link.split('$').next().unwrap().to_owned());
        }
    }
    assert_eq!(deleted_guardians, expected_guardians);
    for g in &deleted_guardians {
        let still_named = old_pupils
            .values()
            .filter(|p| !deleted.contains(&p.id))
            .any(|p| {
                p.values("ENTElevePersRelEleve")
                    .iter()
                    .any(|l| l.starts_with(&format!("{g}$")))
            });
        assert!(!still_named, "deleted guardian {g} still has a pupil");
    }
    let deleted_staff = of(&staff, "deleteRequest");
    assert_eq!(deleted_staff.len(), 4);
    for s in &deleted_staff {
        assert!(!old_staff[&s.id].values("ENTPersonFonctions")[0].contains("$DIR$"));
    }
    let planned: HashSet<&str> = plan.deleted_ids().collect();
    for id in deleted
        .iter()
        .chain(&deleted_guardians)
        .chain(deleted_staff.iter().map(|r| &r.id))
    {
        assert!(planned.contains(id.as_str()));
    }

    // Moves: to another school of the same kind, classes there.
    let modified = of(&pupils, "modifyRequest");
    let moves: Vec<&Rec> = modified
        .iter()
        .filter(|r| r.has("ENTPersonStructRattach"))
        .collect();
    assert_eq!(moves.len(), 5);
    for m in &moves {
        let before = &old_pupils[&m.id];
        let from = before.first("ENTPersonStructRattach").unwrap();
        let to = m.first("ENTPersonStructRattach").unwrap();
        assert_ne!(from, to);
        assert_eq!(
            old_schools[&from].first("ENTStructureTypeStruct"),
            old_schools[&to].first("ENTStructureTypeStruct")
        );
        let class = m.first("ENTEleveClasses").unwrap();
        let (structure, code) = class.split_once('$').unwrap();
        assert_eq!(structure, to);
        assert!(
            old_schools[&to]
                .values("ENTStructureClasses")
                .iter()
                .any(|c| c.starts_with(&format!("{code}$")))
        );
        assert!(
            m.values("ENTEleveGroupes")
                .iter()
                .all(|g| g.starts_with(&format!("{to}$")))
        );
        assert!(plan.moved_ids().any(|id| id == m.id));
    }

    // Modifications: a new surname and class, a guardian's mail, an agent's
    // surname and mail.
    let renamed: Vec<&Rec> = modified.iter().filter(|r| r.has("sn")).collect();
    assert_eq!(renamed.len(), 3);
    for r in renamed {
        let before = &old_pupils[&r.id];
        assert_ne!(r.first("sn"), before.first("sn"));
        let class = r.first("ENTEleveClasses").unwrap();
        assert!(class.starts_with(&before.first("ENTPersonStructRattach").unwrap()));
    }
    let mails = of(&guardians, "modifyRequest");
    assert_eq!(mails.len(), 3);
    for m in mails {
        assert_eq!(m.attrs.len(), 1);
        assert_ne!(m.first("mail"), old_guardians[&m.id].first("mail"));
        assert!(!deleted_guardians.contains(&m.id));
    }
    let agents = of(&staff, "modifyRequest");
    assert_eq!(agents.len(), 3);
    for a in agents {
        assert_ne!(a.first("sn"), old_staff[&a.id].first("sn"));
        assert!(a.first("mail").unwrap().ends_with("@ac-rennes.example"));
    }
    // The plan's new pupils are what the files say.
    for p in plan.added.iter().filter(|p| p.category == Category::Eleve) {
        let r = added.iter().find(|r| r.id == p.id).unwrap();
        let PersonDetails::Pupil(d) = &p.details else {
            panic!()
        };
        assert_eq!(r.values("ENTEleveClasses"), d.classes);
        assert_eq!(r.first("sn"), Some(p.surname.clone()));
    }
}

#[test]
fn a_delta_asking_for_more_than_the_export_holds_is_refused() {
    let mut spec = spec(Degree::Second);
    spec.schools = 2;
    spec.pupils_per_school = 40;
    let small = DeltaSpec {
        date: NaiveDate::from_ymd_opt(2026, 9, 2).unwrap(),
        new_pupils: 1,
        modified: 3,
        deleted: 2,
        moved: 2,
    };
    assert!(delta_plan(&spec, &small).is_ok());
    // 80 pupils, 68 without sibling: 200 deletions are too many.
    let too_many = DeltaSpec {
        deleted: 200,
        ..small.clone()
    };
    assert!(matches!(
        delta_plan(&spec, &too_many),
        Err(GenError::NotEnoughCandidates { .. })
    ));
    // One school: nowhere to move to.
    spec.schools = 1;
    assert!(matches!(
        delta_plan(&spec, &small),
        Err(GenError::NotEnoughCandidates { .. })
    ));
    let no_move = DeltaSpec { moved: 0, ..small };
    assert!(delta_plan(&spec, &no_move).is_ok());
}
