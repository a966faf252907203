//! Upstream identity provider connectors: the gateway as a SAML 2.0 service
//! provider of ÉduConnect and the académie agent IdPs (SP-initiated SSO,
//! optional unsolicited responses, single logout), as an OpenID Connect
//! relying party (code flow with PKCE), and behind a trusted reverse proxy
//! passing the identity in headers; metadata and key loading and refresh,
//! and the configuration-driven mapping of upstream attributes to the
//! canonical identity. Every upstream has its own timeouts, bulkhead and
//! circuit breaker (`resilience`, `breaker`).

pub mod breaker;
pub mod config;
pub mod headers;
pub mod mapping;
pub mod metadata;
pub mod oidc;
pub mod resilience;
pub mod saml;
