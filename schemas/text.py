"""Text helpers shared by the rules: Unicode normalisation and insensitive comparison."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^0-9a-z]+")


def clean(text: str) -> str:
    """Surrounding blanks removed, NFC (Vietnamese text arrives in NFC and NFD). Raises nothing."""
    text = text.strip()
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text


def fold(text: str) -> str:
    """Case- and diacritics-insensitive form: ``"Viên"`` and ``"VIEN"`` both give ``"vien"``.

    ``đ``/``Đ`` (and the look-alike ``Ð``) fold to ``d``; runs of blanks become one space.
    Raises nothing.
    """
    decomposed = unicodedata.normalize("NFD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    stripped = stripped.replace("đ", "d").replace("ð", "d")
    return _SPACES.sub(" ", stripped).strip()


def words(text: str) -> str:
    """:func:`fold` with punctuation turned into single spaces, padded: ``" amoxicilin 500mg "``."""
    return " " + _NON_WORD.sub(" ", fold(text)).strip() + " "
