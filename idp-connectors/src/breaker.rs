//! A circuit breaker per upstream (architecture "High availability": one
//! slow or dead upstream IdP hurts only its own users).
//!
//! The breaker counts *consecutive* failures. It was chosen over a failure
//! ratio in a sliding window because the upstream traffic of one replica is
//! bursty (nothing at night, a storm at 8h00): a ratio needs a minimum volume
//! to mean anything, while N failures in a row with no success in between
//! is a clear signal at any volume, cheap to keep (one counter under a
//! mutex) and deterministic to test.
//!
//! - **Closed**: every call goes through; a success resets the count; the
//!   `failure_threshold`-th consecutive failure opens the breaker.
//! - **Open**: no call goes through for `cooldown`.
//! - **Half-open** (the cool-down has elapsed): exactly one trial call goes
//!   through; its success closes the breaker, its failure opens it again for
//!   a new cool-down. A trial whose caller gave up without an outcome (its
//!   future dropped) lets the next caller try.
//!
//! The breaker lives in the process: each replica judges the upstream from
//! its own calls. Its state is published as the gauge
//! `sso_upstream_breaker_state{upstream}` (0 closed, 1 half-open, 2 open) at
//! every transition. Time comes from a [`Clock`], injectable for tests.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Where the breaker reads the time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The monotonic clock of the operating system.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// The state of a breaker, as published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// The cool-down has elapsed: one trial call may go through.
    HalfOpen,
    /// No call goes through until the cool-down ends.
    Open,
}

impl BreakerState {
    /// The value of the gauge `sso_upstream_breaker_state`.
    pub fn gauge_value(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::HalfOpen => 1.0,
            Self::Open => 2.0,
        }
    }

    /// A name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::HalfOpen => "half-open",
            Self::Open => "open",
        }
    }
}

/// When a breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failures that open the breaker (at least 1).
    pub failure_threshold: u32,
    /// How long the breaker stays open before a trial call.
    pub cooldown: Duration,
}

#[derive(Debug, Clone, Copy)]
enum Inner {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { trial_out: bool },
}

/// The call was not let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker open (next trial in {retry_after:?})")]
pub struct Rejected {
    /// How long until a trial call may go through (zero while a trial is
    /// already in flight).
    pub retry_after: Duration,
}

/// A circuit breaker (see the module documentation). Thread-safe; a mutex
/// held for a few instructions per call.
#[derive(Debug)]
pub struct CircuitBreaker {
    name: String,
    settings: BreakerSettings,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    /// A closed breaker named `name` (the `upstream` label of its gauge)
    /// reading the system clock.
    pub fn new(name: impl Into<String>, settings: BreakerSettings) -> Self {
        Self::with_clock(name, settings, Arc::new(SystemClock))
    }

    /// A closed breaker reading `clock`.
    pub fn with_clock(
        name: impl Into<String>,
        settings: BreakerSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let breaker = Self {
            name: name.into(),
            settings: BreakerSettings {
                failure_threshold: settings.failure_threshold.max(1),
                cooldown: settings.cooldown,
            },
            clock,
            inner: Mutex::new(Inner::Closed { failures: 0 }),
        };
        breaker.publish(BreakerState::Closed);
        breaker
    }

    /// The name given at construction.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The settings in force.
    pub fn settings(&self) -> BreakerSettings {
        self.settings
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish(&self, state: BreakerState) {
        metrics::gauge!("sso_upstream_breaker_state", "upstream" => self.name.clone())
            .set(state.gauge_value());
    }

    /// Moves an open breaker whose cool-down has elapsed to half-open.
    fn settle(&self, inner: &mut Inner, now: Instant) {
        if let Inner::Open { until } = *inner
            && now >= until
        {
            *inner = Inner::HalfOpen { trial_out: false };
            self.publish(BreakerState::HalfOpen);
            tracing::info!(upstream = %self.name, "circuit breaker half-open: one trial call allowed");
        }
    }

    /// The current state (an open breaker whose cool-down has elapsed is
    /// half-open).
    pub fn state(&self) -> BreakerState {
        let mut inner = self.lock();
        self.settle(&mut inner, self.clock.now());
        match *inner {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::HalfOpen { .. } => BreakerState::HalfOpen,
            Inner::Open { .. } => BreakerState::Open,
        }
    }

    /// Whether a call would be let through now (without taking the trial).
    pub fn admits(&self) -> bool {
        self.check().is_ok()
    }

    /// `Ok` when a call would be let through now; else how long until the
    /// next trial.
    pub fn check(&self) -> Result<(), Rejected> {
        let now = self.clock.now();
        let mut inner = self.lock();
        self.settle(&mut inner, now);
        match *inner {
            Inner::Closed { .. } | Inner::HalfOpen { trial_out: false } => Ok(()),
            Inner::HalfOpen { trial_out: true } => Err(Rejected {
                retry_after: Duration::ZERO,
            }),
            Inner::Open { until } => Err(Rejected {
                retry_after: until.saturating_duration_since(now),
            }),
        }
    }

    /// Asks to make one call. The [`Permit`] must be given the call's
    /// outcome ([`Permit::succeeded`], [`Permit::failed`]).
    pub fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        let now = self.clock.now();
        let mut inner = self.lock();
        self.settle(&mut inner, now);
        match *inner {
            Inner::Closed { .. } => Ok(Permit {
                breaker: self,
                trial: false,
                recorded: false,
            }),
            Inner::HalfOpen { trial_out: false } => {
                *inner = Inner::HalfOpen { trial_out: true };
                Ok(Permit {
                    breaker: self,
                    trial: true,
                    recorded: false,
                })
            }
            Inner::HalfOpen { trial_out: true } => Err(Rejected {
                retry_after: Duration::ZERO,
            }),
            Inner::Open { until } => Err(Rejected {
                retry_after: until.saturating_duration_since(now),
            }),
        }
    }

    fn open(&self, inner: &mut Inner, now: Instant) {
        *inner = Inner::Open {
            until: now + self.settings.cooldown,
        };
        self.publish(BreakerState::Open);
        tracing::warn!(
            upstream = %self.name,
            cooldown_seconds = self.settings.cooldown.as_secs(),
            "circuit breaker open: calls refused until the cool-down ends"
        );
    }

    fn record(&self, trial: bool, success: bool) {
        let now = self.clock.now();
        let mut inner = self.lock();
        match (*inner, trial, success) {
            (Inner::HalfOpen { .. }, true, true) => {
                *inner = Inner::Closed { failures: 0 };
                self.publish(BreakerState::Closed);
                tracing::info!(upstream = %self.name, "circuit breaker closed: the trial call succeeded");
            }
            (Inner::HalfOpen { .. }, true, false) => self.open(&mut inner, now),
            (Inner::Closed { .. }, false, true) => *inner = Inner::Closed { failures: 0 },
            (Inner::Closed { failures }, false, false) => {
                let failures = failures.saturating_add(1);
                if failures >= self.settings.failure_threshold {
                    self.open(&mut inner, now);
                } else {
                    *inner = Inner::Closed { failures };
                }
            }
            // Late outcomes of calls let through before the state changed
            // say nothing about the state now.
            _ => {}
        }
    }

    fn release_trial(&self) {
        let mut inner = self.lock();
        if let Inner::HalfOpen { trial_out: true } = *inner {
            *inner = Inner::HalfOpen { trial_out: false };
        }
    }
}

/// Leave to make one call; tell it how the call went.
#[derive(Debug)]
#[must_use = "a permit must be given the call's outcome"]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    trial: bool,
    recorded: bool,
}

impl Permit<'_> {
    /// Whether this is the one trial call of a half-open breaker.
    pub fn is_trial(&self) -> bool {
        self.trial
    }

    /// The upstream answered (even with a refusal that proves it alive).
    pub fn succeeded(mut self) {
        self.recorded = true;
        self.breaker.record(self.trial, true);
    }

    /// The call timed out, could not connect, or got a server error.
    pub fn failed(mut self) {
        self.recorded = true;
        self.breaker.record(self.trial, false);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.recorded && self.trial {
            self.breaker.release_trial();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock moved by hand.
    #[derive(Debug)]
    struct ManualClock {
        start: Instant,
        offset: Mutex<Duration>,
    }

    impl ManualClock {
        fn new() -> Arc<Self> {
            Arc::new(Self {
                start: Instant::now(),
                offset: Mutex::new(Duration::ZERO),
            })
        }

        fn advance(&self, by: Duration) {
            *self.offset.lock().unwrap() += by;
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Instant {
            self.start + *self.offset.lock().unwrap()
        }
    }

    const COOLDOWN: Duration = Duration::from_secs(30);

    fn breaker(threshold: u32) -> (CircuitBreaker, Arc<ManualClock>) {
        let clock = ManualClock::new();
        let breaker = CircuitBreaker::with_clock(
            "test",
            BreakerSettings {
                failure_threshold: threshold,
                cooldown: COOLDOWN,
            },
            Arc::clone(&clock) as Arc<dyn Clock>,
        );
        (breaker, clock)
    }

    fn fail(breaker: &CircuitBreaker) {
        breaker.try_acquire().unwrap().failed();
    }

    fn succeed(breaker: &CircuitBreaker) {
        breaker.try_acquire().unwrap().succeeded();
    }

    #[test]
    fn closed_lets_calls_through_until_the_threshold_of_consecutive_failures() {
        let (breaker, _) = breaker(3);
        assert_eq!(breaker.state(), BreakerState::Closed);
        fail(&breaker);
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Closed, "2 of 3 failures");
        assert!(breaker.admits());
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(!breaker.admits());
        let rejected = breaker.try_acquire().unwrap_err();
        assert_eq!(rejected.retry_after, COOLDOWN);
    }

    #[test]
    fn a_success_resets_the_count_of_consecutive_failures() {
        let (breaker, _) = breaker(3);
        fail(&breaker);
        fail(&breaker);
        succeed(&breaker);
        fail(&breaker);
        fail(&breaker);
        assert_eq!(
            breaker.state(),
            BreakerState::Closed,
            "failures separated by a success do not add up"
        );
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Open, "three in a row do");
    }

    #[test]
    fn open_refuses_until_the_cooldown_then_lets_exactly_one_trial_through() {
        let (breaker, clock) = breaker(1);
        fail(&breaker);
        clock.advance(COOLDOWN - Duration::from_secs(1));
        let rejected = breaker.try_acquire().unwrap_err();
        assert_eq!(rejected.retry_after, Duration::from_secs(1));
        assert_eq!(breaker.state(), BreakerState::Open);

        clock.advance(Duration::from_secs(1));
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert!(breaker.admits());
        let trial = breaker.try_acquire().unwrap();
        assert!(trial.is_trial());
        assert!(!breaker.admits(), "one trial at a time");
        assert_eq!(
            breaker.try_acquire().unwrap_err().retry_after,
            Duration::ZERO
        );
        trial.succeeded();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert!(!breaker.try_acquire().unwrap().is_trial());
    }

    #[test]
    fn a_failed_trial_reopens_for_a_new_cooldown() {
        let (breaker, clock) = breaker(2);
        fail(&breaker);
        fail(&breaker);
        clock.advance(COOLDOWN);
        let trial = breaker.try_acquire().unwrap();
        assert!(trial.is_trial());
        trial.failed();
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(breaker.try_acquire().unwrap_err().retry_after, COOLDOWN);
        clock.advance(COOLDOWN);
        assert!(breaker.try_acquire().unwrap().is_trial());
    }

    #[test]
    fn an_abandoned_trial_lets_the_next_caller_try() {
        let (breaker, clock) = breaker(1);
        fail(&breaker);
        clock.advance(COOLDOWN);
        drop(breaker.try_acquire().unwrap());
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        let trial = breaker.try_acquire().unwrap();
        assert!(trial.is_trial());
        trial.succeeded();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn late_outcomes_of_calls_started_while_closed_do_not_change_an_open_breaker() {
        let (breaker, clock) = breaker(1);
        let slow = breaker.try_acquire().unwrap();
        fail(&breaker);
        slow.succeeded();
        assert_eq!(
            breaker.state(),
            BreakerState::Open,
            "a late success is ignored"
        );
        clock.advance(COOLDOWN);
        let late = breaker.try_acquire().unwrap();
        let stale_failure = Permit {
            breaker: &breaker,
            trial: false,
            recorded: false,
        };
        stale_failure.failed();
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        late.succeeded();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn a_zero_threshold_is_read_as_one() {
        let (breaker, _) = breaker(0);
        assert!(breaker.admits());
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Open);
    }
}
