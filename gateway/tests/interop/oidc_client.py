"""An OpenID Connect relying party nobody here wrote (authlib, PyPI) runs the
authorization code flow against the gateway, reading everything it needs
from the discovery document (OpenID Connect Discovery 1.0 §4).

    authorize WORKDIR ISSUER CLIENT_ID SECRET AUTH_METHOD REDIRECT_URI
        Builds the authorization request (PKCE S256, state, nonce) with
        authlib's OAuth2Session, keeps what it needs in WORKDIR/rp.json and
        prints {"url": ...}.
    finish WORKDIR CALLBACK_URL
        Checks `iss` (RFC 9207) and `state` of the callback, redeems the code
        with the PKCE verifier, validates the ID token with authlib's JOSE
        (signature with the keys of jwks_uri, then iss, aud, exp, nonce and
        at_hash), calls userinfo and prints {sub, id_token_alg, claims,
        userinfo, id_token}.
    validate WORKDIR ID_TOKEN
        Validates an ID token as `finish` does and prints its claims.

Every refusal is authlib's own exception: a traceback on stderr and a
non-zero exit status.
"""

import json
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.oidc.core import CodeIDToken


def state_file(workdir):
    return Path(workdir) / "rp.json"


def session(rp, **extra):
    return OAuth2Session(
        client_id=rp["client_id"],
        client_secret=rp["client_secret"],
        token_endpoint_auth_method=rp["auth_method"],
        scope="openid",
        redirect_uri=rp["redirect_uri"],
        code_challenge_method="S256",
        **extra,
    )


def authorize(workdir, issuer, client_id, secret, auth_method, redirect_uri):
    discovery = requests.get(
        issuer.rstrip("/") + "/.well-known/openid-configuration", timeout=10
    )
    discovery.raise_for_status()
    metadata = discovery.json()
    if metadata["issuer"] != issuer:
        raise ValueError(f"discovery issuer {metadata['issuer']!r} is not {issuer!r}")
    rp = {
        "metadata": metadata,
        "client_id": client_id,
        "client_secret": secret,
        "auth_method": auth_method,
        "redirect_uri": redirect_uri,
        "code_verifier": generate_token(64),
        "nonce": generate_token(24),
    }
    url, state = session(rp).create_authorization_url(
        metadata["authorization_endpoint"],
        code_verifier=rp["code_verifier"],
        nonce=rp["nonce"],
    )
    rp["state"] = state
    state_file(workdir).write_text(json.dumps(rp))
    print(json.dumps({"url": url}))


def validate_id_token(rp, id_token):
    metadata = rp["metadata"]
    jwks = requests.get(metadata["jwks_uri"], timeout=10)
    jwks.raise_for_status()
    keys = JsonWebKey.import_key_set(jwks.json())
    jwt = JsonWebToken(metadata["id_token_signing_alg_values_supported"])
    claims = jwt.decode(
        id_token,
        keys,
        claims_cls=CodeIDToken,
        claims_options={
            "iss": {"essential": True, "value": metadata["issuer"]},
            "aud": {"essential": True, "value": rp["client_id"]},
            "nonce": {"essential": True, "value": rp["nonce"]},
            "exp": {"essential": True},
        },
        claims_params={
            "nonce": rp["nonce"],
            "client_id": rp["client_id"],
            "access_token": rp.get("access_token"),
        },
    )
    claims.validate()
    return claims


def finish(workdir, callback):
    rp = json.loads(state_file(workdir).read_text())
    metadata = rp["metadata"]
    answer = parse_qs(urlparse(callback).query)
    if answer.get("iss") != [metadata["issuer"]]:
        raise ValueError(f"iss {answer.get('iss')!r} is not the issuer {metadata['issuer']!r}")
    if answer.get("state") != [rp["state"]]:
        raise ValueError(f"state {answer.get('state')!r} is not the one sent")
    client = session(rp, state=rp["state"])
    token = client.fetch_token(
        metadata["token_endpoint"],
        authorization_response=callback,
        code_verifier=rp["code_verifier"],
    )
    rp["access_token"] = token["access_token"]
    state_file(workdir).write_text(json.dumps(rp))
    claims = validate_id_token(rp, token["id_token"])
    userinfo = client.get(metadata["userinfo_endpoint"], timeout=10)
    userinfo.raise_for_status()
    print(json.dumps({
        "sub": claims["sub"],
        "id_token_alg": claims.header["alg"],
        "claims": dict(claims),
        "userinfo": userinfo.json(),
        "id_token": token["id_token"],
    }))


def validate(workdir, id_token):
    rp = json.loads(state_file(workdir).read_text())
    print(json.dumps(dict(validate_id_token(rp, id_token))))


def main():
    command, *args = sys.argv[1:]
    {"authorize": authorize, "finish": finish, "validate": validate}[command](*args)


if __name__ == "__main__":
    main()
