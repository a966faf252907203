//! The simulated ÉduConnect OpenID provider, driven by the test playing the
//! gateway as its relying party.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sso_testbed::people;

use crate::common::*;

const VERIFIER: &str = "a-verifier-of-the-test-that-is-long-enough-0123456789";
const ACR_PPT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn issuer(bed: &Bed) -> String {
    bed.url(OP_PATH)
}

/// An authorization request URL with every parameter the gateway sends,
/// `overrides` replacing (or, with `None`, removing) some of them.
fn authorize_url(bed: &Bed, overrides: &[(&str, Option<&str>)]) -> String {
    let challenge = challenge(VERIFIER);
    let mut params: Vec<(&str, Option<&str>)> = vec![
        ("response_type", Some("code")),
        ("client_id", Some(OP_CLIENT_ID)),
        ("redirect_uri", Some(GW_OIDC_CALLBACK)),
        ("scope", Some("openid profile")),
        ("state", Some("st-1")),
        ("nonce", Some("n-1")),
        ("code_challenge", Some(&challenge)),
        ("code_challenge_method", Some("S256")),
    ];
    for (name, value) in overrides {
        match params.iter_mut().find(|(n, _)| n == name) {
            Some(param) => param.1 = *value,
            None => params.push((name, *value)),
        }
    }
    url::Url::parse_with_params(
        &bed.url(&format!("{OP_PATH}/authorize")),
        params.iter().filter_map(|(n, v)| v.map(|v| (*n, v))),
    )
    .unwrap()
    .into()
}

/// Authorization request, account choice: the redirect back to the gateway.
async fn login(bed: &Bed, client: &reqwest::Client, login: &str) -> String {
    let page = client.get(authorize_url(bed, &[])).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("ÉduConnect (simulation) — choisissez un compte"));
    let pending = field(&page, "pending").unwrap();
    let r = client
        .post(form_action(&page))
        .form(&[("pending", pending.as_str()), ("login", login)])
        .send()
        .await
        .unwrap();
    location(&r)
}

/// A code for `login` (a fresh browser each time).
async fn code_for(bed: &Bed, who: &str) -> String {
    let back = login(bed, &browser(), who).await;
    query_params(&back)["code"].clone()
}

fn basic(id: &str, secret: &str) -> String {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", encode(id), encode(secret)))
    )
}

/// A token request with client_secret_basic.
async fn token_request(
    bed: &Bed,
    secret: &str,
    form: &[(&str, &str)],
) -> (reqwest::StatusCode, reqwest::header::HeaderMap, Value) {
    let r = bed
        .client
        .post(bed.url(&format!("{OP_PATH}/token")))
        .header("authorization", basic(OP_CLIENT_ID, secret))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    (status, headers, r.json().await.unwrap())
}

fn exchange<'a>(code: &'a str, verifier: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", GW_OIDC_CALLBACK),
        ("code_verifier", verifier),
    ]
}

async fn userinfo(bed: &Bed, access_token: &str) -> reqwest::Response {
    bed.client
        .get(bed.url(&format!("{OP_PATH}/userinfo")))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
}

async fn published_jwks(bed: &Bed) -> JwkSet {
    serde_json::from_value(get_json(&bed.client, &bed.url(&format!("{OP_PATH}/jwks"))).await)
        .unwrap()
}

fn verify(token: &str, key: &DecodingKey, issuer: &str) -> jsonwebtoken::errors::Result<Value> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[OP_CLIENT_ID]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(token, key, &validation).map(|data| data.claims)
}

#[tokio::test]
async fn discovery_announces_the_code_flow_with_pkce_and_the_iss_parameter() {
    let bed = serve_oidc_and_cas().await;
    let doc = get_json(
        &bed.client,
        &bed.url(&format!("{OP_PATH}/.well-known/openid-configuration")),
    )
    .await;
    let issuer = issuer(&bed);
    assert_eq!(doc["issuer"], json!(issuer));
    assert_eq!(
        doc["authorization_endpoint"],
        json!(format!("{issuer}/authorize"))
    );
    assert_eq!(doc["token_endpoint"], json!(format!("{issuer}/token")));
    assert_eq!(
        doc["userinfo_endpoint"],
        json!(format!("{issuer}/userinfo"))
    );
    assert_eq!(doc["jwks_uri"], json!(format!("{issuer}/jwks")));
    assert_eq!(
        doc["end_session_endpoint"],
        json!(format!("{issuer}/logout"))
    );
    assert_eq!(
        doc["authorization_response_iss_parameter_supported"],
        json!(true)
    );
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );

    let jwks = published_jwks(&bed).await;
    assert_eq!(jwks.keys.len(), 1);
    assert_eq!(jwks.keys[0], *OIDC_KEYS.op.public_jwk());
    assert_eq!(
        jwks.keys[0].common.key_id.as_deref(),
        Some("educonnect-2026")
    );
    let raw = get_json(&bed.client, &bed.url(&format!("{OP_PATH}/jwks"))).await;
    assert_eq!(raw["keys"][0]["kty"], "RSA");
    assert_eq!(raw["keys"][0]["alg"], "RS256");
    assert_eq!(raw["keys"][0]["use"], "sig");
    assert!(raw["keys"][0].get("d").is_none(), "no private part");
    assert_eq!(
        serde_json::to_value(sso_testbed::sim_oidc_op_jwks(&op_config(&bed.base))).unwrap(),
        raw
    );
}

#[tokio::test]
async fn the_code_flow_gives_a_verifiable_id_token_and_the_userinfo_claims() {
    let bed = serve_oidc_and_cas().await;
    let browser = browser();
    let back = login(&bed, &browser, "eleve.louis").await;
    assert!(back.starts_with(&format!("{GW_OIDC_CALLBACK}?")));
    let params = query_params(&back);
    assert_eq!(params["state"], "st-1");
    assert_eq!(params["iss"], issuer(&bed));
    assert!(!params.contains_key("id_token"), "code flow only");

    let (status, headers, tokens) =
        token_request(&bed, OP_CLIENT_SECRET, &exchange(&params["code"], VERIFIER)).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(tokens["token_type"], "Bearer");
    let id_token = tokens["id_token"].as_str().unwrap();

    // Verifies with the published JWKS.
    let jwks = published_jwks(&bed).await;
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let claims = verify(
        id_token,
        &DecodingKey::from_jwk(jwk).unwrap(),
        &issuer(&bed),
    )
    .unwrap();
    assert_eq!(claims["iss"], json!(issuer(&bed)));
    assert_eq!(claims["aud"], json!(OP_CLIENT_ID));
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["acr"], ACR_PPT);
    let now = chrono::Utc::now().timestamp();
    let (iat, exp, auth_time) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
        claims["auth_time"].as_i64().unwrap(),
    );
    assert!(iat <= now + 1 && exp > now && auth_time <= iat);
    let sub = claims["sub"].as_str().unwrap().to_owned();
    assert_eq!(sub.len(), 64);

    // Fails with another key, even under the same kid, and once tampered.
    let foreign = DecodingKey::from_jwk(OIDC_KEYS.attacker.public_jwk()).unwrap();
    assert!(verify(id_token, &foreign, &issuer(&bed)).is_err());
    let mut parts: Vec<String> = id_token.split('.').map(str::to_owned).collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    payload["sub"] = json!("someone-else");
    parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
    let tampered = parts.join(".");
    assert!(
        verify(
            &tampered,
            &DecodingKey::from_jwk(jwk).unwrap(),
            &issuer(&bed)
        )
        .is_err()
    );

    // Userinfo: the domain reference's claim names with the population's values.
    let r = userinfo(&bed, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(r.status(), 200);
    let info: Value = r.json().await.unwrap();
    let louis = people::by_login("eleve.louis").unwrap();
    assert_eq!(info["sub"], json!(sub));
    assert_eq!(info["given_name"], "Louis");
    assert_eq!(info["family_name"], "Martin");
    assert_eq!(info["FrEduCtPersonAffiliation"], json!(["eleve2d"]));
    assert_eq!(info["FrEduCtEleveUAI"], json!(people::COLLEGE_UAI));
    assert_eq!(info["FrEduCtEleveNiveau"], "2111");
    assert_eq!(info["FrEduCtId"], json!(louis.fr_edu_ct_id()));
    assert_eq!(info["FrEduCtRefId"], json!(["{AAF}AC-RENNES||3520001"]));

    let state = get_json(&bed.client, &bed.url(&format!("{OP_PATH}/state.json"))).await;
    assert_eq!(state["tokens_issued"], 1);
    assert_eq!(state["userinfo_calls"], 1);
    assert_eq!(state["sessions"], 1);

    // The OP session answers a second request without the page, with the same
    // subject; prompt=login shows the page again.
    let again = browser
        .get(authorize_url(&bed, &[("state", Some("st-2"))]))
        .send()
        .await
        .unwrap();
    let params = query_params(&location(&again));
    assert_eq!(params["state"], "st-2");
    let (status, _, tokens) =
        token_request(&bed, OP_CLIENT_SECRET, &exchange(&params["code"], VERIFIER)).await;
    assert_eq!(status, 200);
    let claims = verify(
        tokens["id_token"].as_str().unwrap(),
        &DecodingKey::from_jwk(jwk).unwrap(),
        &issuer(&bed),
    )
    .unwrap();
    assert_eq!(claims["sub"], json!(sub));
    let forced = browser
        .get(authorize_url(&bed, &[("prompt", Some("login"))]))
        .send()
        .await
        .unwrap();
    assert_eq!(forced.status(), 200);
    assert!(
        forced
            .text()
            .await
            .unwrap()
            .contains("choisissez un compte")
    );
}

#[tokio::test]
async fn a_parent_gets_both_references_and_no_pupil_claims() {
    let bed = serve_oidc_and_cas().await;
    let code = code_for(&bed, people::PARENT_IN_TWO_ACADEMIES).await;
    let (_, _, tokens) = token_request(&bed, OP_CLIENT_SECRET, &exchange(&code, VERIFIER)).await;
    let info: Value = userinfo(&bed, tokens["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["FrEduCtPersonAffiliation"], json!(["resp2d"]));
    assert_eq!(info["FrEduCtRefId"].as_array().unwrap().len(), 2);
    assert!(info.get("FrEduCtEleveUAI").is_none());
    assert!(info.get("FrEduCtEleveNiveau").is_none());
}

#[tokio::test]
async fn an_unregistered_client_or_redirect_uri_gets_an_error_page_and_no_redirect() {
    let bed = serve_oidc_and_cas().await;
    let ok = bed
        .client
        .get(authorize_url(&bed, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    for (overrides, reason) in [
        (
            vec![(
                "redirect_uri",
                Some("https://gateway.test/oidc/educonnect/callback/x"),
            )],
            "redirect_uri",
        ),
        (
            vec![("redirect_uri", Some("https://evil.test/cb"))],
            "redirect_uri",
        ),
        (vec![("redirect_uri", None)], "redirect_uri"),
        (
            vec![("client_id", Some("another-client"))],
            "not registered",
        ),
        (vec![("client_id", None)], "client_id"),
    ] {
        let r = bed
            .client
            .get(authorize_url(&bed, &overrides))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{overrides:?}");
        assert!(r.headers().get("location").is_none());
        let page = r.text().await.unwrap();
        assert!(page.contains(reason), "{overrides:?}: {page}");
        assert!(page.contains("<html lang=\"fr\">"));
    }
    // A repeated parameter is refused too.
    let repeated = format!(
        "{}&redirect_uri=https%3A%2F%2Fevil.test%2Fcb",
        authorize_url(&bed, &[])
    );
    assert_eq!(bed.client.get(repeated).send().await.unwrap().status(), 400);
}

#[tokio::test]
async fn pkce_s256_is_required_and_other_request_errors_go_back_with_state_and_iss() {
    let bed = serve_oidc_and_cas().await;
    for (overrides, error, says) in [
        (vec![("code_challenge", None)], "invalid_request", "PKCE"),
        (
            vec![("code_challenge_method", None)],
            "invalid_request",
            "S256",
        ),
        (
            vec![("code_challenge_method", Some("plain"))],
            "invalid_request",
            "plain",
        ),
        (
            vec![("code_challenge", Some("too-short"))],
            "invalid_request",
            "code_challenge",
        ),
        (
            vec![("response_type", Some("id_token"))],
            "unsupported_response_type",
            "id_token",
        ),
        (vec![("scope", Some("profile"))], "invalid_scope", "openid"),
        (
            vec![("prompt", Some("none"))],
            "login_required",
            "not logged in",
        ),
    ] {
        let r = bed
            .client
            .get(authorize_url(&bed, &overrides))
            .send()
            .await
            .unwrap();
        let back = location(&r);
        assert!(back.starts_with(GW_OIDC_CALLBACK), "{overrides:?}");
        let params = query_params(&back);
        assert_eq!(params["error"], error, "{overrides:?}");
        assert!(
            params["error_description"].contains(says),
            "{overrides:?}: {params:?}"
        );
        assert_eq!(params["state"], "st-1");
        assert_eq!(params["iss"], issuer(&bed));
        assert!(!params.contains_key("code"));
    }
}

#[tokio::test]
async fn a_code_is_used_once_and_its_reuse_revokes_the_access_token() {
    let bed = serve_oidc_and_cas().await;
    let code = code_for(&bed, "eleve.lea").await;
    let (status, _, tokens) =
        token_request(&bed, OP_CLIENT_SECRET, &exchange(&code, VERIFIER)).await;
    assert_eq!(status, 200);
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&bed, access_token).await.status(), 200);

    let (status, _, error) =
        token_request(&bed, OP_CLIENT_SECRET, &exchange(&code, VERIFIER)).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"], "invalid_grant");
    assert!(
        error["error_description"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    let revoked = userinfo(&bed, access_token).await;
    assert_eq!(revoked.status(), 401);
    assert!(
        revoked.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );

    let (status, _, error) =
        token_request(&bed, OP_CLIENT_SECRET, &exchange("no-such-code", VERIFIER)).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"], "invalid_grant");
    let bare = bed
        .client
        .get(bed.url(&format!("{OP_PATH}/userinfo")))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 401);
}

#[tokio::test]
async fn the_code_is_bound_to_the_verifier_and_the_redirect_uri() {
    let bed = serve_oidc_and_cas().await;
    // Positive control.
    let code = code_for(&bed, "eleve.lea").await;
    let (status, _, _) = token_request(&bed, OP_CLIENT_SECRET, &exchange(&code, VERIFIER)).await;
    assert_eq!(status, 200);

    // Another verifier (well-formed), then one of the wrong syntax.
    let code = code_for(&bed, "eleve.lea").await;
    let other = "another-verifier-of-the-test-that-is-long-enough-987";
    let (status, _, body) = token_request(&bed, OP_CLIENT_SECRET, &exchange(&code, other)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("does not match")
    );
    let code = code_for(&bed, "eleve.lea").await;
    let (status, _, body) = token_request(&bed, OP_CLIENT_SECRET, &exchange(&code, "short")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");

    let code = code_for(&bed, "eleve.lea").await;
    let (status, _, body) = token_request(
        &bed,
        OP_CLIENT_SECRET,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://evil.test/cb"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("redirect_uri")
    );

    let code = code_for(&bed, "eleve.lea").await;
    let (status, _, body) = token_request(
        &bed,
        OP_CLIENT_SECRET,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", GW_OIDC_CALLBACK),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("code_verifier")
    );
}

#[tokio::test]
async fn the_client_authenticates_with_basic_or_post_but_not_both_nor_with_a_wrong_secret() {
    let bed = serve_oidc_and_cas().await;
    let token_url = bed.url(&format!("{OP_PATH}/token"));
    let code = code_for(&bed, "eleve.emma").await;

    // A wrong secret (Basic): refused, the code left untouched.
    let (status, headers, body) = token_request(&bed, "wrong", &exchange(&code, VERIFIER)).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    // Another client id.
    let r = bed
        .client
        .post(&token_url)
        .header("authorization", basic("another-client", OP_CLIENT_SECRET))
        .form(&exchange(&code, VERIFIER))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // No authentication at all.
    let r = bed
        .client
        .post(&token_url)
        .form(&exchange(&code, VERIFIER))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Both methods at once.
    let mut both = exchange(&code, VERIFIER);
    both.extend([
        ("client_id", OP_CLIENT_ID),
        ("client_secret", OP_CLIENT_SECRET),
    ]);
    let (status, _, body) = token_request(&bed, OP_CLIENT_SECRET, &both).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");
    // A wrong secret (post).
    let mut posted = exchange(&code, VERIFIER);
    posted.extend([("client_id", OP_CLIENT_ID), ("client_secret", "wrong")]);
    let r = bed
        .client
        .post(&token_url)
        .form(&posted)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // The right secret with client_secret_post redeems the same code.
    let mut posted = exchange(&code, VERIFIER);
    posted.extend([
        ("client_id", OP_CLIENT_ID),
        ("client_secret", OP_CLIENT_SECRET),
    ]);
    let r = bed
        .client
        .post(&token_url)
        .form(&posted)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let tokens: Value = r.json().await.unwrap();
    assert!(tokens["id_token"].is_string());
}

#[tokio::test]
async fn logout_ends_the_session_and_redirects_only_to_a_registered_uri() {
    let bed = serve_oidc_and_cas().await;
    let browser = browser();
    let back = login(&bed, &browser, "eleve.lea").await;
    let code = query_params(&back)["code"].clone();
    let (_, _, tokens) = token_request(&bed, OP_CLIENT_SECRET, &exchange(&code, VERIFIER)).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let logout = bed.url(&format!("{OP_PATH}/logout"));
    let home = bed.url(OP_PATH);
    assert!(
        browser
            .get(&home)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("Léa Martin")
    );

    // Unregistered target, and a hint signed by another key: refused, session kept.
    let r = browser
        .get(with_query(
            &logout,
            &[("post_logout_redirect_uri", "https://evil.test/")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("post_logout_redirect_uri"));
    let forged = OIDC_KEYS
        .attacker
        .sign(
            "JWT",
            &json!({"iss": issuer(&bed), "aud": OP_CLIENT_ID, "sub": "x", "exp": 0, "iat": 0}),
        )
        .unwrap();
    let r = browser
        .get(with_query(
            &logout,
            &[
                ("id_token_hint", forged.as_str()),
                ("post_logout_redirect_uri", GW_AFTER_LOGOUT),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        browser
            .get(&home)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("Léa Martin")
    );

    // The registered target with the genuine hint.
    let r = browser
        .get(with_query(
            &logout,
            &[
                ("id_token_hint", id_token),
                ("post_logout_redirect_uri", GW_AFTER_LOGOUT),
                ("client_id", OP_CLIENT_ID),
                ("state", "bye"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), format!("{GW_AFTER_LOGOUT}?state=bye"));
    assert!(
        browser
            .get(&home)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("pas connecté")
    );
    let state = get_json(&bed.client, &bed.url(&format!("{OP_PATH}/state.json"))).await;
    assert_eq!(state["sessions"], 0);
    assert_eq!(state["logouts"], 1);
    // The next authorization request shows the account page again.
    let r = browser.get(authorize_url(&bed, &[])).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Without a target: the logout page.
    let r = browser.get(&logout).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Vous êtes déconnecté d’ÉduConnect")
    );
}
