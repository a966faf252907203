"""A pysaml2 identity provider (saml2.server.Server) facing the gateway's SP role.

Used by gateway/tests/interop.rs; state lives in WORKDIR (the IdP's key and
certificate), messages travel through arguments and stdout:

  idp.py metadata WORKDIR
      prints the IdP metadata (entityID, SSO and SLO endpoints, signing
      certificate).
  idp.py response WORKDIR SP_METADATA SP_ENTITY_ID ACS_URL REQUEST_ID VARIANT
      prints, base64, a Response to REQUEST_ID for the SP described by
      SP_METADATA (the gateway's), posted to ACS_URL, for a pupil with
      ÉduConnect-like attributes; Response and Assertion signed. VARIANT:
        plain       RSA-SHA256 and SHA-256 digests, no encryption;
        sha1        pysaml2's default algorithms (RSA-SHA1, SHA-1), no encryption;
        3des        RSA-SHA256, encrypt_assertion=True as pysaml2 ships it
                    (RSA-OAEP-MGF1P key transport, Triple-DES CBC data);
        aes256-cbc  the same, with pysaml2's xmlsec1 backend told to use
                    AES-256-CBC for the data.

No network access: the SSO endpoint is never contacted.
"""

import base64
import sys

from saml2 import BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import AUTHN_PASSWORD_PROTECTED, NAME_FORMAT_URI, NAMEID_FORMAT_TRANSIENT, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from keys import key_pair

ENTITY_ID = "https://idp.pysaml2.invalid/idp"
SSO_URL = "https://idp.pysaml2.invalid/sso"
SLO_URL = "https://idp.pysaml2.invalid/slo"
AES256_CBC = "http://www.w3.org/2001/04/xmlenc#aes256-cbc"

# ÉduConnect attribute names (NameFormat uri); FrEduCtId is the stable subject.
PUPIL = {
    "urn:oid:1.3.6.1.4.1.20326.10.999.1.57": ["a3f1" * 24],
    "urn:oid:2.5.4.4": ["Lefèvre"],
    "urn:oid:2.5.4.42": ["Chloé"],
    "urn:oid:1.3.6.1.4.1.20326.10.999.1.7": ["eleve2d"],
    "urn:oid:1.3.6.1.4.1.20326.10.999.1.72": ["0350001A"],
}


def config(workdir, sp_metadata=None, sha256=True):
    """The IdP configuration: transient NameIDs, URI attribute names."""
    key_file, cert_file = key_pair(workdir, "idp")
    algorithms = {"signing_algorithm": SIG_RSA_SHA256, "digest_algorithm": DIGEST_SHA256}
    settings = {
        "entityid": ENTITY_ID,
        "key_file": key_file,
        "cert_file": cert_file,
        "service": {
            "idp": {
                # Read from the role's section only (a top-level value is ignored).
                **(algorithms if sha256 else {}),
                "endpoints": {
                    "single_sign_on_service": [(SSO_URL, BINDING_HTTP_REDIRECT)],
                    "single_logout_service": [(SLO_URL, BINDING_HTTP_REDIRECT)],
                },
                "name_id_format": [NAMEID_FORMAT_TRANSIENT],
                "policy": {
                    "default": {
                        "lifetime": {"minutes": 5},
                        "attribute_restrictions": None,
                        "name_form": NAME_FORMAT_URI,
                    }
                },
            }
        },
    }
    if sp_metadata:
        settings["metadata"] = {"local": [sp_metadata]}
    conf = IdPConfig()
    conf.load(settings)
    return conf


def metadata(workdir):
    print(entity_descriptor(config(workdir)).to_string().decode())


def response(workdir, sp_metadata, sp_entity_id, acs_url, request_id, variant):
    if variant not in ("plain", "sha1", "3des", "aes256-cbc"):
        sys.exit(f"unknown variant {variant!r}")
    server = Server(config=config(workdir, sp_metadata, sha256=variant != "sha1"))
    if variant == "aes256-cbc":
        # create_authn_response has no cipher option: swap the data cipher of
        # the template pysaml2 builds (its RSA-OAEP-MGF1P key transport stays).
        encrypt = server.sec.encrypt_assertion

        def encrypt_aes(statement, enc_key, template, key_type=None, node_xpath=None):
            template.encryption_method.algorithm = AES256_CBC
            return encrypt(statement, enc_key, template, "aes-256", node_xpath)

        server.sec.encrypt_assertion = encrypt_aes
    xml = server.create_authn_response(
        identity=PUPIL,
        in_response_to=request_id,
        destination=acs_url,
        sp_entity_id=sp_entity_id,
        name_id=NameID(format=NAMEID_FORMAT_TRANSIENT, text="_" + "7c" * 16),
        authn={"class_ref": AUTHN_PASSWORD_PROTECTED, "authn_auth": ENTITY_ID},
        sign_response=True,
        sign_assertion=True,
        encrypt_assertion=variant in ("3des", "aes256-cbc"),
    )
    print(base64.b64encode(str(xml).encode()).decode())


def main(argv):
    commands = {"metadata": (metadata, 1), "response": (response, 6)}
    if len(argv) < 2 or argv[1] not in commands or len(argv) - 2 != commands[argv[1]][1]:
        sys.exit(__doc__)
    command, _ = commands[argv[1]]
    command(*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
