//! `samlp:Response` (saml-core §3.3.3, §3.2.2): the envelope around assertions.
//! The builder embeds an already signed (and possibly encrypted) assertion
//! byte for byte; the envelope parser reports what a Response holds before any
//! decryption or signature decision is taken.

use chrono::{DateTime, Utc};

use super::{
    MessageError, attr_xml, check_version, issuer, issuer_xml, optional_attr, parse_root,
    parse_status, protocol_root_open, required_id, status_xml,
};
use crate::ns;
use crate::xml::MAX_MESSAGE_LEN;
use crate::xml::tree;

/// What to put in a Response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseSpec {
    /// The Response ID.
    pub id: String,
    /// Our (IdP) entity ID.
    pub issuer: String,
    /// `IssueInstant`.
    pub issue_instant: DateTime<Utc>,
    /// The ACS URL.
    pub destination: String,
    /// The AuthnRequest ID answered, if any.
    pub in_response_to: Option<String>,
    /// Top-level status code URI.
    pub status_code: String,
    /// Second-level status code URI (e.g. NoPassive under Responder).
    pub status_sub_code: Option<String>,
    /// `StatusMessage`.
    pub status_message: Option<String>,
}

/// Builds a samlp:Response wrapping the given signed `saml:Assertion` or
/// `saml:EncryptedAssertion` XML (embedded unchanged, without its XML
/// declaration), or no assertion (`None`) for an error status.
pub fn build_response(
    spec: &ResponseSpec,
    assertion_xml: Option<&str>,
) -> Result<String, MessageError> {
    let embedded = match assertion_xml {
        Some(xml) => {
            let root = tree::parse(xml, MAX_MESSAGE_LEN)?;
            if !root.is(ns::ASSERTION, "Assertion") && !root.is(ns::ASSERTION, "EncryptedAssertion")
            {
                return Err(MessageError::UnexpectedEmbeddedElement {
                    expected: "saml:Assertion or saml:EncryptedAssertion",
                    found_ns: root.ns.clone().unwrap_or_default(),
                    found: root.local.clone(),
                });
            }
            root.standalone_xml(xml).unwrap_or_default()
        }
        None => String::new(),
    };
    let attrs = format!(
        "{}{}",
        attr_xml("Destination", Some(&spec.destination)),
        attr_xml("InResponseTo", spec.in_response_to.as_deref())
    );
    let mut xml = protocol_root_open("Response", &spec.id, &spec.issue_instant, &attrs);
    xml.push_str(&issuer_xml(&spec.issuer));
    xml.push_str(&status_xml(
        &spec.status_code,
        spec.status_sub_code.as_deref(),
        spec.status_message.as_deref(),
    ));
    xml.push_str(&embedded);
    xml.push_str("</samlp:Response>");
    Ok(xml)
}

/// What a received Response holds, read before any decryption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseEnvelope {
    /// `ID`.
    pub id: String,
    /// `Issuer` (optional on a Response).
    pub issuer: Option<String>,
    /// `Destination`.
    pub destination: Option<String>,
    /// `InResponseTo`.
    pub in_response_to: Option<String>,
    /// `IssueInstant`.
    pub issue_instant: DateTime<Utc>,
    /// Top-level `StatusCode/@Value`.
    pub status_code: String,
    /// Second-level `StatusCode/@Value`.
    pub status_sub_code: Option<String>,
    /// `StatusMessage`.
    pub status_message: Option<String>,
    /// True when the Response has a `ds:Signature` child.
    pub signed: bool,
    /// Number of clear `saml:Assertion` children.
    pub assertions: usize,
    /// Each `saml:EncryptedAssertion` child as standalone XML text.
    pub encrypted_assertions: Vec<String>,
}

/// Parses the envelope of a samlp:Response.
pub fn parse_response_envelope(xml: &str) -> Result<ResponseEnvelope, MessageError> {
    let root = parse_root(xml, ns::PROTOCOL, "Response")?;
    check_version(&root)?;
    let status = parse_status(&root)?;
    let encrypted_assertions = root
        .children_named(ns::ASSERTION, "EncryptedAssertion")
        .filter_map(|e| e.standalone_xml(xml))
        .collect();
    Ok(ResponseEnvelope {
        id: required_id(&root)?,
        issuer: issuer(&root)?,
        destination: optional_attr(&root, "Destination"),
        in_response_to: optional_attr(&root, "InResponseTo"),
        issue_instant: root.required_time_attr("IssueInstant")?,
        status_code: status.code,
        status_sub_code: status.sub_code,
        status_message: status.message,
        signed: root.has_signature(),
        assertions: root.children_named(ns::ASSERTION, "Assertion").count(),
        encrypted_assertions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::SchemaError;
    use chrono::TimeZone;

    fn spec() -> ResponseSpec {
        ResponseSpec {
            id: "_resp".into(),
            issuer: "https://idp.example".into(),
            issue_instant: Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0).unwrap(),
            destination: "https://sp.example/acs".into(),
            in_response_to: Some("_req".into()),
            status_code: ns::STATUS_RESPONDER.into(),
            status_sub_code: Some(ns::STATUS_NO_PASSIVE.into()),
            status_message: Some("Pas de session".into()),
        }
    }

    #[test]
    fn error_response_round_trip() {
        let spec = spec();
        let env = parse_response_envelope(&build_response(&spec, None).unwrap()).unwrap();
        assert_eq!(env.id, spec.id);
        assert_eq!(env.issuer.as_deref(), Some(spec.issuer.as_str()));
        assert_eq!(env.destination.as_deref(), Some(spec.destination.as_str()));
        assert_eq!(env.in_response_to, spec.in_response_to);
        assert_eq!(env.issue_instant, spec.issue_instant);
        assert_eq!(env.status_code, spec.status_code);
        assert_eq!(env.status_sub_code, spec.status_sub_code);
        assert_eq!(env.status_message, spec.status_message);
        assert!(!env.signed);
        assert_eq!(env.assertions, 0);
        assert!(env.encrypted_assertions.is_empty());
    }

    #[test]
    fn embedded_element_must_be_an_assertion() {
        let ok = r#"<?xml version="1.0"?><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a" Version="2.0" IssueInstant="2026-11-27T08:00:00Z"><saml:Issuer>i</saml:Issuer></saml:Assertion>"#;
        let response = build_response(&spec(), Some(ok)).unwrap();
        assert!(!response.contains("<?xml"));
        assert_eq!(parse_response_envelope(&response).unwrap().assertions, 1);
        assert!(matches!(
            build_response(&spec(), Some("<evil/>")),
            Err(MessageError::UnexpectedEmbeddedElement { .. })
        ));
    }

    #[test]
    fn encrypted_assertions_are_cut_out_with_their_namespaces() {
        let xml = format!(
            r#"<p:Response xmlns:p="{}" xmlns:a="{}" ID="_r" Version="2.0" IssueInstant="2026-11-27T08:00:00Z"><p:Status><p:StatusCode Value="{}"/></p:Status><a:EncryptedAssertion><x/></a:EncryptedAssertion></p:Response>"#,
            ns::PROTOCOL,
            ns::ASSERTION,
            ns::STATUS_SUCCESS
        );
        let env = parse_response_envelope(&xml).unwrap();
        assert_eq!(env.encrypted_assertions.len(), 1);
        let alone = &env.encrypted_assertions[0];
        assert!(alone.starts_with("<a:EncryptedAssertion"));
        assert!(alone.contains(&format!("xmlns:a=\"{}\"", ns::ASSERTION)));
        assert!(crate::xml::check_untrusted(alone, 1000).is_ok());
    }

    #[test]
    fn missing_status_is_refused() {
        let ok = build_response(&spec(), None).unwrap();
        assert!(parse_response_envelope(&ok).is_ok());
        let start = ok.find("<samlp:Status>").unwrap();
        let end = ok.find("</samlp:Status>").unwrap() + "</samlp:Status>".len();
        let broken = format!("{}{}", &ok[..start], &ok[end..]);
        assert!(matches!(
            parse_response_envelope(&broken),
            Err(MessageError::Schema(SchemaError::MissingElement { .. }))
        ));
    }
}
