"""Example request bodies: what the OpenAPI document shows (Swagger's "Try it out" sends
them), what docs/api-guide.md and the README copy, and what the tests post, so that every
documented example is known to be accepted (tests/gateway/web/test_examples.py).

Dates are made from ``now``: a prescription is accepted only when ``ngay_gio_ke_don`` is
within the last ``ERX_RX_MAX_AGE_DAYS``, so a fixed example would go stale. The drugs are
products of the shipped demo catalog (``drug_catalog/data/demo-catalog.ndjson``).
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from typing import Any

#: Demo-catalog products the examples name.
PARACETAMOL = "MT100039"          # Panacetal 500 (paracetamol 500 mg tablet)
PARACETAMOL_TWIN = "VD-35053-20"  # Paracetamol 500mg: same composition and form (a substitute)
PARACETAMOL_TWIN_GTIN = "08930000000453"
AMOXICILLIN = "MT100627"          # Amoxicilin 500mg capsule
MORPHINE = "MT106069"             # Morphin sulfat 30mg SR (narcotic)


def _dmy(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _line(code: str, quantity: int | float, unit: str, directions: str, name: str) -> dict[str, Any]:
    return {"ma_thuoc": code, "biet_duoc": "", "ten_thuoc": name, "don_vi_tinh": unit,
            "so_luong": quantity, "cach_dung": directions}


def basic_prescription(now: datetime) -> dict[str, Any]:
    """A basic (``c``) prescription: two drug lines, ten days, an adult man with a CCCD."""
    today = now.date()
    return {
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
        "dot_dung_thuoc": [{"dot": 1, "tu_ngay": _dmy(today),
                            "den_ngay": _dmy(today + timedelta(days=9))}],
        "thong_tin_don_thuoc": [
            _line(PARACETAMOL, 20, "Viên", "Uống 1 viên x 2 lần/ngày, sau ăn",
                  "Paracetamol 500mg"),
            _line(AMOXICILLIN, 14, "Viên", "Uống 1 viên x 2 lần/ngày", "Amoxicilin 500mg")],
        "loi_dan": "Uống nhiều nước, tái khám nếu sốt cao",
        "so_dien_thoai_nguoi_kham_benh": "0901234567",
        "ngay_tai_kham": 10,
        "ngay_gio_ke_don": (now - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S"),
        "signature": "",
    }


def narcotic_prescription(now: datetime) -> dict[str, Any]:
    """A narcotic (``n``) prescription: seven days of morphine for a cancer patient. It names
    the patient by health identifier, not CCCD, so that sending it again is not refused as an
    overlapping narcotic prescription of the same person (``control.overlap`` matches CCCDs);
    a real one should carry the CCCD."""
    today = now.date()
    body = basic_prescription(now)
    del body["ma_dinh_danh_cong_dan"]
    body.update({
        "ma_dinh_danh_y_te": "YT79058090201",
        "loai_don_thuoc": "n",
        "ho_ten_benh_nhan": "Trần Thị Bình",
        "ngay_sinh_benh_nhan": "02/09/1958",
        "can_nang": 48,
        "gioi_tinh": 3,
        "chan_doan": [{"ma_chan_doan": "C34.9", "ten_chan_doan": "U ác của phế quản hoặc phổi",
                       "ket_luan": "Ung thư phổi, đau nhiều"}],
        "dot_dung_thuoc": [{"dot": 1, "tu_ngay": _dmy(today),
                            "den_ngay": _dmy(today + timedelta(days=6))}],
        "thong_tin_don_thuoc": [_line(MORPHINE, 14, "Viên", "Uống 1 viên mỗi 12 giờ",
                                      "Morphin sulfat 30mg")],
        "loi_dan": "Không tự ý tăng liều; mang đơn khi mua thuốc",
        "ngay_tai_kham": 7,
    })
    return body


def child_prescription(now: datetime) -> dict[str, Any]:
    """A child's prescription: under 72 months, so a guardian and a weight are required."""
    today = now.date()
    body = basic_prescription(now)
    del body["ma_dinh_danh_cong_dan"]
    body.update({
        "ho_ten_benh_nhan": "Lê Minh Khang",
        "ngay_sinh_benh_nhan": _dmy(today.replace(year=today.year - 3, day=1)),
        "can_nang": 14.5,
        "gioi_tinh": 2,
        "thong_tin_nguoi_giam_ho": "Lê Văn Hùng, bố, CCCD 079085004321",
        "dot_dung_thuoc": [{"dot": 1, "tu_ngay": _dmy(today),
                            "den_ngay": _dmy(today + timedelta(days=4))}],
        "thong_tin_don_thuoc": [_line(PARACETAMOL, 6, "Viên",
                                      "Uống 1/2 viên khi sốt trên 38,5°C, cách nhau ít nhất 6 giờ",
                                      "Paracetamol 500mg")],
        "ngay_tai_kham": 5,
    })
    return body


def scanned_pack(gtin: str, today: date, serial: str | None = None) -> str:
    """A GS1 element string as a 2D scanner reads a pack: GTIN, expiry, batch, serial."""
    expiry = today + timedelta(days=400)
    return f"(01){gtin}(17){expiry:%y%m%d}(10)L-77(21){serial or 'SN' + secrets.token_hex(5).upper()}"


def dispense_with_substitution(now: datetime, serial: str | None = None) -> dict[str, Any]:
    """A dispense against :func:`basic_prescription`: line 0 (the first line: lines count
    from 0) sold as a substitute of the same composition with its scanned pack, line 1 in
    part."""
    return {"ma_hoa_don": "HD0001", "items": [
        {"line": 0, "ma_thuoc": PARACETAMOL_TWIN, "so_luong_ban": 10,
         "packs": [scanned_pack(PARACETAMOL_TWIN_GTIN, now.date(), serial)]},
        {"line": 1, "so_luong_ban": 7}]}


def cancel() -> dict[str, Any]:
    return {"ly_do": "Kê nhầm thuốc, bệnh nhân dị ứng amoxicilin"}


def national_dispense_report(code: str = "79001AB12345-c") -> dict[str, Any]:
    """A dispense report of the national interface (``cap-nhat-don-thuoc``) against
    :func:`basic_prescription`: the pharmacy sold 10 of the first drug."""
    return {"ma_don_thuoc": code, "ma_hoa_don": "HD0002",
            "thong_tin_thuoc": [{"ma_thuoc_da_ke_don": PARACETAMOL, "ma_thuoc": PARACETAMOL,
                                 "so_luong_ban": 10}]}
