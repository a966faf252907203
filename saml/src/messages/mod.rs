//! SAML 2.0 protocol messages and assertions (saml-core §2, §3): builders that
//! write unsigned XML text in schema order (`Issuer`, then the slot where
//! [`dsig::sign_enveloped`](crate::dsig::sign_enveloped) puts the signature,
//! then the rest) with every value escaped, and parsers that match elements by
//! namespace URI and local name, refuse repeated elements the schema allows
//! once, and refuse comments or child elements where text is expected.
//!
//! Parsers read what they are given: feed them the output of
//! [`dsig::verify_and_reduce`](crate::dsig::verify_and_reduce) to read signed
//! content only. Policy (time windows, audience, destination, replay) belongs
//! to the callers.

mod assertion;
mod authn_request;
mod logout;
mod response;
mod soap;

pub use assertion::{
    Assertion, AssertionSpec, AuthnStatement, Conditions, SubjectConfirmation, build_assertion,
    parse_assertion,
};
pub use authn_request::{AuthnRequest, AuthnRequestSpec, build_authn_request, parse_authn_request};
pub use logout::{
    LogoutRequest, LogoutResponse, build_logout_request, build_logout_response,
    parse_logout_request, parse_logout_response,
};
pub use response::{ResponseEnvelope, ResponseSpec, build_response, parse_response_envelope};
pub use soap::{unwrap_soap, wrap_soap};

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::ns;
use crate::xml::tree::{self, Element};
use crate::xml::{MAX_MESSAGE_LEN, SchemaError, XmlError, escape_attr, escape_text};

/// Why a message could not be read or built.
#[derive(Debug, Error)]
pub enum MessageError {
    /// The document failed the untrusted-XML checks.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// The document does not follow the SAML schema (missing, repeated or
    /// misplaced element, bad value, comment inside a value, ...).
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// The `Version` attribute is not 2.0.
    #[error("{element} has Version {version:?}, only 2.0 is supported")]
    UnsupportedVersion {
        /// The element.
        element: String,
        /// The version found.
        version: String,
    },
    /// A Response holds zero or several `saml:Assertion`.
    #[error("the Response holds {count} saml:Assertion elements, exactly one is required")]
    AssertionCount {
        /// How many were found.
        count: usize,
    },
    /// A Subject identifies its principal other than with a clear `saml:NameID`.
    #[error("subject identifier {found} is not supported (only saml:NameID)")]
    UnsupportedIdentifier {
        /// The element found.
        found: String,
    },
    /// An encrypted attribute (not supported: the whole assertion is encrypted instead).
    #[error("saml:EncryptedAttribute is not supported")]
    EncryptedAttribute,
    /// A condition this crate does not understand: the assertion's validity
    /// would be indeterminate (saml-core §2.5.1).
    #[error("condition {found} is not understood, the assertion cannot be accepted")]
    UnsupportedCondition {
        /// The element found.
        found: String,
    },
    /// The embedded XML of a builder is not what it must be.
    #[error("embedded XML must be a {expected}, found {{{found_ns}}}{found}")]
    UnexpectedEmbeddedElement {
        /// What was expected.
        expected: &'static str,
        /// Namespace of the element given.
        found_ns: String,
        /// Local name of the element given.
        found: String,
    },
    /// A SOAP envelope carries a fault.
    #[error("SOAP fault {code}: {reason}")]
    SoapFault {
        /// The `faultcode`.
        code: String,
        /// The `faultstring`.
        reason: String,
    },
    /// A SOAP header block must be understood and is not.
    #[error("SOAP header {header} has mustUnderstand set and is not understood")]
    SoapMustUnderstand {
        /// The header block.
        header: String,
    },
}

/// A `saml:NameID`: the subject's identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameId {
    /// The identifier (text content, surrounding whitespace removed).
    pub value: String,
    /// The `Format` URI.
    pub format: Option<String>,
    /// The `NameQualifier` (usually the IdP entity ID).
    pub name_qualifier: Option<String>,
    /// The `SPNameQualifier` (usually the SP entity ID).
    pub sp_name_qualifier: Option<String>,
}

/// A `saml:Attribute` with text values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlAttribute {
    /// The `Name` (a URN for ÉduConnect's uri format).
    pub name: String,
    /// The `NameFormat` URI.
    pub name_format: Option<String>,
    /// The `FriendlyName`.
    pub friendly_name: Option<String>,
    /// The text of each `AttributeValue`, in order (exact text, not trimmed).
    pub values: Vec<String>,
}

/// A parsed message and whether it carried a `ds:Signature` child (which says
/// nothing about its validity: verify with [`crate::dsig`] first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received<T> {
    /// The message.
    pub message: T,
    /// True when the root element has a `ds:Signature` child.
    pub signed: bool,
}

/// Reads `xml` (after [`check_untrusted`]) and checks its root element.
fn parse_root(xml: &str, ns: &str, local: &'static str) -> Result<Element, MessageError> {
    let root = tree::parse(xml, MAX_MESSAGE_LEN)?;
    root.require_name(ns, local)?;
    Ok(root)
}

fn check_version(element: &Element) -> Result<(), MessageError> {
    let version = element.required_attr("Version")?;
    if version != ns::SAML_VERSION {
        return Err(MessageError::UnsupportedVersion {
            element: element.name(),
            version: version.to_owned(),
        });
    }
    Ok(())
}

fn required_id(element: &Element) -> Result<String, MessageError> {
    Ok(element.required_attr("ID")?.to_owned())
}

fn optional_attr(element: &Element, name: &str) -> Option<String> {
    element.attr(name).map(str::to_owned)
}

fn issuer(element: &Element) -> Result<Option<String>, MessageError> {
    Ok(element.optional_child_text(ns::ASSERTION, "Issuer")?)
}

fn required_issuer(element: &Element) -> Result<String, MessageError> {
    Ok(element
        .required_child(ns::ASSERTION, "Issuer")?
        .trimmed_text()?)
}

fn parse_name_id(element: &Element) -> Result<NameId, MessageError> {
    Ok(NameId {
        value: element.trimmed_text()?,
        format: optional_attr(element, "Format"),
        name_qualifier: optional_attr(element, "NameQualifier"),
        sp_name_qualifier: optional_attr(element, "SPNameQualifier"),
    })
}

/// ` name="value"` when the value is present, escaped.
fn attr_xml(name: &str, value: Option<&str>) -> String {
    value
        .map(|v| format!(" {name}=\"{}\"", escape_attr(v)))
        .unwrap_or_default()
}

fn time_attr_xml(name: &str, value: Option<&DateTime<Utc>>) -> String {
    attr_xml(name, value.map(crate::time::format).as_deref())
}

fn issuer_xml(issuer: &str) -> String {
    format!("<saml:Issuer>{}</saml:Issuer>", escape_text(issuer))
}

fn name_id_xml(name_id: &NameId) -> String {
    format!(
        "<saml:NameID{}{}{}>{}</saml:NameID>",
        attr_xml("Format", name_id.format.as_deref()),
        attr_xml("NameQualifier", name_id.name_qualifier.as_deref()),
        attr_xml("SPNameQualifier", name_id.sp_name_qualifier.as_deref()),
        escape_text(&name_id.value)
    )
}

/// `samlp:Status` of a StatusResponseType message.
#[derive(Debug)]
struct Status {
    code: String,
    sub_code: Option<String>,
    message: Option<String>,
}

fn parse_status(element: &Element) -> Result<Status, MessageError> {
    let status = element.required_child(ns::PROTOCOL, "Status")?;
    let code = status.required_child(ns::PROTOCOL, "StatusCode")?;
    let sub_code = code
        .optional_child(ns::PROTOCOL, "StatusCode")?
        .map(|sub| sub.required_attr("Value").map(str::to_owned))
        .transpose()?;
    Ok(Status {
        code: code.required_attr("Value")?.to_owned(),
        sub_code,
        message: status.optional_child_text(ns::PROTOCOL, "StatusMessage")?,
    })
}

fn status_xml(code: &str, sub_code: Option<&str>, message: Option<&str>) -> String {
    let code_xml = match sub_code {
        Some(sub) => format!(
            "<samlp:StatusCode Value=\"{}\"><samlp:StatusCode Value=\"{}\"/></samlp:StatusCode>",
            escape_attr(code),
            escape_attr(sub)
        ),
        None => format!("<samlp:StatusCode Value=\"{}\"/>", escape_attr(code)),
    };
    let message_xml = message
        .map(|m| {
            format!(
                "<samlp:StatusMessage>{}</samlp:StatusMessage>",
                escape_text(m)
            )
        })
        .unwrap_or_default();
    format!("<samlp:Status>{code_xml}{message_xml}</samlp:Status>")
}

/// Opening of a protocol message root: prefixes `samlp` and `saml` declared.
fn protocol_root_open(
    local: &str,
    id: &str,
    issue_instant: &DateTime<Utc>,
    extra_attrs: &str,
) -> String {
    format!(
        "<samlp:{local} xmlns:samlp=\"{}\" xmlns:saml=\"{}\" ID=\"{}\" Version=\"2.0\" IssueInstant=\"{}\"{extra_attrs}>",
        ns::PROTOCOL,
        ns::ASSERTION,
        escape_attr(id),
        crate::time::format(issue_instant),
    )
}
