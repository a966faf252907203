//! Shared helpers: keys, specs, and the `xmlsec1` command line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use chrono::{DateTime, Duration, TimeZone, Utc};
use sso_saml::keys::SigningKey;
use sso_saml::messages::{AssertionSpec, ResponseSpec, SamlAttribute};
use sso_saml::ns;

pub const ASSERTION_ID_ATTR: &str = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion";
pub const RESPONSE_ID_ATTR: &str = "urn:oasis:names:tc:SAML:2.0:protocol:Response";

/// The IdP key (generated once per test run).
pub fn idp_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate_self_signed("idp.test").unwrap())
}

/// The SP key (decryption, signing of requests).
pub fn sp_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate_self_signed("sp.test").unwrap())
}

/// An attacker's key.
pub fn attacker_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate_self_signed("attacker.test").unwrap())
}

pub fn t(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, hour, 0, 0).unwrap()
}

pub fn assertion_spec(id: &str) -> AssertionSpec {
    AssertionSpec {
        id: id.into(),
        issuer: "https://educonnect.test/idp".into(),
        issue_instant: t(8),
        name_id: "c0ffee42".into(),
        name_id_format: ns::NAMEID_TRANSIENT.into(),
        name_qualifier: Some("https://educonnect.test/idp".into()),
        sp_name_qualifier: Some("https://gateway.test/sp".into()),
        recipient: "https://gateway.test/sp/acs".into(),
        in_response_to: Some("_req42".into()),
        not_before: t(8) - Duration::minutes(1),
        not_on_or_after: t(8) + Duration::minutes(5),
        audience: "https://gateway.test/sp".into(),
        session_index: "_session42".into(),
        authn_instant: t(8),
        authn_context_class_ref: ns::AC_PASSWORD_PROTECTED_TRANSPORT.into(),
        session_not_on_or_after: Some(t(16)),
        attributes: vec![
            SamlAttribute {
                name: "urn:oid:1.3.6.1.4.1.20326.10.999.1.7".into(),
                name_format: Some(ns::ATTRNAME_FORMAT_URI.into()),
                friendly_name: Some("FrEduCtPersonAffiliation".into()),
                values: vec!["eleve2d".into()],
            },
            SamlAttribute {
                name: "urn:oid:2.5.4.42".into(),
                name_format: Some(ns::ATTRNAME_FORMAT_URI.into()),
                friendly_name: Some("givenName".into()),
                values: vec!["Zoé".into(), "Anne-Marie & Cie <test>".into()],
            },
        ],
    }
}

pub fn response_spec(id: &str) -> ResponseSpec {
    ResponseSpec {
        id: id.into(),
        issuer: "https://educonnect.test/idp".into(),
        issue_instant: t(8),
        destination: "https://gateway.test/sp/acs".into(),
        in_response_to: Some("_req42".into()),
        status_code: ns::STATUS_SUCCESS.into(),
        status_sub_code: None,
        status_message: None,
    }
}

/// Path of the `xmlsec1` program: these tests fail (they do not skip) without it.
pub fn xmlsec1() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("xmlsec1"))
            .find(|candidate| candidate.is_file())
    });
    found.expect("the xmlsec1 command line is required by these tests (Debian package xmlsec1)")
}

/// Runs `xmlsec1` with `args`; returns (success, stdout + stderr).
pub fn run_xmlsec1(args: &[&str]) -> (bool, String) {
    let output = Command::new(xmlsec1()).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Writes `key`'s private key and certificate as PEM files in `dir`.
pub fn write_key_files(dir: &Path, name: &str, key: &SigningKey) -> (PathBuf, PathBuf) {
    let key_path = dir.join(format!("{name}-key.pem"));
    let cert_path = dir.join(format!("{name}-cert.pem"));
    std::fs::write(&key_path, key.private_key_pem().unwrap()).unwrap();
    std::fs::write(&cert_path, key.certificate().to_pem().unwrap()).unwrap();
    (key_path, cert_path)
}

/// Verifies with the xmlsec1 command line, trusting only `cert_pem`.
/// `node_xpath` selects which signature to check (the first one otherwise).
pub fn xmlsec1_verifies(xml: &str, cert_pem: &Path, node_xpath: Option<&str>) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("signed.xml");
    std::fs::write(&file, xml).unwrap();
    let mut args = vec![
        "--verify",
        "--id-attr:ID",
        ASSERTION_ID_ATTR,
        "--id-attr:ID",
        RESPONSE_ID_ATTR,
        "--pubkey-cert-pem",
        cert_pem.to_str().unwrap(),
    ];
    if let Some(xpath) = node_xpath {
        args.push("--node-xpath");
        args.push(xpath);
    }
    args.push(file.to_str().unwrap());
    run_xmlsec1(&args).0
}

/// Signs a template with the xmlsec1 command line.
pub fn xmlsec1_sign(template: &str, key_pem: &Path, id_attr: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("template.xml");
    let output = dir.path().join("signed.xml");
    std::fs::write(&input, template).unwrap();
    let (ok, log) = run_xmlsec1(&[
        "--sign",
        "--id-attr:ID",
        id_attr,
        "--privkey-pem",
        key_pem.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert!(ok, "xmlsec1 --sign failed: {log}");
    std::fs::read_to_string(output).unwrap()
}

/// An unsigned assertion with a signature template using the given algorithms,
/// for `xmlsec1 --sign`.
pub fn assertion_template(id: &str, signature_method: &str, digest_method: &str) -> String {
    let assertion = sso_saml::messages::build_assertion(&assertion_spec(id));
    let template = format!(
        concat!(
            r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>"#,
            r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#,
            r#"<ds:SignatureMethod Algorithm="{sig}"/>"#,
            r##"<ds:Reference URI="#{id}"><ds:Transforms>"##,
            r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>"#,
            r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#,
            r#"</ds:Transforms><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue/>"#,
            r#"</ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature>"#
        ),
        sig = signature_method,
        id = id,
        digest = digest_method,
    );
    assertion.replacen("</saml:Issuer>", &format!("</saml:Issuer>{template}"), 1)
}
