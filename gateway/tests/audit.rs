//! The audit trail and the rights requests through the binary (issue 8,
//! domain reference §5): `[audit]` checked with file, line and field;
//! `sso-gateway audit purge|search|count` on the example configuration;
//! `sso-gateway privacy export|forget` end to end on a real Redis, with
//! people logged in through HTTP.

#![cfg(test)]

mod common;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use common::{Browser, Stack, login_at_ent};
use serde_json::Value;
use sso_gateway::audit::AuditTrail;
use sso_gateway::audit::settings::settings;
use sso_gateway::config::LoadedConfig;
use sso_gateway::demo::DemoStack;
use sso_gateway::events::{AccessEvent, LoginEvent, Who, person_reference};
use sso_gateway::observe::prometheus::{AccessOutcome, LoginOutcome, Protocol};
use sso_testbed::people;

fn example() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = DemoStack::write_example(dir.path()).unwrap();
    (dir, config)
}

fn replace(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{from:?} not in {}", file.display());
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

fn line_of(file: &Path, needle: &str) -> usize {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .position(|line| line.contains(needle))
        .map(|index| index + 1)
        .unwrap()
}

#[test]
fn wrong_audit_settings_are_located() {
    // Positive control: the example is valid, without the warning.
    let (_dir, config) = example();
    let path = config.to_str().unwrap();
    let (ok, _, stderr) = common::run_gateway(&["check-config", "--config", path]);
    assert!(ok, "{stderr}");
    assert!(!stderr.contains("[audit]"), "{stderr}");

    for (from, to, field) in [
        (
            "keep_previous_years = 1",
            "keep_previous_years = 9",
            "audit.keep_previous_years",
        ),
        ("purge_hour = 3", "purge_hour = 24", "audit.purge_hour"),
        (
            "queue_capacity = 10000",
            "queue_capacity = 0",
            "audit.queue_capacity",
        ),
        (
            "# collector_url = \"https://logs.example.fr/ingest/sso\"",
            "collector_url = \"ftp://logs.example.fr/\"",
            "audit.collector_url",
        ),
        (
            "# replica_name = \"gateway-0\"",
            "replica_name = \"../gateway\"",
            "audit.replica_name",
        ),
    ] {
        let (_dir, config) = example();
        replace(&config, from, to);
        let path = config.to_str().unwrap();
        let (ok, _, stderr) = common::run_gateway(&["check-config", "--config", path]);
        assert!(!ok, "{to} accepted");
        let line = line_of(&config, to);
        let expected = format!("{path}:{line}: field `{field}`");
        assert!(
            stderr.contains(&expected),
            "expected {expected:?} in:\n{stderr}"
        );
    }

    // A folder that cannot be created.
    let (dir, config) = example();
    std::fs::write(dir.path().join("a-file"), "").unwrap();
    replace(&config, "dir = \"audit\"", "dir = \"a-file/audit\"");
    let (ok, _, stderr) =
        common::run_gateway(&["check-config", "--config", config.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("field `audit.dir`"), "{stderr}");
    assert!(stderr.contains("cannot create the folder"), "{stderr}");
}

#[test]
fn a_configuration_without_audit_is_valid_but_warned_about() {
    let (_dir, config) = example();
    let text = std::fs::read_to_string(&config).unwrap();
    let start = text.find("[audit]").unwrap();
    let end = text.find("[session]").unwrap();
    std::fs::write(&config, format!("{}{}", &text[..start], &text[end..])).unwrap();
    let (ok, stdout, stderr) =
        common::run_gateway(&["check-config", "--config", config.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("configuration is valid"));
    assert!(
        stderr.contains("warning:") && stderr.contains("no [audit] table"),
        "{stderr}"
    );
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn who(id: &str, uai: &str) -> Who {
    Who {
        idp: "educonnect".into(),
        subject: format!("sub-{id}"),
        aaf_refs: vec![format!("{}|{id}", people::ACADEMIE)],
        academie: Some(people::ACADEMIE.into()),
        uais: vec![uai.into()],
        profiles: vec!["National_elv".into()],
    }
}

fn login_event(who: &Who, time: &str) -> LoginEvent {
    LoginEvent {
        at: at(time),
        idp: who.idp.clone(),
        outcome: LoginOutcome::Success,
        who: Some(who.clone()),
        ip: Some("198.51.100.7".parse().unwrap()),
    }
}

fn access_event(who: &Who, time: &str) -> AccessEvent {
    AccessEvent {
        at: at(time),
        service: "ent-college".into(),
        protocol: Protocol::Saml,
        outcome: AccessOutcome::Granted,
        who: who.clone(),
        ip: Some("198.51.100.7".parse().unwrap()),
    }
}

#[tokio::test]
async fn operators_purge_search_and_count_through_the_binary() {
    let (dir, config) = example();
    let loaded = LoadedConfig::load(&config).unwrap();
    let audit = settings(&loaded).unwrap().unwrap();
    assert_eq!(audit.dir, dir.path().join("audit"));
    let keys = sso_gateway::state::identifier_keys(&loaded).unwrap();
    let trail = AuditTrail::start(&audit, reqwest::Client::new());
    let louis = who("3520001", "0350001A");
    let lea = who("3510001", "0350001A");
    let hugo = who("3520003", "0350002B");
    trail.login(&keys, &login_event(&louis, "2025-06-01T08:00:00Z"));
    trail.login(&keys, &login_event(&louis, "2026-03-02T08:00:00Z"));
    trail.access(&keys, &access_event(&louis, "2026-03-02T08:00:02Z"));
    trail.login(&keys, &login_event(&louis, "2026-03-03T08:00:00Z"));
    trail.login(&keys, &login_event(&lea, "2026-03-02T08:10:00Z"));
    trail.login(&keys, &login_event(&hugo, "2026-03-02T08:20:00Z"));
    trail.flush().await;
    assert_eq!(trail.dropped(), 0);
    let path = config.to_str().unwrap();

    let (ok, stdout, stderr) = common::run_gateway(&[
        "audit",
        "--config",
        path,
        "search",
        "--academie",
        people::ACADEMIE,
        "--id",
        "3520001",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let found: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(found.len(), 3, "{stdout}");
    let reference = person_reference(&keys, &louis.person_key());
    assert!(found.iter().all(|t| t["person"] == reference.as_str()));
    assert_eq!(found[1]["service"], "ent-college");
    assert_eq!(found[1]["ip"], "198.51.100.7");
    assert!(stderr.contains("3 trace(s)"), "{stderr}");

    let (ok, stdout, stderr) = common::run_gateway(&[
        "audit",
        "--config",
        path,
        "count",
        "--level",
        "ecole",
        "--code",
        "0350001A",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["people"], 2, "{stdout}");
    assert_eq!(report["logins"], 3);
    let (ok, stdout, _) = common::run_gateway(&[
        "audit",
        "--config",
        path,
        "count",
        "--level",
        "academie",
        "--code",
        people::ACADEMIE,
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
    ]);
    assert!(ok);
    assert!(stdout.starts_with("3 personne(s) distincte(s)"), "{stdout}");

    // Purge on 1 January 2027: the 2025 file goes, 2026 stays.
    let (ok, stdout, stderr) =
        common::run_gateway(&["audit", "--config", path, "purge", "--today", "2027-01-01"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("1 file(s) deleted, 2 kept"), "{stdout}");
    let (ok, stdout, _) = common::run_gateway(&[
        "audit",
        "--config",
        path,
        "search",
        "--academie",
        people::ACADEMIE,
        "--id",
        "3520001",
        "--from",
        "2025-01-01",
        "--to",
        "2026-12-31",
        "--json",
    ]);
    assert!(ok);
    assert_eq!(
        stdout.lines().count(),
        3,
        "the 2025 trace is gone: {stdout}"
    );

    let (ok, _, stderr) = common::run_gateway(&[
        "audit",
        "--config",
        path,
        "search",
        "--academie",
        people::ACADEMIE,
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
    ]);
    assert!(!ok, "a person is named completely");
    assert!(stderr.contains("--id"), "{stderr}");
}

/// `sso-gateway privacy <args>` against the stack's Redis: its JSON.
fn privacy(stack: &Stack, args: &[&str]) -> Value {
    let (ok, stdout, stderr) = common::operator_command(
        "privacy",
        &stack.stack.config_path,
        stack.redis.as_ref().unwrap(),
        args,
    );
    assert!(ok, "{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("{err}: {stdout}"))
}

async fn signed_in_as(stack: &Stack, browser: &mut Browser) -> Option<String> {
    let home = browser.open(&stack.url("/")).await;
    assert_eq!(home.status, 200);
    let marker = "connecté(e) en tant que <strong>";
    home.body.find(marker).map(|start| {
        let rest = &home.body[start + marker.len()..];
        rest[..rest.find('<').unwrap()].to_owned()
    })
}

#[tokio::test]
async fn a_person_is_exported_and_forgotten_and_nobody_else() {
    let stack = Stack::redis().await;
    let state = &stack.stack.state;
    let mut louis = Browser::new();
    login_at_ent(&stack, &mut louis, "educonnect", "eleve.louis").await;
    let mut lea = Browser::new();
    login_at_ent(&stack, &mut lea, "educonnect", "eleve.lea").await;
    assert_eq!(
        signed_in_as(&stack, &mut louis).await.as_deref(),
        Some("Louis Martin")
    );
    let lea_name = signed_in_as(&stack, &mut lea).await;
    assert!(lea_name.is_some());

    // Their logins and the ENT's accesses were traced by the gateway
    // itself; Louis's charter acceptance is written as the charter page
    // does (no charter in the example configuration).
    let keys = &state.identifier_keys;
    state.audit.flush().await;
    assert_eq!(state.audit.dropped(), 0);
    let now = Utc::now();
    let louis_who = who("3520001", people::COLLEGE_UAI);
    let reference = person_reference(keys, &louis_who.person_key());
    state
        .store
        .put(
            &format!("charter:{{{reference}}}"),
            br#"{"version":"2026-09","accepted_at":"2026-09-01T08:00:00Z"}"#,
            std::time::Duration::from_secs(3600),
        )
        .await
        .unwrap();

    // The count of a département: the schools' départements come from the
    // directory in Redis.
    let structures = sso_directory::store::Directory::new(std::sync::Arc::clone(&state.store))
        .references(people::ACADEMIE)
        .await
        .unwrap()
        .structures;
    let departement_of = |uai: &str| {
        structures
            .values()
            .find(|s| s.uai.as_deref() == Some(uai))
            .and_then(|s| s.departement.clone())
            .unwrap()
    };
    let departement = departement_of(people::COLLEGE_UAI);
    assert_eq!(departement, departement_of(people::ECOLE_UAI));
    let day = now.format("%Y-%m-%d").to_string();
    let count = |code: &str| {
        let (ok, stdout, stderr) = common::operator_command(
            "audit",
            &stack.stack.config_path,
            stack.redis.as_ref().unwrap(),
            &[
                "count",
                "--level",
                "departement",
                "--code",
                code,
                "--from",
                &day,
                "--to",
                &day,
                "--json",
            ],
        );
        assert!(ok, "{stderr}");
        serde_json::from_str::<Value>(&stdout).unwrap()
    };
    let counted = count(&departement);
    assert_eq!(counted["people"], 2, "{counted}");
    assert_eq!(counted["logins"], 2, "{counted}");
    assert_eq!(count("976")["people"], 0, "another département");

    let louis_args = ["--academie", people::ACADEMIE, "--id", "3520001"];
    let export = privacy(&stack, &[&["export"][..], &louis_args].concat());
    assert_eq!(
        export["person"],
        format!("aaf:{}|3520001", people::ACADEMIE)
    );
    assert_eq!(export["directory_record"]["id"], "3520001");
    assert_eq!(export["directory_record"]["given_name"], "Louis");
    let sessions = export["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{export}");
    assert_eq!(sessions[0]["idp"], "educonnect");
    assert!(
        !sessions[0]["services"].as_array().unwrap().is_empty(),
        "{export}"
    );
    assert_eq!(export["consents"]["charter"]["version"], "2026-09");
    let traces = export["traces"]["traces"].as_array().unwrap();
    assert_eq!(traces.len(), 2, "{export}");
    // The login and the ENT's access it answered (the same millisecond:
    // their order is not meaningful).
    let mut events: Vec<&str> = traces
        .iter()
        .map(|t| t["event"].as_str().unwrap())
        .collect();
    events.sort_unstable();
    assert_eq!(events, ["access", "login"], "{export}");
    assert!(traces.iter().all(|t| t["idp"] == "educonnect"), "{export}");
    assert!(traces.iter().all(|t| t["person"] == reference.as_str()));
    assert!(traces.iter().all(|t| t["ip"].is_string()), "{export}");
    assert!(
        export["statistics"]
            .as_str()
            .unwrap()
            .contains("aucun identifiant")
    );
    let text = export.to_string();
    let cookie = louis.cookies(&stack.url("/"));
    let session_id = cookie
        .split("; ")
        .find_map(|c| c.strip_prefix("sso_session="))
        .unwrap();
    assert!(
        !text.contains(session_id),
        "the session id (a bearer secret) is not exported"
    );

    // Léa's export: her session only, nothing of Louis.
    let lea_export = privacy(
        &stack,
        &["export", "--academie", people::ACADEMIE, "--id", "3510001"],
    );
    assert_eq!(lea_export["sessions"].as_array().unwrap().len(), 1);
    assert!(lea_export["consents"]["charter"].is_null());
    let lea_traces = lea_export["traces"]["traces"].as_array().unwrap();
    assert_eq!(lea_traces.len(), 2, "{lea_export}");
    assert!(lea_traces.iter().all(|t| t["person"] != reference.as_str()));

    let forgotten = privacy(&stack, &[&["forget"][..], &louis_args].concat());
    assert_eq!(forgotten["sessions_ended"], 1, "{forgotten}");
    assert_eq!(forgotten["charter_removed"], true);
    let kept: Vec<&str> = forgotten["kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["what"].as_str().unwrap())
        .collect();
    assert_eq!(kept, ["directory_record", "traces", "statistics"]);
    let until = forgotten["kept"][1]["until"].as_str().unwrap();
    let year: i32 = now.format("%Y").to_string().parse().unwrap();
    assert_eq!(until, format!("{}-12-31", year + 1));
    assert!(
        forgotten["kept"][0]["why"]
            .as_str()
            .unwrap()
            .contains("académie"),
        "{forgotten}"
    );

    // The cookie no longer opens a session; Léa's still does.
    assert_eq!(signed_in_as(&stack, &mut louis).await, None);
    assert_eq!(signed_in_as(&stack, &mut lea).await, lea_name);

    // What remains: the directory record and the traces; no session, no
    // charter acceptance.
    let after = privacy(&stack, &[&["export"][..], &louis_args].concat());
    assert!(after["sessions"].as_array().unwrap().is_empty());
    assert!(after["consents"]["charter"].is_null());
    assert_eq!(after["traces"]["traces"].as_array().unwrap().len(), 2);
    assert_eq!(after["directory_record"]["id"], "3520001");
    let lea_after = privacy(
        &stack,
        &["export", "--academie", people::ACADEMIE, "--id", "3510001"],
    );
    assert_eq!(lea_after["sessions"].as_array().unwrap().len(), 1);
}
