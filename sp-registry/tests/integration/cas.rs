//! The `[cas]` table: each load error with its file, line and field, after
//! the untouched base file loads; lookups by service URL, including the
//! refusal of a URL that two services match.

use sp_registry::{CasLookupError, LoadError, LoadErrorKind, PatternError, UriError, UrlError};

use crate::common::{Folder, assert_at};

/// A CAS-only service. Lines: 1 id, 2 display_name, 3 kind, 4 blank,
/// 5 `[cas]`, 6 services.
const BASE: &str = r#"id = "cas-res"
display_name = "Ressource CAS"
kind = "ent"

[cas]
services = ["https://cas-res.example.fr/login", "https://cas-res.example.fr/app/*"]
"#;

/// BASE followed by `text`, starting at line 7.
fn append(text: &str) -> String {
    format!("{BASE}{text}")
}

/// BASE with its `services` line (6) replaced by `services = [<list>]`.
fn with_services(list: &str) -> String {
    BASE.replace(
        r#"["https://cas-res.example.fr/login", "https://cas-res.example.fr/app/*"]"#,
        &format!("[{list}]"),
    )
}

fn only_error(contents: &str) -> (Folder, LoadError) {
    let folder = Folder::new();
    folder.write("svc.toml", contents);
    let error = folder.only_error();
    (folder, error)
}

fn loads(contents: &str) -> sp_registry::Registry {
    let folder = Folder::new();
    folder.write("svc.toml", contents);
    folder.load().unwrap()
}

#[test]
fn base_file_loads() {
    let registry = loads(BASE);
    let service = registry.by_id("cas-res").unwrap();
    let cas = service.cas.as_ref().unwrap();
    assert_eq!(cas.services.len(), 2);
    assert!(!cas.allow_proxy);
    assert_eq!(
        registry
            .by_cas_service("https://cas-res.example.fr/login")
            .unwrap()
            .id,
        "cas-res"
    );
}

#[test]
fn empty_service_list() {
    let (folder, error) = only_error(&with_services(""));
    assert_at(&error, &folder, "svc.toml", Some(6), Some("cas.services"));
    assert!(
        matches!(error.reason, LoadErrorKind::NoCasServices),
        "{error}"
    );
}

#[test]
fn missing_service_list() {
    let (folder, error) = only_error(&BASE.replace(
        "services = [\"https://cas-res.example.fr/login\", \"https://cas-res.example.fr/app/*\"]\n",
        "allow_proxy = false\n",
    ));
    assert_at(&error, &folder, "svc.toml", Some(5), Some("cas.services"));
    assert!(
        matches!(error.reason, LoadErrorKind::MissingField),
        "{error}"
    );
}

#[test]
fn wildcard_in_the_host_is_refused_at_load() {
    loads(&with_services(r#""https://cas-res.example.fr/*""#));
    let (folder, error) = only_error(&with_services(r#""https://*.example.fr/login""#));
    assert_at(&error, &folder, "svc.toml", Some(6), Some("cas.services"));
    assert!(
        matches!(
            &error.reason,
            LoadErrorKind::InvalidServicePattern { pattern, source: PatternError::WildcardInOrigin }
                if pattern == "https://*.example.fr/login"
        ),
        "{error}"
    );
}

#[test]
fn every_refused_pattern_is_reported() {
    let list = r#""https://cas-res.example.fr/ok", "http://cas-res.example.fr/login", "https://u@cas-res.example.fr/", "https://cas-res.example.fr/a#b", "/relative""#;
    let folder = Folder::new();
    folder.write("svc.toml", with_services(list));
    let errors = folder.errors();
    let reasons: Vec<PatternError> = errors
        .iter()
        .map(|error| {
            assert_at(error, &folder, "svc.toml", Some(6), Some("cas.services"));
            match &error.reason {
                LoadErrorKind::InvalidServicePattern { source, .. } => source.clone(),
                other => panic!("unexpected {other}"),
            }
        })
        .collect();
    assert_eq!(
        reasons,
        [
            UrlError::HttpNotLocal("cas-res.example.fr".into()).into(),
            UrlError::Userinfo.into(),
            UrlError::Fragment.into(),
            UrlError::UnsupportedScheme.into(),
        ]
    );
}

#[test]
fn http_is_allowed_for_localhost_only() {
    let registry = loads(&with_services(r#""http://localhost:8080/app/*""#));
    assert!(
        registry
            .by_cas_service("http://localhost:8080/app/x")
            .is_ok()
    );
    assert_eq!(
        registry
            .by_cas_service("https://localhost:8080/app/x")
            .unwrap_err(),
        CasLookupError::NoMatch
    );
}

#[test]
fn proxy_callbacks_need_allow_proxy() {
    let callbacks = "proxy_callbacks = [\"https://cas-res.example.fr/pgt\"]\n";
    let registry = loads(&append(&format!("allow_proxy = true\n{callbacks}")));
    let cas = registry.by_id("cas-res").unwrap().cas.clone().unwrap();
    assert!(cas.proxy_callback_allowed("https://cas-res.example.fr/pgt"));

    let (folder, error) = only_error(&append(callbacks));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(7),
        Some("cas.proxy_callbacks"),
    );
    assert!(
        matches!(error.reason, LoadErrorKind::ProxyCallbacksWithoutProxy),
        "{error}"
    );
    // An empty list without allow_proxy is harmless.
    loads(&append("proxy_callbacks = []\n"));
}

#[test]
fn proxy_callbacks_are_https_only() {
    loads(&append(
        "allow_proxy = true\nproxy_callbacks = [\"https://localhost/pgt\"]\n",
    ));
    let (folder, error) = only_error(&append(
        "allow_proxy = true\nproxy_callbacks = [\n  \"http://localhost/pgt\",\n]\n",
    ));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(9),
        Some("cas.proxy_callbacks"),
    );
    assert!(
        matches!(&error.reason, LoadErrorKind::ProxyCallbackNotHttps(url) if url == "http://localhost/pgt"),
        "{error}"
    );
}

#[test]
fn logout_url_rules() {
    let registry = loads(&append(
        "logout_url = \"https://cas-res.example.fr/logout\"\n",
    ));
    let cas = registry.by_id("cas-res").unwrap().cas.clone().unwrap();
    assert_eq!(
        cas.logout_url.as_deref(),
        Some("https://cas-res.example.fr/logout")
    );
    let (folder, error) = only_error(&append(
        "logout_url = \"https://cas-res.example.fr/logout/*\"\n",
    ));
    assert_at(&error, &folder, "svc.toml", Some(7), Some("cas.logout_url"));
    assert!(
        matches!(
            error.reason,
            LoadErrorKind::InvalidUri {
                source: UriError::Wildcard,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn unknown_cas_key_is_refused() {
    let (folder, error) = only_error(&append("attribute_format = \"gar\"\n"));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(7),
        Some("cas.attribute_format"),
    );
    assert!(
        matches!(&error.reason, LoadErrorKind::UnknownField(name) if name == "attribute_format")
    );
}

#[test]
fn identical_pattern_in_two_files() {
    let folder = Folder::new();
    folder.write("a.toml", BASE);
    let other = BASE.replace("id = \"cas-res\"", "id = \"other\"").replace(
        "\"https://cas-res.example.fr/app/*\"",
        "\"https://other.example.fr/app/*\"",
    );
    // Positive control: without a shared pattern, both load.
    folder.write(
        "b.toml",
        other.replace(
            "\"https://cas-res.example.fr/login\"",
            "\"https://other.example.fr/login\"",
        ),
    );
    let registry = folder.load().unwrap();
    assert_eq!(registry.services().count(), 2);

    // The same pattern written in another normal form is the same pattern.
    folder.write(
        "b.toml",
        other.replace(
            "\"https://cas-res.example.fr/login\"",
            "\"HTTPS://Cas-Res.example.fr:443/login\"",
        ),
    );
    let error = folder.only_error();
    assert_at(&error, &folder, "b.toml", Some(6), Some("cas.services"));
    assert!(
        matches!(
            &error.reason,
            LoadErrorKind::DuplicateCasPattern { pattern, first }
                if pattern == "HTTPS://Cas-Res.example.fr:443/login" && *first == folder.path().join("a.toml")
        ),
        "{error}"
    );
}

#[test]
fn identical_pattern_twice_in_one_file() {
    let (folder, error) = only_error(&with_services(
        "\n  \"https://cas-res.example.fr/login\",\n  \"https://cas-res.example.fr/login\",\n",
    ));
    assert_at(&error, &folder, "svc.toml", Some(8), Some("cas.services"));
    assert!(
        matches!(&error.reason, LoadErrorKind::DuplicateCasPattern { first, .. } if *first == folder.path().join("svc.toml")),
        "{error}"
    );
}

#[test]
fn a_url_two_services_match_is_refused() {
    let folder = Folder::new();
    folder.write("a.toml", BASE);
    folder.write(
        "b.toml",
        BASE.replace("id = \"cas-res\"", "id = \"admin\"").replace(
            r#"["https://cas-res.example.fr/login", "https://cas-res.example.fr/app/*"]"#,
            r#"["https://cas-res.example.fr/app/admin"]"#,
        ),
    );
    let registry = folder.load().unwrap();
    // Positive controls: a URL only one service matches.
    assert_eq!(
        registry
            .by_cas_service("https://cas-res.example.fr/app/notes")
            .unwrap()
            .id,
        "cas-res"
    );
    assert_eq!(
        registry
            .by_cas_service("https://cas-res.example.fr/login")
            .unwrap()
            .id,
        "cas-res"
    );
    assert_eq!(
        registry
            .by_cas_service("https://cas-res.example.fr/app/admin")
            .unwrap_err(),
        CasLookupError::Ambiguous {
            services: vec!["cas-res".into(), "admin".into()]
        }
    );
}

#[test]
fn lookups_refuse_look_alike_urls() {
    let registry = loads(BASE);
    assert!(
        registry
            .by_cas_service("HTTPS://Cas-Res.example.fr:443/login")
            .is_ok()
    );
    for url in [
        "https://cas-res.example.fr.evil.example/login",
        "https://cas-res.example.fr@evil.example/",
        "https://cas-resXexample.fr/login",
        "http://cas-res.example.fr/login",
        "https://cas-res.example.fr/login/../admin",
        "https://cas-res.example.fr/app/../admin",
        "https://cas-res.example.fr/login#x",
        "https://cas-res.example.fr:8443/login",
        "not a url",
    ] {
        assert_eq!(
            registry.by_cas_service(url).unwrap_err(),
            CasLookupError::NoMatch,
            "{url}"
        );
    }
}

/// CAS writes each attribute as an element: a custom release name that is
/// not an XML name is refused for a CAS service, while the same name loads
/// for a service without `[cas]` (positive control), and an XML custom name
/// loads for the CAS service.
#[test]
fn cas_release_names_must_be_xml_names() {
    let custom = "\n[release]\nattributes = [\"IDO\"]\n[release.custom]\n\"urn:oid:2.5.4.42\" = \"given_name\"\n";
    let (folder, error) = only_error(&append(custom));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(11),
        Some("release.custom"),
    );
    assert!(
        matches!(&error.reason, LoadErrorKind::NotAnXmlName(name) if name == "urn:oid:2.5.4.42"),
        "{error}"
    );
    loads(&append(&custom.replace("urn:oid:2.5.4.42", "prenom")));

    let saml = format!(
        "id = \"saml-res\"\ndisplay_name = \"S\"\nkind = \"ent\"\n[saml]\nentity_id = \"https://saml-res.example.fr/sp\"\nacs = [{{ url = \"https://saml-res.example.fr/acs\", binding = \"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" }}]\nrequire_signed_authn_requests = false\n{custom}"
    );
    loads(&saml);
}

#[test]
fn xml_element_names() {
    for good in ["UAI", "P_MEL", "E_MS1", "_x", "a.b-c"] {
        assert!(sp_registry::is_xml_element_name(good), "{good}");
    }
    for bad in ["", "1A", "-a", ".a", "urn:oid:2.5.4.42", "a b", "a>b", "é"] {
        assert!(!sp_registry::is_xml_element_name(bad), "{bad}");
    }
}
