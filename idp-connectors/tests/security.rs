//! Security suite of the upstream SAML connector: every check of
//! `SamlConnector::validate` (saml-core §2–§3, saml-profiles §4.1.4, the
//! bindings' limits, XML Signature and XML Encryption) attacked with a
//! realistic message from a simulated ÉduConnect IdP. Each negative test runs
//! its positive control first: the untouched message is accepted, then the
//! mutated one is refused with the expected `ResponseError` variant.
#![cfg(test)]

mod support;

use idp_connectors::saml::{ConnectorError, ResponseError};
use sso_core::{Profile, attr};
use sso_saml::encryption::{DataCipher, KeyTransport};
use sso_saml::{ids, ns};
use sso_store::testing::RedisServer;
use sso_store::{RedisConfig, RedisStore};
use support::xml_edit::{
    append_child, element, insert_before, nth_element_range, remove_element, replace_element,
    replace_once, set_attr,
};
use support::{
    EVIL, IDP_ENTITY, MAX_MESSAGE_BYTES, Params, Signer, Sp, assert_refused, assert_variant,
    element_id, keys,
};

fn seconds(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

/// `xml` with the subject and the surname of `params` replaced by the
/// attacker's choice ("admin"): the evil assertion of the wrapping attacks.
fn evil_identity(xml: &str, params: &Params) -> String {
    let xml = replace_once(
        xml,
        &format!(">{}</saml:NameID>", params.name_id),
        &format!(">{EVIL}</saml:NameID>"),
    );
    replace_once(
        &xml,
        &format!(">{}</saml:AttributeValue>", params.surname),
        &format!(">{EVIL}</saml:AttributeValue>"),
    )
}

/// `xml` with the ID of its root element replaced by a fresh one.
fn with_new_id(xml: &str) -> String {
    let id = element_id(xml);
    replace_once(
        xml,
        &format!("ID=\"{id}\""),
        &format!("ID=\"{}\"", ids::new_id()),
    )
}

// ---------------------------------------------------------------------------
// The accepted login and where its attributes come from.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn educonnect_response_is_accepted_and_mapped_from_the_signed_assertion() {
    let sp = Sp::default_config();
    let params = Params::educonnect();
    let login = sp.validate(&params.message()).await.unwrap();
    assert_eq!(login.identity.idp, "educonnect");
    assert_eq!(login.identity.subject, params.name_id);
    assert_eq!(
        login.identity.values(attr::SURNAME),
        [params.surname.as_str()]
    );
    assert_eq!(login.identity.values(attr::GIVEN_NAME), ["Léa"]);
    assert_eq!(login.identity.profiles(), vec![Profile::Elv]);
    assert_eq!(
        login.identity.authn_context.as_deref(),
        Some(ns::AC_PASSWORD_PROTECTED_TRANSPORT)
    );
    assert_eq!(login.in_response_to, params.pending_request);
    assert_eq!(login.name_id.map(|n| n.value), Some(params.name_id.clone()));
    assert!(login.session_index.is_some());
}

#[tokio::test]
async fn attribute_added_to_the_signed_assertion_is_refused() {
    let sp = Sp::default_config();
    let params = Params::signed_assertion_only();
    let login = sp.validate(&params.message()).await.unwrap();
    assert_eq!(
        login.identity.values(attr::SURNAME),
        [params.surname.as_str()]
    );
    let injected = format!(
        r#"<saml:Attribute Name="{}"><saml:AttributeValue>{EVIL}</saml:AttributeValue></saml:Attribute>"#,
        support::SURNAME_OID
    );
    let mutated = params
        .clone()
        .edit_signed_assertion(move |xml| append_child(xml, "saml:AttributeStatement", &injected));
    assert_refused(
        &sp,
        &params.message(),
        &mutated.message(),
        ResponseError::Signature(String::new()),
    )
    .await;
}

#[tokio::test]
async fn attribute_outside_the_signed_assertion_is_never_mapped() {
    let sp = Sp::default_config();
    let params = Params::signed_assertion_only();
    let injected = format!(
        r#"<samlp:Extensions><saml:AttributeStatement><saml:Attribute Name="{}"><saml:AttributeValue>{EVIL}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></samlp:Extensions>"#,
        support::SURNAME_OID
    );
    let mutated = params
        .clone()
        .edit_response(move |xml| insert_before(xml, "samlp:Status", &injected));
    let login = sp.validate(&mutated.message()).await.unwrap();
    assert_eq!(login.identity.subject, params.name_id);
    assert_eq!(
        login.identity.values(attr::SURNAME),
        [params.surname.as_str()]
    );
}

// ---------------------------------------------------------------------------
// XML Signature Wrapping, the SAML Raider catalogue.
// ---------------------------------------------------------------------------

// Every variant below carries two assertions (the attacker's and the signed
// one he moved): the connector counts assertions at any depth and refuses
// them before libxmlsec1 runs. The two attacks after them carry one
// assertion only and are stopped further on: by the signature reference
// check, and by the "is this assertion signed" check.

/// XSW1/XSW2: the root is the signed Response with its ID changed and its
/// content replaced by the attacker's; an unsigned clone of the original
/// Response (original ID, the one the signature references) is put inside
/// the signature (XSW1) or just before it (XSW2).
fn xsw_response(xml: &str, params: &Params, inside_signature: bool) -> String {
    let clone = remove_element(xml, "ds:Signature");
    let evil_root = evil_identity(&with_new_id(xml), params);
    if inside_signature {
        append_child(&evil_root, "ds:Signature", &clone)
    } else {
        insert_before(&evil_root, "ds:Signature", &clone)
    }
}

async fn assert_response_wrapping_refused(inside_signature: bool) {
    // The Response signature is the only protection of the assertion here.
    let sp = Sp::new("require_signed_assertion = false");
    let params = Params::signed_response_only();
    let edit_params = params.clone();
    let mutated = params
        .clone()
        .edit_response(move |xml| xsw_response(xml, &edit_params, inside_signature));
    assert_refused(
        &sp,
        &params.message(),
        &mutated.message(),
        ResponseError::MultipleAssertions(0),
    )
    .await;
}

#[tokio::test]
async fn xsw1_original_response_inside_the_signature_is_refused() {
    assert_response_wrapping_refused(true).await;
}

#[tokio::test]
async fn xsw2_original_response_before_the_signature_is_refused() {
    assert_response_wrapping_refused(false).await;
}

/// Parts of the signed assertion of a Response, for the assertion-level attacks.
struct Parts {
    /// The signed assertion as sent.
    original: String,
    /// The original without its signature (original ID).
    unsigned_copy: String,
    /// The attacker's assertion: no signature, fresh ID, evil identity.
    evil: String,
    /// The attacker's assertion keeping the original signature element.
    evil_with_signature: String,
}

fn parts(response: &str, params: &Params) -> Parts {
    let original = element(response, "saml:Assertion").to_owned();
    let unsigned_copy = remove_element(&original, "ds:Signature");
    Parts {
        evil: evil_identity(&with_new_id(&unsigned_copy), params),
        evil_with_signature: evil_identity(&with_new_id(&original), params),
        original,
        unsigned_copy,
    }
}

/// Runs an assertion-level wrapping attack against the default configuration.
async fn assert_assertion_wrapping_refused(
    attack: fn(&str, &Parts) -> String,
    expected: ResponseError,
) {
    let sp = Sp::default_config();
    let params = Params::signed_assertion_only();
    let edit_params = params.clone();
    let mutated = params
        .clone()
        .edit_response(move |xml| attack(xml, &parts(xml, &edit_params)));
    assert_refused(&sp, &params.message(), &mutated.message(), expected).await;
}

#[tokio::test]
async fn xsw3_evil_assertion_before_the_signed_one_is_refused() {
    assert_assertion_wrapping_refused(
        |xml, p| replace_element(xml, "saml:Assertion", &format!("{}{}", p.evil, p.original)),
        ResponseError::MultipleAssertions(0),
    )
    .await;
}

#[tokio::test]
async fn xsw4_evil_assertion_wrapping_the_signed_one_is_refused() {
    assert_assertion_wrapping_refused(
        |xml, p| {
            let wrapper = append_child(&p.evil, "saml:Assertion", &p.original);
            replace_element(xml, "saml:Assertion", &wrapper)
        },
        ResponseError::MultipleAssertions(0),
    )
    .await;
}

#[tokio::test]
async fn xsw5_evil_assertion_with_the_signature_and_original_appended_is_refused() {
    assert_assertion_wrapping_refused(
        |xml, p| {
            let swapped = replace_element(xml, "saml:Assertion", &p.evil_with_signature);
            append_child(&swapped, "samlp:Response", &p.unsigned_copy)
        },
        ResponseError::MultipleAssertions(0),
    )
    .await;
}

#[tokio::test]
async fn xsw6_original_inside_the_signature_of_the_evil_assertion_is_refused() {
    assert_assertion_wrapping_refused(
        |xml, p| {
            let evil = append_child(&p.evil_with_signature, "ds:Signature", &p.unsigned_copy);
            replace_element(xml, "saml:Assertion", &evil)
        },
        ResponseError::MultipleAssertions(0),
    )
    .await;
}

#[tokio::test]
async fn xsw7_original_moved_into_extensions_is_refused() {
    assert_assertion_wrapping_refused(
        |xml, p| {
            let swapped = replace_element(xml, "saml:Assertion", &p.evil);
            insert_before(
                &swapped,
                "samlp:Status",
                &format!("<samlp:Extensions>{}</samlp:Extensions>", p.original),
            )
        },
        ResponseError::MultipleAssertions(0),
    )
    .await;
}

#[tokio::test]
async fn xsw7_evil_assertion_in_extensions_is_refused() {
    assert_assertion_wrapping_refused(
        |xml, p| {
            insert_before(
                xml,
                "samlp:Status",
                &format!("<samlp:Extensions>{}</samlp:Extensions>", p.evil),
            )
        },
        ResponseError::MultipleAssertions(0),
    )
    .await;
}

#[tokio::test]
async fn xsw8_original_in_an_object_of_the_copied_signature_is_refused() {
    assert_assertion_wrapping_refused(
        |xml, p| {
            let object = format!("<ds:Object>{}</ds:Object>", p.unsigned_copy);
            let evil = append_child(&p.evil_with_signature, "ds:Signature", &object);
            replace_element(xml, "saml:Assertion", &evil)
        },
        ResponseError::MultipleAssertions(0),
    )
    .await;
}

#[tokio::test]
async fn signature_moved_from_the_assertion_to_the_response_is_refused() {
    // A naive verifier follows the reference to the assertion, whose digest
    // still matches, and believes the Response is signed.
    let sp = Sp::new("require_signed_assertion = false");
    let params = Params::signed_assertion_only();
    let mutated = params.clone().edit_response(|xml| {
        let signature = element(xml, "ds:Signature").to_owned();
        let moved = remove_element(xml, "ds:Signature");
        let issuer_end = nth_element_range(&moved, "saml:Issuer", 0).end;
        format!(
            "{}{signature}{}",
            &moved[..issuer_end],
            &moved[issuer_end..]
        )
    });
    assert_refused(
        &sp,
        &params.message(),
        &mutated.message(),
        ResponseError::Signature(String::new()),
    )
    .await;
}

#[tokio::test]
async fn wrapping_inside_an_encrypted_assertion_is_refused() {
    // The attacker encrypts for the gateway's public certificate an evil
    // assertion wrapping a signed one (XSW4 shape) in an unsigned Response.
    let sp = Sp::default_config();
    let params = Params {
        response_signer: Signer::Nobody,
        ..Params::educonnect()
    };
    let evil_params = params.clone();
    let mutated = Params {
        encryption: None,
        ..params.clone()
    }
    .edit_response(move |xml| {
        let p = parts(xml, &evil_params);
        let wrapper = append_child(&p.evil, "saml:Assertion", &p.original);
        let encrypted = sso_saml::encryption::encrypt_assertion(
            &wrapper,
            keys().sp_decryption.certificate(),
            KeyTransport::RsaOaep,
            DataCipher::Aes256Gcm,
        )
        .unwrap();
        replace_element(xml, "saml:Assertion", &encrypted)
    });
    assert_refused(
        &sp,
        &params.message(),
        &mutated.message(),
        ResponseError::Unsigned,
    )
    .await;
}

// ---------------------------------------------------------------------------
// More than one assertion.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn second_plain_assertion_is_refused() {
    let sp = Sp::default_config();
    let params = Params::signed_assertion_only();
    let second = params.protected_assertion_xml();
    let mutated = params
        .clone()
        .edit_response(move |xml| append_child(xml, "samlp:Response", &second));
    assert_refused(
        &sp,
        &params.message(),
        &mutated.message(),
        ResponseError::MultipleAssertions(0),
    )
    .await;
}

#[tokio::test]
async fn second_encrypted_assertion_is_refused() {
    let sp = Sp::default_config();
    let params = Params {
        response_signer: Signer::Nobody,
        ..Params::educonnect()
    };
    let second = Params {
        name_id: EVIL.to_owned(),
        ..params.clone()
    }
    .protected_assertion_xml();
    let mutated = params
        .clone()
        .edit_response(move |xml| append_child(xml, "samlp:Response", &second));
    assert_refused(
        &sp,
        &params.message(),
        &mutated.message(),
        ResponseError::MultipleAssertions(0),
    )
    .await;
}

// ---------------------------------------------------------------------------
// Comment injection (`admin<!---->@evil` read as "admin" by naive parsers).
// ---------------------------------------------------------------------------

fn inject_comment_in_name_id(xml: &str) -> String {
    replace_once(
        xml,
        ">admin@evil</saml:NameID>",
        ">admin<!---->@evil</saml:NameID>",
    )
}

fn inject_comment_in_surname(xml: &str) -> String {
    replace_once(
        xml,
        ">admin@evil</saml:AttributeValue>",
        ">admin<!---->@evil</saml:AttributeValue>",
    )
}

/// The attacker's own account: NameID and surname `admin@evil`.
fn attacker_account(params: Params) -> Params {
    Params {
        name_id: "admin@evil".to_owned(),
        surname: "admin@evil".to_owned(),
        ..params
    }
}

#[tokio::test]
async fn comment_injected_after_signing_breaks_the_signature() {
    let sp = Sp::default_config();
    let params = attacker_account(Params {
        encryption: None,
        ..Params::educonnect()
    });
    for inject in [inject_comment_in_name_id, inject_comment_in_surname] {
        let mutated = params.clone().edit_response(inject);
        assert_refused(
            &sp,
            &params.message(),
            &mutated.message(),
            ResponseError::Signature(String::new()),
        )
        .await;
    }
}

#[tokio::test]
async fn comment_injected_after_signing_in_an_unsigned_response_is_refused() {
    let sp = Sp::default_config();
    let params = attacker_account(Params::signed_assertion_only());
    for inject in [inject_comment_in_name_id, inject_comment_in_surname] {
        let mutated = params.clone().edit_response(inject);
        assert_refused(
            &sp,
            &params.message(),
            &mutated.message(),
            ResponseError::Malformed(String::new()),
        )
        .await;
    }
}

#[tokio::test]
async fn comment_signed_by_the_idp_is_refused_by_the_parser() {
    let sp = Sp::default_config();
    for base in [Params::signed_assertion_only(), Params::educonnect()] {
        let params = attacker_account(base);
        for inject in [inject_comment_in_name_id, inject_comment_in_surname] {
            let mutated = params.clone().edit_assertion(inject);
            assert_refused(
                &sp,
                &params.message(),
                &mutated.message(),
                ResponseError::Malformed(String::new()),
            )
            .await;
        }
    }
}

// ---------------------------------------------------------------------------
// Signatures: presence, keys, algorithms.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn unsigned_response_and_assertion_are_refused() {
    let sp = Sp::default_config();
    let params = Params::signed_assertion_only();
    let mutated = Params {
        assertion_signer: Signer::Nobody,
        ..params.clone()
    };
    assert_refused(
        &sp,
        &params.message(),
        &mutated.message(),
        ResponseError::Unsigned,
    )
    .await;
}

#[tokio::test]
async fn signature_removed_from_a_captured_message_is_refused() {
    let sp = Sp::default_config();
    let params = Params::signed_assertion_only();
    let mutated = params
        .clone()
        .edit_response(|xml| evil_identity_anywhere(&remove_element(xml, "ds:Signature")));
    assert_refused(
        &sp,
        &params.message(),
        &mutated.message(),
        ResponseError::Unsigned,
    )
    .await;
}

/// The NameID of a default message replaced by the attacker's.
fn evil_identity_anywhere(xml: &str) -> String {
    let range = nth_element_range(xml, "saml:NameID", 0);
    let start_tag_end = range.start + xml[range.start..].find('>').unwrap() + 1;
    format!(
        "{}{EVIL}</saml:NameID>{}",
        &xml[..start_tag_end],
        &xml[range.end..]
    )
}

#[tokio::test]
async fn attacker_key_with_his_certificate_in_key_info_is_refused() {
    let sp = Sp::default_config();
    // Assertion signed by the attacker in an unsigned Response.
    let params = Params::signed_assertion_only();
    let mutated = Params {
        assertion_signer: Signer::Attacker,
        name_id: EVIL.to_owned(),
        ..params.clone()
    };
    let error = assert_refused(
        &sp,
        &params.message(),
        &mutated.message(),
        ResponseError::Signature(String::new()),
    )
    .await;
    assert!(
        mutated
            .xml()
            .contains(&keys().attacker.certificate().to_base64_der()),
        "the attacker's certificate must be in KeyInfo ({error})"
    );
    // Both Response and Assertion signed by the attacker.
    let params = Params::educonnect();
    let mutated = Params {
        assertion_signer: Signer::Attacker,
        response_signer: Signer::Attacker,
        name_id: EVIL.to_owned(),
        ..params.clone()
    };
    assert_refused(
        &sp,
        &params.message(),
        &mutated.message(),
        ResponseError::Signature(String::new()),
    )
    .await;
}

/// A template-signed assertion with the given algorithms.
fn template_signed(signature_method: &'static str, digest_method: &'static str) -> Params {
    Params {
        assertion_signer: Signer::IdpTemplate {
            signature_method,
            digest_method,
        },
        ..Params::signed_assertion_only()
    }
}

#[tokio::test]
async fn rsa_sha1_signature_is_refused() {
    let sp = Sp::default_config();
    let original = template_signed(ns::SIG_RSA_SHA256, ns::DIGEST_SHA256);
    let mutated = template_signed(ns::SIG_RSA_SHA1, ns::DIGEST_SHA1);
    assert_refused(
        &sp,
        &original.message(),
        &mutated.message(),
        ResponseError::Signature(String::new()),
    )
    .await;
}

#[tokio::test]
async fn sha1_digest_method_alone_is_refused() {
    let sp = Sp::default_config();
    let original = template_signed(ns::SIG_RSA_SHA256, ns::DIGEST_SHA256);
    let mutated = template_signed(ns::SIG_RSA_SHA256, ns::DIGEST_SHA1);
    assert_refused(
        &sp,
        &original.message(),
        &mutated.message(),
        ResponseError::Signature(String::new()),
    )
    .await;
}

// ---------------------------------------------------------------------------
// Binding limits: DOCTYPE, entities, size.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn doctype_external_and_internal_entities_are_refused() {
    let sp = Sp::default_config();
    let params = Params::signed_assertion_only();
    let prologs = [
        r#"<!DOCTYPE samlp:Response>"#.to_owned(),
        r#"<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>"#.to_owned(),
        concat!(
            r#"<!DOCTYPE samlp:Response [<!ENTITY lol "lol">"#,
            r#"<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">"#,
            r#"<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">"#,
            r#"<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>"#
        )
        .to_owned(),
    ];
    for prolog in prologs {
        let reference = if prolog.contains("xxe") {
            "&xxe;"
        } else if prolog.contains("lol3") {
            "&lol3;"
        } else {
            ""
        };
        let mutated = params.clone().edit_response(move |xml| {
            let xml = replace_once(
                xml,
                "</saml:Issuer><samlp:Status>",
                &format!("</saml:Issuer>{reference}<samlp:Status>"),
            );
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{prolog}{xml}")
        });
        assert_refused(
            &sp,
            &params.message(),
            &mutated.message(),
            ResponseError::Decode(String::new()),
        )
        .await;
    }
}

/// A Response padded with `bytes` of whitespace between two elements of the
/// (unsigned) Response envelope.
fn padded(params: &Params, bytes: usize) -> Params {
    params
        .clone()
        .edit_response(move |xml| insert_before(xml, "samlp:Status", &" ".repeat(bytes)))
}

#[tokio::test]
async fn oversized_post_is_refused() {
    let sp = Sp::default_config();
    let params = Params::signed_assertion_only();
    let below = padded(&params, MAX_MESSAGE_BYTES - 16 * 1024);
    let above = padded(&params, MAX_MESSAGE_BYTES + 1);
    let error = assert_refused(
        &sp,
        &below.message(),
        &above.message(),
        ResponseError::Decode(String::new()),
    )
    .await;
    assert!(
        above.message().saml_response.len() > MAX_MESSAGE_BYTES,
        "{error}"
    );
}

// ---------------------------------------------------------------------------
// Replay, in memory and through a Redis shared by two replicas.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn replayed_response_is_refused() {
    let sp = Sp::default_config();
    let message = Params::educonnect().message();
    assert_refused(&sp, &message, &message, ResponseError::Replay).await;
}

#[tokio::test]
async fn assertion_rewrapped_in_a_new_response_is_refused() {
    let sp = Sp::default_config();
    let params = Params {
        response_signer: Signer::Nobody,
        ..Params::educonnect()
    };
    let assertion = params.protected_assertion_xml();
    let first = params.message_of(&params.response_around(Some(&assertion)));
    let second = params.message_of(&params.response_around(Some(&assertion)));
    assert_ne!(first.saml_response, second.saml_response);
    assert_refused(&sp, &first, &second, ResponseError::Replay).await;
}

async fn redis_store(server: &RedisServer) -> RedisStore {
    RedisStore::connect(RedisConfig::new(server.url()))
        .await
        .unwrap()
}

#[tokio::test]
async fn replay_through_a_second_replica_sharing_redis_is_refused() {
    let server = RedisServer::start().await.unwrap();
    let (replica_a, replica_b) = (Sp::default_config(), Sp::default_config());
    let (store_a, store_b) = (redis_store(&server).await, redis_store(&server).await);
    let message = Params::educonnect().message();
    replica_a.validate_with(&store_a, &message).await.unwrap();
    assert_variant(
        replica_a.validate_with(&store_a, &message).await,
        &ResponseError::Replay,
    );
    assert_variant(
        replica_b.validate_with(&store_b, &message).await,
        &ResponseError::Replay,
    );
    // The other replica accepts a fresh message: the refusal was the replay.
    replica_b
        .validate_with(&store_b, &Params::educonnect().message())
        .await
        .unwrap();
}

#[tokio::test]
async fn unreachable_replay_cache_refuses_the_login() {
    let mut server = RedisServer::start().await.unwrap();
    let sp = Sp::default_config();
    let store = redis_store(&server).await;
    let params = Params::educonnect();
    sp.validate_with(&store, &params.message()).await.unwrap();
    server.stop().await;
    assert_variant(
        sp.validate_with(&store, &params.message()).await,
        &ResponseError::StoreUnavailable(String::new()),
    );
}

// ---------------------------------------------------------------------------
// Envelope and assertion checks.
// ---------------------------------------------------------------------------

/// `params` accepted, then `mutated` refused with `expected`, by `sp`.
async fn check(sp: &Sp, params: &Params, mutated: Params, expected: ResponseError) {
    assert_refused(sp, &params.message(), &mutated.message(), expected).await;
}

#[tokio::test]
async fn wrong_audience_is_refused() {
    let params = Params::educonnect();
    let mutated = Params {
        audience: Some("https://other-sp.test/shibboleth".to_owned()),
        ..params.clone()
    };
    check(
        &Sp::default_config(),
        &params,
        mutated,
        ResponseError::AudienceMismatch,
    )
    .await;
}

#[tokio::test]
async fn missing_audience_restriction_is_refused() {
    let params = Params::educonnect();
    let mutated = Params {
        audience: None,
        ..params.clone()
    };
    check(
        &Sp::default_config(),
        &params,
        mutated,
        ResponseError::AudienceMissing,
    )
    .await;
}

#[tokio::test]
async fn wrong_recipient_is_refused() {
    let params = Params::educonnect();
    let mutated = Params {
        recipient: "https://other-sp.test/acs".to_owned(),
        ..params.clone()
    };
    check(
        &Sp::default_config(),
        &params,
        mutated,
        ResponseError::RecipientMismatch,
    )
    .await;
}

#[tokio::test]
async fn wrong_destination_is_refused() {
    let params = Params::educonnect();
    let mutated = Params {
        destination: Some("https://other-sp.test/acs".to_owned()),
        ..params.clone()
    };
    check(
        &Sp::default_config(),
        &params,
        mutated,
        ResponseError::DestinationMismatch {
            found: String::new(),
        },
    )
    .await;
}

#[tokio::test]
async fn signed_response_without_destination_is_refused() {
    let sp = Sp::default_config();
    let params = Params::educonnect();
    let mutated = Params {
        destination: None,
        ..params.clone()
    };
    check(&sp, &params, mutated, ResponseError::DestinationMissing).await;
    // An unsigned Response may omit it (saml-bindings §3.5.5.2).
    let unsigned = Params {
        destination: None,
        response_signer: Signer::Nobody,
        ..params
    };
    sp.validate(&unsigned.message()).await.unwrap();
}

#[tokio::test]
async fn in_response_to_another_request_is_refused() {
    let sp = Sp::default_config();
    let params = Params::educonnect();
    let mutated = params.message().expecting(Some(&ids::new_id()));
    assert_refused(
        &sp,
        &params.message(),
        &mutated,
        ResponseError::InResponseToMismatch,
    )
    .await;
}

#[tokio::test]
async fn assertion_answering_another_request_is_refused() {
    // The Response is unsigned: the attacker rewrites its InResponseTo to the
    // victim's pending request; the signed assertion still names his own.
    let sp = Sp::default_config();
    let params = Params::signed_assertion_only();
    let victim_request = ids::new_id();
    let rewritten = victim_request.clone();
    let mutated = params
        .clone()
        .edit_response(move |xml| set_attr(xml, "samlp:Response", "InResponseTo", &rewritten))
        .message()
        .expecting(Some(&victim_request));
    assert_refused(
        &sp,
        &params.message(),
        &mutated,
        ResponseError::InResponseToMismatch,
    )
    .await;
}

#[tokio::test]
async fn in_response_to_while_nothing_is_pending_is_refused() {
    let sp = Sp::default_config();
    let params = Params::educonnect();
    let mutated = params.message().expecting(None);
    assert_refused(
        &sp,
        &params.message(),
        &mutated,
        ResponseError::UnexpectedInResponseTo,
    )
    .await;
}

#[tokio::test]
async fn wrong_response_issuer_is_refused() {
    let params = Params::educonnect();
    let mutated = Params {
        response_issuer: "https://evil.test/idp".to_owned(),
        ..params.clone()
    };
    check(
        &Sp::default_config(),
        &params,
        mutated,
        ResponseError::ResponseIssuerMismatch {
            found: String::new(),
        },
    )
    .await;
}

#[tokio::test]
async fn wrong_assertion_issuer_is_refused() {
    let params = Params::educonnect();
    let mutated = Params {
        assertion_issuer: "https://evil.test/idp".to_owned(),
        ..params.clone()
    };
    check(
        &Sp::default_config(),
        &params,
        mutated,
        ResponseError::AssertionIssuerMismatch {
            found: String::new(),
        },
    )
    .await;
}

#[tokio::test]
async fn expired_conditions_are_refused() {
    let params = Params::educonnect();
    let past = params.now - seconds(120);
    let mutated = Params {
        not_before: past - seconds(300),
        issue_instant: past - seconds(300),
        conditions_not_on_or_after: past,
        ..params.clone()
    };
    check(
        &Sp::default_config(),
        &params,
        mutated,
        ResponseError::Expired,
    )
    .await;
}

#[tokio::test]
async fn expired_subject_confirmation_is_refused() {
    let params = Params::educonnect();
    let mutated = Params {
        confirmation_not_on_or_after: params.now - seconds(120),
        ..params.clone()
    };
    check(
        &Sp::default_config(),
        &params,
        mutated,
        ResponseError::Expired,
    )
    .await;
}

#[tokio::test]
async fn expiry_within_the_clock_skew_is_accepted() {
    let sp = Sp::default_config();
    let params = Params::educonnect();
    let late = Params {
        conditions_not_on_or_after: params.now - seconds(30),
        confirmation_not_on_or_after: params.now - seconds(30),
        ..params
    };
    sp.validate(&late.message()).await.unwrap();
}

#[tokio::test]
async fn not_yet_valid_assertion_is_refused() {
    let sp = Sp::default_config();
    let params = Params::educonnect();
    let mutated = Params {
        not_before: params.now + seconds(120),
        ..params.clone()
    };
    check(&sp, &params, mutated, ResponseError::NotYetValid).await;
}

#[tokio::test]
async fn not_before_within_the_clock_skew_is_accepted() {
    let sp = Sp::default_config();
    let params = Params::educonnect();
    let early = Params {
        not_before: params.now + seconds(30),
        issue_instant: params.now + seconds(30),
        response_issue_instant: params.now + seconds(30),
        ..params
    };
    sp.validate(&early.message()).await.unwrap();
}

#[tokio::test]
async fn assertion_issued_in_the_future_is_refused() {
    let params = Params::educonnect();
    let mutated = Params {
        issue_instant: params.now + seconds(300),
        ..params.clone()
    };
    check(
        &Sp::default_config(),
        &params,
        mutated,
        ResponseError::IssueInstant,
    )
    .await;
}

#[tokio::test]
async fn response_issued_in_the_future_is_refused() {
    let params = Params::educonnect();
    let mutated = Params {
        response_issue_instant: params.now + seconds(300),
        ..params.clone()
    };
    check(
        &Sp::default_config(),
        &params,
        mutated,
        ResponseError::ResponseIssueInstant,
    )
    .await;
}

#[tokio::test]
async fn unsolicited_response_follows_the_configuration() {
    let unsolicited = Params {
        pending_request: None,
        in_response_to: None,
        ..Params::educonnect()
    };
    let closed = Sp::default_config();
    check(
        &closed,
        &Params::educonnect(),
        unsolicited.clone(),
        ResponseError::UnsolicitedNotAllowed,
    )
    .await;
    let open = Sp::new("allow_unsolicited = true");
    let login = open.validate(&unsolicited.message()).await.unwrap();
    assert_eq!(login.in_response_to, None);
    assert_eq!(login.identity.subject, unsolicited.name_id);
}

// ---------------------------------------------------------------------------
// Encryption and configuration requirements.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn rsa1_5_key_transport_is_refused() {
    let params = Params::educonnect();
    let mutated = Params {
        encryption: Some((KeyTransport::Rsa15, DataCipher::Aes256Gcm)),
        ..params.clone()
    };
    check(
        &Sp::default_config(),
        &params,
        mutated,
        ResponseError::Decryption(String::new()),
    )
    .await;
}

#[tokio::test]
async fn aes_cbc_with_rsa_oaep_is_accepted() {
    let sp = Sp::default_config();
    for transport in [KeyTransport::RsaOaep, KeyTransport::RsaOaepMgf1p] {
        for cipher in [
            DataCipher::Aes128Cbc,
            DataCipher::Aes256Cbc,
            DataCipher::Aes128Gcm,
        ] {
            let params = Params {
                encryption: Some((transport, cipher)),
                ..Params::educonnect()
            };
            let login = sp.validate(&params.message()).await.unwrap();
            assert_eq!(login.identity.subject, params.name_id);
        }
    }
}

/// `xml` with one bit flipped in byte `index` of the EncryptedData CipherValue
/// (the last CipherValue: the first one is the EncryptedKey's).
fn flip_ciphertext_bit(xml: &str, index: usize) -> String {
    let open = "<xenc:CipherValue>";
    let start = xml.rfind(open).unwrap() + open.len();
    let end = start + xml[start..].find("</xenc:CipherValue>").unwrap();
    let engine = base64::engine::general_purpose::STANDARD;
    let mut bytes = base64::Engine::decode(&engine, &xml[start..end]).unwrap();
    bytes[index] ^= 0x01;
    format!(
        "{}{}{}",
        &xml[..start],
        base64::Engine::encode(&engine, &bytes),
        &xml[end..]
    )
}

#[tokio::test]
async fn tampered_ciphertext_is_refused() {
    let sp = Sp::default_config();
    for (cipher, index) in [
        // GCM: a byte after the 12-byte IV; the tag no longer matches.
        (DataCipher::Aes256Gcm, 20),
        // CBC: the first IV byte turns the plaintext's `<` into `=`.
        (DataCipher::Aes128Cbc, 0),
    ] {
        let params = Params {
            response_signer: Signer::Nobody,
            encryption: Some((KeyTransport::RsaOaep, cipher)),
            ..Params::educonnect()
        };
        let mutated = params
            .clone()
            .edit_response(move |xml| flip_ciphertext_bit(xml, index));
        check(
            &sp,
            &params,
            mutated,
            ResponseError::Decryption(String::new()),
        )
        .await;
    }
}

#[tokio::test]
async fn plain_assertion_is_refused_when_encryption_is_required() {
    let params = Params::educonnect();
    let mutated = Params {
        encryption: None,
        ..params.clone()
    };
    check(
        &Sp::new("require_encrypted_assertion = true"),
        &params,
        mutated,
        ResponseError::NotEncrypted,
    )
    .await;
}

#[tokio::test]
async fn assertion_signature_alone_is_refused_when_the_response_must_be_signed() {
    let params = Params::educonnect();
    let mutated = Params {
        response_signer: Signer::Nobody,
        ..params.clone()
    };
    check(
        &Sp::new("require_signed_response = true"),
        &params,
        mutated,
        ResponseError::ResponseNotSigned,
    )
    .await;
}

#[tokio::test]
async fn response_signature_alone_is_refused_when_the_assertion_must_be_signed() {
    let params = Params::educonnect();
    let mutated = Params {
        assertion_signer: Signer::Nobody,
        ..params.clone()
    };
    check(
        &Sp::default_config(),
        &params,
        mutated,
        ResponseError::AssertionNotSigned,
    )
    .await;
}

#[tokio::test]
async fn error_status_is_refused() {
    let sp = Sp::default_config();
    let params = Params::educonnect();
    let failed = Params {
        status: ns::STATUS_RESPONDER.to_owned(),
        ..params.clone()
    };
    let mutated = failed.message_of(&failed.response_around(None));
    assert_refused(
        &sp,
        &params.message(),
        &mutated,
        ResponseError::Status {
            code: String::new(),
        },
    )
    .await;
}

#[tokio::test]
async fn metadata_without_signing_certificate_is_refused() {
    let with_cert = support::idp_metadata(std::slice::from_ref(keys().idp.certificate()));
    assert!(support::connector_from_metadata("", &with_cert).is_ok());
    let without = support::idp_metadata(&[]);
    assert!(matches!(
        support::connector_from_metadata("", &without),
        Err(ConnectorError::NoSigningKey(entity)) if entity == IDP_ENTITY
    ));
}
