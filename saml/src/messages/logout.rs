//! Single Logout messages (saml-core §3.7, saml-profiles §4.4): `samlp:LogoutRequest`
//! and `samlp:LogoutResponse`, built for the fan-out to session participants and
//! read from IdPs and SPs (front channel or SOAP back channel).

use chrono::{DateTime, Utc};

use super::{
    MessageError, NameId, Received, attr_xml, check_version, issuer_xml, name_id_xml,
    optional_attr, parse_name_id, parse_root, parse_status, protocol_root_open, required_id,
    required_issuer, status_xml, time_attr_xml,
};
use crate::ns;
use crate::xml::escape_text;

/// A LogoutRequest (built or received).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    /// `ID`.
    pub id: String,
    /// `Issuer` (required by the SLO profile).
    pub issuer: String,
    /// `Destination`.
    pub destination: Option<String>,
    /// `IssueInstant`.
    pub issue_instant: DateTime<Utc>,
    /// The principal to log out.
    pub name_id: NameId,
    /// `SessionIndex` values (empty: every session of the principal).
    pub session_indexes: Vec<String>,
    /// `NotOnOrAfter`.
    pub not_on_or_after: Option<DateTime<Utc>>,
}

/// A LogoutResponse (built or received).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutResponse {
    /// `ID`.
    pub id: String,
    /// `Issuer` (required by the SLO profile).
    pub issuer: String,
    /// `Destination`.
    pub destination: Option<String>,
    /// `IssueInstant`.
    pub issue_instant: DateTime<Utc>,
    /// The LogoutRequest ID answered.
    pub in_response_to: Option<String>,
    /// Top-level status code URI.
    pub status_code: String,
    /// Second-level status code URI (e.g. PartialLogout).
    pub status_sub_code: Option<String>,
}

/// Builds an unsigned LogoutRequest.
pub fn build_logout_request(request: &LogoutRequest) -> String {
    let attrs = format!(
        "{}{}",
        attr_xml("Destination", request.destination.as_deref()),
        time_attr_xml("NotOnOrAfter", request.not_on_or_after.as_ref())
    );
    let mut xml = protocol_root_open("LogoutRequest", &request.id, &request.issue_instant, &attrs);
    xml.push_str(&issuer_xml(&request.issuer));
    xml.push_str(&name_id_xml(&request.name_id));
    for index in &request.session_indexes {
        xml.push_str(&format!(
            "<samlp:SessionIndex>{}</samlp:SessionIndex>",
            escape_text(index)
        ));
    }
    xml.push_str("</samlp:LogoutRequest>");
    xml
}

/// Parses a LogoutRequest.
pub fn parse_logout_request(xml: &str) -> Result<Received<LogoutRequest>, MessageError> {
    let root = parse_root(xml, ns::PROTOCOL, "LogoutRequest")?;
    check_version(&root)?;
    for other in ["BaseID", "EncryptedID"] {
        if root.children_named(ns::ASSERTION, other).next().is_some() {
            return Err(MessageError::UnsupportedIdentifier {
                found: other.to_owned(),
            });
        }
    }
    let message = LogoutRequest {
        id: required_id(&root)?,
        issuer: required_issuer(&root)?,
        destination: optional_attr(&root, "Destination"),
        issue_instant: root.required_time_attr("IssueInstant")?,
        name_id: parse_name_id(root.required_child(ns::ASSERTION, "NameID")?)?,
        session_indexes: root
            .children_named(ns::PROTOCOL, "SessionIndex")
            .map(|s| s.trimmed_text())
            .collect::<Result<Vec<_>, _>>()?,
        not_on_or_after: root.time_attr("NotOnOrAfter")?,
    };
    Ok(Received {
        message,
        signed: root.has_signature(),
    })
}

/// Builds an unsigned LogoutResponse.
pub fn build_logout_response(response: &LogoutResponse) -> String {
    let attrs = format!(
        "{}{}",
        attr_xml("Destination", response.destination.as_deref()),
        attr_xml("InResponseTo", response.in_response_to.as_deref())
    );
    let mut xml = protocol_root_open(
        "LogoutResponse",
        &response.id,
        &response.issue_instant,
        &attrs,
    );
    xml.push_str(&issuer_xml(&response.issuer));
    xml.push_str(&status_xml(
        &response.status_code,
        response.status_sub_code.as_deref(),
        None,
    ));
    xml.push_str("</samlp:LogoutResponse>");
    xml
}

/// Parses a LogoutResponse.
pub fn parse_logout_response(xml: &str) -> Result<Received<LogoutResponse>, MessageError> {
    let root = parse_root(xml, ns::PROTOCOL, "LogoutResponse")?;
    check_version(&root)?;
    let status = parse_status(&root)?;
    let message = LogoutResponse {
        id: required_id(&root)?,
        issuer: required_issuer(&root)?,
        destination: optional_attr(&root, "Destination"),
        issue_instant: root.required_time_attr("IssueInstant")?,
        in_response_to: optional_attr(&root, "InResponseTo"),
        status_code: status.code,
        status_sub_code: status.sub_code,
    };
    Ok(Received {
        message,
        signed: root.has_signature(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::SchemaError;
    use chrono::TimeZone;

    fn request() -> LogoutRequest {
        LogoutRequest {
            id: "_lo1".into(),
            issuer: "https://idp.example".into(),
            destination: Some("https://sp.example/slo".into()),
            issue_instant: Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0).unwrap(),
            name_id: NameId {
                value: "user-42".into(),
                format: Some(ns::NAMEID_TRANSIENT.into()),
                name_qualifier: None,
                sp_name_qualifier: Some("https://sp.example".into()),
            },
            session_indexes: vec!["_s1".into(), "_s2".into()],
            not_on_or_after: Some(Utc.with_ymd_and_hms(2026, 11, 27, 8, 5, 0).unwrap()),
        }
    }

    #[test]
    fn logout_request_round_trip() {
        let request = request();
        let parsed = parse_logout_request(&build_logout_request(&request)).unwrap();
        assert_eq!(parsed.message, request);
        assert!(!parsed.signed);
    }

    #[test]
    fn logout_request_needs_a_name_id_and_an_issuer() {
        let xml = build_logout_request(&request());
        assert!(parse_logout_request(&xml).is_ok());
        let start = xml.find("<saml:NameID").unwrap();
        let end = xml.find("</saml:NameID>").unwrap() + "</saml:NameID>".len();
        let without = format!("{}{}", &xml[..start], &xml[end..]);
        assert!(matches!(
            parse_logout_request(&without),
            Err(MessageError::Schema(SchemaError::MissingElement { .. }))
        ));
        let no_issuer = xml.replace("<saml:Issuer>https://idp.example</saml:Issuer>", "");
        assert!(matches!(
            parse_logout_request(&no_issuer),
            Err(MessageError::Schema(SchemaError::MissingElement { .. }))
        ));
    }

    #[test]
    fn logout_response_round_trip() {
        let response = LogoutResponse {
            id: "_lr1".into(),
            issuer: "https://sp.example".into(),
            destination: Some("https://idp.example/slo".into()),
            issue_instant: Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 1).unwrap(),
            in_response_to: Some("_lo1".into()),
            status_code: ns::STATUS_SUCCESS.into(),
            status_sub_code: Some(ns::STATUS_PARTIAL_LOGOUT.into()),
        };
        let parsed = parse_logout_response(&build_logout_response(&response)).unwrap();
        assert_eq!(parsed.message, response);
    }
}
