//! `saml:Assertion` (saml-core §2.3.3 to §2.7): built by the downstream IdP with
//! everything the Web SSO profile needs (saml-profiles §4.1.4.2: bearer
//! SubjectConfirmation with Recipient and NotOnOrAfter, AudienceRestriction,
//! AuthnStatement with SessionIndex), and read from upstream IdPs.

use chrono::{DateTime, Utc};

use super::{
    MessageError, NameId, SamlAttribute, attr_xml, check_version, issuer_xml, name_id_xml,
    optional_attr, parse_name_id, required_id, required_issuer, time_attr_xml,
};
use crate::ns;
use crate::xml::tree::{self, Element};
use crate::xml::{MAX_MESSAGE_LEN, escape_attr, escape_text};

/// What to put in an assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionSpec {
    /// The assertion ID.
    pub id: String,
    /// Our (IdP) entity ID.
    pub issuer: String,
    /// `IssueInstant`.
    pub issue_instant: DateTime<Utc>,
    /// The subject's identifier for this SP.
    pub name_id: String,
    /// Its format URI.
    pub name_id_format: String,
    /// `NameQualifier` of the NameID.
    pub name_qualifier: Option<String>,
    /// `SPNameQualifier` of the NameID.
    pub sp_name_qualifier: Option<String>,
    /// The ACS URL (`SubjectConfirmationData/@Recipient`).
    pub recipient: String,
    /// The AuthnRequest ID answered, if any.
    pub in_response_to: Option<String>,
    /// `Conditions/@NotBefore`.
    pub not_before: DateTime<Utc>,
    /// `Conditions/@NotOnOrAfter` and `SubjectConfirmationData/@NotOnOrAfter`.
    pub not_on_or_after: DateTime<Utc>,
    /// The SP entity ID (`AudienceRestriction/Audience`).
    pub audience: String,
    /// `AuthnStatement/@SessionIndex`.
    pub session_index: String,
    /// `AuthnStatement/@AuthnInstant`.
    pub authn_instant: DateTime<Utc>,
    /// `AuthnContextClassRef`.
    pub authn_context_class_ref: String,
    /// `AuthnStatement/@SessionNotOnOrAfter`.
    pub session_not_on_or_after: Option<DateTime<Utc>>,
    /// Released attributes (no AttributeStatement when empty).
    pub attributes: Vec<SamlAttribute>,
}

/// Builds an unsigned assertion (sign it with [`crate::dsig::sign_enveloped`]).
pub fn build_assertion(spec: &AssertionSpec) -> String {
    let name_id = NameId {
        value: spec.name_id.clone(),
        format: Some(spec.name_id_format.clone()),
        name_qualifier: spec.name_qualifier.clone(),
        sp_name_qualifier: spec.sp_name_qualifier.clone(),
    };
    let not_on_or_after = crate::time::format(&spec.not_on_or_after);
    let mut xml = format!(
        "<saml:Assertion xmlns:saml=\"{}\" ID=\"{}\" Version=\"2.0\" IssueInstant=\"{}\">",
        ns::ASSERTION,
        escape_attr(&spec.id),
        crate::time::format(&spec.issue_instant)
    );
    xml.push_str(&issuer_xml(&spec.issuer));
    xml.push_str("<saml:Subject>");
    xml.push_str(&name_id_xml(&name_id));
    xml.push_str(&format!(
        "<saml:SubjectConfirmation Method=\"{}\"><saml:SubjectConfirmationData{} NotOnOrAfter=\"{}\" Recipient=\"{}\"/></saml:SubjectConfirmation>",
        ns::CM_BEARER,
        attr_xml("InResponseTo", spec.in_response_to.as_deref()),
        not_on_or_after,
        escape_attr(&spec.recipient)
    ));
    xml.push_str("</saml:Subject>");
    xml.push_str(&format!(
        "<saml:Conditions NotBefore=\"{}\" NotOnOrAfter=\"{}\"><saml:AudienceRestriction><saml:Audience>{}</saml:Audience></saml:AudienceRestriction></saml:Conditions>",
        crate::time::format(&spec.not_before),
        not_on_or_after,
        escape_text(&spec.audience)
    ));
    xml.push_str(&format!(
        "<saml:AuthnStatement AuthnInstant=\"{}\" SessionIndex=\"{}\"{}><saml:AuthnContext><saml:AuthnContextClassRef>{}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>",
        crate::time::format(&spec.authn_instant),
        escape_attr(&spec.session_index),
        time_attr_xml("SessionNotOnOrAfter", spec.session_not_on_or_after.as_ref()),
        escape_text(&spec.authn_context_class_ref)
    ));
    if !spec.attributes.is_empty() {
        xml.push_str("<saml:AttributeStatement>");
        for attribute in &spec.attributes {
            xml.push_str(&format!(
                "<saml:Attribute Name=\"{}\"{}{}>",
                escape_attr(&attribute.name),
                attr_xml("NameFormat", attribute.name_format.as_deref()),
                attr_xml("FriendlyName", attribute.friendly_name.as_deref())
            ));
            for value in &attribute.values {
                xml.push_str(&format!(
                    "<saml:AttributeValue>{}</saml:AttributeValue>",
                    escape_text(value)
                ));
            }
            xml.push_str("</saml:Attribute>");
        }
        xml.push_str("</saml:AttributeStatement>");
    }
    xml.push_str("</saml:Assertion>");
    xml
}

/// A `saml:SubjectConfirmation` with its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectConfirmation {
    /// `Method` (bearer for Web SSO).
    pub method: String,
    /// `SubjectConfirmationData/@Recipient`.
    pub recipient: Option<String>,
    /// `SubjectConfirmationData/@InResponseTo`.
    pub in_response_to: Option<String>,
    /// `SubjectConfirmationData/@NotBefore`.
    pub not_before: Option<DateTime<Utc>>,
    /// `SubjectConfirmationData/@NotOnOrAfter`.
    pub not_on_or_after: Option<DateTime<Utc>>,
}

/// `saml:Conditions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conditions {
    /// `NotBefore`.
    pub not_before: Option<DateTime<Utc>>,
    /// `NotOnOrAfter`.
    pub not_on_or_after: Option<DateTime<Utc>>,
    /// Every `Audience` of every `AudienceRestriction`.
    pub audiences: Vec<String>,
}

/// A `saml:AuthnStatement`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnStatement {
    /// `AuthnInstant`.
    pub authn_instant: DateTime<Utc>,
    /// `SessionIndex`.
    pub session_index: Option<String>,
    /// `SessionNotOnOrAfter`.
    pub session_not_on_or_after: Option<DateTime<Utc>>,
    /// `AuthnContext/AuthnContextClassRef`.
    pub authn_context_class_ref: Option<String>,
}

/// A parsed assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// `ID` (the key of the replay cache).
    pub id: String,
    /// `Issuer` (the IdP entity ID).
    pub issuer: String,
    /// `IssueInstant`.
    pub issue_instant: DateTime<Utc>,
    /// `Subject/NameID`.
    pub name_id: Option<NameId>,
    /// `Subject/SubjectConfirmation` elements.
    pub subject_confirmations: Vec<SubjectConfirmation>,
    /// `Conditions`.
    pub conditions: Option<Conditions>,
    /// `AuthnStatement` elements.
    pub authn_statements: Vec<AuthnStatement>,
    /// The attributes of every `AttributeStatement`, in order.
    pub attributes: Vec<SamlAttribute>,
    /// True when the assertion element has a `ds:Signature` child.
    pub signed: bool,
}

/// Parses a document whose root is saml:Assertion, or a samlp:Response holding
/// exactly one saml:Assertion ([`MessageError::AssertionCount`] if zero or
/// several). Text of NameID and attribute values is the concatenation of all
/// text nodes; an element holding a comment or a child element where text is
/// expected is refused ([`crate::xml::SchemaError::NonTextContent`]: comment-injection
/// attacks on NameID).
pub fn parse_assertion(xml: &str) -> Result<Assertion, MessageError> {
    let root = tree::parse(xml, MAX_MESSAGE_LEN)?;
    if root.is(ns::PROTOCOL, "Response") {
        let assertions: Vec<&Element> = root.children_named(ns::ASSERTION, "Assertion").collect();
        return match assertions.as_slice() {
            [one] => read_assertion(one),
            other => Err(MessageError::AssertionCount { count: other.len() }),
        };
    }
    root.require_name(ns::ASSERTION, "Assertion")?;
    read_assertion(&root)
}

fn read_assertion(element: &Element) -> Result<Assertion, MessageError> {
    check_version(element)?;
    let (name_id, subject_confirmations) = match element.optional_child(ns::ASSERTION, "Subject")? {
        Some(subject) => read_subject(subject)?,
        None => (None, Vec::new()),
    };
    let conditions = element
        .optional_child(ns::ASSERTION, "Conditions")?
        .map(read_conditions)
        .transpose()?;
    let authn_statements = element
        .children_named(ns::ASSERTION, "AuthnStatement")
        .map(read_authn_statement)
        .collect::<Result<Vec<_>, _>>()?;
    let mut attributes = Vec::new();
    for statement in element.children_named(ns::ASSERTION, "AttributeStatement") {
        for child in statement.elements() {
            if child.is(ns::ASSERTION, "Attribute") {
                attributes.push(read_attribute(child)?);
            } else if child.is(ns::ASSERTION, "EncryptedAttribute") {
                return Err(MessageError::EncryptedAttribute);
            }
        }
    }
    Ok(Assertion {
        id: required_id(element)?,
        issuer: required_issuer(element)?,
        issue_instant: element.required_time_attr("IssueInstant")?,
        name_id,
        subject_confirmations,
        conditions,
        authn_statements,
        attributes,
        signed: element.has_signature(),
    })
}

fn read_subject(
    subject: &Element,
) -> Result<(Option<NameId>, Vec<SubjectConfirmation>), MessageError> {
    for other in ["BaseID", "EncryptedID"] {
        if subject
            .children_named(ns::ASSERTION, other)
            .next()
            .is_some()
        {
            return Err(MessageError::UnsupportedIdentifier {
                found: other.to_owned(),
            });
        }
    }
    let name_id = subject
        .optional_child(ns::ASSERTION, "NameID")?
        .map(parse_name_id)
        .transpose()?;
    let confirmations = subject
        .children_named(ns::ASSERTION, "SubjectConfirmation")
        .map(|confirmation| {
            if confirmation.elements().any(|e| {
                e.is(ns::ASSERTION, "BaseID")
                    || e.is(ns::ASSERTION, "NameID")
                    || e.is(ns::ASSERTION, "EncryptedID")
            }) {
                return Err(MessageError::UnsupportedIdentifier {
                    found: "SubjectConfirmation identifier".to_owned(),
                });
            }
            let data = confirmation.optional_child(ns::ASSERTION, "SubjectConfirmationData")?;
            Ok(SubjectConfirmation {
                method: confirmation.required_attr("Method")?.to_owned(),
                recipient: data.and_then(|d| optional_attr(d, "Recipient")),
                in_response_to: data.and_then(|d| optional_attr(d, "InResponseTo")),
                not_before: data
                    .map(|d| d.time_attr("NotBefore"))
                    .transpose()?
                    .flatten(),
                not_on_or_after: data
                    .map(|d| d.time_attr("NotOnOrAfter"))
                    .transpose()?
                    .flatten(),
            })
        })
        .collect::<Result<Vec<_>, MessageError>>()?;
    Ok((name_id, confirmations))
}

fn read_conditions(conditions: &Element) -> Result<Conditions, MessageError> {
    let mut audiences = Vec::new();
    for child in conditions.elements() {
        if child.is(ns::ASSERTION, "AudienceRestriction") {
            for audience in child.children_named(ns::ASSERTION, "Audience") {
                audiences.push(audience.trimmed_text()?);
            }
        } else if child.is(ns::ASSERTION, "OneTimeUse")
            || child.is(ns::ASSERTION, "ProxyRestriction")
        {
            continue;
        } else {
            return Err(MessageError::UnsupportedCondition {
                found: child.name(),
            });
        }
    }
    Ok(Conditions {
        not_before: conditions.time_attr("NotBefore")?,
        not_on_or_after: conditions.time_attr("NotOnOrAfter")?,
        audiences,
    })
}

fn read_authn_statement(statement: &Element) -> Result<AuthnStatement, MessageError> {
    let context = statement.required_child(ns::ASSERTION, "AuthnContext")?;
    Ok(AuthnStatement {
        authn_instant: statement.required_time_attr("AuthnInstant")?,
        session_index: optional_attr(statement, "SessionIndex"),
        session_not_on_or_after: statement.time_attr("SessionNotOnOrAfter")?,
        authn_context_class_ref: context
            .optional_child_text(ns::ASSERTION, "AuthnContextClassRef")?,
    })
}

fn read_attribute(attribute: &Element) -> Result<SamlAttribute, MessageError> {
    Ok(SamlAttribute {
        name: attribute.required_attr("Name")?.to_owned(),
        name_format: optional_attr(attribute, "NameFormat"),
        friendly_name: optional_attr(attribute, "FriendlyName"),
        values: attribute
            .children_named(ns::ASSERTION, "AttributeValue")
            .map(Element::text)
            .collect::<Result<Vec<_>, _>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::SchemaError;
    use chrono::TimeZone;

    pub(crate) fn spec() -> AssertionSpec {
        let t = |h| Utc.with_ymd_and_hms(2026, 11, 27, h, 0, 0).unwrap();
        AssertionSpec {
            id: "_a1".into(),
            issuer: "https://idp.example/idp".into(),
            issue_instant: t(8),
            name_id: "user-42".into(),
            name_id_format: ns::NAMEID_PERSISTENT.into(),
            name_qualifier: Some("https://idp.example/idp".into()),
            sp_name_qualifier: Some("https://sp.example".into()),
            recipient: "https://sp.example/acs".into(),
            in_response_to: Some("_req1".into()),
            not_before: t(7),
            not_on_or_after: t(9),
            audience: "https://sp.example".into(),
            session_index: "_s1".into(),
            authn_instant: t(8),
            authn_context_class_ref: ns::AC_PASSWORD_PROTECTED_TRANSPORT.into(),
            session_not_on_or_after: Some(t(16)),
            attributes: vec![SamlAttribute {
                name: "urn:oid:1.3.6.1.4.1.20326.10.999.1.7".into(),
                name_format: Some(ns::ATTRNAME_FORMAT_URI.into()),
                friendly_name: Some("FrEduCtPersonAffiliation".into()),
                values: vec!["eleve2d".into(), "  a <b> & c ".into()],
            }],
        }
    }

    #[test]
    fn round_trip_keeps_every_field() {
        let spec = spec();
        let a = parse_assertion(&build_assertion(&spec)).unwrap();
        assert_eq!(a.id, spec.id);
        assert_eq!(a.issuer, spec.issuer);
        assert_eq!(a.issue_instant, spec.issue_instant);
        let name_id = a.name_id.unwrap();
        assert_eq!(name_id.value, spec.name_id);
        assert_eq!(name_id.format.as_deref(), Some(ns::NAMEID_PERSISTENT));
        assert_eq!(name_id.name_qualifier, spec.name_qualifier);
        assert_eq!(name_id.sp_name_qualifier, spec.sp_name_qualifier);
        assert_eq!(
            a.subject_confirmations,
            vec![SubjectConfirmation {
                method: ns::CM_BEARER.into(),
                recipient: Some(spec.recipient.clone()),
                in_response_to: spec.in_response_to.clone(),
                not_before: None,
                not_on_or_after: Some(spec.not_on_or_after),
            }]
        );
        assert_eq!(
            a.conditions,
            Some(Conditions {
                not_before: Some(spec.not_before),
                not_on_or_after: Some(spec.not_on_or_after),
                audiences: vec![spec.audience.clone()],
            })
        );
        assert_eq!(
            a.authn_statements,
            vec![AuthnStatement {
                authn_instant: spec.authn_instant,
                session_index: Some(spec.session_index.clone()),
                session_not_on_or_after: spec.session_not_on_or_after,
                authn_context_class_ref: Some(spec.authn_context_class_ref.clone()),
            }]
        );
        assert_eq!(a.attributes, spec.attributes);
        assert!(!a.signed);
    }

    #[test]
    fn comment_in_name_id_is_refused() {
        let xml = build_assertion(&spec());
        assert!(parse_assertion(&xml).is_ok());
        let injected = xml.replace(">user-42</saml:NameID>", ">admin<!---->@evil</saml:NameID>");
        assert!(matches!(
            parse_assertion(&injected),
            Err(MessageError::Schema(SchemaError::NonTextContent {
                found: "comment",
                ..
            }))
        ));
    }

    #[test]
    fn child_element_in_attribute_value_is_refused() {
        let xml = build_assertion(&spec());
        let injected = xml.replace(
            ">eleve2d</saml:AttributeValue>",
            ">eleve2d<saml:NameID>x</saml:NameID></saml:AttributeValue>",
        );
        assert!(matches!(
            parse_assertion(&injected),
            Err(MessageError::Schema(SchemaError::NonTextContent { .. }))
        ));
    }

    #[test]
    fn response_must_hold_exactly_one_assertion() {
        let assertion = build_assertion(&spec());
        let wrap = |inner: &str| {
            format!(
                r#"<samlp:Response xmlns:samlp="{}" ID="_r" Version="2.0" IssueInstant="2026-11-27T08:00:00Z">{inner}</samlp:Response>"#,
                ns::PROTOCOL
            )
        };
        assert!(parse_assertion(&wrap(&assertion)).is_ok());
        assert!(matches!(
            parse_assertion(&wrap("")),
            Err(MessageError::AssertionCount { count: 0 })
        ));
        let second = assertion.replace("\"_a1\"", "\"_a2\"");
        assert!(matches!(
            parse_assertion(&wrap(&format!("{assertion}{second}"))),
            Err(MessageError::AssertionCount { count: 2 })
        ));
    }

    #[test]
    fn repeated_subject_and_unknown_condition_are_refused() {
        let xml = build_assertion(&spec());
        let subject_start = xml.find("<saml:Subject>").unwrap();
        let subject_end = xml.find("</saml:Subject>").unwrap() + "</saml:Subject>".len();
        let subject = &xml[subject_start..subject_end];
        let doubled = xml.replacen(subject, &format!("{subject}{subject}"), 1);
        assert!(matches!(
            parse_assertion(&doubled),
            Err(MessageError::Schema(SchemaError::DuplicateElement { .. }))
        ));
        let odd = xml.replace(
            "<saml:AudienceRestriction>",
            "<saml:Condition/><saml:AudienceRestriction>",
        );
        assert!(matches!(
            parse_assertion(&odd),
            Err(MessageError::UnsupportedCondition { .. })
        ));
    }

    #[test]
    fn encrypted_id_is_refused() {
        let xml = build_assertion(&spec());
        let start = xml.find("<saml:NameID").unwrap();
        let end = xml.find("</saml:NameID>").unwrap() + "</saml:NameID>".len();
        let replaced = format!("{}<saml:EncryptedID/>{}", &xml[..start], &xml[end..]);
        assert!(matches!(
            parse_assertion(&replaced),
            Err(MessageError::UnsupportedIdentifier { .. })
        ));
    }

    #[test]
    fn audiences_of_all_restrictions_are_collected() {
        let xml = build_assertion(&spec()).replace(
            "</saml:AudienceRestriction>",
            "</saml:AudienceRestriction><saml:AudienceRestriction><saml:Audience>b</saml:Audience><saml:Audience>c</saml:Audience></saml:AudienceRestriction>",
        );
        let a = parse_assertion(&xml).unwrap();
        assert_eq!(
            a.conditions.unwrap().audiences,
            vec![
                "https://sp.example".to_owned(),
                "b".to_owned(),
                "c".to_owned()
            ]
        );
    }
}
