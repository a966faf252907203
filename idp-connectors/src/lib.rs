//! Upstream identity provider connectors: the gateway as a SAML 2.0 service
//! provider of ÉduConnect and the académie agent IdPs (SP-initiated SSO,
//! optional unsolicited responses, single logout), metadata loading and
//! refresh, and the configuration-driven mapping of upstream attributes to
//! the canonical identity.

pub mod config;
pub mod mapping;
pub mod metadata;
pub mod saml;
