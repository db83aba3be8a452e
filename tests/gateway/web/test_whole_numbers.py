"""Quantities are integers when whole (`20`, never `20.0`) in every answer of every face:
submissions, reads, lists, lookups, dispenses and reports, native and national."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.support.prescriptions import dispense, prescription, submit


def whole_floats(value: Any, path: str = "") -> list[str]:
    """Where ``value`` holds a float with nothing after the point."""
    if isinstance(value, float) and value.is_integer():
        return [f"{path}={value!r}"]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in whole_floats(item, f"{path}/{key}")]
    if isinstance(value, list):
        return [found for index, item in enumerate(value)
                for found in whole_floats(item, f"{path}/{index}")]
    return []


def test_every_answer_writes_whole_quantities_as_integers(client: FlaskClient,
                                                          world: dict) -> None:
    h = world["h"]
    body = prescription()
    for line in body["thong_tin_don_thuoc"]:
        line["so_luong"] = float(line["so_luong"])  # a HIS that writes 20.0
    created = submit(client, h["doctor_a"], body)
    assert created.status_code == 201, created.get_json()
    code = created.get_json()["ma_don_thuoc"]
    answers = {"submit": created.get_json()}
    sold = dispense(client, h["pharmacy_1"], code, [{"line": 0, "so_luong_ban": 2.0}])
    assert sold.status_code == 201, sold.get_json()
    answers["dispense"] = sold.get_json()
    for name, headers in (("clinic", h["clinic_a"]), ("pharmacy", h["pharmacy_1"]),
                          ("regulator", h["regulator"])):
        answers[f"read {name}"] = client.get(f"/v2/prescriptions/{code}", headers=headers).get_json()
    answers["list"] = client.get("/v2/prescriptions", headers=h["clinic_a"]).get_json()
    pharmacy = world["parties"]["pharmacy_1"]
    answers["national lookup"] = client.get(
        f"/api/v1/thong-tin-don-thuoc/{code}",
        headers={"app-name": pharmacy.client_id, "app-key": pharmacy.client_secret}).get_json()
    for path in ("/v2/reports/summary", "/v2/reports/deliveries",
                 "/v2/reports/controlled-overlaps"):
        answers[path] = client.get(path, headers=h["regulator"]).get_json()
    answers["deliveries"] = client.get(f"/v2/prescriptions/{code}/deliveries",
                                       headers=h["clinic_a"]).get_json()
    answers["over-quantity"] = dispense(client, h["pharmacy_1"], code,
                                        [{"line": 0, "so_luong_ban": 500.0}]).get_json()
    found = {name: whole_floats(answer) for name, answer in answers.items()}
    assert {name: where for name, where in found.items() if where} == {}
    line = answers["read regulator"]["lines"][0]
    assert line["prescribed"] == 20 and line["remaining"] == 18
