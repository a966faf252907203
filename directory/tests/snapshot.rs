//! Snapshot and restore of the directory (reversibility, domain reference
//! §5): a generated export (complete, then a delta that deletes, modifies
//! and adds persons) is imported into store A; its snapshot restored into
//! an empty store B answers every login-time read exactly as A does
//! (persons active and inactive, e-mail index, children, references,
//! journal). A damaged snapshot is refused and leaves B empty; the intact
//! one, restored right after, is accepted (positive control).

#![cfg(test)]

use std::collections::BTreeSet;
use std::io::Cursor;
use std::sync::Arc;

use chrono::NaiveDate;
use sso_directory::import::{ImportOptions, import};
use sso_directory::model::{Person, PersonKind, ProfileRules};
use sso_directory::set::ExportSet;
use sso_directory::snapshot::{SnapshotError, restore_source};
use sso_directory::store::{Directory, Meta};
use sso_store::{MemoryStore, Store};
use sso_testbed::aaf::{self, AafSpec, DeltaSpec};
use sso_testbed::people::Degree;

const ACA: &str = "AC-RENNES";

fn day(month: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, month, d).unwrap()
}

async fn apply(store: &dyn Store, dir: &std::path::Path, today: NaiveDate) {
    let set = ExportSet::open(&[dir.to_path_buf()]).unwrap();
    let options = ImportOptions {
        today,
        ..ImportOptions::new()
    };
    import(store, &set, &ProfileRules::default(), &options, &mut |_| {})
        .await
        .unwrap();
}

/// Store A with a complete export and a delta applied; its only source.
async fn store_a(root: &std::path::Path) -> (Directory, Meta) {
    let mut spec = AafSpec::new(ACA, Degree::Second, day(9, 1));
    spec.schools = 2;
    spec.pupils_per_school = 40;
    spec.staff_per_school = 8;
    spec.include_demo_population = true;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let complete = aaf::write_complete(&spec, &root.join("complete")).unwrap();
    apply(store.as_ref(), &complete.dir, spec.date).await;
    let changes = DeltaSpec {
        date: day(9, 2),
        new_pupils: 3,
        modified: 6,
        deleted: 4,
        moved: 2,
    };
    let delta = aaf::write_delta(&spec, &changes, &root.join("delta")).unwrap();
    apply(store.as_ref(), &delta.dir, changes.date).await;
    let directory = Directory::new(store);
    let [meta] = directory.metas(ACA).await.unwrap().try_into().unwrap();
    (directory, meta)
}

fn persons_of(lines: &[u8]) -> Vec<Person> {
    lines
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).unwrap())
        .collect()
}

/// Every read a login makes gives the same answer in both directories.
async fn assert_same_answers(a: &Directory, b: &Directory, persons: &[Person]) {
    for person in persons {
        assert_eq!(
            a.person(ACA, &person.id).await.unwrap(),
            b.person(ACA, &person.id).await.unwrap(),
            "person {}",
            person.id
        );
        if person.kind == PersonKind::Staff
            && person.is_active()
            && let Some(email) = &person.email
        {
            let found = b.staff_by_email(email).await.unwrap();
            assert_eq!(a.staff_by_email(email).await.unwrap(), found);
            assert!(found.is_some(), "e-mail index of {}", person.id);
        }
        if person.kind == PersonKind::Guardian {
            assert_eq!(
                a.children(ACA, &person.id).await.unwrap(),
                b.children(ACA, &person.id).await.unwrap(),
                "children of {}",
                person.id
            );
        }
    }
    assert_eq!(
        a.references(ACA).await.unwrap(),
        b.references(ACA).await.unwrap()
    );
    assert_eq!(a.journal(ACA).await.unwrap(), b.journal(ACA).await.unwrap());
    assert_eq!(a.academies().await.unwrap(), b.academies().await.unwrap());
}

#[tokio::test]
async fn a_restored_snapshot_answers_every_login_read_as_the_original() {
    let root = tempfile::tempdir().unwrap();
    let (a, meta) = store_a(root.path()).await;
    let mut lines = Vec::new();
    let written = a.write_persons(&meta, &mut lines).await.unwrap();
    let persons = persons_of(&lines);
    assert_eq!(written, persons.len() as u64);
    let ids: BTreeSet<&str> = persons.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids.len(), persons.len(), "each person once");
    assert!(persons.iter().any(|p| !p.is_active()), "inactive kept");
    assert!(persons.iter().any(|p| p.kind == PersonKind::Guardian));
    let references = a.source_references(&meta).await.unwrap();
    let journal = a.journal(ACA).await.unwrap();
    assert_eq!(journal.len(), a.journal_len(ACA).await.unwrap());
    let announced = Meta {
        persons: written,
        ..meta.clone()
    };

    let store_b: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let b = Directory::new(Arc::clone(&store_b));

    // One byte changed in a line: refused, nothing switched in B.
    let mut damaged = lines.clone();
    let at = damaged.iter().position(|b| *b == b'{').unwrap();
    damaged[at] = b'[';
    let refused = restore_source(
        store_b.as_ref(),
        &announced,
        &references,
        &mut Cursor::new(damaged),
        &journal,
    )
    .await;
    assert!(
        matches!(refused, Err(SnapshotError::BadPerson { line: 1, .. })),
        "{refused:?}"
    );
    // One line missing: the count announced does not match.
    let cut = lines.iter().position(|b| *b == b'\n').unwrap() + 1;
    let refused = restore_source(
        store_b.as_ref(),
        &announced,
        &references,
        &mut Cursor::new(lines[cut..].to_vec()),
        &journal,
    )
    .await;
    assert!(
        matches!(refused, Err(SnapshotError::CountMismatch { .. })),
        "{refused:?}"
    );
    assert!(b.academies().await.unwrap().is_empty());
    assert_eq!(b.meta(ACA, &meta.prefix).await.unwrap(), None);

    // The intact snapshot.
    let restored = restore_source(
        store_b.as_ref(),
        &announced,
        &references,
        &mut Cursor::new(lines.clone()),
        &journal,
    )
    .await
    .unwrap();
    assert_eq!(restored.persons, written);
    assert_eq!(restored.inactive, meta.inactive);
    assert_eq!(restored.export_date, meta.export_date);
    assert_eq!(restored.last_delta, meta.last_delta);
    assert_same_answers(&a, &b, &persons).await;

    // Restoring again switches to a new generation and removes the old one.
    let again = restore_source(
        store_b.as_ref(),
        &announced,
        &references,
        &mut Cursor::new(lines.clone()),
        &journal,
    )
    .await
    .unwrap();
    assert!(again.generation > restored.generation);
    let mut old = Vec::new();
    assert_eq!(b.write_persons(&restored, &mut old).await.unwrap(), 0);
    assert_same_answers(&a, &b, &persons).await;
}
