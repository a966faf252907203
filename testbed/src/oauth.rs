//! OAuth 2.0 details shared by the simulated OpenID provider and the
//! simulated OpenID relying party: request parameters that must not repeat
//! (RFC 6749 §3.1, §3.2), the `application/x-www-form-urlencoded` encoding of
//! client credentials in HTTP Basic authentication (RFC 6749 §2.3.1), and
//! the PKCE `S256` transformation and verifier syntax (RFC 7636 §4.1, §4.2).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Shortest PKCE code verifier (RFC 7636 §4.1).
const MIN_VERIFIER: usize = 43;
/// Longest PKCE code verifier (RFC 7636 §4.1).
const MAX_VERIFIER: usize = 128;

/// A request parameter sent more than once (RFC 6749 §3.1: "Request and
/// response parameters MUST NOT be included more than once").
#[derive(Debug, thiserror::Error)]
#[error("the parameter {0:?} is sent more than once")]
pub(crate) struct RepeatedParameter(pub(crate) String);

/// The parameters of a query string or form body, each at most once; an
/// empty value counts as absent (RFC 6749 §3.1).
pub(crate) fn single_valued(raw: &[u8]) -> Result<BTreeMap<String, String>, RepeatedParameter> {
    let mut params = BTreeMap::new();
    for (name, value) in url::form_urlencoded::parse(raw) {
        if value.is_empty() {
            continue;
        }
        if params
            .insert(name.clone().into_owned(), value.into_owned())
            .is_some()
        {
            return Err(RepeatedParameter(name.into_owned()));
        }
    }
    Ok(params)
}

/// `application/x-www-form-urlencoded` encoding of one client credential,
/// as HTTP Basic authentication of an OAuth client requires (RFC 6749 §2.3.1).
pub(crate) fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Decodes one `application/x-www-form-urlencoded` credential.
pub(crate) fn form_decode(value: &str) -> String {
    url::form_urlencoded::parse(format!("v={value}").as_bytes())
        .map(|(_, v)| v.into_owned())
        .next()
        .unwrap_or_default()
}

/// `BASE64URL(SHA256(ASCII(code_verifier)))` (RFC 7636 §4.2, method `S256`).
pub(crate) fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `value` has the syntax of a code verifier, which is also the
/// syntax of an `S256` code challenge: 43 to 128 characters among
/// `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"` (RFC 7636 §4.1, §4.2).
pub(crate) fn is_verifier_syntax(value: &str) -> bool {
    (MIN_VERIFIER..=MAX_VERIFIER).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_s256_transformation_matches_the_rfc_7636_example() {
        // RFC 7636 Appendix B.
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifier_syntax_is_checked() {
        assert!(is_verifier_syntax(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ));
        assert!(!is_verifier_syntax("short"));
        assert!(!is_verifier_syntax(&"a".repeat(129)));
        assert!(!is_verifier_syntax(&format!("{}+", "a".repeat(43))));
    }

    #[test]
    fn a_repeated_parameter_is_refused() {
        let one = single_valued(b"a=1&b=2&c=").unwrap();
        assert_eq!(one.get("a").map(String::as_str), Some("1"));
        assert!(!one.contains_key("c"), "an empty value counts as absent");
        let err = single_valued(b"a=1&a=2").unwrap_err();
        assert_eq!(err.0, "a");
    }

    #[test]
    fn credentials_survive_the_form_encoding() {
        for value in ["plain", "with space", "a:b&c=d+e%f", "é"] {
            assert_eq!(form_decode(&form_encode(value)), value);
        }
        assert_eq!(form_encode("a b:c"), "a+b%3Ac");
    }
}
