//! The registry in force, reloaded without a restart (issue "resource
//! access": on a file change, on SIGHUP, through the admin API).
//!
//! A reload validates the whole services folder; only a registry without any
//! error replaces the one in force, in one swap of an `Arc`. A request takes
//! a snapshot at its start ([`SharedRegistry::get`]), so a login in flight
//! finishes with the registry it started with. An invalid change is refused
//! and reported (log, admin API answer); the previous registry keeps serving.
//! A registry whose services pin an identifier key the configuration does
//! not hold, or whose OpenID Connect clients ask for ID tokens of an
//! algorithm without a signing key, is invalid too.
//!
//! Replicas converge through the same mounted folder (a Kubernetes
//! ConfigMap or volume): each replica watches it (`[registry]
//! reload_interval_seconds`, polling names, sizes and modification times),
//! so every replica applies a valid change within that interval.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use sp_registry::{IdTokenAlg, IdentifierKeys, Registry, RegistryErrors};

/// The registry in force, shared by every request of this replica.
#[derive(Clone)]
pub struct SharedRegistry {
    current: Arc<RwLock<Arc<Registry>>>,
    dir: PathBuf,
    keys: Arc<IdentifierKeys>,
    id_token_algs: Arc<[IdTokenAlg]>,
}

impl std::fmt::Debug for SharedRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRegistry")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// What a folder looks like: names, sizes and modification times.
type Fingerprint = Vec<(String, u64, Option<SystemTime>)>;

fn fingerprint(dir: &Path) -> std::io::Result<Fingerprint> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_file() {
            files.push((
                entry.file_name().to_string_lossy().into_owned(),
                meta.len(),
                meta.modified().ok(),
            ));
        }
    }
    files.sort();
    Ok(files)
}

impl SharedRegistry {
    /// `registry`, loaded from `dir` and checked against the identifier
    /// `keys` and the ID token algorithms the gateway can sign.
    pub fn new(
        registry: Arc<Registry>,
        dir: PathBuf,
        keys: Arc<IdentifierKeys>,
        id_token_algs: Vec<IdTokenAlg>,
    ) -> Self {
        Self {
            current: Arc::new(RwLock::new(registry)),
            dir,
            keys,
            id_token_algs: id_token_algs.into(),
        }
    }

    /// The registry in force now.
    pub fn get(&self) -> Arc<Registry> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Loads the folder again; replaces the registry in force only if the
    /// whole folder is valid. Returns the number of services in force.
    pub fn reload(&self) -> Result<usize, RegistryErrors> {
        let registry = Registry::load_dir(&self.dir)?;
        registry.check_identifier_keys(&self.keys)?;
        registry.check_id_token_algs(&self.id_token_algs)?;
        let count = registry.services().count();
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(registry);
        Ok(count)
    }

    /// [`SharedRegistry::reload`], logged.
    pub fn reload_logged(&self, why: &'static str) {
        match self.reload() {
            Ok(count) => tracing::info!(why, services = count, "registry reloaded"),
            Err(errors) => tracing::error!(
                why,
                problems = errors.0.len(),
                errors = %errors,
                "registry change refused, the previous registry keeps serving"
            ),
        }
    }

    /// Watches the folder every `interval` and reloads when it changed.
    pub fn spawn_watch(&self, interval: Duration) {
        let shared = self.clone();
        // Taken now, not when the task first runs: a change made meanwhile is seen.
        let mut seen = fingerprint(&shared.dir).ok();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let now = fingerprint(&shared.dir).ok();
                if now != seen {
                    seen = now;
                    shared.reload_logged("services folder changed");
                }
            }
        });
    }

    /// Reloads on SIGHUP.
    pub fn spawn_sighup(&self) {
        let shared = self.clone();
        tokio::spawn(async move {
            let Ok(mut hangups) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                tracing::warn!("SIGHUP handler not installed: reload by file change or admin API");
                return;
            };
            while hangups.recv().await.is_some() {
                shared.reload_logged("SIGHUP");
            }
        });
    }
}
