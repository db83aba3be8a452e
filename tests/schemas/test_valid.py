"""Every generated valid prescription is accepted; its canonical document is JSON-only,
deterministic, and the same for every variant real clients send."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime

import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from schemas.national import CANONICAL_ORDER, to_national
from schemas.validation import dispensable_until
from tests.support.schema_strategies import FACILITY, POLICY, SCHEMAS, Case, prescriptions, variant_of
from tests.support.schemas import validate


def _json_only(value: object) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_only(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_only(item) for item in value)
    return value is None or isinstance(value, (str, int, float, bool))


@SCHEMAS
@given(prescriptions())
def test_generated_prescriptions_are_accepted(case: Case) -> None:
    submitted = copy.deepcopy(case.doc)
    result = validate(case.doc)
    assert result.errors == [], result.errors
    assert result.warnings == []
    assert result.valid and result.document is not None
    assert case.doc == submitted  # the validator does not touch its input
    doc = result.document
    assert _json_only(doc)
    assert list(doc) == [name for name in CANONICAL_ORDER if name in doc]
    assert "signature" not in doc and "ma_so_bao_hiem_y_te" not in doc
    assert doc["ma_don_thuoc"].startswith(FACILITY) and doc["ma_don_thuoc"].endswith("-" + case.loai)
    assert result.code_generated == ("ma_don_thuoc" not in case.doc)
    assert [line["national_code"] for line in doc["thong_tin_don_thuoc"]] == \
        [drug.national_code for drug in case.drugs]
    assert doc["ngay_sinh_benh_nhan"] == case.birth.isoformat()
    assert datetime.fromisoformat(doc["ngay_gio_ke_don"]) == case.prescribed
    assert all(period["dot"] == index + 1 for index, period in enumerate(doc["dot_dung_thuoc"]))
    assert json.loads(rfc8785.dumps(doc)) == doc


@SCHEMAS
@given(prescriptions())
def test_validation_is_deterministic(case: Case) -> None:
    case.doc.setdefault("ma_don_thuoc", FACILITY + "ABCDEFG-" + case.loai)
    first, second = validate(case.doc), validate(copy.deepcopy(case.doc))
    assert rfc8785.dumps(first.document) == rfc8785.dumps(second.document)


@SCHEMAS
@given(st.data())
def test_client_variants_normalise_to_the_same_canonical_document(data: st.DataObject) -> None:
    case = data.draw(prescriptions())
    case.doc.setdefault("ma_don_thuoc", FACILITY + "VARIANT-" + case.loai)
    expected = validate(case.doc).document
    assert expected is not None
    variant = data.draw(variant_of(case))
    result = validate(variant)
    assert result.errors == [], (variant, result.errors)
    assert result.document == expected
    assert rfc8785.dumps(result.document) == rfc8785.dumps(expected)


@SCHEMAS
@given(prescriptions())
def test_national_document_round_trips(case: Case) -> None:
    case.doc.setdefault("ma_don_thuoc", FACILITY + "ROUNDTR-" + case.loai)
    canonical = validate(case.doc).document
    assert canonical is not None
    national = to_national(canonical, signature="sig")
    assert "national_code" not in json.dumps(national)
    again = validate(national)
    assert again.signature == "sig"
    expected = {k: v for k, v in canonical.items() if k != "ma_co_so_cung_ung_thuoc_chi_dinh"}
    assert again.document == expected


def test_documented_variants_by_example() -> None:
    """The variants of docs/national-api.md, one by one, on a fixed prescription."""
    base = {
        "loai_don_thuoc": "c", "ma_don_thuoc": "79001ABC1234-c", "ho_ten_benh_nhan": "Nguyễn Văn An",
        "ma_dinh_danh_cong_dan": "079090001234", "ngay_sinh_benh_nhan": "15/03/1990",
        "gioi_tinh": 2, "ma_so_the_bao_hiem_y_te": "DN4790123456789",
        "chan_doan": [{"ma_chan_doan": "J06.9", "ten_chan_doan": "Viêm họng cấp"}],
        "dot_dung_thuoc": [{"dot": 1, "tu_ngay": "20/11/2026", "den_ngay": "24/11/2026"}],
        "thong_tin_don_thuoc": [{"ma_thuoc": "VD-35053-20", "ten_thuoc": "Paracetamol 500mg",
                                 "don_vi_tinh": "Viên", "so_luong": 10, "cach_dung": "Uống 1 viên khi sốt"}],
        "ngay_tai_kham": 7, "ngay_gio_ke_don": "2026-11-20 09:15:00", "signature": "",
    }
    expected = validate(base).document
    assert expected is not None, validate(base).errors
    assert expected["ngay_gio_ke_don"] == "2026-11-20T09:15:00+07:00"
    assert expected["chan_doan"][0]["ma_chan_doan"] == "J06.9"
    variants = []
    v = dict(base)
    v["ma_so_bao_hiem_y_te"] = v.pop("ma_so_the_bao_hiem_y_te")
    variants.append(v)
    variants.append({**base, "dot_dung_thuoc": {"tu_ngay": "20/11/2026", "den_ngay": "24/11/2026"}})
    variants.append({**base, "ngay_sinh_benh_nhan": "1990-03-15"})
    variants.append({**base, "ngay_tai_kham": "27/11/2026"})
    variants.append({**base, "ngay_tai_kham": "2026-11-27"})
    variants.append({k: val for k, val in base.items() if k != "signature"})
    variants.append({**base, "chan_doan": [{"ma_chan_doan": "J069", "ten_chan_doan": "Viêm họng cấp"}]})
    variants.append({**base, "ngay_gio_ke_don": "2026-11-20T02:15:00Z"})
    for variant in variants:
        result = validate(variant)
        assert result.errors == [], (variant, result.errors)
        assert result.document == expected, variant


@SCHEMAS
@given(prescriptions(), st.text(max_size=300))
def test_signature_is_returned_separately(case: Case, signature: str) -> None:
    case.doc.setdefault("ma_don_thuoc", FACILITY + "SIGNATU-" + case.loai)
    unsigned = validate(case.doc).document
    case.doc["signature"] = signature
    result = validate(case.doc)
    assert result.signature == signature
    assert result.document == unsigned  # the canonical document never depends on it


def test_dispensable_until() -> None:
    doc = {"loai_don_thuoc": "c", "ngay_gio_ke_don": "2026-11-20T09:15:00+07:00",
           "dot_dung_thuoc": [{"dot": 1, "tu_ngay": "2026-11-20", "den_ngay": "2026-11-24"},
                              {"dot": 2, "tu_ngay": "2026-11-25", "den_ngay": "2026-12-19"}]}
    assert dispensable_until(doc, POLICY).isoformat() == "2026-12-19T23:59:59+07:00"
    assert dispensable_until({**doc, "loai_don_thuoc": "n"}, POLICY).isoformat() == \
        "2026-11-25T09:15:00+07:00"
    no_window = type(POLICY)(controlled_dispense_days=0)
    assert dispensable_until({**doc, "loai_don_thuoc": "h"}, no_window).date() == date(2026, 12, 19)
