//! The gateway as CAS 3.0 server, end to end through HTTP: a user logged in
//! over SAML gets a service ticket for a CAS service with no second login;
//! the ticket validates once, for its service only, before it expires, on
//! exactly one of two replicas; service URLs match registered patterns only;
//! logout reaches the CAS service over the back channel. The CAS service is
//! played here by the test (a plain HTTP client and a listener for the
//! logout POST); every security rule comes with its positive control.

#![cfg(test)]

mod common;

use std::sync::{Arc, Mutex};

use common::{Browser, Stack, login_at_ent};

/// A listener standing for the CAS service's host: it records the
/// `logoutRequest` POSTs it receives.
struct CasHost {
    base: String,
    logouts: Arc<Mutex<Vec<String>>>,
}

async fn cas_host() -> CasHost {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let logouts = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&logouts);
    let router = axum::Router::new().route(
        "/logout",
        axum::routing::post(
            move |axum::extract::Form(form): axum::extract::Form<Vec<(String, String)>>| {
                let seen = Arc::clone(&seen);
                async move {
                    for (name, value) in form {
                        if name == "logoutRequest" {
                            seen.lock().unwrap().push(value);
                        }
                    }
                    "ok"
                }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    CasHost { base, logouts }
}

/// A CAS-only service of the test host: its callback, any page under
/// `/app/`, and its logout URL.
fn cas_service(host: &str) -> (String, String) {
    (
        "ressource-cas.toml".to_owned(),
        format!(
            "id = \"ressource-cas\"\ndisplay_name = \"Ressource CAS de test\"\nkind = \"ent\"\n\n[cas]\nservices = [\"{host}/callback\", \"{host}/app/*\"]\nlogout_url = \"{host}/logout\"\n\n[release]\nattributes = [\"IDO\", \"UAI\", \"PRO\", \"NOM\", \"DIV\"]\n"
        ),
    )
}

async fn stack_with_cas(redis: bool) -> (Stack, CasHost) {
    let host = cas_host().await;
    let extra = vec![cas_service(&host.base)];
    let stack = if redis {
        Stack::redis_with(extra).await
    } else {
        Stack::memory_with(extra).await
    };
    (stack, host)
}

fn encoded(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The ticket the gateway sends the browser back with, for `service`.
async fn ticket_for(stack_url: &str, browser: &mut Browser, service: &str) -> String {
    let target = browser
        .redirect_target(&format!(
            "{stack_url}/cas/login?service={}",
            encoded(service)
        ))
        .await;
    let prefix = format!("{service}?ticket=");
    assert!(target.starts_with(&prefix), "{target}");
    target[prefix.len()..].to_owned()
}

async fn validate(base: &str, path: &str, service: &str, ticket: &str) -> (u16, String) {
    let response = reqwest::get(format!(
        "{base}{path}?service={}&ticket={}",
        encoded(service),
        encoded(ticket)
    ))
    .await
    .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn failure_code(xml: &str) -> Option<&str> {
    let start = xml.find("code=\"")? + "code=\"".len();
    let end = xml[start..].find('"')? + start;
    Some(&xml[start..end])
}

/// Single sign-on from SAML to CAS: the same person, the released values,
/// the service's own identifier; the ticket is single use.
#[tokio::test]
async fn a_saml_session_opens_a_cas_service_and_the_ticket_validates_once_in_memory() {
    let (stack, host) = stack_with_cas(false).await;
    let mut pupil = Browser::new();
    login_at_ent(&stack, &mut pupil, "educonnect", "eleve.louis").await;
    let ent = stack.sp_state("ent").await["last_attributes"].clone();
    let service = format!("{}/callback", host.base);

    pupil.visited.clear();
    let ticket = ticket_for(&stack.stack.base_url, &mut pupil, &service).await;
    assert!(
        !pupil.went_through("/testbed/educonnect"),
        "no second login"
    );
    assert!(
        ticket.starts_with("ST-") && ticket.len() >= 3 + 32,
        "{ticket}"
    );

    let (status, xml) = validate(
        &stack.stack.base_url,
        "/cas/p3/serviceValidate",
        &service,
        &ticket,
    )
    .await;
    assert_eq!(status, 200);
    assert!(xml.contains("<cas:authenticationSuccess>"), "{xml}");
    let uai = ent["UAI"][0].as_str().unwrap();
    assert!(xml.contains(&format!("<cas:UAI>{uai}</cas:UAI>")), "{xml}");
    assert!(xml.contains("<cas:NOM>Martin</cas:NOM>"), "{xml}");
    assert!(
        xml.contains("<cas:isFromNewLogin>false</cas:isFromNewLogin>"),
        "{xml}"
    );
    let ido = ent["IDO"][0].as_str().unwrap();
    assert!(
        !xml.contains(ido),
        "the CAS service has its own identifier: {xml}"
    );
    assert!(
        !xml.contains("eleve.louis") && !xml.contains("3520001"),
        "{xml}"
    );

    let (_, again) = validate(
        &stack.stack.base_url,
        "/cas/p3/serviceValidate",
        &service,
        &ticket,
    )
    .await;
    assert_eq!(failure_code(&again), Some("INVALID_TICKET"), "{again}");

    // The same person's identifier is stable at the next ticket; JSON and
    // CAS 1 answers carry the same user.
    let ticket = ticket_for(&stack.stack.base_url, &mut pupil, &service).await;
    let response = reqwest::get(format!(
        "{}/cas/serviceValidate?service={}&ticket={ticket}&format=JSON",
        stack.stack.base_url,
        encoded(&service)
    ))
    .await
    .unwrap();
    let json: serde_json::Value = response.json().await.unwrap();
    let user = json["serviceResponse"]["authenticationSuccess"]["user"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        xml.contains(&format!("<cas:user>{user}</cas:user>")),
        "{xml}"
    );
    let ticket = ticket_for(&stack.stack.base_url, &mut pupil, &service).await;
    let (_, text) = validate(&stack.stack.base_url, "/cas/validate", &service, &ticket).await;
    assert_eq!(text, format!("yes\n{user}\n"));
    let (_, text) = validate(&stack.stack.base_url, "/cas/validate", &service, &ticket).await;
    assert_eq!(text, "no\n\n");
}

/// A ticket validated for another service of the same registration fails
/// and is spent; `renew` refuses a ticket from an existing session; a
/// `pgtUrl` is refused (no proxy tickets).
#[tokio::test]
async fn a_ticket_is_bound_to_its_service_and_to_renew_in_memory() {
    let (stack, host) = stack_with_cas(false).await;
    let base = &stack.stack.base_url;
    let mut pupil = Browser::new();
    login_at_ent(&stack, &mut pupil, "educonnect", "eleve.louis").await;
    let service = format!("{}/callback", host.base);
    let other = format!("{}/app/page", host.base);

    let ticket = ticket_for(base, &mut pupil, &other).await;
    let (_, xml) = validate(base, "/cas/serviceValidate", &other, &ticket).await;
    assert!(
        xml.contains("authenticationSuccess"),
        "positive control: {xml}"
    );

    let ticket = ticket_for(base, &mut pupil, &service).await;
    let (_, xml) = validate(base, "/cas/serviceValidate", &other, &ticket).await;
    assert_eq!(failure_code(&xml), Some("INVALID_SERVICE"), "{xml}");
    let (_, xml) = validate(base, "/cas/serviceValidate", &service, &ticket).await;
    assert_eq!(failure_code(&xml), Some("INVALID_TICKET"), "spent: {xml}");

    let (_, xml) = validate(base, "/cas/serviceValidate", "", "").await;
    assert_eq!(failure_code(&xml), Some("INVALID_TICKET_SPEC"), "{xml}");
    let response = reqwest::get(format!(
        "{base}/cas/serviceValidate?service={}",
        encoded(&service)
    ))
    .await
    .unwrap();
    let xml = response.text().await.unwrap();
    assert_eq!(failure_code(&xml), Some("INVALID_REQUEST"), "{xml}");

    let ticket = ticket_for(base, &mut pupil, &service).await;
    let response = reqwest::get(format!(
        "{base}/cas/serviceValidate?service={}&ticket={ticket}&renew=true",
        encoded(&service)
    ))
    .await
    .unwrap();
    let xml = response.text().await.unwrap();
    assert_eq!(failure_code(&xml), Some("INVALID_TICKET_SPEC"), "{xml}");

    let ticket = ticket_for(base, &mut pupil, &service).await;
    let response = reqwest::get(format!(
        "{base}/cas/serviceValidate?service={}&ticket={ticket}&pgtUrl={}",
        encoded(&service),
        encoded(&format!("{}/pgt", host.base))
    ))
    .await
    .unwrap();
    let xml = response.text().await.unwrap();
    assert_eq!(failure_code(&xml), Some("INVALID_PROXY_CALLBACK"), "{xml}");

    let (_, xml) = validate(base, "/cas/serviceValidate", &service, "ST-forged").await;
    assert_eq!(failure_code(&xml), Some("INVALID_TICKET"), "{xml}");
    let (_, xml) = validate(base, "/cas/serviceValidate", &service, "PT-1").await;
    assert_eq!(failure_code(&xml), Some("INVALID_TICKET_SPEC"), "{xml}");
}

/// Service URLs match only a registered pattern: look-alikes get the
/// French page and no redirect.
#[tokio::test]
async fn only_registered_service_urls_get_a_ticket_in_memory() {
    let (stack, host) = stack_with_cas(false).await;
    let base = &stack.stack.base_url;
    let mut pupil = Browser::new();
    login_at_ent(&stack, &mut pupil, "educonnect", "eleve.louis").await;
    let good = format!("{}/callback", host.base);
    ticket_for(base, &mut pupil, &good).await;
    let port = host.base.rsplit(':').next().unwrap();
    for bad in [
        format!("http://127.0.0.1.evil.example:{port}/callback"),
        format!("http://127.0.0.1:{port}@evil.example/callback"),
        format!("http://127x0.0.1:{port}/callback"),
        format!("http://127.0.0.1:{port}/callback/../admin"),
        format!("http://127.0.0.1:{port}/callbackx"),
        "http://127.0.0.1:1/callback".to_owned(),
        format!("https://127.0.0.1:{port}/callback"),
    ] {
        let page = pupil
            .open(&format!("{base}/cas/login?service={}", encoded(&bad)))
            .await;
        assert_eq!(page.status, 400, "{bad}: {}", page.url);
        assert!(page.body.contains("Service inconnu"), "{bad}");
        assert!(page.url.starts_with(base.as_str()), "no redirect for {bad}");
    }
}

/// `gateway` without a session returns to the service with no ticket;
/// `renew` with a session asks for a login again, and its ticket then says
/// it comes from a fresh login.
#[tokio::test]
async fn gateway_and_renew_in_memory() {
    let (stack, host) = stack_with_cas(false).await;
    let base = &stack.stack.base_url;
    let service = format!("{}/callback", host.base);
    let mut stranger = Browser::new();
    let target = stranger
        .redirect_target(&format!(
            "{base}/cas/login?service={}&gateway=true",
            encoded(&service)
        ))
        .await;
    assert_eq!(target, service);

    let mut pupil = Browser::new();
    login_at_ent(&stack, &mut pupil, "educonnect", "eleve.louis").await;
    let page = pupil
        .open(&format!(
            "{base}/cas/login?service={}&renew=true",
            encoded(&service)
        ))
        .await;
    assert!(
        page.url.contains("/login?flow="),
        "a login again: {}",
        page.url
    );
    let accounts = pupil
        .open(&format!(
            "{base}{}",
            common::link(&page.body, "/login/educonnect?flow=").unwrap()
        ))
        .await;
    let (action, mut fields) = common::form(&accounts.body).unwrap();
    fields.push(("login".to_owned(), "eleve.louis".to_owned()));
    let action = reqwest::Url::parse(&accounts.url)
        .unwrap()
        .join(&action)
        .unwrap();
    let landed = pupil.post(action.as_str(), &fields).await;
    let prefix = format!("{service}?ticket=");
    let ticket_url = pupil
        .visited
        .iter()
        .find(|url| url.starts_with(&prefix))
        .cloned()
        .unwrap_or_else(|| panic!("no ticket: {} {:?}", landed.url, pupil.visited));
    let ticket = &ticket_url[prefix.len()..];
    let response = reqwest::get(format!(
        "{base}/cas/serviceValidate?service={}&ticket={ticket}&renew=true",
        encoded(&service)
    ))
    .await
    .unwrap();
    let xml = response.text().await.unwrap();
    assert!(
        xml.contains("<cas:isFromNewLogin>true</cas:isFromNewLogin>"),
        "{xml}"
    );
}

/// Two replicas sharing Redis validate one ticket at the same instant:
/// exactly one succeeds. A ticket older than its lifetime is refused.
#[tokio::test]
async fn one_ticket_one_success_across_replicas_and_expiry_on_redis() {
    let (stack, host) = stack_with_cas(true).await;
    let base = stack.stack.base_url.clone();
    let other = stack.gateway_at_another_url().await;
    let mut pupil = Browser::new();
    login_at_ent(&stack, &mut pupil, "educonnect", "eleve.louis").await;
    let service = format!("{}/callback", host.base);

    for _ in 0..5 {
        let ticket = ticket_for(&base, &mut pupil, &service).await;
        let (one, two) = tokio::join!(
            validate(&base, "/cas/p3/serviceValidate", &service, &ticket),
            validate(&other, "/cas/p3/serviceValidate", &service, &ticket),
        );
        let successes = [one.1, two.1]
            .iter()
            .filter(|xml| xml.contains("authenticationSuccess"))
            .count();
        assert_eq!(successes, 1);
    }

    let short = stack
        .gateway_at_another_url_with(|text| {
            assert!(text.contains("ticket_ttl_seconds = 10"), "{text}");
            text.replace("ticket_ttl_seconds = 10", "ticket_ttl_seconds = 1")
        })
        .await;
    let ticket = ticket_for(&short, &mut pupil, &service).await;
    let (_, xml) = validate(&short, "/cas/p3/serviceValidate", &service, &ticket).await;
    assert!(
        xml.contains("authenticationSuccess"),
        "positive control: {xml}"
    );
    let ticket = ticket_for(&short, &mut pupil, &service).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (_, xml) = validate(&short, "/cas/p3/serviceValidate", &service, &ticket).await;
    assert_eq!(failure_code(&xml), Some("INVALID_TICKET"), "{xml}");
}

/// Logout reaches the CAS service over the back channel with the ticket as
/// session index; `/cas/logout?service=` offers a link back only to a
/// registered service.
#[tokio::test]
async fn logout_reaches_the_cas_service_and_never_redirects_elsewhere_in_memory() {
    let (stack, host) = stack_with_cas(false).await;
    let base = &stack.stack.base_url;
    let service = format!("{}/callback", host.base);
    let mut pupil = Browser::new();
    login_at_ent(&stack, &mut pupil, "educonnect", "eleve.louis").await;
    let ticket = ticket_for(base, &mut pupil, &service).await;
    validate(base, "/cas/serviceValidate", &service, &ticket).await;

    let page = pupil
        .open(&format!(
            "{base}/cas/logout?service={}",
            encoded("https://evil.example/")
        ))
        .await;
    assert!(page.body.contains("Vous êtes déconnecté"), "{}", page.body);
    assert!(!page.body.contains("evil.example"), "{}", page.body);
    assert!(page.body.contains("Ressource CAS de test"), "{}", page.body);
    let logouts = host.logouts.lock().unwrap().clone();
    assert_eq!(logouts.len(), 1, "{logouts:?}");
    assert!(
        logouts[0].contains(&format!(
            "<samlp:SessionIndex>{ticket}</samlp:SessionIndex>"
        )),
        "{}",
        logouts[0]
    );
    assert_eq!(stack.sp_state("ent").await["logouts_received"], 1);

    let mut again = Browser::new();
    login_at_ent(&stack, &mut again, "educonnect", "eleve.louis").await;
    let page = again
        .open(&format!("{base}/cas/logout?service={}", encoded(&service)))
        .await;
    assert_eq!(
        common::link(&page.body, &host.base).as_deref(),
        Some(service.as_str()),
        "a registered service is offered: {}",
        page.body
    );
}

/// The demo's CAS resource (the testbed's CAS client, which validates its
/// tickets at `/cas/p3/serviceValidate` and parses the XML itself) opens
/// from the médiacentre of a pupil logged in over SAML, with no second
/// login: it receives the values the SAML ENT received and its own
/// identifier; logout reaches it.
#[tokio::test]
async fn the_mediacentre_opens_the_cas_resource_with_no_second_login_in_memory() {
    let stack = Stack::memory().await;
    let mut pupil = Browser::new();
    login_at_ent(&stack, &mut pupil, "educonnect", "eleve.louis").await;
    let ent = stack.sp_state("ent").await["last_attributes"].clone();

    pupil.visited.clear();
    let page = pupil
        .open(&stack.url("/mediacentre/ouvrir/atlas-cas"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(pupil.went_through("/cas/login"), "{:?}", pupil.visited);
    assert!(
        !pupil.went_through("/testbed/educonnect"),
        "no second login"
    );
    let atlas = stack.sp_state("atlas").await;
    assert_eq!(atlas["logins"], 1, "{atlas}");
    let received = &atlas["last_attributes"];
    assert_eq!(received["UAI"], ent["UAI"], "{atlas}");
    assert_eq!(received["DIV"], ent["DIV"], "{atlas}");
    assert_eq!(received["PRO"][0], "National_ELV");
    assert_eq!(
        received["IDO"][0], atlas["last_user"],
        "IDO is its cas:user"
    );
    assert_ne!(atlas["last_user"], ent["IDO"][0], "its own identifier");

    let page = pupil.open(&stack.url("/logout")).await;
    assert!(
        page.body.contains("Atlas interactif de géographie"),
        "{}",
        page.body
    );
    assert_eq!(stack.sp_state("atlas").await["logouts_received"], 1);
}
