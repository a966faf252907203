//! Simulators of the national services the gateway cannot reach in tests and
//! in the demo (domain reference §1, §2): a simulated ÉduConnect and a
//! simulated académie agent IdP (SAML IdPs), a simulated ENT and publishers'
//! resources (SAML SPs), and the synthetic population they share.
//!
//! The simulators speak real SAML 2.0 with real signatures and encryption
//! through `sso-saml`, keep their state in memory, and are served by axum
//! routers that the caller nests under each simulator's base path. They never
//! appear in a production code path.
//!
//! The `aaf` module generates synthetic AAF directory exports (domain
//! reference §3), complete or delta, for the tests, the demo and the
//! benchmarks.

pub mod aaf;
pub mod attributes;
mod idp;
mod page;
pub mod people;
mod sp;
mod web;

pub use idp::{IdpKind, SimIdpConfig, sim_idp_metadata, sim_idp_router};
pub use sp::{MediacentreApi, SimSpConfig, sim_sp_metadata, sim_sp_router};
