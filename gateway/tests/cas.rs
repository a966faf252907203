//! The gateway as CAS 3.0 server, end to end through HTTP: a user logged in
//! over SAML gets a service ticket for a CAS service with no second login;
//! the ticket validates once, for its service only, before it expires, on
//! exactly one of two replicas; service URLs match registered patterns only;
//! logout reaches the CAS service over the back channel; a service allowed
//! to proxy gets proxy-granting tickets at its HTTPS callback and proxy
//! tickets for other registered services. The CAS service is played here by
//! the test (a plain HTTP client, a listener for the logout POST, an HTTPS
//! listener for the proxy callback); every security rule comes with its
//! positive control.

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
/// `pgtUrl` is refused for a service not registered with `allow_proxy`.
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

/// Set, in the child process of the proxy test, to the folder of its test
/// PKI (see [`proxy_tickets_only_for_a_service_allowed_to_proxy_in_memory`]).
const PROXY_PKI: &str = "SSO_TEST_PROXY_PKI";

/// A test CA and a certificate for `127.0.0.1` signed by it, as PEM files
/// `ca.pem`, `leaf.pem` and `leaf.key` in `dir`.
fn write_test_pki(dir: &std::path::Path) {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::{PKey, Private};
    use openssl::x509::extension::{
        BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    };
    use openssl::x509::{X509, X509Name};

    fn key() -> PKey<Private> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
    }
    fn name(common_name: &str) -> X509Name {
        let mut name = X509Name::builder().unwrap();
        name.append_entry_by_nid(Nid::COMMONNAME, common_name)
            .unwrap();
        name.build()
    }
    fn builder(
        serial: u32,
        subject: &X509Name,
        issuer: &X509Name,
        key: &PKey<Private>,
    ) -> openssl::x509::X509Builder {
        let mut builder = X509::builder().unwrap();
        builder.set_version(2).unwrap();
        let serial = BigNum::from_u32(serial).unwrap().to_asn1_integer().unwrap();
        builder.set_serial_number(&serial).unwrap();
        builder.set_subject_name(subject).unwrap();
        builder.set_issuer_name(issuer).unwrap();
        builder.set_pubkey(key).unwrap();
        builder
            .set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        builder
            .set_not_after(&Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        builder
    }

    let ca_key = key();
    let ca_name = name("Test proxy callback CA");
    let mut ca = builder(1, &ca_name, &ca_name, &ca_key);
    ca.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
        .unwrap();
    ca.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()
            .unwrap(),
    )
    .unwrap();
    ca.sign(&ca_key, MessageDigest::sha256()).unwrap();
    let ca = ca.build();

    let leaf_key = key();
    let mut leaf = builder(2, &name("127.0.0.1"), &ca_name, &leaf_key);
    let san = SubjectAlternativeName::new()
        .ip("127.0.0.1")
        .build(&leaf.x509v3_context(Some(&ca), None))
        .unwrap();
    leaf.append_extension(san).unwrap();
    leaf.append_extension(BasicConstraints::new().build().unwrap())
        .unwrap();
    leaf.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .build()
            .unwrap(),
    )
    .unwrap();
    leaf.append_extension(ExtendedKeyUsage::new().server_auth().build().unwrap())
        .unwrap();
    leaf.sign(&ca_key, MessageDigest::sha256()).unwrap();
    let leaf = leaf.build();

    std::fs::write(dir.join("ca.pem"), ca.to_pem().unwrap()).unwrap();
    std::fs::write(dir.join("leaf.pem"), leaf.to_pem().unwrap()).unwrap();
    std::fs::write(
        dir.join("leaf.key"),
        leaf_key.private_key_to_pem_pkcs8().unwrap(),
    )
    .unwrap();
}

/// The proxying service's HTTPS callback host: it records the target
/// (path and query) of every request and answers `200`, or `500` on
/// `/pgt500`.
struct Callback {
    base: String,
    received: Arc<Mutex<Vec<String>>>,
}

impl Callback {
    fn start(pki: &std::path::Path) -> Self {
        use openssl::ssl::{SslAcceptor, SslFiletype, SslMethod};
        let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
        acceptor
            .set_certificate_chain_file(pki.join("leaf.pem"))
            .unwrap();
        acceptor
            .set_private_key_file(pki.join("leaf.key"), SslFiletype::PEM)
            .unwrap();
        let acceptor = acceptor.build();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!(
            "https://127.0.0.1:{}",
            listener.local_addr().unwrap().port()
        );
        let received = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let acceptor = acceptor.clone();
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || {
                    use std::io::{Read, Write};
                    let Ok(mut tls) = acceptor.accept(stream) else {
                        return;
                    };
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 1024];
                    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                        match tls.read(&mut buffer) {
                            Ok(0) | Err(_) => return,
                            Ok(read) => request.extend_from_slice(&buffer[..read]),
                        }
                    }
                    let request = String::from_utf8_lossy(&request).into_owned();
                    let target = request
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or_default()
                        .to_owned();
                    let status = if target.split('?').next() == Some("/pgt500") {
                        "500 Internal Server Error"
                    } else {
                        "200 OK"
                    };
                    seen.lock().unwrap().push(target);
                    let _ = write!(
                        tls,
                        "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                    let _ = tls.shutdown();
                });
            }
        });
        Self { base, received }
    }

    /// The `(pgtId, pgtIou)` pairs received at `path`, in order.
    fn tickets_at(&self, path: &str) -> Vec<(String, String)> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter_map(|target| {
                let (at, query) = target.split_once('?')?;
                (at == path).then_some(query)?;
                let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect();
                let value = |name: &str| {
                    pairs
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.clone())
                };
                Some((value("pgtId")?, value("pgtIou")?))
            })
            .collect()
    }
}

/// A CAS service of the test host allowed to proxy, its callbacks on the
/// HTTPS host.
fn proxying_service(host: &str, callback: &str) -> (String, String) {
    (
        "portail-cas.toml".to_owned(),
        format!(
            "id = \"portail-cas\"\ndisplay_name = \"Portail CAS de test\"\nkind = \"ent\"\n\n[cas]\nservices = [\"{host}/portail\"]\nallow_proxy = true\nproxy_callbacks = [\"{callback}/pgt\", \"{callback}/pgt500\"]\n\n[release]\nattributes = [\"IDO\", \"UAI\"]\n"
        ),
    )
}

/// The text of the first `cas:<name>` element of a CAS answer.
fn element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<cas:{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</cas:{name}>"))? + start;
    Some(xml[start..end].to_owned())
}

async fn get_text(url: String) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

async fn validate_with_callback(
    base: &str,
    path: &str,
    service: &str,
    ticket: &str,
    pgt_url: &str,
) -> String {
    get_text(format!(
        "{base}{path}?service={}&ticket={}&pgtUrl={}",
        encoded(service),
        encoded(ticket),
        encoded(pgt_url)
    ))
    .await
}

async fn proxy(base: &str, pgt: &str, target: &str) -> String {
    get_text(format!(
        "{base}/cas/proxy?pgt={}&targetService={}",
        encoded(pgt),
        encoded(target)
    ))
    .await
}

/// Proxy tickets end to end. The gateway verifies the callback's
/// certificate against the system's roots, so the test runs itself again in
/// a child process whose `SSL_CERT_FILE` names a test CA (the environment
/// of a running test cannot be changed safely); the parent passes only if
/// the child ran this test and it passed.
///
/// A service allowed to proxy receives a PGTIOU, its callback the matching
/// PGT; `/cas/proxy` gives a proxy ticket for a second registered service,
/// which validates once at `/cas/proxyValidate` with its own identifier and
/// the callback as proxy. Each refusal follows its positive control: a
/// service not allowed to proxy, a pgtUrl outside the callbacks, a callback
/// answering 500, a proxy ticket at `/cas/serviceValidate`, a proxy ticket
/// used twice, an unregistered targetService, a PGT after logout.
#[tokio::test]
async fn proxy_tickets_only_for_a_service_allowed_to_proxy_in_memory() {
    let Ok(pki) = std::env::var(PROXY_PKI) else {
        let dir = tempfile::tempdir().unwrap();
        write_test_pki(dir.path());
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "proxy_tickets_only_for_a_service_allowed_to_proxy_in_memory",
                "--exact",
                "--nocapture",
            ])
            .env(PROXY_PKI, dir.path())
            .env("SSL_CERT_FILE", dir.path().join("ca.pem"))
            .env_remove("SSL_CERT_DIR")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stdout}\n{stderr}");
        assert!(stdout.contains("1 passed"), "{stdout}");
        return;
    };
    let callback = Callback::start(std::path::Path::new(&pki));
    let host = cas_host().await;
    let stack = Stack::memory_with(vec![
        cas_service(&host.base),
        proxying_service(&host.base, &callback.base),
    ])
    .await;
    let base = &stack.stack.base_url;
    let mut pupil = Browser::new();
    login_at_ent(&stack, &mut pupil, "educonnect", "eleve.louis").await;
    let portal = format!("{}/portail", host.base);
    let target = format!("{}/callback", host.base);
    let pgt_url = format!("{}/pgt", callback.base);

    // The proxying service gets a PGTIOU; its callback got the matching PGT.
    let ticket = ticket_for(base, &mut pupil, &portal).await;
    let xml =
        validate_with_callback(base, "/cas/p3/serviceValidate", &portal, &ticket, &pgt_url).await;
    assert!(xml.contains("<cas:authenticationSuccess>"), "{xml}");
    let portal_user = element(&xml, "user").unwrap();
    let iou = element(&xml, "proxyGrantingTicket").unwrap();
    assert!(iou.starts_with("PGTIOU-") && iou.len() == 7 + 64, "{iou}");
    let delivered = callback.tickets_at("/pgt");
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let (pgt, sent_iou) = delivered[0].clone();
    assert_eq!(sent_iou, iou);
    assert!(pgt.starts_with("PGT-") && pgt.len() == 4 + 64, "{pgt}");

    // A service not allowed to proxy: refused, even with a registered callback.
    let ticket = ticket_for(base, &mut pupil, &target).await;
    let xml =
        validate_with_callback(base, "/cas/serviceValidate", &target, &ticket, &pgt_url).await;
    assert_eq!(failure_code(&xml), Some("INVALID_PROXY_CALLBACK"), "{xml}");
    // A pgtUrl outside the proxying service's callbacks: refused, never called.
    let ticket = ticket_for(base, &mut pupil, &portal).await;
    let other = format!("{}/other", callback.base);
    let xml = validate_with_callback(base, "/cas/serviceValidate", &portal, &ticket, &other).await;
    assert_eq!(failure_code(&xml), Some("INVALID_PROXY_CALLBACK"), "{xml}");
    assert!(callback.tickets_at("/other").is_empty());
    assert_eq!(callback.tickets_at("/pgt").len(), 1, "no further delivery");
    // A callback answering 500: the validation succeeds without a PGT, and
    // the PGT it was offered is unknown to /cas/proxy.
    let ticket = ticket_for(base, &mut pupil, &portal).await;
    let failing = format!("{}/pgt500", callback.base);
    let xml =
        validate_with_callback(base, "/cas/serviceValidate", &portal, &ticket, &failing).await;
    assert!(xml.contains("<cas:authenticationSuccess>"), "{xml}");
    assert!(!xml.contains("proxyGrantingTicket"), "{xml}");
    let offered = callback.tickets_at("/pgt500");
    assert_eq!(offered.len(), 1, "{offered:?}");
    let answer = proxy(base, &offered[0].0, &target).await;
    assert_eq!(failure_code(&answer), Some("INVALID_TICKET"), "{answer}");

    // A proxy ticket for the second registered service validates once, with
    // that service's own identifier and the callback as proxy.
    let answer = proxy(base, &pgt, &target).await;
    assert!(answer.contains("<cas:proxySuccess>"), "{answer}");
    let proxy_ticket = element(&answer, "proxyTicket").unwrap();
    assert!(
        proxy_ticket.starts_with("PT-") && proxy_ticket.len() == 3 + 64,
        "{proxy_ticket}"
    );
    let (status, xml) = validate(base, "/cas/proxyValidate", &target, &proxy_ticket).await;
    assert_eq!(status, 200);
    assert!(xml.contains("<cas:authenticationSuccess>"), "{xml}");
    assert!(
        xml.contains("<cas:NOM>Martin</cas:NOM>"),
        "the target's release: {xml}"
    );
    let target_user = element(&xml, "user").unwrap();
    assert_ne!(target_user, portal_user, "the target's own identifier");
    assert_eq!(
        element(&xml, "proxies").as_deref(),
        Some(format!("<cas:proxy>{pgt_url}</cas:proxy>").as_str()),
        "{xml}"
    );
    // Used twice: refused.
    let (_, xml) = validate(base, "/cas/proxyValidate", &target, &proxy_ticket).await;
    assert_eq!(failure_code(&xml), Some("INVALID_TICKET"), "{xml}");
    // The JSON form of /p3/proxyValidate names the proxy too.
    let proxy_ticket = element(&proxy(base, &pgt, &target).await, "proxyTicket").unwrap();
    let json: serde_json::Value = serde_json::from_str(
        &get_text(format!(
            "{base}/cas/p3/proxyValidate?service={}&ticket={proxy_ticket}&format=JSON",
            encoded(&target)
        ))
        .await,
    )
    .unwrap();
    let success = &json["serviceResponse"]["authenticationSuccess"];
    assert_eq!(success["user"], target_user.as_str(), "{json}");
    assert_eq!(success["proxies"][0], pgt_url.as_str(), "{json}");
    // A proxy ticket at /cas/serviceValidate: refused, and spent.
    let proxy_ticket = element(&proxy(base, &pgt, &target).await, "proxyTicket").unwrap();
    let (_, xml) = validate(base, "/cas/serviceValidate", &target, &proxy_ticket).await;
    assert_eq!(failure_code(&xml), Some("INVALID_TICKET_SPEC"), "{xml}");
    let (_, xml) = validate(base, "/cas/proxyValidate", &target, &proxy_ticket).await;
    assert_eq!(failure_code(&xml), Some("INVALID_TICKET"), "{xml}");
    // A service ticket still validates at /cas/proxyValidate, with no proxies.
    let ticket = ticket_for(base, &mut pupil, &target).await;
    let (_, xml) = validate(base, "/cas/proxyValidate", &target, &ticket).await;
    assert!(
        xml.contains("<cas:authenticationSuccess>") && !xml.contains("proxies"),
        "{xml}"
    );

    // An unregistered targetService, or a missing parameter: refused.
    let answer = proxy(base, &pgt, "https://evil.example/callback").await;
    assert_eq!(
        failure_code(&answer),
        Some("UNAUTHORIZED_SERVICE"),
        "{answer}"
    );
    assert!(answer.contains("<cas:proxyFailure"), "{answer}");
    let answer = get_text(format!("{base}/cas/proxy?pgt={pgt}")).await;
    assert_eq!(failure_code(&answer), Some("INVALID_REQUEST"), "{answer}");

    // After logout the PGT is refused.
    let answer = proxy(base, &pgt, &target).await;
    assert!(
        answer.contains("<cas:proxySuccess>"),
        "positive control: {answer}"
    );
    pupil.open(&stack.url("/logout")).await;
    let answer = proxy(base, &pgt, &target).await;
    assert_eq!(failure_code(&answer), Some("INVALID_TICKET"), "{answer}");
}
