"""For each rule of docs/rules.md, a mutation of a valid prescription that breaks exactly that rule
is reported with exactly that rule's code at the right pointer (and nothing else)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drug_catalog.identifiers import gtin_check_digit
from drug_catalog.model import Drug
from drug_catalog.text import same_text
from schemas.policy import Policy
from schemas.validation import ValidationResult
from tests.support.schema_strategies import (
    ALPHANUM,
    FACILITY,
    NOW,
    POLICY,
    SCHEMAS,
    TODAY,
    Case,
    cccd_for,
    dmy,
    drugs_for,
    identifiers,
    inactive_drugs,
    inn_name,
    prescriptions,
    raw_materials,
    texts,
)
from tests.support.schemas import validate

RULES_MD = Path(__file__).resolve().parents[2] / "docs" / "rules.md"

Mutation = Callable[[Any, Case], tuple[dict[str, Any], str]]


@dataclass
class Rule:
    mutate: Mutation
    cases: dict[str, Any] = field(default_factory=dict)  # arguments of prescriptions()
    warning: bool = False
    policy: Policy = POLICY


def line_for(draw: Any, drug: Drug) -> dict[str, Any]:
    return {"ma_thuoc": draw(st.sampled_from(identifiers(drug))), "ten_thuoc": inn_name(drug),
            "don_vi_tinh": drug.unit, "so_luong": draw(st.integers(1, 100)),
            "cach_dung": draw(texts)}


def pick_line(draw: Any, case: Case) -> int:
    return draw(st.integers(0, len(case.doc["thong_tin_don_thuoc"]) - 1))


def replace_line(draw: Any, case: Case, pool: tuple[Drug, ...]) -> tuple[dict[str, Any], str]:
    index = pick_line(draw, case)
    others = {d.national_code for i, d in enumerate(case.drugs) if i != index}
    drug = draw(st.sampled_from([d for d in pool if d.national_code not in others]))
    case.doc["thong_tin_don_thuoc"][index] = line_for(draw, drug)
    return case.doc, f"/thong_tin_don_thuoc/{index}/ma_thuoc"


def day(text: str) -> date:
    return datetime.strptime(text, "%d/%m/%Y").date()


# ------------------------------------------------------------------------------ mutations

def name_required(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    choice = draw(st.sampled_from(["", "   ", "long", "absent", "type"]))
    if choice == "absent":
        del case.doc["ho_ten_benh_nhan"]
    else:
        case.doc["ho_ten_benh_nhan"] = {"long": "Nguyễn " * 40, "type": {"$gt": ""}}.get(choice, choice)
    return case.doc, "/ho_ten_benh_nhan"


def birth_date(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    case.doc["ngay_sinh_benh_nhan"] = draw(st.one_of(
        st.integers(1, 3000).map(lambda n: dmy(TODAY + timedelta(days=n))),
        st.integers(0, 200).map(lambda n: f"01/01/{TODAY.year - 151 - n}"),
        st.sampled_from(["31/02/2000", "2000-13-01", "hôm qua", "", "1990/01/01", "01-01-1990"]),
        st.sampled_from([19900101, None, ["01/01/1990"]])))
    return case.doc, "/ngay_sinh_benh_nhan"


def id_required(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    case.doc.pop("ma_dinh_danh_cong_dan", None)
    case.doc.pop("ma_dinh_danh_y_te", None)
    if draw(st.booleans()):
        case.doc["ma_dinh_danh_y_te"] = "  "
    return case.doc, "/ma_dinh_danh_cong_dan"


def cccd_format(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    case.doc["ma_dinh_danh_cong_dan"] = draw(st.one_of(
        st.text(alphabet="0123456789", min_size=1, max_size=11),
        st.text(alphabet="0123456789", min_size=13, max_size=20),
        st.text(alphabet="0123456789", min_size=9, max_size=9).map(lambda t: "000" + t),
        st.sampled_from(["07909000123A", "079 090 001 234", "０７９０９０００１２３４", "x" * 5000]),
        st.sampled_from([79090001234, {"$gt": ""}, True])))
    return case.doc, "/ma_dinh_danh_cong_dan"


def cccd_mismatch(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    sex = case.doc["gioi_tinh"]
    cccd = cccd_for(draw, case.birth, sex)
    what = draw(st.sampled_from(["year", "century"] + (["sex"] if sex in (2, 3) else [])))
    if what == "year":
        yy = (int(cccd[4:6]) + draw(st.integers(1, 99))) % 100
        cccd = f"{cccd[:4]}{yy:02d}{cccd[6:]}"
    elif what == "century":
        digit = (int(cccd[3]) + 2 * draw(st.integers(1, 4))) % 10
        cccd = f"{cccd[:3]}{digit}{cccd[4:]}"
    else:
        cccd = f"{cccd[:3]}{int(cccd[3]) ^ 1}{cccd[4:]}"
    case.doc["ma_dinh_danh_cong_dan"] = cccd
    return case.doc, "/ma_dinh_danh_cong_dan"


def bhyt_format(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    case.doc.pop("ma_so_the_bao_hiem_y_te", None)
    name = draw(st.sampled_from(["ma_so_the_bao_hiem_y_te", "ma_so_bao_hiem_y_te"]))
    case.doc[name] = draw(st.one_of(
        st.sampled_from(["DN6790123456789", "D14790123456789", "123456789", "12345678901",
                         "DN47901234567890", "000123456789", "HC 4790123456789"]),
        st.sampled_from([4790123456, {"$gt": ""}, None])))
    return case.doc, "/" + name


def sex(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    case.doc["gioi_tinh"] = draw(st.sampled_from([0, 4, 5, 9, -1, 2.5, "2", None, True, [2]]))
    return case.doc, "/gioi_tinh"


def guardian_required(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    if draw(st.booleans()):
        case.doc.pop("thong_tin_nguoi_giam_ho")
    else:
        case.doc["thong_tin_nguoi_giam_ho"] = " "
    return case.doc, "/thong_tin_nguoi_giam_ho"


def weight_required(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    if case.child and draw(st.booleans()):
        case.doc.pop("can_nang")
    else:
        case.doc["can_nang"] = draw(st.sampled_from([0, -3, 500.5, 1e6, float("0"), "12", None]))
    return case.doc, "/can_nang"


def code_format(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    case.doc["ma_don_thuoc"] = draw(st.one_of(
        st.sampled_from([f"{FACILITY}ABC-c", f"{FACILITY}ABCDEFG_c", f"{FACILITY}ABCDEFGH-c",
                         f"{FACILITY}ABCDEF!-c", f"{FACILITY}ABCDEFG-x", f"{FACILITY}ABCDEFG-C",
                         f"{FACILITY}ÂBCDEFG-c", "x" * 100_000]),
        st.sampled_from([7900112345678, {"$gt": ""}, None])))
    return case.doc, "/ma_don_thuoc"


def code_facility(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    other = draw(st.text(alphabet=ALPHANUM, min_size=5, max_size=5).filter(lambda f: f != FACILITY))
    random_part = draw(st.text(alphabet=ALPHANUM, min_size=7, max_size=7))
    case.doc["ma_don_thuoc"] = f"{other}{random_part}-{case.loai}"
    return case.doc, "/ma_don_thuoc"


def code_type(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    wrong = draw(st.sampled_from([t for t in "cnhy" if t != case.loai]))
    case.doc["ma_don_thuoc"] = f"{FACILITY}{draw(st.text(alphabet=ALPHANUM, min_size=7, max_size=7))}-{wrong}"
    return case.doc, "/ma_don_thuoc"


def rx_type(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    case.doc["loai_don_thuoc"] = draw(st.sampled_from(["x", "C", "", "cn", "thuong", 1, None, ["c"]]))
    return case.doc, "/loai_don_thuoc"


def prescribed_at(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    when = draw(st.one_of(
        st.integers(POLICY.clock_skew_seconds + 1, 10**7).map(lambda s: NOW + timedelta(seconds=s)),
        st.integers(POLICY.max_age_days * 86400 + 1, 10**9).map(lambda s: NOW - timedelta(seconds=s))))
    case.doc["ngay_gio_ke_don"] = draw(st.one_of(
        st.just(when.astimezone(case.prescribed.tzinfo).strftime("%Y-%m-%d %H:%M:%S")),
        st.sampled_from(["23/11/2026 10:00:00", "2026-11-23", "2026-02-30 10:00:00", "", "now",
                         "2026-11-23 25:00:00", 1763870000, None])))
    return case.doc, "/ngay_gio_ke_don"


def diagnosis_required(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    choice = draw(st.sampled_from(["empty", "absent", "string", "null"]))
    if choice == "absent":
        del case.doc["chan_doan"]
    else:
        case.doc["chan_doan"] = {"empty": [], "string": "J06.9", "null": None}[choice]
    return case.doc, "/chan_doan"


def icd10(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    index = draw(st.integers(0, len(case.doc["chan_doan"]) - 1))
    case.doc["chan_doan"][index]["ma_chan_doan"] = draw(st.sampled_from(
        ["J00-J06", "X", "Z9999", "J069X", "ABC", "J06..9", "J0.69", "", "U99", "J06.99", 69, {"$gt": ""}, None]))
    return case.doc, f"/chan_doan/{index}/ma_chan_doan"


def lines_required(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    case.doc["thong_tin_don_thuoc"] = draw(st.sampled_from([[], None, "VD-35053-20", {"$gt": ""}]))
    return case.doc, "/thong_tin_don_thuoc"


def period(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    index = draw(st.integers(0, len(case.doc["dot_dung_thuoc"]) - 1))
    item = case.doc["dot_dung_thuoc"][index]
    choice = draw(st.sampled_from(["backwards", "bad-date", "missing", "dot"]))
    if choice == "backwards":
        item["tu_ngay"] = dmy(day(item["den_ngay"]) + timedelta(days=draw(st.integers(1, 30))))
        return case.doc, f"/dot_dung_thuoc/{index}"
    if choice == "bad-date":
        item["den_ngay"] = draw(st.sampled_from(["32/01/2026", "", 20261123, None]))
        return case.doc, f"/dot_dung_thuoc/{index}/den_ngay"
    if choice == "missing":
        name = draw(st.sampled_from(["tu_ngay", "den_ngay"]))
        del item[name]
        return case.doc, f"/dot_dung_thuoc/{index}/{name}"
    item["dot"] = draw(st.sampled_from([0, -1, 51, "1", None]))
    return case.doc, f"/dot_dung_thuoc/{index}/dot"


def unknown_field(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    name = draw(st.sampled_from(["ghi_chu", "patient_name", "$where", "ma/don~thuoc", "mat_khau", "_id"]))
    where = draw(st.sampled_from(["top", "line", "diagnosis", "period"]))
    value = draw(st.sampled_from(["x", 1, None, {"$gt": ""}]))
    if where == "top":
        case.doc[name] = value
        prefix = ""
    elif where == "line":
        index = pick_line(draw, case)
        case.doc["thong_tin_don_thuoc"][index][name] = value
        prefix = f"/thong_tin_don_thuoc/{index}"
    elif where == "diagnosis":
        case.doc["chan_doan"][0][name] = value
        prefix = "/chan_doan/0"
    else:
        case.doc["dot_dung_thuoc"][0][name] = value
        prefix = "/dot_dung_thuoc/0"
    return case.doc, prefix + "/" + name.replace("~", "~0").replace("/", "~1")


def text_length(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    where = draw(st.sampled_from(["dia_chi", "luu_y", "loi_dan", "thong_tin_nguoi_giam_ho",
                                  "diagnosis", "signature", "line"]))
    if where == "line":
        index = pick_line(draw, case)
        name = draw(st.sampled_from(["ma_thuoc", "biet_duoc", "ten_thuoc", "don_vi_tinh", "cach_dung"]))
        case.doc["thong_tin_don_thuoc"][index][name] = "a" * draw(st.integers(201, 50_000))
        return case.doc, f"/thong_tin_don_thuoc/{index}/{name}"
    if where == "diagnosis":
        case.doc["chan_doan"][0]["ten_chan_doan"] = "b" * draw(st.integers(2001, 50_000))
        return case.doc, "/chan_doan/0/ten_chan_doan"
    limit = POLICY.signature_max_chars if where == "signature" else POLICY.free_text_max_chars
    case.doc[where] = "đ" * draw(st.integers(limit + 1, limit + 100_000))
    return case.doc, "/" + where


def drug_unknown(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    index = pick_line(draw, case)
    drug = case.drugs[index]
    body = "8930009" + draw(st.text(alphabet="0123456789", min_size=5, max_size=5))
    good_gtin = body + str(gtin_check_digit(body))
    bad_gtin = next(iter(drug.gtins))[:-1] + str((int(next(iter(drug.gtins))[-1]) + 1) % 10) \
        if drug.gtins else "08930000000018"
    case.doc["thong_tin_don_thuoc"][index]["ma_thuoc"] = draw(st.sampled_from(
        ["VD-99999-99", "MT999999", good_gtin, bad_gtin, "", "   ", 8930000000019, {"$gt": ""}, None]))
    return case.doc, f"/thong_tin_don_thuoc/{index}/ma_thuoc"


def drug_inactive(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    pool = tuple(d for d in inactive_drugs() if _fits(d, case.loai))
    return replace_line(draw, case, pool)


def _fits(drug: Drug, loai: str) -> bool:
    if drug.control_class == "narcotic":
        return loai == "n"
    if drug.control_class in ("psychotropic", "precursor"):
        return loai == "h"
    if loai in ("n", "h"):
        return False
    return drug.kind != "traditional" or loai in ("c", "y")


def not_prescribable(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    return replace_line(draw, case, raw_materials())


def drug_unit(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    index = pick_line(draw, case)
    unit = case.drugs[index].unit
    case.doc["thong_tin_don_thuoc"][index]["don_vi_tinh"] = draw(st.one_of(
        st.sampled_from([u for u in ["Hộp", "Vỉ", "ml", "Gói", "Viên", "Ống", "Chai", ""]
                         if not same_text(u, unit)]),
        st.sampled_from([1, None, {"$gt": ""}])))
    return case.doc, f"/thong_tin_don_thuoc/{index}/don_vi_tinh"


def drug_quantity(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    index = pick_line(draw, case)
    case.doc["thong_tin_don_thuoc"][index]["so_luong"] = draw(st.one_of(
        st.sampled_from([0, -1, 10_001, 1.5, 0.25, 1e9, -0.0, "10", None, True, [1]]),
        st.integers(POLICY.quantity_max + 1, 10**30)))
    return case.doc, f"/thong_tin_don_thuoc/{index}/so_luong"


def drug_directions(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    index = pick_line(draw, case)
    line = case.doc["thong_tin_don_thuoc"][index]
    choice = draw(st.sampled_from(["", "  \n ", None, 3, "absent"]))
    if choice == "absent":
        del line["cach_dung"]
    else:
        line["cach_dung"] = choice
    return case.doc, f"/thong_tin_don_thuoc/{index}/cach_dung"


def name_mismatch(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    index = pick_line(draw, case)
    line = case.doc["thong_tin_don_thuoc"][index]
    if draw(st.booleans()):
        line.pop("ten_thuoc")
    else:
        line["ten_thuoc"] = draw(st.sampled_from(["Thuốc bổ QZX", "Siro ho trẻ em", "Viên sủi"]))
    return case.doc, f"/thong_tin_don_thuoc/{index}/ten_thuoc"


def duplicate_line(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    index = pick_line(draw, case)
    copy = line_for(draw, case.drugs[index])
    lines = case.doc["thong_tin_don_thuoc"]
    position = draw(st.integers(index + 1, len(lines)))
    lines.insert(position, copy)
    return case.doc, f"/thong_tin_don_thuoc/{position}/ma_thuoc"


def wrong_type(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    loai = case.loai
    pool = [d for t in "cnhy" if t != loai for d in drugs_for(t)
            if (d.control_class == "narcotic" and loai != "n")
            or (d.control_class in ("psychotropic", "precursor") and loai != "h")
            or (d.kind == "traditional" and loai in ("n", "h"))]
    return replace_line(draw, case, tuple(pool))


def mixed(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    pool = tuple(d for d in drugs_for("c") if d.kind != "traditional")
    return replace_line(draw, case, pool)


def supply_too_long(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    limit = POLICY.supply_limit(case.loai, case.diagnoses)
    assert limit is not None
    periods = case.doc["dot_dung_thuoc"]
    start = day(periods[0]["tu_ngay"])
    periods[-1]["den_ngay"] = dmy(start + timedelta(days=limit - 1 + draw(st.integers(1, 400))))
    return case.doc, "/dot_dung_thuoc"


def follow_up(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    case.doc["ngay_tai_kham"] = draw(st.one_of(
        st.integers(-1000, -1), st.integers(POLICY.follow_up_max_days + 1, 10**20),
        st.integers(1, 400).map(lambda n: dmy(case.prescribed.date() - timedelta(days=n))),
        st.sampled_from(["7", "bảy ngày", 7.5, None, True])))
    return case.doc, "/ngay_tai_kham"


def field_type(draw: Any, case: Case) -> tuple[dict[str, Any], str]:
    choice = draw(st.sampled_from(["hinh_thuc", "dia_chi", "line", "diagnosis", "signature"]))
    if choice == "hinh_thuc":
        case.doc["hinh_thuc_dieu_tri"] = draw(st.sampled_from([0, 4, "1", None, 1.5]))
        return case.doc, "/hinh_thuc_dieu_tri"
    if choice == "dia_chi":
        case.doc["dia_chi"] = draw(st.sampled_from([5, {"$gt": ""}, ["a"], None, False]))
        return case.doc, "/dia_chi"
    if choice == "line":
        index = pick_line(draw, case)
        case.doc["thong_tin_don_thuoc"][index] = draw(st.sampled_from([5, "VD-35053-20", None, []]))
        return case.doc, f"/thong_tin_don_thuoc/{index}"
    if choice == "diagnosis":  # added, so that the diagnoses setting the supply limit stay
        case.doc["chan_doan"].append(draw(st.sampled_from(["J06.9", None, 5, []])))
        return case.doc, f"/chan_doan/{len(case.doc['chan_doan']) - 1}"
    case.doc["signature"] = draw(st.sampled_from([None, 1, {"alg": "none"}]))
    return case.doc, "/signature"


RULES: dict[str, Rule] = {
    "patient.name_required": Rule(name_required),
    "patient.birth_date": Rule(birth_date),
    "patient.id_required": Rule(id_required, {"child": False}),
    "patient.cccd_format": Rule(cccd_format),
    "patient.cccd_mismatch": Rule(cccd_mismatch),
    "patient.bhyt_format": Rule(bhyt_format),
    "patient.sex": Rule(sex),
    "patient.guardian_required": Rule(guardian_required, {"child": True, "ids": ("cccd", "yte", "both")}),
    "patient.weight_required": Rule(weight_required),
    "rx.code_format": Rule(code_format),
    "rx.code_facility": Rule(code_facility),
    "rx.code_type": Rule(code_type),
    "rx.type": Rule(rx_type),
    "rx.prescribed_at": Rule(prescribed_at),
    "rx.diagnosis_required": Rule(diagnosis_required, {"loai": "y"}),  # y: no diagnosis-dependent limit
    "rx.icd10": Rule(icd10, {"loai": "y"}),
    "rx.lines_required": Rule(lines_required),
    "rx.period": Rule(period),
    "rx.unknown_field": Rule(unknown_field),
    "rx.text_length": Rule(text_length),
    "drug.unknown": Rule(drug_unknown),
    "drug.inactive": Rule(drug_inactive),
    "drug.not_prescribable": Rule(not_prescribable, {"loai": "c"}),
    "drug.unit": Rule(drug_unit),
    "drug.quantity": Rule(drug_quantity),
    "drug.directions": Rule(drug_directions),
    "drug.name_mismatch": Rule(name_mismatch, warning=True),
    "drug.duplicate_line": Rule(duplicate_line),
    "control.wrong_type": Rule(wrong_type),
    "control.mixed": Rule(mixed, {"loai": "n"}, warning=True),
    "supply.too_long": Rule(supply_too_long),
    # gateway codes, not from the circulars: follow-up date and plain type errors
    "rx.follow_up": Rule(follow_up),
    "rx.field_type": Rule(field_type),
}

# drug.inactive needs an inactive product of the right class: every type but y has one.
RULES["drug.inactive"].cases = {"loai": "c"}
EXTRA = {
    "drug.inactive (narcotic)": ("drug.inactive", Rule(drug_inactive, {"loai": "n"})),
    "drug.inactive (psychotropic)": ("drug.inactive", Rule(drug_inactive, {"loai": "h"})),
    "control.mixed (h)": ("control.mixed", Rule(mixed, {"loai": "h"}, warning=True)),
    "control.mixed as an error": ("control.mixed", Rule(mixed, {"loai": "n"},
                                                        policy=Policy(control_mixed_severity="error"))),
}


def check_only(result: ValidationResult, pointer: str, code: str, warning: bool) -> None:
    errors = {(issue.pointer, issue.code) for issue in result.errors}
    warnings = {(issue.pointer, issue.code) for issue in result.warnings}
    if warning:
        assert errors == set(), result.errors
        assert warnings == {(pointer, code)}, result.warnings
        assert result.document is not None
    else:
        assert errors == {(pointer, code)}, result.errors
        assert warnings == set(), result.warnings
        assert result.document is None
        assert all(issue.message and not issue.message.isascii() for issue in result.errors)


CASES = {**{code: (code, rule) for code, rule in RULES.items()}, **EXTRA}


@pytest.mark.parametrize("name", list(CASES))
@settings(SCHEMAS, max_examples=25)
@given(data=st.data())
def test_a_mutation_breaking_one_rule_reports_exactly_that_rule(name: str, data: st.DataObject) -> None:
    code, rule = CASES[name]
    case = data.draw(prescriptions(**rule.cases), label="case")
    doc, pointer = rule.mutate(data.draw, case)
    result = validate(doc, policy=rule.policy)
    check_only(result, pointer, code, rule.warning)


def test_every_rule_of_rules_md_has_a_mutation() -> None:
    text = RULES_MD.read_text(encoding="utf-8")
    codes = set(re.findall(r"^\| `((?:patient|rx|drug|control|supply)\.[a-z_0-9]+)` \|", text, re.M))
    assert len(codes) >= 30
    assert codes <= set(RULES), codes - set(RULES)


def test_the_single_object_period_form_is_pointed_at_without_an_index() -> None:
    doc = {"loai_don_thuoc": "c", "dot_dung_thuoc": {"tu_ngay": "10/11/2026", "den_ngay": "01/11/2026",
                                                      "x": 1}}
    result = validate(doc)
    pointers = {(i.pointer, i.code) for i in result.errors}
    assert ("/dot_dung_thuoc", "rx.period") in pointers
    assert ("/dot_dung_thuoc/x", "rx.unknown_field") in pointers
    result = validate({"dot_dung_thuoc": {"tu_ngay": "hôm nay", "den_ngay": "01/11/2026"}})
    assert ("/dot_dung_thuoc/tu_ngay", "rx.period") in {(i.pointer, i.code) for i in result.errors}


def test_both_insurance_spellings_at_once_are_refused_by_name() -> None:
    result = validate({"ma_so_the_bao_hiem_y_te": "4790123456", "ma_so_bao_hiem_y_te": "4790123456"})
    assert ("/ma_so_bao_hiem_y_te", "rx.unknown_field") in {(i.pointer, i.code) for i in result.errors}


def test_a_missing_code_without_a_facility_is_an_error() -> None:
    doc = {"loai_don_thuoc": "c"}
    result = validate(doc, facility_code=None)
    assert ("/ma_don_thuoc", "rx.code_format") in {(i.pointer, i.code) for i in result.errors}


# Mutations that touch different fields and do not influence one another's rules.
INDEPENDENT = ("patient.name_required", "patient.sex", "rx.code_format", "rx.follow_up",
               "patient.bhyt_format", "drug.directions", "rx.period", "rx.field_type",
               "rx.unknown_field", "patient.weight_required")


@settings(SCHEMAS, max_examples=40)
@given(data=st.data(), chosen=st.sets(st.sampled_from(INDEPENDENT), min_size=2))
def test_several_independent_problems_are_all_reported_at_once(data: st.DataObject,
                                                               chosen: set[str]) -> None:
    case = data.draw(prescriptions(loai="y"), label="case")
    expected = set()
    for code in sorted(chosen):
        if code == "rx.field_type":
            case.doc["hinh_thuc_dieu_tri"] = 9
            expected.add(("/hinh_thuc_dieu_tri", code))
            continue
        if code == "rx.unknown_field":
            case.doc["truong_la"] = 1
            expected.add(("/truong_la", code))
            continue
        _, pointer = RULES[code].mutate(data.draw, case)
        expected.add((pointer, code))
    result = validate(case.doc)
    assert {(issue.pointer, issue.code) for issue in result.errors} == expected
    assert result.document is None


def test_a_bad_prescription_gets_every_problem_in_one_answer() -> None:
    doc = {
        "loai_don_thuoc": "c", "ma_don_thuoc": "79002ABCDEFG-n", "ho_ten_benh_nhan": " ",
        "ma_dinh_danh_cong_dan": "079090001234", "ngay_sinh_benh_nhan": "15/03/1991",
        "gioi_tinh": 2, "ma_so_bao_hiem_y_te": "XX123",
        "chan_doan": [{"ma_chan_doan": "J06.9"}, {"ma_chan_doan": "Q99.99"}],
        "dot_dung_thuoc": {"tu_ngay": "20/11/2026", "den_ngay": "30/12/2026"},
        "thong_tin_don_thuoc": [
            {"ma_thuoc": "VD-35053-20", "ten_thuoc": "Paracetamol 500mg", "don_vi_tinh": "Hộp",
             "so_luong": 0, "cach_dung": "Uống"},
            {"ma_thuoc": "08930000000453", "ten_thuoc": "Paracetamol 500mg", "don_vi_tinh": "viên",
             "so_luong": 10, "cach_dung": ""},
            {"ma_thuoc": "MT105985", "ten_thuoc": "Morphin hydroclorid 10mg/1ml",
             "don_vi_tinh": "ống", "so_luong": 2, "cach_dung": "Tiêm"},
            {"ma_thuoc": "XYZ", "don_vi_tinh": "viên", "so_luong": 1, "cach_dung": "Uống"}],
        "ngay_gio_ke_don": "2026-11-30 10:00:00", "ghi_chu": "?",
    }
    result = validate(doc)
    found = {(issue.pointer, issue.code) for issue in result.errors}
    assert found == {
        ("/ma_don_thuoc", "rx.code_facility"), ("/ma_don_thuoc", "rx.code_type"),
        ("/ho_ten_benh_nhan", "patient.name_required"),
        ("/ma_dinh_danh_cong_dan", "patient.cccd_mismatch"),
        ("/ma_so_bao_hiem_y_te", "patient.bhyt_format"),
        ("/chan_doan/1/ma_chan_doan", "rx.icd10"),
        ("/dot_dung_thuoc", "supply.too_long"),
        ("/thong_tin_don_thuoc/0/don_vi_tinh", "drug.unit"),
        ("/thong_tin_don_thuoc/0/so_luong", "drug.quantity"),
        ("/thong_tin_don_thuoc/1/ma_thuoc", "drug.duplicate_line"),
        ("/thong_tin_don_thuoc/1/cach_dung", "drug.directions"),
        ("/thong_tin_don_thuoc/2/ma_thuoc", "control.wrong_type"),
        ("/thong_tin_don_thuoc/3/ma_thuoc", "drug.unknown"),
        ("/ngay_gio_ke_don", "rx.prescribed_at"),
        ("/ghi_chu", "rx.unknown_field"),
    }, result.errors
    # document order: the answer reads top to bottom
    pointers = [issue.pointer for issue in result.errors]
    assert pointers.index("/ho_ten_benh_nhan") < pointers.index("/thong_tin_don_thuoc/0/so_luong")
