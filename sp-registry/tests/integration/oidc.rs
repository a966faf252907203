//! The `[oidc]` table: each load error with its file, line and field, after
//! the untouched base file loads; redirect URIs compared exactly; the client
//! secret; the JSON Web Key Set file and its errors.

use serde_json::{Value, json};
use sp_registry::{
    ClientType, IdTokenAlg, JwksError, LoadError, LoadErrorKind, OidcClient, Registry,
    TokenAuthMethod, UriError, UrlError,
};

use crate::common::{Folder, assert_at, fixtures};

const SECRET: &str = "correct horse battery staple";
/// SHA-256 of [`SECRET`] (computed with `sha256sum`).
const SECRET_SHA256: &str = "c4bbcb1fbec99d65bf59d85c8cb62ee2db963f0fe106f483d9afa73bd4e39a8a";
const CALLBACK: &str = "https://ent-oidc.example.fr/callback";

/// An OIDC-only confidential client. Lines: 1 id, 2 display_name, 3 kind,
/// 4 blank, 5 `[oidc]`, 6 client_id, 7 client_secret_sha256, 8 redirect_uris.
fn base() -> String {
    format!(
        "id = \"ent-oidc\"\ndisplay_name = \"ENT OIDC\"\nkind = \"ent\"\n\n[oidc]\nclient_id = \"ent-oidc\"\nclient_secret_sha256 = \"{SECRET_SHA256}\"\nredirect_uris = [\"{CALLBACK}\"]\n"
    )
}

/// The base file with its 1-based line `line` replaced by `text`.
fn replace_line(line: usize, text: &str) -> String {
    let base = base();
    let mut lines: Vec<&str> = base.lines().collect();
    lines[line - 1] = text;
    lines.join("\n") + "\n"
}

/// The base file followed by `text`, starting at line 9.
fn append(text: &str) -> String {
    format!("{}{text}", base())
}

fn folder_with(contents: &str) -> Folder {
    let folder = Folder::new();
    folder.write("svc.toml", contents);
    folder
}

fn client(contents: &str) -> OidcClient {
    let registry = folder_with(contents).load().unwrap();
    registry.by_id("ent-oidc").unwrap().oidc.clone().unwrap()
}

fn only_error(contents: &str) -> (Folder, LoadError) {
    let folder = folder_with(contents);
    let error = folder.only_error();
    (folder, error)
}

#[test]
fn base_file_loads_with_the_defaults() {
    let client = client(&base());
    assert_eq!(client.client_id, "ent-oidc");
    assert_eq!(client.client_type, ClientType::Confidential);
    assert_eq!(client.auth_method, TokenAuthMethod::ClientSecretBasic);
    assert_eq!(client.id_token_alg, IdTokenAlg::Es256);
    assert!(client.require_pkce);
    assert_eq!(client.redirect_uris, [CALLBACK]);
    assert!(client.post_logout_redirect_uris.is_empty());
    assert_eq!(client.backchannel_logout_uri, None);
    assert_eq!(client.jwks, None);
}

#[test]
fn secret_matches_only_the_registered_secret() {
    let client = client(&base());
    assert!(client.secret_matches(SECRET));
    for wrong in [
        "",
        "correct horse battery stapl",
        "correct horse battery staple ",
        "Correct horse battery staple",
        SECRET_SHA256,
    ] {
        assert!(!client.secret_matches(wrong), "{wrong:?}");
    }
    let post = client_post();
    assert_eq!(post.auth_method, TokenAuthMethod::ClientSecretPost);
    assert!(post.secret_matches(SECRET));
}

fn client_post() -> OidcClient {
    client(&append(
        "token_endpoint_auth_method = \"client_secret_post\"\n",
    ))
}

#[test]
fn redirect_uris_are_compared_exactly() {
    let client = client(&replace_line(
        8,
        &format!("redirect_uris = [\"{CALLBACK}\", \"https://ent-oidc.example.fr:8443/cb?app=1\"]"),
    ));
    assert!(client.redirect_uri_allowed(CALLBACK));
    assert!(client.redirect_uri_allowed("https://ent-oidc.example.fr:8443/cb?app=1"));
    for refused in [
        "https://ent-oidc.example.fr/callback/",
        "https://ent-oidc.example.fr/Callback",
        "HTTPS://ent-oidc.example.fr/callback",
        "https://ENT-OIDC.example.fr/callback",
        "https://ent-oidc.example.fr:443/callback",
        "https://ent-oidc.example.fr:8443/callback",
        "https://ent-oidc.example.fr@evil.example/callback",
        "https://user@ent-oidc.example.fr/callback",
        "https://ent-oidc.example.fr/x/../callback",
        "https://ent-oidc.example.fr/callback/../callback",
        "https://ent-oidc.example.fr/%63allback",
        "https://ent-oidc.example.fr/callback?x=1",
        "https://ent-oidc.example.fr/callback?",
        "https://ent-oidc.example.fr/callback#",
        "https://ent-oidc.example.fr:8443/cb?app=1&x=2",
        "https://ent-oidc.example.fr:8443/cb",
        " https://ent-oidc.example.fr/callback",
        "",
    ] {
        assert!(!client.redirect_uri_allowed(refused), "{refused}");
    }
}

#[test]
fn post_logout_redirect_uris_are_compared_exactly() {
    let client = client(&append(
        "post_logout_redirect_uris = [\"https://ent-oidc.example.fr/bye\"]\n",
    ));
    assert!(client.post_logout_redirect_uri_allowed("https://ent-oidc.example.fr/bye"));
    assert!(!client.post_logout_redirect_uri_allowed("https://ent-oidc.example.fr/bye/"));
    assert!(!client.post_logout_redirect_uri_allowed(CALLBACK));
    assert!(!client.redirect_uri_allowed("https://ent-oidc.example.fr/bye"));
}

#[test]
fn invalid_client_id() {
    client(&replace_line(6, "client_id = \"Ent_OIDC.v2-1\""));
    for bad in ["ent oidc", "", "ent/oidc", "énté"] {
        let (folder, error) = only_error(&replace_line(6, &format!("client_id = \"{bad}\"")));
        assert_at(&error, &folder, "svc.toml", Some(6), Some("oidc.client_id"));
        assert!(
            matches!(&error.reason, LoadErrorKind::InvalidClientId(id) if id == bad),
            "{error}"
        );
    }
}

#[test]
fn duplicate_client_id_across_files() {
    let folder = Folder::new();
    folder.write("a.toml", base());
    let other = base().replacen("id = \"ent-oidc\"", "id = \"other\"", 1);
    folder.write(
        "b.toml",
        other.replace("client_id = \"ent-oidc\"", "client_id = \"other\""),
    );
    let registry = folder.load().unwrap();
    assert_eq!(registry.by_client_id("other").unwrap().id, "other");

    folder.write("b.toml", &other);
    let error = folder.only_error();
    assert_at(&error, &folder, "b.toml", Some(6), Some("oidc.client_id"));
    assert!(
        matches!(&error.reason, LoadErrorKind::DuplicateClientId { client_id, first }
            if client_id == "ent-oidc" && *first == folder.path().join("a.toml")),
        "{error}"
    );
}

#[test]
fn public_clients_use_none_and_pkce() {
    // Positive control: a public client without secret, method defaulting to none.
    let public = client(&replace_line(7, "client_type = \"public\""));
    assert_eq!(public.client_type, ClientType::Public);
    assert_eq!(public.auth_method, TokenAuthMethod::None);
    assert!(public.require_pkce);
    assert!(!public.secret_matches(""));
    client(&replace_line(
        7,
        "client_type = \"public\"\ntoken_endpoint_auth_method = \"none\"\nrequire_pkce = true",
    ));

    let (folder, error) = only_error(&replace_line(
        7,
        &format!(
            "client_type = \"public\"\ntoken_endpoint_auth_method = \"client_secret_post\"\nclient_secret_sha256 = \"{SECRET_SHA256}\""
        ),
    ));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(8),
        Some("oidc.token_endpoint_auth_method"),
    );
    assert!(
        matches!(
            error.reason,
            LoadErrorKind::PublicClientAuthenticates(TokenAuthMethod::ClientSecretPost)
        ),
        "{error}"
    );

    let (folder, error) = only_error(&replace_line(
        7,
        "client_type = \"public\"\nrequire_pkce = false",
    ));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(8),
        Some("oidc.require_pkce"),
    );
    assert!(
        matches!(error.reason, LoadErrorKind::PublicClientWithoutPkce),
        "{error}"
    );
    // A confidential client may do without PKCE.
    assert!(!client(&append("require_pkce = false\n")).require_pkce);
}

#[test]
fn a_public_client_secret_is_refused() {
    let (folder, error) = only_error(&append("client_type = \"public\"\n"));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(7),
        Some("oidc.client_secret_sha256"),
    );
    assert!(
        matches!(
            error.reason,
            LoadErrorKind::ClientSecretNotUsed(TokenAuthMethod::None)
        ),
        "{error}"
    );
}

#[test]
fn none_is_refused_for_a_confidential_client() {
    let (folder, error) = only_error(&replace_line(7, "token_endpoint_auth_method = \"none\""));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(7),
        Some("oidc.token_endpoint_auth_method"),
    );
    assert!(
        matches!(
            error.reason,
            LoadErrorKind::ConfidentialClientWithoutAuthentication
        ),
        "{error}"
    );
}

#[test]
fn client_secret_methods_need_the_digest() {
    let (folder, error) = only_error(&replace_line(7, ""));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(5),
        Some("oidc.client_secret_sha256"),
    );
    assert!(
        matches!(error.reason, LoadErrorKind::MissingClientSecret),
        "{error}"
    );

    let (folder, error) = only_error(&replace_line(
        7,
        "token_endpoint_auth_method = \"client_secret_post\"",
    ));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(7),
        Some("oidc.client_secret_sha256"),
    );
    assert!(
        matches!(error.reason, LoadErrorKind::MissingClientSecret),
        "{error}"
    );
}

#[test]
fn client_secret_digest_is_64_hex() {
    for bad in [&SECRET_SHA256[..62], "zz", SECRET] {
        let (folder, error) = only_error(&replace_line(
            7,
            &format!("client_secret_sha256 = \"{bad}\""),
        ));
        assert_at(
            &error,
            &folder,
            "svc.toml",
            Some(7),
            Some("oidc.client_secret_sha256"),
        );
        assert!(matches!(error.reason, LoadErrorKind::NotASha256), "{error}");
    }
}

#[test]
fn unknown_auth_method_or_algorithm() {
    assert_eq!(
        client(&append("id_token_signed_response_alg = \"RS256\"\n")).id_token_alg,
        IdTokenAlg::Rs256
    );
    for line in [
        "id_token_signed_response_alg = \"HS256\"",
        "token_endpoint_auth_method = \"tls_client_auth\"",
        "client_type = \"hybrid\"",
    ] {
        let (folder, error) = only_error(&append(&format!("{line}\n")));
        let key = line.split(' ').next().unwrap();
        assert_at(
            &error,
            &folder,
            "svc.toml",
            Some(9),
            Some(&format!("oidc.{key}")),
        );
        assert!(
            matches!(error.reason, LoadErrorKind::InvalidValue(_)),
            "{error}"
        );
    }
}

#[test]
fn redirect_uris_are_required_and_not_empty() {
    let (folder, error) = only_error(&replace_line(8, "redirect_uris = []"));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(8),
        Some("oidc.redirect_uris"),
    );
    assert!(
        matches!(error.reason, LoadErrorKind::NoRedirectUris),
        "{error}"
    );

    let (folder, error) = only_error(&replace_line(8, ""));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(5),
        Some("oidc.redirect_uris"),
    );
    assert!(
        matches!(error.reason, LoadErrorKind::MissingField),
        "{error}"
    );
}

#[test]
fn registered_uris_follow_the_url_rules() {
    // Positive controls: https, a query, http on localhost.
    client(&replace_line(
        8,
        "redirect_uris = [\"https://ent-oidc.example.fr/cb?x=1\", \"http://localhost:8081/cb\", \"http://127.0.0.1/cb\"]",
    ));
    let refused: [(&str, UriError); 6] = [
        ("https://ent-oidc.example.fr/*", UriError::Wildcard),
        (
            "https://ent-oidc.example.fr/cb#top",
            UrlError::Fragment.into(),
        ),
        (
            "http://ent-oidc.example.fr/cb",
            UrlError::HttpNotLocal("ent-oidc.example.fr".into()).into(),
        ),
        ("/callback", UrlError::UnsupportedScheme.into()),
        ("custom-app:/callback", UrlError::UnsupportedScheme.into()),
        (
            "https://u:p@ent-oidc.example.fr/cb",
            UrlError::Userinfo.into(),
        ),
    ];
    for (uri, expected) in refused {
        let (folder, error) = only_error(&replace_line(8, &format!("redirect_uris = [\"{uri}\"]")));
        assert_at(
            &error,
            &folder,
            "svc.toml",
            Some(8),
            Some("oidc.redirect_uris"),
        );
        assert!(
            matches!(&error.reason, LoadErrorKind::InvalidUri { uri: written, source } if written == uri && *source == expected),
            "{error}"
        );
    }
}

#[test]
fn logout_uris_follow_the_url_rules() {
    let client = client(&append(
        "post_logout_redirect_uris = [\"https://ent-oidc.example.fr/\"]\nbackchannel_logout_uri = \"https://ent-oidc.example.fr/bc\"\n",
    ));
    assert_eq!(
        client.backchannel_logout_uri.as_deref(),
        Some("https://ent-oidc.example.fr/bc")
    );
    let (folder, error) = only_error(&append(
        "post_logout_redirect_uris = [\"https://ent-oidc.example.fr/#\"]\n",
    ));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(9),
        Some("oidc.post_logout_redirect_uris"),
    );
    assert!(
        matches!(error.reason, LoadErrorKind::InvalidUri { .. }),
        "{error}"
    );
    let (folder, error) = only_error(&append(
        "backchannel_logout_uri = \"http://ent-oidc.example.fr/bc\"\n",
    ));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(9),
        Some("oidc.backchannel_logout_uri"),
    );
    assert!(
        matches!(error.reason, LoadErrorKind::InvalidUri { .. }),
        "{error}"
    );
}

/// A private_key_jwt client whose key set file is `keys.json` (line 8).
fn jwt_client() -> String {
    replace_line(
        7,
        "token_endpoint_auth_method = \"private_key_jwt\"\njwks_file = \"keys.json\"",
    )
}

/// The checked-in key set (public keys generated with the openssl command line).
fn fixture_jwks() -> Value {
    let text = std::fs::read_to_string(fixtures().join("protocols/ent-oidc.jwks.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn jwt_folder(jwks: &str) -> Folder {
    let folder = folder_with(&jwt_client());
    folder.write("keys.json", jwks);
    folder
}

fn jwks_error(jwks: &str) -> JwksError {
    let folder = jwt_folder(jwks);
    let error = folder.only_error();
    assert_at(&error, &folder, "svc.toml", Some(8), Some("oidc.jwks_file"));
    match error.reason {
        LoadErrorKind::Jwks { path, source } => {
            assert_eq!(path, folder.path().join("keys.json"));
            source
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn private_key_jwt_keeps_the_parsed_keys() {
    let registry: Registry = jwt_folder(&fixture_jwks().to_string()).load().unwrap();
    let client = registry
        .by_client_id("ent-oidc")
        .unwrap()
        .oidc
        .clone()
        .unwrap();
    assert_eq!(client.auth_method, TokenAuthMethod::PrivateKeyJwt);
    assert_eq!(client.client_secret_sha256, None);
    assert_eq!(
        Some(&fixture_jwks()["keys"].as_array().unwrap().clone()),
        client.jwks.as_ref()
    );
}

#[test]
fn jwks_file_errors() {
    // Positive control first: the untouched key set loads.
    jwt_folder(&fixture_jwks().to_string()).load().unwrap();

    // Missing file.
    let folder = folder_with(&jwt_client());
    let error = folder.only_error();
    assert_at(&error, &folder, "svc.toml", Some(8), Some("oidc.jwks_file"));
    assert!(
        matches!(&error.reason, LoadErrorKind::ReferencedFile { path, .. } if *path == folder.path().join("keys.json")),
        "{error}"
    );

    assert!(matches!(jwks_error("{\"keys\": ["), JwksError::NotJson(_)));
    assert!(matches!(
        jwks_error("-----BEGIN PUBLIC KEY-----"),
        JwksError::NotJson(_)
    ));
    assert!(matches!(jwks_error("{\"keys\": []}"), JwksError::NoKey));
    assert!(matches!(jwks_error("{}"), JwksError::NotAKeySet));

    let mut private = fixture_jwks();
    private["keys"][1]["d"] = json!("AQAB");
    assert!(matches!(
        jwks_error(&private.to_string()),
        JwksError::PrivateMember {
            index: 1,
            member: "d"
        }
    ));

    let mut symmetric = fixture_jwks();
    symmetric["keys"][0] = json!({"kty": "oct", "kid": "s", "k": "c2VjcmV0"});
    assert!(matches!(
        jwks_error(&symmetric.to_string()),
        JwksError::UnsupportedKeyType { index: 0, kty } if kty == "oct"
    ));

    let mut no_kid = fixture_jwks();
    no_kid["keys"][0].as_object_mut().unwrap().remove("kid");
    assert!(matches!(
        jwks_error(&no_kid.to_string()),
        JwksError::MissingMember {
            index: 0,
            member: "kid"
        }
    ));
}

#[test]
fn jwks_file_only_with_private_key_jwt() {
    let (folder, error) = only_error(&append("jwks_file = \"keys.json\"\n"));
    assert_at(&error, &folder, "svc.toml", Some(9), Some("oidc.jwks_file"));
    assert!(
        matches!(
            error.reason,
            LoadErrorKind::JwksFileNotUsed(TokenAuthMethod::ClientSecretBasic)
        ),
        "{error}"
    );

    let (folder, error) = only_error(&replace_line(
        7,
        "token_endpoint_auth_method = \"private_key_jwt\"",
    ));
    assert_at(&error, &folder, "svc.toml", Some(7), Some("oidc.jwks_file"));
    assert!(
        matches!(error.reason, LoadErrorKind::MissingJwksFile),
        "{error}"
    );

    // A secret beside private_key_jwt is refused too.
    let folder = jwt_folder(&fixture_jwks().to_string());
    folder.write(
        "svc.toml",
        format!(
            "{}client_secret_sha256 = \"{SECRET_SHA256}\"\n",
            jwt_client()
        ),
    );
    let error = folder.only_error();
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(10),
        Some("oidc.client_secret_sha256"),
    );
    assert!(
        matches!(
            error.reason,
            LoadErrorKind::ClientSecretNotUsed(TokenAuthMethod::PrivateKeyJwt)
        ),
        "{error}"
    );
}

#[test]
fn a_client_needs_a_gateway_key_of_its_id_token_algorithm() {
    let es256 = folder_with(&base()).load().unwrap();
    assert!(es256.check_id_token_algs(&[IdTokenAlg::Es256]).is_ok());
    let rs256 = folder_with(&append("id_token_signed_response_alg = \"RS256\"\n"))
        .load()
        .unwrap();
    assert!(
        rs256
            .check_id_token_algs(&[IdTokenAlg::Es256, IdTokenAlg::Rs256])
            .is_ok()
    );
    let errors = rs256.check_id_token_algs(&[IdTokenAlg::Es256]).unwrap_err();
    let [error] = errors.0.as_slice() else {
        panic!("{errors}")
    };
    assert!(error.file.ends_with("svc.toml"));
    assert_eq!(
        error.field.as_deref(),
        Some("oidc.id_token_signed_response_alg")
    );
    assert!(matches!(
        error.reason,
        LoadErrorKind::IdTokenAlgWithoutKey { alg: "RS256" }
    ));
}
