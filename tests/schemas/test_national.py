"""The one mapping between the national wire document and the canonical document: any valid HIS
document, after validation, renders to a national document that a strict reading of the
national interface accepts, and that parses back to the same canonical document."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from gateway.forwarding.national_spec import check_prescription
from schemas.national import NATIONAL_FIELDS, to_national
from tests.support.schema_strategies import SCHEMAS, Case, prescriptions, variant_of
from tests.support.schemas import validate


@SCHEMAS
@given(st.data())
def test_every_valid_document_renders_to_a_strict_national_document_and_back(
        data: st.DataObject) -> None:
    case: Case = data.draw(prescriptions())
    sent = data.draw(variant_of(case))  # any spelling real clients use
    canonical = validate(sent).document
    assert canonical is not None
    national = to_national(canonical, signature="")
    assert check_prescription(national) == {}
    assert set(national) <= set(NATIONAL_FIELDS)
    again = validate(national).document
    expected = {k: v for k, v in canonical.items() if k != "ma_co_so_cung_ung_thuoc_chi_dinh"}
    assert again == expected


def test_national_values_are_in_national_formats() -> None:
    canonical = {
        "ma_don_thuoc": "79001ABCDEFG-c", "loai_don_thuoc": "c", "ho_ten_benh_nhan": "Trần Thị Bích",
        "ngay_sinh_benh_nhan": "1985-03-15", "can_nang": 52.0, "gioi_tinh": 3,
        "chan_doan": [{"ma_chan_doan": "J06.9"}],
        "dot_dung_thuoc": [{"dot": 1, "tu_ngay": "2026-12-01", "den_ngay": "2026-12-05"}],
        "thong_tin_don_thuoc": [{"ma_thuoc": "VD-32243-19", "national_code": "MT100039",
                                 "don_vi_tinh": "Viên", "so_luong": 10.0, "cach_dung": "Uống"}],
        # 11:50 UTC is 18:50 in Vietnam
        "ngay_gio_ke_don": datetime(2026, 12, 1, 11, 50, 42, tzinfo=UTC).isoformat(),
        "ma_co_so_cung_ung_thuoc_chi_dinh": "NT0001",
    }
    national = to_national(canonical, signature="sig")
    assert national["ngay_sinh_benh_nhan"] == "15/03/1985"
    assert national["ngay_gio_ke_don"] == "2026-12-01 18:50:42"
    assert national["dot_dung_thuoc"] == [{"dot": 1, "tu_ngay": "01/12/2026", "den_ngay": "05/12/2026"}]
    line = national["thong_tin_don_thuoc"][0]
    assert line == {"ma_thuoc": "VD-32243-19", "don_vi_tinh": "Viên", "so_luong": 10, "cach_dung": "Uống"}
    assert isinstance(line["so_luong"], int) and isinstance(national["can_nang"], int)
    assert "ma_co_so_cung_ung_thuoc_chi_dinh" not in national and national["signature"] == "sig"
    assert check_prescription(national) == {}


def test_the_strict_reading_refuses_what_the_interface_does_not_have() -> None:
    good = to_national({
        "ma_don_thuoc": "79001ABCDEFG-c", "loai_don_thuoc": "c", "ho_ten_benh_nhan": "A",
        "ngay_sinh_benh_nhan": "1985-03-15", "gioi_tinh": 2, "chan_doan": [{"ma_chan_doan": "J06.9"}],
        "dot_dung_thuoc": [{"dot": 1, "tu_ngay": "2026-12-01", "den_ngay": "2026-12-05"}],
        "thong_tin_don_thuoc": [{"ma_thuoc": "X", "don_vi_tinh": "Viên", "so_luong": 10, "cach_dung": "Uống"}],
        "ngay_gio_ke_don": (datetime(2026, 12, 1, tzinfo=UTC) + timedelta(hours=1)).isoformat(),
    })
    assert check_prescription(good) == {}
    bad = {**good, "ngay_sinh_benh_nhan": "1985-03-15", "gioi_tinh": 2.0, "extra": 1,
           "ngay_gio_ke_don": "2026-12-01T01:00:00+07:00",
           "thong_tin_don_thuoc": [{**good["thong_tin_don_thuoc"][0], "national_code": "MT1"}]}
    del bad["signature"]
    errors = check_prescription(bad)
    assert set(errors) == {"ngay_sinh_benh_nhan", "gioi_tinh", "extra", "ngay_gio_ke_don", "signature",
                           "thong_tin_don_thuoc.0.national_code"}
