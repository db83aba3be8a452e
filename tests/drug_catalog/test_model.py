"""The drug record: validation naming the field, the API resource, activity, composition."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from drug_catalog.errors import InvalidDrug
from drug_catalog.model import CONTROL_CLASSES, KINDS, STATUSES, Drug, ingredient_key
from tests.support.drugs import drug_record, make_drug


def test_to_dict_is_the_api_resource_and_from_dict_its_inverse(demo: list[Drug]) -> None:
    for drug in demo:
        resource = drug.to_dict()
        assert list(resource) == ["national_code", "registration_number", "gtins", "name",
                                  "active_ingredients", "dosage_form", "route", "unit",
                                  "packaging", "kind", "prescription_only", "control_class",
                                  "status", "registration_valid_until"]
        assert Drug.from_dict(resource) == drug
        assert Drug.from_stored(resource) == drug


def test_values_are_normalised() -> None:
    drug = make_drug(national_code=" mt 000001 ", registration_number="ql\u00d0b-613-17",
                     gtins=["8930000000019", "96385074"], name="  Paracetamol   500mg ")
    assert drug.national_code == "MT000001"
    assert drug.registration_number == "QL\u0110B-613-17"
    assert drug.gtins == ("08930000000019", "00000096385074")
    assert drug.name == "Paracetamol 500mg"
    assert drug.registration_valid_until == date(2027, 12, 31)


def test_optional_fields_may_be_omitted() -> None:
    record = drug_record()
    for key in ("gtins", "dosage_form", "route", "unit", "packaging", "registration_valid_until"):
        del record[key]
    drug = Drug.from_dict(record)
    assert drug.gtins == () and drug.unit == "" and drug.registration_valid_until is None


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"national_code": None}, "national_code", "required"),
    ({"national_code": "   "}, "national_code", "blank"),
    ({"national_code": "X" * 65}, "national_code", "longer than 64"),
    ({"registration_number": "ABC"}, "registration_number", "not a registration number"),
    ({"registration_number": 123}, "registration_number", "string"),
    ({"gtins": "08930000000019"}, "gtins", "list"),
    ({"gtins": ["08930000000018"]}, "gtins[0]", "expected 9"),
    ({"gtins": ["08930000000019", "8930000000019"]}, "gtins[1]", "repeats gtins[0]"),
    ({"gtins": [8930000000019]}, "gtins[0]", "string"),
    ({"name": ""}, "name", "blank"),
    ({"active_ingredients": []}, "active_ingredients", "non-empty"),
    ({"active_ingredients": ["Paracetamol"]}, "active_ingredients[0]", "object"),
    ({"active_ingredients": [{"name": " "}]}, "active_ingredients[0].name", "blank"),
    ({"active_ingredients": [{"name": "A", "dose": "1"}]}, "active_ingredients[0].dose",
     "unknown"),
    ({"kind": "herbal"}, "kind", "chemical, traditional, biological, raw_material"),
    ({"control_class": "opioid"}, "control_class", "narcotic"),
    ({"status": "expired"}, "status", "recalled"),
    ({"prescription_only": "yes"}, "prescription_only", "true or false"),
    ({"registration_valid_until": "31/12/2027"}, "registration_valid_until", "YYYY-MM-DD"),
    ({"registration_valid_until": "2027-02-30"}, "registration_valid_until", "YYYY-MM-DD"),
    ({"unit": 5}, "unit", "string"),
    ({"colour": "red"}, "colour", "unknown field"),
])
def test_invalid_fields_are_refused_by_name(changes: dict[str, Any], field: str,
                                            words: str) -> None:
    with pytest.raises(InvalidDrug) as caught:
        Drug.from_dict(drug_record(**changes))
    assert caught.value.field == field
    assert words in caught.value.reason


def test_a_record_must_be_an_object_and_annotations_are_ignored() -> None:
    with pytest.raises(InvalidDrug, match="JSON object"):
        Drug.from_dict(["not", "a", "record"])  # type: ignore[arg-type]
    assert Drug.from_dict({**drug_record(), "_sample": "yes"}) == make_drug()


def test_is_active_needs_status_active_and_a_valid_registration() -> None:
    on = date(2026, 11, 23)
    assert make_drug().is_active(on)
    assert make_drug(registration_valid_until=None).is_active(on)
    assert make_drug(registration_valid_until="2026-11-23").is_active(on)
    expired = make_drug(registration_valid_until="2026-11-22")
    assert not expired.is_active(on)
    assert expired.inactive_reason(on) == "registration expired on 2026-11-22"
    for status in ("suspended", "withdrawn", "recalled"):
        drug = make_drug(status=status)
        assert not drug.is_active(on) and drug.inactive_reason(on) == status


def test_raw_materials_are_not_prescribable_and_controls_are_flagged() -> None:
    assert not make_drug(kind="raw_material").is_prescribable
    assert make_drug().is_prescribable
    assert make_drug(control_class="narcotic").is_controlled
    assert not make_drug().is_controlled


def test_same_composition_compares_ingredients_strengths_and_form_canonically() -> None:
    a = make_drug(active_ingredients=[{"name": "Amoxicilin", "strength": "500mg"},
                                      {"name": "Acid clavulanic", "strength": "125mg"}])
    b = make_drug(national_code="B", active_ingredients=[
        {"name": "acid CLAVULANIC", "strength": "125 mg"},
        {"name": "Amoxicilin", "strength": "500MG"}], dosage_form="viên nén")
    assert a.same_composition(b)
    assert not a.same_composition(make_drug(national_code="C", active_ingredients=[
        {"name": "Amoxicilin", "strength": "250mg"}, {"name": "Acid clavulanic",
                                                    "strength": "125mg"}]))
    assert not a.same_composition(make_drug(national_code="D", dosage_form="Viên nang cứng",
                                            active_ingredients=a.to_dict()["active_ingredients"]))
    assert not make_drug(active_ingredients=[{"name": "Carvedilol", "strength": "6,25mg"}]) \
        .same_composition(make_drug(active_ingredients=[{"name": "Carvedilol",
                                                         "strength": "62,5mg"}]))
    assert make_drug(active_ingredients=[{"name": "Carvedilol", "strength": "6,25mg"}]) \
        .same_composition(make_drug(active_ingredients=[{"name": "Carvedilol",
                                                         "strength": "6.25 mg"}]))


@pytest.mark.parametrize("name, key", [
    ("Morphin hydroclorid", "morphin"), ("Morphin sulfat", "morphin"),
    ("MORPHIN  Sulfat", "morphin"), ("Fentanyl (dưới dạng Fentanyl citrat)", "fentanyl"),
    ("Codein phosphat hemihydrat", "codein"), ("Diclofenac natri", "diclofenac"),
    ("Acid clavulanic (dưới dạng Kali clavulanat)", "acid clavulanic"),
    # a salt word alone, or a salt that is the substance itself, stays
    ("Kali clorid", "kali clorid"), ("Natri", "natri"), ("Sulfat", "sulfat"),
    ("Natri bicarbonat", "natri bicarbonat"), ("(Paracetamol)", "paracetamol"), ("–", ""),
])
def test_ingredient_key_names_the_substance_whatever_its_salt_and_spelling(name: str,
                                                                          key: str) -> None:
    assert ingredient_key(name) == key


def test_ingredient_keys_of_a_product() -> None:
    drug = make_drug(active_ingredients=[{"name": "Paracetamol", "strength": "325mg"},
                                         {"name": "Ibuprofen", "strength": "200mg"}])
    assert drug.ingredient_keys() == {"paracetamol", "ibuprofen"}


def test_unknown_strength_or_form_never_shows_equivalence() -> None:
    no_strength = make_drug(active_ingredients=[{"name": "Atorvastatin", "strength": ""}])
    assert not no_strength.same_composition(no_strength)
    assert not make_drug(dosage_form="").same_composition(make_drug(dosage_form=""))


def test_the_demo_catalog_covers_every_kind_class_and_status(demo: list[Drug]) -> None:
    assert len(demo) >= 200
    assert {drug.kind for drug in demo} == set(KINDS)
    assert {drug.control_class for drug in demo} == set(CONTROL_CLASSES)
    assert {drug.status for drug in demo} == set(STATUSES)
    today = date(2026, 11, 23)
    assert any(drug.status == "active" and not drug.is_active(today) for drug in demo)
    assert all(drug.gtins for drug in demo)
    gtins = [gtin for drug in demo for gtin in drug.gtins]
    assert len(gtins) == len(set(gtins))
    assert len({drug.national_code for drug in demo}) == len(demo)
    groups: dict[frozenset, list[Drug]] = {}
    for drug in demo:
        if drug.dosage_form and all(item.strength for item in drug.active_ingredients):
            groups.setdefault(drug.composition() | {("form", drug.dosage_form)}, []).append(drug)
    substitutable = [group for group in groups.values() if len(group) >= 3]
    assert len(substitutable) >= 5
    assert all(a.same_composition(b) for group in substitutable for a in group for b in group)
