"""The compiled loader (``load_shape``) gives exactly what the marshmallow schemas give."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from schemas.document import (
    FIELD_ORDER,
    LIST_ITEM_FIELDS,
    PRESCRIPTION_SCHEMA,
    load_shape,
    parse_national_date,
    parse_prescribed_at,
)
from tests.support.schema_strategies import SCHEMAS, Case, prescriptions

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=False),
                    st.text(max_size=12), st.sampled_from(["01/02/2026", "2026-02-01", "J069",
                                                           "2026-11-23 10:00:00", {"$gt": ""}]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)


def marshmallow_load(data: Any) -> tuple[dict[str, Any], Any]:
    try:
        return PRESCRIPTION_SCHEMA.load(data), {}
    except ValidationError as error:
        return error.valid_data or {}, error.messages


def _has_null_items(data: dict[str, Any]) -> bool:
    # marshmallow's List drops a null item from its valid data (shifting later positions);
    # the compiled loader keeps an empty placeholder so positions stay pointers.
    return any(isinstance(data.get(name), list) and None in data[name] for name in LIST_ITEM_FIELDS)


@settings(SCHEMAS, max_examples=100)
@given(data=st.data())
def test_the_compiled_loader_agrees_with_marshmallow(data: st.DataObject) -> None:
    case: Case = data.draw(prescriptions())
    doc = case.doc
    for _ in range(data.draw(st.integers(0, 4))):
        where = data.draw(st.sampled_from(["top", "item", "drop", "unknown"]))
        if where == "top":
            doc[data.draw(st.sampled_from(FIELD_ORDER))] = data.draw(values)
        elif where == "item":
            container = data.draw(st.sampled_from(sorted(LIST_ITEM_FIELDS)))
            items = doc.get(container)
            if isinstance(items, list) and items:
                target = items[0]
                if isinstance(target, dict):
                    target[data.draw(st.sampled_from(LIST_ITEM_FIELDS[container]))] = data.draw(values)
                else:
                    items[0] = data.draw(values)
        elif where == "drop":
            doc.pop(data.draw(st.sampled_from(FIELD_ORDER)), None)
        else:
            doc[data.draw(st.text(min_size=1, max_size=8))] = data.draw(values)
    fast_valid, fast_errors = load_shape(doc)
    slow_valid, slow_errors = marshmallow_load(doc)
    assert fast_errors == slow_errors
    if not _has_null_items(doc):
        assert fast_valid == slow_valid


def test_a_null_item_keeps_the_positions_of_the_next_ones() -> None:
    valid, errors = load_shape({"thong_tin_don_thuoc": [None, {"ma_thuoc": "X"}]})
    assert valid["thong_tin_don_thuoc"] == [{}, {"ma_thuoc": "X"}]
    assert 0 in errors["thong_tin_don_thuoc"] and 1 in errors["thong_tin_don_thuoc"]


def test_date_parsing() -> None:
    assert str(parse_national_date("5/3/2026")) == "2026-03-05"
    assert str(parse_national_date("2026-03-05")) == "2026-03-05"
    for bad in ("2026-3-5", "05/03/26", "31/04/2026", "05.03.2026", " ", "1" * 100):
        assert parse_national_date(bad) is None, bad
    assert parse_prescribed_at("2026-11-23 10:00:00").isoformat() == "2026-11-23T10:00:00"
    assert parse_prescribed_at("2026-11-23T10:00:00.5+07:00").isoformat() == \
        "2026-11-23T10:00:00.500000+07:00"
    assert parse_prescribed_at("2026-11-23T03:00Z").isoformat() == "2026-11-23T03:00:00+00:00"
    for bad in ("2026-11-23", "23/11/2026 10:00:00", "2026-11-23 10:00:00+25:00", "2026-02-30 10:00:00"):
        assert parse_prescribed_at(bad) is None, bad
