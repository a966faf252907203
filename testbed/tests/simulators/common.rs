//! Shared fixtures: keys, a served testbed, the test playing the gateway, and
//! small HTML helpers.

use std::sync::LazyLock;

use axum::Router;
use chrono::Utc;
use reqwest::redirect::Policy;
use sso_saml::binding::{self, MessageKind};
use sso_saml::ids::new_id;
use sso_saml::keys::SigningKey;
use sso_saml::messages::{self, AuthnRequestSpec};
use sso_saml::ns;
use sso_testbed::{
    IdpKind, OidcSigningKey, SimCasClientConfig, SimIdpConfig, SimOidcOpConfig, SimOidcRpConfig,
    SimSpConfig, sim_cas_client_router, sim_idp_router, sim_oidc_op_router, sim_oidc_rp_router,
    sim_sp_router,
};

/// The gateway's entity id as SP of the simulated IdPs.
pub const GW_SP_ENTITY: &str = "https://gateway.test/saml/sp";
/// The gateway's ACS (never reached: the test reads the POST form).
pub const GW_ACS: &str = "https://gateway.test/saml/acs";
/// The gateway's SP-side SLO endpoint.
pub const GW_SP_SLO: &str = "https://gateway.test/saml/sp-slo";
/// The gateway's entity id as IdP of the simulated SPs.
pub const GW_IDP_ENTITY: &str = "https://gateway.test/saml/idp";
/// The gateway's SSO endpoint.
pub const GW_SSO: &str = "https://gateway.test/saml/sso";
/// The gateway's IdP-side SLO endpoint.
pub const GW_IDP_SLO: &str = "https://gateway.test/saml/idp-slo";
/// Entity ids of the simulators.
pub const EDUCONNECT_ENTITY: &str = "https://educonnect.test/idp";
pub const AGENTS_ENTITY: &str = "https://agents.test/idp";
pub const ENT_ENTITY: &str = "https://ent.test/sp";

pub struct Keys {
    pub gateway: SigningKey,
    pub educonnect: SigningKey,
    pub agents: SigningKey,
    pub ent: SigningKey,
    pub attacker: SigningKey,
}

pub static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys {
    gateway: SigningKey::generate_self_signed("gateway.test").unwrap(),
    educonnect: SigningKey::generate_self_signed("educonnect.test").unwrap(),
    agents: SigningKey::generate_self_signed("agents.test").unwrap(),
    ent: SigningKey::generate_self_signed("ent.test").unwrap(),
    attacker: SigningKey::generate_self_signed("attacker.test").unwrap(),
});

/// A copy of a key (the simulators take theirs by value).
pub fn dup(key: &SigningKey) -> SigningKey {
    SigningKey::from_pem(
        &key.private_key_pem().unwrap(),
        &key.certificate().to_pem().unwrap(),
    )
    .unwrap()
}

/// A served testbed: `/idp/educonnect`, `/idp/agents` and `/sp/ent` face the
/// gateway played by the test; `/direct/agents` and `/direct/ent` face each other.
pub struct Bed {
    pub base: String,
    pub client: reqwest::Client,
}

impl Bed {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

pub fn idp_config(base: &str, kind: IdpKind) -> SimIdpConfig {
    let (path, entity_id, key, encryption) = match kind {
        IdpKind::EduConnect => (
            "/idp/educonnect",
            EDUCONNECT_ENTITY,
            &KEYS.educonnect,
            Some(KEYS.gateway.certificate().clone()),
        ),
        IdpKind::Agents => ("/idp/agents", AGENTS_ENTITY, &KEYS.agents, None),
    };
    SimIdpConfig {
        kind,
        base_url: format!("{base}{path}"),
        entity_id: entity_id.to_owned(),
        signing_key: dup(key),
        sp_entity_id: GW_SP_ENTITY.to_owned(),
        sp_acs_url: GW_ACS.to_owned(),
        sp_slo_url: GW_SP_SLO.to_owned(),
        sp_signing_cert: KEYS.gateway.certificate().clone(),
        sp_encryption_cert: encryption,
    }
}

pub fn ent_config(base: &str) -> SimSpConfig {
    SimSpConfig {
        id: "ent".to_owned(),
        display_name: "ENT".to_owned(),
        base_url: format!("{base}/sp/ent"),
        entity_id: ENT_ENTITY.to_owned(),
        signing_key: dup(&KEYS.ent),
        idp_sso_url: GW_SSO.to_owned(),
        idp_slo_url: GW_IDP_SLO.to_owned(),
        idp_entity_id: GW_IDP_ENTITY.to_owned(),
        idp_signing_cert: KEYS.gateway.certificate().clone(),
        links: vec![(
            "Ressource A <éditeur>".to_owned(),
            "https://resource-a.test/".to_owned(),
        )],
        mediacentre_api: None,
    }
}

fn direct_routers(base: &str) -> Router {
    let idp = SimIdpConfig {
        kind: IdpKind::Agents,
        base_url: format!("{base}/direct/agents"),
        entity_id: AGENTS_ENTITY.to_owned(),
        signing_key: dup(&KEYS.agents),
        sp_entity_id: ENT_ENTITY.to_owned(),
        sp_acs_url: format!("{base}/direct/ent/acs"),
        sp_slo_url: format!("{base}/direct/ent/slo"),
        sp_signing_cert: KEYS.ent.certificate().clone(),
        sp_encryption_cert: None,
    };
    let sp = SimSpConfig {
        id: "ent".to_owned(),
        display_name: "ENT".to_owned(),
        base_url: format!("{base}/direct/ent"),
        entity_id: ENT_ENTITY.to_owned(),
        signing_key: dup(&KEYS.ent),
        idp_sso_url: format!("{base}/direct/agents/sso"),
        idp_slo_url: format!("{base}/direct/agents/slo"),
        idp_entity_id: AGENTS_ENTITY.to_owned(),
        idp_signing_cert: KEYS.agents.certificate().clone(),
        links: Vec::new(),
        mediacentre_api: None,
    };
    Router::new()
        .nest("/direct/agents", sim_idp_router(idp))
        .nest("/direct/ent", sim_sp_router(sp))
}

/// A fresh browser (cookie jar, no automatic redirects).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// Serves every simulator on a fresh port.
pub async fn serve() -> Bed {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .nest(
            "/idp/educonnect",
            sim_idp_router(idp_config(&base, IdpKind::EduConnect)),
        )
        .nest(
            "/idp/agents",
            sim_idp_router(idp_config(&base, IdpKind::Agents)),
        )
        .nest("/sp/ent", sim_sp_router(ent_config(&base)))
        .merge(direct_routers(&base));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Bed {
        base,
        client: browser(),
    }
}

/// The query string of a URL.
pub fn query(url: &str) -> &str {
    url.split_once('?').map(|(_, q)| q).unwrap()
}

/// An AuthnRequest from the gateway (`issuer`) to a simulated IdP, encoded for
/// the HTTP-Redirect binding and signed with `key` when given. Returns the URL
/// and the request ID.
pub fn authn_request_url(
    sso_url: &str,
    issuer: &str,
    force_authn: bool,
    key: Option<&SigningKey>,
) -> (String, String) {
    let id = new_id();
    let xml = messages::build_authn_request(&AuthnRequestSpec {
        id: id.clone(),
        issuer: issuer.to_owned(),
        destination: sso_url.to_owned(),
        acs_url: Some(GW_ACS.to_owned()),
        protocol_binding: Some(ns::BINDING_HTTP_POST.to_owned()),
        name_id_format: None,
        force_authn,
        is_passive: false,
        requested_authn_context: Vec::new(),
        issue_instant: Utc::now(),
    });
    let url =
        binding::redirect_url(sso_url, MessageKind::Request, &xml, Some("rs-42"), key).unwrap();
    (url, id)
}

/// The value of attribute `attr` in the first tag that has `name="<name>"`.
fn tag_attr(html: &str, tag_marker: &str, attr: &str) -> Option<String> {
    html.split('<')
        .find(|tag| tag.contains(tag_marker))
        .and_then(|tag| {
            let start = tag.find(&format!("{attr}=\""))? + attr.len() + 2;
            let end = tag[start..].find('"')? + start;
            Some(sso_testbed::html::unescape(&tag[start..end]))
        })
}

/// The value of the form field `name`.
pub fn field(html: &str, name: &str) -> Option<String> {
    tag_attr(html, &format!("name=\"{name}\""), "value")
}

/// The action of the first form.
pub fn form_action(html: &str) -> String {
    tag_attr(html, "form ", "action").unwrap()
}

/// The Location header of a redirect.
pub fn location(response: &reqwest::Response) -> String {
    assert!(
        response.status().is_redirection(),
        "expected a redirect, got {}",
        response.status()
    );
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// Sends a signed AuthnRequest to a simulated IdP, picks `login` on its page
/// and returns the auto-submitting form's HTML and the request ID.
pub async fn login_at(
    bed: &Bed,
    client: &reqwest::Client,
    idp_path: &str,
    login: &str,
) -> (String, String) {
    let (url, id) = authn_request_url(
        &bed.url(&format!("{idp_path}/sso")),
        GW_SP_ENTITY,
        false,
        Some(&KEYS.gateway),
    );
    let page = client.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    let pending = field(&page, "pending").unwrap();
    let form = client
        .post(bed.url(&format!("{idp_path}/login")))
        .form(&[("pending", pending.as_str()), ("login", login)])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    (form.text().await.unwrap(), id)
}

// --- OpenID Connect and CAS fixtures -------------------------------------

/// The gateway's client id at the simulated ÉduConnect OpenID provider.
pub const OP_CLIENT_ID: &str = "gateway-client";
/// Its client secret (with characters that HTTP Basic must form-encode).
pub const OP_CLIENT_SECRET: &str = "s3cret:with&odd chars";
/// The gateway's redirect URI (never reached: the test reads the redirect).
pub const GW_OIDC_CALLBACK: &str = "https://gateway.test/oidc/educonnect/callback";
/// Where the gateway wants the browser back after logout at the provider.
pub const GW_AFTER_LOGOUT: &str = "https://gateway.test/logged-out";
/// The provider's path in the served bed.
pub const OP_PATH: &str = "/oidc/educonnect";
/// The simulated OIDC resource's path.
pub const RP_PATH: &str = "/rp/oidc";
/// The simulated CAS resource's path.
pub const CAS_RESOURCE_PATH: &str = "/rp/cas";
/// The test's CAS server (playing the gateway) path.
pub const FAKE_CAS_PATH: &str = "/fakecas";

pub struct OidcKeys {
    pub op: OidcSigningKey,
    pub attacker: OidcSigningKey,
}

pub static OIDC_KEYS: LazyLock<OidcKeys> = LazyLock::new(|| OidcKeys {
    op: OidcSigningKey::generate("educonnect-2026").unwrap(),
    // Same kid: only the signature tells them apart.
    attacker: OidcSigningKey::generate("educonnect-2026").unwrap(),
});

/// A copy of an OIDC key (the provider takes its own by value).
pub fn dup_oidc(key: &OidcSigningKey) -> OidcSigningKey {
    OidcSigningKey::from_pem(key.kid(), key.private_key_pem()).unwrap()
}

/// The provider's configuration in a bed served at `base`: the gateway's
/// redirect URI and the simulated OIDC resource's are registered.
pub fn op_config(base: &str) -> SimOidcOpConfig {
    SimOidcOpConfig {
        base_url: format!("{base}{OP_PATH}"),
        client_id: OP_CLIENT_ID.to_owned(),
        client_secret: OP_CLIENT_SECRET.to_owned(),
        redirect_uris: vec![
            GW_OIDC_CALLBACK.to_owned(),
            format!("{base}{RP_PATH}/callback"),
        ],
        post_logout_redirect_uris: vec![GW_AFTER_LOGOUT.to_owned(), format!("{base}{RP_PATH}")],
        signing_key: dup_oidc(&OIDC_KEYS.op),
    }
}

/// What the test's CAS server answers to `serviceValidate`.
const CAS_SUCCESS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">
  <cas:authenticationSuccess>
    <cas:user>ido-7f3a9c</cas:user>
    <cas:attributes>
      <cas:UAI>0359991V</cas:UAI>
      <cas:PRO>National_elv</cas:PRO>
      <cas:DIV>6A##6e A</cas:DIV>
      <cas:GRO>5-LATIN##Latin##6A</cas:GRO>
      <cas:GRO>5-LV2-ESP##Espagnol &amp; culture##6A</cas:GRO>
    </cas:attributes>
  </cas:authenticationSuccess>
</cas:serviceResponse>"#;

const CAS_FAILURE: &str = r#"<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">
  <cas:authenticationFailure code="INVALID_TICKET">Ticket ST-2-bad not recognized</cas:authenticationFailure>
</cas:serviceResponse>"#;

/// The test's CAS server: `serviceValidate` succeeds for ticket `ST-1-good`
/// and the resource's service URL only.
fn fake_cas(base: &str) -> Router {
    let service = format!("{base}{CAS_RESOURCE_PATH}/callback");
    Router::new().route(
        "/p3/serviceValidate",
        axum::routing::get(
            move |axum::extract::Query(q): axum::extract::Query<
                std::collections::HashMap<String, String>,
            >| {
                let good = q.get("ticket").map(String::as_str) == Some("ST-1-good")
                    && q.get("service") == Some(&service);
                async move { if good { CAS_SUCCESS } else { CAS_FAILURE } }
            },
        ),
    )
}

/// Serves the simulated OpenID provider, the simulated OIDC resource (its
/// issuer: that provider) and the simulated CAS resource (its CAS server:
/// the test's) on a fresh port.
pub async fn serve_oidc_and_cas() -> Bed {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let rp = SimOidcRpConfig {
        id: "resource-oidc".to_owned(),
        display_name: "Ressource OIDC".to_owned(),
        base_url: format!("{base}{RP_PATH}"),
        issuer: format!("{base}{OP_PATH}"),
        client_id: OP_CLIENT_ID.to_owned(),
        client_secret: OP_CLIENT_SECRET.to_owned(),
    };
    let cas = SimCasClientConfig {
        id: "resource-cas".to_owned(),
        display_name: "Ressource CAS".to_owned(),
        base_url: format!("{base}{CAS_RESOURCE_PATH}"),
        cas_base: format!("{base}{FAKE_CAS_PATH}"),
    };
    let app = Router::new()
        .nest(OP_PATH, sim_oidc_op_router(op_config(&base)))
        .nest(RP_PATH, sim_oidc_rp_router(rp))
        .nest(CAS_RESOURCE_PATH, sim_cas_client_router(cas))
        .nest(FAKE_CAS_PATH, fake_cas(&base));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Bed {
        base,
        client: browser(),
    }
}

/// The query parameters of a URL.
pub fn query_params(url: &str) -> std::collections::BTreeMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// GET a JSON document.
pub async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

/// `url` with the query parameters `pairs`.
pub fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    url::Url::parse_with_params(url, pairs).unwrap().into()
}
