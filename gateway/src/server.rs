//! Running the gateway: connects the store, builds the shared state, starts
//! background metadata refresh, serves HTTP, and drains on SIGTERM / Ctrl-C.
//! [`run`] does it all from a loaded configuration (`sso-gateway serve`, or
//! any binary running the gateway in its own process).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use sso_directory::store::Directory;
use sso_store::{MemoryStore, RedisConfig, RedisStore, Store};
use tokio::net::TcpListener;

use crate::config::{LoadedConfig, StoreConfig};
use crate::registry::SharedRegistry;
use crate::state::{AppState, Prepared, http_client, prepare};

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error("invalid configuration:\n{0}")]
    Config(#[from] crate::config::ConfigProblems),
    /// The store could not be reached.
    #[error("cannot connect to the store: {0}")]
    Store(#[from] sso_store::StoreError),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// The listen address could not be bound.
    #[error("cannot listen on {address} (server.listen): {source}")]
    Bind {
        /// The configured address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Connects the configured store.
pub async fn connect_store(config: &StoreConfig) -> Result<Arc<dyn Store>, sso_store::StoreError> {
    Ok(match config {
        StoreConfig::Memory => Arc::new(MemoryStore::new()),
        StoreConfig::Redis {
            url,
            key_prefix,
            command_timeout_ms,
            connect_timeout_ms,
        } => Arc::new(
            RedisStore::connect(RedisConfig {
                url: url.clone(),
                key_prefix: key_prefix.clone(),
                connect_timeout: Duration::from_millis(*connect_timeout_ms),
                command_timeout: Duration::from_millis(*command_timeout_ms),
            })
            .await?,
        ),
    })
}

/// The folder of downstream service definitions the configuration names.
pub fn services_dir(loaded: &LoadedConfig) -> PathBuf {
    loaded.resolve(loaded.config.registry.services_dir.get_ref())
}

/// Validates the configuration, connects the store and builds the router.
pub async fn build(
    loaded: &LoadedConfig,
    demo_link: Option<String>,
) -> Result<(Router, AppState), StartError> {
    let http = http_client()?;
    let prepared = prepare(loaded, &http).await?;
    let store = connect_store(&prepared.config.store).await?;
    let Prepared {
        config,
        urls,
        registry,
        upstreams,
        metadata_sources,
        signing_key,
        identifier_keys,
        pages,
        admin_token,
        oidc_keys,
    } = prepared;
    for (source, connector) in metadata_sources {
        source.spawn_refresh(connector, http.clone());
    }
    let registry = SharedRegistry::new(
        registry,
        services_dir(loaded),
        Arc::clone(&identifier_keys),
        oidc_keys.algorithms(),
    );
    if config.registry.reload_interval_seconds > 0 {
        registry.spawn_watch(Duration::from_secs(config.registry.reload_interval_seconds));
    }
    registry.spawn_sighup();
    let limits = Arc::new(crate::limits::Limits::new(
        &config,
        Arc::clone(&store),
        identifier_keys.current().clone(),
    ));
    crate::web::request_limits::spawn_retain(Arc::downgrade(&limits));
    let state = AppState {
        config: Arc::new(config),
        urls: Arc::new(urls),
        directory: Directory::new(Arc::clone(&store)),
        store,
        registry,
        upstreams: Arc::new(upstreams),
        signing_key,
        identifier_keys,
        pages,
        http,
        admin_token,
        demo_link,
        school_cache: Arc::default(),
        oidc_keys,
        limits,
    };
    Ok((crate::web::router(state.clone()), state))
}

/// Builds the gateway, listens on `server.listen` and serves until SIGTERM
/// or Ctrl-C (see [`serve`]).
pub async fn run(loaded: &LoadedConfig) -> Result<(), StartError> {
    let listen = loaded.config.server.listen.clone();
    let (router, _) = build(loaded, None).await?;
    let listener = TcpListener::bind(&listen)
        .await
        .map_err(|source| StartError::Bind {
            address: listen.clone(),
            source,
        })?;
    tracing::info!(%listen, "sso-gateway listening");
    serve(listener, router).await
}

/// Serves until SIGTERM or Ctrl-C, then lets in-flight requests finish.
/// Each request carries its TCP peer address (`ConnectInfo<SocketAddr>`),
/// which the trusted-header connectors check.
pub async fn serve(listener: TcpListener, router: Router) -> Result<(), StartError> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested, draining in-flight requests");
}
