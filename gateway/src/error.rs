//! Failure families of the web layer, each with its status code and French
//! page. Handlers return [`WebError`]; a middleware renders the page (so the
//! rendering is written once). Details for operators go to the logs, never to
//! the page; the page shows a short reference that matches the log line.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// What went wrong, as the user must be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebError {
    /// The message is malformed or refused.
    BadRequest(String),
    /// The requesting service is not registered.
    UnknownService(String),
    /// The upstream login could not be accepted.
    LoginFailed(String),
    /// The upstream identity provider answered with an error (the user
    /// cancelled, or the provider refused the login).
    UpstreamCancelled(String),
    /// A trusted-header login reached the gateway without going through a
    /// trusted proxy.
    ProxyRequired(String),
    /// The person may not use the service.
    AccessDenied(String),
    /// The service is reserved to other schools (or the opening to the
    /// person's school is not in force).
    NotForYourSchool(String),
    /// The service requires a stronger login than the one made.
    StrongerLoginRequired(String),
    /// No subscription of the person's school covers them for this resource.
    NoSubscription(String),
    /// The person has no (active) entry in the académie directory and the
    /// configuration requires one.
    NotInDirectory(String),
    /// The pending request expired or belongs to another browser.
    Expired(String),
    /// The shared store is unreachable.
    Unavailable(String),
    /// This replica is saturated: the request was shed (load shedding).
    Overloaded(String),
    /// The client IP sent more requests than its ceiling allows.
    TooManyRequests(String),
    /// The request's header fields are too many or too large.
    HeadersTooLarge(String),
    /// The request target (URL) is too long.
    UriTooLong(String),
    /// A bug or an unexpected failure.
    Internal(String),
}

/// Attached to error responses so that the page middleware can render them.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    /// Page title.
    pub title: &'static str,
    /// Main message.
    pub message: &'static str,
    /// What the user can do.
    pub hint: Option<&'static str>,
    /// Correlation reference shown to the user and logged.
    pub reference: String,
}

impl WebError {
    fn status(&self) -> StatusCode {
        match self {
            WebError::BadRequest(_) | WebError::UnknownService(_) | WebError::Expired(_) => {
                StatusCode::BAD_REQUEST
            }
            WebError::LoginFailed(_) | WebError::UpstreamCancelled(_) => StatusCode::UNAUTHORIZED,
            WebError::ProxyRequired(_) => StatusCode::FORBIDDEN,
            WebError::AccessDenied(_)
            | WebError::NotForYourSchool(_)
            | WebError::StrongerLoginRequired(_)
            | WebError::NoSubscription(_)
            | WebError::NotInDirectory(_) => StatusCode::FORBIDDEN,
            WebError::Unavailable(_) | WebError::Overloaded(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            WebError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            WebError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn page(&self) -> (&'static str, &'static str, Option<&'static str>) {
        match self {
            WebError::BadRequest(_) => (
                "Demande invalide",
                "La demande de connexion reçue n'est pas valide.",
                Some("Revenez au service que vous vouliez ouvrir et réessayez."),
            ),
            WebError::UnknownService(_) => (
                "Service inconnu",
                "Le service qui a demandé votre connexion n'est pas reconnu par la plateforme.",
                Some("Prévenez l'administrateur de votre établissement."),
            ),
            WebError::LoginFailed(_) => (
                "La connexion a échoué",
                "Votre identification n'a pas pu être vérifiée.",
                Some("Fermez cette page et connectez-vous à nouveau depuis l'ENT."),
            ),
            WebError::UpstreamCancelled(_) => (
                "Connexion non aboutie",
                "Le service d'identification n'a pas accordé la connexion : elle a été annulée ou refusée.",
                Some("Revenez au service que vous vouliez ouvrir et connectez-vous à nouveau."),
            ),
            WebError::ProxyRequired(_) => (
                "Connexion impossible par ce chemin",
                "Cette méthode de connexion n'est possible qu'en passant par le portail d'authentification de votre académie.",
                Some("Connectez-vous sur le portail de votre académie, puis rouvrez le service."),
            ),
            WebError::AccessDenied(_) => (
                "Accès refusé",
                "Votre profil ne permet pas d'accéder à ce service.",
                Some("Si vous pensez que c'est une erreur, adressez-vous à votre établissement."),
            ),
            WebError::NotForYourSchool(_) => (
                "Accès refusé",
                "Ce service est réservé à certains établissements, et il n'est pas ouvert aujourd'hui aux élèves ou personnels du vôtre.",
                Some("Si vous pensez que c'est une erreur, adressez-vous à votre établissement."),
            ),
            WebError::StrongerLoginRequired(_) => (
                "Connexion renforcée requise",
                "Ce service demande une connexion renforcée (par exemple avec votre clé OTP), que votre connexion ne fournit pas.",
                Some(
                    "Déconnectez-vous, puis reconnectez-vous avec votre clé OTP. En cas de difficulté, adressez-vous à l'assistance de votre académie.",
                ),
            ),
            WebError::NoSubscription(_) => (
                "Ressource non disponible",
                "Votre établissement n'a pas d'abonnement à cette ressource qui vous soit ouvert, ou cet abonnement n'est plus valable.",
                Some(
                    "Si vous pensez que c'est une erreur, adressez-vous au professeur documentaliste ou à la direction de votre établissement.",
                ),
            ),
            WebError::NotInDirectory(_) => (
                "Compte introuvable dans l'annuaire",
                "Votre identité a bien été vérifiée, mais votre compte ne figure pas (ou plus) dans l'annuaire de votre académie.",
                Some(
                    "Adressez-vous au secrétariat de votre établissement : il peut vérifier votre inscription.",
                ),
            ),
            WebError::Expired(_) => (
                "Votre demande a expiré",
                "La demande de connexion a expiré ou a été ouverte dans un autre navigateur.",
                Some("Revenez au service que vous vouliez ouvrir et réessayez."),
            ),
            WebError::Unavailable(_) => (
                "Service momentanément indisponible",
                "La plateforme de connexion est momentanément indisponible.",
                Some("Réessayez dans quelques instants."),
            ),
            WebError::Overloaded(_) => (
                "Service momentanément indisponible",
                "La plateforme de connexion reçoit trop de demandes en ce moment.",
                Some("Réessayez dans quelques secondes."),
            ),
            WebError::TooManyRequests(_) => (
                "Trop de demandes",
                "Trop de demandes sont arrivées depuis votre réseau en peu de temps.",
                Some("Patientez quelques secondes, puis réessayez."),
            ),
            WebError::HeadersTooLarge(_) => (
                "Demande trop volumineuse",
                "Votre navigateur a envoyé des en-têtes trop nombreux ou trop longs.",
                Some(
                    "Effacez les cookies de ce site dans votre navigateur, puis réessayez depuis le service que vous vouliez ouvrir.",
                ),
            ),
            WebError::UriTooLong(_) => (
                "Adresse trop longue",
                "L'adresse demandée est trop longue pour être traitée.",
                Some("Revenez au service que vous vouliez ouvrir et réessayez."),
            ),
            WebError::Internal(_) => (
                "Erreur inattendue",
                "Une erreur inattendue s'est produite.",
                Some("Réessayez dans quelques instants."),
            ),
        }
    }

    fn detail(&self) -> &str {
        match self {
            WebError::BadRequest(d)
            | WebError::UnknownService(d)
            | WebError::LoginFailed(d)
            | WebError::UpstreamCancelled(d)
            | WebError::ProxyRequired(d)
            | WebError::AccessDenied(d)
            | WebError::NotForYourSchool(d)
            | WebError::StrongerLoginRequired(d)
            | WebError::NotInDirectory(d)
            | WebError::NoSubscription(d)
            | WebError::Expired(d)
            | WebError::Unavailable(d)
            | WebError::Overloaded(d)
            | WebError::TooManyRequests(d)
            | WebError::HeadersTooLarge(d)
            | WebError::UriTooLong(d)
            | WebError::Internal(d) => d,
        }
    }
}

impl From<sso_store::StoreError> for WebError {
    fn from(err: sso_store::StoreError) -> Self {
        if err.is_unavailable() {
            WebError::Unavailable(err.to_string())
        } else {
            WebError::Internal(err.to_string())
        }
    }
}

impl From<sp_registry::AccessDenied> for WebError {
    fn from(denied: sp_registry::AccessDenied) -> Self {
        use sp_registry::AccessDenied as D;
        let detail = denied.to_string();
        match denied {
            D::AuthnContext { .. } => WebError::StrongerLoginRequired(detail),
            D::NoProfile { .. } | D::ProfileNotAllowed { .. } => WebError::AccessDenied(detail),
            D::SchoolNotAllowed { .. }
            | D::LevelNotAllowed { .. }
            | D::GrantNotValidToday { .. } => WebError::NotForYourSchool(detail),
        }
    }
}

impl From<sp_registry::UnknownIdentifierKey> for WebError {
    fn from(err: sp_registry::UnknownIdentifierKey) -> Self {
        WebError::Internal(err.to_string())
    }
}

impl From<crate::subscriptions::SubscriptionStoreError> for WebError {
    fn from(err: crate::subscriptions::SubscriptionStoreError) -> Self {
        match err {
            crate::subscriptions::SubscriptionStoreError::Store(err) => WebError::from(err),
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl From<crate::subscriptions::AccessError> for WebError {
    fn from(err: crate::subscriptions::AccessError) -> Self {
        match err {
            crate::subscriptions::AccessError::Refused(refusal) => {
                WebError::NoSubscription(refusal.to_string())
            }
            crate::subscriptions::AccessError::Store(err) => WebError::from(err),
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let reference = crate::random_token().chars().take(10).collect::<String>();
        let status = self.status();
        if matches!(self, WebError::Overloaded(_) | WebError::TooManyRequests(_)) {
            // Counted by metrics; one log line per refused request would
            // add load exactly when the replica is saturated.
            tracing::debug!(
                reference,
                status = status.as_u16(),
                detail = self.detail(),
                "request shed"
            );
        } else if status.is_server_error() {
            tracing::error!(
                reference,
                status = status.as_u16(),
                detail = self.detail(),
                "request failed"
            );
        } else {
            tracing::warn!(
                reference,
                status = status.as_u16(),
                detail = self.detail(),
                "request refused"
            );
        }
        let (title, message, hint) = self.page();
        let mut response = status.into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response.extensions_mut().insert(ErrorPage {
            title,
            message,
            hint,
            reference,
        });
        response
    }
}
