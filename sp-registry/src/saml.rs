//! The SAML 2.0 side of a service: its endpoints, keys and response options,
//! and the choice of the AssertionConsumerService to answer to (SAML core
//! §3.4.1: `AssertionConsumerServiceURL` and `AssertionConsumerServiceIndex`
//! are mutually exclusive; saml-metadata §2.2.3: the default endpoint is the
//! one marked `isDefault`, else the lowest index, else the first).
//!
//! A URL from an AuthnRequest is compared byte for byte with the registered
//! ones, without any normalisation: a response never goes to a URL that the
//! service did not register.

use std::time::Duration;

use serde::Deserialize;
use sso_saml::keys::Certificate;
use sso_saml::metadata::Endpoint;
use sso_saml::ns;

/// The NameID a service receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NameIdFormat {
    /// The opaque per-service identifier, stable across logins.
    #[default]
    Persistent,
    /// A fresh random value at each login.
    Transient,
}

impl NameIdFormat {
    /// The format URI (SAML core §8.3).
    pub fn uri(self) -> &'static str {
        match self {
            NameIdFormat::Persistent => ns::NAMEID_PERSISTENT,
            NameIdFormat::Transient => ns::NAMEID_TRANSIENT,
        }
    }
}

/// A SAML 2.0 service provider as registered.
#[derive(Debug, Clone)]
pub struct SamlService {
    /// The SP's entityID (the Issuer of its AuthnRequests, the Audience of our assertions).
    pub entity_id: String,
    /// AssertionConsumerService endpoints, as registered.
    pub acs: Vec<Endpoint>,
    /// SingleLogoutService endpoints.
    pub slo: Vec<Endpoint>,
    /// Certificates that verify the SP's signed AuthnRequests and logout messages.
    pub signing_certs: Vec<Certificate>,
    /// Certificates to encrypt assertions for (empty: no encryption).
    pub encryption_certs: Vec<Certificate>,
    /// Refuse unsigned AuthnRequests from this SP.
    pub require_signed_authn_requests: bool,
    /// Also sign the samlp:Response (the Assertion is always signed).
    pub sign_response: bool,
    /// The NameID format to issue.
    pub name_id_format: NameIdFormat,
    /// Validity of issued assertions (at most 300 seconds).
    pub assertion_lifetime: Duration,
}

/// Why no AssertionConsumerService could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcsError {
    /// The request gave both a URL and an index (SAML core §3.4.1 forbids it).
    #[error(
        "the AuthnRequest gives both AssertionConsumerServiceURL and AssertionConsumerServiceIndex"
    )]
    UrlAndIndex,
    /// The requested URL is not registered for the service.
    #[error("AssertionConsumerServiceURL {0:?} is not registered for this service")]
    UnregisteredUrl(String),
    /// The requested index is not registered for the service.
    #[error("AssertionConsumerServiceIndex {0} is not registered for this service")]
    UnknownIndex(u16),
    /// The requested endpoint exists but does not use the HTTP-POST binding.
    #[error(
        "AssertionConsumerService {location:?} uses binding {binding:?}, only HTTP-POST is supported"
    )]
    NotPostBinding {
        /// The endpoint's URL.
        location: String,
        /// The endpoint's binding.
        binding: String,
    },
    /// The service has no HTTP-POST AssertionConsumerService at all.
    #[error("the service has no AssertionConsumerService with the HTTP-POST binding")]
    NoPostAcs,
}

impl SamlService {
    /// The ACS to answer to: the URL or index from the AuthnRequest must match
    /// a registered ACS exactly (byte equality, no normalisation); with
    /// neither, the default ACS (`isDefault`, else the lowest index, else the
    /// first). Only HTTP-POST endpoints are ever returned.
    pub fn resolve_acs(
        &self,
        url: Option<&str>,
        index: Option<u16>,
    ) -> Result<&Endpoint, AcsError> {
        let found = match (url, index) {
            (Some(_), Some(_)) => return Err(AcsError::UrlAndIndex),
            (Some(url), None) => self
                .acs
                .iter()
                .find(|acs| acs.location == url)
                .ok_or_else(|| AcsError::UnregisteredUrl(url.to_owned()))?,
            (None, Some(index)) => self
                .acs
                .iter()
                .find(|acs| acs.index == Some(index))
                .ok_or(AcsError::UnknownIndex(index))?,
            (None, None) => return self.default_acs(),
        };
        if found.binding == ns::BINDING_HTTP_POST {
            Ok(found)
        } else {
            Err(AcsError::NotPostBinding {
                location: found.location.clone(),
                binding: found.binding.clone(),
            })
        }
    }

    fn default_acs(&self) -> Result<&Endpoint, AcsError> {
        let post = self
            .acs
            .iter()
            .filter(|acs| acs.binding == ns::BINDING_HTTP_POST);
        let first = post.clone().next().ok_or(AcsError::NoPostAcs)?;
        if let Some(default) = post.clone().find(|acs| acs.is_default) {
            return Ok(default);
        }
        Ok(post
            .filter(|acs| acs.index.is_some())
            .min_by_key(|acs| acs.index)
            .unwrap_or(first))
    }
}
