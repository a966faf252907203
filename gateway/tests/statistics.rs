//! Anonymous usage statistics end to end (issue 8, "Anonymous usage
//! statistics" and "Dashboards"): logins and accesses through the real
//! server and the testbed's IdPs are counted in the shared Redis; the
//! figures of two replicas add up exactly; no identifier, name or IP of the
//! people reaches the stored keys, fields, values or any export; a steering
//! user sees only the areas inside their scope, through the API and the
//! page.

#![cfg(test)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::header;
use axum::response::Response;
use common::{Browser, Stack, login_at_ent, login_at_ent_apart, testbed_for};
use serde_json::Value;
use sso_gateway::config::LoadedConfig;
use sso_gateway::demo::DemoOptions;
use sso_gateway::stats::web::{Params, pilotage_api, render_page};
use sso_gateway::viewer::{Level, Scope, Viewer};
use sso_store::testing::RedisServer;
use tokio::net::TcpListener;

const ECOLE: &str = "0359990U";
const COLLEGE: &str = "0359991V";

fn admin_token(config_path: &std::path::Path) -> String {
    std::fs::read_to_string(config_path.with_file_name("keys/admin.token"))
        .unwrap()
        .trim()
        .to_owned()
}

/// `GET /admin/api/statistics?<query>` at `base`.
async fn admin(base: &str, token: &str, query: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{base}/admin/api/statistics?{query}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// The report of `query` once its total of successful logins is
/// `logins` (the writes are asynchronous); fails after a minute.
async fn report_once(base: &str, token: &str, query: &str, logins: u64) -> Value {
    let mut last = Value::Null;
    for _ in 0..600 {
        let response = admin(base, token, query).await;
        assert_eq!(response.status(), 200);
        last = response.json().await.unwrap();
        if last["by_day"]["total"][0]["value"] == logins {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{logins} logins never counted: {last}");
}

/// Forwards every request to the replica `current` designates.
#[derive(Clone)]
struct Switch {
    replicas: Arc<Vec<String>>,
    current: Arc<AtomicUsize>,
    served: Arc<Mutex<Vec<(String, usize)>>>,
    client: reqwest::Client,
}

async fn forward(State(switch): State<Switch>, request: Request) -> Response {
    let replica = switch.current.load(Ordering::SeqCst);
    switch
        .served
        .lock()
        .unwrap()
        .push((request.uri().path().to_owned(), replica));
    common::forward_to(&switch.client, &switch.replicas[replica], request).await
}

/// Two replicas on one Redis behind one public address: three logins
/// (each with its access to the ENT) through the first, three through the
/// second; the report of either replica is the sum, exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregates_across_two_replicas_add_up() {
    let redis = RedisServer::start().await.unwrap();
    let public = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (testbed, gateway, _out) = testbed_for(&redis, public.local_addr().unwrap()).await;
    let loaded = LoadedConfig::load(&testbed.config_path).unwrap();
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let (router, _) = sso_gateway::server::build(&loaded, None).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        replicas.push(format!("http://{}", listener.local_addr().unwrap()));
        tokio::spawn(sso_gateway::server::serve(listener, router));
    }
    let switch = Switch {
        replicas: Arc::new(replicas.clone()),
        current: Arc::default(),
        served: Arc::default(),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    };
    let current = Arc::clone(&switch.current);
    let served = Arc::clone(&switch.served);
    tokio::spawn(async move {
        axum::serve(public, Router::new().fallback(forward).with_state(switch))
            .await
            .unwrap();
    });
    let token = admin_token(&testbed.config_path);

    for (replica, people) in [
        (0, ["eleve.louis", "eleve.emma", "eleve.nathan"]),
        (1, ["eleve.lea", "eleve.hugo", "eleve.jade"]),
    ] {
        current.store(replica, Ordering::SeqCst);
        for login in people {
            let mut browser = Browser::new();
            let ent = login_at_ent_apart(
                &testbed.base_url,
                &gateway,
                &mut browser,
                "educonnect",
                login,
            )
            .await;
            assert!(ent.body.contains("Connecté"), "{login}: {}", ent.body);
        }
    }
    let acs: Vec<usize> = served
        .lock()
        .unwrap()
        .iter()
        .filter(|(path, _)| path == "/saml/sp/acs")
        .map(|(_, replica)| *replica)
        .collect();
    assert_eq!(
        acs,
        [0, 0, 0, 1, 1, 1],
        "each replica accepted three logins"
    );

    for base in &replicas {
        let report = report_once(base, &token, "level=national", 6).await;
        assert_eq!(report["by_day"]["total"][1]["value"], 6, "{report}");
        assert_eq!(report["by_idp"]["rows"][0]["label"], "educonnect");
        assert_eq!(report["by_idp"]["rows"][0]["figures"][0]["value"], 6);
    }
    // The académie holds the six; the collège three, shown as suppressed.
    let academie = report_once(&replicas[1], &token, "level=departement&code=035", 6).await;
    assert_eq!(academie["by_profile"]["total"][0]["value"], 6, "{academie}");
    let college = admin(&replicas[0], &token, &format!("level=ecole&code={COLLEGE}"))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        college["by_day"]["total"][0],
        serde_json::json!({"value": null, "suppressed": true}),
        "{college}"
    );
    let csv = admin(
        &replicas[0],
        &token,
        &format!("level=ecole&code={COLLEGE}&format=csv"),
    )
    .await;
    assert_eq!(
        csv.headers()[header::CONTENT_TYPE],
        "text/csv; charset=utf-8"
    );
    let csv = csv.text().await.unwrap();
    assert!(
        csv.starts_with("tableau;libellé;mesure;valeur\r\n"),
        "{csv}"
    );
    assert!(
        csv.contains("Connexions et accès par jour;Total;Connexions;<5\r\n"),
        "{csv}"
    );

    // The admin API wants its token.
    let refused = reqwest::get(format!("{}/admin/api/statistics", replicas[0]))
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
}

/// Every string a person could be recognised by.
const PERSONAL: [&str; 19] = [
    // eleve.louis
    "eleve.louis",
    "Louis",
    "3520001",
    "0359000201D",
    // parent.martin
    "parent.martin",
    "Claire",
    "Martin",
    "3540001",
    // prof.blanc (agents)
    "prof.blanc",
    "Éric",
    "Blanc",
    "3550004",
    "eric.blanc@ac-rennes.example",
    // dir.mercier (agents)
    "dir.mercier",
    "Patrick",
    "Mercier",
    "patrick.mercier@ac-rennes.example",
    // The client address, given by a trusted proxy.
    "203.0.113.77",
    "203.0.113",
];

fn redis_cli(url: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli")
        .arg("-u")
        .arg(url)
        .arg("--raw")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// A stack trusting 127.0.0.1 as proxy, showing every figure.
async fn stack() -> Stack {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let extra: toml::Table = toml::from_str(
        "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n\n[statistics]\nmin_count = 1\n",
    )
    .unwrap();
    Stack::redis_on(
        listener,
        DemoOptions {
            extra_config: extra,
            ..DemoOptions::default()
        },
    )
    .await
}

async fn logins_of(stack: &Stack, people: &[(&str, &str)]) {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", "203.0.113.77".parse().unwrap());
    for (idp, login) in people {
        let mut browser = Browser::with_headers(headers.clone());
        let ent = login_at_ent(stack, &mut browser, idp, login).await;
        assert!(ent.body.contains("Connecté"), "{login}: {}", ent.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_identifier_name_or_address_reaches_the_statistics() {
    let stack = stack().await;
    logins_of(
        &stack,
        &[
            ("educonnect", "eleve.louis"),
            ("educonnect", "parent.martin"),
            ("agents", "prof.blanc"),
            ("agents", "dir.mercier"),
        ],
    )
    .await;
    let token = admin_token(&stack.stack.config_path);
    let base = stack.stack.base_url.clone();
    let json = report_once(&base, &token, "level=national", 4).await;
    let json = json.to_string();
    let csv = admin(&base, &token, "level=national&format=csv")
        .await
        .text()
        .await
        .unwrap();
    let mut raw = Vec::new();
    let cells = sso_gateway::stats::raw::export(stack.stack.state.store.as_ref(), &mut raw)
        .await
        .unwrap();
    let raw = String::from_utf8(raw).unwrap();
    // Positive controls: the figures are there, with their dimensions.
    assert!(cells >= 2, "{raw}");
    assert!(raw.contains(COLLEGE) && raw.contains(ECOLE), "{raw}");
    assert!(
        raw.contains("National_ELV") && raw.contains("Rennes Nord"),
        "{raw}"
    );
    assert!(json.contains("National_ENS"), "{json}");

    let url = stack.redis.as_ref().unwrap().url();
    let keys = redis_cli(&url, &["KEYS", "*stats:*"]);
    let mut stored = keys.clone();
    for key in keys.lines().filter(|key| !key.is_empty()) {
        let kind = redis_cli(&url, &["TYPE", key]);
        let content = match kind.trim() {
            "hash" => redis_cli(&url, &["HGETALL", key]),
            "set" => redis_cli(&url, &["SMEMBERS", key]),
            // The session gauge's counters (`stats:sessions:*`).
            "string" => redis_cli(&url, &["GET", key]),
            other => panic!("{key} is a {other}"),
        };
        stored.push_str(&content);
    }
    assert!(stored.contains("0359991V"), "{stored}");
    for text in PERSONAL {
        for (what, haystack) in [
            ("Redis", &stored),
            ("JSON", &json),
            ("CSV", &csv),
            ("raw export", &raw),
        ] {
            assert!(
                !haystack.contains(text),
                "{text} found in the {what}: {haystack}"
            );
        }
    }
}

fn params(level: &str, code: &str) -> Params {
    Params {
        level: Some(level.into()),
        code: Some(code.into()),
        ..Params::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_director_sees_their_school_and_never_another() {
    let stack = stack().await;
    logins_of(
        &stack,
        &[
            ("educonnect", "eleve.louis"),
            ("agents", "dir.mercier"),
            ("agents", "prof.roux"),
        ],
    )
    .await;
    let token = admin_token(&stack.stack.config_path);
    let base = stack.stack.base_url.clone();
    report_once(&base, &token, "level=national", 3).await;

    // School A (the collège) holds nothing of school B (the école).
    let college = report_once(&base, &token, &format!("level=ecole&code={COLLEGE}"), 1).await;
    let text = college.to_string();
    for of_ecole in ["National_DIR", "National_ENS", "agents"] {
        assert!(!text.contains(of_ecole), "{of_ecole} in {text}");
    }
    let ecole = report_once(&base, &token, &format!("level=ecole&code={ECOLE}"), 2).await;
    assert!(ecole.to_string().contains("National_DIR"), "{ecole}");

    let state = stack.stack.state.clone();
    let director = Viewer {
        label: format!("Direction d'école {ECOLE}"),
        scopes: vec![Scope {
            level: Level::Ecole,
            code: ECOLE.into(),
        }],
    };
    // Positive controls: their own school, through the API and the page.
    let own = pilotage_api(
        State(state.clone()),
        director.clone(),
        Query(params("ecole", ECOLE)),
    )
    .await;
    assert_eq!(own.status(), 200);
    let (status, page) = render_page(&state, &director, &Params::default()).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<caption>Connexions et accès par jour</caption>"),
        "{page}"
    );
    assert!(page.contains("role=\"img\""), "{page}");
    assert!(
        page.contains("<label for=\"niveau\">Niveau</label>"),
        "{page}"
    );
    assert!(page.contains("Direction"), "{page}");
    assert!(page.contains("format=csv"), "{page}");

    // Another school, the commune, the whole deployment: refused.
    for (level, code) in [("ecole", COLLEGE), ("commune", "Rennes"), ("national", "")] {
        let refused = pilotage_api(
            State(state.clone()),
            director.clone(),
            Query(params(level, code)),
        )
        .await;
        assert_eq!(refused.status(), 403, "{level} {code}");
        let (status, page) = render_page(&state, &director, &params(level, code)).await;
        assert_eq!(status, 403, "{level} {code}");
        assert!(
            page.contains("ne fait pas partie de votre périmètre"),
            "{page}"
        );
        assert!(!page.contains("<table>"), "{page}");
    }

    // An académie viewer sees both schools.
    let rectorat = Viewer {
        label: "Rectorat".into(),
        scopes: vec![Scope {
            level: Level::Departement,
            code: "035".into(),
        }],
    };
    for school in [ECOLE, COLLEGE] {
        let seen = pilotage_api(
            State(state.clone()),
            rectorat.clone(),
            Query(params("ecole", school)),
        )
        .await;
        assert_eq!(seen.status(), 200, "{school}");
    }
}

/// The store refuses the statistics' writes (an ACL denies `HINCRBY`, so
/// everything else of a login still works): logins still succeed, and
/// the lost increments are counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_succeed_and_losses_are_counted_when_statistics_cannot_be_written() {
    let stack = stack().await;
    let token = admin_token(&stack.stack.config_path);
    let base = stack.stack.base_url.clone();
    let statistics = Arc::clone(&stack.stack.state.statistics);
    // Positive control: written, nothing lost.
    logins_of(&stack, &[("educonnect", "eleve.louis")]).await;
    let mut written = report_once(&base, &token, "level=national", 1).await;
    for _ in 0..600 {
        if written["by_day"]["total"][1]["value"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        written = report_once(&base, &token, "level=national", 1).await;
    }
    assert_eq!(written["by_day"]["total"][1]["value"], 1, "{written}");
    assert_eq!(statistics.dropped(), 0);

    let url = stack.redis.as_ref().unwrap().url();
    assert_eq!(
        redis_cli(&url, &["ACL", "SETUSER", "default", "-hincrby"]).trim(),
        "OK"
    );
    logins_of(&stack, &[("educonnect", "eleve.emma")]).await;
    // The login and its access to the ENT: two increments lost.
    for _ in 0..600 {
        if statistics.dropped() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(statistics.dropped(), 2);
    let report = admin(&base, &token, "level=national")
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(report["by_day"]["total"][0]["value"], 1, "{report}");
}

/// The client IP handed along with the events of a request (for the audit
/// trail; the statistics never keep it) is the one `ClientIp` resolves:
/// the trusted proxy's `X-Forwarded-For` entry, else the TCP peer; none
/// outside a request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_a_request_carry_its_client_ip() {
    let stack = stack().await;
    let state = stack.stack.state.clone();
    let router = Router::new()
        .route(
            "/ip",
            axum::routing::get(|| async { format!("{:?}", sso_gateway::events::client_ip()) }),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            sso_gateway::events::with_client_ip,
        ))
        .with_state(state);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sso_gateway::server::serve(listener, router));
    let plain = reqwest::get(format!("{base}/ip"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(plain, "Some(127.0.0.1)");
    let forwarded = reqwest::Client::new()
        .get(format!("{base}/ip"))
        .header("x-forwarded-for", "203.0.113.77")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(forwarded, "Some(203.0.113.77)");
    assert_eq!(sso_gateway::events::client_ip(), None);
}
