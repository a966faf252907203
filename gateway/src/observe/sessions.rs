//! The `sso_sessions_active` gauge: an **estimate** of the SSO sessions alive,
//! computed with the store's own operations only (architecture, "State": no
//! `KEYS`/`SCAN`, secondary indexes carry TTLs).
//!
//! Each session creation adds one to a per-minute counter
//! `stats:sessions:start:<minute>`, each session ended by the gateway
//! (logout, replacement by a new login, absolute timeout noticed on use) to
//! `stats:sessions:end:<minute>` (`INCR` with a TTL just above the idle
//! timeout). A periodic task sums the counters of the minutes of the last
//! idle window with one `get_many` and sets the gauge to
//! `started - ended` (never below 0).
//!
//! Accuracy: the figure counts the sessions **created within the last idle
//! timeout and not ended by the gateway since**. It is too low by the
//! sessions still alive thanks to activity although created earlier than
//! one idle window ago, and too high by the sessions of the window that
//! expired idle (their end is never observed) or were ended by a logout
//! counted in a later minute than a creation outside the window. It is the
//! same figure on every replica (the counters are shared): aggregate it with
//! `max`, not `sum`. Counting costs one `INCR` per login and per logout.

use std::sync::Arc;
use std::time::Duration;

use sso_store::{Store, StoreError};

use super::prometheus::SESSIONS_ACTIVE;

/// Width of a counter bucket.
const BUCKET_SECONDS: i64 = 60;

/// How long after its minute a counter is kept beyond the idle window.
const MARGIN: Duration = Duration::from_secs(120);

/// Which counter an event goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEvent {
    /// A session was created.
    Started,
    /// A session that existed was ended by the gateway.
    Ended,
}

impl SessionEvent {
    fn prefix(self) -> &'static str {
        match self {
            Self::Started => "stats:sessions:start:",
            Self::Ended => "stats:sessions:end:",
        }
    }
}

fn minute(now: i64) -> i64 {
    now.div_euclid(BUCKET_SECONDS)
}

/// Counts one event at `now` (Unix seconds) for sessions idling out after
/// `idle`.
pub async fn record(
    store: &dyn Store,
    event: SessionEvent,
    now: i64,
    idle: Duration,
) -> Result<(), StoreError> {
    let key = format!("{}{}", event.prefix(), minute(now));
    store
        .incr(&key, idle.saturating_add(MARGIN))
        .await
        .map(|_| ())
}

/// The estimate at `now`: sessions started minus sessions ended in the
/// minutes of the last idle window (see the module's documentation).
pub async fn estimate(store: &dyn Store, now: i64, idle: Duration) -> Result<u64, StoreError> {
    let minutes = i64::try_from(idle.as_secs().div_ceil(60))
        .unwrap_or(i64::MAX)
        .max(1);
    let last = minute(now);
    let first = last.saturating_sub(minutes - 1);
    let mut keys = Vec::new();
    for event in [SessionEvent::Started, SessionEvent::Ended] {
        keys.extend((first..=last).map(|m| format!("{}{m}", event.prefix())));
    }
    let values = store.get_many(&keys).await?;
    let count = |values: &[Option<Vec<u8>>]| -> u64 {
        values
            .iter()
            .flatten()
            .filter_map(|bytes| std::str::from_utf8(bytes).ok()?.parse::<u64>().ok())
            .fold(0u64, u64::saturating_add)
    };
    let (started, ended) = values.split_at(values.len() / 2);
    Ok(count(started).saturating_sub(count(ended)))
}

/// Sets the gauge from [`estimate`] every `every`, for the life of the
/// runtime; a store failure leaves the last value (and is counted by the
/// metered store).
pub fn spawn(store: Arc<dyn Store>, idle: Duration, every: Duration) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        loop {
            interval.tick().await;
            let now = chrono::Utc::now().timestamp();
            if let Ok(count) = estimate(store.as_ref(), now, idle).await {
                ::metrics::gauge!(SESSIONS_ACTIVE).set(count as f64);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use sso_store::MemoryStore;

    const IDLE: Duration = Duration::from_secs(600);

    #[tokio::test]
    async fn counts_sessions_started_and_not_ended_within_the_idle_window() {
        let store = MemoryStore::new();
        let now = 1_800_000_000;
        assert_eq!(estimate(&store, now, IDLE).await.unwrap(), 0);
        for at in [now - 300, now - 60, now] {
            record(&store, SessionEvent::Started, at, IDLE)
                .await
                .unwrap();
        }
        assert_eq!(estimate(&store, now, IDLE).await.unwrap(), 3);
        record(&store, SessionEvent::Ended, now, IDLE)
            .await
            .unwrap();
        assert_eq!(estimate(&store, now, IDLE).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn sessions_started_before_the_window_are_no_longer_counted() {
        let store = MemoryStore::new();
        let now = 1_800_000_000;
        record(&store, SessionEvent::Started, now - 900, IDLE)
            .await
            .unwrap();
        record(&store, SessionEvent::Started, now - 30, IDLE)
            .await
            .unwrap();
        assert_eq!(estimate(&store, now, IDLE).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn more_ends_than_starts_in_the_window_is_zero_not_negative() {
        let store = MemoryStore::new();
        let now = 1_800_000_000;
        record(&store, SessionEvent::Ended, now, IDLE)
            .await
            .unwrap();
        assert_eq!(estimate(&store, now, IDLE).await.unwrap(), 0);
    }
}
