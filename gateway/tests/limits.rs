//! Overload and abuse protection, end to end (issue 7): a whole school
//! behind one address logs in without being slowed; spraying wrong client
//! secrets from one address is slowed (never locked out, the delayed answer
//! identical to an ordinary failure); replicas share the counters; the
//! per-replica fallback still slows when Redis is down; `X-Forwarded-For`
//! is believed from trusted proxies only; a saturated replica sheds with
//! 503; header and URI limits.

#![cfg(test)]

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Browser, Stack, login_at_ent};
use sha2::Digest as _;
use sso_gateway::demo::{DemoOptions, DemoStack, DemoStore};
use sso_gateway::limits::{Account, FailureLimiter, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The OIDC clients the spraying tests aim at, with their secrets.
const CLIENTS: [(&str, &str); 3] = [
    ("spray-1", "secret-of-spray-1"),
    ("spray-2", "secret-of-spray-2"),
    ("spray-3", "secret-of-spray-3"),
];

fn client_files() -> Vec<(String, String)> {
    CLIENTS
        .iter()
        .map(|(id, secret)| {
            (
                format!("{id}.toml"),
                format!(
                    "id = \"{id}\"\ndisplay_name = \"Client {id}\"\nkind = \"ent\"\n\n[oidc]\nclient_id = \"{id}\"\nclient_secret_sha256 = \"{}\"\nredirect_uris = [\"https://{id}.example/cb\"]\n\n[release]\nattributes = [\"IDO\"]\n",
                    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
                ),
            )
        })
        .collect()
}

/// A demo stack (Redis or memory) with `extra` merged into its
/// configuration and the spraying clients registered.
async fn stack(redis: bool, extra: &str) -> Stack {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let options = DemoOptions {
        extra_config: toml::from_str(extra).unwrap(),
        extra_services: client_files(),
        ..DemoOptions::default()
    };
    if redis {
        Stack::redis_on(listener, options).await
    } else {
        let stack = DemoStack::start(listener, DemoStore::Memory, options)
            .await
            .unwrap();
        Stack { stack, redis: None }
    }
}

fn limits_of(stack: &Stack) -> &Arc<Limits> {
    &stack.stack.state.limits
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// What a token request answered: the parts a client sees.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: u16,
    content_type: Option<String>,
    www_authenticate: Option<String>,
    retry_after: Option<String>,
    body: String,
}

/// `POST /oidc/token` with Basic client credentials, as forwarded by a
/// proxy for `client` (when given); the answer and the time it took.
async fn token(base: &str, client: Option<&str>, id: &str, secret: &str) -> (Answer, Duration) {
    let http = reqwest::Client::new();
    let mut request = http
        .post(format!("{base}/oidc/token"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "no-such-code"),
            ("redirect_uri", "https://spray-1.example/cb"),
        ]);
    if let Some(client) = client {
        request = request.header("x-forwarded-for", client);
    }
    let started = Instant::now();
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let answer = Answer {
        status: response.status().as_u16(),
        content_type: header("content-type"),
        www_authenticate: header("www-authenticate"),
        retry_after: header("retry-after"),
        body: String::new(),
    };
    let body = response.text().await.unwrap();
    (Answer { body, ..answer }, started.elapsed())
}

const TRUST_LOCALHOST: &str = "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n";

/// Thresholds with small delays (milliseconds) for the spraying tests.
fn limits(account: u64, account_ip: u64, ip: u64, base_ms: u64) -> String {
    format!(
        "[limits]\nbase_delay_ms = {base_ms}\nmax_delay_ms = {}\n\n[limits.thresholds]\naccount = {account}\naccount_ip = {account_ip}\nip = {ip}\n\n[limits.fallback]\naccount = {account}\naccount_ip = {account_ip}\nip = 2\n",
        base_ms * 2
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_pupils_behind_one_address_all_log_in() {
    // A debug build on a shared 2-core machine: Redis answers are given more
    // time than in production (this test is about failure counting, not
    // store latency).
    let stack = Arc::new(
        stack(
            true,
            &format!("{TRUST_LOCALHOST}\n[store]\ncommand_timeout_ms = 3000\n"),
        )
        .await,
    );
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", "203.0.113.50".parse().unwrap());
    let concurrency = 10;
    let per_task = 50;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let stack = Arc::clone(&stack);
        let headers = headers.clone();
        tasks.push(tokio::spawn(async move {
            let mut succeeded = 0;
            for _ in 0..per_task {
                let mut browser = Browser::with_headers(headers.clone());
                let ent = login_at_ent(&stack, &mut browser, "educonnect", "eleve.louis").await;
                assert_eq!(ent.status, 200, "{}", ent.body);
                assert!(ent.url.ends_with("/testbed/ent"), "{}", ent.url);
                succeeded += 1;
            }
            succeeded
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, 500);
    let failures = &limits_of(&stack).failures;
    assert_eq!(
        failures.delayed_checks(),
        0,
        "no credential check of a successful login was delayed"
    );
    assert_eq!(
        failures.current_delay(None, ip("203.0.113.50")).await,
        Duration::ZERO
    );
}

#[tokio::test]
async fn spraying_from_one_address_is_slowed_never_locked_out() {
    let base = Duration::from_millis(300);
    let stack = stack(
        false,
        &format!("{TRUST_LOCALHOST}\n{}", limits(100, 100, 4, 300)),
    )
    .await;
    let url = &stack.stack.base_url;
    let attacker = "198.51.100.7";
    let failures = &limits_of(&stack).failures;

    // Four wrong secrets over three clients: ordinary failures, no delay.
    let (first, _) = token(url, Some(attacker), CLIENTS[0].0, "wrong").await;
    assert_eq!(first.status, 401, "{}", first.body);
    assert!(first.body.contains("invalid_client"), "{}", first.body);
    for (id, _) in &CLIENTS[1..] {
        token(url, Some(attacker), id, "wrong").await;
    }
    token(url, Some(attacker), CLIENTS[0].0, "wrong").await;
    assert_eq!(failures.delayed_checks(), 0);

    // The fifth is delayed, and answered exactly as the first.
    let (fifth, elapsed) = token(url, Some(attacker), CLIENTS[0].0, "wrong").await;
    assert!(elapsed >= base, "waited {elapsed:?}");
    assert_eq!(fifth, first, "the delayed answer is the ordinary failure");
    assert_eq!(failures.delayed_checks(), 1);

    // The right secret still authenticates after its delay: no lock-out
    // (the code is unknown: invalid_grant, the client was authenticated).
    let (right, elapsed) = token(url, Some(attacker), CLIENTS[0].0, CLIENTS[0].1).await;
    assert!(elapsed >= base * 2, "waited {elapsed:?}");
    assert_eq!(right.status, 400, "{}", right.body);
    assert!(right.body.contains("invalid_grant"), "{}", right.body);

    // Another address is not delayed.
    let (other, _) = token(url, Some("198.51.100.8"), CLIENTS[1].0, "wrong").await;
    assert_eq!(other, first);
    assert_eq!(
        failures.delayed_checks(),
        2,
        "only the attacker's two checks"
    );
}

/// The number of failures after which the limiter delays the next check of
/// `id` from `client`, the failures being sent to `gateways` in turn.
async fn failures_until_delayed(
    gateways: &[&str],
    limiter: &FailureLimiter,
    id: &str,
    client: &str,
) -> usize {
    for count in 0..20 {
        if !limiter
            .current_delay(Some(Account::OidcClient(id)), ip(client))
            .await
            .is_zero()
        {
            return count;
        }
        let gateway = gateways[count % gateways.len()];
        let (answer, _) = token(gateway, Some(client), id, "wrong").await;
        assert_eq!(answer.status, 401, "{}", answer.body);
    }
    panic!("never delayed");
}

#[tokio::test]
async fn replicas_sharing_redis_share_the_allowance() {
    let stack = stack(
        true,
        &format!("{TRUST_LOCALHOST}\n{}", limits(6, 100, 100, 20)),
    )
    .await;
    let loaded = sso_gateway::config::LoadedConfig::load(&stack.stack.config_path).unwrap();
    let (router, other_state) = sso_gateway::server::build(&loaded, None).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sso_gateway::server::serve(listener, router));
    let one = stack.stack.base_url.as_str();
    let limiter = &limits_of(&stack).failures;

    let alone = failures_until_delayed(&[one], limiter, CLIENTS[0].0, "198.51.100.20").await;
    assert_eq!(alone, 6, "the account threshold");
    let spread =
        failures_until_delayed(&[one, &other], limiter, CLIENTS[1].0, "198.51.100.21").await;
    assert_eq!(spread, alone, "two replicas give no more attempts than one");
    assert!(
        !other_state
            .limits
            .failures
            .current_delay(Some(Account::OidcClient(CLIENTS[1].0)), ip("198.51.100.21"))
            .await
            .is_zero(),
        "the other replica sees the same counters"
    );
}

#[tokio::test]
async fn with_redis_down_the_fallback_counters_still_slow() {
    let mut stack = stack(
        true,
        &format!("{TRUST_LOCALHOST}\n{}", limits(100, 100, 100, 300)),
    )
    .await;
    let url = stack.stack.base_url.clone();
    let attacker = "198.51.100.30";
    let limits = Arc::clone(limits_of(&stack));
    let failures = &limits.failures;
    let (first, _) = token(&url, Some(attacker), CLIENTS[0].0, "wrong").await;
    assert_eq!(first.status, 401);
    assert_eq!(
        failures.current_delay(None, ip(attacker)).await,
        Duration::ZERO,
        "positive control: one failure is far below the shared threshold"
    );

    stack.redis.as_mut().unwrap().stop().await;
    for (id, _) in &CLIENTS[..2] {
        let (answer, _) = token(&url, Some(attacker), id, "wrong").await;
        assert_eq!(answer, first);
    }
    let (delayed, elapsed) = token(&url, Some(attacker), CLIENTS[2].0, "wrong").await;
    assert!(
        elapsed >= Duration::from_millis(300),
        "the fallback's ip threshold (2) is reached: waited {elapsed:?}"
    );
    assert_eq!(delayed, first);
    assert!(!failures.current_delay(None, ip(attacker)).await.is_zero());
    assert_eq!(
        failures.current_delay(None, ip("198.51.100.31")).await,
        Duration::ZERO,
        "another address is not delayed by the fallback either"
    );
}

#[tokio::test]
async fn forwarded_for_is_believed_from_trusted_proxies_only() {
    let limits = limits(100, 100, 2, 20);
    // The example trusts 10.0.0.0/8 only: 127.0.0.1 is not a trusted proxy.
    let untrusted = stack(false, &limits).await;
    let trusted = stack(false, &format!("{TRUST_LOCALHOST}\n{limits}")).await;
    let forwarded = "192.0.2.99, 198.51.100.40";
    for _ in 0..2 {
        token(
            &untrusted.stack.base_url,
            Some(forwarded),
            "spray-1",
            "wrong",
        )
        .await;
        token(&trusted.stack.base_url, Some(forwarded), "spray-1", "wrong").await;
    }
    let delayed = |stack: &Stack, client: &'static str| {
        let limits = Arc::clone(limits_of(stack));
        async move {
            !limits
                .failures
                .current_delay(None, ip(client))
                .await
                .is_zero()
        }
    };
    assert!(
        delayed(&untrusted, "127.0.0.1").await,
        "an untrusted peer's header is ignored: the peer is counted"
    );
    assert!(!delayed(&untrusted, "198.51.100.40").await);
    assert!(
        delayed(&trusted, "198.51.100.40").await,
        "behind a trusted proxy, the right-most untrusted entry is counted"
    );
    assert!(!delayed(&trusted, "192.0.2.99").await);
    assert!(!delayed(&trusted, "127.0.0.1").await);
}

/// Sends `head` (request line and headers, without the final blank line)
/// and returns the response's status line and text.
async fn raw(base: &str, head: &str) -> String {
    let address = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(format!("{head}Connection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn a_saturated_replica_sheds_with_503_and_keeps_its_probes() {
    let stack = stack(false, "[server]\nmax_in_flight = 1\nmax_queued = 0\n").await;
    let url = stack.stack.base_url.clone();
    let (positive, _) = token(&url, None, "spray-1", "wrong").await;
    assert_eq!(
        positive.status, 401,
        "positive control: a request alone is served"
    );

    // A token request whose body never ends holds the only place.
    let address = url.trim_start_matches("http://").to_owned();
    let mut held = TcpStream::connect(&address).await.unwrap();
    held.write_all(
        b"POST /oidc/token HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 64\r\n\r\nclient_id=",
    )
    .await
    .unwrap();
    let mut shed = None;
    for _ in 0..100 {
        let answer = raw(&url, "GET /mentions-legales HTTP/1.1\r\nHost: gateway\r\n").await;
        if answer.starts_with("HTTP/1.1 503") {
            shed = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let shed = shed.expect("a second request is shed while the first is in flight");
    let lower = shed.to_ascii_lowercase();
    assert!(lower.contains("retry-after: 2"), "{shed}");
    assert!(!lower.contains("set-cookie"), "{shed}");
    assert!(lower.contains("cache-control: no-store"), "{shed}");
    assert!(shed.contains("momentanément indisponible"), "{shed}");
    for probe in ["/healthz", "/readyz"] {
        let answer = raw(&url, &format!("GET {probe} HTTP/1.1\r\nHost: gateway\r\n")).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{probe}: {answer}");
    }

    drop(held);
    let mut served = false;
    for _ in 0..100 {
        let answer = raw(&url, "GET /mentions-legales HTTP/1.1\r\nHost: gateway\r\n").await;
        if answer.starts_with("HTTP/1.1 200") {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served, "once the first request is gone, the place is free");
}

#[tokio::test]
async fn header_and_uri_limits_just_under_and_just_over() {
    let stack = stack(
        false,
        "[server]\nmax_header_count = 20\nmax_header_bytes = 2048\nmax_uri_bytes = 1024\n",
    )
    .await;
    let url = stack.stack.base_url.clone();
    let status = |answer: &str| answer.get(9..12).unwrap_or_default().to_owned();

    // Headers sent: host, connection (4 + 7 and 10 + 5 bytes) and ours.
    let count = |n: usize| {
        let extra: String = (0..n).map(|i| format!("x-h{i}: v\r\n")).collect();
        format!("GET /mentions-legales HTTP/1.1\r\nHost: gateway\r\n{extra}")
    };
    assert_eq!(status(&raw(&url, &count(18)).await), "200");
    let over = raw(&url, &count(19)).await;
    assert_eq!(status(&over), "431");
    assert!(over.contains("Demande trop volumineuse"), "{over}");

    let bytes = |len: usize| {
        format!(
            "GET /mentions-legales HTTP/1.1\r\nHost: gateway\r\nx-pad: {}\r\n",
            "a".repeat(len)
        )
    };
    let fixed = "host".len() + "gateway".len() + "connection".len() + "close".len() + "x-pad".len();
    assert_eq!(status(&raw(&url, &bytes(2048 - fixed)).await), "200");
    assert_eq!(status(&raw(&url, &bytes(2049 - fixed)).await), "431");

    let target = |len: usize| {
        let path = "/mentions-legales?p=";
        format!(
            "GET {path}{} HTTP/1.1\r\nHost: gateway\r\n",
            "a".repeat(len - path.len())
        )
    };
    assert_eq!(status(&raw(&url, &target(1024)).await), "200");
    let over = raw(&url, &target(1025)).await;
    assert_eq!(status(&over), "414");
    assert!(over.contains("Adresse trop longue"), "{over}");
}

#[tokio::test]
async fn the_per_ip_ceiling_answers_429_and_spares_other_addresses_and_probes() {
    let stack = stack(
        false,
        &format!("{TRUST_LOCALHOST}\n[limits]\nip_requests_per_second = 1\nip_burst = 2\n"),
    )
    .await;
    let url = stack.stack.base_url.clone();
    let from = |client: &str| {
        format!("GET /mentions-legales HTTP/1.1\r\nHost: gateway\r\nX-Forwarded-For: {client}\r\n")
    };
    for _ in 0..2 {
        let answer = raw(&url, &from("198.51.100.60")).await;
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "within the burst: {answer}"
        );
    }
    let mut refused = String::new();
    for _ in 0..10 {
        refused = raw(&url, &from("198.51.100.60")).await;
        if !refused.starts_with("HTTP/1.1 200") {
            break;
        }
    }
    assert!(refused.starts_with("HTTP/1.1 429"), "{refused}");
    assert!(
        refused.to_ascii_lowercase().contains("retry-after: "),
        "{refused}"
    );
    assert!(refused.contains("Trop de demandes"), "{refused}");
    let other = raw(&url, &from("198.51.100.61")).await;
    assert!(
        other.starts_with("HTTP/1.1 200"),
        "another address: {other}"
    );
    let probe = raw(
        &url,
        "GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Forwarded-For: 198.51.100.60\r\n",
    )
    .await;
    assert!(probe.starts_with("HTTP/1.1 200"), "{probe}");
}
