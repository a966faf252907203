//! CAS 3.0 as the gateway speaks it to downstream services (CAS Protocol
//! 3.0 specification, Apereo): service tickets and the validation answers.
//!
//! - A service ticket is `ST-` followed by 32 random bytes in hex (256 bits,
//!   spec §3.1.1 asks for enough randomness that guessing is infeasible). It
//!   is stored under `cas:st:<ticket>` with a short TTL and consumed by one
//!   `GETDEL` at validation, whatever the outcome (spec §3.1.1: a ticket is
//!   valid for one validation attempt), so that two replicas sharing the store
//!   can never both validate it.
//! - A ticket is bound to the exact service URL it was issued for (§2.5.1:
//!   the validation's `service` must be that URL) and says whether it came from
//!   a fresh login (`renew`, §2.5.1).
//! - Proxying (§2.5.4, §2.7, §2.8, §3.3, §3.4), for a service registered with
//!   `allow_proxy` only: a proxy-granting ticket is `PGT-` and 256 random
//!   bits, its IOU `PGTIOU-` and 256 random bits; it is stored under
//!   `cas:pgt:<ticket>` ([`ProxyGrant`]) and may be used until it expires or
//!   its session ends. A proxy ticket is `PT-` and 256 random bits, stored
//!   under `cas:pt:<ticket>` as a [`TicketGrant`] that names its proxy chain,
//!   consumed once like a service ticket.
//! - Answers: CAS 1 `/validate` text (§2.4.2), CAS 2/3 XML (§2.5.2, §2.6.2,
//!   with `cas:attributes`, Appendix A; `cas:proxyGrantingTicket` and
//!   `cas:proxies` when they apply), the JSON form (`format=JSON`) and the
//!   `/proxy` answers (§2.7.2).
//!   Attribute names become element names: the registry refuses, for a
//!   service with `[cas]`, a release name that is not an XML name
//!   ([`sp_registry::is_xml_element_name`]), and the answers below leave
//!   out any name that is not one.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use sp_registry::is_xml_element_name;
use sso_saml::xml::escape_text;

/// Prefix of a service ticket (spec §3.1.1).
pub const TICKET_PREFIX: &str = "ST-";

/// Store key of a service ticket.
pub fn ticket_key(ticket: &str) -> String {
    format!("cas:st:{ticket}")
}

/// A new service ticket: `ST-` and 256 random bits in hex.
pub fn new_ticket() -> String {
    format!("{TICKET_PREFIX}{}", crate::random_token())
}

/// Prefix of a proxy ticket (spec §3.2.1).
pub const PROXY_TICKET_PREFIX: &str = "PT-";

/// Store key of a proxy ticket.
pub fn proxy_ticket_key(ticket: &str) -> String {
    format!("cas:pt:{ticket}")
}

/// A new proxy ticket: `PT-` and 256 random bits in hex.
pub fn new_proxy_ticket() -> String {
    format!("{PROXY_TICKET_PREFIX}{}", crate::random_token())
}

/// Prefix of a proxy-granting ticket (spec §3.3.1).
pub const PROXY_GRANTING_TICKET_PREFIX: &str = "PGT-";

/// Prefix of a proxy-granting ticket IOU (spec §3.4.1).
pub const PROXY_GRANTING_TICKET_IOU_PREFIX: &str = "PGTIOU-";

/// Store key of a proxy-granting ticket.
pub fn proxy_granting_ticket_key(ticket: &str) -> String {
    format!("cas:pgt:{ticket}")
}

/// A new proxy-granting ticket: `PGT-` and 256 random bits in hex.
pub fn new_proxy_granting_ticket() -> String {
    format!("{PROXY_GRANTING_TICKET_PREFIX}{}", crate::random_token())
}

/// A new proxy-granting ticket IOU: `PGTIOU-` and 256 random bits in hex.
pub fn new_proxy_granting_ticket_iou() -> String {
    format!(
        "{PROXY_GRANTING_TICKET_IOU_PREFIX}{}",
        crate::random_token()
    )
}

/// What a service ticket stands for, kept in the store until it is
/// validated or expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketGrant {
    /// Registry id of the service.
    pub service_id: String,
    /// The exact service URL the ticket was issued for.
    pub service_url: String,
    /// The user as this service knows them (its opaque identifier).
    pub user: String,
    /// The released attributes, in policy order.
    pub attributes: Vec<(String, Vec<String>)>,
    /// The ticket came from a login made for this request (`renew`).
    pub from_new_login: bool,
    /// Login time (Unix seconds).
    pub authn_instant: i64,
    /// The SSO session the ticket was issued in (a proxy-granting ticket
    /// obtained with it dies with that session).
    #[serde(default)]
    pub session_id: Option<String>,
    /// For a proxy ticket, the proxy callback URLs it came through, the most
    /// recent first (spec §2.6.2 `cas:proxies`); empty for a service ticket.
    #[serde(default)]
    pub proxies: Vec<String>,
}

/// What a proxy-granting ticket stands for (spec §3.3), kept in the store
/// until it expires, at the latest when its session would.
///
/// It names the session rather than copying the person: a proxy ticket is
/// issued from the session's identity, with the target service's own
/// identifier and release, and only while the session is alive (logout
/// ends every proxy-granting ticket of the session with it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyGrant {
    /// Registry id of the service that holds the ticket (the proxy).
    pub service_id: String,
    /// The user as that service knows them.
    pub user: String,
    /// The SSO session it was issued in.
    pub session_id: String,
    /// The callback URL that received it, then the proxies before it (the
    /// `cas:proxies` of the proxy tickets it grants).
    pub proxies: Vec<String>,
}

/// Why a validation or a proxy request failed: the codes of spec §2.5.3
/// and §2.7.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureCode {
    /// A required parameter is missing.
    InvalidRequest,
    /// `renew` was asked and the ticket did not come from a fresh login.
    InvalidTicketSpec,
    /// The ticket is unknown, used or expired.
    InvalidTicket,
    /// The ticket was issued for another service.
    InvalidService,
    /// A proxy callback was given and the service may not proxy, or not to
    /// that URL.
    InvalidProxyCallback,
    /// The target service of a proxy request is not registered or does not
    /// admit the user, or the proxy may no longer proxy.
    UnauthorizedService,
    /// The gateway failed.
    InternalError,
}

impl FailureCode {
    /// The code as the protocol writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "INVALID_REQUEST",
            Self::InvalidTicketSpec => "INVALID_TICKET_SPEC",
            Self::InvalidTicket => "INVALID_TICKET",
            Self::InvalidService => "INVALID_SERVICE",
            Self::InvalidProxyCallback => "INVALID_PROXY_CALLBACK",
            Self::UnauthorizedService => "UNAUTHORIZED_SERVICE",
            Self::InternalError => "INTERNAL_ERROR",
        }
    }
}

/// The CAS 2/3 XML success answer (spec §2.5.2, §2.6.2, Appendix A):
/// `cas:user`, then `cas:attributes` with the authentication facts and the
/// released attributes, one element per value, then the IOU of a
/// proxy-granting ticket when one was delivered and, for a proxy ticket,
/// `cas:proxies`.
pub fn success_xml(
    grant: &TicketGrant,
    authentication_date: &str,
    pgt_iou: Option<&str>,
) -> String {
    let mut xml = String::from(
        "<cas:serviceResponse xmlns:cas=\"http://www.yale.edu/tp/cas\"><cas:authenticationSuccess>",
    );
    let _ = write!(
        xml,
        "<cas:user>{}</cas:user><cas:attributes>",
        escape_text(&grant.user)
    );
    let _ = write!(
        xml,
        "<cas:authenticationDate>{}</cas:authenticationDate><cas:isFromNewLogin>{}</cas:isFromNewLogin><cas:longTermAuthenticationRequestTokenUsed>false</cas:longTermAuthenticationRequestTokenUsed>",
        escape_text(authentication_date),
        grant.from_new_login
    );
    for (name, values) in &grant.attributes {
        if !is_xml_element_name(name) {
            continue;
        }
        for value in values {
            let _ = write!(xml, "<cas:{name}>{}</cas:{name}>", escape_text(value));
        }
    }
    xml.push_str("</cas:attributes>");
    if let Some(iou) = pgt_iou {
        let _ = write!(
            xml,
            "<cas:proxyGrantingTicket>{}</cas:proxyGrantingTicket>",
            escape_text(iou)
        );
    }
    if !grant.proxies.is_empty() {
        xml.push_str("<cas:proxies>");
        for proxy in &grant.proxies {
            let _ = write!(xml, "<cas:proxy>{}</cas:proxy>", escape_text(proxy));
        }
        xml.push_str("</cas:proxies>");
    }
    xml.push_str("</cas:authenticationSuccess></cas:serviceResponse>");
    xml
}

/// The CAS 2/3 XML failure answer (spec §2.5.3).
pub fn failure_xml(code: FailureCode, description: &str) -> String {
    format!(
        "<cas:serviceResponse xmlns:cas=\"http://www.yale.edu/tp/cas\"><cas:authenticationFailure code=\"{}\">{}</cas:authenticationFailure></cas:serviceResponse>",
        code.as_str(),
        escape_text(description)
    )
}

/// The JSON success answer (`format=JSON`), with the same members as the
/// XML one.
pub fn success_json(
    grant: &TicketGrant,
    authentication_date: &str,
    pgt_iou: Option<&str>,
) -> serde_json::Value {
    let mut attributes = serde_json::Map::new();
    attributes.insert(
        "authenticationDate".into(),
        serde_json::json!([authentication_date]),
    );
    attributes.insert(
        "isFromNewLogin".into(),
        serde_json::json!([grant.from_new_login]),
    );
    for (name, values) in &grant.attributes {
        if is_xml_element_name(name) {
            attributes.insert(name.clone(), serde_json::json!(values));
        }
    }
    let mut success = serde_json::Map::new();
    success.insert("user".into(), serde_json::json!(grant.user));
    success.insert("attributes".into(), serde_json::Value::Object(attributes));
    if let Some(iou) = pgt_iou {
        success.insert("proxyGrantingTicket".into(), serde_json::json!(iou));
    }
    if !grant.proxies.is_empty() {
        success.insert("proxies".into(), serde_json::json!(grant.proxies));
    }
    serde_json::json!({ "serviceResponse": { "authenticationSuccess": success } })
}

/// The JSON failure answer (`format=JSON`).
pub fn failure_json(code: FailureCode, description: &str) -> serde_json::Value {
    serde_json::json!({
        "serviceResponse": {
            "authenticationFailure": { "code": code.as_str(), "description": description }
        }
    })
}

/// The `/proxy` success answer (spec §2.7.2).
pub fn proxy_success_xml(proxy_ticket: &str) -> String {
    format!(
        "<cas:serviceResponse xmlns:cas=\"http://www.yale.edu/tp/cas\"><cas:proxySuccess><cas:proxyTicket>{}</cas:proxyTicket></cas:proxySuccess></cas:serviceResponse>",
        escape_text(proxy_ticket)
    )
}

/// The `/proxy` failure answer (spec §2.7.2).
pub fn proxy_failure_xml(code: FailureCode, description: &str) -> String {
    format!(
        "<cas:serviceResponse xmlns:cas=\"http://www.yale.edu/tp/cas\"><cas:proxyFailure code=\"{}\">{}</cas:proxyFailure></cas:serviceResponse>",
        code.as_str(),
        escape_text(description)
    )
}

/// The CAS 1 `/validate` answer (spec §2.4.2).
pub fn validate_text(user: Option<&str>) -> String {
    match user {
        Some(user) => format!("yes\n{user}\n"),
        None => "no\n\n".to_owned(),
    }
}

/// The back-channel single-logout message (spec Appendix C): a SAML
/// LogoutRequest naming the ticket as the session index, posted as the
/// `logoutRequest` form field.
pub fn logout_request(id: &str, issue_instant: &str, ticket: &str) -> String {
    format!(
        "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{}\" Version=\"2.0\" IssueInstant=\"{}\"><saml:NameID>@NOT_USED@</saml:NameID><samlp:SessionIndex>{}</samlp:SessionIndex></samlp:LogoutRequest>",
        escape_text(id),
        escape_text(issue_instant),
        escape_text(ticket)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> TicketGrant {
        TicketGrant {
            service_id: "res".into(),
            service_url: "https://res.example.fr/callback".into(),
            user: "ab12".into(),
            attributes: vec![
                ("UAI".into(), vec!["0359991V".into()]),
                ("DIV".into(), vec!["6A##6e A".into(), "<b>&".into()]),
                ("urn:oid:2.5.4.42".into(), vec!["Louis".into()]),
            ],
            from_new_login: true,
            authn_instant: 0,
            session_id: None,
            proxies: Vec::new(),
        }
    }

    #[test]
    fn tickets_have_the_prefix_and_256_random_bits() {
        let one = new_ticket();
        let two = new_ticket();
        assert!(one.starts_with("ST-"));
        assert_eq!(one.len(), 3 + 64);
        assert_ne!(one, two);
        let proxy = new_proxy_ticket();
        assert!(proxy.starts_with("PT-") && proxy.len() == 3 + 64, "{proxy}");
        let pgt = new_proxy_granting_ticket();
        assert!(pgt.starts_with("PGT-") && pgt.len() == 4 + 64, "{pgt}");
        let iou = new_proxy_granting_ticket_iou();
        assert!(iou.starts_with("PGTIOU-") && iou.len() == 7 + 64, "{iou}");
    }

    #[test]
    fn proxy_answers_carry_the_iou_and_the_chain_most_recent_first() {
        let mut proxied = grant();
        proxied.proxies = vec![
            "https://p2.example.fr/pgt".into(),
            "https://p1.example.fr/pgt".into(),
        ];
        let xml = success_xml(&proxied, "2026-11-27T08:00:00Z", Some("PGTIOU-1"));
        let document = elements(&xml);
        assert!(document.contains(&("proxyGrantingTicket".to_owned(), "PGTIOU-1".to_owned())));
        let proxies: Vec<&str> = document
            .iter()
            .filter(|(name, _)| name == "proxy")
            .map(|(_, text)| text.as_str())
            .collect();
        assert_eq!(
            proxies,
            ["https://p2.example.fr/pgt", "https://p1.example.fr/pgt"]
        );
        let plain = success_xml(&grant(), "2026-11-27T08:00:00Z", None);
        assert!(
            !plain.contains("proxyGrantingTicket") && !plain.contains("proxies"),
            "{plain}"
        );
        let json = success_json(&proxied, "2026-11-27T08:00:00Z", Some("PGTIOU-1"));
        let success = &json["serviceResponse"]["authenticationSuccess"];
        assert_eq!(success["proxyGrantingTicket"], "PGTIOU-1");
        assert_eq!(success["proxies"][1], "https://p1.example.fr/pgt");
        let ok = elements(&proxy_success_xml("PT-1"));
        assert!(ok.contains(&("proxyTicket".to_owned(), "PT-1".to_owned())));
        let refused = proxy_failure_xml(FailureCode::UnauthorizedService, "<x>");
        assert!(
            refused.contains("<cas:proxyFailure code=\"UNAUTHORIZED_SERVICE\">&lt;x&gt;"),
            "{refused}"
        );
    }

    #[test]
    fn the_success_xml_parses_and_carries_each_value_escaped() {
        let xml = success_xml(&grant(), "2026-11-27T08:00:00Z", None);
        let document = elements(&xml);
        assert!(document.contains(&("user".to_owned(), "ab12".to_owned())));
        assert!(document.contains(&("UAI".to_owned(), "0359991V".to_owned())));
        assert!(document.contains(&("DIV".to_owned(), "6A##6e A".to_owned())));
        assert!(document.contains(&("DIV".to_owned(), "<b>&".to_owned())));
        assert!(document.contains(&("isFromNewLogin".to_owned(), "true".to_owned())));
        assert!(!xml.contains("urn:oid"), "{xml}");
    }

    #[test]
    fn the_failure_xml_names_the_code() {
        let xml = failure_xml(FailureCode::InvalidService, "ticket for <another> service");
        assert!(xml.contains("code=\"INVALID_SERVICE\""), "{xml}");
        assert!(xml.contains("&lt;another&gt;"), "{xml}");
    }

    #[test]
    fn the_json_answers_follow_the_xml_ones() {
        let json = success_json(&grant(), "2026-11-27T08:00:00Z", None);
        let success = &json["serviceResponse"]["authenticationSuccess"];
        assert_eq!(success["user"], "ab12");
        assert_eq!(success["attributes"]["DIV"][1], "<b>&");
        assert!(success["attributes"].get("urn:oid:2.5.4.42").is_none());
        let failure = failure_json(FailureCode::InvalidTicket, "unknown");
        assert_eq!(
            failure["serviceResponse"]["authenticationFailure"]["code"],
            "INVALID_TICKET"
        );
    }

    #[test]
    fn cas1_answers() {
        assert_eq!(validate_text(Some("ab12")), "yes\nab12\n");
        assert_eq!(validate_text(None), "no\n\n");
    }

    /// (local name, text) of every element, read with an XML parser so the
    /// test does not rely on string matching.
    fn elements(xml: &str) -> Vec<(String, String)> {
        use quick_xml::events::Event;
        let mut out: Vec<(String, String)> = Vec::new();
        let mut reader = quick_xml::Reader::from_str(xml);
        loop {
            match reader.read_event().unwrap() {
                Event::Start(start) => {
                    let name = String::from_utf8(start.local_name().as_ref().to_vec()).unwrap();
                    out.push((name, String::new()));
                }
                Event::Text(text) => {
                    out.last_mut().unwrap().1.push_str(&text.decode().unwrap());
                }
                Event::GeneralRef(reference) => {
                    let resolved = match reference.decode().unwrap().as_ref() {
                        "lt" => "<",
                        "gt" => ">",
                        "amp" => "&",
                        other => panic!("unexpected reference {other}"),
                    };
                    out.last_mut().unwrap().1.push_str(resolved);
                }
                Event::Eof => break,
                _ => {}
            }
        }
        out
    }
}
