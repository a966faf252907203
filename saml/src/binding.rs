//! HTTP bindings of SAML 2.0 messages (saml-bindings §3.4 HTTP-Redirect with
//! DEFLATE encoding and its query-string signature, §3.5 HTTP-POST with the
//! auto-submitting form). Decoding is bounded (encoded size, inflated size:
//! DEFLATE bombs are refused) and always ends with [`check_untrusted`].

use std::io::{Read, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::error::ErrorStack;
use openssl::hash::{MessageDigest, hash};
use openssl::pkey::{Id, PKey, Public};
use openssl::sign::{Signer, Verifier};
use thiserror::Error;
use url::Url;
use url::form_urlencoded::byte_serialize;

use crate::keys::{Certificate, SigningKey};
use crate::ns;
use crate::xml::{MAX_MESSAGE_LEN, XmlError, check_untrusted, escape_attr};

/// The DEFLATE encoding URI of the Redirect binding (saml-bindings §3.4.4.1).
pub const ENCODING_DEFLATE: &str = "urn:oasis:names:tc:SAML:2.0:bindings:URL-Encoding:DEFLATE";
/// The script of [`post_form`], for a Content-Security-Policy hash (see [`post_form_script_csp_source`]).
pub const POST_FORM_SCRIPT: &str = "document.forms[0].submit();";

/// Is the message a request or a response (which parameter carries it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Carried in `SAMLRequest`.
    Request,
    /// Carried in `SAMLResponse`.
    Response,
}

impl MessageKind {
    /// The form or query parameter name.
    pub fn parameter(self) -> &'static str {
        match self {
            Self::Request => "SAMLRequest",
            Self::Response => "SAMLResponse",
        }
    }
}

/// Why a bound message could not be built, decoded or verified.
#[derive(Debug, Error)]
pub enum BindingError {
    /// The XML failed the untrusted-XML checks.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// The endpoint is not an absolute URL.
    #[error("endpoint {endpoint:?} is not a valid absolute URL: {source}")]
    InvalidEndpoint {
        /// The endpoint.
        endpoint: String,
        /// The parse error.
        #[source]
        source: url::ParseError,
    },
    /// Compressing or inflating failed.
    #[error("DEFLATE {operation} failed: {source}")]
    Deflate {
        /// "compression" or "inflation".
        operation: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Neither `SAMLRequest` nor `SAMLResponse` is present.
    #[error("the query has neither SAMLRequest nor SAMLResponse")]
    MissingMessage,
    /// Both `SAMLRequest` and `SAMLResponse` are present.
    #[error("the query has both SAMLRequest and SAMLResponse")]
    BothMessages,
    /// A binding parameter appears more than once.
    #[error("parameter {name} appears more than once")]
    DuplicateParameter {
        /// The parameter.
        name: &'static str,
    },
    /// `SAMLEncoding` names an encoding other than DEFLATE.
    #[error("SAMLEncoding {encoding:?} is not supported")]
    UnsupportedEncoding {
        /// The encoding.
        encoding: String,
    },
    /// Only one of `SigAlg` and `Signature` is present.
    #[error("SigAlg and Signature must be present together")]
    IncompleteSignature,
    /// A parameter is not valid base64.
    #[error("{parameter} is not valid base64: {source}")]
    Base64 {
        /// The parameter.
        parameter: &'static str,
        /// The decoding error.
        #[source]
        source: base64::DecodeError,
    },
    /// The encoded message exceeds the limit.
    #[error("the encoded message exceeds the limit of {max} bytes")]
    TooLarge {
        /// The limit (decoded bytes).
        max: usize,
    },
    /// The message inflates beyond the limit (DEFLATE bomb).
    #[error("the message inflates beyond {max} bytes (DEFLATE bomb refused)")]
    DeflateBomb {
        /// The limit.
        max: usize,
    },
    /// The decoded message is not UTF-8.
    #[error("the decoded message is not UTF-8")]
    NotUtf8,
    /// The message is not signed.
    #[error("the message has no Signature")]
    MissingSignature,
    /// No certificate was given to verify with.
    #[error("no trusted certificate to verify the signature with")]
    NoCertificates,
    /// A SHA-1 signature algorithm.
    #[error("SigAlg {sig_alg} uses SHA-1 (refused)")]
    Sha1Refused {
        /// The algorithm URI.
        sig_alg: String,
    },
    /// A signature algorithm outside the allow-list.
    #[error("SigAlg {sig_alg} is not supported")]
    UnsupportedSigAlg {
        /// The algorithm URI.
        sig_alg: String,
    },
    /// The signature does not verify with any trusted certificate.
    #[error("the redirect signature does not verify with any trusted certificate")]
    InvalidSignature,
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

fn openssl_err(operation: &'static str) -> impl FnOnce(ErrorStack) -> BindingError {
    move |source| BindingError::OpenSsl { operation, source }
}

fn url_encode(value: &str) -> String {
    byte_serialize(value.as_bytes()).collect()
}

/// HTTP-Redirect binding (saml-bindings §3.4): DEFLATE (raw), base64, URL-encode;
/// when a key is given, signs `SAMLRequest=..&RelayState=..&SigAlg=..` with
/// RSA-SHA256 and appends `Signature`. Keeps existing query parameters of `endpoint`.
pub fn redirect_url(
    endpoint: &str,
    kind: MessageKind,
    xml: &str,
    relay_state: Option<&str>,
    key: Option<&SigningKey>,
) -> Result<String, BindingError> {
    check_untrusted(xml, MAX_MESSAGE_LEN)?;
    let mut url = Url::parse(endpoint).map_err(|source| BindingError::InvalidEndpoint {
        endpoint: endpoint.to_owned(),
        source,
    })?;
    let deflate_err = |source| BindingError::Deflate {
        operation: "compression",
        source,
    };
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(xml.as_bytes()).map_err(deflate_err)?;
    let deflated = encoder.finish().map_err(deflate_err)?;
    let mut query = format!(
        "{}={}",
        kind.parameter(),
        url_encode(&STANDARD.encode(deflated))
    );
    if let Some(relay_state) = relay_state {
        query.push_str("&RelayState=");
        query.push_str(&url_encode(relay_state));
    }
    if let Some(key) = key {
        query.push_str("&SigAlg=");
        query.push_str(&url_encode(ns::SIG_RSA_SHA256));
        let mut signer = Signer::new(MessageDigest::sha256(), key.pkey())
            .map_err(openssl_err("preparing the redirect signature"))?;
        let signature = signer
            .sign_oneshot_to_vec(query.as_bytes())
            .map_err(openssl_err("signing the redirect query"))?;
        query.push_str("&Signature=");
        query.push_str(&url_encode(&STANDARD.encode(signature)));
    }
    let full_query = match url.query() {
        Some(existing) if !existing.is_empty() => format!("{existing}&{query}"),
        _ => query,
    };
    url.set_query(Some(&full_query));
    Ok(url.into())
}

/// A message received through the HTTP-Redirect binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectMessage {
    /// Request or response.
    pub kind: MessageKind,
    /// The inflated XML (already checked with [`check_untrusted`]).
    pub xml: String,
    /// The `RelayState`, URL-decoded.
    pub relay_state: Option<String>,
    /// The query-string signature, if any.
    pub signature: Option<RedirectSignature>,
}

/// The signature of a redirect message and the exact octets it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectSignature {
    /// The `SigAlg` URI, URL-decoded.
    pub sig_alg: String,
    /// The signature bytes.
    pub signature: Vec<u8>,
    /// `SAMLRequest=..[&RelayState=..]&SigAlg=..` rebuilt from the original encoded values.
    pub signed_octets: Vec<u8>,
}

#[derive(Default)]
struct RawParams<'a> {
    request: Option<&'a str>,
    response: Option<&'a str>,
    relay_state: Option<&'a str>,
    sig_alg: Option<&'a str>,
    signature: Option<&'a str>,
    encoding: Option<&'a str>,
}

fn set_once<'a>(
    slot: &mut Option<&'a str>,
    value: &'a str,
    name: &'static str,
) -> Result<(), BindingError> {
    if slot.replace(value).is_some() {
        return Err(BindingError::DuplicateParameter { name });
    }
    Ok(())
}

/// Percent-decodes; with `plus_is_space`, `+` means a space (form encoding).
fn percent_decode(raw: &str, plus_is_space: bool) -> Vec<u8> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(decoded) = hex {
                    out.push(decoded);
                    i += 3;
                    continue;
                }
                out.push(b);
            }
            b'+' if plus_is_space => out.push(b' '),
            _ => out.push(b),
        }
        i += 1;
    }
    out
}

fn decode_text(raw: &str) -> String {
    String::from_utf8_lossy(&percent_decode(raw, true)).into_owned()
}

/// Base64 of at most `max` decoded bytes, whitespace ignored.
fn decode_base64_bounded(
    text: &[u8],
    max: usize,
    parameter: &'static str,
) -> Result<Vec<u8>, BindingError> {
    let limit = max.div_ceil(3).saturating_mul(4);
    let mut compact = Vec::with_capacity(text.len().min(limit));
    for &b in text {
        if b.is_ascii_whitespace() {
            continue;
        }
        if compact.len() >= limit {
            return Err(BindingError::TooLarge { max });
        }
        compact.push(b);
    }
    let decoded = STANDARD
        .decode(&compact)
        .map_err(|source| BindingError::Base64 { parameter, source })?;
    if decoded.len() > max {
        return Err(BindingError::TooLarge { max });
    }
    Ok(decoded)
}

/// Parses a raw query string (keeping the original URL-encoding to rebuild the
/// signed octets exactly per saml-bindings §3.4.4.1), inflates with a hard limit
/// of `max_inflated` bytes ([`BindingError::DeflateBomb`]), runs [`check_untrusted`].
pub fn decode_redirect(
    raw_query: &str,
    max_inflated: usize,
) -> Result<RedirectMessage, BindingError> {
    let mut params = RawParams::default();
    for pair in raw_query.trim_start_matches('?').split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match decode_text(name).as_str() {
            "SAMLRequest" => set_once(&mut params.request, value, "SAMLRequest")?,
            "SAMLResponse" => set_once(&mut params.response, value, "SAMLResponse")?,
            "RelayState" => set_once(&mut params.relay_state, value, "RelayState")?,
            "SigAlg" => set_once(&mut params.sig_alg, value, "SigAlg")?,
            "Signature" => set_once(&mut params.signature, value, "Signature")?,
            "SAMLEncoding" => set_once(&mut params.encoding, value, "SAMLEncoding")?,
            _ => {}
        }
    }
    let (kind, raw_message) = match (params.request, params.response) {
        (Some(request), None) => (MessageKind::Request, request),
        (None, Some(response)) => (MessageKind::Response, response),
        (None, None) => return Err(BindingError::MissingMessage),
        (Some(_), Some(_)) => return Err(BindingError::BothMessages),
    };
    if let Some(encoding) = params.encoding.map(decode_text)
        && encoding != ENCODING_DEFLATE
    {
        return Err(BindingError::UnsupportedEncoding { encoding });
    }
    // Base64 has no spaces: a literal '+' can only be a base64 '+' (from a sender
    // that forgot to URL-encode it), so it is not turned into a space here.
    let deflated = decode_base64_bounded(
        &percent_decode(raw_message, false),
        max_inflated.saturating_add(1024),
        kind.parameter(),
    )?;
    let mut inflated = Vec::new();
    DeflateDecoder::new(deflated.as_slice())
        .take(
            u64::try_from(max_inflated)
                .unwrap_or(u64::MAX)
                .saturating_add(1),
        )
        .read_to_end(&mut inflated)
        .map_err(|source| BindingError::Deflate {
            operation: "inflation",
            source,
        })?;
    if inflated.len() > max_inflated {
        return Err(BindingError::DeflateBomb { max: max_inflated });
    }
    let xml = String::from_utf8(inflated).map_err(|_| BindingError::NotUtf8)?;
    check_untrusted(&xml, max_inflated)?;
    let signature = match (params.sig_alg, params.signature) {
        (None, None) => None,
        (Some(raw_alg), Some(raw_signature)) => {
            let mut signed_octets = format!("{}={}", kind.parameter(), raw_message);
            if let Some(raw_relay) = params.relay_state {
                signed_octets.push_str("&RelayState=");
                signed_octets.push_str(raw_relay);
            }
            signed_octets.push_str("&SigAlg=");
            signed_octets.push_str(raw_alg);
            Some(RedirectSignature {
                sig_alg: decode_text(raw_alg),
                signature: decode_base64_bounded(
                    &percent_decode(raw_signature, false),
                    1024,
                    "Signature",
                )?,
                signed_octets: signed_octets.into_bytes(),
            })
        }
        _ => return Err(BindingError::IncompleteSignature),
    };
    Ok(RedirectMessage {
        kind,
        xml,
        relay_state: params.relay_state.map(decode_text),
        signature,
    })
}

/// Verifies a redirect signature with the given certificates: RSA-SHA256/384/512
/// and ECDSA-SHA256 allowed, SHA-1 refused ([`BindingError::Sha1Refused`]), a
/// missing signature refused ([`BindingError::MissingSignature`]).
pub fn verify_redirect_signature(
    msg: &RedirectMessage,
    certs: &[Certificate],
) -> Result<(), BindingError> {
    let signature = msg
        .signature
        .as_ref()
        .ok_or(BindingError::MissingSignature)?;
    if certs.is_empty() {
        return Err(BindingError::NoCertificates);
    }
    let (key_type, digest) = match signature.sig_alg.as_str() {
        ns::SIG_RSA_SHA256 => (Id::RSA, MessageDigest::sha256()),
        ns::SIG_RSA_SHA384 => (Id::RSA, MessageDigest::sha384()),
        ns::SIG_RSA_SHA512 => (Id::RSA, MessageDigest::sha512()),
        ns::SIG_ECDSA_SHA256 => (Id::EC, MessageDigest::sha256()),
        ns::SIG_RSA_SHA1 | ns::SIG_DSA_SHA1 | ns::SIG_ECDSA_SHA1 | ns::SIG_HMAC_SHA1 => {
            return Err(BindingError::Sha1Refused {
                sig_alg: signature.sig_alg.clone(),
            });
        }
        other => {
            return Err(BindingError::UnsupportedSigAlg {
                sig_alg: other.to_owned(),
            });
        }
    };
    for cert in certs {
        let Ok(public) = cert.public_key() else {
            continue;
        };
        if public.id() != key_type {
            continue;
        }
        if verifies(&public, digest, signature)? {
            return Ok(());
        }
    }
    Err(BindingError::InvalidSignature)
}

fn verify_once(
    public: &PKey<Public>,
    digest: MessageDigest,
    data: &[u8],
    signature: &[u8],
) -> Result<bool, BindingError> {
    let mut verifier =
        Verifier::new(digest, public).map_err(openssl_err("preparing signature verification"))?;
    // OpenSSL reports a malformed signature as an error: it is simply not valid.
    Ok(verifier.verify_oneshot(signature, data).unwrap_or(false))
}

fn verifies(
    public: &PKey<Public>,
    digest: MessageDigest,
    signature: &RedirectSignature,
) -> Result<bool, BindingError> {
    if verify_once(
        public,
        digest,
        &signature.signed_octets,
        &signature.signature,
    )? {
        return Ok(true);
    }
    // ECDSA values may come as DER or, as in XML Signature, as r || s.
    if public.id() == Id::EC && signature.signature.len().is_multiple_of(2) {
        let (r, s) = signature.signature.split_at(signature.signature.len() / 2);
        let der = BigNum::from_slice(r)
            .and_then(|r| BigNum::from_slice(s).map(|s| (r, s)))
            .and_then(|(r, s)| EcdsaSig::from_private_components(r, s))
            .and_then(|sig| sig.to_der());
        if let Ok(der) = der {
            return verify_once(public, digest, &signature.signed_octets, &der);
        }
    }
    Ok(false)
}

/// HTTP-POST binding: base64-decodes (whitespace tolerated) at most `max_len`
/// decoded bytes, checks UTF-8 and runs [`check_untrusted`].
pub fn decode_post(b64: &str, max_len: usize) -> Result<String, BindingError> {
    let decoded = decode_base64_bounded(b64.as_bytes(), max_len, "SAML message")?;
    let xml = String::from_utf8(decoded).map_err(|_| BindingError::NotUtf8)?;
    check_untrusted(&xml, max_len)?;
    Ok(xml)
}

/// An HTML page (French, accessible: a visible submit button "Continuer" inside
/// `<noscript>`, plus a tiny inline script that submits the form) posting
/// `SAMLRequest`/`SAMLResponse` and `RelayState` to `action`. All values are
/// HTML-escaped.
pub fn post_form(action: &str, kind: MessageKind, xml: &str, relay_state: Option<&str>) -> String {
    let relay = relay_state
        .map(|rs| {
            format!(
                "<input type=\"hidden\" name=\"RelayState\" value=\"{}\">\n",
                escape_attr(rs)
            )
        })
        .unwrap_or_default();
    format!(
        concat!(
            "<!DOCTYPE html>\n",
            "<html lang=\"fr\">\n",
            "<head>\n",
            "<meta charset=\"utf-8\">\n",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
            "<title>Connexion en cours</title>\n",
            "</head>\n",
            "<body>\n",
            "<main>\n",
            "<h1>Connexion en cours</h1>\n",
            "<form method=\"post\" action=\"{action}\">\n",
            "<input type=\"hidden\" name=\"{param}\" value=\"{message}\">\n",
            "{relay}",
            "<noscript>\n",
            "<p>JavaScript est désactivé dans votre navigateur : ",
            "cliquez sur « Continuer » pour poursuivre.</p>\n",
            "<button type=\"submit\">Continuer</button>\n",
            "</noscript>\n",
            "</form>\n",
            "</main>\n",
            "<script>{script}</script>\n",
            "</body>\n",
            "</html>\n"
        ),
        action = escape_attr(action),
        param = kind.parameter(),
        message = escape_attr(&STANDARD.encode(xml.as_bytes())),
        relay = relay,
        script = POST_FORM_SCRIPT,
    )
}

/// The Content-Security-Policy source (`'sha256-…'`) allowing the inline script
/// of [`post_form`] without `'unsafe-inline'`.
pub fn post_form_script_csp_source() -> String {
    let digest = hash(MessageDigest::sha256(), POST_FORM_SCRIPT.as_bytes())
        .map(|d| STANDARD.encode(d))
        .unwrap_or_default();
    format!("'sha256-{digest}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Bb+c", true), b"a+b c");
        assert_eq!(percent_decode("a%2Bb+c", false), b"a+b+c");
        assert_eq!(percent_decode("%zz%4", true), b"%zz%4");
    }

    #[test]
    fn post_form_escapes_and_is_french() {
        let page = post_form(
            "https://sp.example/acs?a=1&b=\"2\"",
            MessageKind::Response,
            "<r/>",
            Some("<script>alert(1)</script>"),
        );
        assert!(page.contains("action=\"https://sp.example/acs?a=1&amp;b=&quot;2&quot;\""));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!page.contains("<script>alert"));
        assert!(page.contains("lang=\"fr\""));
        assert!(page.contains("<button type=\"submit\">Continuer</button>"));
        assert!(page.contains(&format!("value=\"{}\"", STANDARD.encode("<r/>"))));
        assert!(page.contains(&format!("<script>{POST_FORM_SCRIPT}</script>")));
    }

    #[test]
    fn csp_source_matches_the_script() {
        let expected =
            STANDARD.encode(hash(MessageDigest::sha256(), POST_FORM_SCRIPT.as_bytes()).unwrap());
        assert_eq!(
            post_form_script_csp_source(),
            format!("'sha256-{expected}'")
        );
    }
}
