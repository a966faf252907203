//! Integration tests of sso-saml: real keys, real libxmlsec1 and the `xmlsec1`
//! command line as an independent implementation. Modules are marked
//! `cfg(test)` so that the workspace's test-only lint allowances apply to helpers.

#[cfg(test)]
mod binding;
#[cfg(test)]
mod common;
#[cfg(test)]
mod dsig;
#[cfg(test)]
mod encryption;
#[cfg(test)]
mod messages;
#[cfg(test)]
mod metadata;
