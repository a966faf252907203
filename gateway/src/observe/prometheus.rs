//! Prometheus metrics of the gateway (issue 7, "Observability"): logins by
//! upstream IdP and outcome, accesses by service, protocol and outcome, the
//! latency of each HTTP step, the store's latency and errors (see
//! [`super::MeteredStore`]) and an estimate of the active sessions (see
//! [`super::sessions`]).
//!
//! Metrics go through the `metrics` crate's macros into one process-wide
//! Prometheus recorder, installed once ([`install`]) whatever the number of
//! gateways a process runs (the tests run several): the counters are then
//! shared, and the tests read their deltas. The text exposition is served at
//! `/metrics` on its own listener (`[metrics] listen`), never on the public
//! port.
//!
//! Label values are bounded sets: identifiers from the configuration (IdP
//! and service ids), the matched route template, fixed outcome names. Never a
//! user's data, never a raw request path.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::error::WebError;

/// Logins at the end of an upstream login step: labels `idp`, `outcome`.
pub const LOGINS: &str = "sso_logins_total";
/// Downstream accesses: labels `service`, `protocol`, `outcome`.
pub const ACCESSES: &str = "sso_accesses_total";
/// Duration of each HTTP request: labels `route`, `method`, `status`.
pub const HTTP_DURATION: &str = "sso_http_request_duration_seconds";
/// Duration of each store operation: label `operation`.
pub const STORE_DURATION: &str = "sso_store_operation_duration_seconds";
/// Failed store operations: labels `operation`, `kind`.
pub const STORE_ERRORS: &str = "sso_store_errors_total";
/// Estimated active sessions (see [`super::sessions`]).
pub const SESSIONS_ACTIVE: &str = "sso_sessions_active";

/// Histogram buckets (seconds), from 1 ms to 10 s: a login step is a few
/// milliseconds when all is well, a second or more when a peer is slow.
pub const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often the recorder drops stale histogram samples.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Why the metrics could not be set up.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MetricsError {
    /// The Prometheus recorder rejected its settings.
    #[error("cannot build the Prometheus recorder: {0}")]
    Build(String),
    /// Another metrics recorder was installed in this process first.
    #[error("another metrics recorder is already installed in this process")]
    AlreadyInstalled,
}

static HANDLE: OnceLock<Result<PrometheusHandle, MetricsError>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder on first call; later calls
/// return the same handle.
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .map_err(|err| MetricsError::Build(err.to_string()))?
                .build_recorder();
            let handle = recorder.handle();
            ::metrics::set_global_recorder(recorder).map_err(|_| MetricsError::AlreadyInstalled)?;
            describe();
            Ok(handle)
        })
        .clone()
}

/// The HELP text of each metric.
fn describe() {
    ::metrics::describe_counter!(LOGINS, "Upstream logins that ended, by IdP and outcome.");
    ::metrics::describe_counter!(
        ACCESSES,
        "Downstream accesses, by service, protocol and outcome."
    );
    ::metrics::describe_histogram!(
        HTTP_DURATION,
        ::metrics::Unit::Seconds,
        "HTTP request duration by matched route, method and status class."
    );
    ::metrics::describe_histogram!(
        STORE_DURATION,
        ::metrics::Unit::Seconds,
        "Store operation duration by operation."
    );
    ::metrics::describe_counter!(
        STORE_ERRORS,
        "Failed store operations by operation and kind."
    );
    ::metrics::describe_gauge!(
        SESSIONS_ACTIVE,
        "Estimate of the sessions created and not ended within the idle timeout."
    );
    ::metrics::describe_counter!(
        crate::audit::trail::DROPPED,
        "Connection traces dropped (queue full or file not writable)."
    );
}

/// Runs the recorder's upkeep (dropping drained histogram samples) every few
/// seconds, on the current Tokio runtime; one task per running gateway.
pub fn spawn_upkeep(handle: PrometheusHandle) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            interval.tick().await;
            handle.run_upkeep();
        }
    });
}

/// Serves `GET /metrics` (Prometheus text format) on `listener` until the
/// process ends.
pub async fn serve(listener: TcpListener, handle: PrometheusHandle) -> std::io::Result<()> {
    axum::serve(listener, exposition_router(handle)).await
}

/// The router of the metrics listener: `/metrics` only.
pub fn exposition_router(handle: PrometheusHandle) -> Router {
    Router::new()
        .route("/metrics", get(exposition))
        .with_state(handle)
}

async fn exposition(State(handle): State<PrometheusHandle>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}

/// Middleware recording [`HTTP_DURATION`] for every request, labelled with
/// the matched route template (`/login/{idp}`, never the raw path), the
/// method and the status class (`2xx`...).
pub async fn track_http(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = status_class(response.status().as_u16());
    ::metrics::histogram!(HTTP_DURATION, "route" => route, "method" => method, "status" => status)
        .record(started.elapsed().as_secs_f64());
    response
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// How an upstream login step ended ([`LOGINS`]'s `outcome` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    /// A session was created.
    Success,
    /// The Response, callback or headers were refused (signature, audience,
    /// browser binding, mapping...).
    InvalidResponse,
    /// An assertion already seen (replay cache).
    Replay,
    /// The IdP answered with an error status or could not be reached.
    UpstreamError,
    /// The user cancelled, or the IdP refused the login.
    Cancelled,
    /// Trusted headers from a peer that is not a trusted proxy.
    UntrustedProxy,
    /// The directory has no active entry for the person.
    RefusedByDirectory,
    /// The pending request had expired or was already used.
    Expired,
    /// The store was unreachable.
    StoreUnavailable,
    /// An unexpected failure.
    Error,
}

impl LoginOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::InvalidResponse => "invalid_response",
            Self::Replay => "replay",
            Self::UpstreamError => "upstream_error",
            Self::Cancelled => "cancelled",
            Self::UntrustedProxy => "untrusted_proxy",
            Self::RefusedByDirectory => "refused_by_directory",
            Self::Expired => "expired",
            Self::StoreUnavailable => "store_unavailable",
            Self::Error => "error",
        }
    }

    /// The family of a failed login step. An access refusal (profile,
    /// school, context, subscription) can only come from the downstream
    /// answer, after the session was made: the login itself succeeded (the
    /// refusal is counted in [`ACCESSES`]).
    pub fn of_error(error: &WebError) -> Self {
        match error {
            WebError::BadRequest(_)
            | WebError::UnknownService(_)
            | WebError::LoginFailed(_)
            | WebError::HeadersTooLarge(_)
            | WebError::UriTooLong(_) => Self::InvalidResponse,
            WebError::UpstreamCancelled(_) => Self::Cancelled,
            WebError::ProxyRequired(_) => Self::UntrustedProxy,
            WebError::NotInDirectory(_) => Self::RefusedByDirectory,
            WebError::Expired(_) => Self::Expired,
            WebError::Unavailable(_) => Self::StoreUnavailable,
            WebError::AccessDenied(_)
            | WebError::NotForYourSchool(_)
            | WebError::StrongerLoginRequired(_)
            | WebError::NoSubscription(_) => Self::Success,
            WebError::Internal(_) | WebError::Overloaded(_) | WebError::TooManyRequests(_) => {
                Self::Error
            }
        }
    }
}

/// Marks a response of a login step that did not end the login (the
/// académie choice page): [`login_outcome`] gives none; the choice
/// does.
#[derive(Debug, Clone, Copy)]
pub struct LoginPending;

/// What a login step learnt while it ran: the IdP once known (a
/// configured id) and a failure family more precise than the error's.
#[derive(Debug, Default)]
pub struct LoginProbe {
    /// The upstream IdP's configured id.
    pub idp: Option<String>,
    /// The failure family, when the step knew it better than its error.
    pub failure: Option<LoginOutcome>,
}

/// How a login step ended; `None` when it did not end the login (its
/// response carries [`LoginPending`]).
pub fn login_outcome(
    probe: &LoginProbe,
    result: &Result<Response, WebError>,
) -> Option<LoginOutcome> {
    match result {
        Ok(response) if response.extensions().get::<LoginPending>().is_some() => None,
        Ok(_) => Some(LoginOutcome::Success),
        Err(error) => Some(
            probe
                .failure
                .unwrap_or_else(|| LoginOutcome::of_error(error)),
        ),
    }
}

/// Counts one login step's outcome ([`login_outcome`]) in [`LOGINS`]. An
/// access refused by the downstream answer counts as a login success (see
/// [`LoginOutcome::of_error`]); a store failure or bug of that answer as a
/// failure of the login (the user did not get through).
pub fn record_login(idp: &str, outcome: LoginOutcome) {
    ::metrics::counter!(LOGINS, "idp" => idp.to_owned(), "outcome" => outcome.as_str())
        .increment(1);
}

/// The downstream protocol of an access ([`ACCESSES`]'s `protocol` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// A SAML Response.
    Saml,
    /// A CAS service ticket.
    Cas,
    /// An OpenID Connect authorization code.
    Oidc,
    /// The opening of a resource from the médiacentre (its access rules
    /// checked before the resource's own login, counted again there).
    Mediacentre,
}

impl Protocol {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Saml => "saml",
            Self::Cas => "cas",
            Self::Oidc => "oidc",
            Self::Mediacentre => "mediacentre",
        }
    }
}

/// How an access ended ([`ACCESSES`]'s `outcome` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessOutcome {
    /// The message (Response, ticket, code) was issued.
    Granted,
    /// No subscription of the school covers the user.
    RefusedSubscription,
    /// The profile, school, level or authentication context is refused.
    RefusedPolicy,
    /// The access could not be decided or answered (store, bug).
    Error,
}

impl AccessOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Granted => "granted",
            Self::RefusedSubscription => "refused_subscription",
            Self::RefusedPolicy => "refused_policy",
            Self::Error => "error",
        }
    }

    /// The outcome of an access's result.
    pub fn of<T>(result: &Result<T, WebError>) -> Self {
        match result {
            Ok(_) => Self::Granted,
            Err(WebError::NoSubscription(_)) => Self::RefusedSubscription,
            Err(
                WebError::AccessDenied(_)
                | WebError::NotForYourSchool(_)
                | WebError::StrongerLoginRequired(_),
            ) => Self::RefusedPolicy,
            Err(_) => Self::Error,
        }
    }
}

/// Counts an access's result in [`ACCESSES`] and returns it.
pub fn count_access<T>(
    service: &str,
    protocol: Protocol,
    result: Result<T, WebError>,
) -> Result<T, WebError> {
    record_access(service, protocol, AccessOutcome::of(&result));
    result
}

/// Counts an access check's result in [`ACCESSES`] when it refuses (the
/// access is counted once answered otherwise) and returns it.
pub fn count_refusal<T>(
    service: &str,
    protocol: Protocol,
    result: Result<T, WebError>,
) -> Result<T, WebError> {
    if result.is_err() {
        record_access(service, protocol, AccessOutcome::of(&result));
    }
    result
}

/// Counts one access in [`ACCESSES`].
pub fn record_access(service: &str, protocol: Protocol, outcome: AccessOutcome) {
    ::metrics::counter!(
        ACCESSES,
        "service" => service.to_owned(),
        "protocol" => protocol.as_str(),
        "outcome" => outcome.as_str()
    )
    .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes_are_bounded() {
        assert_eq!(status_class(200), "2xx");
        assert_eq!(status_class(302), "3xx");
        assert_eq!(status_class(403), "4xx");
        assert_eq!(status_class(503), "5xx");
        assert_eq!(status_class(999), "5xx");
        assert_eq!(method_label(&Method::PATCH), "other");
    }

    #[test]
    fn access_outcomes_follow_the_refusal_family() {
        let granted: Result<(), WebError> = Ok(());
        assert_eq!(AccessOutcome::of(&granted), AccessOutcome::Granted);
        let no_subscription: Result<(), WebError> = Err(WebError::NoSubscription("x".into()));
        assert_eq!(
            AccessOutcome::of(&no_subscription),
            AccessOutcome::RefusedSubscription
        );
        let profile: Result<(), WebError> = Err(WebError::AccessDenied("x".into()));
        assert_eq!(AccessOutcome::of(&profile), AccessOutcome::RefusedPolicy);
        let store: Result<(), WebError> = Err(WebError::Unavailable("x".into()));
        assert_eq!(AccessOutcome::of(&store), AccessOutcome::Error);
    }

    #[test]
    fn login_failures_map_to_their_family() {
        assert_eq!(
            LoginOutcome::of_error(&WebError::Unavailable("x".into())),
            LoginOutcome::StoreUnavailable
        );
        assert_eq!(
            LoginOutcome::of_error(&WebError::NotInDirectory("x".into())),
            LoginOutcome::RefusedByDirectory
        );
        assert_eq!(
            LoginOutcome::of_error(&WebError::LoginFailed("x".into())),
            LoginOutcome::InvalidResponse
        );
        assert_eq!(
            LoginOutcome::of_error(&WebError::NoSubscription("x".into())),
            LoginOutcome::Success
        );
    }
}
