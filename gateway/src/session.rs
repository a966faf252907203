//! SSO sessions and pending login flows, kept in the shared store so that any
//! replica serves any step (architecture "State").
//!
//! * Session `session:{<id>}` (the braces are a Redis Cluster hash tag: a
//!   session and its participants share a slot): the canonical identity, the upstream references
//!   needed to log out there, creation and activity times. Its store TTL is
//!   the idle timeout, refreshed on use, capped by the absolute timeout.
//!   Participants (services that received an assertion) are a set
//!   `session:{<id>}:sp` with the same TTL, appended atomically.
//! * Service link `session:svc:<service>:<SHA-256 of the identifier>`: the
//!   session of the user an ENT knows by that identifier (the NameID the
//!   gateway sent it), written at each login to an ENT that may call the
//!   médiacentre API, kept until the session's absolute end.
//! * Flow `flow:<id>`: a downstream request waiting for a login, bound to the
//!   browser that made it (a random `sso_browser` cookie), TTL 10 minutes.
//! * Upstream request `upreq:<request id>`: the AuthnRequest sent to an IdP,
//!   consumed once (GETDEL) by the ACS.
//! * OpenID Connect request `oidcreq:<SHA-256 of state>`: the pending
//!   authentication request sent to an OpenID provider (`state`, `nonce`,
//!   PKCE verifier), with its flow and browser, consumed once (GETDEL) by the
//!   callback; TTL of a flow.
//! * Pending choice `choice:<id>`: a validated login waiting for the user to
//!   pick an académie, bound to the browser, consumed once.
//! * Counters `stats:sessions:{start,end}:<minute>`: sessions created and
//!   ended, for the active sessions estimate (`crate::observe::sessions`).
//!
//! Each flow operation records the flow's reference on the request's log
//! span (`crate::observe::record_flow`), never the flow id.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sso_core::Identity;
use sso_store::{Store, StoreError, get_json, put_json, take_json};

use crate::observe::sessions::{self as sessions_estimate, SessionEvent};

/// An SSO session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The person.
    pub identity: Identity,
    /// Login time (Unix seconds).
    pub created_at: i64,
    /// The upstream NameID value, for logout at the IdP.
    pub upstream_name_id: Option<String>,
    /// The upstream NameID format.
    pub upstream_name_id_format: Option<String>,
    /// The upstream session index.
    pub upstream_session_index: Option<String>,
    /// The ID token of an OpenID Connect login, the `id_token_hint` of the
    /// logout at the provider.
    #[serde(default)]
    pub upstream_id_token: Option<String>,
}

/// A service that received an assertion in a session, to be told at logout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// Registry id of the service.
    pub service_id: String,
    /// NameID value sent.
    pub name_id: String,
    /// NameID format sent.
    pub name_id_format: String,
    /// SessionIndex sent (the service ticket for CAS).
    pub session_index: String,
    /// The protocol it was reached through.
    #[serde(default)]
    pub via: Via,
}

/// The protocol through which a participant was reached, and what its
/// logout needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "lowercase")]
pub enum Via {
    /// SAML 2.0: a LogoutRequest to its SingleLogoutService.
    #[default]
    Saml,
    /// CAS 3.0: a back-channel POST naming the ticket.
    Cas {
        /// The service URL the ticket was issued for.
        service_url: String,
    },
    /// OpenID Connect: a back-channel logout token naming `sub` and `sid`
    /// (the participant's `name_id` and `session_index`).
    Oidc {
        /// The client it was issued to.
        client_id: String,
    },
}

/// A downstream request waiting for a login.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flow {
    /// Registry id of the requesting service.
    pub service_id: String,
    /// How the service gets its answer, per protocol.
    pub answer: Answer,
    /// The service asked for a fresh login.
    pub force_authn: bool,
    /// The service forbade any interaction.
    pub is_passive: bool,
    /// Authentication contexts the request asked for (OpenID Connect
    /// `acr_values`); empty when it asked for none.
    #[serde(default)]
    pub authn_contexts: Vec<String>,
    /// Hash of the browser-binding cookie.
    pub browser: String,
}

/// Where and how a downstream request is answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "lowercase")]
pub enum Answer {
    /// A SAML Response posted to the registered ACS.
    Saml {
        /// ID of its AuthnRequest (InResponseTo of our answer).
        request_id: String,
        /// The registered ACS chosen for the answer.
        acs_url: String,
        /// RelayState to return.
        relay_state: Option<String>,
    },
    /// A CAS service ticket, the browser sent back to the service URL.
    Cas {
        /// The `service` URL of the request (matched a registered pattern).
        service_url: String,
    },
    /// An OpenID Connect authorization code, the browser sent back to the
    /// registered redirect URI.
    Oidc(crate::oidc::AuthorizationRequest),
}

/// A validated login waiting for the user to choose an académie.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingChoice {
    /// The session to create, its identity not yet joined.
    pub session: Session,
    /// The downstream flow to continue, if any.
    pub flow_id: Option<String>,
    /// Digest of the browser binding cookie.
    pub browser: String,
    /// The académies offered.
    pub options: Vec<crate::join::AcademieOption>,
    /// The upstream IdP's id in the configuration (for logs).
    pub idp: String,
}

/// An AuthnRequest sent upstream, waiting for the IdP's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpstreamRequest {
    /// Connector id.
    pub idp: String,
    /// Flow it serves (None: a plain login at the gateway).
    pub flow_id: Option<String>,
    /// Hash of the browser-binding cookie.
    pub browser: String,
}

/// An authentication request sent to an OpenID provider, waiting for its
/// callback.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OidcRequest {
    /// What the connector needs to check the callback.
    pub auth: idp_connectors::oidc::PendingAuth,
    /// Flow it serves (None: a plain login at the gateway).
    pub flow_id: Option<String>,
    /// Hash of the browser-binding cookie.
    pub browser: String,
}

fn oidc_request_key(state: &str) -> String {
    format!("oidcreq:{}", crate::digest(state))
}

/// Key of a session. The id is a Redis Cluster hash tag (`{...}`): the
/// session and its participants set live in the same slot.
fn session_key(id: &str) -> String {
    format!("session:{{{id}}}")
}

/// Key of the set of a session's participants, in the session's slot.
fn participants_key(id: &str) -> String {
    format!("session:{{{id}}}:sp")
}

/// Key linking a service's identifier of a user to the session.
fn service_user_key(service_id: &str, user: &str) -> String {
    format!("session:svc:{service_id}:{}", crate::digest(user))
}

/// Session and flow operations over the shared store.
pub struct Sessions<'a> {
    store: &'a dyn Store,
    idle: Duration,
    absolute: Duration,
    flow_ttl: Duration,
}

impl<'a> Sessions<'a> {
    /// Session operations with the configured timeouts.
    pub fn new(
        store: &'a dyn Store,
        idle: Duration,
        absolute: Duration,
        flow_ttl: Duration,
    ) -> Self {
        Self {
            store,
            idle,
            absolute,
            flow_ttl,
        }
    }

    fn ttl_for(&self, session: &Session, now: i64) -> Option<Duration> {
        let age = u64::try_from(now.saturating_sub(session.created_at)).unwrap_or(0);
        let left = self.absolute.checked_sub(Duration::from_secs(age))?;
        (!left.is_zero()).then(|| left.min(self.idle))
    }

    /// Stores a new session under a fresh random id.
    pub async fn create(&self, session: &Session) -> Result<String, StoreError> {
        let id = crate::random_token();
        let ttl = self.idle.min(self.absolute);
        put_json(self.store, &session_key(&id), session, ttl).await?;
        self.count(SessionEvent::Started).await;
        Ok(id)
    }

    /// Counts a session start or end for the `sso_sessions_active`
    /// estimate; best effort (a failure is logged, the session goes on).
    async fn count(&self, event: SessionEvent) {
        let now = chrono::Utc::now().timestamp();
        if let Err(error) = sessions_estimate::record(self.store, event, now, self.idle).await {
            tracing::warn!(%error, "session not counted in the active sessions estimate");
        }
    }

    /// The live session with this id, its idle timeout refreshed; None when
    /// absent, idle for too long or past its absolute lifetime.
    pub async fn get(&self, id: &str, now: i64) -> Result<Option<Session>, StoreError> {
        let key = session_key(id);
        let Some(session) = get_json::<Session>(self.store, &key).await? else {
            return Ok(None);
        };
        match self.ttl_for(&session, now) {
            Some(ttl) => {
                self.store.touch(&key, ttl).await?;
                self.store.touch(&participants_key(id), ttl).await?;
                Ok(Some(session))
            }
            None => {
                self.delete(id).await?;
                Ok(None)
            }
        }
    }

    /// The live session with this id, read without refreshing its idle
    /// timeout (an operator's look is not the user's activity).
    pub async fn peek(&self, id: &str, now: i64) -> Result<Option<Session>, StoreError> {
        let session = get_json::<Session>(self.store, &session_key(id)).await?;
        Ok(session.filter(|session| self.ttl_for(session, now).is_some()))
    }

    /// Ends a session; returns its participants.
    pub async fn delete(&self, id: &str) -> Result<Vec<Participant>, StoreError> {
        let participants = self.participants(id).await?;
        let existed = self.store.take(&session_key(id)).await?.is_some();
        self.store.delete(&participants_key(id)).await?;
        if existed {
            self.count(SessionEvent::Ended).await;
        }
        Ok(participants)
    }

    /// Records a service that received an assertion.
    pub async fn add_participant(
        &self,
        id: &str,
        session: &Session,
        participant: &Participant,
        now: i64,
    ) -> Result<(), StoreError> {
        let ttl = self.ttl_for(session, now).unwrap_or(Duration::from_secs(1));
        let member = serde_json::to_string(participant)
            .map_err(|err| StoreError::Serialization(err.to_string()))?;
        self.store
            .set_add(&participants_key(id), &member, ttl)
            .await
    }

    /// Records that the service `service_id` knows the session's user as
    /// `user` (the identifier the gateway sent it), so that the service may
    /// ask for that user's médiacentre server to server; kept until the
    /// session's absolute end.
    pub async fn link_service_user(
        &self,
        service_id: &str,
        user: &str,
        session_id: &str,
        session: &Session,
        now: i64,
    ) -> Result<(), StoreError> {
        let age = u64::try_from(now.saturating_sub(session.created_at)).unwrap_or(0);
        let Some(left) = self.absolute.checked_sub(Duration::from_secs(age)) else {
            return Ok(());
        };
        self.store
            .put(
                &service_user_key(service_id, user),
                session_id.as_bytes(),
                left.max(Duration::from_secs(1)),
            )
            .await
    }

    /// The live session of the user the service `service_id` knows as
    /// `user`, without refreshing its idle timeout (a server's call is not
    /// the user's activity); None once the session has ended.
    pub async fn of_service_user(
        &self,
        service_id: &str,
        user: &str,
        now: i64,
    ) -> Result<Option<Session>, StoreError> {
        let Some(id) = self.store.get(&service_user_key(service_id, user)).await? else {
            return Ok(None);
        };
        let id = String::from_utf8_lossy(&id);
        let session = get_json::<Session>(self.store, &session_key(&id)).await?;
        Ok(session.filter(|session| self.ttl_for(session, now).is_some()))
    }

    /// The services that received an assertion in the session.
    pub async fn participants(&self, id: &str) -> Result<Vec<Participant>, StoreError> {
        let members = self.store.set_members(&participants_key(id)).await?;
        Ok(members
            .iter()
            .filter_map(|member| serde_json::from_str(member).ok())
            .collect())
    }

    /// Stores a pending flow under a fresh id.
    pub async fn put_flow(&self, flow: &Flow) -> Result<String, StoreError> {
        let id = crate::random_token();
        put_json(self.store, &format!("flow:{id}"), flow, self.flow_ttl).await?;
        crate::observe::record_flow(&id);
        Ok(id)
    }

    /// Reads a pending flow.
    pub async fn get_flow(&self, id: &str) -> Result<Option<Flow>, StoreError> {
        crate::observe::record_flow(id);
        get_json(self.store, &format!("flow:{id}")).await
    }

    /// Consumes a pending flow.
    pub async fn take_flow(&self, id: &str) -> Result<Option<Flow>, StoreError> {
        crate::observe::record_flow(id);
        take_json(self.store, &format!("flow:{id}")).await
    }

    /// Records an AuthnRequest sent upstream.
    pub async fn put_upstream(
        &self,
        request_id: &str,
        request: &UpstreamRequest,
    ) -> Result<(), StoreError> {
        put_json(
            self.store,
            &format!("upreq:{request_id}"),
            request,
            self.flow_ttl,
        )
        .await
    }

    /// Records a login waiting for a choice; returns its id.
    pub async fn put_choice(&self, choice: &PendingChoice) -> Result<String, StoreError> {
        let id = crate::random_token();
        put_json(self.store, &format!("choice:{id}"), choice, self.flow_ttl).await?;
        Ok(id)
    }

    /// Consumes a login waiting for a choice (once only).
    pub async fn take_choice(&self, id: &str) -> Result<Option<PendingChoice>, StoreError> {
        take_json(self.store, &format!("choice:{id}")).await
    }

    /// Records an authentication request sent to an OpenID provider, under its `state`.
    pub async fn put_oidc(&self, request: &OidcRequest) -> Result<(), StoreError> {
        put_json(
            self.store,
            &oidc_request_key(&request.auth.state),
            request,
            self.flow_ttl,
        )
        .await
    }

    /// Consumes the authentication request whose `state` the callback
    /// carries (once only).
    pub async fn take_oidc(&self, state: &str) -> Result<Option<OidcRequest>, StoreError> {
        take_json(self.store, &oidc_request_key(state)).await
    }

    /// Consumes the record of an AuthnRequest sent upstream (once only).
    pub async fn take_upstream(
        &self,
        request_id: &str,
    ) -> Result<Option<UpstreamRequest>, StoreError> {
        take_json(self.store, &format!("upreq:{request_id}")).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sso_store::MemoryStore;

    /// Session operations with these idle (ms) and absolute (s) timeouts.
    fn sessions_in(store: &MemoryStore, idle_ms: u64, absolute_s: u64) -> Sessions<'_> {
        Sessions::new(
            store,
            Duration::from_millis(idle_ms),
            Duration::from_secs(absolute_s),
            Duration::from_secs(60),
        )
    }

    fn session(created_at: i64) -> Session {
        Session {
            identity: Identity::new("educonnect", "subject", created_at),
            created_at,
            upstream_name_id: None,
            upstream_name_id_format: None,
            upstream_session_index: None,
            upstream_id_token: None,
        }
    }

    #[tokio::test]
    async fn idle_sessions_expire_and_use_keeps_them_alive() {
        let store = MemoryStore::new();
        let sessions = sessions_in(&store, 400, 60);
        let now = 1_000;
        let kept = sessions.create(&session(now)).await.unwrap();
        let idle = sessions.create(&session(now)).await.unwrap();
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert!(
                sessions.get(&kept, now).await.unwrap().is_some(),
                "used sessions stay"
            );
        }
        assert!(
            sessions.get(&idle, now).await.unwrap().is_none(),
            "idle sessions end"
        );
    }

    #[tokio::test]
    async fn the_absolute_lifetime_ends_a_session_whatever_the_activity() {
        let store = MemoryStore::new();
        let sessions = sessions_in(&store, 60000, 3600);
        let id = sessions.create(&session(1_000)).await.unwrap();
        assert!(sessions.get(&id, 1_000 + 3599).await.unwrap().is_some());
        assert!(sessions.get(&id, 1_000 + 3600).await.unwrap().is_none());
        assert!(
            sessions.get(&id, 1_000).await.unwrap().is_none(),
            "and it is deleted"
        );
    }

    #[tokio::test]
    async fn flows_and_upstream_requests_are_consumed_once() {
        let store = MemoryStore::new();
        let sessions = sessions_in(&store, 60000, 60);
        let request = UpstreamRequest {
            idp: "educonnect".into(),
            flow_id: None,
            browser: "b".into(),
        };
        sessions.put_upstream("_r1", &request).await.unwrap();
        assert!(sessions.take_upstream("_r1").await.unwrap().is_some());
        assert!(sessions.take_upstream("_r1").await.unwrap().is_none());

        let oidc = OidcRequest {
            auth: idp_connectors::oidc::PendingAuth {
                idp: "fim".into(),
                state: "s1".into(),
                nonce: "n".into(),
                pkce_verifier: "v".into(),
                created_at: 0,
            },
            flow_id: None,
            browser: "b".into(),
        };
        sessions.put_oidc(&oidc).await.unwrap();
        assert!(sessions.take_oidc("s2").await.unwrap().is_none());
        assert!(sessions.take_oidc("s1").await.unwrap().is_some());
        assert!(sessions.take_oidc("s1").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn participants_are_recorded_and_returned_at_logout() {
        let store = MemoryStore::new();
        let sessions = sessions_in(&store, 60000, 60);
        let s = session(1_000);
        let id = sessions.create(&s).await.unwrap();
        let participant = Participant {
            service_id: "ent".into(),
            name_id: "n".into(),
            name_id_format: "f".into(),
            session_index: "i".into(),
            via: Via::Cas {
                service_url: "https://res.example.fr/".into(),
            },
        };
        sessions
            .add_participant(&id, &s, &participant, 1_000)
            .await
            .unwrap();
        sessions
            .add_participant(&id, &s, &participant, 1_000)
            .await
            .unwrap();
        assert_eq!(sessions.delete(&id).await.unwrap(), vec![participant]);
        assert!(sessions.get(&id, 1_000).await.unwrap().is_none());
    }
}
