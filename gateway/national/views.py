"""National-compatible endpoints (docs/national-api.md): the national paths, bodies and answer
shapes over the same core as the native endpoints, so an HIS or pharmacy client written for
the national system only changes its base URL.

- ``POST /api/v1/gui-don-thuoc`` answers ``{"success", "checksum", "error"}``; ``error`` maps a
  field path (``thong_tin_don_thuoc.1.ma_thuoc``) to its messages, each prefixed by the stable
  rule code in brackets. ``checksum`` is the SHA-256 of the canonical (RFC 8785) document, the
  same as the gateway signature's content hash.
- The pharmacy endpoints accept a bearer token or ``app-name`` / ``app-key`` and answer errors
  as ``{"danh_sach_cac_loi": [...]}``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from flask import jsonify, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from werkzeug.exceptions import HTTPException

from gateway.core.errors import Conflict, DomainError, Invalid, NotFound, PharmacyIdentity
from gateway.parties.model import Party, Role
from gateway.prescriptions.answers import dispense_answer, idempotent, looked_up, submit_answer, viewed
from gateway.prescriptions.dispensing import item_problems, sold_items, unknown_fields
from gateway.prescriptions.model import STATUSES, StoredPrescription
from gateway.web.context import services
from gateway.web.http import json_object
from gateway.web.openapi import EDGE_STATUSES, national_errors
from gateway.web.problems import ApiError, from_http_exception, handle_exception, to_problem
from gateway.web.security import current_party, requires
from schemas.document import PrescriptionSchema
from schemas.national import to_national, whole
from signing.canonical import canonicalize

blp = Blueprint("national", __name__, description="National-compatible endpoints")

PHARMACY_FIELDS = ("ma_dinh_danh_co_so_cung_ung_thuoc", "ten_co_so_cung_ung_thuoc",
                   "so_dien_thoai_co_so_cung_ung_thuoc", "dia_chi_co_so_cung_ung_thuoc")
PHARMACY_FIELD_MAX = 500
DISPENSE_FIELDS = {"ma_don_thuoc", "thong_tin_thuoc", "ma_dinh_danh_co_so_cung_ung_thuoc",
                   "ten_co_so_cung_ung_thuoc", "so_dien_thoai_co_so_cung_ung_thuoc",
                   "dia_chi_co_so_cung_ung_thuoc", "ma_hoa_don"}
ITEM_FIELDS = {"ma_thuoc_da_ke_don", "ma_thuoc", "biet_duoc", "ten_thuoc", "don_vi_tinh",
               "so_luong", "so_luong_ban", "cach_dung"}


_ERROR_MAP = {"description": "field path (`thong_tin_don_thuoc.0.ma_thuoc`; `don_thuoc`: the "
                             "whole document) -> messages, each starting with its stable code "
                             "in brackets: `[drug.unknown] ...`"}


class SubmitAnswerSchema(Schema):
    success = fields.Boolean(required=True)
    checksum = fields.String(required=True, allow_none=True, metadata={
        "description": "SHA-256 (hex) of the RFC 8785 form of the stored document; null when "
                       "refused"})
    error = fields.Dict(required=True, keys=fields.String(), values=fields.List(fields.String()),
                        metadata=_ERROR_MAP)
    ma_don_thuoc = fields.String(metadata={
        "description": "gateway addition: the prescription's code (it may have been generated)"})


class PharmacyErrorSchema(Schema):
    danh_sach_cac_loi = fields.List(fields.String(), required=True, metadata={
        "description": "messages, each starting with its stable code in brackets"})


class DispenseReportAnswerSchema(Schema):
    success = fields.Boolean(required=True, metadata={"enum": [True]})
    danh_sach_cac_loi = fields.List(fields.String(), required=True, metadata={"maxItems": 0})


class NationalDispenseItemSchema(Schema):
    ma_thuoc_da_ke_don = fields.String(validate=validate.Length(min=1, max=200), metadata={
        "description": "the prescribed drug: the line's national code, the identifier the "
                       "prescriber sent, or any identifier of the same product (required unless "
                       "`ma_thuoc` names it)"})
    ma_thuoc = fields.String(validate=validate.Length(min=1, max=200), metadata={
        "description": "the drug sold: the prescribed one, or a substitute of the same "
                       "composition (`dispense.substitution`)"})
    biet_duoc = fields.String(metadata={"description": "accepted, not used"})
    ten_thuoc = fields.String(metadata={"description": "accepted, not used"})
    don_vi_tinh = fields.String(metadata={"description": "accepted, not used"})
    so_luong = fields.Float(metadata={"description": "prescribed quantity; accepted, not used"})
    so_luong_ban = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False),
                                 metadata={"description": "quantity sold now"})
    cach_dung = fields.String(metadata={"description": "accepted, not used"})


class NationalDispenseReportSchema(Schema):
    """The national dispense report (docs/national-api.md, "Dispense report")."""

    ma_don_thuoc = fields.String(required=True, validate=validate.Length(min=1, max=64))
    ma_hoa_don = fields.String(validate=validate.Length(max=20), metadata={
        "description": "invoice number, at most 20 characters"})
    ma_dinh_danh_co_so_cung_ung_thuoc = fields.String(validate=validate.Length(max=500), metadata={
        "description": "when sent, the caller's own pharmacy code (another is 403 "
                       "`dispense.pharmacy_identity`); the report forwarded to the registry "
                       "names the pharmacy from its party record"})
    ten_co_so_cung_ung_thuoc = fields.String(validate=validate.Length(max=500), metadata={
        "description": "checked, not kept (the party record is reported)"})
    so_dien_thoai_co_so_cung_ung_thuoc = fields.String(validate=validate.Length(max=500))
    dia_chi_co_so_cung_ung_thuoc = fields.String(validate=validate.Length(max=500))
    thong_tin_thuoc = fields.List(fields.Nested(NationalDispenseItemSchema), required=True,
                                  validate=validate.Length(min=1))


class NationalLineSchema(Schema):
    ma_thuoc = fields.String(required=True, metadata={"description": "as the clinic sent it"})
    biet_duoc = fields.String()
    ten_thuoc = fields.String()
    don_vi_tinh = fields.String(required=True)
    so_luong = fields.Float(required=True, metadata={
        "description": "prescribed quantity (an integer when whole)"})
    cach_dung = fields.String(required=True)
    so_luong_da_ban = fields.Float(required=True, metadata={
        "description": "gateway addition: sold so far"})
    so_luong_con_lai = fields.Float(required=True, metadata={
        "description": "gateway addition: still to be sold"})


class NationalDiagnosisSchema(Schema):
    ma_chan_doan = fields.String(required=True, metadata={"example": "J06.9"})
    ten_chan_doan = fields.String()
    ket_luan = fields.String()


class NationalPeriodSchema(Schema):
    dot = fields.Integer(required=True)
    tu_ngay = fields.String(required=True, metadata={"description": "dd/mm/yyyy",
                                                     "example": "01/03/2026"})
    den_ngay = fields.String(required=True, metadata={"description": "dd/mm/yyyy"})


class NationalLookupSchema(Schema):
    """The national document in its wire format (`to_national`), plus the issuer and the
    gateway's additions (docs/national-api.md, "Pharmacy lookup")."""

    ma_don_thuoc = fields.String(required=True)
    loai_don_thuoc = fields.String(required=True, metadata={"enum": ["c", "n", "h", "y"]})
    ho_ten_benh_nhan = fields.String(required=True)
    ma_dinh_danh_y_te = fields.String()
    ma_dinh_danh_cong_dan = fields.String()
    ngay_sinh_benh_nhan = fields.String(required=True, metadata={"description": "dd/mm/yyyy"})
    can_nang = fields.Float()
    gioi_tinh = fields.Integer(required=True, metadata={"enum": [1, 2, 3]})
    ma_so_the_bao_hiem_y_te = fields.String()
    thong_tin_nguoi_giam_ho = fields.String()
    dia_chi = fields.String()
    chan_doan = fields.List(fields.Nested(NationalDiagnosisSchema), required=True)
    luu_y = fields.String()
    hinh_thuc_dieu_tri = fields.Integer(metadata={"enum": [1, 2, 3]})
    dot_dung_thuoc = fields.List(fields.Nested(NationalPeriodSchema), required=True)
    thong_tin_don_thuoc = fields.List(fields.Nested(NationalLineSchema), required=True)
    loi_dan = fields.String()
    so_dien_thoai_nguoi_kham_benh = fields.String()
    ngay_tai_kham = fields.Integer(metadata={"description": "days after prescribing"})
    ngay_gio_ke_don = fields.String(required=True, metadata={
        "description": "yyyy-mm-dd HH:MM:SS, Vietnam time (UTC+07:00)",
        "example": "2026-03-01 09:30:00"})
    signature = fields.String(required=True, metadata={"description": "the prescriber's, as sent"})
    ten_bac_si = fields.String(required=True)
    ten_co_so_kham_chua_benh = fields.String(required=True)
    so_dien_thoai_co_so_kham_chua_benh = fields.String(required=True)
    trang_thai = fields.String(required=True, metadata={"enum": list(STATUSES)})
    canh_bao = fields.Dict(required=True, keys=fields.String(),
                           values=fields.List(fields.String()), metadata=_ERROR_MAP)


_SUBMIT_ERRORS = national_errors(SubmitAnswerSchema, 400, 401, 403, 413, 415, {
    409: "`rx.code_exists`: the code exists with other content; or the Idempotency-Key was used "
         "for another body",
    422: "the document breaks rules: `error` names every field"})
_PHARMACY_ERRORS = national_errors(PharmacyErrorSchema, 401, 403, {
    404: "no prescription has this code"})
_LOOKUP_ERRORS = {**_PHARMACY_ERRORS, **national_errors(PharmacyErrorSchema, {
    409: "[qr.content_changed] the prescription changed since it was printed",
    422: "[qr.unreadable], [qr.forged] or [qr.not_prescription]: QR text that is not a "
         "genuine prescription QR"})}
_REPORT_ERRORS = {**_PHARMACY_ERRORS, **national_errors(PharmacyErrorSchema, 400, 413, 415, {
    403: "not a pharmacy; `dispense.pharmacy_identity` (the report names another pharmacy) or "
         "`dispense.not_nominated` (the prescription nominates another pharmacy)",
    409: "not dispensable (cancelled, expired, fully dispensed), over quantity, or the "
         "Idempotency-Key was used for another body",
    422: "the report breaks rules (unknown line, quantity, substitution, invoice)"})}
_IDEMPOTENCY_KEY = {"in": "header", "name": "Idempotency-Key", "required": False,
                    "schema": {"type": "string", "pattern": "^[!-~]{1,255}$"},
                    "description": "retry safely: the same key and body get the first answer "
                                   "again (README \"Prescriptions\")"}


def field_path(pointer: str) -> str:
    """``/thong_tin_don_thuoc/1/ma_thuoc`` -> ``thong_tin_don_thuoc.1.ma_thuoc``."""
    parts = [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:]]
    return ".".join(parts) or "don_thuoc"


def national_error_map(errors: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    mapped: dict[str, list[str]] = {}
    for item in errors:
        mapped.setdefault(field_path(item.get("pointer", "")), []).append(
            f"[{item['code']}] {item['message']}")
    return mapped


def _problem(exc: ApiError | DomainError) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    problem = to_problem(exc)
    assert problem is not None  # every DomainError has an entry in the table
    return problem


def _pharmacy_errors(exc: ApiError | DomainError) -> Any:
    return national_error(exc)


@blp.route("/api/v1/gui-don-thuoc", methods=["POST"])
@blp.doc(requestBody={"required": True, "content": {"application/json": {
    "schema": PrescriptionSchema}}}, parameters=[_IDEMPOTENCY_KEY], responses=_SUBMIT_ERRORS)
@blp.response(200, SubmitAnswerSchema)
@requires("doctor", "clinic")
def gui_don_thuoc() -> Any:
    """Send one prescription (national shape)."""
    party = current_party()
    raw = json_object()
    try:
        response = idempotent("submit", lambda: submit_answer(raw, party))
    except (ApiError, Conflict, Invalid) as exc:
        problem = _problem(exc)
        if problem.status in (409, 422):
            return jsonify({"success": False, "checksum": None,
                            "error": national_error_map(problem.errors) or
                            {"don_thuoc": [problem.detail or problem.title]}}), problem.status
        raise
    if response.status_code >= 400:  # a kept refusal, replayed for the same Idempotency-Key
        body = response.get_json()
        return jsonify({"success": False, "checksum": None,
                        "error": national_error_map(body.get("errors", []))}), response.status_code
    answer = response.get_json()
    # The checksum is the SHA-256 of the RFC 8785 form of the stored document, which the
    # answer carries: no second read of the prescription.
    checksum = hashlib.sha256(canonicalize(answer["prescription"])).hexdigest()
    return jsonify({"success": True, "checksum": checksum, "error": {},
                    "ma_don_thuoc": answer["ma_don_thuoc"]})


@blp.route("/api/v1/thong-tin-don-thuoc/<code>", methods=["GET"])
@blp.doc(security=[{"bearerAuth": []}, {"appKey": [], "appName": []}], parameters=[{
    "in": "path", "name": "code", "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 2048},
    "description": "ma_don_thuoc, or the text of the QR code printed on the prescription"}],
    responses=_LOOKUP_ERRORS)
@blp.response(200, NationalLookupSchema)
@requires("pharmacy")
def thong_tin_don_thuoc(code: str) -> Any:
    """Look a prescription up by its code or its printed QR text (pharmacy, national shape)."""
    party = current_party()
    service = services().reading
    try:
        stored, details = looked_up(code)
    except (NotFound, Invalid, Conflict) as exc:
        return _pharmacy_errors(exc)
    viewed(stored, party, details)
    # The national document through the one mapping, then what a pharmacy also needs.
    answer = to_national(stored["document"], signature=stored.get("prescriber_signature") or "",
                         utc_offset_minutes=services().settings.rx_utc_offset_minutes)
    answer.update(_issuer(stored))
    answer["trang_thai"] = service.effective_status(stored)
    answer["canh_bao"] = national_error_map(stored.get("warnings", []))
    answer["thong_tin_don_thuoc"] = [
        {**line, "so_luong_da_ban": whole(state["dispensed"]),
         "so_luong_con_lai": whole(state["prescribed"] - state["dispensed"])}
        for line, state in zip(answer["thong_tin_don_thuoc"], stored["lines"], strict=True)]
    return jsonify(answer)



def national_error(exc: Exception) -> Any:
    """Every 4xx of a national endpoint in the national shape (docs/national-api.md): the
    submit answer with its error map for ``gui-don-thuoc``, ``danh_sach_cac_loi`` for the
    pharmacy calls. 5xx and the request edge's 414 and 431 stay problem+json. The composition
    root hands it to :func:`gateway.web.problems.init_app` for this blueprint."""
    if isinstance(exc, ApiError):
        problem = exc
    elif isinstance(exc, HTTPException):
        if (exc.code or 500) >= 500:
            return handle_exception(exc)
        problem = from_http_exception(exc)
    else:
        found = to_problem(exc)
        if found is None:
            raise exc
        problem = found
    if problem.status >= 500 or problem.status in EDGE_STATUSES:
        return problem.response()  # the request edge's (URL, headers) and server errors
    if request.endpoint == "national.gui_don_thuoc":
        answer: Any = jsonify({"success": False, "checksum": None,
                               "error": national_error_map(problem.errors) or
                               {"don_thuoc": [_summary(problem)]}})
    else:
        messages = [f"[{item['code']}] {item['message']}" for item in problem.errors]
        answer = jsonify({"danh_sach_cac_loi": messages or [_summary(problem)]})
    return answer, problem.status, problem.headers


def _summary(problem: ApiError) -> str:
    body = problem.body()
    return f"[{problem.slug}] {body['title']}" + (f": {body['detail']}" if body.get("detail") else "")


def _issuer(stored: StoredPrescription) -> dict[str, str]:
    """Who issued it, from the parties: the prescribing doctor's name (empty when the facility
    itself submitted: the gateway does not know which of its doctors prescribed), the
    facility's name and phone."""
    store = services().parties
    clinic = store.find_national(stored["facility"])
    doctor = store.get(stored["issuer"]) if stored.get("issuer_role") == Role.DOCTOR else None
    return {"ten_bac_si": doctor.name if doctor else "",
            "ten_co_so_kham_chua_benh": clinic.name if clinic else "",
            "so_dien_thoai_co_so_kham_chua_benh": (clinic.phone or "") if clinic else ""}


@blp.route("/api/v1/cap-nhat-don-thuoc", methods=["POST"])
@blp.doc(security=[{"bearerAuth": []}, {"appKey": [], "appName": []}], parameters=[_IDEMPOTENCY_KEY],
         requestBody={"required": True, "content": {"application/json": {
             "schema": NationalDispenseReportSchema}}}, responses=_REPORT_ERRORS)
@blp.response(200, DispenseReportAnswerSchema)
@requires("pharmacy")
def cap_nhat_don_thuoc() -> Any:
    """Report what was sold against a prescription (pharmacy, national shape)."""
    party = current_party()
    body = json_object()
    try:
        code, native = _native_dispense(body, party)
        response = idempotent(f"dispense\x1f{code}", lambda: dispense_answer(code, party, native))
    except (ApiError, DomainError) as exc:
        return _pharmacy_errors(exc)
    if response.status_code >= 400:
        kept = response.get_json()
        return jsonify({"danh_sach_cac_loi": [f"[{e['code']}] {e['message']}"
                                              for e in kept.get("errors", [])]}), response.status_code
    return jsonify({"success": True, "danh_sach_cac_loi": []})


def _native_dispense(body: dict[str, Any], party: Party) -> tuple[str, dict[str, Any]]:
    """The national dispense report as a native dispense body (lines matched by drug code).

    The pharmacy's own fields are checked, never kept: the gateway reports the pharmacy from
    its party record (docs/national-api.md, "cap-nhat-don-thuoc").

    Raises:
        gateway.core.errors.Invalid: naming the national field.
        gateway.core.errors.PharmacyIdentity: the report names another pharmacy.
        gateway.core.errors.NotFound: no such prescription.
    """
    errors = _pharmacy_fields(body, party)
    code = body.get("ma_don_thuoc")
    if not isinstance(code, str) or not code:
        raise Invalid(errors=[{"pointer": "/ma_don_thuoc", "code": "request.required",
                               "message": "Thiếu mã đơn thuốc"}])
    errors += unknown_fields(body, DISPENSE_FIELDS)
    stored = services().reading.get(code)
    dispensing = services().dispensing
    items, no_items = sold_items(body.get("thong_tin_thuoc"), "/thong_tin_thuoc")
    errors += no_items
    native_items = []
    for position, item in enumerate(items):
        pointer = f"/thong_tin_thuoc/{position}"
        errors += item_problems(item, pointer, ITEM_FIELDS)
        if not isinstance(item, dict):
            continue
        prescribed = item.get("ma_thuoc_da_ke_don", item.get("ma_thuoc"))
        line = dispensing.line_for(stored, prescribed)
        if line is None:
            errors.append({"pointer": f"{pointer}/ma_thuoc_da_ke_don", "code": "dispense.line",
                           "message": "Thuốc này không có trong đơn"})
            continue
        native_items.append({"line": line, "ma_thuoc": item.get("ma_thuoc") or prescribed,
                             "so_luong_ban": item.get("so_luong_ban")})
    if errors:
        raise Invalid(errors=errors)
    native: dict[str, Any] = {"items": native_items}
    if "ma_hoa_don" in body:
        native["ma_hoa_don"] = body["ma_hoa_don"]
    return code, native


def _pharmacy_fields(body: dict[str, Any], party: Party) -> list[dict[str, str]]:
    """The problems of the report's pharmacy fields: each is a short text, and the
    identifier, when sent, is the caller's own facility code."""
    errors = []
    for name in PHARMACY_FIELDS:
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > PHARMACY_FIELD_MAX):
            errors.append({"pointer": f"/{name}", "code": "dispense.pharmacy_field",
                           "message": f"{name} là chuỗi tối đa {PHARMACY_FIELD_MAX} ký tự"})
    named = body.get("ma_dinh_danh_co_so_cung_ung_thuoc")
    if isinstance(named, str) and named and named != party.code:
        raise PharmacyIdentity(named, party.code)
    return errors
