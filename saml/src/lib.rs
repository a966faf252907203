//! SAML 2.0 building blocks for the gateway: XML hardening, XML signatures
//! (through samael and libxmlsec1), XML encryption of assertions, the
//! HTTP-Redirect, HTTP-POST and SOAP bindings, metadata, and the protocol
//! messages of Web Browser SSO and Single Logout (saml-core, saml-bindings,
//! saml-profiles, saml-metadata 2.0).
//!
//! This crate holds no policy: clock skew, audience, replay and destination
//! checks belong to its callers, which get typed values to decide on.

pub mod binding;
pub mod dsig;
pub mod encryption;
pub mod ids;
pub mod keys;
pub mod messages;
pub mod metadata;
pub mod ns;
pub mod time;
pub mod xml;

pub use xml::SchemaError;
