//! Import semantics on small hand-written sets, against the memory store and
//! a real Redis: complete, deltas, complete again; idempotence; moves,
//! deletions and the retention purge with an injected clock; the removal
//! threshold; and bad input that must leave the previous generation serving.

#![cfg(test)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use sso_core::Profile;
use sso_directory::import::{ImportError, ImportOptions, ImportReport, import};
use sso_directory::model::ProfileRules;
use sso_directory::names::Category;
use sso_directory::set::{ExportSet, SetError};
use sso_directory::store::Directory;
use sso_store::testing::RedisServer;
use sso_store::{MemoryStore, RedisConfig, RedisStore, Store};

const ACA: &str = "AC-RENNES";

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 9, d).unwrap()
}

/// One request of a file.
enum Req<'a> {
    Add(&'a str, Vec<(&'a str, Vec<&'a str>)>),
    Modify(&'a str, Vec<(&'a str, Vec<&'a str>)>),
    Delete(&'a str),
}

fn operational(category: Category) -> String {
    let name = sso_testbed::aaf::operational_attribute(category);
    format!(
        "<operationalAttributes><attr name=\"{name}\"><value>{category}</value></attr></operationalAttributes>"
    )
}

fn values(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("<value>{v}</value>"))
        .collect()
}

fn xml(category: Category, requests: &[Req<'_>]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE ficAlimMENESR SYSTEM \"ficAlimMENESR.dtd\">\n<!-- codeAcademieExport : AC-RENNES -->\n<ficAlimMENESR>\n",
    );
    for request in requests {
        let op = operational(category);
        match request {
            Req::Add(id, attrs) => {
                out.push_str(&format!(
                    "<addRequest>{op}<identifier><id>{id}</id></identifier><attributes>\n"
                ));
                for (name, vals) in attrs {
                    out.push_str(&format!("<attr name=\"{name}\">{}</attr>\n", values(vals)));
                }
                out.push_str("</attributes></addRequest>\n");
            }
            Req::Modify(id, attrs) => {
                out.push_str(&format!(
                    "<modifyRequest>{op}<identifier><id>{id}</id></identifier><modifications>\n"
                ));
                for (name, vals) in attrs {
                    out.push_str(&format!(
                        "<modification name=\"{name}\" operation=\"replace\">{}</modification>\n",
                        values(vals)
                    ));
                }
                out.push_str("</modifications></modifyRequest>\n");
            }
            Req::Delete(id) => out.push_str(&format!(
                "<deleteRequest>{op}<identifier><id>{id}</id></identifier></deleteRequest>\n"
            )),
        }
    }
    out.push_str("</ficAlimMENESR>\n");
    out
}

/// Writes a set's files into a new folder; returns the folder.
fn write_set(root: &Path, kind: &str, date: NaiveDate, files: &[(Category, String)]) -> PathBuf {
    let dir = root.join(format!("{kind}-{date}-{}", files.len()));
    std::fs::create_dir_all(&dir).unwrap();
    for (category, content) in files {
        let name = format!("ENT2D_{kind}_{}_{category}_0000.xml", date.format("%Y%m%d"));
        std::fs::write(dir.join(name), content).unwrap();
    }
    dir
}

fn structures() -> String {
    xml(
        Category::EtabEducNat,
        &[
            Req::Add(
                "S0359991",
                vec![
                    ("ENTStructureUAI", vec!["0359991V"]),
                    ("ENTStructureNomCourant", vec!["COLLEGE DES TESTS"]),
                    ("ENTStructureClasses", vec!["6A$6EME A", "5B$5EME B"]),
                ],
            ),
            Req::Add(
                "S0359992",
                vec![
                    ("ENTStructureUAI", vec!["0359992W"]),
                    ("ENTStructureClasses", vec!["2NDE1$SECONDE 1"]),
                ],
            ),
        ],
    )
}

fn guardians() -> String {
    xml(
        Category::PersRelEleve,
        &[
            Req::Add(
                "R1",
                vec![
                    ("sn", vec!["Aide sociale à l'enfance"]),
                    ("ENTPersRelEleveOrganisme", vec!["1"]),
                ],
            ),
            Req::Add(
                "R2",
                vec![("sn", vec!["Le Gall"]), ("givenName", vec!["Anne"])],
            ),
        ],
    )
}

fn pupils(with_e1: bool) -> String {
    let mut requests = vec![
        Req::Add(
            "E2",
            vec![
                ("sn", vec!["Morvan"]),
                ("ENTPersonStructRattach", vec!["S0359991"]),
                ("ENTEleveClasses", vec!["S0359991$5B"]),
                ("ENTElevePersRelEleve", vec!["R2$10$1$1$1$1"]),
            ],
        ),
        Req::Add(
            "E4",
            vec![
                ("sn", vec!["Tanguy"]),
                ("ENTPersonStructRattach", vec!["S0359992"]),
            ],
        ),
        Req::Add(
            "E5",
            vec![
                ("sn", vec!["Riou"]),
                ("ENTPersonStructRattach", vec!["S0359992"]),
            ],
        ),
    ];
    if with_e1 {
        requests.insert(
            0,
            Req::Add(
                "E1",
                vec![
                    ("sn", vec!["Le Gall"]),
                    ("givenName", vec!["Maëlle"]),
                    ("ENTEleveINE", vec!["123456789AB"]),
                    ("ENTPersonStructRattach", vec!["S0359991"]),
                    ("ENTEleveClasses", vec!["S0359991$6A"]),
                    (
                        "ENTElevePersRelEleve",
                        vec!["R1$50$0$1$0$0", "R2$10$1$1$1$1"],
                    ),
                ],
            ),
        );
    }
    xml(Category::Eleve, &requests)
}

fn staff() -> String {
    xml(
        Category::PersEducNat,
        &[Req::Add(
            "P1",
            vec![
                ("sn", vec!["Kerjean"]),
                ("mail", vec!["Yann.Kerjean@ac-rennes.example"]),
                (
                    "ENTPersonFonctions",
                    vec!["S0359991$ENS$ENSEIGNEMENT$L0202$LETTRES"],
                ),
            ],
        )],
    )
}

fn complete(root: &Path, date: NaiveDate, with_e1: bool) -> ExportSet {
    let dir = write_set(
        root,
        "Complet",
        date,
        &[
            (Category::EtabEducNat, structures()),
            (Category::PersRelEleve, guardians()),
            (Category::Eleve, pupils(with_e1)),
            (Category::PersEducNat, staff()),
        ],
    );
    ExportSet::open(&[dir]).unwrap()
}

fn delta(root: &Path, date: NaiveDate) -> ExportSet {
    let dir = write_set(
        root,
        "Delta",
        date,
        &[
            (
                Category::Eleve,
                xml(
                    Category::Eleve,
                    &[
                        // E1 moves to the lycée.
                        Req::Modify(
                            "E1",
                            vec![
                                ("ENTPersonStructRattach", vec!["S0359992"]),
                                ("ENTEleveClasses", vec!["S0359992$2NDE1"]),
                            ],
                        ),
                        Req::Delete("E2"),
                        Req::Add(
                            "E3",
                            vec![
                                ("sn", vec!["Nedelec"]),
                                ("ENTPersonStructRattach", vec!["S0359991"]),
                            ],
                        ),
                        Req::Modify("E9", vec![("sn", vec!["Inconnu"])]),
                    ],
                ),
            ),
            (
                Category::PersEducNat,
                xml(
                    Category::PersEducNat,
                    &[Req::Modify(
                        "P1",
                        vec![("mail", vec!["yann.kerjean2@ac-rennes.example"])],
                    )],
                ),
            ),
        ],
    );
    ExportSet::open(&[dir]).unwrap()
}

fn options(today: NaiveDate) -> ImportOptions {
    ImportOptions {
        today,
        ..ImportOptions::new()
    }
}

async fn run(
    store: &dyn Store,
    set: &ExportSet,
    options: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    import(store, set, &ProfileRules::default(), options, &mut |_| {}).await
}

async fn full_cycle(store: Arc<dyn Store>) {
    let root = tempfile::tempdir().unwrap();
    let directory = Directory::new(Arc::clone(&store));
    assert!(directory.meta(ACA, "ENT2D").await.unwrap().is_none());

    // 1. Complete export.
    let report = run(
        store.as_ref(),
        &complete(root.path(), day(1), true),
        &options(day(1)),
    )
    .await
    .unwrap();
    assert_eq!(report.categories[&Category::Eleve].added, 4);
    assert_eq!(report.categories[&Category::EtabEducNat].added, 2);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let first = directory.meta(ACA, "ENT2D").await.unwrap().unwrap();
    assert_eq!(first.export_date, day(1));
    assert_eq!(first.persons, 7);
    assert_eq!(directory.academies().await.unwrap(), [ACA]);

    let e1 = directory.person(ACA, "E1").await.unwrap().unwrap();
    assert_eq!(e1.uais, ["0359991V"]);
    assert_eq!(e1.classes[0].label, "6EME A");
    assert_eq!(e1.profiles, [Profile::Elv]);
    assert!(e1.guardians.iter().all(|g| g.legal));
    let stored = serde_json::to_string(&e1).unwrap();
    assert!(!stored.contains("123456789AB"), "the INE is not kept");
    let r1 = directory.person(ACA, "R1").await.unwrap().unwrap();
    assert!(r1.legal_person);
    assert_eq!(r1.profiles, [Profile::Tut]);
    let children: Vec<String> = directory
        .children(ACA, "R2")
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(children, ["E1", "E2"]);
    let (aca, teacher) = directory
        .staff_by_email("yann.kerjean@AC-RENNES.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((aca.as_str(), teacher.id.as_str()), (ACA, "P1"));
    assert_eq!(teacher.profiles, [Profile::Ens]);

    // 2. A delta: a move, a deletion, an addition, an unknown id, a new e-mail.
    let delta_set = delta(root.path(), day(2));
    let report = run(store.as_ref(), &delta_set, &options(day(2)))
        .await
        .unwrap();
    let pupils = &report.categories[&Category::Eleve];
    assert_eq!(
        (
            pupils.modified,
            pupils.deleted,
            pupils.added,
            pupils.rejected
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(report.rejected[0].id, "E9");
    assert_eq!(report.rejected[0].line, 14);
    let e1 = directory.person(ACA, "E1").await.unwrap().unwrap();
    assert_eq!(e1.uais, ["0359992W"]);
    assert_eq!(e1.classes[0].label, "SECONDE 1");
    let e2 = directory.person(ACA, "E2").await.unwrap().unwrap();
    assert_eq!(e2.absent_since, Some(day(2)));
    assert!(!e2.is_active());
    let children: Vec<String> = directory
        .children(ACA, "R2")
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(children, ["E1"], "a deleted pupil is no longer a child");
    assert!(directory.person(ACA, "E3").await.unwrap().is_some());
    assert!(
        directory
            .staff_by_email("yann.kerjean@ac-rennes.example")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        directory
            .staff_by_email("yann.kerjean2@ac-rennes.example")
            .await
            .unwrap()
            .is_some()
    );
    let after_delta = directory.meta(ACA, "ENT2D").await.unwrap().unwrap();
    assert_eq!(after_delta.generation, first.generation);
    assert_eq!(after_delta.last_delta, Some(day(2)));

    // 3. The same delta again: skipped, nothing changes.
    let again = run(store.as_ref(), &delta_set, &options(day(2)))
        .await
        .unwrap();
    assert_eq!(again.skipped_files.len(), 2);
    assert!(again.categories.is_empty());
    assert_eq!(directory.person(ACA, "E1").await.unwrap(), Some(e1.clone()));

    // 4. A delta older than the generation is refused.
    let old = delta(
        &root.path().join("old"),
        NaiveDate::from_ymd_opt(2026, 8, 31).unwrap(),
    );
    assert!(matches!(
        run(store.as_ref(), &old, &options(day(2))).await,
        Err(ImportError::DeltaTooOld { .. })
    ));

    // 5. A complete export without E1 and E3: 2 of 7 active... over 20 %: refused.
    let without = complete(&root.path().join("c2"), day(3), false);
    let refused = run(store.as_ref(), &without, &options(day(3))).await;
    assert!(
        matches!(refused, Err(ImportError::TooManyRemovals { left: 2, .. })),
        "{refused:?}"
    );
    assert_eq!(
        directory.meta(ACA, "ENT2D").await.unwrap(),
        Some(after_delta.clone())
    );
    assert!(
        directory
            .person(ACA, "E1")
            .await
            .unwrap()
            .unwrap()
            .is_active()
    );

    // A dry run with --force reports and writes nothing.
    let dry = ImportOptions {
        dry_run: true,
        force: true,
        ..options(day(3))
    };
    let report = run(store.as_ref(), &without, &dry).await.unwrap();
    assert_eq!(report.left, 2);
    assert_eq!(
        directory.meta(ACA, "ENT2D").await.unwrap(),
        Some(after_delta.clone())
    );

    // 6. Forced: a new generation; E1 and E3 kept inactive, E2 (back in the
    // export) active again.
    let forced = ImportOptions {
        force: true,
        ..options(day(3))
    };
    let report = run(store.as_ref(), &without, &forced).await.unwrap();
    assert_eq!(report.left, 2);
    assert_eq!(report.purged, 0);
    let second = directory.meta(ACA, "ENT2D").await.unwrap().unwrap();
    assert_ne!(second.generation, first.generation);
    assert_eq!(second.inactive, 2);
    let e1 = directory.person(ACA, "E1").await.unwrap().unwrap();
    assert_eq!(e1.absent_since, Some(day(3)));
    assert!(
        directory
            .person(ACA, "E2")
            .await
            .unwrap()
            .unwrap()
            .is_active()
    );
    // The old generation's keys are gone.
    let old_key = format!("dir:{ACA}:{}:p:E4", first.generation);
    assert_eq!(store.get(&old_key).await.unwrap(), None);

    // 7. 100 days later: the same complete export purges the two absent persons.
    let later = NaiveDate::from_ymd_opt(2026, 12, 12).unwrap();
    let again = complete(&root.path().join("c3"), day(4), false);
    let report = run(store.as_ref(), &again, &options(later)).await.unwrap();
    assert_eq!(report.purged, 2);
    assert!(directory.person(ACA, "E1").await.unwrap().is_none());
    assert!(directory.person(ACA, "E3").await.unwrap().is_none());
    assert!(directory.person(ACA, "E2").await.unwrap().is_some());
    assert_eq!(
        directory
            .meta(ACA, "ENT2D")
            .await
            .unwrap()
            .unwrap()
            .inactive,
        0
    );
}

async fn redis(server: &RedisServer) -> Arc<dyn Store> {
    Arc::new(
        RedisStore::connect(RedisConfig {
            key_prefix: "sso:".to_owned(),
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_millis(300),
            ..RedisConfig::new(server.url())
        })
        .await
        .unwrap(),
    )
}

#[tokio::test]
async fn complete_deltas_and_complete_again_in_memory() {
    full_cycle(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn complete_deltas_and_complete_again_in_redis() {
    let server = RedisServer::start().await.unwrap();
    full_cycle(redis(&server).await).await;
}

/// Each bad file: the import fails with a message naming the file, and the
/// first generation still serves. The untouched set is accepted first.
#[tokio::test]
async fn bad_files_leave_the_previous_generation_serving() {
    let root = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let directory = Directory::new(Arc::clone(&store));
    run(
        store.as_ref(),
        &complete(root.path(), day(1), true),
        &options(day(1)),
    )
    .await
    .unwrap();
    let serving = directory.meta(ACA, "ENT2D").await.unwrap().unwrap();
    let good = pupils(false);
    let cases: Vec<(&str, String)> = vec![
        ("truncated", good[..good.len() / 2].to_owned()),
        ("malformed", good.replace("</attributes>", "</attribute>")),
        (
            "internal entity",
            good.replace(
                "<!DOCTYPE ficAlimMENESR SYSTEM \"ficAlimMENESR.dtd\">",
                "<!DOCTYPE ficAlimMENESR [<!ENTITY x \"y\">]>",
            ),
        ),
        (
            "Latin-9 bytes declared UTF-8",
            good.replace("Morvan", "M\u{153}rvan"),
        ),
    ];
    for (what, content) in cases {
        let dir = write_set(
            &root.path().join(what.replace(' ', "-")),
            "Complet",
            day(2),
            &[
                (Category::EtabEducNat, structures()),
                (Category::Eleve, content.clone()),
            ],
        );
        let mut bytes = content.into_bytes();
        if what.starts_with("Latin-9") {
            // Replace the UTF-8 encoding of œ by its ISO-8859-15 byte.
            let at = bytes.windows(2).position(|w| w == [0xC5, 0x93]).unwrap();
            bytes.splice(at..at + 2, [0xBD]);
            std::fs::write(dir.join("ENT2D_Complet_20260902_Eleve_0000.xml"), &bytes).unwrap();
        }
        let set = ExportSet::open(&[dir]).unwrap();
        let error = run(
            store.as_ref(),
            &set,
            &ImportOptions {
                force: true,
                ..options(day(2))
            },
        )
        .await
        .unwrap_err();
        assert!(
            matches!(error, ImportError::Parse { .. }),
            "{what}: {error}"
        );
        assert!(
            error.to_string().contains("Eleve_0000.xml: line "),
            "{what}: {error}"
        );
        assert_eq!(
            directory.meta(ACA, "ENT2D").await.unwrap(),
            Some(serving.clone()),
            "{what}"
        );
        assert!(
            directory
                .person(ACA, "E1")
                .await
                .unwrap()
                .unwrap()
                .is_active(),
            "{what}"
        );
    }
    // Positive control: the same set with the good pupils file is applied.
    let dir = write_set(
        &root.path().join("good"),
        "Complet",
        day(2),
        &[
            (Category::EtabEducNat, structures()),
            (Category::Eleve, good),
        ],
    );
    let set = ExportSet::open(&[dir]).unwrap();
    run(
        store.as_ref(),
        &set,
        &ImportOptions {
            force: true,
            ..options(day(2))
        },
    )
    .await
    .unwrap();
    assert_ne!(directory.meta(ACA, "ENT2D").await.unwrap(), Some(serving));
}

#[tokio::test]
async fn file_names_and_bordereau_are_checked_before_reading() {
    let root = tempfile::tempdir().unwrap();
    let dir = write_set(
        root.path(),
        "Complet",
        day(1),
        &[(Category::Eleve, pupils(true))],
    );
    let name = "ENT2D_Complet_20260901_Eleve_0000.xml";
    let lines = pupils(true).matches('\n').count();
    // Positive control: a right bordereau is checked and accepted.
    let bordereau = dir.join("ENT2D_Complet_20260901_Bordereau.txt");
    std::fs::write(&bordereau, format!("{name};{lines}\n")).unwrap();
    let set = ExportSet::open(std::slice::from_ref(&dir)).unwrap();
    assert!(set.bordereau_checked);
    // A wrong count.
    std::fs::write(&bordereau, format!("{name};{}\n", lines + 1)).unwrap();
    assert!(matches!(
        ExportSet::open(std::slice::from_ref(&dir)),
        Err(SetError::LineCount { .. })
    ));
    // A file the bordereau lists but the set lacks.
    std::fs::write(
        &bordereau,
        format!("{name};{lines}\nENT2D_Complet_20260901_Eleve_0001.xml;3\n"),
    )
    .unwrap();
    assert!(matches!(
        ExportSet::open(std::slice::from_ref(&dir)),
        Err(SetError::MissingFile(_))
    ));
    std::fs::remove_file(&bordereau).unwrap();
    // A file whose name does not follow the pattern.
    let odd = root.path().join("eleves.xml");
    std::fs::write(&odd, pupils(true)).unwrap();
    assert!(matches!(
        ExportSet::open(&[odd]),
        Err(SetError::FileName(_))
    ));
    // Two exports mixed.
    std::fs::write(
        dir.join("ENT2D_Delta_20260902_Eleve_0000.xml"),
        pupils(true),
    )
    .unwrap();
    assert!(matches!(
        ExportSet::open(&[dir]),
        Err(SetError::Mixed { .. })
    ));
}

#[tokio::test]
async fn a_tar_archive_is_a_set() {
    let root = tempfile::tempdir().unwrap();
    let dir = write_set(
        root.path(),
        "Complet",
        day(1),
        &[(Category::Eleve, pupils(true))],
    );
    let archive = root.path().join("export.tar");
    let mut builder = tar::Builder::new(std::fs::File::create(&archive).unwrap());
    builder.append_dir_all("export", &dir).unwrap();
    builder.finish().unwrap();
    drop(builder);
    let set = ExportSet::open(std::slice::from_ref(&archive)).unwrap();
    assert_eq!(set.files.len(), 1);
    assert!(archive.exists(), "the archive the operator gave is kept");
    let store = MemoryStore::new();
    let report = run(&store, &set, &options(day(1))).await.unwrap();
    assert_eq!(report.categories[&Category::Eleve].added, 4);
}

/// Redis becomes unreachable in the middle of a complete import: the import
/// fails, and once Redis answers again the first generation is still the one
/// serving; running the import again then succeeds.
#[tokio::test]
async fn redis_lost_during_an_import_keeps_the_previous_generation() {
    let server = RedisServer::start().await.unwrap();
    let store = redis(&server).await;
    let directory = Directory::new(Arc::clone(&store));
    let root = tempfile::tempdir().unwrap();
    run(
        store.as_ref(),
        &complete(root.path(), day(1), true),
        &options(day(1)),
    )
    .await
    .unwrap();
    let serving = directory.meta(ACA, "ENT2D").await.unwrap().unwrap();

    let next = complete(&root.path().join("next"), day(2), true);
    let mut frozen = false;
    let result = import(
        store.as_ref(),
        &next,
        &ProfileRules::default(),
        &options(day(2)),
        &mut |progress| {
            // After the first file (the structures), Redis stops answering.
            if !frozen && progress.bytes_done > 0 {
                server.freeze().unwrap();
                frozen = true;
            }
        },
    )
    .await;
    assert!(frozen);
    assert!(matches!(result, Err(ImportError::Store(_))), "{result:?}");
    server.thaw().unwrap();
    assert_eq!(
        directory.meta(ACA, "ENT2D").await.unwrap(),
        Some(serving.clone())
    );
    assert!(
        directory
            .person(ACA, "E1")
            .await
            .unwrap()
            .unwrap()
            .is_active()
    );

    run(store.as_ref(), &next, &options(day(2))).await.unwrap();
    assert_ne!(directory.meta(ACA, "ENT2D").await.unwrap(), Some(serving));
}
