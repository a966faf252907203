//! The gateway as an OpenID Connect relying party of an upstream provider
//! (OpenID Connect Core 1.0 §3.1, authorization code flow), with PKCE S256
//! (RFC 7636), the `iss` authorization response parameter (RFC 9207) and the
//! JWT best current practices (RFC 8725).
//!
//! The provider's discovery document (OpenID Connect Discovery 1.0 §4) is
//! fetched once at start-up, its issuer compared exactly with the configured
//! one; its key set (JWKS) is fetched at start-up and again when an ID token
//! names an unknown `kid`, at most once per `jwks_min_refresh_seconds`. The
//! last good copy of both is kept on disk for a cold start while the provider
//! is down.
//!
//! [`OidcConnector::complete`] is the whole acceptance sequence of a callback,
//! one readable list of checks, each failing with its own [`OidcError`]
//! variant:
//!
//! 1. the pending login belongs to this provider;
//! 2. the provider's `error` parameter (Core §3.1.2.6);
//! 3. `state` equals the browser's (constant time);
//! 4. the `iss` parameter: required when the provider advertises
//!    `authorization_response_iss_parameter_supported`, and equal to the
//!    issuer whenever present (RFC 9207 §2.4, the mix-up defence);
//! 5. the token request with the PKCE verifier and the configured client
//!    authentication (Core §3.1.3.1–§3.1.3.4);
//! 6. the ID token (Core §3.1.3.7): `alg` among the pinned algorithms (so
//!    `none` and HMAC are always refused), `crit` refused, the key found by
//!    `kid` in the provider's JWKS only (`jku`, `x5u`, `x5c` and `jwk` headers
//!    are never read), signature, `iss`, `aud`, `azp`, `exp` and `iat` with a
//!    60 s skew, `nonce` (constant time), `sub`;
//! 7. userinfo (Core §5.3), when enabled and advertised: its `sub` must equal
//!    the ID token's (§5.3.2); its claims are merged over the ID token's;
//! 8. attribute mapping to the canonical identity (`acr` becomes the
//!    authentication context, `auth_time` the authentication instant).
//!
//! The authentication request may carry `prompt=login` and `acr_values`
//! (Core §3.1.2.1) for what the downstream service asked
//! ([`OidcConnector::authorization_request_for`]); an accepted login keeps
//! its ID token, the `id_token_hint` of the RP-initiated logout
//! ([`OidcConnector::logout_url`], RP-Initiated Logout 1.0 §2) at the
//! provider's `end_session_endpoint`.
//!
//! HTTP to the provider goes through the caller's `reqwest` client (built
//! without redirects, see [`http_client`]) and the provider's
//! [`UpstreamGuard`] (`resilience` table: timeouts, bulkhead, circuit
//! breaker; [`OidcError::ProviderUnavailable`] when the provider is down,
//! slow or its breaker open) with a bounded response size; the token request is made by the `openidconnect` crate
//! through its asynchronous client interface. Every signature is checked
//! here with `jsonwebtoken` (aws-lc): `openidconnect` is never given keys.
//! Tokens, codes, secrets and claim values are never logged.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::Jwk;
use openidconnect::core::{CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreJsonWebKeySet};
use openidconnect::{
    AuthType, AuthenticationContextClass, AuthorizationCode, ClientId, CsrfToken, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError,
    Scope, TokenResponse, UserInfoUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sso_core::Identity;
use subtle::ConstantTimeEq;

use crate::config::{OidcIdpConfig, SigningAlgorithm, TokenAuthMethod};
use crate::mapping::{MapError, Mapping, UpstreamAttributes};
use crate::resilience::UpstreamGuard;

mod provider;

pub use provider::http_client;
use provider::{
    Documents, KeySet, Provider, RpClient, TokenHttp, execute, fetch_documents, fetch_json,
    jose_algorithm, validate_documents,
};

/// Tolerated clock difference with the provider, in seconds.
const CLOCK_SKEW_SECONDS: i64 = 60;
/// Random bytes in `state` and `nonce` (256 bits).
const RANDOM_BYTES: u32 = 32;
/// Longest header value (`alg`, `kid`) repeated in an error message.
const MAX_ECHOED_CHARS: usize = 64;

/// The client secret shared with the provider. It never appears in `Debug`.
#[derive(Clone)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// The secret, as read from `client_secret_file`; surrounding whitespace
    /// (the file's final newline) is removed.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into().trim().to_owned())
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// What the gateway keeps between the redirect to the provider and the
/// callback, single-use and bound to the browser.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingAuth {
    /// The connector that started the login.
    pub idp: String,
    /// The `state` sent (256 random bits).
    pub state: String,
    /// The `nonce` sent (256 random bits).
    pub nonce: String,
    /// The PKCE code verifier (32 random bytes).
    pub pkce_verifier: String,
    /// When the request was built (seconds since the Unix epoch).
    pub created_at: i64,
}

impl std::fmt::Debug for PendingAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingAuth")
            .field("idp", &self.idp)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// The query parameters of the callback (Core §3.1.2.5, §3.1.2.6; RFC 9207).
#[derive(Clone, Default, Deserialize)]
pub struct CallbackParams {
    /// The authorization code.
    pub code: Option<String>,
    /// The `state` echoed by the provider.
    pub state: Option<String>,
    /// The provider's issuer identifier (RFC 9207).
    pub iss: Option<String>,
    /// An error code from the provider.
    pub error: Option<String>,
    /// The provider's description of the error.
    pub error_description: Option<String>,
}

impl std::fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackParams")
            .field("iss", &self.iss)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// What the downstream request asks of the upstream login.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthOptions<'a> {
    /// The service asked for a fresh login (SAML ForceAuthn): `prompt=login`.
    pub force_login: bool,
    /// Authentication context classes the service requires: `acr_values`.
    pub acr_values: &'a [String],
}

/// An accepted callback: the mapped identity and the raw ID token.
#[derive(Clone)]
pub struct OidcLogin {
    /// The person, mapped to the canonical identity.
    pub identity: Identity,
    /// The ID token as received (its signature verified), for `id_token_hint`.
    pub id_token: String,
}

impl std::fmt::Debug for OidcLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcLogin")
            .field("idp", &self.identity.idp)
            .finish_non_exhaustive()
    }
}

/// Why a connector cannot start.
#[derive(Debug, thiserror::Error)]
pub enum OidcSetupError {
    /// `algorithms` is empty.
    #[error("`algorithms` must pin at least one of RS256, PS256, ES256")]
    NoAlgorithms,
    /// `redirect_uri` is not a URL.
    #[error("`redirect_uri` {uri:?} is not a valid URL: {reason}")]
    RedirectUri {
        /// The value configured.
        uri: String,
        /// The parser's reason.
        reason: String,
    },
    /// A document could not be fetched.
    #[error("cannot fetch {url}: {reason}")]
    Fetch {
        /// The URL.
        url: String,
        /// The reason.
        reason: String,
    },
    /// The discovery document is not valid provider metadata.
    #[error("invalid discovery document from {source_name}: {reason}")]
    InvalidDiscovery {
        /// Where it came from (URL or cache file).
        source_name: String,
        /// The reason.
        reason: String,
    },
    /// The discovery document names another issuer (Discovery §4.3).
    #[error(
        "the discovery document from {source_name} names issuer {found:?}, not the configured {expected:?}"
    )]
    IssuerMismatch {
        /// Where it came from.
        source_name: String,
        /// Configured.
        expected: String,
        /// Found in the document.
        found: String,
    },
    /// The key set is not a JWKS.
    #[error("invalid JWKS from {source_name}: {reason}")]
    InvalidJwks {
        /// Where it came from.
        source_name: String,
        /// The reason.
        reason: String,
    },
    /// The provider is unreachable or refused, and the copy on disk is unusable.
    #[error("{fetch}; the cached copy {path} is unusable too: {cache}")]
    Unavailable {
        /// Why the provider's documents were not loaded.
        fetch: Box<OidcSetupError>,
        /// The cache file.
        path: PathBuf,
        /// Why the cached copy was not loaded.
        cache: String,
    },
}

/// Why a callback is refused. Each variant is one check of the sequence.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The pending login was started by another connector.
    #[error("the pending login belongs to IdP {found:?}, not {expected:?}")]
    PendingForAnotherIdp {
        /// This connector.
        expected: String,
        /// The pending login's.
        found: String,
    },
    /// The provider answered with an error (Core §3.1.2.6).
    #[error("the provider answered with error {error:?} ({description:?})")]
    ProviderError {
        /// The error code.
        error: String,
        /// The provider's description.
        description: Option<String>,
    },
    /// No `state` in the callback.
    #[error("the callback carries no state")]
    StateMissing,
    /// `state` differs from the browser's.
    #[error("the callback's state is not this browser's")]
    StateMismatch,
    /// The provider advertises the `iss` parameter and the callback lacks it (RFC 9207 §2.4).
    #[error("the callback carries no iss parameter, which this provider always sends")]
    IssParameterMissing,
    /// The `iss` parameter names another provider (mix-up attack, RFC 9207 §2.4).
    #[error("the callback's iss parameter {found:?} is not this provider")]
    IssParameterMismatch {
        /// The value received.
        found: String,
    },
    /// No authorization code in the callback.
    #[error("the callback carries no authorization code")]
    CodeMissing,
    /// The token request could not be built.
    #[error("token request failed: {0}")]
    TokenRequest(String),
    /// The provider is down, too slow, or its circuit breaker or bulkhead
    /// refused the call (token or userinfo request).
    #[error("the provider is unavailable for the {call} call: {reason}")]
    ProviderUnavailable {
        /// `token` or `userinfo`.
        call: &'static str,
        /// Why.
        reason: String,
    },
    /// The token endpoint refused the code (Core §3.1.3.4).
    #[error("the token endpoint answered {error:?} ({description:?})")]
    TokenEndpointError {
        /// The error code.
        error: String,
        /// The provider's description.
        description: Option<String>,
    },
    /// The token response is not a valid token response.
    #[error("invalid token response: {0}")]
    TokenResponse(String),
    /// The token response holds no ID token.
    #[error("the token response holds no ID token")]
    NoIdToken,
    /// The ID token is not a well-formed JWS.
    #[error("malformed ID token: {0}")]
    IdTokenMalformed(&'static str),
    /// The JOSE header's `alg` is not pinned (`none`, HMAC, another algorithm).
    #[error("ID token algorithm {alg:?} is not among the pinned algorithms")]
    AlgorithmNotAllowed {
        /// The `alg` of the header.
        alg: String,
    },
    /// The JOSE header names critical extensions, none of which is understood (RFC 7515 §4.1.11).
    #[error("the ID token's header carries `crit`")]
    CriticalHeader,
    /// No `kid` while several keys of the provider fit the algorithm.
    #[error("the ID token has no kid and several keys of the provider fit its algorithm")]
    KeyIdRequired,
    /// The key named by `kid` is not in the provider's key set, even after a refresh.
    #[error("signing key {kid:?} is not in the provider's key set")]
    UnknownKey {
        /// The `kid` of the header.
        kid: Option<String>,
    },
    /// The signature does not verify with the provider's key.
    #[error("ID token signature refused: {0}")]
    Signature(String),
    /// `iss` is not the provider's issuer.
    #[error("the ID token's iss is not the provider's issuer")]
    IssuerMismatch,
    /// `aud` does not contain the client id.
    #[error("the ID token's aud does not contain this client")]
    AudienceMismatch,
    /// Several audiences and no `azp`.
    #[error("the ID token has several audiences and no azp")]
    AuthorizedPartyMissing,
    /// `azp` is not the client id.
    #[error("the ID token's azp is not this client")]
    AuthorizedPartyMismatch,
    /// A required claim is absent or of the wrong type.
    #[error("the ID token has no valid {0:?} claim")]
    MissingClaim(&'static str),
    /// `exp` is past.
    #[error("the ID token has expired")]
    Expired,
    /// `iat` is in the future.
    #[error("the ID token is issued in the future")]
    IssuedInFuture,
    /// No `nonce`.
    #[error("the ID token carries no nonce")]
    NonceMissing,
    /// `nonce` differs from the browser's.
    #[error("the ID token's nonce is not this browser's")]
    NonceMismatch,
    /// The userinfo request could not be built, or its answer was too large.
    #[error("userinfo request failed: {0}")]
    UserinfoRequest(String),
    /// The userinfo response is not a JSON object of claims.
    #[error("invalid userinfo response: {0}")]
    UserinfoResponse(String),
    /// The userinfo `sub` differs from the ID token's (Core §5.3.2).
    #[error("the userinfo sub is not the ID token's sub")]
    UserinfoSubjectMismatch,
    /// The mapping found no subject.
    #[error("attribute mapping failed: {0}")]
    Mapping(#[from] MapError),
}

/// An upstream OpenID Connect provider.
pub struct OidcConnector {
    config: OidcIdpConfig,
    mapping: Mapping,
    secret: ClientSecret,
    http: reqwest::Client,
    redirect_uri: RedirectUrl,
    provider: Provider,
    discovery: Value,
    keys: RwLock<Arc<KeySet>>,
    last_key_refresh: Mutex<Option<Instant>>,
    guard: Arc<UpstreamGuard>,
}

impl std::fmt::Debug for OidcConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConnector")
            .field("id", self.config.id.get_ref())
            .field("issuer", self.config.issuer.get_ref())
            .field("client_id", self.config.client_id.get_ref())
            .finish_non_exhaustive()
    }
}

impl OidcConnector {
    /// Fetches the provider's discovery document (whose issuer must equal the
    /// configured one exactly) and key set. When the provider cannot be used,
    /// the copy kept in `cache_file` is, if any.
    pub async fn new(
        config: OidcIdpConfig,
        mapping: Mapping,
        secret: ClientSecret,
        http: reqwest::Client,
    ) -> Result<Self, OidcSetupError> {
        if config.algorithms.is_empty() {
            return Err(OidcSetupError::NoAlgorithms);
        }
        let redirect_uri =
            RedirectUrl::new(config.redirect_uri.get_ref().clone()).map_err(|err| {
                OidcSetupError::RedirectUri {
                    uri: config.redirect_uri.get_ref().clone(),
                    reason: err.to_string(),
                }
            })?;
        let guard = Arc::new(UpstreamGuard::new(
            config.id.get_ref().clone(),
            &config.resilience,
        ));
        let loaded = match (
            fetch_documents(&config, &guard, &http).await,
            &config.cache_file,
        ) {
            (Ok(loaded), cache) => {
                if let Some(path) = cache {
                    loaded.documents.save(path);
                }
                loaded
            }
            (Err(err), None) => return Err(err),
            (Err(err), Some(path)) => {
                let source_name = path.display().to_string();
                let cached = Documents::load(path).and_then(|documents| {
                    validate_documents(&config, documents, &source_name)
                        .map_err(|cache_err| cache_err.to_string())
                });
                match cached {
                    Ok(loaded) => {
                        tracing::warn!(idp = config.id.get_ref(), error = %err, "OIDC provider unusable, starting from the cached copy");
                        loaded
                    }
                    Err(cache) => {
                        return Err(OidcSetupError::Unavailable {
                            fetch: Box::new(err),
                            path: path.clone(),
                            cache,
                        });
                    }
                }
            }
        };
        if config.use_userinfo && loaded.provider.userinfo_endpoint.is_none() {
            tracing::warn!(
                idp = config.id.get_ref(),
                "the provider advertises no userinfo endpoint: ID token claims only"
            );
        }
        Ok(Self {
            mapping,
            secret,
            http,
            redirect_uri,
            provider: loaded.provider,
            discovery: loaded.documents.discovery,
            keys: RwLock::new(Arc::new(loaded.keys)),
            last_key_refresh: Mutex::new(None),
            guard,
            config,
        })
    }

    /// The provider's breaker, bulkhead and timeout.
    pub fn guard(&self) -> &Arc<UpstreamGuard> {
        &self.guard
    }

    /// Configuration identifier (`fim`).
    pub fn id(&self) -> &str {
        self.config.id.get_ref()
    }

    /// The configuration of this provider.
    pub fn config(&self) -> &OidcIdpConfig {
        &self.config
    }

    fn client(&self) -> RpClient {
        let auth_type = match self.config.token_auth_method {
            TokenAuthMethod::ClientSecretBasic => AuthType::BasicAuth,
            TokenAuthMethod::ClientSecretPost => AuthType::RequestBody,
        };
        CoreClient::new(
            ClientId::new(self.config.client_id.get_ref().clone()),
            self.provider.issuer.clone(),
            CoreJsonWebKeySet::default(),
        )
        .set_auth_uri(self.provider.authorization_endpoint.clone())
        .set_token_uri(self.provider.token_endpoint.clone())
        .set_redirect_uri(self.redirect_uri.clone())
        .set_client_secret(openidconnect::ClientSecret::new(self.secret.0.clone()))
        .set_auth_type(auth_type)
    }

    /// An authentication request (Core §3.1.2.1): code flow, PKCE S256 with a
    /// fresh 32-byte verifier, fresh `state` and `nonce`. Returns the URL to
    /// redirect the browser to and what to keep until the callback.
    pub fn authorization_request(&self) -> (String, PendingAuth) {
        self.authorization_request_for(&AuthOptions::default())
    }

    /// [`OidcConnector::authorization_request`] with what the downstream
    /// service asked for: a fresh login (`prompt=login`, Core §3.1.2.1) and
    /// authentication context classes (`acr_values`, Core §3.1.2.1; the
    /// `acr` claim of the answer is checked by the service's access rules).
    pub fn authorization_request_for(&self, options: &AuthOptions<'_>) -> (String, PendingAuth) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = self.client();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                || CsrfToken::new_random_len(RANDOM_BYTES),
                || Nonce::new_random_len(RANDOM_BYTES),
            )
            .set_pkce_challenge(challenge);
        for scope in self.config.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if options.force_login {
            request = request.add_prompt(CoreAuthPrompt::Login);
        }
        for acr in options.acr_values {
            request = request.add_auth_context_value(AuthenticationContextClass::new(acr.clone()));
        }
        let (url, state, nonce) = request.url();
        let pending = PendingAuth {
            idp: self.id().to_owned(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            created_at: Utc::now().timestamp(),
        };
        (url.to_string(), pending)
    }

    /// The acceptance sequence of a callback (see the module documentation).
    /// `pending` was consumed from the store by the caller.
    pub async fn complete(
        &self,
        pending: &PendingAuth,
        callback: &CallbackParams,
    ) -> Result<Identity, OidcError> {
        self.complete_login(pending, callback)
            .await
            .map(|login| login.identity)
    }

    /// [`OidcConnector::complete`], also returning the verified ID token, kept
    /// by the gateway as the `id_token_hint` of a later logout.
    pub async fn complete_login(
        &self,
        pending: &PendingAuth,
        callback: &CallbackParams,
    ) -> Result<OidcLogin, OidcError> {
        // 1. The pending login is this connector's.
        if pending.idp != self.id() {
            return Err(OidcError::PendingForAnotherIdp {
                expected: self.id().to_owned(),
                found: pending.idp.clone(),
            });
        }

        // 2. The provider's error.
        if let Some(error) = &callback.error {
            return Err(OidcError::ProviderError {
                error: error.clone(),
                description: callback.error_description.clone(),
            });
        }

        // 3. state.
        let state = callback.state.as_deref().ok_or(OidcError::StateMissing)?;
        if !secret_eq(state, &pending.state) {
            return Err(OidcError::StateMismatch);
        }

        // 4. The iss parameter (RFC 9207).
        let issuer = self.provider.issuer.as_str();
        match &callback.iss {
            Some(iss) if iss != issuer => {
                return Err(OidcError::IssParameterMismatch { found: iss.clone() });
            }
            None if self.provider.iss_parameter_supported => {
                return Err(OidcError::IssParameterMissing);
            }
            _ => {}
        }

        // 5. The token request.
        let code = callback
            .code
            .as_deref()
            .filter(|code| !code.is_empty())
            .ok_or(OidcError::CodeMissing)?;
        let (id_token, access_token) = self.exchange(code, &pending.pkce_verifier).await?;

        // 6. The ID token.
        let now = Utc::now().timestamp();
        let claims = self.verify_id_token(&id_token, &pending.nonce, now).await?;
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|sub| !sub.is_empty())
            .ok_or(OidcError::MissingClaim("sub"))?
            .to_owned();

        // 7. Userinfo.
        let userinfo = match &self.provider.userinfo_endpoint {
            Some(url) if self.config.use_userinfo => {
                let userinfo = self.userinfo(url, &access_token).await?;
                if userinfo.get("sub").and_then(Value::as_str) != Some(subject.as_str()) {
                    return Err(OidcError::UserinfoSubjectMismatch);
                }
                Some(userinfo)
            }
            _ => None,
        };

        // 8. Mapping.
        let authn_instant = claims
            .get("auth_time")
            .and_then(numeric_date)
            .unwrap_or(now);
        let authn_context = claims.get("acr").and_then(Value::as_str).map(str::to_owned);
        let upstream = upstream_attributes(&claims, userinfo.as_ref());
        let mut identity =
            self.mapping
                .apply(self.id(), Some(&subject), &upstream, authn_instant)?;
        identity.authn_context = authn_context;
        Ok(OidcLogin { identity, id_token })
    }

    /// The provider's RP-initiated logout URL (OpenID Connect RP-Initiated
    /// Logout 1.0 §2): `end_session_endpoint` with `id_token_hint`, the
    /// `client_id`, the `post_logout_redirect_uri` (registered at the
    /// provider) and `state`; `None` when the provider advertises no
    /// `end_session_endpoint` (the logout then ends at the gateway).
    pub fn logout_url(
        &self,
        id_token_hint: Option<&str>,
        post_logout_redirect_uri: &str,
        state: &str,
    ) -> Option<String> {
        let mut url = self.provider.end_session_endpoint.clone()?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(hint) = id_token_hint {
                query.append_pair("id_token_hint", hint);
            }
            query
                .append_pair("client_id", self.config.client_id.get_ref())
                .append_pair("post_logout_redirect_uri", post_logout_redirect_uri)
                .append_pair("state", state);
        }
        Some(url.into())
    }

    /// The token request (Core §3.1.3.1): returns the raw ID token and the access token.
    async fn exchange(&self, code: &str, verifier: &str) -> Result<(String, String), OidcError> {
        let http = TokenHttp {
            guard: &self.guard,
            http: &self.http,
        };
        let client = self.client();
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .request_async(&http)
            .await
            .map_err(|err| match err {
                RequestTokenError::ServerResponse(response) => OidcError::TokenEndpointError {
                    error: response.error().as_ref().to_owned(),
                    description: response.error_description().cloned(),
                },
                RequestTokenError::Request(err) if err.is_unavailable() => {
                    OidcError::ProviderUnavailable {
                        call: "token",
                        reason: err.to_string(),
                    }
                }
                RequestTokenError::Request(err) => OidcError::TokenRequest(err.to_string()),
                RequestTokenError::Parse(err, _body) => {
                    OidcError::TokenResponse(format!("unexpected content at {}", err.path()))
                }
                RequestTokenError::Other(reason) => OidcError::TokenResponse(reason),
            })?;
        let id_token = response.id_token().ok_or(OidcError::NoIdToken)?;
        Ok((
            id_token.to_string(),
            response.access_token().secret().clone(),
        ))
    }

    /// Core §3.1.3.7, in order; returns the verified claims.
    async fn verify_id_token(
        &self,
        token: &str,
        nonce: &str,
        now: i64,
    ) -> Result<Map<String, Value>, OidcError> {
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(OidcError::IdTokenMalformed("not three dot-separated parts"));
        };
        let header = decode_json_part(header_b64, "the header is not base64url JSON")?;

        // The algorithm is pinned before anything else is read.
        let alg_name = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or(OidcError::IdTokenMalformed("the header has no alg"))?;
        let alg = self
            .config
            .algorithms
            .iter()
            .copied()
            .find(|pinned| pinned.name() == alg_name)
            .ok_or_else(|| OidcError::AlgorithmNotAllowed {
                alg: echo(alg_name),
            })?;
        if header.contains_key("crit") {
            return Err(OidcError::CriticalHeader);
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.as_str()),
            Some(_) => return Err(OidcError::IdTokenMalformed("kid is not a string")),
        };

        // The key comes from the provider's key set only.
        let key = self.verification_key(kid, alg).await?;
        let signing_input = format!("{header_b64}.{payload_b64}");
        let verified = jsonwebtoken::crypto::verify(
            signature_b64,
            signing_input.as_bytes(),
            &key,
            jose_algorithm(alg),
        )
        .map_err(|err| OidcError::Signature(err.to_string()))?;
        if !verified {
            return Err(OidcError::Signature(
                "does not verify with the provider's key".to_owned(),
            ));
        }
        let claims = decode_json_part(payload_b64, "the payload is not base64url JSON")?;

        if claims.get("iss").and_then(Value::as_str) != Some(self.provider.issuer.as_str()) {
            return Err(OidcError::IssuerMismatch);
        }
        let client_id = self.config.client_id.get_ref().as_str();
        let audiences: Vec<&str> = match claims.get("aud") {
            Some(Value::String(aud)) => vec![aud.as_str()],
            Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).collect(),
            _ => return Err(OidcError::MissingClaim("aud")),
        };
        if !audiences.contains(&client_id) {
            return Err(OidcError::AudienceMismatch);
        }
        match claims.get("azp") {
            Some(azp) if azp.as_str() != Some(client_id) => {
                return Err(OidcError::AuthorizedPartyMismatch);
            }
            None if audiences.len() > 1 => return Err(OidcError::AuthorizedPartyMissing),
            _ => {}
        }
        let exp = claims
            .get("exp")
            .and_then(numeric_date)
            .ok_or(OidcError::MissingClaim("exp"))?;
        if exp.saturating_add(CLOCK_SKEW_SECONDS) <= now {
            return Err(OidcError::Expired);
        }
        let iat = claims
            .get("iat")
            .and_then(numeric_date)
            .ok_or(OidcError::MissingClaim("iat"))?;
        if iat > now.saturating_add(CLOCK_SKEW_SECONDS) {
            return Err(OidcError::IssuedInFuture);
        }
        let token_nonce = claims
            .get("nonce")
            .and_then(Value::as_str)
            .ok_or(OidcError::NonceMissing)?;
        if !secret_eq(token_nonce, nonce) {
            return Err(OidcError::NonceMismatch);
        }
        Ok(claims)
    }

    fn keys(&self) -> Arc<KeySet> {
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The key for `kid`; an unknown key triggers one refresh of the key set,
    /// at most once per `jwks_min_refresh_seconds`.
    async fn verification_key(
        &self,
        kid: Option<&str>,
        alg: SigningAlgorithm,
    ) -> Result<DecodingKey, OidcError> {
        if let Some(jwk) = self.keys().select(kid, alg)? {
            return decoding_key(jwk);
        }
        if !self.claim_key_refresh() {
            return Err(OidcError::UnknownKey { kid: kid.map(echo) });
        }
        match fetch_json(&self.guard, &self.http, "jwks", &self.provider.jwks_uri).await {
            Ok(jwks) => match KeySet::parse(&jwks) {
                Ok(keys) => {
                    *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
                    if let Some(path) = &self.config.cache_file {
                        Documents {
                            discovery: self.discovery.clone(),
                            jwks,
                        }
                        .save(path);
                    }
                }
                Err(reason) => {
                    tracing::warn!(idp = self.id(), %reason, "refreshed JWKS refused, keeping the previous keys");
                }
            },
            Err(err) => {
                tracing::warn!(idp = self.id(), error = %err, "JWKS refresh failed, keeping the previous keys");
            }
        }
        match self.keys().select(kid, alg)? {
            Some(jwk) => decoding_key(jwk),
            None => Err(OidcError::UnknownKey { kid: kid.map(echo) }),
        }
    }

    /// True when a key-set refresh may run now; records it.
    fn claim_key_refresh(&self) -> bool {
        let window = Duration::from_secs(self.config.jwks_min_refresh_seconds);
        let mut last = self
            .last_key_refresh
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.is_some_and(|at| at.elapsed() < window) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    /// The userinfo request (Core §5.3.1); the answer must be a JSON object.
    async fn userinfo(
        &self,
        url: &UserInfoUrl,
        access_token: &str,
    ) -> Result<Map<String, Value>, OidcError> {
        let request = self
            .http
            .get(url.url().as_str())
            .bearer_auth(access_token)
            .header(http::header::ACCEPT, "application/json")
            .build()
            .map_err(|err| OidcError::UserinfoRequest(err.to_string()))?;
        let response = execute(&self.guard, &self.http, "userinfo", request)
            .await
            .map_err(|err| {
                if err.is_unavailable() {
                    OidcError::ProviderUnavailable {
                        call: "userinfo",
                        reason: err.to_string(),
                    }
                } else {
                    OidcError::UserinfoRequest(err.to_string())
                }
            })?;
        if response.status() != http::StatusCode::OK {
            return Err(OidcError::UserinfoResponse(format!(
                "HTTP status {}",
                response.status()
            )));
        }
        let is_json = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.to_ascii_lowercase().starts_with("application/json"));
        if !is_json {
            return Err(OidcError::UserinfoResponse(
                "not application/json (signed or encrypted userinfo is not supported)".to_owned(),
            ));
        }
        serde_json::from_slice(response.body())
            .map_err(|_| OidcError::UserinfoResponse("not a JSON object".to_owned()))
    }
}

fn decoding_key(jwk: &Jwk) -> Result<DecodingKey, OidcError> {
    DecodingKey::from_jwk(jwk).map_err(|err| OidcError::Signature(err.to_string()))
}

fn decode_json_part(part: &str, what: &'static str) -> Result<Map<String, Value>, OidcError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| OidcError::IdTokenMalformed(what))?;
    serde_json::from_slice(&bytes).map_err(|_| OidcError::IdTokenMalformed(what))
}

/// A NumericDate (RFC 7519 §2), in whole seconds.
fn numeric_date(value: &Value) -> Option<i64> {
    #[allow(clippy::cast_possible_truncation)]
    value
        .as_i64()
        .or_else(|| value.as_f64().map(|seconds| seconds as i64))
}

/// Constant-time equality of two secrets (their lengths are not secret).
fn secret_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A header value fit for an error message.
fn echo(value: &str) -> String {
    value.chars().take(MAX_ECHOED_CHARS).collect()
}

/// The claims as upstream attributes: userinfo claims over ID token claims;
/// strings as they are, numbers and booleans as their text, arrays as
/// several values; null and objects are left out.
fn upstream_attributes(
    id_token: &Map<String, Value>,
    userinfo: Option<&Map<String, Value>>,
) -> UpstreamAttributes {
    let mut merged = id_token.clone();
    if let Some(userinfo) = userinfo {
        merged.extend(
            userinfo
                .iter()
                .map(|(name, value)| (name.clone(), value.clone())),
        );
    }
    merged
        .iter()
        .map(|(name, value)| {
            let values: Vec<String> = match value {
                Value::Array(items) => items.iter().filter_map(scalar_text).collect(),
                other => scalar_text(other).into_iter().collect(),
            };
            (name.clone(), values)
        })
        .filter(|(_, values)| !values.is_empty())
        .collect()
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_become_upstream_attributes() {
        let id_token = serde_json::json!({
            "sub": "s1", "email": "id@x", "FrEduCtPersonAffiliation": ["eleve2d", 7, true, null, {"a": 1}],
            "age": 12, "verified": false, "address": {"locality": "Rennes"}, "gone": null
        });
        let userinfo = serde_json::json!({"email": "userinfo@x"});
        let attributes = upstream_attributes(
            id_token.as_object().unwrap(),
            Some(userinfo.as_object().unwrap()),
        );
        assert_eq!(attributes["email"], ["userinfo@x"]);
        assert_eq!(
            attributes["FrEduCtPersonAffiliation"],
            ["eleve2d", "7", "true"]
        );
        assert_eq!(attributes["age"], ["12"]);
        assert_eq!(attributes["verified"], ["false"]);
        assert!(!attributes.contains_key("address"));
        assert!(!attributes.contains_key("gone"));
    }

    #[test]
    fn secrets_never_appear_in_debug() {
        let secret = ClientSecret::new("s3cr3t-value\n");
        assert!(!format!("{secret:?}").contains("s3cr3t"));
        let pending = PendingAuth {
            idp: "fim".to_owned(),
            state: "state-value".to_owned(),
            nonce: "nonce-value".to_owned(),
            pkce_verifier: "verifier-value".to_owned(),
            created_at: 0,
        };
        let debug = format!("{pending:?}");
        assert!(!debug.contains("state-value") && !debug.contains("nonce-value"));
        assert!(!debug.contains("verifier-value"));
        let callback = CallbackParams {
            code: Some("code-value".to_owned()),
            state: Some("state-value".to_owned()),
            ..CallbackParams::default()
        };
        let debug = format!("{callback:?}");
        assert!(!debug.contains("code-value") && !debug.contains("state-value"));
    }
}
