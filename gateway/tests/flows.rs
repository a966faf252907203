//! End-to-end flows through HTTP, against the real server on an ephemeral
//! port, with the simulated IdPs and services, on a real Redis (started by
//! the harness) and on the in-memory store.

#![cfg(test)]

mod common;

use common::{Browser, Stack, link, login_at_ent};
use sso_saml::binding::{self, MessageKind};
use sso_saml::keys::SigningKey;

async fn pupil_reaches_the_ent(stack: &Stack) {
    let mut browser = Browser::new();
    let ent = login_at_ent(stack, &mut browser, "educonnect", "eleve.louis").await;
    assert_eq!(ent.status, 200, "{}", ent.body);
    assert!(ent.url.ends_with("/testbed/ent"), "{}", ent.url);
    assert!(ent.body.contains("Connecté"), "{}", ent.body);
    let state = stack.sp_state("ent").await;
    let attributes = &state["last_attributes"];
    assert_eq!(attributes["NOM"][0], "Martin");
    assert_eq!(attributes["PRE"][0], "Louis");
    assert_eq!(attributes["PRO"][0], "National_ELV");
    assert!(attributes["UAI"][0].as_str().unwrap().len() == 8);
    let ido = attributes["IDO"][0].as_str().unwrap();
    assert!(ido.len() >= 32, "opaque identifier {ido}");
    let released: Vec<&String> = attributes.as_object().unwrap().keys().collect();
    for name in &released {
        assert!(
            ["IDO", "UAI", "PRO", "NOM", "PRE", "P_MEL", "DIV", "E_MS1"].contains(&name.as_str()),
            "attribute {name} is not in the ENT's release policy"
        );
    }
    let dump = state.to_string();
    assert!(
        !dump.contains("eleve.louis"),
        "the upstream login never leaves the gateway"
    );
}

#[tokio::test]
async fn pupil_via_educonnect_reaches_the_ent_on_redis() {
    pupil_reaches_the_ent(&Stack::redis().await).await;
}

#[tokio::test]
async fn pupil_via_educonnect_reaches_the_ent_in_memory() {
    pupil_reaches_the_ent(&Stack::memory().await).await;
}

async fn teacher_reaches_a_resource_then_sso(stack: &Stack) {
    let mut browser = Browser::new();
    let resource = browser.open(&stack.url("/testbed/enseignants/login")).await;
    assert!(resource.url.contains("/login?flow="), "{}", resource.url);
    let target = link(&resource.body, "/login/agents?flow=").expect("a link to the agent IdP");
    let accounts = browser.open(&stack.url(&target)).await;
    let page = browser.login_as(&accounts, "prof.dubois").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.url.ends_with("/testbed/enseignants"), "{}", page.url);
    let state = stack.sp_state("enseignants").await;
    assert_eq!(state["last_attributes"]["PRO"][0], "National_ENS");
    assert_eq!(
        state["last_attributes"]["P_MEL"][0],
        "lucie.dubois@ac-rennes.example"
    );

    // Second service in the same session: no upstream round trip.
    browser.visited.clear();
    let ent = browser.open(&stack.url("/testbed/ent/login")).await;
    assert!(ent.url.ends_with("/testbed/ent"), "{}", ent.url);
    assert!(ent.body.contains("Connecté"));
    assert!(
        !browser.went_through("/testbed/agents/"),
        "SSO must not go upstream: {:?}",
        browser.visited
    );
    assert!(
        !browser.went_through("/login?"),
        "SSO must not show discovery: {:?}",
        browser.visited
    );
}

#[tokio::test]
async fn teacher_via_agent_idp_reaches_a_resource_then_the_ent_without_login_on_redis() {
    teacher_reaches_a_resource_then_sso(&Stack::redis().await).await;
}

#[tokio::test]
async fn teacher_via_agent_idp_reaches_a_resource_then_the_ent_without_login_in_memory() {
    teacher_reaches_a_resource_then_sso(&Stack::memory().await).await;
}

#[tokio::test]
async fn identifiers_differ_per_service_and_are_stable() {
    let stack = Stack::redis().await;
    let mut browser = Browser::new();
    login_at_ent(&stack, &mut browser, "educonnect", "eleve.louis").await;
    let manuel = browser.open(&stack.url("/testbed/manuel/login")).await;
    assert!(manuel.url.ends_with("/testbed/manuel"), "{}", manuel.url);
    let ent_id = stack.sp_state("ent").await["last_attributes"]["IDO"][0].clone();
    let manuel_id = stack.sp_state("manuel").await["last_attributes"]["IDO"][0].clone();
    assert_ne!(ent_id, manuel_id, "two services cannot correlate the user");

    let mut again = Browser::new();
    login_at_ent(&stack, &mut again, "educonnect", "eleve.louis").await;
    assert_eq!(
        stack.sp_state("ent").await["last_attributes"]["IDO"][0],
        ent_id,
        "stable across logins"
    );
}

#[tokio::test]
async fn pupil_refused_on_a_teachers_resource_with_a_french_page() {
    let stack = Stack::memory().await;
    let mut browser = Browser::new();
    login_at_ent(&stack, &mut browser, "educonnect", "eleve.emma").await;
    let refused = browser.open(&stack.url("/testbed/enseignants/login")).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("Accès refusé"));
    assert!(refused.body.contains("lang=\"fr\""));
    assert_eq!(stack.sp_state("enseignants").await["sessions"], 0);
}

async fn logout_reaches_every_participant(stack: &Stack) {
    let mut browser = Browser::new();
    login_at_ent(stack, &mut browser, "educonnect", "eleve.louis").await;
    let manuel = browser.open(&stack.url("/testbed/manuel/login")).await;
    assert!(manuel.url.ends_with("/testbed/manuel"));
    assert_eq!(stack.sp_state("ent").await["sessions"], 1);
    assert_eq!(stack.sp_state("manuel").await["sessions"], 1);

    let done = browser.open(&stack.url("/testbed/ent/logout")).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("déconnecté"), "{}", done.body);
    assert_eq!(stack.sp_state("manuel").await["logouts_received"], 1);
    assert_eq!(stack.sp_state("manuel").await["sessions"], 0);
    assert_eq!(stack.sp_state("ent").await["sessions"], 0);
    assert!(
        browser.went_through("/testbed/educonnect/slo"),
        "the upstream IdP is told: {:?}",
        browser.visited
    );

    // The gateway session is gone: the next access asks for a login again.
    let again = browser.open(&stack.url("/testbed/ent/login")).await;
    assert!(again.url.contains("/login?flow="), "{}", again.url);
}

#[tokio::test]
async fn logout_reaches_every_participant_on_redis() {
    logout_reaches_every_participant(&Stack::redis().await).await;
}

#[tokio::test]
async fn logout_reaches_every_participant_in_memory() {
    logout_reaches_every_participant(&Stack::memory().await).await;
}

/// A pupil through ÉduConnect in the ENT, then in the textbook resource
/// without a second login.
async fn pupil_in_the_ent_and_the_textbook(stack: &Stack, browser: &mut Browser) {
    let ent = login_at_ent(stack, browser, "educonnect", "eleve.louis").await;
    assert!(ent.url.ends_with("/testbed/ent"), "{}", ent.url);
    let manuel = browser.open(&stack.url("/testbed/manuel/login")).await;
    assert!(manuel.url.ends_with("/testbed/manuel"), "{}", manuel.url);
    assert_eq!(stack.sp_state("ent").await["sessions"], 1);
    assert_eq!(stack.sp_state("manuel").await["sessions"], 1);
}

/// What the simulated ÉduConnect shows once the gateway confirmed its logout.
const LOGGED_OUT_OF_EDUCONNECT: &str = "Vous êtes déconnecté d’ÉduConnect (simulation)";

async fn logout_at_educonnect_reaches_every_participant(stack: &Stack) {
    let mut browser = Browser::new();
    pupil_in_the_ent_and_the_textbook(stack, &mut browser).await;

    let done = browser.open(&stack.url("/testbed/educonnect/logout")).await;
    assert!(
        browser.went_through("/saml/sp/slo?SAMLRequest="),
        "the IdP's LogoutRequest reaches the gateway: {:?}",
        browser.visited
    );
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(
        done.url
            .starts_with(&stack.url("/testbed/educonnect/slo?SAMLResponse=")),
        "the gateway answers the IdP: {}",
        done.url
    );
    assert!(
        done.body.contains(LOGGED_OUT_OF_EDUCONNECT),
        "{}",
        done.body
    );
    for sp in ["ent", "manuel"] {
        let state = stack.sp_state(sp).await;
        assert_eq!(state["logouts_received"], 1, "{sp} is told");
        assert_eq!(state["sessions"], 0, "{sp} ended its session");
    }

    // The gateway session is gone: the next access asks for a login again.
    let again = browser.open(&stack.url("/testbed/ent/login")).await;
    assert!(again.url.contains("/login?flow="), "{}", again.url);
}

#[tokio::test]
async fn logout_at_educonnect_reaches_every_participant_on_redis() {
    logout_at_educonnect_reaches_every_participant(&Stack::redis().await).await;
}

#[tokio::test]
async fn logout_at_educonnect_reaches_every_participant_in_memory() {
    logout_at_educonnect_reaches_every_participant(&Stack::memory().await).await;
}

#[tokio::test]
async fn a_logout_request_from_educonnect_signed_by_another_key_is_refused() {
    let stack = Stack::memory().await;
    let mut browser = Browser::new();
    login_at_ent(&stack, &mut browser, "educonnect", "eleve.louis").await;

    // The IdP's own LogoutRequest, held before it reaches the gateway, then
    // the same message signed with a key the IdP's metadata does not hold.
    let untouched = browser
        .redirect_target(&stack.url("/testbed/educonnect/logout"))
        .await;
    assert!(
        untouched.starts_with(&stack.url("/saml/sp/slo?")),
        "{untouched}"
    );
    let query = untouched.split_once('?').unwrap().1;
    let held = binding::decode_redirect(query, 1 << 20).unwrap();
    assert_eq!(held.kind, MessageKind::Request);
    let attacker = SigningKey::generate_self_signed("attacker").unwrap();
    let forged = binding::redirect_url(
        &stack.url("/saml/sp/slo"),
        MessageKind::Request,
        &held.xml,
        held.relay_state.as_deref(),
        Some(&attacker),
    )
    .unwrap();
    let refused = browser.open(&forged).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused.body.contains("Demande invalide"),
        "{}",
        refused.body
    );

    // The session survives: a second service opens without a login.
    browser.visited.clear();
    let manuel = browser.open(&stack.url("/testbed/manuel/login")).await;
    assert!(manuel.url.ends_with("/testbed/manuel"), "{}", manuel.url);
    assert!(
        !browser.went_through("/login?"),
        "no login asked: {:?}",
        browser.visited
    );
    assert_eq!(stack.sp_state("ent").await["logouts_received"], 0);

    // Positive control: the untouched LogoutRequest is accepted.
    let done = browser.open(&untouched).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(
        done.body.contains(LOGGED_OUT_OF_EDUCONNECT),
        "{}",
        done.body
    );
    assert_eq!(stack.sp_state("ent").await["logouts_received"], 1);
    assert_eq!(stack.sp_state("manuel").await["logouts_received"], 1);
}

#[tokio::test]
async fn user_logout_at_the_gateway_tells_the_services() {
    let stack = Stack::memory().await;
    let mut browser = Browser::new();
    login_at_ent(&stack, &mut browser, "educonnect", "parent.martin").await;
    let page = browser.open(&stack.url("/logout")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Vous êtes déconnecté"), "{}", page.body);
    assert!(page.body.contains("ENT du collège Anne de Kervellec"));
    assert_eq!(stack.sp_state("ent").await["logouts_received"], 1);
}

#[tokio::test]
async fn store_unreachable_gives_a_fast_503_and_keeps_the_cookie() {
    let mut stack = Stack::redis().await;
    let mut browser = Browser::new();
    login_at_ent(&stack, &mut browser, "educonnect", "eleve.louis").await;
    stack.redis.as_mut().unwrap().stop().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client
        .get(stack.url("/"))
        .header("Cookie", "sso_session=abc")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("retry-after").is_some());
    assert!(
        response.headers().get("set-cookie").is_none(),
        "cookie untouched"
    );
    let body = response.text().await.unwrap();
    assert!(body.contains("momentanément indisponible"));
    let ready = client.get(stack.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
}

#[tokio::test]
async fn a_response_replayed_on_a_second_replica_sharing_redis_is_refused() {
    let stack = Stack::redis().await;
    let mut browser = Browser::new();
    browser.stop_at = Some(stack.url("/saml/sp/acs"));
    let home = browser.open(&stack.url("/testbed/ent/login")).await;
    let target = link(&home.body, "/login/educonnect?flow=").unwrap();
    let accounts = browser.open(&stack.url(&target)).await;
    let held = browser.login_as(&accounts, "eleve.nathan").await;
    let (action, fields) = common::form(&held.body).expect("the IdP's auto-post to the gateway");
    assert_eq!(action, stack.url("/saml/sp/acs"));

    // A second replica: same configuration, same Redis, another port.
    let loaded = sso_gateway::config::LoadedConfig::load(&stack.stack.config_path).unwrap();
    let (router, _) = sso_gateway::server::build(&loaded, None).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let replica = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sso_gateway::server::serve(listener, router));

    // Positive control: the browser delivers it to the first replica.
    browser.stop_at = None;
    let ent = browser.post(&action, &fields).await;
    assert!(ent.url.ends_with("/testbed/ent"), "{}", ent.url);

    // The captured Response replayed on the second replica.
    let replayed = reqwest::Client::new()
        .post(format!("{replica}/saml/sp/acs"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 401);
    assert!(
        replayed
            .text()
            .await
            .unwrap()
            .contains("La connexion a échoué")
    );
}

#[tokio::test]
async fn a_logout_request_for_another_person_leaves_the_session_alone() {
    let stack = Stack::memory().await;
    let mut pupil = Browser::new();
    login_at_ent(&stack, &mut pupil, "educonnect", "eleve.louis").await;
    let mut teacher = Browser::new();
    login_at_ent(&stack, &mut teacher, "agents", "prof.blanc").await;

    // ÉduConnect's valid, signed LogoutRequest naming the pupil, delivered
    // in the teacher's browser.
    let for_the_pupil = pupil
        .redirect_target(&stack.url("/testbed/educonnect/logout"))
        .await;
    let answered = teacher.open(&for_the_pupil).await;
    assert_ne!(
        answered.status, 400,
        "a valid request is answered: {}",
        answered.body
    );
    assert_eq!(stack.sp_state("ent").await["logouts_received"], 0);

    // The teacher's session survives: the textbook opens without a login.
    teacher.visited.clear();
    let manuel = teacher.open(&stack.url("/testbed/manuel/login")).await;
    assert!(manuel.url.ends_with("/testbed/manuel"), "{}", manuel.url);
    assert!(
        !teacher.went_through("/login?"),
        "no login asked: {:?}",
        teacher.visited
    );

    // Positive control: in the pupil's own browser it ends the pupil's
    // session (the simulated IdP, which already had its answer, then refuses
    // the second LogoutResponse: that page is not the gateway's concern).
    pupil.open(&for_the_pupil).await;
    assert_eq!(stack.sp_state("ent").await["logouts_received"], 1);
    let again = pupil.open(&stack.url("/testbed/manuel/login")).await;
    assert!(again.url.contains("/login?flow="), "{}", again.url);
}
