//! HTTP routes and the layers around them (axum + tower-http). Handlers stay
//! thin; limits, timeouts, security headers, tracing and the rendering of
//! error pages are layers.

mod admin;
mod cas;
pub mod client_ip;
mod cookies;
mod downstream;
mod legal;
mod logout;
pub mod mediacentre;
mod oidc;
pub mod request_limits;
pub mod return_to;
pub mod shed;
mod steering_auth;
mod upstream;

use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::{ErrorPage, WebError};
use crate::state::AppState;

pub use cookies::CookieJar;

/// The gateway's routes with every layer.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.server.max_body_bytes;
    Router::new()
        .route("/", get(home))
        .route("/mentions-legales", get(legal))
        .route("/mentions-legales/{version}", get(legal::notice_version))
        .route("/charte", axum::routing::post(legal::answer_charter))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/saml/idp/metadata", get(downstream::metadata))
        .route(
            "/saml/idp/sso",
            get(downstream::sso_redirect).post(downstream::sso_post),
        )
        .route("/saml/idp/continue", get(downstream::resume))
        .route("/saml/idp/slo", get(logout::downstream_slo_redirect))
        .route("/login", get(upstream::discovery))
        .route("/login/{idp}", get(upstream::start))
        .route("/mediacentre", get(mediacentre::page))
        .route("/mediacentre/ouvrir/{id}", get(mediacentre::open))
        .route("/api/mediacentre", get(mediacentre::api))
        .route("/pilotage", get(crate::stats::web::pilotage_page))
        .route(
            "/pilotage/api/statistiques",
            get(crate::stats::web::pilotage_api),
        )
        .route("/pilotage/moi", get(steering_auth::me_page))
        .route("/pilotage/api/moi", get(steering_auth::me_api))
        .nest("/admin/api", admin::router(state.clone()))
        .route(
            "/login/academie",
            axum::routing::post(upstream::choose_academie),
        )
        .route("/saml/sp/metadata", get(upstream::metadata))
        .route("/saml/sp/acs", axum::routing::post(upstream::acs))
        .route("/saml/sp/slo", get(logout::upstream_slo_redirect))
        .route("/oidc/callback/{idp}", get(upstream::oidc_callback))
        .route("/oidc/logout/return", get(logout::oidc_logout_return))
        .route("/logout", get(logout::user_logout))
        .route("/cas/login", get(cas::login))
        .route("/cas/logout", get(logout::cas_logout))
        .route("/cas/validate", get(cas::validate))
        .route("/cas/serviceValidate", get(cas::service_validate))
        .route("/cas/p3/serviceValidate", get(cas::service_validate))
        .route("/cas/proxyValidate", get(cas::proxy_validate))
        .route("/cas/p3/proxyValidate", get(cas::proxy_validate))
        .route("/cas/proxy", get(cas::proxy))
        .route("/.well-known/openid-configuration", get(oidc::discovery))
        .route("/oidc/jwks", get(oidc::jwks))
        .route(
            "/oidc/authorize",
            get(oidc::authorize).post(oidc::authorize_post),
        )
        .route("/oidc/token", axum::routing::post(oidc::token))
        .route("/oidc/userinfo", get(oidc::userinfo).post(oidc::userinfo))
        .route("/oidc/logout", get(logout::oidc_end_session))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::events::with_client_ip,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            render_error_pages,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), shed::shed))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_limits::guard,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            content_security_policy(),
        ))
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::new())
        .layer(middleware::from_fn(crate::observe::prometheus::track_http))
        .layer(TraceLayer::new_for_http().make_span_with(crate::observe::RequestSpan))
        .layer(middleware::from_fn(crate::observe::request_id))
        .with_state(state)
}

/// Pages carry their own small stylesheet; the only script allowed is the
/// auto-submit of SAML POST forms, by its hash. Forms may post to any
/// registered service's ACS.
fn content_security_policy() -> HeaderValue {
    let policy = format!(
        "default-src 'none'; style-src 'unsafe-inline'; script-src {}; form-action *; frame-ancestors 'none'; base-uri 'none'",
        sso_saml::binding::post_form_script_csp_source()
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action *; frame-ancestors 'none'",
        )
    })
}

/// SHA-256 of the `Authorization: Bearer` token of a request, if any.
fn bearer_digest(headers: &axum::http::HeaderMap) -> Option<[u8; 32]> {
    use sha2::Digest as _;
    bearer_token(headers).map(|token| sha2::Sha256::digest(token.as_bytes()).into())
}

/// The token of an `Authorization: Bearer` header (RFC 6750 §2.1), if any.
fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Compares two digests in constant time.
fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn render_error_pages(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    with_page(&state, next.run(request).await)
}

/// Renders the French page of an error response (see [`ErrorPage`]); other
/// responses pass unchanged. The guard layers, outside the page middleware,
/// call it themselves.
fn with_page(state: &AppState, mut response: Response) -> Response {
    let Some(page) = response.extensions_mut().remove::<ErrorPage>() else {
        return response;
    };
    let body = state
        .pages
        .error(page.title, page.message, page.hint, Some(&page.reference))
        .unwrap_or_else(|_| page.message.to_owned());
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Response::from_parts(parts, axum::body::Body::from(body))
}

fn html(result: Result<String, crate::pages::RenderError>) -> Result<Response, WebError> {
    result
        .map(|body| Html(body).into_response())
        .map_err(|err| WebError::Internal(err.to_string()))
}

async fn home(State(state): State<AppState>, jar: CookieJar) -> Result<Response, WebError> {
    let now = chrono::Utc::now().timestamp();
    let session = match jar.get(&state.config.session.cookie_name) {
        Some(id) => state.sessions().get(id, now).await?,
        None => None,
    };
    let name = session.as_ref().map(|session| {
        let identity = &session.identity;
        [
            identity.first(sso_core::attr::GIVEN_NAME),
            identity.first(sso_core::attr::SURNAME),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
    });
    // The link to the steering statistics, for those who may read them (a
    // directory failure only hides the link: the page itself says more).
    let steering = match &session {
        Some(session) => state
            .steering
            .viewer(&state.directory, &session.identity)
            .await
            .ok()
            .flatten()
            .is_some(),
        None => false,
    };
    html(
        state
            .pages
            .home(name.as_deref(), steering, state.demo_link.as_deref()),
    )
}

async fn legal(State(state): State<AppState>) -> Result<Response, WebError> {
    html(state.pages.legal())
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready for traffic: not draining, and the store answers.
async fn readyz(State(state): State<AppState>) -> Response {
    if state.lifecycle.is_draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            "draining",
        )
            .into_response();
    }
    match state.store.ping().await {
        Ok(()) => "ready".into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            "store unreachable",
        )
            .into_response(),
    }
}
