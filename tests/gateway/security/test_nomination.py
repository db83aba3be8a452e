"""Attack class: a pharmacy dispenses a prescription that nominates another pharmacy.

ERX_NOMINATION=advisory (default) lets it, with the warning dispense.not_nominated in its answer
and in the audit event; binding answers 403 and changes nothing.
"""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.support.audit import audit_log
from tests.support.catalog import load_demo_catalog
from tests.support.http import assert_problem
from tests.support.prescriptions import dispense, issued, prescription, submit

NOMINATED = {"ma_co_so_cung_ung_thuoc_chi_dinh": "NT0001"}


def test_advisory_nomination_warns_the_other_pharmacy_and_the_audit(
        client: FlaskClient, world: dict[str, Any], database) -> None:
    code = issued(client, world, **NOMINATED)
    other = dispense(client, world["h"]["pharmacy_2"], code, [{"line": 0, "so_luong_ban": 1}])
    assert other.status_code == 201, other.get_json()
    warnings = other.get_json()["dispense"]["warnings"]
    assert [w["code"] for w in warnings] == ["dispense.not_nominated"]
    event = audit_log(database).find_one({"action": "prescription.dispensed", "object.id": code})
    assert event["details"]["warnings"] == ["dispense.not_nominated"]
    nominated = dispense(client, world["h"]["pharmacy_1"], code, [{"line": 0, "so_luong_ban": 1}])
    assert nominated.status_code == 201
    assert nominated.get_json()["dispense"]["warnings"] == []


def test_binding_nomination_refuses_another_pharmacy(make_app, make_party, demo_catalog, database) -> None:
    app = make_app(NOMINATION="binding")
    load_demo_catalog(app)
    client = app.test_client()
    doctor = make_party("doctor", "BS021", facility="79021").headers(client)
    nominated = make_party("pharmacy", "NT0001").headers(client)
    other = make_party("pharmacy", "NT0002").headers(client)
    created = submit(client, doctor, prescription(**NOMINATED))
    assert created.status_code == 201, created.get_json()
    code = created.get_json()["ma_don_thuoc"]
    problem = assert_problem(dispense(client, other, code, [{"line": 0, "so_luong_ban": 1}]),
                             403, "not-nominated")
    assert problem["errors"][0]["code"] == "dispense.not_nominated"
    assert database["prescriptions"].find_one({"_id": code})["dispenses"] == []
    failed = audit_log(database).find_one({"action": "prescription.dispensed", "outcome": "failure",
                                                "object.id": code})
    assert failed["details"]["codes"] == ["dispense.not_nominated"]
    assert dispense(client, nominated, code, [{"line": 0, "so_luong_ban": 1}]).status_code == 201


def test_a_nominated_pharmacy_code_compares_case_insensitively(make_app, make_party, demo_catalog) -> None:
    app = make_app(NOMINATION="binding")
    load_demo_catalog(app)
    client = app.test_client()
    doctor = make_party("doctor", "BS022", facility="79022").headers(client)
    nominated = make_party("pharmacy", "NT0001").headers(client)
    created = submit(client, doctor, prescription(ma_co_so_cung_ung_thuoc_chi_dinh="nt0001"))
    assert created.status_code == 201, created.get_json()
    answer = dispense(client, nominated, created.get_json()["ma_don_thuoc"], [{"line": 0, "so_luong_ban": 1}])
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["dispense"]["warnings"] == []


def test_a_pharmacy_code_differing_only_in_case_is_taken(client, auth_headers) -> None:
    """Codes that a nomination, a webhook and a pharmacy's own dispenses cannot tell apart
    belong to one pharmacy."""
    admin = auth_headers("admin", "ops")
    assert client.post("/v2/parties", headers=admin, json={
        "role": "pharmacy", "code": "NT0001", "name": "NT"}).status_code == 201
    twin = client.post("/v2/parties", headers=admin, json={
        "role": "pharmacy", "code": "nt0001", "name": "NT"})
    assert_problem(twin, 409, "conflict")
    assert "không phân biệt chữ hoa" in twin.get_json()["detail"]  # Vietnamese by default
    english = client.post("/v2/parties", headers={**admin, "Accept-Language": "en"}, json={
        "role": "pharmacy", "code": "nt0001", "name": "NT"})
    assert "case-insensitively" in english.get_json()["detail"]


def test_a_webhook_stored_under_its_code_as_written_is_still_found(
        client, auth_headers, database) -> None:
    """Webhooks stored before codes were compared case-insensitively (``_id`` = the code as
    registered) keep working, and move to the compared form when registered again."""
    pharmacy = auth_headers("pharmacy", "NT0001")
    database["webhooks"].insert_one({"_id": "NT0001", "url": "https://nt.example/erx",
                                     "events": ["prescription.issued"]})
    answer = client.get("/v2/pharmacies/me/webhook", headers=pharmacy)
    assert answer.status_code == 200 and answer.get_json()["url"] == "https://nt.example/erx"
    assert client.put("/v2/pharmacies/me/webhook", headers=pharmacy,
                      json={"url": "https://nt.example/v2"}).status_code == 200
    assert [doc["_id"] for doc in database["webhooks"].find()] == ["nt0001"]
    assert client.get("/v2/pharmacies/me/webhook", headers=pharmacy).get_json()["url"] == (
        "https://nt.example/v2")
