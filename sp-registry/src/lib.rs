//! The downstream service registry (architecture: `sp-registry/`; domain
//! reference §1 and §4).
//!
//! One TOML file per downstream service (an ENT or a publisher's resource) in a
//! registry folder. [`Registry::load_dir`] reads and validates every file,
//! collecting every error with its file, line and field, and yields an
//! immutable [`Registry`] meant to be shared behind an `Arc` (a later hot
//! reload swaps the whole value). Each [`ServiceDefinition`] answers the
//! questions the gateway asks at access time:
//!
//! * may this user open the service, today, with this login?
//!   ([`ServiceDefinition::admit`]: authentication context, profiles,
//!   schools, and time-limited grants to other schools, e.g. the CM2 pupils
//!   of a collège's sector);
//! * which attributes does it receive? ([`ServiceDefinition::release`]: exactly
//!   the configured ones, nothing else);
//! * under which identifier? ([`ServiceDefinition::name_id`] and
//!   [`IdentifierKey::opaque_id`]: an opaque value per service or per family of
//!   services, stable across schools, never revealing the upstream subject;
//!   [`IdentifierKeys`] rotates the secret service by service);
//! * where does the answer go? SAML: [`SamlService::resolve_acs`]; CAS:
//!   [`Registry::by_cas_service`] and [`ServicePattern`]; OpenID Connect:
//!   [`Registry::by_client_id`] and [`OidcClient::redirect_uri_allowed`].
//!
//! A service speaks SAML 2.0, CAS 3.0 and/or OpenID Connect: its file has
//! one table per protocol (`[saml]`, `[cas]`, `[oidc]`), at least one;
//! everything else (access, release, identifier, médiacentre) is the same
//! whatever the protocol.

#![warn(missing_docs)]

mod access;
mod cas;
mod error;
mod format;
mod identifier;
mod load;
mod oidc;
mod pattern;
mod registry;
mod release;
mod saml;
mod service;
pub mod subscription;

pub use access::{AccessDenied, AccessPolicy, Admission, Grant, GrantUse, MAX_GRANT_DAYS, Subject};
pub use cas::{CasLookupError, CasService};
pub use error::{LoadError, LoadErrorKind, RegistryErrors};
pub use identifier::{
    IdentifierKey, IdentifierKeys, IdentifierScope, KeyRingError, KeyTooShort, UnknownIdentifierKey,
};
pub use oidc::{ClientType, IdTokenAlg, JwksError, OidcClient, TokenAuthMethod};
pub use pattern::{PatternError, ServicePattern, UriError, UrlError};
pub use registry::Registry;
pub use release::{
    AttributeSource, GAR_ATTRIBUTES, ReleasePolicy, ReleaseRule, ReleasedAttribute,
    is_xml_element_name,
};
pub use saml::{AcsError, NameIdFormat, SamlService};
pub use service::{Mediacentre, Protocol, ServiceDefinition, ServiceKind};
