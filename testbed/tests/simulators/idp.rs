//! The simulated IdPs, driven by the test playing the gateway as SP.

use std::collections::BTreeMap;

use chrono::Utc;
use sso_saml::binding::{self, MessageKind};
use sso_saml::dsig;
use sso_saml::encryption;
use sso_saml::ids::new_id;
use sso_saml::messages::{self, Assertion, LogoutRequest, LogoutResponse, NameId};
use sso_saml::metadata;
use sso_saml::ns;
use sso_testbed::attributes as a;
use sso_testbed::people;

use crate::common::*;

fn values(assertion: &Assertion) -> BTreeMap<String, Vec<String>> {
    assertion
        .attributes
        .iter()
        .map(|attr| (attr.name.clone(), attr.values.clone()))
        .collect()
}

#[tokio::test]
async fn a_signed_authn_request_is_accepted_and_unsigned_tampered_or_foreign_ones_are_refused() {
    let bed = serve().await;
    let sso = bed.url("/idp/educonnect/sso");

    // Positive control: signed by the gateway's key, issued by the gateway.
    let (url, _) = authn_request_url(&sso, GW_SP_ENTITY, false, Some(&KEYS.gateway));
    let page = bed.client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("ÉduConnect (simulation) — choisissez un compte"));
    assert!(page.contains("Simulation — environnement de démonstration"));
    assert!(page.contains("<main>") && page.contains("<h1>") && page.contains("<label>"));
    assert!(page.contains("value=\"eleve.lea\"") && page.contains("value=\"parent.martin\""));
    assert!(
        !page.contains("value=\"prof.dubois\""),
        "staff are not ÉduConnect accounts"
    );

    // Unsigned.
    let (unsigned, _) = authn_request_url(&sso, GW_SP_ENTITY, false, None);
    let r = bed.client.get(&unsigned).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("signature"));

    // Tampered: the signed RelayState changed after signing.
    let tampered = url.replace("RelayState=rs-42", "RelayState=rs-43");
    assert_ne!(tampered, url);
    assert_eq!(
        bed.client.get(&tampered).send().await.unwrap().status(),
        400
    );

    // Signed by a key that is not the gateway's.
    let (foreign, _) = authn_request_url(&sso, GW_SP_ENTITY, false, Some(&KEYS.attacker));
    assert_eq!(bed.client.get(&foreign).send().await.unwrap().status(), 400);

    // Signed by the gateway's key but issued in another entity's name.
    let (other_issuer, _) =
        authn_request_url(&sso, "https://other.test/sp", false, Some(&KEYS.gateway));
    let r = bed.client.get(&other_issuer).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("issuer"));
}

#[tokio::test]
async fn educonnect_answers_with_a_signed_response_and_an_encrypted_signed_assertion() {
    let bed = serve().await;
    let (form, request_id) = login_at(&bed, &bed.client, "/idp/educonnect", "eleve.louis").await;
    assert_eq!(form_action(&form), GW_ACS);
    assert_eq!(field(&form, "RelayState").as_deref(), Some("rs-42"));
    let xml = binding::decode_post(&field(&form, "SAMLResponse").unwrap(), 1 << 20).unwrap();

    // The Response verifies with the IdP's certificate, not with another one.
    let verified = dsig::verify_and_reduce(&xml, &[KEYS.educonnect.certificate().clone()]).unwrap();
    assert!(dsig::verify_and_reduce(&xml, &[KEYS.attacker.certificate().clone()]).is_err());

    assert!(messages::parse_response_envelope(&xml).unwrap().signed);
    let envelope = messages::parse_response_envelope(&verified).unwrap();
    assert_eq!(envelope.status_code, ns::STATUS_SUCCESS);
    assert_eq!(
        envelope.in_response_to.as_deref(),
        Some(request_id.as_str())
    );
    assert_eq!(envelope.destination.as_deref(), Some(GW_ACS));
    assert_eq!(envelope.issuer.as_deref(), Some(EDUCONNECT_ENTITY));
    assert_eq!(envelope.assertions, 0, "no plaintext assertion");
    assert_eq!(envelope.encrypted_assertions.len(), 1);

    // Encrypted to the gateway: decrypts with its key, not with another.
    let encrypted = &envelope.encrypted_assertions[0];
    assert!(encrypted.contains(ns::KT_RSA_OAEP_MGF1P) && encrypted.contains(ns::ENC_AES256_GCM));
    assert!(encryption::decrypt_assertion(encrypted, &KEYS.attacker).is_err());
    let assertion_xml = encryption::decrypt_assertion(encrypted, &KEYS.gateway).unwrap();

    // The assertion itself is signed by the IdP.
    let assertion_xml =
        dsig::verify_and_reduce(&assertion_xml, &[KEYS.educonnect.certificate().clone()]).unwrap();
    let assertion = messages::parse_assertion(&assertion_xml).unwrap();
    assert_eq!(assertion.issuer, EDUCONNECT_ENTITY);
    let name_id = assertion.name_id.clone().unwrap();
    assert_eq!(name_id.format.as_deref(), Some(ns::NAMEID_TRANSIENT));
    let conditions = assertion.conditions.clone().unwrap();
    assert_eq!(conditions.audiences, vec![GW_SP_ENTITY.to_owned()]);
    let now = Utc::now();
    assert!(conditions.not_before.unwrap() <= now && now < conditions.not_on_or_after.unwrap());
    let confirmation = &assertion.subject_confirmations[0];
    assert_eq!(confirmation.method, ns::CM_BEARER);
    assert_eq!(confirmation.recipient.as_deref(), Some(GW_ACS));
    assert_eq!(
        confirmation.in_response_to.as_deref(),
        Some(request_id.as_str())
    );
    assert!(confirmation.not_on_or_after.unwrap() > now);
    assert!(assertion.authn_statements[0].session_index.is_some());

    // The documented attribute names, with the population's values.
    let louis = people::by_login("eleve.louis").unwrap();
    let v = values(&assertion);
    for attr in &assertion.attributes {
        let expected_format = if attr.name == a::FR_EDU_CT_REF_ID {
            ns::ATTRNAME_FORMAT_BASIC
        } else {
            ns::ATTRNAME_FORMAT_URI
        };
        assert_eq!(
            attr.name_format.as_deref(),
            Some(expected_format),
            "{}",
            attr.name
        );
    }
    assert_eq!(v[a::FR_EDU_CT_PERSON_AFFILIATION], vec!["eleve2d"]);
    assert_eq!(v[a::FR_EDU_CT_ID], vec![louis.fr_edu_ct_id()]);
    assert_eq!(v[a::FR_EDU_CT_ID][0].len(), 96);
    assert_eq!(
        v[a::FR_EDU_CT_ELEVE_INE_HASH],
        vec![louis.ine_hash().unwrap()]
    );
    assert_eq!(v[a::FR_EDU_CT_DATE_NAISSANCE], vec!["2013-06-30"]);
    assert_eq!(v[a::FR_EDU_CT_ELEVE_UAI], vec![people::COLLEGE_UAI]);
    assert_eq!(v[a::FR_EDU_CT_ELEVE_NIVEAU], vec!["2111"]);
    assert_eq!(v[a::SN], vec!["Martin"]);
    assert_eq!(v[a::GIVEN_NAME], vec!["Louis"]);
    assert_eq!(v[a::FR_EDU_CT_REF_ID], vec!["{AAF}AC-RENNES||3520001"]);
    assert_eq!(
        v[a::FR_EDU_CT_DATE_CONNEXION][0].len(),
        "2022-05-11 11:42:25.475".len()
    );
    assert!(
        v.keys()
            .filter(|k| k.starts_with("urn:oid:1.3.6.1.4.1.20326"))
            .all(|k| k.starts_with(a::EDUCONNECT_PREFIX))
    );
}

#[tokio::test]
async fn a_parent_gets_no_pupil_attributes() {
    let bed = serve().await;
    let (form, _) = login_at(&bed, &bed.client, "/idp/educonnect", "parent.martin").await;
    let xml = binding::decode_post(&field(&form, "SAMLResponse").unwrap(), 1 << 20).unwrap();
    let envelope = messages::parse_response_envelope(&xml).unwrap();
    let assertion_xml =
        encryption::decrypt_assertion(&envelope.encrypted_assertions[0], &KEYS.gateway).unwrap();
    let v = values(&messages::parse_assertion(&assertion_xml).unwrap());
    assert_eq!(v[a::FR_EDU_CT_PERSON_AFFILIATION], vec!["resp1d", "resp2d"]);
    assert!(!v.contains_key(a::FR_EDU_CT_ELEVE_INE_HASH));
    assert!(!v.contains_key(a::FR_EDU_CT_ELEVE_UAI));
    assert!(!v.contains_key(a::FR_EDU_CT_ELEVE_NIVEAU));
}

#[tokio::test]
async fn the_agent_idp_sends_staff_attributes_in_a_signed_plain_assertion() {
    let bed = serve().await;
    let (url, _) = authn_request_url(
        &bed.url("/idp/agents/sso"),
        GW_SP_ENTITY,
        false,
        Some(&KEYS.gateway),
    );
    let page = bed
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("value=\"prof.dubois\""));
    assert!(
        !page.contains("value=\"eleve.lea\""),
        "pupils are not agents"
    );
    // A pupil's login posted to the agent IdP is refused.
    let pending = field(&page, "pending").unwrap();
    let refused = bed
        .client
        .post(bed.url("/idp/agents/login"))
        .form(&[("pending", pending.as_str()), ("login", "eleve.lea")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);

    let (form, _) = login_at(&bed, &bed.client, "/idp/agents", "prof.dubois").await;
    let xml = binding::decode_post(&field(&form, "SAMLResponse").unwrap(), 1 << 20).unwrap();
    let verified = dsig::verify_and_reduce(&xml, &[KEYS.agents.certificate().clone()]).unwrap();
    assert!(dsig::verify_and_reduce(&xml, &[KEYS.educonnect.certificate().clone()]).is_err());
    let envelope = messages::parse_response_envelope(&verified).unwrap();
    assert_eq!(envelope.assertions, 1);
    assert!(envelope.encrypted_assertions.is_empty());
    let assertion = messages::parse_assertion(&verified).unwrap();
    let v = values(&assertion);
    assert_eq!(v[a::CT_REMOTE_USER], vec!["prof.dubois"]);
    assert_eq!(v[a::CT_EMAIL], vec!["lucie.dubois@ac-rennes.example"]);
    assert_eq!(v[a::CT_FN], vec!["Lucie"]);
    assert_eq!(v[a::CT_LN], vec!["Dubois"]);
    assert_eq!(v[a::FR_EDU_FONCT_ADM], vec!["ENS"]);
    assert_eq!(
        v[a::FR_EDU_RNE],
        vec![
            "0359991V$UAJ$PU$N$T3$CLG$340",
            "0359992W$UAJ$PU$N$T3$LYC$300"
        ]
    );
}

#[tokio::test]
async fn the_idp_session_answers_without_the_page_unless_force_authn() {
    let bed = serve().await;
    let sso = bed.url("/idp/educonnect/sso");
    let (first, _) = login_at(&bed, &bed.client, "/idp/educonnect", "eleve.lea").await;
    assert!(field(&first, "SAMLResponse").is_some());

    // Same browser, ForceAuthn=false: answered at once.
    let (url, id) = authn_request_url(&sso, GW_SP_ENTITY, false, Some(&KEYS.gateway));
    let again = bed
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let xml = binding::decode_post(&field(&again, "SAMLResponse").unwrap(), 1 << 20).unwrap();
    assert_eq!(
        messages::parse_response_envelope(&xml)
            .unwrap()
            .in_response_to
            .as_deref(),
        Some(id.as_str())
    );

    // ForceAuthn=true: the page again.
    let (forced, _) = authn_request_url(&sso, GW_SP_ENTITY, true, Some(&KEYS.gateway));
    let page = bed
        .client
        .get(forced)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(field(&page, "SAMLResponse").is_none());
    assert!(field(&page, "pending").is_some());

    // Another browser has no session: the page.
    let (url, _) = authn_request_url(&sso, GW_SP_ENTITY, false, Some(&KEYS.gateway));
    let page = browser()
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(field(&page, "pending").is_some());
}

fn logout_request_url(
    slo: &str,
    name_id: &NameId,
    key: Option<&sso_saml::keys::SigningKey>,
) -> (String, String) {
    let id = new_id();
    let xml = messages::build_logout_request(&LogoutRequest {
        id: id.clone(),
        issuer: GW_SP_ENTITY.to_owned(),
        destination: Some(slo.to_owned()),
        issue_instant: Utc::now(),
        name_id: name_id.clone(),
        session_indexes: Vec::new(),
        not_on_or_after: None,
    });
    (
        binding::redirect_url(slo, MessageKind::Request, &xml, Some("slo-rs"), key).unwrap(),
        id,
    )
}

#[tokio::test]
async fn single_logout_ends_the_idp_session_with_a_signed_logout_response() {
    let bed = serve().await;
    let slo = bed.url("/idp/agents/slo");
    let (form, _) = login_at(&bed, &bed.client, "/idp/agents", "dir.fontaine").await;
    let xml = binding::decode_post(&field(&form, "SAMLResponse").unwrap(), 1 << 20).unwrap();
    let name_id = messages::parse_assertion(&xml).unwrap().name_id.unwrap();

    // Unsigned LogoutRequest: refused, the session lives on.
    let (unsigned, _) = logout_request_url(&slo, &name_id, None);
    assert_eq!(bed.client.get(unsigned).send().await.unwrap().status(), 400);
    let (url, _) = authn_request_url(
        &bed.url("/idp/agents/sso"),
        GW_SP_ENTITY,
        false,
        Some(&KEYS.gateway),
    );
    let still = bed
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        field(&still, "SAMLResponse").is_some(),
        "session still open"
    );

    // Signed LogoutRequest: redirect to the gateway with a signed LogoutResponse.
    let (signed, request_id) = logout_request_url(&slo, &name_id, Some(&KEYS.gateway));
    let r = bed.client.get(signed).send().await.unwrap();
    let back = location(&r);
    assert!(back.starts_with(GW_SP_SLO));
    let msg = binding::decode_redirect(query(&back), 1 << 20).unwrap();
    assert_eq!(msg.kind, MessageKind::Response);
    assert_eq!(msg.relay_state.as_deref(), Some("slo-rs"));
    binding::verify_redirect_signature(&msg, &[KEYS.agents.certificate().clone()]).unwrap();
    assert!(
        binding::verify_redirect_signature(&msg, &[KEYS.attacker.certificate().clone()]).is_err()
    );
    let response = messages::parse_logout_response(&msg.xml).unwrap().message;
    assert_eq!(response.status_code, ns::STATUS_SUCCESS);
    assert_eq!(
        response.in_response_to.as_deref(),
        Some(request_id.as_str())
    );
    assert_eq!(response.issuer, AGENTS_ENTITY);

    // The session is over: the login page again.
    let (url, _) = authn_request_url(
        &bed.url("/idp/agents/sso"),
        GW_SP_ENTITY,
        false,
        Some(&KEYS.gateway),
    );
    let page = bed
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(field(&page, "pending").is_some());
}

#[tokio::test]
async fn the_idp_publishes_metadata_the_gateway_can_parse() {
    let bed = serve().await;
    let r = bed
        .client
        .get(bed.url("/idp/educonnect/metadata"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let md = metadata::parse(&r.text().await.unwrap(), None).unwrap();
    assert_eq!(md.entity_id, EDUCONNECT_ENTITY);
    let idp = md.idp.unwrap();
    assert_eq!(
        idp.signing_certs,
        vec![KEYS.educonnect.certificate().clone()]
    );
    assert!(
        idp.sso
            .iter()
            .any(|e| e.binding == ns::BINDING_HTTP_REDIRECT
                && e.location == bed.url("/idp/educonnect/sso"))
    );
    assert!(
        idp.slo
            .iter()
            .any(|e| e.location == bed.url("/idp/educonnect/slo"))
    );
}

#[tokio::test]
async fn is_passive_without_a_session_gets_a_signed_no_passive_response() {
    let bed = serve().await;
    let sso = bed.url("/idp/agents/sso");
    let passive_url = |client_id: &str| {
        let xml = messages::build_authn_request(&messages::AuthnRequestSpec {
            id: client_id.to_owned(),
            issuer: GW_SP_ENTITY.to_owned(),
            destination: sso.clone(),
            acs_url: Some(GW_ACS.to_owned()),
            protocol_binding: Some(ns::BINDING_HTTP_POST.to_owned()),
            name_id_format: None,
            force_authn: false,
            is_passive: true,
            requested_authn_context: Vec::new(),
            issue_instant: Utc::now(),
        });
        binding::redirect_url(&sso, MessageKind::Request, &xml, None, Some(&KEYS.gateway)).unwrap()
    };
    // No session: a Responder/NoPassive Response, signed, with no assertion.
    let id = new_id();
    let form = bed
        .client
        .get(passive_url(&id))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let xml = binding::decode_post(&field(&form, "SAMLResponse").unwrap(), 1 << 20).unwrap();
    let verified = dsig::verify_and_reduce(&xml, &[KEYS.agents.certificate().clone()]).unwrap();
    let envelope = messages::parse_response_envelope(&verified).unwrap();
    assert_eq!(envelope.status_code, ns::STATUS_RESPONDER);
    assert_eq!(
        envelope.status_sub_code.as_deref(),
        Some(ns::STATUS_NO_PASSIVE)
    );
    assert_eq!(envelope.in_response_to.as_deref(), Some(id.as_str()));
    assert_eq!(envelope.assertions, 0);
    // With a session: an assertion, without the page.
    login_at(&bed, &bed.client, "/idp/agents", "prof.roux").await;
    let form = bed
        .client
        .get(passive_url(&new_id()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let xml = binding::decode_post(&field(&form, "SAMLResponse").unwrap(), 1 << 20).unwrap();
    let envelope = messages::parse_response_envelope(&xml).unwrap();
    assert_eq!(envelope.status_code, ns::STATUS_SUCCESS);
    assert_eq!(envelope.assertions, 1);
}

#[tokio::test]
async fn the_post_binding_requires_an_xml_signature_from_the_gateway() {
    use base64::Engine;
    let bed = serve().await;
    let sso = bed.url("/idp/educonnect/sso");
    let id = new_id();
    let unsigned = messages::build_authn_request(&messages::AuthnRequestSpec {
        id: id.clone(),
        issuer: GW_SP_ENTITY.to_owned(),
        destination: sso.clone(),
        acs_url: Some(GW_ACS.to_owned()),
        protocol_binding: Some(ns::BINDING_HTTP_POST.to_owned()),
        name_id_format: None,
        force_authn: false,
        is_passive: false,
        requested_authn_context: Vec::new(),
        issue_instant: Utc::now(),
    });
    let post = |xml: String| {
        bed.client
            .post(&sso)
            .form(&[
                (
                    "SAMLRequest",
                    base64::engine::general_purpose::STANDARD.encode(xml),
                ),
                ("RelayState", "rs-post".to_owned()),
            ])
            .send()
    };
    // Positive control: signed with the gateway's key.
    let signed = dsig::sign_enveloped(&unsigned, &id, &KEYS.gateway).unwrap();
    let r = post(signed).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(field(&r.text().await.unwrap(), "pending").is_some());
    // Unsigned, or signed by another key: refused.
    assert_eq!(post(unsigned.clone()).await.unwrap().status(), 400);
    let foreign = dsig::sign_enveloped(&unsigned, &id, &KEYS.attacker).unwrap();
    assert_eq!(post(foreign).await.unwrap().status(), 400);
}

/// The NameID and SessionIndex ÉduConnect issued in the auto-post `form`.
fn issued_subject(form: &str) -> (NameId, String) {
    let xml = binding::decode_post(&field(form, "SAMLResponse").unwrap(), 1 << 20).unwrap();
    let envelope = messages::parse_response_envelope(&xml).unwrap();
    let assertion =
        encryption::decrypt_assertion(&envelope.encrypted_assertions[0], &KEYS.gateway).unwrap();
    let assertion = messages::parse_assertion(&assertion).unwrap();
    let session_index = assertion.authn_statements[0].session_index.clone().unwrap();
    (assertion.name_id.unwrap(), session_index)
}

/// The gateway's LogoutResponse to the IdP's LogoutRequest `request_id`.
fn gateway_logout_response(
    bed: &Bed,
    request_id: &str,
    status: &str,
    key: Option<&sso_saml::keys::SigningKey>,
) -> String {
    let slo = bed.url("/idp/educonnect/slo");
    let xml = messages::build_logout_response(&LogoutResponse {
        id: new_id(),
        issuer: GW_SP_ENTITY.to_owned(),
        destination: Some(slo.clone()),
        issue_instant: Utc::now(),
        in_response_to: Some(request_id.to_owned()),
        status_code: status.to_owned(),
        status_sub_code: None,
    });
    binding::redirect_url(&slo, MessageKind::Response, &xml, None, key).unwrap()
}

#[tokio::test]
async fn logout_at_educonnect_sends_a_signed_logout_request_and_accepts_only_the_answer_to_it() {
    let bed = serve().await;
    let (form, _) = login_at(&bed, &bed.client, "/idp/educonnect", "eleve.lea").await;
    let (name_id, session_index) = issued_subject(&form);
    let home = bed.client.get(bed.url("/idp/educonnect")).send().await;
    let home = home.unwrap().text().await.unwrap();
    assert!(
        home.contains("Se déconnecter d’ÉduConnect (simulation)"),
        "{home}"
    );
    assert!(home.contains(&format!("href=\"{}\"", bed.url("/idp/educonnect/logout"))));

    // The IdP ends its session and sends the gateway a signed LogoutRequest
    // for the NameID and SessionIndex it issued.
    let r = bed
        .client
        .get(bed.url("/idp/educonnect/logout"))
        .send()
        .await
        .unwrap();
    let to_gateway = location(&r);
    assert!(
        to_gateway.starts_with(&format!("{GW_SP_SLO}?")),
        "{to_gateway}"
    );
    let msg = binding::decode_redirect(query(&to_gateway), 1 << 20).unwrap();
    assert_eq!(msg.kind, MessageKind::Request);
    assert_eq!(
        msg.signature.as_ref().map(|s| s.sig_alg.as_str()),
        Some(ns::SIG_RSA_SHA256)
    );
    binding::verify_redirect_signature(&msg, &[KEYS.educonnect.certificate().clone()]).unwrap();
    assert!(
        binding::verify_redirect_signature(&msg, &[KEYS.attacker.certificate().clone()]).is_err()
    );
    let request = messages::parse_logout_request(&msg.xml).unwrap().message;
    assert_eq!(request.issuer, EDUCONNECT_ENTITY);
    assert_eq!(request.destination.as_deref(), Some(GW_SP_SLO));
    assert_eq!(request.name_id.value, name_id.value);
    assert_eq!(
        request.name_id.format.as_deref(),
        Some(ns::NAMEID_TRANSIENT)
    );
    assert_eq!(request.session_indexes, vec![session_index]);
    let (url, _) = authn_request_url(
        &bed.url("/idp/educonnect/sso"),
        GW_SP_ENTITY,
        false,
        Some(&KEYS.gateway),
    );
    let page = bed
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(field(&page, "pending").is_some(), "the IdP session is over");

    // Answers the IdP must refuse, each for its own reason, without using up
    // the pending logout.
    let unsigned = gateway_logout_response(&bed, &request.id, ns::STATUS_SUCCESS, None);
    let foreign =
        gateway_logout_response(&bed, &request.id, ns::STATUS_SUCCESS, Some(&KEYS.attacker));
    let other_request =
        gateway_logout_response(&bed, &new_id(), ns::STATUS_SUCCESS, Some(&KEYS.gateway));
    for (url, reason) in [
        (unsigned, "signature"),
        (foreign, "signature"),
        (other_request, "not a logout this identity provider started"),
    ] {
        let r = bed.client.get(url).send().await.unwrap();
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains(reason));
    }

    // The gateway's signed answer to that request: logged out.
    let answer =
        gateway_logout_response(&bed, &request.id, ns::STATUS_SUCCESS, Some(&KEYS.gateway));
    let r = bed.client.get(&answer).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let done = r.text().await.unwrap();
    assert!(
        done.contains("Vous êtes déconnecté d’ÉduConnect (simulation)"),
        "{done}"
    );

    // The same answer again: the logout was already answered.
    let r = bed.client.get(&answer).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("already answered"));
}

#[tokio::test]
async fn a_failed_logout_at_the_gateway_is_not_reported_as_success() {
    let bed = serve().await;
    login_at(&bed, &bed.client, "/idp/educonnect", "eleve.lea").await;
    let r = bed
        .client
        .get(bed.url("/idp/educonnect/logout"))
        .send()
        .await
        .unwrap();
    let msg = binding::decode_redirect(query(&location(&r)), 1 << 20).unwrap();
    let request = messages::parse_logout_request(&msg.xml).unwrap().message;
    let answer =
        gateway_logout_response(&bed, &request.id, ns::STATUS_RESPONDER, Some(&KEYS.gateway));
    let r = bed.client.get(answer).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(page.contains("status"), "{page}");
    assert!(!page.contains("Vous êtes déconnecté"));
}

#[tokio::test]
async fn logout_at_the_idp_without_a_session_goes_back_home() {
    let bed = serve().await;
    let r = bed
        .client
        .get(bed.url("/idp/educonnect/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), bed.url("/idp/educonnect"));
    let home = bed.client.get(bed.url("/idp/educonnect")).send().await;
    let home = home.unwrap().text().await.unwrap();
    assert!(home.contains("Vous n’êtes pas connecté"), "{home}");
    assert!(!home.contains("/logout"));
}
