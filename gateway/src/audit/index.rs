//! The index of a person's SSO sessions (domain reference §5, rights
//! requests): `person:{<reference>}:sessions`, a set kept for the
//! sessions' absolute lifetime, so that `privacy export` and `privacy
//! forget` find a person's sessions without scanning the store.
//!
//! A session id is the value of the session cookie, a bearer secret: the
//! index never holds it in clear. Each member is the id encrypted with
//! AES-256-GCM (random nonce) under a key derived from the identifier
//! secret and the person key (`keyed_digest("session-index", person key)`,
//! another label than the reference, so the reference in the key name does
//! not open the members). Only who holds the identifier secret and knows
//! the person can read them back: the gateway, and the operator answering
//! that person's request.
//!
//! Ended sessions stay in the set until it expires; readers skip them.

use std::time::Duration;

use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};
use sp_registry::{IdentifierKey, IdentifierKeys};
use sso_store::{Store, StoreError};

use crate::events::{person_reference, person_reference_under};

/// Nonce length of AES-GCM.
const NONCE: usize = 12;
/// Tag length of AES-GCM.
const TAG: usize = 16;

/// Why an index entry could not be written.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The entry key could not be derived from the identifier secret.
    #[error("cannot derive the session index key from the identifier secret")]
    KeyDerivation,
    /// The encryption failed (OpenSSL).
    #[error("cannot encrypt the session index entry: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
}

/// The set naming the sessions of the person whose reference is `reference`.
pub fn index_key(reference: &str) -> String {
    format!("person:{{{reference}}}:sessions")
}

fn entry_key(key: &IdentifierKey, person_key: &str) -> Option<[u8; 32]> {
    let hex_key = key.keyed_digest("session-index", person_key);
    hex::decode(hex_key).ok()?.try_into().ok()
}

/// Adds a session to its person's index, kept for `ttl` (the session's
/// absolute lifetime).
pub async fn add(
    store: &dyn Store,
    keys: &IdentifierKeys,
    person_key: &str,
    session_id: &str,
    ttl: Duration,
) -> Result<(), IndexError> {
    let key = entry_key(keys.current(), person_key).ok_or(IndexError::KeyDerivation)?;
    let mut nonce = [0u8; NONCE];
    openssl::rand::rand_bytes(&mut nonce)?;
    let mut tag = [0u8; TAG];
    let sealed = encrypt_aead(
        Cipher::aes_256_gcm(),
        &key,
        Some(&nonce),
        person_key.as_bytes(),
        session_id.as_bytes(),
        &mut tag,
    )?;
    let member = hex::encode([nonce.as_slice(), &sealed, &tag].concat());
    store
        .set_add(
            &index_key(&person_reference(keys, person_key)),
            &member,
            ttl,
        )
        .await?;
    Ok(())
}

/// The session ids indexed for a person, under every identifier secret.
/// Entries that do not open are skipped.
pub async fn sessions_of(
    store: &dyn Store,
    keys: &IdentifierKeys,
    person_key: &str,
) -> Result<Vec<String>, StoreError> {
    let mut ids = Vec::new();
    for key in keys.all() {
        let reference = person_reference_under(key, person_key);
        let Some(secret) = entry_key(key, person_key) else {
            continue;
        };
        for member in store.set_members(&index_key(&reference)).await? {
            if let Some(id) = open(&secret, person_key, &member)
                && !ids.contains(&id)
            {
                ids.push(id);
            }
        }
    }
    Ok(ids)
}

/// Deletes a person's index under every identifier secret.
pub async fn forget(
    store: &dyn Store,
    keys: &IdentifierKeys,
    person_key: &str,
) -> Result<(), StoreError> {
    for key in keys.all() {
        store
            .delete(&index_key(&person_reference_under(key, person_key)))
            .await?;
    }
    Ok(())
}

fn open(key: &[u8; 32], person_key: &str, member: &str) -> Option<String> {
    let bytes = hex::decode(member).ok()?;
    let nonce = bytes.get(..NONCE)?;
    let sealed = bytes.get(NONCE..bytes.len().checked_sub(TAG)?)?;
    let tag = bytes.get(bytes.len().checked_sub(TAG)?..)?;
    if sealed.is_empty() {
        return None;
    }
    let plain = decrypt_aead(
        Cipher::aes_256_gcm(),
        key,
        Some(nonce),
        person_key.as_bytes(),
        sealed,
        tag,
    )
    .ok()?;
    String::from_utf8(plain).ok()
}
