//! The service file format (one TOML file per downstream service, see the
//! crate README) as it is read, before validation, and the helpers that turn
//! TOML byte spans into line numbers and dotted field paths.
//!
//! Every table refuses unknown keys. Values checked after parsing are wrapped
//! in [`Spanned`] so that their errors can point at their line.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};
use toml::value::Datetime;

use crate::oidc::{ClientType, IdTokenAlg, TokenAuthMethod};
use crate::saml::NameIdFormat;
use crate::service::ServiceKind;

/// A service file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawService {
    pub id: Spanned<String>,
    pub display_name: Spanned<String>,
    pub kind: Spanned<ServiceKind>,
    pub publisher: Option<Spanned<String>>,
    pub resource_id: Option<Spanned<String>>,
    pub saml: Option<Spanned<RawSaml>>,
    pub cas: Option<Spanned<RawCas>>,
    pub oidc: Option<Spanned<RawOidc>>,
    pub identifier: Option<Spanned<RawIdentifier>>,
    pub release: Option<RawRelease>,
    pub access: Option<RawAccess>,
    pub mediacentre: Option<Spanned<RawMediacentre>>,
    pub mediacentre_api: Option<Spanned<RawMediacentreApi>>,
}

/// The `[mediacentre_api]` table of an ENT.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMediacentreApi {
    pub token_sha256: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMediacentre {
    pub access_url: Spanned<String>,
    pub logo_url: Option<Spanned<String>>,
    #[serde(default)]
    pub pedagogical_types: Vec<String>,
    #[serde(default)]
    pub education_levels: Vec<String>,
    #[serde(default)]
    pub subject_areas: Vec<String>,
}

/// The `[saml]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSaml {
    pub entity_id: Spanned<String>,
    pub metadata_file: Option<Spanned<String>>,
    pub acs: Option<Spanned<Vec<RawAcs>>>,
    pub slo: Option<Spanned<Vec<RawSlo>>>,
    pub signing_certificate_file: Option<Spanned<String>>,
    pub require_signed_authn_requests: Option<Spanned<bool>>,
    #[serde(default)]
    pub sign_response: bool,
    #[serde(default)]
    pub name_id_format: NameIdFormat,
    pub assertion_lifetime_seconds: Option<Spanned<u64>>,
}

/// The `[cas]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCas {
    pub services: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub allow_proxy: bool,
    pub proxy_callbacks: Option<Spanned<Vec<Spanned<String>>>>,
    pub logout_url: Option<Spanned<String>>,
}

/// The `[oidc]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOidc {
    pub client_id: Spanned<String>,
    pub client_type: Option<Spanned<ClientType>>,
    pub token_endpoint_auth_method: Option<Spanned<TokenAuthMethod>>,
    pub client_secret_sha256: Option<Spanned<String>>,
    pub jwks_file: Option<Spanned<String>>,
    pub redirect_uris: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<Spanned<String>>,
    pub backchannel_logout_uri: Option<Spanned<String>>,
    #[serde(default)]
    pub id_token_signed_response_alg: IdTokenAlg,
    pub require_pkce: Option<Spanned<bool>>,
}

/// One inline AssertionConsumerService.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAcs {
    pub url: Spanned<String>,
    pub binding: Spanned<String>,
    pub index: Option<u16>,
    #[serde(default)]
    pub default: bool,
}

/// One inline SingleLogoutService.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSlo {
    pub url: Spanned<String>,
    pub binding: Spanned<String>,
}

/// `identifier.scope`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawScope {
    #[default]
    Service,
    Family,
}

/// The `[identifier]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIdentifier {
    pub scope: Option<Spanned<RawScope>>,
    pub family: Option<Spanned<String>>,
    pub key: Option<Spanned<String>>,
    pub current_as: Option<Spanned<String>>,
}

/// The `[release]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRelease {
    #[serde(default)]
    pub attributes: Vec<Spanned<String>>,
    #[serde(default)]
    pub custom: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// The `[access]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccess {
    pub profiles: Option<Spanned<Vec<Spanned<String>>>>,
    pub schools: Option<Spanned<Vec<Spanned<String>>>>,
    pub authn_contexts: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub grants: Vec<Spanned<RawGrant>>,
}

/// One `[[access.grants]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGrant {
    pub name: Spanned<String>,
    pub label: Option<Spanned<String>>,
    pub schools: Spanned<Vec<Spanned<String>>>,
    pub profiles: Option<Spanned<Vec<Spanned<String>>>>,
    pub levels: Option<Spanned<Vec<Spanned<String>>>>,
    pub valid_from: Spanned<Datetime>,
    pub valid_until: Spanned<Datetime>,
    pub as_school: Option<Spanned<String>>,
}

/// Dotted path (e.g. `saml.acs[0].binding`) of the deepest key whose key or
/// value covers `offset` in the document `text`; `None` when the document
/// does not parse or the offset lies outside every key.
pub(crate) fn field_at(text: &str, offset: usize) -> Option<String> {
    let document = DeTable::parse(text).ok()?;
    let segments = find_in_table(document.get_ref(), offset)?;
    let mut path = String::new();
    for segment in segments {
        if !path.is_empty() && !segment.starts_with('[') {
            path.push('.');
        }
        path.push_str(&segment);
    }
    Some(path)
}

fn covers(span: &Range<usize>, offset: usize) -> bool {
    span.start <= offset && offset < span.end
}

/// Path segments, outermost first. A standard table's span is only its
/// header, so tables are always searched, whatever their span.
fn find_in_table(table: &DeTable<'_>, offset: usize) -> Option<Vec<String>> {
    table.iter().find_map(|(key, value)| {
        let inner = find_in_value(value.get_ref(), offset);
        if inner.is_none() && !covers(&key.span(), offset) && !covers(&value.span(), offset) {
            return None;
        }
        let mut segments = vec![key.get_ref().to_string()];
        segments.extend(inner.unwrap_or_default());
        Some(segments)
    })
}

fn find_in_value(value: &DeValue<'_>, offset: usize) -> Option<Vec<String>> {
    match value {
        DeValue::Table(table) => find_in_table(table, offset),
        DeValue::Array(items) => items.iter().enumerate().find_map(|(index, item)| {
            let inner = find_in_value(item.get_ref(), offset);
            if inner.is_none() && !covers(&item.span(), offset) {
                return None;
            }
            let mut segments = vec![format!("[{index}]")];
            segments.extend(inner.unwrap_or_default());
            Some(segments)
        }),
        DeValue::String(_)
        | DeValue::Integer(_)
        | DeValue::Float(_)
        | DeValue::Boolean(_)
        | DeValue::Datetime(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "id = \"a\"\n[saml]\nentity_id = \"x\"\nacs = [{ url = \"u\", index = 7 }]\n[release.custom]\n\"mail\" = \"email\"\n";

    fn offset_of(needle: &str) -> usize {
        DOC.find(needle).unwrap()
    }

    #[test]
    fn fields_are_dotted_paths() {
        assert_eq!(field_at(DOC, offset_of("\"a\"")).as_deref(), Some("id"));
        assert_eq!(field_at(DOC, offset_of("[saml]")).as_deref(), Some("saml"));
        assert_eq!(
            field_at(DOC, offset_of("7 }")).as_deref(),
            Some("saml.acs[0].index")
        );
        assert_eq!(
            field_at(DOC, offset_of("\"email\"")).as_deref(),
            Some("release.custom.mail")
        );
        assert_eq!(field_at("not = = toml", 0), None);
    }
}
