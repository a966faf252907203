"""Key material for the pysaml2 peers of the interoperability tests.

Each peer keeps an RSA key and a self-signed certificate (PEM) in its work
folder, created on first use with the `cryptography` package that pysaml2
already depends on. Nothing is fetched from the network.
"""

import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def key_pair(workdir, name):
    """Paths of `<name>.key` and `<name>.crt` in `workdir`, generated if missing."""
    key_path = os.path.join(workdir, f"{name}.key")
    cert_path = os.path.join(workdir, f"{name}.crt")
    if os.path.exists(key_path) and os.path.exists(cert_path):
        return key_path, cert_path
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"pysaml2 {name} (tests)")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    with open(key_path, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
    with open(cert_path, "wb") as out:
        out.write(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path
