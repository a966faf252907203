//! Encrypted assertions (saml-core §2.3.4, §6; xmlenc-core, xmlenc-core1):
//! `saml:EncryptedAssertion` holding an `xenc:EncryptedData` whose key is
//! transported in an `xenc:EncryptedKey` (inside its `ds:KeyInfo`, as Shibboleth
//! and ÉduConnect do, or as a sibling). Key transport: RSA-OAEP only (RSA1_5 is
//! refused: Bleichenbacher oracle); data: AES-CBC or AES-GCM. Every malformed
//! input is an error, never a panic.
//!
//! AES-CBC gives no integrity: callers verify the signature of the enclosing
//! Response (when there is one) before decrypting, and never tell the sender
//! which step failed (padding-oracle attacks on XML Encryption).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openssl::error::ErrorStack;
use openssl::md::{Md, MdRef};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::symm::{Cipher, Crypter, Mode};
use thiserror::Error;

use crate::keys::{Certificate, SigningKey};
use crate::ns;
use crate::xml::tree::{self, Element};
use crate::xml::{MAX_MESSAGE_LEN, SchemaError, XmlError};

const AES_BLOCK: usize = 16;
const GCM_IV_LEN: usize = 12;
const GCM_TAG_LEN: usize = 16;

/// How the AES key is transported to the recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyTransport {
    /// `xmlenc#rsa-oaep-mgf1p` with SHA-1 digest and MGF1-SHA1.
    RsaOaepMgf1p,
    /// `xmlenc11#rsa-oaep` with SHA-256 digest and MGF1-SHA256.
    RsaOaep,
    /// `xmlenc#rsa-1_5`: only so that tests and simulators can produce a message
    /// that [`decrypt_assertion`] must refuse.
    Rsa15,
}

/// Symmetric cipher of the assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataCipher {
    /// AES-128-CBC.
    Aes128Cbc,
    /// AES-256-CBC.
    Aes256Cbc,
    /// AES-128-GCM.
    Aes128Gcm,
    /// AES-256-GCM.
    Aes256Gcm,
}

/// Why an assertion could not be encrypted or decrypted.
#[derive(Debug, Error)]
pub enum EncryptionError {
    /// The input failed the untrusted-XML checks.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// The input is well-formed but not as xmlenc/SAML require.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// The element to encrypt, or the decrypted plaintext, is not a `saml:Assertion`.
    #[error("the {what} is not a saml:Assertion")]
    NotAnAssertion {
        /// "input" or "decrypted plaintext".
        what: &'static str,
    },
    /// The recipient certificate does not hold an RSA key.
    #[error("the recipient certificate does not hold an RSA public key")]
    RecipientNotRsa,
    /// `EncryptedData` has a `Type` other than Element.
    #[error("EncryptedData Type {found} is not supported (expected xmlenc#Element)")]
    UnsupportedType {
        /// The `Type` found.
        found: String,
    },
    /// RSA1_5 key transport (refused).
    #[error("key transport RSA1_5 ({}) is refused", ns::KT_RSA_1_5)]
    Rsa15Refused,
    /// Unknown or unsupported key transport algorithm.
    #[error("unsupported key transport algorithm {algorithm}")]
    UnsupportedKeyTransport {
        /// The algorithm URI.
        algorithm: String,
    },
    /// Unknown or unsupported data encryption algorithm.
    #[error("unsupported data encryption algorithm {algorithm}")]
    UnsupportedDataCipher {
        /// The algorithm URI.
        algorithm: String,
    },
    /// Unknown OAEP digest or mask generation function.
    #[error("unsupported OAEP digest or MGF algorithm {algorithm}")]
    UnsupportedOaepParameter {
        /// The algorithm URI.
        algorithm: String,
    },
    /// No `xenc:EncryptedKey` was found.
    #[error("no xenc:EncryptedKey found for the EncryptedData")]
    MissingEncryptedKey,
    /// Cipher data given by reference instead of by value.
    #[error("xenc:CipherReference is not supported, only xenc:CipherValue")]
    CipherReference,
    /// A `CipherValue` or `OAEPparams` is not valid base64.
    #[error("the {what} is not valid base64: {source}")]
    Base64 {
        /// Which value.
        what: &'static str,
        /// The decoding error.
        #[source]
        source: base64::DecodeError,
    },
    /// No EncryptedKey could be decrypted with our key.
    #[error("the AES key could not be decrypted with our private key")]
    KeyTransportFailed,
    /// The transported key does not have the size the cipher needs.
    #[error("the transported key has {actual} bytes, {expected} expected")]
    KeyLength {
        /// Bytes expected.
        expected: usize,
        /// Bytes received.
        actual: usize,
    },
    /// The ciphertext is shorter than IV (+ tag) + one block.
    #[error("the ciphertext is too short ({len} bytes)")]
    TruncatedCiphertext {
        /// Its length.
        len: usize,
    },
    /// The CBC ciphertext is not a whole number of blocks, or its padding is invalid.
    #[error("the CBC ciphertext has invalid length or padding")]
    BadPadding,
    /// The GCM authentication tag does not match.
    #[error("the GCM authentication tag does not match (ciphertext altered)")]
    AuthenticationFailed,
    /// The plaintext is not UTF-8.
    #[error("the decrypted plaintext is not UTF-8")]
    PlaintextNotUtf8,
    /// An OpenSSL operation failed.
    #[error("OpenSSL failed while {operation}: {source}")]
    OpenSsl {
        /// What was being done.
        operation: &'static str,
        /// The error stack.
        #[source]
        source: ErrorStack,
    },
}

fn openssl_err(operation: &'static str) -> impl FnOnce(ErrorStack) -> EncryptionError {
    move |source| EncryptionError::OpenSsl { operation, source }
}

#[derive(Clone, Copy)]
enum Mode2 {
    Cbc,
    Gcm,
}

struct CipherSpec {
    cipher: Cipher,
    key_len: usize,
    mode: Mode2,
}

fn data_cipher_spec(algorithm: &str) -> Option<CipherSpec> {
    let (cipher, key_len, mode) = match algorithm {
        ns::ENC_AES128_CBC => (Cipher::aes_128_cbc(), 16, Mode2::Cbc),
        ns::ENC_AES192_CBC => (Cipher::aes_192_cbc(), 24, Mode2::Cbc),
        ns::ENC_AES256_CBC => (Cipher::aes_256_cbc(), 32, Mode2::Cbc),
        ns::ENC_AES128_GCM => (Cipher::aes_128_gcm(), 16, Mode2::Gcm),
        ns::ENC_AES192_GCM => (Cipher::aes_192_gcm(), 24, Mode2::Gcm),
        ns::ENC_AES256_GCM => (Cipher::aes_256_gcm(), 32, Mode2::Gcm),
        _ => return None,
    };
    Some(CipherSpec {
        cipher,
        key_len,
        mode,
    })
}

impl DataCipher {
    fn uri(self) -> &'static str {
        match self {
            Self::Aes128Cbc => ns::ENC_AES128_CBC,
            Self::Aes256Cbc => ns::ENC_AES256_CBC,
            Self::Aes128Gcm => ns::ENC_AES128_GCM,
            Self::Aes256Gcm => ns::ENC_AES256_GCM,
        }
    }
}

fn random_bytes(len: usize) -> Result<Vec<u8>, EncryptionError> {
    let mut bytes = vec![0u8; len];
    openssl::rand::rand_bytes(&mut bytes).map_err(openssl_err("drawing random bytes"))?;
    Ok(bytes)
}

/// Wraps an (already signed) saml:Assertion in saml:EncryptedAssertion
/// (xenc:EncryptedData with ds:KeyInfo/xenc:EncryptedKey), as ÉduConnect does.
/// The assertion's bytes are encrypted unchanged, so its signature stays valid.
pub fn encrypt_assertion(
    assertion_xml: &str,
    recipient: &Certificate,
    kt: KeyTransport,
    dc: DataCipher,
) -> Result<String, EncryptionError> {
    let root = tree::parse(assertion_xml, MAX_MESSAGE_LEN)?;
    if !root.is(ns::ASSERTION, "Assertion") {
        return Err(EncryptionError::NotAnAssertion { what: "input" });
    }
    let plaintext = root
        .standalone_xml(assertion_xml)
        .ok_or(EncryptionError::NotAnAssertion { what: "input" })?;
    if !recipient.public_key_is_rsa() {
        return Err(EncryptionError::RecipientNotRsa);
    }
    let spec = data_cipher_spec(dc.uri()).ok_or(EncryptionError::UnsupportedDataCipher {
        algorithm: dc.uri().to_owned(),
    })?;
    let key = random_bytes(spec.key_len)?;
    let data = match spec.mode {
        Mode2::Cbc => {
            let iv = random_bytes(AES_BLOCK)?;
            let ct = openssl::symm::encrypt(spec.cipher, &key, Some(&iv), plaintext.as_bytes())
                .map_err(openssl_err("encrypting with AES-CBC"))?;
            [iv, ct].concat()
        }
        Mode2::Gcm => {
            let iv = random_bytes(GCM_IV_LEN)?;
            let mut tag = [0u8; GCM_TAG_LEN];
            let ct = openssl::symm::encrypt_aead(
                spec.cipher,
                &key,
                Some(&iv),
                &[],
                plaintext.as_bytes(),
                &mut tag,
            )
            .map_err(openssl_err("encrypting with AES-GCM"))?;
            [iv, ct, tag.to_vec()].concat()
        }
    };
    let public = recipient
        .public_key()
        .map_err(openssl_err("reading the recipient's public key"))?;
    let mut ctx = PkeyCtx::new(&public).map_err(openssl_err("creating an RSA context"))?;
    ctx.encrypt_init()
        .map_err(openssl_err("initialising RSA encryption"))?;
    let method = match kt {
        KeyTransport::RsaOaepMgf1p => {
            ctx.set_rsa_padding(Padding::PKCS1_OAEP)
                .map_err(openssl_err("selecting RSA-OAEP"))?;
            format!(
                r#"<xenc:EncryptionMethod Algorithm="{}"><ds:DigestMethod Algorithm="{}"/></xenc:EncryptionMethod>"#,
                ns::KT_RSA_OAEP_MGF1P,
                ns::DIGEST_SHA1
            )
        }
        KeyTransport::RsaOaep => {
            ctx.set_rsa_padding(Padding::PKCS1_OAEP)
                .map_err(openssl_err("selecting RSA-OAEP"))?;
            ctx.set_rsa_oaep_md(Md::sha256())
                .map_err(openssl_err("selecting the OAEP digest"))?;
            ctx.set_rsa_mgf1_md(Md::sha256())
                .map_err(openssl_err("selecting the MGF1 digest"))?;
            format!(
                r#"<xenc:EncryptionMethod Algorithm="{}"><ds:DigestMethod Algorithm="{}"/><xenc11:MGF xmlns:xenc11="{}" Algorithm="{}"/></xenc:EncryptionMethod>"#,
                ns::KT_RSA_OAEP,
                ns::DIGEST_SHA256,
                ns::XMLENC11,
                ns::MGF1_SHA256
            )
        }
        KeyTransport::Rsa15 => {
            ctx.set_rsa_padding(Padding::PKCS1)
                .map_err(openssl_err("selecting RSA PKCS#1 v1.5"))?;
            format!(r#"<xenc:EncryptionMethod Algorithm="{}"/>"#, ns::KT_RSA_1_5)
        }
    };
    let mut wrapped_key = Vec::new();
    ctx.encrypt_to_vec(&key, &mut wrapped_key)
        .map_err(openssl_err("encrypting the AES key"))?;
    Ok(format!(
        concat!(
            r#"<saml:EncryptedAssertion xmlns:saml="{saml}">"#,
            r#"<xenc:EncryptedData xmlns:xenc="{xenc}" Type="{element}">"#,
            r#"<xenc:EncryptionMethod Algorithm="{data_alg}"/>"#,
            r#"<ds:KeyInfo xmlns:ds="{dsig}"><xenc:EncryptedKey>{method}"#,
            r#"<xenc:CipherData><xenc:CipherValue>{wrapped}</xenc:CipherValue></xenc:CipherData>"#,
            r#"</xenc:EncryptedKey></ds:KeyInfo>"#,
            r#"<xenc:CipherData><xenc:CipherValue>{data}</xenc:CipherValue></xenc:CipherData>"#,
            r#"</xenc:EncryptedData></saml:EncryptedAssertion>"#
        ),
        saml = ns::ASSERTION,
        xenc = ns::XMLENC,
        element = ns::XMLENC_TYPE_ELEMENT,
        data_alg = dc.uri(),
        dsig = ns::DSIG,
        method = method,
        wrapped = STANDARD.encode(&wrapped_key),
        data = STANDARD.encode(&data),
    ))
}

/// Decrypts one saml:EncryptedAssertion element (given as XML text) and returns
/// the saml:Assertion XML text.
///
/// Refuses RSA1_5 ([`EncryptionError::Rsa15Refused`]), unknown algorithms
/// (naming the URI), malformed base64, short ciphertext, bad padding, GCM tag
/// failure: all as errors, never panics. Supports RSA-OAEP (`rsa-oaep-mgf1p`
/// and xmlenc11 `rsa-oaep`, SHA-1/224/256/384/512 digests and MGF1 variants,
/// optional `OAEPparams`) and AES-128/192/256 in CBC and GCM. The plaintext
/// must itself pass [`check_untrusted`] and be a `saml:Assertion`.
pub fn decrypt_assertion(
    encrypted_assertion_xml: &str,
    key: &SigningKey,
) -> Result<String, EncryptionError> {
    let root = tree::parse(encrypted_assertion_xml, MAX_MESSAGE_LEN)?;
    root.require_name(ns::ASSERTION, "EncryptedAssertion")?;
    let data = root.required_child(ns::XMLENC, "EncryptedData")?;
    if let Some(kind) = data.attr("Type")
        && kind != ns::XMLENC_TYPE_ELEMENT
    {
        return Err(EncryptionError::UnsupportedType {
            found: kind.to_owned(),
        });
    }
    let algorithm = data
        .required_child(ns::XMLENC, "EncryptionMethod")?
        .required_attr("Algorithm")?;
    let spec =
        data_cipher_spec(algorithm).ok_or_else(|| EncryptionError::UnsupportedDataCipher {
            algorithm: algorithm.to_owned(),
        })?;
    let mut encrypted_keys: Vec<&Element> = Vec::new();
    if let Some(info) = data.optional_child(ns::DSIG, "KeyInfo")? {
        encrypted_keys.extend(info.children_named(ns::XMLENC, "EncryptedKey"));
    }
    encrypted_keys.extend(root.children_named(ns::XMLENC, "EncryptedKey"));
    if encrypted_keys.is_empty() {
        return Err(EncryptionError::MissingEncryptedKey);
    }
    let transports = encrypted_keys
        .iter()
        .map(|ek| read_key_transport(ek))
        .collect::<Result<Vec<_>, _>>()?;
    let aes_key = transports
        .iter()
        .find_map(|t| unwrap_key(t, key).ok())
        .ok_or(EncryptionError::KeyTransportFailed)?;
    if aes_key.len() != spec.key_len {
        return Err(EncryptionError::KeyLength {
            expected: spec.key_len,
            actual: aes_key.len(),
        });
    }
    let ciphertext = cipher_value(data, "EncryptedData CipherValue")?;
    let plaintext = match spec.mode {
        Mode2::Cbc => decrypt_cbc(spec.cipher, &aes_key, &ciphertext)?,
        Mode2::Gcm => decrypt_gcm(spec.cipher, &aes_key, &ciphertext)?,
    };
    let text = String::from_utf8(plaintext).map_err(|_| EncryptionError::PlaintextNotUtf8)?;
    let assertion = tree::parse(&text, MAX_MESSAGE_LEN)?;
    if !assertion.is(ns::ASSERTION, "Assertion") {
        return Err(EncryptionError::NotAnAssertion {
            what: "decrypted plaintext",
        });
    }
    Ok(text)
}

struct Transport {
    wrapped: Vec<u8>,
    digest: &'static MdRef,
    mgf1: &'static MdRef,
    label: Option<Vec<u8>>,
}

fn digest_md(algorithm: &str) -> Result<&'static MdRef, EncryptionError> {
    Ok(match algorithm {
        ns::DIGEST_SHA1 => Md::sha1(),
        ns::DIGEST_SHA224 => Md::sha224(),
        ns::DIGEST_SHA256 => Md::sha256(),
        ns::DIGEST_SHA384 => Md::sha384(),
        ns::DIGEST_SHA512 => Md::sha512(),
        other => {
            return Err(EncryptionError::UnsupportedOaepParameter {
                algorithm: other.to_owned(),
            });
        }
    })
}

fn mgf_md(algorithm: &str) -> Result<&'static MdRef, EncryptionError> {
    Ok(match algorithm {
        ns::MGF1_SHA1 => Md::sha1(),
        ns::MGF1_SHA224 => Md::sha224(),
        ns::MGF1_SHA256 => Md::sha256(),
        ns::MGF1_SHA384 => Md::sha384(),
        ns::MGF1_SHA512 => Md::sha512(),
        other => {
            return Err(EncryptionError::UnsupportedOaepParameter {
                algorithm: other.to_owned(),
            });
        }
    })
}

fn read_key_transport(encrypted_key: &Element) -> Result<Transport, EncryptionError> {
    let method = encrypted_key.required_child(ns::XMLENC, "EncryptionMethod")?;
    let algorithm = method.required_attr("Algorithm")?;
    let digest = match method.optional_child(ns::DSIG, "DigestMethod")? {
        Some(d) => digest_md(d.required_attr("Algorithm")?)?,
        None => Md::sha1(),
    };
    let mgf1 = match algorithm {
        ns::KT_RSA_1_5 => return Err(EncryptionError::Rsa15Refused),
        ns::KT_RSA_OAEP_MGF1P => Md::sha1(),
        ns::KT_RSA_OAEP => match method.optional_child(ns::XMLENC11, "MGF")? {
            Some(mgf) => mgf_md(mgf.required_attr("Algorithm")?)?,
            None => Md::sha1(),
        },
        other => {
            return Err(EncryptionError::UnsupportedKeyTransport {
                algorithm: other.to_owned(),
            });
        }
    };
    let label = method
        .optional_child(ns::XMLENC, "OAEPparams")?
        .map(|p| decode_base64(&p.text()?, "OAEPparams"))
        .transpose()?;
    Ok(Transport {
        wrapped: cipher_value(encrypted_key, "EncryptedKey CipherValue")?,
        digest,
        mgf1,
        label,
    })
}

fn unwrap_key(transport: &Transport, key: &SigningKey) -> Result<Vec<u8>, ErrorStack> {
    let mut ctx = PkeyCtx::new(key.pkey())?;
    ctx.decrypt_init()?;
    ctx.set_rsa_padding(Padding::PKCS1_OAEP)?;
    ctx.set_rsa_oaep_md(transport.digest)?;
    ctx.set_rsa_mgf1_md(transport.mgf1)?;
    if let Some(label) = &transport.label {
        ctx.set_rsa_oaep_label(label)?;
    }
    let mut out = Vec::new();
    ctx.decrypt_to_vec(&transport.wrapped, &mut out)?;
    Ok(out)
}

fn decode_base64(text: &str, what: &'static str) -> Result<Vec<u8>, EncryptionError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD
        .decode(compact.as_bytes())
        .map_err(|source| EncryptionError::Base64 { what, source })
}

fn cipher_value(parent: &Element, what: &'static str) -> Result<Vec<u8>, EncryptionError> {
    let cipher_data = parent.required_child(ns::XMLENC, "CipherData")?;
    if cipher_data
        .optional_child(ns::XMLENC, "CipherReference")?
        .is_some()
    {
        return Err(EncryptionError::CipherReference);
    }
    let value = cipher_data.required_child(ns::XMLENC, "CipherValue")?;
    decode_base64(&value.text()?, what)
}

fn decrypt_cbc(cipher: Cipher, key: &[u8], data: &[u8]) -> Result<Vec<u8>, EncryptionError> {
    if data.len() < 2 * AES_BLOCK {
        return Err(EncryptionError::TruncatedCiphertext { len: data.len() });
    }
    if !data.len().is_multiple_of(AES_BLOCK) {
        return Err(EncryptionError::BadPadding);
    }
    let (iv, ciphertext) = data.split_at(AES_BLOCK);
    let mut crypter = Crypter::new(cipher, Mode::Decrypt, key, Some(iv))
        .map_err(openssl_err("initialising AES-CBC"))?;
    crypter.pad(false);
    let mut out = vec![0u8; ciphertext.len() + AES_BLOCK];
    let mut len = crypter
        .update(ciphertext, &mut out)
        .map_err(openssl_err("decrypting with AES-CBC"))?;
    len += crypter
        .finalize(out.get_mut(len..).unwrap_or_default())
        .map_err(openssl_err("decrypting with AES-CBC"))?;
    out.truncate(len);
    // xmlenc-core §5.2: the last octet gives the padding length (1..=block size);
    // the other padding octets are arbitrary.
    let pad = usize::from(out.last().copied().unwrap_or(0));
    if pad == 0 || pad > AES_BLOCK || pad > out.len() {
        return Err(EncryptionError::BadPadding);
    }
    out.truncate(out.len() - pad);
    Ok(out)
}

fn decrypt_gcm(cipher: Cipher, key: &[u8], data: &[u8]) -> Result<Vec<u8>, EncryptionError> {
    if data.len() < GCM_IV_LEN + GCM_TAG_LEN + 1 {
        return Err(EncryptionError::TruncatedCiphertext { len: data.len() });
    }
    let (iv, rest) = data.split_at(GCM_IV_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - GCM_TAG_LEN);
    openssl::symm::decrypt_aead(cipher, key, Some(iv), &[], ciphertext, tag)
        .map_err(|_| EncryptionError::AuthenticationFailed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbc_padding_is_checked() {
        let key = [7u8; 16];
        let iv = [1u8; 16];
        let plain = b"two blocks of plain text, please";
        let ct = openssl::symm::encrypt(Cipher::aes_128_cbc(), &key, Some(&iv), plain).unwrap();
        let data = [iv.to_vec(), ct.clone()].concat();
        assert_eq!(
            decrypt_cbc(Cipher::aes_128_cbc(), &key, &data).unwrap(),
            plain
        );
        // Flipping a bit of the next-to-last block flips the same bit of the
        // last plaintext block, which holds the padding length.
        let mut bad = data.clone();
        let pad_byte_mask = data.len() - AES_BLOCK - 1;
        bad[pad_byte_mask] ^= 0x40;
        assert!(matches!(
            decrypt_cbc(Cipher::aes_128_cbc(), &key, &bad),
            Err(EncryptionError::BadPadding)
        ));
        assert!(matches!(
            decrypt_cbc(Cipher::aes_128_cbc(), &key, &data[..20]),
            Err(EncryptionError::TruncatedCiphertext { len: 20 })
        ));
        assert!(matches!(
            decrypt_cbc(Cipher::aes_128_cbc(), &key, &data[..33]),
            Err(EncryptionError::BadPadding)
        ));
    }

    #[test]
    fn gcm_short_input_is_an_error() {
        let key = [7u8; 16];
        for len in [0, 12, 28] {
            assert!(matches!(
                decrypt_gcm(Cipher::aes_128_gcm(), &key, &vec![0u8; len]),
                Err(EncryptionError::TruncatedCiphertext { .. })
            ));
        }
    }
}
