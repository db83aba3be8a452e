"""The dispense form as the API's body, and the API's errors back beside the form's fields
(properties over any form a browser may send)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from gateway.console.forms import FORM, dispense_body, field_errors, quantity, scanned_packs

LINES = 6
typed = st.one_of(st.just(""), st.just("  "), st.integers(1, 10_000).map(str),
                  st.decimals(min_value=Decimal("0.001"), max_value=Decimal("999"), places=3)
                  .map(lambda d: str(d).replace(".", ",")),
                  st.text(alphabet="abcxyz-+e ", min_size=1, max_size=5))


@given(st.decimals(min_value=0, max_value=Decimal("10000"), places=3), st.sampled_from(".,"))
def test_a_typed_decimal_reads_as_its_value(value: Decimal, separator: str) -> None:
    text = f"{value:f}".replace(".", separator)
    read = quantity(f" {text} ")
    assert Decimal(str(read)) == value
    assert isinstance(read, int) == (value == value.to_integral_value())


@given(st.dictionaries(st.integers(0, LINES - 1), typed, max_size=LINES),
       st.dictionaries(st.integers(0, LINES - 1), st.lists(st.text("(0123456789)X\x1d", min_size=1,
                                                                     max_size=30), max_size=3)))
def test_each_item_remembers_its_line_and_each_error_finds_its_field(
        quantities: dict[int, str], packs: dict[int, list[str]]) -> None:
    form = {f"qty-{line}": text for line, text in quantities.items()}
    form.update({f"packs-{line}": "\r\n".join(items) for line, items in packs.items()})
    filled = dispense_body(form, LINES)
    # Items come in line order, one per line with a quantity that reads as a number.
    assert filled.lines == sorted(filled.lines)
    assert [item["line"] for item in filled.body["items"]] == filled.lines
    for item in filled.body["items"]:
        assert item["so_luong_ban"] == quantity(form[f"qty-{item['line']}"])
        expected_packs = scanned_packs(form.get(f"packs-{item['line']}", ""))
        assert item.get("packs", []) == expected_packs
    # A line is in error exactly when its text is not a number, or it has packs but no number.
    for line in range(LINES):
        text = form.get(f"qty-{line}", "")
        try:
            amount = quantity(text)
            bad = amount is None and bool(scanned_packs(form.get(f"packs-{line}", "")))
        except ValueError:
            bad = True
        assert (f"qty-{line}" in filled.errors) == bad
        assert (line in filled.lines) == (not bad and quantity(text) is not None)
    # The service's errors about item n land beside the inputs of the line n came from.
    errors = [{"pointer": f"/items/{n}/so_luong_ban", "code": "x", "message": "m"}
              for n in range(len(filled.lines))]
    errors += [{"pointer": f"/items/{n}/packs/1", "code": "y", "message": "p"}
               for n in range(len(filled.lines))]
    shown = field_errors(errors, filled.lines, fields=("ma_hoa_don",))
    assert set(shown) == ({f"qty-{line}" for line in filled.lines}
                          | {f"packs-{line}" for line in filled.lines})
    assert all(messages == ["Hộp thứ 2: p"] for name, messages in shown.items()
               if name.startswith("packs-"))


def test_pointers_outside_the_form_go_to_the_top() -> None:
    shown = field_errors([{"pointer": "/items", "message": "a"},
                          {"pointer": "/ma_hoa_don", "message": "b"},
                          {"pointer": "/ma_don_thuoc", "message": "c"},
                          {"pointer": "/items/7/so_luong_ban", "message": "d"},
                          {"pointer": "", "message": "e"}], [0, 2], fields=("ma_hoa_don",))
    assert shown == {FORM: ["a", "c", "d", "e"], "ma_hoa_don": ["b"]}


def test_packs_keep_the_scanner_s_group_separators() -> None:
    raw = "]d201089300000000191728063010L-77\x1d21SN1\r\n\n  (01)08930000000019(21)SN2  \n"
    assert scanned_packs(raw) == ["]d201089300000000191728063010L-77\x1d21SN1",
                                  "(01)08930000000019(21)SN2"]
