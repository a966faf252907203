//! Deltas of the AAF (domain reference §3, `Delta` files): new pupils with
//! their guardians (`addRequest`), modified persons (`modifyRequest` replacing
//! `sn`, `mail`, `ENTEleveClasses`), deleted persons (`deleteRequest`) and
//! pupils moved to another school (`modifyRequest` replacing
//! `ENTPersonStructRattach`, `ENTEleveClasses` and `ENTEleveGroupes`).
//!
//! A delta is planned from the seed on top of the complete export of the same
//! spec: the persons it touches are picked by walking the pupils (or staff)
//! in a seeded order and taking the first ones that qualify, so no person is
//! touched twice and a deleted pupil's guardians are deleted with it (only
//! pupils without a sibling are deleted). The plan holds only what the delta
//! changes: its size follows the delta, not the académie.

use std::collections::HashSet;

use chrono::NaiveDate;

use super::model::{Ctx, GeneratedPerson, MAX_PUPILS};
use super::names::SURNAMES;
use super::records::name_attributes;
use super::rng::{Rng, Stream};
use super::{AafSpec, Category, GenError};

/// What a delta changes, in numbers; which persons is decided by the seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaSpec {
    /// Date of the delta (in its file names).
    pub date: NaiveDate,
    /// Pupils added, each with a new family of one or two parents.
    pub new_pupils: u32,
    /// Persons modified: in turn a pupil (`sn` and `ENTEleveClasses`), a
    /// guardian (`mail`), a member of staff (`sn` and `mail`).
    pub modified: u32,
    /// Persons deleted: in turn a pupil without sibling (with its guardians)
    /// and a member of staff other than a director.
    pub deleted: u32,
    /// Pupils moved to the next school of the same kind.
    pub moved: u32,
}

/// One `modifyRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modification {
    /// The category of the person.
    pub category: Category,
    /// The person's id.
    pub id: String,
    /// Attributes replaced, with their new values.
    pub changes: Vec<(&'static str, Vec<String>)>,
}

/// A pupil moved to another school.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    /// The pupil's id.
    pub id: String,
    /// Structure id before.
    pub from: String,
    /// Structure id after (`ENTPersonStructRattach`).
    pub to: String,
    /// New `ENTEleveClasses`.
    pub classes: Vec<String>,
    /// New `ENTEleveGroupes`.
    pub groups: Vec<String>,
}

/// One `deleteRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    /// The category of the person.
    pub category: Category,
    /// The person's id.
    pub id: String,
}

/// Everything a delta contains, for tests to check an import's final state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaPlan {
    /// New pupils, then their new guardians.
    pub added: Vec<GeneratedPerson>,
    /// Modified persons (moves excluded).
    pub modified: Vec<Modification>,
    /// Moved pupils.
    pub moved: Vec<Move>,
    /// Deleted persons: pupils, their guardians, staff.
    pub deleted: Vec<Deletion>,
}

impl DeltaPlan {
    /// Ids of the deleted persons.
    pub fn deleted_ids(&self) -> impl Iterator<Item = &str> {
        self.deleted.iter().map(|d| d.id.as_str())
    }

    /// Ids of the moved pupils.
    pub fn moved_ids(&self) -> impl Iterator<Item = &str> {
        self.moved.iter().map(|m| m.id.as_str())
    }

    /// Ids of the added persons.
    pub fn added_ids(&self) -> impl Iterator<Item = &str> {
        self.added.iter().map(|p| p.id.as_str())
    }
}

/// A seeded walk visiting every number of `0..len` once.
fn walk(seed: u64, salt: u64, len: u64) -> impl Iterator<Item = u64> {
    let mut rng = Rng::new(seed, Stream::Delta, &[salt]);
    let start = rng.below(len);
    let mut stride = (len / 2 + rng.below(len.max(1))).max(1);
    while gcd(stride, len) != 1 {
        stride += 1;
    }
    (0..len).map(move |k| (start + k * stride) % len)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn not_enough(what: &'static str, requested: u32) -> GenError {
    GenError::NotEnoughCandidates { what, requested }
}

/// Plans the delta `changes` on top of the complete export of `spec`.
pub fn delta_plan(spec: &AafSpec, changes: &DeltaSpec) -> Result<DeltaPlan, GenError> {
    super::validate(spec)?;
    let ctx = Ctx::new(spec);
    let pupils = ctx.pupil_count();
    let total = pupils + u64::from(changes.new_pupils);
    if total > MAX_PUPILS {
        return Err(GenError::TooManyPupils {
            pupils: total,
            max: MAX_PUPILS,
        });
    }
    if changes.new_pupils > 0 && spec.schools == 0 {
        return Err(not_enough("schools for new pupils", changes.new_pupils));
    }
    let (sn, _) = name_attributes(spec.degree);
    let pps = u64::from(spec.pupils_per_school);
    let locate = |number: u64| -> (u32, u32) {
        let school = u32::try_from(number / pps.max(1)).unwrap_or(0);
        let index = u32::try_from(number % pps.max(1)).unwrap_or(0);
        (school, index)
    };
    let mut touched: HashSet<u64> = HashSet::new();
    let mut deleted_families: HashSet<u64> = HashSet::new();
    let mut plan = DeltaPlan {
        added: Vec::new(),
        modified: Vec::new(),
        moved: Vec::new(),
        deleted: Vec::new(),
    };

    // Deletions: pupils without sibling (and their guardians), staff.
    let pupil_deletions = changes.deleted.div_ceil(2);
    let staff_deletions = changes.deleted / 2;
    let mut found = 0;
    for number in walk(spec.seed, 1, pupils) {
        if found == pupil_deletions {
            break;
        }
        let (school, index) = locate(number);
        let family = ctx.family_of(school, index);
        let alone = Ctx::is_family_owner(index)
            && (index + 1 >= spec.pupils_per_school || Ctx::is_family_owner(index + 1));
        if !alone {
            continue;
        }
        touched.insert(number);
        deleted_families.insert(family.owner);
        plan.deleted.push(Deletion {
            category: Category::Eleve,
            id: ctx.pupil_id(number),
        });
        for guardian in ctx.guardians(&family) {
            plan.deleted.push(Deletion {
                category: Category::PersRelEleve,
                id: guardian.id,
            });
        }
        found += 1;
    }
    if found < pupil_deletions {
        return Err(not_enough(
            "pupils without sibling to delete",
            pupil_deletions,
        ));
    }
    let staff_per_school = spec.staff_per_school;
    let staff_candidates = walk(spec.seed, 2, ctx.staff_count())
        .map(|n| {
            let school = u32::try_from(n / u64::from(staff_per_school.max(1))).unwrap_or(0);
            let index = u32::try_from(n % u64::from(staff_per_school.max(1))).unwrap_or(0);
            (school, index)
        })
        .filter(|(_, index)| *index != 0);
    let staff_modifications = changes.modified / 3;
    let mut staff_picked = staff_candidates
        .take(usize::try_from(staff_deletions + staff_modifications).unwrap_or(usize::MAX));
    for _ in 0..staff_deletions {
        let (school, index) = staff_picked
            .next()
            .ok_or_else(|| not_enough("staff to delete", staff_deletions))?;
        plan.deleted.push(Deletion {
            category: Category::PersEducNat,
            id: ctx.staff(school, index).id,
        });
    }

    // Moves.
    let mut found = 0;
    for number in walk(spec.seed, 3, pupils) {
        if found == changes.moved {
            break;
        }
        let (school, index) = locate(number);
        let Some(to) = ctx.next_same_kind(school) else {
            continue;
        };
        if !touched.insert(number) {
            continue;
        }
        let (classes, groups) = ctx.placement(to, index, number, 0);
        plan.moved.push(Move {
            id: ctx.pupil_id(number),
            from: ctx.structure_id(school),
            to: ctx.structure_id(to),
            classes,
            groups,
        });
        found += 1;
    }
    if found < changes.moved {
        return Err(not_enough(
            "pupils with another school of the same kind to move to",
            changes.moved,
        ));
    }

    // Modifications: pupils, guardians, staff in turn.
    let pupil_modifications = changes.modified.div_ceil(3);
    let guardian_modifications = (changes.modified + 1) / 3;
    let mut found = 0;
    for number in walk(spec.seed, 4, pupils) {
        if found == pupil_modifications {
            break;
        }
        if !touched.insert(number) {
            continue;
        }
        let (school, index) = locate(number);
        let before = ctx.pupil(school, index);
        let mut rng = Rng::new(spec.seed, Stream::Delta, &[5, number]);
        let surname = new_surname(&mut rng, &before.surname);
        let (classes, _) = ctx.placement(school, index, number, 1);
        plan.modified.push(Modification {
            category: Category::Eleve,
            id: before.id,
            changes: vec![(sn, vec![surname]), ("ENTEleveClasses", classes)],
        });
        found += 1;
    }
    if found < pupil_modifications {
        return Err(not_enough("pupils to modify", pupil_modifications));
    }
    let mut found = 0;
    let mut families = HashSet::new();
    for number in walk(spec.seed, 6, pupils) {
        if found == guardian_modifications {
            break;
        }
        let (school, index) = locate(number);
        let family = ctx.family_of(school, index);
        if deleted_families.contains(&family.owner) || !families.insert(family.owner) {
            continue;
        }
        let Some(guardian) = ctx.guardians(&family).into_iter().next() else {
            continue;
        };
        let given = guardian.given_name.as_deref().unwrap_or("contact");
        let mail = format!(
            "{}.{}@messagerie.example",
            super::model::mail_part(given),
            super::model::mail_part(&guardian.surname)
        );
        plan.modified.push(Modification {
            category: Category::PersRelEleve,
            id: guardian.id,
            changes: vec![("mail", vec![mail])],
        });
        found += 1;
    }
    if found < guardian_modifications {
        return Err(not_enough("guardians to modify", guardian_modifications));
    }
    for _ in 0..staff_modifications {
        let (school, index) = staff_picked
            .next()
            .ok_or_else(|| not_enough("staff to modify", staff_modifications))?;
        let before = ctx.staff(school, index);
        let number = u64::from(school) * u64::from(staff_per_school) + u64::from(index);
        let mut rng = Rng::new(spec.seed, Stream::Delta, &[7, number]);
        let surname = new_surname(&mut rng, &before.surname);
        let given = before.given_name.clone().unwrap_or_default();
        let mail = ctx.staff_mail(&given, &surname, number);
        plan.modified.push(Modification {
            category: Category::PersEducNat,
            id: before.id,
            changes: vec![(sn, vec![surname]), ("mail", vec![mail])],
        });
    }

    // New pupils, spread over the schools, numbered after every existing one.
    let mut new_guardians = Vec::new();
    for k in 0..changes.new_pupils {
        let school = k % spec.schools.max(1);
        let index = spec.pupils_per_school + k / spec.schools.max(1);
        let number = pupils + u64::from(k);
        let family = ctx.family(number, school);
        plan.added
            .push(ctx.make_pupil(school, index, number, &family));
        new_guardians.extend(ctx.guardians(&family));
    }
    plan.added.extend(new_guardians);
    Ok(plan)
}

/// A surname other than `before`.
fn new_surname(rng: &mut Rng, before: &str) -> String {
    loop {
        let candidate = rng.pick(SURNAMES);
        if candidate != before {
            return candidate.to_owned();
        }
    }
}

/// The records of a category in a delta: adds, then modifies, then deletes.
pub(crate) fn delta_records(
    spec: &AafSpec,
    plan: &DeltaPlan,
    category: Category,
) -> Vec<super::xml::Record> {
    use super::xml::{Operation, Record};
    let mut out: Vec<Record> = plan
        .added
        .iter()
        .filter(|p| p.category == category)
        .map(|p| super::records::person_record(spec.degree, p))
        .collect();
    out.extend(
        plan.modified
            .iter()
            .filter(|m| m.category == category)
            .map(|m| Record {
                op: Operation::Modify,
                category,
                id: m.id.clone(),
                attributes: m.changes.clone(),
            }),
    );
    if category == Category::Eleve {
        out.extend(plan.moved.iter().map(|m| Record {
            op: Operation::Modify,
            category,
            id: m.id.clone(),
            attributes: vec![
                ("ENTPersonStructRattach", vec![m.to.clone()]),
                ("ENTEleveClasses", m.classes.clone()),
                ("ENTEleveGroupes", m.groups.clone()),
            ],
        }));
    }
    out.extend(
        plan.deleted
            .iter()
            .filter(|d| d.category == category)
            .map(|d| Record {
                op: Operation::Delete,
                category,
                id: d.id.clone(),
                attributes: Vec::new(),
            }),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walk_visits_every_number_once() {
        for len in [1u64, 2, 7, 40, 1000] {
            let mut seen: Vec<u64> = walk(42, 1, len).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..len).collect::<Vec<_>>());
        }
        assert_eq!(walk(1, 1, 0).count(), 0);
    }
}
