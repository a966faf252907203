//! The SSO gateway: one upstream login (ÉduConnect, académie agent IdPs)
//! turned into many downstream accesses (ENTs, resources), each carrying only
//! what that service may know. See `docs/architecture.md` and the README.
//!
//! The binary `sso-gateway` (in `main.rs`) offers `serve`, `demo` and
//! `check-config`; this library holds everything they run, so that the tests
//! start the very same server.

pub mod aaf;
pub mod audit;
pub mod cas;
pub mod config;
pub mod demo;
pub mod error;
pub mod events;
pub mod explain;
pub mod issue;
pub mod join;
pub mod legal;
pub mod limits;
pub mod observe;
pub mod oidc;
pub mod pages;
pub mod privacy;
pub mod processing;
pub mod registry;
pub mod reversibility;
pub mod server;
pub mod session;
pub mod state;
pub mod stats;
pub mod steering;
pub mod subscriptions;
pub mod upstreams;
pub mod viewer;
pub mod web;

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A random token of 256 bits, URL-safe (session ids, flow ids, bindings).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// SHA-256 of a token, hex: what the store keeps instead of a browser secret.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
