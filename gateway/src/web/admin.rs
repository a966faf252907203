//! The operators' API (`/admin/api/...`): bearer token from `[admin]
//! api_token_file` (its SHA-256 compared in constant time); off, answering
//! 404, when no token is configured. Answers are JSON in English.
//!
//! - `POST /admin/api/registry/reload`;
//! - subscriptions: `GET /admin/api/subscriptions?uai=&idRessource=`,
//!   `GET|PUT|DELETE /admin/api/subscriptions/{idAbonnement}` (a PUT body is
//!   one subscription with the GAR field names, checked like a file entry);
//! - `GET /admin/api/statistics?level=&code=&from=&to=&format=`: the usage
//!   statistics of any area (see [`crate::stats::web`]).

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use sp_registry::subscription::Subscription;

use super::client_ip::ClientIp;
use crate::state::AppState;
use crate::subscriptions::{self, SubscriptionStoreError};

fn refusal(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// The admin routes, each behind the bearer-token check.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/registry/reload", post(reload_registry))
        .route("/subscriptions", get(list_subscriptions))
        .route("/statistics", get(crate::stats::web::admin_statistics))
        .route(
            "/subscriptions/{id}",
            get(get_subscription)
                .put(put_subscription)
                .delete(delete_subscription),
        )
        .layer(middleware::from_fn_with_state(state, require_token))
}

/// Lets a request through only with the configured bearer token.
/// Wrong tokens are failures counted against the client IP (see
/// [`crate::limits`]).
async fn require_token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = state.admin_token else {
        return refusal(StatusCode::NOT_FOUND, "the admin API is not enabled");
    };
    let attempt = state.limits.failures.before_check(None, ip).await;
    let matches = super::bearer_digest(request.headers())
        .is_some_and(|given| super::same_digest(&given, &expected));
    if matches {
        next.run(request).await
    } else {
        attempt.failed().await;
        tracing::warn!("admin API call refused: missing or wrong token");
        refusal(StatusCode::UNAUTHORIZED, "missing or wrong bearer token")
    }
}

/// `POST /admin/api/registry/reload`: validates the services folder and,
/// only if it is valid, puts it in force on this replica.
pub async fn reload_registry(State(state): State<AppState>) -> Response {
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

/// Filters of the subscriptions listing.
#[derive(Debug, serde::Deserialize)]
pub struct SubscriptionFilter {
    uai: Option<String>,
    #[serde(rename = "idRessource")]
    resource: Option<String>,
}

fn store_failure(error: &SubscriptionStoreError) -> Response {
    tracing::error!(%error, "admin API: subscriptions store");
    refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        "the subscriptions store failed",
    )
}

/// `GET /admin/api/subscriptions?uai=&idRessource=`.
pub async fn list_subscriptions(
    State(state): State<AppState>,
    Query(filter): Query<SubscriptionFilter>,
) -> Response {
    match subscriptions::list(
        state.store.as_ref(),
        filter.uai.as_deref(),
        filter.resource.as_deref(),
    )
    .await
    {
        Ok(listed) => Json(serde_json::json!({ "abonnements": listed })).into_response(),
        Err(error) => store_failure(&error),
    }
}

/// `GET /admin/api/subscriptions/{id}`.
pub async fn get_subscription(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match subscriptions::get(state.store.as_ref(), &id).await {
        Ok(Some(subscription)) => Json(subscription).into_response(),
        Ok(None) => refusal(StatusCode::NOT_FOUND, "no such subscription"),
        Err(error) => store_failure(&error),
    }
}

/// `PUT /admin/api/subscriptions/{id}`: creates or replaces, after the same
/// checks as a file (the body's `idAbonnement` must be `id`).
pub async fn put_subscription(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let subscription: Subscription = match serde_json::from_slice(&body) {
        Ok(subscription) => subscription,
        Err(error) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                &format!("not a subscription: {error}"),
            );
        }
    };
    if subscription.id != id {
        return refusal(
            StatusCode::BAD_REQUEST,
            "idAbonnement differs from the id in the path",
        );
    }
    let problems: Vec<String> = subscription
        .problems(1, &state.registry.get())
        .iter()
        .map(ToString::to_string)
        .collect();
    if !problems.is_empty() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({ "error": "invalid subscription", "problems": problems })),
        )
            .into_response();
    }
    let today = chrono::Utc::now().date_naive();
    match subscriptions::put_all(
        state.store.as_ref(),
        std::slice::from_ref(&subscription),
        today,
    )
    .await
    {
        Ok(()) => {
            tracing::info!(id, "subscription stored (admin API)");
            Json(subscription).into_response()
        }
        Err(error) => store_failure(&error),
    }
}

/// `DELETE /admin/api/subscriptions/{id}`.
pub async fn delete_subscription(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    match subscriptions::delete(state.store.as_ref(), &id).await {
        Ok(true) => {
            tracing::info!(id, "subscription deleted (admin API)");
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => refusal(StatusCode::NOT_FOUND, "no such subscription"),
        Err(error) => store_failure(&error),
    }
}
