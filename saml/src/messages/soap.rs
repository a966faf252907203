//! SOAP 1.1 envelopes for the back-channel SAML SOAP binding (saml-bindings
//! §3.2): SLO requests and responses exchanged directly between servers.

use super::MessageError;
use crate::ns;
use crate::xml::tree;
use crate::xml::{MAX_MESSAGE_LEN, SchemaError};

/// Wraps one SAML element (an XML declaration is dropped) in a SOAP 1.1 envelope.
pub fn wrap_soap(body_xml: &str) -> Result<String, MessageError> {
    let root = tree::parse(body_xml, MAX_MESSAGE_LEN)?;
    let body = root.standalone_xml(body_xml).unwrap_or_default();
    Ok(format!(
        "<soap11:Envelope xmlns:soap11=\"{}\"><soap11:Body>{body}</soap11:Body></soap11:Envelope>",
        ns::SOAP11_ENVELOPE
    ))
}

/// Returns the single element of the SOAP 1.1 `Body` as standalone XML (its
/// bytes unchanged, so a signature inside stays verifiable). Refuses a SOAP
/// fault and header blocks marked `mustUnderstand`.
pub fn unwrap_soap(xml: &str) -> Result<String, MessageError> {
    let root = tree::parse(xml, MAX_MESSAGE_LEN)?;
    root.require_name(ns::SOAP11_ENVELOPE, "Envelope")?;
    if let Some(header) = root.optional_child(ns::SOAP11_ENVELOPE, "Header")? {
        for block in header.elements() {
            let must = block.attr_ns(ns::SOAP11_ENVELOPE, "mustUnderstand");
            if matches!(must.map(str::trim), Some("1" | "true")) {
                return Err(MessageError::SoapMustUnderstand {
                    header: block.name(),
                });
            }
        }
    }
    let body = root.required_child(ns::SOAP11_ENVELOPE, "Body")?;
    let mut elements = body.elements();
    let (Some(inner), None) = (elements.next(), elements.next()) else {
        return Err(SchemaError::InvalidValue {
            element: body.name(),
            field: "content",
            value: String::new(),
            reason: "the SOAP Body must hold exactly one element".to_owned(),
        }
        .into());
    };
    if inner.is(ns::SOAP11_ENVELOPE, "Fault") {
        let text = |name: &'static str| {
            inner
                .elements()
                .find(|e| e.ns.is_none() && e.local == name)
                .and_then(|e| e.trimmed_text().ok())
                .unwrap_or_default()
        };
        return Err(MessageError::SoapFault {
            code: text("faultcode"),
            reason: text("faultstring"),
        });
    }
    inner.standalone_xml(xml).ok_or_else(|| {
        SchemaError::InvalidValue {
            element: body.name(),
            field: "content",
            value: String::new(),
            reason: "element outside the document".to_owned(),
        }
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INNER: &str = r#"<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x" Version="2.0"/>"#;

    #[test]
    fn wrap_then_unwrap_returns_the_element() {
        let wrapped = wrap_soap(INNER).unwrap();
        let inner = unwrap_soap(&wrapped).unwrap();
        assert!(inner.starts_with("<samlp:LogoutResponse "));
        assert!(inner.ends_with(
            r#"xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x" Version="2.0"/>"#
        ));
        assert!(crate::xml::check_untrusted(&inner, 1000).is_ok());
    }

    #[test]
    fn unwrap_adds_inherited_namespaces() {
        let xml = format!(
            r#"<S:Envelope xmlns:S="{}" xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><S:Body><samlp:X ID="_y"/></S:Body></S:Envelope>"#,
            ns::SOAP11_ENVELOPE
        );
        let inner = unwrap_soap(&xml).unwrap();
        assert!(inner.contains("xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\""));
        assert!(crate::xml::check_untrusted(&inner, 1000).is_ok());
    }

    #[test]
    fn faults_and_must_understand_headers_are_refused() {
        let fault = format!(
            r#"<S:Envelope xmlns:S="{0}"><S:Body><S:Fault><faultcode>S:Server</faultcode><faultstring>boom</faultstring></S:Fault></S:Body></S:Envelope>"#,
            ns::SOAP11_ENVELOPE
        );
        match unwrap_soap(&fault) {
            Err(MessageError::SoapFault { code, reason }) => {
                assert_eq!(code, "S:Server");
                assert_eq!(reason, "boom");
            }
            other => panic!("unexpected {other:?}"),
        }
        let header = |must: &str| {
            format!(
                r#"<S:Envelope xmlns:S="{}"><S:Header><h:X xmlns:h="urn:h" S:mustUnderstand="{must}"/></S:Header><S:Body>{INNER}</S:Body></S:Envelope>"#,
                ns::SOAP11_ENVELOPE
            )
        };
        assert!(unwrap_soap(&header("0")).is_ok());
        assert!(matches!(
            unwrap_soap(&header("1")),
            Err(MessageError::SoapMustUnderstand { .. })
        ));
    }

    #[test]
    fn body_must_hold_one_element() {
        let two = format!(
            r#"<S:Envelope xmlns:S="{}"><S:Body>{INNER}{INNER}</S:Body></S:Envelope>"#,
            ns::SOAP11_ENVELOPE
        );
        assert!(unwrap_soap(&two).is_err());
    }
}
