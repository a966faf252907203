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
    signer: KeySigner,
    decoding: DecodingKey,
}

/// How a key signs. ES256 through jsonwebtoken (aws-lc). RS256 with the RSA
/// key openssl parsed once at start-up, the JWS compact form (RFC 7515
/// §7.1) written here: jsonwebtoken's aws-lc signer decodes the RSA key
/// again for every signature, which measured 1.4 ms of CPU per ID token
/// against about 0.8 ms for the signature itself (BENCHMARKS.md).
enum KeySigner {
    /// ES256.
    Ec(EncodingKey),
    /// RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 §3.3).
    Rsa(openssl::pkey::PKey<openssl::pkey::Private>),
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
        let shown = path.display().to_string();
        let not_a_key = || KeyError::NotAKey {
            path: shown.clone(),
        };
        if loaded.iter().any(|k| k.kid == kid) {
            return Err(KeyError::DuplicateKid(kid.to_owned()));
        }
        let pem = std::fs::read(path).map_err(|err| KeyError::Read {
            path: shown.clone(),
            reason: err.to_string(),
        })?;
        // The key's type and size, read with openssl: a precise refusal
        // before jsonwebtoken (aws-lc) sees it.
        let parsed = openssl::pkey::PKey::private_key_from_pem(&pem).map_err(|_| not_a_key())?;
        let alg = match parsed.id() {
            openssl::pkey::Id::EC
                if parsed.ec_key().ok().and_then(|ec| ec.group().curve_name())
                    == Some(openssl::nid::Nid::X9_62_PRIME256V1) =>
            {
                IdTokenAlg::Es256
            }
            openssl::pkey::Id::RSA => {
                let bits = usize::try_from(parsed.bits()).unwrap_or(0);
                if bits < MIN_RSA_BITS {
                    return Err(KeyError::RsaTooSmall { path: shown, bits });
                }
                IdTokenAlg::Rs256
            }
            _ => return Err(not_a_key()),
        };
        let encoding = match alg {
            IdTokenAlg::Es256 => EncodingKey::from_ec_pem(&pem),
            IdTokenAlg::Rs256 => EncodingKey::from_rsa_pem(&pem),
        }
        .map_err(|_| not_a_key())?;
        let mut jwk = Jwk::from_encoding_key(&encoding, jose(alg)).map_err(|_| not_a_key())?;
        jwk.common.key_id = Some(kid.to_owned());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(match alg {
            IdTokenAlg::Es256 => KeyAlgorithm::ES256,
            IdTokenAlg::Rs256 => KeyAlgorithm::RS256,
        });
        let decoding = DecodingKey::from_jwk(&jwk).map_err(|_| not_a_key())?;
        let signer = match alg {
            IdTokenAlg::Es256 => KeySigner::Ec(encoding),
            IdTokenAlg::Rs256 => KeySigner::Rsa(parsed),
        };
        let key = ProviderKey {
            alg,
            kid: kid.to_owned(),
            signer,
            decoding,
        };
        Ok((key, jwk))
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
        match &key.signer {
            KeySigner::Ec(encoding) => jsonwebtoken::encode(&header, claims, encoding)
                .map_err(|err| KeyError::Sign(err.to_string())),
            KeySigner::Rsa(rsa) => {
                let encoded = |json: serde_json::Result<Vec<u8>>| {
                    json.map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
                        .map_err(|err| KeyError::Sign(err.to_string()))
                };
                let input = format!(
                    "{}.{}",
                    encoded(serde_json::to_vec(&header))?,
                    encoded(serde_json::to_vec(claims))?
                );
                let signature =
                    openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), rsa)
                        .and_then(|mut signer| {
                            signer.update(input.as_bytes())?;
                            signer.sign_to_vec()
                        })
                        .map_err(|err| KeyError::Sign(err.to_string()))?;
                Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
            }
        }
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

    fn write_key(dir: &Path, name: &str, ec: bool) -> std::path::PathBuf {
        use openssl::pkey::PKey;
        let key = if ec {
            let group =
                openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
            PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap()).unwrap()
        } else {
            PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap()
        };
        let path = dir.join(name);
        std::fs::write(&path, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        path
    }

    #[test]
    fn the_first_key_of_each_algorithm_signs_and_retired_keys_stay_published() {
        let dir = tempfile::tempdir().unwrap();
        let new = write_key(dir.path(), "new.pem", true);
        let old = write_key(dir.path(), "old.pem", true);
        let rsa = write_key(dir.path(), "rsa.pem", false);
        let keys = ProviderKeys::load([
            ("es-new", new.as_path()),
            ("es-old", old.as_path()),
            ("rs", rsa.as_path()),
        ])
        .unwrap();
        let kids: Vec<_> = keys
            .jwks()
            .keys
            .iter()
            .map(|k| k.common.key_id.clone().unwrap())
            .collect();
        assert_eq!(kids, ["es-new", "es-old", "rs"]);
        assert_eq!(keys.algorithms(), [IdTokenAlg::Es256, IdTokenAlg::Rs256]);
        let claims = serde_json::json!({"iss": "https://sso.example", "sub": "s"});
        let token = keys.sign(IdTokenAlg::Es256, "JWT", &claims).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some("es-new"));
        assert!(keys.verify_hint(&token, "https://sso.example").is_some());
        assert!(keys.verify_hint(&token, "https://other.example").is_none());

        // A token the retired key signed still verifies while it is listed.
        let retired = ProviderKeys::load([("es-old", old.as_path())]).unwrap();
        let old_token = retired.sign(IdTokenAlg::Es256, "JWT", &claims).unwrap();
        assert!(
            keys.verify_hint(&old_token, "https://sso.example")
                .is_some()
        );
        let without_it = ProviderKeys::load([("es-new", new.as_path())]).unwrap();
        assert!(
            without_it
                .verify_hint(&old_token, "https://sso.example")
                .is_none()
        );
        assert!(without_it.sign(IdTokenAlg::Rs256, "JWT", &claims).is_err());
    }

    #[test]
    fn small_rsa_keys_duplicate_kids_and_non_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = write_key(dir.path(), "a.pem", true);
        let small = dir.path().join("small.pem");
        let rsa = openssl::rsa::Rsa::generate(1024).unwrap();
        std::fs::write(
            &small,
            openssl::pkey::PKey::from_rsa(rsa)
                .unwrap()
                .private_key_to_pem_pkcs8()
                .unwrap(),
        )
        .unwrap();
        let text = dir.path().join("text.pem");
        std::fs::write(&text, "not a key").unwrap();
        assert!(matches!(
            ProviderKeys::load([("a", key.as_path()), ("a", key.as_path())]),
            Err((1, KeyError::DuplicateKid(_)))
        ));
        assert!(matches!(
            ProviderKeys::load([("s", small.as_path())]),
            Err((0, KeyError::RsaTooSmall { bits: 1024, .. }))
        ));
        assert!(matches!(
            ProviderKeys::load([("t", text.as_path())]),
            Err((0, KeyError::NotAKey { .. }))
        ));
        assert!(ProviderKeys::load([("a", key.as_path())]).is_ok());
    }

    #[test]
    fn sid_differs_per_client_and_hides_the_session() {
        let a = sid_for("session-1", "client-a");
        assert_ne!(a, sid_for("session-1", "client-b"));
        assert_ne!(a, sid_for("session-2", "client-a"));
        assert!(!a.contains("session-1"));
    }
}
