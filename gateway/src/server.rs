//! Running the gateway: connects the store, builds the shared state, starts
//! background metadata refresh, serves HTTP, and drains on SIGTERM / Ctrl-C
//! (architecture, "High availability": readiness goes false, in-flight
//! requests finish within a grace period, then the process exits).
//! [`run`] does it all from a loaded configuration (`sso-gateway serve`, or
//! any binary running the gateway in its own process).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use sso_directory::store::Directory;
use sso_store::{MemoryStore, RedisStore, Store};
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
    /// The metrics recorder could not be installed.
    #[error("metrics: {0}")]
    Metrics(#[from] crate::observe::prometheus::MetricsError),
    /// The metrics listen address could not be bound.
    #[error("cannot listen on {address} (metrics.listen): {source}")]
    MetricsBind {
        /// The configured address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Connects the configured store.
pub async fn connect_store(config: &StoreConfig) -> Result<Arc<dyn Store>, sso_store::StoreError> {
    Ok(match config {
        StoreConfig::Memory => Arc::new(MemoryStore::new()),
        StoreConfig::Redis(redis) => Arc::new(
            RedisStore::connect(
                redis
                    .to_redis_config()
                    .map_err(sso_store::StoreError::InvalidConfig)?,
            )
            .await?,
        ),
    })
}

/// The folder of downstream service definitions the configuration names.
pub fn services_dir(loaded: &LoadedConfig) -> PathBuf {
    loaded.resolve(loaded.config.registry.services_dir.get_ref())
}

/// How often each gateway refreshes the `sso_sessions_active` estimate.
const SESSIONS_GAUGE_INTERVAL: Duration = Duration::from_secs(30);

/// Installs the metrics recorder (once per process), starts the metrics
/// listener when `[metrics] listen` is set, and returns its bound address.
async fn start_metrics(
    config: &crate::config::GatewayConfig,
) -> Result<Option<SocketAddr>, StartError> {
    let handle = crate::observe::prometheus::install()?;
    crate::observe::prometheus::spawn_upkeep(handle.clone());
    let Some(metrics) = &config.metrics else {
        return Ok(None);
    };
    let address = metrics.listen.get_ref().clone();
    let listener = TcpListener::bind(&address)
        .await
        .map_err(|source| StartError::MetricsBind {
            address: address.clone(),
            source,
        })?;
    let bound = listener.local_addr()?;
    tokio::spawn(crate::observe::prometheus::serve(listener, handle));
    tracing::info!(listen = %bound, "metrics listening");
    Ok(Some(bound))
}

/// Validates the configuration, connects the store and builds the router.
pub async fn build(
    loaded: &LoadedConfig,
    demo_link: Option<String>,
) -> Result<(Router, AppState), StartError> {
    let http = http_client()?;
    let prepared = prepare(loaded, &http).await?;
    let metrics_addr = start_metrics(&prepared.config).await?;
    let store: Arc<dyn Store> = Arc::new(crate::observe::MeteredStore::new(
        connect_store(&prepared.config.store).await?,
    ));
    crate::observe::sessions::spawn(
        Arc::clone(&store),
        Duration::from_secs(prepared.config.session.idle_timeout_seconds),
        SESSIONS_GAUGE_INTERVAL,
    );
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
    crate::upstreams::spawn_health_checks(&upstreams)?;
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
    let steering = Arc::new(crate::steering::Steering::new(&config));
    let audit = crate::audit::start(loaded, http.clone());
    let statistics = Arc::new(crate::stats::Statistics::start(
        Arc::clone(&store),
        Directory::new(Arc::clone(&store)),
        &config.statistics,
    ));
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
        lifecycle: Lifecycle::default(),
        metrics_addr,
        limits,
        steering,
        audit,
        statistics,
    };
    Ok((crate::web::router(state.clone()), state))
}

/// Builds the gateway, listens on `server.listen` and serves until SIGTERM
/// or Ctrl-C, then drains as `[server]` says (see [`serve_draining`]).
pub async fn run(loaded: &LoadedConfig) -> Result<(), StartError> {
    let listen = loaded.config.server.listen.clone();
    let (router, state) = build(loaded, None).await?;
    let listener = TcpListener::bind(&listen)
        .await
        .map_err(|source| StartError::Bind {
            address: listen.clone(),
            source,
        })?;
    tracing::info!(%listen, "sso-gateway listening");
    let served = serve_draining(listener, router, Drain::of(&state), shutdown_signal()).await;
    // The connection traces still queued are written before the process
    // ends (bounded: the pod's termination budget keeps a few seconds of
    // margin after the drain).
    if tokio::time::timeout(AUDIT_FLUSH_BUDGET, state.audit.flush())
        .await
        .is_err()
    {
        tracing::error!("connection traces still queued at exit were not all written");
    }
    served
}

/// How long the exit waits for the queued connection traces.
const AUDIT_FLUSH_BUDGET: Duration = Duration::from_secs(2);

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

/// Whether this replica is draining: shared by `/readyz` and the shutdown
/// sequence of [`serve_draining`].
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    draining: Arc<AtomicBool>,
}

impl Lifecycle {
    /// From now on `/readyz` answers 503.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Whether [`Lifecycle::start_draining`] was called.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

/// How a replica stops (`[server] shutdown_delay_seconds` and
/// `shutdown_grace_seconds`).
#[derive(Debug, Clone)]
pub struct Drain {
    /// Flipped when the stop signal arrives.
    pub lifecycle: Lifecycle,
    /// How long new requests are still accepted, with `/readyz` at 503.
    pub delay: Duration,
    /// The longest wait for in-flight requests once the listener is closed.
    pub grace: Duration,
}

impl Drain {
    /// The configured drain of a built gateway.
    pub fn of(state: &AppState) -> Self {
        let server = &state.config.server;
        Self {
            lifecycle: state.lifecycle.clone(),
            delay: Duration::from_secs(server.shutdown_delay_seconds),
            grace: Duration::from_secs(server.shutdown_grace_seconds),
        }
    }
}

/// Serves until `stop` completes, then drains: readiness goes false at
/// once, new requests are still accepted for `drain.delay`, then the
/// listener closes and in-flight requests have `drain.grace` to finish;
/// after that the server stops whatever is left (the process exits and the
/// connections drop).
pub async fn serve_draining(
    listener: TcpListener,
    router: Router,
    drain: Drain,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let (close, closed) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = closed.await;
    })
    .into_future();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return Ok(result?),
        () = stop => {}
    }
    drain.lifecycle.start_draining();
    tracing::info!(
        delay_s = drain.delay.as_secs(),
        grace_s = drain.grace.as_secs(),
        "draining: readiness is now false"
    );
    tokio::select! {
        result = &mut server => return Ok(result?),
        () = tokio::time::sleep(drain.delay) => {}
    }
    let _ = close.send(());
    tracing::info!("listener closed, waiting for in-flight requests");
    match tokio::time::timeout(drain.grace, server).await {
        Ok(result) => {
            tracing::info!("drained");
            Ok(result?)
        }
        Err(_) => {
            tracing::warn!(
                grace_s = drain.grace.as_secs(),
                "drain grace expired with requests still in flight; stopping"
            );
            Ok(())
        }
    }
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
    tracing::info!("shutdown requested");
}
