//! The trusted-header connector (domain rule "Agents (ARENA)": identity
//! passed by the académie's reverse proxy). Each refusal has its positive
//! control: the same headers from a trusted proxy, given once, are accepted.
#![cfg(test)]

use std::net::IpAddr;

use http::{HeaderMap, HeaderValue};
use idp_connectors::config::HeaderIdpConfig;
use idp_connectors::headers::{HeaderConfigError, HeaderConnector, HeaderError};
use idp_connectors::mapping::{Mapping, MappingConfig};
use sso_core::{Profile, attr};

const ARENA_MAPPING: &str = r#"
subject = "name_id"
[[rules]]
from = "ctemail"
to = "email"
[[rules]]
from = "ctln"
to = "surname"
[[rules]]
from = "FrEduFonctAdm"
to = "profile"
map = { ENS = "National_ENS", DIR = "National_DIR" }
[[rules]]
from = "FrEduRne"
to = "uai"
field_separator = "$"
field = 0
"#;

fn config(extra: &str) -> HeaderIdpConfig {
    toml::from_str(&format!(
        r#"
id = "arena"
label = "Personnel (portail ARENA)"
trusted_proxies = ["192.0.2.10", "10.20.0.0/16", "2001:db8::/32"]
subject_header = "ct-remote-user"
mapping = "arena"
{extra}
"#
    ))
    .unwrap()
}

fn mapping() -> Mapping {
    let config: MappingConfig = toml::from_str(ARENA_MAPPING).unwrap();
    Mapping::new(&config).unwrap()
}

fn connector(extra: &str) -> HeaderConnector {
    HeaderConnector::new(config(extra), mapping()).unwrap()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    map
}

fn agent() -> HeaderMap {
    headers(&[
        ("ct-remote-user", "cdupont"),
        ("ctemail", "camille.dupont@ac-rennes.fr"),
        ("ctln", "Dupont"),
        ("fredufonctadm", "ENS"),
        (
            "FrEduRne",
            "0350001A$UAJ$PU$N$T3$LYC$340, 0351234B$UAJ$PU$N$T3$CLG$340 ,",
        ),
    ])
}

#[test]
fn trusted_proxy_identity_is_mapped() {
    let identity = connector(r#"authn_context = "urn:ac:arena""#)
        .identity(ip("192.0.2.10"), &agent())
        .unwrap();
    assert_eq!(identity.idp, "arena");
    assert_eq!(identity.subject, "cdupont");
    assert_eq!(
        identity.values(attr::EMAIL),
        ["camille.dupont@ac-rennes.fr"]
    );
    assert_eq!(identity.values(attr::SURNAME), ["Dupont"]);
    assert_eq!(identity.profiles(), vec![Profile::Ens]);
    assert_eq!(identity.authn_context.as_deref(), Some("urn:ac:arena"));
}

#[test]
fn multi_values_are_split_on_the_separator_and_trimmed() {
    let identity = connector("").identity(ip("192.0.2.10"), &agent()).unwrap();
    assert_eq!(identity.values(attr::UAI), ["0350001A", "0351234B"]);

    let mut with_semicolons = agent();
    with_semicolons.insert(
        "fredurne",
        HeaderValue::from_static("0350001A$UAJ ; 0351234B$UAJ"),
    );
    let identity = connector(r#"separator = ";""#)
        .identity(ip("192.0.2.10"), &with_semicolons)
        .unwrap();
    assert_eq!(identity.values(attr::UAI), ["0350001A", "0351234B"]);
}

#[test]
fn untrusted_peer_is_refused_even_with_headers() {
    let connector = connector("");
    connector.identity(ip("192.0.2.10"), &agent()).unwrap();
    let err = connector.identity(ip("192.0.2.11"), &agent()).unwrap_err();
    assert!(matches!(err, HeaderError::UntrustedPeer(_)), "{err}");
    let err = connector.identity(ip("2001:db9::1"), &agent()).unwrap_err();
    assert!(matches!(err, HeaderError::UntrustedPeer(_)), "{err}");
}

#[test]
fn cidr_networks_are_trusted_whole_and_no_further() {
    let connector = connector("");
    connector.identity(ip("10.20.0.1"), &agent()).unwrap();
    connector.identity(ip("10.20.255.254"), &agent()).unwrap();
    connector.identity(ip("2001:db8:1::7"), &agent()).unwrap();
    // An IPv4 proxy seen through a dual-stack socket.
    connector
        .identity(ip("::ffff:10.20.3.4"), &agent())
        .unwrap();
    let err = connector.identity(ip("10.21.0.1"), &agent()).unwrap_err();
    assert!(matches!(err, HeaderError::UntrustedPeer(_)), "{err}");
}

#[test]
fn missing_or_empty_subject_is_refused() {
    let connector = connector("");
    connector.identity(ip("192.0.2.10"), &agent()).unwrap();
    let mut without = agent();
    without.remove("ct-remote-user");
    let err = connector.identity(ip("192.0.2.10"), &without).unwrap_err();
    assert!(matches!(err, HeaderError::MissingSubject(_)), "{err}");
    let mut empty = agent();
    empty.insert("ct-remote-user", HeaderValue::from_static("  "));
    let err = connector.identity(ip("192.0.2.10"), &empty).unwrap_err();
    assert!(matches!(err, HeaderError::EmptySubject(_)), "{err}");
}

#[test]
fn duplicate_headers_are_refused() {
    let connector = connector("");
    connector.identity(ip("192.0.2.10"), &agent()).unwrap();
    let mut two_subjects = agent();
    two_subjects.append("ct-remote-user", HeaderValue::from_static("admin"));
    let err = connector
        .identity(ip("192.0.2.10"), &two_subjects)
        .unwrap_err();
    assert!(matches!(err, HeaderError::DuplicateHeader(name) if name == "ct-remote-user"));
    let mut two_functions = agent();
    two_functions.append("fredufonctadm", HeaderValue::from_static("DIR"));
    let err = connector
        .identity(ip("192.0.2.10"), &two_functions)
        .unwrap_err();
    assert!(matches!(err, HeaderError::DuplicateHeader(name) if name == "fredufonctadm"));
}

#[test]
fn non_utf8_headers_are_refused_and_utf8_accepted() {
    let connector = connector("");
    let mut utf8 = agent();
    utf8.insert(
        "ctln",
        HeaderValue::from_bytes("Lefèvre".as_bytes()).unwrap(),
    );
    let identity = connector.identity(ip("192.0.2.10"), &utf8).unwrap();
    assert_eq!(identity.values(attr::SURNAME), ["Lefèvre"]);
    let mut latin1 = agent();
    latin1.insert("ctln", HeaderValue::from_bytes(b"Lef\xe8vre").unwrap());
    let err = connector.identity(ip("192.0.2.10"), &latin1).unwrap_err();
    assert!(matches!(err, HeaderError::NotUtf8(name) if name == "ctln"));
}

#[test]
fn bad_configurations_are_refused() {
    let err =
        HeaderConnector::new(config("").tap(|c| c.trusted_proxies.clear()), mapping()).unwrap_err();
    assert!(matches!(err, HeaderConfigError::NoTrustedProxies));
    let bad: HeaderIdpConfig = toml::from_str(
        r#"
id = "arena"
label = "x"
trusted_proxies = ["10.0.0.0/33"]
subject_header = "ct-remote-user"
mapping = "arena"
"#,
    )
    .unwrap();
    assert!(matches!(
        HeaderConnector::new(bad, mapping()).unwrap_err(),
        HeaderConfigError::BadProxy(_)
    ));
    let err = HeaderConnector::new(
        config("").tap(|c| *c.subject_header.get_mut() = "bad header".to_owned()),
        mapping(),
    )
    .unwrap_err();
    assert!(matches!(err, HeaderConfigError::BadHeaderName(_)));
    let err = HeaderConnector::new(config(r#"separator = """#), mapping()).unwrap_err();
    assert!(matches!(err, HeaderConfigError::EmptySeparator));
}

trait Tap: Sized {
    fn tap(self, edit: impl FnOnce(&mut Self)) -> Self;
}

impl Tap for HeaderIdpConfig {
    fn tap(mut self, edit: impl FnOnce(&mut Self)) -> Self {
        edit(&mut self);
        self
    }
}
