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
//! Beside SAML: a simulated OpenID provider (`oidc_op`: ÉduConnect's, or
//! the agents' national service "FIM"), and
//! publishers' resources speaking CAS 3.0 (`cas_client`) or OpenID Connect
//! (`oidc_rp`) to the gateway, with real signatures (RS256/ES256 through
//! jsonwebtoken) and real server-to-server calls.
//!
//! `faults` switches any simulator to "down" (503) or "slow" at run time,
//! for the tests and the failure drills.
//!
//! The `aaf` module generates synthetic AAF directory exports (domain
//! reference §3), complete or delta, for the tests, the demo and the
//! benchmarks.

pub mod aaf;
pub mod attributes;
pub mod cas_client;
pub mod faults;
pub mod html;
mod idp;
mod oauth;
pub mod oidc_op;
pub mod oidc_rp;
mod page;
pub mod people;
pub mod procfs;
mod sp;
mod web;

pub use cas_client::{SimCasClientConfig, sim_cas_client_router};
pub use faults::{Fault, Faults};
pub use idp::{IdpKind, SimIdpConfig, sim_idp_metadata, sim_idp_router};
pub use oidc_op::{
    OidcSigningKey, SimOidcOpConfig, sim_oidc_op_jwks, sim_oidc_op_router, sim_oidc_op_router_for,
};
pub use oidc_rp::{SimOidcRpConfig, sim_oidc_rp_router};
pub use sp::{MediacentreApi, SimSpConfig, sim_sp_metadata, sim_sp_router};
