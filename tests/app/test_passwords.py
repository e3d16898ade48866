"""Password rules (NIST SP 800-63B-4) and argon2id parameters."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from booking.auth.passwords import blocklist, check_password, hash_password, make_hasher, verify_password
from booking.errors import ApiError

CONTEXT = ("Alpha Clinic", "alpha-clinic", "owner@alpha-clinic.example")


@pytest.mark.parametrize(("password", "mfa"), [
    ("correct horse battery staple", False),  # no composition rules: lower-case words are fine
    ("zebra lantern quietly", False),
    ("x" * 0 + "Grüße aus Köln, Türen", False),  # any Unicode
    ("k9#Vt2pQ", True),  # 8 characters are enough with TOTP
    ("a1b2c3d4e5f6g7h8i9j0" * 3 + "zyxw", False),  # 64 characters must be allowed
    ("vacation plans for the alpha team", False),  # a context word inside a real passphrase
])
def test_acceptable_passwords(password: str, mfa: bool) -> None:
    check_password(password, mfa=mfa, context=CONTEXT)


@pytest.mark.parametrize(("password", "mfa", "needle"), [
    ("fourteen chars", False, "at least 15 characters"),
    ("k9#Vt2p", True, "at least 8 characters"),
    ("k9#Vt2pQ", False, "at least 15 characters"),
    ("p" * 129, False, "at most 128"),
    ("passwordpassword", False, "commonly used or breached"),
    ("Qwertyuiopasdfghjkl", False, "commonly used or breached"),
    ("123456789012345", False, "commonly used or breached"),
    ("football2024", True, "commonly used or breached"),
    ("aaaaaaaaaaaaaaabbbb", False, "commonly used or breached"),
    ("AlphaClinic2026!!!!", False, "business's name"),
    ("alpha-clinic.example", False, "business's name"),
    ("slotstack booking 2026", False, "business's name"),
])
def test_refused_passwords_name_the_rule(password: str, mfa: bool, needle: str) -> None:
    with pytest.raises(ApiError) as err:
        check_password(password, mfa=mfa, context=CONTEXT, field="owner.password")
    assert err.value.status == 422
    assert needle in err.value.detail
    assert err.value.detail.startswith("owner.password")


def test_the_shipped_blocklist_has_thousands_of_entries() -> None:
    assert len(blocklist()) > 3000
    assert {"password123", "qwerty123", "iloveyou", "1q2w3e4r5t6y"} <= blocklist()


def test_new_hashes_are_argon2id_at_or_above_owasp_minimum() -> None:
    stored = hash_password("correct horse battery staple")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


@pytest.mark.parametrize(("kwargs", "needle"), [({"memory_kib": 16 * 1024}, "memory_kib"),
                                                ({"time_cost": 1}, "time_cost")])
def test_parameters_below_owasp_minimum_are_refused(kwargs: dict[str, int], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        make_hasher(**kwargs)


def test_verify_returns_a_new_hash_when_parameters_changed() -> None:
    old = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1).hash("correct horse battery staple")
    ok, new = verify_password(old, "correct horse battery staple")
    assert ok
    assert new is not None
    assert new.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    ok, new = verify_password(new, "correct horse battery staple")
    assert ok
    assert new is None
    assert verify_password(old, "wrong horse battery staple") == (False, None)
