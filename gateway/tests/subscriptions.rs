//! Subscriptions at access time, end to end through HTTP: a resource opens
//! only for users whose school holds a valid subscription covering them; a
//! refusal is a French page and is counted. The example subscriptions are
//! imported by the demo stack; changes go through the shared store, as the
//! CLI and other replicas see them. Then the operator's CLI.

#![cfg(test)]

mod common;

use chrono::{Duration, Utc};
use common::{Browser, Stack, login_at_ent};
use sp_registry::subscription::parse_file;
use sso_gateway::demo::DemoStack;
use sso_gateway::subscriptions;
use sso_store::testing::RedisServer;

const EXAMPLE: &str = include_str!("../../config/example/subscriptions.json");

fn refused_today(service: &str, reason: &str) -> String {
    format!(
        "count:refused:{}:{service}:{reason}",
        Utc::now().date_naive()
    )
}

async fn count(stack: &Stack, key: &str) -> u64 {
    stack
        .stack
        .state
        .store
        .get(key)
        .await
        .unwrap()
        .map(|v| String::from_utf8(v).unwrap().parse().unwrap())
        .unwrap_or(0)
}

async fn open_textbook(stack: &Stack, login: &str) -> common::Page {
    let mut browser = Browser::new();
    login_at_ent(stack, &mut browser, "educonnect", login).await;
    browser.open(&stack.url("/testbed/manuel/login")).await
}

#[tokio::test]
async fn a_pupil_without_a_subscription_gets_a_french_page_and_is_counted_on_redis() {
    let stack = Stack::redis().await;
    // Positive control: Louis's collège subscribes to the textbook.
    let louis = open_textbook(&stack, "eleve.louis").await;
    assert!(louis.url.ends_with("/testbed/manuel"), "{}", louis.url);

    // Léa's école does not.
    let lea = open_textbook(&stack, "eleve.lea").await;
    assert_eq!(lea.status, 403, "{}", lea.body);
    assert!(
        lea.body.contains("Ressource non disponible"),
        "{}",
        lea.body
    );
    assert!(lea.body.contains("documentaliste"), "{}", lea.body);
    assert_eq!(
        count(
            &stack,
            &refused_today("manuel-numerique", "no_subscription")
        )
        .await,
        1
    );
}

#[tokio::test]
async fn an_expired_subscription_closes_the_resource_until_renewed_in_memory() {
    let stack = Stack::memory().await;
    let store = stack.stack.state.store.as_ref();
    let registry = &stack.stack.state.registry.get();
    let mut renewed = parse_file(EXAMPLE, registry).unwrap();
    let today = Utc::now().date_naive();
    let college = renewed
        .iter_mut()
        .find(|s| s.id == "ABO-MANUEL-0359991V")
        .unwrap();
    let mut expired = college.clone();
    expired.valid_until = today - Duration::days(1);
    expired.valid_from = today - Duration::days(365);
    subscriptions::put_all(store, &[expired], today)
        .await
        .unwrap();

    let page = open_textbook(&stack, "eleve.louis").await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert_eq!(
        count(
            &stack,
            &refused_today("manuel-numerique", "not_valid_today")
        )
        .await,
        1
    );

    subscriptions::put_all(store, std::slice::from_ref(college), today)
        .await
        .unwrap();
    let page = open_textbook(&stack, "eleve.louis").await;
    assert!(page.url.ends_with("/testbed/manuel"), "{}", page.url);
}

#[tokio::test]
async fn a_teacher_individually_assigned_opens_the_bank_in_memory() {
    // ABO-BANQUE-0359992W is INDIV for the lycée: prof.garnier (lycée only)
    // is assigned; the teachers' bank opens for him.
    let stack = Stack::memory().await;
    let mut browser = Browser::new();
    login_at_ent(&stack, &mut browser, "agents", "prof.garnier").await;
    let bank = browser.open(&stack.url("/testbed/enseignants/login")).await;
    assert!(
        bank.url.ends_with("/testbed/enseignants"),
        "{} {}",
        bank.url,
        bank.body
    );

    // Without his assignment, refused.
    let registry = &stack.stack.state.registry.get();
    let mut subs = parse_file(EXAMPLE, registry).unwrap();
    let lycee = subs
        .iter_mut()
        .find(|s| s.id == "ABO-BANQUE-0359992W")
        .unwrap();
    lycee.assigned.retain(|user| !user.ends_with("|3550006"));
    subscriptions::put_all(
        stack.stack.state.store.as_ref(),
        std::slice::from_ref(lycee),
        Utc::now().date_naive(),
    )
    .await
    .unwrap();
    let mut browser = Browser::new();
    login_at_ent(&stack, &mut browser, "agents", "prof.garnier").await;
    let bank = browser.open(&stack.url("/testbed/enseignants/login")).await;
    assert_eq!(bank.status, 403, "{}", bank.body);
    assert_eq!(
        count(&stack, &refused_today("espace-enseignants", "not_assigned")).await,
        1
    );
}

fn cli(config: &std::path::Path, redis: &RedisServer, args: &[&str]) -> (bool, String, String) {
    common::operator_command("subscriptions", config, redis, args)
}

#[tokio::test]
async fn the_cli_imports_a_valid_file_and_refuses_a_bad_one_whole() {
    let redis = RedisServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = DemoStack::write_example(dir.path()).unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        EXAMPLE.replacen("ark:/99999/banque-ens", "ark:/99999/inconnue", 1),
    )
    .unwrap();
    let (ok, _, stderr) = cli(&config, &redis, &["import", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("idRessource"), "{stderr}");
    assert!(stderr.contains("nothing imported"), "{stderr}");
    let (_, listed, _) = cli(&config, &redis, &["list"]);
    assert!(!listed.contains("idAbonnement"), "nothing stored: {listed}");

    let good = dir.path().join("subscriptions.json");
    std::fs::write(&good, EXAMPLE).unwrap();
    let (ok, stdout, stderr) = cli(&config, &redis, &["import", good.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("7 subscriptions imported"), "{stdout}");
    let (ok, listed, _) = cli(&config, &redis, &["list", "--uai", "0359992W"]);
    assert!(ok);
    assert_eq!(listed.matches("\"idAbonnement\"").count(), 2, "{listed}");
    assert!(listed.contains("ABO-BANQUE-0359992W"), "{listed}");
}

async fn mediacentre_of(stack: &Stack, browser: &mut Browser) -> Vec<String> {
    mediacentre_at(&stack.stack.base_url, browser).await
}

/// The médiacentre lists what each user may open: a collège pupil the
/// textbook, a teacher of the collège both resources, a parent nothing; a
/// tile opens the resource with no second login.
#[tokio::test]
async fn the_mediacentre_lists_what_each_user_may_open_in_memory() {
    let stack = Stack::memory().await;

    let mut anonymous = Browser::new();
    let page = anonymous.open(&stack.url("/api/mediacentre")).await;
    assert_eq!(page.status, 401);
    let page = anonymous.open(&stack.url("/mediacentre")).await;
    assert!(
        page.body.contains("Connectez-vous d'abord"),
        "{}",
        page.body
    );

    let mut pupil = Browser::new();
    login_at_ent(&stack, &mut pupil, "educonnect", "eleve.louis").await;
    assert_eq!(
        mediacentre_of(&stack, &mut pupil).await,
        [
            "ark:/99999/atlas-geo",
            "ark:/99999/labo-sciences",
            "ark:/99999/manuel-maths"
        ]
    );
    let page = pupil.open(&stack.url("/mediacentre")).await;
    assert!(page.body.contains("<h1>Médiacentre</h1>"), "{}", page.body);
    assert!(page.body.contains("Manuel numérique de mathématiques"));
    assert!(!page.body.contains("Banque de ressources"));
    // One click: through the gateway, then the resource's login, answered
    // from the session.
    let opened = pupil
        .open(&stack.url("/mediacentre/ouvrir/manuel-numerique"))
        .await;
    assert!(opened.url.ends_with("/testbed/manuel"), "{}", opened.url);
    assert!(pupil.went_through("/saml/idp/sso"));
    // Opening a resource the pupil may not use is refused with the page.
    let refused = pupil
        .open(&stack.url("/mediacentre/ouvrir/espace-enseignants"))
        .await;
    assert_eq!(refused.status, 403);

    let mut teacher = Browser::new();
    login_at_ent(&stack, &mut teacher, "agents", "prof.blanc").await;
    assert_eq!(
        mediacentre_of(&stack, &mut teacher).await,
        [
            "ark:/99999/atlas-geo",
            "ark:/99999/banque-ens",
            "ark:/99999/labo-sciences",
            "ark:/99999/manuel-maths"
        ]
    );

    let mut parent = Browser::new();
    login_at_ent(&stack, &mut parent, "educonnect", "parent.martin").await;
    assert!(mediacentre_of(&stack, &mut parent).await.is_empty());
    let page = parent.open(&stack.url("/mediacentre")).await;
    assert!(page.body.contains("Aucune ressource"), "{}", page.body);
}

/// The resource ids of a user's médiacentre, sorted.
async fn mediacentre_at(base: &str, browser: &mut Browser) -> Vec<String> {
    let page = browser.open(&format!("{base}/api/mediacentre")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let json: serde_json::Value = serde_json::from_str(&page.body).unwrap();
    let mut listed: Vec<String> = json["ressources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["idRessource"].as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    listed
}

/// Each replica keeps its schools' decoded subscriptions in memory; a change
/// written through one replica (or the CLI) is seen at the next listing of
/// every replica sharing the Redis.
#[tokio::test]
async fn a_subscription_change_reaches_every_replica_at_its_next_listing_on_redis() {
    let stack = Stack::redis().await;
    let other = stack.gateway_at_another_url().await;
    let mut pupil = Browser::new();
    login_at_ent(&stack, &mut pupil, "educonnect", "eleve.louis").await;
    let textbook = [
        "ark:/99999/atlas-geo",
        "ark:/99999/labo-sciences",
        "ark:/99999/manuel-maths",
    ];
    assert_eq!(
        mediacentre_at(&stack.stack.base_url, &mut pupil).await,
        textbook
    );
    assert_eq!(mediacentre_at(&other, &mut pupil).await, textbook);

    let store = stack.stack.state.store.as_ref();
    for id in [
        "ABO-ATLAS-0359991V",
        "ABO-LABO-0359991V",
        "ABO-MANUEL-0359991V",
        "ABO-MANUEL-0359992W",
    ] {
        assert!(subscriptions::delete(store, id).await.unwrap(), "{id}");
    }
    assert!(mediacentre_at(&other, &mut pupil).await.is_empty());
    assert!(
        mediacentre_at(&stack.stack.base_url, &mut pupil)
            .await
            .is_empty()
    );

    let registry = stack.stack.state.registry.get();
    let example = parse_file(EXAMPLE, &registry).unwrap();
    subscriptions::put_all(store, &example, Utc::now().date_naive())
        .await
        .unwrap();
    assert_eq!(mediacentre_at(&other, &mut pupil).await, textbook);
    assert_eq!(
        mediacentre_at(&stack.stack.base_url, &mut pupil).await,
        textbook
    );
}

/// An ENT asks, server to server, for the médiacentre of a user it received
/// through the gateway: its bearer token and the NameID it was sent. The
/// simulated ENT shows the list on its home page, and a tile opens the
/// resource with no second login. Refusals: no or another token, no user,
/// a user this ENT never received, a user whose session has ended.
#[tokio::test]
async fn an_ent_lists_its_users_mediacentre_with_its_token_on_redis() {
    let stack = Stack::redis().await;
    let mut pupil = Browser::new();
    let home = login_at_ent(&stack, &mut pupil, "educonnect", "eleve.louis").await;
    assert!(
        home.body.contains("<h2>Ressources du médiacentre</h2>"),
        "{}",
        home.body
    );
    let tile = common::link(&home.body, "/mediacentre/ouvrir/manuel-numerique")
        .expect("the ENT shows the textbook's tile");
    pupil.visited.clear();
    let opened = pupil.open(&tile).await;
    assert!(opened.url.ends_with("/testbed/manuel"), "{}", opened.url);
    assert!(pupil.went_through("/saml/idp/sso"), "{:?}", pupil.visited);
    assert!(
        !pupil.went_through("/testbed/educonnect"),
        "no second login"
    );

    let token = std::fs::read_to_string(
        stack
            .stack
            .config_path
            .with_file_name("keys/ent-college.mediacentre.token"),
    )
    .unwrap();
    // The simulated ENT shows the NameID it received (64 hex characters).
    let start = home.body.find("NameID</th><td>").unwrap() + "NameID</th><td>".len();
    let name_id = home.body[start..start + 64].to_owned();
    assert!(name_id.bytes().all(|b| b.is_ascii_hexdigit()), "{name_id}");
    let http = reqwest::Client::new();
    let call = |token: Option<&str>, user: Option<&str>| {
        let url = match user {
            Some(user) => stack.url(&format!("/api/mediacentre?utilisateur={user}")),
            None => stack.url("/api/mediacentre"),
        };
        let mut request = http.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    };
    let (status, body) = call(Some(&token), Some(&name_id)).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("\"idRessource\":\"ark:/99999/manuel-maths\""),
        "{body}"
    );

    let (status, _) = call(
        Some("another-token-of-the-same-length-0000"),
        Some(&name_id),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = call(None, Some(&name_id)).await;
    assert_eq!(status, 401, "no token and no session cookie");
    let (status, _) = call(Some(&token), None).await;
    assert_eq!(status, 400);
    let (status, _) = call(Some(&token), Some(&"0".repeat(64))).await;
    assert_eq!(status, 404, "a user this ENT never received");

    pupil.open(&stack.url("/logout")).await;
    let (status, body) = call(Some(&token), Some(&name_id)).await;
    assert_eq!(status, 404, "the session has ended: {body}");
}
