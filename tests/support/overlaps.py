"""Controlled-drug prescriptions for the cross-facility overlap tests: the drugs, a prescription
of given days, an accepted submission."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient

from tests.support.prescriptions import VIETNAM, prescription, submit

CCCD = "079090001234"


MORPHINE_ORAL = "MT106069"    # Morphin sulfat 30mg, narcotic


MORPHINE_INJ = "MT105985"     # Morphin hydroclorid 10mg/1ml, narcotic


FENTANYL = "QLĐB-688-21"      # narcotic, another ingredient


DIAZEPAM = "QLĐB-743-20"      # psychotropic


SEDUXEN = "MT106260"          # psychotropic, diazepam too


EPHEDRINE = "MT106732"        # precursor


DIAGNOSIS = {"n": {"ma_chan_doan": "C50.9", "ten_chan_doan": "Ung thư vú"},       # 30 days
             "h": {"ma_chan_doan": "F41.1", "ten_chan_doan": "Rối loạn lo âu"},   # 30 days
             "c": {"ma_chan_doan": "J06.9", "ten_chan_doan": "Viêm họng cấp"}}


def day(offset: int) -> date:
    return datetime.now(VIETNAM).date() + timedelta(days=offset)


def rx(world: dict[str, Any], loai: str, drugs: list[str], periods: list[tuple[int, int]], *,
       cccd: str | None = CCCD, **fields: Any) -> dict[str, Any]:
    """A valid ``loai`` prescription of ``drugs`` for the periods (days from today)."""
    catalog = world["catalog"]
    body = prescription(**fields)
    body.update({
        "loai_don_thuoc": loai, "chan_doan": [DIAGNOSIS[loai]],
        "dot_dung_thuoc": [{"dot": number, "tu_ngay": day(start).strftime("%d/%m/%Y"),
                            "den_ngay": day(end).strftime("%d/%m/%Y")}
                           for number, (start, end) in enumerate(periods, 1)],
        "thong_tin_don_thuoc": [
            {"ma_thuoc": code, "ten_thuoc": " ".join(item.name.split("(")[0]
                                                     for item in drug.active_ingredients),
             "don_vi_tinh": drug.unit, "so_luong": 10, "cach_dung": "Theo chỉ dẫn"}
            for code, drug in ((code, catalog.resolve(code)) for code in drugs)]})
    if cccd is None:
        body.pop("ma_dinh_danh_cong_dan")
        body["ma_dinh_danh_y_te"] = "YT0001"
    else:
        body["ma_dinh_danh_cong_dan"] = cccd
    return body


def accepted(client: FlaskClient, headers: dict[str, str], body: dict[str, Any]) -> dict:
    response = submit(client, headers, body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


PATIENT_NAME = "Lê Thị Bình"


BIRTH = "15/03/1990"
