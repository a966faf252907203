//! Harness of the upstream SAML connector's security suite (saml-profiles
//! §4.1, Web Browser SSO with the HTTP-POST binding of saml-bindings §3.5):
//! a simulated ÉduConnect IdP that builds its Responses with the `sso_saml`
//! builders and real keys, the gateway's SP settings, a connector built from
//! the IdP's metadata and a TOML configuration, and the "accepted first, then
//! refused" assertion every security rule is tested with.
#![cfg(test)]

pub mod template;
pub mod xml_edit;

use std::mem::discriminant;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use idp_connectors::config::SamlIdpConfig;
use idp_connectors::mapping::{Mapping, MappingConfig};
use idp_connectors::saml::{
    ConnectorError, ResponseError, SamlConnector, SpSettings, UpstreamLogin,
};
use sso_saml::encryption::{DataCipher, KeyTransport};
use sso_saml::keys::{Certificate, SigningKey};
use sso_saml::messages::{self, AssertionSpec, ResponseSpec, SamlAttribute};
use sso_saml::metadata::{self, IdpMetadataSpec};
use sso_saml::{dsig, encryption, ids, ns};
use sso_store::{MemoryStore, Store};

/// The simulated ÉduConnect entity ID.
pub const IDP_ENTITY: &str = "https://educonnect.test/idp";
/// The gateway's SP entity ID.
pub const SP_ENTITY: &str = "https://sso.test/saml/sp";
/// The gateway's assertion consumer service.
pub const ACS_URL: &str = "https://sso.test/saml/sp/acs";
/// Largest message the gateway accepts (after base64 decoding).
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;
/// Tolerated clock difference.
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);
/// `sn` (surname) attribute name, URI format.
pub const SURNAME_OID: &str = "urn:oid:2.5.4.4";
/// `givenName` attribute name, URI format.
pub const GIVEN_NAME_OID: &str = "urn:oid:2.5.4.42";
/// ÉduConnect's `FrEduCtPersonAffiliation`.
pub const AFFILIATION_OID: &str = "urn:oid:1.3.6.1.4.1.20326.10.999.1.7";
/// The identity an attacker tries to obtain.
pub const EVIL: &str = "admin";

/// The attribute mapping of the tests: subject from the NameID, names and
/// profile from ÉduConnect's attributes.
const MAPPING_TOML: &str = r#"
subject = "name_id"
[[rules]]
from = "urn:oid:2.5.4.4"
to = "surname"
[[rules]]
from = "urn:oid:2.5.4.42"
to = "given_name"
[[rules]]
from = "urn:oid:1.3.6.1.4.1.20326.10.999.1.7"
to = "profile"
map = { eleve2d = "National_ELV", resp2d = "National_TUT" }
"#;

/// Every key of the scenario, generated once per test binary.
pub struct Keys {
    /// The IdP's signing key (its certificate is in the metadata).
    pub idp: SigningKey,
    /// The gateway's AuthnRequest signing key.
    pub sp_signing: Arc<SigningKey>,
    /// The gateway's decryption key (EncryptedAssertion recipient).
    pub sp_decryption: Arc<SigningKey>,
    /// A key the attacker owns, with a self-signed certificate of his own
    /// bearing the IdP's name.
    pub attacker: SigningKey,
}

/// The keys of the scenario.
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        idp: SigningKey::generate_self_signed("educonnect.test").unwrap(),
        sp_signing: Arc::new(SigningKey::generate_self_signed("sso.test signing").unwrap()),
        sp_decryption: Arc::new(SigningKey::generate_self_signed("sso.test encryption").unwrap()),
        attacker: SigningKey::generate_self_signed("educonnect.test").unwrap(),
    })
}

/// The IdP's metadata with the given signing certificates.
pub fn idp_metadata(signing_certs: &[Certificate]) -> String {
    metadata::build_idp_metadata(&IdpMetadataSpec {
        entity_id: IDP_ENTITY,
        signing_certs,
        sso_redirect: "https://educonnect.test/idp/profile/SAML2/Redirect/SSO",
        sso_post: "https://educonnect.test/idp/profile/SAML2/POST/SSO",
        slo_redirect: "https://educonnect.test/idp/profile/SAML2/Redirect/SLO",
        slo_post: "https://educonnect.test/idp/profile/SAML2/POST/SLO",
        name_id_formats: &[ns::NAMEID_TRANSIENT, ns::NAMEID_PERSISTENT],
    })
}

/// The gateway's SP settings.
pub fn sp_settings() -> Arc<SpSettings> {
    let keys = keys();
    Arc::new(SpSettings {
        entity_id: SP_ENTITY.to_owned(),
        acs_url: ACS_URL.to_owned(),
        slo_url: "https://sso.test/saml/sp/slo".to_owned(),
        signing_key: Arc::clone(&keys.sp_signing),
        decryption_key: Arc::clone(&keys.sp_decryption),
        clock_skew: CLOCK_SKEW,
        max_message_bytes: MAX_MESSAGE_BYTES,
    })
}

/// The `[[idp]]` table of the gateway configuration, with `options` (TOML
/// lines such as `allow_unsolicited = true`) appended.
pub fn idp_config(options: &str) -> SamlIdpConfig {
    let text = format!(
        r#"
id = "educonnect"
label = "Élève ou parent"
description = "avec mon compte ÉduConnect"
entity_id = "{IDP_ENTITY}"
metadata_file = "educonnect-metadata.xml"
mapping = "educonnect"
{options}
"#
    );
    toml::from_str(&text).unwrap()
}

/// The mapping of the tests.
pub fn mapping() -> Mapping {
    let config: MappingConfig = toml::from_str(MAPPING_TOML).unwrap();
    Mapping::new(&config).unwrap()
}

/// A connector over the given metadata document.
pub fn connector_from_metadata(
    options: &str,
    metadata_xml: &str,
) -> Result<SamlConnector, ConnectorError> {
    let metadata = metadata::parse(metadata_xml, Some(IDP_ENTITY)).unwrap();
    SamlConnector::new(idp_config(options), mapping(), sp_settings(), metadata)
}

/// The gateway's connector to the simulated IdP, with an in-memory replay cache.
pub struct Sp {
    /// The connector under test.
    pub connector: SamlConnector,
    /// Its replay cache.
    pub store: MemoryStore,
}

impl Sp {
    /// A connector configured with `options` (see [`idp_config`]), trusting
    /// the IdP's real signing certificate.
    pub fn new(options: &str) -> Self {
        let metadata = idp_metadata(std::slice::from_ref(keys().idp.certificate()));
        Self {
            connector: connector_from_metadata(options, &metadata).unwrap(),
            store: MemoryStore::new(),
        }
    }

    /// The default configuration (signed assertion required, nothing else).
    pub fn default_config() -> Self {
        Self::new("")
    }

    /// Runs the acceptance sequence with the in-memory replay cache.
    pub async fn validate(&self, message: &Message) -> Result<UpstreamLogin, ResponseError> {
        self.validate_with(&self.store, message).await
    }

    /// Runs the acceptance sequence with the given replay cache.
    pub async fn validate_with(
        &self,
        store: &dyn Store,
        message: &Message,
    ) -> Result<UpstreamLogin, ResponseError> {
        self.connector
            .validate(
                &message.saml_response,
                message.expected_request.as_deref(),
                store,
                message.now,
            )
            .await
    }
}

/// What the ACS receives, and what the gateway knows at that moment.
#[derive(Debug, Clone)]
pub struct Message {
    /// The `SAMLResponse` form value (base64).
    pub saml_response: String,
    /// The AuthnRequest pending for this browser, if any.
    pub expected_request: Option<String>,
    /// The gateway's clock.
    pub now: DateTime<Utc>,
}

impl Message {
    /// The message with another pending request.
    pub fn expecting(mut self, expected_request: Option<&str>) -> Self {
        self.expected_request = expected_request.map(str::to_owned);
        self
    }
}

/// Base64 as in the HTTP-POST binding.
pub fn encode_post(xml: &str) -> String {
    STANDARD.encode(xml.as_bytes())
}

/// Who signs an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer {
    /// Not signed.
    Nobody,
    /// The IdP, with the key of its metadata.
    Idp,
    /// The attacker, with his own key (his certificate lands in `KeyInfo`).
    Attacker,
    /// The IdP, with a hand-written signature template naming these
    /// SignatureMethod and DigestMethod URIs (see [`template::sign`]).
    IdpTemplate {
        /// `SignatureMethod/@Algorithm`.
        signature_method: &'static str,
        /// `DigestMethod/@Algorithm`.
        digest_method: &'static str,
    },
}

impl Signer {
    /// Signs the element of `xml` whose ID is `id`; None when nobody signs.
    fn sign(self, xml: &str, id: &str) -> Option<String> {
        let keys = keys();
        match self {
            Self::Nobody => None,
            Self::Idp => Some(dsig::sign_enveloped(xml, id, &keys.idp).unwrap()),
            Self::Attacker => Some(dsig::sign_enveloped(xml, id, &keys.attacker).unwrap()),
            Self::IdpTemplate {
                signature_method,
                digest_method,
            } => Some(template::sign(
                xml,
                &keys.idp,
                signature_method,
                digest_method,
            )),
        }
    }
}

/// An edit of the XML text at one stage of the IdP's pipeline.
pub type Edit = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// Everything the simulated IdP puts in one Response. Each call of
/// [`Params::xml`] draws fresh Response and Assertion IDs, so that the replay
/// cache never interferes between two messages built from the same params.
#[derive(Clone)]
pub struct Params {
    /// The gateway's clock when the message arrives.
    pub now: DateTime<Utc>,
    /// The AuthnRequest pending for this browser (None: nothing pending).
    pub pending_request: Option<String>,
    /// InResponseTo written by the IdP (Response and SubjectConfirmationData).
    pub in_response_to: Option<String>,
    /// The subject's NameID.
    pub name_id: String,
    /// The `sn` attribute value.
    pub surname: String,
    /// The Response's Issuer.
    pub response_issuer: String,
    /// The Assertion's Issuer.
    pub assertion_issuer: String,
    /// The Response's Destination (None: attribute removed).
    pub destination: Option<String>,
    /// SubjectConfirmationData Recipient.
    pub recipient: String,
    /// The Audience (None: no AudienceRestriction at all).
    pub audience: Option<String>,
    /// The Response's IssueInstant.
    pub response_issue_instant: DateTime<Utc>,
    /// The Assertion's IssueInstant.
    pub issue_instant: DateTime<Utc>,
    /// Conditions NotBefore.
    pub not_before: DateTime<Utc>,
    /// Conditions NotOnOrAfter.
    pub conditions_not_on_or_after: DateTime<Utc>,
    /// SubjectConfirmationData NotOnOrAfter.
    pub confirmation_not_on_or_after: DateTime<Utc>,
    /// Top-level status code.
    pub status: String,
    /// Who signs the Assertion.
    pub assertion_signer: Signer,
    /// Who signs the Response.
    pub response_signer: Signer,
    /// Encryption of the assertion (None: plain assertion).
    pub encryption: Option<(KeyTransport, DataCipher)>,
    /// Edit of the unsigned assertion, before it is signed.
    pub edit_assertion: Option<Edit>,
    /// Edit of the signed assertion (before encryption), as an attacker would.
    pub edit_signed_assertion: Option<Edit>,
    /// Edit of the final Response (after every signature), as an attacker would.
    pub edit_response: Option<Edit>,
}

impl Params {
    /// A message as ÉduConnect sends it: assertion signed (RSA-SHA256), then
    /// encrypted (RSA-OAEP + AES-256-GCM), Response signed too, answering a
    /// pending request.
    pub fn educonnect() -> Self {
        let now = now();
        let request = ids::new_id();
        Self {
            now,
            pending_request: Some(request.clone()),
            in_response_to: Some(request),
            name_id: "f7a9c2e14b".to_owned(),
            surname: "Martin".to_owned(),
            response_issuer: IDP_ENTITY.to_owned(),
            assertion_issuer: IDP_ENTITY.to_owned(),
            destination: Some(ACS_URL.to_owned()),
            recipient: ACS_URL.to_owned(),
            audience: Some(SP_ENTITY.to_owned()),
            response_issue_instant: now - chrono::Duration::seconds(2),
            issue_instant: now - chrono::Duration::seconds(2),
            not_before: now - chrono::Duration::seconds(2),
            conditions_not_on_or_after: now + chrono::Duration::minutes(5),
            confirmation_not_on_or_after: now + chrono::Duration::minutes(5),
            status: ns::STATUS_SUCCESS.to_owned(),
            assertion_signer: Signer::Idp,
            response_signer: Signer::Idp,
            encryption: Some((KeyTransport::RsaOaep, DataCipher::Aes256Gcm)),
            edit_assertion: None,
            edit_signed_assertion: None,
            edit_response: None,
        }
    }

    /// A plain (unencrypted) assertion signed by the IdP in an unsigned
    /// Response: the shape the assertion-level wrapping attacks start from.
    pub fn signed_assertion_only() -> Self {
        Self {
            response_signer: Signer::Nobody,
            encryption: None,
            ..Self::educonnect()
        }
    }

    /// A plain, unsigned assertion in a Response signed by the IdP.
    pub fn signed_response_only() -> Self {
        Self {
            assertion_signer: Signer::Nobody,
            encryption: None,
            ..Self::educonnect()
        }
    }

    /// These params with the edit of the unsigned assertion set.
    pub fn edit_assertion(mut self, edit: impl Fn(&str) -> String + Send + Sync + 'static) -> Self {
        self.edit_assertion = Some(Arc::new(edit));
        self
    }

    /// These params with the edit of the signed assertion set.
    pub fn edit_signed_assertion(
        mut self,
        edit: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> Self {
        self.edit_signed_assertion = Some(Arc::new(edit));
        self
    }

    /// These params with the edit of the final Response set.
    pub fn edit_response(mut self, edit: impl Fn(&str) -> String + Send + Sync + 'static) -> Self {
        self.edit_response = Some(Arc::new(edit));
        self
    }

    /// The unsigned assertion with a fresh ID.
    pub fn assertion_xml(&self) -> String {
        let xml = messages::build_assertion(&AssertionSpec {
            id: ids::new_id(),
            issuer: self.assertion_issuer.clone(),
            issue_instant: self.issue_instant,
            name_id: self.name_id.clone(),
            name_id_format: ns::NAMEID_TRANSIENT.to_owned(),
            name_qualifier: Some(IDP_ENTITY.to_owned()),
            sp_name_qualifier: Some(SP_ENTITY.to_owned()),
            recipient: self.recipient.clone(),
            in_response_to: self.in_response_to.clone(),
            not_before: self.not_before,
            not_on_or_after: self.confirmation_not_on_or_after,
            audience: self.audience.clone().unwrap_or_default(),
            session_index: ids::new_id(),
            authn_instant: self.issue_instant,
            authn_context_class_ref: ns::AC_PASSWORD_PROTECTED_TRANSPORT.to_owned(),
            session_not_on_or_after: Some(self.now + chrono::Duration::hours(8)),
            attributes: vec![
                uri_attribute(SURNAME_OID, "sn", &self.surname),
                uri_attribute(GIVEN_NAME_OID, "givenName", "Léa"),
                uri_attribute(AFFILIATION_OID, "FrEduCtPersonAffiliation", "eleve2d"),
            ],
        });
        let xml = xml_edit::set_attr(
            &xml,
            "saml:Conditions",
            "NotOnOrAfter",
            &sso_saml::time::format(&self.conditions_not_on_or_after),
        );
        let xml = match &self.audience {
            Some(_) => xml,
            None => xml_edit::remove_element(&xml, "saml:AudienceRestriction"),
        };
        match &self.edit_assertion {
            Some(edit) => edit(&xml),
            None => xml,
        }
    }

    /// The assertion as it leaves the IdP: signed, edited by the attacker if
    /// asked, then encrypted if asked.
    pub fn protected_assertion_xml(&self) -> String {
        let unsigned = self.assertion_xml();
        let signed = self
            .assertion_signer
            .sign(&unsigned, &element_id(&unsigned))
            .unwrap_or(unsigned);
        let signed = match &self.edit_signed_assertion {
            Some(edit) => edit(&signed),
            None => signed,
        };
        match self.encryption {
            Some((transport, cipher)) => encryption::encrypt_assertion(
                &signed,
                keys().sp_decryption.certificate(),
                transport,
                cipher,
            )
            .unwrap(),
            None => signed,
        }
    }

    /// The Response around `assertion` (None: no assertion), signed if asked,
    /// then edited by the attacker if asked.
    pub fn response_around(&self, assertion: Option<&str>) -> String {
        let id = ids::new_id();
        let xml = messages::build_response(
            &ResponseSpec {
                id: id.clone(),
                issuer: self.response_issuer.clone(),
                issue_instant: self.response_issue_instant,
                destination: ACS_URL.to_owned(),
                in_response_to: self.in_response_to.clone(),
                status_code: self.status.clone(),
                status_sub_code: None,
                status_message: None,
            },
            assertion,
        )
        .unwrap();
        let xml = match &self.destination {
            Some(destination) => {
                xml_edit::set_attr(&xml, "samlp:Response", "Destination", destination)
            }
            None => xml_edit::remove_attr(&xml, "samlp:Response", "Destination"),
        };
        let xml = self.response_signer.sign(&xml, &id).unwrap_or(xml);
        match &self.edit_response {
            Some(edit) => edit(&xml),
            None => xml,
        }
    }

    /// The whole Response XML, with fresh IDs.
    pub fn xml(&self) -> String {
        let assertion = self.protected_assertion_xml();
        self.response_around(Some(&assertion))
    }

    /// What the ACS receives: a fresh Response, base64, with the pending
    /// request and the clock of these params.
    pub fn message(&self) -> Message {
        self.message_of(&self.xml())
    }

    /// A message carrying `xml` with the pending request and clock of these params.
    pub fn message_of(&self, xml: &str) -> Message {
        Message {
            saml_response: encode_post(xml),
            expected_request: self.pending_request.clone(),
            now: self.now,
        }
    }
}

/// The gateway's clock, to the second (`xs:dateTime` as the IdP writes it).
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp(), 0).unwrap()
}

fn uri_attribute(name: &str, friendly: &str, value: &str) -> SamlAttribute {
    SamlAttribute {
        name: name.to_owned(),
        name_format: Some(ns::ATTRNAME_FORMAT_URI.to_owned()),
        friendly_name: Some(friendly.to_owned()),
        values: vec![value.to_owned()],
    }
}

/// The `ID` attribute of the root element of `xml`.
pub fn element_id(xml: &str) -> String {
    let start = xml.find(" ID=\"").unwrap() + " ID=\"".len();
    let end = start + xml[start..].find('"').unwrap();
    xml[start..end].to_owned()
}

/// The security rule's positive control then its negative test: `original`
/// is accepted, then `mutated` is refused with the variant of `expected`
/// (compared by variant, never by message text).
pub async fn assert_refused(
    sp: &Sp,
    original: &Message,
    mutated: &Message,
    expected: ResponseError,
) -> ResponseError {
    let accepted = sp.validate(original).await;
    assert!(
        accepted.is_ok(),
        "positive control refused: {:?}",
        accepted.err()
    );
    let refused = sp.validate(mutated).await;
    assert_variant(refused, &expected)
}

/// `result` is the error variant of `expected`; returns the error.
pub fn assert_variant(
    result: Result<UpstreamLogin, ResponseError>,
    expected: &ResponseError,
) -> ResponseError {
    match result {
        Err(error) if discriminant(&error) == discriminant(expected) => error,
        Err(error) => panic!("refused with {error:?}, expected the variant of {expected:?}"),
        Ok(login) => panic!(
            "accepted (subject {:?}), expected refusal with the variant of {expected:?}",
            login.identity.subject
        ),
    }
}
