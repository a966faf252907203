//! A simulated national OpenID provider (domain reference §2), in one of two
//! roles chosen by its [`IdpKind`]:
//! - ÉduConnect, which also offers OIDC: pupils and parents, the userinfo
//!   carrying the SAML attribute names as JSON claims;
//! - the agents' national OIDC service "FIM": staff, the userinfo carrying
//!   `email` (the academic address the directory join uses), `family_name`,
//!   `given_name`, `FrEduRne` (an array of structure vectors) and
//!   `FrEduFonctAdm`.
//!
//! Authorization code flow only (OpenID Connect Core 1.0 §3.1), with what
//! the gateway as a careful relying party expects of it:
//! - the client is registered with its exact redirect URIs; an unknown client
//!   or redirect URI gets an error page, never a redirect (RFC 6749 §4.1.2.1);
//! - PKCE is required, `S256` only (RFC 7636 §4.3, §4.4.1);
//! - the authorization response carries `iss` (RFC 9207) and the discovery
//!   document says so;
//! - the token endpoint authenticates the client with `client_secret_basic`
//!   or `client_secret_post` (RFC 6749 §2.3.1), one method per request; a
//!   code is used once, by the client it was issued to, with the same
//!   redirect URI and the verifier of its challenge; a second use revokes the
//!   access token of the first (RFC 6749 §4.1.2);
//! - ID tokens are signed RS256 with a key published with its `kid` in the
//!   JWKS (OpenID Connect Core §2, §10.1);
//! - RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) redirects
//!   only to a registered `post_logout_redirect_uri`.
//!
//! The login page is the account choice page of the SAML simulator of the same
//! kind, with the same population. `/state.json` exposes counters for the
//! gateway's tests.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, RawForm, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, PRAGMA, SET_COOKIE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Json, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
    RSAKeyParameters, RSAKeyType,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use openssl::error::ErrorStack;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use sso_saml::ns;

use crate::IdpKind;
use crate::attributes as a;
use crate::idp::account_choice_page;
use crate::oauth;
use crate::page::{self, escape};
use crate::people::{self, Person, Role};
use crate::web::{self, Expiring, lock, redirect};

/// Size of the RSA keys made by [`OidcSigningKey::generate`].
const GENERATED_RSA_BITS: u32 = 2048;
/// Smallest RSA modulus accepted for a signing key.
const MIN_RSA_BITS: u32 = 2048;
/// How long an authorization request waits for the account choice.
const PENDING_TTL: Duration = Duration::from_secs(10 * 60);
/// How long an OP session lasts.
const SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);
/// How long an authorization code may wait for the token request.
const CODE_TTL: Duration = Duration::from_secs(120);
/// How long a redeemed code is remembered, to detect its reuse.
const REDEEMED_TTL: Duration = Duration::from_secs(10 * 60);
/// Lifetime of an access token.
const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(10 * 60);
/// Lifetime of an ID token.
const ID_TOKEN_LIFETIME: chrono::Duration = chrono::Duration::minutes(5);
/// The OP session cookie (scoped to the OP's path).
const SESSION_COOKIE: &str = "testbed_op";
/// The scope every authorization request must include (OpenID Connect Core §3.1.2.1).
const OPENID_SCOPE: &str = "openid";
/// The standard claim carrying an agent's academic e-mail address (OpenID
/// Connect Core §5.1), the key of the directory join.
const CLAIM_EMAIL: &str = "email";

/// Why an ID-token signing key could not be made or loaded.
#[derive(Debug, thiserror::Error)]
pub enum OidcKeyError {
    /// An OpenSSL operation failed.
    #[error("OpenSSL failed while {operation}: {source}")]
    OpenSsl {
        /// What was being done.
        operation: &'static str,
        /// The OpenSSL error stack.
        #[source]
        source: ErrorStack,
    },
    /// The PEM text is not a private key.
    #[error("the signing key is not a valid PEM private key: {0}")]
    Pem(#[source] ErrorStack),
    /// The key is not an RSA key.
    #[error("the signing key is not an RSA key (the simulated provider signs RS256)")]
    NotRsa,
    /// The RSA key is too small.
    #[error("the RSA signing key has {bits} bits, at least {MIN_RSA_BITS} are required")]
    RsaTooSmall {
        /// Size of the modulus.
        bits: u32,
    },
    /// jsonwebtoken refused the key or failed to sign.
    #[error("jsonwebtoken failed while {operation}: {source}")]
    Jwt {
        /// What was being done.
        operation: &'static str,
        /// The jsonwebtoken error.
        #[source]
        source: jsonwebtoken::errors::Error,
    },
}

/// The RSA key that signs the simulated provider's ID tokens (RS256), with its
/// key id. Debug output shows the key id only.
pub struct OidcSigningKey {
    kid: String,
    private_pem: Vec<u8>,
    encoding: EncodingKey,
    jwk: Jwk,
}

impl fmt::Debug for OidcSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcSigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl OidcSigningKey {
    /// A fresh 2048-bit RSA key named `kid`.
    pub fn generate(kid: &str) -> Result<Self, OidcKeyError> {
        let openssl = |operation| move |source| OidcKeyError::OpenSsl { operation, source };
        let rsa = Rsa::generate(GENERATED_RSA_BITS).map_err(openssl("generating an RSA key"))?;
        let pem = PKey::from_rsa(rsa)
            .and_then(|key| key.private_key_to_pem_pkcs8())
            .map_err(openssl("exporting the RSA key to PEM"))?;
        Self::from_pem(kid, &pem)
    }

    /// An RSA private key of at least 2048 bits in PEM (PKCS#1 or PKCS#8),
    /// named `kid`.
    pub fn from_pem(kid: &str, private_pem: &[u8]) -> Result<Self, OidcKeyError> {
        let key = PKey::private_key_from_pem(private_pem).map_err(OidcKeyError::Pem)?;
        let rsa = key.rsa().map_err(|_| OidcKeyError::NotRsa)?;
        let bits = rsa.size().saturating_mul(8);
        if bits < MIN_RSA_BITS {
            return Err(OidcKeyError::RsaTooSmall { bits });
        }
        let encoding =
            EncodingKey::from_rsa_pem(private_pem).map_err(|source| OidcKeyError::Jwt {
                operation: "loading the RSA key",
                source,
            })?;
        let jwk = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::RS256),
                key_id: Some(kid.to_owned()),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
                key_type: RSAKeyType::RSA,
                n: URL_SAFE_NO_PAD.encode(rsa.n().to_vec()),
                e: URL_SAFE_NO_PAD.encode(rsa.e().to_vec()),
            }),
        };
        Ok(Self {
            kid: kid.to_owned(),
            private_pem: private_pem.to_vec(),
            encoding,
            jwk,
        })
    }

    /// The key id (`kid`) put in the JWT headers and in the JWKS.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key in PEM, as loaded or generated.
    pub fn private_key_pem(&self) -> &[u8] {
        &self.private_pem
    }

    /// The public key as a JWK: `kty` RSA, `use` sig, `alg` RS256, `kid`.
    pub fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// A JWT of `claims` signed RS256, its header carrying this key's `kid`
    /// and the media type `typ` (`JWT` for ID tokens, `logout+jwt` for
    /// logout tokens).
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, OidcKeyError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|source| OidcKeyError::Jwt {
            operation: "signing a JWT",
            source,
        })
    }

    fn decoding_key(&self) -> Result<DecodingKey, jsonwebtoken::errors::Error> {
        DecodingKey::from_jwk(&self.jwk)
    }
}

/// Configuration of a simulated OpenID provider (ÉduConnect or the agents'
/// FIM), with its one registered client (the gateway).
#[derive(Debug)]
pub struct SimOidcOpConfig {
    /// Public URL of the simulator's root, e.g.
    /// `http://127.0.0.1:8080/testbed/educonnect-oidc`: the issuer, and the
    /// base of the routes (the caller nests the router at its path).
    pub base_url: String,
    /// The registered client's id.
    pub client_id: String,
    /// The registered client's secret.
    pub client_secret: String,
    /// The client's redirect URIs, compared exactly.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser back, compared exactly.
    pub post_logout_redirect_uris: Vec<String>,
    /// Signs the ID tokens.
    pub signing_key: OidcSigningKey,
}

impl SimOidcOpConfig {
    /// The issuer identifier: `base_url` without a trailing slash.
    fn issuer(&self) -> String {
        self.base_url.trim_end_matches('/').to_owned()
    }

    fn url(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.issuer())
    }
}

/// The provider's JWKS: its one RS256 signing key, with its `kid`.
pub fn sim_oidc_op_jwks(config: &SimOidcOpConfig) -> JwkSet {
    JwkSet {
        keys: vec![config.signing_key.public_jwk().clone()],
    }
}

/// Why an authorization request is refused before anything is sent back to
/// the client: the client or its redirect URI cannot be trusted, so the
/// browser gets an error page (RFC 6749 §4.1.2.1).
#[derive(Debug, thiserror::Error)]
enum UntrustedRequest {
    #[error("{0}")]
    Repeated(#[source] oauth::RepeatedParameter),
    #[error("the request has no client_id")]
    NoClientId,
    #[error("the client {0:?} is not registered")]
    UnknownClient(String),
    #[error("the request has no redirect_uri")]
    NoRedirectUri,
    #[error("the redirect_uri {0:?} is not registered for this client")]
    RedirectUri(String),
}

/// Why a trusted client's authorization request is refused: the browser goes
/// back to the client with the error (RFC 6749 §4.1.2.1, OpenID Connect
/// Core §3.1.2.6).
#[derive(Debug, thiserror::Error)]
enum AuthorizeError {
    #[error("response_type {0:?} is not supported: only \"code\"")]
    ResponseType(Option<String>),
    #[error("the scope {0:?} does not include \"openid\"")]
    Scope(Option<String>),
    #[error("PKCE is required: the request has no code_challenge")]
    NoCodeChallenge,
    #[error("code_challenge_method {0:?} is not supported: only \"S256\"")]
    ChallengeMethod(Option<String>),
    #[error("the code_challenge is not a base64url SHA-256 value of 43 characters")]
    ChallengeSyntax,
    #[error("prompt=none, but the user is not logged in")]
    LoginRequired,
}

impl AuthorizeError {
    fn code(&self) -> &'static str {
        match self {
            Self::ResponseType(_) => "unsupported_response_type",
            Self::Scope(_) => "invalid_scope",
            Self::NoCodeChallenge | Self::ChallengeMethod(_) | Self::ChallengeSyntax => {
                "invalid_request"
            }
            Self::LoginRequired => "login_required",
        }
    }
}

/// Why the token endpoint refused a request (RFC 6749 §5.2).
#[derive(Debug, thiserror::Error)]
enum TokenError {
    #[error("{0}")]
    Repeated(#[source] oauth::RepeatedParameter),
    #[error("the client authenticated with both client_secret_basic and client_secret_post")]
    TwoAuthMethods,
    #[error("the client did not authenticate")]
    NoClientAuth,
    #[error("the Authorization header is not valid HTTP Basic credentials")]
    MalformedBasic,
    #[error("the client {0:?} is not registered")]
    UnknownClient(String),
    #[error("the client secret is wrong")]
    WrongSecret,
    #[error("grant_type {0:?} is not supported: only \"authorization_code\"")]
    GrantType(Option<String>),
    #[error("the request has no {0}")]
    Missing(&'static str),
    #[error("the code is unknown or expired")]
    UnknownCode,
    #[error("the code was already used: the access token issued for it is revoked")]
    CodeReused,
    #[error("the redirect_uri {found:?} is not the one of the authorization request")]
    RedirectUri { found: Option<String> },
    #[error("the code_verifier does not have the syntax of RFC 7636 §4.1")]
    VerifierSyntax,
    #[error("the code_verifier does not match the code_challenge")]
    VerifierMismatch,
    #[error("signing the ID token failed: {0}")]
    Sign(#[source] OidcKeyError),
}

impl TokenError {
    fn code(&self) -> &'static str {
        match self {
            Self::Repeated(_) | Self::TwoAuthMethods | Self::Missing(_) | Self::VerifierSyntax => {
                "invalid_request"
            }
            Self::NoClientAuth
            | Self::MalformedBasic
            | Self::UnknownClient(_)
            | Self::WrongSecret => "invalid_client",
            Self::GrantType(_) => "unsupported_grant_type",
            Self::UnknownCode
            | Self::CodeReused
            | Self::RedirectUri { .. }
            | Self::VerifierMismatch => "invalid_grant",
            Self::Sign(_) => "server_error",
        }
    }

    fn status(&self) -> StatusCode {
        match self.code() {
            "invalid_client" => StatusCode::UNAUTHORIZED,
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// Why RP-initiated logout was refused.
#[derive(Debug, thiserror::Error)]
enum LogoutError {
    #[error("{0}")]
    Repeated(#[source] oauth::RepeatedParameter),
    #[error("the post_logout_redirect_uri {0:?} is not registered")]
    RedirectUri(String),
    #[error("the client {0:?} is not registered")]
    UnknownClient(String),
    #[error("the id_token_hint was not issued by this provider to its client: {0}")]
    IdTokenHint(#[source] jsonwebtoken::errors::Error),
}

/// An authorization request from the registered client, waiting for the
/// account choice.
#[derive(Clone)]
struct Authorization {
    redirect_uri: String,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: String,
    scope: String,
}

/// A logged-in browser.
#[derive(Clone)]
struct OpSession {
    login: &'static str,
    auth_time: i64,
}

/// What an authorization code stands for.
struct IssuedCode {
    authorization: Authorization,
    session: OpSession,
}

#[derive(Default)]
struct Counters {
    tokens_issued: u64,
    userinfo_calls: u64,
    logouts: u64,
}

struct OpState {
    kind: IdpKind,
    config: SimOidcOpConfig,
    cookie_path: String,
    pending: Mutex<Expiring<Authorization>>,
    sessions: Mutex<Expiring<OpSession>>,
    codes: Mutex<Expiring<IssuedCode>>,
    /// Redeemed code -> the access token issued for it.
    redeemed: Mutex<Expiring<String>>,
    /// Access token -> login.
    access_tokens: Mutex<Expiring<&'static str>>,
    counters: Mutex<Counters>,
}

type Shared = Arc<OpState>;

/// The simulated ÉduConnect OpenID provider's routes: the
/// [`sim_oidc_op_router_for`] of [`IdpKind::EduConnect`].
pub fn sim_oidc_op_router(config: SimOidcOpConfig) -> Router {
    sim_oidc_op_router_for(IdpKind::EduConnect, config)
}

/// The routes of a simulated OpenID provider playing `kind` (ÉduConnect for
/// pupils and parents, [`IdpKind::Agents`] for the agents' FIM and staff),
/// relative to `base_url`'s path (the caller nests the router there):
/// `GET /` (home), `GET /.well-known/openid-configuration`, `GET /jwks`,
/// `GET /authorize`, `POST /login`, `POST /token`, `GET|POST /userinfo`,
/// `GET|POST /logout`, `GET /state.json`.
pub fn sim_oidc_op_router_for(kind: IdpKind, config: SimOidcOpConfig) -> Router {
    let state = Arc::new(OpState {
        kind,
        cookie_path: web::cookie_path(&config.base_url),
        config,
        pending: Mutex::new(Expiring::new(PENDING_TTL)),
        sessions: Mutex::new(Expiring::new(SESSION_TTL)),
        codes: Mutex::new(Expiring::new(CODE_TTL)),
        redeemed: Mutex::new(Expiring::new(REDEEMED_TTL)),
        access_tokens: Mutex::new(Expiring::new(ACCESS_TOKEN_TTL)),
        counters: Mutex::new(Counters::default()),
    });
    Router::new()
        .route("/", get(home))
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/login", post(login))
        .route("/token", post(token))
        .route("/userinfo", get(userinfo).post(userinfo))
        .route("/logout", get(logout).post(logout))
        .route("/state.json", get(state_json))
        .with_state(state)
}

/// Headers of every token and userinfo answer (RFC 6749 §5.1).
fn no_store() -> [(axum::http::HeaderName, &'static str); 2] {
    [(CACHE_CONTROL, "no-store"), (PRAGMA, "no-cache")]
}

/// The claims a provider of `kind` may return (OpenID Connect Discovery
/// §3, `claims_supported`).
fn claims_supported(kind: IdpKind) -> Vec<&'static str> {
    let mut claims = vec![
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "acr",
        "given_name",
        "family_name",
    ];
    match kind {
        IdpKind::EduConnect => claims.extend([
            a::CLAIM_FR_EDU_CT_PERSON_AFFILIATION,
            a::CLAIM_FR_EDU_CT_ID,
            a::CLAIM_FR_EDU_CT_REF_ID,
            a::CLAIM_FR_EDU_CT_ELEVE_UAI,
            a::CLAIM_FR_EDU_CT_ELEVE_NIVEAU,
        ]),
        IdpKind::Agents => claims.extend([CLAIM_EMAIL, a::FR_EDU_RNE, a::FR_EDU_FONCT_ADM]),
    }
    claims
}

async fn discovery(State(state): State<Shared>) -> Json<serde_json::Value> {
    let config = &state.config;
    Json(json!({
        "issuer": config.issuer(),
        "authorization_endpoint": config.url("/authorize"),
        "token_endpoint": config.url("/token"),
        "userinfo_endpoint": config.url("/userinfo"),
        "jwks_uri": config.url("/jwks"),
        "end_session_endpoint": config.url("/logout"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": [OPENID_SCOPE, "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "acr_values_supported": [ns::AC_PASSWORD_PROTECTED_TRANSPORT],
        "claims_supported": claims_supported(state.kind),
    }))
}

async fn jwks(State(state): State<Shared>) -> Json<JwkSet> {
    Json(sim_oidc_op_jwks(&state.config))
}

fn error_page(kind: IdpKind, status: StatusCode, what: &str) -> Response {
    page::error(status, kind.service_name(), what)
}

/// The provider's name after "déconnecté" or "Se déconnecter", with its
/// French preposition.
fn after_preposition(kind: IdpKind) -> &'static str {
    match kind {
        IdpKind::EduConnect => "d’ÉduConnect (simulation)",
        IdpKind::Agents => "du service OpenID des agents (simulation)",
    }
}

/// The challenges of the token and userinfo endpoints (RFC 6749 §5.2,
/// RFC 6750 §3).
#[derive(Clone, Copy)]
enum Challenge {
    /// The client failed `client_secret_basic` authentication.
    Basic,
    /// The userinfo request carries no bearer token.
    Bearer,
    /// The bearer token is unknown, expired or revoked.
    InvalidToken,
}

/// The `WWW-Authenticate` value of `challenge`, in the realm of `kind`.
fn www_authenticate(kind: IdpKind, challenge: Challenge) -> &'static str {
    match (kind, challenge) {
        (IdpKind::EduConnect, Challenge::Basic) => "Basic realm=\"educonnect-oidc\"",
        (IdpKind::EduConnect, Challenge::Bearer) => "Bearer realm=\"educonnect-oidc\"",
        (IdpKind::EduConnect, Challenge::InvalidToken) => {
            "Bearer realm=\"educonnect-oidc\", error=\"invalid_token\""
        }
        (IdpKind::Agents, Challenge::Basic) => "Basic realm=\"agents-oidc\"",
        (IdpKind::Agents, Challenge::Bearer) => "Bearer realm=\"agents-oidc\"",
        (IdpKind::Agents, Challenge::InvalidToken) => {
            "Bearer realm=\"agents-oidc\", error=\"invalid_token\""
        }
    }
}

/// The browser goes back to the client: `redirect_uri` with `params` and `iss`
/// added to its query (RFC 6749 §4.1.2, RFC 9207 §2).
fn back_to_client(state: &OpState, redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            url.query_pairs_mut()
                .extend_pairs(params)
                .append_pair("iss", &state.config.issuer());
            redirect(url.into(), Vec::new())
        }
        Err(e) => error_page(
            state.kind,
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("the registered redirect_uri {redirect_uri:?} is not a URL: {e}"),
        ),
    }
}

/// Checks the client and its redirect URI: until then nothing may go back to
/// the client.
fn trusted_redirect_uri(
    config: &SimOidcOpConfig,
    params: &BTreeMap<String, String>,
) -> Result<String, UntrustedRequest> {
    let client_id = params
        .get("client_id")
        .ok_or(UntrustedRequest::NoClientId)?;
    if *client_id != config.client_id {
        return Err(UntrustedRequest::UnknownClient(client_id.clone()));
    }
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or(UntrustedRequest::NoRedirectUri)?;
    if !config.redirect_uris.contains(redirect_uri) {
        return Err(UntrustedRequest::RedirectUri(redirect_uri.clone()));
    }
    Ok(redirect_uri.clone())
}

/// The checks of a trusted client's request, in order.
fn check_authorization(
    params: &BTreeMap<String, String>,
    redirect_uri: String,
) -> Result<Authorization, AuthorizeError> {
    let param = |name: &str| params.get(name).cloned();
    if param("response_type").as_deref() != Some("code") {
        return Err(AuthorizeError::ResponseType(param("response_type")));
    }
    let scope = param("scope").unwrap_or_default();
    if !scope.split(' ').any(|s| s == OPENID_SCOPE) {
        return Err(AuthorizeError::Scope(param("scope")));
    }
    let code_challenge = param("code_challenge").ok_or(AuthorizeError::NoCodeChallenge)?;
    if param("code_challenge_method").as_deref() != Some("S256") {
        return Err(AuthorizeError::ChallengeMethod(param(
            "code_challenge_method",
        )));
    }
    if code_challenge.len() != 43 || !oauth::is_verifier_syntax(&code_challenge) {
        return Err(AuthorizeError::ChallengeSyntax);
    }
    Ok(Authorization {
        redirect_uri,
        state: param("state"),
        nonce: param("nonce"),
        code_challenge,
        scope,
    })
}

/// `GET /authorize` (OpenID Connect Core §3.1.2.1): answers at once from the
/// OP session unless `prompt=login`, refuses `prompt=none` without one, and
/// otherwise shows the account choice page.
async fn authorize(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawForm(query): RawForm,
) -> Response {
    let config = &state.config;
    let trusted = oauth::single_valued(&query)
        .map_err(UntrustedRequest::Repeated)
        .and_then(|params| trusted_redirect_uri(config, &params).map(|uri| (params, uri)));
    let (params, redirect_uri) = match trusted {
        Ok(ok) => ok,
        Err(e) => {
            tracing::warn!(error = %e, "simulated OIDC provider refused an authorization request");
            return error_page(state.kind, StatusCode::BAD_REQUEST, &e.to_string());
        }
    };
    let client_state = params.get("state").cloned();
    let refuse = |e: AuthorizeError| {
        tracing::warn!(error = %e, "simulated OIDC provider refused an authorization request");
        let mut answer = vec![
            ("error", e.code().to_owned()),
            ("error_description", e.to_string()),
        ];
        answer.extend(client_state.clone().map(|s| ("state", s)));
        let answer: Vec<(&str, &str)> = answer.iter().map(|(k, v)| (*k, v.as_str())).collect();
        back_to_client(&state, &redirect_uri, &answer)
    };
    let authorization = match check_authorization(&params, redirect_uri.clone()) {
        Ok(a) => a,
        Err(e) => return refuse(e),
    };
    let prompt = params.get("prompt").map(String::as_str).unwrap_or_default();
    let prompts: Vec<&str> = prompt.split(' ').collect();
    if !prompts.contains(&"login") {
        let session = web::read_cookie(&headers, SESSION_COOKIE)
            .and_then(|c| lock(&state.sessions).get_mut(&c).cloned());
        if let Some(session) = session {
            return issue_code(&state, authorization, session);
        }
    }
    if prompts.contains(&"none") {
        return refuse(AuthorizeError::LoginRequired);
    }
    let pending_id = web::random_token();
    lock(&state.pending).insert(pending_id.clone(), authorization);
    account_choice_page(state.kind, &config.url("/login"), &pending_id, false)
}

/// Redirects the browser to the client with a fresh code, `state` and `iss`.
fn issue_code(state: &OpState, authorization: Authorization, session: OpSession) -> Response {
    let code = web::random_token();
    let redirect_uri = authorization.redirect_uri.clone();
    let mut params = vec![("code", code.clone())];
    params.extend(authorization.state.clone().map(|s| ("state", s)));
    lock(&state.codes).insert(
        code,
        IssuedCode {
            authorization,
            session,
        },
    );
    let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    back_to_client(state, &redirect_uri, &params)
}

#[derive(Deserialize)]
struct LoginForm {
    pending: String,
    login: String,
}

/// The person behind `login`, if a provider of `kind` serves them
/// (ÉduConnect: pupils and parents; agents: staff).
fn account_of(kind: IdpKind, login: &str) -> Option<&'static Person> {
    people::by_login(login).filter(|p| p.idp() == kind)
}

/// `POST /login`: the account chosen on the page opens the OP session.
async fn login(State(state): State<Shared>, Form(form): Form<LoginForm>) -> Response {
    let Some(person) = account_of(state.kind, &form.login) else {
        return error_page(
            state.kind,
            StatusCode::BAD_REQUEST,
            &format!(
                "the account {:?} does not belong to {}",
                form.login,
                state.kind.service_name()
            ),
        );
    };
    let Some(authorization) = lock(&state.pending).take(&form.pending) else {
        return error_page(
            state.kind,
            StatusCode::BAD_REQUEST,
            "the login form refers to an unknown or expired authorization request",
        );
    };
    let session = OpSession {
        login: person.login,
        auth_time: chrono::Utc::now().timestamp(),
    };
    let cookie_id = web::random_token();
    let cookie = web::set_cookie(SESSION_COOKIE, &cookie_id, &state.cookie_path);
    lock(&state.sessions).insert(cookie_id, session.clone());
    let response = issue_code(&state, authorization, session);
    (AppendHeaders([(SET_COOKIE, cookie)]), response).into_response()
}

/// The client id and secret of a `client_secret_basic` Authorization header.
fn basic_credentials(value: &HeaderValue) -> Result<(String, String), TokenError> {
    let text = value.to_str().map_err(|_| TokenError::MalformedBasic)?;
    let (scheme, encoded) = text.split_once(' ').ok_or(TokenError::MalformedBasic)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(TokenError::MalformedBasic);
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(TokenError::MalformedBasic)?;
    let (id, secret) = decoded.split_once(':').ok_or(TokenError::MalformedBasic)?;
    Ok((oauth::form_decode(id), oauth::form_decode(secret)))
}

/// Client authentication, one method only (RFC 6749 §2.3.1).
fn authenticate_client(
    config: &SimOidcOpConfig,
    headers: &HeaderMap,
    params: &BTreeMap<String, String>,
) -> Result<(), TokenError> {
    let posted_secret = params.get("client_secret");
    let (id, secret) = match (headers.get(AUTHORIZATION), posted_secret) {
        (Some(_), Some(_)) => return Err(TokenError::TwoAuthMethods),
        (Some(header), None) => basic_credentials(header)?,
        (None, Some(secret)) => (
            params.get("client_id").cloned().unwrap_or_default(),
            secret.clone(),
        ),
        (None, None) => return Err(TokenError::NoClientAuth),
    };
    if id != config.client_id {
        return Err(TokenError::UnknownClient(id));
    }
    // Compared through their digests: the comparison time says nothing of the secret.
    if Sha256::digest(secret.as_bytes()) != Sha256::digest(config.client_secret.as_bytes()) {
        return Err(TokenError::WrongSecret);
    }
    Ok(())
}

/// The claims of the simulated provider's ID tokens (OpenID Connect Core §2).
#[derive(Serialize)]
struct IdTokenClaims<'a> {
    iss: String,
    sub: String,
    aud: &'a str,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    acr: &'static str,
}

/// The subject identifier of a person at this provider: stable, opaque, 64
/// hex characters (SHA-256 of a fixed label and the login).
fn subject(login: &str) -> String {
    hex::encode(Sha256::digest(format!("sso-testbed/oidc-sub/{login}")))
}

/// The token request checks, in order, then the tokens.
fn exchange_code(
    state: &OpState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Value, TokenError> {
    let config = &state.config;
    let params = oauth::single_valued(body).map_err(TokenError::Repeated)?;
    authenticate_client(config, headers, &params)?;
    let grant_type = params.get("grant_type").cloned();
    if grant_type.as_deref() != Some("authorization_code") {
        return Err(TokenError::GrantType(grant_type));
    }
    let code = params.get("code").ok_or(TokenError::Missing("code"))?;
    let Some(issued) = lock(&state.codes).take(code) else {
        let revoked = lock(&state.redeemed).take(code);
        return match revoked {
            Some(access_token) => {
                lock(&state.access_tokens).take(&access_token);
                Err(TokenError::CodeReused)
            }
            None => Err(TokenError::UnknownCode),
        };
    };
    let authorization = &issued.authorization;
    let redirect_uri = params.get("redirect_uri");
    if redirect_uri != Some(&authorization.redirect_uri) {
        return Err(TokenError::RedirectUri {
            found: redirect_uri.cloned(),
        });
    }
    let verifier = params
        .get("code_verifier")
        .ok_or(TokenError::Missing("code_verifier"))?;
    if !oauth::is_verifier_syntax(verifier) {
        return Err(TokenError::VerifierSyntax);
    }
    if oauth::s256_challenge(verifier) != authorization.code_challenge {
        return Err(TokenError::VerifierMismatch);
    }
    let now = chrono::Utc::now();
    let claims = IdTokenClaims {
        iss: config.issuer(),
        sub: subject(issued.session.login),
        aud: &config.client_id,
        exp: (now + ID_TOKEN_LIFETIME).timestamp(),
        iat: now.timestamp(),
        auth_time: issued.session.auth_time,
        nonce: authorization.nonce.as_deref(),
        acr: ns::AC_PASSWORD_PROTECTED_TRANSPORT,
    };
    let id_token = config
        .signing_key
        .sign("JWT", &claims)
        .map_err(TokenError::Sign)?;
    let access_token = web::random_token();
    lock(&state.access_tokens).insert(access_token.clone(), issued.session.login);
    lock(&state.redeemed).insert(code.clone(), access_token.clone());
    lock(&state.counters).tokens_issued += 1;
    Ok(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_TTL.as_secs(),
        "id_token": id_token,
        "scope": authorization.scope,
    }))
}

/// `POST /token` (OpenID Connect Core §3.1.3).
async fn token(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    match exchange_code(&state, &headers, &body) {
        Ok(tokens) => (no_store(), Json(tokens)).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "simulated OIDC provider refused a token request");
            let mut response = (
                e.status(),
                no_store(),
                Json(json!({"error": e.code(), "error_description": e.to_string()})),
            )
                .into_response();
            if e.status() == StatusCode::UNAUTHORIZED && headers.contains_key(AUTHORIZATION) {
                response.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static(www_authenticate(state.kind, Challenge::Basic)),
                );
            }
            response
        }
    }
}

/// The userinfo claims of a person at a provider of `kind` (domain
/// reference §2): ÉduConnect's carry the SAML attribute names as JSON
/// claims; the agents' FIM sends the academic `email`, `FrEduRne` (one
/// vector per structure, an array) and `FrEduFonctAdm`, under the names the
/// ARENA headers use.
fn userinfo_claims(kind: IdpKind, person: &Person) -> serde_json::Value {
    let mut claims = json!({
        "sub": subject(person.login),
        "given_name": person.given_name,
        "family_name": person.family_name,
    });
    let Some(map) = claims.as_object_mut() else {
        return claims;
    };
    match (kind, &person.role) {
        (IdpKind::EduConnect, role) => {
            map.insert(
                a::CLAIM_FR_EDU_CT_PERSON_AFFILIATION.to_owned(),
                json!(person.affiliations()),
            );
            map.insert(
                a::CLAIM_FR_EDU_CT_ID.to_owned(),
                json!(person.fr_edu_ct_id()),
            );
            map.insert(
                a::CLAIM_FR_EDU_CT_REF_ID.to_owned(),
                json!(person.fr_edu_ct_ref_ids()),
            );
            if let Role::Pupil(pupil) = role {
                map.insert(a::CLAIM_FR_EDU_CT_ELEVE_UAI.to_owned(), json!(pupil.school));
                map.insert(a::CLAIM_FR_EDU_CT_ELEVE_NIVEAU.to_owned(), json!(pupil.mef));
            }
        }
        (IdpKind::Agents, Role::Staff(staff)) => {
            map.insert(CLAIM_EMAIL.to_owned(), json!(staff.email));
            map.insert(a::FR_EDU_RNE.to_owned(), json!(person.fr_edu_rne()));
            map.insert(
                a::FR_EDU_FONCT_ADM.to_owned(),
                json!(staff.function.as_str()),
            );
        }
        (IdpKind::Agents, Role::Pupil(_) | Role::Parent(_)) => {}
    }
    claims
}

/// `GET|POST /userinfo` with a bearer access token (OpenID Connect Core
/// §5.3, RFC 6750 §3.1).
async fn userinfo(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let Some(token) = token else {
        return (
            StatusCode::UNAUTHORIZED,
            [(
                WWW_AUTHENTICATE,
                www_authenticate(state.kind, Challenge::Bearer),
            )],
        )
            .into_response();
    };
    let person = lock(&state.access_tokens)
        .get_mut(&token)
        .map(|login| *login)
        .and_then(people::by_login);
    let Some(person) = person else {
        return (
            StatusCode::UNAUTHORIZED,
            [(
                WWW_AUTHENTICATE,
                www_authenticate(state.kind, Challenge::InvalidToken),
            )],
        )
            .into_response();
    };
    lock(&state.counters).userinfo_calls += 1;
    (no_store(), Json(userinfo_claims(state.kind, person))).into_response()
}

/// The checks of an RP-initiated logout request; returns where to send the
/// browser afterwards, if anywhere.
fn check_logout(config: &SimOidcOpConfig, raw: &[u8]) -> Result<Option<String>, LogoutError> {
    let params = oauth::single_valued(raw).map_err(LogoutError::Repeated)?;
    if let Some(client_id) = params.get("client_id")
        && *client_id != config.client_id
    {
        return Err(LogoutError::UnknownClient(client_id.clone()));
    }
    if let Some(hint) = params.get("id_token_hint") {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        validation.set_issuer(&[config.issuer()]);
        validation.set_audience(&[&config.client_id]);
        config
            .signing_key
            .decoding_key()
            .and_then(|key| jsonwebtoken::decode::<serde_json::Value>(hint, &key, &validation))
            .map_err(LogoutError::IdTokenHint)?;
    }
    let Some(uri) = params.get("post_logout_redirect_uri") else {
        return Ok(None);
    };
    if !config.post_logout_redirect_uris.contains(uri) {
        return Err(LogoutError::RedirectUri(uri.clone()));
    }
    let mut url = url::Url::parse(uri).map_err(|_| LogoutError::RedirectUri(uri.clone()))?;
    if let Some(client_state) = params.get("state") {
        url.query_pairs_mut().append_pair("state", client_state);
    }
    Ok(Some(url.into()))
}

/// `GET|POST /logout` (RP-Initiated Logout 1.0 §2, §3): ends the OP session
/// of this browser, then redirects to the registered
/// `post_logout_redirect_uri` (with `state`) or shows the logout page.
async fn logout(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawForm(raw): RawForm,
) -> Response {
    let back = match check_logout(&state.config, &raw) {
        Ok(back) => back,
        Err(e) => {
            tracing::warn!(error = %e, "simulated OIDC provider refused a logout request");
            return error_page(state.kind, StatusCode::BAD_REQUEST, &e.to_string());
        }
    };
    if let Some(cookie) = web::read_cookie(&headers, SESSION_COOKIE) {
        lock(&state.sessions).take(&cookie);
    }
    lock(&state.counters).logouts += 1;
    let clear = web::clear_cookie(SESSION_COOKIE, &state.cookie_path);
    match back {
        Some(location) => redirect(location, vec![clear]),
        None => {
            let body = format!(
                "<h1>{}</h1><p role=\"status\">Vous êtes déconnecté {}.</p>",
                escape(state.kind.service_name()),
                escape(after_preposition(state.kind)),
            );
            (
                AppendHeaders([(SET_COOKIE, clear)]),
                page::respond(StatusCode::OK, state.kind.service_name(), &body),
            )
                .into_response()
        }
    }
}

/// The provider's home page: who is logged in here.
async fn home(State(state): State<Shared>, headers: HeaderMap) -> Response {
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
            escape(after_preposition(state.kind)),
        ),
        None => "<p>Vous n’êtes pas connecté.</p>".to_owned(),
    };
    let title = format!("{} — OpenID Connect", state.kind.service_name());
    let body = format!("<h1>{}</h1>{status}", escape(&title));
    page::respond(StatusCode::OK, &title, &body)
}

async fn state_json(State(state): State<Shared>) -> Json<serde_json::Value> {
    let sessions = lock(&state.sessions).live();
    let counters = lock(&state.counters);
    Json(json!({
        "sessions": sessions,
        "tokens_issued": counters.tokens_issued,
        "userinfo_calls": counters.userinfo_calls,
        "logouts": counters.logouts,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_round_trips_through_pem_and_publishes_its_modulus() {
        let key = OidcSigningKey::generate("k1").unwrap();
        let again = OidcSigningKey::from_pem("k1", key.private_key_pem()).unwrap();
        assert_eq!(key.public_jwk(), again.public_jwk());
        assert_eq!(key.kid(), "k1");
        assert!(!format!("{key:?}").contains("PRIVATE"));
        let AlgorithmParameters::RSA(rsa) = &key.public_jwk().algorithm else {
            panic!("not an RSA JWK");
        };
        assert_eq!(URL_SAFE_NO_PAD.decode(&rsa.n).unwrap().len(), 256);
        assert_eq!(rsa.e, "AQAB");
    }

    #[test]
    fn small_and_non_rsa_keys_are_refused() {
        let small = PKey::from_rsa(Rsa::generate(1024).unwrap())
            .unwrap()
            .private_key_to_pem_pkcs8()
            .unwrap();
        assert!(matches!(
            OidcSigningKey::from_pem("k", &small),
            Err(OidcKeyError::RsaTooSmall { bits: 1024 })
        ));
        let ec = openssl::ec::EcKey::generate(
            &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
        )
        .unwrap();
        let ec = PKey::from_ec_key(ec)
            .unwrap()
            .private_key_to_pem_pkcs8()
            .unwrap();
        assert!(matches!(
            OidcSigningKey::from_pem("k", &ec),
            Err(OidcKeyError::NotRsa)
        ));
        assert!(matches!(
            OidcSigningKey::from_pem("k", b"not a key"),
            Err(OidcKeyError::Pem(_))
        ));
    }

    #[test]
    fn pupils_get_their_school_and_level_and_parents_do_not() {
        let louis = userinfo_claims(
            IdpKind::EduConnect,
            people::by_login("eleve.louis").unwrap(),
        );
        assert_eq!(louis["FrEduCtPersonAffiliation"], json!(["eleve2d"]));
        assert_eq!(louis["FrEduCtEleveUAI"], json!(people::COLLEGE_UAI));
        assert_eq!(louis["FrEduCtEleveNiveau"], json!("2111"));
        assert_eq!(louis["FrEduCtRefId"], json!(["{AAF}AC-RENNES||3520001"]));
        let parent = userinfo_claims(
            IdpKind::EduConnect,
            people::by_login(people::PARENT_IN_TWO_ACADEMIES).unwrap(),
        );
        assert!(parent.get("FrEduCtEleveUAI").is_none());
        assert_eq!(parent["FrEduCtRefId"].as_array().unwrap().len(), 2);
        assert_eq!(parent["sub"].as_str().unwrap().len(), 64);
    }

    #[test]
    fn the_agents_provider_sends_fim_claims_for_a_teacher() {
        let blanc = userinfo_claims(IdpKind::Agents, people::by_login("prof.blanc").unwrap());
        assert_eq!(blanc["email"], json!("eric.blanc@ac-rennes.example"));
        assert_eq!(blanc["family_name"], json!("Blanc"));
        assert_eq!(blanc["given_name"], json!("Éric"));
        assert_eq!(blanc["FrEduFonctAdm"], json!("ENS"));
        assert_eq!(blanc["FrEduRne"], json!(["0359991V$UAJ$PU$N$T3$CLG$340"]));
        assert_eq!(blanc["sub"], json!(subject("prof.blanc")));
        for educonnect_only in ["FrEduCtId", "FrEduCtRefId", "FrEduCtPersonAffiliation"] {
            assert!(blanc.get(educonnect_only).is_none(), "{educonnect_only}");
        }
        let dubois = userinfo_claims(IdpKind::Agents, people::by_login("prof.dubois").unwrap());
        assert_eq!(
            dubois["FrEduRne"],
            json!([
                "0359991V$UAJ$PU$N$T3$CLG$340",
                "0359992W$UAJ$PU$N$T3$LYC$300"
            ])
        );
        let fontaine = userinfo_claims(IdpKind::Agents, people::by_login("dir.fontaine").unwrap());
        assert_eq!(fontaine["FrEduFonctAdm"], json!("DIR"));
    }

    #[test]
    fn each_provider_serves_its_own_population_only() {
        assert!(account_of(IdpKind::Agents, "prof.blanc").is_some());
        assert!(account_of(IdpKind::Agents, "eleve.louis").is_none());
        assert!(account_of(IdpKind::EduConnect, "eleve.louis").is_some());
        assert!(account_of(IdpKind::EduConnect, "prof.blanc").is_none());
        assert!(account_of(IdpKind::Agents, "nobody").is_none());
    }

    #[test]
    fn discovery_lists_every_claim_the_userinfo_sends() {
        for kind in [IdpKind::EduConnect, IdpKind::Agents] {
            let supported = claims_supported(kind);
            for person in people::of_idp(kind) {
                let claims = userinfo_claims(kind, person);
                for name in claims.as_object().unwrap().keys() {
                    assert!(
                        supported.contains(&name.as_str()),
                        "{kind:?}: {name} of {} not in claims_supported",
                        person.login
                    );
                }
            }
        }
        assert!(!claims_supported(IdpKind::EduConnect).contains(&"FrEduRne"));
        assert!(!claims_supported(IdpKind::Agents).contains(&"FrEduCtId"));
    }
}
