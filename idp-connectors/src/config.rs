//! Configuration of the upstream identity providers, as written in the
//! gateway's TOML file: SAML 2.0 IdPs (`[[idp]]` tables), OpenID Connect
//! providers (`[[oidc_idp]]`, OpenID Connect Core 1.0 §3.1 code flow) and
//! trusted reverse proxies passing the identity in headers (`[[header_idp]]`).
//! Paths are relative to the configuration file's folder; spans are kept so
//! that errors can name the line of the field. Each IdP names its attribute
//! mapping (`[mapping.<name>]`).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::resilience::ResilienceConfig;

fn default_refresh() -> u64 {
    3600
}

fn default_true() -> bool {
    true
}

/// One upstream SAML identity provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlIdpConfig {
    /// Short identifier (`educonnect`, `agents`), used in URLs and logs.
    pub id: Spanned<String>,
    /// Title of the discovery button (French), e.g. "Élève ou parent".
    pub label: String,
    /// Second line of the discovery button, e.g. "avec mon compte ÉduConnect".
    #[serde(default)]
    pub description: Option<String>,
    /// The IdP's entityID.
    pub entity_id: Spanned<String>,
    /// Metadata from a file (relative to the configuration folder).
    #[serde(default)]
    pub metadata_file: Option<Spanned<PathBuf>>,
    /// Metadata from a URL, refreshed in the background.
    #[serde(default)]
    pub metadata_url: Option<Spanned<String>>,
    /// Certificate (PEM) that must have signed remote metadata.
    #[serde(default)]
    pub metadata_signing_cert: Option<Spanned<PathBuf>>,
    /// Where the last good copy of remote metadata is kept, for a cold start
    /// while the URL is unreachable.
    #[serde(default)]
    pub metadata_cache_file: Option<PathBuf>,
    /// Refresh period of remote metadata.
    #[serde(default = "default_refresh")]
    pub metadata_refresh_seconds: u64,
    /// Accept IdP-initiated (unsolicited) responses. Off by default.
    #[serde(default)]
    pub allow_unsolicited: bool,
    /// Require the Assertion itself to be signed (default), not only the Response.
    #[serde(default = "default_true")]
    pub require_signed_assertion: bool,
    /// Require the Response to be signed too.
    #[serde(default)]
    pub require_signed_response: bool,
    /// Refuse plain (unencrypted) assertions.
    #[serde(default)]
    pub require_encrypted_assertion: bool,
    /// AuthnContextClassRef values requested from the IdP.
    #[serde(default)]
    pub requested_authn_context: Vec<String>,
    /// Name of the attribute mapping (`[mapping.<name>]`).
    pub mapping: Spanned<String>,
    /// Timeouts, bulkhead, circuit breaker and health check (`[idp.resilience]`).
    #[serde(default)]
    pub resilience: ResilienceConfig,
}

fn default_scopes() -> Vec<String> {
    vec!["openid".to_owned()]
}

fn default_algorithms() -> Vec<SigningAlgorithm> {
    vec![SigningAlgorithm::RS256]
}

fn default_jwks_min_refresh() -> u64 {
    60
}

fn default_separator() -> String {
    ",".to_owned()
}

/// JWS algorithms an ID token may be signed with (RFC 7518 §3). Only
/// asymmetric algorithms exist here: `none` and the HMAC family can never be
/// pinned (RFC 8725 §3.1, §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[allow(clippy::upper_case_acronyms)]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// ECDSA with P-256 and SHA-256.
    ES256,
}

impl SigningAlgorithm {
    /// The name used in the JOSE header's `alg`.
    pub fn name(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::ES256 => "ES256",
        }
    }
}

/// How the gateway authenticates to the token endpoint (OpenID Connect Core §9).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuthMethod {
    /// HTTP Basic authentication with the client id and secret (the default).
    #[default]
    ClientSecretBasic,
    /// Client id and secret in the form body.
    ClientSecretPost,
}

/// One upstream OpenID Connect provider, the gateway being its relying party.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcIdpConfig {
    /// Short identifier (`fim`), used in URLs and logs.
    pub id: Spanned<String>,
    /// Title of the discovery button (French).
    pub label: String,
    /// Second line of the discovery button.
    #[serde(default)]
    pub description: Option<String>,
    /// The OP's issuer identifier, compared exactly (no normalisation).
    pub issuer: Spanned<String>,
    /// Where the discovery document is; `<issuer>/.well-known/openid-configuration` by default.
    #[serde(default)]
    pub discovery_url: Option<Spanned<String>>,
    /// The client id the OP registered for the gateway.
    pub client_id: Spanned<String>,
    /// File holding the client secret (read by the gateway, never logged).
    pub client_secret_file: Spanned<PathBuf>,
    /// Client authentication at the token endpoint.
    #[serde(default)]
    pub token_auth_method: TokenAuthMethod,
    /// Scopes requested; `openid` is always sent.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The ID token algorithms accepted (pinned), `["RS256"]` by default.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<SigningAlgorithm>,
    /// The gateway's callback for this OP alone (`https://sso/oidc/callback/<id>`):
    /// one callback per OP is the mix-up defence.
    pub redirect_uri: Spanned<String>,
    /// Fetch the userinfo endpoint (when the OP advertises one) and merge its claims.
    #[serde(default = "default_true")]
    pub use_userinfo: bool,
    /// Where the last good discovery document and key set are kept, for a
    /// cold start while the OP is unreachable.
    #[serde(default)]
    pub cache_file: Option<PathBuf>,
    /// Least delay between two key-set fetches triggered by an unknown `kid`.
    #[serde(default = "default_jwks_min_refresh")]
    pub jwks_min_refresh_seconds: u64,
    /// Name of the attribute mapping (`[mapping.<name>]`); `subject = "name_id"` reads `sub`.
    pub mapping: Spanned<String>,
    /// Timeouts, bulkhead, circuit breaker and health check of the
    /// back-channel calls (`[oidc_idp.resilience]`).
    #[serde(default)]
    pub resilience: ResilienceConfig,
}

impl OidcIdpConfig {
    /// Makes the relative paths (`client_secret_file`, `cache_file`) relative to `base`,
    /// the configuration file's folder.
    pub fn resolve_paths(&mut self, base: &Path) {
        let resolve = |path: &Path| {
            if path.is_absolute() {
                path.to_owned()
            } else {
                base.join(path)
            }
        };
        let secret = resolve(self.client_secret_file.get_ref());
        *self.client_secret_file.get_mut() = secret;
        self.cache_file = self.cache_file.as_deref().map(resolve);
    }

    /// The discovery URL, explicit or derived from the issuer (OpenID Connect Discovery §4).
    pub fn discovery_url(&self) -> String {
        match &self.discovery_url {
            Some(url) => url.get_ref().clone(),
            None => format!(
                "{}/.well-known/openid-configuration",
                self.issuer.get_ref().trim_end_matches('/')
            ),
        }
    }
}

/// A reverse proxy that authenticates users and passes the identity in
/// request headers (the agents' ARENA portal).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderIdpConfig {
    /// Short identifier (`arena`), used in URLs and logs.
    pub id: Spanned<String>,
    /// Title of the discovery button (French).
    pub label: String,
    /// Second line of the discovery button.
    #[serde(default)]
    pub description: Option<String>,
    /// The proxies whose headers are believed: IP addresses or CIDR networks.
    pub trusted_proxies: Vec<Spanned<String>>,
    /// Header carrying the user's identifier (`ct-remote-user`).
    pub subject_header: Spanned<String>,
    /// Separator of multi-valued headers.
    #[serde(default = "default_separator")]
    pub separator: String,
    /// Authentication context recorded for these logins, if any.
    #[serde(default)]
    pub authn_context: Option<String>,
    /// Name of the attribute mapping (`[mapping.<name>]`), over header names;
    /// `subject = "name_id"` reads the subject header.
    pub mapping: Spanned<String>,
}
