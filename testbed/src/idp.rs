//! The simulated upstream identity providers: ÉduConnect (pupils and parents)
//! and an académie agent IdP (staff), as SAML 2.0 IdPs (saml-profiles §4.1 Web
//! Browser SSO, §4.4 Single Logout; domain reference §1, §2).
//!
//! Honest and simple: AuthnRequests must carry a valid HTTP-Redirect signature
//! (or an XML signature with the HTTP-POST binding) from the gateway's key and
//! the gateway's entity id as issuer; the Assertion and the Response are
//! signed with RSA-SHA256; ÉduConnect's assertions are encrypted to the
//! gateway (RSA-OAEP, AES-256-GCM). An IdP session cookie answers a second
//! AuthnRequest without the login page unless it asks for `ForceAuthn`.
//!
//! Single logout both ways: a signed LogoutRequest from the gateway ends the
//! IdP session; and, as real ÉduConnect does when the user logs out at its
//! portal, `GET /logout` ends the IdP session and sends the gateway a
//! LogoutRequest (HTTP-Redirect, RSA-SHA256) for the NameID and SessionIndex
//! issued in it, then accepts only the gateway's signed LogoutResponse to that
//! very request (saml-profiles §4.4.4.1, §4.4.4.2).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, RawQuery, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sso_saml::binding::{self, BindingError, MessageKind, RedirectMessage};
use sso_saml::dsig::{self, DsigError};
use sso_saml::encryption::{self, DataCipher, EncryptionError, KeyTransport};
use sso_saml::ids::new_id;
use sso_saml::keys::{Certificate, SigningKey};
use sso_saml::messages::{self, MessageError, SamlAttribute};
use sso_saml::metadata::{self, IdpMetadataSpec};
use sso_saml::ns;

use crate::attributes as a;
use crate::page::{self, escape};
use crate::people::{self, Person, Role};
use crate::web::{self, Expiring, lock};

/// Largest inflated HTTP-Redirect message or decoded HTTP-POST message accepted.
const MAX_MESSAGE: usize = 64 * 1024;
/// How long a pending AuthnRequest waits for the login form.
const PENDING_TTL: Duration = Duration::from_secs(10 * 60);
/// How long an IdP session lasts.
const SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);
/// Validity of an assertion.
const ASSERTION_LIFETIME: chrono::Duration = chrono::Duration::minutes(5);
/// Name of the IdP session cookie (scoped to the IdP's path).
const SESSION_COOKIE: &str = "testbed_idp";

/// Which national service a simulated IdP plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdpKind {
    /// ÉduConnect: pupils and parents, OID attribute names, encrypted assertions.
    EduConnect,
    /// An académie agent IdP: staff, ARENA header names as attribute names.
    Agents,
}

impl IdpKind {
    /// The service name shown on the pages.
    pub fn service_name(self) -> &'static str {
        match self {
            Self::EduConnect => "ÉduConnect (simulation)",
            Self::Agents => "Portail des agents de l’académie (simulation)",
        }
    }

    /// The service name after "déconnecté" or "Se déconnecter", with its
    /// French preposition.
    fn after_preposition(self) -> &'static str {
        match self {
            Self::EduConnect => "d’ÉduConnect (simulation)",
            Self::Agents => "du portail des agents de l’académie (simulation)",
        }
    }
}

/// Configuration of one simulated IdP.
#[derive(Debug)]
pub struct SimIdpConfig {
    /// ÉduConnect or agents.
    pub kind: IdpKind,
    /// Public URL of the simulator's root, e.g. `http://127.0.0.1:8080/testbed/educonnect`;
    /// the router's routes are relative to its path.
    pub base_url: String,
    /// The IdP's entity id.
    pub entity_id: String,
    /// Signs assertions, responses and logout responses.
    pub signing_key: SigningKey,
    /// Entity id of the gateway as SP.
    pub sp_entity_id: String,
    /// The gateway's assertion consumer service (HTTP-POST).
    pub sp_acs_url: String,
    /// The gateway's single logout endpoint (HTTP-Redirect).
    pub sp_slo_url: String,
    /// Verifies the gateway's AuthnRequests and LogoutRequests.
    pub sp_signing_cert: Certificate,
    /// When set, assertions are encrypted to this certificate (RSA-OAEP, AES-256-GCM).
    pub sp_encryption_cert: Option<Certificate>,
}

impl SimIdpConfig {
    fn url(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.base_url.trim_end_matches('/'))
    }
}

/// Why the simulated IdP refused or failed a request.
#[derive(Debug, thiserror::Error)]
enum IdpError {
    #[error("the SAML message could not be decoded: {0}")]
    Decode(#[source] BindingError),
    #[error("the form carries no SAMLRequest")]
    MissingRequest,
    #[error("a SAMLResponse was sent where a SAMLRequest was expected")]
    NotARequest,
    #[error("the redirect signature of the message is missing or invalid: {0}")]
    RedirectSignature(#[source] BindingError),
    #[error("the XML signature of the request is missing or invalid: {0}")]
    XmlSignature(#[source] DsigError),
    #[error("the message is malformed: {0}")]
    Malformed(#[source] MessageError),
    #[error("the issuer {found:?} is not the expected service provider {expected:?}")]
    Issuer {
        found: Option<String>,
        expected: String,
    },
    #[error("building the response failed: {0}")]
    Build(#[source] MessageError),
    #[error("the AssertionConsumerServiceURL {found:?} is not the registered {expected:?}")]
    AcsUrl { found: String, expected: String },
    #[error("the Destination {found:?} is not this endpoint {expected:?}")]
    Destination { found: String, expected: String },
    #[error("the ProtocolBinding {0:?} is not supported: only HTTP-POST")]
    ProtocolBinding(String),
    #[error("the login form refers to an unknown or expired request")]
    UnknownPending,
    #[error("the account {0:?} does not belong to this identity provider")]
    UnknownAccount(String),
    #[error(
        "the LogoutResponse answers {0:?}, which is not a logout this identity provider started (or it was already answered)"
    )]
    UnexpectedLogoutResponse(String),
    #[error("the gateway answered the logout with status {0:?}, not Success")]
    LogoutStatus(String),
    #[error("signing failed: {0}")]
    Sign(#[source] DsigError),
    #[error("encrypting the assertion failed: {0}")]
    Encrypt(#[source] EncryptionError),
    #[error("encoding the answer failed: {0}")]
    Encode(#[source] BindingError),
    #[error("the signing task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
}

impl IdpError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Build(_) | Self::Sign(_) | Self::Encrypt(_) | Self::Encode(_) | Self::Task(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// An AuthnRequest that passed the checks, waiting for an account choice.
struct PendingAuthn {
    request_id: String,
    relay_state: Option<String>,
    /// The authentication context the login will have.
    authn_context: &'static str,
}

/// A logged-in browser.
#[derive(Clone)]
struct IdpSession {
    login: &'static str,
    name_id: String,
    session_index: String,
    authn_instant: DateTime<Utc>,
    authn_context: &'static str,
}

struct IdpState {
    config: SimIdpConfig,
    cookie_path: String,
    pending: Mutex<Expiring<PendingAuthn>>,
    sessions: Mutex<Expiring<IdpSession>>,
    /// IDs of the LogoutRequests this IdP sent, until the gateway answers.
    logouts: Mutex<Expiring<()>>,
}

type Shared = Arc<IdpState>;

/// The simulated IdP's routes, relative to `base_url`'s path (the caller nests
/// the router there): `GET /` (home, served at `{base}` once nested),
/// `GET|POST /sso`, `POST /login`, `GET /logout`, `GET|POST /slo`,
/// `GET /metadata`.
pub fn sim_idp_router(config: SimIdpConfig) -> Router {
    let state = Arc::new(IdpState {
        cookie_path: web::cookie_path(&config.base_url),
        config,
        pending: Mutex::new(Expiring::new(PENDING_TTL)),
        sessions: Mutex::new(Expiring::new(SESSION_TTL)),
        logouts: Mutex::new(Expiring::new(PENDING_TTL)),
    });
    Router::new()
        .route("/", get(home))
        .route("/sso", get(sso_redirect).post(sso_post))
        .route("/login", post(login))
        .route("/logout", get(start_logout))
        .route("/slo", get(slo_redirect).post(slo_post))
        .route("/metadata", get(metadata_doc))
        .with_state(state)
}

/// The IdP's SAML metadata: signing certificate, SSO and SLO endpoints
/// (HTTP-Redirect and HTTP-POST at `{base}/sso` and `{base}/slo`), transient NameIDs.
pub fn sim_idp_metadata(config: &SimIdpConfig) -> String {
    let sso = config.url("/sso");
    let slo = config.url("/slo");
    metadata::build_idp_metadata(&IdpMetadataSpec {
        entity_id: &config.entity_id,
        signing_certs: std::slice::from_ref(config.signing_key.certificate()),
        sso_redirect: &sso,
        sso_post: &sso,
        slo_redirect: &slo,
        slo_post: &slo,
        name_id_formats: &[ns::NAMEID_TRANSIENT],
    })
}

async fn metadata_doc(State(state): State<Shared>) -> Response {
    (
        [("content-type", "application/samlmetadata+xml")],
        sim_idp_metadata(&state.config),
    )
        .into_response()
}

fn refuse(state: &IdpState, err: &IdpError) -> Response {
    tracing::warn!(idp = %state.config.entity_id, error = %err, "simulated IdP refused a request");
    page::error(
        err.status(),
        state.config.kind.service_name(),
        &err.to_string(),
    )
}

/// The form fields of the HTTP-POST binding.
#[derive(Deserialize)]
struct PostBinding {
    #[serde(rename = "SAMLRequest")]
    saml_request: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// Decodes an HTTP-Redirect message and verifies its signature with the gateway's key.
fn decode_signed_redirect(
    state: &IdpState,
    raw_query: Option<&str>,
) -> Result<RedirectMessage, IdpError> {
    let msg = binding::decode_redirect(raw_query.unwrap_or_default(), MAX_MESSAGE)
        .map_err(IdpError::Decode)?;
    binding::verify_redirect_signature(&msg, std::slice::from_ref(&state.config.sp_signing_cert))
        .map_err(IdpError::RedirectSignature)?;
    Ok(msg)
}

/// Decodes an HTTP-POST request and returns its XML-signature-verified content.
async fn decode_signed_post(
    state: &Shared,
    form: PostBinding,
) -> Result<(String, Option<String>), IdpError> {
    let b64 = form.saml_request.ok_or(IdpError::MissingRequest)?;
    let xml = binding::decode_post(&b64, MAX_MESSAGE).map_err(IdpError::Decode)?;
    let state = Arc::clone(state);
    let verified = tokio::task::spawn_blocking(move || {
        dsig::verify_and_reduce(&xml, std::slice::from_ref(&state.config.sp_signing_cert))
    })
    .await
    .map_err(IdpError::Task)?
    .map_err(IdpError::XmlSignature)?;
    Ok((verified, form.relay_state))
}

async fn sso_redirect(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    match decode_signed_redirect(&state, q.as_deref()) {
        Ok(msg) if msg.kind == MessageKind::Request => {
            authn(&state, &headers, &msg.xml, msg.relay_state).await
        }
        Ok(_) => refuse(&state, &IdpError::NotARequest),
        Err(e) => refuse(&state, &e),
    }
}

async fn sso_post(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<PostBinding>,
) -> Response {
    match decode_signed_post(&state, form).await {
        Ok((xml, relay_state)) => authn(&state, &headers, &xml, relay_state).await,
        Err(e) => refuse(&state, &e),
    }
}

/// Checks a verified AuthnRequest, then answers from the IdP session or shows the login page.
async fn authn(
    state: &Shared,
    headers: &HeaderMap,
    xml: &str,
    relay_state: Option<String>,
) -> Response {
    let request = match check_authn_request(&state.config, xml) {
        Ok(r) => r,
        Err(e) => return refuse(state, &e),
    };
    let pending = PendingAuthn {
        request_id: request.id.clone(),
        relay_state,
        authn_context: authn_context(state.config.kind, &request.requested_authn_context),
    };
    if !request.force_authn {
        let cookie = web::read_cookie(headers, SESSION_COOKIE);
        let session = cookie
            .and_then(|c| lock(&state.sessions).get_mut(&c).cloned())
            .filter(|session| session.authn_context == pending.authn_context);
        if let Some(session) = session {
            return match issue_response(state, &session, &pending).await {
                Ok(html) => page::auto_post(&html),
                Err(e) => refuse(state, &e),
            };
        }
    }
    if request.is_passive {
        return match no_passive_response(state, &pending).await {
            Ok(html) => page::auto_post(&html),
            Err(e) => refuse(state, &e),
        };
    }
    let pending_id = new_id();
    let otp = pending.authn_context == ns::AC_TIME_SYNC_TOKEN;
    lock(&state.pending).insert(pending_id.clone(), pending);
    account_choice_page(
        state.config.kind,
        &state.config.url("/login"),
        &pending_id,
        otp,
    )
}

/// The context of the login an AuthnRequest gets: the agents' IdP logs in
/// with an OTP key (simulated) when the request asks for it, any other
/// login is by password.
fn authn_context(kind: IdpKind, requested: &[String]) -> &'static str {
    if kind == IdpKind::Agents && requested.iter().any(|c| c == ns::AC_TIME_SYNC_TOKEN) {
        ns::AC_TIME_SYNC_TOKEN
    } else {
        ns::AC_PASSWORD_PROTECTED_TRANSPORT
    }
}

fn check_authn_request(
    config: &SimIdpConfig,
    xml: &str,
) -> Result<messages::AuthnRequest, IdpError> {
    let request = messages::parse_authn_request(xml).map_err(IdpError::Malformed)?;
    if request.issuer.as_deref() != Some(config.sp_entity_id.as_str()) {
        return Err(IdpError::Issuer {
            found: request.issuer,
            expected: config.sp_entity_id.clone(),
        });
    }
    if let Some(acs) = &request.acs_url
        && *acs != config.sp_acs_url
    {
        return Err(IdpError::AcsUrl {
            found: acs.clone(),
            expected: config.sp_acs_url.clone(),
        });
    }
    let sso = config.url("/sso");
    if let Some(destination) = &request.destination
        && *destination != sso
    {
        return Err(IdpError::Destination {
            found: destination.clone(),
            expected: sso,
        });
    }
    if let Some(pb) = &request.protocol_binding
        && pb != ns::BINDING_HTTP_POST
    {
        return Err(IdpError::ProtocolBinding(pb.clone()));
    }
    Ok(request)
}

fn login_title(kind: IdpKind) -> String {
    format!("{} — choisissez un compte", kind.service_name())
}

/// The account choice page of a simulated national service (no password: the
/// user picks one of the fictitious people of `kind`). The form posts
/// `pending` and `login` to `action`. Shared by the SAML IdPs and the
/// simulated ÉduConnect OpenID provider.
pub(crate) fn account_choice_page(
    kind: IdpKind,
    action: &str,
    pending_id: &str,
    otp: bool,
) -> Response {
    page::respond(
        StatusCode::OK,
        &login_title(kind),
        &account_choice_body(kind, action, pending_id, otp),
    )
}

fn account_choice_body(kind: IdpKind, action: &str, pending_id: &str, otp: bool) -> String {
    let groups: Vec<(&str, Vec<&'static Person>)> = match kind {
        IdpKind::EduConnect => vec![
            (
                "Élèves",
                people::of_idp(kind)
                    .filter(|p| matches!(p.role, Role::Pupil(_)))
                    .collect(),
            ),
            (
                "Responsables (parents)",
                people::of_idp(kind)
                    .filter(|p| matches!(p.role, Role::Parent(_)))
                    .collect(),
            ),
        ],
        IdpKind::Agents => vec![("Personnels", people::of_idp(kind).collect())],
    };
    let mut body = format!(
        "<h1>{}</h1>{}<p>Aucun mot de passe n’est demandé : choisissez le compte fictif avec lequel \
vous connecter au service.</p><form method=\"post\" action=\"{}\">\
<input type=\"hidden\" name=\"pending\" value=\"{}\">",
        escape(&login_title(kind)),
        if otp {
            "<p><strong>Connexion renforcée demandée :</strong> la saisie du code de la clé OTP est simulée.</p>"
        } else {
            ""
        },
        escape(action),
        escape(pending_id)
    );
    for (legend, persons) in groups {
        body.push_str(&format!("<fieldset><legend>{}</legend>", escape(legend)));
        for p in persons {
            body.push_str(&format!(
                "<label><input type=\"radio\" name=\"login\" value=\"{login}\" required> \
{name} <small>({desc}, identifiant {login})</small></label>",
                login = escape(p.login),
                name = escape(&p.display_name()),
                desc = escape(&p.description()),
            ));
        }
        body.push_str("</fieldset>");
    }
    body.push_str("<button type=\"submit\">Se connecter</button></form>");
    body
}

#[derive(Deserialize)]
struct LoginForm {
    pending: String,
    login: String,
}

async fn login(State(state): State<Shared>, Form(form): Form<LoginForm>) -> Response {
    let person = match people::by_login(&form.login).filter(|p| p.idp() == state.config.kind) {
        Some(p) => p,
        None => return refuse(&state, &IdpError::UnknownAccount(form.login)),
    };
    let Some(pending) = lock(&state.pending).take(&form.pending) else {
        return refuse(&state, &IdpError::UnknownPending);
    };
    let session = IdpSession {
        login: person.login,
        name_id: new_id(),
        session_index: new_id(),
        authn_instant: Utc::now(),
        authn_context: pending.authn_context,
    };
    let html = match issue_response(&state, &session, &pending).await {
        Ok(html) => html,
        Err(e) => return refuse(&state, &e),
    };
    let cookie_id = new_id();
    let cookie = web::set_cookie(SESSION_COOKIE, &cookie_id, &state.cookie_path);
    lock(&state.sessions).insert(cookie_id, session);
    (
        AppendHeaders([(SET_COOKIE, cookie)]),
        page::auto_post(&html),
    )
        .into_response()
}

fn attribute(name: &str, format: &str, friendly: &str, values: Vec<String>) -> SamlAttribute {
    SamlAttribute {
        name: name.to_owned(),
        name_format: Some(format.to_owned()),
        friendly_name: Some(friendly.to_owned()),
        values,
    }
}

/// The attributes of `person` as this kind of IdP releases them.
fn attributes_of(kind: IdpKind, person: &Person, now: DateTime<Utc>) -> Vec<SamlAttribute> {
    let uri = ns::ATTRNAME_FORMAT_URI;
    let basic = ns::ATTRNAME_FORMAT_BASIC;
    let one = |v: &str| vec![v.to_owned()];
    match kind {
        IdpKind::EduConnect => {
            let mut attrs = vec![
                attribute(
                    a::FR_EDU_CT_PERSON_AFFILIATION,
                    uri,
                    "FrEduCtPersonAffiliation",
                    person
                        .affiliations()
                        .into_iter()
                        .map(str::to_owned)
                        .collect(),
                ),
                attribute(
                    a::FR_EDU_CT_ID,
                    uri,
                    "FrEduCtId",
                    vec![person.fr_edu_ct_id()],
                ),
                attribute(a::SN, uri, "sn", one(person.family_name)),
                attribute(a::GIVEN_NAME, uri, "givenName", one(person.given_name)),
                attribute(
                    a::FR_EDU_CT_DATE_NAISSANCE,
                    uri,
                    "FrEduCtDateNaissance",
                    one(person.birth_date),
                ),
                attribute(
                    a::FR_EDU_CT_DATE_CONNEXION,
                    uri,
                    "FrEduCtDateConnexion",
                    vec![now.format("%Y-%m-%d %H:%M:%S%.3f").to_string()],
                ),
                attribute(
                    a::FR_EDU_CT_REF_ID,
                    basic,
                    "FrEduCtRefId",
                    person.fr_edu_ct_ref_ids(),
                ),
            ];
            if let Role::Pupil(pupil) = &person.role {
                if let Some(hash) = person.ine_hash() {
                    attrs.push(attribute(
                        a::FR_EDU_CT_ELEVE_INE_HASH,
                        uri,
                        "FrEduCtEleveINEHash",
                        vec![hash],
                    ));
                }
                attrs.push(attribute(
                    a::FR_EDU_CT_ELEVE_UAI,
                    uri,
                    "FrEduCtEleveUAI",
                    one(pupil.school),
                ));
                attrs.push(attribute(
                    a::FR_EDU_CT_ELEVE_NIVEAU,
                    uri,
                    "FrEduCtEleveNiveau",
                    one(pupil.mef),
                ));
            }
            attrs
        }
        IdpKind::Agents => match &person.role {
            Role::Staff(staff) => vec![
                attribute(
                    a::CT_REMOTE_USER,
                    basic,
                    "ct-remote-user",
                    one(person.login),
                ),
                attribute(a::CT_EMAIL, basic, "ctemail", one(staff.email)),
                attribute(a::CT_FN, basic, "ctfn", one(person.given_name)),
                attribute(a::CT_LN, basic, "ctln", one(person.family_name)),
                attribute(a::FR_EDU_RNE, basic, "FrEduRne", person.fr_edu_rne()),
                attribute(
                    a::FR_EDU_FONCT_ADM,
                    basic,
                    "FrEduFonctAdm",
                    one(staff.function.as_str()),
                ),
            ],
            Role::Pupil(_) | Role::Parent(_) => Vec::new(),
        },
    }
}

/// Builds, signs (Assertion, then Response) and encrypts the answer, and
/// returns the auto-submitting HTTP-POST form to the gateway's ACS.
async fn issue_response(
    state: &Shared,
    session: &IdpSession,
    pending: &PendingAuthn,
) -> Result<String, IdpError> {
    let config = &state.config;
    let person = people::by_login(session.login)
        .ok_or_else(|| IdpError::UnknownAccount(session.login.to_owned()))?;
    let now = Utc::now();
    let assertion_id = new_id();
    let assertion = messages::build_assertion(&messages::AssertionSpec {
        id: assertion_id.clone(),
        issuer: config.entity_id.clone(),
        issue_instant: now,
        name_id: session.name_id.clone(),
        name_id_format: ns::NAMEID_TRANSIENT.to_owned(),
        name_qualifier: Some(config.entity_id.clone()),
        sp_name_qualifier: Some(config.sp_entity_id.clone()),
        recipient: config.sp_acs_url.clone(),
        in_response_to: Some(pending.request_id.clone()),
        not_before: now - chrono::Duration::seconds(1),
        not_on_or_after: now + ASSERTION_LIFETIME,
        audience: config.sp_entity_id.clone(),
        session_index: session.session_index.clone(),
        authn_instant: session.authn_instant,
        authn_context_class_ref: session.authn_context.to_owned(),
        session_not_on_or_after: None,
        attributes: attributes_of(config.kind, person, now),
    });
    let response_spec = messages::ResponseSpec {
        id: new_id(),
        issuer: config.entity_id.clone(),
        issue_instant: now,
        destination: config.sp_acs_url.clone(),
        in_response_to: Some(pending.request_id.clone()),
        status_code: ns::STATUS_SUCCESS.to_owned(),
        status_sub_code: None,
        status_message: None,
    };
    let shared = Arc::clone(state);
    let xml = tokio::task::spawn_blocking(move || {
        let config = &shared.config;
        let signed = dsig::sign_enveloped(&assertion, &assertion_id, &config.signing_key)
            .map_err(IdpError::Sign)?;
        let carried = match &config.sp_encryption_cert {
            Some(cert) => encryption::encrypt_assertion(
                &signed,
                cert,
                KeyTransport::RsaOaepMgf1p,
                DataCipher::Aes256Gcm,
            )
            .map_err(IdpError::Encrypt)?,
            None => signed,
        };
        let response =
            messages::build_response(&response_spec, Some(&carried)).map_err(IdpError::Build)?;
        dsig::sign_enveloped(&response, &response_spec.id, &config.signing_key)
            .map_err(IdpError::Sign)
    })
    .await
    .map_err(IdpError::Task)??;
    Ok(binding::post_form(
        &config.sp_acs_url,
        MessageKind::Response,
        &xml,
        pending.relay_state.as_deref(),
    ))
}

/// The signed Response with status Responder/NoPassive for an `IsPassive`
/// request from a browser without an IdP session.
async fn no_passive_response(state: &Shared, pending: &PendingAuthn) -> Result<String, IdpError> {
    let config = &state.config;
    let spec = messages::ResponseSpec {
        id: new_id(),
        issuer: config.entity_id.clone(),
        issue_instant: Utc::now(),
        destination: config.sp_acs_url.clone(),
        in_response_to: Some(pending.request_id.clone()),
        status_code: ns::STATUS_RESPONDER.to_owned(),
        status_sub_code: Some(ns::STATUS_NO_PASSIVE.to_owned()),
        status_message: None,
    };
    let shared = Arc::clone(state);
    let xml = tokio::task::spawn_blocking(move || {
        let response = messages::build_response(&spec, None).map_err(IdpError::Build)?;
        dsig::sign_enveloped(&response, &spec.id, &shared.config.signing_key)
            .map_err(IdpError::Sign)
    })
    .await
    .map_err(IdpError::Task)??;
    Ok(binding::post_form(
        &config.sp_acs_url,
        MessageKind::Response,
        &xml,
        pending.relay_state.as_deref(),
    ))
}

async fn slo_redirect(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let msg = match decode_signed_redirect(&state, q.as_deref()) {
        Ok(msg) => msg,
        Err(e) => return refuse(&state, &e),
    };
    match msg.kind {
        MessageKind::Request => logout(&state, &headers, &msg.xml, msg.relay_state),
        MessageKind::Response => match logout_answered(&state, &msg.xml) {
            Ok(()) => {
                let kind = state.config.kind;
                let body = format!(
                    "<h1>{}</h1><p role=\"status\">Vous êtes déconnecté {}.</p>",
                    escape(kind.service_name()),
                    escape(kind.after_preposition())
                );
                page::respond(StatusCode::OK, kind.service_name(), &body)
            }
            Err(e) => refuse(&state, &e),
        },
    }
}

async fn slo_post(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<PostBinding>,
) -> Response {
    match decode_signed_post(&state, form).await {
        Ok((xml, relay_state)) => logout(&state, &headers, &xml, relay_state),
        Err(e) => refuse(&state, &e),
    }
}

/// Ends the IdP session named by a verified LogoutRequest and redirects the
/// browser to the gateway with a signed LogoutResponse.
fn logout(
    state: &IdpState,
    headers: &HeaderMap,
    xml: &str,
    relay_state: Option<String>,
) -> Response {
    match logout_answer(state, headers, xml, relay_state.as_deref()) {
        Ok(location) => redirect_ending_session(state, location),
        Err(e) => refuse(state, &e),
    }
}

/// A redirect that also deletes the IdP session cookie.
fn redirect_ending_session(state: &IdpState, location: String) -> Response {
    (
        StatusCode::SEE_OTHER,
        AppendHeaders([
            (LOCATION, location),
            (
                SET_COOKIE,
                web::clear_cookie(SESSION_COOKIE, &state.cookie_path),
            ),
        ]),
    )
        .into_response()
}

/// A logout message must come from the gateway and, when it names a
/// Destination, name this IdP's SLO endpoint.
fn check_from_gateway(
    config: &SimIdpConfig,
    issuer: &str,
    destination: Option<&str>,
) -> Result<(), IdpError> {
    if issuer != config.sp_entity_id {
        return Err(IdpError::Issuer {
            found: Some(issuer.to_owned()),
            expected: config.sp_entity_id.clone(),
        });
    }
    let slo = config.url("/slo");
    match destination {
        Some(destination) if destination != slo => Err(IdpError::Destination {
            found: destination.to_owned(),
            expected: slo,
        }),
        _ => Ok(()),
    }
}

fn logout_answer(
    state: &IdpState,
    headers: &HeaderMap,
    xml: &str,
    relay_state: Option<&str>,
) -> Result<String, IdpError> {
    let config = &state.config;
    let request = messages::parse_logout_request(xml)
        .map_err(IdpError::Malformed)?
        .message;
    check_from_gateway(config, &request.issuer, request.destination.as_deref())?;
    {
        let mut sessions = lock(&state.sessions);
        if let Some(cookie) = web::read_cookie(headers, SESSION_COOKIE) {
            sessions.take(&cookie);
        }
        let name_id = request.name_id.value.clone();
        sessions.remove_where(|s| s.name_id == name_id);
    }
    let response = messages::build_logout_response(&messages::LogoutResponse {
        id: new_id(),
        issuer: config.entity_id.clone(),
        destination: Some(config.sp_slo_url.clone()),
        issue_instant: Utc::now(),
        in_response_to: Some(request.id),
        status_code: ns::STATUS_SUCCESS.to_owned(),
        status_sub_code: None,
    });
    binding::redirect_url(
        &config.sp_slo_url,
        MessageKind::Response,
        &response,
        relay_state,
        Some(&config.signing_key),
    )
    .map_err(IdpError::Encode)
}

/// The IdP's home page (`{base}`): who is logged in here, and the link that
/// starts the IdP-initiated logout.
async fn home(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let kind = state.config.kind;
    let person = web::read_cookie(&headers, SESSION_COOKIE)
        .and_then(|c| lock(&state.sessions).get_mut(&c).map(|s| s.login))
        .and_then(people::by_login);
    let status = match person {
        Some(p) => format!(
            "<p>Vous êtes connecté en tant que {} <small>(identifiant {})</small>.</p>\
<p><a href=\"{}\">Se déconnecter {}</a></p>",
            escape(&p.display_name()),
            escape(p.login),
            escape(&state.config.url("/logout")),
            escape(kind.after_preposition())
        ),
        None => "<p>Vous n’êtes pas connecté.</p>".to_owned(),
    };
    let body = format!("<h1>{}</h1>{status}", escape(kind.service_name()));
    page::respond(StatusCode::OK, kind.service_name(), &body)
}

/// `GET /logout`: the user logs out at the IdP. Ends this browser's IdP
/// session and sends the gateway a signed LogoutRequest for the NameID and
/// SessionIndex issued in it; without a session, back to the home page.
async fn start_logout(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let session =
        web::read_cookie(&headers, SESSION_COOKIE).and_then(|c| lock(&state.sessions).take(&c));
    let Some(session) = session else {
        return (
            StatusCode::SEE_OTHER,
            AppendHeaders([(LOCATION, state.config.url(""))]),
        )
            .into_response();
    };
    match logout_request_url(&state.config, &session) {
        Ok((request_id, location)) => {
            lock(&state.logouts).insert(request_id, ());
            redirect_ending_session(&state, location)
        }
        Err(e) => refuse(&state, &e),
    }
}

/// The signed HTTP-Redirect LogoutRequest to the gateway for `session`, and its ID.
fn logout_request_url(
    config: &SimIdpConfig,
    session: &IdpSession,
) -> Result<(String, String), IdpError> {
    let id = new_id();
    let now = Utc::now();
    let xml = messages::build_logout_request(&messages::LogoutRequest {
        id: id.clone(),
        issuer: config.entity_id.clone(),
        destination: Some(config.sp_slo_url.clone()),
        issue_instant: now,
        name_id: messages::NameId {
            value: session.name_id.clone(),
            format: Some(ns::NAMEID_TRANSIENT.to_owned()),
            name_qualifier: Some(config.entity_id.clone()),
            sp_name_qualifier: Some(config.sp_entity_id.clone()),
        },
        session_indexes: vec![session.session_index.clone()],
        not_on_or_after: Some(now + ASSERTION_LIFETIME),
    });
    let url = binding::redirect_url(
        &config.sp_slo_url,
        MessageKind::Request,
        &xml,
        None,
        Some(&config.signing_key),
    )
    .map_err(IdpError::Encode)?;
    Ok((id, url))
}

/// Checks the gateway's (signature-verified) LogoutResponse: issuer,
/// destination, an answer to a LogoutRequest this IdP sent (consumed once),
/// then status Success.
fn logout_answered(state: &IdpState, xml: &str) -> Result<(), IdpError> {
    let config = &state.config;
    let response = messages::parse_logout_response(xml)
        .map_err(IdpError::Malformed)?
        .message;
    check_from_gateway(config, &response.issuer, response.destination.as_deref())?;
    let answered = response.in_response_to.unwrap_or_default();
    if lock(&state.logouts).take(&answered).is_none() {
        return Err(IdpError::UnexpectedLogoutResponse(answered));
    }
    if response.status_code != ns::STATUS_SUCCESS {
        return Err(IdpError::LogoutStatus(response.status_code));
    }
    Ok(())
}
