//! The operators' API (`/admin/api/...`): bearer token from `[admin]
//! api_token_file` (its SHA-256 compared in constant time); off, answering
//! 404, when no token is configured. Answers are JSON in English.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::state::AppState;

fn refusal(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// The refusal of a request without the configured bearer token; `None`
/// when it carries it.
fn refused(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let Some(expected) = state.admin_token else {
        return Some(refusal(
            StatusCode::NOT_FOUND,
            "the admin API is not enabled",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(|token| Sha256::digest(token.trim().as_bytes()));
    let matches = given.is_some_and(|digest| {
        digest
            .iter()
            .zip(expected.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    });
    if matches {
        None
    } else {
        tracing::warn!("admin API call refused: missing or wrong token");
        Some(refusal(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token",
        ))
    }
}

/// `POST /admin/api/registry/reload`: validates the services folder and,
/// only if it is valid, puts it in force on this replica.
pub async fn reload_registry(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(response) = refused(&state, &headers) {
        return response;
    }
    match state.registry.reload() {
        Ok(count) => {
            tracing::info!(services = count, "registry reloaded (admin API)");
            Json(serde_json::json!({ "services": count })).into_response()
        }
        Err(errors) => {
            let problems: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
            tracing::error!(errors = %errors, "registry change refused (admin API)");
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(serde_json::json!({
                    "error": "the services folder is invalid: the previous registry keeps serving",
                    "problems": problems,
                })),
            )
                .into_response()
        }
    }
}
