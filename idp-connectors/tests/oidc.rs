//! Security suite of the OpenID Connect relying party (OpenID Connect Core
//! 1.0 §3.1.2, §3.1.3.7, §5.3.2; RFC 7636; RFC 9207; RFC 8725) against the
//! in-test provider of `oidc_op`, with real RSA and EC keys. Each negative
//! test runs its positive control first: the untouched login is accepted,
//! then the mutated one is refused with the expected `OidcError` variant.
#![cfg(test)]

mod oidc_op;

use std::sync::Arc;

use idp_connectors::breaker::BreakerState;
use idp_connectors::config::OidcIdpConfig;
use idp_connectors::oidc::{OidcError, OidcSetupError};
use jsonwebtoken::Algorithm;
use oidc_op::{
    CLIENT_ID, CLIENT_SECRET, ExpectedAuth, Key, REDIRECT_URI, SUBJECT, Signing, TestOp, compact,
    connector_for, now,
};
use serde_json::json;
use sso_core::{Profile, attr};

// ---------------------------------------------------------------------------
// The accepted login.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn code_flow_with_pkce_is_accepted_and_mapped() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let login = op.begin(&connector);
    let request = &login.request;
    assert_eq!(request.get("response_type"), "code");
    assert_eq!(request.get("client_id"), CLIENT_ID);
    assert_eq!(request.get("redirect_uri"), REDIRECT_URI);
    assert_eq!(request.get("code_challenge_method"), "S256");
    assert_eq!(request.get("scope"), "openid email");
    // 32 random bytes, base64url: 43 characters (256 bits) for each.
    assert_eq!(request.get("state").len(), 43);
    assert_eq!(request.get("nonce").len(), 43);
    assert_eq!(login.pending.pkce_verifier.len(), 43);
    assert_eq!(login.pending.state, request.get("state"));
    assert_ne!(
        op.begin(&connector).pending.state,
        login.pending.state,
        "fresh state for every request"
    );
    let auth_time = login.claims["auth_time"].as_i64().unwrap();

    let identity = op.finish(&connector, login).await.unwrap();
    assert_eq!(identity.idp, "fim");
    assert_eq!(identity.subject, SUBJECT);
    assert_eq!(identity.authn_context.as_deref(), Some("urn:ac:otp"));
    assert_eq!(identity.authn_instant, auth_time);
    // Userinfo claims win over the ID token's; arrays give several values.
    assert_eq!(identity.values(attr::EMAIL), ["prof@ac-rennes.fr"]);
    assert_eq!(identity.values(attr::GIVEN_NAME), ["Camille"]);
    assert_eq!(identity.profiles(), vec![Profile::Ens]);
    assert_eq!(identity.values(attr::FUNCTION), ["ENS"]);
    assert_eq!(identity.values(attr::UAI), ["0350001A", "0351234B"]);
    assert_eq!(op.hits("/userinfo"), 1);
    assert_eq!(op.hits("/jwks"), 1, "keys fetched once, at start-up");
}

#[tokio::test]
async fn without_userinfo_the_id_token_claims_alone_are_mapped() {
    let op = TestOp::start().await;
    let connector = op.connector("use_userinfo = false").await;
    let identity = op.login(&connector).await.unwrap();
    assert_eq!(identity.values(attr::EMAIL), ["id-token@ac-rennes.fr"]);
    assert!(identity.profiles().is_empty());
    assert_eq!(op.hits("/userinfo"), 0);
}

#[tokio::test]
async fn secrets_and_tokens_stay_out_of_debug_output() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let login = op.begin(&connector);
    let debug = format!("{connector:?} {:?} {:?}", login.pending, login.callback);
    assert!(!debug.contains(CLIENT_SECRET));
    assert!(!debug.contains(&login.pending.nonce));
    assert!(!debug.contains(&login.pending.pkce_verifier));
    assert!(!debug.contains(&login.pending.state));
}

// ---------------------------------------------------------------------------
// Token endpoint: client authentication and PKCE.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn client_secret_post_is_sent_when_configured() {
    let op = TestOp::start().await;
    op.expect_auth(ExpectedAuth::Post);
    let post = op
        .connector(r#"token_auth_method = "client_secret_post""#)
        .await;
    op.login(&post).await.unwrap();
    let basic = op.connector("").await;
    let err = op.login(&basic).await.unwrap_err();
    assert!(
        matches!(&err, OidcError::TokenEndpointError { error, .. } if error == "invalid_client"),
        "{err}"
    );
}

#[tokio::test]
async fn another_pkce_verifier_is_refused_by_the_provider() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let err = op
        .accepted_then_refused(&connector, |login| {
            login.pending.pkce_verifier = "A".repeat(43);
        })
        .await;
    assert!(
        matches!(&err, OidcError::TokenEndpointError { error, .. } if error == "invalid_grant"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// Callback: provider error, state, iss parameter, code, pending login.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn provider_error_is_reported() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let err = op
        .accepted_then_refused(&connector, |login| {
            login.callback.error = Some("access_denied".to_owned());
        })
        .await;
    assert!(
        matches!(&err, OidcError::ProviderError { error, .. } if error == "access_denied"),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_or_missing_state_is_refused() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let err = op
        .accepted_then_refused(&connector, |login| {
            login.callback.state = Some("forged-state".to_owned());
        })
        .await;
    assert!(matches!(err, OidcError::StateMismatch), "{err}");
    let err = op
        .accepted_then_refused(&connector, |login| login.callback.state = None)
        .await;
    assert!(matches!(err, OidcError::StateMissing), "{err}");
}

#[tokio::test]
async fn state_of_another_login_is_refused() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let other = op.begin(&connector);
    let err = op
        .accepted_then_refused(&connector, |login| {
            login.callback.state = other.pending.state.clone().into();
        })
        .await;
    assert!(matches!(err, OidcError::StateMismatch), "{err}");
}

#[tokio::test]
async fn missing_iss_parameter_is_refused_when_the_provider_sends_it() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let err = op
        .accepted_then_refused(&connector, |login| login.callback.iss = None)
        .await;
    assert!(matches!(err, OidcError::IssParameterMissing), "{err}");

    // A provider that does not advertise the parameter may omit it.
    op.set_iss_parameter_supported(false);
    let legacy = op.connector("").await;
    let mut login = op.begin(&legacy);
    login.callback.iss = None;
    op.finish(&legacy, login).await.unwrap();
}

#[tokio::test]
async fn iss_parameter_of_another_provider_is_refused() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let err = op
        .accepted_then_refused(&connector, |login| {
            login.callback.iss = Some("https://other-op.example.fr".to_owned());
        })
        .await;
    assert!(
        matches!(err, OidcError::IssParameterMismatch { .. }),
        "{err}"
    );

    // Even from a provider that does not advertise it, a wrong iss is refused.
    op.set_iss_parameter_supported(false);
    let legacy = op.connector("").await;
    let mut login = op.begin(&legacy);
    login.callback.iss = Some("https://other-op.example.fr".to_owned());
    let err = op.finish(&legacy, login).await.unwrap_err();
    assert!(
        matches!(err, OidcError::IssParameterMismatch { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn missing_code_is_refused() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let err = op
        .accepted_then_refused(&connector, |login| {
            login.callback.code = Some(String::new());
        })
        .await;
    assert!(matches!(err, OidcError::CodeMissing), "{err}");
}

#[tokio::test]
async fn pending_login_of_another_provider_is_refused() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let err = op
        .accepted_then_refused(&connector, |login| {
            login.pending.idp = "educonnect".to_owned();
        })
        .await;
    assert!(
        matches!(err, OidcError::PendingForAnotherIdp { .. }),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// ID token: algorithms and keys (RFC 8725).
// ---------------------------------------------------------------------------

#[tokio::test]
async fn alg_none_is_refused() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let err = op
        .accepted_then_refused(&connector, |login| {
            login.header = json!({ "alg": "none", "typ": "JWT" });
            login.signing = Signing::Unsigned;
        })
        .await;
    assert!(
        matches!(&err, OidcError::AlgorithmNotAllowed { alg } if alg == "none"),
        "{err}"
    );
}

#[tokio::test]
async fn hs256_keyed_with_the_rsa_public_key_is_refused() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let public_pem = op.key.public_pem.clone();
    let err = op
        .accepted_then_refused(&connector, move |login| {
            login.header = json!({ "alg": "HS256", "kid": "k1", "typ": "JWT" });
            login.signing = Signing::Hmac(public_pem, Algorithm::HS256);
        })
        .await;
    assert!(
        matches!(&err, OidcError::AlgorithmNotAllowed { alg } if alg == "HS256"),
        "{err}"
    );
}

#[tokio::test]
async fn an_algorithm_not_pinned_is_refused_and_accepted_once_pinned() {
    let op = TestOp::start().await;
    let ec = Key::ec("ec1");
    op.publish(&[Arc::clone(&op.key), Arc::clone(&ec)]);
    let use_ec = |login: &mut oidc_op::Login| {
        login.header = json!({ "alg": "ES256", "kid": "ec1", "typ": "JWT" });
        login.signing = Signing::Key(Arc::clone(&ec), Algorithm::ES256);
    };

    let rs256_only = op.connector("").await;
    let err = op.accepted_then_refused(&rs256_only, use_ec).await;
    assert!(
        matches!(&err, OidcError::AlgorithmNotAllowed { alg } if alg == "ES256"),
        "{err}"
    );

    let both = op.connector(r#"algorithms = ["RS256", "ES256"]"#).await;
    let mut login = op.begin(&both);
    use_ec(&mut login);
    op.finish(&both, login).await.unwrap();
}

#[tokio::test]
async fn ps256_is_accepted_when_pinned() {
    let op = TestOp::start().await;
    let connector = op.connector(r#"algorithms = ["PS256"]"#).await;
    let mut login = op.begin(&connector);
    login.header = json!({ "alg": "PS256", "kid": "k1" });
    login.signing = Signing::Key(Arc::clone(&op.key), Algorithm::PS256);
    op.finish(&connector, login).await.unwrap();
    // The default RS256 token is not pinned here.
    let err = op.login(&connector).await.unwrap_err();
    assert!(
        matches!(err, OidcError::AlgorithmNotAllowed { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn unsupported_algorithms_cannot_be_pinned() {
    let op = TestOp::start().await;
    for alg in ["HS256", "none", "RS512"] {
        let result: Result<OidcIdpConfig, _> = toml::from_str(&format!(
            r#"
id = "fim"
label = "x"
issuer = "{}"
client_id = "c"
client_secret_file = "s"
redirect_uri = "{REDIRECT_URI}"
mapping = "fim"
algorithms = ["{alg}"]
"#,
            op.issuer
        ));
        assert!(
            result.is_err(),
            "{alg} must be refused in the configuration"
        );
    }
    let mut config = op.config("");
    config.algorithms.clear();
    assert!(matches!(
        connector_for(config).await.unwrap_err(),
        OidcSetupError::NoAlgorithms
    ));
}

#[tokio::test]
async fn jku_header_is_never_fetched() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let attacker = Key::rsa("attacker");
    let jku = op.url("/evil/jwks");

    // A genuine token carrying jku is verified with the provider's keys.
    let mut login = op.begin(&connector);
    login.header["jku"] = jku.clone().into();
    op.finish(&connector, login).await.unwrap();

    let err = op
        .accepted_then_refused(&connector, |login| {
            login.header = json!({ "alg": "RS256", "kid": "attacker", "jku": jku });
            login.signing = Signing::Key(Arc::clone(&attacker), Algorithm::RS256);
        })
        .await;
    assert!(matches!(err, OidcError::UnknownKey { .. }), "{err}");
    assert_eq!(op.hits("/evil/jwks"), 0, "jku must never be fetched");
}

#[tokio::test]
async fn x5u_header_is_never_fetched() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let attacker = Key::rsa("attacker");
    let x5u = op.url("/evil/cert");
    let err = op
        .accepted_then_refused(&connector, |login| {
            login.header = json!({ "alg": "RS256", "kid": "attacker", "x5u": x5u });
            login.signing = Signing::Key(Arc::clone(&attacker), Algorithm::RS256);
        })
        .await;
    assert!(matches!(err, OidcError::UnknownKey { .. }), "{err}");
    assert_eq!(op.hits("/evil/cert"), 0, "x5u must never be fetched");
}

#[tokio::test]
async fn embedded_jwk_header_is_never_trusted() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let attacker = Key::rsa("k1");
    let err = op
        .accepted_then_refused(&connector, |login| {
            login.header = json!({ "alg": "RS256", "kid": "k1", "jwk": attacker.jwk });
            login.signing = Signing::Key(Arc::clone(&attacker), Algorithm::RS256);
        })
        .await;
    assert!(matches!(err, OidcError::Signature(_)), "{err}");
}

#[tokio::test]
async fn tampered_payload_is_refused() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let err = op
        .accepted_then_refused(&connector, |login| {
            let mut forged = login.claims.clone();
            forged["sub"] = "admin".into();
            let forged_payload = compact(&json!({}), &forged, &Signing::Unsigned);
            login.tamper = Some(Box::new(move |token: String| {
                let parts: Vec<&str> = token.split('.').collect();
                let payload = forged_payload.split('.').nth(1).unwrap();
                format!("{}.{payload}.{}", parts[0], parts[2])
            }));
        })
        .await;
    assert!(matches!(err, OidcError::Signature(_)), "{err}");
}

#[tokio::test]
async fn crit_header_is_refused() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let err = op
        .accepted_then_refused(&connector, |login| {
            login.header["crit"] = json!(["exp"]);
        })
        .await;
    assert!(matches!(err, OidcError::CriticalHeader), "{err}");
}

// ---------------------------------------------------------------------------
// ID token: key rotation and the refresh rate limit.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn unknown_kid_triggers_one_refresh_and_the_rotated_key_is_accepted() {
    let op = TestOp::start().await;
    let connector = op.connector("jwks_min_refresh_seconds = 600").await;
    op.login(&connector).await.unwrap();
    assert_eq!(op.hits("/jwks"), 1);

    // The provider rotates to k2: one refresh, then accepted.
    let k2 = Key::rsa("k2");
    op.publish(&[Arc::clone(&k2)]);
    let mut login = op.begin(&connector);
    login.header["kid"] = "k2".into();
    login.signing = Signing::Key(Arc::clone(&k2), Algorithm::RS256);
    op.finish(&connector, login).await.unwrap();
    assert_eq!(op.hits("/jwks"), 2);

    // A token with k2 again needs no fetch.
    let mut login = op.begin(&connector);
    login.header["kid"] = "k2".into();
    login.signing = Signing::Key(Arc::clone(&k2), Algorithm::RS256);
    op.finish(&connector, login).await.unwrap();
    assert_eq!(op.hits("/jwks"), 2);

    // Another unknown kid within the window: refused without fetching,
    // although the provider now publishes it.
    let k3 = Key::rsa("k3");
    op.publish(&[Arc::clone(&k2), Arc::clone(&k3)]);
    let mut login = op.begin(&connector);
    login.header["kid"] = "k3".into();
    login.signing = Signing::Key(Arc::clone(&k3), Algorithm::RS256);
    let err = op.finish(&connector, login).await.unwrap_err();
    assert!(
        matches!(&err, OidcError::UnknownKey { kid } if kid.as_deref() == Some("k3")),
        "{err}"
    );
    assert_eq!(op.hits("/jwks"), 2, "no fetch within the window");
}

#[tokio::test]
async fn a_refreshed_key_set_without_usable_keys_keeps_the_previous_keys() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    op.login(&connector).await.unwrap();
    op.publish(&[]);
    let mut login = op.begin(&connector);
    login.header["kid"] = "k2".into();
    let err = op.finish(&connector, login).await.unwrap_err();
    assert!(matches!(err, OidcError::UnknownKey { .. }), "{err}");
    assert_eq!(op.hits("/jwks"), 2, "the refresh ran");
    op.login(&connector).await.unwrap();
}

#[tokio::test]
async fn a_new_refresh_is_allowed_once_the_window_has_passed() {
    let op = TestOp::start().await;
    let connector = op.connector("jwks_min_refresh_seconds = 1").await;
    let k2 = Key::rsa("k2");
    let k3 = Key::rsa("k3");
    let with_key = |login: &mut oidc_op::Login, key: &Arc<Key>| {
        login.header["kid"] = key.kid.clone().into();
        login.signing = Signing::Key(Arc::clone(key), Algorithm::RS256);
    };

    op.publish(&[Arc::clone(&k2)]);
    let mut login = op.begin(&connector);
    with_key(&mut login, &k2);
    op.finish(&connector, login).await.unwrap();
    assert_eq!(op.hits("/jwks"), 2);

    op.publish(&[Arc::clone(&k2), Arc::clone(&k3)]);
    let mut login = op.begin(&connector);
    with_key(&mut login, &k3);
    assert!(matches!(
        op.finish(&connector, login).await.unwrap_err(),
        OidcError::UnknownKey { .. }
    ));
    assert_eq!(op.hits("/jwks"), 2);

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let mut login = op.begin(&connector);
    with_key(&mut login, &k3);
    op.finish(&connector, login).await.unwrap();
    assert_eq!(op.hits("/jwks"), 3);
}

// ---------------------------------------------------------------------------
// ID token: claims (Core §3.1.3.7).
// ---------------------------------------------------------------------------

#[tokio::test]
async fn wrong_issuer_is_refused() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let err = op
        .accepted_then_refused(&connector, |login| {
            login.claims["iss"] = "https://other-op.example.fr".into();
        })
        .await;
    assert!(matches!(err, OidcError::IssuerMismatch), "{err}");
}

#[tokio::test]
async fn wrong_audience_is_refused() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let err = op
        .accepted_then_refused(&connector, |login| {
            login.claims["aud"] = "another-client".into();
        })
        .await;
    assert!(matches!(err, OidcError::AudienceMismatch), "{err}");
}

#[tokio::test]
async fn azp_must_be_this_client() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let err = op
        .accepted_then_refused(&connector, |login| {
            login.claims["azp"] = "another-client".into();
        })
        .await;
    assert!(matches!(err, OidcError::AuthorizedPartyMismatch), "{err}");

    let mut login = op.begin(&connector);
    login.claims["azp"] = CLIENT_ID.into();
    op.finish(&connector, login).await.unwrap();
}

#[tokio::test]
async fn several_audiences_require_azp() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let err = op
        .accepted_then_refused(&connector, |login| {
            login.claims["aud"] = json!([CLIENT_ID, "another-client"]);
        })
        .await;
    assert!(matches!(err, OidcError::AuthorizedPartyMissing), "{err}");

    let mut login = op.begin(&connector);
    login.claims["aud"] = json!([CLIENT_ID, "another-client"]);
    login.claims["azp"] = CLIENT_ID.into();
    op.finish(&connector, login).await.unwrap();
}

#[tokio::test]
async fn expired_token_is_refused_beyond_the_skew() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let err = op
        .accepted_then_refused(&connector, |login| {
            login.claims["exp"] = (now() - 120).into();
        })
        .await;
    assert!(matches!(err, OidcError::Expired), "{err}");

    // Expired by less than the 60 s skew: accepted.
    let mut login = op.begin(&connector);
    login.claims["exp"] = (now() - 30).into();
    op.finish(&connector, login).await.unwrap();
}

#[tokio::test]
async fn token_issued_in_the_future_is_refused_beyond_the_skew() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let err = op
        .accepted_then_refused(&connector, |login| {
            login.claims["iat"] = (now() + 600).into();
        })
        .await;
    assert!(matches!(err, OidcError::IssuedInFuture), "{err}");

    let mut login = op.begin(&connector);
    login.claims["iat"] = (now() + 30).into();
    op.finish(&connector, login).await.unwrap();
}

#[tokio::test]
async fn wrong_or_missing_nonce_is_refused() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let err = op
        .accepted_then_refused(&connector, |login| {
            login.claims["nonce"] = "another-nonce".into();
        })
        .await;
    assert!(matches!(err, OidcError::NonceMismatch), "{err}");
    let err = op
        .accepted_then_refused(&connector, |login| {
            login.claims.as_object_mut().unwrap().remove("nonce");
        })
        .await;
    assert!(matches!(err, OidcError::NonceMissing), "{err}");
}

#[tokio::test]
async fn id_token_replayed_into_another_login_is_refused() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let first = op.begin(&connector);
    let replayed = compact(&first.header, &first.claims, &first.signing);
    op.finish(&connector, first).await.unwrap();
    let err = op
        .accepted_then_refused(&connector, |login| {
            login.raw_id_token = Some(replayed);
        })
        .await;
    assert!(matches!(err, OidcError::NonceMismatch), "{err}");
}

// ---------------------------------------------------------------------------
// Userinfo (Core §5.3.2).
// ---------------------------------------------------------------------------

#[tokio::test]
async fn userinfo_of_another_subject_is_refused() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let err = op
        .accepted_then_refused(&connector, |login| {
            login.userinfo["sub"] = "someone-else".into();
        })
        .await;
    assert!(matches!(err, OidcError::UserinfoSubjectMismatch), "{err}");
}

#[tokio::test]
async fn userinfo_other_than_json_is_refused() {
    let op = TestOp::start().await;
    let connector = op.connector("").await;
    let err = op
        .accepted_then_refused(&connector, |_| op.send_userinfo_as_jwt())
        .await;
    assert!(matches!(err, OidcError::UserinfoResponse(_)), "{err}");
}

// ---------------------------------------------------------------------------
// Discovery and the copy on disk.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn discovery_naming_another_issuer_is_refused() {
    let op = TestOp::start().await;
    op.connector("").await;
    op.set_discovery_issuer("https://other-op.example.fr");
    let err = op.try_connector("").await.unwrap_err();
    assert!(
        matches!(err, OidcSetupError::IssuerMismatch { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn cold_start_with_the_provider_down_uses_the_copy_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("fim-cache.json");
    let with_cache = format!("cache_file = {:?}", cache.display().to_string());
    let op = TestOp::start().await;
    let warm = op.connector(&with_cache).await;
    assert!(cache.exists(), "the good copy is kept on disk");
    drop(warm);

    op.stop().await;
    let err = op.try_connector("").await.unwrap_err();
    assert!(matches!(err, OidcSetupError::Fetch { .. }), "{err}");

    let cold = op.connector(&with_cache).await;
    let (url, _) = cold.authorization_request();
    assert!(url.starts_with(&op.url("/authorize?")), "{url}");

    std::fs::write(&cache, "{ not json").unwrap();
    let err = op.try_connector(&with_cache).await.unwrap_err();
    assert!(matches!(err, OidcSetupError::Unavailable { .. }), "{err}");
    assert!(
        err.to_string().contains(&cache.display().to_string()),
        "the corrupt copy is named: {err}"
    );
}

// ---------------------------------------------------------------------------
// Isolation: a refusal proves the provider alive, an outage opens its breaker.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_refusal_keeps_the_breaker_closed_and_an_outage_opens_it() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("fim-cache.json");
    let extra = format!(
        "cache_file = {:?}\n[resilience]\nfailure_threshold = 1\ncooldown_seconds = 3600",
        cache.display().to_string()
    );
    let op = TestOp::start().await;
    let connector = op.connector(&extra).await;
    let err = op
        .accepted_then_refused(&connector, |login| {
            login.pending.pkce_verifier = "A".repeat(43);
        })
        .await;
    assert!(
        matches!(&err, OidcError::TokenEndpointError { error, .. } if error == "invalid_grant"),
        "{err}"
    );
    assert_eq!(
        connector.guard().breaker().state(),
        BreakerState::Closed,
        "invalid_grant proves the provider alive"
    );

    // The provider goes down; a connector started from the copy on disk
    // (a fresh client: no connection kept from before) cannot reach it.
    op.stop().await;
    let cold = op.connector(&extra).await;
    let begun = op.begin(&cold);
    let err = op.finish(&cold, begun).await.unwrap_err();
    assert!(
        matches!(&err, OidcError::ProviderUnavailable { call: "token", .. }),
        "{err}"
    );
    assert_eq!(cold.guard().breaker().state(), BreakerState::Open);
    let begun = op.begin(&cold);
    let err = op.finish(&cold, begun).await.unwrap_err();
    assert!(
        matches!(&err, OidcError::ProviderUnavailable { call: "token", reason } if reason.contains("circuit breaker")),
        "refused without a call while open: {err}"
    );
}

#[tokio::test]
async fn relative_paths_resolve_against_the_configuration_folder() {
    let op = TestOp::start().await;
    let mut config = op.config(r#"cache_file = "cache/fim.json""#);
    config.resolve_paths(std::path::Path::new("/etc/sso"));
    assert_eq!(
        config.client_secret_file.get_ref(),
        std::path::Path::new("/etc/sso/fim.secret")
    );
    assert_eq!(
        config.cache_file.as_deref(),
        Some(std::path::Path::new("/etc/sso/cache/fim.json"))
    );
}
