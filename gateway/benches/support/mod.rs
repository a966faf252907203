//! What the gateway's benchmarks share: percentiles of samples, the pupil
//! session a protocol exchange starts from, and the runtime they run on.

use std::error::Error;
use std::time::Duration;

use sso_core::{Identity, attr};
use sso_gateway::demo::DemoStack;
use sso_gateway::session::Session;

/// The result of a benchmark step.
pub type BenchResult<T> = Result<T, Box<dyn Error>>;

/// p50, p99 and max of `samples`, in microseconds.
pub fn percentiles(mut samples: Vec<Duration>) -> (f64, f64, f64) {
    samples.sort();
    let at = |q: f64| {
        let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples.get(index).map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    (at(0.5), at(0.99), at(1.0))
}

/// A live session of a collège pupil in `stack`'s store; returns the
/// `Cookie` header a browser holding it sends.
pub async fn pupil_session(stack: &DemoStack) -> BenchResult<String> {
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
    Ok(format!(
        "{}={session_id}; sso_browser=bench",
        stack.state.config.session.cookie_name
    ))
}

/// The `Location` of a redirect answered by `what` (an error otherwise).
pub fn redirect_location(response: &reqwest::Response, what: &str) -> BenchResult<String> {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| format!("no redirect from {what}").into())
}

/// Runs `bench` on a two-thread runtime (the machine's two cores).
pub fn run_on_two_threads<F: Future<Output = BenchResult<()>>>(bench: F) -> BenchResult<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(bench)
}
