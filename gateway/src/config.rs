//! The gateway's configuration: one TOML file (documented by
//! `config/example/gateway.toml`, which the tests load), a folder with one
//! file per downstream service, IdP metadata files and key files, all paths
//! relative to the configuration file's folder. Secrets and addresses may be
//! overridden by environment variables (`SSO_REDIS_URL`,
//! `SSO_REDIS_PASSWORD`, `SSO_REDIS_SENTINEL_PASSWORD`,
//! `SSO_IDENTIFIER_SECRET`, `SSO_PUBLIC_URL`, `SSO_LISTEN`, and
//! `SSO_OIDC_CLIENT_SECRET_<ID>` for the client secret of each
//! `[[oidc_idp]]`). The upstream identity providers of the three kinds
//! (`[[idp]]`, `[[oidc_idp]]`, `[[header_idp]]`) appear on the discovery page
//! in the order of their tables in the file.
//!
//! [`check`] validates everything `serve` needs and reports each problem with
//! the file, line and field it comes from; `serve` refuses to start on any.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use idp_connectors::config::{HeaderIdpConfig, OidcIdpConfig, SamlIdpConfig};
use idp_connectors::mapping::{Mapping, MappingConfig};
use serde::Deserialize;
use sso_core::{Location, line_of};
use sso_store::{ClusterConfig, RedisConfig, SentinelConfig, Topology};
use toml::Spanned;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// HTTP server.
    pub server: ServerConfig,
    /// SSO sessions.
    #[serde(default)]
    pub session: SessionConfig,
    /// Shared state.
    pub store: StoreConfig,
    /// The gateway's keys.
    pub keys: KeysConfig,
    /// SAML settings of both roles.
    pub saml: SamlConfig,
    /// Downstream services.
    pub registry: RegistryConfig,
    /// Legal notice shown on every page, before login.
    pub legal: LegalConfig,
    /// Upstream SAML identity providers.
    #[serde(default)]
    pub idp: Vec<SamlIdpConfig>,
    /// Upstream OpenID Connect providers.
    #[serde(default)]
    pub oidc_idp: Vec<OidcIdpConfig>,
    /// Trusted reverse proxies passing the identity in headers.
    #[serde(default)]
    pub header_idp: Vec<HeaderIdpConfig>,
    /// Attribute mappings, by name.
    #[serde(default)]
    pub mapping: BTreeMap<String, Spanned<MappingConfig>>,
    /// The AAF directory: import and join at login.
    #[serde(default)]
    pub directory: DirectoryConfig,
    /// The admin API.
    #[serde(default)]
    pub admin: AdminConfig,
    /// The CAS 3.0 server.
    #[serde(default)]
    pub cas: CasConfig,
    /// The OpenID Connect provider.
    #[serde(default)]
    pub oidc_provider: OidcProviderConfig,
    /// Failure counting and the per-IP request ceiling.
    #[serde(default)]
    pub limits: crate::limits::LimitsConfig,
    /// The Prometheus metrics listener; none when the table is absent.
    #[serde(default)]
    pub metrics: Option<MetricsConfig>,
    /// Who may read the steering statistics.
    #[serde(default)]
    pub steering: crate::steering::SteeringConfig,
    /// The connection traces (`crate::audit`); none when the table is absent.
    #[serde(default)]
    pub audit: Option<crate::audit::AuditConfig>,
    /// Anonymous usage statistics.
    #[serde(default)]
    pub statistics: crate::stats::StatisticsConfig,
}

/// `[metrics]`: Prometheus text exposition at `/metrics`, on its own
/// listener (never the public port).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address and port of the metrics listener (`0.0.0.0:9100`).
    pub listen: Spanned<String>,
}

/// `[oidc_provider]`: the gateway as OpenID Connect provider of the
/// downstream services.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcProviderConfig {
    /// Signing keys, in order: the first of each algorithm signs, the later
    /// ones are published only (rotation).
    pub keys: Vec<OidcKeyConfig>,
    /// Lifetime of an authorization code (seconds, 1 to 600).
    pub code_ttl_seconds: u64,
    /// Lifetime of ID tokens (seconds, 60 to 3600).
    pub id_token_lifetime_seconds: u64,
    /// Lifetime of access tokens (seconds, 60 to 3600).
    pub access_token_lifetime_seconds: u64,
    /// Time budget of each back-channel logout POST (milliseconds).
    pub logout_timeout_ms: u64,
}

impl Default for OidcProviderConfig {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            code_ttl_seconds: 60,
            id_token_lifetime_seconds: 300,
            access_token_lifetime_seconds: 600,
            logout_timeout_ms: 2000,
        }
    }
}

/// `[[oidc_provider.keys]]`: one signing key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcKeyConfig {
    /// Key id, published in the JWKS and named in each token's header.
    pub kid: String,
    /// PEM private key: EC P-256 (ES256) or RSA of at least 2048 bits (RS256).
    pub file: Spanned<PathBuf>,
}

/// `[cas]`: the gateway as CAS 3.0 server of the downstream services.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CasConfig {
    /// Lifetime of a service ticket (seconds, 1 to 300).
    pub ticket_ttl_seconds: u64,
    /// Time budget of each back-channel single-logout POST (milliseconds).
    pub logout_timeout_ms: u64,
}

impl Default for CasConfig {
    fn default() -> Self {
        Self {
            ticket_ttl_seconds: 10,
            logout_timeout_ms: 2000,
        }
    }
}

/// `[admin]`: the operators' API (`/admin/api/...`), off without a token.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// File holding the bearer token (at least 32 characters); the
    /// environment variable `SSO_ADMIN_TOKEN` overrides it.
    pub api_token_file: Option<Spanned<PathBuf>>,
}

/// What a login does when the user has no active directory entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissingEntry {
    /// Go on with the upstream attributes only.
    #[default]
    Continue,
    /// Refuse the login with a page saying why.
    Reject,
}

/// What a login does when the user (a parent) has entries in several académies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeveralAcademies {
    /// One merged view: every child, every school.
    #[default]
    Merge,
    /// A page asks which académie to continue with.
    Choose,
}

/// `[directory]`: the AAF directory (domain reference §3).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryConfig {
    /// Join each upstream login with the directory.
    #[serde(default = "default_true")]
    pub join_at_login: bool,
    /// A user without an active entry: `continue` or `reject`.
    #[serde(default)]
    pub missing_entry: MissingEntry,
    /// A user with entries in several académies: `merge` or `choose`.
    #[serde(default)]
    pub several_academies: SeveralAcademies,
    /// Largest share of active persons a complete export may remove without `--force`.
    #[serde(default = "default_removed_share")]
    pub max_removed_share: f64,
    /// Days a person who left is kept inactive before being purged.
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
    /// Profiles derived from AAF function codes.
    #[serde(default)]
    pub profiles: sso_directory::model::ProfileRules,
}

fn default_true() -> bool {
    true
}

fn default_removed_share() -> f64 {
    0.2
}

fn default_retention_days() -> u32 {
    92
}

impl Default for DirectoryConfig {
    fn default() -> Self {
        Self {
            join_at_login: true,
            missing_entry: MissingEntry::default(),
            several_academies: SeveralAcademies::default(),
            max_removed_share: default_removed_share(),
            retention_days: default_retention_days(),
            profiles: sso_directory::model::ProfileRules::default(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".to_owned()
}

fn default_body_limit() -> usize {
    256 * 1024
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Listen address.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Public base URL of the gateway, without trailing slash
    /// (`https://sso.example.fr`). Every endpoint is derived from it.
    pub public_url: Spanned<String>,
    /// Largest request body accepted on any endpoint.
    #[serde(default = "default_body_limit")]
    pub max_body_bytes: usize,
    /// Emit JSON logs (production) rather than human-readable ones.
    #[serde(default)]
    pub json_logs: bool,
    /// Reverse proxies (IPs or CIDR networks) whose `X-Forwarded-For` is believed.
    #[serde(default)]
    pub trusted_proxies: Vec<Spanned<String>>,
    /// Requests handled at once by this replica.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: Spanned<usize>,
    /// Requests waiting for a place beyond `max_in_flight`.
    #[serde(default = "default_max_queued")]
    pub max_queued: usize,
    /// Longest wait of a queued request (milliseconds).
    #[serde(default = "default_queue_timeout")]
    pub queue_timeout_ms: Spanned<u64>,
    /// Most header fields in a request.
    #[serde(default = "default_max_header_count")]
    pub max_header_count: Spanned<usize>,
    /// Most bytes of header names and values in a request.
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: Spanned<usize>,
    /// Longest request target (URL path and query, bytes).
    #[serde(default = "default_max_uri_bytes")]
    pub max_uri_bytes: Spanned<usize>,
    /// On SIGTERM, the longest wait for in-flight requests to finish before
    /// the process exits anyway.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace_seconds: u64,
    /// On SIGTERM, how long the replica keeps accepting requests while
    /// `/readyz` already answers 503, so that a load balancer polling it stops
    /// sending new ones before the listener closes. 0 under Kubernetes, whose
    /// `preStop` hook plays that part.
    #[serde(default)]
    pub shutdown_delay_seconds: u64,
}

fn default_shutdown_grace() -> u64 {
    25
}

fn default_max_in_flight() -> Spanned<usize> {
    Spanned::new(0..0, 32)
}

fn default_max_queued() -> usize {
    128
}

fn default_queue_timeout() -> Spanned<u64> {
    Spanned::new(0..0, 500)
}

fn default_max_header_count() -> Spanned<usize> {
    Spanned::new(0..0, 64)
}

fn default_max_header_bytes() -> Spanned<usize> {
    Spanned::new(0..0, 16 * 1024)
}

fn default_max_uri_bytes() -> Spanned<usize> {
    Spanned::new(0..0, 8 * 1024)
}

/// `[session]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// Name of the SSO session cookie.
    pub cookie_name: String,
    /// Session ends after this long without activity.
    pub idle_timeout_seconds: u64,
    /// Session ends this long after login whatever the activity.
    pub absolute_timeout_seconds: u64,
    /// Lifetime of a pending login flow.
    pub flow_timeout_seconds: u64,
    /// Mark cookies `Secure` (always, except a plain-HTTP local demo).
    pub secure_cookies: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            cookie_name: "sso_session".to_owned(),
            idle_timeout_seconds: 2 * 3600,
            absolute_timeout_seconds: 10 * 3600,
            flow_timeout_seconds: 600,
            secure_cookies: true,
        }
    }
}

/// `[store]`
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum StoreConfig {
    /// In-process memory: demo and single node only.
    Memory,
    /// Redis, shared by every replica.
    Redis(Box<RedisStoreConfig>),
}

/// How the Redis deployment is laid out (`[store] mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RedisMode {
    /// One endpoint (`url`).
    #[default]
    Standalone,
    /// A primary and replicas watched by Redis Sentinel (`sentinels`,
    /// `master_name`).
    Sentinel,
    /// A Redis Cluster (`nodes`).
    Cluster,
}

/// `[store] kind = "redis"`: the fields of every mode. Passwords come from
/// the environment (`SSO_REDIS_PASSWORD` for the data nodes in Sentinel and
/// Cluster modes, `SSO_REDIS_SENTINEL_PASSWORD` for the sentinels) or, in
/// standalone mode, from the URL.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisStoreConfig {
    /// `standalone`, `sentinel` or `cluster`.
    #[serde(default)]
    pub mode: RedisMode,
    /// Standalone: `redis://[user:password@]host:port/db` (or `rediss://`).
    pub url: Option<String>,
    /// Sentinel: the sentinels, `host:port`, asked in turn.
    #[serde(default)]
    pub sentinels: Vec<String>,
    /// Sentinel: the name the sentinels monitor the primary under.
    pub master_name: Option<String>,
    /// Sentinel and Cluster: ACL user on the data nodes.
    pub username: Option<String>,
    /// Sentinel: TLS to the data nodes.
    #[serde(default)]
    pub tls: bool,
    /// Sentinel: logical database on the data nodes.
    #[serde(default)]
    pub db: i64,
    /// Sentinel: ACL user on the sentinels.
    pub sentinel_username: Option<String>,
    /// Sentinel: TLS to the sentinels.
    #[serde(default)]
    pub sentinel_tls: bool,
    /// Cluster: seed node URLs.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// Prefix of every key.
    #[serde(default = "default_prefix")]
    pub key_prefix: String,
    /// Bound on every command.
    #[serde(default = "default_command_timeout")]
    pub command_timeout_ms: u64,
    /// Bound on connecting.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    /// Replicas that must acknowledge a one-time write (`WAIT`) when that
    /// many are connected; 0 turns `WAIT` off.
    #[serde(default = "default_wait_replicas")]
    pub wait_replicas: u32,
    /// Longest wait for those acknowledgements.
    #[serde(default = "default_wait_timeout")]
    pub wait_timeout_ms: u64,
    /// Data-node password (`SSO_REDIS_PASSWORD`), never from the file.
    #[serde(skip)]
    pub password: Option<String>,
    /// Sentinel password (`SSO_REDIS_SENTINEL_PASSWORD`), never from the file.
    #[serde(skip)]
    pub sentinel_password: Option<String>,
}

impl RedisStoreConfig {
    /// The store crate's configuration, or what is missing for the mode.
    pub fn to_redis_config(&self) -> Result<RedisConfig, String> {
        let topology = match self.mode {
            RedisMode::Standalone => Topology::Standalone {
                url: self
                    .url
                    .clone()
                    .ok_or("standalone mode needs `url` (or SSO_REDIS_URL)")?,
            },
            RedisMode::Sentinel => Topology::Sentinel(SentinelConfig {
                sentinels: self.sentinels.clone(),
                master_name: self
                    .master_name
                    .clone()
                    .ok_or("sentinel mode needs `master_name`")?,
                username: self.username.clone(),
                password: self.password.clone(),
                tls: self.tls,
                db: self.db,
                sentinel_username: self.sentinel_username.clone(),
                sentinel_password: self.sentinel_password.clone(),
                sentinel_tls: self.sentinel_tls,
            }),
            RedisMode::Cluster => Topology::Cluster(ClusterConfig {
                nodes: self.nodes.clone(),
                username: self.username.clone(),
                password: self.password.clone(),
            }),
        };
        let config = RedisConfig {
            topology,
            key_prefix: self.key_prefix.clone(),
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            command_timeout: Duration::from_millis(self.command_timeout_ms),
            wait_replicas: self.wait_replicas,
            wait_timeout: Duration::from_millis(self.wait_timeout_ms),
        };
        config.validate().map_err(|err| err.to_string())?;
        Ok(config)
    }
}

fn default_prefix() -> String {
    "sso:".to_owned()
}

fn default_command_timeout() -> u64 {
    300
}

fn default_connect_timeout() -> u64 {
    2000
}

fn default_wait_replicas() -> u32 {
    1
}

fn default_wait_timeout() -> u64 {
    100
}

/// `[keys]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// Private key (PEM) signing assertions, metadata and AuthnRequests.
    pub signing_key: Spanned<PathBuf>,
    /// Its certificate (PEM), published in metadata.
    pub signing_cert: Spanned<PathBuf>,
    /// Private key (PEM) decrypting upstream encrypted assertions.
    pub encryption_key: Spanned<PathBuf>,
    /// Its certificate (PEM), published in the SP metadata.
    pub encryption_cert: Spanned<PathBuf>,
    /// File holding the secret (at least 32 bytes) from which opaque per-service
    /// identifiers are derived. Overridden by `SSO_IDENTIFIER_SECRET`.
    pub identifier_secret_file: Spanned<PathBuf>,
    /// Earlier identifier secrets, by name, kept for the services pinned to
    /// them (`[identifier] key = "<name>"` in a service file) until those
    /// services have moved their accounts to the current identifiers.
    #[serde(default)]
    pub previous_identifier_secrets: Vec<PreviousSecret>,
}

/// One `[[keys.previous_identifier_secrets]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousSecret {
    /// The name services pin, `[a-z0-9-]+`.
    pub name: Spanned<String>,
    /// File holding the secret (at least 32 bytes).
    pub file: Spanned<PathBuf>,
}

fn default_skew() -> u64 {
    60
}

fn default_message_limit() -> usize {
    128 * 1024
}

/// `[saml]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlConfig {
    /// entityID of the gateway as IdP of the downstream services.
    pub idp_entity_id: String,
    /// entityID of the gateway as SP of the upstream identity providers.
    pub sp_entity_id: String,
    /// Require every downstream AuthnRequest to be signed, whatever the
    /// service's own setting.
    #[serde(default)]
    pub require_signed_authn_requests: bool,
    /// Tolerated clock difference with peers.
    #[serde(default = "default_skew")]
    pub clock_skew_seconds: u64,
    /// Largest SAML message accepted after base64 decoding or inflation.
    #[serde(default = "default_message_limit")]
    pub max_message_bytes: usize,
    /// Bound on each single-logout call to a participant.
    #[serde(default = "default_logout_timeout")]
    pub logout_timeout_ms: u64,
}

fn default_logout_timeout() -> u64 {
    3000
}

/// `[registry]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// Folder with one `*.toml` file per downstream service.
    pub services_dir: Spanned<PathBuf>,
    /// How often the folder is checked for changes (0: only on SIGHUP and
    /// through the admin API).
    #[serde(default = "default_reload_interval")]
    pub reload_interval_seconds: u64,
}

fn default_reload_interval() -> u64 {
    10
}

pub use crate::legal::LegalConfig;

/// One configuration problem, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// File the problem is in.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Dotted field path, when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let location = Location {
            file: &self.file,
            line: self.line,
            field: self.field.as_deref(),
        };
        write!(f, "{location}: {}", self.message)
    }
}

/// Every problem found, one per line when displayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblems(pub Vec<ConfigProblem>);

impl fmt::Display for ConfigProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for problem in &self.0 {
            writeln!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigProblems {}

/// A configuration file read from disk, with its folder and text (for line numbers).
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The parsed configuration, with environment overrides applied.
    pub config: GatewayConfig,
    /// The file it came from.
    pub path: PathBuf,
    /// Its folder: relative paths are resolved from here.
    pub base: PathBuf,
    text: String,
}

impl LoadedConfig {
    /// Reads and parses the file; environment overrides are applied.
    pub fn load(path: &Path) -> Result<Self, ConfigProblems> {
        let problem = |line, message: String| {
            ConfigProblems(vec![ConfigProblem {
                file: path.to_owned(),
                line,
                field: None,
                message,
            }])
        };
        let text = std::fs::read_to_string(path)
            .map_err(|err| problem(None, format!("cannot read the file: {err}")))?;
        let mut config: GatewayConfig = toml::from_str(&text).map_err(|err| {
            let line = err.span().and_then(|span| line_of(&text, span.start));
            problem(line, err.message().to_owned())
        })?;
        apply_env_overrides(&mut config);
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(Self {
            config,
            path: path.to_owned(),
            base,
            text,
        })
    }

    /// The file's text (to locate a table whose field is missing).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Resolves a configured path against the configuration folder.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.base.join(path)
        }
    }

    /// A problem located at a spanned field of this file.
    pub fn problem_at<T>(
        &self,
        spanned: &Spanned<T>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigProblem {
        // A default value (absent from the file) has an empty span: no line.
        let span = spanned.span();
        ConfigProblem {
            file: self.path.clone(),
            line: (!span.is_empty())
                .then(|| line_of(&self.text, span.start))
                .flatten(),
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// The validated attribute mappings, or the problems of each.
    pub fn mappings(&self) -> Result<BTreeMap<String, Mapping>, Vec<ConfigProblem>> {
        let mut mappings = BTreeMap::new();
        let mut problems = Vec::new();
        for (name, config) in &self.config.mapping {
            match Mapping::new(config.get_ref()) {
                Ok(mapping) => {
                    mappings.insert(name.clone(), mapping);
                }
                Err(err) => problems.push(self.problem_at(
                    config,
                    format!("mapping.{name}"),
                    err.to_string(),
                )),
            }
        }
        if problems.is_empty() {
            Ok(mappings)
        } else {
            Err(problems)
        }
    }
}

fn apply_env_overrides(config: &mut GatewayConfig) {
    if let StoreConfig::Redis(redis) = &mut config.store {
        if let Ok(url) = std::env::var("SSO_REDIS_URL") {
            redis.url = Some(url);
        }
        redis.password = std::env::var("SSO_REDIS_PASSWORD").ok();
        redis.sentinel_password = std::env::var("SSO_REDIS_SENTINEL_PASSWORD").ok();
    }
    if let Ok(public_url) = std::env::var("SSO_PUBLIC_URL") {
        config.server.public_url = Spanned::new(0..0, public_url);
    }
    if let Ok(listen) = std::env::var("SSO_LISTEN") {
        config.server.listen = listen;
    }
}
