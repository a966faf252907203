//! The médiacentre (domain reference §4): the resources a logged-in user may
//! open — their profile allowed by the resource and a subscription of their
//! school, valid today, covering them — as a JSON list with the GAR fields
//! (`GET /api/mediacentre`) and as an accessible French page of tiles
//! (`GET /mediacentre`). A tile leads to `GET /mediacentre/ouvrir/<id>`,
//! which checks again at that moment (a refusal is the French page, counted)
//! and then starts the resource's own login, which the gateway answers from
//! the SSO session: one click, no second login.

use std::borrow::Cow;
use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sp_registry::subscription::{Subscription, decide_for};
use sp_registry::{AccessDenied, Registry, ServiceDefinition, ServiceKind, Subject};
use sso_core::{Identity, attr};

use super::CookieJar;
use crate::error::WebError;
use crate::session::Session;
use crate::state::AppState;

/// One resource of the médiacentre, GAR field names.
#[derive(Debug, Clone, Serialize)]
pub struct Tile {
    /// `idRessource`.
    #[serde(rename = "idRessource")]
    pub resource_id: String,
    /// `nomRessource`.
    #[serde(rename = "nomRessource")]
    pub name: String,
    /// `nomEditeur`.
    #[serde(rename = "nomEditeur")]
    pub publisher: Option<String>,
    /// `urlVignette`.
    #[serde(rename = "urlVignette")]
    pub logo_url: Option<String>,
    /// `urlAccesRessource`: through the gateway.
    #[serde(rename = "urlAccesRessource")]
    pub access_url: String,
    /// `typePedagogique`.
    #[serde(rename = "typePedagogique")]
    pub pedagogical_types: Vec<String>,
    /// `niveauEducatif`.
    #[serde(rename = "niveauEducatif")]
    pub education_levels: Vec<String>,
    /// `domaineEnseignement`.
    #[serde(rename = "domaineEnseignement")]
    pub subject_areas: Vec<String>,
}

/// The resources `identity` may open now, in registry order.
pub async fn offer(state: &AppState, identity: &Identity) -> Result<Vec<Tile>, WebError> {
    let uais: Vec<String> = identity
        .uais()
        .iter()
        .map(|u| u.as_str().to_owned())
        .collect();
    let schools = state
        .school_cache
        .of_schools(state.store.as_ref(), &uais)
        .await?;
    let mut by_resource: HashMap<&str, Vec<&[Subscription]>> = HashMap::new();
    for group in schools
        .iter()
        .flat_map(|school| school.chunk_by(|a, b| a.resource_id == b.resource_id))
    {
        if let Some(first) = group.first() {
            by_resource
                .entry(first.resource_id.as_str())
                .or_default()
                .push(group);
        }
    }
    let today = Utc::now().date_naive();
    let subject = Subject::of(identity);
    let mut tiles = Vec::new();
    let registry = state.registry.get();
    for service in registry.services() {
        let (Some(resource_id), Some(tile)) = (&service.resource_id, &service.mediacentre) else {
            continue;
        };
        if service.kind != ServiceKind::Resource {
            continue;
        }
        let Some(seen) = admitted(service, &subject, today) else {
            continue;
        };
        let seen_subject;
        let facts = match &seen {
            Cow::Borrowed(_) => &subject,
            Cow::Owned(other) => {
                seen_subject = Subject::of(other);
                &seen_subject
            }
        };
        let subscribed = if seen.values(attr::UAI) == identity.values(attr::UAI) {
            by_resource.get(resource_id.as_str()).is_some_and(|groups| {
                groups
                    .iter()
                    .any(|group| decide_for(group, facts, resource_id, today).is_ok())
            })
        } else {
            // A grant gives the user another school: that school's subscriptions.
            let uais: Vec<String> = seen.values(attr::UAI).to_vec();
            let schools = state
                .school_cache
                .of_schools(state.store.as_ref(), &uais)
                .await?;
            schools
                .iter()
                .any(|school| decide_for(school, facts, resource_id, today).is_ok())
        };
        if !subscribed {
            continue;
        }
        tiles.push(Tile {
            resource_id: resource_id.clone(),
            name: service.display_name.clone(),
            publisher: service.publisher.clone(),
            logo_url: tile.logo_url.clone(),
            access_url: format!("{}/mediacentre/ouvrir/{}", state.urls.base, service.id),
            pedagogical_types: tile.pedagogical_types.clone(),
            education_levels: tile.education_levels.clone(),
            subject_areas: tile.subject_areas.clone(),
        });
    }
    Ok(tiles)
}

/// The user as `service` would see them, when its rules admit them (a
/// grant may give another school). A login lacking the authentication
/// context the service requires still lists it: opening it asks for a
/// stronger login.
fn admitted<'i>(
    service: &ServiceDefinition,
    subject: &Subject<'i>,
    today: NaiveDate,
) -> Option<Cow<'i, Identity>> {
    let identity = subject.identity();
    match service.admit_subject(subject, today) {
        Ok(admission) => Some(admission.apply(identity)),
        Err(AccessDenied::AuthnContext { required, .. }) => {
            let mut stronger = identity.clone();
            stronger.authn_context = required.first().cloned();
            let admission = service.admit(&stronger, today).ok()?;
            Some(Cow::Owned(admission.apply(&stronger).into_owned()))
        }
        Err(_) => None,
    }
}

async fn session(state: &AppState, jar: &CookieJar) -> Result<Option<Session>, WebError> {
    let Some(id) = jar.get(&state.config.session.cookie_name) else {
        return Ok(None);
    };
    Ok(state.sessions().get(id, Utc::now().timestamp()).await?)
}

/// Query of an ENT's server-to-server call.
#[derive(Debug, Deserialize)]
pub struct ApiQuery {
    /// The identifier the gateway sent the ENT for the user (its NameID).
    utilisateur: Option<String>,
}

fn api_refusal(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "erreur": message }))).into_response()
}

/// The ENT whose médiacentre token is `digest`, compared in constant time.
fn ent_of_token(registry: &Registry, digest: &[u8; 32]) -> Option<String> {
    registry
        .services()
        .filter(|service| {
            service
                .mediacentre_api_token_sha256
                .is_some_and(|expected| super::same_digest(&expected, digest))
        })
        .map(|service| service.id.clone())
        .next()
}

/// `GET /api/mediacentre`: `{"ressources": [...]}` for a user, who is
/// either the browser's session (cookie), or, server to server, the user an
/// ENT names by the identifier the gateway sent it
/// (`?utilisateur=<NameID>`), the ENT authenticated by its bearer token
/// (`[mediacentre_api]` of its service file). The user's session must still
/// be live; it is not refreshed by the ENT's call. 401 without a session or
/// with an unknown token, 400 without `utilisateur`, 404 when that user has
/// no live session through this ENT.
pub async fn api(
    State(state): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    Query(query): Query<ApiQuery>,
) -> Result<Response, WebError> {
    let identity = match super::bearer_digest(&headers) {
        Some(digest) => {
            let Some(ent) = ent_of_token(&state.registry.get(), &digest) else {
                tracing::warn!("médiacentre API call refused: unknown token");
                return Ok(api_refusal(StatusCode::UNAUTHORIZED, "jeton inconnu"));
            };
            let Some(user) = query.utilisateur.filter(|user| !user.is_empty()) else {
                return Ok(api_refusal(
                    StatusCode::BAD_REQUEST,
                    "paramètre utilisateur manquant : l'identifiant transmis à l'ENT à la connexion",
                ));
            };
            let now = Utc::now().timestamp();
            match state.sessions().of_service_user(&ent, &user, now).await? {
                Some(session) => session.identity,
                None => {
                    return Ok(api_refusal(
                        StatusCode::NOT_FOUND,
                        "aucune session active de cet utilisateur par cet ENT",
                    ));
                }
            }
        }
        None => match session(&state, &jar).await? {
            Some(session) => session.identity,
            None => {
                return Ok(api_refusal(
                    StatusCode::UNAUTHORIZED,
                    "aucune session : connectez-vous d'abord",
                ));
            }
        },
    };
    let tiles = offer(&state, &identity).await?;
    Ok(Json(serde_json::json!({ "ressources": tiles })).into_response())
}

/// `GET /mediacentre`: the tiles, or an invitation to log in first.
pub async fn page(State(state): State<AppState>, jar: CookieJar) -> Result<Response, WebError> {
    let tiles = match session(&state, &jar).await? {
        Some(session) => Some(offer(&state, &session.identity).await?),
        None => None,
    };
    let page = state
        .pages
        .mediacentre(tiles.as_deref())
        .map_err(|err| WebError::Internal(err.to_string()))?;
    Ok(axum::response::Html(page).into_response())
}

/// `GET /mediacentre/ouvrir/{id}`: checks the access now, then starts the
/// resource's login.
pub async fn open(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let Some(session) = session(&state, &jar).await? else {
        return Ok(Redirect::to("/mediacentre").into_response());
    };
    let registry = state.registry.get();
    let service = registry
        .by_id(&id)
        .filter(|s| s.kind == ServiceKind::Resource)
        .ok_or_else(|| WebError::UnknownService(format!("no resource {id}")))?;
    let tile = service.mediacentre.as_ref().ok_or_else(|| {
        WebError::UnknownService(format!("resource {id} is not in the médiacentre"))
    })?;
    // A login lacking the context the resource requires goes on: the
    // resource's login asks for a stronger one, then checks everything.
    let required = super::downstream::required_contexts(service, &[]);
    if !super::downstream::needs_step_up(required.as_deref(), &session.identity) {
        crate::events::count_access(
            &state,
            &session.identity,
            &service.id,
            crate::observe::prometheus::Protocol::Mediacentre,
            super::downstream::may_open(&state, service, &session.identity).await,
        )?;
    }
    Ok(Redirect::to(&tile.access_url).into_response())
}
