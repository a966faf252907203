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

mod support;

use std::error::Error;
use std::time::Instant;

use sso_gateway::demo::{DemoStack, DemoStore};
use sso_store::testing::RedisServer;
use support::BenchResult;

const ROUNDS: usize = 2_000;
const SERVICE: &str = "http://127.0.0.1:9/bench/callback";

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
    let cookie = support::pupil_session(&stack).await?;
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
        let location = support::redirect_location(&response, "/cas/login")?;
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
    let (p50, p99, max) = support::percentiles(issue);
    println!(
        "| /cas/login from a session (ticket stored), {ROUNDS} rounds: p50 / p99 / max | {p50:.0} / {p99:.0} / {max:.0} µs |"
    );
    let (p50, p99, max) = support::percentiles(whole);
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
    support::run_on_two_threads(run())
}
