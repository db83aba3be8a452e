"""Hostile requests at the HTTP edge, by class: invented JSON media types, duplicate JSON keys,
and spreadsheet formulas in CSV exports. Each is refused (or neutralised) and stores nothing."""

from __future__ import annotations

import csv
import io
import json

import pytest

from gateway.core.http import csv_safe
from tests.gateway.prescriptions.test_prescriptions import prescription, world
from tests.gateway.web.test_app import assert_problem

TOKEN = "/v2/auth/token"


@pytest.mark.parametrize("media_type", ["application/x-anything+json", "application/problem+json",
                                        "text/json", "application/jsonx", "text/plain"])
def test_only_the_declared_json_media_type_is_read(client, world, database, media_type) -> None:
    body = json.dumps(prescription(ma_don_thuoc="79001MEDIA01-c"))
    answer = client.post("/v2/prescriptions", data=body, content_type=media_type,
                         headers=world["h"]["doctor_a"])
    assert_problem(answer, 415, "unsupported-media-type")
    assert database["prescriptions"].count_documents({}) == 0


def test_a_charset_parameter_is_fine(client, world) -> None:
    body = json.dumps(prescription(ma_don_thuoc="79001MEDIA02-c"))
    answer = client.post("/v2/prescriptions", data=body, content_type="application/json; charset=utf-8",
                         headers=world["h"]["doctor_a"])
    assert answer.status_code == 201, answer.get_json()


@pytest.mark.parametrize("raw", [
    '{"grant_type": "client_credentials", "client_id": "a", "client_id": "b", "client_secret": "x"}',
    '{"items": [{"line": 0, "line": 1, "so_luong_ban": 1}]}',
])
def test_a_key_given_twice_is_400(client, raw) -> None:
    answer = client.post(TOKEN, data=raw, content_type="application/json")
    body = assert_problem(answer, 400, "malformed")
    assert "duplicate key" in body["detail"]


def test_duplicate_keys_in_a_prescription_store_nothing(client, world, database) -> None:
    document = json.dumps(prescription(ma_don_thuoc="79001DUPKEY1-c"))
    raw = document[:-1] + ', "ho_ten_benh_nhan": "Người Khác"}'
    answer = client.post("/v2/prescriptions", data=raw, content_type="application/json",
                         headers=world["h"]["doctor_a"])
    assert_problem(answer, 400, "malformed")
    national = client.post("/api/v1/gui-don-thuoc", data=raw, content_type="application/json",
                           headers=world["h"]["doctor_a"])
    assert national.status_code == 400
    assert database["prescriptions"].count_documents({}) == 0


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)",
                                  "\tx", "\rx"])
def test_formula_cells_are_neutralised(cell) -> None:
    assert csv_safe(cell) == "'" + cell
    assert csv_safe("Nhà thuốc 1") == "Nhà thuốc 1" and csv_safe(-5) == -5 and csv_safe(None) is None


def test_the_audit_csv_export_neutralises_attacker_text(client, auth_headers) -> None:
    attacker = '=HYPERLINK("http://evil.example","x")'
    client.post(TOKEN, json={"grant_type": "client_credentials", "client_id": attacker,
                             "client_secret": "wrong"})
    exported = client.get("/v2/audit/events", headers={**auth_headers("regulator", "BYT"),
                                                       "Accept": "text/csv"})
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    object_ids = [row[rows[0].index("object_id")] for row in rows[1:]]
    assert "'" + attacker in object_ids and attacker not in object_ids
