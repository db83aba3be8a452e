"""What the FHIR mapping tests share: the systems of a test gateway, a prescription as served, a
Bundle of resources, parsing with fhir.resources, JSON values for hypothesis."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from hypothesis import strategies as st

from gateway.fhir import resources as fr
from gateway.fhir.model import Line, Rx
from gateway.fhir.systems import Systems
from tests.support.fhir_profiles import empties
from tests.support.schema_strategies import catalog

SYSTEMS = Systems("https://erx.example/fhir")


def as_served(canonical: dict[str, Any], status: str = "issued") -> Rx:
    """A canonical document as the adapter would hand it to the mapping."""
    lines = tuple(
        Line(index=index, national_code=line["national_code"],
             sent_system=fr.sent_system(line["ma_thuoc"], catalog().get(line["national_code"]),
                                        SYSTEMS),
             prescribed=line["so_luong"], dispensed=0, unit=line["don_vi_tinh"])
        for index, line in enumerate(canonical["thong_tin_don_thuoc"]))
    return Rx(code=canonical["ma_don_thuoc"], document=canonical, status=status,
              facility="79001", issued_at="2026-11-23T14:30:00+07:00",
              dispensable_until="2026-12-23T23:59:59+07:00", lines=lines,
              prescriber_name="BS Lan", prescriber_code="BS001", facility_name="PK 79001")


def bundle_of(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """Served resources sent again as a new prescription: the same content, the status of a
    new one (a served MedicationRequest may be completed, cancelled or stopped by now; the
    status is the gateway's, not the document's)."""
    sent = [{**r, "status": "active"} if r["resourceType"] == "MedicationRequest" else r
            for r in resources]
    return {"resourceType": "Bundle", "type": "transaction",
            "entry": [{"fullUrl": f"https://erx.example/fhir/R4/{r['resourceType']}/{r['id']}",
                       "resource": r, "request": {"method": "POST", "url": r["resourceType"]}}
                      for r in sent]}


def parses(resource: dict[str, Any]) -> None:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    assert empties(resource) == [], resource


#: element names the readers look at, so that generated values reach deep into them
NAMES = ("resourceType", "type", "entry", "resource", "request", "method", "fullUrl", "id",
         "name", "text", "family", "given", "identifier", "system", "value", "birthDate",
         "gender", "address", "contact", "telecom", "subject", "requester", "reference",
         "category", "coding", "code", "groupIdentifier", "authoredOn", "reasonCode",
         "extension", "url", "valueQuantity", "valueString", "valueInteger", "valuePeriod",
         "start", "end", "note", "performer", "medicationReference", "display",
         "medicationCodeableConcept", "dispenseRequest", "quantity", "unit",
         "dosageInstruction", "status", "intent", "authorizingPrescription", "substitution",
         "wasSubstituted", "actor", "valueDate", "userSelected", "signature", "data")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.sampled_from(["MedicationRequest", "Patient", "Practitioner", "MedicationDispense",
                       "Bundle", "transaction", "POST", "MedicationRequest/79001A.1", "x.0",
                       SYSTEMS.rx_type, SYSTEMS.pack, SYSTEMS.period, "phone", "male", "gtin"])
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(NAMES), inner,
                                                                max_size=6),
    max_leaves=40)
