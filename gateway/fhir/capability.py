"""What the FHIR face serves, stated as FHIR does: the CapabilityStatement of
``GET /fhir/R4/metadata`` and the definitions of its own search parameter (pure)."""

from __future__ import annotations

from typing import Any

from gateway.fhir import systems as fs
from gateway.fhir.systems import Systems

SP = "http://hl7.org/fhir/SearchParameter"


def search_parameters(systems: Systems) -> dict[str, dict[str, Any]]:
    """The gateway's own SearchParameters by id (R4 MedicationRequest has no
    ``group-identifier``)."""
    return {"MedicationRequest-group-identifier": {
        "resourceType": "SearchParameter", "id": "MedicationRequest-group-identifier",
        "url": f"{systems.base}/SearchParameter/MedicationRequest-group-identifier",
        "name": "group-identifier", "status": "active", "publisher": "erx-gateway",
        "description": "The prescription code (ma_don_thuoc) every line of a prescription "
                       f"shares, system {systems.prescription}",
        "code": "group-identifier", "base": ["MedicationRequest"], "type": "token",
        "expression": "MedicationRequest.groupIdentifier"}}


def _param(name: str, kind: str, definition: str, documentation: str) -> dict[str, Any]:
    return {"name": name, "definition": definition, "type": kind, "documentation": documentation}


def capability_statement(systems: Systems, *, base: str, software_version: str,
                         date: str) -> dict[str, Any]:
    own = search_parameters(systems)["MedicationRequest-group-identifier"]["url"]
    read = [{"code": "read"}]
    patient_chain = ("`Patient/<ma_don_thuoc>` (the patient of that prescription), or chained "
                     "as `patient.identifier=" + fs.CCCD + "|<CCCD>`: regulators, and a "
                     "facility for its own prescriptions")
    return {
        "resourceType": "CapabilityStatement", "status": "active", "date": date,
        "kind": "instance", "publisher": "erx-gateway",
        "software": {"name": "erx-gateway", "version": software_version},
        "implementation": {"description": "erx-gateway FHIR R4 face", "url": base},
        "fhirVersion": fs.FHIR_VERSION, "format": ["json"],
        "implementationGuide": [fs.IG],
        "rest": [{
            "mode": "server",
            "security": {"description": "OAuth2 client credentials: a bearer token of "
                                        "POST /v2/auth/token (or a national login); pharmacies "
                                        "may send app-name / app-key"},
            "interaction": [{"code": "transaction", "documentation": "a prescription (Patient, "
                             "optional Practitioner, one MedicationRequest per line sharing "
                             "groupIdentifier), or a pharmacy's MedicationDispense entries of "
                             "one prescription"}],
            "resource": [
                {"type": "MedicationRequest", "supportedProfile": [fs.MEDICATION_REQUEST],
                 "interaction": [*read, {"code": "search-type"}, {
                     "code": "patch", "documentation": "JSON Patch replacing /status with "
                     "cancelled and giving /statusReason: cancels the whole prescription "
                     "(the issuing facility)"}],
                 "searchInclude": ["MedicationRequest:medication", "MedicationRequest:subject",
                                   "MedicationRequest:requester"],
                 "searchParam": [
                     _param("group-identifier", "token", own,
                            f"the prescription code, `{systems.prescription}|<ma_don_thuoc>`"),
                     _param("identifier", "token", f"{SP}/clinical-identifier",
                            f"one line, `{systems.line}|<ma_don_thuoc>.<n>`"),
                     _param("patient", "reference", f"{SP}/clinical-patient", patient_chain),
                     _param("subject", "reference", f"{SP}/MedicationRequest-subject",
                            "as patient"),
                     _param("status", "token", f"{SP}/medications-status",
                            "active, completed, cancelled, stopped (comma-separated: any)"),
                     _param("authoredon", "date", f"{SP}/MedicationRequest-authoredon",
                            "prefixes eq, gt, ge, lt, le; a date is a day in UTC+07:00")]},
                {"type": "MedicationDispense", "supportedProfile": [fs.MEDICATION_DISPENSE],
                 "searchInclude": ["MedicationDispense:medication", "MedicationDispense:subject",
                                   "MedicationDispense:performer",
                                   "MedicationDispense:prescription"],
                 "interaction": [*read, {"code": "search-type"}, {
                     "code": "create", "documentation": "one dispensed line, or a Bundle of "
                     "the MedicationDispenses of one dispense"}],
                 "searchParam": [
                     _param("prescription", "reference", f"{SP}/MedicationDispense-prescription",
                            "MedicationRequest/<ma_don_thuoc>.<n>"),
                     _param("patient", "reference", f"{SP}/clinical-patient", patient_chain)]},
                {"type": "Patient", "supportedProfile": [fs.PATIENT], "interaction": read,
                 "documentation": "the patient as one prescription states them: id = its "
                                  "ma_don_thuoc"},
                {"type": "Practitioner", "supportedProfile": [fs.PRACTITIONER],
                 "interaction": read,
                 "documentation": "the prescriber of one prescription: id = its ma_don_thuoc"},
                {"type": "Organization", "supportedProfile": [fs.PROVIDER], "interaction": read,
                 "documentation": "facility-<facility code>, pharmacy-<pharmacy code>"},
                {"type": "Medication", "supportedProfile": [fs.MEDICATION],
                 "interaction": [*read, {"code": "search-type"}],
                 "searchParam": [
                     _param("code", "token", f"{SP}/medications-code",
                            "a national drug code, registration number or GTIN, with or without "
                            "its system"),
                     _param("identifier", "token", f"{SP}/Medication-identifier", "as code")],
                 "documentation": "a catalog product: id = its national drug code"},
                {"type": "SearchParameter", "interaction": read,
                 "documentation": "the gateway's own search parameters"},
            ]}]}
