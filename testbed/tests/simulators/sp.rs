//! The simulated SP (ENT), driven by the test playing the gateway as IdP: it
//! builds Responses with the sso-saml builders and signs them itself.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, Utc};
use sso_saml::binding::{self, MessageKind};
use sso_saml::dsig;
use sso_saml::ids::new_id;
use sso_saml::keys::SigningKey;
use sso_saml::messages::{
    self, AssertionSpec, LogoutRequest, LogoutResponse, NameId, ResponseSpec, SamlAttribute,
};
use sso_saml::metadata;
use sso_saml::ns;

use crate::common::*;

/// The parts of a gateway Response a test may spoil.
struct Forge {
    issuer: String,
    audience: String,
    recipient: String,
    destination: String,
    status: String,
    not_before: Duration,
    not_on_or_after: Duration,
    sign_assertion: bool,
    sign_response: bool,
    key: &'static SigningKey,
    attribute_value: String,
}

impl Forge {
    fn honest(bed: &Bed) -> Self {
        Self {
            issuer: GW_IDP_ENTITY.to_owned(),
            audience: ENT_ENTITY.to_owned(),
            recipient: bed.url("/sp/ent/acs"),
            destination: bed.url("/sp/ent/acs"),
            status: ns::STATUS_SUCCESS.to_owned(),
            not_before: Duration::seconds(-1),
            not_on_or_after: Duration::minutes(5),
            sign_assertion: true,
            sign_response: true,
            key: &KEYS.gateway,
            attribute_value: "National_ELV".to_owned(),
        }
    }

    fn build(&self, in_response_to: &str) -> String {
        let now = Utc::now();
        let assertion_id = new_id();
        let mut assertion = messages::build_assertion(&AssertionSpec {
            id: assertion_id.clone(),
            issuer: self.issuer.clone(),
            issue_instant: now,
            name_id: "opaque-user-42".to_owned(),
            name_id_format: ns::NAMEID_PERSISTENT.to_owned(),
            name_qualifier: None,
            sp_name_qualifier: None,
            recipient: self.recipient.clone(),
            in_response_to: Some(in_response_to.to_owned()),
            not_before: now + self.not_before,
            not_on_or_after: now + self.not_on_or_after,
            audience: self.audience.clone(),
            session_index: "_session-7".to_owned(),
            authn_instant: now,
            authn_context_class_ref: ns::AC_PASSWORD_PROTECTED_TRANSPORT.to_owned(),
            session_not_on_or_after: None,
            attributes: vec![
                SamlAttribute {
                    name: "PRO".to_owned(),
                    name_format: None,
                    friendly_name: None,
                    values: vec![self.attribute_value.clone()],
                },
                SamlAttribute {
                    name: "DIV".to_owned(),
                    name_format: None,
                    friendly_name: None,
                    values: vec!["6A##6e A".to_owned(), "6B##6e B".to_owned()],
                },
            ],
        });
        if self.sign_assertion {
            assertion = dsig::sign_enveloped(&assertion, &assertion_id, self.key).unwrap();
        }
        let spec = ResponseSpec {
            id: new_id(),
            issuer: self.issuer.clone(),
            issue_instant: now,
            destination: self.destination.clone(),
            in_response_to: Some(in_response_to.to_owned()),
            status_code: self.status.clone(),
            status_sub_code: None,
            status_message: None,
        };
        let response = messages::build_response(&spec, Some(&assertion)).unwrap();
        if self.sign_response {
            dsig::sign_enveloped(&response, &spec.id, self.key).unwrap()
        } else {
            response
        }
    }
}

/// Starts a login at the ENT; returns the AuthnRequest's ID and RelayState.
async fn start_login(bed: &Bed, client: &reqwest::Client) -> (String, String) {
    let r = client.get(bed.url("/sp/ent/login")).send().await.unwrap();
    let to = location(&r);
    assert!(to.starts_with(GW_SSO));
    let msg = binding::decode_redirect(query(&to), 1 << 20).unwrap();
    let request = messages::parse_authn_request(&msg.xml).unwrap();
    (request.id, msg.relay_state.unwrap())
}

async fn post_acs(
    bed: &Bed,
    client: &reqwest::Client,
    xml: &str,
    relay_state: &str,
) -> reqwest::Response {
    client
        .post(bed.url("/sp/ent/acs"))
        .form(&[
            ("SAMLResponse", STANDARD.encode(xml)),
            ("RelayState", relay_state.to_owned()),
        ])
        .send()
        .await
        .unwrap()
}

async fn state(bed: &Bed) -> serde_json::Value {
    browser()
        .get(bed.url("/sp/ent/state.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Logs the bed's browser in with an honest Response.
async fn logged_in(bed: &Bed) {
    let (id, relay) = start_login(bed, &bed.client).await;
    let r = post_acs(bed, &bed.client, &Forge::honest(bed).build(&id), &relay).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn the_login_redirect_carries_an_authn_request_signed_with_the_sp_key() {
    let bed = serve().await;
    let r = bed
        .client
        .get(bed.url("/sp/ent/login"))
        .send()
        .await
        .unwrap();
    let to = location(&r);
    let msg = binding::decode_redirect(query(&to), 1 << 20).unwrap();
    assert_eq!(msg.kind, MessageKind::Request);
    binding::verify_redirect_signature(&msg, &[KEYS.ent.certificate().clone()]).unwrap();
    assert!(
        binding::verify_redirect_signature(&msg, &[KEYS.attacker.certificate().clone()]).is_err()
    );
    let request = messages::parse_authn_request(&msg.xml).unwrap();
    assert_eq!(request.issuer.as_deref(), Some(ENT_ENTITY));
    assert_eq!(request.destination.as_deref(), Some(GW_SSO));
    assert_eq!(request.acs_url, Some(bed.url("/sp/ent/acs")));
    assert_eq!(
        request.protocol_binding.as_deref(),
        Some(ns::BINDING_HTTP_POST)
    );
    assert!(request.id.starts_with('_'));
}

#[tokio::test]
async fn the_acs_accepts_the_gateways_signature_and_refuses_another_key() {
    let bed = serve().await;
    let home = bed
        .client
        .get(bed.url("/sp/ent"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("Se connecter"));

    // Positive control: signed with the gateway's key.
    let (id, relay) = start_login(&bed, &bed.client).await;
    let mut honest = Forge::honest(&bed);
    honest.attribute_value = "<b>National_ELV</b>".to_owned();
    let xml = honest.build(&id);
    let r = post_acs(&bed, &bed.client, &xml, &relay).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), bed.url("/sp/ent"));
    let home = bed
        .client
        .get(bed.url("/sp/ent"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("Connecté"));
    assert!(home.contains("opaque-user-42") && home.contains(ns::NAMEID_PERSISTENT));
    assert!(home.contains("_session-7"));
    assert!(
        home.contains("&lt;b&gt;National_ELV&lt;/b&gt;"),
        "values are escaped"
    );
    assert!(!home.contains("<b>National_ELV"));
    assert!(home.contains("6A##6e A") && home.contains("6B##6e B"));
    assert!(home.contains("Médiacentre") && home.contains("Ressource A &lt;éditeur&gt;"));
    assert!(home.contains("Se déconnecter"));
    let s = state(&bed).await;
    assert_eq!(s["sessions"], 1);
    assert_eq!(
        s["last_attributes"]["DIV"],
        serde_json::json!(["6A##6e A", "6B##6e B"])
    );

    // The same Response again: its request was consumed.
    let replay = post_acs(&bed, &bed.client, &xml, &relay).await;
    assert_eq!(replay.status(), 400);
    assert!(replay.text().await.unwrap().contains("InResponseTo"));

    // The same Response signed by another key: refused.
    let (id, relay) = start_login(&bed, &bed.client).await;
    let mut forged = Forge::honest(&bed);
    forged.key = &KEYS.attacker;
    let r = post_acs(&bed, &bed.client, &forged.build(&id), &relay).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("signature"));
    // ... and an unsigned one too.
    let mut unsigned = Forge::honest(&bed);
    unsigned.sign_assertion = false;
    unsigned.sign_response = false;
    assert_eq!(
        post_acs(&bed, &bed.client, &unsigned.build(&id), &relay)
            .await
            .status(),
        400
    );
    assert_eq!(state(&bed).await["sessions"], 1);
    // The request is still pending: the honest answer is accepted.
    let r = post_acs(&bed, &bed.client, &Forge::honest(&bed).build(&id), &relay).await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn each_acs_check_refuses_its_own_mutation() {
    let bed = serve().await;
    type Mutation = fn(&mut Forge);
    let cases: Vec<(&str, Mutation)> = vec![
        ("issuer", |f| f.issuer = "https://other.test/idp".to_owned()),
        ("audience", |f| {
            f.audience = "https://other.test/sp".to_owned()
        }),
        ("subject confirmation", |f| {
            f.recipient = "https://other.test/acs".to_owned()
        }),
        ("destination", |f| {
            f.destination = "https://other.test/acs".to_owned()
        }),
        ("status", |f| f.status = ns::STATUS_RESPONDER.to_owned()),
        ("time window", |f| {
            f.not_before = Duration::minutes(-10);
            f.not_on_or_after = Duration::minutes(-5);
        }),
        ("time window", |f| f.not_before = Duration::minutes(5)),
    ];
    for (check, mutate) in cases {
        // Positive control on the same browser and a fresh request.
        let (id, relay) = start_login(&bed, &bed.client).await;
        let r = post_acs(&bed, &bed.client, &Forge::honest(&bed).build(&id), &relay).await;
        assert_eq!(r.status(), 303, "control for {check}");
        // The mutation.
        let (id, relay) = start_login(&bed, &bed.client).await;
        let mut forge = Forge::honest(&bed);
        mutate(&mut forge);
        let r = post_acs(&bed, &bed.client, &forge.build(&id), &relay).await;
        assert_eq!(r.status(), 400, "{check}");
        let page = r.text().await.unwrap();
        assert!(page.contains(check), "{check} not named in {page}");
    }
}

#[tokio::test]
async fn a_response_signed_on_the_assertion_only_is_accepted() {
    let bed = serve().await;
    let (id, relay) = start_login(&bed, &bed.client).await;
    let mut forge = Forge::honest(&bed);
    forge.sign_response = false;
    let r = post_acs(&bed, &bed.client, &forge.build(&id), &relay).await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn a_response_is_bound_to_the_browser_and_relay_state_of_its_request() {
    let bed = serve().await;
    let (id, relay) = start_login(&bed, &bed.client).await;
    let xml = Forge::honest(&bed).build(&id);
    // Another browser (no flow cookie): refused.
    let r = post_acs(&bed, &browser(), &xml, &relay).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("InResponseTo"));
    // Unknown request ID: refused.
    let r = post_acs(
        &bed,
        &bed.client,
        &Forge::honest(&bed).build(&new_id()),
        &relay,
    )
    .await;
    assert_eq!(r.status(), 400);
    // The right browser with another RelayState: refused.
    let r = post_acs(&bed, &bed.client, &xml, "changed").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("RelayState"));
    // Positive control: the right browser and RelayState, on a new request.
    let (id, relay) = start_login(&bed, &bed.client).await;
    let r = post_acs(&bed, &bed.client, &Forge::honest(&bed).build(&id), &relay).await;
    assert_eq!(r.status(), 303);
}

fn gateway_logout_request(bed: &Bed, key: &SigningKey) -> (String, String) {
    let id = new_id();
    let xml = messages::build_logout_request(&LogoutRequest {
        id: id.clone(),
        issuer: GW_IDP_ENTITY.to_owned(),
        destination: Some(bed.url("/sp/ent/slo")),
        issue_instant: Utc::now(),
        name_id: NameId {
            value: "opaque-user-42".to_owned(),
            format: Some(ns::NAMEID_PERSISTENT.to_owned()),
            name_qualifier: None,
            sp_name_qualifier: None,
        },
        session_indexes: vec!["_session-7".to_owned()],
        not_on_or_after: None,
    });
    let url = binding::redirect_url(
        &bed.url("/sp/ent/slo"),
        MessageKind::Request,
        &xml,
        Some("gw-rs"),
        Some(key),
    )
    .unwrap();
    (url, id)
}

#[tokio::test]
async fn a_logout_request_from_the_gateway_ends_the_session() {
    let bed = serve().await;
    logged_in(&bed).await;
    assert_eq!(state(&bed).await["sessions"], 1);

    // Signed by another key: refused, nothing changes.
    let (forged, _) = gateway_logout_request(&bed, &KEYS.attacker);
    assert_eq!(bed.client.get(forged).send().await.unwrap().status(), 400);
    let s = state(&bed).await;
    assert_eq!(
        (s["sessions"].clone(), s["logouts_received"].clone()),
        (1.into(), 0.into())
    );

    // Signed by the gateway: session ended, signed LogoutResponse to the gateway.
    let (url, request_id) = gateway_logout_request(&bed, &KEYS.gateway);
    let r = bed.client.get(url).send().await.unwrap();
    let back = location(&r);
    assert!(back.starts_with(GW_IDP_SLO));
    let msg = binding::decode_redirect(query(&back), 1 << 20).unwrap();
    assert_eq!(msg.relay_state.as_deref(), Some("gw-rs"));
    binding::verify_redirect_signature(&msg, &[KEYS.ent.certificate().clone()]).unwrap();
    let response = messages::parse_logout_response(&msg.xml).unwrap().message;
    assert_eq!(
        response.in_response_to.as_deref(),
        Some(request_id.as_str())
    );
    assert_eq!(response.status_code, ns::STATUS_SUCCESS);
    let s = state(&bed).await;
    assert_eq!(
        (s["sessions"].clone(), s["logouts_received"].clone()),
        (0.into(), 1.into())
    );
    let home = bed
        .client
        .get(bed.url("/sp/ent"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("Se connecter"));
}

#[tokio::test]
async fn sp_initiated_logout_sends_the_received_name_id_and_session_index() {
    let bed = serve().await;
    logged_in(&bed).await;
    let r = bed
        .client
        .get(bed.url("/sp/ent/logout"))
        .send()
        .await
        .unwrap();
    let to = location(&r);
    assert!(to.starts_with(GW_IDP_SLO));
    let msg = binding::decode_redirect(query(&to), 1 << 20).unwrap();
    binding::verify_redirect_signature(&msg, &[KEYS.ent.certificate().clone()]).unwrap();
    let request = messages::parse_logout_request(&msg.xml).unwrap().message;
    assert_eq!(request.name_id.value, "opaque-user-42");
    assert_eq!(request.session_indexes, vec!["_session-7".to_owned()]);
    assert_eq!(state(&bed).await["sessions"], 0);

    let answer = |in_response_to: &str| {
        let xml = messages::build_logout_response(&LogoutResponse {
            id: new_id(),
            issuer: GW_IDP_ENTITY.to_owned(),
            destination: Some(bed.url("/sp/ent/slo")),
            issue_instant: Utc::now(),
            in_response_to: Some(in_response_to.to_owned()),
            status_code: ns::STATUS_SUCCESS.to_owned(),
            status_sub_code: None,
        });
        binding::redirect_url(
            &bed.url("/sp/ent/slo"),
            MessageKind::Response,
            &xml,
            None,
            Some(&KEYS.gateway),
        )
        .unwrap()
    };
    // An answer to another request: refused.
    let r = bed.client.get(answer(&new_id())).send().await.unwrap();
    assert_eq!(r.status(), 400);
    // The answer to ours: "Vous êtes déconnecté".
    let r = bed.client.get(answer(&request.id)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Vous êtes déconnecté"));
}

#[tokio::test]
async fn the_sp_publishes_metadata_the_gateway_can_parse() {
    let bed = serve().await;
    let r = bed
        .client
        .get(bed.url("/sp/ent/metadata"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let md = metadata::parse(&r.text().await.unwrap(), None).unwrap();
    assert_eq!(md.entity_id, ENT_ENTITY);
    let sp = md.sp.unwrap();
    assert!(sp.authn_requests_signed);
    assert!(
        sp.acs
            .iter()
            .any(|e| e.binding == ns::BINDING_HTTP_POST && e.location == bed.url("/sp/ent/acs"))
    );
    assert!(
        sp.slo
            .iter()
            .any(|e| e.binding == ns::BINDING_HTTP_REDIRECT && e.location == bed.url("/sp/ent/slo"))
    );
    assert_eq!(sp.signing_certs, vec![KEYS.ent.certificate().clone()]);
}
