"""Text helpers shared by the rules: Unicode normalisation and rule words (the folding itself is
:func:`drug_catalog.text.fold_phrase`, the one folding of the code base)."""

from __future__ import annotations

import re
import unicodedata

from drug_catalog.text import fold_phrase

_NON_WORD = re.compile(r"[^0-9a-z]+")


def clean(text: str) -> str:
    """Surrounding blanks removed, NFC (Vietnamese text arrives in NFC and NFD). Raises nothing."""
    text = text.strip()
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text


def words(text: str) -> str:
    """:func:`fold_phrase` with punctuation turned into single spaces, padded: ``" amoxicilin 500mg "``."""
    return " " + _NON_WORD.sub(" ", fold_phrase(text)).strip() + " "
