"""Resolving identifiers and searching names in the in-memory catalog."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drug_catalog.catalog import Catalog, CatalogIndex
from drug_catalog.errors import AmbiguousIdentifier, BadCheckDigit, InvalidIdentifier, UnknownDrug
from drug_catalog.identifiers import gtin_check_digit
from drug_catalog.model import Drug
from tests.support.drugs import make_drug


@pytest.fixture(scope="module")
def index(demo: list[Drug]) -> CatalogIndex:
    return CatalogIndex(demo)


def by_name(demo: list[Drug], name: str) -> Drug:
    return next(drug for drug in demo if drug.name == name)


def test_every_identifier_kind_finds_the_same_product(index: CatalogIndex,
                                                      demo: list[Drug]) -> None:
    for drug in demo:
        assert index.resolve(drug.national_code) == drug
        assert index.resolve(drug.registration_number) == drug
        for gtin in drug.gtins:
            assert index.resolve(gtin) == drug
            assert index.resolve(gtin.lstrip("0") if len(gtin.lstrip("0")) in (8, 12, 13)
                                 else gtin) == drug


def test_gtin_8_12_13_and_14_digit_spellings_resolve(index: CatalogIndex,
                                                     demo: list[Drug]) -> None:
    gtin8 = by_name(demo, "Hacemol 500")
    assert gtin8.gtins[0].startswith("000000")
    assert index.resolve(gtin8.gtins[0][6:]) == gtin8
    gtin12 = by_name(demo, "Amlor 5")
    assert index.resolve(gtin12.gtins[0][2:]) == gtin12
    gtin13 = by_name(demo, "Bucain spinal")
    assert index.resolve("8930000000019") == gtin13
    assert index.resolve("08930000000019") == gtin13


def test_registration_numbers_resolve_in_any_spelling(index: CatalogIndex,
                                                      demo: list[Drug]) -> None:
    drug = by_name(demo, "Bucain spinal")
    assert index.resolve(" vn-21939 -19 ") == drug
    special = next(d for d in demo if d.registration_number.startswith("QLĐB"))
    assert index.resolve(special.registration_number.replace("Đ", "\u00d0").lower()) == special


def test_a_bad_check_digit_is_a_typo_not_a_miss(index: CatalogIndex) -> None:
    with pytest.raises(BadCheckDigit) as caught:
        index.resolve("8930000000018")
    assert caught.value.expected == 9
    with pytest.raises(BadCheckDigit):
        index.resolve("08930000000010")


def test_unknown_and_empty_identifiers(index: CatalogIndex) -> None:
    unused = "893999999999"
    valid_unused = unused + str(gtin_check_digit(unused))
    for identifier in (valid_unused, "VD-99999-99", "NO-SUCH-CODE", "12345"):
        with pytest.raises(UnknownDrug) as caught:
            index.resolve(identifier)
        assert caught.value.identifier == identifier
    for identifier in ("", "   "):
        with pytest.raises(InvalidIdentifier):
            index.resolve(identifier)


def test_an_identifier_naming_two_products_is_ambiguous() -> None:
    shared = CatalogIndex([make_drug(national_code="A1"),
                           make_drug(national_code="A2", gtins=["8930000000026"])])
    with pytest.raises(AmbiguousIdentifier) as caught:
        shared.resolve("VD-32243-19")
    assert caught.value.national_codes == ("A1", "A2")
    assert shared.resolve("A2").national_code == "A2"
    # A 12-digit registration number of one product that is another product's GTIN-12.
    body = "89310016062"
    number = body + str(gtin_check_digit(body))
    clash = CatalogIndex([make_drug(national_code="NEW", registration_number=number, gtins=[]),
                          make_drug(national_code="UPC", registration_number="VD-1-19",
                                    gtins=[number])])
    with pytest.raises(AmbiguousIdentifier):
        clash.resolve(number)


def test_a_twelve_digit_registration_number_is_found_even_if_not_a_valid_gtin() -> None:
    number = "893100160624"
    assert gtin_check_digit(number[:-1]) != int(number[-1])
    index = CatalogIndex([make_drug(national_code="X", registration_number=number)])
    assert index.resolve(number).national_code == "X"


def test_a_national_code_made_of_digits_wins_over_a_bad_check_digit() -> None:
    index = CatalogIndex([make_drug(national_code="12345678")])
    assert gtin_check_digit("1234567") != 8
    assert index.resolve("12345678").national_code == "12345678"


def test_get_and_membership(index: CatalogIndex, demo: list[Drug]) -> None:
    assert index.get(demo[0].national_code.lower()) == demo[0]
    assert index.get("nope") is None
    assert demo[0].national_code in index and "nope" not in index
    assert len(index) == len(demo)
    assert isinstance(index, Catalog)


def names(drugs: list[Drug]) -> list[str]:
    return [drug.name for drug in drugs]


def test_search_ignores_case_and_diacritics(index: CatalogIndex) -> None:
    assert "Thuốc ho Bảo Thanh" in names(index.search("thuoc"))
    assert "Thuốc ho Bảo Thanh" in names(index.search("THUỐC HO"))
    assert names(index.search("dieu kinh")) == names(index.search("Điều kinh"))
    assert "Điều kinh Ích Mẫu" in names(index.search("dieu kinh"))


def test_search_matches_prefixes_of_every_word(index: CatalogIndex) -> None:
    found = names(index.search("amlo 5"))
    assert {"Amlor 5", "Amlodipin 5mg", "Kavasdin 5", "Amdepin 5"} == set(found)
    assert "Amlodipin 10mg" not in found
    assert all("10" not in name for name in found)
    assert index.search("amlodipin zzz") == []


def test_search_finds_active_ingredients(index: CatalogIndex) -> None:
    found = index.search("atorvastatin", limit=50)
    assert {"Caditor 20", "Caditor 40", "Lipitas 20"} <= set(names(found))
    assert all(any("atorvastatin" in item.name.lower() for item in drug.active_ingredients)
               for drug in found)


def test_search_puts_name_matches_and_whole_words_first(index: CatalogIndex) -> None:
    found = names(index.search("paracetamol", limit=30))
    assert found[0].startswith("Paracetamol")
    first_ingredient_only = next(i for i, drug in enumerate(index.search("paracetamol", limit=30))
                                 if "paracetamol" not in drug.name.lower())
    assert all("paracetamol" in name.lower() for name in found[:first_ingredient_only])
    assert names(index.search("ho"))[:2] == ["Siro ho Bổ phế", "Thuốc ho Bảo Thanh"]


def test_search_limits_and_nonsense(index: CatalogIndex) -> None:
    assert len(index.search("a", limit=3)) == 3
    assert index.search("  ,;  ") == []
    for limit in (0, 101):
        with pytest.raises(ValueError):
            index.search("para", limit=limit)


def test_a_later_record_with_the_same_code_replaces_the_earlier() -> None:
    index = CatalogIndex([make_drug(name="Old"), make_drug(name="New")])
    assert len(index) == 1 and index.get("MT000001").name == "New"


def brute_force(index: CatalogIndex, query: str, limit: int) -> list[str]:
    from drug_catalog.text import tokens

    words = list(dict.fromkeys(tokens(query)))
    scored = [(-index.score(code, words), position, code)
              for position, code in enumerate(index.ranked())]
    return [code for score, _, code in sorted(item for item in scored if item[0] < 0)[:limit]]


def demo_words() -> list[str]:
    from drug_catalog.demo import demo_drugs
    from drug_catalog.text import tokens

    return sorted({token for drug in demo_drugs()
                   for text in (drug.name, drug.registration_number,
                                *(item.name for item in drug.active_ingredients))
                   for token in tokens(text)})


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(demo_words()), st.integers(1, 8), st.integers(1, 30),
       st.sampled_from(["", " vien", " 5", " a"]))
def test_the_fast_ranking_equals_scoring_every_product(index: CatalogIndex, word: str,
                                                       cut: int, limit: int,
                                                       extra: str) -> None:
    query = word[:cut] + extra
    assert [d.national_code for d in index.search(query, limit)] == \
        brute_force(index, query, limit)
