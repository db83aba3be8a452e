"""Round trips through a running gateway, as hypothesis properties over valid national
documents (tests/schemas/strategies.py):

- a document submitted through FHIR (a transaction Bundle) reads back on the native face as
  its canonical document;
- a document submitted on the native face reads back through FHIR as resources that map back
  (through a transaction Bundle) to the same canonical document.

The strategies date their documents around a fixed day; each is moved to today (the gateway
accepts only recent prescriptions), and each patient gets a CCCD of its own, so that one
example's prescription is never another's cross-facility overlap.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gateway.fhir.examples import transaction
from gateway.fhir.intake import read_transaction
from schemas.validation import validate_prescription
from tests.support.fhir_http import FHIR, SYSTEMS
from tests.support.fhir_mapping import bundle_of, parses
from tests.support.fhir_profiles import conformance_problems
from tests.support.prescriptions import national_token, prescription
from tests.support.schema_strategies import POLICY, TODAY, Case, catalog, prescriptions

HTTP = settings(max_examples=12, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
_PATIENTS = itertools.count(1)
_DMY, _TIME = "%d/%m/%Y", "%Y-%m-%d %H:%M:%S"


def today_version(case: Case) -> dict[str, Any]:
    """The case's document moved to today, without a code, with a CCCD of its own."""
    shift = timedelta(days=(datetime.now(UTC) + timedelta(hours=7)).date().toordinal()
                      - TODAY.toordinal())
    doc = {key: value for key, value in case.doc.items()
           if key != "ma_don_thuoc"}
    # The case's time of day on today's date, unless that is still to come (a case written
    # for 16:00 run at 00:20 in Vietnam would be issued in the future and refused): then a
    # moment ago.
    local_now = (datetime.now(UTC) + timedelta(hours=7)).replace(tzinfo=None)
    issued = datetime.strptime(doc["ngay_gio_ke_don"], _TIME) + shift - timedelta(minutes=2)
    doc["ngay_gio_ke_don"] = min(issued, local_now - timedelta(minutes=2)).strftime(_TIME)
    doc["dot_dung_thuoc"] = [
        {**period, "tu_ngay": (datetime.strptime(period["tu_ngay"], _DMY) + shift).strftime(_DMY),
         "den_ngay": (datetime.strptime(period["den_ngay"], _DMY) + shift).strftime(_DMY)}
        for period in doc["dot_dung_thuoc"]]
    if "ma_dinh_danh_cong_dan" in doc:
        doc["ma_dinh_danh_cong_dan"] = doc["ma_dinh_danh_cong_dan"][:6] + f"{next(_PATIENTS):06d}"
    return doc


def canonical_now(doc: dict[str, Any]) -> dict[str, Any] | None:
    found = validate_prescription(doc, catalog=catalog(), policy=POLICY, facility_code="79001",
                                  now=datetime.now(UTC)).document
    if found is not None:
        found.pop("ma_don_thuoc")
    return found


@HTTP
@given(st.data())
def test_fhir_in_native_out_and_native_in_fhir_out(client: FlaskClient, world: dict,
                                                   data: st.DataObject) -> None:
    doctor = world["h"]["doctor_a"]
    doc = today_version(data.draw(prescriptions()))
    expected = canonical_now(doc)
    assume(expected is not None)  # a drug of the draw may have lapsed since the fixed day

    answer = client.post("/fhir/R4", json=transaction(doc, SYSTEMS),
                         headers={**doctor, "Content-Type": FHIR})
    assert answer.status_code == 200, answer.get_json()
    code = answer.get_json()["entry"][-1]["response"]["location"].split("/")[1].rsplit(".", 1)[0]
    native = client.get(f"/v2/prescriptions/{code}", headers=doctor).get_json()["prescription"]
    assert {k: v for k, v in native.items() if k != "ma_don_thuoc"} == expected

    again = today_version(data.draw(prescriptions()))
    submitted = client.post("/v2/prescriptions", json=again, headers=doctor)
    assume(submitted.status_code == 201)
    stored = submitted.get_json()["prescription"]
    found = client.get(f"/fhir/R4/MedicationRequest?group-identifier={stored['ma_don_thuoc']}"
                       "&_include=MedicationRequest:subject&_include=MedicationRequest:requester",
                       headers=doctor).get_json()
    resources = [entry["resource"] for entry in found["entry"]]
    for resource in resources:  # what a running gateway serves conforms, as the mapping's
        parses(resource)
        assert conformance_problems(resource) == [], resource
    intake = read_transaction(bundle_of(resources), SYSTEMS)
    assert intake.problems == []
    mapped = validate_prescription(intake.document, catalog=catalog(), policy=POLICY,
                                   facility_code="79001", now=datetime.now(UTC)).document
    assert mapped == stored


def test_a_national_submission_reads_back_through_fhir(client: FlaskClient, world: dict) -> None:
    body = prescription(ma_don_thuoc="79001NATFHIR-c", ma_so_bao_hiem_y_te="DN4790123456789",
                        ngay_tai_kham=7, luu_y="Không uống rượu")
    answer = client.post("/api/v1/gui-don-thuoc", json=body, headers=national_token(client, world))
    assert answer.status_code == 200 and answer.get_json()["success"] is True
    stored = client.get("/v2/prescriptions/79001NATFHIR-c",
                        headers=world["h"]["doctor_a"]).get_json()["prescription"]
    found = client.get("/fhir/R4/MedicationRequest?group-identifier=79001NATFHIR-c"
                       "&_include=MedicationRequest:subject&_include=MedicationRequest:requester",
                       headers=world["h"]["regulator"]).get_json()
    intake = read_transaction(bundle_of([e["resource"] for e in found["entry"]]), SYSTEMS)
    assert intake.problems == []
    mapped = validate_prescription(intake.document, catalog=catalog(), policy=POLICY,
                                   facility_code="79001", now=datetime.now(UTC)).document
    assert mapped == stored
