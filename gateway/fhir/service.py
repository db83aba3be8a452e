"""The FHIR face's reads and searches (no HTTP): each resource from the same prescription services and
access rules as the native endpoints, searchset Bundles with ``total``, ``_count`` pages and
``_include``. Writes go through the native submit and dispense paths (gateway/fhir/views.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from drug_catalog.errors import CatalogError
from gateway.catalog.service import CatalogService
from gateway.core.errors import Invalid, NotFound
from gateway.fhir import resources as fr
from gateway.fhir.adapter import Prescriptions
from gateway.fhir.intake import medication_code
from gateway.fhir.model import Rx
from gateway.fhir.systems import CCCD, Systems
from gateway.parties.model import Party
from gateway.parties.store import PartyStore

REQUEST_INCLUDES = {"MedicationRequest:medication": "medication",
                    "MedicationRequest:subject": "subject",
                    "MedicationRequest:patient": "subject",
                    "MedicationRequest:requester": "requester"}
REQUEST_PARAMETERS = ("group-identifier", "identifier", "patient", "subject",
                      "patient.identifier", "status", "authoredon", "_include", "_count",
                      "_offset")
DISPENSE_PARAMETERS = ("prescription", "patient", "patient.identifier", "_include", "_count",
                       "_offset")
MEDICATION_PARAMETERS = ("code", "identifier", "_count", "_offset")
DISPENSE_INCLUDES = {"MedicationDispense:medication": "medication",
                     "MedicationDispense:subject": "subject",
                     "MedicationDispense:patient": "subject",
                     "MedicationDispense:performer": "performer",
                     "MedicationDispense:prescription": "prescription"}


@dataclass(frozen=True)
class Page:
    count: int
    offset: int


def invalid(parameter: str, vi: str, en: str, code: str = "request.invalid") -> Invalid:
    return Invalid(f"{parameter}: {en}", errors=[{"pointer": "", "parameter": parameter,
                                                  "code": code, "message": vi, "_en": en}])


def token(value: str, expected_system: str, parameter: str) -> str | None:
    """The value of a ``[system|]value`` token; None when the system is another one."""
    system, bar, code = value.rpartition("|")
    if bar and system and system != expected_system:
        return None
    if not code:
        raise invalid(parameter, "Thiếu giá trị", "a value is needed")
    return code


class FhirService:
    def __init__(self, prescriptions: Prescriptions, catalog: CatalogService,
                 parties: PartyStore, *, systems: Systems, page_size: int, max_page_size: int,
                 search_max: int, max_age_days: int) -> None:
        self.prescriptions = prescriptions
        self.catalog = catalog
        self.parties = parties
        self.systems = systems
        self.page_size = page_size
        self.max_page_size = max_page_size
        self.search_max = search_max
        #: a prescription is authored at most ``ERX_RX_MAX_AGE_DAYS`` before the gateway
        #: receives it: an ``authoredon`` upper bound is a receipt-time bound this much later
        self.authored_before_receipt = timedelta(days=max_age_days + 1)

    # --- reads --------------------------------------------------------------------------
    def _rx(self, code: str, party: Party, *, dispenses: bool = True, record: bool = True) -> Rx:
        """Prescription ``code`` as ``party`` reads it, the read recorded as a native read
        (``record`` False: the answer of a change, audited with the change)."""
        stored = self.prescriptions.readable(code, party)
        if record:
            self.prescriptions.note_view(stored, party)
        return self.prescriptions.rx(stored, party, dispenses=dispenses)

    def read(self, kind: str, resource_id: str, party: Party, *,
             record: bool = True) -> dict[str, Any]:
        """``GET /fhir/R4/<kind>/<id>``.

        Raises:
            NotFound: no such resource. Forbidden: as the native read of its prescription.
        """
        if kind == "MedicationRequest":
            code, _dot, number = resource_id.rpartition(".")
            if not code or not number.isdigit() or int(number) < 1:
                raise NotFound(f"no MedicationRequest {resource_id}")
            rx = self._rx(code, party, dispenses=False, record=record)
            if int(number) > len(rx.lines):
                raise NotFound(f"no MedicationRequest {resource_id}")
            return fr.medication_request(rx, rx.lines[int(number) - 1], self.systems)
        if kind in ("Patient", "Practitioner"):
            rx = self._rx(resource_id, party, dispenses=False)
            build = fr.patient if kind == "Patient" else fr.practitioner
            return build(rx, self.systems)
        if kind == "MedicationDispense":
            code = resource_id.split(".", 1)[0]
            rx = self._rx(code, party)
            for resource in fr.medication_dispenses(rx, self.systems):
                if resource["id"] == resource_id:
                    return resource
            raise NotFound(f"no MedicationDispense {resource_id}")
        if kind == "Organization":
            return self.organization(resource_id)
        if kind == "Medication":
            return self.medication(resource_id)
        raise NotFound(f"no resource type {kind}")

    def organization(self, resource_id: str) -> dict[str, Any]:
        if resource_id.startswith("facility-"):
            clinic = self.parties.find_national(resource_id.removeprefix("facility-"))
            if clinic is not None:
                return fr.organization(clinic.code, clinic.name, pharmacy=False,
                                       systems=self.systems, phone=clinic.phone,
                                       address=clinic.address, active=clinic.active)
        elif resource_id.startswith("pharmacy-"):
            record = self.parties.document("pharmacy", resource_id.removeprefix("pharmacy-"))
            if record is not None:
                return fr.organization(record["code"], record["name"], pharmacy=True,
                                       systems=self.systems, phone=record.get("phone"),
                                       address=record.get("address"),
                                       active=record.get("status") == "active")
        raise NotFound(f"no Organization {resource_id}")

    def medication(self, resource_id: str) -> dict[str, Any]:
        drug = self.catalog.catalog.get(medication_code(resource_id))
        if drug is None:
            raise NotFound(f"no Medication {resource_id}")
        return fr.medication(drug, self.systems)

    def dispensed(self, rx: Rx) -> list[dict[str, Any]]:
        """The MedicationDispense resources of ``rx`` (no read recorded: the dispense that
        made them is audited)."""
        return fr.medication_dispenses(rx, self.systems)

    # --- searches -----------------------------------------------------------------------
    def page(self, params: Mapping[str, Sequence[str]]) -> Page:
        count = self._integer(params, "_count", self.page_size)
        if count > self.max_page_size:
            raise invalid("_count", f"Tối đa {self.max_page_size}",
                          f"at most {self.max_page_size}")
        return Page(count, self._integer(params, "_offset", 0))

    @staticmethod
    def _integer(params: Mapping[str, Sequence[str]], name: str, default: int) -> int:
        values = params.get(name) or []
        if not values:
            return default
        if len(values) > 1 or not values[0].isdigit():
            raise invalid(name, "Phải là một số nguyên không âm",
                          "must be one whole number >= 0")
        return int(values[0])

    def _prescriptions(self, party: Party, params: Mapping[str, Sequence[str]],
                       statuses: Sequence[str] | None,
                       issued_from: datetime | None = None,
                       issued_to: datetime | None = None, *, dispenses: bool) -> list[Rx]:
        """The prescriptions a search names: by code (a read), or a list as the native one."""
        codes = [token(value, self.systems.prescription, "group-identifier")
                 for value in params.get("group-identifier", [])]
        for value in params.get("identifier", []):
            line = token(value, self.systems.line, "identifier")
            codes.append(line.rpartition(".")[0] if line else None)
        # a Patient is the patient of one prescription: its id is the prescription's code
        codes += [value.removeprefix("Patient/")
                  for value in (*params.get("patient", []), *params.get("subject", []))]
        patients = set()
        for value in params.get("patient.identifier", []):
            patient = token(value, CCCD, "patient.identifier")
            if patient is None:
                return []
            if not (len(patient) == 12 and patient.isdigit()):
                raise invalid("patient.identifier", "CCCD là 12 chữ số",
                              "a CCCD is 12 digits")
            patients.add(patient)
        if len(patients) > 1:  # every parameter holds: one person cannot have two CCCDs
            return []
        patient = next(iter(patients), None)
        if codes:
            if len(set(codes)) > 1 or codes[0] is None:
                return []
            try:
                rx = self._rx(codes[0], party, dispenses=dispenses)
            except NotFound:
                return []
            if patient is not None and rx.document.get("ma_dinh_danh_cong_dan") != patient:
                return []
            return [rx] if statuses is None or rx.status in statuses else []
        found: dict[str, Mapping[str, Any]] = {}
        for status in statuses or (None,):
            for stored in self.prescriptions.listed(
                    party, status=status, issued_from=issued_from, issued_to=issued_to,
                    patient=patient, limit=self.search_max):
                found[self.prescriptions.code_of(stored)] = stored
        if len(found) > self.search_max:
            raise invalid("", f"Tìm kiếm khớp hơn {self.search_max} đơn thuốc: hãy thu hẹp "
                              "(bệnh nhân, trạng thái, authoredon)",
                          f"the search matches more than {self.search_max} prescriptions: "
                          "narrow it (patient, status, authoredon)", code="fhir.too_costly")
        ordered = sorted(found.values(), key=lambda s: (self.prescriptions.issued_at(s),
                                                        self.prescriptions.code_of(s)),
                         reverse=True)
        return [self.prescriptions.rx(stored, party, dispenses=dispenses) for stored in ordered]

    def search_requests(self, party: Party, params: Mapping[str, Sequence[str]],
                        base: str) -> dict[str, Any]:
        """``GET /fhir/R4/MedicationRequest?...``: a searchset Bundle."""
        page = self.page(params)
        statuses = None
        if params.get("status"):
            wanted = [s for value in params["status"] for s in value.split(",")]
            unknown = [s for s in wanted if s not in fr.NATIVE_STATUSES]
            if unknown:
                raise invalid("status", "Là active, completed, cancelled hoặc stopped",
                              "one of active, completed, cancelled, stopped")
            statuses = [native for s in wanted for native in fr.NATIVE_STATUSES[s]]
        bounds = [_date_bound(value) for value in params.get("authoredon", [])]
        issued_from = min((at for prefix, at in bounds if prefix in ("ge", "gt", "eq", "day")),
                          default=None)
        upper = [at for prefix, at in bounds if prefix in ("lt", "le", "eq", "day")]
        issued_to = min(upper) + self.authored_before_receipt if upper else None
        includes = _includes(params, REQUEST_INCLUDES)
        wanted_line = [token(value, self.systems.line, "identifier")
                       for value in params.get("identifier", [])]
        matches: list[dict[str, Any]] = []
        included: dict[str, dict[str, Any]] = {}
        for rx in self._prescriptions(party, params, statuses, issued_from, issued_to,
                                      dispenses=False):
            for resource in fr.medication_requests(rx, self.systems):
                if wanted_line and resource["id"] not in wanted_line:
                    continue
                if not all(_matches(resource["authoredOn"], prefix, at)
                           for prefix, at in bounds):
                    continue
                matches.append(resource)
                self._include(rx, resource, includes, included)
        return self._bundle("MedicationRequest", matches, included, page, params, base,
                            REQUEST_PARAMETERS)

    def search_dispenses(self, party: Party, params: Mapping[str, Sequence[str]],
                         base: str) -> dict[str, Any]:
        """``GET /fhir/R4/MedicationDispense?prescription=|patient.identifier=``."""
        page = self.page(params)
        line_ids = []
        for value in params.get("prescription", []):
            line_ids.append(value.removeprefix("MedicationRequest/"))
        if len(set(line_ids)) > 1:
            found: list[Rx] = []
        elif line_ids:
            code = line_ids[0].rpartition(".")[0]
            try:
                found = [self._rx(code, party)] if code else []
            except NotFound:
                found = []
        elif params.get("patient.identifier") or params.get("patient"):
            found = self._prescriptions(party, {name: params[name] for name in (
                "patient", "patient.identifier") if name in params}, None, dispenses=True)
        else:
            raise invalid("prescription", "Cần prescription, patient hoặc patient.identifier",
                          "prescription, patient or patient.identifier is needed")
        includes = _includes(params, DISPENSE_INCLUDES)
        matches: list[dict[str, Any]] = []
        included: dict[str, dict[str, Any]] = {}
        for rx in found:
            for resource in fr.medication_dispenses(rx, self.systems):
                if line_ids and resource["authorizingPrescription"][0]["reference"] != (
                        f"MedicationRequest/{line_ids[0]}"):
                    continue
                matches.append(resource)
                self._include(rx, resource, includes, included)
        return self._bundle("MedicationDispense", matches, included, page, params, base,
                            DISPENSE_PARAMETERS)

    def _include(self, rx: Rx, resource: dict[str, Any], includes: list[str],
                 included: dict[str, dict[str, Any]]) -> None:
        """Add to ``included`` what ``resource`` (of ``rx``) refers to, for each of
        ``includes``: subject, requester, medication, performer, prescription."""
        for what in includes:
            found: dict[str, Any] | None
            if what == "subject":
                found = fr.patient(rx, self.systems)
            elif what == "requester":
                found = fr.practitioner(rx, self.systems)
            elif what == "prescription":
                number = int(resource["authorizingPrescription"][0]["reference"]
                             .rsplit(".", 1)[1])
                found = fr.medication_request(rx, rx.lines[number - 1], self.systems)
            elif what == "performer":
                pharmacy = resource["performer"][0]["actor"]["reference"].split("/", 1)[1]
                try:
                    found = self.organization(pharmacy)
                except NotFound:
                    found = None
            else:
                drug = self.catalog.catalog.get(medication_code(
                    resource["medicationReference"]["reference"].split("/", 1)[1]))
                found = fr.medication(drug, self.systems) if drug is not None else None
            if found is not None:
                included.setdefault(f"{found['resourceType']}/{found['id']}", found)

    def search_medications(self, params: Mapping[str, Sequence[str]],
                           base: str) -> dict[str, Any]:
        """``GET /fhir/R4/Medication?code=|identifier=[<system>|]<value>``: the catalog product
        a national code, registration number or GTIN names (as ``GET /v2/drugs/{id}``)."""
        page = self.page(params)
        values = [*params.get("code", []), *params.get("identifier", [])]
        if not values:
            raise invalid("code", "Cần code hoặc identifier", "code or identifier is needed")
        found: dict[str, dict[str, Any]] = {}
        for value in values:
            system, bar, text = value.rpartition("|")
            if not text or (bar and system and system not in self.systems.drug_systems()):
                continue
            try:
                drug = self.catalog.catalog.resolve(text)
            except CatalogError:  # unknown, ambiguous or malformed: nothing matches
                continue
            found[drug.national_code] = fr.medication(drug, self.systems)
        matches = list(found.values()) if len(values) == 1 or len(found) == 1 else []
        return self._bundle("Medication", matches, {}, page, params, base,
                            MEDICATION_PARAMETERS)

    def _bundle(self, kind: str, matches: list[dict[str, Any]],
                included: dict[str, dict[str, Any]], page: Page,
                params: Mapping[str, Sequence[str]], base: str,
                known: Sequence[str]) -> dict[str, Any]:
        shown = matches[page.offset:page.offset + page.count]
        kept = [(name, value) for name in known if name not in ("_count", "_offset")
                for value in params.get(name, [])]

        def link(relation: str, offset: int) -> dict[str, str]:
            query = urlencode([*kept, ("_count", str(page.count)), ("_offset", str(offset))])
            return {"relation": relation, "url": f"{base}/{kind}?{query}"}

        links = [link("self", page.offset)]
        if page.count and page.offset + page.count < len(matches):  # _count=0: the total only
            links.append(link("next", page.offset + page.count))
        if page.offset > 0 and page.count:
            links.append(link("previous", max(0, page.offset - page.count)))
        referenced = {f"{kind}/{r['id']}" for r in shown}
        wanted = _references(shown)
        entries = [{"fullUrl": f"{base}/{kind}/{r['id']}", "resource": r,
                    "search": {"mode": "match"}} for r in shown]
        entries += [{"fullUrl": f"{base}/{key}", "resource": resource,
                     "search": {"mode": "include"}}
                    for key, resource in included.items()
                    if key in wanted and key not in referenced]
        bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset",
                                  "total": len(matches), "link": links}
        if entries:  # FHIR JSON has no empty arrays
            bundle["entry"] = entries
        return bundle


def _includes(params: Mapping[str, Sequence[str]], known: Mapping[str, str]) -> list[str]:
    """What the ``_include`` parameters ask for (``known``: value -> what to include)."""
    for value in params.get("_include", []):
        if value not in known:
            names = ", ".join(known)
            raise invalid("_include", f"Chỉ nhận {names}", f"one of {names}")
    return [known[value] for value in params.get("_include", [])]


def _references(resources: list[dict[str, Any]]) -> set[str]:
    """What ``resources`` refer to (what an ``_include`` may add)."""
    found = set()
    for resource in resources:
        for element in ("subject", "requester", "medicationReference"):
            reference = (resource.get(element) or {}).get("reference")
            if reference:
                found.add(reference)
        for performer in resource.get("performer") or []:
            if isinstance(performer, dict) and performer.get("actor", {}).get("reference"):
                found.add(performer["actor"]["reference"])
        for prescription in resource.get("authorizingPrescription") or []:
            found.add(prescription["reference"])
    return found


_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le")


def _date_bound(value: str) -> tuple[str, datetime]:
    """``authoredon=ge2026-03-01`` as (prefix, the instant): a date is midnight UTC+7."""
    prefix = value[:2] if value[:2] in _PREFIXES else "eq"
    text = value[2:] if value[:2] in _PREFIXES else value
    if prefix == "eq" and len(text) == 10:
        prefix = "day"  # eq with a date: that whole day
    if prefix == "ne":
        raise invalid("authoredon", "Chỉ nhận eq, gt, lt, ge, le", "eq, gt, lt, ge, le only")
    try:
        if len(text) == 10:
            at = datetime.fromisoformat(text + "T00:00:00+07:00")
        else:
            at = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if at.tzinfo is None:
                raise ValueError
    except ValueError:
        raise invalid("authoredon", "Là ngày yyyy-mm-dd hoặc thời điểm ISO 8601 có múi giờ",
                      "a date yyyy-mm-dd or an ISO 8601 date-time with an offset") from None
    return prefix, at


def _matches(authored: str, prefix: str, at: datetime) -> bool:
    moment = datetime.fromisoformat(authored)
    if prefix == "day":
        return at <= moment < at + timedelta(days=1)
    return {"eq": moment == at, "gt": moment > at, "ge": moment >= at, "lt": moment < at,
            "le": moment <= at}[prefix]
