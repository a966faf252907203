//! Tests of the audit trail: writing, rotation, drops, collector, purge,
//! search and count, session index.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use sp_registry::{IdentifierKey, IdentifierKeys};
use sso_store::MemoryStore;

use super::index;
use super::purge::{first_day_kept, kept_until, purge};
use super::search::{Place, count, search};
use super::settings::AuditSettings;
use super::trail::{AuditTrail, file_name, parse_file_name};
use super::{Trace, TraceEvent};
use crate::events::{AccessEvent, LoginEvent, Who, person_reference, person_references};
use crate::observe::prometheus::{AccessOutcome, LoginOutcome, Protocol};
use crate::viewer::{Level, Scope};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const OLD_SECRET: &[u8] = b"the 2025 secret, rotated in 2026";

fn keys() -> IdentifierKeys {
    IdentifierKeys::new(IdentifierKey::from_bytes(SECRET).unwrap())
}

/// The key ring after a rotation: the new secret current, the old one
/// previous.
fn rotated() -> IdentifierKeys {
    IdentifierKeys::new(IdentifierKey::from_bytes(b"the 2026 secret, current from now").unwrap())
        .with_previous("y2025", IdentifierKey::from_bytes(OLD_SECRET).unwrap())
        .unwrap()
}

fn old_keys() -> IdentifierKeys {
    IdentifierKeys::new(IdentifierKey::from_bytes(OLD_SECRET).unwrap())
}

fn who(id: &str, uai: &str) -> Who {
    Who {
        idp: "educonnect".into(),
        subject: format!("sub-{id}"),
        aaf_refs: vec![format!("AC-RENNES|{id}")],
        academie: Some("AC-RENNES".into()),
        uais: vec![uai.into()],
        profiles: vec!["National_elv".into()],
    }
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn ip() -> Option<IpAddr> {
    Some("192.0.2.17".parse().unwrap())
}

fn login(who: Option<Who>, time: &str) -> LoginEvent {
    LoginEvent {
        at: at(time),
        idp: "educonnect".into(),
        outcome: if who.is_some() {
            LoginOutcome::Success
        } else {
            LoginOutcome::InvalidResponse
        },
        who,
        ip: ip(),
    }
}

fn settings(dir: &Path, capacity: usize) -> AuditSettings {
    AuditSettings {
        dir: dir.to_owned(),
        replica: "gw-a".into(),
        keep_previous_years: 1,
        purge_hour: 3,
        collector_url: None,
        queue_capacity: capacity,
    }
}

fn lines(path: &Path) -> Vec<Trace> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn traces_carry_the_documented_fields_and_round_trip() {
    let keys = keys();
    let louis = who("3520001", "0350001A");
    let trace = Trace::of_login(&keys, &login(Some(louis.clone()), "2026-03-02T08:15:00Z"));
    let json: serde_json::Value = serde_json::from_str(&trace.to_line().unwrap()).unwrap();
    assert_eq!(json["time"], "2026-03-02T08:15:00.000Z");
    assert_eq!(json["event"], "login");
    assert_eq!(json["idp"], "educonnect");
    assert_eq!(json["outcome"], "success");
    assert_eq!(
        json["person"],
        person_reference(&keys, "aaf:AC-RENNES|3520001").as_str()
    );
    assert_eq!(json["academie"], "AC-RENNES");
    assert_eq!(json["uais"], serde_json::json!(["0350001A"]));
    assert_eq!(json["ip"], "192.0.2.17");
    let line = trace.to_line().unwrap();
    assert!(!line.contains("3520001"), "no identifier in clear: {line}");
    assert!(!line.contains("sub-3520001"), "{line}");
    let back: Trace = serde_json::from_str(&line).unwrap();
    assert_eq!(back, trace);

    let access = Trace::of_access(
        &keys,
        &AccessEvent {
            at: at("2026-03-02T08:16:00Z"),
            service: "ent".into(),
            protocol: Protocol::Cas,
            outcome: AccessOutcome::RefusedSubscription,
            who: louis,
            ip: ip(),
        },
    );
    assert_eq!(access.event, TraceEvent::Access);
    assert_eq!(access.service.as_deref(), Some("ent"));
    assert_eq!(access.protocol.as_deref(), Some("cas"));
    assert_eq!(access.outcome, "refused_subscription");
    assert_eq!(access.person, trace.person);
    let back: Trace = serde_json::from_str(&access.to_line().unwrap()).unwrap();
    assert_eq!(back, access);
}

#[test]
fn a_failed_login_has_no_person() {
    let trace = Trace::of_login(&keys(), &login(None, "2026-03-02T08:15:00Z"));
    let json: serde_json::Value = serde_json::from_str(&trace.to_line().unwrap()).unwrap();
    assert_eq!(json["outcome"], "invalid_response");
    assert!(json.get("person").is_none(), "{json}");
    assert_eq!(json["ip"], "192.0.2.17");
}

#[test]
fn file_names_name_a_day_and_a_replica() {
    let day = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
    let name = file_name(day, "gw-a");
    assert_eq!(name, "audit-2026-01-31-gw-a.jsonl");
    assert_eq!(parse_file_name(&name), Some((day, "gw-a")));
    for other in [
        "audit-2026-01-31.jsonl",
        "audit-2026-01-31-.jsonl",
        "audit-2026-13-01-gw.jsonl",
        "audit-2026-01-31-gw-a.jsonl.gz",
        "notes-2026-01-31-gw-a.jsonl",
    ] {
        assert_eq!(parse_file_name(other), None, "{other}");
    }
}

#[tokio::test]
async fn traces_are_appended_to_the_file_of_their_utc_day() {
    let dir = tempfile::tempdir().unwrap();
    let trail = AuditTrail::start(&settings(dir.path(), 100), reqwest::Client::new());
    let keys = keys();
    // Across a UTC midnight (00:30 in Paris is still the 1st in UTC at 23:30).
    trail.login(
        &keys,
        &login(Some(who("1", "0350001A")), "2026-01-01T23:59:59Z"),
    );
    trail.login(
        &keys,
        &login(Some(who("2", "0350001A")), "2026-01-02T00:00:01Z"),
    );
    trail.flush().await;
    trail.login(
        &keys,
        &login(Some(who("3", "0350001A")), "2026-01-02T10:00:00Z"),
    );
    trail.flush().await;

    let first = lines(&dir.path().join("audit-2026-01-01-gw-a.jsonl"));
    let second = lines(&dir.path().join("audit-2026-01-02-gw-a.jsonl"));
    assert_eq!(first.len(), 1);
    assert_eq!(second.len(), 2, "appended to the day's file");
    assert_eq!(first[0].time, at("2026-01-01T23:59:59Z"));
    assert_eq!(second[0].time, at("2026-01-02T00:00:01Z"));
    assert_eq!(trail.dropped(), 0);
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    // Positive control: within the capacity nothing is dropped.
    let roomy = AuditTrail::start(&settings(dir.path(), 10), reqwest::Client::new());
    for n in 0..5 {
        roomy.login(
            &keys(),
            &login(Some(who(&n.to_string(), "U")), "2026-02-01T10:00:00Z"),
        );
    }
    roomy.flush().await;
    assert_eq!(roomy.dropped(), 0);
    assert_eq!(
        lines(&dir.path().join("audit-2026-02-01-gw-a.jsonl")).len(),
        5
    );

    // On this single-threaded runtime the writer cannot run while the test
    // records: a queue of 2 takes 2 traces and drops the other 8 at once.
    let other = tempfile::tempdir().unwrap();
    let tight = AuditTrail::start(&settings(other.path(), 2), reqwest::Client::new());
    for n in 0..10 {
        tight.login(
            &keys(),
            &login(Some(who(&n.to_string(), "U")), "2026-02-01T10:00:00Z"),
        );
    }
    assert_eq!(tight.dropped(), 8);
    tight.flush().await;
    assert_eq!(
        lines(&other.path().join("audit-2026-02-01-gw-a.jsonl")).len(),
        2
    );
}

#[tokio::test]
async fn an_unwritable_folder_drops_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the folder should be: nothing can be created in it
    // (whatever the user, root included).
    let not_a_dir = dir.path().join("audit");
    std::fs::write(&not_a_dir, "a file").unwrap();
    let trail = AuditTrail::start(&settings(&not_a_dir, 10), reqwest::Client::new());
    trail.login(&keys(), &login(Some(who("1", "U")), "2026-02-01T10:00:00Z"));
    trail.login(&keys(), &login(None, "2026-02-01T10:00:01Z"));
    trail.flush().await;
    assert_eq!(trail.dropped(), 2);

    // The same trail recovers once the folder exists (the file is reopened).
    std::fs::remove_file(&not_a_dir).unwrap();
    std::fs::create_dir(&not_a_dir).unwrap();
    trail.login(&keys(), &login(Some(who("1", "U")), "2026-02-01T10:00:02Z"));
    trail.flush().await;
    assert_eq!(trail.dropped(), 2);
    assert_eq!(
        lines(&not_a_dir.join("audit-2026-02-01-gw-a.jsonl")).len(),
        1
    );
}

#[tokio::test]
async fn a_disabled_trail_records_nothing() {
    let trail = AuditTrail::disabled();
    trail.login(&keys(), &login(Some(who("1", "U")), "2026-02-01T10:00:00Z"));
    trail.flush().await;
    assert_eq!(trail.dropped(), 0);
}

#[tokio::test]
async fn the_collector_receives_the_written_lines() {
    use axum::{Router, routing::post};
    let received: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let sink = Arc::clone(&received);
    let app = Router::new().route(
        "/ingest",
        post(move |headers: axum::http::HeaderMap, body: String| {
            let sink = Arc::clone(&sink);
            async move {
                let kind = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                sink.lock().unwrap().push((kind, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let mut with_collector = settings(dir.path(), 100);
    with_collector.collector_url = Some(format!("http://{address}/ingest").parse().unwrap());
    let trail = AuditTrail::start(&with_collector, reqwest::Client::new());
    trail.login(&keys(), &login(Some(who("1", "U")), "2026-02-01T10:00:00Z"));
    trail.login(&keys(), &login(None, "2026-02-01T10:00:01Z"));
    trail.flush().await;

    let mut posted = Vec::new();
    for _ in 0..100 {
        posted = received
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(kind, body)| {
                assert_eq!(kind, "application/x-ndjson");
                body.lines().map(str::to_owned).collect::<Vec<_>>()
            })
            .collect();
        if posted.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let file: Vec<String> = std::fs::read_to_string(dir.path().join("audit-2026-02-01-gw-a.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(posted, file, "the collector gets the lines of the file");
}

#[tokio::test]
async fn an_unreachable_collector_leaves_the_file_complete() {
    let dir = tempfile::tempdir().unwrap();
    let mut with_collector = settings(dir.path(), 100);
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    with_collector.collector_url = Some(format!("http://{address}/ingest").parse().unwrap());
    let trail = AuditTrail::start(&with_collector, reqwest::Client::new());
    trail.login(&keys(), &login(Some(who("1", "U")), "2026-02-01T10:00:00Z"));
    trail.flush().await;
    assert_eq!(trail.dropped(), 0);
    assert_eq!(
        lines(&dir.path().join("audit-2026-02-01-gw-a.jsonl")).len(),
        1
    );
}

/// A folder with a trace file for each day named, and other files.
fn folder_of(days: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for day in days {
        std::fs::write(dir.path().join(format!("audit-{day}-gw-a.jsonl")), "{}\n").unwrap();
    }
    dir
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

#[test]
fn the_purge_keeps_the_current_and_the_previous_year() {
    let dir = folder_of(&[
        "2025-01-01",
        "2025-12-31",
        "2026-01-01",
        "2026-12-31",
        "2027-01-01",
    ]);
    // Not traces: never deleted, however old their names look.
    for other in [
        "audit-2020-01-01-gw-a.jsonl.gz",
        "README",
        "audit-2020-01-01.jsonl",
    ] {
        std::fs::write(dir.path().join(other), "keep me").unwrap();
    }
    std::fs::create_dir(dir.path().join("audit-2020-01-01-dir.jsonl")).unwrap();

    // Positive control: on 31 December 2026, 2025 is still the previous year.
    let report = purge(dir.path(), day("2026-12-31"), 1).unwrap();
    assert!(report.deleted.is_empty(), "{report:?}");
    assert_eq!(report.kept, 5);

    let report = purge(dir.path(), day("2027-01-01"), 1).unwrap();
    assert_eq!(report.first_day_kept, Some(day("2026-01-01")));
    assert_eq!(report.deleted.len(), 2);
    assert_eq!(report.kept, 3);
    assert_eq!(
        names(dir.path()),
        [
            "README",
            "audit-2020-01-01-dir.jsonl",
            "audit-2020-01-01-gw-a.jsonl.gz",
            "audit-2020-01-01.jsonl",
            "audit-2026-01-01-gw-a.jsonl",
            "audit-2026-12-31-gw-a.jsonl",
            "audit-2027-01-01-gw-a.jsonl",
        ]
    );
}

#[test]
fn with_no_previous_year_only_the_current_year_stays() {
    let dir = folder_of(&["2026-06-30", "2026-12-31", "2027-01-01", "2027-03-01"]);
    let report = purge(dir.path(), day("2027-03-01"), 0).unwrap();
    assert_eq!(report.deleted.len(), 2);
    assert_eq!(
        names(dir.path()),
        ["audit-2027-01-01-gw-a.jsonl", "audit-2027-03-01-gw-a.jsonl"]
    );
}

#[test]
fn retention_dates() {
    assert_eq!(
        first_day_kept(day("2027-01-01"), 1),
        Some(day("2026-01-01"))
    );
    assert_eq!(
        first_day_kept(day("2027-07-14"), 0),
        Some(day("2027-01-01"))
    );
    assert_eq!(kept_until(day("2026-03-02"), 1), Some(day("2027-12-31")));
    assert!(purge(Path::new("/nonexistent/audit"), day("2027-01-01"), 1).is_err());
}

/// Writes traces to `dir` through a trail.
async fn write(dir: &Path, traces: Vec<Trace>) {
    let trail = AuditTrail::start(&settings(dir, 1000), reqwest::Client::new());
    for trace in traces {
        trail.record(trace);
    }
    trail.flush().await;
    assert_eq!(trail.dropped(), 0);
}

#[tokio::test]
async fn a_search_finds_the_person_under_current_and_previous_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let louis = who("3520001", "0350001A");
    let lea = who("3520002", "0350001A");
    let access = |keys: &IdentifierKeys, who: &Who, time: &str| {
        Trace::of_access(
            keys,
            &AccessEvent {
                at: at(time),
                service: "ent".into(),
                protocol: Protocol::Saml,
                outcome: AccessOutcome::Granted,
                who: who.clone(),
                ip: ip(),
            },
        )
    };
    write(
        dir.path(),
        vec![
            // Before the rotation: the old secret was current.
            Trace::of_login(
                &old_keys(),
                &login(Some(louis.clone()), "2025-12-30T09:00:00Z"),
            ),
            access(&old_keys(), &louis, "2025-12-30T09:00:05Z"),
            // After it.
            Trace::of_login(
                &rotated(),
                &login(Some(louis.clone()), "2026-01-05T09:00:00Z"),
            ),
            Trace::of_login(
                &rotated(),
                &login(Some(lea.clone()), "2026-01-05T09:01:00Z"),
            ),
            Trace::of_login(&rotated(), &login(None, "2026-01-05T09:02:00Z")),
            // Outside the period.
            Trace::of_login(
                &rotated(),
                &login(Some(louis.clone()), "2026-02-01T09:00:00Z"),
            ),
        ],
    )
    .await;

    let references = person_references(&rotated(), &louis.person_key());
    let (found, read) = search(
        dir.path(),
        day("2025-12-01"),
        day("2026-01-31"),
        &references,
    )
    .unwrap();
    let times: Vec<_> = found.iter().map(|t| t.time).collect();
    assert_eq!(
        times,
        [
            at("2025-12-30T09:00:00Z"),
            at("2025-12-30T09:00:05Z"),
            at("2026-01-05T09:00:00Z")
        ]
    );
    assert_eq!(read.files, 2);
    assert_eq!(read.days_in_period, 62);

    // Negative controls: the current secret alone misses the older traces,
    // and another person's references find only theirs.
    let current_only = vec![person_reference(&rotated(), &louis.person_key())];
    let (found, _) = search(
        dir.path(),
        day("2025-12-01"),
        day("2026-01-31"),
        &current_only,
    )
    .unwrap();
    assert_eq!(found.len(), 1);
    let (found, _) = search(
        dir.path(),
        day("2025-12-01"),
        day("2026-01-31"),
        &person_references(&rotated(), &lea.person_key()),
    )
    .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].time, at("2026-01-05T09:01:00Z"));
    assert!(
        search(
            dir.path(),
            day("2026-02-01"),
            day("2026-01-01"),
            &references
        )
        .is_err()
    );
}

#[tokio::test]
async fn counts_are_of_distinct_people_of_the_scope() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys();
    let a = who("1", "0350001A"); // Ille-et-Vilaine
    let b = who("2", "0350001A");
    let c = who("3", "0350002B"); // Ille-et-Vilaine, another school
    let mut d = who("4", "0290001C"); // Finistère
    let mut e = who("5", "0440001D"); // Nantes
    e.academie = Some("AC-NANTES".into());
    d.profiles = vec!["National_ens".into()];
    let mut traces = Vec::new();
    for (person, times) in [
        (
            &a,
            vec![
                "2026-03-02T08:00:00Z",
                "2026-03-03T08:00:00Z",
                "2026-03-04T08:00:00Z",
            ],
        ),
        (&b, vec!["2026-03-02T08:05:00Z"]),
        (&c, vec!["2026-03-03T08:05:00Z", "2026-03-03T12:05:00Z"]),
        (&d, vec!["2026-03-02T09:00:00Z"]),
        (&e, vec!["2026-03-02T09:30:00Z"]),
    ] {
        for time in times {
            traces.push(Trace::of_login(&keys, &login(Some(person.clone()), time)));
        }
    }
    // Neither failures nor accesses count as people who logged in.
    traces.push(Trace::of_login(&keys, &login(None, "2026-03-02T10:00:00Z")));
    let mut refused = Trace::of_login(
        &keys,
        &login(Some(who("6", "0350001A")), "2026-03-02T10:00:00Z"),
    );
    refused.outcome = "refused_by_directory".into();
    traces.push(refused);
    write(dir.path(), traces).await;

    let places: HashMap<String, Place> = [
        ("0350001A", "035"),
        ("0350002B", "035"),
        ("0290001C", "029"),
        ("0440001D", "044"),
    ]
    .into_iter()
    .map(|(uai, dep)| {
        (
            uai.to_owned(),
            Place {
                departement: Some(dep.to_owned()),
                ..Place::default()
            },
        )
    })
    .collect();
    let count_at = |level, code: &str| {
        count(
            dir.path(),
            day("2026-03-01"),
            day("2026-03-31"),
            &Scope {
                level,
                code: code.into(),
            },
            &places,
        )
        .unwrap()
    };
    let school = count_at(Level::Ecole, "0350001A");
    assert_eq!((school.people, school.logins), (2, 4), "a counted once");
    let departement = count_at(Level::Departement, "035");
    assert_eq!((departement.people, departement.logins), (3, 6));
    assert_eq!(count_at(Level::Departement, "029").people, 1);
    assert_eq!(count_at(Level::Academie, "AC-RENNES").people, 4);
    assert_eq!(count_at(Level::Academie, "AC-NANTES").people, 1);
    assert_eq!(count_at(Level::National, "").people, 5);
    let nobody = count_at(Level::Ecole, "0359999Z");
    assert_eq!((nobody.people, nobody.logins), (0, 0));
    assert_eq!(school.read.days_covered, 3);
    assert_eq!(school.read.days_in_period, 31);

    // A shorter period: only the 3rd.
    let third = count(
        dir.path(),
        day("2026-03-03"),
        day("2026-03-03"),
        &Scope {
            level: Level::Departement,
            code: "035".into(),
        },
        &places,
    )
    .unwrap();
    assert_eq!((third.people, third.logins), (2, 3));
}

#[tokio::test]
async fn the_session_index_opens_only_for_its_person() {
    let store = MemoryStore::new();
    let keys = keys();
    let louis = "aaf:AC-RENNES|3520001";
    let lea = "aaf:AC-RENNES|3520002";
    let ttl = Duration::from_secs(60);
    index::add(&store, &keys, louis, "session-one", ttl)
        .await
        .unwrap();
    index::add(&store, &keys, louis, "session-two", ttl)
        .await
        .unwrap();
    index::add(&store, &keys, lea, "session-three", ttl)
        .await
        .unwrap();

    let mut found = index::sessions_of(&store, &keys, louis).await.unwrap();
    found.sort();
    assert_eq!(found, ["session-one", "session-two"]);
    assert_eq!(
        index::sessions_of(&store, &keys, lea).await.unwrap(),
        ["session-three"]
    );

    // The stored members do not show the session ids.
    let members =
        sso_store::Store::set_members(&store, &index::index_key(&person_reference(&keys, louis)))
            .await
            .unwrap();
    assert_eq!(members.len(), 2);
    assert!(
        members
            .iter()
            .all(|m| !String::from_utf8_lossy(&hex::decode(m).unwrap()).contains("session-")),
        "{members:?}"
    );

    // Written before a rotation, found after it.
    let rotated_store = MemoryStore::new();
    index::add(&rotated_store, &old_keys(), louis, "old-session", ttl)
        .await
        .unwrap();
    assert_eq!(
        index::sessions_of(&rotated_store, &rotated(), louis)
            .await
            .unwrap(),
        ["old-session"]
    );
    assert!(
        index::sessions_of(&rotated_store, &keys, louis)
            .await
            .unwrap()
            .is_empty(),
        "another secret does not open it"
    );

    index::forget(&store, &keys, louis).await.unwrap();
    assert!(
        index::sessions_of(&store, &keys, louis)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        index::sessions_of(&store, &keys, lea).await.unwrap(),
        ["session-three"],
        "another person's index is untouched"
    );
}

#[test]
fn times_are_utc_rfc3339() {
    let trace = Trace::of_login(&keys(), &login(None, "2026-03-02T08:15:00+01:00"));
    assert_eq!(trace.time_text(), "2026-03-02T07:15:00.000Z");
    assert_eq!(
        trace.time,
        Utc.with_ymd_and_hms(2026, 3, 2, 7, 15, 0).unwrap()
    );
}
