"""The printable prescription: the A5 PDF read back by independent tools (pypdfium2 extracts its
text, zxing-cpp decodes its QR code from the rendered page), the HTML view, who may print, the
cancelled mark, audit, and the form's rules (age in months, quantities, missing glyphs)."""

from __future__ import annotations

import logging
import re
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pypdfium2
import pytest
import zxingcpp
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.parties.model import Party
from gateway.prescriptions.print_pdf import printable, render_pdf
from gateway.prescriptions.printing import age_text, number_text, printed_form, words_text
from gateway.signatures.qr import offline_verdict
from gateway.web.context import services
from gateway.web.http import configure_logging
from tests.support.audit import audit_log
from tests.support.http import assert_problem
from tests.support.prescriptions import issued

A5_POINTS = (419.53, 595.28)
PATIENT = "Nguyễn Thị Ánh Tuyết"


def read_pdf(data: bytes, *, dpi: int | None = 200) -> tuple[list[str], list[Any], list[tuple]]:
    """Each page's text, the QR codes zxing-cpp finds on the pages rendered at ``dpi`` (none
    when ``dpi`` is None), the page sizes."""
    document = pypdfium2.PdfDocument(data)
    texts, codes, sizes = [], [], []
    try:
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            sizes.append(page.get_size())
            if dpi is not None:
                # QR codes only: the page has exactly one; a linear-barcode false positive
                # found in the printed text at low resolution is the decoder's, not the page's.
                codes.extend(zxingcpp.read_barcodes(page.render(scale=dpi / 72).to_pil(),
                                                    formats=zxingcpp.BarcodeFormat.QRCode))
            page.close()
    finally:
        document.close()
    return texts, codes, sizes


@pytest.fixture
def clinic(app: Flask, world: dict) -> dict:
    """The world, its clinic 79001 with an address and a phone."""
    services(app).parties.update("clinic-79001", address="12 Lê Lợi, Quận 1, TP Hồ Chí Minh",
                                 phone="028 3822 1234")
    return world


def printed_pdf(client: FlaskClient, headers: dict[str, str], code: str):
    return client.get(f"/v2/prescriptions/{code}/print", headers=headers)


def test_a_doctor_prints_an_a5_page_whose_qr_code_proves_the_prescription_offline(
        app: Flask, client: FlaskClient, clinic: dict, database) -> None:
    code = issued(client, clinic, ho_ten_benh_nhan=PATIENT, ngay_tai_kham=7,
                  thong_tin_nguoi_giam_ho="Nguyễn Văn Bình (bố)",
                  so_dien_thoai_nguoi_kham_benh="0903123456")
    answer = printed_pdf(client, clinic["h"]["doctor_a"], code)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    assert answer.mimetype == "application/pdf" and answer.data.startswith(b"%PDF-")
    assert answer.headers["Cache-Control"] == "no-store"
    assert f'filename="don-thuoc-{code}.pdf"' in answer.headers["Content-Disposition"]
    texts, codes, sizes = read_pdf(answer.data)
    assert all(abs(w - A5_POINTS[0]) < 0.5 and abs(h - A5_POINTS[1]) < 0.5 for w, h in sizes)
    text = "\n".join(texts)
    # Real text, with its diacritics, for every part of the form.
    for expected in (PATIENT, code, "ĐƠN THUỐC", "CLINIC 79001", "12 Lê Lợi, Quận 1",
                     "02838221234", "15/03/1990", "Giới tính: Nam", "62 kg",
                     "Nguyễn Văn Bình (bố)", "J06.9 – Nhiễm trùng hô hấp trên cấp",
                     "Viêm họng cấp", "Cách dùng: Uống 1 viên x 2 lần/ngày", "SL: 20 Viên",
                     "SL: 14 Viên", "Lời dặn: Tái khám nếu sốt cao", "Tái khám: sau 7 ngày",
                     "doctor BS001", "0903123456", "Bác sĩ/Y sĩ khám bệnh"):
        assert expected in text, expected
    assert "ĐÃ HỦY" not in text
    # The QR code, decoded by an independent reader from the rendered page, is genuine.
    assert len(codes) == 1
    symbol = codes[0]
    assert symbol.format == zxingcpp.BarcodeFormat.QRCode
    assert (symbol.extra["Version"], symbol.ec_level) == ("14", "M")
    key_set = client.get("/.well-known/jwks.json").get_json()
    verdict = offline_verdict(symbol.text, key_set)
    stored = database["prescriptions"].find_one({"_id": code})
    assert verdict["valid"] is True
    assert (verdict["ma_don_thuoc"], verdict["sha256"]) == (code, stored["content_sha256"])
    # ... and scanning it at a pharmacy lands on the prescription.
    scanned = client.get(f"/v2/prescriptions/{symbol.text}", headers=clinic["h"]["pharmacy_1"])
    assert scanned.status_code == 200 and scanned.get_json()["ma_don_thuoc"] == code
    printed = audit_log(database).find_one({"action": "prescription.printed"})
    assert printed["details"] == {"format": "pdf", "status": "issued"}
    assert printed["object"] == {"type": "prescription", "id": code}
    assert printed["actor"]["party_id"] == "doctor-79001-BS001"
    assert printed["content_sha256"] == stored["content_sha256"]


def test_the_qr_code_still_decodes_from_a_100_dpi_scan(client: FlaskClient, clinic: dict) -> None:
    code = issued(client, clinic)
    _, codes, _ = read_pdf(printed_pdf(client, clinic["h"]["clinic_a"], code).data, dpi=100)
    assert len(codes) == 1 and codes[0].text.count(".") == 2, [(c.format, c.text[:20], c.position) for c in codes]


def test_who_may_print(client: FlaskClient, world: dict, auth_headers) -> None:
    code = issued(client, world)
    h = world["h"]
    for name in ("doctor_a", "clinic_a", "regulator"):
        assert printed_pdf(client, h[name], code).status_code == 200, name
    for name in ("pharmacy_1", "clinic_b", "admin"):
        assert_problem(printed_pdf(client, h[name], code), 403, "forbidden")
        assert_problem(client.get(f"/v2/prescriptions/{code}/print.html", headers=h[name]),
                       403, "forbidden")
    other_doctor = auth_headers("doctor", "BS009", facility="01002")
    assert_problem(printed_pdf(client, other_doctor, code), 403, "forbidden")
    assert_problem(printed_pdf(client, h["doctor_a"], "79001NOSUCH0-c"), 404, "not-found")
    assert_problem(client.get(f"/v2/prescriptions/{code}/print"), 401, "unauthenticated")


def test_refused_prints_leave_no_trace_but_their_audit(client: FlaskClient, world: dict,
                                                      database) -> None:
    code = issued(client, world)
    printed_pdf(client, world["h"]["pharmacy_1"], code)
    printed_pdf(client, world["h"]["doctor_a"], "79001NOSUCH0-c")
    assert audit_log(database).count_documents({"action": "prescription.printed"}) == 0


def test_a_cancelled_prescription_prints_with_a_visible_mark(client: FlaskClient,
                                                             world: dict) -> None:
    code = issued(client, world)
    cancelled = client.post(f"/v2/prescriptions/{code}/cancel", headers=world["h"]["doctor_a"],
                            json={"ly_do": "Kê nhầm thuốc"})
    assert cancelled.status_code == 200
    texts, codes, _ = read_pdf(printed_pdf(client, world["h"]["doctor_a"], code).data)
    text = "\n".join(texts)
    assert text.count("ĐÃ HỦY") >= 2  # across the page and as a stamp by the title
    assert re.search(r"Đơn đã hủy ngày \d\d/\d\d/\d{4}: Kê nhầm thuốc", text)
    assert len(codes) == 1  # still verifiable
    page = client.get(f"/v2/prescriptions/{code}/print.html", headers=world["h"]["regulator"])
    html = page.get_data(as_text=True)
    assert 'class="stamp">ĐÃ HỦY<' in html and "Kê nhầm thuốc" in html


def test_the_html_view_is_self_contained_and_escaped(client: FlaskClient, clinic: dict,
                                                     database) -> None:
    code = issued(client, clinic, ho_ten_benh_nhan="Lê <b>Văn</b> Tám & Co",
                  loi_dan='Uống sau ăn "no" <script>alert(1)</script>')
    page = client.get(f"/v2/prescriptions/{code}/print.html", headers=clinic["h"]["clinic_a"])
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "Lê &lt;b&gt;Văn&lt;/b&gt; Tám &amp; Co" in html
    assert "<script" not in html and "&lt;script&gt;" in html
    assert code in html and "12 Lê Lợi, Quận 1" in html and "@page { size: A5" in html
    assert re.search(r"<svg[^>]*viewBox", html)  # the QR code, inline
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "url(" not in html and "@import" not in html
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    event = audit_log(database).find_one({"action": "prescription.printed"})
    assert event["details"] == {"format": "html", "status": "issued"}


def test_printing_is_in_the_patients_access_log(client: FlaskClient, world: dict) -> None:
    code = issued(client, world)
    printed_pdf(client, world["h"]["doctor_a"], code)
    log = client.get("/v2/patients/079090001234/access-log", headers=world["h"]["regulator"])
    assert log.status_code == 200, log.get_json()
    assert "prescription.printed" in {item["action"] for item in log.get_json()["items"]}


def test_openapi_declares_the_pdf(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    pdf = spec["paths"]["/v2/prescriptions/{code}/print"]["get"]["responses"]["200"]
    assert "application/pdf" in pdf["content"]
    html = spec["paths"]["/v2/prescriptions/{code}/print.html"]["get"]["responses"]["200"]
    assert "text/html" in html["content"]


# --- the form's rules, without HTTP ----------------------------------------------------------
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def stored_prescription(**changes: Any) -> dict[str, Any]:
    document = {"ma_don_thuoc": "79001ABCDEFG-c", "loai_don_thuoc": "c",
                "ho_ten_benh_nhan": PATIENT, "ngay_sinh_benh_nhan": "2023-03-15",
                "gioi_tinh": 3, "chan_doan": [{"ma_chan_doan": "J06.9"}],
                "dot_dung_thuoc": [{"dot": 1, "tu_ngay": "2026-12-01", "den_ngay": "2026-12-05"}],
                "thong_tin_don_thuoc": [{"ma_thuoc": "X", "national_code": "X",
                                         "don_vi_tinh": "Viên", "so_luong": 7,
                                         "cach_dung": "Uống"}],
                "ngay_gio_ke_don": "2026-12-01T09:00:00+07:00", **changes}
    return {"_id": "79001ABCDEFG-c", "facility": "79001", "document": document,
            "cancellation": None, "dispensable_until": NOW + timedelta(days=5)}


def form_of(stored: dict[str, Any], status: str = "issued") -> Any:
    clinic = Party("clinic-79001", "clinic", "79001", "Phòng khám Đa khoa", "79001", "active")
    return printed_form(stored, status=status, facility=clinic, prescriber=None,
                        drug=lambda code: None, qr_text="a.b.c", zone=ZONE, now=NOW,
                        child_months=72)


@pytest.mark.parametrize("born, on, expected", [
    (date(2023, 3, 15), date(2026, 12, 1), "44 tháng tuổi"),
    (date(2020, 12, 1), date(2026, 12, 1), "6 tuổi"),
    (date(2020, 12, 2), date(2026, 12, 1), "71 tháng tuổi"),
    (date(2026, 11, 20), date(2026, 12, 1), "0 tháng tuổi"),
    (date(1990, 3, 15), date(2026, 3, 14), "35 tuổi"),
])
def test_age_is_in_months_under_72_months(born: date, on: date, expected: str) -> None:
    assert age_text(born, on, child_months=72) == expected


def test_the_child_age_is_the_validation_setting(make_app) -> None:
    assert services(make_app(RX_CHILD_AGE_MONTHS=24)).printing.child_months == 24


def test_quantities_under_ten_have_a_leading_zero() -> None:
    assert [number_text(value) for value in (7, 7.0, 10, 120, 2.5)] == ["07", "07", "10", "120", "2,5"]


def test_a_character_the_font_lacks_prints_as_a_replacement_not_nothing() -> None:
    form = form_of(stored_prescription(ho_ten_benh_nhan="Trần 王 Anh", loi_dan="ngày\u0000 mai"))
    text = "\n".join(read_pdf(render_pdf(form), dpi=None)[0])
    assert "Trần \ufffd Anh" in text
    assert re.search(r"ngày\s+mai", text) and "\x00" not in text  # a control character: a blank


def test_a_long_prescription_flows_over_pages_each_with_its_code() -> None:
    lines = [{"ma_thuoc": f"X{i}", "national_code": f"X{i}", "ten_thuoc": f"Thuốc số {i}",
              "don_vi_tinh": "Viên", "so_luong": 10 + i, "cach_dung": "Uống 1 viên mỗi sáng"}
             for i in range(40)]
    texts, _, _ = read_pdf(render_pdf(form_of(stored_prescription(thong_tin_don_thuoc=lines))),
                           dpi=None)
    assert len(texts) >= 3
    assert all("79001ABCDEFG-c" in text for text in texts)
    joined = "\n".join(texts)
    assert all(f"{i + 1}. Thuốc số {i}" in joined and f"SL: {10 + i} Viên" in joined
               for i in range(40))


@settings(max_examples=12, deadline=None)
@given(name=st.text(min_size=1, max_size=60).filter(lambda s: s.strip()),
       advice=st.text(max_size=300), kind=st.sampled_from("cnhy"))
def test_any_text_prints(name: str, advice: str, kind: str) -> None:
    """Whatever text a document holds, the page renders and every letter of the name the
    font can draw is on it (the others as �)."""
    form = form_of(stored_prescription(ho_ten_benh_nhan=name, loi_dan=advice,
                                       loai_don_thuoc=kind))
    text = "".join(read_pdf(render_pdf(form), dpi=None)[0])
    shown = printable(form.patient_name)
    assert all(char in text for char in shown if char.isalpha())


def test_kinds_have_their_title_and_expired_ones_their_mark() -> None:
    assert form_of(stored_prescription(loai_don_thuoc="n")).title == "ĐƠN THUỐC “N”"
    assert form_of(stored_prescription(loai_don_thuoc="h")).title == "ĐƠN THUỐC “H”"
    expired = form_of(stored_prescription(), status="expired")
    assert expired.mark == "HẾT HẠN" and "06/12/2026" in expired.mark_detail
    assert form_of(stored_prescription()).mark == ""



def test_printing_writes_no_font_subsetting_lines_to_the_log(caplog) -> None:
    configure_logging("debug")  # even at the most verbose level
    try:
        with caplog.at_level(logging.DEBUG):
            assert render_pdf(form_of(stored_prescription())).startswith(b"%PDF-")
    finally:
        configure_logging("warning")
    # Only what the rendering thread logged: in a full run, other tests' database clients
    # still have monitor threads logging (pymongo's topology events at debug level).
    foreign = [r.name for r in caplog.records if r.thread == threading.get_ident()
               and not r.name.startswith(("gateway", "erx"))]
    assert foreign == []


def test_the_narcotic_form_follows_the_prescribing_rules() -> None:
    """An "N" prescription: quantities also in words, under ten with a leading zero, how
    many copies and where each stays, and the prescriber's signature area."""
    lines = [{"ma_thuoc": "M1", "national_code": "M1", "ten_thuoc": "Morphin 10mg/ml",
              "don_vi_tinh": "Ống", "so_luong": 7, "cach_dung": "Tiêm dưới da"},
             {"ma_thuoc": "M2", "national_code": "M2", "ten_thuoc": "Morphin 30mg",
              "don_vi_tinh": "Viên", "so_luong": 21, "cach_dung": "Uống"}]
    form = form_of(stored_prescription(loai_don_thuoc="n", thong_tin_don_thuoc=lines))
    assert [line.quantity for line in form.lines] == ["07 Ống", "21 Viên"]
    assert [line.quantity_words for line in form.lines] == ["Bảy ống", "Hai mươi mốt viên"]
    assert form.copies.startswith("Đơn thuốc “N” lập 03 bản")
    text = " ".join(" ".join(read_pdf(render_pdf(form), dpi=None)[0]).split())
    for shown in ("ĐƠN THUỐC “N”", "SL: 07 Ống", "Số lượng bằng chữ: Bảy ống",
                  "Số lượng bằng chữ: Hai mươi mốt viên", "lập 03 bản", "(Ký, ghi rõ họ tên)"):
        assert shown in text, shown


def test_the_psychotropic_form_says_its_copies_and_no_words() -> None:
    form = form_of(stored_prescription(loai_don_thuoc="h"))
    assert form.copies.startswith("Đơn thuốc “H” lập 02 bản")
    assert form.lines[0].quantity_words == "" and form.lines[0].quantity == "07 Viên"
    assert form_of(stored_prescription()).copies == ""  # a basic prescription: no such line


def test_an_unnamed_prescriber_is_said_on_the_paper() -> None:
    form = form_of(stored_prescription())  # the clinic submitted, naming no doctor
    assert form.prescriber == "(Đơn do cơ sở gửi, không ghi tên bác sĩ kê đơn)"
    text = " ".join(" ".join(read_pdf(render_pdf(form), dpi=None)[0]).split())
    assert "không ghi tên bác sĩ kê đơn" in text
    assert words_text(2.5) == "Hai phẩy năm" and words_text(105) == "Một trăm lẻ năm"
