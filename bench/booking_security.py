"""Cost of the booking service's credential and secret handling, measured in one run on this machine.

(a) argon2id hash at the service's parameters (m=64 MiB, t=3, p=4) against OWASP's minimum (m=19 MiB, t=2,
    p=1) as the baseline: what a sign-in costs the server, and how much harder it is for an offline attacker;
(b) checking a bearer token: the keyed HMAC-SHA256 against a plain SHA-256 baseline;
(c) sealing and opening an integration secret with AES-256-GCM (data key unwrapped from the local key store
    on every call, as the service does).

Last line: {"argon2_hash_ms", "argon2_owasp_min_ms", "argon2_ratio", "token_hmac_us", "token_sha256_us",
"seal_us", "unseal_us"}. Usage: .venv/bin/python bench/booking_security.py [--rounds 20]
"""

# ruff: noqa: E402  (the sys.path fix below must run before `booking` is imported)
from __future__ import annotations

import sys
from pathlib import Path

sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import hashlib
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable

from argon2 import PasswordHasher
from booking.auth.passwords import HASHER
from booking.auth.tokens import TokenHasher, new_token
from booking.secrets.keystore import LocalKeyStore
from booking.secrets.sealing import seal, unseal


def median_s(fn: Callable[[], object], rounds: int) -> float:
    """Median wall time of `rounds` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=20)
    args = p.parse_args()
    phrase = "correct horse battery staple"  # a sample input, not a credential
    owasp = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
    argon2_ms = median_s(lambda: HASHER.hash(phrase), args.rounds) * 1000
    owasp_ms = median_s(lambda: owasp.hash(phrase), args.rounds) * 1000
    token = new_token("bk", uuid.uuid4())
    hasher = TokenHasher.from_secret_key("s" * 48)
    n = 10_000
    hmac_us = median_s(lambda: [hasher.digest(token) for _ in range(n)], 5) / n * 1e6
    sha_us = median_s(lambda: [hashlib.sha256(token.encode()).hexdigest() for _ in range(n)], 5) / n * 1e6
    with tempfile.TemporaryDirectory() as tmp:
        keys = LocalKeyStore(Path(tmp))
        tenant, integration = uuid.uuid4(), uuid.uuid4()
        blob = seal(keys, tenant, integration, "google", "1//refresh-token")
        m = 1000
        seal_us = median_s(lambda: [seal(keys, tenant, integration, "google", "1//refresh-token")
                                    for _ in range(m)], 3) / m * 1e6
        unseal_us = median_s(lambda: [unseal(keys, tenant, integration, "google", blob) for _ in range(m)], 3) / m * 1e6
    print(f"argon2id m=64MiB,t=3,p=4: {argon2_ms:.1f} ms per hash; OWASP minimum: {owasp_ms:.1f} ms", file=sys.stderr)
    print(json.dumps({"argon2_hash_ms": round(argon2_ms, 1), "argon2_owasp_min_ms": round(owasp_ms, 1),
                      "argon2_ratio": round(argon2_ms / owasp_ms, 2), "token_hmac_us": round(hmac_us, 2),
                      "token_sha256_us": round(sha_us, 2), "seal_us": round(seal_us, 1),
                      "unseal_us": round(unseal_us, 1)}))


if __name__ == "__main__":
    main()
