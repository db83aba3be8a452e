"""Identifiers of drug products and packs: GTIN, GS1 element strings, registration numbers.

See docs/identifiers.md. Summary:

- GTIN-8/12/13/14: digits with a GS1 mod-10 check digit; stored and compared as 14 digits.
- GS1 element strings (the data on a pack's 2-D code): AI 01 GTIN, 17 expiry (YYMMDD, day
  ``00`` = last day of the month), 10 batch, 21 serial; bracketed human form
  ``(01)…(17)…(10)…(21)…`` or raw scanner data (optional symbology identifier such as
  ``]d2``, GS = ASCII 29 after a variable-length field that is not last).
- Registration numbers (số đăng ký): upper case, one canonical ``Đ`` (U+0110), no spaces.

GS1 pieces come from biip (the maintained implementation of the GS1 General Specifications):
the mod-10 check digit, the symbology identifiers, the Application Identifier table (to name an
AI that is not one of ours) and the writing of element strings. The reading of element strings
stays here, because biip reads both spellings more leniently than a dispensing check may: see
the comments on ``_parse_bracketed``, ``_parse_raw`` and ``_expiry_date``.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from biip import ParseConfig, ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_element_strings import GS1ElementString, GS1ElementStrings
from biip.gs1_messages import GS1Message
from biip.symbology import GS1Symbology, SymbologyIdentifier

from drug_catalog.errors import BadCheckDigit, InvalidGs1, InvalidIdentifier

GTIN_LENGTHS = (8, 12, 13, 14)
GS = "\x1d"

# ---------------------------------------------------------------------------------- GTIN


def gtin_check_digit(digits: str) -> int:
    """The GS1 mod-10 check digit for ``digits`` (a GTIN without its last digit).

    From the right, digits are weighted 3, 1, 3, 1, …; check = (10 − sum mod 10) mod 10
    (GS1 General Specifications §7.9.1), computed by biip.

    Raises:
        ValueError: ``digits`` is empty or holds anything but ASCII digits.
    """
    # Checked here, not left to biip: it takes any Unicode decimal digit ("８", "٣"), and a
    # GTIN is ASCII digits only.
    if not digits or not digits.isascii() or not digits.isdigit():
        raise ValueError(f"expected ASCII digits, got {digits!r}")
    return gs1_standard_check_digit(digits)


def looks_like_gtin(value: str) -> bool:
    """True when ``value`` (stripped) is 8, 12, 13 or 14 ASCII digits, check digit aside."""
    value = value.strip()
    return value.isascii() and value.isdigit() and len(value) in GTIN_LENGTHS


def normalize_gtin(value: str) -> str:
    """A GTIN of any length as its 14-digit form (left-padded with zeros).

    Raises:
        InvalidIdentifier: not 8, 12, 13 or 14 digits.
        BadCheckDigit: the last digit is not the check digit of the others (names the
            expected digit).
    """
    # Not biip's Gtin.parse: it would repeat the check digit below (and look up GS1 prefixes we
    # do not use) at four times the cost, takes non-ASCII digits, and reports failures as text
    # only, without the reasons callers show or the digits BadCheckDigit carries.
    text = value.strip() if isinstance(value, str) else value
    if not isinstance(text, str) or not text.isascii() or not text.isdigit():
        raise InvalidIdentifier(str(value), "a GTIN has digits only")
    if len(text) not in GTIN_LENGTHS:
        raise InvalidIdentifier(value, f"a GTIN has 8, 12, 13 or 14 digits, not {len(text)}")
    expected = gtin_check_digit(text[:-1])
    if int(text[-1]) != expected:
        raise BadCheckDigit(value, expected=expected, found=int(text[-1]))
    return text.zfill(14)


def is_valid_gtin(value: str) -> bool:
    """True when ``value`` is a GTIN-8/12/13/14 with a correct check digit."""
    try:
        normalize_gtin(value)
    except InvalidIdentifier:
        return False
    return True


# ----------------------------------------------------------------------- GS1 element strings

AI_GTIN, AI_EXPIRY, AI_BATCH, AI_SERIAL = "01", "17", "10", "21"
_FIXED_LENGTH = {AI_GTIN: 14, AI_EXPIRY: 6}
_VARIABLE_MAX = {AI_BATCH: 20, AI_SERIAL: 20}
_AI_NAMES = {AI_GTIN: "GTIN", AI_EXPIRY: "expiry", AI_BATCH: "batch", AI_SERIAL: "serial"}
# The four AIs' formats (N2+N14, N2+N6, N2+X..20) are also in biip's AI table; a test checks
# that they agree. They are written out here because the reasons below name the lengths.
# GS1 AI encodable character set 82 (General Specifications Figure 7.11-1).
_CSET82 = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+$")
# Symbologies whose data is a GS1 element string (GS1 DataMatrix ]d2, GS1-128 ]C1, GS1 QR ]Q3,
# GS1 DataBar ]e0), as biip knows them (ISO/IEC 15424).
_GS1_SYMBOLOGIES = GS1Symbology.with_gs1_messages()
_DATAMATRIX_ID = "]" + GS1Symbology.GS1_DATAMATRIX.value
# Writing, biip need not read the expiry back as a date: it would pick the century by the clock
# (and could then refuse 29 February 2000 as 2100-02-29 after 2050).
_WRITE_CONFIG = ParseConfig(gs1_element_strings_verify_date=False)
# GS1 AIs have 2 to 4 digits; only ours (two digits) start a field, the others are refused.
_BRACKETED_AI = re.compile(r"\((\d{2,4})\)")


@dataclass(frozen=True)
class Pack:
    """What a serialised pack's code says.

    Attributes:
        gtin: 14 digits, check digit verified.
        expiry: the expiry date (day ``00`` already turned into the month's last day), or None.
        batch: batch/lot number (AI 10), or None.
        serial: serial number (AI 21), or None.
    """

    gtin: str
    expiry: date | None = None
    batch: str | None = None
    serial: str | None = None


def _expiry_date(text: str, source: str, today: date) -> date:
    # Kept rather than biip's date of AI 17: biip takes the century from the clock
    # (datetime.now), so ``today`` could not be honoured (tests, replays, a pack checked
    # against the dispense date), and it refuses a bad date with one message that does not
    # say whether the month or the day is wrong. The rule is the same (a test compares them).
    if len(text) != 6 or not text.isdigit():
        raise InvalidGs1(source, f"expiry (17) must be 6 digits YYMMDD, got {text!r}", ai=AI_EXPIRY)
    yy, month, day = int(text[:2]), int(text[2:4]), int(text[4:])
    # GS1 General Specifications §7.12: a year within 49 back and 50 ahead of today.
    current = today.year % 100
    century = today.year - current
    difference = yy - current
    if difference >= 51:
        century -= 100
    elif difference <= -50:
        century += 100
    year = century + yy
    if not 1 <= month <= 12:
        raise InvalidGs1(source, f"expiry (17) has month {text[2:4]}", ai=AI_EXPIRY)
    last_day = calendar.monthrange(year, month)[1]
    if day == 0:
        return date(year, month, last_day)
    if day > last_day:
        raise InvalidGs1(source, f"expiry (17) has day {text[4:]} in a month of {last_day} days",
                         ai=AI_EXPIRY)
    return date(year, month, day)


def _check_value(ai: str, value: str, source: str) -> None:
    name = _AI_NAMES[ai]
    if not value:
        raise InvalidGs1(source, f"{name} ({ai}) is empty", ai=ai)
    if ai in _VARIABLE_MAX and len(value) > _VARIABLE_MAX[ai]:
        raise InvalidGs1(source, f"{name} ({ai}) is {len(value)} characters long, at most "
                                 f"{_VARIABLE_MAX[ai]} are allowed (a missing GS separator?)",
                         ai=ai)
    if not _CSET82.match(value):
        bad = next(ch for ch in value if not _CSET82.match(ch))
        raise InvalidGs1(source, f"{name} ({ai}) contains {bad!r}, not a GS1 character", ai=ai)


def _build_pack(fields: dict[str, str], source: str, today: date) -> Pack:
    if AI_GTIN not in fields:
        raise InvalidGs1(source, "no GTIN (01)", ai=AI_GTIN)
    gtin = fields[AI_GTIN]
    if len(gtin) != 14 or not gtin.isdigit():
        raise InvalidGs1(source, f"GTIN (01) must be 14 digits, got {gtin!r}", ai=AI_GTIN)
    expected = gtin_check_digit(gtin[:-1])
    if int(gtin[-1]) != expected:
        raise InvalidGs1(source, f"GTIN (01) {gtin} has check digit {gtin[-1]}, expected "
                                 f"{expected}", ai=AI_GTIN)
    for ai in (AI_BATCH, AI_SERIAL):
        if ai in fields:
            _check_value(ai, fields[ai], source)
    expiry = _expiry_date(fields[AI_EXPIRY], source, today) if AI_EXPIRY in fields else None
    return Pack(gtin=gtin, expiry=expiry, batch=fields.get(AI_BATCH), serial=fields.get(AI_SERIAL))


def _unsupported_ai(data: str, source: str, *, exact: bool) -> InvalidGs1:
    """The error for an AI that is not one of ours at the start of ``data``, named as GS1's AI
    table (biip's) names it: a raw string's AI has 2, 3 or 4 digits, which only the table tells;
    ``exact``: ``data`` is a whole bracketed AI, not the start of a raw field."""
    try:
        known: GS1ApplicationIdentifier | None = GS1ApplicationIdentifier.extract(data)
    except ParseError:
        known = None
    if known is not None and exact and known.ai != data:
        known = None
    ai = known.ai if known is not None else data if exact else data[:2]
    what = f"GS1's {known.description!r}" if known is not None else "not a GS1 AI either"
    return InvalidGs1(source, f"Application Identifier ({ai}) is not one used on medicine packs "
                              f"here (01, 17, 10, 21); it is {what}", ai=ai)


def _add(fields: dict[str, str], ai: str, value: str, source: str) -> None:
    if ai not in _AI_NAMES:
        raise _unsupported_ai(ai, source, exact=True)
    if ai in fields:
        raise InvalidGs1(source, f"{_AI_NAMES[ai]} ({ai}) appears twice", ai=ai)
    fields[ai] = value


def _parse_bracketed(text: str, today: date) -> Pack:
    # Not biip's GS1Message.parse_hri, which reads values as "up to the next '('": it silently
    # cuts "(10)LOT(A)(21)S1" to batch "LOT" (and drops "(A)"), deletes spaces inside values
    # ("SN 1" becomes "SN1" instead of being refused), skips an empty "(10)" and accepts a
    # repeated AI. Here only one of our four AIs in brackets ends a value.
    fields: dict[str, str] = {}
    position = 0
    while position < len(text):
        match = _BRACKETED_AI.match(text, position)
        if match is None:
            raise InvalidGs1(text, f"expected an Application Identifier such as (01) at "
                                   f"position {position + 1}")
        ai = match.group(1)
        start = match.end()
        if ai in _FIXED_LENGTH:
            end = start + _FIXED_LENGTH[ai]
            value = text[start:end]
            if len(value) != _FIXED_LENGTH[ai] or not value.isdigit():
                raise InvalidGs1(text, f"{_AI_NAMES[ai]} ({ai}) must be {_FIXED_LENGTH[ai]} "
                                       f"digits", ai=ai)
        else:
            following = _next_bracketed_ai(text, start)
            end = following if following is not None else len(text)
            value = text[start:end]
        _add(fields, ai, value, text)
        position = end
    return _build_pack(fields, text, today)


def _next_bracketed_ai(text: str, start: int) -> int | None:
    for match in _BRACKETED_AI.finditer(text, start):
        if match.group(1) in _AI_NAMES:
            return match.start()
    return None


def _without_symbology_identifier(text: str) -> str:
    if not text.startswith("]"):
        return text
    try:
        identifier = SymbologyIdentifier.extract(text)
    except (ParseError, IndexError, ValueError):  # "]" alone, or "]Y" without a count
        raise InvalidGs1(text, f"{text[:3]!r} is not a symbology identifier (such as "
                               f"{_DATAMATRIX_ID} for GS1 DataMatrix)") from None
    if identifier.gs1_symbology not in _GS1_SYMBOLOGIES:
        raise InvalidGs1(text, f"symbology identifier {identifier.value} is not a GS1 "
                               f"symbology's (a GS1 DataMatrix sends {_DATAMATRIX_ID}): the code "
                               f"scanned is not the pack's GS1 code")
    return text[len(identifier.value):]


def _parse_raw(text: str, today: date) -> Pack:
    # Not biip's GS1Message.parse: where a GS separator is missing it reads a variable-length
    # field only up to its maximum length and goes on with what follows as the next AI, so a
    # batch of 20 characters glued to "21SN1" becomes batch + serial, and a longer one fails
    # with "Failed to get GS1 Application Identifier from 'AAAAA'" instead of "at most 20 (a
    # missing GS separator?)"; it also accepts repeated AIs and names no AI in its errors.
    # Here a variable-length field runs to the GS (or the end), as the specification has it.
    data = _without_symbology_identifier(text)
    data = data.lstrip(GS)  # some scanners send the leading FNC1 as GS
    if not data:
        raise InvalidGs1(text, "no data after the symbology identifier")
    fields: dict[str, str] = {}
    position = 0
    while position < len(data):
        ai = data[position:position + 2]
        if len(ai) < 2 or not ai.isdigit():
            raise InvalidGs1(text, f"expected a 2-digit Application Identifier at position "
                                   f"{position + 1}, got {ai!r}")
        start = position + 2
        if ai in _FIXED_LENGTH:
            end = start + _FIXED_LENGTH[ai]
            value = data[start:end]
            if len(value) != _FIXED_LENGTH[ai] or not value.isdigit():
                raise InvalidGs1(text, f"{_AI_NAMES[ai]} ({ai}) must be {_FIXED_LENGTH[ai]} "
                                       f"digits", ai=ai)
            position = end
            if data[position:position + 1] == GS:  # tolerated, though not needed
                position += 1
        elif ai in _VARIABLE_MAX:
            separator = data.find(GS, start)
            end = separator if separator >= 0 else len(data)
            value = data[start:end]
            position = end + 1 if separator >= 0 else end
        else:
            raise _unsupported_ai(data[position:], text, exact=False)
        _add(fields, ai, value, text)
    return _build_pack(fields, text, today)


def parse_gs1(text: str, *, today: date | None = None) -> Pack:
    """Parse a pack's GS1 element string, bracketed or raw.

    Accepted spellings: ``(01)08930000000019(17)280630(10)L-77(21)SN123`` and
    ``]d2010893000000001917280630`` ``10L-77`` GS ``21SN123`` (symbology identifier optional;
    ``]C1``, ``]Q3``, ``]e0`` are accepted too). The AIs may come in any order; 01 is required,
    the others optional. An expiry day ``00`` means the last day of that month; the century
    follows GS1's rule (a year at most 49 years back or 50 ahead of ``today``).

    Args:
        text: the element string.
        today: the reference date for the century of the expiry year (default: today).

    Returns:
        The :class:`Pack`.

    Raises:
        InvalidGs1: the string is malformed; ``reason`` says where and why (unknown or
            repeated AI, wrong length, bad GTIN check digit, impossible date, a batch or serial
            over 20 characters or outside GS1's character set).
    """
    if not isinstance(text, str):
        raise InvalidGs1(repr(text), "a GS1 element string is text")
    stripped = text.strip(" \t\r\n")
    if not stripped:
        raise InvalidGs1(text, "empty")
    today = today or date.today()
    if stripped.startswith("("):
        return _parse_bracketed(stripped, today)
    return _parse_raw(stripped, today)


def format_gs1(pack: Pack, *, raw: bool = False) -> str:
    """The element string of ``pack``: bracketed human form, or (``raw=True``) what a 2-D
    scanner sends: ``]d2`` then the fields, GS after a variable-length field that is not last.

    Fields are written in the order 01, 17, 10, 21, so fixed-length fields need no separator.
    ``parse_gs1(format_gs1(p, raw=r)) == p`` for every valid pack. The string is written by
    biip (which knows from GS1's AI table where a separator is needed) after the checks here.

    Raises:
        InvalidGs1: a field is invalid (bad GTIN, batch/serial empty, too long or outside GS1's
            character set), or, in the bracketed form, a batch or serial contains a
            parenthesised AI such as ``(21)`` that would be read back as a new field.
    """
    fields: list[tuple[str, str]] = [(AI_GTIN, pack.gtin)]
    if pack.expiry is not None:
        fields.append((AI_EXPIRY, pack.expiry.strftime("%y%m%d")))
    if pack.batch is not None:
        fields.append((AI_BATCH, pack.batch))
    if pack.serial is not None:
        fields.append((AI_SERIAL, pack.serial))
    source = repr(pack)
    gtin = pack.gtin
    if len(gtin) != 14 or not gtin.isdigit() or int(gtin[-1]) != gtin_check_digit(gtin[:-1]):
        raise InvalidGs1(source, f"GTIN (01) {gtin!r} is not a valid 14-digit GTIN", ai=AI_GTIN)
    for ai, value in fields[1:]:
        if ai in _VARIABLE_MAX:
            _check_value(ai, value, source)
            if not raw and _next_bracketed_ai(value, 0) is not None:
                raise InvalidGs1(source, f"{_AI_NAMES[ai]} ({ai}) {value!r} contains a "
                                         f"bracketed AI; use the raw form", ai=ai)
    elements = GS1ElementStrings()
    for ai, value in fields:
        try:
            elements.append(GS1ElementString.parse(ai + value, config=_WRITE_CONFIG))
        except ParseError as exc:  # not expected after the checks above; never a bare error
            raise InvalidGs1(source, f"{_AI_NAMES[ai]} ({ai}) {value!r}: {exc}", ai=ai) from None
    message = GS1Message.from_element_strings(elements)
    return _DATAMATRIX_ID + message.value if raw else message.as_hri()


# -------------------------------------------------------------------- registration numbers

# Look-alikes of Đ (U+0110) seen in real exports: Ð (U+00D0, Icelandic eth), Ɖ (U+0189).
_D_LOOKALIKES = str.maketrans({"\u00d0": "\u0110", "\u0189": "\u0110", "\u00f0": "\u0110",
                               "\u0111": "\u0110", "\u0256": "\u0110"})
_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-",
                         "\u2014": "-", "\u2212": "-", "\ufe63": "-", "\uff0d": "-"})
_SPACES = re.compile(r"\s+")
_REGISTRATION_PATTERNS = (
    re.compile(r"^\d{12}$"),                                   # since 2022: 893100160624
    re.compile(r"^V\d{1,5}-H\d{1,2}-\d{2}$"),                  # traditional: V268-H12-13
    # VD-32243-19, VN-5686-10, VN2-454-16, GC-319-19, VS-4807-11, QLĐB-613-17, QLSP-0768-14
    re.compile(r"^(VD|VN|VNA|VNB|VN\d|GC|VS|QLĐB|QLSP|QLVX|VD\d)-(?:[0-9A-Z]+-)*\d{1,6}-\d{2}$"),
)


def normalize_code(value: str) -> str:
    """The comparison key of a national code or registration number: NFC, upper case, one
    canonical ``Đ`` (U+0110) for its look-alikes, ASCII hyphens, no whitespace.

    Never raises for a string; use :func:`parse_registration_number` to also check the format.
    """
    text = unicodedata.normalize("NFC", value).translate(_D_LOOKALIKES).upper()
    return _SPACES.sub("", text.translate(_D_LOOKALIKES).translate(_DASHES))


def normalize_registration_number(value: str) -> str:
    """A registration number in canonical form (see :func:`normalize_code`), unchecked."""
    return normalize_code(value)


def is_registration_number(value: str) -> bool:
    """True when ``value``, once normalised, has one of the registration-number formats of
    docs/identifiers.md (old ``VD-/VN-/VN2-/GC-/VS-/QLĐB-/QLSP-…-YY``, traditional
    ``VNNN-HNN-YY``, or the 12-digit form)."""
    key = normalize_code(value)
    return any(pattern.match(key) for pattern in _REGISTRATION_PATTERNS)


def parse_registration_number(value: str) -> str:
    """Normalise a registration number and check its format.

    Returns:
        The canonical form (e.g. ``" vd-32243-19 "`` → ``"VD-32243-19"``,
        ``"QLÐB-613-17"`` with U+00D0 → ``"QLĐB-613-17"`` with U+0110).

    Raises:
        InvalidIdentifier: empty, or not in any known registration-number format.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidIdentifier(str(value), "a registration number is required")
    key = normalize_code(value)
    if not any(pattern.match(key) for pattern in _REGISTRATION_PATTERNS):
        raise InvalidIdentifier(value, "not a registration number format (e.g. VD-32243-19, "
                                       "VN2-454-16, V268-H12-13 or 12 digits)")
    return key
