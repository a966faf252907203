//! The gateway as a SAML 2.0 service provider of an upstream identity
//! provider (SAML core §3.4, profiles §4.1 Web Browser SSO, bindings §3.4
//! HTTP-Redirect and §3.5 HTTP-POST).
//!
//! [`SamlConnector::validate`] is the whole acceptance sequence for a
//! Response, written as one readable list of checks, each failing with its own
//! [`ResponseError`] variant (in the manner of crewjam/saml):
//!
//! 1. size, base64 and DOCTYPE limits (binding layer);
//! 2. envelope: Issuer, Status, exactly one assertion in the whole document
//!    (an assertion hidden in `Extensions`, a `ds:Object` or another
//!    assertion is a signature-wrapping attempt), Destination, IssueInstant
//!    with the clock skew, InResponseTo bound to this browser's pending
//!    request;
//! 3. signatures, verified only with the keys of this IdP's metadata, with
//!    the algorithm allow-list; the Response signature must sit on the root;
//! 4. decryption of an EncryptedAssertion (RSA-OAEP, AES-GCM/CBC; RSA1_5
//!    refused);
//! 5. assertion, read only from verified content: Issuer, Audience
//!    (required), bearer SubjectConfirmation (Recipient, InResponseTo,
//!    NotOnOrAfter), Conditions and IssueInstant with the clock skew,
//!    AuthnStatement;
//! 6. replay cache of assertion IDs in the shared store (`SET NX`);
//! 7. attribute mapping to the canonical identity.
//!
//! Each connector has its circuit breaker ([`crate::resilience`]), fed by an
//! optional health check only: SAML error statuses are not counted as
//! failures (a user who cancels would count as an outage).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::reader::NsReader;
use sso_core::Identity;
use sso_saml::binding::{self, MessageKind};
use sso_saml::keys::{Certificate, SigningKey};
use sso_saml::messages::{
    self, Assertion, AuthnRequestSpec, LogoutRequest, LogoutResponse, NameId,
};
use sso_saml::metadata::{EntityMetadata, IdpDescriptor};
use sso_saml::{dsig, encryption, ids, ns};
use sso_store::Store;

use crate::config::SamlIdpConfig;
use crate::mapping::{MapError, Mapping, UpstreamAttributes};
use crate::resilience::UpstreamGuard;

/// Oldest IssueInstant accepted (Response and Assertion), beyond the clock skew.
const MAX_ISSUE_AGE: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// Settings of the gateway's SP role, shared by every SAML connector.
#[derive(Debug)]
pub struct SpSettings {
    /// The gateway's entityID as SP.
    pub entity_id: String,
    /// Assertion consumer service (HTTP-POST).
    pub acs_url: String,
    /// Single logout endpoint of the SP role.
    pub slo_url: String,
    /// Signs AuthnRequests and LogoutRequests.
    pub signing_key: Arc<SigningKey>,
    /// Decrypts EncryptedAssertions.
    pub decryption_key: Arc<SigningKey>,
    /// Tolerated clock difference.
    pub clock_skew: Duration,
    /// Largest message accepted after base64 decoding.
    pub max_message_bytes: usize,
}

/// Why a connector cannot be built from its metadata.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The metadata describes no IdP role.
    #[error("metadata of {0} has no IDPSSODescriptor")]
    NotAnIdp(String),
    /// The metadata carries no signing certificate: responses could not be verified.
    #[error("metadata of {0} has no signing certificate: responses could not be verified")]
    NoSigningKey(String),
    /// No SSO endpoint with the HTTP-Redirect binding.
    #[error("metadata of {0} has no SingleSignOnService with the HTTP-Redirect binding")]
    NoRedirectSso(String),
    /// The metadata's entityID differs from the configured one.
    #[error("metadata entityID {found:?} differs from the configured {expected:?}")]
    EntityIdMismatch {
        /// Configured.
        expected: String,
        /// Found in the metadata.
        found: String,
    },
    /// The IdP publishes no single logout endpoint.
    #[error("metadata of {0} has no SingleLogoutService")]
    NoSlo(String),
    /// Building a message failed.
    #[error("cannot build the message: {0}")]
    Build(String),
}

/// Why a Response is refused. Each variant is one check of the sequence.
#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    /// Base64, size, inflation or DOCTYPE problems.
    #[error("undecodable message: {0}")]
    Decode(String),
    /// The XML is not a well-formed SAML Response.
    #[error("malformed Response: {0}")]
    Malformed(String),
    /// Response Issuer differs from the IdP.
    #[error("Response Issuer {found:?} is not the expected IdP")]
    ResponseIssuerMismatch {
        /// What the Response said.
        found: String,
    },
    /// The IdP answered with an error status.
    #[error("the IdP answered with status {code}")]
    Status {
        /// The status code URI.
        code: String,
    },
    /// No assertion.
    #[error("the Response holds no assertion")]
    NoAssertion,
    /// More than one assertion, counted at any depth of the document
    /// (signature-wrapping attempts).
    #[error("the Response holds {0} assertions; exactly one is allowed")]
    MultipleAssertions(usize),
    /// Plain assertion while encryption is required.
    #[error("the assertion is not encrypted and this IdP requires encryption")]
    NotEncrypted,
    /// Destination is not our ACS.
    #[error("Destination {found:?} is not this gateway's ACS")]
    DestinationMismatch {
        /// What the Response said.
        found: String,
    },
    /// A signed Response without Destination (profiles §4.1.4.5).
    #[error("signed Response without Destination")]
    DestinationMissing,
    /// InResponseTo does not match this browser's pending request.
    #[error("InResponseTo does not match this browser's pending request")]
    InResponseToMismatch,
    /// A response to a request while none is pending for this browser.
    #[error("InResponseTo given but no request is pending for this browser")]
    UnexpectedInResponseTo,
    /// IdP-initiated response while not allowed for this IdP.
    #[error("unsolicited responses are not allowed for this IdP")]
    UnsolicitedNotAllowed,
    /// Neither the Response nor the Assertion is signed.
    #[error("neither the Response nor the Assertion is signed")]
    Unsigned,
    /// The Response must be signed.
    #[error("the Response is not signed and this IdP requires it")]
    ResponseNotSigned,
    /// The Assertion must be signed.
    #[error("the Assertion is not signed and this IdP requires it")]
    AssertionNotSigned,
    /// Signature verification failed (bad value, unknown key, forbidden algorithm).
    #[error("signature refused: {0}")]
    Signature(String),
    /// The Response signature covers another element than the Response itself.
    #[error("the Response signature does not cover the Response")]
    SignatureNotOnRoot,
    /// Decryption of the EncryptedAssertion failed.
    #[error("cannot decrypt the assertion: {0}")]
    Decryption(String),
    /// Assertion Issuer differs from the IdP.
    #[error("Assertion Issuer {found:?} is not the expected IdP")]
    AssertionIssuerMismatch {
        /// What the Assertion said.
        found: String,
    },
    /// No AudienceRestriction.
    #[error("the assertion has no AudienceRestriction")]
    AudienceMissing,
    /// This gateway is not among the audiences.
    #[error("this gateway is not an audience of the assertion")]
    AudienceMismatch,
    /// No bearer SubjectConfirmation.
    #[error("the assertion has no bearer SubjectConfirmation")]
    NoBearerConfirmation,
    /// Recipient is not our ACS.
    #[error("SubjectConfirmationData Recipient is not this gateway's ACS")]
    RecipientMismatch,
    /// Bearer confirmation without NotOnOrAfter.
    #[error("SubjectConfirmationData has no NotOnOrAfter")]
    ConfirmationWithoutExpiry,
    /// The assertion or its confirmation has expired.
    #[error("the assertion has expired")]
    Expired,
    /// The assertion is not yet valid.
    #[error("the assertion is not yet valid")]
    NotYetValid,
    /// IssueInstant in the future or too old.
    #[error("the assertion's IssueInstant is out of bounds")]
    IssueInstant,
    /// The Response's IssueInstant in the future or too old.
    #[error("the Response's IssueInstant is out of bounds")]
    ResponseIssueInstant,
    /// No AuthnStatement.
    #[error("the assertion has no AuthnStatement")]
    NoAuthnStatement,
    /// The assertion ID was already used.
    #[error("assertion replayed")]
    Replay,
    /// The replay cache could not be written: refused (fail closed).
    #[error("replay cache unavailable: {0}")]
    StoreUnavailable(String),
    /// The mapping found no subject.
    #[error("attribute mapping failed: {0}")]
    Mapping(#[from] MapError),
}

/// What a Response claims before verification: only used to route it.
#[derive(Debug, Clone)]
pub struct ResponsePeek {
    /// The Response's Issuer.
    pub issuer: Option<String>,
    /// The Response's InResponseTo.
    pub in_response_to: Option<String>,
}

/// A login validated and mapped.
#[derive(Debug, Clone)]
pub struct UpstreamLogin {
    /// The canonical identity.
    pub identity: Identity,
    /// The NameID the IdP used (needed to log out there).
    pub name_id: Option<NameId>,
    /// The IdP's session index (needed to log out there).
    pub session_index: Option<String>,
    /// Which pending request this answered (None when unsolicited).
    pub in_response_to: Option<String>,
}

/// An upstream SAML identity provider.
pub struct SamlConnector {
    config: SamlIdpConfig,
    settings: Arc<SpSettings>,
    mapping: Mapping,
    metadata: RwLock<Arc<IdpDescriptor>>,
    guard: Arc<UpstreamGuard>,
}

impl std::fmt::Debug for SamlConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamlConnector")
            .field("id", self.config.id.get_ref())
            .finish_non_exhaustive()
    }
}

/// Checks that metadata can serve this IdP: right entity, IdP role, signing
/// key, redirect SSO endpoint.
pub fn check_metadata(
    expected_entity_id: &str,
    metadata: EntityMetadata,
) -> Result<IdpDescriptor, ConnectorError> {
    if metadata.entity_id != expected_entity_id {
        return Err(ConnectorError::EntityIdMismatch {
            expected: expected_entity_id.to_owned(),
            found: metadata.entity_id,
        });
    }
    let idp = metadata
        .idp
        .ok_or_else(|| ConnectorError::NotAnIdp(expected_entity_id.to_owned()))?;
    if idp.signing_certs.is_empty() {
        return Err(ConnectorError::NoSigningKey(expected_entity_id.to_owned()));
    }
    if !idp
        .sso
        .iter()
        .any(|e| e.binding == ns::BINDING_HTTP_REDIRECT)
    {
        return Err(ConnectorError::NoRedirectSso(expected_entity_id.to_owned()));
    }
    Ok(idp)
}

impl SamlConnector {
    /// A connector over checked metadata.
    pub fn new(
        config: SamlIdpConfig,
        mapping: Mapping,
        settings: Arc<SpSettings>,
        metadata: EntityMetadata,
    ) -> Result<Self, ConnectorError> {
        let idp = check_metadata(config.entity_id.get_ref(), metadata)?;
        let guard = Arc::new(UpstreamGuard::new(
            config.id.get_ref().clone(),
            &config.resilience,
        ));
        Ok(Self {
            guard,
            config,
            settings,
            mapping,
            metadata: RwLock::new(Arc::new(idp)),
        })
    }

    /// Configuration identifier (`educonnect`).
    pub fn id(&self) -> &str {
        self.config.id.get_ref()
    }

    /// The configuration of this IdP.
    pub fn config(&self) -> &SamlIdpConfig {
        &self.config
    }

    /// The IdP's circuit breaker, fed by its health check
    /// ([`UpstreamGuard::spawn_health_check`] with `resilience.health_url`):
    /// without one the gateway cannot see a SAML IdP go down (logins go
    /// through the browser) and the breaker stays closed.
    pub fn guard(&self) -> &Arc<UpstreamGuard> {
        &self.guard
    }

    /// Replaces the metadata after a refresh; refused metadata keeps the previous copy.
    pub fn replace_metadata(&self, metadata: EntityMetadata) -> Result<(), ConnectorError> {
        let idp = check_metadata(self.config.entity_id.get_ref(), metadata)?;
        if let Ok(mut current) = self.metadata.write() {
            *current = Arc::new(idp);
        }
        Ok(())
    }

    fn descriptor(&self) -> Result<Arc<IdpDescriptor>, ResponseError> {
        self.metadata
            .read()
            .map(|guard| Arc::clone(&guard))
            .map_err(|_| ResponseError::Malformed("metadata lock poisoned".to_owned()))
    }

    fn certs(&self) -> Result<Vec<Certificate>, ResponseError> {
        Ok(self.descriptor()?.signing_certs.clone())
    }

    /// A signed AuthnRequest over HTTP-Redirect: returns the request ID (to be
    /// bound to the browser's flow) and the URL to redirect to.
    /// `authn_contexts` replaces the configured `requested_authn_context`
    /// (a service requiring a stronger login: a step-up).
    pub fn authn_request(
        &self,
        relay_state: &str,
        force_authn: bool,
        authn_contexts: Option<&[String]>,
    ) -> Result<(String, String), ConnectorError> {
        let descriptor = self
            .metadata
            .read()
            .map(|guard| Arc::clone(&guard))
            .map_err(|_| ConnectorError::Build("metadata lock poisoned".to_owned()))?;
        let endpoint = descriptor
            .sso
            .iter()
            .find(|e| e.binding == ns::BINDING_HTTP_REDIRECT)
            .ok_or_else(|| {
                ConnectorError::NoRedirectSso(self.config.entity_id.get_ref().clone())
            })?;
        let id = ids::new_id();
        let xml = messages::build_authn_request(&AuthnRequestSpec {
            id: id.clone(),
            issuer: self.settings.entity_id.clone(),
            destination: endpoint.location.clone(),
            acs_url: Some(self.settings.acs_url.clone()),
            protocol_binding: Some(ns::BINDING_HTTP_POST.to_owned()),
            name_id_format: None,
            force_authn,
            is_passive: false,
            requested_authn_context: authn_contexts.map_or_else(
                || self.config.requested_authn_context.clone(),
                <[String]>::to_vec,
            ),
            issue_instant: Utc::now(),
        });
        let url = binding::redirect_url(
            &endpoint.location,
            MessageKind::Request,
            &xml,
            Some(relay_state),
            Some(&self.settings.signing_key),
        )
        .map_err(|err| ConnectorError::Build(err.to_string()))?;
        Ok((id, url))
    }

    /// A signed LogoutRequest to the IdP over HTTP-Redirect.
    pub fn logout_request(
        &self,
        name_id: &NameId,
        session_index: Option<&str>,
        relay_state: &str,
    ) -> Result<(String, String), ConnectorError> {
        let endpoint = self.slo_endpoint()?;
        let id = ids::new_id();
        let xml = messages::build_logout_request(&LogoutRequest {
            id: id.clone(),
            issuer: self.settings.entity_id.clone(),
            destination: Some(endpoint.clone()),
            issue_instant: Utc::now(),
            name_id: name_id.clone(),
            session_indexes: session_index.map(str::to_owned).into_iter().collect(),
            not_on_or_after: None,
        });
        let url = binding::redirect_url(
            &endpoint,
            MessageKind::Request,
            &xml,
            Some(relay_state),
            Some(&self.settings.signing_key),
        )
        .map_err(|err| ConnectorError::Build(err.to_string()))?;
        Ok((id, url))
    }

    /// The certificates this IdP signs with (for verifying its logout messages).
    pub fn signing_certs(&self) -> Vec<Certificate> {
        self.certs().unwrap_or_default()
    }

    /// The certificate of the gateway's decryption key (published in the SP metadata).
    pub fn decryption_certificate(&self) -> &Certificate {
        self.settings.decryption_key.certificate()
    }

    /// Decodes an HTTP-POST `SAMLResponse` and reads its (unverified) Issuer
    /// and InResponseTo, only to find the connector and the pending request
    /// it claims to answer. Everything is verified again by [`Self::validate`].
    pub fn peek(&self, saml_response: &str) -> Result<ResponsePeek, ResponseError> {
        let xml = binding::decode_post(saml_response, self.settings.max_message_bytes)
            .map_err(|err| ResponseError::Decode(err.to_string()))?;
        let envelope = messages::parse_response_envelope(&xml)
            .map_err(|err| ResponseError::Malformed(err.to_string()))?;
        Ok(ResponsePeek {
            issuer: envelope.issuer,
            in_response_to: envelope.in_response_to,
        })
    }

    /// A signed LogoutResponse (Success, with an optional second-level code
    /// such as PartialLogout) to the IdP's LogoutRequest, over HTTP-Redirect.
    pub fn logout_response(
        &self,
        in_response_to: &str,
        status_sub_code: Option<&str>,
        relay_state: Option<&str>,
    ) -> Result<String, ConnectorError> {
        let endpoint = self.slo_endpoint()?;
        let xml = messages::build_logout_response(&LogoutResponse {
            id: ids::new_id(),
            issuer: self.settings.entity_id.clone(),
            destination: Some(endpoint.clone()),
            in_response_to: Some(in_response_to.to_owned()),
            issue_instant: Utc::now(),
            status_code: ns::STATUS_SUCCESS.to_owned(),
            status_sub_code: status_sub_code.map(str::to_owned),
        });
        binding::redirect_url(
            &endpoint,
            MessageKind::Response,
            &xml,
            relay_state,
            Some(&self.settings.signing_key),
        )
        .map_err(|err| ConnectorError::Build(err.to_string()))
    }

    fn slo_endpoint(&self) -> Result<String, ConnectorError> {
        let descriptor = self
            .metadata
            .read()
            .map(|guard| Arc::clone(&guard))
            .map_err(|_| ConnectorError::Build("metadata lock poisoned".to_owned()))?;
        descriptor
            .slo
            .iter()
            .find(|e| e.binding == ns::BINDING_HTTP_REDIRECT)
            .map(|e| e.location.clone())
            .ok_or_else(|| ConnectorError::NoSlo(self.config.entity_id.get_ref().clone()))
    }

    /// The acceptance sequence (see the module documentation).
    /// `expected_request` is the ID of the AuthnRequest pending for this
    /// browser, already consumed from the store by the caller; None for an
    /// unsolicited response.
    pub async fn validate(
        &self,
        saml_response: &str,
        expected_request: Option<&str>,
        replay_cache: &dyn Store,
        now: DateTime<Utc>,
    ) -> Result<UpstreamLogin, ResponseError> {
        let entity_id = self.config.entity_id.get_ref().as_str();
        let settings = &self.settings;

        // 1. Binding limits.
        let xml = binding::decode_post(saml_response, settings.max_message_bytes)
            .map_err(|err| ResponseError::Decode(err.to_string()))?;

        // 2. Envelope.
        let envelope = messages::parse_response_envelope(&xml)
            .map_err(|err| ResponseError::Malformed(err.to_string()))?;
        if let Some(issuer) = &envelope.issuer
            && issuer != entity_id
        {
            return Err(ResponseError::ResponseIssuerMismatch {
                found: issuer.clone(),
            });
        }
        if envelope.status_code != ns::STATUS_SUCCESS {
            return Err(ResponseError::Status {
                code: envelope.status_code.clone(),
            });
        }
        let direct = envelope.assertions + envelope.encrypted_assertions.len();
        match (direct, count_assertion_elements(&xml)?) {
            (0, _) => return Err(ResponseError::NoAssertion),
            (1, 1) => {}
            (_, anywhere) => return Err(ResponseError::MultipleAssertions(anywhere.max(direct))),
        }
        if self.config.require_encrypted_assertion && envelope.encrypted_assertions.is_empty() {
            return Err(ResponseError::NotEncrypted);
        }
        match &envelope.destination {
            Some(destination) if destination != &settings.acs_url => {
                return Err(ResponseError::DestinationMismatch {
                    found: destination.clone(),
                });
            }
            None if envelope.signed => return Err(ResponseError::DestinationMissing),
            _ => {}
        }
        let skew = chrono::Duration::from_std(settings.clock_skew).unwrap_or_default();
        if !issue_instant_in_bounds(envelope.issue_instant, now, skew) {
            return Err(ResponseError::ResponseIssueInstant);
        }
        check_in_response_to(
            expected_request,
            envelope.in_response_to.as_deref(),
            self.config.allow_unsolicited,
        )?;

        // 3.-5. Signatures, decryption and the assertion: blocking C work
        // (libxmlsec1, RSA), done in one blocking task.
        let protection = Protection {
            response_id: envelope.id.clone(),
            response_signed: envelope.signed,
            encrypted: envelope.encrypted_assertions.clone(),
            require_signed_response: self.config.require_signed_response,
            require_signed_assertion: self.config.require_signed_assertion,
        };
        let certs = self.certs()?;
        let key = Arc::clone(&settings.decryption_key);
        let assertion = tokio::task::spawn_blocking(move || {
            verified_assertion(&xml, &protection, &certs, &key)
        })
        .await
        .map_err(|err| ResponseError::Malformed(format!("validation task failed: {err}")))??;
        self.check_assertion(&assertion, expected_request, now)?;

        // 6. Replay cache.
        let expiry = assertion_expiry(&assertion).unwrap_or(now);
        let ttl = (expiry - now)
            .to_std()
            .unwrap_or_default()
            .max(Duration::from_secs(60))
            + settings.clock_skew;
        let key = format!("replay:{}:{}", self.id(), assertion.id);
        let fresh = replay_cache
            .insert_new(&key, b"1", ttl)
            .await
            .map_err(|err| ResponseError::StoreUnavailable(err.to_string()))?;
        if !fresh {
            return Err(ResponseError::Replay);
        }

        // 7. Mapping.
        let authn = assertion.authn_statements.first();
        let authn_instant = authn.map_or(now, |a| a.authn_instant).timestamp();
        let upstream = attribute_map(&assertion);
        let name_id = assertion.name_id.clone();
        let mut identity = self.mapping.apply(
            self.id(),
            name_id.as_ref().map(|n| n.value.as_str()),
            &upstream,
            authn_instant,
        )?;
        identity.authn_context = authn.and_then(|a| a.authn_context_class_ref.clone());
        Ok(UpstreamLogin {
            identity,
            name_id,
            session_index: authn.and_then(|a| a.session_index.clone()),
            in_response_to: expected_request.map(str::to_owned),
        })
    }

    fn check_assertion(
        &self,
        assertion: &Assertion,
        expected_request: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), ResponseError> {
        let skew = chrono::Duration::from_std(self.settings.clock_skew).unwrap_or_default();
        let entity_id = self.config.entity_id.get_ref();
        if &assertion.issuer != entity_id {
            return Err(ResponseError::AssertionIssuerMismatch {
                found: assertion.issuer.clone(),
            });
        }
        if !issue_instant_in_bounds(assertion.issue_instant, now, skew) {
            return Err(ResponseError::IssueInstant);
        }
        let conditions = assertion
            .conditions
            .as_ref()
            .ok_or(ResponseError::AudienceMissing)?;
        if conditions.audiences.is_empty() {
            return Err(ResponseError::AudienceMissing);
        }
        if !conditions
            .audiences
            .iter()
            .any(|audience| audience == &self.settings.entity_id)
        {
            return Err(ResponseError::AudienceMismatch);
        }
        if let Some(not_before) = conditions.not_before
            && not_before > now + skew
        {
            return Err(ResponseError::NotYetValid);
        }
        if let Some(not_on_or_after) = conditions.not_on_or_after
            && not_on_or_after <= now - skew
        {
            return Err(ResponseError::Expired);
        }
        let bearers: Vec<_> = assertion
            .subject_confirmations
            .iter()
            .filter(|c| c.method == ns::CM_BEARER)
            .collect();
        if bearers.is_empty() {
            return Err(ResponseError::NoBearerConfirmation);
        }
        // Every check must hold for one and the same bearer confirmation.
        let mut last_error = ResponseError::NoBearerConfirmation;
        for bearer in bearers {
            match check_bearer(bearer, &self.settings.acs_url, expected_request, now, skew) {
                Ok(()) => {
                    if assertion.authn_statements.is_empty() {
                        return Err(ResponseError::NoAuthnStatement);
                    }
                    return Ok(());
                }
                Err(err) => last_error = err,
            }
        }
        Err(last_error)
    }
}

fn check_bearer(
    bearer: &messages::SubjectConfirmation,
    acs_url: &str,
    expected_request: Option<&str>,
    now: DateTime<Utc>,
    skew: chrono::Duration,
) -> Result<(), ResponseError> {
    if bearer.recipient.as_deref() != Some(acs_url) {
        return Err(ResponseError::RecipientMismatch);
    }
    let not_on_or_after = bearer
        .not_on_or_after
        .ok_or(ResponseError::ConfirmationWithoutExpiry)?;
    if not_on_or_after <= now - skew {
        return Err(ResponseError::Expired);
    }
    if let Some(not_before) = bearer.not_before
        && not_before > now + skew
    {
        return Err(ResponseError::NotYetValid);
    }
    if bearer.in_response_to.as_deref() != expected_request {
        return Err(ResponseError::InResponseToMismatch);
    }
    Ok(())
}

fn check_in_response_to(
    expected: Option<&str>,
    found: Option<&str>,
    allow_unsolicited: bool,
) -> Result<(), ResponseError> {
    match (expected, found) {
        (Some(expected), Some(found)) if expected == found => Ok(()),
        (Some(_), _) => Err(ResponseError::InResponseToMismatch),
        (None, Some(_)) => Err(ResponseError::UnexpectedInResponseTo),
        (None, None) if allow_unsolicited => Ok(()),
        (None, None) => Err(ResponseError::UnsolicitedNotAllowed),
    }
}

/// An IssueInstant neither in the future nor older than [`MAX_ISSUE_AGE`],
/// both with the clock skew.
fn issue_instant_in_bounds(
    issue_instant: DateTime<Utc>,
    now: DateTime<Utc>,
    skew: chrono::Duration,
) -> bool {
    issue_instant <= now + skew && issue_instant >= now - skew - MAX_ISSUE_AGE
}

/// Number of `saml:Assertion` and `saml:EncryptedAssertion` elements at any
/// depth of `xml` (which already passed the binding's untrusted-XML checks),
/// matched by namespace URI and local name whatever the prefix.
fn count_assertion_elements(xml: &str) -> Result<usize, ResponseError> {
    let mut reader = NsReader::from_str(xml);
    let mut count = 0;
    loop {
        let (namespace, event) = reader
            .read_resolved_event()
            .map_err(|err| ResponseError::Malformed(err.to_string()))?;
        match event {
            Event::Start(element) | Event::Empty(element) => {
                let in_assertion_ns = matches!(
                    namespace,
                    ResolveResult::Bound(Namespace(uri)) if uri == ns::ASSERTION.as_bytes()
                );
                if in_assertion_ns
                    && matches!(
                        element.local_name().as_ref(),
                        b"Assertion" | b"EncryptedAssertion"
                    )
                {
                    count += 1;
                }
            }
            Event::Eof => return Ok(count),
            _ => {}
        }
    }
}

fn assertion_expiry(assertion: &Assertion) -> Option<DateTime<Utc>> {
    let from_conditions = assertion
        .conditions
        .as_ref()
        .and_then(|c| c.not_on_or_after);
    let from_bearer = assertion
        .subject_confirmations
        .iter()
        .filter_map(|c| c.not_on_or_after)
        .max();
    from_conditions.into_iter().chain(from_bearer).max()
}

/// How the Response says its assertion is protected, and what this IdP's
/// configuration requires.
struct Protection {
    response_id: String,
    response_signed: bool,
    encrypted: Vec<String>,
    require_signed_response: bool,
    require_signed_assertion: bool,
}

/// Steps 3 to 5 of the sequence: the Response signature (which must sit on
/// the Response itself), decryption, then the assertion read from verified
/// content only.
fn verified_assertion(
    xml: &str,
    protection: &Protection,
    certs: &[Certificate],
    decryption_key: &SigningKey,
) -> Result<Assertion, ResponseError> {
    let verify = |document: &str| {
        dsig::verify_and_reduce(document, certs)
            .map_err(|err| ResponseError::Signature(err.to_string()))
    };
    let malformed = |err: messages::MessageError| ResponseError::Malformed(err.to_string());
    let mut source = xml.to_owned();
    let mut encrypted = protection.encrypted.clone();
    if protection.response_signed {
        let reduced = verify(xml)?;
        let signed_envelope = messages::parse_response_envelope(&reduced)
            .map_err(|_| ResponseError::SignatureNotOnRoot)?;
        if signed_envelope.id != protection.response_id {
            return Err(ResponseError::SignatureNotOnRoot);
        }
        encrypted = signed_envelope.encrypted_assertions;
        source = reduced;
    } else if protection.require_signed_response {
        return Err(ResponseError::ResponseNotSigned);
    }
    if let Some(encrypted_assertion) = encrypted.first() {
        source = encryption::decrypt_assertion(encrypted_assertion, decryption_key)
            .map_err(|err| ResponseError::Decryption(err.to_string()))?;
    }
    let assertion_signed = messages::parse_assertion(&source)
        .map_err(malformed)?
        .signed;
    let verified = if assertion_signed {
        verify(&source)?
    } else if !protection.response_signed {
        return Err(ResponseError::Unsigned);
    } else if protection.require_signed_assertion {
        return Err(ResponseError::AssertionNotSigned);
    } else {
        source
    };
    messages::parse_assertion(&verified).map_err(malformed)
}

/// The assertion's attributes by name; repeated Attribute elements merge.
fn attribute_map(assertion: &Assertion) -> UpstreamAttributes {
    let mut map = BTreeMap::new();
    for attribute in &assertion.attributes {
        map.entry(attribute.name.clone())
            .or_insert_with(Vec::new)
            .extend(attribute.values.iter().cloned());
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assertions_are_counted_at_any_depth_whatever_the_prefix() {
        let one = format!(
            r#"<p:Response xmlns:p="{}" xmlns:a="{}"><a:Assertion ID="_1"/></p:Response>"#,
            ns::PROTOCOL,
            ns::ASSERTION
        );
        assert_eq!(count_assertion_elements(&one).unwrap(), 1);
        let hidden = one.replace(
            "</p:Response>",
            &format!(
                r#"<p:Extensions><Assertion xmlns="{}" ID="_2"><x/></Assertion></p:Extensions></p:Response>"#,
                ns::ASSERTION
            ),
        );
        assert_eq!(count_assertion_elements(&hidden).unwrap(), 2);
        let encrypted = one.replace("</p:Response>", "<a:EncryptedAssertion/></p:Response>");
        assert_eq!(count_assertion_elements(&encrypted).unwrap(), 2);
    }

    #[test]
    fn same_local_name_in_another_namespace_is_not_counted() {
        let xml = format!(
            r#"<p:Response xmlns:p="{}" xmlns:a="{}"><a:Assertion ID="_1"/><Assertion xmlns="urn:other"/></p:Response>"#,
            ns::PROTOCOL,
            ns::ASSERTION
        );
        assert_eq!(count_assertion_elements(&xml).unwrap(), 1);
    }

    #[test]
    fn issue_instant_bounds_include_the_skew() {
        let now = Utc::now();
        let skew = chrono::Duration::seconds(60);
        assert!(issue_instant_in_bounds(now + skew, now, skew));
        assert!(!issue_instant_in_bounds(
            now + skew + chrono::Duration::seconds(1),
            now,
            skew
        ));
        assert!(issue_instant_in_bounds(
            now - skew - MAX_ISSUE_AGE,
            now,
            skew
        ));
        assert!(!issue_instant_in_bounds(
            now - skew - MAX_ISSUE_AGE - chrono::Duration::seconds(1),
            now,
            skew
        ));
    }
}
