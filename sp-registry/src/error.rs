//! Load errors of the registry folder (architecture, "Configuration": every
//! error points at its file, line and field).
//!
//! A [`LoadError`] displays as
//! `registry/ent.toml:12: field `release.attributes`: unknown attribute "FOO"`;
//! [`RegistryErrors`] holds every error of one load, one per line.

use std::fmt;
use std::io;
use std::path::PathBuf;

use chrono::NaiveDate;
use sso_core::{Location, ProfileError, UaiError};
use sso_saml::keys::KeyError;
use sso_saml::metadata::MetadataError;

use crate::oidc::{JwksError, TokenAuthMethod};
use crate::pattern::{PatternError, UriError};

/// Every error found while loading a registry folder (loading does not stop
/// at the first one).
#[derive(Debug)]
pub struct RegistryErrors(pub Vec<LoadError>);

impl fmt::Display for RegistryErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for error in &self.0 {
            if !first {
                writeln!(f)?;
            }
            first = false;
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RegistryErrors {}

/// One error, located in a file of the registry folder.
#[derive(Debug)]
pub struct LoadError {
    /// The file (or the folder itself when it cannot be read).
    pub file: PathBuf,
    /// 1-based line in `file`, when known.
    pub line: Option<usize>,
    /// Dotted path of the field at fault (e.g. `release.attributes`), when known.
    pub field: Option<String>,
    /// What is wrong.
    pub reason: LoadErrorKind,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let location = Location {
            file: &self.file,
            line: self.line,
            field: self.field.as_deref(),
        };
        write!(f, "{location}: {}", self.reason)
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.reason)
    }
}

/// Why a registry file (or the folder) was refused. One variant per reason.
#[derive(Debug, thiserror::Error)]
pub enum LoadErrorKind {
    /// The folder cannot be listed.
    #[error("cannot read the registry folder: {0}")]
    ReadDir(#[source] io::Error),
    /// A service file cannot be read (or is not UTF-8).
    #[error("cannot read the service file: {0}")]
    ReadFile(#[source] io::Error),
    /// The file is not valid TOML.
    #[error("invalid TOML: {0}")]
    Syntax(String),
    /// A key that the format does not define (typos must not pass silently).
    #[error("unknown field `{0}`")]
    UnknownField(String),
    /// A required key is absent.
    #[error("required field is missing")]
    MissingField,
    /// A value of the wrong type or outside the allowed set.
    #[error("{0}")]
    InvalidValue(String),
    /// A service id, family, grant or identifier key name outside `[a-z0-9-]+`.
    #[error("{0:?} is not a valid name (only lower-case letters, digits and '-')")]
    InvalidName(String),
    /// A required text value is empty.
    #[error("must not be empty")]
    Empty,
    /// `resource_id` on a service that is not a resource.
    #[error("resource_id is only allowed when kind = \"resource\"")]
    ResourceIdOnEnt,
    /// `[mediacentre]` on a service that is not a resource.
    #[error("[mediacentre] is only allowed when kind = \"resource\"")]
    MediacentreOnEnt,
    /// `[mediacentre_api]` on a service that is not an ENT.
    #[error("[mediacentre_api] is only allowed when kind = \"ent\"")]
    MediacentreApiOnResource,
    /// A `token_sha256` or `client_secret_sha256` that is not 64
    /// hexadecimal characters.
    #[error("expected a SHA-256 digest as 64 hexadecimal characters")]
    NotASha256,
    /// A custom release name that cannot be a CAS attribute element.
    #[error(
        "{0:?} cannot be a CAS attribute: a service with [cas] needs XML names (letters, digits, '_', '-', '.', not starting with a digit, '-' or '.')"
    )]
    NotAnXmlName(String),
    /// `identifier.current_as` without a pinned `identifier.key`.
    #[error("current_as is only allowed with key (a service pinned to a previous secret)")]
    CurrentAsWithoutKey,
    /// A URL that is not absolute http(s).
    #[error("{0:?} is not an absolute http:// or https:// URL")]
    NotAnHttpUrl(String),
    /// A resource without `resource_id` (its subscriptions could not name it).
    #[error("a resource needs its resource_id (the idRessource its subscriptions name)")]
    MissingResourceId,
    /// A release name that is not a known GAR attribute.
    #[error(
        "unknown attribute {0:?} (expected one of IDO, UAI, PRO, NOM, PRE, CIV, P_MEL, DIV, GRO, E_MS1, P_MS4; use [release.custom] for other names)"
    )]
    UnknownAttribute(String),
    /// A `release.custom` value that is not a canonical attribute name.
    #[error("unknown canonical attribute {0:?} (expected one of {names})", names = sso_core::attr::ALL.join(", "))]
    UnknownCanonicalAttribute(String),
    /// A canonical attribute that is never released downstream (domain §4:
    /// never expose the AAF id or the INE).
    #[error("canonical attribute {0:?} is never released to a service")]
    ForbiddenAttribute(String),
    /// The same released name twice.
    #[error("attribute {0:?} is released twice")]
    DuplicateAttribute(String),
    /// A value of `access.profiles` that is not an SDET profile.
    #[error("{0}")]
    UnknownProfile(#[source] ProfileError),
    /// `access.profiles = []` (or a grant's `profiles = []`): nobody could
    /// open the service.
    #[error(
        "the profile list is empty, so it would admit nobody (remove the key to allow every profile, in a grant the service's profiles)"
    )]
    NoProfiles,
    /// `access.schools = []` or a grant's `schools = []`: nobody could be admitted.
    #[error(
        "the school list is empty, so it would admit nobody (remove `access.schools` to allow every school)"
    )]
    NoSchools,
    /// A school code that is not a well-formed UAI with its check letter.
    #[error("{0}")]
    InvalidUai(#[source] UaiError),
    /// `access.authn_contexts = []`: no login could open the service.
    #[error(
        "the authentication context list is empty, so no login could open the service (remove the key to accept any login)"
    )]
    NoAuthnContexts,
    /// An `access.authn_contexts` value that is not a URI.
    #[error(
        "{0:?} is not an authentication context class URI (an AuthnContextClassRef value such as urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken)"
    )]
    NotAnAuthnContext(String),
    /// `[[access.grants]]` without `access.schools`.
    #[error(
        "grants are only allowed when `access.schools` restricts the service (without it every school already has access)"
    )]
    GrantsWithoutSchools,
    /// Two grants of one file with the same name.
    #[error("the grant name {0:?} is already used in this file")]
    DuplicateGrantName(String),
    /// A grant's `levels = []`: the grant would admit nobody.
    #[error(
        "the level list is empty, so the grant would admit nobody (remove the key to allow every level)"
    )]
    NoLevels,
    /// A grant date with a time or an offset.
    #[error("{0} is not a local date (write YYYY-MM-DD, without time or offset)")]
    NotALocalDate(String),
    /// A grant that ends before it starts.
    #[error("valid_until {valid_until} is before valid_from {valid_from}")]
    GrantEndsBeforeStart {
        /// The grant's first day.
        valid_from: NaiveDate,
        /// The grant's last day.
        valid_until: NaiveDate,
    },
    /// A grant longer than the allowed period.
    #[error("the grant ends {days} days after it starts, at most {max} are allowed", max = crate::access::MAX_GRANT_DAYS)]
    GrantTooLong {
        /// Days from valid_from to valid_until.
        days: i64,
    },
    /// A grant's `as_school` that is not one of `access.schools`.
    #[error("as_school {0:?} is not one of `access.schools`")]
    AsSchoolNotInSchools(String),
    /// `identifier.key` names a previous key that the gateway's key ring does
    /// not hold ([`crate::Registry::check_identifier_keys`]).
    #[error("identifier key {key:?} is not configured (previous keys: {known:?})")]
    UnknownIdentifierKey {
        /// The pinned name.
        key: String,
        /// The names of the previous keys the key ring holds.
        known: Vec<String>,
    },
    /// The client's `id_token_signed_response_alg` has no signing key in the
    /// gateway's configuration ([`crate::Registry::check_id_token_algs`]).
    #[error(
        "no {alg} signing key is configured ([[oidc_provider.keys]]) for this client's ID tokens"
    )]
    IdTokenAlgWithoutKey {
        /// The algorithm (`ES256`, `RS256`).
        alg: &'static str,
    },
    /// `scope = "family"` without a family name.
    #[error("scope = \"family\" requires `identifier.family`")]
    MissingFamily,
    /// A family name with `scope = "service"`.
    #[error("`identifier.family` is only allowed with scope = \"family\"")]
    FamilyWithoutFamilyScope,
    /// Both a metadata file and inline endpoints.
    #[error(
        "metadata_file and inline endpoints (acs, slo, signing_certificate_file) are exclusive: choose one"
    )]
    MetadataAndInline,
    /// Neither a metadata file nor inline ACS endpoints.
    #[error("neither metadata_file nor acs is given")]
    NoEndpointSource,
    /// A metadata or certificate file named by the service file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    ReferencedFile {
        /// The file named by the service file, resolved against the folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The metadata file does not parse, or does not describe `saml.entity_id`.
    #[error("invalid metadata in {}: {source}", path.display())]
    Metadata {
        /// The metadata file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: MetadataError,
    },
    /// The metadata has no SPSSODescriptor.
    #[error("metadata {} has no SPSSODescriptor", path.display())]
    NoSpDescriptor {
        /// The metadata file.
        path: PathBuf,
    },
    /// No AssertionConsumerService at all.
    #[error("no AssertionConsumerService is registered")]
    NoAcs,
    /// No AssertionConsumerService with the HTTP-POST binding, the only one the
    /// gateway answers with.
    #[error("no AssertionConsumerService with the HTTP-POST binding")]
    NoPostAcs,
    /// Two AssertionConsumerServices with the same index.
    #[error("two AssertionConsumerServices share index {0}")]
    DuplicateAcsIndex(u16),
    /// An inline endpoint binding other than HTTP-POST, HTTP-Redirect or SOAP.
    #[error(
        "binding {0:?} is not supported (expected the SAML 2.0 HTTP-POST, HTTP-Redirect or SOAP binding URI)"
    )]
    UnsupportedBinding(String),
    /// A certificate file that is not a PEM certificate.
    #[error("invalid certificate in {}: {source}", path.display())]
    Certificate {
        /// The certificate file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: KeyError,
    },
    /// Signed AuthnRequests are required but no signing certificate is known.
    #[error(
        "signed AuthnRequests are required but the service has no signing certificate (metadata KeyDescriptor or signing_certificate_file)"
    )]
    NoSigningCertificate,
    /// `assertion_lifetime_seconds` outside 1..=300.
    #[error("{0} seconds is out of range (1 to 300)")]
    LifetimeOutOfRange(u64),
    /// Two files declare the same `id`.
    #[error("id {id:?} is already declared in {}", first.display())]
    DuplicateId {
        /// The duplicated id.
        id: String,
        /// The file that declared it first.
        first: PathBuf,
    },
    /// Two files declare the same `resource_id`.
    #[error("resource_id {resource_id:?} is already declared in {}", first.display())]
    DuplicateResourceId {
        /// The duplicated resource id.
        resource_id: String,
        /// The file that declared it first.
        first: PathBuf,
    },
    /// Two files declare the same `saml.entity_id`.
    #[error("entity_id {entity_id:?} is already declared in {}", first.display())]
    DuplicateEntityId {
        /// The duplicated entity id.
        entity_id: String,
        /// The file that declared it first.
        first: PathBuf,
    },
    /// A file without `[saml]`, `[cas]` or `[oidc]`: the service could
    /// not be reached.
    #[error("the service speaks no protocol: add a [saml], [cas] or [oidc] table")]
    NoProtocol,
    /// `cas.services = []`: no ticket could ever be issued.
    #[error("the service URL list is empty, so no CAS ticket could be issued")]
    NoCasServices,
    /// A service URL or proxy callback pattern that is refused.
    #[error("invalid pattern {pattern:?}: {source}")]
    InvalidServicePattern {
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        #[source]
        source: PatternError,
    },
    /// `proxy_callbacks` without `allow_proxy = true`.
    #[error("proxy_callbacks are only allowed with allow_proxy = true")]
    ProxyCallbacksWithoutProxy,
    /// A proxy callback pattern that is not `https://` (CAS 3.0 §2.5.4).
    #[error("proxy callback {0:?} must be an https:// URL (CAS protocol 3.0 §2.5.4)")]
    ProxyCallbackNotHttps(String),
    /// Two service URL patterns that are identical once normalised (in two
    /// files, or twice in one).
    #[error("the service URL pattern {pattern:?} is already registered in {}", first.display())]
    DuplicateCasPattern {
        /// The pattern as written the second time.
        pattern: String,
        /// The file that registered it first.
        first: PathBuf,
    },
    /// A registered URI (redirect, logout) that is refused.
    #[error("invalid URI {uri:?}: {source}")]
    InvalidUri {
        /// The URI as written.
        uri: String,
        /// What is wrong with it.
        #[source]
        source: UriError,
    },
    /// A `client_id` outside `[A-Za-z0-9._-]+`.
    #[error("{0:?} is not a valid client_id (only letters, digits, '.', '_' and '-')")]
    InvalidClientId(String),
    /// Two files declare the same `oidc.client_id`.
    #[error("client_id {client_id:?} is already declared in {}", first.display())]
    DuplicateClientId {
        /// The duplicated client id.
        client_id: String,
        /// The file that declared it first.
        first: PathBuf,
    },
    /// A public client with an authentication method other than `none`.
    #[error(
        "a public client cannot keep a secret: token_endpoint_auth_method must be \"none\", not {:?}",
        .0.name()
    )]
    PublicClientAuthenticates(TokenAuthMethod),
    /// `token_endpoint_auth_method = "none"` for a confidential client.
    #[error(
        "token_endpoint_auth_method = \"none\" is only for public clients (client_type = \"public\")"
    )]
    ConfidentialClientWithoutAuthentication,
    /// `client_secret_basic` or `client_secret_post` without the secret's digest.
    #[error("client_secret_sha256 is required with client_secret_basic and client_secret_post")]
    MissingClientSecret,
    /// A secret's digest with a method that does not use it.
    #[error(
        "client_secret_sha256 is only allowed with client_secret_basic and client_secret_post, not {:?}",
        .0.name()
    )]
    ClientSecretNotUsed(TokenAuthMethod),
    /// `private_key_jwt` without the client's key set.
    #[error("jwks_file is required with private_key_jwt")]
    MissingJwksFile,
    /// A key set with a method that does not use it.
    #[error("jwks_file is only allowed with private_key_jwt, not {:?}", .0.name())]
    JwksFileNotUsed(TokenAuthMethod),
    /// The JSON Web Key Set file is refused.
    #[error("invalid JSON Web Key Set in {}: {source}", path.display())]
    Jwks {
        /// The key set file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: JwksError,
    },
    /// `oidc.redirect_uris = []`: no authorization response could be sent.
    #[error("the redirect URI list is empty, so no authorization response could be sent")]
    NoRedirectUris,
    /// `require_pkce = false` for a public client (RFC 7636 §1: the code of
    /// a public client must be bound to its PKCE verifier).
    #[error("a public client must use PKCE: require_pkce cannot be false")]
    PublicClientWithoutPkce,
}
