"""The national prescription document as marshmallow schemas (docs/national-api.md, body of
``gui-don-thuoc``), with the variants real HIS clients send.

Loading checks shape only: which fields exist, their JSON types, and date/number syntax. It
never coerces a wrong type (``"2"`` is not the number 2, ``null`` is not "absent",
``{"$gt": ""}`` is not a string). Every field carries, in ``metadata["code"]``, the
docs/rules.md code its shape errors are reported under (see :func:`shape_issues`); the legal
rules are checked afterwards by :mod:`schemas.rules` on the loaded values.

Accepted variants:

- ``ma_so_bao_hiem_y_te`` for ``ma_so_the_bao_hiem_y_te`` (one of the two, not both);
- ``dot_dung_thuoc`` as a single object instead of a list;
- dates ``dd/mm/yyyy`` (``d/m/yyyy`` too) or ISO ``yyyy-mm-dd``;
- ``ngay_gio_ke_don`` as ``yyyy-mm-dd HH:MM:SS`` (local time, UTC+7 by policy) or ISO 8601 with
  ``T``, fractions of a second and an offset;
- ``ngay_tai_kham`` as a whole number of days or a date;
- ``signature`` empty.

Loaded values are Python values (``date``, ``datetime``, ``int``/``float``, NFC strings with
surrounding blanks removed); :mod:`schemas.validation` turns them into the canonical document.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields

from schemas.text import clean

UNKNOWN_FIELD_MESSAGE = "Trường không có trong đơn thuốc quốc gia (và không phải trường mở rộng của cổng)"
NOT_AN_OBJECT_MESSAGE = "Phải là một đối tượng JSON"

#: Longest date/time text worth parsing; anything longer is refused without a regex.
_MAX_DATE_CHARS = 40
_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_YMD = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATETIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
                       r"(Z|[+-]\d{2}:?\d{2})?")

_COMMON_MESSAGES = {
    "required": "Thiếu trường bắt buộc",
    "null": "Không được là null (bỏ trường đi nếu không có giá trị)",
}


def parse_national_date(text: str) -> date | None:
    """``dd/mm/yyyy`` (one- or two-digit day and month) or ``yyyy-mm-dd`` as a date, or ``None``.

    Raises nothing.
    """
    if len(text) > _MAX_DATE_CHARS:
        return None
    text = text.strip()
    match = _DMY.fullmatch(text)
    if match:
        day, month, year = (int(part) for part in match.groups())
    else:
        match = _YMD.fullmatch(text)
        if not match:
            return None
        year, month, day = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_prescribed_at(text: str) -> datetime | None:
    """``yyyy-mm-dd HH:MM:SS`` or ISO 8601 (``T``, fraction, ``Z``/offset) as a datetime.

    Without an offset the result is naive (local time of the national document). ``None`` when
    the text is not such a time. Raises nothing.
    """
    if len(text) > _MAX_DATE_CHARS:
        return None
    match = _DATETIME.fullmatch(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    tzinfo = None
    if offset:
        if offset == "Z":
            tzinfo = UTC
        else:
            sign = -1 if offset[0] == "-" else 1
            digits = offset[1:].replace(":", "")
            hours, minutes = int(digits[:2]), int(digits[2:])
            if hours > 23 or minutes > 59:
                return None
            tzinfo = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute),
                        int(second or 0), int((fraction or "0").ljust(6, "0")[:6]), tzinfo=tzinfo)
    except ValueError:
        return None


class Text(fields.String):
    """A JSON string: surrounding blanks removed, Unicode NFC. Blank stays ``""``."""

    default_error_messages = {**_COMMON_MESSAGES, "invalid": "Phải là chuỗi ký tự"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        return clean(value)


def whole_number(value: Any) -> int | None:
    """A JSON integer as ``int`` (``2.0`` counts as 2; ``true`` and ``"2"`` do not), or
    ``None``. Raises nothing."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


class WholeNumber(fields.Integer):
    """A JSON integer (``2.0`` is accepted as 2; ``true`` and ``"2"`` are not numbers)."""

    default_error_messages = {**_COMMON_MESSAGES, "invalid": "Phải là số nguyên"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        whole = whole_number(value)
        if whole is None:
            raise self.make_error("invalid")
        return whole


def choices_text(choices: Mapping[Any, str]) -> str:
    """``1 (chưa rõ), 2 (nam) hoặc 3 (nữ)``: a coded field's values and their meaning."""
    shown = [f"{code} ({meaning})" for code, meaning in choices.items()]
    return ", ".join(shown[:-1]) + f" hoặc {shown[-1]}" if len(shown) > 1 else shown[0]


class CodedNumber(WholeNumber):
    """A coded integer: a value of the wrong type is told which codes there are and what each
    means (``"Nam"`` for ``gioi_tinh`` gets 1, 2 or 3, not just "an integer")."""

    def __init__(self, *, choices: Mapping[int, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.choices = dict(choices)
        self.error_messages = {**self.error_messages, "invalid":
                               f"Phải là số nguyên: {choices_text(choices)}"}


class CodedText(Text):
    """A coded string (``loai_don_thuoc``): a wrong type names the codes and their meaning."""

    def __init__(self, *, choices: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.choices = dict(choices)
        self.error_messages = {**self.error_messages, "invalid":
                               f"Phải là chuỗi ký tự: {choices_text(choices)}"}


#: The coded fields' values and their meaning (the rules refuse other values with the same
#: list).
SEXES = {1: "chưa rõ", 2: "nam", 3: "nữ"}
TREATMENT_SETTINGS = {1: "khám bệnh", 2: "điều trị ngoại trú", 3: "điều trị nội trú"}
TYPE_MEANINGS = {"c": "đơn thuốc thường", "n": "thuốc gây nghiện",
                      "h": "thuốc hướng thần, tiền chất", "y": "y học cổ truyền"}


class Quantity(fields.Number[Any]):
    """A JSON number (integer or decimal, finite); whole values become ``int``."""

    num_type = float  # only for marshmallow's bookkeeping: _deserialize below does the work

    default_error_messages = {**_COMMON_MESSAGES, "invalid": "Phải là số"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int | float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        if isinstance(value, float):
            if not math.isfinite(value):
                raise self.make_error("invalid")
            if value.is_integer():
                return int(value)
        return value


class _ParsedText(fields.String):
    """A string that ``parse`` turns into a value (``None``: the text is invalid)."""

    parse: staticmethod[..., Any]

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        parsed = self.parse(value) if isinstance(value, str) else None
        if parsed is None:
            raise self.make_error("invalid")
        return parsed


class NationalDate(_ParsedText):
    """A date written ``dd/mm/yyyy`` or ``yyyy-mm-dd``."""

    parse = staticmethod(parse_national_date)
    default_error_messages = {**_COMMON_MESSAGES,
                              "invalid": "Ngày không hợp lệ (dd/mm/yyyy hoặc yyyy-mm-dd)"}


class PrescribedAt(_ParsedText):
    """``ngay_gio_ke_don``: ``yyyy-mm-dd HH:MM:SS`` or ISO 8601."""

    parse = staticmethod(parse_prescribed_at)
    default_error_messages = {**_COMMON_MESSAGES,
                              "invalid": "Thời điểm không hợp lệ (yyyy-mm-dd HH:MM:SS)"}


class FollowUp(fields.Field[Any]):
    """``ngay_tai_kham``: a whole number of days, or a date (``dd/mm/yyyy`` / ISO)."""

    default_error_messages = {**_COMMON_MESSAGES,
                              "invalid": "Phải là số ngày (số nguyên) hoặc một ngày (dd/mm/yyyy)"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int | date:
        parsed = (parse_national_date(value) if isinstance(value, str)
                  else whole_number(value))
        if parsed is None:
            raise self.make_error("invalid")
        return parsed


class ItemList(fields.List[Any]):
    """A JSON array of objects."""

    default_error_messages = {**_COMMON_MESSAGES, "invalid": "Phải là một danh sách (mảng JSON)"}


class OneOrMany(ItemList):
    """A JSON array of objects, or a single object standing for a one-item array."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        if isinstance(value, Mapping):
            value = [value]
        return super()._deserialize(value, attr, data, **kwargs)


class Item(fields.Nested):
    """One object of a list (a diagnosis, a period, a drug line)."""

    default_error_messages = {**_COMMON_MESSAGES, "type": NOT_AN_OBJECT_MESSAGE}


class _NationalSchema(Schema):
    class Meta:
        unknown = RAISE

    error_messages = {"unknown": UNKNOWN_FIELD_MESSAGE, "type": NOT_AN_OBJECT_MESSAGE}


def _code(code: str, description: str | None = None, *, doc: dict[str, Any] | None = None,
          **kwargs: Any) -> dict[str, Any]:
    """A field's keyword arguments: its docs/rules.md ``code``, and for the OpenAPI document a
    ``description`` and ``doc`` (JSON Schema keywords: the defaults of the limits the rules
    check, so a generated client knows them; the rules themselves are the authority)."""
    metadata: dict[str, Any] = {"code": code, **(doc or {})}
    if description:
        metadata["description"] = description
    return {"metadata": metadata, **kwargs}


_TEXT = {"maxLength": 2000}  # ERX_RX_FREE_TEXT_MAX_CHARS
_DRUG_TEXT = {"maxLength": 200}  # ERX_RX_DRUG_TEXT_MAX_CHARS
_DATE = {"pattern": r"^([0-9]{1,2}/[0-9]{1,2}/[0-9]{4}|[0-9]{4}-[0-9]{2}-[0-9]{2})$",
         "example": "15/03/1990"}


class DiagnosisSchema(_NationalSchema):
    """One diagnosis (``chan_doan`` item)."""

    ma_chan_doan = Text(required=True, **_code(
        "rx.icd10", "ICD-10 (WHO 2019) category or subcategory, with or without the dot",
        doc={"pattern": r"^[A-Za-z][0-9]{2}(\.?[0-9A-Za-z]{1,4})?$", "example": "J06.9"}))
    ten_chan_doan = Text(**_code("rx.field_type", "diagnosis name", doc=_TEXT))
    ket_luan = Text(**_code("rx.field_type", "conclusion", doc=_TEXT))


class TreatmentPeriodSchema(_NationalSchema):
    """One treatment period (``dot_dung_thuoc`` item)."""

    dot = WholeNumber(**_code("rx.period", "period number, 1, 2, ... (default: its position)",
                              doc={"minimum": 1}))
    tu_ngay = NationalDate(required=True, **_code("rx.period", "first day, dd/mm/yyyy or "
                                                                "yyyy-mm-dd", doc=_DATE))
    den_ngay = NationalDate(required=True, **_code("rx.period", "last day (inclusive)", doc=_DATE))


class DrugLineSchema(_NationalSchema):
    """One drug line (``thong_tin_don_thuoc`` item)."""

    ma_thuoc = Text(required=True, **_code(
        "drug.unknown", "the product: national drug code, registration number or GTIN "
                        "(docs/identifiers.md)", doc={"minLength": 1, **_DRUG_TEXT,
                                                     "example": "MT100039"}))
    biet_duoc = Text(**_code("rx.field_type", "brand name", doc=_DRUG_TEXT))
    ten_thuoc = Text(**_code("rx.field_type", "active ingredient and strength", doc=_DRUG_TEXT))
    don_vi_tinh = Text(required=True, **_code("drug.unit", "unit, the catalog's (Viên, Ống, ml...)",
                                              doc={"minLength": 1, **_DRUG_TEXT}))
    so_luong = Quantity(required=True, **_code(
        "drug.quantity", "quantity in that unit; fractional only for measured units (ml, g...); "
                         "at most ERX_RX_QUANTITY_MAX", doc={"exclusiveMinimum": True,
                                                             "minimum": 0, "maximum": 10000}))
    cach_dung = Text(required=True, **_code("drug.directions", "directions",
                                            doc={"minLength": 1, **_DRUG_TEXT}))


class PrescriptionSchema(_NationalSchema):
    """The prescription document of ``gui-don-thuoc``, plus the gateway extension
    ``ma_co_so_cung_ung_thuoc_chi_dinh`` (nominated pharmacy)."""

    loai_don_thuoc = CodedText(required=True, choices=TYPE_MEANINGS, **_code(
        "rx.type", "prescription type: `c` basic, `n` narcotic (gây nghiện), `h` psychotropic "
                   "or precursor (hướng thần, tiền chất), `y` traditional medicine (y học cổ "
                   "truyền)", doc={"enum": ["c", "n", "h", "y"]}))
    ma_don_thuoc = Text(**_code(
        "rx.code_format", "14 characters: the facility code (5), 7 characters, `-`, the type "
                          "letter (docs/identifiers.md); leave it out and the gateway makes one",
        doc={"pattern": "^([0-9A-Za-z]{5}[0-9A-Za-z]{7}-[cnhy])?$", "example": "79001AB12345-c"}))
    ho_ten_benh_nhan = Text(required=True, **_code(
        "patient.name_required", "patient's full name (at most ERX_RX_NAME_MAX_CHARS)",
        doc={"minLength": 1, "maxLength": 255}))
    ma_dinh_danh_y_te = Text(**_code("rx.field_type", "health identifier", doc={"maxLength": 64}))
    ma_dinh_danh_cong_dan = Text(**_code(
        "patient.cccd_format", "CCCD, 12 digits; must agree with the birth date and sex "
                               "(`patient.cccd_mismatch`)", doc={"pattern": "^[0-9]{12}$"}))
    ngay_sinh_benh_nhan = NationalDate(required=True, **_code(
        "patient.birth_date", description="dd/mm/yyyy or yyyy-mm-dd", doc=_DATE))
    can_nang = Quantity(**_code(
        "patient.weight_required", "weight in kg; required under ERX_RX_CHILD_AGE_MONTHS (72)",
        doc={"exclusiveMinimum": True, "minimum": 0, "maximum": 500}))
    gioi_tinh = CodedNumber(required=True, choices=SEXES, **_code(
        "patient.sex", "sex: `2` male, `3` female, `1` unknown (the meaning of 1 is "
                       "unconfirmed: send 2 or 3 when known)", doc={"enum": [1, 2, 3]}))
    ma_so_the_bao_hiem_y_te = Text(**_code("patient.bhyt_format", "health-insurance number "
                                                                 "(docs/identifiers.md)"))
    #: the spelling some clients use for ma_so_the_bao_hiem_y_te.
    ma_so_bao_hiem_y_te = Text(**_code(
        "patient.bhyt_format", description="alternative spelling of ma_so_the_bao_hiem_y_te "
                                           "(send one of the two)"))
    thong_tin_nguoi_giam_ho = Text(**_code(
        "patient.guardian_required", "guardian (name, relation, identifier); required under "
                                     "ERX_RX_CHILD_AGE_MONTHS (72)", doc=_TEXT))
    dia_chi = Text(**_code("rx.field_type", "address", doc=_TEXT))
    chan_doan = ItemList(Item(DiagnosisSchema), required=True, **_code(
        "rx.diagnosis_required", "diagnoses, at least one (at most ERX_RX_MAX_DIAGNOSES)",
        doc={"minItems": 1, "maxItems": 50}))
    luu_y = Text(**_code("rx.field_type", "cautions", doc=_TEXT))
    hinh_thuc_dieu_tri = CodedNumber(choices=TREATMENT_SETTINGS, **_code(
        "rx.field_type", "treatment setting: `1` visit (khám bệnh), `2` outpatient treatment "
                         "(điều trị ngoại trú), `3` inpatient (điều trị nội trú) (codes "
                         "unconfirmed: the social-insurance convention)", doc={"enum": [1, 2, 3]}))
    dot_dung_thuoc = OneOrMany(Item(TreatmentPeriodSchema), required=True, **_code(
        "rx.period", description="treatment periods: a list, or a single period object",
        doc={"minItems": 1, "maxItems": 50}))
    thong_tin_don_thuoc = ItemList(Item(DrugLineSchema), required=True, **_code(
        "rx.lines_required", "drug lines, at least one (at most ERX_RX_MAX_LINES); a dispense "
                             "names a line by its 0-based position here",
        doc={"minItems": 1, "maxItems": 50}))
    loi_dan = Text(**_code("rx.field_type", "advice to the patient", doc=_TEXT))
    so_dien_thoai_nguoi_kham_benh = Text(**_code("rx.field_type", "prescriber's phone",
                                                 doc={"maxLength": 20}))
    ngay_tai_kham = FollowUp(**_code(
        "rx.follow_up", description="follow-up: days after prescribing (integer, 0 to "
                                    "ERX_RX_FOLLOW_UP_MAX_DAYS), or a date dd/mm/yyyy",
        doc={"oneOf": [{"type": "integer", "minimum": 0, "maximum": 365},
                       {"type": "string", **_DATE}]}))
    ngay_gio_ke_don = PrescribedAt(required=True, **_code(
        "rx.prescribed_at", description="time of prescribing: yyyy-mm-dd HH:MM:SS in Vietnam "
                                        "time (UTC+07:00), or ISO 8601 with an offset; not in "
                                        "the future, at most ERX_RX_MAX_AGE_DAYS (30) old",
        doc={"pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
                        r"(Z|[+-][0-9]{2}:?[0-9]{2})?$", "example": "2026-03-01 09:30:00"}))
    signature = Text(**_code("rx.field_type", description="prescriber's signature (README "
                                                          "\"Signatures\"); may be empty",
                             doc={"maxLength": 16384}))
    ma_co_so_cung_ung_thuoc_chi_dinh = Text(**_code(
        "rx.field_type", description="gateway extension: the nominated pharmacy's code",
        doc={"maxLength": 64}))


PRESCRIPTION_SCHEMA = PrescriptionSchema()

#: Top-level field names in document order (the canonical document keeps this order).
FIELD_ORDER: tuple[str, ...] = tuple(PrescriptionSchema._declared_fields)

#: Field names of each list item schema.
LIST_ITEM_FIELDS: dict[str, tuple[str, ...]] = {
    "chan_doan": tuple(DiagnosisSchema._declared_fields),
    "dot_dung_thuoc": tuple(TreatmentPeriodSchema._declared_fields),
    "thong_tin_don_thuoc": tuple(DrugLineSchema._declared_fields),
}


def _codes_by_path() -> dict[tuple[str, ...], str]:
    codes: dict[tuple[str, ...], str] = {}
    for name, field in PrescriptionSchema._declared_fields.items():
        codes[(name,)] = field.metadata["code"]
        inner = getattr(field, "inner", None)
        if isinstance(inner, fields.Nested):
            for sub_name, sub_field in inner.nested._declared_fields.items():  # type: ignore[union-attr]
                codes[(name, "*", sub_name)] = sub_field.metadata["code"]
    return codes


_CODES = _codes_by_path()


def shape_issues(messages: Mapping[Any, Any]) -> Iterator[tuple[tuple[str | int, ...], str, str]]:
    """Marshmallow's error tree as ``(path, code, message)`` triples in the canonical layout.

    The code is ``rx.unknown_field`` for a refused field, ``rx.field_type`` for a list item
    that is not an object, and otherwise the ``metadata["code"]`` of the field at ``path``.
    Raises nothing.
    """
    for path, message in _leaves(messages, ()):
        if path and path[-1] == "_schema":
            yield path[:-1], "rx.field_type", message
        elif message == UNKNOWN_FIELD_MESSAGE:
            yield path, "rx.unknown_field", message
        else:
            pattern = tuple("*" if isinstance(part, int) else part for part in path)
            yield path, _CODES.get(pattern, "rx.field_type"), message


def _leaves(tree: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(tree, Mapping):
        for key, sub in tree.items():
            yield from _leaves(sub, (*path, key))
    elif isinstance(tree, (list, tuple)):
        for item in tree:
            yield from _leaves(item, path)
    else:
        yield path, str(tree)


class _ObjectPlan:
    """A schema compiled for :func:`load_shape`: its fields with what loading each needs."""

    __slots__ = ("names", "steps")

    def __init__(self, schema: type[Schema]) -> None:
        self.steps: list[tuple[str, fields.Field[Any], bool, _ObjectPlan | None, bool]] = []
        for name, field in schema._declared_fields.items():
            inner = getattr(field, "inner", None)
            item_plan = _ObjectPlan(inner.nested) if isinstance(inner, Item) else None  # type: ignore[arg-type]
            self.steps.append((name, field, field.required, item_plan, isinstance(field, OneOrMany)))
        self.names = frozenset(name for name, *_ in self.steps)

    def load(self, data: Any) -> tuple[dict[str, Any], dict[Any, Any]]:
        if not isinstance(data, Mapping):
            return {}, {"_schema": [NOT_AN_OBJECT_MESSAGE]}
        valid: dict[str, Any] = {}
        errors: dict[Any, Any] = {}
        for name, field, required, item_plan, one_or_many in self.steps:
            if name not in data:
                if required:
                    errors[name] = [field.error_messages["required"]]
                continue
            value = data[name]
            if value is None:
                errors[name] = [field.error_messages["null"]]
            elif type(value) is str and type(field) is Text:  # the common case, inlined
                valid[name] = clean(value)
            elif item_plan is None:
                try:
                    valid[name] = field._deserialize(value, name, data)
                except ValidationError as error:
                    errors[name] = error.messages
            else:
                if one_or_many and isinstance(value, Mapping):
                    value = [value]
                if not isinstance(value, (list, tuple)):
                    errors[name] = [field.error_messages["invalid"]]
                    continue
                items: list[dict[str, Any]] = []
                item_errors: dict[int, Any] = {}
                inner = field.inner  # type: ignore[attr-defined]
                for index, item in enumerate(value):
                    item_valid: dict[str, Any]
                    item_error: Any
                    if item is None:
                        item_valid, item_error = {}, [inner.error_messages["null"]]
                    else:
                        item_valid, item_error = item_plan.load(item)
                    items.append(item_valid)  # always: positions are pointers
                    if item_error:
                        item_errors[index] = item_error
                valid[name] = items
                if item_errors:
                    errors[name] = item_errors
        for key in data:
            if key not in self.names:
                errors[key] = [UNKNOWN_FIELD_MESSAGE]
        return valid, errors


_PLAN = _ObjectPlan(PrescriptionSchema)


def load_shape(data: Mapping[str, Any]) -> tuple[dict[str, Any], Mapping[Any, Any]]:
    """Load ``data`` with the fields of :class:`PrescriptionSchema`: ``(valid values, error tree)``.

    The error tree has marshmallow's layout (``{field: [messages]}``, ``{list: {index: {...}}}``,
    ``"_schema"`` for a list item that is not an object). The valid values hold every field
    that loaded, even when others failed; list items keep their positions (an item with errors
    keeps its valid fields, ``{}`` if none).

    The schemas' own fields do the work (``Field._deserialize``); the schema machinery around
    them is compiled once into a plan, because ``Schema.load`` costs about four times more
    (issue 4's 2,000 validations/s). ``tests/schemas/test_document.py`` checks that both give the
    same errors and values. Raises nothing.
    """
    return _PLAN.load(data)
