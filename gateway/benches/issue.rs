//! Benchmark of the downstream hot path: [`signed_response`] building the
//! SAML Response the gateway issues to a service (saml-core §2.3.3, §3.3.3;
//! saml-profiles §4.1.4.2), with the Assertion signed, then with the Response
//! signed too, carrying the eight attributes the example ENT is released
//! (GAR names: IDO, UAI, PRO, NOM, PRE, P_MEL, DIV, E_MS1). It is measured in
//! the same run as one bare RSA-2048 PKCS#1 v1.5 SHA-256 signature, the only
//! cryptographic operation issuance cannot avoid (one per signed element).
//! BENCHMARKS.md at the workspace root records the figures and the ratio
//! "hot path / its bare signatures".
//!
//! The `issue_steps` group times the building blocks of [`signed_response`]
//! one by one, so that the overhead can be attributed.
//!
//! Every fixture is checked once before it is timed: a failed check stops
//! the benchmark with an error.

use std::error::Error;
use std::hint::black_box;
use std::time::Duration;

use chrono::Utc;
use criterion::Criterion;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::sign::{Signer, Verifier};
use openssl::x509::X509;
use sso_gateway::issue::signed_response;
use sso_saml::dsig;
use sso_saml::keys::SigningKey;
use sso_saml::messages::{self, AssertionSpec, ResponseSpec, SamlAttribute};
use sso_saml::{ids, ns};

type BenchResult<T> = Result<T, Box<dyn Error>>;

const IDP_ENTITY: &str = "https://sso.bench.example/saml/idp";
const ENT_ENTITY: &str = "https://ent.bench.example/saml";
const ENT_ACS: &str = "https://ent.bench.example/saml/acs";
/// Size of a `ds:SignedInfo` as canonicalized and signed (one reference).
const SIGNED_INFO_LEN: usize = 500;

/// One PKCS#1 v1.5 SHA-256 signature, as `dsig::sign_enveloped` makes over `SignedInfo`.
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

fn basic_attribute(name: &str, values: &[&str]) -> SamlAttribute {
    SamlAttribute {
        name: name.to_owned(),
        name_format: Some(ns::ATTRNAME_FORMAT_BASIC.to_owned()),
        friendly_name: None,
        values: values.iter().map(|v| (*v).to_owned()).collect(),
    }
}

/// What the example ENT (config/example/services/ent-college.toml) is
/// released for a collège pupil.
fn ent_attributes() -> Vec<SamlAttribute> {
    vec![
        basic_attribute(
            "IDO",
            &["5e0b8f3a9c2d4e6f8a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d1e3f"],
        ),
        basic_attribute("UAI", &["0341234M"]),
        basic_attribute("PRO", &["National_ELV"]),
        basic_attribute("NOM", &["Martin"]),
        basic_attribute("PRE", &["Léa"]),
        basic_attribute("P_MEL", &["lea.martin@ent.bench.example"]),
        basic_attribute("DIV", &["4A##4ème A"]),
        basic_attribute("E_MS1", &["10110001110##4EME"]),
    ]
}

/// The Assertion and Response of one login, as the web layer fills them.
fn specs() -> (AssertionSpec, ResponseSpec) {
    let now = Utc::now();
    let request_id = ids::new_id();
    let assertion = AssertionSpec {
        id: ids::new_id(),
        issuer: IDP_ENTITY.to_owned(),
        issue_instant: now,
        name_id: "b7c1d9e3f5a7b9c1d3e5f7a9b1c3d5e7".to_owned(),
        name_id_format: ns::NAMEID_PERSISTENT.to_owned(),
        name_qualifier: Some(IDP_ENTITY.to_owned()),
        sp_name_qualifier: Some(ENT_ENTITY.to_owned()),
        recipient: ENT_ACS.to_owned(),
        in_response_to: Some(request_id.clone()),
        not_before: now,
        not_on_or_after: now + chrono::Duration::minutes(5),
        audience: ENT_ENTITY.to_owned(),
        session_index: ids::new_id(),
        authn_instant: now,
        authn_context_class_ref: ns::AC_PASSWORD_PROTECTED_TRANSPORT.to_owned(),
        session_not_on_or_after: None,
        attributes: ent_attributes(),
    };
    let response = ResponseSpec {
        id: ids::new_id(),
        issuer: IDP_ENTITY.to_owned(),
        issue_instant: now,
        destination: ENT_ACS.to_owned(),
        in_response_to: Some(request_id),
        status_code: ns::STATUS_SUCCESS.to_owned(),
        status_sub_code: None,
        status_message: None,
    };
    (assertion, response)
}

/// The issued Response carries one signature per signed element, and every
/// signature verifies with the key's certificate.
fn check_issued(
    key: &SigningKey,
    assertion: &AssertionSpec,
    response: &ResponseSpec,
    sign_response: bool,
) -> BenchResult<()> {
    let xml = signed_response(assertion, response, sign_response, key)?;
    let certs = [key.certificate().clone()];
    let expected = if sign_response { 2 } else { 1 };
    let found = xml.matches("<ds:SignatureValue>").count();
    if found != expected {
        return Err(format!("{found} signatures issued, {expected} expected").into());
    }
    dsig::verify_and_reduce(&xml, &certs)?;
    Ok(())
}

fn main() -> BenchResult<()> {
    let key = SigningKey::generate_self_signed("sso.bench.example signing")?;
    let private = PKey::private_key_from_pem(&key.private_key_pem()?)?;
    let public = X509::from_pem(&key.certificate().to_pem()?)?.public_key()?;
    let signed_info = vec![b's'; SIGNED_INFO_LEN];
    if !rsa_verify(&public, &signed_info, &rsa_sign(&private, &signed_info)?)? {
        return Err("the bare RSA signature does not verify".into());
    }
    let (assertion, response) = specs();
    check_issued(&key, &assertion, &response, false)?;
    check_issued(&key, &assertion, &response, true)?;
    let unsigned_assertion = messages::build_assertion(&assertion);
    let signed_assertion = dsig::sign_enveloped(&unsigned_assertion, &assertion.id, &key)?;
    let unsigned_response = messages::build_response(&response, Some(&signed_assertion))?;

    let mut criterion = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    criterion.bench_function("bare/rsa2048_sign_sha256", |b| {
        b.iter(|| rsa_sign(&private, black_box(&signed_info)).is_ok());
    });
    criterion.bench_function("issue/assertion_signed", |b| {
        b.iter(|| signed_response(black_box(&assertion), &response, false, &key).is_ok());
    });
    criterion.bench_function("issue/assertion_and_response_signed", |b| {
        b.iter(|| signed_response(black_box(&assertion), &response, true, &key).is_ok());
    });
    criterion.bench_function("issue_steps/build_assertion", |b| {
        b.iter(|| messages::build_assertion(black_box(&assertion)));
    });
    criterion.bench_function("issue_steps/sign_assertion", |b| {
        b.iter(|| {
            dsig::sign_enveloped(black_box(&unsigned_assertion), &assertion.id, &key).is_ok()
        });
    });
    criterion.bench_function("issue_steps/build_response", |b| {
        b.iter(|| messages::build_response(black_box(&response), Some(&signed_assertion)).is_ok());
    });
    criterion.bench_function("issue_steps/sign_response", |b| {
        b.iter(|| dsig::sign_enveloped(black_box(&unsigned_response), &response.id, &key).is_ok());
    });
    criterion.final_summary();
    Ok(())
}
