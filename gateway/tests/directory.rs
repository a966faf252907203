//! AAF identities propagated at login, end to end through HTTP: the demo
//! stack imports a synthetic AAF export (demo population included) into its
//! store — a real Redis or memory — then people log in through the simulated
//! ÉduConnect and the services see what the directory says, and only what
//! they were approved for.

#![cfg(test)]

mod common;

use std::sync::Arc;

use chrono::Utc;
use common::{Browser, Stack, login_at_ent};
use serde_json::Value;
use sso_directory::import::{ImportOptions, import};
use sso_directory::model::ProfileRules;
use sso_directory::set::ExportSet;
use sso_directory::store::Directory;
use sso_testbed::people::{self, COLLEGE_UAI, ECOLE_UAI};

const LOUIS: &str = "3520001";

fn directory(stack: &Stack) -> Directory {
    Directory::new(Arc::clone(&stack.stack.state.store))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|values| {
            values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Applies a one-file 2nd-degree delta (pupils) dated today.
async fn apply_pupil_delta(stack: &Stack, requests: &str) {
    let dir = tempfile::tempdir().unwrap();
    let today = Utc::now().date_naive();
    let name = format!("ENT2D_Delta_{}_Eleve_0000.xml", today.format("%Y%m%d"));
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- codeAcademieExport : {} -->\n<ficAlimMENESR>\n{requests}\n</ficAlimMENESR>\n",
        people::ACADEMIE
    );
    std::fs::write(dir.path().join(name), xml).unwrap();
    let set = ExportSet::open(&[dir.path().to_path_buf()]).unwrap();
    let report = import(
        stack.stack.state.store.as_ref(),
        &set,
        &ProfileRules::default(),
        &ImportOptions::new(),
        &mut |_| {},
    )
    .await
    .unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
}

/// Louis opens the textbook resource: it receives his school, profile and
/// class from the directory and nothing else. Then the directory moves him
/// to another class: his next login carries the new one.
#[tokio::test]
async fn a_resource_receives_the_pupils_school_data_from_the_directory_in_redis() {
    let stack = Stack::redis().await;
    let directory = directory(&stack);
    let louis = directory
        .person(people::ACADEMIE, LOUIS)
        .await
        .unwrap()
        .expect("the demo population was imported into Redis");
    let class = &louis.classes[0];

    let mut browser = Browser::new();
    login_at_ent(&stack, &mut browser, "educonnect", "eleve.louis").await;
    let manuel = browser.open(&stack.url("/testbed/manuel/login")).await;
    assert!(manuel.url.ends_with("/testbed/manuel"), "{}", manuel.url);
    let received = &stack.sp_state("manuel").await["last_attributes"];
    assert_eq!(strings(&received["UAI"]), [COLLEGE_UAI]);
    assert_eq!(strings(&received["PRO"]), ["National_ELV"]);
    assert_eq!(
        strings(&received["DIV"]),
        [format!("{}##{}", class.code, class.label)]
    );
    let names: Vec<&String> = received.as_object().unwrap().keys().collect();
    for name in &names {
        assert!(
            ["IDO", "UAI", "PRO", "DIV"].contains(&name.as_str()),
            "{name} is not in the resource's release policy"
        );
    }
    let dump = stack.sp_state("manuel").await.to_string();
    assert!(!dump.contains(LOUIS), "the AAF id never leaves the gateway");

    // The directory moves Louis to another class of his school.
    let references = directory.references(people::ACADEMIE).await.unwrap();
    let school = &references.structures[&class.structure];
    let (other, label) = school
        .classes
        .iter()
        .find(|(code, _)| **code != class.code)
        .expect("the collège has several classes");
    apply_pupil_delta(
        &stack,
        &format!(
            "<modifyRequest><operationalAttributes><attr name=\"categoriePersonne\"><value>Eleve</value></attr></operationalAttributes><identifier><id>{LOUIS}</id></identifier><modifications><modification name=\"ENTEleveClasses\" operation=\"replace\"><value>{}${other}</value></modification></modifications></modifyRequest>",
            class.structure
        ),
    )
    .await;
    let mut browser = Browser::new();
    login_at_ent(&stack, &mut browser, "educonnect", "eleve.louis").await;
    browser.open(&stack.url("/testbed/manuel/login")).await;
    let received = &stack.sp_state("manuel").await["last_attributes"];
    assert_eq!(strings(&received["DIV"]), [format!("{other}##{label}")]);
}

/// A parent's schools are their children's, in both degrees.
#[tokio::test]
async fn a_parent_reaches_the_ent_with_the_schools_of_the_children_in_memory() {
    let stack = Stack::memory().await;
    let mut browser = Browser::new();
    let ent = login_at_ent(&stack, &mut browser, "educonnect", "parent.martin").await;
    assert!(ent.url.ends_with("/testbed/ent"), "{}", ent.url);
    let received = &stack.sp_state("ent").await["last_attributes"];
    let mut uais = strings(&received["UAI"]);
    uais.sort();
    assert_eq!(uais, [ECOLE_UAI, COLLEGE_UAI]);
    assert_eq!(strings(&received["PRO"]), ["National_TUT"]);
}

/// A pupil who left the directory (deleted by a delta) is no longer joined:
/// with `missing_entry = "continue"` the login goes on with the upstream
/// attributes only, so the class (which only the directory knows) is gone.
#[tokio::test]
async fn a_pupil_deleted_from_the_directory_keeps_only_upstream_attributes_in_memory() {
    let stack = Stack::memory().await;
    let mut browser = Browser::new();
    login_at_ent(&stack, &mut browser, "educonnect", "eleve.louis").await;
    browser.open(&stack.url("/testbed/manuel/login")).await;
    let before = &stack.sp_state("manuel").await["last_attributes"];
    assert_eq!(strings(&before["DIV"]).len(), 1, "positive control");

    apply_pupil_delta(
        &stack,
        &format!(
            "<deleteRequest><operationalAttributes><attr name=\"categoriePersonne\"><value>Eleve</value></attr></operationalAttributes><identifier><id>{LOUIS}</id></identifier></deleteRequest>"
        ),
    )
    .await;
    let louis = directory(&stack)
        .person(people::ACADEMIE, LOUIS)
        .await
        .unwrap()
        .unwrap();
    assert!(!louis.is_active());

    let mut browser = Browser::new();
    login_at_ent(&stack, &mut browser, "educonnect", "eleve.louis").await;
    browser.open(&stack.url("/testbed/manuel/login")).await;
    let after = &stack.sp_state("manuel").await["last_attributes"];
    assert!(strings(&after["DIV"]).is_empty(), "{after}");
    assert_eq!(strings(&after["UAI"]), [COLLEGE_UAI], "upstream UAI kept");
}

/// A parent with children in two académies is asked which one to continue
/// with (`several_academies = "choose"` in the example configuration); the
/// ENT then receives that académie's schools only. The choice is single-use
/// and bound to the browser.
#[tokio::test]
async fn a_parent_in_two_academies_chooses_one_in_memory() {
    let stack = Stack::memory().await;
    let mut browser = Browser::new();
    let page = login_at_ent(
        &stack,
        &mut browser,
        "educonnect",
        people::PARENT_IN_TWO_ACADEMIES,
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Choisissez votre académie"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("<legend>Académie</legend>"),
        "labelled for screen readers"
    );
    assert!(page.body.contains(people::ACADEMIE) && page.body.contains(people::OTHER_ACADEMIE));
    let (action, fields) = common::form(&page.body).expect("the choice form");
    assert_eq!(action, "/login/academie");

    // Another browser cannot use this choice.
    let mut intruder = Browser::new();
    let mut stolen = fields.clone();
    stolen.push(("academie".to_owned(), people::OTHER_ACADEMIE.to_owned()));
    let refused = intruder.post(&stack.url(&action), &stolen).await;
    assert_eq!(refused.status, 400, "{}", refused.body);

    // The intruder's attempt consumed the choice (single use): the parent
    // logs in again (a new browser, as after closing this one) and chooses.
    let mut browser = Browser::new();
    let page = login_at_ent(
        &stack,
        &mut browser,
        "educonnect",
        people::PARENT_IN_TWO_ACADEMIES,
    )
    .await;
    let (action, mut fields) = common::form(&page.body).expect("the choice form");
    fields.push(("academie".to_owned(), people::OTHER_ACADEMIE.to_owned()));
    let ent = browser.post(&stack.url(&action), &fields).await;
    assert!(
        ent.url.ends_with("/testbed/ent"),
        "{} {}",
        ent.url,
        ent.body
    );
    let received = &stack.sp_state("ent").await["last_attributes"];
    let nantes = people::other_academie_spec(Utc::now().date_naive());
    let school = sso_testbed::aaf::school(&nantes, 0).unwrap().uai;
    assert_eq!(strings(&received["UAI"]), [school]);
    assert_eq!(strings(&received["PRO"]), ["National_TUT"]);

    // The same choice posted again: already used.
    let again = browser.post(&stack.url(&action), &fields).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(again.body.contains("a expiré"), "{}", again.body);
}
