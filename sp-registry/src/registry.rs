//! The registry: every service of the registry folder, validated as a whole
//! (architecture, "Configuration": one file per downstream service; ids and
//! entity ids unique across the folder).
//!
//! A [`Registry`] is an immutable value: built and validated once, then
//! shared (e.g. in an `Arc`) so that a reload can swap it atomically.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{LoadError, LoadErrorKind, RegistryErrors};
use crate::identifier::IdentifierKeys;
use crate::load::{Loaded, load_file};
use crate::service::ServiceDefinition;

/// Every downstream service, indexed by id and by SAML entity id.
#[derive(Debug, Clone)]
pub struct Registry {
    services: Vec<ServiceDefinition>,
    /// Line of each service's `identifier.key`, by position in `services`.
    identifier_key_lines: Vec<Option<usize>>,
    by_id: HashMap<String, usize>,
    by_entity_id: HashMap<String, usize>,
    by_resource_id: HashMap<String, usize>,
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
            by_resource_id: HashMap::new(),
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

    /// The service whose SAML entityID is `entity_id` (exact match).
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

    /// Adds a valid service unless its id or entity id is taken.
    fn insert(&mut self, loaded: Loaded, errors: &mut Vec<LoadError>) {
        let Loaded {
            service,
            id_line,
            entity_id_line,
            identifier_key_line,
        } = loaded;
        let position = self.services.len();
        let first_file = |registry: &Registry, position: usize| {
            registry
                .services
                .get(position)
                .map(|first| first.source_file.clone())
                .unwrap_or_default()
        };
        let mut duplicate = false;
        if let Some(&first) = self.by_id.get(&service.id) {
            errors.push(LoadError {
                file: service.source_file.clone(),
                line: id_line,
                field: Some("id".to_owned()),
                reason: LoadErrorKind::DuplicateId {
                    id: service.id.clone(),
                    first: first_file(self, first),
                },
            });
            duplicate = true;
        }
        if let Some(&first) = self.by_entity_id.get(&service.saml.entity_id) {
            errors.push(LoadError {
                file: service.source_file.clone(),
                line: entity_id_line,
                field: Some("saml.entity_id".to_owned()),
                reason: LoadErrorKind::DuplicateEntityId {
                    entity_id: service.saml.entity_id.clone(),
                    first: first_file(self, first),
                },
            });
            duplicate = true;
        }
        if let Some(resource_id) = &service.resource_id
            && let Some(&first) = self.by_resource_id.get(resource_id)
        {
            errors.push(LoadError {
                file: service.source_file.clone(),
                line: None,
                field: Some("resource_id".to_owned()),
                reason: LoadErrorKind::DuplicateResourceId {
                    resource_id: resource_id.clone(),
                    first: first_file(self, first),
                },
            });
            duplicate = true;
        }
        if duplicate {
            return;
        }
        if let Some(resource_id) = &service.resource_id {
            self.by_resource_id.insert(resource_id.clone(), position);
        }
        self.by_id.insert(service.id.clone(), position);
        self.by_entity_id
            .insert(service.saml.entity_id.clone(), position);
        self.services.push(service);
        self.identifier_key_lines.push(identifier_key_line);
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
