//! `samlp:AuthnRequest` (saml-core §3.4.1): built by the upstream connector
//! (gateway as SP) and read by the downstream IdP (gateway as IdP).

use chrono::{DateTime, Utc};

use super::{
    MessageError, attr_xml, check_version, issuer, issuer_xml, optional_attr, parse_root,
    protocol_root_open, required_id,
};
use crate::ns;
use crate::xml::{escape_attr, escape_text};

/// What to put in an AuthnRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnRequestSpec {
    /// The request ID (see [`crate::ids::new_id`]).
    pub id: String,
    /// Our entity ID.
    pub issuer: String,
    /// The IdP endpoint the request is sent to.
    pub destination: String,
    /// `AssertionConsumerServiceURL`.
    pub acs_url: Option<String>,
    /// `ProtocolBinding` for the response (usually HTTP-POST).
    pub protocol_binding: Option<String>,
    /// `NameIDPolicy/@Format` (with `AllowCreate="true"`).
    pub name_id_format: Option<String>,
    /// `ForceAuthn`.
    pub force_authn: bool,
    /// `IsPassive`.
    pub is_passive: bool,
    /// `RequestedAuthnContext/AuthnContextClassRef` values (comparison "exact").
    pub requested_authn_context: Vec<String>,
    /// `IssueInstant`.
    pub issue_instant: DateTime<Utc>,
}

/// Builds an unsigned AuthnRequest.
pub fn build_authn_request(spec: &AuthnRequestSpec) -> String {
    let mut attrs = attr_xml("Destination", Some(&spec.destination));
    if spec.force_authn {
        attrs.push_str(" ForceAuthn=\"true\"");
    }
    if spec.is_passive {
        attrs.push_str(" IsPassive=\"true\"");
    }
    attrs.push_str(&attr_xml(
        "AssertionConsumerServiceURL",
        spec.acs_url.as_deref(),
    ));
    attrs.push_str(&attr_xml(
        "ProtocolBinding",
        spec.protocol_binding.as_deref(),
    ));
    let mut xml = protocol_root_open("AuthnRequest", &spec.id, &spec.issue_instant, &attrs);
    xml.push_str(&issuer_xml(&spec.issuer));
    if let Some(format) = &spec.name_id_format {
        xml.push_str(&format!(
            "<samlp:NameIDPolicy Format=\"{}\" AllowCreate=\"true\"/>",
            escape_attr(format)
        ));
    }
    if !spec.requested_authn_context.is_empty() {
        xml.push_str("<samlp:RequestedAuthnContext Comparison=\"exact\">");
        for class in &spec.requested_authn_context {
            xml.push_str(&format!(
                "<saml:AuthnContextClassRef>{}</saml:AuthnContextClassRef>",
                escape_text(class)
            ));
        }
        xml.push_str("</samlp:RequestedAuthnContext>");
    }
    xml.push_str("</samlp:AuthnRequest>");
    xml
}

/// A received AuthnRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnRequest {
    /// `ID`.
    pub id: String,
    /// `Issuer` (the SP entity ID).
    pub issuer: Option<String>,
    /// `Destination`.
    pub destination: Option<String>,
    /// `IssueInstant`.
    pub issue_instant: DateTime<Utc>,
    /// `AssertionConsumerServiceURL`.
    pub acs_url: Option<String>,
    /// `AssertionConsumerServiceIndex`.
    pub acs_index: Option<u16>,
    /// `ProtocolBinding`.
    pub protocol_binding: Option<String>,
    /// `NameIDPolicy/@Format`.
    pub name_id_format: Option<String>,
    /// `ForceAuthn` (false when absent).
    pub force_authn: bool,
    /// `IsPassive` (false when absent).
    pub is_passive: bool,
    /// `RequestedAuthnContext/AuthnContextClassRef` values.
    pub requested_authn_context: Vec<String>,
    /// `RequestedAuthnContext/@Comparison` ("exact" when absent and a context is requested).
    pub requested_authn_comparison: Option<String>,
    /// True when the root has a `ds:Signature` child.
    pub signed: bool,
}

/// Parses an AuthnRequest.
pub fn parse_authn_request(xml: &str) -> Result<AuthnRequest, MessageError> {
    let root = parse_root(xml, ns::PROTOCOL, "AuthnRequest")?;
    check_version(&root)?;
    let name_id_format = root
        .optional_child(ns::PROTOCOL, "NameIDPolicy")?
        .and_then(|policy| optional_attr(policy, "Format"));
    let (requested_authn_context, requested_authn_comparison) =
        match root.optional_child(ns::PROTOCOL, "RequestedAuthnContext")? {
            Some(requested) => (
                requested
                    .children_named(ns::ASSERTION, "AuthnContextClassRef")
                    .map(|c| c.trimmed_text())
                    .collect::<Result<Vec<_>, _>>()?,
                Some(requested.attr("Comparison").unwrap_or("exact").to_owned()),
            ),
            None => (Vec::new(), None),
        };
    Ok(AuthnRequest {
        id: required_id(&root)?,
        issuer: issuer(&root)?,
        destination: optional_attr(&root, "Destination"),
        issue_instant: root.required_time_attr("IssueInstant")?,
        acs_url: optional_attr(&root, "AssertionConsumerServiceURL"),
        acs_index: root.u16_attr("AssertionConsumerServiceIndex")?,
        protocol_binding: optional_attr(&root, "ProtocolBinding"),
        name_id_format,
        force_authn: root.bool_attr("ForceAuthn")?.unwrap_or(false),
        is_passive: root.bool_attr("IsPassive")?.unwrap_or(false),
        requested_authn_context,
        requested_authn_comparison,
        signed: root.has_signature(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::SchemaError;
    use chrono::TimeZone;

    fn spec() -> AuthnRequestSpec {
        AuthnRequestSpec {
            id: "_req1".into(),
            issuer: "https://gateway.example/sp".into(),
            destination: "https://idp.example/sso?x=1&y=2".into(),
            acs_url: Some("https://gateway.example/acs".into()),
            protocol_binding: Some(ns::BINDING_HTTP_POST.into()),
            name_id_format: Some(ns::NAMEID_PERSISTENT.into()),
            force_authn: true,
            is_passive: false,
            requested_authn_context: vec![ns::AC_PASSWORD_PROTECTED_TRANSPORT.into()],
            issue_instant: Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0).unwrap(),
        }
    }

    #[test]
    fn round_trip() {
        let spec = spec();
        let parsed = parse_authn_request(&build_authn_request(&spec)).unwrap();
        assert_eq!(parsed.id, spec.id);
        assert_eq!(parsed.issuer.as_deref(), Some(spec.issuer.as_str()));
        assert_eq!(
            parsed.destination.as_deref(),
            Some(spec.destination.as_str())
        );
        assert_eq!(parsed.issue_instant, spec.issue_instant);
        assert_eq!(parsed.acs_url, spec.acs_url);
        assert_eq!(parsed.acs_index, None);
        assert_eq!(parsed.protocol_binding, spec.protocol_binding);
        assert_eq!(parsed.name_id_format, spec.name_id_format);
        assert!(parsed.force_authn);
        assert!(!parsed.is_passive);
        assert_eq!(parsed.requested_authn_context, spec.requested_authn_context);
        assert_eq!(parsed.requested_authn_comparison.as_deref(), Some("exact"));
        assert!(!parsed.signed);
    }

    #[test]
    fn other_prefixes_and_index_are_read() {
        let xml = r#"<p:AuthnRequest xmlns:p="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r" Version="2.0" IssueInstant="2026-11-27T08:00:00Z" AssertionConsumerServiceIndex="3" IsPassive="1"><a:Issuer xmlns:a="urn:oasis:names:tc:SAML:2.0:assertion"> https://sp </a:Issuer></p:AuthnRequest>"#;
        let parsed = parse_authn_request(xml).unwrap();
        assert_eq!(parsed.acs_index, Some(3));
        assert!(parsed.is_passive);
        assert_eq!(parsed.issuer.as_deref(), Some("https://sp"));
    }

    #[test]
    fn two_issuers_are_refused() {
        let ok = build_authn_request(&spec());
        assert!(parse_authn_request(&ok).is_ok());
        let doubled = ok.replace(
            "</saml:Issuer>",
            "</saml:Issuer><saml:Issuer>https://evil</saml:Issuer>",
        );
        assert!(matches!(
            parse_authn_request(&doubled),
            Err(MessageError::Schema(SchemaError::DuplicateElement { .. }))
        ));
    }

    #[test]
    fn wrong_version_and_wrong_namespace_are_refused() {
        let ok = build_authn_request(&spec());
        assert!(matches!(
            parse_authn_request(&ok.replace("Version=\"2.0\"", "Version=\"1.1\"")),
            Err(MessageError::UnsupportedVersion { .. })
        ));
        assert!(matches!(
            parse_authn_request(&ok.replace(ns::PROTOCOL, "urn:evil")),
            Err(MessageError::Schema(SchemaError::UnexpectedRoot { .. }))
        ));
    }

    #[test]
    fn values_are_escaped() {
        let mut spec = spec();
        spec.issuer = "https://sp/?a=<b>&c=\"d\"".into();
        let parsed = parse_authn_request(&build_authn_request(&spec)).unwrap();
        assert_eq!(parsed.issuer.as_deref(), Some(spec.issuer.as_str()));
        assert_eq!(
            parsed.destination.as_deref(),
            Some(spec.destination.as_str())
        );
    }
}
