"""The pharmacist's pages: lookup by code or printed QR text, the prescription page, the
dispense form with its errors beside their fields, substitution, packs, double submits, and
the pharmacy's own history; each audited as its API twin, with the person named."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.web.context import services
from tests.support.audit import audit_log
from tests.support.console import Browser, Person, field_error
from tests.support.prescriptions import AMOXICILLIN, PARACETAMOL, PARACETAMOL_TWIN, dispense, gtin_of, issued, pack

LOOKUP = "/console/pharmacy/lookup"


@pytest.fixture
def pharmacist(world: dict[str, Any], app: Flask) -> Person:
    party = world["parties"]["pharmacy_1"]
    user, password = services(app).users.create(party_id=party.client_id, role="pharmacy",
                                                username="duoc.si.lan")
    return Person(user.username, password, party.client_id)


@pytest.fixture
def signed(browser: Browser, pharmacist: Person) -> Browser:
    browser.login(pharmacist)
    return browser


def remaining(html: str, line: int) -> str:
    found = re.search(rf'id="remaining-{line}">([^<]*)<', html)
    assert found, f"no remaining quantity for line {line}"
    return found.group(1)


def viewed(database, code: str) -> list[dict[str, Any]]:
    return list(audit_log(database).find({"action": "prescription.viewed",
                                               "object.id": code}).sort("_id", 1))


def test_lookup_by_code_shows_patient_status_validity_and_each_line(
        signed: Browser, client: FlaskClient, world: dict, database) -> None:
    code = issued(client, world)
    home = signed.get("/console/pharmacy/").get_data(as_text=True)
    assert '<label for="f-code">' in home and 'name="code"' in home
    found = signed.post(LOOKUP, {"code": f"  {code}\n"})
    assert found.status_code == 303 and found.headers["Location"] == f"/console/pharmacy/rx/{code}"
    page = signed.get(found.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Nguyễn Văn An" in html and "15/03/1990" in html and "Chưa bán" in html
    assert 'id="rx-valid"' in html and "Mua thuốc đến hết" in html
    assert "Panacetal" in html or PARACETAMOL in html
    assert remaining(html, 0) == "20" and remaining(html, 1) == "14"
    for name in ("qty-0", "qty-1", "packs-0", "packs-1", "sub-0", "sub-1", "ma_hoa_don"):
        assert f'name="{name}"' in html and f'<label for="f-{name}">' in html
    events = viewed(database, code)
    assert len(events) == 1
    assert events[0]["actor"] == {"party_id": "pharmacy-NT0001", "role": "pharmacy",
                                  "user": "duoc.si.lan"}
    assert events[0]["patient_hash"] and events[0]["details"] is None
    # The pharmacy is told of a later cancellation, as when it reads through the API.
    assert database["prescriptions"].find_one({"_id": code})["viewed_by_pharmacies"] == ["NT0001"]


def test_lookup_by_the_printed_qr_text(signed: Browser, app: Flask, client: FlaskClient,
                                       world: dict, database) -> None:
    code = issued(client, world)
    stored = database["prescriptions"].find_one({"_id": code})
    qr_text = services(app).qr.issue(code, stored["content_sha256"])
    found = signed.post(LOOKUP, {"code": qr_text + "\r\n"})
    assert found.headers["Location"] == f"/console/pharmacy/rx/{code}"
    assert signed.get(found.headers["Location"]).status_code == 200
    events = viewed(database, code)
    assert len(events) == 1  # the lookup is the view: the page it leads to adds none
    assert events[0]["details"]["via"] == "qr" and events[0]["actor"]["user"] == "duoc.si.lan"
    assert signed.get(f"/console/pharmacy/rx/{code}").status_code == 200
    assert len(viewed(database, code)) == 2


def test_forged_qr_text_and_unknown_codes_are_explained_beside_the_field(
        signed: Browser, app: Flask, client: FlaskClient, world: dict, database) -> None:
    code = issued(client, world)
    stored = database["prescriptions"].find_one({"_id": code})
    genuine = services(app).qr.issue(code, stored["content_sha256"])
    head, payload, signature = genuine.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    refused = signed.post(LOOKUP, {"code": forged})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert field_error(html, "code") and 'aria-invalid="true"' in html
    failure = audit_log(database).find_one({"action": "prescription.viewed",
                                                 "outcome": "failure"})
    assert "qr.forged" in failure["details"]["codes"]
    assert failure["actor"]["user"] == "duoc.si.lan"
    unknown = signed.post(LOOKUP, {"code": "79001NOTHERE-c"})
    assert unknown.status_code == 404
    assert field_error(unknown.get_data(as_text=True), "code") == \
        "Không tìm thấy đơn thuốc có mã này"
    empty = signed.post(LOOKUP, {"code": "  "})
    assert empty.status_code == 422
    assert field_error(empty.get_data(as_text=True), "code") == "Nhập hoặc quét mã đơn thuốc"


def test_a_dispense_shows_the_new_remaining_quantities_and_is_audited(
        signed: Browser, client: FlaskClient, world: dict, database) -> None:
    code = issued(client, world)
    signed.get(f"/console/pharmacy/rx/{code}")
    serial = pack(gtin_of(world, PARACETAMOL), "SN-C1")
    done = signed.post(f"/console/pharmacy/rx/{code}/dispense",
                       {"qty-0": "10", "packs-0": serial + "\n\n", "qty-1": "",
                        "ma_hoa_don": "HD-0042", "nonce": "n-1"})
    assert done.status_code == 303 and done.headers["Location"] == f"/console/pharmacy/rx/{code}"
    html = signed.get(done.headers["Location"]).get_data(as_text=True)
    assert "Đã ghi nhận lần bán" in html
    assert remaining(html, 0) == "10" and remaining(html, 1) == "14"
    assert "Đã bán một phần" in html and "HD-0042" in html
    stored = database["prescriptions"].find_one({"_id": code})
    assert [line["dispensed"] for line in stored["lines"]] == [10, 0]
    assert stored["dispenses"][0]["ma_hoa_don"] == "HD-0042"
    assert database["dispensed_packs"].count_documents({}) == 1
    event = audit_log(database).find_one({"action": "prescription.dispensed"})
    assert event["outcome"] == "success" and event["actor"]["user"] == "duoc.si.lan"
    assert event["details"]["dispense"] == stored["dispenses"][0]["id"]
    # The redirect after the dispense is not a second look-up.
    assert len(viewed(database, code)) == 1


def test_errors_appear_beside_their_field_and_nothing_is_recorded(
        signed: Browser, client: FlaskClient, world: dict, database) -> None:
    code = issued(client, world)
    url = f"/console/pharmacy/rx/{code}/dispense"
    signed.get(f"/console/pharmacy/rx/{code}")
    typed = signed.post(url, {"qty-0": "mười", "qty-1": "", "packs-1": "(01)123"})
    assert typed.status_code == 422
    html = typed.get_data(as_text=True)
    assert "Số lượng phải là một số" in field_error(html, "qty-0")
    assert "Nhập số lượng bán" in field_error(html, "qty-1")
    assert 'value="mười"' in html  # what was typed stays
    over = signed.post(url, {"qty-0": "5", "qty-1": "15", "nonce": "n-2"})
    assert over.status_code == 409
    html = over.get_data(as_text=True)
    assert "Vượt số lượng kê đơn: còn lại 14" in field_error(html, "qty-1")
    assert field_error(html, "qty-0") == ""
    packs = signed.post(url, {"qty-0": "2", "packs-0": "(01)08930000000019(21)X\nnot-a-code",
                              "nonce": "n-3"})
    assert packs.status_code == 422
    shown = field_error(packs.get_data(as_text=True), "packs-0")
    assert "Hộp thứ 1:" in shown and "Hộp thứ 2:" in shown
    substitute = signed.post(url, {"qty-0": "2", "sub-0": AMOXICILLIN, "nonce": "n-4"})
    assert substitute.status_code == 422
    assert "cùng hoạt chất" in field_error(substitute.get_data(as_text=True), "sub-0")
    invoice = signed.post(url, {"qty-0": "2", "ma_hoa_don": "X" * 21, "nonce": "n-5"})
    assert "Mã hóa đơn" in field_error(invoice.get_data(as_text=True), "ma_hoa_don")
    nothing = signed.post(url, {"qty-0": "", "qty-1": "", "nonce": "n-6"})
    assert nothing.status_code == 422
    assert "Cần ít nhất một dòng thuốc bán" in nothing.get_data(as_text=True)
    stored = database["prescriptions"].find_one({"_id": code})
    assert stored["dispenses"] == [] and [line["dispensed"] for line in stored["lines"]] == [0, 0]
    assert database["dispensed_packs"].count_documents({}) == 0
    failures = audit_log(database).count_documents({"action": "prescription.dispensed",
                                                          "outcome": "failure"})
    assert failures == 5  # the service's refusals, not the form's own reading errors


def test_a_substitute_is_chosen_from_the_catalog(signed: Browser, client: FlaskClient,
                                                 world: dict, database) -> None:
    code = issued(client, world)
    html = signed.get(f"/console/pharmacy/rx/{code}").get_data(as_text=True)
    options = re.search(r'<select id="f-sub-0" name="sub-0"[^>]*>(.*?)</select>', html, re.S)
    assert options and f'value="{PARACETAMOL_TWIN}"' in options.group(1)
    assert AMOXICILLIN not in options.group(1)
    done = signed.post(f"/console/pharmacy/rx/{code}/dispense",
                       {"qty-0": "20", "sub-0": PARACETAMOL_TWIN, "qty-1": "14",
                        "nonce": "n-sub"})
    assert done.status_code == 303
    stored = database["prescriptions"].find_one({"_id": code})
    item = stored["dispenses"][0]["items"][0]
    assert item["ma_thuoc"] == PARACETAMOL_TWIN and item["substituted"] is True
    page = signed.get(f"/console/pharmacy/rx/{code}").get_data(as_text=True)
    assert "Đã bán đủ" in page and "không còn bán được" in page
    assert 'name="qty-0"' not in page  # nothing left to sell


def test_a_double_submit_records_one_dispense(signed: Browser, client: FlaskClient,
                                              world: dict, database) -> None:
    code = issued(client, world)
    html = signed.get(f"/console/pharmacy/rx/{code}").get_data(as_text=True)
    nonce = re.search(r'name="nonce" value="([^"]+)"', html).group(1)
    form = {"qty-0": "4", "nonce": nonce}
    assert signed.post(f"/console/pharmacy/rx/{code}/dispense", form).status_code == 303
    assert signed.post(f"/console/pharmacy/rx/{code}/dispense", form).status_code == 303
    stored = database["prescriptions"].find_one({"_id": code})
    assert len(stored["dispenses"]) == 1 and stored["lines"][0]["dispensed"] == 4


def test_a_cancelled_prescription_cannot_be_sold(signed: Browser, client: FlaskClient,
                                                 world: dict) -> None:
    code = issued(client, world)
    signed.get(f"/console/pharmacy/rx/{code}")
    client.post(f"/v2/prescriptions/{code}/cancel", json={"ly_do": "Đổi thuốc"},
                headers=world["h"]["doctor_a"])
    refused = signed.post(f"/console/pharmacy/rx/{code}/dispense", {"qty-0": "1"})
    assert refused.status_code == 409
    html = refused.get_data(as_text=True)
    assert "Đơn thuốc đã bị hủy" in html and "Lý do: Đổi thuốc" in html


def test_the_history_shows_this_pharmacy_s_dispenses_only(
        signed: Browser, client: FlaskClient, world: dict) -> None:
    mine = issued(client, world)
    theirs = issued(client, world)
    signed.get(f"/console/pharmacy/rx/{mine}")
    signed.post(f"/console/pharmacy/rx/{mine}/dispense", {"qty-1": "7", "ma_hoa_don": "HD-7",
                                                          "nonce": "h-1"})
    assert dispense(client, world["h"]["pharmacy_2"], theirs,
                    [{"line": 0, "so_luong_ban": 3}], invoice="HD-OTHER").status_code == 201
    html = signed.get("/console/pharmacy/history").get_data(as_text=True)
    assert mine in html and "HD-7" in html and "× 7" in html
    assert theirs not in html and "HD-OTHER" not in html


def test_a_code_typed_from_paper_is_found(signed: Browser, client: FlaskClient,
                                         world: dict) -> None:
    code = issued(client, world)
    typed = code[:12].replace("0", "O").replace("1", "l").lower()
    found = signed.post(LOOKUP, {"code": f"{typed[:5]} {typed[5:]}{code[12:].upper()}"})
    assert found.status_code == 303, found.get_data(as_text=True)[:500]
    assert found.headers["Location"] == f"/console/pharmacy/rx/{code}"


def summary(html: str) -> str:
    """The error summary at the top of the page ('' when none)."""
    found = re.search(r'<div class="alert error-summary" role="alert"[^>]*>(.*?)</div>', html, re.S)
    return found.group(1) if found else ""


def test_a_refused_dispense_says_every_problem_at_the_top_with_links(
        signed: Browser, client: FlaskClient, world: dict) -> None:
    code = issued(client, world)
    signed.get(f"/console/pharmacy/rx/{code}")
    refused = signed.post(f"/console/pharmacy/rx/{code}/dispense",
                          {"qty-0": "mười", "qty-1": "15", "ma_hoa_don": "HD-77"})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    top = summary(html)
    assert top and html.index("error-summary") < html.index('id="rx-valid"')  # above the rest
    assert '<a href="#f-qty-0">Dòng 1, số lượng bán: Số lượng phải là một số' in top
    assert '<a href="#f-qty-1">Dòng 2, số lượng bán: Vượt số lượng kê đơn: còn lại 14' in top
    assert "2 lỗi" in top
    assert "Vượt số lượng kê đơn" in field_error(html, "qty-1")  # the first answer says it
    assert 'value="mười"' in html and 'value="15"' in html and 'value="HD-77"' in html


def test_the_api_says_an_over_quantity_with_the_other_problems(client: FlaskClient,
                                                               world: dict) -> None:
    code = issued(client, world)
    answer = dispense(client, world["h"]["pharmacy_1"], code, [
        {"line": 0, "so_luong_ban": 2, "packs": ["not-a-code"]},
        {"line": 1, "so_luong_ban": 15}])
    assert answer.status_code == 422
    codes = {(item["pointer"], item["code"]) for item in answer.get_json()["errors"]}
    assert ("/items/0/packs/0", "dispense.pack_invalid") in codes
    assert ("/items/1/so_luong_ban", "dispense.over_quantity") in codes
