//! Single logout (saml-profiles §4.4): from a downstream service, from the
//! upstream IdP, or from the user at the gateway. The session ends at the
//! gateway first; then every service that received an assertion in it is
//! told: services with a SOAP endpoint in parallel over the back channel,
//! bounded by `saml.logout_timeout_ms`; services with an HTTP-Redirect
//! endpoint one after the other through the browser. Then the upstream IdP
//! (when the logout did not come from it): a SAML LogoutRequest, or for an
//! OpenID Connect login the provider's `end_session_endpoint` with the ID
//! token as `id_token_hint` (RP-Initiated Logout 1.0; the logout ends at the
//! gateway when the provider advertises none); then whoever asked gets its
//! answer. Best-effort: a service that does not answer is reported, never
//! blocks the end of the session.
//!
//! A LogoutRequest is accepted only signed by its issuer and addressed to the
//! endpoint that received it (saml-bindings §3.4.5.2: a signed message names
//! its Destination, which the recipient checks), so that one another party was
//! sent cannot end a session here. A back-channel answer counts as a
//! confirmation only with status Success and `InResponseTo` the request sent.

use std::time::Duration;

use axum::extract::{Query, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use sso_saml::binding::{self, MessageKind, RedirectMessage};
use sso_saml::messages::{self, LogoutRequest, LogoutResponse, NameId};
use sso_saml::{ids, ns};
use sso_store::{put_json, take_json};

use super::CookieJar;
use super::cookies::{SameSite, set_cookie};
use crate::error::WebError;
use crate::pages::LogoutOutcome;
use crate::session::{Participant, Session, Via};
use crate::state::AppState;

/// Who asked for the logout, to be answered at the end.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Origin {
    /// The user, at `/logout` or `/cas/logout`, with the registered
    /// service URL offered as a link afterwards.
    User { return_to: Option<String> },
    /// An OpenID Connect client's end-session request: the browser goes
    /// back to its registered post-logout URI, if it named one.
    Client { return_to: Option<String> },
    /// A downstream service's LogoutRequest.
    Service {
        service_id: String,
        request_id: String,
        relay_state: Option<String>,
    },
    /// The upstream IdP's LogoutRequest.
    Idp {
        idp: String,
        request_id: String,
        relay_state: Option<String>,
    },
}

/// Where the upstream IdP session is, to end it too.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "lowercase")]
enum UpstreamSession {
    /// A SAML IdP: a LogoutRequest naming the NameID and session index.
    Saml {
        idp: String,
        name_id: String,
        name_id_format: Option<String>,
        session_index: Option<String>,
    },
    /// An OpenID provider: RP-initiated logout with the ID token as hint.
    Oidc { idp: String, id_token: String },
}

/// A logout in progress, kept in the store under `slo:<id>` between redirects.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LogoutState {
    origin: Origin,
    pending: Vec<Participant>,
    outcomes: Vec<(String, bool)>,
    waiting_for: Option<(String, String)>,
    upstream: Option<UpstreamSession>,
}

const LOGOUT_TTL: Duration = Duration::from_secs(300);

fn service_name(state: &AppState, id: &str) -> String {
    state
        .registry
        .get()
        .by_id(id)
        .map_or_else(|| id.to_owned(), |s| s.display_name.clone())
}

fn upstream_of(session: &Session) -> Option<UpstreamSession> {
    let idp = session.identity.idp.clone();
    match (&session.upstream_name_id, &session.upstream_id_token) {
        (Some(name_id), _) => Some(UpstreamSession::Saml {
            idp,
            name_id: name_id.clone(),
            name_id_format: session.upstream_name_id_format.clone(),
            session_index: session.upstream_session_index.clone(),
        }),
        (None, Some(id_token)) => Some(UpstreamSession::Oidc {
            idp,
            id_token: id_token.clone(),
        }),
        (None, None) => None,
    }
}

/// Who a LogoutRequest names (saml-profiles §4.4.4.1): only that
/// principal's session may end.
#[derive(Debug, Clone, Copy)]
enum Principal<'a> {
    /// The user at `/logout`: the browser's own session.
    Browser,
    /// The upstream IdP's NameID.
    Upstream { idp: &'a str, name_id: &'a str },
    /// The NameID a service was given.
    Participant {
        service_id: &'a str,
        name_id: &'a str,
    },
}

impl Principal<'_> {
    fn owns(&self, session: &Session, participants: &[Participant]) -> bool {
        match *self {
            Principal::Browser => true,
            Principal::Upstream { idp, name_id } => {
                session.identity.idp == idp && session.upstream_name_id.as_deref() == Some(name_id)
            }
            Principal::Participant {
                service_id,
                name_id,
            } => participants
                .iter()
                .any(|p| p.service_id == service_id && p.name_id == name_id),
        }
    }
}

/// Ends the browser's session when it belongs to the principal named, and
/// starts telling the participants. A session of somebody else stays.
async fn begin(
    state: &AppState,
    jar: &CookieJar,
    origin: Origin,
    principal: Principal<'_>,
    skip_service: Option<&str>,
) -> Result<Response, WebError> {
    let sessions = state.sessions();
    let now = Utc::now().timestamp();
    let cookie_name = &state.config.session.cookie_name;
    let mut ended = false;
    let (participants, upstream) = match jar.get(cookie_name) {
        Some(id) => match sessions.get(id, now).await? {
            Some(session) if principal.owns(&session, &sessions.participants(id).await?) => {
                ended = true;
                (sessions.delete(id).await?, upstream_of(&session))
            }
            Some(_) => {
                tracing::info!("logout request for another principal than the browser's session");
                (Vec::new(), None)
            }
            None => (Vec::new(), None),
        },
        None => (Vec::new(), None),
    };
    let upstream = match origin {
        Origin::Idp { .. } => None,
        _ => upstream,
    };
    let mut logout = LogoutState {
        origin,
        pending: Vec::new(),
        outcomes: Vec::new(),
        waiting_for: None,
        upstream,
    };
    let mut back_channel = Vec::new();
    let registry = state.registry.get();
    for participant in participants {
        if Some(participant.service_id.as_str()) == skip_service {
            continue;
        }
        let Some(service) = registry.by_id(&participant.service_id) else {
            continue;
        };
        match &participant.via {
            Via::Cas { service_url } => {
                let url = service
                    .cas
                    .as_ref()
                    .and_then(|cas| cas.logout_url.clone())
                    .unwrap_or_else(|| service_url.clone());
                back_channel.push(BackChannel::Cas { participant, url });
                continue;
            }
            Via::Oidc { .. } => {
                match service
                    .oidc
                    .as_ref()
                    .and_then(|client| client.backchannel_logout_uri.clone())
                {
                    Some(url) => back_channel.push(BackChannel::Oidc { participant, url }),
                    None => logout.outcomes.push((service.display_name.clone(), false)),
                }
                continue;
            }
            Via::Saml => {}
        }
        let slo = service
            .saml
            .as_ref()
            .map(|saml| saml.slo.as_slice())
            .unwrap_or_default();
        if slo.iter().any(|e| e.binding == ns::BINDING_HTTP_REDIRECT) {
            logout.pending.push(participant);
        } else if let Some(soap) = slo.iter().find(|e| e.binding == ns::BINDING_SOAP) {
            let location = soap.location.clone();
            back_channel.push(BackChannel::Soap {
                participant,
                location,
            });
        } else {
            logout.outcomes.push((service.display_name.clone(), false));
        }
    }
    let calls = back_channel.into_iter().map(|call| {
        let state = state.clone();
        async move {
            match call {
                BackChannel::Soap {
                    participant,
                    location,
                } => {
                    let ok = soap_logout(&state, &participant, &location).await;
                    (service_name(&state, &participant.service_id), ok)
                }
                BackChannel::Cas { participant, url } => {
                    let ok = cas_back_channel(&state, &participant, &url).await;
                    (service_name(&state, &participant.service_id), ok)
                }
                BackChannel::Oidc { participant, url } => {
                    let registry = state.registry.get();
                    let client = registry
                        .by_id(&participant.service_id)
                        .and_then(|service| service.oidc.as_ref());
                    let ok = match client {
                        Some(client) => {
                            super::oidc::back_channel_logout(&state, &participant, client, &url)
                                .await
                        }
                        None => false,
                    };
                    (service_name(&state, &participant.service_id), ok)
                }
            }
        }
    });
    logout.outcomes.extend(futures_join_all(calls).await);
    let mut response = next_step(state, crate::random_token(), logout).await?;
    if ended
        && let Some(clear) = set_cookie(
            cookie_name,
            "",
            state.config.session.secure_cookies,
            SameSite::Lax,
            Some(0),
        )
    {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    Ok(response)
}

/// A participant told over the back channel.
enum BackChannel {
    /// A SAML LogoutRequest over SOAP.
    Soap {
        participant: Participant,
        location: String,
    },
    /// A CAS logout POST.
    Cas {
        participant: Participant,
        url: String,
    },
    /// An OpenID Connect logout token.
    Oidc {
        participant: Participant,
        url: String,
    },
}

/// CAS back-channel logout (CAS 3.0 Appendix C): a POST of `logoutRequest`
/// naming the ticket, bounded in time; true when the service answered 2xx.
async fn cas_back_channel(state: &AppState, participant: &Participant, url: &str) -> bool {
    let request = crate::cas::logout_request(
        &ids::new_id(),
        &Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        &participant.session_index,
    );
    state
        .http
        .post(url)
        .form(&[("logoutRequest", request)])
        .timeout(Duration::from_millis(state.config.cas.logout_timeout_ms))
        .send()
        .await
        .is_ok_and(|answer| answer.status().is_success())
}

async fn futures_join_all<F: std::future::Future<Output = (String, bool)> + Send + 'static>(
    calls: impl Iterator<Item = F>,
) -> Vec<(String, bool)> {
    let mut set = tokio::task::JoinSet::new();
    for call in calls {
        set.spawn(call);
    }
    let mut outcomes = Vec::new();
    while let Some(result) = set.join_next().await {
        if let Ok(outcome) = result {
            outcomes.push(outcome);
        }
    }
    outcomes
}

fn logout_request_for(
    state: &AppState,
    participant: &Participant,
    destination: &str,
) -> (String, String) {
    let id = ids::new_id();
    let xml = messages::build_logout_request(&LogoutRequest {
        id: id.clone(),
        issuer: state.config.saml.idp_entity_id.clone(),
        destination: Some(destination.to_owned()),
        issue_instant: Utc::now(),
        name_id: NameId {
            value: participant.name_id.clone(),
            format: Some(participant.name_id_format.clone()),
            name_qualifier: None,
            sp_name_qualifier: None,
        },
        session_indexes: vec![participant.session_index.clone()],
        not_on_or_after: None,
    });
    (id, xml)
}

/// SOAP back-channel LogoutRequest, bounded in time; true when the service
/// confirmed.
async fn soap_logout(state: &AppState, participant: &Participant, location: &str) -> bool {
    let (id, xml) = logout_request_for(state, participant, location);
    let key = std::sync::Arc::clone(&state.signing_key);
    let signed_id = id.clone();
    let Ok(Ok(signed)) =
        tokio::task::spawn_blocking(move || sso_saml::dsig::sign_enveloped(&xml, &signed_id, &key))
            .await
    else {
        return false;
    };
    let Ok(envelope) = messages::wrap_soap(&signed) else {
        return false;
    };
    let call = state
        .http
        .post(location)
        .header(header::CONTENT_TYPE, "text/xml; charset=utf-8")
        .header(
            "SOAPAction",
            "http://www.oasis-open.org/committees/security",
        )
        .body(envelope)
        .timeout(Duration::from_millis(state.config.saml.logout_timeout_ms))
        .send()
        .await;
    let Ok(answer) = call else { return false };
    let Ok(text) = answer.text().await else {
        return false;
    };
    messages::unwrap_soap(&text)
        .ok()
        .and_then(|inner| messages::parse_logout_response(&inner).ok())
        .is_some_and(|response| {
            response.message.status_code == ns::STATUS_SUCCESS
                && response.message.in_response_to.as_deref() == Some(id.as_str())
        })
}

/// Tells the next front-channel participant, or the upstream IdP, or answers
/// whoever asked.
async fn next_step(
    state: &AppState,
    logout_id: String,
    mut logout: LogoutState,
) -> Result<Response, WebError> {
    let registry = state.registry.get();
    while let Some(participant) = logout.pending.pop() {
        let Some(service) = registry.by_id(&participant.service_id) else {
            continue;
        };
        let Some(endpoint) = service.saml.as_ref().and_then(|saml| {
            saml.slo
                .iter()
                .find(|e| e.binding == ns::BINDING_HTTP_REDIRECT)
        }) else {
            continue;
        };
        let (request_id, xml) = logout_request_for(state, &participant, &endpoint.location);
        let url = binding::redirect_url(
            &endpoint.location,
            MessageKind::Request,
            &xml,
            Some(&logout_id),
            Some(&state.signing_key),
        )
        .map_err(|err| WebError::Internal(err.to_string()))?;
        logout.waiting_for = Some((participant.service_id.clone(), request_id));
        return away(state, &logout_id, &logout, &url).await;
    }
    match logout.upstream.take() {
        Some(UpstreamSession::Saml {
            idp,
            name_id,
            name_id_format,
            session_index,
        }) => {
            if let Some(connector) = state.connector(&idp) {
                let name_id = NameId {
                    value: name_id,
                    format: name_id_format,
                    name_qualifier: None,
                    sp_name_qualifier: None,
                };
                if let Ok((request_id, url)) =
                    connector.logout_request(&name_id, session_index.as_deref(), &logout_id)
                {
                    logout.waiting_for = Some((format!("idp:{idp}"), request_id));
                    return away(state, &logout_id, &logout, &url).await;
                }
            }
        }
        Some(UpstreamSession::Oidc { idp, id_token }) => {
            let url = state
                .upstream(&idp)
                .and_then(crate::upstreams::Upstream::as_oidc)
                .and_then(|connector| {
                    connector.logout_url(
                        Some(&id_token),
                        &state.urls.oidc_logout_return,
                        &logout_id,
                    )
                });
            if let Some(url) = url {
                return away(state, &logout_id, &logout, &url).await;
            }
        }
        None => {}
    }
    finish(state, logout).await
}

/// Query of the return from an OpenID provider's logout.
#[derive(Debug, Deserialize)]
pub struct OidcLogoutReturn {
    state: Option<String>,
}

/// `GET /oidc/logout/return?state=`: the OpenID provider ended its session
/// and sent the browser back (the registered `post_logout_redirect_uri`);
/// the logout in progress, named by `state`, gets its answer.
pub async fn oidc_logout_return(
    State(state): State<AppState>,
    Query(query): Query<OidcLogoutReturn>,
) -> Result<Response, WebError> {
    let id = query
        .state
        .ok_or_else(|| WebError::BadRequest("logout return without state".into()))?;
    let logout: LogoutState = take_json(state.store.as_ref(), &format!("slo:{id}"))
        .await?
        .ok_or_else(|| WebError::Expired("unknown or expired logout".into()))?;
    finish(&state, logout).await
}

/// Keeps the logout in progress under `slo:<id>` and sends the browser to
/// `url` (a participant or the upstream IdP), which brings it back.
async fn away(
    state: &AppState,
    logout_id: &str,
    logout: &LogoutState,
    url: &str,
) -> Result<Response, WebError> {
    put_json(
        state.store.as_ref(),
        &format!("slo:{logout_id}"),
        logout,
        LOGOUT_TTL,
    )
    .await?;
    Ok(Redirect::to(url).into_response())
}

async fn finish(state: &AppState, logout: LogoutState) -> Result<Response, WebError> {
    // The session ended here; PartialLogout (a second-level code, saml-core
    // §3.2.2.2) when a participant could not be told.
    let all_ok = logout.outcomes.iter().all(|(_, ok)| *ok);
    let partial = (!all_ok).then_some(ns::STATUS_PARTIAL_LOGOUT);
    match logout.origin {
        Origin::User { return_to } => {
            let outcomes: Vec<LogoutOutcome> = logout
                .outcomes
                .into_iter()
                .map(|(name, ok)| LogoutOutcome { name, ok })
                .collect();
            super::html(state.pages.logout(&outcomes, return_to.as_deref()))
        }
        Origin::Client {
            return_to: Some(return_to),
        } => Ok(Redirect::to(&return_to).into_response()),
        Origin::Client { return_to: None } => {
            let outcomes: Vec<LogoutOutcome> = logout
                .outcomes
                .into_iter()
                .map(|(name, ok)| LogoutOutcome { name, ok })
                .collect();
            super::html(state.pages.logout(&outcomes, None))
        }
        Origin::Service {
            service_id,
            request_id,
            relay_state,
        } => {
            let registry = state.registry.get();
            let service = registry
                .by_id(&service_id)
                .ok_or_else(|| WebError::UnknownService(service_id.clone()))?;
            let endpoint = service
                .saml
                .as_ref()
                .and_then(|saml| {
                    saml.slo
                        .iter()
                        .find(|e| e.binding == ns::BINDING_HTTP_REDIRECT)
                })
                .ok_or_else(|| {
                    WebError::BadRequest(
                        "the service has no HTTP-Redirect SingleLogoutService".into(),
                    )
                })?;
            let xml = messages::build_logout_response(&LogoutResponse {
                id: ids::new_id(),
                issuer: state.config.saml.idp_entity_id.clone(),
                destination: Some(endpoint.location.clone()),
                in_response_to: Some(request_id),
                issue_instant: Utc::now(),
                status_code: ns::STATUS_SUCCESS.to_owned(),
                status_sub_code: partial.map(str::to_owned),
            });
            let url = binding::redirect_url(
                &endpoint.location,
                MessageKind::Response,
                &xml,
                relay_state.as_deref(),
                Some(&state.signing_key),
            )
            .map_err(|err| WebError::Internal(err.to_string()))?;
            Ok(Redirect::to(&url).into_response())
        }
        Origin::Idp {
            idp,
            request_id,
            relay_state,
        } => {
            let connector = state.connector(&idp).ok_or_else(|| {
                WebError::Internal(format!("identity provider {idp} left the configuration"))
            })?;
            let url = connector
                .logout_response(&request_id, partial, relay_state.as_deref())
                .map_err(|err| WebError::Internal(err.to_string()))?;
            Ok(Redirect::to(&url).into_response())
        }
    }
}

fn decode(state: &AppState, query: Option<String>) -> Result<RedirectMessage, WebError> {
    binding::decode_redirect(
        &query.unwrap_or_default(),
        state.config.saml.max_message_bytes,
    )
    .map_err(|err| WebError::BadRequest(err.to_string()))
}

/// A LogoutResponse came back for the step `slo:<relay>`: record it, go on.
async fn resume(
    state: &AppState,
    message: &RedirectMessage,
    certs_of: impl Fn(&str) -> Vec<sso_saml::keys::Certificate>,
) -> Result<Response, WebError> {
    let relay = message
        .relay_state
        .as_deref()
        .ok_or_else(|| WebError::BadRequest("LogoutResponse without RelayState".into()))?;
    let mut logout: LogoutState = take_json(state.store.as_ref(), &format!("slo:{relay}"))
        .await?
        .ok_or_else(|| WebError::Expired("unknown or expired logout".into()))?;
    let response = messages::parse_logout_response(&message.xml)
        .map_err(|err| WebError::BadRequest(err.to_string()))?
        .message;
    if let Some((party, request_id)) = logout.waiting_for.take() {
        let verified = binding::verify_redirect_signature(message, &certs_of(&party)).is_ok();
        let ok = verified
            && response.in_response_to.as_deref() == Some(request_id.as_str())
            && response.status_code == ns::STATUS_SUCCESS;
        if !party.starts_with("idp:") {
            logout.outcomes.push((service_name(state, &party), ok));
        }
    }
    next_step(state, relay.to_owned(), logout).await
}

fn parse_logout_request(message: &RedirectMessage) -> Result<LogoutRequest, WebError> {
    messages::parse_logout_request(&message.xml)
        .map(|received| received.message)
        .map_err(|err| WebError::BadRequest(err.to_string()))
}

/// How old a LogoutRequest may be (beyond the clock skew).
const MAX_LOGOUT_REQUEST_AGE: chrono::Duration = chrono::Duration::minutes(10);

/// A LogoutRequest must be signed by its issuer (an unsigned one could end
/// anybody's session), name this endpoint as its Destination (one signed
/// for another party could otherwise be replayed here), and be fresh
/// (IssueInstant within the clock skew and ten minutes, NotOnOrAfter not
/// past), so that an old captured request cannot be played again later.
fn verify_logout_request(
    state: &AppState,
    message: &RedirectMessage,
    request: &LogoutRequest,
    certs: &[sso_saml::keys::Certificate],
    endpoint: &str,
) -> Result<(), WebError> {
    binding::verify_redirect_signature(message, certs)
        .map_err(|err| WebError::BadRequest(format!("LogoutRequest signature: {err}")))?;
    if request.destination.as_deref() != Some(endpoint) {
        return Err(WebError::BadRequest(format!(
            "LogoutRequest Destination {:?} is not this endpoint {endpoint:?}",
            request.destination
        )));
    }
    let now = Utc::now();
    let skew = chrono::Duration::from_std(std::time::Duration::from_secs(
        state.config.saml.clock_skew_seconds,
    ))
    .unwrap_or_default();
    if request.issue_instant > now + skew
        || request.issue_instant < now - skew - MAX_LOGOUT_REQUEST_AGE
    {
        return Err(WebError::BadRequest(
            "LogoutRequest IssueInstant out of bounds".into(),
        ));
    }
    if let Some(not_on_or_after) = request.not_on_or_after
        && not_on_or_after <= now - skew
    {
        return Err(WebError::BadRequest("expired LogoutRequest".into()));
    }
    Ok(())
}

/// `GET /saml/idp/slo`: LogoutRequest from a service, or a service's
/// LogoutResponse during a logout in progress.
pub async fn downstream_slo_redirect(
    State(state): State<AppState>,
    jar: CookieJar,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    let message = decode(&state, query)?;
    match message.kind {
        MessageKind::Response => {
            let registry = state.registry.get();
            resume(&state, &message, |id| {
                registry
                    .by_id(id)
                    .and_then(|s| s.saml.as_ref())
                    .map(|saml| saml.signing_certs.clone())
                    .unwrap_or_default()
            })
            .await
        }
        MessageKind::Request => {
            let request = parse_logout_request(&message)?;
            let registry = state.registry.get();
            let service = registry.by_entity_id(&request.issuer).ok_or_else(|| {
                WebError::UnknownService(format!("unregistered issuer {:?}", request.issuer))
            })?;
            verify_logout_request(
                &state,
                &message,
                &request,
                service
                    .saml
                    .as_ref()
                    .map(|saml| saml.signing_certs.as_slice())
                    .unwrap_or_default(),
                &state.urls.idp_slo,
            )?;
            let origin = Origin::Service {
                service_id: service.id.clone(),
                request_id: request.id.clone(),
                relay_state: message.relay_state.clone(),
            };
            let principal = Principal::Participant {
                service_id: &service.id,
                name_id: &request.name_id.value,
            };
            begin(&state, &jar, origin, principal, Some(&service.id)).await
        }
    }
}

/// `GET /saml/sp/slo`: LogoutRequest from the upstream IdP, or its
/// LogoutResponse at the end of a logout we started.
pub async fn upstream_slo_redirect(
    State(state): State<AppState>,
    jar: CookieJar,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    let message = decode(&state, query)?;
    match message.kind {
        MessageKind::Response => {
            resume(&state, &message, |party| {
                let idp = party.strip_prefix("idp:").unwrap_or_default();
                state
                    .connector(idp)
                    .map(|c| c.signing_certs())
                    .unwrap_or_default()
            })
            .await
        }
        MessageKind::Request => {
            let request = parse_logout_request(&message)?;
            let connector = state.connector_by_entity(&request.issuer).ok_or_else(|| {
                WebError::BadRequest(format!("unknown identity provider {:?}", request.issuer))
            })?;
            verify_logout_request(
                &state,
                &message,
                &request,
                &connector.signing_certs(),
                &state.urls.sp_slo,
            )?;
            let origin = Origin::Idp {
                idp: connector.id().to_owned(),
                request_id: request.id.clone(),
                relay_state: message.relay_state.clone(),
            };
            let principal = Principal::Upstream {
                idp: connector.id(),
                name_id: &request.name_id.value,
            };
            begin(&state, &jar, origin, principal, None).await
        }
    }
}

/// `GET /logout`: the user logs out of everything.
pub async fn user_logout(
    State(state): State<AppState>,
    jar: CookieJar,
) -> Result<Response, WebError> {
    begin(
        &state,
        &jar,
        Origin::User { return_to: None },
        Principal::Browser,
        None,
    )
    .await
}

/// Query of `/cas/logout`.
#[derive(Debug, Deserialize)]
pub struct CasLogoutQuery {
    service: Option<String>,
}

/// `GET /cas/logout` (CAS 3.0 §2.3): the user's logout; a `service` URL is
/// offered as a link afterwards only when it matches a registered CAS
/// service (never an open redirect).
pub async fn cas_logout(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(query): Query<CasLogoutQuery>,
) -> Result<Response, WebError> {
    let return_to = query
        .service
        .filter(|url| state.registry.get().by_cas_service(url).is_ok());
    begin(
        &state,
        &jar,
        Origin::User { return_to },
        Principal::Browser,
        None,
    )
    .await
}

/// `GET /oidc/logout` (OpenID Connect RP-Initiated Logout 1.0): with a
/// valid `id_token_hint`, only the session of the user it names ends; the
/// client that asks is not sent a back-channel logout token; the browser
/// goes back only to a post-logout URI registered for that client.
pub async fn oidc_end_session(
    State(state): State<AppState>,
    jar: CookieJar,
    query: RawQuery,
) -> Result<Response, WebError> {
    let request = super::oidc::end_session_request(&state, query)?;
    let principal = match (&request.service_id, &request.sub) {
        (Some(service_id), Some(sub)) => Principal::Participant {
            service_id,
            name_id: sub,
        },
        _ => Principal::Browser,
    };
    begin(
        &state,
        &jar,
        Origin::Client {
            return_to: request.return_to.clone(),
        },
        principal,
        request.service_id.as_deref(),
    )
    .await
}
