//! Interoperability with SAML, CAS and OpenID Connect code nobody here
//! wrote (SAML core §5 XML signatures, profiles §4.1.4 Web Browser SSO
//! responses; CAS 3.0; OpenID Connect Core 1.0):
//!
//! 1. every Response the gateway issues to a service verifies with the
//!    `xmlsec1` command-line tool, each signature on its own;
//! 2. a pysaml2 service provider (`Saml2Client`), registered like any
//!    service, gets a signed AuthnRequest through and accepts the Response;
//! 3. the upstream connector accepts a Response from a pysaml2 identity
//!    provider (`Server`), signed, and encrypted when the cipher is one the
//!    gateway allows;
//! 4. a CAS 3.0 client (python-cas) validates a service ticket the gateway
//!    issued and reads its attributes, and is refused the same ticket again;
//! 5. an OpenID Connect relying party (authlib) runs the code flow with PKCE
//!    from the discovery document (OpenID Connect Core 1.0 §3.1, RFC 7636,
//!    RFC 9207), validates the ID token against the published keys, reads
//!    userinfo, and is refused the same code again and an altered ID token.
//!
//! Each acceptance has its negative control: the same message with one
//! byte changed (an attribute value, a signature, a ciphertext) is refused,
//! and so are the algorithms the gateway does not allow. These tests need `xmlsec1` and a
//! Python with pysaml2, python-cas and authlib named by `SSO_TEST_PYTHON`;
//! `./scripts/test.sh` provides both, and without them the tests fail (they never skip). The
//! Python peers are in `tests/interop/`.

#![cfg(test)]

mod common;

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use idp_connectors::config::SamlIdpConfig;
use idp_connectors::mapping::{Mapping, MappingConfig};
use idp_connectors::saml::{ResponseError, SamlConnector, SpSettings, UpstreamLogin};
use sso_core::attr;
use sso_saml::keys::SigningKey;
use sso_saml::metadata::{self, SpMetadataSpec};
use sso_store::MemoryStore;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use common::{Browser, SamlForm, Stack, link, login_at_ent, saml_form};

const SETUP: &str = "run ./scripts/test.sh: it installs xmlsec1, creates .venv with pysaml2, python-cas \
                     and authlib and exports SSO_TEST_PYTHON";

const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion";
const RESPONSE_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol:Response";
const RESPONSE_SIGNATURE: &str = "/*[local-name()='Response']/*[local-name()='Signature']";
const ASSERTION_SIGNATURE: &str =
    "/*[local-name()='Response']/*[local-name()='Assertion']/*[local-name()='Signature']";

/// A finished command.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Stdout of a command that must have succeeded.
    fn stdout(self, what: &str) -> String {
        assert!(self.ok, "{what} failed:\n{}", self.stderr);
        self.stdout
    }
}

/// Runs `program` with `stdin` as its input (Python writes no `__pycache__`
/// into the source tree).
async fn run(program: &str, args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(program)
        .args(args)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run {program}: {err}; {SETUP}"));
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let output = child.wait_with_output().await.unwrap();
    Run {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Fails (does not skip) when the `xmlsec1` tool is missing.
async fn require_xmlsec1() {
    let version = run("xmlsec1", &["--version"], "").await;
    assert!(version.ok, "xmlsec1 is missing: {SETUP}");
}

/// Runs a Python peer of `tests/interop/` with the test virtualenv.
async fn python(script: &str, args: &[&str], stdin: &str) -> Run {
    let python = std::env::var("SSO_TEST_PYTHON")
        .unwrap_or_else(|_| panic!("SSO_TEST_PYTHON is unset: {SETUP}"));
    // pysaml2 signs, verifies and encrypts through the xmlsec1 tool.
    require_xmlsec1().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(script);
    let mut full = vec![script.to_str().unwrap()];
    full.extend_from_slice(args);
    run(&python, &full, stdin).await
}

fn field<'a>(form: &'a SamlForm, name: &str) -> &'a str {
    form.1
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .unwrap_or_else(|| panic!("no {name} in the form to {}", form.0))
}

fn decode(b64: &str) -> String {
    String::from_utf8(STANDARD.decode(b64).unwrap()).unwrap()
}

/// `xml` with the first occurrence of `from` replaced by `to` (same length:
/// one attribute value changed by one byte).
fn tamper(xml: &str, from: &str, to: &str) -> String {
    assert_eq!(from.len(), to.len());
    assert!(xml.contains(from), "{from} not in the message:\n{xml}");
    xml.replacen(from, to, 1)
}

/// Runs `xmlsec1 --verify` on the signature of `file` selected by `xpath`,
/// with `cert` as the only key.
async fn xmlsec1_verify(file: &Path, cert: &Path, xpath: &str) -> Run {
    run(
        "xmlsec1",
        &[
            "--verify",
            "--id-attr:ID",
            ASSERTION_NS,
            "--id-attr:ID",
            RESPONSE_NS,
            "--pubkey-cert-pem",
            cert.to_str().unwrap(),
            "--node-xpath",
            xpath,
            file.to_str().unwrap(),
        ],
        "",
    )
    .await
}

/// Checks each signature of `xml` with xmlsec1: accepted with the gateway's
/// certificate, refused with another key, refused once `from` became `to`.
async fn check_with_xmlsec1(stack: &Stack, xml: &str, signatures: &[&str], from: &str, to: &str) {
    let keys = stack.stack.config_path.parent().unwrap().join("keys");
    let cert = keys.join("gateway-signing.crt");
    let other_cert = keys.join("gateway-encryption.crt");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("response.xml");
    std::fs::write(&file, xml).unwrap();
    let tampered = dir.path().join("tampered.xml");
    std::fs::write(&tampered, tamper(xml, from, to)).unwrap();
    for xpath in signatures {
        let good = xmlsec1_verify(&file, &cert, xpath).await;
        assert!(
            good.ok && good.stderr.contains("SignedInfo References (ok/all): 1/1"),
            "xmlsec1 refused {xpath}:\n{}\n{xml}",
            good.stderr
        );
        let wrong_key = xmlsec1_verify(&file, &other_cert, xpath).await;
        assert!(
            !wrong_key.ok && wrong_key.stderr.contains("signature verification failed"),
            "xmlsec1 with another key, {xpath}:\n{}",
            wrong_key.stderr
        );
        let bad = xmlsec1_verify(&tampered, &cert, xpath).await;
        assert!(
            !bad.ok && bad.stderr.contains("data and digest do not match"),
            "xmlsec1 after {from} became {to}, {xpath}:\n{}",
            bad.stderr
        );
    }
}

/// The SAML form the gateway posted last, checked to go to `acs`; its XML.
fn last_response(browser: &Browser, acs: &str) -> String {
    let form = browser.last_saml_form.as_ref().expect("a SAML form posted");
    assert_eq!(form.0, acs);
    decode(field(form, "SAMLResponse"))
}

#[tokio::test]
async fn every_response_the_gateway_issues_verifies_with_xmlsec1() {
    require_xmlsec1().await;
    let stack = Stack::memory().await;
    let mut browser = Browser::new();
    let discovery = browser.open(&stack.url("/testbed/ent/login")).await;
    let target = link(&discovery.body, "/login/educonnect?flow=").expect("discovery page");
    let accounts = browser.open(&stack.url(&target)).await;
    let ent = browser.login_as(&accounts, "eleve.louis").await;
    assert!(ent.url.ends_with("/testbed/ent"), "{}", ent.url);

    // The ENT's registration asks for a signed Response around the signed Assertion.
    let xml = last_response(&browser, &stack.url("/testbed/ent/acs"));
    assert_eq!(xml.matches("SignatureValue>").count(), 4, "{xml}");
    check_with_xmlsec1(
        &stack,
        &xml,
        &[RESPONSE_SIGNATURE, ASSERTION_SIGNATURE],
        ">Martin<",
        ">Martim<",
    )
    .await;

    // The textbook asks for the Assertion signature only.
    let manuel = browser.open(&stack.url("/testbed/manuel/login")).await;
    assert!(manuel.url.ends_with("/testbed/manuel"), "{}", manuel.url);
    let xml = last_response(&browser, &stack.url("/testbed/manuel/acs"));
    assert_eq!(xml.matches("SignatureValue>").count(), 2, "{xml}");
    check_with_xmlsec1(
        &stack,
        &xml,
        &[ASSERTION_SIGNATURE],
        ">National_ELV<",
        ">National_ENS<",
    )
    .await;
}

/// The registration of the pysaml2 SP: signed AuthnRequests, signed Response.
fn pysaml2_service(entity_id: &str) -> String {
    format!(
        r#"id = "pysaml2-sp"
display_name = "Service pysaml2 (tests d'interopérabilité)"
kind = "ent"
publisher = "pysaml2"

[saml]
entity_id = "{entity_id}"
metadata_file = "pysaml2-sp.metadata.xml"
require_signed_authn_requests = true
sign_response = true
name_id_format = "persistent"

[identifier]
scope = "service"

[release]
attributes = ["IDO", "UAI", "PRO", "NOM", "PRE"]
"#
    )
}

#[tokio::test]
async fn a_pysaml2_service_provider_accepts_the_gateways_response() {
    let work = tempfile::tempdir().unwrap();
    let workdir = work.path().to_str().unwrap();
    let sp_metadata = python("sp.py", &["metadata", workdir], "")
        .await
        .stdout("sp.py metadata");
    let sp = metadata::parse(&sp_metadata, None).unwrap();
    let acs = sp.sp.as_ref().unwrap().acs[0].location.clone();
    let stack = Stack::memory_with(vec![
        ("pysaml2-sp.toml".to_owned(), pysaml2_service(&sp.entity_id)),
        ("pysaml2-sp.metadata.xml".to_owned(), sp_metadata),
    ])
    .await;
    let idp_metadata = reqwest::get(stack.url("/saml/idp/metadata"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let idp_metadata_file = work.path().join("gateway-idp.xml");
    std::fs::write(&idp_metadata_file, idp_metadata).unwrap();
    let idp_metadata_file = idp_metadata_file.to_str().unwrap();

    let request = python("sp.py", &["authn-request", workdir, idp_metadata_file], "")
        .await
        .stdout("sp.py authn-request");
    let request: serde_json::Value = serde_json::from_str(&request).unwrap();
    let request_id = request["id"].as_str().unwrap();
    let url = request["url"].as_str().unwrap();
    assert!(url.starts_with(&stack.url("/saml/idp/sso?")), "{url}");
    assert!(
        url.contains("&Signature="),
        "signed redirect binding: {url}"
    );

    // Negative control: the gateway checks pysaml2's redirect-binding
    // signature (one character of it changed: refused).
    let mut browser = Browser::new();
    let forged = flip_alphanumeric(url, url.find("&Signature=").unwrap() + 20);
    let refused = browser.open(&forged).await;
    assert_eq!(refused.status, 400, "{}", refused.body);

    browser.stop_at = Some(acs.clone());
    let discovery = browser.open(url).await;
    assert!(discovery.url.contains("/login?flow="), "{}", discovery.body);
    let target = link(&discovery.body, "/login/educonnect?flow=").expect("discovery page");
    let accounts = browser.open(&stack.url(&target)).await;
    let page = browser.login_as(&accounts, "eleve.louis").await;
    let form = saml_form(&page.body).expect("the auto-post form to the pysaml2 SP");
    assert_eq!(form.0, acs);
    let saml_response = field(&form, "SAMLResponse");

    let parse = |response: String, request_id: String| async move {
        python(
            "sp.py",
            &["parse", workdir, idp_metadata_file, &request_id],
            &response,
        )
        .await
    };
    let accepted = parse(saml_response.to_owned(), request_id.to_owned())
        .await
        .stdout("pysaml2 parse_authn_request_response");
    let accepted: serde_json::Value = serde_json::from_str(&accepted).unwrap();
    assert_eq!(
        accepted["issuer"],
        stack.stack.state.config.saml.idp_entity_id
    );
    assert_eq!(accepted["in_response_to"], request_id);
    assert_eq!(
        accepted["name_id_format"],
        "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    );
    let attributes = &accepted["attributes"];
    assert_eq!(attributes["NOM"], serde_json::json!(["Martin"]));
    assert_eq!(attributes["PRE"], serde_json::json!(["Louis"]));
    assert_eq!(attributes["PRO"], serde_json::json!(["National_ELV"]));
    assert_eq!(attributes["UAI"][0].as_str().unwrap().len(), 8);
    assert_eq!(attributes["IDO"][0], accepted["name_id"], "{accepted}");
    assert_eq!(attributes.as_object().unwrap().len(), 5, "{attributes}");

    // Negative controls: one byte of an attribute value; another request.
    let tampered = STANDARD.encode(tamper(&decode(saml_response), ">Martin<", ">Martim<"));
    let refused = parse(tampered, request_id.to_owned()).await;
    assert!(!refused.ok, "pysaml2 accepted a tampered Response");
    assert!(
        refused.stderr.contains("Failed to verify signature"),
        "refused for its signature: {}",
        refused.stderr
    );
    let unrelated = parse(saml_response.to_owned(), "id-not-outstanding".to_owned()).await;
    assert!(
        !unrelated.ok && unrelated.stderr.contains("Unsolicited response"),
        "pysaml2 and a Response to a request it did not send: {}",
        unrelated.stderr
    );
}

/// The ÉduConnect mapping of the example configuration.
fn educonnect_mapping() -> Mapping {
    let example: toml::Table =
        toml::from_str(include_str!("../../config/example/gateway.toml")).unwrap();
    let config: MappingConfig = example["mapping"]["educonnect"].clone().try_into().unwrap();
    Mapping::new(&config).unwrap()
}

/// The gateway's SP role facing a pysaml2 IdP, built as the gateway builds
/// its connectors, and the files the IdP script needs.
struct Pysaml2Idp {
    work: tempfile::TempDir,
    connector: SamlConnector,
    settings: Arc<SpSettings>,
}

impl Pysaml2Idp {
    async fn new(require_encrypted_assertion: bool) -> Self {
        let work = tempfile::tempdir().unwrap();
        let workdir = work.path().to_str().unwrap();
        let idp_metadata = python("idp.py", &["metadata", workdir], "")
            .await
            .stdout("idp.py metadata");
        let idp = metadata::parse(&idp_metadata, None).unwrap();
        let config: SamlIdpConfig = toml::from_str(&format!(
            r#"id = "pysaml2"
label = "IdP pysaml2"
entity_id = "{}"
metadata_file = "pysaml2-idp.xml"
require_signed_assertion = true
require_signed_response = true
require_encrypted_assertion = {require_encrypted_assertion}
mapping = "pysaml2"
"#,
            idp.entity_id
        ))
        .unwrap();
        let mapping = educonnect_mapping();
        let base = "https://sso.interop.invalid";
        let settings = Arc::new(SpSettings {
            entity_id: format!("{base}/saml/sp"),
            acs_url: format!("{base}/saml/sp/acs"),
            slo_url: format!("{base}/saml/sp/slo"),
            signing_key: Arc::new(SigningKey::generate_self_signed("gateway signing").unwrap()),
            decryption_key: Arc::new(
                SigningKey::generate_self_signed("gateway encryption").unwrap(),
            ),
            clock_skew: Duration::from_secs(60),
            max_message_bytes: 131_072,
        });
        let sp_metadata = metadata::build_sp_metadata(&SpMetadataSpec {
            entity_id: &settings.entity_id,
            signing_cert: settings.signing_key.certificate(),
            encryption_cert: Some(settings.decryption_key.certificate()),
            acs_post: &settings.acs_url,
            slo_redirect: Some(&settings.slo_url),
            slo_post: None,
            authn_requests_signed: true,
            want_assertions_signed: true,
        });
        std::fs::write(work.path().join("gateway-sp.xml"), sp_metadata).unwrap();
        let connector = SamlConnector::new(config, mapping, Arc::clone(&settings), idp).unwrap();
        Self {
            work,
            connector,
            settings,
        }
    }

    /// A Response of the pysaml2 IdP (base64) to `request_id`; `variant` as
    /// `idp.py` documents it (`plain`, `sha1`, `3des`, `aes256-cbc`).
    async fn response(&self, request_id: &str, variant: &str) -> String {
        let sp_metadata = self.work.path().join("gateway-sp.xml");
        python(
            "idp.py",
            &[
                "response",
                self.work.path().to_str().unwrap(),
                sp_metadata.to_str().unwrap(),
                &self.settings.entity_id,
                &self.settings.acs_url,
                request_id,
                variant,
            ],
            "",
        )
        .await
        .stdout("idp.py response")
        .trim()
        .to_owned()
    }

    async fn validate(
        &self,
        response: &str,
        request_id: &str,
    ) -> Result<UpstreamLogin, ResponseError> {
        self.connector
            .validate(
                response,
                Some(request_id),
                &MemoryStore::new(),
                chrono::Utc::now(),
            )
            .await
    }
}

fn assert_pupil(login: &UpstreamLogin) {
    let identity = &login.identity;
    assert_eq!(identity.idp, "pysaml2");
    assert_eq!(identity.subject, "a3f1".repeat(24), "FrEduCtId");
    assert_eq!(identity.first(attr::SURNAME), Some("Lefèvre"));
    assert_eq!(identity.first(attr::GIVEN_NAME), Some("Chloé"));
    assert_eq!(identity.first(attr::PROFILE), Some("National_ELV"));
    assert_eq!(identity.first(attr::UAI), Some("0350001A"));
}

#[tokio::test]
async fn the_connector_accepts_a_signed_response_from_a_pysaml2_idp() {
    let idp = Pysaml2Idp::new(false).await;
    let request_id = sso_saml::ids::new_id();
    let response = idp.response(&request_id, "plain").await;
    let xml = decode(&response);
    assert_eq!(xml.matches("SignatureValue>").count(), 4, "{xml}");
    let login = idp.validate(&response, &request_id).await.unwrap();
    assert_pupil(&login);
    assert_eq!(login.in_response_to.as_deref(), Some(request_id.as_str()));

    let tampered = STANDARD.encode(tamper(&xml, ">0350001A<", ">0350001B<"));
    let refused = idp.validate(&tampered, &request_id).await;
    assert!(
        matches!(refused, Err(ResponseError::Signature(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn the_connector_refuses_pysaml2_default_sha1_signatures() {
    let idp = Pysaml2Idp::new(false).await;
    let request_id = sso_saml::ids::new_id();
    let response = idp.response(&request_id, "sha1").await;
    assert!(decode(&response).contains("xmldsig#rsa-sha1"));
    match idp.validate(&response, &request_id).await {
        Err(ResponseError::Signature(reason)) => assert!(reason.contains("SHA-1"), "{reason}"),
        other => panic!("an RSA-SHA1 signature must be refused: {other:?}"),
    }
}

#[tokio::test]
async fn pysaml2_encryption_3des_is_refused_aes_cbc_is_accepted() {
    let idp = Pysaml2Idp::new(true).await;

    // encrypt_assertion=True as pysaml2 7.5 ships it: RSA-OAEP key transport
    // (accepted) but Triple-DES data encryption (not on the allow-list).
    let request_id = sso_saml::ids::new_id();
    let response = idp.response(&request_id, "3des").await;
    let xml = decode(&response);
    assert!(xml.contains("xmlenc#rsa-oaep-mgf1p"), "{xml}");
    assert!(xml.contains("xmlenc#tripledes-cbc"), "{xml}");
    assert!(!xml.contains("0350001A"), "the assertion is encrypted");
    let refused = idp.validate(&response, &request_id).await;
    match refused {
        Err(ResponseError::Decryption(reason)) => {
            assert!(reason.contains("tripledes-cbc"), "{reason}")
        }
        other => panic!("3DES must be refused as a decryption error: {other:?}"),
    }

    // The same pysaml2 path with AES-256-CBC: accepted.
    let request_id = sso_saml::ids::new_id();
    let response = idp.response(&request_id, "aes256-cbc").await;
    let xml = decode(&response);
    assert!(xml.contains("xmlenc#rsa-oaep-mgf1p"), "{xml}");
    assert!(xml.contains("xmlenc#aes256-cbc"), "{xml}");
    assert!(!xml.contains("0350001A"), "the assertion is encrypted");
    let login = idp.validate(&response, &request_id).await.unwrap();
    assert_pupil(&login);

    // Negative control: one character of the encrypted assertion changed.
    let refused = idp
        .validate(&STANDARD.encode(tamper_ciphertext(&xml)), &request_id)
        .await;
    assert!(
        matches!(refused, Err(ResponseError::Signature(_))),
        "{refused:?}"
    );
}

/// `xml` with one base64 character of the last CipherValue (the encrypted
/// assertion) changed.
fn tamper_ciphertext(xml: &str) -> String {
    let closing = xml.rfind(":CipherValue>").unwrap();
    let start = xml[..closing].rfind('>').unwrap();
    flip_alphanumeric(xml, start + 10)
}

/// `text` with its first ASCII letter or digit from `from` on (outside a
/// `%XX` escape) changed.
fn flip_alphanumeric(text: &str, from: usize) -> String {
    let bytes = text.as_bytes();
    let at = (from..text.len())
        .find(|&i| bytes[i].is_ascii_alphanumeric() && bytes[i - 2] != b'%' && bytes[i - 1] != b'%')
        .unwrap();
    let new = if &text[at..=at] == "A" { "B" } else { "A" };
    format!("{}{new}{}", &text[..at], &text[at + 1..])
}

/// A CAS 3.0 client nobody here wrote (python-cas) validates a ticket the
/// gateway issued for a CAS service, and reads the released attributes; the
/// same ticket is refused to it the second time (negative control).
#[tokio::test]
async fn python_cas_validates_a_ticket_and_is_refused_its_reuse() {
    let service = "http://127.0.0.1:9/cas-client/callback";
    let stack = Stack::memory_with(vec![(
        "cas-python.toml".to_owned(),
        format!(
            "id = \"cas-python\"\ndisplay_name = \"Client CAS python\"\nkind = \"ent\"\n\n[cas]\nservices = [\"{service}\"]\n\n[release]\nattributes = [\"IDO\", \"UAI\", \"PRO\", \"DIV\"]\n"
        ),
    )])
    .await;
    let mut browser = Browser::new();
    login_at_ent(&stack, &mut browser, "educonnect", "eleve.louis").await;
    let ent = stack.sp_state("ent").await["last_attributes"].clone();
    let server = stack.url("/cas/");
    let login = browser
        .redirect_target(&format!(
            "{}?service={}",
            stack.url("/cas/login"),
            url::form_urlencoded::byte_serialize(service.as_bytes()).collect::<String>()
        ))
        .await;
    let ticket = login
        .strip_prefix(&format!("{service}?ticket="))
        .unwrap_or_else(|| panic!("{login}"))
        .to_owned();

    let answer = python("cas_client.py", &[&server, service, &ticket], "")
        .await
        .stdout("python-cas");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let user = answer["user"].as_str().unwrap();
    assert_eq!(user.len(), 64, "{answer}");
    assert_eq!(answer["attributes"]["UAI"], ent["UAI"][0], "{answer}");
    assert_eq!(answer["attributes"]["IDO"], user, "{answer}");
    assert_eq!(answer["attributes"]["isFromNewLogin"], "false", "{answer}");
    // The login URL python-cas builds is one the gateway answers.
    let login_url = answer["login_url"].as_str().unwrap();
    let again = browser.redirect_target(login_url).await;
    assert!(
        again.starts_with(&format!("{service}?ticket=ST-")),
        "{again}"
    );

    let reused = python("cas_client.py", &[&server, service, &ticket], "")
        .await
        .stdout("python-cas");
    let reused: serde_json::Value = serde_json::from_str(&reused).unwrap();
    assert!(reused["user"].is_null(), "{reused}");
}

/// The secret of the authlib clients, with characters that RFC 6749
/// §2.3.1 form-encodes: authlib's `client_secret_basic` sends them raw,
/// which the gateway accepts beside the form-encoded form.
const AUTHLIB_SECRET: &str = "authlib+client/secret%0123456789 _.~";

/// A confidential OpenID Connect client for authlib: its token endpoint
/// authentication, its ID token algorithm, PKCE required.
fn authlib_client(
    client_id: &str,
    auth_method: &str,
    alg: &str,
    redirect: &str,
) -> (String, String) {
    use sha2::Digest as _;
    let secret_sha256 = hex::encode(sha2::Sha256::digest(AUTHLIB_SECRET.as_bytes()));
    (
        format!("{client_id}.toml"),
        format!(
            "id = \"{client_id}\"\ndisplay_name = \"Client OIDC authlib\"\nkind = \"ent\"\n\n[oidc]\nclient_id = \"{client_id}\"\ntoken_endpoint_auth_method = \"{auth_method}\"\nclient_secret_sha256 = \"{secret_sha256}\"\nredirect_uris = [\"{redirect}\"]\nid_token_signed_response_alg = \"{alg}\"\nrequire_pkce = true\n\n[release]\nattributes = [\"IDO\", \"UAI\", \"PRO\", \"DIV\"]\n"
        ),
    )
}

/// `jwt` with one character of the first value of `claim` changed in its
/// payload, which stays valid JSON: only the signature stands in the way.
fn tamper_jwt_claim(jwt: &str, claim: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "{jwt}");
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let claims: serde_json::Value = serde_json::from_str(&text).unwrap();
    let value = claims[claim][0].as_str().unwrap();
    let last = if value.ends_with('A') { "B" } else { "A" };
    let changed = format!("{}{last}", &value[..value.len() - 1]);
    let text = tamper(&text, &format!("\"{value}\""), &format!("\"{changed}\""));
    let tampered: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(tampered[claim][0], changed.as_str(), "{text}");
    format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(text), parts[2])
}

/// An OpenID Connect relying party nobody here wrote (authlib) completes
/// the code flow with PKCE S256 for two clients (`client_secret_basic` with
/// ES256 ID tokens, `client_secret_post` with RS256), validates each ID
/// token with the keys of `jwks_uri`, and reads userinfo. Negative
/// controls: the same code redeemed again, and the validated ID token with
/// one character of its payload changed.
#[tokio::test]
async fn authlib_client_completes_the_code_flow_and_validates_the_id_token() {
    let redirect = "http://127.0.0.1:9/authlib/callback";
    let clients = [
        ("authlib-basic", "client_secret_basic", "ES256"),
        ("authlib-post", "client_secret_post", "RS256"),
    ];
    let stack = Stack::memory_with(
        clients
            .iter()
            .map(|(id, method, alg)| authlib_client(id, method, alg, redirect))
            .collect(),
    )
    .await;
    let mut browser = Browser::new();
    login_at_ent(&stack, &mut browser, "educonnect", "eleve.louis").await;
    let ent = stack.sp_state("ent").await["last_attributes"].clone();
    let issuer = stack.stack.base_url.clone();
    let mut subs = Vec::new();

    for (client_id, method, alg) in clients {
        let work = tempfile::tempdir().unwrap();
        let workdir = work.path().to_str().unwrap();
        let request = python(
            "oidc_client.py",
            &[
                "authorize",
                workdir,
                &issuer,
                client_id,
                AUTHLIB_SECRET,
                method,
                redirect,
            ],
            "",
        )
        .await
        .stdout("authlib authorize");
        let request: serde_json::Value = serde_json::from_str(&request).unwrap();
        let url = request["url"].as_str().unwrap();
        assert!(url.starts_with(&stack.url("/oidc/authorize?")), "{url}");
        assert!(url.contains("code_challenge_method=S256"), "{url}");
        let callback = browser.redirect_target(url).await;
        assert!(
            callback.starts_with(&format!("{redirect}?code=")),
            "{client_id}: {callback}"
        );

        let finish = async || python("oidc_client.py", &["finish", workdir, &callback], "").await;
        let answer = finish().await.stdout("authlib finish");
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        let sub = answer["sub"].as_str().unwrap().to_owned();
        assert!(
            sub.len() == 64 && sub.bytes().all(|b| b.is_ascii_hexdigit()),
            "{answer}"
        );
        assert_eq!(answer["userinfo"]["sub"], sub, "{answer}");
        assert_eq!(answer["id_token_alg"], alg, "{client_id}: {answer}");
        let claims = &answer["claims"];
        assert_eq!(claims["aud"], client_id, "{answer}");
        assert_eq!(claims["iss"], issuer.as_str(), "{answer}");
        assert_eq!(claims["IDO"], serde_json::json!([sub]), "{answer}");
        for name in ["UAI", "DIV"] {
            assert_eq!(claims[name], ent[name], "{name}: {answer}");
            assert_eq!(answer["userinfo"][name], ent[name], "{name}: {answer}");
        }
        assert_eq!(claims["PRO"], serde_json::json!(["National_ELV"]));
        subs.push(sub);

        // The same code redeemed again by authlib: refused.
        let replay = finish().await;
        assert!(
            !replay.ok && replay.stderr.contains("invalid_grant"),
            "{client_id}: authlib redeemed a code twice:\n{}{}",
            replay.stdout,
            replay.stderr
        );

        // Positive control: the untouched ID token validates on its own;
        // the same with one character of its UAI claim changed does not.
        let id_token = answer["id_token"].as_str().unwrap();
        let validate =
            async |token: &str| python("oidc_client.py", &["validate", workdir, token], "").await;
        let untouched = validate(id_token).await.stdout("authlib validate");
        let untouched: serde_json::Value = serde_json::from_str(&untouched).unwrap();
        assert_eq!(&untouched, claims);
        let tampered = tamper_jwt_claim(id_token, "UAI");
        let refused = validate(&tampered).await;
        assert!(
            !refused.ok && refused.stderr.contains("BadSignatureError"),
            "{client_id}: authlib and an altered ID token:\n{}{}",
            refused.stdout,
            refused.stderr
        );
    }
    assert_ne!(subs[0], subs[1], "one identifier per service");
    assert!(!subs.contains(&ent["IDO"][0].as_str().unwrap().to_owned()));
}
