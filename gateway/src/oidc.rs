//! OpenID Connect as the gateway speaks it to downstream services (OpenID
//! Connect Core 1.0, authorization code flow §3.1; RFC 6749; PKCE RFC 7636;
//! RFC 9207 `iss`; Back-Channel Logout 1.0): the signing keys and their JWKS,
//! and what codes and access tokens stand for in the shared store.
//!
//! - Keys: one PEM file per key, EC P-256 (ES256) or RSA of at least 2048
//!   bits (RS256), each with its `kid`. The first key of each algorithm
//!   signs; the later ones are only published in the JWKS, so that a retired
//!   key stays there until the tokens it signed have expired (rotation).
//! - An authorization code is 256 random bits, stored under
//!   `oidc:code:<SHA-256>` for a short time and consumed by one `GETDEL`
//!   (Core §3.1.3.2: used once). Once exchanged, `oidc:used:<SHA-256>` names
//!   the access token it gave until that token expires: a second use of the
//!   code revokes it (RFC 6749 §4.1.2).
//! - An access token is 256 random bits; the store keeps its SHA-256 only
//!   (`oidc:at:<SHA-256>`), with the `sub` and the claims userinfo returns.
//! - `sub` is the service's opaque identifier (pairwise per service or per
//!   family, as for SAML and CAS) and `sid` is derived from the session and
//!   the client, so that two clients cannot correlate their users by it.
//! - Claims are the released attributes under their released names, each
//!   a JSON array of strings whatever the number of values (as in CAS's
//!   JSON answer), so that a client never sees a claim's type change from
//!   one user to the next (a pupil in one class or in two).

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sp_registry::{IdTokenAlg, ReleasedAttribute};

/// Smallest RSA modulus accepted for a signing key.
const MIN_RSA_BITS: usize = 2048;

/// Store key of an authorization code.
pub fn code_key(code: &str) -> String {
    format!("oidc:code:{}", crate::digest(code))
}

/// Store key of an exchanged code (names the access token it gave).
pub fn used_code_key(code: &str) -> String {
    format!("oidc:used:{}", crate::digest(code))
}

/// Store key of an access token.
pub fn access_token_key(token: &str) -> String {
    format!("oidc:at:{}", crate::digest(token))
}

/// Store key of a `private_key_jwt` assertion's `jti` (single use).
pub fn assertion_key(client_id: &str, jti: &str) -> String {
    format!("oidc:jti:{}", crate::digest(&format!("{client_id}\0{jti}")))
}

/// The session identifier (`sid`) a client sees: derived from the session
/// and the client, never the session cookie itself.
pub fn sid_for(session_id: &str, client_id: &str) -> String {
    crate::digest(&format!("sid\0{session_id}\0{client_id}"))
}

/// An authorization request accepted and waiting for its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    /// The registered client.
    pub client_id: String,
    /// The registered redirect URI it named (exact match).
    pub redirect_uri: String,
    /// Its `state`, returned as is.
    pub state: Option<String>,
    /// Its `nonce`, put in the ID token.
    pub nonce: Option<String>,
    /// Its PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// The scopes it asked for.
    pub scope: String,
}

/// What an authorization code stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    /// Registry id of the service.
    pub service_id: String,
    /// The request the code answers.
    pub request: AuthorizationRequest,
    /// The user as this service knows them.
    pub sub: String,
    /// Session identifier for this client.
    pub sid: String,
    /// The released claims.
    pub claims: Map<String, Value>,
    /// Login time (Unix seconds).
    pub auth_time: i64,
    /// Authentication context of the login.
    pub acr: Option<String>,
}

/// What an access token stands for (userinfo).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessGrant {
    /// The client it was issued to.
    pub client_id: String,
    /// The user as this service knows them.
    pub sub: String,
    /// The released claims.
    pub claims: Map<String, Value>,
}

/// The released attributes as claims, each an array of strings, in
/// policy order.
pub fn claims_of(released: Vec<ReleasedAttribute>) -> Map<String, Value> {
    released
        .into_iter()
        .map(|attribute| {
            let values = attribute.values.into_iter().map(Value::String).collect();
            (attribute.name, Value::Array(values))
        })
        .collect()
}

/// Whether `verifier` answers the S256 `challenge` (RFC 7636 §4.6), compared
/// in constant time. A verifier outside 43 to 128 unreserved characters
/// (§4.1) never answers.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    // Lengths first: `memcmp::eq` compares slices of equal length only.
    well_formed
        && computed.len() == challenge.len()
        && openssl::memcmp::eq(computed.as_bytes(), challenge.as_bytes())
}

/// Whether `challenge` is a well-formed S256 challenge: base64url of 32 bytes.
pub fn challenge_well_formed(challenge: &str) -> bool {
    challenge.len() == 43
        && URL_SAFE_NO_PAD
            .decode(challenge)
            .is_ok_and(|bytes| bytes.len() == 32)
}

/// `at_hash` of an access token for ES256 and RS256 (Core §3.1.3.6): the
/// left half of its SHA-256, base64url.
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.get(..16).unwrap_or_default())
}

/// Why the provider's keys cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file cannot be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Neither an EC P-256 nor an RSA private key in PEM.
    #[error("{path} holds no EC P-256 or RSA private key in PEM")]
    NotAKey {
        /// The file.
        path: String,
    },
    /// An RSA key below 2048 bits.
    #[error("{path}: the RSA key has {bits} bits, at least {MIN_RSA_BITS} are required")]
    RsaTooSmall {
        /// The file.
        path: String,
        /// Its size.
        bits: usize,
    },
    /// Two keys with one `kid`.
    #[error("two keys are named {0:?}: each kid must be unique")]
    DuplicateKid(String),
    /// No key of an algorithm a client needs.
    #[error("no {0} key: a client asks for {0} ID tokens")]
    NoKeyFor(&'static str),
    /// A JWT could not be signed.
    #[error("signing failed: {0}")]
    Sign(String),
}

/// One key: its algorithm, its id, and both halves.
struct ProviderKey {
    alg: IdTokenAlg,
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// The provider's keys: the signing key of each algorithm, every published
/// key, and the JWKS document.
pub struct ProviderKeys {
    keys: Vec<ProviderKey>,
    jwks: JwkSet,
}

impl std::fmt::Debug for ProviderKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderKeys")
            .field(
                "kids",
                &self.keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

fn jose(alg: IdTokenAlg) -> Algorithm {
    match alg {
        IdTokenAlg::Es256 => Algorithm::ES256,
        IdTokenAlg::Rs256 => Algorithm::RS256,
    }
}

impl ProviderKeys {
    /// Loads `(kid, PEM file)` pairs, in configuration order. An error
    /// comes with the position of the key it concerns.
    pub fn load<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a Path)>,
    ) -> Result<Self, (usize, KeyError)> {
        let mut keys: Vec<ProviderKey> = Vec::new();
        let mut jwks = Vec::new();
        for (index, (kid, path)) in files.into_iter().enumerate() {
            let (key, jwk) = Self::load_one(kid, path, &keys).map_err(|err| (index, err))?;
            keys.push(key);
            jwks.push(jwk);
        }
        Ok(Self {
            keys,
            jwks: JwkSet { keys: jwks },
        })
    }

    fn load_one(
        kid: &str,
        path: &Path,
        loaded: &[ProviderKey],
    ) -> Result<(ProviderKey, Jwk), KeyError> {
        {
            let shown = path.display().to_string();
            let pem = std::fs::read(path).map_err(|err| KeyError::Read {
                path: shown.clone(),
                reason: err.to_string(),
            })?;
            let (alg, encoding) = match EncodingKey::from_ec_pem(&pem) {
                Ok(key) => (IdTokenAlg::Es256, key),
                Err(_) => EncodingKey::from_rsa_pem(&pem)
                    .map(|key| (IdTokenAlg::Rs256, key))
                    .map_err(|_| KeyError::NotAKey {
                        path: shown.clone(),
                    })?,
            };
            let mut jwk =
                Jwk::from_encoding_key(&encoding, jose(alg)).map_err(|_| KeyError::NotAKey {
                    path: shown.clone(),
                })?;
            if let jsonwebtoken::jwk::AlgorithmParameters::RSA(rsa) = &jwk.algorithm {
                let bits = URL_SAFE_NO_PAD
                    .decode(&rsa.n)
                    .map(|n| n.len().saturating_mul(8))
                    .unwrap_or(0);
                if bits < MIN_RSA_BITS {
                    return Err(KeyError::RsaTooSmall { path: shown, bits });
                }
            }
            if loaded.iter().any(|k| k.kid == kid) {
                return Err(KeyError::DuplicateKid(kid.to_owned()));
            }
            jwk.common.key_id = Some(kid.to_owned());
            jwk.common.public_key_use = Some(PublicKeyUse::Signature);
            jwk.common.key_algorithm = Some(match alg {
                IdTokenAlg::Es256 => KeyAlgorithm::ES256,
                IdTokenAlg::Rs256 => KeyAlgorithm::RS256,
            });
            let decoding =
                DecodingKey::from_jwk(&jwk).map_err(|_| KeyError::NotAKey { path: shown })?;
            let key = ProviderKey {
                alg,
                kid: kid.to_owned(),
                encoding,
                decoding,
            };
            Ok((key, jwk))
        }
    }

    /// The JWKS document (RFC 7517 §5): every published public key.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// The algorithms this provider can sign with, in configuration order.
    pub fn algorithms(&self) -> Vec<IdTokenAlg> {
        let mut algs: Vec<IdTokenAlg> = Vec::new();
        for key in &self.keys {
            if !algs.contains(&key.alg) {
                algs.push(key.alg);
            }
        }
        algs
    }

    /// `claims` as a JWT signed with the current `alg` key, of media type
    /// `typ` (`JWT`, `logout+jwt`).
    pub fn sign<T: Serialize>(
        &self,
        alg: IdTokenAlg,
        typ: &str,
        claims: &T,
    ) -> Result<String, KeyError> {
        let key = self
            .keys
            .iter()
            .find(|key| key.alg == alg)
            .ok_or(KeyError::NoKeyFor(alg.name()))?;
        let mut header = Header::new(jose(alg));
        header.kid = Some(key.kid.clone());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, &key.encoding)
            .map_err(|err| KeyError::Sign(err.to_string()))
    }

    /// The claims of an ID token this provider signed with any published
    /// key (an `id_token_hint`), its expiry not checked (Core RP-Initiated
    /// Logout §2: an expired hint still names the session). None when the
    /// signature or the issuer does not hold.
    pub fn verify_hint(&self, token: &str, issuer: &str) -> Option<Map<String, Value>> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let key = self
            .keys
            .iter()
            .find(|key| Some(&key.kid) == header.kid.as_ref() && jose(key.alg) == header.alg)?;
        let mut validation = jsonwebtoken::Validation::new(jose(key.alg));
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        validation.set_issuer(&[issuer]);
        jsonwebtoken::decode::<Map<String, Value>>(token, &key.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_of_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(challenge_well_formed(challenge));
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK",
            challenge
        ));
        assert!(!pkce_matches(challenge, challenge));
        assert!(!pkce_matches("short", challenge));
        assert!(!challenge_well_formed("plain-challenge"));
    }

    #[test]
    fn every_claim_is_an_array_whatever_its_number_of_values() {
        let claims = claims_of(vec![
            ReleasedAttribute {
                name: "ENTPersonProfils".into(),
                values: vec!["National_ELV".into()],
            },
            ReleasedAttribute {
                name: "ENTEleveClasses".into(),
                values: vec!["4A".into(), "4B".into()],
            },
        ]);
        assert_eq!(
            claims["ENTPersonProfils"],
            serde_json::json!(["National_ELV"])
        );
        assert_eq!(claims["ENTEleveClasses"], serde_json::json!(["4A", "4B"]));
    }

    #[test]
    fn sid_differs_per_client_and_hides_the_session() {
        let a = sid_for("session-1", "client-a");
        assert_ne!(a, sid_for("session-1", "client-b"));
        assert_ne!(a, sid_for("session-2", "client-a"));
        assert!(!a.contains("session-1"));
    }
}
