//! A `ds:Signature` written by hand (xmldsig-core §4: SignedInfo with one
//! same-document Reference, enveloped-signature and exclusive c14n
//! transforms) and signed by libxmlsec1 through samael's `XmlSec::sign_xml`,
//! so that the IdP can sign with algorithms the gateway must refuse (RSA-SHA1,
//! a SHA-1 DigestMethod) that `sso_saml::dsig::sign_enveloped` never writes.
#![cfg(test)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use samael::crypto::{CryptoProvider, XmlSec};
use sso_saml::keys::SigningKey;
use sso_saml::ns;

use super::element_id;
use super::xml_edit;

/// The root element of `xml` (an assertion with a `saml:Issuer`) signed with
/// `key`, the template naming `signature_method` and `digest_method`; the
/// result has no XML declaration.
pub fn sign(xml: &str, key: &SigningKey, signature_method: &str, digest_method: &str) -> String {
    let id = element_id(xml);
    let template = format!(
        concat!(
            r#"<ds:Signature xmlns:ds="{dsig}"><ds:SignedInfo>"#,
            r#"<ds:CanonicalizationMethod Algorithm="{c14n}"/>"#,
            r#"<ds:SignatureMethod Algorithm="{signature_method}"/>"#,
            r##"<ds:Reference URI="#{id}"><ds:Transforms>"##,
            r#"<ds:Transform Algorithm="{enveloped}"/>"#,
            r#"<ds:Transform Algorithm="{c14n}"/></ds:Transforms>"#,
            r#"<ds:DigestMethod Algorithm="{digest_method}"/><ds:DigestValue/>"#,
            r#"</ds:Reference></ds:SignedInfo><ds:SignatureValue/>"#,
            r#"<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate>"#,
            r#"</ds:X509Data></ds:KeyInfo></ds:Signature>"#
        ),
        dsig = ns::DSIG,
        signature_method = signature_method,
        digest_method = digest_method,
        id = id,
        c14n = ns::C14N_EXCLUSIVE,
        enveloped = ns::TRANSFORM_ENVELOPED,
        cert = key.certificate().to_base64_der(),
    );
    let issuer_end = xml_edit::nth_element_range(xml, "saml:Issuer", 0).end;
    let with_template = format!("{}{template}{}", &xml[..issuer_end], &xml[issuer_end..]);
    let signed = XmlSec::sign_xml(with_template.as_bytes(), &private_key_der(key)).unwrap();
    let signed = signed.trim();
    match signed.strip_prefix("<?xml") {
        Some(rest) => rest[rest.find("?>").unwrap() + 2..].trim().to_owned(),
        None => signed.to_owned(),
    }
}

/// The PKCS#8 DER encoding of the private key.
fn private_key_der(key: &SigningKey) -> Vec<u8> {
    let pem = String::from_utf8(key.private_key_pem().unwrap()).unwrap();
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    STANDARD.decode(body).unwrap()
}
