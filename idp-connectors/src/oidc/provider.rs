//! What the relying party knows of its provider, and how it asks: the
//! discovery document (OpenID Connect Discovery 1.0 §3, §4.3 issuer check;
//! RFC 9207 §3 `authorization_response_iss_parameter_supported`), the key
//! set (RFC 7517) and which of its keys may verify which pinned algorithm
//! (`use`, `key_ops`, `alg`, key type and curve; symmetric keys never), the
//! last good copy of both on disk, and bounded HTTP (every call through the
//! provider's [`UpstreamGuard`]: bulkhead, circuit breaker, timeout; 1 MiB
//! responses; no redirects).

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AsyncHttpClient, AuthUrl, EndpointNotSet, EndpointSet, HttpRequest,
    HttpResponse, IssuerUrl, ProviderMetadata, TokenUrl, UserInfoUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{OidcError, OidcSetupError};
use crate::config::{OidcIdpConfig, SigningAlgorithm};
use crate::resilience::{self, Health, ResilienceConfig, Unavailable, UpstreamGuard};

/// Largest response body read from the provider.
const MAX_RESPONSE_BYTES: usize = 1 << 20;
/// A `reqwest` client fit for talking to providers: no redirects followed
/// (a redirect could lead the gateway anywhere, SSRF) and the default
/// timeouts of [`ResilienceConfig`] (2 s to connect, 5 s per call).
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    resilience::http_client(&ResilienceConfig::default())
}

/// The provider metadata extensions read here: RFC 9207 §3, and OpenID
/// Connect RP-Initiated Logout 1.0 §2.1.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct AdditionalMetadata {
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
    #[serde(default)]
    end_session_endpoint: Option<String>,
}

impl AdditionalProviderMetadata for AdditionalMetadata {}

type DiscoveryDocument = ProviderMetadata<
    AdditionalMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

pub(super) type RpClient =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// What the discovery document says the gateway needs.
#[derive(Debug, Clone)]
pub(super) struct Provider {
    pub(super) issuer: IssuerUrl,
    pub(super) authorization_endpoint: AuthUrl,
    pub(super) token_endpoint: TokenUrl,
    pub(super) userinfo_endpoint: Option<UserInfoUrl>,
    pub(super) jwks_uri: String,
    pub(super) iss_parameter_supported: bool,
    /// Where RP-initiated logout sends the browser, when advertised.
    pub(super) end_session_endpoint: Option<url::Url>,
}

impl Provider {
    fn parse(
        document: &Value,
        expected_issuer: &str,
        source_name: &str,
    ) -> Result<Self, OidcSetupError> {
        let invalid = |reason: String| OidcSetupError::InvalidDiscovery {
            source_name: source_name.to_owned(),
            reason,
        };
        let found = document
            .get("issuer")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("no issuer".to_owned()))?;
        if found != expected_issuer {
            return Err(OidcSetupError::IssuerMismatch {
                source_name: source_name.to_owned(),
                expected: expected_issuer.to_owned(),
                found: found.to_owned(),
            });
        }
        let metadata =
            DiscoveryDocument::deserialize(document).map_err(|err| invalid(err.to_string()))?;
        let token_endpoint = metadata
            .token_endpoint()
            .cloned()
            .ok_or_else(|| invalid("no token_endpoint".to_owned()))?;
        let end_session_endpoint = match &metadata.additional_metadata().end_session_endpoint {
            Some(endpoint) => Some(url::Url::parse(endpoint).map_err(|err| {
                invalid(format!(
                    "end_session_endpoint {endpoint:?} is not a URL: {err}"
                ))
            })?),
            None => None,
        };
        Ok(Self {
            end_session_endpoint,
            issuer: metadata.issuer().clone(),
            authorization_endpoint: metadata.authorization_endpoint().clone(),
            token_endpoint,
            userinfo_endpoint: metadata.userinfo_endpoint().cloned(),
            jwks_uri: metadata.jwks_uri().url().to_string(),
            iss_parameter_supported: metadata
                .additional_metadata()
                .authorization_response_iss_parameter_supported,
        })
    }
}

/// The provider's public RSA and EC keys. Symmetric keys, other key types
/// and keys that cannot be read are left out; a set left empty is refused
/// (a refresh then keeps the previous keys).
#[derive(Debug, Default)]
pub(super) struct KeySet {
    keys: Vec<Jwk>,
}

impl KeySet {
    pub(super) fn parse(document: &Value) -> Result<Self, String> {
        let keys = document
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| "no `keys` array".to_owned())?;
        let keys = keys
            .iter()
            .filter_map(|key| serde_json::from_value::<Jwk>(key.clone()).ok())
            .filter(|jwk| {
                matches!(
                    jwk.algorithm,
                    AlgorithmParameters::RSA(_) | AlgorithmParameters::EllipticCurve(_)
                )
            })
            .collect::<Vec<_>>();
        if keys.is_empty() {
            return Err("no RSA or EC key".to_owned());
        }
        Ok(Self { keys })
    }

    /// The key for `kid` and `alg`: `Ok(None)` when no key fits (a refresh
    /// may find it), an error when `kid` is absent and several keys fit.
    pub(super) fn select(
        &self,
        kid: Option<&str>,
        alg: SigningAlgorithm,
    ) -> Result<Option<&Jwk>, OidcError> {
        let mut candidates = self.keys.iter().filter(|jwk| key_fits(jwk, alg));
        match kid {
            Some(kid) => Ok(candidates.find(|jwk| jwk.common.key_id.as_deref() == Some(kid))),
            None => {
                let first = candidates.next();
                if candidates.next().is_some() {
                    return Err(OidcError::KeyIdRequired);
                }
                Ok(first)
            }
        }
    }
}

/// A key may verify `alg` when its type (and curve) suit the algorithm and
/// its `use`, `key_ops` and `alg`, when present, allow it.
fn key_fits(jwk: &Jwk, alg: SigningAlgorithm) -> bool {
    let common = &jwk.common;
    if common
        .public_key_use
        .as_ref()
        .is_some_and(|usage| *usage != PublicKeyUse::Signature)
    {
        return false;
    }
    if common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return false;
    }
    if common
        .key_algorithm
        .is_some_and(|key_alg| key_alg.to_string() != alg.name())
    {
        return false;
    }
    match (&jwk.algorithm, alg) {
        (AlgorithmParameters::RSA(_), SigningAlgorithm::RS256 | SigningAlgorithm::PS256) => true,
        (AlgorithmParameters::EllipticCurve(params), SigningAlgorithm::ES256) => {
            params.curve == EllipticCurve::P256
        }
        _ => false,
    }
}

pub(super) fn jose_algorithm(alg: SigningAlgorithm) -> Algorithm {
    match alg {
        SigningAlgorithm::RS256 => Algorithm::RS256,
        SigningAlgorithm::PS256 => Algorithm::PS256,
        SigningAlgorithm::ES256 => Algorithm::ES256,
    }
}

/// The raw documents, as fetched and as kept on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Documents {
    pub(super) discovery: Value,
    pub(super) jwks: Value,
}

impl Documents {
    pub(super) fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|err| err.to_string())?;
        serde_json::from_str(&text).map_err(|err| err.to_string())
    }

    pub(super) fn save(&self, path: &Path) {
        let written = serde_json::to_string(self)
            .map_err(std::io::Error::other)
            .and_then(|text| {
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, text)?;
                std::fs::rename(tmp, path)
            });
        if let Err(err) = written {
            tracing::warn!(path = %path.display(), error = %err, "cannot keep the OIDC provider's documents on disk");
        }
    }
}

/// Why an HTTP exchange with the provider failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum HttpError {
    #[error("cannot build the request: {0}")]
    Build(String),
    #[error("{0}")]
    Transport(String),
    #[error("the response exceeds {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error("{0}")]
    Unavailable(Unavailable),
    #[error("the provider answered with HTTP status {0}")]
    ServerError(u16),
}

impl HttpError {
    /// The provider is down, slow or refused by its breaker or bulkhead
    /// (not a refusal of this request).
    pub(super) fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Transport(_) | Self::Unavailable(_) | Self::ServerError(_)
        )
    }
}

/// Sends a request through the provider's guard (the call named `call`)
/// and reads at most [`MAX_RESPONSE_BYTES`] of its body. A 5xx answer is an
/// error ([`HttpError::ServerError`]), as for the breaker.
pub(super) async fn execute(
    guard: &UpstreamGuard,
    http: &reqwest::Client,
    call: &'static str,
    mut request: reqwest::Request,
) -> Result<HttpResponse, HttpError> {
    *request.timeout_mut() = Some(guard.timeout());
    let response = guard
        .call(call, read(http, request), |result| match result {
            Ok(response) => Health::of_status(response.status()),
            Err(HttpError::TooLarge) => Health::Alive,
            Err(_) => Health::Failing,
        })
        .await
        .map_err(HttpError::Unavailable)??;
    if response.status().is_server_error() {
        return Err(HttpError::ServerError(response.status().as_u16()));
    }
    Ok(response)
}

async fn read(
    http: &reqwest::Client,
    request: reqwest::Request,
) -> Result<HttpResponse, HttpError> {
    let mut response = http
        .execute(request)
        .await
        .map_err(|err| HttpError::Transport(err.to_string()))?;
    let mut builder = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| HttpError::Transport(err.to_string()))?
    {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(HttpError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    builder
        .body(body)
        .map_err(|err| HttpError::Build(err.to_string()))
}

/// The asynchronous HTTP client handed to `openidconnect`.
/// The HTTP client handed to `openidconnect` for the token request: our
/// `reqwest` client, its futures boxed as `Send` (a plain closure's future
/// is not provably `Send` for every lifetime, which axum handlers need).
pub(super) struct TokenHttp<'a> {
    pub(super) guard: &'a UpstreamGuard,
    pub(super) http: &'a reqwest::Client,
}

impl<'c> AsyncHttpClient<'c> for TokenHttp<'_> {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(send(self.guard, self.http, request))
    }
}

async fn send(
    guard: &UpstreamGuard,
    http: &reqwest::Client,
    request: HttpRequest,
) -> Result<HttpResponse, HttpError> {
    let request =
        reqwest::Request::try_from(request).map_err(|err| HttpError::Build(err.to_string()))?;
    execute(guard, http, "token", request).await
}

/// Fetches a JSON document with GET (the call named `call`).
pub(super) async fn fetch_json(
    guard: &UpstreamGuard,
    http: &reqwest::Client,
    call: &'static str,
    url: &str,
) -> Result<Value, OidcSetupError> {
    let fetch_error = |reason: String| OidcSetupError::Fetch {
        url: url.to_owned(),
        reason,
    };
    let request = http
        .get(url)
        .header(http::header::ACCEPT, "application/json")
        .build()
        .map_err(|err| fetch_error(err.to_string()))?;
    let response = execute(guard, http, call, request)
        .await
        .map_err(|err| fetch_error(err.to_string()))?;
    if !response.status().is_success() {
        return Err(fetch_error(format!("HTTP status {}", response.status())));
    }
    serde_json::from_slice(response.body()).map_err(|err| fetch_error(format!("not JSON: {err}")))
}

/// The validated state of a provider: metadata, keys, and the raw documents.
pub(super) struct Loaded {
    pub(super) provider: Provider,
    pub(super) keys: KeySet,
    pub(super) documents: Documents,
}

pub(super) fn validate_documents(
    config: &OidcIdpConfig,
    documents: Documents,
    source_name: &str,
) -> Result<Loaded, OidcSetupError> {
    let provider = Provider::parse(&documents.discovery, config.issuer.get_ref(), source_name)?;
    let keys = KeySet::parse(&documents.jwks).map_err(|reason| OidcSetupError::InvalidJwks {
        source_name: source_name.to_owned(),
        reason,
    })?;
    Ok(Loaded {
        provider,
        keys,
        documents,
    })
}

pub(super) async fn fetch_documents(
    config: &OidcIdpConfig,
    guard: &UpstreamGuard,
    http: &reqwest::Client,
) -> Result<Loaded, OidcSetupError> {
    let discovery_url = config.discovery_url();
    let discovery = fetch_json(guard, http, "discovery", &discovery_url).await?;
    let provider = Provider::parse(&discovery, config.issuer.get_ref(), &discovery_url)?;
    let jwks = fetch_json(guard, http, "jwks", &provider.jwks_uri).await?;
    validate_documents(config, Documents { discovery, jwks }, &provider.jwks_uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsa_jwk(kid: Option<&str>, extra: &[(&str, Value)]) -> Jwk {
        let mut value = serde_json::json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"});
        if let Some(kid) = kid {
            value["kid"] = kid.into();
        }
        for (name, extra) in extra {
            value[*name] = extra.clone();
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn keys_fit_their_algorithm_use_and_operations() {
        assert!(key_fits(&rsa_jwk(None, &[]), SigningAlgorithm::RS256));
        assert!(key_fits(&rsa_jwk(None, &[]), SigningAlgorithm::PS256));
        assert!(!key_fits(&rsa_jwk(None, &[]), SigningAlgorithm::ES256));
        assert!(!key_fits(
            &rsa_jwk(None, &[("use", "enc".into())]),
            SigningAlgorithm::RS256
        ));
        assert!(!key_fits(
            &rsa_jwk(None, &[("alg", "PS256".into())]),
            SigningAlgorithm::RS256
        ));
        assert!(!key_fits(
            &rsa_jwk(None, &[("key_ops", serde_json::json!(["encrypt"]))]),
            SigningAlgorithm::RS256
        ));
        assert!(key_fits(
            &rsa_jwk(None, &[("use", "sig".into()), ("alg", "RS256".into())]),
            SigningAlgorithm::RS256
        ));
    }

    #[test]
    fn a_key_set_without_kid_needs_a_single_candidate() {
        let one = KeySet {
            keys: vec![rsa_jwk(Some("a"), &[])],
        };
        assert!(one.select(None, SigningAlgorithm::RS256).unwrap().is_some());
        assert!(
            one.select(Some("a"), SigningAlgorithm::RS256)
                .unwrap()
                .is_some()
        );
        assert!(
            one.select(Some("b"), SigningAlgorithm::RS256)
                .unwrap()
                .is_none()
        );
        let two = KeySet {
            keys: vec![rsa_jwk(Some("a"), &[]), rsa_jwk(Some("b"), &[])],
        };
        assert!(matches!(
            two.select(None, SigningAlgorithm::RS256),
            Err(OidcError::KeyIdRequired)
        ));
        assert!(
            two.select(Some("b"), SigningAlgorithm::RS256)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn only_rsa_and_ec_keys_are_kept() {
        let set = KeySet::parse(&serde_json::json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "OKP", "crv": "Ed25519", "x": "AQAB", "kid": "ed"},
            {"kty": "RSA", "kid": "broken"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "good"}
        ]}))
        .unwrap();
        let kids: Vec<_> = set
            .keys
            .iter()
            .map(|k| k.common.key_id.as_deref())
            .collect();
        assert_eq!(kids, [Some("good")]);
        assert!(KeySet::parse(&serde_json::json!({"nokeys": []})).is_err());
        assert!(
            KeySet::parse(&serde_json::json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})).is_err()
        );
    }
}
