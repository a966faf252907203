//! Minimisation made visible (domain reference §5: minimisation per
//! service): `sso-gateway registry explain <service> <académie> <id>` says
//! what that service would receive for that user of the directory and why
//! each attribute is released or withheld; `sso-gateway registry summary`
//! exports, as CSV, what each service may receive (for the data-protection
//! officer). Operators' output, in English.

use std::fmt::Write as _;
use std::sync::Arc;

use sp_registry::{Admission, AttributeSource, IdentifierKeys, Registry, ServiceDefinition};
use sso_core::{Identity, attr};
use sso_directory::store::Directory;
use sso_store::Store;

use crate::config::DirectoryConfig;
use crate::join::{self, Joined};

/// Why an explanation could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// No such service.
    #[error("no service {0} in the registry")]
    UnknownService(String),
    /// No such person.
    #[error("no active person {id} in the directory of {academie}")]
    UnknownPerson {
        /// Académie.
        academie: String,
        /// AAF id.
        id: String,
    },
    /// The service pins an identifier key the configuration lacks.
    #[error(transparent)]
    Key(#[from] sp_registry::UnknownIdentifierKey),
    /// The directory or the subscriptions could not be read.
    #[error("{0}")]
    Read(String),
}

fn source_name(source: AttributeSource) -> &'static str {
    match source {
        AttributeSource::OpaqueId => "opaque identifier",
        AttributeSource::Canonical(name) => name,
    }
}

/// The explanation of what `service_id` receives for the person `id` of
/// `academie`, as text.
pub async fn explain(
    registry: &Registry,
    store: &Arc<dyn Store>,
    directory_config: &DirectoryConfig,
    keys: &IdentifierKeys,
    service_id: &str,
    academie: &str,
    id: &str,
) -> Result<String, ExplainError> {
    let service = registry
        .by_id(service_id)
        .ok_or_else(|| ExplainError::UnknownService(service_id.to_owned()))?;
    let mut identity = Identity::new("directory", format!("{academie}|{id}"), 0);
    identity.push(attr::AAF_REF, format!("{academie}|{id}"));
    let directory = Directory::new(Arc::clone(store));
    let unknown = || ExplainError::UnknownPerson {
        academie: academie.to_owned(),
        id: id.to_owned(),
    };
    let config = DirectoryConfig {
        missing_entry: crate::config::MissingEntry::Reject,
        several_academies: crate::config::SeveralAcademies::Merge,
        ..directory_config.clone()
    };
    let mut identity = match join::join(&directory, &config, identity).await {
        Ok(Joined::Ready(identity)) => identity,
        Ok(Joined::Choose(_)) | Err(join::JoinError::NotFound(_)) => return Err(unknown()),
        Err(other) => return Err(ExplainError::Read(other.to_string())),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "service {} ({}, {:?}) for {academie}|{id}",
        service.id, service.display_name, service.kind
    );
    let _ = writeln!(out, "access:");
    if let Some(required) = service.required_authn_contexts() {
        // A directory entry has no login: assume one that satisfies the service.
        identity.authn_context = required.first().cloned();
        let _ = writeln!(
            out,
            "  authentication: the login must be one of {} (checked at access)",
            required.join(", ")
        );
    }
    let profiles = identity.values(attr::PROFILE).join(", ");
    let schools = identity.values(attr::UAI).join(", ");
    let identity = match service.admit(&identity, chrono::Utc::now().date_naive()) {
        Ok(admission) => {
            let _ = match &admission {
                Admission::Regular => writeln!(
                    out,
                    "  rules: allowed (profiles {profiles}; schools {schools})"
                ),
                Admission::Granted(grant) => writeln!(
                    out,
                    "  rules: allowed by the grant {:?}{}",
                    grant.name,
                    grant
                        .as_school
                        .as_ref()
                        .map(|uai| format!(", the service sees the school {}", uai.as_str()))
                        .unwrap_or_default()
                ),
            };
            admission.apply(&identity).into_owned()
        }
        Err(denied) => {
            let _ = writeln!(out, "  rules: REFUSED: {denied}");
            identity
        }
    };
    match crate::subscriptions::check(store.as_ref(), service, &identity).await {
        Ok(()) => {
            let _ = writeln!(out, "  subscription: not needed or valid");
        }
        Err(error) => {
            let _ = writeln!(out, "  subscription: REFUSED: {error}");
        }
    }
    let _ = writeln!(
        out,
        "released (the policy of {}):",
        service.source_file.display()
    );
    let released = service.release(&identity, keys)?;
    for rule in &service.release.rules {
        match released.iter().find(|r| r.name == rule.name) {
            Some(attribute) => {
                let _ = writeln!(
                    out,
                    "  {:<12} <- {:<18} {}",
                    rule.name,
                    source_name(rule.source),
                    attribute.values.join(" | ")
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "  {:<12} <- {:<18} (the user has no value: nothing sent)",
                    rule.name,
                    source_name(rule.source)
                );
            }
        }
    }
    if let (Some(name), Some(pinned)) = (&service.identifier_current_as, &service.identifier_key)
        && let Some(attribute) = released.iter().find(|r| &r.name == name)
    {
        let _ = writeln!(
            out,
            "  {name:<12} <- {:<18} {} (key migration: IDO still from the secret {pinned:?})",
            "current identifier",
            attribute.values.join(" | ")
        );
    }
    let _ = writeln!(out, "withheld (known to the gateway, not in the policy):");
    let used: Vec<&str> = service
        .release
        .rules
        .iter()
        .filter_map(|r| match r.source {
            AttributeSource::Canonical(name) => Some(name),
            AttributeSource::OpaqueId => None,
        })
        .collect();
    for (name, values) in &identity.attributes {
        if values.is_empty() || used.contains(&name.as_str()) {
            continue;
        }
        let why = if [attr::INE_HASH, attr::AAF_REF].contains(&name.as_str()) {
            "never released to any service"
        } else {
            "not in the service's release policy"
        };
        let _ = writeln!(out, "  {name:<12} {why}");
    }
    Ok(out)
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// One CSV row per released attribute of each service: what each service
/// may receive, from which source, for which profiles.
pub fn summary_csv(registry: &Registry) -> String {
    let mut out = String::from(
        "service,display_name,kind,resource_id,identifier_scope,released_name,source,profiles_allowed\n",
    );
    for service in registry.services() {
        write_service(&mut out, service);
    }
    out
}

fn write_service(out: &mut String, service: &ServiceDefinition) {
    let profiles = service.access.profiles.as_ref().map_or_else(
        || "all".to_owned(),
        |list| {
            list.iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        },
    );
    let scope = match &service.identifier {
        sp_registry::IdentifierScope::Service => "service".to_owned(),
        sp_registry::IdentifierScope::Family(family) => format!("family {family}"),
    };
    for rule in &service.release.rules {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            csv_field(&service.id),
            csv_field(&service.display_name),
            match service.kind {
                sp_registry::ServiceKind::Ent => "ent",
                sp_registry::ServiceKind::Resource => "resource",
            },
            csv_field(service.resource_id.as_deref().unwrap_or_default()),
            csv_field(&scope),
            csv_field(&rule.name),
            source_name(rule.source),
            csv_field(&profiles)
        );
    }
}
