"""Prescriptions over HTTP as the tests send them: a valid national document, scanned packs, submit, dispense."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from flask.testing import FlaskClient

VIETNAM = timezone(timedelta(hours=7))


PARACETAMOL = "MT100039"        # Panacetal 500: paracetamol 500 mg, Viên nén


PARACETAMOL_TWIN = "VD-35053-20"  # Paracetamol 500mg: same composition and form


AMOXICILLIN = "MT100627"        # Amoxicilin 500 mg capsule


SUSPENDED_TWIN = "MT100209"      # Tatamol 500: suspended


def prescription(drugs: list[tuple[str, int]] | None = None, **fields: Any) -> dict[str, Any]:
    now = datetime.now(VIETNAM) - timedelta(minutes=1)
    body: dict[str, Any] = {
        "loai_don_thuoc": "c",
        "ho_ten_benh_nhan": "Nguyễn Văn An",
        "ma_dinh_danh_cong_dan": "079090001234",
        "ngay_sinh_benh_nhan": "15/03/1990",
        "can_nang": 62,
        "gioi_tinh": 2,
        "dia_chi": "12 Lê Lợi, Quận 1, TP Hồ Chí Minh",
        "chan_doan": [{"ma_chan_doan": "J06.9", "ten_chan_doan": "Nhiễm trùng hô hấp trên cấp",
                       "ket_luan": "Viêm họng cấp"}],
        "hinh_thuc_dieu_tri": 1,
        "dot_dung_thuoc": [{"dot": 1, "tu_ngay": now.strftime("%d/%m/%Y"),
                            "den_ngay": (now + timedelta(days=9)).strftime("%d/%m/%Y")}],
        "thong_tin_don_thuoc": [
            {"ma_thuoc": code, "biet_duoc": "", "ten_thuoc": "Thuốc", "don_vi_tinh": "Viên",
             "so_luong": quantity, "cach_dung": "Uống 1 viên x 2 lần/ngày"}
            for code, quantity in (drugs or [(PARACETAMOL, 20), (AMOXICILLIN, 14)])],
        "loi_dan": "Tái khám nếu sốt cao",
        "ngay_gio_ke_don": now.strftime("%Y-%m-%d %H:%M:%S"),
        "signature": "",
    }
    body.update(fields)
    return body


def pack(gtin: str, serial: str, expiry: date | None = None) -> str:
    expiry = expiry or date.today() + timedelta(days=365)
    return f"(01){gtin}(17){expiry:%y%m%d}(10)L-77(21){serial}"


def gtin_of(world: dict[str, Any], code: str) -> str:
    return world["catalog"].resolve(code).gtins[0]


def submit(client: FlaskClient, headers: dict[str, str], body: dict[str, Any] | None = None,
           **extra: str):
    return client.post("/v2/prescriptions", json=body or prescription(),
                       headers={**headers, **extra})


def issued(client: FlaskClient, world: dict[str, Any], **kwargs: Any) -> str:
    response = submit(client, world["h"]["doctor_a"], prescription(**kwargs))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["ma_don_thuoc"]


def dispense(client: FlaskClient, headers: dict[str, str], code: str,
             items: list[dict[str, Any]], invoice: str = "HD0001", **extra: str):
    return client.post(f"/v2/prescriptions/{code}/dispenses",
                       json={"ma_hoa_don": invoice, "items": items}, headers={**headers, **extra})


def national_token(client: FlaskClient, world: dict) -> dict[str, str]:
    doctor = world["parties"]["doctor_a"]
    answer = client.post("/api/auth/dang-nhap-bac-si", json={
        "ma_lien_thong_bac_si": "BS001", "ma_lien_thong_co_so_kham_chua_benh": "79001",
        "mat_khau": doctor.client_secret}).get_json()
    return {"Authorization": f"Bearer {answer['token']}"}
