//! Metadata: builders read back by the parser, a hand-written federation
//! aggregate, and signed metadata.

use sso_saml::dsig::{DsigError, sign_enveloped};
use sso_saml::keys::Certificate;
use sso_saml::metadata::{
    Endpoint, IdpMetadataSpec, MetadataError, SpMetadataSpec, build_idp_metadata,
    build_sp_metadata, metadata_id, parse, parse_signed,
};
use sso_saml::ns;

use crate::common::*;

const FEDERATION: &str = include_str!("../fixtures/federation-metadata.xml");

fn fixture_cert(name: &str) -> Certificate {
    let path = format!("{}/tests/fixtures/{name}.crt", env!("CARGO_MANIFEST_DIR"));
    Certificate::from_pem(&std::fs::read(path).unwrap()).unwrap()
}

fn idp_metadata() -> String {
    build_idp_metadata(&IdpMetadataSpec {
        entity_id: "https://gateway.test/idp",
        signing_certs: &[
            idp_key().certificate().clone(),
            attacker_key().certificate().clone(),
        ],
        sso_redirect: "https://gateway.test/idp/sso/redirect",
        sso_post: "https://gateway.test/idp/sso/post",
        slo_redirect: "https://gateway.test/idp/slo/redirect",
        slo_post: "https://gateway.test/idp/slo/post",
        name_id_formats: &[ns::NAMEID_PERSISTENT, ns::NAMEID_TRANSIENT],
    })
}

fn endpoint(binding: &str, location: &str) -> Endpoint {
    Endpoint {
        binding: binding.into(),
        location: location.into(),
        index: None,
        is_default: false,
    }
}

#[test]
fn built_idp_metadata_reads_back() {
    let parsed = parse(&idp_metadata(), Some("https://gateway.test/idp")).unwrap();
    assert_eq!(parsed.entity_id, "https://gateway.test/idp");
    assert!(parsed.sp.is_none());
    assert_eq!(parsed.valid_until, None);
    let idp = parsed.idp.unwrap();
    assert_eq!(
        idp.signing_certs,
        vec![
            idp_key().certificate().clone(),
            attacker_key().certificate().clone()
        ]
    );
    assert_eq!(
        idp.sso,
        vec![
            endpoint(
                ns::BINDING_HTTP_REDIRECT,
                "https://gateway.test/idp/sso/redirect"
            ),
            endpoint(ns::BINDING_HTTP_POST, "https://gateway.test/idp/sso/post"),
        ]
    );
    assert_eq!(
        idp.slo,
        vec![
            endpoint(
                ns::BINDING_HTTP_REDIRECT,
                "https://gateway.test/idp/slo/redirect"
            ),
            endpoint(ns::BINDING_HTTP_POST, "https://gateway.test/idp/slo/post"),
        ]
    );
    assert!(!idp.want_authn_requests_signed);
}

#[test]
fn built_sp_metadata_reads_back() {
    let xml = build_sp_metadata(&SpMetadataSpec {
        entity_id: "https://gateway.test/sp",
        signing_cert: sp_key().certificate(),
        encryption_cert: Some(idp_key().certificate()),
        acs_post: "https://gateway.test/sp/acs",
        slo_redirect: Some("https://gateway.test/sp/slo"),
        slo_post: None,
        authn_requests_signed: true,
        want_assertions_signed: true,
    });
    let sp = parse(&xml, None).unwrap().sp.unwrap();
    assert_eq!(
        sp.acs,
        vec![Endpoint {
            binding: ns::BINDING_HTTP_POST.into(),
            location: "https://gateway.test/sp/acs".into(),
            index: Some(0),
            is_default: true,
        }]
    );
    assert_eq!(
        sp.slo,
        vec![endpoint(
            ns::BINDING_HTTP_REDIRECT,
            "https://gateway.test/sp/slo"
        )]
    );
    assert_eq!(sp.signing_certs, vec![sp_key().certificate().clone()]);
    assert_eq!(sp.encryption_certs, vec![idp_key().certificate().clone()]);
    assert!(sp.authn_requests_signed);
    assert!(sp.want_assertions_signed);
    assert!(sp.name_id_formats.is_empty());
}

#[test]
fn federation_aggregate_idp_is_read() {
    let parsed = parse(
        FEDERATION,
        Some("https://idp.federation.test/idp/shibboleth"),
    )
    .unwrap();
    assert_eq!(
        parsed.valid_until,
        Some(sso_saml::time::parse("2030-06-30T12:00:00Z").unwrap())
    );
    assert!(parsed.sp.is_none());
    let idp = parsed.idp.unwrap();
    assert!(idp.want_authn_requests_signed);
    assert_eq!(
        idp.signing_certs,
        vec![fixture_cert("idp1"), fixture_cert("idp2")]
    );
    assert_eq!(idp.sso.len(), 3);
    assert_eq!(
        idp.sso[2],
        endpoint(
            ns::BINDING_HTTP_REDIRECT,
            "https://idp.federation.test/idp/profile/SAML2/Redirect/SSO"
        )
    );
    assert_eq!(idp.slo.len(), 2);
}

#[test]
fn federation_aggregate_sp_is_read() {
    let parsed = parse(FEDERATION, Some("https://ent.federation.test/sp")).unwrap();
    assert_eq!(
        parsed.valid_until,
        Some(sso_saml::time::parse("2036-01-01T00:00:00Z").unwrap())
    );
    let sp = parsed.sp.unwrap();
    assert!(sp.authn_requests_signed);
    assert!(sp.want_assertions_signed);
    assert!(sp.signing_certs.is_empty());
    assert_eq!(sp.encryption_certs, vec![fixture_cert("sp1")]);
    assert_eq!(sp.acs.len(), 2);
    assert_eq!(sp.acs[0].index, Some(1));
    assert!(sp.acs[0].is_default);
    assert!(!sp.acs[1].is_default);
    assert_eq!(sp.slo[0].binding, ns::BINDING_SOAP);
    assert_eq!(sp.name_id_formats, vec![ns::NAMEID_TRANSIENT.to_owned()]);
}

#[test]
fn aggregate_needs_a_known_entity_id() {
    assert!(matches!(
        parse(FEDERATION, None),
        Err(MetadataError::EntityIdRequired { count: 2 })
    ));
    assert!(matches!(
        parse(FEDERATION, Some("https://unknown.test")),
        Err(MetadataError::EntityNotFound { .. })
    ));
    let doubled = FEDERATION.replace(
        "https://ent.federation.test/sp",
        "https://idp.federation.test/idp/shibboleth",
    );
    assert!(matches!(
        parse(&doubled, Some("https://idp.federation.test/idp/shibboleth")),
        Err(MetadataError::DuplicateEntity { .. })
    ));
}

#[test]
fn signed_metadata_is_accepted_and_tampered_metadata_refused() {
    let xml = idp_metadata();
    let signed = sign_enveloped(&xml, &metadata_id("https://gateway.test/idp"), idp_key()).unwrap();
    let parsed = parse_signed(&signed, None, idp_key().certificate()).unwrap();
    assert_eq!(
        parsed.idp.unwrap().sso[1].location,
        "https://gateway.test/idp/sso/post"
    );
    let tampered = signed.replace(
        "https://gateway.test/idp/sso/post",
        "https://evil.test/idp/sso/post",
    );
    assert!(
        parse(&tampered, None).is_ok(),
        "the tampered document is well-formed"
    );
    assert!(matches!(
        parse_signed(&tampered, None, idp_key().certificate()),
        Err(MetadataError::Signature(DsigError::InvalidSignature))
    ));
    assert!(matches!(
        parse_signed(&signed, None, attacker_key().certificate()),
        Err(MetadataError::Signature(DsigError::InvalidSignature))
    ));
    assert!(matches!(
        parse_signed(&xml, None, idp_key().certificate()),
        Err(MetadataError::Signature(DsigError::NoSignature))
    ));
}

#[test]
fn signed_metadata_verifies_with_xmlsec1() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cert) = write_key_files(dir.path(), "idp", idp_key());
    let signed = sign_enveloped(
        &idp_metadata(),
        &metadata_id("https://gateway.test/idp"),
        idp_key(),
    )
    .unwrap();
    let file = dir.path().join("metadata.xml");
    std::fs::write(&file, &signed).unwrap();
    let (ok, log) = run_xmlsec1(&[
        "--verify",
        "--id-attr:ID",
        "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor",
        "--pubkey-cert-pem",
        cert.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert!(ok, "{log}");
}
