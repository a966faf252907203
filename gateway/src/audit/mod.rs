//! The audit trail (domain reference §5, "connection logs"; issue 8): the
//! connection traces of every login step and downstream access, written to
//! daily JSON lines files (and optionally a collector), never to Redis
//! only; their retention (the current and the previous civil year by
//! default); the operator's search for one person and count of the people
//! of a scope; and the index of a person's sessions that the rights
//! requests (`crate::privacy`) use.
//!
//! * [`trace`]: the record and its field names;
//! * [`trail`]: the non-blocking writer ([`AuditTrail`], `AppState.audit`);
//! * [`purge`]: the retention;
//! * [`search`]: reading the files (search, count);
//! * [`index`]: the set `person:{<reference>}:sessions`;
//! * [`settings`]: the table `[audit]`.

pub mod index;
pub mod purge;
pub mod search;
pub mod settings;
pub mod trace;
pub mod trail;

#[cfg(test)]
mod tests;

pub use settings::{AuditConfig, AuditSettings, check, missing_warning};
pub use trace::{Trace, TraceEvent};
pub use trail::AuditTrail;

use crate::config::LoadedConfig;

/// The trail `serve` runs: with `[audit]`, the writer and the daily purge
/// (once now, then every day); without it, a disabled trail and a warning
/// in the log. Call after the configuration was checked.
pub fn start(loaded: &LoadedConfig, http: reqwest::Client) -> AuditTrail {
    match settings::settings(loaded) {
        Ok(Some(settings)) => {
            purge::spawn_daily(&settings);
            AuditTrail::start(&settings, http)
        }
        Ok(None) => {
            if let Some(warning) = missing_warning(loaded) {
                tracing::warn!("{warning}");
            }
            AuditTrail::disabled()
        }
        Err(problems) => {
            for problem in problems {
                tracing::error!(%problem, "audit trail disabled");
            }
            AuditTrail::disabled()
        }
    }
}
