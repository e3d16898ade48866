"""Split an E.164 phone number into the country code and national number an SMS receiver wants."""

from __future__ import annotations

import re

# ITU country codes are prefix-free: zones 1 and 7 are one digit, these are two, every other
# assigned code is three digits. Prefixes 28x, 83x and 89x are unassigned.
TWO_DIGIT = frozenset({
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48",
    "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81",
    "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
})
UNASSIGNED = ("28", "83", "89")
E164 = re.compile(r"\+([1-9][0-9]{6,14})")


def split_e164(phone: str) -> tuple[str, str]:
    """'+15550100' -> ('1', '5550100'); '+61412345678' -> ('61', '412345678')."""
    match = E164.fullmatch(phone)
    if match is None:
        raise ValueError(f"phone {phone!r} is not in E.164 form; write it like +15550100 "
                         "(plus, country code, number, no spaces)")
    digits = match.group(1)
    if digits[0] in "17":
        size = 1
    elif digits[:2] in TWO_DIGIT:
        size = 2
    elif digits[:2] in UNASSIGNED:
        raise ValueError(f"phone {phone!r} starts with +{digits[:2]}, which is no country's code")
    else:
        size = 3
    return digits[:size], digits[size:]
