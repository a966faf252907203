//! Benchmark of the CAS 3.0 server (issue "CAS 3.0 and OpenID Connect"):
//! one exchange is `/cas/login` answered from a live session (a service
//! ticket stored in Redis, the browser sent back) followed by
//! `/cas/p3/serviceValidate` (the ticket consumed, the attributes
//! released), both over HTTP against the demo stack on a real
//! `redis-server` (test harness). CAS signs nothing: its security is TLS
//! and the single-use ticket, so there is no signature cost to compare
//! with. Figures are printed, never asserted; BENCHMARKS.md records them.
//!
//! ```sh
//! cargo bench -p sso-gateway --bench cas
//! ```

use std::error::Error;
use std::time::{Duration, Instant};

use sso_core::{Identity, attr};
use sso_gateway::demo::{DemoStack, DemoStore};
use sso_gateway::session::Session;
use sso_store::testing::RedisServer;

type BenchResult<T> = Result<T, Box<dyn Error>>;

const ROUNDS: usize = 2_000;
const SERVICE: &str = "http://127.0.0.1:9/bench/callback";

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64, f64) {
    samples.sort();
    let at = |q: f64| {
        let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples.get(index).map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    (at(0.5), at(0.99), at(1.0))
}

async fn run() -> BenchResult<()> {
    let redis = RedisServer::start().await?;
    let definition = format!(
        "id = \"bench-cas\"\ndisplay_name = \"Bench CAS\"\nkind = \"ent\"\n\n[cas]\nservices = [\"{SERVICE}\"]\n\n[release]\nattributes = [\"IDO\", \"UAI\", \"PRO\", \"NOM\", \"PRE\", \"DIV\"]\n"
    );
    let stack = DemoStack::spawn_with(
        DemoStore::Redis(redis.url()),
        vec![("bench-cas.toml".into(), definition)],
    )
    .await?;
    let mut identity = Identity::new("educonnect", "bench-pupil", chrono::Utc::now().timestamp());
    identity.push(attr::PROFILE, "National_ELV");
    identity.push(attr::UAI, "0359991V");
    identity.push(attr::SURNAME, "Martin");
    identity.push(attr::GIVEN_NAME, "Louis");
    identity.push(attr::CLASSES, "6A##6e A");
    identity.push(attr::AAF_REF, "AC-RENNES|bench");
    let session_id = stack
        .state
        .sessions()
        .create(&Session {
            identity,
            created_at: chrono::Utc::now().timestamp(),
            upstream_name_id: None,
            upstream_name_id_format: None,
            upstream_session_index: None,
            upstream_id_token: None,
        })
        .await?;
    let cookie = format!(
        "{}={session_id}; sso_browser=bench",
        stack.state.config.session.cookie_name
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let login_url = format!(
        "{}/cas/login?service={}",
        stack.base_url,
        url::form_urlencoded::byte_serialize(SERVICE.as_bytes()).collect::<String>()
    );
    let exchange = || async {
        let start = Instant::now();
        let response = client
            .get(&login_url)
            .header("cookie", &cookie)
            .send()
            .await?;
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or("no redirect from /cas/login")?
            .to_owned();
        let issued = start.elapsed();
        let ticket = location
            .split("ticket=")
            .nth(1)
            .ok_or_else(|| format!("no ticket in {location}"))?
            .to_owned();
        let answer = client
            .get(format!(
                "{}/cas/p3/serviceValidate?service={}&ticket={ticket}",
                stack.base_url,
                url::form_urlencoded::byte_serialize(SERVICE.as_bytes()).collect::<String>()
            ))
            .send()
            .await?
            .text()
            .await?;
        if !answer.contains("authenticationSuccess") {
            return Err(format!("validation failed: {answer}").into());
        }
        Ok::<_, Box<dyn Error>>((issued, start.elapsed()))
    };
    for _ in 0..100 {
        exchange().await?;
    }
    let mut issue = Vec::with_capacity(ROUNDS);
    let mut whole = Vec::with_capacity(ROUNDS);
    let cpu = cpu_time::ProcessTime::now();
    let wall = Instant::now();
    for _ in 0..ROUNDS {
        let (issued, total) = exchange().await?;
        issue.push(issued);
        whole.push(total);
    }
    let cpu = cpu.elapsed();
    let wall = wall.elapsed();
    println!("| figure | value |");
    println!("|---|---|");
    let (p50, p99, max) = percentiles(issue);
    println!(
        "| /cas/login from a session (ticket stored), {ROUNDS} rounds: p50 / p99 / max | {p50:.0} / {p99:.0} / {max:.0} µs |"
    );
    let (p50, p99, max) = percentiles(whole);
    println!(
        "| login + p3/serviceValidate (ticket consumed, attributes): p50 / p99 / max | {p50:.0} / {p99:.0} / {max:.0} µs |"
    );
    println!(
        "| CPU time per exchange, whole process (gateway, HTTP client, Redis client) | {:.0} µs (wall {:.0} µs) |",
        cpu.as_secs_f64() * 1e6 / ROUNDS as f64,
        wall.as_secs_f64() * 1e6 / ROUNDS as f64
    );
    Ok(())
}

fn main() -> BenchResult<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run())
}
