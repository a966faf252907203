//! Integration tests of the registry: loading and validation of service
//! files, attribute release and identifiers, identifier key rotation, ACS
//! resolution, access decisions, CAS and OpenID Connect tables.

#[cfg(test)]
mod access;
#[cfg(test)]
mod acs;
#[cfg(test)]
mod cas;
#[cfg(test)]
mod common;
#[cfg(test)]
mod keys;
#[cfg(test)]
mod load_errors;
#[cfg(test)]
mod metadata;
#[cfg(test)]
mod oidc;
#[cfg(test)]
mod property;
#[cfg(test)]
mod protocols;
#[cfg(test)]
mod registry;
#[cfg(test)]
mod release;
#[cfg(test)]
mod subscriptions;
