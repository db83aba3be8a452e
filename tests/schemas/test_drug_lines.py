"""Drug-line rules against a small hand-made catalog: measured units, ambiguous and mistyped
identifiers (the demo catalog has no measured-unit medicine and no shared identifier)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from drug_catalog.catalog import CatalogIndex
from drug_catalog.identifiers import gtin_check_digit
from drug_catalog.model import Drug
from schemas.validation import validate_prescription
from tests.support.schema_strategies import FACILITY, LOCAL, NOW, POLICY, dmy


def drug(code: str, registration: str, gtin_body: str, unit: str, **extra: Any) -> Drug:
    return Drug.from_dict({
        "national_code": code, "registration_number": registration,
        "gtins": [gtin_body + str(gtin_check_digit(gtin_body))], "name": extra.pop("name", "Siro ho"),
        "active_ingredients": [{"name": "Dextromethorphan", "strength": "15mg/5ml"}],
        "unit": unit, "kind": "chemical", "prescription_only": True, "control_class": "none",
        "status": "active", **extra})


CATALOG = CatalogIndex([
    drug("SYRUP1", "VD-10001-20", "893000000101", "ml"),
    drug("TAB1", "VD-10002-20", "893000000102", "Viên"),
    # two national codes registered under one number: the number alone is ambiguous
    drug("SHARED1", "VD-10003-20", "893000000103", "Viên"),
    drug("SHARED2", "VD-10003-20", "893000000104", "Viên"),
])


def prescription(*lines: dict[str, Any]) -> dict[str, Any]:
    prescribed = (NOW - timedelta(hours=2)).astimezone(LOCAL)
    return {
        "loai_don_thuoc": "c", "ma_don_thuoc": f"{FACILITY}ABCDEFG-c", "ho_ten_benh_nhan": "Lê Văn C",
        "ma_dinh_danh_y_te": "YT-1", "ngay_sinh_benh_nhan": "02/02/1985", "gioi_tinh": 2,
        "chan_doan": [{"ma_chan_doan": "R05"}],
        "dot_dung_thuoc": [{"tu_ngay": dmy(prescribed.date()), "den_ngay": dmy(prescribed.date() + timedelta(days=4))}],
        "thong_tin_don_thuoc": list(lines),
        "ngay_gio_ke_don": prescribed.strftime("%Y-%m-%d %H:%M:%S"),
    }


def line(ma_thuoc: str, unit: str, quantity: Any) -> dict[str, Any]:
    return {"ma_thuoc": ma_thuoc, "ten_thuoc": "Dextromethorphan 15mg/5ml", "don_vi_tinh": unit,
            "so_luong": quantity, "cach_dung": "Uống 5 ml x 3 lần/ngày"}


def check(doc: dict[str, Any]) -> set[tuple[str, str]]:
    result = validate_prescription(doc, catalog=CATALOG, policy=POLICY, facility_code=FACILITY, now=NOW)
    return {(issue.pointer, issue.code) for issue in result.errors}


def test_a_measured_unit_allows_a_fractional_quantity() -> None:
    assert check(prescription(line("SYRUP1", "ML", 7.5))) == set()
    assert check(prescription(line("TAB1", "viên", 7.5))) == {("/thong_tin_don_thuoc/0/so_luong", "drug.quantity")}


@pytest.mark.parametrize("identifier,words", [
    ("VD-10003-20", "SHARED1, SHARED2"),  # ambiguous: names both products
    ("8930000001012", "kiểm tra"),        # GTIN-13 with a wrong check digit: a typo
    ("VD-99999-99", "không có trong danh mục"),
])
def test_identifier_problems_are_drug_unknown_with_a_message_that_says_which(identifier: str,
                                                                               words: str) -> None:
    doc = prescription(line(identifier, "Viên", 10))
    result = validate_prescription(doc, catalog=CATALOG, policy=POLICY, facility_code=FACILITY, now=NOW)
    [issue] = result.errors
    assert (issue.pointer, issue.code) == ("/thong_tin_don_thuoc/0/ma_thuoc", "drug.unknown")
    assert words in issue.message


def test_the_same_product_under_two_identifiers_is_a_duplicate_line() -> None:
    gtin = CATALOG.get("TAB1").gtins[0]  # type: ignore[union-attr]
    doc = prescription(line("TAB1", "Viên", 10), line(gtin, "Viên", 5))
    assert check(doc) == {("/thong_tin_don_thuoc/1/ma_thuoc", "drug.duplicate_line")}


def test_the_canonical_line_keeps_the_submitted_code_and_adds_the_national_one() -> None:
    doc = prescription(line("vd-10002-20", "viên", 10))
    result = validate_prescription(doc, catalog=CATALOG, policy=POLICY, facility_code=FACILITY, now=NOW)
    assert result.document is not None
    assert result.document["thong_tin_don_thuoc"][0]["ma_thuoc"] == "vd-10002-20"
    assert result.document["thong_tin_don_thuoc"][0]["national_code"] == "TAB1"
