//! A simulated publisher's resource speaking CAS 3.0 to the gateway (domain
//! reference §4: GAR-style resources are reached through CAS 3.0 or SAML
//! 2.0; a `serviceValidate` success carries the released attributes as
//! `cas:attributes`).
//!
//! CAS Protocol 3.0 as a CAS client:
//! - `/login` sends the browser to `<cas_base>/login?service=<base>/callback`
//!   (§2.1);
//! - `/callback?ticket=` validates the service ticket server to server at
//!   `<cas_base>/p3/serviceValidate` (§2.5, §2.5.7), with an HTTP client that
//!   follows no redirect, and reads the XML answer (Appendix A):
//!   `cas:authenticationSuccess` with `cas:user` and the `cas:attributes`
//!   (an attribute with several values is repeated), or
//!   `cas:authenticationFailure` with its `code` and message, shown in French;
//! - `/slo` receives the server's back-channel logout (§2.3.3 and Appendix C:
//!   a form field `logoutRequest` holding a SAML `samlp:LogoutRequest` whose
//!   `samlp:SessionIndex` is the service ticket) and ends the session opened
//!   with that ticket.
//!
//! The XML is read with quick-xml, namespaces resolved; a DOCTYPE, an unknown
//! entity or a document nested deeper than [`MAX_DEPTH`] is refused.
//! `/state.json` exposes counters for the gateway's end-to-end tests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Json, Response};
use axum::routing::{get, post};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::{NsReader, XmlVersion};
use serde::Deserialize;

use crate::page::{self, escape};
use crate::web::{self, Expiring, lock, redirect};

/// The CAS 3.0 XML namespace (CAS Protocol 3.0, Appendix A).
pub const CAS_NS: &str = "http://www.yale.edu/tp/cas";
/// The SAML 2.0 protocol namespace of the back-channel `LogoutRequest`.
pub const SAMLP_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// Deepest element nesting accepted in a CAS document.
pub const MAX_DEPTH: usize = 32;
/// Largest `serviceValidate` answer or `logoutRequest` accepted, in bytes.
const MAX_DOCUMENT: usize = 256 * 1024;
/// How long a resource session lasts.
const SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);
/// The session cookie (scoped to the resource's path).
const SESSION_COOKIE: &str = "testbed_cas_session";

/// Configuration of one simulated CAS resource.
#[derive(Debug, Clone)]
pub struct SimCasClientConfig {
    /// Short identifier, e.g. `resource-cas`.
    pub id: String,
    /// Name shown on the pages.
    pub display_name: String,
    /// Public URL of the simulator's root; routes are relative to its path.
    pub base_url: String,
    /// The gateway's CAS server prefix, e.g. `http://127.0.0.1:8080/cas`.
    pub cas_base: String,
}

impl SimCasClientConfig {
    fn url(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.base_url.trim_end_matches('/'))
    }

    fn cas_url(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.cas_base.trim_end_matches('/'))
    }

    /// The service URL given to the CAS server, at login and at validation.
    fn service(&self) -> String {
        self.url("/callback")
    }
}

/// What a `serviceValidate` answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CasValidation {
    /// `cas:authenticationSuccess`.
    Success {
        /// The `cas:user` text.
        user: String,
        /// Every child of `cas:attributes` by local name, its values in
        /// document order (a repeated element is a multi-valued attribute).
        attributes: BTreeMap<String, Vec<String>>,
    },
    /// `cas:authenticationFailure`.
    Failure {
        /// Its `code` attribute (`INVALID_TICKET`, `INVALID_SERVICE`, ...).
        code: String,
        /// Its text.
        message: String,
    },
}

/// Why a CAS document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CasXmlError {
    /// The document is not well-formed XML.
    #[error("the document is not well-formed XML: {0}")]
    Syntax(#[source] quick_xml::Error),
    /// The text is not valid in its encoding.
    #[error("the document has text that cannot be decoded: {0}")]
    Encoding(#[source] quick_xml::encoding::EncodingError),
    /// The document has a DOCTYPE.
    #[error("the document has a DOCTYPE, which a CAS document never needs")]
    DocType,
    /// An entity other than the five predefined ones.
    #[error("the document uses the undefined entity &{0};")]
    UnknownEntity(String),
    /// The elements are nested too deeply.
    #[error("the elements are nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// The document has no root element.
    #[error("the document has no root element")]
    Empty,
    /// The root element is not the expected one.
    #[error("the root element is {found}, not {expected}")]
    Root {
        /// What was found (`{namespace}local`).
        found: String,
        /// What was expected.
        expected: &'static str,
    },
    /// Neither or both of `cas:authenticationSuccess` and `cas:authenticationFailure`.
    #[error(
        "cas:serviceResponse must hold exactly one cas:authenticationSuccess or cas:authenticationFailure, it holds {0}"
    )]
    Outcome(usize),
    /// The success names no user.
    #[error("cas:authenticationSuccess has no cas:user, or an empty one")]
    NoUser,
    /// The failure has no code.
    #[error("cas:authenticationFailure has no code attribute")]
    NoCode,
    /// The logout request names no session.
    #[error("the LogoutRequest has no samlp:SessionIndex, or an empty one")]
    NoSessionIndex,
}

/// One element of a parsed document: namespace, local name, attributes
/// (unqualified names only), children and the text directly inside it.
#[derive(Debug, Default)]
struct Element {
    namespace: Option<String>,
    name: String,
    attributes: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn is(&self, namespace: &str, name: &str) -> bool {
        self.namespace.as_deref() == Some(namespace) && self.name == name
    }

    fn children_named<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(namespace, name))
    }

    fn child<'a>(&'a self, namespace: &'a str, name: &'a str) -> Option<&'a Element> {
        self.children_named(namespace, name).next()
    }

    fn qualified(&self) -> String {
        format!(
            "{{{}}}{}",
            self.namespace.as_deref().unwrap_or_default(),
            self.name
        )
    }
}

fn utf8(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn element(start: &BytesStart<'_>, resolved: &ResolveResult<'_>) -> Result<Element, CasXmlError> {
    let namespace = match resolved {
        ResolveResult::Bound(Namespace(ns)) => Some(utf8(ns)),
        ResolveResult::Unbound | ResolveResult::Unknown(_) => None,
    };
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| CasXmlError::Syntax(e.into()))?;
        if attribute.key.prefix().is_some() {
            continue;
        }
        let value = attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(CasXmlError::Syntax)?;
        attributes.push((
            utf8(attribute.key.local_name().as_ref()),
            value.into_owned(),
        ));
    }
    Ok(Element {
        namespace,
        name: utf8(start.local_name().as_ref()),
        attributes,
        ..Element::default()
    })
}

/// Parses a whole document into its root element.
fn parse_document(xml: &str) -> Result<Element, CasXmlError> {
    let mut reader = NsReader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(CasXmlError::Syntax)?;
        match event {
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(CasXmlError::TooDeep);
                }
                stack.push(element(&start, &resolved)?);
            }
            Event::Empty(start) => {
                let done = element(&start, &resolved)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = root.or(Some(done)),
                }
            }
            Event::End(_) => {
                if let Some(done) = stack.pop() {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(done),
                        None => root = root.or(Some(done)),
                    }
                }
            }
            Event::Text(text) => {
                if let Some(current) = stack.last_mut() {
                    current
                        .text
                        .push_str(&text.decode().map_err(CasXmlError::Encoding)?);
                }
            }
            Event::CData(data) => {
                if let Some(current) = stack.last_mut() {
                    current
                        .text
                        .push_str(&data.decode().map_err(CasXmlError::Encoding)?);
                }
            }
            Event::GeneralRef(reference) => {
                let name = reference.decode().map_err(CasXmlError::Encoding)?;
                let c = match reference.resolve_char_ref().map_err(CasXmlError::Syntax)? {
                    Some(c) => c,
                    None => match name.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(CasXmlError::UnknownEntity(other.to_owned())),
                    },
                };
                if let Some(current) = stack.last_mut() {
                    current.text.push(c);
                }
            }
            Event::DocType(_) => return Err(CasXmlError::DocType),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => return root.ok_or(CasXmlError::Empty),
        }
    }
}

/// Reads a CAS 3.0 `serviceValidate` answer (CAS Protocol 3.0, Appendix A).
pub fn parse_service_response(xml: &str) -> Result<CasValidation, CasXmlError> {
    let root = parse_document(xml)?;
    if !root.is(CAS_NS, "serviceResponse") {
        return Err(CasXmlError::Root {
            found: root.qualified(),
            expected: "{http://www.yale.edu/tp/cas}serviceResponse",
        });
    }
    let successes: Vec<&Element> = root
        .children_named(CAS_NS, "authenticationSuccess")
        .collect();
    let failures: Vec<&Element> = root
        .children_named(CAS_NS, "authenticationFailure")
        .collect();
    match (successes.as_slice(), failures.as_slice()) {
        ([success], []) => {
            let user = success
                .child(CAS_NS, "user")
                .map(|u| u.text.trim().to_owned())
                .filter(|u| !u.is_empty())
                .ok_or(CasXmlError::NoUser)?;
            let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for attribute in success
                .children_named(CAS_NS, "attributes")
                .flat_map(|a| a.children.iter())
            {
                attributes
                    .entry(attribute.name.clone())
                    .or_default()
                    .push(attribute.text.trim().to_owned());
            }
            Ok(CasValidation::Success { user, attributes })
        }
        ([], [failure]) => {
            let code = failure
                .attributes
                .iter()
                .find(|(name, _)| name == "code")
                .map(|(_, value)| value.trim().to_owned())
                .ok_or(CasXmlError::NoCode)?;
            Ok(CasValidation::Failure {
                code,
                message: failure.text.trim().to_owned(),
            })
        }
        (s, f) => Err(CasXmlError::Outcome(s.len() + f.len())),
    }
}

/// The service ticket named by a back-channel `samlp:LogoutRequest` (CAS
/// Protocol 3.0, Appendix C).
pub fn parse_logout_request(xml: &str) -> Result<String, CasXmlError> {
    let root = parse_document(xml)?;
    if !root.is(SAMLP_NS, "LogoutRequest") {
        return Err(CasXmlError::Root {
            found: root.qualified(),
            expected: "{urn:oasis:names:tc:SAML:2.0:protocol}LogoutRequest",
        });
    }
    root.child(SAMLP_NS, "SessionIndex")
        .map(|s| s.text.trim().to_owned())
        .filter(|s| !s.is_empty())
        .ok_or(CasXmlError::NoSessionIndex)
}

/// A browser logged in at the resource.
#[derive(Clone)]
struct CasSession {
    user: String,
    attributes: BTreeMap<String, Vec<String>>,
    /// The service ticket the session was opened with (the SLO SessionIndex).
    ticket: String,
}

#[derive(Default)]
struct Counters {
    logins: u64,
    logouts_received: u64,
    last_user: Option<String>,
    last_attributes: BTreeMap<String, Vec<String>>,
}

struct CasState {
    config: SimCasClientConfig,
    cookie_path: String,
    sessions: Mutex<Expiring<CasSession>>,
    counters: Mutex<Counters>,
    http: reqwest::Client,
}

type Shared = Arc<CasState>;

/// The simulated CAS resource's routes, relative to `base_url`'s path (the
/// caller nests the router there): `GET /` (home), `GET /login`,
/// `GET /callback`, `GET /logout`, `POST /slo`, `GET /state.json`.
pub fn sim_cas_client_router(config: SimCasClientConfig) -> Router {
    let state = Arc::new(CasState {
        cookie_path: web::cookie_path(&config.base_url),
        config,
        sessions: Mutex::new(Expiring::new(SESSION_TTL)),
        counters: Mutex::new(Counters::default()),
        http: web::back_channel_client(),
    });
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/logout", get(logout))
        .route("/slo", post(slo))
        .route("/state.json", get(state_json))
        .with_state(state)
}

fn service_name(config: &SimCasClientConfig) -> String {
    format!("{} (simulation, CAS)", config.display_name)
}

/// The home page: what the CAS server sent, or a link to log in.
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
        "<h1>{}</h1><p><strong>Connecté.</strong> Voici exactement ce que le serveur CAS a transmis.</p>\
<h2>Utilisateur</h2><table><caption>Réponse de validation du ticket</caption>\
<tr><th scope=\"row\">cas:user</th><td>{}</td></tr></table>\
<h2>Attributs</h2><table><caption>cas:attributes reçus</caption>\
<tr><th scope=\"col\">Nom</th><th scope=\"col\">Valeurs</th></tr>",
        escape(&title),
        escape(&session.user),
    );
    for (name, values) in &session.attributes {
        let values: String = values
            .iter()
            .map(|v| format!("<li>{}</li>", escape(v)))
            .collect();
        body.push_str(&format!(
            "<tr><td>{}</td><td><ul>{values}</ul></td></tr>",
            escape(name)
        ));
    }
    body.push_str(&format!(
        "</table><p><a href=\"{}\">Se déconnecter</a></p>",
        escape(&config.url("/logout"))
    ));
    page::respond(StatusCode::OK, &title, &body)
}

/// `GET /login`: to the CAS server's login with this resource's service URL.
async fn login(State(state): State<Shared>) -> Response {
    let config = &state.config;
    match url::Url::parse_with_params(&config.cas_url("/login"), [("service", config.service())]) {
        Ok(url) => redirect(url.into(), Vec::new()),
        Err(e) => page::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &service_name(config),
            &format!("the CAS server URL {:?} is not a URL: {e}", config.cas_base),
        ),
    }
}

/// Why a ticket could not be validated (the CAS server's own refusal is not
/// an error here: it is a [`CasValidation::Failure`]).
#[derive(Debug, thiserror::Error)]
enum ValidationError {
    #[error("the callback has no ticket parameter")]
    NoTicket,
    #[error("the CAS server URL {0:?} is not a URL")]
    CasUrl(String),
    #[error("the CAS server could not be reached: {0}")]
    Unreachable(#[source] reqwest::Error),
    #[error("the CAS server answered with HTTP status {0}")]
    Status(u16),
    #[error("the CAS server's answer is larger than {MAX_DOCUMENT} bytes")]
    TooLarge,
    #[error("the CAS server's answer cannot be read: {0}")]
    Xml(#[source] CasXmlError),
}

impl ValidationError {
    fn status(&self) -> StatusCode {
        match self {
            Self::NoTicket => StatusCode::BAD_REQUEST,
            Self::CasUrl(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unreachable(_) | Self::Status(_) | Self::TooLarge | Self::Xml(_) => {
                StatusCode::BAD_GATEWAY
            }
        }
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    ticket: Option<String>,
}

/// `serviceValidate` server to server, then its answer read.
async fn validate(state: &CasState, ticket: &str) -> Result<CasValidation, ValidationError> {
    let config = &state.config;
    let url = url::Url::parse_with_params(
        &config.cas_url("/p3/serviceValidate"),
        [("service", config.service().as_str()), ("ticket", ticket)],
    )
    .map_err(|_| ValidationError::CasUrl(config.cas_base.clone()))?;
    let response = state
        .http
        .get(url)
        .send()
        .await
        .map_err(ValidationError::Unreachable)?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(ValidationError::Status(response.status().as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT as u64)
    {
        return Err(ValidationError::TooLarge);
    }
    let body = response
        .text()
        .await
        .map_err(ValidationError::Unreachable)?;
    if body.len() > MAX_DOCUMENT {
        return Err(ValidationError::TooLarge);
    }
    parse_service_response(&body).map_err(ValidationError::Xml)
}

/// `GET /callback?ticket=`: validates the ticket and opens the session, or
/// shows the CAS server's refusal.
async fn callback(State(state): State<Shared>, Query(query): Query<CallbackQuery>) -> Response {
    let config = &state.config;
    let title = service_name(config);
    let started = std::time::Instant::now();
    let result = match query.ticket.filter(|t| !t.is_empty()) {
        Some(ticket) => validate(&state, &ticket).await.map(|v| (ticket, v)),
        None => Err(ValidationError::NoTicket),
    };
    let took = started.elapsed();
    let response = match result {
        Ok((ticket, CasValidation::Success { user, attributes })) => {
            {
                let mut counters = lock(&state.counters);
                counters.logins += 1;
                counters.last_user = Some(user.clone());
                counters.last_attributes = attributes.clone();
            }
            let id = web::random_token();
            let cookie = web::set_cookie(SESSION_COOKIE, &id, &state.cookie_path);
            lock(&state.sessions).insert(
                id,
                CasSession {
                    user,
                    attributes,
                    ticket,
                },
            );
            redirect(config.url(""), vec![cookie])
        }
        Ok((_, CasValidation::Failure { code, message })) => {
            tracing::warn!(resource = %config.id, %code, "the CAS server refused the ticket");
            let body = format!(
                "<h1>{}</h1><div class=\"error\"><p>Le serveur CAS a refusé le ticket de service.</p>\
<p>Code : <code>{}</code></p><p>Message : {}</p></div><p><a href=\"{}\">Réessayer</a></p>",
                escape(&title),
                escape(&code),
                escape(&message),
                escape(&config.url("/login"))
            );
            page::respond(StatusCode::UNAUTHORIZED, &title, &body)
        }
        Err(e) => {
            tracing::warn!(resource = %config.id, error = %e, "CAS ticket validation failed");
            page::error(e.status(), &title, &e.to_string())
        }
    };
    web::with_gateway_timing(response, "GET /cas/p3/serviceValidate", took)
}

/// `GET /logout`: ends the local session, then the CAS server's (§2.3).
async fn logout(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let config = &state.config;
    if let Some(cookie) = web::read_cookie(&headers, SESSION_COOKIE) {
        lock(&state.sessions).take(&cookie);
    }
    let clear = web::clear_cookie(SESSION_COOKIE, &state.cookie_path);
    match url::Url::parse_with_params(&config.cas_url("/logout"), [("service", config.url(""))]) {
        Ok(url) => redirect(url.into(), vec![clear]),
        Err(_) => (
            AppendHeaders([(SET_COOKIE, clear)]),
            redirect(config.url(""), Vec::new()),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
struct SloForm {
    #[serde(rename = "logoutRequest")]
    logout_request: Option<String>,
}

/// `POST /slo`: the CAS server's back-channel logout.
async fn slo(State(state): State<Shared>, Form(form): Form<SloForm>) -> Response {
    let config = &state.config;
    let ticket = match form.logout_request {
        Some(xml) if xml.len() <= MAX_DOCUMENT => parse_logout_request(&xml),
        Some(_) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, "logoutRequest is too large").into_response();
        }
        None => return (StatusCode::BAD_REQUEST, "the form has no logoutRequest").into_response(),
    };
    match ticket {
        Ok(ticket) => {
            let ended = lock(&state.sessions).remove_where(|s| s.ticket == ticket);
            lock(&state.counters).logouts_received += 1;
            tracing::info!(resource = %config.id, sessions_ended = ended, "CAS logout request accepted");
            StatusCode::OK.into_response()
        }
        Err(e) => {
            tracing::warn!(resource = %config.id, error = %e, "CAS logout request refused");
            (StatusCode::BAD_REQUEST, e.to_string()).into_response()
        }
    }
}

async fn state_json(State(state): State<Shared>) -> Json<serde_json::Value> {
    let sessions = lock(&state.sessions).live();
    let counters = lock(&state.counters);
    Json(serde_json::json!({
        "sessions": sessions,
        "logins": counters.logins,
        "logouts_received": counters.logouts_received,
        "last_user": counters.last_user,
        "last_attributes": counters.last_attributes,
    }))
}
