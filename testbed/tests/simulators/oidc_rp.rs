//! The simulated OIDC resource: its ID-token and logout-token checks against
//! tokens the test signs, then a whole login through the simulated ÉduConnect
//! OpenID provider, back-channel logout and RP-initiated logout.

use std::sync::LazyLock;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::PKey;
use serde_json::{Value, json};
use sso_testbed::oidc_rp::{
    BACKCHANNEL_LOGOUT_EVENT, Expected, RpError, check_id_token, check_logout_token,
};

use crate::common::*;

const ISSUER: &str = "https://gateway.test/oidc";
const CLIENT: &str = "resource-oidc";
const NOW: i64 = 1_790_000_000;

/// The gateway's keys as the test plays it: an RSA key and a P-256 key.
struct GatewayKeys {
    ec: EncodingKey,
    ec_jwk: Jwk,
    other_ec: EncodingKey,
}

static GW: LazyLock<GatewayKeys> = LazyLock::new(|| {
    let ec_pem = || {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        PKey::from_ec_key(EcKey::generate(&group).unwrap())
            .unwrap()
            .private_key_to_pem_pkcs8()
            .unwrap()
    };
    let ec = EncodingKey::from_ec_pem(&ec_pem()).unwrap();
    let mut ec_jwk = Jwk::from_encoding_key(&ec, Algorithm::ES256).unwrap();
    ec_jwk.common.key_id = Some("gw-ec".to_owned());
    GatewayKeys {
        ec,
        ec_jwk,
        other_ec: EncodingKey::from_ec_pem(&ec_pem()).unwrap(),
    }
});

/// A mutation: its name, the mutated claims, and the refusal expected.
type Case = (&'static str, Value, fn(&RpError) -> bool);

fn jwks() -> JwkSet {
    JwkSet {
        keys: vec![OIDC_KEYS.op.public_jwk().clone(), GW.ec_jwk.clone()],
    }
}

fn expected() -> Expected<'static> {
    Expected {
        issuer: ISSUER,
        client_id: CLIENT,
        now: NOW,
    }
}

fn id_claims() -> Value {
    json!({
        "iss": ISSUER, "sub": "ido-1", "aud": CLIENT, "exp": NOW + 300, "iat": NOW,
        "nonce": "n-1", "sid": "sid-1", "UAI": "0359991V",
    })
}

fn rs256(claims: &Value) -> String {
    OIDC_KEYS.op.sign("JWT", claims).unwrap()
}

fn es256(claims: &Value, kid: Option<&str>, key: &EncodingKey) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

fn without(mut claims: Value, name: &str) -> Value {
    claims.as_object_mut().unwrap().remove(name);
    claims
}

fn check(token: &str) -> Result<sso_testbed::oidc_rp::IdToken, RpError> {
    check_id_token(token, &jwks(), &expected(), "n-1")
}

#[test]
fn an_id_token_signed_rs256_or_es256_by_the_provider_is_accepted() {
    let token = check(&rs256(&id_claims())).unwrap();
    assert_eq!(token.sub, "ido-1");
    assert_eq!(token.sid.as_deref(), Some("sid-1"));
    assert_eq!(token.claims["UAI"], "0359991V");
    let token = check(&es256(&id_claims(), Some("gw-ec"), &GW.ec)).unwrap();
    assert_eq!(token.sub, "ido-1");
    // Without kid, the only key of the algorithm's type is used.
    check(&es256(&id_claims(), None, &GW.ec)).unwrap();
    // Several audiences with azp = this client.
    let several = with(id_claims(), "aud", json!([CLIENT, "another"]));
    check(&rs256(&with(several, "azp", json!(CLIENT)))).unwrap();
}

#[test]
fn each_id_token_check_refuses_its_own_mutation() {
    let cases: Vec<Case> = vec![
        (
            "iss",
            with(id_claims(), "iss", json!("https://evil.test")),
            |e| matches!(e, RpError::Issuer { .. }),
        ),
        (
            "aud",
            with(id_claims(), "aud", json!("another-client")),
            |e| matches!(e, RpError::Audience { .. }),
        ),
        (
            "aud array",
            with(id_claims(), "aud", json!(["a", "b"])),
            |e| matches!(e, RpError::Audience { .. }),
        ),
        (
            "azp missing",
            with(id_claims(), "aud", json!([CLIENT, "another"])),
            |e| matches!(e, RpError::AuthorizedParty { found: None, .. }),
        ),
        (
            "azp other",
            with(id_claims(), "azp", json!("another")),
            |e| matches!(e, RpError::AuthorizedParty { found: Some(_), .. }),
        ),
        ("nonce", with(id_claims(), "nonce", json!("n-2")), |e| {
            matches!(e, RpError::Nonce { found: Some(_) })
        }),
        ("no nonce", without(id_claims(), "nonce"), |e| {
            matches!(e, RpError::Nonce { found: None })
        }),
        ("expired", with(id_claims(), "exp", json!(NOW - 61)), |e| {
            matches!(e, RpError::Expired { .. })
        }),
        ("future", with(id_claims(), "iat", json!(NOW + 61)), |e| {
            matches!(e, RpError::IssuedInFuture { .. })
        }),
        ("no exp", without(id_claims(), "exp"), |e| {
            matches!(e, RpError::Claims { .. })
        }),
        ("no sub", without(id_claims(), "sub"), |e| {
            matches!(e, RpError::Claims { .. })
        }),
    ];
    for (what, claims, is_expected) in cases {
        let err = check(&rs256(&claims)).unwrap_err();
        assert!(is_expected(&err), "{what}: {err}");
    }
    // Within the clock skew: accepted.
    check(&rs256(&with(id_claims(), "exp", json!(NOW - 59)))).unwrap();
}

#[test]
fn only_rs256_and_es256_signatures_of_the_providers_keys_are_accepted() {
    // HS256 (the classic algorithm confusion): refused by alg.
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &id_claims(),
        &EncodingKey::from_secret(b"any secret"),
    )
    .unwrap();
    assert!(matches!(
        check(&hs),
        Err(RpError::Algorithm {
            alg: Algorithm::HS256,
            ..
        })
    ));
    // PS256 with the provider's own RSA key: refused by alg.
    let mut header = Header::new(Algorithm::PS256);
    header.kid = Some(OIDC_KEYS.op.kid().to_owned());
    let ps = jsonwebtoken::encode(
        &header,
        &id_claims(),
        &EncodingKey::from_rsa_pem(OIDC_KEYS.op.private_key_pem()).unwrap(),
    )
    .unwrap();
    assert!(matches!(
        check(&ps),
        Err(RpError::Algorithm {
            alg: Algorithm::PS256,
            ..
        })
    ));
    // alg "none": not even a readable header.
    let none = format!(
        "eyJhbGciOiJub25lIn0.{}.",
        rs256(&id_claims()).split('.').nth(1).unwrap()
    );
    assert!(check(&none).is_err());
    // Signed by another key under the provider's kid.
    let foreign = OIDC_KEYS.attacker.sign("JWT", &id_claims()).unwrap();
    assert!(matches!(check(&foreign), Err(RpError::Signature { .. })));
    let foreign = es256(&id_claims(), Some("gw-ec"), &GW.other_ec);
    assert!(matches!(check(&foreign), Err(RpError::Signature { .. })));
    // An ES256 header naming the RSA key, and an unknown kid.
    let mismatch = es256(&id_claims(), Some(OIDC_KEYS.op.kid()), &GW.ec);
    assert!(matches!(check(&mismatch), Err(RpError::NoKey { .. })));
    let unknown = es256(&id_claims(), Some("nope"), &GW.ec);
    assert!(matches!(check(&unknown), Err(RpError::NoKey { .. })));
    // Tampered payload.
    let genuine = rs256(&id_claims());
    let parts: Vec<&str> = genuine.split('.').collect();
    let other = rs256(&with(id_claims(), "sub", json!("someone-else")));
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        other.split('.').nth(1).unwrap(),
        parts[2]
    );
    assert!(matches!(check(&tampered), Err(RpError::Signature { .. })));
}

fn logout_claims() -> Value {
    json!({
        "iss": ISSUER, "aud": CLIENT, "iat": NOW, "exp": NOW + 120, "jti": "j-1",
        "sid": "sid-1", "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
    })
}

#[test]
fn each_logout_token_check_refuses_its_own_mutation() {
    let jwks = jwks();
    let check = |claims: &Value| {
        check_logout_token(
            &OIDC_KEYS.op.sign("logout+jwt", claims).unwrap(),
            &jwks,
            &expected(),
        )
    };
    let token = check(&logout_claims()).unwrap();
    assert_eq!(token.sid.as_deref(), Some("sid-1"));
    assert_eq!(token.jti, "j-1");
    check(&without(
        with(logout_claims(), "sub", json!("ido-1")),
        "sid",
    ))
    .unwrap();

    let cases: Vec<Case> = vec![
        (
            "iss",
            with(logout_claims(), "iss", json!("https://evil.test")),
            |e| matches!(e, RpError::Issuer { .. }),
        ),
        ("aud", with(logout_claims(), "aud", json!("another")), |e| {
            matches!(e, RpError::Audience { .. })
        }),
        (
            "no event",
            with(logout_claims(), "events", json!({})),
            |e| matches!(e, RpError::NoLogoutEvent),
        ),
        (
            "event not an object",
            with(
                logout_claims(),
                "events",
                json!({ BACKCHANNEL_LOGOUT_EVENT: "yes" }),
            ),
            |e| matches!(e, RpError::NoLogoutEvent),
        ),
        ("nonce", with(logout_claims(), "nonce", json!("n")), |e| {
            matches!(e, RpError::LogoutNonce)
        }),
        ("no sid nor sub", without(logout_claims(), "sid"), |e| {
            matches!(e, RpError::NoSidNorSub)
        }),
        ("no jti", without(logout_claims(), "jti"), |e| {
            matches!(e, RpError::Claims { .. })
        }),
        ("no iat", without(logout_claims(), "iat"), |e| {
            matches!(e, RpError::Claims { .. })
        }),
        (
            "expired",
            with(logout_claims(), "exp", json!(NOW - 61)),
            |e| matches!(e, RpError::Expired { .. }),
        ),
    ];
    for (what, claims, is_expected) in cases {
        let err = check(&claims).unwrap_err();
        assert!(is_expected(&err), "{what}: {err}");
    }
    let foreign = OIDC_KEYS
        .attacker
        .sign("logout+jwt", &logout_claims())
        .unwrap();
    assert!(matches!(
        check_logout_token(&foreign, &jwks, &expected()),
        Err(RpError::Signature { .. })
    ));
}

async fn rp_state(bed: &Bed) -> Value {
    get_json(&bed.client, &bed.url(&format!("{RP_PATH}/state.json"))).await
}

/// The browser logs in to the resource through the simulated provider
/// (choosing `who` unless the provider's session answers at once); returns
/// the redirect to the resource's callback.
async fn login_through_provider(bed: &Bed, browser: &reqwest::Client, who: &str) -> String {
    let r = browser
        .get(bed.url(&format!("{RP_PATH}/login")))
        .send()
        .await
        .unwrap();
    let to_op = location(&r);
    assert!(to_op.starts_with(&bed.url(&format!("{OP_PATH}/authorize?"))));
    let params = query_params(&to_op);
    assert_eq!(params["client_id"], OP_CLIENT_ID);
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["code_challenge"].len(), 43);
    assert!(params["scope"].split(' ').any(|s| s == "openid"));
    assert!(params.contains_key("state") && params.contains_key("nonce"));
    let r = browser.get(&to_op).send().await.unwrap();
    if r.status().is_redirection() {
        // The provider's session answers without the page.
        return location(&r);
    }
    let page = r.text().await.unwrap();
    let pending = field(&page, "pending").unwrap();
    let r = browser
        .post(form_action(&page))
        .form(&[("pending", pending.as_str()), ("login", who)])
        .send()
        .await
        .unwrap();
    location(&r)
}

async fn post_logout_token(bed: &Bed, token: &str) -> reqwest::Response {
    bed.client
        .post(bed.url(&format!("{RP_PATH}/backchannel")))
        .form(&[("logout_token", token)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_resource_logs_in_through_the_simulated_provider_and_obeys_back_channel_logout() {
    let bed = serve_oidc_and_cas().await;
    let browser = browser();
    let back = login_through_provider(&bed, &browser, "eleve.jade").await;
    assert!(back.starts_with(&bed.url(&format!("{RP_PATH}/callback?"))));
    let r = browser.get(&back).send().await.unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let page = browser
        .get(bed.url(RP_PATH))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Connecté"));
    assert!(page.contains("0359992W"));
    assert!(page.contains("eleve2d"));
    let state = rp_state(&bed).await;
    assert_eq!(state["logins"], 1);
    assert_eq!(state["sessions"], 1);
    assert_eq!(state["last_attributes"]["given_name"], "Jade");
    let sub = state["last_user"].as_str().unwrap().to_owned();

    // The callback cannot be replayed (its state is consumed).
    let r = browser.get(&back).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("state"));

    // Back-channel logout: a mutated token is refused and ends nothing...
    let issuer = bed.url(OP_PATH);
    let claims = json!({
        "iss": issuer, "aud": OP_CLIENT_ID, "sub": sub, "jti": "jti-1",
        "iat": chrono::Utc::now().timestamp(), "exp": chrono::Utc::now().timestamp() + 120,
        "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
    });
    for bad in [
        with(claims.clone(), "aud", json!("another-client")),
        with(claims.clone(), "nonce", json!("n")),
        with(claims.clone(), "events", json!({})),
    ] {
        let r = post_logout_token(&bed, &OIDC_KEYS.op.sign("logout+jwt", &bad).unwrap()).await;
        assert_eq!(r.status(), 400);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
    }
    let forged = OIDC_KEYS.attacker.sign("logout+jwt", &claims).unwrap();
    assert_eq!(post_logout_token(&bed, &forged).await.status(), 400);
    assert_eq!(rp_state(&bed).await["sessions"], 1);

    // ...the genuine one ends the session, and cannot be replayed.
    let genuine = OIDC_KEYS.op.sign("logout+jwt", &claims).unwrap();
    let r = post_logout_token(&bed, &genuine).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let state = rp_state(&bed).await;
    assert_eq!(state["sessions"], 0);
    assert_eq!(state["logouts_received"], 1);
    let page = browser
        .get(bed.url(RP_PATH))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Se connecter"));
    let r = post_logout_token(&bed, &genuine).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("already received"));
}

#[tokio::test]
async fn the_callback_checks_state_browser_and_iss() {
    let bed = serve_oidc_and_cas().await;
    let browser = browser();
    let back = login_through_provider(&bed, &browser, "eleve.emma").await;
    let params = query_params(&back);
    let callback = bed.url(&format!("{RP_PATH}/callback"));
    let with_params = |pairs: &[(&str, &str)]| with_query(&callback, pairs);

    // Another browser presenting this response: refused (and the state is spent).
    let r = bed.client.get(&back).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("another browser"));

    // A fresh login; the response with another iss, then without iss: refused.
    let back = login_through_provider(&bed, &browser, "eleve.emma").await;
    let params2 = query_params(&back);
    let r = browser
        .get(with_params(&[
            ("code", &params2["code"]),
            ("state", &params2["state"]),
            ("iss", "https://evil.test"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("iss"));
    let back = login_through_provider(&bed, &browser, "eleve.emma").await;
    let params3 = query_params(&back);
    let r = browser
        .get(with_params(&[
            ("code", &params3["code"]),
            ("state", &params3["state"]),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("no iss"));

    // An unknown state.
    let r = browser
        .get(with_params(&[
            ("code", &params["code"]),
            ("state", "forged"),
            ("iss", &params["iss"]),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Positive control: the untouched response of a fresh login is accepted.
    let back = login_through_provider(&bed, &browser, "eleve.emma").await;
    let r = browser.get(&back).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(rp_state(&bed).await["logins"], 1);
}

#[tokio::test]
async fn rp_initiated_logout_goes_through_the_provider_and_back() {
    let bed = serve_oidc_and_cas().await;
    let browser = browser();
    let back = login_through_provider(&bed, &browser, "parent.martin").await;
    assert_eq!(browser.get(&back).send().await.unwrap().status(), 303);
    let r = browser
        .get(bed.url(&format!("{RP_PATH}/logout")))
        .send()
        .await
        .unwrap();
    let to_op = location(&r);
    assert!(to_op.starts_with(&bed.url(&format!("{OP_PATH}/logout?"))));
    let params = query_params(&to_op);
    assert_eq!(params["post_logout_redirect_uri"], bed.url(RP_PATH));
    assert!(params.contains_key("id_token_hint"));
    let r = browser.get(&to_op).send().await.unwrap();
    assert_eq!(location(&r), bed.url(RP_PATH));
    assert_eq!(rp_state(&bed).await["sessions"], 0);
    let op_state = get_json(&bed.client, &bed.url(&format!("{OP_PATH}/state.json"))).await;
    assert_eq!(op_state["sessions"], 0);
    assert_eq!(op_state["logouts"], 1);
}
