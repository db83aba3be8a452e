"""Every endpoint of the prescription lifecycle leaves the audit events it should, and a
pharmacy's lookup appears in the patient's access log."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.support import audit
from tests.support.prescriptions import dispense, issued, national_token, prescription, submit

CCCD = "079090001234"  # the patient of test_prescriptions.prescription()


def events(app: Flask, action: str) -> list[dict[str, Any]]:
    with app.app_context():
        return [audit.event_from_document(doc)
                for doc in audit.audit_log(audit.get_db()).find({"action": action}).sort("_id", 1)]


def patient_hash(app: Flask) -> str:
    with app.app_context():
        return audit.patient_hash(CCCD)


def test_submitted(app: Flask, client: FlaskClient, world: dict, database) -> None:
    code = issued(client, world)
    [event] = events(app, "prescription.submitted")
    stored = database["prescriptions"].find_one({"_id": code})
    assert event["actor"] == {"party_id": "doctor-79001-BS001", "role": "doctor"}
    assert event["object"] == {"type": "prescription", "id": code}
    assert event["content_sha256"] == stored["content_sha256"]
    assert event["patient_hash"] == patient_hash(app) and event["outcome"] == "success"
    assert CCCD not in json.dumps(event) and "Nguyễn" not in json.dumps(event)


def test_submitted_through_the_national_endpoint(app: Flask, client: FlaskClient,
                                                 world: dict) -> None:
    answer = client.post("/api/v1/gui-don-thuoc", json=prescription(ma_don_thuoc="79001NAT0009-c"),
                         headers=national_token(client, world))
    assert answer.status_code == 200, answer.get_json()
    [event] = events(app, "prescription.submitted")
    assert event["object"]["id"] == "79001NAT0009-c"


def test_refused_with_codes_never_the_document(app: Flask, client: FlaskClient,
                                               world: dict) -> None:
    answer = submit(client, world["h"]["doctor_a"],
                    prescription(ma_dinh_danh_cong_dan="12345", thong_tin_don_thuoc=[]))
    assert answer.status_code == 422
    [event] = events(app, "prescription.refused")
    codes = {error["code"] for error in answer.get_json()["errors"]}
    assert event["outcome"] == "failure" and set(event["details"]["codes"]) == codes
    assert "12345" not in json.dumps(event) and "Nguyễn" not in json.dumps(event)


def test_viewed_natively_and_nationally(app: Flask, client: FlaskClient, world: dict) -> None:
    code = issued(client, world)
    assert client.get(f"/v2/prescriptions/{code}",
                      headers=world["h"]["pharmacy_1"]).status_code == 200
    pharmacy = world["parties"]["pharmacy_2"]
    national = client.get(f"/api/v1/thong-tin-don-thuoc/{code}", headers={
        "app-name": pharmacy.client_id, "app-key": pharmacy.client_secret})
    assert national.status_code == 200
    viewed = events(app, "prescription.viewed")
    assert [(e["actor"]["party_id"], e["object"]["id"]) for e in viewed] == [
        ("pharmacy-NT0001", code), ("pharmacy-NT0002", code)]
    assert all(e["patient_hash"] == patient_hash(app) for e in viewed)


def test_dispensed_and_a_refused_dispense(app: Flask, client: FlaskClient, world: dict) -> None:
    code = issued(client, world)
    good = dispense(client, world["h"]["pharmacy_1"], code, [{"line": 1, "so_luong_ban": 7}])
    assert good.status_code == 201, good.get_json()
    over = dispense(client, world["h"]["pharmacy_1"], code, [{"line": 1, "so_luong_ban": 99}],
                    invoice="HD0002")
    assert over.status_code == 409
    done, refused = events(app, "prescription.dispensed")
    assert (done["outcome"], done["actor"]["party_id"]) == ("success", "pharmacy-NT0001")
    assert done["details"]["dispense"] == good.get_json()["dispense"]["id"]
    assert refused["outcome"] == "failure"
    assert refused["details"]["codes"] == ["dispense.over_quantity"]


def test_cancelled(app: Flask, client: FlaskClient, world: dict) -> None:
    code = issued(client, world)
    answer = client.post(f"/v2/prescriptions/{code}/cancel", json={"ly_do": "Kê nhầm thuốc"},
                         headers=world["h"]["clinic_a"])
    assert answer.status_code == 200, answer.get_json()
    [event] = events(app, "prescription.cancelled")
    assert event["actor"] == {"party_id": "clinic-79001", "role": "clinic"}
    assert event["object"]["id"] == code and "Kê nhầm" not in json.dumps(event)


def test_a_pharmacy_lookup_appears_in_the_patients_access_log(app: Flask, client: FlaskClient,
                                                              world: dict) -> None:
    code = issued(client, world)
    client.get(f"/v2/prescriptions/{code}", headers=world["h"]["pharmacy_2"])
    dispense(client, world["h"]["pharmacy_1"], code, [{"line": 1, "so_luong_ban": 7}])
    log = client.get(f"/v2/patients/{CCCD}/access-log", headers=world["h"]["regulator"])
    assert log.status_code == 200, log.get_json()
    assert [(item["party_id"], item["action"], item["ma_don_thuoc"])
            for item in log.get_json()["items"]] == [
        ("pharmacy-NT0002", "prescription.viewed", code),
        ("pharmacy-NT0001", "prescription.dispensed", code)]
    other = client.get("/v2/patients/001203000999/access-log", headers=world["h"]["regulator"])
    assert other.get_json()["items"] == []
