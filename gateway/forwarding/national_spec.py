"""The national registry's inbound messages, field by field, as a strict reader checks them.

A reading of docs/national-api.md written on its own, apart from the gateway's validator
(schemas/): the strict registry simulator (:mod:`gateway.forwarding.simulator`) uses it to
refuse anything the national system could refuse, so a test passing against it says the
gateway sends exactly the national interface. Each check returns the national error map,
``{field path: [messages]}`` (empty: acceptable), with the field paths the national system
uses (``thong_tin_don_thuoc.0.so_luong``).

Strict means: every required field present, no field the interface does not have, every value
of its type (an integer where the interface has an integer, ``10.0`` is not one), dates as
``dd/mm/yyyy``, ``ngay_gio_ke_don`` as ``yyyy-mm-dd HH:MM:SS``, texts within their lengths.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Errors = dict[str, list[str]]

REQUIRED = "Trường bắt buộc"
UNKNOWN = "Trường không có trong giao diện quốc gia"
DATE = re.compile(r"^(0[1-9]|[12][0-9]|3[01])/(0[1-9]|1[0-2])/[0-9]{4}$")
DATE_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$")
PRESCRIPTION_CODE = re.compile(r"^[0-9A-Za-z]{5}[0-9A-Za-z]{7}-[cnhy]$")
CCCD = re.compile(r"^[0-9]{12}$")
PHONE = re.compile(r"^(0|\+84)[1-9][0-9]{8,9}$")
TEXT_MAX = 2000
NAME_MAX = 255
CODE_MAX = 50
INVOICE_MAX = 20


@dataclass(frozen=True)
class Field:
    check: Callable[[Any], Errors | str | None]  # None: acceptable; else the message(s)
    required: bool = False


def _text(max_length: int, *, blank: bool = True, pattern: re.Pattern[str] | None = None,
          what: str = "") -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return "Phải là chuỗi ký tự"
        if not blank and not value.strip():
            return "Không được để trống"
        if len(value) > max_length:
            return f"Tối đa {max_length} ký tự"
        if pattern is not None and value and not pattern.match(value):
            return f"Sai định dạng {what}".rstrip()
        return None

    return check


def _date(value: Any) -> str | None:
    if not isinstance(value, str) or not DATE.match(value):
        return "Ngày phải có dạng dd/mm/yyyy"
    try:
        datetime.strptime(value, "%d/%m/%Y")  # a calendar date: no time zone
    except ValueError:
        return "Ngày không tồn tại"
    return None


def _date_time(value: Any) -> str | None:
    if not isinstance(value, str) or not DATE_TIME.match(value):
        return "Thời gian phải có dạng yyyy-mm-dd HH:MM:SS"
    try:
        datetime.strptime(value, "%Y-%m-%d %H:%M:%S")  # Vietnam local time: no offset
    except ValueError:
        return "Thời gian không tồn tại"
    return None


def _integer(*allowed: int, minimum: int | None = None) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return "Phải là số nguyên"
        if allowed and value not in allowed:
            return "Phải là một trong " + ", ".join(str(a) for a in allowed)
        if minimum is not None and value < minimum:
            return f"Phải từ {minimum} trở lên"
        return None

    return check


def _number(*, positive: bool) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
            return "Phải là số"
        if value < 0 or (positive and value == 0):
            return "Phải là số dương" if positive else "Không được âm"
        return None

    return check


def _list_of(fields: Mapping[str, Field]) -> Callable[[Any], Errors | str | None]:
    def check(value: Any) -> Errors | str | None:
        if not isinstance(value, list) or not value:
            return "Phải là danh sách không rỗng"
        found: Errors = {}
        for index, item in enumerate(value):
            for path, messages in _check_object(item, fields).items():
                found.setdefault(f"{index}.{path}" if path else str(index), []).extend(messages)
        return found or None

    return check


def _check_object(body: Any, fields: Mapping[str, Field]) -> Errors:
    if not isinstance(body, dict):
        return {"": ["Phải là một đối tượng JSON"]}
    found: Errors = {}
    for name in body:
        if name not in fields:
            found.setdefault(name, []).append(UNKNOWN)
    for name, spec in fields.items():
        if name not in body:
            if spec.required:
                found.setdefault(name, []).append(REQUIRED)
            continue
        result = spec.check(body[name])
        if isinstance(result, str):
            found.setdefault(name, []).append(result)
        elif result:
            for path, messages in result.items():
                found.setdefault(f"{name}.{path}", []).extend(messages)
    return found


DIAGNOSIS = {
    "ma_chan_doan": Field(_text(CODE_MAX, blank=False), required=True),
    "ten_chan_doan": Field(_text(TEXT_MAX)),
    "ket_luan": Field(_text(TEXT_MAX)),
}
PERIOD = {
    "dot": Field(_integer(minimum=1), required=True),
    "tu_ngay": Field(_date, required=True),
    "den_ngay": Field(_date, required=True),
}
DRUG_LINE = {
    "ma_thuoc": Field(_text(CODE_MAX * 4, blank=False), required=True),
    "biet_duoc": Field(_text(NAME_MAX)),
    "ten_thuoc": Field(_text(NAME_MAX)),
    "don_vi_tinh": Field(_text(CODE_MAX, blank=False), required=True),
    "so_luong": Field(_number(positive=True), required=True),
    "cach_dung": Field(_text(TEXT_MAX, blank=False), required=True),
}
#: The body of ``POST /api/v1/gui-don-thuoc``.
PRESCRIPTION = {
    "ma_don_thuoc": Field(_text(14, blank=False, pattern=PRESCRIPTION_CODE, what="mã đơn thuốc"),
                          required=True),
    "loai_don_thuoc": Field(lambda v: None if v in ("c", "n", "h", "y") else "Phải là c, n, h hoặc y",
                            required=True),
    "ho_ten_benh_nhan": Field(_text(NAME_MAX, blank=False), required=True),
    "ma_dinh_danh_y_te": Field(_text(CODE_MAX)),
    "ma_dinh_danh_cong_dan": Field(_text(12, pattern=CCCD, what="CCCD (12 chữ số)")),
    "ngay_sinh_benh_nhan": Field(_date, required=True),
    "can_nang": Field(_number(positive=True)),
    "gioi_tinh": Field(_integer(1, 2, 3), required=True),
    "ma_so_the_bao_hiem_y_te": Field(_text(CODE_MAX)),
    "thong_tin_nguoi_giam_ho": Field(_text(TEXT_MAX)),
    "dia_chi": Field(_text(TEXT_MAX)),
    "chan_doan": Field(_list_of(DIAGNOSIS), required=True),
    "luu_y": Field(_text(TEXT_MAX)),
    "hinh_thuc_dieu_tri": Field(_integer(1, 2, 3)),
    "dot_dung_thuoc": Field(_list_of(PERIOD), required=True),
    "thong_tin_don_thuoc": Field(_list_of(DRUG_LINE), required=True),
    "loi_dan": Field(_text(TEXT_MAX)),
    "so_dien_thoai_nguoi_kham_benh": Field(_text(CODE_MAX)),
    "ngay_tai_kham": Field(_integer(minimum=0)),
    "ngay_gio_ke_don": Field(_date_time, required=True),
    "signature": Field(_text(16384), required=True),
}
DISPENSED_LINE = {
    "ma_thuoc_da_ke_don": Field(_text(CODE_MAX * 4, blank=False), required=True),
    "ma_thuoc": Field(_text(CODE_MAX * 4, blank=False), required=True),
    "biet_duoc": Field(_text(NAME_MAX), required=True),
    "ten_thuoc": Field(_text(NAME_MAX), required=True),
    "don_vi_tinh": Field(_text(CODE_MAX, blank=False), required=True),
    "so_luong": Field(_number(positive=True), required=True),
    "so_luong_ban": Field(_number(positive=True), required=True),
    "cach_dung": Field(_text(TEXT_MAX), required=True),
}
#: The body of ``POST /api/v1/cap-nhat-don-thuoc``.
DISPENSE_REPORT = {
    "ma_don_thuoc": Field(_text(14, blank=False, pattern=PRESCRIPTION_CODE, what="mã đơn thuốc"),
                          required=True),
    "thong_tin_thuoc": Field(_list_of(DISPENSED_LINE), required=True),
    "ma_dinh_danh_co_so_cung_ung_thuoc": Field(_text(CODE_MAX, blank=False), required=True),
    "ten_co_so_cung_ung_thuoc": Field(_text(NAME_MAX, blank=False), required=True),
    "so_dien_thoai_co_so_cung_ung_thuoc": Field(
        _text(13, blank=False, pattern=PHONE, what="số điện thoại"), required=True),
    "dia_chi_co_so_cung_ung_thuoc": Field(_text(500, blank=False), required=True),
    "ma_hoa_don": Field(_text(INVOICE_MAX), required=True),
}
#: The body sent to the (unconfirmed) cancel path.
CANCELLATION = {
    "ma_don_thuoc": Field(_text(14, blank=False, pattern=PRESCRIPTION_CODE, what="mã đơn thuốc"),
                          required=True),
    "ly_do": Field(_text(TEXT_MAX, blank=False), required=True),
}


def check_prescription(body: Any) -> Errors:
    """The national error map of a ``gui-don-thuoc`` body (empty: acceptable)."""
    return _check_object(body, PRESCRIPTION)


def check_dispense_report(body: Any) -> Errors:
    """The national error map of a ``cap-nhat-don-thuoc`` body (empty: acceptable)."""
    return _check_object(body, DISPENSE_REPORT)


def check_cancellation(body: Any) -> Errors:
    """The national error map of a cancellation body (empty: acceptable)."""
    return _check_object(body, CANCELLATION)
