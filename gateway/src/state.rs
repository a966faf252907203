//! Building the running gateway from its configuration: keys, identifier
//! secret, downstream registry, attribute mappings, upstream connectors of
//! every kind (SAML metadata, OpenID Connect discovery and keys, trusted
//! proxies). Every problem is collected with its file, line and field;
//! `check-config` prints them and `serve` refuses to start on any.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use idp_connectors::metadata::MetadataSource;
use idp_connectors::saml::{SamlConnector, SpSettings};
use sp_registry::{IdentifierKey, IdentifierKeys, Registry, RegistryErrors};
use sso_directory::store::Directory;
use sso_saml::keys::SigningKey;
use sso_store::Store;

use crate::config::{ConfigProblem, ConfigProblems, GatewayConfig, LoadedConfig};
use crate::oidc::ProviderKeys;
use crate::pages::Pages;
use crate::registry::SharedRegistry;
use crate::session::Sessions;
use crate::upstreams::{self, Upstream};

/// Public endpoints, derived from `server.public_url`.
#[derive(Debug, Clone)]
pub struct Urls {
    /// Base URL without trailing slash.
    pub base: String,
    /// Downstream IdP: metadata.
    pub idp_metadata: String,
    /// Downstream IdP: single sign-on.
    pub idp_sso: String,
    /// Downstream IdP: single logout.
    pub idp_slo: String,
    /// Upstream SP: metadata.
    pub sp_metadata: String,
    /// Upstream SP: assertion consumer service.
    pub sp_acs: String,
    /// Upstream SP: single logout.
    pub sp_slo: String,
    /// OpenID provider: issuer identifier (the base URL).
    pub oidc_issuer: String,
    /// OpenID provider: authorization endpoint.
    pub oidc_authorize: String,
    /// OpenID provider: token endpoint.
    pub oidc_token: String,
    /// OpenID provider: userinfo endpoint.
    pub oidc_userinfo: String,
    /// OpenID provider: JWKS.
    pub oidc_jwks: String,
    /// OpenID provider: RP-initiated logout.
    pub oidc_end_session: String,
    /// Upstream OpenID Connect: where the providers send the browser back
    /// after an RP-initiated logout (`post_logout_redirect_uri`).
    pub oidc_logout_return: String,
}

impl Urls {
    /// Endpoints under a base URL.
    pub fn new(base: &str) -> Self {
        let base = base.trim_end_matches('/').to_owned();
        Self {
            idp_metadata: format!("{base}/saml/idp/metadata"),
            idp_sso: format!("{base}/saml/idp/sso"),
            idp_slo: format!("{base}/saml/idp/slo"),
            sp_metadata: format!("{base}/saml/sp/metadata"),
            sp_acs: format!("{base}/saml/sp/acs"),
            sp_slo: format!("{base}/saml/sp/slo"),
            oidc_issuer: base.clone(),
            oidc_authorize: format!("{base}/oidc/authorize"),
            oidc_token: format!("{base}/oidc/token"),
            oidc_userinfo: format!("{base}/oidc/userinfo"),
            oidc_jwks: format!("{base}/oidc/jwks"),
            oidc_end_session: format!("{base}/oidc/logout"),
            oidc_logout_return: format!("{base}/oidc/logout/return"),
            base,
        }
    }
}

/// Everything the configuration files define, validated; no connection yet.
pub struct Prepared {
    /// The configuration.
    pub config: GatewayConfig,
    /// Endpoints.
    pub urls: Urls,
    /// Downstream services.
    pub registry: Arc<Registry>,
    /// Upstream identity providers, in discovery order.
    pub upstreams: Vec<Upstream>,
    /// Each SAML connector with where its metadata comes from (for
    /// background refresh).
    pub metadata_sources: Vec<(MetadataSource, Arc<SamlConnector>)>,
    /// Signing key of both roles.
    pub signing_key: Arc<SigningKey>,
    /// Keys deriving opaque identifiers (current and previous).
    pub identifier_keys: Arc<IdentifierKeys>,
    /// Page templates.
    pub pages: Arc<Pages>,
    /// SHA-256 of the admin API token, when the API is on.
    pub admin_token: Option<[u8; 32]>,
    /// The OpenID provider's signing keys.
    pub oidc_keys: Arc<ProviderKeys>,
}

/// The running gateway's shared state.
#[derive(Clone)]
pub struct AppState {
    /// The configuration.
    pub config: Arc<GatewayConfig>,
    /// Endpoints.
    pub urls: Arc<Urls>,
    /// Shared state.
    pub store: Arc<dyn Store>,
    /// The AAF directory, in the same store.
    pub directory: Directory,
    /// Downstream services.
    pub registry: SharedRegistry,
    /// Upstream identity providers, in discovery order.
    pub upstreams: Arc<Vec<Upstream>>,
    /// Signing key.
    pub signing_key: Arc<SigningKey>,
    /// Keys deriving opaque identifiers (current and previous).
    pub identifier_keys: Arc<IdentifierKeys>,
    /// Page templates.
    pub pages: Arc<Pages>,
    /// HTTP client for back-channel calls (no redirects followed).
    pub http: reqwest::Client,
    /// SHA-256 of the admin API token, when the API is on.
    pub admin_token: Option<[u8; 32]>,
    /// Link shown on the home page in the demo.
    pub demo_link: Option<String>,
    /// This replica's decoded subscriptions of each school (médiacentre).
    pub school_cache: Arc<crate::subscriptions::SchoolCache>,
    /// The OpenID provider's signing keys.
    pub oidc_keys: Arc<ProviderKeys>,
    /// Whether this replica is draining (SIGTERM received).
    pub lifecycle: crate::server::Lifecycle,
    /// Where the metrics listener listens, when `[metrics]` is set.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Trusted proxies, request ceiling, load shedding, failure counting.
    pub limits: Arc<crate::limits::Limits>,
    /// Who may read the steering statistics.
    pub steering: Arc<crate::steering::Steering>,
    /// The connection traces (disabled without `[audit]`).
    pub audit: crate::audit::AuditTrail,
    /// This replica's anonymous usage statistics recorder.
    pub statistics: Arc<crate::stats::Statistics>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("urls", &self.urls)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Session operations with the configured timeouts.
    pub fn sessions(&self) -> Sessions<'_> {
        let s = &self.config.session;
        Sessions::new(
            self.store.as_ref(),
            Duration::from_secs(s.idle_timeout_seconds),
            Duration::from_secs(s.absolute_timeout_seconds),
            Duration::from_secs(s.flow_timeout_seconds),
        )
    }

    /// The upstream identity provider with this id, whatever its kind.
    pub fn upstream(&self, id: &str) -> Option<&Upstream> {
        self.upstreams.iter().find(|u| u.id() == id)
    }

    /// The SAML connectors, in discovery order.
    pub fn saml_connectors(&self) -> impl Iterator<Item = &Arc<SamlConnector>> {
        self.upstreams.iter().filter_map(Upstream::as_saml)
    }

    /// The SAML connector with this id.
    pub fn connector(&self, id: &str) -> Option<&Arc<SamlConnector>> {
        self.upstream(id).and_then(Upstream::as_saml)
    }

    /// The SAML connector of this upstream entityID.
    pub fn connector_by_entity(&self, entity_id: &str) -> Option<&Arc<SamlConnector>> {
        self.saml_connectors()
            .find(|c| c.config().entity_id.get_ref() == entity_id)
    }
}

/// An HTTP client that never follows redirects (SSRF) and bounds every call:
/// 2 s to connect (a dead peer fails fast), 10 s in all.
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .build()
}

/// Validates the configuration and loads everything it points to.
pub async fn prepare(
    loaded: &LoadedConfig,
    http: &reqwest::Client,
) -> Result<Prepared, ConfigProblems> {
    let config = &loaded.config;
    let mut problems: Vec<ConfigProblem> = Vec::new();

    let public_url = config.server.public_url.get_ref();
    if url::Url::parse(public_url).is_err() {
        problems.push(loaded.problem_at(
            &config.server.public_url,
            "server.public_url",
            "not an absolute URL",
        ));
    }
    let urls = Urls::new(public_url);
    if let Some(metrics) = &config.metrics
        && metrics
            .listen
            .get_ref()
            .parse::<std::net::SocketAddr>()
            .is_err()
    {
        problems.push(loaded.problem_at(
            &metrics.listen,
            "metrics.listen",
            "not an address and port (e.g. \"0.0.0.0:9100\")",
        ));
    }
    let share = config.directory.max_removed_share;
    if !(0.0..=1.0).contains(&share) {
        problems.push(ConfigProblem {
            file: loaded.path.clone(),
            line: None,
            field: Some("directory.max_removed_share".to_owned()),
            message: format!("{share} is not a share between 0 and 1 (0.2 = 20 %)"),
        });
    }

    let keys = &config.keys;
    let load_pair = |key: &toml::Spanned<std::path::PathBuf>,
                     cert: &toml::Spanned<std::path::PathBuf>,
                     field: &str| {
        SigningKey::from_pem_files(
            &loaded.resolve(key.get_ref()),
            &loaded.resolve(cert.get_ref()),
        )
        .map(Arc::new)
        .map_err(|err| loaded.problem_at(key, field, err.to_string()))
    };
    let signing_key = load_pair(&keys.signing_key, &keys.signing_cert, "keys.signing_key")
        .map_err(|p| problems.push(p))
        .ok();
    let encryption_key = load_pair(
        &keys.encryption_key,
        &keys.encryption_cert,
        "keys.encryption_key",
    )
    .map_err(|p| problems.push(p))
    .ok();
    let identifier_keys = identifier_keys(loaded)
        .map(Arc::new)
        .map_err(|p| problems.extend(p))
        .ok();

    let registry = Registry::load_dir(&loaded.resolve(config.registry.services_dir.get_ref()))
        .and_then(|registry| match &identifier_keys {
            Some(keys) => registry.check_identifier_keys(keys).map(|()| registry),
            None => Ok(registry),
        })
        .map(Arc::new)
        .map_err(|errors| problems.extend(registry_problems(&errors)))
        .ok();

    let mappings = loaded
        .mappings()
        .map_err(|p| problems.extend(p))
        .unwrap_or_default();
    let pages = crate::legal::Legal::load(loaded)
        .map_err(|p| problems.extend(p))
        .ok()
        .and_then(|legal| {
            Pages::new(legal)
                .map(Arc::new)
                .map_err(|err| {
                    problems.push(ConfigProblem {
                        file: loaded.path.clone(),
                        line: None,
                        field: Some("legal".into()),
                        message: err.to_string(),
                    })
                })
                .ok()
        });

    // Every upstream with the position of its `id` in the file: the
    // discovery page follows the file, whatever the kinds.
    let mut upstreams: Vec<(usize, Upstream)> = Vec::new();
    let mut metadata_sources = Vec::new();
    let mut seen = BTreeMap::new();
    if let (Some(signing_key), Some(encryption_key)) = (&signing_key, &encryption_key) {
        let settings = Arc::new(SpSettings {
            entity_id: config.saml.sp_entity_id.clone(),
            acs_url: urls.sp_acs.clone(),
            slo_url: urls.sp_slo.clone(),
            signing_key: Arc::clone(signing_key),
            decryption_key: Arc::clone(encryption_key),
            clock_skew: Duration::from_secs(config.saml.clock_skew_seconds),
            max_message_bytes: config.saml.max_message_bytes,
        });
        for (index, idp) in config.idp.iter().enumerate() {
            let field = |name: &str| format!("idp[{index}].{name}");
            if seen.insert(idp.id.get_ref().clone(), ()).is_some() {
                problems.push(loaded.problem_at(
                    &idp.id,
                    field("id"),
                    "duplicate identity provider id",
                ));
                continue;
            }
            problems.extend(upstreams::resilience_problems(
                loaded,
                &format!("idp[{index}]"),
                &idp.id,
                &idp.resilience,
            ));
            let Some(mapping) = mappings.get(idp.mapping.get_ref()).cloned() else {
                problems.push(loaded.problem_at(
                    &idp.mapping,
                    field("mapping"),
                    format!("no [mapping.{}] table", idp.mapping.get_ref()),
                ));
                continue;
            };
            let source = match MetadataSource::from_config(idp, &loaded.base) {
                Ok(source) => source,
                Err(err) => {
                    problems.push(loaded.problem_at(
                        &idp.entity_id,
                        field("metadata_file"),
                        err.to_string(),
                    ));
                    continue;
                }
            };
            let metadata_field = if idp.metadata_url.is_some() {
                "metadata_url"
            } else {
                "metadata_file"
            };
            let span_of_metadata = idp
                .metadata_file
                .as_ref()
                .map(|f| f.span())
                .or_else(|| idp.metadata_url.as_ref().map(|u| u.span()))
                .unwrap_or_else(|| idp.entity_id.span());
            let metadata = match source.load(http).await {
                Ok(metadata) => metadata,
                Err(err) => {
                    problems.push(loaded.problem_at(
                        &toml::Spanned::new(span_of_metadata, ()),
                        field(metadata_field),
                        err.to_string(),
                    ));
                    continue;
                }
            };
            match SamlConnector::new(idp.clone(), mapping, Arc::clone(&settings), metadata) {
                Ok(connector) => {
                    let connector = Arc::new(connector);
                    upstreams.push((idp.id.span().start, Upstream::Saml(Arc::clone(&connector))));
                    metadata_sources.push((source, connector));
                }
                Err(err) => problems.push(loaded.problem_at(
                    &toml::Spanned::new(span_of_metadata, ()),
                    field(metadata_field),
                    err.to_string(),
                )),
            }
        }
    }
    for (index, oidc) in config.oidc_idp.iter().enumerate() {
        if seen.insert(oidc.id.get_ref().clone(), ()).is_some() {
            problems.push(loaded.problem_at(
                &oidc.id,
                format!("oidc_idp[{index}].id"),
                "duplicate identity provider id",
            ));
            continue;
        }
        let mapping = mappings.get(oidc.mapping.get_ref());
        match upstreams::oidc_connector(loaded, index, oidc, mapping).await {
            Ok(connector) => {
                upstreams.push((oidc.id.span().start, Upstream::Oidc(Arc::new(connector))));
            }
            Err(found) => problems.extend(found),
        }
    }
    for (index, header) in config.header_idp.iter().enumerate() {
        if seen.insert(header.id.get_ref().clone(), ()).is_some() {
            problems.push(loaded.problem_at(
                &header.id,
                format!("header_idp[{index}].id"),
                "duplicate identity provider id",
            ));
            continue;
        }
        let mapping = mappings.get(header.mapping.get_ref());
        match upstreams::header_connector(loaded, index, header, mapping) {
            Ok(connector) => {
                upstreams.push((
                    header.id.span().start,
                    Upstream::Headers(Arc::new(connector)),
                ));
            }
            Err(problem) => problems.push(problem),
        }
    }
    upstreams.sort_by_key(|(position, _)| *position);
    let upstreams: Vec<Upstream> = upstreams.into_iter().map(|(_, u)| u).collect();
    let admin_token = admin_token(loaded)
        .map_err(|p| problems.push(p))
        .ok()
        .flatten();
    problems.extend(shutdown_problems(loaded));
    if let crate::config::StoreConfig::Redis(redis) = &config.store
        && let Err(message) = redis.to_redis_config()
    {
        problems.push(ConfigProblem {
            file: loaded.path.clone(),
            line: None,
            field: Some("store".into()),
            message,
        });
    }
    problems.extend(crate::limits::check(loaded));
    problems.extend(crate::steering::check(loaded));
    problems.extend(crate::audit::check(loaded));
    problems.extend(crate::stats::config::check(loaded));
    if !(1..=300).contains(&config.cas.ticket_ttl_seconds) {
        problems.push(ConfigProblem {
            file: loaded.path.clone(),
            line: None,
            field: Some("cas.ticket_ttl_seconds".into()),
            message: "a service ticket must live between 1 and 300 seconds".into(),
        });
    }
    let oidc_keys = oidc_keys(loaded, registry.as_deref())
        .map(Arc::new)
        .map_err(|p| problems.extend(p))
        .ok();
    if config.idp.is_empty() && config.oidc_idp.is_empty() && config.header_idp.is_empty() {
        problems.push(ConfigProblem {
            file: loaded.path.clone(),
            line: None,
            field: Some("idp".into()),
            message: "no identity provider configured".into(),
        });
    }

    match (
        signing_key,
        identifier_keys,
        registry,
        pages,
        oidc_keys,
        problems.is_empty(),
    ) {
        (
            Some(signing_key),
            Some(identifier_keys),
            Some(registry),
            Some(pages),
            Some(oidc_keys),
            true,
        ) => Ok(Prepared {
            config: config.clone(),
            urls,
            registry,
            upstreams,
            metadata_sources,
            signing_key,
            identifier_keys,
            pages,
            admin_token,
            oidc_keys,
        }),
        _ => Err(ConfigProblems(problems)),
    }
}

/// The drain settings: a grace of 1 to 600 seconds, and a delay shorter
/// than the grace.
fn shutdown_problems(loaded: &LoadedConfig) -> Vec<ConfigProblem> {
    let server = &loaded.config.server;
    let problem = |field: &str, message: String| ConfigProblem {
        file: loaded.path.clone(),
        line: None,
        field: Some(format!("server.{field}")),
        message,
    };
    let mut problems = Vec::new();
    if !(1..=600).contains(&server.shutdown_grace_seconds) {
        problems.push(problem(
            "shutdown_grace_seconds",
            format!(
                "{} is outside 1 to 600 seconds",
                server.shutdown_grace_seconds
            ),
        ));
    }
    if server.shutdown_delay_seconds >= server.shutdown_grace_seconds {
        problems.push(problem(
            "shutdown_delay_seconds",
            format!(
                "{} must be shorter than shutdown_grace_seconds ({})",
                server.shutdown_delay_seconds, server.shutdown_grace_seconds
            ),
        ));
    }
    problems
}

/// The OpenID provider's keys, and its lifetimes checked; every client's
/// ID token algorithm must have a key.
fn oidc_keys(
    loaded: &LoadedConfig,
    registry: Option<&Registry>,
) -> Result<ProviderKeys, Vec<ConfigProblem>> {
    let provider = &loaded.config.oidc_provider;
    let mut problems = Vec::new();
    let mut range = |value: u64, bounds: std::ops::RangeInclusive<u64>, field: &str| {
        if !bounds.contains(&value) {
            problems.push(ConfigProblem {
                file: loaded.path.clone(),
                line: None,
                field: Some(format!("oidc_provider.{field}")),
                message: format!(
                    "{value} is outside {} to {} seconds",
                    bounds.start(),
                    bounds.end()
                ),
            });
        }
    };
    range(provider.code_ttl_seconds, 1..=600, "code_ttl_seconds");
    range(
        provider.id_token_lifetime_seconds,
        60..=3600,
        "id_token_lifetime_seconds",
    );
    range(
        provider.access_token_lifetime_seconds,
        60..=3600,
        "access_token_lifetime_seconds",
    );
    let files: Vec<(&str, std::path::PathBuf)> = provider
        .keys
        .iter()
        .map(|key| (key.kid.as_str(), loaded.resolve(key.file.get_ref())))
        .collect();
    let keys = ProviderKeys::load(files.iter().map(|(kid, path)| (*kid, path.as_path())))
        .map_err(|(index, err)| match provider.keys.get(index) {
            Some(key) => problems.push(loaded.problem_at(
                &key.file,
                format!("oidc_provider.keys[{index}].file"),
                err.to_string(),
            )),
            None => problems.push(ConfigProblem {
                file: loaded.path.clone(),
                line: None,
                field: Some("oidc_provider.keys".into()),
                message: err.to_string(),
            }),
        })
        .ok();
    if let (Some(keys), Some(registry)) = (&keys, registry)
        && let Err(errors) = registry.check_id_token_algs(&keys.algorithms())
    {
        problems.extend(registry_problems(&errors));
    }
    match keys {
        Some(keys) if problems.is_empty() => Ok(keys),
        _ => Err(problems),
    }
}

/// Shortest admin token accepted.
const MIN_ADMIN_TOKEN: usize = 32;

/// The SHA-256 of the admin token, `None` when the admin API is off.
fn admin_token(loaded: &LoadedConfig) -> Result<Option<[u8; 32]>, ConfigProblem> {
    use sha2::Digest as _;
    let token = match (
        std::env::var("SSO_ADMIN_TOKEN").ok(),
        &loaded.config.admin.api_token_file,
    ) {
        (Some(token), _) => token,
        (None, Some(file)) => std::fs::read_to_string(loaded.resolve(file.get_ref()))
            .map(|text| text.trim().to_owned())
            .map_err(|err| {
                loaded.problem_at(
                    file,
                    "admin.api_token_file",
                    format!("cannot read the file: {err}"),
                )
            })?,
        (None, None) => return Ok(None),
    };
    if token.len() < MIN_ADMIN_TOKEN {
        return Err(ConfigProblem {
            file: loaded.path.clone(),
            line: None,
            field: Some("admin.api_token_file".to_owned()),
            message: format!("the admin token must have at least {MIN_ADMIN_TOKEN} characters"),
        });
    }
    Ok(Some(sha2::Sha256::digest(token.as_bytes()).into()))
}

/// Registry errors as configuration problems.
pub fn registry_problems(errors: &RegistryErrors) -> Vec<ConfigProblem> {
    errors
        .0
        .iter()
        .map(|err| ConfigProblem {
            file: err.file.clone(),
            line: err.line,
            field: err.field.clone(),
            message: err.reason.to_string(),
        })
        .collect()
}

/// The identifier secret of `file` (the field `field`), at least 32 bytes.
fn identifier_key(
    loaded: &LoadedConfig,
    file: &toml::Spanned<std::path::PathBuf>,
    field: &str,
) -> Result<IdentifierKey, ConfigProblem> {
    let secret = std::fs::read(loaded.resolve(file.get_ref()))
        .map(|bytes| bytes.trim_ascii().to_vec())
        .map_err(|err| loaded.problem_at(file, field, format!("cannot read the file: {err}")))?;
    IdentifierKey::from_bytes(&secret)
        .map_err(|err| loaded.problem_at(file, field, err.to_string()))
}

/// The key ring: the current secret (`SSO_IDENTIFIER_SECRET` or its file)
/// and the previous ones by name (also read alone by the operator commands
/// that need no upstream, e.g. `audit search`).
pub fn identifier_keys(loaded: &LoadedConfig) -> Result<IdentifierKeys, Vec<ConfigProblem>> {
    let keys = &loaded.config.keys;
    let field = "keys.identifier_secret_file";
    let current = match std::env::var("SSO_IDENTIFIER_SECRET") {
        Ok(secret) => IdentifierKey::from_bytes(secret.as_bytes())
            .map_err(|err| loaded.problem_at(&keys.identifier_secret_file, field, err.to_string())),
        Err(_) => identifier_key(loaded, &keys.identifier_secret_file, field),
    };
    let mut problems = Vec::new();
    let mut ring = current
        .map(IdentifierKeys::new)
        .map_err(|p| problems.push(p))
        .ok();
    for (index, previous) in keys.previous_identifier_secrets.iter().enumerate() {
        let field = format!("keys.previous_identifier_secrets[{index}]");
        let key = match identifier_key(loaded, &previous.file, &format!("{field}.file")) {
            Ok(key) => key,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        ring = match ring.map(|ring| ring.with_previous(previous.name.get_ref().clone(), key)) {
            Some(Ok(ring)) => Some(ring),
            Some(Err(err)) => {
                problems.push(loaded.problem_at(
                    &previous.name,
                    format!("{field}.name"),
                    err.to_string(),
                ));
                None
            }
            None => None,
        };
    }
    match ring {
        Some(ring) if problems.is_empty() => Ok(ring),
        _ => Err(problems),
    }
}
