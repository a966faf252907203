//! `[statistics]`: retention of the day hashes, the threshold below which a
//! figure is suppressed, the recorder's queue (see the
//! [module documentation](super)). Wrong values are reported with their
//! file, line and field.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::Settings;
use crate::config::{ConfigProblem, LoadedConfig};

/// Default retention: two school years and a summer (see the module
/// documentation of [`super`]).
pub const DEFAULT_RETENTION_DAYS: u32 = 800;
/// Default threshold: figures below 5 are suppressed.
pub const DEFAULT_MIN_COUNT: u32 = 5;
/// Longest retention accepted (ten years).
const MAX_RETENTION_DAYS: u32 = 3650;
/// Largest threshold accepted.
const MAX_MIN_COUNT: u32 = 100;
/// Largest queue accepted.
const MAX_QUEUE: u32 = 1_000_000;
/// Longest period of one report (days).
const MAX_REPORT_DAYS: i64 = 400;

/// The `[statistics]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatisticsConfig {
    /// Days each day hash is kept after its last write.
    pub retention_days: Spanned<u32>,
    /// Figures below this are shown as suppressed (`< min_count`).
    pub min_count: Spanned<u32>,
    /// Increments waiting to be written at most; beyond, they are lost and
    /// counted.
    pub queue_capacity: Spanned<u32>,
}

impl Default for StatisticsConfig {
    fn default() -> Self {
        Self {
            retention_days: Spanned::new(0..0, DEFAULT_RETENTION_DAYS),
            min_count: Spanned::new(0..0, DEFAULT_MIN_COUNT),
            queue_capacity: Spanned::new(0..0, 10_000),
        }
    }
}

impl StatisticsConfig {
    /// The settings the figures use.
    pub fn settings(&self) -> Settings {
        Settings {
            retention: Duration::from_secs(u64::from(*self.retention_days.get_ref()) * 86_400),
            min_count: u64::from(*self.min_count.get_ref()),
            max_days: MAX_REPORT_DAYS,
        }
    }
}

/// Checks `[statistics]`; each problem with its file, line and field.
pub fn check(loaded: &LoadedConfig) -> Vec<ConfigProblem> {
    let config = &loaded.config.statistics;
    let mut problems = Vec::new();
    for (value, field, max) in [
        (
            &config.retention_days,
            "statistics.retention_days",
            MAX_RETENTION_DAYS,
        ),
        (&config.min_count, "statistics.min_count", MAX_MIN_COUNT),
        (
            &config.queue_capacity,
            "statistics.queue_capacity",
            MAX_QUEUE,
        ),
    ] {
        let got = *value.get_ref();
        if !(1..=max).contains(&got) {
            let message = format!("{got} is outside 1 to {max}");
            problems.push(loaded.problem_at(value, field, message));
        }
    }
    problems
}
