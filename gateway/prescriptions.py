"""Native prescription endpoints (API.md "Prescriptions") over :mod:`gateway.lifecycle`."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, Response, current_app, json, request, url_for
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from gateway import audit, signatures
from gateway.config import ConfigError
from gateway.auth import current_party, requires
from gateway.errors import PROBLEM_MEDIA_TYPE, ApiError, ProblemSchema, bad_parameter
from gateway.http import json_object
from gateway.idempotency import Answer, IdempotencyStore, request_fingerprint
from gateway.lifecycle import Lifecycle, Refused, Settings, dispense_id_for
from gateway.parties import Party
from schemas.policy import Policy
from schemas.document import PrescriptionSchema
from schemas.errors import PolicyError
from schemas.validation import dispensable_until, validate_prescription
from signing.canonical import canonicalize
from signing.errors import PrescriberSignatureError

blp = Blueprint("prescriptions", __name__, description="Submit, read, list, dispense, cancel")

PRESCRIPTION_RESPONSES = {"401": {"description": "no or invalid token"},
                          "403": {"description": "another facility's prescription or wrong role"},
                          "404": {"description": "unknown prescription"}}


class LineSchema(Schema):
    index = fields.Integer()
    ma_thuoc = fields.String(metadata={"description": "national drug code"})
    prescribed = fields.Float()
    dispensed = fields.Float()
    remaining = fields.Float()


class SignatureSchema(Schema):
    alg = fields.String()
    kid = fields.String()
    jws = fields.String(metadata={"description": "detached compact JWS over the RFC 8785 form "
                                                "of `prescription`"})


class IssueSchema(Schema):
    pointer = fields.String()
    code = fields.String()
    message = fields.String()


class PrescriptionResourceSchema(Schema):
    ma_don_thuoc = fields.String()
    status = fields.String(metadata={"enum": ["issued", "partially_dispensed", "dispensed",
                                              "cancelled", "expired"]})
    prescription = fields.Dict(metadata={"description": "the normalised national document"})
    lines = fields.List(fields.Nested(LineSchema))
    signature = fields.Nested(SignatureSchema)
    warnings = fields.List(fields.Nested(IssueSchema))
    dispenses = fields.List(fields.Dict())
    cancellation = fields.Dict(allow_none=True)
    issued_at = fields.String()
    dispensable_until = fields.String()


class PrescriptionPageSchema(Schema):
    items = fields.List(fields.Nested(PrescriptionResourceSchema))
    next_cursor = fields.String(allow_none=True)


class PrescriptionQuerySchema(Schema):
    facility = fields.String()
    status = fields.String()
    from_ = fields.String(data_key="from", metadata={"description": "ISO date or date-time"})
    to = fields.String(metadata={"description": "ISO date or date-time (exclusive)"})
    patient = fields.String(metadata={"description": "the patient's CCCD (12 digits)"})
    cursor = fields.String()
    limit = fields.Integer(metadata={"description": "1-200, default 50"})


class CancelSchema(Schema):
    ly_do = fields.String(required=True, metadata={"description": "reason for cancelling"})


class DispenseItemSchema(Schema):
    line = fields.Integer(required=True)
    ma_thuoc = fields.String(metadata={"description": "dispensed product (may differ)"})
    so_luong_ban = fields.Float(required=True)
    packs = fields.List(fields.String(), metadata={"description": "scanned GS1 element strings"})


class DispenseRequestSchema(Schema):
    ma_hoa_don = fields.String(metadata={"description": "invoice number (≤ 20 chars)"})
    items = fields.List(fields.Nested(DispenseItemSchema), required=True)


class DispenseAnswerSchema(Schema):
    dispense = fields.Dict()
    prescription = fields.Nested(PrescriptionResourceSchema)


def lifecycle() -> Lifecycle:
    return current_app.extensions["erx.lifecycle"]


def idempotency() -> IdempotencyStore:
    return current_app.extensions["erx.idempotency"]


def local_zone() -> Any:
    return current_app.extensions["erx.timezone"]


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(local_zone()).isoformat() if value is not None else None


def resource(stored: dict[str, Any], party: Party) -> dict[str, Any]:
    """The prescription resource as ``party`` may see it (API.md "A prescription resource")."""
    service = lifecycle()
    dispenses = []
    for dispense in stored.get("dispenses", []):
        own = party.role != "pharmacy" or dispense["pharmacy"] == party.code
        shown = {"id": dispense["id"], "pharmacy": dispense["pharmacy"],
                 "at": _iso(dispense["at"]), "items": dispense["items"]}
        if own:  # a pharmacy never sees another pharmacy's invoice numbers
            shown["ma_hoa_don"] = dispense.get("ma_hoa_don")
        dispenses.append(shown)
    cancellation = stored.get("cancellation")
    body: dict[str, Any] = {
        "ma_don_thuoc": stored["_id"], "status": service.effective_status(stored),
        "prescription": stored["document"],
        "lines": [{"index": line["index"], "ma_thuoc": line["ma_thuoc"],
                   "prescribed": line["prescribed"], "dispensed": line["dispensed"],
                   "remaining": line["prescribed"] - line["dispensed"]}
                  for line in stored["lines"]],
        "signature": stored["signature"], "warnings": stored.get("warnings", []),
        "dispenses": dispenses,
        "cancellation": ({"at": _iso(cancellation["at"]), "ly_do": cancellation["ly_do"]}
                         if cancellation else None),
        "issued_at": _iso(stored["issued_at"]),
        "dispensable_until": _iso(stored["dispensable_until"]),
    }
    return body


def _json(answer: Answer) -> Response:
    mimetype = PROBLEM_MEDIA_TYPE if answer.status >= 400 else "application/json"
    response = Response(json.dumps(answer.body, ensure_ascii=False), status=answer.status,
                        mimetype=mimetype)
    for name, value in answer.headers.items():
        response.headers[name] = value
    if answer.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def idempotent(scope: str, operation: Any) -> Response:
    party = current_party()
    fingerprint = request_fingerprint(request.method, request.path, request.get_data())
    return _json(idempotency().run(scope=f"{party.client_id}\x1f{scope}",
                                   key=request.headers.get("Idempotency-Key"),
                                   fingerprint=fingerprint, operation=operation))


def refused_error(refused: Refused) -> ApiError:
    return ApiError(422, slug="validation", title="Prescription is invalid",
                    errors=refused.errors, warnings=refused.warnings)


def submit_answer(raw: dict[str, Any], party: Party) -> Answer:
    """Submit and build the 201 answer (shared by the native and national endpoints)."""
    try:
        submitted = lifecycle().submit(raw, party)
    except Refused as refused:
        record_refusal(raw, refused)
        raise refused_error(refused) from None
    stored = submitted.stored
    if submitted.created:
        record("prescription.submitted", stored)
    location = url_for("prescriptions.get_prescription", code=stored["_id"])
    return Answer(201, resource(stored, party), {"Location": location})


@blp.route("/v2/prescriptions", methods=["POST"])
@blp.doc(requestBody={"required": True, "description": "the national prescription document "
                      "(NATIONAL-API.md); ma_don_thuoc may be omitted",
                      "content": {"application/json": {"schema": PrescriptionSchema}}},
         parameters=[{"in": "header", "name": "Idempotency-Key", "schema": {"type": "string"}}],
         responses={"422": {"description": "invalid: every problem with pointer and code",
                            "content": {PROBLEM_MEDIA_TYPE: {"schema": ProblemSchema}}},
                    "409": {"description": "code exists with other content; key reused"}})
@blp.response(201, PrescriptionResourceSchema)
@requires("clinic", "doctor")
def submit_prescription() -> Any:
    """Submit a prescription: validate, sign, store, forward."""
    party = current_party()
    raw = json_object()
    return idempotent("submit", lambda: submit_answer(raw, party))


@blp.route("/v2/prescriptions/<code>", methods=["GET"])
@blp.doc(responses=PRESCRIPTION_RESPONSES)
@blp.response(200, PrescriptionResourceSchema)
@requires("clinic", "doctor", "pharmacy", "regulator")
def get_prescription(code: str) -> Any:
    """Read one prescription by its code."""
    party = current_party()
    service = lifecycle()
    stored = service.get(code)
    service.authorize_read(stored, party)
    service.note_pharmacy_view(stored, party)
    record("prescription.viewed", stored)
    return resource(stored, party)


def _parse_time(name: str, raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), time(0),
                                    tzinfo=local_zone()).astimezone(timezone.utc)
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise bad_parameter(name, "an ISO 8601 date or date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=local_zone())
    return parsed.astimezone(timezone.utc)


@blp.route("/v2/prescriptions", methods=["GET"])
@blp.doc(parameters=[{"in": "query", "name": name, "schema": {"type": kind}}
                     for name, kind in (("facility", "string"), ("status", "string"),
                                        ("from", "string"), ("to", "string"),
                                        ("patient", "string"), ("cursor", "string"),
                                        ("limit", "integer"))])
@blp.response(200, PrescriptionPageSchema)
@requires("clinic", "doctor", "regulator")
def list_prescriptions() -> Any:
    """List prescriptions (own facility for clinics; all for regulators), newest first."""
    party = current_party()
    args = request.args
    unknown = sorted(set(args) - {"facility", "status", "from", "to", "patient", "cursor",
                                  "limit"})
    if unknown:
        raise bad_parameter(unknown[0], "no such parameter")
    try:
        limit = int(args.get("limit", 50))
    except ValueError:
        raise bad_parameter("limit", "a whole number from 1 to 200") from None
    if not 1 <= limit <= 200:
        raise bad_parameter("limit", "a whole number from 1 to 200")
    patient = args.get("patient")
    if patient is not None and not (len(patient) == 12 and patient.isdigit()):
        raise bad_parameter("patient", "a 12-digit CCCD")
    found, next_cursor = lifecycle().list(
        party, facility=args.get("facility"), status=args.get("status"),
        issued_from=_parse_time("from", args.get("from")),
        issued_to=_parse_time("to", args.get("to")), patient=patient,
        cursor=args.get("cursor"), limit=limit)
    return {"items": [resource(stored, party) for stored in found], "next_cursor": next_cursor}


@blp.route("/v2/prescriptions/<code>/cancel", methods=["POST"])
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": CancelSchema}}},
         responses={**PRESCRIPTION_RESPONSES,
                    "409": {"description": "fully dispensed, expired or already cancelled"}})
@blp.response(200, PrescriptionResourceSchema)
@requires("clinic", "doctor")
def cancel_prescription(code: str) -> Any:
    """Cancel what remains undispensed of a prescription (issuing facility)."""
    party = current_party()
    body = json_object()
    reason = body.get("ly_do")
    errors = []
    if not isinstance(reason, str) or not reason.strip():
        errors.append({"pointer": "/ly_do", "code": "cancel.reason_required",
                       "message": "Cần nêu lý do hủy đơn"})
    elif len(reason) > 2000:
        errors.append({"pointer": "/ly_do", "code": "rx.text_length",
                       "message": "Lý do tối đa 2.000 ký tự"})
    for name in sorted(set(body) - {"ly_do"}):
        errors.append({"pointer": f"/{name}", "code": "request.unknown_field",
                       "message": f"Trường không được hỗ trợ: {name}"})
    if errors:
        raise ApiError(422, errors=errors)
    stored = lifecycle().cancel(code, party, reason.strip())
    record("prescription.cancelled", stored)
    return resource(stored, party)


def dispense_answer(code: str, party: Party, body: dict[str, Any],
                    pharmacy_details: dict[str, Any] | None = None) -> Answer:
    """Dispense and build the 201 answer (shared by the native and national endpoints)."""
    key = request.headers.get("Idempotency-Key")
    dispense_id = dispense_id_for(party, key) if key else None
    try:
        stored, dispense = lifecycle().dispense(code, party, body, dispense_id=dispense_id,
                                                pharmacy_details=pharmacy_details)
    except ApiError as exc:
        if exc.status in (409, 422):
            audit.record("prescription.dispensed", outcome="failure", object_type="prescription",
                         object_id=code, details={"codes": sorted({e["code"] for e in exc.errors})})
        raise
    record("prescription.dispensed", stored, details={"dispense": dispense["id"]})
    shown = resource(stored, party)
    return Answer(201, {"dispense": next(d for d in shown["dispenses"]
                                         if d["id"] == dispense["id"]),
                        "prescription": shown})


@blp.route("/v2/prescriptions/<code>/dispenses", methods=["POST"])
@blp.doc(requestBody={"required": True,
                      "content": {"application/json": {"schema": DispenseRequestSchema}}},
         parameters=[{"in": "header", "name": "Idempotency-Key", "schema": {"type": "string"}}],
         responses={**PRESCRIPTION_RESPONSES,
                    "409": {"description": "not dispensable, over quantity, or a pack "
                                           "serial dispensed before"},
                    "422": {"description": "invalid dispense: every problem listed"}})
@blp.response(201, DispenseAnswerSchema)
@requires("pharmacy")
def dispense_prescription(code: str) -> Any:
    """Dispense part or all of a prescription (pharmacy), with scanned packs."""
    party = current_party()
    body = json_object()
    return idempotent(f"dispense\x1f{code}", lambda: dispense_answer(code, party, body))


# --- audit ------------------------------------------------------------------------------
def record(action: str, stored: dict[str, Any], *, outcome: str = "success",
           details: dict[str, Any] | None = None) -> None:
    """One audit event about a prescription; the patient only by keyed hash."""
    document = stored.get("document") or {}
    audit.record(action, outcome=outcome, object_type="prescription", object_id=stored["_id"],
                 content_sha256=stored.get("content_sha256"),
                 patient_id=document.get("ma_dinh_danh_cong_dan"), details=details)


def record_refusal(raw: dict[str, Any], refused: Refused) -> None:
    """``prescription.refused`` with the error codes, never the document."""
    code = raw.get("ma_don_thuoc")
    known = isinstance(code, str) and 0 < len(code) <= 64
    audit.record("prescription.refused", outcome="failure",
                 object_type="prescription" if known else None,
                 object_id=code if known else None,
                 details={"codes": sorted({e["code"] for e in refused.errors})})


# --- wiring -----------------------------------------------------------------------------
def _validator(app: Flask, policy: Policy) -> Any:
    def validate(raw: Any, facility: str | None, now: datetime
                 ) -> tuple[dict[str, Any] | None, list[dict[str, str]], list[dict[str, str]]]:
        result = validate_prescription(raw, catalog=app.extensions["erx.catalog"], policy=policy,
                                       facility_code=facility, now=now)
        errors = [issue.to_dict() for issue in result.errors]
        warnings = [issue.to_dict() for issue in result.warnings]
        document = result.document
        if document is not None:
            try:
                signatures.check_prescriber({**document, "signature": result.signature}, now=now)
            except PrescriberSignatureError as exc:
                errors.append({"pointer": "/signature", "code": "signature.prescriber_invalid",
                               "message": f"Chữ ký số của người kê đơn không hợp lệ: {exc}",
                               "reason": exc.reason})
                document = None
        return document, errors, warnings

    return validate


def _seal(document: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The content hash and the gateway signature, from one RFC 8785 form of the document."""
    canonical = canonicalize(document)
    signer = signatures.signer()
    return (hashlib.sha256(canonical).hexdigest(),
            {"alg": signer.alg, "kid": signer.kid, "jws": signer.sign_detached(canonical)})


def init_app(app: Flask) -> None:
    try:
        policy = Policy.from_mapping(app.config)
    except PolicyError as exc:
        raise ConfigError(f"validation policy: {exc}") from None
    zone = ZoneInfo(app.config["TIMEZONE"])
    app.extensions["erx.timezone"] = zone
    database = app.extensions["erx.storage"].database
    app.extensions["erx.lifecycle"] = Lifecycle(
        database, catalog=app.extensions["erx.catalog"], validate=_validator(app, policy),
        seal=_seal,
        dispensable_until=lambda document, now: dispensable_until(document, policy)
        .astimezone(timezone.utc),
        patient_key=lambda cccd: audit.patient_hash(cccd),
        settings=Settings(timezone=zone, pack_reservation_grace=timedelta(
            seconds=app.config["PACK_RESERVATION_GRACE_SECONDS"])))
    app.extensions["erx.idempotency"] = IdempotencyStore(
        database["idempotency"], ttl_seconds=app.config["IDEMPOTENCY_TTL_SECONDS"])
