//! Observability of the gateway (issue 7): Prometheus metrics
//! ([`prometheus`], [`MeteredStore`], [`sessions`]) and the correlation of
//! log lines.
//!
//! Every request gets a request id: the incoming `X-Request-Id` when it is
//! short and made of `[A-Za-z0-9-]` only (a proxy or load balancer in front
//! set it), a fresh random one otherwise. It is put back on the request (so
//! the span sees it) and on the response, and every log line emitted while
//! the request is served carries it through the request's span
//! ([`RequestSpan`]), with the method and the matched route template, never
//! the raw URI (its query may hold tickets, codes or SAML messages).
//!
//! A login spans several requests (service → gateway → IdP → gateway →
//! service), possibly on different replicas. Each step that knows the flow
//! records a `flow` field on its span ([`record_flow`]): a short reference
//! derived from the flow id by SHA-256 with a domain prefix, so that an
//! operator can follow one login while the id itself, a bearer secret,
//! never reaches the logs.

pub mod prometheus;
pub mod sessions;
mod store;

use std::net::IpAddr;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use tower_http::trace::MakeSpan;
use tracing::Span;

pub use store::{MeteredStore, error_kind};

/// The request id header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest incoming request id kept.
const MAX_REQUEST_ID: usize = 64;

/// Length of a flow reference (hexadecimal characters).
const FLOW_REFERENCE_LEN: usize = 12;

/// Whether an incoming request id may be kept: 1 to 64 characters of
/// `[A-Za-z0-9-]` (anything else could forge log lines or carry data).
pub fn acceptable_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A fresh request id: 128 random bits, hexadecimal.
pub fn new_request_id() -> String {
    crate::random_token().chars().take(32).collect()
}

/// Middleware: keeps an acceptable incoming `X-Request-Id` or replaces it
/// with a fresh one, in the request's extensions ([`RequestId`], for the
/// span) and on the response.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let kept = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| acceptable_request_id(id))
        .map(str::to_owned);
    let id = kept.unwrap_or_else(new_request_id);
    let value = HeaderValue::from_str(&id).ok();
    if let Some(value) = &value {
        request.extensions_mut().insert(RequestId(value.clone()));
    }
    let mut response = next.run(request).await;
    if let Some(value) = value {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// The id [`request_id`] gave the request, kept in its extensions (not in
/// its headers, whose count and size the request limits measure as the
/// client sent them).
#[derive(Debug, Clone)]
pub struct RequestId(pub HeaderValue);

/// The span of each request (for `TraceLayer::make_span_with`): request id,
/// method, matched route; `flow` is recorded later by the steps that know
/// it.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &axum::http::Request<B>) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .and_then(|RequestId(value)| value.to_str().ok())
            .unwrap_or_default();
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", MatchedPath::as_str);
        tracing::info_span!(
            "request",
            request_id,
            method = %request.method(),
            route,
            flow = tracing::field::Empty,
        )
    }
}

/// An IP address as it may be logged: its /24 network (IPv4) or /48
/// network (IPv6), never the address itself (personal data).
pub fn truncated_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let [a, b, c, ..] = v6.segments();
            format!("{a:x}:{b:x}:{c:x}::/48")
        }
    }
}

/// The loggable reference of a flow id: the first 12 hexadecimal characters
/// of SHA-256 over a domain prefix and the id. Not reversible, and unlike
/// the id it grants nothing.
pub fn flow_reference(flow_id: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"sso-gateway flow reference\0")
        .chain_update(flow_id.as_bytes())
        .finalize();
    hex::encode(digest)
        .chars()
        .take(FLOW_REFERENCE_LEN)
        .collect()
}

/// Records the flow's reference on the current request's span, so that
/// every later log line of the request carries it.
pub fn record_flow(flow_id: &str) {
    Span::current().record("flow", flow_reference(flow_id).as_str());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_request_ids_are_kept() {
        assert!(acceptable_request_id("abc-123-DEF"));
        assert!(acceptable_request_id(&"a".repeat(64)));
        assert!(!acceptable_request_id(""));
        assert!(!acceptable_request_id(&"a".repeat(65)));
        assert!(!acceptable_request_id("abc def"));
        assert!(!acceptable_request_id("abc\"}\n{"));
        assert!(!acceptable_request_id("é"));
        let fresh = new_request_id();
        assert_eq!(fresh.len(), 32);
        assert!(acceptable_request_id(&fresh));
    }

    #[test]
    fn logged_addresses_are_truncated_to_their_network() {
        let v4: IpAddr = "192.0.2.137".parse().unwrap();
        assert_eq!(truncated_ip(v4), "192.0.2.0/24");
        assert!(!truncated_ip(v4).contains("137"));
        let v6: IpAddr = "2001:db8:abcd:12:3456::1".parse().unwrap();
        assert_eq!(truncated_ip(v6), "2001:db8:abcd::/48");
    }

    #[test]
    fn a_flow_reference_is_short_stable_and_does_not_contain_the_id() {
        let id = crate::random_token();
        let reference = flow_reference(&id);
        assert_eq!(reference.len(), FLOW_REFERENCE_LEN);
        assert_eq!(reference, flow_reference(&id));
        assert_ne!(reference, flow_reference(&crate::random_token()));
        assert!(!id.contains(&reference));
        assert!(!crate::digest(&id).starts_with(&reference));
    }
}
