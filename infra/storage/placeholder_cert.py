"""A self-signed placeholder for the gateway's TLS certificate, so a new stack converges in one `pulumi up`.

The gateway refuses to provision without its Key Vault certificate, and the vault is created by the
same run, so nobody can import a real one in between. The placeholder is written as a Key Vault
secret through the management API (Microsoft.KeyVault/vaults/secrets: no data-plane access and no
network line of sight needed), in the format Application Gateway reads from a secret: an
unencrypted PFX, base64 (https://learn.microsoft.com/en-us/azure/application-gateway/key-vault-certs).
Browsers do not trust it; docs/deploy.md says how to put the real certificate in its place.
"""

from __future__ import annotations

import base64
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

CONTENT_TYPE = "application/x-pkcs12"
VALID_DAYS = 365


def placeholder_pfx(hostname: str, now: datetime.datetime) -> str:
    """Base64 of an unencrypted PFX holding a new P-256 key and a self-signed certificate for `hostname`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "slotstack placeholder (not trusted)")])
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .sign(key, hashes.SHA256()))
    pfx = pkcs12.serialize_key_and_certificates(b"gateway-tls", key, certificate, None,
                                                 serialization.NoEncryption())
    return base64.b64encode(pfx).decode()
