//! A simulated publisher's resource as an OpenID Connect relying party of the
//! gateway (domain reference §4: resources are brokered with CAS 3.0 or SAML
//! 2.0 today, OIDC planned).
//!
//! The relying party side written out, check by check, each failing with its
//! own named error shown on a French error page:
//! - `/login`: discovery at `<issuer>/.well-known/openid-configuration`, whose
//!   `issuer` must be the configured one (OpenID Connect Discovery 1.0 §4.3),
//!   then an authorization code request with `state`, `nonce` and PKCE `S256`
//!   (OpenID Connect Core 1.0 §3.1.2.1, RFC 7636), bound to the browser;
//! - `/callback`: `state` of a request this browser sent (consumed once),
//!   `iss` equal to the issuer, and required when the provider says it sends
//!   it (RFC 9207 §2.4); token request with `client_secret_basic` (RFC 6749
//!   §2.3.1, §4.1.3); ID token validation (Core §3.1.3.7): signature with a key
//!   of the provider's JWKS, the algorithm pinned to RS256 or ES256, `iss`,
//!   `aud` (and `azp` when there are several audiences), `exp`, `iat`,
//!   `nonce`; then userinfo, whose `sub` must be the ID token's (Core §5.3.2);
//! - `/backchannel`: OpenID Connect Back-Channel Logout 1.0 §2.6: the logout
//!   token's signature, `iss`, `aud`, `iat`, `exp`, the back-channel logout
//!   event, no `nonce`, a `sid` or a `sub`, a `jti` not seen before; the
//!   sessions with that `sid` (or `sub`) end;
//! - `/logout`: ends the local session and sends the browser to the
//!   provider's `end_session_endpoint` (RP-Initiated Logout 1.0 §2).
//!
//! `/state.json` exposes counters for the gateway's end-to-end tests.

use std::str::FromStr as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, RawQuery, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::oauth;
use crate::page::{self, escape};
use crate::web::{self, Expiring, lock, redirect};

/// The only JWS algorithms accepted on ID tokens and logout tokens.
pub const ALLOWED_ALGORITHMS: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];
/// The event a logout token must carry (Back-Channel Logout 1.0 §2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Tolerated clock difference with the provider, in seconds.
const CLOCK_SKEW: i64 = 60;
/// How long a browser's authorization request is remembered.
const FLOW_TTL: Duration = Duration::from_secs(10 * 60);
/// How long a resource session lasts.
const SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);
/// How long a logout token's `jti` is remembered against replay.
const JTI_TTL: Duration = Duration::from_secs(10 * 60);
/// Largest answer read from the provider, in bytes.
const MAX_ANSWER: usize = 256 * 1024;
/// Cookie binding a browser to its authorization requests.
const FLOW_COOKIE: &str = "testbed_rp_flow";
/// Cookie of the resource session.
const SESSION_COOKIE: &str = "testbed_rp_session";

/// Configuration of one simulated OIDC resource.
#[derive(Debug, Clone)]
pub struct SimOidcRpConfig {
    /// Short identifier, e.g. `resource-oidc`.
    pub id: String,
    /// Name shown on the pages.
    pub display_name: String,
    /// Public URL of the simulator's root; routes are relative to its path.
    /// The redirect URI is `{base}/callback`, the back-channel logout URI
    /// `{base}/backchannel`, the post-logout redirect URI `{base}`.
    pub base_url: String,
    /// The gateway's issuer identifier.
    pub issuer: String,
    /// This resource's client id at the gateway.
    pub client_id: String,
    /// Its client secret (sent with `client_secret_basic`).
    pub client_secret: String,
}

impl SimOidcRpConfig {
    fn url(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.base_url.trim_end_matches('/'))
    }
}

/// Why the relying party refused or failed a step.
#[derive(Debug, thiserror::Error)]
pub enum RpError {
    /// A request to the provider failed.
    #[error("{what}: the provider could not be reached: {source}")]
    Http {
        /// Which request.
        what: &'static str,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The provider answered with an unexpected status.
    #[error("{what}: the provider answered with HTTP status {status} {body}")]
    HttpStatus {
        /// Which request.
        what: &'static str,
        /// The status.
        status: u16,
        /// The beginning of the answer.
        body: String,
    },
    /// An answer is not the JSON expected.
    #[error("{what}: the answer is not the expected JSON: {detail}")]
    Json {
        /// Which answer.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// An answer is larger than this resource reads.
    #[error("{0}: the answer is larger than {MAX_ANSWER} bytes")]
    TooLarge(&'static str),
    /// The discovery document names another issuer.
    #[error("discovery: the document's issuer {found:?} is not the configured {expected:?}")]
    DiscoveryIssuer {
        /// What the document says.
        found: String,
        /// The configured issuer.
        expected: String,
    },
    /// A configured or discovered URL is not a URL.
    #[error("the URL {0:?} is not valid")]
    Url(String),
    /// A parameter is repeated.
    #[error("the parameter {0:?} is sent more than once")]
    Repeated(String),
    /// The callback has no `state`, or one this resource did not send.
    #[error(
        "state: {0:?} is not an authorization request in progress (or it was already answered)"
    )]
    UnknownState(Option<String>),
    /// The `state` belongs to another browser.
    #[error("state: the authorization request was sent from another browser")]
    OtherBrowser,
    /// The provider says it sends `iss` and the callback has none.
    #[error("iss: the authorization response has no iss parameter (RFC 9207)")]
    NoIss,
    /// The `iss` parameter is another issuer.
    #[error("iss: the authorization response comes from {found:?}, not from {expected:?}")]
    WrongIss {
        /// The parameter.
        found: String,
        /// The issuer.
        expected: String,
    },
    /// The provider refused the authorization request.
    #[error("the provider refused the authorization: {error} ({description})")]
    Refused {
        /// The `error` code.
        error: String,
        /// The `error_description`.
        description: String,
    },
    /// The callback has no `code`.
    #[error("the authorization response has no code")]
    NoCode,
    /// The token type is not Bearer.
    #[error("token: the token_type {0:?} is not Bearer")]
    TokenType(String),
    /// The JWT header cannot be read.
    #[error("{what}: the JWT header cannot be read: {source}")]
    Header {
        /// Which token.
        what: &'static str,
        /// The jsonwebtoken error.
        #[source]
        source: jsonwebtoken::errors::Error,
    },
    /// The algorithm is not RS256 or ES256.
    #[error("{what}: the algorithm {alg:?} is not allowed (only RS256 and ES256)")]
    Algorithm {
        /// Which token.
        what: &'static str,
        /// The header's algorithm.
        alg: Algorithm,
    },
    /// No key of the JWKS fits the header.
    #[error("{what}: no key of the provider's JWKS fits the header (kid {kid:?}, alg {alg:?})")]
    NoKey {
        /// Which token.
        what: &'static str,
        /// The header's key id.
        kid: Option<String>,
        /// The header's algorithm.
        alg: Algorithm,
    },
    /// The key cannot be used.
    #[error("{what}: the provider's key cannot be used: {source}")]
    Key {
        /// Which token.
        what: &'static str,
        /// The jsonwebtoken error.
        #[source]
        source: jsonwebtoken::errors::Error,
    },
    /// The signature does not verify.
    #[error("{what}: the signature does not verify with the provider's key")]
    Signature {
        /// Which token.
        what: &'static str,
    },
    /// The token is not a well-formed JWT.
    #[error("{what}: the token cannot be read: {source}")]
    Token {
        /// Which token.
        what: &'static str,
        /// The jsonwebtoken or JSON error.
        #[source]
        source: jsonwebtoken::errors::Error,
    },
    /// A required claim is missing or has the wrong type.
    #[error("{what}: the claims are not as required: {detail}")]
    Claims {
        /// Which token.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// `iss` is not the issuer.
    #[error("{what}: iss {found:?} is not the issuer {expected:?}")]
    Issuer {
        /// Which token.
        what: &'static str,
        /// The claim.
        found: String,
        /// The issuer.
        expected: String,
    },
    /// `aud` does not include this client.
    #[error("{what}: aud {found:?} does not include this client {expected:?}")]
    Audience {
        /// Which token.
        what: &'static str,
        /// The claim.
        found: Vec<String>,
        /// The client id.
        expected: String,
    },
    /// `azp` is missing with several audiences, or is another client.
    #[error("{what}: azp {found:?} is not this client {expected:?}")]
    AuthorizedParty {
        /// Which token.
        what: &'static str,
        /// The claim.
        found: Option<String>,
        /// The client id.
        expected: String,
    },
    /// `exp` is past.
    #[error("{what}: the token expired at {exp} (now {now})")]
    Expired {
        /// Which token.
        what: &'static str,
        /// The claim.
        exp: i64,
        /// The current time.
        now: i64,
    },
    /// `iat` is in the future.
    #[error("{what}: the token is issued in the future, at {iat} (now {now})")]
    IssuedInFuture {
        /// Which token.
        what: &'static str,
        /// The claim.
        iat: i64,
        /// The current time.
        now: i64,
    },
    /// `nonce` is not the one sent.
    #[error("ID token: nonce {found:?} is not the one sent with the request")]
    Nonce {
        /// The claim.
        found: Option<String>,
    },
    /// Userinfo is about someone else.
    #[error("userinfo: sub {found:?} is not the ID token's {expected:?}")]
    UserinfoSubject {
        /// Userinfo's `sub`.
        found: Option<String>,
        /// The ID token's `sub`.
        expected: String,
    },
    /// The back-channel request has no `logout_token`.
    #[error("the request has no logout_token")]
    NoLogoutToken,
    /// The logout token lacks the back-channel logout event.
    #[error("logout token: events does not hold {BACKCHANNEL_LOGOUT_EVENT} with an object value")]
    NoLogoutEvent,
    /// The logout token has a nonce.
    #[error("logout token: it has a nonce, which a logout token must not have")]
    LogoutNonce,
    /// The logout token names neither a session nor a subject.
    #[error("logout token: it has neither sid nor sub")]
    NoSidNorSub,
    /// The logout token was already received.
    #[error("logout token: jti {0:?} was already received")]
    Replayed(String),
}

/// What this client expects of the tokens it receives.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// The issuer.
    pub issuer: &'a str,
    /// This client's id.
    pub client_id: &'a str,
    /// The current time, seconds since the epoch.
    pub now: i64,
}

/// `aud`: one string or an array.
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// The claims every token checked here has.
#[derive(Deserialize)]
struct Registered {
    iss: String,
    aud: Audience,
    exp: i64,
    iat: i64,
    azp: Option<String>,
    nonce: Option<String>,
    sub: Option<String>,
    sid: Option<String>,
}

/// A verified ID token.
#[derive(Debug, Clone, PartialEq)]
pub struct IdToken {
    /// `sub`.
    pub sub: String,
    /// `sid`, if the provider sent one.
    pub sid: Option<String>,
    /// Every claim.
    pub claims: Map<String, Value>,
}

/// A verified logout token: the session or subject to log out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutToken {
    /// `sid`.
    pub sid: Option<String>,
    /// `sub`.
    pub sub: Option<String>,
    /// `jti`.
    pub jti: String,
}

/// The key of `jwks` that verifies a token with this header: the one with
/// the header's `kid`, or, without `kid`, the only key of the algorithm's type.
fn select_key<'a>(jwks: &'a JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<&'a Jwk> {
    let fits = |jwk: &&Jwk| {
        let type_fits = match jwk.algorithm {
            AlgorithmParameters::RSA(_) => alg == Algorithm::RS256,
            AlgorithmParameters::EllipticCurve(_) => alg == Algorithm::ES256,
            _ => false,
        };
        let alg_fits = jwk
            .common
            .key_algorithm
            .is_none_or(|declared| Algorithm::from_str(&declared.to_string()).ok() == Some(alg));
        type_fits && alg_fits
    };
    match kid {
        Some(kid) => jwks.find(kid).filter(|jwk| fits(jwk)),
        None => {
            let mut candidates = jwks.keys.iter().filter(fits);
            match (candidates.next(), candidates.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            }
        }
    }
}

/// Verifies the signature of a JWT with the provider's JWKS, the algorithm
/// pinned to [`ALLOWED_ALGORITHMS`], and returns its claims. Time and
/// audience are checked by the callers, each with its own error.
fn verify_signature<T: DeserializeOwned>(
    what: &'static str,
    token: &str,
    jwks: &JwkSet,
) -> Result<T, RpError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|source| RpError::Header { what, source })?;
    if !ALLOWED_ALGORITHMS.contains(&header.alg) {
        return Err(RpError::Algorithm {
            what,
            alg: header.alg,
        });
    }
    let jwk = select_key(jwks, header.kid.as_deref(), header.alg).ok_or(RpError::NoKey {
        what,
        kid: header.kid.clone(),
        alg: header.alg,
    })?;
    let key = DecodingKey::from_jwk(jwk).map_err(|source| RpError::Key { what, source })?;
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<T>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|source| match source.kind() {
            ErrorKind::InvalidSignature => RpError::Signature { what },
            _ => RpError::Token { what, source },
        })
}

/// Issuer, audience, authorized party, expiry and issue time of verified claims.
fn check_registered(
    what: &'static str,
    claims: &Registered,
    expected: &Expected<'_>,
) -> Result<(), RpError> {
    if claims.iss != expected.issuer {
        return Err(RpError::Issuer {
            what,
            found: claims.iss.clone(),
            expected: expected.issuer.to_owned(),
        });
    }
    let audiences = match &claims.aud {
        Audience::One(a) => vec![a.clone()],
        Audience::Many(a) => a.clone(),
    };
    if !audiences.iter().any(|a| a == expected.client_id) {
        return Err(RpError::Audience {
            what,
            found: audiences,
            expected: expected.client_id.to_owned(),
        });
    }
    let azp_needed = audiences.len() > 1;
    match &claims.azp {
        Some(azp) if azp != expected.client_id => {
            return Err(RpError::AuthorizedParty {
                what,
                found: Some(azp.clone()),
                expected: expected.client_id.to_owned(),
            });
        }
        None if azp_needed => {
            return Err(RpError::AuthorizedParty {
                what,
                found: None,
                expected: expected.client_id.to_owned(),
            });
        }
        _ => {}
    }
    if claims.exp <= expected.now - CLOCK_SKEW {
        return Err(RpError::Expired {
            what,
            exp: claims.exp,
            now: expected.now,
        });
    }
    if claims.iat > expected.now + CLOCK_SKEW {
        return Err(RpError::IssuedInFuture {
            what,
            iat: claims.iat,
            now: expected.now,
        });
    }
    Ok(())
}

fn registered(what: &'static str, claims: &Map<String, Value>) -> Result<Registered, RpError> {
    serde_json::from_value(Value::Object(claims.clone())).map_err(|e| RpError::Claims {
        what,
        detail: e.to_string(),
    })
}

/// Validates an ID token (OpenID Connect Core §3.1.3.7): signature with the
/// provider's JWKS (RS256 or ES256), `iss`, `aud`, `azp`, `exp`, `iat`, then
/// `nonce` equal to the one sent.
pub fn check_id_token(
    token: &str,
    jwks: &JwkSet,
    expected: &Expected<'_>,
    nonce: &str,
) -> Result<IdToken, RpError> {
    const WHAT: &str = "ID token";
    let claims: Map<String, Value> = verify_signature(WHAT, token, jwks)?;
    let reg = registered(WHAT, &claims)?;
    check_registered(WHAT, &reg, expected)?;
    if reg.nonce.as_deref() != Some(nonce) {
        return Err(RpError::Nonce { found: reg.nonce });
    }
    let sub = reg.sub.ok_or(RpError::Claims {
        what: WHAT,
        detail: "missing field `sub`".to_owned(),
    })?;
    Ok(IdToken {
        sub,
        sid: reg.sid,
        claims,
    })
}

/// Validates a logout token (Back-Channel Logout 1.0 §2.6): signature with the
/// provider's JWKS (RS256 or ES256), `iss`, `aud`, `azp`, `exp`, `iat`, the
/// back-channel logout event, no `nonce`, `sid` or `sub`, and a `jti`. The
/// caller checks that the `jti` is new.
pub fn check_logout_token(
    token: &str,
    jwks: &JwkSet,
    expected: &Expected<'_>,
) -> Result<LogoutToken, RpError> {
    const WHAT: &str = "logout token";
    let claims: Map<String, Value> = verify_signature(WHAT, token, jwks)?;
    let reg = registered(WHAT, &claims)?;
    check_registered(WHAT, &reg, expected)?;
    let has_event = claims
        .get("events")
        .and_then(|events| events.get(BACKCHANNEL_LOGOUT_EVENT))
        .is_some_and(Value::is_object);
    if !has_event {
        return Err(RpError::NoLogoutEvent);
    }
    if reg.nonce.is_some() {
        return Err(RpError::LogoutNonce);
    }
    if reg.sid.is_none() && reg.sub.is_none() {
        return Err(RpError::NoSidNorSub);
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .ok_or(RpError::Claims {
            what: WHAT,
            detail: "missing string `jti`".to_owned(),
        })?;
    Ok(LogoutToken {
        sid: reg.sid,
        sub: reg.sub,
        jti: jti.to_owned(),
    })
}

/// What this relying party reads from the discovery document.
#[derive(Debug, Clone, Deserialize)]
struct ProviderMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: Option<String>,
    jwks_uri: String,
    end_session_endpoint: Option<String>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    token_type: String,
    id_token: String,
}

/// An authorization request in flight.
struct Flow {
    browser: String,
    nonce: String,
    verifier: String,
    provider: ProviderMetadata,
}

/// A browser logged in at the resource.
#[derive(Clone)]
struct RpSession {
    sub: String,
    sid: Option<String>,
    id_token: String,
    id_claims: Map<String, Value>,
    userinfo: Map<String, Value>,
}

#[derive(Default)]
struct Counters {
    logins: u64,
    logouts_received: u64,
    /// `sub` of the last login.
    last_user: Option<String>,
    /// Userinfo's claims of the last login (the ID token's without userinfo).
    last_attributes: Map<String, Value>,
}

struct RpState {
    config: SimOidcRpConfig,
    cookie_path: String,
    flows: Mutex<Expiring<Flow>>,
    sessions: Mutex<Expiring<RpSession>>,
    seen_jti: Mutex<Expiring<()>>,
    counters: Mutex<Counters>,
    http: reqwest::Client,
}

type Shared = Arc<RpState>;

/// The simulated OIDC resource's routes, relative to `base_url`'s path (the
/// caller nests the router there): `GET /` (home), `GET /login`,
/// `GET /callback`, `GET /logout`, `POST /backchannel`, `GET /state.json`.
pub fn sim_oidc_rp_router(config: SimOidcRpConfig) -> Router {
    let state = Arc::new(RpState {
        cookie_path: web::cookie_path(&config.base_url),
        config,
        flows: Mutex::new(Expiring::new(FLOW_TTL)),
        sessions: Mutex::new(Expiring::new(SESSION_TTL)),
        seen_jti: Mutex::new(Expiring::new(JTI_TTL)),
        counters: Mutex::new(Counters::default()),
        http: web::back_channel_client(),
    });
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/logout", get(logout))
        .route("/backchannel", post(backchannel))
        .route("/state.json", get(state_json))
        .with_state(state)
}

fn service_name(config: &SimOidcRpConfig) -> String {
    format!("{} (simulation, OpenID Connect)", config.display_name)
}

fn refuse(state: &RpState, err: &RpError) -> Response {
    tracing::warn!(resource = %state.config.id, error = %err, "simulated OIDC resource refused a step");
    let status = match err {
        RpError::Http { .. }
        | RpError::HttpStatus { .. }
        | RpError::Json { .. }
        | RpError::TooLarge(_)
        | RpError::DiscoveryIssuer { .. } => StatusCode::BAD_GATEWAY,
        _ => StatusCode::BAD_REQUEST,
    };
    page::error(status, &service_name(&state.config), &err.to_string())
}

/// Reads a JSON answer of at most [`MAX_ANSWER`] bytes with status 200.
async fn json_answer<T: DeserializeOwned>(
    what: &'static str,
    request: reqwest::RequestBuilder,
) -> Result<T, RpError> {
    let response = request
        .send()
        .await
        .map_err(|source| RpError::Http { what, source })?;
    let status = response.status();
    if response
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER as u64)
    {
        return Err(RpError::TooLarge(what));
    }
    let body = response
        .bytes()
        .await
        .map_err(|source| RpError::Http { what, source })?;
    if body.len() > MAX_ANSWER {
        return Err(RpError::TooLarge(what));
    }
    if status != reqwest::StatusCode::OK {
        return Err(RpError::HttpStatus {
            what,
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body).chars().take(200).collect(),
        });
    }
    serde_json::from_slice(&body).map_err(|e| RpError::Json {
        what,
        detail: e.to_string(),
    })
}

/// Discovery, and the issuer check of OpenID Connect Discovery 1.0 §4.3.
async fn discover(state: &RpState) -> Result<ProviderMetadata, RpError> {
    let issuer = &state.config.issuer;
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let metadata: ProviderMetadata = json_answer("discovery", state.http.get(url)).await?;
    if metadata.issuer != *issuer {
        return Err(RpError::DiscoveryIssuer {
            found: metadata.issuer,
            expected: issuer.clone(),
        });
    }
    Ok(metadata)
}

async fn fetch_jwks(state: &RpState, provider: &ProviderMetadata) -> Result<JwkSet, RpError> {
    json_answer("JWKS", state.http.get(&provider.jwks_uri)).await
}

/// `GET /login`: discovery, then the authorization request.
async fn login(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let provider = match discover(&state).await {
        Ok(p) => p,
        Err(e) => return refuse(&state, &e),
    };
    let config = &state.config;
    let client_state = web::random_token();
    let nonce = web::random_token();
    let verifier = web::random_token();
    let params = [
        ("response_type", "code"),
        ("client_id", config.client_id.as_str()),
        ("redirect_uri", &config.url("/callback")),
        ("scope", "openid profile"),
        ("state", &client_state),
        ("nonce", &nonce),
        ("code_challenge", &oauth::s256_challenge(&verifier)),
        ("code_challenge_method", "S256"),
    ];
    let Ok(location) = url::Url::parse_with_params(&provider.authorization_endpoint, params) else {
        return refuse(&state, &RpError::Url(provider.authorization_endpoint));
    };
    let (browser, cookie) = match web::read_cookie(&headers, FLOW_COOKIE) {
        Some(key) => (key, None),
        None => {
            let key = web::random_token();
            let cookie = web::set_cookie(FLOW_COOKIE, &key, &state.cookie_path);
            (key, Some(cookie))
        }
    };
    lock(&state.flows).insert(
        client_state,
        Flow {
            browser,
            nonce,
            verifier,
            provider,
        },
    );
    redirect(location.into(), cookie.into_iter().collect())
}

/// The callback's checks, in order, then the token request, the ID token's
/// validation and userinfo.
async fn complete_login(
    state: &RpState,
    headers: &HeaderMap,
    query: &[u8],
) -> Result<RpSession, RpError> {
    let config = &state.config;
    let params = oauth::single_valued(query).map_err(|e| RpError::Repeated(e.0))?;
    let client_state = params.get("state").cloned();
    let flow = client_state
        .as_deref()
        .and_then(|s| lock(&state.flows).take(s))
        .ok_or_else(|| RpError::UnknownState(client_state.clone()))?;
    if web::read_cookie(headers, FLOW_COOKIE).as_deref() != Some(flow.browser.as_str()) {
        return Err(RpError::OtherBrowser);
    }
    let provider = &flow.provider;
    match params.get("iss") {
        Some(iss) if *iss != provider.issuer => {
            return Err(RpError::WrongIss {
                found: iss.clone(),
                expected: provider.issuer.clone(),
            });
        }
        None if provider.authorization_response_iss_parameter_supported => {
            return Err(RpError::NoIss);
        }
        _ => {}
    }
    if let Some(error) = params.get("error") {
        return Err(RpError::Refused {
            error: error.clone(),
            description: params.get("error_description").cloned().unwrap_or_default(),
        });
    }
    let code = params.get("code").ok_or(RpError::NoCode)?;
    let credentials = format!(
        "{}:{}",
        oauth::form_encode(&config.client_id),
        oauth::form_encode(&config.client_secret)
    );
    let tokens: TokenResponse = json_answer(
        "token",
        state
            .http
            .post(&provider.token_endpoint)
            .header(
                reqwest::header::AUTHORIZATION,
                format!("Basic {}", STANDARD.encode(credentials)),
            )
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", &config.url("/callback")),
                ("code_verifier", &flow.verifier),
            ]),
    )
    .await?;
    if !tokens.token_type.eq_ignore_ascii_case("bearer") {
        return Err(RpError::TokenType(tokens.token_type));
    }
    let jwks = fetch_jwks(state, provider).await?;
    let expected = Expected {
        issuer: &provider.issuer,
        client_id: &config.client_id,
        now: chrono::Utc::now().timestamp(),
    };
    let id_token = check_id_token(&tokens.id_token, &jwks, &expected, &flow.nonce)?;
    let userinfo = match &provider.userinfo_endpoint {
        Some(endpoint) => {
            let claims: Map<String, Value> = json_answer(
                "userinfo",
                state.http.get(endpoint).bearer_auth(&tokens.access_token),
            )
            .await?;
            let sub = claims.get("sub").and_then(Value::as_str);
            if sub != Some(id_token.sub.as_str()) {
                return Err(RpError::UserinfoSubject {
                    found: sub.map(str::to_owned),
                    expected: id_token.sub,
                });
            }
            claims
        }
        None => Map::new(),
    };
    Ok(RpSession {
        sub: id_token.sub,
        sid: id_token.sid,
        id_token: tokens.id_token,
        id_claims: id_token.claims,
        userinfo,
    })
}

/// `GET /callback`: the authorization response.
async fn callback(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let started = std::time::Instant::now();
    let result = complete_login(&state, &headers, query.unwrap_or_default().as_bytes()).await;
    let took = started.elapsed();
    let response = match result {
        Ok(session) => {
            {
                let mut counters = lock(&state.counters);
                counters.logins += 1;
                counters.last_user = Some(session.sub.clone());
                counters.last_attributes = if session.userinfo.is_empty() {
                    session.id_claims.clone()
                } else {
                    session.userinfo.clone()
                };
            }
            let id = web::random_token();
            let cookie = web::set_cookie(SESSION_COOKIE, &id, &state.cookie_path);
            lock(&state.sessions).insert(id, session);
            redirect(state.config.url(""), vec![cookie])
        }
        Err(e) => refuse(&state, &e),
    };
    web::with_gateway_timing(
        response,
        "POST /oidc/token + GET /oidc/jwks + GET /oidc/userinfo",
        took,
    )
}

/// A claim's value as text: strings as they are, arrays one value per item.
fn claim_values(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(claim_values).collect(),
        other => vec![other.to_string()],
    }
}

fn claims_table(caption: &str, claims: &Map<String, Value>) -> String {
    let mut table = format!(
        "<table><caption>{}</caption><tr><th scope=\"col\">Nom</th><th scope=\"col\">Valeurs</th></tr>",
        escape(caption)
    );
    for (name, value) in claims {
        let values: String = claim_values(value)
            .iter()
            .map(|v| format!("<li>{}</li>", escape(v)))
            .collect();
        table.push_str(&format!(
            "<tr><td>{}</td><td><ul>{values}</ul></td></tr>",
            escape(name)
        ));
    }
    table.push_str("</table>");
    table
}

/// The home page: `sub` and every claim received, or a link to log in.
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
    let body = format!(
        "<h1>{}</h1><p><strong>Connecté.</strong> Voici exactement ce que la passerelle a transmis.</p>\
<h2>Sujet</h2><table><caption>Identifiant</caption><tr><th scope=\"row\">sub</th><td>{}</td></tr></table>\
<h2>Jeton d’identité</h2>{}<h2>Userinfo</h2>{}<p><a href=\"{}\">Se déconnecter</a></p>",
        escape(&title),
        escape(&session.sub),
        claims_table("Revendications du jeton d’identité", &session.id_claims),
        claims_table("Revendications de userinfo", &session.userinfo),
        escape(&config.url("/logout")),
    );
    page::respond(StatusCode::OK, &title, &body)
}

/// `GET /logout`: ends the local session, then sends the browser to the
/// provider's `end_session_endpoint` with the ID token as hint and this
/// resource's home as `post_logout_redirect_uri`.
async fn logout(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let config = &state.config;
    let session =
        web::read_cookie(&headers, SESSION_COOKIE).and_then(|c| lock(&state.sessions).take(&c));
    let clear = web::clear_cookie(SESSION_COOKIE, &state.cookie_path);
    let Some(session) = session else {
        return redirect(config.url(""), vec![clear]);
    };
    let provider = match discover(&state).await {
        Ok(p) => p,
        Err(e) => return refuse(&state, &e),
    };
    let Some(endpoint) = provider.end_session_endpoint else {
        return redirect(config.url(""), vec![clear]);
    };
    let params = [
        ("id_token_hint", session.id_token.as_str()),
        ("post_logout_redirect_uri", &config.url("")),
        ("client_id", &config.client_id),
    ];
    match url::Url::parse_with_params(&endpoint, params) {
        Ok(url) => redirect(url.into(), vec![clear]),
        Err(_) => refuse(&state, &RpError::Url(endpoint)),
    }
}

#[derive(Deserialize)]
struct BackchannelForm {
    logout_token: Option<String>,
}

/// The back-channel checks: discovery and JWKS, the logout token, its `jti`
/// never seen; returns how many sessions ended.
async fn back_channel_logout(state: &RpState, token: Option<String>) -> Result<usize, RpError> {
    let token = token.ok_or(RpError::NoLogoutToken)?;
    let provider = discover(state).await?;
    let jwks = fetch_jwks(state, &provider).await?;
    let expected = Expected {
        issuer: &provider.issuer,
        client_id: &state.config.client_id,
        now: chrono::Utc::now().timestamp(),
    };
    let logout = check_logout_token(&token, &jwks, &expected)?;
    {
        let mut seen = lock(&state.seen_jti);
        if seen.get_mut(&logout.jti).is_some() {
            return Err(RpError::Replayed(logout.jti));
        }
        seen.insert(logout.jti.clone(), ());
    }
    let ended = lock(&state.sessions).remove_where(|s| match (&logout.sid, &logout.sub) {
        (Some(sid), sub) => {
            s.sid.as_ref() == Some(sid) && sub.as_ref().is_none_or(|sub| *sub == s.sub)
        }
        (None, Some(sub)) => s.sub == *sub,
        (None, None) => false,
    });
    lock(&state.counters).logouts_received += 1;
    Ok(ended)
}

/// `POST /backchannel` (Back-Channel Logout 1.0 §2.5, §2.8).
async fn backchannel(State(state): State<Shared>, Form(form): Form<BackchannelForm>) -> Response {
    let headers = [(CACHE_CONTROL, "no-store")];
    match back_channel_logout(&state, form.logout_token).await {
        Ok(ended) => {
            tracing::info!(resource = %state.config.id, sessions_ended = ended, "back-channel logout accepted");
            (StatusCode::OK, headers).into_response()
        }
        Err(e) => {
            tracing::warn!(resource = %state.config.id, error = %e, "back-channel logout refused");
            (
                StatusCode::BAD_REQUEST,
                headers,
                Json(json!({"error": "invalid_request", "error_description": e.to_string()})),
            )
                .into_response()
        }
    }
}

async fn state_json(State(state): State<Shared>) -> Json<Value> {
    let sessions = lock(&state.sessions).live();
    let counters = lock(&state.counters);
    Json(json!({
        "sessions": sessions,
        "logins": counters.logins,
        "logouts_received": counters.logouts_received,
        "last_user": counters.last_user,
        "last_attributes": counters.last_attributes,
    }))
}
