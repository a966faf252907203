//! Upstream OpenID Connect and trusted-header logins, end to end: the demo
//! stack on a real Redis, plus a simulated OpenID provider that the test
//! starts on its own port (ÉduConnect as `[[oidc_idp]] test-op`, or the
//! agents' FIM as `test-fim`) and two trusted-header IdPs (`arena` trusting
//! 127.0.0.1, `arena-distant` trusting another address only). Every refusal
//! is preceded by its positive control.

#![cfg(test)]

mod common;

use common::{Browser, Page, Stack, link, login_at_ent};
use sso_gateway::demo::{DemoOptions, DemoStack};
use sso_testbed::sim_oidc_op_router_for;
use sso_testbed::{IdpKind, OidcSigningKey, SimOidcOpConfig};
use tokio::net::TcpListener;

const TEST_OP: &str = "test-op";
const TEST_FIM: &str = "test-fim";
const CLIENT_ID: &str = "gateway-under-test";
const CLIENT_SECRET: &str = "a-client-secret-for-the-test-provider";

/// Starts a simulated ÉduConnect OpenID provider on `listener`, at path
/// `/op`, with the gateway at `gateway` as its client `CLIENT_ID` (callback
/// of the IdP `id`); returns its issuer.
fn start_op(listener: TcpListener, gateway: &str, id: &str) -> String {
    start_op_of(IdpKind::EduConnect, listener, gateway, id)
}

/// [`start_op`] for a provider playing `kind` (ÉduConnect, or the agents'
/// FIM).
fn start_op_of(kind: IdpKind, listener: TcpListener, gateway: &str, id: &str) -> String {
    let issuer = format!("http://{}/op", listener.local_addr().unwrap());
    let config = SimOidcOpConfig {
        base_url: issuer.clone(),
        client_id: CLIENT_ID.to_owned(),
        client_secret: CLIENT_SECRET.to_owned(),
        redirect_uris: vec![format!("{gateway}/oidc/callback/{id}")],
        post_logout_redirect_uris: vec![format!("{gateway}/oidc/logout/return")],
        signing_key: OidcSigningKey::generate("test-op-key").unwrap(),
    };
    let router = axum::Router::new().nest("/op", sim_oidc_op_router_for(kind, config));
    tokio::spawn(async move { axum::serve(listener, router).await });
    issuer
}

/// An `[[oidc_idp]]` table for the provider at `issuer`.
fn oidc_table(id: &str, issuer: &str, gateway: &str, secret_file: &str, mapping: &str) -> String {
    format!(
        r#"
[[oidc_idp]]
id = "{id}"
label = "Fournisseur OpenID de test"
issuer = "{issuer}"
client_id = "{CLIENT_ID}"
client_secret_file = "{secret_file}"
scopes = ["openid", "profile"]
redirect_uri = "{gateway}/oidc/callback/{id}"
mapping = "{mapping}"
"#
    )
}

/// The test stack: the demo, the test's provider, two header IdPs.
struct Setup {
    stack: Stack,
    issuer: String,
    _secret: tempfile::TempDir,
}

/// The test stack with the simulated ÉduConnect as `test-op`.
async fn setup() -> Setup {
    setup_with(IdpKind::EduConnect, TEST_OP, "educonnect_oidc").await
}

/// The test stack with a simulated provider playing `kind` as the
/// `[[oidc_idp]]` `id`, its claims read with `[mapping.<mapping>]`.
async fn setup_with(kind: IdpKind, id: &str, mapping: &str) -> Setup {
    let gateway_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = format!("http://{}", gateway_listener.local_addr().unwrap());
    let issuer = start_op_of(
        kind,
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        &gateway,
        id,
    );
    let secret = tempfile::tempdir().unwrap();
    let secret_file = secret.path().join(format!("{id}.secret"));
    std::fs::write(&secret_file, format!("{CLIENT_SECRET}\n")).unwrap();
    let extra = format!(
        "{}\n{}",
        oidc_table(
            id,
            &issuer,
            &gateway,
            secret_file.to_str().unwrap(),
            mapping
        ),
        common::HEADER_IDPS
    );
    let options = DemoOptions {
        extra_config: toml::from_str(&extra).unwrap(),
        ..DemoOptions::default()
    };
    let stack = Stack::redis_on(gateway_listener, options).await;
    Setup {
        stack,
        issuer,
        _secret: secret,
    }
}

/// From the ENT's login link through the discovery page to the account
/// page of the provider `idp`, then logs in as `login`.
async fn login_via(stack: &Stack, browser: &mut Browser, idp: &str, login: &str) -> Page {
    let discovery = browser.open(&stack.url("/testbed/ent/login")).await;
    assert!(discovery.url.contains("/login?flow="), "{}", discovery.url);
    let target = link(&discovery.body, &format!("/login/{idp}?flow="))
        .unwrap_or_else(|| panic!("no {idp} on the discovery page: {}", discovery.body));
    let accounts = browser.open(&stack.url(&target)).await;
    assert_eq!(accounts.status, 200, "{}", accounts.body);
    browser.login_as(&accounts, login).await
}

/// A browser that stops at the gateway's OpenID callback, logged in at the
/// provider as `login`: returns the callback URL, not yet delivered.
async fn held_callback(stack: &Stack, browser: &mut Browser, login: &str) -> String {
    browser.hold_redirects_to = Some(stack.url("/oidc/callback/"));
    let held = login_via(stack, browser, TEST_OP, login).await;
    browser.hold_redirects_to = None;
    assert!(held.status >= 300 && held.status < 400, "{held:?}");
    assert!(
        held.url
            .starts_with(&stack.url(&format!("/oidc/callback/{TEST_OP}?"))),
        "{}",
        held.url
    );
    held.url
}

fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut url = reqwest::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .filter(|(k, _)| k != name)
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair(name, value);
    url.to_string()
}

fn reached_the_ent(page: &Page) {
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.url.ends_with("/testbed/ent"), "{}", page.url);
    assert!(page.body.contains("Connecté"), "{}", page.body);
}

#[tokio::test]
async fn a_pupil_logged_in_through_openid_connect_gets_the_same_attributes_as_through_saml() {
    let setup = setup().await;
    let stack = &setup.stack;

    let mut saml = Browser::new();
    reached_the_ent(&login_at_ent(stack, &mut saml, "educonnect", "eleve.louis").await);
    let through_saml = stack.sp_state("ent").await["last_attributes"].clone();
    assert_eq!(through_saml["NOM"][0], "Martin", "{through_saml}");

    let mut browser = Browser::new();
    let ent = login_via(stack, &mut browser, TEST_OP, "eleve.louis").await;
    reached_the_ent(&ent);
    assert!(
        browser.went_through("/op/authorize"),
        "{:?}",
        browser.visited
    );
    assert!(browser.went_through(&format!("/oidc/callback/{TEST_OP}?")));
    let through_oidc = stack.sp_state("ent").await["last_attributes"].clone();
    assert_eq!(
        through_oidc, through_saml,
        "the same person, the same released values, whatever the upstream protocol"
    );

    // A second service of the session: no second login.
    browser.visited.clear();
    let manuel = browser.open(&stack.url("/testbed/manuel/login")).await;
    assert!(manuel.url.ends_with("/testbed/manuel"), "{}", manuel.url);
    assert!(
        !browser.went_through("/op/") && !browser.went_through("/login?"),
        "single sign-on must not go upstream: {:?}",
        browser.visited
    );

    // Logout goes through the provider's end_session_endpoint and back.
    browser.visited.clear();
    let out = browser.open(&stack.url("/logout")).await;
    assert_eq!(out.status, 200, "{}", out.body);
    assert!(out.url.contains("/oidc/logout/return?"), "{}", out.url);
    assert!(out.body.contains("Vous êtes déconnecté"), "{}", out.body);
    assert!(browser.went_through("/op/logout?"), "{:?}", browser.visited);
    let op_state: serde_json::Value = reqwest::get(format!("{}/state.json", setup.issuer))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(op_state["logouts"], 1, "{op_state}");
}

#[tokio::test]
async fn a_teacher_through_the_agents_openid_provider_reaches_a_saml_resource() {
    let setup = setup_with(IdpKind::Agents, TEST_FIM, "agents_oidc").await;
    let stack = &setup.stack;

    // Positive control of the comparison: the teacher through the SAML
    // agents IdP, in one browser.
    let mut saml = Browser::new();
    let resource = saml.open(&stack.url("/testbed/enseignants/login")).await;
    let target = link(&resource.body, "/login/agents?flow=").expect("the SAML agents IdP");
    let accounts = saml.open(&stack.url(&target)).await;
    let page = saml.login_as(&accounts, "prof.blanc").await;
    assert!(page.url.ends_with("/testbed/enseignants"), "{}", page.url);
    let through_saml = stack.sp_state("enseignants").await["last_attributes"].clone();
    assert_eq!(through_saml["NOM"][0], "Blanc", "{through_saml}");
    assert_eq!(through_saml["PRO"][0], "National_ENS", "{through_saml}");
    assert_eq!(through_saml["UAI"][0], "0359991V", "{through_saml}");
    assert_eq!(
        through_saml["P_MEL"][0], "eric.blanc@ac-rennes.example",
        "{through_saml}"
    );

    // The same teacher through the agents' OpenID provider, in another
    // browser, from the same SAML resource.
    let mut browser = Browser::new();
    let resource = browser.open(&stack.url("/testbed/enseignants/login")).await;
    assert!(resource.url.contains("/login?flow="), "{}", resource.url);
    let target = link(&resource.body, &format!("/login/{TEST_FIM}?flow="))
        .unwrap_or_else(|| panic!("no {TEST_FIM} on the discovery page: {}", resource.body));
    let accounts = browser.open(&stack.url(&target)).await;
    assert_eq!(accounts.status, 200, "{}", accounts.body);
    assert!(
        !accounts.body.contains("eleve.louis"),
        "the agents' provider offers staff only: {}",
        accounts.body
    );
    let page = browser.login_as(&accounts, "prof.blanc").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.url.ends_with("/testbed/enseignants"), "{}", page.url);
    assert!(
        browser.went_through("/op/authorize"),
        "{:?}",
        browser.visited
    );
    assert!(browser.went_through(&format!("/oidc/callback/{TEST_FIM}?")));
    let op_state: serde_json::Value = reqwest::get(format!("{}/state.json", setup.issuer))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(op_state["userinfo_calls"], 1, "{op_state}");
    let through_oidc = stack.sp_state("enseignants").await["last_attributes"].clone();
    // The identifier too: the directory join by e-mail gives both logins the
    // same AAF reference, from which the resource's IDO is derived.
    assert!(through_oidc["IDO"][0].is_string(), "{through_oidc}");
    assert_eq!(
        through_oidc, through_saml,
        "the same teacher, the same released values, whatever the upstream protocol"
    );
}

#[tokio::test]
async fn the_demo_offers_its_simulated_openid_provider_on_the_discovery_page() {
    let stack = Stack::redis().await;
    let mut browser = Browser::new();
    let ent = login_via(&stack, &mut browser, "educonnect-oidc", "eleve.emma").await;
    reached_the_ent(&ent);
    assert!(browser.went_through("/testbed/educonnect-oidc/authorize"));
    assert_eq!(
        stack.sp_state("ent").await["last_attributes"]["PRO"][0],
        "National_ELV"
    );
}

#[tokio::test]
async fn a_replayed_callback_is_refused() {
    let setup = setup().await;
    let stack = &setup.stack;
    let mut browser = Browser::new();
    let callback = held_callback(stack, &mut browser, "eleve.louis").await;
    reached_the_ent(&browser.open(&callback).await);

    let replay = browser.open(&callback).await;
    assert_eq!(replay.status, 400, "{}", replay.body);
    assert!(
        replay.body.contains("Votre demande a expiré"),
        "{}",
        replay.body
    );
}

#[tokio::test]
async fn a_callback_presented_in_another_browser_is_refused() {
    let setup = setup().await;
    let stack = &setup.stack;
    let mut control = Browser::new();
    let callback = held_callback(stack, &mut control, "eleve.louis").await;
    reached_the_ent(&control.open(&callback).await);

    let mut victim = Browser::new();
    let callback = held_callback(stack, &mut victim, "eleve.emma").await;
    let mut attacker = Browser::new();
    let refused = attacker.open(&callback).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(
        refused.body.contains("La connexion a échoué"),
        "{}",
        refused.body
    );
    let elsewhere = attacker.open(&stack.url("/testbed/manuel/login")).await;
    assert!(
        elsewhere.url.contains("/login?flow="),
        "no session for the attacker: {}",
        elsewhere.url
    );
    let after = victim.open(&callback).await;
    assert_eq!(
        after.status, 400,
        "consumed by the refused attempt: {}",
        after.body
    );
}

#[tokio::test]
async fn a_callback_delivered_at_another_providers_endpoint_is_refused() {
    let setup = setup().await;
    let stack = &setup.stack;
    let mut control = Browser::new();
    let callback = held_callback(stack, &mut control, "eleve.louis").await;
    reached_the_ent(&control.open(&callback).await);

    let mut browser = Browser::new();
    let callback = held_callback(stack, &mut browser, "eleve.louis").await;
    let mixed_up = callback.replace(
        &format!("/oidc/callback/{TEST_OP}?"),
        "/oidc/callback/educonnect-oidc?",
    );
    assert_ne!(mixed_up, callback);
    let refused = browser.open(&mixed_up).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(
        refused.body.contains("La connexion a échoué"),
        "{}",
        refused.body
    );
}

#[tokio::test]
async fn an_iss_parameter_naming_another_issuer_is_refused() {
    let setup = setup().await;
    let stack = &setup.stack;
    let mut control = Browser::new();
    let callback = held_callback(stack, &mut control, "eleve.louis").await;
    assert!(callback.contains("iss="), "{callback}");
    reached_the_ent(&control.open(&callback).await);

    let mut browser = Browser::new();
    let callback = held_callback(stack, &mut browser, "eleve.louis").await;
    let other_issuer = stack.url("/testbed/educonnect-oidc");
    let refused = browser
        .open(&with_param(&callback, "iss", &other_issuer))
        .await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(
        refused.body.contains("La connexion a échoué"),
        "{}",
        refused.body
    );
    assert!(!refused.url.ends_with("/testbed/ent"));
}

#[tokio::test]
async fn a_provider_error_gives_a_french_page() {
    let setup = setup().await;
    let stack = &setup.stack;
    let mut browser = Browser::new();
    browser.hold_redirects_to = Some(setup.issuer.clone());
    let discovery = browser.open(&stack.url("/testbed/ent/login")).await;
    let target = link(&discovery.body, &format!("/login/{TEST_OP}?flow=")).unwrap();
    let authorize = browser.open(&stack.url(&target)).await;
    assert!(
        authorize.url.contains("/op/authorize?"),
        "{}",
        authorize.url
    );
    let state = reqwest::Url::parse(&authorize.url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    browser.hold_redirects_to = None;
    let mut callback =
        reqwest::Url::parse(&stack.url(&format!("/oidc/callback/{TEST_OP}"))).unwrap();
    callback
        .query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("error_description", "the user cancelled")
        .append_pair("state", &state)
        .append_pair("iss", &setup.issuer);
    let page = browser.open(callback.as_str()).await;
    assert_eq!(page.status, 401, "{}", page.body);
    assert!(page.body.contains("Connexion non aboutie"), "{}", page.body);
    assert!(page.body.contains("annulée ou refusée"), "{}", page.body);
    assert!(
        !page.body.contains("the user cancelled"),
        "the provider's text stays in the logs"
    );
}

/// The authorization request the gateway sends to the test provider for a
/// CAS login at the demo's CAS resource, with `extra` parameters.
async fn authorization_request(setup: &Setup, extra: &str) -> reqwest::Url {
    let stack = &setup.stack;
    let service: String =
        url::form_urlencoded::byte_serialize(stack.url("/testbed/atlas/callback").as_bytes())
            .collect();
    let mut browser = Browser::new();
    browser.hold_redirects_to = Some(setup.issuer.clone());
    let discovery = browser
        .open(&stack.url(&format!("/cas/login?service={service}{extra}")))
        .await;
    let target = link(&discovery.body, &format!("/login/{TEST_OP}?flow="))
        .unwrap_or_else(|| panic!("discovery expected: {}", discovery.url));
    let held = browser.open(&stack.url(&target)).await;
    assert!(held.url.contains("/op/authorize?"), "{}", held.url);
    reqwest::Url::parse(&held.url).unwrap()
}

fn param(url: &reqwest::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn a_fresh_login_asked_by_the_service_becomes_prompt_login() {
    let setup = setup().await;
    let plain = authorization_request(&setup, "").await;
    assert_eq!(param(&plain, "prompt"), None, "{plain}");
    assert_eq!(
        param(&plain, "code_challenge_method").as_deref(),
        Some("S256")
    );
    let renew = authorization_request(&setup, "&renew=true").await;
    assert_eq!(param(&renew, "prompt").as_deref(), Some("login"), "{renew}");
}

fn agent_headers() -> reqwest::header::HeaderMap {
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in [
        ("ct-remote-user", "ldubois"),
        ("ctemail", "lucie.dubois@ac-rennes.example"),
        ("ctfn", "Lucie"),
        ("ctln", "Dubois"),
        ("FrEduFonctAdm", "ENS"),
    ] {
        headers.insert(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            reqwest::header::HeaderValue::from_static(value),
        );
    }
    headers
}

#[tokio::test]
async fn trusted_headers_are_believed_from_a_trusted_proxy_only() {
    let setup = setup().await;
    let stack = &setup.stack;

    let mut browser = Browser::with_headers(agent_headers());
    let resource = browser.open(&stack.url("/testbed/enseignants/login")).await;
    let target = link(&resource.body, "/login/arena?flow=").expect("the ARENA choice");
    let page = browser.open(&stack.url(&target)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.url.ends_with("/testbed/enseignants"), "{}", page.url);
    let attributes = stack.sp_state("enseignants").await["last_attributes"].clone();
    assert_eq!(attributes["PRO"][0], "National_ENS", "{attributes}");
    assert_eq!(attributes["P_MEL"][0], "lucie.dubois@ac-rennes.example");

    let mut browser = Browser::with_headers(agent_headers());
    let resource = browser.open(&stack.url("/testbed/enseignants/login")).await;
    let target = link(&resource.body, "/login/arena-distant?flow=").expect("the other choice");
    let refused = browser.open(&stack.url(&target)).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains("Connexion impossible par ce chemin"),
        "{}",
        refused.body
    );
    assert!(!refused.url.ends_with("/testbed/enseignants"));
}

/// The outcome of `check-config` on the example with one `[[oidc_idp]]`
/// appended: success, output, the configuration file, the lines of the
/// table's `id`, `client_secret_file` and `mapping`, and its folder.
type Checked = (
    bool,
    String,
    std::path::PathBuf,
    (usize, usize, usize),
    tempfile::TempDir,
);

fn check_with_oidc(issuer: &str, id: &str, secret: &str, mapping: &str) -> Checked {
    let dir = tempfile::tempdir().unwrap();
    let config = DemoStack::write_example(dir.path()).unwrap();
    std::fs::write(dir.path().join("keys/fim.secret"), CLIENT_SECRET).unwrap();
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&oidc_table(
        id,
        issuer,
        "https://sso.example.fr",
        secret,
        mapping,
    ));
    std::fs::write(&config, &text).unwrap();
    let all: Vec<&str> = text.lines().collect();
    let line = |needle: &str| {
        all.iter()
            .rposition(|l| l.starts_with(needle))
            .map(|i| i + 1)
            .unwrap()
    };
    let lines = (
        line(&format!("id = \"{id}\"")),
        line(&format!("client_secret_file = \"{secret}\"")),
        line(&format!("mapping = \"{mapping}\"")),
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sso-gateway"))
        .args(["check-config", "--config", config.to_str().unwrap()])
        .env_remove("SSO_REDIS_URL")
        .env_remove("SSO_IDENTIFIER_SECRET")
        .env_remove("SSO_OIDC_CLIENT_SECRET_FIM")
        .env_remove("SSO_OIDC_CLIENT_SECRET_AGENTS")
        .output()
        .unwrap();
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), output, config, lines, dir)
}

/// check-config on the example with a `[[oidc_idp]]` appended: accepted
/// when the provider, mapping and secret are right (its provider running),
/// each broken field reported with the file, line and field.
#[tokio::test(flavor = "multi_thread")]
async fn a_broken_oidc_idp_is_reported_with_file_line_and_field() {
    let issuer = start_op(
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        "https://sso.example.fr",
        "fim",
    );
    let run = |id: &'static str, secret: &'static str, mapping: &'static str| {
        let issuer = issuer.clone();
        tokio::task::spawn_blocking(move || check_with_oidc(&issuer, id, secret, mapping))
    };

    let (ok, text, _, _, _dir) = run("fim", "keys/fim.secret", "educonnect_oidc")
        .await
        .unwrap();
    assert!(ok, "positive control: {text}");

    let (ok, text, config, (_, _, line), _dir) =
        run("fim", "keys/fim.secret", "inconnu").await.unwrap();
    assert!(!ok);
    let expected = format!("{}:{line}: field `oidc_idp[0].mapping`", config.display());
    assert!(
        text.contains(&expected),
        "expected {expected:?} in:\n{text}"
    );
    assert!(text.contains("no [mapping.inconnu] table"), "{text}");

    let (ok, text, config, (line, _, _), _dir) =
        run("agents", "keys/fim.secret", "educonnect_oidc")
            .await
            .unwrap();
    assert!(!ok);
    let expected = format!("{}:{line}: field `oidc_idp[0].id`", config.display());
    assert!(
        text.contains(&expected),
        "expected {expected:?} in:\n{text}"
    );
    assert!(text.contains("duplicate identity provider id"), "{text}");

    let (ok, text, config, (_, line, _), _dir) =
        run("fim", "keys/absent.secret", "educonnect_oidc")
            .await
            .unwrap();
    assert!(!ok);
    let expected = format!(
        "{}:{line}: field `oidc_idp[0].client_secret_file`",
        config.display()
    );
    assert!(
        text.contains(&expected),
        "expected {expected:?} in:\n{text}"
    );
    assert!(text.contains("absent.secret"), "{text}");
    assert!(
        !text.contains(CLIENT_SECRET),
        "the secret never appears in a report"
    );
}
