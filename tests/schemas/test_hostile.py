"""Hostile input at the validator: wrong types everywhere, operator objects, huge strings,
non-object documents. Every one is an error of the field (or of the document), never a crash,
and never slow. (Deep nesting, non-UTF-8 bytes and the body-size limit are HTTP concerns,
answered 400/413 by gateway.http before the validator runs.)"""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.document import FIELD_ORDER, LIST_ITEM_FIELDS
from tests.support.schema_strategies import SCHEMAS, Case, prescriptions
from tests.support.schemas import validate

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10)
HOSTILE = st.sampled_from([{"$gt": ""}, {"$ne": None}, {"$where": "sleep(1000)"}, [], {}, None, True,
                           -1, 10**400, 1.5e308, "", "\x00", "A" * 200_000, ["$gt"]])


@pytest.mark.parametrize("raw", [None, [], [{}], "đơn thuốc", 42, 3.5, True, b"bytes"])
def test_a_document_that_is_not_an_object(raw: Any) -> None:
    result = validate(raw)
    assert [(i.pointer, i.code) for i in result.errors] == [("", "rx.field_type")]
    assert result.document is None


def test_an_empty_object_reports_every_required_field() -> None:
    result = validate({})
    assert {i.pointer for i in result.errors} >= {
        "/loai_don_thuoc", "/ho_ten_benh_nhan", "/ngay_sinh_benh_nhan", "/gioi_tinh",
        "/chan_doan", "/dot_dung_thuoc", "/thong_tin_don_thuoc", "/ngay_gio_ke_don"}


@settings(SCHEMAS, max_examples=80)
@given(data=st.data(), value=st.one_of(HOSTILE, json_values))
def test_any_value_in_any_field_is_an_error_of_that_field_or_accepted(data: st.DataObject,
                                                                      value: Any) -> None:
    case: Case = data.draw(prescriptions())
    where = data.draw(st.sampled_from(["top", "line", "diagnosis", "period"]))
    if where == "top":
        name = data.draw(st.sampled_from(FIELD_ORDER))
        case.doc[name] = value
        pointer = "/" + name
    else:
        container, index = {"line": ("thong_tin_don_thuoc", 0), "diagnosis": ("chan_doan", 0),
                            "period": ("dot_dung_thuoc", 0)}[where]
        name = data.draw(st.sampled_from(LIST_ITEM_FIELDS[container]))
        case.doc[container][index][name] = value
        pointer = f"/{container}/{index}/{name}"
    result = validate(case.doc)
    assert result.document is not None or result.errors
    for issue in result.errors:
        assert issue.message and isinstance(issue.message, str)
        assert issue.code.split(".")[0] in ("patient", "rx", "drug", "control", "supply")
    if result.errors and where != "period" and name not in ("ngay_gio_ke_don", "loai_don_thuoc"):
        # a bad value is pinned on its field (dates and the type also feed other rules)
        # (an object where dot_dung_thuoc belongs is the single-period form: issues inside it)
        assert any(issue.pointer == pointer or issue.pointer.startswith(pointer + "/")
                   for issue in result.errors), result.errors


@settings(SCHEMAS, max_examples=60)
@given(st.dictionaries(st.text(max_size=30), json_values, max_size=30))
def test_random_objects_never_crash(raw: dict[str, Any]) -> None:
    result = validate(raw)
    assert result.document is None
    assert result.errors


@given(st.sampled_from(FIELD_ORDER), st.sampled_from(["x", "9", "đ", " ", "\u0301"]))
@settings(SCHEMAS, max_examples=30)
def test_megabyte_strings_are_refused_quickly(name: str, char: str) -> None:
    doc = dict.fromkeys(FIELD_ORDER, char * 1000000)
    doc["thong_tin_don_thuoc"] = [{"ma_thuoc": char * 1_000_000, "don_vi_tinh": char * 1_000_000,
                                   "so_luong": 1, "cach_dung": "x", "ten_thuoc": char * 1_000_000}]
    doc["chan_doan"] = [{"ma_chan_doan": char * 1_000_000, "ten_chan_doan": char * 1_000_000}]
    doc["dot_dung_thuoc"] = [{"tu_ngay": char * 1_000_000, "den_ngay": "01/01/2026"}]
    doc[name] = char * 1_000_000
    # CPU time of this process, not the wall clock: other work on the machine does not count.
    started = time.process_time()
    result = validate(doc)
    elapsed = time.process_time() - started
    assert result.errors and result.document is None
    assert elapsed < 5, elapsed  # generous: a quadratic path would take minutes


@pytest.mark.parametrize("name,limit", [("thong_tin_don_thuoc", 50), ("chan_doan", 50),
                                        ("dot_dung_thuoc", 50)])
def test_huge_lists_are_refused_without_reading_every_item(name: str, limit: int) -> None:
    items: Any = [{"ma_thuoc": "VD-35053-20"}] * 200_000
    result = validate({name: items})
    codes = {"thong_tin_don_thuoc": "rx.lines_required", "chan_doan": "rx.diagnosis_required",
             "dot_dung_thuoc": "rx.period"}
    assert ("/" + name, codes[name]) in {(i.pointer, i.code) for i in result.errors}
    item_issues = [i for i in result.errors if i.pointer.startswith(f"/{name}/")]
    assert item_issues and max(int(i.pointer.split("/")[2]) for i in item_issues) < limit


def test_fifty_one_lines_are_too_many() -> None:
    lines = [{"ma_thuoc": "VD-35053-20", "don_vi_tinh": "Viên", "so_luong": 1, "cach_dung": "x"}] * 51
    result = validate({"thong_tin_don_thuoc": lines})
    assert ("/thong_tin_don_thuoc", "rx.lines_required") in {(i.pointer, i.code) for i in result.errors}


def test_operator_objects_in_every_string_field() -> None:
    doc: dict[str, Any] = {name: {"$gt": ""} for name in FIELD_ORDER}
    result = validate(doc)
    pointers = {issue.pointer for issue in result.errors}
    for name in FIELD_ORDER:  # a single object is a treatment period: its issues are inside it
        assert any(p == "/" + name or p.startswith(f"/{name}/") for p in pointers), name
    assert ("/dot_dung_thuoc/$gt", "rx.unknown_field") in {(i.pointer, i.code) for i in result.errors}
    assert result.document is None
