//! `sso-gateway aaf import | status | show` as an operator runs them: the
//! example configuration pointed at a real Redis (`SSO_REDIS_URL`), a
//! generated export; a broken file is refused with its file and line and
//! nothing is switched.

#![cfg(test)]

mod common;

use std::path::Path;

use chrono::NaiveDate;
use sso_gateway::demo::DemoStack;
use sso_store::testing::RedisServer;
use sso_testbed::aaf::{self, AafSpec};
use sso_testbed::people::{self, Degree};

fn aaf_command(config: &Path, redis: &RedisServer, args: &[&str]) -> (bool, String, String) {
    common::operator_command("aaf", config, redis, args)
}

#[tokio::test]
async fn an_operator_imports_inspects_and_is_protected_from_a_broken_file() {
    let redis = RedisServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = DemoStack::write_example(dir.path()).unwrap();
    let date = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    let mut spec = AafSpec::new(people::ACADEMIE, Degree::Second, date);
    spec.include_demo_population = true;
    spec.schools = 1;
    spec.pupils_per_school = 30;
    let export = aaf::write_complete(&spec, &dir.path().join("export")).unwrap();
    let folder = export.dir.to_str().unwrap().to_owned();

    let (ok, stdout, stderr) = aaf_command(&config, &redis, &["import", &folder]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stderr.contains("bordereau checked"), "{stderr}");
    assert!(stdout.contains("Eleve"), "{stdout}");
    assert!(stdout.contains("generation serving:"), "{stdout}");

    let (ok, status, _) = aaf_command(&config, &redis, &["status"]);
    assert!(ok);
    assert!(status.contains("académie AC-RENNES (ENT2D)"), "{status}");
    let generation_line = status
        .lines()
        .find(|l| l.contains("generation"))
        .unwrap()
        .to_owned();

    let (ok, person, _) = aaf_command(&config, &redis, &["show", people::ACADEMIE, "3520001"]);
    assert!(ok, "{person}");
    assert!(person.contains("Louis Martin"), "{person}");
    assert!(person.contains("0359991V"), "{person}");
    let (ok, _, stderr) = aaf_command(&config, &redis, &["show", people::ACADEMIE, "0000000"]);
    assert!(!ok);
    assert!(stderr.contains("no person 0000000"), "{stderr}");

    // The same export with its pupils file cut in half: refused, the
    // generation does not change.
    let pupils = export
        .files
        .iter()
        .find(|f| f.name.contains("_Eleve_"))
        .unwrap();
    let path = export.dir.join(&pupils.name);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, &text[..text.len() / 2]).unwrap();
    std::fs::remove_file(export.dir.join(&export.bordereau)).unwrap();
    let (ok, stdout, stderr) = aaf_command(&config, &redis, &["import", &folder]);
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains("import refused, nothing switched"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{}: line ", pupils.name)),
        "{stderr}"
    );
    let (_, status, _) = aaf_command(&config, &redis, &["status"]);
    assert!(status.contains(&generation_line), "{status}");
}
