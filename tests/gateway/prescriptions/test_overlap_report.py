"""``GET /v2/reports/controlled-overlaps``: what regulators see of the overlaps caught at
submission (two facilities, two doctors), its exports, its time window in any UTC offset, its
pages, and that no plain identifier of the person appears in any form of it."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.prescriptions.reports import OVERLAP_COLUMNS
from gateway.web.context import services
from tests.support.http import assert_problem
from tests.support.overlaps import BIRTH, CCCD, MORPHINE_INJ, MORPHINE_ORAL, PATIENT_NAME, day

REPORT = "/v2/reports/controlled-overlaps"


def report(client: FlaskClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    answer = client.get(REPORT, query_string=params, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def assert_no_plain_identifier(text: str) -> None:
    for plain in (CCCD, PATIENT_NAME, "1990-03-15", BIRTH, "Nguyễn Văn An"):
        assert plain not in text


def test_each_overlap_with_both_facilities_prescribers_drugs_days_and_outcome(
        app: Flask, client: FlaskClient, caught: dict[str, Any]) -> None:
    body = report(client, caught["h"]["regulator"])
    assert body["next_cursor"] is None
    refused, warned = body["items"]
    hashed = services(app).audit.patient_hash(CCCD)
    assert refused["patient_hash"] == warned["patient_hash"] == hashed
    assert (refused["outcome"], refused["severity"], refused["accepted"]) == (
        "refused", "error", False)
    assert (warned["outcome"], warned["severity"], warned["accepted"]) == (
        "warned", "warning", True)
    assert refused["match"] == "ingredient" and refused["ingredients"] == ["morphin"]
    assert refused["control_class"] == "narcotic" and refused["code"] == "control.overlap"
    mine, other = refused["prescription"], refused["other"]
    assert (mine["facility"], mine["facility_name"], mine["prescriber"],
            mine["prescriber_name"]) == ("01022", "Phòng khám Đống Đa", "doctor-01022-BS022",
                                         "BS Trần Thị Hai")
    assert (other["facility"], other["facility_name"], other["prescriber"],
            other["prescriber_name"]) == ("79011", "Bệnh viện Quận Một", "doctor-79011-BS011",
                                          "BS Nguyễn Văn Một")
    assert (mine["ma_thuoc"], mine["drug_name"], mine["line"]) == (
        MORPHINE_INJ, "Morphin 10mg/1ml", 0)
    assert other["ma_don_thuoc"] == caught["first"] and other["status"] == "issued"
    assert other["drugs"] == [{"ma_thuoc": MORPHINE_ORAL, "name": "Morphin sulfat 30mg SR"}]
    assert refused["overlap"] == {"days": 3, "spans": [
        {"tu_ngay": day(4).isoformat(), "den_ngay": day(6).isoformat()}]}
    assert other["periods"] == [{"tu_ngay": day(0).isoformat(), "den_ngay": day(6).isoformat()}]
    assert warned["prescription"]["ma_don_thuoc"] == caught["warned"]
    assert warned["other"]["ma_don_thuoc"] == caught["calm"]
    assert warned["overlap"]["days"] == 1
    assert refused["at"].endswith("+07:00")            # answers in ERX_TIMEZONE
    assert_no_plain_identifier(json.dumps(body, ensure_ascii=False))


def test_csv_and_ndjson_exports_carry_every_overlap_and_no_plain_identifier(
        client: FlaskClient, caught: dict[str, Any]) -> None:
    regulator = caught["h"]["regulator"]
    page = report(client, regulator)["items"]
    exported = client.get(REPORT, headers={**regulator, "Accept": "application/x-ndjson"})
    assert exported.status_code == 200 and exported.mimetype == "application/x-ndjson"
    text = exported.get_data(as_text=True)
    assert [json.loads(line) for line in text.splitlines()] == page
    assert_no_plain_identifier(text)
    exported = client.get(REPORT, headers={**regulator, "Accept": "text/csv"})
    assert exported.mimetype == "text/csv"
    assert "controlled-overlaps.csv" in exported.headers["Content-Disposition"]
    text = exported.get_data(as_text=True)
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert tuple(header) == OVERLAP_COLUMNS
    assert [row[header.index("outcome")] for row in rows] == ["refused", "warned"]
    first = dict(zip(header, rows[0], strict=True))
    assert first["facility_name"] == "Phòng khám Đống Đa"
    assert first["other_facility_name"] == "Bệnh viện Quận Một"
    assert first["other_drugs"] == f"{MORPHINE_ORAL} Morphin sulfat 30mg SR"
    assert first["overlap_days"] == "3" and first["accepted"] == "false"
    assert first["patient_hash"] == page[0]["patient_hash"]
    assert_no_plain_identifier(text)


def test_pages_follow_the_cursor_in_order(client: FlaskClient, caught: dict[str, Any]) -> None:
    regulator = caught["h"]["regulator"]
    everything = report(client, regulator)["items"]
    seen, cursor = [], None
    while True:
        page = report(client, regulator, limit=1, **({"cursor": cursor} if cursor else {}))
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.integers(-12 * 60, 14 * 60), st.integers(-12 * 60, 14 * 60))
def test_the_window_is_the_same_instant_whatever_the_utc_offset(
        client: FlaskClient, caught: dict[str, Any], from_minutes: int, to_minutes: int) -> None:
    """Read-only: every example queries the same two overlaps (stored once by the fixture)."""
    regulator = caught["h"]["regulator"]
    times = [datetime.fromisoformat(item["at"]) for item in report(client, regulator)["items"]]
    first, last = times[0], times[-1]
    zone_from = timezone(timedelta(minutes=from_minutes))
    zone_to = timezone(timedelta(minutes=to_minutes))
    millisecond = timedelta(milliseconds=1)

    def window(start: datetime, end: datetime) -> list[str]:
        return [item["outcome"] for item in report(
            client, regulator, **{"from": start.astimezone(zone_from).isoformat(),
                                  "to": end.astimezone(zone_to).isoformat()})["items"]]

    assert window(first, last + millisecond) == ["refused", "warned"]   # from inclusive
    assert window(first, last) == ["refused"]                           # to exclusive
    assert window(first + millisecond, last + millisecond) == ["warned"]


def test_bad_parameters_are_422_naming_them_and_only_regulators_read(
        client: FlaskClient, caught: dict[str, Any]) -> None:
    regulator = caught["h"]["regulator"]
    now = datetime.now(UTC)
    for params, name in (({"from": now.isoformat(), "to": (now - timedelta(1)).isoformat()}, "to"),
                         ({"from": "2026-03-01T10:00:00"}, "from"),      # no offset
                         ({"from": "yesterday"}, "from"),
                         ({"cursor": "../etc"}, "cursor"),
                         ({"limit": 0}, "limit"),
                         ({"patient": CCCD}, "patient")):
        answer = client.get(REPORT, query_string=params, headers=regulator)
        assert answer.status_code == 422, (params, answer.get_json())
        assert name in json.dumps(answer.get_json()), answer.get_json()
    assert client.get(REPORT, headers={**regulator, "Accept": "text/html"}).status_code == 406
    for role in ("doctor_1", "clinic_2", "pharmacy_1", "admin"):
        assert_problem(client.get(REPORT, headers=caught["h"][role]), 403, "forbidden")
    assert client.get(REPORT).status_code == 401


def test_an_empty_window_is_an_empty_page(client: FlaskClient, caught: dict[str, Any]) -> None:
    later = datetime.now(UTC) + timedelta(days=1)
    body = report(client, caught["h"]["regulator"], **{"from": later.isoformat()})
    assert body == {"items": [], "next_cursor": None}
