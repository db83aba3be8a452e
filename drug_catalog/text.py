"""Case- and diacritics-insensitive text: ``thuốc`` and ``THUOC`` fold to the same ``thuoc``.

Used for the search index (``drug_catalog.catalog``) and for comparing units, dosage forms and
strengths; the one folding of the code base (``schemas`` compares units and rule words with
:func:`fold_phrase`), so that a text folds the same way everywhere: the micro sign of ``"µg"``
and the Greek mu of ``"μg"`` both become ``u``.
"""

from __future__ import annotations

import re
import unicodedata

_TOKEN = re.compile(r"[a-z0-9]+")
_WHITESPACE = re.compile(r"\s+")
_DECIMAL_COMMA = re.compile(r"(?<=\d),(?=\d)")
# Letters NFD does not decompose into a base letter plus marks.
_SPECIAL = {"đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "ß": "ss", "æ": "ae", "Æ": "ae",
            "ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "µ": "u", "μ": "u", "Ɖ": "d", "ɖ": "d"}


def _slow_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", "".join(_SPECIAL.get(ch, ch) for ch in text))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def _fold_table() -> dict[int, str | None]:
    # One translate() call folds every Latin letter with diacritics (all of Vietnamese) and
    # drops combining marks (NFD input), at C speed: the search index folds 60,000 names.
    table: dict[int, str | None] = {}
    for code in list(range(0x00C0, 0x0250)) + list(range(0x1E00, 0x1F00)):
        char = chr(code)
        folded = _slow_fold(char)
        if folded != char.lower():
            table[code] = folded
    for char, replacement in _SPECIAL.items():
        table[ord(char)] = replacement
    for code in range(0x0300, 0x0370):
        table[code] = None
    return table


_FOLD = _fold_table()


def fold(text: str) -> str:
    """Lower case without diacritics: ``"Thuốc Đông dược"`` → ``"thuoc dong duoc"``."""
    folded = text.translate(_FOLD).lower()
    return folded if folded.isascii() else _slow_fold(folded)


def fold_phrase(text: str) -> str:
    """:func:`fold` with each run of blanks made one space and none at either end: how units,
    dosage forms and rule words compare (``" Viên  NÉN "`` → ``"vien nen"``; ``"µg"``, ``"μg"``
    and ``"ug"`` all give ``"ug"``)."""
    return " ".join(fold(text).split())


def tokens(text: str) -> list[str]:
    """The folded words of ``text`` (letters and digits), in order: ``"Paracetamol 500mg"`` →
    ``["paracetamol", "500mg"]``."""
    return _TOKEN.findall(fold(text))


def compact(text: str) -> str:
    """Folded, without whitespace, decimal comma as a point: ``"6,25 mg"`` and ``"6.25MG"``
    both give ``"6.25mg"``. For comparing strengths regardless of spelling."""
    return _DECIMAL_COMMA.sub(".", _WHITESPACE.sub("", fold(text)))


def same_text(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ only in case, diacritics and spacing
    (``"viên"`` and ``"Vien"``)."""
    return " ".join(tokens(a)) == " ".join(tokens(b))
