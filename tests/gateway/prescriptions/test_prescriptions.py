"""The prescription lifecycle end to end over HTTP: submit, read, list, dispense, cancel,
idempotent retries, concurrency, scanned packs, access rules, and the national endpoints."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.web.context import services
from tests.support.audit import audit_log
from tests.support.http import assert_problem, wait_until_expired
from tests.support.prescriptions import (
    AMOXICILLIN,
    PARACETAMOL,
    PARACETAMOL_TWIN,
    SUSPENDED_TWIN,
    VIETNAM,
    dispense,
    gtin_of,
    issued,
    pack,
    prescription,
    submit,
)


# --- submit -------------------------------------------------------------------------------
def test_submit_validates_signs_and_stores(client: FlaskClient, world: dict, database) -> None:
    response = submit(client, world["h"]["doctor_a"])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    code = body["ma_don_thuoc"]
    assert code.startswith("79001") and code.endswith("-c") and len(code) == 14
    assert response.headers["Location"].endswith(f"/v2/prescriptions/{code}")
    assert body["status"] == "issued"
    assert [line["remaining"] for line in body["lines"]] == [20, 14]
    assert body["lines"][0]["ma_thuoc"] == PARACETAMOL
    assert body["signature"]["alg"] == "EdDSA" and body["signature"]["jws"].count(".") == 2
    assert body["issued_at"].endswith("+07:00")
    verified = client.post("/v2/signatures/verify", headers=world["h"]["pharmacy_1"],
                           json={"prescription": body["prescription"],
                                 "jws": body["signature"]["jws"]})
    assert verified.get_json()["valid"] is True
    stored = database["prescriptions"].find_one({"_id": code})
    assert stored["version"] == 1 and stored["facility"] == "79001"
    assert [d["target"] for d in stored["deliveries"]] == ["registry"]
    assert stored["patient"] and "079090001234" not in str(stored["patient"])


def test_invalid_prescription_reports_every_problem_and_stores_nothing(
        client: FlaskClient, world: dict, database) -> None:
    body = prescription(drugs=[("NO-SUCH-DRUG", 5), (PARACETAMOL, 0)], gioi_tinh=7,
                        chan_doan=[{"ma_chan_doan": "Q99.99", "ten_chan_doan": "x",
                                    "ket_luan": "x"}])
    problem = assert_problem(submit(client, world["h"]["doctor_a"], body), 422, "validation")
    codes = {(e["code"], e["pointer"]) for e in problem["errors"]}
    assert ("drug.unknown", "/thong_tin_don_thuoc/0/ma_thuoc") in codes
    assert ("drug.quantity", "/thong_tin_don_thuoc/1/so_luong") in codes
    assert ("patient.sex", "/gioi_tinh") in codes
    assert ("rx.icd10", "/chan_doan/0/ma_chan_doan") in codes
    assert database["prescriptions"].count_documents({}) == 0
    refused = audit_log(database).find_one({"action": "prescription.refused"})
    assert refused["outcome"] == "failure" and "drug.unknown" in refused["details"]["codes"]
    assert "Nguyễn" not in str(refused)


def test_prescription_code_of_another_facility_is_refused(client: FlaskClient,
                                                          world: dict) -> None:
    body = prescription(ma_don_thuoc="01002ABCDEFG-c")
    problem = assert_problem(submit(client, world["h"]["doctor_a"], body), 422, "validation")
    assert {"rx.code_facility"} <= {e["code"] for e in problem["errors"]}


def test_resubmitting_a_code(client: FlaskClient, world: dict, database) -> None:
    body = prescription(ma_don_thuoc="79001ABC1234-c")
    first = submit(client, world["h"]["doctor_a"], body)
    again = submit(client, world["h"]["clinic_a"], body)
    assert first.status_code == again.status_code == 201
    assert again.get_json()["signature"] == first.get_json()["signature"]
    changed = submit(client, world["h"]["doctor_a"], {**body, "loi_dan": "Khác"})
    problem = assert_problem(changed, 409, "prescription-exists")
    assert problem["errors"][0]["code"] == "rx.code_exists"
    assert database["prescriptions"].count_documents({}) == 1


def test_idempotency_key_replays_the_first_answer(client: FlaskClient, world: dict,
                                                  database) -> None:
    body = prescription()  # no ma_don_thuoc: a retry without the key would make a second one
    key = {"Idempotency-Key": "submit-7f3a"}
    first = submit(client, world["h"]["doctor_a"], body, **key)
    # The client timed out before reading the first answer and sends the request again.
    retry = submit(client, world["h"]["doctor_a"], body, **key)
    assert first.status_code == retry.status_code == 201
    assert retry.get_json() == first.get_json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert database["prescriptions"].count_documents({}) == 1
    other = submit(client, world["h"]["doctor_a"], prescription(loi_dan="khác"), **key)
    assert_problem(other, 409, "idempotency-key-reused")
    # Keys are per party: another party's identical key is a different request.
    third = submit(client, world["h"]["clinic_a"], body, **key)
    assert third.status_code == 201
    assert database["prescriptions"].count_documents({}) == 2
    assert_problem(submit(client, world["h"]["doctor_a"], body, **{"Idempotency-Key": "a b"}),
                   400, "malformed")


# --- access --------------------------------------------------------------------------------
ACCESS_TABLE = [
    # (who, method, path template, expected status)
    ("doctor_a", "GET", "/v2/prescriptions/{code}", 200),
    ("clinic_a", "GET", "/v2/prescriptions/{code}", 200),
    ("clinic_b", "GET", "/v2/prescriptions/{code}", 403),
    ("pharmacy_1", "GET", "/v2/prescriptions/{code}", 200),
    ("regulator", "GET", "/v2/prescriptions/{code}", 200),
    ("admin", "GET", "/v2/prescriptions/{code}", 403),
    ("clinic_a", "GET", "/v2/prescriptions", 200),
    ("clinic_b", "GET", "/v2/prescriptions?facility=79001", 403),
    ("pharmacy_1", "GET", "/v2/prescriptions", 403),
    ("regulator", "GET", "/v2/prescriptions", 200),
    ("regulator", "POST", "/v2/prescriptions", 403),
    ("pharmacy_1", "POST", "/v2/prescriptions", 403),
    ("regulator", "POST", "/v2/prescriptions/{code}/cancel", 403),
    ("clinic_b", "POST", "/v2/prescriptions/{code}/cancel", 403),
    ("pharmacy_1", "POST", "/v2/prescriptions/{code}/cancel", 403),
    ("clinic_a", "POST", "/v2/prescriptions/{code}/dispenses", 403),
    ("regulator", "POST", "/v2/prescriptions/{code}/dispenses", 403),
    ("anonymous", "GET", "/v2/prescriptions/{code}", 401),
]


@pytest.mark.parametrize("who, method, template, expected", ACCESS_TABLE)
def test_access_rules(client: FlaskClient, world: dict, who: str, method: str, template: str,
                      expected: int) -> None:
    code = issued(client, world)
    headers = world["h"].get(who, {})
    body = {"POST": {"/v2/prescriptions": prescription(),
                     "/v2/prescriptions/{code}/cancel": {"ly_do": "test"},
                     "/v2/prescriptions/{code}/dispenses": {"items": [{"line": 0,
                                                                       "so_luong_ban": 1}]}}}
    payload = body.get(method, {}).get(template)
    response = client.open(template.format(code=code), method=method, json=payload,
                           headers=headers)
    assert response.status_code == expected, response.get_json()


def test_expired_and_disabled_tokens(make_app, app: Flask, client: FlaskClient,
                                     world: dict) -> None:
    code = issued(client, world)
    pharmacy = world["parties"]["pharmacy_1"]
    with app.app_context():
        services().parties.set_status(pharmacy.client_id, "disabled")
    assert_problem(client.get(f"/v2/prescriptions/{code}", headers=world["h"]["pharmacy_1"]),
                   401, "unauthenticated")
    short = make_app(TOKEN_TTL_SECONDS=1)
    short_client = short.test_client()
    headers = world["parties"]["regulator"].headers(short_client)
    wait_until_expired(headers)
    assert_problem(short_client.get(f"/v2/prescriptions/{code}", headers=headers), 401,
                   "unauthenticated")


def test_pharmacy_view_hides_deliveries_and_other_invoices(client: FlaskClient,
                                                           world: dict) -> None:
    code = issued(client, world)
    assert dispense(client, world["h"]["pharmacy_1"], code,
                    [{"line": 0, "so_luong_ban": 5}], invoice="SECRET-1").status_code == 201
    seen = client.get(f"/v2/prescriptions/{code}", headers=world["h"]["pharmacy_2"]).get_json()
    assert "deliveries" not in seen
    assert "ma_hoa_don" not in seen["dispenses"][0]
    own = client.get(f"/v2/prescriptions/{code}", headers=world["h"]["pharmacy_1"]).get_json()
    assert own["dispenses"][0]["ma_hoa_don"] == "SECRET-1"


# --- list ----------------------------------------------------------------------------------
def test_listing_is_paginated_and_filtered(client: FlaskClient, world: dict) -> None:
    codes = {issued(client, world) for _ in range(5)}
    other = submit(client, world["h"]["clinic_b"],
                   prescription(ma_dinh_danh_cong_dan="001090009999")).get_json()["ma_don_thuoc"]
    seen: list[str] = []
    cursor = None
    while True:
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/v2/prescriptions?{query}", headers=world["h"]["clinic_a"]).get_json()
        seen += [item["ma_don_thuoc"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5 and set(seen) == codes
    everything = client.get("/v2/prescriptions", headers=world["h"]["regulator"]).get_json()
    assert {item["ma_don_thuoc"] for item in everything["items"]} == codes | {other}
    by_patient = client.get("/v2/prescriptions?patient=001090009999",
                            headers=world["h"]["regulator"]).get_json()
    assert [item["ma_don_thuoc"] for item in by_patient["items"]] == [other]
    dispensed = next(iter(codes))
    dispense(client, world["h"]["pharmacy_1"], dispensed, [{"line": 0, "so_luong_ban": 1}])
    partial = client.get("/v2/prescriptions?status=partially_dispensed",
                         headers=world["h"]["clinic_a"]).get_json()
    assert [item["ma_don_thuoc"] for item in partial["items"]] == [dispensed]
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    assert client.get(f"/v2/prescriptions?from={tomorrow}",
                      headers=world["h"]["regulator"]).get_json()["items"] == []


@pytest.mark.parametrize("query, parameter", [("limit=0", "limit"), ("limit=x", "limit"),
                                              ("status=lost", "status"), ("from=yesterday", "from"),
                                              ("patient=123", "patient"), ("cursor=%%%", "cursor"),
                                              ("colour=red", "colour")])
def test_bad_list_parameters_are_422(client: FlaskClient, world: dict, query: str,
                                     parameter: str) -> None:
    problem = assert_problem(client.get(f"/v2/prescriptions?{query}",
                                        headers=world["h"]["regulator"]), 422, "validation")
    assert problem["errors"][0]["parameter"] == parameter


# --- dispense ------------------------------------------------------------------------------
def test_partial_then_complete_dispense_with_packs(client: FlaskClient, world: dict,
                                                   database) -> None:
    code = issued(client, world)
    gtin = gtin_of(world, PARACETAMOL)
    first = dispense(client, world["h"]["pharmacy_1"], code, [
        {"line": 0, "ma_thuoc": PARACETAMOL, "so_luong_ban": 10, "packs": [pack(gtin, "A1")]},
        {"line": 1, "so_luong_ban": 7}])
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["prescription"]["status"] == "partially_dispensed"
    second = dispense(client, world["h"]["pharmacy_2"], code, [
        {"line": 0, "so_luong_ban": 10, "packs": [pack(gtin, "A2")]},
        {"line": 1, "so_luong_ban": 7}], invoice="HD0002")
    assert second.status_code == 201, second.get_json()
    final = second.get_json()["prescription"]
    assert final["status"] == "dispensed"
    assert [line["remaining"] for line in final["lines"]] == [0, 0]
    over = dispense(client, world["h"]["pharmacy_1"], code, [{"line": 0, "so_luong_ban": 1}])
    problem = assert_problem(over, 409, "not-dispensable")
    assert problem["errors"][0]["code"] == "dispense.state"
    stored = database["prescriptions"].find_one({"_id": code})
    assert [d["event"] for d in stored["deliveries"]] == [
        "prescription.issued", "dispense.recorded", "dispense.recorded"]
    assert database["dispensed_packs"].count_documents({"prescription": code}) == 2


def test_over_quantity_is_refused_with_what_remains(client: FlaskClient, world: dict) -> None:
    code = issued(client, world)
    dispense(client, world["h"]["pharmacy_1"], code, [{"line": 1, "so_luong_ban": 10}])
    problem = assert_problem(dispense(client, world["h"]["pharmacy_2"], code,
                                      [{"line": 1, "so_luong_ban": 5}]), 409, "over-quantity")
    assert problem["errors"] == [{"pointer": "/items/0/so_luong_ban",
                                  "code": "dispense.over_quantity",
                                  "message": "Vượt số lượng kê đơn: còn lại 4"}]


def test_a_serial_is_dispensed_once_system_wide(client: FlaskClient, world: dict,
                                                database) -> None:
    gtin = gtin_of(world, PARACETAMOL)
    first, second = issued(client, world), issued(client, world)
    assert dispense(client, world["h"]["pharmacy_1"], first, [
        {"line": 0, "so_luong_ban": 10, "packs": [pack(gtin, "SN-UNIQUE")]}]).status_code == 201
    for code, who in ((first, "pharmacy_1"), (second, "pharmacy_2")):
        again = dispense(client, world["h"][who], code, [
            {"line": 0, "so_luong_ban": 1, "packs": [pack(gtin, "SN-UNIQUE")]}])
        problem = assert_problem(again, 409, "serial-reused")
        assert problem["errors"][0] == {"pointer": "/items/0/packs/0",
                                        "code": "dispense.serial_reused",
                                        "message": "Hộp thuốc (GTIN + số sê-ri) đã được bán trước đó"}
    # Nothing half-written: the refused dispenses left no quantity, dispense or reservation.
    assert database["prescriptions"].find_one({"_id": second})["lines"][0]["dispensed"] == 0
    assert database["dispensed_packs"].count_documents({}) == 1


def test_pack_rules(client: FlaskClient, world: dict, database) -> None:
    code = issued(client, world)
    gtin = gtin_of(world, PARACETAMOL)
    wrong_gtin = gtin_of(world, AMOXICILLIN)
    response = dispense(client, world["h"]["pharmacy_1"], code, [
        {"line": 0, "so_luong_ban": 2, "packs": [
            pack(wrong_gtin, "S1"), pack(gtin, "S2", expiry=date.today() - timedelta(days=1)),
            "(01)12345(21)X", pack(gtin, "S3"), pack(gtin, "S3")]}])
    problem = assert_problem(response, 422, "validation")
    assert [(e["pointer"], e["code"]) for e in problem["errors"]] == [
        ("/items/0/packs/0", "dispense.pack_gtin"),
        ("/items/0/packs/1", "dispense.pack_expired"),
        ("/items/0/packs/2", "dispense.pack_invalid"),
        ("/items/0/packs/4", "dispense.serial_reused")]
    assert database["dispensed_packs"].count_documents({}) == 0
    assert database["prescriptions"].find_one({"_id": code})["version"] == 1


def test_substitution_rules(client: FlaskClient, world: dict) -> None:
    code = issued(client, world)
    same = dispense(client, world["h"]["pharmacy_1"], code,
                    [{"line": 0, "ma_thuoc": PARACETAMOL_TWIN, "so_luong_ban": 5}])
    assert same.status_code == 201, same.get_json()
    item = same.get_json()["dispense"]["items"][0]
    assert item["substituted"] is True and item["ma_thuoc"] == PARACETAMOL_TWIN
    different = dispense(client, world["h"]["pharmacy_1"], code,
                         [{"line": 0, "ma_thuoc": AMOXICILLIN, "so_luong_ban": 5}])
    assert assert_problem(different, 422, "validation")["errors"][0]["code"] == \
        "dispense.substitution"
    inactive = dispense(client, world["h"]["pharmacy_1"], code,
                        [{"line": 0, "ma_thuoc": SUSPENDED_TWIN, "so_luong_ban": 5}])
    assert "dispense.product_inactive" in {
        e["code"] for e in assert_problem(inactive, 422, "validation")["errors"]}


def test_malformed_dispense_bodies(client: FlaskClient, world: dict) -> None:
    code = issued(client, world)
    cases = [
        ({"items": []}, "/items", "dispense.items_required"),
        ({"items": [{"line": 9, "so_luong_ban": 1}]}, "/items/0/line", "dispense.line"),
        ({"items": [{"line": 0, "so_luong_ban": -1}]}, "/items/0/so_luong_ban",
         "dispense.quantity"),
        ({"items": [{"line": 0, "so_luong_ban": {"$gt": 0}}]}, "/items/0/so_luong_ban",
         "dispense.quantity"),
        ({"items": [{"line": "0", "so_luong_ban": 1}]}, "/items/0/line", "dispense.line"),
        ({"ma_hoa_don": "X" * 21, "items": [{"line": 0, "so_luong_ban": 1}]}, "/ma_hoa_don",
         "dispense.invoice"),
        ({"items": [{"line": 0, "so_luong_ban": 1, "extra": 1}]}, "/items/0/extra",
         "dispense.unknown_field"),
    ]
    for body, pointer, code_expected in cases:
        response = client.post(f"/v2/prescriptions/{code}/dispenses", json=body,
                               headers=world["h"]["pharmacy_1"])
        problem = assert_problem(response, 422, "validation")
        assert (pointer, code_expected) in {(e["pointer"], e["code"]) for e in problem["errors"]}
    assert_problem(client.post("/v2/prescriptions/79001NOSUCH1-c/dispenses",
                               json={"items": [{"line": 0, "so_luong_ban": 1}]},
                               headers=world["h"]["pharmacy_1"]), 404, "not-found")


def test_dispense_retry_with_the_same_key_dispenses_once(client: FlaskClient,
                                                         world: dict) -> None:
    code = issued(client, world)
    key = {"Idempotency-Key": "dispense-001"}
    items = [{"line": 0, "so_luong_ban": 4}]
    first = dispense(client, world["h"]["pharmacy_1"], code, items, **key)
    retry = dispense(client, world["h"]["pharmacy_1"], code, items, **key)
    assert first.status_code == retry.status_code == 201
    assert retry.get_json() == first.get_json()
    state = client.get(f"/v2/prescriptions/{code}", headers=world["h"]["regulator"]).get_json()
    assert state["lines"][0]["dispensed"] == 4 and len(state["dispenses"]) == 1


def test_dispense_completes_after_a_crash_between_steps(client: FlaskClient, world: dict,
                                                        database) -> None:
    """The process died after the dispense was stored but before its answer was kept: the
    retry takes the expired lease over and answers, without applying the dispense twice."""
    code = issued(client, world)
    key = {"Idempotency-Key": "crash-1"}
    items = [{"line": 0, "so_luong_ban": 3}]
    assert dispense(client, world["h"]["pharmacy_1"], code, items, **key).status_code == 201
    database["idempotency"].update_one(
        {"_id": {"$regex": "crash-1$"}},
        {"$set": {"state": "pending", "lease_until": datetime.now(UTC)
                  - timedelta(seconds=1)}, "$unset": {"answer": ""}})
    retry = dispense(client, world["h"]["pharmacy_1"], code, items, **key)
    assert retry.status_code == 201, retry.get_json()
    assert retry.get_json()["prescription"]["lines"][0]["dispensed"] == 3
    assert len(database["prescriptions"].find_one({"_id": code})["dispenses"]) == 1
    # While another attempt still holds the lease, a retry is told to come back later.
    database["idempotency"].update_one(
        {"_id": {"$regex": "crash-1$"}},
        {"$set": {"state": "pending", "lease_until": datetime.now(UTC)
                  + timedelta(seconds=30)}})
    busy = dispense(client, world["h"]["pharmacy_1"], code, items, **key)
    assert_problem(busy, 409, "idempotency-in-progress")
    assert busy.headers["Retry-After"] == "1"


def test_concurrent_dispenses_never_exceed_the_prescription(app: Flask, client: FlaskClient,
                                                            world: dict, make_party) -> None:
    pharmacies = [make_party("pharmacy", f"NTX{index}") for index in range(6)]
    headers = [p.headers(client) for p in pharmacies]
    for _round in range(4):
        code = issued(client, world, drugs=[(PARACETAMOL, 20)])
        barrier = threading.Barrier(len(headers))
        outcomes: list[int] = []

        def worker(auth: dict[str, str], barrier: threading.Barrier = barrier,
                   outcomes: list[int] = outcomes, code: str = code) -> None:
            local = app.test_client()
            barrier.wait()
            outcomes.append(local.post(f"/v2/prescriptions/{code}/dispenses", headers=auth,
                                       json={"items": [{"line": 0, "so_luong_ban": 7}]}
                                       ).status_code)

        threads = [threading.Thread(target=worker, args=(auth,)) for auth in headers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        state = client.get(f"/v2/prescriptions/{code}",
                           headers=world["h"]["regulator"]).get_json()
        assert state["lines"][0]["dispensed"] <= 20
        assert outcomes.count(201) == 2  # 7 + 7 fit in 20; a third 7 never does
        assert state["lines"][0]["dispensed"] == 14
        assert len(state["dispenses"]) == 2
        assert sorted(outcomes) == [201, 201] + [409] * (len(headers) - 2)


# --- cancel --------------------------------------------------------------------------------
def test_cancel_keeps_what_was_dispensed_and_stops_further_dispensing(
        client: FlaskClient, world: dict, database) -> None:
    code = issued(client, world)
    dispense(client, world["h"]["pharmacy_1"], code, [{"line": 0, "so_luong_ban": 5}])
    client.get(f"/v2/prescriptions/{code}", headers=world["h"]["pharmacy_2"])  # looked up
    cancelled = client.post(f"/v2/prescriptions/{code}/cancel", json={"ly_do": "Kê nhầm"},
                            headers=world["h"]["clinic_a"])
    assert cancelled.status_code == 200
    body = cancelled.get_json()
    assert body["status"] == "cancelled" and body["cancellation"]["ly_do"] == "Kê nhầm"
    assert body["lines"][0]["dispensed"] == 5
    again = client.post(f"/v2/prescriptions/{code}/cancel", json={"ly_do": "x"},
                        headers=world["h"]["doctor_a"])
    assert_problem(again, 409, "not-cancellable")
    refused = dispense(client, world["h"]["pharmacy_1"], code, [{"line": 1, "so_luong_ban": 1}])
    assert assert_problem(refused, 409, "not-dispensable")["errors"][0]["code"] == \
        "dispense.state"
    stored = database["prescriptions"].find_one({"_id": code})
    cancels = [d["target"] for d in stored["deliveries"] if d["event"] == "prescription.cancelled"]
    assert cancels == ["registry", "pharmacy:NT0002", "pharmacy:NT0001"]


def test_cancel_needs_a_reason_and_refuses_a_dispensed_prescription(client: FlaskClient,
                                                                    world: dict) -> None:
    code = issued(client, world, drugs=[(PARACETAMOL, 2)])
    problem = assert_problem(client.post(f"/v2/prescriptions/{code}/cancel", json={"ly_do": " "},
                                         headers=world["h"]["clinic_a"]), 422, "validation")
    assert problem["errors"][0]["code"] == "cancel.reason_required"
    dispense(client, world["h"]["pharmacy_1"], code, [{"line": 0, "so_luong_ban": 2}])
    assert_problem(client.post(f"/v2/prescriptions/{code}/cancel", json={"ly_do": "late"},
                               headers=world["h"]["clinic_a"]), 409, "not-cancellable")


def test_expired_prescription_cannot_be_dispensed(client: FlaskClient, world: dict,
                                                  database) -> None:
    code = issued(client, world)
    database["prescriptions"].update_one(
        {"_id": code}, {"$set": {"dispensable_until": datetime.now(UTC)
                                 - timedelta(seconds=1)}})
    state = client.get(f"/v2/prescriptions/{code}", headers=world["h"]["regulator"]).get_json()
    assert state["status"] == "expired"
    problem = assert_problem(dispense(client, world["h"]["pharmacy_1"], code,
                                      [{"line": 0, "so_luong_ban": 1}]), 409, "not-dispensable")
    assert problem["errors"][0]["code"] == "dispense.state"


def test_controlled_prescriptions_are_dispensable_for_five_days(client: FlaskClient,
                                                                world: dict) -> None:
    now = datetime.now(VIETNAM) - timedelta(minutes=1)
    body = prescription(loai_don_thuoc="h", drugs=[("QLĐB-743-20", 10)],
                        dot_dung_thuoc=[{"dot": 1, "tu_ngay": now.strftime("%d/%m/%Y"),
                                         "den_ngay": (now + timedelta(days=9))
                                         .strftime("%d/%m/%Y")}])
    response = submit(client, world["h"]["doctor_a"], body)
    assert response.status_code == 201, response.get_json()
    until = datetime.fromisoformat(response.get_json()["dispensable_until"])
    assert timedelta(days=4, hours=23) < until - now <= timedelta(days=5)


# --- hostile input at the HTTP edge ----------------------------------------------------------
def refused(response, status: int, slug: str, national: bool) -> None:
    """The native endpoint's problem, or the national endpoint's own refusal shape (every 4xx
    of gui-don-thuoc: success false, the code in brackets)."""
    if not national:
        assert_problem(response, status, slug)
        return
    assert response.status_code == status and response.mimetype == "application/json"
    body = response.get_json()
    assert body["success"] is False and body["checksum"] is None and body["error"]
    assert all(message.startswith("[") for messages in body["error"].values()
               for message in messages)


@pytest.mark.parametrize("path", ["/v2/prescriptions", "/api/v1/gui-don-thuoc"])
def test_hostile_bodies_get_clear_errors_and_store_nothing(client: FlaskClient, world: dict,
                                                           database, path: str) -> None:
    headers = world["h"]["doctor_a"]
    national = path.startswith("/api/")
    deep = client.post(path, data=b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
                       content_type="application/json", headers=headers)
    refused(deep, 400, "malformed", national)
    huge = client.post(path, json=prescription(ho_ten_benh_nhan="A" * 10_000_000),
                       headers=headers)
    refused(huge, 413, "too-large", national)
    not_utf8 = client.post(path, data='{"ho_ten_benh_nhan": "Nguyễn"}'.encode("utf-16"),
                           content_type="application/json", headers=headers)
    refused(not_utf8, 400, "malformed", national)
    refused(client.post(path, data="ho_ten=x", headers=headers,
                        content_type="application/x-www-form-urlencoded"),
            415, "unsupported-media-type", national)
    refused(client.post(path, json=[prescription()], headers=headers), 422, "validation",
            national)
    assert database["prescriptions"].count_documents({}) == 0


def test_operator_objects_and_wrong_types_are_field_errors(client: FlaskClient, world: dict,
                                                           database) -> None:
    body = prescription(ho_ten_benh_nhan={"$gt": ""}, ma_dinh_danh_cong_dan={"$ne": None},
                        gioi_tinh="2", can_nang=[62], chan_doan="J06.9", colour="blue")
    body["thong_tin_don_thuoc"][0]["so_luong"] = {"$inc": 1}
    problem = assert_problem(submit(client, world["h"]["doctor_a"], body), 422, "validation")
    pointers = {error["pointer"] for error in problem["errors"]}
    assert {"/ho_ten_benh_nhan", "/ma_dinh_danh_cong_dan", "/gioi_tinh", "/can_nang",
            "/chan_doan", "/colour", "/thong_tin_don_thuoc/0/so_luong"} <= pointers
    assert ("/colour", "rx.unknown_field") in {(e["pointer"], e["code"])
                                               for e in problem["errors"]}
    assert database["prescriptions"].count_documents({}) == 0
    # The lookup path is a string parameter, never a query operator.
    assert_problem(client.get('/v2/prescriptions/{"$gt":""}', headers=world["h"]["regulator"]),
                   404, "not-found")
