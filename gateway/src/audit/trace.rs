//! One connection trace (domain reference §5, "connection logs"): one JSON
//! line per login step or downstream access, with the fields the law asks
//! a connection log to keep (time, upstream IdP, service, outcome, who,
//! IP). The person appears only as a pseudonymous reference
//! ([`crate::events::person_reference`]); the IP is kept in full, this log
//! being the one place where it must be.
//!
//! Field names (the JSON lines are read by operators and collectors):
//! `time` (RFC 3339, UTC), `event` (`login` | `access`), `idp`, `service`,
//! `protocol`, `outcome`, `person`, `academie`, `uais`, `ip`; absent
//! optional fields are left out.

use std::net::IpAddr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sp_registry::IdentifierKeys;

use crate::events::{AccessEvent, LoginEvent, Who, person_reference};

/// What a trace records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceEvent {
    /// An upstream login step that ended.
    Login,
    /// A downstream access that was decided.
    Access,
}

/// One connection trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// When (UTC, RFC 3339).
    #[serde(with = "rfc3339")]
    pub time: DateTime<Utc>,
    /// Login or access.
    pub event: TraceEvent,
    /// The upstream IdP's configured id.
    pub idp: String,
    /// The downstream service's registry id (accesses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The downstream protocol (accesses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// How it ended (`success`, `replay`, `refused_subscription`...).
    pub outcome: String,
    /// The person's pseudonymous reference; absent for a failed login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    /// The person's académie (counts per scope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub academie: Option<String>,
    /// The person's schools (UAI).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uais: Vec<String>,
    /// The client's address, in full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
}

/// `time` as RFC 3339 UTC with a `Z`, to the millisecond.
mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(time: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&time.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|time| time.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

impl Trace {
    /// The trace of a login step; the person only when it succeeded.
    pub fn of_login(keys: &IdentifierKeys, event: &LoginEvent) -> Self {
        let who = event.who.as_ref();
        Self {
            time: event.at,
            event: TraceEvent::Login,
            idp: event.idp.clone(),
            service: None,
            protocol: None,
            outcome: event.outcome.as_str().to_owned(),
            person: who.map(|who| reference(keys, who)),
            academie: who.and_then(|who| who.academie.clone()),
            uais: who.map(|who| who.uais.clone()).unwrap_or_default(),
            ip: event.ip,
        }
    }

    /// The trace of a downstream access.
    pub fn of_access(keys: &IdentifierKeys, event: &AccessEvent) -> Self {
        Self {
            time: event.at,
            event: TraceEvent::Access,
            idp: event.who.idp.clone(),
            service: Some(event.service.clone()),
            protocol: Some(event.protocol.as_str().to_owned()),
            outcome: event.outcome.as_str().to_owned(),
            person: Some(reference(keys, &event.who)),
            academie: event.who.academie.clone(),
            uais: event.who.uais.clone(),
            ip: event.ip,
        }
    }

    /// The JSON line (without its newline).
    pub fn to_line(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// The UTC time as written.
    pub fn time_text(&self) -> String {
        self.time.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

fn reference(keys: &IdentifierKeys, who: &Who) -> String {
    person_reference(keys, &who.person_key())
}
