//! The gateway as OpenID Connect provider of the downstream services
//! (OpenID Connect Core 1.0, Discovery 1.0, RP-Initiated Logout 1.0,
//! Back-Channel Logout 1.0; RFC 6749, RFC 7636, RFC 7523, RFC 9207). What
//! codes, tokens and keys are: [`crate::oidc`].
//!
//! Authorization (Core §3.1.2): an unknown client or a `redirect_uri` that
//! is not registered byte for byte gets an error page, never a redirect
//! (RFC 6749 §4.1.2.1); every other error goes back to the client with
//! `error`, `state` and `iss`. Code flow only, query response mode only;
//! PKCE S256 (required for public clients and for those registered with
//! `require_pkce`; `plain` refused); `request` and `request_uri` refused;
//! `prompt=none` never shows a page (`login_required`), `prompt=login` and
//! an exceeded `max_age` ask the upstream IdP for a fresh login, and
//! `acr_values` the login's IdP for a login of one of those contexts (the
//! ID token's `acr` says which one was made). The same
//! access rules, release policy and opaque identifier apply as over SAML
//! and CAS.
//!
//! Token (Core §3.1.3): the client authenticates exactly as registered
//! (`client_secret_basic`, `client_secret_post`, `private_key_jwt` with a
//! single-use `jti`, or `none` for a public client); the code is consumed
//! by one `GETDEL` before any check, and must have been issued to that
//! client for that `redirect_uri`, with the PKCE verifier of its challenge.
//! A code presented again revokes the access token it gave.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Form, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sp_registry::{
    ClientType, IdTokenAlg, OidcClient, Registry, ServiceDefinition, TokenAuthMethod,
};
use sso_core::Identity;

use super::CookieJar;
use super::client_ip::ClientIp;
use super::downstream::{answer_or_login, record_participant};
use crate::error::WebError;
use crate::limits::Account;
use crate::oidc::{self, AccessGrant, AuthorizationRequest, CodeGrant};
use crate::session::{Answer, Participant, Session, Via};
use crate::state::AppState;

/// Claims of the ID token that the released attributes never replace.
const RESERVED_CLAIMS: [&str; 11] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "sid",
    "at_hash",
    "azp",
];

/// Assertion type of `private_key_jwt` (RFC 7523 §2.2).
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Longest lifetime accepted for a client assertion (its `jti` is kept that long).
const MAX_ASSERTION_LIFETIME: i64 = 300;

/// `GET /.well-known/openid-configuration` (Discovery 1.0 §3).
pub async fn discovery(State(state): State<AppState>) -> Response {
    let urls = &state.urls;
    Json(json!({
        "issuer": urls.oidc_issuer,
        "authorization_endpoint": urls.oidc_authorize,
        "token_endpoint": urls.oidc_token,
        "userinfo_endpoint": urls.oidc_userinfo,
        "jwks_uri": urls.oidc_jwks,
        "end_session_endpoint": urls.oidc_end_session,
        "scopes_supported": ["openid"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": state
            .oidc_keys
            .algorithms()
            .into_iter()
            .map(IdTokenAlg::name)
            .collect::<Vec<_>>(),
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    }))
    .into_response()
}

/// `GET /oidc/jwks`: the published keys.
pub async fn jwks(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.oidc_keys.jwks().clone()),
    )
        .into_response()
}

/// Parameters of an authentication request (Core §3.1.2.1).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    prompt: Option<String>,
    max_age: Option<String>,
    acr_values: Option<String>,
    response_mode: Option<String>,
    request: Option<String>,
    request_uri: Option<String>,
}

/// An error sent back to the client's redirect URI (Core §3.1.2.6).
struct AuthorizeError {
    code: &'static str,
    description: &'static str,
}

fn refuse(code: &'static str, description: &'static str) -> AuthorizeError {
    AuthorizeError { code, description }
}

/// `url` with the parameters added to its query.
pub(super) fn with_parameters(url: &str, parameters: &[(&str, &str)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in parameters {
        serializer.append_pair(name, value);
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{}", serializer.finish())
}

/// The browser back to the client with an error, `state` and `iss`.
pub(super) fn error_redirect(
    state: &AppState,
    request: &AuthorizationRequest,
    code: &str,
    description: &str,
) -> Response {
    let mut parameters = vec![
        ("error", code),
        ("error_description", description),
        ("iss", state.urls.oidc_issuer.as_str()),
    ];
    if let Some(client_state) = &request.state {
        parameters.push(("state", client_state));
    }
    Redirect::to(&with_parameters(&request.redirect_uri, &parameters)).into_response()
}

/// `POST /oidc/authorize`: the same request as a form (Core §3.1.2.1). It
/// comes cross-site, without the `SameSite=Lax` session cookie: the browser
/// is sent on to the same-site GET.
pub async fn authorize_post(Form(params): Form<AuthorizeParams>) -> Result<Response, WebError> {
    let query = serde_urlencoded::to_string(&params)
        .map_err(|err| WebError::BadRequest(err.to_string()))?;
    Ok(Redirect::to(&format!("/oidc/authorize?{query}")).into_response())
}

/// `GET /oidc/authorize`.
pub async fn authorize(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(params): Query<AuthorizeParams>,
) -> Result<Response, WebError> {
    let registry = state.registry.get();
    let client_id = params
        .client_id
        .as_deref()
        .ok_or_else(|| WebError::BadRequest("authorization request without client_id".into()))?;
    let (service, client) = client_of(&registry, client_id)
        .ok_or_else(|| WebError::UnknownService(format!("unknown client_id {client_id:?}")))?;
    let redirect_uri = params
        .redirect_uri
        .as_deref()
        .filter(|uri| client.redirect_uri_allowed(uri))
        .ok_or_else(|| {
            WebError::BadRequest(format!(
                "redirect_uri absent or not registered for client {client_id:?}"
            ))
        })?;
    let mut request = AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        state: params.state.clone(),
        nonce: params.nonce.clone(),
        code_challenge: None,
        scope: params.scope.clone().unwrap_or_default(),
    };
    let (prompt, max_age) = match check_request(&params, client) {
        Ok((challenge, prompt, max_age)) => {
            request.code_challenge = challenge;
            (prompt, max_age)
        }
        Err(error) => {
            tracing::info!(client = %client.client_id, error = error.code, "authorization request refused");
            return Ok(error_redirect(
                &state,
                &request,
                error.code,
                error.description,
            ));
        }
    };
    // `max_age=0` is `prompt=login` (Core §3.1.2.1).
    let too_old = match max_age {
        Some(0) => true,
        Some(max_age) => login_older_than(&state, &jar, max_age).await?,
        None => false,
    };
    let force_authn = prompt == Prompt::Login || too_old;
    if prompt == Prompt::None && force_authn {
        return Ok(error_redirect(
            &state,
            &request,
            "login_required",
            "the login is older than max_age",
        ));
    }
    // `acr_values` (Core §3.1.2.1): a login lacking one of them is asked
    // again at the same IdP for them (within the service's own rule).
    let acr_values = params
        .acr_values
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
        .collect();
    answer_or_login(
        &state,
        &jar,
        service,
        Answer::Oidc(request),
        force_authn,
        prompt == Prompt::None,
        acr_values,
    )
    .await
}

/// The `prompt` of a request, as far as it changes the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prompt {
    /// No page may be shown.
    None,
    /// A fresh login.
    Login,
    /// Nothing special (`consent` too: the release of each service is
    /// approved by the académie, not by the user).
    Default,
}

/// The checks that end in an error redirect; returns the PKCE challenge,
/// the prompt and `max_age`.
fn check_request(
    params: &AuthorizeParams,
    client: &OidcClient,
) -> Result<(Option<String>, Prompt, Option<i64>), AuthorizeError> {
    if params.request.is_some() {
        return Err(refuse(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if params.request_uri.is_some() {
        return Err(refuse(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    if params.response_type.as_deref() != Some("code") {
        return Err(refuse(
            "unsupported_response_type",
            "only the authorization code flow (response_type=code) is supported",
        ));
    }
    if params
        .response_mode
        .as_deref()
        .is_some_and(|m| m != "query")
    {
        return Err(refuse(
            "invalid_request",
            "only the query response mode is supported",
        ));
    }
    if !params
        .scope
        .as_deref()
        .is_some_and(|scope| scope.split(' ').any(|s| s == "openid"))
    {
        return Err(refuse("invalid_scope", "the openid scope is required"));
    }
    let challenge = match (
        params.code_challenge.as_deref(),
        params.code_challenge_method.as_deref(),
    ) {
        (Some(challenge), Some("S256")) if oidc::challenge_well_formed(challenge) => {
            Some(challenge.to_owned())
        }
        (Some(_), Some("S256")) => {
            return Err(refuse(
                "invalid_request",
                "code_challenge is not a base64url SHA-256",
            ));
        }
        (Some(_), _) => {
            return Err(refuse(
                "invalid_request",
                "only the S256 code challenge method is accepted",
            ));
        }
        (None, Some(_)) => {
            return Err(refuse(
                "invalid_request",
                "code_challenge_method without code_challenge",
            ));
        }
        (None, None) => None,
    };
    if challenge.is_none() && (client.require_pkce || client.client_type == ClientType::Public) {
        return Err(refuse(
            "invalid_request",
            "this client must send a PKCE S256 code_challenge",
        ));
    }
    let prompts: Vec<&str> = params
        .prompt
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .filter(|p| !p.is_empty())
        .collect();
    let prompt = match prompts.as_slice() {
        [] => Prompt::Default,
        ["none"] => Prompt::None,
        several if several.contains(&"none") => {
            return Err(refuse(
                "invalid_request",
                "prompt=none cannot be combined with other values",
            ));
        }
        several if several.iter().any(|p| !["login", "consent"].contains(p)) => {
            return Err(refuse(
                "invalid_request",
                "prompt values supported: none, login, consent",
            ));
        }
        several if several.contains(&"login") => Prompt::Login,
        _ => Prompt::Default,
    };
    let max_age = match params.max_age.as_deref() {
        None => None,
        Some(text) => Some(
            text.parse::<u32>()
                .map(i64::from)
                .map_err(|_| refuse("invalid_request", "max_age is not a number of seconds"))?,
        ),
    };
    Ok((challenge, prompt, max_age))
}

/// Whether the browser's session comes from a login more than `max_age`
/// seconds ago (Core §3.1.2.1: then the user logs in again).
async fn login_older_than(
    state: &AppState,
    jar: &CookieJar,
    max_age: i64,
) -> Result<bool, WebError> {
    let now = Utc::now().timestamp();
    let Some(session_id) = jar.get(&state.config.session.cookie_name) else {
        return Ok(false);
    };
    Ok(state
        .sessions()
        .get(session_id, now)
        .await?
        .is_some_and(|session| now.saturating_sub(session.identity.authn_instant) > max_age))
}

/// The service of a client id and its OpenID Connect side.
fn client_of<'a>(
    registry: &'a Registry,
    client_id: &str,
) -> Option<(&'a ServiceDefinition, &'a OidcClient)> {
    registry
        .by_client_id(client_id)
        .and_then(|service| Some((service, service.oidc.as_ref()?)))
}

/// The answer of an OpenID Connect flow within a session: an authorization
/// code, recorded in the store, the service recorded as a participant, and
/// the browser sent back to the redirect URI with `code`, `state`, `iss`.
pub(super) async fn code_answer(
    state: &AppState,
    session_id: &str,
    session: &Session,
    service: &ServiceDefinition,
    identity: &Identity,
    request: &AuthorizationRequest,
) -> Result<Response, WebError> {
    let sub = service.opaque_id(identity, &state.identifier_keys)?;
    let claims = oidc::claims_of(service.release(identity, &state.identifier_keys)?);
    let sid = oidc::sid_for(session_id, &request.client_id);
    let code = crate::random_token();
    let grant = CodeGrant {
        service_id: service.id.clone(),
        request: request.clone(),
        sub: sub.clone(),
        sid: sid.clone(),
        claims,
        auth_time: identity.authn_instant,
        acr: identity.authn_context.clone(),
    };
    let ttl = Duration::from_secs(state.config.oidc_provider.code_ttl_seconds);
    sso_store::put_json(state.store.as_ref(), &oidc::code_key(&code), &grant, ttl).await?;
    let participant = Participant {
        service_id: service.id.clone(),
        name_id: sub,
        name_id_format: String::new(),
        session_index: sid,
        via: Via::Oidc {
            client_id: request.client_id.clone(),
        },
    };
    record_participant(state, session_id, session, service, &participant).await?;
    tracing::info!(service = %service.id, idp = %identity.idp, "authorization code issued");
    let mut parameters = vec![
        ("code", code.as_str()),
        ("iss", state.urls.oidc_issuer.as_str()),
    ];
    if let Some(client_state) = &request.state {
        parameters.push(("state", client_state));
    }
    Ok(Redirect::to(&with_parameters(&request.redirect_uri, &parameters)).into_response())
}

/// Form of a token request (RFC 6749 §4.1.3, §2.3.1; RFC 7523 §2.2).
#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

/// A token endpoint error (RFC 6749 §5.2).
#[derive(Debug)]
struct TokenError {
    status: StatusCode,
    code: &'static str,
    description: String,
    basic_challenge: bool,
}

impl TokenError {
    fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            description: description.into(),
            basic_challenge: false,
        }
    }

    fn client(description: impl Into<String>, basic: bool) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_client",
            description: description.into(),
            basic_challenge: basic,
        }
    }

    fn unavailable(error: &sso_store::StoreError) -> Self {
        tracing::error!(%error, "token endpoint: store unavailable");
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "temporarily_unavailable",
            description: "the gateway's store is unavailable".into(),
            basic_challenge: false,
        }
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(json!({"error": self.code, "error_description": self.description})),
        )
            .into_response();
        if self.basic_challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"sso-gateway\""),
            );
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// One part of Basic credentials form-decoded (RFC 6749 §2.3.1); None
/// when it cannot be form-encoded text (a raw `&` or `=`).
fn form_decoded(part: &str) -> Option<String> {
    if part.contains(['&', '=']) {
        return None;
    }
    url::form_urlencoded::parse(format!("x={part}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
}

/// Client credentials of `Authorization: Basic`: the client id and the
/// candidate secrets. RFC 6749 §2.3.1 has each part form-urlencoded before
/// base64, and many clients (authlib among them) send them raw: the secret
/// is tried both as sent and form-decoded.
fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, Vec<String>), TokenError>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let parsed = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            let (id, secret) = text.split_once(':')?;
            let mut secrets = vec![secret.to_owned()];
            secrets.extend(form_decoded(secret).filter(|decoded| decoded != secret));
            Some((form_decoded(id)?, secrets))
        });
    Some(parsed.ok_or_else(|| TokenError::client("malformed Basic credentials", true)))
}

/// Who is calling the token endpoint: the client, authenticated exactly
/// as registered.
async fn authenticate<'r>(
    state: &AppState,
    registry: &'r Registry,
    headers: &HeaderMap,
    form: &TokenForm,
) -> Result<(&'r ServiceDefinition, &'r OidcClient), TokenError> {
    let unknown = |basic| TokenError::client("unknown client or wrong credentials", basic);
    if let Some(credentials) = basic_credentials(headers) {
        let (client_id, secrets) = credentials?;
        if form.client_secret.is_some() || form.client_assertion.is_some() {
            return Err(TokenError::new(
                "invalid_request",
                "more than one client authentication method",
            ));
        }
        let (service, client) = client_of(registry, &client_id).ok_or_else(|| unknown(true))?;
        if client.auth_method != TokenAuthMethod::ClientSecretBasic
            || !secrets.iter().any(|secret| client.secret_matches(secret))
        {
            return Err(unknown(true));
        }
        return Ok((service, client));
    }
    if let Some(assertion) = &form.client_assertion {
        if form.client_assertion_type.as_deref() != Some(JWT_BEARER) {
            return Err(TokenError::new(
                "invalid_request",
                "client_assertion_type must be jwt-bearer",
            ));
        }
        if form.client_secret.is_some() {
            return Err(TokenError::new(
                "invalid_request",
                "more than one client authentication method",
            ));
        }
        return client_assertion(state, registry, assertion, form.client_id.as_deref()).await;
    }
    let client_id = form
        .client_id
        .as_deref()
        .ok_or_else(|| TokenError::client("no client authentication", false))?;
    let (service, client) = client_of(registry, client_id).ok_or_else(|| unknown(false))?;
    match (&form.client_secret, client.auth_method) {
        (Some(secret), TokenAuthMethod::ClientSecretPost) if client.secret_matches(secret) => {
            Ok((service, client))
        }
        (None, TokenAuthMethod::None) => Ok((service, client)),
        _ => Err(unknown(false)),
    }
}

/// `private_key_jwt` (RFC 7523 §3, Core §9): a JWT signed by a key of the
/// client's registered set, `iss` and `sub` the client, `aud` the token
/// endpoint or the issuer, unexpired, and its `jti` never seen before.
async fn client_assertion<'r>(
    state: &AppState,
    registry: &'r Registry,
    assertion: &str,
    claimed_id: Option<&str>,
) -> Result<(&'r ServiceDefinition, &'r OidcClient), TokenError> {
    let refused = |why: &str| TokenError::client(format!("client assertion refused: {why}"), false);
    #[derive(Deserialize)]
    struct Unverified {
        iss: Option<String>,
    }
    let payload = assertion
        .split('.')
        .nth(1)
        .and_then(|part| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<Unverified>(&bytes).ok())
        .ok_or_else(|| refused("not a JWT"))?;
    let client_id = payload.iss.ok_or_else(|| refused("no iss"))?;
    if claimed_id.is_some_and(|claimed| claimed != client_id) {
        return Err(refused("client_id differs from the assertion's issuer"));
    }
    let (service, client) =
        client_of(registry, &client_id).ok_or_else(|| refused("unknown client"))?;
    if client.auth_method != TokenAuthMethod::PrivateKeyJwt {
        return Err(refused("this client is not registered for private_key_jwt"));
    }
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| refused("bad header"))?;
    let jwk: Jwk = client
        .jwks
        .iter()
        .flatten()
        .find(|key| key.get("kid").and_then(Value::as_str) == header.kid.as_deref())
        .and_then(|key| serde_json::from_value(key.clone()).ok())
        .ok_or_else(|| refused("no registered key with this kid"))?;
    let allowed = match &jwk.algorithm {
        jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => {
            [Algorithm::RS256, Algorithm::PS256].contains(&header.alg)
        }
        jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => header.alg == Algorithm::ES256,
        _ => false,
    };
    if !allowed {
        return Err(refused("algorithm not allowed for the key"));
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| refused("unusable registered key"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[&state.urls.oidc_token, &state.urls.oidc_issuer]);
    validation.set_issuer(&[&client_id]);
    validation.sub = Some(client_id.clone());
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    #[derive(Deserialize)]
    struct Claims {
        exp: i64,
        jti: Option<String>,
    }
    let claims = jsonwebtoken::decode::<Claims>(assertion, &key, &validation)
        .map_err(|err| refused(&err.to_string()))?
        .claims;
    let jti = claims.jti.ok_or_else(|| refused("no jti"))?;
    let left = claims.exp.saturating_sub(Utc::now().timestamp());
    if left > MAX_ASSERTION_LIFETIME {
        return Err(refused("expires too far in the future"));
    }
    let ttl = Duration::from_secs(u64::try_from(left.max(1)).unwrap_or(1));
    let fresh = state
        .store
        .insert_new(&oidc::assertion_key(&client_id, &jti), b"1", ttl)
        .await
        .map_err(|err| TokenError::unavailable(&err))?;
    if !fresh {
        tracing::warn!(client = %client_id, "client assertion replayed");
        return Err(refused("jti already used"));
    }
    Ok((service, client))
}

/// What an exchanged code gave, kept to revoke it if the code comes again.
#[derive(Debug, Serialize, Deserialize)]
struct Exchanged {
    access_token_key: String,
}

/// The client id a token request claims, before any check (the account
/// its failures are counted against; empty when it names none).
fn claimed_client_id(headers: &HeaderMap, form: &TokenForm) -> String {
    match basic_credentials(headers) {
        Some(Ok((id, _))) => id,
        _ => form.client_id.clone().unwrap_or_default(),
    }
}

/// `POST /oidc/token`. Client authentication failures are counted (see
/// [`crate::limits`]): after too many, the check waits first, then answers
/// exactly as it would have.
pub async fn token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let claimed = claimed_client_id(&headers, &form);
    let attempt = state
        .limits
        .failures
        .before_check(Some(Account::OidcClient(&claimed)), ip)
        .await;
    match exchange(&state, &headers, &form).await {
        Ok(body) => Json(body).into_response(),
        Err(error) => {
            if error.code == "invalid_client" {
                attempt.failed().await;
            }
            tracing::info!(error = error.code, reason = %error.description, "token request refused");
            error.into_response()
        }
    }
}

async fn exchange(
    state: &AppState,
    headers: &HeaderMap,
    form: &TokenForm,
) -> Result<Value, TokenError> {
    let registry = state.registry.get();
    let (service, client) = authenticate(state, &registry, headers, form).await?;
    if form.grant_type.as_deref() != Some("authorization_code") {
        return Err(TokenError::new(
            "unsupported_grant_type",
            "only authorization_code is supported",
        ));
    }
    let code = form
        .code
        .as_deref()
        .ok_or_else(|| TokenError::new("invalid_request", "no code"))?;
    let store = state.store.as_ref();
    let grant: CodeGrant = match sso_store::take_json(store, &oidc::code_key(code)).await {
        Ok(Some(grant)) => grant,
        Ok(None) => {
            revoke_if_replayed(state, code).await?;
            return Err(TokenError::new(
                "invalid_grant",
                "code unknown, already used or expired",
            ));
        }
        Err(error) => return Err(TokenError::unavailable(&error)),
    };
    if grant.request.client_id != client.client_id {
        tracing::warn!(client = %client.client_id, "authorization code presented by another client");
        return Err(TokenError::new(
            "invalid_grant",
            "the code was issued to another client",
        ));
    }
    if form.redirect_uri.as_deref() != Some(grant.request.redirect_uri.as_str()) {
        return Err(TokenError::new(
            "invalid_grant",
            "redirect_uri differs from the authorization request's",
        ));
    }
    match (&grant.request.code_challenge, &form.code_verifier) {
        (Some(challenge), Some(verifier)) if oidc::pkce_matches(verifier, challenge) => {}
        (Some(_), Some(_)) => {
            return Err(TokenError::new(
                "invalid_grant",
                "code_verifier does not match the challenge",
            ));
        }
        (Some(_), None) => {
            return Err(TokenError::new("invalid_grant", "code_verifier required"));
        }
        (None, Some(_)) => {
            return Err(TokenError::new(
                "invalid_grant",
                "code_verifier sent but the request had no challenge",
            ));
        }
        (None, None) => {}
    }
    let provider = &state.config.oidc_provider;
    let access_token = crate::random_token();
    let access_lifetime = Duration::from_secs(provider.access_token_lifetime_seconds);
    let access_key = oidc::access_token_key(&access_token);
    let access = AccessGrant {
        client_id: client.client_id.clone(),
        sub: grant.sub.clone(),
        claims: grant.claims.clone(),
    };
    let stored = async {
        sso_store::put_json(store, &access_key, &access, access_lifetime).await?;
        sso_store::put_json(
            store,
            &oidc::used_code_key(code),
            &Exchanged {
                access_token_key: access_key.clone(),
            },
            access_lifetime,
        )
        .await
    };
    stored.await.map_err(|err| TokenError::unavailable(&err))?;
    let now = Utc::now().timestamp();
    let lifetime = i64::try_from(provider.id_token_lifetime_seconds).unwrap_or(300);
    let mut claims = Map::new();
    claims.insert("iss".into(), state.urls.oidc_issuer.clone().into());
    claims.insert("sub".into(), grant.sub.clone().into());
    claims.insert("aud".into(), client.client_id.clone().into());
    claims.insert("exp".into(), (now + lifetime).into());
    claims.insert("iat".into(), now.into());
    claims.insert("auth_time".into(), grant.auth_time.into());
    claims.insert("sid".into(), grant.sid.clone().into());
    claims.insert("at_hash".into(), oidc::at_hash(&access_token).into());
    if let Some(nonce) = &grant.request.nonce {
        claims.insert("nonce".into(), nonce.clone().into());
    }
    if let Some(acr) = &grant.acr {
        claims.insert("acr".into(), acr.clone().into());
    }
    for (name, value) in &grant.claims {
        if !RESERVED_CLAIMS.contains(&name.as_str()) {
            claims.insert(name.clone(), value.clone());
        }
    }
    let keys = Arc::clone(&state.oidc_keys);
    let alg = client.id_token_alg;
    let id_token = tokio::task::spawn_blocking(move || keys.sign(alg, "JWT", &claims))
        .await
        .map_err(|err| TokenError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "server_error",
            description: err.to_string(),
            basic_challenge: false,
        })?
        .map_err(|err| {
            tracing::error!(%err, client = %client.client_id, "ID token not signed");
            TokenError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "server_error",
                description: "the ID token could not be signed".into(),
                basic_challenge: false,
            }
        })?;
    tracing::info!(service = %service.id, "tokens issued");
    Ok(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": provider.access_token_lifetime_seconds,
        "id_token": id_token,
        "scope": grant.request.scope,
    }))
}

/// A code seen again after its exchange: the access token it gave is
/// revoked (RFC 6749 §4.1.2, Core §3.1.3.2).
async fn revoke_if_replayed(state: &AppState, code: &str) -> Result<(), TokenError> {
    let store = state.store.as_ref();
    match sso_store::take_json::<Exchanged>(store, &oidc::used_code_key(code)).await {
        Ok(Some(exchanged)) => {
            store
                .delete(&exchanged.access_token_key)
                .await
                .map_err(|err| TokenError::unavailable(&err))?;
            tracing::warn!("authorization code replayed: the access token it gave is revoked");
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(error) => Err(TokenError::unavailable(&error)),
    }
}

/// `GET` and `POST /oidc/userinfo` (Core §5.3): the claims of the access
/// token's grant, with its `sub`.
pub async fn userinfo(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Response {
    let invalid = |status: StatusCode, challenge: &'static str| {
        (
            status,
            [(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            )],
        )
            .into_response()
    };
    let Some(token) = super::bearer_token(&headers) else {
        return invalid(StatusCode::UNAUTHORIZED, "Bearer realm=\"sso-gateway\"");
    };
    let attempt = state.limits.failures.before_check(None, ip).await;
    match sso_store::get_json::<AccessGrant>(state.store.as_ref(), &oidc::access_token_key(token))
        .await
    {
        Ok(Some(grant)) => {
            let mut body = grant.claims;
            body.insert("sub".into(), grant.sub.into());
            Json(body).into_response()
        }
        Ok(None) => {
            attempt.failed().await;
            invalid(
                StatusCode::UNAUTHORIZED,
                "Bearer error=\"invalid_token\", error_description=\"unknown, revoked or expired access token\"",
            )
        }
        Err(error) => {
            tracing::error!(%error, "userinfo: store unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "5")],
            )
                .into_response()
        }
    }
}

/// Query of the end-session endpoint (RP-Initiated Logout 1.0 §2).
#[derive(Debug, Deserialize)]
pub struct EndSessionQuery {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// What `/oidc/logout` was asked: who asks, for which user, and where the
/// browser goes afterwards.
pub(super) struct EndSession {
    /// The client's service, when known.
    pub service_id: Option<String>,
    /// The `sub` the client knows, from a valid `id_token_hint`.
    pub sub: Option<String>,
    /// The registered post-logout URI, with `state`.
    pub return_to: Option<String>,
}

/// Checks an end-session request: the hint must be an ID token of this
/// provider; a post-logout URI is followed only when registered for the
/// client the hint or `client_id` names (never an open redirect).
pub(super) fn end_session_request(
    state: &AppState,
    RawQuery(query): RawQuery,
) -> Result<EndSession, WebError> {
    let query: EndSessionQuery = serde_urlencoded::from_str(query.as_deref().unwrap_or_default())
        .map_err(|err| WebError::BadRequest(err.to_string()))?;
    let hint = match &query.id_token_hint {
        Some(token) => Some(
            state
                .oidc_keys
                .verify_hint(token, &state.urls.oidc_issuer)
                .ok_or_else(|| {
                    WebError::BadRequest("id_token_hint is not an ID token of this gateway".into())
                })?,
        ),
        None => None,
    };
    let hinted_client =
        hint.as_ref()
            .and_then(|claims| claims.get("aud"))
            .and_then(|aud| match aud {
                Value::String(one) => Some(one.clone()),
                Value::Array(many) => many.first().and_then(Value::as_str).map(str::to_owned),
                _ => None,
            });
    let client_id = match (hinted_client, query.client_id) {
        (Some(hinted), Some(given)) if hinted != given => {
            return Err(WebError::BadRequest(
                "client_id differs from the id_token_hint's audience".into(),
            ));
        }
        (hinted, given) => hinted.or(given),
    };
    let registry = state.registry.get();
    let client = client_id
        .as_deref()
        .map(|id| {
            client_of(&registry, id)
                .ok_or_else(|| WebError::UnknownService(format!("unknown client_id {id:?}")))
        })
        .transpose()?;
    let return_to = match (&query.post_logout_redirect_uri, client) {
        (Some(uri), Some((_, client))) if client.post_logout_redirect_uri_allowed(uri) => {
            Some(match &query.state {
                Some(client_state) => with_parameters(uri, &[("state", client_state)]),
                None => uri.clone(),
            })
        }
        (Some(_), _) => {
            return Err(WebError::BadRequest(
                "post_logout_redirect_uri not registered for this client".into(),
            ));
        }
        (None, _) => None,
    };
    Ok(EndSession {
        service_id: client.map(|(service, _)| service.id.clone()),
        sub: hint
            .as_ref()
            .and_then(|claims| claims.get("sub"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        return_to,
    })
}

/// Back-Channel Logout 1.0 §2.4: a logout token naming `sub` and `sid`,
/// POSTed to the client; true when it answered 2xx in time.
pub(super) async fn back_channel_logout(
    state: &AppState,
    participant: &Participant,
    client: &OidcClient,
    url: &str,
) -> bool {
    let now = Utc::now().timestamp();
    let claims = json!({
        "iss": state.urls.oidc_issuer,
        "aud": client.client_id,
        "iat": now,
        "exp": now + 120,
        "jti": crate::random_token(),
        "sub": participant.name_id,
        "sid": participant.session_index,
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
    });
    let token = match state
        .oidc_keys
        .sign(client.id_token_alg, "logout+jwt", &claims)
    {
        Ok(token) => token,
        Err(error) => {
            tracing::error!(%error, client = %client.client_id, "logout token not signed");
            return false;
        }
    };
    state
        .http
        .post(url)
        .form(&[("logout_token", token)])
        .timeout(Duration::from_millis(
            state.config.oidc_provider.logout_timeout_ms,
        ))
        .send()
        .await
        .is_ok_and(|answer| answer.status().is_success())
}
