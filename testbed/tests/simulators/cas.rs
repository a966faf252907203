//! The simulated CAS resource: its reading of CAS 3.0 documents, and its
//! login, ticket validation and back-channel logout against the test's CAS
//! server (playing the gateway).

use std::collections::BTreeMap;

use serde_json::json;
use sso_testbed::cas_client::{
    CasValidation, CasXmlError, parse_logout_request, parse_service_response,
};

use crate::common::*;

fn attrs(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
        .collect()
}

#[test]
fn a_success_document_gives_the_user_and_every_attribute_value() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">
  <cas:authenticationSuccess>
    <cas:user>
      ido-42
    </cas:user>
    <cas:attributes>
      <cas:UAI>0359991V</cas:UAI>
      <cas:GRO>5-LATIN##Latin##6A</cas:GRO>
      <cas:GRO>5-LV2-ESP##Espagnol &amp; &#233;changes##6A</cas:GRO>
      <cas:NOM><![CDATA[Lefèvre <fils>]]></cas:NOM>
      <cas:P_MEL/>
    </cas:attributes>
  </cas:authenticationSuccess>
</cas:serviceResponse>"#;
    let parsed = parse_service_response(xml).unwrap();
    assert_eq!(
        parsed,
        CasValidation::Success {
            user: "ido-42".to_owned(),
            attributes: attrs(&[
                ("UAI", &["0359991V"]),
                (
                    "GRO",
                    &["5-LATIN##Latin##6A", "5-LV2-ESP##Espagnol & échanges##6A"]
                ),
                ("NOM", &["Lefèvre <fils>"]),
                ("P_MEL", &[""]),
            ]),
        }
    );

    // Namespaces are resolved, not matched by prefix.
    let other_prefix = r#"<c:serviceResponse xmlns:c="http://www.yale.edu/tp/cas"><c:authenticationSuccess>
<c:user>u</c:user></c:authenticationSuccess></c:serviceResponse>"#;
    assert!(matches!(
        parse_service_response(other_prefix).unwrap(),
        CasValidation::Success { user, attributes } if user == "u" && attributes.is_empty()
    ));
    let wrong_namespace = r#"<cas:serviceResponse xmlns:cas="http://example.test/not-cas"><cas:authenticationSuccess>
<cas:user>u</cas:user></cas:authenticationSuccess></cas:serviceResponse>"#;
    assert!(matches!(
        parse_service_response(wrong_namespace),
        Err(CasXmlError::Root { .. })
    ));
}

#[test]
fn a_failure_document_gives_its_code_and_message() {
    let xml = r#"<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">
    <cas:authenticationFailure code="INVALID_SERVICE">
        Ticket ST-1856339 does not match supplied service
    </cas:authenticationFailure>
</cas:serviceResponse>"#;
    assert_eq!(
        parse_service_response(xml).unwrap(),
        CasValidation::Failure {
            code: "INVALID_SERVICE".to_owned(),
            message: "Ticket ST-1856339 does not match supplied service".to_owned(),
        }
    );
}

#[test]
fn ambiguous_incomplete_or_dangerous_documents_are_refused() {
    let ns = r#"xmlns:cas="http://www.yale.edu/tp/cas""#;
    let both = format!(
        "<cas:serviceResponse {ns}><cas:authenticationSuccess><cas:user>u</cas:user></cas:authenticationSuccess>\
<cas:authenticationFailure code=\"X\">m</cas:authenticationFailure></cas:serviceResponse>"
    );
    assert!(matches!(
        parse_service_response(&both),
        Err(CasXmlError::Outcome(2))
    ));
    let two_successes = format!(
        "<cas:serviceResponse {ns}><cas:authenticationSuccess><cas:user>u</cas:user></cas:authenticationSuccess>\
<cas:authenticationSuccess><cas:user>v</cas:user></cas:authenticationSuccess></cas:serviceResponse>"
    );
    assert!(matches!(
        parse_service_response(&two_successes),
        Err(CasXmlError::Outcome(2))
    ));
    let none = format!("<cas:serviceResponse {ns}/>");
    assert!(matches!(
        parse_service_response(&none),
        Err(CasXmlError::Outcome(0))
    ));
    let no_user = format!(
        "<cas:serviceResponse {ns}><cas:authenticationSuccess><cas:user> </cas:user></cas:authenticationSuccess></cas:serviceResponse>"
    );
    assert!(matches!(
        parse_service_response(&no_user),
        Err(CasXmlError::NoUser)
    ));
    let no_code = format!(
        "<cas:serviceResponse {ns}><cas:authenticationFailure>m</cas:authenticationFailure></cas:serviceResponse>"
    );
    assert!(matches!(
        parse_service_response(&no_code),
        Err(CasXmlError::NoCode)
    ));
    let doctype = format!(
        "<!DOCTYPE x [<!ENTITY e \"boom\">]><cas:serviceResponse {ns}><cas:authenticationSuccess>\
<cas:user>&e;</cas:user></cas:authenticationSuccess></cas:serviceResponse>"
    );
    assert!(matches!(
        parse_service_response(&doctype),
        Err(CasXmlError::DocType)
    ));
    let entity = format!(
        "<cas:serviceResponse {ns}><cas:authenticationSuccess><cas:user>&e;</cas:user></cas:authenticationSuccess></cas:serviceResponse>"
    );
    assert!(matches!(
        parse_service_response(&entity),
        Err(CasXmlError::UnknownEntity(name)) if name == "e"
    ));
    let deep = format!(
        "<cas:serviceResponse {ns}>{}{}</cas:serviceResponse>",
        "<a>".repeat(40),
        "</a>".repeat(40)
    );
    assert!(matches!(
        parse_service_response(&deep),
        Err(CasXmlError::TooDeep)
    ));
    assert!(matches!(
        parse_service_response("<cas:serviceResponse"),
        Err(CasXmlError::Syntax(_))
    ));
    assert!(matches!(
        parse_service_response(""),
        Err(CasXmlError::Empty)
    ));
}

fn logout_request(ticket: &str) -> String {
    format!(
        r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="LR-1" Version="2.0" IssueInstant="2026-09-01T08:00:00Z"><saml:NameID>@NOT_USED@</saml:NameID><samlp:SessionIndex>{ticket}</samlp:SessionIndex></samlp:LogoutRequest>"#
    )
}

#[test]
fn a_logout_request_names_its_ticket() {
    assert_eq!(
        parse_logout_request(&logout_request("ST-1-good")).unwrap(),
        "ST-1-good"
    );
    assert!(matches!(
        parse_logout_request(&logout_request("")),
        Err(CasXmlError::NoSessionIndex)
    ));
    assert!(matches!(
        parse_logout_request("<LogoutRequest><SessionIndex>ST-1</SessionIndex></LogoutRequest>"),
        Err(CasXmlError::Root { .. })
    ));
}

async fn cas_state(bed: &Bed) -> serde_json::Value {
    get_json(
        &bed.client,
        &bed.url(&format!("{CAS_RESOURCE_PATH}/state.json")),
    )
    .await
}

#[tokio::test]
async fn the_resource_validates_its_ticket_shows_the_attributes_and_obeys_the_logout_request() {
    let bed = serve_oidc_and_cas().await;
    let browser = browser();
    let home = bed.url(CAS_RESOURCE_PATH);
    let page = browser
        .get(&home)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Se connecter"));

    // Login: to the CAS server with the resource's callback as service.
    let r = browser
        .get(bed.url(&format!("{CAS_RESOURCE_PATH}/login")))
        .send()
        .await
        .unwrap();
    let to_cas = location(&r);
    assert!(to_cas.starts_with(&bed.url(&format!("{FAKE_CAS_PATH}/login?"))));
    let service = query_params(&to_cas)["service"].clone();
    assert_eq!(service, bed.url(&format!("{CAS_RESOURCE_PATH}/callback")));

    // The callback validates the ticket server to server.
    let r = browser
        .get(format!("{service}?ticket=ST-1-good"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), home);
    let page = browser
        .get(&home)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Connecté"));
    assert!(page.contains("ido-7f3a9c"));
    assert!(page.contains("<li>0359991V</li>"));
    assert!(page.contains("<li>5-LV2-ESP##Espagnol &amp; culture##6A</li>"));
    let state = cas_state(&bed).await;
    assert_eq!(state["logins"], 1);
    assert_eq!(state["sessions"], 1);
    assert_eq!(state["last_user"], "ido-7f3a9c");
    assert_eq!(
        state["last_attributes"]["GRO"],
        json!(["5-LATIN##Latin##6A", "5-LV2-ESP##Espagnol & culture##6A"])
    );
    assert_eq!(state["last_attributes"]["PRO"], json!(["National_elv"]));

    // A logout request for another ticket ends nothing; for this one, the session.
    let slo = bed.url(&format!("{CAS_RESOURCE_PATH}/slo"));
    let r = bed
        .client
        .post(&slo)
        .form(&[("logoutRequest", logout_request("ST-9-other"))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(cas_state(&bed).await["sessions"], 1);
    let r = bed
        .client
        .post(&slo)
        .form(&[("logoutRequest", logout_request("ST-1-good"))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let state = cas_state(&bed).await;
    assert_eq!(state["sessions"], 0);
    assert_eq!(state["logouts_received"], 2);
    let page = browser
        .get(&home)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Se connecter"));

    // A malformed logout request is refused and not counted.
    let r = bed
        .client
        .post(&slo)
        .form(&[("logoutRequest", "<not-a-logout-request/>")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = bed
        .client
        .post(&slo)
        .form(&[("other", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(cas_state(&bed).await["logouts_received"], 2);
}

#[tokio::test]
async fn a_refused_ticket_shows_the_code_and_the_message_in_french() {
    let bed = serve_oidc_and_cas().await;
    let callback = bed.url(&format!("{CAS_RESOURCE_PATH}/callback"));
    let r = bed
        .client
        .get(format!("{callback}?ticket=ST-2-bad"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let page = r.text().await.unwrap();
    assert!(page.contains("Le serveur CAS a refusé le ticket de service."));
    assert!(page.contains("Code : <code>INVALID_TICKET</code>"));
    assert!(page.contains("Ticket ST-2-bad not recognized"));
    assert!(page.contains("<html lang=\"fr\">"));
    let r = bed.client.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let state = cas_state(&bed).await;
    assert_eq!(state["logins"], 0);
    assert_eq!(state["sessions"], 0);
}
