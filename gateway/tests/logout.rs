#![cfg(test)]
//! Single logout over the SOAP back channel (saml-bindings §3.2,
//! saml-profiles §4.4.3.3): a test service registered with a SOAP
//! SingleLogoutService served by the test itself. The gateway must send it
//! one LogoutRequest signed with its key, for the NameID and SessionIndex the
//! service was given, and report on the logout page whether it answered
//! within `saml.logout_timeout_ms`. And the Destination rule for incoming
//! LogoutRequests (saml-bindings §3.4.5.2): a request signed for this stack
//! is refused by another gateway trusting the same parties.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use base64::Engine;
use chrono::Utc;
use common::{Browser, Page, Stack, form, login_at_ent};
use sso_saml::binding::{self, MessageKind};
use sso_saml::keys::{Certificate, SigningKey};
use sso_saml::messages::{self, AuthnRequestSpec, LogoutRequest, LogoutResponse, NameId};
use sso_saml::{dsig, ids, ns};

const SP_ENTITY: &str = "https://soap-sp.test/saml";
const SP_ACS: &str = "https://soap-sp.test/saml/acs";
const SP_NAME: &str = "Service de test SOAP";

/// One LogoutRequest as the test service's SOAP endpoint received it.
struct Received {
    /// The SOAP Body's element, as sent.
    raw: String,
    /// The LogoutRequest read from the signature-verified content.
    request: LogoutRequest,
}

/// How the test service answers a LogoutRequest that verified.
#[derive(Clone, Copy)]
enum Answer {
    /// At once: Success, InResponseTo the request.
    Promptly,
    /// The same, after this long (past the gateway's bound).
    After(Duration),
    /// At once, Success, but InResponseTo another request.
    ToAnotherRequest,
}

/// The test service's SOAP endpoint.
struct SoapEndpoint {
    /// Verifies the gateway's XML signature.
    gateway_cert: Certificate,
    answer: Answer,
    /// Every LogoutRequest whose signature verified.
    received: Mutex<Vec<Received>>,
    /// Envelopes whose content did not verify or parse.
    refused: Mutex<usize>,
}

/// Unwraps the envelope, verifies the LogoutRequest's signature with the
/// gateway's certificate, records it and answers a SOAP LogoutResponse
/// (Success, InResponseTo); an unverifiable request gets a 400.
async fn soap_slo(State(endpoint): State<Arc<SoapEndpoint>>, body: String) -> (StatusCode, String) {
    let verified = messages::unwrap_soap(&body).ok().and_then(|raw| {
        let reduced =
            dsig::verify_and_reduce(&raw, std::slice::from_ref(&endpoint.gateway_cert)).ok()?;
        let request = messages::parse_logout_request(&reduced).ok()?.message;
        Some(Received { raw, request })
    });
    let Some(received) = verified else {
        *endpoint.refused.lock().unwrap() += 1;
        return (StatusCode::BAD_REQUEST, String::new());
    };
    let mut request_id = received.request.id.clone();
    endpoint.received.lock().unwrap().push(received);
    match endpoint.answer {
        Answer::Promptly => {}
        Answer::After(delay) => tokio::time::sleep(delay).await,
        Answer::ToAnotherRequest => request_id = ids::new_id(),
    }
    let answer = messages::build_logout_response(&LogoutResponse {
        id: ids::new_id(),
        issuer: SP_ENTITY.to_owned(),
        destination: None,
        issue_instant: Utc::now(),
        in_response_to: Some(request_id),
        status_code: ns::STATUS_SUCCESS.to_owned(),
        status_sub_code: None,
    });
    (StatusCode::OK, messages::wrap_soap(&answer).unwrap())
}

/// A demo stack with the test service registered, and its SOAP endpoint.
struct SoapService {
    stack: Stack,
    key: SigningKey,
    endpoint: Arc<SoapEndpoint>,
    slo_url: String,
}

impl SoapService {
    /// Starts the SOAP endpoint on 127.0.0.1:0 (answering as `answer` says),
    /// then the stack with the service registered inline.
    async fn start(answer: Answer) -> Self {
        let key = SigningKey::generate_self_signed("soap test sp").unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let slo_url = format!("http://{}/soap", listener.local_addr().unwrap());
        let definition = format!(
            r#"
id = "soap-sp"
display_name = "{SP_NAME}"
kind = "ent"
[saml]
entity_id = "{SP_ENTITY}"
acs = [{{ url = "{SP_ACS}", binding = "{post}", index = 0, default = true }}]
slo = [{{ url = "{slo_url}", binding = "{soap}" }}]
signing_certificate_file = "soap-sp.crt"
require_signed_authn_requests = true
name_id_format = "persistent"
[release]
attributes = ["IDO", "PRO", "UAI"]
"#,
            post = ns::BINDING_HTTP_POST,
            soap = ns::BINDING_SOAP,
        );
        let certificate = String::from_utf8(key.certificate().to_pem().unwrap()).unwrap();
        let stack = Stack::memory_with(vec![
            ("soap-sp.toml".to_owned(), definition),
            ("soap-sp.crt".to_owned(), certificate),
        ])
        .await;
        let endpoint = Arc::new(SoapEndpoint {
            gateway_cert: stack.stack.state.signing_key.certificate().clone(),
            answer,
            received: Mutex::new(Vec::new()),
            refused: Mutex::new(0),
        });
        let app = Router::new()
            .route("/soap", post(soap_slo))
            .with_state(Arc::clone(&endpoint));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            stack,
            key,
            endpoint,
            slo_url,
        }
    }

    /// Logs a pupil into the ENT, then opens the test service in the same
    /// session (its signed AuthnRequest, the Response held at its ACS).
    /// Returns the NameID and SessionIndex the service was given.
    async fn log_in(&self, browser: &mut Browser) -> (NameId, String) {
        let ent = login_at_ent(&self.stack, browser, "educonnect", "eleve.louis").await;
        assert!(ent.url.ends_with("/testbed/ent"), "{}", ent.url);
        let id = ids::new_id();
        let sso = self.stack.url("/saml/idp/sso");
        let xml = messages::build_authn_request(&AuthnRequestSpec {
            id,
            issuer: SP_ENTITY.to_owned(),
            destination: sso.clone(),
            acs_url: Some(SP_ACS.to_owned()),
            protocol_binding: Some(ns::BINDING_HTTP_POST.to_owned()),
            name_id_format: None,
            force_authn: false,
            is_passive: false,
            requested_authn_context: Vec::new(),
            issue_instant: Utc::now(),
        });
        let url =
            binding::redirect_url(&sso, MessageKind::Request, &xml, None, Some(&self.key)).unwrap();
        browser.stop_at = Some("https://soap-sp.test/".to_owned());
        let held = browser.open(&url).await;
        browser.stop_at = None;
        let (action, fields) = form(&held.body).expect("the auto-post form to the service");
        assert_eq!(action, SP_ACS);
        let b64 = &fields.iter().find(|(k, _)| k == "SAMLResponse").unwrap().1;
        let response = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let verified = dsig::verify_and_reduce(
            &String::from_utf8(response).unwrap(),
            std::slice::from_ref(&self.endpoint.gateway_cert),
        )
        .unwrap();
        let assertion = messages::parse_assertion(&verified).unwrap();
        let session_index = assertion.authn_statements[0].session_index.clone().unwrap();
        (assertion.name_id.unwrap(), session_index)
    }

    /// `/logout`, bounded so that a hang fails the test instead of blocking it.
    async fn logout(&self, browser: &mut Browser) -> Page {
        let url = self.stack.url("/logout");
        tokio::time::timeout(Duration::from_secs(60), browser.open(&url))
            .await
            .expect("the logout page comes even when a service does not answer")
    }
}

#[tokio::test]
async fn the_soap_participant_gets_one_signed_logout_request_and_is_reported_logged_out() {
    let service = SoapService::start(Answer::Promptly).await;
    let mut browser = Browser::new();
    let (name_id, session_index) = service.log_in(&mut browser).await;

    let page = service.logout(&mut browser).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Vous êtes déconnecté"), "{}", page.body);
    assert!(
        page.body.contains(&format!("{SP_NAME}&nbsp;: déconnecté")),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("ENT du collège Anne de Kervellec&nbsp;: déconnecté")
    );
    assert_eq!(service.stack.sp_state("ent").await["logouts_received"], 1);

    assert_eq!(*service.endpoint.refused.lock().unwrap(), 0);
    let received = service.endpoint.received.lock().unwrap();
    assert_eq!(received.len(), 1, "exactly one LogoutRequest");
    let Received { raw, request } = &received[0];
    assert!(messages::parse_logout_request(raw).unwrap().signed);
    assert!(raw.contains(ns::SIG_RSA_SHA256) && raw.contains(ns::DIGEST_SHA256));
    let other = SigningKey::generate_self_signed("another key").unwrap();
    assert!(
        dsig::verify_and_reduce(raw, std::slice::from_ref(other.certificate())).is_err(),
        "the signature is the gateway's, not any key's"
    );
    let idp_entity = &service.stack.stack.state.config.saml.idp_entity_id;
    assert_eq!(&request.issuer, idp_entity);
    assert_eq!(
        request.destination.as_deref(),
        Some(service.slo_url.as_str())
    );
    assert_eq!(request.name_id.value, name_id.value);
    assert_eq!(request.name_id.format, name_id.format);
    assert_eq!(request.session_indexes, vec![session_index]);
}

#[tokio::test]
async fn a_soap_participant_that_does_not_answer_in_time_is_reported_without_answer() {
    let stack_timeout = Duration::from_millis(3000);
    let service = SoapService::start(Answer::After(stack_timeout + Duration::from_secs(3))).await;
    let configured = service.stack.stack.state.config.saml.logout_timeout_ms;
    assert_eq!(
        Duration::from_millis(configured),
        stack_timeout,
        "the endpoint sleeps past the configured bound"
    );
    let mut browser = Browser::new();
    service.log_in(&mut browser).await;

    let page = service.logout(&mut browser).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Vous êtes déconnecté"), "{}", page.body);
    assert!(
        page.body
            .contains(&format!("{SP_NAME}&nbsp;: sans réponse")),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("ENT du collège Anne de Kervellec&nbsp;: déconnecté")
    );
    assert_eq!(
        service.endpoint.received.lock().unwrap().len(),
        1,
        "the request was delivered; only the answer was late"
    );

    // The session ended all the same.
    let again = browser.open(&service.stack.url("/testbed/ent/login")).await;
    assert!(again.url.contains("/login?flow="), "{}", again.url);
}

#[tokio::test]
async fn a_soap_answer_to_another_request_is_not_a_confirmation() {
    let service = SoapService::start(Answer::ToAnotherRequest).await;
    let mut browser = Browser::new();
    service.log_in(&mut browser).await;

    let page = service.logout(&mut browser).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains(&format!("{SP_NAME}&nbsp;: sans réponse")),
        "{}",
        page.body
    );
    assert_eq!(service.endpoint.received.lock().unwrap().len(), 1);
}

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The query string of a URL.
fn query(url: &str) -> &str {
    url.split_once('?').unwrap().1
}

/// The message of `untouched`, delivered to `endpoint` of another gateway
/// than its Destination, is refused.
async fn refused_elsewhere(elsewhere: &str, endpoint: &str, untouched: &str) {
    let misdelivered = client()
        .get(format!("{elsewhere}{endpoint}?{}", query(untouched)))
        .send()
        .await
        .unwrap();
    assert_eq!(misdelivered.status(), 400);
    assert!(
        misdelivered
            .text()
            .await
            .unwrap()
            .contains("Demande invalide")
    );
}

#[tokio::test]
async fn a_logout_request_from_the_idp_addressed_to_another_gateway_is_refused() {
    let stack = Stack::memory().await;
    let elsewhere = stack.gateway_at_another_url().await;
    let mut browser = Browser::new();
    login_at_ent(&stack, &mut browser, "educonnect", "eleve.louis").await;
    let untouched = browser
        .redirect_target(&stack.url("/testbed/educonnect/logout"))
        .await;
    assert!(
        untouched.starts_with(&stack.url("/saml/sp/slo?")),
        "{untouched}"
    );

    // Signed by the IdP for this stack, delivered to another gateway that
    // trusts the same IdP: its Destination is not that gateway's endpoint.
    refused_elsewhere(&elsewhere, "/saml/sp/slo", &untouched).await;

    // Positive control: the same message at its Destination ends the session.
    let done = browser.open(&untouched).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(
        done.body
            .contains("Vous êtes déconnecté d’ÉduConnect (simulation)"),
        "{}",
        done.body
    );
    assert_eq!(stack.sp_state("ent").await["logouts_received"], 1);
}

#[tokio::test]
async fn a_logout_request_from_a_service_addressed_to_another_gateway_is_refused() {
    let stack = Stack::memory().await;
    let elsewhere = stack.gateway_at_another_url().await;
    let mut browser = Browser::new();
    login_at_ent(&stack, &mut browser, "educonnect", "eleve.louis").await;
    let manuel = browser.open(&stack.url("/testbed/manuel/login")).await;
    assert!(manuel.url.ends_with("/testbed/manuel"), "{}", manuel.url);
    let untouched = browser
        .redirect_target(&stack.url("/testbed/ent/logout"))
        .await;
    assert!(
        untouched.starts_with(&stack.url("/saml/idp/slo?")),
        "{untouched}"
    );

    refused_elsewhere(&elsewhere, "/saml/idp/slo", &untouched).await;

    // Positive control: at its Destination, the logout goes through.
    let done = browser.open(&untouched).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(
        done.url.starts_with(&stack.url("/testbed/ent/slo?")),
        "{}",
        done.url
    );
    assert!(done.body.contains("Vous êtes déconnecté"), "{}", done.body);
    assert_eq!(stack.sp_state("manuel").await["logouts_received"], 1);
}
