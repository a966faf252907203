//! The gateway as OpenID Connect provider, end to end through HTTP. A
//! pupil logged in over SAML opens the demo's OIDC resource (the testbed's
//! relying party) and its CAS resource with no second login, each with the
//! same attribute values and its own identifier, and logout reaches the
//! SAML, CAS and OIDC participants. The security rules are checked with the
//! test playing the relying party (plain HTTP and a listener for
//! back-channel logout tokens); every refusal comes after its positive
//! control.

#![cfg(test)]

mod common;

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Browser, Stack, login_at_ent};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};
use sha2::Digest as _;

const SECRET: &str = "secret+of/the test%relying=party&0123456789";

/// A listener standing for the relying parties' host: it records the
/// logout tokens POSTed to `/backchannel`.
struct RpHost {
    base: String,
    logout_tokens: Arc<Mutex<Vec<String>>>,
}

async fn rp_host() -> RpHost {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let logout_tokens = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&logout_tokens);
    let router = axum::Router::new().route(
        "/backchannel",
        axum::routing::post(
            move |axum::extract::Form(form): axum::extract::Form<Vec<(String, String)>>| {
                let seen = Arc::clone(&seen);
                async move {
                    for (name, value) in form {
                        if name == "logout_token" {
                            seen.lock().unwrap().push(value);
                        }
                    }
                    "ok"
                }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    RpHost {
        base,
        logout_tokens,
    }
}

fn sha256_hex(text: &str) -> String {
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// The private key (PKCS#8 PEM) and public JWKS of a `private_key_jwt` client.
fn client_key() -> (Vec<u8>, String) {
    let group = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
    let key = openssl::pkey::PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap())
        .unwrap()
        .private_key_to_pem_pkcs8()
        .unwrap();
    let encoding = EncodingKey::from_ec_pem(&key).unwrap();
    let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&encoding, Algorithm::ES256).unwrap();
    jwk.common.key_id = Some("rp-jwt-1".into());
    let jwks = serde_json::to_string(&json!({ "keys": [jwk] })).unwrap();
    (key, jwks)
}

/// Three test clients on the host: confidential (secret, basic, RS256 ID
/// tokens, back-channel logout), public (PKCE, no secret) and
/// `private_key_jwt`.
fn clients(host: &str, jwks: &str) -> Vec<(String, String)> {
    let release = "[release]\nattributes = [\"IDO\", \"UAI\", \"PRO\", \"DIV\"]\n";
    vec![
        (
            "rp-test.toml".into(),
            format!(
                "id = \"rp-test\"\ndisplay_name = \"Client OIDC de test\"\nkind = \"ent\"\n\n[oidc]\nclient_id = \"rp-test\"\nclient_secret_sha256 = \"{}\"\nredirect_uris = [\"{host}/cb\"]\npost_logout_redirect_uris = [\"{host}/bye\"]\nbackchannel_logout_uri = \"{host}/backchannel\"\nid_token_signed_response_alg = \"RS256\"\nrequire_pkce = false\n\n{release}",
                sha256_hex(SECRET)
            ),
        ),
        (
            "rp-public.toml".into(),
            format!(
                "id = \"rp-public\"\ndisplay_name = \"Client OIDC public\"\nkind = \"ent\"\n\n[oidc]\nclient_id = \"rp-public\"\nclient_type = \"public\"\nredirect_uris = [\"{host}/public\"]\n\n{release}"
            ),
        ),
        (
            "rp-jwt.toml".into(),
            format!(
                "id = \"rp-jwt\"\ndisplay_name = \"Client OIDC à clé\"\nkind = \"ent\"\n\n[oidc]\nclient_id = \"rp-jwt\"\ntoken_endpoint_auth_method = \"private_key_jwt\"\njwks_file = \"rp-jwt.jwks.json\"\nredirect_uris = [\"{host}/jwt\"]\n\n{release}"
            ),
        ),
        ("rp-jwt.jwks.json".into(), jwks.to_owned()),
    ]
}

struct Fixture {
    stack: Stack,
    host: RpHost,
    client_key: Vec<u8>,
}

async fn fixture(redis: bool) -> Fixture {
    let host = rp_host().await;
    let (client_key, jwks) = client_key();
    let extra = clients(&host.base, &jwks);
    let stack = if redis {
        Stack::redis_with(extra).await
    } else {
        Stack::memory_with(extra).await
    };
    Fixture {
        stack,
        host,
        client_key,
    }
}

fn encoded(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The query parameters of a URL.
fn params(url: &str) -> std::collections::HashMap<String, String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// `/oidc/authorize` with these parameters (values encoded here).
fn authorize_url(stack: &Stack, parameters: &[(&str, &str)]) -> String {
    let query: Vec<String> = parameters
        .iter()
        .map(|(name, value)| format!("{name}={}", encoded(value)))
        .collect();
    stack.url(&format!("/oidc/authorize?{}", query.join("&")))
}

fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

const VERIFIER: &str = "a-pkce-verifier-of-the-test-relying-party-0123456789";

/// A code for `rp-test` in the browser's session, with `nonce` and `state`.
async fn code_for_rp_test(f: &Fixture, browser: &mut Browser) -> String {
    let redirect = format!("{}/cb", f.host.base);
    let target = browser
        .redirect_target(&authorize_url(
            &f.stack,
            &[
                ("response_type", "code"),
                ("client_id", "rp-test"),
                ("redirect_uri", &redirect),
                ("scope", "openid"),
                ("state", "st-1"),
                ("nonce", "n-1"),
            ],
        ))
        .await;
    assert!(target.starts_with(&redirect), "{target}");
    let answer = params(&target);
    assert_eq!(answer["state"], "st-1");
    assert_eq!(answer["iss"], f.stack.stack.base_url, "RFC 9207 iss");
    answer["code"].clone()
}

/// A token request; returns the status and the JSON answer.
async fn token(stack: &Stack, basic: Option<(&str, &str)>, form: &[(&str, &str)]) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(stack.url("/oidc/token"))
        .form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn exchange_rp_test(f: &Fixture, code: &str, secret: &str) -> (u16, Value) {
    let redirect = format!("{}/cb", f.host.base);
    token(
        &f.stack,
        Some(("rp-test", secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect),
        ],
    )
    .await
}

async fn userinfo(stack: &Stack, access_token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(stack.url("/oidc/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn jwks(stack: &Stack) -> JwkSet {
    reqwest::get(stack.url("/oidc/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Verifies a JWT of the gateway with its published keys.
async fn verify(stack: &Stack, token: &str, audience: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    let keys = jwks(stack).await;
    let jwk = keys.find(header.kid.as_deref().unwrap()).unwrap();
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[&stack.stack.base_url]);
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap()
        .claims
}

#[tokio::test]
async fn discovery_and_keys_describe_the_provider() {
    let stack = Stack::memory().await;
    let discovery: Value = reqwest::get(stack.url("/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], stack.stack.base_url);
    assert_eq!(
        discovery["token_endpoint"],
        stack.url("/oidc/token").as_str()
    );
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(discovery["response_types_supported"], json!(["code"]));
    assert_eq!(
        discovery["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(["ES256", "RS256"])
    );
    let keys = jwks(&stack).await;
    let kids: Vec<_> = keys
        .keys
        .iter()
        .map(|k| k.common.key_id.clone().unwrap())
        .collect();
    assert_eq!(kids, ["es256-2026-11", "rs256-2026-11"]);
    let published = serde_json::to_string(&keys).unwrap();
    assert!(!published.contains("\"d\""), "no private member");
}

/// The demo's OIDC resource (the testbed relying party, which checks the
/// ID token, userinfo and logout tokens itself) opened from the
/// médiacentre after a SAML login, with the CAS resource beside it.
async fn every_protocol_one_login(redis: bool) {
    let stack = if redis {
        Stack::redis().await
    } else {
        Stack::memory().await
    };
    let mut pupil = Browser::new();
    login_at_ent(&stack, &mut pupil, "educonnect", "eleve.louis").await;
    let ent = stack.sp_state("ent").await["last_attributes"].clone();

    pupil.visited.clear();
    let page = pupil
        .open(&stack.url("/mediacentre/ouvrir/labo-sciences-oidc"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(pupil.went_through("/oidc/authorize"), "{:?}", pupil.visited);
    assert!(
        !pupil.went_through("/testbed/educonnect"),
        "no second login"
    );
    let labo = stack.sp_state("labo").await;
    assert_eq!(labo["logins"], 1, "{labo}");
    let claims = &labo["last_attributes"];
    assert_eq!(claims["UAI"], ent["UAI"], "{labo}");
    assert_eq!(claims["DIV"], ent["DIV"], "{labo}");
    assert_eq!(claims["PRO"], json!(["National_ELV"]));
    assert_eq!(claims["IDO"][0], labo["last_user"], "IDO is its sub");
    assert_ne!(labo["last_user"], ent["IDO"][0], "its own identifier");

    let page = pupil
        .open(&stack.url("/mediacentre/ouvrir/atlas-cas"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let atlas = stack.sp_state("atlas").await;
    for name in ["UAI", "DIV", "PRO"] {
        assert_eq!(atlas["last_attributes"][name], claims[name], "{name}");
    }
    assert_ne!(atlas["last_user"], labo["last_user"]);

    let page = pupil.open(&stack.url("/logout")).await;
    for name in [
        "Laboratoire virtuel de sciences",
        "Atlas interactif de géographie",
        "ENT du collège",
    ] {
        assert!(page.body.contains(name), "{name}: {}", page.body);
    }
    assert_eq!(stack.sp_state("labo").await["logouts_received"], 1);
    assert_eq!(stack.sp_state("atlas").await["logouts_received"], 1);
    assert_eq!(stack.sp_state("ent").await["logouts_received"], 1);
}

#[tokio::test]
async fn one_saml_login_opens_the_oidc_and_cas_resources_and_logout_reaches_all_in_memory() {
    every_protocol_one_login(false).await;
}

#[tokio::test]
async fn one_saml_login_opens_the_oidc_and_cas_resources_and_logout_reaches_all_on_redis() {
    every_protocol_one_login(true).await;
}

#[tokio::test]
async fn redirect_uris_match_exactly_and_unknown_clients_get_no_redirect() {
    let f = fixture(false).await;
    let mut browser = Browser::new();
    login_at_ent(&f.stack, &mut browser, "educonnect", "eleve.louis").await;
    // Positive control.
    code_for_rp_test(&f, &mut browser).await;
    let registered = format!("{}/cb", f.host.base);
    let port = f.host.base.rsplit(':').next().unwrap().to_owned();
    for variant in [
        format!("{registered}/"),
        format!("{registered}?x=1"),
        format!("{registered}#f"),
        registered.replace("/cb", "/CB"),
        registered.replace("/cb", "/x/../cb"),
        registered.replace("127.0.0.1", "localhost"),
        registered.replace(&port, "1"),
        registered.replace("http:", "https:"),
        registered.replace("127.0.0.1", "127.0.0.1@evil.example"),
        registered.replace("://", "://evil.example@"),
        registered.replace("/cb", "/%63b"),
    ] {
        let response = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(authorize_url(
                &f.stack,
                &[
                    ("response_type", "code"),
                    ("client_id", "rp-test"),
                    ("redirect_uri", &variant),
                    ("scope", "openid"),
                ],
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400, "{variant}");
        assert!(response.headers().get("location").is_none(), "{variant}");
    }
    let unknown = reqwest::get(authorize_url(
        &f.stack,
        &[
            ("response_type", "code"),
            ("client_id", "nobody"),
            ("redirect_uri", &registered),
            ("scope", "openid"),
        ],
    ))
    .await
    .unwrap();
    assert!(unknown.status().is_client_error());
    let body = unknown.text().await.unwrap();
    assert!(body.contains("lang=\"fr\""), "a French page: {body}");
}

#[tokio::test]
async fn tokens_and_userinfo_carry_the_release_and_a_replayed_code_revokes() {
    let f = fixture(false).await;
    let mut browser = Browser::new();
    login_at_ent(&f.stack, &mut browser, "educonnect", "eleve.louis").await;
    let code = code_for_rp_test(&f, &mut browser).await;

    let (status, wrong) = exchange_rp_test(&f, &code, "not-the-secret").await;
    assert_eq!(status, 401, "{wrong}");
    assert_eq!(wrong["error"], "invalid_client");

    let code = code_for_rp_test(&f, &mut browser).await;
    let (status, tokens) = exchange_rp_test(&f, &code, SECRET).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(id_token).unwrap().alg,
        Algorithm::RS256,
        "the client's registered algorithm"
    );
    let claims = verify(&f.stack, id_token, "rp-test").await;
    assert_eq!(claims["nonce"], "n-1");
    assert!(claims["sid"].is_string() && claims["auth_time"].is_i64());
    let access = tokens["access_token"].as_str().unwrap();
    let half = &sha2::Sha256::digest(access.as_bytes())[..16];
    assert_eq!(claims["at_hash"], URL_SAFE_NO_PAD.encode(half));
    assert_eq!(claims["PRO"], json!(["National_ELV"]));

    let (status, info) = userinfo(&f.stack, access).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["sub"], claims["sub"], "userinfo sub is the ID token's");
    assert_eq!(info["UAI"], claims["UAI"]);
    assert_eq!(info["IDO"][0], claims["sub"]);

    // RFC 6749 §2.3.1 Basic credentials, each part form-encoded, are
    // accepted too (the exchanges above sent the secret raw).
    let code_2 = code_for_rp_test(&f, &mut browser).await;
    let form_encoded =
        |text: &str| -> String { url::form_urlencoded::byte_serialize(text.as_bytes()).collect() };
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        form_encoded("rp-test"),
        form_encoded(SECRET)
    ));
    let answer = reqwest::Client::new()
        .post(f.stack.url("/oidc/token"))
        .header("authorization", format!("Basic {credentials}"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code_2.as_str()),
            ("redirect_uri", &format!("{}/cb", f.host.base)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);

    // The same code again: refused, and the access token it gave is revoked.
    let (status, replay) = exchange_rp_test(&f, &code, SECRET).await;
    assert_eq!(status, 400, "{replay}");
    assert_eq!(replay["error"], "invalid_grant");
    let (status, _) = userinfo(&f.stack, access).await;
    assert_eq!(status, 401, "revoked by the replay");
}

#[tokio::test]
async fn a_code_is_bound_to_its_client_and_redirect_uri() {
    let f = fixture(false).await;
    let mut browser = Browser::new();
    login_at_ent(&f.stack, &mut browser, "educonnect", "eleve.louis").await;

    let code = code_for_rp_test(&f, &mut browser).await;
    let (status, answer) = token(
        &f.stack,
        Some(("rp-test", SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &format!("{}/other", f.host.base)),
        ],
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "invalid_grant");
    let (status, _) = exchange_rp_test(&f, &code, SECRET).await;
    assert_eq!(status, 400, "consumed by the failed attempt");

    // A verifier for a code whose request had no challenge (a downgrade).
    let code = code_for_rp_test(&f, &mut browser).await;
    let redirect = format!("{}/cb", f.host.base);
    let (status, answer) = token(
        &f.stack,
        Some(("rp-test", SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "invalid_grant");

    // rp-test's code presented by the public client.
    let code = code_for_rp_test(&f, &mut browser).await;
    let (status, answer) = token(
        &f.stack,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("client_id", "rp-public"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "invalid_grant");
}

/// An authorization request of the public client; returns the redirect.
async fn public_request(f: &Fixture, browser: &mut Browser, extra: &[(&str, &str)]) -> String {
    let redirect = format!("{}/public", f.host.base);
    let mut parameters = vec![
        ("response_type", "code"),
        ("client_id", "rp-public"),
        ("redirect_uri", redirect.as_str()),
        ("scope", "openid"),
        ("state", "st-p"),
    ];
    parameters.extend_from_slice(extra);
    browser
        .redirect_target(&authorize_url(&f.stack, &parameters))
        .await
}

#[tokio::test]
async fn pkce_s256_is_required_of_public_clients_and_plain_is_refused() {
    let f = fixture(false).await;
    let mut browser = Browser::new();
    login_at_ent(&f.stack, &mut browser, "educonnect", "eleve.louis").await;
    let challenge = challenge_of(VERIFIER);
    let redirect = format!("{}/public", f.host.base);

    let exchange = |code: String, verifier: Option<&'static str>| {
        let redirect = redirect.clone();
        let stack = &f.stack;
        async move {
            let mut form = vec![
                ("grant_type", "authorization_code".to_owned()),
                ("code", code),
                ("redirect_uri", redirect),
                ("client_id", "rp-public".to_owned()),
            ];
            if let Some(verifier) = verifier {
                form.push(("code_verifier", verifier.to_owned()));
            }
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            token(stack, None, &form).await
        }
    };

    // Positive control: S256 with its verifier.
    let target = public_request(
        &f,
        &mut browser,
        &[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let (status, tokens) = exchange(params(&target)["code"].clone(), Some(VERIFIER)).await;
    assert_eq!(status, 200, "{tokens}");

    // A wrong verifier, then no verifier.
    for verifier in [
        Some("another-verifier-of-the-right-length-0123456789abcdef"),
        None,
    ] {
        let target = public_request(
            &f,
            &mut browser,
            &[
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
        let (status, answer) = exchange(params(&target)["code"].clone(), verifier).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"], "invalid_grant");
    }

    // No challenge, a plain one, a malformed one: an error back to the client.
    for extra in [
        vec![],
        vec![
            ("code_challenge", VERIFIER),
            ("code_challenge_method", "plain"),
        ],
        vec![("code_challenge", VERIFIER)],
        vec![
            ("code_challenge", "short"),
            ("code_challenge_method", "S256"),
        ],
    ] {
        let target = public_request(&f, &mut browser, &extra).await;
        let answer = params(&target);
        assert!(target.starts_with(&redirect), "{target}");
        assert_eq!(answer["error"], "invalid_request", "{extra:?}");
        assert_eq!(answer["state"], "st-p");
        assert_eq!(answer["iss"], f.stack.stack.base_url);
        assert!(!answer.contains_key("code"));
    }
}

#[tokio::test]
async fn prompt_none_max_age_and_prompt_login() {
    let f = fixture(false).await;
    let redirect = format!("{}/cb", f.host.base);
    let request = |extra: &[(&str, &str)]| {
        let mut parameters = vec![
            ("response_type", "code"),
            ("client_id", "rp-test"),
            ("redirect_uri", redirect.as_str()),
            ("scope", "openid"),
            ("state", "st-n"),
        ];
        parameters.extend_from_slice(extra);
        authorize_url(&f.stack, &parameters)
    };
    let mut browser = Browser::new();
    // No session: prompt=none answers login_required without a page.
    let target = browser
        .redirect_target(&request(&[("prompt", "none")]))
        .await;
    let answer = params(&target);
    assert!(target.starts_with(&redirect), "{target}");
    assert_eq!(answer["error"], "login_required");
    assert_eq!(answer["state"], "st-n");

    login_at_ent(&f.stack, &mut browser, "educonnect", "eleve.louis").await;
    // With a session: a code at once.
    let target = browser
        .redirect_target(&request(&[("prompt", "none")]))
        .await;
    assert!(params(&target).contains_key("code"), "{target}");
    // max_age=0 and prompt=login ask the IdP again; with prompt=none, an error.
    for extra in [vec![("max_age", "0")], vec![("prompt", "login")]] {
        let target = browser.redirect_target(&request(&extra)).await;
        assert!(target.contains("/login"), "{extra:?}: {target}");
        assert!(!target.starts_with(&redirect), "{target}");
    }
    let target = browser
        .redirect_target(&request(&[("prompt", "none"), ("max_age", "0")]))
        .await;
    assert_eq!(params(&target)["error"], "login_required");
    // Unsupported flows and scopes.
    for (extra, error) in [
        (vec![("scope", "profile")], "invalid_scope"),
        (vec![("request", "eyJ")], "request_not_supported"),
        (vec![("response_mode", "fragment")], "invalid_request"),
    ] {
        let mut parameters: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", "rp-test"),
            ("redirect_uri", redirect.as_str()),
        ];
        if !extra.iter().any(|(name, _)| *name == "scope") {
            parameters.push(("scope", "openid"));
        }
        parameters.extend_from_slice(&extra);
        let target = browser
            .redirect_target(&authorize_url(&f.stack, &parameters))
            .await;
        assert_eq!(params(&target)["error"], error, "{extra:?}");
    }
    let target = browser
        .redirect_target(&authorize_url(
            &f.stack,
            &[
                ("response_type", "token"),
                ("client_id", "rp-test"),
                ("redirect_uri", &redirect),
                ("scope", "openid"),
            ],
        ))
        .await;
    assert_eq!(params(&target)["error"], "unsupported_response_type");
}

/// A client assertion of `rp-jwt` (RFC 7523), signed as given.
fn assertion(stack: &Stack, key: &EncodingKey, alg: Algorithm, jti: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut header = Header::new(alg);
    header.kid = Some("rp-jwt-1".into());
    jsonwebtoken::encode(
        &header,
        &json!({
            "iss": "rp-jwt", "sub": "rp-jwt", "aud": stack.url("/oidc/token"),
            "iat": now, "exp": now + 60, "jti": jti,
        }),
        key,
    )
    .unwrap()
}

#[tokio::test]
async fn private_key_jwt_needs_the_registered_key_and_a_fresh_jti() {
    let f = fixture(false).await;
    let mut browser = Browser::new();
    login_at_ent(&f.stack, &mut browser, "educonnect", "eleve.louis").await;
    let redirect = format!("{}/jwt", f.host.base);
    let key = EncodingKey::from_ec_pem(&f.client_key).unwrap();
    let (other_pem, _) = client_key();
    let other = EncodingKey::from_ec_pem(&other_pem).unwrap();
    // HS256 keyed with the registered public key (the algorithm-confusion attack).
    let jwks = std::fs::read_to_string(
        f.stack
            .stack
            .config_path
            .with_file_name("services/rp-jwt.jwks.json"),
    )
    .unwrap();
    let hmac = EncodingKey::from_secret(jwks.as_bytes());

    let mut try_with = async |client_assertion: String| {
        let target = browser
            .redirect_target(&authorize_url(
                &f.stack,
                &[
                    ("response_type", "code"),
                    ("client_id", "rp-jwt"),
                    ("redirect_uri", &redirect),
                    ("scope", "openid"),
                    ("code_challenge", &challenge_of(VERIFIER)),
                    ("code_challenge_method", "S256"),
                ],
            ))
            .await;
        let code = params(&target)["code"].clone();
        token(
            &f.stack,
            None,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &redirect),
                ("code_verifier", VERIFIER),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &client_assertion),
            ],
        )
        .await
    };

    let (status, tokens) = try_with(assertion(&f.stack, &key, Algorithm::ES256, "j-1")).await;
    assert_eq!(status, 200, "{tokens}");
    for (refused, why) in [
        (
            assertion(&f.stack, &key, Algorithm::ES256, "j-1"),
            "jti replayed",
        ),
        (
            assertion(&f.stack, &other, Algorithm::ES256, "j-2"),
            "another key",
        ),
        (assertion(&f.stack, &hmac, Algorithm::HS256, "j-3"), "HS256"),
    ] {
        let (status, answer) = try_with(refused).await;
        assert_eq!(status, 401, "{why}: {answer}");
        assert_eq!(answer["error"], "invalid_client", "{why}");
    }
}

#[tokio::test]
async fn end_session_follows_registered_uris_only_and_sends_logout_tokens() {
    let f = fixture(false).await;
    let mut browser = Browser::new();
    login_at_ent(&f.stack, &mut browser, "educonnect", "eleve.louis").await;
    let code = code_for_rp_test(&f, &mut browser).await;
    let (_, tokens) = exchange_rp_test(&f, &code, SECRET).await;
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let claims = verify(&f.stack, &id_token, "rp-test").await;
    let ent_logouts = f.stack.sp_state("ent").await["logouts_received"].clone();

    // Refused: an unregistered post-logout URI; the session lives on.
    let refused = browser
        .open(&f.stack.url(&format!(
            "/oidc/logout?id_token_hint={id_token}&post_logout_redirect_uri={}",
            encoded("https://elsewhere.example/")
        )))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let target = browser
        .redirect_target(&authorize_url(
            &f.stack,
            &[
                ("response_type", "code"),
                ("client_id", "rp-test"),
                ("redirect_uri", &format!("{}/cb", f.host.base)),
                ("scope", "openid"),
                ("prompt", "none"),
            ],
        ))
        .await;
    assert!(params(&target).contains_key("code"), "session still live");

    // With a registered URI: the session ends, the browser goes back there.
    // The ENT's SAML logout goes through the browser, then back to rp-test.
    let page = browser
        .open(&f.stack.url(&format!(
            "/oidc/logout?id_token_hint={id_token}&post_logout_redirect_uri={}&state=bye-1",
            encoded(&format!("{}/bye", f.host.base))
        )))
        .await;
    assert_eq!(page.url, format!("{}/bye?state=bye-1", f.host.base));
    // rp-test asked: it is not sent a token; the ENT (SAML) is told.
    assert!(f.host.logout_tokens.lock().unwrap().is_empty());
    assert_ne!(
        f.stack.sp_state("ent").await["logouts_received"],
        ent_logouts
    );

    // Another login, a logout at the gateway: rp-test's logout token.
    login_at_ent(&f.stack, &mut browser, "educonnect", "eleve.louis").await;
    let code = code_for_rp_test(&f, &mut browser).await;
    let (_, tokens) = exchange_rp_test(&f, &code, SECRET).await;
    let claims_2 = verify(&f.stack, tokens["id_token"].as_str().unwrap(), "rp-test").await;
    assert_eq!(claims_2["sub"], claims["sub"], "a stable pairwise sub");
    browser.open(&f.stack.url("/logout")).await;
    let sent = f.host.logout_tokens.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let header = jsonwebtoken::decode_header(&sent[0]).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let logout = verify(&f.stack, &sent[0], "rp-test").await;
    assert_eq!(logout["sub"], claims_2["sub"]);
    assert_eq!(logout["sid"], claims_2["sid"]);
    assert!(logout.get("nonce").is_none());
    assert!(logout["jti"].is_string());
    assert_eq!(
        logout["events"],
        json!({"http://schemas.openid.net/event/backchannel-logout": {}})
    );
}

/// The agents' IdP's one-time-password context.
const OTP: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken";

#[tokio::test]
async fn acr_values_ask_the_same_idp_for_a_stronger_login() {
    let f = fixture(false).await;
    let mut teacher = Browser::new();
    login_at_ent(&f.stack, &mut teacher, "agents", "prof.blanc").await;
    let redirect = format!("{}/cb", f.host.base);
    let request = |extra: &[(&str, &str)]| {
        let mut parameters = vec![
            ("response_type", "code"),
            ("client_id", "rp-test"),
            ("redirect_uri", redirect.as_str()),
            ("scope", "openid"),
        ];
        parameters.extend_from_slice(extra);
        authorize_url(&f.stack, &parameters)
    };
    // Positive control: without acr_values, a code from the password login.
    let target = teacher.redirect_target(&request(&[])).await;
    assert!(params(&target).contains_key("code"), "{target}");
    // Asked for OTP with no page allowed: login_required.
    let target = teacher
        .redirect_target(&request(&[("acr_values", OTP), ("prompt", "none")]))
        .await;
    assert_eq!(params(&target)["error"], "login_required", "{target}");

    // Asked for OTP: the agents' IdP plays its OTP login, then the code.
    let page = teacher.open(&request(&[("acr_values", OTP)])).await;
    assert!(
        page.body.contains("Connexion renforcée demandée"),
        "{}",
        page.body
    );
    let page = teacher.login_as(&page, "prof.blanc").await;
    assert!(page.url.starts_with(&redirect), "{}", page.url);
    let code = params(&page.url)["code"].clone();
    let (status, tokens) = exchange_rp_test(&f, &code, SECRET).await;
    assert_eq!(status, 200, "{tokens}");
    let claims = verify(&f.stack, tokens["id_token"].as_str().unwrap(), "rp-test").await;
    assert_eq!(claims["acr"], OTP);

    // The session now carries the OTP login: no page the next time.
    let target = teacher
        .redirect_target(&request(&[("acr_values", OTP), ("prompt", "none")]))
        .await;
    assert!(params(&target).contains_key("code"), "{target}");
}
