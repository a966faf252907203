//! Benchmark of the upstream hot path: [`SamlConnector::validate`] on a
//! Response shaped as ÉduConnect sends it (saml-profiles §4.1.4.2: Response
//! signed, Assertion signed with RSA-SHA256 then encrypted with RSA-OAEP and
//! AES-256-GCM, saml-core §2.3.4), and on a plain signed assertion, measured
//! in the same run as the bare cryptographic operations that path cannot
//! avoid: two RSA-2048 verifications, one RSA-OAEP key unwrap and one
//! AES-256-GCM decryption. BENCHMARKS.md at the workspace root records the
//! figures and the ratio "hot path / sum of its bare operations".
//!
//! The `steps` group times the public `sso_saml` calls the acceptance
//! sequence is made of, one by one, on the same message, so that the
//! overhead can be attributed (base64, XML parsing, libxmlsec1, decryption,
//! thread hand-offs), and one verification with a certificate decoded from
//! DER just before, as libxmlsec1 does through samael for every signature.
//!
//! Every fixture is checked once before it is timed (a refused Response
//! would time an early exit): a failed check stops the benchmark with an
//! error.

use std::error::Error;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use criterion::{BatchSize, Criterion};
use idp_connectors::config::SamlIdpConfig;
use idp_connectors::mapping::{Mapping, MappingConfig};
use idp_connectors::saml::{SamlConnector, SpSettings};
use openssl::hash::MessageDigest;
use openssl::md::Md;
use openssl::pkey::{PKey, Private, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::sign::{Signer, Verifier};
use openssl::symm::Cipher;
use openssl::x509::X509;
use sso_saml::binding;
use sso_saml::encryption::{self, DataCipher, KeyTransport};
use sso_saml::keys::{Certificate, SigningKey};
use sso_saml::messages::{self, AssertionSpec, ResponseSpec, SamlAttribute};
use sso_saml::metadata::{self, IdpMetadataSpec};
use sso_saml::{dsig, ids, ns};
use sso_store::MemoryStore;
use tokio::runtime::Runtime;

type BenchResult<T> = Result<T, Box<dyn Error>>;

const IDP_ENTITY: &str = "https://educonnect.bench.example/idp";
const SP_ENTITY: &str = "https://sso.bench.example/saml/sp";
const ACS_URL: &str = "https://sso.bench.example/saml/sp/acs";
/// Largest `SAMLResponse` accepted (after base64 decoding).
const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Size of a `ds:SignedInfo` as canonicalized and signed (one reference).
const SIGNED_INFO_LEN: usize = 500;
/// Size of the AES-GCM plaintext of the bare decryption.
const AES_PLAINTEXT_LEN: usize = 4096;
/// The AES-256 key the bare RSA-OAEP decryption unwraps.
const AES_KEY_LEN: usize = 32;
/// `FrEduCtId`, the stable ÉduConnect identifier (96 hex characters).
const FR_EDU_CT_ID: &str = "3f9a1c0e7b5d2a4f6e8c0b1d3a5f7e9c2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a3c5e7b9d1f3a5c7e9b0d2f4a6c8e0b2d";

/// The example configuration, whose `[mapping.educonnect]` the bench uses.
const EXAMPLE_CONFIG: &str = include_str!("../../config/example/gateway.toml");

/// The keys of the scenario, and the same keys as bare OpenSSL objects.
struct Keys {
    idp: SigningKey,
    sp_decryption: Arc<SigningKey>,
    sp_signing: Arc<SigningKey>,
    idp_private: PKey<Private>,
    idp_public: PKey<Public>,
    sp_decryption_private: PKey<Private>,
    sp_decryption_public: PKey<Public>,
}

impl Keys {
    fn generate() -> BenchResult<Self> {
        let idp = SigningKey::generate_self_signed("educonnect.bench.example")?;
        let sp_decryption = SigningKey::generate_self_signed("sso.bench.example encryption")?;
        let sp_signing = SigningKey::generate_self_signed("sso.bench.example signing")?;
        let idp_private = PKey::private_key_from_pem(&idp.private_key_pem()?)?;
        let idp_public = X509::from_pem(&idp.certificate().to_pem()?)?.public_key()?;
        let sp_decryption_private = PKey::private_key_from_pem(&sp_decryption.private_key_pem()?)?;
        let sp_decryption_public =
            X509::from_pem(&sp_decryption.certificate().to_pem()?)?.public_key()?;
        Ok(Self {
            idp,
            sp_decryption: Arc::new(sp_decryption),
            sp_signing: Arc::new(sp_signing),
            idp_private,
            idp_public,
            sp_decryption_private,
            sp_decryption_public,
        })
    }
}

/// One PKCS#1 v1.5 SHA-256 signature, as libxmlsec1 makes over `SignedInfo`.
fn rsa_sign(key: &PKey<Private>, data: &[u8]) -> BenchResult<Vec<u8>> {
    let mut signer = Signer::new(MessageDigest::sha256(), key)?;
    signer.update(data)?;
    Ok(signer.sign_to_vec()?)
}

fn rsa_verify(key: &PKey<Public>, data: &[u8], signature: &[u8]) -> BenchResult<bool> {
    let mut verifier = Verifier::new(MessageDigest::sha256(), key)?;
    verifier.update(data)?;
    Ok(verifier.verify(signature)?)
}

/// RSA-OAEP with SHA-256 and MGF1-SHA256 (`xmlenc11#rsa-oaep`, what
/// ÉduConnect-style messages use here).
fn oaep_ctx<T>(ctx: &mut PkeyCtx<T>) -> BenchResult<()> {
    ctx.set_rsa_padding(Padding::PKCS1_OAEP)?;
    ctx.set_rsa_oaep_md(Md::sha256())?;
    ctx.set_rsa_mgf1_md(Md::sha256())?;
    Ok(())
}

fn oaep_encrypt(key: &PKey<Public>, data: &[u8]) -> BenchResult<Vec<u8>> {
    let mut ctx = PkeyCtx::new(key)?;
    ctx.encrypt_init()?;
    oaep_ctx(&mut ctx)?;
    let mut out = Vec::new();
    ctx.encrypt_to_vec(data, &mut out)?;
    Ok(out)
}

fn oaep_decrypt(key: &PKey<Private>, wrapped: &[u8]) -> BenchResult<Vec<u8>> {
    let mut ctx = PkeyCtx::new(key)?;
    ctx.decrypt_init()?;
    oaep_ctx(&mut ctx)?;
    let mut out = Vec::new();
    ctx.decrypt_to_vec(wrapped, &mut out)?;
    Ok(out)
}

/// The decoding, parsing, verifying and decrypting calls of the acceptance
/// sequence, in its order, on the calling thread: no checks, no thread
/// hand-off, no mapping, no replay cache. Compared with
/// `validate/educonnect_encrypted`, it shows what the rest costs; run in a
/// single `spawn_blocking`, what one hand-off instead of three would cost.
fn sequence_on_one_thread(
    saml_response: &str,
    certs: &[Certificate],
    decryption_key: &SigningKey,
) -> BenchResult<usize> {
    let xml = binding::decode_post(saml_response, MAX_MESSAGE_BYTES)?;
    messages::parse_response_envelope(&xml)?;
    let reduced = dsig::verify_and_reduce(&xml, certs)?;
    let envelope = messages::parse_response_envelope(&reduced)?;
    let encrypted = envelope
        .encrypted_assertions
        .first()
        .ok_or("the verified Response holds no EncryptedAssertion")?;
    let source = encryption::decrypt_assertion(encrypted, decryption_key)?;
    messages::parse_assertion(&source)?;
    let verified = dsig::verify_and_reduce(&source, certs)?;
    Ok(messages::parse_assertion(&verified)?.attributes.len())
}

/// What libxmlsec1 does for each signature through samael: decode the
/// trusted certificate from DER, then verify with a key it has never used.
fn verify_with_fresh_cert(cert_der: &[u8], data: &[u8], signature: &[u8]) -> BenchResult<bool> {
    let public = X509::from_der(cert_der)?.public_key()?;
    rsa_verify(&public, data, signature)
}

struct GcmMessage {
    key: Vec<u8>,
    iv: Vec<u8>,
    ciphertext: Vec<u8>,
    tag: [u8; 16],
}

fn gcm_decrypt(message: &GcmMessage) -> BenchResult<Vec<u8>> {
    Ok(openssl::symm::decrypt_aead(
        Cipher::aes_256_gcm(),
        &message.key,
        Some(&message.iv),
        &[],
        &message.ciphertext,
        &message.tag,
    )?)
}

fn gcm_message() -> BenchResult<GcmMessage> {
    let mut key = vec![0u8; AES_KEY_LEN];
    let mut iv = vec![0u8; 12];
    openssl::rand::rand_bytes(&mut key)?;
    openssl::rand::rand_bytes(&mut iv)?;
    let plaintext = vec![b'a'; AES_PLAINTEXT_LEN];
    let mut tag = [0u8; 16];
    let ciphertext = openssl::symm::encrypt_aead(
        Cipher::aes_256_gcm(),
        &key,
        Some(&iv),
        &[],
        &plaintext,
        &mut tag,
    )?;
    Ok(GcmMessage {
        key,
        iv,
        ciphertext,
        tag,
    })
}

fn uri_attribute(name: &str, friendly: &str, values: &[&str]) -> SamlAttribute {
    SamlAttribute {
        name: name.to_owned(),
        name_format: Some(ns::ATTRNAME_FORMAT_URI.to_owned()),
        friendly_name: Some(friendly.to_owned()),
        values: values.iter().map(|v| (*v).to_owned()).collect(),
    }
}

/// What ÉduConnect releases for a collège pupil (domain reference §2).
fn educonnect_attributes() -> Vec<SamlAttribute> {
    let oid = |suffix: u32| format!("urn:oid:1.3.6.1.4.1.20326.10.999.1.{suffix}");
    vec![
        uri_attribute("urn:oid:2.5.4.4", "sn", &["Martin"]),
        uri_attribute("urn:oid:2.5.4.42", "givenName", &["Léa"]),
        uri_attribute(&oid(7), "FrEduCtPersonAffiliation", &["eleve2d"]),
        uri_attribute(&oid(57), "FrEduCtId", &[FR_EDU_CT_ID]),
        uri_attribute(
            &oid(64),
            "FrEduCtEleveINEHash",
            &["9b1f0c2e4d6a8b0c2e4f6a8b0d2c4e6f"],
        ),
        uri_attribute(&oid(67), "FrEduCtDateNaissance", &["2012-03-14"]),
        uri_attribute(&oid(72), "FrEduCtEleveUAI", &["0341234M"]),
        uri_attribute(&oid(73), "FrEduCtEleveNiveau", &["2112"]),
        uri_attribute(
            &oid(6),
            "FrEduCtDateConnexion",
            &["2026-11-16 08:02:11.475"],
        ),
        uri_attribute(
            &oid(5),
            "FrEduUrlRetour",
            &["https://educonnect.bench.example/idp/profile/Logout"],
        ),
        SamlAttribute {
            name: "FrEduCtRefId".to_owned(),
            name_format: Some(ns::ATTRNAME_FORMAT_BASIC.to_owned()),
            friendly_name: None,
            values: vec!["{AAF}A34||4812345".to_owned()],
        },
    ]
}

/// One Response of the simulated IdP and the assertion it carries.
struct Built {
    /// The signed assertion (the plaintext of the encrypted one).
    signed_assertion: String,
    /// The assertion as embedded in the Response (encrypted or not).
    embedded_assertion: String,
    /// The whole Response.
    response: String,
}

/// Builds a Response as ÉduConnect does: assertion signed, then encrypted
/// when `encrypt`, embedded, then the Response signed when `sign_response`.
fn build_response(
    keys: &Keys,
    request_id: &str,
    now: DateTime<Utc>,
    encrypt: bool,
    sign_response: bool,
) -> BenchResult<Built> {
    let assertion_id = ids::new_id();
    let issued = now - chrono::Duration::seconds(2);
    let assertion = messages::build_assertion(&AssertionSpec {
        id: assertion_id.clone(),
        issuer: IDP_ENTITY.to_owned(),
        issue_instant: issued,
        name_id: "AAdzZWNyZXQxfW7Kf0x9".to_owned(),
        name_id_format: ns::NAMEID_TRANSIENT.to_owned(),
        name_qualifier: Some(IDP_ENTITY.to_owned()),
        sp_name_qualifier: Some(SP_ENTITY.to_owned()),
        recipient: ACS_URL.to_owned(),
        in_response_to: Some(request_id.to_owned()),
        not_before: issued,
        not_on_or_after: now + chrono::Duration::minutes(5),
        audience: SP_ENTITY.to_owned(),
        session_index: ids::new_id(),
        authn_instant: issued,
        authn_context_class_ref: ns::AC_PASSWORD_PROTECTED_TRANSPORT.to_owned(),
        session_not_on_or_after: Some(now + chrono::Duration::hours(8)),
        attributes: educonnect_attributes(),
    });
    let signed_assertion = dsig::sign_enveloped(&assertion, &assertion_id, &keys.idp)?;
    let embedded_assertion = if encrypt {
        encryption::encrypt_assertion(
            &signed_assertion,
            keys.sp_decryption.certificate(),
            KeyTransport::RsaOaep,
            DataCipher::Aes256Gcm,
        )?
    } else {
        signed_assertion.clone()
    };
    let response_id = ids::new_id();
    let response = messages::build_response(
        &ResponseSpec {
            id: response_id.clone(),
            issuer: IDP_ENTITY.to_owned(),
            issue_instant: issued,
            destination: ACS_URL.to_owned(),
            in_response_to: Some(request_id.to_owned()),
            status_code: ns::STATUS_SUCCESS.to_owned(),
            status_sub_code: None,
            status_message: None,
        },
        Some(&embedded_assertion),
    )?;
    let response = if sign_response {
        dsig::sign_enveloped(&response, &response_id, &keys.idp)?
    } else {
        response
    };
    Ok(Built {
        signed_assertion,
        embedded_assertion,
        response,
    })
}

fn connector(keys: &Keys, options: &str) -> BenchResult<SamlConnector> {
    let settings = Arc::new(SpSettings {
        entity_id: SP_ENTITY.to_owned(),
        acs_url: ACS_URL.to_owned(),
        slo_url: "https://sso.bench.example/saml/sp/slo".to_owned(),
        signing_key: Arc::clone(&keys.sp_signing),
        decryption_key: Arc::clone(&keys.sp_decryption),
        clock_skew: Duration::from_secs(60),
        max_message_bytes: MAX_MESSAGE_BYTES,
    });
    let config: SamlIdpConfig = toml::from_str(&format!(
        r#"
id = "educonnect"
label = "Élève ou parent"
entity_id = "{IDP_ENTITY}"
metadata_file = "educonnect.xml"
mapping = "educonnect"
{options}
"#
    ))?;
    let example: toml::Table = toml::from_str(EXAMPLE_CONFIG)?;
    let mapping_config: MappingConfig = example
        .get("mapping")
        .and_then(|m| m.get("educonnect"))
        .cloned()
        .ok_or("no [mapping.educonnect] in the example configuration")?
        .try_into()?;
    let metadata_xml = metadata::build_idp_metadata(&IdpMetadataSpec {
        entity_id: IDP_ENTITY,
        signing_certs: std::slice::from_ref(keys.idp.certificate()),
        sso_redirect: "https://educonnect.bench.example/idp/profile/SAML2/Redirect/SSO",
        sso_post: "https://educonnect.bench.example/idp/profile/SAML2/POST/SSO",
        slo_redirect: "https://educonnect.bench.example/idp/profile/SAML2/Redirect/SLO",
        slo_post: "https://educonnect.bench.example/idp/profile/SAML2/POST/SLO",
        name_id_formats: &[ns::NAMEID_TRANSIENT],
    });
    let metadata = metadata::parse(&metadata_xml, Some(IDP_ENTITY))?;
    Ok(SamlConnector::new(
        config,
        Mapping::new(&mapping_config)?,
        settings,
        metadata,
    )?)
}

/// A connector, the `SAMLResponse` it receives, and what the gateway knows then.
struct Case {
    connector: SamlConnector,
    saml_response: String,
    request_id: String,
    now: DateTime<Utc>,
    built: Built,
}

impl Case {
    fn new(keys: &Keys, options: &str, encrypt: bool, sign_response: bool) -> BenchResult<Self> {
        let request_id = ids::new_id();
        let now = Utc::now();
        let built = build_response(keys, &request_id, now, encrypt, sign_response)?;
        Ok(Self {
            connector: connector(keys, options)?,
            saml_response: STANDARD.encode(built.response.as_bytes()),
            request_id,
            now,
            built,
        })
    }

    /// Validates with a fresh replay cache; the subject must be the pupil's.
    fn check(&self, runtime: &Runtime) -> BenchResult<()> {
        let store = MemoryStore::new();
        let login = runtime.block_on(self.connector.validate(
            &self.saml_response,
            Some(&self.request_id),
            &store,
            self.now,
        ))?;
        if login.identity.subject != FR_EDU_CT_ID {
            return Err(format!("unexpected subject {:?}", login.identity.subject).into());
        }
        Ok(())
    }

    fn bench(&self, runtime: &Runtime, criterion: &mut Criterion, id: &str) {
        criterion.bench_function(id, |b| {
            b.iter_batched_ref(
                MemoryStore::new,
                |store| {
                    runtime.block_on(self.connector.validate(
                        black_box(&self.saml_response),
                        Some(&self.request_id),
                        store,
                        self.now,
                    ))
                },
                BatchSize::SmallInput,
            );
        });
    }
}

fn bench_bare(criterion: &mut Criterion, keys: &Keys) -> BenchResult<()> {
    let signed_info = vec![b's'; SIGNED_INFO_LEN];
    let signature = rsa_sign(&keys.idp_private, &signed_info)?;
    if !rsa_verify(&keys.idp_public, &signed_info, &signature)? {
        return Err("the bare RSA signature does not verify".into());
    }
    let mut aes_key = vec![0u8; AES_KEY_LEN];
    openssl::rand::rand_bytes(&mut aes_key)?;
    let wrapped = oaep_encrypt(&keys.sp_decryption_public, &aes_key)?;
    if oaep_decrypt(&keys.sp_decryption_private, &wrapped)? != aes_key {
        return Err("the bare RSA-OAEP round trip failed".into());
    }
    let gcm = gcm_message()?;
    if gcm_decrypt(&gcm)?.len() != AES_PLAINTEXT_LEN {
        return Err("the bare AES-GCM round trip failed".into());
    }
    criterion.bench_function("bare/rsa2048_sign_sha256", |b| {
        b.iter(|| rsa_sign(&keys.idp_private, black_box(&signed_info)).is_ok());
    });
    criterion.bench_function("bare/rsa2048_verify_sha256", |b| {
        b.iter(|| rsa_verify(&keys.idp_public, black_box(&signed_info), &signature).is_ok());
    });
    criterion.bench_function("bare/rsa2048_oaep_decrypt", |b| {
        b.iter(|| oaep_decrypt(&keys.sp_decryption_private, black_box(&wrapped)).is_ok());
    });
    criterion.bench_function("bare/aes256gcm_decrypt_4k", |b| {
        b.iter(|| gcm_decrypt(black_box(&gcm)).is_ok());
    });
    Ok(())
}

/// The acceptance sequence's public building blocks, each checked once then
/// timed alone on the encrypted case's message (the assertion ones on the
/// decrypted, signed assertion).
fn bench_steps(
    criterion: &mut Criterion,
    runtime: &Runtime,
    keys: &Keys,
    case: &Case,
) -> BenchResult<()> {
    let certs = vec![keys.idp.certificate().clone()];
    let max = MAX_MESSAGE_BYTES;
    let xml = binding::decode_post(&case.saml_response, max)?;
    messages::parse_response_envelope(&xml)?;
    dsig::verify_and_reduce(&xml, &certs)?;
    let encrypted = &case.built.embedded_assertion;
    let assertion = encryption::decrypt_assertion(encrypted, &keys.sp_decryption)?;
    if assertion != case.built.signed_assertion {
        return Err("the decrypted assertion differs from the signed one".into());
    }
    messages::parse_assertion(&assertion)?;
    dsig::verify_and_reduce(&assertion, &certs)?;

    criterion.bench_function("steps/decode_post", |b| {
        b.iter(|| binding::decode_post(black_box(&case.saml_response), max).is_ok());
    });
    criterion.bench_function("steps/parse_response_envelope", |b| {
        b.iter(|| messages::parse_response_envelope(black_box(&xml)).is_ok());
    });
    criterion.bench_function("steps/verify_response_signature", |b| {
        b.iter(|| dsig::verify_and_reduce(black_box(&xml), &certs).is_ok());
    });
    criterion.bench_function("steps/decrypt_assertion", |b| {
        b.iter(|| encryption::decrypt_assertion(black_box(encrypted), &keys.sp_decryption).is_ok());
    });
    criterion.bench_function("steps/parse_assertion", |b| {
        b.iter(|| messages::parse_assertion(black_box(&assertion)).is_ok());
    });
    criterion.bench_function("steps/verify_assertion_signature", |b| {
        b.iter(|| dsig::verify_and_reduce(black_box(&assertion), &certs).is_ok());
    });
    let cert_der = keys.idp.certificate().to_der();
    let signed_info = vec![b's'; SIGNED_INFO_LEN];
    let signature = rsa_sign(&keys.idp_private, &signed_info)?;
    if !verify_with_fresh_cert(&cert_der, &signed_info, &signature)? {
        return Err("the signature does not verify with the decoded certificate".into());
    }
    criterion.bench_function("steps/rsa2048_verify_fresh_cert", |b| {
        b.iter(|| verify_with_fresh_cert(black_box(&cert_der), &signed_info, &signature).is_ok());
    });
    sequence_on_one_thread(&case.saml_response, &certs, &keys.sp_decryption)?;
    criterion.bench_function("steps/sequence_on_one_thread", |b| {
        b.iter(|| {
            sequence_on_one_thread(black_box(&case.saml_response), &certs, &keys.sp_decryption)
                .is_ok()
        });
    });
    criterion.bench_function("steps/sequence_in_one_spawn_blocking", |b| {
        b.iter(|| {
            let saml_response = case.saml_response.clone();
            let certs = certs.clone();
            let key = Arc::clone(&keys.sp_decryption);
            runtime.block_on(async move {
                tokio::task::spawn_blocking(move || {
                    sequence_on_one_thread(&saml_response, &certs, &key).is_ok()
                })
                .await
            })
        });
    });
    criterion.bench_function("steps/spawn_blocking_round_trip", |b| {
        b.iter(|| {
            runtime
                .block_on(async { tokio::task::spawn_blocking(|| black_box(1u8)).await })
                .is_ok()
        });
    });
    Ok(())
}

fn main() -> BenchResult<()> {
    let keys = Keys::generate()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let encrypted = Case::new(
        &keys,
        "require_signed_response = true\nrequire_encrypted_assertion = true",
        true,
        true,
    )?;
    let plain = Case::new(&keys, "", false, false)?;
    encrypted.check(&runtime)?;
    plain.check(&runtime)?;
    println!(
        "fixture: encrypted Response {} bytes ({} in base64), signed assertion {} bytes; \
         plain Response {} bytes",
        encrypted.built.response.len(),
        encrypted.saml_response.len(),
        encrypted.built.signed_assertion.len(),
        plain.built.response.len(),
    );

    let mut criterion = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench_bare(&mut criterion, &keys)?;
    encrypted.bench(&runtime, &mut criterion, "validate/educonnect_encrypted");
    plain.bench(&runtime, &mut criterion, "validate/plain_signed_assertion");
    bench_steps(&mut criterion, &runtime, &keys, &encrypted)?;
    criterion.final_summary();
    Ok(())
}
