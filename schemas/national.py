"""The one mapping between the national wire document and the canonical stored document.

- **wire → canonical** (:func:`to_canonical`): what validation produces from every accepted
  client variant (schemas/validation.py runs the rules, then calls it); see that module for
  the canonical form.
- **canonical → wire** (:func:`to_national`): the national field set only, in national value
  formats: dates ``dd/mm/yyyy``, ``ngay_gio_ke_don`` as ``yyyy-mm-dd HH:MM:SS`` in Vietnam time,
  whole numbers as integers, the drug code the clinic sent; the prescriber's signature as sent.

Everything the gateway sends the national registry and answers on ``thong-tin-don-thuoc``
goes through :func:`to_national`; validating its output again gives back the same canonical
document (a property test holds this, tests/schemas/test_national.py). The field set is
docs/national-api.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

from schemas.rules import Context

#: Canonical key order (the fields of docs/national-api.md), with the gateway extension last.
CANONICAL_ORDER = (
    "ma_don_thuoc", "loai_don_thuoc", "ho_ten_benh_nhan", "ma_dinh_danh_y_te",
    "ma_dinh_danh_cong_dan", "ngay_sinh_benh_nhan", "can_nang", "gioi_tinh",
    "ma_so_the_bao_hiem_y_te", "thong_tin_nguoi_giam_ho", "dia_chi", "chan_doan", "luu_y",
    "hinh_thuc_dieu_tri", "dot_dung_thuoc", "thong_tin_don_thuoc", "loi_dan",
    "so_dien_thoai_nguoi_kham_benh", "ngay_tai_kham", "ngay_gio_ke_don",
    "ma_co_so_cung_ung_thuoc_chi_dinh",
)
#: Fields of the canonical document that the national document does not have.
EXTENSION_FIELDS = ("ma_co_so_cung_ung_thuoc_chi_dinh",)
#: Fields of a canonical drug line that the national line does not have.
LINE_EXTENSION_FIELDS = ("national_code",)
#: The national document's fields, in their order (``signature`` last).
NATIONAL_FIELDS = (*(name for name in CANONICAL_ORDER if name not in EXTENSION_FIELDS),
                   "signature")


def to_canonical(ctx: Context, code: str) -> dict[str, Any]:
    """Wire → canonical: the canonical document of a submission the rules accepted.

    ``ctx`` is the rules' context after a clean run (its loaded fields, parsed time, dotted
    diagnoses and resolved drugs); ``code`` the prescription code (sent or generated).
    """
    loaded = ctx.loaded
    assert ctx.prescribed_at is not None
    values: dict[str, Any] = {
        "ma_don_thuoc": code,
        "loai_don_thuoc": loaded["loai_don_thuoc"],
        "ho_ten_benh_nhan": loaded["ho_ten_benh_nhan"],
        "ngay_sinh_benh_nhan": loaded["ngay_sinh_benh_nhan"].isoformat(),
        "gioi_tinh": loaded["gioi_tinh"],
        "ngay_gio_ke_don": ctx.prescribed_at.replace(microsecond=0).isoformat(),
    }
    for name in ("ma_dinh_danh_y_te", "ma_dinh_danh_cong_dan", "thong_tin_nguoi_giam_ho",
                 "dia_chi", "luu_y", "loi_dan", "so_dien_thoai_nguoi_kham_benh",
                 "ma_co_so_cung_ung_thuoc_chi_dinh"):
        if loaded.get(name):
            values[name] = loaded[name]
    for name in ("can_nang", "hinh_thuc_dieu_tri"):
        if name in loaded:
            values[name] = loaded[name]
    bhyt = loaded.get("ma_so_the_bao_hiem_y_te") or loaded.get("ma_so_bao_hiem_y_te")
    if bhyt:
        values["ma_so_the_bao_hiem_y_te"] = bhyt.upper()
    follow_up = loaded.get("ngay_tai_kham")
    if follow_up is not None:
        values["ngay_tai_kham"] = ((follow_up - ctx.prescribed_at.date()).days
                                   if isinstance(follow_up, date) else follow_up)
    values["chan_doan"] = [
        {"ma_chan_doan": dotted,
         **{name: item[name] for name in ("ten_chan_doan", "ket_luan") if item.get(name)}}
        for dotted, item in zip(ctx.diagnoses, loaded["chan_doan"], strict=True)]
    values["dot_dung_thuoc"] = [
        {"dot": period.get("dot", index + 1), "tu_ngay": period["tu_ngay"].isoformat(),
         "den_ngay": period["den_ngay"].isoformat()}
        for index, period in enumerate(loaded["dot_dung_thuoc"])]
    values["thong_tin_don_thuoc"] = [
        {"ma_thuoc": line["ma_thuoc"], "national_code": ctx.drugs[index].national_code,
         **{name: line[name] for name in ("biet_duoc", "ten_thuoc") if line.get(name)},
         "don_vi_tinh": line["don_vi_tinh"], "so_luong": line["so_luong"],
         "cach_dung": line["cach_dung"]}
        for index, line in enumerate(loaded["thong_tin_don_thuoc"])]
    return {name: values[name] for name in CANONICAL_ORDER if name in values}




def to_national(document: Mapping[str, Any], *, signature: str = "",
                utc_offset_minutes: int = 420) -> dict[str, Any]:
    """Canonical → wire: a canonical document as the national interface writes it (the body of
    ``gui-don-thuoc``), with ``signature`` (the prescriber's, as sent; ``""`` if none).

    ``ngay_gio_ke_don`` is written in the local time ``utc_offset_minutes`` east of UTC (the
    national document has no offset; Vietnam: 420).

    Raises:
        KeyError, ValueError: ``document`` is not a canonical document.
    """
    zone = timezone(timedelta(minutes=utc_offset_minutes))
    out: dict[str, Any] = {}
    for name in CANONICAL_ORDER:
        if name in EXTENSION_FIELDS or name not in document:
            continue
        value = document[name]
        if name == "ngay_sinh_benh_nhan":
            value = _dmy(value)
        elif name == "ngay_gio_ke_don":
            value = datetime.fromisoformat(value).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
        elif name == "dot_dung_thuoc":
            value = [{"dot": whole(p["dot"]), "tu_ngay": _dmy(p["tu_ngay"]),
                      "den_ngay": _dmy(p["den_ngay"])} for p in value]
        elif name == "thong_tin_don_thuoc":
            value = [{key: whole(item) if key == "so_luong" else item
                      for key, item in line.items() if key not in LINE_EXTENSION_FIELDS}
                     for line in value]
        elif name == "chan_doan":
            value = [dict(item) for item in value]
        elif name in ("gioi_tinh", "hinh_thuc_dieu_tri", "ngay_tai_kham", "can_nang"):
            value = whole(value)
        out[name] = value
    out["signature"] = signature
    return out


def whole(value: Any) -> Any:
    """A whole float as an int (the interface's integers); anything else as it is."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _dmy(iso: str) -> str:
    return date.fromisoformat(iso).strftime("%d/%m/%Y")
