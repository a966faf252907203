//! The simulated downstream service providers: an ENT and publishers'
//! resources, as SAML 2.0 SPs of the gateway (saml-profiles §4.1 Web Browser
//! SSO with HTTP-Redirect requests and HTTP-POST responses, §4.4 Single
//! Logout; domain reference §1, §4).
//!
//! The ACS runs one readable sequence of checks, each failing with its own
//! named error shown on a 400 page: decoding, XML signature with the
//! gateway's certificate (the assertion is read from the verified content
//! only), status, destination, issuer, audience, time window (60 s skew),
//! bearer confirmation and recipient, then `InResponseTo` against the requests
//! this browser sent (consumed once) and the RelayState that went with it.
//! `state.json` exposes counters for the gateway's end-to-end tests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sso_saml::binding::{self, BindingError, MessageKind};
use sso_saml::dsig::{self, DsigError};
use sso_saml::ids::new_id;
use sso_saml::keys::{Certificate, SigningKey};
use sso_saml::messages::{self, Assertion, MessageError, NameId, SamlAttribute};
use sso_saml::metadata::{self, SpMetadataSpec};
use sso_saml::ns;

use crate::page::{self, escape};
use crate::web::{self, Expiring, lock, redirect};

/// Largest inflated HTTP-Redirect message or decoded HTTP-POST message accepted.
const MAX_MESSAGE: usize = 256 * 1024;
/// Tolerated clock difference with the gateway.
const CLOCK_SKEW: chrono::Duration = chrono::Duration::seconds(60);
/// How long a browser's pending requests are remembered.
const FLOW_TTL: Duration = Duration::from_secs(10 * 60);
/// How long an SP session lasts.
const SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);
/// Most AuthnRequests one browser may have pending at once (several tabs).
const MAX_PENDING_PER_BROWSER: usize = 8;
/// Cookie binding a browser to its pending requests.
const FLOW_COOKIE: &str = "testbed_sp_flow";
/// Cookie of the SP session.
const SESSION_COOKIE: &str = "testbed_sp_session";

/// Configuration of one simulated SP.
#[derive(Debug)]
pub struct SimSpConfig {
    /// Short identifier, e.g. `ent` or `resource-a`.
    pub id: String,
    /// Name shown on the pages, e.g. `ENT`.
    pub display_name: String,
    /// Public URL of the simulator's root; routes are relative to its path.
    pub base_url: String,
    /// The SP's entity id.
    pub entity_id: String,
    /// Signs AuthnRequests, LogoutRequests and LogoutResponses.
    pub signing_key: SigningKey,
    /// The gateway's SSO endpoint (HTTP-Redirect).
    pub idp_sso_url: String,
    /// The gateway's SLO endpoint (HTTP-Redirect).
    pub idp_slo_url: String,
    /// The gateway's entity id as IdP.
    pub idp_entity_id: String,
    /// Verifies the gateway's Responses, LogoutRequests and LogoutResponses.
    pub idp_signing_cert: Certificate,
    /// Links shown on the home page under "Médiacentre": (label, URL).
    pub links: Vec<(String, String)>,
    /// The gateway's médiacentre API, which this simulated ENT calls server
    /// to server for the logged-in user (as a real ENT builds its
    /// médiacentre page).
    pub mediacentre_api: Option<MediacentreApi>,
}

/// How a simulated ENT reaches the gateway's médiacentre API.
#[derive(Debug, Clone)]
pub struct MediacentreApi {
    /// `GET` URL of the API (`…/api/mediacentre`).
    pub url: String,
    /// The ENT's bearer token.
    pub token: String,
}

impl SimSpConfig {
    fn url(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.base_url.trim_end_matches('/'))
    }

    /// The home page: the nested router's root, `{base}` without a trailing slash.
    fn home(&self) -> String {
        self.base_url.trim_end_matches('/').to_owned()
    }
}

/// Why the simulated SP refused or failed a message.
#[derive(Debug, thiserror::Error)]
enum SpError {
    #[error("the form carries no SAMLResponse or SAMLRequest")]
    MissingMessage,
    #[error("decoding: the SAML message could not be decoded: {0}")]
    Decode(#[source] BindingError),
    #[error("signature: the XML signature does not verify with the gateway's certificate: {0}")]
    Signature(#[source] DsigError),
    #[error(
        "signature: the redirect signature does not verify with the gateway's certificate: {0}"
    )]
    RedirectSignature(#[source] BindingError),
    #[error("format: the message is malformed: {0}")]
    Malformed(#[source] MessageError),
    #[error("status: the response status is {0:?}, not Success")]
    Status(String),
    #[error(
        "encryption: the response carries an encrypted assertion, but this SP publishes no encryption key"
    )]
    Encrypted,
    #[error("destination: {found:?} is not this endpoint {expected:?}")]
    Destination { found: String, expected: String },
    #[error("issuer: {found:?} is not the gateway {expected:?}")]
    Issuer { found: String, expected: String },
    #[error("audience: {found:?} does not include this SP {expected:?}")]
    Audience {
        found: Vec<String>,
        expected: String,
    },
    #[error("time window: the assertion is not valid before {0}")]
    NotYetValid(DateTime<Utc>),
    #[error("time window: the assertion expired at {0}")]
    Expired(DateTime<Utc>),
    #[error(
        "subject confirmation: no bearer confirmation for recipient {expected:?} (found {found:?})"
    )]
    Recipient {
        found: Vec<String>,
        expected: String,
    },
    #[error("InResponseTo: {0:?} is not a request this browser sent (or it was already answered)")]
    InResponseTo(Option<String>),
    #[error("RelayState: {found:?} is not the value sent with the request ({expected:?})")]
    RelayState {
        found: Option<String>,
        expected: String,
    },
    #[error("NameID: the assertion has no NameID")]
    NoNameId,
    #[error("logout: this browser has no pending logout answered by {0:?}")]
    UnexpectedLogoutResponse(String),
    #[error("logout: the gateway answered with status {0:?}")]
    LogoutStatus(String),
    #[error("encoding the message failed: {0}")]
    Encode(#[source] BindingError),
    #[error("the verification task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
}

impl SpError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Encode(_) | Self::Task(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// What a browser has in flight with this SP.
#[derive(Default)]
struct Flow {
    /// AuthnRequest ID -> RelayState sent with it.
    authn: Vec<(String, String)>,
    /// ID of the LogoutRequest this browser sent, if any.
    logout: Option<String>,
}

/// What arrived at the ACS, kept as the SP session.
#[derive(Clone)]
struct SpSession {
    name_id: NameId,
    session_index: Option<String>,
    attributes: Vec<SamlAttribute>,
}

#[derive(Default)]
struct Counters {
    logouts_received: u64,
    last_attributes: BTreeMap<String, Vec<String>>,
}

struct SpState {
    config: SimSpConfig,
    cookie_path: String,
    flows: Mutex<Expiring<Flow>>,
    sessions: Mutex<Expiring<SpSession>>,
    counters: Mutex<Counters>,
    http: reqwest::Client,
}

type Shared = Arc<SpState>;

/// The simulated SP's routes, relative to `base_url`'s path (the caller nests
/// the router there): `GET /` (home, served at `{base}` once nested),
/// `GET /login`, `POST /acs`, `GET /logout`, `GET|POST /slo`,
/// `GET /state.json`, `GET /metadata`.
pub fn sim_sp_router(config: SimSpConfig) -> Router {
    let state = Arc::new(SpState {
        cookie_path: web::cookie_path(&config.base_url),
        config,
        flows: Mutex::new(Expiring::new(FLOW_TTL)),
        sessions: Mutex::new(Expiring::new(SESSION_TTL)),
        counters: Mutex::new(Counters::default()),
        http: web::back_channel_client(),
    });
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/acs", axum::routing::post(acs))
        .route("/logout", get(logout))
        .route("/slo", get(slo_redirect).post(slo_post))
        .route("/state.json", get(state_json))
        .route("/metadata", get(metadata_doc))
        .with_state(state)
}

/// The SP's SAML metadata: ACS HTTP-POST at `{base}/acs`, SLO HTTP-Redirect and
/// HTTP-POST at `{base}/slo`, `AuthnRequestsSigned` and `WantAssertionsSigned`.
pub fn sim_sp_metadata(config: &SimSpConfig) -> String {
    let acs = config.url("/acs");
    let slo = config.url("/slo");
    metadata::build_sp_metadata(&SpMetadataSpec {
        entity_id: &config.entity_id,
        signing_cert: config.signing_key.certificate(),
        encryption_cert: None,
        acs_post: &acs,
        slo_redirect: Some(&slo),
        slo_post: Some(&slo),
        authn_requests_signed: true,
        want_assertions_signed: true,
    })
}

async fn metadata_doc(State(state): State<Shared>) -> Response {
    (
        [("content-type", "application/samlmetadata+xml")],
        sim_sp_metadata(&state.config),
    )
        .into_response()
}

fn service_name(config: &SimSpConfig) -> String {
    format!("{} (simulation)", config.display_name)
}

fn refuse(state: &SpState, err: &SpError) -> Response {
    tracing::warn!(sp = %state.config.id, error = %err, "simulated SP refused a message");
    page::error(err.status(), &service_name(&state.config), &err.to_string())
}

async fn home(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let config = &state.config;
    let title = service_name(config);
    let session = web::read_cookie(&headers, SESSION_COOKIE)
        .and_then(|c| lock(&state.sessions).get_mut(&c).cloned());
    let Some(session) = session else {
        let body = format!(
            "<h1>{}</h1><p>Vous n’êtes pas connecté.</p><p><a href=\"{}\">Se connecter</a></p>",
            escape(&title),
            escape(&config.url("/login"))
        );
        return page::respond(StatusCode::OK, &title, &body);
    };
    let mut body = format!(
        "<h1>{}</h1><p><strong>Connecté.</strong> Voici exactement ce que la passerelle a transmis.</p>\
<h2>Sujet</h2><table><caption>Identifiant et session</caption>\
<tr><th scope=\"row\">NameID</th><td>{}</td></tr>\
<tr><th scope=\"row\">Format du NameID</th><td>{}</td></tr>\
<tr><th scope=\"row\">SessionIndex</th><td>{}</td></tr></table>\
<h2>Attributs</h2><table><caption>Attributs reçus</caption>\
<tr><th scope=\"col\">Nom</th><th scope=\"col\">Valeurs</th></tr>",
        escape(&title),
        escape(&session.name_id.value),
        escape(session.name_id.format.as_deref().unwrap_or("(absent)")),
        escape(session.session_index.as_deref().unwrap_or("(absent)")),
    );
    for attr in &session.attributes {
        let values: String = attr
            .values
            .iter()
            .map(|v| format!("<li>{}</li>", escape(v)))
            .collect();
        body.push_str(&format!(
            "<tr><td>{}</td><td><ul>{values}</ul></td></tr>",
            escape(&attr.name)
        ));
    }
    body.push_str("</table>");
    let mut api_time = None;
    if let Some(api) = &config.mediacentre_api {
        let started = std::time::Instant::now();
        body.push_str(&mediacentre_panel(&state.http, api, &session.name_id.value).await);
        api_time = Some(started.elapsed());
    }
    if !config.links.is_empty() {
        body.push_str("<h2>Médiacentre</h2><ul>");
        for (label, url) in &config.links {
            body.push_str(&format!(
                "<li><a href=\"{}\">{}</a></li>",
                escape(url),
                escape(label)
            ));
        }
        body.push_str("</ul>");
    }
    body.push_str(&format!(
        "<form method=\"get\" action=\"{}\"><button type=\"submit\">Se déconnecter</button></form>",
        escape(&config.url("/logout"))
    ));
    let response = page::respond(StatusCode::OK, &title, &body);
    match api_time {
        Some(took) => web::with_gateway_timing(response, "GET /api/mediacentre", took),
        None => response,
    }
}

/// The user's médiacentre as the gateway lists it for this ENT (server to
/// server: the ENT's token and the NameID it received), as a list of links.
async fn mediacentre_panel(http: &reqwest::Client, api: &MediacentreApi, user: &str) -> String {
    let Ok(url) = url::Url::parse_with_params(&api.url, [("utilisateur", user)]) else {
        return "<h2>Ressources du médiacentre</h2><p>Adresse de la passerelle invalide.</p>"
            .into();
    };
    let answer = match http.get(url).bearer_auth(&api.token).send().await {
        Ok(response) if response.status().is_success() => {
            response.json::<serde_json::Value>().await.ok()
        }
        Ok(response) => {
            return format!(
                "<h2>Ressources du médiacentre</h2><p>La passerelle a répondu {}.</p>",
                response.status().as_u16()
            );
        }
        Err(_) => None,
    };
    let Some(answer) = answer else {
        return "<h2>Ressources du médiacentre</h2><p>La passerelle n’a pas répondu.</p>".into();
    };
    let items: String = answer
        .get("ressources")
        .and_then(serde_json::Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|item| {
            let field = |name: &str| {
                escape(
                    item.get(name)
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default(),
                )
            };
            format!(
                "<li><a href=\"{}\" data-ressource=\"{}\">{}</a></li>",
                field("urlAccesRessource"),
                field("idRessource"),
                field("nomRessource"),
            )
        })
        .collect();
    if items.is_empty() {
        "<h2>Ressources du médiacentre</h2><p>Aucune ressource disponible.</p>".into()
    } else {
        format!("<h2>Ressources du médiacentre</h2><ul>{items}</ul>")
    }
}

/// The browser's flow cookie, creating one (and its `Set-Cookie`) if absent.
fn flow_key(state: &SpState, headers: &HeaderMap) -> (String, Option<String>) {
    match web::read_cookie(headers, FLOW_COOKIE) {
        Some(key) => (key, None),
        None => {
            let key = new_id();
            let cookie = web::set_cookie(FLOW_COOKIE, &key, &state.cookie_path);
            (key, Some(cookie))
        }
    }
}

fn with_flow<T>(state: &SpState, key: &str, f: impl FnOnce(&mut Flow) -> T) -> T {
    f(lock(&state.flows).refresh_or_default(key))
}

async fn login(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let config = &state.config;
    let request_id = new_id();
    let relay_state = new_id();
    let xml = messages::build_authn_request(&messages::AuthnRequestSpec {
        id: request_id.clone(),
        issuer: config.entity_id.clone(),
        destination: config.idp_sso_url.clone(),
        acs_url: Some(config.url("/acs")),
        protocol_binding: Some(ns::BINDING_HTTP_POST.to_owned()),
        name_id_format: None,
        force_authn: false,
        is_passive: false,
        requested_authn_context: Vec::new(),
        issue_instant: Utc::now(),
    });
    let location = match binding::redirect_url(
        &config.idp_sso_url,
        MessageKind::Request,
        &xml,
        Some(&relay_state),
        Some(&config.signing_key),
    ) {
        Ok(l) => l,
        Err(e) => return refuse(&state, &SpError::Encode(e)),
    };
    let (key, cookie) = flow_key(&state, &headers);
    with_flow(&state, &key, |flow| {
        if flow.authn.len() >= MAX_PENDING_PER_BROWSER {
            flow.authn.remove(0);
        }
        flow.authn.push((request_id, relay_state));
    });
    redirect(location, cookie.into_iter().collect())
}

/// The HTTP-POST binding's form fields.
#[derive(Deserialize)]
struct PostBinding {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "SAMLRequest")]
    saml_request: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

async fn verify(state: &Shared, xml: String) -> Result<String, SpError> {
    let shared = Arc::clone(state);
    tokio::task::spawn_blocking(move || {
        dsig::verify_and_reduce(&xml, std::slice::from_ref(&shared.config.idp_signing_cert))
    })
    .await
    .map_err(SpError::Task)?
    .map_err(SpError::Signature)
}

async fn acs(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<PostBinding>,
) -> Response {
    match consume_response(&state, &headers, form).await {
        Ok(session) => {
            let id = new_id();
            let cookie = web::set_cookie(SESSION_COOKIE, &id, &state.cookie_path);
            {
                let mut counters = lock(&state.counters);
                counters.last_attributes = session
                    .attributes
                    .iter()
                    .map(|a| (a.name.clone(), a.values.clone()))
                    .collect();
            }
            lock(&state.sessions).insert(id, session);
            redirect(state.config.home(), vec![cookie])
        }
        Err(e) => refuse(&state, &e),
    }
}

/// The ACS checks, in order; the first failure names itself.
async fn consume_response(
    state: &Shared,
    headers: &HeaderMap,
    form: PostBinding,
) -> Result<SpSession, SpError> {
    let config = &state.config;
    let acs_url = config.url("/acs");
    let b64 = form.saml_response.ok_or(SpError::MissingMessage)?;
    let xml = binding::decode_post(&b64, MAX_MESSAGE).map_err(SpError::Decode)?;
    let envelope = messages::parse_response_envelope(&xml).map_err(SpError::Malformed)?;
    let verified = verify(state, xml).await?;
    if !envelope.encrypted_assertions.is_empty() {
        return Err(SpError::Encrypted);
    }
    if envelope.status_code != ns::STATUS_SUCCESS {
        return Err(SpError::Status(envelope.status_code));
    }
    if let Some(destination) = envelope.destination
        && destination != acs_url
    {
        return Err(SpError::Destination {
            found: destination,
            expected: acs_url,
        });
    }
    let assertion = messages::parse_assertion(&verified).map_err(SpError::Malformed)?;
    check_assertion(config, &assertion, &acs_url, Utc::now())?;
    let in_response_to = assertion
        .subject_confirmations
        .iter()
        .find_map(|c| c.in_response_to.clone());
    if envelope.in_response_to.is_some() && envelope.in_response_to != in_response_to {
        return Err(SpError::InResponseTo(envelope.in_response_to));
    }
    let name_id = assertion.name_id.ok_or(SpError::NoNameId)?;
    let flow_cookie = web::read_cookie(headers, FLOW_COOKIE);
    let pending = match (&flow_cookie, &in_response_to) {
        (Some(key), Some(id)) => {
            let mut flows = lock(&state.flows);
            flows.get_mut(key).and_then(|flow| {
                let position = flow.authn.iter().position(|(request, _)| request == id)?;
                Some(flow.authn.remove(position))
            })
        }
        _ => None,
    };
    let Some((_, relay_state)) = pending else {
        return Err(SpError::InResponseTo(in_response_to));
    };
    if form.relay_state.as_deref() != Some(relay_state.as_str()) {
        return Err(SpError::RelayState {
            found: form.relay_state,
            expected: relay_state,
        });
    }
    let session_index = assertion
        .authn_statements
        .iter()
        .find_map(|s| s.session_index.clone());
    Ok(SpSession {
        name_id,
        session_index,
        attributes: assertion.attributes,
    })
}

/// Issuer, audience, time window and bearer confirmation of a verified assertion.
fn check_assertion(
    config: &SimSpConfig,
    assertion: &Assertion,
    acs_url: &str,
    now: DateTime<Utc>,
) -> Result<(), SpError> {
    if assertion.issuer != config.idp_entity_id {
        return Err(SpError::Issuer {
            found: assertion.issuer.clone(),
            expected: config.idp_entity_id.clone(),
        });
    }
    let audiences = assertion
        .conditions
        .as_ref()
        .map(|c| c.audiences.clone())
        .unwrap_or_default();
    if !audiences.contains(&config.entity_id) {
        return Err(SpError::Audience {
            found: audiences,
            expected: config.entity_id.clone(),
        });
    }
    if let Some(conditions) = &assertion.conditions {
        if let Some(nb) = conditions.not_before
            && now + CLOCK_SKEW < nb
        {
            return Err(SpError::NotYetValid(nb));
        }
        if let Some(noa) = conditions.not_on_or_after
            && now - CLOCK_SKEW >= noa
        {
            return Err(SpError::Expired(noa));
        }
    }
    let bearer = assertion
        .subject_confirmations
        .iter()
        .find(|c| c.method == ns::CM_BEARER && c.recipient.as_deref() == Some(acs_url));
    let Some(bearer) = bearer else {
        return Err(SpError::Recipient {
            found: assertion
                .subject_confirmations
                .iter()
                .filter_map(|c| c.recipient.clone())
                .collect(),
            expected: acs_url.to_owned(),
        });
    };
    if let Some(noa) = bearer.not_on_or_after
        && now - CLOCK_SKEW >= noa
    {
        return Err(SpError::Expired(noa));
    }
    Ok(())
}

async fn logout(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let config = &state.config;
    let session =
        web::read_cookie(&headers, SESSION_COOKIE).and_then(|c| lock(&state.sessions).take(&c));
    let Some(session) = session else {
        return redirect(config.home(), Vec::new());
    };
    let request_id = new_id();
    let xml = messages::build_logout_request(&messages::LogoutRequest {
        id: request_id.clone(),
        issuer: config.entity_id.clone(),
        destination: Some(config.idp_slo_url.clone()),
        issue_instant: Utc::now(),
        name_id: session.name_id,
        session_indexes: session.session_index.into_iter().collect(),
        not_on_or_after: Some(Utc::now() + chrono::Duration::minutes(5)),
    });
    let location = match binding::redirect_url(
        &config.idp_slo_url,
        MessageKind::Request,
        &xml,
        None,
        Some(&config.signing_key),
    ) {
        Ok(l) => l,
        Err(e) => return refuse(&state, &SpError::Encode(e)),
    };
    let (key, cookie) = flow_key(&state, &headers);
    with_flow(&state, &key, |flow| flow.logout = Some(request_id));
    let mut cookies: Vec<String> = cookie.into_iter().collect();
    cookies.push(web::clear_cookie(SESSION_COOKIE, &state.cookie_path));
    redirect(location, cookies)
}

async fn slo_redirect(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let msg = match binding::decode_redirect(q.as_deref().unwrap_or_default(), MAX_MESSAGE) {
        Ok(m) => m,
        Err(e) => return refuse(&state, &SpError::Decode(e)),
    };
    if let Err(e) = binding::verify_redirect_signature(
        &msg,
        std::slice::from_ref(&state.config.idp_signing_cert),
    ) {
        return refuse(&state, &SpError::RedirectSignature(e));
    }
    slo(
        &state,
        &headers,
        msg.kind,
        &msg.xml,
        msg.relay_state.as_deref(),
    )
}

async fn slo_post(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<PostBinding>,
) -> Response {
    let (kind, b64) = match (form.saml_request, form.saml_response) {
        (Some(r), _) => (MessageKind::Request, r),
        (None, Some(r)) => (MessageKind::Response, r),
        (None, None) => return refuse(&state, &SpError::MissingMessage),
    };
    let xml = match binding::decode_post(&b64, MAX_MESSAGE) {
        Ok(x) => x,
        Err(e) => return refuse(&state, &SpError::Decode(e)),
    };
    match verify(&state, xml).await {
        Ok(verified) => slo(
            &state,
            &headers,
            kind,
            &verified,
            form.relay_state.as_deref(),
        ),
        Err(e) => refuse(&state, &e),
    }
}

/// A verified LogoutRequest from the gateway or LogoutResponse to our own logout.
fn slo(
    state: &SpState,
    headers: &HeaderMap,
    kind: MessageKind,
    xml: &str,
    relay_state: Option<&str>,
) -> Response {
    let result = match kind {
        MessageKind::Request => logout_requested(state, xml, relay_state).map(|location| {
            redirect(location, vec![web::clear_cookie(SESSION_COOKIE, &state.cookie_path)])
        }),
        MessageKind::Response => logout_answered(state, headers, xml).map(|()| {
            let title = service_name(&state.config);
            let body = format!(
                "<h1>{}</h1><p>Vous êtes déconnecté.</p><p><a href=\"{}\">Retour à l’accueil</a></p>",
                escape(&title),
                escape(&state.config.home())
            );
            page::respond(StatusCode::OK, &title, &body)
        }),
    };
    result.unwrap_or_else(|e| refuse(state, &e))
}

fn logout_requested(
    state: &SpState,
    xml: &str,
    relay_state: Option<&str>,
) -> Result<String, SpError> {
    let config = &state.config;
    let request = messages::parse_logout_request(xml)
        .map_err(SpError::Malformed)?
        .message;
    if request.issuer != config.idp_entity_id {
        return Err(SpError::Issuer {
            found: request.issuer,
            expected: config.idp_entity_id.clone(),
        });
    }
    let slo_url = config.url("/slo");
    if let Some(destination) = &request.destination
        && *destination != slo_url
    {
        return Err(SpError::Destination {
            found: destination.clone(),
            expected: slo_url,
        });
    }
    let ended = lock(&state.sessions).remove_where(|s| {
        s.name_id.value == request.name_id.value
            && (request.session_indexes.is_empty()
                || s.session_index
                    .as_ref()
                    .is_some_and(|i| request.session_indexes.contains(i)))
    });
    lock(&state.counters).logouts_received += 1;
    tracing::info!(sp = %config.id, sessions_ended = ended, "logout request accepted");
    let response = messages::build_logout_response(&messages::LogoutResponse {
        id: new_id(),
        issuer: config.entity_id.clone(),
        destination: Some(config.idp_slo_url.clone()),
        issue_instant: Utc::now(),
        in_response_to: Some(request.id),
        status_code: ns::STATUS_SUCCESS.to_owned(),
        status_sub_code: None,
    });
    binding::redirect_url(
        &config.idp_slo_url,
        MessageKind::Response,
        &response,
        relay_state,
        Some(&config.signing_key),
    )
    .map_err(SpError::Encode)
}

fn logout_answered(state: &SpState, headers: &HeaderMap, xml: &str) -> Result<(), SpError> {
    let config = &state.config;
    let response = messages::parse_logout_response(xml)
        .map_err(SpError::Malformed)?
        .message;
    if response.issuer != config.idp_entity_id {
        return Err(SpError::Issuer {
            found: response.issuer,
            expected: config.idp_entity_id.clone(),
        });
    }
    let answered = response.in_response_to.clone().unwrap_or_default();
    let pending = web::read_cookie(headers, FLOW_COOKIE).and_then(|key| {
        lock(&state.flows)
            .get_mut(&key)
            .and_then(|flow| flow.logout.take_if(|id| *id == answered))
    });
    if pending.is_none() {
        return Err(SpError::UnexpectedLogoutResponse(answered));
    }
    if response.status_code != ns::STATUS_SUCCESS {
        return Err(SpError::LogoutStatus(response.status_code));
    }
    Ok(())
}

async fn state_json(State(state): State<Shared>) -> Json<serde_json::Value> {
    let sessions = lock(&state.sessions).live();
    let counters = lock(&state.counters);
    Json(serde_json::json!({
        "sessions": sessions,
        "logouts_received": counters.logouts_received,
        "last_attributes": counters.last_attributes,
    }))
}
