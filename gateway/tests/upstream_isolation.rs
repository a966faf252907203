//! Upstream isolation, end to end (architecture "High availability": one
//! slow or dead upstream IdP hurts only its own users). The demo stack (in
//! memory) plus, on their own ports, a simulated OpenID provider and a
//! health endpoint behind the testbed's fault switches ([`Faults`]): while
//! one upstream is down or slow, its users get the French "momentanément
//! indisponible" page (503, `Retry-After`) and the discovery page marks it,
//! while the users of the other upstreams log in normally in the same run;
//! its breaker opens after the configured failures (the provider is no
//! longer called, counted at the simulator), lets one trial call through
//! after the cool-down, and closes when the upstream is back, without a
//! restart. Each refusal is preceded by its positive control.

#![cfg(test)]

mod common;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use common::{Browser, Page, Stack, link, login_at_ent};
use sso_gateway::demo::{DemoOptions, DemoStack, DemoStore};
use sso_testbed::{
    Fault, Faults, IdpKind, OidcSigningKey, SimOidcOpConfig, sim_oidc_op_router_for,
};
use tokio::net::TcpListener;

const TEST_OP: &str = "test-op";
const OP_LABEL: &str = "Fournisseur OpenID de test";
const CLIENT_ID: &str = "gateway-under-test";
const CLIENT_SECRET: &str = "a-client-secret-for-the-test-provider";
/// The provider's server-to-server endpoints (the browser's `/authorize`
/// and `/login` keep working: the outage is seen at the callback).
const BACK_CHANNEL: &[&str] = &["/token", "/userinfo", "/jwks", "/openid-configuration"];
/// The breaker's cool-down in these tests.
const COOLDOWN: Duration = Duration::from_secs(3);
/// The call timeout in these tests.
const TIMEOUT_MS: u64 = 1000;

async fn serve(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// A demo stack in memory on `listener` with `extra` configuration.
async fn stack_on(listener: TcpListener, extra: &str) -> Stack {
    let options = DemoOptions {
        extra_config: toml::from_str(extra).unwrap(),
        ..DemoOptions::default()
    };
    let stack = DemoStack::start(listener, DemoStore::Memory, options)
        .await
        .unwrap();
    Stack { stack, redis: None }
}

struct OidcSetup {
    stack: Stack,
    faults: Faults,
    _secret: tempfile::TempDir,
}

/// The demo stack with a simulated ÉduConnect OpenID provider as
/// `[[oidc_idp]] test-op` behind a fault switch: 2 consecutive failures
/// open its breaker for [`COOLDOWN`], calls time out after [`TIMEOUT_MS`].
async fn oidc_setup() -> OidcSetup {
    let gateway_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = format!("http://{}", gateway_listener.local_addr().unwrap());
    let op_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}/op", op_listener.local_addr().unwrap());
    let faults = Faults::new();
    let op = sim_oidc_op_router_for(
        IdpKind::EduConnect,
        SimOidcOpConfig {
            base_url: issuer.clone(),
            client_id: CLIENT_ID.to_owned(),
            client_secret: CLIENT_SECRET.to_owned(),
            redirect_uris: vec![format!("{gateway}/oidc/callback/{TEST_OP}")],
            post_logout_redirect_uris: vec![format!("{gateway}/oidc/logout/return")],
            signing_key: OidcSigningKey::generate("test-op-key").unwrap(),
        },
    );
    let router = Router::new().nest("/op", faults.wrap(op));
    tokio::spawn(async move { axum::serve(op_listener, router).await });
    let secret = tempfile::tempdir().unwrap();
    let secret_file = secret.path().join("test-op.secret");
    std::fs::write(&secret_file, CLIENT_SECRET).unwrap();
    let extra = format!(
        r#"
[[oidc_idp]]
id = "{TEST_OP}"
label = "{OP_LABEL}"
issuer = "{issuer}"
client_id = "{CLIENT_ID}"
client_secret_file = "{}"
scopes = ["openid", "profile"]
redirect_uri = "{gateway}/oidc/callback/{TEST_OP}"
mapping = "educonnect_oidc"
resilience = {{ connect_timeout_ms = 500, timeout_ms = {TIMEOUT_MS}, failure_threshold = 2, cooldown_seconds = {} }}
"#,
        secret_file.display(),
        COOLDOWN.as_secs()
    );
    OidcSetup {
        stack: stack_on(gateway_listener, &extra).await,
        faults,
        _secret: secret,
    }
}

/// From the ENT's login link through the discovery page to the provider
/// `idp`, then logs in there as `login`.
async fn login_via(stack: &Stack, browser: &mut Browser, idp: &str, login: &str) -> Page {
    let discovery = browser.open(&stack.url("/testbed/ent/login")).await;
    let target = link(&discovery.body, &format!("/login/{idp}?flow="))
        .unwrap_or_else(|| panic!("no {idp} on the discovery page: {}", discovery.body));
    let accounts = browser.open(&stack.url(&target)).await;
    assert_eq!(accounts.status, 200, "{}", accounts.body);
    browser.login_as(&accounts, login).await
}

fn reached_the_ent(page: &Page) {
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.url.ends_with("/testbed/ent"), "{}", page.url);
    assert!(page.body.contains("Connecté"), "{}", page.body);
}

/// The French page of an unavailable upstream named `label`.
fn unavailable_page(page: &Page, label: &str) {
    assert_eq!(page.status, 503, "{}: {}", page.url, page.body);
    assert!(
        page.body.contains(&format!(
            "La connexion par <strong>{label}</strong> est momentanément indisponible"
        )),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("href=\"&#x2f;login?flow="),
        "a way back to the discovery page of the same flow: {}",
        page.body
    );
    assert!(page.body.contains("<html lang=\"fr\">"));
}

/// Whether the discovery page marks the choice `idp` as unavailable, in
/// words.
fn marked_unavailable(discovery: &str, idp: &str) -> bool {
    // minijinja escapes `/` in attribute values.
    let Some(start) = discovery.find(&format!("href=\"&#x2f;login&#x2f;{idp}?")) else {
        panic!("no {idp} on the discovery page: {discovery}");
    };
    let tag_start = discovery[..start].rfind("<a ").unwrap();
    let end = start + discovery[start..].find("</a>").unwrap();
    let choice = &discovery[tag_start..end];
    let marked = choice.contains("Momentanément indisponible");
    assert_eq!(
        marked,
        choice.contains("class=\"choice unavailable\""),
        "the words and the style go together: {choice}"
    );
    marked
}

/// `GET url` without following redirects: status and `Retry-After`.
async fn raw(url: &str) -> (u16, Option<u64>) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client.get(url).send().await.unwrap();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .map(|value| value.to_str().unwrap().parse().unwrap());
    (response.status().as_u16(), retry_after)
}

async fn discovery_page(stack: &Stack) -> Page {
    let mut browser = Browser::new();
    let page = browser.open(&stack.url("/testbed/ent/login")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page
}

#[tokio::test]
async fn an_openid_provider_down_affects_only_its_users_and_recovers_without_restart() {
    let setup = oidc_setup().await;
    let stack = &setup.stack;
    let faults = &setup.faults;

    // Positive control: the provider works and is not marked.
    let mut browser = Browser::new();
    reached_the_ent(&login_via(stack, &mut browser, TEST_OP, "eleve.louis").await);
    assert_eq!(faults.calls("/token"), 1);
    assert!(!marked_unavailable(
        &discovery_page(stack).await.body,
        TEST_OP
    ));

    // A user who authenticated at the provider, whose callback arrives late.
    let mut late = Browser::new();
    late.hold_redirects_to = Some(stack.url("/oidc/callback/"));
    let held = login_via(stack, &mut late, TEST_OP, "eleve.louis").await;
    late.hold_redirects_to = None;
    assert!(held.url.contains("/oidc/callback/test-op?"), "{}", held.url);

    // The provider's back channel goes down: each of its users gets the
    // page; the users of ÉduConnect (SAML) log in normally meanwhile.
    faults.set_for(Fault::Down, BACK_CHANNEL);
    for failures in 1..=2 {
        let mut browser = Browser::new();
        let page = login_via(stack, &mut browser, TEST_OP, "eleve.louis").await;
        unavailable_page(&page, OP_LABEL);
        assert_eq!(faults.calls("/token"), 1 + failures);
        let mut saml = Browser::new();
        reached_the_ent(&login_at_ent(stack, &mut saml, "educonnect", "eleve.louis").await);
    }

    // Two failures: the breaker is open. The late callback gets the page
    // without the provider being called.
    let page = late.open(&held.url).await;
    unavailable_page(&page, OP_LABEL);
    assert_eq!(
        faults.calls("/token"),
        3,
        "no call while the breaker is open"
    );

    // Users are no longer sent to the provider: 503 with Retry-After at
    // /login/test-op, the choice marked on the discovery page, the other
    // choices not.
    let discovery = discovery_page(stack).await;
    assert!(marked_unavailable(&discovery.body, TEST_OP));
    assert!(!marked_unavailable(&discovery.body, "educonnect"));
    assert!(!marked_unavailable(&discovery.body, "agents"));
    let target = link(&discovery.body, &format!("/login/{TEST_OP}?flow=")).unwrap();
    let (status, retry_after) = raw(&stack.url(&target)).await;
    assert_eq!(status, 503);
    let retry_after = retry_after.expect("Retry-After");
    assert!(
        (1..=COOLDOWN.as_secs()).contains(&retry_after),
        "{retry_after}"
    );
    let authorizations = faults.calls("/authorize");
    let mut browser = Browser::new();
    let page = browser.open(&stack.url(&target)).await;
    unavailable_page(&page, OP_LABEL);
    assert_eq!(
        faults.calls("/authorize"),
        authorizations,
        "not sent into a dead provider"
    );

    // After the cool-down: one trial call, which fails: open again.
    tokio::time::sleep(COOLDOWN + Duration::from_millis(300)).await;
    let mut browser = Browser::new();
    let page = login_via(stack, &mut browser, TEST_OP, "eleve.louis").await;
    unavailable_page(&page, OP_LABEL);
    assert_eq!(faults.calls("/token"), 4, "exactly one trial call");
    assert_eq!(raw(&stack.url(&target)).await.0, 503, "open again");

    // The provider is back: after the cool-down the trial succeeds and
    // logins work again, without a restart.
    faults.set(Fault::None);
    tokio::time::sleep(COOLDOWN + Duration::from_millis(300)).await;
    for _ in 0..2 {
        let mut browser = Browser::new();
        reached_the_ent(&login_via(stack, &mut browser, TEST_OP, "eleve.louis").await);
    }
    assert_eq!(faults.calls("/token"), 6);
    assert!(!marked_unavailable(
        &discovery_page(stack).await.body,
        TEST_OP
    ));
}

#[tokio::test]
async fn a_slow_openid_provider_gets_its_users_the_page_within_the_timeout() {
    let setup = oidc_setup().await;
    let stack = &setup.stack;
    let faults = &setup.faults;
    let mut browser = Browser::new();
    reached_the_ent(&login_via(stack, &mut browser, TEST_OP, "eleve.louis").await);

    // The token endpoint answers after 10 s; the gateway gives up after 1 s.
    faults.set_for(Fault::Slow(Duration::from_secs(10)), &["/token"]);
    let mut browser = Browser::new();
    let page = login_via(stack, &mut browser, TEST_OP, "eleve.louis").await;
    unavailable_page(&page, OP_LABEL);
    let mut saml = Browser::new();
    reached_the_ent(&login_at_ent(stack, &mut saml, "agents", "prof.dubois").await);

    // One failure of two: still closed; the provider answers in time again.
    faults.set(Fault::None);
    let mut browser = Browser::new();
    reached_the_ent(&login_via(stack, &mut browser, TEST_OP, "eleve.louis").await);
}

/// Polls `/login/{idp}` until it answers `status` (at most 30 s).
async fn wait_for_login_status(stack: &Stack, idp: &str, redirect: bool) {
    for _ in 0..150 {
        let (status, _) = raw(&stack.url(&format!("/login/{idp}"))).await;
        let is_redirect = (300..400).contains(&status);
        if is_redirect == redirect && (redirect || status == 503) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("/login/{idp} never answered as expected (redirect: {redirect})");
}

#[tokio::test]
async fn a_saml_idp_failing_its_health_check_is_marked_and_refused_while_the_other_works() {
    let health = Faults::new();
    let health_url = format!(
        "{}/health",
        serve(health.wrap(Router::new().route("/health", get(|| async { "ok" })))).await
    );
    let label = "Élève ou parent — ÉduConnect surveillé";
    let extra = format!(
        r#"
[[idp]]
id = "watched"
label = "{label}"
entity_id = "https://educonnect.demo.example/idp"
metadata_file = "metadata/educonnect.xml"
require_encrypted_assertion = true
mapping = "educonnect"
resilience = {{ health_url = "{health_url}", health_interval_seconds = 1, failure_threshold = 1, cooldown_seconds = 2, connect_timeout_ms = 200, timeout_ms = 500 }}
"#
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stack = stack_on(listener, &extra).await;

    // Positive control: healthy, polled, not marked, logins work.
    for _ in 0..150 {
        if health.calls("/health") >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(health.calls("/health") >= 2, "the health URL is polled");
    wait_for_login_status(&stack, "watched", true).await;
    assert!(!marked_unavailable(
        &discovery_page(&stack).await.body,
        "watched"
    ));
    let mut browser = Browser::new();
    reached_the_ent(&login_at_ent(&stack, &mut browser, "watched", "eleve.louis").await);

    // The health check fails: /login/watched answers the page, the
    // discovery page marks it, ÉduConnect works.
    health.set(Fault::Down);
    wait_for_login_status(&stack, "watched", false).await;
    let discovery = discovery_page(&stack).await;
    assert!(marked_unavailable(&discovery.body, "watched"));
    assert!(!marked_unavailable(&discovery.body, "educonnect"));
    let target = link(&discovery.body, "/login/watched?flow=").unwrap();
    let mut browser = Browser::new();
    let page = browser.open(&stack.url(&target)).await;
    unavailable_page(&page, label);
    assert!(
        page.body.contains("choisissez-le sur la page de connexion"),
        "another way is offered: {}",
        page.body
    );
    let (status, retry_after) = raw(&stack.url(&target)).await;
    assert_eq!(status, 503);
    assert!(retry_after.is_some_and(|seconds| (1..=2).contains(&seconds)));
    let mut saml = Browser::new();
    reached_the_ent(&login_at_ent(&stack, &mut saml, "educonnect", "eleve.louis").await);

    // Health back: the trial poll after the cool-down closes the breaker.
    health.set(Fault::None);
    wait_for_login_status(&stack, "watched", true).await;
    assert!(!marked_unavailable(
        &discovery_page(&stack).await.body,
        "watched"
    ));
    let mut browser = Browser::new();
    reached_the_ent(&login_at_ent(&stack, &mut browser, "watched", "eleve.louis").await);
}
