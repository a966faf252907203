//! One table per protocol: a service with all three loads, and services with
//! only `[cas]` or only `[oidc]`; lookups by entity id, CAS service URL and
//! client id each find their protocol's services only; the identifier is the
//! same whatever the protocol; a file without any protocol is refused.

use sp_registry::{
    CasLookupError, ClientType, IdTokenAlg, LoadErrorKind, NameIdFormat, Protocol, Registry,
    TokenAuthMethod,
};
use sso_saml::ns;

use crate::common::{Folder, assert_at, fixtures, keys, pupil};

fn registry() -> Registry {
    Registry::load_dir(&fixtures().join("protocols")).unwrap()
}

#[test]
fn a_service_with_all_three_tables_loads() {
    let registry = registry();
    let ids: Vec<&str> = registry.services().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["ent-multi", "ent-oidc", "resource-cas"]);

    let multi = registry.by_id("ent-multi").unwrap();
    assert_eq!(
        multi.protocols(),
        [Protocol::Saml, Protocol::Cas, Protocol::Oidc]
    );
    let saml = multi.saml.as_ref().unwrap();
    assert_eq!(saml.name_id_format, NameIdFormat::Transient);
    let cas = multi.cas.as_ref().unwrap();
    assert_eq!(cas.services.len(), 2);
    assert_eq!(
        cas.services[1].as_str(),
        "https://ent-multi.example.fr/app/*?*"
    );
    assert!(!cas.allow_proxy);
    assert!(cas.proxy_callbacks.is_empty());
    assert_eq!(
        cas.logout_url.as_deref(),
        Some("https://ent-multi.example.fr/cas/logout")
    );
    let oidc = multi.oidc.as_ref().unwrap();
    assert_eq!(oidc.client_id, "ent-multi");
    assert_eq!(oidc.client_type, ClientType::Confidential);
    assert_eq!(oidc.auth_method, TokenAuthMethod::ClientSecretBasic);
    assert_eq!(oidc.id_token_alg, IdTokenAlg::Es256);
    assert!(oidc.require_pkce);
    assert!(oidc.jwks.is_none());
    assert!(oidc.secret_matches("ent-multi client secret"));
    assert!(!oidc.secret_matches("ent-multi client secreT"));
    assert_eq!(
        oidc.post_logout_redirect_uris,
        ["https://ent-multi.example.fr/"]
    );
    assert_eq!(
        oidc.backchannel_logout_uri.as_deref(),
        Some("https://ent-multi.example.fr/oidc/backchannel")
    );

    // Every lookup finds it through its own protocol.
    let found = |service: Option<&sp_registry::ServiceDefinition>| service.map(|s| s.id.clone());
    assert_eq!(
        found(registry.by_entity_id("https://ent-multi.example.fr/saml/sp")).as_deref(),
        Some("ent-multi")
    );
    assert_eq!(
        found(registry.by_client_id("ent-multi")).as_deref(),
        Some("ent-multi")
    );
    let by_cas = registry
        .by_cas_service("https://ent-multi.example.fr/app/notes?eleve=1")
        .unwrap();
    assert_eq!(by_cas.id, "ent-multi");
}

#[test]
fn a_cas_only_service_loads() {
    let registry = registry();
    let cas_only = registry.by_id("resource-cas").unwrap();
    assert_eq!(cas_only.protocols(), [Protocol::Cas]);
    assert!(cas_only.saml.is_none());
    assert!(cas_only.oidc.is_none());
    let cas = cas_only.cas.as_ref().unwrap();
    assert!(cas.allow_proxy);
    assert!(cas.proxy_callback_allowed("https://cas-res.example.fr/pgt-callback"));
    assert!(!cas.proxy_callback_allowed("https://cas-res.example.fr/pgt-callback/x"));
    assert!(cas.service_allowed("https://cas-res.example.fr/app/x"));
    assert_eq!(cas.logout_url, None);
    assert_eq!(
        registry
            .by_cas_service("https://cas-res.example.fr/login")
            .unwrap()
            .id,
        "resource-cas"
    );
    assert_eq!(
        registry.by_resource_id("ark:/99999/cas1").unwrap().id,
        "resource-cas"
    );
    // Not reachable through the other protocols.
    assert!(
        registry
            .by_entity_id("https://cas-res.example.fr/login")
            .is_none()
    );
    assert!(registry.by_client_id("resource-cas").is_none());
}

#[test]
fn an_oidc_only_service_loads() {
    let registry = registry();
    let oidc_only = registry.by_client_id("ent-oidc").unwrap();
    assert_eq!(oidc_only.id, "ent-oidc");
    assert_eq!(oidc_only.protocols(), [Protocol::Oidc]);
    let oidc = oidc_only.oidc.as_ref().unwrap();
    assert_eq!(oidc.auth_method, TokenAuthMethod::PrivateKeyJwt);
    assert_eq!(oidc.id_token_alg, IdTokenAlg::Rs256);
    assert_eq!(oidc.id_token_alg.name(), "RS256");
    assert_eq!(oidc.client_secret_sha256, None);
    assert!(!oidc.secret_matches(""));
    let jwks = oidc.jwks.as_ref().unwrap();
    let kids: Vec<&str> = jwks
        .iter()
        .map(|key| key["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, ["ent-oidc-rsa-2026", "ent-oidc-ec-2026"]);
    assert!(oidc.redirect_uri_allowed("http://localhost:8081/callback"));
    assert_eq!(
        registry
            .by_cas_service("https://ent-oidc.example.fr/callback")
            .unwrap_err(),
        CasLookupError::NoMatch
    );
}

#[test]
fn the_identifier_is_the_same_whatever_the_protocol() {
    let registry = registry();
    let keys = keys();
    let user = pupil("s1", "0351234B", "4A##4e A");

    // CAS only: the NameID a SAML consumer would get is the persistent
    // opaque identifier, the one CAS sends as `user` and OIDC as `sub`.
    let cas_only = registry.by_id("resource-cas").unwrap();
    let opaque = cas_only.opaque_id(&user, &keys).unwrap();
    assert_eq!(opaque.len(), 64);
    assert_eq!(
        cas_only.name_id(&user, &keys).unwrap(),
        (opaque.clone(), ns::NAMEID_PERSISTENT)
    );
    let released = cas_only.release(&user, &keys).unwrap();
    let ido = released.iter().find(|a| a.name == "IDO").unwrap();
    assert_eq!(ido.values, std::slice::from_ref(&opaque));
    // Family scope: the key and family decide, not the protocol.
    let family = keys
        .current()
        .opaque_id(&user, &cas_only.identifier, "another-service");
    assert_eq!(family, opaque);

    let oidc_only = registry.by_id("ent-oidc").unwrap();
    let sub = oidc_only.opaque_id(&user, &keys).unwrap();
    assert_ne!(sub, opaque);
    assert_eq!(oidc_only.name_id(&user, &keys).unwrap().0, sub);

    // With SAML, the SAML NameID format still applies (transient here).
    let multi = registry.by_id("ent-multi").unwrap();
    let (name_id, format) = multi.name_id(&user, &keys).unwrap();
    assert_eq!(format, ns::NAMEID_TRANSIENT);
    assert_ne!(name_id, multi.opaque_id(&user, &keys).unwrap());
}

#[test]
fn a_file_without_protocol_is_refused() {
    let folder = Folder::new();
    folder.copy_fixture("protocols", "resource-cas.toml");
    folder.load().unwrap();

    let folder = Folder::new();
    folder.write(
        "svc.toml",
        "id = \"svc\"\ndisplay_name = \"Service\"\nkind = \"ent\"\n\n[release]\nattributes = [\"IDO\"]\n",
    );
    let error = folder.only_error();
    assert_at(&error, &folder, "svc.toml", None, None);
    assert!(matches!(error.reason, LoadErrorKind::NoProtocol), "{error}");
}

#[test]
fn protocol_names() {
    let names: Vec<&str> = [Protocol::Saml, Protocol::Cas, Protocol::Oidc]
        .into_iter()
        .map(Protocol::as_str)
        .collect();
    assert_eq!(names, ["saml", "cas", "oidc"]);
}
