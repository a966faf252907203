//! Login and access events (domain reference §5, "statistics" and
//! "connection logs"): the one place where a login step or a downstream
//! access, once decided, is handed to the anonymous usage statistics and to
//! the audit trail.
//!
//! An event carries what both need and nothing more: when, which upstream
//! IdP or downstream service, how it ended, the client IP, and a summary of
//! the person ([`Who`]). The statistics keep only aggregate dimensions of it
//! (school, profile...), never the person; the audit trail keeps a
//! pseudonymous reference ([`person_reference`]) and the IP, for the
//! retention the configuration sets.

use std::net::IpAddr;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use sp_registry::{IdentifierKey, IdentifierKeys};
use sso_core::{Identity, attr};

use crate::error::WebError;
use crate::observe::prometheus::{self, AccessOutcome, LoginOutcome, LoginProbe, Protocol};
use crate::state::AppState;
use crate::web::client_ip::ClientIp;

/// What an event says about the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    /// The upstream IdP's configured id.
    pub idp: String,
    /// The identifier the upstream IdP gave.
    pub subject: String,
    /// Links to AAF directory entries, `académie|jointure`.
    pub aaf_refs: Vec<String>,
    /// Académie code, once joined.
    pub academie: Option<String>,
    /// School codes (UAI).
    pub uais: Vec<String>,
    /// SDET profiles.
    pub profiles: Vec<String>,
}

impl Who {
    /// The summary of an identity.
    pub fn of(identity: &Identity) -> Self {
        Self {
            idp: identity.idp.clone(),
            subject: identity.subject.clone(),
            aaf_refs: identity.values(attr::AAF_REF).to_vec(),
            academie: identity.first(attr::ACADEMIE).map(str::to_owned),
            uais: identity.values(attr::UAI).to_vec(),
            profiles: identity.values(attr::PROFILE).to_vec(),
        }
    }

    /// The key naming the person: `aaf:<académie>|<jointure>` once joined
    /// to the directory, `idp:<idp>|<subject>` otherwise. An operator
    /// answering a rights request computes it from what the person gave
    /// (see [`person_reference`]).
    pub fn person_key(&self) -> String {
        match self.aaf_refs.first() {
            Some(aaf) => format!("aaf:{aaf}"),
            None => format!("idp:{}|{}", self.idp, self.subject),
        }
    }
}

/// The pseudonymous reference of a person key: a keyed digest under the
/// current identifier secret (domain-separated from opaque identifiers and
/// rate-limit keys), so that the audit trail, the charter acceptances and
/// the session index never hold an identifier in clear.
pub fn person_reference(keys: &IdentifierKeys, person_key: &str) -> String {
    person_reference_under(keys.current(), person_key)
}

/// The pseudonymous reference of a person key under one identifier secret
/// (a trace or an index written before a rotation keeps the reference of
/// the secret of its day).
pub fn person_reference_under(key: &IdentifierKey, person_key: &str) -> String {
    key.keyed_digest("person", person_key)
}

/// The references of a person key under every identifier secret, current
/// first.
pub fn person_references(keys: &IdentifierKeys, person_key: &str) -> Vec<String> {
    keys.all()
        .map(|key| person_reference_under(key, person_key))
        .collect()
}

/// A login step that ended (successfully or not).
#[derive(Debug, Clone)]
pub struct LoginEvent {
    /// When it ended.
    pub at: DateTime<Utc>,
    /// The upstream IdP's configured id (`unknown` when it could not be told).
    pub idp: String,
    /// How it ended.
    pub outcome: LoginOutcome,
    /// The person, when the login succeeded.
    pub who: Option<Who>,
    /// The client's address.
    pub ip: Option<IpAddr>,
}

/// A downstream access that was decided (granted or refused).
#[derive(Debug, Clone)]
pub struct AccessEvent {
    /// When it was decided.
    pub at: DateTime<Utc>,
    /// The service's registry id.
    pub service: String,
    /// Through which protocol.
    pub protocol: Protocol,
    /// How it ended.
    pub outcome: AccessOutcome,
    /// The person.
    pub who: Who,
    /// The client's address.
    pub ip: Option<IpAddr>,
}

tokio::task_local! {
    /// The client IP of the request being served (see [`with_client_ip`]).
    static CLIENT_IP: IpAddr;
}

/// Middleware: serves the request with its client IP (the [`ClientIp`]
/// extractor's) known to [`client_ip`], so that an access decided deep in
/// a flow carries it without every function passing it along.
pub async fn with_client_ip(ClientIp(ip): ClientIp, request: Request, next: Next) -> Response {
    CLIENT_IP.scope(ip, next.run(request)).await
}

/// The client IP of the request being served, when inside one.
pub fn client_ip() -> Option<IpAddr> {
    CLIENT_IP.try_with(|ip| *ip).ok()
}

/// Hands a login step that ended to the statistics and the audit trail.
pub fn login(state: &AppState, event: &LoginEvent) {
    state.statistics.login(event);
    state.audit.login(&state.identifier_keys, event);
}

/// Hands an access decision to the statistics and the audit trail.
pub fn access(state: &AppState, event: &AccessEvent) {
    state.statistics.access(event);
    state.audit.access(&state.identifier_keys, event);
}

/// Counts a login step's result ([`prometheus::record_login`]) and hands
/// its event to [`login`]; nothing when the step did not end the login (see
/// [`prometheus::login_outcome`]). The
/// person is the [`Who`] the end of a successful login attaches to its
/// response; a login whose immediate access was refused is counted without
/// them (the refused access, counted apart, has them).
pub fn login_step(
    state: &AppState,
    probe: &LoginProbe,
    result: &Result<Response, WebError>,
    ip: IpAddr,
) {
    let Some(outcome) = prometheus::login_outcome(probe, result) else {
        return;
    };
    let idp = probe.idp.clone().unwrap_or_else(|| "unknown".to_owned());
    prometheus::record_login(&idp, outcome);
    let who = result
        .as_ref()
        .ok()
        .and_then(|response| response.extensions().get::<Who>().cloned());
    login(
        state,
        &LoginEvent {
            at: Utc::now(),
            idp,
            outcome,
            who,
            ip: Some(ip),
        },
    );
}

fn access_of(
    state: &AppState,
    service: &str,
    protocol: Protocol,
    outcome: AccessOutcome,
    identity: &Identity,
) {
    access(
        state,
        &AccessEvent {
            at: Utc::now(),
            service: service.to_owned(),
            protocol,
            outcome,
            who: Who::of(identity),
            ip: client_ip(),
        },
    );
}

/// [`prometheus::count_access`], also handed to [`access`].
pub fn count_access<T>(
    state: &AppState,
    identity: &Identity,
    service: &str,
    protocol: Protocol,
    result: Result<T, WebError>,
) -> Result<T, WebError> {
    access_of(
        state,
        service,
        protocol,
        AccessOutcome::of(&result),
        identity,
    );
    prometheus::count_access(service, protocol, result)
}

/// [`prometheus::count_refusal`], also handed to [`access`] when refused.
pub fn count_refusal<T>(
    state: &AppState,
    identity: &Identity,
    service: &str,
    protocol: Protocol,
    result: Result<T, WebError>,
) -> Result<T, WebError> {
    if result.is_err() {
        access_of(
            state,
            service,
            protocol,
            AccessOutcome::of(&result),
            identity,
        );
    }
    prometheus::count_refusal(service, protocol, result)
}

/// [`prometheus::record_access`], also handed to [`access`].
pub fn record_access(
    state: &AppState,
    identity: &Identity,
    service: &str,
    protocol: Protocol,
    outcome: AccessOutcome,
) {
    access_of(state, service, protocol, outcome, identity);
    prometheus::record_access(service, protocol, outcome);
}
