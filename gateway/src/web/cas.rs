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
//! validate it. Proxy granting tickets are not issued: a `pgtUrl` is refused.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use sp_registry::ServiceDefinition;
use sso_core::Identity;

use super::CookieJar;
use super::downstream::{answer_or_login, record_participant};
use super::oidc::with_parameters;
use crate::cas::{self, FailureCode, TicketGrant};
use crate::error::WebError;
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
}

/// Consumes the ticket, then checks it against the request (spec §2.5.1).
async fn validate_ticket(state: &AppState, query: &ValidateQuery) -> Result<TicketGrant, Refusal> {
    let (Some(service_url), Some(ticket)) = (&query.service, &query.ticket) else {
        return Err(Refusal::new(
            FailureCode::InvalidRequest,
            "both service and ticket are required",
        ));
    };
    if !ticket.starts_with(cas::TICKET_PREFIX) {
        return Err(Refusal::new(
            FailureCode::InvalidTicketSpec,
            "not a service ticket",
        ));
    }
    let grant: TicketGrant =
        match sso_store::take_json(state.store.as_ref(), &cas::ticket_key(ticket)).await {
            Ok(Some(grant)) => grant,
            Ok(None) => {
                return Err(Refusal::new(
                    FailureCode::InvalidTicket,
                    "ticket not recognised: unknown, already used or expired",
                ));
            }
            Err(error) => {
                tracing::error!(%error, "service ticket could not be read");
                return Err(Refusal {
                    code: FailureCode::InternalError,
                    description: "the ticket store is unavailable".into(),
                    status: StatusCode::SERVICE_UNAVAILABLE,
                });
            }
        };
    if &grant.service_url != service_url {
        tracing::warn!(service = %grant.service_id, "service ticket presented for another service");
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
    if query.pgt_url.is_some() {
        return Err(Refusal::new(
            FailureCode::InvalidProxyCallback,
            "this gateway issues no proxy-granting tickets",
        ));
    }
    Ok(grant)
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

/// `GET /cas/serviceValidate` and `GET /cas/p3/serviceValidate`: XML, or
/// JSON with `format=JSON`, with the released attributes.
pub async fn service_validate(
    State(state): State<AppState>,
    Query(query): Query<ValidateQuery>,
) -> Response {
    let outcome = validate_ticket(&state, &query).await;
    let json = json_format(&query);
    match outcome {
        Ok(grant) => {
            tracing::info!(service = %grant.service_id, "service ticket validated");
            let date = authentication_date(&grant);
            if json {
                axum::Json(cas::success_json(&grant, &date)).into_response()
            } else {
                xml_response(StatusCode::OK, cas::success_xml(&grant, &date))
            }
        }
        Err(refusal) => {
            tracing::info!(code = refusal.code.as_str(), "service ticket refused");
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
    Query(query): Query<ValidateQuery>,
) -> Response {
    let (status, user) = match validate_ticket(&state, &query).await {
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
