"""The printable prescription (README "Printable prescription"): what the paper shows, who may
print it, and its QR code (no HTTP here).

:func:`printed_form` turns a stored prescription into a :class:`PrintedForm`: the fields of the
Vietnamese prescription form, as text ready to print, in the order the form has them. The PDF
(:mod:`gateway.prescriptions.print_pdf`) and the browser's HTML view both lay this one form
out, so they never disagree. :class:`Printing` is the service: access (the issuing facility's
clinic and doctors, and regulators), the form, the QR token
(:meth:`gateway.signatures.qr.PrescriptionQr.issue`) and the PDF.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import segno
from num2words import num2words

from drug_catalog.catalog import Catalog
from drug_catalog.model import Drug
from gateway.core.errors import Forbidden
from gateway.parties.model import Party, Role
from gateway.parties.store import PartyStore
from gateway.prescriptions.model import PRESCRIBERS, Status, StoredPrescription
from gateway.prescriptions.reading import Reading
from gateway.signatures.qr import QR_ERROR, QR_VERSION, PrescriptionQr
from schemas.rules import months_between

# The title of the form for each loai_don_thuoc.
TITLES = {"c": "ĐƠN THUỐC", "n": "ĐƠN THUỐC “N”", "h": "ĐƠN THUỐC “H”",
          "y": "ĐƠN THUỐC Y HỌC CỔ TRUYỀN"}
SEXES = {2: "Nam", 3: "Nữ", 1: "Không xác định"}
# The mark printed across a prescription that can no longer be dispensed.
MARKS: dict[str, str] = {Status.CANCELLED: "ĐÃ HỦY", Status.EXPIRED: "HẾT HẠN"}
PRINTERS = ("clinic", "doctor", "regulator")
#: How many copies of an "N" or "H" prescription are made and where each stays (the Ministry
#: of Health's prescribing rules, Thông tư 52/2017/TT-BYT as amended): printed on the form.
COPIES = {
    "n": "Đơn thuốc “N” lập 03 bản: 01 bản lưu tại cơ sở khám bệnh, chữa bệnh; 01 bản lưu trong "
         "sổ khám bệnh của người bệnh; 01 bản lưu tại cơ sở cấp, bán thuốc",
    "h": "Đơn thuốc “H” lập 02 bản: 01 bản lưu tại cơ sở khám bệnh, chữa bệnh; 01 bản lưu trong "
         "sổ khám bệnh của người bệnh",
}
#: Printed in the prescriber's place when the clinic submitted without naming its doctor.
UNNAMED_PRESCRIBER = "(Đơn do cơ sở gửi, không ghi tên bác sĩ kê đơn)"


@dataclass(frozen=True)
class PrintedLine:
    """One drug line: ``name`` (active ingredient and strength), ``brand`` (as prescribed or
    as registered, when it says more than the name), the quantity with its unit, directions."""

    number: int
    name: str
    brand: str
    form: str
    quantity: str
    directions: str
    #: the quantity in words, first letter capital (narcotic "N" prescriptions), else ""
    quantity_words: str = ""


@dataclass(frozen=True)
class PrintedForm:
    """Everything the paper shows, as text; blank fields are ``""`` (left off the paper)."""

    code: str
    title: str
    facility_name: str
    facility_address: str
    facility_phone: str
    patient_name: str
    birth_date: str
    age: str
    sex: str
    weight: str
    guardian: str
    personal_id: str
    health_id: str
    insurance: str
    address: str
    diagnoses: tuple[str, ...]
    cautions: str
    periods: tuple[str, ...]
    lines: tuple[PrintedLine, ...]
    advice: str
    follow_up: str
    prescribed_on: str
    place_and_date: str
    prescriber: str
    prescriber_phone: str
    copies: str
    status: str
    mark: str
    mark_detail: str
    printed_at: str
    qr_text: str


def clean(value: Any) -> str:
    """Printable text: NFC, control characters dropped, blanks trimmed (``None`` is ``""``)."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    return "".join(char if unicodedata.category(char)[0] != "C" else " "
                   for char in text).strip()


def _dmy(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def age_text(born: date, on: date, *, child_months: int) -> str:
    """``"35 tuổi"``, or ``"30 tháng tuổi"`` for a child under ``child_months`` months
    (``ERX_RX_CHILD_AGE_MONTHS``, 72 by the Ministry of Health's rule)."""
    months = max(months_between(born, on), 0)
    if months < child_months:
        return f"{months} tháng tuổi"
    return f"{months // 12} tuổi"


def number_text(value: Any) -> str:
    """A quantity as printed: whole numbers under 10 with a leading zero (``07``), as the
    Ministry of Health asks, so a 7 cannot be turned into a 17; decimals with a comma."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return f"{value:02d}"
    return decimal_text(value)


def words_text(value: Any) -> str:
    """A quantity in Vietnamese words, first letter capital, as a narcotic prescription writes
    it (``20`` -> ``Hai mươi``, ``2.5`` -> ``Hai phẩy năm``)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        text = num2words(value, lang="vi")
    else:
        whole, _, fraction = str(value).partition(".")
        text = " ".join([num2words(int(whole), lang="vi"), "phẩy",
                         *(num2words(int(digit), lang="vi") for digit in fraction)])
    return text[:1].upper() + text[1:]


def decimal_text(value: Any) -> str:
    """A number as Vietnamese writes it: ``62``, ``12,5``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).replace(".", ",")


def _line(index: int, line: Mapping[str, Any], drug: Drug | None,
          in_words: bool = False) -> PrintedLine:
    registered = ""
    if drug is not None:
        registered = " + ".join(clean(f"{ingredient.name} {ingredient.strength}")
                                for ingredient in drug.active_ingredients)
    name = clean(line.get("ten_thuoc")) or registered or (clean(drug.name) if drug else "") \
        or clean(line.get("ma_thuoc"))
    brand = clean(line.get("biet_duoc")) or (clean(drug.name) if drug else "")
    if brand.casefold() == name.casefold() or brand.casefold() in name.casefold():
        brand = ""
    return PrintedLine(number=index + 1, name=name, brand=brand,
                       form=clean(drug.dosage_form) if drug else "",
                       quantity=f"{number_text(line.get('so_luong'))} "
                                f"{clean(line.get('don_vi_tinh'))}".strip(),
                       directions=clean(line.get("cach_dung")),
                       quantity_words=(f"{words_text(line.get('so_luong'))} "
                                       f"{clean(line.get('don_vi_tinh')).lower()}".strip()
                                       if in_words and isinstance(line.get("so_luong"),
                                                                  int | float) else ""))


def _diagnosis(item: Mapping[str, Any]) -> str:
    text = clean(item.get("ma_chan_doan"))
    name = clean(item.get("ten_chan_doan"))
    if name:
        text = f"{text} – {name}"
    conclusion = clean(item.get("ket_luan"))
    if conclusion and conclusion != name:
        text = f"{text} ({conclusion})"
    return text


def printed_form(stored: Mapping[str, Any], *, status: str, facility: Party | None,
                 prescriber: Party | None, drug: Callable[[str], Drug | None], qr_text: str,
                 zone: tzinfo, now: datetime, child_months: int) -> PrintedForm:
    """The form of a stored prescription.

    ``status`` is its effective status, ``facility`` the clinic party (its name, address and
    phone as registered), ``prescriber`` the doctor party that issued it
    (``None`` when unknown or when the clinic itself did), ``drug(national_code)`` the
    catalog's product, ``qr_text`` the QR token, ``now`` the time of printing,
    ``child_months`` the age under which it is given in months.
    """
    document = stored["document"]
    prescribed_at = datetime.fromisoformat(document["ngay_gio_ke_don"])
    prescribed_on = prescribed_at.date()
    born = date.fromisoformat(document["ngay_sinh_benh_nhan"])
    follow_up = ""
    if isinstance(document.get("ngay_tai_kham"), int):
        days = document["ngay_tai_kham"]
        follow_up = f"sau {days} ngày, ngày {_dmy(prescribed_on + timedelta(days=days))}"
    weight = document.get("can_nang")
    cancellation = stored.get("cancellation") or {}
    mark_detail = ""
    if status == Status.CANCELLED and cancellation:
        mark_detail = (f"Đơn đã hủy ngày {_dmy(cancellation['at'].astimezone(zone).date())}: "
                       f"{clean(cancellation.get('ly_do'))}")
    elif status == Status.EXPIRED:
        mark_detail = (f"Đơn hết hạn mua thuốc từ "
                       f"{_dmy(stored['dispensable_until'].astimezone(zone).date())}")
    facility_name = clean(facility.name) if facility else ""
    return PrintedForm(
        code=stored["_id"], title=TITLES.get(document.get("loai_don_thuoc"), TITLES["c"]),
        facility_name=facility_name or f"Cơ sở khám bệnh, chữa bệnh {stored['facility']}",
        facility_address=clean(facility.address) if facility else "",
        facility_phone=clean(facility.phone) if facility else "",
        patient_name=clean(document.get("ho_ten_benh_nhan")),
        birth_date=_dmy(born), age=age_text(born, prescribed_on, child_months=child_months),
        sex=SEXES.get(document.get("gioi_tinh"), ""),
        weight=f"{decimal_text(weight)} kg" if weight is not None else "",
        guardian=clean(document.get("thong_tin_nguoi_giam_ho")),
        personal_id=clean(document.get("ma_dinh_danh_cong_dan")),
        health_id=clean(document.get("ma_dinh_danh_y_te")),
        insurance=clean(document.get("ma_so_the_bao_hiem_y_te")),
        address=clean(document.get("dia_chi")),
        diagnoses=tuple(_diagnosis(item) for item in document.get("chan_doan", [])),
        cautions=clean(document.get("luu_y")),
        periods=tuple(f"Đợt {period.get('dot', index + 1)}: từ "
                      f"{_dmy(date.fromisoformat(period['tu_ngay']))} đến "
                      f"{_dmy(date.fromisoformat(period['den_ngay']))}"
                      for index, period in enumerate(document.get("dot_dung_thuoc", []))),
        lines=tuple(_line(index, line, drug(line["national_code"]) if line.get("national_code")
                          else None, in_words=document.get("loai_don_thuoc") == "n")
                    for index, line in enumerate(document["thong_tin_don_thuoc"])),
        advice=clean(document.get("loi_dan")), follow_up=follow_up,
        prescribed_on=_dmy(prescribed_on),
        place_and_date=f"Ngày {prescribed_on.day:02d} tháng {prescribed_on.month:02d} "
                       f"năm {prescribed_on.year}",
        prescriber=(clean(prescriber.name) if prescriber else "") or UNNAMED_PRESCRIBER,
        prescriber_phone=clean(document.get("so_dien_thoai_nguoi_kham_benh")),
        copies=COPIES.get(document.get("loai_don_thuoc"), ""),
        status=status, mark=MARKS.get(status, ""), mark_detail=mark_detail,
        printed_at=now.astimezone(zone).strftime("%d/%m/%Y %H:%M"), qr_text=qr_text)


def qr_symbol(text: str) -> segno.QRCode:
    """The QR symbol of a token: version 14, error correction M, byte mode (README)."""
    return segno.make_qr(text, error=QR_ERROR, version=QR_VERSION, boost_error=False)


def qr_svg(text: str, *, module_mm: float) -> str:
    """The QR symbol as an inline SVG element, ``module_mm`` millimetres a module."""
    return qr_symbol(text).svg_inline(scale=module_mm, unit="mm", border=4, omitsize=False)


class Printing:
    """Printing a prescription: who may, the form, the QR token, the PDF."""

    def __init__(self, reading: Reading, *, parties: PartyStore, qr: PrescriptionQr,
                 catalog: Catalog, zone: tzinfo, child_months: int,
                 render_pdf: Callable[[PrintedForm], bytes],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.reading = reading
        self.parties = parties
        self.qr = qr
        self.catalog = catalog
        self.zone = zone
        self.child_months = child_months
        self.render_pdf = render_pdf
        self.clock = clock

    def authorize(self, stored: Mapping[str, Any], party: Party) -> None:
        """The issuing facility's clinic and doctors, and regulators, print. Raises: Forbidden."""
        if party.role == Role.REGULATOR:
            return
        if party.role in PRESCRIBERS and party.facility == stored["facility"]:
            return
        if party.role in PRESCRIBERS:
            raise Forbidden("this prescription belongs to another facility")
        raise Forbidden("only the issuing facility and regulators print a prescription")

    def form(self, code: str, party: Party) -> tuple[StoredPrescription, PrintedForm]:
        """The stored prescription and its form, with a QR token signed now.

        Raises:
            NotFound. Forbidden: see :meth:`authorize`.
            signing.errors.KeyStoreError: no usable signing key.
        """
        stored = self.reading.get(code)
        self.authorize(stored, party)
        facility = self.parties.find_national(stored["facility"])
        prescriber = (self.parties.get(stored["issuer"])
                      if stored.get("issuer_role") == Role.DOCTOR else None)
        token = self.qr.issue(stored["_id"], stored["content_sha256"])
        return stored, printed_form(stored, status=self.reading.effective_status(stored),
                                    facility=facility, prescriber=prescriber,
                                    drug=self.catalog.get, qr_text=token, zone=self.zone,
                                    now=self.clock(), child_months=self.child_months)

    def pdf(self, form: PrintedForm) -> bytes:
        """The A5 PDF of a form."""
        return self.render_pdf(form)
