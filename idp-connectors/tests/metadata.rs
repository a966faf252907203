//! Metadata of an upstream IdP from a URL (SAML metadata §2; the gateway's
//! rule "metadata and keys keep their last known good copy"): the signature
//! of remote metadata is verified when a key is configured, a refresh that
//! fails or is refused keeps the previous copy in force, and a cold start
//! with the URL down uses the copy kept on disk (a corrupt copy is an error
//! naming its file); while the source's circuit breaker is open, refreshes
//! skip the fetch and the previous copy stays in force.
#![cfg(test)]

#[allow(dead_code)] // shared with the security suite, which uses the rest
mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use idp_connectors::config::SamlIdpConfig;
use idp_connectors::metadata::{MetadataError, MetadataSource};
use idp_connectors::saml::{ResponseError, SamlConnector};
use sso_saml::dsig;
use sso_saml::keys::SigningKey;
use sso_saml::metadata::metadata_id;
use support::{IDP_ENTITY, Params, Signer, idp_metadata, keys, mapping, sp_settings};

/// What the fake metadata server answers.
type Served = Arc<Mutex<(StatusCode, String)>>;

async fn serve_metadata(served: Served) -> SocketAddr {
    async fn answer(State(served): State<Served>) -> (StatusCode, String) {
        served.lock().unwrap().clone()
    }
    let app = Router::new()
        .route("/metadata", get(answer))
        .with_state(served);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn signed_metadata(idp_signing: &SigningKey, metadata_signer: &SigningKey) -> String {
    let xml = idp_metadata(std::slice::from_ref(idp_signing.certificate()));
    dsig::sign_enveloped(&xml, &metadata_id(IDP_ENTITY), metadata_signer).unwrap()
}

struct Setup {
    dir: tempfile::TempDir,
    served: Served,
    config: SamlIdpConfig,
    metadata_signer: SigningKey,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let metadata_signer = SigningKey::generate_self_signed("federation metadata signer").unwrap();
    std::fs::write(
        dir.path().join("metadata-signer.crt"),
        metadata_signer.certificate().to_pem().unwrap(),
    )
    .unwrap();
    let served: Served = Arc::new(Mutex::new((
        StatusCode::OK,
        signed_metadata(&keys().idp, &metadata_signer),
    )));
    let addr = serve_metadata(Arc::clone(&served)).await;
    let config: SamlIdpConfig = toml::from_str(&format!(
        r#"
id = "educonnect"
label = "Élève ou parent"
entity_id = "{IDP_ENTITY}"
metadata_url = "http://{addr}/metadata"
metadata_signing_cert = "metadata-signer.crt"
metadata_cache_file = "educonnect-cache.xml"
mapping = "educonnect"
"#
    ))
    .unwrap();
    Setup {
        dir,
        served,
        config,
        metadata_signer,
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn signed_remote_metadata_is_accepted_and_a_foreign_signature_refused() {
    let s = setup().await;
    let source = MetadataSource::from_config(&s.config, s.dir.path()).unwrap();
    let metadata = source.load(&http()).await.unwrap();
    assert_eq!(metadata.entity_id, IDP_ENTITY);
    assert!(
        s.dir.path().join("educonnect-cache.xml").exists(),
        "the good copy is kept on disk"
    );

    let forger = SigningKey::generate_self_signed("forger").unwrap();
    std::fs::remove_file(s.dir.path().join("educonnect-cache.xml")).unwrap();
    s.served.lock().unwrap().1 = signed_metadata(&forger, &forger);
    let err = source.load(&http()).await.unwrap_err();
    assert!(matches!(err, MetadataError::Invalid(_)), "{err}");

    s.served.lock().unwrap().1 = idp_metadata(std::slice::from_ref(forger.certificate()));
    let err = source.load(&http()).await.unwrap_err();
    assert!(
        matches!(err, MetadataError::Invalid(_)),
        "unsigned metadata refused when a key is configured: {err}"
    );
}

#[tokio::test]
async fn cold_start_with_the_url_down_uses_the_copy_on_disk() {
    let s = setup().await;
    let source = MetadataSource::from_config(&s.config, s.dir.path()).unwrap();
    source.load(&http()).await.unwrap();
    *s.served.lock().unwrap() = (StatusCode::SERVICE_UNAVAILABLE, String::new());
    let restarted = MetadataSource::from_config(&s.config, s.dir.path()).unwrap();
    let metadata = restarted.load(&http()).await.unwrap();
    assert_eq!(metadata.entity_id, IDP_ENTITY);

    std::fs::remove_file(s.dir.path().join("educonnect-cache.xml")).unwrap();
    let err = restarted.load(&http()).await.unwrap_err();
    assert!(matches!(err, MetadataError::Fetch { .. }), "{err}");
}

#[tokio::test]
async fn a_refresh_rotates_keys_and_a_bad_copy_keeps_the_previous_one() {
    let s = setup().await;
    let source = MetadataSource::from_config(&s.config, s.dir.path()).unwrap();
    let metadata = source.load(&http()).await.unwrap();
    let connector =
        SamlConnector::new(s.config.clone(), mapping(), sp_settings(), metadata).unwrap();
    let store = sso_store::MemoryStore::new();
    let validate = |params: Params| {
        let message = params.message();
        let connector = &connector;
        let store = &store;
        async move {
            connector
                .validate(
                    &message.saml_response,
                    message.expected_request.as_deref(),
                    store,
                    message.now,
                )
                .await
        }
    };
    // The key the IdP rotates to (the harness's second key pair).
    let rotated = &keys().attacker;
    let by_new_key = || {
        let mut params = Params::educonnect();
        params.assertion_signer = Signer::Attacker;
        params.response_signer = Signer::Attacker;
        params
    };
    validate(Params::educonnect()).await.unwrap();
    let err = validate(by_new_key()).await.unwrap_err();
    assert!(matches!(err, ResponseError::Signature(_)), "{err}");

    s.served.lock().unwrap().1 = signed_metadata(rotated, &s.metadata_signer);
    source.refresh_once(&connector, &http()).await.unwrap();
    validate(by_new_key()).await.unwrap();

    *s.served.lock().unwrap() = (StatusCode::INTERNAL_SERVER_ERROR, String::new());
    assert!(source.refresh_once(&connector, &http()).await.is_err());
    validate(by_new_key()).await.unwrap();

    let without_key = idp_metadata(&[]);
    let signed =
        dsig::sign_enveloped(&without_key, &metadata_id(IDP_ENTITY), &s.metadata_signer).unwrap();
    *s.served.lock().unwrap() = (StatusCode::OK, signed);
    assert!(
        source.refresh_once(&connector, &http()).await.is_err(),
        "metadata without a signing key is refused"
    );
    validate(by_new_key()).await.unwrap();
}

#[tokio::test]
async fn cold_start_with_the_url_unreachable_uses_the_copy_on_disk_and_names_a_corrupt_one() {
    let s = setup().await;
    let source = MetadataSource::from_config(&s.config, s.dir.path()).unwrap();
    source.load(&http()).await.unwrap();

    // Nothing listens at the URL any more: the connection is refused.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let unreachable = format!("http://{}/metadata", closed.local_addr().unwrap());
    drop(closed);
    let mut config = s.config.clone();
    config.metadata_url = Some(toml::Spanned::new(0..0, unreachable));
    let restarted = MetadataSource::from_config(&config, s.dir.path()).unwrap();
    let metadata = restarted.load(&http()).await.unwrap();
    assert_eq!(metadata.entity_id, IDP_ENTITY);

    let cache = s.dir.path().join("educonnect-cache.xml");
    std::fs::write(&cache, "<md:EntityDescriptor truncated").unwrap();
    let err = restarted.load(&http()).await.unwrap_err();
    assert!(matches!(err, MetadataError::CachedCopy { .. }), "{err}");
    assert!(
        err.to_string().contains(&cache.display().to_string()),
        "the corrupt copy is named: {err}"
    );
}

#[tokio::test]
async fn an_open_breaker_skips_the_refresh_and_keeps_the_previous_copy() {
    let s = setup().await;
    let mut config = s.config.clone();
    config.resilience.failure_threshold = 1;
    config.resilience.cooldown_seconds = 3600;
    let source = MetadataSource::from_config(&config, s.dir.path()).unwrap();
    let metadata = source.load(&http()).await.unwrap();
    let connector = SamlConnector::new(config.clone(), mapping(), sp_settings(), metadata).unwrap();
    source.refresh_once(&connector, &http()).await.unwrap();
    assert!(source.guard().breaker().admits(), "positive control");

    *s.served.lock().unwrap() = (StatusCode::SERVICE_UNAVAILABLE, String::new());
    let err = source.refresh_once(&connector, &http()).await.unwrap_err();
    assert!(matches!(err, MetadataError::Fetch { .. }), "{err}");
    assert!(!source.guard().breaker().admits(), "one 503 opens it");

    // The URL answers again, but the breaker is open: no fetch.
    *s.served.lock().unwrap() = (
        StatusCode::OK,
        signed_metadata(&keys().idp, &s.metadata_signer),
    );
    let err = source.refresh_once(&connector, &http()).await.unwrap_err();
    assert!(err.to_string().contains("circuit breaker"), "{err}");
}
