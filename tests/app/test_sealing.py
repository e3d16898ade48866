"""AES-256-GCM sealing of integration secrets and the local envelope key store."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import uuid
from pathlib import Path

import pytest
from booking.secrets.keystore import LocalKeyStore
from booking.secrets.sealing import NONCE_BYTES, Unreadable, seal, unseal

from tests.app.test_cli import BOOKING, clean_env

T1, T2 = uuid.uuid4(), uuid.uuid4()
I1, I2 = uuid.uuid4(), uuid.uuid4()


@pytest.fixture
def store(tmp_path: Path) -> LocalKeyStore:
    return LocalKeyStore(tmp_path / "keys")


def test_round_trip_with_a_fresh_nonce_every_time(store: LocalKeyStore) -> None:
    blobs = [seal(store, T1, I1, "google", "1//refresh-token") for _ in range(200)]
    nonces = {b[1:1 + NONCE_BYTES] for b in blobs}
    assert len(nonces) == 200, "a nonce was reused under the same key"
    assert len({b[1 + NONCE_BYTES:] for b in blobs}) == 200
    assert all(unseal(store, T1, I1, "google", b) == "1//refresh-token" for b in blobs)
    assert b"refresh-token" not in blobs[0]


@pytest.mark.parametrize(("tenant", "integration", "provider"), [(T2, I1, "google"), (T1, I2, "google"),
                                                                  (T1, I1, "zoom")])
def test_a_ciphertext_moved_to_another_tenant_integration_or_provider_fails(
        store: LocalKeyStore, tenant: uuid.UUID, integration: uuid.UUID, provider: str) -> None:
    seal(store, T2, I2, "zoom", "make T2's data key exist")
    blob = seal(store, T1, I1, "google", "secret")
    with pytest.raises(Unreadable):
        unseal(store, tenant, integration, provider, blob)


@pytest.mark.parametrize("position", [0, 1, 5, 13, 20, -1])
def test_a_flipped_bit_fails_to_decrypt(store: LocalKeyStore, position: int) -> None:
    blob = bytearray(seal(store, T1, I1, "google", "secret value"))
    blob[position] ^= 0x01
    with pytest.raises(Unreadable):
        unseal(store, T1, I1, "google", bytes(blob))


def test_each_tenant_has_its_own_data_key_stored_wrapped(store: LocalKeyStore) -> None:
    k1, k2 = store.data_key(T1, create=True), store.data_key(T2, create=True)
    assert k1 is not None
    assert len(k1) == 32
    assert k1 != k2
    stored = (store.tenants / f"{T1}.json").read_text()
    assert k1.hex() not in stored
    assert base64.b64encode(k1).decode() not in stored
    assert json.loads(stored)["kek"] == "k1"
    assert store.kek_file.stat().st_mode & 0o777 == 0o600


def test_rotation_rewraps_every_data_key_and_old_ciphertexts_still_open(store: LocalKeyStore) -> None:
    blob1, blob2 = seal(store, T1, I1, "google", "one"), seal(store, T2, I2, "zoom", "two")
    before = {p.name: p.read_text() for p in store.tenants.glob("*.json")}
    old_kek = json.loads(store.kek_file.read_text())["keys"]["k1"]
    assert store.rotate() == 2
    after = {p.name: p.read_text() for p in store.tenants.glob("*.json")}
    assert set(after) == set(before)
    assert all(json.loads(text)["kek"] == "k2" and text != before[name] for name, text in after.items())
    keks = json.loads(store.kek_file.read_text())
    assert keks["current"] == "k2"
    assert old_kek not in keks["keys"].values(), "the retired KEK must be gone once nothing uses it"
    assert unseal(store, T1, I1, "google", blob1) == "one"
    assert unseal(store, T2, I2, "zoom", blob2) == "two"


def test_rotation_does_not_interrupt_readers(store: LocalKeyStore) -> None:
    blob = seal(store, T1, I1, "google", "live")
    errors: list[BaseException] = []
    opened = 0
    stop = threading.Event()

    def reader() -> None:
        nonlocal opened
        while not stop.is_set() and opened < 100_000:
            try:
                assert unseal(store, T1, I1, "google", blob) == "live"
                opened += 1
            except BaseException as exc:
                errors.append(exc)
                return

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(30):
            store.rotate()
    finally:
        stop.set()
        thread.join(30)
    assert errors == []
    assert opened > 0
    assert json.loads(store.kek_file.read_text())["current"] == "k31"


def test_a_reader_that_saw_the_kek_file_before_a_rotation_still_opens(store: LocalKeyStore,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    blob = seal(store, T1, I1, "google", "live")
    stale = store._keks()  # what a reader loaded just before the rotation started
    store.rotate()
    store.rotate()  # k1 and k2 are pruned: the stale snapshot knows none of the current versions
    real = store._keks
    calls = iter([stale])
    monkeypatch.setattr(store, "_keks", lambda: next(calls, None) or real())
    assert unseal(store, T1, I1, "google", blob) == "live"


def test_shredding_a_data_key_makes_its_ciphertexts_unreadable(store: LocalKeyStore) -> None:
    blob = seal(store, T1, I1, "google", "secret")
    other = seal(store, T2, I2, "google", "other")
    assert store.shred(T1) is True
    with pytest.raises(Unreadable, match="shredded"):
        unseal(store, T1, I1, "google", blob)
    assert unseal(store, T2, I2, "google", other) == "other"


def test_keys_rotate_command(tmp_path: Path) -> None:
    store = LocalKeyStore(tmp_path / "keys")
    blob = seal(store, T1, I1, "google", "secret")
    done = subprocess.run([BOOKING, "keys", "rotate", "--key-dir", str(tmp_path / "keys")], env=clean_env(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"rewrapped": 1, "kek": "k2"}
    assert unseal(store, T1, I1, "google", blob) == "secret"
    missing = subprocess.run([BOOKING, "keys", "rotate", "--key-dir", str(tmp_path / "nowhere")], env=clean_env(),
                             capture_output=True, text=True, timeout=60, check=False)
    assert missing.returncode == 2
    assert "holds no kek.json" in missing.stderr
