//! The processing register extract (domain reference §5: RGPD processing of
//! public interest, art. 6-1-e; minimisation per service): what data the
//! gateway releases, to which service, under which identifier and on which
//! conditions, generated from the registry and its release policies, with
//! the global part of the register (controller, DPO, legal basis, sources,
//! retention, statistics).
//!
//! `sso-gateway registry processing --config C [--format markdown|json|csv]`
//! prints it: Markdown with French labels (handed to the data-protection
//! officer), JSON and CSV with English field names.

use std::fmt::Write as _;

use serde::Serialize;
use sp_registry::{AttributeSource, IdentifierScope, NameIdFormat, ServiceDefinition, ServiceKind};
use sso_core::attr;

use crate::legal::CHARTER_ACCEPTANCE_TTL;
use crate::state::Prepared;
use crate::upstreams::Upstream;

/// The output formats of the extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// French Markdown, for the data-protection officer.
    Markdown,
    /// JSON, English field names.
    Json,
    /// CSV, one row per released attribute of each service.
    Csv,
}

/// The legal basis of the processing.
const LEGAL_BASIS: &str = "art. 6-1-e GDPR (public interest mission)";

/// The whole extract.
#[derive(Debug, Clone, Serialize)]
pub struct Register {
    /// The controller (`[legal] operator`).
    pub controller: String,
    /// The data-protection officer's contact.
    pub dpo_contact: String,
    /// The legal notice version in force.
    pub legal_notice_version: String,
    /// The legal basis.
    pub legal_basis: String,
    /// Where the data come from.
    pub sources: Vec<Source>,
    /// How long each kind of data is kept.
    pub retention: Vec<Retention>,
    /// What the usage statistics hold.
    pub statistics: String,
    /// One entry per downstream service.
    pub services: Vec<ServiceEntry>,
}

/// A source of personal data.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    /// `saml_idp`, `oidc_idp`, `trusted_proxy` or `directory`.
    pub kind: String,
    /// Its id in the configuration.
    pub id: String,
    /// Its label.
    pub label: String,
}

/// One retention period.
#[derive(Debug, Clone, Serialize)]
pub struct Retention {
    /// The data (`sso_session_idle`, ...).
    pub data: String,
    /// French label of the data.
    #[serde(skip)]
    pub label: &'static str,
    /// The period, in seconds.
    pub seconds: u64,
}

/// One downstream service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceEntry {
    /// Registry id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// `ent` or `resource`.
    pub kind: String,
    /// The publisher, when known.
    pub publisher: Option<String>,
    /// The GAR resource id, for resources.
    pub resource_id: Option<String>,
    /// The protocols it speaks.
    pub protocols: Vec<String>,
    /// Who receives the data: entity id, client id, CAS service patterns.
    pub recipients: Vec<Recipient>,
    /// The identifier the service knows the person by.
    pub identifier: IdentifierInfo,
    /// Every attribute the release policy may release.
    pub released: Vec<ReleasedData>,
    /// Whether anything identifying the person (even pseudonymously) is
    /// released.
    pub releases_personal_data: bool,
    /// Who may open the service.
    pub access: AccessConditions,
}

/// The endpoint of one protocol through which a service receives data.
#[derive(Debug, Clone, Serialize)]
pub struct Recipient {
    /// `saml`, `cas` or `oidc`.
    pub protocol: String,
    /// SAML entity id, CAS service pattern or OpenID Connect client id.
    pub identifier: String,
}

/// The identifier a service receives.
#[derive(Debug, Clone, Serialize)]
pub struct IdentifierInfo {
    /// `opaque_per_service` or `opaque_per_family`.
    pub kind: String,
    /// The family, for `opaque_per_family`.
    pub family: Option<String>,
    /// Where it is sent: `IDO`, the SAML persistent NameID, `cas:user`, `sub`.
    pub carried_by: Vec<String>,
    /// The SAML NameID is transient (a fresh random value at each login).
    pub saml_transient_name_id: bool,
}

/// One attribute a release policy may release.
#[derive(Debug, Clone, Serialize)]
pub struct ReleasedData {
    /// The name the service receives.
    pub name: String,
    /// The canonical attribute it is read from (`opaque_identifier` for `IDO`).
    pub source: String,
    /// The data category, in French.
    pub category: String,
    /// Whether it concerns the person individually.
    pub personal: bool,
    /// When it is sent.
    pub condition: ReleaseCondition,
}

/// When a released attribute is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseCondition {
    /// At every access (the opaque identifier).
    Always,
    /// When the person has a value for it.
    WhenPresent,
    /// During an identifier key migration (`identifier.current_as`).
    KeyMigration,
}

/// Who may open a service.
#[derive(Debug, Clone, Serialize)]
pub struct AccessConditions {
    /// SDET profiles allowed; `None`: every profile.
    pub profiles: Option<Vec<String>>,
    /// Schools (UAI) allowed; `None`: every school.
    pub schools: Option<Vec<String>>,
    /// Authentication context classes required; `None`: any login.
    pub authn_contexts: Option<Vec<String>>,
    /// Grants opening it to other schools (name, schools, period).
    pub grants: Vec<String>,
    /// Whether a GAR subscription of the person's school is required.
    pub subscription_required: bool,
}

/// French label and whether the canonical attribute concerns the person
/// individually (school, profile, académie and level are shared by many).
fn category(source: AttributeSource) -> (&'static str, bool) {
    match source {
        AttributeSource::OpaqueId => ("Identifiant opaque (pseudonyme)", true),
        AttributeSource::Canonical(name) => match name {
            attr::SURNAME => ("Nom", true),
            attr::GIVEN_NAME => ("Prénom", true),
            attr::CIVILITY => ("Civilité", true),
            attr::EMAIL => ("Adresse électronique", true),
            attr::UAI => ("Établissement (UAI)", false),
            attr::PROFILE => ("Profil", false),
            attr::AFFILIATION => ("Catégorie de personne", false),
            attr::FUNCTION => ("Fonctions", true),
            attr::BIRTH_DATE => ("Date de naissance", true),
            attr::LEVEL => ("Niveau (MEF)", false),
            attr::CLASSES => ("Classes", true),
            attr::GROUPS => ("Groupes", true),
            attr::ACADEMIE => ("Académie", false),
            attr::CHILDREN => ("Enfants", true),
            _ => ("Autre donnée de la personne", true),
        },
    }
}

fn source_name(source: AttributeSource) -> &'static str {
    match source {
        AttributeSource::OpaqueId => "opaque_identifier",
        AttributeSource::Canonical(name) => name,
    }
}

impl Register {
    /// The extract of a prepared configuration.
    pub fn of(prepared: &Prepared) -> Self {
        let config = &prepared.config;
        let legal = prepared.pages.notices();
        let mut sources: Vec<Source> = prepared
            .upstreams
            .iter()
            .map(|upstream| Source {
                kind: match upstream {
                    Upstream::Saml(_) => "saml_idp",
                    Upstream::Oidc(_) => "oidc_idp",
                    Upstream::Headers(_) => "trusted_proxy",
                }
                .to_owned(),
                id: upstream.id().to_owned(),
                label: upstream.label().to_owned(),
            })
            .collect();
        if config.directory.join_at_login {
            sources.push(Source {
                kind: "directory".into(),
                id: "aaf".into(),
                label: "Annuaire académique fédérateur (AAF)".into(),
            });
        }
        let mut retention = vec![
            period(
                "sso_session_idle",
                "Session de connexion, sans activité",
                config.session.idle_timeout_seconds,
            ),
            period(
                "sso_session_absolute",
                "Session de connexion, au plus",
                config.session.absolute_timeout_seconds,
            ),
            period(
                "pending_login",
                "Connexion en cours (demande d'un service)",
                config.session.flow_timeout_seconds,
            ),
            period(
                "cas_ticket",
                "Ticket de service CAS",
                config.cas.ticket_ttl_seconds,
            ),
            period(
                "oidc_code",
                "Code d'autorisation OpenID Connect",
                config.oidc_provider.code_ttl_seconds,
            ),
            period(
                "oidc_access_token",
                "Jeton d'accès OpenID Connect",
                config.oidc_provider.access_token_lifetime_seconds,
            ),
            period(
                "directory_departed",
                "Fiche de l'annuaire d'une personne partie (inactive, puis supprimée)",
                u64::from(config.directory.retention_days) * 86_400,
            ),
        ];
        if let Some(audit) = &config.audit {
            let years = u64::from(*audit.keep_previous_years.get_ref()) + 1;
            retention.push(period(
                "connection_traces",
                "Traces de connexion (date, fournisseur d'identité, service, résultat, référence pseudonyme, adresse IP), au plus jusqu'au 31 décembre de la dernière année civile conservée",
                years * 366 * 86_400,
            ));
        }
        retention.push(period(
            "usage_statistics",
            "Statistiques d'usage anonymes (comptages agrégés, sans donnée personnelle)",
            u64::from(*config.statistics.retention_days.get_ref()) * 86_400,
        ));
        if legal.charter.is_some() {
            retention.push(period(
                "charter_acceptance",
                "Acceptation de la charte d'utilisation (version, date)",
                CHARTER_ACCEPTANCE_TTL.as_secs(),
            ));
        }
        Self {
            controller: legal.operator.clone(),
            dpo_contact: legal.dpo_contact.clone(),
            legal_notice_version: legal.current.version.clone(),
            legal_basis: LEGAL_BASIS.to_owned(),
            sources,
            retention,
            statistics: "anonymous aggregate counts only, no identifier nor IP address".to_owned(),
            services: prepared.registry.services().map(service_entry).collect(),
        }
    }

    /// The extract in `format`.
    pub fn render(&self, format: Format) -> Result<String, serde_json::Error> {
        match format {
            Format::Markdown => Ok(self.to_markdown()),
            Format::Json => serde_json::to_string_pretty(self).map(|json| json + "\n"),
            Format::Csv => Ok(self.to_csv()),
        }
    }

    /// French Markdown, for the data-protection officer.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Registre des traitements — extrait : authentification et accès aux ressources\n"
        );
        let _ = writeln!(out, "## Traitement\n");
        let _ = writeln!(out, "- Responsable du traitement : {}", self.controller);
        let _ = writeln!(
            out,
            "- Délégué à la protection des données : {}",
            self.dpo_contact
        );
        let _ = writeln!(
            out,
            "- Base légale : article 6-1-e du RGPD (mission d'intérêt public)"
        );
        let _ = writeln!(
            out,
            "- Mentions légales en vigueur : version {}",
            self.legal_notice_version
        );
        let _ = writeln!(
            out,
            "- Statistiques d'usage : anonymes, comptes agrégés seulement, sans identifiant ni adresse IP\n"
        );
        let _ = writeln!(out, "## Sources des données\n");
        for source in &self.sources {
            let kind = match source.kind.as_str() {
                "saml_idp" => "fournisseur d'identité SAML",
                "oidc_idp" => "fournisseur d'identité OpenID Connect",
                "trusted_proxy" => "portail d'authentification (en-têtes)",
                _ => "annuaire",
            };
            let _ = writeln!(out, "- {} ({kind}, `{}`)", source.label, source.id);
        }
        let _ = writeln!(out, "\n## Durées de conservation\n");
        let _ = writeln!(out, "| Donnée | Durée |\n|---|---|");
        for entry in &self.retention {
            let _ = writeln!(
                out,
                "| {} | {} |",
                entry.label,
                french_duration(entry.seconds)
            );
        }
        let _ = writeln!(out, "\n## Services destinataires\n");
        for service in &self.services {
            write_service_markdown(&mut out, service);
        }
        out
    }

    /// CSV: one row per released attribute of each service (one row with
    /// empty attribute fields for a service that releases none).
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "service,name,kind,publisher,protocols,recipients,identifier,released_name,source,category,personal,profiles,subscription_required\n",
        );
        for service in &self.services {
            let common = [
                service.id.clone(),
                service.name.clone(),
                service.kind.clone(),
                service.publisher.clone().unwrap_or_default(),
                service.protocols.join(" "),
                service
                    .recipients
                    .iter()
                    .map(|r| format!("{}:{}", r.protocol, r.identifier))
                    .collect::<Vec<_>>()
                    .join(" "),
                identifier_text(&service.identifier),
            ];
            let tail = [
                service
                    .access
                    .profiles
                    .as_ref()
                    .map_or_else(|| "all".to_owned(), |p| p.join(" ")),
                service.access.subscription_required.to_string(),
            ];
            let rows: Vec<[String; 4]> = if service.released.is_empty() {
                vec![Default::default()]
            } else {
                service
                    .released
                    .iter()
                    .map(|data| {
                        [
                            data.name.clone(),
                            data.source.clone(),
                            data.category.clone(),
                            data.personal.to_string(),
                        ]
                    })
                    .collect()
            };
            for row in rows {
                let fields: Vec<String> = common
                    .iter()
                    .chain(row.iter())
                    .chain(tail.iter())
                    .map(|field| csv_field(field))
                    .collect();
                let _ = writeln!(out, "{}", fields.join(","));
            }
        }
        out
    }
}

fn period(data: &str, label: &'static str, seconds: u64) -> Retention {
    Retention {
        data: data.to_owned(),
        label,
        seconds,
    }
}

fn identifier_text(identifier: &IdentifierInfo) -> String {
    match &identifier.family {
        Some(family) => format!("{} {family}", identifier.kind),
        None => identifier.kind.clone(),
    }
}

fn service_entry(service: &ServiceDefinition) -> ServiceEntry {
    let mut protocols = Vec::new();
    let mut recipients = Vec::new();
    let mut carried_by = Vec::new();
    let mut transient = false;
    if let Some(saml) = &service.saml {
        protocols.push("saml".to_owned());
        recipients.push(Recipient {
            protocol: "saml".into(),
            identifier: saml.entity_id.clone(),
        });
        match saml.name_id_format {
            NameIdFormat::Persistent => carried_by.push("saml_persistent_name_id".to_owned()),
            NameIdFormat::Transient => transient = true,
        }
    }
    if let Some(cas) = &service.cas {
        protocols.push("cas".to_owned());
        recipients.extend(cas.services.iter().map(|pattern| Recipient {
            protocol: "cas".into(),
            identifier: pattern.as_str().to_owned(),
        }));
        carried_by.push("cas_user".to_owned());
    }
    if let Some(oidc) = &service.oidc {
        protocols.push("oidc".to_owned());
        recipients.push(Recipient {
            protocol: "oidc".into(),
            identifier: oidc.client_id.clone(),
        });
        carried_by.push("oidc_sub".to_owned());
    }
    let mut released: Vec<ReleasedData> = service
        .release
        .rules
        .iter()
        .map(|rule| {
            let (category, personal) = category(rule.source);
            if rule.source == AttributeSource::OpaqueId {
                carried_by.insert(0, rule.name.clone());
            }
            ReleasedData {
                name: rule.name.clone(),
                source: source_name(rule.source).to_owned(),
                category: category.to_owned(),
                personal,
                condition: match rule.source {
                    AttributeSource::OpaqueId => ReleaseCondition::Always,
                    AttributeSource::Canonical(_) => ReleaseCondition::WhenPresent,
                },
            }
        })
        .collect();
    if let (Some(name), Some(_)) = (&service.identifier_current_as, &service.identifier_key) {
        released.push(ReleasedData {
            name: name.clone(),
            source: source_name(AttributeSource::OpaqueId).to_owned(),
            category: category(AttributeSource::OpaqueId).0.to_owned(),
            personal: true,
            condition: ReleaseCondition::KeyMigration,
        });
    }
    let (kind, family) = match &service.identifier {
        IdentifierScope::Service => ("opaque_per_service".to_owned(), None),
        IdentifierScope::Family(family) => ("opaque_per_family".to_owned(), Some(family.clone())),
    };
    let releases_personal_data =
        !carried_by.is_empty() || released.iter().any(|data| data.personal);
    ServiceEntry {
        id: service.id.clone(),
        name: service.display_name.clone(),
        kind: match service.kind {
            ServiceKind::Ent => "ent",
            ServiceKind::Resource => "resource",
        }
        .to_owned(),
        publisher: service.publisher.clone(),
        resource_id: service.resource_id.clone(),
        protocols,
        recipients,
        identifier: IdentifierInfo {
            kind,
            family,
            carried_by,
            saml_transient_name_id: transient,
        },
        released,
        releases_personal_data,
        access: AccessConditions {
            profiles: service
                .access
                .profiles
                .as_ref()
                .map(|list| list.iter().map(|p| p.as_str().to_owned()).collect()),
            schools: service
                .access
                .schools
                .as_ref()
                .map(|list| list.iter().map(|u| u.as_str().to_owned()).collect()),
            authn_contexts: service.access.authn_contexts.clone(),
            grants: service
                .access
                .grants
                .iter()
                .map(|grant| {
                    format!(
                        "{} ({} school(s), {} to {})",
                        grant.name,
                        grant.schools.len(),
                        grant.valid_from,
                        grant.valid_until
                    )
                })
                .collect(),
            subscription_required: service.kind == ServiceKind::Resource,
        },
    }
}

fn write_service_markdown(out: &mut String, service: &ServiceEntry) {
    let kind = if service.kind == "ent" {
        "ENT"
    } else {
        "ressource"
    };
    let _ = writeln!(out, "### {} (`{}`)\n", service.name, service.id);
    let _ = writeln!(out, "- Type : {kind}");
    if let Some(publisher) = &service.publisher {
        let _ = writeln!(out, "- Éditeur : {publisher}");
    }
    if let Some(resource_id) = &service.resource_id {
        let _ = writeln!(out, "- Identifiant de ressource : `{resource_id}`");
    }
    let _ = writeln!(
        out,
        "- Protocoles : {}",
        service
            .protocols
            .iter()
            .map(|p| p.to_uppercase())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(out, "- Destinataire :");
    for recipient in &service.recipients {
        let what = match recipient.protocol.as_str() {
            "saml" => "entité SAML",
            "cas" => "adresse de service CAS",
            _ => "client OpenID Connect",
        };
        let _ = writeln!(out, "  - {what} `{}`", recipient.identifier);
    }
    let identifier = match &service.identifier.family {
        Some(family) => format!("identifiant opaque commun à la famille de services « {family} »"),
        None => "identifiant opaque propre au service".to_owned(),
    };
    if service.identifier.carried_by.is_empty() {
        let _ = writeln!(
            out,
            "- Identifiant : aucun identifiant stable (identifiant SAML transitoire, nouveau à chaque connexion)"
        );
    } else {
        let carried: Vec<String> = service
            .identifier
            .carried_by
            .iter()
            .map(|carrier| match carrier.as_str() {
                "saml_persistent_name_id" => "NameID SAML persistant".to_owned(),
                "cas_user" => "utilisateur CAS (`cas:user`)".to_owned(),
                "oidc_sub" => "`sub` OpenID Connect".to_owned(),
                attribute => format!("attribut `{attribute}`"),
            })
            .collect();
        let _ = writeln!(
            out,
            "- Identifiant : {identifier}, transmis dans : {}",
            carried.join(", ")
        );
    }
    if service.releases_personal_data {
        let _ = writeln!(out, "- Données transmises :");
    } else {
        let _ = writeln!(
            out,
            "- Données transmises : aucune donnée personnelle (aucun identifiant stable, aucune donnée propre à la personne)"
        );
    }
    for data in &service.released {
        let condition = match data.condition {
            ReleaseCondition::Always => "toujours",
            ReleaseCondition::WhenPresent => "si la personne a une valeur",
            ReleaseCondition::KeyMigration => "pendant la migration de la clé des identifiants",
        };
        let _ = writeln!(out, "  - `{}` : {} ({condition})", data.name, data.category);
    }
    let access = &service.access;
    let _ = writeln!(out, "- Conditions d'accès :");
    let _ = writeln!(
        out,
        "  - profils : {}",
        access
            .profiles
            .as_ref()
            .map_or_else(|| "tous".to_owned(), |p| p.join(", "))
    );
    if let Some(schools) = &access.schools {
        let _ = writeln!(out, "  - établissements : {}", schools.join(", "));
    }
    if let Some(contexts) = &access.authn_contexts {
        let _ = writeln!(
            out,
            "  - niveau d'authentification : {}",
            contexts.join(", ")
        );
    }
    for grant in &access.grants {
        let _ = writeln!(out, "  - ouverture à d'autres établissements : {grant}");
    }
    if access.subscription_required {
        let _ = writeln!(
            out,
            "  - abonnement de l'établissement de la personne à la ressource"
        );
    }
    let _ = writeln!(out);
}

/// A duration in French: days, hours, minutes or seconds.
fn french_duration(seconds: u64) -> String {
    let plural = |n: u64, unit: &str| {
        if n > 1 {
            format!("{n} {unit}s")
        } else {
            format!("{n} {unit}")
        }
    };
    if seconds >= 86_400 && seconds.is_multiple_of(86_400) {
        plural(seconds / 86_400, "jour")
    } else if seconds >= 3600 && seconds.is_multiple_of(3600) {
        plural(seconds / 3600, "heure")
    } else if seconds >= 60 && seconds.is_multiple_of(60) {
        plural(seconds / 60, "minute")
    } else {
        plural(seconds, "seconde")
    }
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_written_in_french() {
        assert_eq!(french_duration(400 * 86_400), "400 jours");
        assert_eq!(french_duration(7200), "2 heures");
        assert_eq!(french_duration(600), "10 minutes");
        assert_eq!(french_duration(1), "1 seconde");
    }

    #[test]
    fn csv_fields_with_commas_are_quoted() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
