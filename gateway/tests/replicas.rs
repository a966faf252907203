//! Replicas (architecture, "High availability"): any replica serves any
//! step of any flow, readiness follows the store and the drain, and SIGTERM
//! lets in-flight requests finish before the process exits.
//!
//! The replicas share one real Redis. A small HTTP load balancer written
//! here forwards each request to the next replica in turn, so that every
//! step of a login (and the services' back-channel calls) lands on another
//! replica than the step before it.

#![cfg(test)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::Response;
use common::{Browser, link, login_at_ent_apart, serve_child, testbed_for, wait_ready};
use sso_gateway::config::LoadedConfig;
use sso_gateway::server::{Drain, Lifecycle, serve_draining};
use sso_store::testing::RedisServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Round-robin over the replicas, one request at a time; remembers which
/// replica served which path.
#[derive(Clone)]
struct RoundRobin {
    replicas: Arc<Vec<String>>,
    next: Arc<AtomicUsize>,
    served: Arc<Mutex<Vec<(String, usize)>>>,
    client: reqwest::Client,
}

/// Forwards the request as it came (method, path, query, headers, body) to
/// the next replica and returns its answer as it is (redirects and cookies
/// included).
async fn forward(State(lb): State<RoundRobin>, request: Request) -> Response {
    let replica = lb.next.fetch_add(1, Ordering::SeqCst) % lb.replicas.len();
    lb.served
        .lock()
        .unwrap()
        .push((request.uri().path().to_owned(), replica));
    common::forward_to(&lb.client, &lb.replicas[replica], request).await
}

/// Two replicas built from one configuration on one Redis, behind a
/// round-robin load balancer at the public address; the simulators apart.
#[tokio::test]
async fn each_step_of_a_login_and_of_the_resource_accesses_lands_on_another_replica() {
    let redis = RedisServer::start().await.unwrap();
    let balancer = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = balancer.local_addr().unwrap();
    let (testbed, gateway, _out) = testbed_for(&redis, public).await;
    let loaded = LoadedConfig::load(&testbed.config_path).unwrap();
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let (router, _) = sso_gateway::server::build(&loaded, None).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        replicas.push(format!("http://{}", listener.local_addr().unwrap()));
        tokio::spawn(sso_gateway::server::serve(listener, router));
    }
    let lb = RoundRobin {
        replicas: Arc::new(replicas),
        next: Arc::default(),
        served: Arc::default(),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    };
    let served = Arc::clone(&lb.served);
    tokio::spawn(async move {
        axum::serve(balancer, Router::new().fallback(forward).with_state(lb))
            .await
            .unwrap();
    });

    let mut pupil = Browser::new();
    let home = login_at_ent_apart(
        &testbed.base_url,
        &gateway,
        &mut pupil,
        "educonnect",
        "eleve.louis",
    )
    .await;
    assert_eq!(home.url, format!("{}/testbed/ent", testbed.base_url));
    assert!(home.body.contains("Connecté"), "{}", home.body);
    for resource in ["atlas-cas", "labo-sciences-oidc", "manuel-numerique"] {
        let tile = link(
            &home.body,
            &format!("{gateway}/mediacentre/ouvrir/{resource}"),
        )
        .unwrap_or_else(|| panic!("the ENT lists {resource}: {}", home.body));
        pupil.visited.clear();
        let page = pupil.open(&tile).await;
        assert_eq!(page.status, 200, "{resource}: {}", page.body);
        assert!(
            !pupil.went_through("/testbed/educonnect/login"),
            "no second login for {resource}"
        );
    }
    for (sim, resource) in [("atlas", "atlas-cas"), ("labo", "labo-sciences-oidc")] {
        let state: serde_json::Value =
            reqwest::get(format!("{}/testbed/{sim}/state.json", testbed.base_url))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        assert_eq!(state["logins"], 1, "{resource}: {state}");
    }

    let served = served.lock().unwrap().clone();
    for step in [
        "/login",
        "/login/educonnect",
        "/saml/sp/acs",
        "/saml/idp/sso",
        "/cas/login",
        "/cas/p3/serviceValidate",
        "/oidc/authorize",
        "/oidc/token",
        "/oidc/userinfo",
    ] {
        assert!(
            served.iter().any(|(path, _)| path == step),
            "{step} went through the load balancer: {served:?}"
        );
    }
    for pair in served.windows(2) {
        assert_ne!(pair[0].1, pair[1].1, "{served:?}");
    }
}

/// Sends the head of a POST announcing a 64-byte body and only part of the
/// body: the request stays in flight until [`finish`] sends the rest.
async fn start_slow_post(gateway: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(gateway).await.unwrap();
    stream
        .write_all(
            b"POST /saml/sp/acs HTTP/1.1\r\nHost: gateway\r\n\
              Content-Type: application/x-www-form-urlencoded\r\n\
              Content-Length: 64\r\nConnection: close\r\n\r\nSAMLResponse=",
        )
        .await
        .unwrap();
    stream
}

/// Sends the rest of the body and reads the whole answer.
async fn finish(mut stream: TcpStream) -> String {
    stream.write_all(&[b'A'; 51]).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// SIGTERM to `sso-gateway serve`: `/readyz` answers 503 at once while new
/// requests are still served during `shutdown_delay_seconds`, then the
/// listener closes, the request in flight gets its whole answer, and the
/// process exits by itself with success.
#[tokio::test]
async fn sigterm_turns_readiness_off_lets_the_request_in_flight_finish_then_exits() {
    let redis = RedisServer::start().await.unwrap();
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let (testbed, gateway, out) = testbed_for(&redis, addr).await;
    let text = std::fs::read_to_string(&testbed.config_path).unwrap();
    let config = out.path().join("draining.toml");
    assert!(text.contains("\nshutdown_delay_seconds = 0\n"), "{text}");
    std::fs::write(
        &config,
        text.replace(
            "\nshutdown_delay_seconds = 0\n",
            "\nshutdown_delay_seconds = 2\n",
        ),
    )
    .unwrap();
    let log = out.path().join("draining.log");
    let mut child = serve_child(&config, &log);
    wait_ready(&mut child, &gateway, &log).await;

    let in_flight = start_slow_post(addr).await;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    // Readiness off while the delay runs; other routes still answer.
    let mut readiness = None;
    for _ in 0..50 {
        let ready = reqwest::get(format!("{gateway}/readyz")).await.unwrap();
        if ready.status() == 503 {
            readiness = Some(ready.text().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(readiness.as_deref(), Some("draining"));
    let live = reqwest::get(format!("{gateway}/healthz")).await.unwrap();
    assert_eq!(live.status(), 200);

    // Then the listener closes.
    let mut refused = false;
    for _ in 0..100 {
        if TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused, "the listener closes after the delay");
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "still running: a request is in flight"
    );

    // The request in flight gets its whole answer (a refusal page: the
    // body is no SAML Response), then the process exits with success.
    let answer = finish(in_flight).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("</html>"), "{answer}");
    let mut exit = None;
    for _ in 0..100 {
        exit = child.0.try_wait().unwrap();
        if exit.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let exit = exit.expect("the process exits once drained");
    assert!(
        exit.success(),
        "{exit}: {}",
        std::fs::read_to_string(&log).unwrap()
    );
}

/// A request that never completes does not hold the replica beyond the
/// grace: the server stops once the grace has passed; positive control, a
/// server with no request in flight stops as soon as the delay is over.
#[tokio::test]
async fn the_drain_grace_bounds_a_request_that_never_ends() {
    let stack = common::Stack::memory().await;
    let loaded = LoadedConfig::load(&stack.stack.config_path).unwrap();
    for stuck in [false, true] {
        let (router, state) = sso_gateway::server::build(&loaded, None).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let lifecycle: Lifecycle = state.lifecycle.clone();
        let drain = Drain {
            lifecycle: lifecycle.clone(),
            delay: Duration::ZERO,
            grace: Duration::from_millis(500),
        };
        let server = tokio::spawn(serve_draining(listener, router, drain, async move {
            let _ = stopped.await;
        }));
        let held = if stuck {
            Some(start_slow_post(addr).await)
        } else {
            None
        };
        let ready = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
        assert_eq!(ready.status(), 200);
        assert!(!lifecycle.is_draining());
        stop.send(()).unwrap();
        let ended = tokio::time::timeout(Duration::from_secs(30), server).await;
        assert!(matches!(ended, Ok(Ok(Ok(())))), "stuck={stuck}: {ended:?}");
        assert!(lifecycle.is_draining());
        drop(held);
    }
}

/// Readiness follows the store: 503 with Retry-After while Redis is down,
/// ready again without restart once it is back.
#[tokio::test]
async fn readiness_is_off_while_the_store_is_unreachable_and_back_after() {
    let mut stack = common::Stack::redis().await;
    let client = reqwest::Client::new();
    let url = stack.url("/readyz");
    let ready = || async { client.get(&url).send().await.unwrap().status().as_u16() };
    assert_eq!(ready().await, 200);
    stack.redis.as_mut().unwrap().stop().await;
    let down = client.get(&url).send().await.unwrap();
    assert_eq!(down.status(), 503);
    assert!(down.headers().contains_key(header::RETRY_AFTER));
    assert_eq!(down.text().await.unwrap(), "store unreachable");
    stack.redis.as_mut().unwrap().restart().await.unwrap();
    let mut back = false;
    for _ in 0..100 {
        if ready().await == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "ready within 10 s of Redis returning");
}
