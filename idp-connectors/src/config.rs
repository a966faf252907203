//! Configuration of an upstream SAML 2.0 identity provider, as written in the
//! gateway's TOML file (`[[idp]]` tables). Paths are relative to the
//! configuration file's folder; spans are kept so that errors can name the
//! line of the field.

use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

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
}
