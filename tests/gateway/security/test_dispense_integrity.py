"""Attack class: a pharmacy corrupts or inflates a prescription it knows the code of.

Probe findings: one Idempotency-Key reused on another prescription dispensed the same pack
twice; the national dispense report stored the pharmacy's fields as sent (objects, 200 kB
strings); 0.01 of a counted unit was accepted; repeated reports grew the document without bound.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from gateway.prescriptions.reports import _quantity as report_quantity
from schemas.quantities import as_number, decimal_places, exact, quantity_problem
from tests.support.catalog import load_demo_catalog
from tests.support.http import assert_problem
from tests.support.prescriptions import PARACETAMOL, dispense, gtin_of, issued, pack, prescription, submit


def test_a_key_reused_on_another_prescription_cannot_dispense_a_pack_twice(
        client: FlaskClient, world: dict[str, Any], database) -> None:
    gtin = gtin_of(world, PARACETAMOL)
    first, second = issued(client, world), issued(client, world)
    headers = world["h"]["pharmacy_1"]
    items = [{"line": 0, "so_luong_ban": 1, "packs": [pack(gtin, "ONCE-1")]}]
    assert dispense(client, headers, first, items, **{"Idempotency-Key": "k-1"}).status_code == 201
    again = dispense(client, headers, second, items, **{"Idempotency-Key": "k-1"})
    problem = assert_problem(again, 409, "serial-reused")
    assert problem["errors"][0]["code"] == "dispense.serial_reused"
    assert database["prescriptions"].find_one({"_id": second})["dispenses"] == []
    assert database["dispensed_packs"].count_documents({}) == 1
    # the same key on the first prescription is still a replay of the first dispense
    replay = dispense(client, headers, first, items, **{"Idempotency-Key": "k-1"})
    assert replay.status_code == 201 and replay.headers.get("Idempotent-Replayed") == "true"


@pytest.mark.parametrize("quantity", [0.01, 1.5, 1e-300, 10.000001, -1, 0, 10_001, "2", True, None,
                                      {"$gt": 0}, [1]])
def test_counted_units_take_whole_positive_numbers_only(client: FlaskClient, world: dict[str, Any],
                                                        database, quantity: Any) -> None:
    code = issued(client, world)
    response = dispense(client, world["h"]["pharmacy_1"], code,
                        [{"line": 0, "so_luong_ban": quantity}])
    problem = assert_problem(response, 422, "validation")
    assert [(e["pointer"], e["code"]) for e in problem["errors"]] == [
        ("/items/0/so_luong_ban", "dispense.quantity")]
    stored = database["prescriptions"].find_one({"_id": code})
    assert stored["dispenses"] == [] and stored["lines"][0]["dispensed"] == 0


def test_a_whole_float_is_stored_as_a_whole_number(client: FlaskClient, world: dict[str, Any],
                                                  database) -> None:
    code = issued(client, world)
    response = dispense(client, world["h"]["pharmacy_1"], code, [{"line": 0, "so_luong_ban": 3.0}])
    assert response.status_code == 201, response.get_json()
    line = response.get_json()["prescription"]["lines"][0]
    assert (line["dispensed"], line["remaining"]) == (3, 17)
    assert isinstance(database["prescriptions"].find_one({"_id": code})["lines"][0]["dispensed"], int)


@given(st.decimals(min_value=Decimal("0.001"), max_value=Decimal(10_000), places=3))
def test_measured_quantities_are_exact_decimals(amount: Decimal) -> None:
    value = float(amount)
    assert quantity_problem(value, measured=True, decimals=3, maximum=10_000) is None
    assert exact(value) == amount
    assert exact(as_number(exact(value))) == amount


@given(st.lists(st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100), places=2),
                min_size=1, max_size=30))
def test_sums_of_measured_quantities_never_drift(amounts: list[Decimal]) -> None:
    total = sum((exact(float(a)) for a in amounts), Decimal(0))
    assert total == sum(amounts, Decimal(0))
    assert repr(as_number(total)) in (str(total.normalize()), f"{total.normalize():f}",
                                      str(int(total)), repr(float(total)))
    assert decimal_places(exact(as_number(total))) <= 2


@pytest.mark.parametrize("value, measured, problem", [
    (1e-300, True, "tối đa 3 chữ số thập phân"), (0.0005, True, "tối đa 3 chữ số thập phân"),
    (0.5, False, "số nguyên"), (float("nan"), True, "hữu hạn"), (float("inf"), True, "hữu hạn"),
    (2.5, True, None), (0.125, True, None), (7, False, None),
])
def test_quantity_rule(value: float, measured: bool, problem: str | None) -> None:
    found = quantity_problem(value, measured=measured, decimals=3, maximum=10_000)
    assert (found is None) if problem is None else (problem in found)


def test_the_national_report_never_stores_the_pharmacy_fields_as_sent(
        client: FlaskClient, world: dict[str, Any], database) -> None:
    code = issued(client, world)
    headers = world["h"]["pharmacy_1"]
    hostile = {"ma_don_thuoc": code, "thong_tin_thuoc": [
        {"ma_thuoc_da_ke_don": PARACETAMOL, "so_luong_ban": 1}],
        "ten_co_so_cung_ung_thuoc": {"$set": "x"}, "dia_chi_co_so_cung_ung_thuoc": "x" * 200_000,
        "so_dien_thoai_co_so_cung_ung_thuoc": ["0900"]}
    answer = client.post("/api/v1/cap-nhat-don-thuoc", json=hostile, headers=headers)
    assert answer.status_code == 422
    errors = answer.get_json()["danh_sach_cac_loi"]
    assert sum("dispense.pharmacy_field" in error for error in errors) == 3
    other = dict(hostile, ten_co_so_cung_ung_thuoc="Nhà thuốc", dia_chi_co_so_cung_ung_thuoc="1 A",
                 so_dien_thoai_co_so_cung_ung_thuoc="0900000000",
                 ma_dinh_danh_co_so_cung_ung_thuoc="NT0002")
    refused = client.post("/api/v1/cap-nhat-don-thuoc", json=other, headers=headers)
    assert refused.status_code == 403
    assert "dispense.pharmacy_identity" in refused.get_json()["danh_sach_cac_loi"][0]
    assert database["prescriptions"].find_one({"_id": code})["dispenses"] == []
    accepted = client.post("/api/v1/cap-nhat-don-thuoc", headers=headers,
                           json=dict(other, ma_dinh_danh_co_so_cung_ung_thuoc="NT0001",
                                     ten_co_so_cung_ung_thuoc="Tên tự khai"))
    assert accepted.status_code == 200, accepted.get_json()
    stored = database["prescriptions"].find_one({"_id": code})
    assert "Tên tự khai" not in repr(stored) and "pharmacy_details" not in stored["dispenses"][0]


def test_dispenses_per_prescription_are_bounded(make_app, make_party, demo_catalog) -> None:
    app = make_app(RX_MAX_DISPENSES=3)
    client = app.test_client()
    load_demo_catalog(app)
    doctor = make_party("doctor", "BS009", facility="79009").headers(client)
    pharmacy = make_party("pharmacy", "NT0009").headers(client)
    created = submit(client, doctor, prescription())
    assert created.status_code == 201, created.get_json()
    code = created.get_json()["ma_don_thuoc"]
    for _ in range(3):
        assert dispense(client, pharmacy, code, [{"line": 0, "so_luong_ban": 1}]).status_code == 201
    problem = assert_problem(dispense(client, pharmacy, code, [{"line": 0, "so_luong_ban": 1}]),
                             409, "dispense-limit")
    assert problem["errors"][0]["code"] == "dispense.limit"


def test_scanned_packs_and_items_per_dispense_are_bounded(client: FlaskClient, world: dict[str, Any],
                                                          database) -> None:
    code = issued(client, world)
    gtin = gtin_of(world, PARACETAMOL)
    many = [pack(gtin, f"S{n}") for n in range(201)]
    problem = assert_problem(dispense(client, world["h"]["pharmacy_1"], code,
                                      [{"line": 0, "so_luong_ban": 1, "packs": many}]), 422, "validation")
    assert problem["errors"][0]["code"] == "dispense.packs_limit"
    items = [{"line": 0, "so_luong_ban": 1}] * 3
    problem = assert_problem(dispense(client, world["h"]["pharmacy_1"], code, items), 422, "validation")
    assert problem["errors"][0]["code"] == "dispense.items_limit"
    assert database["dispensed_packs"].count_documents({}) == 0


@given(st.lists(st.decimals(min_value=Decimal("0.001"), max_value=Decimal(10_000), places=3),
                min_size=1, max_size=50))
def test_report_sums_are_the_exact_decimal_sums(amounts: list[Decimal]) -> None:
    float_sum = 0.0
    for amount in amounts:  # as the database's $sum adds the stored floats
        float_sum += float(amount)
    assert exact(report_quantity(float_sum)) == sum(amounts, Decimal(0))
