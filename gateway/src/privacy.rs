//! Rights requests (domain reference §5, GDPR access and erasure; issue 8):
//! everything the gateway holds about one person ([`export`]), and ending
//! and removing what may be removed ([`forget`]), saying what is kept and
//! why.
//!
//! What the gateway holds about a person: the directory record (imported
//! daily from the académie's AAF: the académie is the source), the live SSO
//! sessions (found through the index of `crate::audit::index`, written at
//! each login by [`index_session`]), the usage-charter acceptance
//! (`charter:{<reference>}`, JSON `{"version", "accepted_at"}`), and the
//! connection traces in retention. The statistics hold nothing personal.
//!
//! The notes of the reports are in French: they are what the person is
//! answered.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sp_registry::IdentifierKeys;
use sso_directory::store::{Directory, DirectoryError};
use sso_store::{Store, StoreError};

use crate::audit::index;
use crate::audit::purge::{first_day_kept, kept_until};
use crate::audit::search::{SearchError, search};
use crate::audit::{AuditSettings, Trace};
use crate::events::{Who, person_references};
use crate::session::{Session, Sessions};
use crate::state::AppState;

/// The person a request is about, as they identify themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Person {
    /// A person of the AAF directory: académie code and AAF id.
    Directory {
        /// Académie code (`AC-RENNES`).
        academie: String,
        /// AAF id (jointure).
        id: String,
    },
    /// A person known only to an upstream IdP (not joined to the
    /// directory): the IdP's id and the subject it gave.
    Upstream {
        /// The IdP's configured id.
        idp: String,
        /// Its subject.
        subject: String,
    },
}

impl Person {
    /// The person key of [`Who::person_key`].
    pub fn key(&self) -> String {
        match self {
            Self::Directory { academie, id } => format!("aaf:{academie}|{id}"),
            Self::Upstream { idp, subject } => format!("idp:{idp}|{subject}"),
        }
    }
}

/// Why a request could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The directory failed.
    #[error("directory: {0}")]
    Directory(#[from] DirectoryError),
    /// The traces could not be read.
    #[error("traces: {0}")]
    Traces(#[from] SearchError),
    /// A stored charter acceptance is not JSON.
    #[error("the charter acceptance stored under {key} is not JSON: {reason}")]
    Charter {
        /// Its key.
        key: String,
        /// Why.
        reason: String,
    },
}

/// What a request works on.
pub struct Holdings<'a> {
    /// The shared store.
    pub store: &'a dyn Store,
    /// The directory in that store.
    pub directory: &'a Directory,
    /// The identifier secrets (current and previous).
    pub keys: &'a IdentifierKeys,
    /// Session operations.
    pub sessions: Sessions<'a>,
    /// The trace settings; None without `[audit]`.
    pub audit: Option<&'a AuditSettings>,
    /// Today (UTC), the end of the traces' period.
    pub today: NaiveDate,
}

/// One live SSO session, as exported (never its id: it is the cookie).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionSummary {
    /// Login time.
    pub created_at: DateTime<Utc>,
    /// The upstream IdP.
    pub idp: String,
    /// The services reached in it.
    pub services: Vec<String>,
}

/// The usage-charter acceptance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Consents {
    /// As stored (`{"version", "accepted_at"}`), None when never accepted.
    pub charter: Option<serde_json::Value>,
}

/// The traces in retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TracesHeld {
    /// First day searched (start of the retention).
    pub from: Option<NaiveDate>,
    /// Last day searched (today).
    pub to: NaiveDate,
    /// The traces.
    pub traces: Vec<Trace>,
    /// What is said about them.
    pub note: String,
}

/// Everything the gateway holds about a person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Export {
    /// The person key the request was answered for.
    pub person: String,
    /// The directory record; None when not in the directory.
    pub directory_record: Option<serde_json::Value>,
    /// The live SSO sessions.
    pub sessions: Vec<SessionSummary>,
    /// Consents.
    pub consents: Consents,
    /// Connection traces.
    pub traces: TracesHeld,
    /// What the statistics hold.
    pub statistics: String,
}

/// What is kept after [`forget`], and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    /// What.
    pub what: String,
    /// Until when, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
    /// Why.
    pub why: String,
}

/// What [`forget`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Forgotten {
    /// The person key.
    pub person: String,
    /// Live sessions ended.
    pub sessions_ended: usize,
    /// Services reached in those sessions: their own sessions were not
    /// told, they end at the services' own timeouts.
    pub services_not_notified: Vec<String>,
    /// Whether a charter acceptance was removed.
    pub charter_removed: bool,
    /// What is removed, in words.
    pub removed: Vec<String>,
    /// What is kept.
    pub kept: Vec<Kept>,
}

const STATISTICS: &str = "Les statistiques d'usage ne contiennent que des compteurs agrégés (par jour, établissement, profil, service) : aucun identifiant, nom ni adresse IP. Elles ne contiennent rien qui concerne cette personne en particulier.";

/// Adds a new session to its person's index (best effort: a failure is
/// logged, the login goes on; the session then cannot be found by a rights
/// request, only by its absolute end).
pub async fn index_session(state: &AppState, session_id: &str, session: &Session) {
    let person_key = Who::of(&session.identity).person_key();
    let ttl = Duration::from_secs(state.config.session.absolute_timeout_seconds);
    if let Err(error) = index::add(
        state.store.as_ref(),
        &state.identifier_keys,
        &person_key,
        session_id,
        ttl,
    )
    .await
    {
        tracing::warn!(%error, "session not added to the person's session index");
    }
}

/// The charter keys of a person, under every identifier secret.
fn charter_keys(keys: &IdentifierKeys, person_key: &str) -> Vec<String> {
    person_references(keys, person_key)
        .into_iter()
        .map(|reference| format!("charter:{{{reference}}}"))
        .collect()
}

async fn live_sessions(
    holdings: &Holdings<'_>,
    person_key: &str,
) -> Result<Vec<(String, Session)>, PrivacyError> {
    let now = Utc::now().timestamp();
    let mut live = Vec::new();
    for id in index::sessions_of(holdings.store, holdings.keys, person_key).await? {
        if let Some(session) = holdings.sessions.peek(&id, now).await? {
            live.push((id, session));
        }
    }
    Ok(live)
}

fn traces_note(traces: &[Trace], keep: u32) -> String {
    match traces.iter().map(|t| t.time.date_naive()).max() {
        Some(last) => format!(
            "Traces de connexion conservées par obligation légale (journaux de connexion : année en cours et année précédente) ; la plus récente est supprimée au plus tard le {}.",
            kept_until(last, keep).map_or_else(|| "?".to_owned(), |d| d.to_string())
        ),
        None => "Aucune trace de connexion conservée pour cette personne.".to_owned(),
    }
}

async fn traces_of(holdings: &Holdings<'_>, person_key: &str) -> Result<TracesHeld, PrivacyError> {
    let Some(audit) = holdings.audit else {
        return Ok(TracesHeld {
            from: None,
            to: holdings.today,
            traces: Vec::new(),
            note: "Cette passerelle n'enregistre pas de traces de connexion ([audit] absent)."
                .to_owned(),
        });
    };
    let from = first_day_kept(holdings.today, audit.keep_previous_years);
    let traces = match from {
        Some(from) => {
            search(
                &audit.dir,
                from,
                holdings.today,
                &person_references(holdings.keys, person_key),
            )?
            .0
        }
        None => Vec::new(),
    };
    Ok(TracesHeld {
        from,
        to: holdings.today,
        note: traces_note(&traces, audit.keep_previous_years),
        traces,
    })
}

/// Everything the gateway holds about `person`.
pub async fn export(holdings: &Holdings<'_>, person: &Person) -> Result<Export, PrivacyError> {
    let person_key = person.key();
    let directory_record = match person {
        Person::Directory { academie, id } => holdings
            .directory
            .person(academie, id)
            .await?
            .and_then(|record| serde_json::to_value(record).ok()),
        Person::Upstream { .. } => None,
    };
    let mut sessions = Vec::new();
    for (id, session) in live_sessions(holdings, &person_key).await? {
        let mut services: Vec<String> = holdings
            .sessions
            .participants(&id)
            .await?
            .into_iter()
            .map(|participant| participant.service_id)
            .collect();
        services.sort();
        services.dedup();
        sessions.push(SessionSummary {
            created_at: DateTime::from_timestamp(session.created_at, 0).unwrap_or_default(),
            idp: session.identity.idp.clone(),
            services,
        });
    }
    sessions.sort_by_key(|session| session.created_at);
    let mut charter = None;
    for key in charter_keys(holdings.keys, &person_key) {
        if let Some(bytes) = holdings.store.get(&key).await? {
            let value = serde_json::from_slice(&bytes).map_err(|err| PrivacyError::Charter {
                key: key.clone(),
                reason: err.to_string(),
            })?;
            charter = Some(value);
            break;
        }
    }
    Ok(Export {
        person: person_key.clone(),
        directory_record,
        sessions,
        consents: Consents { charter },
        traces: traces_of(holdings, &person_key).await?,
        statistics: STATISTICS.to_owned(),
    })
}

/// Ends `person`'s sessions and removes what may be removed; says what is
/// kept and why.
pub async fn forget(holdings: &Holdings<'_>, person: &Person) -> Result<Forgotten, PrivacyError> {
    let person_key = person.key();
    let live = live_sessions(holdings, &person_key).await?;
    let mut services = Vec::new();
    for (id, _) in &live {
        services.extend(
            holdings
                .sessions
                .delete(id)
                .await?
                .into_iter()
                .map(|participant| participant.service_id),
        );
    }
    services.sort();
    services.dedup();
    index::forget(holdings.store, holdings.keys, &person_key).await?;
    let mut charter_removed = false;
    for key in charter_keys(holdings.keys, &person_key) {
        charter_removed |= holdings.store.take(&key).await?.is_some();
    }
    let mut removed = vec![format!(
        "{} session(s) SSO en cours, fermée(s) ; l'index des sessions de la personne.",
        live.len()
    )];
    if charter_removed {
        removed.push(
            "L'acceptation de la charte d'usage : elle sera demandée de nouveau à la prochaine connexion."
                .to_owned(),
        );
    }
    let traces = traces_of(holdings, &person_key).await?;
    let keep = holdings.audit.map_or(0, |audit| audit.keep_previous_years);
    let mut kept = Vec::new();
    if matches!(person, Person::Directory { .. }) {
        kept.push(Kept {
            what: "directory_record".to_owned(),
            until: None,
            why: "La fiche de l'annuaire vient de l'annuaire académique (AAF) de l'académie, réimporté chaque jour : la demande de rectification ou d'effacement est à adresser à l'académie.".to_owned(),
        });
    }
    if !traces.traces.is_empty() {
        kept.push(Kept {
            what: "traces".to_owned(),
            until: traces
                .traces
                .iter()
                .map(|trace| trace.time.date_naive())
                .max()
                .and_then(|last| kept_until(last, keep)),
            why: "Obligation légale de conservation des journaux de connexion (année en cours et année précédente) ; suppression automatique à la fin de la conservation.".to_owned(),
        });
    }
    kept.push(Kept {
        what: "statistics".to_owned(),
        until: None,
        why: STATISTICS.to_owned(),
    });
    Ok(Forgotten {
        person: person_key,
        sessions_ended: live.len(),
        services_not_notified: services,
        charter_removed,
        removed,
        kept,
    })
}
