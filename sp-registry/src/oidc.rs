//! The OpenID Connect side of a service: a registered client (client metadata
//! names of RFC 7591 §2 and OpenID Connect Dynamic Client Registration 1.0
//! §2; client types of RFC 6749 §2.1).
//!
//! * `redirect_uri` and `post_logout_redirect_uri` are compared with the
//!   registered values byte for byte, without normalisation (OpenID Connect
//!   Core 1.0 §3.1.2.1: simple string comparison).
//! * A confidential client authenticates at the token endpoint with a
//!   secret, of which only the SHA-256 is registered (compared in constant
//!   time), or with a JWT signed by a key of its registered JSON Web Key Set
//!   (RFC 7523, OpenID Connect Core §9 `private_key_jwt`); a public client
//!   does not authenticate (`none`) and must use PKCE (RFC 7636).
//! * The JSON Web Key Set holds public RSA or EC P-256 keys only (RFC 7517
//!   §4 and §5, RFC 7518 §6.2.1 and §6.3.1): no private member (RFC 7518
//!   §6.2.2 and §6.3.2), a `kid` on each key so that the verifier can pick
//!   it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// RFC 6749 §2.1 client type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientType {
    /// Can keep a secret (a server-side application); the default.
    #[default]
    Confidential,
    /// Cannot keep a secret (a browser or mobile application).
    Public,
}

/// How the client authenticates at the token endpoint
/// (`token_endpoint_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuthMethod {
    /// HTTP Basic with the client secret (the default for confidential clients).
    ClientSecretBasic,
    /// The client secret in the request body.
    ClientSecretPost,
    /// A JWT signed with one of the client's registered keys.
    PrivateKeyJwt,
    /// No authentication: public clients only.
    None,
}

impl TokenAuthMethod {
    /// The registered name (`client_secret_basic`, ...).
    pub fn name(self) -> &'static str {
        match self {
            TokenAuthMethod::ClientSecretBasic => "client_secret_basic",
            TokenAuthMethod::ClientSecretPost => "client_secret_post",
            TokenAuthMethod::PrivateKeyJwt => "private_key_jwt",
            TokenAuthMethod::None => "none",
        }
    }

    /// Whether the method uses the client secret.
    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            TokenAuthMethod::ClientSecretBasic | TokenAuthMethod::ClientSecretPost
        )
    }
}

/// The algorithm of the ID tokens issued to the client
/// (`id_token_signed_response_alg`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum IdTokenAlg {
    /// ECDSA P-256 with SHA-256 (the default).
    #[default]
    #[serde(rename = "ES256")]
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    #[serde(rename = "RS256")]
    Rs256,
}

impl IdTokenAlg {
    /// The JOSE `alg` name (RFC 7518 §3.1).
    pub fn name(self) -> &'static str {
        match self {
            IdTokenAlg::Es256 => "ES256",
            IdTokenAlg::Rs256 => "RS256",
        }
    }
}

/// An OpenID Connect client as registered (`[oidc]`).
#[derive(Debug, Clone)]
pub struct OidcClient {
    /// Unique in the registry, `[A-Za-z0-9._-]+`.
    pub client_id: String,
    /// Confidential or public.
    pub client_type: ClientType,
    /// How it authenticates at the token endpoint.
    pub auth_method: TokenAuthMethod,
    /// SHA-256 of its secret, for `client_secret_basic` and `client_secret_post` only.
    pub client_secret_sha256: Option<[u8; 32]>,
    /// Its public keys (each a JWK as parsed JSON), for `private_key_jwt` only.
    pub jwks: Option<Vec<Value>>,
    /// Where authorization responses may go, exactly as registered (at least one).
    pub redirect_uris: Vec<String>,
    /// Where the browser may return after logout, exactly as registered.
    pub post_logout_redirect_uris: Vec<String>,
    /// Where back-channel logout tokens are POSTed, if anywhere.
    pub backchannel_logout_uri: Option<String>,
    /// The algorithm of its ID tokens.
    pub id_token_alg: IdTokenAlg,
    /// Whether authorization requests must carry a PKCE challenge (always for public clients).
    pub require_pkce: bool,
}

impl OidcClient {
    /// Whether `uri` is one of the registered redirect URIs, byte for byte.
    pub fn redirect_uri_allowed(&self, uri: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|registered| registered == uri)
    }

    /// Whether `uri` is one of the registered post-logout redirect URIs, byte for byte.
    pub fn post_logout_redirect_uri_allowed(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris
            .iter()
            .any(|registered| registered == uri)
    }

    /// Whether `presented` is the client's secret: its SHA-256 compared in
    /// constant time with the registered one. Always false for a client
    /// without a registered secret.
    pub fn secret_matches(&self, presented: &str) -> bool {
        let Some(expected) = &self.client_secret_sha256 else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        openssl::memcmp::eq(&digest, expected)
    }
}

/// Why a JSON Web Key Set file is refused.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The file is not JSON.
    #[error("not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// JSON, but not an object with a `keys` array of objects.
    #[error("expected a JSON object with a \"keys\" array of JSON objects (RFC 7517 §5)")]
    NotAKeySet,
    /// The `keys` array is empty.
    #[error("the key set holds no key")]
    NoKey,
    /// A key without a required member (`kty`, `kid`, `n`, `e`, `crv`, `x`, `y`).
    #[error("key {index} has no {member:?} member")]
    MissingMember {
        /// Position of the key in `keys`.
        index: usize,
        /// The absent member.
        member: &'static str,
    },
    /// A member that is not a string (or an empty one).
    #[error("member {member:?} of key {index} is not a non-empty string")]
    NotAString {
        /// Position of the key in `keys`.
        index: usize,
        /// The member.
        member: &'static str,
    },
    /// A key parameter that is not base64url without padding.
    #[error("member {member:?} of key {index} is not base64url (RFC 7515 §2, no padding)")]
    NotBase64Url {
        /// Position of the key in `keys`.
        index: usize,
        /// The member.
        member: &'static str,
    },
    /// A key type other than `RSA` and `EC`.
    #[error("key {index} has key type {kty:?}: only \"RSA\" and \"EC\" (P-256) are supported")]
    UnsupportedKeyType {
        /// Position of the key in `keys`.
        index: usize,
        /// Its `kty`.
        kty: String,
    },
    /// An EC key on a curve other than P-256.
    #[error("key {index} is on curve {crv:?}: only \"P-256\" is supported")]
    UnsupportedCurve {
        /// Position of the key in `keys`.
        index: usize,
        /// Its `crv`.
        crv: String,
    },
    /// A private key member: the file must hold public keys only.
    #[error(
        "key {index} has the private member {member:?}: register public keys only, the private key stays with the client"
    )]
    PrivateMember {
        /// Position of the key in `keys`.
        index: usize,
        /// The private member.
        member: &'static str,
    },
    /// Two keys with one `kid`.
    #[error("two keys have the kid {0:?}")]
    DuplicateKid(String),
}

/// Private members of RSA and EC keys (RFC 7518 §6.2.2 and §6.3.2).
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth"];

/// The keys of a JSON Web Key Set file, each checked: public RSA or EC
/// P-256 key with a unique `kid` (module documentation).
pub(crate) fn parse_jwks(text: &str) -> Result<Vec<Value>, JwksError> {
    let document: Value = serde_json::from_str(text).map_err(JwksError::NotJson)?;
    let keys = document
        .get("keys")
        .and_then(Value::as_array)
        .ok_or(JwksError::NotAKeySet)?;
    if keys.is_empty() {
        return Err(JwksError::NoKey);
    }
    let mut kids: Vec<&str> = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        if !key.is_object() {
            return Err(JwksError::NotAKeySet);
        }
        if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| key.get(**m).is_some()) {
            return Err(JwksError::PrivateMember { index, member });
        }
        let kid = string_member(key, index, "kid")?;
        if kids.contains(&kid) {
            return Err(JwksError::DuplicateKid(kid.to_owned()));
        }
        kids.push(kid);
        match string_member(key, index, "kty")? {
            "RSA" => {
                base64url_member(key, index, "n")?;
                base64url_member(key, index, "e")?;
            }
            "EC" => {
                let crv = string_member(key, index, "crv")?;
                if crv != "P-256" {
                    let crv = crv.to_owned();
                    return Err(JwksError::UnsupportedCurve { index, crv });
                }
                base64url_member(key, index, "x")?;
                base64url_member(key, index, "y")?;
            }
            other => {
                let kty = other.to_owned();
                return Err(JwksError::UnsupportedKeyType { index, kty });
            }
        }
    }
    Ok(keys.clone())
}

fn string_member<'k>(
    key: &'k Value,
    index: usize,
    member: &'static str,
) -> Result<&'k str, JwksError> {
    let value = key
        .get(member)
        .ok_or(JwksError::MissingMember { index, member })?;
    value
        .as_str()
        .filter(|text| !text.is_empty())
        .ok_or(JwksError::NotAString { index, member })
}

fn base64url_member(key: &Value, index: usize, member: &'static str) -> Result<(), JwksError> {
    let text = string_member(key, index, member)?;
    URL_SAFE_NO_PAD
        .decode(text)
        .map(drop)
        .map_err(|_| JwksError::NotBase64Url { index, member })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Public JWKs of keys generated with the `openssl` command line (a
    /// 2048-bit RSA key, a P-256 key).
    const RSA: &str = r#"{"kty": "RSA", "kid": "r1", "n": "m0SSBgQ2451THwPaUYz6nP92YXxsRHQBJEjbm21v_ZHBAvvrE7U0FYx9dDsAZEHni_EYqAr58tQHcJ74E6GJoI6-6b0mHUeIbIY-0TWEqPPqM1_1JuDjW0_RANsBzHnC1IdBwoqBpLQNccLpHaGeXjvjlYOiaP89tukGNTWqOl5wSNpDdWcrWgbnL6kWX91Q0h-mcWXitgKhF--jmrhPEVduRBVvpeaQ5UH9-P4dWiOfF8JqDx1IShkbQQxAIO7GRLFnNZq28bKBb9H6rVCOIyKpVcZWdDS3QPuiOOb72ObpnGckmdYC3RSj6twE2jlsVDv0jZHoxbZcFDfpNfWK4w", "e": "AQAB"}"#;
    const EC: &str = r#"{"kty": "EC", "kid": "e1", "crv": "P-256", "x": "OTAS_J4QfTQSPxzMOKjb3Y26x19gYRp0WB4X4H1GTWk", "y": "bBVXPm9-5cFsg1AMPpkw8VAu0HWO-plpphZZeJemtX0"}"#;

    fn set(keys: &[&str]) -> String {
        format!("{{\"keys\": [{}]}}", keys.join(", "))
    }

    #[test]
    fn rsa_and_ec_public_keys_are_kept_as_parsed() {
        let keys = parse_jwks(&set(&[RSA, EC])).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0]["kid"], "r1");
        assert_eq!(keys[1]["crv"], "P-256");
    }

    #[test]
    fn refused_key_sets() {
        assert!(matches!(parse_jwks("{"), Err(JwksError::NotJson(_))));
        assert!(matches!(parse_jwks("[]"), Err(JwksError::NotAKeySet)));
        assert!(matches!(
            parse_jwks("{\"keys\": [1]}"),
            Err(JwksError::NotAKeySet)
        ));
        assert!(matches!(parse_jwks(&set(&[])), Err(JwksError::NoKey)));
        let private = RSA.replace("\"e\"", "\"d\": \"AQAB\", \"e\"");
        assert!(matches!(
            parse_jwks(&set(&[EC, &private])),
            Err(JwksError::PrivateMember {
                index: 1,
                member: "d"
            })
        ));
        let private_ec = EC.replace("\"crv\"", "\"d\": \"AQAB\", \"crv\"");
        assert!(matches!(
            parse_jwks(&set(&[&private_ec])),
            Err(JwksError::PrivateMember { index: 0, .. })
        ));
        let oct = r#"{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}"#;
        assert!(matches!(
            parse_jwks(&set(&[oct])),
            Err(JwksError::UnsupportedKeyType { index: 0, kty }) if kty == "oct"
        ));
        let p384 = EC.replace("P-256", "P-384");
        assert!(matches!(
            parse_jwks(&set(&[&p384])),
            Err(JwksError::UnsupportedCurve { crv, .. }) if crv == "P-384"
        ));
        let no_kid = RSA.replace("\"kid\": \"r1\", ", "");
        assert!(matches!(
            parse_jwks(&set(&[&no_kid])),
            Err(JwksError::MissingMember {
                index: 0,
                member: "kid"
            })
        ));
        let no_kty = RSA.replace("\"kty\": \"RSA\", ", "");
        assert!(matches!(
            parse_jwks(&set(&[&no_kty])),
            Err(JwksError::MissingMember { member: "kty", .. })
        ));
        let no_y = EC.replace("\"y\"", "\"z\"");
        assert!(matches!(
            parse_jwks(&set(&[&no_y])),
            Err(JwksError::MissingMember { member: "y", .. })
        ));
        let numeric_kid = RSA.replace("\"r1\"", "7");
        assert!(matches!(
            parse_jwks(&set(&[&numeric_kid])),
            Err(JwksError::NotAString { member: "kid", .. })
        ));
        let padded = RSA.replace("\"AQAB\"", "\"AQAB=\"");
        assert!(matches!(
            parse_jwks(&set(&[&padded])),
            Err(JwksError::NotBase64Url { member: "e", .. })
        ));
        let same_kid = EC.replace("\"e1\"", "\"r1\"");
        assert!(matches!(
            parse_jwks(&set(&[RSA, &same_kid])),
            Err(JwksError::DuplicateKid(kid)) if kid == "r1"
        ));
    }

    fn client(secret: Option<&str>) -> OidcClient {
        OidcClient {
            client_id: "c".into(),
            client_type: ClientType::Confidential,
            auth_method: TokenAuthMethod::ClientSecretBasic,
            client_secret_sha256: secret.map(|s| Sha256::digest(s.as_bytes()).into()),
            jwks: None,
            redirect_uris: vec!["https://c.example.fr/cb".into()],
            post_logout_redirect_uris: vec!["https://c.example.fr/bye".into()],
            backchannel_logout_uri: None,
            id_token_alg: IdTokenAlg::Es256,
            require_pkce: true,
        }
    }

    #[test]
    fn secret_is_compared_by_its_digest() {
        let registered = client(Some("s3cret-value"));
        assert!(registered.secret_matches("s3cret-value"));
        assert!(!registered.secret_matches("s3cret-valuE"));
        assert!(!registered.secret_matches("s3cret-value "));
        assert!(!registered.secret_matches(""));
        assert!(!client(None).secret_matches(""));
        assert!(!client(None).secret_matches("s3cret-value"));
    }

    #[test]
    fn uris_are_compared_exactly() {
        let c = client(None);
        assert!(c.redirect_uri_allowed("https://c.example.fr/cb"));
        assert!(!c.redirect_uri_allowed("https://c.example.fr/bye"));
        assert!(c.post_logout_redirect_uri_allowed("https://c.example.fr/bye"));
        assert!(!c.post_logout_redirect_uri_allowed("https://c.example.fr/cb"));
        assert!(!c.post_logout_redirect_uri_allowed("https://c.example.fr/bye/"));
    }

    #[test]
    fn names() {
        assert_eq!(IdTokenAlg::default().name(), "ES256");
        assert_eq!(IdTokenAlg::Rs256.name(), "RS256");
        assert_eq!(TokenAuthMethod::PrivateKeyJwt.name(), "private_key_jwt");
        assert!(TokenAuthMethod::ClientSecretPost.uses_secret());
        assert!(!TokenAuthMethod::None.uses_secret());
    }
}
