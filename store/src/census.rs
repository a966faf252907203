//! How many replicas a primary has right now, for the `WAIT` of one-time writes
//! (issue 7: "`WAIT` for one replica when replicas exist").
//!
//! A [`Census`] caches a count (or, in Cluster mode, a count per slot range) for
//! [`CENSUS_TTL`], so that a one-time write costs no extra round trip most of
//! the time; [`WarnLimiter`] keeps the "fewer replicas than required" warning
//! to one line per [`WARN_INTERVAL`].

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a replica count is trusted.
pub(crate) const CENSUS_TTL: Duration = Duration::from_secs(2);
/// Shortest interval between two "fewer replicas" warnings.
const WARN_INTERVAL: Duration = Duration::from_secs(30);

/// A value refreshed at most every [`CENSUS_TTL`].
pub(crate) struct Census<T> {
    state: Mutex<Option<(Instant, T)>>,
}

impl<T: Clone> Census<T> {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(None),
        }
    }

    /// The cached value while it is fresh.
    pub(crate) fn fresh(&self) -> Option<T> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match &*state {
            Some((at, value)) if at.elapsed() < CENSUS_TTL => Some(value.clone()),
            _ => None,
        }
    }

    /// The cached value however old it is.
    pub(crate) fn last(&self) -> Option<T> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.as_ref().map(|(_, value)| value.clone())
    }

    pub(crate) fn store(&self, value: T) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        *state = Some((Instant::now(), value));
    }
}

/// Lets a warning through at most once per [`WARN_INTERVAL`].
pub(crate) struct WarnLimiter {
    last: Mutex<Option<Instant>>,
}

impl WarnLimiter {
    pub(crate) fn new() -> Self {
        Self {
            last: Mutex::new(None),
        }
    }

    /// True when the caller may log now.
    pub(crate) fn allow(&self) -> bool {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        match *last {
            Some(at) if at.elapsed() < WARN_INTERVAL => false,
            _ => {
                *last = Some(Instant::now());
                true
            }
        }
    }
}

/// Replicas in state `online` in the text of `INFO replication`.
pub(crate) fn online_replicas(info: &str) -> u32 {
    let count = info
        .lines()
        .filter(|line| {
            line.strip_prefix("slave")
                .and_then(|rest| rest.split_once(':'))
                .is_some_and(|(index, fields)| {
                    !index.is_empty()
                        && index.bytes().all(|b| b.is_ascii_digit())
                        && fields.split(',').any(|field| field == "state=online")
                })
        })
        .count();
    u32::try_from(count).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_online_replicas_count() {
        let info = "# Replication\r\nrole:master\r\nconnected_slaves:3\r\n\
            slave0:ip=127.0.0.1,port=7001,state=online,offset=42,lag=0\r\n\
            slave1:ip=127.0.0.1,port=7002,state=wait_bgsave,offset=0,lag=0\r\n\
            slave2:ip=127.0.0.1,port=7003,state=online,offset=42,lag=1\r\n\
            slave_read_repl_offset:42\r\nmaster_repl_offset:42\r\n";
        assert_eq!(online_replicas(info), 2);
        assert_eq!(online_replicas("role:master\r\nconnected_slaves:0\r\n"), 0);
    }

    #[test]
    fn a_census_is_fresh_then_only_last() {
        let census = Census::new();
        assert_eq!(census.fresh(), None);
        census.store(1_u32);
        assert_eq!(census.fresh(), Some(1));
        assert_eq!(census.last(), Some(1));
    }

    #[test]
    fn warnings_are_rate_limited() {
        let limiter = WarnLimiter::new();
        assert!(limiter.allow());
        assert!(!limiter.allow());
    }
}
