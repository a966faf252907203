//! Integration tests of the simulators, served over real HTTP on 127.0.0.1:0
//! and driven by a reqwest client with a cookie jar that follows redirects by
//! hand. The test code plays the gateway: SP of the simulated IdPs, IdP of the
//! simulated SPs, client of the simulated OpenID provider, CAS server of the
//! simulated CAS resource, OpenID provider of the simulated OIDC resource.

#[cfg(test)]
mod cas;
#[cfg(test)]
mod common;
#[cfg(test)]
mod flow;
#[cfg(test)]
mod idp;
#[cfg(test)]
mod oidc_op;
#[cfg(test)]
mod oidc_rp;
#[cfg(test)]
mod sp;
