//! The upstream identity providers of the discovery page, whatever their
//! protocol (architecture "A login, step by step", step 3): SAML 2.0 IdPs
//! (`[[idp]]`), OpenID Connect providers (`[[oidc_idp]]`, the gateway as
//! relying party) and trusted reverse proxies passing the identity in
//! headers (`[[header_idp]]`, the agents' ARENA portal).
//!
//! Their ids share one namespace (`/login/{id}`, the `idp` of every
//! identity); the discovery page lists them in the order of their tables in
//! the configuration file, whatever their kind. This module also builds the
//! OpenID Connect and header connectors from the configuration, reporting
//! each problem with its file, line and field.
//!
//! Isolation (architecture "High availability"): every SAML and OpenID
//! Connect upstream has its own [`UpstreamGuard`] (timeouts, bulkhead,
//! circuit breaker, from its `resilience` table); [`Upstream::availability`]
//! tells the login pages whether to send users to it, and
//! [`spawn_health_checks`] polls the `health_url`s that feed the breakers.
//! Trusted-header upstreams have no back channel and no breaker.

use std::sync::Arc;

use idp_connectors::breaker::{BreakerState, Rejected};
use idp_connectors::config::{HeaderIdpConfig, OidcIdpConfig};
use idp_connectors::headers::HeaderConnector;
use idp_connectors::mapping::Mapping;
use idp_connectors::oidc::{ClientSecret, OidcConnector};
use idp_connectors::resilience::{self, ResilienceConfig, UpstreamGuard};
use idp_connectors::saml::SamlConnector;

use crate::config::{ConfigProblem, LoadedConfig};

/// One upstream identity provider.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// A SAML 2.0 IdP (the gateway is its SP).
    Saml(Arc<SamlConnector>),
    /// An OpenID Connect provider (the gateway is its relying party).
    Oidc(Arc<OidcConnector>),
    /// A trusted reverse proxy passing the identity in headers.
    Headers(Arc<HeaderConnector>),
}

impl Upstream {
    /// The id, unique across kinds (`/login/{id}`).
    pub fn id(&self) -> &str {
        match self {
            Upstream::Saml(c) => c.id(),
            Upstream::Oidc(c) => c.id(),
            Upstream::Headers(c) => c.id(),
        }
    }

    /// Title of the discovery button (French).
    pub fn label(&self) -> &str {
        match self {
            Upstream::Saml(c) => &c.config().label,
            Upstream::Oidc(c) => &c.config().label,
            Upstream::Headers(c) => &c.config().label,
        }
    }

    /// Second line of the discovery button.
    pub fn description(&self) -> Option<&str> {
        match self {
            Upstream::Saml(c) => c.config().description.as_deref(),
            Upstream::Oidc(c) => c.config().description.as_deref(),
            Upstream::Headers(c) => c.config().description.as_deref(),
        }
    }

    /// The breaker, bulkhead and timeouts of this upstream (none for
    /// trusted headers).
    pub fn guard(&self) -> Option<&Arc<UpstreamGuard>> {
        match self {
            Upstream::Saml(c) => Some(c.guard()),
            Upstream::Oidc(c) => Some(c.guard()),
            Upstream::Headers(_) => None,
        }
    }

    /// The `resilience` table of this upstream (none for trusted headers).
    pub fn resilience(&self) -> Option<&ResilienceConfig> {
        match self {
            Upstream::Saml(c) => Some(&c.config().resilience),
            Upstream::Oidc(c) => Some(&c.config().resilience),
            Upstream::Headers(_) => None,
        }
    }

    /// `Ok` when users may be sent to this upstream now: its breaker is
    /// closed, or half-open with its trial call still free, unless a health
    /// check is configured: the health check then makes the trial call and
    /// users wait for its verdict (a SAML login has no back-channel call
    /// that could be the trial).
    pub fn availability(&self) -> Result<(), Rejected> {
        let (Some(guard), Some(config)) = (self.guard(), self.resilience()) else {
            return Ok(());
        };
        let breaker = guard.breaker();
        breaker.check()?;
        if config.health_url.is_some() && breaker.state() == BreakerState::HalfOpen {
            return Err(Rejected {
                retry_after: std::time::Duration::from_secs(config.health_interval_seconds),
            });
        }
        Ok(())
    }

    /// The SAML connector, when this is a SAML IdP.
    pub fn as_saml(&self) -> Option<&Arc<SamlConnector>> {
        match self {
            Upstream::Saml(c) => Some(c),
            Upstream::Oidc(_) | Upstream::Headers(_) => None,
        }
    }

    /// The OpenID Connect connector, when this is an OpenID provider.
    pub fn as_oidc(&self) -> Option<&Arc<OidcConnector>> {
        match self {
            Upstream::Oidc(c) => Some(c),
            Upstream::Saml(_) | Upstream::Headers(_) => None,
        }
    }
}

/// The environment variable that overrides the client secret of the
/// OpenID provider `id`: `SSO_OIDC_CLIENT_SECRET_<ID>`, the id upper-cased
/// with every character other than a letter or digit turned into `_`
/// (`educonnect-oidc` → `SSO_OIDC_CLIENT_SECRET_EDUCONNECT_OIDC`).
pub fn secret_env_var(id: &str) -> String {
    let suffix: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("SSO_OIDC_CLIENT_SECRET_{suffix}")
}

/// The client secret: the environment variable when set, else the file.
/// Neither the secret nor the file's contents ever appear in a problem.
fn client_secret(
    loaded: &LoadedConfig,
    config: &OidcIdpConfig,
    field: &str,
) -> Result<ClientSecret, ConfigProblem> {
    if let Ok(secret) = std::env::var(secret_env_var(config.id.get_ref())) {
        return Ok(ClientSecret::new(secret));
    }
    let path = config.client_secret_file.get_ref();
    let text = std::fs::read_to_string(path).map_err(|err| {
        loaded.problem_at(
            &config.client_secret_file,
            field,
            format!("cannot read the file {}: {err}", path.display()),
        )
    })?;
    if text.trim().is_empty() {
        return Err(loaded.problem_at(
            &config.client_secret_file,
            field,
            format!("the file {} is empty", path.display()),
        ));
    }
    Ok(ClientSecret::new(text))
}

/// Starts the background health check of every upstream with a
/// `resilience.health_url`, for as long as its connector lives.
pub fn spawn_health_checks(upstreams: &[Upstream]) -> Result<(), reqwest::Error> {
    for upstream in upstreams {
        let (Some(guard), Some(config)) = (upstream.guard(), upstream.resilience()) else {
            continue;
        };
        if let Some(url) = &config.health_url {
            guard.spawn_health_check(
                url.clone(),
                std::time::Duration::from_secs(config.health_interval_seconds),
                resilience::http_client(config)?,
            );
        }
    }
    Ok(())
}

/// The problems of the `resilience` table of the upstream `table`
/// (`idp[0]`, `oidc_idp[1]`), located at the upstream's `id`.
pub fn resilience_problems(
    loaded: &LoadedConfig,
    table: &str,
    id: &toml::Spanned<String>,
    config: &ResilienceConfig,
) -> Vec<ConfigProblem> {
    config
        .problems()
        .into_iter()
        .map(|problem| {
            loaded.problem_at(
                id,
                format!("{table}.resilience.{}", problem.field),
                problem.reason,
            )
        })
        .collect()
}

/// The path of the callback of the OpenID provider `id` (one per provider:
/// the mix-up defence).
pub fn oidc_callback_path(id: &str) -> String {
    format!("/oidc/callback/{id}")
}

/// Builds the connector of `[[oidc_idp]]` number `index`: its mapping, its
/// client secret, its `redirect_uri` (which must be a URL of this gateway's
/// callback for this provider, `<public_url>/oidc/callback/<id>`), then the
/// provider's discovery document and keys (or the copy in `cache_file`),
/// over an HTTP client of its own with the timeouts of its `resilience`
/// table.
pub async fn oidc_connector(
    loaded: &LoadedConfig,
    index: usize,
    config: &OidcIdpConfig,
    mapping: Option<&Mapping>,
) -> Result<OidcConnector, Vec<ConfigProblem>> {
    let field = |name: &str| format!("oidc_idp[{index}].{name}");
    let mut config = config.clone();
    config.resolve_paths(&loaded.base);
    let mut problems = resilience_problems(
        loaded,
        &format!("oidc_idp[{index}]"),
        &config.id,
        &config.resilience,
    );
    let mapping = match mapping {
        Some(mapping) => Some(mapping.clone()),
        None => {
            problems.push(loaded.problem_at(
                &config.mapping,
                field("mapping"),
                format!("no [mapping.{}] table", config.mapping.get_ref()),
            ));
            None
        }
    };
    let secret = client_secret(loaded, &config, &field("client_secret_file"))
        .map_err(|p| problems.push(p))
        .ok();
    let expected = oidc_callback_path(config.id.get_ref());
    let path_fits = url::Url::parse(config.redirect_uri.get_ref())
        .is_ok_and(|url| url.query().is_none() && url.path().ends_with(&expected));
    if !path_fits {
        problems.push(loaded.problem_at(
            &config.redirect_uri,
            field("redirect_uri"),
            format!(
                "must be the URL of this gateway's callback for this provider, <public_url>{expected} (registered at the provider)"
            ),
        ));
    }
    let (Some(mapping), Some(secret), true) = (mapping, secret, problems.is_empty()) else {
        return Err(problems);
    };
    let issuer = config.issuer.clone();
    let http = resilience::http_client(&config.resilience).map_err(|err| {
        vec![loaded.problem_at(
            &config.id,
            field("resilience"),
            format!("cannot build the HTTP client: {err}"),
        )]
    })?;
    OidcConnector::new(config, mapping, secret, http)
        .await
        .map_err(|err| vec![loaded.problem_at(&issuer, field("issuer"), err.to_string())])
}

/// Builds the connector of `[[header_idp]]` number `index`.
pub fn header_connector(
    loaded: &LoadedConfig,
    index: usize,
    config: &HeaderIdpConfig,
    mapping: Option<&Mapping>,
) -> Result<HeaderConnector, ConfigProblem> {
    let field = |name: &str| format!("header_idp[{index}].{name}");
    let mapping = mapping.ok_or_else(|| {
        loaded.problem_at(
            &config.mapping,
            field("mapping"),
            format!("no [mapping.{}] table", config.mapping.get_ref()),
        )
    })?;
    HeaderConnector::new(config.clone(), mapping.clone()).map_err(|err| {
        use idp_connectors::headers::HeaderConfigError as E;
        let (span, name) = match &err {
            E::NoTrustedProxies | E::BadProxy(_) => (
                config
                    .trusted_proxies
                    .first()
                    .map_or_else(|| config.id.span(), toml::Spanned::span),
                "trusted_proxies",
            ),
            E::BadHeaderName(_) => (config.subject_header.span(), "subject_header"),
            E::EmptySeparator => (config.id.span(), "separator"),
        };
        loaded.problem_at(&toml::Spanned::new(span, ()), field(name), err.to_string())
    })
}
