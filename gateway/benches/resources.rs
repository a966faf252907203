//! Benchmark of resource access (issue "resource access like the GAR"):
//! the médiacentre listing of a user whose school holds 300 subscriptions
//! (300 registered resources), the access decision of one resource, both
//! against a real `redis-server` (test harness), and the reload of a
//! registry of 10,000 service definitions. Targets (issue): listing and
//! decision under 1 ms at the 99th percentile, reload under 2 s. Figures are
//! printed, never asserted; BENCHMARKS.md records them.
//!
//! ```sh
//! cargo bench -p sso-gateway --bench resources
//! ```

#[expect(
    dead_code,
    reason = "the session and redirect helpers serve the protocol benchmarks, not this one"
)]
mod support;

use std::time::{Duration, Instant};

use chrono::Utc;
use sp_registry::Registry;
use sp_registry::subscription::{Assignment, Public, Subscription};
use sso_core::{Identity, attr};
use sso_gateway::demo::{DemoStack, DemoStore};
use sso_gateway::subscriptions::{self, SchoolCache};
use sso_gateway::web::mediacentre;
use sso_store::testing::RedisServer;
use support::BenchResult;

const RESOURCES: usize = 300;
const DEFINITIONS: usize = 10_000;
const ROUNDS: usize = 2_000;
const SCHOOL: &str = "0359991V";

fn definition(n: usize) -> String {
    format!(
        "id = \"res-{n}\"\ndisplay_name = \"Ressource {n}\"\nkind = \"resource\"\npublisher = \"Éditeur {n}\"\nresource_id = \"ark:/99999/bench-{n}\"\n\n[saml]\nentity_id = \"https://res{n}.bench.example/sp\"\nacs = [{{ url = \"https://res{n}.bench.example/acs\", binding = \"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" }}]\nrequire_signed_authn_requests = false\n\n[release]\nattributes = [\"IDO\", \"UAI\", \"PRO\", \"DIV\"]\n\n[access]\nprofiles = [\"National_ELV\", \"National_ENS\"]\n\n[mediacentre]\naccess_url = \"https://res{n}.bench.example/login\"\npedagogical_types = [\"Manuel numérique\"]\n"
    )
}

fn subscription(n: usize) -> Subscription {
    let today = Utc::now().date_naive();
    Subscription {
        id: format!("ABO-BENCH-{n}"),
        resource_id: format!("ark:/99999/bench-{n}"),
        uai: SCHOOL.to_owned(),
        valid_from: today - chrono::Duration::days(30),
        valid_until: today + chrono::Duration::days(300),
        assignment: Assignment::School,
        assigned: Vec::new(),
        public: vec![Public::Pupils, Public::Teachers],
        licences: Some(500),
        licences_pupils: None,
        licences_teachers: None,
        licences_documentalists: None,
        licences_other_staff: None,
    }
}

async fn run() -> BenchResult<()> {
    let redis = RedisServer::start().await?;
    let extra: Vec<(String, String)> = (0..RESOURCES)
        .map(|n| (format!("res-{n}.toml"), definition(n)))
        .collect();
    let stack = DemoStack::spawn_with(DemoStore::Redis(redis.url()), extra).await?;
    let state = &stack.state;
    let subs: Vec<Subscription> = (0..RESOURCES).map(subscription).collect();
    subscriptions::put_all(state.store.as_ref(), &subs, Utc::now().date_naive()).await?;
    let mut pupil = Identity::new("educonnect", "bench-pupil", 0);
    pupil.push(attr::PROFILE, "National_ELV");
    pupil.push(attr::UAI, SCHOOL);
    pupil.push(attr::AAF_REF, "AC-RENNES|bench");

    let listed = mediacentre::offer(state, &pupil)
        .await
        .map_err(|e| format!("{e:?}"))?;
    if listed.len() < RESOURCES {
        return Err(format!(
            "the listing has {} resources, expected at least {RESOURCES}",
            listed.len()
        )
        .into());
    }
    let mut listing = Vec::with_capacity(ROUNDS);
    let cpu_start = cpu_time::ProcessTime::now();
    let wall_start = Instant::now();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        mediacentre::offer(state, &pupil)
            .await
            .map_err(|e| format!("{e:?}"))?;
        listing.push(start.elapsed());
    }
    let listing_wall = wall_start.elapsed();
    let listing_cpu = cpu_start.elapsed();

    let uais = vec![SCHOOL.to_owned()];
    let mut reads = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        SchoolCache::default()
            .of_schools(state.store.as_ref(), &uais)
            .await?;
        reads.push(start.elapsed());
    }

    let registry = state.registry.get();
    let service = registry.by_id("res-150").ok_or("res-150 not registered")?;
    subscriptions::check(state.store.as_ref(), service, &pupil).await?;
    let mut decision = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        subscriptions::check(state.store.as_ref(), service, &pupil).await?;
        decision.push(start.elapsed());
    }

    let dir = tempfile::tempdir()?;
    for n in 0..DEFINITIONS {
        std::fs::write(dir.path().join(format!("res-{n}.toml")), definition(n))?;
    }
    let mut reloads = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let loaded = Registry::load_dir(dir.path())?;
        reloads.push(start.elapsed());
        if loaded.services().count() != DEFINITIONS {
            return Err("not every definition loaded".into());
        }
    }
    reloads.sort();

    let (p50, p99, max) = support::percentiles(listing);
    println!("| figure | value | target |");
    println!("|---|---|---|");
    println!(
        "| médiacentre listing, {RESOURCES} subscriptions (Redis), {ROUNDS} rounds: p50 / p99 / max | {p50:.0} / {p99:.0} / {max:.0} µs | p99 < 1 ms |"
    );
    println!(
        "| médiacentre listing: CPU time per listing (whole process, Redis client included) | {:.0} µs (wall {:.0} µs) | |",
        listing_cpu.as_secs_f64() * 1e6 / ROUNDS as f64,
        listing_wall.as_secs_f64() * 1e6 / ROUNDS as f64
    );
    let (p50, p99, max) = support::percentiles(reads);
    println!(
        "| first listing after a change: reading and decoding the school's {RESOURCES} subscriptions again: p50 / p99 / max | {p50:.0} / {p99:.0} / {max:.0} µs | |"
    );
    let (p50, p99, max) = support::percentiles(decision);
    println!(
        "| access decision of one resource (Redis): p50 / p99 / max | {p50:.0} / {p99:.0} / {max:.0} µs | p99 < 1 ms |"
    );
    println!(
        "| registry load of {DEFINITIONS} definitions: median of 5 (min, max) | {:.2} s ({:.2}, {:.2}) | < 2 s |",
        reloads.get(2).map_or(0.0, Duration::as_secs_f64),
        reloads.first().map_or(0.0, Duration::as_secs_f64),
        reloads.last().map_or(0.0, Duration::as_secs_f64)
    );
    Ok(())
}

fn main() -> BenchResult<()> {
    support::run_on_two_threads(run())
}
