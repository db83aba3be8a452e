"""The rules of docs/rules.md, checked on the loaded (possibly partial) document.

Each ``check_*`` function reads the loaded values through a :class:`Context` and records
problems with a canonical path (``("thong_tin_don_thuoc", 2, "ma_thuoc")``); the validator maps
paths to JSON pointers into the submitted document. A rule is checked only on values that
loaded: a field whose shape was wrong already has its error, and rules depending on it are
skipped rather than reported twice. Rules raise nothing for any document; only errors of the
catalog other than its identifier errors (e.g. a database outage) propagate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Protocol

from drug_catalog.errors import AmbiguousIdentifier, BadCheckDigit, InvalidIdentifier, UnknownDrug
from drug_catalog.model import ActiveIngredient, Drug
from drug_catalog.text import fold_phrase, tokens
from schemas.document import SEXES, TREATMENT_SETTINGS, TYPE_MEANINGS, choices_text
from schemas.icd10 import normalize_icd10
from schemas.identifiers import PRESCRIPTION_CODE, cccd_disagreement, is_bhyt_number, is_cccd
from schemas.policy import Policy
from schemas.quantities import quantity_problem
from schemas.text import words

Path = tuple[str | int, ...]

PRESCRIPTION_TYPES = ("c", "n", "h", "y")
BHYT_FIELDS = ("ma_so_the_bao_hiem_y_te", "ma_so_bao_hiem_y_te")

#: Free-text fields (docs/rules.md rx.text_length, free texts), top level and per diagnosis.
FREE_TEXTS = ("ma_dinh_danh_y_te", "thong_tin_nguoi_giam_ho", "dia_chi", "luu_y", "loi_dan",
              "so_dien_thoai_nguoi_kham_benh", "ma_co_so_cung_ung_thuoc_chi_dinh")
DIAGNOSIS_TEXTS = ("ten_chan_doan", "ket_luan")
#: Drug texts (docs/rules.md rx.text_length, drug texts) of each line.
DRUG_TEXTS = ("ma_thuoc", "biet_duoc", "ten_thuoc", "don_vi_tinh", "cach_dung")

_CONTROL_NAMES = {"narcotic": "gây nghiện", "psychotropic": "hướng thần", "precursor": "tiền chất",
                  "radioactive": "phóng xạ", "none": "không kiểm soát đặc biệt"}
_TYPE_NAMES = {"c": "đơn thuốc thường (c)", "n": "đơn thuốc gây nghiện (n)",
               "h": "đơn thuốc hướng thần, tiền chất (h)", "y": "đơn thuốc y học cổ truyền (y)"}


class Resolver(Protocol):
    """What the rules need from a catalog (``drug_catalog.catalog.Catalog`` satisfies it)."""

    def resolve(self, identifier: str) -> Drug:
        """The one product named by a national code, registration number or GTIN.

        Raises ``UnknownDrug``, ``BadCheckDigit`` / ``InvalidIdentifier``, ``AmbiguousIdentifier``.
        """
        ...


@dataclass
class Problem:
    """A rule violation at a canonical path (before mapping to a submitted pointer)."""

    path: Path
    code: str
    message: str
    warning: bool = False


@dataclass
class Context:
    """The loaded document and everything the rules derive from it."""

    raw: dict[str, Any]
    loaded: dict[str, Any]
    policy: Policy
    catalog: Resolver
    facility_code: str | None
    now: datetime
    problems: list[Problem] = field(default_factory=list)
    # derived by the rules, in order
    local_zone: timezone = UTC
    prescribed_at: datetime | None = None  # aware, local zone
    reference_date: date | None = None  # local date of prescribing (or of now)
    birth_date: date | None = None
    age_months: int | None = None
    diagnoses: list[str] = field(default_factory=list)
    period_span: tuple[date, date] | None = None
    drugs: dict[int, Drug] = field(default_factory=dict)

    def error(self, path: Path, code: str, message: str) -> None:
        self.problems.append(Problem(path, code, message))

    def warn(self, path: Path, code: str, message: str) -> None:
        self.problems.append(Problem(path, code, message, warning=True))

    def submitted(self, name: str) -> bool:
        """The field was sent with something in it (a wrong type counts: it has its own error)."""
        return name in self.raw and self.loaded.get(name) != ""

    @property
    def type(self) -> str | None:
        value = self.loaded.get("loai_don_thuoc")
        return value if value in PRESCRIPTION_TYPES else None

    @property
    def is_child(self) -> bool:
        return self.age_months is not None and self.age_months < self.policy.child_age_months


def _years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def months_between(start: date, end: date) -> int:
    """Whole months from ``start`` to ``end`` (negative when ``end`` is earlier)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day:
        months -= 1
    return months


# ------------------------------------------------------------------------------- document

def check_prescribed_at(ctx: Context) -> None:
    """rx.prescribed_at; sets the reference date the other date rules use."""
    policy = ctx.policy
    ctx.local_zone = timezone(timedelta(minutes=policy.utc_offset_minutes))
    value = ctx.loaded.get("ngay_gio_ke_don")
    now_local = ctx.now.astimezone(ctx.local_zone)
    ctx.reference_date = now_local.date()
    if value is None:
        return
    prescribed = value.replace(tzinfo=ctx.local_zone) if value.tzinfo is None else value
    prescribed = prescribed.astimezone(ctx.local_zone)
    if prescribed > ctx.now + timedelta(seconds=policy.clock_skew_seconds):
        ctx.error(("ngay_gio_ke_don",), "rx.prescribed_at",
                  f"Thời điểm kê đơn ở tương lai (quá {policy.clock_skew_seconds} giây so với "
                  "đồng hồ của cổng)")
        return
    if prescribed < ctx.now - timedelta(days=policy.max_age_days):
        ctx.error(("ngay_gio_ke_don",), "rx.prescribed_at",
                  f"Thời điểm kê đơn đã quá {policy.max_age_days} ngày")
        return
    ctx.prescribed_at = prescribed
    ctx.reference_date = prescribed.date()


def check_type_and_code(ctx: Context) -> None:
    """rx.type, rx.code_format, rx.code_facility, rx.code_type."""
    loai = ctx.loaded.get("loai_don_thuoc")
    if loai is not None and loai not in PRESCRIPTION_TYPES:
        ctx.error(("loai_don_thuoc",), "rx.type",
                  f"Loại đơn thuốc phải là {choices_text(TYPE_MEANINGS)}")
    code = ctx.loaded.get("ma_don_thuoc")
    if not code:
        return  # omitted or blank: the validator generates one
    if len(code) != 14 or PRESCRIPTION_CODE.fullmatch(code) is None:
        ctx.error(("ma_don_thuoc",), "rx.code_format",
                  "Mã đơn thuốc phải gồm 5 ký tự mã cơ sở, 7 chữ/số, dấu '-' và loại đơn "
                  "(ví dụ 79001A1B2C3D-c)")
        return
    if ctx.facility_code is not None and code[:5] != ctx.facility_code:
        ctx.error(("ma_don_thuoc",), "rx.code_facility",
                  f"5 ký tự đầu của mã đơn thuốc phải là mã cơ sở gửi đơn ({ctx.facility_code})")
    if ctx.type is not None and code[-1] != ctx.type:
        ctx.error(("ma_don_thuoc",), "rx.code_type",
                  f"Ký tự cuối của mã đơn thuốc ({code[-1]}) khác loại đơn thuốc ({ctx.type})")


def check_diagnoses(ctx: Context) -> None:
    """rx.diagnosis_required, rx.icd10, and diagnosis texts (rx.text_length)."""
    items = ctx.loaded.get("chan_doan")
    if items is None:
        return
    if not items:
        ctx.error(("chan_doan",), "rx.diagnosis_required", "Đơn thuốc phải có ít nhất một chẩn đoán")
        return
    for index, item in enumerate(items):
        code = item.get("ma_chan_doan")
        if code is not None:
            dotted = normalize_icd10(code) if len(code) <= 16 else None
            if dotted is None:
                ctx.error(("chan_doan", index, "ma_chan_doan"), "rx.icd10",
                          "Mã chẩn đoán không phải mã ICD-10 hợp lệ của WHO (ví dụ J06.9 hoặc J069)")
            else:
                ctx.diagnoses.append(dotted)
        for name in DIAGNOSIS_TEXTS:
            _check_length(ctx, ("chan_doan", index, name), item.get(name),
                          ctx.policy.free_text_max_chars)


def check_periods(ctx: Context) -> None:
    """rx.period; sets the span of treatment (first tu_ngay to last den_ngay)."""
    periods = ctx.loaded.get("dot_dung_thuoc")
    if periods is None:
        return
    if not periods:
        ctx.error(("dot_dung_thuoc",), "rx.period", "Đơn thuốc phải có ít nhất một đợt dùng thuốc")
        return
    starts, ends, complete = [], [], True
    for index, period in enumerate(periods):
        dot = period.get("dot")
        if dot is not None and not 1 <= dot <= ctx.policy.max_periods:
            ctx.error(("dot_dung_thuoc", index, "dot"), "rx.period",
                      f"Số đợt phải từ 1 đến {ctx.policy.max_periods}")
        start, end = period.get("tu_ngay"), period.get("den_ngay")
        if start is None or end is None:
            complete = False
            continue
        if start > end:
            ctx.error(("dot_dung_thuoc", index), "rx.period",
                      "Ngày bắt đầu (tu_ngay) sau ngày kết thúc (den_ngay) của đợt dùng thuốc")
            complete = False
            continue
        starts.append(start)
        ends.append(end)
    if complete and starts:
        ctx.period_span = (min(starts), max(ends))


def check_follow_up(ctx: Context) -> None:
    """rx.follow_up: ngay_tai_kham between 0 and the policy maximum, not before prescribing."""
    value = ctx.loaded.get("ngay_tai_kham")
    if value is None:
        return
    if isinstance(value, date):
        if ctx.prescribed_at is None:
            return  # no prescribing date to count from: that field has its own error
        days = (value - ctx.prescribed_at.date()).days
    else:
        days = value
    if not 0 <= days <= ctx.policy.follow_up_max_days:
        ctx.error(("ngay_tai_kham",), "rx.follow_up",
                  f"Ngày tái khám phải trong {ctx.policy.follow_up_max_days} ngày kể từ ngày kê đơn")


def check_treatment_setting(ctx: Context) -> None:
    """hinh_thuc_dieu_tri is 1 (visit), 2 (outpatient treatment) or 3 (inpatient)."""
    value = ctx.loaded.get("hinh_thuc_dieu_tri")
    if value is not None and value not in (1, 2, 3):
        ctx.error(("hinh_thuc_dieu_tri",), "rx.field_type",
                  f"Hình thức điều trị phải là {choices_text(TREATMENT_SETTINGS)}")


def check_texts(ctx: Context) -> None:
    """rx.text_length for top-level free texts and the signature."""
    for name in FREE_TEXTS:
        _check_length(ctx, (name,), ctx.loaded.get(name), ctx.policy.free_text_max_chars)
    _check_length(ctx, ("signature",), ctx.loaded.get("signature"), ctx.policy.signature_max_chars)


def _check_length(ctx: Context, path: Path, value: Any, limit: int) -> bool:
    if isinstance(value, str) and len(value) > limit:
        ctx.error(path, "rx.text_length", f"Dài quá {limit} ký tự ({len(value)})")
        return False
    return True


# -------------------------------------------------------------------------------- patient

def check_patient(ctx: Context) -> None:
    """patient.*: name, birth date, identifiers, sex, guardian, weight."""
    policy, loaded = ctx.policy, ctx.loaded
    name = loaded.get("ho_ten_benh_nhan")
    if name is not None and (not name or len(name) > policy.name_max_chars):
        ctx.error(("ho_ten_benh_nhan",), "patient.name_required",
                  f"Họ tên bệnh nhân không được để trống và không dài quá {policy.name_max_chars} ký tự")

    birth = loaded.get("ngay_sinh_benh_nhan")
    today = ctx.now.astimezone(ctx.local_zone).date()
    assert ctx.reference_date is not None
    if birth is not None:
        if birth > today:
            ctx.error(("ngay_sinh_benh_nhan",), "patient.birth_date", "Ngày sinh ở tương lai")
        elif birth > ctx.reference_date:
            ctx.error(("ngay_sinh_benh_nhan",), "patient.birth_date", "Ngày sinh sau ngày kê đơn")
        elif birth < _years_before(today, policy.patient_max_age_years):
            ctx.error(("ngay_sinh_benh_nhan",), "patient.birth_date",
                      f"Ngày sinh cách đây hơn {policy.patient_max_age_years} năm")
        else:
            ctx.birth_date = birth
            ctx.age_months = months_between(birth, ctx.reference_date)

    sex = loaded.get("gioi_tinh")
    if sex is not None and sex not in (1, 2, 3):
        ctx.error(("gioi_tinh",), "patient.sex", f"Giới tính phải là {choices_text(SEXES)}")
        sex = None

    cccd = loaded.get("ma_dinh_danh_cong_dan")
    if cccd:
        if not is_cccd(cccd):
            ctx.error(("ma_dinh_danh_cong_dan",), "patient.cccd_format",
                      "Số định danh cá nhân (CCCD) phải gồm 12 chữ số, 3 số đầu là mã tỉnh")
        else:
            what = cccd_disagreement(cccd, ctx.birth_date, sex)
            if what is not None:
                detail = {"century": "thế kỷ sinh (chữ số thứ 4)", "year": "năm sinh (chữ số 5-6)",
                          "sex": "giới tính (chữ số thứ 4)"}[what]
                ctx.error(("ma_dinh_danh_cong_dan",), "patient.cccd_mismatch",
                          f"Số định danh cá nhân không khớp {detail} của bệnh nhân")

    guardian = ctx.submitted("thong_tin_nguoi_giam_ho")
    # With an unusable birth date the age is unknown: a guardian then counts (that date has its
    # own error; one mistake should not produce a second).
    child_or_unknown = ctx.is_child or ctx.age_months is None
    if not (ctx.submitted("ma_dinh_danh_cong_dan") or ctx.submitted("ma_dinh_danh_y_te")
            or (child_or_unknown and guardian)):
        ctx.error(("ma_dinh_danh_cong_dan",), "patient.id_required",
                  "Cần số định danh cá nhân (CCCD) hoặc mã định danh y tế của bệnh nhân"
                  f" (trẻ dưới {policy.child_age_months} tháng tuổi: thông tin người giám hộ)")

    sent = [name for name in BHYT_FIELDS if name in ctx.raw]
    if len(sent) == 2:
        ctx.error(("ma_so_bao_hiem_y_te",), "rx.unknown_field",
                  "Chỉ gửi một trong hai trường ma_so_the_bao_hiem_y_te và ma_so_bao_hiem_y_te")
    for name in sent:
        number = loaded.get(name)
        if number and not is_bhyt_number(number.upper()):
            ctx.error((name,), "patient.bhyt_format",
                      "Mã thẻ BHYT phải là mã thẻ (2 chữ cái, 1 chữ số 1-5, 12 chữ số), "
                      "mã số BHXH (10 chữ số) hoặc số định danh cá nhân (12 chữ số)")

    if ctx.is_child and not guardian:
        ctx.error(("thong_tin_nguoi_giam_ho",), "patient.guardian_required",
                  f"Bệnh nhân dưới {policy.child_age_months} tháng tuổi: cần thông tin người giám hộ")

    weight = loaded.get("can_nang")
    if weight is not None and not 0 < weight <= policy.weight_max_kg:
        ctx.error(("can_nang",), "patient.weight_required",
                  f"Cân nặng phải lớn hơn 0 và không quá {policy.weight_max_kg:g} kg")
    elif ctx.is_child and "can_nang" not in ctx.raw:
        ctx.error(("can_nang",), "patient.weight_required",
                  f"Bệnh nhân dưới {policy.child_age_months} tháng tuổi: cần cân nặng (kg)")


# ----------------------------------------------------------------------------- drug lines

def check_lines(ctx: Context) -> None:
    """rx.lines_required, drug.*, control.*, rx.text_length of drug texts."""
    lines = ctx.loaded.get("thong_tin_don_thuoc")
    if lines is None:
        return
    policy = ctx.policy
    if not 1 <= len(lines) <= policy.max_lines:
        ctx.error(("thong_tin_don_thuoc",), "rx.lines_required",
                  f"Đơn thuốc phải có từ 1 đến {policy.max_lines} thuốc")
    first_line_of: dict[str, int] = {}
    on_date = ctx.reference_date or ctx.now.date()
    for index, line in enumerate(lines):
        within = {name: _check_length(ctx, ("thong_tin_don_thuoc", index, name), line.get(name),
                                      policy.drug_text_max_chars) for name in DRUG_TEXTS}
        drug = _resolve(ctx, index, line) if within["ma_thuoc"] else None
        path = ("thong_tin_don_thuoc", index)
        if drug is not None:
            ctx.drugs[index] = drug
            reason = drug.inactive_reason(on_date)
            if reason is not None:
                ctx.error((*path, "ma_thuoc"), "drug.inactive", _inactive_message(reason, drug))
            if not drug.is_prescribable:
                ctx.error((*path, "ma_thuoc"), "drug.not_prescribable",
                          "Đây là nguyên liệu làm thuốc, không phải thuốc để kê đơn")
            earlier = first_line_of.setdefault(drug.national_code, index)
            if earlier != index:
                ctx.error((*path, "ma_thuoc"), "drug.duplicate_line",
                          f"Thuốc này đã có ở dòng {earlier + 1} của đơn")
            _check_control(ctx, index, drug)
        unit = line.get("don_vi_tinh")
        if unit is not None and within["don_vi_tinh"]:
            if not unit:
                ctx.error((*path, "don_vi_tinh"), "drug.unit", "Đơn vị tính không được để trống")
            elif drug is not None and drug.unit and _unit_key(unit) != _unit_key(drug.unit):
                ctx.error((*path, "don_vi_tinh"), "drug.unit",
                          f"Đơn vị tính khác đơn vị trong danh mục ({drug.unit})")
        quantity = line.get("so_luong")
        if quantity is not None:
            counted_unit = drug.unit if drug is not None and drug.unit else (unit or "")
            measured = (len(counted_unit) <= policy.drug_text_max_chars
                        and policy.is_measured_unit(fold_phrase(counted_unit)))
            if quantity <= 0 or quantity > policy.quantity_max:
                ctx.error((*path, "so_luong"), "drug.quantity",
                          f"Số lượng phải lớn hơn 0 và không quá {policy.quantity_max}")
            elif isinstance(quantity, float) and not measured:
                ctx.error((*path, "so_luong"), "drug.quantity",
                          f"Số lượng phải là số nguyên với đơn vị đếm được ({counted_unit})")
            elif problem := quantity_problem(quantity, measured=measured, decimals=policy.quantity_decimals,
                                             maximum=policy.quantity_max):
                ctx.error((*path, "so_luong"), "drug.quantity", problem)
        directions = line.get("cach_dung")
        if directions is not None and not directions:
            ctx.error((*path, "cach_dung"), "drug.directions", "Cách dùng không được để trống")
        if drug is not None and within["ten_thuoc"] and not _names_ingredients(line.get("ten_thuoc"), drug):
            ingredients = ", ".join(item.name for item in drug.active_ingredients)
            ctx.warn((*path, "ten_thuoc"), "drug.name_mismatch",
                     f"Tên thuốc không nêu hoạt chất của sản phẩm trong danh mục ({ingredients})")


def _resolve(ctx: Context, index: int, line: dict[str, Any]) -> Drug | None:
    identifier = line.get("ma_thuoc")
    if identifier is None:
        return None
    path = ("thong_tin_don_thuoc", index, "ma_thuoc")
    if not identifier:
        ctx.error(path, "drug.unknown", "Mã thuốc không được để trống")
        return None
    try:
        return ctx.catalog.resolve(identifier)
    except BadCheckDigit as exc:
        ctx.error(path, "drug.unknown",
                  f"Mã GTIN sai chữ số kiểm tra (là {exc.found}, đúng phải là {exc.expected}): "
                  "có lẽ gõ nhầm")
    except AmbiguousIdentifier as exc:
        ctx.error(path, "drug.unknown",
                  f"Mã thuốc chỉ nhiều sản phẩm ({', '.join(exc.national_codes)}): "
                  "dùng mã thuốc quốc gia hoặc GTIN")
    except (UnknownDrug, InvalidIdentifier):
        ctx.error(path, "drug.unknown",
                  "Mã thuốc không có trong danh mục (mã thuốc quốc gia, số đăng ký hoặc GTIN)")
    return None


def _inactive_message(reason: str, drug: Drug) -> str:
    if drug.status != "active":
        state = {"suspended": "bị đình chỉ", "withdrawn": "bị rút số đăng ký",
                 "recalled": "bị thu hồi"}.get(drug.status, drug.status)
        return f"Thuốc đang {state}, không được kê đơn"
    until = drug.registration_valid_until.isoformat() if drug.registration_valid_until else "?"
    return f"Số đăng ký của thuốc đã hết hiệu lực ({until})"


@lru_cache(maxsize=8192)
def _ingredient_words(ingredients: tuple[ActiveIngredient, ...]) -> tuple[str, ...]:
    """The folded words of each active ingredient's name, without ``(dưới dạng ...)``."""
    return tuple(words(item.name.split("(", 1)[0]) for item in ingredients)


@lru_cache(maxsize=8192)
def _name_words(text: str) -> str:
    return words(text)


@lru_cache(maxsize=4096)
def _unit_key(unit: str) -> str:
    """Units compare case-, diacritics- and spacing-insensitively (``drug_catalog.text.same_text``)."""
    return " ".join(tokens(unit))


def _names_ingredients(ten_thuoc: str | None, drug: Drug) -> bool:
    """ten_thuoc names every active ingredient (INN); a multi-ingredient or traditional product
    may instead be named by its registered name."""
    if not ten_thuoc:
        return False
    text = _name_words(ten_thuoc)
    names = _ingredient_words(drug.active_ingredients)
    if all(name.strip() and name in text for name in names):
        return True
    if len(names) > 1 or drug.kind == "traditional":
        return _name_words(drug.name) in text
    return False


def _check_control(ctx: Context, index: int, drug: Drug) -> None:
    """control.wrong_type and control.mixed for one resolved line."""
    loai = ctx.type
    if loai is None:
        return
    path = ("thong_tin_don_thuoc", index, "ma_thuoc")
    cls = drug.control_class
    required = ("n" if cls == "narcotic" else "h" if cls in ("psychotropic", "precursor") else None)
    if required is not None and loai != required:
        ctx.error(path, "control.wrong_type",
                  f"Thuốc {_CONTROL_NAMES[cls]} chỉ được kê trong {_TYPE_NAMES[required]}")
        return
    if drug.kind == "traditional" and loai not in ("c", "y"):
        ctx.error(path, "control.wrong_type",
                  "Thuốc y học cổ truyền chỉ được kê trong đơn thuốc thường (c) hoặc y học cổ truyền (y)")
        return
    if loai in ("n", "h") and required != loai:
        message = (f"{_TYPE_NAMES[loai].capitalize()} chỉ nên gồm thuốc thuộc nhóm của nó; thuốc này "
                   f"là thuốc {_CONTROL_NAMES[cls]}")
        if ctx.policy.control_mixed_severity == "error":
            ctx.error(path, "control.mixed", message)
        else:
            ctx.warn(path, "control.mixed", message)


def check_supply(ctx: Context) -> None:
    """supply.too_long: first tu_ngay to last den_ngay, inclusive, within the type's limit."""
    if ctx.type is None or ctx.period_span is None:
        return
    limit = ctx.policy.supply_limit(ctx.type, ctx.diagnoses)
    start, end = ctx.period_span
    days = (end - start).days + 1
    if limit is not None and days > limit:
        ctx.error(("dot_dung_thuoc",), "supply.too_long",
                  f"Số ngày dùng thuốc ({days}) vượt giới hạn {limit} ngày của {_TYPE_NAMES[ctx.type]}"
                  " với các chẩn đoán này")


#: Rules in the order they run (later ones use what earlier ones derive).
RULES = (check_prescribed_at, check_type_and_code, check_diagnoses, check_periods,
         check_follow_up, check_treatment_setting, check_texts, check_patient, check_lines,
         check_supply)
