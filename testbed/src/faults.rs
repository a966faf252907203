//! Fault injection for the simulators (architecture "High availability":
//! the failure drill "one upstream IdP down"): a [`Faults`] switch wrapped
//! around any simulator's router makes it answer `503 Service Unavailable`
//! ("down") or answer late ("slow"), on every path or on chosen ones only,
//! switchable at run time: from a test through the handle, or from a drill
//! through the small control router ([`Faults::control_router`]), to be
//! nested under a non-public path. Every request that reaches the switch
//! is counted by path, whatever the fault, so that a test can check that
//! an upstream is no longer called.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::web::lock;

/// What the simulator does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// It answers normally.
    #[default]
    None,
    /// It answers `503 Service Unavailable` with `Retry-After`.
    Down,
    /// It answers normally after this delay.
    Slow(Duration),
}

#[derive(Debug, Default)]
struct Inner {
    fault: Fault,
    /// Path suffixes the fault applies to; every path when empty.
    paths: Vec<String>,
    calls: HashMap<String, u64>,
}

/// A fault switch shared by a simulator's router and its controller.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    inner: Arc<Mutex<Inner>>,
}

impl Faults {
    /// A switch with no fault.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies `fault` to every path.
    pub fn set(&self, fault: Fault) {
        self.set_for(fault, &[]);
    }

    /// Applies `fault` to the paths ending with one of `suffixes` only (e.g.
    /// `["/token", "/userinfo"]`, the back channel of an OpenID provider);
    /// to every path when `suffixes` is empty. Other paths answer normally.
    pub fn set_for(&self, fault: Fault, suffixes: &[&str]) {
        let mut inner = lock(&self.inner);
        inner.fault = fault;
        inner.paths = suffixes.iter().map(|s| (*s).to_owned()).collect();
    }

    /// The fault in force, and the paths it applies to.
    pub fn current(&self) -> (Fault, Vec<String>) {
        let inner = lock(&self.inner);
        (inner.fault, inner.paths.clone())
    }

    /// Requests received on the paths ending with `suffix`, faulty or not.
    pub fn calls(&self, suffix: &str) -> u64 {
        lock(&self.inner)
            .calls
            .iter()
            .filter(|(path, _)| path.ends_with(suffix))
            .map(|(_, count)| count)
            .sum()
    }

    /// `router` with this switch in front of every route.
    pub fn wrap<S>(&self, router: Router<S>) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        router.layer(middleware::from_fn_with_state(self.clone(), inject))
    }

    /// The controller of this switch, for the failure drills:
    /// `POST /fault?mode=none|down|slow[&delay_ms=N][&paths=/token,/userinfo]`
    /// sets the fault, `GET /fault` shows it with the call counts (JSON).
    /// Nest it under a path the public cannot reach.
    pub fn control_router(&self) -> Router {
        Router::new()
            .route("/fault", get(show).post(change))
            .with_state(self.clone())
    }
}

async fn inject(State(faults): State<Faults>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let fault = {
        let mut inner = lock(&faults.inner);
        *inner.calls.entry(path.clone()).or_default() += 1;
        let applies =
            inner.paths.is_empty() || inner.paths.iter().any(|suffix| path.ends_with(suffix));
        if applies { inner.fault } else { Fault::None }
    };
    match fault {
        Fault::None => next.run(request).await,
        Fault::Down => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "30")],
            "Simulation : service indisponible",
        )
            .into_response(),
        Fault::Slow(delay) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
    }
}

/// The controller's query.
#[derive(Debug, Deserialize)]
struct Change {
    mode: String,
    #[serde(default)]
    delay_ms: u64,
    #[serde(default)]
    paths: Option<String>,
}

async fn change(State(faults): State<Faults>, Query(change): Query<Change>) -> Response {
    let fault = match change.mode.as_str() {
        "none" => Fault::None,
        "down" => Fault::Down,
        "slow" => Fault::Slow(Duration::from_millis(change.delay_ms)),
        other => {
            return (
                StatusCode::BAD_REQUEST,
                format!("unknown mode {other:?}: none, down or slow"),
            )
                .into_response();
        }
    };
    let paths: Vec<&str> = change
        .paths
        .as_deref()
        .map(|paths| paths.split(',').filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    faults.set_for(fault, &paths);
    show(State(faults)).await
}

async fn show(State(faults): State<Faults>) -> Response {
    let inner = lock(&faults.inner);
    let (mode, delay_ms) = match inner.fault {
        Fault::None => ("none", 0),
        Fault::Down => ("down", 0),
        Fault::Slow(delay) => ("slow", u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)),
    };
    axum::Json(serde_json::json!({
        "mode": mode,
        "delay_ms": delay_ms,
        "paths": inner.paths,
        "calls": inner.calls,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use axum::routing::post;

    use super::*;

    async fn serve(router: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        url
    }

    fn simulator(faults: &Faults) -> Router {
        faults.wrap(
            Router::new()
                .route("/token", post(|| async { "token" }))
                .route("/authorize", get(|| async { "authorize" })),
        )
    }

    #[tokio::test]
    async fn down_answers_503_on_the_chosen_paths_only_and_counts_every_call() {
        let faults = Faults::new();
        let url = serve(simulator(&faults)).await;
        let http = reqwest::Client::new();
        let token = || http.post(format!("{url}/token")).send();
        assert_eq!(token().await.unwrap().status(), StatusCode::OK);

        faults.set_for(Fault::Down, &["/token"]);
        let refused = token().await.unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(refused.headers().contains_key(header::RETRY_AFTER));
        let other = http.get(format!("{url}/authorize")).send().await.unwrap();
        assert_eq!(other.status(), StatusCode::OK, "other paths answer");
        assert_eq!(faults.calls("/token"), 2);
        assert_eq!(faults.calls("/authorize"), 1);

        faults.set(Fault::Down);
        let all = http.get(format!("{url}/authorize")).send().await.unwrap();
        assert_eq!(all.status(), StatusCode::SERVICE_UNAVAILABLE);
        faults.set(Fault::None);
        assert_eq!(token().await.unwrap().status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn slow_answers_after_the_delay_and_a_client_timeout_sees_it() {
        let faults = Faults::new();
        let url = serve(simulator(&faults)).await;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        assert!(http.post(format!("{url}/token")).send().await.is_ok());
        faults.set(Fault::Slow(Duration::from_secs(5)));
        let err = http.post(format!("{url}/token")).send().await.unwrap_err();
        assert!(err.is_timeout(), "{err}");
    }

    #[tokio::test]
    async fn the_controller_switches_the_fault() {
        let faults = Faults::new();
        let url = serve(Router::new().nest("/_faults", faults.control_router())).await;
        let http = reqwest::Client::new();
        let set = http
            .post(format!(
                "{url}/_faults/fault?mode=slow&delay_ms=1500&paths=/token,/jwks"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(set.status(), StatusCode::OK);
        assert_eq!(
            faults.current(),
            (
                Fault::Slow(Duration::from_millis(1500)),
                vec!["/token".to_owned(), "/jwks".to_owned()]
            )
        );
        let wrong = http
            .post(format!("{url}/_faults/fault?mode=broken"))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
        assert_eq!(faults.current().0, Fault::Slow(Duration::from_millis(1500)));
        let shown: serde_json::Value = http
            .get(format!("{url}/_faults/fault"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(shown["mode"], "slow");
        http.post(format!("{url}/_faults/fault?mode=none"))
            .send()
            .await
            .unwrap();
        assert_eq!(faults.current(), (Fault::None, Vec::new()));
    }
}
