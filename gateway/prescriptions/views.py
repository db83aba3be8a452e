"""Native prescription endpoints (README "Prescriptions") over the prescription services."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from gateway.core import dates
from gateway.core.errors import bad_parameter
from gateway.prescriptions.answers import (
    cancel_answer,
    dispense_answer,
    idempotent,
    looked_up,
    submit_answer,
    view_of,
    viewed,
)
from gateway.prescriptions.model import STATUSES
from gateway.web.context import services
from gateway.web.http import json_object
from gateway.web.openapi import errors
from gateway.web.security import current_party, requires
from schemas.document import PrescriptionSchema

blp = Blueprint("prescriptions", __name__, description="Submit, read, list, dispense, cancel")

PRESCRIPTION_RESPONSES = errors({403: "another facility's prescription, or a role that may "
                                      "not do this",
                                 404: "no prescription has this code"})
LOOKUP_RESPONSES = {
    **PRESCRIPTION_RESPONSES,
    **errors({409: "`qr.content_changed`: a genuine printed QR code whose prescription no longer "
                   "has the content it was printed with",
              422: "QR text that is not a genuine prescription QR: `qr.unreadable`, `qr.forged` "
                   "(bad signature, unknown key) or `qr.not_prescription`"})}
CODE = {"in": "path", "name": "code", "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": 64},
        "description": "the prescription code (`ma_don_thuoc`, 14 characters: docs/identifiers.md)"}
CODE_OR_QR = {"in": "path", "name": "code", "required": True,
              "schema": {"type": "string", "minLength": 1, "maxLength": 2048},
              "description": "the prescription code (`ma_don_thuoc`), or the text of the QR "
                             "code printed on the prescription (a compact JWS, README "
                             "\"Printable prescription\")"}
IDEMPOTENCY_KEY = {"in": "header", "name": "Idempotency-Key", "required": False,
                   "schema": {"type": "string", "pattern": "^[!-~]{1,255}$"},
                   "description": "1-255 visible ASCII characters: the same key and body within "
                                  "`ERX_IDEMPOTENCY_TTL_SECONDS` get the first answer again "
                                  "(`Idempotent-Replayed: true`); another body is 409"}
#: After a submit: read it, dispense it (a pharmacy), cancel it (the issuing facility).
SUBMIT_LINKS = {
    "GetPrescription": {"operationRef": "#/paths/~1v2~1prescriptions~1{code}/get",
                        "parameters": {"code": "$response.body#/ma_don_thuoc"},
                        "description": "read the prescription just issued"},
    "DispensePrescription": {
        "operationRef": "#/paths/~1v2~1prescriptions~1{code}~1dispenses/post",
        "parameters": {"code": "$response.body#/ma_don_thuoc"},
        "description": "a pharmacy dispenses it"},
    "CancelPrescription": {"operationRef": "#/paths/~1v2~1prescriptions~1{code}~1cancel/post",
                           "parameters": {"code": "$response.body#/ma_don_thuoc"},
                           "description": "the issuing facility cancels what remains"},
}
_QUANTITY = {"description": "a quantity: an integer when whole (`20`, never `20.0`), else a "
                            "decimal (measured units only)"}


class LineSchema(Schema):
    index = fields.Integer(metadata={"description": "0-based position in "
                                                    "`prescription.thong_tin_don_thuoc`"})
    ma_thuoc = fields.String(metadata={"description": "national drug code"})
    prescribed = fields.Float(metadata=_QUANTITY)
    dispensed = fields.Float(metadata=_QUANTITY)
    remaining = fields.Float(metadata=_QUANTITY)


class SignatureSchema(Schema):
    alg = fields.String(metadata={"enum": ["EdDSA", "ES256"]})
    kid = fields.String(metadata={"description": "RFC 7638 thumbprint of the key in "
                                                "/.well-known/jwks.json"})
    jws = fields.String(metadata={"description": "detached compact JWS over the RFC 8785 form "
                                                "of `prescription`"})


class IssueSchema(Schema):
    pointer = fields.String()
    code = fields.String()
    message = fields.String()


class DispensedItemSchema(Schema):
    line = fields.Integer(metadata={"description": "0-based line"})
    ma_thuoc = fields.String(metadata={"description": "national code of the product sold"})
    ma_thuoc_da_ke_don = fields.String(metadata={"description": "national code prescribed"})
    so_luong_ban = fields.Float(metadata=_QUANTITY)
    substituted = fields.Boolean()
    packs = fields.List(fields.String(), metadata={"description": "`GTIN:serial` of each "
                                                                 "scanned pack"})


class DispenseRecordSchema(Schema):
    id = fields.String()
    pharmacy = fields.String(metadata={"description": "the pharmacy's code"})
    at = fields.String(metadata={"format": "date-time",
                                 "description": "ISO 8601 in ERX_TIMEZONE (+07:00)"})
    items = fields.List(fields.Nested(DispensedItemSchema))
    ma_hoa_don = fields.String(allow_none=True, metadata={
        "description": "invoice number; shown only to the pharmacy that dispensed"})


class CancellationSchema(Schema):
    at = fields.String(metadata={"format": "date-time"})
    ly_do = fields.String()


class PrescriptionResourceSchema(Schema):
    ma_don_thuoc = fields.String()
    status = fields.String(metadata={"enum": list(STATUSES)})
    prescription = fields.Dict(metadata={"description": "the normalised national document "
                                                        "(docs/national-api.md)"})
    lines = fields.List(fields.Nested(LineSchema))
    signature = fields.Nested(SignatureSchema)
    warnings = fields.List(fields.Nested(IssueSchema))
    dispenses = fields.List(fields.Nested(DispenseRecordSchema))
    cancellation = fields.Nested(CancellationSchema, allow_none=True)
    issued_at = fields.String(metadata={"format": "date-time",
                                        "description": "ISO 8601 in ERX_TIMEZONE (+07:00)"})
    dispensable_until = fields.String(metadata={"format": "date-time"})


class PrescriptionPageSchema(Schema):
    items = fields.List(fields.Nested(PrescriptionResourceSchema))
    next_cursor = fields.String(allow_none=True, metadata={
        "description": "pass as `cursor` for the next page; null on the last"})


# Months 01-12, days 01-31, hours 00-23, minutes and seconds 00-59, offsets to +-23:59 (a
# day that its month lacks, such as 31 April, is the only date of this shape refused: 422).
_TIME_PATTERN = (r"^(?!0000)[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
                 r"(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
                 r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?)?$")


class PrescriptionQuerySchema(Schema):
    facility = fields.String(validate=validate.Regexp(r"^[0-9A-Za-z]{5}$"), metadata={
        "description": "a facility code (regulators; a clinic may name only its own)"})
    status = fields.String(validate=validate.OneOf(STATUSES))
    from_ = fields.String(data_key="from", validate=validate.Regexp(_TIME_PATTERN), metadata={
        "description": "issued at or after: an ISO date (midnight in ERX_TIMEZONE) or "
                       "date-time (without an offset: ERX_TIMEZONE)", "example": "2026-03-01"})
    to = fields.String(validate=validate.Regexp(_TIME_PATTERN), metadata={
        "description": "issued before (exclusive), as `from`; must be after `from`"})
    patient = fields.String(validate=validate.Regexp(r"^[0-9]{12}$"), metadata={
        "description": "the patient's CCCD (12 digits)"})
    cursor = fields.String(validate=validate.Length(min=1, max=512), metadata={
        "description": "next_cursor of the previous page"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200),
                           metadata={"description": "page size"})


class CancelSchema(Schema):
    ly_do = fields.String(required=True, validate=[validate.Length(min=1, max=2000),
                                                   validate.Regexp(r"\S")],
                          metadata={"description": "reason for cancelling: not blank, at most "
                                                   "2,000 characters"})


class DispenseItemSchema(Schema):
    line = fields.Integer(required=True, validate=validate.Range(min=0, max=49), metadata={
        "description": "which drug line: its 0-based position in `thong_tin_don_thuoc` (the "
                       "first line is 0; `lines[].index` of the resource)"})
    ma_thuoc = fields.String(validate=validate.Length(min=1, max=200), metadata={
        "description": "the product sold when it is not the prescribed one: a substitute of the "
                       "same composition (never for narcotics); national code, registration "
                       "number or GTIN"})
    so_luong_ban = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False),
                                metadata={"description": "quantity sold now (> 0); the total "
                                                         "sold never exceeds the prescribed"})
    packs = fields.List(fields.String(validate=validate.Length(min=1, max=200)), metadata={
        "description": "scanned GS1 element strings of the packs sold, e.g. "
                       "`(01)08930000000453(17)280630(10)L-77(21)SN123`; each serial is "
                       "dispensed once system-wide"})


class DispenseRequestSchema(Schema):
    ma_hoa_don = fields.String(validate=validate.Length(max=20), metadata={
        "description": "invoice number, at most 20 characters"})
    items = fields.List(fields.Nested(DispenseItemSchema), required=True,
                        validate=validate.Length(min=1, max=50))


class DispenseAnswerSchema(Schema):
    dispense = fields.Nested(DispenseRecordSchema)
    prescription = fields.Nested(PrescriptionResourceSchema)


@blp.route("/v2/prescriptions", methods=["POST"])
@blp.doc(requestBody={"required": True, "description": "the national prescription document "
                      "(docs/national-api.md); ma_don_thuoc may be omitted",
                      "content": {"application/json": {"schema": PrescriptionSchema}}},
         parameters=[IDEMPOTENCY_KEY],
         responses={**errors({422: "invalid: every problem with its pointer and code (and the "
                                   "`warnings` it would also have had)",
                              409: "`rx.code_exists`: the code exists with other content; or "
                                   "the Idempotency-Key was used for another body"}),
                    "201": {"description": "issued", "links": SUBMIT_LINKS,
                            "headers": {"Location": {"schema": {"type": "string"},
                                                     "description": "the prescription's URL"}}}})
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
    service = services().reading
    stored, details = looked_up(code)
    service.authorize_read(stored, party)
    viewed(stored, party, details)
    return view_of(stored, party)


def _parse_time(name: str, raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        parsed = (datetime.combine(date.fromisoformat(raw), time(0)) if len(raw) == 10
                  else datetime.fromisoformat(raw))
    except ValueError:
        raise bad_parameter(name, "an ISO 8601 date or date-time",
                            "Phải là ngày hoặc thời điểm ISO 8601") from None
    if not dates.in_range(parsed):  # before shifting it: day one in +07:00 has no UTC form
        raise bad_parameter(name, dates.RANGE_TEXT, dates.RANGE_TEXT_VI)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=services().timezone)
    return parsed.astimezone(UTC)


@blp.route("/v2/prescriptions", methods=["GET"])
@requires("clinic", "doctor", "regulator")
@blp.arguments(PrescriptionQuerySchema, location="query", as_kwargs=False, unknown=RAISE)
@blp.response(200, PrescriptionPageSchema)
@blp.doc(responses=errors({403: "a pharmacy or admin, or a clinic naming another facility"}))
def list_prescriptions(args: dict[str, Any]) -> Any:
    """List prescriptions (own facility for clinics; all for regulators), newest first."""
    party = current_party()
    issued_from = _parse_time("from", args.get("from_"))
    issued_to = _parse_time("to", args.get("to"))
    if issued_from is not None and issued_to is not None and issued_from >= issued_to:
        raise bad_parameter("to", "a time after from", "Phải sau `from`")
    found, next_cursor = services().reading.list(
        party, facility=args.get("facility"), status=args.get("status"),
        issued_from=issued_from, issued_to=issued_to, patient=args.get("patient"),
        cursor=args.get("cursor"), limit=args["limit"])
    return {"items": [view_of(stored, party) for stored in found], "next_cursor": next_cursor}


@blp.route("/v2/prescriptions/<code>/cancel", methods=["POST"])
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": CancelSchema}}},
         parameters=[CODE],
         responses={**PRESCRIPTION_RESPONSES, **errors({
             409: "`rx.state`: fully dispensed, expired or already cancelled",
             422: "`cancel.reason_required` (blank `ly_do`), `rx.text_length`, "
                  "`request.unknown_field`"})})
@blp.response(200, PrescriptionResourceSchema)
@requires("clinic", "doctor")
def cancel_prescription(code: str) -> Any:
    """Cancel what remains undispensed of a prescription (issuing facility)."""
    party = current_party()
    return view_of(cancel_answer(code, party, json_object()), party)


@blp.route("/v2/prescriptions/<code>/dispenses", methods=["POST"])
@blp.doc(requestBody={"required": True,
                      "content": {"application/json": {"schema": DispenseRequestSchema}}},
         parameters=[CODE, IDEMPOTENCY_KEY],
         responses={**PRESCRIPTION_RESPONSES, **errors({
             403: "not a pharmacy, or `dispense.not_nominated`: the prescription nominates "
                  "another pharmacy",
             409: "`rx.state` (cancelled, expired, dispensed), `dispense.over_quantity`, "
                  "`dispense.serial_reused`, `dispense.limit` (too many dispenses), or the "
                  "Idempotency-Key was used for another body",
             422: "invalid dispense: every problem listed (`dispense.line`, "
                  "`dispense.quantity`, `dispense.substitution`, `dispense.pack_*`...)"})})
@blp.response(201, DispenseAnswerSchema)
@requires("pharmacy")
def dispense_prescription(code: str) -> Any:
    """Dispense part or all of a prescription (pharmacy), with scanned packs."""
    party = current_party()
    body = json_object()
    return idempotent(f"dispense\x1f{code}", lambda: dispense_answer(code, party, body))
