"""Folding text for search and comparisons."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from drug_catalog.text import _slow_fold, compact, fold, same_text, tokens


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
