//! Choice of the AssertionConsumerService: exact match of a registered URL or
//! index, default rules, HTTP-POST only.

use std::time::Duration;

use sp_registry::{AcsError, NameIdFormat, SamlService};
use sso_saml::metadata::Endpoint;

use crate::common::valid_registry;

const POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

fn ent() -> SamlService {
    valid_registry()
        .by_id("ent-college")
        .unwrap()
        .saml
        .clone()
        .unwrap()
}

#[test]
fn registered_url_is_accepted() {
    let saml = ent();
    let acs = saml
        .resolve_acs(Some("https://ent.example.fr/saml/acs"), None)
        .unwrap();
    assert_eq!(acs.location, "https://ent.example.fr/saml/acs");
    assert_eq!(acs.index, Some(1));
}

#[test]
fn unregistered_url_is_refused() {
    let saml = ent();
    assert_eq!(
        saml.resolve_acs(Some("https://evil.example.com/acs"), None),
        Err(AcsError::UnregisteredUrl(
            "https://evil.example.com/acs".into()
        ))
    );
}

#[test]
fn near_miss_urls_are_refused() {
    let saml = ent();
    assert!(
        saml.resolve_acs(Some("https://ent.example.fr/saml/acs"), None)
            .is_ok()
    );
    for near_miss in [
        "https://ent.example.fr/saml/acs/",
        "https://ent.example.fr/saml/ACS",
        "https://ENT.example.fr/saml/acs",
        "https://ent.example.fr:443/saml/acs",
        "https://ent.example.fr/saml/acs?x=1",
        "https://ent.example.fr/saml/ac",
    ] {
        assert_eq!(
            saml.resolve_acs(Some(near_miss), None),
            Err(AcsError::UnregisteredUrl(near_miss.into())),
            "{near_miss}"
        );
    }
}

#[test]
fn index_lookup() {
    let saml = ent();
    assert_eq!(
        saml.resolve_acs(None, Some(1)).unwrap().location,
        "https://ent.example.fr/saml/acs"
    );
    assert_eq!(
        saml.resolve_acs(None, Some(0)).unwrap().location,
        "https://ent.example.fr/saml/acs-alt"
    );
    assert_eq!(
        saml.resolve_acs(None, Some(9)),
        Err(AcsError::UnknownIndex(9))
    );
}

#[test]
fn url_and_index_together_are_refused() {
    let saml = ent();
    assert_eq!(
        saml.resolve_acs(Some("https://ent.example.fr/saml/acs"), Some(1)),
        Err(AcsError::UrlAndIndex)
    );
}

#[test]
fn only_http_post_endpoints_are_answered_to() {
    let saml = ent();
    let redirect = "https://ent.example.fr/saml/acs-redirect";
    let expected = Err(AcsError::NotPostBinding {
        location: redirect.into(),
        binding: REDIRECT.into(),
    });
    assert_eq!(saml.resolve_acs(Some(redirect), None), expected);
    assert_eq!(saml.resolve_acs(None, Some(2)), expected);
}

#[test]
fn default_is_the_one_marked_default() {
    let saml = ent();
    assert_eq!(
        saml.resolve_acs(None, None).unwrap().location,
        "https://ent.example.fr/saml/acs-alt"
    );
}

fn endpoint(location: &str, binding: &str, index: Option<u16>, is_default: bool) -> Endpoint {
    Endpoint {
        binding: binding.into(),
        location: location.into(),
        index,
        is_default,
    }
}

fn service(acs: Vec<Endpoint>) -> SamlService {
    SamlService {
        entity_id: "https://sp.example.fr".into(),
        acs,
        slo: Vec::new(),
        signing_certs: Vec::new(),
        encryption_certs: Vec::new(),
        require_signed_authn_requests: false,
        sign_response: false,
        name_id_format: NameIdFormat::Persistent,
        assertion_lifetime: Duration::from_secs(300),
    }
}

#[test]
fn default_falls_back_to_the_lowest_index_then_the_first() {
    let indexed = service(vec![
        endpoint("https://sp/redirect", REDIRECT, Some(0), true),
        endpoint("https://sp/three", POST, Some(3), false),
        endpoint("https://sp/none", POST, None, false),
        endpoint("https://sp/two", POST, Some(2), false),
    ]);
    // the Redirect endpoint marked default is skipped: only HTTP-POST counts
    assert_eq!(
        indexed.resolve_acs(None, None).unwrap().location,
        "https://sp/two"
    );
    let unindexed = service(vec![
        endpoint("https://sp/first", POST, None, false),
        endpoint("https://sp/second", POST, None, false),
    ]);
    assert_eq!(
        unindexed.resolve_acs(None, None).unwrap().location,
        "https://sp/first"
    );
    let no_post = service(vec![endpoint("https://sp/r", REDIRECT, None, true)]);
    assert_eq!(no_post.resolve_acs(None, None), Err(AcsError::NoPostAcs));
}
