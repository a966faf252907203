//! Versioned legal notices and the usage charter, end to end (domain
//! reference §5): the footer names the version in force on every page
//! reachable before login; earlier versions stay readable; check-config
//! refuses a missing version, a bad date and duplicate versions with file,
//! line and field; the charter is asked at first login, recorded in the
//! store when accepted (and the flow goes on to the ENT), not asked again
//! for the same version, asked again for a new one; refusing it gives no
//! access; a forged, replayed or stolen answer is refused; a store failure
//! fails closed.

#![cfg(test)]

mod common;

use std::path::Path;

use common::{Browser, Page, Stack, form, link, login_at_ent};
use sso_gateway::demo::{DemoOptions, DemoStack, DemoStore};
use sso_gateway::events::{Who, person_reference};
use sso_gateway::legal::{CharterAcceptance, charter_key};
use sso_gateway::session::Session;
use sso_store::testing::RedisServer;
use sso_store::{get_json, put_json};
use sso_testbed::people;

const FOOTER: &str = "Mentions légales, version 2026-09 du 1er septembre 2026";

fn has_footer(page: &Page) {
    assert!(
        page.body.contains(FOOTER),
        "{} (status {}) has no versioned footer: {}",
        page.url,
        page.status,
        page.body
    );
    assert!(page.body.contains("dpd@ac-demo.example"), "{}", page.url);
}

/// Every page reachable before login: the home page, the discovery page
/// (plain and for a service's flow), the académie choice, error pages, the
/// page of an unavailable upstream, the legal notice and its earlier
/// version.
#[tokio::test]
async fn every_page_before_login_carries_the_footer_with_the_version() {
    let stack = Stack::memory().await;
    let mut browser = Browser::new();

    let home = browser.open(&stack.url("/")).await;
    assert_eq!(home.status, 200);
    has_footer(&home);

    let discovery = browser.open(&stack.url("/login")).await;
    assert_eq!(discovery.status, 200);
    has_footer(&discovery);

    let from_ent = browser.open(&stack.url("/testbed/ent/login")).await;
    assert!(from_ent.url.contains("/login?flow="), "{}", from_ent.url);
    has_footer(&from_ent);

    let expired = browser.open(&stack.url("/login?flow=unknown")).await;
    assert_eq!(expired.status, 400);
    has_footer(&expired);

    let unknown_idp = browser.open(&stack.url("/login/nobody")).await;
    assert_eq!(unknown_idp.status, 400);
    has_footer(&unknown_idp);

    let notice = browser.open(&stack.url("/mentions-legales")).await;
    assert_eq!(notice.status, 200);
    has_footer(&notice);
    assert!(notice.body.contains("en vigueur"), "{}", notice.body);
    assert!(
        notice.body.contains(
            "<a href=\"/mentions-legales/2026-01\">Version 2026-01 du 15 janvier 2026</a>"
        ),
        "{}",
        notice.body
    );

    // The earlier version is readable, marked as no longer in force.
    let earlier = browser.open(&stack.url("/mentions-legales/2026-01")).await;
    assert_eq!(earlier.status, 200);
    has_footer(&earlier);
    assert!(
        earlier.body.contains("ce n'est plus la version en vigueur"),
        "{}",
        earlier.body
    );
    assert!(!earlier.body.contains("ressources numériques de leur"));
    let missing = browser.open(&stack.url("/mentions-legales/1999-01")).await;
    assert_eq!(missing.status, 404);
    has_footer(&missing);

    // The académie choice of a parent in two académies.
    let mut parent = Browser::new();
    let choice = login_at_ent(
        &stack,
        &mut parent,
        "educonnect",
        people::PARENT_IN_TWO_ACADEMIES,
    )
    .await;
    assert!(choice.body.contains("Choisissez votre académie"));
    has_footer(&choice);

    // An upstream whose breaker is open.
    let upstream = stack.stack.state.upstream("agents").unwrap();
    let breaker = upstream.guard().unwrap().breaker();
    while breaker.admits() {
        breaker.try_acquire().unwrap().failed();
    }
    let unavailable = browser.open(&stack.url("/login/agents")).await;
    assert_eq!(unavailable.status, 503, "{}", unavailable.body);
    assert!(unavailable.body.contains("momentanément indisponible"));
    has_footer(&unavailable);
}

fn gateway(args: &[&str]) -> (bool, String) {
    let (ok, stdout, stderr) = common::run_gateway(args);
    (ok, format!("{stdout}{stderr}"))
}

fn line_of(file: &Path, needle: &str) -> usize {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .position(|line| line.contains(needle))
        .map(|index| index + 1)
        .unwrap()
}

fn edited_example(change: impl Fn(String) -> String) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = DemoStack::write_example(dir.path()).unwrap();
    let text = std::fs::read_to_string(&config).unwrap();
    let changed = change(text.clone());
    assert_ne!(changed, text, "the edit applies");
    std::fs::write(&config, changed).unwrap();
    (dir, config)
}

fn check(config: &Path) -> (bool, String) {
    gateway(&["check-config", "--config", config.to_str().unwrap()])
}

#[test]
fn check_config_locates_a_missing_version_a_bad_date_and_a_duplicate() {
    // Positive control: the example as written is valid.
    let dir = tempfile::tempdir().unwrap();
    let config = DemoStack::write_example(dir.path()).unwrap();
    let (ok, text) = check(&config);
    assert!(ok, "{text}");

    let (_dir, config) = edited_example(|text| text.replacen("version = \"2026-09\"\n", "", 1));
    let (ok, text) = check(&config);
    assert!(!ok);
    let line = line_of(&config, "[legal]");
    assert!(
        text.contains(&format!("gateway.toml:{line}: field `legal.version`")),
        "{text}"
    );

    let (_dir, config) = edited_example(|text| {
        text.replacen(
            "published = \"2026-09-01\"",
            "published = \"2026-09-31\"",
            1,
        )
    });
    let (ok, text) = check(&config);
    assert!(!ok);
    let line = line_of(&config, "published = \"2026-09-31\"");
    assert!(
        text.contains(&format!("gateway.toml:{line}: field `legal.published`"))
            && text.contains("not a date"),
        "{text}"
    );

    let (_dir, config) =
        edited_example(|text| text.replacen("version = \"2026-01\"", "version = \"2026-09\"", 1));
    let (ok, text) = check(&config);
    assert!(!ok);
    let line = line_of(&config, "published = \"2026-01-15\"") - 1;
    assert!(
        text.contains(&format!(
            "gateway.toml:{line}: field `legal.previous[0].version`"
        )) && text.contains("given twice"),
        "{text}"
    );

    let (_dir, config) = edited_example(|text| {
        text.replacen(
            "version = \"2026-01\"",
            "version = \"2026-01\"\nfile = \"absent.txt\"",
            1,
        )
    });
    let (ok, text) = check(&config);
    assert!(!ok);
    assert!(
        text.contains("field `legal.previous[0].file`") && text.contains("not both"),
        "{text}"
    );
}

#[test]
fn check_config_locates_a_bad_charter() {
    let (_dir, config) = edited_example(|text| {
        text.replacen(
            "\n[[legal.previous]]",
            "\n[legal.charter]\nversion = \"v 1\"\nfile = \"charte.txt\"\nprofiles = [\"National_XYZ\"]\n\n[[legal.previous]]",
            1,
        )
    });
    let (ok, text) = check(&config);
    assert!(!ok);
    let line = line_of(&config, "version = \"v 1\"");
    assert!(
        text.contains(&format!(
            "gateway.toml:{line}: field `legal.charter.version`"
        )),
        "{text}"
    );
    assert!(
        text.contains("field `legal.charter.file`") && text.contains("charte.txt"),
        "{text}"
    );
    assert!(text.contains("field `legal.charter.profiles[0]`"), "{text}");

    // Positive control: the same charter, well formed, with its file.
    std::fs::write(
        config.with_file_name("charte.txt"),
        "Je respecte les autres.\n\nJe garde mon mot de passe pour moi.\n",
    )
    .unwrap();
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("version = \"v 1\"", "version = \"v1\"")
        .replace("National_XYZ", "National_ELV");
    std::fs::write(&config, text).unwrap();
    let (ok, text) = check(&config);
    assert!(ok, "{text}");
}

fn charter_options(version: &str, profiles: Option<&str>) -> DemoOptions {
    let profiles = profiles
        .map(|p| format!("profiles = [\"{p}\"]\n"))
        .unwrap_or_default();
    let extra: toml::Table = toml::from_str(&format!(
        "[legal.charter]\nversion = \"{version}\"\ntext = [\"Je respecte les autres utilisateurs.\", \"Je garde mon mot de passe pour moi.\"]\n{profiles}"
    ))
    .unwrap();
    DemoOptions {
        extra_config: extra,
        ..DemoOptions::default()
    }
}

async fn memory_stack(options: DemoOptions) -> Stack {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stack = DemoStack::start(listener, DemoStore::Memory, options)
        .await
        .unwrap();
    Stack { stack, redis: None }
}

async fn redis_stack(options: DemoOptions) -> Stack {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Stack::redis_on(listener, options).await
}

fn is_charter_page(page: &Page) -> bool {
    page.status == 200 && page.body.contains("J'accepte la charte")
}

fn reached_the_ent(page: &Page) {
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.url.ends_with("/testbed/ent"), "{}", page.url);
    assert!(page.body.contains("Connecté"), "{}", page.body);
}

/// The charter form's fields with `decision` set.
fn answer(page: &Page, decision: &str) -> Vec<(String, String)> {
    let (action, mut fields) = form(&page.body).expect("the charter form");
    assert_eq!(action, "/charte");
    fields.retain(|(name, _)| name != "decision");
    fields.push(("decision".to_owned(), decision.to_owned()));
    fields
}

/// The session of `browser`.
async fn session_of(stack: &Stack, browser: &Browser) -> Session {
    let cookies = browser.cookies(&stack.url("/"));
    let session_id = cookies
        .split("; ")
        .find_map(|c| c.strip_prefix("sso_session="))
        .expect("a session");
    stack
        .stack
        .state
        .sessions()
        .get(session_id, chrono::Utc::now().timestamp())
        .await
        .unwrap()
        .expect("the session")
}

/// The acceptance recorded for the person logged in with `browser`.
async fn acceptance_of(stack: &Stack, browser: &Browser) -> Option<CharterAcceptance> {
    let session = session_of(stack, browser).await;
    get_json(stack.stack.state.store.as_ref(), &key_of(stack, &session))
        .await
        .unwrap()
}

fn key_of(stack: &Stack, session: &Session) -> String {
    let state = &stack.stack.state;
    let person = Who::of(&session.identity).person_key();
    charter_key(&person_reference(&state.identifier_keys, &person))
}

/// First login: the charter; accepted, the flow goes on to the ENT and the
/// store holds the version; the next login goes straight through; a new
/// version is asked again.
#[tokio::test]
async fn the_charter_is_asked_once_per_version_and_the_flow_goes_on() {
    let stack = redis_stack(charter_options("2026-09", None)).await;
    let mut pupil = Browser::new();
    let page = login_at_ent(&stack, &mut pupil, "educonnect", "eleve.louis").await;
    assert!(is_charter_page(&page), "{}", page.body);
    has_footer(&page);
    assert!(page.body.contains("Je garde mon mot de passe pour moi."));
    assert!(
        page.body
            .contains("<legend>Votre réponse à la charte d'utilisation</legend>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("autofocus"), "focus on the first answer");
    assert!(
        !pupil.cookies(&stack.url("/")).contains("sso_session="),
        "no session before the answer"
    );
    assert_eq!(
        stack.sp_state("ent").await["last_attributes"],
        serde_json::json!({})
    );

    let ent = pupil
        .post(&stack.url("/charte"), &answer(&page, "accepte"))
        .await;
    reached_the_ent(&ent);
    let accepted = acceptance_of(&stack, &pupil).await.expect("recorded");
    assert_eq!(accepted.version, "2026-09");
    assert!(
        chrono::DateTime::parse_from_rfc3339(&accepted.accepted_at).is_ok(),
        "{}",
        accepted.accepted_at
    );
    // The exact shape the audit helper reads: the version and the time only.
    let session = session_of(&stack, &pupil).await;
    let raw = stack
        .stack
        .state
        .store
        .get(&key_of(&stack, &session))
        .await
        .unwrap()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(json["version"], "2026-09", "{json}");
    assert_eq!(json.as_object().unwrap().len(), 2, "{json}");

    // Positive control: the next login (another browser) goes straight through.
    let mut again = Browser::new();
    let page = login_at_ent(&stack, &mut again, "educonnect", "eleve.louis").await;
    reached_the_ent(&page);
    assert!(!again.went_through("/charte"));

    // A new version (the stored acceptance is of an older one): asked again.
    let session = session_of(&stack, &again).await;
    put_json(
        stack.stack.state.store.as_ref(),
        &key_of(&stack, &session),
        &CharterAcceptance {
            version: "2025-09".into(),
            accepted_at: "2025-09-02T08:00:00Z".into(),
        },
        std::time::Duration::from_secs(3600),
    )
    .await
    .unwrap();
    let mut third = Browser::new();
    let page = login_at_ent(&stack, &mut third, "educonnect", "eleve.louis").await;
    assert!(is_charter_page(&page), "{}", page.body);
}

/// "Je refuse": a French page, no session, nothing recorded, the ENT
/// reached by nobody.
#[tokio::test]
async fn refusing_the_charter_gives_no_access() {
    let stack = memory_stack(charter_options("2026-09", None)).await;
    let mut pupil = Browser::new();
    let page = login_at_ent(&stack, &mut pupil, "educonnect", "eleve.louis").await;
    assert!(is_charter_page(&page), "{}", page.body);
    let refused = pupil
        .post(&stack.url("/charte"), &answer(&page, "refuse"))
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("Charte refusée"), "{}", refused.body);
    has_footer(&refused);
    assert!(!pupil.cookies(&stack.url("/")).contains("sso_session="));
    assert_eq!(
        stack.sp_state("ent").await["last_attributes"],
        serde_json::json!({})
    );
    let home = pupil.open(&stack.url("/")).await;
    assert!(!home.body.contains("Louis"), "not logged in: {}", home.body);

    // The ENT asks again: the discovery page, since no session was opened.
    let page = pupil.open(&stack.url("/testbed/ent/login")).await;
    assert!(page.url.contains("/login?flow="), "{}", page.url);
}

/// A forged request id, an answer from another browser and a replayed
/// answer are refused; the genuine answer is accepted once.
#[tokio::test]
async fn a_forged_stolen_or_replayed_answer_is_refused() {
    let stack = memory_stack(charter_options("2026-09", None)).await;
    let mut pupil = Browser::new();
    let page = login_at_ent(&stack, &mut pupil, "educonnect", "eleve.louis").await;
    assert!(is_charter_page(&page), "{}", page.body);
    let genuine = answer(&page, "accepte");

    let mut forged = genuine.clone();
    for (name, value) in &mut forged {
        if name == "request" {
            *value = "0".repeat(64);
        }
    }
    let refused = pupil.post(&stack.url("/charte"), &forged).await;
    assert_eq!(refused.status, 400, "{}", refused.body);

    // Positive control: the genuine answer from the right browser.
    let ent = pupil.post(&stack.url("/charte"), &genuine).await;
    reached_the_ent(&ent);

    // Replayed: already used.
    let replayed = pupil.post(&stack.url("/charte"), &genuine).await;
    assert_eq!(replayed.status, 400, "{}", replayed.body);

    // Stolen: another person's pending answer posted from another browser.
    let mut victim = Browser::new();
    let page = login_at_ent(&stack, &mut victim, "educonnect", "eleve.emma").await;
    assert!(is_charter_page(&page), "{}", page.body);
    let mut intruder = Browser::new();
    let stolen = intruder
        .post(&stack.url("/charte"), &answer(&page, "accepte"))
        .await;
    assert_eq!(stolen.status, 400, "{}", stolen.body);
    assert!(!intruder.cookies(&stack.url("/")).contains("sso_session="));
}

/// A charter for some profiles only: a parent is asked, a pupil is not; no
/// charter configured: no page.
#[tokio::test]
async fn the_charter_concerns_its_profiles_only_and_none_means_no_page() {
    let stack = memory_stack(charter_options("2026-09", Some("National_TUT"))).await;
    let mut pupil = Browser::new();
    let page = login_at_ent(&stack, &mut pupil, "educonnect", "eleve.louis").await;
    reached_the_ent(&page);
    let mut parent = Browser::new();
    let page = login_at_ent(&stack, &mut parent, "educonnect", "parent.martin").await;
    assert!(is_charter_page(&page), "{}", page.body);

    let plain = Stack::memory().await;
    let mut pupil = Browser::new();
    let page = login_at_ent(&plain, &mut pupil, "educonnect", "eleve.louis").await;
    reached_the_ent(&page);
    assert!(!pupil.went_through("/charte"));
}

/// The store down when the answer comes: the French 503 page, no session.
#[tokio::test]
async fn the_store_down_fails_closed() {
    let mut stack = redis_stack(charter_options("2026-09", None)).await;
    let mut pupil = Browser::new();
    let page = login_at_ent(&stack, &mut pupil, "educonnect", "eleve.louis").await;
    assert!(is_charter_page(&page), "{}", page.body);
    let redis: &mut RedisServer = stack.redis.as_mut().unwrap();
    redis.stop().await;
    let down = pupil
        .post(&stack.url("/charte"), &answer(&page, "accepte"))
        .await;
    assert_eq!(down.status, 503, "{}", down.body);
    assert!(
        down.body.contains("momentanément indisponible"),
        "{}",
        down.body
    );
    assert!(!pupil.cookies(&stack.url("/")).contains("sso_session="));
    assert_eq!(
        stack.sp_state("ent").await["last_attributes"],
        serde_json::json!({})
    );
}

/// The flow of a CAS service goes on after the acceptance too: the
/// browser is sent back to the service with a ticket that validates.
#[tokio::test]
async fn after_acceptance_a_cas_flow_reaches_its_service() {
    const SERVICE: &str = "http://127.0.0.1:9/callback";
    let mut options = charter_options("2026-09", None);
    options.extra_services = vec![(
        "ressource-cas.toml".to_owned(),
        format!(
            "id = \"ressource-cas\"\ndisplay_name = \"Ressource CAS de test\"\nkind = \"ent\"\n\n[cas]\nservices = [\"{SERVICE}\"]\n\n[release]\nattributes = [\"IDO\", \"UAI\"]\n"
        ),
    )];
    let stack = memory_stack(options).await;
    let mut pupil = Browser::new();
    pupil.hold_redirects_to = Some(SERVICE.to_owned());
    let service: String = url::form_urlencoded::byte_serialize(SERVICE.as_bytes()).collect();
    let discovery = pupil
        .open(&stack.url(&format!("/cas/login?service={service}")))
        .await;
    let target = link(&discovery.body, "/login/educonnect?flow=").unwrap();
    let accounts = pupil.open(&stack.url(&target)).await;
    let page = pupil.login_as(&accounts, "eleve.louis").await;
    assert!(is_charter_page(&page), "{}", page.body);
    let held = pupil
        .post(&stack.url("/charte"), &answer(&page, "accepte"))
        .await;
    let prefix = format!("{SERVICE}?ticket=");
    assert!(held.url.starts_with(&prefix), "{}", held.url);
    let ticket = &held.url[prefix.len()..];
    let xml = reqwest::get(stack.url(&format!(
        "/cas/p3/serviceValidate?service={service}&ticket={ticket}"
    )))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(xml.contains("<cas:authenticationSuccess>"), "{xml}");
}
