"""Case- and diacritics-insensitive text: ``thuốc`` and ``THUOC`` fold to the same ``thuoc``.

Used for search tokens (in memory and in the ``search_tokens`` array stored in MongoDB, which
has no text index here: EMBEDDED-DB.md) and for comparing units and dosage forms.
"""

from __future__ import annotations

import re
import unicodedata

_TOKEN = re.compile(r"[a-z0-9]+")
_WHITESPACE = re.compile(r"\s+")
_DECIMAL_COMMA = re.compile(r"(?<=\d),(?=\d)")
# Letters NFD does not decompose into a base letter plus marks.
_SPECIAL = str.maketrans({"đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "ß": "ss", "æ": "ae",
                          "ø": "o", "ł": "l", "µ": "u", "μ": "u"})


def fold(text: str) -> str:
    """Lower case without diacritics: ``"Thuốc Đông dược"`` → ``"thuoc dong duoc"``."""
    decomposed = unicodedata.normalize("NFD", text.translate(_SPECIAL))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.translate(_SPECIAL).lower()


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
