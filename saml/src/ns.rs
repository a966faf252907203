//! Namespace names and URI constants of SAML 2.0 (saml-core §1.2, §3.2.2.2, §8;
//! saml-bindings §3), XML Signature (xmldsig-core §6) and XML Encryption
//! (xmlenc-core §5, xmlenc-core1 §5).

/// SAML 2.0 protocol namespace (`samlp`).
pub const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// SAML 2.0 assertion namespace (`saml`).
pub const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// SAML 2.0 metadata namespace (`md`).
pub const METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// XML Signature namespace (`ds`).
pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
/// XML Encryption namespace (`xenc`).
pub const XMLENC: &str = "http://www.w3.org/2001/04/xmlenc#";
/// XML Encryption 1.1 namespace (`xenc11`).
pub const XMLENC11: &str = "http://www.w3.org/2009/xmlenc11#";
/// XML Schema namespace (`xs`).
pub const XS: &str = "http://www.w3.org/2001/XMLSchema";
/// XML Schema instance namespace (`xsi`).
pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// SOAP 1.1 envelope namespace (saml-bindings §3.2).
pub const SOAP11_ENVELOPE: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// The `Version` attribute value of every SAML 2.0 message and assertion.
pub const SAML_VERSION: &str = "2.0";

/// HTTP-Redirect binding (saml-bindings §3.4).
pub const BINDING_HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
/// HTTP-POST binding (saml-bindings §3.5).
pub const BINDING_HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
/// SOAP binding (saml-bindings §3.2).
pub const BINDING_SOAP: &str = "urn:oasis:names:tc:SAML:2.0:bindings:SOAP";

/// NameID format: persistent pseudonymous identifier (saml-core §8.3.7).
pub const NAMEID_PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
/// NameID format: transient identifier (saml-core §8.3.8).
pub const NAMEID_TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
/// NameID format: unspecified (saml-core §8.3.1).
pub const NAMEID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
/// NameID format: e-mail address (saml-core §8.3.2).
pub const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// Attribute name format: URI, used by ÉduConnect (saml-core §8.2.2).
pub const ATTRNAME_FORMAT_URI: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
/// Attribute name format: basic (saml-core §8.2.3).
pub const ATTRNAME_FORMAT_BASIC: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";

/// Subject confirmation method: bearer (saml-profiles §3.3).
pub const CM_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// Top-level status code: success (saml-core §3.2.2.2).
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
/// Top-level status code: error on the requester's side.
pub const STATUS_REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
/// Top-level status code: error on the responder's side.
pub const STATUS_RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
/// Top-level status code: unsupported protocol version.
pub const STATUS_VERSION_MISMATCH: &str = "urn:oasis:names:tc:SAML:2.0:status:VersionMismatch";
/// Second-level status code: the principal could not be authenticated.
pub const STATUS_AUTHN_FAILED: &str = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed";
/// Second-level status code: `IsPassive` was set and no session exists.
pub const STATUS_NO_PASSIVE: &str = "urn:oasis:names:tc:SAML:2.0:status:NoPassive";
/// Second-level status code: the requested authentication context cannot be met.
pub const STATUS_NO_AUTHN_CONTEXT: &str = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext";
/// Second-level status code: the request was refused (policy).
pub const STATUS_REQUEST_DENIED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied";
/// Second-level status code: the requested NameID format is not supported.
pub const STATUS_INVALID_NAMEID_POLICY: &str =
    "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy";
/// Second-level status code: logout reached only some session participants.
pub const STATUS_PARTIAL_LOGOUT: &str = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout";
/// Second-level status code: the principal is unknown.
pub const STATUS_UNKNOWN_PRINCIPAL: &str = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal";

/// Authentication context class: password over a protected transport.
pub const AC_PASSWORD_PROTECTED_TRANSPORT: &str =
    "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
/// Authentication context class: a one-time password from a key (the
/// agents' OTP keys).
pub const AC_TIME_SYNC_TOKEN: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken";
/// Authentication context class: unspecified.
pub const AC_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified";

/// Canonicalization: exclusive XML canonicalization 1.0 without comments.
pub const C14N_EXCLUSIVE: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// Canonicalization: exclusive XML canonicalization 1.0 with comments.
pub const C14N_EXCLUSIVE_WITH_COMMENTS: &str =
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
/// Canonicalization: inclusive XML canonicalization 1.0 without comments.
pub const C14N_INCLUSIVE: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
/// Canonicalization: inclusive XML canonicalization 1.0 with comments.
pub const C14N_INCLUSIVE_WITH_COMMENTS: &str =
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
/// Canonicalization: inclusive XML canonicalization 1.1 without comments.
pub const C14N11: &str = "http://www.w3.org/2006/12/xml-c14n11";
/// Canonicalization: inclusive XML canonicalization 1.1 with comments.
pub const C14N11_WITH_COMMENTS: &str = "http://www.w3.org/2006/12/xml-c14n11#WithComments";
/// Transform: enveloped signature (xmldsig-core §6.6.4).
pub const TRANSFORM_ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// Signature method RSA-SHA1 (refused).
pub const SIG_RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
/// Signature method DSA-SHA1 (refused).
pub const SIG_DSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#dsa-sha1";
/// Signature method ECDSA-SHA1 (refused).
pub const SIG_ECDSA_SHA1: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1";
/// Signature method HMAC-SHA1 (refused).
pub const SIG_HMAC_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#hmac-sha1";
/// Signature method RSA-SHA256.
pub const SIG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
/// Signature method RSA-SHA384.
pub const SIG_RSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
/// Signature method RSA-SHA512.
pub const SIG_RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
/// Signature method ECDSA-SHA256.
pub const SIG_ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
/// Signature method ECDSA-SHA384.
pub const SIG_ECDSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";
/// Signature method ECDSA-SHA512.
pub const SIG_ECDSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512";

/// Digest method SHA-1 (refused in signatures; allowed only inside RSA-OAEP).
pub const DIGEST_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
/// Digest method SHA-224.
pub const DIGEST_SHA224: &str = "http://www.w3.org/2001/04/xmldsig-more#sha224";
/// Digest method SHA-256.
pub const DIGEST_SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
/// Digest method SHA-384.
pub const DIGEST_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
/// Digest method SHA-512.
pub const DIGEST_SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";

/// Key transport RSA PKCS#1 v1.5 (refused: Bleichenbacher oracle).
pub const KT_RSA_1_5: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";
/// Key transport RSA-OAEP with MGF1-SHA1 (xmlenc-core §5.4.2).
pub const KT_RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
/// Key transport RSA-OAEP with a selectable MGF (xmlenc-core1 §5.5.2).
pub const KT_RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
/// MGF1 with SHA-1 (xmlenc-core1 §5.5.2).
pub const MGF1_SHA1: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha1";
/// MGF1 with SHA-224.
pub const MGF1_SHA224: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha224";
/// MGF1 with SHA-256.
pub const MGF1_SHA256: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha256";
/// MGF1 with SHA-384.
pub const MGF1_SHA384: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha384";
/// MGF1 with SHA-512.
pub const MGF1_SHA512: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha512";

/// Block cipher AES-128 in CBC mode (xmlenc-core §5.2.2).
pub const ENC_AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
/// Block cipher AES-192 in CBC mode.
pub const ENC_AES192_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes192-cbc";
/// Block cipher AES-256 in CBC mode.
pub const ENC_AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
/// Block cipher AES-128 in GCM mode (xmlenc-core1 §5.2.4).
pub const ENC_AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
/// Block cipher AES-192 in GCM mode.
pub const ENC_AES192_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes192-gcm";
/// Block cipher AES-256 in GCM mode.
pub const ENC_AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
/// `Type` of an `xenc:EncryptedData` holding one whole element.
pub const XMLENC_TYPE_ELEMENT: &str = "http://www.w3.org/2001/04/xmlenc#Element";
