//! Anonymous usage statistics (domain reference §5: "no statistics computed
//! on personal data (aggregate first, then store)", steering dashboards at
//! the levels école, circonscription, commune, département, académie;
//! issue 8, "Anonymous usage statistics").
//!
//! # What is counted
//!
//! Every login step that ended and every access decision adds 1 to one
//! *cell*: the hour, the kind (`login` or `access`), the geography of the
//! person's school (académie, département, commune, circonscription, UAI),
//! the profile, the upstream IdP, the service and protocol (accesses), and
//! the outcome (`success` or the failure family of a login; `granted`,
//! `refused_subscription`, `refused_policy` or `error` of an access). No
//! identifier, name, address or IP of the person ever reaches a key, a field
//! or a value: the person is reduced to these dimensions before anything is
//! stored. An unknown dimension is stored empty and shown as "inconnu".
//!
//! # One person, several schools or profiles
//!
//! Each event is counted **once**, under the person's *first* UAI and
//! *first* profile as the identity lists them (the directory lists the
//! main attachment first). Totals therefore equal the number of logins and
//! accesses exactly, and no figure is ever counted twice; the cost is that a
//! teacher working in two schools appears under the first one only.
//!
//! # Key layout and retention
//!
//! One hash per day (Europe/Paris local day), `stats:<YYYY-MM-DD>`; each
//! field is a cell, `HH|kind|académie|département|commune|circonscription|
//! UAI|profile|IdP|service|protocol|outcome`, each value escaped (`%` as
//! `%25`, `|` as `%7C`); each value is a count. The set `stats:days` lists
//! the days written (so that export reads them without `SCAN`). Every write
//! sets the key's TTL to `[statistics] retention_days` (default 800 days:
//! two school years and a summer, so that a steering user compares a year
//! with the previous one; aggregates hold no personal data, so the limit of
//! connection logs does not apply). Replicas add to the same hashes with
//! `HINCRBY`, so the figures of all replicas add up.
//!
//! # Off the request path
//!
//! [`Statistics::login`] and [`Statistics::access`] never wait: they put the
//! cell in a bounded queue (`[statistics] queue_capacity`) read by one
//! background task, which fills in the geography from this replica's cache
//! of the directory (refreshed every few minutes) and writes what a quarter
//! of a second gathered in one `hincr` per day. A full queue or a failed write loses
//! the increments and counts them in `sso_statistics_dropped_total`: a login
//! is never slowed or refused because of statistics.
//!
//! Reading and showing the figures (with small counts suppressed) is
//! [`mod@query`]; raw export and import of the day hashes is [`raw`]; the
//! JSON API, CSV and page are [`web`].

pub mod cell;
pub mod chart;
pub mod config;
pub mod geography;
pub mod query;
pub mod raw;
pub mod web;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Timelike, Utc};
use sso_directory::store::Directory;
use sso_store::{Store, StoreError};
use tokio::sync::mpsc;

use crate::events::{AccessEvent, LoginEvent, Who};
pub use cell::{Cell, Kind};
pub use config::StatisticsConfig;
pub use geography::{Geography, GeographyCache};
pub use query::{Figure, Report, query};

/// Increments lost (queue full or store write failed).
pub const DROPPED: &str = "sso_statistics_dropped_total";

/// The set listing the days written.
pub const DAYS_KEY: &str = "stats:days";

/// Most cells written in one batch.
const MAX_BATCH: usize = 4096;

/// How long the writer gathers increments after the first one before it
/// writes them: at a hundred logins a second, one write of a few dozen
/// cells instead of one per event (measured in BENCHMARKS.md, "Load
/// tests"); what a crash loses is at most this much of the counts.
const GATHER: Duration = Duration::from_millis(250);

/// The hash of one day.
pub fn day_key(day: NaiveDate) -> String {
    format!("stats:{}", day.format("%Y-%m-%d"))
}

/// The local (Europe/Paris) day and hour of an instant.
pub fn local_day_hour(at: DateTime<Utc>) -> (NaiveDate, u8) {
    let local = at.with_timezone(&chrono_tz::Europe::Paris);
    let hour = u8::try_from(local.hour()).unwrap_or_default();
    (local.date_naive(), hour)
}

/// Why statistics could not be read, exported or imported.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// The store failed.
    #[error("statistics store: {0}")]
    Store(#[from] StoreError),
    /// A stored field is not a cell (written by something else).
    #[error("statistics key {key}: field is not a cell: {reason}")]
    BadField {
        /// The day key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A line of an import is malformed.
    #[error("statistics import, line {line}: {reason}")]
    BadLine {
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing the CSV failed.
    #[error("statistics CSV: {0}")]
    Io(#[from] std::io::Error),
    /// The period is not valid.
    #[error("statistics period: {0}")]
    Period(String),
}

/// Settings of the figures, from `[statistics]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How long each day hash is kept.
    pub retention: Duration,
    /// Figures below this are shown suppressed.
    pub min_count: u64,
    /// Longest period one report may cover, in days.
    pub max_days: i64,
}

/// A cell waiting for its geography, on its way to the store.
#[derive(Debug)]
struct Pending {
    day: NaiveDate,
    cell: Cell,
}

/// This replica's statistics recorder (see the module documentation).
pub struct Statistics {
    sender: mpsc::Sender<Pending>,
    settings: Settings,
    geography: Arc<GeographyCache>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for Statistics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statistics")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Statistics {
    /// Starts the background writer on `store` (the geography read from
    /// `directory`); must be called within a Tokio runtime.
    pub fn start(store: Arc<dyn Store>, directory: Directory, config: &StatisticsConfig) -> Self {
        ::metrics::describe_counter!(
            DROPPED,
            "Statistics increments lost (queue full or store unavailable)."
        );
        ::metrics::counter!(DROPPED).increment(0);
        let settings = config.settings();
        let capacity = usize::try_from(*config.queue_capacity.get_ref()).unwrap_or(1);
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let geography = Arc::new(GeographyCache::new(directory));
        let dropped = Arc::new(AtomicU64::new(0));
        tokio::spawn(write_loop(
            receiver,
            store,
            Arc::clone(&geography),
            settings.retention,
            Arc::clone(&dropped),
        ));
        Self {
            sender,
            settings,
            geography,
            dropped,
        }
    }

    /// The settings of the figures.
    pub fn settings(&self) -> Settings {
        self.settings
    }

    /// This replica's cache of the school geography.
    pub fn geography(&self) -> &GeographyCache {
        &self.geography
    }

    /// Increments this replica lost since it started.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Counts a login step that ended.
    pub fn login(&self, event: &LoginEvent) {
        let (day, hour) = local_day_hour(event.at);
        let mut cell = Cell {
            hour,
            kind: Kind::Login,
            idp: event.idp.clone(),
            outcome: event.outcome.as_str().to_owned(),
            ..Cell::default()
        };
        if let Some(who) = &event.who {
            person_dimensions(&mut cell, who);
        }
        self.send(Pending { day, cell });
    }

    /// Counts an access decision.
    pub fn access(&self, event: &AccessEvent) {
        let (day, hour) = local_day_hour(event.at);
        let mut cell = Cell {
            hour,
            kind: Kind::Access,
            idp: event.who.idp.clone(),
            service: event.service.clone(),
            protocol: event.protocol.as_str().to_owned(),
            outcome: event.outcome.as_str().to_owned(),
            ..Cell::default()
        };
        person_dimensions(&mut cell, &event.who);
        self.send(Pending { day, cell });
    }

    fn send(&self, pending: Pending) {
        if self.sender.try_send(pending).is_err() {
            lost(&self.dropped, 1);
        }
    }
}

/// The dimensions kept of a person: académie, first UAI, first profile.
fn person_dimensions(cell: &mut Cell, who: &Who) {
    cell.academie = who.academie.clone().unwrap_or_default();
    cell.uai = who.uais.first().cloned().unwrap_or_default();
    cell.profile = who.profiles.first().cloned().unwrap_or_default();
}

fn lost(dropped: &AtomicU64, count: u64) {
    dropped.fetch_add(count, Ordering::Relaxed);
    ::metrics::counter!(DROPPED).increment(count);
}

/// The background writer: gathers what the queue brings for [`GATHER`],
/// adds the geography, writes one `hincr` per day (and lists a day in
/// `stats:days` the first time it writes to it); ends when every sender is
/// gone, after writing what it gathered.
async fn write_loop(
    mut receiver: mpsc::Receiver<Pending>,
    store: Arc<dyn Store>,
    geography: Arc<GeographyCache>,
    retention: Duration,
    dropped: Arc<AtomicU64>,
) {
    let mut listed_days = BTreeSet::new();
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + GATHER;
        while batch.len() < MAX_BATCH {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(pending)) => batch.push(pending),
                Ok(None) | Err(_) => break,
            }
        }
        let places = geography.current().await;
        let mut days: BTreeMap<NaiveDate, BTreeMap<String, i64>> = BTreeMap::new();
        for Pending { day, mut cell } in batch {
            places.complete(&mut cell);
            *days
                .entry(day)
                .or_default()
                .entry(cell.field())
                .or_insert(0) += 1;
        }
        for (day, fields) in days {
            let count: i64 = fields.values().sum();
            let increments: Vec<(String, i64)> = fields.into_iter().collect();
            if let Err(error) = store.hincr(&day_key(day), &increments, retention).await {
                tracing::warn!(%error, count, "statistics increments lost");
                lost(&dropped, u64::try_from(count).unwrap_or_default());
                continue;
            }
            if listed_days.contains(&day) {
                continue;
            }
            let listed = day.format("%Y-%m-%d").to_string();
            match store.set_add(DAYS_KEY, &listed, retention).await {
                Ok(()) => {
                    listed_days.insert(day);
                }
                Err(error) => tracing::warn!(%error, "statistics day not listed for export"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use sso_core::Identity;
    use sso_store::testing::RedisServer;
    use sso_store::{MemoryStore, RedisConfig, RedisStore};

    use super::*;
    use crate::observe::prometheus::LoginOutcome;

    fn success(at: DateTime<Utc>) -> LoginEvent {
        let mut identity = Identity::new("educonnect", "subject-1", 0);
        identity.push(sso_core::attr::UAI, "0350001A");
        identity.push(sso_core::attr::PROFILE, "National_ELV");
        LoginEvent {
            at,
            idp: "educonnect".into(),
            outcome: LoginOutcome::Success,
            who: Some(Who::of(&identity)),
            ip: None,
        }
    }

    async fn total(store: &dyn Store, day: NaiveDate) -> i64 {
        store
            .hgetall(&day_key(day))
            .await
            .unwrap()
            .iter()
            .map(|(_, count)| count)
            .sum()
    }

    #[tokio::test]
    async fn increments_are_lost_and_counted_when_the_store_is_down() {
        let config = StatisticsConfig {
            queue_capacity: toml::Spanned::new(0..0, 8),
            ..StatisticsConfig::default()
        };
        // Positive control: a working store receives every increment.
        let memory: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let working = Statistics::start(
            Arc::clone(&memory),
            Directory::new(Arc::clone(&memory)),
            &config,
        );
        let now = Utc::now();
        let (day, _) = local_day_hour(now);
        for _ in 0..5 {
            working.login(&success(now));
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while total(memory.as_ref(), day).await < 5 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(working.dropped(), 0);
        assert_eq!(total(memory.as_ref(), day).await, 5);

        let mut server = RedisServer::start().await.unwrap();
        let redis: Arc<dyn Store> = Arc::new(
            RedisStore::connect(RedisConfig {
                command_timeout: Duration::from_millis(200),
                ..RedisConfig::new(server.url())
            })
            .await
            .unwrap(),
        );
        server.stop().await;
        let down = Statistics::start(
            Arc::clone(&redis),
            Directory::new(Arc::clone(&redis)),
            &config,
        );
        // Recording never waits: 100 events into a queue of 8 return at
        // once; those the queue cannot hold are lost at once, the others
        // when their write fails.
        for _ in 0..100 {
            down.login(&success(now));
        }
        assert!(down.dropped() >= 100 - 8 - 1, "{}", down.dropped());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while down.dropped() < 100 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(down.dropped(), 100, "every increment lost is counted");
    }
}
