//! The gateway as CAS 3.0 server of the downstream services (CAS Protocol
//! 3.0 specification: `/login` §2.1, `/logout` §2.3, `/validate` §2.4,
//! `/serviceValidate` §2.5, `/p3/serviceValidate` §2.6). Ticket format and
//! answers: [`crate::cas`].
//!
//! `/cas/login` accepts only a `service` URL that matches exactly one
//! registered pattern (anchored, literal host and port; never a redirect to
//! an unregistered URL). A live session answers at once with a service
//! ticket, unless `renew` asks for a fresh login; `gateway` never shows a
//! login page: without a session the browser goes back to the service with
//! no ticket. Otherwise the login goes through the upstream IdP like any
//! other flow, and the same access rules, release policy and opaque
//! identifier apply as over SAML.
//!
//! Validation consumes the ticket with one `GETDEL` before any check, so a
//! ticket is used once whatever the outcome, and two replicas can never both
//! validate it.
//!
//! Proxying (`/proxyValidate` §2.6, `/proxy` §2.7, `/p3/proxyValidate`
//! §2.8) is off unless a service is registered with `allow_proxy` and
//! `proxy_callbacks`: a `pgtUrl` outside them fails the validation with
//! `INVALID_PROXY_CALLBACK`. A proxy-granting ticket lives at most as long
//! as its SSO session could (absolute timeout) and is refused as soon as the
//! session has ended (logout, idle or absolute timeout): `/proxy` reads the
//! session at each use, so no list of tickets per session is needed.
//! `/serviceValidate` refuses (and spends) a proxy ticket with
//! `INVALID_TICKET_SPEC` (§2.5).

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use sp_registry::ServiceDefinition;
use sso_core::Identity;

use super::CookieJar;
use super::client_ip::ClientIp;
use super::downstream::{
    answer_or_login, may_open, needs_step_up, record_participant, required_contexts,
};
use super::oidc::with_parameters;
use crate::cas::{self, FailureCode, ProxyGrant, TicketGrant};
use crate::error::WebError;
use crate::limits::Account;
use crate::session::{Answer, Participant, Session, Via};
use crate::state::AppState;

/// Query of `/cas/login`.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    service: Option<String>,
    renew: Option<String>,
    gateway: Option<String>,
}

/// A CAS boolean parameter: set, and not `false` (spec §2.1.1).
fn flag(value: Option<&str>) -> bool {
    value.is_some_and(|v| !v.eq_ignore_ascii_case("false"))
}

/// `GET /cas/login`.
pub async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(query): Query<LoginQuery>,
) -> Result<Response, WebError> {
    let Some(service_url) = query.service.filter(|s| !s.is_empty()) else {
        return Ok(Redirect::to("/").into_response());
    };
    let registry = state.registry.get();
    let service = registry
        .by_cas_service(&service_url)
        .map_err(|err| WebError::UnknownService(err.to_string()))?;
    let renew = flag(query.renew.as_deref());
    answer_or_login(
        &state,
        &jar,
        service,
        Answer::Cas { service_url },
        renew,
        !renew && flag(query.gateway.as_deref()),
        Vec::new(),
    )
    .await
}

/// The answer of a CAS flow within a session: a service ticket, recorded
/// in the store and as a participant of the session, and the browser sent
/// back to the service with it.
pub(super) async fn ticket_answer(
    state: &AppState,
    session_id: &str,
    session: &Session,
    service: &ServiceDefinition,
    identity: &Identity,
    service_url: &str,
    from_new_login: bool,
) -> Result<Response, WebError> {
    let user = service.opaque_id(identity, &state.identifier_keys)?;
    let attributes = service
        .release(identity, &state.identifier_keys)?
        .into_iter()
        .map(|released| (released.name, released.values))
        .collect();
    let ticket = cas::new_ticket();
    let grant = TicketGrant {
        service_id: service.id.clone(),
        service_url: service_url.to_owned(),
        user: user.clone(),
        attributes,
        from_new_login,
        authn_instant: identity.authn_instant,
        session_id: Some(session_id.to_owned()),
        proxies: Vec::new(),
    };
    let ttl = std::time::Duration::from_secs(state.config.cas.ticket_ttl_seconds);
    sso_store::put_json(state.store.as_ref(), &cas::ticket_key(&ticket), &grant, ttl).await?;
    let participant = Participant {
        service_id: service.id.clone(),
        name_id: user,
        name_id_format: String::new(),
        session_index: ticket.clone(),
        via: Via::Cas {
            service_url: service_url.to_owned(),
        },
    };
    record_participant(state, session_id, session, service, &participant).await?;
    tracing::info!(service = %service.id, idp = %identity.idp, "service ticket issued");
    Ok(Redirect::to(&with_parameters(service_url, &[("ticket", &ticket)])).into_response())
}

/// Back to the service without a ticket (`gateway` and no session).
pub(super) fn no_ticket(service_url: &str) -> Response {
    Redirect::to(service_url).into_response()
}

/// Query of the validation endpoints.
#[derive(Debug, Deserialize)]
pub struct ValidateQuery {
    service: Option<String>,
    ticket: Option<String>,
    renew: Option<String>,
    #[serde(rename = "pgtUrl")]
    pgt_url: Option<String>,
    format: Option<String>,
}

/// A refused validation: its code, its description and the HTTP status
/// (200 for protocol failures, 503 when the store is unreachable).
struct Refusal {
    code: FailureCode,
    description: String,
    status: StatusCode,
}

impl Refusal {
    fn new(code: FailureCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            status: StatusCode::OK,
        }
    }

    /// The store is unreachable: `INTERNAL_ERROR` with status 503.
    fn unavailable(description: &str) -> Self {
        Self {
            code: FailureCode::InternalError,
            description: description.to_owned(),
            status: StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A refusal of the access rules, or a failure, met while issuing a
    /// proxy ticket.
    fn of_access(error: WebError) -> Self {
        match error {
            WebError::Unavailable(_) => Self::unavailable("the store is unavailable"),
            WebError::Internal(reason) => Self {
                code: FailureCode::InternalError,
                description: reason,
                status: StatusCode::INTERNAL_SERVER_ERROR,
            },
            refused => {
                tracing::info!(reason = ?refused, "proxy ticket refused by the target's access rules");
                Self::new(
                    FailureCode::UnauthorizedService,
                    "the target service does not admit this user",
                )
            }
        }
    }
}

/// Which tickets a validation endpoint accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accepts {
    /// `/validate` and `/serviceValidate`: service tickets only (§2.5: a
    /// proxy ticket presented there fails).
    ServiceTickets,
    /// `/proxyValidate`: service and proxy tickets (§2.6).
    ServiceAndProxyTickets,
}

/// Consumes the ticket, then checks it against the request (spec §2.5.1,
/// §2.6.1).
///
/// An unknown, expired, spent or foreign ticket is a failure counted against
/// the service and the client IP (see [`crate::limits`]): after too many,
/// the validation waits before it runs, and answers as it would have.
async fn validate_ticket(
    state: &AppState,
    query: &ValidateQuery,
    accepts: Accepts,
    ip: std::net::IpAddr,
) -> Result<TicketGrant, Refusal> {
    let (Some(service_url), Some(_)) = (&query.service, &query.ticket) else {
        return Err(Refusal::new(
            FailureCode::InvalidRequest,
            "both service and ticket are required",
        ));
    };
    let service_id = state
        .registry
        .get()
        .by_cas_service(service_url)
        .map(|service| service.id.clone())
        .unwrap_or_else(|_| service_url.clone());
    let attempt = state
        .limits
        .failures
        .before_check(Some(Account::CasService(&service_id)), ip)
        .await;
    let outcome = check_ticket(state, query, accepts).await;
    if let Err(refusal) = &outcome
        && matches!(
            refusal.code,
            FailureCode::InvalidTicket
                | FailureCode::InvalidService
                | FailureCode::InvalidTicketSpec
        )
    {
        attempt.failed().await;
    }
    outcome
}

/// The checks of [`validate_ticket`], once its delay is over.
async fn check_ticket(
    state: &AppState,
    query: &ValidateQuery,
    accepts: Accepts,
) -> Result<TicketGrant, Refusal> {
    let (Some(service_url), Some(ticket)) = (&query.service, &query.ticket) else {
        return Err(Refusal::new(
            FailureCode::InvalidRequest,
            "both service and ticket are required",
        ));
    };
    let proxy_ticket = ticket.starts_with(cas::PROXY_TICKET_PREFIX);
    let key = if ticket.starts_with(cas::TICKET_PREFIX) {
        cas::ticket_key(ticket)
    } else if proxy_ticket {
        cas::proxy_ticket_key(ticket)
    } else {
        return Err(Refusal::new(
            FailureCode::InvalidTicketSpec,
            "not a service ticket nor a proxy ticket",
        ));
    };
    let taken = match sso_store::take_json::<TicketGrant>(state.store.as_ref(), &key).await {
        Ok(taken) => taken,
        Err(error) => {
            tracing::error!(%error, "ticket could not be read");
            return Err(Refusal::unavailable("the ticket store is unavailable"));
        }
    };
    if proxy_ticket && accepts == Accepts::ServiceTickets {
        return Err(Refusal::new(
            FailureCode::InvalidTicketSpec,
            "a proxy ticket is validated at proxyValidate, not here; it is now spent",
        ));
    }
    let Some(grant) = taken else {
        return Err(Refusal::new(
            FailureCode::InvalidTicket,
            "ticket not recognised: unknown, already used or expired",
        ));
    };
    if &grant.service_url != service_url {
        tracing::warn!(service = %grant.service_id, "ticket presented for another service");
        return Err(Refusal::new(
            FailureCode::InvalidService,
            "the ticket was issued for another service; it is now invalid",
        ));
    }
    if flag(query.renew.as_deref()) && !grant.from_new_login {
        return Err(Refusal::new(
            FailureCode::InvalidTicketSpec,
            "renew was asked and the ticket does not come from a fresh login",
        ));
    }
    Ok(grant)
}

/// Issues a proxy-granting ticket when the validation names a `pgtUrl`
/// (spec §2.5.4) and returns its IOU.
///
/// The callback must match one of the `proxy_callbacks` of a service
/// registered with `allow_proxy` (the registry admits `https://` callbacks
/// only); otherwise the validation fails with `INVALID_PROXY_CALLBACK`
/// (the ticket is spent). The gateway then calls the callback over HTTPS,
/// certificate verified, no redirect followed, within
/// `[cas] logout_timeout_ms`, with `pgtId` and `pgtIou`; only a `200`
/// answer gets the ticket stored and its IOU into the answer. Any other
/// outcome, or a session that has ended, leaves the validation successful
/// without a proxy-granting ticket (§2.5.4).
async fn deliver_proxy_granting_ticket(
    state: &AppState,
    query: &ValidateQuery,
    grant: &TicketGrant,
) -> Result<Option<String>, Refusal> {
    let Some(pgt_url) = query.pgt_url.as_deref() else {
        return Ok(None);
    };
    let allowed = state
        .registry
        .get()
        .by_id(&grant.service_id)
        .and_then(|service| service.cas.as_ref())
        .is_some_and(|cas| cas.proxy_callback_allowed(pgt_url));
    if !allowed {
        tracing::warn!(service = %grant.service_id, "proxy callback refused");
        return Err(Refusal::new(
            FailureCode::InvalidProxyCallback,
            "this service may not receive proxy-granting tickets at this pgtUrl; the ticket is now spent",
        ));
    }
    let Some(session_id) = grant.session_id.as_deref() else {
        return Ok(None);
    };
    let now = Utc::now().timestamp();
    let session = match state.sessions().get(session_id, now).await {
        Ok(Some(session)) => session,
        Ok(None) => {
            tracing::info!(service = %grant.service_id, "no proxy-granting ticket: the session has ended");
            return Ok(None);
        }
        Err(error) => {
            tracing::error!(%error, "session could not be read");
            return Err(Refusal::unavailable("the session store is unavailable"));
        }
    };
    let absolute = i64::try_from(state.config.session.absolute_timeout_seconds).unwrap_or(i64::MAX);
    let left = session
        .created_at
        .saturating_add(absolute)
        .saturating_sub(now);
    let Some(ttl) = u64::try_from(left).ok().filter(|left| *left > 0) else {
        return Ok(None);
    };
    let ticket = cas::new_proxy_granting_ticket();
    let iou = cas::new_proxy_granting_ticket_iou();
    let callback = with_parameters(pgt_url, &[("pgtId", &ticket), ("pgtIou", &iou)]);
    let timeout = Duration::from_millis(state.config.cas.logout_timeout_ms);
    match state.http.get(&callback).timeout(timeout).send().await {
        Ok(answer) if answer.status() == StatusCode::OK => {}
        Ok(answer) => {
            tracing::warn!(service = %grant.service_id, status = answer.status().as_u16(), "proxy callback did not answer 200: no proxy-granting ticket");
            return Ok(None);
        }
        Err(error) => {
            // The error's URL carries the pgtId and pgtIou: never logged.
            let error = error.without_url();
            tracing::warn!(service = %grant.service_id, %error, "proxy callback unreachable: no proxy-granting ticket");
            return Ok(None);
        }
    }
    let mut proxies = vec![pgt_url.to_owned()];
    proxies.extend(grant.proxies.iter().cloned());
    let record = ProxyGrant {
        service_id: grant.service_id.clone(),
        user: grant.user.clone(),
        session_id: session_id.to_owned(),
        proxies,
    };
    let key = cas::proxy_granting_ticket_key(&ticket);
    if let Err(error) = sso_store::put_json(
        state.store.as_ref(),
        &key,
        &record,
        Duration::from_secs(ttl),
    )
    .await
    {
        tracing::error!(%error, "proxy-granting ticket could not be stored");
        return Err(Refusal::unavailable("the ticket store is unavailable"));
    }
    tracing::info!(service = %grant.service_id, "proxy-granting ticket issued");
    Ok(Some(iou))
}

fn json_format(query: &ValidateQuery) -> bool {
    query
        .format
        .as_deref()
        .is_some_and(|f| f.eq_ignore_ascii_case("json"))
}

fn authentication_date(grant: &TicketGrant) -> String {
    chrono::DateTime::from_timestamp(grant.authn_instant, 0)
        .unwrap_or_else(Utc::now)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `GET /cas/serviceValidate` and `GET /cas/p3/serviceValidate`: service
/// tickets, XML, or JSON with `format=JSON`, with the released attributes.
pub async fn service_validate(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Query(query): Query<ValidateQuery>,
) -> Response {
    validation_answer(&state, &query, Accepts::ServiceTickets, ip).await
}

/// `GET /cas/proxyValidate` and `GET /cas/p3/proxyValidate`: service and
/// proxy tickets, a proxy ticket's answer naming its proxies.
pub async fn proxy_validate(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Query(query): Query<ValidateQuery>,
) -> Response {
    validation_answer(&state, &query, Accepts::ServiceAndProxyTickets, ip).await
}

async fn validation_answer(
    state: &AppState,
    query: &ValidateQuery,
    accepts: Accepts,
    ip: std::net::IpAddr,
) -> Response {
    let outcome = match validate_ticket(state, query, accepts, ip).await {
        Ok(grant) => deliver_proxy_granting_ticket(state, query, &grant)
            .await
            .map(|iou| (grant, iou)),
        Err(refusal) => Err(refusal),
    };
    let json = json_format(query);
    match outcome {
        Ok((grant, iou)) => {
            tracing::info!(service = %grant.service_id, proxied = !grant.proxies.is_empty(), "ticket validated");
            let date = authentication_date(&grant);
            if json {
                axum::Json(cas::success_json(&grant, &date, iou.as_deref())).into_response()
            } else {
                xml_response(
                    StatusCode::OK,
                    cas::success_xml(&grant, &date, iou.as_deref()),
                )
            }
        }
        Err(refusal) => {
            tracing::info!(code = refusal.code.as_str(), "ticket refused");
            if json {
                (
                    refusal.status,
                    axum::Json(cas::failure_json(refusal.code, &refusal.description)),
                )
                    .into_response()
            } else {
                xml_response(
                    refusal.status,
                    cas::failure_xml(refusal.code, &refusal.description),
                )
            }
        }
    }
}

/// Query of `/cas/proxy`.
#[derive(Debug, Deserialize)]
pub struct ProxyQuery {
    pgt: Option<String>,
    #[serde(rename = "targetService")]
    target_service: Option<String>,
}

/// `GET /cas/proxy` (spec §2.7): a proxy ticket for `targetService`.
pub async fn proxy(State(state): State<AppState>, Query(query): Query<ProxyQuery>) -> Response {
    match issue_proxy_ticket(&state, &query).await {
        Ok(ticket) => xml_response(StatusCode::OK, cas::proxy_success_xml(&ticket)),
        Err(refusal) => {
            tracing::info!(code = refusal.code.as_str(), "proxy ticket refused");
            xml_response(
                refusal.status,
                cas::proxy_failure_xml(refusal.code, &refusal.description),
            )
        }
    }
}

/// Checks a proxy request and issues its proxy ticket: the proxy-granting
/// ticket is known and its session alive, its holder may still proxy, the
/// target is a registered CAS service that admits the user under the same
/// rules as a login (access, subscription, authentication context). The
/// target gets its own identifier and release, and becomes a participant
/// of the session (told at logout).
async fn issue_proxy_ticket(state: &AppState, query: &ProxyQuery) -> Result<String, Refusal> {
    let (Some(pgt), Some(target_url)) = (
        query.pgt.as_deref().filter(|pgt| !pgt.is_empty()),
        query
            .target_service
            .as_deref()
            .filter(|url| !url.is_empty()),
    ) else {
        return Err(Refusal::new(
            FailureCode::InvalidRequest,
            "both pgt and targetService are required",
        ));
    };
    if !pgt.starts_with(cas::PROXY_GRANTING_TICKET_PREFIX) {
        return Err(Refusal::new(
            FailureCode::InvalidTicket,
            "not a proxy-granting ticket",
        ));
    }
    let key = cas::proxy_granting_ticket_key(pgt);
    let grant: ProxyGrant = match sso_store::get_json(state.store.as_ref(), &key).await {
        Ok(Some(grant)) => grant,
        Ok(None) => {
            return Err(Refusal::new(
                FailureCode::InvalidTicket,
                "proxy-granting ticket not recognised: unknown or expired",
            ));
        }
        Err(error) => {
            tracing::error!(%error, "proxy-granting ticket could not be read");
            return Err(Refusal::unavailable("the ticket store is unavailable"));
        }
    };
    let now = Utc::now().timestamp();
    let session = match state.sessions().get(&grant.session_id, now).await {
        Ok(Some(session)) => session,
        Ok(None) => {
            return Err(Refusal::new(
                FailureCode::InvalidTicket,
                "the session of this proxy-granting ticket has ended",
            ));
        }
        Err(error) => {
            tracing::error!(%error, "session could not be read");
            return Err(Refusal::unavailable("the session store is unavailable"));
        }
    };
    let registry = state.registry.get();
    let may_proxy = registry
        .by_id(&grant.service_id)
        .and_then(|service| service.cas.as_ref())
        .is_some_and(|cas| cas.allow_proxy);
    if !may_proxy {
        return Err(Refusal::new(
            FailureCode::UnauthorizedService,
            "the holder of this proxy-granting ticket may no longer proxy",
        ));
    }
    let target = registry.by_cas_service(target_url).map_err(|error| {
        Refusal::new(
            FailureCode::UnauthorizedService,
            format!("targetService: {error}"),
        )
    })?;
    if needs_step_up(required_contexts(target, &[]).as_deref(), &session.identity) {
        return Err(Refusal::new(
            FailureCode::UnauthorizedService,
            "the target service requires a stronger login than the session's",
        ));
    }
    let identity = may_open(state, target, &session.identity)
        .await
        .map_err(Refusal::of_access)?;
    let user = target
        .opaque_id(&identity, &state.identifier_keys)
        .map_err(|error| Refusal::of_access(error.into()))?;
    let attributes = target
        .release(&identity, &state.identifier_keys)
        .map_err(|error| Refusal::of_access(error.into()))?
        .into_iter()
        .map(|released| (released.name, released.values))
        .collect();
    let ticket = cas::new_proxy_ticket();
    let proxied = TicketGrant {
        service_id: target.id.clone(),
        service_url: target_url.to_owned(),
        user: user.clone(),
        attributes,
        from_new_login: false,
        authn_instant: identity.authn_instant,
        session_id: Some(grant.session_id.clone()),
        proxies: grant.proxies,
    };
    let ttl = Duration::from_secs(state.config.cas.ticket_ttl_seconds);
    let key = cas::proxy_ticket_key(&ticket);
    if let Err(error) = sso_store::put_json(state.store.as_ref(), &key, &proxied, ttl).await {
        tracing::error!(%error, "proxy ticket could not be stored");
        return Err(Refusal::unavailable("the ticket store is unavailable"));
    }
    let participant = Participant {
        service_id: target.id.clone(),
        name_id: user,
        name_id_format: String::new(),
        session_index: ticket.clone(),
        via: Via::Cas {
            service_url: target_url.to_owned(),
        },
    };
    record_participant(state, &grant.session_id, &session, target, &participant)
        .await
        .map_err(Refusal::of_access)?;
    tracing::info!(service = %target.id, proxy = %grant.service_id, "proxy ticket issued");
    Ok(ticket)
}

fn xml_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// `GET /cas/validate`: CAS 1, the user only.
pub async fn validate(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Query(query): Query<ValidateQuery>,
) -> Response {
    let (status, user) = match validate_ticket(&state, &query, Accepts::ServiceTickets, ip).await {
        Ok(grant) => (StatusCode::OK, Some(grant.user)),
        Err(refusal) => (refusal.status, None),
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        cas::validate_text(user.as_deref()),
    )
        .into_response()
}
