"""The FHIR R4 face over HTTP: what it serves conforms (IG differentials, fhir.resources),
access and audit are the native face's, searches page and include, a transaction Bundle is a
prescription through the native submit path, a MedicationDispense a dispense through the native
dispense path, and every error is an OperationOutcome."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.fhir.examples import transaction
from gateway.fhir.service import FhirService
from gateway.fhir.systems import CCCD, IG
from gateway.web.context import services
from tests.support.audit import audit_log
from tests.support.fhir_http import FHIR, SYSTEMS
from tests.support.fhir_mapping import json_values
from tests.support.fhir_profiles import conformance_problems, empties
from tests.support.prescriptions import (
    PARACETAMOL,
    PARACETAMOL_TWIN,
    dispense,
    gtin_of,
    issued,
    pack,
    prescription,
    submit,
)


def get(client: FlaskClient, path: str, headers: dict[str, str], **extra: str) -> Any:
    return client.get(f"/fhir/R4/{path}", headers={**headers, **extra})


def post(client: FlaskClient, path: str, body: Any, headers: dict[str, str], **extra: str) -> Any:
    return client.post(f"/fhir/R4/{path}".rstrip("/"), json=body,
                       headers={**headers, "Content-Type": FHIR, **extra})


def served_ok(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` parses with the R4B models, has no empty element and, when it names an IG
    profile, conforms."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    assert empties(resource) == [], resource
    if resource["resourceType"] not in ("Bundle", "OperationOutcome", "CapabilityStatement",
                                        "SearchParameter"):
        assert conformance_problems(resource) == [], resource
    return resource


def outcome_codes(response: Any) -> set[tuple[str | None, str]]:
    body = response.get_json()
    assert response.mimetype == FHIR and body["resourceType"] == "OperationOutcome", body
    served_ok(body)
    return {((issue.get("expression") or [None])[0], issue["details"]["coding"][0]["code"])
            for issue in body["issue"]}


# --- read -------------------------------------------------------------------------------
def test_metadata_states_the_face(client: FlaskClient) -> None:
    answer = client.get("/fhir/R4/metadata")
    assert answer.status_code == 200 and answer.mimetype == FHIR
    statement = served_ok(answer.get_json())
    assert statement["fhirVersion"] == "4.0.1" and statement["implementationGuide"] == [IG]
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert {"MedicationRequest", "MedicationDispense", "Patient", "Practitioner",
            "Organization", "Medication"} <= set(resources)
    assert {i["code"] for i in resources["MedicationRequest"]["interaction"]} == {
        "read", "search-type", "patch"}
    assert {i["code"] for i in resources["MedicationDispense"]["interaction"]} == {
        "read", "search-type", "create"}
    params = {p["name"]: p for p in resources["MedicationRequest"]["searchParam"]}
    assert {"group-identifier", "identifier", "patient", "status", "authoredon"} <= set(params)
    own = params["group-identifier"]["definition"].rsplit("/", 1)[1]
    definition = client.get(f"/fhir/R4/SearchParameter/{own}").get_json()
    assert served_ok(definition)["code"] == "group-identifier"


def test_every_resource_of_a_dispensed_prescription_conforms(client: FlaskClient,
                                                             world: dict) -> None:
    code = issued(client, world, ma_co_so_cung_ung_thuoc_chi_dinh="NT0001",
                  so_dien_thoai_nguoi_kham_benh="0901234567", thong_tin_nguoi_giam_ho="Mẹ: An")
    twin_gtin = gtin_of(world, PARACETAMOL_TWIN)
    sold = dispense(client, world["h"]["pharmacy_1"], code, [
        {"line": 0, "ma_thuoc": PARACETAMOL_TWIN, "so_luong_ban": 10,
         "packs": [pack(twin_gtin, "SN-F1")]}])
    assert sold.status_code == 201, sold.get_json()
    h = world["h"]["doctor_a"]
    found = get(client, f"MedicationRequest?group-identifier={code}&_include="
                        "MedicationRequest:medication&_include=MedicationRequest:subject"
                        "&_include=MedicationRequest:requester", h)
    bundle = served_ok(found.get_json())
    assert bundle["type"] == "searchset" and bundle["total"] == 2
    kinds = [(e["resource"]["resourceType"], e["search"]["mode"]) for e in bundle["entry"]]
    assert kinds.count(("MedicationRequest", "match")) == 2
    both = get(client, f"MedicationRequest?group-identifier={code}"
                       f"&patient.identifier={CCCD}|079090001234", h).get_json()
    assert both["total"] == 2
    other_person = get(client, f"MedicationRequest?group-identifier={code}"
                               f"&patient.identifier={CCCD}|079090009999", h).get_json()
    assert other_person["total"] == 0
    by_patient = get(client, f"MedicationRequest?patient=Patient/{code}", h).get_json()
    assert [e["resource"]["id"] for e in by_patient["entry"]] == [f"{code}.1", f"{code}.2"]
    assert {("Patient", "include"), ("Practitioner", "include"),
            ("Medication", "include")} <= set(kinds)
    for entry in bundle["entry"]:
        served_ok(entry["resource"])
    request = bundle["entry"][0]["resource"]
    assert request["id"] == f"{code}.1" and request["status"] == "active"
    assert request["groupIdentifier"] == {"system": SYSTEMS.prescription, "value": code}
    assert request["performer"]["identifier"]["value"] == "NT0001"
    dispensed = served_ok(get(client, f"MedicationDispense?prescription=MedicationRequest/"
                                      f"{code}.1", h).get_json())
    assert dispensed["total"] == 1
    resource = served_ok(dispensed["entry"][0]["resource"])
    assert resource["substitution"]["wasSubstituted"] is True
    assert resource["quantity"] == {"value": 10, "unit": "Viên"}
    packs = {part["url"]: part for part in resource["extension"][0]["extension"]}
    assert packs["serial"]["valueString"] == "SN-F1" and packs["lot"]["valueString"] == "L-77"
    assert {"system": SYSTEMS.invoice, "value": "HD0001"} in resource["identifier"]
    with_all = served_ok(get(client, f"MedicationDispense?prescription={code}.1"
                                     "&_include=MedicationDispense:medication"
                                     "&_include=MedicationDispense:subject"
                                     "&_include=MedicationDispense:performer"
                                     "&_include=MedicationDispense:prescription", h).get_json())
    assert with_all["total"] == 1
    assert sorted(f"{e['resource']['resourceType']}/{e['resource']['id']}"
                  for e in with_all["entry"] if e["search"]["mode"] == "include") == sorted([
        f"Medication/{resource['medicationReference']['reference'].split('/')[1]}",
        f"Patient/{code}", "Organization/pharmacy-NT0001", f"MedicationRequest/{code}.1"])
    for entry in with_all["entry"]:
        served_ok(entry["resource"])
    again = served_ok(get(client, f"MedicationDispense/{resource['id']}", h).get_json())
    assert again == resource
    for path in (f"Patient/{code}", f"Practitioner/{code}", "Organization/facility-79001",
                 "Organization/pharmacy-NT0001", f"Medication/{PARACETAMOL}"):
        answer = get(client, path, h)
        assert answer.status_code == 200, (path, answer.get_json())
        served_ok(answer.get_json())
    services(client.application).parties.set_status(world["parties"]["pharmacy_2"].client_id,
                                                     "disabled")
    assert get(client, "Organization/pharmacy-NT0002", h).get_json()["active"] is False
    assert get(client, "Organization/pharmacy-NT0001", h).get_json()["active"] is True
    answer = get(client, f"Patient/{code}", h)
    assert answer.headers["Cache-Control"] == "no-store"
    patient = answer.get_json()
    assert "079090001234" not in patient["id"]
    assert patient["managingOrganization"]["reference"] == "Organization/facility-79001"
    assert {"use": "official", "type": patient["identifier"][0]["type"], "system": CCCD,
            "value": "079090001234"} == patient["identifier"][0]


def test_access_is_the_native_faces(client: FlaskClient, world: dict, database) -> None:
    code = issued(client, world)
    for who, status in (("clinic_b", 403), ("admin", 403), ("regulator", 200),
                        ("pharmacy_1", 200)):
        native = client.get(f"/v2/prescriptions/{code}", headers=world["h"][who])
        fhir = get(client, f"MedicationRequest/{code}.1", world["h"][who])
        assert native.status_code == fhir.status_code == status, who
        if status == 403:
            assert outcome_codes(fhir)
            searched = get(client, f"MedicationRequest?group-identifier={code}",
                           world["h"][who])
            assert searched.status_code == 403 and outcome_codes(searched)
    # the pharmacy's look-up is recorded as the native one: it is told of a cancellation
    stored = database["prescriptions"].find_one({"_id": code})
    assert stored["viewed_by_pharmacies"] == ["NT0001"]
    missing = get(client, "MedicationRequest/79001XXXXXXX-c.1", world["h"]["doctor_a"])
    assert missing.status_code == 404 and outcome_codes(missing)
    # a pharmacy may not list: as GET /v2/prescriptions
    listed = get(client, "MedicationRequest?status=active", world["h"]["pharmacy_1"])
    assert listed.status_code == 403 and outcome_codes(listed)


def test_reads_are_audited_as_native_reads(client: FlaskClient, world: dict, database) -> None:
    code = issued(client, world)
    get(client, f"Patient/{code}", world["h"]["regulator"])
    events = list(audit_log(database).find({"action": "prescription.viewed"}))
    assert [event["actor"]["party_id"] for event in events
            if (event.get("object") or {}).get("id") == code] == ["regulator-BYT"]


def test_search_by_patient_pages_with_total_and_next(client: FlaskClient, world: dict) -> None:
    codes = [issued(client, world) for _ in range(3)]
    h = world["h"]["regulator"]
    first = served_ok(get(client, f"MedicationRequest?patient.identifier={CCCD}|079090001234"
                                  "&_count=4", h).get_json())
    assert first["total"] == 6 and len(first["entry"]) == 4
    following = next(link["url"] for link in first["link"] if link["relation"] == "next")
    second = served_ok(client.get(following.removeprefix("http://localhost"), headers=h).get_json())
    assert len(second["entry"]) == 2 and not any(link["relation"] == "next"
                                                 for link in second["link"])
    seen = {e["resource"]["groupIdentifier"]["value"] for e in first["entry"] + second["entry"]}
    assert seen == set(codes)
    counted = get(client, f"MedicationRequest?patient.identifier={CCCD}|079090001234&_count=0",
                  h).get_json()
    assert counted["total"] == 6 and "entry" not in counted
    assert [link["relation"] for link in counted["link"]] == ["self"]
    # the facility sees its own; status and authoredon filter
    own = get(client, "MedicationRequest?patient.identifier=079090001234&status=completed",
              world["h"]["clinic_a"]).get_json()
    assert own["total"] == 0 and "entry" not in own  # FHIR JSON has no empty arrays
    today = get(client, "MedicationRequest?status=active&authoredon=ge2020-01-01"
                        "&authoredon=lt2100-01-01", world["h"]["clinic_a"]).get_json()
    assert today["total"] == 6
    authored = first["entry"][0]["resource"]["authoredOn"]
    day = get(client, f"MedicationRequest?authoredon={authored[:10]}", h).get_json()
    assert day["total"] == 6
    before = get(client, f"MedicationRequest?authoredon=lt{authored[:10]}", h).get_json()
    assert before["total"] == 0
    exact = client.get("/fhir/R4/MedicationRequest", query_string={"authoredon": authored},
                       headers=h).get_json()
    assert exact["total"] >= 2 and all(e["resource"]["authoredOn"] == authored
                                       for e in exact["entry"])
    other = get(client, "MedicationRequest?status=active", world["h"]["clinic_b"]).get_json()
    assert other["total"] == 0
    bad = get(client, "MedicationRequest?status=bogus&_count=x", h)
    assert bad.status_code == 422 and {p for _e, p in outcome_codes(bad)} == {"request.invalid"}


# --- write ------------------------------------------------------------------------------
def test_a_transaction_bundle_is_a_prescription_through_the_native_path(
        client: FlaskClient, world: dict, database) -> None:
    body = prescription(ma_don_thuoc="79001FHIR001-c", so_dien_thoai_nguoi_kham_benh="0901234567")
    bundle = transaction(body, SYSTEMS)
    h = world["h"]["doctor_a"]
    answer = post(client, "", bundle, h, **{"Idempotency-Key": "fhir-1"})
    assert answer.status_code == 200, answer.get_json()
    reply = served_ok(answer.get_json())
    assert reply["type"] == "transaction-response"
    assert [e["response"]["location"] for e in reply["entry"]] == [
        "Patient/79001FHIR001-c", "Practitioner/79001FHIR001-c",
        "MedicationRequest/79001FHIR001-c.1", "MedicationRequest/79001FHIR001-c.2"]
    stored = database["prescriptions"].find_one({"_id": "79001FHIR001-c"})
    assert stored["signature"]["jws"] and [d["target"] for d in stored["deliveries"]] == ["registry"]
    submitted = audit_log(database).find_one({"action": "prescription.submitted",
                                              "object.id": "79001FHIR001-c"})
    assert submitted is not None
    native = client.get("/v2/prescriptions/79001FHIR001-c", headers=h).get_json()
    twin = submit(client, world["h"]["doctor_a"], {**body, "ma_don_thuoc": "79001FHIR002-c"})
    expected = {**twin.get_json()["prescription"], "ma_don_thuoc": "79001FHIR001-c"}
    assert native["prescription"] == expected
    assert {e["response"]["status"] for e in reply["entry"]} == {"201 Created"}
    # the same Bundle again is the same prescription; the key replays it
    same = post(client, "", bundle, h)
    assert same.status_code == 200
    assert {e["response"]["status"] for e in same.get_json()["entry"]} == {"200 OK"}
    assert "resource" not in same.get_json()["entry"][0]
    shown = post(client, "", bundle, h, Prefer="return=representation").get_json()
    assert [served_ok(e["resource"])["id"] for e in shown["entry"]] == [
        "79001FHIR001-c", "79001FHIR001-c", "79001FHIR001-c.1", "79001FHIR001-c.2"]
    replayed = post(client, "", bundle, h, **{"Idempotency-Key": "fhir-1"})
    assert replayed.headers.get("Idempotent-Replayed") == "true"
    assert database["prescriptions"].count_documents({"_id": "79001FHIR001-c"}) == 1
    changed = transaction({**body, "loi_dan": "Khác"}, SYSTEMS)
    clash = post(client, "", changed, h)
    assert clash.status_code == 409
    assert ("Bundle.entry[2].resource.groupIdentifier.value", "rx.code_exists") in outcome_codes(clash)


def test_every_problem_of_a_bundle_comes_back_at_once_in_the_callers_language(
        client: FlaskClient, world: dict, database) -> None:
    body = prescription(ma_don_thuoc="79001FHIR003-c", drugs=[("NO-SUCH-DRUG", 5),
                                                             (PARACETAMOL, 0)])
    bundle = transaction(body, SYSTEMS)
    bundle["entry"][0]["resource"]["gender"] = "other"
    answer = post(client, "", bundle, world["h"]["doctor_a"], **{"Accept-Language": "en"})
    assert answer.status_code == 422
    found = outcome_codes(answer)
    assert ("Bundle.entry[0].resource.gender", "patient.sex") in found
    assert ("Bundle.entry[2].resource.medicationReference.identifier.value", "drug.unknown") in found
    assert ("Bundle.entry[3].resource.dispenseRequest.quantity.value", "drug.quantity") in found
    texts = [issue["details"]["text"] for issue in answer.get_json()["issue"]]
    assert any(text.startswith("gender must be") for text in texts)
    assert answer.headers["Content-Language"] == "en"
    assert database["prescriptions"].count_documents({}) == 0
    refused = audit_log(database).find_one({"action": "prescription.refused"})
    assert refused is not None and "patient.sex" in refused["details"]["codes"]
    vietnamese = post(client, "", bundle, world["h"]["doctor_a"])
    assert any(i["details"]["text"].startswith("gender phải")
               for i in vietnamese.get_json()["issue"])


def test_a_pharmacy_may_not_prescribe_and_bodies_are_checked(client: FlaskClient,
                                                             world: dict) -> None:
    bundle = transaction(prescription(), SYSTEMS)
    assert post(client, "", bundle, world["h"]["pharmacy_1"]).status_code == 403
    wrong_type = client.post("/fhir/R4", data="{}", headers={**world["h"]["doctor_a"],
                                                             "Content-Type": "text/plain"})
    assert wrong_type.status_code == 415 and outcome_codes(wrong_type)
    for media_type in ("application/fhir+json; fhirVersion=4.0", "application/json+fhir"):
        typed = client.post("/fhir/R4", data=json.dumps(bundle),
                            headers={**world["h"]["doctor_a"], "Content-Type": media_type})
        assert typed.status_code == 200, typed.get_json()
    assert client.get("/fhir/R4/Nothing/here", headers=world["h"]["doctor_a"]).status_code == 404
    base = client.get("/fhir/R4", headers=world["h"]["doctor_a"])
    assert base.status_code == 405 and base.headers["Allow"] == "POST" and outcome_codes(base)
    unknown = client.delete("/fhir/R4/Patient/x", headers=world["h"]["doctor_a"])
    assert unknown.status_code in (404, 405) and outcome_codes(unknown)


def test_a_medication_dispense_is_a_dispense_through_the_native_path(
        client: FlaskClient, world: dict, database) -> None:
    code = issued(client, world)
    h = world["h"]["pharmacy_1"]
    resource = {"resourceType": "MedicationDispense", "status": "completed",
                "subject": {"reference": f"Patient/{code}"},
                "authorizingPrescription": [{"reference": f"MedicationRequest/{code}.1"}],
                "quantity": {"value": 5, "unit": "Viên"},
                "identifier": [{"system": SYSTEMS.invoice, "value": "HD-F1"}],
                "extension": [{"url": SYSTEMS.pack, "extension": [
                    {"url": "gtin", "valueString": gtin_of(world, PARACETAMOL)},
                    {"url": "serial", "valueString": "SN-D1"}]}]}
    first = post(client, "MedicationDispense", resource, h, **{"Idempotency-Key": "d-1"})
    assert first.status_code == 201, first.get_json()
    made = served_ok(first.get_json())
    assert first.headers["Location"].endswith(f"/MedicationDispense/{made['id']}")
    again = post(client, "MedicationDispense", resource, h, **{"Idempotency-Key": "d-1"})
    assert again.status_code == 201 and again.get_json()["id"] == made["id"]
    stored = database["prescriptions"].find_one({"_id": code})
    assert len(stored["dispenses"]) == 1 and stored["lines"][0]["dispensed"] == 5
    reused = post(client, "MedicationDispense", resource, h, **{"Idempotency-Key": "d-2"})
    assert reused.status_code == 409
    assert ("MedicationDispense.extension[0]", "dispense.serial_reused") in outcome_codes(reused)
    over = dict(resource, quantity={"value": 500}, extension=[])
    too_much = post(client, "MedicationDispense", over, h)
    assert too_much.status_code == 409
    assert any(code_ == "dispense.over_quantity" for _e, code_ in outcome_codes(too_much))
    other = dict(resource, performer=[{"actor": {"identifier": {"system": SYSTEMS.pharmacy,
                                                                 "value": "NT0002"}}}])
    assert post(client, "MedicationDispense", other, h).status_code == 403
    several = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": dict(over, quantity={"value": 2}),
         "request": {"method": "POST", "url": "MedicationDispense"}},
        {"resource": dict(over, quantity={"value": 3}, authorizingPrescription=[
            {"reference": f"MedicationRequest/{code}.2"}]),
         "request": {"method": "POST", "url": "MedicationDispense"}}]}
    both = post(client, "", several, h)
    assert both.status_code == 200, both.get_json()
    assert len(served_ok(both.get_json())["entry"]) == 2
    lines = database["prescriptions"].find_one({"_id": code})["lines"]
    assert [line["dispensed"] for line in lines] == [7, 3]
    assert post(client, "MedicationDispense", resource, world["h"]["doctor_a"]).status_code == 403


def test_the_example_of_docs_fhir_md_is_accepted(client: FlaskClient, world: dict) -> None:
    text = (Path(__file__).resolve().parents[3] / "docs" / "fhir.md").read_text(encoding="utf-8")
    raw = re.search(r"-d '(\{\n \"resourceType\": \"Bundle\".*?)'\n#", text, re.S).group(1)
    now = datetime.now(timezone(timedelta(hours=7))) - timedelta(minutes=1)
    bundle = json.loads(raw.replace("'$NOW'", now.isoformat(timespec="seconds"))
                        .replace("'$TODAY'", now.date().isoformat())
                        .replace("'$LAST'", (now.date() + timedelta(days=9)).isoformat()))
    answer = post(client, "", bundle, world["h"]["doctor_a"])
    assert answer.status_code == 200, answer.get_json()
    location = answer.get_json()["entry"][1]["response"]["location"]
    assert location.startswith("MedicationRequest/79001") and location.endswith("-c.1")


def test_a_refusal_kept_for_an_idempotency_key_replays_as_an_outcome(client: FlaskClient,
                                                                      world: dict) -> None:
    bundle = transaction(prescription(drugs=[(PARACETAMOL, 0)]), SYSTEMS)
    h = {**world["h"]["doctor_a"], "Idempotency-Key": "refused-1"}
    first, again = post(client, "", bundle, h), post(client, "", bundle, h)
    assert first.status_code == again.status_code == 422
    expected = ("Bundle.entry[2].resource.dispenseRequest.quantity.value", "drug.quantity")
    assert expected in outcome_codes(first) and expected in outcome_codes(again)
    assert again.headers.get("Idempotent-Replayed") == "true"


def test_without_credentials_the_answer_is_an_outcome(client: FlaskClient) -> None:
    answer = client.get("/fhir/R4/MedicationRequest?status=active")
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"]
    assert outcome_codes(answer)


def test_dispenses_of_a_patient(client: FlaskClient, world: dict) -> None:
    code = issued(client, world)
    assert dispense(client, world["h"]["pharmacy_1"], code,
                    [{"line": 1, "so_luong_ban": 4}]).status_code == 201
    found = get(client, f"MedicationDispense?patient.identifier={CCCD}|079090001234",
                world["h"]["regulator"]).get_json()
    assert found["total"] == 1
    assert get(client, f"MedicationDispense?patient={code}",
               world["h"]["pharmacy_1"]).get_json()["total"] == 1
    resource = served_ok(found["entry"][0]["resource"])
    assert resource["authorizingPrescription"] == [{"reference": f"MedicationRequest/{code}.2"}]
    assert "substitution" not in resource
    # another pharmacy does not see the invoice number, as on the native face
    other = get(client, f"MedicationDispense?prescription=MedicationRequest/{code}.2",
                world["h"]["pharmacy_2"]).get_json()
    assert all(i["system"] != SYSTEMS.invoice for i in other["entry"][0]["resource"]["identifier"])
    assert get(client, "MedicationDispense", world["h"]["regulator"]).status_code == 422


def test_an_unexpected_error_is_a_bare_500_outcome_and_logged(app, world: dict, monkeypatch,
                                                              caplog) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(FhirService, "read", boom)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production (TESTING propagates)
    answer = app.test_client().get("/fhir/R4/Patient/x", headers=world["h"]["doctor_a"])
    assert answer.status_code == 500 and outcome_codes(answer) == {(None, "internal")}
    assert "secret internals" not in answer.get_data(as_text=True)
    assert any("unhandled exception" in record.getMessage() for record in caplog.records)


def test_xml_is_not_acceptable(client: FlaskClient) -> None:
    for answer in (client.get("/fhir/R4/metadata", headers={"Accept": "application/fhir+xml"}),
                   client.get("/fhir/R4/metadata?_format=xml")):
        assert answer.status_code == 406 and outcome_codes(answer)
    for accept in ("*/*", "application/fhir+json; fhirVersion=4.0",
                   "application/fhir+xml;q=1, application/json+fhir;q=0.5"):
        assert client.get("/fhir/R4/metadata", headers={"Accept": accept}).status_code == 200


def test_a_patch_to_cancelled_is_the_native_cancel(client: FlaskClient, world: dict,
                                                   database) -> None:
    code = issued(client, world)
    patch_type = {"Content-Type": "application/json-patch+json"}
    h = {**world["h"]["doctor_a"], **patch_type}
    patch = [{"op": "replace", "path": "/status", "value": "cancelled"},
             {"op": "add", "path": "/statusReason", "value": {"text": "Kê nhầm"}}]
    assert client.patch(f"/fhir/R4/MedicationRequest/{code}.1", json=patch,
                        headers={**world["h"]["clinic_b"], **patch_type}).status_code == 403
    no_reason = client.patch(f"/fhir/R4/MedicationRequest/{code}.1", json=patch[:1], headers=h)
    assert no_reason.status_code == 422
    assert ("MedicationRequest.statusReason.text", "cancel.reason_required") in outcome_codes(no_reason)
    other = client.patch(f"/fhir/R4/MedicationRequest/{code}.1", headers=h,
                         json=[{"op": "replace", "path": "/note", "value": []}])
    assert other.status_code == 422 and outcome_codes(other)
    done = client.patch(f"/fhir/R4/MedicationRequest/{code}.2", json=patch, headers=h)
    assert done.status_code == 200, done.get_json()
    assert served_ok(done.get_json())["status"] == "cancelled"
    stored = database["prescriptions"].find_one({"_id": code})
    assert stored["status"] == "cancelled" and stored["cancellation"]["ly_do"] == "Kê nhầm"
    assert audit_log(database).find_one({"action": "prescription.cancelled", "object.id": code})
    again = client.patch(f"/fhir/R4/MedicationRequest/{code}.1", json=patch, headers=h)
    assert again.status_code == 409 and outcome_codes(again)
    native = client.get(f"/v2/prescriptions/{code}", headers=world["h"]["doctor_a"]).get_json()
    assert native["status"] == "cancelled"


def test_several_dispensed_lines_in_one_post(client: FlaskClient, world: dict) -> None:
    code = issued(client, world)
    line = {"resourceType": "MedicationDispense", "status": "completed",
            "subject": {"reference": f"Patient/{code}"}, "quantity": {"value": 1}}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {**line, "authorizingPrescription": [
            {"reference": f"MedicationRequest/{code}.{n}"}]}} for n in (1, 2)]}
    answer = post(client, "MedicationDispense", bundle, world["h"]["pharmacy_1"])
    assert answer.status_code == 200, answer.get_json()
    locations = [e["response"]["location"] for e in answer.get_json()["entry"]]
    assert len(locations) == 2 and len({loc.rsplit(".", 2)[1] for loc in locations}) == 1


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=json_values, resource=json_values)
def test_no_body_makes_a_500(client: FlaskClient, world: dict, body: Any, resource: Any) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": resource}, {"resource": {**(resource if isinstance(resource, dict) else {}),
                                              "resourceType": "MedicationRequest"}}]}
    for who, path, sent in (("doctor_a", "", body), ("doctor_a", "", bundle),
                            ("pharmacy_1", "MedicationDispense", body),
                            ("pharmacy_1", "MedicationDispense", resource)):
        answer = post(client, path, sent, world["h"][who])
        assert answer.status_code < 500, answer.get_data(as_text=True)


def test_unknown_search_parameters_are_ignored_unless_strict(client: FlaskClient,
                                                             world: dict) -> None:
    code = issued(client, world)
    h = world["h"]["doctor_a"]
    lenient = get(client, f"MedicationRequest?group-identifier={code}&colour=blue", h)
    assert lenient.status_code == 200 and lenient.get_json()["total"] == 2
    assert all("colour" not in link["url"] for link in lenient.get_json()["link"])
    strict = get(client, f"MedicationRequest?group-identifier={code}&colour=blue", h,
                 Prefer="handling=strict")
    assert strict.status_code == 422
    assert outcome_codes(strict) == {("colour", "request.unknown_field")}
    unknown_include = get(client, f"MedicationRequest?group-identifier={code}"
                                  "&_include=MedicationRequest:nothing", h)
    assert outcome_codes(unknown_include) == {("_include", "request.invalid")}
    too_many = get(client, f"MedicationRequest?group-identifier={code}&_count=201", h)
    assert too_many.status_code == 422 and outcome_codes(too_many) == {("_count", "request.invalid")}


def test_the_prescribers_signature_travels_in_bundle_signature(
        client: FlaskClient, world: dict, make_app, make_party) -> None:
    bundle = transaction(prescription(), SYSTEMS)
    bundle["signature"] = {"type": [{"system": "urn:iso-astm:E1762-95:2013",
                                     "code": "1.2.840.10065.1.12.1.1"}],
                           "when": "2026-12-01T09:00:00+07:00",
                           "who": {"reference": "urn:uuid:practitioner"},
                           "sigFormat": "application/jose",
                           "data": base64.b64encode(b"not.a-jws.at-all").decode()}
    refused = post(client, "", bundle, world["h"]["doctor_a"])
    assert refused.status_code == 422
    assert ("Bundle.signature.data", "signature.prescriber_invalid") in outcome_codes(refused)
    bundle["signature"]["data"] = "%%%"
    assert ("Bundle.signature.data", "fhir.value") in outcome_codes(
        post(client, "", bundle, world["h"]["doctor_a"]))
    strict = make_app(PRESCRIBER_SIGNATURE="required")
    doctor = make_party("doctor", "BS009", facility="79001")
    strict_client = strict.test_client()
    unsigned = post(strict_client, "", transaction(prescription(), SYSTEMS),
                    doctor.headers(strict_client))
    assert unsigned.status_code == 422
    assert ("Bundle.signature", "signature.prescriber_invalid") in outcome_codes(unsigned)


def test_a_product_is_found_by_any_of_its_identifiers(client: FlaskClient, world: dict) -> None:
    h = world["h"]["pharmacy_1"]
    gtin = gtin_of(world, PARACETAMOL)
    for query in (f"code={PARACETAMOL}", f"identifier=https://www.gs1.org/gtin|{gtin}",
                  f"code={SYSTEMS.registration}|VD-35032-23"):
        found = served_ok(get(client, f"Medication?{query}", h).get_json())
        assert [e["resource"]["id"] for e in found["entry"]] == [PARACETAMOL], query
    for query in ("code=NO-SUCH-DRUG", f"code=urn:other|{PARACETAMOL}"):
        assert get(client, f"Medication?{query}", h).get_json()["total"] == 0
    assert get(client, "Medication", h).status_code == 422


_PARAMETER_VALUES = st.one_of(st.text(max_size=30), st.sampled_from([
    "ge2026-01-01", "lt2026-13-40", "eq", "x|", "|", "79001AAAAAAA-c.0", "Patient/", "-1",
    "99999999999999999999", "active,bogus", "MedicationRequest:medication",
    f"{CCCD}|07909000123", "MedicationRequest/.1"]))


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(query=st.lists(st.tuples(st.sampled_from(
    ["group-identifier", "identifier", "patient", "subject", "patient.identifier", "status",
     "authoredon", "_include", "_count", "_offset", "prescription", "code", "_format"]),
    _PARAMETER_VALUES), max_size=4))
def test_no_query_makes_a_500(client: FlaskClient, world: dict, query: list) -> None:
    for who, path in (("regulator", "MedicationRequest"), ("pharmacy_1", "MedicationDispense"),
                      ("clinic_a", "Medication"), ("doctor_a", "Patient/x")):
        answer = client.get(f"/fhir/R4/{path}", query_string=query, headers=world["h"][who])
        assert answer.status_code < 500, answer.get_data(as_text=True)
