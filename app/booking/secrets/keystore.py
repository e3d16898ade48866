"""Envelope encryption keys: per-tenant data keys (DEKs) wrapped by a key-encryption key (KEK).

The wrapped data keys live in the key store, not in the database, so a database backup holds only
ciphertext: deleting a tenant's data key (crypto-shredding) makes every encrypted field of that tenant
unreadable in every old backup too. Two implementations of one small interface:

- `LocalKeyStore`: the embedded default, a directory with `kek.json` (versioned KEKs, 0600) and one
  wrapped data key per tenant; tested.
- `KeyVaultKeyStore`: the cloud, with Azure Key Vault's key (wrap/unwrap) and secret clients injected.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import uuid
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32  # AES-256


class KeyStoreError(RuntimeError):
    """The key store is missing, unreadable or refuses an operation; the message says what to check."""


class KeyStore(Protocol):
    """Where tenants' data keys are kept, wrapped by the KEK."""

    def data_key(self, tenant_id: uuid.UUID, *, create: bool) -> bytes | None:
        """The tenant's unwrapped data key; a new one if `create` and none exists, else None."""

    def shred(self, tenant_id: uuid.UUID) -> bool:
        """Delete the tenant's data key for good; True if there was one."""

    def rotate(self) -> int:
        """Start a new KEK version and re-wrap every data key with it; returns how many were re-wrapped."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _write_atomic(path: Path, text: str, *, exclusive: bool = False) -> bool:
    """Write via a temporary file; with `exclusive`, only if `path` does not exist yet (False if it did)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    try:
        if exclusive:
            try:
                os.link(tmp, path)  # atomic create-if-absent: two racing creators agree on one key
            except FileExistsError:
                return False
        else:
            os.replace(tmp, path)
            return True
    finally:
        tmp.unlink(missing_ok=True)
    return True


class LocalKeyStore:
    """KEKs in `DIR/kek.json`, wrapped data keys in `DIR/tenants/<id>.json`; created on first use."""

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)
        self.kek_file = self.dir / "kek.json"
        self.tenants = self.dir / "tenants"
        self._lock = threading.Lock()

    def _keks(self) -> dict[str, Any]:
        if not self.kek_file.exists():
            self.tenants.mkdir(parents=True, exist_ok=True, mode=0o700)
            first = {"current": "k1", "keys": {"k1": _b64(AESGCM.generate_key(bit_length=256))}}
            _write_atomic(self.kek_file, json.dumps(first), exclusive=True)
        try:
            data: dict[str, Any] = json.loads(self.kek_file.read_text())
        except (OSError, ValueError) as exc:
            raise KeyStoreError(f"cannot read the key-encryption key file {self.kek_file}: {exc}") from exc
        return data

    @staticmethod
    def _aad(tenant_id: uuid.UUID, version: str) -> bytes:
        return f"booking/dek|{tenant_id}|{version}".encode()

    def _wrap(self, keks: dict[str, Any], tenant_id: uuid.UUID, dek: bytes) -> str:
        version = keks["current"]
        nonce = os.urandom(12)
        wrapped = AESGCM(base64.b64decode(keks["keys"][version])).encrypt(nonce, dek, self._aad(tenant_id, version))
        return json.dumps({"kek": version, "wrapped": _b64(nonce + wrapped)})

    def _unwrap(self, keks: dict[str, Any], tenant_id: uuid.UUID, text: str) -> bytes:
        entry = json.loads(text)
        key = keks["keys"].get(entry["kek"])
        if key is None:
            raise KeyStoreError(f"data key of tenant {tenant_id} is wrapped by KEK {entry['kek']!r}, which "
                                f"{self.kek_file} no longer holds; restore that KEK version")
        blob = base64.b64decode(entry["wrapped"])
        return AESGCM(base64.b64decode(key)).decrypt(blob[:12], blob[12:], self._aad(tenant_id, entry["kek"]))

    def data_key(self, tenant_id: uuid.UUID, *, create: bool) -> bytes | None:
        """See `KeyStore.data_key`."""
        keks = self._keks()
        path = self.tenants / f"{tenant_id}.json"
        if not path.exists():
            if not create:
                return None
            _write_atomic(path, self._wrap(keks, tenant_id, AESGCM.generate_key(bit_length=256)), exclusive=True)
        try:
            return self._unwrap(keks, tenant_id, path.read_text())
        except KeyStoreError:
            # a rotation re-wrapped this key between our two reads: both files are consistent on a re-read
            return self._unwrap(self._keks(), tenant_id, path.read_text())

    def shred(self, tenant_id: uuid.UUID) -> bool:
        """See `KeyStore.shred`."""
        path = self.tenants / f"{tenant_id}.json"
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed

    def rotate(self) -> int:
        """See `KeyStore.rotate`. Readers keep working throughout: each file is replaced atomically and the
        old KEK version stays until no data key refers to it."""
        with self._lock:
            keks = self._keks()
            version = f"k{max(int(v[1:]) for v in keks['keys']) + 1}"
            keks = {"current": version, "keys": {**keks["keys"], version: _b64(AESGCM.generate_key(bit_length=256))}}
            _write_atomic(self.kek_file, json.dumps(keks))
            count = 0
            for path in sorted(self.tenants.glob("*.json")):
                tenant_id = uuid.UUID(path.stem)
                dek = self._unwrap(keks, tenant_id, path.read_text())
                _write_atomic(path, self._wrap(keks, tenant_id, dek))
                count += 1
            used = {json.loads(p.read_text())["kek"] for p in self.tenants.glob("*.json")} | {version}
            keks["keys"] = {v: k for v, k in keks["keys"].items() if v in used}
            _write_atomic(self.kek_file, json.dumps(keks))
            return count


class KeyVaultKeyStore:
    """Azure Key Vault: the KEK is a Key Vault key (RSA-OAEP-256 wrap/unwrap, never leaves the vault), the
    wrapped data keys are Key Vault secrets `dek-<tenant id>`. `keys` is an
    `azure.keyvault.keys.crypto.CryptographyClient`, `secrets` an `azure.keyvault.secrets.SecretClient`."""

    ALGORITHM = "RSA-OAEP-256"

    def __init__(self, keys: Any, secrets: Any) -> None:
        self.keys = keys
        self.secrets = secrets

    def data_key(self, tenant_id: uuid.UUID, *, create: bool) -> bytes | None:
        """See `KeyStore.data_key`."""
        name = f"dek-{tenant_id}"
        try:
            wrapped = base64.b64decode(self.secrets.get_secret(name).value)
        except Exception as exc:  # azure.core.exceptions.ResourceNotFoundError, without importing the SDK
            if type(exc).__name__ != "ResourceNotFoundError":
                raise
            if not create:
                return None
            dek = AESGCM.generate_key(bit_length=256)
            result = self.keys.wrap_key(self.ALGORITHM, dek)
            self.secrets.set_secret(name, _b64(result.encrypted_key))
            return dek
        return bytes(self.keys.unwrap_key(self.ALGORITHM, wrapped).key)

    def shred(self, tenant_id: uuid.UUID) -> bool:
        """See `KeyStore.shred`; the vault must then purge the deleted secret (purge protection delays it)."""
        self.secrets.begin_delete_secret(f"dek-{tenant_id}").wait()
        return True

    def rotate(self) -> int:
        """Key Vault rotates the key itself (a rotation policy); unwrap uses the version recorded in each
        wrapped key, so nothing needs re-wrapping for reads. Re-wrapping onto the new version is done here."""
        count = 0
        for props in self.secrets.list_properties_of_secrets():
            if not props.name.startswith("dek-"):
                continue
            wrapped = base64.b64decode(self.secrets.get_secret(props.name).value)
            dek = self.keys.unwrap_key(self.ALGORITHM, wrapped).key
            self.secrets.set_secret(props.name, _b64(self.keys.wrap_key(self.ALGORITHM, dek).encrypted_key))
            count += 1
        return count
