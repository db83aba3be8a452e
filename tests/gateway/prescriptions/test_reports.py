"""``GET /v2/reports/summary`` over prescription documents of the lifecycle's shape, inserted
through the prescriptions store (the fields read are listed in
gateway/prescriptions/reports.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.web.context import services

UTC = UTC


def prescription(code: str, facility: str, kind: str, issued_at: datetime,
                 lines: list[tuple[str, int, int, str]], status: str = "issued") -> dict:
    return {"_id": code, "facility": facility, "status": status,
            "document": {"loai_don_thuoc": kind, "ma_don_thuoc": code},
            "lines": [{"index": i, "ma_thuoc": drug, "prescribed": prescribed,
                       "dispensed": dispensed, "control_class": control}
                      for i, (drug, prescribed, dispensed, control) in enumerate(lines)],
            "issued_at": issued_at}


DAY = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam


@pytest.fixture
def prescriptions(app: Flask) -> None:
    store = services(app).prescription_store
    for document in [
            prescription("79001AAAAAAA-c", "79001", "c", DAY,
                         [("PARA", 20, 20, "none"), ("AMOX", 14, 7, "none")]),
            prescription("79001BBBBBBB-n", "79001", "n", DAY + timedelta(hours=1),
                         [("MORPH", 10, 10, "narcotic"), ("PARA", 10, 0, "none")]),
            prescription("79002CCCCCCC-h", "79002", "h", DAY + timedelta(hours=16),  # next day VN
                         [("DIAZ", 30, 0, "psychotropic")], status="cancelled"),
            prescription("79002DDDDDDD-c", "79002", "c", DAY - timedelta(days=40),  # outside
                         [("PARA", 99, 99, "none")]),
    ]:
        assert store.insert(document)


def get(client: FlaskClient, headers: dict, **params) -> dict:
    answer = client.get("/v2/reports/summary", query_string=params, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def window() -> dict[str, str]:
    return {"from": (DAY - timedelta(days=1)).isoformat(),
            "to": (DAY + timedelta(days=2)).isoformat()}


def test_by_facility_with_controlled_drugs_apart(client: FlaskClient, auth_headers,
                                                 prescriptions) -> None:
    body = get(client, auth_headers("regulator", "SYT79"), group_by="facility", **window())
    first, second = body["groups"]
    assert first == {"key": "79001", "prescriptions": 2, "cancelled": 0, "lines": 4,
                     "prescribed": 54, "dispensed": 37,
                     "controlled": {"prescriptions": 1, "lines": 1, "prescribed": 10,
                                    "dispensed": 10}}
    assert second["key"] == "79002" and second["cancelled"] == 1
    assert second["controlled"] == {"prescriptions": 1, "lines": 1, "prescribed": 30,
                                    "dispensed": 0}
    assert body["totals"]["prescriptions"] == 3 and body["totals"]["lines"] == 5
    assert body["totals"]["controlled"]["prescriptions"] == 2


def test_by_drug_counts_each_prescription_once_in_the_totals(client: FlaskClient, auth_headers,
                                                             prescriptions) -> None:
    body = get(client, auth_headers("regulator", "SYT79"), group_by="drug", **window())
    by_drug = {group["key"]: group for group in body["groups"]}
    assert set(by_drug) == {"PARA", "AMOX", "MORPH", "DIAZ"}
    assert (by_drug["PARA"]["prescriptions"], by_drug["PARA"]["prescribed"],
            by_drug["PARA"]["dispensed"]) == (2, 30, 20)
    assert by_drug["MORPH"]["controlled"]["dispensed"] == 10
    assert by_drug["PARA"]["controlled"]["lines"] == 0
    assert body["totals"]["prescriptions"] == 3


def test_by_type_and_by_vietnamese_day(client: FlaskClient, auth_headers, prescriptions) -> None:
    headers = auth_headers("regulator", "SYT79")
    types = get(client, headers, group_by="type", **window())
    assert [(g["key"], g["prescriptions"]) for g in types["groups"]] == [
        ("c", 1), ("h", 1), ("n", 1)]
    days = get(client, headers, group_by="day", **window())
    assert [(g["key"], g["prescriptions"]) for g in days["groups"]] == [
        ("2026-03-02", 2), ("2026-03-03", 1)]
    everything = get(client, headers, group_by="facility")
    assert everything["totals"]["prescriptions"] == 4 and everything["from"] is None


def test_an_empty_period_has_zero_totals(client: FlaskClient, auth_headers) -> None:
    body = get(client, auth_headers("regulator", "SYT79"), group_by="day")
    assert body["groups"] == [] and body["totals"]["prescriptions"] == 0


@pytest.mark.parametrize("params, parameter", [
    ({}, "group_by"),
    ({"group_by": "colour"}, "group_by"),
    ({"group_by": "day", "from": "2026-03-02"}, "from"),
    ({"group_by": "day", "from": "2026-03-02T00:00:00+07:00",
      "to": "2026-03-01T00:00:00+07:00"}, "to"),
    ({"group_by": "day", "page": "2"}, "page"),
])
def test_bad_parameters_are_422_naming_them(client: FlaskClient, auth_headers, params,
                                            parameter) -> None:
    answer = client.get("/v2/reports/summary", query_string=params,
                        headers=auth_headers("regulator", "SYT79"))
    assert answer.status_code == 422
    assert parameter in [item.get("parameter") for item in answer.get_json()["errors"]]


def test_only_regulators_read_reports(client: FlaskClient, auth_headers) -> None:
    assert client.get("/v2/reports/summary?group_by=day").status_code == 401
    assert client.get("/v2/reports/summary?group_by=day",
                      headers=auth_headers("clinic", "79001")).status_code == 403
