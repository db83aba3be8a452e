"""The differential validator (profiles.py) reads the IG's files and catches what breaks them:
each mutation of a conforming resource below is a constraint the IG states, not one restated
here."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest

from gateway.fhir import resources as fr
from gateway.fhir import systems as fs
from tests.support.fhir_mapping import SYSTEMS, as_served
from tests.support.fhir_profiles import DATA, NS, conformance_problems, profiles
from tests.support.schema_strategies import catalog
from tests.support.schemas import validate

DOCUMENT = {
    "ma_don_thuoc": "79001ABCDEFG-c", "loai_don_thuoc": "c", "ho_ten_benh_nhan": "Trần Thị Bích",
    "ma_dinh_danh_cong_dan": "079185001234", "ma_so_the_bao_hiem_y_te": "DN4790123456789",
    "ngay_sinh_benh_nhan": "15/03/1985", "gioi_tinh": 3, "dia_chi": "12 Lê Lợi",
    "chan_doan": [{"ma_chan_doan": "J06.9"}],
    "dot_dung_thuoc": [{"dot": 1, "tu_ngay": "23/11/2026", "den_ngay": "27/11/2026"}],
    "thong_tin_don_thuoc": [{"ma_thuoc": "MT100039", "don_vi_tinh": "Viên", "so_luong": 10,
                             "cach_dung": "Uống"}],
    "ngay_gio_ke_don": "2026-11-23 09:00:00"}


def served() -> dict[str, dict[str, Any]]:
    canonical = validate(DOCUMENT).document
    assert canonical is not None
    rx = as_served(canonical)
    return {"MedicationRequest": fr.medication_requests(rx, SYSTEMS)[0],
            "Patient": fr.patient(rx, SYSTEMS), "Practitioner": fr.practitioner(rx, SYSTEMS),
            "Organization": fr.organization("79001", "PK Lê Lợi", pharmacy=False,
                                            systems=SYSTEMS),
            "Medication": fr.medication(catalog().get("MT100039"), SYSTEMS)}


def test_the_profiles_are_read_from_the_ig_files() -> None:
    assert fs.MEDICATION_REQUEST in profiles() and fs.PATIENT in profiles()
    requester = next(e for e in profiles()[fs.MEDICATION_REQUEST].elements
                     if e.id == "MedicationRequest.requester")
    assert requester.min == 1


def test_what_the_gateway_serves_conforms() -> None:
    for resource in served().values():
        assert conformance_problems(resource) == []


def _identifier(system: str) -> Callable[[dict[str, Any]], Any]:
    def pick(resource: dict[str, Any]) -> Any:
        return next(i for i in resource["identifier"] if i["system"] == system)
    return pick


MUTATIONS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("MedicationRequest", lambda r: r.pop("requester"), "MedicationRequest.requester"),
    ("MedicationRequest", lambda r: r.pop("performer"), "MedicationRequest.performer"),
    ("Patient", lambda r: r["name"][0].pop("text"), "Patient.name.text"),
    ("Patient", lambda r: _identifier(fs.CCCD)(r).update(use="usual"),
     "Patient.identifier:TheCCCD.use"),
    ("Patient", lambda r: _identifier(fs.BHYT)(r)["type"]["coding"][0].update(code="NI"),
     "Patient.identifier:TheBHYT.type"),
    ("Patient", lambda r: r["identifier"].append(dict(_identifier(fs.CCCD)(r))),
     "Patient.identifier:TheCCCD"),
    ("Patient", lambda r: r["address"][0].pop("text"), "Address.text"),
    ("Practitioner", lambda r: r["name"].append({"use": "official", "text": "x"}),
     "Practitioner.name"),
    ("Practitioner", lambda r: r["name"][0].update(use="usual"), "Practitioner.name.use"),
    ("Organization", lambda r: r["type"][0].pop("text"), "Organization.type"),
    ("Organization", lambda r: r.pop("name"), "Organization.name"),
    ("Organization", lambda r: r["identifier"][0]["type"]["coding"][0].update(code="XX"),
     "Organization.identifier:MaCSKCB.type"),
]


@pytest.mark.parametrize(("kind", "mutate", "element"), MUTATIONS,
                         ids=[element for _k, _m, element in MUTATIONS])
def test_each_broken_constraint_is_found(kind: str, mutate: Callable[[dict[str, Any]], None],
                                         element: str) -> None:
    resource = copy.deepcopy(served()[kind])
    mutate(resource)
    problems = conformance_problems(resource)
    assert any(element in problem for problem in problems), problems


def test_a_resource_without_the_profile_is_reported() -> None:
    resource = served()["Patient"]
    resource["meta"] = {}
    assert conformance_problems(resource)


def _naming_system(name: str) -> str:
    root = ET.parse(DATA / f"NamingSystem.{name}.xml").getroot()
    return root.find("f:uniqueId/f:value", NS).get("value")


def test_the_identifier_systems_are_the_igs() -> None:
    assert _naming_system("sid-national-id") == fs.CCCD
    assert _naming_system("sid-insurance_number") == fs.BHYT
    # The IG's NamingSystem for the facility code names another URI than its profile's
    # MaCSKCB slice fixes (tests/data/fhir/README.md): the gateway follows the profile.
    slice_system = next(e for e in profiles()[fs.PROVIDER].elements
                        if e.id == "Organization.identifier:MaCSKCB.system")
    assert fs.PROVIDER_CODE == slice_system.fixed != _naming_system("sid-provider-code")
