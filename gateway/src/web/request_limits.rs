//! Limits every request meets before anything else (issue 7, "Overload and
//! abuse"): the request line and headers are bounded (`[server]
//! max_uri_bytes`, `max_header_count`, `max_header_bytes`: 414 and 431 with
//! a French page), the client IP is resolved once (see
//! [`super::client_ip`]), and each client IP gets a high request ceiling
//! (`[limits] ip_requests_per_second`, `ip_burst`; governor's GCRA, in this
//! replica's memory): well above what a whole school behind one NAT address
//! sends at 8h, it only stops floods, with 429 and `Retry-After`. Health
//! endpoints are exempt from the ceiling. The request body limit is
//! `[server] max_body_bytes` (a tower-http layer).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Weak;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::WebError;
use crate::limits::Limits;
use crate::state::AppState;

/// Paths no guard refuses (liveness and readiness probes).
pub(super) fn exempt(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

/// The per-IP request ceiling.
pub struct IpCeiling {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl std::fmt::Debug for IpCeiling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpCeiling").finish_non_exhaustive()
    }
}

impl IpCeiling {
    /// `per_second` sustained requests per IP with bursts of `burst` (a
    /// zero, refused by the configuration check, counts as one).
    pub fn new(per_second: u32, burst: u32) -> Self {
        let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(
                Quota::per_second(per_second).allow_burst(burst),
            ),
        }
    }

    /// `None` when `ip` may go on, or how long it must wait.
    pub fn check(&self, ip: IpAddr) -> Option<Duration> {
        self.limiter
            .check_key(&ip)
            .err()
            .map(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }
}

/// Every minute, forgets the IPs whose state is back to fresh (governor's
/// `retain_recent`), until the gateway is dropped.
pub fn spawn_retain(limits: Weak<Limits>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let Some(limits) = limits.upgrade() else {
                break;
            };
            limits.ceiling.limiter.retain_recent();
            limits.ceiling.limiter.shrink_to_fit();
        }
    });
}

/// Total bytes of the header names and values.
fn header_bytes(request: &Request) -> usize {
    request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum()
}

/// Length of the request target as sent.
fn uri_bytes(request: &Request) -> usize {
    let uri = request.uri();
    uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(0, |pq| pq.as_str().len())
}

/// The middleware: sizes, then the client IP, then the ceiling.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let server = &state.config.server;
    if uri_bytes(&request) > *server.max_uri_bytes.get_ref() {
        return super::with_page(
            &state,
            WebError::UriTooLong(format!(
                "request target above {} bytes",
                server.max_uri_bytes.get_ref()
            ))
            .into_response(),
        );
    }
    if request.headers().len() > *server.max_header_count.get_ref() {
        return super::with_page(
            &state,
            WebError::HeadersTooLarge(format!(
                "more than {} header fields",
                server.max_header_count.get_ref()
            ))
            .into_response(),
        );
    }
    if header_bytes(&request) > *server.max_header_bytes.get_ref() {
        return super::with_page(
            &state,
            WebError::HeadersTooLarge(format!(
                "headers above {} bytes",
                server.max_header_bytes.get_ref()
            ))
            .into_response(),
        );
    }
    let (mut parts, body) = request.into_parts();
    let ip = super::client_ip::resolve(&mut parts, &state.limits.trusted_proxies);
    let request = Request::from_parts(parts, body);
    if exempt(request.uri().path()) {
        return next.run(request).await;
    }
    match state.limits.ceiling.check(ip) {
        None => {
            metrics::counter!("sso_rate_limit_decisions_total", "scope" => "ceiling", "decision" => "allowed")
                .increment(1);
            next.run(request).await
        }
        Some(wait) => {
            metrics::counter!("sso_rate_limit_decisions_total", "scope" => "ceiling", "decision" => "refused")
                .increment(1);
            let mut response = super::with_page(
                &state,
                WebError::TooManyRequests("per-IP request ceiling reached".into()).into_response(),
            );
            let seconds = wait.as_secs().saturating_add(1);
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_lets_a_burst_through_then_refuses_and_counts_per_ip() {
        let ceiling = IpCeiling::new(1, 3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(ceiling.check(a), None);
        }
        assert!(ceiling.check(a).is_some());
        assert_eq!(ceiling.check(b), None);
    }

    #[test]
    fn health_probes_are_exempt() {
        assert!(exempt("/healthz") && exempt("/readyz"));
        assert!(!exempt("/oidc/token"));
    }
}
