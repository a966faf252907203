//! Building the signed SAML Response the gateway issues to a service
//! (saml-core §2.3.3, §3.3.3; saml-profiles §4.1.4.2): the Assertion is
//! signed (enveloped, exc-c14n, SHA-256, RSA-SHA256), embedded, and the
//! Response signed too when the service asks for it. Pure CPU work with no
//! I/O, run in `spawn_blocking` by the web layer and measured by the
//! `issue` benchmark.

use sso_saml::dsig;
use sso_saml::keys::SigningKey;
use sso_saml::messages::{self, AssertionSpec, ResponseSpec};

/// Why a Response could not be built.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// Signing failed (key or libxmlsec1 problem).
    #[error("signing failed: {0}")]
    Sign(#[from] dsig::DsigError),
    /// The Response could not be assembled.
    #[error("building the Response failed: {0}")]
    Build(#[from] messages::MessageError),
}

/// The Response carrying the signed Assertion, itself signed when
/// `sign_response` is set.
pub fn signed_response(
    assertion: &AssertionSpec,
    response: &ResponseSpec,
    sign_response: bool,
    key: &SigningKey,
) -> Result<String, IssueError> {
    let signed_assertion =
        dsig::sign_enveloped(&messages::build_assertion(assertion), &assertion.id, key)?;
    let xml = messages::build_response(response, Some(&signed_assertion))?;
    if sign_response {
        Ok(dsig::sign_enveloped(&xml, &response.id, key)?)
    } else {
        Ok(xml)
    }
}
