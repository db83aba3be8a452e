"""Native prescription endpoints (README "Prescriptions") over the lifecycle service."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from flask import request
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from gateway.core.context import services
from gateway.core.errors import bad_parameter
from gateway.core.http import json_object
from gateway.core.problems import PROBLEM_MEDIA_TYPE, ProblemSchema
from gateway.prescriptions.answers import (
    cancel_answer,
    dispense_answer,
    idempotent,
    looked_up,
    submit_answer,
    view_of,
    viewed,
)
from gateway.web.security import current_party, requires
from schemas.document import PrescriptionSchema

blp = Blueprint("prescriptions", __name__, description="Submit, read, list, dispense, cancel")

PRESCRIPTION_RESPONSES = {"401": {"description": "no or invalid token"},
                          "403": {"description": "another facility's prescription or wrong role"},
                          "404": {"description": "unknown prescription"}}
LOOKUP_RESPONSES = {
    **PRESCRIPTION_RESPONSES,
    "409": {"description": "`qr.content_changed`: a genuine printed QR code whose prescription "
                           "no longer has the content it was printed with",
            "content": {PROBLEM_MEDIA_TYPE: {"schema": ProblemSchema}}},
    "422": {"description": "QR text that is not a genuine prescription QR: `qr.unreadable`, "
                           "`qr.forged` (bad signature, unknown key) or `qr.not_prescription`",
            "content": {PROBLEM_MEDIA_TYPE: {"schema": ProblemSchema}}}}
CODE_OR_QR = {"in": "path", "name": "code", "required": True, "schema": {"type": "string"},
              "description": "the prescription code (`ma_don_thuoc`), or the text of the QR "
                             "code printed on the prescription (a compact JWS, README "
                             "\"Printable prescription\")"}


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


@blp.route("/v2/prescriptions", methods=["POST"])
@blp.doc(requestBody={"required": True, "description": "the national prescription document "
                      "(docs/national-api.md); ma_don_thuoc may be omitted",
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
@blp.doc(responses=LOOKUP_RESPONSES, parameters=[CODE_OR_QR])
@blp.response(200, PrescriptionResourceSchema)
@requires("clinic", "doctor", "pharmacy", "regulator")
def get_prescription(code: str) -> Any:
    """Read one prescription by its code, or by the text of its printed QR code."""
    party = current_party()
    service = services().lifecycle
    stored, details = looked_up(code)
    service.authorize_read(stored, party)
    viewed(stored, party, details)
    return view_of(stored, party)


def _parse_time(name: str, raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), time(0),
                                    tzinfo=services().timezone).astimezone(UTC)
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise bad_parameter(name, "an ISO 8601 date or date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=services().timezone)
    return parsed.astimezone(UTC)


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
    found, next_cursor = services().lifecycle.list(
        party, facility=args.get("facility"), status=args.get("status"),
        issued_from=_parse_time("from", args.get("from")),
        issued_to=_parse_time("to", args.get("to")), patient=patient,
        cursor=args.get("cursor"), limit=limit)
    return {"items": [view_of(stored, party) for stored in found], "next_cursor": next_cursor}


@blp.route("/v2/prescriptions/<code>/cancel", methods=["POST"])
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": CancelSchema}}},
         responses={**PRESCRIPTION_RESPONSES,
                    "409": {"description": "fully dispensed, expired or already cancelled"}})
@blp.response(200, PrescriptionResourceSchema)
@requires("clinic", "doctor")
def cancel_prescription(code: str) -> Any:
    """Cancel what remains undispensed of a prescription (issuing facility)."""
    party = current_party()
    return view_of(cancel_answer(code, party, json_object()), party)


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
