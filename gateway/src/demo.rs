//! The demo: the gateway with the simulated ÉduConnect (SAML and OpenID
//! Connect), agent IdP, ENT and resources of `testbed/`, in one process, on
//! one port, with in-memory state (or a given Redis, for the tests).
//!
//! It runs the real configuration path: the example configuration
//! (`config/example/`) is written to a fresh folder with generated keys and
//! the simulators' metadata beside it, loaded and validated like any
//! production configuration, then served. The end-to-end tests start the
//! same stack.
//!
//! The AAF directory is loaded too: a synthetic complete export of each
//! degree (the demo population of `testbed::people` plus a few generated
//! schools) is written beside the configuration and imported into the
//! stack's store, exactly as `sso-gateway aaf import` does.
//!
//! The simulated OpenID provider is served by the same process, and the
//! gateway fetches its discovery document and keys while starting, as it
//! would from a real provider. So the listener starts serving first: the
//! simulators answer at once, and the gateway's routes answer 503 (with
//! `Retry-After`) until the gateway is built, then are served as usual.
//!
//! [`Testbed`] serves the simulators alone, at their own URL, and writes the
//! configuration of a gateway run in another process (the load tests): every
//! URL of a simulator is built from the testbed's base URL, every URL of the
//! gateway (its endpoints, the médiacentre API, the CAS server, the OpenID
//! issuer, the callbacks) from the gateway's; in the single-process demo
//! both are the same.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sp_registry::Registry;
use sp_registry::subscription::parse_file;
use sso_directory::import::{ImportOptions, import};
use sso_directory::model::ProfileRules;
use sso_directory::set::ExportSet;
use sso_saml::keys::SigningKey;
use sso_store::Store;
use sso_testbed::aaf::{self, AafSpec};
use sso_testbed::people::{self, Degree};
use sso_testbed::{
    IdpKind, MediacentreApi, OidcSigningKey, SimCasClientConfig, SimIdpConfig, SimOidcOpConfig,
    SimOidcRpConfig, SimSpConfig, sim_cas_client_router, sim_idp_metadata, sim_idp_router,
    sim_oidc_op_router, sim_oidc_rp_router, sim_sp_metadata, sim_sp_router,
};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower::ServiceExt as _;

use crate::config::{ConfigProblems, LoadedConfig};
use crate::server::{StartError, build, connect_store, services_dir};
use crate::state::{AppState, Urls, registry_problems};
use crate::upstreams::oidc_callback_path;

const EXAMPLE_CONFIG: &str = include_str!("../../config/example/gateway.toml");
const EXAMPLE_SUBSCRIPTIONS: &str = include_str!("../../config/example/subscriptions.json");
/// SHA-256 of the example ENT's médiacentre token, replaced in the demo.
const EXAMPLE_ENT_TOKEN_SHA256: &str =
    "68c3e7586cf495e0a404d00de514fded73c8a3480b5ef14c9de29bd050a9f6c9";
/// SHA-256 of the example OIDC resource's client secret, replaced in the demo.
const EXAMPLE_LABO_SECRET_SHA256: &str =
    "2a5fa51354129c966d6c1fdf0a243e923554ca291e58069bc5793fb772c4db52";
const EXAMPLE_SERVICES: [(&str, &str); 5] = [
    (
        "ent-college.toml",
        include_str!("../../config/example/services/ent-college.toml"),
    ),
    (
        "manuel-numerique.toml",
        include_str!("../../config/example/services/manuel-numerique.toml"),
    ),
    (
        "espace-enseignants.toml",
        include_str!("../../config/example/services/espace-enseignants.toml"),
    ),
    (
        "atlas-cas.toml",
        include_str!("../../config/example/services/atlas-cas.toml"),
    ),
    (
        "labo-sciences-oidc.toml",
        include_str!("../../config/example/services/labo-sciences-oidc.toml"),
    ),
];

/// The simulated CAS resource: its path under `/testbed/` and the host its
/// example service file names.
const CAS_RESOURCE: (&str, &str) = ("atlas", "https://atlas.demo.example/");

/// The simulated OpenID Connect resource: its path under `/testbed/`, the
/// origin its example service file names, and its client id.
const OIDC_RESOURCE: (&str, &str, &str) = ("labo", "https://labo.demo.example", "labo-sciences");

/// The simulated ÉduConnect OpenID provider: its id in the gateway's
/// configuration (and path under `/testbed/`), the client id it registered
/// for the gateway, the client secret file and the mapping of the example.
const OIDC_PROVIDER: &str = "educonnect-oidc";
const OIDC_CLIENT_ID: &str = "sso-gateway-demo";
const OIDC_SECRET_FILE: &str = "keys/educonnect-oidc.secret";
const OIDC_MAPPING: &str = "educonnect_oidc";

/// Which store the demo uses.
#[derive(Debug, Clone)]
pub enum DemoStore {
    /// In-process memory.
    Memory,
    /// A Redis server (tests).
    Redis(String),
}

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Key generation failed.
    #[error("cannot generate keys: {0}")]
    Keys(String),
    /// Writing the configuration folder failed.
    #[error("cannot write the demo configuration in {path}: {reason}")]
    Write {
        /// Where.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The example configuration is invalid (a bug of the example).
    #[error("the example configuration does not parse: {0}")]
    Example(String),
    /// An extra service file name is not a plain file name.
    #[error("extra service file {0:?} must be a plain file name (no folder, no `..`)")]
    ExtraServiceName(String),
    /// The gateway could not start.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The demo directory could not be generated or imported.
    #[error("demo AAF directory: {0}")]
    Directory(String),
    /// The listener's address could not be read.
    #[error("cannot read the listener's address: {0}")]
    Listener(String),
}

/// A simulated service provider of the demo: testbed id, registry file.
struct DemoSp {
    path: &'static str,
    registry_id: &'static str,
    entity_id: &'static str,
    name: &'static str,
}

const SPS: [DemoSp; 3] = [
    DemoSp {
        path: "ent",
        registry_id: "ent-college",
        entity_id: "https://ent.demo.example/saml",
        name: "ENT du collège Anne de Kervellec",
    },
    DemoSp {
        path: "manuel",
        registry_id: "manuel-numerique",
        entity_id: "https://manuel.demo.example/saml",
        name: "Manuel numérique de mathématiques",
    },
    DemoSp {
        path: "enseignants",
        registry_id: "espace-enseignants",
        entity_id: "https://enseignants.demo.example/saml",
        name: "Banque de ressources pour les enseignants",
    },
];

/// A service file with the example's access URLs, which name the
/// publishers' hosts, pointing at the simulators under
/// `{testbed_url}/testbed/`.
fn for_the_demo(text: &str, testbed_url: &str) -> String {
    let (cas_path, cas_host) = CAS_RESOURCE;
    let (oidc_path, oidc_origin, _) = OIDC_RESOURCE;
    SPS.iter()
        .fold(text.to_owned(), |text, sp| {
            text.replace(
                &format!("https://{}.demo.example/login", sp.path),
                &format!("{testbed_url}/testbed/{}/login", sp.path),
            )
        })
        .replace(cas_host, &format!("{testbed_url}/testbed/{cas_path}/"))
        .replace(oidc_origin, &format!("{testbed_url}/testbed/{oidc_path}"))
}

/// What a demo stack is made of beyond the example configuration.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// Where to write the configuration (a temporary folder if None).
    pub out_dir: Option<PathBuf>,
    /// Extra files (plain file name, contents) written into the services
    /// folder before the configuration is loaded.
    pub extra_services: Vec<(String, String)>,
    /// Extra configuration merged into the demo's `gateway.toml`: the keys
    /// of a table replace or join those of the demo's table of the same
    /// name (e.g. `[server] trusted_proxies`), an array (e.g. more
    /// `[[oidc_idp]]` or `[[header_idp]]`) is appended to the demo's.
    pub extra_config: toml::Table,
}

/// A running demo stack.
pub struct DemoStack {
    /// Base URL of the gateway (and of the simulators, under `/testbed/`).
    pub base_url: String,
    /// The folder holding its configuration.
    pub config_path: PathBuf,
    /// The gateway's state.
    pub state: AppState,
    server: JoinHandle<Result<(), StartError>>,
    _dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for DemoStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoStack")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

fn write(path: &Path, contents: impl AsRef<[u8]>) -> Result<(), DemoError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|err| DemoError::Write {
            path: parent.to_owned(),
            reason: err.to_string(),
        })?;
    }
    std::fs::write(path, contents).map_err(|err| DemoError::Write {
        path: path.to_owned(),
        reason: err.to_string(),
    })
}

fn key(name: &str) -> Result<SigningKey, DemoError> {
    SigningKey::generate_self_signed(name).map_err(|err| DemoError::Keys(err.to_string()))
}

/// A fresh OpenID provider key in PKCS#8 PEM: EC P-256 or RSA 2048.
fn oidc_key(ec: bool) -> Result<Vec<u8>, DemoError> {
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    let key = if ec {
        EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)
            .and_then(|group| EcKey::generate(&group))
            .and_then(PKey::from_ec_key)
    } else {
        Rsa::generate(2048).and_then(PKey::from_rsa)
    };
    key.and_then(|key| key.private_key_to_pem_pkcs8())
        .map_err(|err| DemoError::Keys(err.to_string()))
}

fn write_key(dir: &Path, stem: &str, key: &SigningKey) -> Result<(), DemoError> {
    let private = key
        .private_key_pem()
        .map_err(|err| DemoError::Keys(err.to_string()))?;
    let cert = key
        .certificate()
        .to_pem()
        .map_err(|err| DemoError::Keys(err.to_string()))?;
    write(&dir.join(format!("keys/{stem}.key")), private)?;
    write(&dir.join(format!("keys/{stem}.crt")), cert)
}

/// The example configuration adapted to a local stack: the gateway's public
/// URL and listen address, the simulated OpenID provider at `testbed_url`,
/// store, plain-HTTP cookies, human-readable logs.
fn demo_config_text(
    gateway_url: &str,
    testbed_url: &str,
    listen: SocketAddr,
    store: &DemoStore,
    extra: &toml::Table,
) -> Result<String, DemoError> {
    let mut table: toml::Table =
        toml::from_str(EXAMPLE_CONFIG).map_err(|err| DemoError::Example(err.to_string()))?;
    let section = |table: &mut toml::Table, name: &str| -> Result<toml::Table, DemoError> {
        table
            .remove(name)
            .and_then(|v| v.as_table().cloned())
            .ok_or_else(|| DemoError::Example(format!("no [{name}]")))
    };
    let mut server = section(&mut table, "server")?;
    server.insert("public_url".into(), gateway_url.into());
    server.insert("listen".into(), listen.to_string().into());
    server.insert("json_logs".into(), false.into());
    table.insert("server".into(), server.into());
    // Several demo gateways may run at once: no metrics listener unless the
    // extra configuration asks for one.
    table.remove("metrics");
    let mut session = section(&mut table, "session")?;
    session.insert("secure_cookies".into(), false.into());
    table.insert("session".into(), session.into());
    let mut store_table = toml::Table::new();
    match store {
        DemoStore::Memory => {
            store_table.insert("kind".into(), "memory".into());
        }
        DemoStore::Redis(url) => {
            store_table.insert("kind".into(), "redis".into());
            store_table.insert("url".into(), url.as_str().into());
            store_table.insert("key_prefix".into(), "demo:".into());
        }
    }
    table.insert("store".into(), store_table.into());
    let mut oidc = toml::Table::new();
    for (key, value) in [
        ("id", OIDC_PROVIDER.to_owned()),
        ("label", "Élève ou parent — OpenID Connect".to_owned()),
        (
            "description",
            "Je me connecte avec mon compte ÉduConnect, par OpenID Connect".to_owned(),
        ),
        ("issuer", format!("{testbed_url}/testbed/{OIDC_PROVIDER}")),
        ("client_id", OIDC_CLIENT_ID.to_owned()),
        ("client_secret_file", OIDC_SECRET_FILE.to_owned()),
        (
            "redirect_uri",
            format!("{gateway_url}{}", oidc_callback_path(OIDC_PROVIDER)),
        ),
        ("mapping", OIDC_MAPPING.to_owned()),
    ] {
        oidc.insert(key.into(), value.into());
    }
    oidc.insert(
        "scopes".into(),
        toml::Value::Array(vec!["openid".into(), "profile".into()]),
    );
    table.insert(
        "oidc_idp".into(),
        toml::Value::Array(vec![toml::Value::Table(oidc)]),
    );
    for (key, value) in extra.clone() {
        match (table.get_mut(&key), value) {
            (Some(toml::Value::Array(mine)), toml::Value::Array(more)) => mine.extend(more),
            (Some(toml::Value::Table(mine)), toml::Value::Table(more)) => mine.extend(more),
            (_, value) => {
                table.insert(key, value);
            }
        }
    }
    toml::to_string(&table).map_err(|err| DemoError::Example(err.to_string()))
}

impl DemoStack {
    /// Writes a configuration tree into `dir`: `gateway_toml` as the main
    /// file, generated keys, the simulators' metadata for a gateway
    /// reachable at `gateway_url` and simulators at `testbed_url` (under
    /// `/testbed/`), and the example services; returns the simulators'
    /// routers.
    fn write_config(
        dir: &Path,
        gateway_url: &str,
        testbed_url: &str,
        gateway_toml: &str,
    ) -> Result<Router, DemoError> {
        let urls = Urls::new(gateway_url);
        let gateway_signing = key("sso-gateway signing (demo)")?;
        let gateway_encryption = key("sso-gateway encryption (demo)")?;
        write_key(dir, "gateway-signing", &gateway_signing)?;
        write_key(dir, "gateway-encryption", &gateway_encryption)?;
        write(&dir.join("keys/oidc-es256.key"), oidc_key(true)?)?;
        write(&dir.join("keys/oidc-rs256.key"), oidc_key(false)?)?;
        write(&dir.join("keys/identifier.secret"), crate::random_token())?;
        write(
            &dir.join("keys/identifier-2025.secret"),
            crate::random_token(),
        )?;
        write(&dir.join("keys/admin.token"), crate::random_token())?;
        // The token the ENT presents to the médiacentre API; the operator
        // hands it to the ENT, the service file keeps its SHA-256.
        let ent_token = crate::random_token();
        write(&dir.join("keys/ent-college.mediacentre.token"), &ent_token)?;
        write(&dir.join("gateway.toml"), gateway_toml)?;
        let config: toml::Table =
            toml::from_str(EXAMPLE_CONFIG).map_err(|err| DemoError::Example(err.to_string()))?;
        let saml = config
            .get("saml")
            .and_then(|v| v.as_table())
            .ok_or_else(|| DemoError::Example("no [saml]".into()))?;
        let text = |name: &str| {
            saml.get(name)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .ok_or_else(|| DemoError::Example(format!("no saml.{name}")))
        };
        let (idp_entity_id, sp_entity_id) = (text("idp_entity_id")?, text("sp_entity_id")?);

        let mut simulators = Router::new();
        let mut controls = Router::new();
        for (kind, path, entity_id, encrypt) in [
            (
                IdpKind::EduConnect,
                "educonnect",
                "https://educonnect.demo.example/idp",
                true,
            ),
            (
                IdpKind::Agents,
                "agents",
                "https://agents.demo.example/idp",
                false,
            ),
        ] {
            let sim = SimIdpConfig {
                kind,
                base_url: format!("{testbed_url}/testbed/{path}"),
                entity_id: entity_id.to_owned(),
                signing_key: key(&format!("{path} (simulation)"))?,
                sp_entity_id: sp_entity_id.clone(),
                sp_acs_url: urls.sp_acs.clone(),
                sp_slo_url: urls.sp_slo.clone(),
                sp_signing_cert: gateway_signing.certificate().clone(),
                sp_encryption_cert: encrypt.then(|| gateway_encryption.certificate().clone()),
            };
            write(
                &dir.join(format!("metadata/{path}.xml")),
                sim_idp_metadata(&sim),
            )?;
            simulators = simulators.nest(
                &format!("/testbed/{path}"),
                with_faults(&mut controls, path, sim_idp_router(sim)),
            );
        }
        let links: Vec<(String, String)> = SPS
            .iter()
            .skip(1)
            .map(|sp| {
                (
                    sp.name.to_owned(),
                    format!("{testbed_url}/testbed/{}", sp.path),
                )
            })
            .collect();
        for (index, sp) in SPS.iter().enumerate() {
            let sim = SimSpConfig {
                id: sp.path.to_owned(),
                display_name: sp.name.to_owned(),
                base_url: format!("{testbed_url}/testbed/{}", sp.path),
                entity_id: sp.entity_id.to_owned(),
                signing_key: key(&format!("{} (simulation)", sp.path))?,
                idp_sso_url: urls.idp_sso.clone(),
                idp_slo_url: urls.idp_slo.clone(),
                idp_entity_id: idp_entity_id.clone(),
                idp_signing_cert: gateway_signing.certificate().clone(),
                links: if index == 0 {
                    links.clone()
                } else {
                    Vec::new()
                },
                mediacentre_api: (index == 0).then(|| MediacentreApi {
                    url: format!("{}/api/mediacentre", urls.base),
                    token: ent_token.clone(),
                }),
            };
            write(
                &dir.join(format!("services/{}.metadata.xml", sp.registry_id)),
                sim_sp_metadata(&sim),
            )?;
            simulators = simulators.nest(&format!("/testbed/{}", sp.path), sim_sp_router(sim));
        }
        let oidc_secret = crate::random_token();
        write(&dir.join(OIDC_SECRET_FILE), &oidc_secret)?;
        let oidc_op = SimOidcOpConfig {
            base_url: format!("{testbed_url}/testbed/{OIDC_PROVIDER}"),
            client_id: OIDC_CLIENT_ID.to_owned(),
            client_secret: oidc_secret,
            redirect_uris: vec![format!(
                "{}{}",
                urls.base,
                oidc_callback_path(OIDC_PROVIDER)
            )],
            post_logout_redirect_uris: vec![urls.oidc_logout_return.clone()],
            signing_key: OidcSigningKey::generate("educonnect-oidc-demo")
                .map_err(|err| DemoError::Keys(err.to_string()))?,
        };
        simulators = simulators.nest(
            &format!("/testbed/{OIDC_PROVIDER}"),
            with_faults(&mut controls, OIDC_PROVIDER, sim_oidc_op_router(oidc_op)),
        );
        simulators = simulators.nest(FAULTS_PATH, controls);
        let (cas_path, _) = CAS_RESOURCE;
        simulators = simulators.nest(
            &format!("/testbed/{cas_path}"),
            sim_cas_client_router(SimCasClientConfig {
                id: cas_path.to_owned(),
                display_name: "Atlas interactif de géographie".to_owned(),
                base_url: format!("{testbed_url}/testbed/{cas_path}"),
                cas_base: format!("{}/cas", urls.base),
            }),
        );
        let (oidc_path, _, client_id) = OIDC_RESOURCE;
        let labo_secret = crate::random_token();
        simulators = simulators.nest(
            &format!("/testbed/{oidc_path}"),
            sim_oidc_rp_router(SimOidcRpConfig {
                id: oidc_path.to_owned(),
                display_name: "Laboratoire virtuel de sciences".to_owned(),
                base_url: format!("{testbed_url}/testbed/{oidc_path}"),
                issuer: urls.oidc_issuer.clone(),
                client_id: client_id.to_owned(),
                client_secret: labo_secret.clone(),
            }),
        );
        for (name, text) in EXAMPLE_SERVICES {
            // The ENT's médiacentre token and the OIDC resource's secret
            // are generated for each demo.
            let text = for_the_demo(text, testbed_url)
                .replace(EXAMPLE_ENT_TOKEN_SHA256, &crate::digest(&ent_token))
                .replace(EXAMPLE_LABO_SECRET_SHA256, &crate::digest(&labo_secret));
            write(&dir.join("services").join(name), &text)?;
        }
        Ok(simulators)
    }

    /// Writes extra files (plain file names only) into the services folder,
    /// the publishers' example hosts pointing at the simulators.
    fn write_extra_services(
        dir: &Path,
        testbed_url: &str,
        extra_services: &[(String, String)],
    ) -> Result<(), DemoError> {
        for (name, text) in extra_services {
            let mut parts = Path::new(name).components();
            match (parts.next(), parts.next()) {
                (Some(std::path::Component::Normal(_)), None) => {
                    write(
                        &dir.join("services").join(name),
                        for_the_demo(text, testbed_url),
                    )?;
                }
                _ => return Err(DemoError::ExtraServiceName(name.clone())),
            }
        }
        Ok(())
    }

    /// Starts the stack on a listener already bound (its port makes the
    /// URLs): writes the configuration, serves the simulators at once (the
    /// gateway's routes answer 503 meanwhile), builds the gateway (which
    /// fetches the simulated OpenID provider's documents through the
    /// listener), loads the demo directory and subscriptions, then serves the
    /// gateway's routes too.
    pub async fn start(
        listener: TcpListener,
        store: DemoStore,
        options: DemoOptions,
    ) -> Result<Self, DemoError> {
        let addr = listener
            .local_addr()
            .map_err(|err| DemoError::Listener(err.to_string()))?;
        let base_url = format!("http://{addr}");
        let (dir, temp) = match options.out_dir {
            Some(dir) => (dir, None),
            None => {
                let temp = tempfile::tempdir().map_err(|err| DemoError::Write {
                    path: std::env::temp_dir(),
                    reason: err.to_string(),
                })?;
                (temp.path().to_owned(), Some(temp))
            }
        };
        // One listener: the simulators answer at the gateway's URL.
        let testbed_url = base_url.as_str();
        let config_text =
            demo_config_text(&base_url, testbed_url, addr, &store, &options.extra_config)?;
        let simulators = Self::write_config(&dir, &base_url, testbed_url, &config_text)?;
        Self::write_extra_services(&dir, testbed_url, &options.extra_services)?;
        let gateway: Arc<OnceLock<Router>> = Arc::new(OnceLock::new());
        let late = Arc::clone(&gateway);
        let router = simulators.fallback(move |request: Request| {
            let late = Arc::clone(&late);
            async move { late_gateway(&late, request).await }
        });
        let server = tokio::spawn(crate::server::serve(listener, router));
        let config_path = dir.join("gateway.toml");
        let loaded = LoadedConfig::load(&config_path).map_err(StartError::Config)?;
        let (routes, state) = build(&loaded, Some(format!("{testbed_url}/testbed/ent"))).await?;
        load_directory(
            state.store.as_ref(),
            &state.config.directory.profiles,
            &dir.join("aaf"),
        )
        .await?;
        load_subscriptions(state.store.as_ref(), &state.registry.get(), &dir).await?;
        // Set once, here: the only writer.
        let _ = gateway.set(routes);
        Ok(Self {
            base_url,
            config_path,
            state,
            server,
            _dir: temp,
        })
    }

    /// Serves until SIGTERM or Ctrl-C (the `demo` command).
    pub async fn wait(self) -> Result<(), StartError> {
        served(self.server).await
    }

    /// Writes the example configuration, unchanged, into `dir` with generated
    /// keys and the simulators' metadata beside it (what `check-config`
    /// validates in the tests).
    pub fn write_example(dir: &Path) -> Result<PathBuf, DemoError> {
        let config: toml::Table =
            toml::from_str(EXAMPLE_CONFIG).map_err(|err| DemoError::Example(err.to_string()))?;
        let public_url = config
            .get("server")
            .and_then(|server| server.get("public_url"))
            .and_then(|url| url.as_str())
            .ok_or_else(|| DemoError::Example("no server.public_url".into()))?;
        let _simulators = Self::write_config(dir, public_url, public_url, EXAMPLE_CONFIG)?;
        Ok(dir.join("gateway.toml"))
    }

    /// Starts the stack on a free local port, in the background (tests).
    pub async fn spawn(store: DemoStore) -> Result<Self, DemoError> {
        Self::spawn_with(store, Vec::new()).await
    }

    /// [`DemoStack::spawn`] with extra service files (file name, contents),
    /// e.g. a service definition and its SP metadata, written into the
    /// services folder before the configuration is loaded (interoperability
    /// tests register a foreign service provider this way).
    pub async fn spawn_with(
        store: DemoStore,
        extra_services: Vec<(String, String)>,
    ) -> Result<Self, DemoError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|err| DemoError::Listener(err.to_string()))?;
        Self::start(
            listener,
            store,
            DemoOptions {
                extra_services,
                ..DemoOptions::default()
            },
        )
        .await
    }
}

/// Where the fault switches of the simulated IdPs are controlled, one per
/// IdP under `<FAULTS_PATH>/<idp path>/fault` (`sso_testbed::Faults`): the
/// failure drill "one upstream IdP down" of the load tests uses them.
pub const FAULTS_PATH: &str = "/testbed/_faults";

/// `router` behind a new fault switch whose controller is nested in
/// `controls` under `/<path>`.
fn with_faults(controls: &mut Router, path: &str, router: Router) -> Router {
    let faults = sso_testbed::Faults::new();
    *controls = std::mem::take(controls).nest(&format!("/{path}"), faults.control_router());
    faults.wrap(router)
}

/// The simulators alone, for a gateway run in another process (the load
/// tests measure the gateway's own CPU time this way).
///
/// The configuration it writes is the demo's, with the gateway at its own
/// URL and listen address and the Redis store (key prefix `demo:`); the
/// simulated IdPs, services and OpenID provider answer at [`Testbed::base_url`]
/// under `/testbed/`. Start the gateway on that configuration once
/// [`Testbed::start`] has returned: building it fetches the simulated
/// provider's discovery document and keys.
pub struct Testbed {
    /// Base URL of the simulators (each under `/testbed/`).
    pub base_url: String,
    /// The gateway's configuration file.
    pub config_path: PathBuf,
    server: JoinHandle<Result<(), StartError>>,
}

impl std::fmt::Debug for Testbed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Testbed")
            .field("base_url", &self.base_url)
            .field("config_path", &self.config_path)
            .finish_non_exhaustive()
    }
}

impl Testbed {
    /// Serves only the simulators on `listener`; writes into `out_dir` the
    /// configuration of a gateway reachable at `gateway_url` and listening on
    /// `gateway_listen`, with the Redis store at `redis_url` (key prefix as the demo);
    /// imports the demo AAF directory and the example subscriptions into that Redis,
    /// as `sso-gateway aaf import` and `subscriptions import` would.
    pub async fn start(
        listener: TcpListener,
        gateway_url: &str,
        gateway_listen: SocketAddr,
        redis_url: &str,
        out_dir: &Path,
    ) -> Result<Self, DemoError> {
        let addr = listener
            .local_addr()
            .map_err(|err| DemoError::Listener(err.to_string()))?;
        let base_url = format!("http://{addr}");
        let gateway_url = gateway_url.trim_end_matches('/');
        let config_text = demo_config_text(
            gateway_url,
            &base_url,
            gateway_listen,
            &DemoStore::Redis(redis_url.to_owned()),
            &toml::Table::new(),
        )?;
        let simulators = DemoStack::write_config(out_dir, gateway_url, &base_url, &config_text)?;
        let config_path = out_dir.join("gateway.toml");
        let loaded = LoadedConfig::load(&config_path).map_err(StartError::Config)?;
        let store = connect_store(&loaded.config.store)
            .await
            .map_err(StartError::Store)?;
        let registry = Registry::load_dir(&services_dir(&loaded))
            .map_err(|errors| StartError::Config(ConfigProblems(registry_problems(&errors))))?;
        load_directory(
            store.as_ref(),
            &loaded.config.directory.profiles,
            &out_dir.join("aaf"),
        )
        .await?;
        load_subscriptions(store.as_ref(), &registry, out_dir).await?;
        let server = tokio::spawn(crate::server::serve(listener, simulators));
        Ok(Self {
            base_url,
            config_path,
            server,
        })
    }

    /// Serves until the task ends (SIGTERM / Ctrl-C).
    pub async fn wait(self) -> Result<(), StartError> {
        served(self.server).await
    }
}

/// How a server task ended.
async fn served(server: JoinHandle<Result<(), StartError>>) -> Result<(), StartError> {
    match server.await {
        Ok(result) => result,
        Err(err) => Err(StartError::Io(std::io::Error::other(err.to_string()))),
    }
}

/// The gateway's routes once built; 503 with `Retry-After` before.
async fn late_gateway(gateway: &OnceLock<Router>, request: Request) -> Response {
    match gateway.get() {
        Some(router) => match router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        },
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "the gateway is starting",
        )
            .into_response(),
    }
}

/// Generates a complete export of each degree (demo population plus two
/// generated schools) and one of the second académie (where
/// `parent.lefevre` has a child too) in `dir`, and imports them into
/// `store` with the configuration's profile rules.
async fn load_directory(
    store: &dyn Store,
    profiles: &ProfileRules,
    dir: &Path,
) -> Result<(), DemoError> {
    let today = chrono::Utc::now().date_naive();
    let mut specs = Vec::new();
    for degree in [Degree::First, Degree::Second] {
        let mut spec = AafSpec::new(people::ACADEMIE, degree, today);
        spec.include_demo_population = true;
        spec.schools = 2;
        spec.pupils_per_school = 60;
        spec.staff_per_school = 12;
        specs.push(spec);
    }
    specs.push(people::other_academie_spec(today));
    for spec in specs {
        let folder = dir.join(format!("{}-{}", spec.academie, spec.prefix()));
        let generated = aaf::write_complete(&spec, &folder)
            .map_err(|err| DemoError::Directory(err.to_string()))?;
        let set = ExportSet::open(&[generated.dir])
            .map_err(|err| DemoError::Directory(err.to_string()))?;
        let report = import(store, &set, profiles, &ImportOptions::new(), &mut |_| {})
            .await
            .map_err(|err| DemoError::Directory(err.to_string()))?;
        let persons: u64 = report.categories.values().map(|c| c.added).sum();
        tracing::info!(
            academie = spec.academie,
            prefix = spec.prefix(),
            entries = persons,
            "demo AAF directory imported"
        );
    }
    Ok(())
}

/// Writes the example subscriptions beside the configuration and imports
/// them into `store`, checked against `registry`, as `sso-gateway
/// subscriptions import` does.
async fn load_subscriptions(
    store: &dyn Store,
    registry: &Registry,
    dir: &Path,
) -> Result<(), DemoError> {
    let path = dir.join("subscriptions.json");
    std::fs::write(&path, EXAMPLE_SUBSCRIPTIONS).map_err(|err| DemoError::Write {
        path: path.clone(),
        reason: err.to_string(),
    })?;
    let subscriptions = parse_file(EXAMPLE_SUBSCRIPTIONS, registry).map_err(|problems| {
        DemoError::Example(
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    crate::subscriptions::put_all(store, &subscriptions, chrono::Utc::now().date_naive())
        .await
        .map_err(|err| DemoError::Directory(err.to_string()))?;
    Ok(())
}
