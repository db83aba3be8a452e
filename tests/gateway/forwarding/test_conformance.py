"""National conformance: a gateway whose registry is the strict simulator delivers every issued
prescription and dispense report on the first attempt, with nothing outside the national
interface; refusals are loud (deliveries view, metrics, the regulators' report)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import requests

from gateway.web.context import services
from tests.support.forwarding import deliveries_of, insert_prescriptions
from tests.support.prescriptions import PARACETAMOL, national_token, prescription

ROOT = Path(__file__).resolve().parents[3]


def test_everything_reaches_a_strict_registry_on_the_first_attempt(client, world, db, registry,
                                                                   make_forwarder) -> None:
    codes = []
    for index, national in enumerate((False, True)):
        body = prescription(ma_don_thuoc=f"79001CONF{index:03d}-c", signature="")
        if national:
            answer = client.post("/api/v1/gui-don-thuoc", json=body, headers=national_token(client, world))
        else:
            answer = client.post("/v2/prescriptions", json=body, headers=world["h"]["doctor_a"])
        assert answer.status_code in (200, 201), answer.get_json()
        codes.append(body["ma_don_thuoc"])
    native = client.post(f"/v2/prescriptions/{codes[0]}/dispenses", headers=world["h"]["pharmacy_1"],
                         json={"ma_hoa_don": "HD-1", "items": [{"line": 0, "so_luong_ban": 5}]})
    assert native.status_code == 201, native.get_json()
    report = client.post("/api/v1/cap-nhat-don-thuoc", headers=world["h"]["pharmacy_1"], json={
        "ma_don_thuoc": codes[1], "ma_hoa_don": "HD-2",
        "thong_tin_thuoc": [{"ma_thuoc_da_ke_don": PARACETAMOL, "so_luong_ban": 2}]})
    assert report.status_code == 200, report.get_json()

    make_forwarder().run_until_idle()

    assert registry.refused == []
    for code in codes:
        for delivery in deliveries_of(db, code):
            assert (delivery["state"], delivery["attempts"]) == ("delivered", 1), delivery
    sent = registry.prescriptions[codes[1]]
    assert sent["ngay_sinh_benh_nhan"].count("/") == 2 and "T" not in sent["ngay_gio_ke_don"]
    assert all("national_code" not in line for line in sent["thong_tin_don_thuoc"])
    pharmacy = services(client.application).parties.get(world["parties"]["pharmacy_1"].client_id)
    for (code, invoice), body in registry.dispenses.items():
        assert body["ma_dinh_danh_co_so_cung_ung_thuoc"] == pharmacy.code
        assert body["ten_co_so_cung_ung_thuoc"] == pharmacy.name
        assert body["so_dien_thoai_co_so_cung_ung_thuoc"] == pharmacy.phone
        assert body["dia_chi_co_so_cung_ung_thuoc"] == pharmacy.address
        assert invoice in ("HD-1", "HD-2") and code in codes


def test_the_pharmacy_lookup_is_the_national_document_naming_prescriber_and_facility(
        client, world) -> None:
    body = prescription(ma_don_thuoc="79001LOOK001-c")
    assert client.post("/v2/prescriptions", json=body, headers=world["h"]["doctor_a"]).status_code == 201
    answer = client.get("/api/v1/thong-tin-don-thuoc/79001LOOK001-c", headers=world["h"]["pharmacy_1"])
    assert answer.status_code == 200, answer.get_json()
    found = answer.get_json()
    parties = services(client.application).parties
    doctor, clinic = parties.get(world["parties"]["doctor_a"].client_id), parties.find_national("79001")
    assert found["ten_bac_si"] == doctor.name
    assert found["ten_co_so_kham_chua_benh"] == clinic.name
    assert found["so_dien_thoai_co_so_kham_chua_benh"] == clinic.phone and clinic.phone
    assert found["ngay_sinh_benh_nhan"].count("/") == 2
    assert all("national_code" not in line for line in found["thong_tin_don_thuoc"])
    assert found["thong_tin_don_thuoc"][0]["so_luong_con_lai"] == 20


def test_a_refusal_is_visible_in_the_deliveries_view_metrics_and_report(
        app, client, auth_headers, db, registry, make_forwarder) -> None:
    [code] = insert_prescriptions(db, 1)
    registry.reject_codes = {code}
    make_forwarder().run_until_idle()
    [delivery] = deliveries_of(db, code)
    assert delivery["state"] == "failed_permanent"
    shown = client.get(f"/v2/prescriptions/{code}/deliveries",
                       headers=auth_headers("clinic", "79001")).get_json()["deliveries"][0]
    assert shown["refusal"] == {"thong_tin_don_thuoc": ["Mã thuốc không hợp lệ"]}
    regulator = auth_headers("regulator", "BYT")
    report = client.get("/v2/reports/deliveries", headers=regulator)
    assert report.status_code == 200, report.get_json()
    body = report.get_json()
    [refused] = body["refused"]
    assert refused["ma_don_thuoc"] == code and refused["refusal"] == shown["refusal"]
    assert {"state": "failed_permanent", "target": "registry", "count": 1} in body["counts"]
    services(app).delivery_metrics.cache_seconds = 0
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'erx_deliveries_refused{target="registry"} 1.0' in metrics
    assert 'erx_forward_refused_total{target="registry"}' in metrics
    assert client.get("/v2/reports/deliveries", headers=auth_headers("clinic", "79002")).status_code == 403
    assert client.get("/v2/reports/deliveries?limit=0", headers=regulator).status_code == 422


def test_the_strict_simulator_refuses_what_the_interface_does_not_have(registry) -> None:
    session = requests.Session()
    token = session.post(registry.url + registry.LOGIN, json={
        "ma_lien_thong_co_so_kham_chua_benh": registry.facility_code,
        "password": registry.password}, timeout=10).json()["token"]
    answer = session.post(registry.url + registry.SEND, headers={"Authorization": f"Bearer {token}"},
                          json={"ma_don_thuoc": "79001ABCDEFG-c", "ngay_sinh_benh_nhan": "1980-02-01",
                                "national_code": "X"}, timeout=10)
    assert answer.status_code == 400
    body = answer.json()
    assert body["success"] is False and body["checksum"] is None
    assert {"national_code", "ngay_sinh_benh_nhan", "ho_ten_benh_nhan"} <= set(body["error"])
    assert registry.prescriptions == {} and len(registry.refused) == 1


def test_registry_sim_runs_on_its_own(tmp_path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "registry-sim", "--port", "0"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        line = process.stdout.readline()  # blocks until it serves (or exits)
        assert "national registry simulator on http://127.0.0.1:" in line, line
        url = line.split(" on ")[1].split()[0]
        token = requests.post(url + "/api/auth/dang-nhap-co-so-kham-chua-benh", json={
            "ma_lien_thong_co_so_kham_chua_benh": "79001", "password": "registry-pass"},
            timeout=10).json()["token"]
        refused = requests.post(url + "/api/v1/cap-nhat-don-thuoc", json={"ma_don_thuoc": "x"},
                                headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert refused.status_code == 400 and "thong_tin_thuoc" in refused.json()["error"]
        recorded = requests.get(url + "/_simulator/messages", timeout=10).json()
        assert recorded["refused"][0]["path"] == "/api/v1/cap-nhat-don-thuoc"
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()


def test_a_pharmacy_without_contact_details_cannot_dispense_where_reports_are_required(
        app, client, world) -> None:
    body = prescription(ma_don_thuoc="79001NOCONT1-c")
    assert client.post("/v2/prescriptions", json=body, headers=world["h"]["doctor_a"]).status_code == 201
    found = services(app)
    dispensing = found.dispensing
    dispensing.settings = dataclasses.replace(dispensing.settings, require_pharmacy_contact=True)  # production
    party, secret = found.parties.create(role="pharmacy", code="NT9", name="Nhà thuốc chưa đủ")
    assert not party.reachable
    headers = {"app-name": party.client_id, "app-key": secret}
    answer = client.post("/v2/prescriptions/79001NOCONT1-c/dispenses", headers=headers,
                         json={"items": [{"line": 0, "so_luong_ban": 1}]})
    assert answer.status_code == 409, answer.get_json()
    assert answer.get_json()["errors"][0]["code"] == "dispense.pharmacy_contact"
    assert found.reading.get("79001NOCONT1-c")["dispenses"] == []  # nothing half-done
    found.parties.update(party.client_id, address="3 Lý Tự Trọng, Quận 1", phone="0901234567")
    again = client.post("/v2/prescriptions/79001NOCONT1-c/dispenses", headers=headers,
                        json={"items": [{"line": 0, "so_luong_ban": 1}]})
    assert again.status_code == 201, again.get_json()
