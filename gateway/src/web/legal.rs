//! Legal notices and the usage charter on the web (domain reference §5:
//! legal notices shown before login; see [`crate::legal`]).
//!
//! - `GET /mentions-legales/{version}`: a version of the legal notice, the
//!   one in force or an earlier one.
//! - The charter gate ([`ask_charter`]): after a successful upstream login
//!   and the directory join, before the session exists (so before any
//!   downstream answer, the home page or the médiacentre), a person the
//!   charter concerns who has not accepted its current version gets the
//!   French charter page. The validated login waits in the store under
//!   `charterreq:<random id>` (TTL of a flow), bound to the browser.
//! - `POST /charte` ([`answer_charter`]): the answer. The pending login is
//!   consumed once, must come from the browser it was shown to and be for
//!   the charter version still in force; "J'accepte la charte" records
//!   `charter:{<person reference>}` and the login goes on (session, then
//!   the downstream flow); "Je refuse" ends on a French page without any
//!   session. A store failure fails closed (the 503 page).

use axum::extract::{Form, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sso_store::{get_json, put_json, take_json};

use super::CookieJar;
use super::client_ip::ClientIp;
use super::downstream::{BROWSER_COOKIE, browser_binding};
use crate::error::WebError;
use crate::events::{Who, person_reference};
use crate::legal::{CHARTER_ACCEPTANCE_TTL, CharterAcceptance, charter_key};
use crate::observe::prometheus::{self, LoginProbe};
use crate::session::Session;
use crate::state::AppState;

/// `GET /mentions-legales/{version}`: that version of the notice, or a
/// French "not found" page.
pub async fn notice_version(
    State(state): State<AppState>,
    Path(version): Path<String>,
) -> Result<Response, WebError> {
    match state.pages.notices().notice(&version) {
        Some(notice) => super::html(state.pages.legal_version(notice)),
        None => {
            let page = state
                .pages
                .error(
                    "Version introuvable",
                    "Cette version des mentions légales n'existe pas.",
                    Some("Consultez la version en vigueur depuis le lien en bas de page."),
                    None,
                )
                .map_err(|err| WebError::Internal(err.to_string()))?;
            Ok((StatusCode::NOT_FOUND, Html(page)).into_response())
        }
    }
}

/// A validated login waiting for the answer to the charter.
#[derive(Debug, Serialize, Deserialize)]
struct PendingCharter {
    /// The session to create.
    session: Session,
    /// The downstream flow to continue, if any.
    flow_id: Option<String>,
    /// Digest of the browser binding cookie.
    browser: String,
    /// The upstream IdP's id (for logs and metrics).
    idp: String,
    /// The charter version shown.
    version: String,
}

fn pending_key(id: &str) -> String {
    format!("charterreq:{id}")
}

/// What the charter gate decided.
pub(super) enum CharterGate {
    /// The charter page, the login waiting for the answer.
    Ask(Response),
    /// No charter to accept: go on with the login.
    Pass(Box<Session>, Option<String>),
}

/// The charter gate of an accepted login: [`CharterGate::Pass`] when no
/// charter is configured, when it does not concern the person or when they
/// accepted its current version; otherwise the charter page.
pub(super) async fn ask_charter(
    state: &AppState,
    jar: &CookieJar,
    session: Session,
    flow_id: Option<String>,
    idp: &str,
) -> Result<CharterGate, WebError> {
    let Some(charter) = state
        .pages
        .notices()
        .charter
        .as_ref()
        .filter(|charter| charter.concerns(&session.identity))
    else {
        return Ok(CharterGate::Pass(Box::new(session), flow_id));
    };
    let key = acceptance_key(state, &session);
    let accepted: Option<CharterAcceptance> = get_json(state.store.as_ref(), &key).await?;
    if accepted.is_some_and(|accepted| accepted.version == charter.version) {
        return Ok(CharterGate::Pass(Box::new(session), flow_id));
    }
    let (token, new_cookie) = browser_binding(state, jar);
    let id = crate::random_token();
    put_json(
        state.store.as_ref(),
        &pending_key(&id),
        &PendingCharter {
            session,
            flow_id,
            browser: crate::digest(&token),
            idp: idp.to_owned(),
            version: charter.version.clone(),
        },
        std::time::Duration::from_secs(state.config.session.flow_timeout_seconds),
    )
    .await?;
    tracing::info!(idp, version = %charter.version, "usage charter shown");
    let page = state
        .pages
        .charter(&id, charter)
        .map_err(|err| WebError::Internal(err.to_string()))?;
    let mut response = Html(page).into_response();
    response.extensions_mut().insert(prometheus::LoginPending);
    if let Some(cookie) = new_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(CharterGate::Ask(response))
}

fn acceptance_key(state: &AppState, session: &Session) -> String {
    let person = Who::of(&session.identity).person_key();
    charter_key(&person_reference(&state.identifier_keys, &person))
}

/// The answer posted from the charter page.
#[derive(Debug, Deserialize)]
pub struct CharterForm {
    request: String,
    decision: String,
}

/// `POST /charte`: the answer to the charter (see the module doc).
pub async fn answer_charter(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(form): Form<CharterForm>,
) -> Result<Response, WebError> {
    let accepted = match form.decision.as_str() {
        "accepte" => true,
        "refuse" => false,
        _ => return Err(WebError::BadRequest("unknown charter decision".into())),
    };
    let pending: PendingCharter = take_json(state.store.as_ref(), &pending_key(&form.request))
        .await?
        .ok_or_else(|| WebError::Expired("charter answer unknown or already used".into()))?;
    if let Some(flow_id) = &pending.flow_id {
        crate::observe::record_flow(flow_id);
    }
    if jar.get(BROWSER_COOKIE).map(crate::digest).as_deref() != Some(pending.browser.as_str()) {
        return Err(WebError::Expired(
            "charter answer sent by another browser".into(),
        ));
    }
    let in_force = state.pages.notices().charter.as_ref();
    if in_force.is_none_or(|charter| charter.version != pending.version) {
        return Err(WebError::Expired(
            "the charter changed while it was shown".into(),
        ));
    }
    if !accepted {
        tracing::info!(idp = %pending.idp, version = %pending.version, "usage charter refused: no session");
        let page = state
            .pages
            .charter_refused()
            .map_err(|err| WebError::Internal(err.to_string()))?;
        return Ok((StatusCode::FORBIDDEN, Html(page)).into_response());
    }
    let probe = LoginProbe {
        idp: Some(pending.idp.clone()),
        failure: None,
    };
    let result = accept(&state, &jar, pending).await;
    crate::events::login_step(&state, &probe, &result, ip);
    result
}

/// Records the acceptance, then opens the session and continues the flow.
async fn accept(
    state: &AppState,
    jar: &CookieJar,
    pending: PendingCharter,
) -> Result<Response, WebError> {
    let acceptance = CharterAcceptance {
        version: pending.version.clone(),
        accepted_at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
    };
    put_json(
        state.store.as_ref(),
        &acceptance_key(state, &pending.session),
        &acceptance,
        CHARTER_ACCEPTANCE_TTL,
    )
    .await?;
    tracing::info!(idp = %pending.idp, version = %pending.version, "usage charter accepted");
    super::upstream::open_session(state, jar, pending.session, pending.flow_id, &pending.idp).await
}
