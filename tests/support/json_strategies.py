"""Hypothesis strategies: JSON values and prescription-shaped documents."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

SAFE_INT = 2**53 - 1

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-SAFE_INT, max_value=SAFE_INT),
    # Integral floats in [2**53, 1e21) serialise as digits that parse back as an integer JCS
    # refuses (rfc8785 will not round an integer): outside the domain these laws speak of.
    st.floats(allow_nan=False, allow_infinity=False).filter(
        lambda x: not (x.is_integer() and SAFE_INT < abs(x) < 1e21)),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=20,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=6)

drug_lines = st.fixed_dictionaries({
    "ma_thuoc": st.from_regex(r"V[DN]-[0-9]{5}-[0-9]{2}", fullmatch=True),
    "ten_thuoc": st.text(min_size=1, max_size=30),
    "don_vi_tinh": st.sampled_from(["Viên", "Gói", "Chai", "Ống"]),
    "so_luong": st.integers(min_value=1, max_value=500),
    "cach_dung": st.text(max_size=40),
})


@st.composite
def prescriptions(draw: st.DrawFn) -> dict[str, Any]:
    """A prescription-shaped document with 2..5 distinct lines and random extra fields."""
    lines = draw(st.lists(drug_lines, min_size=2, max_size=5, unique_by=lambda line: line["ma_thuoc"]))
    document = {"ma_don_thuoc": draw(st.from_regex(r"[0-9A-Z]{12}-[cnhy]", fullmatch=True)),
                "ho_ten_benh_nhan": draw(st.text(min_size=1, max_size=30)),
                "can_nang": draw(st.floats(min_value=0.5, max_value=300, allow_nan=False)),
                "thong_tin_don_thuoc": lines}
    document.update(draw(st.dictionaries(st.text(min_size=1, max_size=8).filter(
        lambda key: key not in document), json_values, max_size=3)))
    return document
