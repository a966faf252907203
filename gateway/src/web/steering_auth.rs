//! How a request to the steering pages becomes a [`Viewer`] (issue 8: admin
//! users are authenticated through the gateway itself and authorised by
//! configured roles and scopes, see [`crate::steering`]).
//!
//! The SSO session cookie names the session; its identity goes through the
//! grants of `[steering]`. Without a session, a page answers a redirect to
//! the gateway's own discovery page, which brings the user back to the page
//! after the login (see [`super::return_to`]); a JSON call under
//! `/pilotage/api/` answers 401 in JSON. A session without any grant gets
//! 403: a French page, or JSON under `/pilotage/api/`.
//!
//! `GET /pilotage/moi` (page) and `GET /pilotage/api/moi` (JSON) tell users
//! in which capacity and on which areas they read the statistics.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use sso_directory::store::DirectoryError;

use super::CookieJar;
use crate::error::WebError;
use crate::state::AppState;
use crate::viewer::Viewer;

/// Paths whose callers expect JSON.
const API_PREFIX: &str = "/pilotage/api/";

/// The 403 message, page and JSON.
const NO_ACCESS: &str = "Vous n'avez pas accès aux statistiques de pilotage : elles sont réservées aux directions d'école et d'établissement, aux inspections, aux collectivités et aux administrateurs désignés.";

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let api = parts.uri.path().starts_with(API_PREFIX);
        let Ok(jar) = CookieJar::from_request_parts(parts, state).await;
        let session = match jar.get(&state.config.session.cookie_name) {
            Some(id) => state
                .sessions()
                .get(id, Utc::now().timestamp())
                .await
                .map_err(|err| failure(api, WebError::from(err)))?,
            None => None,
        };
        let Some(session) = session else {
            return Err(if api {
                json_refusal(
                    StatusCode::UNAUTHORIZED,
                    "aucune session : connectez-vous d'abord",
                )
            } else {
                to_login(parts.uri.path())
            });
        };
        match state
            .steering
            .viewer(&state.directory, &session.identity)
            .await
        {
            Ok(Some(viewer)) => Ok(viewer),
            Ok(None) => {
                tracing::info!(
                    idp = session.identity.idp,
                    "steering statistics refused: no role or administrator grant"
                );
                Err(if api {
                    json_refusal(StatusCode::FORBIDDEN, NO_ACCESS)
                } else {
                    refusal_page(state)
                })
            }
            Err(err) => Err(failure(api, directory_error(err))),
        }
    }
}

/// The discovery page, coming back to `path` (or `/pilotage`) after login.
fn to_login(path: &str) -> Response {
    let back = super::return_to::known(path).unwrap_or("/pilotage");
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("retour", back)
        .finish();
    Redirect::to(&format!("/login?{query}")).into_response()
}

fn json_refusal(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "erreur": message }))).into_response()
}

fn refusal_page(state: &AppState) -> Response {
    match state.pages.error(
        "Accès refusé",
        NO_ACCESS,
        Some("Si votre fonction devrait vous y donner accès, adressez-vous à l'administrateur du service de votre académie."),
        None,
    ) {
        Ok(page) => (StatusCode::FORBIDDEN, Html(page)).into_response(),
        Err(err) => WebError::Internal(err.to_string()).into_response(),
    }
}

/// A store or directory failure: the French error page, or JSON under
/// `/pilotage/api/`.
fn failure(api: bool, err: WebError) -> Response {
    if !api {
        return err.into_response();
    }
    tracing::error!(error = ?err, "steering access could not be decided");
    match err {
        WebError::Unavailable(_) => json_refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "service momentanément indisponible : réessayez dans quelques instants",
        ),
        _ => json_refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "erreur interne : réessayez plus tard",
        ),
    }
}

fn directory_error(err: DirectoryError) -> WebError {
    match err {
        DirectoryError::Store(err) => WebError::from(err),
        other => WebError::Internal(other.to_string()),
    }
}

/// `GET /pilotage/moi`: in which capacity and on which areas the user reads
/// the statistics.
pub async fn me_page(State(state): State<AppState>, viewer: Viewer) -> Response {
    let areas: Vec<String> = viewer
        .scopes
        .iter()
        .map(crate::steering::describe)
        .collect();
    match state.pages.steering_me(&viewer.label, &areas) {
        Ok(page) => Html(page).into_response(),
        Err(err) => WebError::Internal(err.to_string()).into_response(),
    }
}

/// `GET /pilotage/api/moi`: `{"libelle": ..., "perimetres": [{"level",
/// "code"}]}`.
pub async fn me_api(viewer: Viewer) -> Response {
    Json(serde_json::json!({
        "libelle": viewer.label,
        "perimetres": viewer.scopes,
    }))
    .into_response()
}
