"""Reading catalog files: the Drug Administration's registry CSV (``dav-csv``) and ``ndjson``.

A reader yields, per data row, either a :class:`SourceRecord` or an
:class:`~drug_catalog.errors.ImportRowError` (line and reason), so one bad row never stops the
others. :func:`merge` turns a record into a :class:`~drug_catalog.model.Drug`, given what is
stored already.

``dav-csv`` follows the column layout of the registry lists the Drug Administration of Vietnam
publishes (``Số đăng ký, Tên thuốc, Hoạt chất - Hàm lượng, Tá dược, Phân loại, Loại thuốc,
Nước sản xuất, …``). Columns are found by name (case, diacritics and spacing ignored), in any
order; only ``Số đăng ký``, ``Tên thuốc`` and ``Hoạt chất`` are required. Optional columns the
registry lists do not always carry are read when present: ``Mã thuốc``, ``Dạng bào chế``,
``Đường dùng``, ``Đơn vị tính``, ``Quy cách đóng gói``, ``GTIN``, ``Hàm lượng``,
``Kiểm soát đặc biệt``, ``Trạng thái``, ``Hiệu lực SĐK``. Any other column is ignored.

What a row states overrides what is stored; what it does not state (a missing column or an
empty cell) keeps the stored value, or a default for a new product. So importing the registry
over the demo catalog, or importing the same file twice, changes nothing.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TextIO

from drug_catalog.errors import ImportFormatError, ImportRowError, InvalidDrug, InvalidIdentifier
from drug_catalog.identifiers import normalize_code, normalize_gtin, parse_registration_number
from drug_catalog.model import ActiveIngredient, Drug
from drug_catalog.text import fold

FORMATS = ("dav-csv", "ndjson")

# Values a new product gets for what its source row does not state.
NEW_PRODUCT_DEFAULTS: dict[str, Any] = {
    "gtins": [], "dosage_form": "", "route": "", "unit": "", "packaging": "",
    "kind": "chemical", "prescription_only": True, "control_class": "none",
    "status": "active", "registration_valid_until": None,
}


@dataclass(frozen=True)
class SourceRecord:
    """One row of a catalog file.

    Attributes:
        line: 1-based line number where the row starts.
        national_code: the product's key.
        stated: drug-resource fields the row states; they override stored values.
        defaults: inferred values, used only for a product not stored yet (e.g. ``kind``
            guessed from the registration-number format when ``Loại thuốc`` is empty).
    """

    line: int
    national_code: str
    stated: dict[str, Any]
    defaults: dict[str, Any] = field(default_factory=dict)


def merge(record: SourceRecord, existing: Drug | None) -> Drug:
    """The product after applying ``record`` to what is stored (``existing``, or None).

    Raises:
        InvalidDrug: the merged record is invalid (e.g. a new product without a name).
    """
    base = existing.to_dict() if existing is not None else {**NEW_PRODUCT_DEFAULTS,
                                                              **record.defaults}
    return Drug.from_dict({**base, **record.stated, "national_code": record.national_code})


# ------------------------------------------------------------------------------- ndjson

def read_ndjson(stream: TextIO) -> Iterator[SourceRecord | ImportRowError]:
    """Read one drug resource (README.md "Drug catalog") per line; blank lines and lines
    holding only ``_``-prefixed annotation keys (``{"_comment": "…"}``) are skipped.

    Yields:
        A :class:`SourceRecord` stating every field, or an :class:`ImportRowError` for a line
        that is not JSON or not a valid drug record (naming the field).
    """
    for number, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except ValueError as exc:
            yield ImportRowError(number, f"not JSON: {exc}")
            continue
        if isinstance(data, dict) and data and all(str(key).startswith("_") for key in data):
            continue
        try:
            drug = Drug.from_dict(data)
        except InvalidDrug as exc:
            yield ImportRowError(number, str(exc))
            continue
        yield SourceRecord(number, drug.national_code, drug.to_dict())


# ------------------------------------------------------------------------------ dav-csv

# Folded header name -> the column's role.
_COLUMNS = {
    "so dang ky": "registration_number", "sdk": "registration_number",
    "so dk": "registration_number", "so giay dang ky luu hanh": "registration_number",
    "ten thuoc": "name",
    "hoat chat - ham luong": "ingredients", "hoat chat-ham luong": "ingredients",
    "hoat chat, ham luong": "ingredients", "hoat chat ham luong": "ingredients",
    "hoat chat": "ingredients", "ham luong": "strength",
    "phan loai": "classification", "loai thuoc": "kind",
    "ma thuoc": "national_code", "ma thuoc quoc gia": "national_code",
    "dang bao che": "dosage_form", "duong dung": "route",
    "don vi tinh": "unit", "dvt": "unit", "don vi": "unit",
    "quy cach dong goi": "packaging", "dong goi": "packaging", "quy cach": "packaging",
    "gtin": "gtins", "ma gtin": "gtins", "ma vach": "gtins",
    "kiem soat dac biet": "control_class", "thuoc kiem soat dac biet": "control_class",
    "phan loai kiem soat": "control_class",
    "trang thai": "status", "tinh trang": "status",
    "hieu luc sdk": "registration_valid_until", "hieu luc": "registration_valid_until",
    "ngay het hieu luc": "registration_valid_until", "han hieu luc": "registration_valid_until",
    "hieu luc den": "registration_valid_until",
}
_REQUIRED_COLUMNS = {"registration_number": "Số đăng ký", "name": "Tên thuốc",
                     "ingredients": "Hoạt chất - Hàm lượng"}

_KIND_WORDS = (("nguyen lieu", "raw_material"), ("tan duoc", "chemical"),
               ("hoa duoc", "chemical"), ("dong duoc", "traditional"),
               ("duoc lieu", "traditional"), ("co truyen", "traditional"),
               ("sinh pham", "biological"), ("vac xin", "biological"),
               ("vacxin", "biological"), ("vaccine", "biological"))
_CONTROL_WORDS = (("gay nghien", "narcotic"), ("narcotic", "narcotic"),
                  ("huong than", "psychotropic"), ("psychotropic", "psychotropic"),
                  ("tien chat", "precursor"), ("precursor", "precursor"),
                  ("phong xa", "radioactive"), ("radioactive", "radioactive"),
                  ("khong", "none"), ("none", "none"))
_STATUS_WORDS = (("dinh chi", "suspended"), ("suspended", "suspended"),
                 ("rut so dang ky", "withdrawn"), ("rut sdk", "withdrawn"),
                 ("rut giay dang ky", "withdrawn"), ("thu hoi so dang ky", "withdrawn"),
                 ("thu hoi sdk", "withdrawn"), ("withdrawn", "withdrawn"),
                 ("thu hoi", "recalled"), ("recalled", "recalled"),
                 ("con hieu luc", "active"), ("dang luu hanh", "active"),
                 ("luu hanh", "active"), ("active", "active"))

_STRENGTH = re.compile(
    r"(?P<strength>\d+(?:[.,]\d+)?\s*"
    r"(?:mg|mcg|µg|μg|g|ml|l|iu|ui|mui|miu|dvqt|đvqt|%|cfu|mmol|meq|kbq|mbq|gbq|mci)"
    r"(?:\s*/\s*(?:\d+(?:[.,]\d+)?\s*)?(?:ml|g|l|vien|viên|lieu|liều|goi|gói|ong|ống|lo|lọ|"
    r"mg|dose|puff|nhát|nhat))?)\s*$",
    re.IGNORECASE)
_SPLIT_COMMA = re.compile(r",(?![^()]*\))(?!(?<=\d,)\d)")


def split_ingredients(text: str) -> list[ActiveIngredient]:
    """Active ingredients of a registry's ``Hoạt chất - Hàm lượng`` cell.

    Items are separated by ``;`` (or, without any ``;``, by commas outside parentheses and
    not inside a decimal number such as ``6,25mg``); a trailing strength (``5mg/ml``,
    ``40mg``, ``100 IU``) is split off; a parenthesised remark standing alone
    (``(dưới dạng … )``) belongs to the ingredient before it.
    """
    text = " ".join(text.split())
    parts = text.split(";") if ";" in text else _SPLIT_COMMA.split(text)
    merged: list[str] = []
    for part in parts:
        part = part.strip(" ,.")
        if not part:
            continue
        if part.startswith("(") and merged:
            merged[-1] = f"{merged[-1]} {part}"
            continue
        merged.append(part)
    ingredients = []
    for part in merged:
        match = _STRENGTH.search(part)
        if match and match.start() > 0:
            name = part[:match.start()].strip(" ,.")
            ingredients.append(ActiveIngredient(name=name, strength=match["strength"].strip()))
        else:
            ingredients.append(ActiveIngredient(name=part, strength=""))
    return ingredients


def _lookup(words: tuple[tuple[str, str], ...], value: str) -> str | None:
    folded = fold(value)
    for word, meaning in words:
        if word in folded:
            return meaning
    return None


def _parse_date(value: str) -> date:
    for pattern in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise ValueError(f"{value!r} is not a date (dd/mm/yyyy or yyyy-mm-dd)")


def inferred_kind(registration_number: str) -> str:
    """The kind a registration-number format implies when the registry does not say:
    ``VNNN-HNN-YY`` is traditional medicine, ``QLSP-``/``QLVX-`` biological, else chemical."""
    if re.match(r"^V\d+-H\d+-", registration_number):
        return "traditional"
    if registration_number.startswith(("QLSP-", "QLVX-")):
        return "biological"
    return "chemical"


def _dav_row(line: int, row: Mapping[str, str]) -> SourceRecord:
    def cell(role: str) -> str:
        return " ".join((row.get(role) or "").split())

    try:
        registration = parse_registration_number(cell("registration_number"))
    except InvalidIdentifier as exc:
        raise ImportRowError(line, f"Số đăng ký {cell('registration_number')!r}: "
                                   f"{exc.reason}") from None
    national_code = normalize_code(cell("national_code")) or registration
    stated: dict[str, Any] = {"registration_number": registration}
    defaults: dict[str, Any] = {"kind": inferred_kind(registration)}

    name = cell("name")
    if not name:
        raise ImportRowError(line, "Tên thuốc is empty")
    stated["name"] = name
    ingredients = split_ingredients(cell("ingredients"))
    if not ingredients:
        raise ImportRowError(line, "Hoạt chất - Hàm lượng is empty")
    strength = cell("strength")
    if strength and len(ingredients) == 1 and not ingredients[0].strength:
        ingredients = [ActiveIngredient(ingredients[0].name, strength)]
    stated["active_ingredients"] = [item.to_dict() for item in ingredients]

    classification = cell("classification")
    if classification:
        folded = fold(classification)
        if "nguyen lieu" in folded:
            stated["kind"], stated["prescription_only"] = "raw_material", False
        elif "khong ke don" in folded:
            stated["prescription_only"] = False
        elif "ke don" in folded:
            stated["prescription_only"] = True
        else:
            raise ImportRowError(line, f"Phân loại {classification!r} is none of Thuốc kê đơn, "
                                       f"Thuốc không kê đơn, Nguyên liệu làm thuốc")
    kind_text = cell("kind")
    if kind_text and "kind" not in stated:
        kind = _lookup(_KIND_WORDS, kind_text)
        if kind is None:
            raise ImportRowError(line, f"Loại thuốc {kind_text!r} is none of Tân dược, Đông "
                                       f"dược, Sinh phẩm, Vắc xin")
        stated["kind"] = kind
    for role in ("dosage_form", "route", "unit", "packaging"):
        if cell(role):
            stated[role] = cell(role)
    if cell("gtins"):
        gtins = []
        for raw in re.split(r"[;,\s]+", cell("gtins")):
            if not raw:
                continue
            try:
                gtins.append(normalize_gtin(raw))
            except InvalidIdentifier as exc:
                raise ImportRowError(line, f"GTIN {raw!r}: {exc.reason}") from None
        stated["gtins"] = list(dict.fromkeys(gtins))
    for role, words, label in (("control_class", _CONTROL_WORDS, "Kiểm soát đặc biệt"),
                               ("status", _STATUS_WORDS, "Trạng thái")):
        if cell(role):
            meaning = _lookup(words, cell(role))
            if meaning is None:
                raise ImportRowError(line, f"{label} {cell(role)!r} is not understood")
            stated[role] = meaning
    if cell("registration_valid_until"):
        try:
            stated["registration_valid_until"] = _parse_date(
                cell("registration_valid_until")).isoformat()
        except ValueError as exc:
            raise ImportRowError(line, f"Hiệu lực SĐK: {exc}") from None
    return SourceRecord(line, national_code, stated, defaults)


def read_dav_csv(stream: TextIO) -> Iterator[SourceRecord | ImportRowError]:
    """Read the Drug Administration's registry CSV (see the module docstring). Columns are
    separated by ``,`` or, when the header holds more ``;`` than ``,``, by ``;``.

    Yields:
        A :class:`SourceRecord` per row, or an :class:`ImportRowError` (line and reason) for a
        row that cannot be a product: bad registration number, empty name or ingredients,
        an unknown classification, a GTIN with a bad check digit, an unreadable date.

    Raises:
        ImportFormatError: the file has no header or lacks a required column.
    """
    first_line = stream.readline()
    if not first_line.strip():
        raise ImportFormatError("the file is empty: a dav-csv file starts with a header row")
    # Spreadsheets saved with a Vietnamese locale separate columns with ";".
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    header = next(csv.reader([first_line], delimiter=delimiter))
    reader = csv.reader(stream, delimiter=delimiter)
    roles: dict[int, str] = {}
    for index, title in enumerate(header):
        role = _COLUMNS.get(" ".join(fold(title).replace("\ufeff", "").split()))
        if role is not None and role not in roles.values():
            roles[index] = role
    missing = [label for role, label in _REQUIRED_COLUMNS.items() if role not in roles.values()]
    if missing:
        raise ImportFormatError(f"the header lacks the column(s) {', '.join(missing)}; "
                                f"found {', '.join(header)}")
    line = 2
    for values in reader:
        start, line = line, reader.line_num + 2
        if not any(value.strip() for value in values):
            continue
        row = {role: values[index] for index, role in roles.items() if index < len(values)}
        try:
            yield _dav_row(start, row)
        except ImportRowError as exc:
            yield exc


def read_records(stream: TextIO, fmt: str) -> Iterator[SourceRecord | ImportRowError]:
    """Dispatch on ``fmt`` (``"dav-csv"`` or ``"ndjson"``).

    Raises:
        ImportFormatError: unknown format, or a dav-csv file without its required columns.
    """
    if fmt == "dav-csv":
        return read_dav_csv(stream)
    if fmt == "ndjson":
        return read_ndjson(stream)
    raise ImportFormatError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
