//! Encrypted assertions: round trips for every supported combination,
//! interoperability with `xmlsec1 --encrypt/--decrypt`, and every refusal with
//! its positive control.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sso_saml::dsig::{sign_enveloped, verify_and_reduce};
use sso_saml::encryption::{
    DataCipher, EncryptionError, KeyTransport, decrypt_assertion, encrypt_assertion,
};
use sso_saml::messages::{
    build_assertion, build_response, parse_assertion, parse_response_envelope,
};
use sso_saml::ns;
use sso_saml::xml::XmlError;

use crate::common::*;

const CIPHERS: [DataCipher; 4] = [
    DataCipher::Aes128Cbc,
    DataCipher::Aes256Cbc,
    DataCipher::Aes128Gcm,
    DataCipher::Aes256Gcm,
];

fn signed_assertion() -> String {
    sign_enveloped(
        &build_assertion(&assertion_spec("_enc1")),
        "_enc1",
        idp_key(),
    )
    .unwrap()
}

fn encrypt(kt: KeyTransport, dc: DataCipher) -> String {
    encrypt_assertion(&signed_assertion(), sp_key().certificate(), kt, dc).unwrap()
}

/// The base64 text of the data CipherValue (the last one in the document).
fn data_cipher_value(encrypted: &str) -> (usize, usize) {
    let start = encrypted.rfind("<xenc:CipherValue>").unwrap() + "<xenc:CipherValue>".len();
    let end = encrypted.rfind("</xenc:CipherValue>").unwrap();
    (start, end)
}

/// Applies `change` to the decoded data ciphertext.
fn tamper_data(encrypted: &str, change: impl FnOnce(&mut Vec<u8>)) -> String {
    let (start, end) = data_cipher_value(encrypted);
    let mut bytes = STANDARD.decode(&encrypted[start..end]).unwrap();
    change(&mut bytes);
    format!(
        "{}{}{}",
        &encrypted[..start],
        STANDARD.encode(bytes),
        &encrypted[end..]
    )
}

#[test]
fn round_trip_for_every_cipher_and_key_transport() {
    let plain = signed_assertion();
    for kt in [KeyTransport::RsaOaepMgf1p, KeyTransport::RsaOaep] {
        for dc in CIPHERS {
            let encrypted = encrypt_assertion(&plain, sp_key().certificate(), kt, dc).unwrap();
            assert!(
                !encrypted.contains("c0ffee42"),
                "{kt:?}/{dc:?} leaks the NameID"
            );
            let decrypted = decrypt_assertion(&encrypted, sp_key()).unwrap();
            assert_eq!(decrypted, plain, "{kt:?}/{dc:?}");
        }
    }
}

#[test]
fn decrypted_assertion_still_verifies() {
    let encrypted = encrypt(KeyTransport::RsaOaep, DataCipher::Aes256Gcm);
    let response = build_response(&response_spec("_r1"), Some(&encrypted)).unwrap();
    let response = sign_enveloped(&response, "_r1", idp_key()).unwrap();
    let certs = [idp_key().certificate().clone()];
    assert!(verify_and_reduce(&response, &certs).is_ok());
    let envelope = parse_response_envelope(&response).unwrap();
    assert_eq!(envelope.assertions, 0);
    assert_eq!(envelope.encrypted_assertions.len(), 1);
    let assertion = decrypt_assertion(&envelope.encrypted_assertions[0], sp_key()).unwrap();
    let reduced = verify_and_reduce(&assertion, &certs).unwrap();
    assert_eq!(parse_assertion(&reduced).unwrap().id, "_enc1");
}

#[test]
fn rsa1_5_key_transport_is_refused() {
    let control = encrypt(KeyTransport::RsaOaepMgf1p, DataCipher::Aes128Gcm);
    assert!(decrypt_assertion(&control, sp_key()).is_ok());
    let legacy = encrypt(KeyTransport::Rsa15, DataCipher::Aes128Gcm);
    assert!(legacy.contains(ns::KT_RSA_1_5));
    assert!(matches!(
        decrypt_assertion(&legacy, sp_key()),
        Err(EncryptionError::Rsa15Refused)
    ));
}

#[test]
fn gcm_tag_tampering_is_refused() {
    let encrypted = encrypt(KeyTransport::RsaOaep, DataCipher::Aes256Gcm);
    assert!(decrypt_assertion(&encrypted, sp_key()).is_ok());
    let tag_flipped = tamper_data(&encrypted, |b| {
        let last = b.len() - 1;
        b[last] ^= 1;
    });
    assert!(matches!(
        decrypt_assertion(&tag_flipped, sp_key()),
        Err(EncryptionError::AuthenticationFailed)
    ));
    let body_flipped = tamper_data(&encrypted, |b| b[20] ^= 1);
    assert!(matches!(
        decrypt_assertion(&body_flipped, sp_key()),
        Err(EncryptionError::AuthenticationFailed)
    ));
}

#[test]
fn cbc_padding_tampering_is_refused() {
    let encrypted = encrypt(KeyTransport::RsaOaepMgf1p, DataCipher::Aes128Cbc);
    assert!(decrypt_assertion(&encrypted, sp_key()).is_ok());
    // The last plaintext byte (the padding length) is XORed with the matching
    // byte of the previous ciphertext block: make it 0x50 or more.
    let tampered = tamper_data(&encrypted, |b| {
        let index = b.len() - 16 - 1;
        b[index] ^= 0x50;
    });
    assert!(matches!(
        decrypt_assertion(&tampered, sp_key()),
        Err(EncryptionError::BadPadding)
    ));
}

#[test]
fn truncated_ciphertext_is_refused() {
    for dc in [DataCipher::Aes128Cbc, DataCipher::Aes128Gcm] {
        let encrypted = encrypt(KeyTransport::RsaOaep, dc);
        assert!(decrypt_assertion(&encrypted, sp_key()).is_ok());
        let truncated = tamper_data(&encrypted, |b| b.truncate(20));
        assert!(
            matches!(
                decrypt_assertion(&truncated, sp_key()),
                Err(EncryptionError::TruncatedCiphertext { len: 20 })
            ),
            "{dc:?}"
        );
        let empty = tamper_data(&encrypted, Vec::clear);
        assert!(decrypt_assertion(&empty, sp_key()).is_err(), "{dc:?}");
    }
}

#[test]
fn malformed_base64_and_unknown_algorithms_are_refused() {
    let encrypted = encrypt(KeyTransport::RsaOaep, DataCipher::Aes128Gcm);
    assert!(decrypt_assertion(&encrypted, sp_key()).is_ok());
    let (start, _) = data_cipher_value(&encrypted);
    let bad_b64 = format!("{}!!{}", &encrypted[..start], &encrypted[start..]);
    assert!(matches!(
        decrypt_assertion(&bad_b64, sp_key()),
        Err(EncryptionError::Base64 { .. })
    ));
    let unknown = encrypted.replace(ns::ENC_AES128_GCM, "http://example.test/rot13");
    match decrypt_assertion(&unknown, sp_key()) {
        Err(EncryptionError::UnsupportedDataCipher { algorithm }) => {
            assert_eq!(algorithm, "http://example.test/rot13")
        }
        other => panic!("unexpected {other:?}"),
    }
    let unknown_kt = encrypted.replace(ns::KT_RSA_OAEP, "http://example.test/rsa-raw");
    assert!(matches!(
        decrypt_assertion(&unknown_kt, sp_key()),
        Err(EncryptionError::UnsupportedKeyTransport { .. })
    ));
}

#[test]
fn wrong_private_key_cannot_decrypt() {
    let encrypted = encrypt(KeyTransport::RsaOaep, DataCipher::Aes128Gcm);
    assert!(decrypt_assertion(&encrypted, sp_key()).is_ok());
    assert!(matches!(
        decrypt_assertion(&encrypted, attacker_key()),
        Err(EncryptionError::KeyTransportFailed)
    ));
}

#[test]
fn decrypted_plaintext_must_pass_the_xml_checks() {
    // An "assertion" carrying a DOCTYPE, encrypted for us by someone holding our certificate.
    let evil = format!("<!DOCTYPE x [<!ENTITY e \"boom\">]>{}", signed_assertion());
    let clean = encrypt(KeyTransport::RsaOaep, DataCipher::Aes128Gcm);
    assert!(decrypt_assertion(&clean, sp_key()).is_ok());
    let (start, end) = data_cipher_value(&clean);
    let key = aes_key_of(&clean);
    let iv = [3u8; 12];
    let mut tag = [0u8; 16];
    let ct = openssl::symm::encrypt_aead(
        openssl::symm::Cipher::aes_128_gcm(),
        &key,
        Some(&iv),
        &[],
        evil.as_bytes(),
        &mut tag,
    )
    .unwrap();
    let data = [iv.to_vec(), ct, tag.to_vec()].concat();
    let forged = format!(
        "{}{}{}",
        &clean[..start],
        STANDARD.encode(data),
        &clean[end..]
    );
    assert!(matches!(
        decrypt_assertion(&forged, sp_key()),
        Err(EncryptionError::Xml(XmlError::Doctype))
    ));
}

/// Recovers the AES key of a message encrypted for the SP (test only).
fn aes_key_of(encrypted: &str) -> Vec<u8> {
    use openssl::md::Md;
    use openssl::pkey::PKey;
    use openssl::pkey_ctx::PkeyCtx;
    let start = encrypted.find("<xenc:CipherValue>").unwrap() + "<xenc:CipherValue>".len();
    let end = encrypted.find("</xenc:CipherValue>").unwrap();
    let wrapped = STANDARD.decode(&encrypted[start..end]).unwrap();
    let pkey = PKey::private_key_from_pem(&sp_key().private_key_pem().unwrap()).unwrap();
    let mut ctx = PkeyCtx::new(&pkey).unwrap();
    ctx.decrypt_init().unwrap();
    ctx.set_rsa_padding(openssl::rsa::Padding::PKCS1_OAEP)
        .unwrap();
    ctx.set_rsa_oaep_md(Md::sha256()).unwrap();
    ctx.set_rsa_mgf1_md(Md::sha256()).unwrap();
    let mut out = Vec::new();
    ctx.decrypt_to_vec(&wrapped, &mut out).unwrap();
    out
}

/// xmlsec1 1.2 (Debian bookworm) knows `rsa-oaep-mgf1p` but not the xmlenc 1.1
/// `rsa-oaep` URI, so the interoperability check covers the former.
#[test]
fn xmlsec1_decrypts_what_we_encrypt() {
    let dir = tempfile::tempdir().unwrap();
    let (key_pem, _) = write_key_files(dir.path(), "sp", sp_key());
    for (kt, dc) in [
        (KeyTransport::RsaOaepMgf1p, DataCipher::Aes128Cbc),
        (KeyTransport::RsaOaepMgf1p, DataCipher::Aes256Cbc),
        (KeyTransport::RsaOaepMgf1p, DataCipher::Aes128Gcm),
        (KeyTransport::RsaOaepMgf1p, DataCipher::Aes256Gcm),
    ] {
        let encrypted = encrypt(kt, dc);
        let input = dir.path().join("encrypted.xml");
        let output = dir.path().join("decrypted.xml");
        std::fs::write(&input, &encrypted).unwrap();
        let (ok, log) = run_xmlsec1(&[
            "--decrypt",
            "--privkey-pem",
            key_pem.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
            input.to_str().unwrap(),
        ]);
        assert!(ok, "xmlsec1 could not decrypt {kt:?}/{dc:?}: {log}");
        let decrypted = std::fs::read_to_string(&output).unwrap();
        assert!(decrypted.contains("c0ffee42"), "{kt:?}/{dc:?}");
    }
}

#[test]
fn we_decrypt_what_xmlsec1_encrypts() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cert_pem) = write_key_files(dir.path(), "sp", sp_key());
    let plain = signed_assertion();
    let data = dir.path().join("data.xml");
    std::fs::write(
        &data,
        format!(
            r#"<saml:EncryptedAssertion xmlns:saml="{}">{plain}</saml:EncryptedAssertion>"#,
            ns::ASSERTION
        ),
    )
    .unwrap();
    for (session, data_alg, kt_alg) in [
        ("aes-256", ns::ENC_AES256_GCM, ns::KT_RSA_OAEP_MGF1P),
        ("aes-128", ns::ENC_AES128_CBC, ns::KT_RSA_OAEP_MGF1P),
        ("aes-192", ns::ENC_AES192_CBC, ns::KT_RSA_OAEP_MGF1P),
    ] {
        let template = dir.path().join("template.xml");
        std::fs::write(
            &template,
            format!(
                concat!(
                    r#"<xenc:EncryptedData xmlns:xenc="{xenc}" Type="{element}">"#,
                    r#"<xenc:EncryptionMethod Algorithm="{data_alg}"/>"#,
                    r#"<ds:KeyInfo xmlns:ds="{dsig}"><xenc:EncryptedKey>"#,
                    r#"<xenc:EncryptionMethod Algorithm="{kt_alg}"/>"#,
                    r#"<xenc:CipherData><xenc:CipherValue/></xenc:CipherData>"#,
                    r#"</xenc:EncryptedKey></ds:KeyInfo>"#,
                    r#"<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>"#
                ),
                xenc = ns::XMLENC,
                element = ns::XMLENC_TYPE_ELEMENT,
                data_alg = data_alg,
                dsig = ns::DSIG,
                kt_alg = kt_alg,
            ),
        )
        .unwrap();
        let output = dir.path().join("encrypted.xml");
        let (ok, log) = run_xmlsec1(&[
            "--encrypt",
            "--pubkey-cert-pem",
            cert_pem.to_str().unwrap(),
            "--session-key",
            session,
            "--xml-data",
            data.to_str().unwrap(),
            "--node-name",
            ASSERTION_ID_ATTR,
            "--output",
            output.to_str().unwrap(),
            template.to_str().unwrap(),
        ]);
        assert!(ok, "xmlsec1 --encrypt failed for {data_alg}: {log}");
        let encrypted = std::fs::read_to_string(&output).unwrap();
        assert!(!encrypted.contains("c0ffee42"));
        let decrypted = decrypt_assertion(&encrypted, sp_key())
            .unwrap_or_else(|e| panic!("{data_alg}: {e}\n{encrypted}"));
        let reduced = verify_and_reduce(&decrypted, &[idp_key().certificate().clone()]).unwrap();
        assert_eq!(
            parse_assertion(&reduced).unwrap().name_id.unwrap().value,
            "c0ffee42"
        );
    }
}
