"""AES-256-GCM for integration secrets (OAuth refresh tokens of calendar, video and payment providers).

Each value is sealed with the tenant's data key and a fresh 96-bit random nonce; the associated data binds
the ciphertext to its tenant, integration and provider, so a ciphertext copied to another row, tenant or
provider fails to decrypt instead of being used there. Layout: version byte 1 | nonce (12) | ciphertext+tag.
"""

from __future__ import annotations

import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from booking.secrets.keystore import KeyStore

VERSION = b"\x01"
NONCE_BYTES = 12


class Unreadable(Exception):
    """A sealed value cannot be opened: wrong binding, tampered, or its tenant's data key was shredded."""


def associated_data(tenant_id: uuid.UUID, integration_id: uuid.UUID, provider: str) -> bytes:
    """What a ciphertext is bound to."""
    return f"booking/integration|{tenant_id}|{integration_id}|{provider}".encode()


def seal(keys: KeyStore, tenant_id: uuid.UUID, integration_id: uuid.UUID, provider: str, secret: str) -> bytes:
    """Encrypt `secret` for one integration of one tenant."""
    dek = keys.data_key(tenant_id, create=True)
    assert dek is not None
    nonce = os.urandom(NONCE_BYTES)
    aad = associated_data(tenant_id, integration_id, provider)
    return VERSION + nonce + AESGCM(dek).encrypt(nonce, secret.encode(), aad)


def unseal(keys: KeyStore, tenant_id: uuid.UUID, integration_id: uuid.UUID, provider: str, blob: bytes) -> str:
    """Decrypt what `seal` produced for exactly this tenant, integration and provider, or raise Unreadable."""
    if blob[:1] != VERSION or len(blob) < 1 + NONCE_BYTES + 16:
        raise Unreadable("not a sealed value of this service")
    dek = keys.data_key(tenant_id, create=False)
    if dek is None:
        raise Unreadable(f"tenant {tenant_id} has no data key (erased: its data key was shredded)")
    try:
        plain = AESGCM(dek).decrypt(blob[1:1 + NONCE_BYTES], blob[1 + NONCE_BYTES:],
                                    associated_data(tenant_id, integration_id, provider))
    except InvalidTag:
        raise Unreadable("ciphertext does not match its tenant, integration or provider, or was altered") from None
    return plain.decode()
