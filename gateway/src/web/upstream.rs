//! The gateway as client of the upstream identity providers: the discovery
//! page ("Élève ou parent" / "Personnel de l'Éducation nationale"), then per
//! kind of provider:
//!
//! - SAML 2.0 SP: the signed AuthnRequest, the SP metadata and the assertion
//!   consumer service;
//! - OpenID Connect relying party (Core 1.0 §3.1, code flow with PKCE): the
//!   authentication request, whose pending state is kept in the store under
//!   its `state` with the flow and the browser binding, and the callback
//!   `/oidc/callback/{idp}`, one per provider (the mix-up defence, RFC 9207
//!   §2.4 and the OAuth 2.0 security BCP §4.4), which consumes that pending
//!   state once and refuses it when it belongs to another provider or to
//!   another browser;
//! - trusted headers: the identity the reverse proxy passed, believed only
//!   when the TCP peer is one of its trusted proxies.
//!
//! The acceptance sequences live in `idp_connectors`; every accepted login
//! then goes through the same directory join and session creation under a
//! fresh id ([`accept_login`]).
//!
//! Upstream isolation (architecture "High availability"): while an
//! upstream's circuit breaker is open, `/login/{idp}` does not send the user
//! into a dead IdP but answers the French "momentanément indisponible" page
//! (503 with `Retry-After`, a link back to the discovery page of the same
//! flow), and the discovery page marks that choice; the OpenID Connect
//! callback answers the same page when the provider cannot be reached for
//! the token or userinfo call. Other upstreams are untouched.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Extension, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use sso_saml::metadata::{SpMetadataSpec, build_sp_metadata};

use super::CookieJar;
use super::client_ip::ClientIp;
use super::cookies::{SameSite, set_cookie};
use super::downstream::{self, BROWSER_COOKIE, SamlPost, browser_binding};
use crate::error::WebError;
use crate::join::{self, JoinError, Joined};
use crate::observe::prometheus::{self, LoginOutcome, LoginProbe};
use crate::pages::IdpChoice;
use crate::session::{OidcRequest, PendingChoice, Session, UpstreamRequest};
use crate::state::AppState;
use crate::upstreams::Upstream;
use idp_connectors::oidc::{AuthOptions, CallbackParams, OidcError};

#[derive(Debug, Deserialize)]
pub struct DiscoveryQuery {
    flow: Option<String>,
    /// A gateway page to come back to after a login without a flow (see
    /// [`super::return_to`]).
    retour: Option<String>,
}

/// `GET /login?flow=` (or `?retour=`): the discovery page.
pub async fn discovery(
    State(state): State<AppState>,
    Query(query): Query<DiscoveryQuery>,
) -> Result<Response, WebError> {
    let service = match &query.flow {
        Some(flow_id) => {
            let flow = state
                .sessions()
                .get_flow(flow_id)
                .await?
                .ok_or_else(|| WebError::Expired("unknown or expired flow".into()))?;
            state
                .registry
                .get()
                .by_id(&flow.service_id)
                .map(|s| s.display_name.clone())
        }
        None => None,
    };
    let suffix = query
        .flow
        .as_ref()
        .map(|flow| {
            format!(
                "?flow={}",
                url::form_urlencoded::byte_serialize(flow.as_bytes()).collect::<String>()
            )
        })
        .unwrap_or_default();
    let choices: Vec<IdpChoice> = state
        .upstreams
        .iter()
        .map(|upstream| IdpChoice {
            href: format!("/login/{}{suffix}", upstream.id()),
            label: upstream.label().to_owned(),
            description: upstream.description().map(str::to_owned),
            unavailable: upstream.availability().is_err(),
        })
        .collect();
    let mut response = super::html(state.pages.discovery(service.as_deref(), &choices))?;
    if query.flow.is_none()
        && let Some(cookie) = query
            .retour
            .as_deref()
            .and_then(|page| super::return_to::remember(&state, page))
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `GET /login/{idp}?flow=`: starts the login at the chosen IdP: a signed
/// AuthnRequest (SAML), an authentication request (OpenID Connect), or the
/// identity in the trusted proxy's headers.
pub async fn start(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(idp): Path<String>,
    Query(query): Query<DiscoveryQuery>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let upstream = state
        .upstream(&idp)
        .ok_or_else(|| WebError::BadRequest(format!("unknown identity provider {idp:?}")))?;
    if let Err(rejected) = upstream.availability() {
        return unavailable_page(
            &state,
            upstream,
            query.flow.as_deref(),
            rejected.retry_after,
            "circuit breaker open",
        );
    }
    let sessions = state.sessions();
    let mut force_authn = false;
    let mut authn_contexts = None;
    if let Some(flow_id) = &query.flow {
        let flow = sessions
            .get_flow(flow_id)
            .await?
            .ok_or_else(|| WebError::Expired("unknown or expired flow".into()))?;
        if jar.get(BROWSER_COOKIE).map(crate::digest).as_deref() != Some(flow.browser.as_str()) {
            return Err(WebError::Expired("flow opened in another browser".into()));
        }
        force_authn = flow.force_authn;
        authn_contexts = state
            .registry
            .get()
            .by_id(&flow.service_id)
            .and_then(|service| downstream::required_contexts(service, &flow.authn_contexts));
    }
    let flow_id = query.flow.clone().filter(|f| !f.is_empty());
    let (url, cookie) = match upstream {
        Upstream::Saml(connector) => {
            let (browser, cookie) = browser_binding(&state, &jar);
            let relay_state = query.flow.clone().unwrap_or_default();
            let (request_id, url) = connector
                .authn_request(&relay_state, force_authn, authn_contexts.as_deref())
                .map_err(|err| WebError::Internal(err.to_string()))?;
            sessions
                .put_upstream(
                    &request_id,
                    &UpstreamRequest {
                        idp: connector.id().to_owned(),
                        flow_id,
                        browser: crate::digest(&browser),
                    },
                )
                .await?;
            (url, cookie)
        }
        Upstream::Oidc(connector) => {
            let (browser, cookie) = browser_binding(&state, &jar);
            let (url, auth) = connector.authorization_request_for(&AuthOptions {
                force_login: force_authn,
                acr_values: authn_contexts.as_deref().unwrap_or_default(),
            });
            sessions
                .put_oidc(&OidcRequest {
                    auth,
                    flow_id,
                    browser: crate::digest(&browser),
                })
                .await?;
            (url, cookie)
        }
        Upstream::Headers(connector) => {
            let probe = LoginProbe {
                idp: Some(connector.id().to_owned()),
                failure: None,
            };
            let attempt = state.limits.failures.before_check(None, client_ip).await;
            let result = header_login(&state, &jar, connector, peer, &headers, flow_id).await;
            if matches!(result, Err(WebError::ProxyRequired(_))) {
                attempt.failed().await;
            }
            crate::events::login_step(&state, &probe, &result, client_ip);
            return result;
        }
    };
    let mut response = Redirect::to(&url).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The trusted-header login of [`start`] (counted in `sso_logins_total`).
async fn header_login(
    state: &AppState,
    jar: &CookieJar,
    connector: &idp_connectors::headers::HeaderConnector,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: &HeaderMap,
    flow_id: Option<String>,
) -> Result<Response, WebError> {
    let idp = connector.id();
    let Some(Extension(ConnectInfo(peer))) = peer else {
        return Err(WebError::Internal(
            "the server does not record the TCP peer of requests".into(),
        ));
    };
    let identity = connector
        .identity(peer.ip(), headers)
        .map_err(|err| match err {
            idp_connectors::headers::HeaderError::UntrustedPeer(ip) => {
                WebError::ProxyRequired(format!(
                    "{idp}: peer in {} is not a trusted proxy",
                    crate::observe::truncated_ip(ip)
                ))
            }
            other => WebError::LoginFailed(format!("{idp}: {other}")),
        })?;
    let session = Session {
        identity,
        created_at: Utc::now().timestamp(),
        upstream_name_id: None,
        upstream_name_id_format: None,
        upstream_session_index: None,
        upstream_id_token: None,
    };
    accept_login(state, jar, session, flow_id, idp).await
}

/// `GET /oidc/callback/{idp}`: the OpenID provider's authorization response.
/// The pending request named by `state` is consumed once, whatever the
/// outcome; it must have been sent to this very provider (mix-up defence)
/// from this browser; then the connector's acceptance sequence runs.
///
/// A refused callback (forged, replayed, mixed up) is a failure counted
/// against the client IP (see [`crate::limits`]).
pub async fn oidc_callback(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Path(idp): Path<String>,
    Query(callback): Query<CallbackParams>,
) -> Result<Response, WebError> {
    let mut probe = LoginProbe {
        idp: state.upstream(&idp).map(|u| u.id().to_owned()),
        failure: None,
    };
    let attempt = state.limits.failures.before_check(None, ip).await;
    let result = oidc_login(&state, &jar, &idp, &callback, &mut probe).await;
    if matches!(result, Err(WebError::LoginFailed(_) | WebError::Expired(_))) {
        attempt.failed().await;
    }
    crate::events::login_step(&state, &probe, &result, ip);
    result
}

/// The checks of [`oidc_callback`], once its delay is over.
async fn oidc_login(
    state: &AppState,
    jar: &CookieJar,
    idp: &str,
    callback: &CallbackParams,
    probe: &mut LoginProbe,
) -> Result<Response, WebError> {
    let connector = state
        .upstream(idp)
        .and_then(Upstream::as_oidc)
        .ok_or_else(|| {
            WebError::BadRequest(format!("{idp:?} is not an OpenID Connect provider"))
        })?;
    let Some(state_param) = callback.state.as_deref() else {
        return Err(match &callback.error {
            Some(error) => {
                WebError::UpstreamCancelled(format!("{idp}: error {error:?} without state"))
            }
            None => WebError::LoginFailed(format!("{idp}: callback without state")),
        });
    };
    let taken = state.sessions().take_oidc(state_param).await;
    let pending = taken?.ok_or_else(|| {
        WebError::Expired(format!(
            "{idp}: callback for an unknown, expired or already used request"
        ))
    })?;
    if let Some(flow_id) = &pending.flow_id {
        crate::observe::record_flow(flow_id);
    }
    if pending.auth.idp != idp {
        return Err(WebError::LoginFailed(format!(
            "callback for a request sent to {:?} delivered at {idp:?}'s endpoint (mix-up)",
            pending.auth.idp
        )));
    }
    if jar.get(BROWSER_COOKIE).map(crate::digest).as_deref() != Some(pending.browser.as_str()) {
        return Err(WebError::LoginFailed(format!(
            "{idp}: callback delivered to another browser than the request's"
        )));
    }
    let login = match connector.complete_login(&pending.auth, callback).await {
        Ok(login) => login,
        Err(err @ OidcError::ProviderUnavailable { .. }) => {
            probe.failure = Some(LoginOutcome::UpstreamError);
            let upstream = state
                .upstream(idp)
                .ok_or_else(|| WebError::Internal(format!("{idp:?} vanished")))?;
            let retry_after = upstream
                .availability()
                .err()
                .map(|rejected| rejected.retry_after);
            return unavailable_page(
                state,
                upstream,
                pending.flow_id.as_deref(),
                retry_after.unwrap_or_else(|| cooldown(upstream)),
                &err.to_string(),
            );
        }
        Err(err @ OidcError::ProviderError { .. }) => {
            return Err(WebError::UpstreamCancelled(format!("{idp}: {err}")));
        }
        Err(err @ OidcError::TokenRequest(_)) => {
            probe.failure = Some(LoginOutcome::UpstreamError);
            return Err(WebError::LoginFailed(format!("{idp}: {err}")));
        }
        Err(other) => return Err(WebError::LoginFailed(format!("{idp}: {other}"))),
    };
    let session = Session {
        identity: login.identity,
        created_at: Utc::now().timestamp(),
        upstream_name_id: None,
        upstream_name_id_format: None,
        upstream_session_index: None,
        upstream_id_token: Some(login.id_token),
    };
    accept_login(state, jar, session, pending.flow_id, idp).await
}

/// The cool-down of the upstream's breaker (the `Retry-After` of a failed
/// call while the breaker is still closed).
fn cooldown(upstream: &Upstream) -> Duration {
    upstream.guard().map_or(Duration::from_secs(30), |guard| {
        guard.breaker().settings().cooldown
    })
}

/// The French page of an unavailable upstream: 503, `Retry-After` (whole
/// seconds, at least 1), a link back to the discovery page of the flow.
fn unavailable_page(
    state: &AppState,
    upstream: &Upstream,
    flow: Option<&str>,
    retry_after: Duration,
    detail: &str,
) -> Result<Response, WebError> {
    tracing::warn!(
        idp = upstream.id(),
        detail,
        "upstream identity provider unavailable: French page shown"
    );
    let back = match flow.filter(|flow| !flow.is_empty()) {
        Some(flow) => format!(
            "/login?flow={}",
            url::form_urlencoded::byte_serialize(flow.as_bytes()).collect::<String>()
        ),
        None => "/login".to_owned(),
    };
    let others = state
        .upstreams
        .iter()
        .any(|other| other.id() != upstream.id() && other.availability().is_ok());
    let page = state
        .pages
        .upstream_unavailable(upstream.label(), &back, others)
        .map_err(|err| WebError::Internal(err.to_string()))?;
    let seconds = retry_after
        .as_secs()
        .saturating_add(u64::from(retry_after.subsec_nanos() > 0))
        .max(1);
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, Html(page)).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    Ok(response)
}

/// `GET /saml/sp/metadata`
pub async fn metadata(State(state): State<AppState>) -> Result<Response, WebError> {
    let encryption = state
        .saml_connectors()
        .next()
        .map(|c| c.decryption_certificate().clone());
    let xml = build_sp_metadata(&SpMetadataSpec {
        entity_id: &state.config.saml.sp_entity_id,
        signing_cert: state.signing_key.certificate(),
        encryption_cert: encryption.as_ref(),
        acs_post: &state.urls.sp_acs,
        slo_redirect: Some(&state.urls.sp_slo),
        slo_post: None,
        authn_requests_signed: true,
        want_assertions_signed: true,
    });
    Ok((
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        xml,
    )
        .into_response())
}

/// `POST /saml/sp/acs`: the IdP's Response (counted in `sso_logins_total`).
/// A refused Response (forged, replayed, badly signed) is a failure counted
/// against the client IP (see [`crate::limits`]).
pub async fn acs(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(form): Form<SamlPost>,
) -> Result<Response, WebError> {
    let mut probe = LoginProbe::default();
    let attempt = state.limits.failures.before_check(None, ip).await;
    let result = acs_login(&state, &jar, &form, &mut probe).await;
    if matches!(result, Err(WebError::LoginFailed(_))) {
        attempt.failed().await;
    }
    crate::events::login_step(&state, &probe, &result, ip);
    result
}

/// The checks of [`acs`], once its delay is over.
async fn acs_login(
    state: &AppState,
    jar: &CookieJar,
    form: &SamlPost,
    probe: &mut LoginProbe,
) -> Result<Response, WebError> {
    let encoded = form
        .response()
        .ok_or_else(|| WebError::BadRequest("no SAMLResponse".into()))?;
    let sessions = state.sessions();
    let any = state
        .saml_connectors()
        .next()
        .ok_or_else(|| WebError::BadRequest("no SAML identity provider is configured".into()))?;
    let peek = any
        .peek(encoded)
        .map_err(|err| WebError::LoginFailed(err.to_string()))?;
    probe.idp = peek
        .issuer
        .as_deref()
        .and_then(|issuer| state.connector_by_entity(issuer))
        .map(|connector| connector.id().to_owned());

    // The pending request this claims to answer: consumed once, whatever the outcome.
    let pending = match &peek.in_response_to {
        Some(id) => sessions.take_upstream(id).await?,
        None => None,
    };
    let connector = match (&pending, &peek.issuer) {
        (Some(pending), _) => state.connector(&pending.idp),
        (None, Some(issuer)) => state.connector_by_entity(issuer),
        (None, None) => None,
    }
    .ok_or_else(|| WebError::LoginFailed("response from an unknown identity provider".into()))?;
    probe.idp = Some(connector.id().to_owned());
    if let Some(flow_id) = pending.as_ref().and_then(|p| p.flow_id.as_deref()) {
        crate::observe::record_flow(flow_id);
    }
    if let Some(pending) = &pending
        && jar.get(BROWSER_COOKIE).map(crate::digest).as_deref() != Some(pending.browser.as_str())
    {
        return Err(WebError::LoginFailed(
            "response delivered to another browser than the request's".into(),
        ));
    }
    let expected = pending.as_ref().and(peek.in_response_to.as_deref());
    let login = connector
        .validate(encoded, expected, state.store.as_ref(), Utc::now())
        .await
        .map_err(|err| {
            use idp_connectors::saml::ResponseError;
            match err {
                ResponseError::StoreUnavailable(detail) => WebError::Unavailable(detail),
                other => {
                    probe.failure = match other {
                        ResponseError::Replay => Some(LoginOutcome::Replay),
                        ResponseError::Status { .. } => Some(LoginOutcome::UpstreamError),
                        _ => None,
                    };
                    WebError::LoginFailed(format!("{}: {other}", connector.id()))
                }
            }
        })?;

    let session = Session {
        identity: login.identity,
        created_at: Utc::now().timestamp(),
        upstream_name_id: login.name_id.as_ref().map(|n| n.value.clone()),
        upstream_name_id_format: login.name_id.as_ref().and_then(|n| n.format.clone()),
        upstream_session_index: login.session_index,
        upstream_id_token: None,
    };
    let flow_id = pending.and_then(|p| p.flow_id).filter(|f| !f.is_empty());
    accept_login(state, jar, session, flow_id, connector.id()).await
}

/// What every accepted upstream login goes through, whatever the protocol:
/// the directory join, then the session (or the académie choice page).
async fn accept_login(
    state: &AppState,
    jar: &CookieJar,
    session: Session,
    flow_id: Option<String>,
    idp: &str,
) -> Result<Response, WebError> {
    let joined = join::join(
        &state.directory,
        &state.config.directory,
        session.identity.clone(),
    )
    .await
    .map_err(|err| join_error(idp, err))?;
    match joined {
        Joined::Ready(identity) => {
            let session = Session {
                identity,
                ..session
            };
            finish_login(state, jar, session, flow_id, idp).await
        }
        Joined::Choose(options) => {
            let (token, new_cookie) = browser_binding(state, jar);
            let sessions = state.sessions();
            let id = sessions
                .put_choice(&PendingChoice {
                    session,
                    flow_id,
                    browser: crate::digest(&token),
                    options: options.clone(),
                    idp: idp.to_owned(),
                })
                .await?;
            let page = state
                .pages
                .academie_choice(&id, &options)
                .map_err(|err| WebError::Internal(err.to_string()))?;
            let mut response = Html(page).into_response();
            response.extensions_mut().insert(prometheus::LoginPending);
            if let Some(cookie) = new_cookie {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            Ok(response)
        }
    }
}

fn join_error(idp: &str, err: JoinError) -> WebError {
    match err {
        err if err.is_unavailable() => WebError::Unavailable(err.to_string()),
        JoinError::NotFound(_) => WebError::NotInDirectory(format!("{idp}: {err}")),
        other => WebError::Internal(other.to_string()),
    }
}

/// Asks for the usage charter when the person has not accepted its current
/// version (see [`super::legal::ask_charter`]), otherwise opens the session.
async fn finish_login(
    state: &AppState,
    jar: &CookieJar,
    session: Session,
    flow_id: Option<String>,
    idp: &str,
) -> Result<Response, WebError> {
    match super::legal::ask_charter(state, jar, session, flow_id, idp).await? {
        super::legal::CharterGate::Ask(response) => Ok(response),
        super::legal::CharterGate::Pass(session, flow_id) => {
            open_session(state, jar, *session, flow_id, idp).await
        }
    }
}

/// Creates the SSO session under a fresh id (ending the browser's previous
/// one), sets its cookie and continues the downstream flow, if any.
pub(super) async fn open_session(
    state: &AppState,
    jar: &CookieJar,
    session: Session,
    flow_id: Option<String>,
    idp: &str,
) -> Result<Response, WebError> {
    let sessions = state.sessions();
    let cookie_name = &state.config.session.cookie_name;
    let now = chrono::Utc::now().timestamp();
    // A new login replaces the browser's session. When it is the same person
    // (a stronger login, or a service's ForceAuthn), the services they
    // already reached stay participants, so that logout still reaches them.
    let mut carried = Vec::new();
    if let Some(old) = jar.get(cookie_name) {
        let same_person = sessions.get(old, now).await?.is_some_and(|previous| {
            previous.identity.idp == session.identity.idp
                && previous.identity.subject == session.identity.subject
        });
        let participants = sessions.delete(old).await?;
        if same_person {
            carried = participants;
        }
    }
    let session_id = sessions.create(&session).await?;
    crate::privacy::index_session(state, &session_id, &session).await;
    for participant in &carried {
        sessions
            .add_participant(&session_id, &session, participant, now)
            .await?;
    }
    tracing::info!(idp, "upstream login accepted");
    let cookie = set_cookie(
        cookie_name,
        &session_id,
        state.config.session.secure_cookies,
        SameSite::Lax,
        None,
    )
    .ok_or_else(|| WebError::Internal("cookie value".into()))?;
    let mut response = match flow_id {
        Some(flow_id) => downstream::respond(state, &session_id, &session, &flow_id, true).await?,
        None => Redirect::to(super::return_to::landing(jar)).into_response(),
    };
    response
        .extensions_mut()
        .insert(crate::events::Who::of(&session.identity));
    response.headers_mut().append(header::SET_COOKIE, cookie);
    if let Some(forget) = super::return_to::forget(state, jar) {
        response.headers_mut().append(header::SET_COOKIE, forget);
    }
    Ok(response)
}

/// The académie chosen on the page of [`acs`].
#[derive(Debug, Deserialize)]
pub struct AcademieForm {
    choice: String,
    academie: String,
}

/// `POST /login/academie`: the académie a parent chose; the login goes on
/// with that académie's entry only.
pub async fn choose_academie(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(form): Form<AcademieForm>,
) -> Result<Response, WebError> {
    let pending = state
        .sessions()
        .take_choice(&form.choice)
        .await?
        .ok_or_else(|| WebError::Expired("académie choice unknown or already used".into()))?;
    if jar.get(BROWSER_COOKIE).map(crate::digest).as_deref() != Some(pending.browser.as_str()) {
        return Err(WebError::Expired(
            "académie choice sent by another browser".into(),
        ));
    }
    if !pending.options.iter().any(|o| o.academie == form.academie) {
        return Err(WebError::BadRequest("académie not offered".into()));
    }
    let probe = LoginProbe {
        idp: Some(pending.idp.clone()),
        failure: None,
    };
    let result = chosen_academie(&state, &jar, pending, &form.academie).await;
    crate::events::login_step(&state, &probe, &result, ip);
    result
}

/// The login of [`choose_academie`] once the choice is accepted (counted in
/// `sso_logins_total`).
async fn chosen_academie(
    state: &AppState,
    jar: &CookieJar,
    pending: PendingChoice,
    academie: &str,
) -> Result<Response, WebError> {
    if let Some(flow_id) = &pending.flow_id {
        crate::observe::record_flow(flow_id);
    }
    let mut session = pending.session;
    join::keep_academie(&mut session.identity, academie);
    let joined = join::join(
        &state.directory,
        &state.config.directory,
        session.identity.clone(),
    )
    .await
    .map_err(|err| join_error(&pending.idp, err))?;
    match joined {
        Joined::Ready(identity) => {
            let session = Session {
                identity,
                ..session
            };
            finish_login(state, jar, session, pending.flow_id, &pending.idp).await
        }
        Joined::Choose(_) => Err(WebError::Internal(
            "several académies left after the choice".into(),
        )),
    }
}
