//! HTTP-Redirect and HTTP-POST bindings: round trips, signatures, limits.

use std::io::Write;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::write::DeflateEncoder;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use openssl::x509::{X509, X509NameBuilder};
use sso_saml::binding::{
    BindingError, MessageKind, decode_post, decode_redirect, post_form, redirect_url,
    verify_redirect_signature,
};
use sso_saml::keys::Certificate;
use sso_saml::messages::{AuthnRequestSpec, build_authn_request, parse_authn_request};
use sso_saml::ns;
use sso_saml::xml::XmlError;
use url::Url;
use url::form_urlencoded::byte_serialize;

use crate::common::*;

const MAX: usize = 64 * 1024;

fn request_xml() -> String {
    build_authn_request(&AuthnRequestSpec {
        id: "_req42".into(),
        issuer: "https://gateway.test/sp".into(),
        destination: "https://educonnect.test/idp/profile/SAML2/Redirect/SSO".into(),
        acs_url: Some("https://gateway.test/sp/acs".into()),
        protocol_binding: Some(ns::BINDING_HTTP_POST.into()),
        name_id_format: Some(ns::NAMEID_TRANSIENT.into()),
        force_authn: false,
        is_passive: false,
        requested_authn_context: vec![],
        issue_instant: t(8),
    })
}

fn query_of(url: &str) -> String {
    Url::parse(url).unwrap().query().unwrap().to_owned()
}

fn sp_certs() -> Vec<Certificate> {
    vec![sp_key().certificate().clone()]
}

fn enc(value: &str) -> String {
    byte_serialize(value.as_bytes()).collect()
}

fn deflate_b64(data: &[u8]) -> String {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(data).unwrap();
    STANDARD.encode(encoder.finish().unwrap())
}

#[test]
fn unsigned_redirect_round_trip_keeps_endpoint_parameters() {
    let url = redirect_url(
        "https://educonnect.test/idp/sso?tenant=pr4",
        MessageKind::Request,
        &request_xml(),
        Some("état=1&x"),
        None,
    )
    .unwrap();
    assert!(url.starts_with("https://educonnect.test/idp/sso?tenant=pr4&SAMLRequest="));
    let msg = decode_redirect(&query_of(&url), MAX).unwrap();
    assert_eq!(msg.kind, MessageKind::Request);
    assert_eq!(msg.xml, request_xml());
    assert_eq!(msg.relay_state.as_deref(), Some("état=1&x"));
    assert!(msg.signature.is_none());
    assert!(matches!(
        verify_redirect_signature(&msg, &sp_certs()),
        Err(BindingError::MissingSignature)
    ));
    assert_eq!(parse_authn_request(&msg.xml).unwrap().id, "_req42");
}

#[test]
fn signed_redirect_verifies_and_tampered_relay_state_is_refused() {
    let url = redirect_url(
        "https://educonnect.test/idp/sso",
        MessageKind::Request,
        &request_xml(),
        Some("relay-1"),
        Some(sp_key()),
    )
    .unwrap();
    let query = query_of(&url);
    let msg = decode_redirect(&query, MAX).unwrap();
    let signature = msg.signature.as_ref().unwrap();
    assert_eq!(signature.sig_alg, ns::SIG_RSA_SHA256);
    assert!(verify_redirect_signature(&msg, &sp_certs()).is_ok());
    assert!(matches!(
        verify_redirect_signature(&msg, &[attacker_key().certificate().clone()]),
        Err(BindingError::InvalidSignature)
    ));
    let tampered = decode_redirect(&query.replace("relay-1", "relay-2"), MAX).unwrap();
    assert_eq!(tampered.relay_state.as_deref(), Some("relay-2"));
    assert!(matches!(
        verify_redirect_signature(&tampered, &sp_certs()),
        Err(BindingError::InvalidSignature)
    ));
    let dropped = decode_redirect(&query.replace("&RelayState=relay-1", ""), MAX).unwrap();
    assert!(matches!(
        verify_redirect_signature(&dropped, &sp_certs()),
        Err(BindingError::InvalidSignature)
    ));
}

#[test]
fn signed_octets_use_the_original_encoding() {
    // Another implementation may encode differently (lowercase hex, %20): the
    // signature covers its octets, not ours.
    let message = enc(&deflate_b64(request_xml().as_bytes()))
        .replace("%2B", "%2b")
        .replace("%2F", "%2f")
        .replace("%3D", "%3d");
    let relay = "a%20b%2fc";
    let sig_alg = enc(ns::SIG_RSA_SHA256);
    let signed = format!("SAMLRequest={message}&RelayState={relay}&SigAlg={sig_alg}");
    let pkey = PKey::private_key_from_pem(&sp_key().private_key_pem().unwrap()).unwrap();
    let mut signer = Signer::new(MessageDigest::sha256(), &pkey).unwrap();
    let signature = signer.sign_oneshot_to_vec(signed.as_bytes()).unwrap();
    let query = format!(
        "foo=bar&{signed}&Signature={}",
        enc(&STANDARD.encode(signature))
    );
    let msg = decode_redirect(&query, MAX).unwrap();
    assert_eq!(msg.relay_state.as_deref(), Some("a b/c"));
    assert_eq!(
        msg.signature.as_ref().unwrap().signed_octets,
        signed.as_bytes()
    );
    assert!(verify_redirect_signature(&msg, &sp_certs()).is_ok());
}

fn rsa_signed_query(sig_alg: &str, digest: MessageDigest) -> String {
    let signed = format!(
        "SAMLRequest={}&SigAlg={}",
        enc(&deflate_b64(request_xml().as_bytes())),
        enc(sig_alg)
    );
    let pkey = PKey::private_key_from_pem(&sp_key().private_key_pem().unwrap()).unwrap();
    let mut signer = Signer::new(digest, &pkey).unwrap();
    let signature = signer.sign_oneshot_to_vec(signed.as_bytes()).unwrap();
    format!("{signed}&Signature={}", enc(&STANDARD.encode(signature)))
}

#[test]
fn sha1_sig_alg_is_refused() {
    let control = decode_redirect(
        &rsa_signed_query(ns::SIG_RSA_SHA512, MessageDigest::sha512()),
        MAX,
    )
    .unwrap();
    assert!(verify_redirect_signature(&control, &sp_certs()).is_ok());
    let sha1 = decode_redirect(
        &rsa_signed_query(ns::SIG_RSA_SHA1, MessageDigest::sha1()),
        MAX,
    )
    .unwrap();
    match verify_redirect_signature(&sha1, &sp_certs()) {
        Err(BindingError::Sha1Refused { sig_alg }) => assert_eq!(sig_alg, ns::SIG_RSA_SHA1),
        other => panic!("expected Sha1Refused, got {other:?}"),
    }
}

#[test]
fn ecdsa_sha256_is_accepted_in_der_and_raw_forms() {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let pkey = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "ec.test").unwrap();
    let name = name.build();
    let mut builder = X509::builder().unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(&pkey).unwrap();
    builder
        .set_not_before(openssl::asn1::Asn1Time::days_from_now(0).unwrap().as_ref())
        .unwrap();
    builder
        .set_not_after(openssl::asn1::Asn1Time::days_from_now(1).unwrap().as_ref())
        .unwrap();
    builder.sign(&pkey, MessageDigest::sha256()).unwrap();
    let cert = Certificate::from_pem(&builder.build().to_pem().unwrap()).unwrap();
    assert!(!cert.public_key_is_rsa());

    let signed = format!(
        "SAMLRequest={}&SigAlg={}",
        enc(&deflate_b64(request_xml().as_bytes())),
        enc(ns::SIG_ECDSA_SHA256)
    );
    let mut signer = Signer::new(MessageDigest::sha256(), &pkey).unwrap();
    let der = signer.sign_oneshot_to_vec(signed.as_bytes()).unwrap();
    let sig = openssl::ecdsa::EcdsaSig::from_der(&der).unwrap();
    let mut raw = sig.r().to_vec_padded(32).unwrap();
    raw.extend(sig.s().to_vec_padded(32).unwrap());
    for form in [der, raw] {
        let query = format!("{signed}&Signature={}", enc(&STANDARD.encode(&form)));
        let msg = decode_redirect(&query, MAX).unwrap();
        assert!(verify_redirect_signature(&msg, std::slice::from_ref(&cert)).is_ok());
        let other = decode_redirect(
            &query.replace("SAMLRequest=", "RelayState=x&SAMLRequest="),
            MAX,
        )
        .unwrap();
        assert!(verify_redirect_signature(&other, std::slice::from_ref(&cert)).is_err());
    }
}

#[test]
fn deflate_bomb_is_refused_at_the_limit() {
    let padding = " ".repeat(4 * 1024 * 1024);
    let bomb = format!(
        "<samlp:AuthnRequest xmlns:samlp=\"{}\">{padding}</samlp:AuthnRequest>",
        ns::PROTOCOL
    );
    let query = format!("SAMLRequest={}", enc(&deflate_b64(bomb.as_bytes())));
    assert!(query.len() < 20_000, "the bomb is small on the wire");
    assert!(decode_redirect(&query, bomb.len()).is_ok());
    assert!(matches!(
        decode_redirect(&query, MAX),
        Err(BindingError::DeflateBomb { max: MAX })
    ));
}

#[test]
fn redirect_parameters_are_checked() {
    let good = format!(
        "SAMLRequest={}",
        enc(&deflate_b64(request_xml().as_bytes()))
    );
    assert!(decode_redirect(&good, MAX).is_ok());
    assert!(matches!(
        decode_redirect(&format!("{good}&{good}"), MAX),
        Err(BindingError::DuplicateParameter {
            name: "SAMLRequest"
        })
    ));
    assert!(matches!(
        decode_redirect("RelayState=x", MAX),
        Err(BindingError::MissingMessage)
    ));
    assert!(matches!(
        decode_redirect(&format!("{good}&SigAlg=x"), MAX),
        Err(BindingError::IncompleteSignature)
    ));
    assert!(matches!(
        decode_redirect(&format!("{good}&SAMLEncoding=urn:other"), MAX),
        Err(BindingError::UnsupportedEncoding { .. })
    ));
    assert!(matches!(
        decode_redirect("SAMLRequest=%%%%", MAX),
        Err(BindingError::Base64 { .. })
    ));
}

#[test]
fn doctype_in_redirect_and_post_is_refused() {
    let xxe = format!(
        "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
        request_xml()
    );
    let ok = format!(
        "SAMLRequest={}",
        enc(&deflate_b64(request_xml().as_bytes()))
    );
    assert!(decode_redirect(&ok, MAX).is_ok());
    let query = format!("SAMLRequest={}", enc(&deflate_b64(xxe.as_bytes())));
    assert!(matches!(
        decode_redirect(&query, MAX),
        Err(BindingError::Xml(XmlError::Doctype))
    ));
    assert!(decode_post(&STANDARD.encode(request_xml()), MAX).is_ok());
    assert!(matches!(
        decode_post(&STANDARD.encode(xxe), MAX),
        Err(BindingError::Xml(XmlError::Doctype))
    ));
}

#[test]
fn post_decoding_tolerates_whitespace_and_enforces_the_limit() {
    let xml = request_xml();
    let b64 = STANDARD.encode(&xml);
    let wrapped: String = b64
        .as_bytes()
        .chunks(76)
        .map(|line| format!("{}\r\n", String::from_utf8_lossy(line)))
        .collect();
    assert_eq!(decode_post(&wrapped, xml.len()).unwrap(), xml);
    assert!(matches!(
        decode_post(&wrapped, xml.len() - 1),
        Err(BindingError::TooLarge { .. })
    ));
    let huge = "A".repeat(10 * MAX);
    assert!(matches!(
        decode_post(&huge, MAX),
        Err(BindingError::TooLarge { max: MAX })
    ));
    assert!(matches!(
        decode_post("not base64 at all!", MAX),
        Err(BindingError::Base64 { .. })
    ));
}

#[test]
fn post_form_carries_the_message() {
    let page = post_form(
        "https://gateway.test/sp/acs",
        MessageKind::Response,
        &request_xml(),
        Some("rs\"1"),
    );
    let marker = "name=\"SAMLResponse\" value=\"";
    let start = page.find(marker).unwrap() + marker.len();
    let end = start + page[start..].find('"').unwrap();
    assert_eq!(decode_post(&page[start..end], MAX).unwrap(), request_xml());
    assert!(page.contains("name=\"RelayState\" value=\"rs&quot;1\""));
    assert!(page.contains("<noscript>"));
}
