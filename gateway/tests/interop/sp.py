"""A pysaml2 service provider (Saml2Client) facing the gateway's IdP role.

Used by gateway/tests/interop.rs; state lives in WORKDIR (the SP's key and
certificate), messages travel through arguments, stdin and stdout:

  sp.py metadata WORKDIR
      prints the SP metadata (entityID, ACS, signing certificate).
  sp.py authn-request WORKDIR IDP_METADATA
      prints {"id", "url"}: a signed AuthnRequest (RSA-SHA256) for the
      HTTP-Redirect binding, addressed to the SSO endpoint of IDP_METADATA.
  sp.py parse WORKDIR IDP_METADATA REQUEST_ID
      reads a base64 SAMLResponse on stdin, validates it as pysaml2 does for
      a response to REQUEST_ID (signatures, audience, destination,
      InResponseTo, time bounds) and prints {"issuer", "name_id",
      "name_id_format", "in_response_to", "attributes"}; exits 1 when refused.

The ACS is not a real server: the test stops its browser at the form that
would post there and hands the Response to `parse`. No network access.
"""

import json
import sys

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAMEID_FORMAT_PERSISTENT
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from keys import key_pair

ENTITY_ID = "https://sp.pysaml2.invalid/metadata"
ACS_URL = "https://sp.pysaml2.invalid/acs"


def config(workdir, idp_metadata=None):
    """The SP configuration: signed requests, signed Response and Assertion required."""
    key_file, cert_file = key_pair(workdir, "sp")
    settings = {
        "entityid": ENTITY_ID,
        "key_file": key_file,
        "cert_file": cert_file,
        # The gateway's GAR names (IDO, NOM, ...) have no pysaml2 attribute map.
        "allow_unknown_attributes": True,
        "service": {
            "sp": {
                # Read from the role's section only (a top-level value is ignored).
                "signing_algorithm": SIG_RSA_SHA256,
                "digest_algorithm": DIGEST_SHA256,
                "endpoints": {"assertion_consumer_service": [(ACS_URL, BINDING_HTTP_POST)]},
                "authn_requests_signed": True,
                "want_response_signed": True,
                "want_assertions_signed": True,
                "allow_unsolicited": False,
                "name_id_format": NAMEID_FORMAT_PERSISTENT,
            }
        },
    }
    if idp_metadata:
        settings["metadata"] = {"local": [idp_metadata]}
    conf = SPConfig()
    conf.load(settings)
    return conf


def metadata(workdir):
    print(entity_descriptor(config(workdir)).to_string().decode())


def authn_request(workdir, idp_metadata):
    client = Saml2Client(config(workdir, idp_metadata))
    request_id, info = client.prepare_for_authenticate(
        binding=BINDING_HTTP_REDIRECT, sign=True, sigalg=SIG_RSA_SHA256
    )
    location = dict(info["headers"])["Location"]
    print(json.dumps({"id": request_id, "url": location}))


def parse(workdir, idp_metadata, request_id):
    client = Saml2Client(config(workdir, idp_metadata))
    saml_response = sys.stdin.read().strip()
    try:
        response = client.parse_authn_request_response(
            saml_response, BINDING_HTTP_POST, outstanding={request_id: "/"}
        )
    except Exception as err:  # every refusal, whatever pysaml2 raises
        sys.exit(f"pysaml2 refused the Response: {type(err).__name__}: {err}")
    if response is None:
        sys.exit("pysaml2 refused the Response (parse_authn_request_response gave None)")
    name_id = response.name_id
    print(
        json.dumps(
            {
                "issuer": response.issuer(),
                "name_id": name_id.text,
                "name_id_format": name_id.format,
                "in_response_to": response.in_response_to,
                "attributes": response.ava,
            }
        )
    )


def main(argv):
    commands = {"metadata": (metadata, 1), "authn-request": (authn_request, 2), "parse": (parse, 3)}
    if len(argv) < 2 or argv[1] not in commands or len(argv) - 2 != commands[argv[1]][1]:
        sys.exit(__doc__)
    command, _ = commands[argv[1]]
    command(*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
