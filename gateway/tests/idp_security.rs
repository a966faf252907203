#![cfg(test)]
//! The gateway as SAML IdP of the services: AuthnRequest checks and the
//! properties of the Responses it issues, through HTTP against the real
//! server. Each refusal comes with its positive control (the untouched
//! request is accepted first).

mod common;

use base64::Engine;
use chrono::Utc;
use common::{Browser, Stack, form, link};
use sso_saml::binding::{self, MessageKind};
use sso_saml::keys::SigningKey;
use sso_saml::messages::{self, AuthnRequestSpec};
use sso_saml::metadata::{SpMetadataSpec, build_sp_metadata};
use sso_saml::{dsig, ids, ns};

const SP_ENTITY: &str = "https://sp.test/saml";
const SP_ACS: &str = "https://sp.test/saml/acs";

struct TestSp {
    key: SigningKey,
    stack: Stack,
}

impl TestSp {
    async fn start() -> Self {
        let key = SigningKey::generate_self_signed("test sp").unwrap();
        let metadata = build_sp_metadata(&SpMetadataSpec {
            entity_id: SP_ENTITY,
            signing_cert: key.certificate(),
            encryption_cert: None,
            acs_post: SP_ACS,
            slo_redirect: Some("https://sp.test/saml/slo"),
            slo_post: None,
            authn_requests_signed: true,
            want_assertions_signed: true,
        });
        let definition = r#"
id = "test-sp"
display_name = "Service de test"
kind = "ent"
[saml]
entity_id = "https://sp.test/saml"
metadata_file = "test-sp.metadata.xml"
require_signed_authn_requests = true
sign_response = true
name_id_format = "persistent"
[release]
attributes = ["IDO", "PRO", "UAI"]
"#;
        let stack = Stack::memory_with(vec![
            ("test-sp.toml".to_owned(), definition.to_owned()),
            ("test-sp.metadata.xml".to_owned(), metadata),
        ])
        .await;
        Self { key, stack }
    }

    fn request(&self, acs: Option<&str>, destination: Option<String>) -> (String, String) {
        self.request_with_contexts(acs, destination, Vec::new())
    }

    /// An AuthnRequest with a `RequestedAuthnContext` (comparison exact).
    fn request_with_contexts(
        &self,
        acs: Option<&str>,
        destination: Option<String>,
        contexts: Vec<String>,
    ) -> (String, String) {
        let id = ids::new_id();
        let xml = messages::build_authn_request(&AuthnRequestSpec {
            id: id.clone(),
            issuer: SP_ENTITY.to_owned(),
            destination: destination.unwrap_or_else(|| self.stack.url("/saml/idp/sso")),
            acs_url: acs.map(str::to_owned),
            protocol_binding: Some(ns::BINDING_HTTP_POST.to_owned()),
            name_id_format: None,
            force_authn: false,
            is_passive: false,
            requested_authn_context: contexts,
            issue_instant: Utc::now(),
        });
        (id, xml)
    }

    /// The HTTP-Redirect binding by hand (saml-bindings §3.4.4), signed with
    /// the SP's key, for messages the library refuses to encode.
    fn raw_redirect(&self, xml: &str) -> String {
        use std::io::Write;
        let mut deflater =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        deflater.write_all(xml.as_bytes()).unwrap();
        let encoded = base64::engine::general_purpose::STANDARD.encode(deflater.finish().unwrap());
        let escape =
            |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        let signed = format!(
            "SAMLRequest={}&RelayState=rs-1&SigAlg={}",
            escape(&encoded),
            escape(ns::SIG_RSA_SHA256)
        );
        let pkey = openssl::pkey::PKey::private_key_from_pem(&self.key.private_key_pem().unwrap())
            .unwrap();
        let mut signer =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &pkey).unwrap();
        signer.update(signed.as_bytes()).unwrap();
        let signature =
            base64::engine::general_purpose::STANDARD.encode(signer.sign_to_vec().unwrap());
        format!(
            "{}?{signed}&Signature={}",
            self.stack.url("/saml/idp/sso"),
            escape(&signature)
        )
    }

    fn redirect(&self, xml: &str, key: Option<&SigningKey>) -> String {
        binding::redirect_url(
            &self.stack.url("/saml/idp/sso"),
            MessageKind::Request,
            xml,
            Some("rs-1"),
            key,
        )
        .unwrap()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn status_of(url: &str) -> (u16, String) {
    let response = client().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.text().await.unwrap();
    (status, format!("{location}{body}"))
}

async fn accepted(url: &str) {
    let (status, text) = status_of(url).await;
    assert_eq!(status, 303, "positive control refused: {text}");
    assert!(text.starts_with("/login"), "{text}");
}

async fn refused(url: &str, page_text: &str) {
    let (status, text) = status_of(url).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains(page_text), "{text}");
    assert!(
        !text.contains(SP_ACS) || !text.contains("SAMLResponse"),
        "no Response sent to an unregistered ACS"
    );
}

#[tokio::test]
async fn registered_acs_is_accepted_and_any_other_refused() {
    let sp = TestSp::start().await;
    let (_, xml) = sp.request(Some(SP_ACS), None);
    accepted(&sp.redirect(&xml, Some(&sp.key))).await;
    let (_, xml) = sp.request(None, None);
    accepted(&sp.redirect(&xml, Some(&sp.key))).await;
    for evil in [
        "https://evil.test/acs",
        "https://sp.test/saml/acs/",
        "https://SP.test/saml/acs",
        "https://sp.test/saml/acs?x=1",
    ] {
        let (_, xml) = sp.request(Some(evil), None);
        refused(&sp.redirect(&xml, Some(&sp.key)), "Demande invalide").await;
    }
}

#[tokio::test]
async fn unsigned_or_foreign_signed_authn_request_is_refused() {
    let sp = TestSp::start().await;
    let (_, xml) = sp.request(Some(SP_ACS), None);
    accepted(&sp.redirect(&xml, Some(&sp.key))).await;
    refused(&sp.redirect(&xml, None), "Demande invalide").await;
    let attacker = SigningKey::generate_self_signed("attacker").unwrap();
    refused(&sp.redirect(&xml, Some(&attacker)), "Demande invalide").await;
    let tampered = sp
        .redirect(&xml, Some(&sp.key))
        .replace("RelayState=rs-1", "RelayState=rs-2");
    refused(&tampered, "Demande invalide").await;
}

#[tokio::test]
async fn unknown_issuer_and_wrong_destination_are_refused() {
    let sp = TestSp::start().await;
    let (_, xml) = sp.request(Some(SP_ACS), None);
    accepted(&sp.redirect(&xml, Some(&sp.key))).await;
    let unknown = xml.replace(SP_ENTITY, "https://unknown.test/saml");
    refused(&sp.redirect(&unknown, Some(&sp.key)), "Service inconnu").await;
    let (_, elsewhere) = sp.request(
        Some(SP_ACS),
        Some("https://other-gateway.test/sso".to_owned()),
    );
    refused(&sp.redirect(&elsewhere, Some(&sp.key)), "Demande invalide").await;
}

#[tokio::test]
async fn doctype_and_deflate_bomb_are_refused() {
    let sp = TestSp::start().await;
    let (_, xml) = sp.request(Some(SP_ACS), None);
    accepted(&sp.raw_redirect(&xml)).await;
    let with_doctype = format!("<!DOCTYPE r [<!ENTITY x \"y\">]>{xml}");
    refused(&sp.raw_redirect(&with_doctype), "Demande invalide").await;
    // A request padded with 4 MiB of blanks deflates to a few kilobytes.
    let bomb = xml.replacen(
        "<saml:Issuer",
        &format!("{}<saml:Issuer", " ".repeat(4 * 1024 * 1024)),
        1,
    );
    assert_ne!(bomb, xml);
    let url = sp.raw_redirect(&bomb);
    assert!(url.len() < 64 * 1024, "the bomb is small on the wire");
    refused(&url, "Demande invalide").await;
}

#[tokio::test]
async fn post_binding_requires_a_valid_xml_signature_and_bounds_the_body() {
    let sp = TestSp::start().await;
    let (id, xml) = sp.request(Some(SP_ACS), None);
    let signed = dsig::sign_enveloped(&xml, &id, &sp.key).unwrap();
    let post = |xml: String| {
        let b64 = base64::engine::general_purpose::STANDARD.encode(xml);
        let url = sp.stack.url("/saml/idp/sso");
        async move {
            client()
                .post(url)
                .form(&[("SAMLRequest", b64)])
                .send()
                .await
                .unwrap()
        }
    };
    let ok = post(signed.clone()).await;
    assert_eq!(ok.status(), 303);
    assert!(
        ok.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/saml/idp/continue?flow=")
    );
    assert_eq!(post(xml.clone()).await.status(), 400, "unsigned");
    assert_eq!(
        post(signed.replace(SP_ACS, "https://evil.test/acs"))
            .await
            .status(),
        400,
        "tampered after signing"
    );
    let huge = "A".repeat(300 * 1024);
    let response = client()
        .post(sp.stack.url("/saml/idp/sso"))
        .form(&[("SAMLRequest", huge)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413, "body over server.max_body_bytes");
}

#[tokio::test]
async fn issued_response_has_the_required_properties_and_only_released_attributes() {
    let sp = TestSp::start().await;
    let (request_id, xml) = sp.request(Some(SP_ACS), None);
    let mut browser = Browser::new();
    browser.stop_at = Some("https://sp.test/".to_owned());
    let discovery = browser.open(&sp.redirect(&xml, Some(&sp.key))).await;
    let target = link(&discovery.body, "/login/educonnect?flow=").unwrap();
    let accounts = browser.open(&sp.stack.url(&target)).await;
    let page = browser.login_as(&accounts, "eleve.louis").await;
    let (action, fields) = form(&page.body).expect("the auto-post form to the service");
    assert_eq!(action, SP_ACS);
    let relay = fields
        .iter()
        .find(|(k, _)| k == "RelayState")
        .map(|(_, v)| v.as_str());
    assert_eq!(relay, Some("rs-1"));
    let b64 = &fields.iter().find(|(k, _)| k == "SAMLResponse").unwrap().1;
    let response_xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap();

    let envelope = messages::parse_response_envelope(&response_xml).unwrap();
    assert!(
        envelope.signed,
        "the registration asks for a signed Response"
    );
    assert_eq!(envelope.assertions, 1);
    assert_eq!(envelope.destination.as_deref(), Some(SP_ACS));
    assert_eq!(
        envelope.in_response_to.as_deref(),
        Some(request_id.as_str())
    );
    assert!(
        envelope.id.len() >= 33,
        "IDs carry at least 128 random bits"
    );
    assert!(response_xml.contains(ns::SIG_RSA_SHA256) && response_xml.contains(ns::DIGEST_SHA256));
    assert!(!response_xml.contains(ns::DIGEST_SHA1) && !response_xml.contains(ns::SIG_RSA_SHA1));

    let idp_cert = sp.stack.stack.state.signing_key.certificate().clone();
    let verified = dsig::verify_and_reduce(&response_xml, &[idp_cert]).unwrap();
    let assertion = messages::parse_assertion(&verified).unwrap();
    assert!(
        messages::parse_assertion(&response_xml).unwrap().signed,
        "the Assertion itself is signed"
    );
    let conditions = assertion.conditions.unwrap();
    assert_eq!(conditions.audiences, vec![SP_ENTITY.to_owned()]);
    let lifetime = conditions.not_on_or_after.unwrap() - assertion.issue_instant;
    assert!(lifetime <= chrono::Duration::minutes(5), "{lifetime}");
    let bearer = &assertion.subject_confirmations[0];
    assert_eq!(bearer.recipient.as_deref(), Some(SP_ACS));
    assert_eq!(bearer.in_response_to.as_deref(), Some(request_id.as_str()));
    assert!(assertion.authn_statements[0].session_index.is_some());
    let name_id = assertion.name_id.unwrap();
    assert_eq!(name_id.format.as_deref(), Some(ns::NAMEID_PERSISTENT));
    let names: Vec<&str> = assertion
        .attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["IDO", "PRO", "UAI"],
        "exactly the released attributes"
    );
    assert!(
        !response_xml.contains("Martin"),
        "the surname is not released to this service"
    );
    assert!(!response_xml.contains("eleve.louis"));
    let ido = &assertion.attributes[0].values[0];
    assert_eq!(
        &name_id.value, ido,
        "persistent NameID is the opaque identifier"
    );
}

#[tokio::test]
async fn logout_requests_must_be_fresh() {
    let sp = TestSp::start().await;
    let logout = |issue_instant: chrono::DateTime<Utc>| {
        let xml = messages::build_logout_request(&messages::LogoutRequest {
            id: ids::new_id(),
            issuer: SP_ENTITY.to_owned(),
            destination: Some(sp.stack.url("/saml/idp/slo")),
            issue_instant,
            name_id: messages::NameId {
                value: "someone".to_owned(),
                format: Some(ns::NAMEID_PERSISTENT.to_owned()),
                name_qualifier: None,
                sp_name_qualifier: None,
            },
            session_indexes: vec!["_s1".to_owned()],
            not_on_or_after: None,
        });
        binding::redirect_url(
            &sp.stack.url("/saml/idp/slo"),
            MessageKind::Request,
            &xml,
            Some("rs-1"),
            Some(&sp.key),
        )
        .unwrap()
    };
    let (status, location) = status_of(&logout(Utc::now())).await;
    assert_eq!(status, 303, "positive control: {location}");
    assert!(
        location.starts_with("https://sp.test/saml/slo?SAMLResponse="),
        "{location}"
    );
    let (status, _) = status_of(&logout(Utc::now() - chrono::Duration::minutes(20))).await;
    assert_eq!(status, 400, "a twenty-minute-old LogoutRequest");
    let (status, _) = status_of(&logout(Utc::now() + chrono::Duration::minutes(10))).await;
    assert_eq!(status, 400, "a LogoutRequest from the future");
}

/// The Response a browser carries back to the test SP after logging in as
/// `login` through `idp` for an AuthnRequest asking `contexts`.
async fn response_for_contexts(sp: &TestSp, idp: &str, login: &str, contexts: &[&str]) -> String {
    let contexts = contexts.iter().map(|c| (*c).to_owned()).collect();
    let (_, xml) = sp.request_with_contexts(Some(SP_ACS), None, contexts);
    let mut browser = Browser::new();
    browser.stop_at = Some("https://sp.test/".to_owned());
    let discovery = browser.open(&sp.redirect(&xml, Some(&sp.key))).await;
    let target = link(&discovery.body, &format!("/login/{idp}?flow=")).unwrap();
    let accounts = browser.open(&sp.stack.url(&target)).await;
    let page = browser.login_as(&accounts, login).await;
    let (action, fields) = form(&page.body).expect("the auto-post form to the service");
    assert_eq!(action, SP_ACS);
    let b64 = &fields.iter().find(|(k, _)| k == "SAMLResponse").unwrap().1;
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

/// A `RequestedAuthnContext` with comparison exact (saml-core §3.3.2.2.1):
/// the agents' IdP is asked for it and the assertion carries it; a login
/// that cannot give it (ÉduConnect: password only) gets a Response with
/// status Responder/NoAuthnContext and no assertion.
#[tokio::test]
async fn a_requested_authn_context_is_obtained_or_answered_no_authn_context() {
    let sp = TestSp::start().await;
    // Positive control: the password context, which ÉduConnect gives.
    let xml = response_for_contexts(
        &sp,
        "educonnect",
        "eleve.louis",
        &[ns::AC_PASSWORD_PROTECTED_TRANSPORT],
    )
    .await;
    let envelope = messages::parse_response_envelope(&xml).unwrap();
    assert_eq!(envelope.status_code, ns::STATUS_SUCCESS);
    assert_eq!(envelope.assertions, 1);

    // OTP from the agents' IdP: asked upstream, carried in the assertion.
    let xml = response_for_contexts(&sp, "agents", "prof.blanc", &[ns::AC_TIME_SYNC_TOKEN]).await;
    let envelope = messages::parse_response_envelope(&xml).unwrap();
    assert_eq!(envelope.status_code, ns::STATUS_SUCCESS);
    assert!(xml.contains(ns::AC_TIME_SYNC_TOKEN), "{xml}");

    // OTP through ÉduConnect, which logs in by password only.
    let xml =
        response_for_contexts(&sp, "educonnect", "eleve.louis", &[ns::AC_TIME_SYNC_TOKEN]).await;
    let envelope = messages::parse_response_envelope(&xml).unwrap();
    assert_eq!(envelope.status_code, ns::STATUS_RESPONDER);
    assert_eq!(
        envelope.status_sub_code.as_deref(),
        Some(ns::STATUS_NO_AUTHN_CONTEXT)
    );
    assert_eq!(envelope.assertions, 0);
    assert!(envelope.signed);
}

/// `IsPassive` without a session (saml-core §3.4.1): no page is shown, the
/// service gets a signed Response with status Responder/NoPassive and no
/// assertion; with a session, the assertion (positive control).
#[tokio::test]
async fn a_passive_request_without_a_session_gets_no_passive() {
    let sp = TestSp::start().await;
    let passive = |sp: &TestSp| {
        messages::build_authn_request(&AuthnRequestSpec {
            id: ids::new_id(),
            issuer: SP_ENTITY.to_owned(),
            destination: sp.stack.url("/saml/idp/sso"),
            acs_url: Some(SP_ACS.to_owned()),
            protocol_binding: Some(ns::BINDING_HTTP_POST.to_owned()),
            name_id_format: None,
            force_authn: false,
            is_passive: true,
            requested_authn_context: Vec::new(),
            issue_instant: Utc::now(),
        })
    };
    let response_of = |page: &common::Page| {
        let (action, fields) = form(&page.body).expect("the auto-post form to the service");
        assert_eq!(action, SP_ACS);
        let b64 = &fields.iter().find(|(k, _)| k == "SAMLResponse").unwrap().1;
        let xml = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        messages::parse_response_envelope(&String::from_utf8(xml).unwrap()).unwrap()
    };

    let mut browser = Browser::new();
    browser.stop_at = Some("https://sp.test/".to_owned());
    let page = browser
        .open(&sp.redirect(&passive(&sp), Some(&sp.key)))
        .await;
    assert!(!browser.went_through("/login"), "{:?}", browser.visited);
    let envelope = response_of(&page);
    assert_eq!(envelope.status_code, ns::STATUS_RESPONDER);
    assert_eq!(
        envelope.status_sub_code.as_deref(),
        Some(ns::STATUS_NO_PASSIVE)
    );
    assert_eq!(envelope.assertions, 0);
    assert!(envelope.signed);

    // Logged in (through a first, interactive request), the same passive
    // request gets an assertion at once.
    let mut logged_in = Browser::new();
    logged_in.stop_at = Some("https://sp.test/".to_owned());
    let (_, xml) = sp.request(Some(SP_ACS), None);
    let discovery = logged_in.open(&sp.redirect(&xml, Some(&sp.key))).await;
    let target = link(&discovery.body, "/login/educonnect?flow=").unwrap();
    let accounts = logged_in.open(&sp.stack.url(&target)).await;
    logged_in.login_as(&accounts, "eleve.louis").await;
    let page = logged_in
        .open(&sp.redirect(&passive(&sp), Some(&sp.key)))
        .await;
    let envelope = response_of(&page);
    assert_eq!(envelope.status_code, ns::STATUS_SUCCESS);
    assert_eq!(envelope.assertions, 1);
}
