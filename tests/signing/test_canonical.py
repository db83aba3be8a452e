"""RFC 8785 canonical form: the laws the signatures rely on, and the refused values."""

from __future__ import annotations

import hashlib
import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signing.canonical import canonicalize, content_sha256
from signing.errors import CanonicalizationError
from tests.support.json_strategies import json_objects, json_values


def shuffled(value):
    """The same JSON value with every object's keys in another order."""
    if isinstance(value, dict):
        items = list(value.items())
        random.Random(len(items)).shuffle(items)
        return {key: shuffled(item) for key, item in reversed(items)}
    if isinstance(value, list):
        return [shuffled(item) for item in value]
    return value


@given(json_objects)
def test_key_order_does_not_change_the_canonical_form(document):
    assert canonicalize(shuffled(document)) == canonicalize(document)


@given(json_values)
def test_canonical_form_is_a_fixed_point(value):
    once = canonicalize(value)
    assert canonicalize(json.loads(once)) == once


@given(st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1))
def test_number_spelling_does_not_change_the_canonical_form(number):
    spellings = [str(number), f"{number}.0", f"{number}.000", repr(float(number))]
    digits = len(str(abs(number)))
    spellings.append(f"{number:.{digits - 1}e}")  # 1234 -> 1.234e+03
    forms = {canonicalize(json.loads(f'{{"so_luong": {spelling}}}')) for spelling in spellings}
    assert forms == {f'{{"so_luong":{number}}}'.encode()}


def test_rfc8785_examples():
    # RFC 8785 section 3.2.2 and 3.2.3: number serialisation and sorting by UTF-16 code units.
    assert canonicalize(json.loads('{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, '
                                   '0.000000000000000000000000001]}')) == \
        b'{"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27]}'
    assert canonicalize({"\u20ac": 1, "\r": 2, "\U0001F600": 3, "1": 4, "\u00f6": 5}) == \
        '{"\\r":2,"1":4,"ö":5,"€":1,"😀":3}'.encode()


def test_vietnamese_text_is_utf8_not_escaped():
    assert canonicalize({"ho_ten_benh_nhan": "Nguyễn Thị Hồng"}) == \
        '{"ho_ten_benh_nhan":"Nguyễn Thị Hồng"}'.encode()


def test_content_sha256_is_the_hex_digest_of_the_canonical_bytes():
    document = {"b": [1, 2.0], "a": "x"}
    assert content_sha256(document) == hashlib.sha256(b'{"a":"x","b":[1,2]}').hexdigest()
    assert content_sha256({"a": "x", "b": [1.0, 2]}) == content_sha256(document)


@pytest.mark.parametrize("value, words", [
    ({"x": float("nan")}, "nan"),
    ({"x": float("inf")}, "inf"),
    ({"x": 2**53}, "safe integer"),
    ({1: "x"}, "keys must be strings"),
    ({"x": b"bytes"}, "unsupported type"),
    ({"x": object()}, "unsupported type"),
    ({"x": "\ud83d"}, "UTF-8"),  # a lone UTF-16 surrogate is not Unicode text
    ({"\ud83d": 1}, "surrogates"),
])
def test_values_without_a_canonical_form_are_refused(value, words):
    with pytest.raises(CanonicalizationError, match=words):
        canonicalize(value)
    with pytest.raises(CanonicalizationError):
        content_sha256(value)
