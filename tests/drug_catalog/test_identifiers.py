"""GTIN check digits, GS1 element strings and registration numbers (docs/identifiers.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from biip import ParseError
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_element_strings import GS1ElementString
from hypothesis import given, settings
from hypothesis import strategies as st

from drug_catalog import identifiers
from drug_catalog.errors import BadCheckDigit, InvalidGs1, InvalidIdentifier
from drug_catalog.identifiers import (
    GS,
    Pack,
    format_gs1,
    gtin_check_digit,
    is_registration_number,
    is_valid_gtin,
    normalize_code,
    normalize_gtin,
    parse_gs1,
    parse_registration_number,
)

TODAY = date(2026, 11, 23)

# ---------------------------------------------------------------------------------- GTIN


@pytest.mark.parametrize(("body", "check"), [("629104150021", 3), ("123456789012", 8),
                                             ("0400638133393", 1), ("893000000001", 9)])
def test_worked_check_digits_of_identifiers_md(body: str, check: int) -> None:
    assert gtin_check_digit(body) == check
    assert is_valid_gtin(body + str(check))


gtin_bodies = st.sampled_from([7, 11, 12, 13]).flatmap(
    lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n))


@settings(deadline=None)
@given(gtin_bodies)
def test_a_gtin_with_its_computed_check_digit_always_validates(body: str) -> None:
    gtin = body + str(gtin_check_digit(body))
    assert is_valid_gtin(gtin)
    assert normalize_gtin(gtin) == gtin.zfill(14)
    assert len(normalize_gtin(gtin)) == 14


@settings(deadline=None)
@given(gtin_bodies, st.data())
def test_any_single_digit_change_never_validates(body: str, data: st.DataObject) -> None:
    gtin = body + str(gtin_check_digit(body))
    position = data.draw(st.integers(0, len(gtin) - 1), label="position")
    replacement = data.draw(st.sampled_from([d for d in "0123456789" if d != gtin[position]]),
                            label="digit")
    changed = gtin[:position] + replacement + gtin[position + 1:]
    assert not is_valid_gtin(changed)
    with pytest.raises(BadCheckDigit):
        normalize_gtin(changed)


def test_bad_check_digit_says_the_expected_digit() -> None:
    with pytest.raises(BadCheckDigit) as caught:
        normalize_gtin("8930000000018")
    assert caught.value.expected == 9 and caught.value.found == 8
    assert "expected 9" in str(caught.value)


@pytest.mark.parametrize(("value", "words"), [
    ("89300000000A9", "digits only"),
    ("1234567", "not 7"),
    ("123456789", "not 9"),
    ("", "digits only"),
    ("８９３００００１", "digits only"),  # full-width digits are not ASCII digits
])
def test_malformed_gtins_are_refused_with_a_reason(value: str, words: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalize_gtin(value)
    assert not isinstance(caught.value, BadCheckDigit)
    assert words in caught.value.reason


@pytest.mark.parametrize("digits", ["", "89300000000A", "８９３０００００", "٣٣٣",
                                    " 893000000001"])
def test_the_check_digit_is_only_computed_for_ascii_digits(digits: str) -> None:
    with pytest.raises(ValueError, match="ASCII digits"):
        gtin_check_digit(digits)


def test_every_length_normalises_to_fourteen_digits() -> None:
    assert normalize_gtin("96385074") == "00000096385074"           # GTIN-8
    assert normalize_gtin("036000291452") == "00036000291452"       # GTIN-12 (UPC-A)
    assert normalize_gtin("8930000000019") == "08930000000019"      # GTIN-13
    assert normalize_gtin(" 08930000000019 ") == "08930000000019"   # GTIN-14


# --------------------------------------------------------------------------------- GS1

HUMAN = "(01)08930000000019(17)280630(10)L-77(21)SN123"
RAW = "]d2010893000000001917280630" "10L-77" + GS + "21SN123"
EXPECTED = Pack(gtin="08930000000019", expiry=date(2028, 6, 30), batch="L-77", serial="SN123")


def test_both_spellings_of_identifiers_md_parse_to_the_same_pack() -> None:
    assert parse_gs1(HUMAN, today=TODAY) == EXPECTED
    assert parse_gs1(RAW, today=TODAY) == EXPECTED
    assert parse_gs1(RAW[3:], today=TODAY) == EXPECTED  # no symbology identifier


def test_day_00_means_the_last_day_of_the_month() -> None:
    assert parse_gs1("(01)08930000000019(17)280200", today=TODAY).expiry == date(2028, 2, 29)
    assert parse_gs1("(01)08930000000019(17)270200", today=TODAY).expiry == date(2027, 2, 28)
    assert parse_gs1("0108930000000019172712" "00", today=TODAY).expiry == date(2027, 12, 31)


def test_the_expiry_century_follows_the_gs1_window() -> None:
    assert parse_gs1("(01)08930000000019(17)991231", today=TODAY).expiry == date(1999, 12, 31)
    assert parse_gs1("(01)08930000000019(17)760101", today=TODAY).expiry == date(2076, 1, 1)


def test_fields_may_come_in_any_order_and_only_the_gtin_is_required() -> None:
    assert parse_gs1("(21)X1(01)08930000000019") == Pack("08930000000019", serial="X1")
    assert parse_gs1("]d2" + "10AB" + GS + "0108930000000019") == \
        Pack("08930000000019", batch="AB")
    assert parse_gs1("0108930000000019") == Pack("08930000000019")


def test_a_trailing_gs_and_a_leading_fnc1_are_tolerated() -> None:
    assert parse_gs1(GS + "010893000000001910AB" + GS) == Pack("08930000000019", batch="AB")


@pytest.mark.parametrize(("text", "words", "ai"), [
    ("", "empty", None),
    ("(17)280630", "no GTIN", "01"),
    ("(01)08930000000018", "expected 9", "01"),
    ("(01)0893000000001", "14 digits", "01"),
    ("(01)08930000000019(17)281330", "month 13", "17"),
    ("(01)08930000000019(17)280231", "day 31", "17"),
    ("(01)08930000000019(17)2806", "6 digits", "17"),
    ("(01)08930000000019(10)", "empty", "10"),
    ("(01)08930000000019(10)" + "A" * 21, "at most 20", "10"),
    ("(01)08930000000019(21)SN 1", "not a GS1 character", "21"),
    ("(01)08930000000019(11)250101", "(11) is not one used", "11"),
    ("(01)08930000000019(01)08930000000019", "appears twice", "01"),
    ("01089300000000191" + "0" + "A" * 25, "at most 20", "10"),
    ("]d2" + "0108930000000019" + "99ABC", "(99) is not one used", "99"),
    ("]d2", "no data", None),
    ("0108930000000019X", "2-digit Application Identifier", None),
    ("08930000000019", "(08) is not one used", "08"),
    ("x(01)08930000000019", "2-digit Application Identifier", None),
    ("(1)08930000000019", "expected an Application Identifier", None),
])
def test_malformed_element_strings_are_refused_with_a_reason(text: str, words: str,
                                                             ai: str | None) -> None:
    with pytest.raises(InvalidGs1) as caught:
        parse_gs1(text, today=TODAY)
    assert words in caught.value.reason
    assert caught.value.ai == ai


cset82 = "!\"%&'*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz()"
variable_field = st.text(alphabet=cset82, min_size=1, max_size=20)
packs = st.builds(
    Pack,
    gtin=st.text(alphabet="0123456789", min_size=13, max_size=13).map(
        lambda body: body + str(gtin_check_digit(body))),
    expiry=st.none() | st.dates(min_value=date(TODAY.year - 49, 1, 1),
                                max_value=date(TODAY.year + 50, 12, 31)),
    batch=st.none() | variable_field,
    serial=st.none() | variable_field,
)


@settings(max_examples=300, deadline=None)
@given(packs)
def test_raw_form_round_trips(pack: Pack) -> None:
    assert parse_gs1(format_gs1(pack, raw=True), today=TODAY) == pack


@settings(max_examples=300, deadline=None)
@given(packs)
def test_bracketed_form_round_trips(pack: Pack) -> None:
    try:
        text = format_gs1(pack)
    except InvalidGs1 as refused:  # only a value that would read back as a new field
        assert "bracketed AI" in refused.reason
        return
    assert parse_gs1(text, today=TODAY) == pack


def test_format_refuses_what_it_could_not_read_back() -> None:
    with pytest.raises(InvalidGs1, match="bracketed AI"):
        format_gs1(Pack("08930000000019", batch="A(21)B"))
    assert parse_gs1(format_gs1(Pack("08930000000019", batch="A(21)B"), raw=True)).batch == "A(21)B"
    with pytest.raises(InvalidGs1, match="not a valid 14-digit GTIN"):
        format_gs1(Pack("8930000000019"))
    with pytest.raises(InvalidGs1, match="at most 20"):
        format_gs1(Pack("08930000000019", serial="S" * 21))


def test_bracketed_values_may_hold_parentheses_that_are_not_ais() -> None:
    assert parse_gs1("(01)08930000000019(10)LOT(A)(21)S1").batch == "LOT(A)"
    assert parse_gs1("(01)08930000000019(10)A(240)B(21)S1").batch == "A(240)B"


@pytest.mark.parametrize("symbology", ["]d2", "]C1", "]Q3", "]e0"])
def test_the_symbology_identifiers_of_gs1_symbologies_are_accepted(symbology: str) -> None:
    assert parse_gs1(symbology + "0108930000000019" "10AB" + GS + "21S1") == \
        Pack("08930000000019", batch="AB", serial="S1")


@pytest.mark.parametrize(("text", "words"), [
    ("]d1" + "0108930000000019", "]d1 is not a GS1 symbology's"),    # Data Matrix, not GS1
    ("]E0" + "8930000000019", "]E0 is not a GS1 symbology's"),       # an EAN-13 on the box
    ("]C0" + "0108930000000019", "]C0 is not a GS1 symbology's"),    # Code 128 without FNC1
    ("]", "not a symbology identifier"),
    ("]Y", "not a symbology identifier"),
])
def test_other_symbologies_are_refused_as_not_the_packs_gs1_code(text: str, words: str) -> None:
    with pytest.raises(InvalidGs1) as caught:
        parse_gs1(text, today=TODAY)
    assert words in caught.value.reason
    assert caught.value.ai is None


@pytest.mark.parametrize(("text", "ai", "words"), [
    ("]d2" + "0108930000000019" + "240ABC", "240", "Additional product identification"),
    ("0108930000000019" + "7003" + "2806301200", "7003", "Expiration date and time"),
    ("(01)08930000000019(240)ABC", "240", "Additional product identification"),
    ("(01)08930000000019(11)250101", "11", "Production date"),
    ("(01)08930000000019(2400)ABC", "2400", "not a GS1 AI either"),
    ("08930000000019", "08", "not a GS1 AI either"),
])
def test_an_ai_that_is_not_ours_is_named_as_gs1_names_it(text: str, ai: str, words: str) -> None:
    with pytest.raises(InvalidGs1) as caught:
        parse_gs1(text, today=TODAY)
    assert f"({ai}) is not one used on medicine packs here" in caught.value.reason
    assert words in caught.value.reason
    assert caught.value.ai == ai


# What biip's own readers accept, or refuse without naming the field, and parse_gs1 refuses
# with a reason (why the reading stays in identifiers.py).
@pytest.mark.parametrize(("text", "words", "ai"), [
    ("0108930000000019" "10" + "A" * 20 + "21SN1", "at most 20", "10"),  # GS missing
    ("0108930000000019" "10" + "A" * 22 + "17280630", "at most 20", "10"),
    ("0108930000000019" + "0108930000000019", "appears twice", "01"),
    ("(01)08930000000019(10)(21)S1", "empty", "10"),
    ("(01)08930000000019(21)S1(21)S2", "appears twice", "21"),
])
def test_what_a_lenient_reader_would_accept_is_refused(text: str, words: str,
                                                       ai: str | None) -> None:
    with pytest.raises(InvalidGs1) as caught:
        parse_gs1(text, today=TODAY)
    assert words in caught.value.reason
    assert caught.value.ai == ai


def test_the_raw_form_separates_only_variable_length_fields_that_are_not_last() -> None:
    gtin = "08930000000019"
    assert format_gs1(Pack(gtin, batch="AB"), raw=True) == "]d2" "01" + gtin + "10AB"
    assert format_gs1(Pack(gtin, serial="S1", expiry=date(2028, 6, 30)), raw=True) == \
        "]d2" "01" + gtin + "17280630" "21S1"
    assert format_gs1(Pack(gtin, batch="AB", serial="S1"), raw=True) == \
        "]d2" "01" + gtin + "10AB" + GS + "21S1"
    # The expiry is written as it is, whatever century biip would read it in.
    assert format_gs1(Pack(gtin, expiry=date(2000, 2, 29))) == "(01)" + gtin + "(17)000229"


def test_our_four_ais_have_the_formats_of_the_gs1_ai_table() -> None:
    table = {ai: GS1ApplicationIdentifier.extract(ai) for ai in ("01", "17", "10", "21")}
    assert {ai: entry.format for ai, entry in table.items()} == {
        ai: f"N2+N{length}" for ai, length in identifiers._FIXED_LENGTH.items()} | {
        ai: f"N2+X..{most}" for ai, most in identifiers._VARIABLE_MAX.items()}
    assert {ai for ai, entry in table.items() if entry.separator_required} == \
        set(identifiers._VARIABLE_MAX)


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 99), st.integers(0, 12), st.integers(0, 31))
def test_the_expiry_date_is_biips_for_the_same_day(yy: int, month: int, day: int) -> None:
    # biip takes its century window from the clock: compare on today's (UTC) date.
    yymmdd = f"{yy:02d}{month:02d}{day:02d}"
    try:
        theirs = GS1ElementString.parse("17" + yymmdd).date
    except ParseError:  # an impossible date (30 February, 31 April, month 00)
        with pytest.raises(InvalidGs1):
            parse_gs1("(01)08930000000019(17)" + yymmdd)
        return
    today = datetime.now(UTC).date()
    assert parse_gs1("(01)08930000000019(17)" + yymmdd, today=today).expiry == theirs


def test_the_examples_format_as_in_identifiers_md() -> None:
    assert format_gs1(EXPECTED) == HUMAN
    assert format_gs1(EXPECTED, raw=True) == RAW


# ---------------------------------------------------------------------- registration numbers


@pytest.mark.parametrize("number", ["VD-32243-19", "VN-21939-19", "VN-5686-10", "VN2-454-16",
                                    "VN3-12-17", "GC-319-19", "VS-4807-11", "QLĐB-613-17",
                                    "QLSP-0768-14", "V268-H12-13", "893100160624"])
def test_every_format_of_identifiers_md_is_a_registration_number(number: str) -> None:
    assert parse_registration_number(number) == number
    assert is_registration_number(number)


@pytest.mark.parametrize(("spelling", "canonical"), [
    (" vd-32243-19 ", "VD-32243-19"),
    ("VD - 32243 - 19", "VD-32243-19"),
    ("QL\u00d0B-613-17", "QL\u0110B-613-17"),      # Ð (Icelandic eth) → Đ
    ("qlđb-613-17", "QL\u0110B-613-17"),
    ("QL\u0189B-613-17", "QL\u0110B-613-17"),      # Ɖ (African D) → Đ
    ("VN\u2013 21939\u201319", "VN-21939-19"),     # en dashes
    ("893 100 160 624", "893100160624"),
])
def test_spellings_normalise_to_one_canonical_form(spelling: str, canonical: str) -> None:
    assert parse_registration_number(spelling) == canonical
    assert normalize_code(spelling) == canonical


@pytest.mark.parametrize("value", ["", "   ", "ABC", "VD32243-19", "VD-32243", "89310016062",
                                   "VD-32243-2019", "XX-123-19"])
def test_other_values_are_not_registration_numbers(value: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        parse_registration_number(value)
    assert caught.value.reason
    assert not is_registration_number(value) or not value.strip()
