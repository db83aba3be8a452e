"""Identifiers of the prescription document: CCCD, BHYT number, ``ma_don_thuoc``.

Structures as docs/identifiers.md and docs/national-api.md describe them.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import date

#: Province codes (digits 1-3 of a CCCD), docs/identifiers.md.
PROVINCE_CODES = frozenset("""
001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 034 035 036
037 038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 067 068 070 072 074 075
077 079 080 082 083 084 086 087 089 091 092 093 094 095 096
""".split())

#: Digit 4 of a CCCD: century of birth and sex (even male, odd female).
_CENTURY_BY_DIGIT = {0: 1900, 1: 1900, 2: 2000, 3: 2000, 4: 2100, 5: 2100, 6: 2200, 7: 2200,
                     8: 1800, 9: 1800}

PRESCRIPTION_CODE = re.compile(r"[0-9A-Za-z]{5}[0-9A-Za-z]{7}-[cnhy]")
_TWELVE_DIGITS = re.compile(r"[0-9]{12}")
_BHYT_CARD = re.compile(r"[A-Z]{2}[1-5][0-9]{12}")
_SOCIAL_INSURANCE = re.compile(r"[0-9]{10}")
_FACILITY_CODE = re.compile(r"[0-9A-Za-z]{5}")
#: Letters and digits of generated codes: no O, I or L, which a person copying a code from
#: paper takes for 0 and 1 (codes generated earlier may hold them; look-ups accept both).
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTUVWXYZ"
#: What a person may have typed for each character of a code: O for 0, I or L for 1.
_CONFUSED = {"0": "0O", "O": "0O", "1": "1IL", "I": "1IL", "L": "1IL"}
#: At most this many spellings of one typed code are looked up.
MAX_SPELLINGS = 256
_BLANKS = re.compile(r"[\s\u00a0\u200b]+")


def is_cccd(value: str) -> bool:
    """Whether ``value`` is a structurally valid CCCD: 12 digits, a known province code."""
    return _TWELVE_DIGITS.fullmatch(value) is not None and value[:3] in PROVINCE_CODES


def cccd_disagreement(cccd: str, birth_date: date | None, gioi_tinh: int | None) -> str | None:
    """What in a valid CCCD disagrees with the birth date and sex, or ``None``.

    Digit 4 gives the century (checked against the birth year) and the sex (checked only for
    ``gioi_tinh`` 2 male / 3 female); digits 5-6 are the last two digits of the birth year.
    Unknown inputs (``None``) skip their check. Raises nothing.
    """
    digit = int(cccd[3])
    if birth_date is not None:
        if _CENTURY_BY_DIGIT[digit] != birth_date.year // 100 * 100:
            return "century"
        if int(cccd[4:6]) != birth_date.year % 100:
            return "year"
    if gioi_tinh in (2, 3) and digit % 2 != (0 if gioi_tinh == 2 else 1):
        return "sex"
    return None


def is_bhyt_number(value: str) -> bool:
    """Whether ``value`` is one of the three health-insurance number formats (upper case)."""
    return (_BHYT_CARD.fullmatch(value) is not None
            or _SOCIAL_INSURANCE.fullmatch(value) is not None
            or is_cccd(value))


def typed_code(text: str) -> str:
    """A prescription code as a person typed it, in the stored spelling's case: blanks
    removed, letters upper case but the type letter after ``-`` (``79001 ab12345-C`` ->
    ``79001AB12345-c``); a missing ``-`` before the type letter is put back. Text that does not
    have the shape of a code is returned as it is (it may be the text of a QR code)."""
    squeezed = _BLANKS.sub("", text)
    if len(squeezed) == 13 and squeezed[-1].lower() in "cnhy" and "-" not in squeezed:
        squeezed = f"{squeezed[:12]}-{squeezed[12]}"
    if len(squeezed) != 14 or squeezed[12] != "-" or not squeezed[:12].isalnum():
        return text
    return squeezed[:12].upper() + "-" + squeezed[13].lower()


def code_spellings(text: str) -> list[str]:
    """Every stored spelling a typed code may stand for: :func:`typed_code`, then each O/0
    and I/L/1 read either way (at most :data:`MAX_SPELLINGS`; beyond that, the typed
    spelling and the one with every O read 0 and every I or L read 1). Empty when the text
    does not have the shape of a code."""
    typed = typed_code(text)
    if PRESCRIPTION_CODE.fullmatch(typed) is None:
        return []
    options = [_CONFUSED.get(char, char) for char in typed[:12]]
    count = 1
    for choice in options:
        count *= len(choice)
    if count > MAX_SPELLINGS:
        folded = "".join(choice[0] for choice in options)
        return list(dict.fromkeys([typed, folded + typed[12:]]))
    spellings = [""]
    for choice in options:
        spellings = [done + char for done in spellings for char in choice]
    tail = typed[12:]
    return list(dict.fromkeys([typed, *(spelling + tail for spelling in spellings)]))


def generate_prescription_code(facility_code: str, loai_don_thuoc: str,
                               seed: str | None = None) -> str:
    """A new ``ma_don_thuoc``: facility code, 7 letters/digits without O, I or L
    (:data:`_CODE_ALPHABET`), type. The 7 are cryptographically random, or, given a ``seed``,
    drawn from its SHA-256 (the same seed gives the same code: the gateway seeds with the
    sender, its Idempotency-Key and the body, so that a retry of a submit whose first attempt
    died after storing names the same prescription).

    33**7 (4.3e10) codes per facility and type; uniqueness is the caller's storage unique
    index (on a duplicate, generate again).

    Raises:
        ValueError: the facility code is not 5 letters/digits or the type is not one of c, n, h, y.
    """
    if not isinstance(facility_code, str) or _FACILITY_CODE.fullmatch(facility_code) is None:
        raise ValueError(f"a facility code is 5 letters or digits, got {facility_code!r}")
    if loai_don_thuoc not in ("c", "n", "h", "y"):
        raise ValueError(f"loai_don_thuoc is one of c, n, h, y, got {loai_don_thuoc!r}")
    if seed is None:  # one draw of the 7 characters (one read of the system's randomness)
        number = secrets.randbelow(len(_CODE_ALPHABET) ** 7)
    else:
        number = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big")
    part = ""
    for _ in range(7):
        number, digit = divmod(number, len(_CODE_ALPHABET))
        part += _CODE_ALPHABET[digit]
    return f"{facility_code}{part}-{loai_don_thuoc}"
