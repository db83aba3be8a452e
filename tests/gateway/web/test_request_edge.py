"""Hostile requests at the HTTP edge, by class: invented JSON media types, duplicate JSON keys,
and spreadsheet formulas in CSV exports. Each is refused (or neutralised) and stores nothing."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.web.http import csv_safe
from tests.support.http import assert_problem
from tests.support.prescriptions import prescription

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
    assert "xuất hiện hai lần" in body["detail"]  # the name given twice, in Vietnamese
    english = client.post(TOKEN, data=raw, content_type="application/json",
                          headers={"Accept-Language": "en"})
    assert "duplicate key" in assert_problem(english, 400, "malformed")["detail"]


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


HOSTILE = ["\ud800", "\udfff", "\x00", "\x01", "\x1b", "\x7f", "\x85", "\u202e", "\u2066"]
TEXT_FIELDS = ["/ho_ten_benh_nhan", "/dia_chi", "/loi_dan", "/thong_tin_don_thuoc/0/cach_dung",
               "/chan_doan/0/ten_chan_doan"]


def _put(document: dict, pointer: str, text: str) -> None:
    *parents, last = pointer.strip("/").split("/")
    target: Any = document
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[last] = text


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(field=st.sampled_from(TEXT_FIELDS), bad=st.sampled_from(HOSTILE),
       before=st.text(alphabet="abc Nguyễn", max_size=5), national=st.booleans())
def test_hostile_text_in_any_field_is_422_naming_it_and_stores_nothing(
        client, world, database, field, bad, before, national) -> None:
    document = prescription()
    _put(document, field, before + bad + "x")
    raw = json.dumps(document, ensure_ascii=True)  # \\ud800 travels as a JSON escape, as attackers send it
    path = "/api/v1/gui-don-thuoc" if national else "/v2/prescriptions"
    answer = client.post(path, data=raw, content_type="application/json", headers=world["h"]["doctor_a"])
    if national:  # the national refusal: field path -> "[code] message"
        assert answer.status_code == 422 and answer.get_json()["success"] is False
        error = answer.get_json()["error"]
        assert list(error) == [field.strip("/").replace("/", ".")]
        assert [message.split("]")[0] for message in error[field.strip("/").replace("/", ".")]] == [
            "[request.text"]
    else:
        body = assert_problem(answer, 422, "validation")
        assert [(e["pointer"], e["code"]) for e in body["errors"]] == [(field, "request.text")]
    assert database["prescriptions"].count_documents({}) == 0


@pytest.mark.parametrize("bad", HOSTILE)
def test_hostile_text_in_logins_cancels_and_dispenses_is_422_not_500(client, world, bad) -> None:
    token = client.post(TOKEN, data=json.dumps({"grant_type": "client_credentials", "client_id": bad,
                                                 "client_secret": "x"}), content_type="application/json")
    assert [e["pointer"] for e in assert_problem(token, 422, "validation")["errors"]] == ["/client_id"]
    code = client.post("/v2/prescriptions", json=prescription(), headers=world["h"]["doctor_a"]).get_json()[
        "ma_don_thuoc"]
    cancel = client.post(f"/v2/prescriptions/{code}/cancel", data=json.dumps({"ly_do": "x" + bad}),
                         content_type="application/json", headers=world["h"]["doctor_a"])
    assert [e["pointer"] for e in assert_problem(cancel, 422, "validation")["errors"]] == ["/ly_do"]
    dispense = client.post(f"/v2/prescriptions/{code}/dispenses", headers=world["h"]["pharmacy_1"],
                           data=json.dumps({"ma_hoa_don": bad, "items": [{"line": 0, "so_luong_ban": 1}]}),
                           content_type="application/json")
    assert [e["pointer"] for e in assert_problem(dispense, 422, "validation")["errors"]] == ["/ma_hoa_don"]
    national = client.post("/api/v1/cap-nhat-don-thuoc", headers=world["h"]["pharmacy_1"],
                           data=json.dumps({"ma_don_thuoc": code, "ma_hoa_don": "HD" + bad,
                                            "thong_tin_thuoc": []}), content_type="application/json")
    assert national.status_code == 422
    stored = client.get(f"/v2/prescriptions/{code}", headers=world["h"]["regulator"]).get_json()
    assert stored["status"] == "issued" and stored["dispenses"] == []


def test_tabs_and_line_breaks_stay_allowed(client, world) -> None:
    answer = client.post("/v2/prescriptions", json=prescription(loi_dan="Uống nhiều nước.\nTái khám\tsau 7 ngày"),
                         headers=world["h"]["doctor_a"])
    assert answer.status_code == 201, answer.get_json()


def test_oversized_urls_and_headers_are_problems_in_both_languages(client) -> None:
    long_url = client.get("/v2/audit/tree-head?tree_size=" + "1" * 4100)
    body = assert_problem(long_url, 414, "uri-too-long")
    assert body["title"] == "Địa chỉ (URL) quá dài"
    english = client.get("/nowhere?" + "a" * 4100, headers={"Accept-Language": "en"})
    assert assert_problem(english, 414, "uri-too-long")["title"] == "The URL is too long"
    assert_problem(client.get("/healthz", headers={"X-Big": "x" * 9000}), 431, "headers-too-large")
    many = {f"X-Field-{n}": "1" for n in range(120)}
    assert_problem(client.get("/healthz", headers=many), 431, "headers-too-large")
    assert client.get("/healthz?" + "a" * 3000).status_code == 200


def test_numbers_beyond_range_are_422_not_500(client, auth_headers) -> None:
    headers = auth_headers("regulator", "BYT")
    for query in ("tree_size=9223372036854775808", "tree_size=-1", "tree_size=1e3",
                  "tree_size=abc"):
        body = assert_problem(client.get(f"/v2/audit/tree-head?{query}", headers=headers),
                              422, "validation")
        assert body["errors"][0]["parameter"] == "tree_size"
    wrong_type = client.get("/v2/audit/tree-head?tree_size=abc", headers=headers)
    assert assert_problem(wrong_type, 422, "validation")["errors"][0]["message"] == "Phải là số nguyên"
    english = client.get("/v2/audit/tree-head?tree_size=abc",
                         headers={**headers, "Accept-Language": "en"})
    assert assert_problem(english, 422, "validation")["errors"][0]["message"] == "must be an integer"
    assert client.get("/v2/prescriptions?limit=1000000000000000000000",
                      headers=headers).status_code == 422


def test_a_dispense_line_of_the_wrong_type_says_so(client, world) -> None:
    code = client.post("/v2/prescriptions", json=prescription(),
                       headers=world["h"]["doctor_a"]).get_json()["ma_don_thuoc"]
    answer = client.post(f"/v2/prescriptions/{code}/dispenses", headers=world["h"]["pharmacy_1"],
                         json={"items": [{"line": "0", "so_luong_ban": 1}]})
    item = assert_problem(answer, 422, "validation")["errors"][0]
    assert (item["pointer"], item["code"]) == ("/items/0/line", "dispense.line")
    assert "phải là số nguyên" in item["message"]
    english = client.post(f"/v2/prescriptions/{code}/dispenses",
                          headers={**world["h"]["pharmacy_1"], "Accept-Language": "en"},
                          json={"items": [{"line": 7, "so_luong_ban": 1}]})
    assert assert_problem(english, 422, "validation")["errors"][0]["message"] == \
        "must be from 0 to 1 (the first line is 0)"


def test_the_session_signer_is_built_only_for_a_request_with_the_session_cookie(
        app, monkeypatch) -> None:
    from gateway.web.http import CookieSessions

    built = []
    original = CookieSessions.get_signing_serializer
    monkeypatch.setattr(CookieSessions, "get_signing_serializer",
                        lambda self, flask_app: built.append(1) or original(self, flask_app))
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert built == []
    client.set_cookie("erx-console", "not-a-signed-session")
    assert client.get("/healthz").status_code == 200
    assert built == [1]  # read (and its bad signature ignored) as before
