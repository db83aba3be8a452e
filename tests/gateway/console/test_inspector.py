"""The inspector's pages: the dashboard's charts and their numbers, the audit search and its
exports, a patient's access log, the integrity panel, the controlled-drug overlaps with the
facilities and prescribers most often involved, and a prescription read-only."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.audit.integrity import DatabaseSource
from gateway.audit.verify import read_export, verify_log
from gateway.web.context import services
from signing.jws import verify_detached
from tests.support.audit import audit_log
from tests.support.console import Browser, Person, field_error
from tests.support.prescriptions import issued


@pytest.fixture
def inspector(world: dict[str, Any], app: Flask, browser: Browser) -> Browser:
    party = world["parties"]["regulator"]
    user, password = services(app).users.create(party_id=party.client_id, role="regulator",
                                                username="thanh.tra")
    console = services(app).console
    console.policy = replace(console.policy, dashboard_cache_seconds=0)  # see the last test
    browser.login(Person(user.username, password, party.client_id))
    return browser


def chart_rows(html: str, key: str) -> list[list[str]]:
    """The data table under a chart, as rows of cell texts."""
    figure = re.search(rf'<figure class="chart" id="chart-{key}">(.*?)</figure>', html, re.S)
    assert figure, key
    return [[re.sub(r"<[^>]+>", "", cell).strip()
             for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", figure.group(1).split("<tbody>")[1], re.S)]


def test_the_dashboard_draws_every_chart_as_svg_with_its_numbers(
        inspector: Browser, caught: dict[str, Any]) -> None:
    page = inspector.get("/console/inspector/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<script" not in html
    images = re.findall(r'<img src="data:image/svg\+xml;base64,([^"]+)" alt="([^"]+)"', html)
    assert len(images) == 6
    for encoded, alt in images:
        svg = base64.b64decode(encoded).decode("utf-8")
        assert svg.startswith("<svg")
        assert not re.search(r'(src|href)="(https?:)?//', svg)  # nothing fetched from anywhere
        assert alt
    assert 'id="total-prescriptions">3<' in html
    assert dict(chart_rows(html, "per-type")) == {"Thuốc thường (c)": "0", "Gây nghiện (n)": "1",
                                                  "Hướng thần (h)": "2",
                                                  "Y học cổ truyền (y)": "0"}
    facilities = {row[0]: row[1] for row in chart_rows(html, "facilities")}
    assert facilities == {"Bệnh viện Quận Một (79011)": "2", "Phòng khám Đống Đa (01022)": "1"}
    controlled = chart_rows(html, "controlled")
    assert len(controlled) == 3 and all(row[2] == "0" for row in controlled)
    deliveries = {row[0]: row[1:] for row in chart_rows(html, "deliveries")}
    assert deliveries["Đang chờ gửi"] == ["3", "0"] and deliveries["Bị từ chối"] == ["0", "0"]
    per_day = chart_rows(html, "per-day")
    assert len(per_day) == 30 and per_day[-1][1:] == ["3", "3"]
    narrow = inspector.post("/console/inspector/", {"from": "2020-01-01", "to": "2020-01-31"})
    assert 'id="total-prescriptions">0<' in narrow.get_data(as_text=True)
    bad = inspector.post("/console/inspector/", {"from": "2020-02-01", "to": "2020-01-01"})
    assert bad.status_code == 422
    assert field_error(bad.get_data(as_text=True), "to") == "Ngày kết thúc phải sau ngày bắt đầu"


def test_the_audit_search_filters_by_person_and_pages(inspector: Browser, client: FlaskClient,
                                                       world: dict) -> None:
    code = issued(client, world)
    inspector.get(f"/console/inspector/rx/{code}")
    mine = inspector.post("/console/inspector/audit", {"user": "thanh.tra"})
    html = mine.get_data(as_text=True)
    assert mine.status_code == 200
    assert html.count('class="outcome-success"') == 2  # the login and the prescription read
    assert f'href="/console/inspector/rx/{code}"' in html and "Xem đơn thuốc" in html
    family = inspector.post("/console/inspector/audit", {"action": "prescription.*",
                                                         "prescription": code})
    assert family.get_data(as_text=True).count("<tr class=\"outcome-") == 2  # submitted, viewed
    bad = inspector.post("/console/inspector/audit", {"action": "nothing.real", "patient": "x y",
                                                      "from": "2030-13-01"})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    for name in ("action", "patient", "from"):
        assert field_error(text, name), name


def test_exports_carry_the_person_and_verify_against_the_sealed_log(
        inspector: Browser, app: Flask, client: FlaskClient, world: dict) -> None:
    code = issued(client, world)
    inspector.get(f"/console/inspector/rx/{code}")
    services(app).sealer.seal()
    exported = inspector.client.post("/console/inspector/audit/export",
                                     data={"format": "csv", "csrf_token": inspector.token})
    assert exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert list(rows[0])[-1] == "actor_user"
    viewed = [row for row in rows if row["action"] == "prescription.viewed"]
    assert [row["actor_user"] for row in viewed] == ["thanh.tra"]
    ndjson = inspector.client.post("/console/inspector/audit/export",
                                   data={"format": "ndjson", "csrf_token": inspector.token})
    assert ndjson.mimetype == "application/x-ndjson"
    events = list(read_export(ndjson.get_data(as_text=True).splitlines()))
    assert any(event["actor"].get("user") == "thanh.tra" for event in events)
    report = verify_log(events, DatabaseSource(services(app).storage.database),
                        services(app).signatures.jwks(), verify_signature=verify_detached)
    assert report.ok, report.message
    missing = inspector.post("/console/inspector/audit/export", {"format": "xml"})
    assert missing.status_code == 422


def test_the_access_log_names_the_person_and_is_itself_audited(
        inspector: Browser, client: FlaskClient, world: dict, database) -> None:
    code = issued(client, world)
    client.get(f"/v2/prescriptions/{code}", headers=world["h"]["pharmacy_1"])
    bad = inspector.post("/console/inspector/access-log", {"cccd": "0790"})
    assert bad.status_code == 422 and field_error(bad.get_data(as_text=True), "cccd")
    found = inspector.post("/console/inspector/access-log", {"cccd": "079090001234"})
    html = found.get_data(as_text=True)
    assert "pharmacy-NT0001" in html and "Xem đơn thuốc" in html and code in html
    event = audit_log(database).find_one({"action": "patient.access_log_viewed"})
    assert event["actor"]["user"] == "thanh.tra" and event["patient_hash"]
    assert "079090001234" not in json.dumps(event, default=str)


def test_the_integrity_panel_checks_signature_and_consistency(
        inspector: Browser, app: Flask, client: FlaskClient, world: dict, database) -> None:
    unsealed = inspector.get("/console/inspector/integrity").get_data(as_text=True)
    assert "chưa được niêm phong" in unsealed
    sealer = services(app).sealer
    sealer.seal()
    first = inspector.get("/console/inspector/integrity").get_data(as_text=True)
    assert "Toàn vẹn." in first and "bản tóm tắt đầu tiên" in first
    issued(client, world)
    sealer.seal()
    html = inspector.get("/console/inspector/integrity").get_data(as_text=True)
    assert "Toàn vẹn." in html and "nối tiếp đúng" in html and 'id="previous-head"' in html
    heads = list(database["audit_tree_heads"].find().sort("_id", 1))
    database["audit_tree_heads"].update_one({"_id": heads[0]["_id"]},
                                            {"$set": {"root_hash": bytes(32)}})
    tampered = inspector.get("/console/inspector/integrity").get_data(as_text=True)
    assert "CẢNH BÁO" in tampered and "Toàn vẹn." not in tampered


def test_overlaps_rank_the_facilities_and_prescribers_involved(
        inspector: Browser, caught: dict[str, Any]) -> None:
    html = inspector.get("/console/inspector/overlaps").get_data(as_text=True)
    facilities = re.search(r'id="rank-facilities".*?<ol>(.*?)</ol>', html, re.S).group(1)
    assert "Bệnh viện Quận Một (79011) — <strong>2</strong>" in facilities
    assert "Phòng khám Đống Đa (01022) — <strong>2</strong>" in facilities
    prescribers = re.search(r'id="rank-prescribers".*?<ol>(.*?)</ol>', html, re.S).group(1)
    assert "BS Nguyễn Văn Một" in prescribers and "BS Trần Thị Hai" in prescribers
    assert "Từ chối" in html and "Cảnh báo" in html
    assert f'href="/console/inspector/rx/{caught["first"]}"' in html


def test_a_prescription_read_only_with_its_deliveries(inspector: Browser, client: FlaskClient,
                                                      world: dict) -> None:
    code = issued(client, world)
    html = inspector.get(f"/console/inspector/rx/{code}").get_data(as_text=True)
    assert "Nguyễn Văn An" in html and "Chuyển giao" in html
    assert "<form" not in html.split('<main id="main"')[1].split("</main>")[0]


def test_the_dashboard_reuses_its_figures_for_a_while(inspector: Browser, app: Flask,
                                                      client: FlaskClient, world: dict) -> None:
    def total() -> str:
        html = inspector.get("/console/inspector/").get_data(as_text=True)
        return re.search(r'id="total-prescriptions">([^<]*)<', html).group(1)

    console = services(app).console
    console.policy = replace(console.policy,
                             dashboard_cache_seconds=services(app).settings.console_dashboard_cache_seconds)
    issued(client, world)
    assert total() == "1"
    issued(client, world)
    assert total() == "1"  # within CONSOLE_DASHBOARD_CACHE_SECONDS
    console.policy = replace(console.policy, dashboard_cache_seconds=0)
    assert total() == "2"


def test_dates_are_day_first_whatever_the_browser_language(inspector: Browser) -> None:
    page = inspector.get("/console/inspector/").get_data(as_text=True)
    assert 'type="date"' not in page
    assert re.search(r'id="f-from" name="from" type="text" value="\d\d/\d\d/\d{4}"', page)
    assert 'placeholder="dd/mm/yyyy"' in page and 'pattern="' in page
    chosen = inspector.post("/console/inspector/", {"from": "1/1/2020", "to": "31/01/2020"})
    html = chosen.get_data(as_text=True)
    assert chosen.status_code == 200 and 'id="total-prescriptions">0<' in html
    assert 'value="01/01/2020"' in html and 'value="31/01/2020"' in html
    american = inspector.post("/console/inspector/", {"from": "01/31/2020"})
    assert american.status_code == 422
    assert "ngày/tháng/năm" in field_error(american.get_data(as_text=True), "from")
    audit = inspector.get("/console/inspector/audit").get_data(as_text=True)
    assert 'type="date"' not in audit and re.search(r'name="from" type="text" value="\d\d/', audit)


def next_page_fields(html: str) -> dict[str, str]:
    """The hidden fields of a listing's "next page" form: its filters and the cursor."""
    form = next(form for form in re.findall(r"<form .*?</form>", html, re.S)
                if 'name="cursor"' in form)
    return {name: value for name, value in
            re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)
            if name != "csrf_token"}


def listed(html: str) -> list[str]:
    return re.findall(r'<tr class="outcome-[^"]*">.*?</tr>|<tbody>.*?</tbody>', html, re.S)


def test_each_listing_pages_with_its_filters_kept(
        inspector: Browser, app: Flask, client: FlaskClient, world: dict,
        caught: dict[str, Any]) -> None:
    """One row a page: the audit search, a person's access log and the overlaps each offer a
    next page that carries the filters and a cursor, and that page shows the next row."""
    console = services(app).console
    console.policy = replace(console.policy, page_size=1)
    code = issued(client, world)
    inspector.get(f"/console/inspector/rx/{code}")
    for _ in range(2):
        client.get(f"/v2/prescriptions/{code}", headers=world["h"]["pharmacy_1"])
    today = inspector.get("/console/inspector/overlaps").get_data(as_text=True)
    window = {name: re.search(rf'name="{name}"[^>]*value="([^"]+)"', today).group(1)
              for name in ("from", "to")}  # the default window, as the form shows it
    pages = [("/console/inspector/audit", {"user": "thanh.tra"}),
             ("/console/inspector/access-log", {"cccd": "079090001234"}),
             ("/console/inspector/overlaps", window)]
    for path, filters in pages:
        first = inspector.post(path, filters)
        assert first.status_code == 200, path
        fields = next_page_fields(first.get_data(as_text=True))
        assert fields["cursor"], path
        assert {name: value for name, value in fields.items()
                if value and name != "cursor"} == filters, path
        second = inspector.post(path, fields)
        assert second.status_code == 200, path
        assert listed(second.get_data(as_text=True)) != listed(first.get_data(as_text=True)), path
