//! Message-level attacks that survive signature verification.

use sso_saml::dsig::{DsigError, sign_enveloped, verify_and_reduce};
use sso_saml::messages::{MessageError, build_assertion, parse_assertion};
use sso_saml::xml::SchemaError;

use crate::common::*;

#[test]
fn comment_injected_in_a_signed_name_id_is_refused() {
    let mut spec = assertion_spec("_c1");
    spec.name_id = "admin@evil".into();
    let signed = sign_enveloped(&build_assertion(&spec), "_c1", idp_key()).unwrap();
    let certs = [idp_key().certificate().clone()];
    let reduced = verify_and_reduce(&signed, &certs).unwrap();
    assert_eq!(
        parse_assertion(&reduced).unwrap().name_id.unwrap().value,
        "admin@evil"
    );

    // Exclusive canonicalization drops comments, so the digest still matches;
    // the reduction to signed content then fails to match the split text node.
    let injected = signed.replace(">admin@evil<", ">admin<!---->@evil<");
    assert_ne!(injected, signed);
    assert!(matches!(
        verify_and_reduce(&injected, &certs),
        Err(DsigError::Libxmlsec(_))
    ));
    // The parser refuses it on its own too, rather than read "admin" or "@evil".
    assert!(matches!(
        parse_assertion(&injected),
        Err(MessageError::Schema(SchemaError::NonTextContent {
            found: "comment",
            ..
        }))
    ));
}
