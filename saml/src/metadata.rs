//! SAML 2.0 metadata (saml-metadata §2): reading an `md:EntityDescriptor` or
//! one entity of an `md:EntitiesDescriptor` (federation aggregate) into the
//! endpoints, certificates and flags the gateway needs, optionally after
//! verifying the document's signature (saml-metadata §3); and writing the
//! gateway's own IdP and SP metadata.

use chrono::{DateTime, Utc};
use openssl::hash::{MessageDigest, hash};
use thiserror::Error;

use crate::dsig::{DsigError, verify_and_reduce};
use crate::keys::{Certificate, KeyError};
use crate::ns;
use crate::xml::tree::{self, Element};
use crate::xml::{
    MAX_METADATA_LEN, SchemaError, XmlError, check_untrusted, escape_attr, escape_text,
};

/// Why metadata could not be read.
#[derive(Debug, Error)]
pub enum MetadataError {
    /// The document failed the untrusted-XML checks.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// The document does not follow the metadata schema.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// The signature of the document was refused.
    #[error("metadata signature refused: {0}")]
    Signature(#[from] DsigError),
    /// The requested entity is not in the document.
    #[error("entity {entity_id} is not in the metadata")]
    EntityNotFound {
        /// The entity ID.
        entity_id: String,
    },
    /// The requested entity appears more than once.
    #[error("entity {entity_id} appears more than once in the metadata")]
    DuplicateEntity {
        /// The entity ID.
        entity_id: String,
    },
    /// An aggregate holds several entities and none was selected.
    #[error("the metadata holds {count} entities: an entity ID must be given")]
    EntityIdRequired {
        /// How many entities.
        count: usize,
    },
    /// A certificate could not be read.
    #[error("invalid certificate in the metadata of {entity_id}: {source}")]
    Certificate {
        /// The entity ID.
        entity_id: String,
        /// The problem.
        #[source]
        source: KeyError,
    },
    /// A `KeyDescriptor` carries no X.509 certificate.
    #[error("a KeyDescriptor of {entity_id} has no ds:X509Certificate")]
    KeyWithoutCertificate {
        /// The entity ID.
        entity_id: String,
    },
}

/// A protocol endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Binding URI.
    pub binding: String,
    /// URL.
    pub location: String,
    /// `index` (indexed endpoints such as AssertionConsumerService).
    pub index: Option<u16>,
    /// `isDefault` (false when absent).
    pub is_default: bool,
}

/// What an IdP publishes (`md:IDPSSODescriptor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpDescriptor {
    /// Certificates usable to verify its signatures.
    pub signing_certs: Vec<Certificate>,
    /// `SingleSignOnService` endpoints.
    pub sso: Vec<Endpoint>,
    /// `SingleLogoutService` endpoints.
    pub slo: Vec<Endpoint>,
    /// `WantAuthnRequestsSigned`.
    pub want_authn_requests_signed: bool,
}

/// What an SP publishes (`md:SPSSODescriptor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpDescriptor {
    /// `AssertionConsumerService` endpoints.
    pub acs: Vec<Endpoint>,
    /// `SingleLogoutService` endpoints.
    pub slo: Vec<Endpoint>,
    /// Certificates usable to verify its signatures.
    pub signing_certs: Vec<Certificate>,
    /// Certificates to encrypt assertions for it.
    pub encryption_certs: Vec<Certificate>,
    /// `AuthnRequestsSigned`.
    pub authn_requests_signed: bool,
    /// `WantAssertionsSigned`.
    pub want_assertions_signed: bool,
    /// `NameIDFormat` values.
    pub name_id_formats: Vec<String>,
}

/// One entity's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityMetadata {
    /// `entityID`.
    pub entity_id: String,
    /// Its SAML 2.0 IdP role, if any.
    pub idp: Option<IdpDescriptor>,
    /// Its SAML 2.0 SP role, if any.
    pub sp: Option<SpDescriptor>,
    /// The earliest `validUntil` of the entity and its enclosing EntitiesDescriptors.
    pub valid_until: Option<DateTime<Utc>>,
}

/// Parses an md:EntityDescriptor, or an md:EntitiesDescriptor (possibly nested)
/// with `entity_id` selecting one entity (it may be omitted when there is only
/// one). A KeyDescriptor without `use` counts as both signing and encryption.
/// Only role descriptors whose `protocolSupportEnumeration` lists SAML 2.0 count.
pub fn parse(xml: &str, entity_id: Option<&str>) -> Result<EntityMetadata, MetadataError> {
    let root = tree::parse(xml, MAX_METADATA_LEN)?;
    let mut entities = Vec::new();
    if root.is(ns::METADATA, "EntitiesDescriptor") {
        collect_entities(&root, None, &mut entities)?;
    } else {
        root.require_name(ns::METADATA, "EntityDescriptor")?;
        entities.push((&root, root.time_attr("validUntil")?));
    }
    let selected: Vec<&(&Element, Option<DateTime<Utc>>)> = match entity_id {
        Some(wanted) => entities
            .iter()
            .filter(|(e, _)| e.attr("entityID") == Some(wanted))
            .collect(),
        None => entities.iter().collect(),
    };
    let (entity, valid_until) = match (selected.as_slice(), entity_id) {
        ([one], _) => **one,
        ([], Some(wanted)) => {
            return Err(MetadataError::EntityNotFound {
                entity_id: wanted.to_owned(),
            });
        }
        (_, Some(wanted)) => {
            return Err(MetadataError::DuplicateEntity {
                entity_id: wanted.to_owned(),
            });
        }
        (several, None) => {
            return Err(MetadataError::EntityIdRequired {
                count: several.len(),
            });
        }
    };
    read_entity(entity, valid_until)
}

/// Verifies the metadata document's signature with the given certificate, then
/// parses the reduced (signed) content.
pub fn parse_signed(
    xml: &str,
    entity_id: Option<&str>,
    cert: &Certificate,
) -> Result<EntityMetadata, MetadataError> {
    check_untrusted(xml, MAX_METADATA_LEN)?;
    let reduced = verify_and_reduce(xml, std::slice::from_ref(cert))?;
    parse(&reduced, entity_id)
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn collect_entities<'a>(
    group: &'a Element,
    inherited: Option<DateTime<Utc>>,
    out: &mut Vec<(&'a Element, Option<DateTime<Utc>>)>,
) -> Result<(), MetadataError> {
    let valid_until = earliest(inherited, group.time_attr("validUntil")?);
    for child in group.elements() {
        if child.is(ns::METADATA, "EntityDescriptor") {
            out.push((child, earliest(valid_until, child.time_attr("validUntil")?)));
        } else if child.is(ns::METADATA, "EntitiesDescriptor") {
            collect_entities(child, valid_until, out)?;
        }
    }
    Ok(())
}

fn supports_saml2(descriptor: &Element) -> bool {
    descriptor
        .attr("protocolSupportEnumeration")
        .is_some_and(|list| list.split_whitespace().any(|p| p == ns::PROTOCOL))
}

fn saml2_role<'a>(
    entity: &'a Element,
    local: &'static str,
) -> Result<Option<&'a Element>, MetadataError> {
    let mut roles = entity
        .children_named(ns::METADATA, local)
        .filter(|d| supports_saml2(d));
    let first = roles.next();
    if roles.next().is_some() {
        return Err(SchemaError::DuplicateElement {
            parent: entity.name(),
            element: local,
        }
        .into());
    }
    Ok(first)
}

fn read_entity(
    entity: &Element,
    valid_until: Option<DateTime<Utc>>,
) -> Result<EntityMetadata, MetadataError> {
    let entity_id = entity.required_attr("entityID")?.trim().to_owned();
    let idp = saml2_role(entity, "IDPSSODescriptor")?
        .map(|d| -> Result<IdpDescriptor, MetadataError> {
            let keys = read_keys(d, &entity_id)?;
            Ok(IdpDescriptor {
                signing_certs: keys.signing,
                sso: read_endpoints(d, "SingleSignOnService")?,
                slo: read_endpoints(d, "SingleLogoutService")?,
                want_authn_requests_signed: d
                    .bool_attr("WantAuthnRequestsSigned")?
                    .unwrap_or(false),
            })
        })
        .transpose()?;
    let sp = saml2_role(entity, "SPSSODescriptor")?
        .map(|d| -> Result<SpDescriptor, MetadataError> {
            let keys = read_keys(d, &entity_id)?;
            Ok(SpDescriptor {
                acs: read_endpoints(d, "AssertionConsumerService")?,
                slo: read_endpoints(d, "SingleLogoutService")?,
                signing_certs: keys.signing,
                encryption_certs: keys.encryption,
                authn_requests_signed: d.bool_attr("AuthnRequestsSigned")?.unwrap_or(false),
                want_assertions_signed: d.bool_attr("WantAssertionsSigned")?.unwrap_or(false),
                name_id_formats: d
                    .children_named(ns::METADATA, "NameIDFormat")
                    .map(Element::trimmed_text)
                    .collect::<Result<Vec<_>, _>>()?,
            })
        })
        .transpose()?;
    Ok(EntityMetadata {
        entity_id,
        idp,
        sp,
        valid_until,
    })
}

struct Keys {
    signing: Vec<Certificate>,
    encryption: Vec<Certificate>,
}

fn read_keys(descriptor: &Element, entity_id: &str) -> Result<Keys, MetadataError> {
    let mut keys = Keys {
        signing: Vec::new(),
        encryption: Vec::new(),
    };
    for key in descriptor.children_named(ns::METADATA, "KeyDescriptor") {
        let (signing, encryption) = match key.attr("use").map(str::trim) {
            None => (true, true),
            Some("signing") => (true, false),
            Some("encryption") => (false, true),
            Some(other) => {
                return Err(SchemaError::InvalidValue {
                    element: key.name(),
                    field: "use",
                    value: other.to_owned(),
                    reason: "expected signing or encryption".to_owned(),
                }
                .into());
            }
        };
        let info = key.required_child(ns::DSIG, "KeyInfo")?;
        let mut certs = Vec::new();
        for data in info.children_named(ns::DSIG, "X509Data") {
            for cert in data.children_named(ns::DSIG, "X509Certificate") {
                let cert = Certificate::from_base64_der(&cert.text()?).map_err(|source| {
                    MetadataError::Certificate {
                        entity_id: entity_id.to_owned(),
                        source,
                    }
                })?;
                certs.push(cert);
            }
        }
        if certs.is_empty() {
            return Err(MetadataError::KeyWithoutCertificate {
                entity_id: entity_id.to_owned(),
            });
        }
        if signing {
            keys.signing.extend(certs.iter().cloned());
        }
        if encryption {
            keys.encryption.extend(certs);
        }
    }
    Ok(keys)
}

fn read_endpoints(
    descriptor: &Element,
    local: &'static str,
) -> Result<Vec<Endpoint>, MetadataError> {
    descriptor
        .children_named(ns::METADATA, local)
        .map(|e| {
            Ok(Endpoint {
                binding: e.required_attr("Binding")?.trim().to_owned(),
                location: e.required_attr("Location")?.trim().to_owned(),
                index: e.u16_attr("index")?,
                is_default: e.bool_attr("isDefault")?.unwrap_or(false),
            })
        })
        .collect()
}

/// What the gateway publishes as an IdP (for ENTs and resources).
#[derive(Debug, Clone, Copy)]
pub struct IdpMetadataSpec<'a> {
    /// Our IdP entity ID.
    pub entity_id: &'a str,
    /// Signing certificates (two during a key rollover).
    pub signing_certs: &'a [Certificate],
    /// SSO endpoint, HTTP-Redirect.
    pub sso_redirect: &'a str,
    /// SSO endpoint, HTTP-POST.
    pub sso_post: &'a str,
    /// SLO endpoint, HTTP-Redirect.
    pub slo_redirect: &'a str,
    /// SLO endpoint, HTTP-POST.
    pub slo_post: &'a str,
    /// Supported NameID formats.
    pub name_id_formats: &'a [&'a str],
}

/// What the gateway publishes as an SP (for ÉduConnect and agent IdPs).
#[derive(Debug, Clone, Copy)]
pub struct SpMetadataSpec<'a> {
    /// Our SP entity ID.
    pub entity_id: &'a str,
    /// Signing certificate.
    pub signing_cert: &'a Certificate,
    /// Encryption certificate (assertions encrypted for us).
    pub encryption_cert: Option<&'a Certificate>,
    /// Assertion consumer service, HTTP-POST.
    pub acs_post: &'a str,
    /// SLO endpoint, HTTP-Redirect.
    pub slo_redirect: Option<&'a str>,
    /// SLO endpoint, HTTP-POST.
    pub slo_post: Option<&'a str>,
    /// `AuthnRequestsSigned`.
    pub authn_requests_signed: bool,
    /// `WantAssertionsSigned`.
    pub want_assertions_signed: bool,
}

/// A stable `ID` for an entity's metadata (so that it can be signed with
/// [`crate::dsig::sign_enveloped`]): `_` and the first 32 hex digits of
/// SHA-256(entity ID).
pub fn metadata_id(entity_id: &str) -> String {
    let digest = hash(MessageDigest::sha256(), entity_id.as_bytes())
        .map(|d| d.to_vec())
        .unwrap_or_default();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("_{hex}")
}

fn entity_open(entity_id: &str) -> String {
    format!(
        "<md:EntityDescriptor xmlns:md=\"{}\" xmlns:ds=\"{}\" entityID=\"{}\" ID=\"{}\">",
        ns::METADATA,
        ns::DSIG,
        escape_attr(entity_id),
        metadata_id(entity_id)
    )
}

fn key_descriptor(usage: &str, cert: &Certificate, methods: &[&str]) -> String {
    let methods: String = methods
        .iter()
        .map(|m| format!("<md:EncryptionMethod Algorithm=\"{m}\"/>"))
        .collect();
    format!(
        "<md:KeyDescriptor use=\"{usage}\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>{methods}</md:KeyDescriptor>",
        cert.to_base64_der()
    )
}

fn endpoint(local: &str, binding: &str, location: &str, index: Option<&str>) -> String {
    let index = index
        .map(|i| format!(" index=\"{i}\" isDefault=\"true\""))
        .unwrap_or_default();
    format!(
        "<md:{local} Binding=\"{binding}\" Location=\"{}\"{index}/>",
        escape_attr(location)
    )
}

/// Builds the gateway's IdP metadata (unsigned; its root carries [`metadata_id`]).
pub fn build_idp_metadata(spec: &IdpMetadataSpec<'_>) -> String {
    let mut xml = entity_open(spec.entity_id);
    xml.push_str(&format!(
        "<md:IDPSSODescriptor protocolSupportEnumeration=\"{}\">",
        ns::PROTOCOL
    ));
    for cert in spec.signing_certs {
        xml.push_str(&key_descriptor("signing", cert, &[]));
    }
    xml.push_str(&endpoint(
        "SingleLogoutService",
        ns::BINDING_HTTP_REDIRECT,
        spec.slo_redirect,
        None,
    ));
    xml.push_str(&endpoint(
        "SingleLogoutService",
        ns::BINDING_HTTP_POST,
        spec.slo_post,
        None,
    ));
    for format in spec.name_id_formats {
        xml.push_str(&format!(
            "<md:NameIDFormat>{}</md:NameIDFormat>",
            escape_text(format)
        ));
    }
    xml.push_str(&endpoint(
        "SingleSignOnService",
        ns::BINDING_HTTP_REDIRECT,
        spec.sso_redirect,
        None,
    ));
    xml.push_str(&endpoint(
        "SingleSignOnService",
        ns::BINDING_HTTP_POST,
        spec.sso_post,
        None,
    ));
    xml.push_str("</md:IDPSSODescriptor></md:EntityDescriptor>");
    xml
}

/// Builds the gateway's SP metadata (unsigned; its root carries [`metadata_id`]).
/// The encryption key advertises AES-GCM and RSA-OAEP so that IdPs pick them.
pub fn build_sp_metadata(spec: &SpMetadataSpec<'_>) -> String {
    let mut xml = entity_open(spec.entity_id);
    xml.push_str(&format!(
        "<md:SPSSODescriptor AuthnRequestsSigned=\"{}\" WantAssertionsSigned=\"{}\" protocolSupportEnumeration=\"{}\">",
        spec.authn_requests_signed,
        spec.want_assertions_signed,
        ns::PROTOCOL
    ));
    xml.push_str(&key_descriptor("signing", spec.signing_cert, &[]));
    if let Some(cert) = spec.encryption_cert {
        xml.push_str(&key_descriptor(
            "encryption",
            cert,
            &[
                ns::ENC_AES256_GCM,
                ns::ENC_AES128_GCM,
                ns::KT_RSA_OAEP,
                ns::KT_RSA_OAEP_MGF1P,
            ],
        ));
    }
    if let Some(location) = spec.slo_redirect {
        xml.push_str(&endpoint(
            "SingleLogoutService",
            ns::BINDING_HTTP_REDIRECT,
            location,
            None,
        ));
    }
    if let Some(location) = spec.slo_post {
        xml.push_str(&endpoint(
            "SingleLogoutService",
            ns::BINDING_HTTP_POST,
            location,
            None,
        ));
    }
    xml.push_str(&endpoint(
        "AssertionConsumerService",
        ns::BINDING_HTTP_POST,
        spec.acs_post,
        Some("0"),
    ));
    xml.push_str("</md:SPSSODescriptor></md:EntityDescriptor>");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_id_is_stable_and_an_ncname() {
        let id = metadata_id("https://gateway.example/idp");
        assert_eq!(id, metadata_id("https://gateway.example/idp"));
        assert_eq!(id.len(), 33);
        assert!(id.starts_with('_'));
    }

    #[test]
    fn unknown_key_use_is_refused() {
        let xml = format!(
            r#"<EntityDescriptor xmlns="{}" entityID="e"><SPSSODescriptor protocolSupportEnumeration="{}"><KeyDescriptor use="both"/></SPSSODescriptor></EntityDescriptor>"#,
            ns::METADATA,
            ns::PROTOCOL
        );
        assert!(matches!(
            parse(&xml, None),
            Err(MetadataError::Schema(SchemaError::InvalidValue {
                field: "use",
                ..
            }))
        ));
    }

    #[test]
    fn roles_without_saml2_are_ignored() {
        let xml = format!(
            r#"<EntityDescriptor xmlns="{}" entityID="e"><IDPSSODescriptor protocolSupportEnumeration="urn:mace:shibboleth:1.0"/></EntityDescriptor>"#,
            ns::METADATA
        );
        let parsed = parse(&xml, None).unwrap();
        assert_eq!(parsed.entity_id, "e");
        assert!(parsed.idp.is_none());
        assert!(parsed.sp.is_none());
    }
}
