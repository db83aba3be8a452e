"""The national-compatible endpoints (docs/national-api.md) over the same core as the native
ones: login, submit, pharmacy lookup and dispense report."""

from __future__ import annotations

import uuid

from flask.testing import FlaskClient

from gateway.web.context import services
from tests.support.prescriptions import PARACETAMOL, PARACETAMOL_TWIN, issued, national_token, prescription


def test_national_submit_and_native_submit_store_the_same_document(
        make_app, world: dict, mongo_client, demo_catalog_into) -> None:
    body = prescription(ma_don_thuoc="79001NAT0001-c", ma_so_bao_hiem_y_te="DN4790123456789",
                        dot_dung_thuoc=prescription()["dot_dung_thuoc"][0])
    native_app = make_app(DB_NAME=f"t_{uuid.uuid4().hex[:12]}_native")
    national_app = make_app(DB_NAME=f"t_{uuid.uuid4().hex[:12]}_national")
    stored = []
    try:
        for app, national in ((native_app, False), (national_app, True)):
            demo_catalog_into(app)
            client = app.test_client()
            with app.app_context():
                party, secret = services().parties.create(role="doctor", code="BS001",
                                                     name="BS", facility="79001")
            if national:
                token = client.post("/api/auth/dang-nhap-bac-si", json={
                    "ma_lien_thong_bac_si": "BS001",
                    "ma_lien_thong_co_so_kham_chua_benh": "79001", "password": secret}
                ).get_json()["token"]
                answer = client.post("/api/v1/gui-don-thuoc", json=body,
                                     headers={"Authorization": f"Bearer {token}"})
                assert answer.status_code == 200, answer.get_json()
                assert answer.get_json()["success"] is True
                checksum = answer.get_json()["checksum"]
            else:
                headers = {"Authorization": "Bearer " + client.post("/v2/auth/token", json={
                    "grant_type": "client_credentials", "client_id": party.client_id,
                    "client_secret": secret}).get_json()["access_token"]}
                answer = client.post("/v2/prescriptions", json=body, headers=headers)
                assert answer.status_code == 201, answer.get_json()
            with app.app_context():  # decrypted, as an entitled reader sees it
                stored.append(services().prescription_store.get("79001NAT0001-c"))
    finally:
        for app in (native_app, national_app):
            mongo_client.drop_database(services(app).settings.db_name)
    native, national = stored
    assert native["document"] == national["document"]
    assert native["content_sha256"] == national["content_sha256"] == checksum
    assert native["signature"]["alg"] == national["signature"]["alg"]
    assert native["document"]["ma_so_the_bao_hiem_y_te"] == "DN4790123456789"


def test_national_submit_errors_use_the_national_map(client: FlaskClient, world: dict) -> None:
    body = prescription(drugs=[("NO-SUCH-DRUG", 5)])
    answer = client.post("/api/v1/gui-don-thuoc", json=body, headers=national_token(client, world))
    assert answer.status_code == 422
    national = answer.get_json()
    assert national["success"] is False and national["checksum"] is None
    assert any(message.startswith("[drug.unknown]")
               for message in national["error"]["thong_tin_don_thuoc.0.ma_thuoc"])


def test_national_pharmacy_lookup_and_dispense_with_app_key(client: FlaskClient,
                                                            world: dict) -> None:
    code = issued(client, world)
    pharmacy = world["parties"]["pharmacy_1"]
    app_key = {"app-name": pharmacy.client_id, "app-key": pharmacy.client_secret}
    looked = client.get(f"/api/v1/thong-tin-don-thuoc/{code}", headers=app_key)
    assert looked.status_code == 200
    found = looked.get_json()
    assert found["ma_don_thuoc"] == code and found["ten_co_so_kham_chua_benh"] == "clinic 79001"
    assert found["ten_bac_si"] == "doctor BS001"
    report = {"ma_don_thuoc": code, "ma_hoa_don": "HD-N1",
              "ma_dinh_danh_co_so_cung_ung_thuoc": "NT0001",
              "ten_co_so_cung_ung_thuoc": "Nhà thuốc Số 1",
              "thong_tin_thuoc": [{"ma_thuoc_da_ke_don": PARACETAMOL,
                                   "ma_thuoc": PARACETAMOL_TWIN, "so_luong": 20,
                                   "so_luong_ban": 6}]}
    answer = client.post("/api/v1/cap-nhat-don-thuoc", json=report, headers=app_key)
    assert answer.status_code == 200, answer.get_json()
    state = client.get(f"/v2/prescriptions/{code}", headers=world["h"]["regulator"]).get_json()
    assert state["lines"][0]["dispensed"] == 6
    too_much = {**report, "thong_tin_thuoc": [{"ma_thuoc_da_ke_don": PARACETAMOL,
                                               "so_luong_ban": 50}]}
    refused = client.post("/api/v1/cap-nhat-don-thuoc", json=too_much, headers=app_key)
    assert refused.status_code == 409
    assert refused.get_json()["danh_sach_cac_loi"][0].startswith("[dispense.over_quantity]")
    missing = client.get("/api/v1/thong-tin-don-thuoc/79001XXXXXXX-c", headers=app_key)
    assert missing.status_code == 404 and missing.get_json()["danh_sach_cac_loi"]
