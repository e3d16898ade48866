"""Password policy (NIST SP 800-63B-4) and argon2id hashing with parameters at or above OWASP's minimum.

Policy: at least 15 characters when the password is the only factor, 8 when TOTP is enabled, up to 128
(the standard asks that at least 64 be allowed); no composition rules; refused if it is on the shipped
blocklist of common and breached passwords, if the zxcvbn estimator finds it quick to guess (keyboard walks,
sequences, repeats, dates), or if it is mostly made of context words (tenant name, slug, email).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from booking.errors import ApiError

MIN_SINGLE_FACTOR = 15
MIN_WITH_MFA = 8
MAX_LENGTH = 128
# zxcvbn's estimate of the guesses an attacker needs (log10): 10^10 resists an offline attack on a slow hash for
# years; with a second factor an online attacker is the threat, for whom 10^8 is far beyond the throttle.
MIN_GUESSES_LOG10 = 10
MIN_GUESSES_LOG10_MFA = 8
BLOCKLIST = Path(__file__).parents[1] / "data" / "blocklist.txt"
SERVICE_WORDS = ("slotstack", "booking")

# OWASP Password Storage Cheat Sheet, argon2id minimum: 19 MiB, 2 iterations, 1 lane.
OWASP_MIN_MEMORY_KIB = 19 * 1024
OWASP_MIN_TIME_COST = 2
# What new hashes use: RFC 9106's second recommended profile (64 MiB, 3 passes, 4 lanes).
DEFAULT_MEMORY_KIB = 64 * 1024
DEFAULT_TIME_COST = 3
DEFAULT_PARALLELISM = 4


def make_hasher(memory_kib: int = DEFAULT_MEMORY_KIB, time_cost: int = DEFAULT_TIME_COST,
                parallelism: int = DEFAULT_PARALLELISM) -> PasswordHasher:
    """An argon2id hasher; refuses parameters below OWASP's minimum, naming the one that is too low."""
    if memory_kib < OWASP_MIN_MEMORY_KIB:
        raise ValueError(f"argon2 memory_kib={memory_kib} is below OWASP's minimum {OWASP_MIN_MEMORY_KIB}")
    if time_cost < OWASP_MIN_TIME_COST:
        raise ValueError(f"argon2 time_cost={time_cost} is below OWASP's minimum {OWASP_MIN_TIME_COST}")
    if parallelism < 1:
        raise ValueError(f"argon2 parallelism={parallelism} must be at least 1")
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


HASHER = make_hasher()


def hash_password(password: str, hasher: PasswordHasher = HASHER) -> str:
    """argon2id hash of a password that passed `check_password`."""
    return hasher.hash(password)


def verify_password(stored: str, password: str, hasher: PasswordHasher = HASHER) -> tuple[bool, str | None]:
    """(matches, new hash) where the new hash is set when the stored one used other parameters."""
    try:
        hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False, None
    return True, hasher.hash(password) if hasher.check_needs_rehash(stored) else None


@lru_cache(maxsize=1)
def blocklist() -> frozenset[str]:
    """The shipped list of common and breached passwords (lower-case)."""
    return frozenset(line.strip() for line in BLOCKLIST.read_text().splitlines() if line.strip())


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def context_words(*values: str) -> list[str]:
    """Words a password must not be built from: the service's name, the tenant's name and slug, the email."""
    words = set(SERVICE_WORDS)
    for value in values:
        for part in re.split(r"[^\w]+|_", _normal(value)):
            if len(part) >= 4:
                words.add(part)
    return sorted(words, key=len, reverse=True)


def check_password(password: str, *, mfa: bool = False, context: tuple[str, ...] = (),
                   field: str = "password") -> None:
    """Raise 422 naming the rule a password breaks; return if it is acceptable."""
    minimum = MIN_WITH_MFA if mfa else MIN_SINGLE_FACTOR
    n = len(password)
    if n < minimum:
        why = "with TOTP enabled" if mfa else "without a second factor (8 once TOTP is enabled)"
        raise ApiError(422, f"{field} must be at least {minimum} characters {why}, got {n}; "
                            "a passphrase of several unrelated words works well")
    if n > MAX_LENGTH:
        raise ApiError(422, f"{field} must be at most {MAX_LENGTH} characters, got {n}")
    normal = _normal(password)
    squeezed = re.sub(r"\s+", "", normal)
    # the commonest breached shape: a listed word with digits or symbols around it ("password1234567!")
    stem = re.sub(r"^[\d\W_]+|[\d\W_]+$", "", squeezed)
    if normal in blocklist() or squeezed in blocklist() or stem in blocklist() or len(set(squeezed)) <= 2:
        raise ApiError(422, f"{field} is a commonly used or breached password; choose a passphrase that is "
                            "not a word with digits, a keyboard pattern or a repetition")
    rest = normal
    for word in context_words(*context):
        rest = rest.replace(word, "")
    if rest != normal and len(re.sub(r"[\W\d_]+", "", rest)) < 4:
        raise ApiError(422, f"{field} is made of the business's name, its address or the service's name; "
                            "choose words that have nothing to do with them")
    strength = zxcvbn(password[:MAX_LENGTH], user_inputs=list(context) + list(SERVICE_WORDS))
    needed = MIN_GUESSES_LOG10_MFA if mfa else MIN_GUESSES_LOG10
    if strength["guesses_log10"] < needed:
        hint = strength["feedback"]["warning"] or "it follows a pattern that is quick to guess"
        raise ApiError(422, f"{field} is too easy to guess ({hint.rstrip('.')}); a passphrase of several "
                            "unrelated words works well")
