"""The overlap check's decisions without a database: treatment days (touching, contained,
multi-period), which lines and which other prescriptions count, and the severity settings."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.config import ConfigError
from gateway.prescriptions.overlaps import (
    CONTROL_OVERLAP,
    DUPLICATE_THERAPY,
    OverlapPolicy,
    day_count,
    describe_spans,
    find_overlaps,
    intersection,
    spans,
)

DAY0 = date(2026, 3, 1)

periods_st = st.lists(
    st.tuples(st.integers(0, 60), st.integers(0, 20)).map(
        lambda pair: (DAY0 + timedelta(days=pair[0]), DAY0 + timedelta(days=pair[0] + pair[1]))),
    min_size=1, max_size=5)


def period_dicts(periods: list[tuple[date, date]]) -> list[dict[str, Any]]:
    return [{"dot": number, "tu_ngay": start.isoformat(), "den_ngay": end.isoformat()}
            for number, (start, end) in enumerate(periods, 1)]


def days_of(periods: list[tuple[date, date]]) -> set[date]:
    return {start + timedelta(days=offset) for start, end in periods
            for offset in range((end - start).days + 1)}


@given(periods_st)
def test_spans_are_the_same_days_sorted_disjoint_and_not_touching(periods) -> None:
    merged = spans(period_dicts(periods))
    assert days_of(merged) == days_of(periods)
    assert day_count(merged) == len(days_of(periods))
    for (_, end), (start, _) in pairwise(merged):
        assert start > end + timedelta(days=1)


@given(periods_st, periods_st)
def test_intersection_is_exactly_the_common_days_whatever_the_periods(first, second) -> None:
    common = intersection(spans(period_dicts(first)), spans(period_dicts(second)))
    assert days_of(common) == days_of(first) & days_of(second)
    assert intersection(spans(period_dicts(second)), spans(period_dicts(first))) == common


@given(st.integers(0, 40), st.integers(0, 30), st.integers(0, 30))
def test_touching_periods_do_not_overlap_and_sharing_one_day_does(start, length, later) -> None:
    first = [(DAY0 + timedelta(days=start), DAY0 + timedelta(days=start + length))]
    end = first[0][1]
    touching = [(end + timedelta(days=1), end + timedelta(days=1 + later))]
    sharing = [(end, end + timedelta(days=later))]
    assert intersection(spans(period_dicts(first)), spans(period_dicts(touching))) == []
    assert day_count(intersection(spans(period_dicts(first)), spans(period_dicts(sharing)))) == 1


@given(st.integers(0, 30), st.integers(0, 30), st.integers(0, 30), st.integers(0, 30))
def test_a_contained_period_overlaps_on_all_its_days(start, length, inner_start, inner_length) -> None:
    outer = (DAY0 + timedelta(days=start), DAY0 + timedelta(days=start + length))
    inner_first = outer[0] + timedelta(days=min(inner_start, length))
    inner = (inner_first, min(outer[1], inner_first + timedelta(days=inner_length)))
    common = intersection(spans(period_dicts([outer])), spans(period_dicts([inner])))
    assert common == [inner]


def test_a_period_in_the_gap_of_a_multi_period_prescription_does_not_overlap() -> None:
    two = spans(period_dicts([(DAY0, DAY0 + timedelta(days=2)),
                              (DAY0 + timedelta(days=10), DAY0 + timedelta(days=12))]))
    gap = spans(period_dicts([(DAY0 + timedelta(days=3), DAY0 + timedelta(days=9))]))
    assert intersection(two, gap) == []
    wider = spans(period_dicts([(DAY0 + timedelta(days=2), DAY0 + timedelta(days=10))]))
    assert day_count(intersection(two, wider)) == 2
    assert describe_spans(two) == "từ 01/03/2026 đến 03/03/2026, từ 11/03/2026 đến 13/03/2026"


# --- find_overlaps --------------------------------------------------------------------------

INGREDIENTS = {"MORPHINE-ORAL": {"morphin"}, "MORPHINE-INJ": {"morphin"}, "FENTANYL": {"fentanyl"},
               "DIAZEPAM": {"diazepam"}, "ALPRAZOLAM": {"alprazolam"},
               "PARACETAMOL": {"paracetamol"}, "PARA-TWIN": {"paracetamol"},
               "AMOXICILLIN": {"amoxicilin"}}
CLASSES = {"MORPHINE-ORAL": "narcotic", "MORPHINE-INJ": "narcotic", "FENTANYL": "narcotic",
           "DIAZEPAM": "psychotropic", "ALPRAZOLAM": "psychotropic"}


def lines(*codes: str) -> list[dict[str, Any]]:
    return [{"index": index, "ma_thuoc": code, "control_class": CLASSES.get(code, "none")}
            for index, code in enumerate(codes)]


def ingredients_of(line: dict[str, Any]) -> frozenset[str]:
    return frozenset(INGREDIENTS.get(line["ma_thuoc"], ()))


def document(code: str, loai: str, periods: list[tuple[date, date]]) -> dict[str, Any]:
    return {"ma_don_thuoc": code, "loai_don_thuoc": loai, "dot_dung_thuoc": period_dicts(periods)}


def stored(code: str, loai: str, periods: list[tuple[date, date]], drugs: list[str], *,
           facility: str = "01002", status: str = "issued") -> dict[str, Any]:
    return {"_id": code, "facility": facility, "issuer": f"doctor-{facility}-BS9",
            "status": status, "lines": lines(*drugs), "document": document(code, loai, periods)}


WEEK = [(DAY0, DAY0 + timedelta(days=6))]


def find(new: dict[str, Any], new_lines: list[dict[str, Any]], others: list[dict[str, Any]],
         policy: OverlapPolicy | None = None, facility: str = "79001") -> list:
    return find_overlaps(new, new_lines, others, facility=facility,
                         policy=policy or OverlapPolicy(), ingredients_of=ingredients_of)


def test_same_class_or_same_ingredient_counts_with_the_line_class_severity() -> None:
    other = stored("01002AAAAAAA-n", "n", WEEK, ["FENTANYL"])
    found = find(document("79001BBBBBBB-n", "n", WEEK), lines("MORPHINE-ORAL"), [other])
    assert [(o.code, o.severity, o.match, o.line, o.other_lines) for o in found] == [
        (CONTROL_OVERLAP, "error", "control_class", 0, (0,))]
    found = find(document("79001BBBBBBB-h", "h", WEEK), lines("DIAZEPAM"),
                 [stored("01002AAAAAAA-h", "h", WEEK, ["DIAZEPAM"])])
    assert [(o.severity, o.match, o.ingredients) for o in found] == [
        ("warning", "ingredient", ("diazepam",))]
    policy = OverlapPolicy(narcotic="warning", psychotropic="error")
    assert find(document("79001BBBBBBB-h", "h", WEEK), lines("ALPRAZOLAM"),
                [stored("01002AAAAAAA-h", "h", WEEK, ["DIAZEPAM"])], policy)[0].severity == "error"


def test_cancelled_itself_and_other_classes_do_not_count_and_non_controlled_lines_are_skipped(
        ) -> None:
    new = document("79001BBBBBBB-n", "n", WEEK)
    others = [stored("01002AAAAAAA-n", "n", WEEK, ["FENTANYL"], status="cancelled"),
              stored("79001BBBBBBB-n", "n", WEEK, ["MORPHINE-ORAL"], facility="79001"),
              stored("01002CCCCCCC-h", "h", WEEK, ["DIAZEPAM"])]
    assert find(new, lines("MORPHINE-ORAL"), others) == []
    # a mixed n prescription: only its narcotic line is checked, against same-class lines
    found = find(new, lines("PARACETAMOL", "MORPHINE-INJ"),
                 [stored("01002DDDDDDD-c", "c", WEEK, ["PARA-TWIN"]),
                  stored("01002EEEEEEE-n", "n", WEEK, ["AMOXICILLIN", "MORPHINE-ORAL"])])
    assert [(o.line, o.other["_id"], o.other_lines, o.match) for o in found] == [
        (1, "01002EEEEEEE-n", (1,), "ingredient")]


def test_the_same_facility_counts_for_controlled_drugs_but_not_for_duplicate_therapy() -> None:
    mine = stored("79001AAAAAAA-n", "n", WEEK, ["FENTANYL"], facility="79001")
    assert len(find(document("79001BBBBBBB-n", "n", WEEK), lines("MORPHINE-ORAL"), [mine])) == 1
    own_basic = stored("79001AAAAAAA-c", "c", WEEK, ["PARA-TWIN"], facility="79001")
    other_basic = stored("01002AAAAAAA-c", "c", WEEK, ["PARA-TWIN", "AMOXICILLIN"])
    found = find(document("79001BBBBBBB-c", "c", WEEK), lines("AMOXICILLIN", "PARACETAMOL"),
                 [own_basic, other_basic])
    assert [(o.code, o.severity, o.line, o.other_lines, o.ingredients) for o in found] == [
        (DUPLICATE_THERAPY, "warning", 0, (1,), ("amoxicilin",)),
        (DUPLICATE_THERAPY, "warning", 1, (0,), ("paracetamol",))]
    assert find(document("79001BBBBBBB-c", "c", WEEK), lines("PARACETAMOL"), [other_basic],
                OverlapPolicy(duplicate_therapy=False)) == []
    assert find(document("79001BBBBBBB-y", "y", WEEK), lines("PARACETAMOL"), [other_basic]) == []


@given(periods_st, periods_st)
def test_an_overlap_is_found_both_ways_and_exactly_when_days_are_shared(first, second) -> None:
    a = stored("79001AAAAAAA-n", "n", first, ["MORPHINE-ORAL"], facility="79001")
    b = stored("01002BBBBBBB-n", "n", second, ["FENTANYL"])
    forward = find(a["document"], a["lines"], [b])
    backward = find(b["document"], b["lines"], [a], facility="01002")
    shared = days_of(first) & days_of(second)
    assert bool(forward) == bool(backward) == bool(shared)
    if shared:
        assert day_count(forward[0].days) == day_count(backward[0].days) == len(shared)
        # the other's periods shown are those that meet the new prescription's days
        assert days_of(list(forward[0].other_spans)) >= shared


def test_overlap_settings_refuse_other_values() -> None:
    with pytest.raises(ConfigError, match="ERX_RX_OVERLAP_NARCOTIC"):
        OverlapPolicy(narcotic="fatal")
    with pytest.raises(ConfigError, match="ERX_RX_OVERLAP_PSYCHOTROPIC"):
        OverlapPolicy(narcotic="error", psychotropic="", duplicate_therapy=True)
    with pytest.raises(ConfigError, match="ERX_RX_DUPLICATE_THERAPY"):
        OverlapPolicy(duplicate_therapy="yes")  # type: ignore[arg-type]
