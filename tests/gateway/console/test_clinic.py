"""Clinic staff's pages: the facility's prescriptions with filters and pages, each one's
deliveries, cancelling with a reason, printing; each audited as its API twin."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.web.context import services
from tests.support.audit import audit_log
from tests.support.console import Browser, Person, field_error
from tests.support.prescriptions import dispense, issued, prescription, submit


@pytest.fixture
def staff(world: dict[str, Any], app: Flask, browser: Browser) -> Browser:
    party = world["parties"]["clinic_a"]
    user, password = services(app).users.create(party_id=party.client_id, role="clinic",
                                                username="le.tan")
    browser.login(Person(user.username, password, party.client_id))
    return browser


def codes_listed(html: str) -> list[str]:
    return re.findall(r'href="/console/clinic/rx/([^"]+)"', html)


def test_the_list_holds_the_facility_s_prescriptions_and_filters(
        staff: Browser, client: FlaskClient, world: dict) -> None:
    first = issued(client, world)
    second = issued(client, world, ma_dinh_danh_cong_dan="079090009999")
    other = submit(client, world["h"]["clinic_b"], prescription(ma_don_thuoc="01002ABCDEF1-c"))
    assert other.status_code == 201
    client.post(f"/v2/prescriptions/{first}/cancel", json={"ly_do": "Nhầm"},
                headers=world["h"]["doctor_a"])
    html = staff.get("/console/clinic/").get_data(as_text=True)
    assert codes_listed(html) == [second, first]  # newest first, own facility only
    cancelled = staff.post("/console/clinic/", {"status": "cancelled"}).get_data(as_text=True)
    assert codes_listed(cancelled) == [first] and "Đã hủy" in cancelled
    person = staff.post("/console/clinic/", {"patient": "079090009999"}).get_data(as_text=True)
    assert codes_listed(person) == [second]
    bad = staff.post("/console/clinic/", {"patient": "12", "from": "not-a-day"})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert field_error(page, "patient") == "CCCD gồm 12 chữ số"
    assert field_error(page, "from") == "Ngày không hợp lệ (ngày/tháng/năm, ví dụ 07/12/2026)"


def test_the_list_pages_with_a_cursor(make_app, make_party, demo_catalog_into) -> None:
    app = make_app(CONSOLE_PAGE_SIZE=2)
    demo_catalog_into(app)
    client = app.test_client()
    party, secret = services(app).parties.create(role="clinic", code="79001", name="PK",
                                                 address="1 Lê Lợi", phone="0283822123")
    token = client.post("/v2/auth/token", json={"grant_type": "client_credentials",
                                                "client_id": party.client_id,
                                                "client_secret": secret}).get_json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    made = [submit(client, headers, prescription()).get_json()["ma_don_thuoc"] for _ in range(3)]
    _, password = services(app).users.create(party_id=party.client_id, role="clinic",
                                             username="le.tan")
    browser = Browser(client)
    browser.login(Person("le.tan", password, party.client_id))
    first = browser.get("/console/clinic/").get_data(as_text=True)
    assert codes_listed(first) == made[::-1][:2]
    cursor = re.search(r'name="cursor" value="([^"]+)"', first).group(1)
    second = browser.post("/console/clinic/", {"cursor": cursor}).get_data(as_text=True)
    assert codes_listed(second) == made[:1] and 'name="cursor"' not in second


def test_a_prescription_page_shows_its_deliveries_and_dispenses(
        staff: Browser, client: FlaskClient, world: dict, database) -> None:
    code = issued(client, world)
    dispense(client, world["h"]["pharmacy_1"], code, [{"line": 0, "so_luong_ban": 5}])
    html = staff.get(f"/console/clinic/rx/{code}").get_data(as_text=True)
    assert "Hệ thống đơn thuốc quốc gia" in html and "Đang chờ gửi" in html
    assert "Báo cáo bán thuốc" in html and "NT0001" in html
    assert 'id="remaining-0">15<' in html
    event = audit_log(database).find_one({"action": "prescription.viewed"})
    assert event["actor"]["user"] == "le.tan" and event["actor"]["party_id"] == "clinic-79001"


def test_cancel_needs_a_reason_and_is_audited(staff: Browser, client: FlaskClient,
                                               world: dict, database) -> None:
    code = issued(client, world)
    staff.get(f"/console/clinic/rx/{code}")
    empty = staff.post(f"/console/clinic/rx/{code}/cancel", {"ly_do": "   "})
    assert empty.status_code == 422
    assert field_error(empty.get_data(as_text=True), "ly_do") == "Cần nêu lý do hủy đơn"
    assert database["prescriptions"].find_one({"_id": code})["status"] == "issued"
    forged = staff.post(f"/console/clinic/rx/{code}/cancel", {"ly_do": "x"}, token=False)
    assert forged.status_code == 400
    assert database["prescriptions"].find_one({"_id": code})["status"] == "issued"
    done = staff.post(f"/console/clinic/rx/{code}/cancel", {"ly_do": "Bệnh nhân đổi phác đồ"})
    assert done.status_code == 303
    html = staff.get(done.headers["Location"]).get_data(as_text=True)
    assert "Đã hủy đơn thuốc" in html and "Lý do: Bệnh nhân đổi phác đồ" in html
    assert "Hủy đơn thuốc" in html and 'name="ly_do"' not in html  # nothing left to cancel
    stored = database["prescriptions"].find_one({"_id": code})
    assert stored["status"] == "cancelled"
    assert stored["cancellation"]["by"] == "clinic-79001"
    event = audit_log(database).find_one({"action": "prescription.cancelled"})
    assert event["actor"]["user"] == "le.tan"
    again = staff.post(f"/console/clinic/rx/{code}/cancel", {"ly_do": "lần nữa"})
    assert again.status_code == 409 and "Đơn thuốc đã bị hủy" in again.get_data(as_text=True)


def test_another_facility_s_prescription_is_forbidden(staff: Browser, client: FlaskClient,
                                                      world: dict) -> None:
    theirs = submit(client, world["h"]["clinic_b"], prescription()).get_json()["ma_don_thuoc"]
    assert staff.get(f"/console/clinic/rx/{theirs}").status_code == 403
    assert staff.post(f"/console/clinic/rx/{theirs}/cancel", {"ly_do": "x"}).status_code == 403
    assert staff.get(f"/console/clinic/rx/{theirs}/print").status_code == 403
    assert staff.get("/console/clinic/rx/79001NOTHERE-c").status_code == 404


def test_print_pages_are_the_printable_prescription_and_are_audited(
        staff: Browser, client: FlaskClient, world: dict, database) -> None:
    code = issued(client, world)
    page = staff.get(f"/console/clinic/rx/{code}/print")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert code in html and "<svg" in html and "ĐƠN THUỐC" in html and "<script" not in html
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    pdf = staff.client.get(f"/console/clinic/rx/{code}/print.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    events = list(audit_log(database).find({"action": "prescription.printed"}))
    assert [e["details"]["format"] for e in events] == ["html", "pdf"]
    assert {e["actor"]["user"] for e in events} == {"le.tan"}


def test_a_refused_cancel_is_summarised_at_the_top_and_keeps_the_reason(
        staff: Browser, client: FlaskClient, world: dict) -> None:
    code = issued(client, world)
    staff.get(f"/console/clinic/rx/{code}")
    refused = staff.post(f"/console/clinic/rx/{code}/cancel", {"ly_do": " " + "x" * 2001})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    top = re.search(r'<div class="alert error-summary" role="alert"[^>]*>(.*?)</div>', html,
                    re.S).group(1)
    assert '<a href="#f-ly_do">Lý do hủy: ' in top
    assert html.index("error-summary") < html.index("Các lần bán thuốc")
    assert "x" * 2001 in html  # what was typed stays


def test_the_list_takes_dates_day_first(staff: Browser, client: FlaskClient, world: dict) -> None:
    code = issued(client, world)
    page = staff.get("/console/clinic/").get_data(as_text=True)
    assert 'type="date"' not in page and 'placeholder="dd/mm/yyyy"' in page
    today = datetime.now(timezone(timedelta(hours=7))).strftime("%d/%m/%Y")
    found = staff.post("/console/clinic/", {"from": today, "to": today}).get_data(as_text=True)
    assert codes_listed(found) == [code] and f'value="{today}"' in found
    none = staff.post("/console/clinic/", {"to": "01/01/2020"}).get_data(as_text=True)
    assert codes_listed(none) == []
