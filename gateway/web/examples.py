"""The request-body examples of the OpenAPI document, by component schema name, made when the
document is served (schemas/examples.py holds the bodies; the tests post every one)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from typing import Any

from schemas import examples

Examples = Mapping[str, Callable[[], Mapping[str, Any]]]


def _one(summary: str, value: Any) -> dict[str, Any]:
    return {"summary": summary, "value": value}


def by_schema(zone: tzinfo) -> Examples:
    """``{component name: () -> {example name: {"summary", "value"}}}`` with times in ``zone``."""

    def now() -> datetime:
        return datetime.now(zone)

    return {
        "Prescription": lambda: {
            "basic": _one("basic (c): two drug lines, ten days",
                          examples.basic_prescription(now())),
            "narcotic": _one("narcotic (n): morphine for seven days, cancer diagnosis",
                             examples.narcotic_prescription(now())),
            "child": _one("a child under 72 months: guardian and weight required",
                          examples.child_prescription(now()))},
        "DispenseRequest": lambda: {
            "substitution_with_pack": _one(
                "line 0 sold as a same-composition substitute with its scanned pack, line 1 "
                "in part (against the basic prescription example)",
                examples.dispense_with_substitution(now()))},
        "Cancel": lambda: {"cancel": _one("cancel what remains", examples.cancel())},
        "NationalDispenseReport": lambda: {
            "report": _one("10 of the first drug sold (against the basic prescription example; "
                           "put its code in ma_don_thuoc)", examples.national_dispense_report())},
        "TokenRequest": lambda: {"client_credentials": _one(
            "a party's client id and the secret it was given",
            {"grant_type": "client_credentials", "client_id": "clinic-79001",
             "client_secret": "<the secret shown when the party was created>"})},
        "NationalFacilityLogin": lambda: {"facility": _one(
            "a clinic logs in with its facility code",
            {"ma_lien_thong_co_so_kham_chua_benh": "79001",
             "password": "<the clinic's secret>"})},
        "NationalDoctorLogin": lambda: {"doctor": _one(
            "a doctor of facility 79001 logs in",
            {"ma_lien_thong_co_so_kham_chua_benh": "79001", "ma_lien_thong_bac_si": "BS001",
             "password": "<the doctor's secret>"})},
        "PartyCreate": lambda: {"pharmacy": _one(
            "a pharmacy with the contact details its national reports carry",
            {"role": "pharmacy", "code": "NT0001", "name": "Nhà thuốc Số 1",
             "address": "5 Hai Bà Trưng, Quận 1, TP. Hồ Chí Minh", "phone": "02838221234"})},
        "PartyUpdate": lambda: {"phone": _one("a new phone number", {"phone": "0912345678"})},
        "Webhook": lambda: {"webhook": _one(
            "issued and cancelled prescriptions pushed to the pharmacy",
            {"url": "https://pharmacy.example/erx",
             "events": ["prescription.issued", "prescription.cancelled"]})},
        "VerifyRequest": lambda: {"verify": _one(
            "a prescription resource's `prescription` and `signature.jws`",
            {"prescription": {"ma_don_thuoc": "79001AB12345-c"},
             "jws": "eyJhbGciOiJFZERTQSJ9..c2lnbmF0dXJl"})},
    }
