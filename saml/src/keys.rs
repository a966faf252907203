//! Keys and X.509 certificates as SAML uses them (saml-metadata §2.4.1.1,
//! xmldsig-core §4.4.4): an RSA signing/decryption key paired with its
//! certificate, and peer certificates read from PEM files or from the base64 DER
//! text of `<ds:X509Certificate>`. Debug output never shows key material.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};
use thiserror::Error;

/// Size of the RSA keys made by [`SigningKey::generate_self_signed`].
const GENERATED_RSA_BITS: u32 = 2048;
/// Validity of the certificates made by [`SigningKey::generate_self_signed`].
const GENERATED_VALIDITY_DAYS: u32 = 3650;
/// Smallest RSA modulus accepted for a signing key.
const MIN_RSA_BITS: u32 = 2048;

/// Why a key or a certificate could not be loaded or produced.
#[derive(Debug, Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The content of a file is not valid.
    #[error("in {}: {source}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with its content.
        #[source]
        source: Box<KeyError>,
    },
    /// The private key is not a PEM private key.
    #[error("the private key is not a valid PEM private key: {0}")]
    PrivateKeyPem(#[source] ErrorStack),
    /// The private key is not an RSA key.
    #[error("the private key is not an RSA key (only RSA keys are supported for signing)")]
    NotRsa,
    /// The RSA key is too small.
    #[error("the RSA key has {bits} bits, at least {MIN_RSA_BITS} are required")]
    RsaTooSmall {
        /// Size of the modulus.
        bits: u32,
    },
    /// The certificate is not a PEM X.509 certificate.
    #[error("the certificate is not a valid PEM X.509 certificate: {0}")]
    CertificatePem(#[source] ErrorStack),
    /// The certificate text is not valid base64.
    #[error("the certificate is not valid base64: {0}")]
    CertificateBase64(#[source] base64::DecodeError),
    /// The certificate bytes are not a DER X.509 certificate.
    #[error("the certificate is not a valid DER X.509 certificate: {0}")]
    CertificateDer(#[source] ErrorStack),
    /// The certificate does not carry the public key of the private key.
    #[error("the certificate does not match the private key")]
    Mismatch,
    /// An OpenSSL operation failed.
    #[error("OpenSSL failed while {operation}: {source}")]
    OpenSsl {
        /// What was being done.
        operation: &'static str,
        /// The OpenSSL error stack.
        #[source]
        source: ErrorStack,
    },
}

fn openssl_err(operation: &'static str) -> impl FnOnce(ErrorStack) -> KeyError {
    move |source| KeyError::OpenSsl { operation, source }
}

/// An X.509 certificate (a peer's signing or encryption certificate, or ours).
#[derive(Clone)]
pub struct Certificate {
    x509: X509,
}

impl Certificate {
    /// Reads a PEM certificate (`-----BEGIN CERTIFICATE-----`).
    pub fn from_pem(pem: &[u8]) -> Result<Self, KeyError> {
        X509::from_pem(pem)
            .map(|x509| Self { x509 })
            .map_err(KeyError::CertificatePem)
    }

    /// Reads the base64 DER text of a `<ds:X509Certificate>` element; whitespace
    /// (line breaks, indentation) is ignored.
    pub fn from_base64_der(b64: &str) -> Result<Self, KeyError> {
        let compact: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let der = STANDARD
            .decode(compact.as_bytes())
            .map_err(KeyError::CertificateBase64)?;
        Self::from_der(&der)
    }

    /// Reads a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        X509::from_der(der)
            .map(|x509| Self { x509 })
            .map_err(KeyError::CertificateDer)
    }

    /// The certificate as base64 DER on one line, as written in `<ds:X509Certificate>`.
    pub fn to_base64_der(&self) -> String {
        STANDARD.encode(self.to_der())
    }

    /// The certificate as DER bytes.
    pub fn to_der(&self) -> Vec<u8> {
        self.x509.to_der().unwrap_or_default()
    }

    /// The certificate as PEM.
    pub fn to_pem(&self) -> Result<Vec<u8>, KeyError> {
        self.x509
            .to_pem()
            .map_err(openssl_err("encoding a certificate as PEM"))
    }

    /// True when the certified public key is an RSA key.
    pub fn public_key_is_rsa(&self) -> bool {
        self.public_key()
            .map(|key| key.id() == Id::RSA)
            .unwrap_or(false)
    }

    /// The SHA-256 fingerprint of the DER certificate, as colon-separated uppercase hex.
    pub fn sha256_fingerprint(&self) -> String {
        match self.x509.digest(MessageDigest::sha256()) {
            Ok(digest) => digest
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(":"),
            Err(_) => String::new(),
        }
    }

    /// The subject distinguished name, as `CN=..., O=...` (for logs and errors).
    pub fn subject(&self) -> String {
        self.x509
            .subject_name()
            .entries()
            .map(|entry| {
                let field = entry.object().nid().short_name().unwrap_or("?");
                let value = entry.data().to_string().unwrap_or_default();
                format!("{field}={value}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub(crate) fn public_key(&self) -> Result<PKey<Public>, ErrorStack> {
        self.x509.public_key()
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.to_der() == other.to_der()
    }
}

impl Eq for Certificate {}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject())
            .field("sha256", &self.sha256_fingerprint())
            .finish()
    }
}

/// An RSA private key and the certificate that carries its public key: used to
/// sign messages, metadata and redirect URLs, and to decrypt assertions.
pub struct SigningKey {
    key: PKey<Private>,
    certificate: Certificate,
}

impl SigningKey {
    /// Reads a PEM private key (PKCS#1 or PKCS#8, unencrypted) and its PEM
    /// certificate, and checks that they belong together.
    pub fn from_pem(key_pem: &[u8], cert_pem: &[u8]) -> Result<Self, KeyError> {
        let key = PKey::private_key_from_pem(key_pem).map_err(KeyError::PrivateKeyPem)?;
        let certificate = Certificate::from_pem(cert_pem)?;
        Self::from_parts(key, certificate)
    }

    /// Reads a PEM private key file and a PEM certificate file; errors name the file.
    pub fn from_pem_files(key: &Path, cert: &Path) -> Result<Self, KeyError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| KeyError::ReadFile {
                path: path.to_path_buf(),
                source,
            })
        };
        let in_file = |path: &Path| {
            let path = path.to_path_buf();
            move |source: KeyError| KeyError::InFile {
                path,
                source: Box::new(source),
            }
        };
        let key_pem = read(key)?;
        let cert_pem = read(cert)?;
        let private = PKey::private_key_from_pem(&key_pem)
            .map_err(KeyError::PrivateKeyPem)
            .map_err(in_file(key))?;
        let certificate = Certificate::from_pem(&cert_pem).map_err(in_file(cert))?;
        Self::from_parts(private, certificate).map_err(in_file(key))
    }

    /// Generates an RSA-2048 key and a self-signed certificate valid for ten years
    /// (demonstration and tests).
    pub fn generate_self_signed(common_name: &str) -> Result<Self, KeyError> {
        let rsa =
            Rsa::generate(GENERATED_RSA_BITS).map_err(openssl_err("generating an RSA key"))?;
        let key = PKey::from_rsa(rsa).map_err(openssl_err("wrapping an RSA key"))?;
        let x509 = self_signed_certificate(&key, common_name)
            .map_err(openssl_err("building a self-signed certificate"))?;
        Self::from_parts(key, Certificate { x509 })
    }

    fn from_parts(key: PKey<Private>, certificate: Certificate) -> Result<Self, KeyError> {
        if key.id() != Id::RSA {
            return Err(KeyError::NotRsa);
        }
        if key.bits() < MIN_RSA_BITS {
            return Err(KeyError::RsaTooSmall { bits: key.bits() });
        }
        let public = certificate
            .public_key()
            .map_err(openssl_err("reading the certificate's public key"))?;
        if !public.public_eq(&key) {
            return Err(KeyError::Mismatch);
        }
        Ok(Self { key, certificate })
    }

    /// The certificate of this key.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The private key as PKCS#8 PEM (to write demonstration keys to disk).
    pub fn private_key_pem(&self) -> Result<Vec<u8>, KeyError> {
        self.key
            .private_key_to_pem_pkcs8()
            .map_err(openssl_err("encoding the private key as PEM"))
    }

    pub(crate) fn pkey(&self) -> &PKey<Private> {
        &self.key
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("certificate", &self.certificate)
            .finish_non_exhaustive()
    }
}

fn self_signed_certificate(key: &PKey<Private>, common_name: &str) -> Result<X509, ErrorStack> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", common_name)?;
    let name = name.build();
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let mut builder = X509::builder()?;
    builder.set_version(2)?;
    builder.set_serial_number(serial.to_asn1_integer()?.as_ref())?;
    builder.set_subject_name(&name)?;
    builder.set_issuer_name(&name)?;
    builder.set_pubkey(key)?;
    builder.set_not_before(Asn1Time::days_from_now(0)?.as_ref())?;
    builder.set_not_after(Asn1Time::days_from_now(GENERATED_VALIDITY_DAYS)?.as_ref())?;
    builder.sign(key, MessageDigest::sha256())?;
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_round_trips_through_pem() {
        let key = SigningKey::generate_self_signed("idp.example.org").unwrap();
        let cert_pem = key.certificate().to_pem().unwrap();
        let key_pem = key.private_key_pem().unwrap();
        let again = SigningKey::from_pem(&key_pem, &cert_pem).unwrap();
        assert_eq!(again.certificate(), key.certificate());
        assert!(key.certificate().public_key_is_rsa());
        assert!(key.certificate().subject().contains("CN=idp.example.org"));
    }

    #[test]
    fn mismatched_certificate_is_refused() {
        let a = SigningKey::generate_self_signed("a").unwrap();
        let b = SigningKey::generate_self_signed("b").unwrap();
        let key_pem = a.private_key_pem().unwrap();
        assert!(SigningKey::from_pem(&key_pem, &a.certificate().to_pem().unwrap()).is_ok());
        let err = SigningKey::from_pem(&key_pem, &b.certificate().to_pem().unwrap()).unwrap_err();
        assert!(matches!(err, KeyError::Mismatch));
    }

    #[test]
    fn base64_der_tolerates_whitespace() {
        let key = SigningKey::generate_self_signed("c").unwrap();
        let b64 = key.certificate().to_base64_der();
        let wrapped: String = b64
            .as_bytes()
            .chunks(64)
            .map(|line| format!("\n    {}", String::from_utf8_lossy(line)))
            .collect();
        let cert = Certificate::from_base64_der(&wrapped).unwrap();
        assert_eq!(&cert, key.certificate());
        assert!(matches!(
            Certificate::from_base64_der("not base64!"),
            Err(KeyError::CertificateBase64(_))
        ));
        assert!(matches!(
            Certificate::from_base64_der("AAAA"),
            Err(KeyError::CertificateDer(_))
        ));
    }

    #[test]
    fn file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate_self_signed("d").unwrap();
        let key_path = dir.path().join("key.pem");
        let cert_path = dir.path().join("cert.pem");
        std::fs::write(&key_path, key.private_key_pem().unwrap()).unwrap();
        std::fs::write(&cert_path, key.certificate().to_pem().unwrap()).unwrap();
        assert!(SigningKey::from_pem_files(&key_path, &cert_path).is_ok());

        std::fs::write(&cert_path, b"garbage").unwrap();
        let err = SigningKey::from_pem_files(&key_path, &cert_path).unwrap_err();
        assert!(err.to_string().contains("cert.pem"), "{err}");

        let missing = dir.path().join("missing.pem");
        let err = SigningKey::from_pem_files(&missing, &cert_path).unwrap_err();
        assert!(err.to_string().contains("missing.pem"), "{err}");
    }

    #[test]
    fn debug_output_shows_no_key_material() {
        let key = SigningKey::generate_self_signed("e").unwrap();
        let debug = format!("{key:?}");
        let pem = String::from_utf8(key.private_key_pem().unwrap()).unwrap();
        let body: String = pem.lines().nth(1).unwrap().chars().take(20).collect();
        assert!(!debug.contains(&body));
        assert!(!debug.contains("PRIVATE"));
        assert!(debug.contains("CN=e"));
    }
}
