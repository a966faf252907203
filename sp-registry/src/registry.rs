//! The registry: every service of the registry folder, validated as a whole
//! (architecture, "Configuration": one file per downstream service; ids,
//! SAML entity ids, OpenID Connect client ids, resource ids and CAS service
//! URL patterns unique across the folder).
//!
//! A [`Registry`] is an immutable value: built and validated once, then
//! shared (e.g. in an `Arc`) so that a reload can swap it atomically.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::cas::CasLookupError;
use crate::error::{LoadError, LoadErrorKind, RegistryErrors};
use crate::identifier::IdentifierKeys;
use crate::load::{Loaded, load_file};
use crate::oidc::IdTokenAlg;
use crate::pattern::parse_candidate;
use crate::service::ServiceDefinition;

/// Every downstream service, indexed by id, SAML entity id, OpenID Connect
/// client id, resource id and CAS service URL origin.
#[derive(Debug, Clone)]
pub struct Registry {
    services: Vec<ServiceDefinition>,
    /// Line of each service's `identifier.key`, by position in `services`.
    identifier_key_lines: Vec<Option<usize>>,
    by_id: HashMap<String, usize>,
    by_entity_id: HashMap<String, usize>,
    by_client_id: HashMap<String, usize>,
    by_resource_id: HashMap<String, usize>,
    /// Normalised CAS service URL patterns (uniqueness check).
    by_cas_pattern: HashMap<String, usize>,
    /// The CAS services having a pattern of an origin (`scheme://host[:port]`),
    /// in registry order, each once.
    by_cas_origin: HashMap<String, Vec<usize>>,
}

impl Registry {
    /// Loads every `*.toml` file of `dir` (other files, such as metadata and
    /// certificates, are read only when a service file names them). Collects
    /// ALL errors rather than stopping at the first one.
    pub fn load_dir(dir: &Path) -> Result<Registry, RegistryErrors> {
        let files = service_files(dir).map_err(|source| {
            RegistryErrors(vec![LoadError {
                file: dir.to_path_buf(),
                line: None,
                field: None,
                reason: LoadErrorKind::ReadDir(source),
            }])
        })?;
        let mut errors = Vec::new();
        let mut registry = Registry {
            services: Vec::new(),
            identifier_key_lines: Vec::new(),
            by_id: HashMap::new(),
            by_entity_id: HashMap::new(),
            by_client_id: HashMap::new(),
            by_resource_id: HashMap::new(),
            by_cas_pattern: HashMap::new(),
            by_cas_origin: HashMap::new(),
        };
        for file in files {
            match load_file(dir, &file) {
                Ok(loaded) => registry.insert(loaded, &mut errors),
                Err(file_errors) => errors.extend(file_errors),
            }
        }
        if errors.is_empty() {
            Ok(registry)
        } else {
            Err(RegistryErrors(errors))
        }
    }

    /// The OpenID Connect client whose `client_id` is `client_id` (exact match).
    pub fn by_client_id(&self, client_id: &str) -> Option<&ServiceDefinition> {
        self.by_client_id
            .get(client_id)
            .and_then(|position| self.services.get(*position))
    }

    /// The CAS service whose service URL patterns match `url` (see
    /// [`crate::ServicePattern`]). A URL that no pattern matches, or that is
    /// refused outright (unparsable, user information, fragment), gives
    /// [`CasLookupError::NoMatch`]; a URL that patterns of two services
    /// match is refused with [`CasLookupError::Ambiguous`].
    pub fn by_cas_service(&self, url: &str) -> Result<&ServiceDefinition, CasLookupError> {
        let candidate = parse_candidate(url).ok_or(CasLookupError::NoMatch)?;
        let origin = candidate.origin().ascii_serialization();
        let matching: Vec<&ServiceDefinition> = self
            .by_cas_origin
            .get(&origin)
            .into_iter()
            .flatten()
            .filter_map(|position| self.services.get(*position))
            .filter(|service| {
                service.cas.as_ref().is_some_and(|cas| {
                    cas.services
                        .iter()
                        .any(|pattern| pattern.matches_parsed(&candidate))
                })
            })
            .collect();
        match matching.as_slice() {
            [] => Err(CasLookupError::NoMatch),
            [service] => Ok(service),
            several => Err(CasLookupError::Ambiguous {
                services: several.iter().map(|service| service.id.clone()).collect(),
            }),
        }
    }

    /// The SAML service whose entityID is `entity_id` (exact match).
    pub fn by_entity_id(&self, entity_id: &str) -> Option<&ServiceDefinition> {
        self.by_entity_id
            .get(entity_id)
            .and_then(|position| self.services.get(*position))
    }

    /// The resource whose `resource_id` (`idRessource`) is `resource_id`.
    pub fn by_resource_id(&self, resource_id: &str) -> Option<&ServiceDefinition> {
        self.by_resource_id
            .get(resource_id)
            .and_then(|position| self.services.get(*position))
    }

    /// The service whose id is `id`.
    pub fn by_id(&self, id: &str) -> Option<&ServiceDefinition> {
        self.by_id
            .get(id)
            .and_then(|position| self.services.get(*position))
    }

    /// Every service, in the order of their file names.
    pub fn services(&self) -> impl Iterator<Item = &ServiceDefinition> {
        self.services.iter()
    }

    /// Checks that every identifier key a service pins (`identifier.key`) is
    /// in the key ring, so that a registry naming an unknown key is refused
    /// at (re)load like any invalid registry rather than at a user's login.
    /// Each error names the file, the line and the field `identifier.key`.
    pub fn check_identifier_keys(&self, keys: &IdentifierKeys) -> Result<(), RegistryErrors> {
        let errors: Vec<LoadError> = self
            .services
            .iter()
            .zip(&self.identifier_key_lines)
            .filter_map(|(service, line)| {
                let unknown = keys.for_service(service).err()?;
                Some(LoadError {
                    file: service.source_file.clone(),
                    line: *line,
                    field: Some("identifier.key".to_owned()),
                    reason: LoadErrorKind::UnknownIdentifierKey {
                        key: unknown.key,
                        known: unknown.known,
                    },
                })
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(RegistryErrors(errors))
        }
    }

    /// Checks that every OpenID Connect client's ID token algorithm is one
    /// the gateway has a signing key for (`available`).
    pub fn check_id_token_algs(&self, available: &[IdTokenAlg]) -> Result<(), RegistryErrors> {
        let errors: Vec<LoadError> = self
            .services
            .iter()
            .filter_map(|service| {
                let alg = service.oidc.as_ref()?.id_token_alg;
                (!available.contains(&alg)).then(|| LoadError {
                    file: service.source_file.clone(),
                    line: None,
                    field: Some("oidc.id_token_signed_response_alg".to_owned()),
                    reason: LoadErrorKind::IdTokenAlgWithoutKey { alg: alg.name() },
                })
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(RegistryErrors(errors))
        }
    }

    /// Adds a valid service unless one of its unique keys is taken (each
    /// taken key is reported, at the second file's line).
    fn insert(&mut self, loaded: Loaded, errors: &mut Vec<LoadError>) {
        let Loaded {
            service,
            id_line,
            entity_id_line,
            client_id_line,
            cas_pattern_lines,
            identifier_key_line,
        } = loaded;
        let before = errors.len();
        let mut taken = |line: Option<usize>, field: &str, reason: LoadErrorKind| {
            errors.push(LoadError {
                file: service.source_file.clone(),
                line,
                field: Some(field.to_owned()),
                reason,
            });
        };
        if let Some(first) = self.first_file(self.by_id.get(&service.id)) {
            let id = service.id.clone();
            taken(id_line, "id", LoadErrorKind::DuplicateId { id, first });
        }
        if let Some(saml) = &service.saml
            && let Some(first) = self.first_file(self.by_entity_id.get(&saml.entity_id))
        {
            let entity_id = saml.entity_id.clone();
            let reason = LoadErrorKind::DuplicateEntityId { entity_id, first };
            taken(entity_id_line, "saml.entity_id", reason);
        }
        if let Some(oidc) = &service.oidc
            && let Some(first) = self.first_file(self.by_client_id.get(&oidc.client_id))
        {
            let client_id = oidc.client_id.clone();
            let reason = LoadErrorKind::DuplicateClientId { client_id, first };
            taken(client_id_line, "oidc.client_id", reason);
        }
        if let Some(resource_id) = &service.resource_id
            && let Some(first) = self.first_file(self.by_resource_id.get(resource_id))
        {
            let resource_id = resource_id.clone();
            let reason = LoadErrorKind::DuplicateResourceId { resource_id, first };
            taken(None, "resource_id", reason);
        }
        let patterns = service.cas.iter().flat_map(|cas| &cas.services);
        let mut own_patterns = HashSet::new();
        for (pattern, line) in patterns.zip(cas_pattern_lines) {
            let first = if own_patterns.insert(pattern.normalized()) {
                self.first_file(self.by_cas_pattern.get(pattern.normalized()))
            } else {
                Some(service.source_file.clone())
            };
            if let Some(first) = first {
                let pattern = pattern.as_str().to_owned();
                let reason = LoadErrorKind::DuplicateCasPattern { pattern, first };
                taken(line, "cas.services", reason);
            }
        }
        if errors.len() > before {
            return;
        }
        let position = self.services.len();
        self.by_id.insert(service.id.clone(), position);
        if let Some(saml) = &service.saml {
            self.by_entity_id.insert(saml.entity_id.clone(), position);
        }
        if let Some(oidc) = &service.oidc {
            self.by_client_id.insert(oidc.client_id.clone(), position);
        }
        if let Some(resource_id) = &service.resource_id {
            self.by_resource_id.insert(resource_id.clone(), position);
        }
        for pattern in service.cas.iter().flat_map(|cas| &cas.services) {
            self.by_cas_pattern
                .insert(pattern.normalized().to_owned(), position);
            let services = self
                .by_cas_origin
                .entry(pattern.origin().to_owned())
                .or_default();
            if services.last() != Some(&position) {
                services.push(position);
            }
        }
        self.services.push(service);
        self.identifier_key_lines.push(identifier_key_line);
    }

    /// The file of the service at `position`, when there is one.
    fn first_file(&self, position: Option<&usize>) -> Option<PathBuf> {
        let first = self.services.get(*position?)?;
        Some(first.source_file.clone())
    }
}

/// The `*.toml` files of `dir`, sorted by name for a stable order.
fn service_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
