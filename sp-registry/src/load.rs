//! Reading and validating one service file (the format of the crate README;
//! domain reference §4 for the GAR attribute names, §3 for the profiles).
//!
//! Parsing stops at the first TOML or type error of a file (serde gives one);
//! the checks that follow parsing collect every error of the file, each with
//! the line and field of the value at fault. The `[cas]` and `[oidc]` tables
//! are checked in the `protocols` submodule.

mod protocols;

use std::collections::HashSet;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;
use sso_core::{Profile, Uai, line_of};
use sso_saml::keys::Certificate;
use sso_saml::metadata::{self, Endpoint};
use sso_saml::ns;
use toml::Spanned;
use toml::de::DeTable;
use toml::value::Datetime;

use crate::access::{AccessPolicy, Grant, MAX_GRANT_DAYS};
use crate::error::{LoadError, LoadErrorKind};
use crate::format::{
    RawAccess, RawAcs, RawGrant, RawIdentifier, RawRelease, RawSaml, RawScope, RawService, RawSlo,
    field_at,
};
use crate::identifier::IdentifierScope;
use crate::release::{
    AttributeSource, NEVER_RELEASED, ReleasePolicy, ReleaseRule, canonical_name, gar_source,
    is_xml_element_name,
};
use crate::saml::SamlService;
use crate::service::{Mediacentre, ServiceDefinition, ServiceKind};

/// Longest assertion lifetime a service may ask for, and the default.
const MAX_ASSERTION_LIFETIME_SECONDS: u64 = 300;

/// Bindings an inline endpoint may use.
const SUPPORTED_BINDINGS: &[&str] = &[
    ns::BINDING_HTTP_POST,
    ns::BINDING_HTTP_REDIRECT,
    ns::BINDING_SOAP,
];

/// A valid service and where its unique keys sit in its file.
pub(crate) struct Loaded {
    pub service: ServiceDefinition,
    pub id_line: Option<usize>,
    pub entity_id_line: Option<usize>,
    pub client_id_line: Option<usize>,
    /// The line of each `cas.services` pattern, in file order.
    pub cas_pattern_lines: Vec<Option<usize>>,
    pub identifier_key_line: Option<usize>,
}

/// Reads, parses and validates the service file `file` of the folder `dir`.
pub(crate) fn load_file(dir: &Path, file: &Path) -> Result<Loaded, Vec<LoadError>> {
    let text = std::fs::read_to_string(file).map_err(|source| {
        vec![LoadError {
            file: file.to_path_buf(),
            line: None,
            field: None,
            reason: LoadErrorKind::ReadFile(source),
        }]
    })?;
    let mut checker = Checker {
        dir,
        file,
        text: &text,
        errors: Vec::new(),
    };
    let Some(raw) = checker.parse() else {
        return Err(checker.errors);
    };
    let id_line = checker.line(&raw.id.span());
    let entity_id_line = raw
        .saml
        .as_ref()
        .and_then(|table| checker.line(&table.get_ref().entity_id.span()));
    let client_id_line = raw
        .oidc
        .as_ref()
        .and_then(|table| checker.line(&table.get_ref().client_id.span()));
    let cas_pattern_lines = raw
        .cas
        .as_ref()
        .map(|table| {
            let patterns = table.get_ref().services.get_ref();
            patterns
                .iter()
                .map(|pattern| checker.line(&pattern.span()))
                .collect()
        })
        .unwrap_or_default();
    let identifier_key_line = raw
        .identifier
        .as_ref()
        .and_then(|table| table.get_ref().key.as_ref())
        .and_then(|key| checker.line(&key.span()));
    match checker.service(raw) {
        Some(service) if checker.errors.is_empty() => Ok(Loaded {
            service,
            id_line,
            entity_id_line,
            client_id_line,
            cas_pattern_lines,
            identifier_key_line,
        }),
        _ => {
            checker.errors.sort_by_key(|error| error.line);
            Err(checker.errors)
        }
    }
}

struct Checker<'a> {
    dir: &'a Path,
    file: &'a Path,
    text: &'a str,
    errors: Vec<LoadError>,
}

impl Checker<'_> {
    fn line(&self, span: &Range<usize>) -> Option<usize> {
        line_of(self.text, span.start)
    }

    fn error(
        &self,
        line: Option<usize>,
        field: Option<String>,
        reason: LoadErrorKind,
    ) -> LoadError {
        LoadError {
            file: self.file.to_path_buf(),
            line,
            field,
            reason,
        }
    }

    fn push(&mut self, span: &Range<usize>, field: &str, reason: LoadErrorKind) {
        let error = self.error(self.line(span), Some(field.to_owned()), reason);
        self.errors.push(error);
    }

    /// TOML syntax first (so that a syntax error is never reported as a type
    /// error), then the typed structure.
    fn parse(&mut self) -> Option<RawService> {
        let error = match DeTable::parse(self.text) {
            Err(error) => {
                let line = error.span().and_then(|span| line_of(self.text, span.start));
                self.error(
                    line,
                    None,
                    LoadErrorKind::Syntax(error.message().to_owned()),
                )
            }
            Ok(_) => match toml::from_str(self.text) {
                Ok(raw) => return Some(raw),
                Err(error) => self.type_error(&error),
            },
        };
        self.errors.push(error);
        None
    }

    fn type_error(&self, error: &toml::de::Error) -> LoadError {
        let message = error.message();
        // An empty span stands for the whole document (e.g. a missing
        // top-level key): no line, no enclosing field.
        let start = error
            .span()
            .filter(|span| !span.is_empty())
            .map(|span| span.start);
        let at = start.and_then(|start| field_at(self.text, start));
        if let Some(name) = backticked(message, "unknown field `") {
            let line = start.and_then(|start| line_of(self.text, start));
            return self.error(line, at, LoadErrorKind::UnknownField(name.to_owned()));
        }
        if let Some(name) = backticked(message, "missing field `") {
            // serde points at the enclosing table's header.
            let line = start.and_then(|start| line_of(self.text, start));
            let field = match at {
                Some(table) => format!("{table}.{name}"),
                None => name.to_owned(),
            };
            return self.error(line, Some(field), LoadErrorKind::MissingField);
        }
        let line = start.and_then(|start| line_of(self.text, start));
        self.error(line, at, LoadErrorKind::InvalidValue(message.to_owned()))
    }

    /// Validates every part and builds the definition; `None` when a part
    /// could not be built (its errors are recorded).
    fn service(&mut self, raw: RawService) -> Option<ServiceDefinition> {
        self.check_name(&raw.id, "id");
        self.check_not_empty(&raw.display_name, "display_name");
        if let Some(publisher) = &raw.publisher {
            self.check_not_empty(publisher, "publisher");
        }
        if raw.resource_id.is_none() && *raw.kind.get_ref() == ServiceKind::Resource {
            self.push(
                &raw.kind.span(),
                "resource_id",
                LoadErrorKind::MissingResourceId,
            );
        }
        if let Some(resource_id) = &raw.resource_id {
            self.check_not_empty(resource_id, "resource_id");
            if *raw.kind.get_ref() != ServiceKind::Resource {
                self.push(
                    &resource_id.span(),
                    "resource_id",
                    LoadErrorKind::ResourceIdOnEnt,
                );
            }
        }
        let mediacentre = raw.mediacentre.map(|table| {
            if *raw.kind.get_ref() != ServiceKind::Resource {
                self.push(
                    &table.span(),
                    "mediacentre",
                    LoadErrorKind::MediacentreOnEnt,
                );
            }
            let table = table.into_inner();
            self.check_http_url(&table.access_url, "mediacentre.access_url");
            if let Some(logo) = &table.logo_url {
                self.check_http_url(logo, "mediacentre.logo_url");
            }
            Mediacentre {
                access_url: table.access_url.into_inner(),
                logo_url: table.logo_url.map(Spanned::into_inner),
                pedagogical_types: table.pedagogical_types,
                education_levels: table.education_levels,
                subject_areas: table.subject_areas,
            }
        });
        let mediacentre_api = raw.mediacentre_api.and_then(|table| {
            if *raw.kind.get_ref() != ServiceKind::Ent {
                self.push(
                    &table.span(),
                    "mediacentre_api",
                    LoadErrorKind::MediacentreApiOnResource,
                );
            }
            self.sha256_hex(
                &table.get_ref().token_sha256,
                "mediacentre_api.token_sha256",
            )
        });
        let identifier = self.identifier(raw.identifier.as_ref());
        let identifier_key = raw
            .identifier
            .as_ref()
            .and_then(|table| table.get_ref().key.as_ref())
            .map(|key| {
                self.check_name(key, "identifier.key");
                key.get_ref().clone()
            });
        let release = self.release(raw.release, raw.cas.is_some());
        let identifier_current_as = raw
            .identifier
            .as_ref()
            .and_then(|table| table.get_ref().current_as.as_ref())
            .map(|name| {
                self.check_not_empty(name, "identifier.current_as");
                if identifier_key.is_none() {
                    self.push(
                        &name.span(),
                        "identifier.current_as",
                        LoadErrorKind::CurrentAsWithoutKey,
                    );
                }
                if release
                    .rules
                    .iter()
                    .any(|rule| &rule.name == name.get_ref())
                {
                    self.push(
                        &name.span(),
                        "identifier.current_as",
                        LoadErrorKind::DuplicateAttribute(name.get_ref().clone()),
                    );
                }
                name.get_ref().clone()
            });
        let access = self.access(raw.access);
        let saml = raw.saml.as_ref().map(|table| self.saml(table));
        let cas = raw.cas.as_ref().map(|table| self.cas(table));
        let oidc = raw.oidc.as_ref().map(|table| self.oidc(table));
        if saml.is_none() && cas.is_none() && oidc.is_none() {
            let error = self.error(None, None, LoadErrorKind::NoProtocol);
            self.errors.push(error);
        }
        Some(ServiceDefinition {
            id: raw.id.into_inner(),
            display_name: raw.display_name.into_inner(),
            kind: raw.kind.into_inner(),
            publisher: raw.publisher.map(Spanned::into_inner),
            resource_id: raw.resource_id.map(Spanned::into_inner),
            saml: optional(saml)?,
            cas: optional(cas)?,
            oidc: optional(oidc)?,
            identifier: identifier?,
            identifier_key,
            identifier_current_as,
            release,
            access,
            mediacentre,
            mediacentre_api_token_sha256: mediacentre_api,
            source_file: self.file.to_path_buf(),
        })
    }

    fn check_not_empty(&mut self, value: &Spanned<String>, field: &str) -> bool {
        if value.get_ref().trim().is_empty() {
            self.push(&value.span(), field, LoadErrorKind::Empty);
            return false;
        }
        true
    }

    /// A SHA-256 digest written as 64 hexadecimal characters.
    fn sha256_hex(&mut self, value: &Spanned<String>, field: &str) -> Option<[u8; 32]> {
        let decoded = hex::decode(value.get_ref())
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok());
        if decoded.is_none() {
            self.push(&value.span(), field, LoadErrorKind::NotASha256);
        }
        decoded
    }

    fn check_name(&mut self, value: &Spanned<String>, field: &str) {
        let name = value.get_ref();
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            self.push(
                &value.span(),
                field,
                LoadErrorKind::InvalidName(name.clone()),
            );
        }
    }

    fn identifier(&mut self, raw: Option<&Spanned<RawIdentifier>>) -> Option<IdentifierScope> {
        let Some(raw) = raw else {
            return Some(IdentifierScope::Service);
        };
        let table = raw.get_ref();
        let scope = table
            .scope
            .as_ref()
            .map_or(RawScope::Service, |scope| *scope.get_ref());
        let scope_span = table
            .scope
            .as_ref()
            .map_or_else(|| raw.span(), Spanned::span);
        match (scope, &table.family) {
            (RawScope::Service, None) => Some(IdentifierScope::Service),
            (RawScope::Service, Some(family)) => {
                self.push(
                    &family.span(),
                    "identifier.family",
                    LoadErrorKind::FamilyWithoutFamilyScope,
                );
                None
            }
            (RawScope::Family, None) => {
                self.push(
                    &scope_span,
                    "identifier.family",
                    LoadErrorKind::MissingFamily,
                );
                None
            }
            (RawScope::Family, Some(family)) => {
                self.check_name(family, "identifier.family");
                Some(IdentifierScope::Family(family.get_ref().clone()))
            }
        }
    }

    /// The release policy; `cas`: the service speaks CAS, whose answers
    /// carry each attribute as an XML element, so custom names must be XML
    /// names.
    fn release(&mut self, raw: Option<RawRelease>, cas: bool) -> ReleasePolicy {
        let Some(raw) = raw else {
            return ReleasePolicy::default();
        };
        let mut rules = Vec::new();
        let mut seen = HashSet::new();
        for name in raw.attributes {
            let Some(source) = gar_source(name.get_ref()) else {
                let reason = LoadErrorKind::UnknownAttribute(name.get_ref().clone());
                self.push(&name.span(), "release.attributes", reason);
                continue;
            };
            if !seen.insert(name.get_ref().clone()) {
                let reason = LoadErrorKind::DuplicateAttribute(name.get_ref().clone());
                self.push(&name.span(), "release.attributes", reason);
                continue;
            }
            rules.push(ReleaseRule {
                name: name.into_inner(),
                source,
            });
        }
        for (name, canonical) in raw.custom {
            if !self.check_not_empty(&name, "release.custom") {
                continue;
            }
            let Some(canonical_name) = canonical_name(canonical.get_ref()) else {
                let reason = LoadErrorKind::UnknownCanonicalAttribute(canonical.get_ref().clone());
                self.push(&canonical.span(), "release.custom", reason);
                continue;
            };
            if NEVER_RELEASED.contains(&canonical_name) {
                let reason = LoadErrorKind::ForbiddenAttribute(canonical_name.to_owned());
                self.push(&canonical.span(), "release.custom", reason);
                continue;
            }
            if !seen.insert(name.get_ref().clone()) {
                let reason = LoadErrorKind::DuplicateAttribute(name.get_ref().clone());
                self.push(&name.span(), "release.custom", reason);
                continue;
            }
            if cas && !is_xml_element_name(name.get_ref()) {
                let reason = LoadErrorKind::NotAnXmlName(name.get_ref().clone());
                self.push(&name.span(), "release.custom", reason);
                continue;
            }
            rules.push(ReleaseRule {
                name: name.into_inner(),
                source: AttributeSource::Canonical(canonical_name),
            });
        }
        ReleasePolicy { rules }
    }

    fn check_http_url(&mut self, value: &Spanned<String>, field: &str) {
        let url = value.get_ref();
        let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
        let host_ok = url
            .split_once("://")
            .is_some_and(|(_, rest)| !rest.is_empty() && !rest.starts_with('/'));
        if !scheme_ok || !host_ok || url.chars().any(char::is_whitespace) {
            self.push(
                &value.span(),
                field,
                LoadErrorKind::NotAnHttpUrl(url.clone()),
            );
        }
    }

    fn access(&mut self, raw: Option<RawAccess>) -> AccessPolicy {
        let Some(raw) = raw else {
            return AccessPolicy::default();
        };
        let profiles = raw
            .profiles
            .as_ref()
            .map(|list| self.profiles(list, "access.profiles"));
        let schools = raw
            .schools
            .as_ref()
            .map(|list| self.schools(list, "access.schools"));
        let authn_contexts = raw
            .authn_contexts
            .as_ref()
            .map(|list| self.authn_contexts(list));
        if schools.is_none()
            && let Some(first) = raw.grants.first()
        {
            self.push(
                &first.span(),
                "access.grants",
                LoadErrorKind::GrantsWithoutSchools,
            );
        }
        let mut names = HashSet::new();
        let grants = raw
            .grants
            .iter()
            .enumerate()
            .filter_map(|(position, grant)| {
                let field = format!("access.grants[{position}]");
                let name = &grant.get_ref().name;
                if !names.insert(name.get_ref().clone()) {
                    let reason = LoadErrorKind::DuplicateGrantName(name.get_ref().clone());
                    self.push(&name.span(), &format!("{field}.name"), reason);
                }
                self.grant(grant.get_ref(), &field, schools.as_deref())
            })
            .collect();
        AccessPolicy {
            profiles,
            schools,
            authn_contexts,
            grants,
        }
    }

    /// A profile list (`access.profiles` or a grant's `profiles`), not
    /// empty, duplicates dropped.
    fn profiles(&mut self, list: &Spanned<Vec<Spanned<String>>>, field: &str) -> Vec<Profile> {
        if list.get_ref().is_empty() {
            self.push(&list.span(), field, LoadErrorKind::NoProfiles);
        }
        let mut profiles = Vec::new();
        for value in list.get_ref() {
            match value.get_ref().parse::<Profile>() {
                Ok(profile) if !profiles.contains(&profile) => profiles.push(profile),
                Ok(_) => {}
                Err(error) => {
                    self.push(&value.span(), field, LoadErrorKind::UnknownProfile(error));
                }
            }
        }
        profiles
    }

    /// A school list (`access.schools` or a grant's `schools`): not empty,
    /// each a UAI with its check letter, duplicates dropped.
    fn schools(&mut self, list: &Spanned<Vec<Spanned<String>>>, field: &str) -> Vec<Uai> {
        if list.get_ref().is_empty() {
            self.push(&list.span(), field, LoadErrorKind::NoSchools);
        }
        let mut schools = Vec::new();
        for value in list.get_ref() {
            if let Some(uai) = self.uai(value, field)
                && !schools.contains(&uai)
            {
                schools.push(uai);
            }
        }
        schools
    }

    fn uai(&mut self, value: &Spanned<String>, field: &str) -> Option<Uai> {
        match Uai::parse(value.get_ref()) {
            Ok(uai) => Some(uai),
            Err(error) => {
                self.push(&value.span(), field, LoadErrorKind::InvalidUai(error));
                None
            }
        }
    }

    fn authn_contexts(&mut self, list: &Spanned<Vec<Spanned<String>>>) -> Vec<String> {
        let field = "access.authn_contexts";
        if list.get_ref().is_empty() {
            self.push(&list.span(), field, LoadErrorKind::NoAuthnContexts);
        }
        let mut contexts: Vec<String> = Vec::new();
        for value in list.get_ref() {
            let uri = value.get_ref();
            let valid =
                uri.contains(':') && !uri.starts_with(':') && !uri.chars().any(char::is_whitespace);
            if !valid {
                let reason = LoadErrorKind::NotAnAuthnContext(uri.clone());
                self.push(&value.span(), field, reason);
            } else if !contexts.contains(uri) {
                contexts.push(uri.clone());
            }
        }
        contexts
    }

    /// One grant (`field` is `access.grants[i]`); `schools` are the
    /// service's, when given. `None` when the grant's dates are unusable
    /// (their errors are recorded).
    fn grant(&mut self, raw: &RawGrant, field: &str, schools: Option<&[Uai]>) -> Option<Grant> {
        self.check_name(&raw.name, &format!("{field}.name"));
        if let Some(label) = &raw.label {
            self.check_not_empty(label, &format!("{field}.label"));
        }
        let grant_schools = self.schools(&raw.schools, &format!("{field}.schools"));
        let profiles = raw
            .profiles
            .as_ref()
            .map(|list| self.profiles(list, &format!("{field}.profiles")));
        let levels = raw.levels.as_ref().map(|list| {
            let levels_field = format!("{field}.levels");
            if list.get_ref().is_empty() {
                self.push(&list.span(), &levels_field, LoadErrorKind::NoLevels);
            }
            list.get_ref()
                .iter()
                .filter(|level| self.check_not_empty(level, &levels_field))
                .map(|level| level.get_ref().trim().to_owned())
                .collect()
        });
        let as_school = raw.as_school.as_ref().and_then(|value| {
            let as_field = format!("{field}.as_school");
            let uai = self.uai(value, &as_field)?;
            if let Some(schools) = schools
                && !schools.contains(&uai)
            {
                let reason = LoadErrorKind::AsSchoolNotInSchools(uai.as_str().to_owned());
                self.push(&value.span(), &as_field, reason);
            }
            Some(uai)
        });
        let valid_from = self.local_date(&raw.valid_from, &format!("{field}.valid_from"));
        let valid_until = self.local_date(&raw.valid_until, &format!("{field}.valid_until"));
        let (valid_from, valid_until) = (valid_from?, valid_until?);
        let until_field = format!("{field}.valid_until");
        let days = (valid_until - valid_from).num_days();
        if valid_until < valid_from {
            let reason = LoadErrorKind::GrantEndsBeforeStart {
                valid_from,
                valid_until,
            };
            self.push(&raw.valid_until.span(), &until_field, reason);
        } else if days > MAX_GRANT_DAYS {
            let reason = LoadErrorKind::GrantTooLong { days };
            self.push(&raw.valid_until.span(), &until_field, reason);
        }
        Some(Grant {
            name: raw.name.get_ref().clone(),
            label: raw.label.as_ref().map(|label| label.get_ref().clone()),
            schools: grant_schools,
            profiles,
            levels,
            valid_from,
            valid_until,
            as_school,
        })
    }

    /// A TOML local date (`2026-09-01`, no time, no offset).
    fn local_date(&mut self, value: &Spanned<Datetime>, field: &str) -> Option<NaiveDate> {
        let datetime = value.get_ref();
        let date = match (datetime.date, datetime.time, datetime.offset) {
            (Some(date), None, None) => NaiveDate::from_ymd_opt(
                i32::from(date.year),
                u32::from(date.month),
                u32::from(date.day),
            ),
            _ => None,
        };
        if date.is_none() {
            let reason = LoadErrorKind::NotALocalDate(datetime.to_string());
            self.push(&value.span(), field, reason);
        }
        date
    }

    fn saml(&mut self, raw: &Spanned<RawSaml>) -> Option<SamlService> {
        let table = raw.get_ref();
        let entity_id_ok = self.check_not_empty(&table.entity_id, "saml.entity_id");
        let lifetime = match &table.assertion_lifetime_seconds {
            None => Some(MAX_ASSERTION_LIFETIME_SECONDS),
            Some(seconds) if (1..=MAX_ASSERTION_LIFETIME_SECONDS).contains(seconds.get_ref()) => {
                Some(*seconds.get_ref())
            }
            Some(seconds) => {
                let reason = LoadErrorKind::LifetimeOutOfRange(*seconds.get_ref());
                self.push(&seconds.span(), "saml.assertion_lifetime_seconds", reason);
                None
            }
        };
        let endpoints = if entity_id_ok {
            self.endpoints(raw)
        } else {
            None
        };
        let endpoints = endpoints?;
        let require_signed_authn_requests = table
            .require_signed_authn_requests
            .as_ref()
            .is_none_or(|required| *required.get_ref());
        if require_signed_authn_requests && endpoints.signing_certs.is_empty() {
            let span = table
                .require_signed_authn_requests
                .as_ref()
                .map_or_else(|| raw.span(), Spanned::span);
            self.push(
                &span,
                "saml.require_signed_authn_requests",
                LoadErrorKind::NoSigningCertificate,
            );
        }
        Some(SamlService {
            entity_id: table.entity_id.get_ref().clone(),
            acs: endpoints.acs,
            slo: endpoints.slo,
            signing_certs: endpoints.signing_certs,
            encryption_certs: endpoints.encryption_certs,
            require_signed_authn_requests,
            sign_response: table.sign_response,
            name_id_format: table.name_id_format,
            assertion_lifetime: Duration::from_secs(lifetime?),
        })
    }

    /// Endpoints and keys, from the metadata file or from the inline keys,
    /// then the checks on the ACS list that both forms share.
    fn endpoints(&mut self, raw: &Spanned<RawSaml>) -> Option<Endpoints> {
        let table = raw.get_ref();
        let inline =
            table.acs.is_some() || table.slo.is_some() || table.signing_certificate_file.is_some();
        let (endpoints, span, field) = match (&table.metadata_file, &table.acs) {
            (Some(file), _) if inline => {
                self.push(
                    &file.span(),
                    "saml.metadata_file",
                    LoadErrorKind::MetadataAndInline,
                );
                return None;
            }
            (Some(file), _) => (
                self.metadata_endpoints(file, table.entity_id.get_ref())?,
                file.span(),
                "saml.metadata_file",
            ),
            (None, Some(acs)) => (self.inline_endpoints(table, acs)?, acs.span(), "saml.acs"),
            (None, None) => {
                self.push(&raw.span(), "saml", LoadErrorKind::NoEndpointSource);
                return None;
            }
        };
        if endpoints.acs.is_empty() {
            self.push(&span, field, LoadErrorKind::NoAcs);
            return None;
        }
        if !endpoints
            .acs
            .iter()
            .any(|acs| acs.binding == ns::BINDING_HTTP_POST)
        {
            self.push(&span, field, LoadErrorKind::NoPostAcs);
            return None;
        }
        let mut indexes = HashSet::new();
        for index in endpoints.acs.iter().filter_map(|acs| acs.index) {
            if !indexes.insert(index) {
                self.push(&span, field, LoadErrorKind::DuplicateAcsIndex(index));
                return None;
            }
        }
        Some(endpoints)
    }

    fn metadata_endpoints(&mut self, file: &Spanned<String>, entity_id: &str) -> Option<Endpoints> {
        let span = file.span();
        let field = "saml.metadata_file";
        let path = self.dir.join(file.get_ref());
        let xml = match std::fs::read_to_string(&path) {
            Ok(xml) => xml,
            Err(source) => {
                self.push(&span, field, LoadErrorKind::ReferencedFile { path, source });
                return None;
            }
        };
        // Selecting by entity id: metadata of another entity is refused
        // (MetadataError::EntityNotFound).
        let parsed = match metadata::parse(&xml, Some(entity_id)) {
            Ok(parsed) => parsed,
            Err(source) => {
                self.push(&span, field, LoadErrorKind::Metadata { path, source });
                return None;
            }
        };
        let Some(sp) = parsed.sp else {
            self.push(&span, field, LoadErrorKind::NoSpDescriptor { path });
            return None;
        };
        Some(Endpoints {
            acs: sp.acs,
            slo: sp.slo,
            signing_certs: sp.signing_certs,
            encryption_certs: sp.encryption_certs,
        })
    }

    fn inline_endpoints(
        &mut self,
        table: &RawSaml,
        acs: &Spanned<Vec<RawAcs>>,
    ) -> Option<Endpoints> {
        let before = self.errors.len();
        let acs: Vec<Endpoint> = acs
            .get_ref()
            .iter()
            .enumerate()
            .map(|(position, raw)| {
                let field = format!("saml.acs[{position}]");
                self.endpoint(&raw.url, &raw.binding, &field, raw.index, raw.default)
            })
            .collect();
        let slo: Vec<Endpoint> = table
            .slo
            .as_ref()
            .map(|slo| slo.get_ref().as_slice())
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(position, raw): (usize, &RawSlo)| {
                let field = format!("saml.slo[{position}]");
                self.endpoint(&raw.url, &raw.binding, &field, None, false)
            })
            .collect();
        let signing_certs = match &table.signing_certificate_file {
            Some(file) => vec![self.certificate(file)?],
            None => Vec::new(),
        };
        (self.errors.len() == before).then_some(Endpoints {
            acs,
            slo,
            signing_certs,
            encryption_certs: Vec::new(),
        })
    }

    fn endpoint(
        &mut self,
        url: &Spanned<String>,
        binding: &Spanned<String>,
        field: &str,
        index: Option<u16>,
        is_default: bool,
    ) -> Endpoint {
        self.check_not_empty(url, &format!("{field}.url"));
        if !SUPPORTED_BINDINGS.contains(&binding.get_ref().as_str()) {
            let reason = LoadErrorKind::UnsupportedBinding(binding.get_ref().clone());
            self.push(&binding.span(), &format!("{field}.binding"), reason);
        }
        Endpoint {
            binding: binding.get_ref().clone(),
            location: url.get_ref().clone(),
            index,
            is_default,
        }
    }

    fn certificate(&mut self, file: &Spanned<String>) -> Option<Certificate> {
        let span = file.span();
        let field = "saml.signing_certificate_file";
        let path = self.dir.join(file.get_ref());
        let pem = match std::fs::read(&path) {
            Ok(pem) => pem,
            Err(source) => {
                self.push(&span, field, LoadErrorKind::ReferencedFile { path, source });
                return None;
            }
        };
        match Certificate::from_pem(&pem) {
            Ok(certificate) => Some(certificate),
            Err(source) => {
                self.push(&span, field, LoadErrorKind::Certificate { path, source });
                None
            }
        }
    }
}

/// Endpoints and keys of a SAML service, from either source.
struct Endpoints {
    acs: Vec<Endpoint>,
    slo: Vec<Endpoint>,
    signing_certs: Vec<Certificate>,
    encryption_certs: Vec<Certificate>,
}

/// A protocol table's outcome for the definition: `Some(None)` when the
/// table is absent, `None` when it is present but invalid (its errors are
/// recorded).
fn optional<T>(part: Option<Option<T>>) -> Option<Option<T>> {
    match part {
        None => Some(None),
        Some(built) => built.map(Some),
    }
}

/// The text between `prefix` and the next backtick, when `message` starts with `prefix`.
fn backticked<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('`').next()
}
