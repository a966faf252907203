//! Loading of upstream IdP metadata (SAML metadata §2): from a file, or from
//! a URL whose signature is verified when a key is configured, refreshed in
//! the background. A refused or unreachable copy never replaces the last good
//! one, and the last good copy of remote metadata is kept on disk so that a
//! cold start with the URL down still works; a copy on disk that cannot be
//! used is reported with its path.
//!
//! Each remote source has its own circuit breaker, bulkhead and timeout (an
//! [`UpstreamGuard`] named `<id>:metadata`, from the IdP's `resilience`
//! table): metadata is often served by another host than the IdP (a
//! federation), and while its breaker is open the background refresh skips
//! the fetch, the last good copy staying in force.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sso_saml::keys::Certificate;
use sso_saml::metadata::{self, EntityMetadata};

use crate::config::SamlIdpConfig;
use crate::resilience::{Health, UpstreamGuard};
use crate::saml::SamlConnector;

/// Why metadata could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// Neither `metadata_file` nor `metadata_url`, or both.
    #[error("exactly one of `metadata_file` and `metadata_url` must be set")]
    Source,
    /// The file cannot be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// The certificate that must sign the metadata cannot be read.
    #[error("cannot read the metadata signing certificate {path}: {reason}")]
    SigningCert {
        /// The file.
        path: PathBuf,
        /// The reason.
        reason: String,
    },
    /// The URL could not be fetched and no cached copy exists.
    #[error("cannot fetch {url}: {reason}")]
    Fetch {
        /// The URL.
        url: String,
        /// The reason.
        reason: String,
    },
    /// The document is not valid metadata, or its signature is refused.
    #[error("invalid metadata: {0}")]
    Invalid(String),
    /// The URL could not be used and the copy on disk cannot be used either.
    #[error("{fetch}; the copy kept on disk, {path}, is unusable too: {reason}")]
    CachedCopy {
        /// Why the URL could not be used.
        fetch: Box<MetadataError>,
        /// The copy on disk (`metadata_cache_file`).
        path: PathBuf,
        /// Why it is unusable.
        reason: String,
    },
}

/// Where the metadata of one IdP comes from, resolved against the
/// configuration folder.
#[derive(Debug, Clone)]
pub struct MetadataSource {
    file: Option<PathBuf>,
    url: Option<String>,
    signing_cert: Option<Certificate>,
    cache_file: Option<PathBuf>,
    entity_id: String,
    refresh: Duration,
    guard: Arc<UpstreamGuard>,
}

impl MetadataSource {
    /// Resolves the source of an IdP's configuration.
    pub fn from_config(config: &SamlIdpConfig, base: &Path) -> Result<Self, MetadataError> {
        let resolve = |path: &Path| {
            if path.is_absolute() {
                path.to_owned()
            } else {
                base.join(path)
            }
        };
        let file = config.metadata_file.as_ref().map(|f| resolve(f.get_ref()));
        let url = config.metadata_url.as_ref().map(|u| u.get_ref().clone());
        if file.is_some() == url.is_some() {
            return Err(MetadataError::Source);
        }
        let signing_cert = match &config.metadata_signing_cert {
            Some(path) => {
                let path = resolve(path.get_ref());
                let pem = std::fs::read(&path).map_err(|err| MetadataError::SigningCert {
                    path: path.clone(),
                    reason: err.to_string(),
                })?;
                Some(
                    Certificate::from_pem(&pem).map_err(|err| MetadataError::SigningCert {
                        path,
                        reason: err.to_string(),
                    })?,
                )
            }
            None => None,
        };
        Ok(Self {
            file,
            url,
            signing_cert,
            cache_file: config.metadata_cache_file.as_ref().map(|p| resolve(p)),
            entity_id: config.entity_id.get_ref().clone(),
            guard: Arc::new(UpstreamGuard::new(
                format!("{}:metadata", config.id.get_ref()),
                &config.resilience,
            )),
            refresh: Duration::from_secs(config.metadata_refresh_seconds.max(60)),
        })
    }

    fn parse(&self, xml: &str) -> Result<EntityMetadata, MetadataError> {
        let parsed = match &self.signing_cert {
            Some(cert) => metadata::parse_signed(xml, Some(&self.entity_id), cert),
            None => metadata::parse(xml, Some(&self.entity_id)),
        };
        parsed.map_err(|err| MetadataError::Invalid(err.to_string()))
    }

    /// The breaker, bulkhead and timeout of the metadata URL.
    pub fn guard(&self) -> &Arc<UpstreamGuard> {
        &self.guard
    }

    /// Loads the metadata once. A URL that cannot be fetched, or whose
    /// document is refused, falls back to the cached copy on disk, if any; a
    /// cached copy that cannot be read or is refused is an error naming it.
    pub async fn load(&self, http: &reqwest::Client) -> Result<EntityMetadata, MetadataError> {
        if let Some(path) = &self.file {
            let xml = std::fs::read_to_string(path).map_err(|err| MetadataError::Read {
                path: path.clone(),
                reason: err.to_string(),
            })?;
            return self.parse(&xml);
        }
        let url = self.url.as_deref().ok_or(MetadataError::Source)?;
        match self.fetch(http, url).await {
            Ok(metadata) => Ok(metadata),
            Err(err) => {
                let Some(path) = self.cache_file.as_ref().filter(|path| path.exists()) else {
                    return Err(err);
                };
                let cached = std::fs::read_to_string(path)
                    .map_err(|read| read.to_string())
                    .and_then(|xml| self.parse(&xml).map_err(|parse| parse.to_string()));
                match cached {
                    Ok(metadata) => {
                        tracing::warn!(idp = %self.entity_id, error = %err, path = %path.display(), "metadata URL unusable, using the copy kept on disk");
                        Ok(metadata)
                    }
                    Err(reason) => Err(MetadataError::CachedCopy {
                        fetch: Box::new(err),
                        path: path.clone(),
                        reason,
                    }),
                }
            }
        }
    }

    async fn fetch(
        &self,
        http: &reqwest::Client,
        url: &str,
    ) -> Result<EntityMetadata, MetadataError> {
        let fetch_error = |reason: String| MetadataError::Fetch {
            url: url.to_owned(),
            reason,
        };
        let request = async {
            let response = http.get(url).timeout(self.guard.timeout()).send().await?;
            let status = response.status();
            response.text().await.map(|text| (status, text))
        };
        let (status, xml) = self
            .guard
            .call("metadata", request, |result| match result {
                Ok((status, _)) => Health::of_status(*status),
                Err(_) => Health::Failing,
            })
            .await
            .map_err(|err| fetch_error(err.to_string()))?
            .map_err(|err| fetch_error(err.to_string()))?;
        if !status.is_success() {
            return Err(fetch_error(format!("HTTP status {status}")));
        }
        let metadata = self.parse(&xml)?;
        if let Some(cache) = &self.cache_file
            && let Err(err) = write_atomically(cache, &xml)
        {
            tracing::warn!(path = %cache.display(), error = %err, "cannot keep the metadata copy on disk");
        }
        Ok(metadata)
    }

    /// Fetches the metadata again and hands it to the connector. A copy that
    /// cannot be fetched or is refused leaves the connector's previous copy in
    /// force; the error says why.
    pub async fn refresh_once(
        &self,
        connector: &SamlConnector,
        http: &reqwest::Client,
    ) -> Result<(), MetadataError> {
        // The connector's copy is the last good one: no fallback to the disk copy here.
        let metadata = match &self.url {
            Some(url) => self.fetch(http, url).await?,
            None => self.load(http).await?,
        };
        connector
            .replace_metadata(metadata)
            .map_err(|err| MetadataError::Invalid(err.to_string()))
    }

    /// Refreshes remote metadata in the background for as long as the
    /// connector lives; file metadata is loaded once.
    pub fn spawn_refresh(self, connector: Arc<SamlConnector>, http: reqwest::Client) {
        if self.url.is_none() {
            return;
        }
        let weak = Arc::downgrade(&connector);
        drop(connector);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(self.refresh).await;
                let Some(connector) = weak.upgrade() else {
                    return;
                };
                if let Err(err) = self.refresh_once(&connector, &http).await {
                    tracing::warn!(idp = connector.id(), error = %err, "metadata refresh failed, keeping the previous copy");
                }
            }
        });
    }
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(tmp, path)
}
