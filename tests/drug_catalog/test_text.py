"""Folding text for search and comparisons."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from drug_catalog.text import _slow_fold, compact, fold, fold_phrase, same_text, tokens
from schemas.policy import Policy
from schemas.text import words


def test_vietnamese_folds_to_ascii() -> None:
    assert fold("Thuốc Đông dược HOẠT HUYẾT DƯỠNG NÃO") == "thuoc dong duoc hoat huyet duong nao"
    assert fold(unicodedata.normalize("NFD", "Điều kinh Ích Mẫu")) == "dieu kinh ich mau"
    assert tokens("Paracetamol 500mg; (dưới dạng …)") == ["paracetamol", "500mg", "duoi", "dang"]


@settings(deadline=None)
@given(st.text())
def test_the_fast_fold_agrees_with_unicode_decomposition_on_latin_text(text: str) -> None:
    latin = "".join(ch for ch in text if ch < "\u0250" or "\u1e00" <= ch < "\u1f00")
    assert fold(latin) == _slow_fold(latin) or not _slow_fold(latin).isascii()


def test_units_and_strengths_compare_loosely() -> None:
    assert same_text("Viên", " vien ")
    assert not same_text("Viên", "Viên nang")
    assert compact("6,25 mg") == compact("6.25MG") == "6.25mg"
    assert compact("62,5mg") != compact("6,25mg")


def test_micro_folds_the_same_way_everywhere() -> None:
    """Regression: schemas folded ``"µg"`` (micro sign) to ``"μg"`` (Greek mu, by casefold)
    while the catalog folded it to ``"ug"``; there is now one folding, and it gives ``"ug"``."""
    for spelling in ("µg", "μg", "ug", "UG", " µg ", "ΜG"):
        assert fold_phrase(spelling) == "ug", spelling
    assert fold("µg") == fold("μg") == "ug"
    assert words("5 µg/ml") == words("5 μg/ML") == " 5 ug ml "
    assert same_text("µg", "ug") and compact("12,5 µg") == "12.5ug"


def test_fold_phrase_squeezes_blanks() -> None:
    assert fold_phrase("  Viên\t NÉN  ") == "vien nen"
    assert fold_phrase(unicodedata.normalize("NFD", "Ống  Đơn")) == "ong don"


def test_a_measured_unit_is_known_in_any_spelling_of_micro() -> None:
    policy = Policy(measured_units=("µg", "ML"))
    assert all(policy.is_measured_unit(fold_phrase(unit)) for unit in ("ug", "μg", "µg", " ml"))
    assert not policy.is_measured_unit(fold_phrase("mg"))
