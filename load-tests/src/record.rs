//! What a run measured, kept in memory until the report is written: every
//! HTTP step a simulated browser took (who answered it, how long it took),
//! every login or visit a user attempted, and every failure by kind.
//!
//! The load generator records at the browser, so a step's time includes
//! the loopback network and the answering server's queueing: what a user
//! on a fast network would see. Samples are kept raw (8 bytes each) so
//! that any percentile of any window can be computed afterwards; a
//! 10-minute storm at 500 logins per second is about 40 MB.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Which server answered a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    /// The gateway under test.
    Gateway,
    /// A simulated IdP or service (`testbed/`).
    Testbed,
}

impl Side {
    /// Short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Side::Gateway => "gateway",
            Side::Testbed => "testbed",
        }
    }
}

/// One HTTP exchange.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// When it ended, in milliseconds since the run started.
    pub at_ms: u32,
    /// Index into [`Recorded::steps`].
    pub step: u16,
    /// How long it took, in microseconds (request sent to body read).
    pub micros: u32,
}

/// One user's visit: a first login (then resources), or a returning
/// user's access with the session it holds.
#[derive(Debug, Clone, Copy)]
pub struct Visit {
    /// When it ended, in milliseconds since the run started.
    pub at_ms: u32,
    /// Index of the scenario in the mix.
    pub scenario: u8,
    /// Whether the user got there in the end (retries included).
    pub ok: bool,
    /// Whether the visit included a login at an identity provider.
    pub login: bool,
    /// Attempts made (1 to 3).
    pub attempts: u8,
    /// From the first request to the landing page of the last attempt,
    /// retry pauses included (what the user waited), in microseconds.
    pub micros: u32,
    /// Resources opened after landing.
    pub accesses: u8,
}

/// One failed attempt.
#[derive(Debug, Clone, Copy)]
pub struct Failure {
    /// When, in milliseconds since the run started.
    pub at_ms: u32,
    /// Index into [`Recorded::failure_kinds`].
    pub kind: u16,
}

/// A named interval of the run (a storm's hold, a step of the step test).
#[derive(Debug, Clone)]
pub struct Mark {
    /// Name shown in the report.
    pub name: String,
    /// Start, milliseconds since the run started.
    pub start_ms: u32,
    /// End.
    pub end_ms: u32,
    /// The login rate aimed at, per second.
    pub target_rate: f64,
    /// Whether the thresholds judge this interval.
    pub judged: bool,
}

/// Everything recorded, once the run is over.
#[derive(Debug, Default, Clone)]
pub struct Recorded {
    /// Step names (`METHOD /path`) and who answers them.
    pub steps: Vec<(String, Side)>,
    /// Every exchange.
    pub samples: Vec<Sample>,
    /// Every visit.
    pub visits: Vec<Visit>,
    /// Failure kinds (`<status or cause> <step>`).
    pub failure_kinds: Vec<String>,
    /// Every failed attempt.
    pub failures: Vec<Failure>,
    /// Named intervals.
    pub marks: Vec<Mark>,
}

#[derive(Default)]
struct Inner {
    data: Recorded,
    step_index: HashMap<String, u16>,
    kind_index: HashMap<String, u16>,
}

/// The run's recorder, shared by every simulated user.
pub struct Recorder {
    start: Instant,
    inner: Mutex<Inner>,
}

fn intern(names: &mut HashMap<String, u16>, list_len: usize, name: &str) -> (u16, bool) {
    if let Some(index) = names.get(name) {
        return (*index, false);
    }
    let index = u16::try_from(list_len).unwrap_or(u16::MAX);
    names.insert(name.to_owned(), index);
    (index, true)
}

fn millis(elapsed: Duration) -> u32 {
    u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX)
}

/// Microseconds, saturating.
pub fn micros(elapsed: Duration) -> u32 {
    u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX)
}

impl Recorder {
    /// A recorder whose clock starts now.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Milliseconds since the run started.
    pub fn now_ms(&self) -> u32 {
        millis(self.start.elapsed())
    }

    /// Records one exchange of `step` answered by `side`.
    pub fn step(&self, step: &str, side: Side, took: Duration) {
        let at_ms = self.now_ms();
        let mut inner = self.lock();
        let len = inner.data.steps.len();
        let (index, new) = intern(&mut inner.step_index, len, step);
        if new {
            inner.data.steps.push((step.to_owned(), side));
        }
        inner.data.samples.push(Sample {
            at_ms,
            step: index,
            micros: micros(took),
        });
    }

    /// Records a failed attempt of this kind.
    pub fn failure(&self, kind: &str) {
        let at_ms = self.now_ms();
        let mut inner = self.lock();
        let len = inner.data.failure_kinds.len();
        let (index, new) = intern(&mut inner.kind_index, len, kind);
        if new {
            inner.data.failure_kinds.push(kind.to_owned());
        }
        inner.data.failures.push(Failure { at_ms, kind: index });
    }

    /// Records a visit (its `at_ms` is set here).
    pub fn visit(&self, mut visit: Visit) {
        visit.at_ms = self.now_ms();
        self.lock().data.visits.push(visit);
    }

    /// Records a named interval.
    pub fn mark(&self, mark: Mark) {
        self.lock().data.marks.push(mark);
    }

    /// A copy of everything recorded.
    pub fn snapshot(&self) -> Recorded {
        self.lock().data.clone()
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

/// The `q` quantile (0 to 1) of sorted values, nearest rank.
pub fn quantile(sorted: &[u32], q: f64) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let values: Vec<u32> = (1..=100).collect();
        assert_eq!(quantile(&values, 0.5), Some(50));
        assert_eq!(quantile(&values, 0.99), Some(99));
        assert_eq!(quantile(&values, 1.0), Some(100));
        assert_eq!(quantile(&values, 0.0), Some(1));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[7], 0.99), Some(7));
    }

    #[test]
    fn steps_and_failure_kinds_are_interned() {
        let recorder = Recorder::new();
        recorder.step("GET /login", Side::Gateway, Duration::from_micros(1500));
        recorder.step("POST /acs", Side::Testbed, Duration::from_micros(900));
        recorder.step("GET /login", Side::Gateway, Duration::from_micros(2500));
        recorder.failure("503 GET /login");
        recorder.failure("503 GET /login");
        let data = recorder.snapshot();
        assert_eq!(data.steps.len(), 2);
        assert_eq!(data.samples.len(), 3);
        assert_eq!(data.samples[2].step, 0);
        assert_eq!(data.samples[2].micros, 2500);
        assert_eq!(data.failure_kinds, ["503 GET /login"]);
        assert_eq!(data.failures.len(), 2);
    }
}
