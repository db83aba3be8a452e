"""The FHIR R4 face (docs/fhir.md): ``/fhir/R4``, ``application/fhir+json``.

Reads and searches go through :class:`gateway.fhir.service.FhirService` (the native access
rules and audit events); a transaction Bundle becomes the national document and goes through
the native submit path (``submit_answer``: validation, signing, storage, forwarding, audit);
MedicationDispense resources become the native dispense body and go through the native
dispense path (``dispense_answer``), both under the same idempotency. Every error is an
OperationOutcome.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from flask import Blueprint, Response, g, request

from gateway.core.errors import Forbidden, Invalid, NotFound, PharmacyIdentity
from gateway.fhir import capability
from gateway.fhir import resources as fr
from gateway.fhir.adapter import Prescriptions
from gateway.fhir.intake import DispenseIntake, Intake, read_dispenses, read_transaction
from gateway.fhir.outcome import FHIR_JSON, fhir_response, outcome_response
from gateway.fhir.service import (
    DISPENSE_PARAMETERS,
    MEDICATION_PARAMETERS,
    REQUEST_PARAMETERS,
    FhirService,
)
from gateway.fhir.systems import Systems
from gateway.parties.model import Role
from gateway.prescriptions.answers import (
    cancel_answer,
    dispense_answer,
    idempotent,
    record_refusal,
    submit_answer,
)
from gateway.prescriptions.model import PRESCRIBERS, Refused
from gateway.web.context import services
from gateway.web.http import json_body, json_object
from gateway.web.problems import ApiError, handle_exception, problem_for
from gateway.web.security import current_party, requires

blp = Blueprint("fhir", __name__)
JSON_PATCH = "application/json-patch+json"

PRESCRIPTION_READERS = ("clinic", "doctor", "pharmacy", "regulator")
PRESCRIPTION_TYPES = ("MedicationRequest", "Patient", "Practitioner", "MedicationDispense")
OTHER_TYPES = ("Organization", "Medication")


def _systems() -> Systems:
    return Systems(services().settings.fhir_system_base.rstrip("/"))


def _base() -> str:
    return request.host_url.rstrip("/") + "/fhir/R4"


def _service() -> FhirService:
    found = services()
    settings = found.settings
    systems = _systems()
    prescriptions = Prescriptions(
        found.reading, found.parties, catalog=found.catalog.catalog,
        validate=found.submission.validate, pack_holder=found.prescription_store.pack_holder,
        zone=found.timezone, systems=systems)
    return FhirService(prescriptions,
                       found.catalog, found.parties, systems=systems,
                       page_size=settings.fhir_page_size,
                       max_page_size=settings.fhir_max_page_size,
                       search_max=settings.fhir_search_max_prescriptions,
                       max_age_days=settings.rx_max_age_days)


def _error_system() -> str:
    return f"{_systems().base}/CodeSystem/ma-loi"


def outcome_error(exc: Exception) -> Response:
    """Every error of the face as an OperationOutcome; the FHIRPath of a national pointer from
    the Bundle being read (``g.fhir_intake``). The composition root hands it to
    :func:`gateway.web.problems.init_app` for this blueprint."""
    # The one handler of the gateway makes the problem (and logs an unexpected error).
    problem = exc if isinstance(exc, ApiError) else _problem_of(handle_exception(exc))
    intake: Intake | DispenseIntake | None = g.get("fhir_intake")
    extra = g.get("fhir_problems", [])

    def expression(item: dict[str, Any]) -> str | None:
        if intake is None or "pointer" not in item:
            return None
        return intake.expression(item["pointer"])

    return outcome_response(problem, system=_error_system(), expression=expression, extra=extra)


#: what an Accept may name for a JSON answer (parameters such as ``fhirVersion`` aside;
#: ``application/json+fhir`` is the older spelling some clients still send)
_JSON_TYPES = {FHIR_JSON, "application/json", "application/json+fhir", "*/*", "application/*"}


@blp.before_request
def _acceptable() -> None:
    """JSON only: an ``Accept`` or ``_format`` that wants another format (XML) is 406."""
    wanted = request.args.get("_format")
    if wanted is not None and wanted not in ("json", FHIR_JSON, "application/json"):
        raise ApiError(406, detail=f"_format {wanted}: this server answers JSON only",
                       detail_vi=f"_format {wanted}: máy chủ chỉ trả lời JSON")
    accepted = {value.split(";")[0].strip().lower()
                for value, quality in request.accept_mimetypes if quality > 0}
    if request.accept_mimetypes and not accepted & _JSON_TYPES:
        raise ApiError(406, detail="this server answers application/fhir+json only",
                       detail_vi="Máy chủ chỉ trả lời application/fhir+json")


@blp.after_request
def _private(response: Response) -> Response:
    """Answers carry patient data: no cache keeps them (the CapabilityStatement aside)."""
    if request.endpoint not in ("fhir.metadata", "fhir.search_parameter"):
        response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def _body() -> dict[str, Any]:
    return json_object(json_types=(FHIR_JSON, "application/json+fhir"))


@blp.route("/fhir/R4/metadata", methods=["GET"])
def metadata() -> Response:
    """The CapabilityStatement (public, as FHIR servers make it)."""
    try:
        software = version("erx-gateway")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        software = "0"
    return fhir_response(capability.capability_statement(
        _systems(), base=_base(), software_version=software,
        date=datetime.now(UTC).date().isoformat()))


@blp.route("/fhir/R4/SearchParameter/<resource_id>", methods=["GET"])
def search_parameter(resource_id: str) -> Response:
    """The definition of one of the gateway's own search parameters (public, as metadata)."""
    found = capability.search_parameters(_systems()).get(resource_id)
    if found is None:
        raise NotFound(f"no SearchParameter {resource_id}")
    return fhir_response(found)


@blp.route("/fhir/R4/<kind>/<resource_id>", methods=["GET"])
@requires()
def read(kind: str, resource_id: str) -> Response:
    party = current_party()
    if kind in PRESCRIPTION_TYPES and party.role not in PRESCRIPTION_READERS:
        raise Forbidden(f"a {party.role} does not read prescriptions")
    if kind not in PRESCRIPTION_TYPES + OTHER_TYPES:
        raise NotFound(f"this server has no {kind} resources")
    return fhir_response(_service().read(kind, resource_id, party))


@blp.route("/fhir/R4/MedicationRequest", methods=["GET"])
@requires(*PRESCRIPTION_READERS)
def search_requests() -> Response:
    return fhir_response(_service().search_requests(current_party(), _params(), _base()))


@blp.route("/fhir/R4/MedicationDispense", methods=["GET"])
@requires(*PRESCRIPTION_READERS)
def search_dispenses() -> Response:
    return fhir_response(_service().search_dispenses(current_party(), _params(), _base()))


@blp.route("/fhir/R4/Medication", methods=["GET"])
@requires()
def search_medications() -> Response:
    return fhir_response(_service().search_medications(_params(), _base()))


def _params() -> dict[str, list[str]]:
    """The query's parameters; an unknown one is an error under ``Prefer: handling=strict``
    and ignored otherwise (FHIR search)."""
    params = {name: request.args.getlist(name) for name in request.args}
    known = {*{"fhir.search_requests": REQUEST_PARAMETERS,
               "fhir.search_medications": MEDICATION_PARAMETERS}.get(
                   request.endpoint or "", DISPENSE_PARAMETERS), "_format"}
    unknown = sorted(set(params) - known)
    if unknown and "handling=strict" in request.headers.get("Prefer", "").replace(" ", ""):
        raise Invalid("unknown search parameters", errors=[
            {"pointer": "", "parameter": name, "code": "request.unknown_field",
             "message": f"Tham số tìm kiếm không được hỗ trợ: {name}",
             "_en": f"unsupported search parameter: {name}"} for name in unknown])
    return {name: values for name, values in params.items() if name in known}


@blp.route("/fhir/R4", methods=["POST"])
@requires("clinic", "doctor", "pharmacy")
def transaction() -> Response:
    """A transaction Bundle: a prescription (clinic, doctor) or a dispense (pharmacy)."""
    party = current_party()
    bundle = _body()
    resources = _entry_resources(bundle)
    kinds = {str(resource.get("resourceType")) if isinstance(resource, dict) else None
             for _where, resource in resources}
    if kinds == {"MedicationDispense"}:
        if party.role != Role.PHARMACY:
            raise Forbidden("only a pharmacy dispenses")
        if bundle.get("type") != "transaction":
            raise Invalid(errors=[{"pointer": "/type", "code": "fhir.bundle_type",
                                   "message": "Bundle.type phải là transaction",
                                   "_en": "Bundle.type must be transaction"}])
        return _dispense(resources, transaction=True)
    return _submit(bundle)


def _entry_resources(bundle: dict[str, Any]) -> list[tuple[str, Any]]:
    """``(FHIRPath, resource)`` of each entry of a Bundle (None for an entry without one)."""
    found = bundle.get("entry")
    entries: list[Any] = found if isinstance(found, list) else []
    return [(f"Bundle.entry[{index}].resource",
             entry.get("resource") if isinstance(entry, dict) else None)
            for index, entry in enumerate(entries)]


def _submit(bundle: dict[str, Any]) -> Response:
    party = current_party()
    if party.role not in PRESCRIBERS:
        raise Forbidden("only a clinic or a doctor prescribes")
    intake = read_transaction(bundle, _systems())
    g.fhir_intake = intake
    if intake.problems or intake.document is None:
        g.fhir_problems = intake.problems
        errors = (_service().prescriptions.refusal_codes(intake.document, party,
                                                         datetime.now(UTC))
                  if intake.document is not None else [])
        record_refusal(intake.document or {}, Refused(
            [*errors, *({"code": item["code"]} for item in intake.problems)]))
        raise problem_for(Invalid, errors=errors)
    started = datetime.now(UTC)
    response = idempotent("submit", lambda: submit_answer(intake.document, party))
    if response.status_code >= 400:  # a refusal kept for this Idempotency-Key, replayed
        raise _problem_of(response)
    answer = response.get_json()
    code = answer["ma_don_thuoc"]
    # Issued before this request began: the same Bundle sent again, the same prescription.
    created = datetime.fromisoformat(answer["issued_at"]) >= started
    locations = {"Patient": f"Patient/{code}", "Practitioner": f"Practitioner/{code}"}
    made = _representation(code) if _wants_representation() else {}
    reply = []
    for kind, line in intake.entries:
        location = locations.get(kind) or f"MedicationRequest/{code}.{(line or 0) + 1}"
        entry: dict[str, Any] = {"response": {
            "status": "201 Created" if created else "200 OK", "location": location,
            "lastModified": answer["issued_at"]}}
        if location in made:
            entry["resource"] = made[location]
        reply.append(entry)
    return _transaction_response(reply, response)


def _wants_representation() -> bool:
    return "return=representation" in request.headers.get("Prefer", "").replace(" ", "")


def _representation(code: str) -> dict[str, dict[str, Any]]:
    """The resources of prescription ``code`` by location, for ``Prefer:
    return=representation`` (not a read of their own: the submit is audited)."""
    service = _service()
    party = current_party()
    rx = service.prescriptions.rx(service.prescriptions.readable(code, party), party,
                                  dispenses=False)
    made = [fr.patient(rx, service.systems), fr.practitioner(rx, service.systems),
            *fr.medication_requests(rx, service.systems)]
    return {f"{resource['resourceType']}/{resource['id']}": resource for resource in made}


def _problem_of(response: Response) -> ApiError:
    """A problem+json answer (a replayed refusal, the gateway's handler's) as the problem."""
    body = response.get_json()
    headers = {name: response.headers[name] for name in _KEPT_HEADERS if name in response.headers}
    return ApiError(response.status_code, slug=body["type"].rsplit(":", 1)[-1],
                    detail=body.get("detail"), errors=body.get("errors"), headers=headers,
                    **({"warnings": body["warnings"]} if body.get("warnings") else {}))


_KEPT_HEADERS = ("WWW-Authenticate", "Retry-After", "Allow", "Idempotent-Replayed")


def _transaction_response(entries: list[dict[str, Any]], native: Response) -> Response:
    headers = {}
    if native.headers.get("Idempotent-Replayed"):
        headers["Idempotent-Replayed"] = native.headers["Idempotent-Replayed"]
    return fhir_response({"resourceType": "Bundle", "type": "transaction-response",
                          "entry": entries}, 200, headers)


@blp.route("/fhir/R4/MedicationDispense", methods=["POST"])
@requires("pharmacy")
def create_dispense() -> Response:
    """One dispensed line of one prescription; several as a Bundle of MedicationDispenses
    (answered as a transaction)."""
    body = _body()
    if body.get("resourceType") == "Bundle":
        return _dispense(_entry_resources(body), transaction=True)
    return _dispense([("MedicationDispense", body)], transaction=False)


@blp.route("/fhir/R4/MedicationRequest/<resource_id>", methods=["PATCH"])
@requires("clinic", "doctor")
def cancel(resource_id: str) -> Response:
    """Cancel a prescription (what remains of it, every line), as ``POST
    /v2/prescriptions/{code}/cancel``: a JSON Patch that replaces ``/status`` with
    ``cancelled`` and gives the reason in ``/statusReason/text``."""
    party = current_party()
    patch = json_body(json_types=(JSON_PATCH,))
    code = resource_id.rpartition(".")[0]
    operations = patch if isinstance(patch, list) else []
    status = [op.get("value") for op in operations if isinstance(op, dict)
              and op.get("op") in ("replace", "add") and op.get("path") == "/status"]
    reasons = [op.get("value") for op in operations if isinstance(op, dict)
               and op.get("op") in ("replace", "add")
               and op.get("path") in ("/statusReason", "/statusReason/text")]
    reason = reasons[0].get("text") if reasons and isinstance(reasons[0], dict) else (
        reasons[0] if reasons else None)
    if status != ["cancelled"] or len(operations) != 1 + len(reasons):
        raise Invalid(errors=[{
            "pointer": "", "code": "fhir.value",
            "message": "Chỉ nhận JSON Patch thay /status bằng cancelled (và /statusReason)",
            "_en": "only a JSON Patch replacing /status with cancelled (and /statusReason)"}])
    if not code:
        raise NotFound(f"no MedicationRequest {resource_id}")
    g.fhir_intake = Intake(None, [], {"/ly_do": "MedicationRequest.statusReason.text"})
    cancel_answer(code, party, {"ly_do": reason} if reason is not None else {})
    return fhir_response(_service().read("MedicationRequest", resource_id, party, record=False))


def _dispense(resources: list[tuple[str, Any]], *, transaction: bool) -> Response:
    party = current_party()
    systems = _systems()
    intake = read_dispenses(resources, systems, party.code)
    g.fhir_intake = intake
    if intake.problems or intake.code is None:
        g.fhir_problems = intake.problems
        codes = sorted({item["code"] for item in intake.problems})
        services().audit.record("prescription.dispensed", outcome="failure",
                                object_type="prescription" if intake.code else None,
                                object_id=intake.code, details={"codes": codes})
        if "dispense.pharmacy_identity" in codes:
            raise problem_for(PharmacyIdentity)
        raise problem_for(Invalid)
    code = intake.code
    response = idempotent(f"dispense\x1f{code}",
                          lambda: dispense_answer(code, party, intake.body))
    if response.status_code >= 400:
        raise _problem_of(response)
    dispense_id = response.get_json()["dispense"]["id"]
    service = _service()
    rx = service.prescriptions.rx(service.prescriptions.readable(code, party), party)
    made = [resource for resource in service.dispensed(rx)
            if resource["id"].startswith(f"{code}.{dispense_id}.")]
    if not transaction:
        headers = {"Location": f"{_base()}/MedicationDispense/{made[0]['id']}"}
        if response.headers.get("Idempotent-Replayed"):
            headers["Idempotent-Replayed"] = "true"
        return fhir_response(made[0], 201, headers)
    return _transaction_response(
        [{"response": {"status": "201 Created",
                       "location": f"MedicationDispense/{resource['id']}",
                       "lastModified": resource["whenHandedOver"]}} for resource in made],
        response)


@blp.route("/fhir/R4", methods=["GET", "PUT", "PATCH", "DELETE"])
def base() -> Response:
    raise ApiError(405, detail="the base takes a POST of a transaction Bundle; searches name "
                               "their type (GET /fhir/R4/MedicationRequest?...)",
                   headers={"Allow": "POST"})


@blp.route("/fhir/R4/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str) -> Response:
    raise NotFound(f"/fhir/R4/{rest} is not an interaction of this server (GET /fhir/R4/metadata)")
