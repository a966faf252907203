//! Enveloped XML signatures of SAML messages, assertions and metadata
//! (saml-core §5, xmldsig-core).
//!
//! Signing ([`sign_enveloped`]) is done here: exclusive canonicalization of
//! the element this gateway built, SHA-256, and an RSA-SHA256 signature with
//! the key loaded once at start-up (OpenSSL).
//!
//! Verification ([`verify_and_reduce`]) is libxmlsec1's, through samael, with
//! the checks samael leaves to its callers done here first: algorithm
//! allow-list (SHA-1 refused with its own error), same-document references to
//! the signed element only, a fixed set of transforms, and verification with
//! the given certificates only (never `ds:KeyInfo`).
//!
//! Both functions are CPU-bound (verification runs blocking C): async callers
//! use `spawn_blocking`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use openssl::error::ErrorStack;
use openssl::hash::{MessageDigest, hash};
use openssl::sign::Signer;
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, CryptoError, CryptoProvider, ReduceMode, XmlSec,
};
use thiserror::Error;

use crate::keys::{Certificate, SigningKey};
use crate::ns;
use crate::xml::c14n;
use crate::xml::tree::{self, Element};
use crate::xml::{C14nError, MAX_METADATA_LEN, SchemaError, XmlError, check_untrusted};

/// Signature algorithms accepted by [`verify_and_reduce`].
const ALLOWED_SIGNATURE_METHODS: [&str; 6] = [
    ns::SIG_RSA_SHA256,
    ns::SIG_RSA_SHA384,
    ns::SIG_RSA_SHA512,
    ns::SIG_ECDSA_SHA256,
    ns::SIG_ECDSA_SHA384,
    ns::SIG_ECDSA_SHA512,
];
/// Digest algorithms accepted by [`verify_and_reduce`].
const ALLOWED_DIGEST_METHODS: [&str; 3] = [ns::DIGEST_SHA256, ns::DIGEST_SHA384, ns::DIGEST_SHA512];
/// SHA-1 based algorithms, refused with [`DsigError::Sha1Refused`].
const SHA1_METHODS: [&str; 5] = [
    ns::SIG_RSA_SHA1,
    ns::SIG_DSA_SHA1,
    ns::SIG_ECDSA_SHA1,
    ns::SIG_HMAC_SHA1,
    ns::DIGEST_SHA1,
];
/// Canonicalization methods accepted in `SignedInfo`.
const ALLOWED_C14N: [&str; 6] = [
    ns::C14N_EXCLUSIVE,
    ns::C14N_EXCLUSIVE_WITH_COMMENTS,
    ns::C14N_INCLUSIVE,
    ns::C14N_INCLUSIVE_WITH_COMMENTS,
    ns::C14N11,
    ns::C14N11_WITH_COMMENTS,
];
/// The same list as samael's allow-list type.
const SAMAEL_ALLOWED: [AllowedSignatureAlgorithm; 6] = [
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// Why a document could not be signed or its signature was refused.
#[derive(Debug, Error)]
pub enum DsigError {
    /// The document failed the untrusted-XML checks.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// A `ds:Signature` is not structured as XML Signature requires.
    #[error("malformed signature: {0}")]
    Structure(#[from] SchemaError),
    /// No element carries the requested ID.
    #[error("no element has ID {id:?}")]
    ElementNotFound {
        /// The ID.
        id: String,
    },
    /// Several elements carry the same ID.
    #[error("several elements have ID {id:?}")]
    DuplicateId {
        /// The ID.
        id: String,
    },
    /// The ID is not an XML NCName.
    #[error("{id:?} is not a valid XML ID")]
    InvalidId {
        /// The ID.
        id: String,
    },
    /// The element to sign already has a signature.
    #[error("element with ID {id:?} is already signed")]
    AlreadySigned {
        /// The ID.
        id: String,
    },
    /// The element to sign is an empty element (`<x/>`): no place for a signature.
    #[error("element with ID {id:?} is empty, it cannot hold a signature")]
    EmptyElement {
        /// The ID.
        id: String,
    },
    /// The element to sign could not be canonicalized.
    #[error("cannot canonicalize the element to sign: {0}")]
    Canonicalization(#[from] C14nError),
    /// The digest or the RSA signature failed in OpenSSL.
    #[error("signing failed: {0}")]
    Signing(String),
    /// The document has no `ds:Signature`.
    #[error("the document is not signed")]
    NoSignature,
    /// No certificate was given to verify with.
    #[error("no trusted certificate to verify the signature with")]
    NoCertificates,
    /// A SHA-1 based signature or digest method.
    #[error("signature uses SHA-1 algorithm {algorithm} (refused)")]
    Sha1Refused {
        /// The algorithm URI.
        algorithm: String,
    },
    /// A signature, digest or canonicalization method outside the allow-list.
    #[error("signature uses algorithm {algorithm} which is not allowed")]
    AlgorithmNotAllowed {
        /// The algorithm URI.
        algorithm: String,
    },
    /// A transform outside the allow-list (XPath, XSLT, ...).
    #[error("signature uses transform {algorithm} which is not allowed")]
    TransformNotAllowed {
        /// The transform URI.
        algorithm: String,
    },
    /// A signature with more or fewer than one reference.
    #[error("signature has {count} references, exactly one is required (saml-core §5.4.2)")]
    ReferenceCount {
        /// Number of references.
        count: usize,
    },
    /// A reference that does not point at the ID of the signature's parent element.
    #[error("signature reference {uri:?} does not designate the signed element (its parent)")]
    ReferenceNotParent {
        /// The reference URI.
        uri: String,
    },
    /// The cryptographic verification failed with every trusted certificate.
    #[error("signature verification failed with every trusted certificate")]
    InvalidSignature,
    /// libxmlsec1 refused the document for another reason.
    #[error("libxmlsec1 refused the document: {0}")]
    Libxmlsec(String),
}

/// Enveloped signature of the element whose ID attribute is `element_id`
/// (xmldsig-core §6.6.4, saml-core §5.4): the element is canonicalized
/// (exclusive c14n without comments), its SHA-256 digest goes into a
/// `ds:SignedInfo` (exc-c14n, RSA-SHA256, enveloped-signature and exc-c14n
/// transforms) written directly in canonical form, that SignedInfo is signed
/// with the already loaded key, and the `ds:Signature` (with
/// KeyInfo/X509Data carrying the certificate) is inserted as the child that
/// follows the element's saml:Issuer (schema order), or as its first child when
/// it has no Issuer (metadata).
///
/// Everything outside the element is kept byte for byte, so signing a
/// Response whose Assertion is already signed keeps the Assertion's
/// signature valid (sign the inner element first, then the outer).
/// Verification of received signatures is libxmlsec1's job
/// ([`verify_and_reduce`]); the tests check what this function writes with
/// libxmlsec1 and with the `xmlsec1` tool.
pub fn sign_enveloped(xml: &str, element_id: &str, key: &SigningKey) -> Result<String, DsigError> {
    if !is_ncname(element_id) {
        return Err(DsigError::InvalidId {
            id: element_id.to_owned(),
        });
    }
    let root = tree::parse(xml, MAX_METADATA_LEN)?;
    let mut found = Vec::new();
    find_by_id(&root, element_id, &mut found);
    let target = match found.as_slice() {
        [] => {
            return Err(DsigError::ElementNotFound {
                id: element_id.to_owned(),
            });
        }
        [one] => *one,
        _ => {
            return Err(DsigError::DuplicateId {
                id: element_id.to_owned(),
            });
        }
    };
    if target.has_signature() {
        return Err(DsigError::AlreadySigned {
            id: element_id.to_owned(),
        });
    }
    if target.content_start >= target.span.end {
        return Err(DsigError::EmptyElement {
            id: element_id.to_owned(),
        });
    }
    let insert_at = match target.optional_child(ns::ASSERTION, "Issuer")? {
        Some(issuer) => issuer.span.end,
        None => target.content_start,
    };
    let digest = hash(MessageDigest::sha256(), c14n::exclusive(target)?.as_bytes())
        .map_err(|e| DsigError::Signing(format!("SHA-256 digest: {e}")))?;
    let signed_info = signed_info_content(element_id, &BASE64.encode(digest));
    let canonical_signed_info = format!(
        r#"<ds:SignedInfo xmlns:ds="{}">{signed_info}</ds:SignedInfo>"#,
        ns::DSIG
    );
    let signature_value = rsa_sha256(key, canonical_signed_info.as_bytes())
        .map_err(|e| DsigError::Signing(format!("RSA-SHA256 signature: {e}")))?;
    let signature = format!(
        concat!(
            r#"<ds:Signature xmlns:ds="{dsig}"><ds:SignedInfo>{signed_info}</ds:SignedInfo>"#,
            r#"<ds:SignatureValue>{value}</ds:SignatureValue><ds:KeyInfo><ds:X509Data>"#,
            r#"<ds:X509Certificate>{cert}</ds:X509Certificate>"#,
            r#"</ds:X509Data></ds:KeyInfo></ds:Signature>"#
        ),
        dsig = ns::DSIG,
        signed_info = signed_info,
        value = BASE64.encode(signature_value),
        cert = key.certificate().to_base64_der(),
    );
    let (before, after) = (
        xml.get(..insert_at)
            .ok_or_else(|| DsigError::Signing("insertion point outside the document".to_owned()))?,
        xml.get(insert_at..).unwrap_or_default(),
    );
    let mut out = String::with_capacity(xml.len() + signature.len());
    out.push_str(before);
    out.push_str(&signature);
    out.push_str(after);
    Ok(out)
}

/// PKCS#1 v1.5 RSA signature of the SHA-256 digest of `data`.
fn rsa_sha256(key: &SigningKey, data: &[u8]) -> Result<Vec<u8>, ErrorStack> {
    let mut signer = Signer::new(MessageDigest::sha256(), key.pkey())?;
    signer.update(data)?;
    signer.sign_to_vec()
}

/// The children of `ds:SignedInfo` for a reference to `element_id`, in
/// canonical form (exclusive c14n: no empty-element tags, attribute values
/// escaped as C14N §2.3 requires).
fn signed_info_content(element_id: &str, digest_b64: &str) -> String {
    format!(
        concat!(
            r#"<ds:CanonicalizationMethod Algorithm="{c14n}"></ds:CanonicalizationMethod>"#,
            r#"<ds:SignatureMethod Algorithm="{sig}"></ds:SignatureMethod>"#,
            r##"<ds:Reference URI="#{id}"><ds:Transforms>"##,
            r#"<ds:Transform Algorithm="{enveloped}"></ds:Transform>"#,
            r#"<ds:Transform Algorithm="{c14n}"></ds:Transform>"#,
            r#"</ds:Transforms><ds:DigestMethod Algorithm="{digest}"></ds:DigestMethod>"#,
            r#"<ds:DigestValue>{digest_value}</ds:DigestValue></ds:Reference>"#
        ),
        c14n = ns::C14N_EXCLUSIVE,
        sig = ns::SIG_RSA_SHA256,
        id = element_id,
        enveloped = ns::TRANSFORM_ENVELOPED,
        digest = ns::DIGEST_SHA256,
        digest_value = digest_b64,
    )
}

/// Verifies every ds:Signature with only the given certificates (never KeyInfo
/// from the message), refuses any SignatureMethod/DigestMethod outside the
/// allow-list (RSA-SHA256/384/512, ECDSA-SHA256/384/512 and the SHA-256/384/512
/// digests; SHA-1 refused with [`DsigError::Sha1Refused`], detected before
/// calling libxmlsec1), refuses transforms other than enveloped-signature and
/// canonicalization, references other than the ID of the signature's parent, a
/// document with no signature, and returns the document reduced to the signed
/// content (`ReduceMode::ValidateAndMarkNoAncestors`).
///
/// Runs blocking C: callers run it in `spawn_blocking`.
pub fn verify_and_reduce(xml: &str, certs: &[Certificate]) -> Result<String, DsigError> {
    check_untrusted(xml, MAX_METADATA_LEN)?;
    if certs.is_empty() {
        return Err(DsigError::NoCertificates);
    }
    let root = tree::parse(xml, MAX_METADATA_LEN)?;
    let mut signatures = Vec::new();
    find_signatures(&root, &mut signatures);
    if signatures.is_empty() {
        return Err(DsigError::NoSignature);
    }
    for (parent, signature) in &signatures {
        check_signature(parent, signature)?;
    }
    let ders: Vec<CertificateDer> = certs
        .iter()
        .map(|c| CertificateDer::from(c.to_der()))
        .collect();
    XmlSec::reduce_xml_to_signed_with_allowed_algorithms(
        xml,
        &ders,
        ReduceMode::ValidateAndMarkNoAncestors,
        Some(&SAMAEL_ALLOWED),
    )
    .map_err(|e| match e {
        CryptoError::InvalidSignature => DsigError::InvalidSignature,
        other => DsigError::Libxmlsec(error_chain(&other)),
    })
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

fn is_ncname(id: &str) -> bool {
    let mut chars = id.chars();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn find_by_id<'a>(element: &'a Element, id: &str, found: &mut Vec<&'a Element>) {
    if element.attr("ID") == Some(id) {
        found.push(element);
    }
    for child in element.elements() {
        find_by_id(child, id, found);
    }
}

fn find_signatures<'a>(element: &'a Element, found: &mut Vec<(&'a Element, &'a Element)>) {
    for child in element.elements() {
        if child.is(ns::DSIG, "Signature") {
            found.push((element, child));
        }
        find_signatures(child, found);
    }
}

fn check_algorithm(algorithm: &str, allowed: &[&str]) -> Result<(), DsigError> {
    if SHA1_METHODS.contains(&algorithm) {
        return Err(DsigError::Sha1Refused {
            algorithm: algorithm.to_owned(),
        });
    }
    if !allowed.contains(&algorithm) {
        return Err(DsigError::AlgorithmNotAllowed {
            algorithm: algorithm.to_owned(),
        });
    }
    Ok(())
}

fn check_signature(parent: &Element, signature: &Element) -> Result<(), DsigError> {
    let signed_info = signature.required_child(ns::DSIG, "SignedInfo")?;
    let c14n = signed_info.required_child(ns::DSIG, "CanonicalizationMethod")?;
    check_algorithm(c14n.required_attr("Algorithm")?, &ALLOWED_C14N)?;
    let method = signed_info.required_child(ns::DSIG, "SignatureMethod")?;
    check_algorithm(
        method.required_attr("Algorithm")?,
        &ALLOWED_SIGNATURE_METHODS,
    )?;
    let references: Vec<&Element> = signed_info.children_named(ns::DSIG, "Reference").collect();
    let [reference] = references.as_slice() else {
        return Err(DsigError::ReferenceCount {
            count: references.len(),
        });
    };
    let digest = reference.required_child(ns::DSIG, "DigestMethod")?;
    check_algorithm(digest.required_attr("Algorithm")?, &ALLOWED_DIGEST_METHODS)?;
    if let Some(transforms) = reference.optional_child(ns::DSIG, "Transforms")? {
        for transform in transforms.children_named(ns::DSIG, "Transform") {
            let algorithm = transform.required_attr("Algorithm")?;
            if algorithm != ns::TRANSFORM_ENVELOPED && !ALLOWED_C14N.contains(&algorithm) {
                return Err(DsigError::TransformNotAllowed {
                    algorithm: algorithm.to_owned(),
                });
            }
        }
    }
    let uri = reference.attr("URI").unwrap_or_default();
    let parent_id = parent.attr("ID");
    match (uri.strip_prefix('#'), parent_id) {
        (Some(target), Some(id)) if target == id => Ok(()),
        _ => Err(DsigError::ReferenceNotParent {
            uri: uri.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ncname_check() {
        assert!(is_ncname("_abc123"));
        assert!(is_ncname("id-1.2"));
        assert!(!is_ncname("1abc"));
        assert!(!is_ncname("a b"));
        assert!(!is_ncname(""));
        assert!(!is_ncname("a\"b"));
    }
}
