//! `sso-gateway registry explain` and `registry summary`: what a service
//! receives for one user of the directory and why, and the CSV for the
//! data-protection officer.

#![cfg(test)]

mod common;

use chrono::NaiveDate;
use sso_gateway::demo::DemoStack;
use sso_store::testing::RedisServer;
use sso_testbed::aaf::{self, AafSpec};
use sso_testbed::people::{self, Degree};

#[tokio::test]
async fn explain_says_what_is_released_and_what_is_withheld() {
    let redis = RedisServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = DemoStack::write_example(dir.path()).unwrap();
    let mut spec = AafSpec::new(
        people::ACADEMIE,
        Degree::Second,
        NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
    );
    spec.include_demo_population = true;
    spec.schools = 1;
    let export = aaf::write_complete(&spec, &dir.path().join("aaf")).unwrap();
    let run =
        |command: &str, args: &[&str]| common::operator_command(command, &config, &redis, args);
    assert!(run("aaf", &["import", export.dir.to_str().unwrap()]).0);
    let subscriptions = dir.path().join("subscriptions.json");
    std::fs::write(
        &subscriptions,
        include_str!("../../config/example/subscriptions.json"),
    )
    .unwrap();
    assert!(
        run(
            "subscriptions",
            &["import", subscriptions.to_str().unwrap()]
        )
        .0
    );

    let (ok, text, stderr) = run(
        "registry",
        &["explain", "manuel-numerique", people::ACADEMIE, "3520001"],
    );
    assert!(ok, "{stderr}");
    assert!(
        text.contains("rules: allowed (profiles National_ELV; schools "),
        "{text}"
    );
    assert!(text.contains("subscription: not needed or valid"), "{text}");
    assert!(text.contains("DIV          <- classes"), "{text}");
    assert!(text.contains("6A##6e A"), "{text}");
    assert!(
        text.contains("surname      not in the service's release policy"),
        "{text}"
    );
    assert!(
        text.contains("aaf_ref      never released to any service"),
        "{text}"
    );
    assert!(
        !text.contains("Martin"),
        "the surname is withheld, not printed: {text}"
    );

    // A pupil of a generated school, which has no subscription.
    let other = aaf::pupil(&spec, 0, 0).unwrap().id;
    let (ok, text, _) = run(
        "registry",
        &["explain", "manuel-numerique", people::ACADEMIE, &other],
    );
    assert!(ok);
    assert!(text.contains("subscription: REFUSED"), "{text}");

    let (ok, _, stderr) = run(
        "registry",
        &["explain", "manuel-numerique", people::ACADEMIE, "0000000"],
    );
    assert!(!ok);
    assert!(stderr.contains("no active person 0000000"), "{stderr}");

    let (ok, csv, _) = run("registry", &["summary"]);
    assert!(ok);
    assert!(
        csv.starts_with("service,display_name,kind,resource_id"),
        "{csv}"
    );
    assert!(
        csv.contains("manuel-numerique,Manuel numérique de mathématiques,resource,ark:/99999/manuel-maths,family editions-demo,DIV,classes,National_ELV National_ENS National_DOC"),
        "{csv}"
    );
}
