"""The printed prescription as an A5 PDF (fpdf2), laid out like the Vietnamese prescription form.

The text is real text in DejaVu Sans (``fonts/``, licence in ``fonts/LICENSE.txt``), embedded
as a subset, so Vietnamese reads, selects and searches with its diacritics; a character the
font lacks prints as ``�`` rather than vanishing. The QR code is drawn as vector squares, one
per run of dark modules, 0.5 mm a module (36.5 mm for version 14, 40.5 mm with its quiet zone).
A prescription that can no longer be dispensed carries its mark (``ĐÃ HỦY``, ``HẾT HẠN``)
across every page and as a stamp by the title.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos
from fpdf.fonts import CoreFont, TTFFont

from gateway.prescriptions.printing import PrintedForm, qr_symbol

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVuSans"
PAGE = (148.0, 210.0)  # A5 portrait, mm
MARGIN = 10.0
MODULE_MM = 0.5
QUIET_MODULES = 4
LINE = 4.6  # mm per line of 9-point text
RED = (190, 20, 20)
INK = (0, 0, 0)
GREY = (90, 90, 90)
REPLACEMENT = "\ufffd"


class _Page(FPDF):
    """fpdf2 with the form's page furniture: the mark under every page, a footer with the
    code and the page number."""

    form: PrintedForm

    def header(self) -> None:
        if self.page_no() > 1:
            self.set_font(FONT, "", 7)
            self.set_text_color(*GREY)
            self.cell(0, 4, f"{self.form.title} {self.form.code} (tiếp theo)", align=Align.R,
                      new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.set_text_color(*INK)
        if not self.form.mark:
            return
        y = self.get_y()
        with self.local_context(fill_opacity=0.18, text_color=RED):
            self.set_font(FONT, "B", 64)
            with self.rotation(35, x=PAGE[0] / 2, y=PAGE[1] / 2):
                width = self.get_string_width(self.form.mark)
                self.text(PAGE[0] / 2 - width / 2, PAGE[1] / 2 + 8, self.form.mark)
        self.set_xy(MARGIN, y)

    def footer(self) -> None:
        self.set_y(-MARGIN - 2)
        self.set_font(FONT, "", 6.5)
        self.set_text_color(*GREY)
        self.cell(0, 3, f"{self.form.code} · in lúc {self.form.printed_at} · "
                        f"trang {self.page_no()}/{{nb}}", align=Align.C)
        self.set_text_color(*INK)


def _with_fonts(pdf: FPDF) -> FPDF:
    pdf.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    return pdf


@functools.cache
def covered() -> frozenset[int]:
    """The code points both the regular and the bold font draw."""
    fonts = _with_fonts(FPDF()).fonts
    try:
        regular, bold = fonts[FONT.lower()], fonts[f"{FONT.lower()}B"]
        assert isinstance(regular, TTFFont) and isinstance(bold, TTFFont)  # added from files
        return frozenset(regular.cmap).intersection(bold.cmap)
    finally:
        _close(fonts.values())


def printable(value: str) -> str:
    """``value`` with what the font cannot draw replaced by ``�`` (never dropped)."""
    drawn = covered()
    return "".join(char if ord(char) in drawn or char == " " else REPLACEMENT for char in value)


def render_pdf(form: PrintedForm) -> bytes:
    """The A5 PDF of ``form``."""
    pdf = _Page(unit="mm", format=PAGE)
    pdf.form = form
    pdf.set_title(printable(f"Đơn thuốc {form.code}"))
    pdf.set_author(printable(form.facility_name))
    pdf.set_creator("erx-gateway")
    _with_fonts(pdf)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=MARGIN + 6)
    writer = _Writer(pdf)
    try:
        pdf.add_page()
        writer.heading(form)
        writer.patient(form)
        writer.drugs(form)
        writer.closing(form)
        return bytes(pdf.output())
    finally:
        _close(pdf.fonts.values())  # output() closes them too; not when it fails


def _close(fonts: Iterable[CoreFont | TTFFont]) -> None:
    for font in fonts:
        if isinstance(font, TTFFont):  # a core font holds no file
            font.close()


class _Writer:
    """Writes the form's parts on the page, top to bottom."""

    def __init__(self, pdf: _Page) -> None:
        self.pdf = pdf
        self.text = printable

    @contextmanager
    def width(self, right_margin: float) -> Iterator[None]:
        pdf = self.pdf
        saved = pdf.r_margin
        pdf.set_right_margin(right_margin)
        try:
            yield
        finally:
            pdf.set_right_margin(saved)

    def para(self, value: str, *, size: float = 9, bold: bool = False, align: Align = Align.L,
             height: float = LINE, color: tuple[int, int, int] = INK) -> None:
        pdf = self.pdf
        pdf.set_font(FONT, "B" if bold else "", size)
        pdf.set_text_color(*color)
        pdf.multi_cell(0, height, self.text(value), align=align, new_x=XPos.LMARGIN,
                       new_y=YPos.NEXT)
        pdf.set_text_color(*INK)

    def field(self, label: str, value: str, *, size: float = 9) -> None:
        """``label: value`` flowing over lines, the label in bold; nothing when blank."""
        if not value:
            return
        pdf = self.pdf
        pdf.set_x(pdf.l_margin)
        pdf.set_font(FONT, "B", size)
        pdf.write(LINE, self.text(f"{label}: "))
        pdf.set_font(FONT, "", size)
        pdf.write(LINE, self.text(value))
        pdf.ln(LINE)

    def fields(self, *pairs: tuple[str, str]) -> None:
        """Several short ``label: value`` fields on one flowing line."""
        shown = [(label, value) for label, value in pairs if value]
        if not shown:
            return
        pdf = self.pdf
        pdf.set_x(pdf.l_margin)
        for index, (label, value) in enumerate(shown):
            pdf.set_font(FONT, "B", 9)
            pdf.write(LINE, self.text(("    " if index else "") + f"{label}: "))
            pdf.set_font(FONT, "", 9)
            pdf.write(LINE, self.text(value))
        pdf.ln(LINE)

    # --- parts of the form ------------------------------------------------------------------
    def heading(self, form: PrintedForm) -> None:
        pdf = self.pdf
        side = (qr_symbol(form.qr_text).symbol_size(border=QUIET_MODULES)[0]) * MODULE_MM
        top = pdf.get_y()
        self.qr(form.qr_text, x=PAGE[0] - MARGIN - side + QUIET_MODULES * MODULE_MM, y=top - 2)
        with self.width(MARGIN + side):
            self.para(form.facility_name.upper(), size=9.5, bold=True)
            if form.facility_address:
                self.para(f"Địa chỉ: {form.facility_address}", size=8)
            if form.facility_phone:
                self.para(f"Điện thoại: {form.facility_phone}", size=8)
            pdf.ln(2)
            self.para("Mã đơn thuốc", size=8, color=GREY, height=3.5)
            self.para(form.code, size=17, bold=True, height=8)
            self.para("Quét mã QR để kiểm tra đơn thuốc (chữ ký số của cổng đơn thuốc)",
                      size=6.5, color=GREY, height=3)
        pdf.set_y(max(pdf.get_y(), top + side - 4) + 1)
        self.para(form.title, size=15, bold=True, align=Align.C, height=8)
        if form.mark:
            self.stamp(form)
        pdf.ln(1.5)

    def stamp(self, form: PrintedForm) -> None:
        pdf = self.pdf
        pdf.set_draw_color(*RED)
        pdf.set_line_width(0.6)
        pdf.set_font(FONT, "B", 12)
        pdf.set_text_color(*RED)
        width = pdf.get_string_width(form.mark) + 8
        pdf.set_x((PAGE[0] - width) / 2)
        pdf.cell(width, 7, form.mark, border=1, align=Align.C, new_x=XPos.LMARGIN,
                 new_y=YPos.NEXT)
        pdf.set_text_color(*INK)
        pdf.set_draw_color(*INK)
        pdf.set_line_width(0.2)
        if form.mark_detail:
            self.para(form.mark_detail, size=8, align=Align.C, color=RED, height=4)

    def patient(self, form: PrintedForm) -> None:
        self.field("Họ tên", form.patient_name, size=10)
        self.fields(("Ngày sinh", f"{form.birth_date} ({form.age})"), ("Giới tính", form.sex),
                    ("Cân nặng", form.weight))
        self.fields(("Số định danh cá nhân", form.personal_id), ("Mã số BHYT", form.insurance))
        self.field("Mã định danh y tế", form.health_id)
        self.field("Người giám hộ", form.guardian)
        self.field("Địa chỉ", form.address)
        self.field("Chẩn đoán", "; ".join(form.diagnoses))
        self.field("Lưu ý", form.cautions)
        self.field("Đợt dùng thuốc", "; ".join(form.periods))
        self.pdf.ln(1)

    def drugs(self, form: PrintedForm) -> None:
        pdf = self.pdf
        self.para("Thuốc điều trị:", size=9.5, bold=True)
        for line in form.lines:
            quantity_width = 30.0
            top = pdf.get_y()
            if top + 3 * LINE > pdf.page_break_trigger:
                pdf.add_page()
                top = pdf.get_y()
            with self.width(MARGIN + quantity_width):
                name = f"{line.number}. {line.name}"
                self.para(name + (f" ({line.brand})" if line.brand else ""), bold=True)
            bottom = pdf.get_y()
            page = pdf.page_no()
            pdf.set_xy(PAGE[0] - MARGIN - quantity_width, top)
            pdf.set_font(FONT, "B", 9)
            pdf.cell(quantity_width, LINE, self.text(f"SL: {line.quantity}"), align=Align.R)
            if pdf.page_no() == page:
                pdf.set_y(bottom)
            if line.quantity_words:  # a narcotic's quantity, also in words
                pdf.set_left_margin(MARGIN + 4)
                pdf.set_x(MARGIN + 4)
                self.para(f"Số lượng bằng chữ: {line.quantity_words}", size=8.5, bold=True)
                pdf.set_left_margin(MARGIN)
            details = " · ".join(part for part in (
                line.form, f"Cách dùng: {line.directions}" if line.directions else "") if part)
            if details:
                pdf.set_left_margin(MARGIN + 4)
                pdf.set_x(MARGIN + 4)
                self.para(details, size=8.5)
                pdf.set_left_margin(MARGIN)
            pdf.ln(0.8)

    def closing(self, form: PrintedForm) -> None:
        pdf = self.pdf
        pdf.ln(1)
        self.field("Lời dặn", form.advice)
        self.field("Tái khám", form.follow_up)
        if pdf.get_y() + 30 > pdf.page_break_trigger:
            pdf.add_page()
        pdf.ln(2)
        column = 62.0
        with self.width(MARGIN):
            pdf.set_left_margin(PAGE[0] - MARGIN - column)
            pdf.set_x(pdf.l_margin)
            self.para(form.place_and_date, size=8.5, align=Align.C)
            self.para("Bác sĩ/Y sĩ khám bệnh", size=8.5, bold=True, align=Align.C)
            self.para("(Ký, ghi rõ họ tên)", size=7.5, align=Align.C, color=GREY)
            pdf.ln(10)
            self.para(form.prescriber, size=9, bold=True, align=Align.C)
            if form.prescriber_phone:
                self.para(f"ĐT: {form.prescriber_phone}", size=7.5, align=Align.C)
            pdf.set_left_margin(MARGIN)
        if form.copies:
            pdf.ln(1)
            self.para(form.copies, size=7.5, color=GREY)

    def qr(self, text: str, *, x: float, y: float) -> None:
        """The QR symbol with its top-left module at (x, y): one filled rectangle per
        horizontal run of dark modules (the quiet zone is the white paper around it)."""
        pdf = self.pdf
        pdf.set_fill_color(*INK)
        for row_index, row in enumerate(qr_symbol(text).matrix):
            start = None
            for column, dark in enumerate([*row, 0]):
                if dark and start is None:
                    start = column
                elif not dark and start is not None:
                    pdf.rect(x + start * MODULE_MM, y + row_index * MODULE_MM,
                             (column - start) * MODULE_MM, MODULE_MM, style="F")
                    start = None
