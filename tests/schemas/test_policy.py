"""Policy numbers come from settings; the chronic-disease list is a replaceable data file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.errors import PolicyError
from schemas.icd10 import Icd10Ranges, normalize_icd10
from schemas.identifiers import (
    PRESCRIPTION_CODE,
    cccd_disagreement,
    generate_prescription_code,
    is_bhyt_number,
    is_cccd,
)
from schemas.policy import DEFAULT_CHRONIC_DISEASES_FILE, Policy, setting_names
from tests.support.schema_strategies import SCHEMAS, Case, dmy, prescriptions
from tests.support.schemas import validate


def test_defaults_are_those_of_rules_md() -> None:
    policy = Policy()
    assert (policy.child_age_months, policy.clock_skew_seconds, policy.max_age_days,
            policy.max_lines, policy.quantity_max, policy.free_text_max_chars,
            policy.drug_text_max_chars, policy.name_max_chars) == (72, 300, 30, 50, 10_000, 2000, 200, 255)
    assert policy.supply_limit("c", ["J06.9"]) == 30
    assert policy.supply_limit("c", ["E11.9"]) == 90
    assert policy.supply_limit("n", ["J06.9"]) == 7
    assert policy.supply_limit("n", ["C50.9"]) == 30 and policy.supply_limit("n", ["B24"]) == 30
    assert policy.supply_limit("n", ["D48.9"]) == 30 and policy.supply_limit("n", ["D50.0"]) == 7
    assert policy.supply_limit("h", ["J06.9"]) == 10 and policy.supply_limit("h", ["F20.0"]) == 30
    assert policy.supply_limit("y", ["E11.9"]) == 30
    assert policy.control_mixed_severity == "warning" and policy.controlled_dispense_days == 5


def test_from_mapping_reads_the_settings() -> None:
    policy = Policy.from_mapping({"RX_SUPPLY_DAYS_BASIC": 20, "RX_CHILD_AGE_MONTHS": 60,
                                  "RX_CANCER_ICD10": "C00-C97", "RX_MEASURED_UNITS": ("ml",),
                                  "RX_CONTROL_MIXED_SEVERITY": "error", "UNRELATED": 1})
    assert policy.supply_days_basic == 20 and policy.child_age_months == 60
    assert policy.cancer_icd10 == ("C00-C97",) and "D48.9" not in policy.cancer_ranges
    assert policy.measured_units == ("ml",) and policy.control_mixed_severity == "error"
    assert Policy.from_mapping({}) == Policy()


def test_every_policy_field_has_a_gateway_setting_with_the_same_default() -> None:
    from gateway.core import config

    values = config.load({}, environ={}).by_name()
    names = setting_names()
    assert set(names.values()) <= set(values)
    assert Policy.from_mapping(values) == Policy()


@pytest.mark.parametrize("mapping,message", [
    ({"RX_SUPPLY_DAYS_BASIC": -1}, "supply_days_basic"),
    ({"RX_MAX_LINES": "fifty"}, "max_lines"),
    ({"RX_CONTROL_MIXED_SEVERITY": "fatal"}, "control_mixed_severity"),
    ({"RX_CANCER_ICD10": "C00-Q"}, "ICD-10"),
    ({"RX_HIV_ICD10": "B24-B20"}, "backwards"),
    ({"RX_CHRONIC_DISEASES_FILE": "/nonexistent/chronic.txt"}, "cannot read"),
])
def test_unusable_policy_values_are_refused_by_name(mapping: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        Policy.from_mapping(mapping)


def test_the_shipped_chronic_list_is_valid_and_documented() -> None:
    text = DEFAULT_CHRONIC_DISEASES_FILE.read_text(encoding="utf-8")
    assert "Thông tư 26/2025" in text and "RX_CHRONIC_DISEASES_FILE" in text
    ranges = Icd10Ranges.from_file(DEFAULT_CHRONIC_DISEASES_FILE)
    for code in ("E11.9", "I10", "J45.0", "F20.0", "N18.5", "B18.1", "B24", "C50.9"):
        assert code in ranges, code
    for code in ("J06.9", "A09", "S72.0", "O80"):
        assert code not in ranges, code


def test_a_replacement_chronic_list_changes_the_limit(tmp_path: Path) -> None:
    replacement = tmp_path / "chronic.txt"
    replacement.write_text("# only asthma\nJ45  # asthma\n\n", encoding="utf-8")
    policy = Policy.from_mapping({"RX_CHRONIC_DISEASES_FILE": str(replacement)})
    assert policy.supply_limit("c", ["J45.9"]) == 90
    assert policy.supply_limit("c", ["E11.9"]) == 30


def test_a_bad_line_in_a_chronic_list_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "chronic.txt"
    bad.write_text("I10\nE11\nNOT-A-CODE\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"line 3"):
        Policy.from_mapping({"RX_CHRONIC_DISEASES_FILE": str(bad)})


@SCHEMAS
@given(prescriptions(loai="c"))
def test_the_policy_is_applied(case: Case) -> None:
    """A stricter policy turns the same valid prescription's long supply into supply.too_long."""
    strict = Policy(supply_days_basic=1, supply_days_basic_chronic=1)
    result = validate(case.doc, policy=strict)
    codes = {(i.pointer, i.code) for i in result.errors}
    assert codes == ({("/dot_dung_thuoc", "supply.too_long")} if case.span_days > 1 else set())


@SCHEMAS
@given(prescriptions(child=False))
def test_child_age_comes_from_the_policy(case: Case) -> None:
    """Every adult is a child when the child age is 200 years: guardian and weight required."""
    case.doc.pop("thong_tin_nguoi_giam_ho", None)
    case.doc.pop("can_nang", None)
    result = validate(case.doc, policy=Policy(child_age_months=2400))
    assert {(i.pointer, i.code) for i in result.errors} == {
        ("/thong_tin_nguoi_giam_ho", "patient.guardian_required"),
        ("/can_nang", "patient.weight_required")}


# ---------------------------------------------------------------------------- identifiers

@pytest.mark.parametrize("code,dotted", [("J06.9", "J06.9"), ("J069", "J06.9"), ("j06.9", "J06.9"),
                                         (" E11 ", "E11"), ("U07.1", "U07.1"), ("A000", "A00.0")])
def test_icd10_with_or_without_the_dot(code: str, dotted: str) -> None:
    assert normalize_icd10(code) == dotted


@pytest.mark.parametrize("code", ["J00-J06", "X", "XXII", "J06..9", "J0.69", "J069X", "", "é06", "A" * 100])
def test_icd10_chapters_blocks_and_junk_are_not_diagnoses(code: str) -> None:
    assert normalize_icd10(code) is None


@SCHEMAS
@given(st.sampled_from(["79001", "0000A", "zz9zz"]), st.sampled_from("cnhy"))
def test_generated_codes_have_the_national_format(facility: str, loai: str) -> None:
    code = generate_prescription_code(facility, loai)
    assert PRESCRIPTION_CODE.fullmatch(code) and code[:5] == facility and code[-1] == loai
    assert len({generate_prescription_code(facility, loai) for _ in range(50)}) == 50


@pytest.mark.parametrize("facility,loai", [("7900", "c"), ("79001", "x"), ("7900!", "c"), (None, "c")])
def test_generating_a_code_refuses_bad_arguments(facility: object, loai: str) -> None:
    with pytest.raises(ValueError):
        generate_prescription_code(facility, loai)  # type: ignore[arg-type]


def test_cccd_structure() -> None:
    from datetime import date
    assert is_cccd("079090001234") and not is_cccd("000090001234") and not is_cccd("07909000123")
    assert cccd_disagreement("079090001234", date(1990, 3, 15), 2) is None
    assert cccd_disagreement("079190001234", date(1990, 3, 15), 3) is None
    assert cccd_disagreement("079090001234", date(1990, 3, 15), 3) == "sex"
    assert cccd_disagreement("079090001234", date(1990, 3, 15), 1) is None
    assert cccd_disagreement("079290001234", date(1990, 3, 15), 2) == "century"
    assert cccd_disagreement("079091001234", date(1990, 3, 15), 2) == "year"
    assert cccd_disagreement("079224001234", date(2024, 1, 1), 2) is None


def test_bhyt_formats() -> None:
    assert is_bhyt_number("DN4790123456789") and is_bhyt_number("4790123456")
    assert is_bhyt_number("079090001234")
    assert not is_bhyt_number("DN6790123456789") and not is_bhyt_number("479012345")


def test_a_follow_up_date_becomes_days_after_prescribing() -> None:
    from tests.support.schema_strategies import LOCAL, NOW
    prescribed = (NOW - timedelta(days=1)).astimezone(LOCAL)
    doc = {"loai_don_thuoc": "c", "ma_don_thuoc": "79001ABCDEFG-c", "ho_ten_benh_nhan": "Trần Thị B",
           "ma_dinh_danh_y_te": "YT123", "ngay_sinh_benh_nhan": "01/01/1980", "gioi_tinh": 3,
           "chan_doan": [{"ma_chan_doan": "J069"}],
           "dot_dung_thuoc": [{"tu_ngay": dmy(prescribed.date()), "den_ngay": dmy(prescribed.date())}],
           "thong_tin_don_thuoc": [{"ma_thuoc": "VD-35053-20", "ten_thuoc": "Paracetamol 500mg",
                                    "don_vi_tinh": "Viên", "so_luong": 10, "cach_dung": "Uống"}],
           "ngay_tai_kham": dmy(prescribed.date() + timedelta(days=14)),
           "ngay_gio_ke_don": prescribed.strftime("%Y-%m-%d %H:%M:%S")}
    result = validate(doc)
    assert result.errors == []
    assert result.document["ngay_tai_kham"] == 14


def test_generated_codes_draw_every_character_in_every_position() -> None:
    from schemas.identifiers import _CODE_ALPHABET

    drawn = [generate_prescription_code("79001", "c")[5:12] for _ in range(4000)]
    for position in range(7):
        assert {code[position] for code in drawn} == set(_CODE_ALPHABET)
