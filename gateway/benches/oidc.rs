//! Benchmark of the OpenID Connect provider (issue "CAS 3.0 and OpenID
//! Connect"): one exchange is `/oidc/authorize` answered from a live session
//! (an authorization code stored in Redis, the browser sent back), then
//! `/oidc/token` (client_secret_basic; the code consumed, an access token
//! stored, the ID token signed), then `/oidc/userinfo`, over HTTP against
//! the demo stack on a real `redis-server` (test harness). It runs for an
//! ES256 client and an RS256 client, and prints next to each the cost of
//! the ID token signature alone (the same claims signed in a loop). Figures
//! are printed, never asserted; BENCHMARKS.md records them.
//!
//! ```sh
//! cargo bench -p sso-gateway --bench oidc
//! ```

mod support;

use std::error::Error;
use std::time::{Duration, Instant};

use sha2::Digest as _;
use sp_registry::IdTokenAlg;
use sso_gateway::demo::{DemoStack, DemoStore};
use sso_store::testing::RedisServer;
use support::BenchResult;

const ROUNDS: usize = 1_000;
const SIGNATURES: usize = 2_000;
const REDIRECT: &str = "http://127.0.0.1:9/bench/callback";
const SECRET: &str = "secret-of-the-benchmark-client-0123456789";

fn client(alg: &str) -> (String, String) {
    let id = format!("bench-{}", alg.to_lowercase());
    (
        format!("{id}.toml"),
        format!(
            "id = \"{id}\"\ndisplay_name = \"Bench OIDC\"\nkind = \"ent\"\n\n[oidc]\nclient_id = \"{id}\"\nclient_secret_sha256 = \"{}\"\nredirect_uris = [\"{REDIRECT}\"]\nid_token_signed_response_alg = \"{alg}\"\nrequire_pkce = false\n\n[release]\nattributes = [\"IDO\", \"UAI\", \"PRO\", \"NOM\", \"PRE\", \"DIV\"]\n",
            hex::encode(sha2::Sha256::digest(SECRET.as_bytes()))
        ),
    )
}

struct Steps {
    authorize: Vec<Duration>,
    token: Vec<Duration>,
    userinfo: Vec<Duration>,
}

async fn run() -> BenchResult<()> {
    let redis = RedisServer::start().await?;
    let stack = DemoStack::spawn_with(
        DemoStore::Redis(redis.url()),
        vec![client("ES256"), client("RS256")],
    )
    .await?;
    let cookie = support::pupil_session(&stack).await?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let encoded =
        |value: &str| url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();

    println!("| figure | ES256 client | RS256 client |");
    println!("|---|---|---|");
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    for alg in [IdTokenAlg::Es256, IdTokenAlg::Rs256] {
        let client_id = format!("bench-{}", alg.name().to_lowercase());
        let authorize_url = format!(
            "{}/oidc/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid&state=s&nonce=n",
            stack.base_url,
            encoded(REDIRECT)
        );
        let exchange = || async {
            let start = Instant::now();
            let response = http
                .get(&authorize_url)
                .header("cookie", &cookie)
                .send()
                .await?;
            let location = support::redirect_location(&response, "/oidc/authorize")?;
            let authorized = start.elapsed();
            let code = reqwest::Url::parse(&location)?
                .query_pairs()
                .find(|(name, _)| name == "code")
                .map(|(_, value)| value.into_owned())
                .ok_or_else(|| format!("no code in {location}"))?;
            let step = Instant::now();
            let tokens: serde_json::Value = http
                .post(format!("{}/oidc/token", stack.base_url))
                .basic_auth(&client_id, Some(SECRET))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                ])
                .send()
                .await?
                .json()
                .await?;
            let exchanged = step.elapsed();
            let access = tokens
                .get("access_token")
                .and_then(|token| token.as_str())
                .ok_or_else(|| format!("token request failed: {tokens}"))?;
            let step = Instant::now();
            let info: serde_json::Value = http
                .get(format!("{}/oidc/userinfo", stack.base_url))
                .bearer_auth(access)
                .send()
                .await?
                .json()
                .await?;
            if info.get("sub").and_then(|sub| sub.as_str()).is_none() {
                return Err(format!("userinfo failed: {info}").into());
            }
            Ok::<_, Box<dyn Error>>((authorized, exchanged, step.elapsed()))
        };
        for _ in 0..100 {
            exchange().await?;
        }
        let mut steps = Steps {
            authorize: Vec::with_capacity(ROUNDS),
            token: Vec::with_capacity(ROUNDS),
            userinfo: Vec::with_capacity(ROUNDS),
        };
        let cpu = cpu_time::ProcessTime::now();
        let wall = Instant::now();
        for _ in 0..ROUNDS {
            let (authorized, exchanged, info) = exchange().await?;
            steps.authorize.push(authorized);
            steps.token.push(exchanged);
            steps.userinfo.push(info);
        }
        let cpu = cpu.elapsed();
        let wall = wall.elapsed();

        let claims = serde_json::json!({
            "iss": stack.base_url, "sub": "0".repeat(64), "aud": client_id,
            "exp": 2_000_000_000, "iat": 1_900_000_000, "auth_time": 1_900_000_000,
            "sid": "0".repeat(64), "nonce": "n", "at_hash": "x".repeat(22),
            "UAI": ["0359991V"], "PRO": ["National_ELV"], "DIV": ["6A##6e A"],
        });
        let keys = &stack.state.oidc_keys;
        let signing = cpu_time::ThreadTime::now();
        for _ in 0..SIGNATURES {
            keys.sign(alg, "JWT", &claims)?;
        }
        let signature = signing.elapsed().as_secs_f64() * 1e6 / SIGNATURES as f64;

        let mut values = Vec::new();
        for samples in [steps.authorize, steps.token, steps.userinfo] {
            let (p50, p99, _) = support::percentiles(samples);
            values.push(format!("{p50:.0} / {p99:.0} µs"));
        }
        values.push(format!(
            "{:.0} µs (wall {:.0} µs)",
            cpu.as_secs_f64() * 1e6 / ROUNDS as f64,
            wall.as_secs_f64() * 1e6 / ROUNDS as f64
        ));
        values.push(format!("{signature:.0} µs"));
        for (index, value) in values.into_iter().enumerate() {
            match rows.get_mut(index) {
                Some((_, cells)) => cells.push(value),
                None => rows.push((String::new(), vec![value])),
            }
        }
    }
    let names = [
        format!("/oidc/authorize from a session (code stored), {ROUNDS} rounds: p50 / p99"),
        "/oidc/token (code consumed, access token stored, ID token signed): p50 / p99".to_owned(),
        "/oidc/userinfo: p50 / p99".to_owned(),
        "CPU time per exchange (authorize + token + userinfo), whole process".to_owned(),
        "ID token signature alone, CPU".to_owned(),
    ];
    for ((_, cells), name) in rows.into_iter().zip(names) {
        println!("| {name} | {} |", cells.join(" | "));
    }
    Ok(())
}

fn main() -> BenchResult<()> {
    support::run_on_two_threads(run())
}
