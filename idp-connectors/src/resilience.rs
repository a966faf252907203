//! Isolation of each upstream (architecture "High availability": one slow or
//! dead upstream IdP hurts only its own users): the `resilience` table of an
//! `[[idp]]` or `[[oidc_idp]]`, and the [`UpstreamGuard`] every back-channel
//! call to that upstream goes through.
//!
//! A guarded call is, in order:
//!
//! 1. the **bulkhead**: at most `max_concurrent_calls` calls to this upstream
//!    in flight in this replica; one more fails at once as
//!    [`Unavailable::Saturated`] (not a breaker failure: the calls holding
//!    the places will report how the upstream is doing);
//! 2. the **circuit breaker** ([`crate::breaker`]): an open breaker fails at
//!    once as [`Unavailable::BreakerOpen`], without calling the upstream;
//! 3. the call, bounded by `timeout_ms` (the client given to the call bounds
//!    the connection by `connect_timeout_ms`, see [`http_client`]); a
//!    timeout, a connection error or a 5xx answer counts as a failure, any
//!    other answer (a 4xx such as `invalid_grant` proves the upstream alive)
//!    as a success.
//!
//! Defaults: 2 s to connect (a LAN or national backbone connection takes
//! milliseconds; 2 s already covers a lost SYN retried once), 5 s for the
//! whole call (a login makes two or three sequential back-channel calls: the
//! user waits at most about 15 s in the worst case, instead of the 30 s of
//! the former 10 s timeout, and a gateway worker is not held longer), 50
//! calls in flight per upstream (a healthy IdP answering in 300 ms then
//! carries about 160 calls a second per replica, more than a storm brings
//! to one replica, while a dead one holds at most 50 tasks), 5 consecutive
//! failures open the breaker for 30 s.
//!
//! SAML upstreams have no back channel at login; an optional `health_url`,
//! polled every `health_interval_seconds` through the same guard
//! ([`UpstreamGuard::spawn_health_check`]), feeds their breaker. SAML error
//! statuses (`Responder`, `Requester`) do not: they also answer a user who
//! cancelled or failed to authenticate, so any user could open the breaker
//! for everyone by failing repeatedly.
//!
//! Metrics: `sso_upstream_calls_total{upstream, call, outcome}` (outcome
//! `success`, `failure`, `timeout`, `breaker_open`, `saturated`) and
//! `sso_upstream_call_duration_seconds{upstream, call}` for the calls made.

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::breaker::{BreakerSettings, CircuitBreaker};

/// The `resilience` table of an upstream: timeouts, bulkhead, breaker,
/// health check.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResilienceConfig {
    /// Longest wait for a TCP (and TLS) connection, in milliseconds.
    pub connect_timeout_ms: u64,
    /// Longest wait for a whole back-channel call, in milliseconds.
    pub timeout_ms: u64,
    /// Back-channel calls to this upstream in flight at once, per replica.
    pub max_concurrent_calls: usize,
    /// Consecutive failures that open the circuit breaker.
    pub failure_threshold: u32,
    /// How long the breaker stays open before one trial call, in seconds.
    pub cooldown_seconds: u64,
    /// A URL polled in the background; a 2xx answer means the upstream is
    /// up. None by default.
    pub health_url: Option<String>,
    /// Period of the health check, in seconds.
    pub health_interval_seconds: u64,
}

impl Default for ResilienceConfig {
    fn default() -> Self {
        Self {
            connect_timeout_ms: 2_000,
            timeout_ms: 5_000,
            max_concurrent_calls: 50,
            failure_threshold: 5,
            cooldown_seconds: 30,
            health_url: None,
            health_interval_seconds: 10,
        }
    }
}

/// One wrong value of a `resilience` table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ResilienceProblem {
    /// The field, e.g. `timeout_ms`.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

impl ResilienceConfig {
    /// Every wrong value, with its field.
    pub fn problems(&self) -> Vec<ResilienceProblem> {
        let mut problems = Vec::new();
        let mut range = |field: &'static str, value: u64, low: u64, high: u64, unit: &str| {
            if !(low..=high).contains(&value) {
                problems.push(ResilienceProblem {
                    field,
                    reason: format!("{value} is outside {low} to {high} {unit}"),
                });
            }
        };
        range(
            "connect_timeout_ms",
            self.connect_timeout_ms,
            50,
            30_000,
            "milliseconds",
        );
        range("timeout_ms", self.timeout_ms, 100, 60_000, "milliseconds");
        range(
            "max_concurrent_calls",
            u64::try_from(self.max_concurrent_calls).unwrap_or(u64::MAX),
            1,
            10_000,
            "calls",
        );
        range(
            "failure_threshold",
            u64::from(self.failure_threshold),
            1,
            1_000,
            "failures",
        );
        range(
            "cooldown_seconds",
            self.cooldown_seconds,
            1,
            3_600,
            "seconds",
        );
        range(
            "health_interval_seconds",
            self.health_interval_seconds,
            1,
            3_600,
            "seconds",
        );
        if self.connect_timeout_ms > self.timeout_ms {
            problems.push(ResilienceProblem {
                field: "connect_timeout_ms",
                reason: format!(
                    "{} is longer than timeout_ms ({}), which includes the connection",
                    self.connect_timeout_ms, self.timeout_ms
                ),
            });
        }
        if let Some(url) = &self.health_url {
            let fits = url::Url::parse(url)
                .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host());
            if !fits {
                problems.push(ResilienceProblem {
                    field: "health_url",
                    reason: format!("{url:?} is not an absolute http(s) URL"),
                });
            }
        }
        problems
    }

    /// The connection timeout.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// The timeout of a whole call.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// A `reqwest` client for one upstream: no redirects followed (a redirect
/// could lead the gateway anywhere, SSRF), the configured connection and
/// call timeouts.
pub fn http_client(config: &ResilienceConfig) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(config.connect_timeout())
        .timeout(config.timeout())
        .build()
}

/// Why a guarded call was not made or not completed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// The upstream's circuit breaker is open.
    #[error("the circuit breaker of {upstream} is open")]
    BreakerOpen {
        /// The upstream.
        upstream: String,
        /// How long until a trial call.
        retry_after: Duration,
    },
    /// The upstream already has as many calls in flight as allowed.
    #[error("{upstream} already has {limit} calls in flight")]
    Saturated {
        /// The upstream.
        upstream: String,
        /// `max_concurrent_calls`.
        limit: usize,
    },
    /// The call took longer than `timeout_ms`.
    #[error("the {call} call to {upstream} took longer than {timeout:?}")]
    Timeout {
        /// The upstream.
        upstream: String,
        /// Which call.
        call: &'static str,
        /// The timeout.
        timeout: Duration,
    },
}

/// How a completed call speaks of the upstream's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// It answered (2xx, 3xx, 4xx).
    Alive,
    /// No connection, or a 5xx answer.
    Failing,
}

impl Health {
    /// The health an HTTP status shows: a 5xx fails, anything else is alive.
    pub fn of_status(status: http::StatusCode) -> Self {
        if status.is_server_error() {
            Self::Failing
        } else {
            Self::Alive
        }
    }
}

/// The breaker, bulkhead and timeout of one upstream (see the module
/// documentation).
#[derive(Debug)]
pub struct UpstreamGuard {
    upstream: String,
    breaker: CircuitBreaker,
    bulkhead: Semaphore,
    limit: usize,
    timeout: Duration,
}

impl UpstreamGuard {
    /// The guard of the upstream `name` (a configuration id, used as the
    /// `upstream` label of the metrics).
    pub fn new(name: impl Into<String>, config: &ResilienceConfig) -> Self {
        let upstream = name.into();
        let limit = config.max_concurrent_calls.max(1);
        Self {
            breaker: CircuitBreaker::new(
                upstream.clone(),
                BreakerSettings {
                    failure_threshold: config.failure_threshold,
                    cooldown: Duration::from_secs(config.cooldown_seconds),
                },
            ),
            upstream,
            bulkhead: Semaphore::new(limit),
            limit,
            timeout: config.timeout(),
        }
    }

    /// The upstream's name.
    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    /// The circuit breaker.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// The timeout of one call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn count(&self, call: &'static str, outcome: &'static str) {
        metrics::counter!(
            "sso_upstream_calls_total",
            "upstream" => self.upstream.clone(),
            "call" => call,
            "outcome" => outcome
        )
        .increment(1);
    }

    /// Makes the call `call` (a bounded name: `token`, `userinfo`, `jwks`,
    /// `discovery`, `metadata`, `health`) through the bulkhead, the breaker
    /// and the timeout; `health` judges a completed call.
    pub async fn call<T, E, F>(
        &self,
        call: &'static str,
        future: F,
        health: impl FnOnce(&Result<T, E>) -> Health,
    ) -> Result<Result<T, E>, Unavailable>
    where
        F: Future<Output = Result<T, E>>,
    {
        let Ok(_place) = self.bulkhead.try_acquire() else {
            self.count(call, "saturated");
            return Err(Unavailable::Saturated {
                upstream: self.upstream.clone(),
                limit: self.limit,
            });
        };
        let permit = match self.breaker.try_acquire() {
            Ok(permit) => permit,
            Err(rejected) => {
                self.count(call, "breaker_open");
                return Err(Unavailable::BreakerOpen {
                    upstream: self.upstream.clone(),
                    retry_after: rejected.retry_after,
                });
            }
        };
        let started = Instant::now();
        let outcome = tokio::time::timeout(self.timeout, future).await;
        metrics::histogram!(
            "sso_upstream_call_duration_seconds",
            "upstream" => self.upstream.clone(),
            "call" => call
        )
        .record(started.elapsed().as_secs_f64());
        match outcome {
            Err(_) => {
                permit.failed();
                self.count(call, "timeout");
                Err(Unavailable::Timeout {
                    upstream: self.upstream.clone(),
                    call,
                    timeout: self.timeout,
                })
            }
            Ok(result) => {
                match health(&result) {
                    Health::Alive => {
                        permit.succeeded();
                        self.count(call, "success");
                    }
                    Health::Failing => {
                        permit.failed();
                        self.count(call, "failure");
                    }
                }
                Ok(result)
            }
        }
    }

    /// Polls `url` every `interval` for as long as the guard lives: a 2xx
    /// answer is a success, anything else (no answer, timeout, another
    /// status) a failure of the breaker. While the breaker is open the URL
    /// is not requested; the first poll after the cool-down is the trial.
    pub fn spawn_health_check(
        self: &Arc<Self>,
        url: String,
        interval: Duration,
        http: reqwest::Client,
    ) {
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(guard) = weak.upgrade() else {
                    return;
                };
                let probe = guard
                    .call(
                        "health",
                        http.get(url.as_str()).send(),
                        |result| match result {
                            Ok(response) if response.status().is_success() => Health::Alive,
                            _ => Health::Failing,
                        },
                    )
                    .await;
                match probe {
                    Ok(Ok(response)) if !response.status().is_success() => {
                        tracing::warn!(
                            upstream = guard.upstream(),
                            status = response.status().as_u16(),
                            "health check answered with an error status"
                        );
                    }
                    Ok(Err(err)) => {
                        tracing::warn!(upstream = guard.upstream(), error = %err, "health check failed");
                    }
                    Err(Unavailable::Timeout { .. }) => {
                        tracing::warn!(upstream = guard.upstream(), "health check timed out");
                    }
                    Ok(Ok(_)) | Err(_) => {}
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(threshold: u32, limit: usize) -> ResilienceConfig {
        ResilienceConfig {
            failure_threshold: threshold,
            max_concurrent_calls: limit,
            timeout_ms: 100,
            ..ResilienceConfig::default()
        }
    }

    #[test]
    fn defaults_are_valid_and_wrong_values_name_their_field() {
        assert!(ResilienceConfig::default().problems().is_empty());
        let wrong = ResilienceConfig {
            timeout_ms: 0,
            max_concurrent_calls: 0,
            health_url: Some("ftp://idp.example/health".into()),
            ..ResilienceConfig::default()
        };
        let fields: Vec<_> = wrong.problems().iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "timeout_ms",
                "max_concurrent_calls",
                "connect_timeout_ms",
                "health_url"
            ]
        );
        let parsed: ResilienceConfig = toml::from_str("timeout_ms = 1500").unwrap();
        assert_eq!(parsed.timeout_ms, 1500);
        assert_eq!(parsed.connect_timeout_ms, 2_000);
        assert!(toml::from_str::<ResilienceConfig>("timeout = 1").is_err());
    }

    #[tokio::test]
    async fn alive_answers_keep_the_breaker_closed_and_failures_open_it() {
        let guard = UpstreamGuard::new("idp", &config(2, 10));
        let ok = guard
            .call("token", async { Ok::<u16, ()>(400) }, |_| Health::Alive)
            .await;
        assert_eq!(ok, Ok(Ok(400)));
        for _ in 0..2 {
            let failing = guard
                .call("token", async { Ok::<u16, ()>(503) }, |_| Health::Failing)
                .await;
            assert_eq!(failing, Ok(Ok(503)), "the answer is still handed back");
        }
        let refused = guard
            .call("token", async { Ok::<u16, ()>(200) }, |_| Health::Alive)
            .await;
        assert!(
            matches!(refused, Err(Unavailable::BreakerOpen { .. })),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn a_timeout_is_a_failure() {
        let guard = UpstreamGuard::new("idp", &config(1, 10));
        let slow = guard
            .call(
                "token",
                async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    Ok::<(), ()>(())
                },
                |_| Health::Alive,
            )
            .await;
        assert!(matches!(slow, Err(Unavailable::Timeout { .. })), "{slow:?}");
        assert!(!guard.breaker().admits());
    }

    #[tokio::test]
    async fn the_bulkhead_refuses_a_call_beyond_the_limit_at_once() {
        let guard = Arc::new(UpstreamGuard::new("idp", &config(5, 1)));
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let (entered, is_in) = tokio::sync::oneshot::channel::<()>();
        let holder = {
            let guard = Arc::clone(&guard);
            tokio::spawn(async move {
                guard
                    .call(
                        "token",
                        async move {
                            let _ = entered.send(());
                            let _ = released.await;
                            Ok::<(), ()>(())
                        },
                        |_| Health::Alive,
                    )
                    .await
            })
        };
        is_in.await.unwrap();
        let second = guard
            .call("token", async { Ok::<(), ()>(()) }, |_| Health::Alive)
            .await;
        assert!(
            matches!(second, Err(Unavailable::Saturated { limit: 1, .. })),
            "{second:?}"
        );
        release.send(()).unwrap();
        assert_eq!(holder.await.unwrap(), Ok(Ok(())));
        let third = guard
            .call("token", async { Ok::<(), ()>(()) }, |_| Health::Alive)
            .await;
        assert_eq!(third, Ok(Ok(())), "the place is free again");
        assert!(guard.breaker().admits(), "saturation is not a failure");
    }

    #[test]
    fn server_errors_fail_and_client_errors_prove_the_upstream_alive() {
        assert_eq!(
            Health::of_status(http::StatusCode::SERVICE_UNAVAILABLE),
            Health::Failing
        );
        assert_eq!(
            Health::of_status(http::StatusCode::BAD_REQUEST),
            Health::Alive
        );
        assert_eq!(Health::of_status(http::StatusCode::OK), Health::Alive);
    }
}
