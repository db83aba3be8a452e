"""Reading the registry CSV (dav-csv) and ndjson files, row by row."""

from __future__ import annotations

import io
import json

import pytest

from drug_catalog.errors import ImportFormatError, ImportRowError
from drug_catalog.sources import (
    SourceRecord,
    merge,
    read_dav_csv,
    read_ndjson,
    read_records,
    split_ingredients,
)
from tests.support.drugs import drug_record, make_drug
from tests.support.environment import DAV_SAMPLE

HEADER = ("Số đăng ký,Tên thuốc,Hoạt chất - Hàm lượng,Tá dược,Phân loại,Loại thuốc,Nước sản xuất,"
          "Công ty đăng ký,Địa chỉ sản xuất,Tuổi thọ,Tiêu chuẩn,Số quyết định\n")


def read_csv(text: str) -> list[SourceRecord | ImportRowError]:
    return list(read_dav_csv(io.StringIO(text, newline="")))


def test_the_dav_sample_reads_as_forty_products() -> None:
    with DAV_SAMPLE.open(encoding="utf-8-sig", newline="") as stream:
        records = list(read_dav_csv(stream))
    assert len(records) == 40
    assert all(isinstance(record, SourceRecord) for record in records)
    drugs = {record.national_code: merge(record, None) for record in records}  # type: ignore[union-attr]
    assert len(drugs) == 40
    assert drugs["VN-21939-19"].active_ingredients[0].strength == "5mg/ml"
    assert drugs["V268-H12-13"].kind == "traditional" and not drugs["V268-H12-13"].prescription_only
    assert drugs["VD-33257-19"].kind == "raw_material"        # Phân loại wins over "Tân dược"
    assert drugs["VN-21899-19"].active_ingredients[0].strength == "6,25mg"
    assert drugs["VN-5686-10"].kind == "chemical" and drugs["VN-5686-10"].prescription_only


def test_rows_are_numbered_by_file_line_even_with_multiline_cells() -> None:
    text = HEADER + ('VD-1-19,"Thuốc\nhai dòng",Paracetamol 500mg,,Thuốc kê đơn,Tân dược\n'
                     "BAD,Thuốc,Paracetamol,,,\n")
    first, second = read_csv(text)
    assert isinstance(first, SourceRecord) and first.line == 2
    assert isinstance(second, ImportRowError) and second.line == 4


@pytest.mark.parametrize(("row", "words"), [
    ("XYZ-1,Thuốc A,Paracetamol,,,", "Số đăng ký 'XYZ-1'"),
    (",Thuốc A,Paracetamol,,,", "registration number is required"),
    ("VD-1-19,,Paracetamol,,,", "Tên thuốc is empty"),
    ("VD-1-19,Thuốc A,,,,", "Hoạt chất - Hàm lượng is empty"),
    ("VD-1-19,Thuốc A,Paracetamol,,Thuốc gì đó,", "Phân loại 'Thuốc gì đó'"),
    ("VD-1-19,Thuốc A,Paracetamol,,,Thực phẩm", "Loại thuốc 'Thực phẩm'"),
])
def test_bad_rows_are_rejected_with_line_and_reason(row: str, words: str) -> None:
    good = "VD-2-19,Thuốc B,Ibuprofen 400mg,,Thuốc kê đơn,Tân dược"
    records = read_csv(HEADER + good + "\n" + row + "\n")
    assert isinstance(records[0], SourceRecord)
    assert isinstance(records[1], ImportRowError)
    assert records[1].line == 3 and words in records[1].reason


def test_optional_columns_are_read_when_present_and_extra_ones_ignored() -> None:
    text = ("Mã thuốc,SỐ ĐĂNG KÝ,Tên thuốc,Hoạt chất,Hàm lượng,Dạng bào chế,Đường dùng,"
            "Đơn vị tính,Quy cách đóng gói,GTIN,Kiểm soát đặc biệt,Trạng thái,Hiệu lực SĐK,"
            "Ghi chú\n"
            "mt 1,vd-1-19,Morphin 10mg,Morphin hydroclorid,10mg/1ml,Dung dịch tiêm,Tiêm,Ống,"
            "Hộp 10 ống,8930000000019; 96385074,Gây nghiện,Đình chỉ lưu hành,31/12/2027,x\n")
    (record,) = read_csv(text)
    assert isinstance(record, SourceRecord)
    drug = merge(record, None)
    assert drug.national_code == "MT1" and drug.registration_number == "VD-1-19"
    assert drug.active_ingredients[0].strength == "10mg/1ml"
    assert (drug.dosage_form, drug.route, drug.unit, drug.packaging) == \
        ("Dung dịch tiêm", "Tiêm", "Ống", "Hộp 10 ống")
    assert drug.gtins == ("08930000000019", "00000096385074")
    assert drug.control_class == "narcotic" and drug.status == "suspended"
    assert drug.registration_valid_until.isoformat() == "2027-12-31"


@pytest.mark.parametrize(("column", "value", "words"), [
    ("GTIN", "8930000000018", "expected 9"),
    ("Hiệu lực SĐK", "hôm qua", "not a date"),
    ("Trạng thái", "không rõ", "Trạng thái 'không rõ'"),
    ("Kiểm soát đặc biệt", "đặc biệt", "Kiểm soát đặc biệt 'đặc biệt'"),
])
def test_bad_optional_cells_reject_the_row(column: str, value: str, words: str) -> None:
    (record,) = read_csv(f"Số đăng ký,Tên thuốc,Hoạt chất,{column}\nVD-1-19,A,B,{value}\n")
    assert isinstance(record, ImportRowError) and words in record.reason


def test_a_file_without_required_columns_is_refused_whole() -> None:
    with pytest.raises(ImportFormatError, match="Tên thuốc"):
        read_csv("Số đăng ký,Hoạt chất\nVD-1-19,A\n")
    with pytest.raises(ImportFormatError, match="empty"):
        read_csv("")
    with pytest.raises(ImportFormatError, match="unknown format"):
        read_records(io.StringIO(""), "xlsx")


def test_what_a_row_does_not_state_keeps_the_stored_value() -> None:
    stored = make_drug(national_code="VD-32243-19", unit="Viên", prescription_only=False,
                       kind="chemical", status="suspended")
    (record,) = read_csv(HEADER + "VD-32243-19,Paracetamol 500mg,Paracetamol 500mg,,,\n")
    merged = merge(record, stored)  # type: ignore[arg-type]
    assert merged.unit == "Viên" and merged.status == "suspended"
    assert not merged.prescription_only and merged.gtins == stored.gtins
    fresh = merge(record, None)  # type: ignore[arg-type]
    assert fresh.prescription_only and fresh.unit == "" and fresh.status == "active"


@pytest.mark.parametrize(("text", "expected"), [
    ("Carvedilol 6,25mg", [("Carvedilol", "6,25mg")]),
    ("Paracetamol 325mg; Ibuprofen 200 mg", [("Paracetamol", "325mg"), ("Ibuprofen", "200 mg")]),
    ("Cefpodoxim; (dưới dạng Cefpodoxim proxetil)", [("Cefpodoxim (dưới dạng Cefpodoxim proxetil)", "")]),
    ("Diệp hạ châu, Bồ bồ, Rau má", [("Diệp hạ châu", ""), ("Bồ bồ", ""), ("Rau má", "")]),
    ("Insulin glargine 100 IU/ml", [("Insulin glargine", "100 IU/ml")]),
    ("Mỗi 1g cao (tương đương 66,66g lá)", [("Mỗi 1g cao (tương đương 66,66g lá)", "")]),
])
def test_split_ingredients(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(item.name, item.strength) for item in split_ingredients(text)] == expected


def test_ndjson_reads_full_records_and_rejects_bad_lines() -> None:
    lines = [json.dumps({"_comment": "header"}), "", json.dumps(drug_record()),
             "{not json", json.dumps(drug_record(national_code="B", kind="herbal")),
             json.dumps([1, 2])]
    records = list(read_ndjson(io.StringIO("\n".join(lines) + "\n")))
    assert isinstance(records[0], SourceRecord) and records[0].line == 3
    assert merge(records[0], None) == make_drug()
    assert [(r.line, r.reason.split(":")[0]) for r in records[1:]] == \
        [(4, "not JSON"), (5, "kind"), (6, "")]


def test_semicolon_separated_exports_are_read_too() -> None:
    text = "Số ĐK;Tên thuốc;Hoạt chất - Hàm lượng;Phân loại\nVD-1-19;Thuốc A;Paracetamol 500mg;\n" \
           "VD-2-19;\"Thuốc; B\";Ibuprofen 200mg;Thuốc không kê đơn\n"
    first, second = read_csv(text)
    assert isinstance(first, SourceRecord) and first.line == 2
    assert isinstance(second, SourceRecord) and second.line == 3
    assert merge(second, None).name == "Thuốc; B"
    assert not merge(second, None).prescription_only
