//! The gateway as SAML 2.0 IdP of the downstream services (ENTs and
//! resources): metadata (saml-metadata §2.4.3), SSO over HTTP-Redirect and
//! HTTP-POST (saml-bindings §3.4, §3.5, saml-profiles §4.1).
//!
//! AuthnRequest checks: known issuer; signature verified with the service's
//! registered key when the service or the gateway requires it (and whenever
//! one is present); Destination; the ACS chosen only among the registered
//! ones, never a URL taken from the request alone. Issued Responses: a signed
//! Assertion (and a signed Response when the service asks), SHA-256,
//! RSA-SHA256, Audience, Recipient, InResponseTo, NotOnOrAfter at most five
//! minutes ahead, SessionIndex, 128-bit random IDs, exactly one Assertion, the
//! NameID format of the registration, and only the released attributes.

use std::borrow::Cow;
use std::sync::Arc;

use axum::extract::{Form, Query, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use sp_registry::{Registry, SamlService, ServiceDefinition};
use sso_core::Identity;
use sso_saml::binding::{self, MessageKind};
use sso_saml::messages::{self, AssertionSpec, AuthnRequest, ResponseSpec, SamlAttribute};
use sso_saml::metadata::{IdpMetadataSpec, build_idp_metadata};
use sso_saml::{dsig, ids, ns};

use super::CookieJar;
use super::cookies::{SameSite, set_cookie};
use crate::error::WebError;
use crate::events;
use crate::observe::prometheus::{AccessOutcome, Protocol};
use crate::session::{Answer, Flow, Participant, Session, Via};
use crate::state::AppState;
use crate::subscriptions::{self, AccessError};

/// Name of the browser-binding cookie.
pub const BROWSER_COOKIE: &str = "sso_browser";

/// `GET /saml/idp/metadata`
pub async fn metadata(State(state): State<AppState>) -> Response {
    let certs = [state.signing_key.certificate().clone()];
    let xml = build_idp_metadata(&IdpMetadataSpec {
        entity_id: &state.config.saml.idp_entity_id,
        signing_certs: &certs,
        sso_redirect: &state.urls.idp_sso,
        sso_post: &state.urls.idp_sso,
        slo_redirect: &state.urls.idp_slo,
        slo_post: &state.urls.idp_slo,
        name_id_formats: &[ns::NAMEID_PERSISTENT, ns::NAMEID_TRANSIENT],
    });
    (
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        xml,
    )
        .into_response()
}

/// Form fields of the HTTP-POST binding.
#[derive(Debug, Deserialize)]
pub struct SamlPost {
    #[serde(rename = "SAMLRequest")]
    request: Option<String>,
    #[serde(rename = "SAMLResponse")]
    response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

impl SamlPost {
    /// The `SAMLResponse` field.
    pub fn response(&self) -> Option<&str> {
        self.response.as_deref()
    }
}

/// The SAML service named by an AuthnRequest's issuer, and its SAML side.
fn service_of<'a>(
    registry: &'a Registry,
    issuer: Option<&str>,
) -> Result<(&'a ServiceDefinition, &'a SamlService), WebError> {
    let issuer =
        issuer.ok_or_else(|| WebError::BadRequest("AuthnRequest without Issuer".into()))?;
    registry
        .by_entity_id(issuer)
        .and_then(|service| Some((service, service.saml.as_ref()?)))
        .ok_or_else(|| WebError::UnknownService(format!("unregistered issuer {issuer:?}")))
}

/// The SAML side of a service answered over SAML.
fn saml_of(service: &ServiceDefinition) -> Result<&SamlService, WebError> {
    service
        .saml
        .as_ref()
        .ok_or_else(|| WebError::UnknownService(format!("{} has no [saml] table", service.id)))
}

fn signature_required(state: &AppState, saml: &SamlService) -> bool {
    state.config.saml.require_signed_authn_requests || saml.require_signed_authn_requests
}

/// `GET /saml/idp/sso`: HTTP-Redirect binding.
pub async fn sso_redirect(
    State(state): State<AppState>,
    jar: CookieJar,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    let query = query.unwrap_or_default();
    let message = binding::decode_redirect(&query, state.config.saml.max_message_bytes)
        .map_err(|err| WebError::BadRequest(err.to_string()))?;
    let request = messages::parse_authn_request(&message.xml)
        .map_err(|err| WebError::BadRequest(err.to_string()))?;
    let registry = state.registry.get();
    let (service, saml) = service_of(&registry, request.issuer.as_deref())?;
    if message.signature.is_some() {
        binding::verify_redirect_signature(&message, &saml.signing_certs)
            .map_err(|err| WebError::BadRequest(format!("AuthnRequest signature: {err}")))?;
    } else if signature_required(&state, saml) {
        return Err(WebError::BadRequest("unsigned AuthnRequest".into()));
    }
    let (flow_id, flow, cookie) =
        accept(&state, &jar, service, saml, &request, message.relay_state).await?;
    let new_browser = cookie.as_ref().map(|(_, raw)| raw.as_str());
    let mut response = proceed_with(&state, &jar, new_browser, &flow_id, &flow).await?;
    if let Some((value, _)) = cookie {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// `POST /saml/idp/sso`: HTTP-POST binding. The POST comes cross-site, so the
/// `SameSite=Lax` session cookie is absent: the flow is stored and the
/// browser sent on to a same-site GET that sees the session.
pub async fn sso_post(
    State(state): State<AppState>,
    jar: CookieJar,
    Form(form): Form<SamlPost>,
) -> Result<Response, WebError> {
    let encoded = form
        .request
        .as_deref()
        .ok_or_else(|| WebError::BadRequest("no SAMLRequest".into()))?;
    let xml = binding::decode_post(encoded, state.config.saml.max_message_bytes)
        .map_err(|err| WebError::BadRequest(err.to_string()))?;
    let mut request =
        messages::parse_authn_request(&xml).map_err(|err| WebError::BadRequest(err.to_string()))?;
    let registry = state.registry.get();
    let (service, saml) = service_of(&registry, request.issuer.as_deref())?;
    if request.signed {
        let certs = saml.signing_certs.clone();
        let reduced = tokio::task::spawn_blocking(move || dsig::verify_and_reduce(&xml, &certs))
            .await
            .map_err(|err| WebError::Internal(err.to_string()))?
            .map_err(|err| WebError::BadRequest(format!("AuthnRequest signature: {err}")))?;
        let verified = messages::parse_authn_request(&reduced)
            .map_err(|err| WebError::BadRequest(err.to_string()))?;
        if verified.id != request.id {
            return Err(WebError::BadRequest(
                "the signature does not cover the AuthnRequest".into(),
            ));
        }
        request = verified;
    } else if signature_required(&state, saml) {
        return Err(WebError::BadRequest("unsigned AuthnRequest".into()));
    }
    let (flow_id, _, cookie) =
        accept(&state, &jar, service, saml, &request, form.relay_state).await?;
    let mut response = Redirect::to(&format!("/saml/idp/continue?flow={flow_id}")).into_response();
    if let Some((value, _)) = cookie {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// A flow just stored: its id, the flow, and for a browser without one the
/// binding cookie to set (header value and raw token).
type Accepted = (String, Flow, Option<(HeaderValue, String)>);

/// Checks the request against the registration and stores the flow.
async fn accept(
    state: &AppState,
    jar: &CookieJar,
    service: &ServiceDefinition,
    saml: &SamlService,
    request: &AuthnRequest,
    relay_state: Option<String>,
) -> Result<Accepted, WebError> {
    if let Some(destination) = &request.destination
        && destination != &state.urls.idp_sso
    {
        return Err(WebError::BadRequest(format!(
            "Destination {destination:?} is not this gateway"
        )));
    }
    let acs = saml
        .resolve_acs(request.acs_url.as_deref(), request.acs_index)
        .map_err(|err| WebError::BadRequest(err.to_string()))?;
    let (browser, cookie) = browser_binding(state, jar);
    let flow = Flow {
        service_id: service.id.clone(),
        answer: Answer::Saml {
            request_id: request.id.clone(),
            acs_url: acs.location.clone(),
            relay_state,
        },
        force_authn: request.force_authn,
        is_passive: request.is_passive,
        authn_contexts: exact_contexts(request),
        browser: crate::digest(&browser),
    };
    let flow_id = state.sessions().put_flow(&flow).await?;
    Ok((flow_id, flow, cookie.map(|value| (value, browser))))
}

/// The authentication contexts an AuthnRequest requires (saml-core
/// §3.3.2.2.1): its `AuthnContextClassRef` values with comparison `exact`.
/// The other comparisons need an order of strength between contexts that
/// the configuration does not define: they are not enforced (logged).
fn exact_contexts(request: &AuthnRequest) -> Vec<String> {
    match request.requested_authn_comparison.as_deref() {
        Some("exact") => request.requested_authn_context.clone(),
        Some(other) => {
            tracing::info!(
                comparison = other,
                "RequestedAuthnContext comparison not enforced"
            );
            Vec::new()
        }
        None => Vec::new(),
    }
}

/// The browser-binding token: the cookie's, or a new one with its `Set-Cookie`.
pub fn browser_binding(state: &AppState, jar: &CookieJar) -> (String, Option<HeaderValue>) {
    match jar.get(BROWSER_COOKIE) {
        Some(token) => (token.to_owned(), None),
        None => {
            let token = crate::random_token();
            let cookie = set_cookie(
                BROWSER_COOKIE,
                &token,
                state.config.session.secure_cookies,
                SameSite::None,
                None,
            );
            (token, cookie)
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct FlowQuery {
    flow: String,
}

/// `GET /saml/idp/continue?flow=`: after a POST-binding request.
pub async fn resume(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(query): Query<FlowQuery>,
) -> Result<Response, WebError> {
    proceed(&state, &jar, None, &query.flow).await
}

/// With a live session (and no ForceAuthn) answers the service at once (true
/// single sign-on); otherwise sends the browser to the discovery page.
pub(super) async fn proceed(
    state: &AppState,
    jar: &CookieJar,
    new_browser: Option<&str>,
    flow_id: &str,
) -> Result<Response, WebError> {
    let flow = state
        .sessions()
        .get_flow(flow_id)
        .await?
        .ok_or_else(|| WebError::Expired("unknown or expired flow".into()))?;
    proceed_with(state, jar, new_browser, flow_id, &flow).await
}

/// [`proceed`] with the flow in hand (just stored: not read back).
async fn proceed_with(
    state: &AppState,
    jar: &CookieJar,
    new_browser: Option<&str>,
    flow_id: &str,
    flow: &Flow,
) -> Result<Response, WebError> {
    let sessions = state.sessions();
    let browser = new_browser
        .or_else(|| jar.get(BROWSER_COOKIE))
        .unwrap_or_default();
    if crate::digest(browser) != flow.browser {
        return Err(WebError::Expired("flow opened in another browser".into()));
    }
    let now = Utc::now().timestamp();
    let mut step_up = None;
    if !flow.force_authn
        && let Some(session_id) = jar.get(&state.config.session.cookie_name)
        && let Some(session) = sessions.get(session_id, now).await?
    {
        let registry = state.registry.get();
        let stronger = registry.by_id(&flow.service_id).is_some_and(|service| {
            let required = required_contexts(service, &flow.authn_contexts);
            needs_step_up(required.as_deref(), &session.identity)
        });
        if !stronger {
            return respond(state, session_id, &session, flow_id, false).await;
        }
        step_up = state
            .upstream(&session.identity.idp)
            .map(|upstream| upstream.id().to_owned());
    }
    if flow.is_passive {
        return respond_passive(state, flow_id).await;
    }
    if let Some(idp) = step_up {
        // A stronger login at the IdP of the session's login.
        return Ok(Redirect::to(&format!("/login/{idp}?flow={flow_id}")).into_response());
    }
    let target = match state.upstreams.as_slice() {
        [only] => format!("/login/{}?flow={flow_id}", only.id()),
        _ => format!("/login?flow={flow_id}"),
    };
    Ok(Redirect::to(&target).into_response())
}

fn attribute_name_format(name: &str) -> &'static str {
    if name.starts_with("urn:") {
        ns::ATTRNAME_FORMAT_URI
    } else {
        ns::ATTRNAME_FORMAT_BASIC
    }
}

/// The access rules of a service at the moment of access: the login's
/// authentication context, the profile and school rules or a grant, then,
/// for a resource, a subscription covering the user (the refusal counted).
/// Returns the identity as the service sees it (a grant may give the user
/// another school). Every way into a service goes through here.
pub(super) async fn may_open<'i>(
    state: &AppState,
    service: &ServiceDefinition,
    identity: &'i Identity,
) -> Result<Cow<'i, Identity>, WebError> {
    let admitted = match service.admit(identity, Utc::now().date_naive()) {
        Ok(admission) => admission.apply(identity),
        Err(denied) => {
            tracing::info!(service = %service.id, idp = %identity.idp, reason = %denied, "access refused");
            return Err(denied.into());
        }
    };
    if let Err(error) = subscriptions::check(state.store.as_ref(), service, &admitted).await {
        if let AccessError::Refused(refusal) = &error {
            tracing::info!(service = %service.id, reason = refusal.reason(), "access refused: subscription");
        }
        return Err(error.into());
    }
    Ok(admitted)
}

/// The authentication contexts a login must have for a request: the
/// service's requirement (`[access] authn_contexts`), narrowed to those the
/// request asked for (`acr_values`) when they share some; the request's
/// alone when the service requires none; None when nothing is asked.
pub(super) fn required_contexts(
    service: &ServiceDefinition,
    requested: &[String],
) -> Option<Vec<String>> {
    match (service.required_authn_contexts(), requested) {
        (None, []) => None,
        (None, requested) => Some(requested.to_vec()),
        (Some(required), []) => Some(required.to_vec()),
        (Some(required), requested) => {
            let both: Vec<String> = required
                .iter()
                .filter(|context| requested.contains(context))
                .cloned()
                .collect();
            Some(if both.is_empty() {
                required.to_vec()
            } else {
                both
            })
        }
    }
}

/// Whether the login of `identity` lacks the `required` authentication
/// context (then the user is sent to log in again, asking for it).
pub(super) fn needs_step_up(required: Option<&[String]>, identity: &Identity) -> bool {
    required.is_some_and(|required| {
        identity
            .authn_context
            .as_ref()
            .is_none_or(|found| !required.contains(found))
    })
}

/// Issues the Response for a pending flow, within a session, and records the
/// service as a participant of the session (for single logout).
/// `fresh_login`: the session was just made for this flow (CAS `renew`).
pub async fn respond(
    state: &AppState,
    session_id: &str,
    session: &Session,
    flow_id: &str,
    fresh_login: bool,
) -> Result<Response, WebError> {
    let sessions = state.sessions();
    let flow = sessions
        .take_flow(flow_id)
        .await?
        .ok_or_else(|| WebError::Expired("flow already answered".into()))?;
    let registry = state.registry.get();
    let service = registry.by_id(&flow.service_id).ok_or_else(|| {
        WebError::UnknownService(format!("service {} left the registry", flow.service_id))
    })?;
    let protocol = protocol_of(&flow.answer);
    let identity = events::count_refusal(
        state,
        &session.identity,
        &service.id,
        protocol,
        may_open(state, service, &session.identity).await,
    )?;
    // A SAML service that required a context the login does not have gets
    // NoAuthnContext (saml-core §3.4.1.2), not an assertion; an OpenID
    // Connect client's acr_values are voluntary (its ID token's acr says).
    if let Answer::Saml {
        request_id,
        acs_url,
        relay_state,
    } = &flow.answer
        && !flow.authn_contexts.is_empty()
        && identity
            .authn_context
            .as_ref()
            .is_none_or(|found| !flow.authn_contexts.contains(found))
    {
        tracing::info!(service = %service.id, "requested authentication context not obtained");
        events::record_access(
            state,
            &identity,
            &service.id,
            protocol,
            AccessOutcome::RefusedPolicy,
        );
        let answer = SamlAnswer {
            request_id,
            acs_url,
            relay_state: relay_state.as_deref(),
        };
        return saml_refusal(state, &answer, ns::STATUS_NO_AUTHN_CONTEXT).await;
    }
    events::count_access(
        state,
        &identity,
        &service.id,
        protocol,
        answer(
            state,
            session_id,
            session,
            service,
            &identity,
            &flow.answer,
            fresh_login,
        )
        .await,
    )
}

/// The protocol of a downstream answer, for the access metrics.
fn protocol_of(answer: &Answer) -> Protocol {
    match answer {
        Answer::Saml { .. } => Protocol::Saml,
        Answer::Cas { .. } => Protocol::Cas,
        Answer::Oidc(_) => Protocol::Oidc,
    }
}

/// Answers a request at once within a live session that satisfies it (true
/// single sign-on: nothing stored); otherwise stores it as a flow bound to
/// the browser and sends the browser to log in (or, passive, back without
/// an answer).
pub(super) async fn answer_or_login(
    state: &AppState,
    jar: &CookieJar,
    service: &ServiceDefinition,
    request: Answer,
    force_authn: bool,
    is_passive: bool,
    authn_contexts: Vec<String>,
) -> Result<Response, WebError> {
    let required = required_contexts(service, &authn_contexts);
    if !force_authn
        && let Some(session_id) = jar.get(&state.config.session.cookie_name)
        && let Some(session) = state
            .sessions()
            .get(session_id, Utc::now().timestamp())
            .await?
        && !needs_step_up(required.as_deref(), &session.identity)
    {
        let protocol = protocol_of(&request);
        let identity = events::count_refusal(
            state,
            &session.identity,
            &service.id,
            protocol,
            may_open(state, service, &session.identity).await,
        )?;
        return events::count_access(
            state,
            &identity,
            &service.id,
            protocol,
            answer(
                state, session_id, &session, service, &identity, &request, false,
            )
            .await,
        );
    }
    let (browser, cookie) = browser_binding(state, jar);
    let flow = Flow {
        service_id: service.id.clone(),
        answer: request,
        force_authn,
        is_passive,
        authn_contexts,
        browser: crate::digest(&browser),
    };
    let flow_id = state.sessions().put_flow(&flow).await?;
    let new_browser = cookie.is_some().then_some(browser.as_str());
    let mut response = proceed_with(state, jar, new_browser, &flow_id, &flow).await?;
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The answer of each protocol, for a user admitted to the service.
async fn answer(
    state: &AppState,
    session_id: &str,
    session: &Session,
    service: &ServiceDefinition,
    identity: &Identity,
    request: &Answer,
    fresh_login: bool,
) -> Result<Response, WebError> {
    match request {
        Answer::Saml {
            request_id,
            acs_url,
            relay_state,
        } => {
            let answer = SamlAnswer {
                request_id,
                acs_url,
                relay_state: relay_state.as_deref(),
            };
            saml_response(state, session_id, session, service, identity, &answer).await
        }
        Answer::Cas { service_url } => {
            super::cas::ticket_answer(
                state,
                session_id,
                session,
                service,
                identity,
                service_url,
                fresh_login,
            )
            .await
        }
        Answer::Oidc(request) => {
            super::oidc::code_answer(state, session_id, session, service, identity, request).await
        }
    }
}

/// Where a SAML Response goes.
struct SamlAnswer<'a> {
    request_id: &'a str,
    acs_url: &'a str,
    relay_state: Option<&'a str>,
}

/// The signed SAML Response for `service`, the service recorded as a
/// participant of the session.
async fn saml_response(
    state: &AppState,
    session_id: &str,
    session: &Session,
    service: &ServiceDefinition,
    identity: &Identity,
    flow: &SamlAnswer<'_>,
) -> Result<Response, WebError> {
    let saml = saml_of(service)?;
    let (name_id, name_id_format) = service.name_id(identity, &state.identifier_keys)?;
    let attributes = service
        .release(identity, &state.identifier_keys)?
        .into_iter()
        .map(|released| SamlAttribute {
            name_format: Some(attribute_name_format(&released.name).to_owned()),
            friendly_name: None,
            name: released.name,
            values: released.values,
        })
        .collect();
    let now = Utc::now();
    let lifetime = chrono::Duration::from_std(
        saml.assertion_lifetime
            .min(std::time::Duration::from_secs(300)),
    )
    .unwrap_or_else(|_| chrono::Duration::minutes(5));
    let session_index = ids::new_id();
    let authn_instant = chrono::DateTime::from_timestamp(identity.authn_instant, 0).unwrap_or(now);
    let assertion = AssertionSpec {
        id: ids::new_id(),
        issuer: state.config.saml.idp_entity_id.clone(),
        issue_instant: now,
        name_id: name_id.clone(),
        name_id_format: name_id_format.to_owned(),
        name_qualifier: Some(state.config.saml.idp_entity_id.clone()),
        sp_name_qualifier: Some(saml.entity_id.clone()),
        recipient: flow.acs_url.to_owned(),
        in_response_to: Some(flow.request_id.to_owned()),
        not_before: now,
        not_on_or_after: now + lifetime,
        audience: saml.entity_id.clone(),
        session_index: session_index.clone(),
        authn_instant,
        authn_context_class_ref: identity
            .authn_context
            .clone()
            .unwrap_or_else(|| ns::AC_PASSWORD_PROTECTED_TRANSPORT.to_owned()),
        session_not_on_or_after: None,
        attributes,
    };
    let key = Arc::clone(&state.signing_key);
    let response_spec = ResponseSpec {
        id: ids::new_id(),
        issuer: state.config.saml.idp_entity_id.clone(),
        issue_instant: now,
        destination: flow.acs_url.to_owned(),
        in_response_to: Some(flow.request_id.to_owned()),
        status_code: ns::STATUS_SUCCESS.to_owned(),
        status_sub_code: None,
        status_message: None,
    };
    let sign_response = saml.sign_response;
    let xml = tokio::task::spawn_blocking(move || {
        crate::issue::signed_response(&assertion, &response_spec, sign_response, &key)
    })
    .await
    .map_err(|err| WebError::Internal(err.to_string()))?
    .map_err(|err| WebError::Internal(err.to_string()))?;
    let participant = Participant {
        service_id: service.id.clone(),
        name_id,
        name_id_format: name_id_format.to_owned(),
        session_index,
        via: Via::Saml,
    };
    record_participant(state, session_id, session, service, &participant).await?;
    tracing::info!(service = %service.id, idp = %identity.idp, "assertion issued");
    Ok(post_page(flow.acs_url, &xml, flow.relay_state))
}

/// Records a service that was just answered as a participant of the
/// session (for logout) and, for an ENT that may call the médiacentre API,
/// links the identifier it received to the session.
pub(super) async fn record_participant(
    state: &AppState,
    session_id: &str,
    session: &Session,
    service: &ServiceDefinition,
    participant: &Participant,
) -> Result<(), WebError> {
    let sessions = state.sessions();
    let now = Utc::now().timestamp();
    sessions
        .add_participant(session_id, session, participant, now)
        .await?;
    if service.mediacentre_api_token_sha256.is_some() {
        sessions
            .link_service_user(&service.id, &participant.name_id, session_id, session, now)
            .await?;
    }
    Ok(())
}

/// Answers a passive flow without a session: a signed SAML Response with
/// status Responder/NoPassive, the browser back to the CAS service without
/// a ticket (`gateway`), or `login_required` to the OpenID Connect client.
async fn respond_passive(state: &AppState, flow_id: &str) -> Result<Response, WebError> {
    let flow = state
        .sessions()
        .take_flow(flow_id)
        .await?
        .ok_or_else(|| WebError::Expired("flow already answered".into()))?;
    match flow.answer {
        Answer::Saml {
            request_id,
            acs_url,
            relay_state,
        } => {
            let answer = SamlAnswer {
                request_id: &request_id,
                acs_url: &acs_url,
                relay_state: relay_state.as_deref(),
            };
            saml_refusal(state, &answer, ns::STATUS_NO_PASSIVE).await
        }
        Answer::Cas { service_url } => Ok(super::cas::no_ticket(&service_url)),
        Answer::Oidc(request) => Ok(super::oidc::error_redirect(
            state,
            &request,
            "login_required",
            "no session and prompt=none",
        )),
    }
}

/// A signed SAML Response without assertion, status Responder with the
/// second-level `status` (saml-core §3.2.2.2: NoPassive, NoAuthnContext).
async fn saml_refusal(
    state: &AppState,
    flow: &SamlAnswer<'_>,
    status: &str,
) -> Result<Response, WebError> {
    let response_id = ids::new_id();
    let response = messages::build_response(
        &ResponseSpec {
            id: response_id.clone(),
            issuer: state.config.saml.idp_entity_id.clone(),
            issue_instant: Utc::now(),
            destination: flow.acs_url.to_owned(),
            in_response_to: Some(flow.request_id.to_owned()),
            status_code: ns::STATUS_RESPONDER.to_owned(),
            status_sub_code: Some(status.to_owned()),
            status_message: None,
        },
        None,
    )
    .map_err(|err| WebError::Internal(err.to_string()))?;
    let key = Arc::clone(&state.signing_key);
    let xml =
        tokio::task::spawn_blocking(move || dsig::sign_enveloped(&response, &response_id, &key))
            .await
            .map_err(|err| WebError::Internal(err.to_string()))?
            .map_err(|err| WebError::Internal(format!("signing failed: {err}")))?;
    Ok(post_page(flow.acs_url, &xml, flow.relay_state))
}

fn post_page(action: &str, xml: &str, relay_state: Option<&str>) -> Response {
    Html(binding::post_form(
        action,
        MessageKind::Response,
        xml,
        relay_state,
    ))
    .into_response()
}
