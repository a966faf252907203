//! Subscriptions in the shared store (domain reference §4), so that every
//! replica decides the same way, and the access check a resource requires.
//!
//! Keys (kind `abo`):
//! - `abo:sub:<idAbonnement>`: the subscription (JSON, GAR field names);
//! - `abo:idx:<idRessource>:<uaiEtab>`: set of the subscription ids of one
//!   school for one resource, read at access time (one set per school of the
//!   user, then one pipelined read);
//! - `abo:uai:<uaiEtab>`: set of the subscription ids of one school;
//! - `abo:school:<uaiEtab>`: every subscription of one school in one JSON
//!   document, rebuilt from the keys above at each change, read by the
//!   médiacentre (one read per school of the user);
//! - `abo:ver:<uaiEtab>`: a counter raised after each rewrite of that
//!   document. A replica keeps each school's decoded document in memory
//!   ([`SchoolCache`]) and reuses it while the counter it read is unchanged,
//!   so a listing reads one small number per school instead of decoding
//!   hundreds of subscriptions; every replica sees a change at its next read;
//! - `abo:all`: set of every subscription id, for listings.
//!
//! Each key lives until 30 days after the subscription's end of validity.
//! Refusals are counted per day, resource and reason in
//! `count:refused:<YYYY-MM-DD>:<service>:<reason>` (an aggregate: no user
//! data), kept 400 days.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use sp_registry::ServiceDefinition;
use sp_registry::subscription::{Subscription, SubscriptionRefusal, decide};
use sso_core::Identity;
use sso_store::{BatchWrite, Store, StoreError};

/// Kept after the end of validity, for the admin's listing.
const KEPT_AFTER_END_DAYS: i64 = 30;
/// Retention of the refusal counters.
const COUNTER_TTL: Duration = Duration::from_secs(400 * 24 * 3600);
/// The set of every subscription id.
const ALL_KEY: &str = "abo:all";
/// TTL of that set, refreshed by every import.
const LISTING_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

fn subscription_key(id: &str) -> String {
    format!("abo:sub:{id}")
}

fn index_key(resource_id: &str, uai: &str) -> String {
    format!("abo:idx:{resource_id}:{uai}")
}

fn school_key(uai: &str) -> String {
    format!("abo:uai:{uai}")
}

fn school_document_key(uai: &str) -> String {
    format!("abo:school:{uai}")
}

fn version_key(uai: &str) -> String {
    format!("abo:ver:{uai}")
}

fn ttl(subscription: &Subscription, today: NaiveDate) -> Duration {
    let days = (subscription.valid_until - today).num_days() + KEPT_AFTER_END_DAYS;
    Duration::from_secs(u64::try_from(days.max(1)).unwrap_or(1) * 24 * 3600)
}

/// Why subscriptions could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SubscriptionStoreError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored subscription cannot be decoded.
    #[error("stored subscription cannot be decoded: {0}")]
    Corrupt(String),
}

/// Writes (or replaces) subscriptions, already validated against the
/// registry. A replaced subscription whose school or resource changed
/// leaves its old index entry, which reads ignore (they check the decoded
/// subscription) and which expires.
pub async fn put_all(
    store: &dyn Store,
    subscriptions: &[Subscription],
    today: NaiveDate,
) -> Result<(), SubscriptionStoreError> {
    let mut schools: Vec<String> = Vec::new();
    for subscription in subscriptions {
        if let Some(previous) = get(store, &subscription.id).await?
            && !schools.contains(&previous.uai)
        {
            schools.push(previous.uai);
        }
        if !schools.contains(&subscription.uai) {
            schools.push(subscription.uai.clone());
        }
        let ttl = ttl(subscription, today);
        let value = serde_json::to_vec(subscription)
            .map_err(|e| SubscriptionStoreError::Corrupt(e.to_string()))?;
        store
            .write_batch(
                &[
                    BatchWrite::Put {
                        key: subscription_key(&subscription.id),
                        value,
                    },
                    BatchWrite::SetAdd {
                        key: index_key(&subscription.resource_id, &subscription.uai),
                        member: subscription.id.clone(),
                    },
                    BatchWrite::SetAdd {
                        key: school_key(&subscription.uai),
                        member: subscription.id.clone(),
                    },
                ],
                ttl,
            )
            .await?;
        store
            .set_add(ALL_KEY, &subscription.id, LISTING_TTL)
            .await?;
    }
    for uai in schools {
        rebuild_school(store, &uai).await?;
    }
    Ok(())
}

/// Writes the document of one school again from its subscriptions.
async fn rebuild_school(store: &dyn Store, uai: &str) -> Result<(), SubscriptionStoreError> {
    let ids = store.set_members(&school_key(uai)).await?;
    let mut subscriptions = read(store, &ids).await?;
    subscriptions.retain(|s| s.uai == uai);
    subscriptions.sort_by(|a, b| a.id.cmp(&b.id));
    let key = school_document_key(uai);
    if subscriptions.is_empty() {
        store.delete(&key).await?;
    } else {
        let value = serde_json::to_vec(&subscriptions)
            .map_err(|e| SubscriptionStoreError::Corrupt(e.to_string()))?;
        store.put(&key, &value, LISTING_TTL).await?;
    }
    store.incr(&version_key(uai), LISTING_TTL).await?;
    Ok(())
}

/// One subscription by id.
pub async fn get(
    store: &dyn Store,
    id: &str,
) -> Result<Option<Subscription>, SubscriptionStoreError> {
    Ok(read(store, &[id.to_owned()]).await?.into_iter().next())
}

/// Deletes a subscription and its index entries; `false` when absent.
pub async fn delete(store: &dyn Store, id: &str) -> Result<bool, SubscriptionStoreError> {
    let Some(subscription) = get(store, id).await? else {
        return Ok(false);
    };
    store
        .write_batch(
            &[
                BatchWrite::Delete {
                    key: subscription_key(id),
                },
                BatchWrite::SetRemove {
                    key: index_key(&subscription.resource_id, &subscription.uai),
                    member: id.to_owned(),
                },
                BatchWrite::SetRemove {
                    key: school_key(&subscription.uai),
                    member: id.to_owned(),
                },
                BatchWrite::SetRemove {
                    key: ALL_KEY.to_owned(),
                    member: id.to_owned(),
                },
            ],
            LISTING_TTL,
        )
        .await?;
    rebuild_school(store, &subscription.uai).await?;
    Ok(true)
}

/// Every subscription stored, optionally only those of one school and/or
/// one resource, sorted by id.
pub async fn list(
    store: &dyn Store,
    uai: Option<&str>,
    resource_id: Option<&str>,
) -> Result<Vec<Subscription>, SubscriptionStoreError> {
    let ids = store.set_members(ALL_KEY).await?;
    let mut subscriptions = read(store, &ids).await?;
    subscriptions.retain(|s| {
        uai.is_none_or(|u| u == s.uai) && resource_id.is_none_or(|r| r == s.resource_id)
    });
    subscriptions.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(subscriptions)
}

/// The subscriptions to `resource_id` of the user's schools.
pub async fn of_schools(
    store: &dyn Store,
    resource_id: &str,
    uais: &[String],
) -> Result<Vec<Subscription>, SubscriptionStoreError> {
    let mut ids = Vec::new();
    for uai in uais {
        ids.extend(store.set_members(&index_key(resource_id, uai)).await?);
    }
    let mut subscriptions = read(store, &ids).await?;
    subscriptions.retain(|s| s.resource_id == resource_id && uais.contains(&s.uai));
    Ok(subscriptions)
}

/// Schools kept in one replica's [`SchoolCache`] before it starts afresh
/// (about the number of schools of the largest académies).
const CACHE_MAX_SCHOOLS: usize = 20_000;

/// One school's subscriptions, sorted by resource id, as decoded at a
/// version of its document.
#[derive(Debug)]
struct Cached {
    version: u64,
    subscriptions: Arc<[Subscription]>,
}

/// This replica's copy of each school's decoded subscriptions, checked
/// against the school's version counter at every read (module doc).
#[derive(Debug, Default)]
pub struct SchoolCache {
    schools: Mutex<HashMap<String, Cached>>,
}

impl SchoolCache {
    /// Every subscription of the schools `uais`, whatever the resource, one
    /// slice per school sorted by resource id: one read of the version
    /// counters, and one read of the documents that changed since this
    /// replica last decoded them.
    pub async fn of_schools(
        &self,
        store: &dyn Store,
        uais: &[String],
    ) -> Result<Vec<Arc<[Subscription]>>, SubscriptionStoreError> {
        let version_keys: Vec<String> = uais.iter().map(|uai| version_key(uai)).collect();
        let versions: Vec<Option<u64>> = store
            .get_many(&version_keys)
            .await?
            .into_iter()
            .map(|bytes| {
                bytes.and_then(|b| std::str::from_utf8(&b).ok().and_then(|t| t.parse().ok()))
            })
            .collect();
        let mut found: Vec<Option<Arc<[Subscription]>>> = {
            let schools = self.schools.lock().unwrap_or_else(PoisonError::into_inner);
            uais.iter()
                .zip(&versions)
                .map(|(uai, version)| {
                    schools
                        .get(uai)
                        .filter(|cached| Some(cached.version) == *version)
                        .map(|cached| Arc::clone(&cached.subscriptions))
                })
                .collect()
        };
        let missing: Vec<usize> = found
            .iter()
            .enumerate()
            .filter_map(|(i, school)| school.is_none().then_some(i))
            .collect();
        if missing.is_empty() {
            return Ok(found.into_iter().flatten().collect());
        }
        let keys: Vec<String> = missing
            .iter()
            .filter_map(|&i| uais.get(i).map(|uai| school_document_key(uai)))
            .collect();
        let documents = store.get_many(&keys).await?;
        let mut schools = Vec::with_capacity(missing.len());
        for (&i, bytes) in missing.iter().zip(documents) {
            let Some(uai) = uais.get(i) else { continue };
            let mut decoded: Vec<Subscription> = match bytes {
                Some(bytes) => serde_json::from_slice(&bytes)
                    .map_err(|e| SubscriptionStoreError::Corrupt(e.to_string()))?,
                None => Vec::new(),
            };
            decoded.retain(|s| &s.uai == uai);
            decoded.sort_by(|a, b| a.resource_id.cmp(&b.resource_id));
            let decoded: Arc<[Subscription]> = decoded.into();
            if let (Some(slot), Some(version)) = (found.get_mut(i), versions.get(i)) {
                *slot = Some(Arc::clone(&decoded));
                if let Some(version) = version {
                    schools.push((uai.clone(), *version, decoded));
                }
            }
        }
        let mut cache = self.schools.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() + schools.len() > CACHE_MAX_SCHOOLS {
            cache.clear();
        }
        for (uai, version, subscriptions) in schools {
            cache.insert(
                uai,
                Cached {
                    version,
                    subscriptions,
                },
            );
        }
        Ok(found.into_iter().flatten().collect())
    }
}

async fn read(
    store: &dyn Store,
    ids: &[String],
) -> Result<Vec<Subscription>, SubscriptionStoreError> {
    let keys: Vec<String> = ids.iter().map(|id| subscription_key(id)).collect();
    let mut subscriptions = Vec::new();
    for bytes in store.get_many(&keys).await?.into_iter().flatten() {
        subscriptions.push(
            serde_json::from_slice(&bytes)
                .map_err(|e| SubscriptionStoreError::Corrupt(e.to_string()))?,
        );
    }
    Ok(subscriptions)
}

/// Why a resource access was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// No subscription covers the user.
    #[error(transparent)]
    Refused(#[from] SubscriptionRefusal),
    /// A resource registered without its `resource_id` (the registry refuses
    /// such files; kept as a fail-closed guard).
    #[error("resource {0} has no resource_id")]
    NoResourceId(String),
    /// The subscriptions could not be read.
    #[error(transparent)]
    Store(#[from] SubscriptionStoreError),
}

/// The subscription check of a resource at access time; the refusal is
/// counted. ENTs need no subscription.
pub async fn check(
    store: &dyn Store,
    service: &ServiceDefinition,
    identity: &Identity,
) -> Result<(), AccessError> {
    if service.kind != sp_registry::ServiceKind::Resource {
        return Ok(());
    }
    let resource_id = service
        .resource_id
        .as_deref()
        .ok_or_else(|| AccessError::NoResourceId(service.id.clone()))?;
    let uais: Vec<String> = identity
        .uais()
        .iter()
        .map(|u| u.as_str().to_owned())
        .collect();
    let subscriptions = of_schools(store, resource_id, &uais).await?;
    let today = Utc::now().date_naive();
    match decide(&subscriptions, identity, resource_id, today) {
        Ok(_) => Ok(()),
        Err(refusal) => {
            let key = format!("count:refused:{today}:{}:{}", service.id, refusal.reason());
            if let Err(error) = store.incr(&key, COUNTER_TTL).await {
                tracing::warn!(%error, "refusal not counted");
            }
            Err(AccessError::Refused(refusal))
        }
    }
}
